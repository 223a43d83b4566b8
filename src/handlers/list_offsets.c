/* SPDX-License-Identifier: Apache-2.0 */
/* ListOffsets (key 2), v0-v11: earliest (-2), latest (-1), the record with the largest
 * timestamp (-3, KIP-734, v7+), or the first record at or after a timestamp (time index).
 * The tiered-storage targets mean what Kafka 4.4 answers without tiered storage: the earliest
 * local offset (-4, v8+) is the earliest, and the last tiered offset (-5, v9+) and the earliest
 * offset pending upload (-6, v11+) are not found (-1). A negative timestamp the version does not
 * know is UNSUPPORTED_VERSION. v10's timeout_ms bounds a remote lookup; every lookup here is
 * local and answers at once. v0 answers in its own shape: a list of offsets (at most one). */
#include <string.h>

#include "handlers/admin.h"
#include "handlers/handlers.h"
#include "log/log.h"
#include "topics/topics.h"
#include "util/endian.h"

enum {
    TS_LATEST = -1,
    TS_EARLIEST = -2,
    TS_MAX_TIMESTAMP = -3,
    TS_EARLIEST_LOCAL = -4,
    TS_LATEST_TIERED = -5,
    TS_EARLIEST_PENDING_UPLOAD = -6,
};

/* A partition named twice in one request (v1+) is answered once, with INVALID_REQUEST (Kafka
 * 4.4, asked with the same request). Sets dup[k] to RN_ADMIN_KEY_UNIQUE, _FIRST_OF_MANY or
 * _REPEAT for the k-th partition of the request, in order. False when the arena ran out. */
static bool find_duplicates(rn_request_t *req, const rn_list_offsets_request_t *body, uint8_t *dup,
                            int32_t total)
{
    rn_str_t *keys = rn_arena_try_alloc_array(&req->arena, rn_str_t, total ? total : 1);
    if (keys == NULL)
        return false;
    int32_t k = 0;
    for (int32_t t = 0; t < body->topics.count; t++) {
        rn_str_t name = body->topics.items[t].name;
        for (int32_t i = 0; i < body->topics.items[t].partitions.count; i++) {
            /* The key: the topic's bytes, then the partition's 4. */
            char *key = rn_arena_try_alloc(&req->arena, name.len + 4);
            if (key == NULL)
                return false;
            if (name.len > 0)
                memcpy(key, name.ptr, name.len);
            rn_store_be32((uint8_t *)key + name.len,
                          (uint32_t)body->topics.items[t].partitions.items[i].partition_index);
            keys[k++] = (rn_str_t){ key, name.len + 4 };
        }
    }
    return rn_admin_classify_keys(&req->arena, keys, total, dup);
}

/* Sets *offset (-1: not found) and *timestamp for target `ts`. `read_committed`
 * (isolation_level 1, v2+): the latest offset a read_committed consumer may read is the last
 * stable offset, as Kafka answers. */
static rn_kerr_t lookup(rn_log_t *log, int16_t version, bool read_committed, int64_t ts,
                        int64_t *offset, int64_t *timestamp)
{
    *timestamp = -1;
    *offset = -1;
    if (ts >= 0)
        return rn_log_offset_for_timestamp(log, ts, offset, timestamp) == 0
                   ? 0
                   : RN_KERR_KAFKA_STORAGE_ERROR;
    switch (ts) {
    case TS_LATEST:
        *offset = read_committed ? rn_log_last_stable_offset(log) : rn_log_high_watermark(log);
        return 0;
    case TS_EARLIEST:
        *offset = rn_log_start_offset(log);
        return 0;
    case TS_MAX_TIMESTAMP:
        if (version < 7)
            break;
        return rn_log_max_timestamp(log, offset, timestamp) == 0 ? 0 : RN_KERR_KAFKA_STORAGE_ERROR;
    case TS_EARLIEST_LOCAL:
        if (version < 8)
            break;
        *offset = rn_log_start_offset(log);
        return 0;
    case TS_LATEST_TIERED:
        return version >= 9 ? 0 : RN_KERR_UNSUPPORTED_VERSION;
    case TS_EARLIEST_PENDING_UPLOAD:
        return version >= 11 ? 0 : RN_KERR_UNSUPPORTED_VERSION;
    default:
        break;
    }
    return RN_KERR_UNSUPPORTED_VERSION;
}

void rn_handle_list_offsets(rn_request_t *req)
{
    rn_list_offsets_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    int16_t v = req->api_version;
    rn_list_offsets_response_t resp;
    rn_list_offsets_response_init(&resp);
    int32_t nt = body.topics.count > 0 ? body.topics.count : 0;
    rn_list_offsets_response_topic_t *rtopics =
        rn_arena_try_alloc_array(&req->arena, rn_list_offsets_response_topic_t, nt ? nt : 1);
    if (rtopics == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    resp.topics.items = rtopics;
    int32_t total = 0;
    for (int32_t t = 0; t < nt; t++)
        total +=
            body.topics.items[t].partitions.count > 0 ? body.topics.items[t].partitions.count : 0;
    uint8_t *dup = rn_arena_try_alloc_array(&req->arena, uint8_t, total ? total : 1);
    if (dup == NULL || !find_duplicates(req, &body, dup, total)) {
        rn_reject(req, "out of memory");
        return;
    }
    int32_t k = 0;
    for (int32_t t = 0; t < nt; t++) {
        const rn_list_offsets_request_topic_t *qt = &body.topics.items[t];
        rn_list_offsets_response_topic_t *rt = &rtopics[resp.topics.count];
        rn_list_offsets_response_topic_init(rt);
        rt->name = qt->name;
        int32_t np = qt->partitions.count > 0 ? qt->partitions.count : 0;
        rn_list_offsets_response_partition_t *rparts =
            rn_arena_try_alloc_array(&req->arena, rn_list_offsets_response_partition_t,
                                     np ? np : 1);
        int64_t *olds = rn_arena_try_alloc_array(&req->arena, int64_t, np ? np : 1);
        if (rparts == NULL || olds == NULL) {
            rn_reject(req, "out of memory");
            return;
        }
        rt->partitions.items = rparts;
        rn_topic_t *topic = rn_topics_get(req->broker->topics, qt->name);
        for (int32_t i = 0; i < np; i++) {
            const rn_list_offsets_request_partition_t *qp = &qt->partitions.items[i];
            uint8_t seen = dup[k++];
            if (seen == RN_ADMIN_KEY_REPEAT && v >= 1)
                continue;
            rn_list_offsets_response_partition_t *rp = &rparts[rt->partitions.count++];
            rn_list_offsets_response_partition_init(rp);
            rp->partition_index = qp->partition_index;
            rn_partition_t *part =
                topic != NULL ? rn_topic_partition(topic, qp->partition_index) : NULL;
            if (seen == RN_ADMIN_KEY_FIRST_OF_MANY && v >= 1) {
                rp->error_code = RN_KERR_INVALID_REQUEST;
                continue;
            }
            if (part == NULL) {
                rp->error_code = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (v >= 4 &&
                (rp->error_code = rn_leader_epoch_check(qp->current_leader_epoch)) != RN_KERR_NONE)
                continue;
            int64_t offset = -1, timestamp = -1;
            rp->error_code = lookup(part->log, v, v >= 2 && body.isolation_level == 1,
                                    qp->timestamp, &offset, &timestamp);
            rp->offset = offset;
            rp->timestamp = timestamp;
            /* An offset found has the leader's epoch; none found, none (as Kafka). */
            rp->leader_epoch = offset >= 0 ? RN_LOG_LEADER_EPOCH : -1;
            if (v == 0 && rp->error_code == 0 && offset >= 0 && qp->max_num_offsets > 0) {
                olds[i] = offset;
                rp->old_style_offsets.items = &olds[i];
                rp->old_style_offsets.count = 1;
            }
        }
        if (topic != NULL)
            rn_topic_unref(topic);
        /* A topic entry whose partitions were all answered earlier is not answered again. */
        if (np == 0 || rt->partitions.count > 0)
            resp.topics.count++;
    }
    rn_respond(req, &resp);
}
