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

A model file is its rules: the relations below, one line each beside the sentence of the
memory model they encode, with its section of go.dev/ref/mem after "§", the axioms
a candidate execution must satisfy, one check each, and `races_of`. The executions come from
`go_build.py` (the synchronizing operations in every total order, then the plain reads-from
chosen read by read); `go_explain.py` shows an execution or why an outcome is forbidden.

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
- *Plain accesses of atomic variables* (a mixed location, `Program.mixed`). The memory model
  makes such a pair a data race when happens-before does not order them ("unless all the
  accesses involved are atomic data accesses"), and an atomic op synchronizes only with the
  atomic ops whose effect it observes, never with a plain write. The builder runs the
  accesses of a mixed location in its total order, each reading the value the order gives
  it: every such execution is one the rules allow, and it holds every sequentially
  consistent one, so the races found are real and a program with a race finds one (in a
  sequentially consistent execution, as DRF-SC's proof does). Without a race the order is
  all there is (DRF-SC: "data-race-free programs execute in a sequentially consistent
  manner") and the outcomes are exact. With a race on a mixed location, what its racy atomic
  and plain accesses observe is beyond the executions built (the rule for racy reads lets
  them see older writes), so the result allows every outcome (`UndefinedOutcomes`, as c11
  does for any race) while it still lists the races found and the outcomes built.
- *WaitGroup.* The 2022 memory model is silent; the `sync` documentation says "a call to Done
  synchronizes before the return of any Wait call that it unblocks": the Dones (Adds of a
  negative delta) ordered before the Wait in the WaitGroup's order are synchronized before it:
  Go keeps the counter in one atomic word, so a Wait reads the end of a chain of every
  earlier Add, even when the counter rose from zero again in between (`scenarios/go/WG+reuse`).
"""
from __future__ import annotations

import itertools
import time
from typing import Optional

from ..program import Program, walk_ops
from .base import (CachedModel, Explanation, ModelResult, OutcomeSpace, UndefinedOutcomes,
                   _check_program, matcher)
from .explorer import Budget
from .go_build import Access, Execution, Race, executions, judge
from .go_explain import describe, why_forbidden
from .graph import Relation

__all__ = ["GO", "GoModel", "Race", "Access", "Execution", "relations", "AXIOMS",
           "FINAL_VALUE"]

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
    # § Channel communication: "A send on a channel is synchronized before the completion of
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
    # § Locks: "For any sync.Mutex or sync.RWMutex variable l and n < m, call n of l.Unlock()
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
    # § Once: "The completion of a single call of f() from once.Do(f) is synchronized before
    # the return of any call of once.Do(f)." (The body's caller returns after it in po.)
    r["sw-once"] = x.pairs((end, skip) for o in x.onces() for end in x.seq(o, "ONCE_END")
                           for skip in x.seq(o, "ONCE") if skip.extra == "skip")
    # WaitGroup (pkg.go.dev/sync#WaitGroup): "a call to Done synchronizes before the return
    # of any Wait call that it unblocks."
    r["sw-waitgroup"] = x.pairs((done, wait) for w in x.waitgroups()
                                for wait, dones in x.wait_rounds(w) for done in dones)
    # § Atomic Values: "If the effect of an atomic operation A is observed by atomic operation
    # B, then A is synchronized before B."
    # (A plain write of an atomic variable, MW, is no atomic operation: an atomic read that
    # observes it is not synchronized after it.)
    r["sw-atomic"] = x.pairs((w, e) for e, w in _observed(x) if e.kind != "MR" and w.kind != "MW")
    # What the accesses of a mixed location observe without synchronizing: a plain read (MR)
    # observing any write of it, an atomic read observing a plain write (MW).
    r["rf-mixed"] = x.pairs((w, e) for e, w in _observed(x) if e.kind == "MR" or w.kind == "MW")
    sw = Relation()
    for name in SW_RULES:
        sw = sw | r[name]
    r["sw"] = sw
    # § Memory Model: "The happens before relation is defined as the transitive closure of
    # the union of the sequenced before and synchronized before relations."
    r["hb"] = (x.po | sw).plus()
    # Reads-from: plain reads (chosen), atomic reads (fixed by the total order).
    r["rf"] = x.rf | r["sw-atomic"] | r["rf-mixed"]
    # Causality, for § Implementation Restrictions for Programs Containing Data Races:
    # "observation of acausal and 'out of thin air' writes is not allowed":
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
    """'... and there is no write w' such that w happens before w' and w' happens before r'
    (the same section): hb ; [W] ; hb ; rf^-1 is irreflexive on each location."""
    for w, rd in x.rf:
        for w2 in x.writes(rd.loc):
            if w2 != w and (w, w2) in r["hb"] and (w2, rd) in r["hb"]:
                return [w2, rd, w2]              # w2 -hb-> r -fr-> w2 (r reads w, before w2)
    return None


def no_acausal(x, r):
    """'observation of acausal and out of thin air writes is not allowed' (the same section):
    no value or spin loop exit may depend on itself, i.e. (data | ctrl | rf | sw) is
    acyclic."""
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

FINAL_VALUE = ("final-value",
               "the final value of a location is that of a write no other write to it happens "
               "after (what a read after every goroutine has finished observes: go.dev/ref/mem, "
               "\"Implementation Restrictions for Programs Containing Data Races\")")
"""(name, the rule in words) of the final values: a read that happens after every write of
a location observes a write w with no write w' such that w happens before w' (the builder
applies it in `go_build.outcomes_of`)."""


def with_reads_from(r: dict, y: "Execution") -> dict:
    """The relations of `y`, an execution that differs from the one `r` was computed for only
    in its plain reads-from: rf and causal change, nothing else does (happens-before is built
    from program order and the synchronizing operations alone)."""
    return dict(r, rf=y.rf | r["sw-atomic"] | r["rf-mixed"], causal=r["causal"] | y.rf)


def _observed(x: "Execution") -> list:
    """(read, the write it observed) of every read the total order fixes: atomic reads and
    read-modify-writes, and plain reads of a mixed location (not those of the initial value)."""
    return [(e, w) for e in x.events if e.kind in ("AR", "RMW", "MR")
            for w in [x.ev(e.extra[0])] if w is not None]


_WRITES = ("W", "AW", "RMW", "MW")
_PLAIN = ("R", "W", "MR", "MW")


def races_of(x: "Execution", hb: Relation) -> list:
    """§ Memory Model: 'A data race is defined as a write to a memory location happening
    concurrently with another read or write to that same location, unless all the accesses
    involved are atomic data accesses': the pairs of conflicting accesses, at least one of them
    plain (of a plain location, or of a mixed one: then the other may be atomic), unordered by
    happens-before."""
    mixed = x.compiled.mixed
    accesses = [e for e in x.events if e.kind in ("R", "W")
                or (e.loc in mixed and e.kind in ("MR", "MW", "AR", "AW", "RMW"))]
    out = []
    for a, b in itertools.combinations(accesses, 2):
        if (a.loc == b.loc and (a.kind in _WRITES or b.kind in _WRITES)
                and (a.kind in _PLAIN or b.kind in _PLAIN) and a.thread != b.thread
                and (a, b) not in hb and (b, a) not in hb):
            out.append((a, b))
    return out


# =============================================================================== the model


class GoModel(CachedModel):
    """The `go` model object: `.allowed(program)`, `.explain(program, pattern)` and
    `.why_forbidden(program, pattern)`. Results are memoised per program (small LRU)."""

    name = "go"
    description = ("the Go memory model (go.dev/ref/mem, 2022): happens-before from channels, "
                   "mutexes, once, waitgroups and seq_cst atomics; data races reported")
    default_max_states = DEFAULT_MAX_STATES

    # The rules, as the builder (`go_build.py`) and the explainer (`go_explain.py`) use them.
    relations = staticmethod(relations)
    axioms = AXIOMS
    per_read = (no_future_read, no_overwritten_read)   # each concerns one read's rf edge
    causal = "causal"                                   # kept acyclic by `no_acausal`
    with_reads_from = staticmethod(with_reads_from)
    races_of = staticmethod(races_of)
    sw_rules, rule_text, edge_label = SW_RULES, RULE_TEXT, EDGE_LABEL
    final_value = FINAL_VALUE

    def _what(self, program: Program) -> str:
        return f"{program.name or 'the program'} under {self.name}"

    def _executions(self, program: Program, budget: Budget, record: bool = True) -> list:
        _check_program(program, self.name)
        return executions(program, budget, record)

    def allowed(self, program: Program) -> ModelResult:
        """Every outcome of `program` the Go memory model allows, and its data races."""
        _check_program(program, self.name)
        hit = self._cache.get(program)
        if hit is not None:
            return hit
        start = time.perf_counter()
        budget = Budget(self.max_states, self._what(program))   # states, choices, outcomes
        execs = self._executions(program, budget, record=False)
        outcomes, races, boxes = set(), set(), []
        for x in execs:
            judged = judge(x, self, False, budget)
            outcomes |= judged.outcomes
            races |= judged.races
            boxes.extend(b for b in judged.boxes if b not in boxes)
        space = OutcomeSpace(frozenset(outcomes), tuple(boxes), self.max_states,
                             self._what(program))
        if boxes and _listable(space, self.max_states - budget.used):
            budget.spend(len(space))                 # listed, as other results are
            space = frozenset(space)
        elif not boxes:
            space = frozenset(outcomes)
        if any(_on_mixed(program, race) for race in races):
            space = UndefinedOutcomes(space if isinstance(space, frozenset) else outcomes)
        result = ModelResult(space, tuple(sorted(races)), budget.used,
                             time.perf_counter() - start)
        self._cache.put(program, result)
        return result

    def explain(self, program: Program, pattern) -> Optional[Explanation]:
        """An execution the model allows that ends in an outcome matching `pattern` (its
        events per goroutine, what each read observed, the synchronized-before edges and the
        races), or None when every such outcome is forbidden (see `why_forbidden`)."""
        match = matcher(pattern, program)
        result = self.allowed(program)
        if not result.allows(pattern):                  # exact without listing them
            return None
        budget = Budget(self.max_states, self._what(program))
        execs = self._executions(program, budget)
        for x in execs:
            judged = judge(x, self, True, budget)
            for o, y, value_of in judged.witnesses:
                if match(o):
                    return Explanation(o, describe(y, self, value_of), self.name, program.name)
        if result.undefined:        # a race on a mixed location: allowed, yet built by none
            return None
        raise AssertionError("go: an allowed outcome has no witness execution")  # pragma: no cover

    def why_forbidden(self, program: Program, pattern) -> str:
        """Why no execution ends in an outcome matching `pattern`: the rule every candidate
        execution with those values breaks, with a witness cycle. "" when it is allowed."""
        matcher(pattern, program)                       # a pattern naming no register: an error
        if self.allowed(program).allows(pattern):
            return ""
        execs = self._executions(program, Budget(self.max_states, self._what(program)))
        return why_forbidden(self, program, pattern, execs)


def _on_mixed(program: Program, race: Race) -> bool:
    """Whether `race` is on a location with plain and atomic accesses (`Program.mixed`)."""
    op = tuple(walk_ops(program.threads[race.first.thread].ops))[race.first.index]
    return getattr(op, "loc", None) in program.mixed


def _listable(space: OutcomeSpace, room: int) -> bool:
    """Whether `space` has at most `room` outcomes (then a result lists them, as every small
    result does; larger ones stay an `OutcomeSpace`: exact membership, bounded listing)."""
    return sum(b.size for b in space.boxes) + len(space.explicit) <= room


GO = GoModel()
