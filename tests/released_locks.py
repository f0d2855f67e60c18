"""Programs in which one thread unlocks a mutex another thread locked and already released:
Go's fatal error "sync: unlock of unlocked mutex" (or its RWMutex form) in every run, on every
runtime. The panic message each runtime reports is in `MESSAGES`."""
from stressmm.syntax import parse

UNLOCK_RELEASED = parse('''litmus Unlock+released "P1 unlocks the mutex P0 locked and released"
mutex mu
chan c
P0:
  mu.Lock()
  mu.Unlock()
  c <- 1
P1:
  r0 = <-c
  mu.Unlock()
''')[0]

RUNLOCK_RELEASED = parse('''litmus RUnlock+released "P1 read-unlocks what P0 read-locked and released"
rwmutex rw
chan c
P0:
  rw.RLock()
  rw.RUnlock()
  c <- 1
P1:
  r0 = <-c
  rw.RUnlock()
''')[0]

# Go's own messages (sync.Mutex.Unlock, sync.RWMutex.RUnlock): the Go backends and pythreads
# report them as they are.
MESSAGES = {"Unlock+released": "sync: unlock of unlocked mutex",
            "RUnlock+released": "sync: RUnlock of unlocked RWMutex"}
