"""Litmus programs built from critical cycles: the tests that find missing fences.

A critical cycle over n threads alternates program order and communication. Thread i makes
exactly two accesses, a_i then b_i, on two different locations, optionally with a fence
between them. A communication edge joins b_i to a_{i+1} (the next thread, thread 0 after the
last) on the location L_{i+1} that only these two accesses touch:

- ``rf``: b_i writes 1 and a_{i+1} reads it (the condition asks the read register == 1);
- ``fr``: b_i reads and a_{i+1} writes 1, and the read must not see it (register == 0, the
  initial value: the location has no other write);
- ``co``: b_i writes 1, a_{i+1} writes 2 after it in coherence order (final memory == 2).

The `exists` condition is the conjunction of the n edges, so it asks for a cycle in program
order and communication: sequential consistency forbids it for every drawn program, and a
weaker model allows it exactly when it relaxes one of the program-order edges (x86-TSO: a
store then a load, with no `mfence` between and the store not an `xchg`).

Access kinds follow from the edges, so a 2-thread cycle is one of the six classic shapes,
named after them (the edges are a multiset: the name does not depend on which thread is P0):

======  =========  =============================================
edges   name       threads
======  =========  =============================================
fr fr   SB         W x; R y  ||  W y; R x
rf fr   MP         W x; W y  ||  R y; R x
rf rf   LB         R x; W y  ||  R y; W x
co co   2+2W       W x; W y  ||  W y; W x
rf co   S          W x; W y  ||  R y; W x
co fr   R          W x; W y  ||  W y; R x
======  =========  =============================================

Longer cycles are named `cycle-<edges>`, the edges in thread order (`cycle-fr-fr-fr`).
Fences add a suffix: `+fences` when every thread has a seq_cst fence, `+fences.<order>`
when every thread has a fence of the same weaker order, else one label per thread in thread
order, `po` for none (`MP+fence.release+po`).

The minimal example of any shape is SB with seq_cst accesses (printed without an order, as
Go's atomics are)::

    >>> from hypothesis import find
    >>> from stressmm.syntax import print_program
    >>> print(print_program(find(cycles(), lambda p: True)), end="")
    litmus SB "critical cycle: P0 W x -po-> R y -fr-> P1 W y -po-> R x -fr-> P0"
    var x, y atomic int
    P0:
      atomic.Store(&x, 1)
      r0 = atomic.Load(&y)
    P1:
      atomic.Store(&y, 1)
      r0 = atomic.Load(&x)
    exists (P0:r0 == 0 && P1:r0 == 0)
    expect sc: forbidden; tso: forbidden
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from stressmm.program import (
    And, Cmp, Condition, Expect, Fence, Load, MemRef, Order, Program, RegRef, Store, Thread, Var,
)

from ._knobs import choices, span
from .programs import LOCATION_NAMES, ORDERS_STRONGEST_FIRST

__all__ = ["cycles", "EDGES", "SHAPE_NAMES", "Cycle"]

EDGES = ("fr", "rf", "co")
"""Communication edges, in the order the shrinker prefers them (fr first: SB is the minimum)."""

SHAPE_NAMES = {
    ("fr", "fr"): "SB", ("fr", "rf"): "MP", ("rf", "rf"): "LB",
    ("co", "co"): "2+2W", ("co", "rf"): "S", ("co", "fr"): "R",
}
"""The classic name of each 2-thread cycle, keyed by its two edges, sorted."""

_ORDER_NAMES = tuple(o.value for o in
                     (Order.SEQ_CST, Order.ACQ_REL, Order.ACQUIRE, Order.RELEASE, Order.RELAXED))
_WRITERS = ("rf", "co")   # edges whose source b_i is a write
_READERS = ("rf",)        # edges whose target a_{i+1} is a read


@dataclass(frozen=True)
class Cycle:
    """A critical cycle, before it becomes a Program.

    `edges[i]` joins thread i's second access to thread i+1's first (mod n); `fences[i]` is
    thread i's fence order or None; `orders[i]` the (a_i, b_i) orders (None when plain);
    `atomic[j]` whether location j (the one `edges[j-1]` communicates on) is atomic.

        >>> mp = Cycle(edges=("rf", "fr"), fences=(None, None),
        ...            orders=((None, None), (None, None)), atomic=(False, False))
        >>> mp.name, [mp.kinds(i) for i in range(2)]
        ('MP', [('W', 'W'), ('R', 'R')])
        >>> mp.tso_allows
        False
    """

    edges: tuple
    fences: tuple
    orders: tuple
    atomic: tuple

    @property
    def threads(self) -> int:
        return len(self.edges)

    def location(self, j: int) -> str:
        """The name of location j (a_j and b_{j-1} access it)."""
        return LOCATION_NAMES[j % self.threads]

    def kinds(self, i: int) -> tuple:
        """('R' or 'W', 'R' or 'W') for thread i's accesses a_i and b_i."""
        a = "R" if self.edges[i - 1] in _READERS else "W"
        b = "W" if self.edges[i] in _WRITERS else "R"
        return a, b

    def relaxed_by_tso(self, i: int) -> bool:
        """Whether x86-TSO lets thread i's b_i pass a_i: a store then a load, no mfence (a
        seq_cst fence) between, and the store not seq_cst (an xchg, which drains the buffer)."""
        return (self.kinds(i) == ("W", "R") and self.fences[i] is not Order.SEQ_CST
                and self.orders[i][0] is not Order.SEQ_CST)

    @property
    def tso_allows(self) -> bool:
        """Whether x86-TSO allows the cycle: one relaxed program-order edge breaks it (each
        location has only the cycle's two accesses, so no other cycle can forbid it)."""
        return any(self.relaxed_by_tso(i) for i in range(self.threads))

    @property
    def name(self) -> str:
        """SB, MP, LB, 2+2W, S, R for two threads, cycle-<edges> beyond; fence suffixes.

            >>> Cycle(("co", "rf", "fr"), (Order.SEQ_CST,) * 3, ((None, None),) * 3,
            ...       (False,) * 3).name
            'cycle-co-rf-fr+fences'
        """
        base = (SHAPE_NAMES[tuple(sorted(self.edges))] if self.threads == 2
                else "cycle-" + "-".join(self.edges))
        if all(f is None for f in self.fences):
            return base
        if len(set(self.fences)) == 1:
            order = self.fences[0]
            return base + ("+fences" if order is Order.SEQ_CST else f"+fences.{order.value}")
        return base + "".join("+" + _fence_label(f) for f in self.fences)

    @property
    def description(self) -> str:
        """The cycle as text, e.g. `P0 W x -po-> R y -fr-> P1 W y -po-> R x -fr-> P0`."""
        parts = []
        for i in range(self.threads):
            a, b = self.kinds(i)
            via = "po" if self.fences[i] is None else _fence_label(self.fences[i])
            parts.append(f"P{i} {a} {self.location(i)} -{via}-> {b} {self.location(i + 1)} "
                         f"-{self.edges[i]}->")
        return "critical cycle: " + " ".join(parts) + " P0"

    def program(self) -> Program:
        """The litmus program: accesses, values, the `exists` of the cycle and the verdicts
        of sc (forbidden, always) and tso (`tso_allows`)."""
        n = self.threads
        threads, clauses = [], []
        reads_of_edge = {}    # edge index -> (thread, register) of its read, for rf and fr
        for i in range(n):
            a_kind, b_kind = self.kinds(i)
            ops, regs = [], 0
            for which, kind, loc in (("a", a_kind, i), ("b", b_kind, i + 1)):
                order = self.orders[i][0 if which == "a" else 1]
                name = self.location(loc)
                if kind == "R":
                    reg = f"r{regs}"
                    regs += 1
                    ops.append(Load(reg, name, order))
                    reads_of_edge[(i - 1) % n if which == "a" else i] = (i, reg)
                else:
                    # The co-later write (a_{i+1} of a co edge) writes 2; every other write 1.
                    later = which == "a" and self.edges[i - 1] == "co"
                    ops.append(Store(name, 2 if later else 1, order))
                if which == "a" and self.fences[i] is not None:
                    ops.append(Fence(self.fences[i]))
            threads.append(Thread(tuple(ops)))
        for e, edge in enumerate(self.edges):
            if edge == "co":
                clauses.append(Cmp(MemRef(self.location(e + 1)), 2))
            else:
                thread, reg = reads_of_edge[e]
                clauses.append(Cmp(RegRef(thread, reg), 1 if edge == "rf" else 0))
        regs = sorted((c for c in clauses if isinstance(c.lhs, RegRef)),
                      key=lambda c: (c.lhs.thread, c.lhs.reg))
        mems = sorted((c for c in clauses if isinstance(c.lhs, MemRef)), key=lambda c: c.lhs.loc)
        items = tuple(regs + mems)
        decls = tuple(Var(self.location(j), atomic=self.atomic[j]) for j in range(n))
        return Program(
            name=self.name, decls=decls, threads=tuple(threads),
            condition=Condition(items[0] if len(items) == 1 else And(items)),
            expects=(Expect("sc", "forbidden"),
                     Expect("tso", "allowed" if self.tso_allows else "forbidden")),
            description=self.description)


def _fence_label(order: Optional[Order]) -> str:
    if order is None:
        return "po"
    return "fence" if order is Order.SEQ_CST else f"fence.{order.value}"


# ---------------------------------------------------------------- the strategy


@dataclass(frozen=True)
class _Knobs:
    threads: tuple
    edges: tuple
    load_orders: tuple    # strongest first
    store_orders: tuple
    fence_orders: tuple   # empty when fences are off
    atomic: object
    name: Optional[str]


def _check(threads, orders, fences, atomic, edges, name) -> _Knobs:
    allowed = _ORDER_NAMES if orders is None else choices("orders", orders, _ORDER_NAMES)
    if atomic not in (True, False, "mixed"):
        raise InvalidArgument(f"atomic={atomic!r}: use True (all locations atomic), False (all "
                              f"plain) or \"mixed\" (each location drawn)")
    if not isinstance(fences, bool):
        raise InvalidArgument(f"fences={fences!r}: use True (a fence may sit between a "
                              f"thread's two accesses) or False (never)")
    if name is not None and (not isinstance(name, str) or not name or any(
            c.isspace() or c in '"#' for c in name)):
        raise InvalidArgument(f"name={name!r}: use None (name each program after its shape) "
                              f"or a non-empty string without spaces, quotes or #")

    def pick(kind):
        return tuple(o for o in ORDERS_STRONGEST_FIRST[kind] if o.value in allowed)

    knobs = _Knobs(threads=span("threads", threads, low=2, high=len(LOCATION_NAMES)),
                   edges=choices("edges", EDGES if edges is None else edges, EDGES),
                   load_orders=pick("load"), store_orders=pick("store"),
                   fence_orders=pick("fence") if fences else (), atomic=atomic, name=name)
    if atomic is not False and not (knobs.load_orders and knobs.store_orders):
        raise InvalidArgument(
            f"orders={orders!r} with atomic={atomic!r}: atomic locations need a load order "
            f"(seq_cst, acquire, relaxed) and a store order (seq_cst, release, relaxed) among "
            f"`orders`; add one of each or pass atomic=False")
    if fences and not knobs.fence_orders:
        raise InvalidArgument(
            f"orders={orders!r} with fences=True: no fence order (seq_cst, acq_rel, acquire, "
            f"release) is among `orders`; add one or pass fences=False")
    return knobs


def _thread_choices(knobs: _Knobs) -> st.SearchStrategy:
    """One thread's four choices, each shrinking to 0: the edge leaving it (fr first), its
    fence (0 is none, then strongest first) and the order indices of a_i and b_i (strongest
    first; taken modulo the orders valid for the access, since the kind is known only once
    the neighbouring edge is drawn). Every thread draws the same shape, so the shrinker can
    delete a thread as one run of choices."""
    widest = max(len(knobs.load_orders), len(knobs.store_orders), 1)
    return st.tuples(st.integers(0, len(knobs.edges) - 1),
                     st.integers(0, len(knobs.fence_orders)),
                     st.integers(0, widest - 1), st.integers(0, widest - 1))


def _atomic_flags(knobs: _Knobs) -> st.SearchStrategy:
    """Whether each possible location is atomic: one flag per location up to the most
    threads, drawn (atomic first) in "mixed" mode, so the shape does not depend on n."""
    if knobs.atomic == "mixed":
        return st.lists(st.booleans().map(lambda plain: not plain),
                        min_size=knobs.threads[1], max_size=knobs.threads[1])
    return st.just([knobs.atomic] * knobs.threads[1])


def _cycle(knobs: _Knobs, flags: list, drawn: list) -> Cycle:
    edges = tuple(knobs.edges[e] for e, _, _, _ in drawn)
    n = len(edges)
    fences = tuple(knobs.fence_orders[f - 1] if f else None for _, f, _, _ in drawn)
    atomic = tuple(flags[:n])
    proto = Cycle(edges, fences, ((None, None),) * n, atomic)

    def order(kind, loc, index):
        if not atomic[loc % n]:
            return None
        valid = knobs.load_orders if kind == "R" else knobs.store_orders
        return valid[index % len(valid)]

    orders = tuple((order(proto.kinds(i)[0], i, a), order(proto.kinds(i)[1], i + 1, b))
                   for i, (_, _, a, b) in enumerate(drawn))
    return Cycle(edges, fences, orders, atomic)


def cycles(threads=(2, 4), orders=None, fences=True, atomic=True, edges=None,
           name=None) -> st.SearchStrategy:
    """A strategy of critical-cycle programs (see the module docstring); each `exists`
    condition is forbidden under sc, and the program carries `expect sc: forbidden` and the
    x86-TSO verdict.

    - `threads`: how many threads (= locations = edges) the cycle has, an int or a
      (min, max) pair, at least 2.
    - `orders`: None for every valid order, or the orders allowed (e.g. ["relaxed"]); loads,
      stores and fences each take the valid ones among them, strongest first.
    - `fences`: whether a fence may sit between a thread's two accesses.
    - `atomic`: True (atomic locations), False (plain ones, no orders) or "mixed".
    - `edges`: None for all of fr, rf, co, or the communication edges allowed.
    - `name`: None to name each program after its shape (SB, MP+fences, cycle-fr-rf-co),
      or one name for all.

    Shrinking goes to 2 threads, no fences, seq_cst, fr edges: SB. The most relaxed
    program SC forbids but TSO allows is SB too::

        >>> from hypothesis import find
        >>> p = find(cycles(), lambda p: p.expects[1].verdict == "allowed")
        >>> p.name, [str(op.order) for op in p.threads[1].ops]
        ('SB', ['release', 'seq_cst'])
    """
    knobs = _check(threads, orders, fences, atomic, edges, name)

    @st.composite
    def draw_cycle(draw):
        flags = draw(_atomic_flags(knobs))
        drawn = draw(st.lists(_thread_choices(knobs), min_size=knobs.threads[0],
                              max_size=knobs.threads[1]))
        program = _cycle(knobs, flags, drawn).program()
        return program if knobs.name is None else Program(
            knobs.name, program.decls, program.threads, program.condition, program.expects,
            program.description)

    return draw_cycle()
