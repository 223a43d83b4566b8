/* SPDX-License-Identifier: Apache-2.0 */
/* The transactional producer's requests to its coordinator (coord/txn.h), each a job because
 * the coordinator writes __transaction_state (and EndTxn the markers) before it answers:
 *   AddPartitionsToTxn (key 24) v0-v3, the client versions (v4+ are Kafka's broker-to-broker
 *     batches, which clients never send);
 *   AddOffsetsToTxn (key 25) v0-v4: adds the group's __consumer_offsets partition;
 *   EndTxn (key 26) v0-v4 (v5 is transaction protocol 2, KIP-890 part 2: a later step).
 * Kafka 4.4's answers (asked): an empty transactional id is INVALID_REQUEST; PRODUCER_FENCED
 * is INVALID_PRODUCER_EPOCH before v2 of each (KIP-588). AddPartitionsToTxn first checks that
 * every partition exists: when one does not, it gets UNKNOWN_TOPIC_OR_PARTITION, the others
 * OPERATION_NOT_ATTEMPTED, and the coordinator is not asked. */
#include <string.h>

#include "coord/coord.h"
#include "coord/store.h"
#include "coord/txn.h"
#include "handlers/handlers.h"
#include "handlers/job.h"
#include "topics/topics.h"

/* KIP-588 gave these APIs PRODUCER_FENCED at v2; older clients know INVALID_PRODUCER_EPOCH. */
static rn_kerr_t fenced_for(rn_kerr_t err, int16_t version)
{
    return err == RN_KERR_PRODUCER_FENCED && version < 2 ? RN_KERR_INVALID_PRODUCER_EPOCH : err;
}

/* ---- AddPartitionsToTxn ---- */

typedef struct add_job {
    rn_job_t job; /* first: rn_job_new's contract */
    rn_add_partitions_to_txn_request_t body;
    rn_add_partitions_to_txn_response_t resp;
} add_job_t;

/* The request's partitions, one per (topic, partition) as Kafka's set of them, grouped by
 * topic in the order topics first appear; the answer's layout with every error `fill`. False
 * when the arena ran out. */
static bool lay_out_add(rn_request_t *req, const rn_add_partitions_to_txn_request_t *body,
                        rn_add_partitions_to_txn_response_t *resp, rn_txn_tp_t **tps_out,
                        size_t *n_out)
{
    int32_t nt = body->v3_and_below_topics.count > 0 ? body->v3_and_below_topics.count : 0;
    size_t total = 0;
    for (int32_t t = 0; t < nt; t++)
        total += body->v3_and_below_topics.items[t].partitions.count > 0
                     ? (size_t)body->v3_and_below_topics.items[t].partitions.count
                     : 0;
    rn_add_partitions_to_txn_response_topic_result_t *topics =
        rn_arena_try_alloc_array(&req->arena, rn_add_partitions_to_txn_response_topic_result_t,
                                 nt ? nt : 1);
    rn_txn_tp_t *tps = rn_arena_try_alloc_array(&req->arena, rn_txn_tp_t, total ? total : 1);
    if (topics == NULL || tps == NULL)
        return false;
    int32_t ntopics = 0;
    size_t n = 0;
    for (int32_t t = 0; t < nt; t++) {
        const rn_add_partitions_to_txn_request_topic_t *qt = &body->v3_and_below_topics.items[t];
        rn_add_partitions_to_txn_response_topic_result_t *rt = NULL;
        for (int32_t k = 0; k < ntopics && rt == NULL; k++)
            if (rn_str_eq(topics[k].name, qt->name))
                rt = &topics[k];
        if (rt == NULL) {
            /* Room for every partition the request names under this name. */
            size_t most = 0;
            for (int32_t u = t; u < nt; u++)
                if (rn_str_eq(body->v3_and_below_topics.items[u].name, qt->name) &&
                    body->v3_and_below_topics.items[u].partitions.count > 0)
                    most += (size_t)body->v3_and_below_topics.items[u].partitions.count;
            rt = &topics[ntopics++];
            rn_add_partitions_to_txn_response_topic_result_init(rt);
            rt->name = qt->name;
            rt->results_by_partition.items =
                rn_arena_try_alloc_array(&req->arena,
                                         rn_add_partitions_to_txn_response_partition_result_t,
                                         most ? most : 1);
            if (rt->results_by_partition.items == NULL)
                return false;
        }
        for (int32_t i = 0; i < qt->partitions.count; i++) {
            int32_t p = qt->partitions.items[i];
            bool seen = false;
            for (int32_t k = 0; k < rt->results_by_partition.count && !seen; k++)
                seen = rt->results_by_partition.items[k].partition_index == p;
            if (seen)
                continue;
            rn_add_partitions_to_txn_response_partition_result_t *rp =
                &rt->results_by_partition.items[rt->results_by_partition.count++];
            rn_add_partitions_to_txn_response_partition_result_init(rp);
            rp->partition_index = p;
            tps[n++] = (rn_txn_tp_t){ qt->name, p };
        }
    }
    rn_add_partitions_to_txn_response_init(resp);
    resp->results_by_topic_v3_and_below.items = topics;
    resp->results_by_topic_v3_and_below.count = ntopics;
    *tps_out = tps;
    *n_out = n;
    return true;
}

/* Every partition's error: `err`, or for the ones that do not exist UNKNOWN_TOPIC_OR_PARTITION
 * with `err` for the rest (OPERATION_NOT_ATTEMPTED then). Returns whether any was missing. */
static bool mark_missing(rn_request_t *req, rn_add_partitions_to_txn_response_t *resp)
{
    bool missing = false;
    for (int32_t t = 0; t < resp->results_by_topic_v3_and_below.count; t++) {
        rn_add_partitions_to_txn_response_topic_result_t *rt =
            &resp->results_by_topic_v3_and_below.items[t];
        rn_topic_t *topic = rn_topics_get(req->broker->topics, rt->name);
        for (int32_t i = 0; i < rt->results_by_partition.count; i++) {
            rn_add_partitions_to_txn_response_partition_result_t *rp =
                &rt->results_by_partition.items[i];
            if (topic == NULL || rn_topic_partition(topic, rp->partition_index) == NULL) {
                rp->partition_error_code = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                missing = true;
            }
        }
        if (topic != NULL)
            rn_topic_unref(topic);
    }
    return missing;
}

static void set_all(rn_add_partitions_to_txn_response_t *resp, rn_kerr_t err, bool keep_set)
{
    for (int32_t t = 0; t < resp->results_by_topic_v3_and_below.count; t++) {
        rn_add_partitions_to_txn_response_topic_result_t *rt =
            &resp->results_by_topic_v3_and_below.items[t];
        for (int32_t i = 0; i < rt->results_by_partition.count; i++)
            if (!keep_set || rt->results_by_partition.items[i].partition_error_code == 0)
                rt->results_by_partition.items[i].partition_error_code = err;
    }
}

static void run_add(rn_job_t *job)
{
    add_job_t *aj = (add_job_t *)job;
    rn_request_t *req = job->req;
    const rn_add_partitions_to_txn_request_t *body = &aj->body;
    rn_txn_tp_t *tps;
    size_t n;
    if (!lay_out_add(req, body, &aj->resp, &tps, &n)) {
        job->oom = true;
        return;
    }
    job->resp = &aj->resp;
    if (mark_missing(req, &aj->resp)) {
        set_all(&aj->resp, RN_KERR_OPERATION_NOT_ATTEMPTED, true);
        return;
    }
    rn_kerr_t err;
    if (body->v3_and_below_transactional_id.len == 0) {
        err = RN_KERR_INVALID_REQUEST;
    } else {
        rn_coord_t *coord = req->broker->coord;
        err = rn_txn_add_partitions(rn_coord_txn(coord), body->v3_and_below_transactional_id,
                                    body->v3_and_below_producer_id,
                                    body->v3_and_below_producer_epoch, tps, n, rn_coord_now(coord));
    }
    set_all(&aj->resp, fenced_for(err, req->api_version), false);
}

void rn_handle_add_partitions_to_txn(rn_request_t *req)
{
    add_job_t *aj = rn_job_new(req, sizeof *aj, run_add);
    if (aj == NULL || !rn_decode_body(req, &aj->body))
        return;
    if (req->broker->coord == NULL) {
        rn_txn_tp_t *tps;
        size_t n;
        if (!lay_out_add(req, &aj->body, &aj->resp, &tps, &n)) {
            rn_reject(req, "out of memory");
            return;
        }
        set_all(&aj->resp, RN_KERR_COORDINATOR_NOT_AVAILABLE, false);
        rn_respond(req, &aj->resp);
        return;
    }
    rn_job_start(&aj->job);
}

/* ---- AddOffsetsToTxn ---- */

typedef struct offsets_job {
    rn_job_t job;
    rn_add_offsets_to_txn_request_t body;
    rn_add_offsets_to_txn_response_t resp;
} offsets_job_t;

static void run_add_offsets(rn_job_t *job)
{
    offsets_job_t *oj = (offsets_job_t *)job;
    rn_request_t *req = job->req;
    rn_coord_t *coord = req->broker->coord;
    rn_add_offsets_to_txn_response_init(&oj->resp);
    job->resp = &oj->resp;
    if (oj->body.transactional_id.len == 0) {
        oj->resp.error_code = RN_KERR_INVALID_REQUEST;
        return;
    }
    /* Kafka adds the partition of __consumer_offsets that holds the group (any group id, the
     * empty one too); TxnOffsetCommit then writes there and EndTxn marks it. */
    rn_txn_tp_t tp = {
        .topic = rn_str_from_cstr(RN_STORE_TOPIC),
        .partition = rn_store_partition_for(rn_coord_store(coord), oj->body.group_id),
    };
    rn_kerr_t err =
        rn_txn_add_partitions(rn_coord_txn(coord), oj->body.transactional_id, oj->body.producer_id,
                              oj->body.producer_epoch, &tp, 1, rn_coord_now(coord));
    oj->resp.error_code = fenced_for(err, req->api_version);
}

void rn_handle_add_offsets_to_txn(rn_request_t *req)
{
    offsets_job_t *oj = rn_job_new(req, sizeof *oj, run_add_offsets);
    if (oj == NULL || !rn_decode_body(req, &oj->body))
        return;
    if (req->broker->coord == NULL) {
        rn_add_offsets_to_txn_response_init(&oj->resp);
        oj->resp.error_code = RN_KERR_COORDINATOR_NOT_AVAILABLE;
        rn_respond(req, &oj->resp);
        return;
    }
    rn_job_start(&oj->job);
}

/* ---- EndTxn ---- */

typedef struct end_job {
    rn_job_t job;
    rn_end_txn_request_t body;
    rn_end_txn_response_t resp;
} end_job_t;

static void run_end(rn_job_t *job)
{
    end_job_t *ej = (end_job_t *)job;
    rn_request_t *req = job->req;
    rn_coord_t *coord = req->broker->coord;
    rn_end_txn_response_init(&ej->resp);
    job->resp = &ej->resp;
    if (ej->body.transactional_id.len == 0) {
        ej->resp.error_code = RN_KERR_INVALID_REQUEST;
        return;
    }
    rn_kerr_t err = rn_txn_end(rn_coord_txn(coord), ej->body.transactional_id, ej->body.producer_id,
                               ej->body.producer_epoch, ej->body.committed, rn_coord_now(coord));
    ej->resp.error_code = fenced_for(err, req->api_version);
}

void rn_handle_end_txn(rn_request_t *req)
{
    end_job_t *ej = rn_job_new(req, sizeof *ej, run_end);
    if (ej == NULL || !rn_decode_body(req, &ej->body))
        return;
    if (req->broker->coord == NULL) {
        rn_end_txn_response_init(&ej->resp);
        ej->resp.error_code = RN_KERR_COORDINATOR_NOT_AVAILABLE;
        rn_respond(req, &ej->resp);
        return;
    }
    rn_job_start(&ej->job);
}
