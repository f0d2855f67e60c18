"""Go toolchains found on PATH, and content-addressed builds of generated Go source.

    >>> TOOLCHAINS["gccgo"].default_flags
    ('-O2',)

A build is keyed by the source text, the toolchain (its path and version) and the flags: the
same programs built twice reuse one binary from the cache directory (`STRESSMM_GO_CACHE`, else
`$XDG_CACHE_HOME/stressmm/go`, else `~/.cache/stressmm/go`). Builds never fetch anything: no
module, no proxy (`GOPROXY=off`, `GOTOOLCHAIN=local`, GOPATH mode).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .. import RuntimeUsageError

__all__ = ["Toolchain", "TOOLCHAINS", "ToolchainMissing", "GoBuildError", "find_toolchain",
           "cache_dir", "build", "INSTALL_HINT", "BUILD_TIMEOUT"]

INSTALL_HINT = "install them with `apt-get install golang-go gccgo` (Debian/Ubuntu)"
BUILD_TIMEOUT = 600.0   # seconds; a build past it is ended with a clear error


class ToolchainMissing(RuntimeUsageError):
    """The Go toolchain a backend needs is not on PATH (the message says how to install it)."""


class GoBuildError(RuntimeUsageError):
    """Generated Go code that did not compile: the compiler's message and the source."""


@dataclass(frozen=True)
class Toolchain:
    """A Go compiler: `command` on PATH, how it builds, its default flags."""

    key: str                 # "gc" or "gccgo"
    command: str             # executable looked up on PATH
    default_flags: tuple = ()

    def path(self) -> str:
        found = shutil.which(self.command)
        if not found:
            raise ToolchainMissing(f"the Go toolchain `{self.command}` ({self.key}) is not on "
                                   f"PATH: {INSTALL_HINT}")
        return found

    def version(self) -> str:
        """`go1.19.8` for gc, `12.2.0` for gccgo."""
        path = self.path()
        args = [path, "env", "GOVERSION"] if self.key == "gc" else [path, "-dumpfullversion"]
        try:
            out = subprocess.run(args, capture_output=True, text=True, timeout=60,
                                 env=go_env(cache_dir()))
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ToolchainMissing(f"`{' '.join(args)}` failed ({exc}): {INSTALL_HINT}") from exc
        text = out.stdout.strip().splitlines()
        if out.returncode != 0 or not text:
            raise ToolchainMissing(f"`{' '.join(args)}` failed: {out.stderr.strip()[:300]}; "
                                   f"{INSTALL_HINT}")
        return text[0].strip()

    def command_line(self, flags: tuple, source: Path, output: Path) -> list:
        """The build command. gc links without a symbol table or DWARF (`-ldflags=-s -w`:
        the code is the same, the link about twice as fast) unless the flags say otherwise or
        the race detector, which symbolizes its reports, is on."""
        if self.key == "gc":
            own = [] if any(f.startswith(("-ldflags", "-race")) for f in flags) else ["-ldflags=-s -w"]
            return [self.path(), "build", *flags, *own, "-o", str(output), str(source)]
        return [self.path(), *flags, "-o", str(output), str(source)]


TOOLCHAINS = {"gc": Toolchain("gc", "go"), "gccgo": Toolchain("gccgo", "gccgo", ("-O2",))}


def find_toolchain(key: str) -> Toolchain:
    """The toolchain `key` ("gc" or "gccgo"), checked to be on PATH (else ToolchainMissing)."""
    tc = TOOLCHAINS[key]
    tc.path()
    return tc


def cache_dir() -> Path:
    """Where builds are kept (created on first use)."""
    from .. import cache_dir as shared_cache_dir

    return shared_cache_dir("STRESSMM_GO_CACHE", "go")


def go_env(cache: Path) -> dict:
    """The environment of a build: offline, GOPATH mode, caches inside `cache`."""
    env = dict(os.environ)
    env.update(GOCACHE=str(cache / "gocache"), GOPATH=str(cache / "gopath"),
               GOTOOLCHAIN="local", GOPROXY="off", GO111MODULE="off", GOFLAGS="",
               CGO_ENABLED=env.get("CGO_ENABLED", "1"))
    return env


def build(toolchain: Toolchain, flags: tuple, source: str, version: str,
          cache: Optional[Path] = None, timeout: float = BUILD_TIMEOUT) -> Path:
    """The path of an executable built from `source` with `toolchain` and `flags`, reused from
    the cache when the same source was built with the same toolchain and flags before.

    Raises GoBuildError with the compiler's message and the numbered source when it fails,
    ToolchainMissing when the toolchain is gone."""
    cache = Path(cache) if cache is not None else cache_dir()
    key = hashlib.sha256("\0".join([toolchain.key, toolchain.path(), version, *flags, source])
                         .encode()).hexdigest()[:24]
    target = cache / "builds" / key / "litmus"
    if target.exists():
        return target
    try:
        cache.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="build-", dir=cache))
    except OSError as exc:
        raise RuntimeUsageError(f"cannot use the Go build cache {cache}: {exc}; set "
                                "STRESSMM_GO_CACHE to a writable directory") from exc
    try:
        (work / "main.go").write_text(source)
        cmd = toolchain.command_line(flags, work / "main.go", work / "litmus")
        try:
            out = subprocess.run(cmd, cwd=work, capture_output=True, text=True,
                                 timeout=timeout, env=go_env(cache))
        except subprocess.TimeoutExpired:
            raise GoBuildError(f"`{' '.join(cmd)}` took more than {timeout:.0f} s and was "
                               "ended; retry on a less busy machine") from None
        if out.returncode != 0:
            numbered = "\n".join(f"{i:5} {line}" for i, line in enumerate(source.splitlines(), 1))
            raise GoBuildError(f"the generated Go code did not compile (a stressmm bug: please "
                               f"report it with this message)\n$ {' '.join(cmd)}\n"
                               f"{(out.stdout + out.stderr).strip()}\n--- main.go ---\n{numbered}")
        target.parent.mkdir(parents=True, exist_ok=True)
        (work / "main.go").replace(target.parent / "main.go")
        os.replace(work / "litmus", target)    # atomic: concurrent builders agree
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)
