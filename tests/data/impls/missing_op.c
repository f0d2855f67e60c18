/* A mutex without unlock: refused at load. */
#include "stressmm_impl.h"

static void m_init(void *m)
{
    *(int *)m = 0;
}

static int m_lock(void *m, stressmm_ctx *ctx)
{
    (void)m;
    (void)ctx;
    return STRESSMM_OK;
}

static const stressmm_mutex mutex = {sizeof(int), m_init, m_lock, 0};
static const stressmm_impl impl = {STRESSMM_IMPL_ABI, "missing-op", &mutex, 0, 0, 0, 0};

const stressmm_impl *stressmm_impl_v1(void)
{
    return &impl;
}
