"""The pytest plugin, as a user's test suite meets it (inner pytest runs in a subprocess)."""
import os

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
    # machine), so only a busy machine ever uses more of it.
    result = run_inner(pytester, "--stressmm-mutant", "sc-store-no-fence",
                       "--stressmm-iterations", "20000", "--stressmm-minutes", "4",
                       "--junitxml", "out.xml", timeout=480)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "FORBIDDEN outcome" in out
    assert "Flaky" not in out
    assert "program: 2 threads, 4 ops" in out
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


def test_xdist_auto_does_not_oversubscribe():
    from stressmm.pytest_plugin import PROGRAM_THREADS, pytest_xdist_auto_num_workers

    cpus = len(os.sched_getaffinity(0))
    assert pytest_xdist_auto_num_workers(None) == max(1, cpus // PROGRAM_THREADS)


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
