/* SPDX-License-Identifier: Apache-2.0 */
/* Per-loop state of the handler room and the parking of waiting requests (see park.h).
 * The broker installs rn_handlers_loop_start/_stop/_end as the network room's loop hooks. */
#include "handlers/park.h"

#include <stdlib.h>

#include "handlers/handlers.h"
#include "util/err.h"
#include "util/logging.h"
#include "util/xmalloc.h"

struct rn_loop_ctx {
    uv_loop_t *loop;
    rn_uv_executor_t executor; /* the thread pool, completions on `loop` */
    uv_async_t wake;           /* signalled from any thread when a parked request may be ready */
    rn_parked_t *parked;       /* waiting requests of this loop */
    bool stopping;
};

static void on_wake(uv_async_t *async)
{
    rn_loop_ctx_t *ctx = rn_container_of(async, rn_loop_ctx_t, wake);
    /* Wake-ups coalesce: one signal may stand for many, so look at every parked request. */
    rn_parked_t *p = ctx->parked;
    while (p != NULL) {
        rn_parked_t *next = p->next; /* retry may unpark (and so unlink) p, never another */
        if (atomic_exchange_explicit(&p->woken, false, memory_order_acq_rel))
            p->retry(p, false);
        p = next;
    }
}

static void on_timeout(uv_timer_t *timer)
{
    rn_parked_t *p = rn_container_of(timer, rn_parked_t, timer);
    p->retry(p, true);
}

static void on_timer_closed(uv_handle_t *handle)
{
    rn_parked_t *p = rn_container_of((uv_timer_t *)handle, rn_parked_t, timer);
    p->release(p);
}

rn_executor_t *rn_handlers_loop_executor(void *loop_ctx)
{
    rn_loop_ctx_t *ctx = loop_ctx;
    return ctx != NULL ? &ctx->executor.ex : NULL;
}

bool rn_can_park(const rn_loop_ctx_t *ctx)
{
    return ctx != NULL && !ctx->stopping;
}

void rn_park(rn_loop_ctx_t *ctx, rn_parked_t *p, uint64_t timeout_ms)
{
    p->ctx = ctx;
    atomic_init(&p->woken, false);
    p->prev = NULL;
    p->next = ctx->parked;
    if (ctx->parked != NULL)
        ctx->parked->prev = p;
    ctx->parked = p;
    uv_timer_init(ctx->loop, &p->timer);
    uv_timer_start(&p->timer, on_timeout, timeout_ms, 0);
}

void rn_unpark(rn_parked_t *p)
{
    rn_loop_ctx_t *ctx = p->ctx;
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        ctx->parked = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, on_timer_closed);
}

void rn_parked_wake(rn_parked_t *p)
{
    atomic_store_explicit(&p->woken, true, memory_order_release);
    uv_async_send(&p->ctx->wake);
}

void *rn_handlers_loop_start(uv_loop_t *loop, int index, void *unused)
{
    (void)unused;
    rn_loop_ctx_t *ctx = rn_xcalloc(1, sizeof *ctx);
    ctx->loop = loop;
    rn_uv_executor_init(&ctx->executor, loop);
    int err = uv_async_init(loop, &ctx->wake, on_wake);
    if (err != 0) {
        /* Without its state the loop still serves: requests that would wait or queue work
         * answer with an error instead (rn_can_park and the executor see NULL). */
        rn_log(RN_LOG_ERROR, "handlers", "loop %d: cannot make its wake-up handle: %s", index,
               uv_strerror(err));
        free(ctx);
        return NULL;
    }
    return ctx;
}

void rn_handlers_loop_stop(void *loop_ctx)
{
    rn_loop_ctx_t *ctx = loop_ctx;
    if (ctx == NULL || ctx->stopping)
        return;
    ctx->stopping = true;
    /* Every parked request answers now with what it has, so its connection can drain. */
    while (ctx->parked != NULL)
        ctx->parked->retry(ctx->parked, true);
    uv_close((uv_handle_t *)&ctx->wake, NULL);
}

void rn_handlers_loop_end(void *loop_ctx)
{
    free(loop_ctx);
}
