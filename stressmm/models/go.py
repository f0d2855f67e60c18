"""The Go memory model (go.dev/ref/mem, version of June 6, 2022) on execution graphs.

    >>> from stressmm.program import Program, Thread, Var, Chan, Store, Load, Send, Recv
    >>> mp = Program("MP", (Var("data"), Var("ready")), (
    ...     Thread((Store("data", 1), Store("ready", 1))),
    ...     Thread((Load("r0", "ready"), Load("r1", "data")))))
    >>> res = GO.allowed(mp)
    >>> res.allows("P1:r0=1 P1:r1=0")                  # a racy program: the weak outcome is allowed
    True
    >>> print(res.races[0])
    P0 `data = 1` and P1 `r1 = data` are not ordered by happens-before
    >>> fixed = Program("MP+chan", (Var("data"), Chan("c")), (
    ...     Thread((Store("data", 1), Send("c", 1))),
    ...     Thread((Recv("c"), Load("r1", "data")))))
    >>> sorted(str(o) for o in GO.allowed(fixed).outcomes), GO.allowed(fixed).races
    (['P1:r1=1 data=1'], ())

How an execution is built (the construction is exact: every execution the rules allow is
enumerated, and nothing else):

1. *Synchronizing operations in one total order.* Atomics, channel, mutex, once and waitgroup
   operations are interleaved exhaustively (the memory model's Requirement 2: the mapping of
   synchronizing reads is explained by an implicit total order consistent with sequencing).
   Blocking follows the Go specification and the `sync` documentation, as in the `sc` model
   (`machine.mutex_steps`: an RWMutex's Lock may or may not announce itself to new
   readers). Interleavings that differ only in the order of
   operations on *different* objects give the same graph and are explored once.
2. *Plain (non-synchronizing) accesses* run in program order between the synchronizing ones;
   a plain read yields a symbolic value (its event id); a plain write records the expression
   it writes (registers are linear expressions over those symbols). Atomic compare-and-swap
   and atomic awaits on a symbolic value branch, recording the value constraint they assume.
3. *Reads-from for plain reads* is chosen at the end, on the complete graph, among the writes
   the rules below leave visible; the symbols are then resolved and every recorded constraint
   is checked. The final value of a plain location is that of a write no other write of it
   happens after (coherence order is any total order extending happens-before). When the
   plain reads are independent (`_box`: no constraint, no value read flows anywhere), the
   outcomes are the product of each read's visible values and of the final values, kept as
   such (`base.OutcomeSpace`) rather than listed when they outnumber the work limit.

Decisions, documented here once:

- *Memory orders.* The Go memory model has only sequentially consistent atomics, so under
  `go` every atomic op is seq_cst whatever order it carries, and fences are no-ops (Go has no
  fence; the atomics already order everything).
- *Racy reads* follow the rule of "Implementation Restrictions for Programs Containing Data
  Races" literally: each read observes a write it does not happen before and that no other
  write to the location happens between. Nothing else is promised, so racy plain reads need
  not be coherent with each other, and load buffering (a read observing a write that is later
  in program order of another thread) is allowed unless it is *acausal*: see the
  `no-acausal` axiom.
- *Causality.* "Observation of acausal and out of thin air writes is not allowed" is read as:
  data dependencies (through registers), the control dependency of everything after a spin
  loop on the read that ended it, reads-from and synchronized-before together are acyclic
  (`no-acausal`). So `r0 = x; y = r0 || r1 = y; x = r1` cannot produce 1, two spin loops
  cannot release each other, and plain load buffering with constant stores stays allowed.
- *Spin loops* (`Await`) are one read that observes a value satisfying the exit condition
  (earlier failing iterations only add happens-before edges, and a slow spinner may have
  missed them). A spinner may also spin forever: a plain await may keep observing a visible
  value that fails the condition; an atomic await stays blocked when the value it sees last
  fails it. A run in which some goroutine never finishes is the `deadlock` outcome, as in the
  other models; panics end the run with `panic`.
- *WaitGroup.* The 2022 memory model is silent; the `sync` documentation says "a call to Done
  synchronizes before the return of any Wait call that it unblocks": the Dones (Adds of a
  negative delta) ordered before the Wait in the WaitGroup's order are synchronized before it:
  Go keeps the counter in one atomic word, so a Wait reads the end of a chain of every
  earlier Add, even when the counter rose from zero again in between (`scenarios/go/WG+reuse`).
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import NamedTuple, Optional

from ..outcome import Outcome
from ..program import (Await, Chan, Close, Fence, Load, Lock, Mutex, Once, OnceDo, Program,
                       RLock, RUnlock, Recv, Rmw, RmwOp, Send, Store, Sum, Unlock,
                       WaitGroup, WgAdd, WgDone, WgWait, walk_ops)
from .base import (Box, CachedModel, Explanation, ModelResult, OutcomeSpace, _check_program,
                   matcher, order_cycle)
from .explorer import StateLimitError
from .graph import Relation, show_cycle
from .machine import mutex_steps, op_text

__all__ = ["GO", "GoModel", "Race", "Access", "Execution", "relations", "AXIOMS"]

DEFAULT_MAX_STATES = 400_000


# =============================================================================== the rules
#
# A candidate execution (`Execution`) gives its events, program order `po` (the spec's
# "sequenced before"), the per-object order of synchronizing operations, the reads-from of
# atomic reads and receives (fixed by that order), data dependencies and, once chosen, the
# reads-from of plain reads. Every relation the memory model derives is one line below.


def relations(x: "Execution") -> dict:
    """The derived relations of execution `x`, by name (the names of the memory model)."""
    r: dict = {"po": x.po}
    # -- "Synchronized before" edges, one rule each (go.dev/ref/mem, "Synchronization") --
    # Channel communication: "A send on a channel is synchronized before the completion of
    # the corresponding receive from that channel."
    r["sw-chan-send"] = x.pairs((s, v) for v in x.kind("RECV") if v.extra[0] == "value"
                                for s in [x.ev(v.extra[1])])
    # "The closing of a channel is synchronized before a receive that returns because the
    # channel is closed."
    r["sw-chan-close"] = x.pairs((x.ev(v.extra[1]), v) for v in x.kind("RECV")
                                 if v.extra[0] == "closed")
    # "A receive from an unbuffered channel is synchronized before the completion of the
    # corresponding send on that channel." (The completion of an unbuffered send is its
    # SENT event.)
    r["sw-chan-unbuffered"] = x.pairs((v, x.completion(x.ev(v.extra[1])))
                                      for v in x.kind("RECV") if v.extra[0] == "value"
                                      and x.capacity(v.loc) == 0)
    # "The kth receive on a channel with capacity C is synchronized before the completion of
    # the k+Cth send from that channel completes." (C > 0; for C = 0 it is the rule above.)
    r["sw-chan-capacity"] = x.pairs(
        (recv, sends[k + cap]) for c, cap in x.channels() if cap > 0
        for sends in [x.seq(c, "SEND")] for k, recv in enumerate(x.seq(c, "RECV"))
        if k + cap < len(sends))
    # Locks: "For any sync.Mutex or sync.RWMutex variable l and n < m, call n of l.Unlock()
    # is synchronized before call m of l.Lock() returns."
    r["sw-mutex"] = x.pairs((u, lk) for m in x.mutexes() for i, u in enumerate(x.seq(m))
                            if u.kind == "UNLOCK" for lk in x.seq(m)[i + 1:] if lk.kind == "LOCK")
    # "For any call to l.RLock on a sync.RWMutex variable l, there is an n such that the nth
    # call to l.Unlock is synchronized before the return from l.RLock, ...
    r["sw-rlock"] = x.pairs((x.nth(m, "UNLOCK", n - 1), rl) for m, rl, n in x.rlocks() if n > 0)
    # ... and the matching call to l.RUnlock is synchronized before the return from call n+1
    # to l.Lock." An RWMutex belongs to no goroutine (one may RUnlock what another RLocked)
    # and a goroutine may hold several read locks, so which RUnlock matches which RLock is
    # not fixed; every RUnlock between Unlock n and Lock n+1 matches an RLock made there.
    r["sw-runlock"] = x.pairs((ru, lk) for m, ru, lk in x.runlocks_before_locks())
    # Once: "The completion of a single call of f() from once.Do(f) is synchronized before
    # the return of any call of once.Do(f)." (The body's caller returns after it in po.)
    r["sw-once"] = x.pairs((end, skip) for o in x.onces() for end in x.seq(o, "ONCE_END")
                           for skip in x.seq(o, "ONCE") if skip.extra == "skip")
    # WaitGroup (pkg.go.dev/sync#WaitGroup): "a call to Done synchronizes before the return
    # of any Wait call that it unblocks."
    r["sw-waitgroup"] = x.pairs((done, wait) for w in x.waitgroups()
                                for wait, dones in x.wait_rounds(w) for done in dones)
    # Atomic values: "If the effect of an atomic operation A is observed by atomic operation
    # B, then A is synchronized before B."
    r["sw-atomic"] = x.pairs((x.ev(e.extra[0]), e) for e in x.events
                             if e.kind in ("AR", "RMW") and e.extra[0] is not None)
    sw = Relation()
    for name in SW_RULES:
        sw = sw | r[name]
    r["sw"] = sw
    # "The happens before relation is defined as the transitive closure of the union of the
    # sequenced before and synchronized before relations."
    r["hb"] = (x.po | sw).plus()
    # Reads-from: plain reads (chosen), atomic reads (fixed by the total order).
    r["rf"] = x.rf | r["sw-atomic"]
    # Causality, for "observation of acausal and 'out of thin air' writes is not allowed":
    # data dependencies through registers, and control dependency on a spin loop's read.
    r["data"] = x.data
    r["ctrl"] = x.po.where(dom=lambda e: e.is_await)
    r["causal"] = r["data"] | r["ctrl"] | r["rf"] | sw
    return r


SW_RULES = ("sw-chan-send", "sw-chan-close", "sw-chan-unbuffered", "sw-chan-capacity",
            "sw-mutex", "sw-rlock", "sw-runlock", "sw-once", "sw-waitgroup", "sw-atomic")

RULE_TEXT = {
    "sw-chan-send": "a send on a channel is synchronized before the completion of the "
                    "corresponding receive",
    "sw-chan-close": "the closing of a channel is synchronized before a receive that returns "
                     "because the channel is closed",
    "sw-chan-unbuffered": "a receive from an unbuffered channel is synchronized before the "
                          "completion of the corresponding send",
    "sw-chan-capacity": "the kth receive on a channel with capacity C is synchronized before "
                        "the completion of the k+Cth send",
    "sw-mutex": "call n of l.Unlock() is synchronized before call m of l.Lock() returns (n < m)",
    "sw-rlock": "the nth call to l.Unlock is synchronized before the return from l.RLock",
    "sw-runlock": "the matching l.RUnlock is synchronized before the return from call n+1 "
                  "to l.Lock",
    "sw-once": "the completion of f() in once.Do(f) is synchronized before the return of any "
               "once.Do(f)",
    "sw-waitgroup": "a call to Done synchronizes before the return of any Wait it unblocks",
    "sw-atomic": "if the effect of atomic A is observed by atomic B, A is synchronized before B",
}

EDGE_LABEL = {"po": "po", "sw-chan-send": "send", "sw-chan-close": "close",
              "sw-chan-unbuffered": "recv", "sw-chan-capacity": "recv", "sw-mutex": "unlock",
              "sw-rlock": "unlock", "sw-runlock": "runlock", "sw-once": "once",
              "sw-waitgroup": "done", "sw-atomic": "rf", "rf": "rf", "data": "data",
              "ctrl": "ctrl", "fr": "fr", "hb": "hb"}


# The axioms a candidate execution must satisfy (go.dev/ref/mem), one check each. Each takes
# the execution and its relations and returns None, or the witness cycle of the violation.

def no_future_read(x, r):
    """'a read r ... must observe some write w such that r does not happen before w'
    (Implementation Restrictions for Programs Containing Data Races; Requirement 3 for
    race-free programs): rf ; hb is irreflexive."""
    for w, rd in x.rf:
        if (rd, w) in r["hb"]:
            return [w, rd, w]
    return None


def no_overwritten_read(x, r):
    """'... and there is no write w' such that w happens before w' and w' happens before r':
    hb ; [W] ; hb ; rf^-1 is irreflexive on each location."""
    for w, rd in x.rf:
        for w2 in x.writes(rd.loc):
            if w2 != w and (w, w2) in r["hb"] and (w2, rd) in r["hb"]:
                return [w2, rd, w2]              # w2 -hb-> r -fr-> w2 (r reads w, before w2)
    return None


def no_acausal(x, r):
    """'observation of acausal and out of thin air writes is not allowed': no value or spin
    loop exit may depend on itself, i.e. (data | ctrl | rf | sw) is acyclic."""
    return r["causal"].acyclic()


AXIOMS = (
    ("no-future-read", no_future_read,
     "a read may not observe a write it happens before"),
    ("no-overwritten-read", no_overwritten_read,
     "a read may not observe a write that another write to the location overwrites "
     "before the read in happens-before"),
    ("no-acausal", no_acausal,
     "observation of acausal and out of thin air writes is not allowed"),
)
"""(name, check, the rule in words). Atomics are sequentially consistent by construction:
the explorer enumerates total orders of the synchronizing operations only."""


def races_of(x: "Execution", hb: Relation) -> list:
    """'A data race is defined as a write to a memory location happening concurrently with
    another read or write to that same location, unless all the accesses involved are atomic
    data accesses': the pairs of conflicting plain accesses unordered by happens-before."""
    accesses = [e for e in x.events if e.kind in ("R", "W")]
    out = []
    for a, b in itertools.combinations(accesses, 2):
        if (a.loc == b.loc and "W" in (a.kind, b.kind) and a.thread != b.thread
                and (a, b) not in hb and (b, a) not in hb):
            out.append((a, b))
    return out


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


class _Compiled:
    """A program prepared for exploration. With `record` False (allowed only for programs
    without plain memory ops, whose outcomes need no happens-before), the explorer forgets the
    graph and keeps only what decides the future, so equal states merge as in `sc`."""

    def __init__(self, program: Program, record: bool = True):
        self.program = program
        self.record = record or any(isinstance(op, (Load, Store, Await))
                                    and not program.decl(op.loc).atomic
                                    for _, op in program.ops())
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


def _operand(c: _Compiled, s: _State, t: int, v) -> tuple:
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


def _settle(c: _Compiled, s: _State) -> list:
    """Run every thread's plain ops up to its next synchronizing op (plain awaits branch:
    the loop exits, or spins forever)."""
    states = [s]
    for t in range(len(c.code)):
        nxt = []
        for st in states:
            nxt.extend(_run_plain(c, st, t))
        states = nxt
    return states


def _run_plain(c: _Compiled, s: _State, t: int) -> list:
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


def _sync_steps(c: _Compiled, s: _State):
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
            if kind == "load":
                out.append(_emit(c, s, t, ("AR", op.loc, ins.index, old, (src,), ()),
                                 regs=((op.reg, old),)))
                certain = True
            elif kind == "store":
                value, deps = _operand(c, s, t, op.value)
                out.append(_emit(c, s, t, ("AW", op.loc, ins.index, value, None, deps),
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


def _initial(c: _Compiled) -> _State:
    n = len(c.code)
    sync = []
    for d in c.prims:
        sync.append((False, ()) if isinstance(d, Chan) else "new" if isinstance(d, Once) else 0)
    return _State((0,) * n, tuple(tuple((_ZERO, None) for _ in regs) for regs in c.reg_names),
                  tuple((_const(c.init[a]), None) for a in c.atomics), tuple(sync),
                  ((),) * n, ((),) * len(c.objects), frozenset())


def _forget(c: _Compiled, s: _State) -> _State:
    """`s` without its history (for programs without plain memory ops, see `_Compiled`)."""
    if c.record:
        return s
    n = len(s.pcs)
    sync = tuple((bool(st[0]), tuple((v, None) for v, _ in st[1])) if isinstance(st, tuple)
                 else st for st in s.sync)
    return _State(s.pcs, tuple(tuple((v, None) for v, _ in regs) for regs in s.regs),
                  tuple((v, None) for v, _ in s.amem), sync, ((),) * n, ((),) * len(s.seqs),
                  s.cons)


def _terminals(c: _Compiled, max_states: int, what: str):
    """Every terminal (flag, state) of the exploration, and the number of states visited."""
    starts = [_forget(c, st) for st in _settle(c, _initial(c))]
    seen = set(starts)
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
                    seen.add(nxt)
                    stack.append(nxt)
        if not certain:                              # the run may stop here
            done = all(pc == len(code) for pc, code in zip(s.pcs, c.code))
            flag = None if done else "deadlock"
            terminals.add((flag, s._replace(cons=s.cons | frozenset(blocked_if))))
        if len(seen) > max_states:
            raise StateLimitError(max_states, what)
    return terminals, len(seen)


# =============================================================================== executions


@dataclass(frozen=True, eq=False)
class _Ev:
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
        return isinstance(other, _Ev) and self.id == other.id

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
        short_kind = {"R": "R", "W": "W", "AR": "R", "AW": "W", "RMW": "RMW"}.get(self.kind)
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

    def __init__(self, c: _Compiled, state: _State, flag: Optional[str]):
        self.compiled, self.state, self.flag = c, state, flag
        self.program = c.program
        events, by_id = [], {}
        for i, name in enumerate(v.name for v in c.program.vars):
            e = _Ev((-1, i), "W", name, _const(c.init[name]), None, (), None, -1, False)
            events.append(e)
        for t, evs in enumerate(state.events):
            for k, (kind, obj, index, expr, extra, deps) in enumerate(evs):
                op = c.ops[t][index]
                events.append(_Ev((t, k), kind, obj, expr, extra, deps, op, index,
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


def _resolve(x: Execution, choice: dict):
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


def _holds(value_of, cons) -> bool:
    return all((value_of(expr) == v) == equal for expr, v, equal in cons)


def _last_writes(x: Execution, hb: Relation) -> list:
    """Per plain location, the writes no other write of it happens after (hb does not depend
    on the plain reads-from, so this is computed once per execution)."""
    out = []
    for loc in x.compiled.plains:
        ws = x.writes(loc)
        out.append([w for w in ws if not any((w, w2) in hb for w2 in ws if w2 != w)])
    return out


def _outcomes(x: Execution, value_of, hb: Relation, last: Optional[list] = None) -> list:
    """The outcomes of a consistent execution: one per choice of the final write of each
    plain location among the writes no other write of it happens after (`last`, from
    `_last_writes`, when already known)."""
    if x.flag is not None:
        return [Outcome.flagged(x.flag)]
    c, s = x.compiled, x.state
    regs = {(t, name): value_of(s.regs[t][i][0])
            for t, names in enumerate(c.reg_names) for i, name in enumerate(names)}
    mem = {a: value_of(s.amem[i][0]) for i, a in enumerate(c.atomics)}
    finals = [sorted({value_of(w.expr) for w in ws})
              for ws in (last if last is not None else _last_writes(x, hb))]
    out = []
    for values in itertools.product(*finals):
        out.append(Outcome.make(regs, {**mem, **dict(zip(c.plains, values))}))
    return out


@dataclass(frozen=True)
class _Judged:
    outcomes: frozenset
    races: frozenset
    witnesses: tuple   # (outcome, execution with rf, value_of) per outcome, first found
    boxes: tuple = ()  # more outcomes, as products (`_box`), when not listed one by one


class Budget:
    """Work left to a search (a count of steps, shared by the parts of one `allowed`); past
    it, `spend` raises StateLimitError naming `what`.

        >>> b = Budget(1, "P")
        >>> b.spend(); b.spend()
        Traceback (most recent call last):
        ...
        stressmm.models.explorer.StateLimitError: exploring P visited 1 states without finishing, so no outcome set is returned (a partial one could wrongly forbid an outcome). Shrink the program (fewer threads, ops or values), or raise the limit: `--max-states 4` on the command line, get_model(name).with_max_states(4) in Python.
    """

    def __init__(self, limit: int, what: str, used: int = 0):
        self.limit, self.what, self.used = limit, what, used

    def spend(self, n: int = 1) -> None:
        self.used += n
        if self.used > self.limit:
            raise StateLimitError(self.limit, self.what)


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


def _judge(x: Execution, keep_witnesses: bool, budget: Budget) -> _Judged:
    """Check every plain reads-from of `x` against the axioms; collect outcomes and races.
    Each reads-from choice spends one unit of `budget`."""
    if not any(e.kind in ("R", "W") for e in x.events):
        # No plain access: every value is fixed by the total order, no race is possible and
        # no cycle of causality either (every edge goes forward in program or total order).
        if not x.state.cons:
            outs = _outcomes(x, lambda expr: expr[0], Relation())
            wit = tuple((o, x, lambda expr: expr[0]) for o in outs) if keep_witnesses else ()
            return _Judged(frozenset(outs), frozenset(), wit)
    r0 = relations(x)
    hb = r0["hb"]
    reads = x.plain_reads()
    options = []
    for rd in reads:
        ok = []
        for w in x.writes(rd.loc):
            y = x.with_rf({rd: w})
            rel = dict(r0, rf=y.rf | r0["sw-atomic"])
            if no_future_read(y, rel) is None and no_overwritten_read(y, rel) is None:
                ok.append(w)
        options.append(ok)
    outcomes, witnesses = set(), []
    succ = {e: set(after) for e, after in r0["causal"].successors().items()}
    last = _last_writes(x, hb)
    choice: dict = {}

    def leaf():
        y = x.with_rf(dict(choice))
        value_of = _resolve(y, choice)
        if value_of is None or not _holds(value_of, x.state.cons):
            return
        found = _outcomes(y, value_of, hb, last)
        budget.spend(len(found))                     # each outcome is work (and memory)
        for o in found:
            if o not in outcomes:
                outcomes.add(o)
                if keep_witnesses:
                    witnesses.append((o, y, value_of))

    def choose(i):
        # Reads-from chosen read by read; a choice that closes a cycle of causality
        # (`no-acausal`) is cut at once, with the rest of the reads still unchosen.
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
        return _Judged(frozenset(), frozenset(), ())
    box = None if keep_witnesses else _box(x, reads, options, succ, last)
    if box is not None:
        budget.spend(len(reads))
        races = frozenset(Race(*sorted((a.access(), b.access()))) for a, b in races_of(x, hb))
        return _Judged(frozenset(), races, (), (box,))
    choose(0)
    if not outcomes:
        return _Judged(frozenset(), frozenset(), ())
    races = frozenset(Race(*sorted((a.access(), b.access()))) for a, b in races_of(x, hb))
    return _Judged(frozenset(outcomes), races, tuple(witnesses))


def _box(x: Execution, reads: list, options: list, succ: dict, last: list) -> Optional[Box]:
    """The outcomes of `x` as one product (`Box`) when its plain reads are independent of
    each other: no constraint was assumed (`x.state.cons`), no plain read has a causal
    successor (so no choice of reads-from can close a `no-acausal` cycle), every write's value
    is a constant, and every register holds a constant or the value of one plain read. Then
    each read may take any write its own rules leave visible, whatever the others take: the
    outcomes are exactly every combination of the reads' values and of the final values
    (`_last_writes`). None when that does not hold (the reads are chosen one by one)."""
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


# =============================================================================== the model


class GoModel(CachedModel):
    """The `go` model object: `.allowed(program)`, `.explain(program, pattern)` and
    `.why_forbidden(program, pattern)`. Results are memoised per program (small LRU)."""

    name = "go"
    description = ("the Go memory model (go.dev/ref/mem, 2022): happens-before from channels, "
                   "mutexes, once, waitgroups and seq_cst atomics; data races reported")
    default_max_states = DEFAULT_MAX_STATES

    def _executions(self, program: Program, record: bool = True):
        _check_program(program, self.name)
        c = _Compiled(program, record=record)
        terminals, states = _terminals(c, self.max_states,
                                       f"{program.name or 'the program'} under go")
        execs = [Execution(c, s, flag) for flag, s in sorted(terminals, key=_term_key)]
        return execs, states

    def allowed(self, program: Program) -> ModelResult:
        """Every outcome of `program` the Go memory model allows, and its data races."""
        _check_program(program, self.name)
        hit = self._cache.get(program)
        if hit is not None:
            return hit
        start = time.perf_counter()
        execs, states = self._executions(program, record=False)
        budget = Budget(self.max_states, f"{program.name or 'the program'} under go", states)
        outcomes, races, boxes = set(), set(), []
        for x in execs:
            judged = _judge(x, False, budget)
            outcomes |= judged.outcomes
            races |= judged.races
            boxes.extend(b for b in judged.boxes if b not in boxes)
        space = OutcomeSpace(frozenset(outcomes), tuple(boxes), self.max_states,
                             f"{program.name or 'the program'} under go")
        if boxes and _listable(space, self.max_states - budget.used):
            budget.spend(len(space))                 # listed, as other results are
            space = frozenset(space)
        elif not boxes:
            space = frozenset(outcomes)
        result = ModelResult(space, tuple(sorted(races)), budget.used,
                             time.perf_counter() - start)
        self._cache.put(program, result)
        return result

    def explain(self, program: Program, pattern) -> Optional[Explanation]:
        """An execution the model allows that ends in an outcome matching `pattern` (its
        events per goroutine, what each read observed, the synchronized-before edges and the
        races), or None when every such outcome is forbidden (see `why_forbidden`)."""
        match = matcher(pattern, program)
        if not self.allowed(program).allows(pattern):   # exact without listing them
            return None
        execs, states = self._executions(program)
        budget = Budget(self.max_states, f"{program.name or 'the program'} under go", states)
        for x in execs:
            judged = _judge(x, True, budget)
            for o, y, value_of in judged.witnesses:
                if match(o):
                    return Explanation(o, _describe(y, value_of, o), self.name, program.name)
        raise AssertionError("go: an allowed outcome has no witness execution")  # pragma: no cover

    def why_forbidden(self, program: Program, pattern) -> str:
        """Why no execution ends in an outcome matching `pattern`: the rule every candidate
        execution with those values breaks, with a witness cycle. "" when it is allowed."""
        match = matcher(pattern, program)
        if self.allowed(program).allows(pattern):
            return ""
        execs, _ = self._executions(program)
        broken: dict = {}
        budget = [WHY_BUDGET]
        for x in execs:
            for rule, witness in _broken_rules(x, match, budget):
                broken.setdefault(rule, witness)
        name = program.name or "the program"
        if not broken:
            witness = _sc_witness(program, match)
            if witness is not None:
                return (f"{name}: {pattern} is forbidden by go; every candidate execution giving "
                        f"those values has a cycle in po | rf | co | fr of the atomic "
                        f"operations, e.g.\n  {witness} breaks \"atomics-sc: all the atomic "
                        f"operations executed in a program behave as though executed in some "
                        f"sequentially consistent order\"")
            return (f"{name}: {pattern} is forbidden by go: no total order of the synchronizing "
                    f"operations (atomics are sequentially consistent; channel, mutex, once "
                    f"and waitgroup operations block as in Go) and no choice of writes for the "
                    f"plain reads gives those values")
        lines = [f"{name}: {pattern} is forbidden by go; every candidate execution giving those "
                 f"values breaks a rule:"]
        for rule, witness in broken.items():
            lines.append(f"  {witness} breaks \"{rule}\"")
        return "\n".join(lines)


def _listable(space: OutcomeSpace, room: int) -> bool:
    """Whether `space` has at most `room` outcomes (then a result lists them, as every small
    result does; larger ones stay an `OutcomeSpace`: exact membership, bounded listing)."""
    return sum(b.size for b in space.boxes) + len(space.explicit) <= room


def _term_key(term):
    flag, s = term
    return (flag or "", repr(s))


WHY_BUDGET = 20_000
"""Candidate executions `why_forbidden` examines at most; past it, it explains in general terms
(it runs on every counterexample a campaign reports, so it must stay cheap)."""


def _broken_rules(x: Execution, match, budget: list) -> list:
    """For candidate executions of `x` that give a matching outcome when the plain reads may
    read any write of their location: the first axiom each breaks and its witness. Each
    candidate spends one unit of `budget` ([n], shared by the caller); none is left: stop."""
    r0 = relations(x)
    hb = r0["hb"]
    reads = x.plain_reads()
    found = []
    for combo in itertools.product(*[x.writes(rd.loc) for rd in reads]):
        if budget[0] <= 0:
            break
        budget[0] -= 1
        choice = dict(zip(reads, combo))
        y = x.with_rf(choice)
        value_of = _resolve(y, choice)
        if value_of is None or not _holds(value_of, x.state.cons):   # gives no outcome
            continue
        # Outcomes of this candidate when the final value may be any write's.
        finals = [o for o in _all_finals(y, value_of) if match(o)]
        if not finals:
            continue
        rel = dict(r0, rf=y.rf | r0["sw-atomic"], causal=r0["causal"] | y.rf)
        for name, check, _ in AXIOMS:
            cycle = check(y, rel)
            if cycle is not None:
                found.append(_witness(y, rel, value_of, name, cycle))
                break
        else:
            allowed_here = set(_outcomes(y, value_of, hb))
            for o in finals:
                if o not in allowed_here:
                    found.append(("final-value", _final_witness(y, value_of, hb, o)))
                    break
    return found


def _sc_witness(program: Program, match, limit: int = 20_000) -> Optional[str]:
    """For a program of atomic loads and stores of constants only: the shortest cycle of
    po | rf | co | fr found among the candidate executions (any rf, any co) giving a matching
    outcome, each of which has such a cycle. None when the program has other ops, the
    candidates are too many, or some candidate is acyclic (then nothing is claimed).

        >>> from stressmm.program import Program, Thread, Var, Store, Load, Order
        >>> sb = Program("SB", (Var("x", True), Var("y", True)), (
        ...     Thread((Store("x", 1, Order.RELAXED), Load("r0", "y", Order.RELAXED))),
        ...     Thread((Store("y", 1, Order.RELAXED), Load("r1", "x", Order.RELAXED)))))
        >>> _sc_witness(sb, matcher("P0:r0=0 P1:r1=0"))
        'W x=1 -po-> R y=0 -fr-> W y=1 -po-> R x=0 -fr-> W x=1'
    """
    if any(not v.atomic for v in program.vars):
        return None
    found = order_cycle(program, match, lambda order: False, limit)   # every atomic is seq_cst
    return None if found is None else found[1]


def _all_finals(x: Execution, value_of) -> list:
    if x.flag is not None:
        return [Outcome.flagged(x.flag)]
    everything = Relation()
    return _outcomes(x, value_of, everything)


def _final_witness(x, value_of, hb, o) -> str:
    for loc in x.compiled.plains:
        want = o.memory(loc)
        for w in x.writes(loc):
            if value_of(w.expr) != want:
                continue
            for w2 in x.writes(loc):
                if w2 != w and (w, w2) in hb:
                    a, b = _valued(w, value_of), _valued(w2, value_of)
                    return (f"{a.short()} -hb-> {b.short()}: the final value of {loc} is that of "
                            f"a write no other write happens after")
    return "the final value of a location is that of a write no other write happens after"


def _valued(e: _Ev, value_of) -> _Ev:
    if e.expr is None:
        return e
    return _Ev(e.id, e.kind, e.loc, e.expr, e.extra, e.deps, e.op, e.op_index, e.is_await,
               value_of(e.expr) if value_of is not None else None)


def _edge_label(rel: dict, a, b) -> str:
    for name in ("rf", "data", "ctrl") + SW_RULES + ("po",):
        if (a, b) in rel[name]:
            return EDGE_LABEL[name]
    if (a, b) in rel["hb"]:
        return "hb"
    return "fr"


def _expand_hb(rel: dict, cycle: list) -> list:
    """Replace each hb edge of `cycle` by a shortest path of po and sw edges."""
    base = rel["po"] | rel["sw"]
    out = [cycle[0]]
    for a, b in zip(cycle, cycle[1:]):
        if (a, b) in rel["hb"] and (a, b) not in base:
            succ = base.successors()
            prev, frontier = {a: None}, [a]
            while frontier and b not in prev:
                nxt = []
                for u in frontier:
                    for v in succ.get(u, ()):
                        if v not in prev:
                            prev[v] = u
                            nxt.append(v)
                frontier = nxt
            path, v = [], b
            while v is not None and v != a:
                path.append(v)
                v = prev.get(v)
            out.extend(reversed(path))
        else:
            out.append(b)
    return out


def _witness(x, rel, value_of, rule, cycle) -> tuple:
    text = dict((n, t) for n, _, t in AXIOMS)[rule]
    cycle = _expand_hb(rel, cycle)
    shown = [_valued(e, value_of) for e in cycle]
    by_id = {e.id: e for e in cycle}
    body = show_cycle(shown, lambda a, b: _edge_label(rel, by_id[a.id], by_id[b.id]))
    return (f"{rule}: {text}", body)


def _describe(x: Execution, value_of, outcome: Outcome) -> list:
    """The steps of an explanation: each goroutine's events with what its reads observed,
    then the synchronized-before edges and the races of the execution."""
    rel = relations(x)
    rf_of = {r: w for w, r in x.rf}
    steps = []
    for e in x.events:
        if e.is_init:
            continue
        line = f"P{e.thread}: {e.text}"
        v = _valued(e, value_of)
        if e.kind == "R":
            w = _valued(rf_of[e], value_of)
            spin = "  (spins forever)" if e.extra == "spin" else ""
            line += f"  reads {v.value} from {w}{spin}"
        elif e.kind in ("AR", "RMW"):
            src = x.ev(e.extra[0])
            seen = value_of(e.extra[1] if e.kind == "RMW" else e.expr)
            origin = (src if src is not None
                      else f"the initial value {e.loc} = {x.compiled.init[e.loc]}")
            line += f"  reads {seen} from {origin}"
        elif e.kind == "RECV":
            line += ("  gets 0, ok=0 (the channel is closed)" if e.extra[0] == "closed"
                     else f"  receives {v.value} from {x.ev(e.extra[1])}")
        elif e.kind == "ONCE":
            line += "  (first call: runs the body)" if e.extra == "run" else "  (returns: body ran)"
        elif e.kind in ("W", "AW", "SEND"):
            line += f"  writes {v.value}" if e.kind != "SEND" else f"  sends {v.value}"
        steps.append(line)
    for obj in x.compiled.objects:
        order = x.seq(obj)
        if len({e.thread for e in order}) > 1:       # a total order several goroutines share
            steps.append(f"order of {obj}: " + ", ".join(
                str(e) for e in order))
    for name in SW_RULES:
        for a, b in sorted(rel[name], key=lambda p: (p[0].id, p[1].id)):
            steps.append(f"synchronized before: {a} -> {b}  ({RULE_TEXT[name]})")
    for a, b in races_of(x, rel["hb"]):
        steps.append(f"data race: {Race(*sorted((a.access(), b.access())))}")
    if x.flag is not None:
        steps.append(f"the run ends: {x.flag}")
    return steps


GO = GoModel()
