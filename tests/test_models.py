"""The sc and tso reference models on the classic litmus shapes and the Go primitives.

Verdicts for the classic shapes are the published ones: Lamport's SC, and x86-TSO as in Sewell
et al., "x86-TSO: A Rigorous and Usable Programmer's Model for x86 Multiprocessors" (CACM
2010), which agree with the memory-ordering examples of the Intel SDM vol. 3A (a load may
pass an earlier store to another location, as in SB and R; MP, LB, IRIW, 2+2W, S, WRC and the coherence shapes are forbidden).
"""
import pytest

from stressmm.models import (MODELS, Explanation, ModelResult, StateLimitError,
                             UnknownModelError, get_model)
from stressmm.outcome import Outcome, Pattern, PatternError
from stressmm.program import (Await, Chan, Close, Fence, Load, Lock, Mutex, Once, OnceDo, Order,
                              Program, RLock, RUnlock, Recv, Rmw, RmwOp, Send, Store, Thread,
                              Unlock, Var, WaitGroup, WgAdd, WgDone, WgWait)

SC, TSO = get_model("sc"), get_model("tso")
X, Y = Var("x"), Var("y")
SEQ = Order.SEQ_CST


def prog(name, decls, *threads):
    return Program(name, tuple(decls), tuple(Thread(tuple(t)) for t in threads))


def allows(model, program, pattern):
    return model.allowed(program).allows(pattern)


def outcomes(model, program):
    return sorted(str(o) for o in model.allowed(program).outcomes)


# ---------------------------------------------------------------- the classic shapes

SB = prog("SB", [X, Y], [Store("x", 1), Load("r0", "y")], [Store("y", 1), Load("r1", "x")])
MP = prog("MP", [X, Y], [Store("x", 1), Store("y", 1)], [Load("r0", "y"), Load("r1", "x")])
LB = prog("LB", [X, Y], [Load("r0", "x"), Store("y", 1)], [Load("r1", "y"), Store("x", 1)])
IRIW = prog("IRIW", [X, Y], [Store("x", 1)], [Store("y", 1)],
            [Load("r0", "x"), Load("r1", "y")], [Load("r2", "y"), Load("r3", "x")])
W22 = prog("2+2W", [X, Y], [Store("x", 1), Store("y", 2)], [Store("y", 1), Store("x", 2)])
R = prog("R", [X, Y], [Store("x", 1), Store("y", 1)], [Store("y", 2), Load("r0", "x")])
S = prog("S", [X, Y], [Store("x", 2), Store("y", 1)], [Load("r0", "y"), Store("x", 1)])
WRC = prog("WRC", [X, Y], [Store("x", 1)], [Load("r0", "x"), Store("y", 1)],
           [Load("r1", "y"), Load("r2", "x")])
CORR = prog("CoRR", [X], [Store("x", 1)], [Load("r0", "x"), Load("r1", "x")])
COWW = prog("CoWW", [X], [Store("x", 1), Store("x", 2)])
SB_MFENCES = prog("SB+mfences", [X, Y], [Store("x", 1), Fence(SEQ), Load("r0", "y")],
                  [Store("y", 1), Fence(SEQ), Load("r1", "x")])
A, B = Var("a", atomic=True), Var("b", atomic=True)
SB_SC = prog("SB+sc", [A, B], [Store("a", 1, SEQ), Load("r0", "b", SEQ)],
             [Store("b", 1, SEQ), Load("r1", "a", SEQ)])

CLASSICS = [
    # (program, weak outcome, sc allows it, tso allows it)
    (SB, "P0:r0=0 P1:r1=0", False, True),
    (R, "P1:r0=0 y=2", False, True),
    (MP, "P1:r0=1 P1:r1=0", False, False),
    (LB, "P0:r0=1 P1:r1=1", False, False),
    (IRIW, "P2:r0=1 P2:r1=0 P3:r2=1 P3:r3=0", False, False),
    (W22, "x=1 y=1", False, False),
    (S, "P1:r0=1 x=2", False, False),
    (WRC, "P1:r0=1 P2:r1=1 P2:r2=0", False, False),
    (CORR, "P1:r0=1 P1:r1=0", False, False),
    (COWW, "x=1", False, False),
    (SB_MFENCES, "P0:r0=0 P1:r1=0", False, False),
    (SB_SC, "P0:r0=0 P1:r1=0", False, False),
]


@pytest.mark.parametrize("program,weak,sc,tso", CLASSICS, ids=[c[0].name for c in CLASSICS])
def test_classic_verdicts(program, weak, sc, tso):
    assert allows(SC, program, weak) is sc
    assert allows(TSO, program, weak) is tso


@pytest.mark.parametrize("program,weak,sc,tso", CLASSICS, ids=[c[0].name for c in CLASSICS])
def test_explain_gives_a_witness_exactly_when_allowed(program, weak, sc, tso):
    for model, verdict in ((SC, sc), (TSO, tso)):
        explanation = model.explain(program, Pattern.parse(weak))
        if not verdict:
            assert explanation is None
            continue
        assert isinstance(explanation, Explanation)
        assert Pattern.parse(weak).matches(explanation.outcome)
        assert explanation.outcome in model.allowed(program).outcomes
        text = str(explanation)
        assert text.splitlines()[1].strip().startswith("1. ")
        assert len(text.splitlines()) == len(explanation.steps) + 1


@pytest.mark.parametrize("program", [c[0] for c in CLASSICS], ids=[c[0].name for c in CLASSICS])
def test_sc_outcomes_are_tso_outcomes_and_reduction_is_exact(program):
    sc, tso = SC.allowed(program).outcomes, TSO.allowed(program).outcomes
    assert sc <= tso
    assert SC.unreduced().allowed(program).outcomes == sc
    assert TSO.unreduced().allowed(program).outcomes == tso


def test_sb_full_outcome_sets():
    assert outcomes(SC, SB) == ["P0:r0=0 P1:r1=1 x=1 y=1", "P0:r0=1 P1:r1=0 x=1 y=1",
                                "P0:r0=1 P1:r1=1 x=1 y=1"]
    assert outcomes(TSO, SB) == ["P0:r0=0 P1:r1=0 x=1 y=1"] + outcomes(SC, SB)


def test_tso_witness_shows_buffer_flushes():
    text = str(TSO.explain(SB, "P0:r0=0 P1:r1=0"))
    assert "P0: x = 1  (into P0's store buffer)" in text
    assert "P0 flushes x=1 to memory" in text
    assert "reads 0 from memory" in text
    assert text.startswith("SB: P0:r0=0 P1:r1=0 x=1 y=1 is allowed by tso:")


def test_tso_load_reads_own_buffer_first():
    p = prog("own", [X], [Store("x", 1), Load("r0", "x")], [Store("x", 2)])
    assert allows(TSO, p, "P0:r0=1 x=2")           # P0 reads its own store, memory says 2 later
    assert not allows(TSO, p, "P0:r0=0")
    text = str(TSO.explain(p, "P0:r0=1"))
    assert "from P0's own store buffer" in text


@pytest.mark.parametrize("order,tso_weak", [
    (Order.RELAXED, True), (Order.RELEASE, True), (Order.SEQ_CST, False)])
def test_tso_store_orders(order, tso_weak):
    # Only seq_cst stores (xchg) drain; release/relaxed stores are plain movs.
    load_order = Order.ACQUIRE if order is Order.RELEASE else order
    p = prog("SB+" + order.value, [A, B], [Store("a", 1, order), Load("r0", "b", load_order)],
             [Store("b", 1, order), Load("r1", "a", load_order)])
    assert allows(TSO, p, "P0:r0=0 P1:r1=0") is tso_weak
    assert not allows(SC, p, "P0:r0=0 P1:r1=0")


@pytest.mark.parametrize("fence,tso_weak", [
    (Order.ACQUIRE, True), (Order.RELEASE, True), (Order.ACQ_REL, True), (Order.SEQ_CST, False)])
def test_only_seq_cst_fence_is_mfence(fence, tso_weak):
    p = prog("SB+f", [X, Y], [Store("x", 1), Fence(fence), Load("r0", "y")],
             [Store("y", 1), Fence(fence), Load("r1", "x")])
    assert allows(TSO, p, "P0:r0=0 P1:r1=0") is tso_weak


@pytest.mark.parametrize("kind", [RmwOp.ADD, RmwOp.SWAP, RmwOp.CAS])
def test_locked_rmw_drains_the_buffer(kind):
    expected = 0 if kind is RmwOp.CAS else None
    p = prog("SB+rmw", [A, B, X, Y],
             [Store("x", 1), Rmw(None, "a", kind, 1, expected, Order.RELAXED), Load("r0", "y")],
             [Store("y", 1), Rmw(None, "b", kind, 1, expected, Order.RELAXED), Load("r1", "x")])
    assert not allows(TSO, p, "P0:r0=0 P1:r1=0")


def test_rmw_results():
    p = prog("rmw", [A, B, Var("c", atomic=True, init=5)],
             [Rmw("r0", "a", RmwOp.ADD, 3), Rmw("r1", "b", RmwOp.SWAP, 7),
              Rmw("r2", "c", RmwOp.CAS, 9, 5), Rmw("r3", "c", RmwOp.CAS, 1, 5)])
    for model in (SC, TSO):
        assert outcomes(model, p) == ["P0:r0=3 P0:r1=0 P0:r2=1 P0:r3=0 a=3 b=7 c=9"]


def test_rmw_atomicity_two_increments():
    p = prog("inc", [A], [Rmw("r0", "a", RmwOp.ADD, 1)], [Rmw("r1", "a", RmwOp.ADD, 1)])
    for model in (SC, TSO):
        assert {o.memory("a") for o in model.allowed(p).outcomes} == {2}


def test_plain_increments_can_be_lost():
    p = prog("inc", [X], [Load("r0", "x"), Store("x", "r0")], [Load("r1", "x"), Store("x", 1)])
    assert allows(SC, p, "x=0")


# ---------------------------------------------------------------- Go primitives


def test_mp_with_mutex():
    mu = Mutex("mu")
    p = prog("MP+mutex", [X, Y, mu],
             [Lock("mu"), Store("x", 1), Store("y", 1), Unlock("mu")],
             [Lock("mu"), Load("r0", "y"), Load("r1", "x"), Unlock("mu")])
    for model in (SC, TSO):
        assert outcomes(model, p) == ["P1:r0=0 P1:r1=0 x=1 y=1", "P1:r0=1 P1:r1=1 x=1 y=1"]


def test_sb_with_mutex_forbids_the_weak_outcome():
    p = prog("SB+mutex", [X, Y, Mutex("mu")],
             [Lock("mu"), Store("x", 1), Unlock("mu"), Lock("mu"), Load("r0", "y"), Unlock("mu")],
             [Lock("mu"), Store("y", 1), Unlock("mu"), Lock("mu"), Load("r1", "x"), Unlock("mu")])
    assert not allows(TSO, p, "P0:r0=0 P1:r1=0")


def test_rwmutex_readers_share_and_writers_exclude():
    handoff = [Chan("c", 0)]
    readers = prog("readers", [Mutex("rw", rw=True)] + handoff,
                   [RLock("rw"), Send("c", 1), RUnlock("rw")],
                   [RLock("rw"), Recv("c", "r0"), RUnlock("rw")])
    writers = prog("writers", [Mutex("rw", rw=True)] + handoff,
                   [RLock("rw"), Send("c", 1), RUnlock("rw")],
                   [Lock("rw"), Recv("c", "r0"), Unlock("rw")])
    for model in (SC, TSO):
        assert outcomes(model, readers) == ["P1:r0=1"]
        assert outcomes(model, writers) == ["deadlock"]


def rwmutex_writer_preference():
    """A reader P0 waits for P2, which needs a read lock while P1 waits to write."""
    return prog("writer-preference", [Mutex("rw", rw=True), Chan("c", 0)],
                [RLock("rw"), Recv("c", "r0"), RUnlock("rw")],
                [Lock("rw"), Unlock("rw")],
                [RLock("rw"), Send("c", 1), RUnlock("rw")])


def test_rwmutex_writer_preference_may_deadlock_and_may_not():
    # pkg.go.dev/sync#RWMutex: a Lock waiting for readers blocks new RLocks (Go deadlocks
    # here); a runtime without writer preference lets P2 in and finishes.
    p = rwmutex_writer_preference()
    for model in (SC, TSO):
        assert outcomes(model, p) == ["P0:r0=1", "deadlock"]


def test_rwmutex_writer_preference_is_explained():
    explanation = SC.explain(rwmutex_writer_preference(), Pattern.parse("deadlock"))
    assert "P1: rw.Lock()  waits for the readers; new RLocks now block" in str(explanation)


def test_a_mutex_unlocked_by_another_thread_orders_the_sections():
    # pkg.go.dev/sync#Mutex.Unlock: one goroutine may lock a Mutex and another unlock it.
    p = prog("unlock-elsewhere", [X, Mutex("mu"), Chan("c", 0)],
             [Lock("mu"), Store("x", 1), Send("c", 1)],
             [Recv("c", "r0"), Unlock("mu")],
             [Lock("mu"), Load("r1", "x"), Store("x", 2), Unlock("mu")])
    for model in (SC, TSO):
        assert outcomes(model, p) == ["P1:r0=1 P2:r1=0 x=1", "P1:r0=1 P2:r1=1 x=2"]


def test_an_unlock_that_may_find_the_mutex_unlocked_may_panic():
    # Go: "fatal error: sync: unlock of unlocked mutex" when P0 unlocks before P1 locks.
    p = prog("early-unlock", [Mutex("mu")], [Unlock("mu")], [Lock("mu")])
    for model in (SC, TSO):
        assert outcomes(model, p) == ["(empty)", "panic"]


def read_lock_twice(writer: bool):
    """P0 read-locks rw twice; with `writer`, P1 calls Lock after P0's first RLock."""
    return prog("rlock-twice", [Mutex("rw", rw=True), Chan("c", 0)],
                [RLock("rw"), Send("c", 1), RLock("rw"), RUnlock("rw"), RUnlock("rw")],
                [Recv("c", "r0")] + ([Lock("rw"), Unlock("rw")] if writer else []))


def test_read_locking_twice_deadlocks_only_behind_a_waiting_writer():
    # pkg.go.dev/sync#RWMutex: a blocked Lock call excludes new readers, P0's second RLock too.
    for model in (SC, TSO):
        assert outcomes(model, read_lock_twice(writer=True)) == ["P1:r0=1", "deadlock"]
        assert outcomes(model, read_lock_twice(writer=False)) == ["P1:r0=1"]


def test_buffered_channel_handoff_publishes():
    p = prog("handoff", [X, Chan("c", 1)], [Store("x", 1), Send("c", 7)],
             [Recv("c", "r0"), Load("r1", "x")])
    for model in (SC, TSO):
        assert outcomes(model, p) == ["P1:r0=7 P1:r1=1 x=1"]


def test_buffered_channel_is_fifo_and_bounded():
    p = prog("fifo", [Chan("c", 2)], [Send("c", 1), Send("c", 2), Send("c", 3)],
             [Recv("c", "r0"), Recv("c", "r1"), Recv("c", "r2")])
    for model in (SC, TSO):
        assert outcomes(model, p) == ["P1:r0=1 P1:r1=2 P1:r2=3"]
    full = prog("full", [Chan("c", 1)], [Send("c", 1), Send("c", 2)])
    assert outcomes(SC, full) == ["deadlock"]


def test_unbuffered_rendezvous():
    # The receive completes before the send does: P1's load after the send sees x = 1.
    rendezvous = prog("rendezvous", [X, Chan("c", 0)], [Store("x", 1), Recv("c")],
                      [Send("c", 1), Load("r0", "x")])
    buffered = prog("buffered", [X, Chan("c", 1)], [Store("x", 1), Recv("c")],
                    [Send("c", 1), Load("r0", "x")])
    for model in (SC, TSO):
        assert outcomes(model, rendezvous) == ["P1:r0=1 x=1"]
        assert allows(model, buffered, "P1:r0=0")
    text = str(SC.explain(rendezvous, "P1:r0=1"))
    assert "P1: c <- 1  meets  P0: <-c  (rendezvous: P0 receives a value (discarded))" in text


def test_unbuffered_send_without_receiver_deadlocks():
    p = prog("lonely", [Chan("c", 0)], [Send("c", 1)])
    assert outcomes(SC, p) == outcomes(TSO, p) == ["deadlock"]


def test_close_semantics():
    p = prog("close", [Chan("c", 1)], [Send("c", 5), Close("c")],
             [Recv("c", "r0", "ok0"), Recv("c", "r1", "ok1")])
    for model in (SC, TSO):
        assert outcomes(model, p) == ["P1:ok0=1 P1:ok1=0 P1:r0=5 P1:r1=0"]
    unbuffered = prog("close0", [Chan("c", 0)], [Close("c")], [Recv("c", "r0", "ok")])
    assert outcomes(SC, unbuffered) == ["P1:ok=0 P1:r0=0"]


def test_send_on_closed_channel_panics():
    p = prog("send-closed", [Chan("c", 1)], [Close("c")], [Send("c", 1)])
    for model in (SC, TSO):
        # close first: the send panics; send first (room in the buffer), then close: no panic
        assert outcomes(model, p) == ["(empty)", "panic"]
    unbuffered = prog("send-closed0", [Chan("c", 0)], [Close("c")], [Send("c", 1)])
    assert outcomes(SC, unbuffered) == ["panic"]
    assert "panics: send on closed channel" in str(SC.explain(unbuffered, "panic"))


def test_double_close_panics():
    p = prog("double-close", [Chan("c", 0)], [Close("c")], [Close("c")])
    for model in (SC, TSO):
        assert model.allowed(p).outcomes == frozenset({Outcome.flagged("panic")})
    text = str(SC.explain(p, "panic"))
    assert "panics: close of closed channel" in text


def test_once_runs_the_body_once_and_others_wait():
    p = prog("once", [X, Once("o")], [OnceDo("o", (Store("x", 1),)), Load("r0", "x")],
             [OnceDo("o", (Store("x", 2),)), Load("r1", "x")])
    for model in (SC, TSO):
        assert outcomes(model, p) == ["P0:r0=1 P1:r1=1 x=1", "P0:r0=2 P1:r1=2 x=2"]


def test_registers_of_a_skipped_once_body_are_in_the_outcome():
    p = prog("once-regs", [X, Once("o")], [OnceDo("o", (Load("r0", "x"),))],
             [OnceDo("o", (Load("r1", "x"),))])
    assert outcomes(SC, p) == ["P0:r0=0 P1:r1=0 x=0"]


def test_waitgroup_wait_blocks_until_zero():
    p = prog("wg", [X, WaitGroup("wg"), Chan("c", 0)],
             [WgAdd("wg", 1), Send("c", 0), WgWait("wg"), Load("r0", "x")],
             [Recv("c"), Store("x", 1), WgDone("wg")])
    for model in (SC, TSO):
        assert outcomes(model, p) == ["P0:r0=1 x=1"]


def test_waitgroup_negative_counter_panics():
    p = prog("wg-neg", [WaitGroup("wg")], [WgDone("wg")])
    assert outcomes(SC, p) == outcomes(TSO, p) == ["panic"]
    assert "negative WaitGroup counter" in str(TSO.explain(p, "panic"))


def test_deadlock_detection():
    lonely = prog("recv", [Chan("c", 0)], [Recv("c", "r0")])
    assert outcomes(SC, lonely) == outcomes(TSO, lonely) == ["deadlock"]
    abba = prog("ABBA", [Mutex("a"), Mutex("b"), X],
                [Lock("a"), Lock("b"), Store("x", 1), Unlock("b"), Unlock("a")],
                [Lock("b"), Lock("a"), Store("x", 2), Unlock("a"), Unlock("b")])
    for model in (SC, TSO):
        assert outcomes(model, abba) == ["deadlock", "x=1", "x=2"]
        explanation = model.explain(abba, "deadlock")
        assert explanation.outcome == Outcome.flagged("deadlock")


def test_await():
    p = prog("MP+await", [X, Y], [Store("x", 1), Store("y", 1)],
             [Await("y", 1), Load("r0", "x")])
    for model in (SC, TSO):
        assert outcomes(model, p) == ["P1:r0=1 x=1 y=1"]
    never = prog("await-never", [X], [Await("x", 1)])
    assert outcomes(SC, never) == ["deadlock"]
    spin_while = prog("await-while", [X], [Store("x", 3)], [Await("x", 0, until_equal=False),
                                                             Load("r0", "x")])
    assert outcomes(TSO, spin_while) == ["P1:r0=3 x=3"]


# ---------------------------------------------------------------- interface


def test_registry_and_unknown_model():
    assert set(MODELS) >= {"sc", "tso"}
    for name, model in MODELS.items():
        assert model.name == name and model.description and "\n" not in model.description
    with pytest.raises(UnknownModelError) as err:
        get_model("arm")
    assert isinstance(err.value, KeyError)
    assert "sc" in str(err.value) and "tso" in str(err.value) and "'arm'" in str(err.value)


def test_model_result_shape_and_cache():
    result = TSO.allowed(SB)
    assert isinstance(result, ModelResult)
    assert isinstance(result.outcomes, frozenset) and result.races == ()
    assert result.states > 0 and result.elapsed >= 0
    assert TSO.allowed(SB) is result
    with pytest.raises(AttributeError):
        result.states = 0  # frozen


def test_state_limit_raises_instead_of_returning_a_partial_set():
    with pytest.raises(StateLimitError) as err:
        TSO.with_max_states(5).allowed(IRIW)
    assert "IRIW under tso" in str(err.value) and "with_max_states" in str(err.value)


def test_explain_rejects_patterns_naming_missing_registers():
    with pytest.raises(PatternError):
        SC.explain(SB, "P0:r9=0")


def test_explain_accepts_conditions_and_outcomes():
    from stressmm.program import And, Cmp, Condition, RegRef
    cond = Condition(And((Cmp(RegRef(0, "r0"), 0), Cmp(RegRef(1, "r1"), 0))))
    assert TSO.explain(SB, cond) is not None and SC.explain(SB, cond) is None
    outcome = min(SC.allowed(SB).outcomes)
    assert SC.explain(SB, outcome).outcome == outcome
    assert TSO.allowed(SB).allows(cond) and not SC.allowed(SB).allows(cond)


@pytest.mark.parametrize("name", ["sc", "tso", "go"])
def test_models_reject_non_programs(name):
    from stressmm.models import get_model

    with pytest.raises(TypeError, match="Program"):
        get_model(name).allowed("x = 1")


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_shows_a_witness_or_says_why_it_forbids(model):
    from stressmm.check import explain_outcome

    p = Program("one", (Var("x", atomic=True),),
                (Thread((Store("x", 1, SEQ),)), Thread((Load("r0", "x", SEQ),))))
    assert explain_outcome(p, "P1:r0=1", model).witness.outcome.reg(1, "r0") == 1
    said = explain_outcome(p, "P1:r0=7", model)
    assert not said.allowed and said.text.startswith(f"one: P1:r0=7 is forbidden by {model}")
