/* A mutex on a pthread mutex (correct): trylock in a loop that calls the wait hook, so a
 * stuck iteration can still end; `held` tells an unlock of an unlocked mutex (Go panics). */
#include <pthread.h>

#include "stressmm_impl.h"

typedef struct {
    pthread_mutex_t mu;
    int held;
} pmutex;

static void pm_init(void *m)
{
    pmutex *p = m;
    pthread_mutex_init(&p->mu, NULL);
    p->held = 0;
}

static int pm_lock(void *m, stressmm_ctx *ctx)
{
    pmutex *p = m;
    while (pthread_mutex_trylock(&p->mu) != 0)
        if (ctx->wait(ctx))
            return STRESSMM_GIVE_UP;
    __atomic_store_n(&p->held, 1, __ATOMIC_RELAXED);
    return STRESSMM_OK;
}

static int pm_unlock(void *m, stressmm_ctx *ctx)
{
    (void)ctx;
    pmutex *p = m;
    if (!__atomic_exchange_n(&p->held, 0, __ATOMIC_RELAXED))
        return STRESSMM_PANIC;   /* unlock of an unlocked mutex */
    pthread_mutex_unlock(&p->mu);
    return STRESSMM_OK;
}

static const stressmm_mutex mutex = {sizeof(pmutex), pm_init, pm_lock, pm_unlock};
static const stressmm_impl impl = {STRESSMM_IMPL_ABI, "pthread-mutex", &mutex, 0, 0, 0, 0};

const stressmm_impl *stressmm_impl_v1(void)
{
    return &impl;
}
