"""The C sources of the extension stressmm._native, and their digest.

setup.py compiles the digest into the extension (`_native.SOURCE_DIGEST`); on import, the
runtime compares it with the sources beside the package, so that an extension left over from
older sources (an editable install whose C files changed since `pip install -e .`) is an
error that says how to rebuild, never a silent run of old code. This file imports nothing of
the package: setup.py reads it before the package exists.

>>> len(source_digest(Path(__file__).resolve().parents[2]))
16
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

MAIN = "stressmm/_native/module.c"   # the one translation unit; it includes the others
DEPENDS = ("stressmm/_native/stressmm.h", "stressmm/_native/atomic_cell.c",
           "stressmm/_native/executor.c", "stressmm/_native/sync.c",
           "stressmm/_native/impl.c", "stressmm/include/stressmm_impl.h")


def source_digest(root: Path) -> Optional[str]:
    """16 hex digits over the C sources under `root` (the checkout), or None when they are
    not all there (an installed wheel carries no C sources)."""
    h = hashlib.sha256()
    for rel in (MAIN,) + DEPENDS:
        path = root / rel
        if not path.is_file():
            return None
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def stale_build(built: Optional[str], root: Path) -> Optional[str]:
    """Why the extension built with digest `built` must not run, or None when it may: its
    sources under `root` changed since it was built.

    >>> stale_build("0" * 16, Path("/nonexistent"))   # no sources beside it: nothing to compare
    >>> "pip install" in stale_build("0" * 16, Path(__file__).resolve().parents[2])
    True
    """
    now = source_digest(root)
    if now is None or not built or now == built:
        return None
    return (f"the C core stressmm._native was built from other C sources than those in "
            f"{root / 'stressmm/_native'} (built {built}, now {now}): rebuild it with "
            f"`pip install -e {root}`")
