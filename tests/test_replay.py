"""Replaying counterexamples: impossible headers are refused at their line, a whole corpus
replays in one command, another backend's counterexample is refused by name, and a bug that
does not show again is reported with the odds of missing it by chance."""
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from stressmm.fuzz import (
    Counterexample, load_corpus, load_counterexample, save_counterexample,
)
from stressmm.outcome import Outcome
from stressmm.runtime import available_cpus
from stressmm.schedule import Schedule
from stressmm.syntax import LitmusSyntaxError, find_scenario, parse_file

ROOT = Path(__file__).resolve().parent.parent
TWO_CPUS = pytest.mark.skipif(len(available_cpus()) < 2,
                              reason="needs 2 CPUs to run two pinned program threads")


def stressmm(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "stressmm", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout)


def sb_sc_counterexample(**changes):
    """SB on seq_cst atomics, as if seen with the weak outcome (forbidden by sc and tso): the
    correct runtime never shows it, so a replay of it never reproduces."""
    [prog] = parse_file(find_scenario("SB+sc"))
    outcome = Outcome.make({(0, "r0"): 0, (1, "r1"): 0}, {"x": 1, "y": 1})
    cex = Counterexample(prog, Schedule(delays=((0, 1), (0, 1))), outcome, count=50, total=20_000,
                         model="tso", backend="native", verdicts={"sc": False, "tso": False})
    return dataclasses.replace(cex, **changes)


def edit_header(path, edit):
    lines = path.read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if line.startswith("# stressmm-replay: "))
    meta = json.loads(lines[n][len("# stressmm-replay: "):])
    edit(meta)
    lines[n] = "# stressmm-replay: " + json.dumps(meta)
    path.write_text("\n".join(lines) + "\n")
    return n + 1


@pytest.mark.parametrize("edit,expected", [
    (lambda m: m["outcome"]["regs"].update({"P5:r0": 1}), "names P5:r0, but SB+sc has no register"),
    (lambda m: m["outcome"]["regs"].update({"P0:r9": 1}), "no register r9 in thread P0"),
    (lambda m: m["outcome"]["mem"].update({"zz": 1}), "variable zz"),
    (lambda m: m.update(count=-3), "count must be a non-negative integer, got -3"),
    (lambda m: m.update(total=-1), "total must be a non-negative integer"),
    (lambda m: m.update(count=30_000), "count 30000 is more than total 20000"),
    (lambda m: m["outcome"].update(flags=["exploded"]), "outcome flags ['exploded'] are not flags"),
    (lambda m: m["schedule"].update(delays=[[0, 1]] * 3), "delays for 3 threads, but SB+sc has 2"),
    (lambda m: m.update(schedule="fast"), "schedule must be a JSON object"),
    (lambda m: m.update(outcome=[1, 2]), "outcome must be a JSON object"),
    (lambda m: m["outcome"]["regs"].update({"P0:r0": "zero"}), "outcome values must be integers"),
    (lambda m: m.update(model="tos"), "unknown model 'tos'"),
])
def test_an_impossible_replay_header_is_refused_at_its_line(tmp_path, edit, expected):
    path = save_counterexample(sb_sc_counterexample(), tmp_path)
    line = edit_header(path, edit)
    with pytest.raises(LitmusSyntaxError) as err:
        load_counterexample(path)
    assert expected in str(err.value)
    assert f"{path}:{line}:" in str(err.value)
    proc = stressmm("replay", path)
    assert proc.returncode == 2 and expected in proc.stderr and "Traceback" not in proc.stderr


def test_saving_the_same_counterexample_twice_writes_one_json_line(tmp_path):
    cex = sb_sc_counterexample()
    first = save_counterexample(cex, tmp_path)
    again = save_counterexample(dataclasses.replace(cex, count=7), tmp_path)
    assert first == again
    lines = (tmp_path / "counterexamples.jsonl").read_text().splitlines()
    assert len(lines) == 1


def test_a_corpus_loads_from_its_jsonl_and_its_directory(tmp_path):
    save_counterexample(sb_sc_counterexample(), tmp_path)
    [(label, prog, meta)] = load_corpus(tmp_path / "counterexamples.jsonl")
    assert prog.name == "SB+sc" and meta["count"] == 50 and label.endswith(":1")
    [(label, prog2, meta2)] = load_corpus(tmp_path)
    assert prog2.threads == prog.threads and meta2 == meta


def test_a_counterexample_of_a_backend_not_loadable_here_is_refused_by_name(tmp_path):
    path = save_counterexample(sb_sc_counterexample(backend="no_such_pkg:Runner"), tmp_path)
    proc = stressmm("replay", path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cannot replay on backend 'no_such_pkg:Runner' (as its header records)" in proc.stderr
    assert "Traceback" not in proc.stderr


@TWO_CPUS
def test_a_corpus_replays_every_counterexample_with_numbers_when_not_reproduced(tmp_path):
    save_counterexample(sb_sc_counterexample(), tmp_path)
    save_counterexample(sb_sc_counterexample(backend="no_such_pkg:Runner",
                                              program=dataclasses.replace(
                                                  sb_sc_counterexample().program, name="SB2")),
                        tmp_path)
    proc = stressmm("replay", tmp_path, "--iterations", "200000")
    assert proc.returncode == 2, proc.stdout + proc.stderr   # the unloadable one is refused
    assert "'no_such_pkg:Runner'" in proc.stderr and "SB2" in proc.stderr
    # the correct runtime never shows SB+sc's weak outcome: 200,000 runs at the recorded
    # rate of 50 in 20,000 would see it 500 times
    assert ("not reproduced: 0 forbidden in 200,000 runs; the recorded rate was 0.0025 "
            "(50 in 20,000 runs), so missing it by chance has probability about e^-500") in proc.stdout
    assert "1 counterexample(s) replayed: 0 reproduced, 1 not" in proc.stdout
    doc = json.loads(stressmm("replay", tmp_path / "counterexamples.jsonl", "--iterations",
                              "200000", "--json").stdout)
    [run] = doc["tests"]
    assert run["forbidden"] == 0 and run["reproduced"] is False
    assert run["chance_of_missing"] < 1e-100
    assert len(doc["errors"]) == 1 and "no_such_pkg:Runner" in doc["errors"][0]


def test_replay_model_option_must_name_one_model(tmp_path):
    path = save_counterexample(sb_sc_counterexample(), tmp_path)
    for value, fragment in [("", "give at least one model name"), ("sc,tso", "one model")]:
        proc = stressmm("replay", path, "--model", value)
        assert proc.returncode == 2 and fragment in proc.stderr, proc.stderr
