/* A ticket lock (correct): lock takes the next ticket and waits until it is served; unlock
 * serves the next ticket with a release store, read by the acquire load of the next owner.
 *   stressmm fuzz --go --impl examples/impls/ticket_lock.c --minutes 1   # nothing forbidden */
#include <stdint.h>

#include "stressmm_impl.h"

typedef struct {
    uint64_t next;      /* the next ticket to hand out */
    uint64_t serving;   /* the ticket that holds the lock */
} ticket_lock;

static void tl_init(void *m)
{
    ticket_lock *l = m;
    l->next = 0;
    l->serving = 0;
}

static int tl_lock(void *m, stressmm_ctx *ctx)
{
    ticket_lock *l = m;
    uint64_t mine = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&l->serving, __ATOMIC_ACQUIRE) != mine)
        if (ctx->wait(ctx))
            return STRESSMM_GIVE_UP;
    return STRESSMM_OK;
}

static int tl_unlock(void *m, stressmm_ctx *ctx)
{
    (void)ctx;
    ticket_lock *l = m;
    uint64_t serving = __atomic_load_n(&l->serving, __ATOMIC_RELAXED);
    if (serving == __atomic_load_n(&l->next, __ATOMIC_RELAXED))
        return STRESSMM_PANIC;   /* unlock of an unlocked mutex */
    __atomic_store_n(&l->serving, serving + 1, __ATOMIC_RELEASE);
    return STRESSMM_OK;
}

static const stressmm_mutex mutex = {sizeof(ticket_lock), tl_init, tl_lock, tl_unlock};
static const stressmm_impl impl = {STRESSMM_IMPL_ABI, "ticket-lock", &mutex, 0, 0, 0, 0};

const stressmm_impl *stressmm_impl_v1(void)
{
    return &impl;
}
