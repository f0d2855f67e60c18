/* The built-in mutex of the native runtime, through the interface (correct): the same word,
 * the same atomics, the same steps (stressmm/_native/sync.c try_lock / try_unlock), so that
 * `stressmm bench --impl examples/impls/builtin_mutex.c` measures the cost of the user path
 * itself (the worker, the dispatch, the hook), like with like.
 *   Lock:   CAS 0 -> WRITER (acquire); while it fails, ctx->wait and look again (a relaxed
 *           load first, as the built-in retries only when something changed).
 *   Unlock: CAS WRITER -> 0 (release), panicking on an unlocked mutex, then one seq_cst
 *           increment of a change counter: the built-in's epoch bump, a full barrier.
 *   stressmm run Ready+mutex --impl examples/impls/builtin_mutex.c   # nothing forbidden */
#include <stdint.h>

#include "stressmm_impl.h"

#define WRITER ((int64_t)1 << 40)   /* the built-in's writer bit */

typedef struct {
    int64_t word;      /* WRITER when locked, else 0 */
    int64_t changes;   /* bumped after every unlock, like the built-in's epoch */
} builtin_mutex;

static void bm_init(void *m)
{
    builtin_mutex *b = m;
    b->word = 0;
    b->changes = 0;
}

static int bm_try(builtin_mutex *b)
{
    int64_t free = 0;
    return __atomic_compare_exchange_n(&b->word, &free, WRITER, 0, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

static int bm_lock(void *m, stressmm_ctx *ctx)
{
    builtin_mutex *b = m;
    while (!bm_try(b))
        do {
            if (ctx->wait(ctx))
                return STRESSMM_GIVE_UP;
        } while (__atomic_load_n(&b->word, __ATOMIC_RELAXED) != 0);
    return STRESSMM_OK;
}

static int bm_unlock(void *m, stressmm_ctx *ctx)
{
    builtin_mutex *b = m;
    (void)ctx;
    int64_t old = __atomic_load_n(&b->word, __ATOMIC_RELAXED);
    for (int tries = 0; tries < 1000000; tries++) {   /* only readers could race: none here */
        if (!(old & WRITER))
            return STRESSMM_PANIC;   /* unlock of unlocked mutex */
        if (__atomic_compare_exchange_n(&b->word, &old, old & ~WRITER, 0, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED)) {
            __atomic_add_fetch(&b->changes, 1, __ATOMIC_SEQ_CST);
            return STRESSMM_OK;
        }
    }
    return STRESSMM_PANIC;
}

static const stressmm_mutex mutex = {sizeof(builtin_mutex), bm_init, bm_lock, bm_unlock};
static const stressmm_impl impl = {STRESSMM_IMPL_ABI, "builtin-mutex", &mutex, 0, 0, 0, 0};

const stressmm_impl *stressmm_impl_v1(void)
{
    return &impl;
}
