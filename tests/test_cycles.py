"""Critical-cycle programs: every one is valid and forbidden under sc, x86-TSO allows exactly
those with an unfenced store-then-load, the 2-thread ones carry their classic names, and
shrinking ends on SB."""
import importlib
from collections import Counter

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis.errors import InvalidArgument

from stressmm import strategies as mst
from stressmm.models import get_model
from stressmm.program import (
    FENCE_ORDERS, LOAD_ORDERS, STORE_ORDERS, Fence, Load, Order, Program, Store,
)
from stressmm.syntax import parse, print_program
from finding import FIND

cycles = importlib.import_module("stressmm.strategies.cycles").cycles

SC, TSO = get_model("sc"), get_model("tso")

MANY = settings(max_examples=250, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=60, derandomize=True, database=None, deadline=None,
               suppress_health_check=[HealthCheck.too_slow])


def accesses(thread):
    return [op for op in thread.ops if isinstance(op, (Load, Store))]


def shape(thread) -> str:
    """'WR' for a thread that stores then loads, and so on."""
    return "".join("R" if isinstance(op, Load) else "W" for op in accesses(thread))


def tso_relaxes(program: Program) -> bool:
    """The prediction, read off the program alone: some thread stores, then loads, with no
    seq_cst fence between and the store not seq_cst."""
    for t in program.threads:
        a, b = accesses(t)
        fenced = any(isinstance(op, Fence) and op.order is Order.SEQ_CST for op in t.ops)
        if (isinstance(a, Store) and isinstance(b, Load) and not fenced
                and a.order is not Order.SEQ_CST):
            return True
    return False


# ---------------------------------------------------------------- the cycle itself


@MANY
@given(cycles())
def test_every_cycle_is_well_formed_and_forbidden_by_sc(p):
    n = len(p.threads)
    assert 2 <= n <= 4
    assert len(p.vars) == n
    touched = Counter()
    for t in p.threads:
        a, b = accesses(t)
        assert a.loc != b.loc
        assert len(t.ops) in (2, 3)                       # a, optional fence, b
        if len(t.ops) == 3:
            assert isinstance(t.ops[1], Fence) and t.ops[1].order in FENCE_ORDERS
        for op in (a, b):
            touched[op.loc] += 1
            atomic = p.decl(op.loc).atomic
            assert (op.order is None) == (not atomic)
            if atomic:
                assert op.order in (LOAD_ORDERS if isinstance(op, Load) else STORE_ORDERS)
    assert set(touched.values()) == {2}                  # each location links two threads
    assert p.condition is not None
    assert not SC.allowed(p).allows(p.condition), print_program(p)
    assert [(e.model, e.verdict) for e in p.expects][0] == ("sc", "forbidden")


@MANY
@given(cycles())
def test_tso_allows_exactly_the_cycles_with_an_unfenced_store_then_load(p):
    predicted = tso_relaxes(p)
    assert TSO.allowed(p).allows(p.condition) == predicted, print_program(p)
    assert dict((e.model, e.verdict) for e in p.expects)["tso"] == (
        "allowed" if predicted else "forbidden")


def test_both_tso_verdicts_occur_and_the_fraction_is_sizeable():
    seen = []

    @FEW
    @given(cycles())
    def collect(p):
        seen.append(tso_relaxes(p))

    collect()
    assert 0.1 < sum(seen) / len(seen) < 0.9, sum(seen) / len(seen)


CLASSIC = {           # name -> the two threads' access shapes (W = store, R = load)
    "SB": ("WR", "WR"),
    "MP": ("WW", "RR"),
    "LB": ("RW", "RW"),
    "2+2W": ("WW", "WW"),
    "S": ("WW", "RW"),
    "R": ("WW", "WR"),
}


@MANY
@given(cycles(threads=2))
def test_two_thread_cycles_carry_their_classic_names(p):
    base = p.name.split("+fence")[0].split("+po")[0]
    assert base in CLASSIC, p.name
    assert sorted(shape(t) for t in p.threads) == sorted(CLASSIC[base]), print_program(p)
    fenced = [any(isinstance(op, Fence) for op in t.ops) for t in p.threads]
    assert (base == p.name) == (not any(fenced))


def test_classic_conditions():
    """Spot checks against the textbook tests: MP asks flag seen and data not, 2+2W asks
    both final values of the first writes, R mixes a final value and a read of 0."""
    def first(name):
        return find(cycles(threads=2, fences=False), lambda p: p.name == name, settings=FIND)

    mp = print_program(first("MP"))
    assert "exists (P1:r0 == 1 && P1:r1 == 0)" in mp or "exists (P0:r0 == 1 && P0:r1 == 0)" in mp
    w22 = first("2+2W")
    assert str(w22.condition.expr).count("MemRef") == 2
    r = first("R")
    assert str(r.condition.expr).count("MemRef") == 1 and str(r.condition.expr).count(
        "value=0") == 1
    s = first("S")
    assert str(s.condition.expr).count("MemRef") == 1 and "value=1" in str(s.condition.expr)


@FEW
@given(cycles(atomic="mixed"))
def test_programs_print_and_parse_back(p):
    assert parse(print_program(p)) == [p]


# ---------------------------------------------------------------- shrinking


def test_the_minimal_tso_weak_cycle_is_sb():
    p = find(cycles(), lambda p: TSO.allowed(p).allows(p.condition), settings=FIND)
    assert p.name == "SB"
    assert [shape(t) for t in p.threads] == ["WR", "WR"]
    assert not any(isinstance(op, Fence) for _, op in p.ops())


def test_a_fence_shrinks_to_one_seq_cst_fence_in_sb():
    p = find(cycles(fences=True), lambda p: any(isinstance(op, Fence) for _, op in p.ops()),
             settings=FIND)
    fences = [op for _, op in p.ops() if isinstance(op, Fence)]
    assert [f.order for f in fences] == [Order.SEQ_CST]
    assert p.name.startswith("SB+") and len(p.threads) == 2


def test_longer_cycles_shrink_to_three_fr_edges():
    p = find(cycles(), lambda p: len(p.threads) >= 3, settings=FIND)
    assert p.name == "cycle-fr-fr-fr"
    assert all(op.order is Order.SEQ_CST for _, op in p.ops())


# ---------------------------------------------------------------- knobs


@FEW
@given(cycles(orders=["relaxed"], fences=False))
def test_orders_knob(p):
    assert all(op.order is Order.RELAXED for _, op in p.ops())


@FEW
@given(cycles(atomic=False, threads=3))
def test_plain_cycles(p):
    assert len(p.threads) == 3
    assert all(op.order is None for _, op in p.ops() if not isinstance(op, Fence))
    assert not any(v.atomic for v in p.vars)


@FEW
@given(cycles(edges=["rf"], threads=2, fences=False))
def test_edges_knob(p):
    assert p.name == "LB"


def test_mixed_draws_both_kinds_of_location():
    p = find(cycles(atomic="mixed"), lambda p: len({v.atomic for v in p.vars}) == 2,
             settings=FIND)
    assert p.name == "SB"


@FEW
@given(cycles(name="fuzzed"))
def test_fixed_name(p):
    assert p.name == "fuzzed"


@pytest.mark.parametrize("knobs, words", [
    (dict(threads=1), "threads=1"),
    (dict(orders=["relaxed"]), "fences=False"),
    (dict(orders=["acquire"], fences=False), "store order"),
    (dict(orders=["bogus"]), "bogus"),
    (dict(atomic="sometimes"), "atomic="),
    (dict(fences="yes"), "fences="),
    (dict(edges=["po"]), "po"),
    (dict(name="two words"), "name="),
])
def test_bad_knobs_are_refused_at_once(knobs, words):
    with pytest.raises(InvalidArgument, match=words):
        cycles(**knobs)


def test_exported_from_the_package():
    assert mst.cycles is cycles
