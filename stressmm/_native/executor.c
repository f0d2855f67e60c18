/* The litmus executor: runs a compiled program for many iterations on pinned pthreads.
 *
 * Included from module.c; this file knows nothing of Python. Structure (as litmus7):
 *   - `batch` test instances, each with fresh memory (every variable on its own cache line
 *     for layout "spread", adjacent for "packed") and its own start barrier;
 *   - a round: every thread goes through the instances in turn; for each it waits at the
 *     instance barrier, spins its random delay, runs its ops and saves its registers;
 *   - then a sense-reversing barrier over all threads; each thread tallies and resets a slice
 *     of the instances (outcome = registers of all threads + final memory + flags) into its own
 *     hash table; a second barrier publishes the stop decision.
 * Every wait is bounded: awaits by a spin budget (the iteration is then marked `timeout`),
 * blocking Go primitives by the same budget or by deadlock detection (sync.c), barriers by a
 * wall-clock bound (the run then aborts with MM_ABORT_STUCK).
 *
 * Instance memory, in words (each word on its own cache line in the "spread" layout): the
 * variables of the outcome, then a control block (abort, epoch, one state word per thread:
 * see sync.c), then the Go primitives; compile.py lays it out, and all of it starts from the
 * initial values again every iteration. */

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MM_LINE 64
#define MM_LINE_WORDS (MM_LINE / (int)sizeof(int64_t))
#define MM_STUCK_SECONDS 20.0       /* a barrier wait longer than this aborts the run */
#define MM_GRACE_SECONDS 0.25       /* a wait past its budget gives a running thread this long */
#define MM_TABLE_BITS 14            /* hash table: 16384 slots per thread */
#define MM_SPLIT_PAUSES 8
#ifndef MM_BARRIER_FENCE
#define MM_BARRIER_FENCE 1
#endif           /* window of the split (non-atomic) read-modify-write mutants */

enum { MM_STOP_NONE = 0, MM_STOP_DONE, MM_STOP_DEADLINE, MM_STOP_TABLE, MM_STOP_SIGNAL,
       MM_ABORT_STUCK };

static inline void mm_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

/* fence(seq_cst): mfence on x86, as the tso model assumes (gcc would emit `lock or` to the
 * stack for __atomic_thread_fence, also a full barrier, but not the instruction we document). */
static inline void mm_full_fence(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("mfence" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

static double mm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------------ bounded spinning
 *
 * Every spin loop of the executor (the start barriers, await, the primitives' waits, a round
 * of the user's wait hook in impl.c) takes the same step, spin_step: a pause; when threads
 * share CPUs (oversubscribed), the CPU given up every MM_YIELD_EVERY steps so that the thread
 * waited for can run; and every MM_LOOK_EVERY steps (spin_step returns true) a look at what
 * ends the wait, which the loop makes: the instance's abort word, the run's hurry word (its
 * deadline, Ctrl-C), the wait's own budget and clocks. A look costs a few loads, so a wait notices an abort or Ctrl-C within
 * MM_LOOK_EVERY pauses (microseconds); each loop bounds itself by a spin budget, a wall-clock
 * limit, or both. */
#define MM_YIELD_EVERY 64
#define MM_LOOK_EVERY 32

typedef struct {
    long steps;   /* steps taken so far */
    bool yield;   /* oversubscribed: yield the CPU now and then */
} mm_spin;

static inline bool spin_step(mm_spin *s)
{
    s->steps++;
    mm_pause();
    if (s->yield && (s->steps & (MM_YIELD_EVERY - 1)) == 0)
        sched_yield();
    return (s->steps & (MM_LOOK_EVERY - 1)) == 0;
}

#include "sync.c"

/* ------------------------------------------------------------------ outcome hash table */

typedef struct {
    int width;          /* int64 words per key */
    uint32_t mask;      /* slots - 1 */
    uint32_t used;
    uint64_t *counts;   /* 0 = empty slot */
    int64_t *keys;      /* slots * width */
} mm_table;

static int table_init(mm_table *t, int width)
{
    uint32_t slots = 1u << MM_TABLE_BITS;
    t->width = width;
    t->mask = slots - 1;
    t->used = 0;
    t->counts = calloc(slots, sizeof *t->counts);
    t->keys = calloc((size_t)slots * (size_t)width, sizeof *t->keys);
    return (t->counts && t->keys) ? 0 : -1;
}

static void table_free(mm_table *t)
{
    free(t->counts);
    free(t->keys);
}

/* True when `more` new keys might not fit below half load (the caller then ends the run). */
static bool table_near_full(const mm_table *t, uint32_t more)
{
    return t->used + more > (t->mask + 1) / 2;
}

static uint64_t key_hash(const int64_t *key, int width)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < width; i++) {
        h ^= (uint64_t)key[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return h;
}

/* Count one occurrence of `key`. Never fails: callers keep the table at most half full, so a
 * free slot always exists and the probe loop ends within `slots` steps. */
static void table_add(mm_table *t, const int64_t *key)
{
    size_t bytes = (size_t)t->width * sizeof *key;
    uint32_t i = (uint32_t)key_hash(key, t->width) & t->mask;
    for (uint32_t probes = 0; probes <= t->mask; probes++, i = (i + 1) & t->mask) {
        int64_t *slot = t->keys + (size_t)i * (size_t)t->width;
        if (t->counts[i] == 0) {
            memcpy(slot, key, bytes);
            t->counts[i] = 1;
            t->used++;
            return;
        }
        if (memcmp(slot, key, bytes) == 0) {
            t->counts[i]++;
            return;
        }
    }
}

/* ------------------------------------------------------------------ run state */

typedef struct mm_run mm_run;

/* Cache-line aligned, allocated with aligned_alloc, with the one field a thread writes every
 * iteration (rng) on a line of its own: otherwise thread t's rng can share a line with the
 * fields thread t+1 reads every iteration, and a run is 3x slower or not depending on where
 * the heap put the array. */
typedef struct {
    _Alignas(MM_LINE) mm_run *run;
    int tid, cpu;                  /* cpu < 0: not pinned */
    const mm_insn *code;           /* loc fields already memory offsets */
    int ncode, nregs, nfile;
    int64_t file_init[MM_MAX_FILE];/* zeros, scratch, constants */
    int64_t *out;                  /* batch x (nregs + 1): registers, then the MM_ST_ status */
    int delay_lo, delay_hi;
    _Alignas(MM_LINE) uint64_t rng;
    _Alignas(MM_LINE) mm_table table;
    bool sense;
    pthread_t handle;
    bool started;
} mm_thread;

struct mm_run {
    int nthreads, nvars, batch, loc_stride, inst_stride, key_width;
    int nshown;                    /* the first nshown words are the outcome's variables */
    int ctl;                       /* word index of the control block (abort, epoch, states) */
    bool has_sync;                 /* some thread runs a Go primitive */
    bool has_await;                /* some thread spins in an await */
    struct mm_user_run *user;      /* the user's primitives (impl.c), or NULL: the built-ins */
    int64_t *mem;                  /* batch x inst_stride, 64-byte aligned */
    const int64_t *init;           /* nvars initial values (every word of an instance) */
    int *flags;                    /* instance barriers: nthreads x batch round numbers */
    uint64_t iterations;           /* 0: run until the deadline */
    double deadline;               /* absolute mm_now() time, 0: none */
    long await_budget;
    bool oversubscribe;
    mm_thread *threads;
    /* shared, each on its own cache line */
    _Alignas(MM_LINE) int count;   /* all-thread barrier */
    _Alignas(MM_LINE) int sense;
    _Alignas(MM_LINE) int stop;    /* written between the two end-of-round barriers only */
    _Alignas(MM_LINE) int ext_stop;/* set by the supervising Python thread (Ctrl-C) */
    _Alignas(MM_LINE) int abort;   /* a barrier timed out: everyone leaves at once */
    _Alignas(MM_LINE) int hurry;   /* deadline passed or Ctrl-C: a wait still going is a timeout */
    uint64_t done;                 /* iterations completed (all threads agree) */
    double started_at, ended_at;
};

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static uint64_t rng_seed(uint64_t seed, int tid)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ull * (uint64_t)(tid + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return z ? z : 0x2545f4914f6cdd1dull;   /* xorshift needs a non-zero state */
}

#include "impl.c"

static void delay(mm_thread *th)
{
    if (th->delay_hi == 0)
        return;
    uint64_t span = (uint64_t)(th->delay_hi - th->delay_lo) + 1;
    uint64_t n = (uint64_t)th->delay_lo + rng_next(&th->rng) % span;
    for (uint64_t i = 0; i < n; i++)
        mm_pause();
}

/* Wait until `*word == value`; returns false if the run aborted. Bounded by the wall clock:
 * a wait longer than MM_STUCK_SECONDS aborts the run (the clock is read every MM_CLOCK_EVERY
 * steps, a few microseconds apart, so as not to delay the start of an instance). */
#define MM_CLOCK_EVERY 4096
static bool spin_until(mm_run *run, int *word, int value)
{
    double give_up = 0;
    mm_spin spin = {0, run->oversubscribe};
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) != value) {
        if (!spin_step(&spin))
            continue;
        if (__atomic_load_n(&run->abort, __ATOMIC_RELAXED))
            return false;
        if ((spin.steps & (MM_CLOCK_EVERY - 1)) == 0) {
            double now = mm_now();
            if (give_up == 0)
                give_up = now + MM_STUCK_SECONDS;
            else if (now > give_up) {
                __atomic_store_n(&run->abort, 1, __ATOMIC_SEQ_CST);
                return false;
            }
        }
    }
    return true;
}

/* Sense-reversing barrier over all threads; the releasing store is followed by a full fence
 * so that the waiting threads see it as soon as possible. */
static bool barrier_all(mm_thread *th)
{
    mm_run *run = th->run;
    th->sense = !th->sense;
    if (__atomic_add_fetch(&run->count, 1, __ATOMIC_ACQ_REL) == run->nthreads) {
        __atomic_store_n(&run->count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&run->sense, th->sense, __ATOMIC_RELEASE);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        return true;
    }
    return spin_until(run, &run->sense, th->sense);
}

/* The start barrier of instance k: every thread writes the round number into its own flag
 * for k (a store followed by a full fence, as litmus7's userfence) and spins until every other
 * thread's flag for k holds the round number. No read-modify-write, and no reset: a flag only
 * ever holds the current or the previous round. */
static bool barrier_instance(mm_thread *th, int k, int round)
{
    mm_run *run = th->run;
    __atomic_store_n(&run->flags[(size_t)th->tid * (size_t)run->batch + (size_t)k], round,
                     __ATOMIC_RELAXED);
#if MM_BARRIER_FENCE
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
    for (int t = 0; t < run->nthreads; t++)
        if (t != th->tid
            && !spin_until(run, &run->flags[(size_t)t * (size_t)run->batch + (size_t)k], round))
            return false;
    return true;
}

/* ------------------------------------------------------------------ the hot loop */

#define CAS_ARM(ORDER, FAIL)                                                               \
    {                                                                                      \
        int64_t expected = r[in->b];                                                       \
        r[in->dst] = __atomic_compare_exchange_n(p, &expected, r[in->a], false, ORDER, FAIL); \
    }                                                                                      \
    break
#define AWAIT_ARM(LOAD)                                                                    \
    {                                                                                      \
        double grace_end = 0;                                                              \
        bool marked = false;                                                               \
        mm_spin spin = {0, sx->yield};                                                     \
        while (((LOAD) == r[in->a]) != (in->b != 0)) {                                     \
            if (!spin_step(&spin))                                                         \
                continue;                                                                  \
            if (__atomic_load_n(sx->abort, __ATOMIC_RELAXED))                              \
                return MM_ST_ABORTED;                                                      \
            if (spin.steps >= sx->budget) {                                                \
                if (!marked) {   /* spinning in an await, not descheduled (see wait_over) */ \
                    st(sx->state + (size_t)sx->tid * (size_t)sx->stride, MM_STATE_AWAIT);  \
                    marked = true;                                                         \
                }                                                                          \
                if (wait_over(sx, &grace_end, true, 2 * sx->budget)) {                     \
                    if (((LOAD) == r[in->a]) == (in->b != 0))   /* came true meanwhile */  \
                        break;                                                             \
                    __atomic_store_n(sx->abort, 1, __ATOMIC_SEQ_CST);                      \
                    return MM_ST_TIMEOUT;                                                  \
                }                                                                          \
            } else if (__atomic_load_n(sx->hurry, __ATOMIC_RELAXED)) {                     \
                __atomic_store_n(sx->abort, 1, __ATOMIC_SEQ_CST);                          \
                return MM_ST_TIMEOUT;                                                      \
            }                                                                              \
        }                                                                                  \
        if (marked)                                                                        \
            st(sx->state + (size_t)sx->tid * (size_t)sx->stride, 0);                       \
    }                                                                                      \
    break

/* Run `code` on one instance's memory with register file `r`; returns the thread's MM_ST_
 * status: MM_ST_OK, or why it stopped early (its await timed out, a primitive panicked or
 * found a deadlock, or another thread of the instance stopped it). */
static int run_ops(const mm_insn *code, int ncode, int64_t *mem, int64_t *r, const mm_sync *sx)
{
    for (int i = 0; i < ncode; i++) {
        const mm_insn *in = &code[i];
        int64_t *p = mem + in->loc;
        uint64_t *u = (uint64_t *)p;   /* wrap-around arithmetic for adds */
        switch ((mm_opcode)in->code) {
        case OP_LOAD_PLAIN: r[in->dst] = *(volatile int64_t *)p; break;
        case OP_LOAD_RELAXED: r[in->dst] = __atomic_load_n(p, __ATOMIC_RELAXED); break;
        case OP_LOAD_ACQUIRE: r[in->dst] = __atomic_load_n(p, __ATOMIC_ACQUIRE); break;
        case OP_LOAD_SEQ_CST: r[in->dst] = __atomic_load_n(p, __ATOMIC_SEQ_CST); break;
        case OP_ADDI: r[in->dst] = (int64_t)((uint64_t)r[in->a] + (uint64_t)r[in->b]); break;
        case OP_STORE_PLAIN: *(volatile int64_t *)p = r[in->a]; break;
        case OP_STORE_RELAXED: __atomic_store_n(p, r[in->a], __ATOMIC_RELAXED); break;
        case OP_STORE_RELEASE: __atomic_store_n(p, r[in->a], __ATOMIC_RELEASE); break;
        /* an exchange, not mov+mfence: the xchg mapping of the tso model */
        case OP_STORE_SEQ_CST: (void)__atomic_exchange_n(p, r[in->a], __ATOMIC_SEQ_CST); break;
        case OP_ADD_RELAXED: r[in->dst] = (int64_t)__atomic_add_fetch(u, (uint64_t)r[in->a], __ATOMIC_RELAXED); break;
        case OP_ADD_ACQUIRE: r[in->dst] = (int64_t)__atomic_add_fetch(u, (uint64_t)r[in->a], __ATOMIC_ACQUIRE); break;
        case OP_ADD_RELEASE: r[in->dst] = (int64_t)__atomic_add_fetch(u, (uint64_t)r[in->a], __ATOMIC_RELEASE); break;
        case OP_ADD_ACQ_REL: r[in->dst] = (int64_t)__atomic_add_fetch(u, (uint64_t)r[in->a], __ATOMIC_ACQ_REL); break;
        case OP_ADD_SEQ_CST: r[in->dst] = (int64_t)__atomic_add_fetch(u, (uint64_t)r[in->a], __ATOMIC_SEQ_CST); break;
        case OP_FADD_RELAXED: r[in->dst] = (int64_t)__atomic_fetch_add(u, (uint64_t)r[in->a], __ATOMIC_RELAXED); break;
        case OP_FADD_ACQUIRE: r[in->dst] = (int64_t)__atomic_fetch_add(u, (uint64_t)r[in->a], __ATOMIC_ACQUIRE); break;
        case OP_FADD_RELEASE: r[in->dst] = (int64_t)__atomic_fetch_add(u, (uint64_t)r[in->a], __ATOMIC_RELEASE); break;
        case OP_FADD_ACQ_REL: r[in->dst] = (int64_t)__atomic_fetch_add(u, (uint64_t)r[in->a], __ATOMIC_ACQ_REL); break;
        case OP_FADD_SEQ_CST: r[in->dst] = (int64_t)__atomic_fetch_add(u, (uint64_t)r[in->a], __ATOMIC_SEQ_CST); break;
        case OP_SWAP_RELAXED: r[in->dst] = __atomic_exchange_n(p, r[in->a], __ATOMIC_RELAXED); break;
        case OP_SWAP_ACQUIRE: r[in->dst] = __atomic_exchange_n(p, r[in->a], __ATOMIC_ACQUIRE); break;
        case OP_SWAP_RELEASE: r[in->dst] = __atomic_exchange_n(p, r[in->a], __ATOMIC_RELEASE); break;
        case OP_SWAP_ACQ_REL: r[in->dst] = __atomic_exchange_n(p, r[in->a], __ATOMIC_ACQ_REL); break;
        case OP_SWAP_SEQ_CST: r[in->dst] = __atomic_exchange_n(p, r[in->a], __ATOMIC_SEQ_CST); break;
        case OP_CAS_RELAXED: CAS_ARM(__ATOMIC_RELAXED, __ATOMIC_RELAXED);
        case OP_CAS_ACQUIRE: CAS_ARM(__ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE);
        case OP_CAS_RELEASE: CAS_ARM(__ATOMIC_RELEASE, __ATOMIC_RELAXED);
        case OP_CAS_ACQ_REL: CAS_ARM(__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
        case OP_CAS_SEQ_CST: CAS_ARM(__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        case OP_FENCE_ACQUIRE: __atomic_thread_fence(__ATOMIC_ACQUIRE); break;
        case OP_FENCE_RELEASE: __atomic_thread_fence(__ATOMIC_RELEASE); break;
        case OP_FENCE_ACQ_REL: __atomic_thread_fence(__ATOMIC_ACQ_REL); break;
        case OP_FENCE_SEQ_CST: mm_full_fence(); break;
        case OP_AWAIT_PLAIN: AWAIT_ARM(*(volatile int64_t *)p);
        case OP_AWAIT_RELAXED: AWAIT_ARM(__atomic_load_n(p, __ATOMIC_RELAXED));
        case OP_AWAIT_ACQUIRE: AWAIT_ARM(__atomic_load_n(p, __ATOMIC_ACQUIRE));
        case OP_AWAIT_SEQ_CST: AWAIT_ARM(__atomic_load_n(p, __ATOMIC_SEQ_CST));
        /* mutants: read-modify-writes split into a load and a store, with a window between */
        case OP_MUT_ADD_SPLIT:
        case OP_MUT_SWAP_SPLIT: {
            int64_t old = __atomic_load_n(p, __ATOMIC_RELAXED);
            for (int w = 0; w < MM_SPLIT_PAUSES; w++)
                mm_pause();
            int64_t new = in->code == OP_MUT_ADD_SPLIT
                ? (int64_t)((uint64_t)old + (uint64_t)r[in->a]) : r[in->a];
            __atomic_store_n(p, new, __ATOMIC_RELAXED);
            r[in->dst] = in->code == OP_MUT_ADD_SPLIT ? new : old;
            break;
        }
        case OP_MUT_CAS_ALWAYS: {   /* stores even when the comparison fails, reports success */
            int64_t expected = r[in->b];
            if (!__atomic_compare_exchange_n(p, &expected, r[in->a], false, __ATOMIC_SEQ_CST,
                                             __ATOMIC_SEQ_CST))
                __atomic_store_n(p, r[in->a], __ATOMIC_RELAXED);
            r[in->dst] = 1;
            break;
        }
        case OP_MUT_ADD_OLD:   /* returns the old value, not the new one */
            r[in->dst] = (int64_t)__atomic_fetch_add(u, (uint64_t)r[in->a], __ATOMIC_SEQ_CST);
            break;
        case OP_MUT_ADD_ABS: {   /* the sign of the delta is lost */
            int64_t d = r[in->a] < 0 ? -r[in->a] : r[in->a];
            r[in->dst] = (int64_t)__atomic_add_fetch(u, (uint64_t)d, __ATOMIC_SEQ_CST);
            break;
        }
        case OP_MUT_SWAP_NEW:   /* returns the value it stored, not the one it replaced */
            (void)__atomic_exchange_n(p, r[in->a], __ATOMIC_SEQ_CST);
            r[in->dst] = r[in->a];
            break;
        case OP_MUT_CAS_SWAPPED: {   /* compares with the new value instead of the expected one */
            int64_t expected = r[in->a];
            r[in->dst] = __atomic_compare_exchange_n(p, &expected, r[in->a], false,
                                                     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
            break;
        }
        case OP_MUT_CAS_SPLIT: {   /* compares, then (after a window) stores: not atomic */
            int64_t old = __atomic_load_n(p, __ATOMIC_RELAXED);
            bool equal = old == r[in->b];
            for (int w = 0; w < MM_SPLIT_PAUSES; w++)
                mm_pause();
            if (equal)
                __atomic_store_n(p, r[in->a], __ATOMIC_RELAXED);
            r[in->dst] = equal;
            break;
        }
        MM_SYNC_CASES: {
            int rc = sx->user ? user_op(sx, in, p, r) : sync_op(sx, in, p, r);
            if (rc == MM_R_SKIP)
                i = in->b - 1;   /* past the once body and its ONCE_END */
            else if (rc != MM_R_DONE) {
                int status = sync_status(rc);
                if (status != MM_ST_ABORTED)   /* stop the other threads of this instance */
                    __atomic_store_n(sx->abort, 1, __ATOMIC_SEQ_CST);
                return status;
            }
            break;
        }
        case OP_COUNT: break;   /* never compiled: validated before the run */
        }
    }
    return MM_ST_OK;
}

/* ------------------------------------------------------------------ rounds */

static int64_t *instance_mem(mm_run *run, int k)
{
    return run->mem + (size_t)k * (size_t)run->inst_stride;
}

static int64_t *thread_out(mm_thread *th, int k)
{
    return th->out + (size_t)k * (size_t)(th->nregs + 1);
}

/* Tally instances tid, tid + n, ... < active into this thread's table, then reset them.
 * The key's last word is the instance's status: the highest of its threads' MM_ST_ codes
 * (panic over deadlock over timeout; a thread stopped by another one only ever adds
 * MM_ST_ABORTED, which compile.py decodes as timeout should it stand alone). */
static void tally_and_reset(mm_thread *me, int active)
{
    mm_run *run = me->run;
    int64_t key[MM_MAX_KEY];
    for (int k = me->tid; k < active; k += run->nthreads) {
        int w = 0;
        int64_t status = MM_ST_OK;
        for (int t = 0; t < run->nthreads; t++) {
            mm_thread *th = &run->threads[t];
            int64_t *out = thread_out(th, k);
            memcpy(key + w, out, (size_t)th->nregs * sizeof *key);
            w += th->nregs;
            if (out[th->nregs] > status)
                status = out[th->nregs];
            out[th->nregs] = MM_ST_OK;
        }
        int64_t *mem = instance_mem(run, k);
        for (int v = 0; v < run->nshown; v++)
            key[w++] = mem[(size_t)v * (size_t)run->loc_stride];
        for (int v = 0; v < run->nvars; v++)
            mem[(size_t)v * (size_t)run->loc_stride] = run->init[v];
        if (run->user)
            user_reset(run->user, k);
        if (status != MM_ST_OK)   /* a stopped iteration says nothing of the program: flag alone */
            memset(key, 0, (size_t)w * sizeof *key);
        key[w] = status;
        table_add(&me->table, key);
    }
}

static void *worker(void *arg)
{
    mm_thread *me = arg;
    mm_run *run = me->run;
    int64_t r[MM_MAX_FILE];
    uint32_t slice = (uint32_t)((run->batch + run->nthreads - 1) / run->nthreads);
    uint64_t done = 0;
    int round = 0;

    if (!barrier_all(me))
        goto out;
    for (;;) {
        int active = run->batch;
        if (run->iterations && run->iterations - done < (uint64_t)active)
            active = (int)(run->iterations - done);
        round = round == INT32_MAX ? 1 : round + 1;
        for (int k = 0; k < active; k++) {
            if (!barrier_instance(me, k, round))
                goto out;
            memcpy(r, me->file_init, (size_t)me->nfile * sizeof *r);
            delay(me);
            int64_t *out = thread_out(me, k);
            int64_t *mem = instance_mem(run, k);
            int64_t *ctl = mem + (size_t)run->ctl * (size_t)run->loc_stride;
            mm_sync sx = {
                .abort = ctl, .epoch = ctl + run->loc_stride, .state = ctl + 2 * run->loc_stride,
                .stride = run->loc_stride, .tid = me->tid, .nthreads = run->nthreads,
                .budget = run->await_budget, .yield = run->oversubscribe, .hurry = &run->hurry,
                .user = user_enter(run->user, me->tid, k),
            };
            out[me->nregs] = run_ops(me->code, me->ncode, mem, r, &sx);
            if (run->has_sync)   /* finished (or stopped): no longer running, for sync.c */
                __atomic_store_n(sx.state + (size_t)me->tid * (size_t)run->loc_stride,
                                 MM_STATE_DONE, __ATOMIC_SEQ_CST);
            else if (run->has_await)   /* for wait_over: after this thread's stores */
                __atomic_store_n(sx.state + (size_t)me->tid * (size_t)run->loc_stride,
                                 MM_STATE_DONE, __ATOMIC_RELEASE);
            memcpy(out, r, (size_t)me->nregs * sizeof *r);
        }
        if (!barrier_all(me))
            goto out;
        tally_and_reset(me, active);
        done += (uint64_t)active;
        if (table_near_full(&me->table, slice))
            __atomic_store_n(&run->stop, MM_STOP_TABLE, __ATOMIC_RELAXED);
        if (me->tid == 0) {
            if (run->iterations && done >= run->iterations)
                __atomic_store_n(&run->stop, MM_STOP_DONE, __ATOMIC_RELAXED);
            else if (run->deadline > 0 && mm_now() >= run->deadline)
                __atomic_store_n(&run->stop, MM_STOP_DEADLINE, __ATOMIC_RELAXED);
            else if (__atomic_load_n(&run->ext_stop, __ATOMIC_RELAXED))
                __atomic_store_n(&run->stop, MM_STOP_SIGNAL, __ATOMIC_RELAXED);
        }
        if (!barrier_all(me))
            goto out;
        if (__atomic_load_n(&run->stop, __ATOMIC_RELAXED))
            break;
    }
    if (me->tid == 0) {
        run->done = done;
        run->ended_at = mm_now();
    }
out:
    return NULL;
}

/* Start every worker (pinned when cpu >= 0). On failure, stop the started ones via `abort`,
 * join them and return an errno-style code; `*failed_cpu` names a CPU that could not be used. */
static int run_start(mm_run *run, int *failed_cpu)
{
    run->started_at = mm_now();
    for (int t = 0; t < run->nthreads; t++) {
        mm_thread *th = &run->threads[t];
        pthread_attr_t attr;
        int err = pthread_attr_init(&attr);
        if (!err && th->cpu >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(th->cpu, &set);
            err = pthread_attr_setaffinity_np(&attr, sizeof set, &set);
        }
        if (!err)
            err = pthread_create(&th->handle, &attr, worker, th);
        pthread_attr_destroy(&attr);
        if (err) {
            *failed_cpu = th->cpu;
            __atomic_store_n(&run->abort, 1, __ATOMIC_SEQ_CST);
            for (int j = 0; j < t; j++)
                pthread_join(run->threads[j].handle, NULL);
            for (int j = 0; j < t; j++)
                run->threads[j].started = false;
            return err;
        }
        th->started = true;
    }
    return 0;
}

/* Wait up to `ms` milliseconds for every worker to return; true when all were joined. */
static bool run_join_for(mm_run *run, long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += ms * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    for (int t = 0; t < run->nthreads; t++) {
        mm_thread *th = &run->threads[t];
        if (!th->started)
            continue;
        if (pthread_timedjoin_np(th->handle, NULL, &until) != 0)
            return false;
        th->started = false;
    }
    return true;
}
