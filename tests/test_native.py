"""The native runtime on real hardware: weak outcomes show where x86 allows them, never where
tso forbids them; mutants are caught on their classic tests; bad input, timeouts, Ctrl-C.

Hardware tests assert only what must always hold (never a tso-forbidden outcome) or what holds
with overwhelming probability within generous budgets (a weak outcome appears), so they pass
when the other core is busy."""
import os
import platform
import signal
import threading
import time

import pytest

from stressmm.outcome import Outcome, Pattern
from stressmm.program import (Await, Fence, Load, Lock, Mutex, Order, Program, Rmw, RmwOp,
                              Store, Thread, Unlock, Var)
from stressmm.runtime import RuntimeUsageError, available_cpus, pythreads
from stressmm.runtime.compile import compile_program, opcode_name
from stressmm.runtime.native import MUTANTS, run
from stressmm.schedule import MAX_BATCH, Schedule

from hardware import ctrl_c_raises, until

RLX, ACQ, REL, SC = Order.RELAXED, Order.ACQUIRE, Order.RELEASE, Order.SEQ_CST
TWO_CPUS = pytest.mark.skipif(len(available_cpus()) < 2,
                              reason="needs 2 CPUs to run two pinned program threads")
X86 = pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                         reason="the tso model describes x86-64 only")


def atomics(*names):
    return tuple(Var(n, atomic=True) for n in names)


def sb(store=RLX, load=RLX, fence=None):
    def thread(mine, other, reg):
        ops = [Store(mine, 1, store)] + ([Fence(fence)] if fence else []) + [Load(reg, other, load)]
        return Thread(tuple(ops))
    return Program("SB", atomics("x", "y"), (thread("x", "y", "r0"), thread("y", "x", "r1")))


MP = Program("MP", atomics("x", "y"), (
    Thread((Store("x", 1, RLX), Store("y", 1, RLX))),
    Thread((Load("r0", "y", RLX), Load("r1", "x", RLX)))))
LB = Program("LB", atomics("x", "y"), (
    Thread((Load("r0", "x", RLX), Store("y", 1, RLX))),
    Thread((Load("r1", "y", RLX), Store("x", 1, RLX)))))
W22 = Program("2+2W", atomics("x", "y"), (
    Thread((Store("x", 1, RLX), Store("y", 2, RLX))),
    Thread((Store("y", 1, RLX), Store("x", 2, RLX)))))
CORR = Program("CoRR", atomics("x"), (
    Thread((Store("x", 1, RLX),)),
    Thread((Load("r0", "x", RLX), Load("r1", "x", RLX)))))


def rmw_pair(kind, operand, expected=None):
    return Program(f"two-{kind}", atomics("x"), tuple(
        Thread((Rmw(f"r{t}", "x", kind, operand(t), expected, SC),)) for t in range(2)))


def weak_sb(h):
    return h.count(Pattern.parse("P0:r0=0 P1:r1=0"))


def tso_allowed(program):
    models = pytest.importorskip("stressmm.models")
    return models.get_model("tso").allowed(program).outcomes


# ---------------------------------------------------------------- compiler


def test_compile_fuses_op_and_order():
    c = compile_program(sb(store=SC, load=ACQ, fence=SC))
    names = [opcode_name(i[0]) for i in c.threads[0].instructions()]
    assert names == ["STORE_SEQ_CST", "FENCE_SEQ_CST", "LOAD_ACQUIRE"]
    # register r0 in slot 0, scratch in slot 1, the constant 1 in slot 2
    assert c.threads[0].file == (0, 0, 1)
    assert c.threads[0].instructions()[0][3] == 2


@pytest.mark.parametrize("mutant,program,before,after", [
    ("sc-store-no-fence", sb(store=SC, load=SC), "STORE_SEQ_CST", "STORE_RELAXED"),
    ("sc-fence-noop", sb(fence=SC), "FENCE_SEQ_CST", "FENCE_ACQ_REL"),
    ("add-not-atomic", rmw_pair(RmwOp.ADD, lambda t: 1), "ADD_SEQ_CST", "MUT_ADD_SPLIT"),
    ("swap-not-atomic", rmw_pair(RmwOp.SWAP, lambda t: t + 1), "SWAP_SEQ_CST", "MUT_SWAP_SPLIT"),
    ("cas-ignores-failure", rmw_pair(RmwOp.CAS, lambda t: 1, 0), "CAS_SEQ_CST", "MUT_CAS_ALWAYS"),
])
def test_mutants_rewrite_opcodes_only_when_selected(mutant, program, before, after):
    plain = {opcode_name(i[0]) for i in compile_program(program).threads[0].instructions()}
    broken = {opcode_name(i[0]) for i in compile_program(program, mutant).threads[0].instructions()}
    assert before in plain and after not in plain
    assert after in broken and before not in broken


def test_every_mutant_is_documented():
    """Each mutant has a description, is named in docs/contracts.md, and (but the fence one,
    which breaks no primitive's contract) belongs to the clause it breaks."""
    from pathlib import Path

    from stressmm.contracts import CLAUSES

    doc = (Path(__file__).resolve().parent.parent / "docs" / "contracts.md").read_text()
    assert {"sc-store-no-fence", "sc-fence-noop", "add-not-atomic", "cas-ignores-failure",
            "swap-not-atomic", "mutex-nonatomic-tas", "chan-unbuffered-as-buffered",
            "chan-slot-nonatomic", "once-twice", "wg-early",
            "rwmutex-writer-beside-reader"} <= set(MUTANTS)
    assert all(isinstance(d, str) and d for d in MUTANTS.values())
    assert [m for m in MUTANTS if m not in doc] == []
    assert [m for m in MUTANTS if not any(m in c.mutants for c in CLAUSES)] == ["sc-fence-noop"]


# ---------------------------------------------------------------- outcomes


def test_outcomes_hold_every_register_and_variable():
    h = run(MP, iterations=1000)
    assert h.total == 1000 and h.backend == "native"
    for o in h.counts:
        assert [(t, r) for t, r, _ in o.regs] == [(1, "r0"), (1, "r1")]
        assert o.mem == (("x", 1), ("y", 1))
    assert h.info["batch"] == 64 and h.info["layout"] == "spread" and h.info["mutant"] is None


@pytest.mark.parametrize("batch", [1, 3, 64, 100])
def test_exact_iteration_count_for_any_batch(batch):
    assert run(CORR, iterations=1234, schedule=Schedule(batch=batch)).total == 1234


def test_single_thread_semantics():
    p = Program("seq", atomics("x", "y") + (Var("z", init=5),), (Thread((
        Rmw("a", "x", RmwOp.ADD, 3, order=RLX),          # new value: 3
        Rmw("b", "x", RmwOp.SWAP, 10, order=ACQ),        # old value: 3
        Rmw("c", "x", RmwOp.CAS, 11, 10, order=SC),      # success: 1, x = 11
        Rmw("d", "x", RmwOp.CAS, 99, 10, order=REL),     # failure: 0
        Store("y", "a", SC),                             # a register as the stored value
        Load("e", "z"),
        Store("z", -2**31 + 1),
        Rmw(None, "y", RmwOp.ADD, -1, order=Order.ACQ_REL),
        Await("y", 2, RLX),
        Await("x", 0, ACQ, until_equal=False),
    )),))
    h = run(p, iterations=200, schedule=Schedule(batch=7))
    expected = Outcome.make({(0, "a"): 3, (0, "b"): 3, (0, "c"): 1, (0, "d"): 0, (0, "e"): 5},
                            {"x": 11, "y": 2, "z": -2**31 + 1})
    assert h.counts == {expected: 200}
    assert pythreads.run(p, iterations=20).counts == {expected: 20}


@pytest.mark.parametrize("layout", ["spread", "packed"])
def test_await_message_passing(layout):
    p = Program("MP+await", (Var("d"), Var("f", atomic=True)), (
        Thread((Store("d", 7), Store("f", 1, REL))),
        Thread((Await("f", 1, ACQ), Load("r0", "d")))))
    h = run(p, iterations=20_000, schedule=Schedule(layout=layout))
    good = Outcome.make({(1, "r0"): 7}, {"d": 7, "f": 1})
    assert set(h.counts) <= {good, Outcome.flagged("timeout")}
    assert h.counts.get(good, 0) > 0


def test_never_satisfied_await_times_out_quickly():
    p = Program("stuck", atomics("x"), (Thread((Await("x", 1, ACQ), Store("x", 2, RLX))),))
    began = time.monotonic()
    h = run(p, iterations=50)
    assert h.counts == {Outcome.flagged("timeout"): 50}
    assert time.monotonic() - began < 60  # bounded by spins: generous for a busy machine


@TWO_CPUS
def test_sb_relaxed_shows_the_weak_outcome():
    h = until(sb(), lambda h: weak_sb(h) > 0, seconds=30)
    assert weak_sb(h) > 0, f"no SB weak outcome in {h.total} iterations"


@TWO_CPUS
@X86
@pytest.mark.parametrize("program", [sb(store=SC, load=SC), sb(fence=SC), MP, LB, W22, CORR],
                         ids=["SB+sc", "SB+mfence", "MP", "LB", "2+2W", "CoRR"])
def test_no_tso_forbidden_outcome(program):
    # 200,000 runs, as the correct-runtime check of the mutant tests below: each mutant's
    # forbidden outcome shows within far fewer
    allowed = tso_allowed(program)
    h = run(program, iterations=200_000, schedule=Schedule(batch=256))
    assert h.total == 200_000
    assert h.outside(allowed) == {}


# ---------------------------------------------------------------- mutants


@TWO_CPUS
@X86
@pytest.mark.parametrize("mutant,program,bad", [
    ("sc-store-no-fence", sb(store=SC, load=SC), "P0:r0=0 P1:r1=0"),
    ("sc-fence-noop", sb(fence=SC), "P0:r0=0 P1:r1=0"),
    ("add-not-atomic", rmw_pair(RmwOp.ADD, lambda t: 1), "x=1"),
    ("swap-not-atomic", rmw_pair(RmwOp.SWAP, lambda t: t + 1), "P0:r0=0 P1:r1=0"),
    ("cas-ignores-failure", rmw_pair(RmwOp.CAS, lambda t: 1, 0), "P0:r0=1 P1:r1=1"),
])
def test_mutant_shows_a_forbidden_outcome(mutant, program, bad):
    pattern = Pattern.parse(bad)
    allowed = tso_allowed(program)
    assert not any(pattern.matches(o) for o in allowed)   # the outcome is really forbidden
    assert run(program, iterations=200_000).count(pattern) == 0    # the correct runtime
    h = until(program, lambda h: h.count(pattern) > 0, seconds=30, mutant=mutant)
    assert h.count(pattern) > 0, f"{mutant}: no {bad} in {h.total} iterations"


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs,message", [
    (dict(iterations=0), "iterations must be an int >= 1"),
    (dict(iterations=-5), "iterations must be an int >= 1"),
    (dict(iterations=1.5), "iterations must be an int >= 1"),
    (dict(seconds=0), "seconds must be a finite number > 0"),
    (dict(), "exactly one of iterations=N or seconds=S \\(got neither\\)"),
    (dict(iterations=5, seconds=1), "got both"),
    (dict(iterations=5, mutant="no-such"), "unknown mutant 'no-such'; known mutants:\n  sc-store"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(RuntimeUsageError, match=message):
        run(CORR, **kwargs)


def test_more_threads_than_cpus():
    n = len(available_cpus()) + 1
    p = Program("many", atomics("x"), tuple(Thread((Store("x", t, RLX),)) for t in range(n)))
    with pytest.raises(RuntimeUsageError, match=f"{n} threads but only {n - 1} CPUs.*oversubscribe=True"):
        run(p, iterations=10)
    h = run(p, iterations=2000, oversubscribe=True)
    assert h.total == 2000 and h.info["cpus"] is None
    assert {o.memory("x") for o in h.counts} <= set(range(n))


def test_schedule_cpus_must_be_usable():
    with pytest.raises(RuntimeUsageError, match="may not use"):
        run(CORR, iterations=10, schedule=Schedule(cpus=(0, 100_000)))


def test_go_primitives_run_natively_and_on_pythreads():
    p = Program("locked", (Mutex("mu"),) + atomics("x"), (
        Thread((Lock("mu", line=12), Store("x", 1, RLX), Unlock("mu"))),))
    assert run(p, iterations=10).counts == {Outcome.make({}, {"x": 1}): 10}
    assert pythreads.run(p, iterations=10).counts == {Outcome.make({}, {"x": 1}): 10}


# ---------------------------------------------------------------- Ctrl-C


def test_ctrl_c_stops_a_long_run():
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    began = time.monotonic()
    timer.start()
    try:
        with ctrl_c_raises(), pytest.raises(KeyboardInterrupt):
            run(sb(), seconds=30)
    finally:
        timer.cancel()
    assert time.monotonic() - began < 15  # far from the 30 s run, even on a busy machine


# ---------------------------------------------------------------- pythreads baseline


def test_pythreads_agrees_with_sc_on_sb():
    models = pytest.importorskip("stressmm.models")
    h = pythreads.run(sb(), iterations=300)
    assert h.total == 300 and h.backend == "pythreads"
    assert h.outside(models.get_model("sc").allowed(sb()).outcomes) == {}


def test_a_stuck_await_does_not_hold_a_timed_run_past_its_deadline():
    # Every instance of the largest round (4096) would spin its whole budget: uncut, tens of
    # seconds. The deadline (and Ctrl-C) must cut the round short, and the unfinished waits
    # count as timeouts; the bound is generous for a busy machine.
    stuck = Program("stuck", (Var("f", atomic=True),), (
        Thread((Await("f", 1, Order.SEQ_CST),)),))
    start = time.monotonic()
    h = run(stuck, seconds=0.1, schedule=Schedule(batch=MAX_BATCH))
    assert time.monotonic() - start < 3.0
    assert set(h.counts) == {Outcome.flagged("timeout")}


@pytest.mark.skipif(len(available_cpus()) < 1, reason="needs a CPU")
def test_two_threads_pinned_to_one_cpu_yield_instead_of_timing_out():
    cpu = available_cpus()[0]
    a = Var("f", atomic=True)
    mp = Program("MP+await", (Var("x"), a), (
        Thread((Store("x", 1), Store("f", 1, Order.RELEASE))),
        Thread((Await("f", 1, Order.ACQUIRE), Load("r0", "x")))))
    h = run(mp, iterations=2000, schedule=Schedule(cpus=(cpu, cpu), batch=64), oversubscribe=True)
    assert h.info["oversubscribe"] is True
    assert h.count(Outcome.flagged("timeout")) == 0
    assert h.total == 2000
