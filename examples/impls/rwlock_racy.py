"""A reader-writer lock whose reader count is not protected: a reader checks that no writer
holds the lock, *then* counts itself in. A writer that takes the lock between the two sees no
reader and enters beside it, so the reader can see half of the writer's update. Broken on
purpose: `stressmm fuzz --go --impl examples.impls.rwlock_racy:RacyRWLock` finds it (a torn
read, forbidden by the Go memory model).

    >>> rw = RacyRWLock()
    >>> rw.rlock(); rw.runlock(); rw.lock(); rw.unlock()
"""
import threading
import time


class RacyRWLock:
    """rwmutex role: rlock() / runlock() / lock() / unlock(), as sync.RWMutex."""

    def __init__(self):
        self._writer = threading.Lock()   # held by the writer for its whole section
        self._readers = 0                 # BUG: read and written without any lock

    def rlock(self):
        with self._writer:                # wait until no writer is inside...
            pass
        self._readers += 1                # ...but a writer may enter right here

    def runlock(self):
        if self._readers <= 0:
            raise RuntimeError("sync: RUnlock of unlocked RWMutex")
        self._readers -= 1

    def lock(self):
        self._writer.acquire()
        while self._readers:              # wait for the readers to leave
            time.sleep(0)

    def unlock(self):
        if not self._writer.locked():
            raise RuntimeError("sync: Unlock of unlocked RWMutex")
        self._writer.release()
