"""The one explorer every operational model shares: exhaustive search of a transition system.

A transition system is given by an initial state (any hashable value) and a `successors`
function returning the steps out of a state as `(label, next_state)` pairs; a state with no
steps is *terminal*. The explorer never looks inside states or labels, so the same code serves
sc, tso and any later operational machine::

    >>> def successors(n):                 # count up to 3 by ones or twos
    ...     return [(f"+{d}", n + d) for d in (1, 2) if n + d <= 3]
    >>> ex = explore(0, successors)
    >>> sorted(ex.terminals), ex.states
    ([3], 4)
    >>> [label for label, _ in find_path(0, successors, lambda s: s == 3)]
    ['+1', '+2']

Both searches are exhaustive and exact. A search that would visit more than `max_states`
distinct states raises `StateLimitError` instead of returning a partial answer: a model that
silently dropped a reachable outcome would call a correct implementation wrong.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable, Hashable, Iterable, Optional

__all__ = ["Budget", "Exploration", "StateLimitError", "explore", "find_path",
           "DEFAULT_MAX_STATES"]

DEFAULT_MAX_STATES = 2_000_000
"""About 1 GB of memory and half a minute at the limit; random programs of 4 threads x 5 memory
ops stay far below it (tens of thousands of states)."""


class StateLimitError(RuntimeError):
    """The search space is larger than the explorer was allowed to visit. Nothing partial is
    returned; the message says how far the search got and what to do."""

    def __init__(self, limit: int, what: str = "the program"):
        self.limit = limit
        super().__init__(
            f"exploring {what} visited {limit:,} states without finishing, so no outcome set is "
            f"returned (a partial one could wrongly forbid an outcome). Shrink the program "
            f"(fewer threads, ops or values), or raise the limit: `--max-states {limit * 4}` "
            f"on the command line, get_model(name).with_max_states({limit * 4:,}) in Python.")


class Budget:
    """The work limit of one search, shared by its parts (the states of an exploration, the
    prefixes of a graph builder, the reads-from choices and outcomes of a judge): each unit
    of work is `spend`, and past `limit` units `spend` raises StateLimitError naming `what`,
    whose message says how to raise the limit. `left` is what remains, for a search that
    stops early instead (an explanation).

        >>> b = Budget(1, "P")
        >>> b.left
        1
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

    @property
    def left(self) -> int:
        return self.limit - self.used



@dataclass(frozen=True)
class Exploration:
    """What an exhaustive search found: the terminal states reached and how many distinct
    states it visited (terminals included)."""

    terminals: frozenset
    states: int


Successors = Callable[[Hashable], Iterable[tuple]]


def explore(initial: Hashable, successors: Successors, *, max_states: int = DEFAULT_MAX_STATES,
            what: str = "the program") -> Exploration:
    """Depth-first search from `initial` over every step, visiting each distinct state once.

    Returns every reachable terminal state (a state with no steps). Raises `StateLimitError`
    when more than `max_states` distinct states would be visited.
    """
    budget = Budget(max_states, what, 1)
    seen = {initial}
    stack = [initial]
    terminals = set()
    push, pop, mark, spend = stack.append, stack.pop, seen.add, budget.spend
    while stack:
        state = pop()
        steps = successors(state)
        if not steps:
            terminals.add(state)
            continue
        for _label, nxt in steps:
            if nxt not in seen:
                spend()
                mark(nxt)
                push(nxt)
    return Exploration(frozenset(terminals), budget.used)


def find_path(initial: Hashable, successors: Successors, accept: Callable[[Hashable], bool], *,
              max_states: int = DEFAULT_MAX_STATES,
              what: str = "the program") -> Optional[list]:
    """A shortest path from `initial` to a terminal state satisfying `accept`, as a list of
    `(label, state_after)` pairs (empty when `initial` itself is accepted), or None when no
    reachable terminal state is accepted. Breadth-first, so the witness is as short as any.
    """
    budget = Budget(max_states, what, 1)
    parent = {initial: None}
    queue = deque([initial])
    while queue:
        state = queue.popleft()
        steps = successors(state)
        if not steps:
            if accept(state):
                return _path_to(state, parent)
            continue
        for label, nxt in steps:
            if nxt not in parent:
                budget.spend()
                parent[nxt] = (label, state)
                queue.append(nxt)
    return None


def _path_to(state: Hashable, parent: dict) -> list:
    path = []
    while parent[state] is not None:
        label, before = parent[state]
        path.append((label, state))
        state = before
    path.reverse()
    return path
