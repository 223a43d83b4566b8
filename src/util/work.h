/* SPDX-License-Identifier: Apache-2.0 */
/* Blocking work off the event loops. A piece of work has two halves: `run`, the blocking part
 * (an fsync, a file written and renamed, an append that may sync), on a worker thread; then
 * `done`, on the loop that queued it, which answers whoever waits. An executor decides where
 * the halves run. The broker's is libuv's thread pool with completions on the queuing loop
 * (rn_uv_executor_t); the handler unit tests bring their own, which runs queued work when the
 * test says so. Nothing here ever runs the work inline in place of queuing it: when queuing
 * fails, the caller fails what the work was for, and the loop never blocks. */
#ifndef RN_UTIL_WORK_H
#define RN_UTIL_WORK_H

#include <uv.h>

typedef struct rn_work rn_work_t;
struct rn_work {
    /* Worker thread. May touch only `w`'s own data and thread-safe rooms. */
    void (*run)(rn_work_t *w);
    /* The queuing loop, once run has returned; `status` is 0, or a negative errno when run
     * never ran (the executor gave up on it). May free `w`. */
    void (*done)(rn_work_t *w, int status);
    uv_work_t uv;    /* the libuv executor's */
    rn_work_t *next; /* other executors' queues */
};

typedef struct rn_executor rn_executor_t;
struct rn_executor {
    /* Queues `w` (run and done set). Returns 0, after which done runs exactly once, or a
     * negative errno with nothing queued. */
    int (*queue)(rn_executor_t *ex, rn_work_t *w);
};

/* Queues `w` on `ex`. Returns 0 or a negative errno (RN_EINVAL without an executor). */
int rn_work_queue(rn_executor_t *ex, rn_work_t *w);

/* libuv's thread pool, with completions on `loop`. Owner loop: `loop`: queue only from it. */
typedef struct rn_uv_executor {
    rn_executor_t ex;
    uv_loop_t *loop;
} rn_uv_executor_t;
void rn_uv_executor_init(rn_uv_executor_t *uvex, uv_loop_t *loop);

#endif
