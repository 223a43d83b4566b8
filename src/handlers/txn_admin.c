/* SPDX-License-Identifier: Apache-2.0 */
/* DescribeTransactions (key 65) v0 and ListTransactions (key 66) v0-v1 (KIP-664): what an
 * operator sees of the transaction coordinator (coord/txn.h), to find hanging transactions.
 * Memory only, answered on the loop. Kafka 4.4's answers (asked): an unknown transactional id
 * is TRANSACTIONAL_ID_NOT_FOUND and an empty one INVALID_REQUEST, both with an empty state and
 * zeros; a state filter is a state's exact name, and names that are none are listed back in
 * unknown_state_filters while the filter still applies (so they alone match nothing);
 * duration_filter (v1) keeps transactions that started more than that many ms ago. Kafka lists
 * in its hash maps' order, we by transactional id. */
#include <string.h>

#include "coord/coord.h"
#include "coord/txn.h"
#include "handlers/handlers.h"

/* One transactional id's answer; false when the arena ran out. */
static bool describe_one(rn_request_t *req, rn_str_t id,
                         rn_describe_transactions_response_transaction_state_t *out)
{
    rn_describe_transactions_response_transaction_state_init(out);
    out->transactional_id = id;
    out->transaction_state = rn_str_from_cstr("");
    rn_coord_t *coord = req->broker->coord;
    if (coord == NULL) {
        out->error_code = RN_KERR_COORDINATOR_NOT_AVAILABLE;
        return true;
    }
    if (id.len == 0) {
        out->error_code = RN_KERR_INVALID_REQUEST;
        return true;
    }
    rn_txn_description_t d;
    bool found;
    if (rn_txn_describe(rn_coord_txn(coord), id, &req->arena, &d, &found) != 0)
        return false;
    if (!found) {
        out->error_code = RN_KERR_TRANSACTIONAL_ID_NOT_FOUND;
        return true;
    }
    out->transaction_state = rn_str_from_cstr(rn_txn_state_name(d.state));
    out->transaction_timeout_ms = d.timeout_ms;
    out->transaction_start_time_ms = d.start_ms;
    out->producer_id = d.producer_id;
    out->producer_epoch = d.producer_epoch;
    /* The partitions come sorted: a topic's are adjacent, one entry per topic. */
    size_t ntopics = 0;
    for (size_t i = 0; i < d.ntps; i++)
        if (i == 0 || !rn_str_eq(d.tps[i].topic, d.tps[i - 1].topic))
            ntopics++;
    if (ntopics == 0)
        return true;
    rn_describe_transactions_response_topic_t *topics =
        rn_arena_try_alloc_array(&req->arena, rn_describe_transactions_response_topic_t,
                                 (int32_t)ntopics);
    int32_t *parts = rn_arena_try_alloc_array(&req->arena, int32_t, (int32_t)d.ntps);
    if (topics == NULL || parts == NULL)
        return false;
    int32_t t = -1;
    for (size_t i = 0; i < d.ntps; i++) {
        if (i == 0 || !rn_str_eq(d.tps[i].topic, d.tps[i - 1].topic)) {
            t++;
            rn_describe_transactions_response_topic_init(&topics[t]);
            topics[t].topic = d.tps[i].topic;
            topics[t].partitions.items = &parts[i];
        }
        parts[i] = d.tps[i].partition;
        topics[t].partitions.count++;
    }
    out->topics.items = topics;
    out->topics.count = (int32_t)ntopics;
    return true;
}

void rn_handle_describe_transactions(rn_request_t *req)
{
    rn_describe_transactions_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    int32_t n = body.transactional_ids.count > 0 ? body.transactional_ids.count : 0;
    rn_describe_transactions_response_transaction_state_t *states =
        rn_arena_try_alloc_array(&req->arena, rn_describe_transactions_response_transaction_state_t,
                                 n ? n : 1);
    if (states == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        if (!describe_one(req, body.transactional_ids.items[i], &states[i])) {
            rn_reject(req, "out of memory");
            return;
        }
    }
    rn_describe_transactions_response_t resp;
    rn_describe_transactions_response_init(&resp);
    resp.transaction_states.items = states;
    resp.transaction_states.count = n;
    rn_respond(req, &resp);
}

void rn_handle_list_transactions(rn_request_t *req)
{
    rn_list_transactions_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    rn_list_transactions_response_t resp;
    rn_list_transactions_response_init(&resp);
    rn_coord_t *coord = req->broker->coord;
    if (coord == NULL) {
        resp.error_code = RN_KERR_COORDINATOR_NOT_AVAILABLE;
        rn_respond(req, &resp);
        return;
    }
    int32_t nfilters = body.state_filters.count > 0 ? body.state_filters.count : 0;
    rn_str_t *unknown = rn_arena_try_alloc_array(&req->arena, rn_str_t, nfilters ? nfilters : 1);
    if (unknown == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    uint32_t states = 0;
    int32_t nunknown = 0;
    for (int32_t i = 0; i < nfilters; i++) {
        int s = rn_txn_state_from_name(body.state_filters.items[i]);
        if (s >= 0)
            states |= 1u << s;
        else
            unknown[nunknown++] = body.state_filters.items[i];
    }
    int32_t nids = body.producer_id_filters.count > 0 ? body.producer_id_filters.count : 0;
    rn_txn_listing_t *items = NULL;
    size_t count = 0;
    if (rn_txn_list(rn_coord_txn(coord), nfilters > 0, states, body.producer_id_filters.items,
                    (size_t)nids, req->api_version >= 1 ? body.duration_filter : -1,
                    rn_coord_now(coord), &req->arena, &items, &count) != 0) {
        rn_reject(req, "out of memory");
        return;
    }
    rn_list_transactions_response_transaction_state_t *out =
        rn_arena_try_alloc_array(&req->arena, rn_list_transactions_response_transaction_state_t,
                                 count ? (int32_t)count : 1);
    if (out == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    for (size_t i = 0; i < count; i++) {
        rn_list_transactions_response_transaction_state_init(&out[i]);
        out[i].transactional_id = items[i].transactional_id;
        out[i].producer_id = items[i].producer_id;
        out[i].transaction_state = rn_str_from_cstr(rn_txn_state_name(items[i].state));
    }
    resp.unknown_state_filters.items = unknown;
    resp.unknown_state_filters.count = nunknown;
    resp.transaction_states.items = out;
    resp.transaction_states.count = (int32_t)count;
    rn_respond(req, &resp);
}
