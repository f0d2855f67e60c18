"""Conditions as herd7 writes them: `exists`, `~exists`, `forall`, and comparisons of two
registers or variables, from the text through the models to a run's verdict lines."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from stressmm.check import check
from stressmm.judge import judge
from stressmm.outcome import Histogram, Outcome, evaluate
from stressmm.program import Cmp, Condition, Program, ProgramError, RegRef
from stressmm.report import judged_facts, render_check, render_judged
from stressmm.reports.results import check_test
from stressmm.syntax import LitmusSyntaxError, parse, print_program

ROOT = Path(__file__).resolve().parent.parent

SB = """litmus SB
var x, y int
P0:
  x = 1
  r0 = y
P1:
  y = 1
  r1 = x
{condition}
{expect}
"""


def sb(condition: str, expect: str = "") -> Program:
    [p] = parse(SB.format(condition=condition, expect=expect))
    return p


@pytest.mark.parametrize("line", [
    "exists (P0:r0 == 0 && P1:r1 == 0)",
    "~exists (P0:r0 == 0 && P1:r1 == 0)",
    "forall (P0:r0 == 1 || P1:r1 == 1)",
    "forall (P0:r0 == P1:r1 || P0:r0 != x)",
    "exists (x == y && P1:r1 != P0:r0)",
])
def test_conditions_print_and_parse_back(line):
    p = sb(line)
    assert line in print_program(p)
    assert parse(print_program(p)) == [p]


def test_quantifiers_have_herds_meaning_under_each_model():
    """SB's weak outcome: sc forbids it, tso allows it. ~exists holds under sc only; forall of
    its negation likewise; exists of it under tso only."""
    weak = "P0:r0 == 0 && P1:r1 == 0"
    for line, holds in ((f"exists ({weak})", {"sc": False, "tso": True}),
                        (f"~exists ({weak})", {"sc": True, "tso": False}),
                        ("forall (P0:r0 == 1 || P1:r1 == 1)", {"sc": True, "tso": False})):
        report = check(sb(line), ["sc", "tso", "go", "c11"])
        assert {m: report.condition_holds(m) for m in ("sc", "tso")} == holds, line
        # go and c11 allow the weak outcome (a race: undefined under c11)
        assert report.condition_holds("go") == holds["tso"]
        assert report.condition_holds("c11") == holds["tso"]


def test_expect_forbidden_on_not_exists_says_the_state_is_never_reached():
    report = check(sb("~exists (P0:r0 == 0 && P1:r1 == 0)", "expect sc: forbidden; tso: allowed"),
                   ["sc", "tso"])
    assert [e.holds for e in report.expectations] == [True, True]
    text = render_check(report)
    assert "~exists" in text and "holds" in text and "fails" in text
    doc = check_test(report)
    assert doc["models"]["sc"]["condition_holds"] is True
    assert doc["models"]["tso"]["condition_holds"] is False


def test_expect_on_forall_counts_violations_as_witnesses():
    p = sb("forall (P0:r0 == 1 || P1:r1 == 1)", "expect sc: forbidden; tso: forbidden")
    report = check(p, ["sc", "tso"])
    assert [e.holds for e in report.expectations] == [True, False]


def test_register_to_register_comparison():
    p = sb("exists (P0:r0 == P1:r1)")
    same = Outcome.make({(0, "r0"): 1, (1, "r1"): 1})
    differ = Outcome.make({(0, "r0"): 0, (1, "r1"): 1})
    assert evaluate(p.condition, same) and not evaluate(p.condition, differ)
    # sc allows P0:r0 == P1:r1 == 1 (both stores before both loads)
    assert check(p, ["sc"]).condition_holds("sc") is True
    assert check(sb("forall (P0:r0 != P1:r1)"), ["sc"]).condition_holds("sc") is False
    # a deadlocked outcome has no registers: a comparison on it is false
    assert not evaluate(p.condition, Outcome.flagged("deadlock"))


def test_run_reports_the_condition_verdict_of_the_observed_outcomes():
    p = sb("~exists (P0:r0 == 0 && P1:r1 == 0)", "expect sc: forbidden")
    weak = Outcome.make({(0, "r0"): 0, (1, "r1"): 0}, {"x": 1, "y": 1})
    strong = Outcome.make({(0, "r0"): 1, (1, "r1"): 1}, {"x": 1, "y": 1})
    seen = judge(Histogram(p, {weak: 2, strong: 98}), "sc")
    text = render_judged(seen)
    assert "Observation SB Sometimes 2 98" in text
    assert "Condition ~exists (P0:r0 == 0 && P1:r1 == 0) is NOT validated" in text
    assert seen.expectations[0].failed
    facts = judged_facts(seen)["observation"]
    assert facts["quantifier"] == "~exists" and facts["validated"] is False
    clean = judge(Histogram(p, {strong: 100}), "sc")
    assert "is validated" in render_judged(clean) and not clean.expectations[0].failed


def test_run_forall_violation_fails_the_expectation():
    p = sb("forall (P0:r0 == 1 || P1:r1 == 1)", "expect sc: forbidden")
    weak = Outcome.make({(0, "r0"): 0, (1, "r1"): 0}, {"x": 1, "y": 1})
    strong = Outcome.make({(0, "r0"): 1, (1, "r1"): 1}, {"x": 1, "y": 1})
    j = judge(Histogram(p, {weak: 3, strong: 97}), "sc")
    assert j.expectations[0].failed
    assert "a violation of forall seen 3 times" in j.expectations[0].text
    assert "Observation SB Sometimes 97 3" in render_judged(j)


@pytest.mark.parametrize("line, col, fragment", [
    ("~exist (P0:r0 == 0)", 1, 'expected a declaration'),
    ("forall (P0:r0 == P2:r0)", 18, "P2 is not a thread"),
    ("forall (P0:r0 == z)", 18, '"z" is not a declared variable'),
    ("forall (P0:r0 == P1:r7)", 18, "P1 never writes register r7"),
    ("forall (P0:r0 == )", 18, "expected an int, a register (P1:r0) or a variable"),
])
def test_condition_errors_name_line_and_column(line, col, fragment):
    with pytest.raises(LitmusSyntaxError) as err:
        sb(line)
    assert (err.value.line, err.value.column) == (9, col), str(err.value)
    assert fragment in str(err.value)


def test_two_condition_lines_are_refused():
    with pytest.raises(LitmusSyntaxError, match="already has one"):
        sb("exists (P0:r0 == 0)\nforall (P0:r0 == 0)")


def test_ir_refuses_an_unknown_quantifier():
    with pytest.raises(ProgramError, match="quantifier"):
        Program("T", sb("exists (P0:r0 == 0)").decls, sb("exists (P0:r0 == 0)").threads,
                Condition(Cmp(RegRef(0, "r0"), 0), "sometimes"))


def test_check_command_json_carries_the_verdict(tmp_path):
    f = tmp_path / "SB.litmus"
    f.write_text(SB.format(condition="forall (P0:r0 == 1 || P1:r1 == 1)",
                           expect="expect sc: forbidden; tso: allowed"))
    proc = subprocess.run([sys.executable, "-m", "stressmm", "check", str(f), "--json",
                           "--model", "sc,tso"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    [test] = doc["tests"]
    assert test["quantifier"] == "forall"
    assert test["models"]["sc"]["condition_holds"] is True
    assert test["models"]["tso"]["condition_holds"] is False
