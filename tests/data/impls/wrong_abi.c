/* A table built for another version of the interface: refused at load. */
#include "stressmm_impl.h"

static void w_init(void *m)
{
    *(int *)m = 0;
}

static int w_op(void *m, stressmm_ctx *ctx)
{
    (void)m;
    (void)ctx;
    return STRESSMM_OK;
}

static const stressmm_mutex mutex = {sizeof(int), w_init, w_op, w_op};
static const stressmm_impl impl = {STRESSMM_IMPL_ABI + 1, "wrong-abi", &mutex, 0, 0, 0, 0};

const stressmm_impl *stressmm_impl_v1(void)
{
    return &impl;
}
