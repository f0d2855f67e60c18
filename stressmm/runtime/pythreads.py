"""The pythreads backend: programs interpreted on Python threads, one per program thread, with
Go primitives written in Python -- built in, or the user's own classes (`impl=`).

    >>> from stressmm.program import Program, Var, Thread, Store, Load
    >>> p = Program("W", (Var("x"),), (Thread((Store("x", 1),)), Thread((Load("r0", "x"),))))
    >>> h = run(p, iterations=50)
    >>> h.total, {str(o) for o in h.counts} <= {'P1:r0=0 x=1', 'P1:r0=1 x=1'}
    (50, True)

Each iteration starts with fresh memory, fresh primitives and a barrier; every thread
interprets its ops; a second barrier ends the iteration. Under the GIL every memory access is
sequentially consistent, so this backend is where *Python* implementations of the Go
primitives are tested: a user class per role replaces the built-in one (docs/backends.md):

    role       methods (duck-typed)                      built from
    mutex      lock(), unlock()                          Class()
    rwmutex    rlock(), runlock(), lock(), unlock()      Class()
    channel    send(v), recv() -> (v, ok), close()       Class(capacity)   (0 = unbuffered)
    once       do(fn)                                    Class()
    waitgroup  add(delta), done(), wait()                Class()

with Go's semantics: a receive on a closed, drained channel returns (0, False); Go's panics
(unlock of an unlocked mutex, send on or close of a closed channel, a negative WaitGroup
counter) are any exception the method raises, and end the iteration with the `panic` outcome.

Interleavings are provoked, not left to chance: during a run the interpreter's switch interval
(sys.setswitchinterval, restored afterwards) is drawn from the schedule's seed, and before each
op a thread yields with a probability set by its schedule delay. Every wait is bounded: the
built-in primitives detect deadlock (every unfinished thread blocked in one) and give up at the
iteration's deadline (`timeout`). Threads inside user calls are watched by the run's own
thread (`_watch`): when every thread is finished, blocked in a built-in primitive or waiting
inside a user call -- blocked for good in a lock wait (on Linux, /proc shows a wait that only
another thread can end: not a sleep, not a wait for the GIL or a CPU) and running no line of
user code, or going round a loop DEADLOCK_ROUNDS times (a spinning wait) -- and nothing moves
for CERTAIN_SECONDS (DEADLOCK_SECONDS when a thread spins), the iteration is `deadlock`,
judged by the model (docs/backends.md). A slow thread is never taken for a blocked one; at
worst it makes the judgement wait. A user method still inside its call ITERATION_SECONDS +
GRACE after the iteration began, and not waiting, ends the run with a `timeout` outcome and
`info["stuck"]` naming the call (the call is stopped at its next line of user code). Python
threads cannot be killed: a thread still blocked in a user call after its iteration ended is
left behind, as a daemon, and the run goes on with fresh threads (at most MAX_LEFT_BEHIND
per run and MAX_STRANDED per process; then the run stops, `capped`).

Mutants: the read-modify-write mutants (add-not-atomic, swap-not-atomic, cas-ignores-failure)
break the interpreter's atomic section the same way as in C; sc-store-no-fence and
sc-fence-noop change nothing here (there is no store buffer to expose). The mutants of the
native Go primitives do not apply (use `impl=` to run a broken primitive here).
"""
from __future__ import annotations

import collections
import functools
import os
import random
import sys
import threading
import time
from dataclasses import dataclass
from typing import Optional

from ..outcome import Histogram, Outcome
from ..program import (Await, Chan, Close, Fence, Load, Lock, Mutex, Once, OnceDo, Program,
                       Recv, RLock, RUnlock, Rmw, RmwOp, Send, Store, Unlock, WaitGroup, WgAdd,
                       WgDone, WgWait, value_in, walk_ops)
from ..schedule import Schedule
from . import RuntimeUsageError, ThreadsNotStarted, check_budget, hang_note
from .compile import SYNC_MUTANTS, check_mutant

__all__ = ["run", "PyThreadsBackend", "ROLES", "GoPanic", "load_impls", "ITERATION_SECONDS"]

NAME = "pythreads"
_THREAD_PREFIX = "stressmm-P"   # the names of the threads that run programs
AWAIT_BUDGET = 20_000       # polls (each yields the GIL) before an await is a timeout
ITERATION_SECONDS = 2.0     # a built-in wait still blocked this long after the start: timeout
GRACE = 1.0                 # then a thread stuck in user code this much longer ends the run
DEADLOCK_SECONDS = 0.5      # every thread waiting and nothing moving this long: deadlock
DEADLOCK_ROUNDS = 32        # rounds a spinning wait makes in that window
CERTAIN_SECONDS = 0.02      # the same when every user call is blocked for good in a lock
WATCH_SECONDS = 0.01        # how often the run's thread looks at an unfinished iteration
QUIT_SECONDS = 0.25         # threads still in a call this long after the end are left behind
RUN_SECONDS = 10.0          # iterations that ended early may take this long in a run (capped)
MAX_LEFT_BEHIND = 64        # threads a run may leave blocked in user calls (capped)
MAX_STRANDED = 256          # such threads a process may hold, from all its runs (capped)
BARRIER_SECONDS = 30.0      # a thread missing the start barrier this long breaks the run
MIN_USER_PREEMPTION = 1 / 64   # inside user primitives, even with no delay in the schedule
SWITCH_INTERVALS = (5e-6, 2e-5, 1e-4, 5e-4)   # seconds; drawn from the schedule's seed

ROLES = {
    "mutex": ("lock", "unlock"),
    "rwmutex": ("rlock", "runlock", "lock", "unlock"),
    "channel": ("send", "recv", "close"),
    "once": ("do",),
    "waitgroup": ("add", "done", "wait"),
}
"""The primitive roles a user class can play, and the methods each needs."""


class GoPanic(Exception):
    """What the built-in primitives raise where Go panics; a user class may raise it (or any
    exception) for the same purpose."""


class _Stop(BaseException):
    """Ends a thread's iteration early (deadlock, panic, timeout elsewhere). A BaseException so
    that a user's `except Exception` inside once.do(fn) does not swallow it."""


class _ImplError(Exception):
    """A user class broke the protocol (e.g. recv returned a bare value): the run stops."""


# ---------------------------------------------------------------- one iteration's monitor


class _Iteration:
    """The shared state of one iteration: the monitor (one Condition) every built-in primitive
    waits on, the threads still running and blocked, and how the iteration ended, if early.

    What the deadlock watcher (`_watch`) reads: `progress` counts every op begun, every call
    entered or left and every change of a built-in primitive; per thread, `user` is how many
    user calls it is inside, and `lines` / `rounds` count the lines of user code it ran and
    the backward jumps among them (a wait loop's rounds), as the tracer sees them."""

    def __init__(self, nthreads: int, deadline: float):
        self.cv = threading.Condition(threading.Lock())
        self.running = nthreads
        self.waiting: dict = {}
        self.reason: Optional[str] = None
        self.note = ""
        self.deadline = deadline
        self.fault: Optional[BaseException] = None
        self.progress = 0
        self.user = [0] * nthreads
        self.lines = [0] * nthreads
        self.rounds = [0] * nthreads
        self.idents: list = [None] * nthreads
        self.native_ids: list = [None] * nthreads
        self.done = [False] * nthreads
        self.all_done = threading.Event()

    def enter(self, t: int) -> None:
        """Thread `t` starts its ops in this iteration (the watcher learns its ids)."""
        self.native_ids[t] = threading.get_native_id()
        self.idents[t] = threading.get_ident()

    def stop(self, flag: str, note: str = ""):
        """End the iteration with `flag` (the first flag wins) and leave this thread's ops."""
        with self.cv:
            self._end(flag, note)
        raise _Stop()

    def _end(self, flag: str, note: str) -> None:
        if self.reason is None:
            self.reason, self.note = flag, note
        self.cv.notify_all()

    def block_until(self, ready) -> None:
        """Wait (holding `cv`) until `ready()`; a deadlock, the deadline or another thread's
        stop ends the wait with _Stop."""
        if self.reason is None and ready():
            return
        me = threading.get_ident()
        self.waiting[me] = ready
        try:
            while True:
                if self.reason is not None:
                    raise _Stop()
                if ready():
                    self.progress += 1
                    return
                if (len(self.waiting) == self.running
                        and not any(other() for other in self.waiting.values())):
                    self._end("deadlock", "")
                    raise _Stop()
                left = self.deadline - time.monotonic()
                if left <= 0:
                    self._end("timeout", f"a built-in wait exceeded {ITERATION_SECONDS:g} s")
                    raise _Stop()
                self.cv.wait(min(left, 0.05))
        finally:
            del self.waiting[me]

    def changed(self) -> None:
        self.progress += 1
        self.cv.notify_all()

    def finished(self, t: int) -> None:
        with self.cv:
            self.running -= 1
            self.done[t] = True
            self.progress += 1
            self.cv.notify_all()
            if self.running == 0:
                self.all_done.set()


# ---------------------------------------------------------------- built-in primitives
# Correct by construction: every state change happens under the iteration's monitor.


class _Mutex:
    """sync.Mutex and sync.RWMutex (no writer preference: the models allow runs with it and
    without it)."""

    def __init__(self, it: _Iteration):
        self.it, self.writer, self.readers = it, False, 0

    def lock(self):
        with self.it.cv:
            self.it.block_until(lambda: not self.writer and self.readers == 0)
            self.writer = True

    def unlock(self):
        with self.it.cv:
            if not self.writer:
                raise GoPanic("sync: unlock of unlocked mutex")
            self.writer = False
            self.it.changed()

    def rlock(self):
        with self.it.cv:
            self.it.block_until(lambda: not self.writer)
            self.readers += 1

    def runlock(self):
        with self.it.cv:
            if self.readers == 0:
                raise GoPanic("sync: RUnlock of unlocked RWMutex")
            self.readers -= 1
            self.it.changed()


class _Channel:
    """A Go channel of ints: a FIFO of `capacity` values, or a rendezvous when capacity is 0."""

    def __init__(self, it: _Iteration, capacity: int):
        self.it, self.capacity = it, capacity
        self.buf: collections.deque = collections.deque()
        self.offers: collections.deque = collections.deque()   # unbuffered: [value, taken]
        self.closed = False

    def send(self, value):
        with self.it.cv:
            if self.closed:
                raise GoPanic("send on closed channel")
            if self.capacity > 0:
                self.it.block_until(lambda: self.closed or len(self.buf) < self.capacity)
                if self.closed:
                    raise GoPanic("send on closed channel")
                self.buf.append(value)
                self.it.changed()
                return
            offer = [value, False]
            self.offers.append(offer)
            self.it.changed()
            self.it.block_until(lambda: offer[1] or self.closed)
            if not offer[1]:   # closed while waiting: close took the offer back
                raise GoPanic("send on closed channel")

    def recv(self):
        with self.it.cv:
            self.it.block_until(lambda: self.buf or self.offers or self.closed)
            if self.buf:
                value = self.buf.popleft()
            elif self.offers:
                offer = self.offers.popleft()
                offer[1] = True
                value = offer[0]
            else:
                return 0, False
            self.it.changed()
            return value, True

    def close(self):
        with self.it.cv:
            if self.closed:
                raise GoPanic("close of closed channel")
            self.closed = True
            # Senders still waiting panic (Go): no receive may take their values any more.
            self.offers.clear()
            self.it.changed()


class _Once:
    def __init__(self, it: _Iteration):
        self.it, self.state = it, 0    # 0 not started, 1 running, 2 done

    def do(self, fn):
        with self.it.cv:
            if self.state:
                self.it.block_until(lambda: self.state == 2)
                return
            self.state = 1
        try:
            fn()
        finally:
            with self.it.cv:
                self.state = 2
                self.it.changed()


class _WaitGroup:
    def __init__(self, it: _Iteration):
        self.it, self.count = it, 0

    def add(self, delta):
        with self.it.cv:
            self.count += delta
            if self.count < 0:
                raise GoPanic("sync: negative WaitGroup counter")
            self.it.changed()

    def done(self):
        self.add(-1)

    def wait(self):
        with self.it.cv:
            self.it.block_until(lambda: self.count == 0)


# ---------------------------------------------------------------- user implementations


@dataclass(frozen=True)
class Impl:
    """A user class playing `role`, loaded from `spec` ("module:Class")."""

    role: str
    spec: str
    cls: type

    def make(self, decl):
        return self.cls(decl.capacity) if self.role == "channel" else self.cls()

    def __str__(self) -> str:
        return f"{self.role}={self.spec}"


def infer_role(cls) -> Optional[str]:
    """The role whose methods `cls` has (the richer of mutex and rwmutex), or None.

    >>> class L:
    ...     def lock(self): ...
    ...     def unlock(self): ...
    >>> infer_role(L)
    'mutex'
    """
    fits = [role for role, methods in ROLES.items()
            if all(callable(getattr(cls, m, None)) for m in methods)]
    if "rwmutex" in fits:
        fits.remove("mutex")
    return fits[0] if len(fits) == 1 else None


def load_impls(specs) -> dict:
    """{role: Impl} from specs "module:Class" (role inferred from the methods) or
    "role=module:Class". Raises RuntimeUsageError naming the spec for a module that does not
    import, a missing class, a class missing methods or one whose constructor fails."""
    from .registry import load_object

    impls: dict = {}
    for raw in specs:
        if not isinstance(raw, str):
            raise RuntimeUsageError(f"--impl {raw!r}: expected module:Class or role=module:Class")
        role, _, target = raw.rpartition("=") if "=" in raw else ("", "", raw)
        role, target = role.strip(), target.strip()
        if role and role not in ROLES:
            raise RuntimeUsageError(f"--impl {raw}: unknown role {role!r} (roles: "
                                    f"{', '.join(ROLES)})")
        cls = load_object(target, what="--impl")
        if not callable(cls):
            raise RuntimeUsageError(f"--impl {raw}: {target} is a {type(cls).__name__}, "
                                    f"not a class")
        if not role:
            role = infer_role(cls)
            if role is None:
                raise RuntimeUsageError(
                    f"--impl {raw}: cannot tell which primitive {target} implements; it needs "
                    f"the methods of one role (" + "; ".join(
                        f"{r}: {', '.join(m)}" for r, m in ROLES.items())
                    + "), or name the role: --impl mutex=" + target)
        impl = Impl(role, target, cls)
        _check_impl(impl, raw)
        if role in impls:
            raise RuntimeUsageError(f"--impl {raw}: the {role} role is already played by "
                                    f"{impls[role].spec}")
        impls[role] = impl
    return impls


def _check_impl(impl: Impl, raw: str) -> None:
    try:
        obj = impl.cls(1) if impl.role == "channel" else impl.cls()
    except Exception as e:
        made = "Class(capacity)" if impl.role == "channel" else "Class()"
        raise RuntimeUsageError(f"--impl {raw}: a {impl.role} is built as {made}, and that "
                                f"failed: {type(e).__name__}: {e}") from e
    missing = [m for m in ROLES[impl.role] if not callable(getattr(obj, m, None))]
    if missing:
        raise RuntimeUsageError(f"--impl {raw}: a {impl.role} needs the methods "
                                f"{', '.join(ROLES[impl.role])}; {impl.spec} lacks "
                                f"{', '.join(missing)}")


def _role(decl) -> str:
    if isinstance(decl, Mutex):
        return "rwmutex" if decl.rw else "mutex"
    return {Chan: "channel", Once: "once", WaitGroup: "waitgroup"}[type(decl)]


def _factories(program: Program, impls: dict) -> dict:
    """{primitive name: make(iteration)} for every primitive the program declares."""
    out = {}
    for d in program.decls:
        if isinstance(d, (Mutex, Chan, Once, WaitGroup)):
            user = impls.get(_role(d))
            if user is not None:
                out[d.name] = (lambda it, u=user, d=d: u.make(d))
            elif isinstance(d, Mutex):
                out[d.name] = _Mutex
            elif isinstance(d, Chan):
                out[d.name] = (lambda it, c=d.capacity: _Channel(it, c))
            else:
                out[d.name] = _Once if isinstance(d, Once) else _WaitGroup
    return out


# ---------------------------------------------------------------- the interpreter


def _interpret(ops, t: int, it: _Iteration, mem: dict, prims: dict, regs: dict,
               rmw_lock: threading.Lock, mutant: Optional[str], yield_p: float, rng,
               where: list) -> None:
    """Run one thread's ops; raises _Stop when the iteration ended early."""
    def val(v):
        return value_in(v, regs.__getitem__)

    for op in ops:
        if it.reason is not None:
            raise _Stop()
        it.progress += 1
        if yield_p and rng.random() < yield_p:
            time.sleep(0)
        if isinstance(op, Load):
            regs[op.reg] = mem[op.loc]
        elif isinstance(op, Store):
            mem[op.loc] = val(op.value)
        elif isinstance(op, Rmw):
            result = _rmw(op, mem, val(op.operand), rmw_lock, mutant)
            if op.reg is not None:
                regs[op.reg] = result
        elif isinstance(op, Await):
            for _ in range(AWAIT_BUDGET):
                if (mem[op.loc] == op.value) == op.until_equal:
                    break
                if it.reason is not None:
                    raise _Stop()
                time.sleep(0)
            else:
                it.stop("timeout", f"P{t}: an await on {op.loc} spun {AWAIT_BUDGET:,} times")
        elif isinstance(op, Fence):
            pass   # every step is sequentially consistent under the GIL
        else:
            _sync(op, t, it, mem, prims, regs, rmw_lock, mutant, yield_p, rng, where, val)


def _sync(op, t, it, mem, prims, regs, rmw_lock, mutant, yield_p, rng, where, val) -> None:
    prim = prims[getattr(op, "mutex", None) or getattr(op, "chan", None)
                 or getattr(op, "once", None) or op.wg]
    preempt = (tracer(max(yield_p / 4, MIN_USER_PREEMPTION), rng, it, t)
               if type(prim).__module__ != __name__ else None)
    if isinstance(op, OnceDo):
        body = lambda: _interpret(op.body, t, it, mem, prims, regs, rmw_lock, mutant,  # noqa
                                  yield_p, rng, where)
        _call(it, t, where, op, prim, "do", f"{op.once}.do(...)", body, preempt=preempt)
    elif isinstance(op, Recv):
        got = _call(it, t, where, op, prim, "recv", f"<-{op.chan}", preempt=preempt)
        if not (isinstance(got, tuple) and len(got) == 2):
            raise _ImplError(f"{op.chan}.recv() returned {got!r}: a channel's recv returns "
                             f"(value, ok), and (0, False) once it is closed and drained")
        if op.reg is not None:
            regs[op.reg] = got[0]
        if op.ok is not None:
            regs[op.ok] = 1 if got[1] else 0
    else:
        name, method, args = {
            Lock: lambda: (op.mutex, "lock", ()), Unlock: lambda: (op.mutex, "unlock", ()),
            RLock: lambda: (op.mutex, "rlock", ()), RUnlock: lambda: (op.mutex, "runlock", ()),
            Send: lambda: (op.chan, "send", (val(op.value),)),
            Close: lambda: (op.chan, "close", ()),
            WgAdd: lambda: (op.wg, "add", (op.delta,)), WgDone: lambda: (op.wg, "done", ()),
            WgWait: lambda: (op.wg, "wait", ()),
        }[type(op)]()
        _call(it, t, where, op, prim, method, f"{name}.{method}({', '.join(map(str, args))})",
              *args, preempt=preempt)


def _call(it, t, where, op, prim, method, text, *args, preempt=None):
    """Call a primitive's method; an exception from it is a Go panic of the whole program.
    `preempt` (a user primitive's tracer) yields the GIL inside the method's own code."""
    line = f" (line {op.line})" if op.line is not None else ""
    where[t] = f"P{t}: {text}{line} on {_describe(prim)}"
    previous = sys.gettrace() if preempt is not None else None
    user = preempt is not None
    it.progress += 1
    try:
        if user:
            it.user[t] += 1
            sys.settrace(preempt)
        return getattr(prim, method)(*args)
    except (_Stop, _ImplError):
        raise
    except Exception as e:
        it.stop("panic", f"P{t}: {text}{line} raised {type(e).__name__}: {e}")
    finally:
        if user:
            sys.settrace(previous)
            it.user[t] -= 1
        it.progress += 1
        where[t] = ""


def _not_user_code() -> tuple:
    """Where the code the tracer leaves alone lives: threading, stressmm, and Hypothesis when it
    is loaded (its garbage-collection callback may run in any thread, amid a user call)."""
    hyp = getattr(sys.modules.get("hypothesis"), "__file__", None)
    return (threading.__file__, os.path.dirname(os.path.dirname(__file__)) + os.sep) + (
        (os.path.dirname(hyp) + os.sep,) if hyp else ())


def tracer(probability: float, rng, it: Optional[_Iteration] = None, t: int = 0):
    """A trace function that, inside user code (not this package nor the standard library's
    threading), yields the GIL with `probability` before each line and each bytecode: a
    user primitive's read-modify-write of a field can then be interrupted half-way, as a real
    preemption would, instead of only at the interpreter's few switch points.

    With an iteration `it`, it also counts thread `t`'s lines of user code and their rounds (a
    line at or above the previous one in the same frame: a loop went round) for the deadlock
    watcher, and once the iteration has ended it raises _Stop at the next line, so a wait loop
    leaves its call instead of spinning on after the iteration."""
    skip = _not_user_code()

    def frame_tracer(last_line: list):
        def local(frame, event, arg):
            if event == "line" and it is not None:
                if it.reason is not None:
                    raise _Stop()
                it.lines[t] += 1
                if frame.f_lineno <= last_line[0]:
                    it.rounds[t] += 1
                last_line[0] = frame.f_lineno
            if event in ("line", "opcode") and rng.random() < probability:
                time.sleep(0)
            return local
        return local

    def global_(frame, event, arg):
        if frame.f_code.co_filename.startswith(skip):
            return None
        frame.f_trace_opcodes = True
        return frame_tracer([frame.f_lineno])

    return global_


def _describe(prim) -> str:
    cls = type(prim)
    if cls.__module__ == __name__:
        return "the built-in " + cls.__name__.strip("_").lower()
    return f"{cls.__module__}:{cls.__qualname__}"


def _rmw(op: Rmw, mem: dict, operand: int, lock: threading.Lock, mutant: Optional[str]) -> int:
    split = ((op.op is RmwOp.ADD and mutant == "add-not-atomic")
             or (op.op is RmwOp.SWAP and mutant == "swap-not-atomic"))
    if split:
        old = mem[op.loc]
        time.sleep(0)   # the window: let another thread run between the load and the store
        new = old + operand if op.op is RmwOp.ADD else operand
        mem[op.loc] = new
        return new if op.op is RmwOp.ADD else old
    with lock:
        old = mem[op.loc]
        if op.op is RmwOp.ADD:
            mem[op.loc] = old + operand
            return old + operand
        if op.op is RmwOp.FETCH_ADD:
            mem[op.loc] = old + operand
            return old
        if op.op is RmwOp.SWAP:
            mem[op.loc] = operand
            return old
        if old == op.expected:
            mem[op.loc] = operand
            return 1
        if mutant == "cas-ignores-failure":
            mem[op.loc] = operand
            return 1
        return 0


# ---------------------------------------------------------------- the run


def preemption(schedule: Schedule, thread: int) -> float:
    """The probability that `thread` yields the GIL before each op: 0 with no delay in the
    schedule, up to 1/2 for its largest delays.

    >>> preemption(Schedule(), 0), preemption(Schedule(delays=((0, 4),)), 0)
    (0.0, 0.5)
    """
    hi = schedule.delay(thread)[1]
    return min(0.5, hi / 8)


def run(program: Program, iterations: Optional[int] = None, seconds: Optional[float] = None,
        schedule: Schedule = Schedule(), mutant: Optional[str] = None,
        oversubscribe: bool = False, impl=()) -> Histogram:
    """Run `program` on Python threads, `iterations` times or for `seconds`. `impl` lists user
    primitives ("module:Class" or "role=module:Class", or a {role: Impl} from load_impls).
    (`oversubscribe` is accepted for the common API: Python threads are never pinned.)"""
    check_budget(iterations, seconds)
    check_mutant(mutant)
    if mutant in SYNC_MUTANTS:
        raise RuntimeUsageError(f"mutant {mutant} breaks a native Go primitive; the pythreads "
                                f"backend runs Python primitives: use the native backend, or "
                                f"pass a broken Python class with impl=")
    if not isinstance(schedule, Schedule):
        raise RuntimeUsageError(f"schedule must be a stressmm.schedule.Schedule, got {schedule!r}")
    impls = impl if isinstance(impl, dict) else load_impls(impl)
    factories = _factories(program, impls)
    wait = lock_wait() if impls else None
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVALS[schedule.seed % len(SWITCH_INTERVALS)])
    try:
        counts, elapsed, done, notes = _run(program, iterations, seconds, schedule, mutant,
                                            factories, wait)
    finally:
        sys.setswitchinterval(old_interval)
    info = {"threads": len(program.threads), "mutant": mutant, "seed": schedule.seed,
            "impl": [str(i) for i in impls.values()]}
    info.update(notes)
    return Histogram(program, counts, elapsed, backend_label(impls.values()), info)


def backend_label(impls) -> str:
    """The implementation under test: "pythreads", or "pythreads with mutex=mod:Cls"."""
    impls = list(impls)
    return NAME + (" with " + ", ".join(map(str, impls)) if impls else "")


# ---------------------------------------------------------------- telling a deadlock


@dataclass(frozen=True)
class _Window:
    """What the watcher saw when every thread was last seen waiting with nothing moving."""

    opened: float
    progress: int
    lines: tuple
    rounds: tuple


def _states(it: _Iteration) -> tuple:
    """Each thread's state: "done", "builtin" (blocked in a built-in primitive), "user" (inside
    a user call) or "running" (its own ops, or not started yet)."""
    waiting = tuple(it.waiting)
    return tuple("done" if it.done[t] else "builtin" if it.idents[t] in waiting
                 else "user" if it.user[t] else "running" for t in range(len(it.done)))


@dataclass(frozen=True)
class LockWait:
    """How a thread blocked in a lock's acquire() without a timeout shows in
    /proc/self/task/<id>/syscall: the system call's number and operation (a futex wait, on
    Linux), with no timeout. Measured once per process (`lock_wait`)."""

    number: str
    operation: str

    def blocks(self, fields: tuple) -> bool:
        """Whether a thread whose syscall file reads `fields` waits so: only another thread
        can end that wait (no timeout, no sleep, not waiting for the GIL or a CPU).

            >>> LockWait("202", "0x189").blocks(("202", "0x7f", "0x189", "0x0", "0x0"))
            True
            >>> LockWait("202", "0x189").blocks(("202", "0x7f", "0x89", "0x0", "0x7f10"))
            False
            >>> LockWait("202", "0x189").blocks(("running",))
            False
        """
        return (len(fields) > 4 and fields[0] == self.number and fields[2] == self.operation
                and fields[4] == "0x0")


def _syscall(native_id) -> tuple:
    """The fields of /proc/self/task/<native_id>/syscall (Linux): the system call a thread is
    blocked in and its arguments, ("running",) when it is not blocked, () where unknown."""
    try:
        with open(f"/proc/self/task/{native_id}/syscall") as f:
            return tuple(f.read().split())
    except OSError:
        return ()


def _switches(native_id) -> Optional[int]:
    """How many times the OS thread `native_id` of this process was switched off its CPU so
    far (Linux), or None where unknown."""
    try:
        with open(f"/proc/self/task/{native_id}/status") as f:
            counts = [int(line.split()[1]) for line in f if "ctxt_switches" in line]
    except (OSError, ValueError, IndexError):
        return None
    return sum(counts) if len(counts) == 2 else None


@functools.lru_cache(maxsize=1)
def lock_wait(seconds: float = 5.0) -> Optional[LockWait]:
    """How a thread blocked for good in `threading.Lock.acquire()` looks from /proc, measured
    on a helper thread that blocks so; None where it cannot be read (no /proc: deadlocks
    inside user calls are then never judged, they end as `timeout`). A fact of the platform,
    measured once per process, in at most `seconds`."""
    gate = threading.Lock()
    gate.acquire()
    helper = threading.Thread(target=gate.acquire, daemon=True, name="stressmm-lock-wait")
    helper.start()
    try:
        before, deadline = None, time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.02)     # the GIL is free: a helper not blocked on `gate` would run
            seen = (_syscall(helper.native_id), _switches(helper.native_id))
            fields = seen[0]
            if (seen == before and seen[1] is not None and len(fields) > 4
                    and fields[0] != "running" and fields[4] == "0x0"):
                return LockWait(fields[0], fields[2])
            before = seen
        return None
    finally:
        gate.release()
        helper.join(timeout=seconds)


def _blocked_for_good(wait: Optional[LockWait], native_ids) -> bool:
    """Whether the threads `native_ids` were all, at one instant, blocked in a lock wait that
    only another thread can end (`wait`). Each thread is looked at twice, all first looks
    before any second one: blocked both times and not switched onto a CPU in between, it was
    blocked all along, so at the instant between the two passes every one of them was."""
    if wait is None:
        return False

    def look(native_id):
        switches = _switches(native_id)
        return switches if switches is not None and wait.blocks(_syscall(native_id)) else None

    first = [look(n) for n in native_ids]
    return None not in first and first == [look(n) for n in native_ids]


def _condition_waiter(frame):
    """The wait lock of a thread blocked in `threading.Condition.wait()` without a timeout,
    when `frame` (the thread's innermost) is that wait and the lock is taken; else None.
    (A notified waiter takes it back too before it leaves wait(): this does not tell a
    notified waiter from an un-notified one.)"""
    if frame is None or frame.f_code is not _CONDITION_WAIT:
        return None
    local = frame.f_locals
    waiter = local.get("waiter")
    if local.get("timeout") is not None or not callable(getattr(waiter, "locked", None)):
        return None
    return waiter if waiter.locked() else None


_CONDITION_WAIT = threading.Condition.wait.__code__


def _look_for_deadlock(it: _Iteration, window: Optional[_Window], now: float, where: list,
                       wait: Optional[LockWait]) -> Optional[_Window]:
    """One look of the watcher: ends the iteration as `deadlock` when every thread is finished,
    blocked in a built-in primitive or waiting inside a user call (at least one), and nothing
    moved (no op begun, no call entered or left, no built-in change) since the window opened.
    A thread in a user call waits when it ran no line of user code since then and is blocked
    for good in a lock wait (`_blocked_for_good`: not asleep, not waiting for the GIL or a
    CPU), judged after CERTAIN_SECONDS; or when it went round a loop DEADLOCK_ROUNDS times in
    DEADLOCK_SECONDS (a spinning wait, while every other thread is blocked for good). Returns
    the window to keep watching, or None."""
    states = _states(it)
    if "running" in states or "user" not in states:
        return None
    if window is None or window.progress != it.progress:
        return _Window(now, it.progress, tuple(it.lines), tuple(it.rounds))
    quiet = now - window.opened
    if quiet < CERTAIN_SECONDS:
        return window
    users = [t for t, s in enumerate(states) if s == "user"]
    ran = [t for t in users if it.lines[t] != window.lines[t]]
    blocked = [t for t in users if t not in ran]
    spinning = all(it.rounds[t] - window.rounds[t] >= DEADLOCK_ROUNDS for t in ran)
    slow = bool(ran) and (quiet < DEADLOCK_SECONDS or not spinning)
    if slow or (blocked and not _blocked_for_good(wait, [it.native_ids[t] for t in blocked])):
        # Slow, not stuck (a thread runs its code, naps, or waits for the GIL or a CPU):
        # keep watching, from a fresh window once it is DEADLOCK_SECONDS old.
        return window if quiet < DEADLOCK_SECONDS else _Window(
            now, it.progress, tuple(it.lines), tuple(it.rounds))
    note = "; ".join(w for w in where if w)
    with it.cv:
        if (it.progress == window.progress and it.reason is None
                and all(it.lines[t] == window.lines[t] for t in blocked)):
            it._end("deadlock", f"{note}: every thread waiting, none leaving its call for "
                                f"{quiet:.2g} s")
    return None


def _wake_condition_waiters(it: _Iteration) -> None:
    """Once the iteration has ended: release the threads blocked in a condition wait inside a
    user call (they return from the wait, and the tracer stops them at their next line), so
    that they are not left behind. The objects they wait on belong to this iteration alone."""
    frames = sys._current_frames()
    for t, ident in enumerate(it.idents):
        waiter = _condition_waiter(frames.get(ident)) if it.user[t] else None
        if waiter is not None:
            try:
                waiter.release()
            except RuntimeError:   # notified meanwhile
                pass


def _watch(it: _Iteration, began: float, where: list, wait: Optional[LockWait]) -> str:
    """Wait for the iteration's threads: "done" when all finished; "left" when the iteration
    ended (deadlock, panic, timeout) but a thread is still inside a user call QUIT_SECONDS
    later (blocked for good: it is left behind); "stuck" when a thread is still inside a call
    ITERATION_SECONDS + GRACE after `began` with no deadlock seen (the iteration is ended, so
    that the call stops at its next line of user code instead of running on unwatched)."""
    window: Optional[_Window] = None
    ended: Optional[float] = None
    while not it.all_done.wait(WATCH_SECONDS):
        now = time.monotonic()
        if it.reason is not None:
            if ended is None:
                ended = now
                _wake_condition_waiters(it)
            if now - ended > QUIT_SECONDS:
                return "left"
        elif now - began > ITERATION_SECONDS + GRACE:
            with it.cv:
                it._end("timeout", "")
            _wake_condition_waiters(it)
            return "stuck"
        else:
            window = _look_for_deadlock(it, window, now, where, wait)
    return "done"


# ---------------------------------------------------------------- the threads


class _Pool:
    """The program's threads, one per program thread, reused from iteration to iteration
    (two barriers around each) until an iteration leaves one blocked in a user call."""

    def __init__(self, program, schedule, mutant, generation: int):
        n = len(program.threads)
        self.start = threading.Barrier(n + 1)
        self.end = threading.Barrier(n + 1)
        self.where = [""] * n
        self.box: list = [None]          # (iteration, mem, prims, regs) of the current one
        self.quit = threading.Event()
        self.rmw_lock = threading.Lock()
        self.threads = [threading.Thread(target=self._worker,
                                         args=(t, program, schedule, mutant, generation),
                                         daemon=True, name=f"{_THREAD_PREFIX}{t}")
                        for t in range(n)]
        for th in self.threads:
            th.start()

    def _worker(self, t: int, program, schedule, mutant, generation: int) -> None:
        rng = random.Random(schedule.seed * 1_000_003 + t + 7919 * generation)
        lo, hi = schedule.delay(t)
        yield_p = preemption(schedule, t)
        ops = tuple(program.threads[t].ops)
        try:
            while True:
                self.start.wait()
                if self.quit.is_set():
                    return
                it, mem, prims, regs = self.box[0]
                it.enter(t)
                for _ in range(rng.randint(lo, hi) if hi else 0):
                    pass
                try:
                    _interpret(ops, t, it, mem, prims, regs[t], self.rmw_lock, mutant, yield_p,
                               rng, self.where)
                except _Stop:
                    pass
                except BaseException as e:   # a protocol error of a user class, or ours
                    it.fault = e
                    with it.cv:
                        it._end("timeout", "")
                it.finished(t)
                self.end.wait()
        except threading.BrokenBarrierError:
            return

    def close(self, left_behind: bool) -> None:
        """Let the threads go: those waiting for an iteration end at once; threads left
        behind in a user call are not waited for (they are daemons)."""
        self.quit.set()
        if not self.start.broken and not left_behind:
            try:
                self.start.wait(timeout=1.0)
            except threading.BrokenBarrierError:
                pass
        self.start.abort()
        self.end.abort()
        for th in self.threads:
            th.join(timeout=0 if left_behind else ITERATION_SECONDS + GRACE)


def _run(program, iterations, seconds, schedule, mutant, factories, wait):
    n = len(program.threads)
    init = {v.name: v.init for v in program.vars}
    names = [tuple(program.registers(t)) for t in range(n)]
    counts: dict = {}
    notes: dict = {}
    began = time.monotonic()
    done = generation = left = 0
    slow = 0.0                  # seconds spent in iterations that ended early
    stranded = 0                # threads left blocked in user calls, in the whole process
    pool: Optional[_Pool] = None
    verdict = "done"
    try:
        while (done < iterations) if iterations is not None else (time.monotonic() - began < seconds):
            if pool is None:
                pool = _Pool(program, schedule, mutant, generation)
                generation += 1
            it = _Iteration(n, time.monotonic() + ITERATION_SECONDS)
            try:
                prims = {name: make(it) for name, make in factories.items()}
            except Exception as e:
                raise RuntimeUsageError(f"{program.name}: building the primitives failed: "
                                        f"{type(e).__name__}: {e}") from e
            regs = [dict.fromkeys(names[t], 0) for t in range(n)]
            mem = dict(init)
            pool.box[0] = (it, mem, prims, regs)
            pool.start.wait(timeout=BARRIER_SECONDS)
            started = time.monotonic()
            verdict = _watch(it, started, pool.where, wait)
            if verdict == "stuck":
                stuck = "; ".join(w for w in pool.where if w) or "a thread"
                notes["stuck"] = (hang_note(stuck, ITERATION_SECONDS + GRACE, "the iteration began",
                                            "a call that never returns and does not wait, or a "
                                            "wait loop that sleeps long between its rounds")
                                  + f"; the run stopped after {done + 1:,} iterations"
                                  + ("" if wait is not None else
                                     " (deadlocks inside user calls cannot be told here: "
                                     "/proc/self/task/*/syscall is unreadable, so a call "
                                     "blocked for good ends so too)"))
                counts[Outcome.flagged("timeout")] = counts.get(Outcome.flagged("timeout"), 0) + 1
                done += 1
                break
            if verdict == "left":
                left += it.running
                pool.close(left_behind=True)
                pool = None
                stranded = _stranded()
            else:
                pool.end.wait(timeout=BARRIER_SECONDS)
            if it.fault is not None:
                if isinstance(it.fault, _ImplError):
                    raise RuntimeUsageError(f"{program.name}: {it.fault}")
                raise it.fault
            if it.reason is not None:
                outcome = Outcome.flagged(it.reason)
                if it.note and it.reason + "_note" not in notes:
                    notes[it.reason + "_note"] = it.note
                slow += time.monotonic() - started
            else:
                outcome = Outcome.make({(t, r): v for t in range(n) for r, v in regs[t].items()},
                                       mem)
            counts[outcome] = counts.get(outcome, 0) + 1
            done += 1
            capped = _capped(done, iterations, slow, left, stranded)
            if capped:
                notes["capped"] = capped
                break
    except threading.BrokenBarrierError as exc:
        raise ThreadsNotStarted(f"{program.name}: a Python thread missed its start barrier for "
                                f"{BARRIER_SECONDS:.0f} s; the run was abandoned") from exc
    finally:
        if pool is not None:
            pool.close(left_behind=verdict == "stuck")
    if left:
        notes["left_behind"] = left
    return counts, time.monotonic() - began, done, notes


def _capped(done: int, iterations: Optional[int], slow: float, left: int,
            stranded: int = 0) -> str:
    """Why a run of `iterations` (None: a run for some seconds) stops after `done` of them, or
    "": its iterations that ended early (deadlock, timeout) took RUN_SECONDS, or it left
    MAX_LEFT_BEHIND threads blocked in user calls, or the process holds `stranded` such
    threads, MAX_STRANDED or more, from this run and earlier ones (Python threads cannot be
    killed; each costs memory and a thread of the OS's limit until the process ends).

        >>> _capped(10, 1000, 25.0, 0)[:40]
        '10 of 1,000 runs: stopped after 25 s in '
        >>> _capped(10, 1000, 1.0, 0), _capped(10, None, 99.0, 0)
        ('', '')
        >>> _capped(10, None, 0.0, 1, 300)[:60]
        '10 runs: stopped after leaving 1 thread blocked in user call'
    """
    if iterations is not None and done >= iterations:
        return ""
    runs = f"{done:,} of {iterations:,} runs" if iterations is not None else f"{done:,} runs"
    if iterations is not None and slow > RUN_SECONDS:
        return (f"{runs}: stopped after {slow:.0f} s in iterations that deadlocked or timed "
                f"out (each waits {CERTAIN_SECONDS:g} s or more before it is judged)")
    if left >= MAX_LEFT_BEHIND or (left and stranded >= MAX_STRANDED):
        return (f"{runs}: stopped after leaving {left} thread{'s' * (left != 1)} blocked in "
                f"user calls at the end of iterations, {stranded} in this process so far "
                f"(Python threads cannot be killed: a run leaves at most {MAX_LEFT_BEHIND}, "
                f"a process holds at most {MAX_STRANDED}; start a new process to test more)")
    return ""


def _stranded() -> int:
    """How many threads of earlier iterations are still blocked in user calls in this process
    (the pools' threads that outlived their pool)."""
    return sum(1 for th in threading.enumerate()
               if th.name.startswith(_THREAD_PREFIX) and th.is_alive())


class PyThreadsBackend:
    """The pythreads runtime as a `stressmm.runtime.Backend`, with optional user primitives
    (`impl`: "module:Class" or "role=module:Class" strings, checked when it is built)."""

    spec = NAME
    default_iterations = 1_000   # Python threads run ~10^3..10^4 iterations/s, not 10^6

    def __init__(self, impl=()):
        self.impl = tuple(impl)
        self._impls = load_impls(self.impl)
        self.kinds = tuple(self._impls)     # the roles the user's classes play
        self.name = backend_label(self._impls.values())

    def run(self, program: Program, iterations: Optional[int] = None,
            seconds: Optional[float] = None, schedule: Schedule = Schedule(),
            mutant: Optional[str] = None, oversubscribe: bool = False) -> Histogram:
        return run(program, iterations, seconds, schedule, mutant, oversubscribe, self._impls)
