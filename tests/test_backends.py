"""The backend protocol as a user meets it: complete outcomes or a clear error, backends by
name or module:Class, and counterexamples that replay on the backend that found them."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from stressmm.fuzz import ForbiddenOutcome, check_program, load_counterexample, save_counterexample
from stressmm.outcome import Histogram, Outcome
from stressmm.program import Load, Order, Program, Store, Thread, Var
from stressmm.runtime import BadHistogram, RuntimeUsageError, check_histogram, run_backend
from stressmm.runtime.registry import BACKENDS, get_backend

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
USER = HERE / "user_backends.py"
SB_FILE = ROOT / "scenarios" / "classic" / "SB.litmus"


def spec(name):
    return f"{USER}:{name}"


def sb():
    a = lambda name: Var(name, atomic=True)
    return Program("SB+sc", (a("x"), a("y")), (
        Thread((Store("x", 1, Order.SEQ_CST), Load("r0", "y", Order.SEQ_CST))),
        Thread((Store("y", 1, Order.SEQ_CST), Load("r1", "x", Order.SEQ_CST)))))


def sb_plain():
    return Program("SB", (Var("x"), Var("y")), (
        Thread((Store("x", 1), Load("r0", "y"))), Thread((Store("y", 1), Load("r1", "x")))))


def stressmm(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "stressmm", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout)


# ---------------------------------------------------------------- complete outcomes


def test_a_registers_only_backend_is_refused_not_judged_forbidden():
    # Every outcome it reports is SC-legal; without memory they would all look forbidden.
    with pytest.raises(BadHistogram, match=r"registers-only returned an incomplete outcome for "
                                           r"SB\+sc: .* lacks variables x, y"):
        check_program(sb(), backend=get_backend(spec("RegistersOnly")), model="sc")


def test_a_backend_returning_a_dict_gets_a_clear_error():
    with pytest.raises(BadHistogram, match=r"returned a dict, not a stressmm.outcome.Histogram"):
        check_program(sb(), backend=get_backend(spec("ReturnsDict")), model="sc")


def test_outcomes_must_name_every_register_and_nothing_else():
    p = sb()
    full = {(0, "r0"): 0, (1, "r1"): 1}
    mem = {"x": 1, "y": 1}
    check_histogram(Histogram(p, {Outcome.make(full, mem): 1, Outcome.flagged("panic"): 2}), p)
    with pytest.raises(BadHistogram, match=r"lacks registers P1:r1"):
        check_histogram(Histogram(p, {Outcome.make({(0, "r0"): 0}, mem): 1}), p)
    with pytest.raises(BadHistogram, match=r"names P2:r9, which SB\+sc does not have"):
        check_histogram(Histogram(p, {Outcome.make({**full, (2, "r9"): 0}, mem): 1}), p)
    with pytest.raises(BadHistogram, match=r"the flag alone"):
        check_histogram(Histogram(p, {Outcome.make(full, mem, ["deadlock"]): 1}), p)
    with pytest.raises(BadHistogram, match=r"histogram of 'other'"):
        check_histogram(Histogram(Program("other", (), (Thread(()),)), {}), p)
    with pytest.raises(BadHistogram, match=r"counted outcome .* -1 times"):
        check_histogram(Histogram(p, {Outcome.make(full, mem): -1}), p)


def test_run_backend_passes_mutant_only_when_given():
    calls = []

    def minimal(program, iterations, schedule):   # a plain function is a backend too
        calls.append(iterations)
        return Histogram(program, {Outcome.make({(0, "r0"): 0, (1, "r1"): 1},
                                                {"x": 1, "y": 1}): iterations})

    assert run_backend(minimal, sb(), iterations=7).total == 7 and calls == [7]


# ---------------------------------------------------------------- the registry


def test_backends_by_name_and_by_module_path():
    assert set(BACKENDS) >= {"native", "pythreads"}
    assert get_backend("native").spec == "native"
    b = get_backend(spec("AlwaysTSO"))
    assert b.spec == spec("AlwaysTSO") and b.name == "always-tso"
    assert get_backend(spec("make_always_tso")).name == "always-tso"


@pytest.mark.parametrize("bad, message", [
    ("nope", "unknown backend 'nope'"),
    ("no_such_module_xyz:Backend", "no module named 'no_such_module_xyz'"),
    (f"{USER}:Missing", "has no attribute 'Missing'"),
    (f"{USER}:NOT_A_BACKEND", "is a int, not a class or factory"),
    ("os:getcwd", "gave a str, which has no run("),
])
def test_bad_backend_specs_are_clear_errors(bad, message):
    with pytest.raises(RuntimeUsageError, match=message.replace("(", r"\(")):
        get_backend(bad)


def test_native_takes_no_python_classes():
    with pytest.raises(RuntimeUsageError, match="Python classes run on the pythreads backend"):
        get_backend("native", impl=("examples.impls.ticket_lock:TicketLock",))


# ---------------------------------------------------------------- the command line


def test_run_with_a_user_backend_names_it_and_judges_it():
    proc = stressmm("run", SB_FILE, "--backend", spec("AlwaysTSO"), "--iterations", "100",
                    "--model", "sc")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "on always-tso" in proc.stdout and "FORBIDDEN by sc" in proc.stdout


@pytest.mark.parametrize("args, message", [
    (("--backend", "nope"), "unknown backend 'nope'"),
    (("--backend", spec("RegistersOnly")), "lacks variables x, y"),
    (("--backend", spec("ReturnsDict")), "returned a dict"),
    (("--impl", "no_such_module_xyz:Lock"), "no module named 'no_such_module_xyz'"),
])
def test_run_with_a_bad_backend_exits_2(args, message):
    proc = stressmm("run", SB_FILE, "--iterations", "10", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_fuzz_with_a_bad_backend_exits_2_before_any_worker():
    proc = stressmm("fuzz", "--examples", "1", "--backend", "no_such_module_xyz:B")
    assert proc.returncode == 2 and "no module named" in proc.stderr, proc.stderr


def test_a_counterexample_replays_on_the_backend_it_was_found_on(tmp_path):
    with pytest.raises(ForbiddenOutcome) as err:
        check_program(sb_plain(), backend=get_backend(spec("AlwaysTSO")), model="sc",
                      iterations=100)
    cex = err.value.counterexample
    assert cex.backend == spec("AlwaysTSO") and "on always-tso" in cex.report()
    path = save_counterexample(cex, tmp_path)
    _, meta = load_counterexample(path)
    assert meta["backend"] == spec("AlwaysTSO")
    proc = stressmm("replay", path, "--iterations", "100")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "on always-tso" in proc.stdout and "not reproduced" not in proc.stdout
    # a header naming a backend that cannot be loaded here: refused, never rerun on native
    text = path.read_text().replace(json.dumps(spec("AlwaysTSO")), '"gone_module_xyz:B"')
    moved = tmp_path / "moved.litmus"
    moved.write_text(text)
    proc = stressmm("replay", moved)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cannot replay on backend 'gone_module_xyz:B'" in proc.stderr
    assert "--backend" in proc.stderr


def test_campaign_workers_build_the_backend_from_its_spec(tmp_path):
    from stressmm.campaign import CampaignConfig, run_campaign

    res = run_campaign(CampaignConfig(examples=4, model="sc", backend=spec("AlwaysPanics"),
                                      corpus=str(tmp_path), iterations=10, workers=1))
    assert not res.failures, res.failures
    assert res.counterexamples and res.counterexamples[0].backend == spec("AlwaysPanics")
    assert json.dumps(spec("AlwaysPanics")) in Path(res.saved[0]).read_text()
