"""Checking the knobs of the strategies, once, when a strategy is built.

A bad knob raises `hypothesis.errors.InvalidArgument` at once (not when the first example is
drawn), with a message that names the knob, what it got and what it accepts::

    >>> span("threads", 2, low=1)
    (2, 2)
    >>> span("threads", (2, 3), low=1)
    (2, 3)
    >>> span("threads", 0, low=1)
    Traceback (most recent call last):
    ...
    hypothesis.errors.InvalidArgument: threads=0: needs an int >= 1 or a (min, max) pair of them
"""
from __future__ import annotations

from typing import Iterable, Optional

from hypothesis.errors import InvalidArgument

__all__ = ["span", "choices"]


def span(name: str, value, *, low: int = 0, high: Optional[int] = None) -> tuple:
    """A knob that is an int or a (min, max) pair, as a (min, max) pair within [low, high].

    >>> span("ops", (1, 4), low=1)
    (1, 4)
    """
    bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
    wanted = f"needs an int {bounds} or a (min, max) pair of them"
    if _is_int(value):
        pair = (value, value)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        pair = (value[0], value[1])
    else:
        raise InvalidArgument(f"{name}={value!r}: {wanted}")
    lo, hi = pair
    if lo < low or (high is not None and hi > high):
        raise InvalidArgument(f"{name}={value!r}: {wanted}")
    if lo > hi:
        raise InvalidArgument(f"{name}={value!r}: min is greater than max; write ({hi}, {lo})")
    return pair


def choices(name: str, value: Iterable, valid: tuple) -> tuple:
    """A knob that picks some of `valid`, as a tuple in the order of `valid`, without repeats.

    >>> choices("layouts", ["packed", "spread"], ("spread", "packed"))
    ('spread', 'packed')
    """
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidArgument(f"{name}={value!r}: needs a list of some of {', '.join(valid)}")
    picked = [str(v.value if hasattr(v, "value") else v) for v in value]
    unknown = [v for v in picked if v not in valid]
    if unknown:
        raise InvalidArgument(f"{name}={value!r}: unknown {', '.join(map(repr, unknown))}; "
                              f"choose among {', '.join(valid)}")
    if not picked:
        raise InvalidArgument(f"{name}={value!r}: name at least one of {', '.join(valid)}")
    return tuple(v for v in valid if v in picked)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
