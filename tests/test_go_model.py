"""The `go` model, rule by rule (go.dev/ref/mem, 2022), on small programs built with the IR;
and the relation algebra of the graph engine it stands on."""
import pytest
from hypothesis import HealthCheck, given, settings

from stressmm.models import get_model
from stressmm.strategies import go_programs, programs
from stressmm.models.base import ModelResult
from stressmm.models.go import GO, Access, Race
from stressmm.models.graph import Event, Relation
from stressmm.outcome import Outcome
from stressmm.syntax import parse_file, scenario_paths
from stressmm.program import (And, Await, Chan, Close, Cmp, Condition, Load, Lock, MemRef, Mutex,
                              Not, Once, OnceDo, Or, Order, RegRef,
                              Program, RLock, RUnlock, Recv, Rmw, RmwOp, Send, Store, Thread,
                              Unlock, Var, WaitGroup, WgAdd, WgDone, WgWait)


def prog(decls, *threads, name="t"):
    return Program(name, tuple(decls), tuple(Thread(tuple(t)) for t in threads))


def outcomes(program):
    return sorted(str(o) for o in GO.allowed(program).outcomes)


def allows(program, pattern):
    return GO.allowed(program).allows(pattern)


def racy(program):
    return bool(GO.allowed(program).races)


# ----------------------------------------------------------------------- the interface


def test_model_interface():
    p = prog([Var("x")], [Store("x", 1)], [Load("r0", "x")])
    res = GO.allowed(p)
    assert isinstance(res, ModelResult)
    assert GO.name == "go" and GO.description
    assert res.states > 0 and res.elapsed >= 0
    assert outcomes(p) == ["P1:r0=0 x=1", "P1:r0=1 x=1"]
    assert GO.allowed(p) is res                    # memoised


# ----------------------------------------------------------------------- channels


def mp_over(chan_capacity):
    """data = 1; ch <- 1  ||  <-ch; r0 = data."""
    return prog([Var("data"), Chan("ch", chan_capacity)],
                [Store("data", 1), Send("ch", 1)],
                [Recv("ch"), Load("r0", "data")])


@pytest.mark.parametrize("capacity", [0, 1, 2])
def test_send_is_synchronized_before_the_receive(capacity):
    p = mp_over(capacity)
    assert outcomes(p) == ["P1:r0=1 data=1"]
    assert not racy(p)
    assert not allows(p, "P1:r0=0")


def test_unbuffered_receive_is_synchronized_before_the_send_completes():
    # <-ch; ... the receiver's earlier write is visible after the send completes.
    p = prog([Var("data"), Chan("ch", 0)],
             [Send("ch", 1), Load("r0", "data")],
             [Store("data", 1), Recv("ch")])
    assert outcomes(p) == ["P0:r0=1 data=1"]
    assert not racy(p)
    # With a buffer the send completes without waiting: a race, and 0 may be read.
    q = prog([Var("data"), Chan("ch", 1)],
             [Send("ch", 1), Load("r0", "data")],
             [Store("data", 1), Recv("ch")])
    assert racy(q) and allows(q, "P0:r0=0")


def test_kth_receive_is_synchronized_before_the_k_plus_c_th_send():
    # Capacity 1: the 2nd send completes only after the 1st receive.
    def p(capacity):
        return prog([Var("data"), Chan("ch", capacity)],
                    [Send("ch", 1), Send("ch", 2), Load("r0", "data")],
                    [Store("data", 1), Recv("ch")])
    assert outcomes(p(1)) == ["P0:r0=1 data=1"]
    assert not racy(p(1))
    assert racy(p(2)) and allows(p(2), "P0:r0=0")


def test_close_is_synchronized_before_a_receive_of_the_zero_value():
    p = prog([Var("data"), Chan("ch", 1)],
             [Store("data", 1), Close("ch")],
             [Recv("ch", "r0", "ok"), Load("r1", "data")])
    assert outcomes(p) == ["P1:ok=0 P1:r0=0 P1:r1=1 data=1"]
    assert not racy(p)


def test_send_and_close_panics():
    send_on_closed = prog([Chan("ch", 1)], [Close("ch"), Send("ch", 1)])
    assert outcomes(send_on_closed) == ["panic"]
    close_twice = prog([Chan("ch", 1)], [Close("ch")], [Close("ch")])
    assert outcomes(close_twice) == ["panic"]


def test_deadlock_when_every_goroutine_is_blocked():
    p = prog([Chan("ch", 0), Var("x")], [Store("x", 1), Send("ch", 1)], [Load("r0", "x")])
    assert outcomes(p) == ["deadlock"]
    # A race before the deadlock is still a race of the program.
    assert racy(p)


# ----------------------------------------------------------------------- locks


def critical(m, *ops):
    return [Lock(m), *ops, Unlock(m)]


def test_unlock_is_synchronized_before_the_next_lock():
    p = prog([Var("x"), Mutex("mu")],
             critical("mu", Store("x", 1)),
             critical("mu", Load("r0", "x")))
    assert not racy(p)
    assert outcomes(p) == ["P1:r0=0 x=1", "P1:r0=1 x=1"]
    unlocked = prog([Var("x")], [Store("x", 1)], [Load("r0", "x")])
    assert racy(unlocked)


def test_rwmutex_rules():
    # Writer then reader: nth Unlock -> RLock; reader then writer: RUnlock -> next Lock.
    p = prog([Var("x"), Mutex("rw", rw=True)],
             [Lock("rw"), Store("x", 1), Unlock("rw")],
             [RLock("rw"), Load("r0", "x"), RUnlock("rw")])
    assert not racy(p)
    assert outcomes(p) == ["P1:r0=0 x=1", "P1:r0=1 x=1"]
    # Two readers are not ordered with each other: writes under RLock race.
    q = prog([Var("x"), Mutex("rw", rw=True)],
             [RLock("rw"), Store("x", 1), RUnlock("rw")],
             [RLock("rw"), Load("r0", "x"), RUnlock("rw")])
    assert racy(q)
    # RUnlock -> Lock: a reader's read happens before a later writer's write: race-free, so
    # exactly the sequentially consistent outcomes.
    r = prog([Var("x"), Mutex("rw", rw=True)],
             [RLock("rw"), Load("r0", "x"), RUnlock("rw")],
             [Lock("rw"), Store("x", 2), Unlock("rw")],
             [Lock("rw"), Load("r1", "x"), Unlock("rw")])
    assert not racy(r)
    assert outcomes(r) == sorted(str(o) for o in get_model("sc").allowed(r).outcomes)


def test_rwmutex_writer_preference_may_deadlock_and_may_not():
    # pkg.go.dev/sync#RWMutex: "If any goroutine calls Lock while the lock is already held by
    # one or more readers, concurrent calls to RLock will block until the writer has acquired
    # (and released) the lock": P2's RLock waits behind P1, P0 waits for P2's send.
    p = prog([Mutex("rw", rw=True), Chan("c", 0)],
             [RLock("rw"), Recv("c", "r0"), RUnlock("rw")],
             [Lock("rw"), Unlock("rw")],
             [RLock("rw"), Send("c", 1), RUnlock("rw")])
    assert outcomes(p) == ["P0:r0=1", "deadlock"]
    assert not racy(p)


def test_an_unlock_by_another_goroutine_is_synchronized_before_the_next_lock():
    # pkg.go.dev/sync#Mutex.Unlock: a locked Mutex is not associated with a goroutine; the
    # n-th Unlock is synchronized before the (n+1)-th Lock returns, whoever calls them.
    p = prog([Var("x"), Mutex("mu"), Chan("c", 0)],
             [Lock("mu"), Store("x", 1), Send("c", 1)],
             [Recv("c", "r0"), Unlock("mu")],
             [Lock("mu"), Load("r1", "x"), Store("x", 2), Unlock("mu")])
    assert not racy(p)
    assert outcomes(p) == ["P1:r0=1 P2:r1=0 x=1", "P1:r0=1 P2:r1=1 x=2"]
    early = prog([Mutex("mu")], [Unlock("mu")], [Lock("mu")])
    assert outcomes(early) == ["(empty)", "panic"]


def test_an_runlock_by_another_goroutine_is_synchronized_before_the_next_lock():
    # P1 releases P0's read lock: that RUnlock matches P0's RLock, so P0's write happens
    # before P2's section whenever P2 locks after it; no race.
    p = prog([Var("x"), Mutex("rw", rw=True), Chan("c", 0)],
             [RLock("rw"), Store("x", 1), Send("c", 1)],
             [Recv("c", "r0"), RUnlock("rw")],
             [Lock("rw"), Load("r1", "x"), Store("x", 2), Unlock("rw")])
    assert not racy(p)
    assert outcomes(p) == ["P1:r0=1 P2:r1=0 x=1", "P1:r0=1 P2:r1=1 x=2"]


def test_read_locking_twice_deadlocks_only_behind_a_waiting_writer():
    def read_twice(*writer):
        return prog([Var("x"), Mutex("rw", rw=True), Chan("c", 0)],
                    [RLock("rw"), Send("c", 1), RLock("rw"), Store("x", 1), RUnlock("rw"),
                     RUnlock("rw")],
                    [Recv("c", "r0"), *writer])
    waiting = read_twice(Lock("rw"), Load("r1", "x"), Unlock("rw"))
    assert outcomes(waiting) == ["P1:r0=1 P1:r1=1 x=1", "deadlock"]
    assert not racy(waiting)     # both RUnlocks come before the Lock returns
    assert outcomes(read_twice()) == ["P1:r0=1 x=1"]


# ----------------------------------------------------------------------- once, waitgroup


def test_once_body_completion_is_synchronized_before_every_return():
    p = prog([Var("x"), Once("once")],
             [OnceDo("once", (Store("x", 1),)), Load("r0", "x")],
             [OnceDo("once", (Store("x", 2),)), Load("r1", "x")])
    assert not racy(p)
    assert outcomes(p) == ["P0:r0=1 P1:r1=1 x=1", "P0:r0=2 P1:r1=2 x=2"]


def test_waitgroup_done_is_synchronized_before_the_wait_it_releases():
    # The atomic flag orders Add before Wait; Done -> Wait then orders x = 1 before r0 = x.
    p = prog([Var("x"), Var("f", atomic=True), WaitGroup("wg")],
             [WgAdd("wg", 1), Store("f", 1, Order.SEQ_CST), Store("x", 1), WgDone("wg")],
             [Await("f", 1, Order.SEQ_CST), WgWait("wg"), Load("r0", "x")])
    assert outcomes(p) == ["P1:r0=1 f=1 x=1"]
    assert not racy(p)
    # A plain flag orders nothing: Wait may pass before Add, and 0 may be read.
    q = prog([Var("x"), Var("f"), WaitGroup("wg")],
             [WgAdd("wg", 1), Store("f", 1), Store("x", 1), WgDone("wg")],
             [Await("f", 1), WgWait("wg"), Load("r0", "x")])
    assert racy(q) and allows(q, "P1:r0=0")
    # Done before Add drives the counter negative: a panic.
    r = prog([Var("x"), WaitGroup("wg")],
             [Store("x", 1), WgDone("wg")],
             [WgAdd("wg", 1), WgWait("wg"), Load("r0", "x")])
    assert outcomes(r) == ["P1:r0=1 x=1", "panic"]
    assert not racy(r)


def test_wait_on_a_zero_counter_orders_nothing():
    p = prog([Var("x"), WaitGroup("wg")],
             [Store("x", 1), WgAdd("wg", 1), WgDone("wg")],
             [WgWait("wg"), Load("r0", "x")])
    assert racy(p) and allows(p, "P1:r0=0")


# ----------------------------------------------------------------------- atomics


@pytest.mark.parametrize("order", [Order.SEQ_CST, Order.RELAXED])
def test_atomics_are_sequentially_consistent(order):
    load_order = Order.RELAXED if order is Order.RELAXED else Order.SEQ_CST
    sb = prog([Var("x", atomic=True), Var("y", atomic=True)],
              [Store("x", 1, order), Load("r0", "y", load_order)],
              [Store("y", 1, order), Load("r1", "x", load_order)], name="SB")
    assert not allows(sb, "P0:r0=0 P1:r1=0")
    assert not racy(sb)
    why = GO.why_forbidden(sb, "P0:r0=0 P1:r1=0")
    assert "W x=1 -po-> R y=0 -fr-> W y=1 -po-> R x=0 -fr-> W x=1" in why
    assert "atomics-sc" in why


def test_observed_atomic_is_synchronized_before_the_observer():
    p = prog([Var("data"), Var("ready", atomic=True)],
             [Store("data", 1), Store("ready", 1, Order.SEQ_CST)],
             [Await("ready", 1, Order.SEQ_CST), Load("r0", "data")])
    assert outcomes(p) == ["P1:r0=1 data=1 ready=1"]
    assert not racy(p)


def test_atomic_load_then_store_loses_updates():
    def incr(tmp):      # r = Load(n); Store(tmp, r); r1 = Add(tmp, 1); Store(n, r1)
        return [Load("r0", "n", Order.SEQ_CST), Store(tmp, "r0", Order.SEQ_CST),
                Rmw("r1", tmp, RmwOp.ADD, 1), Store("n", "r1", Order.SEQ_CST)]
    decls = [Var("n", atomic=True), Var("t0", atomic=True), Var("t1", atomic=True)]
    p = prog(decls, incr("t0"), incr("t1"))
    assert allows(p, "n=1") and allows(p, "n=2")
    assert not racy(p)
    adds = prog([Var("n", atomic=True)], [Rmw(None, "n", RmwOp.ADD, 1)],
                [Rmw(None, "n", RmwOp.ADD, 1)])
    assert outcomes(adds) == ["n=2"]


def test_compare_and_swap_on_a_racy_value():
    # The CAS's expected value depends on a racy plain read carried through a register.
    p = prog([Var("x"), Var("a", atomic=True)],
             [Store("x", 1)],
             [Load("r0", "x"), Store("a", "r0", Order.SEQ_CST),
              Rmw("r1", "a", RmwOp.CAS, 5, expected=1)])
    assert sorted(outcomes(p)) == ["P1:r0=0 P1:r1=0 a=0 x=1", "P1:r0=1 P1:r1=1 a=5 x=1"]


# ----------------------------------------------------------------------- races, racy reads


FLAG_RACE = """\
litmus flag-race "the non-atomic flag spin loop of the seeds"
var data int
var ready int

P0:
  data = 1
  ready = 1

P1:
  for ready == 0 {}
  r0 = data
exists (P1:r0 == 0)
"""


def test_plain_flag_handoff_is_a_race_and_its_weak_outcome_is_allowed():
    from stressmm.syntax import parse
    p = parse(FLAG_RACE)[0]
    res = GO.allowed(p)
    assert res.allows("P1:r0=0")
    assert [str(r) for r in res.races] == [
        "P0 `data = 1` (line 6) and P1 `r0 = data` (line 11) are not ordered by happens-before",
        "P0 `ready = 1` (line 7) and P1 `for ready == 0 {}` (line 10) are not ordered by "
        "happens-before"]
    assert all(isinstance(r, Race) for r in res.races)


def test_channel_fixed_flag_handoff_is_race_free_and_forbids_the_weak_outcome():
    p = prog([Var("data"), Chan("done", 0)],
             [Store("data", 1), Send("done", 1)],
             [Recv("done"), Load("r0", "data")], name="MP+chan")
    assert not racy(p) and not allows(p, "P1:r0=0")
    assert GO.explain(p, "P1:r0=0") is None
    why = GO.why_forbidden(p, "P1:r0=0")
    assert "W data=1 -po-> P0:done <- 1 -send-> P1:<-done -po-> R data=0 -fr-> W data=1" in why
    assert "no-overwritten-read" in why


def test_a_racy_read_sees_a_preceding_or_concurrent_write():
    # x = 1; x = 2 || r0 = x : any of the three; hb-ordered after both: only the last.
    p = prog([Var("x")], [Store("x", 1), Store("x", 2)], [Load("r0", "x")])
    assert outcomes(p) == ["P1:r0=0 x=2", "P1:r0=1 x=2", "P1:r0=2 x=2"]
    q = prog([Var("x"), Chan("c", 1)], [Store("x", 1), Store("x", 2), Send("c", 1)],
             [Recv("c"), Load("r0", "x")])
    assert outcomes(q) == ["P1:r0=2 x=2"]


def test_racy_reads_need_not_be_coherent():
    # The 2022 rule constrains each read against happens-before only (documented in go.py).
    p = prog([Var("x")], [Store("x", 1)], [Load("r0", "x"), Load("r1", "x")])
    assert allows(p, "P1:r0=1 P1:r1=0")


def test_write_write_race_final_value_is_either():
    p = prog([Var("x")], [Store("x", 1)], [Store("x", 2)])
    assert outcomes(p) == ["x=1", "x=2"]
    assert [(r.first.thread, r.second.thread) for r in GO.allowed(p).races] == [(0, 1)]


def test_a_final_value_overwritten_in_happens_before_is_forbidden_by_a_rule_in_words():
    p = prog([Var("x")], [Store("x", 1), Store("x", 2)])
    rules = GO.why_forbidden(p, "x=1").splitlines()[1:]
    assert rules == ["  W x=1 -hb-> W x=2, and x ends 1 breaks \"final-value: the final value "
                     "of a location is that of a write no other write to it happens after "
                     "(what a read after every goroutine has finished observes: "
                     "go.dev/ref/mem, \"Implementation Restrictions for Programs Containing "
                     "Data Races\")\""]


def test_load_buffering_is_allowed_but_thin_air_is_not():
    lb = prog([Var("x"), Var("y")], [Load("r0", "x"), Store("y", 1)],
              [Load("r1", "y"), Store("x", 1)])
    assert allows(lb, "P0:r0=1 P1:r1=1")
    explanation = GO.explain(lb, "P0:r0=1 P1:r1=1")
    assert "reads 1 from P1 `x = 1`" in str(explanation)
    thin_air = prog([Var("x"), Var("y")], [Load("r0", "x"), Store("y", "r0")],
                    [Load("r1", "y"), Store("x", "r1")])
    assert outcomes(thin_air) == ["P0:r0=0 P1:r1=0 x=0 y=0"]


def test_spin_loops_cannot_release_each_other_acausally():
    p = prog([Var("x"), Var("y")], [Await("x", 1), Store("y", 1)],
             [Await("y", 1), Store("x", 1)])
    assert outcomes(p) == ["deadlock"]
    why = GO.why_forbidden(p, "x=1 y=1")
    assert "no-acausal" in why and "-ctrl->" in why


def test_a_plain_spin_loop_may_miss_a_transient_value():
    p = prog([Var("x")], [Store("x", 1), Store("x", 0)], [Await("x", 1)])
    assert outcomes(p) == ["deadlock", "x=0"]


# ----------------------------------------------------------------------- explanations


def test_explain_shows_reads_from_and_synchronization():
    p = mp_over(0)
    e = GO.explain(p, "P1:r0=1")
    assert e is not None and e.outcome == Outcome.make({(1, "r0"): 1}, {"data": 1})
    text = str(e)
    assert "reads 1 from P0 `data = 1`" in text
    assert "synchronized before" in text and "corresponding receive" in text
    assert GO.why_forbidden(p, "P1:r0=1") == ""


def test_race_text():
    r = Race(Access(0, 0, 6, "data = 1"), Access(1, 1, 10, "r0 = data"))
    assert str(r) == ("P0 `data = 1` (line 6) and P1 `r0 = data` (line 10) are not ordered "
                      "by happens-before")
    assert str(Access(2, 0, None, "x = 1")) == "P2 `x = 1`"


# ----------------------------------------------------------------------- the relation algebra


def test_relation_algebra():
    a, b, c, d = (Event((0, i), "W", "x", i) for i in range(4))
    r = Relation.of([(a, b), (b, c)])
    assert (r @ r).pairs == {(a, c)}
    assert r.inverse().pairs == {(b, a), (c, b)}
    assert r.plus().pairs == {(a, b), (b, c), (a, c)}
    assert (a, a) in r.star([d]) and (d, d) in r.star([d])
    assert (r | Relation.of([(c, d)])).plus().pairs >= {(a, d)}
    assert (r - Relation.of([(a, b)])).pairs == {(b, c)}
    assert r.where(dom=lambda e: e.value == 0).pairs == {(a, b)}
    assert Relation.identity([a]).irreflexive() == a
    assert r.acyclic() is None and r.irreflexive() is None
    cycle = (r | Relation.of([(c, a)])).acyclic()
    assert cycle[0] == cycle[-1] and set(cycle) == {a, b, c}
    y = Event((1, 0), "W", "y", 1)
    assert Relation.of([(a, y), (a, b)]).same_loc().pairs == {(a, b)}


def test_reused_waitgroup_orders_every_earlier_done_before_the_wait():
    """WG+reuse: the counter rises from zero twice; P1's Done, before the second rise, still
    synchronizes with the Wait (Go's counter is one atomic word), so no race and no stale
    read, and --explain shows the WaitGroup's order."""
    [path] = [p for p in scenario_paths() if p.parent.name == "go" and p.stem == "WG+reuse"]
    [prog] = parse_file(str(path))
    res = GO.allowed(prog)
    assert res.races == ()
    assert not res.allows(prog.condition)
    steps = GO.explain(prog, "P0:r0=1").steps
    assert any(s.startswith("order of wg: ") and "P1 `wg.Done()`" in s for s in steps)


def test_the_work_limit_counts_the_reads_from_choices_of_plain_reads():
    """Racy plain programs whose reads feed later writes have one synchronizing state and
    many reads-from choices: the limit counts those too, so a big program stops with what to
    do instead of running on."""
    from stressmm.models import StateLimitError

    def thread(a, b):
        return [Load("r0", a), Store(b, "r0"), Store(a, 1), Load("r1", b), Store(a, "r1"),
                Load("r2", a)]

    prog = Program("deps", (Var("x"), Var("y")), (Thread(tuple(thread("x", "y"))),
                                                  Thread(tuple(thread("y", "x")))))
    with pytest.raises(StateLimitError, match="with_max_states"):
        GO.with_max_states(50).allowed(prog)
    assert GO.allowed(prog).states > 50               # the states shown count that work


def small_programs():
    import random

    from stressmm.bench_models import random_program

    rng = random.Random(7)
    for threads, ops in ((2, 3), (2, 4), (3, 3), (3, 4)):
        for plain in (True, False):
            for _ in range(4):
                yield random_program(rng, threads, ops, plain=plain)


def test_independent_racy_reads_give_exactly_the_outcomes_of_every_reads_from_choice():
    # The product of the reads' values (`_box`) against choosing each read's write one by
    # one and judging every combination (what explanations do), execution by execution.
    from stressmm.models.explorer import Budget
    from stressmm.models.go_build import judge

    boxed = 0
    for p in small_programs():
        execs = GO._executions(p, Budget(10 ** 7, "p"), record=False)
        for x in execs:
            fast = judge(x, GO, False, Budget(10 ** 7, "p"))
            slow = judge(x, GO, True, Budget(10 ** 7, "p"))
            listed = set(fast.outcomes).union(*(set(b.outcomes()) for b in fast.boxes))
            assert listed == set(slow.outcomes), p
            assert fast.races == slow.races, p
            boxed += bool(fast.boxes)
    assert boxed > 10                                 # the product form was used


def test_a_racy_program_with_more_outcomes_than_the_limit_is_answered_exactly():
    import random

    from stressmm.bench_models import random_program
    from stressmm.models import StateLimitError
    from stressmm.outcome import Outcome

    prog = random_program(random.Random(1), 2, 6, plain=True)
    everything = GO.allowed(prog).outcomes
    small = GO.with_max_states(50).allowed(prog)
    assert small.races and len(small.outcomes) == len(everything) > 50
    assert all(o in small.outcomes for o in everything)
    assert Outcome.make({(0, "r0"): 99, (0, "r1"): 0, (1, "r0"): 0, (1, "r1"): 0,
                         (1, "r2"): 0, (1, "r3"): 0}, {"x": 0, "y": 0}) not in small.outcomes
    assert small.allows("P0:r0=0") and not small.allows("P0:r0=99")
    full = GO.allowed(prog)
    for a, b in ((0, 6), (6, 0), (6, 2), (99, 5)):
        cond = Condition(And((Cmp(RegRef(0, "r0"), a), Not(Cmp(RegRef(1, "r0"), b)))))
        either = Condition(Or((Cmp(MemRef("x"), a), Cmp(RegRef(1, "r3"), b))))
        assert small.allows(cond) == full.allows(cond)
        assert small.allows(either) == full.allows(either)
    with pytest.raises(StateLimitError, match="more than 50 .the work limit.*with_max_states"):
        list(small.outcomes)                          # listing stays bounded


def test_check_judges_a_racy_program_whose_outcomes_are_too_many_to_list():
    import random

    from stressmm.bench_models import random_program
    from stressmm.check import check
    from stressmm.report import render_check
    from stressmm.reports.results import check_test

    prog = random_program(random.Random(1), 2, 6, plain=True)
    prog = Program("big", prog.decls, prog.threads,
                   condition=Condition(Cmp(RegRef(0, "r0"), 6)))
    report = check(prog, ["go"], max_states=50)
    assert report.condition_reachable("go") is True
    text = render_check(report)
    assert "go: more allowed outcomes than the work limit lists" in text
    doc = check_test(report)
    assert doc["models"]["go"]["outcomes"] == [] and "--max-states 200" in doc["models"]["go"]["unlisted"]
    assert doc["models"]["go"]["exists"] is True


def lock_orders_with_racy_reads():
    """Two lock orders: P0's writes happen before P1's reads in one, race with them in the
    other; P2's writes race in both. The two executions' products of values overlap."""
    return prog([Var("x"), Var("y"), Var("z"), Mutex("mu")],
                [Store("x", 1), Store("y", 1), Store("z", 1), Lock("mu"), Unlock("mu")],
                [Lock("mu"), Unlock("mu"), Load("r0", "x"), Load("r1", "y"), Load("r2", "z")],
                [Store("x", 2), Store("y", 2), Store("z", 2),
                 Store("x", 3), Store("y", 3), Store("z", 3)], name="overlap")


def test_outcomes_of_overlapping_products_are_counted_without_listing_them():
    from stressmm.check import check
    from stressmm.models.base import OutcomeSpace
    from stressmm.report import render_check

    p = lock_orders_with_racy_reads()
    everything = GO.allowed(p).outcomes
    small = GO.with_max_states(100).allowed(p).outcomes
    assert isinstance(small, OutcomeSpace) and len(small.boxes) == 2
    assert len(small) == len(everything) == len(set(everything)) > 100
    text = render_check(check(p, ["go"], max_states=100))    # the outcomes column counts them
    assert "go: more allowed outcomes than the work limit lists" in text
    assert small != frozenset({Outcome.flagged("deadlock")})  # and compares without listing


def test_the_html_report_says_which_model_allows_outcomes_it_does_not_list():
    from stressmm.check import check
    from stressmm.reports.html import render
    from stressmm.reports.results import check_test, document

    p = lock_orders_with_racy_reads()
    page = render(document("check", [check_test(check(p, ["go"], max_states=100))]))
    assert "go allows outcomes not listed above" in page and "--max-states 400" in page


def test_a_box_minus_another_leaves_exactly_the_outcomes_the_other_lacks():
    import itertools

    from stressmm.models.base import Box

    values = [(0,), (0, 1), (1, 2), (0, 1, 2)]
    for r, x, r2, x2 in itertools.product(values, repeat=4):
        a, b = Box((((0, "r0"), r),), (("x", x),)), Box((((0, "r0"), r2),), (("x", x2),))
        pieces = a.minus(b)
        listed = [o for piece in pieces for o in piece.outcomes()]
        assert len(listed) == len(set(listed))                    # disjoint
        assert set(listed) == {o for o in a.outcomes() if o not in b}


def test_a_go_run_of_a_program_with_too_many_outcomes_to_list_is_still_judged():
    import random

    from stressmm.bench_models import random_program
    from stressmm.go_judge import judge
    from stressmm.outcome import Histogram

    prog = random_program(random.Random(1), 2, 6, plain=True)
    forbidden = Outcome.make({(0, "r0"): 99, (0, "r1"): 0, (1, "r0"): 0, (1, "r1"): 0,
                              (1, "r2"): 0, (1, "r3"): 0}, {"x": 0, "y": 0})
    lines = judge(Histogram(prog, {forbidden: 3}, backend="gc"),
                  GO.with_max_states(50).allowed(prog))
    assert lines[0].startswith("FORBIDDEN by go: 3 runs ended in P0:r0=99")
    assert any("more outcomes than its work limit lists" in line for line in lines)


def test_timeouts_of_a_go_run_with_too_many_outcomes_to_list_are_explained():
    from stressmm.go_judge import judge
    from stressmm.outcome import Histogram

    p = lock_orders_with_racy_reads()
    lines = judge(Histogram(p, {Outcome.flagged("timeout"): 2}, backend="gc"),
                  GO.with_max_states(100).allowed(p))
    assert any(line.startswith("2 runs timed out") and "says every run of overlap ends" in line
               for line in lines)


def test_explain_and_why_forbidden_answer_without_listing_the_outcomes():
    import random

    from stressmm.bench_models import random_program

    prog = random_program(random.Random(1), 2, 6, plain=True)
    small = GO.with_max_states(50)            # too small to list its 1296 outcomes
    assert small.explain(prog, "P0:r0=99") is None
    assert "forbidden by go" in small.why_forbidden(prog, "P0:r0=99")
    assert small.allowed(prog).allows(Outcome.make({(0, "r0"): 99})) is False
    assert small.why_forbidden(prog, "P0:r0=0") == ""


def test_forall_and_register_comparisons_are_judged_on_outcomes_too_many_to_list():
    import random

    from stressmm.bench_models import random_program
    from stressmm.check import condition_holds_under, witness_allowed

    prog = random_program(random.Random(1), 2, 6, plain=True)
    full, small = GO.allowed(prog), GO.with_max_states(50).allowed(prog)
    for expr in (Cmp(RegRef(0, "r0"), RegRef(1, "r0")),
                 Cmp(RegRef(0, "r0"), RegRef(1, "r0"), equal=False),
                 Cmp(RegRef(0, "r1"), MemRef("x")),
                 And((Cmp(RegRef(0, "r0"), 0), Cmp(RegRef(1, "r3"), RegRef(0, "r0"))))):
        assert small.allows(expr) == full.allows(expr)
        for quantifier in ("exists", "~exists", "forall"):
            p = Program("big", prog.decls, prog.threads, condition=Condition(expr, quantifier))
            assert witness_allowed(p, small) == witness_allowed(p, full)
            assert condition_holds_under(p, small) == condition_holds_under(p, full)


def _both_paths_agree(program):
    """Per candidate execution, the product path of `allowed` (`_box`) and the path that
    chooses each plain read's write one by one (the one explanations take) give the same
    outcomes and races; and the model explains each allowed outcome and no other."""
    from stressmm.models.explorer import Budget
    from stressmm.models.go_build import judge

    for x in GO._executions(program, Budget(10 ** 7, "p"), record=False):
        fast = judge(x, GO, False, Budget(10 ** 7, "p"))
        slow = judge(x, GO, True, Budget(10 ** 7, "p"))
        listed = set(fast.outcomes).union(*(set(b.outcomes()) for b in fast.boxes))
        assert listed == set(slow.outcomes), program
        assert fast.races == slow.races, program
    for o in list(GO.allowed(program).outcomes)[:3]:
        assert GO.explain(program, o).outcome == o
        assert GO.why_forbidden(program, o) == ""


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(go_programs(threads=(2, 3), ops=(1, 3)))
def test_the_product_and_one_by_one_paths_agree_on_random_go_programs(program):
    _both_paths_agree(program)


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(programs(threads=(2, 3), ops=(1, 3), locations=2, kinds=("load", "store", "await"),
                atomic="mixed", sync=True))
def test_the_product_and_one_by_one_paths_agree_on_random_programs(program):
    _both_paths_agree(program)
