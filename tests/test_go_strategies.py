"""Go-style programs: valid by construction, never stuck under sc, quick for the `go` model,
racy and race-free ones both drawn, DRF-SC on every race-free one, each handoff orders what
it promises, and shrinking ends on message passing over a channel."""
import importlib

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis.errors import InvalidArgument

from stressmm import strategies as mst
from stressmm.models import get_model
from stressmm.program import (
    Await, Chan, Close, Load, Lock, Mutex, Once, OnceDo, Order, Recv, RLock, Rmw, RmwOp, Send,
    Store, Unlock, WaitGroup, WgAdd, WgDone, WgWait,
)
from stressmm.contracts import exercised
from stressmm.syntax import parse, print_program
from finding import FIND

go_module = importlib.import_module("stressmm.strategies.go")
go_programs, GO_MECHANISMS = go_module.go_programs, go_module.GO_MECHANISMS
GO_CONTENTIONS = go_module.GO_CONTENTIONS

SC, GO = get_model("sc"), get_model("go")

MANY = settings(max_examples=150, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=40, derandomize=True, database=None, deadline=None,
               suppress_health_check=[HealthCheck.too_slow])

# Mechanisms that order the destination's read after the source's write (the others, mutex,
# rwmutex and once, exclude each other but either side may go first).
SEQUENCING = ("chan", "atomic", "close", "waitgroup", "chan-sync")


def draw_all(strategy, settings_=MANY) -> list:
    seen = []

    @settings_
    @given(strategy)
    def collect(p):
        seen.append(p)

    collect()
    return seen


@pytest.fixture(scope="module")
def sample():
    return draw_all(go_programs())


def test_programs_are_within_their_knobs_and_print_back(sample):
    for p in sample:
        assert 2 <= len(p.threads) <= 3
        assert parse(print_program(p)) == [p], print_program(p)
        for _, op in p.ops():
            if isinstance(op, (Load, Store, Await, Rmw)) and p.decl(op.loc).atomic:
                assert op.order is Order.SEQ_CST      # Go's atomics are seq_cst
        assert 1 <= p.description.count("->") <= 4            # 1..4 steps, the first a handoff
        assert all(t.ops for t in p.threads)


def test_sc_never_deadlocks_nor_panics_and_go_stays_small(sample):
    # The size of the go model's search, not its time, is asserted: a deterministic bound that
    # keeps fuzzing examples cheap (`stressmm bench --models` measures the time).
    for p in sample:
        flags = {f for o in SC.allowed(p).outcomes for f in o.flags}
        assert not flags & {"deadlock", "panic"}, print_program(p)
        assert GO.allowed(p).states < 20_000, print_program(p)


def test_drf_sc_and_both_kinds_occur(sample):
    racy = 0
    for p in sample:
        go = GO.allowed(p)
        if go.races:
            racy += 1
        else:
            assert go.outcomes == SC.allowed(p).outcomes, print_program(p)
    # about one program in six is racy (a racy handoff is one in four handoffs); the
    # bounds only say both kinds are common, with room for a sample's spread
    assert 0.05 * len(sample) < racy < 0.9 * len(sample), (racy, len(sample))


def test_every_mechanism_and_primitive_occurs():
    sample = draw_all(go_programs(contention=False))
    text = " ".join(p.description for p in sample)
    for mech in GO_MECHANISMS:
        assert f"-{mech}->" in text and f"-{mech} (racy)->" in text, mech
    kinds = {type(op) for p in sample for _, op in p.ops()}
    assert {Send, Recv, Close, Lock, RLock, OnceDo, WgAdd, WgDone, WgWait, Await, Rmw} <= kinds
    decls = {type(d) for p in sample for d in p.decls}
    assert {Chan, Mutex, Once, WaitGroup} <= decls
    assert {d.capacity for p in sample for d in p.decls if isinstance(d, Chan)} == {0, 1, 2}


def test_every_contention_occurs_and_is_race_free():
    sample = draw_all(go_programs(ops=2, racy=False, accesses=False))
    text = " ".join(p.description for p in sample)
    for kind in GO_CONTENTIONS:
        assert f"<-{kind}->" in text, kind
    for p in sample:
        if "<-" in p.description:
            assert not GO.allowed(p).races, print_program(p)


def single(mechanism, racy):
    """One handoff of `mechanism` whose source writes x and whose destination reads x."""
    return [p for p in draw_all(go_programs(ops=1, locations=1, sync=[mechanism], racy=racy),
                                FEW)
            if any(isinstance(op, Store) and op.loc == "x" for _, op in p.ops())]


@pytest.mark.parametrize("mechanism", GO_MECHANISMS)
def test_a_proper_handoff_is_race_free_and_sequencing_ones_pass_the_value(mechanism):
    programs = single(mechanism, racy=False)
    assert programs
    for p in programs:
        go = GO.allowed(p)
        assert not go.races, print_program(p)
        if mechanism in SEQUENCING:
            reader = next(i for i, t in enumerate(p.threads)
                          if any(isinstance(op, Load) and op.loc == "x" for op in t.ops))
            assert {o.reg(reader, "r0") for o in go.outcomes} == {1}, print_program(p)


@pytest.mark.parametrize("mechanism", GO_MECHANISMS)
def test_a_racy_handoff_races(mechanism):
    programs = single(mechanism, racy="always")
    assert programs
    for p in programs:
        assert GO.allowed(p).races, print_program(p)


def reads_of(p, loc):
    """(thread, register) of every plain read of `loc`."""
    return [(t, op.reg) for t, th in enumerate(p.threads) for op in th.ops
            if isinstance(op, Load) and op.loc == loc]


def test_a_once_handoff_with_a_body_per_call_reads_one_body_in_both_threads():
    # each call of Do has a body value of its own and both threads read after Do: the go
    # model allows only outcomes where both read the value of the one body that ran, so a
    # Once that runs two bodies shows (once.exactly-once)
    programs = [p for p in single("once", racy=False) if len(reads_of(p, "x")) == 2]
    assert programs
    for p in programs:
        (t0, r0), (t1, r1) = reads_of(p, "x")
        values = {(o.reg(t0, r0), o.reg(t1, r1)) for o in GO.allowed(p).outcomes}
        assert values == {(1, 1), (2, 2)}, print_program(p)


def test_a_waitgroup_handoff_can_start_its_counter_above_one():
    # wg.Add(1 + k) and k Dones before the write: Wait must wait for the last Done, and Add
    # gets a delta beyond one (waitgroup.wait-until-zero, waitgroup.add-delta)
    programs = [p for p in single("waitgroup", racy=False)
                if any(isinstance(op, WgAdd) and op.delta > 1 for _, op in p.ops())]
    assert programs
    for p in programs:
        (reader, reg), = reads_of(p, "x")
        assert {o.reg(reader, reg) for o in GO.allowed(p).outcomes} == {1}, print_program(p)
        assert "waitgroup.add-delta" in exercised(p)


def test_contentions_reach_a_writer_waiting_for_two_readers_and_negative_deltas():
    # the writer of an rwmutex-reader contention may first read under RLock (two readers
    # hold the lock, the writer must wait for both), and an Add contention may subtract
    def one(sync, pred):
        return find(go_programs(ops=1, sync=sync, racy=False, accesses=False), pred,
                    settings=FIND)

    p = one(["rwmutex"], lambda p: "rwmutex.writer-waits-for-readers" in exercised(p))
    assert not GO.allowed(p).races and p.description == "P0 <-rwmutex-reader-> P1"
    p = one(["atomic"], lambda p: any(isinstance(op, Rmw) and op.op is RmwOp.ADD
                                      and op.operand < 0 for _, op in p.ops()))
    assert p.description == "P0 <-atomic-> P1"
    p = one(["atomic"], lambda p: "atomic.sc" in exercised(p))
    assert p.description == "P0 <-atomic-sb-> P1"


def test_an_atomic_add_access_may_subtract():
    p = find(go_programs(accesses=["atomic-add"]),
             lambda p: any(isinstance(op, Rmw) and op.loc == "a" and op.operand < 0
                           for _, op in p.ops()), settings=FIND)
    assert "atomic.add-delta" in exercised(p)


# ---------------------------------------------------------------- shrinking


def test_the_minimal_program_is_message_passing_over_a_channel():
    p = find(go_programs(), lambda p: True, settings=FIND)
    assert p.description == "P0 -chan-> P1"
    assert [[type(op) for op in t.ops] for t in p.threads] == [[Store, Send], [Recv, Load]]
    assert p.decl("c0").capacity == 0


def test_the_minimal_racy_program_is_tiny():
    p = find(go_programs(threads=(2, 3)), lambda p: bool(GO.allowed(p).races), settings=FIND)
    assert len(p.threads) == 2 and p.size <= 4
    assert "(racy)" in p.description


def test_a_chain_of_three_threads_shrinks_to_two_channel_handoffs():
    p = find(go_programs(threads=(2, 3)), lambda p: len(p.threads) == 3, settings=FIND)
    assert p.description == "P0 -chan-> P1; P1 -chan-> P2"
    assert not GO.allowed(p).races


# ---------------------------------------------------------------- knobs


@FEW
@given(go_programs(sync=["mutex"], accesses=False, racy=False, threads=2, ops=(2, 3)))
def test_sync_and_accesses_knobs(p):
    assert {type(op) for _, op in p.ops()} <= {Lock, Unlock, Load, Store}
    assert not GO.allowed(p).races


@FEW
@given(go_programs(accesses=["atomic-add"], condition=True, name="fuzz"))
def test_condition_and_name_knobs(p):
    assert p.name == "fuzz" and p.condition is not None
    assert not any(isinstance(op, Load) and op.loc == "a" for _, op in p.ops())


@pytest.mark.parametrize("knobs, words", [
    (dict(threads=1), "threads=1"),
    (dict(ops=0), "ops=0"),
    (dict(sync=["spinlock"]), "spinlock"),
    (dict(accesses=["fence"]), "fence"),
    (dict(racy="often"), "racy="),
    (dict(condition="yes"), "condition="),
    (dict(name=""), "name="),
])
def test_bad_knobs_are_refused_at_once(knobs, words):
    with pytest.raises(InvalidArgument, match=words):
        go_programs(**knobs)


def test_exported_from_the_package():
    assert mst.go_programs is go_programs and mst.GO_MECHANISMS == GO_MECHANISMS
