/* A once whose late callers do not wait for the body (BROKEN): the caller that moves the
 * state from NEW to RUNNING runs the body, but a caller that comes while the body still runs
 * returns at once as if it were done, and goes on without the body's writes (Go: the body
 * completes before any call of Do returns).
 *   stressmm fuzz --go --impl examples/impls/once_nowait.c --minutes 2   # exit 1 */
#include <stdint.h>

#include "stressmm_impl.h"

enum { NEW = 0, RUNNING = 1, DONE = 2 };

static void once_init(void *o)
{
    *(int *)o = NEW;
}

static int once_begin(void *o, stressmm_ctx *ctx)
{
    (void)ctx;
    int expected = NEW;
    if (__atomic_compare_exchange_n((int *)o, &expected, RUNNING, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return STRESSMM_OK;
    return STRESSMM_DONE;   /* the bug: RUNNING is taken for DONE */
}

static int once_end(void *o, stressmm_ctx *ctx)
{
    (void)ctx;
    __atomic_store_n((int *)o, DONE, __ATOMIC_RELEASE);
    return STRESSMM_OK;
}

static const stressmm_once once = {sizeof(int), once_init, once_begin, once_end};
static const stressmm_impl impl = {STRESSMM_IMPL_ABI, "once-nowait", 0, 0, 0, &once, 0};

const stressmm_impl *stressmm_impl_v1(void)
{
    return &impl;
}
