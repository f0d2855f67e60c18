"""Backends by name: `get_backend("native")`, `get_backend("pythreads")`, or a user's own
`get_backend("mypkg.runner:MyBackend")`.

    >>> get_backend("pythreads").name
    'pythreads'
    >>> get_backend("os.path:join")
    Traceback (most recent call last):
    ...
    stressmm.runtime.RuntimeUsageError: backend 'os.path:join': building it with os.path:join() failed: TypeError: join() missing 1 required positional argument: 'a'
    >>> get_backend("nope")
    Traceback (most recent call last):
    ...
    stressmm.runtime.RuntimeUsageError: unknown backend 'nope': give one of native, pythreads, go, gccgo, go-race, or module:Class (a class or factory whose result has a run(program, iterations=..., schedule=...) method)

A spec is a registered name or `module:attr`, where `attr` is a class or a factory function
(called with no arguments, or with `impl=` when user primitives are given) returning an object
with a `run` method (the protocol in `stressmm.runtime`). A spec is a plain string so that a
campaign worker process, a counterexample header and `stressmm replay` can all rebuild the
same backend from it. `module` may also be a path to a `.py` file.

Adding a backend is one line in `BACKENDS`: its name and the `module:factory` that builds it,
with the leading arguments the factory takes.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from . import RuntimeUsageError, backend_name

__all__ = ["BACKENDS", "get_backend", "load_object", "Entry", "default_backend"]


def default_backend(impl=()) -> str:
    """The backend that runs user primitives: `native` for C (files ending in .c, .cc, .so),
    `pythreads` for Python classes (module:Class), `native` when there are none.

    >>> default_backend(("lock.c",)), default_backend(("mypkg.locks:Lock",)), default_backend()
    ('native', 'pythreads', 'native')
    """
    from .cimpl import is_c_impl

    if not impl:
        return "native"
    return "native" if any(is_c_impl(i) for i in impl) else "pythreads"


@dataclass(frozen=True)
class Entry:
    """A registered backend: `target` ("module:attr") called with `args` (and `impl=` when
    user primitives are given)."""

    target: str
    args: tuple = ()


BACKENDS = {
    "native": Entry("stressmm.runtime.cimpl:native_backend"),   # --impl x.c: user primitives
    "pythreads": Entry("stressmm.runtime.pythreads:PyThreadsBackend"),
    "go": Entry("stressmm.runtime.go:make_backend", ("go",)),
    "gccgo": Entry("stressmm.runtime.go:make_backend", ("gccgo",)),
    "go-race": Entry("stressmm.runtime.go:make_backend", ("go-race",)),
}


def get_backend(spec: str, impl: tuple = ()):
    """The backend `spec` names, built in this process. `impl` lists user primitives
    (`module:Class` or `role=module:Class`) for backends that take them. Raises
    RuntimeUsageError when the spec cannot be loaded or does not give a backend; the result
    has `.spec` (the string to rebuild it) and `.name` (what reports call it)."""
    if not isinstance(spec, str) or not spec.strip():
        raise RuntimeUsageError(f"a backend is a name ({', '.join(BACKENDS)}) or "
                                f"module:Class, got {spec!r}")
    spec = spec.strip()
    impl = tuple(impl or ())
    entry = BACKENDS.get(spec)
    if entry is None and ":" not in spec:
        raise RuntimeUsageError(f"unknown backend {spec!r}: give one of {', '.join(BACKENDS)}, "
                                f"or module:Class (a class or factory whose result has a "
                                f"run(program, iterations=..., schedule=...) method)")
    target, args = (entry.target, entry.args) if entry is not None else (spec, ())
    factory = load_object(target, what="backend")
    if not callable(factory):
        raise RuntimeUsageError(f"backend {spec!r}: {target} is a {type(factory).__name__}, "
                                f"not a class or factory")
    kwargs = {}
    if impl and spec != "native" and default_backend(impl) == "native":
        raise RuntimeUsageError(f"--impl {impl[0]}: C primitives run on the native backend "
                                f"(--backend native), not on {spec}")
    if impl:
        if not _takes_keyword(factory, "impl"):
            raise RuntimeUsageError(
                f"backend {spec!r} does not take user primitives (--impl); Python classes run "
                f"on the pythreads backend (--backend pythreads)")
        kwargs["impl"] = impl
    try:
        backend = factory(*args, **kwargs)
    except RuntimeUsageError:
        raise
    except Exception as e:
        raise RuntimeUsageError(f"backend {spec!r}: building it with {target}() failed: "
                                f"{type(e).__name__}: {e}") from e
    if not callable(getattr(backend, "run", None)):
        raise RuntimeUsageError(
            f"backend {spec!r}: {target}() gave a {type(backend).__name__}, which has no "
            f"run(program, iterations=..., schedule=...) method (see docs/backends.md)")
    return backend if getattr(backend, "spec", None) == spec else _Named(spec, impl, backend)


@dataclass(frozen=True)
class _Named:
    """A loaded backend with the spec that rebuilds it (user backends need not carry one)."""

    spec: str
    impl: tuple
    backend: object

    @property
    def name(self) -> str:
        return backend_name(self.backend) if getattr(self.backend, "name", None) else self.spec

    def run(self, program, **kwargs):
        return self.backend.run(program, **kwargs)


def _takes_keyword(fn, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in params)


def load_object(target: str, what: str = "object"):
    """The attribute `attr` of `module` named by `target` = "module:attr" (dotted attrs allowed).
    `module` is an importable module name (the current directory is searched too, as
    `python -m` does) or a path to a .py file. Errors are RuntimeUsageErrors naming the spec.

    >>> load_object("os.path:join").__name__
    'join'
    """
    if not isinstance(target, str) or target.count(":") != 1:
        raise RuntimeUsageError(f"{what} {target!r}: expected module:attr, e.g. "
                                f"mypkg.locks:TicketLock")
    mod_name, attr = (part.strip() for part in target.split(":"))
    if not mod_name or not attr:
        raise RuntimeUsageError(f"{what} {target!r}: expected module:attr, e.g. "
                                f"mypkg.locks:TicketLock")
    module = _import(mod_name, target, what)
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise RuntimeUsageError(f"{what} {target!r}: {mod_name} has no attribute "
                                    f"{attr!r}") from None
    return obj


def _import(mod_name: str, target: str, what: str):
    if mod_name.endswith(".py") or os.sep in mod_name:
        path = Path(mod_name)
        if not path.is_file():
            raise RuntimeUsageError(f"{what} {target!r}: no such file {mod_name}")
        name = "_stressmm_user_" + "".join(c if c.isalnum() else "_" for c in str(path.resolve()))
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            sys.modules.pop(name, None)
            raise RuntimeUsageError(f"{what} {target!r}: importing {mod_name} failed: "
                                    f"{type(e).__name__}: {e}") from e
        return module
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.append(cwd)   # after the installed packages: a local file never shadows them
    try:
        return importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        if e.name and mod_name.startswith(e.name):
            raise RuntimeUsageError(f"{what} {target!r}: no module named {e.name!r} (searched "
                                    f"sys.path and the current directory {cwd})") from e
        raise RuntimeUsageError(f"{what} {target!r}: importing {mod_name} failed: {e}") from e
    except Exception as e:
        raise RuntimeUsageError(f"{what} {target!r}: importing {mod_name} failed: "
                                f"{type(e).__name__}: {e}") from e
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


def spec_of(backend) -> Optional[str]:
    """The spec that rebuilds `backend` with get_backend, or None when it was not loaded by
    name (a backend object handed to check_program directly)."""
    if backend is None:
        return "native"
    spec = getattr(backend, "spec", None)
    return spec if isinstance(spec, str) else None
