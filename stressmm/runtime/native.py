"""The native backend: programs run by the C executor on pinned OS threads.

    from stressmm.program import Program, Var, Thread, Store, Load
    sb = Program("SB", (Var("x"), Var("y")), (
        Thread((Store("x", 1), Load("r0", "y"))), Thread((Store("y", 1), Load("r1", "x")))))
    h = run(sb, iterations=1000)          # needs 2 CPUs (one per thread)
    sorted(str(o) for o in h.counts)      # ['P0:r0=0 P1:r1=0 x=1 y=1', 'P0:r0=0 P1:r1=1 ...', ...]

Each program thread gets its own pthread pinned to its own CPU (the schedule's `cpus`, else the
first free CPUs of this process); the GIL is released while the program runs, and Ctrl-C stops
a run within a few tens of milliseconds (KeyboardInterrupt, or whatever a SIGTERM handler
raises); the runs finished by then travel with the exception (`partial_histogram(exc)`). An outcome holds every register of
every thread and the final value of every variable, like the models' outcomes, so a histogram
compares with a model's outcome set directly; an iteration whose await never came true is the
outcome `timeout`.

The Go primitives (mutex, rwmutex, channels, once, waitgroup) are implemented in C
(stressmm/_native/sync.c), with fresh state every iteration. An iteration in which a
primitive panics (send on or close of a closed channel, a negative WaitGroup counter, unlock
of an unlocked mutex) is the outcome `panic`; one in which every unfinished thread is blocked
in a primitive is `deadlock`; one where a thread waited past the spin budget while another was
still spinning in an await (or, after a 0.25 s grace, still running: descheduled under load) is
`timeout`. The other threads of such an iteration
stop at once, and the next iteration starts clean. MUTANTS lists broken variants of the
atomics and of every primitive.
"""
from __future__ import annotations

import time
from typing import Optional

from ..outcome import Histogram
from ..program import Program
from ..schedule import Schedule
from . import RuntimeUsageError, ThreadsNotStarted, attach_histogram, available_cpus, check_budget
from .compile import MUTANTS, SYNC_MUTANTS, Compiled, check_mutant, compile_program

__all__ = ["run", "MUTANTS", "SYNC_MUTANTS", "NativeBackend", "choose_cpus", "await_budget"]

NAME = "native"


def choose_cpus(nthreads: int, schedule: Schedule, oversubscribe: bool) -> Optional[tuple]:
    """The CPU of each program thread, or None for unpinned threads (oversubscription): the
    ones the schedule names, each one this process may run on, else the first free ones. The
    examples hold on any CPU set (a pytest-xdist worker may be pinned to CPU 1 alone):

    >>> cpu = available_cpus()[-1]
    >>> choose_cpus(1, Schedule(cpus=(cpu,)), False) == (cpu,)
    True
    >>> choose_cpus(1, Schedule(), False) == available_cpus()[:1]
    True
    >>> choose_cpus(1, Schedule(cpus=(100_000,)), False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    stressmm.runtime.RuntimeUsageError: the schedule pins threads to CPUs [100000], which this process may not use (available: [...])
    """
    cpus = available_cpus()
    if schedule.cpus is not None:
        wanted = tuple(schedule.cpus[:nthreads])
        if len(wanted) < nthreads:
            raise RuntimeUsageError(f"the schedule names {len(schedule.cpus)} CPUs for "
                                    f"{nthreads} threads: give one CPU per thread")
        missing = [c for c in wanted if c not in cpus]
        if missing:
            raise RuntimeUsageError(f"the schedule pins threads to CPUs {missing}, which this "
                                    f"process may not use (available: {list(cpus)})")
        if len(set(wanted)) < nthreads and not oversubscribe:
            raise RuntimeUsageError(f"the schedule puts two threads on one CPU ({list(wanted)}); "
                                    "that hides weak behaviours: give distinct CPUs or pass "
                                    "oversubscribe=True")
        return wanted
    if nthreads <= len(cpus):
        return cpus[:nthreads]
    if oversubscribe:
        return None
    raise RuntimeUsageError(f"the program has {nthreads} threads but only {len(cpus)} CPUs are "
                            f"available: more threads than CPUs hides weak behaviours; use a "
                            f"smaller program or pass oversubscribe=True (threads then unpinned)")


def await_budget(schedule: Schedule, nthreads: int) -> int:
    """Spins an await may take before its iteration is recorded as `timeout`: well above the
    longest delay another thread may spin before it writes."""
    longest = max((schedule.delay(t)[1] for t in range(nthreads)), default=0)
    return 50_000 + 4 * longest


def run(program: Program, iterations: Optional[int] = None, seconds: Optional[float] = None,
        schedule: Schedule = Schedule(), mutant: Optional[str] = None,
        oversubscribe: bool = False, user: Optional[int] = None) -> Histogram:
    """Run `program` `iterations` times (or for `seconds`) and return its outcome histogram.

    `mutant` selects a deliberately broken variant of the runtime (see MUTANTS). `user` is the
    address of a loaded table of user primitives (stressmm.runtime.cimpl runs those, in a
    worker process of their own). Raises
    RuntimeUsageError for bad arguments and for programs the native runtime cannot run."""
    check_budget(iterations, seconds)
    if not isinstance(schedule, Schedule):
        raise RuntimeUsageError(f"schedule must be a stressmm.schedule.Schedule, got {schedule!r}")
    check_mutant(mutant)
    compiled = compile_program(program, mutant)
    cpus = choose_cpus(len(program.threads), schedule, oversubscribe)
    # Threads share a CPU when unpinned, or when the schedule pins two to one CPU: then every
    # wait must yield, or a waiter burns its budget while the thread it waits for cannot run.
    shared = cpus is None or len(set(cpus)) < len(cpus)
    objects = None
    if user is not None:
        from .cimpl import user_objects
        objects = (user, user_objects(program))
    info = {"cpus": list(cpus) if cpus is not None else None, "layout": schedule.layout,
            "batch": schedule.batch, "mutant": mutant, "seed": schedule.seed,
            "oversubscribe": shared}
    try:
        counts, elapsed = _execute(compiled, schedule, cpus, iterations, seconds, shared,
                                   objects)
    except BaseException as exc:   # Ctrl-C, SIGTERM: the runs already done go with the signal
        done = getattr(exc, "partial_counts", None)
        if done is not None:
            attach_histogram(exc, Histogram(program, done[0], done[1], NAME, info))
        raise
    return Histogram(program, counts, elapsed, NAME, info)


def _execute(compiled: Compiled, schedule: Schedule, cpus, iterations, seconds, shared,
             user=None):
    """Call the C executor until the budget is spent (it returns early when its outcome tables
    fill up), and decode its keys into Outcomes."""
    from .compile import _native as _load_native
    _native = _load_native()
    nthreads = len(compiled.threads)
    specs = [(th.code_array(), th.file, len(th.regs)) + schedule.delay(t)
             for t, th in enumerate(compiled.threads)]
    budget = await_budget(schedule, nthreads)
    raw: dict = {}
    elapsed = 0.0
    done_total = 0
    end = time.monotonic() + seconds if seconds is not None else None
    for call in range(1_000_000):   # bounded: each call makes progress or the time runs out
        if iterations is not None:
            todo, secs = iterations - done_total, 0.0
        else:
            todo, secs = 0, end - time.monotonic()
            if secs <= 0:
                break
        try:
            counts, done, took, stop = _native.execute(
                specs, compiled.init, len(compiled.var_names), compiled.ctl,
                schedule.layout == "spread", schedule.batch, todo, secs,
                cpus, budget, shared, schedule.seed + call, user)
        except (KeyboardInterrupt, SystemExit) as exc:
            counts, _, took, _ = getattr(exc, "partial", None) or ({}, 0, 0.0, "signal")
            for key, n in counts.items():
                raw[key] = raw.get(key, 0) + n
            exc.partial_counts = (_decode(compiled, raw), elapsed + took)
            raise
        except RuntimeError as exc:   # the executor's only one: a barrier wait timed out
            raise ThreadsNotStarted(f"{compiled.program.name}: {exc}") from exc
        except OSError as exc:
            raise RuntimeUsageError(f"{compiled.program.name}: could not start the program "
                                    f"threads: {exc}") from exc
        for key, n in counts.items():
            raw[key] = raw.get(key, 0) + n
        elapsed += took
        done_total += done
        if stop != "table-full" or (iterations is not None and done_total >= iterations):
            break
    return _decode(compiled, raw), elapsed


def _decode(compiled: Compiled, raw: dict) -> dict:
    """Executor keys with counts -> Outcomes with counts."""
    decoded: dict = {}
    for key, n in raw.items():
        outcome = compiled.decode(key)
        decoded[outcome] = decoded.get(outcome, 0) + n
    return decoded


class NativeBackend:
    """The native runtime as a `stressmm.runtime.Backend`."""

    name = NAME

    def run(self, program: Program, iterations: Optional[int] = None,
            seconds: Optional[float] = None, schedule: Schedule = Schedule(),
            mutant: Optional[str] = None, oversubscribe: bool = False) -> Histogram:
        return run(program, iterations, seconds, schedule, mutant, oversubscribe)
