/* A channel on a mutex and a condition variable (correct): a ring buffer of `capacity`
 * values (one hand-off slot when unbuffered, where the sender then waits until its value was
 * taken). Waits are pthread_cond_timedwait of 50 microseconds followed by the wait hook.
 *   stressmm fuzz --go --impl examples/impls/ring_channel.c --minutes 1   # nothing forbidden
 * Compiled with -DCLOSE_FAKES_A_VALUE it is chan_close_wakeup.c's broken close. */
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "stressmm_impl.h"

#ifndef CLOSE_FAKES_A_VALUE
#define CLOSE_FAKES_A_VALUE 0
#define RING_NAME "ring-channel"
#endif

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int32_t capacity, slots;
    int32_t head, count, closed, waiting;
    uint64_t sent, taken;   /* values put in and taken out, for the unbuffered hand-off */
    int64_t buf[64];
} ring;

static void ring_init(void *c, int32_t capacity)
{
    ring *r = c;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->capacity = capacity;
    r->slots = capacity > 0 ? capacity : 1;
    r->head = r->count = r->closed = r->waiting = 0;
    r->sent = r->taken = 0;
}

/* Sleep on the condition variable briefly (mutex held), then ask the runtime. */
static int ring_wait(ring *r, stressmm_ctx *ctx)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec += 1;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    return ctx->wait(ctx);
}

static int ring_send(void *c, int64_t value, stressmm_ctx *ctx)
{
    ring *r = c;
    int rc = STRESSMM_OK;
    pthread_mutex_lock(&r->mu);
    while (!r->closed && r->count == r->slots)
        if (ring_wait(r, ctx)) {
            rc = STRESSMM_GIVE_UP;
            goto out;
        }
    if (r->closed) {
        rc = STRESSMM_PANIC;   /* send on a closed channel */
        goto out;
    }
    r->buf[(r->head + r->count) % r->slots] = value;
    r->count++;
    uint64_t mine = ++r->sent;
    pthread_cond_broadcast(&r->cv);
    while (r->capacity == 0 && r->taken < mine) {   /* unbuffered: until a receiver took it */
        if (r->closed) {
            r->count--;         /* withdrawn: a blocked send on a closed channel panics */
            rc = STRESSMM_PANIC;
            goto out;
        }
        if (ring_wait(r, ctx)) {
            rc = STRESSMM_GIVE_UP;
            goto out;
        }
    }
out:
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static int ring_recv(void *c, int64_t *value, int *ok, stressmm_ctx *ctx)
{
    ring *r = c;
    int rc = STRESSMM_OK;
    pthread_mutex_lock(&r->mu);
    while (r->count == 0 && !r->closed) {
        r->waiting++;
        int stop = ring_wait(r, ctx);
        r->waiting--;
        if (stop) {
            rc = STRESSMM_GIVE_UP;
            goto out;
        }
    }
    if (r->count > 0) {
        *value = r->buf[r->head];
        *ok = 1;
        r->head = (r->head + 1) % r->slots;
        r->count--;
        r->taken++;
        pthread_cond_broadcast(&r->cv);
    } else {
        *value = 0;   /* closed and drained */
        *ok = 0;
    }
out:
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static int ring_close(void *c, stressmm_ctx *ctx)
{
    (void)ctx;
    ring *r = c;
    int rc = STRESSMM_OK;
    pthread_mutex_lock(&r->mu);
    if (r->closed)
        rc = STRESSMM_PANIC;   /* close of a closed channel */
    if (CLOSE_FAKES_A_VALUE && r->waiting > 0 && r->count < r->slots) {
        r->buf[(r->head + r->count) % r->slots] = 0;   /* "wake them up": a value, not close */
        r->count++;
    }
    r->closed = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static const stressmm_channel channel = {sizeof(ring), ring_init, ring_send, ring_recv,
                                         ring_close};
static const stressmm_impl impl = {STRESSMM_IMPL_ABI, RING_NAME, 0, 0, &channel, 0, 0};

const stressmm_impl *stressmm_impl_v1(void)
{
    return &impl;
}
