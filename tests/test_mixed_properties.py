"""Properties of plain and atomic accesses of one location on random programs
(`programs(plain_atomics=True)`: a load or store of an atomic location may be plain):

- sc ⊆ tso, sc ⊆ c11 and, for race-free programs, sc ⊆ go: a plain access of an atomic
  location is an ordinary access to every model;
- DRF-SC for seq_cst atomics: a race-free program has exactly the sc outcomes under c11
  (Lahav et al., PLDI 2017, §4) and under go (go.dev/ref/mem: "data-race-free programs execute
  in a sequentially consistent manner");
- go and c11 report a data race on the same such programs (a race: conflicting accesses, one
  of them plain, unordered by happens-before, the other one atomic or not).

Derandomized, so a run is reproducible.
"""
from hypothesis import HealthCheck, given, settings

from stressmm.models import get_model
from stressmm.strategies import programs
from finding import FIND

SC, TSO, GO, C11 = (get_model(m) for m in ("sc", "tso", "go", "c11"))

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

MIXED = programs(threads=(2, 3), ops=(1, 3), locations=2,
                 kinds=("load", "store", "rmw", "fence", "await"), atomic="mixed",
                 plain_atomics=True)
SEQ_CST_MIXED = programs(threads=(2, 3), ops=(1, 3), locations=2,
                         kinds=("load", "store", "rmw", "await"), orders=["seq_cst"],
                         plain_atomics=True)


def missing(smaller, larger) -> list:
    """The outcomes of `smaller` that `larger` does not allow, as text."""
    return sorted(str(o) for o in smaller.outcomes if o not in larger.outcomes)


def test_the_strategy_draws_plain_accesses_of_atomic_locations():
    from hypothesis import find
    p = find(SEQ_CST_MIXED, lambda p: bool(p.mixed) and C11.allowed(p).races, settings=FIND)
    assert p.mixed and GO.allowed(p).races


@SETTINGS
@given(MIXED)
def test_sc_within_tso_c11_and_race_free_go(program):
    sc = SC.allowed(program)
    assert not missing(sc, TSO.allowed(program))
    assert not missing(sc, C11.allowed(program))
    go = GO.allowed(program)
    if not go.races:
        assert not missing(sc, go)


@SETTINGS
@given(SEQ_CST_MIXED)
def test_drf_sc_and_go_and_c11_agree_on_races(program):
    sc, go, c11 = SC.allowed(program), GO.allowed(program), C11.allowed(program)
    assert bool(go.races) == bool(c11.races), (go.races, c11.races)
    if not c11.races:
        assert frozenset(c11.outcomes) == sc.outcomes
        assert frozenset(go.outcomes) == sc.outcomes
