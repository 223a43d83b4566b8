/* SPDX-License-Identifier: Apache-2.0 */
/* TxnOffsetCommit (key 28), v0-v4: a transactional producer commits a consumer group's offsets
 * inside its transaction (KIP-98, KIP-447). They are written to the group's __consumer_offsets
 * partition as the producer's transactional batch and become the group's committed offsets
 * only when EndTxn's commit marker lands there (coord/offsets.h); an abort drops them. A job,
 * since it writes.
 *
 * Kafka 4.4's order and answers (asked): a partition that does not exist is
 * UNKNOWN_TOPIC_OR_PARTITION whatever else is wrong; then an empty group id is INVALID_GROUP_ID
 * and an empty transactional id INVALID_REQUEST; then the transaction, which must hold the
 * group's __consumer_offsets partition (AddOffsetsToTxn; transaction.partition.verification
 * .enable): an unknown transactional id or another producer id is INVALID_PRODUCER_ID_MAPPING,
 * another epoch INVALID_PRODUCER_EPOCH (at every version), a partition not added
 * INVALID_TXN_STATE, TRANSACTION_ABORTABLE from v4 (KIP-890); then the group (v3+ carries the
 * consumer's generation and member, KIP-447): a generation for a group that does not exist, or
 * a member it does not have, is UNKNOWN_MEMBER_ID, another generation ILLEGAL_GENERATION; then
 * metadata over offset.metadata.max.bytes is OFFSET_METADATA_TOO_LARGE. */
#include <string.h>

#include "config/config.h"
#include "coord/coord.h"
#include "coord/groups.h"
#include "coord/offsets.h"
#include "coord/store.h"
#include "coord/txn.h"
#include "handlers/handlers.h"
#include "handlers/job.h"
#include "topics/topics.h"
#include "util/err.h"
#include "util/logging.h"

typedef struct txn_commit_job {
    rn_job_t job; /* first: rn_job_new's contract */
    rn_txn_offset_commit_request_t body;
    rn_txn_offset_commit_response_t resp;
} txn_commit_job_t;

/* The transaction's verdict on the group's partition, as TxnOffsetCommit answers it. */
static rn_kerr_t txn_verdict(rn_request_t *req, const rn_txn_offset_commit_request_t *body)
{
    rn_coord_t *coord = req->broker->coord;
    if (body->transactional_id.len == 0)
        return RN_KERR_INVALID_REQUEST;
    if (!req->broker->config->transaction_partition_verification_enable)
        return RN_KERR_NONE;
    int32_t partition = rn_store_partition_for(rn_coord_store(coord), body->group_id);
    rn_kerr_t err =
        rn_txn_verify(rn_coord_txn(coord), body->transactional_id, body->producer_id,
                      body->producer_epoch, rn_str_from_cstr(RN_STORE_TOPIC), partition);
    switch (err) {
    case RN_KERR_PRODUCER_FENCED:
        return RN_KERR_INVALID_PRODUCER_EPOCH;
    case RN_KERR_TRANSACTION_ABORTABLE:
        return req->api_version >= 4 ? RN_KERR_TRANSACTION_ABORTABLE : RN_KERR_INVALID_TXN_STATE;
    case RN_KERR_CONCURRENT_TRANSACTIONS:
        /* The transaction is being completed: retriable, as Kafka's verification makes it. */
        return RN_KERR_CONCURRENT_TRANSACTIONS;
    default:
        return err;
    }
}

/* The group's verdict (v0-v2 carry no generation or member: a standalone commit). */
static rn_kerr_t group_verdict(rn_request_t *req, const rn_txn_offset_commit_request_t *body)
{
    rn_coord_t *coord = req->broker->coord;
    int16_t v = req->api_version;
    rn_groups_commit_args_t args = {
        .version = v,
        .group_id = body->group_id,
        .member_id = v >= 3 && body->member_id.ptr != NULL ? body->member_id : rn_str_from_cstr(""),
        .group_instance_id = v >= 3 ? body->group_instance_id : (rn_str_t){ NULL, 0 },
        .generation = v >= 3 ? body->generation_id : -1,
        .has_offsets = rn_offsets_has_group(rn_coord_offsets(coord), body->group_id),
        .transactional = true,
    };
    return rn_groups_check_commit(rn_coord_groups(coord), &args);
}

static void run_txn_commit(rn_job_t *job)
{
    txn_commit_job_t *j = (txn_commit_job_t *)job;
    rn_request_t *req = job->req;
    const rn_txn_offset_commit_request_t *body = &j->body;
    rn_coord_t *coord = req->broker->coord;
    int16_t v = req->api_version;

    int32_t nt = body->topics.count > 0 ? body->topics.count : 0;
    size_t total = 0;
    for (int32_t t = 0; t < nt; t++)
        total += body->topics.items[t].partitions.count > 0
                     ? (size_t)body->topics.items[t].partitions.count
                     : 0;
    rn_txn_offset_commit_response_topic_t *rtopics =
        rn_arena_try_alloc_array(&req->arena, rn_txn_offset_commit_response_topic_t, nt ? nt : 1);
    rn_offsets_commit_t *commits =
        rn_arena_try_alloc_array(&req->arena, rn_offsets_commit_t, total ? total : 1);
    rn_txn_offset_commit_response_partition_t **slots =
        rn_arena_try_alloc_array(&req->arena, rn_txn_offset_commit_response_partition_t *,
                                 total ? total : 1);
    if (rtopics == NULL || commits == NULL || slots == NULL) {
        job->oom = true;
        return;
    }
    rn_kerr_t verdict = RN_KERR_NONE;
    if (coord == NULL)
        verdict = RN_KERR_COORDINATOR_NOT_AVAILABLE;
    else if (body->group_id.len == 0 || body->group_id.len > INT16_MAX)
        verdict = RN_KERR_INVALID_GROUP_ID;
    else if ((verdict = txn_verdict(req, body)) == RN_KERR_NONE)
        verdict = group_verdict(req, body);
    int32_t max_metadata = req->broker->config->offset_metadata_max_bytes;

    size_t n = 0;
    for (int32_t t = 0; t < nt; t++) {
        const rn_txn_offset_commit_request_topic_t *qt = &body->topics.items[t];
        rn_txn_offset_commit_response_topic_t *rt = &rtopics[t];
        rn_txn_offset_commit_response_topic_init(rt);
        rt->name = qt->name;
        int32_t np = qt->partitions.count > 0 ? qt->partitions.count : 0;
        rn_txn_offset_commit_response_partition_t *rparts =
            rn_arena_try_alloc_array(&req->arena, rn_txn_offset_commit_response_partition_t,
                                     np ? np : 1);
        if (rparts == NULL) {
            job->oom = true;
            return;
        }
        rt->partitions.items = rparts;
        rt->partitions.count = np;
        rn_topic_t *topic = rn_topics_get(req->broker->topics, qt->name);
        for (int32_t i = 0; i < np; i++) {
            const rn_txn_offset_commit_request_partition_t *qp = &qt->partitions.items[i];
            rn_txn_offset_commit_response_partition_t *rp = &rparts[i];
            rn_txn_offset_commit_response_partition_init(rp);
            rp->partition_index = qp->partition_index;
            if (topic == NULL || rn_topic_partition(topic, qp->partition_index) == NULL)
                rp->error_code = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else if (verdict != RN_KERR_NONE)
                rp->error_code = verdict;
            else if (qp->committed_metadata.len > (size_t)max_metadata)
                rp->error_code = RN_KERR_OFFSET_METADATA_TOO_LARGE;
            if (rp->error_code != RN_KERR_NONE)
                continue;
            commits[n] = (rn_offsets_commit_t){
                .topic = qt->name,
                .partition = qp->partition_index,
                .offset = qp->committed_offset,
                .leader_epoch = v >= 2 ? qp->committed_leader_epoch : -1,
                .metadata = qp->committed_metadata,
                .commit_timestamp = -1,
            };
            slots[n++] = rp;
        }
        if (topic != NULL)
            rn_topic_unref(topic);
    }
    if (n > 0) {
        int rc = rn_offsets_txn_commit(rn_coord_offsets(coord), body->group_id, body->producer_id,
                                       body->producer_epoch, commits, n, rn_coord_now(coord));
        if (rc != 0) {
            /* The log's producer state may refuse the batch (a fenced epoch); a write that
             * failed is NOT_COORDINATOR, which clients retry after a new lookup, as Kafka
             * answers a failed append of the group coordinator. */
            rn_kerr_t err = rc > 0 ? (rn_kerr_t)rc : RN_KERR_NOT_COORDINATOR;
            if (rc < 0)
                rn_log(RN_LOG_ERROR, "handlers", "TxnOffsetCommit of %zu offsets failed: %s", n,
                       strerror(-rc));
            for (size_t i = 0; i < n; i++)
                slots[i]->error_code = err;
        }
    }
    rn_txn_offset_commit_response_init(&j->resp);
    j->resp.topics.items = rtopics;
    j->resp.topics.count = nt;
    job->resp = &j->resp;
}

void rn_handle_txn_offset_commit(rn_request_t *req)
{
    txn_commit_job_t *j = rn_job_new(req, sizeof *j, run_txn_commit);
    if (j == NULL || !rn_decode_body(req, &j->body))
        return;
    rn_job_start(&j->job);
}
