"""The contract checklist (docs/contracts.md): every clause is reached by the programs a
`fuzz --go` campaign draws, every runtime mutant breaks a clause of it, and shrinking still
ends at the classic minimal shapes."""
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, find, settings

from stressmm.campaign import CampaignConfig, strategies_for
from stressmm.contracts import CLAUSES, PRIMITIVES, clause, exercised, primitives
from stressmm.runtime.compile import MUTANTS
from stressmm.syntax import parse, print_program
from finding import NO_EXPLAIN

GO_PROGRAMS, _ = strategies_for(CampaignConfig(minutes=1, go=True))
SEARCH = settings(max_examples=20_000, database=None, deadline=None, phases=NO_EXPLAIN,
                  suppress_health_check=list(HealthCheck))
DOC = Path(__file__).resolve().parent.parent / "docs" / "contracts.md"


@pytest.mark.parametrize("clause_id", [c.id for c in CLAUSES])
def test_the_campaign_programs_exercise_the_clause(clause_id):
    p = find(GO_PROGRAMS, lambda p: clause_id in exercised(p),
             settings=settings(SEARCH, phases=(Phase.generate,)))
    assert clause(clause_id).test(p)


def test_every_clause_is_exercised_by_one_campaign_program_in_a_hundred():
    # a clause reached by fewer programs leaves its mutants unfound within a short campaign
    # (`stressmm bench --mutants` counts the programs to the first detection)
    from hypothesis import given

    seen = []

    @settings(max_examples=600, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=(Phase.generate,))
    @given(GO_PROGRAMS)
    def draw(p):
        seen.append(exercised(p))

    draw()
    rare = {c.id: n for c in CLAUSES if (n := sum(c.id in e for e in seen)) < len(seen) / 100}
    assert not rare, (rare, len(seen))


def test_every_mutant_breaks_a_clause_of_the_checklist():
    named = {m for c in CLAUSES for m in c.mutants}
    assert named <= set(MUTANTS)
    # a fence is not a Go operation: its mutant is for the memory-model campaigns
    assert set(MUTANTS) - named == {"sc-fence-noop"}
    for name, text in MUTANTS.items():
        tag = re.search(r"\[([\w.-]+)\]$", text)
        if tag:
            assert name in clause(tag.group(1)).mutants


def test_every_primitive_has_clauses_and_the_doc_lists_each_clause_with_a_source():
    assert {c.primitive for c in CLAUSES} == set(PRIMITIVES)
    doc = DOC.read_text()
    for c in CLAUSES:
        row = next((line for line in doc.splitlines() if f"`{c.id}`" in line), None)
        assert row is not None, f"{c.id} is not in docs/contracts.md"
        assert "go.dev" in row or "pkg.go.dev" in row, f"{c.id}: no source in its row"
        for m in c.mutants:
            assert m in row, f"{c.id}: mutant {m} missing from its row"


def test_what_a_program_uses_and_exercises():
    from stressmm.strategies.go_ops import build

    p = build([[("wg-add", 1), ("wg-wait", 0)], [("wg-done", 0), ("wg-wait", 0)]])
    assert primitives(p) == {"waitgroup"}
    assert {"waitgroup.add-delta", "waitgroup.releases-all-waiters",
            "waitgroup.wait-until-zero"} <= exercised(p)


# ---------------------------------------------------------------- shrinking


def test_shrinking_reaches_message_passing_over_a_channel():
    p = find(GO_PROGRAMS, lambda p: "chan.unbuffered-rendezvous" in exercised(p),
             settings=SEARCH)
    assert [len(t.ops) for t in p.threads] == [2, 2]   # x = 1; c <- 1 || <-c; r0 = x


def test_shrinking_reaches_the_minimal_fifo_shape():
    p = find(GO_PROGRAMS, lambda p: "chan.fifo" in exercised(p), settings=SEARCH)
    assert p.size == 4          # two sends in one thread, two receives (one may be the sender's)
    # from the op programs (channel c) or from a stream contention (channel c0)
    assert re.search(r"(c0?) <- 1\n  \1 <- 2", print_program(p)), print_program(p)


@pytest.mark.parametrize("clause_id", ["chan.fifo", "atomic.sc", "rwmutex.readers-share"])
def test_the_template_programs_alone_reach_the_clause(clause_id):
    # contentions: a stream of values on one channel, store buffering on two atomic
    # counters, two readers holding an RWMutex together
    from stressmm.strategies import go_programs

    p = find(go_programs(), lambda p: clause_id in exercised(p),
             settings=settings(SEARCH, phases=(Phase.generate,)))
    assert clause(clause_id).test(p)


def test_shrinking_reaches_two_waiters_on_one_waitgroup():
    p = find(GO_PROGRAMS, lambda p: "waitgroup.releases-all-waiters" in exercised(p),
             settings=SEARCH)
    assert [len(t.ops) for t in p.threads] == [1, 1]   # wg.Wait() || wg.Wait()


# ---------------------------------------------------------------- coverage in campaigns


def test_weak_runs_are_the_runs_sc_forbids_and_the_judge_allows():
    from stressmm.contracts import weak_runs
    from stressmm.models import get_model
    from stressmm.outcome import Histogram, Outcome
    from stressmm.syntax import find_scenario, parse_file

    sb = parse_file(find_scenario("SB"))[0]
    weak = Outcome.make({(0, "r0"): 0, (1, "r1"): 0}, {"x": 1, "y": 1})
    strong = Outcome.make({(0, "r0"): 1, (1, "r1"): 1}, {"x": 1, "y": 1})
    hist = Histogram(sb, {weak: 3, strong: 5, Outcome.flagged("timeout"): 2})
    tso, sc = get_model("tso").allowed(sb).outcomes, get_model("sc").allowed(sb).outcomes
    assert weak_runs(hist, tso, sc) == 3
    assert weak_runs(hist, sc, sc) == 0


def test_the_summary_names_every_primitive_and_clause_and_the_weak_runs():
    from stressmm.contracts import Coverage

    cov = Coverage.from_counts({"programs": 4, "runs": 400, "primitive:once": 2,
                                "clause:once.exactly-once": 2, "weak_runs": 7,
                                "weak_programs": 1}, model="go")
    text = cov.render()
    for c in CLAUSES:
        assert c.id.split(".", 1)[1] in text
    assert "once       2 programs: exactly-once 2, returns-after-body 0" in text
    assert "weak outcomes (sc forbids, go allows): 7 of 400 runs, in 1 of 4 programs" in text
    assert cov.to_json()["clauses"]["once.exactly-once"] == 2


@pytest.mark.skipif(len(__import__("os").sched_getaffinity(0)) < 2,
                    reason="needs 2 CPUs to run 2 pinned threads")
def test_a_go_campaign_counts_what_its_programs_exercised():
    from stressmm.campaign import run_campaign

    res = run_campaign(CampaignConfig(examples=6, seed=5, go=True, model="go", corpus=None,
                                      iterations=2000))
    assert not res.counterexamples and not res.failures
    cov = res.coverage
    assert cov.programs == res.examples and cov.runs == res.runs
    assert sum(n for _, n in cov.per_primitive) >= res.examples   # each uses a primitive
    assert 0 <= cov.weak_programs <= cov.programs


def test_a_plain_access_of_an_atomic_location_is_no_use_of_the_atomics():
    from stressmm.contracts import primitives
    [p] = parse("litmus M\nvar a atomic int\nP0:\n  a = 1\nP1:\n  r0 = a\n")
    assert "atomic" not in primitives(p)
    [q] = parse("litmus A\nvar a atomic int\nP0:\n  atomic.Store(&a, 1)\nP1:\n  r0 = a\n")
    assert "atomic" in primitives(q)
