/* User primitives: the executor calls a user's C functions (stressmm/include/stressmm_impl.h)
 * in place of the built-in Go primitives of sync.c, for the kinds the user's table provides.
 *
 * Included from executor.c just after sync.c; knows nothing of Python. A run with a user table
 * has an mm_user_run: the program's primitive objects (word offset, kind, capacity), an arena
 * of `batch` instances x objects x slot bytes (each object 64-byte aligned, `init` called
 * before every iteration by the thread that resets the instance), and one mm_user per program
 * thread holding the context handed to the user's calls. run_ops sends a synchronisation op
 * here only when the run has a user table (sx->user != NULL); the built-in path is unchanged.
 *
 * Bounds: the wait hook ends a wait after the executor's spin budget, or after
 * MM_USER_WAIT_SECONDS of wall-clock time (for implementations that sleep between rounds),
 * or at once when another thread of the instance stopped it, the run's deadline passed or
 * Ctrl-C was pressed.
 *
 * Deadlock. A user's wait says nothing about which change it waits for, so a deadlock is told
 * by its threads alone. Every MM_USER_LOOK_EVERY rounds of a wait, the hook looks at the
 * instance's other threads: each must have finished its ops, be inside a user call and
 * waiting in the hook, or be blocked in a built-in primitive (sync.c's state word: epoch + 1).
 * If so it opens a window (user_window_open) and keeps waiting; it calls the iteration
 * `deadlock` only when, within MM_USER_WAIT_SECONDS, every waiting thread (itself included)
 * has called the hook MM_USER_DEADLOCK_ROUNDS more times without leaving its call, no thread
 * started a user call, and no built-in primitive changed (user_window_check). A wait loop
 * re-checks its condition every round, so each of them saw, many times over, every change
 * made before the window and failed: no thread can proceed. Anything else (a thread running
 * its own ops, descheduled between rounds, spinning in an await, or leaving a call) closes
 * the window: the wait goes on to its bound and ends as a timeout, as before. A slow thread
 * is never taken for a deadlocked one, with one exception the header states: a change a
 * waiter makes between two of its rounds, inside the window, is seen by no look (only by the
 * other waiters' re-checks). If waiter B makes one (a send that waits in stages) after waiter
 * A made its rounds, and A is then off its CPU while B makes its own, the window shows a
 * deadlock though A would proceed. A lock held across ctx->wait (B's rounds, and A's
 * re-checks) rules this out. */

#include "../include/stressmm_impl.h"

#define MM_USER_MAX_OBJECTS 64
#define MM_USER_MAX_SIZE 4096
#define MM_USER_MAX_ARENA ((size_t)256 << 20)
#define MM_USER_WAIT_SECONDS 0.2
#define MM_USER_DEADLOCK_ROUNDS 32   /* hook rounds every waiter makes in a deadlock window */
#define MM_USER_LOOK_EVERY 16        /* rounds between two looks for a deadlock (a power of 2) */

/* Kinds of primitive objects, as stressmm/runtime/cimpl.py numbers them. */
enum { MM_K_MUTEX = 0, MM_K_RWMUTEX, MM_K_CHANNEL, MM_K_ONCE, MM_K_WAITGROUP, MM_K_COUNT };

typedef struct mm_user_run mm_user_run;

/* One program thread's view; the context is its first member (the hook casts back). */
typedef struct {
    _Alignas(MM_LINE) stressmm_ctx ctx;
    mm_user_run *ur;
    const mm_sync *sx;
    unsigned char *base;   /* this thread's current instance's objects */
    long spins;            /* hook calls in the current user call (read by other threads) */
    uint64_t calls;        /* user calls begun (read by other threads) */
    double since;          /* first hook call of the current op */
    int status;            /* why the hook said stop: MM_ST_TIMEOUT, _ABORTED or _DEADLOCK */
    int64_t entered;       /* when the current user call began (ns), 0 outside one (watched) */
    uint64_t rng;
    /* The deadlock window this thread opened (0: none) and what it saw then. */
    double window_end;
    int64_t seen_epoch;
    int64_t seen_state[MM_MAX_THREADS];
    uint64_t seen_calls[MM_MAX_THREADS];
    long seen_spins[MM_MAX_THREADS];
} mm_user;

struct mm_user_run {
    const stressmm_impl *impl;
    int nobj;
    int32_t loc[MM_USER_MAX_OBJECTS];    /* word offset in the instance (stride applied) */
    int32_t kind[MM_USER_MAX_OBJECTS];
    int32_t cap[MM_USER_MAX_OBJECTS];
    bool mine[MM_USER_MAX_OBJECTS];      /* the user's table provides this object's kind */
    size_t slot, inst_bytes;
    unsigned char *arena;
    mm_user threads[MM_MAX_THREADS];
};

static size_t user_kind_size(const stressmm_impl *impl, int kind)
{
    switch (kind) {
    case MM_K_MUTEX: return impl->mutex ? impl->mutex->size : 0;
    case MM_K_RWMUTEX: return impl->rwmutex ? impl->rwmutex->size : 0;
    case MM_K_CHANNEL: return impl->channel ? impl->channel->size : 0;
    case MM_K_ONCE: return impl->once ? impl->once->size : 0;
    case MM_K_WAITGROUP: return impl->waitgroup ? impl->waitgroup->size : 0;
    default: return 0;
    }
}

/* NULL when the table is usable, else what is wrong with it (a static message). */
static const char *user_check(const stressmm_impl *impl)
{
    if (impl == NULL)
        return "stressmm_impl_v1() returned NULL";
    if (impl->abi != STRESSMM_IMPL_ABI)
        return "its table's abi differs from this stressmm's STRESSMM_IMPL_ABI: rebuild it "
               "against the header of `stressmm impl --header`";
    if (!impl->mutex && !impl->rwmutex && !impl->channel && !impl->once && !impl->waitgroup)
        return "its table provides no primitive (mutex, rwmutex, channel, once, waitgroup all "
               "NULL)";
    for (int k = 0; k < MM_K_COUNT; k++) {
        bool present = (k == MM_K_MUTEX && impl->mutex) || (k == MM_K_RWMUTEX && impl->rwmutex)
            || (k == MM_K_CHANNEL && impl->channel) || (k == MM_K_ONCE && impl->once)
            || (k == MM_K_WAITGROUP && impl->waitgroup);
        size_t size = user_kind_size(impl, k);
        if (present && (size < 1 || size > MM_USER_MAX_SIZE))
            return "a primitive's size is 0 or more than 4096 bytes";
    }
    if (impl->mutex && !(impl->mutex->init && impl->mutex->lock && impl->mutex->unlock))
        return "its mutex lacks init, lock or unlock";
    if (impl->rwmutex && !(impl->rwmutex->init && impl->rwmutex->lock && impl->rwmutex->unlock
                           && impl->rwmutex->rlock && impl->rwmutex->runlock))
        return "its rwmutex lacks init, lock, unlock, rlock or runlock";
    if (impl->channel && !(impl->channel->init && impl->channel->send && impl->channel->recv
                           && impl->channel->close))
        return "its channel lacks init, send, recv or close";
    if (impl->once && !(impl->once->init && impl->once->begin && impl->once->end))
        return "its once lacks init, begin or end";
    if (impl->waitgroup && !(impl->waitgroup->init && impl->waitgroup->add
                             && impl->waitgroup->wait))
        return "its waitgroup lacks init, add or wait";
    return NULL;
}

static void *user_object(const mm_user_run *ur, unsigned char *base, int j)
{
    return base + (size_t)j * ur->slot;
}

/* Initialise every user object of instance k (before its next iteration). */
static void user_reset(mm_user_run *ur, int k)
{
    unsigned char *base = ur->arena + (size_t)k * ur->inst_bytes;
    const stressmm_impl *impl = ur->impl;
    for (int j = 0; j < ur->nobj; j++) {
        if (!ur->mine[j])
            continue;
        void *obj = user_object(ur, base, j);
        memset(obj, 0, ur->slot);
        switch (ur->kind[j]) {
        case MM_K_MUTEX: impl->mutex->init(obj); break;
        case MM_K_RWMUTEX: impl->rwmutex->init(obj); break;
        case MM_K_CHANNEL: impl->channel->init(obj, ur->cap[j]); break;
        case MM_K_ONCE: impl->once->init(obj); break;
        case MM_K_WAITGROUP: impl->waitgroup->init(obj); break;
        default: break;
        }
    }
}

/* Thread t's state word in the current instance (sync.c: 0 running, epoch + 1 blocked in a
 * built-in primitive, MM_STATE_DONE finished). */
static int64_t user_state(const mm_sync *sx, int t)
{
    return __atomic_load_n(sx->state + (size_t)t * (size_t)sx->stride, __ATOMIC_SEQ_CST);
}

/* Open a deadlock window (see the top of this file) when every other thread of the instance
 * is finished, waiting in the hook inside a user call, or blocked in a built-in primitive;
 * returns whether it opened one. */
static bool user_window_open(mm_user *u, double now)
{
    const mm_sync *sx = u->sx;
    mm_user_run *ur = u->ur;
    int64_t e = __atomic_load_n(sx->epoch, __ATOMIC_SEQ_CST);
    for (int t = 0; t < sx->nthreads; t++) {
        mm_user *o = &ur->threads[t];
        int64_t s = user_state(sx, t);
        u->seen_state[t] = s;
        u->seen_calls[t] = __atomic_load_n(&o->calls, __ATOMIC_SEQ_CST);
        u->seen_spins[t] = __atomic_load_n(&o->spins, __ATOMIC_SEQ_CST);
        bool waiting = __atomic_load_n(&o->entered, __ATOMIC_SEQ_CST) != 0 && u->seen_spins[t] > 0;
        if (t != sx->tid && s != MM_STATE_DONE && s != e + 1 && !waiting)
            return false;
    }
    u->seen_epoch = e;
    u->window_end = now + MM_USER_WAIT_SECONDS;
    return true;
}

/* In an open window: 1 when it shows a deadlock (every waiter made MM_USER_DEADLOCK_ROUNDS
 * more rounds in the same call, nothing else moved), -1 when some thread moved, 0 while it
 * cannot tell yet. */
static int user_window_check(const mm_user *u)
{
    const mm_sync *sx = u->sx;
    const mm_user_run *ur = u->ur;
    bool all = true;
    for (int t = 0; t < sx->nthreads; t++) {
        const mm_user *o = &ur->threads[t];
        int64_t s = user_state(sx, t);
        if (s != u->seen_state[t] || __atomic_load_n(&o->calls, __ATOMIC_SEQ_CST) != u->seen_calls[t])
            return -1;
        if (s == MM_STATE_DONE || (t != sx->tid && s == u->seen_epoch + 1))
            continue;   /* finished, or blocked in a built-in primitive */
        if (__atomic_load_n(&o->entered, __ATOMIC_SEQ_CST) == 0)
            return -1;
        if (__atomic_load_n(&o->spins, __ATOMIC_SEQ_CST) - u->seen_spins[t] < MM_USER_DEADLOCK_ROUNDS)
            all = false;
    }
    if (__atomic_load_n(sx->epoch, __ATOMIC_SEQ_CST) != u->seen_epoch)
        return -1;
    return all ? 1 : 0;
}

static int user_stop(mm_user *u, int status)
{
    u->status = status;
    return 1;
}

static int user_wait(stressmm_ctx *ctx)
{
    mm_user *u = (mm_user *)ctx;
    const mm_sync *sx = u->sx;
    mm_spin spin = {u->spins, sx->yield};
    spin_step(&spin);   /* a round is a spin step; the hook looks every MM_USER_LOOK_EVERY */
    long spins = spin.steps;
    __atomic_store_n(&u->spins, spins, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(sx->abort, __ATOMIC_RELAXED))
        return user_stop(u, MM_ST_ABORTED);
    if (__atomic_load_n(sx->hurry, __ATOMIC_RELAXED))
        return user_stop(u, MM_ST_TIMEOUT);
    if (spins == 1) {
        u->since = mm_now();
        u->window_end = 0;
    }
    if ((spins & (MM_USER_LOOK_EVERY - 1)) != 0)
        return spins >= sx->budget && u->window_end == 0 && !user_window_open(u, mm_now())
            ? user_stop(u, MM_ST_TIMEOUT) : 0;
    double now = mm_now();
    if (u->window_end > 0) {   /* a deadlock window is open */
        int seen = user_window_check(u);
        if (seen > 0)
            return user_stop(u, MM_ST_DEADLOCK);
        if (seen < 0 || now > u->window_end)
            u->window_end = 0;   /* something moved, or could not tell: no deadlock seen */
        else
            return 0;
    }
    if (spins >= sx->budget || now - u->since > MM_USER_WAIT_SECONDS)
        return user_stop(u, MM_ST_TIMEOUT);   /* past its bound, no deadlock seen */
    user_window_open(u, now);
    return 0;
}

static uint64_t user_random(stressmm_ctx *ctx)
{
    return rng_next(&((mm_user *)ctx)->rng);
}

/* Set up thread tid's context (once per run). */
static void user_thread_init(mm_user_run *ur, int tid, uint64_t seed)
{
    mm_user *u = &ur->threads[tid];
    u->ctx.abi = STRESSMM_IMPL_ABI;
    u->ctx.thread = (uint32_t)tid;
    u->ctx.wait = user_wait;
    u->ctx.random = user_random;
    u->ctx.runtime = ur;
    u->ur = ur;
    u->rng = rng_seed(seed ^ 0x5bd1e9955bd1e995ull, tid);
}

/* Thread tid's state for instance k, or NULL for a run without user primitives. */
static mm_user *user_enter(mm_user_run *ur, int tid, int k)
{
    if (ur == NULL)
        return NULL;
    mm_user *u = &ur->threads[tid];
    u->base = ur->arena + (size_t)k * ur->inst_bytes;
    return u;
}

static int user_index(const mm_user_run *ur, int32_t loc)
{
    for (int j = 0; j < ur->nobj; j++)
        if (ur->loc[j] == loc)
            return j;
    return -1;
}

static int user_result(mm_user *u, int rc)
{
    switch (rc) {
    case STRESSMM_OK: return MM_R_DONE;
    case STRESSMM_PANIC: return MM_R_PANIC;
    default:   /* GIVE_UP, or anything else: the iteration ends, as the hook asked */
        return u->status == MM_ST_ABORTED ? MM_R_ABORTED
            : u->status == MM_ST_DEADLOCK ? MM_R_DEADLOCK : MM_R_TIMEOUT;
    }
}

static int user_call(const mm_sync *sx, const mm_insn *in, int64_t *p, int64_t *r, int j);

/* The longest user call now running in `ur` (seconds) and its thread, for the watchdog of
 * the worker process (a call that never returns cannot be stopped, only reported). */
static double user_longest_call(const mm_user_run *ur, int nthreads, int *thread)
{
    double now = mm_now(), longest = 0;
    *thread = -1;
    for (int t = 0; t < nthreads; t++) {
        int64_t since = __atomic_load_n(&ur->threads[t].entered, __ATOMIC_RELAXED);
        if (since > 0 && now - 1e-9 * (double)since > longest) {
            longest = now - 1e-9 * (double)since;
            *thread = t;
        }
    }
    return longest;
}

/* Run one synchronisation op on a user object, or on the built-in one when the user's table
 * does not provide its kind. Results as sync_op. Only the user's own calls are watched: a
 * built-in wait is bounded by its spin budget, which on a loaded machine (the thread off its
 * CPU most of the time) may take seconds of wall-clock time without being a hang. */
static int user_op(const mm_sync *sx, const mm_insn *in, int64_t *p, int64_t *r)
{
    mm_user *u = sx->user;
    int j = user_index(u->ur, in->loc);
    if (j < 0 || !u->ur->mine[j])
        return sync_op(sx, in, p, r);
    __atomic_store_n(&u->spins, 0, __ATOMIC_SEQ_CST);   /* before the call is seen begun */
    __atomic_store_n(&u->calls, u->calls + 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&u->entered, (int64_t)(mm_now() * 1e9), __ATOMIC_RELAXED);
    int rc = user_call(sx, in, p, r, j);
    __atomic_store_n(&u->entered, 0, __ATOMIC_RELAXED);
    return rc;
}

/* Call the user's function for op `in` on user object j. */
static int user_call(const mm_sync *sx, const mm_insn *in, int64_t *p, int64_t *r, int j)
{
    mm_user *u = sx->user;
    mm_user_run *ur = u->ur;
    const stressmm_impl *impl = ur->impl;
    void *obj = user_object(ur, u->base, j);
    stressmm_ctx *ctx = &u->ctx;
    u->sx = sx;
    u->status = MM_ST_OK;
    bool rw = ur->kind[j] == MM_K_RWMUTEX;
    switch ((mm_opcode)in->code) {
    case OP_LOCK:
        return user_result(u, rw ? impl->rwmutex->lock(obj, ctx) : impl->mutex->lock(obj, ctx));
    case OP_UNLOCK:
        return user_result(u, rw ? impl->rwmutex->unlock(obj, ctx)
                                 : impl->mutex->unlock(obj, ctx));
    case OP_RLOCK: return user_result(u, impl->rwmutex->rlock(obj, ctx));
    case OP_RUNLOCK: return user_result(u, impl->rwmutex->runlock(obj, ctx));
    case OP_SEND: return user_result(u, impl->channel->send(obj, r[in->a], ctx));
    case OP_RECV: {
        int64_t value = 0;
        int ok = 0;
        int rc = impl->channel->recv(obj, &value, &ok, ctx);
        if (rc == STRESSMM_OK) {
            r[in->dst] = ok ? value : 0;
            r[in->a] = ok ? 1 : 0;
        }
        return user_result(u, rc);
    }
    case OP_CLOSE: return user_result(u, impl->channel->close(obj, ctx));
    case OP_ONCE_BEGIN: {
        int rc = impl->once->begin(obj, ctx);
        return rc == STRESSMM_DONE ? MM_R_SKIP : user_result(u, rc);
    }
    case OP_ONCE_END: return user_result(u, impl->once->end(obj, ctx));
    case OP_WG_ADD: return user_result(u, impl->waitgroup->add(obj, r[in->a], ctx));
    case OP_WG_WAIT: return user_result(u, impl->waitgroup->wait(obj, ctx));
    default: return sync_op(sx, in, p, r);   /* a mutant opcode: the built-in path */
    }
}
