/* SPDX-License-Identifier: Apache-2.0 */
/* The answer Kafka gives a request it refuses as a whole (its requests' getErrorResponse): a
 * valid response of the request's API and version that carries one error code in every error
 * field it has, per partition, per topic, per group or coordinator key, or at the top, and no
 * results. Injected error faults (inject.c) answer with it without running the handler.
 *
 * Where Kafka's shape depends on the version it is followed: Fetch v7-12 has the code at the top
 * and in every partition, v13+ at the top only; OffsetFetch v0-1 per partition, v2-7 at the top,
 * v8+ per group; FindCoordinator v0-3 at the top, v4+ per key. Metadata also lists this broker
 * (Kafka lists none), so that a client that refreshes metadata keeps a bootstrap address. */
#include "handlers/inject.h"

#include "util/logging.h"

/* Allocates `n` zeroed-by-init items from the request's arena (at least one, so an empty array
 * has a non-NULL pointer). */
#define ARRAY(req, type, n) rn_arena_try_alloc_array(&(req)->arena, type, (n) > 0 ? (n) : 1)

static const rn_str_t empty = { .ptr = "", .len = 0 };

static int32_t count_of(int32_t count)
{
    return count > 0 ? count : 0;
}

static bool answer_produce(rn_request_t *req, int16_t code)
{
    rn_produce_request_t body;
    if (!rn_decode_body(req, &body))
        return true;
    if (body.acks == 0) { /* the client expects no response at all */
        rn_respond_none(req);
        return true;
    }
    rn_produce_response_t resp;
    rn_produce_response_init(&resp);
    int32_t nt = count_of(body.topic_data.count);
    rn_produce_response_topic_t *topics = ARRAY(req, rn_produce_response_topic_t, nt);
    if (topics == NULL)
        return false;
    for (int32_t t = 0; t < nt; t++) {
        const rn_produce_request_topic_t *qt = &body.topic_data.items[t];
        rn_produce_response_topic_init(&topics[t]);
        topics[t].name = qt->name;
        int32_t np = count_of(qt->partition_data.count);
        rn_produce_response_partition_t *parts = ARRAY(req, rn_produce_response_partition_t, np);
        if (parts == NULL)
            return false;
        for (int32_t p = 0; p < np; p++) {
            rn_produce_response_partition_init(&parts[p]);
            parts[p].index = qt->partition_data.items[p].index;
            parts[p].error_code = code;
            parts[p].base_offset = -1;
        }
        topics[t].partition_responses.items = parts;
        topics[t].partition_responses.count = np;
    }
    resp.responses.items = topics;
    resp.responses.count = nt;
    rn_respond(req, &resp);
    return true;
}

static bool answer_fetch(rn_request_t *req, int16_t code)
{
    rn_fetch_request_t body;
    if (!rn_decode_body(req, &body))
        return true;
    rn_fetch_response_t resp;
    rn_fetch_response_init(&resp);
    resp.error_code = code;
    resp.session_id = 0;
    if (req->api_version >= 13) { /* the top-level code alone */
        rn_respond(req, &resp);
        return true;
    }
    int32_t nt = count_of(body.topics.count);
    rn_fetch_response_topic_t *topics = ARRAY(req, rn_fetch_response_topic_t, nt);
    if (topics == NULL)
        return false;
    for (int32_t t = 0; t < nt; t++) {
        const rn_fetch_request_topic_t *qt = &body.topics.items[t];
        rn_fetch_response_topic_init(&topics[t]);
        topics[t].topic = qt->topic;
        topics[t].topic_id = qt->topic_id;
        int32_t np = count_of(qt->partitions.count);
        rn_fetch_response_partition_t *parts = ARRAY(req, rn_fetch_response_partition_t, np);
        if (parts == NULL)
            return false;
        for (int32_t p = 0; p < np; p++) {
            rn_fetch_response_partition_init(&parts[p]);
            parts[p].partition_index = qt->partitions.items[p].partition;
            parts[p].error_code = code;
            parts[p].high_watermark = -1;
            parts[p].records = (rn_records_t){ .ptr = (const uint8_t *)"", .len = 0 };
        }
        topics[t].partitions.items = parts;
        topics[t].partitions.count = np;
    }
    resp.responses.items = topics;
    resp.responses.count = nt;
    rn_respond(req, &resp);
    return true;
}

static bool answer_list_offsets(rn_request_t *req, int16_t code)
{
    rn_list_offsets_request_t body;
    if (!rn_decode_body(req, &body))
        return true;
    rn_list_offsets_response_t resp;
    rn_list_offsets_response_init(&resp);
    int32_t nt = count_of(body.topics.count);
    rn_list_offsets_response_topic_t *topics = ARRAY(req, rn_list_offsets_response_topic_t, nt);
    if (topics == NULL)
        return false;
    for (int32_t t = 0; t < nt; t++) {
        const rn_list_offsets_request_topic_t *qt = &body.topics.items[t];
        rn_list_offsets_response_topic_init(&topics[t]);
        topics[t].name = qt->name;
        int32_t np = count_of(qt->partitions.count);
        rn_list_offsets_response_partition_t *parts =
            ARRAY(req, rn_list_offsets_response_partition_t, np);
        if (parts == NULL)
            return false;
        for (int32_t p = 0; p < np; p++) {
            rn_list_offsets_response_partition_init(&parts[p]);
            parts[p].partition_index = qt->partitions.items[p].partition_index;
            parts[p].error_code = code;
        }
        topics[t].partitions.items = parts;
        topics[t].partitions.count = np;
    }
    resp.topics.items = topics;
    resp.topics.count = nt;
    rn_respond(req, &resp);
    return true;
}

static bool answer_metadata(rn_request_t *req, int16_t code)
{
    rn_metadata_request_t body;
    if (!rn_decode_body(req, &body))
        return true;
    const rn_broker_info_t *info = req->broker;
    rn_metadata_response_t resp;
    rn_metadata_response_init(&resp);
    rn_metadata_response_broker_t *broker = ARRAY(req, rn_metadata_response_broker_t, 1);
    int32_t nt = count_of(body.topics.count);
    rn_metadata_response_topic_t *topics = ARRAY(req, rn_metadata_response_topic_t, nt);
    if (broker == NULL || topics == NULL)
        return false;
    rn_metadata_response_broker_init(broker);
    broker->node_id = info->node_id;
    broker->host = rn_str_from_cstr(info->advertised_host);
    broker->port = atomic_load_explicit(&info->advertised_port, memory_order_relaxed);
    resp.brokers.items = broker;
    resp.brokers.count = 1;
    resp.cluster_id = rn_str_from_cstr(info->cluster_id);
    resp.controller_id = info->node_id;
    resp.error_code = code;
    for (int32_t t = 0; t < nt; t++) {
        const rn_metadata_request_topic_t *qt = &body.topics.items[t];
        rn_metadata_response_topic_init(&topics[t]);
        topics[t].error_code = code;
        topics[t].name = qt->name.ptr == NULL && req->api_version < 12 ? empty : qt->name;
        topics[t].topic_id = qt->topic_id;
        topics[t].partitions.items = NULL;
        topics[t].partitions.count = 0;
    }
    resp.topics.items = topics;
    resp.topics.count = nt;
    rn_respond(req, &resp);
    return true;
}

static bool answer_offset_commit(rn_request_t *req, int16_t code)
{
    rn_offset_commit_request_t body;
    if (!rn_decode_body(req, &body))
        return true;
    rn_offset_commit_response_t resp;
    rn_offset_commit_response_init(&resp);
    int32_t nt = count_of(body.topics.count);
    rn_offset_commit_response_topic_t *topics = ARRAY(req, rn_offset_commit_response_topic_t, nt);
    if (topics == NULL)
        return false;
    for (int32_t t = 0; t < nt; t++) {
        const rn_offset_commit_request_topic_t *qt = &body.topics.items[t];
        rn_offset_commit_response_topic_init(&topics[t]);
        topics[t].name = qt->name;
        topics[t].topic_id = qt->topic_id;
        int32_t np = count_of(qt->partitions.count);
        rn_offset_commit_response_partition_t *parts =
            ARRAY(req, rn_offset_commit_response_partition_t, np);
        if (parts == NULL)
            return false;
        for (int32_t p = 0; p < np; p++) {
            rn_offset_commit_response_partition_init(&parts[p]);
            parts[p].partition_index = qt->partitions.items[p].partition_index;
            parts[p].error_code = code;
        }
        topics[t].partitions.items = parts;
        topics[t].partitions.count = np;
    }
    resp.topics.items = topics;
    resp.topics.count = nt;
    rn_respond(req, &resp);
    return true;
}

static bool answer_offset_fetch_v0_1(rn_request_t *req, const rn_offset_fetch_request_t *body,
                                     int16_t code, rn_offset_fetch_response_t *resp)
{
    int32_t nt = count_of(body->topics.count);
    rn_offset_fetch_response_topic_t *topics = ARRAY(req, rn_offset_fetch_response_topic_t, nt);
    if (topics == NULL)
        return false;
    for (int32_t t = 0; t < nt; t++) {
        const rn_offset_fetch_request_topic_t *qt = &body->topics.items[t];
        rn_offset_fetch_response_topic_init(&topics[t]);
        topics[t].name = qt->name;
        int32_t np = count_of(qt->partition_indexes.count);
        rn_offset_fetch_response_partition_t *parts =
            ARRAY(req, rn_offset_fetch_response_partition_t, np);
        if (parts == NULL)
            return false;
        for (int32_t p = 0; p < np; p++) {
            rn_offset_fetch_response_partition_init(&parts[p]);
            parts[p].partition_index = qt->partition_indexes.items[p];
            parts[p].committed_offset = -1;
            parts[p].metadata = empty;
            parts[p].error_code = code;
        }
        topics[t].partitions.items = parts;
        topics[t].partitions.count = np;
    }
    resp->topics.items = topics;
    resp->topics.count = nt;
    return true;
}

static bool answer_offset_fetch(rn_request_t *req, int16_t code)
{
    rn_offset_fetch_request_t body;
    if (!rn_decode_body(req, &body))
        return true;
    rn_offset_fetch_response_t resp;
    rn_offset_fetch_response_init(&resp);
    int16_t v = req->api_version;
    if (v < 2) {
        if (!answer_offset_fetch_v0_1(req, &body, code, &resp))
            return false;
    } else if (v < 8) {
        resp.error_code = code;
        resp.topics.items = NULL;
        resp.topics.count = 0;
    } else {
        int32_t ng = count_of(body.groups.count);
        rn_offset_fetch_response_group_t *groups = ARRAY(req, rn_offset_fetch_response_group_t, ng);
        if (groups == NULL)
            return false;
        for (int32_t g = 0; g < ng; g++) {
            rn_offset_fetch_response_group_init(&groups[g]);
            groups[g].group_id = body.groups.items[g].group_id;
            groups[g].error_code = code;
        }
        resp.groups.items = groups;
        resp.groups.count = ng;
    }
    rn_respond(req, &resp);
    return true;
}

static bool answer_find_coordinator(rn_request_t *req, int16_t code)
{
    rn_find_coordinator_request_t body;
    if (!rn_decode_body(req, &body))
        return true;
    rn_find_coordinator_response_t resp;
    rn_find_coordinator_response_init(&resp);
    rn_str_t message = rn_str_from_cstr(rn_kerr_message(code));
    if (req->api_version < 4) {
        resp.error_code = code;
        resp.error_message = message;
        resp.node_id = -1;
        resp.port = -1;
        rn_respond(req, &resp);
        return true;
    }
    int32_t nk = count_of(body.coordinator_keys.count);
    rn_find_coordinator_response_coordinator_t *keys =
        ARRAY(req, rn_find_coordinator_response_coordinator_t, nk);
    if (keys == NULL)
        return false;
    for (int32_t k = 0; k < nk; k++) {
        rn_find_coordinator_response_coordinator_init(&keys[k]);
        keys[k].key = body.coordinator_keys.items[k];
        keys[k].node_id = -1;
        keys[k].host = empty;
        keys[k].port = -1;
        keys[k].error_code = code;
        keys[k].error_message = message;
    }
    resp.coordinators.items = keys;
    resp.coordinators.count = nk;
    rn_respond(req, &resp);
    return true;
}

/* The APIs whose whole answer is a top-level error (and fields that have neutral defaults). */
static bool answer_top_level(rn_request_t *req, int16_t code)
{
    switch (req->api_key) {
    case RN_API_JOIN_GROUP: {
        rn_join_group_response_t resp;
        rn_join_group_response_init(&resp);
        resp.error_code = code;
        /* Kafka: no protocol (null from v7, when the field became nullable). */
        resp.protocol_name = req->api_version >= 7 ? (rn_str_t){ NULL, 0 } : empty;
        rn_respond(req, &resp);
        return true;
    }
    case RN_API_SYNC_GROUP: {
        rn_sync_group_response_t resp;
        rn_sync_group_response_init(&resp);
        resp.error_code = code;
        resp.assignment = (rn_bytes_t){ .ptr = (const uint8_t *)"", .len = 0 };
        rn_respond(req, &resp);
        return true;
    }
    case RN_API_HEARTBEAT: {
        rn_heartbeat_response_t resp;
        rn_heartbeat_response_init(&resp);
        resp.error_code = code;
        rn_respond(req, &resp);
        return true;
    }
    case RN_API_LEAVE_GROUP: {
        rn_leave_group_response_t resp;
        rn_leave_group_response_init(&resp);
        resp.error_code = code;
        rn_respond(req, &resp);
        return true;
    }
    case RN_API_INIT_PRODUCER_ID: {
        rn_init_producer_id_response_t resp;
        rn_init_producer_id_response_init(&resp);
        resp.error_code = code;
        resp.producer_epoch = -1;
        rn_respond(req, &resp);
        return true;
    }
    case RN_API_API_VERSIONS: {
        rn_api_versions_response_t resp;
        rn_api_versions_response_init(&resp);
        resp.error_code = code;
        rn_respond(req, &resp);
        return true;
    }
    default:
        return false;
    }
}

bool rn_error_answer_supported(int16_t api_key)
{
    switch (api_key) {
    case RN_API_PRODUCE:
    case RN_API_FETCH:
    case RN_API_LIST_OFFSETS:
    case RN_API_METADATA:
    case RN_API_OFFSET_COMMIT:
    case RN_API_OFFSET_FETCH:
    case RN_API_FIND_COORDINATOR:
    case RN_API_JOIN_GROUP:
    case RN_API_SYNC_GROUP:
    case RN_API_HEARTBEAT:
    case RN_API_LEAVE_GROUP:
    case RN_API_INIT_PRODUCER_ID:
    case RN_API_API_VERSIONS:
        return true;
    default:
        return false;
    }
}

void rn_answer_error(rn_request_t *req, int16_t code)
{
    bool ok;
    switch (req->api_key) {
    case RN_API_PRODUCE:
        ok = answer_produce(req, code);
        break;
    case RN_API_FETCH:
        ok = answer_fetch(req, code);
        break;
    case RN_API_LIST_OFFSETS:
        ok = answer_list_offsets(req, code);
        break;
    case RN_API_METADATA:
        ok = answer_metadata(req, code);
        break;
    case RN_API_OFFSET_COMMIT:
        ok = answer_offset_commit(req, code);
        break;
    case RN_API_OFFSET_FETCH:
        ok = answer_offset_fetch(req, code);
        break;
    case RN_API_FIND_COORDINATOR:
        ok = answer_find_coordinator(req, code);
        break;
    default:
        if (!rn_error_answer_supported(req->api_key)) {
            rn_reject(req, "an injected error fault for an API without an error answer");
            return;
        }
        ok = answer_top_level(req, code);
        break;
    }
    if (!ok)
        rn_reject(req, "out of memory");
}
