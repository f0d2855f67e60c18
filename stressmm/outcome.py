"""Outcomes of a run, partial outcome patterns, condition evaluation and histograms.

An outcome is what one execution of a program leaves behind: every register of every thread,
the final value of every variable, and flags. A run that deadlocks or panics ends the whole
program (as in Go), so its outcome is the flag alone::

    >>> o = Outcome.make({(0, "r0"): 0, (1, "r1"): 0}, {"x": 1, "y": 1})
    >>> str(o)
    'P0:r0=0 P1:r1=0 x=1 y=1'
    >>> Pattern.parse("P0:r0=0 P1:r1=0").matches(o)
    True
    >>> str(Outcome.flagged("deadlock"))
    'deadlock'
"""
from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional

from .program import FLAGS, And, Cmp, Condition, FlagIs, MemRef, Not, Or, Program, RegRef

__all__ = ["Outcome", "Pattern", "PatternError", "evaluate", "witnesses", "Histogram"]


@dataclass(frozen=True, order=True)
class Outcome:
    """Final registers ((thread, reg, value) sorted), final memory ((loc, value) sorted), flags."""

    regs: tuple = ()
    mem: tuple = ()
    flags: frozenset = frozenset()

    @classmethod
    def make(cls, regs: Mapping, mem: Mapping = {}, flags: Iterable[str] = ()) -> "Outcome":
        return cls(tuple(sorted((t, r, v) for (t, r), v in regs.items())),
                   tuple(sorted(mem.items())), frozenset(flags))

    @classmethod
    def flagged(cls, flag: str) -> "Outcome":
        """The outcome of a run that ended with `flag` (deadlock, panic, timeout)."""
        if flag not in FLAGS:
            raise ValueError(f"unknown flag {flag!r}")
        return cls(flags=frozenset({flag}))

    def reg(self, thread: int, reg: str) -> Optional[int]:
        for t, r, v in self.regs:
            if t == thread and r == reg:
                return v
        return None

    def memory(self, loc: str) -> Optional[int]:
        for name, v in self.mem:
            if name == loc:
                return v
        return None

    def __str__(self) -> str:
        parts = [f"P{t}:{r}={v}" for t, r, v in self.regs]
        parts += [f"{loc}={v}" for loc, v in self.mem]
        parts += sorted(self.flags)
        return " ".join(parts) if parts else "(empty)"

    def show(self, locations: Optional[Iterable[str]] = None) -> str:
        """Like str(), but only the memory of `locations` (all when None)."""
        if locations is None:
            return str(self)
        keep = set(locations)
        return str(Outcome(self.regs, tuple(m for m in self.mem if m[0] in keep), self.flags))

    def to_json(self) -> dict:
        return {"regs": {f"P{t}:{r}": v for t, r, v in self.regs},
                "mem": dict(self.mem), "flags": sorted(self.flags)}

    @classmethod
    def from_json(cls, data: Mapping) -> "Outcome":
        regs = {}
        for key, v in data.get("regs", {}).items():
            t, r = key.split(":", 1)
            regs[(int(t[1:]), r)] = v
        return cls.make(regs, data.get("mem", {}), data.get("flags", ()))


class PatternError(ValueError):
    """A malformed outcome pattern; the message says which word and what was expected."""


_ITEM = re.compile(r"(?:P(\d+):)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(-?\d+)\Z")


@dataclass(frozen=True)
class Pattern:
    """A partial outcome: `P0:r0=0 P1:r1=0`, `x=2`, `deadlock`. Matches outcomes agreeing on
    every item it names (the rest is free)."""

    regs: tuple = ()
    mem: tuple = ()
    flags: frozenset = frozenset()
    text: str = field(default="", compare=False)

    @classmethod
    def parse(cls, text: str) -> "Pattern":
        regs, mem, flags = [], [], set()
        words = re.sub(r"\s*=\s*", "=", text.replace(",", " ").replace("&&", " ")
                       .replace(";", " ")).split()
        if not words:
            raise PatternError("empty outcome: write e.g. \"P0:r0=0 P1:r1=0\"")
        for w in words:
            if w in FLAGS:
                flags.add(w)
                continue
            m = _ITEM.match(w)
            if not m:
                raise PatternError(f"cannot read {w!r} in outcome {text!r}: expected "
                                   f"P<thread>:<reg>=<int>, <var>=<int> or one of {', '.join(FLAGS)}")
            t, name, v = m.groups()
            (regs.append((int(t), name, int(v))) if t is not None else mem.append((name, int(v))))
        return cls(tuple(sorted(regs)), tuple(sorted(mem)), frozenset(flags), text)

    def check_against(self, program: Program) -> None:
        """Raise PatternError if the pattern names a register or variable the program lacks."""
        for t, r, _ in self.regs:
            if t >= len(program.threads) or r not in program.registers(t):
                raise PatternError(f"outcome names P{t}:{r}, which {program.name} does not have")
        names = {v.name for v in program.vars}
        for loc, _ in self.mem:
            if loc not in names:
                raise PatternError(f"outcome names {loc}, which is not a variable of {program.name}")

    def matches(self, o: Outcome) -> bool:
        if o.flags != self.flags:
            return False
        return (all(o.reg(t, r) == v for t, r, v in self.regs)
                and all(o.memory(loc) == v for loc, v in self.mem))

    def __str__(self) -> str:
        return self.text or str(Outcome(self.regs, self.mem, self.flags))


def evaluate(expr, outcome: Outcome) -> bool:
    """The truth of a condition expression (or Condition) in an outcome. A comparison on an
    outcome that lacks the register (a deadlock or panic) is false."""
    if isinstance(expr, Condition):
        expr = expr.expr
    if isinstance(expr, Cmp):
        got, want = _value_of(expr.lhs, outcome), _value_of(expr.value, outcome)
        if got is None or want is None:
            return False
        return (got == want) == expr.equal
    if isinstance(expr, FlagIs):
        return expr.flag in outcome.flags
    if isinstance(expr, And):
        return all(evaluate(e, outcome) for e in expr.items)
    if isinstance(expr, Or):
        return any(evaluate(e, outcome) for e in expr.items)
    if isinstance(expr, Not):
        return not evaluate(expr.item, outcome)
    raise TypeError(f"not a condition expression: {expr!r}")


def _value_of(ref, outcome: Outcome) -> Optional[int]:
    if isinstance(ref, RegRef):
        return outcome.reg(ref.thread, ref.reg)
    if isinstance(ref, MemRef):
        return outcome.memory(ref.loc)
    return ref


def witnesses(condition: Condition, outcome: Outcome) -> bool:
    """Whether `outcome` decides `condition`: it satisfies the expression of an `exists` or a
    `~exists` condition, or violates that of a `forall`. `exists` holds when some outcome is a
    witness; `~exists` and `forall` hold when none is.

        >>> o = Outcome.make({(0, "r0"): 1})
        >>> witnesses(Condition(Cmp(RegRef(0, "r0"), 1), "forall"), o)
        False
    """
    return evaluate(condition.expr, outcome) != (condition.quantifier == "forall")


@dataclass(frozen=True)
class Histogram:
    """Outcome counts of many runs of one program on one backend."""

    program: Program
    counts: Mapping  # Outcome -> int
    elapsed: float = 0.0
    backend: str = ""
    info: Mapping = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def rate(self) -> float:
        """Iterations per second."""
        return self.total / self.elapsed if self.elapsed > 0 else 0.0

    def count(self, pattern) -> int:
        """How many runs ended in an outcome matching `pattern` (a Pattern, a condition
        expression or an Outcome)."""
        if isinstance(pattern, Outcome):
            return self.counts.get(pattern, 0)
        if isinstance(pattern, Pattern):
            return sum(n for o, n in self.counts.items() if pattern.matches(o))
        return sum(n for o, n in self.counts.items() if evaluate(pattern, o))

    def outside(self, allowed: Iterable[Outcome]) -> dict:
        """The observed outcomes not in `allowed`, with their counts (the `timeout` outcome is
        never judged: it says the run was stuck, not what the program did)."""
        if not isinstance(allowed, AbstractSet):     # a model's outcome set is used as is
            allowed = set(allowed)
        return {o: n for o, n in self.counts.items()
                if o not in allowed and "timeout" not in o.flags}

    def merged(self, other: "Histogram") -> "Histogram":
        counts = dict(self.counts)
        for o, n in other.counts.items():
            counts[o] = counts.get(o, 0) + n
        return Histogram(self.program, counts, self.elapsed + other.elapsed, self.backend,
                         {**other.info, **self.info})   # notes of both; self's first
