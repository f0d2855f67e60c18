"""Campaigns: their seed, and how they tell a slow start from a hung worker."""
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from stressmm.campaign import CampaignConfig, _worker, silence_verdict, worker_seed

ROOT = Path(__file__).resolve().parent.parent


def two_cpus():
    return len(os.sched_getaffinity(0)) >= 2


def stressmm(*args):
    return subprocess.run([sys.executable, "-m", "stressmm", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def test_start_up_does_not_count_as_a_hang():
    # a fresh worker on a loaded machine: 10 s of imports, no word yet, a 3 s hang threshold
    assert silence_verdict(10.0, launched=0.0, last_word=None, hang_seconds=3,
                           startup_seconds=300) is None
    # once it has spoken, 3 s of silence is a hang
    assert silence_verdict(10.0, launched=0.0, last_word=6.0, hang_seconds=3,
                           startup_seconds=300) == "hung (no progress for 3 s)"
    assert silence_verdict(10.0, launched=0.0, last_word=8.0, hang_seconds=3,
                           startup_seconds=300) is None
    # and a start-up is bounded too
    assert "did not start" in silence_verdict(301.0, launched=0.0, last_word=None,
                                              hang_seconds=3, startup_seconds=300)


class Messages(list):
    """A stand-in for a worker's pipe to its campaign: keeps what the worker sends."""

    def send(self, message):
        self.append(message)


def programs_drawn(seed, examples=6):
    """The programs one campaign worker of `seed` draws (run in this process, on its CPUs)."""
    cfg = CampaignConfig(examples=examples, iterations=50, corpus=None, threads=1)
    out = Messages()
    sigint = signal.getsignal(signal.SIGINT)   # a worker ignores Ctrl-C: its campaign reports
    try:
        _worker(1, cfg, sorted(os.sched_getaffinity(0)), seed, math.inf, examples, out)
    finally:
        signal.signal(signal.SIGINT, sigint)
    assert out[0][0] == "ready" and out[-1][0] == "done"
    return [payload for kind, _, payload in out if kind == "program"]


def test_a_campaign_seed_repeats_the_programs_drawn():
    first = programs_drawn(worker_seed(1234, 1))
    assert len(first) == 6
    assert programs_drawn(worker_seed(1234, 1)) == first
    assert programs_drawn(worker_seed(1235, 1)) != first


@pytest.mark.skipif(not two_cpus(), reason="needs 2 CPUs to run 2 pinned threads")
def test_fuzz_prints_its_seed_so_the_campaign_can_be_repeated():
    proc = stressmm("fuzz", "--examples", "2", "--iterations", "100", "--corpus", "", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seed = json.loads(proc.stdout)["seed"]
    assert isinstance(seed, int)
    again = stressmm("fuzz", "--examples", "2", "--iterations", "100", "--corpus", "",
                     "--seed", seed)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"seed {seed}" in again.stderr    # the opening line
    assert f"rerun with --seed {seed}" in again.stdout


def test_a_campaign_spends_its_budget_on_programs_it_has_not_run():
    # Every chunk of a worker is a fresh Hypothesis run that opens with its simplest example:
    # run again, it would take one program in eight of the budget for runs already made.
    drawn = programs_drawn(worker_seed(7, 1), examples=20)
    assert len(drawn) == 20
    simplest = drawn[0]
    assert drawn.count(simplest) == 1, drawn


def test_a_chunk_is_built_ahead_with_the_programs_it_then_runs_and_the_worker_beats_meanwhile():
    # A Go backend compiles a chunk's programs in one build before the chunk runs: the build
    # must hold exactly the programs the chunk then draws, and the worker keeps sending
    # heartbeats while it builds (a build of minutes is not a hang).
    import threading

    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hseed

    from stressmm.campaign import _prebuild, strategies_for

    progs, scheds = strategies_for(CampaignConfig(examples=8, go=True, backend="go"))
    chunk = settings(max_examples=8, deadline=None, database=None, verbosity=Verbosity.quiet,
                     derandomize=False, phases=(Phase.generate, Phase.shrink),
                     suppress_health_check=list(HealthCheck))
    beats, three_beats = [], threading.Event()

    class Builder:
        built = []

        def prepare(self, programs):   # a build that ends only once the worker has beaten
            assert three_beats.wait(60), "no heartbeat while building"
            self.built.extend(programs)

    def beat():
        beats.append(1)
        if len(beats) == 3:
            three_beats.set()

    _prebuild(Builder(), chunk, 4242, progs, scheds, beat)
    ran = []
    chunk(hseed(4242)(given(progs, scheds)(lambda p, s: ran.append(p))))()
    assert len(beats) >= 3
    assert Builder.built == ran and len(ran) == 8


def test_weak_outcomes_are_counted_by_the_model_that_judges_the_program():
    # Without a model, a Go program is judged by go (default_model): a racy reader seeing the
    # new value, then the old one, is allowed there (sc and tso forbid it), so it is weak.
    from stressmm.campaign import _weak
    from stressmm.outcome import Histogram, Outcome
    from stressmm.syntax import parse

    [racy] = parse("litmus R\nvar x int\nmutex m\nP0:\n  m.Lock()\n  m.Unlock()\n  x = 1\n"
                   "P1:\n  r0 = x\n  r1 = x\n")
    seen = Histogram(racy, {Outcome.make({(1, "r0"): 1, (1, "r1"): 0}, {"x": 1}): 3,
                            Outcome.make({(1, "r0"): 0, (1, "r1"): 0}, {"x": 1}): 5})
    assert _weak(seen, None) == _weak(seen, "go") == {"weak_runs": 3, "weak_programs": 1}
    assert _weak(seen, "tso") == {"weak_runs": 0, "weak_programs": 0}


BACKENDS = Path(__file__).resolve().parent / "campaign_backends.py"


def test_a_slow_program_is_not_a_hung_worker_and_a_hung_one_still_is(tmp_path, monkeypatch):
    # Each program takes 8 s, twice the hang threshold; the campaign's first run never returns.
    # The worker stuck in that run is reported hung; its fresh replacement reports progress
    # while its slow program runs, and finishes it.
    from stressmm.campaign import run_campaign

    monkeypatch.setenv("STRESSMM_TEST_HUNG_ONCE", str(tmp_path / "hung-once"))
    res = run_campaign(CampaignConfig(minutes=3, examples=1, workers=1, threads=1, seed=5,
                                      iterations=16_000, hang_seconds=4, corpus=None,
                                      backend=f"{BACKENDS}:Slow"))
    assert [f.what for f in res.failures] == ["hung (no progress for 4 s)"]
    assert res.failures[0].program_text.startswith("litmus")
    assert res.examples == 1 and res.runs == 16_000
    assert not res.counterexamples


def run_worker(cfg, examples):
    """The messages one campaign worker sends, run in this process (on its CPUs)."""
    out = Messages()
    sigint = signal.getsignal(signal.SIGINT)   # a worker ignores Ctrl-C: its campaign reports
    try:
        _worker(1, cfg, sorted(os.sched_getaffinity(0)), worker_seed(9, 1), math.inf, examples,
                out)
    finally:
        signal.signal(signal.SIGINT, sigint)
    return out


def test_a_program_whose_threads_start_late_is_run_again():
    cfg = CampaignConfig(examples=6, iterations=50, corpus=None, threads=1,
                         backend=f"{BACKENDS}:StartsLateEveryOtherRun")
    out = run_worker(cfg, 6)
    kind, _, stats = out[-1]
    assert kind == "done", out[-1]
    assert stats["examples"] == 6 and stats["runs"] == 6 * 50 and stats["unstarted"] == 0


def test_programs_whose_threads_never_start_are_skipped_and_counted_not_failed():
    proc = stressmm("fuzz", "--backend", f"{BACKENDS}:NeverStarts", "--examples", "3",
                    "--threads", "1", "--workers", "1", "--iterations", "50", "--corpus", "",
                    "--seed", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 programs could not start their threads in time (skipped, not judged): machine " \
           "overloaded?" in proc.stdout
    assert "WORKER FAILURE" not in proc.stdout and "FORBIDDEN" not in proc.stdout
