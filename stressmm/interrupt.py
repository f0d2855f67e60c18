"""Signals as exceptions, so that a command stopped by Ctrl-C (SIGINT) or SIGTERM can still
print what it has done, then exit with 128 + the signal number (130, 143).

    >>> exit_status(KeyboardInterrupt())
    130
    >>> exit_status(Terminated(15)), signal_name(Terminated(15))
    (143, 'SIGTERM')

`Terminated` is a KeyboardInterrupt, so every place that already stops cleanly on Ctrl-C
(the native runtime, Hypothesis, campaigns) stops the same way on SIGTERM.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

__all__ = ["Terminated", "sigterm_raises", "exit_status", "signal_name", "signal_number"]


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM (see `sigterm_raises`)."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = int(signum)


def signal_number(exc: BaseException) -> int:
    """The signal an interruption came from: SIGTERM for `Terminated`, else SIGINT."""
    return getattr(exc, "signum", int(signal.SIGINT))


def signal_name(exc: BaseException) -> str:
    return signal.Signals(signal_number(exc)).name


def exit_status(exc: BaseException) -> int:
    """128 + the signal number, as a shell reports a process a signal ended."""
    return 128 + signal_number(exc)


@contextmanager
def sigterm_raises():
    """Within the block, SIGTERM raises `Terminated` in the main thread (elsewhere: no change,
    since only the main thread may set signal handlers). The previous handler comes back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
