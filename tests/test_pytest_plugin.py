"""The pytest plugin, as a user's test suite meets it (inner pytest runs in a subprocess)."""
import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

USER_TEST = '''
from hypothesis import given, settings
from stressmm import strategies as mst

@settings(max_examples=15, deadline=None)
@given(program=mst.programs(threads=2, ops=(2, 2), kinds=("load", "store"), locations=2,
                            orders=["seq_cst"]),
       schedule=mst.schedules(max_delay=2, batch=64))
def test_runtime(program, schedule, stressmm_check):
    stressmm_check(program, schedule)
'''


def two_cpus():
    return len(os.sched_getaffinity(0)) >= 2


# The inner `pytest -n 2` plans CPUs from what this process may use; inside an xdist worker of
# this suite the plugin has already pinned this process, so the plan there is not the one a
# user's plain run gets.
inner_xdist = pytest.mark.skipif(
    "PYTEST_XDIST_WORKER" in os.environ,
    reason="runs pytest -n 2 inside; under an xdist worker of this suite the plugin has already "
           "pinned this process to its own CPUs (run this suite serially, as the README does)")


def run_inner(pytester, *args, timeout=240):
    pytester.makepyfile(test_user=USER_TEST)
    # the plugin is loaded through its pytest11 entry point, as in a user's suite
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=timeout)


@pytest.mark.skipif(not two_cpus(), reason="needs 2 CPUs to run 2 pinned threads")
def test_correct_runtime_passes(pytester):
    result = run_inner(pytester, "--stressmm-iterations", "5000")
    result.assert_outcomes(passed=1)


@pytest.mark.skipif(not two_cpus(), reason="needs 2 CPUs to run 2 pinned threads")
def test_mutant_fails_with_a_minimal_counterexample(pytester, monkeypatch):
    # As on a CI machine, where Hypothesis would load its derandomized `ci` profile: each fuzz
    # round must still draw fresh examples, or the SB shape is never reached.
    monkeypatch.setenv("CI", "true")
    # A generous budget: the first counterexample ends the run (within seconds on an idle
    # machine), so only a busy machine ever uses more of it. 5,000 runs an example: the
    # mutant's store buffering shows within far fewer, and shrinking reruns examples.
    corpus = pytester.path / "found"
    result = run_inner(pytester, "--stressmm-mutant", "sc-store-no-fence",
                       "--stressmm-iterations", "5000", "--stressmm-minutes", "4",
                       "--stressmm-corpus", str(corpus), "--junitxml", "out.xml", timeout=480)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "FORBIDDEN outcome" in out
    assert "Flaky" not in out
    assert "program: 2 threads, 4 ops" in out
    saved = list(corpus.glob("*.litmus"))
    assert len(saved) == 1 and f"replay: stressmm replay {saved[0]}" in out
    # pytest's own JUnit file carries the counterexample: in the failure message, and as the
    # property `stressmm_counterexample`, a whole .litmus file that `stressmm replay` reads
    import xml.etree.ElementTree as ET

    from stressmm.fuzz import load_counterexample

    [case] = ET.parse(pytester.path / "out.xml").getroot().iter("testcase")
    [failure] = case.findall("failure")
    assert "FORBIDDEN outcome" in failure.get("message")
    assert "program: 2 threads, 4 ops" in failure.get("message")
    [prop] = [p for p in case.iter("property") if p.get("name") == "stressmm_counterexample"]
    saved = pytester.path / "cex.litmus"
    saved.write_text(prop.get("value"))
    prog, meta = load_counterexample(saved)
    assert len(prog.threads) == 2 and meta["mutant"] == "sc-store-no-fence"


def test_bad_options_are_usage_errors(pytester):
    pytester.makepyfile(test_user="def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--stressmm-mutant", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown mutant 'nope'" in result.stderr.str()


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_xdist_auto_does_not_oversubscribe(threads):
    from stressmm.pytest_plugin import pytest_xdist_auto_num_workers

    class Config:
        def getoption(self, name):
            assert name == "--stressmm-threads"
            return threads

    cpus = len(os.sched_getaffinity(0))
    assert pytest_xdist_auto_num_workers(Config()) == max(1, cpus // threads)


IMPL_TEST = '''
from hypothesis import given, settings
from stressmm import strategies as mst

@settings(max_examples=6, deadline=None)
@given(program=mst.go_programs(sync=["mutex"], accesses=False),
       schedule=mst.schedules(max_delay=4))
def test_my_lock(program, schedule, stressmm_check):
    stressmm_check(program, schedule, impl="%s")
'''


def test_stressmm_check_takes_a_python_implementation(pytester):
    from pathlib import Path

    ticket = Path(__file__).resolve().parent.parent / "examples" / "impls" / "ticket_lock.py"
    pytester.makepyfile(test_user=IMPL_TEST % f"{ticket}:TicketLock")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--stressmm-model", "go",
                                           "--stressmm-iterations", "200", timeout=240)
    result.assert_outcomes(passed=1)


def test_a_bad_backend_option_is_a_usage_error(pytester):
    pytester.makepyfile(test_user="def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--stressmm-backend", "no_such_module_xyz:B")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "no module named 'no_such_module_xyz'" in result.stderr.str()


# Backends that need no hardware: every outcome x86-TSO allows (of the program, or of it with its
# seq_cst stores demoted to release, so store buffering shows), after a pause longer than
# Hypothesis's default deadline, as a run of thousands of iterations on real threads takes.
SLOW_BACKENDS = f'''
import sys
import time

sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_fuzz import DemotedStoresBackend
from stressmm.models import get_model
from stressmm.outcome import Histogram


class SlowCorrect:
    name = "slow-correct"

    def run(self, program, iterations, schedule):
        time.sleep(0.3)
        outcomes = get_model("tso").allowed(program).outcomes
        return Histogram(program, {{o: 1 for o in outcomes}}, backend=self.name)


class DemotedStores(DemotedStoresBackend):
    def run(self, program, iterations, schedule):
        if self.calls == 0:    # slow once: without hardware settings, a deadline error
            time.sleep(0.3)
        return super().run(program, iterations, schedule)


SLOW, DEMOTED = SlowCorrect(), DemotedStores()
'''


def test_a_plain_run_gives_stressmm_tests_hardware_settings(pytester):
    pytester.makepyfile(backends=SLOW_BACKENDS, test_user='''
from hypothesis import given, settings
from stressmm import strategies as mst
from backends import SLOW

CALLS = []

@given(program=mst.programs(threads=2, ops=(1, 2)), schedule=mst.schedules())
def test_slow_examples(program, schedule, stressmm_check):      # no @settings: the README's way
    CALLS.append(program)
    stressmm_check(program, schedule, backend=SLOW)

@settings(max_examples=3)
@given(program=mst.programs(threads=2, ops=(1, 2)))
def test_own_settings_are_kept(program, stressmm_check):
    CALLS.append(program)
    stressmm_check(program, backend=SLOW)

def test_counts():                     # runs after the two above
    assert 1 <= len(CALLS) - 3 <= 20   # a sensible count of slow examples, then 3

def test_other_tests_keep_hypothesis_settings():
    # Hypothesis's own profile ("default", or "ci" where CI is set, which has no deadline):
    # not stressmm's 20 examples
    assert settings.default.max_examples == settings.get_profile("default").max_examples
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=240)
    result.assert_outcomes(passed=4)


def test_a_counterexample_is_minimal_saved_and_its_replay_command_printed(pytester):
    pytester.makepyfile(backends=SLOW_BACKENDS, test_user='''
from hypothesis import given, settings
from stressmm import strategies as mst
from backends import DEMOTED

@settings(max_examples=500, derandomize=True)   # until the store buffering shape comes
@given(program=mst.programs(threads=(1, 3), ops=(1, 3), locations=2, kinds=("load", "store"),
                            orders=["seq_cst"]),
       schedule=mst.schedules(max_delay=4))
def test_runtime(program, schedule, stressmm_check):
    stressmm_check(program, schedule, backend=DEMOTED)
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=240)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "DeadlineExceeded" not in out and "Flaky" not in out
    assert "program: 2 threads, 4 ops" in out          # SB, as `stressmm fuzz` finds it
    # As `stressmm fuzz`: generation stops at the first failure, only the smallest is shrunk
    # and shown, and Hypothesis's explain phase does not run (on hardware it reruns variants of
    # the minimal example, and from the memo it would claim that "any other" schedule fails
    # too, though none was tried)
    # (the short summary repeats the message, in full where pytest sees a CI: not counted)
    failures = out.split("short test summary info")[0]
    assert failures.count("FORBIDDEN outcome") == 1 and "distinct failures" not in out
    assert "any other generated value" not in out and "Explanation:" not in out
    saved = list((pytester.path / ".stressmm" / "counterexamples").glob("*.litmus"))
    assert len(saved) == 1                             # the default corpus, as the CLI's
    assert f"replay: stressmm replay {saved[0].relative_to(pytester.path)}" in out


def test_fuzz_rounds_draw_fresh_examples_under_a_fixed_seed(pytester):
    # --hypothesis-seed fixes the draws of a test; each --stressmm-minutes round must still
    # draw examples of its own (derived from the seed), or every round repeats the first
    pytester.makepyfile(test_user='''
from hypothesis import given
from stressmm import strategies as mst
from stressmm.models import get_model
from stressmm.outcome import Histogram

SEEN = []

class Correct:
    name = "correct"

    def run(self, program, iterations, schedule):
        outcomes = get_model("sc").allowed(program).outcomes
        return Histogram(program, {o: 1 for o in outcomes}, backend=self.name)

@given(program=mst.programs(threads=2, ops=(1, 3), locations=2))
def test_runtime(program, stressmm_check):
    SEEN.append(program)
    stressmm_check(program, backend=Correct())

def test_rounds_drew_more_than_one_round_of_examples():   # runs after the one above
    assert len(SEEN) > 20                   # at least two rounds of 20 examples
    assert len(set(SEEN)) > 20, len(set(SEEN))
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--hypothesis-seed", "7",
                                           "--stressmm-minutes", "0.25", timeout=240)
    result.assert_outcomes(passed=2)


def test_xdist_workers_get_cpus_of_their_own_or_a_warning():
    from stressmm.pytest_plugin import xdist_cpus, xdist_overcommit

    assert [xdist_cpus(k, [0, 1, 2, 3], 2) for k in range(3)] == [[0, 1], [2, 3], None]
    assert xdist_overcommit(2, [0, 1, 2, 3], 2) == ""
    warning = xdist_overcommit(2, [0, 1], 2)
    assert "-n 2" in warning and "gw1" in warning and "-n auto (= -n 1)" in warning


@inner_xdist
@pytest.mark.skipif(not two_cpus(), reason="needs 2 CPUs to give two workers one each")
def test_under_xdist_each_worker_runs_on_its_own_cpus(pytester):
    pytester.makepyfile(test_user="".join(f'''
def test_{k}():
    import os, pathlib
    worker = os.environ["PYTEST_XDIST_WORKER"]
    pathlib.Path(worker + ".cpus").write_text(" ".join(map(str, sorted(os.sched_getaffinity(0)))))
''' for k in range(6)))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2",
                                           "--stressmm-threads", "1", timeout=240)
    result.assert_outcomes(passed=6)
    pinned = {p.stem: p.read_text().split() for p in pytester.path.glob("gw*.cpus")}
    assert pinned and all(len(cpus) == 1 for cpus in pinned.values()), pinned
    assert len({cpus[0] for cpus in pinned.values()}) == len(pinned)   # none shared


@inner_xdist
def test_more_xdist_workers_than_cpus_allow_is_warned_about(pytester):
    pytester.makepyfile(test_user="def test_nothing():\n    pass\n")
    cpus = len(os.sched_getaffinity(0))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2",
                                           "--stressmm-threads", str(cpus), timeout=240)
    result.assert_outcomes(passed=1)
    assert "-n 2 starts 2 workers" in result.stdout.str()
    assert f"use -n auto (= -n {max(1, cpus // cpus)})" in result.stdout.str()


def test_go_programs_fit_the_machine_by_default(monkeypatch):
    from hypothesis import HealthCheck, settings
    from hypothesis.errors import NoSuchExample
    from hypothesis import find

    from stressmm import strategies as mst

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})   # a 2-CPU runner
    with pytest.raises(NoSuchExample):
        find(mst.go_programs(), lambda p: len(p.threads) > 2,
             settings=settings(max_examples=300, database=None,
                               suppress_health_check=list(HealthCheck)))
    assert find(mst.go_programs(threads=(2, 3)), lambda p: len(p.threads) == 3,
                settings=settings(database=None)).threads   # the user may still ask for 3


def test_a_go_program_is_judged_by_go_unless_its_atomics_are_weaker():
    from stressmm.fuzz import ForbiddenOutcome, check_program, default_model
    from stressmm.outcome import Histogram, Outcome
    from stressmm.syntax import parse

    mp = parse("litmus MP\nvar x int\nchan c 0\nP0:\n  x = 1\n  c <- 1\nP1:\n  <-c\n  r0 = x\n")[0]

    def deadlocks(program, iterations, schedule):   # a broken runtime: every run deadlocks
        return Histogram(program, {Outcome.flagged("deadlock"): iterations})

    with pytest.raises(ForbiddenOutcome) as err:
        check_program(mp, backend=deadlocks, iterations=10)
    assert err.value.counterexample.model == "go"
    weak = parse("litmus W\nvar a atomic int\nchan c 0\nP0:\n  atomic.Store(&a, 1, release)\n"
                 "  c <- 1\nP1:\n  <-c\n  r0 = atomic.Load(&a, relaxed)\n")[0]
    assert default_model(weak) == "tso"     # go would read the weak atomics as seq_cst


def test_the_fixture_can_run_more_threads_than_cpus(pytester):
    pytester.makepyfile(test_user='''
import os
import pytest
from stressmm.runtime import RuntimeUsageError
from stressmm.syntax import parse

SB = parse("litmus SB\\nvar x, y atomic int\\nP0:\\n  atomic.Store(&x, 1)\\n  r0 = atomic.Load(&y)\\n"
           "P1:\\n  atomic.Store(&y, 1)\\n  r1 = atomic.Load(&x)\\n")[0]

def test_two_threads_on_one_cpu(stressmm_check):
    os.sched_setaffinity(0, [min(os.sched_getaffinity(0))])
    with pytest.raises(RuntimeUsageError, match="oversubscribe"):
        stressmm_check(SB)
    stressmm_check(SB, oversubscribe=True)
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--stressmm-iterations",
                                           "200", timeout=240)
    result.assert_outcomes(passed=1)


# A user's test file whose backends cannot start the program threads in time on some calls, as
# the native runtime's start barrier times out on an overloaded machine (correct otherwise).
UNSTARTED_TEST = '''
from hypothesis import given, settings
from stressmm import strategies as mst
from stressmm.models import get_model
from stressmm.outcome import Histogram
from stressmm.runtime import ThreadsNotStarted


class StartsLate:
    """Every outcome sc allows; call n (1, 2, ...) cannot start its threads when late(n)."""

    name = "starts-late"

    def __init__(self, late):
        self.late, self.calls = late, 0

    def run(self, program, iterations, schedule):
        self.calls += 1
        if self.late(self.calls):
            raise ThreadsNotStarted(f"{program.name}: execute: a program thread did not reach "
                                    "the barrier within 20 s (machine overloaded, or threads "
                                    "descheduled); the run was abandoned")
        outcomes = sorted(get_model("sc").allowed(program).outcomes)
        return Histogram(program, {o: iterations for o in outcomes}, backend=self.name)


NEVER = StartsLate(lambda n: True)
EVERY_OTHER = StartsLate(lambda n: n % 2 == 1)    # each program starts when tried again
FIRST_PROGRAM = StartsLate(lambda n: n <= 2)      # the first program's two tries, then fine
PROGRAMS = mst.programs(threads=2, ops=(1, 2), kinds=("load", "store"), locations=2)


@settings(max_examples=5)
@given(program=PROGRAMS, schedule=mst.schedules(max_delay=2))
def test_never_starts(program, schedule, stressmm_check):
    stressmm_check(program, schedule, backend=NEVER)


@settings(max_examples=5)
@given(program=PROGRAMS, schedule=mst.schedules(max_delay=2))
def test_starts_when_tried_again(program, schedule, stressmm_check):
    assert stressmm_check(program, schedule, backend=EVERY_OTHER) is not None


@settings(max_examples=5)
@given(program=PROGRAMS, schedule=mst.schedules(max_delay=2))
def test_first_program_never_starts(program, schedule, stressmm_check):
    stressmm_check(program, schedule, backend=FIRST_PROGRAM)


def test_counts():   # runs after the three above
    assert NEVER.calls == 2 * 5
    assert EVERY_OTHER.calls == 2 * 5
    assert FIRST_PROGRAM.calls == 2 + 4
'''


def test_programs_whose_threads_cannot_start_are_unjudged_not_failed_nor_passed(pytester):
    # Tried again, as campaigns do; a program that still cannot start is neither a failure (it
    # says nothing of the code under test) nor a silent pass: the test warns with the count,
    # and a test that judged no program at all is skipped with the reason.
    pytester.makepyfile(test_user=UNSTARTED_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs", timeout=240)
    result.assert_outcomes(passed=3, skipped=1)
    out = result.stdout.str()
    assert "Flaky" not in out and "ThreadsNotStarted" not in out
    result.stdout.fnmatch_lines([
        "SKIPPED*test_user.py:*: no program could be judged: 5 programs could not start "
        "their threads in time (skipped, not judged): machine overloaded? Run fewer jobs "
        "beside the tests, or fewer pytest-xdist workers"])
    result.stdout.fnmatch_lines([
        "*test_first_program_never_starts*",
        "*StressmmWarning: stressmm: 4 program(s) judged; 1 program could not start their "
        "threads in time (skipped, not judged)*"])
    assert "test_starts_when_tried_again" not in out.split("warnings summary")[-1]
