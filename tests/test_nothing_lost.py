"""Results already obtained are never lost: unwritable corpora, models that give up, programs
that never finish, Ctrl-C and SIGTERM; and `run` says what its rows mean."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from stressmm import cli
from stressmm.models import MODELS, get_model
from stressmm.outcome import Histogram, Outcome
from stressmm.report import render_run
from stressmm.syntax import parse, parse_file

from hardware import sigint_as_at_a_terminal

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
SB = SCENARIOS / "classic" / "SB.litmus"
TWO_CPUS = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2,
                              reason="needs 2 CPUs to run 2 pinned threads")

NEVER = """
litmus Never "an await nobody satisfies"
var f atomic int
P0:
  for atomic.Load(&f) == 0 {}
  atomic.Store(&f, 2)
P1:
  atomic.Store(&f, 0)
"""

DEAD = """
litmus Dead "each thread sends on an unbuffered channel nobody receives from"
chan c 0
chan d 0
P0:
  c <- 1
P1:
  d <- 1
"""


def stressmm(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "stressmm", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout)


# ---------------------------------------------------------------- corpus


def test_fuzz_refuses_a_corpus_it_cannot_write_before_the_campaign(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    began = time.monotonic()
    proc = stressmm("fuzz", "--minutes", "5", "--corpus", blocker / "corpus")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cannot save counterexamples in" in proc.stderr and "--corpus" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert time.monotonic() - began < 60   # refused at once, not after the 5 minutes


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_fuzz_refuses_a_read_only_corpus(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    proc = stressmm("fuzz", "--minutes", "5", "--corpus", ro)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cannot save counterexamples" in proc.stderr


def _counterexample(model="sc"):
    """A real counterexample: SB's weak outcome from a backend that shows it, judged by sc."""
    from stressmm.fuzz import ForbiddenOutcome, check_program

    prog = parse_file(str(SB))[0]
    weak = Outcome.make({(0, "r0"): 0, (1, "r1"): 0}, {"x": 1, "y": 1})

    def backend(program, iterations, schedule):
        return Histogram(program, {weak: 1, **{o: 1 for o in get_model("sc").allowed(program).outcomes}})

    with pytest.raises(ForbiddenOutcome) as caught:
        check_program(prog, backend=backend, model=model, iterations=4)
    return caught.value.counterexample


def test_a_counterexample_that_cannot_be_saved_is_printed_in_full(tmp_path, capsys):
    # The corpus passed the check before the campaign, then cannot be written.
    from argparse import Namespace

    from stressmm.campaign import CampaignConfig, CampaignResult, keep_counterexample

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result, cex = CampaignResult(), _counterexample()
    keep_counterexample(result, cex, str(blocker / "corpus"))
    assert result.counterexamples == [cex] and result.saved == [None]
    rc = cli.report_campaign(result, Namespace(json=False, corpus=str(blocker / "corpus")),
                             CampaignConfig(model="sc", corpus=str(blocker / "corpus")))
    out, err = capsys.readouterr()
    assert rc == 1
    assert "FORBIDDEN outcome" in out
    assert "NOT SAVED" in out and cex.as_litmus() in out   # the whole .litmus file
    assert "warning: a counterexample could not be saved" in err and str(blocker) in err


# ---------------------------------------------------------------- models in `run`


@TWO_CPUS
def test_run_with_model_none_prints_the_histogram_and_the_observation():
    proc = stressmm("run", SB, "--iterations", "20000", "--model", "none")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    header = next(line for line in proc.stdout.splitlines() if line.strip().startswith("outcome"))
    assert header.split() == ["outcome", "count"]
    assert "Observation SB " in proc.stdout
    assert "expect sc: forbidden  -> not checked (--model none)" in proc.stdout


@TWO_CPUS
def test_run_shows_the_histogram_when_a_model_gives_up(monkeypatch, capsys):
    monkeypatch.setitem(MODELS, "tso", get_model("tso").with_max_states(3))
    rc = cli.main(["run", str(SB), "--iterations", "5000"])
    out, err = capsys.readouterr()
    assert rc == 2, out + err
    assert "5,000 runs" in out
    assert "n/a" in out and "tso: n/a, the model gave up" in out
    assert "sc " in out.split("outcome", 1)[1]   # the models that could answer still do


class _Refuses:
    name = "sc"

    def allowed(self, program):
        raise AssertionError("sc was computed although nobody asked for it")


@TWO_CPUS
def test_run_computes_only_the_models_it_is_asked_about(tmp_path, monkeypatch, capsys):
    plain = tmp_path / "SB.litmus"
    plain.write_text("\n".join(line for line in SB.read_text().splitlines()
                               if not line.startswith("expect")) + "\n")
    monkeypatch.setitem(MODELS, "sc", _Refuses())
    assert cli.main(["run", str(plain), "--iterations", "5000"]) == 0
    assert "tso" in capsys.readouterr().out


@TWO_CPUS
def test_run_reports_the_observation_and_checks_expect_lines():
    ok = stressmm("run", SB, "--iterations", "100000", "--json")
    assert ok.returncode == 0, ok.stderr
    [test] = json.loads(ok.stdout)["tests"]
    obs = test["observation"]
    assert obs["verdict"] in ("Sometimes", "Never")
    assert obs["positive"] + obs["negative"] == 100000
    assert {e["model"] for e in test["expectations"]} == {"sc", "tso", "go"}
    assert not any(e["failed"] for e in test["expectations"])
    bad = stressmm("run", SCENARIOS / "classic" / "SB+sc.litmus", "--seconds", "5",
                   "--mutant", "sc-store-no-fence")
    assert bad.returncode == 1
    assert "Observation SB+sc Sometimes" in bad.stdout
    assert "expect tso: forbidden  -> FAIL: seen" in bad.stdout


def test_rows_never_look_identical_when_hidden_memory_tells_them_apart():
    prog = parse_file(str(SCENARIOS / "go" / "TOCTOU+atomic.litmus"))[0]
    allowed = get_model("tso").allowed(prog).outcomes
    text = render_run(Histogram(prog, {o: 1 for o in allowed}), {"tso": allowed}, "tso")
    rows = [line.split("  1  ")[0].strip() for line in text.splitlines()[3:]]
    assert len(rows) == len(allowed) == len(set(rows)), text
    assert "flag=" in text


def test_timeouts_are_not_judged_in_text_or_json():
    from stressmm.cli import ProgramRun, run_test_document
    from stressmm.judge import judge
    from stressmm.report import render_judged

    prog = parse(DEAD)[0]
    hist = Histogram(prog, {Outcome.flagged("deadlock"): 99, Outcome.flagged("timeout"): 1})
    judged = judge(hist, "go")
    text = render_judged(judged)
    assert "stuck" not in text and "FORBIDDEN" not in text
    assert "not judged" in text and "off its CPU" in text
    doc = run_test_document(ProgramRun(judged), "go", "")      # one test of `run --json`
    [row] = [o for o in doc["outcomes"] if o["outcome"]["flags"] == ["timeout"]]
    assert row["allowed"] == {"go": None} and row["verdicts"]["go"] == "not judged"
    assert doc["forbidden"] == 0 and doc["timeouts"] == 1


# ---------------------------------------------------------------- programs that never finish


@TWO_CPUS
def test_run_stops_early_when_every_run_times_out(tmp_path):
    f = tmp_path / "never.litmus"
    f.write_text(NEVER)
    proc = stressmm("run", f, timeout=240)   # 1,000,000 runs would take hours
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "STUCK: every one of the first 64 runs timed out" in proc.stdout
    assert "tso: every execution deadlocks (an await or a wait can never complete)" in proc.stdout


HANDOFF = """
litmus Handoff "a flag set by the other thread, awaited"
var f atomic int
P0:
  for atomic.Load(&f) == 0 {}
P1:
  atomic.Store(&f, 1)
"""


@TWO_CPUS
@pytest.mark.parametrize("text,outcome", [
    (DEAD, Outcome.flagged("deadlock")),       # a sure deadlock
    (HANDOFF, Outcome.make({}, {"f": 1})),     # a correct handoff
])
def test_a_thread_slower_than_the_spin_budget_is_waited_for(text, outcome, monkeypatch):
    # As on a loaded machine, where a thread is off its CPU for longer than the spin budget:
    # here the budget is tiny and P1 starts late. The waiting thread must give it its grace,
    # so a sure deadlock is a deadlock and a handoff completes, instead of `timeout`.
    from stressmm.runtime import native
    from stressmm.schedule import Schedule

    monkeypatch.setattr(native, "await_budget", lambda schedule, nthreads: 64)
    late = Schedule(delays=((0, 0), (2000, 2000)))
    h = native.run(parse(text)[0], iterations=500, schedule=late)
    # Before the grace, every run was `timeout`. A thread off its CPU for longer than the grace
    # (0.25 s, only on a heavily loaded machine) may still time out a few runs: never more.
    timeouts = h.counts.get(Outcome.flagged("timeout"), 0)
    assert set(h.counts) <= {outcome, Outcome.flagged("timeout")}
    assert h.counts.get(outcome, 0) == 500 - timeouts and timeouts <= 25


# ---------------------------------------------------------------- signals


def _start(*args):
    return subprocess.Popen([sys.executable, "-m", "stressmm", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=sigint_as_at_a_terminal)


def _wait_for(predicate, seconds=120.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"not ready within {seconds} s")


def _running_native(proc):
    """The program threads exist: the native run is under way."""
    return psutil.Process(proc.pid).num_threads() >= 3


@TWO_CPUS
@pytest.mark.parametrize("sig,status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_run_interrupted_prints_the_runs_already_done(sig, status):
    proc = _start("run", SB, "--seconds", "120")
    try:
        _wait_for(lambda: _running_native(proc))
        time.sleep(0.5)
        os.kill(proc.pid, sig)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == status, out + err
    name = signal.Signals(sig).name
    assert f"interrupted by {name} after" in out
    assert "Observation SB" in out and "P0:r0=" in out   # the histogram of the runs done
    assert "Traceback" not in err


@TWO_CPUS
@pytest.mark.parametrize("sig,status,group", [(signal.SIGINT, 130, True),
                                              (signal.SIGTERM, 143, False)])
def test_fuzz_interrupted_prints_its_summary(sig, status, group, tmp_path):
    proc = _start("fuzz", "--minutes", "10", "--corpus", tmp_path / "corpus")
    try:
        _wait_for(lambda: psutil.Process(proc.pid).children())   # the workers are up
        time.sleep(1.0)
        if group:   # Ctrl-C at a terminal reaches the whole process group
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == status, out + err
    assert f"interrupted by {signal.Signals(sig).name}" in out
    assert " programs, " in out and " runs in " in out
    assert "leaked semaphore" not in err and "Traceback" not in err


# ---------------------------------------------------------------- explanations


def test_a_counterexample_is_explained_by_the_model_that_judged_it():
    cex = _counterexample("sc")
    why = cex.explanation()
    assert "search of every interleaving" in why
    assert "W x=1 -po-> R y=0 -fr-> W y=1 -po-> R x=0 -fr-> W x=1" in why
    assert "why (sc): " in cex.report()


def test_explain_under_sc_and_tso_gives_the_reason():
    proc = stressmm("check", SCENARIOS / "classic" / "MP.litmus", "--model", "sc,tso",
                    "--explain", "P1:r0=1 P1:r1=0")
    assert proc.returncode == 0, proc.stderr
    assert "cycle in po | rf | co | fr" in proc.stdout          # sc
    assert "cycle in ppo | rfe | co | fr" in proc.stdout        # tso: W->R may be reordered
    assert "closest allowed:" in proc.stdout
