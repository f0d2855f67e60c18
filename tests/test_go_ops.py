"""Go programs drawn op by op over shared primitives (strategies/go_ops.py): valid by
construction and printable, sections always closed, distinct values per object, bounded
model searches, the knobs checked at once, and exported (the doctests run from the module)."""
import importlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import InvalidArgument

from stressmm import strategies as mst
from stressmm.models import get_model
from stressmm.program import Lock, Order, RLock, RUnlock, Rmw, Send, Store, Unlock
from stressmm.syntax import parse, print_program

go_ops = importlib.import_module("stressmm.strategies.go_ops")
MANY = settings(max_examples=150, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def sample():
    seen = []

    @MANY
    @given(go_ops.go_op_programs(threads=(2, 3), ops=(1, 5)))
    def collect(p):
        seen.append(p)

    collect()
    return seen


def test_programs_print_back_and_close_every_section(sample):
    for p in sample:
        assert 2 <= len(p.threads) <= 3
        assert parse(print_program(p)) == [p], print_program(p)
        for t in p.threads:
            locks = [type(op) for op in t.ops if isinstance(op, (Lock, Unlock, RLock, RUnlock))]
            assert locks.count(Lock) == locks.count(Unlock)
            assert locks.count(RLock) == locks.count(RUnlock)


def test_each_send_and_store_writes_a_value_of_its_own(sample):
    for p in sample:
        sent = [op.value for _, op in p.ops() if isinstance(op, Send)]
        assert len(sent) == len(set(sent))
        plain = [(op.loc, op.value) for _, op in p.ops()
                 if isinstance(op, Store) and op.order is None]
        assert len(plain) == len(set(plain))


def test_atomics_are_seq_cst_with_operands_beyond_one(sample):
    rmws = [op for p in sample for _, op in p.ops() if isinstance(op, Rmw)]
    assert all(op.order is Order.SEQ_CST for op in rmws)
    assert {op.operand for op in rmws} - {1}


def test_the_go_model_stays_small_and_judges_deadlocks_and_panics(sample):
    flags = set()
    for p in sample:
        res = get_model("go").allowed(p)
        assert res.states < 50_000, print_program(p)
        flags |= {f for o in res.outcomes for f in o.flags}
    assert {"deadlock", "panic"} <= flags      # such programs are drawn, and judged


@pytest.mark.parametrize("knobs,words", [
    (dict(threads=0), "threads=0"),
    (dict(threads=9), "threads=9"),
    (dict(ops=0), "ops=0"),
    (dict(items=["spin"]), "items="),
    (dict(items=[]), "items="),
    (dict(name="a b"), "name="),
])
def test_bad_knobs_are_refused_at_once(knobs, words):
    with pytest.raises(InvalidArgument, match=words):
        go_ops.go_op_programs(**knobs)


def test_the_items_knob_limits_the_ops(sample):
    @MANY
    @given(go_ops.go_op_programs(items=["wg-add", "wg-done", "wg-wait"]))
    def only_waitgroups(p):
        assert {d.name for d in p.decls} <= {"wg"}

    only_waitgroups()


def test_build_refuses_an_unknown_item():
    with pytest.raises(ValueError, match="unknown item 'spin'"):
        go_ops.build([[("spin", 0)]])


def test_exported_from_the_package():
    # (its docstrings' examples run as doctests of strategies/go_ops.py: pytest --doctest-modules)
    assert mst.go_op_programs is go_ops.go_op_programs and mst.GO_ITEMS == go_ops.GO_ITEMS


def test_groups_are_drawn_in_proportion_to_the_clauses_they_exercise(sample):
    # channels and close carry ten clauses of docs/contracts.md, a mutex two: channel
    # programs come up far more often, so each clause gets about the same share
    def uses(p, kinds):
        return any(isinstance(op, kinds) for _, op in p.ops())

    from stressmm.program import Close, Recv

    chan = sum(uses(p, (Send, Recv, Close)) for p in sample)
    mutex = sum(any(isinstance(op, Lock) and op.mutex == "mu" for _, op in p.ops())
                for p in sample)
    assert chan >= 2 * mutex, (chan, mutex)


def test_a_thread_sends_and_receives_several_values_in_a_row(sample):
    # the shapes of FIFO order and of a full buffer: two sends (or receives) back to back
    texts = [print_program(p) for p in sample]
    assert any("c <- 1\n  c <- 2" in t for t in texts)
    assert any("= <-c\n  r1 = <-c" in t for t in texts)
