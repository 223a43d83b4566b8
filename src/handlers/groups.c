/* SPDX-License-Identifier: Apache-2.0 */
/* The classic group membership APIs over src/coord/groups.h: JoinGroup (key 11) v0-v9,
 * Heartbeat (12) v0-v4, LeaveGroup (13) v0-v5, SyncGroup (14) v0-v5.
 *
 * A JoinGroup that waits for the rebalance, and a SyncGroup that waits for the leader, are
 * parked on their connection's loop (park.h). The groups room decides their answer under its
 * lock on whatever thread completes the rebalance, copies it into the request's arena and wakes
 * the loop; the loop answers from on_retry. The order is: register with the groups room, park,
 * arm (an answer that came between the first and the last is caught by the arm). A request that
 * is still waiting when its park times out (the group's own deadline should have answered it)
 * or when its loop stops gets a retriable error: REBALANCE_IN_PROGRESS, or
 * COORDINATOR_NOT_AVAILABLE when the broker is stopping.
 *
 * An answer goes out only once the records the groups room queued for __consumer_offsets are
 * written (as Kafka answers SyncGroup once the assignment is stored): rn_groups_flush runs on
 * the request's executor, never on the loop, since an append may fsync. */
#include <stdlib.h>
#include <string.h>

#include "coord/groups.h"
#include "handlers/handlers.h"
#include "handlers/park.h"
#include "util/err.h"
#include "util/logging.h"

/* The groups of this broker, or NULL before the coordinator is there. */
static rn_groups_t *groups_of(const rn_request_t *req)
{
    return req->broker != NULL && req->broker->coord != NULL ? rn_coord_groups(req->broker->coord)
                                                             : NULL;
}

/* ---- answering once the group's records are written ---- */

typedef struct written_answer {
    rn_work_t work;
    rn_request_t *req;
    rn_groups_t *groups;
} written_answer_t;

static void on_flush_work(rn_work_t *w)
{
    rn_groups_flush(rn_container_of(w, written_answer_t, work)->groups);
}

static void on_flush_done(rn_work_t *w, int status)
{
    written_answer_t *a = rn_container_of(w, written_answer_t, work);
    if (status != 0)
        rn_reject(a->req, "the group's records were not written");
    else
        rn_send_encoded(a->req);
}

/* Answers `resp` now, or, when records queued by this call or an earlier one are not written
 * yet, encodes it now and sends it once they are. */
static void respond_written(rn_request_t *req, const void *resp)
{
    rn_groups_t *groups = groups_of(req);
    if (groups == NULL || !rn_groups_has_writes(groups)) {
        rn_respond(req, resp);
        return;
    }
    if (!rn_encode_response(req, resp))
        return;
    written_answer_t *a = rn_arena_try_alloc(&req->arena, sizeof *a);
    if (a == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    *a = (written_answer_t){ .work = { .run = on_flush_work, .done = on_flush_done },
                             .req = req,
                             .groups = groups };
    int err = rn_work_queue(req->executor, &a->work);
    if (err != 0) {
        rn_log(RN_LOG_ERROR, "handlers", "cannot queue the write of a group's records: %s",
               strerror(-err));
        rn_reject(req, "the group's records could not be written");
    }
}

/* Kafka's client host: "/" and the peer's address, without the port. */
static rn_str_t client_host(rn_request_t *req)
{
    const char *peer = req->peer != NULL ? req->peer : "";
    const char *start = peer, *end = strrchr(peer, ':');
    if (peer[0] == '[') {
        start = peer + 1;
        end = strchr(peer, ']');
    }
    if (end == NULL || end < start)
        end = start + strlen(start);
    char *s = rn_arena_sprintf(&req->arena, "/%.*s", (int)(end - start), start);
    return rn_str_from_cstr(s != NULL ? s : "");
}

/* ---- answers ---- */

static void respond_join(rn_request_t *req, const rn_groups_join_result_t *r)
{
    rn_join_group_response_t resp;
    rn_join_group_response_init(&resp);
    resp.error_code = r->error_code;
    resp.generation_id = r->generation_id;
    resp.protocol_type = r->protocol_type;
    resp.protocol_name = r->protocol_name;
    resp.leader = r->leader;
    resp.member_id = r->member_id;
    resp.skip_assignment = r->skip_assignment;
    if (r->nmembers > 0) {
        rn_join_group_response_member_t *items =
            rn_arena_try_alloc_array(&req->arena, rn_join_group_response_member_t, r->nmembers);
        if (items == NULL) {
            rn_reject(req, "out of memory");
            return;
        }
        for (int32_t i = 0; i < r->nmembers; i++) {
            rn_join_group_response_member_init(&items[i]);
            items[i].member_id = r->members[i].member_id;
            items[i].group_instance_id = r->members[i].group_instance_id;
            items[i].metadata = r->members[i].metadata;
        }
        resp.members.items = items;
        resp.members.count = r->nmembers;
    }
    respond_written(req, &resp);
}

static void respond_join_error(rn_request_t *req, rn_kerr_t error, rn_str_t member_id)
{
    rn_groups_join_result_t r = {
        .error_code = error,
        .generation_id = -1,
        .leader = { "", 0 },
        .member_id = member_id,
    };
    respond_join(req, &r);
}

static void respond_sync(rn_request_t *req, const rn_groups_sync_result_t *r)
{
    rn_sync_group_response_t resp;
    rn_sync_group_response_init(&resp);
    resp.error_code = r->error_code;
    resp.protocol_type = r->protocol_type;
    resp.protocol_name = r->protocol_name;
    resp.assignment =
        r->assignment.ptr != NULL ? r->assignment : (rn_bytes_t){ (const uint8_t *)"", 0 };
    respond_written(req, &resp);
}

static void respond_sync_error(rn_request_t *req, rn_kerr_t error)
{
    rn_groups_sync_result_t r = { .error_code = error, .assignment = { (const uint8_t *)"", 0 } };
    respond_sync(req, &r);
}

/* ---- requests that wait ---- */

typedef struct group_wait {
    rn_parked_t parked; /* owner loop: the request's */
    rn_request_t *req;
    rn_groups_t *groups;
    rn_groups_waiter_t waiter;
    bool sync;          /* a SyncGroup, else a JoinGroup */
    rn_str_t member_id; /* the request's, for an error answer */
} group_wait_t;

static void on_group_wake(rn_groups_waiter_t *w)
{
    rn_parked_wake(&rn_container_of(w, group_wait_t, waiter)->parked);
}

/* Answers with the groups room's result, or with `error` when there is none. */
static void answer(group_wait_t *gw, rn_kerr_t error)
{
    rn_request_t *req = gw->req;
    gw->req = NULL;
    if (gw->sync && error != 0)
        respond_sync_error(req, error);
    else if (gw->sync)
        respond_sync(req, &gw->waiter.sync);
    else if (error != 0)
        respond_join_error(req, error, gw->member_id);
    else
        respond_join(req, &gw->waiter.join);
}

static void on_retry(rn_parked_t *p, bool final)
{
    group_wait_t *gw = rn_container_of(p, group_wait_t, parked);
    if (rn_groups_wait_end(gw->groups, &gw->waiter, final))
        answer(gw, 0);
    else if (final)
        answer(gw, rn_can_park(p->ctx) ? RN_KERR_REBALANCE_IN_PROGRESS
                                       : RN_KERR_COORDINATOR_NOT_AVAILABLE);
    else
        return; /* a wake-up that was not for us: wake-ups coalesce */
    rn_unpark(p);
}

static void on_release(rn_parked_t *p)
{
    free(rn_container_of(p, group_wait_t, parked));
}

static group_wait_t *wait_new(rn_request_t *req, rn_groups_t *groups, bool sync, rn_str_t member_id)
{
    group_wait_t *gw = calloc(1, sizeof *gw);
    if (gw == NULL) {
        rn_reject(req, "out of memory");
        return NULL;
    }
    gw->req = req;
    gw->groups = groups;
    gw->sync = sync;
    gw->member_id = member_id;
    gw->waiter.arena = &req->arena;
    gw->waiter.wake = on_group_wake;
    return gw;
}

/* The groups room answered at once (`done`), or the request parks until it does. */
static void finish_or_park(group_wait_t *gw, bool done, uint64_t wait_ms)
{
    rn_request_t *req = gw->req;
    if (!done && !rn_can_park(req->loop_ctx)) {
        /* No loop to wait on (it is stopping): take the waiter back, unless the answer came. */
        done = rn_groups_wait_end(gw->groups, &gw->waiter, true);
        if (!done) {
            answer(gw, RN_KERR_COORDINATOR_NOT_AVAILABLE);
            free(gw);
            return;
        }
    }
    if (done) {
        answer(gw, 0);
        free(gw);
        return;
    }
    gw->parked.retry = on_retry;
    gw->parked.release = on_release;
    rn_park(req->loop_ctx, &gw->parked, wait_ms);
    if (rn_groups_arm(gw->groups, &gw->waiter)) {
        answer(gw, 0);
        rn_unpark(&gw->parked);
    }
}

/* ---- JoinGroup ---- */

void rn_handle_join_group(rn_request_t *req)
{
    rn_join_group_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    rn_groups_t *groups = groups_of(req);
    if (groups == NULL) {
        respond_join_error(req, RN_KERR_COORDINATOR_NOT_AVAILABLE, body.member_id);
        return;
    }
    size_t n = body.protocols.count > 0 ? (size_t)body.protocols.count : 0;
    rn_groups_protocol_t *protocols =
        rn_arena_try_alloc_array(&req->arena, rn_groups_protocol_t, n ? n : 1);
    if (protocols == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        protocols[i] = (rn_groups_protocol_t){ body.protocols.items[i].name,
                                               body.protocols.items[i].metadata };
    rn_groups_join_args_t args = {
        .version = req->api_version,
        .group_id = body.group_id,
        .member_id = body.member_id,
        .group_instance_id = req->api_version >= 5 ? body.group_instance_id : (rn_str_t){ NULL, 0 },
        .protocol_type = body.protocol_type,
        .client_id = req->client_id,
        .client_host = client_host(req),
        .session_timeout_ms = body.session_timeout_ms,
        /* v0 has no rebalance timeout: Kafka uses the session timeout. */
        .rebalance_timeout_ms =
            req->api_version >= 1 ? body.rebalance_timeout_ms : body.session_timeout_ms,
        .protocols = protocols,
        .nprotocols = n,
    };
    group_wait_t *gw = wait_new(req, groups, false, body.member_id);
    if (gw == NULL)
        return;
    uint64_t wait_ms = 0;
    bool done = rn_groups_join(groups, &args, &gw->waiter, &wait_ms);
    finish_or_park(gw, done, wait_ms);
}

/* ---- SyncGroup ---- */

void rn_handle_sync_group(rn_request_t *req)
{
    rn_sync_group_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    rn_groups_t *groups = groups_of(req);
    if (groups == NULL) {
        respond_sync_error(req, RN_KERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    size_t n = body.assignments.count > 0 ? (size_t)body.assignments.count : 0;
    rn_groups_assignment_t *assignments =
        rn_arena_try_alloc_array(&req->arena, rn_groups_assignment_t, n ? n : 1);
    if (assignments == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        assignments[i] = (rn_groups_assignment_t){ body.assignments.items[i].member_id,
                                                   body.assignments.items[i].assignment };
    int16_t v = req->api_version;
    rn_groups_sync_args_t args = {
        .group_id = body.group_id,
        .generation_id = body.generation_id,
        .member_id = body.member_id,
        .group_instance_id = v >= 3 ? body.group_instance_id : (rn_str_t){ NULL, 0 },
        .protocol_type = v >= 5 ? body.protocol_type : (rn_str_t){ NULL, 0 },
        .protocol_name = v >= 5 ? body.protocol_name : (rn_str_t){ NULL, 0 },
        .assignments = assignments,
        .nassignments = n,
    };
    group_wait_t *gw = wait_new(req, groups, true, body.member_id);
    if (gw == NULL)
        return;
    uint64_t wait_ms = 0;
    bool done = rn_groups_sync(groups, &args, &gw->waiter, &wait_ms);
    finish_or_park(gw, done, wait_ms);
}

/* ---- Heartbeat ---- */

void rn_handle_heartbeat(rn_request_t *req)
{
    rn_heartbeat_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    rn_groups_t *groups = groups_of(req);
    rn_heartbeat_response_t resp;
    rn_heartbeat_response_init(&resp);
    rn_str_t instance = req->api_version >= 3 ? body.group_instance_id : (rn_str_t){ NULL, 0 };
    resp.error_code = groups == NULL ? RN_KERR_COORDINATOR_NOT_AVAILABLE
                                     : rn_groups_heartbeat(groups, body.group_id, body.member_id,
                                                           instance, body.generation_id);
    rn_respond(req, &resp);
}

/* ---- LeaveGroup ---- */

void rn_handle_leave_group(rn_request_t *req)
{
    rn_leave_group_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    rn_groups_t *groups = groups_of(req);
    int16_t v = req->api_version;
    /* v0-v2 name one member; v3+ (KIP-345) a batch, each with its instance id. */
    size_t n = v < 3 ? 1 : (body.members.count > 0 ? (size_t)body.members.count : 0);
    rn_groups_leaver_t *leavers =
        rn_arena_try_alloc_array(&req->arena, rn_groups_leaver_t, n ? n : 1);
    rn_kerr_t *errors = rn_arena_try_alloc_array(&req->arena, rn_kerr_t, n ? n : 1);
    rn_leave_group_response_member_t *items =
        v >= 3 ? rn_arena_try_alloc_array(&req->arena, rn_leave_group_response_member_t, n ? n : 1)
               : NULL;
    if (leavers == NULL || errors == NULL || (v >= 3 && items == NULL)) {
        rn_reject(req, "out of memory");
        return;
    }
    if (v < 3)
        leavers[0] = (rn_groups_leaver_t){ body.member_id, { NULL, 0 } };
    for (size_t i = 0; v >= 3 && i < n; i++)
        leavers[i] = (rn_groups_leaver_t){ body.members.items[i].member_id,
                                           body.members.items[i].group_instance_id };
    rn_kerr_t top = RN_KERR_COORDINATOR_NOT_AVAILABLE;
    if (groups != NULL)
        top = rn_groups_leave(groups, body.group_id, leavers, n, errors);

    rn_leave_group_response_t resp;
    rn_leave_group_response_init(&resp);
    resp.error_code = top;
    if (v < 3) {
        /* Kafka's LeaveGroupResponse for v0-v2: the member's error becomes the only error. */
        if (top == 0)
            resp.error_code = errors[0];
    } else if (top == 0) {
        for (size_t i = 0; i < n; i++) {
            rn_leave_group_response_member_init(&items[i]);
            items[i].member_id = leavers[i].member_id;
            items[i].group_instance_id = leavers[i].group_instance_id;
            items[i].error_code = errors[i];
        }
        resp.members.items = items;
        resp.members.count = (int32_t)n;
    }
    respond_written(req, &resp);
}
