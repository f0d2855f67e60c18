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

__all__ = ["Exploration", "StateLimitError", "explore", "find_path", "DEFAULT_MAX_STATES"]

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
    seen = {initial}
    stack = [initial]
    terminals = set()
    push, pop, mark = stack.append, stack.pop, seen.add
    while stack:
        state = pop()
        steps = successors(state)
        if not steps:
            terminals.add(state)
            continue
        for _label, nxt in steps:
            if nxt not in seen:
                mark(nxt)
                push(nxt)
        if len(seen) > max_states:
            raise StateLimitError(max_states, what)
    return Exploration(frozenset(terminals), len(seen))


def find_path(initial: Hashable, successors: Successors, accept: Callable[[Hashable], bool], *,
              max_states: int = DEFAULT_MAX_STATES,
              what: str = "the program") -> Optional[list]:
    """A shortest path from `initial` to a terminal state satisfying `accept`, as a list of
    `(label, state_after)` pairs (empty when `initial` itself is accepted), or None when no
    reachable terminal state is accepted. Breadth-first, so the witness is as short as any.
    """
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
                parent[nxt] = (label, state)
                queue.append(nxt)
        if len(parent) > max_states:
            raise StateLimitError(max_states, what)
    return None


def _path_to(state: Hashable, parent: dict) -> list:
    path = []
    while parent[state] is not None:
        label, before = parent[state]
        path.append((label, state))
        state = before
    path.reverse()
    return path
