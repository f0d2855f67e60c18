"""Backends: implementations under test that run a program many times and return a histogram.

    >>> from stressmm.runtime import available_cpus
    >>> len(available_cpus()) >= 1
    True

- `stressmm.runtime.native`: the C executor (pinned pthreads, GIL released); the main backend.
- `stressmm.runtime.pythreads`: the same programs on plain Python threads; a slow baseline.

Every backend follows the `Backend` protocol and raises `RuntimeUsageError` for bad input
(the message says what is wrong and what to do).
"""
from __future__ import annotations

import os
from typing import Optional, Protocol, runtime_checkable

from ..outcome import Histogram
from ..program import Program
from ..schedule import Schedule

__all__ = ["RuntimeUsageError", "Backend", "available_cpus", "check_budget",
           "attach_histogram", "partial_histogram"]


class RuntimeUsageError(ValueError):
    """A run that cannot be done as asked: an unsupported op, a bad iteration count, more
    threads than CPUs, an unknown mutant. The message names the culprit and the remedy."""


@runtime_checkable
class Backend(Protocol):
    """Something that runs a program many times and counts its outcomes."""

    name: str

    def run(self, program: Program, iterations: Optional[int] = None,
            seconds: Optional[float] = None, schedule: Schedule = Schedule(),
            mutant: Optional[str] = None, oversubscribe: bool = False) -> Histogram:
        ...


def attach_histogram(exc: BaseException, histogram: Histogram) -> None:
    """Attach the runs a backend finished before `exc` (a signal: Ctrl-C, SIGTERM) stopped it."""
    exc.stressmm_histogram = histogram


def partial_histogram(exc: BaseException) -> Optional[Histogram]:
    """The runs finished before an interruption, when the backend attached them, else None.

    >>> partial_histogram(KeyboardInterrupt()) is None
    True
    """
    return getattr(exc, "stressmm_histogram", None)


def available_cpus() -> tuple:
    """The CPU indices this process may run on, sorted (psutil, falling back to os)."""
    try:
        import psutil
        cpus = psutil.Process().cpu_affinity()
    except (ImportError, AttributeError, OSError):
        cpus = None
    if not cpus:
        cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    return tuple(sorted(cpus))


def check_budget(iterations: Optional[int], seconds: Optional[float]) -> None:
    """Exactly one of `iterations` (an int >= 1) and `seconds` (> 0) must be given.

    >>> check_budget(10, None)
    >>> check_budget(None, None)
    Traceback (most recent call last):
    ...
    stressmm.runtime.RuntimeUsageError: give exactly one of iterations=N or seconds=S (got neither)
    """
    if (iterations is None) == (seconds is None):
        got = "neither" if iterations is None else "both"
        raise RuntimeUsageError(f"give exactly one of iterations=N or seconds=S (got {got})")
    if iterations is not None:
        if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 1:
            raise RuntimeUsageError(f"iterations must be an int >= 1, got {iterations!r}")
    elif (not isinstance(seconds, (int, float)) or isinstance(seconds, bool)
          or not seconds > 0 or seconds != seconds or seconds == float("inf")):
        raise RuntimeUsageError(f"seconds must be a finite number > 0, got {seconds!r}")


def machine_facts() -> dict:
    """What hardware results depend on: CPU model, core counts, the CPUs this process may use,
    Python and the system. Recorded with counterexamples and printed by the benchmarks."""
    import platform

    import psutil

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": model, "machine": platform.machine(), "cores": psutil.cpu_count(logical=False),
            "logical_cpus": psutil.cpu_count(), "affinity": list(available_cpus()),
            "python": platform.python_version(), "system": f"{platform.system()} {platform.release()}"}
