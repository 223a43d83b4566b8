/* SPDX-License-Identifier: Apache-2.0 */
/* FindCoordinator (key 10), v0-v5: on one node, this node coordinates every group and every
 * transactional id (key type 1, any key, the empty one too, as Kafka 4.4 answers). The first
 * lookup of a type creates its internal topic, __consumer_offsets or __transaction_state
 * (Kafka creates them lazily too, so an empty broker starts fast). librdkafka 2.0.2 also needs
 * FindCoordinator v0 advertised to enable LZ4 at all (CLIENTS.md rule 2). */
#include <stdatomic.h>

#include "coord/coord.h"
#include "coord/store.h"
#include "handlers/admin.h"
#include "handlers/handlers.h"
#include "handlers/job.h"

enum { KEY_TYPE_GROUP = 0, KEY_TYPE_TRANSACTION = 1, KEY_TYPE_SHARE = 2 };

static rn_kerr_t answer_for(int8_t key_type)
{
    if (key_type == KEY_TYPE_GROUP || key_type == KEY_TYPE_TRANSACTION)
        return RN_KERR_NONE;
    return RN_KERR_INVALID_REQUEST;
}

/* Kafka 4.4's error_message. v1-v3 carry the error's text, "NONE" for no error (Kafka's
 * Errors.message(), which falls back to the name). v4+ answer per key: "" for every key of a
 * type Kafka knows (a group, a transaction, a share group, KIP-932, which it refuses here),
 * and the text for a type it does not know, which fails the whole lookup. */
static rn_str_t message_for(const rn_request_t *req, int8_t key_type, rn_kerr_t error)
{
    if (req->api_version < 4)
        return rn_str_from_cstr(error == RN_KERR_NONE ? "NONE" : rn_kerr_message(error));
    bool known = key_type == KEY_TYPE_GROUP || key_type == KEY_TYPE_TRANSACTION ||
                 key_type == KEY_TYPE_SHARE;
    return rn_str_from_cstr(known ? "" : rn_kerr_message(error));
}

/* The internal topic that holds what `key_type` names. */
static rn_store_t *store_for(rn_coord_t *coord, int8_t key_type)
{
    return key_type == KEY_TYPE_TRANSACTION ? rn_coord_txn_store(coord) : rn_coord_store(coord);
}

/* Fills `resp` for `body`; false when the arena ran out. */
static bool build(rn_request_t *req, const rn_find_coordinator_request_t *body, rn_kerr_t error,
                  rn_find_coordinator_response_t *resp)
{
    const rn_broker_info_t *info = req->broker;
    int32_t port = atomic_load_explicit(&info->advertised_port, memory_order_acquire);
    rn_str_t host = rn_str_from_cstr(info->advertised_host);
    rn_find_coordinator_response_init(resp);
    if (req->api_version < 4) {
        resp->error_code = error;
        resp->error_message = message_for(req, body->key_type, error);
        resp->node_id = error == 0 ? info->node_id : -1;
        resp->host = error == 0 ? host : rn_str_from_cstr("");
        resp->port = error == 0 ? port : -1;
        return true;
    }
    /* v4+ (KIP-699): one answer per key. */
    int32_t n = body->coordinator_keys.count > 0 ? body->coordinator_keys.count : 0;
    rn_find_coordinator_response_coordinator_t *items =
        rn_arena_try_alloc_array(&req->arena, rn_find_coordinator_response_coordinator_t,
                                 n ? n : 1);
    if (items == NULL)
        return false;
    for (int32_t i = 0; i < n; i++) {
        rn_find_coordinator_response_coordinator_init(&items[i]);
        items[i].key = body->coordinator_keys.items[i];
        items[i].error_code = error;
        items[i].error_message = message_for(req, body->key_type, error);
        items[i].node_id = error == 0 ? info->node_id : -1;
        items[i].host = error == 0 ? host : rn_str_from_cstr("");
        items[i].port = error == 0 ? port : -1;
    }
    resp->coordinators.items = items;
    resp->coordinators.count = n;
    return true;
}

/* The first lookup creates the topic, as Kafka's does: file work, so it runs on the thread
 * pool. */
typedef struct find_job {
    rn_job_t job; /* first: rn_job_new's contract */
    rn_find_coordinator_request_t body;
    rn_find_coordinator_response_t resp;
} find_job_t;

static void run_job(rn_job_t *job)
{
    find_job_t *fj = (find_job_t *)job;
    rn_store_t *store = store_for(job->req->broker->coord, fj->body.key_type);
    rn_kerr_t error =
        rn_store_ensure(store) == 0 ? RN_KERR_NONE : RN_KERR_COORDINATOR_NOT_AVAILABLE;
    job->oom = !build(job->req, &fj->body, error, &fj->resp);
    job->resp = &fj->resp;
}

void rn_handle_find_coordinator(rn_request_t *req)
{
    rn_find_coordinator_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    rn_kerr_t error = answer_for(body.key_type);
    rn_coord_t *coord = req->broker->coord;
    if (error == 0 && coord == NULL)
        error = RN_KERR_COORDINATOR_NOT_AVAILABLE;
    if (error == 0 && !rn_store_ready(store_for(coord, body.key_type))) {
        find_job_t *fj = rn_job_new(req, sizeof *fj, run_job);
        if (fj == NULL)
            return;
        fj->body = body;
        rn_job_start(&fj->job);
        return;
    }
    rn_find_coordinator_response_t resp;
    if (!build(req, &body, error, &resp)) {
        rn_reject(req, "out of memory");
        return;
    }
    rn_respond(req, &resp);
}
