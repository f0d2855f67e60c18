/* Peterson's lock without a fence (BROKEN on x86 and weaker machines), for threads 0 and 1:
 * lock raises its flag, gives the turn away, then reads the other flag. With plain
 * (release/acquire) accesses the store of the flag may still sit in the store buffer when
 * the other flag is read: both threads read 0 and enter (the store-buffering shape, SB).
 * A seq_cst fence between the stores and the loads (or seq_cst accesses) makes it correct.
 *   stressmm fuzz --go --threads 2 --impl examples/impls/peterson_nofence.c --minutes 2 */
#include <stdint.h>

#include "stressmm_impl.h"

typedef struct {
    int flag[2];
    int turn;
    int held;
} peterson;

static void pt_init(void *m)
{
    peterson *p = m;
    p->flag[0] = p->flag[1] = 0;
    p->turn = 0;
    p->held = 0;
}

static int pt_lock(void *m, stressmm_ctx *ctx)
{
    peterson *p = m;
    int me = (int)(ctx->thread & 1), other = 1 - me;
    __atomic_store_n(&p->flag[me], 1, __ATOMIC_RELEASE);
    __atomic_store_n(&p->turn, other, __ATOMIC_RELEASE);
    /* missing: __atomic_thread_fence(__ATOMIC_SEQ_CST); */
    while (__atomic_load_n(&p->flag[other], __ATOMIC_ACQUIRE)
           && __atomic_load_n(&p->turn, __ATOMIC_ACQUIRE) == other)
        if (ctx->wait(ctx)) {
            __atomic_store_n(&p->flag[me], 0, __ATOMIC_RELEASE);
            return STRESSMM_GIVE_UP;
        }
    __atomic_store_n(&p->held, 1, __ATOMIC_RELAXED);
    return STRESSMM_OK;
}

static int pt_unlock(void *m, stressmm_ctx *ctx)
{
    peterson *p = m;
    if (!__atomic_exchange_n(&p->held, 0, __ATOMIC_RELAXED))
        return STRESSMM_PANIC;   /* unlock of an unlocked mutex */
    __atomic_store_n(&p->flag[ctx->thread & 1], 0, __ATOMIC_RELEASE);
    return STRESSMM_OK;
}

static const stressmm_mutex mutex = {sizeof(peterson), pt_init, pt_lock, pt_unlock};
static const stressmm_impl impl = {STRESSMM_IMPL_ABI, "peterson-nofence", &mutex, 0, 0, 0, 0};

const stressmm_impl *stressmm_impl_v1(void)
{
    return &impl;
}
