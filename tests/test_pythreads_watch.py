"""The pythreads deadlock watcher: a user's primitive whose threads are slow -- asleep inside a
call, starved of the GIL or of a CPU, woken but not yet resumed -- is never judged deadlocked,
and a real deadlock still is. A false `deadlock` is a counterexample against a correct class."""
import sys
import threading
import time
from pathlib import Path

import pytest

from stressmm.models import get_model
from stressmm.outcome import Outcome
from stressmm.runtime import pythreads
from stressmm.schedule import Schedule
from stressmm.syntax import parse

NAP = pythreads.DEADLOCK_SECONDS * 1.5    # longer than the watcher's window
DEADLOCK = Outcome.flagged("deadlock")
TIMEOUT = Outcome.flagged("timeout")
TICKET = f"{Path(__file__).resolve().parent.parent / 'examples' / 'impls' / 'ticket_lock.py'}:TicketLock"
LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"),
                           reason="deadlock inside user calls is proven from /proc (Linux)")

READY = parse('''litmus Ready "data and flag guarded by one mutex"
var data, ready int
mutex mu
P0:
  mu.Lock()
  data = 1
  ready = 1
  mu.Unlock()
P1:
  mu.Lock()
  r0 = ready
  r1 = data
  mu.Unlock()
''')[0]

THREE = parse('''litmus Three "three threads on one mutex"
var x int
mutex mu
P0:
  mu.Lock()
  x = 1
  mu.Unlock()
P1:
  mu.Lock()
  r0 = x
  mu.Unlock()
P2:
  mu.Lock()
  x = 2
  mu.Unlock()
''')[0]

INVERSION = parse('''litmus Inversion "two locks taken in opposite orders"
mutex mu, nu
P0:
  mu.Lock()
  nu.Lock()
  nu.Unlock()
  mu.Unlock()
P1:
  nu.Lock()
  mu.Lock()
  mu.Unlock()
  nu.Unlock()
''')[0]


def here(name):
    return f"{__file__}:{name}"


def forbidden(prog, h):
    return h.outside(get_model("go").allowed(prog).outcomes)


# ---------------------------------------------------------------- correct but slow classes


class NapsInUnlock:
    """A correct lock whose unlock() naps longer than the watcher's window before releasing:
    the other thread waits on a plain lock meanwhile, and only the nap will end it."""

    def __init__(self):
        self._m = threading.Lock()

    def lock(self):
        self._m.acquire()

    def unlock(self):
        time.sleep(NAP)
        self._m.release()


class SpinsWhileHolderNaps:
    """A correct test-and-set lock that spins (yielding) while the holder naps in unlock()."""

    def __init__(self):
        self._m = threading.Lock()

    def lock(self):
        while not self._m.acquire(False):
            time.sleep(0)

    def unlock(self):
        time.sleep(NAP)
        self._m.release()


class _ResumesSlowly:
    """The lock of a Condition whose waiter, once notified, takes NAP seconds to come out of
    wait(): it stands for a woken thread still waiting for a CPU or the GIL. Meanwhile the
    waiter sits in Condition.wait() with its wait lock taken again, as an un-notified one
    does. (The condition's lock is not taken back after the wait: the lock below keeps its
    own state under it and has one waiter at most, so it stays correct.)"""

    def __init__(self):
        self._lock = threading.Lock()

    def acquire(self, blocking=True, timeout=-1):
        return self._lock.acquire(blocking, timeout)

    __enter__ = acquire

    def release(self):
        if self._lock.locked():
            self._lock.release()

    def __exit__(self, *exc):
        self.release()

    def _release_save(self):
        self._lock.release()
        return NAP

    _acquire_restore = time.sleep      # C code: no line of Python runs while it naps


class CondLock:
    """A correct lock on a condition (no timeout)."""

    def __init__(self):
        self._cv = threading.Condition()
        self._held = False

    def lock(self):
        with self._cv:
            while self._held:
                self._cv.wait()
            self._held = True

    def unlock(self):
        with self._cv:
            self._held = False
            self._cv.notify_all()


class NotifiedWaiterResumesSlowly(CondLock):
    """A correct lock on a condition whose notified waiter resumes late (_ResumesSlowly)."""

    def __init__(self):
        super().__init__()
        self._cv = threading.Condition(_ResumesSlowly())


class NeverUnlocks(NapsInUnlock):
    """unlock() does not release: the next lock() blocks for ever on a plain lock."""

    def unlock(self):
        pass


class LosesUnlocks(SpinsWhileHolderNaps):
    """A spin lock whose unlock() is lost: the next locker spins for ever."""

    def unlock(self):
        pass


class NapsForEver:
    """lock() never returns and never settles into a wait (naps between rounds)."""

    rounds = 0

    def lock(self):
        while True:
            type(self).rounds += 1
            time.sleep(0.05)

    def unlock(self):
        pass


# ---------------------------------------------------------------- no false deadlock


@pytest.mark.parametrize("cls", ["NapsInUnlock", "SpinsWhileHolderNaps"])
def test_a_call_that_naps_past_the_window_is_slow_not_deadlocked(cls):
    # The holder sleeps in unlock() longer than the window while the other thread waits (on
    # a plain lock, or spinning): asleep is not blocked -- the nap ends by itself.
    h = pythreads.run(READY, iterations=2, impl=(here(cls),))
    assert h.total == 2 and forbidden(READY, h) == {}, (h.counts, h.info)
    assert h.count(DEADLOCK) == 0


def test_a_notified_waiter_that_resumes_late_is_not_taken_for_an_unnotified_one():
    # Once notified, a waiter takes its wait lock back before it leaves Condition.wait(); if
    # it then waits for a CPU (here: naps) it looks un-notified from the outside.
    h = pythreads.run(READY, iterations=3, impl=(here("NotifiedWaiterResumesSlowly"),))
    assert h.total == 3 and forbidden(READY, h) == {}, (h.counts, h.info)
    assert h.count(DEADLOCK) == 0


def _gil_hog(stop: threading.Event, seconds: float) -> threading.Thread:
    """A thread that holds the GIL in C code for about `seconds` at a time until `stop`."""
    n = 10 ** 6
    began = time.monotonic()
    sum(range(n))
    per_item = max(time.monotonic() - began, 1e-4) / n
    chunk = range(int(seconds / per_item))

    def hog():
        while not stop.is_set():
            sum(chunk)          # one C call: no thread switch until it returns
            time.sleep(0.05)
    th = threading.Thread(target=hog, daemon=True)
    th.start()
    return th


@pytest.mark.parametrize("impl", [TICKET, here("CondLock")], ids=["TicketLock", "CondLock"])
def test_threads_starved_of_the_gil_are_never_taken_for_a_deadlock(impl):
    # A thread of the test process holds the GIL for 0.3-0.7 s at a time: every iteration
    # thread waits for it, runs no line, and is asleep in the kernel meanwhile.
    stop = threading.Event()
    hogs = [_gil_hog(stop, s) for s in (0.3, 0.7)]
    try:
        for prog in (READY, THREE):
            h = pythreads.run(prog, seconds=3, impl=(impl,),
                              schedule=Schedule(delays=((0, 4),) * 3, seed=3))
            # Slow may cost a timeout (a call still running 3 s on), never a deadlock.
            assert set(forbidden(prog, h)) <= {TIMEOUT}, (h.counts, h.info)
            assert h.count(DEADLOCK) == 0
    finally:
        stop.set()
        for th in hogs:
            th.join(timeout=5)


# ---------------------------------------------------------------- real deadlocks still found


@LINUX
@pytest.mark.parametrize("cls", ["NeverUnlocks", "LosesUnlocks"])
def test_a_lock_that_is_never_released_is_still_a_deadlock(cls):
    h = pythreads.run(READY, iterations=3, impl=(here(cls),))
    assert h.counts == {DEADLOCK: 3}, (h.counts, h.info)
    assert "stuck" not in h.info


@LINUX
def test_a_lock_order_inversion_on_a_condition_lock_is_found_quickly():
    b = time.monotonic()
    seen = 0
    for seed in range(20):
        h = pythreads.run(INVERSION, iterations=50, impl=(here("CondLock"),),
                          schedule=Schedule(delays=((0, 4), (0, 4)), seed=seed))
        assert set(h.counts) <= get_model("go").allowed(INVERSION).outcomes | {DEADLOCK}
        seen += h.count(DEADLOCK)
        if seen:
            break
    assert seen, "the inversion never deadlocked in 20 runs of 50"
    assert not h.info.get("left_behind"), h.info
    assert time.monotonic() - b < 60


# ---------------------------------------------------------------- nothing left running


def test_a_stuck_call_is_stopped_when_the_run_gives_up():
    # A call that neither returns nor waits ends the run as `timeout`; its thread must not
    # go on running the user's loop in the background afterwards.
    impl = {"mutex": pythreads.Impl("mutex", here("NapsForEver"), NapsForEver)}  # this class
    h = pythreads.run(READY, iterations=10, impl=impl)
    assert TIMEOUT in h.counts and "stuck" in h.info
    before = NapsForEver.rounds
    time.sleep(0.5)
    assert NapsForEver.rounds - before <= 1


def test_a_process_holds_a_bounded_number_of_threads_left_behind(monkeypatch):
    # Each deadlock on NeverUnlocks leaves a thread blocked for good on a plain lock. Runs for
    # some seconds are capped too, and a process stops adding to its stranded threads.
    held = pythreads._stranded()
    monkeypatch.setattr(pythreads, "MAX_STRANDED", held + 3)
    h = pythreads.run(READY, seconds=60, impl=(here("NeverUnlocks"),))
    assert "capped" in h.info and h.elapsed < 30, h.info
    assert h.info["left_behind"] >= 1 and pythreads._stranded() <= held + 3 + 2
    again = pythreads.run(READY, iterations=100, impl=(here("NeverUnlocks"),))
    assert again.total == 1 and again.info["left_behind"] == 1, again.info
    assert "start a new process" in again.info["capped"]
