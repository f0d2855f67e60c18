"""`stressmm bench`: each mode measures what it claims, beside its reference, in one run.
(Rates are printed, never asserted: these tests check the rows, not the machine's speed.)"""
import os
import subprocess
import sys

import pytest

from stressmm.bench_models import bench as bench_models
from stressmm.bench_models import classic_programs

two_cpus = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2,
                              reason="needs 2 CPUs to run 2 pinned threads")


def test_models_bench_counts_states_of_the_classics_and_random_programs():
    rows = bench_models(random_sizes=[(2, 2)], plain_sizes=[], per_size=1)
    names = {r.name for r in rows}
    assert {p.name for p in classic_programs()} <= names
    assert any(n.startswith("random-2x2") for n in names)
    assert {r.model for r in rows} == {"sc", "tso"}
    sb = {r.model: r for r in rows if r.name == "SB"}
    assert sb["tso"].outcomes == sb["sc"].outcomes + 1  # the store-buffering outcome
    assert all(r.states > 0 and r.seconds >= 0 and not r.error for r in rows)


def test_models_bench_times_the_go_model_too():
    rows = bench_models(models=("sc", "go"), random_sizes=[(2, 2)], plain_sizes=[], per_size=1,
                        classics=False, unreduced=True)
    assert {r.model for r in rows} == {"sc", "sc/full", "go"}


@two_cpus
def test_native_bench_compares_with_python_threads_and_counts_weak_outcomes():
    from stressmm.bench_native import bench

    rows = bench(seconds=0.1, repeats=1, tests=["SB", "MP"])
    by = {(r.test, r.backend): r for r in rows}
    assert set(by) == {("SB", "native"), ("SB", "pythreads"), ("MP", "native"), ("MP", "pythreads")}
    for test in ("SB", "MP"):  # native against the baseline measured in the same run
        native, base = by[test, "native"], by[test, "pythreads"]
        assert native.iterations > 0 and base.iterations > 0
        assert native.speedup == pytest.approx(native.its_per_s[1] / base.its_per_s[1])
        assert base.speedup is None
        for row in (native, base):
            assert 0 <= row.weak_per_s[0] <= row.weak_per_s[1] <= row.weak_per_s[2]
            assert 0.0 <= row.weak_fraction <= 1.0
    assert by["MP", "native"].weak_per_s == (0, 0, 0)  # x86-TSO forbids MP's weak outcome
    assert by["SB", "pythreads"].weak_per_s == (0, 0, 0)  # under the GIL: only SC outcomes
    with pytest.raises(ValueError, match="unknown bench test"):
        bench(tests=["nope"])


@two_cpus
def test_mutant_bench_reports_detection_and_shrunk_size():
    from stressmm.bench_fuzz import bench_mutants

    # A budget in examples, not seconds: the seeded campaigns draw the same programs on a busy
    # machine as on an idle one (the CAS mutant shows in a single thread, the lock mutant within
    # a few examples); the minutes only bound a runtime that hangs.
    rows = bench_mutants(minutes=5, examples=48, iterations=1000,
                         mutants=["cas-ignores-failure", "mutex-nonatomic-tas"])
    by = {r["mutant"]: r for r in rows}
    assert not by["(correct runtime)"]["found"] and not by["(correct, Go programs)"]["found"]
    found = {(r["mutant"], r["programs"]): r for r in rows if r["found"]}
    for key in (("cas-ignores-failure", "memory"), ("mutex-nonatomic-tas", "go")):
        assert key in found
        assert found[key]["first_detection_s"] <= found[key]["total_s"]
        assert 1 <= found[key]["first_detection_programs"] <= found[key]["examples"]
        assert found[key]["threads"] <= 2
    assert by["mutex-nonatomic-tas"]["clause"] == "mutex.exclusion"
def test_every_mutant_is_benched_with_go_programs_but_the_fence_one():
    from stressmm.bench_fuzz import campaigns, score
    from stressmm.runtime.compile import ATOMIC_MUTANTS, MUTANTS

    plan = campaigns(list(MUTANTS))
    assert {m for m, go in plan if go and m} == set(MUTANTS) - {"sc-fence-noop"}
    assert {m for m, go in plan if not go and m} == set(ATOMIC_MUTANTS)
    rows = [{"mutant": "a", "clause": "x", "found": True}, {"mutant": "a", "clause": "x",
            "found": False}, {"mutant": "b", "clause": "y", "found": False},
            {"mutant": "(correct runtime)", "clause": "", "found": False}]
    assert score(rows) == (1, 2)


@pytest.mark.parametrize("args", [["bench", "--models", "--quick"]])
def test_bench_command_prints_a_table(args):
    proc = subprocess.run([sys.executable, "-m", "stressmm", *args], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "tso" in proc.stdout and "SB" in proc.stdout


def test_a_racy_4x6_go_program_under_a_small_limit_gives_rows_not_tracebacks():
    from stressmm.bench_models import bench_program, format_bench, target_programs

    [racy] = [p for p, m in target_programs() if p.name == "target-plain-4x6"]
    cut, counted = bench_program(racy, "go", max_states=5), bench_program(racy, "go", max_states=20)
    assert cut.outcomes is None and "--max-states 20" in cut.error and not cut.too_many
    assert counted.outcomes > 10**9 and not counted.error      # counted without listing them
    table = format_bench([cut, counted]).splitlines()
    assert table[1].endswith(" limit") and table[2].endswith(f" {counted.outcomes}")


def test_outcomes_too_many_to_count_give_the_row_its_note(monkeypatch):
    # Two overlapping boxes of outcomes: counting them exactly splits them into disjoint
    # pieces, more than a work limit of 1 allows.
    from stressmm import bench_models
    from stressmm.models.base import Box, ModelResult, OutcomeSpace

    boxes = tuple(Box((((0, "r0"), tuple(range(lo, lo + 10))),), ()) for lo in (0, 5))
    space = OutcomeSpace(frozenset(), boxes, 1, "racy under go")

    class Judged:
        max_states = 1

        def with_max_states(self, n):
            return self

        def allowed(self, program):
            return ModelResult(space, (), 7, 0.0)

    monkeypatch.setattr(bench_models, "get_model", lambda name: Judged())
    [racy] = [p for p, m in bench_models.target_programs() if p.name == "target-plain-4x6"]
    row = bench_models.bench_program(racy, "go", max_states=1)
    assert row.too_many and row.outcomes is None and row.states == 7
    assert "more than 1 (the work limit)" in row.error
    assert bench_models.format_bench([row]).splitlines()[1].endswith("too many")
    many = [bench_models.BenchRow(f"random-4x6-{i}", "go", 4, 6, 7, 0.1, None, "x", True)
            for i in range(2)]
    assert "(2 had too many outcomes to count)" in bench_models.format_bench(many)
