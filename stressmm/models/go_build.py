"""The execution builder of the `go` model: every candidate execution of a Go program, and
the outcomes and races of those its rules (`go.py`) allow.

How an execution is built (the construction is exact: every execution the rules allow is
enumerated, and nothing else):

1. *Synchronizing operations in one total order.* Atomics, channel, mutex, once and waitgroup
   operations are interleaved exhaustively (the memory model's Requirement 2: the mapping of
   synchronizing reads is explained by an implicit total order consistent with sequencing).
   Blocking follows the Go specification and the `sync` documentation, as in the `sc` model
   (`machine.mutex_steps`: an RWMutex's Lock may or may not announce itself to new
   readers). Interleavings that differ only in the order of
   operations on *different* objects give the same graph and are explored once (`terminals`).
2. *Plain (non-synchronizing) accesses* run in program order between the synchronizing ones;
   a plain read yields a symbolic value (its event id); a plain write records the expression
   it writes (registers are linear expressions over those symbols). Atomic compare-and-swap
   and atomic awaits on a symbolic value branch, recording the value constraint they assume.
   A plain load or store of an atomic variable (a *mixed* location, `Program.mixed`) is not
   run eagerly: it takes its place in the location's total order like an atomic op, reading
   or setting the location's current value, as an event of kind MR / MW that synchronizes
   with nothing (see `go.py` for why this is exact for race-free programs).
3. *Reads-from for plain reads* is chosen at the end, on the complete graph (`judge`), among
   the writes the rules' per-read checks leave visible, read by read, cutting at once a
   choice that closes a cycle of the relation the rules keep acyclic; the symbols are then
   resolved and every recorded constraint is checked. The final value of a plain location is
   that of a write no other write of it happens after (coherence order is any total order
   extending happens-before). When the plain reads are independent (`_box`: no constraint,
   no value read flows anywhere), the outcomes are the product of each read's visible values
   and of the final values, kept as such (`base.OutcomeSpace`) rather than listed when they
   outnumber the work limit.

The rules come from the model object (`go.GoModel`): `relations(x)`, `per_read` (checks that
concern one read's reads-from edge), `causal` (the relation that must stay acyclic),
`with_reads_from(r, y)` and `races_of(x, hb)`.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import NamedTuple, Optional

from ..outcome import Outcome
from ..program import (Await, Chan, Close, Fence, Load, Lock, Mutex, Once, OnceDo, Program,
                       RLock, RUnlock, Recv, Rmw, RmwOp, Send, Store, Sum, Unlock,
                       WaitGroup, WgAdd, WgDone, WgWait, is_plain_access, walk_ops)
from .base import Box
from .explorer import Budget
from .graph import Relation
from .machine import mutex_steps, op_text

__all__ = ["Access", "Race", "Compiled", "Execution", "GoEvent", "Judged", "executions",
           "terminals", "judge", "resolve", "holds", "outcomes_of", "last_writes"]

# =============================================================================== races


@dataclass(frozen=True, order=True)
class Access:
    """One op of a race: thread, index of the op in the thread (once bodies counted in program
    order), source line (None for programs not read from a file) and its text."""

    thread: int
    index: int
    line: Optional[int]
    text: str

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line is not None else ""
        return f"P{self.thread} `{self.text}`{where}"


@dataclass(frozen=True, order=True)
class Race:
    """Two conflicting accesses, at least one plain, unordered by happens-before.

        >>> print(Race(Access(0, 0, 6, "data = 1"), Access(1, 1, 10, "r0 = data")))
        P0 `data = 1` (line 6) and P1 `r0 = data` (line 10) are not ordered by happens-before
    """

    first: Access
    second: Access

    def __str__(self) -> str:
        return f"{self.first} and {self.second} are not ordered by happens-before"


# =============================================================================== compilation


class _Ins(NamedTuple):
    kind: str          # load store rmw await fence lock unlock rlock runlock send recv close
    #                    once once_end wg_add wg_wait
    op: object
    index: int         # index of the op in walk_ops order of its thread
    obj: Optional[str]
    plain: bool        # runs eagerly (plain memory op or fence)
    skip: int = -1     # once: the pc after the body


_KIND = {Load: "load", Store: "store", Rmw: "rmw", Await: "await", Fence: "fence",
         Lock: "lock", Unlock: "unlock", RLock: "rlock", RUnlock: "runlock", Send: "send",
         Recv: "recv", Close: "close", WgAdd: "wg_add", WgDone: "wg_add", WgWait: "wg_wait"}


def _compile(program: Program, ops: tuple, out: list, counter: list) -> None:
    for op in ops:
        index = counter[0]
        counter[0] += 1
        if isinstance(op, OnceDo):
            at = len(out)
            out.append(None)
            _compile(program, op.body, out, counter)
            out.append(_Ins("once_end", op, index, op.once, False))
            out[at] = _Ins("once", op, index, op.once, False, len(out))
            continue
        kind = _KIND[type(op)]
        obj = getattr(op, "loc", None) or getattr(op, "mutex", None) or \
            getattr(op, "chan", None) or getattr(op, "wg", None)
        plain = kind == "fence" or (kind in ("load", "store", "await")
                                    and not program.decl(op.loc).atomic)
        out.append(_Ins(kind, op, index, obj, plain))


class Compiled:
    """A program prepared for exploration. With `record` False (allowed only for programs
    without plain memory ops, whose outcomes need no happens-before), the explorer forgets the
    graph and keeps only what decides the future, so equal states merge as in `sc`."""

    def __init__(self, program: Program, record: bool = True):
        self.program = program
        self.record = record or any(is_plain_access(op) for _, op in program.ops())
        self.code = []
        self.ops = []
        for thread in program.threads:
            ins: list = []
            _compile(program, thread.ops, ins, [0])
            self.code.append(tuple(ins))
            self.ops.append(tuple(walk_ops(thread.ops)))
        self.code = tuple(self.code)
        self.ops = tuple(self.ops)
        self.reg_names = tuple(program.registers(t) for t in range(len(program.threads)))
        self.reg_index = tuple({r: i for i, r in enumerate(names)} for names in self.reg_names)
        self.atomics = tuple(v.name for v in program.vars if v.atomic)
        self.plains = tuple(v.name for v in program.vars if not v.atomic)
        self.mixed = program.mixed
        self.prims = tuple(d for d in program.decls if isinstance(d, (Mutex, Chan, Once,
                                                                      WaitGroup)))
        self.objects = self.atomics + tuple(d.name for d in self.prims)
        self.obj_index = {name: i for i, name in enumerate(self.objects)}
        self.prim_index = {d.name: i for i, d in enumerate(self.prims)}
        self.init = {v.name: v.init for v in program.vars}


# =============================================================================== exploration
#
# Values are linear expressions `(constant, symbols)` where each symbol is the event id of a
# plain read (its value is known only once its write is chosen). An exploration event is a
# tuple (kind, obj, op_index, value, extra, deps); `deps` are the events whose values the
# event uses through registers (data dependencies).

def _const(v: int) -> tuple:
    return (v, ())


def _add(a: tuple, b: tuple) -> tuple:
    return (a[0] + b[0], tuple(sorted(a[1] + b[1])))


_ZERO, _ONE = _const(0), _const(1)
_PANIC = "panic"


class _State(NamedTuple):
    pcs: tuple         # per thread; -1: spinning forever on a plain await
    regs: tuple        # per thread: tuple of (expression, writer event id or None)
    amem: tuple        # per atomic variable: (expression, writer event id or None)
    sync: tuple        # per primitive: as in machine.py
    events: tuple      # per thread: tuple of exploration events
    seqs: tuple        # per object: tuple of event ids, in the total order
    cons: frozenset    # assumed constraints (expression, value, equal)


def _put(tup: tuple, i: int, value) -> tuple:
    return tup[:i] + (value,) + tup[i + 1:]


def _operand(c: Compiled, s: _State, t: int, v) -> tuple:
    """(expression, deps) of an op operand: a constant, a register of thread t, or a register
    plus a constant (`Sum`)."""
    if isinstance(v, Sum):
        expr, deps = _operand(c, s, t, v.reg)
        return _add(expr, _const(v.const)), deps
    if isinstance(v, str):
        expr, writer = s.regs[t][c.reg_index[t][v]]
        return expr, (() if writer is None else (writer,))
    return _const(v), ()


def _emit(c, s: _State, t: int, ev: tuple, *, pc=None, regs=(), amem=None, sync=None,
          cons=(), seq=True) -> _State:
    """State after thread t adds event `ev` (appended to its object's order when `seq`)."""
    eid = (t, len(s.events[t]))
    treg = s.regs[t]
    for reg, value in regs:
        treg = _put(treg, c.reg_index[t][reg], (value, eid))
    seqs = s.seqs
    if seq:
        i = c.obj_index[ev[1]]
        seqs = _put(seqs, i, seqs[i] + (eid,))
    return _State(_put(s.pcs, t, s.pcs[t] + 1 if pc is None else pc), _put(s.regs, t, treg),
                  s.amem if amem is None else amem, s.sync if sync is None else sync,
                  _put(s.events, t, s.events[t] + (ev,)), seqs,
                  s.cons | frozenset(cons))


def _settle(c: Compiled, s: _State) -> list:
    """Run every thread's plain ops up to its next synchronizing op (plain awaits branch:
    the loop exits, or spins forever)."""
    states = [s]
    for t in range(len(c.code)):
        nxt = []
        for st in states:
            nxt.extend(_run_plain(c, st, t))
        states = nxt
    return states


def _run_plain(c: Compiled, s: _State, t: int) -> list:
    out, todo = [], [s]
    code = c.code[t]
    while todo:
        s = todo.pop()
        pc = s.pcs[t]
        if pc < 0 or pc >= len(code) or not code[pc].plain:
            out.append(s)
            continue
        ins = code[pc]
        op = ins.op
        eid = (t, len(s.events[t]))
        sym = (0, (eid,))
        if ins.kind == "fence":                        # no fence in Go: a no-op
            todo.append(s._replace(pcs=_put(s.pcs, t, pc + 1)))
        elif ins.kind == "load":
            todo.append(_emit(c, s, t, ("R", op.loc, ins.index, sym, None, ()),
                              regs=((op.reg, sym),), seq=False))
        elif ins.kind == "store":
            value, deps = _operand(c, s, t, op.value)
            todo.append(_emit(c, s, t, ("W", op.loc, ins.index, value, None, deps), seq=False))
        else:                                          # a plain spin loop
            exits = (sym, op.value, op.until_equal)
            spins = (sym, op.value, not op.until_equal)
            todo.append(_emit(c, s, t, ("R", op.loc, ins.index, sym, "exit", ()),
                              cons=(exits,), seq=False))
            out.append(_emit(c, s, t, ("R", op.loc, ins.index, sym, "spin", ()),
                             pc=-1, cons=(spins,), seq=False))
    return out


def _sync_steps(c: Compiled, s: _State):
    """The steps of synchronizing ops out of settled state `s`: a list of states (or
    (_PANIC, state) pairs), whether some step is certainly enabled, and the constraints under
    which no conditional step (an atomic await on a symbolic value) is enabled."""
    out, certain, blocked_if = [], False, []
    for t, pc in enumerate(s.pcs):
        code = c.code[t]
        if pc < 0 or pc >= len(code):
            continue
        ins = code[pc]
        op, kind = ins.op, ins.kind
        eid = (t, len(s.events[t]))
        if kind in ("load", "store", "rmw", "await"):
            a = c.obj_index[ins.obj]
            old, src = s.amem[a]
            mixed = "M" if is_plain_access(op) else "A"   # a plain access of an atomic variable
            if kind == "load":
                out.append(_emit(c, s, t, (mixed + "R", op.loc, ins.index, old, (src,), ()),
                                 regs=((op.reg, old),)))
                certain = True
            elif kind == "store":
                value, deps = _operand(c, s, t, op.value)
                out.append(_emit(c, s, t, (mixed + "W", op.loc, ins.index, value, None, deps),
                                 amem=_put(s.amem, a, (value, eid))))
                certain = True
            elif kind == "rmw":
                arg, deps = _operand(c, s, t, op.operand)
                regs = lambda v: ((op.reg, v),) if op.reg is not None else ()  # noqa: E731
                if op.op in (RmwOp.ADD, RmwOp.FETCH_ADD):   # Go's atomic.Add: the new value
                    new = _add(old, arg)
                    got = new if op.op is RmwOp.ADD else old  # C's fetch_add: the old one
                    out.append(_emit(c, s, t, ("RMW", op.loc, ins.index, new, (src, old), deps),
                                     regs=regs(got), amem=_put(s.amem, a, (new, eid))))
                elif op.op is RmwOp.SWAP:            # Swap returns the old value
                    out.append(_emit(c, s, t, ("RMW", op.loc, ins.index, arg, (src, old), deps),
                                     regs=regs(old), amem=_put(s.amem, a, (arg, eid))))
                else:                                # CAS: 1 on success, 0 on failure
                    win, lose = (old, op.expected, True), (old, op.expected, False)
                    symbolic = bool(old[1])          # success unknown: branch on it
                    if symbolic or old[0] == op.expected:
                        out.append(_emit(c, s, t, ("RMW", op.loc, ins.index, arg, (src, old),
                                                   deps), regs=regs(_ONE),
                                         amem=_put(s.amem, a, (arg, eid)),
                                         cons=(win,) if symbolic else ()))
                    if symbolic or old[0] != op.expected:     # a failed CAS only reads
                        out.append(_emit(c, s, t, ("AR", op.loc, ins.index, old, (src,), ()),
                                         regs=regs(_ZERO), cons=(lose,) if symbolic else ()))
                certain = True
            else:                                    # atomic spin loop
                ev = ("AR", op.loc, ins.index, old, (src,), ())
                if old[1]:
                    out.append(_emit(c, s, t, ev, cons=((old, op.value, op.until_equal),)))
                    blocked_if.append((old, op.value, not op.until_equal))
                elif (old[0] == op.value) == op.until_equal:
                    out.append(_emit(c, s, t, ev))
                    certain = True
            continue
        p = c.prim_index[ins.obj]
        state = s.sync[p]
        step = None
        if kind in ("lock", "unlock", "rlock", "runlock"):
            moves = mutex_steps(kind, state, t)
            if moves is None:
                step = (_PANIC, s)
            for new, returns in moves or ():          # a Lock may announce itself: no event
                out.append(_emit(c, s, t, (kind.upper(), ins.obj, ins.index, None, None, ()),
                                 sync=_put(s.sync, p, new)) if returns
                           else s._replace(sync=_put(s.sync, p, new)))
                certain = True
        elif kind == "send":
            closed, items = state
            value, deps = _operand(c, s, t, op.value)
            capacity = c.prims[p].capacity
            if closed:
                step = (_PANIC, s)                   # send on a closed channel panics
            elif capacity > 0:
                if len(items) < capacity:
                    step = _emit(c, s, t, ("SEND", ins.obj, ins.index, value, None, deps),
                                 sync=_put(s.sync, p, (False, items + ((value, eid),))))
            else:                                    # rendezvous with a waiting receiver
                for u, upc in enumerate(s.pcs):
                    if u == t or upc < 0 or upc >= len(c.code[u]):
                        continue
                    other = c.code[u][upc]
                    if other.kind == "recv" and other.obj == ins.obj:
                        st = _emit(c, s, t, ("SEND", ins.obj, ins.index, value, None, deps),
                                   pc=pc)
                        st = _emit(c, st, u, ("RECV", ins.obj, other.index, value,
                                              ("value", eid), ()),
                                   regs=_received(other.op, value, _ONE))
                        st = _emit(c, st, t, ("SENT", ins.obj, ins.index, value, None, ()))
                        out.append(st)
                        certain = True
        elif kind == "recv":
            closed, items = state
            if items:
                (value, sender), rest = items[0], items[1:]
                step = _emit(c, s, t, ("RECV", ins.obj, ins.index, value, ("value", sender), ()),
                             regs=_received(op, value, _ONE), sync=_put(s.sync, p, (closed, rest)))
            elif closed:
                step = _emit(c, s, t, ("RECV", ins.obj, ins.index, _ZERO, ("closed", closed), ()),
                             regs=_received(op, _ZERO, _ZERO))
        elif kind == "close":
            closed, items = state
            step = (_PANIC, s) if closed else _emit(
                c, s, t, ("CLOSE", ins.obj, ins.index, None, None, ()),
                sync=_put(s.sync, p, (eid, items)))
        elif kind == "once":
            if state == "new":                       # the first caller runs the body
                step = _emit(c, s, t, ("ONCE", ins.obj, ins.index, None, "run", ()),
                             sync=_put(s.sync, p, "running"))
            elif state == "done":                    # the body ran: return at once
                step = _emit(c, s, t, ("ONCE", ins.obj, ins.index, None, "skip", ()),
                             pc=ins.skip)
        elif kind == "once_end":
            step = _emit(c, s, t, ("ONCE_END", ins.obj, ins.index, None, None, ()),
                         sync=_put(s.sync, p, "done"))
        elif kind == "wg_add":
            delta = -1 if isinstance(op, WgDone) else op.delta
            step = (_PANIC, s) if state + delta < 0 else _emit(
                c, s, t, ("WG_ADD", ins.obj, ins.index, None, delta, ()),
                sync=_put(s.sync, p, state + delta))
        elif kind == "wg_wait":
            if state == 0:
                step = _emit(c, s, t, ("WG_WAIT", ins.obj, ins.index, None, None, ()))
        if step is not None:
            out.append(step)
            certain = True
    return out, certain, blocked_if


def _received(op: Recv, value: tuple, ok: tuple) -> tuple:
    regs = ()
    if op.reg is not None:
        regs += ((op.reg, value),)
    if op.ok is not None:
        regs += ((op.ok, ok),)
    return regs


def _initial(c: Compiled) -> _State:
    n = len(c.code)
    sync = []
    for d in c.prims:
        sync.append((False, ()) if isinstance(d, Chan) else "new" if isinstance(d, Once) else 0)
    return _State((0,) * n, tuple(tuple((_ZERO, None) for _ in regs) for regs in c.reg_names),
                  tuple((_const(c.init[a]), None) for a in c.atomics), tuple(sync),
                  ((),) * n, ((),) * len(c.objects), frozenset())


def _forget(c: Compiled, s: _State) -> _State:
    """`s` without its history (for programs without plain memory ops, see `Compiled`)."""
    if c.record:
        return s
    n = len(s.pcs)
    sync = tuple((bool(st[0]), tuple((v, None) for v, _ in st[1])) if isinstance(st, tuple)
                 else st for st in s.sync)
    return _State(s.pcs, tuple(tuple((v, None) for v, _ in regs) for regs in s.regs),
                  tuple((v, None) for v, _ in s.amem), sync, ((),) * n, ((),) * len(s.seqs),
                  s.cons)


def terminals(c: Compiled, budget: Budget) -> set:
    """Every terminal (flag, state) of the exploration; each state visited spends one unit of
    `budget`."""
    starts = [_forget(c, st) for st in _settle(c, _initial(c))]
    seen = set(starts)
    budget.spend(len(seen))
    stack = list(starts)
    terminals = set()
    while stack:
        s = stack.pop()
        steps, certain, blocked_if = _sync_steps(c, s)
        for step in steps:
            if isinstance(step, tuple) and step and step[0] is _PANIC:
                terminals.add(("panic", step[1]))
                continue
            for nxt in _settle(c, step):
                nxt = _forget(c, nxt)
                if nxt not in seen:
                    budget.spend()
                    seen.add(nxt)
                    stack.append(nxt)
        if not certain:                              # the run may stop here
            done = all(pc == len(code) for pc, code in zip(s.pcs, c.code))
            flag = None if done else "deadlock"
            terminals.add((flag, s._replace(cons=s.cons | frozenset(blocked_if))))
    return terminals


# =============================================================================== executions


@dataclass(frozen=True, eq=False)
class GoEvent:
    """An event of a candidate execution (compared and hashed by id)."""

    id: tuple
    kind: str
    loc: Optional[str]
    expr: Optional[tuple]
    extra: object
    deps: tuple
    op: object
    op_index: int
    is_await: bool
    value: Optional[int] = None      # filled in for display once symbols are resolved

    def __hash__(self) -> int:
        return hash(self.id)

    def __eq__(self, other) -> bool:
        return isinstance(other, GoEvent) and self.id == other.id

    @property
    def thread(self) -> int:
        return self.id[0]

    @property
    def is_init(self) -> bool:
        return self.id[0] < 0

    @property
    def text(self) -> str:
        if self.is_init:
            return f"{self.loc} = {self.value if self.value is not None else self.expr[0]}"
        base = op_text(self.op)
        if self.kind == "SENT":
            return f"{base}  (completes)"
        if self.kind == "ONCE_END":
            return f"end of {self.loc}.Do body"
        return base

    @property
    def line(self) -> Optional[int]:
        return getattr(self.op, "line", None)

    def access(self) -> Access:
        return Access(self.thread, self.op_index, self.line, op_text(self.op))

    def short(self) -> str:
        short_kind = {"R": "R", "W": "W", "AR": "R", "AW": "W", "RMW": "RMW", "MR": "R",
                      "MW": "W"}.get(self.kind)
        if short_kind is not None:
            v = "?" if self.value is None else self.value
            return f"{short_kind} {self.loc}={v}"
        return f"P{self.thread}:{self.text}"

    def __str__(self) -> str:
        if self.is_init:
            return f"the initial value {self.text}"
        where = f" (line {self.line})" if self.line is not None else ""
        return f"P{self.thread} `{self.text}`{where}"


class Execution:
    """A candidate execution: the events of a terminal state of the exploration, program
    order, per-object orders of the synchronizing ops and (once chosen) the plain reads-from.
    `x.with_rf(choice)` gives the same execution with another plain reads-from."""

    def __init__(self, c: Compiled, state: _State, flag: Optional[str]):
        self.compiled, self.state, self.flag = c, state, flag
        self.program = c.program
        events, by_id = [], {}
        for i, name in enumerate(v.name for v in c.program.vars):
            e = GoEvent((-1, i), "W", name, _const(c.init[name]), None, (), None, -1, False)
            events.append(e)
        for t, evs in enumerate(state.events):
            for k, (kind, obj, index, expr, extra, deps) in enumerate(evs):
                op = c.ops[t][index]
                events.append(GoEvent((t, k), kind, obj, expr, extra, deps, op, index,
                                  isinstance(op, Await)))
        for e in events:
            by_id[e.id] = e
        self.events = tuple(events)
        self._by_id = by_id
        self._init_of = {e.loc: e for e in events if e.is_init}
        po = [(a, b) for a in events if a.is_init for b in events if not b.is_init]
        for t in range(len(state.events)):
            mine = [e for e in events if e.thread == t]
            po.extend(itertools.combinations(mine, 2))
        self.po = Relation.of(po)
        self.data = Relation.of((by_id[d], e) for e in events for d in e.deps)
        self.rf = Relation()
        self._seqs = {name: tuple(by_id[i] for i in ids)
                      for name, ids in zip(c.objects, state.seqs)}

    # -- lookups used by the rules ------------------------------------------------------
    def ev(self, eid):
        """The event with id `eid`; None stands for the initial write (of atomics)."""
        return self._by_id[eid] if eid is not None else None

    def pairs(self, pairs) -> Relation:
        return Relation.of((a, b) for a, b in pairs if a is not None and b is not None)

    def kind(self, kind: str) -> list:
        return [e for e in self.events if e.kind == kind]

    def seq(self, obj: str, kind: Optional[str] = None) -> tuple:
        return tuple(e for e in self._seqs[obj] if kind is None or e.kind == kind)

    def nth(self, obj: str, kind: str, n: int):
        """The nth (0-based) event of `kind` on `obj` in the total order, or None."""
        evs = self.seq(obj, kind)
        return evs[n] if 0 <= n < len(evs) else None

    def capacity(self, chan: str) -> int:
        return self.program.decl(chan).capacity

    def channels(self) -> list:
        return [(d.name, d.capacity) for d in self.compiled.prims if isinstance(d, Chan)]

    def mutexes(self) -> list:
        return [d.name for d in self.compiled.prims if isinstance(d, Mutex)]

    def onces(self) -> list:
        return [d.name for d in self.compiled.prims if isinstance(d, Once)]

    def waitgroups(self) -> list:
        return [d.name for d in self.compiled.prims if isinstance(d, WaitGroup)]

    def completion(self, send):
        """The completion (SENT event) of an unbuffered send: its next event in po."""
        return self._by_id.get((send.thread, send.id[1] + 1))

    def rlocks(self) -> list:
        """(mutex, RLock event, n): n = how many Unlocks precede the RLock in the order."""
        out = []
        for m in self.mutexes():
            unlocks = 0
            for e in self.seq(m):
                if e.kind == "UNLOCK":
                    unlocks += 1
                elif e.kind == "RLOCK":
                    out.append((m, e, unlocks))
        return out

    def runlocks_before_locks(self) -> list:
        """(mutex, RUnlock event, Lock event): every RUnlock between the mutex's Unlock n (or
        its start) and its Lock n+1, with that Lock. Readers come back to zero before Lock
        n+1 returns, so each of these RUnlocks is the matching RUnlock of an RLock of the same
        window, whichever goroutine called it."""
        out = []
        for m in self.mutexes():
            window = []
            for e in self.seq(m):
                if e.kind == "RUNLOCK":
                    window.append(e)
                elif e.kind == "LOCK":
                    out.extend((m, ru, e) for ru in window)
                elif e.kind == "UNLOCK":
                    window = []
        return out

    def wait_rounds(self, wg: str) -> list:
        """(Wait event, the Dones it synchronizes with): every Add of a negative delta before
        the Wait in the WaitGroup's order. Go keeps the counter in one atomic word changed by
        read-modify-writes, so the Wait's load of zero reads the end of a chain of every
        earlier Add, and every earlier Done is a Done that unblocks it (a counter that rose
        from zero again in between does not break the chain)."""
        out, dones = [], []
        for e in self.seq(wg):
            if e.kind == "WG_ADD":
                if e.extra < 0:
                    dones.append(e)
            else:
                out.append((e, tuple(dones)))
        return out

    def writes(self, loc: str) -> list:
        """The plain writes of `loc`, its initial write first."""
        return [self._init_of[loc]] + [e for e in self.events
                                       if e.kind == "W" and e.loc == loc and not e.is_init]

    def plain_reads(self) -> list:
        return [e for e in self.events if e.kind == "R"]

    def with_rf(self, choice: dict) -> "Execution":
        """This execution with plain reads-from `choice` (read -> write)."""
        other = object.__new__(Execution)
        other.__dict__.update(self.__dict__)
        other.rf = Relation.of((w, r) for r, w in choice.items())
        return other


def resolve(x: Execution, choice: dict):
    """The evaluation function of value expressions under plain reads-from `choice`, or None
    when some value depends on itself (a value out of thin air)."""
    env: dict = {}                  # symbol (a plain read's id) -> its value
    active: set = set()
    source = {r.id: w for r, w in choice.items()}

    def value_of(expr):
        total = expr[0]
        for sym in expr[1]:
            if sym not in env:
                if sym in active:
                    raise _Cyclic()
                active.add(sym)
                env[sym] = value_of(source[sym].expr)
                active.discard(sym)
            total += env[sym]
        return total

    try:
        for r in choice:
            value_of((0, (r.id,)))
    except _Cyclic:
        return None
    return value_of


class _Cyclic(Exception):
    pass


def holds(value_of, cons) -> bool:
    return all((value_of(expr) == v) == equal for expr, v, equal in cons)


def last_writes(x: Execution, hb: Relation) -> list:
    """Per plain location, the writes no other write of it happens after (hb does not depend
    on the plain reads-from, so this is computed once per execution)."""
    out = []
    for loc in x.compiled.plains:
        ws = x.writes(loc)
        out.append([w for w in ws if not any((w, w2) in hb for w2 in ws if w2 != w)])
    return out


def outcomes_of(x: Execution, value_of, hb: Relation, last: Optional[list] = None) -> list:
    """The outcomes of a consistent execution: one per choice of the final write of each
    plain location among the writes no other write of it happens after (`last`, from
    `last_writes`, when already known)."""
    if x.flag is not None:
        return [Outcome.flagged(x.flag)]
    c, s = x.compiled, x.state
    regs = {(t, name): value_of(s.regs[t][i][0])
            for t, names in enumerate(c.reg_names) for i, name in enumerate(names)}
    mem = {a: value_of(s.amem[i][0]) for i, a in enumerate(c.atomics)}
    finals = [sorted({value_of(w.expr) for w in ws})
              for ws in (last if last is not None else last_writes(x, hb))]
    out = []
    for values in itertools.product(*finals):
        out.append(Outcome.make(regs, {**mem, **dict(zip(c.plains, values))}))
    return out


@dataclass(frozen=True)
class Judged:
    outcomes: frozenset
    races: frozenset
    witnesses: tuple   # (outcome, execution with rf, value_of) per outcome, first found
    boxes: tuple = ()  # more outcomes, as products (`_box`), when not listed one by one


def _reaches(succ: dict, a, b) -> bool:
    """Whether b is reachable from a (a yes/no: no path is kept)."""
    seen, stack = {a}, [a]
    while stack:
        u = stack.pop()
        for v in succ.get(u, ()):
            if v == b:
                return True
            if v not in seen:
                seen.add(v)
                stack.append(v)
    return False


def judge(x: Execution, rules, keep_witnesses: bool, budget: Budget) -> Judged:
    """Check every plain reads-from of `x` against the axioms of `rules` (the model: see the
    module's docstring); collect outcomes and races. Each reads-from choice spends one unit
    of `budget`."""
    if not any(e.kind in ("R", "W", "MR", "MW") for e in x.events):
        # No plain access: every value is fixed by the total order, no race is possible and
        # no cycle of causality either (every edge goes forward in program or total order).
        if not x.state.cons:
            outs = outcomes_of(x, lambda expr: expr[0], Relation())
            wit = tuple((o, x, lambda expr: expr[0]) for o in outs) if keep_witnesses else ()
            return Judged(frozenset(outs), frozenset(), wit)
    r0 = rules.relations(x)
    hb = r0["hb"]
    reads = x.plain_reads()
    options = []
    for rd in reads:
        ok = []
        for w in x.writes(rd.loc):
            y = x.with_rf({rd: w})
            rel = rules.with_reads_from(r0, y)
            if all(check(y, rel) is None for check in rules.per_read):
                ok.append(w)
        options.append(ok)
    outcomes, witnesses = set(), []
    succ = {e: set(after) for e, after in r0[rules.causal].successors().items()}
    last = last_writes(x, hb)
    choice: dict = {}

    def leaf():
        y = x.with_rf(dict(choice))
        value_of = resolve(y, choice)
        if value_of is None or not holds(value_of, x.state.cons):
            return
        found = outcomes_of(y, value_of, hb, last)
        budget.spend(len(found))                     # each outcome is work (and memory)
        for o in found:
            if o not in outcomes:
                outcomes.add(o)
                if keep_witnesses:
                    witnesses.append((o, y, value_of))

    def choose(i):
        # Reads-from chosen read by read; a choice that closes a cycle of `rules.causal`
        # (go's `no-acausal`) is cut at once, with the rest of the reads still unchosen.
        budget.spend()
        if i == len(reads):
            leaf()
            return
        rd = reads[i]
        for w in options[i]:
            if _reaches(succ, rd, w):                # w -rf-> rd would close a cycle
                continue
            fresh = rd not in succ.setdefault(w, set())
            succ[w].add(rd)
            choice[rd] = w
            choose(i + 1)
            del choice[rd]
            if fresh:
                succ[w].discard(rd)

    if not all(options):                             # some read can observe no write
        return Judged(frozenset(), frozenset(), ())
    box = None if keep_witnesses else _box(x, reads, options, succ, last)
    if box is not None:
        budget.spend(len(reads))
        races = _races(x, rules, hb)
        return Judged(frozenset(), races, (), (box,))
    choose(0)
    if not outcomes:
        return Judged(frozenset(), frozenset(), ())
    races = _races(x, rules, hb)
    return Judged(frozenset(outcomes), races, tuple(witnesses))


def _races(x: Execution, rules, hb: Relation) -> frozenset:
    return frozenset(Race(*sorted((a.access(), b.access()))) for a, b in rules.races_of(x, hb))


def _box(x: Execution, reads: list, options: list, succ: dict, last: list) -> Optional[Box]:
    """The outcomes of `x` as one product (`Box`) when its plain reads are independent of
    each other: no constraint was assumed (`x.state.cons`), no plain read has a causal
    successor (so no choice of reads-from can close a `no-acausal` cycle), every write's value
    is a constant, and every register holds a constant or the value of one plain read. Then
    each read may take any write its own rules leave visible, whatever the others take: the
    outcomes are exactly every combination of the reads' values and of the final values
    (`last_writes`). None when that does not hold (the reads are chosen one by one)."""
    if x.flag is not None or x.state.cons or any(succ.get(rd) for rd in reads):
        return None
    if any(e.expr is not None and e.expr[1] for e in x.events if e.kind != "R"):
        return None
    c, s = x.compiled, x.state
    values_of = {rd.id: tuple(sorted({w.expr[0] for w in ws})) for rd, ws in zip(reads, options)}
    regs = []
    for t, names in enumerate(c.reg_names):
        for i, name in enumerate(names):
            const, syms = s.regs[t][i][0]
            if not syms:
                regs.append(((t, name), (const,)))
            elif len(syms) == 1 and const == 0 and syms[0] in values_of:
                regs.append(((t, name), values_of[syms[0]]))
            else:
                return None
    mem = [(a, (s.amem[i][0][0],)) for i, a in enumerate(c.atomics)]
    mem += [(loc, tuple(sorted({w.expr[0] for w in ws}))) for loc, ws in zip(c.plains, last)]
    return Box(tuple(sorted(regs)), tuple(sorted(mem)))




def executions(program: Program, budget: Budget, record: bool = True) -> list:
    """Every candidate execution of `program` without its plain reads-from, in a fixed order;
    each state of the search spends one unit of `budget`."""
    c = Compiled(program, record=record)
    found = terminals(c, budget)
    return [Execution(c, s, flag) for flag, s in sorted(found, key=_term_key)]


def _term_key(term):
    flag, s = term
    return (flag or "", repr(s))
