"""The cost of running Go primitives through the user interface (`--impl`): the same Go
programs on the native runtime's built-in primitives and on the user's C ones (run in their
worker process), in the same run, as iterations per second and their ratio.

With `examples/impls/builtin_mutex.c` (the built-in mutex, step for step, through the
interface) the ratio is the cost of the indirection itself: the worker, the dispatch of every
synchronisation op, the wait hook. `stressmm bench --impl FILE` prints it::

    rows = bench_impl(("examples/impls/builtin_mutex.c",), seconds=0.2, repeats=1)
    [(r.test, r.kind) for r in rows]    # [('Ready+mutex', 'mutex'), ('Exclusion+mutex', 'mutex')]
"""
from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass

from .schedule import Schedule

__all__ = ["ImplRow", "IMPL_BENCH_TESTS", "EXCLUSION", "bench_impl", "print_bench"]

# Per kind of primitive: bundled Go scenarios that use it, and one contended program.
IMPL_BENCH_TESTS = {
    "mutex": ("Ready+mutex", "Exclusion+mutex"),
    "rwmutex": ("Ready+rwmutex",),
    "channel": ("MP+unbuffered", "MP+buffered", "MP+close"),
    "once": ("MP+once",),
    "waitgroup": ("MP+waitgroup",),
}
# Each thread reads, then sets, x under a lock: both reading 0 means both were inside.
EXCLUSION = '''litmus Exclusion+mutex "one of the two critical sections comes first"
var x int
mutex m
P0:
  m.Lock()
  r0 = x
  x = 1
  m.Unlock()
P1:
  m.Lock()
  r1 = x
  x = 1
  m.Unlock()
'''


@dataclass(frozen=True)
class ImplRow:
    """One program: iterations per second (min, median, max over the repetitions) on the
    built-in primitives and on the user's, and the ratio of the medians (user / built-in)."""

    test: str
    kind: str
    builtin_its_per_s: tuple
    impl_its_per_s: tuple
    ratio: float


def _program(name: str):
    from pathlib import Path

    from .syntax import parse, scenario_paths

    if name == "Exclusion+mutex":
        return parse(EXCLUSION)[0]
    path = next(p for p in scenario_paths() if Path(p).stem == name)
    return parse(Path(path).read_text())[0]


def _rates(run, program, seconds: float, repeats: int, schedule: Schedule) -> tuple:
    rates = []
    for _ in range(repeats):
        h = run(program, seconds=seconds, schedule=schedule)
        rates.append(h.total / h.elapsed if h.elapsed > 0 else 0.0)
    return (min(rates), statistics.median(rates), max(rates))


def bench_impl(impl: tuple, seconds: float = 1.0, repeats: int = 3,
               schedule: Schedule = Schedule(batch=256)) -> list:
    """Rows for the programs of IMPL_BENCH_TESTS whose kind the user's table provides, each
    timed on the built-in primitives, then on the user's (alternating, so that a change of
    the machine's load touches both)."""
    from .runtime import native
    from .runtime.cimpl import CImplBackend

    backend = CImplBackend(tuple(impl))
    try:
        rows = []
        for kind in backend.kinds:
            for name in IMPL_BENCH_TESTS.get(kind, ()):
                program = _program(name)
                built, mine = [], []
                for _ in range(repeats):
                    built.append(_rates(native.run, program, seconds, 1, schedule)[1])
                    mine.append(_rates(backend.run, program, seconds, 1, schedule)[1])
                b, m = statistics.median(built), statistics.median(mine)
                rows.append(ImplRow(name, kind, (min(built), b, max(built)),
                                    (min(mine), m, max(mine)), m / b if b > 0 else 0.0))
        return rows
    finally:
        backend.close()


def print_bench(impl: tuple, quick: bool = False, file=None) -> list:
    """`stressmm bench --impl FILE`: the table of `bench_impl`, to `file` (stdout)."""
    from .report import fmt_rate, table
    from .runtime import machine_facts

    facts = machine_facts()
    seconds, repeats = (0.3, 2) if quick else (1.0, 5)
    file = file or sys.stdout
    rows = bench_impl(tuple(impl), seconds=seconds, repeats=repeats)
    print(f"{facts['cpu']}, {len(facts['affinity'])} CPUs; {repeats} repetitions of "
          f"{seconds:g}s per program and side; --impl {', '.join(map(str, impl))}", file=file)
    print("iterations/s: min / median / max; ratio = user / built-in (medians)", file=file)
    out = [("test", "kind", "built-in iterations/s", "--impl iterations/s", "ratio")]
    for r in rows:
        out.append((r.test, r.kind, " / ".join(fmt_rate(x) for x in r.builtin_its_per_s),
                    " / ".join(fmt_rate(x) for x in r.impl_its_per_s), f"{r.ratio:.2f}"))
    print(table(out, align="llrrr"), file=file)
    return rows
