/* A test-then-set spinlock (BROKEN): lock waits until the word reads 0, then stores 1 -- a
 * load and a store, not one atomic exchange, so two threads can both see 0 and both enter.
 * The fix: __atomic_exchange_n(&l->word, 1, __ATOMIC_ACQUIRE) == 0 as the test.
 *   stressmm fuzz --go --impl examples/impls/tts_spinlock.c --minutes 2   # exit 1 */
#include <stdint.h>

#include "stressmm_impl.h"

static void tts_init(void *m)
{
    *(int *)m = 0;
}

static int tts_lock(void *m, stressmm_ctx *ctx)
{
    int *word = m;
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) != 0)
        if (ctx->wait(ctx))
            return STRESSMM_GIVE_UP;
    __atomic_store_n(word, 1, __ATOMIC_RELAXED);   /* the bug: test, then set */
    return STRESSMM_OK;
}

static int tts_unlock(void *m, stressmm_ctx *ctx)
{
    (void)ctx;
    if (!__atomic_exchange_n((int *)m, 0, __ATOMIC_RELEASE))
        return STRESSMM_PANIC;   /* unlock of an unlocked mutex */
    return STRESSMM_OK;
}

static const stressmm_mutex mutex = {sizeof(int), tts_init, tts_lock, tts_unlock};
static const stressmm_impl impl = {STRESSMM_IMPL_ABI, "test-then-set", &mutex, 0, 0, 0, 0};

const stressmm_impl *stressmm_impl_v1(void)
{
    return &impl;
}
