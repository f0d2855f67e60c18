/* stressmm_impl.h: your own Go-style primitives, in C, under stressmm's native executor.
 *
 *   stressmm impl --header > stressmm_impl.h        (or: cc -I"$(stressmm impl --include-dir)")
 *   stressmm fuzz --go --impl mylock.c --minutes 2  (compiled for you, cached by content)
 *   stressmm run scenarios/go/Ready+mutex.litmus --impl mylock.so
 *
 * Provide any subset of the five kinds (mutex, rwmutex, channel, once, waitgroup); the kinds
 * you leave NULL stay the built-in ones. Export one function, stressmm_impl_v1(), returning a
 * table that lives as long as the library (a static const is best):
 *
 *   static const stressmm_mutex my_mutex = { sizeof(struct my_lock), my_init, my_lock, my_unlock };
 *   static const stressmm_impl impl = { STRESSMM_IMPL_ABI, "my-lock", &my_mutex, 0, 0, 0, 0 };
 *   const stressmm_impl *stressmm_impl_v1(void) { return &impl; }
 *
 * OBJECTS. The runtime allocates `size` bytes (1 to 4096) per object, aligned to 64 bytes,
 * and calls `init` on it before every iteration of the program (fresh state every time, also
 * after an iteration that panicked or timed out). An object is touched only by its calls.
 *
 * CALLS. Every operation gets the object's memory and a context (below). It returns
 * STRESSMM_OK when done, STRESSMM_PANIC where Go panics (the iteration ends with the `panic`
 * outcome), or STRESSMM_GIVE_UP once ctx->wait() asked it to stop. Calls come from the
 * program's threads concurrently, one thread per CPU; use C11 atomics (or __atomic builtins,
 * or pthreads) for anything shared.
 *
 * WAITING. Every wait loop must call ctx->wait(ctx) on each round (after each failed attempt,
 * or after each short sleep of at most 100 microseconds, e.g. pthread_cond_timedwait). It
 * returns 0: keep waiting; non-zero: the runtime ends this iteration (the wait went past its
 * budget, another thread panicked, the run's time is up, Ctrl-C): return STRESSMM_GIVE_UP at
 * once, leaving the object as it is (it is initialised again before the next iteration). A
 * call that never returns is killed with its worker process and reported as a hang.
 * DEADLOCK. When every thread of an iteration is finished or waiting (in ctx->wait inside one
 * of your calls, or in a built-in primitive), and each waiting thread goes on calling
 * ctx->wait for 32 more rounds without leaving its call while nothing else moves, the
 * iteration ends as `deadlock`, judged like Go's "all goroutines are asleep": allowed where
 * the program can deadlock, a counterexample where it cannot. This relies on the rule above:
 * a wait loop re-checks what it waits for on every round. It also assumes that a waiting call
 * changes nothing other calls wait for between two of its rounds, unless it holds, while it
 * calls ctx->wait, the lock that guards that change (a pthread mutex, as with a condition
 * variable): a lock-free call that waits in stages (an unbuffered send that places its value,
 * then waits for it to be taken) can, with a thread descheduled at the wrong moment, have a
 * live iteration counted as a deadlock. A wait that goes past its budget
 * without that (a thread off its CPU, one running its own code) ends as `timeout`, which is
 * counted but never judged.
 *
 * WHAT EACH CALL MUST GUARANTEE (the Go memory model, go.dev/ref/mem; "synchronized before"
 * means: every memory write before the first event is visible after the second one):
 *   mutex     for n < m, the n-th call of unlock is synchronized before the m-th call of lock
 *             returns; lock returns only while no other thread holds the lock; unlock of an
 *             unlocked mutex panics.
 *   rwmutex   as mutex for lock/unlock; for any call of rlock there is an n such that the n-th
 *             unlock is synchronized before the return of that rlock, and the matching runlock
 *             is synchronized before the return of the (n+1)-th lock; lock excludes every
 *             reader and writer, rlock excludes writers only; runlock without a reader panics.
 *   channel   a send is synchronized before the completion of the receive that gets its value;
 *             with capacity 0 (unbuffered), a receive is synchronized before the completion of
 *             the send it pairs with (the send returns only once its value was taken); with
 *             capacity C > 0, the k-th receive is synchronized before the completion of the
 *             (k+C)-th send, values come out in the order they went in (FIFO), and a send
 *             blocks while C values are buffered; close is synchronized before a receive that
 *             returns because the channel is closed: after close, receives drain the buffered
 *             values (ok = 1) and then return at once with value 0 and ok = 0, and a send
 *             blocked on the closed channel must wake up and panic; send on a closed channel
 *             and close of a closed channel panic.
 *   once      begin returns STRESSMM_OK to exactly one caller, which then runs the body and
 *             calls end; every other caller waits until end was called and returns
 *             STRESSMM_DONE: the completion of the body (end) is synchronized before the
 *             return of every begin that returns STRESSMM_DONE.
 *   waitgroup add(delta) changes the counter (Done is add(-1)); a counter below zero panics;
 *             wait returns once the counter is zero: the add that brought it to zero is
 *             synchronized before the return of that wait.
 * Nothing else is promised to the program: stressmm judges the outcomes by these rules alone
 * (the `go` model), so a primitive that orders more than it must still passes.
 */
#ifndef STRESSMM_IMPL_H
#define STRESSMM_IMPL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this interface. The runtime refuses a table with another value. */
#define STRESSMM_IMPL_ABI 1

/* Results of every operation. */
enum {
    STRESSMM_OK = 0,        /* done */
    STRESSMM_GIVE_UP = 1,   /* ctx->wait() returned non-zero: the iteration ends */
    STRESSMM_PANIC = 2,     /* where Go panics */
    STRESSMM_DONE = 3       /* once.begin only: the body already ran to its end */
};

typedef struct stressmm_ctx stressmm_ctx;

/* What an operation gets besides its object; valid for that call only. */
struct stressmm_ctx {
    uint32_t abi;      /* STRESSMM_IMPL_ABI of the runtime */
    uint32_t thread;   /* the calling program thread: 0, 1, ... */
    /* The bounded-wait hook: call it once per round of every wait loop; non-zero means
     * return STRESSMM_GIVE_UP now. It spins briefly (a CPU pause), so a loop that calls it
     * needs no pause of its own. */
    int (*wait)(stressmm_ctx *ctx);
    /* A per-thread pseudo-random number (xorshift, seeded from the run's schedule), e.g. to
     * back off for a random number of rounds. */
    uint64_t (*random)(stressmm_ctx *ctx);
    void *runtime;     /* the runtime's: do not touch */
};

typedef struct {
    size_t size;                                       /* bytes of one object: 1..4096 */
    void (*init)(void *m);
    int (*lock)(void *m, stressmm_ctx *ctx);
    int (*unlock)(void *m, stressmm_ctx *ctx);
} stressmm_mutex;

typedef struct {
    size_t size;
    void (*init)(void *rw);
    int (*lock)(void *rw, stressmm_ctx *ctx);
    int (*unlock)(void *rw, stressmm_ctx *ctx);
    int (*rlock)(void *rw, stressmm_ctx *ctx);
    int (*runlock)(void *rw, stressmm_ctx *ctx);
} stressmm_rwmutex;

typedef struct {
    size_t size;                                       /* at most 4096 for capacity 64 */
    void (*init)(void *c, int32_t capacity);           /* 0 = unbuffered; at most 64 */
    int (*send)(void *c, int64_t value, stressmm_ctx *ctx);
    /* On STRESSMM_OK: *value and *ok (1 = a value sent, 0 = closed and drained, value 0). */
    int (*recv)(void *c, int64_t *value, int *ok, stressmm_ctx *ctx);
    int (*close)(void *c, stressmm_ctx *ctx);
} stressmm_channel;

typedef struct {
    size_t size;
    void (*init)(void *o);
    int (*begin)(void *o, stressmm_ctx *ctx);          /* STRESSMM_OK: run the body; DONE: skip */
    int (*end)(void *o, stressmm_ctx *ctx);            /* after the body, by begin's OK caller */
} stressmm_once;

typedef struct {
    size_t size;
    void (*init)(void *wg);
    int (*add)(void *wg, int64_t delta, stressmm_ctx *ctx);
    int (*wait)(void *wg, stressmm_ctx *ctx);
} stressmm_waitgroup;

typedef struct {
    uint32_t abi;                        /* STRESSMM_IMPL_ABI */
    const char *name;                    /* shown in every report */
    const stressmm_mutex *mutex;         /* NULL: the built-in one */
    const stressmm_rwmutex *rwmutex;
    const stressmm_channel *channel;
    const stressmm_once *once;
    const stressmm_waitgroup *waitgroup;
} stressmm_impl;

/* The one symbol stressmm looks up. */
const stressmm_impl *stressmm_impl_v1(void);

#ifdef __cplusplus
}
#endif

#endif
