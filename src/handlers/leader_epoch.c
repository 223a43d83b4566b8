/* SPDX-License-Identifier: Apache-2.0 */
/* OffsetForLeaderEpoch (key 23), v0-v4: the end offset of a leader epoch, which consumers ask
 * for to detect a log truncated under them (KIP-320; the Java consumer validates its position
 * this way after a metadata change). One node never elects another leader, so every partition
 * has had exactly one epoch, RN_LOG_LEADER_EPOCH, and it ends at the log end offset. For any
 * other epoch Kafka answers UNDEFINED_EPOCH (-1) with offset -1: a newer one is unknown here, and
 * no older one ever existed. */
#include "handlers/handlers.h"
#include "log/log.h"
#include "topics/topics.h"

void rn_handle_offset_for_leader_epoch(rn_request_t *req)
{
    rn_offset_for_leader_epoch_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    int16_t v = req->api_version;
    rn_offset_for_leader_epoch_response_t resp;
    rn_offset_for_leader_epoch_response_init(&resp);
    int32_t nt = body.topics.count > 0 ? body.topics.count : 0;
    rn_offset_for_leader_epoch_response_topic_result_t *rtopics =
        rn_arena_try_alloc_array(&req->arena, rn_offset_for_leader_epoch_response_topic_result_t,
                                 nt ? nt : 1);
    if (rtopics == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    for (int32_t t = 0; t < nt; t++) {
        const rn_offset_for_leader_epoch_request_topic_t *qt = &body.topics.items[t];
        rn_offset_for_leader_epoch_response_topic_result_t *rt = &rtopics[t];
        rn_offset_for_leader_epoch_response_topic_result_init(rt);
        rt->topic = qt->topic;
        int32_t np = qt->partitions.count > 0 ? qt->partitions.count : 0;
        rn_offset_for_leader_epoch_response_epoch_end_offset_t *rparts =
            rn_arena_try_alloc_array(&req->arena,
                                     rn_offset_for_leader_epoch_response_epoch_end_offset_t,
                                     np ? np : 1);
        if (rparts == NULL) {
            rn_reject(req, "out of memory");
            return;
        }
        rt->partitions.items = rparts;
        rt->partitions.count = np;
        rn_topic_t *topic = rn_topics_get(req->broker->topics, qt->topic);
        for (int32_t i = 0; i < np; i++) {
            const rn_offset_for_leader_epoch_request_partition_t *qp = &qt->partitions.items[i];
            rn_offset_for_leader_epoch_response_epoch_end_offset_t *rp = &rparts[i];
            rn_offset_for_leader_epoch_response_epoch_end_offset_init(rp);
            rp->partition = qp->partition;
            rn_partition_t *part = topic != NULL ? rn_topic_partition(topic, qp->partition) : NULL;
            if (part == NULL) {
                rp->error_code = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (v >= 2 &&
                (rp->error_code = rn_leader_epoch_check(qp->current_leader_epoch)) != RN_KERR_NONE)
                continue;
            if (qp->leader_epoch == RN_LOG_LEADER_EPOCH) {
                rp->leader_epoch = RN_LOG_LEADER_EPOCH;
                rp->end_offset = rn_log_high_watermark(part->log);
            }
        }
        if (topic != NULL)
            rn_topic_unref(topic);
    }
    resp.topics.items = rtopics;
    resp.topics.count = nt;
    rn_respond(req, &resp);
}
