"""Hypothesis strategies for litmus programs, built to shrink to the most damning small example.

`programs(...)` draws valid `stressmm.program.Program` values. Every choice is made so that
Hypothesis' shrinker walks towards the classic shapes:

- a program is a list of threads and each thread a list of steps, so shrinking deletes whole
  threads and whole steps;
- each choice lists its simplest or strongest option first: loads before stores before rmws,
  `seq_cst` before weaker orders, atomic before plain in "mixed" mode, location x before y,
  value 1 before 2;
- registers are named after the fact, r0, r1, ... per thread in program order, so deleting a
  load renames the later ones and a shrunk program reads like a hand-written one;
- every construction is valid by design (no filters, no `assume`): rmws and awaits only touch
  atomic locations, each lock step is a balanced Lock ... Unlock section, orders come from the
  valid set of each op kind. The Program validates itself when built, as always.

The minimal program of the default strategy (any program at all) is two threads that each
load x::

    >>> from hypothesis import find
    >>> p = find(programs(), lambda p: True)
    >>> [[str(op.reg) + " = " + op.loc for op in t.ops] for t in p.threads]
    [['r0 = x'], ['r0 = x']]

and a program where one thread stores to a location that another thread loads shrinks to the
message-passing core, strongest order, value 1::

    >>> def store_and_load(p):
    ...     stores = {(i, op.loc) for i, op in p.ops() if isinstance(op, Store)}
    ...     loads = {(i, op.loc) for i, op in p.ops() if isinstance(op, Load)}
    ...     return any(a != b and x == y for a, x in stores for b, y in loads)
    >>> find(programs(), store_and_load).threads      # doctest: +NORMALIZE_WHITESPACE
    (Thread(ops=(Load(reg='r0', loc='x', order=<Order.SEQ_CST: 'seq_cst'>),)),
     Thread(ops=(Store(loc='x', value=1, order=<Order.SEQ_CST: 'seq_cst'>),)))

Interactively, `programs(threads=2, ops=3, orders=["seq_cst"]).example()` shows a random one.
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, replace
from typing import Optional

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from stressmm.program import (
    MAX_VALUE, And, Await, Chan, Close, Cmp, Condition, Fence, Load, Lock, MemRef, Mutex, Once,
    OnceDo, Order, Program, RegRef, Recv, RLock, RUnlock, Rmw, RmwOp, Send, Store, Unlock, Var,
    WaitGroup, WgAdd, WgDone, WgWait, walk_ops,
)

from ._knobs import choices, span

__all__ = [
    "programs", "small_programs", "MEMORY_KINDS", "SYNC_PRIMITIVES", "ORDERS_STRONGEST_FIRST",
    "LOCATION_NAMES",
]

MEMORY_KINDS = ("load", "store", "rmw", "fence", "await")
"""The memory op kinds `programs(kinds=...)` accepts, in the order the shrinker prefers them."""

SYNC_PRIMITIVES = ("mutex", "rwmutex", "chan", "once", "waitgroup")
"""The Go-style primitives `programs(sync=...)` accepts. Each one is declared under a fixed
name: `mu`, `rw`, `ch`, `once`, `wg`."""

ORDERS_STRONGEST_FIRST = {
    "load": (Order.SEQ_CST, Order.ACQUIRE, Order.RELAXED),
    "store": (Order.SEQ_CST, Order.RELEASE, Order.RELAXED),
    "rmw": (Order.SEQ_CST, Order.ACQ_REL, Order.ACQUIRE, Order.RELEASE, Order.RELAXED),
    "fence": (Order.SEQ_CST, Order.ACQ_REL, Order.ACQUIRE, Order.RELEASE),
    "await": (Order.SEQ_CST, Order.ACQUIRE, Order.RELAXED),
}
"""The valid memory orders of each atomic op kind, strongest (and so preferred) first."""

LOCATION_NAMES = ("x", "y", "z", "w") + tuple(f"x{i}" for i in range(4, 64))
"""Location names in the order programs use them."""

_ORDER_NAMES = tuple(o.value for o in
                     (Order.SEQ_CST, Order.ACQ_REL, Order.ACQUIRE, Order.RELEASE, Order.RELAXED))
_SYNC_DECLS = {"mutex": "mu", "rwmutex": "rw", "chan": "ch", "once": "once", "waitgroup": "wg"}
_FRESH = "_fresh_register"   # stands for a register until `_name_registers` names it
_BODY_OPS = (1, 2)           # memory ops in a lock section or a once.Do body
_MAX_CAPACITY = 2            # largest channel capacity drawn


# ---------------------------------------------------------------- checked knobs


@dataclass(frozen=True)
class _Knobs:
    """The arguments of `programs`, checked and normalised."""

    threads: tuple        # (min, max) threads
    ops: tuple            # (min, max) steps per thread
    locations: tuple      # (min, max) locations to choose from
    kinds: tuple          # memory kinds, in MEMORY_KINDS order
    order_table: tuple    # (kind, valid orders among the allowed ones, strongest first)
    values: tuple         # (min, max) of constants
    atomic: object        # True, False or "mixed"
    plain_atomics: bool   # loads and stores of an atomic location may be plain too
    sync: tuple           # primitives, in SYNC_PRIMITIVES order
    condition: bool
    name: str

    def orders(self, kind: str) -> tuple:
        """The orders an atomic op of `kind` may take, strongest first."""
        return dict(self.order_table)[kind]

    @property
    def store_values(self) -> tuple:
        """The values a store writes: from 1 (0 is the initial value) unless the range is 0."""
        lo, hi = self.values
        return (max(lo, 1), hi) if hi >= 1 else (lo, hi)


def _check(threads, ops, locations, kinds, orders, values, atomic, sync, condition,
           name, plain_atomics=False) -> _Knobs:
    allowed = (_ORDER_NAMES if orders is None
               else choices("orders", orders, _ORDER_NAMES))
    if atomic not in (True, False, "mixed"):
        raise InvalidArgument(f"atomic={atomic!r}: use True (all locations atomic), False (all "
                              f"plain) or \"mixed\" (each location drawn)")
    if sync is True:
        sync = SYNC_PRIMITIVES
    elif sync is False or sync is None:
        sync = ()
    else:
        sync = choices("sync", sync, SYNC_PRIMITIVES)
    kinds = () if not kinds and sync else choices("kinds", kinds, MEMORY_KINDS)
    if not isinstance(condition, bool):
        raise InvalidArgument(f"condition={condition!r}: use True or False")
    if not isinstance(plain_atomics, bool):
        raise InvalidArgument(f"plain_atomics={plain_atomics!r}: use True or False")
    if not isinstance(name, str):
        raise InvalidArgument(f"name={name!r}: use a string")
    knobs = _Knobs(
        threads=span("threads", threads, low=1),
        ops=span("ops", ops, low=1),
        locations=span("locations", locations, low=1, high=len(LOCATION_NAMES)),
        kinds=kinds,
        order_table=tuple((k, tuple(o for o in ORDERS_STRONGEST_FIRST[k] if o.value in allowed))
                          for k in MEMORY_KINDS),
        values=span("values", values, low=0, high=MAX_VALUE),
        atomic=atomic, plain_atomics=plain_atomics, sync=sync, condition=condition, name=name,
    )
    flags = {True: [True], False: [False], "mixed": [True, False]}[atomic]
    for flag in flags:
        if not sync and not _memory_kinds(knobs, has_plain=not flag, has_atomic=flag):
            every = {True: "atomic", False: "plain"}[flag]
            raise InvalidArgument(
                f"kinds={kinds!r} with orders={orders!r} and atomic={atomic!r}: a program whose "
                f"locations are all {every} has no op it can make (rmw and await need atomic "
                f"locations, atomic ops need a valid order among `orders`); widen kinds or "
                f"orders, or change atomic")
    return knobs


def _memory_kinds(knobs: _Knobs, *, has_plain: bool, has_atomic: bool) -> tuple:
    """The memory kinds that can be made when some location is plain / some is atomic."""
    def possible(kind):
        if kind == "fence":
            return bool(knobs.orders("fence"))
        on_plain = has_plain and kind in ("load", "store")
        return on_plain or (has_atomic and bool(knobs.orders(kind)))
    return tuple(k for k in knobs.kinds if possible(k))


# ---------------------------------------------------------------- one strategy per step kind
# Every step, whatever its kind, is one branch index (which kind) and then exactly three drawn
# integers (`_choices`). Two reasons, both about the shrinker:
# - it prefers examples with fewer choices, so a kind drawing fewer choices than another
#   (a fence fewer than a load) would win over it whether simpler or not; with equal shapes
#   kinds are ordered by their branch index alone, and then by their choices (x before y,
#   seq_cst first, value 1 first);
# - it deletes a list element by deleting its run of consecutive choices, reliably for runs of
#   up to five: the list's continue flag, the branch index and three choices.
# Registers are left as _FRESH and named per thread at the end.


def _choices(a: int, b: int, c: int) -> st.SearchStrategy:
    """Three integers in [0, a), [0, b), [0, c), each shrinking to 0. A range of one value
    still draws a choice (a one-element sampled_from would not), so the shape is fixed."""
    return st.tuples(st.integers(0, a - 1), st.integers(0, b - 1), st.integers(0, c - 1))


def _width(span: tuple) -> int:
    return span[1] - span[0] + 1


def _access_order(var: Var, orders: tuple, index: int) -> Optional[Order]:
    """The order of a load or store of `var`: None (plain) on a plain location; on an atomic
    one `orders[index]`, or None (a plain access of it) for the index past them, which
    `orders` ends with when plain accesses of atomic locations are drawn (`_access_orders`)."""
    return orders[index] if var.atomic else None


def _access_orders(knobs: _Knobs, kind: str) -> tuple:
    """The order choices of a load or store: every valid order, strongest first, then None
    (a plain access) on atomic locations too when `plain_atomics`."""
    return knobs.orders(kind) + ((None,) if knobs.plain_atomics else ())


def _loads(locs: tuple, orders: tuple) -> st.SearchStrategy:
    """`r = loc` (plain) or `r = atomic.Load(&loc, order)`, on one of `locs`."""
    def build(choice):
        var = locs[choice[0]]
        return (Load(_FRESH, var.name, _access_order(var, orders, choice[1])),)
    return _choices(len(locs), max(len(orders), 1), 1).map(build)


def _stores(locs: tuple, orders: tuple, values: tuple) -> st.SearchStrategy:
    """`loc = v` or `atomic.Store(&loc, v, order)`: a constant from `values`, smallest first."""
    def build(choice):
        var = locs[choice[0]]
        return (Store(var.name, values[0] + choice[2], _access_order(var, orders, choice[1])),)
    return _choices(len(locs), max(len(orders), 1), _width(values)).map(build)


_RMW_KINDS = (RmwOp.ADD, RmwOp.SWAP, RmwOp.CAS)


def _rmws(locs: tuple, orders: tuple, values: tuple, expected: tuple) -> st.SearchStrategy:
    """An ADD (new value), SWAP (old value) or CAS (1/0) on one of `locs` (all atomic), with an
    operand from `values`, a CAS comparand from `expected` (the initial 0 first), keeping its
    result in a register (first) or not. The third choice packs kind, register, operand and
    comparand as digits, most significant first: each is uniform, and shrinking the number
    shrinks them in that order (a CAS stays a CAS while its operands go down to 1 and 0)."""
    def build(choice):
        var, order, packed = locs[choice[0]], orders[choice[1]], choice[2]
        kind, packed = divmod(packed, 2 * _width(values) * _width(expected))
        drop, packed = divmod(packed, _width(values) * _width(expected))
        operand, comparand = divmod(packed, _width(expected))
        kind = _RMW_KINDS[kind]
        return (Rmw(None if drop else _FRESH, var.name, kind, values[0] + operand,
                    expected[0] + comparand if kind is RmwOp.CAS else None, order),)
    digits = len(_RMW_KINDS) * 2 * _width(values) * _width(expected)
    return _choices(len(locs), len(orders), digits).map(build)


def _fences(orders: tuple) -> st.SearchStrategy:
    """`fence(order)`."""
    return _choices(1, len(orders), 1).map(lambda choice: (Fence(orders[choice[1]]),))


@dataclass(frozen=True)
class _AwaitSpec:
    """An await whose value is chosen once the whole program is known: `pick` selects one of
    the values other threads write to `loc` (see `_resolve_awaits`)."""

    loc: str
    order: Order
    until_equal: bool
    pick: int


def _awaits(locs: tuple, orders: tuple) -> st.SearchStrategy:
    """An await on one of `locs` (atomic): until it holds some value (first) or while it holds
    its initial value. The value is resolved by `_resolve_awaits`."""
    def build(choice):
        until_not, pick = divmod(choice[2], 4)
        return (_AwaitSpec(locs[choice[0]].name, orders[choice[1]], not until_not, pick),)
    return _choices(len(locs), len(orders), 8).map(build)


def _memory_steps(knobs: _Knobs, memory: tuple) -> list:
    """A strategy per memory kind the knobs allow on these locations, in `kinds` order; empty if
    none can be made (e.g. only rmws asked for and every location plain)."""
    def usable(kind):
        """Locations `kind` may touch, in declaration order: plain ones if it has a plain
        form, atomic ones if an order is allowed for it."""
        return tuple(v for v in memory if (knobs.orders(kind) if v.atomic
                                           else kind in ("load", "store")))

    makers = {
        "load": lambda: _loads(usable("load"), _access_orders(knobs, "load")),
        "store": lambda: _stores(usable("store"), _access_orders(knobs, "store"),
                                 knobs.store_values),
        "rmw": lambda: _rmws(usable("rmw"), knobs.orders("rmw"), knobs.store_values,
                             knobs.values),
        "await": lambda: _awaits(usable("await"), knobs.orders("await")),
        "fence": lambda: _fences(knobs.orders("fence")),
    }
    return [makers[k]() for k in knobs.kinds
            if (knobs.orders("fence") if k == "fence" else usable(k))]


# ---------------------------------------------------------------- Go-style primitives
# Each returns strategies of steps that keep the program valid on their own; same shape as the
# memory steps (three choices), plus a body for lock sections and once.Do.


def _body(memory_steps: list) -> st.SearchStrategy:
    """The 1..2 memory ops inside a lock section or a once.Do (none if no memory kind is on)."""
    if not memory_steps:
        return st.just(())
    return st.lists(st.one_of(memory_steps), min_size=_BODY_OPS[0], max_size=_BODY_OPS[1]).map(
        lambda steps: tuple(op for step in steps for op in step))


def _mutex_steps(mutex: Mutex, body: st.SearchStrategy) -> list:
    """`Lock; body; Unlock`, balanced by construction; on a rwmutex the read section
    `RLock; body; RUnlock` too (the write section first)."""
    def build(choice, ops):
        enter, leave = (RLock, RUnlock) if choice[0] else (Lock, Unlock)
        return (enter(mutex.name),) + ops + (leave(mutex.name),)
    return [st.tuples(_choices(2 if mutex.rw else 1, 1, 1), body).map(lambda t: build(*t))]


def _channel_steps(chan: Chan, values: tuple) -> list:
    """`ch <- v`; `r = <-ch`, `r, ok = <-ch` or `<-ch`; `close(ch)`."""
    name = chan.name
    forms = ((_FRESH, None), (_FRESH, _FRESH), (None, None))
    return [
        _choices(1, 1, _width(values)).map(lambda c: (Send(name, values[0] + c[2]),)),
        _choices(len(forms), 1, 1).map(lambda c: (Recv(name, *forms[c[0]]),)),
        _choices(1, 1, 1).map(lambda c: (Close(name),)),
    ]


def _once_steps(once: Once, body: st.SearchStrategy) -> list:
    """`once.Do { body }`."""
    return [st.tuples(_choices(1, 1, 1), body).map(lambda t: (OnceDo(once.name, t[1]),))]


def _waitgroup_steps(wg: WaitGroup) -> list:
    """`wg.Add(1 or 2)`, `wg.Done()`, `wg.Wait()`."""
    return [
        _choices(1, 1, 2).map(lambda c: (WgAdd(wg.name, 1 + c[2]),)),
        _choices(1, 1, 1).map(lambda c: (WgDone(wg.name),)),
        _choices(1, 1, 1).map(lambda c: (WgWait(wg.name),)),
    ]


def _sync_decls(sync: tuple) -> st.SearchStrategy:
    """The declaration of each primitive in `sync` (a channel's capacity is drawn, 0 first)."""
    fixed = {"mutex": st.just(Mutex(_SYNC_DECLS["mutex"])),
             "rwmutex": st.just(Mutex(_SYNC_DECLS["rwmutex"], rw=True)),
             "chan": st.integers(0, _MAX_CAPACITY).map(lambda c: Chan(_SYNC_DECLS["chan"], c)),
             "once": st.just(Once(_SYNC_DECLS["once"])),
             "waitgroup": st.just(WaitGroup(_SYNC_DECLS["waitgroup"]))}
    return st.tuples(*(fixed[s] for s in sync))


def _sync_steps(decl, body: st.SearchStrategy, values: tuple) -> list:
    if isinstance(decl, Mutex):
        return _mutex_steps(decl, body)
    if isinstance(decl, Chan):
        return _channel_steps(decl, values)
    if isinstance(decl, Once):
        return _once_steps(decl, body)
    return _waitgroup_steps(decl)


# ---------------------------------------------------------------- whole programs


def _memory_decls(knobs: _Knobs) -> st.SearchStrategy:
    """The locations x, y, ... the ops choose from, each atomic or plain as the knob says
    (in "mixed" mode drawn per location, atomic first)."""
    flag = {True: st.just(True), False: st.just(False),
            "mixed": st.sampled_from((True, False))}[knobs.atomic]

    @st.composite
    def declare(draw):
        n = draw(st.integers(*knobs.locations))
        # A flag for every possible location, used or not: a fixed shape (see `_choices`).
        flags = [draw(flag) for _ in range(knobs.locations[1])]
        return tuple(Var(name, atomic=a) for name, a in zip(LOCATION_NAMES[:n], flags))
    return declare()


def _step(knobs: _Knobs, memory: tuple, sync: tuple) -> st.SearchStrategy:
    """One step of a thread (a tuple of ops): a memory op, or one use of a primitive. All kinds
    are branches of one one_of, memory kinds first, so a step costs a single branch choice."""
    memory_steps = _memory_steps(knobs, memory)
    body = _body(memory_steps)
    steps = memory_steps + [s for d in sync for s in _sync_steps(d, body, knobs.store_values)]
    return st.one_of(steps)


def _resolve_awaits(threads: tuple) -> tuple:
    """Replace each `_AwaitSpec` by an Await that can finish: it waits until its location holds
    a value some other thread writes there (`pick` chooses which), or, spinning while the
    location holds its initial 0, until another thread wrote it; with no other writer it waits
    for the initial 0. An await can still block for good (a later write may hide the value):
    the models then report a deadlock and the runtime a timeout."""
    def written(ti):
        """Constants other threads than `ti` write, per location."""
        out: dict = {}
        for tj, ops in enumerate(threads):
            if tj == ti:
                continue
            for op in walk_ops(ops):
                if isinstance(op, Store) and isinstance(op.value, int):
                    out.setdefault(op.loc, set()).add(op.value)
                elif (isinstance(op, Rmw) and op.op in (RmwOp.SWAP, RmwOp.CAS)
                      and isinstance(op.operand, int)):
                    out.setdefault(op.loc, set()).add(op.operand)
        return out

    def resolve(op, values):
        if isinstance(op, OnceDo):
            return replace(op, body=tuple(resolve(o, values) for o in op.body))
        if not isinstance(op, _AwaitSpec):
            return op
        candidates = sorted(values.get(op.loc, ()))
        if not candidates:
            return Await(op.loc, 0, op.order, until_equal=True)
        if op.until_equal:
            return Await(op.loc, candidates[op.pick % len(candidates)], op.order)
        return Await(op.loc, 0, op.order, until_equal=False)

    return tuple(tuple(resolve(op, written(ti)) for op in ops) for ti, ops in enumerate(threads))


def _name_registers(ops: tuple) -> tuple:
    """The ops of one thread with each fresh register named r0, r1, ... in program order
    (into once.Do bodies), so a shrunk program keeps dense, readable names."""
    counter = itertools.count()

    def name(reg):
        return f"r{next(counter)}" if reg == _FRESH else reg

    def rename(op):
        if isinstance(op, (Load, Rmw)):
            return replace(op, reg=name(op.reg))
        if isinstance(op, Recv):
            reg = name(op.reg)
            return replace(op, reg=reg, ok=name(op.ok))
        if isinstance(op, OnceDo):
            return replace(op, body=tuple(rename(o) for o in op.body))
        return op

    return tuple(rename(op) for op in ops)


def _used(decls: tuple, threads: tuple) -> tuple:
    """The declarations some op of `threads` names, in their order."""
    names = set()
    for ops in threads:
        for op in walk_ops(ops):
            for attr in ("loc", "mutex", "chan", "once", "wg"):
                if hasattr(op, attr):
                    names.add(getattr(op, attr))
    return tuple(d for d in decls if d.name in names)


_CONDITION_ITEMS = 3   # at most this many comparisons in a drawn condition
_CONDITION_PICKS = 8   # a comparison picks its register among this many (modulo the real count)


def _condition_choices(values: tuple) -> st.SearchStrategy:
    """1.._CONDITION_ITEMS (pick, value) pairs: which register each comparison names and the
    value it compares with (0 first). Drawn in a shape that does not depend on the program, so
    that when shrinking turns a store into a load (one more register) the condition's choices
    still line up and the shrinker can take the step; `_condition` resolves them."""
    return st.lists(st.tuples(st.integers(0, _CONDITION_PICKS - 1), st.integers(*values)),
                    min_size=1, max_size=_CONDITION_ITEMS)


def _condition(program: Program, choices: list) -> Optional[Condition]:
    """An `exists` over registers of `program` (over final memory when it has no register),
    one comparison per distinct pick, in register order; None if there is nothing to name.

    >>> p = Program("p", (Var("x"),), [[Load("r0", "x"), Load("r1", "x")], [Load("r0", "x")]])
    >>> print(_condition(p, [(2, 1), (0, 0), (5, 2)]).expr)      # pick 5 is 5 % 3 = 2 again
    And(items=(Cmp(lhs=RegRef(thread=0, reg='r0'), value=0, equal=True), \
Cmp(lhs=RegRef(thread=1, reg='r0'), value=1, equal=True)))
    """
    refs: tuple = tuple(RegRef(t, r) for t in range(len(program.threads))
                        for r in program.registers(t))
    refs = refs or tuple(MemRef(v.name) for v in program.vars)
    if not refs:
        return None
    chosen: dict = {}
    for pick, value in choices:
        chosen.setdefault(pick % len(refs), Cmp(refs[pick % len(refs)], value))
    items = tuple(chosen[i] for i in sorted(chosen))
    return Condition(items[0] if len(items) == 1 else And(items))


@functools.lru_cache(maxsize=1024)
def _threads(knobs: _Knobs, memory: tuple, sync: tuple) -> st.SearchStrategy:
    """The threads (lists of steps) of a program over these declarations.

    Cached (a pure function of hashable values): building a strategy costs far more than
    drawing from it, and the same few declaration sets come back example after example."""
    thread = st.lists(_step(knobs, memory, sync), min_size=knobs.ops[0], max_size=knobs.ops[1])
    return st.lists(thread, min_size=knobs.threads[0], max_size=knobs.threads[1])


@st.composite
def _programs(draw, knobs: _Knobs, decls: st.SearchStrategy) -> Program:
    memory, sync = draw(decls)
    drawn = draw(_threads(knobs, memory, sync))
    flat = tuple(tuple(op for s in steps for op in s) for steps in drawn)
    threads = tuple(_name_registers(ops) for ops in _resolve_awaits(flat))
    program = Program(name=knobs.name, decls=_used(memory + sync, threads), threads=threads)
    if knobs.condition:
        condition = _condition(program, draw(_condition_choices(knobs.values)))
        if condition is not None:
            program = replace(program, condition=condition)
    return program


def programs(threads=(2, 3), ops=(1, 4), locations=2, kinds=("load", "store", "rmw", "fence"),
             orders=None, values=(0, 2), atomic=True, sync=False, condition=False,
             name="random", plain_atomics=False) -> st.SearchStrategy:
    """A strategy of valid litmus `Program`s. Each knob taking a count takes an int or an
    inclusive (min, max) pair.

    - `threads`: how many threads.
    - `ops`: how many steps each thread has. A step is one op, except a lock section
      (`Lock`, 1..2 memory ops, `Unlock`), which is one step, as a `once.Do` with its body is.
    - `locations`: how many locations (x, y, z, w, x4, ...) the ops choose from. Only the
      locations some op uses are declared, so a shrunk program declares nothing idle.
    - `kinds`: the memory op kinds, some of `MEMORY_KINDS` ("load", "store", "rmw",
      "fence", "await"). A kind that the other knobs leave impossible is skipped (an rmw when
      every location is plain, a fence when `orders` holds no fence order).
    - `orders`: None for every valid order of each kind, or a list restricting them (e.g.
      ["seq_cst"]). Plain accesses carry no order.
    - `values`: the range of constants. Stores, swaps, CAS new values, adds and sends use
      its part from 1 up (0 is the initial value, so an outcome tells which store was read);
      CAS comparands and condition values use all of it.
    - `atomic`: True (every location atomic), False (every location plain) or "mixed" (each
      location drawn, atomic first).
    - `sync`: False, True (every primitive) or some of `SYNC_PRIMITIVES`: adds lock sections
      on `mu`, read or write sections on `rw`, send/receive/close on `ch` (capacity 0..2),
      `once.Do` with a small memory body, and `wg.Add`/`Done`/`Wait`. These can deadlock or
      panic: those are outcomes the models and the runtime report, not invalid programs.
    - `condition`: add an `exists (...)` over some registers (over final memory when the
      program has no register).
    - `name`: the programs' name.
    - `plain_atomics`: True lets a load or store of an atomic location be plain too (a
      non-atomic access of it: docs/format.md), drawn after every order.

    A program with a compare-and-swap shrinks to the simplest one: two threads (the
    minimum), the first op kind (an add) where anything goes, x, seq_cst, operand 1,
    comparand 0::

        >>> from hypothesis import find
        >>> p = find(programs(kinds=["rmw"]),
        ...          lambda p: any(op.op is RmwOp.CAS for _, op in p.ops()))
        >>> for t in p.threads:                   # doctest: +NORMALIZE_WHITESPACE
        ...     print(t.ops)
        (Rmw(reg='r0', loc='x', op=<RmwOp.ADD: 'add'>, operand=1, expected=None,
             order=<Order.SEQ_CST: 'seq_cst'>),)
        (Rmw(reg='r0', loc='x', op=<RmwOp.CAS: 'cas'>, operand=1, expected=0,
             order=<Order.SEQ_CST: 'seq_cst'>),)
    """
    knobs = _check(threads, ops, locations, kinds, orders, values, atomic, sync, condition, name,
                   plain_atomics)
    return _programs(knobs, st.tuples(_memory_decls(knobs), _sync_decls(knobs.sync)))


def small_programs(**overrides) -> st.SearchStrategy:
    """Small programs over every memory kind: 2 threads of 1..3 ops on 2 locations, atomic
    or plain per location. Keyword arguments override any knob of `programs`.

    Meant for property tests of the models, where a program's state space must stay small::

        >>> from hypothesis import find
        >>> p = find(small_programs(), lambda p: any(isinstance(op, Await) for _, op in p.ops()))
        >>> len(p.threads), p.size
        (2, 2)
    """
    knobs = dict(threads=2, ops=(1, 3), locations=2, kinds=MEMORY_KINDS, atomic="mixed")
    knobs.update(overrides)
    return programs(**knobs)
