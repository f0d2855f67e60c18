"""Hypothesis strategy for `stressmm.schedule.Schedule`: how a backend runs a program.

A minimal schedule is the plainest run: no start delays, the first layout asked for ("spread",
each location on its own cache line), the backend's own CPU placement, the smallest batch and
seed 0. Shrinking moves every drawn schedule towards it, so a counterexample keeps a delay or
a packed layout only when the failure needs it::

    >>> from hypothesis import find
    >>> find(schedules(), lambda s: True)
    Schedule(delays=(), layout='spread', cpus=None, batch=1, seed=0)
    >>> find(schedules(threads=2), lambda s: s.delay(1) != (0, 0)).delays
    ((0, 0), (0, 1))

Interactively, `schedules(threads=3, max_delay=50).example()` shows a random one.
"""
from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from stressmm.schedule import LAYOUTS, MAX_BATCH, MAX_DELAY, Schedule

from ._knobs import choices, span

__all__ = ["schedules"]

_MAX_SEED = 2**32 - 1


def _delays(max_delay: int) -> st.SearchStrategy:
    """One thread's (lo, hi) spin range within [0, max_delay]; shrinks to (0, 0)."""
    return st.integers(0, max_delay).flatmap(
        lambda lo: st.integers(0, max_delay - lo).map(lambda width: (lo, lo + width)))


def _trimmed(delays: tuple) -> tuple:
    """`delays` without its trailing (0, 0) entries, which say nothing (threads past the
    tuple have no delay), so equal schedules compare equal.

    >>> _trimmed(((0, 5), (0, 0), (0, 0)))
    ((0, 5),)
    """
    end = len(delays)
    while end and delays[end - 1] == (0, 0):
        end -= 1
    return tuple(delays[:end])


def _placements(threads: int, cpus) -> st.SearchStrategy:
    """None (the backend picks), or with `cpus` = n a distinct CPU in 0..n-1 per thread."""
    if cpus is None:
        return st.none()
    return st.none() | st.lists(st.integers(0, cpus - 1), min_size=threads, max_size=threads,
                                unique=True).map(tuple)


def schedules(threads=2, max_delay=100, layouts=LAYOUTS, batch=(1, 256), cpus=None,
              seed=(0, _MAX_SEED)) -> st.SearchStrategy:
    """A strategy of `Schedule`s for programs of `threads` threads (an int or (min, max)).

    - `max_delay`: the largest start delay, in pause steps, of a thread's (lo, hi) range.
      0 turns delays off.
    - `layouts`: the memory layouts to choose from, the first preferred ("spread" by default).
    - `batch`: test instances per barrier round, an int or (min, max); shrinks to the min.
    - `cpus`: None leaves thread placement to the backend; an int n also draws placements
      that put each thread on its own CPU among 0..n-1 (n must be at least the threads).
    - `seed`: the runtime's delay seed, an int or (min, max); shrinks to the min.

    >>> from hypothesis import find
    >>> find(schedules(layouts=["packed"], batch=8), lambda s: True)
    Schedule(delays=(), layout='packed', cpus=None, batch=8, seed=0)
    """
    lo_threads, hi_threads = span("threads", threads, low=1)
    if not isinstance(max_delay, int) or isinstance(max_delay, bool) \
            or not 0 <= max_delay <= MAX_DELAY:
        raise InvalidArgument(f"max_delay={max_delay!r}: needs an int in [0, {MAX_DELAY}]")
    choices("layouts", layouts, LAYOUTS)
    # Keep the caller's order: the first layout named is the one shrinking goes to.
    layouts = tuple(dict.fromkeys(layouts))
    batch = span("batch", batch, low=1, high=MAX_BATCH)
    seed = span("seed", seed, low=0)
    if cpus is not None:
        if not isinstance(cpus, int) or isinstance(cpus, bool) or cpus < hi_threads:
            raise InvalidArgument(f"cpus={cpus!r}: needs None or an int >= the largest thread "
                                  f"count ({hi_threads}), one CPU per thread")

    @st.composite
    def build(draw) -> Schedule:
        n = draw(st.integers(lo_threads, hi_threads))
        delays = draw(st.lists(_delays(max_delay), min_size=n, max_size=n))
        return Schedule(delays=_trimmed(tuple(delays)), layout=draw(st.sampled_from(layouts)),
                        cpus=draw(_placements(n, cpus)), batch=draw(st.integers(*batch)),
                        seed=draw(st.integers(*seed)))

    return build()
