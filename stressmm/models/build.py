"""The execution-graph builder that axiomatic models share (`rc11.py`).

A model gives its derived relations (`relations(graph) -> dict`, one line each) and its axioms
(named checks over them); this module builds every execution graph of a program that
satisfies them, and finds the graphs that explain an outcome or why it is forbidden (told by
the shared explainer, `explain.py`).

How graphs are built (as in GenMC, Kokologiannakis et al., PLDI 2019, without revisits):
events are added one at a time, each thread's in program order. A read chooses, when it is
added, the write it reads from among the writes already in the graph; a write chooses its
place in the location's modification order (an RMW's write goes right after the write its read
reads). A prefix that breaks an axiom is cut at once: every relation only grows as events are
added, so a broken prefix never becomes consistent; a prefix whose new event is a sink of
every relation is not checked at all when the model says its axioms allow it
(`GraphModel.sinks_keep_consistency`). Reading only from writes already added
enumerates exactly the graphs in which sb ∪ rf is acyclic, i.e. those a model with the
no-thin-air axiom (RC11's) allows; values are concrete at every step. Equal prefixes reached by
different interleavings are explored once. Axioms answer yes/no; a witness cycle is computed
only for `why_forbidden`.

Every search is bounded: `max_states` counts every prefix built (consistent or not); past it,
`StateLimitError` says what to do.

    >>> from stressmm.program import Program, Thread, Var, Store, Load
    >>> from stressmm.models.rc11 import RC11
    >>> mp = Program("MP", (Var("x"), Var("y")), (
    ...     Thread((Store("x", 1), Store("y", 1))),
    ...     Thread((Load("r0", "y"), Load("r1", "x")))))
    >>> res = RC11.allowed(mp)                  # plain accesses race: undefined behaviour
    >>> res.allows("P1:r0=7"), len(res.races) > 0
    (True, True)
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple, Optional

from ..outcome import Outcome
from ..program import (Await, Fence, Load, Program, ProgramError, Rmw, RmwOp, Store, Var,
                       is_plain_access, value_in)
from .base import (CachedModel, Explanation, ModelResult, UndefinedOutcomes, _check_program,
                   matcher)
from .explorer import Budget, StateLimitError
from .explain import (SC_RULE, WHY_BUDGET, all_seq_cst, forbidden_text, graph_steps,
                      graph_witness, sc_witness)
from .graph import Rel
from .machine import op_text

__all__ = ["Graph", "GEvent", "GraphModel", "NotApplicable", "Relations", "event_masks",
           "DEFAULT_MAX_STATES", "CRace"]

DEFAULT_MAX_STATES = 300_000
"""Prefixes built at most per program (a few seconds to a minute of work)."""

class NotApplicable(ProgramError):
    """The program uses something the model does not describe (e.g. Go channels in C11); a
    usage error (exit status 2) on the command line."""


# =============================================================================== graphs


class GEvent(NamedTuple):
    """One event of a graph: its number, thread (-1: an initial write), kind R / W / F, the
    location, the mode (na, rlx, acq, rel, acq_rel, sc), the value read or written, the op it
    comes from and that op's index in its thread."""

    index: int
    thread: int
    kind: str
    loc: Optional[str]
    mode: str
    value: Optional[int]
    op: object
    op_index: int

    @property
    def line(self) -> Optional[int]:
        return getattr(self.op, "line", None)

    def short(self) -> str:
        if self.kind == "F":
            return f"F{self.mode}"
        return f"{self.kind}{'' if self.mode == 'na' else self.mode} {self.loc}={self.value}"

    def __str__(self) -> str:
        if self.thread < 0:
            return f"the initial value {self.loc} = {self.value}"
        where = f" (line {self.line})" if self.line is not None else ""
        return f"P{self.thread} `{op_text(self.op)}`{where}"


@dataclass(frozen=True)
class Graph:
    """An execution graph (events numbered 0..n-1, initial writes first) and its base
    relations as `Rel`s: sb, rf, mo, rmw and same_loc (accesses to one location)."""

    events: tuple
    sb: Rel
    rf: Rel
    mo: Rel
    rmw: Rel
    same_loc: Rel

    @property
    def n(self) -> int:
        return len(self.events)


def event_masks(g: Graph) -> dict:
    """Event sets as bit masks: R, W, F, atomic (accesses ⊒ rlx), rel, acq (modes at least
    release / acquire, fences included) and sc."""
    m = dict.fromkeys(("R", "W", "F", "atomic", "rel", "acq", "sc"), 0)
    for e in g.events:
        bit = 1 << e.index
        m[e.kind] |= bit
        if e.kind != "F" and e.mode != "na" and e.thread >= 0:
            m["atomic"] |= bit
        if e.mode in ("rel", "acq_rel", "sc"):
            m["rel"] |= bit
        if e.mode in ("acq", "acq_rel", "sc"):
            m["acq"] |= bit
        if e.mode == "sc":
            m["sc"] |= bit
    return m


class Relations:
    """The named relations of graph `g`, each computed from `definitions` (name -> function of
    this object) when first asked for: a check that fails early computes no more; `needs`
    (name -> event sets) says which relations are empty when one of their sets is. The base
    relations are sb, rf, mo, rmw and loc (same location); `r.id("W", "atomic")` is [W ∩
    atomic] for the sets of `event_masks`.

        >>> from stressmm.models.rc11 import RC11
        >>> from stressmm.program import Program, Thread, Var, Store
        >>> g = graph_of(_Compiled(Program("p", (Var("x"),), (Thread((Store("x", 1),)),)),
        ...                        RC11.mode_of_access), ((1,), ((),), ((("W", "x", "na", None, 1,
        ...                        None, 0, None, 0),),), (((0, 0),),), (-1,)))
        >>> Relations(g, {"fr": lambda r: r["rf"].inverse() @ r["mo"]})["mo"].pairs()
        [(0, 1)]
    """

    def __init__(self, g: Graph, definitions: dict, needs: Optional[dict] = None):
        self.g, self.definitions, self.needs = g, definitions, needs or {}
        self.masks = event_masks(g)
        self._known = {"sb": g.sb, "rf": g.rf, "mo": g.mo, "rmw": g.rmw, "loc": g.same_loc}
        self._ids: dict = {}

    def __getitem__(self, name: str) -> Rel:
        known = self._known.get(name)
        if known is None:
            if all(self.masks[need] for need in self.needs.get(name, ())):
                known = self.definitions[name](self)
            else:                                    # a set it starts or ends in is empty
                known = Rel.empty_of(self.g.n)
            self._known[name] = known
        return known

    def __contains__(self, name: str) -> bool:
        return name in self._known or name in self.definitions

    def id(self, *sets: str) -> Rel:
        """[A ∩ B ∩ ...] for the named event sets."""
        known = self._ids.get(sets)
        if known is None:
            mask = (1 << self.g.n) - 1
            for name in sets:
                mask &= self.masks[name]
            known = self._ids[sets] = Rel.id(self.g.n, mask)
        return known


# =============================================================================== the builder
#
# A state is (pcs, regs, evs, mo, late): per thread its next op and its register values, per
# thread its events so far, per location the writes in modification order after the initial
# one, and per thread the bound `late` below. A thread event is (kind, loc, mode, read value,
# written value, source, op index, write mode, write number) with kind R (read), W (write),
# U (an RMW: a read and a write) or F (fence); the source of a read is a write reference:
# (thread, event number) or (-1, location number) for the initial write; writes are numbered
# 0, 1, ... in the order they are added.
#
# Each graph is built once, in one canonical order: the next event added is always that of
# the lowest-numbered thread whose next event can be added (a write or fence always can; a
# read can once its source is in the graph). So when thread t adds an event, every unfinished
# thread u < t waits at a read whose source is not in the graph yet: u's `late` becomes the
# number of writes in the graph, and u's read may later read only a write numbered at least
# that. This cuts the interleavings of independent events without losing any graph.


class _Compiled:
    def __init__(self, program: Program, mode_of):
        self.program = program
        self.locs = tuple(v.name for v in program.decls if isinstance(v, Var))
        self.loc_index = {name: i for i, name in enumerate(self.locs)}
        self.plain = any(is_plain_access(op) for _, op in program.ops())
        self.init = tuple(v.init for v in program.decls if isinstance(v, Var))
        self.code = tuple(tuple(t.ops) for t in program.threads)
        self.reg_names = tuple(program.registers(t) for t in range(len(program.threads)))
        self.reg_index = tuple({r: i for i, r in enumerate(names)} for names in self.reg_names)
        self.mode_of = mode_of


def _applies(program: Program) -> Optional[str]:
    """None when every declaration is a variable and every op a memory op, else why not."""
    for d in program.decls:
        if not isinstance(d, Var):
            return f"{type(d).__name__.lower()} {d.name}"
    for t, op in program.ops():
        if not isinstance(op, (Load, Store, Rmw, Fence, Await)):
            return f"P{t} `{op_text(op)}`"
    return None


def _value(c: _Compiled, regs: tuple, t: int, v) -> int:
    """A constant, a register, or a register plus a constant, read from the registers this
    thread has so far (a store's value comes from the reads before it in program order)."""
    return value_in(v, lambda reg: regs[c.reg_index[t][reg]])


def _set(regs: tuple, c: _Compiled, t: int, reg: Optional[str], v: int) -> tuple:
    if reg is None:
        return regs
    i = c.reg_index[t][reg]
    return regs[:i] + (v,) + regs[i + 1:]


def _put(tup: tuple, i: int, value) -> tuple:
    return tup[:i] + (value,) + tup[i + 1:]


def _initial(c: _Compiled) -> tuple:
    n = len(c.code)
    return ((0,) * n, tuple((0,) * len(names) for names in c.reg_names), ((),) * n,
            ((),) * len(c.locs), (-1,) * n)


def _writes(c: _Compiled, s: tuple, loc: str) -> list:
    """(reference, value) of every write of `loc` in the graph, initial write first."""
    li = c.loc_index[loc]
    out = [((-1, li), c.init[li], -1)]
    for t, evs in enumerate(s[2]):
        for k, ev in enumerate(evs):
            if ev[0] in ("W", "U") and ev[1] == loc:
                out.append(((t, k), ev[4], ev[8]))
    return out


def _last_value(c: _Compiled, s: tuple, li: int) -> int:
    mo = s[3][li]
    if not mo:
        return c.init[li]
    t, k = mo[-1]
    return s[2][t][k][4]


def _successors(c: _Compiled, s: tuple) -> list:
    """Every state one event longer than `s` in the canonical order (consistency not yet
    checked), each as (state, sink): `sink` when the new event is a sink of every relation
    (see `_explore`): a fence, a write placed last in its location's mo, or a read (or RMW)
    of the write last in mo."""
    pcs, regs, evs, mo, late = s
    nwrites = sum(1 for tevs in evs for ev in tevs if ev[0] in ("W", "U"))
    out = []
    waiting = late                       # threads below t wait for a later write

    def add(t, ev, new_regs, new_mo=mo, sink=False):
        out.append(((_put(pcs, t, pcs[t] + 1), _put(regs, t, new_regs),
                     _put(evs, t, evs[t] + (ev,)), new_mo, _put(waiting, t, -1)), sink))

    for t, pc in enumerate(pcs):
        if pc >= len(c.code[t]):
            continue
        op = c.code[t][pc]
        eref = (t, len(evs[t]))
        if isinstance(op, Fence):
            add(t, ("F", None, c.mode_of(op.order, True), None, None, None, pc, None, None),
                regs[t], sink=True)
            break                        # a fence can always be added: no later thread now
        atomic = not is_plain_access(op)    # a plain access of an atomic variable is na
        li = c.loc_index[op.loc]
        if isinstance(op, Store):
            v = _value(c, regs[t], t, op.value)
            ev = ("W", op.loc, c.mode_of(op.order, atomic), None, v, None, pc, None, nwrites)
            for at in range(len(mo[li]) + 1):       # any place in mo after the initial write
                add(t, ev, regs[t], _put(mo, li, mo[li][:at] + (eref,) + mo[li][at:]),
                    sink=at == len(mo[li]))
            break                        # a write can always be added: no later thread now
        newest = mo[li][-1] if mo[li] else (-1, li)         # the write last in mo
        for src, v, number in _writes(c, s, op.loc):
            if number < late[t]:         # t waited for a later write than this one
                continue
            sink = src == newest
            if isinstance(op, Load):
                ev = ("R", op.loc, c.mode_of(op.order, atomic), v, None, src, pc, None, None)
                add(t, ev, _set(regs[t], c, t, op.reg, v), sink=sink)
            elif isinstance(op, Await):
                if (v == op.value) == op.until_equal:
                    add(t, ("R", op.loc, c.mode_of(op.order, atomic), v, None, src, pc, None,
                            None), regs[t], sink=sink)
            else:
                arg = _value(c, regs[t], t, op.operand)
                if op.op is RmwOp.CAS and v != op.expected:    # a failed CAS only reads
                    add(t, ("R", op.loc, c.mode_of(op.order, True, "r"), v, None, src, pc,
                            None, None), _set(regs[t], c, t, op.reg, 0), sink=sink)
                    continue
                new = v + arg if op.op in (RmwOp.ADD, RmwOp.FETCH_ADD) else arg
                result = {RmwOp.ADD: new, RmwOp.FETCH_ADD: v, RmwOp.SWAP: v, RmwOp.CAS: 1}[op.op]
                at = 0 if src[0] < 0 else mo[li].index(src) + 1     # right after its source
                add(t, ("U", op.loc, c.mode_of(op.order, True, "r"), v, new, src, pc,
                        c.mode_of(op.order, True, "w"), nwrites),
                    _set(regs[t], c, t, op.reg, result),
                    _put(mo, li, mo[li][:at] + (eref,) + mo[li][at:]), sink=sink)
        waiting = _put(waiting, t, nwrites)   # for later threads: t waits for a new write
    return out


def graph_of(c: _Compiled, s: tuple) -> Graph:
    """The execution graph of state `s` (built for every prefix checked: kept lean)."""
    _, _, evs, mo, _ = s
    events, index, loc_mask = [], {}, {}
    append = events.append
    for li, loc in enumerate(c.locs):
        loc_mask[loc] = 1 << li
        append(GEvent(li, -1, "W", loc, "na", c.init[li], None, -1))
    rf, rmw, rows = [], [], [0] * len(events)
    for t, tevs in enumerate(evs):
        code, mine = c.code[t], []
        for k, (kind, loc, mode, rv, wv, src, pc, wmode, _) in enumerate(tevs):
            op = code[pc]
            i = len(events)
            if kind == "F":
                append(GEvent(i, t, "F", None, mode, None, op, pc))
                mine.append(i)
                continue
            bit = 0
            if kind != "W":                          # R or U: the read
                append(GEvent(i, t, "R", loc, mode, rv, op, pc))
                rf.append((src, i))
                mine.append(i)
                bit = 1 << i
                i += 1
            if kind != "R":                          # W or U: the write
                index[(t, k)] = i
                append(GEvent(i, t, "W", loc, wmode if kind == "U" else mode, wv, op, pc))
                mine.append(i)
                bit |= 1 << i
                if kind == "U":
                    rmw.append((i - 1, i))
            loc_mask[loc] = loc_mask.get(loc, 0) | bit
        rows.extend([0] * len(mine))
        later = 0
        for a in reversed(mine):                     # each event: the thread's later ones
            rows[a] = later
            later |= 1 << a
    n = len(events)
    first = len(c.locs)
    everything = ((1 << n) - 1) & ~((1 << first) - 1)
    for i in range(first):                           # initial writes: before every event
        rows[i] = everything
    mo_rows = [0] * n
    for li, order in enumerate(mo):
        later = 0
        for ref in reversed(order):                  # each write: the writes after it in mo
            a = index[ref]
            mo_rows[a] = later
            later |= 1 << a
        mo_rows[li] = later                          # the initial write: before every one
    rf_rows = [0] * n
    for src, r in rf:
        rf_rows[src[1] if src[0] < 0 else index[src]] |= 1 << r
    same = tuple(loc_mask[e.loc] if e.loc is not None else 0 for e in events)
    return Graph(tuple(events), Rel(n, tuple(rows)), Rel(n, tuple(rf_rows)),
                 Rel(n, tuple(mo_rows)), Rel.of(n, rmw), Rel(n, same))


def _consistent(model, g: Graph) -> bool:
    """Whether `g` satisfies every axiom but those the builder ensures by construction."""
    r = model.relations(g)
    return all(check(r) for name, check, _, _ in model.axioms
               if name not in model.by_construction)


def _is_blocked(c: _Compiled, s: tuple) -> bool:
    """Every unfinished thread spins forever: it is in a spin loop whose location's last write
    in mo fails the loop's condition (and some thread is unfinished)."""
    stuck = False
    for t, pc in enumerate(s[0]):
        if pc >= len(c.code[t]):
            continue
        op = c.code[t][pc]
        if not isinstance(op, Await):
            return False
        if (_last_value(c, s, c.loc_index[op.loc]) == op.value) == op.until_equal:
            return False
        stuck = True
    return stuck


def _terminal_flag(c: _Compiled, s: tuple):
    """"" for a finished run, "deadlock" for a blocked one, None for neither."""
    if all(pc >= len(code) for pc, code in zip(s[0], c.code)):
        return ""
    return "deadlock" if _is_blocked(c, s) else None


def _outcome(c: _Compiled, s: tuple, flag: str) -> Outcome:
    if flag:
        return Outcome.flagged(flag)
    regs = {(t, name): s[1][t][i] for t, names in enumerate(c.reg_names)
            for i, name in enumerate(names)}
    mem = {loc: _last_value(c, s, li) for li, loc in enumerate(c.locs)}
    return Outcome.make(regs, mem)


def _explore(model, c: _Compiled, max_states: int, what: str, *, prune: bool = True):
    """Every terminal (state, flag) and the number of prefixes built. Without `prune`, every
    candidate (sb ∪ rf acyclic, any rf and mo) is built, consistent or not."""
    start = _initial(c)
    budget = Budget(max_states, what, 1)
    seen, stack, terminals = {start}, [start], []
    sinks_safe = model.sinks_keep_consistency
    while stack:
        s = stack.pop()
        flag = _terminal_flag(c, s)
        if flag is not None:
            terminals.append((s, flag))
        for nxt, sink in _successors(c, s):
            if nxt in seen:
                continue
            budget.spend()
            seen.add(nxt)
            if not prune or (sink and sinks_safe) or _consistent(model, graph_of(c, nxt)):
                stack.append(nxt)
    return terminals, budget.used


# =============================================================================== races


@dataclass(frozen=True, order=True)
class CRace:
    """Two conflicting accesses, one of them non-atomic, not ordered by happens-before in a
    consistent execution: the program's behaviour is undefined.

        >>> print(CRace("P0 `x = 1` (line 5)", "P1 `r0 = x` (line 8)"))
        P0 `x = 1` (line 5) and P1 `r0 = x` (line 8) are not ordered by happens-before: the behaviour of the program is undefined
    """

    first: str
    second: str

    def __str__(self) -> str:
        return (f"{self.first} and {self.second} are not ordered by happens-before: the "
                f"behaviour of the program is undefined")


def races_of(g: Graph, hb: Rel) -> list:
    """Pairs of events of different threads on one location, at least one a write and one
    non-atomic, unordered by hb (§3, "Data races")."""
    out = []
    for a in g.events:
        for b in g.events[a.index + 1:]:
            if (a.thread >= 0 and b.thread >= 0 and a.thread != b.thread and a.loc is not None
                    and a.loc == b.loc and "W" in (a.kind, b.kind) and "na" in (a.mode, b.mode)
                    and not hb.rows[a.index] >> b.index & 1
                    and not hb.rows[b.index] >> a.index & 1):
                out.append((a, b))
    return out


def c_races(g: Graph, hb: Rel) -> list:
    """The races of graph `g` (`races_of`) as `CRace`s, in the same order."""
    return [CRace(*sorted((str(a), str(b)))) for a, b in races_of(g, hb)]


# =============================================================================== the model


class GraphModel(CachedModel):
    """An axiomatic model over the builder. A subclass gives `name`, `description`,
    `relations` (graph -> dict of `Rel`), `axioms` ((name, check, text, witness) tuples:
    `witness(graph, relations)` is a cycle of event numbers showing the axiom broken),
    `mode_of_access` (order, atomic, part -> mode), and for its explainer (`explain.py`)
    `edge_names` (the relations that name a witness's edges, first match wins) and
    `sync_relations` ((relation, words) pairs an explanation lists)."""

    name = "graph"
    description = ""
    axioms: tuple = ()
    edge_names: tuple = ()
    sync_relations: tuple = ()
    by_construction: tuple = ()       # axioms every graph the builder makes satisfies
    sinks_keep_consistency = False
    """True when every axiom says some relation built from sb, rf, mo, rb (and relations
    derived from them monotonically, with each new pair ending at a new event that has no
    successor) is irreflexive or acyclic: then a consistent prefix stays consistent when the
    new event is a sink (see `_successors`), and the builder skips checking it."""
    default_max_states = DEFAULT_MAX_STATES

    def applies(self, program: Program) -> bool:
        """Whether the model describes `program` (memory ops on variables only)."""
        return _applies(program) is None

    def _compiled(self, program: Program) -> _Compiled:
        _check_program(program, self.name)
        why = _applies(program)
        if why is not None:
            raise NotApplicable(f"{program.name or 'the program'}: the {self.name} model "
                                f"describes loads, stores, read-modify-writes, spin loops and "
                                f"fences on variables only, not {why}; use --model go or sc")
        return _Compiled(program, self.mode_of_access)

    def _what(self, program: Program) -> str:
        return f"{program.name or 'the program'} under {self.name}"

    def allowed(self, program: Program) -> ModelResult:
        """Every outcome of `program`'s consistent executions and its data races. With a race
        the behaviour is undefined: the result allows every outcome."""
        c = self._compiled(program)
        hit = self._cache.get(program)
        if hit is not None:
            return hit
        begin = time.perf_counter()
        terminals, work = _explore(self, c, self.max_states, self._what(program))
        outcomes, races = set(), set()
        for s, flag in terminals:
            outcomes.add(_outcome(c, s, flag))
            if c.plain:                             # a race needs a non-atomic access
                g = graph_of(c, s)
                races.update(c_races(g, self.relations(g)["hb"]))
        found = UndefinedOutcomes(outcomes) if races else frozenset(outcomes)
        result = ModelResult(found, tuple(sorted(races)), work, time.perf_counter() - begin)
        self._cache.put(program, result)
        return result

    def explain(self, program: Program, pattern) -> Optional[Explanation]:
        """A consistent execution ending in an outcome matching `pattern`: each thread's events
        with what its reads read, the modification order of each location, the
        synchronizes-with edges and the races; None when no consistent execution gives it."""
        c = self._compiled(program)
        match = matcher(pattern, program)
        if not any(match(o) for o in frozenset(self.allowed(program).outcomes)):
            return None
        terminals, _ = _explore(self, c, self.max_states, self._what(program))
        for s, flag in terminals:
            o = _outcome(c, s, flag)
            if match(o):
                g = graph_of(c, s)
                r = self.relations(g)
                steps = graph_steps(self, g, r, c.locs, c_races(g, r["hb"]), flag)
                return Explanation(o, steps, self.name, program.name)
        raise AssertionError("an allowed outcome has no execution")  # pragma: no cover

    def why_forbidden(self, program: Program, pattern) -> str:
        """Why no consistent execution ends in an outcome matching `pattern`: for the
        candidate executions that give it, the axiom each breaks with a witness cycle; ""
        when it is allowed."""
        c = self._compiled(program)
        match = matcher(pattern, program)
        if any(match(o) for o in frozenset(self.allowed(program).outcomes)):
            return ""
        try:
            terminals, _ = _explore(self, c, WHY_BUDGET, self._what(program), prune=False)
        except StateLimitError:
            witness = sc_witness(program, match) if all_seq_cst(program) else None
            return forbidden_text(program, pattern, self.name,
                                  {SC_RULE: witness} if witness else {},
                                  "every candidate execution giving those values breaks an "
                                  "axiom (too many candidates to show one)")
        broken: dict = {}
        for s, flag in terminals:
            if not match(_outcome(c, s, flag)):
                continue
            g = graph_of(c, s)
            r = self.relations(g)
            for rule, check, text, _ in self.axioms:
                if not check(r):
                    broken.setdefault(f"{rule}: {text}", graph_witness(self, rule, g, r))
                    break
        return forbidden_text(program, pattern, self.name, broken, (
            "no execution in which each read reads a write made before it (sb ∪ rf acyclic: "
            "no-thin-air) gives those values"))

