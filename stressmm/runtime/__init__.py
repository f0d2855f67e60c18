"""Backends: implementations under test that run a program many times and return a histogram.

    >>> from stressmm.runtime import available_cpus
    >>> len(available_cpus()) >= 1
    True

- `stressmm.runtime.native`: the C executor (pinned pthreads, GIL released); the main backend.
- `stressmm.runtime.pythreads`: the same programs on Python threads, with built-in Python Go
  primitives that a user's own classes can replace (`--impl module:Class`).
- `stressmm.runtime.registry`: backends by name (`native`, `pythreads`) or `module:Class`.

The `Backend` protocol (docs/backends.md has the whole story):

- `run(program, iterations=N, schedule=S)` runs `program` N times (or, when called with
  `seconds=T` instead of `iterations`, for T seconds) and returns a `stressmm.outcome.Histogram`
  for that program: `Histogram(program, {Outcome: count, ...}, elapsed, backend_name)`.
  `mutant=` and `oversubscribe=` are passed only when the caller sets them, so a backend that
  knows neither may leave them out of its signature.
- Every outcome is *complete*: every register of every thread (`program.registers(t)`, 0 when
  never written) and the final value of every variable (`program.vars`) -- or it is a flag
  outcome, `Outcome.flagged("deadlock" | "panic" | "timeout")`, with nothing else in it.
  The models' outcomes have that shape, so a partial outcome (registers only, as litmus7
  prints them) would look forbidden when it is not: `run_backend` refuses such a histogram
  with `BadHistogram`, naming the missing registers or variables, before anything is judged.
- `name` (optional) names the implementation under test in every report.

Every backend raises `RuntimeUsageError` for bad input (the message says what is wrong and
what to do).
"""
from __future__ import annotations

import os
from typing import Optional, Protocol, runtime_checkable

from ..outcome import Histogram, Outcome
from ..program import FLAGS, Program
from ..schedule import Schedule

__all__ = ["RuntimeUsageError", "ThreadsNotStarted", "BadHistogram", "Backend", "available_cpus", "check_budget",
           "check_histogram", "run_backend", "backend_name", "attach_histogram",
           "partial_histogram", "hang_note"]


class RuntimeUsageError(ValueError):
    """A run that cannot be done as asked: an unsupported op, a bad iteration count, more
    threads than CPUs, an unknown mutant. The message names the culprit and the remedy."""


class ThreadsNotStarted(RuntimeUsageError):
    """A run abandoned because a program thread did not reach a barrier of the runtime within
    its bound (the native executor's 20 s, pythreads' `BARRIER_SECONDS`): the threads were
    descheduled on an overloaded or niced machine. It says nothing about the implementation
    under test; the same run may well succeed a moment later. A campaign retries such a
    program, then skips it and counts it."""


class BadHistogram(RuntimeUsageError):
    """A backend returned something that cannot be judged: not a Histogram, a histogram of
    another program, or outcomes that lack registers or variables of the program."""


@runtime_checkable
class Backend(Protocol):
    """Something that runs a program many times and counts its outcomes."""

    def run(self, program: Program, iterations: Optional[int] = None,
            seconds: Optional[float] = None, schedule: Schedule = Schedule(),
            mutant: Optional[str] = None, oversubscribe: bool = False) -> Histogram:
        """Run `program` `iterations` times (or for `seconds`); see the module doc."""
        ...


def cache_dir(env: str, name: str):
    """Where stressmm keeps builds of kind `name`: `$env` if set, else
    `$XDG_CACHE_HOME/stressmm/<name>`, else `~/.cache/stressmm/<name>` (created on first use).

    >>> cache_dir("STRESSMM_NO_SUCH_VARIABLE", "go").parts[-2:]
    ('stressmm', 'go')
    """
    from pathlib import Path

    given = os.environ.get(env)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "stressmm" / name


def backend_name(backend) -> str:
    """The name reports give the implementation under test: `backend.name`, else the name of
    a plain function used as a backend, else its class name.

    >>> backend_name(None), backend_name(run_backend)
    ('native', 'run_backend')
    """
    if backend is None:
        return "native"
    name = getattr(backend, "name", None)
    if isinstance(name, str) and name:
        return name
    return getattr(backend, "__name__", None) or type(backend).__name__


def run_backend(backend, program: Program, *, iterations: Optional[int] = None,
                seconds: Optional[float] = None, schedule: Schedule = Schedule(),
                mutant: Optional[str] = None, oversubscribe: bool = False) -> Histogram:
    """Run `program` on `backend` (None: the native runtime) and return its histogram once it
    passed `check_histogram`: the one way `check_program`, `stressmm run`, `fuzz` and `replay`
    call a backend. `backend` is an object with `run(...)` or a plain function with that
    signature; `seconds`, `mutant` and `oversubscribe` are passed only when set."""
    if backend is None:
        from .native import run as run_native
        runner = run_native
    else:
        runner = getattr(backend, "run", backend)
        if not callable(runner):
            raise BadHistogram(f"backend {backend!r} has no run(program, iterations=..., "
                               f"schedule=...) method and is not callable")
    kwargs: dict = {"schedule": schedule}
    kwargs.update({"iterations": iterations} if seconds is None else {"seconds": seconds})
    if mutant is not None:
        kwargs["mutant"] = mutant
    if oversubscribe:
        kwargs["oversubscribe"] = True
    hist = runner(program, **kwargs)
    check_histogram(hist, program, backend_name(backend))
    return hist


def check_histogram(hist, program: Program, who: str = "the backend") -> None:
    """Raise BadHistogram unless `hist` is a Histogram of `program` whose outcomes are all
    complete (every register and variable of the program, nothing else) or flag outcomes.

    >>> from stressmm.program import Program, Var, Thread, Load
    >>> from stressmm.outcome import Outcome
    >>> p = Program("R", (Var("x"),), (Thread((Load("r0", "x"),)),))
    >>> check_histogram(Histogram(p, {Outcome.make({(0, "r0"): 0}, {"x": 0}): 5}), p)
    >>> check_histogram(Histogram(p, {Outcome.make({(0, "r0"): 0}): 5}), p, "litmus7")
    Traceback (most recent call last):
    ...
    stressmm.runtime.BadHistogram: litmus7 returned an incomplete outcome for R: 'P0:r0=0' lacks variables x (an outcome holds every register of every thread and the final value of every variable, or a flag alone: see docs/backends.md)
    """
    if not isinstance(hist, Histogram):
        raise BadHistogram(
            f"{who} returned a {type(hist).__name__}, not a stressmm.outcome.Histogram: return "
            f"Histogram(program, {{Outcome: count}}, elapsed, name) (see docs/backends.md)")
    if hist.program != program:
        raise BadHistogram(f"{who} returned a histogram of {getattr(hist.program, 'name', '?')!r}"
                           f" for program {program.name!r}: pass the program it was given")
    if not hasattr(hist.counts, "items"):
        raise BadHistogram(f"{who}: Histogram.counts must be a dict {{Outcome: count}}, "
                           f"got a {type(hist.counts).__name__}")
    want_regs = {(t, r) for t in range(len(program.threads)) for r in program.registers(t)}
    want_mem = {v.name for v in program.vars}
    for outcome, n in hist.counts.items():
        if not isinstance(outcome, Outcome):
            raise BadHistogram(f"{who} counted {outcome!r}, which is not a stressmm.outcome."
                               f"Outcome: build outcomes with Outcome.make(regs, mem)")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise BadHistogram(f"{who} counted outcome {outcome} {n!r} times: counts are "
                               f"ints >= 0")
        _check_outcome(outcome, program, want_regs, want_mem, who)


def _check_outcome(outcome: Outcome, program: Program, want_regs: set, want_mem: set,
                   who: str) -> None:
    unknown_flags = sorted(set(outcome.flags) - set(FLAGS))
    if unknown_flags:
        raise BadHistogram(f"{who} returned outcome {outcome} with unknown flag(s) "
                           f"{', '.join(map(str, unknown_flags))} (known: {', '.join(FLAGS)})")
    if outcome.flags:
        if outcome.regs or outcome.mem:
            raise BadHistogram(f"{who} returned outcome {outcome} for {program.name}: a "
                               f"{'/'.join(sorted(outcome.flags))} run ends the whole program, "
                               f"so its outcome is the flag alone: Outcome.flagged(flag)")
        if len(outcome.flags) > 1:
            raise BadHistogram(f"{who} returned outcome {outcome}: a run ends with one flag")
        return
    regs = [(t, r) for t, r, _ in outcome.regs]
    mem = [loc for loc, _ in outcome.mem]
    problems = []
    missing_regs = sorted(want_regs - set(regs))
    if missing_regs:
        problems.append("lacks registers " + ", ".join(f"P{t}:{r}" for t, r in missing_regs))
    missing_mem = sorted(want_mem - set(mem))
    if missing_mem:
        problems.append("lacks variables " + ", ".join(missing_mem))
    extra = [f"P{t}:{r}" for t, r in sorted(set(regs) - want_regs)] + sorted(set(mem) - want_mem)
    if extra:
        problems.append("names " + ", ".join(extra) + f", which {program.name} does not have")
    if len(regs) != len(set(regs)) or len(mem) != len(set(mem)):
        problems.append("names a register or variable twice")
    if problems:
        raise BadHistogram(
            f"{who} returned an incomplete outcome for {program.name}: {str(outcome)!r} "
            + "; ".join(problems) + " (an outcome holds every register of every thread and the "
            "final value of every variable, or a flag alone: see docs/backends.md)")


def hang_note(who: str, seconds: float, since: str, guess: str) -> str:
    """How a backend tells a call of the implementation under test that has not returned
    (`info["stuck"]`, printed as `STUCK: ...`): who is blocked, for how long since when, and
    the likely cause.

        >>> hang_note("P1: mu.lock() (line 9) on mypkg.locks:Lock", 3.0, "the iteration began",
        ...           "a primitive that never returns")
        'P1: mu.lock() (line 9) on mypkg.locks:Lock: still blocked 3 s after the iteration began (a primitive that never returns?)'
    """
    return f"{who}: still blocked {seconds:g} s after {since} ({guess}?)"


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
