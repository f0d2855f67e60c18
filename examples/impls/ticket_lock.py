"""A ticket lock: each locker takes the next ticket and waits until it is served, so the lock
is granted in arrival order. Correct: `stressmm fuzz --go --impl
examples.impls.ticket_lock:TicketLock` finds nothing.

    >>> lock = TicketLock()
    >>> lock.lock(); lock.unlock()
    >>> lock.unlock()
    Traceback (most recent call last):
    ...
    RuntimeError: sync: unlock of unlocked mutex
"""
import itertools
import threading


class TicketLock:
    """mutex role: lock() / unlock(), as sync.Mutex."""

    def __init__(self):
        self._tickets = itertools.count()   # next() on it is one C call: atomic under the GIL
        self._serving = 0                   # the ticket allowed in; changed under _cv only
        self._held = False
        self._cv = threading.Condition()

    def lock(self):
        mine = next(self._tickets)
        with self._cv:
            while self._serving != mine:
                self._cv.wait()
            self._held = True

    def unlock(self):
        with self._cv:
            if not self._held:   # Go: "fatal error: sync: unlock of unlocked mutex"
                raise RuntimeError("sync: unlock of unlocked mutex")
            self._held = False
            self._serving += 1
            self._cv.notify_all()
