/* SPDX-License-Identifier: Apache-2.0 */
/* DescribeProducers (key 61), v0: the producer state each asked-for partition holds (log.h's
 * rn_log_producers), so operators can find a producer whose transaction hangs. The answers for
 * partitions that are not here are Kafka 4.4's: an unknown topic gets UNKNOWN_TOPIC_OR_PARTITION
 * with Kafka's message, an unknown partition of a known topic the same code and no message. */
#include "handlers/handlers.h"
#include "log/log.h"
#include "topics/topics.h"

/* Fills one partition's active producers. False when the arena ran out. */
static bool describe_partition(rn_request_t *req, rn_log_t *log,
                               rn_describe_producers_response_partition_t *rp)
{
    size_t n = rn_log_producers(log, NULL, 0);
    for (;;) {
        rn_log_producer_t *all =
            rn_arena_try_alloc_array(&req->arena, rn_log_producer_t, n > 0 ? (int32_t)n : 1);
        if (all == NULL || n > INT32_MAX)
            return false;
        size_t got = rn_log_producers(log, all, n);
        if (got > n) { /* more came meanwhile: again, with room for them */
            n = got;
            continue;
        }
        rn_describe_producers_response_producer_state_t *items =
            rn_arena_try_alloc_array(&req->arena, rn_describe_producers_response_producer_state_t,
                                     got ? (int32_t)got : 1);
        if (items == NULL)
            return false;
        for (size_t i = 0; i < got; i++) {
            rn_describe_producers_response_producer_state_init(&items[i]);
            items[i].producer_id = all[i].producer_id;
            items[i].producer_epoch = all[i].producer_epoch;
            items[i].last_sequence = all[i].last_sequence;
            items[i].last_timestamp = all[i].last_timestamp;
            items[i].coordinator_epoch = all[i].coordinator_epoch;
            items[i].current_txn_start_offset = all[i].txn_start_offset;
        }
        rp->active_producers.items = items;
        rp->active_producers.count = (int32_t)got;
        return true;
    }
}

void rn_handle_describe_producers(rn_request_t *req)
{
    rn_describe_producers_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    rn_describe_producers_response_t resp;
    rn_describe_producers_response_init(&resp);
    int32_t nt = body.topics.count > 0 ? body.topics.count : 0;
    rn_describe_producers_response_topic_t *rtopics =
        rn_arena_try_alloc_array(&req->arena, rn_describe_producers_response_topic_t, nt ? nt : 1);
    if (rtopics == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    for (int32_t t = 0; t < nt; t++) {
        const rn_describe_producers_request_topic_t *qt = &body.topics.items[t];
        rn_describe_producers_response_topic_t *rt = &rtopics[t];
        rn_describe_producers_response_topic_init(rt);
        rt->name = qt->name;
        int32_t np = qt->partition_indexes.count > 0 ? qt->partition_indexes.count : 0;
        rn_describe_producers_response_partition_t *rparts =
            rn_arena_try_alloc_array(&req->arena, rn_describe_producers_response_partition_t,
                                     np ? np : 1);
        if (rparts == NULL) {
            rn_reject(req, "out of memory");
            return;
        }
        rt->partitions.items = rparts;
        rt->partitions.count = np;
        rn_topic_t *topic = rn_topics_get(req->broker->topics, qt->name);
        for (int32_t i = 0; i < np; i++) {
            rn_describe_producers_response_partition_t *rp = &rparts[i];
            rn_describe_producers_response_partition_init(rp);
            rp->partition_index = qt->partition_indexes.items[i];
            rn_partition_t *part =
                topic != NULL ? rn_topic_partition(topic, rp->partition_index) : NULL;
            if (part == NULL) {
                rp->error_code = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                if (topic == NULL)
                    rp->error_message =
                        rn_str_from_cstr("This server does not host this topic-partition.");
                continue;
            }
            if (!describe_partition(req, part->log, rp)) {
                rn_topic_unref(topic);
                rn_reject(req, "out of memory");
                return;
            }
        }
        if (topic != NULL)
            rn_topic_unref(topic);
    }
    resp.topics.items = rtopics;
    resp.topics.count = nt;
    rn_respond(req, &resp);
}
