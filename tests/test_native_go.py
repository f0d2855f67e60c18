"""The native Go primitives (mutex, rwmutex, channels, once, waitgroup) and their mutants.

The runtime must never show an outcome the `go` model forbids (for racy programs: one the
`tso` model forbids, which is what x86 gives plain accesses); deadlocks and panics are outcomes
of their own and never hang a run; each mutant shows a go-forbidden outcome on its program.
`timeout` is a run-time accident (a thread descheduled past the spin budget), never checked.
Hardware tests assert what must always hold, or what holds with overwhelming probability
within generous budgets, so they pass when the other core is busy."""
import os
import signal
import textwrap
import threading
import time
from pathlib import Path

import pytest

from stressmm import _native
from stressmm.models import get_model
from stressmm.outcome import Outcome
from stressmm.program import (Chan, Close, Load, Lock, Mutex, Once, OnceDo, Program,
                              RLock, RUnlock, Recv, Send, Store, Thread, Unlock, Var, WaitGroup,
                              WgAdd, WgDone, WgWait)
from stressmm.runtime import RuntimeUsageError, available_cpus
from stressmm.runtime.compile import compile_program, opcode_name
from stressmm.runtime.native import MUTANTS, run
from stressmm.schedule import Schedule

from hardware import ctrl_c_raises, until
from released_locks import RUNLOCK_RELEASED, UNLOCK_RELEASED
from stressmm.syntax import parse, parse_file

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios" / "go").glob("*.litmus"))
TWO_CPUS = pytest.mark.skipif(len(available_cpus()) < 2,
                              reason="needs 2 CPUs to run two pinned program threads")
TIMEOUT = Outcome.flagged("timeout")
DEADLOCK = Outcome.flagged("deadlock")
PANIC = Outcome.flagged("panic")


def reference(program):
    """The outcomes the runtime may show: go's, or tso's when go reports a data race."""
    go = get_model("go").allowed(program)
    return get_model("tso").allowed(program).outcomes if go.races else go.outcomes


def forbidden(histogram, allowed):
    """Observed outcomes outside `allowed`, timeouts aside."""
    return {str(o): n for o, n in histogram.outside(allowed).items() if o != TIMEOUT}


def scenario(name):
    return parse_file(next(p for p in SCENARIOS if p.stem == name))[0]


# ---------------------------------------------------------------- compiler


def test_once_compiles_to_begin_body_end_with_a_jump_past_the_end():
    p = Program("once", (Var("x"), Var("y"), Once("o")), (Thread((
        OnceDo("o", (Store("x", 1), Store("y", 2))), Load("r0", "x"))),))
    ins = compile_program(p).threads[0].instructions()
    assert [opcode_name(i[0]) for i in ins] == ["ONCE_BEGIN", "STORE_PLAIN", "STORE_PLAIN",
                                                "ONCE_END", "LOAD_PLAIN"]
    assert ins[0][4] == 4 and ins[0][1] == ins[3][1]


def mutex_pair(rw):
    return Program("m", (Var("x"), Mutex("m", rw=rw)), (
        Thread((Lock("m"), Store("x", 1), Unlock("m"))),))


@pytest.mark.parametrize("mutant,program,before,after", [
    ("mutex-nonatomic-tas", mutex_pair(False), {"LOCK", "UNLOCK"},
     {"MUT_LOCK_TAS", "MUT_UNLOCK_STORE"}),
    ("mutex-nonatomic-tas", mutex_pair(True), {"LOCK", "UNLOCK"}, {"LOCK", "UNLOCK"}),
    ("rwmutex-writer-beside-reader", mutex_pair(True), {"LOCK"}, {"MUT_LOCK_BESIDE_READER"}),
    ("rwmutex-writer-beside-reader", mutex_pair(False), {"LOCK"}, {"LOCK"}),
])
def test_mutex_mutants_rewrite_only_their_kind(mutant, program, before, after):
    def names(m):
        return {opcode_name(i[0]) for i in compile_program(program, m).threads[0].instructions()}
    assert before <= names(None)
    assert after <= names(mutant)


def test_channel_mutants_rewrite_only_their_channels():
    p = Program("c", (Chan("u", 0), Chan("b", 2)), (
        Thread((Send("u", 1), Send("b", 2), Recv("b", "r0"))),))

    def code(m):
        return [(opcode_name(i[0]), i[4]) for i in compile_program(p, m).threads[0].instructions()]
    assert code(None) == [("SEND", 0), ("SEND", 2), ("RECV", 2)]
    assert code("chan-unbuffered-as-buffered") == [("SEND", 1), ("SEND", 2), ("RECV", 2)]
    assert code("chan-slot-nonatomic") == [("SEND", 0), ("MUT_SEND_NONATOMIC", 2),
                                           ("MUT_RECV_NONATOMIC", 2)]


def test_every_go_mutant_is_documented():
    go = {"mutex-nonatomic-tas", "chan-unbuffered-as-buffered", "chan-slot-nonatomic",
          "once-twice", "wg-early", "rwmutex-writer-beside-reader"}
    assert go <= set(MUTANTS)
    assert all(MUTANTS[m] for m in go)


# ---------------------------------------------------------------- single-thread semantics


def test_single_thread_semantics_of_every_primitive():
    p = Program("seq", (Var("x"), Chan("c", 2), Chan("u", 0), Mutex("m"), Mutex("rw", rw=True),
                        Once("o"), WaitGroup("wg")), (Thread((
        Send("c", 7), Send("c", 8), Recv("c", "a"), Close("c"),
        Recv("c", "b", "bok"), Recv("c", "d", "dok"),         # drains 8, then 0 with ok 0
        Close("u"), Recv("u", "e", "eok"),                    # closed unbuffered: 0, ok 0
        Lock("m"), Store("x", 1), Unlock("m"), Lock("m"), Unlock("m"),
        RLock("rw"), RUnlock("rw"), Lock("rw"), Unlock("rw"),
        OnceDo("o", (Store("x", 2), Load("f", "x"))),
        OnceDo("o", (Store("x", 3), Load("g", "x"))),         # skipped: g stays 0
        WgAdd("wg", 2), WgDone("wg"), WgDone("wg"), WgWait("wg"),
    )),))
    expected = Outcome.make({(0, "a"): 7, (0, "b"): 8, (0, "bok"): 1, (0, "d"): 0,
                             (0, "dok"): 0, (0, "e"): 0, (0, "eok"): 0, (0, "f"): 2,
                             (0, "g"): 0}, {"x": 2})
    assert get_model("sc").allowed(p).outcomes == {expected}
    for layout in ("spread", "packed"):
        h = run(p, iterations=3000, schedule=Schedule(layout=layout, batch=7))
        assert h.counts == {expected: 3000}


@pytest.mark.parametrize("ops,decls,flag", [
    ((Close("c"), Send("c", 1)), (Chan("c", 1),), PANIC),        # send on closed channel
    ((Close("c"), Close("c")), (Chan("c", 0),), PANIC),          # close of closed channel
    ((WgDone("wg"),), (WaitGroup("wg"),), PANIC),                # negative counter
    ((Recv("c", "r0"),), (Chan("c", 0),), DEADLOCK),             # nobody sends
    ((Send("c", 1),), (Chan("c", 0),), DEADLOCK),                # nobody receives
    ((Send("c", 1), Send("c", 2)), (Chan("c", 1),), DEADLOCK),   # buffer full
    ((WgAdd("wg", 1), WgWait("wg")), (WaitGroup("wg"),), DEADLOCK),
])
def test_panics_and_deadlocks_are_outcomes(ops, decls, flag):
    p = Program("flagged", decls, (Thread(ops),))
    began = time.monotonic()
    h = run(p, iterations=2000)
    assert h.counts == {flag: 2000}
    assert time.monotonic() - began < 60  # bounded by spins: generous for a busy machine


# ---------------------------------------------------------------- scenarios on hardware


@TWO_CPUS
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_shows_only_model_outcomes(path):
    for program in parse_file(path):
        allowed = reference(program)
        for n, schedule in ((40_000, Schedule()),
                            (10_000, Schedule(layout="packed", delays=((0, 40), (0, 40))))):
            # More threads than CPUs (Deadlock+rwmutex-writer) run unpinned: this test asks
            # only that nothing forbidden shows.
            h = run(program, iterations=n, schedule=schedule,
                    oversubscribe=len(program.threads) > len(available_cpus()))
            assert h.total == n
            assert forbidden(h, allowed) == {}, f"{program.name} {schedule}"


@TWO_CPUS
def test_lock_order_inversion_deadlocks_without_hanging():
    p = scenario("Deadlock+lockorder")
    began = time.monotonic()
    h = until(p, lambda h: h.counts.get(DEADLOCK, 0) > 0, seconds=20)
    assert h.counts.get(DEADLOCK, 0) > 0
    # every other iteration ran to its end from clean state (no register, no variable)
    assert set(h.counts) <= {DEADLOCK, Outcome.make({}, {}), TIMEOUT}
    assert h.counts.get(Outcome.make({}, {}), 0) > 0
    assert time.monotonic() - began < 60  # the 20 s search, never a hang


@TWO_CPUS
def test_close_twice_always_panics():
    h = run(scenario("Close+twice"), iterations=50_000)
    assert set(h.counts) <= {PANIC, TIMEOUT} and h.counts.get(PANIC, 0) > 49_000


@TWO_CPUS
@pytest.mark.parametrize("prog", [UNLOCK_RELEASED, RUNLOCK_RELEASED], ids=lambda p: p.name)
def test_unlock_of_a_mutex_another_thread_released_panics(prog):
    h = run(prog, iterations=5000)
    assert set(h.counts) <= {PANIC, TIMEOUT} and h.counts.get(PANIC, 0) > 4000


# P0 spins on a flag nobody sets, so its await runs out of budget and stops the iteration;
# meanwhile P1 waits for the value P0 would send after it.
AWAIT_BESIDE_RECV = parse("""
litmus AwaitBesideRecv "a spinning await beside a receive it would have satisfied"
var f atomic int
chan c 0
P0:
  for atomic.Load(&f) == 0 {}
  c <- 1
P1:
  r0 = <-c
""")[0]


@TWO_CPUS
def test_a_thread_stopped_by_a_timeout_is_never_taken_for_a_finished_one():
    # Each iteration ends as a `timeout`: P0 stops (its await's budget), and P1, left waiting,
    # is stopped with it. P1 must not take the stopped P0 for a finished thread and call its
    # own wait a deadlock: under load, the same race turned a correct program whose thread was
    # descheduled past its grace into a `deadlock` the go model forbids. P1 looks for a
    # deadlock every few microseconds, so on the unfixed runtime about one iteration in 150
    # showed it.
    h = run(AWAIT_BESIDE_RECV, iterations=3000, schedule=Schedule(batch=4))
    assert h.counts == {TIMEOUT: 3000}


@TWO_CPUS
def test_deadlocking_run_is_bounded_by_seconds():
    p = Program("stuck", (Chan("c", 0),), (Thread((Recv("c"),)), Thread((Recv("c"),))))
    began = time.monotonic()
    h = run(p, seconds=0.5)
    assert time.monotonic() - began < 15  # bounded, even on a busy machine
    assert h.total > 0 and set(h.counts) <= {DEADLOCK, TIMEOUT}


def test_more_threads_than_cpus_with_channels():
    n = len(available_cpus()) + 1
    p = Program("fan-in", (Chan("c", 1),), tuple(
        [Thread(tuple(Recv("c", f"r{i}") for i in range(n - 1)))]
        + [Thread((Send("c", t),)) for t in range(1, n)]))
    h = run(p, iterations=500, oversubscribe=True)
    assert h.total == 500 and h.info["cpus"] is None
    assert forbidden(h, get_model("sc").allowed(p).outcomes) == {}


def test_ctrl_c_stops_a_deadlocking_run():
    p = Program("stuck", (Chan("c", 0),), (Thread((Recv("c"),)),))
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    began = time.monotonic()
    timer.start()
    try:
        with ctrl_c_raises(), pytest.raises(KeyboardInterrupt):
            run(p, seconds=30)
    finally:
        timer.cancel()
    assert time.monotonic() - began < 15  # far from the 30 s run, even on a busy machine


# ---------------------------------------------------------------- mutants


MUTANT_PROGRAMS = {
    # both critical sections at once: each sees the other's write, or neither
    "mutex-nonatomic-tas": """
        litmus SB+mutex
        var a, b int
        mutex mu
        P0:
          mu.Lock()
          a = 1
          r0 = b
          mu.Unlock()
        P1:
          mu.Lock()
          b = 1
          r1 = a
          mu.Unlock()
        """,
    "rwmutex-writer-beside-reader": """
        litmus SB+rwmutex
        var a, b int
        rwmutex rw
        P0:
          rw.RLock()
          a = 1
          r0 = b
          rw.RUnlock()
        P1:
          rw.Lock()
          b = 1
          r1 = a
          rw.Unlock()
        """,
    "chan-unbuffered-as-buffered": "MP+unbuffered-recv",
    "wg-early": "MP+waitgroup",
    "once-twice": """
        litmus Once+count
        var n atomic int
        once o
        P0:
          o.Do { atomic.Add(&n, 1) }
        P1:
          o.Do { atomic.Add(&n, 1) }
        """,
    # a lost slot (then a receive that never gets a value: deadlock) or a duplicated value
    "chan-slot-nonatomic": """
        litmus Chan+ring
        chan ch 2
        P0:
          ch <- 1
          r0 = <-ch
        P1:
          ch <- 2
          r1 = <-ch
        """,
    # One per clause of docs/contracts.md.
    "add-returns-old": "P0: r0 = atomic.Add(&a, 2) | P1: r1 = atomic.Load(&a)",
    "add-drops-sign": "P0: r0 = atomic.Add(&a, -1) | P1: r1 = atomic.Load(&a)",
    "swap-returns-new": "P0: r0 = atomic.Swap(&a, 2) | P1: r1 = atomic.Load(&a)",
    "cas-compares-new": "P0: r0 = atomic.CAS(&a, 0, 1) | P1: r1 = atomic.Load(&a)",
    # the second sections of both threads at once
    "mutex-relock-not-atomic": "P0: mu.Lock(); mu.Unlock(); mu.Lock(); x = 1; r0 = y; mu.Unlock()"
                               " | P1: mu.Lock(); mu.Unlock(); mu.Lock(); y = 1; r1 = x;"
                               " mu.Unlock()",
    # the waiter is never woken: a deadlock
    "mutex-unlock-no-wake": "P0: mu.Lock(); x = 1; x = 2; x = 3; mu.Unlock()"
                            " | P1: mu.Lock(); r0 = x; mu.Unlock()",
    "rwmutex-rlock-check-then-add": "P0: rw.RLock(); x = 1; r0 = y; rw.RUnlock()"
                                    " | P1: rw.Lock(); y = 1; r1 = x; rw.Unlock()",
    # two readers must hold the lock together for the rendezvous
    "rwmutex-readers-exclusive": "P0: rw.RLock(); c <- 1; rw.RUnlock()"
                                 " | P1: rw.RLock(); r0 = <-c; rw.RUnlock()",
    "rwmutex-runlock-drops-all": "P0: rw.RLock(); rw.RUnlock(); rw.Lock(); x = 1; rw.Unlock()"
                                 " | P1: rw.RLock(); r0 = x; r1 = x; rw.RUnlock()",
    "chan-unbuffered-dup-recv": "P0: c <- 1 | P1: r0 = <-c; r1 = <-c",
    "chan-lifo": "P0: d <- 1; d <- 2 | P1: r0 = <-d; r1 = <-d",
    "chan-full-send-drops": "P0: e <- 1; e <- 2 | P1: r0 = <-e; r1 = <-e",
    "chan-empty-recv-zero": "P0: e <- 1 | P1: r0 = <-e",
    "chan-unbuffered-recv-no-wait": "P0: c <- 1 | P1: r0 = <-c",
    "cas-not-atomic": "P0: r0 = atomic.CAS(&a, 0, 1) | P1: r1 = atomic.CAS(&a, 0, 1)",
    "chan-closed-recv-ok": "P0: close(c) | P1: r0, r1 = <-c",
    "chan-close-drops-buffer": "P0: e <- 1; close(e) | P1: r0, r1 = <-e",
    "chan-close-twice-ok": "P0: close(c) | P1: close(c)",
    "chan-send-closed-ok": "P0: close(e); e <- 1 | P1: r0 = <-e",
    "chan-close-no-wake": "P0: x = 1; close(c) | P1: <-c; r0 = x",
    "once-end-resets": "P0: o.Do { r0 = atomic.Add(&a, 1) } | P1: o.Do { r1 = atomic.Add(&a, 1) }",
    "once-done-early": "P0: o.Do { x = 1 } | P1: o.Do { x = 2 }; r0 = x",
    "wg-add-unit": "P0: wg.Add(2); wg.Done(); wg.Done() | P1: wg.Wait()",
    "wg-negative-no-panic": "P0: wg.Done() | P1: wg.Wait()",
    "wg-wake-one": "P0: wg.Wait() | P1: wg.Wait()",
    "wg-wait-no-recheck": "P0: wg.Add(2); wg.Wait() | P1: wg.Done()",
}

_SHORT_DECLS = ("var x, y int\nvar a atomic int\nmutex mu\nrwmutex rw\nchan c 0\n"
                "chan d 2\nchan e 1\nonce o\nwaitgroup wg\n")


def short_program(mutant, text):
    """A two-thread program written on one line, "P0: op; op | P1: op", over the shared
    declarations above (the unused ones dropped)."""
    from stressmm.strategies.programs import _used

    threads = "".join(f"{part.split(':', 1)[0].strip()}:\n  {part.split(':', 1)[1].strip()}\n"
                      for part in text.split(" | "))
    p = parse(f"litmus {mutant}\n{_SHORT_DECLS}{threads}")[0]
    return Program(p.name, _used(p.decls, tuple(t.ops for t in p.threads)), p.threads)


def mutant_program(mutant):
    text = MUTANT_PROGRAMS[mutant]
    if " | " in text:
        return short_program(mutant, text)
    if "\n" not in text:
        return scenario(text)
    return parse(textwrap.dedent(text))[0]


@TWO_CPUS
@pytest.mark.parametrize("mutant", sorted(MUTANT_PROGRAMS))
def test_mutant_shows_a_go_forbidden_outcome(mutant):
    program = mutant_program(mutant)
    go = get_model("go").allowed(program)
    assert go.races == ()
    sc = get_model("sc").allowed(program).outcomes
    correct = run(program, iterations=100_000)
    assert forbidden(correct, go.outcomes) == {}
    h = until(program, lambda h: forbidden(h, go.outcomes) != {}, seconds=30, mutant=mutant)
    bad = forbidden(h, go.outcomes)
    assert bad, f"{mutant}: no go-forbidden outcome in {h.total} iterations"
    assert forbidden(h, sc) != {}


@TWO_CPUS
@pytest.mark.parametrize("text", ["P0: x = 1; c <- 1 | P1: <-c; r0 = x",
                                  "P0: x = 1; e <- 1 | P1: <-e; r0 = x"])
def test_chan_send_closed_ok_leaves_a_send_on_an_open_channel_as_it_is(text):
    # the mutant breaks the send on a closed channel only: message passing over an open
    # channel (unbuffered, buffered) runs every iteration to an outcome go allows
    program = short_program("chan-send-closed-ok", text)
    h = run(program, iterations=500, mutant="chan-send-closed-ok")
    assert forbidden(h, get_model("go").allowed(program).outcomes) == {}


# ---------------------------------------------------------------- bad input


def test_too_many_channel_words_is_a_clear_error():
    chans = tuple(Chan(f"c{i}", 64) for i in range(130))
    p = Program("big", chans, (Thread((Send("c0", 1),)),))
    with pytest.raises(RuntimeUsageError, match=r"words per test instance; at most \d+"):
        run(p, iterations=1)


def _spec(code):
    from array import array
    return [(array("i", code), (0, 0, 1), 1, 0, 0)]


@pytest.mark.parametrize("insn,message", [
    (("ONCE_BEGIN", 3, 1, 0, 0), "once jump target out of range"),
    (("SEND", 3, 1, 2, 65), "channel capacity out of range"),
    (("SEND", 3, 1, 2, 8), "channel words out of range"),
    (("RECV", 3, 0, 2, 1), "ok register out of range"),
    (("MUT_SEND_NONATOMIC", 3, 1, 2, 0), "this channel mutant needs a capacity"),
])
def test_executor_rejects_bad_sync_instructions(insn, message):
    code = [_native.OPCODES[insn[0]], *insn[1:]]
    init = [0] * 9     # no variables, control block at 0 (3 words), a channel at 3 (6 words)
    with pytest.raises(ValueError, match=message):
        _native.execute(_spec(code), init, 0, 0, True, 1, 1, 0.0, None, 1000, False, 0)


def test_executor_rejects_a_control_block_that_does_not_fit():
    with pytest.raises(ValueError, match="control block"):
        _native.execute(_spec([]), [0, 0], 0, 0, True, 1, 1, 0.0, None, 1000, False, 0)


def test_every_mutant_but_the_memory_order_ones_has_a_program_here():
    # sc-store-no-fence, sc-fence-noop, add/swap-not-atomic, cas-ignores-failure are shown by
    # the memory-model tests (test_native.py) on their classic shapes.
    memory_order = {"sc-store-no-fence", "sc-fence-noop", "add-not-atomic", "swap-not-atomic",
                    "cas-ignores-failure"}
    assert set(MUTANTS) - memory_order == set(MUTANT_PROGRAMS)
