"""pytest plugin (entry point `pytest11: stressmm`): fuzz a runtime from a user's own tests.

    from hypothesis import given
    from stressmm import strategies as mst

    @given(program=mst.programs(threads=2, ops=3), schedule=mst.schedules(max_delay=4))
    def test_my_runtime(program, schedule, stressmm_check):
        stressmm_check(program, schedule)            # raises ForbiddenOutcome with a report

Options:
  --stressmm-minutes M      run every test that uses `stressmm_check` again and again, with
                            fresh random examples, for M minutes (the `stressmm-fuzz` profile)
  --stressmm-iterations N   runs per example (default 20,000)
  --stressmm-mutant NAME    run against a deliberately broken native runtime variant
  --stressmm-model M        judge outcomes with model M (default: tso)
  --stressmm-backend SPEC   the implementation under test: native (default), pythreads, or
                            module:Class (see docs/backends.md)

`stressmm_check(program, schedule, impl="mypkg.locks:TicketLock")` runs the example on the
pythreads backend with that class in place of the built-in primitive of its role (a list
for several roles).

Hypothesis profiles: `stressmm-dev` (default, quick), `stressmm-ci` (more examples,
derandomized) and `stressmm-fuzz` (no example limit; the time budget decides). Select one with
Hypothesis's own `--hypothesis-profile`.

Under pytest-xdist, `-n auto` starts one worker per `threads` CPUs (never more program threads
than CPUs) and each worker is pinned to CPUs of its own.
"""
from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, settings

from .fuzz import DEFAULT_ITERATIONS, Memo, check_program

PROGRAM_THREADS = 2  # CPUs a worker needs: the threads of the programs it runs

settings.register_profile("stressmm-dev", max_examples=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("stressmm-ci", max_examples=100, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
# derandomize=False explicitly: Hypothesis loads its own `ci` profile (derandomized) when it
# sees a CI environment, and a derandomized fuzz round would draw the same examples each time.
# Small rounds: --stressmm-minutes repeats them until the time is spent, so the budget is kept
# to within a round (each example runs the program thousands of times).
settings.register_profile("stressmm-fuzz", max_examples=20, deadline=None,
                          derandomize=False, suppress_health_check=list(HealthCheck))


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
                help="model that judges outcomes (default tso)")
    g.addoption("--stressmm-backend", default=None, metavar="SPEC",
                help="implementation under test: native, pythreads or module:Class")


def pytest_configure(config):
    config.addinivalue_line("markers", "stressmm: a memory-model fuzz test (uses stressmm_check)")
    minutes = config.getoption("--stressmm-minutes")
    if minutes is not None and minutes <= 0:
        raise pytest.UsageError("--stressmm-minutes must be positive")
    if (config.getoption("--stressmm-iterations") or 1) < 1:
        raise pytest.UsageError("--stressmm-iterations must be at least 1")
    from .runtime import RuntimeUsageError
    from .runtime.compile import check_mutant

    try:
        check_mutant(config.getoption("--stressmm-mutant"))
    except RuntimeUsageError as e:
        raise pytest.UsageError(f"--stressmm-mutant: {e}")
    if config.getoption("--stressmm-backend"):
        from .runtime.registry import default_backend, get_backend

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
    if minutes is not None and config.getoption("hypothesis_profile", None) in (None, "default"):
        settings.load_profile("stressmm-fuzz")
    _pin_xdist_worker()


def _pin_xdist_worker():
    """Under pytest-xdist, pin worker gwK to its own slice of this process's CPUs."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not name.startswith("gw") or not hasattr(os, "sched_setaffinity"):
        return
    k = int(name[2:])
    cpus = sorted(os.sched_getaffinity(0))
    mine = cpus[k * PROGRAM_THREADS:(k + 1) * PROGRAM_THREADS]
    if len(mine) == PROGRAM_THREADS:
        os.sched_setaffinity(0, mine)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """`-n auto`: as many workers as fit PROGRAM_THREADS CPUs each (at least one)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, cpus // PROGRAM_THREADS)


@pytest.fixture(scope="session")
def stressmm_memo():
    """Programs that showed a forbidden outcome in this session (keeps replays deterministic)."""
    return Memo()


@pytest.fixture(scope="session")
def stressmm_check(request, stressmm_memo):
    """`stressmm_check(program, schedule=Schedule(), backend=None, impl=())`: run and judge
    one example with the session's options; raises `ForbiddenOutcome` with a readable
    counterexample. `impl` ("module:Class", or a list) runs your own Python primitives on the
    pythreads backend. Session-scoped: it holds no per-test state beyond the backends it
    built (one per spec, so that the memo recognises a program seen before)."""
    opts = request.config.getoption
    mutant = opts("--stressmm-mutant")
    model = opts("--stressmm-model")
    default_spec = opts("--stressmm-backend")
    built: dict = {}

    def run(program, schedule=None, backend=None, impl=()):
        from .runtime.registry import default_backend, get_backend
        from .schedule import Schedule

        impl = (impl,) if isinstance(impl, str) else tuple(impl)
        if backend is None and (impl or default_spec):
            key = (default_spec or default_backend(impl), impl)
            if key not in built:
                built[key] = get_backend(*key)
            backend = built[key]
        iterations = (opts("--stressmm-iterations")
                      or getattr(backend, "default_iterations", DEFAULT_ITERATIONS))
        native = backend is None or getattr(backend, "spec", None) == "native"
        return check_program(program, schedule or Schedule(), backend=backend, model=model,
                             mutant=mutant if native else None, iterations=iterations,
                             memo=stressmm_memo)

    return run


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """With --stressmm-minutes, a test that uses stressmm_check runs again and again (Hypothesis
    draws fresh examples each time) until its M minutes are spent or it fails."""
    minutes = item.config.getoption("--stressmm-minutes")
    result = yield  # raises if the first round failed
    if minutes is None or "stressmm_check" not in getattr(item, "fixturenames", ()):
        return result
    deadline = time.monotonic() + minutes * 60.0
    rounds = 1
    while time.monotonic() < deadline and rounds < 1_000_000:
        item.runtest()  # raises on a counterexample: pytest reports it as this test's failure
        rounds += 1
    return result


def _counterexamples(exc) -> list:
    """The ForbiddenOutcome errors in `exc` (Hypothesis may group several failures)."""
    from .fuzz import ForbiddenOutcome

    if isinstance(exc, ForbiddenOutcome):
        return [exc.counterexample]
    return [c for inner in getattr(exc, "exceptions", ()) for c in _counterexamples(inner)]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed stressmm test carries its counterexample as the test's property
    `stressmm_counterexample` (the .litmus text `stressmm replay` reads), so pytest's own
    `--junitxml` file holds it beside the failure message."""
    report = yield
    if call.excinfo is not None:
        for cex in _counterexamples(call.excinfo.value):
            prop = ("stressmm_counterexample", cex.as_litmus())
            item.user_properties.append(prop)   # the teardown report, which junitxml writes
            report.user_properties.append(prop)
    return report
