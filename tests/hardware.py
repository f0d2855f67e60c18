"""Helpers for the tests that run programs on the native runtime (real threads, real CPUs)."""
import time

from stressmm.runtime.native import run


def until(program, predicate, seconds=30.0, **kw):
    """Run `program` in short slices until `predicate(histogram)` holds or `seconds` are spent;
    returns the merged histogram. Generous budgets keep such tests passing when the other core
    is busy, while a pass usually comes within the first slices."""
    end, total = time.monotonic() + seconds, None
    while time.monotonic() < end:
        h = run(program, seconds=0.2, **kw)
        total = h if total is None else total.merged(h)
        if predicate(total):
            break
    return total
