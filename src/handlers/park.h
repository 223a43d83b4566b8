/* SPDX-License-Identifier: Apache-2.0 */
/* Requests that wait (a Fetch long poll) are parked on their connection's loop until something
 * wakes them or their time is up. A wake-up may come from any thread (an append on another
 * loop): it sets a flag and signals the loop's async handle, and the loop re-runs the request.
 * Private to the handler room. */
#ifndef RN_HANDLERS_PARK_H
#define RN_HANDLERS_PARK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

typedef struct rn_loop_ctx rn_loop_ctx_t;
typedef struct rn_parked rn_parked_t;

/* Embedded in the parked request's own struct. Owner loop: ctx's. */
struct rn_parked {
    rn_loop_ctx_t *ctx;
    rn_parked_t *prev, *next;
    atomic_bool woken;
    uv_timer_t timer;
    /* Re-runs the request. `final`: the wait is over (timer, or the loop stops): the request
     * must finish now and call rn_unpark. Otherwise it may finish (and unpark) or keep waiting. */
    void (*retry)(rn_parked_t *p, bool final);
    /* Frees the embedding struct, once the timer handle has closed. */
    void (*release)(rn_parked_t *p);
};

/* The loop context of a request (see rn_request_t.loop_ctx). False when the loop is stopping or
 * absent (then the request must answer at once instead of parking). */
bool rn_can_park(const rn_loop_ctx_t *ctx);
/* Parks `p` for at most `timeout_ms`. retry and release must be set. Owner loop: ctx's. */
void rn_park(rn_loop_ctx_t *ctx, rn_parked_t *p, uint64_t timeout_ms);
/* Takes `p` off its loop; release() runs once its timer handle has closed. */
void rn_unpark(rn_parked_t *p);
/* From any thread: asks `p`'s loop to re-run it soon. */
void rn_parked_wake(rn_parked_t *p);

#endif
