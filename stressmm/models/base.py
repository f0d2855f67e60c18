"""What every model returns, and the model object of the operational models (sc, tso).

    >>> from stressmm.program import Program, Thread, Var, Store, Load
    >>> from stressmm.models import get_model
    >>> mp = Program("MP", (Var("x"), Var("y")), (
    ...     Thread((Store("x", 1), Store("y", 1))),
    ...     Thread((Load("r0", "y"), Load("r1", "x")))))
    >>> tso = get_model("tso")
    >>> tso.allowed(mp).allows("P1:r0=1 P1:r1=0")
    False
    >>> print(tso.explain(mp, "P1:r0=1 P1:r1=1"))          # doctest: +ELLIPSIS
    MP: P1:r0=1 P1:r1=1 x=1 y=1 is allowed by tso:
      1. P0: x = 1  (into P0's store buffer)
    ...
"""
from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Set
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

from ..outcome import Outcome, Pattern, evaluate
from ..program import (And, Cmp, Condition, Fence, FlagIs, Load, MemRef, Not, Or, Order, Program,
                       RegRef, Store)
from .explorer import DEFAULT_MAX_STATES, StateLimitError, explore, find_path
from .machine import Machine, MemorySystem

__all__ = ["ModelResult", "Explanation", "OperationalModel", "UndefinedOutcomes", "OutcomeSpace",
           "Box", "ListingLimitError", "listed", "matcher", "order_cycle", "closest_allowed"]

Query = Union[Pattern, Outcome, Condition, str, object]
"""What `allows` and `explain` accept: a Pattern, its text ("P0:r0=0 P1:r1=0", "deadlock"),
an exact Outcome, a Condition, or a condition expression."""


def matcher(query: Query, program: Optional[Program] = None) -> Callable[[Outcome], bool]:
    """A predicate on outcomes for `query` (see `Query`). A pattern naming a register or a
    variable that `program` lacks raises `PatternError` rather than matching nothing.

    >>> matcher("deadlock")(Outcome.flagged("deadlock"))
    True
    """
    if isinstance(query, str):
        query = Pattern.parse(query)
    if isinstance(query, Pattern):
        if program is not None:
            query.check_against(program)
        return query.matches
    if isinstance(query, Outcome):
        return query.__eq__
    return lambda outcome: evaluate(query, outcome)


class UndefinedOutcomes(frozenset):
    """The outcomes of a program whose behaviour is undefined (a C11 data race): every outcome
    is allowed, so `in` is always true; iterating lists the outcomes of its consistent
    executions (what a report shows).

        >>> seen = UndefinedOutcomes({Outcome.flagged("deadlock")})
        >>> Outcome.flagged("panic") in seen, len(seen)
        (True, 1)
    """

    def __contains__(self, outcome) -> bool:
        return True


@dataclass(frozen=True)
class Box:
    """Outcomes as a product: every register and variable takes any value of its own set,
    independently (`regs`: ((thread, reg), values) pairs sorted by key, `mem`: (location,
    values) pairs sorted by location; values sorted).

        >>> b = Box((((0, "r0"), (0, 1)),), (("x", (1,)),))
        >>> b.size, Outcome.make({(0, "r0"): 1}, {"x": 1}) in b
        (2, True)
    """

    regs: tuple
    mem: tuple

    @property
    def size(self) -> int:
        n = 1
        for _, values in self.regs + self.mem:
            n *= len(values)
        return n

    def __contains__(self, o: Outcome) -> bool:
        if o.flags or len(o.regs) != len(self.regs) or len(o.mem) != len(self.mem):
            return False
        return (all((t, r) == key and v in values
                    for (t, r, v), (key, values) in zip(o.regs, self.regs))
                and all(loc == key and v in values
                        for (loc, v), (key, values) in zip(o.mem, self.mem)))

    def minus(self, other: "Box") -> tuple:
        """The outcomes of this box that `other` lacks, as disjoint boxes (at most one per key).

            >>> a = Box((((0, "r0"), (0, 1, 2)),), (("x", (1, 2)),))
            >>> [p.size for p in a.minus(Box((((0, "r0"), (1,)),), (("x", (1, 2)),)))]
            [4]
        """
        if not _overlap(self, other):
            return (self,)
        mine, theirs = self.regs + self.mem, other.regs + other.mem
        pieces, kept = [], []
        for i, ((key, values), (_, taken)) in enumerate(zip(mine, theirs)):
            rest = tuple(v for v in values if v not in taken)
            if rest:                       # differs from `other` first at this key
                items = kept + [(key, rest)] + list(mine[i + 1:])
                pieces.append(Box(tuple(items[:len(self.regs)]), tuple(items[len(self.regs):])))
            kept.append((key, tuple(v for v in values if v in taken)))
        return tuple(pieces)

    def outcomes(self, varying: Optional[set] = None):
        """Every outcome of the box; with `varying`, the keys outside it keep their first
        value (enough to decide a query that names only the keys in `varying`)."""
        keys = [k for k, _ in self.regs] + [k for k, _ in self.mem]
        sets = [vs for _, vs in self.regs] + [vs for _, vs in self.mem]
        if varying is not None:
            sets = [vs if k in varying else vs[:1] for k, vs in zip(keys, sets)]
        nregs = len(self.regs)
        for values in itertools.product(*sets):
            yield Outcome(tuple((t, r, v) for (t, r), v in zip(keys[:nregs], values[:nregs])),
                          tuple(zip(keys[nregs:], values[nregs:])))


def _query_keys(query) -> Optional[set]:
    """The registers ((thread, reg)) and locations a Pattern or condition mentions; None for
    other queries (then every key counts)."""
    if isinstance(query, str):
        query = Pattern.parse(query)
    if isinstance(query, Pattern):
        return {(t, r) for t, r, _ in query.regs} | {loc for loc, _ in query.mem}
    if isinstance(query, Condition):
        query = query.expr
    if isinstance(query, Cmp):
        return {(ref.thread, ref.reg) if isinstance(ref, RegRef) else ref.loc
                for ref in (query.lhs, query.value) if isinstance(ref, (RegRef, MemRef))}
    if isinstance(query, FlagIs):
        return set()
    if isinstance(query, (And, Or)):
        keys: set = set()
        for item in query.items:
            more = _query_keys(item)
            if more is None:
                return None
            keys |= more
        return keys
    if isinstance(query, Not):
        return _query_keys(query.item)
    return None


class OutcomeSpace(Set):
    """A set of outcomes too large to list, kept as `explicit` outcomes plus `boxes` (each a
    product of independent value sets, see `Box`): membership and `allows` are exact and
    cheap; listing (iterating) is bounded by `limit` outcomes, past which it raises
    `StateLimitError` naming `what`.

        >>> space = OutcomeSpace(frozenset({Outcome.flagged("deadlock")}),
        ...                      (Box((((0, "r0"), tuple(range(1000))),), ()),), 10, "P under go")
        >>> len(space), Outcome.make({(0, "r0"): 999}) in space, space.allows("P0:r0=7")
        (1001, True, True)
    """

    def __init__(self, explicit: frozenset, boxes: tuple, limit: int, what: str):
        self.explicit, self.boxes, self.limit, self.what = explicit, boxes, limit, what

    def __contains__(self, o) -> bool:
        return o in self.explicit or any(o in b for b in self.boxes)

    def _all(self):
        yield from self.explicit
        for i, b in enumerate(self.boxes):
            for o in b.outcomes():
                if o not in self.explicit and not any(o in a for a in self.boxes[:i]):
                    yield o

    def __iter__(self):
        for n, o in enumerate(self._all()):
            if n >= self.limit:
                raise ListingLimitError(self.limit, self.what)
            yield o

    def __len__(self) -> int:
        """Exact, without listing: the boxes are split into disjoint boxes (`Box.minus`) and
        their sizes added; past `limit` pieces it raises `ListingLimitError`."""
        pieces: list = []
        for b in self.boxes:
            new = [b]
            for done in pieces:
                new = [part for p in new for part in p.minus(done)]
                if len(pieces) + len(new) > self.limit:
                    raise ListingLimitError(self.limit, self.what)
            pieces += new
        alone = sum(1 for o in self.explicit if not any(o in b for b in self.boxes))
        return alone + sum(p.size for p in pieces)

    __hash__ = Set._hash

    def allows(self, query: Query) -> bool:
        """Whether some outcome matches `query`, without listing the boxes: a pattern or a
        condition depends only on the keys it names, so each box is tried on those alone."""
        if isinstance(query, Outcome):
            return query in self
        match = matcher(query)
        keys = _query_keys(query)
        if keys is None:                             # a query of unknown shape: list (bounded)
            return any(match(o) for o in self)
        if any(match(o) for o in self.explicit):
            return True
        for b in self.boxes:
            if any(match(o) for o in b.outcomes(keys)):
                return True
        return False


class ListingLimitError(StateLimitError):
    """Listing an `OutcomeSpace` went past its limit; the message says what to do."""

    def __init__(self, limit: int, what: str):
        RuntimeError.__init__(
            self, f"the outcomes of {what} are more than {limit:,} (the work limit): the model "
                  f"judges outcomes without listing them, but listing them all was asked for "
                  f"(a report of every outcome, or a comparison with every allowed outcome). "
                  f"Raise the limit: `--max-states {limit * 4}` on the command line, "
                  f"get_model(name).with_max_states({limit * 4:,}) in Python, or shrink the "
                  f"program.")
        self.limit = limit


def listed(outcomes) -> tuple:
    """(the outcomes sorted, "") or ([], why) when they are too many to list (an
    `OutcomeSpace` past its limit): for reports that show every allowed outcome.

        >>> listed(frozenset({Outcome.flagged("panic")}))
        ([Outcome(regs=(), mem=(), flags=frozenset({'panic'}))], '')
    """
    try:
        return sorted(outcomes), ""
    except ListingLimitError as e:
        return [], str(e)


def _overlap(a: Box, b: Box) -> bool:
    """Whether two boxes share an outcome."""
    return (len(a.regs) == len(b.regs) and len(a.mem) == len(b.mem)
            and all(ka == kb and set(va) & set(vb)
                    for (ka, va), (kb, vb) in zip(a.regs + a.mem, b.regs + b.mem)))


@dataclass(frozen=True)
class ModelResult:
    """The verdict of a model on a program: every allowed outcome (flags `deadlock` and `panic`
    included when reachable), the data races it found (none for sc and tso), the number of
    states explored and the seconds it took."""

    outcomes: frozenset
    races: tuple = ()
    states: int = 0
    elapsed: float = 0.0

    @property
    def undefined(self) -> bool:
        """Whether the program's behaviour is undefined (every outcome allowed)."""
        return isinstance(self.outcomes, UndefinedOutcomes)

    def allows(self, query: Query) -> bool:
        """Whether some allowed outcome matches `query` (see `Query`); always, when the
        behaviour is undefined."""
        if self.undefined:
            return True
        if isinstance(self.outcomes, OutcomeSpace):
            return self.outcomes.allows(query)
        match = matcher(query)
        return any(match(o) for o in self.outcomes)

    def matching(self, query: Query) -> frozenset:
        """The allowed outcomes that match `query`."""
        match = matcher(query)
        return frozenset(o for o in self.outcomes if match(o))


@dataclass(frozen=True)
class Explanation:
    """A witness: an execution the model allows that ends in `outcome`, one readable line per
    step (for tso, buffer flushes are steps of their own)."""

    outcome: Outcome
    steps: list = field(default_factory=list)
    model: str = ""
    program: str = ""

    def __str__(self) -> str:
        head = f"{self.program + ': ' if self.program else ''}{self.outcome} is allowed"
        head += f" by {self.model}:" if self.model else ":"
        if not self.steps:
            return head + "\n  (the initial state: no step needed)"
        width = len(str(len(self.steps)))
        lines = [f"  {i:>{width}}. {step}" for i, step in enumerate(self.steps, 1)]
        return "\n".join([head] + lines)


class ResultCache:
    """A small thread-safe LRU of model results, keyed by a program's declarations, threads and
    op lines (its name, condition and expectations do not change what a model allows). Each
    model object owns one: no global state.

        >>> cache = ResultCache(size=1)
        >>> cache.get(None) is None
        True
    """

    def __init__(self, size: int):
        self.size = size
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(program: Program):
        """Declarations, threads and the ops' source lines (ops compare equal whatever their
        line, but a result's races name the lines of the program it was computed for)."""
        if program is None:
            return None
        return (program.decls, program.threads, tuple(op.line for _, op in program.ops()))

    def get(self, program: Program):
        key = self.key(program)
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
            return hit

    def put(self, program: Program, result) -> None:
        with self._lock:
            self._data[self.key(program)] = result
            while len(self._data) > self.size:
                self._data.popitem(last=False)


class OperationalModel:
    """A model given by an operational machine: the shared thread machine (`machine.py`) run
    over a memory system (`sc.ScMemory`, `tso.TsoMemory`) and searched exhaustively.

    `allowed` results are memoised per program in a small LRU cache owned by this object.
    """

    def __init__(self, name: str, description: str, memory: MemorySystem, *,
                 max_states: int = DEFAULT_MAX_STATES, cache_size: int = 256,
                 reduce: bool = True):
        self.name = name
        self.reduce = reduce
        self.description = description
        self.memory = memory
        self.max_states = max_states
        self.cache_size = cache_size
        self._cache = ResultCache(cache_size)

    def __repr__(self) -> str:
        full = "" if self.reduce else " (unreduced)"
        return f"<model {self.name}{full}: {self.description}>"

    def with_max_states(self, max_states: int) -> "OperationalModel":
        """The same model with another state limit (and a cache of its own)."""
        return OperationalModel(self.name, self.description, self.memory,
                                max_states=max_states, cache_size=self.cache_size,
                                reduce=self.reduce)

    def unreduced(self) -> "OperationalModel":
        """The same model exploring every interleaving, without the partial-order reduction
        of `Machine` (slower; the tests check both give the same outcomes)."""
        return OperationalModel(self.name, self.description, self.memory,
                                max_states=self.max_states, cache_size=self.cache_size,
                                reduce=False)

    def machine(self, program: Program) -> Machine:
        """The transition system of `program` under this model."""
        _check_program(program, self.name)
        return Machine(program, self.memory, reduce=self.reduce)

    def allowed(self, program: Program) -> ModelResult:
        """Every outcome of `program` this model allows, found by exhaustive search."""
        _check_program(program, self.name)
        hit = self._cache.get(program)
        if hit is not None:
            return hit
        start = time.perf_counter()
        machine = self.machine(program)
        found = explore(machine.initial, machine.successors, max_states=self.max_states,
                        what=f"{program.name or 'the program'} under {self.name}")
        outcomes = frozenset(machine.outcome(s) for s in found.terminals)
        result = ModelResult(outcomes, (), found.states, time.perf_counter() - start)
        self._cache.put(program, result)
        return result

    def explain(self, program: Program, pattern: Query) -> Optional[Explanation]:
        """An execution ending in an outcome that matches `pattern`, or None when the model
        forbids every such outcome. Found breadth-first, so it is the shortest among the
        executions the (reduced) search explores."""
        _check_program(program, self.name)
        match = matcher(pattern, program)
        if not any(match(o) for o in self.allowed(program).outcomes):
            return None
        machine = self.machine(program)
        path = find_path(machine.initial, machine.successors,
                         lambda s: match(machine.outcome(s)), max_states=self.max_states,
                         what=f"{program.name or 'the program'} under {self.name}")
        if path is None:  # pragma: no cover - allowed() just said it is reachable
            raise AssertionError(f"{self.name}: an allowed outcome of {program.name} has no path")
        steps, before = [], machine.initial
        for label, after in path:
            steps.append(machine.describe(label, before, after))
            before = after
        return Explanation(machine.outcome(before), steps, self.name, program.name)


    def why_forbidden(self, program: Program, pattern: Query) -> str:
        """Why no execution ends in an outcome matching `pattern`, in terms the exhaustive
        search can vouch for: the search covered every execution; the allowed outcomes
        closest to the pattern; and, for programs of loads, stores of constants and fences,
        a cycle every candidate execution with those values has in the orders this model
        keeps (`order_cycle`). "" when an outcome matching `pattern` is allowed.

            >>> from stressmm.program import Program, Thread, Var, Store, Load
            >>> from stressmm.models import get_model
            >>> sb = Program("SB", (Var("x"), Var("y")), (
            ...     Thread((Store("x", 1), Load("r0", "y"))),
            ...     Thread((Store("y", 1), Load("r1", "x")))))
            >>> print(get_model("sc").why_forbidden(sb, "P0:r0=0 P1:r1=0"))  # doctest: +ELLIPSIS
            SB: P0:r0=0 P1:r1=0 is forbidden by sc: the search of every interleaving (12 states) finds none ending in it.
              closest allowed: P0:r0=0 P1:r1=1 x=1 y=1 (differs in P1:r1)
              closest allowed: P0:r0=1 P1:r1=0 x=1 y=1 (differs in P0:r0)
              every candidate execution giving those values has a cycle in po | rf | co | fr, e.g. W x=1 -po-> R y=0 -fr-> W y=1 -po-> R x=0 -fr-> W x=1
        """
        match = matcher(pattern, program)
        result = self.allowed(program)
        if any(match(o) for o in result.outcomes):
            return ""
        kind = "interleaving" if self.name == "sc" else "execution"
        lines = [f"{program.name or 'the program'}: {pattern} is forbidden by {self.name}: the "
                 f"search of every {kind} ({result.states:,} states) finds none ending in it."]
        lines += [f"  closest allowed: {o} (differs in {', '.join(diff)})"
                  for o, diff in closest_allowed(result.outcomes, pattern)[:2]]
        cycle = order_cycle(program, match, self.memory.local_store)
        if cycle is not None:
            lines.append(f"  every candidate execution giving those values has a cycle in "
                         f"{cycle[0]}, e.g. {cycle[1]}")
        return "\n".join(lines)


def closest_allowed(outcomes, pattern: Query) -> list:
    """The allowed outcomes that differ from `pattern` (a Pattern, its text, or an Outcome) in
    the fewest items it names, each with those items: [(outcome, ["P1:r1", ...]), ...].

        >>> o = Outcome.make({(0, "r0"): 0, (1, "r1"): 1})
        >>> closest_allowed([o], "P0:r0=0 P1:r1=0")
        [(Outcome(regs=((0, 'r0', 0), (1, 'r1', 1)), mem=(), flags=frozenset()), ['P1:r1'])]
    """
    if isinstance(pattern, str):
        pattern = Pattern.parse(pattern)
    if not isinstance(pattern, (Pattern, Outcome)):
        return []
    ranked = []
    for o in outcomes:
        if o.flags != pattern.flags:
            continue
        diff = [f"P{t}:{r}" for t, r, v in pattern.regs if o.reg(t, r) != v]
        diff += [loc for loc, v in pattern.mem if o.memory(loc) != v]
        ranked.append((len(diff), str(o), o, diff))
    ranked.sort(key=lambda x: x[:2])
    best = ranked[0][0] if ranked else 0
    return [(o, diff) for n, _, o, diff in ranked if n == best]


def order_cycle(program: Program, match, buffered: Callable, limit: int = 20_000
                ) -> Optional[tuple]:
    """For a program of loads, stores of constants and fences: (relation name, the shortest
    cycle found) when every candidate execution (any reads-from, any coherence order) giving an
    outcome `match` accepts has a cycle in ppo | rf | co | fr, where ppo is program order
    except a store followed by a load when `buffered(store order)` says the store may wait in
    a store buffer (x86-TSO) and no fence(seq_cst) lies between; reads-from inside a thread is
    left out for such models (store forwarding). None when the program has other ops, the
    candidates are too many, or some candidate is acyclic: then nothing is claimed.
    """
    from .graph import Event, Relation, show_cycle

    ops = [op for _, op in program.ops()]
    if not all(isinstance(op, (Load, Fence)) or (isinstance(op, Store) and isinstance(op.value, int))
               for op in ops):
        return None
    weak = any(buffered(op.order) for op in ops if isinstance(op, Store))
    inits = {v.name: Event((-1, i), "W", v.name, v.init) for i, v in enumerate(program.vars)}
    threads = []
    for t, th in enumerate(program.threads):
        evs, fenced = [], []
        for i, op in enumerate(th.ops):
            if isinstance(op, Fence):
                fenced.append(op.order is Order.SEQ_CST)
                continue
            kind = "W" if isinstance(op, Store) else "R"
            evs.append((Event((t, i), kind, op.loc, op.value if kind == "W" else None),
                        buffered(op.order) if kind == "W" else False, len(fenced), any(fenced)))
        threads.append(evs)

    def kept(a, b) -> bool:   # is the po edge a -> b kept by the model?
        (ea, buf_a, _, _), (eb, _, _, _) = a, b
        if not (ea.kind == "W" and eb.kind == "R" and buf_a):
            return True
        return any(f for f in _fences_between(program, ea.id, eb.id))

    ppo = Relation.of((a[0], b[0]) for evs in threads
                      for i, a in enumerate(evs) for b in evs[i + 1:] if kept(a, b))
    writes = {loc: [e for evs in threads for e, *_ in evs if e.kind == "W" and e.loc == loc]
              for loc in inits}
    reads = [e for evs in threads for e, *_ in evs if e.kind == "R"]
    rf_options = [[inits[r.loc]] + writes[r.loc] for r in reads]
    co_options = [list(itertools.permutations(writes[loc])) for loc in inits]
    count = 1
    for opts in rf_options + co_options:
        count *= len(opts)
    if count > limit:
        return None
    reg_of = {e.id: program.threads[e.id[0]].ops[e.id[1]].reg for e in reads}
    name = "ppo | rfe | co | fr" if weak else "po | rf | co | fr"
    best = None
    for rf_choice in itertools.product(*rf_options):
        regs = {(r.id[0], reg_of[r.id]): w.value for r, w in zip(reads, rf_choice)}
        shown = {r: Event(r.id, "R", r.loc, w.value) for r, w in zip(reads, rf_choice)}
        rn = lambda e: shown.get(e, e)  # noqa: E731
        rf = Relation.of((w, rn(r)) for r, w in zip(reads, rf_choice)
                         if not (weak and w.thread == r.thread))
        rf_all = Relation.of((w, rn(r)) for r, w in zip(reads, rf_choice))
        for co_choice in itertools.product(*co_options):
            mem = {loc: (order[-1].value if order else inits[loc].value)
                   for loc, order in zip(inits, co_choice)}
            if not match(Outcome.make(regs, mem)):
                continue
            co = Relation.of(p for loc, order in zip(inits, co_choice)
                             for p in itertools.combinations((inits[loc],) + order, 2))
            fr = (rf_all.inverse() @ co) - Relation.identity(shown.values())
            po = Relation.of((rn(a), rn(b)) for a, b in ppo)
            cycle = (po | rf | co | fr).acyclic()
            if cycle is None:
                return None
            if best is None or len(cycle) < len(best[0]):
                best = (cycle, po, rf, co)
    if best is None:
        return None
    cycle, po, rf, co = best

    def label(a, b):
        return ("po" if (a, b) in po else ("rfe" if weak else "rf") if (a, b) in rf
                else "co" if (a, b) in co else "fr")
    return name, show_cycle(cycle, label)


def _fences_between(program: Program, a: tuple, b: tuple) -> list:
    """Whether each fence strictly between ops a and b of one thread drains a store buffer."""
    t, i = a
    return [op.order is Order.SEQ_CST for op in program.threads[t].ops[i + 1:b[1]]
            if isinstance(op, Fence)]


class CachedModel:
    """What the graph models (go, c11) share: a work limit, a small LRU of results, and
    `with_max_states`. A subclass sets `name`, `description` and `default_max_states`."""

    name = "model"
    description = ""
    default_max_states = 300_000

    def __init__(self, *, max_states: Optional[int] = None, cache_size: int = 128):
        self.max_states = max_states or self.default_max_states
        self.cache_size = cache_size
        self._cache = ResultCache(cache_size)

    def __repr__(self) -> str:
        return f"<model {self.name}: {self.description}>"

    def with_max_states(self, max_states: int) -> "CachedModel":
        """The same model with another limit on its work (and a cache of its own)."""
        return type(self)(max_states=max_states, cache_size=self.cache_size)


def _check_program(program, model: str) -> None:
    if not isinstance(program, Program):
        raise TypeError(f"model {model} needs a stressmm Program, got {type(program).__name__}; "
                        f"read litmus text with stressmm.syntax.parse")
