"""The forbidden-outcome property, shrinking and counterexamples.

Most tests use a simulated backend, deterministic and fast: it answers with every outcome that
x86-TSO allows for the program with its seq_cst stores demoted to release (the behaviour of a
runtime whose seq_cst stores lack their fence). A judge that expects real TSO then sees a
forbidden outcome exactly when the program has a store-buffering shape with seq_cst stores.
"""
import dataclasses
import time
import json
import os

import pytest
from hypothesis import HealthCheck, find, settings

from stressmm import strategies as mst
from stressmm.fuzz import (
    ForbiddenOutcome, Memo, check_program, load_counterexample, save_counterexample,
)
from stressmm.models import get_model
from stressmm.outcome import Histogram
from stressmm.program import Load, Order, Program, Store, Thread, Var
from stressmm.schedule import Schedule
from finding import NO_EXPLAIN


class DemotedStoresBackend:
    """A fake runtime: TSO, but seq_cst stores behave as release stores."""

    name = "simulated-demoted-stores"

    def __init__(self):
        self.calls = 0

    def run(self, program, iterations, schedule):
        self.calls += 1
        demoted = dataclasses.replace(program, threads=tuple(
            Thread(tuple(dataclasses.replace(op, order=Order.RELEASE)
                         if isinstance(op, Store) and op.order is Order.SEQ_CST else op
                         for op in t.ops)) for t in program.threads), expects=())
        outcomes = get_model("tso").allowed(demoted).outcomes
        return Histogram(program, {o: max(1, iterations // len(outcomes)) for o in outcomes},
                         backend=self.name)


def sb_sc():
    a = lambda name: Var(name, atomic=True)
    return Program(name="SB+sc", decls=(a("x"), a("y")), threads=(
        Thread((Store("x", 1, Order.SEQ_CST), Load("r0", "y", Order.SEQ_CST))),
        Thread((Store("y", 1, Order.SEQ_CST), Load("r1", "x", Order.SEQ_CST))),
    ))


def test_forbidden_outcome_raises_a_counterexample():
    with pytest.raises(ForbiddenOutcome) as err:
        check_program(sb_sc(), backend=DemotedStoresBackend(), model="tso")
    cex = err.value.counterexample
    assert str(cex.outcome).startswith("P0:r0=0 P1:r1=0")
    assert cex.forbidden_by == ["sc", "tso"]
    text = str(err.value)
    assert "FORBIDDEN outcome P0:r0=0 P1:r1=0" in text
    assert "forbidden by: sc, tso" in text
    assert "atomic.Store(&x, 1)" in text  # the program, in the text format


def test_allowed_outcomes_pass_and_return_the_histogram():
    relaxed = dataclasses.replace(sb_sc(), threads=tuple(
        Thread(tuple(dataclasses.replace(op, order=Order.RELEASE if isinstance(op, Store)
                                         else Order.ACQUIRE) for op in t.ops))
        for t in sb_sc().threads))
    hist = check_program(relaxed, backend=DemotedStoresBackend(), model="tso")
    assert hist.total > 0


def test_memo_fails_a_known_program_without_running_it():
    memo, backend = Memo(), DemotedStoresBackend()
    for _ in range(3):
        with pytest.raises(ForbiddenOutcome):
            check_program(sb_sc(), backend=backend, model="tso", memo=memo)
    assert backend.calls == 1 and len(memo) == 1


def test_counterexample_saved_then_loaded(tmp_path):
    with pytest.raises(ForbiddenOutcome) as err:
        check_program(sb_sc(), Schedule(delays=((0, 3),), seed=5), backend=DemotedStoresBackend(),
                      model="tso")
    path = save_counterexample(err.value.counterexample, tmp_path)
    prog, meta = load_counterexample(path)
    assert prog.threads == sb_sc().threads
    assert meta["model"] == "tso" and Schedule.from_json(meta["schedule"]).seed == 5
    # the file is a valid litmus test whose expectations hold
    from stressmm.check import check
    report = check(prog, ["sc", "tso"])
    assert report.expectations and all(e.holds for e in report.expectations)
    lines = (tmp_path / "counterexamples.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["outcome_text"].startswith("P0:r0=0 P1:r1=0")


def test_shrinks_to_the_classic_store_buffering_shape():
    memo, backend = Memo(), DemotedStoresBackend()

    def fails(program):
        try:
            check_program(program, backend=backend, model="tso", memo=memo)
        except ForbiddenOutcome:
            return True
        return False

    # deadline=None: on a busy machine one judgement may take longer than Hypothesis's default
    # 200 ms deadline, which would make the slow example a different failure and the shrink
    # (derandomized, bounded by a count of shrinks) stop on it.
    shrunk = find(mst.programs(threads=(1, 3), ops=(1, 4), locations=2, kinds=("load", "store")),
                  fails, settings=settings(max_examples=5000, database=None, derandomize=True,
                                           deadline=None, phases=NO_EXPLAIN,
                                           suppress_health_check=list(HealthCheck)))
    assert len(shrunk.threads) == 2
    assert shrunk.size == 4
    for t in shrunk.threads:
        assert [type(op) for op in t.ops] == [Store, Load]
        assert t.ops[0].order is Order.SEQ_CST


def two_cpus():
    return len(os.sched_getaffinity(0)) >= 2


@pytest.mark.skipif(not two_cpus(), reason="needs 2 CPUs to run 2 pinned threads")
def test_campaign_on_native_mutant_finds_and_shrinks(tmp_path, monkeypatch):
    from stressmm.campaign import CampaignConfig, run_campaign

    monkeypatch.setenv("CI", "true")  # workers must not inherit Hypothesis's derandomized profile
    # A generous budget: the first counterexample ends the campaign (within seconds on an idle
    # machine), so only a busy machine ever uses more of it.
    res = run_campaign(CampaignConfig(minutes=4, mutant="sc-store-no-fence", seed=3,
                                      corpus=str(tmp_path)))
    assert not res.failures
    assert res.counterexamples, "the mutant was not found within 4 minutes"
    # how far the campaign got before its first detection, in figures that do not depend on
    # the machine's load (the shrinking that follows adds programs and runs of its own)
    assert 1 <= res.first_detection_programs <= res.examples
    assert 1 <= res.first_detection_runs <= res.runs
    cex = res.counterexamples[0]
    assert len(cex.program.threads) <= 2 and cex.program.size <= 4
    assert "tso" in cex.forbidden_by
    assert res.saved and os.path.exists(res.saved[0])


@pytest.mark.skipif(not two_cpus(), reason="needs 2 CPUs to run 2 pinned threads")
def test_campaign_on_correct_runtime_reports_nothing():
    from stressmm.campaign import CampaignConfig, run_campaign

    res = run_campaign(CampaignConfig(examples=30, seed=11, corpus=None, iterations=5000))
    assert not res.counterexamples and not res.failures
    assert res.examples >= 30 and res.runs >= 30 * 5000


@pytest.mark.parametrize("edit,expected", [
    (lambda h: h.replace(": {", ": {{", 1), "the replay header is not valid JSON"),
    (lambda h: h.replace('"spread"', '"diagonal"'), "schedule layout must be one of spread, packed"),
    (lambda h: h.replace('"batch": 64', '"batch": -1'), "the replay header does not describe a run"),
    (lambda h: h.replace('"total": 20000', '"total": "lots"'), "total must be a non-negative integer"),
])
def test_a_damaged_replay_header_is_a_clear_error(tmp_path, edit, expected):
    from stressmm.syntax import LitmusSyntaxError

    with pytest.raises(ForbiddenOutcome) as err:
        check_program(sb_sc(), backend=DemotedStoresBackend(), model="tso")
    path = save_counterexample(err.value.counterexample, tmp_path)
    lines = path.read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if line.startswith("# stressmm-replay: "))
    lines[n] = edit(lines[n])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LitmusSyntaxError) as bad:
        load_counterexample(path)
    assert expected in str(bad.value)
    assert f"{path}:{n + 1}:" in str(bad.value)


def _worker_process(older=frozenset()):
    """A campaign worker of this process (a multiprocess spawn child), or None. Children whose
    ids are in `older` are passed over: a worker of an earlier campaign may still be exiting."""
    import psutil

    for child in psutil.Process().children():
        if child.pid in older:
            continue
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


@pytest.mark.skipif(not two_cpus(), reason="needs 2 CPUs to run 2 pinned threads")
@pytest.mark.parametrize("how,what", [("kill", "crashed"), ("suspend", "hung")])
def test_a_crashed_or_hung_worker_is_reported_and_the_campaign_goes_on(how, what):
    import psutil

    from stressmm.campaign import CampaignConfig, run_campaign

    struck = {}
    older = frozenset(c.pid for c in psutil.Process().children())

    def progress(res):
        if not struck and res.examples > 0:
            worker = _worker_process(older)
            if worker is not None:
                getattr(worker, how)()
                struck["examples"] = res.examples

    # An examples budget, not a time budget: the fresh worker always gets to run, however
    # loaded the machine (the 4 minutes only bound the test). The hang threshold is far above
    # the silence between a worker's reports on an overloaded machine (it reports after each
    # part of a program's runs, and these examples are short: 100 runs); a worker's start-up
    # does not count against it.
    res = run_campaign(CampaignConfig(minutes=4, examples=40, seed=4, corpus=None,
                                      iterations=100, hang_seconds=10), progress)
    assert struck, "no worker was seen"
    assert len(res.failures) == 1, res.failures
    assert what in res.failures[0].what
    assert res.failures[0].program_text.startswith("litmus")  # the program it was running
    assert res.examples > struck["examples"]  # a fresh worker went on
    assert not res.counterexamples


def test_a_campaign_that_cannot_work_stops_with_the_error_instead_of_respawning():
    from stressmm.campaign import CampaignConfig, run_campaign

    start = time.monotonic()
    res = run_campaign(CampaignConfig(examples=4, model="no-such-model", corpus=None))
    assert time.monotonic() - start < 60
    assert len(res.failures) == 1 and "failed: UnknownModelError" in res.failures[0].what


def test_two_backends_never_share_a_memo_entry():
    class Correct:
        def run(self, program, iterations, schedule):
            outcomes = get_model("tso").allowed(program).outcomes
            return Histogram(program, {o: 1 for o in outcomes})

    memo = Memo()
    with pytest.raises(ForbiddenOutcome):
        check_program(sb_sc(), backend=DemotedStoresBackend(), model="tso", memo=memo)
    assert check_program(sb_sc(), backend=Correct(), model="tso", memo=memo).total > 0


def test_a_counterexample_of_primitives_only_that_finished_is_printed_and_saved(tmp_path):
    # A program without registers or variables that ends normally has the empty outcome; its
    # counterexample must still print, save and replay (the `exists` says: no flag).
    from stressmm.fuzz import Counterexample
    from stressmm.outcome import Outcome, evaluate
    from stressmm.program import Chan, Send

    prog = Program("full", (Chan("c", 1),), (Thread((Send("c", 1), Send("c", 2))),))
    cex = Counterexample(program=prog, schedule=Schedule(), outcome=Outcome(), count=3,
                         total=10, model="go", backend="native", verdicts={"go": False})
    assert "~exists (!deadlock && !panic && !timeout)" in cex.report()
    path = save_counterexample(cex, tmp_path)
    loaded, meta = load_counterexample(path)
    assert Outcome.from_json(meta["outcome"]) == Outcome()
    assert evaluate(loaded.condition, Outcome())
    assert not evaluate(loaded.condition, Outcome.flagged("deadlock"))



class PartsBackend:
    """Records each call; `stuck_at` (a call number) ends that call with a stuck note."""

    name = "parts"

    def __init__(self, stuck_at=None, race=False):
        self.calls, self.stuck_at, self.race = [], stuck_at, race

    def run(self, program, iterations, schedule):
        self.calls.append((iterations, schedule.seed))
        outcomes = sorted(get_model("sc").allowed(program).outcomes)
        if len(self.calls) == self.stuck_at:
            from stressmm.outcome import Outcome
            return Histogram(program, {Outcome.flagged("timeout"): 1}, info={"stuck": "hung"})
        return Histogram(program, {outcomes[0]: iterations})


def test_runs_in_parts_report_progress_draw_fresh_delays_and_stop_at_a_hang():
    from stressmm.fuzz import run_in_parts

    backend, beats = PartsBackend(), []
    hist = run_in_parts(backend, sb_sc(), iterations=520, schedule=Schedule(seed=4),
                        mutant=None, on_part=lambda h: beats.append(h.total),
                        part_seconds=0.0)   # parts as small as can be: one run after the first
    assert hist.total == 520 and backend.calls[0][0] == 500 and len(backend.calls) == 21
    assert beats == sorted(beats) and len(beats) == len(backend.calls) > 2
    seeds = [s for _, s in backend.calls]
    assert seeds[0] == 4 and len(set(seeds)) == len(seeds)   # each part its own delays
    stuck = PartsBackend(stuck_at=2)
    hist = run_in_parts(stuck, sb_sc(), iterations=3000, schedule=Schedule(), mutant=None,
                        on_part=lambda h: None, part_seconds=0.0)
    assert len(stuck.calls) == 2 and hist.info["stuck"] == "hung"
    whole = PartsBackend(race=True)   # a race detector reports per process: one call
    run_in_parts(whole, sb_sc(), iterations=3000, schedule=Schedule(), mutant=None,
                 on_part=lambda h: None, part_seconds=0.0)
    assert whole.calls == [(3000, 0)]
