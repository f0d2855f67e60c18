"""Go-style programs drawn from the primitives' ops themselves, over a few shared objects.

Where `go_programs` lays out fixed handoff templates with a fresh channel, once or waitgroup
per handoff, `go_op_programs` draws every thread as a free sequence of *items*, each one op
(or a few) on objects every thread shares:

==========  ==========================================================================
item        ops
==========  ==========================================================================
send        ``c <- k``, or two sends in a row; each send sends the next value (1, 2, 3, ...),
            so a receive tells which send it paired with, and in which order the values
            came out
recv        ``r = <-c``, ``r, ok = <-c`` or ``<-c``, once or twice in a row
store/load  a plain data location (``x``, ``y``): the data the primitives hand over
lock        ``mu.Lock(); r = m; m = k`` when the thread does not hold ``mu``, else
            ``mu.Unlock()``: sections on one mutex, each a read-modify-write of ``m``
rlock       ``rw.RLock(); r = v`` / ``r = v; rw.RUnlock()``: a read section reads ``v``
            at both ends, so a writer inside it shows as two different values
wlock       ``rw.Lock(); v = k`` / ``v = k'; rw.Unlock()``: a write section writes twice
close       ``close(c)``
once        ``o.Do { q = k }; r = q``: every call has its own body value, so the reads
            say which body ran, and whether it had finished
wg-add      ``wg.Add(n)``, n in 1, 2, -1
wg-done     ``wg.Done()``
wg-wait     ``wg.Wait()``
atomic-*    ``atomic.Add``, ``Load``, ``Store``, ``Swap`` or ``CAS`` on ``a`` or ``b``,
            with operands 1, 2, -1, 3
==========  ==========================================================================

A lock item opens a section when the thread does not hold the lock and closes it when it
does (a read item while write-holding ``rw`` closes the write section, and the other way
round); sections still open at the end of a thread are closed there. So every draw is a
valid program without a filter, and deleting an item while shrinking keeps it valid.
Several ops of a kind per thread on one object, several senders and receivers of distinct
values on one channel, Add/Done/Wait from every thread on one WaitGroup, Once.Do from
every thread, closes racing with receives: all come out of the same draw. Each program
draws its items from a few kinds only (swarm testing), so its ops pile up on few objects; a
group of kinds is drawn in proportion to the contract clauses it exercises (docs/contracts.md:
channels and close carry ten, a mutex two), so each clause gets about the same share of the
programs. Programs may
deadlock or panic: the models judge those outcomes too.

Shrinking goes towards receives on the unbuffered channel (the receive comes first among
the kinds: a thread left with one op of a channel pattern can then turn it into a receive,
so "two sends in one thread, two receives in another" is reached rather than stuck at one
more send)::

    >>> from hypothesis import find
    >>> from stressmm.syntax import print_program
    >>> print(print_program(find(go_op_programs(), lambda p: True)), end="")
    litmus go-ops
    chan c 0
    P0:
      r0 = <-c
    P1:
      r0 = <-c
"""
from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from stressmm.program import (
    Chan, Close, Load, Lock, Mutex, Once, OnceDo, Order, Program, RLock, RUnlock, Recv, Rmw,
    RmwOp, Send, Store, Unlock, Var, WaitGroup, WgAdd, WgDone, WgWait,
)

from stressmm.contracts import CLAUSES

from ._knobs import span
from .programs import _FRESH, _name_registers, _used

__all__ = ["go_op_programs", "GO_ITEMS", "ATOMIC_OPERANDS", "WG_DELTAS"]

GO_ITEMS = ("recv", "send", "store", "load", "lock", "rlock", "wlock", "close", "once",
            "wg-add", "wg-done", "wg-wait", "atomic-add", "atomic-load", "atomic-store",
            "atomic-swap", "atomic-cas")
"""The kinds of items a thread is drawn from, in the order the shrinker prefers them."""

ATOMIC_OPERANDS = (1, 2, -1, 3)
"""Addends, swapped-in values and CAS values of the atomic items, smallest first."""

WG_DELTAS = (1, 2, -1)
"""The deltas of `wg.Add` items."""

_RECV_FORMS = ((_FRESH, None), (_FRESH, _FRESH), (None, None))
_DATA = ("x", "y")
_ATOMICS = ("a", "b")
_MAX_CAPACITY = 3
_SC = Order.SEQ_CST
_PARAMS = 64                    # every item draws one integer in [0, _PARAMS), shrinking to 0
_MAX_ITEMS = 10                 # items of all threads together (see draw_program)
_PALETTE = 3                    # a program draws its items from at most this many groups
_GROUPS = {"chan": ("send", "recv", "close"), "data": ("store", "load"), "mutex": ("lock",),
           "rwmutex": ("rlock", "wlock"), "once": ("once",),
           "waitgroup": ("wg-add", "wg-done", "wg-wait"),
           "atomic": tuple(k for k in GO_ITEMS if k.startswith("atomic-"))}
_CHECKS = {"chan": ("chan", "close"), "data": (), "mutex": ("mutex",), "rwmutex": ("rwmutex",),
           "once": ("once",), "waitgroup": ("waitgroup",), "atomic": ("atomic",)}
"""The primitives of docs/contracts.md whose clauses each group's items exercise."""


def _weight(group: str) -> int:
    """How often a group is drawn into a program's palette, relative to the others: one share
    per contract clause its items exercise (plain data: one share), so each clause gets about
    the same share of the programs.

        >>> _weight("chan"), _weight("mutex"), _weight("data")
        (10, 2, 1)
    """
    return max(1, sum(1 for c in CLAUSES if c.primitive in _CHECKS[group]))


@dataclass(frozen=True)
class _Item:
    kind: str
    param: int


def _items(kinds: tuple) -> st.SearchStrategy:
    return st.tuples(st.integers(0, len(kinds) - 1), st.integers(0, _PARAMS - 1)).map(
        lambda c: _Item(kinds[c[0]], c[1]))


class _Thread:
    """The ops of one thread as its items are laid out; private to one draw."""

    def __init__(self, values: dict):
        self.ops: list = []
        self.held: list = []      # open sections: ("mu", "w"), ("rw", "r"), ("rw", "w")
        self.values = values      # shared by the threads of a draw: next value per object

    def next_value(self, name: str) -> int:
        self.values[name] = self.values.get(name, 0) + 1
        return self.values[name]

    def open(self, lock: str, mode: str) -> None:
        if lock == "mu":
            self.ops += [Lock("mu"), Load(_FRESH, "m"), Store("m", self.next_value("m"))]
        elif mode == "r":
            self.ops += [RLock("rw"), Load(_FRESH, "v")]
        else:
            self.ops += [Lock("rw"), Store("v", self.next_value("v"))]
        self.held.append((lock, mode))

    def close(self, lock: str) -> None:
        mode = dict(self.held)[lock]
        self.held.remove((lock, mode))
        if lock == "mu":
            self.ops.append(Unlock("mu"))
        elif mode == "r":
            self.ops += [Load(_FRESH, "v"), RUnlock("rw")]
        else:
            self.ops += [Store("v", self.next_value("v")), Unlock("rw")]

    def toggle(self, lock: str, mode: str) -> None:
        """Open a section on `lock`, or close the one the thread holds (in either mode)."""
        if lock in dict(self.held):
            self.close(lock)
        else:
            self.open(lock, mode)

    def add(self, item: _Item) -> None:
        k, p = item.kind, item.param
        chan = "c"
        if k == "send":
            for _ in range(1 + p % 2):
                self.ops.append(Send(chan, self.next_value(chan)))
        elif k == "recv":
            reg, ok = _RECV_FORMS[p % len(_RECV_FORMS)]
            for _ in range(1 + p // len(_RECV_FORMS) % 2):
                self.ops.append(Recv(chan, reg, ok))
        elif k == "close":
            self.ops.append(Close(chan))
        elif k in ("store", "load"):
            loc = _DATA[p % len(_DATA)]
            self.ops.append(Store(loc, self.next_value(loc)) if k == "store"
                            else Load(_FRESH, loc))
        elif k == "lock":
            self.toggle("mu", "w")
        elif k in ("rlock", "wlock"):
            self.toggle("rw", k[0])
        elif k == "once":
            self.ops += [OnceDo("o", (Store("q", self.next_value("q")),)), Load(_FRESH, "q")]
        elif k == "wg-add":
            self.ops.append(WgAdd("wg", WG_DELTAS[p % len(WG_DELTAS)]))
        elif k == "wg-done":
            self.ops.append(WgDone("wg"))
        elif k == "wg-wait":
            self.ops.append(WgWait("wg"))
        else:
            self.ops.append(_atomic(k[len("atomic-"):], ATOMIC_OPERANDS[(p // 2) % len(ATOMIC_OPERANDS)],
                                    _ATOMICS[p % 2]))

    def finish(self) -> tuple:
        for lock, _ in reversed(list(self.held)):
            self.close(lock)
        return _name_registers(tuple(self.ops))


def _atomic(kind: str, operand: int, loc: str):
    if kind == "add":
        return Rmw(_FRESH, loc, RmwOp.ADD, operand, order=_SC)
    if kind == "load":
        return Load(_FRESH, loc, _SC)
    if kind == "store":
        return Store(loc, operand, _SC)
    if kind == "swap":
        return Rmw(_FRESH, loc, RmwOp.SWAP, operand, order=_SC)
    # CAS from the value an earlier op may have left (0 first) to the operand
    return Rmw(_FRESH, loc, RmwOp.CAS, operand, expected=max(0, operand - 1), order=_SC)


def _decls(capacity: int) -> tuple:
    return (tuple(Var(n) for n in _DATA + ("m", "v", "q"))
            + tuple(Var(n, atomic=True) for n in _ATOMICS)
            + (Mutex("mu"), Mutex("rw", rw=True), Chan("c", capacity),
               Once("o"), WaitGroup("wg")))


def build(items_per_thread, capacity: int = 0, name: str = "go-ops") -> Program:
    """The program of some threads' items (lists of (kind, param) pairs), as the strategy
    builds it. For tests and for writing a shape by hand::

        >>> from stressmm.syntax import print_program
        >>> p = build([[("send", 0), ("send", 0)], [("recv", 0), ("recv", 0)]], capacity=2)
        >>> print(print_program(p), end="")
        litmus go-ops
        chan c 2
        P0:
          c <- 1
          c <- 2
        P1:
          r0 = <-c
          r1 = <-c
    """
    values: dict = {}
    threads = []
    for items in items_per_thread:
        t = _Thread(values)
        for kind, param in items:
            if kind not in GO_ITEMS:
                raise ValueError(f"unknown item {kind!r}; use one of {', '.join(GO_ITEMS)}")
            t.add(_Item(kind, param))
        threads.append(t.finish())
    return Program(name=name, decls=_used(_decls(capacity), threads), threads=tuple(threads))


def go_op_programs(threads=(2, 3), ops=(1, 4), items=GO_ITEMS,
                   name="go-ops") -> st.SearchStrategy:
    """A strategy of Go-style programs drawn item by item (see the module docstring).

    - `threads`: how many threads, an int or a (min, max) pair in [1, 8].
    - `ops`: how many items each thread has (an item is one op, or a few: a section's ends
      carry the accesses to the data they guard, a once.Do its read). All threads together
      have at most 10 items (unless `ops` asks for more as a minimum), which keeps the go
      model's search small.
    - `items`: the kinds of items to draw from (some of `GO_ITEMS`).
    - `name`: the programs' name.

    The channel ``c`` gets a capacity from 0 (unbuffered, first) to 3 per program.
    """
    n_threads = span("threads", threads, low=1, high=8)
    n_items = span("ops", ops, low=1)
    kinds = tuple(items)
    if not kinds or any(k not in GO_ITEMS for k in kinds):
        raise InvalidArgument(f"items={items!r}: use some of {', '.join(GO_ITEMS)}")
    if not isinstance(name, str) or not name or any(c.isspace() or c in '"#' for c in name):
        raise InvalidArgument(f"name={name!r}: use a non-empty string without spaces, "
                              f"quotes or #")

    # Each group as many times as its weight, in the order of _GROUPS (the shrinker's).
    palette = tuple(g for g in _GROUPS if set(_GROUPS[g]) & set(kinds)
                    for _ in range(_weight(g)))

    @st.composite
    def draw_program(draw):
        n = draw(st.integers(*n_threads))
        capacity = draw(st.integers(0, _MAX_CAPACITY))
        # Swarm testing: each program draws from a few kinds of items only, so its threads
        # pile several ops on the same objects (several sends and receives on one channel,
        # Wait in every thread...) instead of spreading one op over each primitive.
        groups = draw(st.lists(st.sampled_from(palette), min_size=1, max_size=_PALETTE,
                               unique=True))
        item = _items(tuple(k for k in kinds if any(k in _GROUPS[g] for g in groups)))
        # At most _MAX_ITEMS items in all: ops piled on one object multiply the orders the
        # go model must explore (3 threads x 5 items on one channel exceed its state cap).
        drawn, left = [], _MAX_ITEMS
        for i in range(n):
            room = max(n_items[0], min(n_items[1], left - (n - 1 - i) * n_items[0]))
            drawn.append(draw(st.lists(item, min_size=n_items[0], max_size=room)))
            left -= len(drawn[-1])
        return build([[(i.kind, i.param) for i in t] for t in drawn], capacity, name)

    return draw_program()
