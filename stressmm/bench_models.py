"""Benchmarks of the reference models: how many states the explorer visits, and how fast.

`stressmm bench --models` prints these rows (`print_bench`); `bench` returns them as data::

    >>> rows = bench(random_sizes=[(2, 2)], plain_sizes=[(2, 2)], per_size=1, classics=False)
    >>> [(r.name, r.model, r.threads, r.ops) for r in rows]       # doctest: +NORMALIZE_WHITESPACE
    [('random-2x2-0', 'sc', 2, 2), ('random-2x2-0', 'tso', 2, 2),
     ('plain-2x2-0', 'sc', 2, 2), ('plain-2x2-0', 'tso', 2, 2)]

Random programs are memory ops only (loads, stores, read-modify-writes, fences over plain and
atomic locations, every order; or only plain loads and stores, the hardest case for tso),
generated from a seed with `random.Random`, so a run of the benchmark is repeatable without
Hypothesis.
"""
from __future__ import annotations

import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

from .models import get_model
from .models.base import ListingLimitError
from .models.explorer import StateLimitError
from .program import Fence, Load, Order, Program, Rmw, RmwOp, Store, Thread, Var

__all__ = ["BenchRow", "bench", "bench_program", "random_program", "classic_programs",
           "target_programs", "bench_targets", "relaxed_program", "sb_ring",
           "format_bench", "print_bench", "DEFAULT_SIZES", "QUICK_SIZES"]

DEFAULT_SIZES = tuple((threads, ops) for threads in (2, 3, 4) for ops in (2, 3, 4, 5))
"""(threads, ops per thread) of the random programs, smallest first."""

QUICK_SIZES = tuple((threads, ops) for threads in (2, 3, 4) for ops in (2, 3, 4))

PLAIN_SIZES = tuple((threads, ops) for threads, ops in DEFAULT_SIZES if threads * ops <= 16)
"""Sizes of the all-plain programs: 4 threads x 5 plain ops on two locations reach millions
of states under both models (thousands of distinct outcomes), past the default state limit."""


@dataclass(frozen=True)
class BenchRow:
    """One program under one model: states explored, seconds, allowed outcomes. When the
    exploration hit the model's state limit, `states` is the limit, `outcomes` is None and
    `error` says so; when the model judged but its outcomes are too many to count within
    the limit, `too_many` is set, `outcomes` is None and `error` says so."""

    name: str
    model: str
    threads: int
    ops: int
    states: int
    seconds: float
    outcomes: Optional[int]
    error: str = ""
    too_many: bool = False

    def to_json(self) -> dict:
        return dict(name=self.name, model=self.model, threads=self.threads, ops=self.ops,
                    states=self.states, seconds=self.seconds, outcomes=self.outcomes,
                    error=self.error, too_many=self.too_many)

    def outcomes_cell(self) -> str:
        """The outcomes column: the count, `limit` (the search hit the state limit) or
        `too many` (judged, too many to count).

            >>> BenchRow("p", "go", 2, 2, 9, 0.1, None, "...", too_many=True).outcomes_cell()
            'too many'
        """
        if self.outcomes is not None:
            return str(self.outcomes)
        return "too many" if self.too_many else "limit"


def bench_program(program: Program, model_name: str, *, max_states: Optional[int] = None,
                  reduce: bool = True) -> BenchRow:
    """Time one exhaustive exploration of `program` under the model `model_name`, on a fresh
    model object (nothing cached). Without `reduce`, the search explores every interleaving
    (no partial-order reduction) and the row's model is named e.g. "tso/full"."""
    model = get_model(model_name)
    model = model.with_max_states(max_states or model.max_states)   # fresh: an empty cache
    if not reduce:
        model, model_name = model.unreduced(), f"{model_name}/full"
    ops = max(len(t.ops) for t in program.threads)
    start = time.perf_counter()
    try:
        result = model.allowed(program)
    except StateLimitError as err:
        return BenchRow(program.name, model_name, len(program.threads), ops, err.limit,
                        time.perf_counter() - start, None, str(err))
    seconds = time.perf_counter() - start
    try:
        outcomes = len(result.outcomes)        # an OutcomeSpace counts without listing...
    except ListingLimitError as err:           # ...unless its pieces pass the work limit
        return BenchRow(program.name, model_name, len(program.threads), ops, result.states,
                        seconds, None, str(err), too_many=True)
    return BenchRow(program.name, model_name, len(program.threads), ops, result.states,
                    seconds, outcomes)


def bench(programs: Iterable[Program] = (), *, models: Sequence[str] = ("sc", "tso"),
          random_sizes: Sequence[tuple] = DEFAULT_SIZES, per_size: int = 3, seed: int = 0,
          classics: bool = True, max_states: Optional[int] = None,
          unreduced: bool = False, plain_sizes: Sequence[tuple] = PLAIN_SIZES) -> list:
    """Rows for the classic litmus shapes (when `classics`), for `programs`, and for `per_size`
    random programs of each (threads, ops) in `random_sizes` and `plain_sizes`, under every
    model of `models` (and, with `unreduced`, also without the partial-order reduction, as
    "sc/full").

    Programs of `random_sizes` (named random-TxO-i) use every memory op kind on plain and
    atomic locations; those of `plain_sizes` (plain-TxO-i) only plain loads and stores of two
    locations, the hardest case for tso (every store buffered, nothing drains)."""
    todo = list(classic_programs()) if classics else []
    todo += list(programs)
    rng = random.Random(seed)
    for prefix, sizes in (("random", random_sizes), ("plain", plain_sizes)):
        for threads, ops in sizes:
            for i in range(per_size):
                todo.append(random_program(rng, threads, ops, plain=prefix == "plain",
                                           name=f"{prefix}-{threads}x{ops}-{i}"))
    variants = (True, False) if unreduced else (True,)
    return [bench_program(p, m, max_states=max_states, reduce=r)
            for p in todo for m in models for r in variants
            if r or hasattr(get_model(m), "unreduced")]   # go has no unreduced variant


LOAD_ORDERS = (Order.RELAXED, Order.ACQUIRE, Order.SEQ_CST)
STORE_ORDERS = (Order.RELAXED, Order.RELEASE, Order.SEQ_CST)
FENCE_ORDERS = (Order.SEQ_CST, Order.ACQ_REL, Order.ACQUIRE, Order.RELEASE)


def format_bench(rows: Sequence[BenchRow]) -> str:
    """A plain-text report: one line per named program and model, then per random size and
    model the largest state count and the slowest and mean exploration times."""
    lines = [f"{'program':<12} {'model':<9} {'states':>9} {'ms':>9} {'outcomes':>8}"]
    sizes = defaultdict(list)
    for r in rows:
        family = r.name.split("-")[0]
        if family in ("random", "plain") and r.name.count("-") == 2:
            sizes[(family, r.threads, r.ops, r.model)].append(r)
            continue
        lines.append(f"{r.name:<12} {r.model:<9} {r.states:>9,} {r.seconds * 1000:>9.2f} "
                     f"{r.outcomes_cell():>8}")
    if sizes:
        lines.append("")
        lines.append(f"{'random':<12} {'model':<9} {'max states':>11} {'max s':>8} {'mean s':>8}"
                     f" {'programs':>8}")
        for (family, threads, ops, model), group in sorted(sizes.items()):
            worst = max(r.seconds for r in group)
            mean = sum(r.seconds for r in group) / len(group)
            limited = sum(1 for r in group if r.error and not r.too_many)
            too_many = sum(1 for r in group if r.too_many)
            notes = ([f"{limited} hit the state limit"] if limited else []) + (
                [f"{too_many} had too many outcomes to count"] if too_many else [])
            note = f"  ({'; '.join(notes)})" if notes else ""
            lines.append(f"{f'{family} {threads}x{ops}':<12} {model:<9} "
                         f"{max(r.states for r in group):>11,} {worst:>8.3f} {mean:>8.3f} "
                         f"{len(group):>8}{note}")
    return "\n".join(lines)


TARGET_LIMIT = 200_000
"""The work limit of each target row: a row that reaches it says `limit`, never hangs."""


def target_programs() -> list:
    """(program, model) pairs the model engines are measured on: racy all-plain programs of
    2 x 8, 3 x 6 and 4 x 6 ops under go (the hardest case for its reads-from choice), a
    3-thread x 4-op all-relaxed program under c11, and the 5-thread SB ring under tso.

    >>> [(p.name, m) for p, m in target_programs()][-2:]
    [('relaxed-3x4', 'c11'), ('SB-ring-5', 'tso')]
    """
    rng = random.Random(0)
    rows = [(random_program(rng, t, o, plain=True, name=f"target-plain-{t}x{o}"), "go")
            for t, o in ((2, 8), (3, 6), (4, 6))]
    rows.append((relaxed_program(random.Random(0), 3, 4, name="relaxed-3x4"), "c11"))
    rows.append((sb_ring(5), "tso"))
    return rows


def relaxed_program(rng: random.Random, threads: int, ops: int, *, name: str = "relaxed",
                    locations: int = 2) -> Program:
    """`threads` threads of `ops` relaxed atomic loads and stores over `locations` atomic
    locations, each store writing a fresh value.

    >>> p = relaxed_program(random.Random(0), 3, 4)
    >>> {op.order for _, op in p.ops()}
    {<Order.RELAXED: 'relaxed'>}
    """
    names = "abcd"[:locations]
    value, body = 1, []
    for _ in range(threads):
        thread_ops = []
        for i in range(ops):
            loc = rng.choice(names)
            if rng.random() < 0.5:
                thread_ops.append(Load(f"r{i}", loc, Order.RELAXED))
            else:
                thread_ops.append(Store(loc, value, Order.RELAXED))
                value += 1
        body.append(Thread(tuple(thread_ops)))
    return Program(name, tuple(Var(n, atomic=True) for n in names), tuple(body))


def sb_ring(n: int) -> Program:
    """Store buffering around a ring of `n` threads: thread i writes x_i, then reads x_i+1.

    >>> print(sb_ring(3).threads[2].ops)
    (Store(loc='x2', value=1, order=None), Load(reg='r0', loc='x0', order=None))
    """
    return Program(f"SB-ring-{n}", tuple(Var(f"x{i}") for i in range(n)),
                   tuple(Thread((Store(f"x{i}", 1), Load("r0", f"x{(i + 1) % n}")))
                         for i in range(n)))


def bench_targets(limit: int = TARGET_LIMIT) -> list:
    """A row per `target_programs` pair, each search bounded by `limit` units of work."""
    return [bench_program(p, m, max_states=limit) for p, m in target_programs()]


def print_bench(quick: bool = False, file=None) -> list:
    """Run the model benchmark and write its report to `file` (stdout by default); return the
    rows. `quick`: programs up to 4 threads x 4 ops (x 3 for all-plain ones), two per size,
    reduced search only (a few seconds); else up to 4 x 5 (4 x 4 all-plain), five per size,
    and each also without the partial-order reduction, then the engine targets
    (`target_programs`, each bounded by `TARGET_LIMIT`; several minutes)."""
    if quick:
        rows = bench(random_sizes=QUICK_SIZES, plain_sizes=[(2, 3), (3, 3), (4, 3)], per_size=2)
    else:
        rows = bench(per_size=5, unreduced=True) + bench_targets()
    print(format_bench(rows), file=file or sys.stdout)
    return rows


def random_program(rng: random.Random, threads: int, ops: int, *, locations: int = 2,
                   plain: bool = False, name: str = "random") -> Program:
    """A program of `threads` threads with `ops` memory ops each, drawn from `rng`.

    Locations `x`, `y`, ... are plain, `a`, `b`, ... atomic (`locations` of each). With
    `plain`, only plain loads and stores of `x`, `y`, ... Every store writes a value no other
    store writes, so outcomes say which store a load read.

    >>> p = random_program(random.Random(1), 2, 3)
    >>> len(p.threads), [len(t.ops) for t in p.threads]
    (2, [3, 3])
    """
    plain_vars = [Var(n) for n in "xyzw"[:locations]]
    atomic_vars = [] if plain else [Var(n, atomic=True) for n in "abcd"[:locations]]
    kinds = ("load", "store") if plain else ("load", "load", "store", "store", "rmw", "fence")
    next_value = 1
    body = []
    for _ in range(threads):
        thread_ops, reg = [], 0
        for _ in range(ops):
            kind = rng.choice(kinds)
            var = rng.choice(plain_vars + atomic_vars)
            if kind == "fence":
                thread_ops.append(Fence(rng.choice(FENCE_ORDERS)))
            elif kind == "load":
                order = rng.choice(LOAD_ORDERS) if var.atomic else None
                thread_ops.append(Load(f"r{reg}", var.name, order))
                reg += 1
            elif kind == "store" or not var.atomic:
                order = rng.choice(STORE_ORDERS) if var.atomic else None
                thread_ops.append(Store(var.name, next_value, order))
                next_value += 1
            else:
                op = rng.choice((RmwOp.ADD, RmwOp.SWAP, RmwOp.CAS))
                expected = rng.choice((0, 1)) if op is RmwOp.CAS else None
                thread_ops.append(Rmw(f"r{reg}", var.name, op, next_value, expected,
                                      rng.choice(tuple(Order))))
                reg += 1
                next_value += 1
        body.append(Thread(tuple(thread_ops)))
    return Program(name, tuple(plain_vars + atomic_vars), tuple(body))


def classic_programs() -> list:
    """A few classic shapes (SB, MP, IRIW, 2+2W) for the benchmark."""
    x, y = Var("x"), Var("y")
    return [
        Program("SB", (x, y), (Thread((Store("x", 1), Load("r0", "y"))),
                               Thread((Store("y", 1), Load("r0", "x"))))),
        Program("MP", (x, y), (Thread((Store("x", 1), Store("y", 1))),
                               Thread((Load("r0", "y"), Load("r1", "x"))))),
        Program("IRIW", (x, y), (Thread((Store("x", 1),)), Thread((Store("y", 1),)),
                                 Thread((Load("r0", "x"), Load("r1", "y"))),
                                 Thread((Load("r0", "y"), Load("r1", "x"))))),
        Program("2+2W", (x, y), (Thread((Store("x", 1), Store("y", 2))),
                                 Thread((Store("y", 1), Store("x", 2))))),
    ]
