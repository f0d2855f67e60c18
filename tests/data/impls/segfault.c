/* A mutex whose lock writes through a null pointer: stressmm must report the crash. */
#include <stddef.h>

#include "stressmm_impl.h"

static void sf_init(void *m)
{
    *(int *)m = 0;
}

static int sf_lock(void *m, stressmm_ctx *ctx)
{
    (void)ctx;
    volatile int *nowhere = (volatile int *)(((size_t)m) & 0);
    *nowhere = 1;
    return STRESSMM_OK;
}

static int sf_unlock(void *m, stressmm_ctx *ctx)
{
    (void)m;
    (void)ctx;
    return STRESSMM_OK;
}

static const stressmm_mutex mutex = {sizeof(int), sf_init, sf_lock, sf_unlock};
static const stressmm_impl impl = {STRESSMM_IMPL_ABI, "segfault", &mutex, 0, 0, 0, 0};

const stressmm_impl *stressmm_impl_v1(void)
{
    return &impl;
}
