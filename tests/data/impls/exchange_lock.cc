/* A spinlock in C++ (correct): std::atomic exchange, the wait hook in its loop. */
#include <new>
#include <atomic>
#include "stressmm_impl.h"
struct L { std::atomic<int> w; };
static void init(void *m) { new (m) L{}; }
static int lock(void *m, stressmm_ctx *ctx) {
    L *l = static_cast<L *>(m);
    while (l->w.exchange(1, std::memory_order_acquire))
        if (ctx->wait(ctx)) return STRESSMM_GIVE_UP;
    return STRESSMM_OK;
}
static int unlock(void *m, stressmm_ctx *) {
    L *l = static_cast<L *>(m);
    return l->w.exchange(0, std::memory_order_release) ? STRESSMM_OK : STRESSMM_PANIC;
}
static const stressmm_mutex mutex = {sizeof(L), init, lock, unlock};
static const stressmm_impl impl = {STRESSMM_IMPL_ABI, "cxx-lock", &mutex, nullptr, nullptr, nullptr, nullptr};
const stressmm_impl *stressmm_impl_v1(void) { return &impl; }
