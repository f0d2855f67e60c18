"""User primitives in C on the native executor: `--impl mylock.c` (or `.cc`, several files, or
a built `.so`), through the interface of `stressmm impl --header` (stressmm/include/stressmm_impl.h).

    >>> is_c_impl("examples/impls/ticket_lock.c"), is_c_impl("mypkg.locks:TicketLock")
    (True, False)
    >>> header_path().name
    'stressmm_impl.h'

- Build: sources are compiled with the system compiler (`$CC`, or `$CXX` when a C++ file is
  among them) `-O2 -Wall -Wextra -pthread -shared -fPIC`, into the cache
  (`$STRESSMM_IMPL_CACHE`, else `$XDG_CACHE_HOME/stressmm/impl`, else
  `~/.cache/stressmm/impl`) under a hash of the sources, the flags and the compiler's
  version: an unchanged implementation is built once. A `.so` is used as is.
- Isolation: this process never loads the user's library. A worker process
  (`python -m stressmm.runtime.cimpl LIB`) loads it, checks its table and runs the programs;
  the backend talks to it over a pipe. The worker says it is alive every BEAT_SECONDS and
  watches the user's calls: one still running after HANG_SECONDS (it ignores ctx->wait, or
  sleeps in the kernel) never returns, so the worker reports it and ends. A worker that dies
  (a segfault, an abort), reports a hang or falls silent for SILENT_SECONDS is stopped, and
  the run ends
  with a `timeout` outcome and `info["stuck"]` saying what happened, which `stressmm run`
  prints and `stressmm fuzz` reports with the program (exit status 1); the next run starts a
  fresh worker.
- Bounded runs: a run of N iterations goes to the worker in parts (the first of FIRST_PART
  measures the pace) and stops after RUN_SECONDS, with `info["capped"]` saying how many ran:
  a program whose every iteration deadlocks in waits that sleep between rounds, or times out,
  would otherwise hold a campaign for hours.
- Errors before any run (a file that does not compile, with the compiler's message; a
  library without `stressmm_impl_v1`; a table of another ABI version or with a missing
  function) are RuntimeUsageErrors (exit status 2).
"""
from __future__ import annotations

import hashlib
import os
import pickle
import select
import shlex
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..outcome import Histogram, Outcome
from ..program import Chan, Mutex, Once, Program, Var
from ..schedule import Schedule
from . import RuntimeUsageError, ThreadsNotStarted, attach_histogram, check_budget, hang_note
from . import cache_dir as shared_cache_dir

__all__ = ["is_c_impl", "header_path", "include_dir", "build", "user_objects", "CImplBackend",
           "native_backend", "C_SOURCES"]

C_SOURCES = (".c",)
CXX_SOURCES = (".cc", ".cpp", ".cxx")
LIBRARIES = (".so",)
FLAGS = ("-O2", "-Wall", "-Wextra", "-pthread", "-shared", "-fPIC")
BUILD_SECONDS = 120        # one compile
START_SECONDS = 30.0       # a worker loads the library and says which primitives it has
HANG_SECONDS = 5.0         # a user call still running after this long never returns
BEAT_SECONDS = 0.5         # the worker says it is alive this often
SILENT_SECONDS = 30.0      # a worker silent this long is stuck as a whole: killed
RUN_SECONDS = 20.0         # a run of N iterations stops after this long (info["capped"])
FIRST_PART = 1000          # iterations of its first part, which measures how long one takes
KINDS = ("mutex", "rwmutex", "channel", "once", "waitgroup")   # numbered as in impl.c


def is_c_impl(spec: str) -> bool:
    """True when an --impl names C/C++ sources or a shared library (not module:Class)."""
    return isinstance(spec, str) and spec.strip().lower().endswith(
        C_SOURCES + CXX_SOURCES + LIBRARIES)


def include_dir() -> Path:
    """The folder of stressmm_impl.h (`cc -I"$(stressmm impl --include-dir)"`)."""
    return Path(__file__).resolve().parent.parent / "include"


def header_path() -> Path:
    return include_dir() / "stressmm_impl.h"


def cache_dir() -> Path:
    return shared_cache_dir("STRESSMM_IMPL_CACHE", "impl")


def _compiler(cxx: bool) -> list:
    name = os.environ.get("CXX", "c++") if cxx else os.environ.get("CC", "cc")
    return shlex.split(name)


def _version(cmd: list) -> str:
    try:
        done = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeUsageError(f"--impl: cannot run the compiler {shlex.join(cmd)}: {e} "
                                f"(install one, or set CC / CXX)") from e
    return done.stdout


def build(files) -> Path:
    """The shared library of `files`: a `.so` as is, else sources compiled into the cache.

    Raises RuntimeUsageError naming the file for a missing file, a mix of a `.so` with
    sources, or a compile error (with the compiler's message)."""
    paths = [Path(f) for f in files]
    for p in paths:
        if not p.is_file():
            raise RuntimeUsageError(f"--impl {p}: no such file")
    libs = [p for p in paths if p.suffix.lower() in LIBRARIES]
    if libs:
        if len(paths) > 1:
            raise RuntimeUsageError(f"--impl {libs[0]}: a built library goes alone, not with "
                                    f"other files ({', '.join(map(str, paths))})")
        return libs[0].resolve()
    cxx = any(p.suffix.lower() in CXX_SOURCES for p in paths)
    cmd = _compiler(cxx)
    digest = hashlib.sha256()
    for part in (shlex.join(cmd), _version(cmd), " ".join(FLAGS), header_path().read_text()):
        digest.update(part.encode() + b"\0")
    for p in paths:
        digest.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    out = cache_dir() / f"{paths[0].stem}-{digest.hexdigest()[:20]}.so"
    if out.is_file():
        return out
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RuntimeUsageError(f"--impl: cannot create the build cache {out.parent}: {e} "
                                f"(set STRESSMM_IMPL_CACHE to a writable folder)") from e
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    argv = cmd + list(FLAGS) + ["-I", str(include_dir()), "-o", str(tmp)] + [str(p) for p in paths]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_SECONDS)
    except subprocess.TimeoutExpired as e:
        raise RuntimeUsageError(f"--impl: compiling {', '.join(map(str, paths))} took more "
                                f"than {BUILD_SECONDS} s; stopped") from e
    except OSError as e:
        raise RuntimeUsageError(f"--impl: cannot run the compiler {shlex.join(cmd)}: {e}") from e
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeUsageError(f"--impl {', '.join(map(str, paths))} does not compile "
                                f"({shlex.join(argv)}):\n{done.stderr.strip()}")
    os.replace(tmp, out)
    return out


def user_objects(program: Program) -> tuple:
    """(word, kind number, capacity) of every primitive object of `program`, for the executor.

    >>> from stressmm.program import Thread
    >>> user_objects(Program("p", (Var("x"), Mutex("m")), (Thread(()),)))
    ((4, 0, 0),)
    """
    from .compile import layout

    index, _, _ = layout(program)
    out = []
    for d in program.decls:
        if isinstance(d, Var):
            continue
        if isinstance(d, Mutex):
            kind, cap = KINDS.index("rwmutex" if d.rw else "mutex"), 0
        elif isinstance(d, Chan):
            kind, cap = KINDS.index("channel"), d.capacity
        else:
            kind, cap = KINDS.index("once" if isinstance(d, Once) else "waitgroup"), 0
        out.append((index[d.name], kind, cap))
    return tuple(out)


# ------------------------------------------------------------------ the worker process

def _send(fd: int, obj) -> None:
    data = pickle.dumps(obj)
    view = memoryview(struct.pack("<Q", len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _recv(fd: int, deadline: Optional[float]):
    """The next message on `fd`; EOFError when the writer is gone; TimeoutError at deadline."""
    def read(n):
        buf = b""
        while len(buf) < n:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise TimeoutError
            chunk = os.read(fd, n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf
    (n,) = struct.unpack("<Q", read(8))
    return pickle.loads(read(n))


def _serve(library: str, rfd: int, wfd: int) -> int:
    """The worker: load `library`, say what it provides, then run what it is asked."""
    import ctypes

    from .. import _native
    from . import native

    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the backend's: it stops this worker
    try:
        lib = ctypes.CDLL(library)
    except OSError as e:
        _send(wfd, ("usage", f"cannot load {library}: {e}"))
        return 0
    try:
        entry = lib.stressmm_impl_v1
    except AttributeError:
        _send(wfd, ("usage", f"{library} does not define stressmm_impl_v1() (see "
                             f"`stressmm impl --header`; in C++, declare it extern \"C\")"))
        return 0
    entry.restype = ctypes.c_void_p
    entry.argtypes = []
    address = entry() or 0
    try:
        name, kinds = _native.impl_check(address)
    except ValueError as e:
        _send(wfd, ("usage", f"{library}: {e}"))
        return 0
    lock = threading.Lock()

    def say(message):
        with lock:
            try:
                _send(wfd, message)
            except OSError:   # the backend is gone (its process ended): so is this worker
                os._exit(0)

    say(("ready", name or Path(library).stem, kinds))
    threading.Thread(target=_watch, args=(say,), daemon=True).start()
    for _ in range(10**12):   # until the backend closes the pipe
        try:
            request = _recv(rfd, None)
        except EOFError:
            return 0
        program, kwargs = request
        try:
            hist = native.run(program, user=address, **kwargs)
            say(("ok", dict(hist.counts), hist.elapsed, hist.info))
        except ThreadsNotStarted as e:
            say(("late", str(e)))
        except RuntimeUsageError as e:
            say(("usage", str(e)))
        except Exception as e:   # reported by the backend with the program it was running
            say(("error", f"{type(e).__name__}: {e}"))
    return 0


def _watch(say) -> None:
    """In the worker: say it is alive every BEAT_SECONDS; when a user call has been running
    for HANG_SECONDS, say which thread's call hangs and end the process (the call cannot be
    stopped: the thread that makes it would never be joined)."""
    from .. import _native

    for _ in range(10**12):   # until the process ends
        time.sleep(BEAT_SECONDS)
        seconds, thread = _native.impl_watch()
        if seconds > HANG_SECONDS:
            say(("hung", thread, seconds))
            os._exit(3)
        say(("beat",))


@dataclass
class _Worker:
    proc: subprocess.Popen
    to_child: int
    from_child: int

    def close(self) -> None:
        for fd in (self.to_child, self.from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _start(library: Path, label: str) -> tuple:
    """A fresh worker and its first message."""
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "stressmm.runtime.cimpl", str(library),
                             str(to_r), str(from_w)], pass_fds=(to_r, from_w),
                            stdin=subprocess.DEVNULL, stdout=2)   # the user's printf: stderr
    os.close(to_r)
    os.close(from_w)
    worker = _Worker(proc, to_w, from_r)
    try:
        return worker, _recv(from_r, time.monotonic() + START_SECONDS)
    except (EOFError, TimeoutError):
        what = _death(worker.proc, START_SECONDS)
        worker.close()
        raise RuntimeUsageError(f"--impl {label}: loading its library {what}") from None


def _death(proc: subprocess.Popen, waited: float) -> str:
    """How a worker ended: 'crashed (SIGSEGV)', 'exited with status 3', or still running."""
    try:
        code = proc.wait(timeout=1)
    except subprocess.TimeoutExpired:
        return f"did not answer within {waited:.0f} s (a call that never returns?)"
    if code < 0:
        try:
            return f"crashed ({signal.Signals(-code).name})"
        except ValueError:
            return f"crashed (signal {-code})"
    return f"exited with status {code}"


class CImplBackend:
    """The native executor with the user's C primitives, run in a watched worker process."""

    spec = "native"

    def __init__(self, impl: tuple):
        self._worker: Optional[_Worker] = None
        self.impl = tuple(str(Path(f).resolve()) for f in impl)
        self.label = ", ".join(map(str, impl))
        self.library = build(self.impl)
        self.kinds: tuple = ()
        self.impl_name = ""
        self._ensure()
        files = ", ".join(Path(f).name for f in self.impl)
        self.name = f"native with {self.impl_name} ({', '.join(self.kinds)}) from {files}"

    def _ensure(self) -> _Worker:
        if self._worker is None or self._worker.proc.poll() is not None:
            worker, reply = _start(self.library, self.label)
            if reply[0] != "ready":
                worker.close()
                raise RuntimeUsageError(f"--impl {self.label}: "
                                        f"{reply[1].replace(str(self.library), 'its library')}")
            self._worker, self.impl_name, self.kinds = worker, reply[1], tuple(reply[2])
        return self._worker

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def __del__(self):
        self.close()

    def run(self, program: Program, iterations: Optional[int] = None,
            seconds: Optional[float] = None, schedule: Schedule = Schedule(),
            mutant: Optional[str] = None, oversubscribe: bool = False) -> Histogram:
        """Run `program` in the worker. A run of `iterations` goes in parts and stops after
        RUN_SECONDS (`info["capped"]` says so): a program whose every iteration deadlocks in
        waits that sleep, or times out, could otherwise take hours."""
        check_budget(iterations, seconds)
        started = time.monotonic()
        kwargs = dict(iterations=iterations, seconds=seconds, schedule=schedule, mutant=mutant,
                      oversubscribe=oversubscribe)
        if iterations is None:
            return self._finish(program, schedule, started, self._request(program, kwargs))
        counts: dict = {}
        elapsed, done, part, info = 0.0, 0, min(iterations, FIRST_PART), {}
        for n in range(iterations):   # bounded: every part runs at least one iteration
            seed = schedule.part(n)
            try:
                reply = self._request(program, dict(kwargs, iterations=part, schedule=seed))
            except KeyboardInterrupt as e:   # the parts already done go with the signal
                if counts:
                    attach_histogram(e, Histogram(program, counts, elapsed, self.name, info))
                raise
            if reply[0] != "ok":
                return self._finish(program, schedule, started, reply)
            for outcome, k in reply[1].items():
                counts[outcome] = counts.get(outcome, 0) + k
            elapsed, done, info = elapsed + reply[2], done + part, dict(reply[3], seed=schedule.seed)
            spent = time.monotonic() - started
            if done >= iterations:
                break
            if spent > RUN_SECONDS:
                info["capped"] = (f"{done:,} of {iterations:,} runs: stopped after "
                                  f"{RUN_SECONDS:.0f} s ({1e3 * spent / done:.1f} ms a run; its "
                                  f"iterations deadlock or time out in slow waits?)")
                break
            left = (RUN_SECONDS - spent) * done / spent if spent > 0 else iterations
            part = max(1, min(iterations - done, int(left)))
        return Histogram(program, counts, elapsed, self.name, info)

    def _request(self, program: Program, kwargs: dict) -> tuple:
        """The worker's answer to one run: ("ok", counts, elapsed, info), ("usage", message),
        ("error", message), ("dead", how) or ("hung", thread, seconds)."""
        worker = self._ensure()
        try:
            _send(worker.to_child, (program, kwargs))
            reply = ("beat",)
            for _ in range(10**12):   # heartbeats until the answer; silence ends it
                reply = _recv(worker.from_child, time.monotonic() + SILENT_SECONDS)
                if reply[0] != "beat":
                    return reply
        except KeyboardInterrupt:
            self.close()
            raise
        except (EOFError, TimeoutError, BrokenPipeError) as e:
            silent = isinstance(e, TimeoutError) and worker.proc.poll() is None
            return ("dead", f"stopped answering for {SILENT_SECONDS:.0f} s" if silent
                    else _death(worker.proc, SILENT_SECONDS))
        return reply

    def _finish(self, program: Program, schedule: Schedule, started: float,
                reply: tuple) -> Histogram:
        """The histogram of a run that ended with `reply` (not a part of a longer run)."""
        if reply[0] in ("dead", "hung"):
            what = (f"{self.impl_name} {reply[1]}" if reply[0] == "dead" else
                    hang_note(f"{self.impl_name}, called from P{reply[1]}", HANG_SECONDS,
                              "the call began", "a call that ignores ctx->wait or sleeps for ever"))
            self.close()
            note = (f"{what} while running {program.name or 'the program'} "
                    f"(schedule seed {schedule.seed}); the worker process was stopped")
            return Histogram(program, {Outcome.flagged("timeout"): 1},
                             time.monotonic() - started, self.name,
                             {"stuck": note, "seed": schedule.seed})
        if reply[0] == "late":
            raise ThreadsNotStarted(reply[1])
        if reply[0] == "usage":
            raise RuntimeUsageError(reply[1])
        if reply[0] == "error":
            raise RuntimeError(f"{self.name}: {reply[1]}")
        _, counts, elapsed, info = reply
        return Histogram(program, counts, elapsed, self.name, info)


def native_backend(impl: tuple = ()):
    """The `native` backend: the built-in primitives, or the user's C ones (`impl` files)."""
    from .native import NativeBackend

    if not impl:
        return NativeBackend()
    python = [i for i in impl if not is_c_impl(i)]
    if python:
        raise RuntimeUsageError(f"--impl {python[0]}: the native runtime takes C primitives "
                                f"(.c, .cc or .so files); Python classes run on the pythreads "
                                f"backend (--backend pythreads)")
    return CImplBackend(tuple(impl))


def main(argv) -> int:
    if len(argv) != 3:
        print("usage: python -m stressmm.runtime.cimpl LIBRARY READ_FD WRITE_FD (started by "
              "stressmm, not by hand)", file=sys.stderr)
        return 2
    return _serve(argv[0], int(argv[1]), int(argv[2]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
