"""Execution graphs: events, relations between them and a small relation algebra.

A graph model (such as `go`) builds candidate executions as sets of `Event`s and writes its
rules as named relations over them, one line each, with the algebra of `Relation`::

    >>> a, b, c = (Event((0, 0), "W", "x", 1), Event((0, 1), "W", "y", 1),
    ...            Event((1, 0), "R", "y", 1))
    >>> po = Relation.of([(a, b)])
    >>> rf = Relation.of([(b, c)])
    >>> hb = (po | rf).plus()
    >>> (a, c) in hb
    True
    >>> (po @ rf).pairs == {(a, c)}                    # `@` is sequence, herd's `;`
    True
    >>> (hb | hb.inverse()).acyclic() is not None      # a witness cycle, here a -> b -> a
    True

Operators (a `Relation` is an immutable set of ordered pairs of events):

    r | s          union                      r & s        intersection
    r - s          difference                 r @ s        sequence (r ; s)
    r.inverse()    inverse (r^-1)             r.plus()     transitive closure (r+)
    r.star(E)      reflexive-transitive closure over the events E (r*)
    r.where(dom, rng)   restriction of either end to the events satisfying a predicate
    r.same_loc()   the pairs whose two events access the same location
    Relation.identity(E)   the identity on the events E ([E] in herd)

Checks return a *witness* rather than a bool, so that a broken rule can be shown:
`acyclic()` returns None or a cycle (a list of events, first == last) and `irreflexive()`
returns None or an event related to itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

__all__ = ["Event", "Relation", "Rel", "show_cycle", "shortest_path"]


@dataclass(frozen=True)
class Event:
    """One event of an execution graph.

    `id` is `(thread, index)` with index counting the thread's events in program order; the
    initial write of a location has thread -1. `kind` is a short tag chosen by the model
    ("R", "W", "RMW", "LOCK", ...); `loc` the location or primitive it acts on; `value` the
    value written or read (None when it has none). `text`, `line` and `op_index` say which op
    of the program the event comes from, for messages; they take no part in equality.

        >>> str(Event((0, 0), "W", "x", 1, text="x = 1", line=6))
        'P0 `x = 1` (line 6)'
        >>> str(Event((-1, 0), "W", "x", 0, text="x = 0"))
        'the initial value x = 0'
    """

    id: tuple
    kind: str
    loc: Optional[str] = None
    value: Optional[int] = None
    atomic: bool = False
    text: str = field(default="", compare=False)
    line: Optional[int] = field(default=None, compare=False)
    op_index: Optional[int] = field(default=None, compare=False)

    @property
    def thread(self) -> int:
        return self.id[0]

    @property
    def is_init(self) -> bool:
        return self.id[0] < 0

    def __str__(self) -> str:
        if self.is_init:
            return f"the initial value {self.text or f'{self.loc} = {self.value}'}"
        where = f" (line {self.line})" if self.line is not None else ""
        return f"P{self.thread} `{self.text or self.kind}`{where}"

    def short(self) -> str:
        """A compact label for cycles: `W x=1`, `R y=0`, `LOCK mu`."""
        if self.value is not None and self.loc is not None:
            return f"{self.kind} {self.loc}={self.value}"
        if self.loc is not None:
            return f"{self.kind} {self.loc}"
        return self.kind


@dataclass(frozen=True)
class Relation:
    """An immutable binary relation over events; see the module docstring for the algebra.

        >>> e = [Event((0, i), "F") for i in range(3)]
        >>> r = Relation.of([(e[0], e[1]), (e[1], e[2])])
        >>> len(r.plus()), len(r.star(e)), r.acyclic() is None
        (3, 6, True)
    """

    pairs: frozenset = frozenset()

    @classmethod
    def of(cls, pairs: Iterable[tuple]) -> "Relation":
        return cls(frozenset(pairs))

    @classmethod
    def identity(cls, events: Iterable[Event]) -> "Relation":
        """[E]: each event of `events` related to itself."""
        return cls(frozenset((e, e) for e in events))

    # -- the algebra --------------------------------------------------------------
    def __or__(self, other: "Relation") -> "Relation":
        return Relation(self.pairs | other.pairs)

    def __and__(self, other: "Relation") -> "Relation":
        return Relation(self.pairs & other.pairs)

    def __sub__(self, other: "Relation") -> "Relation":
        return Relation(self.pairs - other.pairs)

    def __matmul__(self, other: "Relation") -> "Relation":
        """Sequence `self ; other`: a -> c when a -self-> b -other-> c for some b."""
        after = other.successors()
        return Relation(frozenset((a, c) for a, b in self.pairs for c in after.get(b, ())))

    def inverse(self) -> "Relation":
        return Relation(frozenset((b, a) for a, b in self.pairs))

    def plus(self) -> "Relation":
        """Transitive closure r+."""
        succ = self.successors()
        closure = set()
        for start in succ:
            seen, stack = set(), list(succ[start])
            while stack:
                x = stack.pop()
                if x in seen:
                    continue
                seen.add(x)
                stack.extend(succ.get(x, ()))
            closure.update((start, x) for x in seen)
        return Relation(frozenset(closure))

    def star(self, events: Iterable[Event]) -> "Relation":
        """Reflexive-transitive closure r* over `events` (plus the events r relates)."""
        return self.plus() | Relation.identity(set(events) | self.domain() | self.range())

    def where(self, dom: Optional[Callable[[Event], bool]] = None,
              rng: Optional[Callable[[Event], bool]] = None) -> "Relation":
        """The pairs whose source satisfies `dom` and target satisfies `rng` (None: any)."""
        return Relation(frozenset((a, b) for a, b in self.pairs
                                  if (dom is None or dom(a)) and (rng is None or rng(b))))

    def same_loc(self) -> "Relation":
        return Relation(frozenset((a, b) for a, b in self.pairs
                                  if a.loc is not None and a.loc == b.loc))

    # -- queries --------------------------------------------------------------------
    def __contains__(self, pair: tuple) -> bool:
        return pair in self.pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self):
        return iter(self.pairs)

    def domain(self) -> frozenset:
        return frozenset(a for a, _ in self.pairs)

    def range(self) -> frozenset:
        return frozenset(b for _, b in self.pairs)

    def successors(self) -> dict:
        """event -> list of the events it relates to."""
        succ: dict = {}
        for a, b in self.pairs:
            succ.setdefault(a, []).append(b)
        return succ

    def irreflexive(self) -> Optional[Event]:
        """None when no event is related to itself, else one such event (sorted for
        determinism)."""
        loops = sorted((a for a, b in self.pairs if a == b), key=lambda e: e.id)
        return loops[0] if loops else None

    def acyclic(self) -> Optional[list]:
        """None when the relation has no cycle, else a shortest-found cycle as a list of
        events `[e0, e1, ..., e0]` (deterministic: events are visited in id order)."""
        succ = {a: sorted(bs, key=lambda e: e.id) for a, bs in self.successors().items()}
        best: Optional[list] = None
        for start in sorted(succ, key=lambda e: e.id):
            path = shortest_path(succ, start, start)
            if path is not None and (best is None or len(path) < len(best)):
                best = path
                if len(best) == 2:
                    break
        return best


def shortest_path(succ: dict, start, goal) -> Optional[list]:
    """A shortest non-empty path [start, ..., goal] (breadth first, successors in the order
    `succ` lists them), or None; with start == goal, a shortest cycle through it. Events may
    be anything hashable (`Event`s, or `Rel`'s event numbers).

        >>> shortest_path({0: [1, 2], 1: [3], 2: [3], 3: [0]}, 0, 3), shortest_path({}, 0, 1)
        ([0, 1, 3], None)
    """
    parent = {}
    frontier = [start]
    while frontier:
        nxt = []
        for x in frontier:
            for y in succ.get(x, ()):
                if y == goal:
                    path = [goal, x]
                    while x != start:
                        x = parent[x]
                        path.append(x)
                    path.reverse()
                    return path if path[0] == start else [start] + path
                if y not in parent and y != start:
                    parent[y] = x
                    nxt.append(y)
        frontier = nxt
    return None


def show_cycle(cycle: list, label: Callable[[Event, Event], str]) -> str:
    """A cycle as text: `W x=1 -po-> R y=0 -fr-> W x=1`, `label(a, b)` naming each edge.

        >>> a, b = Event((0, 0), "W", "x", 1), Event((1, 0), "R", "x", 1)
        >>> show_cycle([a, b, a], lambda s, t: "rf" if s.kind == "W" else "hb")
        'W x=1 -rf-> R x=1 -hb-> W x=1'
    """
    parts = [cycle[0].short()]
    for a, b in zip(cycle, cycle[1:]):
        parts.append(f"-{label(a, b)}-> {b.short()}")
    return " ".join(parts)


# =============================================================================== bit relations


@dataclass(frozen=True)
class Rel:
    """A relation over the events 0..n-1 of one graph, as a bit matrix: `rows[i]` has bit j set
    when i -> j. The same algebra as `Relation`, fast enough to check every prefix of every
    execution a model builds; event sets are bit masks (bit i: event i).

        >>> po = Rel.of(3, [(0, 1), (1, 2)])
        >>> (po @ po).pairs(), po.plus().pairs()
        ([(0, 2)], [(0, 1), (0, 2), (1, 2)])
        >>> po.acyclic(), (po | po.inverse()).acyclic(), (po | po.inverse()).cycle()
        (True, False, [0, 1, 0])
        >>> Rel.id(3, 0b101).pairs(), po.restrict(0b010, None).pairs()
        ([(0, 0), (2, 2)], [(1, 2)])

    Operators: `r | s`, `r & s`, `r - s`, `r @ s` (sequence, herd's `;`), `r.inverse()`,
    `r.plus()` (r+), `r.opt()` (r?), `r.restrict(dom, rng)` ([dom]; r; [rng], None: any),
    `Rel.id(n, mask)` ([mask]). Checks answer yes/no (`acyclic`, `irreflexive`, `empty`);
    `cycle()` finds a shortest witness cycle, only when one is to be shown.
    """

    n: int
    rows: tuple
    diag: Optional[int] = None      # for [A]: the mask A (sequencing with it is a restriction)

    @classmethod
    def empty_of(cls, n: int) -> "Rel":
        return cls(n, (0,) * n)

    @classmethod
    def of(cls, n: int, pairs: Iterable[tuple]) -> "Rel":
        rows = [0] * n
        for a, b in pairs:
            rows[a] |= 1 << b
        return cls(n, tuple(rows))

    @classmethod
    def id(cls, n: int, mask: int) -> "Rel":
        return cls(n, tuple((1 << i) & mask for i in range(n)), mask)

    def __or__(self, other: "Rel") -> "Rel":
        diag = None if self.diag is None or other.diag is None else self.diag | other.diag
        return Rel(self.n, tuple(a | b for a, b in zip(self.rows, other.rows)), diag)

    def __and__(self, other: "Rel") -> "Rel":
        return Rel(self.n, tuple(a & b for a, b in zip(self.rows, other.rows)))

    def __sub__(self, other: "Rel") -> "Rel":
        return Rel(self.n, tuple(a & ~b for a, b in zip(self.rows, other.rows)))

    def __matmul__(self, other: "Rel") -> "Rel":
        if self.diag is not None:                  # [A] ; r
            return other.restrict(self.diag, None)
        if other.diag is not None:                 # r ; [A]
            return self.restrict(None, other.diag)
        out = []
        orows = other.rows
        for row in self.rows:
            acc = 0
            while row:
                low = row & -row
                acc |= orows[low.bit_length() - 1]
                row ^= low
            out.append(acc)
        return Rel(self.n, tuple(out))

    def inverse(self) -> "Rel":
        rows = [0] * self.n
        for a, row in enumerate(self.rows):
            while row:
                low = row & -row
                rows[low.bit_length() - 1] |= 1 << a
                row ^= low
        return Rel(self.n, tuple(rows))

    def plus(self) -> "Rel":
        """Transitive closure (Warshall's algorithm on bit rows)."""
        rows = list(self.rows)
        for k in range(self.n):
            bit, reach = 1 << k, rows[k]
            if not reach:
                continue
            for i in range(self.n):
                if rows[i] & bit:
                    rows[i] |= reach
        return Rel(self.n, tuple(rows))

    def opt(self) -> "Rel":
        """r? : r and the identity."""
        return Rel(self.n, tuple(row | (1 << i) for i, row in enumerate(self.rows)))

    def restrict(self, dom: Optional[int], rng: Optional[int]) -> "Rel":
        """[dom] ; r ; [rng] with event masks (None: every event)."""
        full = (1 << self.n) - 1
        rng = full if rng is None else rng
        return Rel(self.n, tuple(row & rng if dom is None or dom >> i & 1 else 0
                                 for i, row in enumerate(self.rows)))

    def irreflexive(self) -> bool:
        return not any(row >> i & 1 for i, row in enumerate(self.rows))

    def then_irreflexive(self, other: "Rel") -> bool:
        """Whether `self @ other` is irreflexive, without computing it (stops at the first
        a -> b -> a).

            >>> Rel.of(2, [(0, 1)]).then_irreflexive(Rel.of(2, [(1, 0)]))
            False
        """
        orows = other.rows
        for a, row in enumerate(self.rows):
            while row:
                low = row & -row
                if orows[low.bit_length() - 1] >> a & 1:
                    return False
                row ^= low
        return True

    def empty(self) -> bool:
        return not any(self.rows)

    def acyclic(self) -> bool:
        return self.plus().irreflexive()

    def pairs(self) -> list:
        return [(a, b) for a, row in enumerate(self.rows) for b in range(self.n) if row >> b & 1]

    def successors(self) -> dict:
        """event -> the events it relates to, in increasing order (for `shortest_path`)."""
        return {a: [b for b in range(self.n) if row >> b & 1]
                for a, row in enumerate(self.rows) if row}

    def cycle(self) -> Optional[list]:
        """A shortest cycle `[e0, ..., e0]` (event numbers), or None when acyclic."""
        succ = self.successors()
        best = None
        for start in succ:
            path = shortest_path(succ, start, start)
            if path is not None and (best is None or len(path) < len(best)):
                best = path
        return best
