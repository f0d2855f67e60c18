"""The Hypothesis strategies: every program they draw is valid and within its knobs, bad knobs
are refused at once, and shrinking ends on the classic minimal shapes (SB, message passing,
no schedule delays)."""

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from stressmm import strategies as mst
from stressmm.program import (
    FENCE_ORDERS, LOAD_ORDERS, RMW_ORDERS, STORE_ORDERS, And, Await, Chan, Close, Cmp, Condition,
    Fence, Load, Lock, Mutex, Once, OnceDo, Order, Program, Recv, RegRef, RLock, RUnlock, Rmw,
    RmwOp, Send, Store, Thread, Unlock, Var, WaitGroup, WgAdd, WgDone, WgWait,
)
from stressmm.schedule import MAX_DELAY, Schedule
from finding import FIND

# Deterministic runs: the same examples and the same shrinks every time.
FAST = settings(max_examples=40, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

SC = Order.SEQ_CST


def minimal(strategy, condition):
    return find(strategy, condition, settings=FIND)


# ---------------------------------------------------------------- what a drawn program obeys

KINDS_OF = {Load: "load", Store: "store", Rmw: "rmw", Fence: "fence", Await: "await"}
PRIMITIVE_OF = {Lock: ("mutex", "rwmutex"), Unlock: ("mutex", "rwmutex"),
                RLock: ("rwmutex",), RUnlock: ("rwmutex",), Send: ("chan",), Recv: ("chan",),
                Close: ("chan",), OnceDo: ("once",), WgAdd: ("waitgroup",),
                WgDone: ("waitgroup",), WgWait: ("waitgroup",)}
VALID_ORDERS = {"load": LOAD_ORDERS, "store": STORE_ORDERS, "rmw": RMW_ORDERS,
                "fence": FENCE_ORDERS, "await": LOAD_ORDERS}
DEFAULTS = dict(threads=(2, 3), ops=(1, 4), locations=2, kinds=("load", "store", "rmw", "fence"),
                orders=None, values=(0, 2), atomic=True, sync=False, condition=False)


def span(knob):
    return (knob, knob) if isinstance(knob, int) else tuple(knob)


def steps(thread):
    """A thread's steps: a lock section counts once, as `programs(ops=...)` says."""
    count, inside = 0, False
    for op in thread.ops:
        if isinstance(op, (Lock, RLock)):
            count, inside = count + 1, True
        elif isinstance(op, (Unlock, RUnlock)):
            inside = False
        elif not inside:
            count += 1
    return count


def assert_within(program, **given_knobs):
    knobs = dict(DEFAULTS, **given_knobs)
    sync = ({"mutex", "rwmutex", "chan", "once", "waitgroup"} if knobs["sync"] is True
            else set(knobs["sync"] or ()))
    assert isinstance(program, Program)
    lo, hi = span(knobs["threads"])
    assert lo <= len(program.threads) <= hi
    lo, hi = span(knobs["ops"])
    assert all(lo <= steps(t) <= hi for t in program.threads)
    # locations: a prefix-ordered subset of x, y, ..., only those used, atomic as asked
    names = [v.name for v in program.vars]
    assert len(names) <= span(knobs["locations"])[1]
    assert names == [n for n in mst.LOCATION_NAMES if n in names]
    if knobs["atomic"] != "mixed":
        assert all(v.atomic is knobs["atomic"] for v in program.vars)
    used = {getattr(op, a) for _, op in program.ops()
            for a in ("loc", "mutex", "chan", "once", "wg") if hasattr(op, a)}
    assert {d.name for d in program.decls} == used
    # ops: kinds, orders, values
    store_lo, store_hi = span(knobs["values"])
    store_lo = max(store_lo, 1) if store_hi >= 1 else store_lo
    allowed = set(VALID_ORDERS["rmw"] if knobs["orders"] is None else map(Order, knobs["orders"]))
    for _, op in program.ops():
        if type(op) in KINDS_OF:
            kind = KINDS_OF[type(op)]
            assert kind in knobs["kinds"]
            loc = program.decl(op.loc) if not isinstance(op, Fence) else None
            if loc is None or loc.atomic:
                assert op.order in VALID_ORDERS[kind] and op.order in allowed
            else:
                assert op.order is None
        else:
            assert set(PRIMITIVE_OF[type(op)]) & sync
        if isinstance(op, (Store, Send)) or (isinstance(op, Rmw)):
            value = op.operand if isinstance(op, Rmw) else op.value
            assert store_lo <= value <= store_hi
        if isinstance(op, Rmw) and op.op is RmwOp.CAS:
            assert span(knobs["values"])[0] <= op.expected <= span(knobs["values"])[1]
    # registers: r0, r1, ... per thread, in program order
    for t in range(len(program.threads)):
        regs = program.registers(t)
        assert regs == tuple(f"r{i}" for i in range(len(regs)))
    # condition: present when asked and possible, over existing registers or locations
    if knobs["condition"] and (any(program.registers(t) for t in range(len(program.threads)))
                               or program.vars):
        assert program.condition is not None
        expr = program.condition.expr
        items = expr.items if isinstance(expr, And) else (expr,)
        assert all(isinstance(c, Cmp) for c in items)
        assert len({c.lhs for c in items}) == len(items)
        lo, hi = span(knobs["values"])
        assert all(lo <= c.value <= hi for c in items)
    elif not knobs["condition"]:
        assert program.condition is None


KNOB_SETS = [
    {},
    dict(threads=2, ops=3, orders=["seq_cst"]),
    dict(threads=(1, 4), ops=(1, 2), locations=(1, 4), kinds=mst.MEMORY_KINDS, atomic="mixed"),
    dict(kinds=("load", "store"), atomic=False),
    dict(orders=["relaxed"], kinds=mst.MEMORY_KINDS),          # no fence can be relaxed
    dict(orders=["acquire", "release"], kinds=("load", "store", "fence"), atomic="mixed"),
    dict(values=(0, 5), kinds=("store", "rmw"), condition=True),
    dict(values=0, kinds=("store", "rmw"), condition=True),
    dict(kinds=mst.MEMORY_KINDS, atomic="mixed", sync=True, condition=True),
    dict(kinds=("load",), sync=["mutex", "chan"], ops=(2, 3)),
    dict(kinds=(), sync=["rwmutex", "once", "waitgroup"]),
    dict(kinds=("fence",), condition=True, threads=1, ops=1),
]


def knobs_id(knobs):
    return ",".join(f"{a}={v}" for a, v in knobs.items()) or "defaults"


@pytest.mark.parametrize("knobs", KNOB_SETS, ids=knobs_id)
@FAST
@given(data=st.data())
def test_every_drawn_program_is_valid_and_within_its_knobs(knobs, data):
    assert_within(data.draw(mst.programs(**knobs)), **knobs)


@FAST
@given(mst.small_programs())
def test_small_programs_are_two_threads_of_one_to_three_memory_ops(program):
    assert_within(program, threads=2, ops=(1, 3), locations=2, kinds=mst.MEMORY_KINDS,
                  atomic="mixed")


def test_every_kind_and_primitive_is_drawn():
    """A kind that is never drawn would be a dead knob."""
    seen = set()

    @settings(FAST, max_examples=100)
    @given(mst.programs(kinds=mst.MEMORY_KINDS, atomic="mixed", sync=True))
    def gather(program):
        seen.update(type(op) for _, op in program.ops())
        seen.update(type(d) for d in program.decls if not isinstance(d, Var))
        seen.update((Var, v.atomic) for v in program.vars)
        seen.update(op.op for _, op in program.ops() if isinstance(op, Rmw))

    gather()
    expected = {Load, Store, Rmw, Fence, Await, Lock, Unlock, RLock, RUnlock, Send, Recv, Close,
                OnceDo, WgAdd, WgDone, WgWait, Mutex, Chan, Once, WaitGroup,
                (Var, True), (Var, False), RmwOp.ADD, RmwOp.SWAP, RmwOp.CAS}
    assert expected <= seen, f"never drawn: {expected - seen}"


@FAST
@given(mst.programs(kinds=("store", "await"), threads=(2, 3), ops=(1, 3)))
def test_an_await_waits_for_a_value_another_thread_writes(program):
    for i, op in program.ops():
        if isinstance(op, Await):
            others = {o.value for j, o in program.ops() if j != i and isinstance(o, Store)
                      and o.loc == op.loc}
            if not others:
                assert (op.value, op.until_equal) == (0, True)
            elif op.until_equal:
                assert op.value in others
            else:
                assert op.value == 0


def test_the_order_tables_are_the_irs_valid_orders_strongest_first():
    strength = [Order.SEQ_CST, Order.ACQ_REL, Order.ACQUIRE, Order.RELEASE, Order.RELAXED]
    for kind, orders in mst.ORDERS_STRONGEST_FIRST.items():
        assert set(orders) == VALID_ORDERS[kind]
        assert list(orders) == sorted(orders, key=strength.index)


# ---------------------------------------------------------------- knobs are checked at once


@pytest.mark.parametrize("knobs, words", [
    (dict(threads=0), "threads=0"),
    (dict(ops=(3, 1)), "min is greater than max"),
    (dict(locations=0), "locations=0"),
    (dict(values=(-1, 2)), "values=(-1, 2)"),
    (dict(threads="2"), "threads='2'"),
    (dict(kinds=("load", "jump")), "unknown 'jump'"),
    (dict(kinds="load"), "needs a list"),
    (dict(orders=["sequential"]), "unknown 'sequential'"),
    (dict(orders=[]), "at least one"),
    (dict(atomic="sometimes"), "atomic='sometimes'"),
    (dict(kinds=("rmw", "await"), atomic=False), "all plain has no op"),
    (dict(kinds=("rmw",), atomic="mixed"), "all plain has no op"),
    (dict(kinds=("load",), orders=["release"]), "all atomic has no op"),
    (dict(sync=["semaphore"]), "unknown 'semaphore'"),
    (dict(condition="yes"), "condition='yes'"),
])
def test_bad_program_knobs_are_refused_when_the_strategy_is_built(knobs, words):
    with pytest.raises(InvalidArgument) as info:
        mst.programs(**knobs)
    assert words in str(info.value)


@pytest.mark.parametrize("knobs, words", [
    (dict(threads=0), "threads=0"),
    (dict(max_delay=-1), "max_delay=-1"),
    (dict(max_delay=MAX_DELAY + 1), "max_delay"),
    (dict(layouts=["diagonal"]), "unknown 'diagonal'"),
    (dict(batch=0), "batch=0"),
    (dict(threads=3, cpus=2), "one CPU per thread"),
    (dict(seed=-1), "seed=-1"),
])
def test_bad_schedule_knobs_are_refused_when_the_strategy_is_built(knobs, words):
    with pytest.raises(InvalidArgument) as info:
        mst.schedules(**knobs)
    assert words in str(info.value)


# ---------------------------------------------------------------- shrinking


def x_y(atomic=True):
    return (Var("x", atomic=atomic), Var("y", atomic=atomic))


def test_any_program_shrinks_to_two_threads_loading_x():
    p = minimal(mst.programs(), lambda p: True)
    load = Thread((Load("r0", "x", SC),))
    assert p == Program("random", (Var("x", atomic=True),), (load, load))


def test_a_store_read_by_another_thread_shrinks_to_one_op_per_thread():
    def store_and_load(p):
        stores = {(i, op.loc) for i, op in p.ops() if isinstance(op, Store)}
        loads = {(i, op.loc) for i, op in p.ops() if isinstance(op, Load)}
        return any(a != b and x == y for a, x in stores for b, y in loads)
    p = minimal(mst.programs(), store_and_load)
    assert p == Program("random", (Var("x", atomic=True),), (
        Thread((Load("r0", "x", SC),)),
        Thread((Store("x", 1, SC),)),
    ))


def has_sb(p):
    """Two threads each store to one location and later load the other (other ops around)."""
    def pairs(t):
        return {(a.loc, b.loc) for i, a in enumerate(t.ops) if isinstance(a, Store)
                for b in t.ops[i + 1:] if isinstance(b, Load) and b.loc != a.loc}
    found = [pairs(t) for t in p.threads]
    return any((b, a) in found[j] for i in range(len(found)) for a, b in found[i]
               for j in range(len(found)) if j != i)


SB = Program("random", x_y(), (
    Thread((Store("x", 1, SC), Load("r0", "y", SC))),
    Thread((Store("y", 1, SC), Load("r0", "x", SC))),
))


def test_an_sb_shape_shrinks_to_exactly_sb():
    # Found among up to 3 threads of up to 3 loads, stores and rmws on atomic or plain
    # locations; shrinking deletes the extra threads and ops and takes every location to
    # atomic, every order to seq_cst and every value to 1.
    programs = mst.programs(threads=(2, 3), ops=(1, 3), kinds=("load", "store", "rmw"),
                            atomic="mixed")
    assert minimal(programs, has_sb) == SB


def test_a_plain_location_shrinks_to_one_plain_load():
    p = minimal(mst.programs(atomic="mixed"), lambda p: any(not v.atomic for v in p.vars))
    assert p.threads[0] == Thread((Load("r0", "x"),)) and not p.decl("x").atomic


def test_a_condition_shrinks_to_one_register_equal_to_zero():
    p = minimal(mst.programs(threads=2, ops=1, condition=True),
                lambda p: p.condition is not None)
    load = Thread((Load("r0", "x", SC),))
    assert p == Program("random", (Var("x", atomic=True),), (load, load),
                        Condition(Cmp(RegRef(0, "r0"), 0)))


def test_a_lock_section_shrinks_to_lock_load_unlock():
    p = minimal(mst.programs(threads=2, ops=1, kinds=("load", "store"), sync=["mutex"]),
                lambda p: any(isinstance(op, Lock) for _, op in p.ops()))
    assert p.threads[1] == Thread((Lock("mu"), Load("r0", "x", SC), Unlock("mu")))


def test_any_schedule_shrinks_to_no_delays():
    assert minimal(mst.schedules(), lambda s: True) == Schedule(delays=(), batch=1, seed=0)


def test_a_needed_delay_shrinks_to_the_smallest_one():
    s = minimal(mst.schedules(threads=3), lambda s: s.delay(2) != (0, 0))
    assert s == Schedule(delays=((0, 0), (0, 0), (0, 1)), batch=1)


def test_a_needed_layout_batch_and_placement_stay_and_nothing_else():
    s = minimal(mst.schedules(cpus=2),
                lambda s: s.layout == "packed" and s.batch >= 100 and s.cpus is not None)
    assert s == Schedule(layout="packed", batch=100, cpus=(0, 1))


@FAST
@given(mst.schedules(threads=(1, 3), max_delay=50, layouts=["packed"], batch=(4, 8), cpus=4,
                     seed=(0, 9)))
def test_drawn_schedules_are_within_their_knobs(s):
    assert len(s.delays) <= 3 and all(0 <= lo <= hi <= 50 for lo, hi in s.delays)
    assert s.delays == () or s.delays[-1] != (0, 0)
    assert s.layout == "packed" and 4 <= s.batch <= 8 and 0 <= s.seed <= 9
    assert s.cpus is None or (len(set(s.cpus)) == len(s.cpus) and max(s.cpus) < 4)


@FAST
@given(mst.schedules(threads=3, max_delay=0))
def test_max_delay_zero_draws_no_delay(s):
    assert s.delays == ()

