/* The Go-style synchronisation primitives of the executor: mutex, rwmutex, channel, once,
 * waitgroup, and their deliberately broken variants ("mutants").
 *
 * Included from executor.c; knows nothing of Python. Every primitive lives in the memory of its
 * test instance (fresh, zeroed state every iteration, like the variables): field k of an object
 * at word offset `p` is the word p[k * stride] (stride 8 = its own cache line in the "spread"
 * layout, 1 in "packed"). Built from C11 atomics (__atomic builtins) and bounded spinning.
 *
 * Blocking. An op that cannot complete now ("try" returns MM_R_WAIT) waits in sync_wait(),
 * which is bounded three ways:
 *   - abort: a per-instance word; a thread that panics, times out or finds a deadlock sets it,
 *     and every waiting thread of that instance leaves at once (status MM_ST_ABORTED);
 *   - deadlock: every unfinished thread is blocked and none can make progress;
 *   - timeout: the spin budget ran out while some thread was still running.
 *
 * Deadlock detection, per instance: a word `epoch`, bumped (seq_cst read-modify-write) after
 * every change of a primitive's state, and one word `state[t]` per thread: 0 while the thread
 * runs, MM_STATE_DONE once it finished its ops, e + 1 while it is blocked after a failed try
 * that started by reading epoch == e. A waiter sets its state to 0, reads the epoch, tries, and
 * publishes e + 1 if the try failed. A checker reads the epoch e, then every state, then the
 * epoch again: if every state is DONE or e + 1 and the epoch is still e, no thread runs and
 * every blocked thread has seen every change, so none can ever proceed: a deadlock. (A change
 * made by a thread between its try and its epoch bump is covered: that thread set its state to
 * 0 before the try, so the checker saw 0, or it saw the older e + 1 and then the bump.) A
 * thread stopped early (its wait timed out, it panicked) also ends with MM_STATE_DONE, after
 * setting the abort word; the checker reads that word last, so a thread whose partner was
 * stopped while it waited (it read the abort word clear just before) ends as aborted, and the
 * iteration as the partner's timeout or panic, never as a deadlock.
 * Spin loops on memory (Await) are not part of this: a thread inside one counts as running, so
 * an iteration stuck in an await ends as `timeout`, never `deadlock`.
 *
 * Descheduled threads. A spin budget runs out in milliseconds, and on a loaded machine a thread
 * can be off its CPU for that long without having published anything: a sure deadlock would
 * then end as `timeout`, and a correct handoff would be cut short. So a wait whose budget ran out
 * while some thread of the instance may still make progress (running, or blocked but not yet
 * aware of the latest change; see all_settled) keeps waiting, for up to
 * MM_GRACE_SECONDS, for that thread to run (wait_over). A thread that truly spins forever
 * marks itself (MM_STATE_AWAIT) when its own budget runs out, so it costs no grace.
 *
 * Happens-before, as the Go memory model requires: a channel's state is guarded by a spinlock
 * (acquire on take, release on give), so a send is ordered before the receive that takes its
 * value, a receive before the completion of the unbuffered send it pairs with, and the k-th
 * receive before the (k+C)-th send's completion; Unlock is a release CAS and Lock an acquire
 * CAS; Once publishes the end of its body with a release store read by acquire loads; Done is
 * a seq_cst add read by Wait's acquire load. The epoch bump (a locked instruction on x86) also
 * makes every primitive op a full barrier, as the tso model assumes. */

enum { MM_ST_OK = 0, MM_ST_ABORTED = 1, MM_ST_TIMEOUT = 2, MM_ST_DEADLOCK = 3, MM_ST_PANIC = 4 };

/* Results of one attempt (sync_try) and of a whole blocking op (sync_op). */
enum { MM_R_DONE = 0, MM_R_SKIP, MM_R_WAIT, MM_R_BUSY, MM_R_PANIC, MM_R_ABORTED, MM_R_TIMEOUT,
       MM_R_DEADLOCK };

#define MM_STATE_DONE (-1)
#define MM_STATE_AWAIT (-2)               /* spinning in an await past its budget */
#define MM_RW_WRITER ((int64_t)1 << 40)   /* mutex word: writer bit | number of readers */
#define MM_MUT_PAUSES 8                    /* window of the non-atomic mutants */
#define MM_RETRY_EVERY 1023                /* a blocked waiter retries at least this often */

/* Channel fields (word offsets, in units of stride). The buffer holds max(capacity, 1) values. */
enum { CH_LOCK = 0, CH_CLOSED, CH_HEAD, CH_COUNT, CH_TAKEN, CH_BUF };
/* the chan-slot-nonatomic mutant keeps head and tail counters in CH_HEAD and CH_COUNT */
#define CH_TAIL CH_COUNT

/* Once states. */
enum { ONCE_NEW = 0, ONCE_RUNNING = 1, ONCE_DONE = 2 };

/* The per-instance view a thread needs to block: its instance's control words and limits. */
typedef struct {
    int64_t *abort, *epoch, *state;   /* state of thread t at state[t * stride] */
    int stride, tid, nthreads;
    long budget;                      /* spins before a wait is a timeout */
    bool yield;                       /* oversubscribed: yield the CPU while waiting */
    const int *hurry;                 /* set at the run's deadline or on Ctrl-C: stop waiting */
    void *user;                       /* user primitives of this thread (impl.c), or NULL */
} mm_sync;

static inline int64_t *field(const mm_sync *sx, int64_t *p, int k)
{
    return p + (size_t)k * (size_t)sx->stride;
}

static inline int64_t ld(int64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void st(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }

/* Publish a change of some primitive's state (see the deadlock detection above). */
static inline void bump(const mm_sync *sx)
{
    __atomic_add_fetch(sx->epoch, 1, __ATOMIC_SEQ_CST);
}

static inline void window(void)
{
    for (int w = 0; w < MM_MUT_PAUSES; w++)
        mm_pause();
}

static inline bool chan_take(int64_t *lock)
{
    int64_t free = 0;
    return __atomic_compare_exchange_n(lock, &free, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static inline void chan_give(int64_t *lock)
{
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------------ one attempt per op */

/* Mutex word: MM_RW_WRITER when write-locked, else the number of readers (0 for a Mutex). */
static int try_lock(int64_t *m)
{
    int64_t free = 0;
    return __atomic_compare_exchange_n(m, &free, MM_RW_WRITER, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED) ? MM_R_DONE : MM_R_WAIT;
}

static int try_unlock(const mm_sync *sx, int64_t *m)
{
    int64_t old = ld(m);
    for (;;) {
        if (!(old & MM_RW_WRITER))
            return MM_R_PANIC;   /* unlock of unlocked mutex */
        if (__atomic_compare_exchange_n(m, &old, old & ~MM_RW_WRITER, false, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED)) {
            bump(sx);
            return MM_R_DONE;
        }
    }
}

static int try_rlock(const mm_sync *sx, int64_t *m)
{
    int64_t old = ld(m);
    if (old & MM_RW_WRITER)
        return MM_R_WAIT;
    if (!__atomic_compare_exchange_n(m, &old, old + 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return MM_R_BUSY;
    bump(sx);   /* more readers: nothing can proceed because of it, but keep the rule simple */
    return MM_R_DONE;
}

static int try_runlock(const mm_sync *sx, int64_t *m)
{
    int64_t old = ld(m);
    if ((old & ~MM_RW_WRITER) == 0)
        return MM_R_PANIC;   /* RUnlock of a RWMutex that is not read-locked */
    if (!__atomic_compare_exchange_n(m, &old, old - 1, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        return MM_R_BUSY;
    bump(sx);
    return MM_R_DONE;
}

/* Buffered send (capacity cap > 0): room in the ring buffer, or wait; closed: panic. */
static int try_send_buffered(const mm_sync *sx, int64_t *c, int cap, int64_t v)
{
    if (!chan_take(field(sx, c, CH_LOCK)))
        return MM_R_BUSY;
    int rc = MM_R_WAIT;
    int64_t count = ld(field(sx, c, CH_COUNT));
    if (ld(field(sx, c, CH_CLOSED)))
        rc = MM_R_PANIC;   /* send on closed channel */
    else if (count < cap) {
        int64_t slot = (ld(field(sx, c, CH_HEAD)) + count) % cap;
        st(field(sx, c, CH_BUF + (int)slot), v);
        st(field(sx, c, CH_COUNT), count + 1);
        rc = MM_R_DONE;
    }
    chan_give(field(sx, c, CH_LOCK));
    if (rc == MM_R_DONE)
        bump(sx);
    return rc;
}

/* Unbuffered send, phase 1: put the value in the (single) hand-off slot once it is free. */
static int try_send_offer(const mm_sync *sx, int64_t *c, int64_t v)
{
    if (!chan_take(field(sx, c, CH_LOCK)))
        return MM_R_BUSY;
    int rc = MM_R_WAIT;
    if (ld(field(sx, c, CH_CLOSED)))
        rc = MM_R_PANIC;
    else if (ld(field(sx, c, CH_COUNT)) == 0) {
        st(field(sx, c, CH_BUF), v);
        st(field(sx, c, CH_TAKEN), 0);
        st(field(sx, c, CH_COUNT), 1);
        rc = MM_R_DONE;
    }
    chan_give(field(sx, c, CH_LOCK));
    if (rc == MM_R_DONE)
        bump(sx);
    return rc;
}

/* Unbuffered send, phase 2: complete once a receiver took the value, then free the slot; a
 * close before that makes the blocked send panic (and withdraws the value). */
static int try_send_handoff(const mm_sync *sx, int64_t *c)
{
    if (!chan_take(field(sx, c, CH_LOCK)))
        return MM_R_BUSY;
    int rc = MM_R_WAIT;
    if (ld(field(sx, c, CH_TAKEN)))
        rc = MM_R_DONE;
    else if (ld(field(sx, c, CH_CLOSED)))
        rc = MM_R_PANIC;
    if (rc != MM_R_WAIT) {
        st(field(sx, c, CH_TAKEN), 0);
        st(field(sx, c, CH_COUNT), 0);
    }
    chan_give(field(sx, c, CH_LOCK));
    if (rc != MM_R_WAIT)
        bump(sx);
    return rc;
}

/* First caller: MM_R_DONE (run the body); later callers wait for the body, then MM_R_SKIP. */
static int try_once(const mm_sync *sx, int64_t *o, bool broken)
{
    if (broken) {   /* once-twice: check, then set, with a window between */
        int64_t s = __atomic_load_n(o, __ATOMIC_ACQUIRE);
        if (s == ONCE_NEW) {
            window();
            st(o, ONCE_RUNNING);
            bump(sx);
            return MM_R_DONE;
        }
        return s == ONCE_DONE ? MM_R_SKIP : MM_R_WAIT;
    }
    int64_t s = ONCE_NEW;
    if (__atomic_compare_exchange_n(o, &s, ONCE_RUNNING, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        bump(sx);
        return MM_R_DONE;
    }
    return s == ONCE_DONE ? MM_R_SKIP : MM_R_WAIT;
}

/* --- mutants: broken variants, selected by compile.py through their own opcodes --- */

/* The second half of a non-atomic Lock, once it read the mutex free: after a window, store
 * "locked" (another thread may have taken it meanwhile). */
static int lock_late(const mm_sync *sx, int64_t *m)
{
    window();
    st(m, MM_RW_WRITER);
    bump(sx);
    return MM_R_DONE;
}

/* mutex-nonatomic-tas: wait until free, then (after a window) store "locked". */
static int try_lock_tas(const mm_sync *sx, int64_t *m)
{
    if (__atomic_load_n(m, __ATOMIC_ACQUIRE) != 0)
        return MM_R_WAIT;
    return lock_late(sx, m);
}

/* rwmutex-writer-beside-reader: Lock only checks for another writer, not for readers. */
static int try_lock_beside_reader(const mm_sync *sx, int64_t *m)
{
    int64_t old = ld(m);
    if (old & MM_RW_WRITER)
        return MM_R_WAIT;
    if (!__atomic_compare_exchange_n(m, &old, old | MM_RW_WRITER, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED))
        return MM_R_BUSY;
    bump(sx);
    return MM_R_DONE;
}

/* chan-slot-nonatomic: a lock-free ring whose head and tail are read, then written back. */
static int try_send_nonatomic(const mm_sync *sx, int64_t *c, int cap, int64_t v)
{
    if (__atomic_load_n(field(sx, c, CH_CLOSED), __ATOMIC_ACQUIRE))
        return MM_R_PANIC;
    int64_t tail = __atomic_load_n(field(sx, c, CH_TAIL), __ATOMIC_ACQUIRE);
    if (tail - __atomic_load_n(field(sx, c, CH_HEAD), __ATOMIC_ACQUIRE) >= cap)
        return MM_R_WAIT;
    window();
    st(field(sx, c, CH_BUF + (int)(tail % cap)), v);
    __atomic_store_n(field(sx, c, CH_TAIL), tail + 1, __ATOMIC_RELEASE);
    bump(sx);
    return MM_R_DONE;
}

static int try_recv_nonatomic(const mm_sync *sx, int64_t *c, int cap, int64_t *value,
                              int64_t *ok)
{
    int64_t head = __atomic_load_n(field(sx, c, CH_HEAD), __ATOMIC_ACQUIRE);
    if (__atomic_load_n(field(sx, c, CH_TAIL), __ATOMIC_ACQUIRE) > head) {
        *value = ld(field(sx, c, CH_BUF + (int)(head % cap)));
        *ok = 1;
        window();
        __atomic_store_n(field(sx, c, CH_HEAD), head + 1, __ATOMIC_RELEASE);
        bump(sx);
        return MM_R_DONE;
    }
    if (__atomic_load_n(field(sx, c, CH_CLOSED), __ATOMIC_ACQUIRE)) {
        *value = 0;
        *ok = 0;
        return MM_R_DONE;
    }
    return MM_R_WAIT;
}

/* mutex-relock-not-atomic: Unlock leaves the word at MM_MUTEX_USED, and Lock takes a used
 * mutex with a load and a store (only a never-locked one with a CAS). */
#define MM_MUTEX_USED 2
static int try_lock_relock(const mm_sync *sx, int64_t *m)
{
    int64_t old = __atomic_load_n(m, __ATOMIC_ACQUIRE);
    if (old == MM_MUTEX_USED)
        return lock_late(sx, m);
    return old == 0 ? try_lock(m) : MM_R_WAIT;
}

static int try_unlock_used(const mm_sync *sx, int64_t *m)
{
    if (ld(m) != MM_RW_WRITER)
        return MM_R_PANIC;
    __atomic_store_n(m, MM_MUTEX_USED, __ATOMIC_RELEASE);
    bump(sx);
    return MM_R_DONE;
}

/* mutex-unlock-no-wake: Unlock frees the mutex but publishes no change (a lost wake-up). */
static int try_unlock_no_wake(int64_t *m)
{
    int64_t old = ld(m);
    if (!(old & MM_RW_WRITER))
        return MM_R_PANIC;
    return __atomic_compare_exchange_n(m, &old, old & ~MM_RW_WRITER, false, __ATOMIC_RELEASE,
                                       __ATOMIC_RELAXED) ? MM_R_DONE : MM_R_BUSY;
}

/* rwmutex-rlock-check-then-add: RLock checks for a writer, then adds itself (a window). */
static int try_rlock_check_add(const mm_sync *sx, int64_t *m)
{
    if (__atomic_load_n(m, __ATOMIC_ACQUIRE) & MM_RW_WRITER)
        return MM_R_WAIT;
    window();
    __atomic_add_fetch(m, 1, __ATOMIC_ACQ_REL);
    bump(sx);
    return MM_R_DONE;
}

/* rwmutex-readers-exclusive: RLock waits until nobody, reader or writer, holds the lock. */
static int try_rlock_exclusive(const mm_sync *sx, int64_t *m)
{
    int64_t free = 0;
    if (!__atomic_compare_exchange_n(m, &free, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return MM_R_WAIT;
    bump(sx);
    return MM_R_DONE;
}

/* rwmutex-runlock-drops-all: RUnlock clears the reader count instead of decrementing it. */
static int try_runlock_all(const mm_sync *sx, int64_t *m)
{
    int64_t old = ld(m);
    if ((old & ~MM_RW_WRITER) == 0)
        return MM_R_PANIC;
    if (!__atomic_compare_exchange_n(m, &old, old & MM_RW_WRITER, false, __ATOMIC_RELEASE,
                                     __ATOMIC_RELAXED))
        return MM_R_BUSY;
    bump(sx);
    return MM_R_DONE;
}

/* Receive: a value (ok = 1), or 0 with ok = 0 from a closed, drained channel, or wait. The
 * receive mutants change one rule each (`code` is a constant at every call, so the correct
 * path, code OP_RECV, is compiled without their tests). */
static inline int try_recv(const mm_sync *sx, int code, int64_t *c, int cap, int64_t *value,
                           int64_t *ok)
{
    if (!chan_take(field(sx, c, CH_LOCK)))
        return MM_R_BUSY;
    int rc = MM_R_WAIT;
    bool changed = false;
    int64_t count = ld(field(sx, c, CH_COUNT)), closed = ld(field(sx, c, CH_CLOSED));
    if (cap > 0 && count > 0) {
        int64_t head = ld(field(sx, c, CH_HEAD));
        if (code == OP_MUT_RECV_LIFO) {   /* chan-lifo: the newest value first */
            *value = ld(field(sx, c, CH_BUF + (int)((head + count - 1) % cap)));
        } else {
            *value = ld(field(sx, c, CH_BUF + (int)head));
            st(field(sx, c, CH_HEAD), (head + 1) % cap);
        }
        *ok = 1;
        st(field(sx, c, CH_COUNT), count - 1);
        rc = MM_R_DONE;
        changed = true;
    } else if (closed || (code == OP_MUT_RECV_EMPTY_ZERO
                          && (cap > 0 || !count || ld(field(sx, c, CH_TAKEN))))) {
        *value = 0;   /* chan-*-recv-zero: an empty open channel answers as if closed */
        *ok = code == OP_MUT_RECV_CLOSED_OK;   /* chan-closed-recv-ok: ok stays true */
        rc = MM_R_DONE;
    } else if (cap == 0 && count
               && (code == OP_MUT_RECV_DUP || !ld(field(sx, c, CH_TAKEN)))) {
        *value = ld(field(sx, c, CH_BUF));   /* chan-unbuffered-dup-recv: taken or not */
        *ok = 1;
        st(field(sx, c, CH_TAKEN), 1);
        rc = MM_R_DONE;
        changed = true;
    }
    chan_give(field(sx, c, CH_LOCK));
    if (changed)
        bump(sx);
    return rc;
}

/* chan-full-send-drops: a send on a full buffered channel completes, its value dropped. */
static int try_send_full_drops(const mm_sync *sx, int64_t *c, int cap, int64_t v)
{
    int rc = try_send_buffered(sx, c, cap, v);
    return rc == MM_R_WAIT ? MM_R_DONE : rc;
}

/* Close; a close of a closed channel panics. The close mutants (by `code`, as for receives):
 * chan-close-drops-buffer empties the buffer, chan-close-twice-ok closes a closed channel
 * quietly, chan-close-no-wake publishes no change (a lost wake-up). */
static inline int try_close(const mm_sync *sx, int code, int64_t *c, int cap)
{
    if (!chan_take(field(sx, c, CH_LOCK)))
        return MM_R_BUSY;
    int rc = ld(field(sx, c, CH_CLOSED)) && code != OP_MUT_CLOSE_TWICE_OK ? MM_R_PANIC
                                                                          : MM_R_DONE;
    st(field(sx, c, CH_CLOSED), 1);
    if (code == OP_MUT_CLOSE_DROPS && cap > 0)
        st(field(sx, c, CH_COUNT), 0);
    chan_give(field(sx, c, CH_LOCK));
    if (code != OP_MUT_CLOSE_NO_WAKE)
        bump(sx);
    return rc;
}

/* once-done-early: the first caller marks the Once done before it runs the body. */
static int try_once_done_early(const mm_sync *sx, int64_t *o)
{
    int64_t s = ONCE_NEW;
    if (__atomic_compare_exchange_n(o, &s, ONCE_DONE, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        bump(sx);
        return MM_R_DONE;
    }
    return MM_R_SKIP;
}

/* wg-wake-one: a Wait that finds the counter at zero must also win the word after it; the
 * first waiter to return takes it for good, so later waiters stay blocked. */
static int try_wg_wait_one(const mm_sync *sx, int64_t *w)
{
    if (__atomic_load_n(w, __ATOMIC_ACQUIRE) != 0)
        return MM_R_WAIT;
    int64_t free = 0;
    return __atomic_compare_exchange_n(field(sx, w, 1), &free, 1, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_RELAXED) ? MM_R_DONE : MM_R_WAIT;
}

/* wg-wait-no-recheck: Wait returns at the first change of the counter it sees, without
 * checking that the counter reached zero. Bounded like every wait (abort, hurry, budget). */
static int wg_wait_no_recheck(const mm_sync *sx, int64_t *w)
{
    int64_t first = __atomic_load_n(w, __ATOMIC_ACQUIRE);
    mm_spin spin = {0, sx->yield};
    while (first != 0 && __atomic_load_n(w, __ATOMIC_ACQUIRE) == first) {
        if (!spin_step(&spin))
            continue;
        if (__atomic_load_n(sx->abort, __ATOMIC_RELAXED))
            return MM_R_ABORTED;
        if (spin.steps >= sx->budget || __atomic_load_n(sx->hurry, __ATOMIC_RELAXED))
            return MM_R_TIMEOUT;
    }
    return MM_R_DONE;
}

/* One attempt at the blocking part of `in` (phase 1 = the hand-off of an unbuffered send). */
static int sync_try(const mm_sync *sx, const mm_insn *in, int64_t *p, int64_t *r, int phase)
{
    int cap = in->b;
    switch ((mm_opcode)in->code) {
    case OP_LOCK: return try_lock(p);
    case OP_RLOCK: return try_rlock(sx, p);
    case OP_UNLOCK: return try_unlock(sx, p);
    case OP_RUNLOCK: return try_runlock(sx, p);
    case OP_MUT_SEND_CLOSED_OK:   /* on an open channel, the send of OP_SEND */
    case OP_SEND:
        if (cap > 0)
            return try_send_buffered(sx, p, cap, r[in->a]);
        return phase == 0 ? try_send_offer(sx, p, r[in->a]) : try_send_handoff(sx, p);
    case OP_RECV: return try_recv(sx, OP_RECV, p, cap, &r[in->dst], &r[in->a]);
    case OP_CLOSE: return try_close(sx, OP_CLOSE, p, cap);
    case OP_ONCE_BEGIN: return try_once(sx, p, false);
    case OP_WG_WAIT:
        return __atomic_load_n(p, __ATOMIC_ACQUIRE) == 0 ? MM_R_DONE : MM_R_WAIT;
    case OP_MUT_LOCK_TAS: return try_lock_tas(sx, p);
    case OP_MUT_LOCK_BESIDE_READER: return try_lock_beside_reader(sx, p);
    case OP_MUT_SEND_NONATOMIC: return try_send_nonatomic(sx, p, cap, r[in->a]);
    case OP_MUT_RECV_NONATOMIC: return try_recv_nonatomic(sx, p, cap, &r[in->dst], &r[in->a]);
    case OP_MUT_ONCE_TWICE: return try_once(sx, p, true);
    case OP_MUT_WG_WAIT_EARLY:   /* wg-early: released while one Done is still missing */
        return __atomic_load_n(p, __ATOMIC_ACQUIRE) <= 1 ? MM_R_DONE : MM_R_WAIT;
    case OP_MUT_LOCK_RELOCK: return try_lock_relock(sx, p);
    case OP_MUT_UNLOCK_USED: return try_unlock_used(sx, p);
    case OP_MUT_UNLOCK_NO_WAKE: return try_unlock_no_wake(p);
    case OP_MUT_RLOCK_CHECK_ADD: return try_rlock_check_add(sx, p);
    case OP_MUT_RLOCK_EXCLUSIVE: return try_rlock_exclusive(sx, p);
    case OP_MUT_RUNLOCK_ALL: return try_runlock_all(sx, p);
    case OP_MUT_RECV_DUP: case OP_MUT_RECV_LIFO: case OP_MUT_RECV_EMPTY_ZERO:
    case OP_MUT_RECV_CLOSED_OK:
        return try_recv(sx, in->code, p, cap, &r[in->dst], &r[in->a]);
    case OP_MUT_SEND_FULL_DROPS: return try_send_full_drops(sx, p, cap, r[in->a]);
    case OP_MUT_CLOSE_DROPS: case OP_MUT_CLOSE_TWICE_OK: case OP_MUT_CLOSE_NO_WAKE:
        return try_close(sx, in->code, p, cap);
    case OP_MUT_ONCE_END_RESET: return MM_R_PANIC;   /* handled in sync_op */
    case OP_MUT_ONCE_DONE_EARLY: return try_once_done_early(sx, p);
    case OP_MUT_WG_WAIT_ONE: return try_wg_wait_one(sx, p);
    default: return MM_R_PANIC;   /* never compiled: check_insn accepts only the codes above */
    }
}

/* ------------------------------------------------------------------ blocking */

/* Whether the instance is deadlocked (see the top of this file). A thread that stopped early
 * (timeout, panic, abort) publishes MM_STATE_DONE too, but only after the abort word is set:
 * so the abort word, read after the states, tells a thread that finished its ops from one
 * that was stopped, and a waiter left alone by a stopped thread is no deadlock. */
static bool deadlocked(const mm_sync *sx)
{
    int64_t e = __atomic_load_n(sx->epoch, __ATOMIC_SEQ_CST);
    for (int t = 0; t < sx->nthreads; t++) {
        int64_t s = __atomic_load_n(sx->state + (size_t)t * (size_t)sx->stride, __ATOMIC_SEQ_CST);
        if (s != MM_STATE_DONE && s != e + 1)
            return false;
    }
    return __atomic_load_n(sx->epoch, __ATOMIC_SEQ_CST) == e
        && !__atomic_load_n(sx->abort, __ATOMIC_SEQ_CST);
}

/* Whether no thread of the instance may still make progress on its own: each is done, blocked
 * in a primitive having seen the latest change (state epoch + 1), or spinning in an await past
 * its budget; the epoch did not move meanwhile. This thread is counted only when `self` (it
 * has published its state). */
static bool all_settled(const mm_sync *sx, bool self)
{
    int64_t e = __atomic_load_n(sx->epoch, __ATOMIC_SEQ_CST);
    for (int t = 0; t < sx->nthreads; t++) {
        if (t == sx->tid && !self)
            continue;
        int64_t s = __atomic_load_n(sx->state + (size_t)t * (size_t)sx->stride, __ATOMIC_SEQ_CST);
        if (s != MM_STATE_DONE && s != MM_STATE_AWAIT && s != e + 1)
            return false;
    }
    return __atomic_load_n(sx->epoch, __ATOMIC_SEQ_CST) == e;
}

/* A wait's budget ran out (`spins` past it): true when it should end now as a timeout -- the
 * run is hurried, or the grace is over, or everything is settled (all_settled) past a second
 * budget (time enough for a waiter's deadlock check to have fired, were this a deadlock).
 * While some thread, most likely descheduled, may still make progress, it gets its grace (see
 * the top of this file). `*grace_end` is 0 before the first call. */
static bool wait_over(const mm_sync *sx, double *grace_end, bool self, long spins)
{
    if (__atomic_load_n(sx->hurry, __ATOMIC_RELAXED))
        return true;
    double now = mm_now();
    if (*grace_end == 0)
        *grace_end = now + MM_GRACE_SECONDS;
    return now >= *grace_end || (spins >= 2 * sx->budget && all_settled(sx, self));
}

/* Try until done, panic, abort, deadlock or timeout (see the top of this file). */
static int sync_wait(const mm_sync *sx, const mm_insn *in, int64_t *p, int64_t *r, int phase)
{
    int64_t *mine = sx->state + (size_t)sx->tid * (size_t)sx->stride;   /* 0 here: running */
    int64_t e = __atomic_load_n(sx->epoch, __ATOMIC_SEQ_CST);
    int rc = sync_try(sx, in, p, r, phase);
    bool published = false;
    double grace_end = 0;
    mm_spin spin = {0, sx->yield};
    while (rc == MM_R_WAIT || rc == MM_R_BUSY) {
        if (rc == MM_R_WAIT && !published) {
            __atomic_store_n(mine, e + 1, __ATOMIC_SEQ_CST);
            published = true;
        }
        bool look = spin_step(&spin);
        long spins = spin.steps;
        if (look) {   /* abort, deadlock, Ctrl-C or the deadline, the budget */
            if (__atomic_load_n(sx->abort, __ATOMIC_RELAXED)) {
                rc = MM_R_ABORTED;
                break;
            }
            if (published && deadlocked(sx)) {
                rc = MM_R_DEADLOCK;
                break;
            }
            if (__atomic_load_n(sx->hurry, __ATOMIC_RELAXED)
                || (spins >= sx->budget && wait_over(sx, &grace_end, published, spins))) {
                rc = published && deadlocked(sx) ? MM_R_DEADLOCK : MM_R_TIMEOUT;
                break;
            }
        }
        if (rc == MM_R_BUSY || (spins & MM_RETRY_EVERY) == 0
            || __atomic_load_n(sx->epoch, __ATOMIC_SEQ_CST) != e) {
            if (published) {
                __atomic_store_n(mine, 0, __ATOMIC_SEQ_CST);
                published = false;
            }
            e = __atomic_load_n(sx->epoch, __ATOMIC_SEQ_CST);
            rc = sync_try(sx, in, p, r, phase);
        }
    }
    if (published)
        __atomic_store_n(mine, 0, __ATOMIC_SEQ_CST);
    return rc;
}

/* Run one synchronisation op. Returns MM_R_DONE, MM_R_SKIP (a Once already done: jump past
 * its body), or a result that ends the thread's iteration (panic, abort, deadlock, timeout). */
static int sync_op(const mm_sync *sx, const mm_insn *in, int64_t *p, int64_t *r)
{
    switch ((mm_opcode)in->code) {
    case OP_ONCE_END:
        __atomic_store_n(p, ONCE_DONE, __ATOMIC_RELEASE);
        bump(sx);
        return MM_R_DONE;
    case OP_WG_ADD: {
        int64_t now = __atomic_add_fetch(p, r[in->a], __ATOMIC_SEQ_CST);
        bump(sx);
        return now < 0 ? MM_R_PANIC : MM_R_DONE;   /* negative WaitGroup counter */
    }
    case OP_MUT_ONCE_END_RESET:   /* once-end-resets: the end of the body marks it new again */
        __atomic_store_n(p, ONCE_NEW, __ATOMIC_RELEASE);
        bump(sx);
        return MM_R_DONE;
    case OP_MUT_WG_ADD_UNIT:        /* wg-add-unit: Add(n) adds 1 (or -1), whatever n */
    case OP_MUT_WG_ADD_NO_PANIC: {  /* wg-negative-no-panic: a negative counter is no error */
        int64_t delta = r[in->a];
        if (in->code == OP_MUT_WG_ADD_UNIT)
            delta = delta < 0 ? -1 : 1;
        int64_t now = __atomic_add_fetch(p, delta, __ATOMIC_SEQ_CST);
        bump(sx);
        return now < 0 && in->code != OP_MUT_WG_ADD_NO_PANIC ? MM_R_PANIC : MM_R_DONE;
    }
    case OP_MUT_WG_WAIT_NO_RECHECK:
        return wg_wait_no_recheck(sx, p);
    case OP_MUT_SEND_CLOSED_OK:     /* chan-send-closed-ok: a send on a closed channel is dropped */
        if (__atomic_load_n(field(sx, p, CH_CLOSED), __ATOMIC_ACQUIRE))
            return MM_R_DONE;
        if (in->b == 0) {
            int rc = sync_wait(sx, in, p, r, 0);
            return rc == MM_R_DONE ? sync_wait(sx, in, p, r, 1) : rc;
        }
        return sync_wait(sx, in, p, r, 0);
    case OP_MUT_UNLOCK_STORE:   /* mutex-nonatomic-tas: unlock is a plain release store */
        __atomic_store_n(p, 0, __ATOMIC_RELEASE);
        bump(sx);
        return MM_R_DONE;
    case OP_SEND:
        if (in->b == 0) {
            int rc = sync_wait(sx, in, p, r, 0);
            return rc == MM_R_DONE ? sync_wait(sx, in, p, r, 1) : rc;
        }
        return sync_wait(sx, in, p, r, 0);
    default:
        return sync_wait(sx, in, p, r, 0);
    }
}

/* The iteration status a result ends with (MM_ST_OK when the thread goes on). */
static int sync_status(int rc)
{
    switch (rc) {
    case MM_R_PANIC: return MM_ST_PANIC;
    case MM_R_DEADLOCK: return MM_ST_DEADLOCK;
    case MM_R_TIMEOUT: return MM_ST_TIMEOUT;
    case MM_R_ABORTED: return MM_ST_ABORTED;
    default: return MM_ST_OK;
    }
}
