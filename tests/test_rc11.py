"""The `c11` model (RC11): races and undefined behaviour, programs it does not describe, its
work limit, and explanations. Its published verdicts are the scenarios of scenarios/c11,
checked by test_scenarios_parse; its properties are in test_rc11_properties."""
import pytest

from stressmm.check import check
from stressmm.models import NotApplicable, StateLimitError, get_model
from stressmm.outcome import Outcome
from stressmm.syntax import parse, parse_file, scenario_paths

C11 = get_model("c11")


def scenario(name):
    [path] = [p for p in scenario_paths() if p.parent.name == "c11" and p.stem == name]
    [program] = parse_file(str(path))
    return program


def test_rc11_is_another_name_of_c11():
    assert get_model("rc11") is C11


def test_a_race_on_plain_locations_makes_every_outcome_allowed():
    res = C11.allowed(scenario("MP+plain"))
    assert res.races and res.undefined
    assert "behaviour of the program is undefined" in str(res.races[0])
    assert res.allows("P1:r0=5") and Outcome.flagged("panic") in res.outcomes


def test_release_acquire_handoff_is_race_free_and_defined():
    res = C11.allowed(scenario("MP+rel-acq"))
    assert res.races == () and not res.undefined
    assert not res.allows("P1:r1=0")


GO_PROGRAM = """
litmus Handoff
var x int
chan c 1
P0:
  x = 1
  c <- 1
P1:
  <-c
  r0 = x
exists (P1:r0 == 0)
expect go: forbidden; c11: forbidden
"""


def test_programs_with_go_primitives_are_left_out_with_a_clear_message():
    [prog] = parse(GO_PROGRAM)
    assert not C11.applies(prog)
    with pytest.raises(NotApplicable, match="chan c"):
        C11.allowed(prog)
    report = check(prog, ["go", "c11"])
    assert list(report.results) == ["go"]
    [_, c11] = report.expectations
    assert c11.holds is None and "does not describe" in c11.why


def test_the_work_limit_stops_a_big_search_with_what_to_do():
    prog = scenario("IRIW+acq")
    with pytest.raises(StateLimitError, match="with_max_states"):
        C11.with_max_states(10).allowed(prog)


def test_why_forbidden_names_the_axiom_and_a_cycle():
    why = C11.why_forbidden(scenario("SB+sc"), "P0:r0=0 P1:r1=0")
    assert "breaks \"sc: psc" in why and "-sb->" in why
    why = C11.why_forbidden(scenario("S"), "P1:r0=1 x=2")
    assert "coherence" in why and "-mo->" in why
    why = C11.why_forbidden(scenario("LB"), "P0:r0=1 P1:r1=1")
    assert "no-thin-air" in why
    assert C11.why_forbidden(scenario("SB"), "P0:r0=0 P1:r1=0") == ""


def test_explain_shows_reads_from_modification_order_and_synchronisation():
    ex = C11.explain(scenario("MP+fences"), "P1:r0=1 P1:r1=1")
    text = "\n".join(ex.steps)
    assert "reads 1 from P0 `atomic.Store(&y, 1, relaxed)`" in text
    assert "synchronizes with: P0 `fence(release)`" in text
    assert C11.explain(scenario("MP+fences"), "P1:r0=1 P1:r1=0") is None
    ex = C11.explain(scenario("2+2W"), "x=1 y=1")
    assert any(s.startswith("modification order of x: ") for s in ex.steps)
