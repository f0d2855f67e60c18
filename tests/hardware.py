"""Helpers for the tests that run programs on the native runtime (real threads, real CPUs)."""
import signal
import time
from contextlib import contextmanager

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


@contextmanager
def ctrl_c_raises():
    """Python's own Ctrl-C handler (KeyboardInterrupt) inside the block, as at a terminal, even
    when this process was started with SIGINT ignored (a shell's background job is)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def sigint_as_at_a_terminal():
    """A `preexec_fn` for a child that is sent Ctrl-C: SIGINT at its default disposition, as
    for a command started at a terminal, even when this process ignores it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
