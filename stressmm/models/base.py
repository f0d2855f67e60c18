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

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

from ..outcome import Outcome, Pattern, evaluate
from ..program import Condition, Program
from .explorer import DEFAULT_MAX_STATES, explore, find_path
from .machine import Machine, MemorySystem

__all__ = ["ModelResult", "Explanation", "OperationalModel", "UndefinedOutcomes", "matcher"]

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
    """A small thread-safe LRU of model results, keyed by a program's declarations and threads
    (its name, condition and expectations do not change what a model allows). Each model object
    owns one: no global state.

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
        return None if program is None else (program.decls, program.threads)

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
