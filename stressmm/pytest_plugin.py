"""pytest plugin (entry point `pytest11: stressmm`): fuzz a runtime from a user's own tests.

    from hypothesis import given
    from stressmm import strategies as mst

    @given(program=mst.programs(threads=2, ops=(1, 3)), schedule=mst.schedules(max_delay=4))
    def test_my_runtime(program, schedule, stressmm_check):
        stressmm_check(program, schedule)            # raises ForbiddenOutcome with a report

Hypothesis settings: each example runs the program thousands of times on real threads, so a
test that uses `stressmm_check` runs with settings that suit hardware, in a plain `pytest` run
too: no deadline, the `too_slow` health check off, no explain phase, one counterexample
reported (the smallest), and 20 examples (the `stressmm-dev` profile; `stressmm-fuzz` under
`--stressmm-minutes`: rounds of 20 fresh examples, never derandomized, and under a fixed seed
each round draws from its own seed derived from it). What the test's own `@settings(...)` sets is kept (a value that differs from the
active profile's). `--hypothesis-profile NAME` replaces the stressmm profile (e.g.
`stressmm-ci`: 100 examples, derandomized), still with no deadline. Other tests keep
Hypothesis's own settings.

Options:
  --stressmm-minutes M      run every test that uses `stressmm_check` again and again, with
                            fresh random examples, for M minutes
  --stressmm-iterations N   runs per example (default 20,000)
  --stressmm-mutant NAME    run against a deliberately broken native runtime variant
  --stressmm-model M        judge outcomes with model M (default: `go` for Go programs, whose
                            atomics are all seq_cst; `tso` for any other)
  --stressmm-corpus DIR     where counterexamples are saved (default .stressmm/counterexamples,
                            as `stressmm fuzz`; "" saves none)
  --stressmm-threads N      CPUs each pytest-xdist worker is pinned to: the most threads the
                            programs have (default 2)
  --stressmm-oversubscribe  run programs with more threads than CPUs (the threads then share
                            CPUs, unpinned) instead of failing; also `stressmm_check(...,
                            oversubscribe=True)`
  --stressmm-backend SPEC   the implementation under test: native (default), pythreads, or
                            module:Class (see docs/backends.md)

`stressmm_check(program, schedule, impl="mypkg.locks:TicketLock")` runs the example on the
pythreads backend with that class in place of the built-in primitive of its role (a list
for several roles).

A program whose threads could not start in time (an overloaded machine: the runtime's start
barrier timed out) is run once more, then left unjudged, as `stressmm fuzz` does: never a
failure (it says nothing of the code under test), never a silent pass either. The test warns
with the count ("3 programs could not start their threads in time (skipped, not judged)"), and
a test in which no program could be judged is skipped with that reason.

A failing test saves its minimal counterexample in the corpus and its report ends with the
command that replays it (`stressmm replay <file>`).

Under pytest-xdist, `-n auto` starts one worker per `--stressmm-threads` CPUs and each worker is
pinned to CPUs of its own. More workers than that (`-n 2` on 2 CPUs) is warned about: the
workers without CPUs of their own share them, and their runs are slower and find less.
"""
from __future__ import annotations

import os
import shlex
import time
from dataclasses import dataclass
from typing import Optional

import pytest
from hypothesis import HealthCheck, Phase, settings

from .fuzz import (DEFAULT_ITERATIONS, ForbiddenOutcome, Memo, check_program, run_started,
                   save_counterexample, unstarted_note)

DEFAULT_CORPUS = ".stressmm/counterexamples"   # the same as `stressmm fuzz --corpus`
HARDWARE_HEALTH_CHECKS = (HealthCheck.too_slow,)
# The phases of `stressmm fuzz`, and the database's: no explain phase. Once the minimal
# counterexample is found, that phase reruns variants of it on the hardware, which is slow
# (each variant runs thousands of times, a minute and more for a Go program on a busy machine),
# and what it concludes is false here: a variant of the schedule alone replays the memo, so
# "any other generated value" would be claimed of a schedule that was never tried.
HARDWARE_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)
# One counterexample per test, the smallest, as `stressmm fuzz` reports: hardware failures are
# the same bug however Hypothesis tells them apart, and shrinking a second one costs the
# time of the first again (Hypothesis gives all its shrinking five minutes).
HARDWARE = dict(deadline=None, phases=HARDWARE_PHASES, report_multiple_bugs=False)

settings.register_profile("stressmm-dev", max_examples=20,
                          suppress_health_check=HARDWARE_HEALTH_CHECKS, **HARDWARE)
settings.register_profile("stressmm-ci", max_examples=100, derandomize=True,
                          suppress_health_check=HARDWARE_HEALTH_CHECKS, **HARDWARE)
# derandomize=False explicitly: Hypothesis loads its own `ci` profile (derandomized) when it
# sees a CI environment, and a derandomized fuzz round would draw the same examples each time.
# Small rounds: --stressmm-minutes repeats them until the time is spent, so the budget is kept
# to within a round (each example runs the program thousands of times).
settings.register_profile("stressmm-fuzz", max_examples=20, derandomize=False,
                          suppress_health_check=list(HealthCheck), **HARDWARE)

# What the programs of a test whose threads could not start in time are told to do.
UNSTARTED_REMEDY = "Run fewer jobs beside the tests, or fewer pytest-xdist workers"


class StressmmWarning(UserWarning):
    """Something a stressmm test did not check, though it passed: programs left unjudged."""


@dataclass
class Judged:
    """What the `stressmm_check` calls of the test now running came to: programs judged, and
    programs skipped unjudged because their threads could not start in time (`run_started`).
    One per test while it runs, kept in `config.stash` (not a global)."""

    judged: int = 0
    unstarted: int = 0

    def verdict(self) -> tuple:
        """("skip" | "warn" | "", message) for a test that passed with these counts: a test
        that judged no program is skipped with the reason, never passed; one that judged some
        warns about the rest.

            >>> Judged(judged=0, unstarted=2).verdict()[0], Judged(3, 1).verdict()[0]
            ('skip', 'warn')
            >>> Judged(3, 0).verdict()
            ('', '')
        """
        if not self.unstarted:
            return "", ""
        note = unstarted_note(self.unstarted, UNSTARTED_REMEDY)
        if not self.judged:
            return "skip", f"no program could be judged: {note}"
        return "warn", f"stressmm: {self.judged:,} program(s) judged; {note}"


JUDGED = pytest.StashKey[Judged]()

# The settings a stressmm profile decides for a test, unless the test's own @settings does.
PROFILE_FIELDS = ("max_examples", "deadline", "derandomize", "phases", "report_multiple_bugs")


def hardware_settings(own: settings, active: settings, chosen: Optional[str],
                      fuzzing: bool) -> settings:
    """The Hypothesis settings of a test that uses `stressmm_check`.

    `own` is the test's settings (`active`, the profile loaded when it was defined, when it has
    no @settings); `chosen` the profile named with --hypothesis-profile (None if none);
    `fuzzing` whether --stressmm-minutes is on. A field the test sets to a value other than the
    active profile's is kept; the others come from the stressmm profile, or from the chosen
    one. Hardware examples never get a deadline unless the test sets one, nor the too_slow
    health check, nor the explain phase (HARDWARE_PHASES), and report one counterexample, the
    smallest; fuzz rounds are never derandomized.

        >>> dev = hardware_settings(settings.default, settings.default, None, fuzzing=False)
        >>> dev.deadline, dev.max_examples, Phase.explain in dev.phases, dev.report_multiple_bugs
        (None, 20, False, False)
        >>> hardware_settings(settings(max_examples=5), settings.default, None, False).max_examples
        5
    """
    if chosen:
        profile = settings.get_profile(chosen)
        base = settings(profile, deadline=None, report_multiple_bugs=False,
                        phases=[p for p in profile.phases if p is not Phase.explain])
    else:
        base = settings.get_profile("stressmm-fuzz" if fuzzing else "stressmm-dev")
    changes = {f: getattr(base, f) for f in PROFILE_FIELDS if getattr(own, f) == getattr(active, f)}
    changes["suppress_health_check"] = sorted(
        set(own.suppress_health_check) | set(base.suppress_health_check) | set(HARDWARE_HEALTH_CHECKS),
        key=lambda h: h.value)
    if fuzzing:
        changes["derandomize"] = False
    return settings(own, **changes)


def pytest_addoption(parser):
    g = parser.getgroup("stressmm", "stressmm memory-model fuzzing")
    g.addoption("--stressmm-minutes", type=float, default=None, metavar="M",
                help="fuzz each stressmm test for M minutes")
    g.addoption("--stressmm-iterations", type=int, default=None, metavar="N",
                help=f"runs of each generated program (default {DEFAULT_ITERATIONS:,}; "
                     f"1,000 on pythreads)")
    g.addoption("--stressmm-mutant", default=None, metavar="NAME",
                help="run against a broken native runtime variant (see `stressmm mutants`)")
    g.addoption("--stressmm-model", default=None, metavar="M",
                help="model that judges outcomes (default: go for Go programs, tso for others)")
    g.addoption("--stressmm-corpus", default=DEFAULT_CORPUS, metavar="DIR",
                help="save counterexamples in DIR (default %(default)s; '' for none)")
    g.addoption("--stressmm-threads", type=int, default=2, metavar="N",
                help="CPUs per pytest-xdist worker: the most threads the programs have "
                     "(default %(default)s)")
    g.addoption("--stressmm-oversubscribe", action="store_true", default=False,
                help="run programs with more threads than CPUs (unpinned) instead of failing")
    g.addoption("--stressmm-backend", default=None, metavar="SPEC",
                help="implementation under test: native, pythreads or module:Class")


def pytest_configure(config):
    config.addinivalue_line("markers", "stressmm: a memory-model fuzz test (uses stressmm_check)")
    minutes = config.getoption("--stressmm-minutes")
    if minutes is not None and minutes <= 0:
        raise pytest.UsageError("--stressmm-minutes must be positive")
    if (config.getoption("--stressmm-iterations") or 1) < 1:
        raise pytest.UsageError("--stressmm-iterations must be at least 1")
    if config.getoption("--stressmm-threads") < 1:
        raise pytest.UsageError("--stressmm-threads must be at least 1")
    from .runtime import RuntimeUsageError
    from .runtime.compile import check_mutant

    try:
        check_mutant(config.getoption("--stressmm-mutant"))
    except RuntimeUsageError as e:
        raise pytest.UsageError(f"--stressmm-mutant: {e}")
    if config.getoption("--stressmm-backend"):
        from .runtime.registry import get_backend

        try:
            get_backend(config.getoption("--stressmm-backend"))
        except RuntimeUsageError as e:
            raise pytest.UsageError(f"--stressmm-backend: {e}")
    model = config.getoption("--stressmm-model")
    if model is not None:
        from .models import MODELS

        if model not in MODELS:
            raise pytest.UsageError(f"--stressmm-model: unknown model {model!r} "
                                    f"(known: {', '.join(MODELS)})")
    threads = config.getoption("--stressmm-threads")
    workers = config.getoption("numprocesses", None)
    if isinstance(workers, int) and not os.environ.get("PYTEST_XDIST_WORKER"):
        warning = xdist_overcommit(workers, _cpus(), threads)
        if warning:
            config.issue_config_time_warning(pytest.PytestConfigWarning(warning), stacklevel=2)
    _pin_xdist_worker(threads)


def _cpus() -> list:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def xdist_cpus(worker: int, cpus: list, threads: int) -> Optional[list]:
    """The CPUs pytest-xdist worker gw<worker> is pinned to: `threads` of its own, or None
    when the CPUs have run out (the worker then shares CPUs with the others).

        >>> xdist_cpus(1, [0, 1, 2, 3], 2), xdist_cpus(1, [0, 1], 2)
        ([2, 3], None)
    """
    mine = cpus[worker * threads:(worker + 1) * threads]
    return mine if len(mine) == threads else None


def xdist_overcommit(workers: int, cpus: list, threads: int) -> str:
    """What is wrong with `workers` pytest-xdist workers of `threads` CPUs each on `cpus`, or ""."""
    fit = max(1, len(cpus) // threads)
    if workers <= fit:
        return ""
    return (f"stressmm: -n {workers} starts {workers} workers, but the {len(cpus)} CPUs "
            f"hold {fit} worker(s) of {threads} CPUs (--stressmm-threads {threads}): workers "
            f"gw{fit} and up have no CPUs of their own, so their stressmm tests share CPUs and "
            f"run slower and find less; use -n auto (= -n {fit})")


def _pin_xdist_worker(threads: int) -> None:
    """Under pytest-xdist, pin worker gwK to its own slice of this process's CPUs."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not name.startswith("gw") or not hasattr(os, "sched_setaffinity"):
        return
    mine = xdist_cpus(int(name[2:]), _cpus(), threads)
    if mine is not None:
        os.sched_setaffinity(0, mine)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """`-n auto`: as many workers as fit --stressmm-threads CPUs each (at least one)."""
    return max(1, len(_cpus()) // config.getoption("--stressmm-threads"))


@dataclass(frozen=True)
class _Oversubscribed:
    """The native runtime, letting a program have more threads than CPUs (equal instances
    are one backend for the memo)."""

    name = "native"

    def run(self, program, iterations, schedule, mutant=None):
        from .runtime import native

        return native.run(program, iterations=iterations, schedule=schedule, mutant=mutant,
                          oversubscribe=True)


@pytest.fixture(scope="session")
def stressmm_memo():
    """Programs that showed a forbidden outcome in this session (keeps replays deterministic)."""
    return Memo()


@pytest.fixture(scope="session")
def stressmm_check(request, stressmm_memo):
    """`stressmm_check(program, schedule=Schedule(), backend=None, impl=(), oversubscribe=None)`:
    run and judge one example with the session's options; raises `ForbiddenOutcome` with a
    readable counterexample, and returns the histogram of the runs (None when the program's
    threads could not start in time, twice: an overloaded machine, not a fault; the program
    is then left unjudged and counted, and the test warns with the count, or, when no
    program of it could be judged, is skipped with the reason). `impl` ("module:Class", or a
    list) runs your own Python primitives on the pythreads backend. Session-scoped: it holds
    no per-test state beyond the backends it built (one per spec, so that the memo
    recognises a program seen before); the counts of the test now running are in
    `config.stash[JUDGED]`."""
    opts = request.config.getoption
    mutant = opts("--stressmm-mutant")
    model = opts("--stressmm-model")
    default_spec = opts("--stressmm-backend")
    session_oversubscribe = opts("--stressmm-oversubscribe")
    built: dict = {}

    def run(program, schedule=None, backend=None, impl=(), oversubscribe=None):
        from .runtime.registry import default_backend, get_backend
        from .schedule import Schedule

        impl = (impl,) if isinstance(impl, str) else tuple(impl)
        if backend is None and (impl or default_spec):
            key = (default_spec or default_backend(impl), impl)
            if key not in built:
                built[key] = get_backend(*key)
            backend = built[key]
        over = session_oversubscribe if oversubscribe is None else oversubscribe
        if backend is None and over:
            backend = _Oversubscribed()
        iterations = (opts("--stressmm-iterations")
                      or getattr(backend, "default_iterations", DEFAULT_ITERATIONS))
        native = (backend is None or isinstance(backend, _Oversubscribed)
                  or getattr(backend, "spec", None) == "native")
        hist = run_started(lambda: check_program(
            program, schedule or Schedule(), backend=backend, model=model,
            mutant=mutant if native else None, iterations=iterations, memo=stressmm_memo))
        tally = request.config.stash.get(JUDGED, None)
        if tally is not None:
            if hist is None:
                tally.unstarted += 1
            else:
                tally.judged += 1
        return hist

    return run


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test that uses stressmm_check runs with hardware settings (`hardware_settings`). With
    --stressmm-minutes it runs again and again (Hypothesis draws fresh examples each time)
    until its M minutes are spent or it fails."""
    if "stressmm_check" not in getattr(item, "fixturenames", ()):
        return (yield)
    tally = item.config.stash[JUDGED] = Judged()
    minutes = item.config.getoption("--stressmm-minutes")
    function = getattr(item, "function", None)
    own = getattr(function, "_hypothesis_internal_use_settings", None)
    own_seed = getattr(function, "_hypothesis_internal_use_seed", None)
    if own is not None:
        chosen = item.config.getoption("hypothesis_profile", None)
        function._hypothesis_internal_use_settings = hardware_settings(
            own, settings.default, None if chosen in (None, "default") else chosen,
            fuzzing=minutes is not None)
    try:
        result = yield  # raises if the first round failed
        if minutes is not None:
            deadline = time.monotonic() + minutes * 60.0
            rounds = 1
            base_seed = forced_seed(own_seed)
            while time.monotonic() < deadline and rounds < 1_000_000:
                if own is not None and base_seed is not None:
                    function._hypothesis_internal_use_seed = round_seed(base_seed, rounds)
                item.runtest()  # raises on a counterexample: reported as this test's failure
                rounds += 1
        what, message = tally.verdict()
        if what == "skip":
            _skip_at(item, message)
        if what == "warn":
            item.warn(StressmmWarning(message))   # shown at the test, in the warnings summary
        return result
    finally:
        del item.config.stash[JUDGED]   # calls outside a test's call count for no test
        if own is not None:
            function._hypothesis_internal_use_settings = own
            if hasattr(function, "_hypothesis_internal_use_seed"):
                function._hypothesis_internal_use_seed = own_seed


def _skip_at(item, reason: str):
    """Skip `item` with `reason`, shown at the test's own line (as a skip marker's is), not at
    this plugin's."""
    try:
        raise pytest.skip.Exception(reason, _use_item_location=True)
    except TypeError:   # a pytest without that keyword: the reason alone still says it all
        pytest.skip(reason)


def forced_seed(own_seed):
    """The seed that fixes a test's draws: its own `@seed`, else `--hypothesis-seed`'s, else
    None (each round then draws fresh examples anyway)."""
    if own_seed is not None:
        return own_seed
    from hypothesis import core

    return getattr(core, "global_force_seed", None)


def round_seed(seed, round_: int) -> int:
    """The seed of fuzz round `round_` (1, 2, ...) of a test whose seed is fixed: rounds with
    the same seed would draw the same examples again, so each round draws from its own seed,
    derived from the fixed one, and a rerun with that seed repeats every round. Round 0 is the
    first round itself (the fixed seed).

        >>> round_seed(3, 0), round_seed(3, 1) == round_seed(3, 1) != round_seed(3, 2)
        (3, True)
    """
    if round_ == 0:
        return seed
    import hashlib

    digest = hashlib.sha256(f"{seed!r}/{round_}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def counterexamples_in(error: BaseException) -> list:
    """The counterexamples a test's failure carries (Hypothesis may group several errors)."""
    if isinstance(error, ForbiddenOutcome):
        return [error.counterexample]
    return [c for e in getattr(error, "exceptions", ()) for c in counterexamples_in(e)]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failure with a counterexample: save it in the corpus, end the report with the command
    that replays it, and carry it as the test's property `stressmm_counterexample` (the .litmus
    text `stressmm replay` reads), so pytest's own `--junitxml` file holds it beside the
    failure message."""
    report = yield
    if call.when != "call" or call.excinfo is None:
        return report
    corpus = item.config.getoption("--stressmm-corpus")
    lines = []
    for cex in counterexamples_in(call.excinfo.value):
        prop = ("stressmm_counterexample", cex.as_litmus())
        item.user_properties.append(prop)   # the teardown report, which junitxml writes
        report.user_properties.append(prop)
        if not corpus:
            lines.append(f"not saved (--stressmm-corpus ''): {cex.outcome}")
            continue
        try:
            path = save_counterexample(cex, corpus)
        except OSError as e:
            lines.append(f"could not save the counterexample in {corpus} ({e.strerror or e}): "
                         "the report above holds it in full")
            continue
        lines.append(f"saved: {path}\nreplay: stressmm replay {shlex.quote(str(path))}")
    if lines:
        report.sections.append(("stressmm counterexample", "\n".join(lines)))
    return report
