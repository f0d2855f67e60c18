"""Schedules: the knobs of a run that Hypothesis draws and shrinks along with the program.

A schedule says how a backend should run a program, not what the program is::

    >>> Schedule()                                  # the default: spread layout, small jitter
    Schedule(delays=(), layout='spread', cpus=None, batch=64, seed=0)
    >>> s = Schedule(delays=((0, 0), (0, 40)), layout="packed")   # P1 waits 0..40 spins
    >>> s.delay(1), s.delay(5)
    ((0, 40), (0, 0))

- `delays[i]` = (lo, hi): before each iteration thread i spins a number of pause steps drawn
  uniformly in [lo, hi] (lo == hi: a fixed offset). Threads beyond the tuple use (0, 0).
- `layout`: "spread" puts each location on its own cache line, "packed" puts them together.
- `cpus`: the CPU index for each thread, or None to let the backend pick distinct free CPUs.
- `batch`: test instances per barrier round (fresh memory for each iteration of a round).
- `seed`: seeds the runtime's delay generator, for replay.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

__all__ = ["Schedule", "LAYOUTS", "MAX_DELAY", "MAX_BATCH"]

LAYOUTS = ("spread", "packed")
MAX_DELAY = 10_000
MAX_BATCH = 4096


@dataclass(frozen=True)
class Schedule:
    delays: tuple = ()
    layout: str = "spread"
    cpus: Optional[tuple] = None
    batch: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.delays, list):
            object.__setattr__(self, "delays", tuple(tuple(d) for d in self.delays))
        for i, d in enumerate(self.delays):
            if (not isinstance(d, tuple) or len(d) != 2 or not all(isinstance(x, int) for x in d)
                    or not 0 <= d[0] <= d[1] <= MAX_DELAY):
                raise ValueError(f"schedule delay for P{i} must be (lo, hi) with "
                                 f"0 <= lo <= hi <= {MAX_DELAY}, got {d!r}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"schedule layout must be one of {', '.join(LAYOUTS)}, "
                             f"got {self.layout!r}")
        if self.cpus is not None:
            if isinstance(self.cpus, list):
                object.__setattr__(self, "cpus", tuple(self.cpus))
            if not all(isinstance(c, int) and c >= 0 for c in self.cpus):
                raise ValueError(f"schedule cpus must be CPU indices, got {self.cpus!r}")
        if not isinstance(self.batch, int) or not 1 <= self.batch <= MAX_BATCH:
            raise ValueError(f"schedule batch must be an int in [1, {MAX_BATCH}], got {self.batch!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"schedule seed must be a non-negative int, got {self.seed!r}")

    def delay(self, thread: int) -> tuple:
        return self.delays[thread] if thread < len(self.delays) else (0, 0)

    def part(self, n: int) -> "Schedule":
        """The schedule of part `n` of a run made in parts: the same knobs with a seed of its
        own, so that each part draws fresh delays (part 0 is the schedule itself). The seed is
        a hash of (seed, n), not a sum: a backend that splits each part into parts of its own
        (the C-ABI worker does) would otherwise run part m's part 1 with the delays of part
        m + 1's part 0, the same delays twice.

            >>> Schedule(seed=5).part(0).seed, Schedule(seed=5).part(2).seed
            (5, 94152710)
            >>> Schedule(seed=5).part(1).part(1) == Schedule(seed=5).part(2)
            False
        """
        if n == 0:
            return self
        import hashlib

        digest = hashlib.sha256(f"{self.seed}/{n}".encode()).digest()
        return replace(self, seed=int.from_bytes(digest[:4], "little"))

    def to_json(self) -> dict:
        return {"delays": [list(d) for d in self.delays], "layout": self.layout,
                "cpus": list(self.cpus) if self.cpus is not None else None,
                "batch": self.batch, "seed": self.seed}

    @classmethod
    def from_json(cls, data) -> "Schedule":
        return cls(delays=tuple(tuple(d) for d in data.get("delays", ())),
                   layout=data.get("layout", "spread"),
                   cpus=tuple(data["cpus"]) if data.get("cpus") is not None else None,
                   batch=data.get("batch", 64), seed=data.get("seed", 0))
