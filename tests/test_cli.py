"""The `stressmm` command as a user meets it: exit status, readable output, clear errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
SB = SCENARIOS / "classic" / "SB.litmus"


def stressmm(*args, cwd=None, timeout=300):
    proc = subprocess.run([sys.executable, "-m", "stressmm", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or ROOT, timeout=timeout)
    return proc


def assert_clean_error(proc, *fragments):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    for frag in fragments:
        assert frag in proc.stderr, proc.stderr


def test_check_all_scenarios_holds():
    proc = stressmm("check", SCENARIOS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 failed" in proc.stdout
    assert "SB" in proc.stdout and "tso" in proc.stdout


def test_check_bundled_scenarios_without_paths():
    proc = stressmm("check", "--model", "sc")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "expect sc: forbidden" in proc.stdout


def test_check_explain_allowed_and_forbidden():
    proc = stressmm("check", SB, "--model", "sc,tso", "--explain", "P0:r0=0 P1:r1=0")
    assert proc.returncode == 0, proc.stderr
    assert "sc: no execution of SB ends in P0:r0=0 P1:r1=0: sc forbids it" in proc.stdout
    assert "tso: an execution ending in P0:r0=0 P1:r1=0" in proc.stdout
    assert "flush" in proc.stdout  # the tso witness shows store-buffer flushes


def test_check_json_is_machine_readable():
    proc = stressmm("check", SB, "--json")
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    [test] = doc["tests"]
    assert test["name"] == "SB"
    assert test["models"]["tso"]["exists"] is True and test["models"]["sc"]["exists"] is False
    assert all(e["holds"] for e in test["expectations"] if e["model"] in ("sc", "tso"))


def test_failing_expectation_exits_1(tmp_path):
    wrong = tmp_path / "wrong.litmus"
    wrong.write_text(SB.read_text().replace("tso: allowed", "tso: forbidden"))
    proc = stressmm("check", wrong)
    assert proc.returncode == 1
    assert "FAIL expect tso: forbidden" in proc.stdout


def test_parse_error_names_file_line_column(tmp_path):
    bad = tmp_path / "bad.litmus"
    bad.write_text("litmus B\nvar x int\nP0:\n  x = 1\n  r0 = atomic.Load(&x, sideways)\n")
    proc = stressmm("check", bad)
    assert_clean_error(proc, "bad.litmus:5:")


@pytest.mark.parametrize("args,fragment", [
    (("check", "no/such/file.litmus"), "no/such/file.litmus: no such file or directory"),
    (("check", SB, "--model", "nope"), "unknown model 'nope'"),
    (("check", SB, "--explain", "P0:r0"), "cannot read 'P0:r0'"),
    (("check", SB, "--explain", "P7:r0=0"), "P7:r0, which SB does not have"),
    (("run", SB, "--iterations", "0"), "expected a positive integer"),
    (("run", SB, "--seconds", "-1"), "expected a positive number of seconds"),
    (("run", SB, "--delay", "20000"), "expected an integer in 0..10000"),
    (("run", SB, "--batch", "5000"), "expected an integer in 1..4096"),
    (("run", SB, "--mutant", "no-such-mutant"), "no-such-mutant"),
    (("fuzz", "--threads", "64", "--examples", "1"), "CPUs"),
    (("fuzz", "--mutant", "nope", "--examples", "1"), "unknown mutant 'nope'"),
    (("fuzz", "--go", "--threads", "1", "--examples", "1"), "Go-style programs have 2 to 8 threads"),
    (("frobnicate",), "invalid choice"),
])
def test_usage_errors_exit_2_without_traceback(args, fragment):
    assert_clean_error(stressmm(*args), fragment)


def test_binary_file_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.litmus"
    junk.write_bytes(b"\xff\xfe\x00garbage")
    proc = stressmm("check", junk)
    assert_clean_error(proc, "junk.litmus")


def test_mutants_are_listed_with_descriptions():
    proc = stressmm("mutants")
    assert proc.returncode == 0
    assert "sc-store-no-fence" in proc.stdout
    for line in proc.stdout.strip().splitlines():
        assert len(line.split(None, 1)) == 2  # name and a description


def two_cpus():
    return len(os.sched_getaffinity(0)) >= 2


@pytest.mark.skipif(not two_cpus(), reason="needs 2 CPUs to run 2 pinned threads")
def test_run_correct_runtime_exits_0_and_mutant_exits_1():
    ok = stressmm("run", SCENARIOS / "classic" / "SB+sc.litmus", "--iterations", "200000")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "0 runs ended in an outcome tso forbids" in ok.stdout
    bad = stressmm("run", SCENARIOS / "classic" / "SB+sc.litmus", "--seconds", "5",
                   "--mutant", "sc-store-no-fence")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "<- forbidden by tso" in bad.stdout


@pytest.mark.skipif(not two_cpus(), reason="needs 2 CPUs to run 2 pinned threads")
def test_run_json():
    proc = stressmm("run", SB, "--iterations", "100000", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    [test] = doc["tests"]
    assert test["total"] == 100000
    assert sum(o["count"] for o in test["outcomes"]) == 100000


def test_check_max_states_bounds_every_model_with_a_clear_message():
    proc = stressmm("check", "scenarios/c11/IRIW+acq.litmus", "--max-states", "10")
    assert_clean_error(proc, "IRIW+acq", "--max-states 40")
    assert stressmm("check", "scenarios/c11/IRIW+acq.litmus", "--max-states", "100000"
                    ).returncode == 0
