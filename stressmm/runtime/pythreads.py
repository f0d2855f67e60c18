"""The pythreads backend: programs interpreted on plain Python threads, one per program thread.

The naive baseline the native runtime is measured against: each iteration starts with fresh
memory and a barrier, every thread interprets its ops, a second barrier ends the iteration. It
gives correct outcomes (the same Outcome values as the native backend and the models), just
slowly, and under the GIL every execution is sequentially consistent::

    >>> from stressmm.program import Program, Var, Thread, Store, Load
    >>> p = Program("W", (Var("x"),), (Thread((Store("x", 1),)), Thread((Load("r0", "x"),))))
    >>> h = run(p, iterations=50)
    >>> h.total, sorted(str(o) for o in h.counts) <= ['P1:r0=0 x=1', 'P1:r0=1 x=1']
    (50, True)

Mutants: the read-modify-write mutants (add-not-atomic, swap-not-atomic, cas-ignores-failure)
break the interpreter's atomic section the same way as in C; sc-store-no-fence and
sc-fence-noop change nothing here (there is no store buffer to expose).

Go primitives (mutex, channels, once, waitgroup) are not run here: a program using one is
rejected with a RuntimeUsageError naming the op. Under the GIL a Python implementation of them
would only ever show sequentially consistent outcomes, so it would add nothing the sc model
does not already say; the native runtime is where they are implemented and tested.
"""
from __future__ import annotations

import random
import threading
import time
from typing import Optional

from ..outcome import Histogram, Outcome
from ..program import Await, Fence, Load, Program, Rmw, RmwOp, Store, SYNC_OPS, walk_ops
from ..schedule import Schedule
from . import RuntimeUsageError, check_budget
from .compile import check_mutant

__all__ = ["run", "PyThreadsBackend"]

NAME = "pythreads"
AWAIT_BUDGET = 20_000       # polls (each yields the GIL) before an iteration is a timeout
BARRIER_SECONDS = 30.0      # a thread missing a barrier this long breaks the run


class _Timeout(Exception):
    pass


def _check_program(program: Program) -> None:
    for t, thread in enumerate(program.threads):
        for i, op in enumerate(walk_ops(thread.ops)):
            if isinstance(op, SYNC_OPS):
                line = f", line {op.line}" if op.line is not None else ""
                raise RuntimeUsageError(
                    f"{program.name}: P{t} op {i}{line}: the pythreads runtime does not run "
                    f"{type(op).__name__}: it runs memory ops only (loads, stores, "
                    f"read-modify-writes, fences, awaits); run Go primitives on the native "
                    f"runtime (stressmm.runtime.native)")


def _interpret(ops, mem: dict, regs: dict, rmw_lock: threading.Lock, mutant: Optional[str]):
    """Run one thread's ops on `mem`, writing `regs`; raises _Timeout when an await gives up."""
    def val(v):
        return regs[v] if isinstance(v, str) else v

    for op in ops:
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
                time.sleep(0)
            else:
                raise _Timeout()
        elif isinstance(op, Fence):
            pass   # every step is sequentially consistent under the GIL


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


def run(program: Program, iterations: Optional[int] = None, seconds: Optional[float] = None,
        schedule: Schedule = Schedule(), mutant: Optional[str] = None,
        oversubscribe: bool = False) -> Histogram:
    """Run `program` on Python threads, `iterations` times or for `seconds`.
    (`oversubscribe` is accepted for the common API: Python threads are never pinned.)"""
    check_budget(iterations, seconds)
    check_mutant(mutant)
    _check_program(program)
    n = len(program.threads)
    init = {v.name: v.init for v in program.vars}
    mem: dict = dict(init)
    regs = [dict.fromkeys(program.registers(t), 0) for t in range(n)]
    timed_out = [False] * n
    lock = threading.Lock()
    start = threading.Barrier(n + 1, timeout=BARRIER_SECONDS)
    end = threading.Barrier(n + 1, timeout=BARRIER_SECONDS)
    stop = threading.Event()

    def worker(t: int) -> None:
        rng = random.Random(schedule.seed * 1_000_003 + t)
        lo, hi = schedule.delay(t)
        ops = tuple(walk_ops(program.threads[t].ops))
        try:
            while True:
                start.wait()
                if stop.is_set():
                    return
                for _ in range(rng.randint(lo, hi) if hi else 0):
                    pass
                try:
                    _interpret(ops, mem, regs[t], lock, mutant)
                except _Timeout:
                    timed_out[t] = True
                end.wait()
        except threading.BrokenBarrierError:
            return

    threads = [threading.Thread(target=worker, args=(t,), daemon=True, name=f"stressmm-P{t}")
               for t in range(n)]
    for th in threads:
        th.start()
    counts: dict = {}
    began = time.monotonic()
    done = 0
    try:
        while (done < iterations) if iterations is not None else (time.monotonic() - began < seconds):
            start.wait()
            end.wait()
            if any(timed_out):
                outcome = Outcome.flagged("timeout")
            else:
                outcome = Outcome.make({(t, r): v for t in range(n) for r, v in regs[t].items()},
                                       mem)
            counts[outcome] = counts.get(outcome, 0) + 1
            done += 1
            mem.update(init)
            for t in range(n):
                regs[t].update(dict.fromkeys(regs[t], 0))
                timed_out[t] = False
        stop.set()
        start.wait()
    except threading.BrokenBarrierError as exc:
        raise RuntimeUsageError(f"{program.name}: a Python thread missed its barrier for "
                                f"{BARRIER_SECONDS:.0f} s; the run was abandoned") from exc
    finally:
        stop.set()
        start.abort()
        end.abort()
        for th in threads:
            th.join(timeout=BARRIER_SECONDS)
    elapsed = time.monotonic() - began
    return Histogram(program, counts, elapsed, NAME,
                     {"threads": n, "mutant": mutant, "seed": schedule.seed})


class PyThreadsBackend:
    """The pythreads runtime as a `stressmm.runtime.Backend`."""

    name = NAME

    def run(self, program: Program, iterations: Optional[int] = None,
            seconds: Optional[float] = None, schedule: Schedule = Schedule(),
            mutant: Optional[str] = None, oversubscribe: bool = False) -> Histogram:
        return run(program, iterations, seconds, schedule, mutant, oversubscribe)
