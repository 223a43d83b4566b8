/* SPDX-License-Identifier: Apache-2.0 */
/* InitProducerId (key 22), v0-v5: hands a producer its id and epoch (KIP-98).
 *
 * Without a transactional id (an idempotent producer) every call gets a new producer id at
 * epoch 0, whatever producer id and epoch it sends: Kafka 4.4 answers so at every version,
 * since an idempotent producer bumps its epoch itself (KIP-360) and asks again only for a
 * fresh id. What it does check (KafkaApis) is that the KIP-360 pair comes whole: a producer id
 * without an epoch, or an epoch without an id, is INVALID_REQUEST. An empty transactional id
 * is INVALID_REQUEST too. Any other transactional id goes to the transaction coordinator
 * (coord/txn.h), which checks transaction.timeout.ms, bumps the epoch, fences an older
 * producer; PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v4, as Kafka answers.
 *
 * A new id may have to reserve a block on disk first (coord/producer_ids.h), and the
 * coordinator writes __transaction_state, so the work runs as a job. When a block cannot be
 * made durable the answer is COORDINATOR_LOAD_IN_PROGRESS, what Kafka answers while its broker
 * has no block of ids yet, and which clients retry. */
#include "coord/coord.h"
#include "coord/producer_ids.h"
#include "coord/txn.h"
#include "handlers/handlers.h"
#include "handlers/job.h"

#define NO_PRODUCER_ID (-1)
#define NO_PRODUCER_EPOCH (-1)

typedef struct init_job {
    rn_job_t job; /* first: rn_job_new's contract */
    rn_init_producer_id_request_t body;
    rn_init_producer_id_response_t resp;
} init_job_t;

static void run_init(rn_job_t *job)
{
    init_job_t *ij = (init_job_t *)job;
    rn_coord_t *coord = job->req->broker->coord;
    const rn_init_producer_id_request_t *body = &ij->body;
    rn_init_producer_id_response_t *resp = &ij->resp;
    job->resp = resp;
    if (body->transactional_id.ptr == NULL) {
        int64_t id;
        if (rn_producer_ids_next(rn_coord_producer_ids(coord), &id) == 0) {
            resp->producer_id = id;
            resp->producer_epoch = 0;
        } else {
            resp->error_code = RN_KERR_COORDINATOR_LOAD_IN_PROGRESS;
        }
        return;
    }
    int64_t id = NO_PRODUCER_ID;
    int16_t epoch = NO_PRODUCER_EPOCH;
    rn_kerr_t err = rn_txn_init_producer(rn_coord_txn(coord), body->transactional_id,
                                         body->transaction_timeout_ms, body->producer_id,
                                         body->producer_epoch, rn_coord_now(coord), &id, &epoch);
    if (err == RN_KERR_PRODUCER_FENCED && job->req->api_version < 4)
        err = RN_KERR_INVALID_PRODUCER_EPOCH; /* v4 brought PRODUCER_FENCED (KIP-588) */
    resp->error_code = err;
    if (err == RN_KERR_NONE) {
        resp->producer_id = id;
        resp->producer_epoch = epoch;
    }
}

/* The checks that need no coordinator, in Kafka's order. */
static rn_kerr_t check_request(const rn_init_producer_id_request_t *body)
{
    bool has_id = body->producer_id != NO_PRODUCER_ID;
    bool has_epoch = body->producer_epoch != NO_PRODUCER_EPOCH;
    if (has_id != has_epoch)
        return RN_KERR_INVALID_REQUEST;
    if (body->transactional_id.ptr != NULL && body->transactional_id.len == 0)
        return RN_KERR_INVALID_REQUEST;
    return RN_KERR_NONE;
}

void rn_handle_init_producer_id(rn_request_t *req)
{
    rn_init_producer_id_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    rn_init_producer_id_response_t resp;
    rn_init_producer_id_response_init(&resp);
    resp.producer_id = NO_PRODUCER_ID;
    resp.producer_epoch = NO_PRODUCER_EPOCH;
    resp.error_code = check_request(&body);
    if (resp.error_code == RN_KERR_NONE && req->broker->coord == NULL)
        resp.error_code = RN_KERR_COORDINATOR_NOT_AVAILABLE;
    if (resp.error_code != RN_KERR_NONE) {
        rn_respond(req, &resp);
        return;
    }
    init_job_t *ij = rn_job_new(req, sizeof *ij, run_init);
    if (ij == NULL)
        return;
    ij->body = body;
    ij->resp = resp;
    rn_job_start(&ij->job);
}
