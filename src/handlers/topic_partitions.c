/* SPDX-License-Identifier: Apache-2.0 */
/* DescribeTopicPartitions (key 75), v0 (KIP-966): what Kafka's Admin describeTopics asks for when
 * the broker advertises it, instead of Metadata. Topics are answered in name order, their
 * partitions in index order, at most response_partition_limit partitions per answer (capped at
 * Kafka's max.request.partition.size.limit default, 2000); when more remain, next_cursor names
 * the topic and partition to ask for next. An empty topic list means every topic, and then a
 * topic that vanished meanwhile is left out instead of answered unknown, as in Kafka's
 * KRaftMetadataCache.describeTopicResponse. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/acl.h"
#include "handlers/handlers.h"
#include "log/log.h"
#include "topics/topics.h"

#define MAX_PARTITION_LIMIT 2000

static int compare_names(const void *a, const void *b)
{
    const rn_str_t *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n > 0 ? memcmp(x->ptr, y->ptr, n) : 0;
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* The topic names to answer, sorted, without repeats, from `first` on (the cursor's topic); in
 * the arena. Returns the count, or -1 when the arena ran out. */
static int32_t names_to_answer(rn_request_t *req,
                               const rn_describe_topic_partitions_request_t *body, rn_topic_t **all,
                               size_t nall, rn_str_t first, rn_str_t **out)
{
    size_t n = body->topics.count > 0 ? (size_t)body->topics.count : nall;
    rn_str_t *names = rn_arena_try_alloc_array(&req->arena, rn_str_t, n ? n : 1);
    if (names == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        names[i] =
            body->topics.count > 0 ? body->topics.items[i].name : rn_str_from_cstr(all[i]->name);
    qsort(names, n, sizeof *names, compare_names);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && compare_names(&names[k - 1], &names[i]) == 0)
            continue;
        if (first.ptr != NULL && compare_names(&names[i], &first) < 0)
            continue;
        names[k++] = names[i];
    }
    *out = names;
    return (int32_t)k;
}

/* One existing topic's partitions from `from` on, at most `room` of them. Sets *next to the
 * first partition left out, or -1 when all fit. False when the arena ran out. */
static bool describe_partitions(rn_request_t *req, rn_topic_t *topic, int32_t from, int32_t room,
                                int32_t *node, rn_describe_topic_partitions_response_topic_t *t,
                                int32_t *next)
{
    int32_t n = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
    if (from < 0)
        from = 0;
    int32_t count = from < n ? n - from : 0;
    *next = -1;
    if (count > room) {
        count = room;
        *next = from + count;
    }
    rn_describe_topic_partitions_response_partition_t *parts =
        rn_arena_try_alloc_array(&req->arena, rn_describe_topic_partitions_response_partition_t,
                                 count ? count : 1);
    if (parts == NULL)
        return false;
    for (int32_t i = 0; i < count; i++) {
        rn_describe_topic_partitions_response_partition_t *p = &parts[i];
        rn_describe_topic_partitions_response_partition_init(p);
        p->partition_index = from + i;
        p->leader_id = *node;
        p->leader_epoch = RN_LOG_LEADER_EPOCH;
        /* One node: the only replica and the whole ISR; no eligible leaders beyond it. */
        p->replica_nodes.items = node;
        p->replica_nodes.count = 1;
        p->isr_nodes.items = node;
        p->isr_nodes.count = 1;
        p->eligible_leader_replicas.count = 0;
        p->last_known_elr.count = 0;
    }
    t->partitions.items = parts;
    t->partitions.count = count;
    return true;
}

void rn_handle_describe_topic_partitions(rn_request_t *req)
{
    rn_describe_topic_partitions_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    rn_topics_t *topics = req->broker->topics;
    rn_describe_topic_partitions_response_t resp;
    rn_describe_topic_partitions_response_init(&resp);
    bool all_topics = body.topics.count <= 0;
    rn_topic_t **all = NULL;
    size_t nall = all_topics ? rn_topics_list(topics, &all) : 0;
    const rn_describe_topic_partitions_request_cursor_t *cursor = body.cursor;
    rn_str_t first = cursor != NULL ? cursor->topic_name : (rn_str_t){ NULL, 0 };
    rn_str_t *names = NULL;
    int32_t nnames = names_to_answer(req, &body, all, nall, first, &names);
    int32_t *node = rn_arena_try_alloc(&req->arena, sizeof *node);
    rn_describe_topic_partitions_response_topic_t *rtopics =
        rn_arena_try_alloc_array(&req->arena, rn_describe_topic_partitions_response_topic_t,
                                 nnames > 0 ? nnames : 1);
    if (nnames < 0 || node == NULL || rtopics == NULL)
        goto oom;
    *node = req->broker->node_id;
    /* Kafka refuses a cursor that names a topic the request does not ask for. */
    bool bad_cursor = cursor != NULL && !all_topics &&
                      (nnames == 0 || compare_names(&names[0], &cursor->topic_name) != 0);
    int32_t room = body.response_partition_limit < MAX_PARTITION_LIMIT
                       ? body.response_partition_limit
                       : MAX_PARTITION_LIMIT;
    int32_t nt = 0;
    for (int32_t i = 0; i < nnames; i++) {
        rn_describe_topic_partitions_response_topic_t *t = &rtopics[nt];
        rn_describe_topic_partitions_response_topic_init(t);
        t->name = names[i];
        /* The request cannot ask: Kafka always answers every operation a topic supports
         * (acl.h), unknown topics included, except for a request it refuses. */
        t->topic_authorized_operations = rn_acl_authorized_operations(RN_ACL_RESOURCE_TOPIC);
        if (bad_cursor) {
            t->topic_authorized_operations = RN_ACL_OPERATIONS_OMITTED;
            t->error_code = RN_KERR_INVALID_REQUEST;
            nt++;
            continue;
        }
        if (room <= 0) {
            /* The limit is reached with topics left: the next answer starts with this one. */
            resp.next_cursor = rn_arena_try_alloc(&req->arena, sizeof *resp.next_cursor);
            if (resp.next_cursor == NULL)
                goto oom;
            rn_describe_topic_partitions_response_cursor_init(resp.next_cursor);
            resp.next_cursor->topic_name = names[i];
            resp.next_cursor->partition_index = 0;
            break;
        }
        rn_topic_t *topic = rn_topics_get(topics, names[i]);
        if (topic == NULL) {
            if (all_topics)
                continue;
            t->error_code = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            nt++;
            continue;
        }
        t->topic_id = topic->id;
        t->is_internal = topic->internal;
        int32_t from = cursor != NULL && i == 0 && compare_names(&names[0], &first) == 0
                           ? cursor->partition_index
                           : 0;
        int32_t next = -1;
        bool ok = describe_partitions(req, topic, from, room, node, t, &next);
        rn_topic_unref(topic);
        if (!ok)
            goto oom;
        nt++;
        room -= t->partitions.count;
        if (next >= 0) {
            resp.next_cursor = rn_arena_try_alloc(&req->arena, sizeof *resp.next_cursor);
            if (resp.next_cursor == NULL)
                goto oom;
            rn_describe_topic_partitions_response_cursor_init(resp.next_cursor);
            resp.next_cursor->topic_name = names[i];
            resp.next_cursor->partition_index = next;
            break;
        }
    }
    resp.topics.items = rtopics;
    resp.topics.count = nt;
    rn_respond(req, &resp);
    rn_topics_list_free(all, nall);
    return;
oom:
    rn_topics_list_free(all, nall);
    rn_reject(req, "out of memory");
}
