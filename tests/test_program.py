"""The program IR: values are immutable and hashable; invalid programs are refused with a
message that names the place and says what to do."""
import dataclasses

import pytest

from stressmm.outcome import Histogram, Outcome, Pattern, PatternError, evaluate
from stressmm.program import (
    And, Await, Chan, Close, Cmp, Condition, Expect, Fence, FlagIs, Load, Lock, MemRef, Mutex,
    Not, Once, OnceDo, Or, Order, Program, ProgramError, Recv, RegRef, RLock, Rmw, RmwOp, RUnlock,
    Send, Store, Thread, Unlock, Var, WaitGroup, WgAdd, WgDone, WgWait,
)
from stressmm.schedule import Schedule

SB_THREADS = (
    Thread((Store("x", 1), Load("r0", "y"))),
    Thread((Store("y", 1), Load("r1", "x"))),
)


def sb(**kw):
    return Program(name="SB", decls=(Var("x"), Var("y")), threads=SB_THREADS, **kw)


def test_programs_are_values():
    a, b = sb(), sb()
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.name = "other"


def test_source_lines_do_not_change_equality():
    assert Store("x", 1, line=3) == Store("x", 1, line=9)
    assert hash(Load("r0", "x", line=1)) == hash(Load("r0", "x"))


def test_lists_are_accepted_and_stored_as_tuples():
    p = Program(name="L", decls=[Var("x")], threads=[[Store("x", 1)]])
    assert isinstance(p.decls, tuple) and isinstance(p.threads[0], Thread)
    assert isinstance(p.threads[0].ops, tuple)


def test_queries():
    p = Program(name="Q", decls=(Var("a", atomic=True), Once("o")), threads=(
        Thread((Rmw("r0", "a", RmwOp.ADD, 1), OnceDo("o", (Load("r1", "a", Order.ACQUIRE),)))),))
    assert p.registers(0) == ("r0", "r1")
    assert p.size == 3
    assert p.uses_sync
    assert not sb().uses_sync
    assert [v.name for v in p.vars] == ["a"]


def bad(decls, *threads, condition=None, expects=()):
    with pytest.raises(ProgramError) as err:
        Program(name="T", decls=tuple(decls), threads=tuple(Thread(tuple(t)) for t in threads),
                condition=condition, expects=expects)
    return str(err.value)


@pytest.mark.parametrize("decls,ops,expected", [
    ((Var("x"),), [Load("r0", "y")], "unknown variable 'y': declare it first"),
    ((Var("x"),), [Store("x", "r0")], "register r0 is read before it is written in P0"),
    ((Var("a", atomic=True),), [Load("r0", "a", Order.RELEASE)],
     "release is not a valid order for a load (use one of relaxed, acquire, seq_cst)"),
    ((Var("a", atomic=True),), [Store("a", 1, Order.ACQUIRE)], "acquire is not a valid order for a store"),
    ((Var("a", atomic=True),), [Await("a", 1)], "a is atomic: a spin loop on it needs a memory order"),
    ((Var("x"),), [Load("r0", "x", Order.SEQ_CST)], "x is a plain variable: a load of it takes no memory order"),
    ((Var("x"),), [Rmw("r0", "x", RmwOp.ADD, 1)], "read-modify-writes need an `atomic` variable"),
    ((), [Fence(Order.RELAXED)], "relaxed is not a valid fence order"),
    ((Mutex("m"),), [Unlock("m")], "unlock of m, which P0 does not hold and no other thread locks: "
                                   "a certain panic (Lock it first)"),
    ((Mutex("m", rw=True),), [RLock("m"), Unlock("m")], "it holds a read lock: use RUnlock"),
    ((Mutex("m"),), [RLock("m")], "m is a Mutex: RLock/RUnlock need `rwmutex m`"),
    ((Mutex("m"),), [Lock("m"), Lock("m")], "a certain self-deadlock"),
    ((Mutex("m", rw=True),), [RUnlock("m")], "RUnlock of m, which P0 has not read-locked"),
    ((Mutex("m", rw=True),), [RLock("m"), Lock("m")], "while it holds a read lock of it"),
    ((Mutex("m", rw=True),), [Lock("m"), RLock("m")], "while it holds its write lock"),
    ((Var("x"),), [Lock("x")], "'x' is a variable, not a mutex"),
    ((Chan("c"),), [Send("c", 2**40)], "must be an int in"),
    ((Var("x"),), [Load("x", "x")], "register 'x' has the name of a declared variable"),
    ((WaitGroup("wg"),), [WgAdd("wg", 0)], "wg.Add needs a non-zero int delta"),
    ((Once("o"), Var("x")), [OnceDo("o", (OnceDo("o", ()),))], "once.Do inside a once.Do body"),
    ((Var("a", atomic=True),), [Rmw("r0", "a", RmwOp.CAS, 1)], "compare-and-swap needs an int `expected`"),
    ((Var("a", atomic=True),), [Rmw("r0", "a", RmwOp.ADD, 1, expected=0, order=Order.RELAXED)],
     "only compare-and-swap takes an expected value"),
])
def test_invalid_ops_are_refused_with_a_clear_message(decls, ops, expected):
    msg = bad(decls, ops)
    assert expected in msg
    assert "P0, op" in msg


def ok(decls, *threads):
    return Program(name="T", decls=tuple(decls), threads=tuple(Thread(tuple(t)) for t in threads))


def test_a_thread_may_unlock_what_another_locked():
    """Go: a locked Mutex is not associated with a goroutine (pkg.go.dev/sync#Mutex.Unlock)."""
    ok([Mutex("m")], [Lock("m")], [Unlock("m")])
    ok([Mutex("m", rw=True)], [RLock("m")], [RUnlock("m")])
    ok([Mutex("m")], [Lock("m"), Lock("m")], [Unlock("m")])     # relocks after P1 unlocks
    ok([Mutex("m", rw=True)], [RLock("m"), Lock("m")], [RUnlock("m")])
    # an unlock that may find the mutex unlocked is accepted: the models say `panic`
    ok([Mutex("m")], [Unlock("m")], [Lock("m"), Unlock("m")])


def test_a_thread_may_read_lock_twice():
    ok([Mutex("m", rw=True)], [RLock("m"), RLock("m"), RUnlock("m"), RUnlock("m")])
    assert "has not read-locked" in bad([Mutex("m", rw=True)],
                                        [RLock("m"), RUnlock("m"), RUnlock("m")])


def test_message_names_source_line():
    msg = bad([Var("x")], [Store("x", 1), Load("r0", "nope", line=7)])
    assert msg.startswith("program T, P0, op 1, line 7: unknown variable 'nope'")


def test_declaration_errors():
    assert "declared twice" in bad([Var("x"), Chan("x")], [Store("x", 1)])
    assert "not an identifier" in bad([Var("1x")], [])
    assert "capacity" in bad([Chan("c", capacity=-1)], [])
    assert "at least one thread" in bad([Var("x")])


def test_condition_errors():
    cond = Condition(Cmp(RegRef(2, "r0"), 0))
    assert "names P2, but the program has 1 thread" in bad([Var("x")], [Load("r0", "x")], condition=cond)
    cond = Condition(Cmp(RegRef(0, "r9"), 0))
    assert "P0:r9, a register P0 never writes" in bad([Var("x")], [Load("r0", "x")], condition=cond)
    cond = Condition(Cmp(MemRef("z"), 0))
    assert "'z', which is not a declared variable" in bad([Var("x")], [Load("r0", "x")], condition=cond)
    assert "needs an `exists (...)` condition" in bad(
        [Var("x")], [Load("r0", "x")], expects=(Expect("sc", "allowed"),))
    assert "verdict 'maybe'" in bad([Var("x")], [Load("r0", "x")], expects=(Expect("sc", "maybe"),))


def test_go_program_is_valid():
    p = Program(name="G", decls=(Var("x"), Chan("c", 1), Mutex("m"), WaitGroup("wg"), Once("o")),
                threads=(
                    Thread((WgAdd("wg", 1), Lock("m"), Store("x", 1), Unlock("m"), Send("c", 1),
                            Close("c"), WgWait("wg"))),
                    Thread((Recv("c", "r0", "ok"), OnceDo("o", (Store("x", 2),)), WgDone("wg"))),
                ))
    assert p.registers(1) == ("r0", "ok")


# ---------------------------------------------------------------- outcomes


def test_outcome_text_and_json_round_trip():
    o = Outcome.make({(1, "r1"): 0, (0, "r0"): 2}, {"y": 1, "x": 1})
    assert str(o) == "P0:r0=2 P1:r1=0 x=1 y=1"
    assert Outcome.from_json(o.to_json()) == o
    assert o.show(["x"]) == "P0:r0=2 P1:r1=0 x=1"
    assert str(Outcome.flagged("panic")) == "panic"


def test_patterns_match_partially_and_never_match_flagged_outcomes():
    o = Outcome.make({(0, "r0"): 0, (1, "r1"): 0}, {"x": 1})
    assert Pattern.parse("P0:r0=0").matches(o)
    assert Pattern.parse("P0:r0 = 0, P1:r1=0 x=1").matches(o)
    assert not Pattern.parse("P0:r0=1").matches(o)
    assert not Pattern.parse("P0:r0=0").matches(Outcome.flagged("deadlock"))
    assert Pattern.parse("deadlock").matches(Outcome.flagged("deadlock"))


@pytest.mark.parametrize("text,expected", [
    ("", "empty outcome"),
    ("P0:r0", "cannot read 'P0:r0'"),
    ("P0:r0=zero", "expected P<thread>:<reg>=<int>"),
])
def test_bad_patterns(text, expected):
    with pytest.raises(PatternError, match=expected):
        Pattern.parse(text)


def test_pattern_checked_against_program():
    with pytest.raises(PatternError, match="P3:r0, which SB does not have"):
        Pattern.parse("P3:r0=0").check_against(sb())
    with pytest.raises(PatternError, match="q, which is not a variable of SB"):
        Pattern.parse("q=0").check_against(sb())


def test_condition_evaluation():
    o = Outcome.make({(0, "r0"): 0, (1, "r1"): 1}, {"x": 2})
    r0_is_0 = Cmp(RegRef(0, "r0"), 0)
    r1_is_0 = Cmp(RegRef(1, "r1"), 0)
    assert evaluate(r0_is_0, o)
    assert not evaluate(And((r0_is_0, r1_is_0)), o)
    assert evaluate(Or((r0_is_0, r1_is_0)), o)
    assert evaluate(Not(r1_is_0), o)
    assert evaluate(Cmp(MemRef("x"), 2), o)
    assert evaluate(Cmp(MemRef("x"), 1, equal=False), o)
    assert not evaluate(r0_is_0, Outcome.flagged("deadlock"))
    assert evaluate(FlagIs("deadlock"), Outcome.flagged("deadlock"))


def test_histogram_outside_ignores_timeouts():
    weak = Outcome.make({(0, "r0"): 0, (1, "r1"): 0})
    ok = Outcome.make({(0, "r0"): 1, (1, "r1"): 0})
    h = Histogram(sb(), {weak: 3, ok: 5, Outcome.flagged("timeout"): 1}, elapsed=2.0)
    assert h.total == 9 and h.rate == 4.5
    assert h.outside({ok}) == {weak: 3}
    assert h.count(Pattern.parse("P1:r1=0")) == 8
    assert h.merged(h).total == 18


# ---------------------------------------------------------------- schedules


def test_schedule_validation_and_json():
    s = Schedule(delays=((0, 5), (2, 2)), layout="packed", batch=8, seed=3)
    assert Schedule.from_json(s.to_json()) == s
    with pytest.raises(ValueError, match="layout must be one of spread, packed"):
        Schedule(layout="diagonal")
    with pytest.raises(ValueError, match="delay for P0 must be"):
        Schedule(delays=((5, 1),))
    with pytest.raises(ValueError, match="batch must be"):
        Schedule(batch=0)


def test_await_is_memory_op():
    p = Program(name="A", decls=(Var("f", atomic=True),), threads=(
        Thread((Await("f", 0, Order.ACQUIRE, until_equal=False),)),))
    assert p.size == 1
