"""A lock whose wake-up can be lost: lock() checks the flag under one lock and then sleeps on
a condition under another, so an unlock() that runs between the two notifies no one, and the
locker sleeps for ever on a free lock. Broken on purpose: `stressmm fuzz --go --impl
examples.impls.lock_lost_wakeup:LostWakeupLock` finds a `deadlock` the Go memory model
forbids (the program cannot deadlock with a correct mutex).

    >>> lock = LostWakeupLock()
    >>> lock.lock(); lock.unlock(); lock.lock(); lock.unlock()
"""
import threading


class LostWakeupLock:
    """mutex role: lock() / unlock(), as sync.Mutex."""

    def __init__(self):
        self._flag = threading.Lock()       # guards _held
        self._held = False
        self._cv = threading.Condition()    # where lockers sleep

    def lock(self):
        while True:
            with self._flag:
                if not self._held:
                    self._held = True
                    return
            with self._cv:                  # BUG: an unlock right here notifies no one
                self._cv.wait()

    def unlock(self):
        with self._flag:
            if not self._held:
                raise RuntimeError("sync: unlock of unlocked mutex")
            self._held = False
        with self._cv:
            self._cv.notify_all()
