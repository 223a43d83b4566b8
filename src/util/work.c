/* SPDX-License-Identifier: Apache-2.0 */
/* Work queues (work.h): the libuv thread-pool executor. */
#include "util/work.h"

#include "util/err.h"

int rn_work_queue(rn_executor_t *ex, rn_work_t *w)
{
    if (ex == NULL || w->run == NULL || w->done == NULL)
        return RN_EINVAL;
    return ex->queue(ex, w);
}

static void on_uv_work(uv_work_t *uv)
{
    rn_work_t *w = uv->data;
    w->run(w);
}

static void on_uv_done(uv_work_t *uv, int status)
{
    rn_work_t *w = uv->data;
    /* Only uv_cancel makes status non-zero, and nothing cancels: the work never ran then. */
    w->done(w, status);
}

static int uv_queue(rn_executor_t *ex, rn_work_t *w)
{
    rn_uv_executor_t *uvex = rn_container_of(ex, rn_uv_executor_t, ex);
    w->uv.data = w;
    return uv_queue_work(uvex->loop, &w->uv, on_uv_work, on_uv_done);
}

void rn_uv_executor_init(rn_uv_executor_t *uvex, uv_loop_t *loop)
{
    uvex->ex.queue = uv_queue;
    uvex->loop = loop;
}
