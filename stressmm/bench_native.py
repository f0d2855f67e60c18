"""Benchmark of the native runtime against the pythreads baseline, in the same process.

For each classic test (SB relaxed, R, MP, LB, 2+2W, SB seq_cst) and each backend, a few timed
repetitions give iterations per second, weak outcomes per second and the weak fraction (weak =
an outcome the sc model forbids), each as min/median/max; the native row also carries its
speed-up over pythreads. The functions return rows; `stressmm bench` prints them::

    rows = bench(seconds=0.05, repeats=1, tests=["MP"])   # needs 2 CPUs
    [(r.test, r.backend) for r in rows]                    # [('MP', 'native'), ('MP', 'pythreads')]
"""
from __future__ import annotations

import statistics
import sys
from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Optional

from .outcome import Histogram, Outcome, evaluate
from .program import Cmp, Condition, And, Load, MemRef, Order, Program, RegRef, Store, Thread, Var
from .schedule import Schedule

__all__ = ["BENCH_TESTS", "BenchRow", "bench", "weak_judge", "print_bench"]

RLX, SC = Order.RELAXED, Order.SEQ_CST


def _atomics(*names):
    return tuple(Var(n, atomic=True) for n in names)


def _sb(order: Order, name: str) -> Program:
    return Program(name, _atomics("x", "y"), (
        Thread((Store("x", 1, order), Load("r0", "y", order))),
        Thread((Store("y", 1, order), Load("r1", "x", order)))),
        Condition(And((Cmp(RegRef(0, "r0"), 0), Cmp(RegRef(1, "r1"), 0)))))


BENCH_TESTS = {
    "SB": _sb(RLX, "SB"),
    "R": Program("R", _atomics("x", "y"), (
        Thread((Store("x", 1, RLX), Store("y", 1, RLX))),
        Thread((Store("y", 2, RLX), Load("r0", "x", RLX)))),
        Condition(And((Cmp(MemRef("y"), 2), Cmp(RegRef(1, "r0"), 0))))),
    "MP": Program("MP", _atomics("x", "y"), (
        Thread((Store("x", 1, RLX), Store("y", 1, RLX))),
        Thread((Load("r0", "y", RLX), Load("r1", "x", RLX)))),
        Condition(And((Cmp(RegRef(1, "r0"), 1), Cmp(RegRef(1, "r1"), 0))))),
    "LB": Program("LB", _atomics("x", "y"), (
        Thread((Load("r0", "x", RLX), Store("y", 1, RLX))),
        Thread((Load("r1", "y", RLX), Store("x", 1, RLX)))),
        Condition(And((Cmp(RegRef(0, "r0"), 1), Cmp(RegRef(1, "r1"), 1))))),
    "2+2W": Program("2+2W", _atomics("x", "y"), (
        Thread((Store("x", 1, RLX), Store("y", 2, RLX))),
        Thread((Store("y", 1, RLX), Store("x", 2, RLX)))),
        Condition(And((Cmp(MemRef("x"), 1), Cmp(MemRef("y"), 1))))),
    "SB+sc": _sb(SC, "SB+sc"),
}


@dataclass(frozen=True)
class BenchRow:
    """One backend on one test: rates over the repetitions as (min, median, max)."""

    test: str
    backend: str
    repeats: int
    iterations: int
    its_per_s: tuple
    weak_per_s: tuple
    weak_fraction: float
    speedup: Optional[float] = None   # native median it/s over pythreads median it/s

    def as_dict(self) -> dict:
        return asdict(self)


def weak_judge(program: Program) -> Callable[[Outcome], bool]:
    """A predicate telling weak outcomes: those the sc model forbids (when stressmm.models is
    importable), else those satisfying the program's `exists` condition. Timeouts are not weak."""
    try:
        from .models import get_model
        allowed = frozenset(get_model("sc").allowed(program).outcomes)
        return lambda o: "timeout" not in o.flags and o not in allowed
    except ImportError:
        if program.condition is None:
            raise ValueError(f"{program.name}: no sc model and no condition to tell weak outcomes")
        return lambda o: "timeout" not in o.flags and evaluate(program.condition, o)


def _spread(values: list) -> tuple:
    return (min(values), statistics.median(values), max(values))


def _measure(runner, program: Program, is_weak, seconds: float, repeats: int,
             schedule: Schedule) -> tuple:
    its, weaks, total, weak_total = [], [], 0, 0
    for _ in range(repeats):
        h: Histogram = runner(program, seconds=seconds, schedule=schedule)
        weak = sum(n for o, n in h.counts.items() if is_weak(o))
        elapsed = h.elapsed if h.elapsed > 0 else seconds
        its.append(h.total / elapsed)
        weaks.append(weak / elapsed)
        total += h.total
        weak_total += weak
    return _spread(its), _spread(weaks), total, (weak_total / total if total else 0.0)


def bench(seconds: float = 1.0, repeats: int = 3, schedule: Schedule = Schedule(),
          tests: Optional[Iterable[str]] = None, baseline: bool = True,
          baseline_seconds: Optional[float] = None) -> list:
    """Rows for each test of BENCH_TESTS (or the named ones) on native, then pythreads."""
    from .runtime import native, pythreads
    names = list(BENCH_TESTS) if tests is None else list(tests)
    unknown = [n for n in names if n not in BENCH_TESTS]
    if unknown:
        raise ValueError(f"unknown bench test(s) {unknown}; known: {', '.join(BENCH_TESTS)}")
    rows = []
    for name in names:
        program = BENCH_TESTS[name]
        is_weak = weak_judge(program)
        its, weak, total, frac = _measure(native.run, program, is_weak, seconds, repeats, schedule)
        base = None
        if baseline:
            b_its, b_weak, b_total, b_frac = _measure(
                pythreads.run, program, is_weak, baseline_seconds or seconds, repeats, schedule)
            base = BenchRow(name, "pythreads", repeats, b_total, b_its, b_weak, b_frac)
        speedup = its[1] / base.its_per_s[1] if base and base.its_per_s[1] > 0 else None
        rows.append(BenchRow(name, "native", repeats, total, its, weak, frac, speedup))
        if base:
            rows.append(base)
    return rows


BENCH_SCHEDULE = Schedule(batch=1024, delays=((0, 1), (0, 1)))
"""The schedule `stressmm bench` uses: a random 0..1 pause before each iteration in both threads,
1024 instances per round. Chosen by hand on a 2-core AMD EPYC VM by running SB under candidate
schedules with `bench(schedule=...)`: it gave the most weak outcomes per second among no delays,
0..1 and 0..2 pauses in one or both threads, batches of 64, 256 and 1024, spread and packed.
Pass another schedule to `bench` to compare on other hardware."""


def print_bench(quick: bool = False, file=None) -> list:
    """`stressmm bench`: native runtime vs plain Python threads, in the same run; the report
    goes to `file` (stdout by default), the rows are returned."""
    from .report import fmt_rate, table

    from .runtime import machine_facts

    facts = machine_facts()
    seconds, repeats = (0.5, 2) if quick else (1.0, 5)
    file = file or sys.stdout
    print(f"{facts['cpu']}, {len(facts['affinity'])} CPUs, Python {facts['python']}; "
          f"{repeats} repetitions of {seconds:g}s per test; schedule {BENCH_SCHEDULE.to_json()}", file=file)
    print("weak = an outcome sequential consistency forbids; rates are min / median / max", file=file)
    rows = bench(seconds=seconds, repeats=repeats, schedule=BENCH_SCHEDULE,
                 baseline_seconds=min(seconds, 0.5))
    out = [("test", "backend", "iterations/s", "weak/s", "weak %", "native / pythreads")]
    for r in rows:
        out.append((r.test, r.backend, " / ".join(fmt_rate(x) for x in r.its_per_s),
                    " / ".join(fmt_rate(x) for x in r.weak_per_s), f"{100 * r.weak_fraction:.2f}",
                    f"{r.speedup:,.0f}x" if r.speedup else ""))
    print(table(out, align="llrrrr"), file=file)
    return rows
