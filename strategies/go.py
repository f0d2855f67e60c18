"""Go-style litmus programs: plain data handed from goroutine to goroutine through Go's
synchronisation, for checking the native runtime and the `go` model.

A program is a list of *steps* in one global order. A step is either

- a **handoff** from one thread (the source) to another (the destination): the source writes
  a plain data location and then synchronises; the destination synchronises and then reads a
  data location. The synchronisation is one of `GO_MECHANISMS`:

  ===========  ===============================================  ==============================
  mechanism    source / destination                             racy variant
  ===========  ===============================================  ==============================
  chan         ``x = v; c <- 1``  /  ``<-c; r = x``             the read before the receive
  mutex        ``mu.Lock(); x = v; mu.Unlock()`` / same, read    the read without the lock
  atomic       ``x = v; atomic.Store(&f, 1)`` / spin on ``f``   a plain flag
  close        ``x = v; close(c)``  /  ``<-c; r = x``           the read before the receive
  rwmutex      ``rw.Lock() ... rw.Unlock()`` / ``rw.RLock()``   the writer takes ``RLock``
  once         ``once.Do { x = v }`` / same, then ``r = x``     the read before ``once.Do``
               (or each call with a body value of its own,
               and the source reads ``x`` after its Do too)
  waitgroup    destination ``wg.Add(1)``, starts the source      ``wg.Add(1)`` in the source
               with an atomic flag, ``wg.Wait(); r = x``;
               source ``x = v; wg.Done()`` (or ``wg.Add(1+k)``
               and k Dones before ``x = v; wg.Done()``)
  chan-sync    ``x = v; <-c``  /  ``c <- 1; r = x``, c           c buffered: the receive then
               unbuffered (the receive is synchronized          orders nothing
               before the send completes)
  ===========  ===============================================  ==============================

  Channels, flags, onces and waitgroups are fresh per handoff (c0, f1, once2, wg3, ...); the
  two mutexes `mu` and `rw` are shared (their sections never nest).
- an **access** by one thread: a plain load or store of a data location, or a seq_cst atomic
  load, store or add (of 1 or -1) of the atomic counter `a`.
- a **contention** between two threads inside one primitive, where a broken primitive shows
  (`GO_CONTENTIONS`), on variables of its own (v<j>, w<j>, u<j>, t<j>, c<j>): both threads
  ``mu.Lock(); r = v0; v0 = k; mu.Unlock()`` (mutual exclusion: one of them reads the other's
  write; likewise with ``rw.Lock()``), a reader ``rw.RLock(); r0 = v0; r1 = w0; rw.RUnlock()``
  beside a writer ``rw.Lock(); w0 = 1; v0 = 1; rw.Unlock()`` (no torn reads; the writer may
  first read ``v0`` in a read section of its own, so it must wait for the other reader), both
  threads ``c <- k; r = <-c`` on one buffered channel (no value received twice, none lost),
  both ``r = atomic.Add(&u0, k)`` with k = 1 and k = 2 or -2 (or Swap, or ``CAS(&u0, 0, k)``:
  no lost update, a delta of either sign), the store buffering shape on two counters
  (``atomic-sb``: one order of all atomics), two readers of an RWMutex of
  their own ``rw0.RLock(); c0 <- 1 / r = <-c0; rw0.RUnlock()`` (readers share the lock), and a stream
  ``c0 <- 1; c0 <- 2`` / ``r0 = <-c0; r1 = <-c0`` on a channel of capacity 0 to 2, maybe
  closed after the values (FIFO order, the capacity, values buffered at the close).

Each write writes the next value of its location (1, 2, ...), so a read tells which write it
saw. Threads run their steps in program order; the global order is one schedule in which
every step completes, so a program never deadlocks nor panics under sequential consistency
(a racy program may still spin for ever under `go`, which reports `deadlock`). Handoffs
chain: a step starts, by default, in the thread the previous step ended in, so hb runs
through several threads. The racy variants are the classic Go bugs; a race can also come
from two handoffs writing one location from unordered threads. The `go` model reports both.

The minimal program is message passing over an unbuffered channel::

    >>> from hypothesis import find
    >>> from stressmm.syntax import print_program
    >>> print(print_program(find(go_programs(), lambda p: True)), end="")
    litmus go "P0 -chan-> P1"
    var x int
    chan c0 0
    P0:
      x = 1
      c0 <- 1
    P1:
      <-c0
      r0 = x
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Optional

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from stressmm.program import (
    Await, Chan, Close, Load, Lock, Mutex, Once, OnceDo, Order, Program, RLock, RUnlock, Recv,
    Rmw, RmwOp, Send, Store, Unlock, Var, WaitGroup, WgAdd, WgDone, WgWait,
)

from ._knobs import choices, span
from .programs import (
    LOCATION_NAMES, _FRESH, _condition, _condition_choices, _name_registers, _used,
)

__all__ = ["go_programs", "GO_MECHANISMS", "GO_ACCESSES", "GO_CONTENTIONS"]

GO_MECHANISMS = ("chan", "mutex", "atomic", "close", "rwmutex", "once", "waitgroup",
                 "chan-sync")
"""The synchronisations of a handoff, in the order the shrinker prefers them."""

GO_CONTENTIONS = ("mutex", "rwmutex", "rwmutex-reader", "chan", "atomic", "rwmutex-readers",
                  "chan-stream", "atomic-sb")
"""The primitives a contention step puts two threads inside at once."""

GO_ACCESSES = ("load", "store", "atomic-load", "atomic-store", "atomic-add")
"""The kinds of an access step: plain load/store of a data location, or a seq_cst atomic op
on the counter `a`."""

_SC = Order.SEQ_CST
_COUNTER = "a"
_RACY_ODDS = 4        # with racy=True, a handoff is the racy variant 1 time in _RACY_ODDS
_CAPACITIES = 3       # channel capacities 0, 1, 2
_VARIANTS = 12        # variants of a contention: channel capacity and close, atomic op
_RMWS = ((RmwOp.ADD, None), (RmwOp.SWAP, None), (RmwOp.CAS, 0))   # op, expected value


@dataclass(frozen=True)
class _Knobs:
    threads: tuple
    ops: tuple
    locations: tuple
    sync: tuple
    accesses: tuple
    racy: object       # True, False or "always"
    condition: bool
    name: str


def _check(threads, ops, locations, sync, accesses, racy, condition, name) -> _Knobs:
    if racy not in (True, False, "always"):
        raise InvalidArgument(f"racy={racy!r}: use True (racy variants of the handoffs now "
                              f"and then), False (never) or \"always\"")
    if not isinstance(condition, bool):
        raise InvalidArgument(f"condition={condition!r}: use True or False")
    if not isinstance(name, str) or not name or any(c.isspace() or c in '"#' for c in name):
        raise InvalidArgument(f"name={name!r}: use a non-empty string without spaces, "
                              f"quotes or #")
    if accesses is True:
        accesses = GO_ACCESSES
    elif accesses is False or accesses is None:
        accesses = ()
    else:
        accesses = choices("accesses", accesses, GO_ACCESSES)
    return _Knobs(threads=span("threads", threads, low=2, high=8),
                  ops=span("ops", ops, low=1),
                  locations=span("locations", locations, low=1, high=len(LOCATION_NAMES)),
                  sync=choices("sync", GO_MECHANISMS if sync is None else sync, GO_MECHANISMS),
                  accesses=accesses, racy=racy, condition=condition, name=name)


# ---------------------------------------------------------------- steps as drawn
# Every step is one branch index (handoff or access) and three integers, each shrinking to 0,
# whatever the number of threads or locations of the example (see strategies/programs.py
# on why a fixed shape shrinks well). Several choices are packed into one integer as digits,
# the one that should shrink first most significant.


@dataclass(frozen=True)
class _Handoff:
    mechanism: str
    racy: object       # True, False or "always"
    source: int        # offset from the current thread
    target: int        # offset from the source, minus one
    write: Optional[int]   # data location written by the source, None for none
    read: int          # data location read by the destination
    capacity: int      # 0, 1 or 2: a channel's capacity; the variant of a once or waitgroup


@dataclass(frozen=True)
class _Access:
    kind: str
    thread: int        # offset from the current thread
    loc: int


def _handoffs(knobs: _Knobs) -> st.SearchStrategy:
    mechs, n_max, locs = knobs.sync, knobs.threads[1], knobs.locations[1]
    odds = _RACY_ODDS if knobs.racy is True else 1

    def build(c):
        racy, mech = divmod(c[0], len(mechs))
        source, target = divmod(c[1], n_max - 1)
        places, capacity = divmod(c[2], _CAPACITIES)
        write, read = divmod(places, locs)
        racy = knobs.racy == "always" or (knobs.racy is True and racy == odds - 1)
        return _Handoff(mechs[mech], racy, source, target,
                        None if write == locs else write, read, capacity)

    return st.tuples(st.integers(0, odds * len(mechs) - 1),
                     st.integers(0, n_max * (n_max - 1) - 1),
                     st.integers(0, (locs + 1) * locs * _CAPACITIES - 1)).map(build)


@dataclass(frozen=True)
class _Contention:
    primitive: str
    first: int         # offset from the current thread
    second: int        # offset from the first, minus one
    variant: int       # in [0, _VARIANTS): see _Builder.contention


_CONTENTION_NEEDS = {"mutex": ("mutex",), "rwmutex": ("rwmutex",),
                     "rwmutex-reader": ("rwmutex",), "chan": ("chan",), "atomic": ("atomic",),
                     "rwmutex-readers": ("rwmutex", "chan"), "chan-stream": ("chan",),
                     "atomic-sb": ("atomic",)}


def _contention_kinds(knobs: _Knobs) -> tuple:
    """The contentions whose primitives the `sync` knob allows."""
    return tuple(c for c in GO_CONTENTIONS if all(m in knobs.sync for m in _CONTENTION_NEEDS[c]))


def _contentions(knobs: _Knobs) -> st.SearchStrategy:
    kinds, n_max = _contention_kinds(knobs), knobs.threads[1]

    def build(c):
        first, second = divmod(c[1], n_max - 1)
        # Without `close` in the sync knob, a channel stream never closes its channel.
        variant = c[2]
        if kinds[c[0]] == "chan-stream":
            variant %= 2 * _CAPACITIES if "close" in knobs.sync else _CAPACITIES
        return _Contention(kinds[c[0]], first, second, variant)

    return st.tuples(st.integers(0, len(kinds) - 1), st.integers(0, n_max * (n_max - 1) - 1),
                     st.integers(0, _VARIANTS - 1)).map(build)


def _accesses(knobs: _Knobs) -> st.SearchStrategy:
    kinds = knobs.accesses
    return st.tuples(st.integers(0, len(kinds) - 1), st.integers(0, knobs.threads[1] - 1),
                     st.integers(0, knobs.locations[1] - 1)).map(
        lambda c: _Access(kinds[c[0]], c[1], c[2]))


# ---------------------------------------------------------------- building the program


class _Builder:
    """Accumulates threads and declarations while the steps are laid out in global order.
    Private and used by one draw only; the result is an immutable Program."""

    def __init__(self, n: int, locations: int):
        self.n, self.locations = n, locations
        self.threads = [[] for _ in range(n)]
        self.decls: dict = {}
        self.values: dict = {}
        self.current = 0
        self.story: list = []

    def declare(self, decl) -> str:
        self.decls.setdefault(decl.name, decl)
        return decl.name

    def data(self, index: int) -> str:
        return self.declare(Var(LOCATION_NAMES[index % self.locations]))

    def next_value(self, loc: str) -> int:
        self.values[loc] = self.values.get(loc, 0) + 1
        return self.values[loc]

    def access(self, step: _Access) -> None:
        t = (self.current + step.thread) % self.n
        if step.kind in ("load", "store"):
            loc = self.data(step.loc)
            op = (Load(_FRESH, loc) if step.kind == "load"
                  else Store(loc, self.next_value(loc)))
        else:
            loc = self.declare(Var(_COUNTER, atomic=True))
            op = {"atomic-load": lambda: Load(_FRESH, loc, _SC),
                  "atomic-store": lambda: Store(loc, self.next_value(loc), _SC),
                  # an Add of 1, or (second location index) of -1: a delta of either sign
                  "atomic-add": lambda: Rmw(_FRESH, loc, RmwOp.ADD, -1 if step.loc % 2 else 1,
                                           order=_SC)}[step.kind]()
        self.threads[t].append(op)
        self.current = t

    def contention(self, step: _Contention, j: int) -> None:
        a = (self.current + step.first) % self.n
        b = (a + 1 + step.second % (self.n - 1)) % self.n
        # Variables of its own, so that the contention adds no race with the other steps.
        x, y = self.declare(Var(f"v{j}")), self.declare(Var(f"w{j}"))
        if step.primitive == "chan":
            c = self.declare(Chan(f"c{j}", 1 + step.variant % (_CAPACITIES - 1)))
            ops_a = (Send(c, 1), Recv(c, _FRESH))
            ops_b = (Send(c, 2), Recv(c, _FRESH))
        elif step.primitive == "chan-stream":
            # Two values in a row, then (variants 3 to 5) a close and a receive of the zero
            # value: FIFO order, the capacity, values buffered at the close.
            c = self.declare(Chan(f"c{j}", step.variant % _CAPACITIES))
            closes = step.variant >= _CAPACITIES
            ops_a = (Send(c, 1), Send(c, 2)) + ((Close(c),) if closes else ())
            ops_b = (Recv(c, _FRESH), Recv(c, _FRESH)) + (
                (Recv(c, _FRESH, _FRESH),) if closes else ())
        elif step.primitive == "atomic-sb":
            # Store buffering: each thread stores one counter, then loads the other; one
            # order of all atomic ops (Go's seq_cst) forbids both loads seeing 0.
            u, t = (self.declare(Var(f"{n}{j}", atomic=True)) for n in ("u", "t"))
            ops_a = (Store(u, 1, _SC), Load(_FRESH, t, _SC))
            ops_b = (Store(t, 1, _SC), Load(_FRESH, u, _SC))
        elif step.primitive == "atomic":
            # One read-modify-write each on one counter: returned values and the final value
            # tell whether both were single atomic steps. The second operand is 2 or -2, so
            # an Add whose delta loses its sign shows too.
            u = self.declare(Var(f"u{j}", atomic=True))
            op, expected = _RMWS[step.variant % len(_RMWS)]
            second = 2 if step.variant // len(_RMWS) % 2 == 0 else -2
            ops_a = (Rmw(_FRESH, u, op, 1, expected=expected, order=_SC),)
            ops_b = (Rmw(_FRESH, u, op, second, expected=expected, order=_SC),)
        elif step.primitive == "rwmutex-readers":
            # Both readers inside at once: a rendezvous on an unbuffered channel. The RWMutex
            # is its own: on the shared `rw`, a writer of another step could wait for this
            # reader while this reader waits for that writer's thread (a deadlock under SC).
            rw, c = self.declare(Mutex(f"rw{j}", rw=True)), self.declare(Chan(f"c{j}", 0))
            ops_a = (RLock(rw), Send(c, 1), RUnlock(rw))
            ops_b = (RLock(rw), Recv(c, _FRESH), RUnlock(rw))
        elif step.primitive == "rwmutex-reader":
            # The writer writes in the reverse order of the reads: any overlap of the two
            # sections shows as a torn read (r0 old, r1 new). In odd variants the writer
            # first reads under a read lock of its own (check, then update), so two readers
            # hold the lock together and the writer must wait for the one still inside.
            rw = self.declare(Mutex("rw", rw=True))
            check = (RLock(rw), Load(_FRESH, x), RUnlock(rw)) if step.variant % 2 else ()
            ops_a = (RLock(rw), Load(_FRESH, x), Load(_FRESH, y), RUnlock(rw))
            ops_b = check + (Lock(rw), Store(y, self.next_value(y)),
                             Store(x, self.next_value(x)), Unlock(rw))
        else:
            m = self.declare(Mutex("mu") if step.primitive == "mutex" else Mutex("rw", rw=True))
            ops_a = (Lock(m), Load(_FRESH, x), Store(x, self.next_value(x)), Unlock(m))
            ops_b = (Lock(m), Load(_FRESH, x), Store(x, self.next_value(x)), Unlock(m))
        self.threads[a].extend(ops_a)
        self.threads[b].extend(ops_b)
        self.story.append(f"P{a} <-{step.primitive}-> P{b}")
        self.current = b

    def handoff(self, step: _Handoff, j: int) -> None:
        src = (self.current + step.source) % self.n
        dst = (src + 1 + step.target % (self.n - 1)) % self.n
        write = ()
        if step.write is not None:
            loc = self.data(step.write)
            write = (Store(loc, self.next_value(loc)),)
        read = (Load(_FRESH, self.data(step.read)),)
        src_ops, dst_ops = _MECHANISMS[step.mechanism](self, j, step, write, read)
        self.threads[src].extend(src_ops)
        self.threads[dst].extend(dst_ops)
        self.story.append(f"P{src} -{step.mechanism}{' (racy)' if step.racy else ''}-> P{dst}")
        self.current = dst


def _chan(b: _Builder, j, step, write, read):
    c = b.declare(Chan(f"c{j}", step.capacity))
    if step.racy:
        return write + (Send(c, 1),), read + (Recv(c),)
    return write + (Send(c, 1),), (Recv(c),) + read


def _close(b: _Builder, j, step, write, read):
    c = b.declare(Chan(f"c{j}", step.capacity))
    if step.racy:
        return write + (Close(c),), read + (Recv(c),)
    return write + (Close(c),), (Recv(c),) + read


def _chan_sync(b: _Builder, j, step, write, read):
    # Unbuffered: the receive is synchronized before the send completes. Buffered (the racy
    # variant): a lone send completes at once and nothing orders the read after the write.
    c = b.declare(Chan(f"c{j}", 1 + step.capacity % (_CAPACITIES - 1) if step.racy else 0))
    return write + (Recv(c),), (Send(c, 1),) + read


def _mutex(b: _Builder, j, step, write, read):
    mu = b.declare(Mutex("mu"))
    if step.racy:
        return (Lock(mu),) + write + (Unlock(mu),), read
    return (Lock(mu),) + write + (Unlock(mu),), (Lock(mu),) + read + (Unlock(mu),)


def _rwmutex(b: _Builder, j, step, write, read):
    rw = b.declare(Mutex("rw", rw=True))
    enter, leave = (RLock, RUnlock) if step.racy else (Lock, Unlock)
    return (enter(rw),) + write + (leave(rw),), (RLock(rw),) + read + (RUnlock(rw),)


def _atomic(b: _Builder, j, step, write, read):
    if step.racy:
        f = b.declare(Var(f"f{j}"))
        return write + (Store(f, 1),), (Await(f, 1),) + read
    f = b.declare(Var(f"f{j}", atomic=True))
    return write + (Store(f, 1, _SC),), (Await(f, 1, _SC),) + read


def _once(b: _Builder, j, step, write, read):
    o = b.declare(Once(f"once{j}"))
    if step.racy:
        return (OnceDo(o, write),), read + (OnceDo(o, write),)
    if write and step.capacity:
        # Each call with a body of its own value, and the source reads after its Do too:
        # both threads then read the value of the one body that ran.
        loc = write[0].loc
        own = (Store(loc, b.next_value(loc)),)
        return (OnceDo(o, write), Load(_FRESH, loc)), (OnceDo(o, own),) + read
    return (OnceDo(o, write),), (OnceDo(o, write),) + read


def _waitgroup(b: _Builder, j, step, write, read):
    wg = b.declare(WaitGroup(f"wg{j}"))
    if step.racy:
        # The Go bug: Add inside the goroutine, so Wait may find the counter still at 0.
        return (WgAdd(wg, 1),) + write + (WgDone(wg),), (WgWait(wg),) + read
    # Add before the goroutine starts: the start flag stands for the `go` statement. With a
    # capacity of k > 0, the destination adds 1 + k and the source calls Done k times before
    # its write: Wait must not return before the last Done.
    start = b.declare(Var(f"s{j}", atomic=True))
    extra = step.capacity
    return ((Await(start, 1, _SC),) + (WgDone(wg),) * extra + write + (WgDone(wg),),
            (WgAdd(wg, 1 + extra), Store(start, 1, _SC), WgWait(wg)) + read)


_MECHANISMS = {"chan": _chan, "mutex": _mutex, "atomic": _atomic, "close": _close,
               "rwmutex": _rwmutex, "once": _once, "waitgroup": _waitgroup,
               "chan-sync": _chan_sync}


def _decl_rank(decl) -> tuple:
    """Declarations in a stable, readable order: data, the counter, flags, primitives."""
    kinds = (Var, Mutex, Chan, Once, WaitGroup)
    return (kinds.index(type(decl)), isinstance(decl, Var) and decl.atomic, decl.name)


def _program(knobs: _Knobs, n: int, steps: list) -> Program:
    b = _Builder(n, knobs.locations[1])
    for j, step in enumerate(steps):
        if isinstance(step, _Handoff):
            b.handoff(step, j)
        elif isinstance(step, _Contention):
            b.contention(step, j)
        else:
            b.access(step)
    # Threads no step used are dropped (the others keep their relative order).
    threads = tuple(_name_registers(tuple(ops)) for ops in b.threads if ops)
    decls = tuple(sorted(b.decls.values(), key=_decl_rank))
    return Program(name=knobs.name, decls=_used(decls, threads), threads=threads,
                   description="; ".join(b.story))


def go_threads_default() -> tuple:
    """The `threads` of `go_programs()` when none is given: 2 to 3 threads, but never more
    than the CPUs this process may use (each program thread runs pinned to a CPU of its own),
    so on a 2-CPU machine, (2, 2)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 2)
    return (2, max(2, min(3, cpus)))


def go_programs(threads=None, ops=(1, 4), locations=(1, 2), sync=None, accesses=True,
                racy=True, contention=True, condition=False,
                name="go") -> st.SearchStrategy:
    """A strategy of Go-style programs for the `go` model (see the module docstring).

    - `threads`: how many threads the steps are spread over, an int or a (min, max) pair in
      [2, 8]; by default 2 to 3, but no more than this process's CPUs (`go_threads_default`).
      A thread no step lands in is dropped, so a one-step program has two threads.
    - `ops`: how many steps the whole program has (a handoff touches two threads); the
      first step is a handoff or a contention, so two threads always talk.
    - `locations`: how many plain data locations (x, y, ...) the steps choose from.
    - `sync`: None for every mechanism of `GO_MECHANISMS`, or the ones to use.
    - `accesses`: True for every kind of `GO_ACCESSES`, False for none, or some of them.
    - `racy`: True for the racy variant of a handoff now and then (1 in 4), False for
      never, "always" for only racy variants (the classic bugs, for race reports).
    - `contention`: also draw contention steps (two threads inside one mutex, rwmutex,
      channel or atomic counter at once; see `GO_CONTENTIONS`).
    - `condition`: add an `exists (...)` over some registers.
    - `name`: the programs' name; the description lists the handoffs.

    Every atomic op is seq_cst, the only order Go has. Shrinking goes towards one handoff
    over an unbuffered channel, proper rather than racy::

        >>> from hypothesis import find
        >>> p = find(go_programs(), lambda p: any(isinstance(op, Await) for _, op in p.ops()))
        >>> p.description, [len(t.ops) for t in p.threads]
        ('P0 -atomic-> P1', [2, 2])
    """
    threads = go_threads_default() if threads is None else threads
    knobs = _check(threads, ops, locations, sync, accesses, racy, condition, name)
    if not isinstance(contention, bool):
        raise InvalidArgument(f"contention={contention!r}: use True or False")
    # Steps that involve two threads (any of them can open a program) and one-thread accesses.
    two_thread = [_handoffs(knobs)] + (
        [_contentions(knobs)] if contention and _contention_kinds(knobs) else [])
    kinds = two_thread + ([_accesses(knobs)] if knobs.accesses else [])

    @st.composite
    def draw_program(draw):
        n = draw(st.integers(*knobs.threads))
        # The first step involves two threads (a handoff, or a contention), so every program
        # has two threads talking.
        first = draw(st.one_of(two_thread))
        rest = draw(st.lists(st.one_of(kinds), min_size=knobs.ops[0] - 1,
                             max_size=knobs.ops[1] - 1))
        program = _program(knobs, n, [first] + rest)
        if knobs.condition:
            cond = _condition(program, draw(_condition_choices((0, 2))))
            if cond is not None:
                program = replace(program, condition=cond)
        return program

    return draw_program()
