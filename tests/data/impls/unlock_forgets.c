/* A mutex whose unlock forgets to release it (BROKEN): the second Lock waits for ever, so a
 * program that Go runs to its end deadlocks; stressmm must report `deadlock`, which the go
 * model forbids there. */
#include "stressmm_impl.h"

static void uf_init(void *m)
{
    __atomic_store_n((int *)m, 0, __ATOMIC_RELAXED);
}

static int uf_lock(void *m, stressmm_ctx *ctx)
{
    while (__atomic_exchange_n((int *)m, 1, __ATOMIC_ACQUIRE))
        if (ctx->wait(ctx))
            return STRESSMM_GIVE_UP;
    return STRESSMM_OK;
}

static int uf_unlock(void *m, stressmm_ctx *ctx)
{
    (void)m;
    (void)ctx;
    return STRESSMM_OK;
}

static const stressmm_mutex mutex = {sizeof(int), uf_init, uf_lock, uf_unlock};
static const stressmm_impl impl = {STRESSMM_IMPL_ABI, "unlock-forgets", &mutex, 0, 0, 0, 0};

const stressmm_impl *stressmm_impl_v1(void)
{
    return &impl;
}
