"""Fuzzing the Go toolchains: campaigns on gc (and its race detector) build generated Go code
in the workers, judge it by the go model, and report planted bugs as replayable findings.

The campaign tests need gc (`apt-get install golang-go`) and 2 CPUs; they skip otherwise.
Every campaign is bounded by a number of programs and few runs per program."""
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings

from stressmm.campaign import CampaignConfig, run_campaign
from stressmm.fuzz import ForbiddenOutcome, Memo, load_counterexample, save_counterexample
from stressmm.go_fuzz import RaceCounterexample, check_races, race_finding, race_replay
from stressmm.models import get_model
from stressmm.outcome import Histogram
from stressmm.runtime import available_cpus
from stressmm.runtime.go import available
from stressmm.schedule import Schedule
from stressmm.strategies.go_shapes import go_shapes
from stressmm.syntax import parse

HELPERS = Path(__file__).resolve().with_name("go_fuzz_backends.py")
GC_MISSING = available("go")
needs_gc = pytest.mark.skipif(GC_MISSING is not None, reason=str(GC_MISSING))
needs_cpus = pytest.mark.skipif(len(available_cpus()) < 2,
                                reason="needs 2 CPUs to run 2 pinned threads")

RACY = parse("litmus Racy\nvar x int\nP0:\n  x = 1\nP1:\n  r0 = x\n")[0]
CLEAN = parse("litmus Clean\nvar x int\nchan c 0\nP0:\n  x = 1\n  c <- 1\n"
              "P1:\n  <-c\n  r0 = x\n")[0]
CLOSE_SEND = parse("litmus CloseSend\nchan c 1\nP0:\n  close(c)\nP1:\n  c <- 1\n")[0]


def race_run(program, reports, runs=1000):
    """A go-race histogram of `program` whose detector reported `reports` (op index pairs)."""
    [o, *_] = sorted(get_model("sc").allowed(program).outcomes)
    return Histogram(program, {o: runs}, backend="go1.19.8 gc -race",
                     info={"race_reports": reports, "race_unmapped": [], "race_runs": runs})


# ---------------------------------------------------------------- judging the detector


def test_a_race_the_detector_never_reported_is_a_probabilistic_finding_with_its_runs():
    cex = race_finding(race_run(RACY, []), get_model("go").allowed(RACY), Schedule(), "go-race")
    assert isinstance(cex, RaceCounterexample) and cex.kind == "missed" and cex.total == 1000
    assert cex.pairs == (("P0 `x = 1` (line 4)", "P1 `r0 = x` (line 6)"),)
    text = cex.report()
    assert "MISSED" in text and "1,000 runs" in text and "probabilistic" in text


def test_a_report_the_model_says_cannot_happen_is_a_finding():
    reports = [[[0, 0], [1, 1]]]   # x = 1 / r0 = x, ordered by the channel
    cex = race_finding(race_run(CLEAN, reports), get_model("go").allowed(CLEAN), Schedule(),
                       "go-race")
    assert cex is not None and cex.kind == "unexpected"
    assert "false positive or a model bug" in cex.report()


def test_reported_races_and_documented_differences_are_no_finding():
    go = get_model("go")
    assert race_finding(race_run(RACY, [[[0, 0], [1, 0]]]), go.allowed(RACY), Schedule(),
                        "go-race") is None
    # close as a write, send as a read of the channel: a documented difference
    assert race_finding(race_run(CLOSE_SEND, [[[0, 0], [1, 0]]]), go.allowed(CLOSE_SEND),
                        Schedule(), "go-race") is None
    # a run without the detector says nothing about races
    plain = Histogram(RACY, dict(race_run(RACY, []).counts), backend="go1.19.8 gc")
    assert race_finding(plain, go.allowed(RACY), Schedule(), "go") is None


def test_race_findings_fail_alike_when_hypothesis_replays_them():
    memo, backend = Memo(), object()
    with pytest.raises(ForbiddenOutcome) as first:
        check_races(race_run(RACY, []), Schedule(), backend, "go", memo)
    assert memo.get((RACY, "go", backend, None)) is first.value.counterexample


def test_a_race_finding_saves_and_replays_from_its_header(tmp_path):
    cex = race_finding(race_run(RACY, []), get_model("go").allowed(RACY),
                       Schedule(seed=7), "go-race")
    path = save_counterexample(cex, tmp_path)
    prog, meta = load_counterexample(path)
    assert prog.threads == RACY.threads and meta["backend"] == "go-race"
    assert meta["race"] == {"kind": "missed", "runs": 1000,
                            "pairs": [["P0 `x = 1` (line 4)", "P1 `r0 = x` (line 6)"]],
                            "ops": [[[0, 0], [1, 0]]]}
    go = get_model("go").allowed(prog)
    assert race_replay(race_run(prog, []), go, meta)[0]
    hit, line = race_replay(race_run(prog, [[[0, 0], [1, 0]]]), go, meta)
    assert not hit and "probabilistic" in line


# ---------------------------------------------------------------- the Go shapes


@settings(max_examples=60, deadline=None, database=None)
@given(go_shapes(racy=False))
def test_race_free_shapes_have_no_race_and_never_block(program):
    go, sc = get_model("go").allowed(program), get_model("sc").allowed(program)
    assert not go.races
    assert not any(o.flags for o in sc.outcomes)


def test_the_shapes_include_k_plus_c_element_less_channels_waitgroup_reuse_and_racy_once():
    from stressmm.program import Chan, OnceDo, Recv, Send, WgAdd
    seen = set()

    @settings(max_examples=80, deadline=None, database=None)
    @given(go_shapes())
    def collect(program):
        ops = [op for _, op in program.ops()]
        chans = {d.name: d.capacity for d in program.decls if isinstance(d, Chan)}
        sends = sum(isinstance(op, Send) for op in ops)
        if chans and sends > max(chans.values()):
            seen.add("more sends than capacity")
        if chans and all(isinstance(op, Recv) and op.reg is None
                         for op in ops if isinstance(op, Recv)):
            seen.add("element-less")
        if sum(isinstance(op, WgAdd) for op in ops) > 1:
            seen.add("waitgroup reuse")
        if any(isinstance(op, OnceDo) for op in ops) and get_model("go").allowed(program).races:
            seen.add("racy once")

    collect()
    assert seen == {"more sends than capacity", "element-less", "waitgroup reuse", "racy once"}


# ---------------------------------------------------------------- campaigns on gc


def campaign(tmp_path, backend, **kw):
    cfg = CampaignConfig(examples=kw.pop("examples", 8), go=True, backend=backend,
                         iterations=kw.pop("iterations", 300), seed=kw.pop("seed", 1),
                         corpus=str(tmp_path / "corpus"), ops=kw.pop("ops", 2),
                         hang_seconds=600.0, **kw)
    return run_campaign(cfg)


@needs_gc
@needs_cpus
def test_a_short_campaign_on_gc_finds_nothing(tmp_path):
    res = campaign(tmp_path, "go", examples=10)
    assert not res.found, [c.report() for c in res.counterexamples] + res.failures
    assert res.examples >= 10 and res.runs > 0


@needs_gc
@needs_cpus
def test_a_campaign_builds_many_programs_per_go_build(tmp_path, monkeypatch):
    cache = tmp_path / "go-cache"
    monkeypatch.setenv("STRESSMM_GO_CACHE", str(cache))   # the workers inherit it
    res = campaign(tmp_path, "go", examples=16, iterations=50, seed=3)
    assert not res.found and res.examples >= 16
    builds = list((cache / "builds").iterdir())
    assert 1 <= len(builds) <= 4, f"{len(builds)} builds for {res.examples} programs"


@needs_gc
@needs_cpus
def test_a_planted_bug_in_go_is_found_saved_with_its_backend_and_replayed(tmp_path):
    spec = f"{HELPERS}:planted_load_bug"
    res = campaign(tmp_path, spec)
    assert res.counterexamples, res.failures
    cex = res.counterexamples[0]
    assert cex.backend == spec and "planted" in cex.under_test
    assert len(cex.program.threads) == 2 and cex.program.size <= 6   # shrunk
    out = subprocess.run([sys.executable, "-m", "stressmm", "replay", res.saved[0],
                          "--iterations", "200"], capture_output=True, text=True, timeout=540)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "REPRODUCED" in out.stdout and "planted" in out.stdout


@needs_gc
@needs_cpus
def test_generated_code_that_does_not_compile_is_reported_with_the_program(tmp_path):
    res = campaign(tmp_path, f"{HELPERS}:broken_codegen", examples=2)
    assert not res.counterexamples and res.failures
    failure = res.failures[0]
    assert "did not compile" in failure.what and "undefinedName" in failure.what
    assert failure.program_text.startswith("litmus ")


@needs_gc
@needs_cpus
def test_a_race_detector_that_misses_races_is_a_reported_finding(tmp_path):
    # Seed 2 draws a racy program among its first few (racy programs are a few percent of a
    # Go campaign's); the campaign ends at its first finding.
    res = campaign(tmp_path, f"{HELPERS}:blind_detector", examples=40, ops=2, iterations=100,
                   seed=2)
    assert res.counterexamples, res.failures
    cex = res.counterexamples[0]
    assert isinstance(cex, RaceCounterexample) and cex.kind == "missed"
    assert cex.pairs and cex.total == 100
    text = Path(res.saved[0]).read_text()
    assert "MISSED" in text and '"race"' in text


@needs_gc
@needs_cpus
def test_a_go_timeout_is_never_judged_forbidden():
    from stressmm.fuzz import check_program
    from stressmm.runtime.go import make_backend

    [hang] = parse("litmus Hang\nvar f int\nvar x int\nP0:\n  x = 1\nP1:\n  for f == 0 {}\n")
    hist = check_program(hang, backend=make_backend("go", iteration_budget=0.5), model="go",
                         iterations=20)
    assert any("timeout" in o.flags for o in hist.counts)   # seen, and not judged
