/* A mutex whose lock sleeps in the kernel and never calls the wait hook: stressmm must stop
 * it and report a hang. */
#include <unistd.h>

#include "stressmm_impl.h"

static void fv_init(void *m)
{
    *(int *)m = 0;
}

static int fv_lock(void *m, stressmm_ctx *ctx)
{
    (void)m;
    (void)ctx;
    pause();   /* until a signal: the watchdog's SIGKILL */
    return STRESSMM_OK;
}

static int fv_unlock(void *m, stressmm_ctx *ctx)
{
    (void)m;
    (void)ctx;
    return STRESSMM_OK;
}

static const stressmm_mutex mutex = {sizeof(int), fv_init, fv_lock, fv_unlock};
static const stressmm_impl impl = {STRESSMM_IMPL_ABI, "forever", &mutex, 0, 0, 0, 0};

const stressmm_impl *stressmm_impl_v1(void)
{
    return &impl;
}
