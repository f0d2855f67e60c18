"""The clauses of the Go primitives' contracts (docs/contracts.md), and which of them a program
exercises: the campaign summary counts them, so a clean campaign says what it covered.

A clause is *exercised* by a program whose shape lets a runtime that breaks the clause show
it: two threads locking one mutex, a channel with two receives, a Wait in two threads...
It is a static property of the program (no run needed)::

    >>> from stressmm.syntax import parse
    >>> p = parse('''litmus fifo
    ... chan d 2
    ... P0:
    ...   d <- 1
    ...   d <- 2
    ... P1:
    ...   r0 = <-d
    ...   r1 = <-d
    ... ''')[0]
    >>> sorted(exercised(p))
    ['chan.each-value-once', 'chan.fifo', 'chan.recv-blocks-until-value']
    >>> sorted(primitives(p))
    ['chan']
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .program import (Chan, Close, Load, Lock, Mutex, Once, OnceDo, Program, RLock, RUnlock,
                      Recv, Rmw, RmwOp, Send, Store, Unlock, WaitGroup, WgAdd, WgDone, WgWait,
                      is_plain_access, walk_ops)

__all__ = ["Clause", "CLAUSES", "PRIMITIVES", "exercised", "primitives", "clause"]

PRIMITIVES = ("mutex", "rwmutex", "chan", "close", "once", "waitgroup", "atomic")
"""The primitives of the checklist, in the order of docs/contracts.md."""


@dataclass(frozen=True)
class Clause:
    """One promise of a primitive: its id (`primitive.name`), the promise in words, and the
    runtime mutants that break it (see `stressmm mutants`)."""

    id: str
    text: str
    mutants: tuple
    test: Callable  # Program -> bool: does the program exercise the clause

    @property
    def primitive(self) -> str:
        return self.id.split(".", 1)[0]


# ---------------------------------------------------------------- program shape queries


def _uses(program: Program, name: str, kinds) -> list:
    """(thread, op) for every op of `kinds` on object `name`."""
    return [(t, op) for t, op in program.ops() if isinstance(op, kinds)
            and name in (getattr(op, a, None) for a in ("mutex", "chan", "once", "wg", "loc"))]


def _threads(uses) -> set:
    return {t for t, _ in uses}


def _objects(program: Program, kind, pred=lambda d: True) -> list:
    return [d.name for d in program.decls if isinstance(d, kind) and pred(d)]


def _mutexes(program: Program, rw: bool) -> list:
    return _objects(program, Mutex, lambda d: d.rw == rw)


def _channels(program: Program, buffered=None) -> list:
    return _objects(program, Chan, lambda d: buffered is None or (d.capacity > 0) == buffered)


def _any(names, pred) -> bool:
    return any(pred(n) for n in names)


def _locked_by_two(program: Program, rw: bool) -> bool:
    return _any(_mutexes(program, rw),
                lambda m: len(_threads(_uses(program, m, Lock))) >= 2
                or (rw and _threads(_uses(program, m, Lock))
                    and len(_threads(_uses(program, m, (Lock, RLock)))) >= 2))


def _read_by_two(program: Program, writer: bool) -> bool:
    return _any(_mutexes(program, True),
                lambda m: len(_threads(_uses(program, m, RLock))) >= 2
                and (not writer or bool(_uses(program, m, Lock))))


def _readers_wait_inside(program: Program) -> bool:
    """Two threads read-lock one RWMutex, and one of them waits inside its read section for
    another thread (a channel op, or a Wait): readers that never share the lock then
    deadlock. Without such a wait, readers taking turns look just like readers sharing."""
    def waits_inside(t, m):
        depth = 0
        for op in t.ops:
            if isinstance(op, (RLock, RUnlock)) and op.mutex == m:
                depth += 1 if isinstance(op, RLock) else -1
            elif depth and isinstance(op, (Send, Recv, WgWait)):
                return True
        return False

    return _any(_mutexes(program, True),
                lambda m: len(_threads(_uses(program, m, RLock))) >= 2
                and any(waits_inside(t, m) for t in program.threads))


def _sends(program, c):
    return _uses(program, c, Send)


def _recvs(program, c):
    return _uses(program, c, Recv)


def _fifo(program: Program) -> bool:
    def per_channel(c):
        per_thread = [t for t, _ in _sends(program, c)]
        kept = [op for _, op in _recvs(program, c) if op.reg is not None]
        return any(per_thread.count(t) >= 2 for t in set(per_thread)) and len(kept) >= 2
    return _any(_channels(program), per_channel)


def _capacity_exceeded(program: Program) -> bool:
    return any(len(_sends(program, d.name)) > d.capacity
               for d in program.decls if isinstance(d, Chan) and d.capacity > 0)


def _across(program: Program, c, first, second) -> bool:
    """Ops of kind `first` and `second` on `c` in two different threads."""
    a, b = _threads(_uses(program, c, first)), _threads(_uses(program, c, second))
    return any(x != y for x in a for y in b)


def _closed(program: Program, c) -> bool:
    return bool(_uses(program, c, Close))


def _once_from_two(program: Program) -> bool:
    return _any(_objects(program, Once), lambda o: len(_threads(_uses(program, o, OnceDo))) >= 2)


def _once_body_read_after(program: Program) -> bool:
    """Two threads call Do on one Once, and a thread reads after its Do what a body writes."""
    if not _once_from_two(program):
        return False
    for t in program.threads:
        written = set()
        for op in t.ops:
            if isinstance(op, OnceDo):
                written |= {o.loc for o in walk_ops(op.body) if isinstance(o, (Store, Rmw))}
            elif isinstance(op, (Load, Rmw)) and op.loc in written:
                return True
    return False


def _deltas(program: Program, wg) -> list:
    return [(t, -1 if isinstance(op, WgDone) else op.delta)
            for t, op in _uses(program, wg, (WgAdd, WgDone))]


def _wg(program: Program, pred) -> bool:
    return _any(_objects(program, WaitGroup), pred)


def _rmw(program: Program, kind, pred=lambda op: True) -> bool:
    return any(isinstance(op, Rmw) and op.op is kind and pred(op) for _, op in program.ops())


def _rmw_from_two(program: Program) -> bool:
    locs = {}
    for t, op in program.ops():
        if isinstance(op, Rmw):
            locs.setdefault(op.loc, set()).add(t)
    return any(len(ts) >= 2 for ts in locs.values())


def _store_buffering(program: Program) -> bool:
    """Two threads that each write one atomic location, then read another (SB on atomics;
    a plain access of an atomic location is no atomic op)."""
    pairs = set()
    for t in program.threads:
        written = set()
        for op in walk_ops(t.ops):
            if isinstance(op, Rmw) or (isinstance(op, Store) and not is_plain_access(op)):
                written.add(op.loc)
            elif isinstance(op, Load) and not is_plain_access(op):
                pairs |= {(w, op.loc) for w in written if w != op.loc}
    return any((b, a) in pairs for a, b in pairs)


# ---------------------------------------------------------------- the checklist

_C = Clause
CLAUSES = (
    _C("mutex.exclusion", "at most one goroutine holds a Mutex; Unlock n is synchronized "
       "before Lock m > n returns", ("mutex-nonatomic-tas", "mutex-relock-not-atomic"),
       lambda p: _locked_by_two(p, False)),
    _C("mutex.unlock-releases", "a Lock blocked on a held Mutex proceeds once it is unlocked",
       ("mutex-unlock-no-wake",), lambda p: _locked_by_two(p, False)),
    _C("rwmutex.writer-excludes", "a writer holds an RWMutex alone: no reader nor writer "
       "beside it", ("rwmutex-writer-beside-reader", "rwmutex-rlock-check-then-add"),
       lambda p: _locked_by_two(p, True)),
    _C("rwmutex.readers-share", "any number of readers hold an RWMutex together",
       ("rwmutex-readers-exclusive",), _readers_wait_inside),
    _C("rwmutex.writer-waits-for-readers", "Lock waits until every reader has called "
       "RUnlock (the matching RUnlock is synchronized before the next Lock returns)",
       ("rwmutex-runlock-drops-all",), lambda p: _read_by_two(p, writer=True)),
    _C("chan.each-value-once", "each value sent is received by exactly one receive",
       ("chan-slot-nonatomic", "chan-unbuffered-dup-recv"),
       lambda p: _any(_channels(p), lambda c: _sends(p, c) and len(_recvs(p, c)) >= 2)),
    _C("chan.fifo", "a channel delivers the values of one sender in the order sent",
       ("chan-lifo",), _fifo),
    _C("chan.buffered-capacity", "a send on a buffered channel blocks while the buffer is "
       "full (receive k is synchronized before send k+C completes)",
       ("chan-full-send-drops",), _capacity_exceeded),
    _C("chan.recv-blocks-until-value", "a receive on an empty open channel blocks until a "
       "value is sent; the send is synchronized before the receive completes",
       ("chan-empty-recv-zero",),
       lambda p: _any(_channels(p, buffered=True), lambda c: _across(p, c, Send, Recv))),
    _C("chan.unbuffered-rendezvous", "on an unbuffered channel a send and a receive complete "
       "together (the receive is synchronized before the send completes)",
       ("chan-unbuffered-as-buffered", "chan-unbuffered-recv-no-wait"),
       lambda p: _any(_channels(p, buffered=False), lambda c: _across(p, c, Send, Recv))),
    _C("close.recv-zero-not-ok", "a receive from a closed, drained channel returns the zero "
       "value and ok = false at once; the close is synchronized before it",
       ("chan-closed-recv-ok",),
       lambda p: _any(_channels(p), lambda c: _closed(p, c) and any(
           op.ok is not None for _, op in _recvs(p, c)))),
    _C("close.buffered-values-delivered", "values sent before close are still received, "
       "before the zero values", ("chan-close-drops-buffer",),
       lambda p: _any(_channels(p, buffered=True),
                      lambda c: _closed(p, c) and _sends(p, c) and _recvs(p, c))),
    _C("close.close-closed-panics", "closing a closed channel panics",
       ("chan-close-twice-ok",),
       lambda p: _any(_channels(p), lambda c: len(_uses(p, c, Close)) >= 2)),
    _C("close.send-on-closed-panics", "a send on a closed channel panics",
       ("chan-send-closed-ok",),
       lambda p: _any(_channels(p), lambda c: _closed(p, c) and _sends(p, c))),
    _C("close.wakes-receivers", "close releases the receives blocked on the channel",
       ("chan-close-no-wake",),
       lambda p: _any(_channels(p), lambda c: _across(p, c, Close, Recv))),
    _C("once.exactly-once", "the body of once.Do runs once, whoever calls Do and when",
       ("once-twice", "once-end-resets"), _once_from_two),
    _C("once.returns-after-body", "no call of Do returns before the body has returned (its "
       "completion is synchronized before every Do returns)", ("once-done-early",),
       _once_body_read_after),
    _C("waitgroup.add-delta", "Add adds its delta, which may be more than one or negative",
       ("wg-add-unit",),
       lambda p: _wg(p, lambda w: any(op.delta != 1 for _, op in _uses(p, w, WgAdd)))),
    _C("waitgroup.negative-panics", "Add (or Done) panics when the counter goes negative",
       ("wg-negative-no-panic",),
       lambda p: _wg(p, lambda w: sum(d for _, d in _deltas(p, w)) < 0)),
    _C("waitgroup.releases-all-waiters", "when the counter reaches zero every Wait returns",
       ("wg-wake-one",),
       lambda p: _wg(p, lambda w: len(_threads(_uses(p, w, WgWait))) >= 2)),
    _C("waitgroup.wait-until-zero", "Wait returns only once the counter is zero; a Done is "
       "synchronized before the Wait it unblocks", ("wg-early", "wg-wait-no-recheck"),
       lambda p: _wg(p, lambda w: any(t != u for t in _threads(_uses(p, w, WgWait))
                                      for u, d in _deltas(p, w) if d < 0))),
    _C("atomic.add-returns-new", "atomic.Add returns the new value", ("add-returns-old",),
       lambda p: _rmw(p, RmwOp.ADD, lambda op: op.reg is not None)),
    _C("atomic.add-delta", "atomic.Add adds its delta, whatever its sign and size",
       ("add-drops-sign",), lambda p: _rmw(p, RmwOp.ADD, lambda op: op.operand != 1)),
    _C("atomic.swap-returns-old", "atomic.Swap stores its value and returns the old one",
       ("swap-returns-new",), lambda p: _rmw(p, RmwOp.SWAP, lambda op: op.reg is not None)),
    _C("atomic.cas", "CompareAndSwap stores the new value if and only if the location holds "
       "the expected one, and says which", ("cas-ignores-failure", "cas-compares-new"),
       lambda p: _rmw(p, RmwOp.CAS, lambda op: op.reg is not None)),
    _C("atomic.rmw-atomic", "a read-modify-write is one indivisible step: no update is lost",
       ("add-not-atomic", "swap-not-atomic", "cas-not-atomic"), _rmw_from_two),
    _C("atomic.sc", "all atomic operations behave as if executed in one sequentially "
       "consistent order", ("sc-store-no-fence",), _store_buffering),
)
"""The checklist of docs/contracts.md, primitive by primitive."""


def clause(clause_id: str) -> Clause:
    """The clause with this id; KeyError names the known ids."""
    for c in CLAUSES:
        if c.id == clause_id:
            return c
    raise KeyError(f"no clause {clause_id!r}; known: {', '.join(c.id for c in CLAUSES)}")


def exercised(program: Program) -> frozenset:
    """The ids of the clauses `program` exercises."""
    return frozenset(c.id for c in CLAUSES if c.test(program))


def primitives(program: Program) -> frozenset:
    """The primitives of the checklist `program` uses (a closed channel counts as `close`)."""
    used = set()
    for _, op in program.ops():
        if isinstance(op, (Lock, Unlock, RLock, RUnlock)):
            used.add("rwmutex" if program.decl(op.mutex).rw else "mutex")
        elif isinstance(op, (Send, Recv)):
            used.add("chan")
        elif isinstance(op, Close):
            used.add("close")
        elif isinstance(op, OnceDo):
            used.add("once")
        elif isinstance(op, (WgAdd, WgDone, WgWait)):
            used.add("waitgroup")
        elif isinstance(op, Rmw) or (isinstance(op, (Load, Store)) and not is_plain_access(op)):
            used.add("atomic")
    return frozenset(used)


# ---------------------------------------------------------------- what a campaign covered


def tally(program: Program) -> dict:
    """The coverage counts one program adds: `primitive:<name>` per primitive it uses and
    `clause:<id>` per clause it exercises (each 1), for `Coverage.from_counts`."""
    counts = {f"primitive:{p}": 1 for p in primitives(program)}
    counts.update({f"clause:{c}": 1 for c in exercised(program)})
    return counts


def weak_runs(hist, judged: frozenset, sc: frozenset) -> int:
    """Runs of `hist` whose outcome sc forbids and the judging model allows (`judged`): the
    weak behaviour a campaign saw (timeouts are not outcomes of the program)."""
    return sum(n for o, n in hist.counts.items()
               if "timeout" not in o.flags and o not in sc and o in judged)


@dataclass(frozen=True)
class Coverage:
    """What a campaign exercised: programs per primitive, programs per clause, and the runs
    that showed weak outcomes (sc forbids them, the judging model allows them)::

        >>> cov = Coverage.from_counts({"programs": 3, "primitive:chan": 2,
        ...                             "clause:chan.fifo": 1, "weak_runs": 5,
        ...                             "weak_programs": 1, "runs": 60}, model="go")
        >>> print(cov.render(primitives_shown=("chan",)).splitlines()[1])
          chan       2 programs: each-value-once 0, fifo 1, buffered-capacity 0, recv-blocks-until-value 0, unbuffered-rendezvous 0
    """

    programs: int = 0
    runs: int = 0
    per_primitive: tuple = ()   # (primitive, programs using it)
    per_clause: tuple = ()      # (clause id, programs exercising it)
    weak_runs: int = 0
    weak_programs: int = 0
    model: str = ""

    @classmethod
    def from_counts(cls, counts: dict, model: str) -> "Coverage":
        return cls(programs=counts.get("programs", 0), runs=counts.get("runs", 0),
                   per_primitive=tuple((p, counts.get(f"primitive:{p}", 0)) for p in PRIMITIVES),
                   per_clause=tuple((c.id, counts.get(f"clause:{c.id}", 0)) for c in CLAUSES),
                   weak_runs=counts.get("weak_runs", 0),
                   weak_programs=counts.get("weak_programs", 0), model=model)

    def to_json(self) -> dict:
        return {"programs": self.programs, "runs": self.runs,
                "primitives": dict(self.per_primitive), "clauses": dict(self.per_clause),
                "weak_runs": self.weak_runs, "weak_programs": self.weak_programs,
                "weak_means": f"outcomes sc forbids and {self.model} allows"}

    def render(self, primitives_shown=PRIMITIVES) -> str:
        """Lines for the campaign summary: one per primitive with its clauses, then the weak
        outcomes seen."""
        lines = ["coverage (programs exercising each clause of docs/contracts.md):"]
        clauses = dict(self.per_clause)
        for prim, n in self.per_primitive:
            if prim not in primitives_shown:
                continue
            parts = ", ".join(f"{c.id.split('.', 1)[1]} {clauses[c.id]:,}"
                              for c in CLAUSES if c.primitive == prim)
            lines.append(f"  {prim:<9} {n:>2,} programs: {parts}")
        if self.model and self.model != "sc":
            lines.append(f"weak outcomes (sc forbids, {self.model} allows): {self.weak_runs:,} "
                         f"of {self.runs:,} runs, in {self.weak_programs:,} of "
                         f"{self.programs:,} programs")
        return "\n".join(lines)
