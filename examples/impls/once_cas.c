/* A once on a compare-and-swap (correct): the caller that moves the state from NEW to RUNNING
 * runs the body; every other caller waits until the body's end published DONE (release
 * store, read by an acquire load), so the body's writes are visible when it returns. */
#include <stdint.h>

#include "stressmm_impl.h"

enum { NEW = 0, RUNNING = 1, DONE = 2 };

static void once_init(void *o)
{
    *(int *)o = NEW;
}

static int once_begin(void *o, stressmm_ctx *ctx)
{
    int expected = NEW;
    if (__atomic_compare_exchange_n((int *)o, &expected, RUNNING, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return STRESSMM_OK;
    while (__atomic_load_n((int *)o, __ATOMIC_ACQUIRE) != DONE)
        if (ctx->wait(ctx))
            return STRESSMM_GIVE_UP;
    return STRESSMM_DONE;
}

static int once_end(void *o, stressmm_ctx *ctx)
{
    (void)ctx;
    __atomic_store_n((int *)o, DONE, __ATOMIC_RELEASE);
    return STRESSMM_OK;
}

static const stressmm_once once = {sizeof(int), once_init, once_begin, once_end};
static const stressmm_impl impl = {STRESSMM_IMPL_ABI, "once-cas", 0, 0, 0, &once, 0};

const stressmm_impl *stressmm_impl_v1(void)
{
    return &impl;
}
