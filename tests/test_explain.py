"""The explainer go and c11 share (`models/explain.py`) and the work limit every model's search
counts against (`explorer.Budget`)."""
import re

import pytest

from stressmm.models import StateLimitError, get_model
from stressmm.program import Load, Order, Program, Store, Thread, Var

SC = Order.SEQ_CST


def sb(stores: int, order: Order = SC) -> Program:
    """Store buffering of seq_cst atomics, each thread storing 1..stores before its load."""
    return Program("SB", (Var("x", True), Var("y", True)), tuple(
        Thread(tuple(Store(a, v, order) for v in range(1, stores + 1)) + (Load("r0", b, order),))
        for a, b in (("x", "y"), ("y", "x"))))


@pytest.mark.parametrize("model", ["go", "c11"])
def test_go_and_c11_tell_a_forbidden_outcome_as_the_rules_its_candidates_break(model):
    why = get_model(model).why_forbidden(sb(1), "P0:r0=0 P1:r0=0")
    head, *rules = why.splitlines()
    assert head == (f"SB: P0:r0=0 P1:r0=0 is forbidden by {model}; every candidate execution "
                    f"giving those values breaks a rule:")
    assert rules and all(" breaks \"" in line for line in rules)
    assert re.search(r"R\w* y=0 .* R\w* x=0", rules[0])          # the store-buffering cycle


def test_c11_still_shows_a_cycle_when_the_candidates_are_too_many_to_build():
    # Eight stores make more than WHY_BUDGET candidate graphs; every op is seq_cst, so the
    # sequentially consistent witness (shared with go) still applies.
    why = get_model("c11").why_forbidden(sb(4), "P0:r0=0 P1:r0=0")
    assert "too many candidates" not in why
    assert "breaks \"atomics-sc:" in why and " -po-> " in why


def test_c11_claims_no_sc_cycle_for_weaker_orders_past_the_candidate_budget():
    why = get_model("c11").why_forbidden(sb(4, Order.RELAXED), "P0:r0=5")
    assert why.endswith("(too many candidates to show one)")


def test_go_counts_states_and_reads_from_choices_against_one_limit():
    p = Program("LB", (Var("x"), Var("y")), (
        Thread((Load("r0", "x"), Store("y", "r0"), Store("y", 2))),
        Thread((Load("r1", "y"), Store("x", "r1"), Store("x", 2)))))
    found = get_model("go").allowed(p)              # its states: all the work it counted
    assert get_model("go").with_max_states(found.states).allowed(p).outcomes == found.outcomes
    with pytest.raises(StateLimitError, match=r"--max-states \d+"):
        get_model("go").with_max_states(found.states - 1).allowed(p)
