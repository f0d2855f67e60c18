"""Properties of the `go` model on random programs (docs/architecture.md, "Properties the models keep"):

- sc ⊆ go: every outcome sequential consistency allows, Go allows (Go is weaker);
- DRF-SC: when go reports no data race, go allows exactly the sc outcomes (go.dev/ref/mem:
  "any Go program that is data-race-free ... can only have outcomes explained by some
  sequentially consistent interleaving").

Both are checked on random programs with plain and atomic locations and every Go primitive.
Derandomized, so a run is reproducible.
"""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stressmm.models import get_model
from stressmm.models.go import GO
from stressmm.program import (Await, Load, Order, Program, Store, Thread, Var, WaitGroup,
                              WgAdd, WgDone, WgWait)
from stressmm.strategies import programs

SC = get_model("sc")

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

MEMORY = programs(threads=(2, 3), ops=(1, 3), locations=2,
                  kinds=("load", "store", "rmw", "fence", "await"), atomic="mixed")
GO_STYLE = programs(threads=(2, 3), ops=(1, 3), locations=2, kinds=("load", "store", "await"),
                    atomic="mixed", sync=True)
PLAIN_SYNC = programs(threads=2, ops=(1, 4), locations=2, kinds=("load", "store", "await"),
                      atomic=False, sync=True)


def check_sc_within_go_and_drf_sc(program):
    go, sc = GO.allowed(program), SC.allowed(program)
    missing = sc.outcomes - go.outcomes
    assert not missing, f"sc allows {sorted(map(str, missing))}, go does not"
    if not go.races:
        extra = go.outcomes - sc.outcomes
        assert not extra, f"race-free, yet go allows non-sc {sorted(map(str, extra))}"


@SETTINGS
@given(MEMORY)
def test_sc_within_go_and_drf_sc_memory_ops(program):
    check_sc_within_go_and_drf_sc(program)


@SETTINGS
@given(GO_STYLE)
def test_sc_within_go_and_drf_sc_go_primitives(program):
    check_sc_within_go_and_drf_sc(program)


@SETTINGS
@given(PLAIN_SYNC)
def test_sc_within_go_and_drf_sc_plain_with_primitives(program):
    check_sc_within_go_and_drf_sc(program)


@SETTINGS
@given(PLAIN_SYNC)
def test_every_allowed_outcome_has_an_explanation(program):
    res = GO.allowed(program)
    outcome = min(res.outcomes)
    explanation = GO.explain(program, outcome)
    assert explanation is not None and explanation.outcome == outcome


SEQ_CST_GO = programs(threads=(2, 3), ops=(1, 3), locations=2,
                      kinds=("load", "store", "rmw", "await"), atomic="mixed",
                      orders=["seq_cst"], sync=True)


@SETTINGS
@given(SEQ_CST_GO)
def test_tso_within_go_for_seq_cst_atomics(program):
    """What the native runtime does on x86 (tso) is allowed by go, for programs whose atomics
    are seq_cst (Go's only kind): fuzzing Go-style programs on x86 raises no false alarm."""
    missing = get_model("tso").allowed(program).outcomes - GO.allowed(program).outcomes
    assert not missing, f"tso allows {sorted(map(str, missing))}, go does not"


WG_BLOCKS = (("add", "signal"), ("add", "done"), ("wait", "load"), ("await", "store", "done"),
             ("add",), ("done",), ("store",))
"""Pieces of waitgroup code (a handoff, a worker, a waiter): a thread is a few in a row."""


@st.composite
def waitgroup_programs(draw):
    """Two threads of wg.Add(1), wg.Done(), wg.Wait(), plain stores and loads of x
    and a handoff flag s, in blocks (`WG_BLOCKS`) in any order: the counter may rise from
    zero several times (a reused WaitGroup), go negative (a panic) or never come back to zero
    (a deadlock)."""
    n = 2
    threads, value = [], 1
    for _ in range(n):
        ops, reg = [], 0
        kinds = [k for block in draw(st.lists(st.sampled_from(WG_BLOCKS), min_size=1,
                                              max_size=3)) for k in block]
        for kind in kinds:
            if kind == "add":
                ops.append(WgAdd("wg", 1))
            elif kind == "done":
                ops.append(WgDone("wg"))
            elif kind == "wait":
                ops.append(WgWait("wg"))
            elif kind == "store":
                ops.append(Store("x", value))
                value += 1
            elif kind == "load":
                ops.append(Load(f"r{reg}", "x"))
                reg += 1
            elif kind == "signal":
                ops.append(Store("s", 1, Order.SEQ_CST))
            else:
                ops.append(Await("s", 1, Order.SEQ_CST))
        threads.append(Thread(tuple(ops)))
    return Program("wg", (Var("x"), Var("s", atomic=True), WaitGroup("wg")), tuple(threads))


@settings(SETTINGS, max_examples=100)
@given(waitgroup_programs())
def test_sc_within_go_and_drf_sc_reused_waitgroups(program):
    """A Done ordered before a Wait in the WaitGroup's order synchronizes with it, whatever
    the counter did in between: race-free waitgroup programs are sequentially consistent."""
    check_sc_within_go_and_drf_sc(program)


def campaign_programs(backend):
    from stressmm.campaign import CampaignConfig, strategies_for

    programs_, _ = strategies_for(CampaignConfig(go=True, threads=3, backend=backend))
    return programs_


@settings(SETTINGS, max_examples=100)
@given(st.one_of(campaign_programs("native"), campaign_programs("go")))
def test_every_go_campaign_program_prints_back_and_is_judged_within_budget(program):
    """What a `fuzz --go` campaign draws (templates, op-by-op programs, lost wake-ups, the
    toolchain shapes) prints as a litmus test that reads back as the same program, and the go
    model judges it without reaching its state limit (StateLimitError) and allows at least
    one outcome, every outcome sequential consistency allows among them."""
    from stressmm.syntax import parse, print_program

    assert parse(print_program(program)) == [program], print_program(program)
    check_sc_within_go_and_drf_sc(program)
    assert GO.allowed(program).outcomes, print_program(program)
