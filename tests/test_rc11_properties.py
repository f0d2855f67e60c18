"""Properties of the `c11` model (RC11, Lahav et al., PLDI 2017) on random programs:

- sc ⊆ c11: every sequentially consistent outcome is an RC11 outcome;
- all accesses seq_cst atomics: c11 allows exactly the sc outcomes;
- DRF-SC (the paper's §4 theorem, for programs whose atomics are seq_cst): a program with
  plain and seq_cst accesses and no data race has exactly the sc outcomes;
- tso ⊆ c11 for programs whose accesses are all atomic: the x86 mapping of C11 is sound, so
  what the native runtime does on x86 is allowed by the language;
- go and c11 report a data race on the same programs of plain and seq_cst accesses (the
  two languages define races alike there: conflicting accesses, one plain, unordered by hb).

Derandomized, so a run is reproducible.
"""
from hypothesis import HealthCheck, given, settings

from stressmm.models import get_model
from stressmm.strategies import go_programs, programs

SC, TSO, GO, C11 = (get_model(m) for m in ("sc", "tso", "go", "c11"))

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

EVERYTHING = programs(threads=(2, 3), ops=(1, 3), locations=2,
                      kinds=("load", "store", "rmw", "fence", "await"), atomic="mixed")
SEQ_CST_ATOMICS = programs(threads=(2, 3), ops=(1, 3), locations=2,
                           kinds=("load", "store", "rmw", "fence", "await"), orders=["seq_cst"])
SEQ_CST_MIXED = programs(threads=(2, 3), ops=(1, 3), locations=2,
                         kinds=("load", "store", "rmw", "await"), atomic="mixed",
                         orders=["seq_cst"])
ATOMIC_HANDOFFS = go_programs(threads=(2, 3), ops=(1, 4), sync=["atomic"], contention=False)
"""Handoffs through seq_cst flags (a store, a spin loop), proper or racy, and plain accesses."""
ATOMICS = programs(threads=(2, 3), ops=(1, 3), locations=2,
                   kinds=("load", "store", "rmw", "fence", "await"))


def missing(smaller, larger) -> list:
    """The outcomes of `smaller` that `larger` does not allow, as text."""
    return sorted(str(o) for o in smaller.outcomes if o not in larger.outcomes)


@SETTINGS
@given(EVERYTHING)
def test_sc_within_c11(program):
    assert not missing(SC.allowed(program), C11.allowed(program))


@SETTINGS
@given(SEQ_CST_ATOMICS)
def test_c11_is_sc_for_seq_cst_atomics(program):
    assert not C11.allowed(program).races       # atomics never race
    check_drf_sc(program)


def check_drf_sc(program):
    c11, sc = C11.allowed(program), SC.allowed(program)
    if not c11.races:
        assert frozenset(c11.outcomes) == sc.outcomes


@SETTINGS
@given(SEQ_CST_MIXED)
def test_drf_sc_for_plain_and_seq_cst_accesses(program):
    check_drf_sc(program)


@SETTINGS
@given(ATOMIC_HANDOFFS)
def test_drf_sc_for_handoffs(program):
    check_drf_sc(program)


@SETTINGS
@given(ATOMICS)
def test_tso_within_c11_for_atomic_programs(program):
    assert not missing(TSO.allowed(program), C11.allowed(program))


@SETTINGS
@given(ATOMIC_HANDOFFS)
def test_go_and_c11_agree_on_races(program):
    go, c11 = GO.allowed(program), C11.allowed(program)
    assert bool(go.races) == bool(c11.races), (go.races, c11.races)


def consistent_outcomes(program) -> set:
    """Every candidate execution built (any rf and mo, sb ∪ rf acyclic) and checked whole."""
    from stressmm.models.build import _consistent, _explore, _outcome, graph_of

    c = C11._compiled(program)
    terminals, _ = _explore(C11, c, 10 ** 6, "p", prune=False)
    return {_outcome(c, s, flag) for s, flag in terminals
            if _consistent(C11, graph_of(c, s))}


@SETTINGS
@given(EVERYTHING)
def test_cutting_prefixes_and_skipping_sinks_loses_no_execution(program):
    # The builder checks a prefix only when its new event is not a sink: the outcomes are
    # those of every candidate execution checked whole.
    assert set(C11.allowed(program).outcomes) == consistent_outcomes(program)
