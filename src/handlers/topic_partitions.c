/* SPDX-License-Identifier: Apache-2.0 */
/* DescribeTopicPartitions (key 75), v0 (KIP-966): what Kafka's Admin describeTopics asks for when
 * the broker advertises it, instead of Metadata. Topics are answered in name order, once each,
 * their partitions in index order, at most response_partition_limit partitions per answer
 * (capped at Kafka's max.request.partition.size.limit default, 2000; at least one); when more
 * remain, next_cursor names the topic and partition to ask for next. An empty topic list means
 * every topic, and then a topic that vanished meanwhile is left out instead of answered unknown,
 * as in Kafka's KRaftMetadataCache.describeTopicResponse. A name that is not there is
 * UNKNOWN_TOPIC_OR_PARTITION, or INVALID_TOPIC_EXCEPTION when it could never name a topic. A
 * cursor Kafka refuses (a negative partition, or a topic the request does not name) gets its
 * error answer. */
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

/* The topic names asked for (every topic's when none is named), sorted, without repeats; in
 * the arena. Returns the count, or -1 when the arena ran out. */
static int32_t names_asked(rn_request_t *req, const rn_describe_topic_partitions_request_t *body,
                           rn_topic_t **all, size_t nall, rn_str_t **out)
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
    for (size_t i = 0; i < n; i++)
        if (k == 0 || compare_names(&names[k - 1], &names[i]) != 0)
            names[k++] = names[i];
    *out = names;
    return (int32_t)k;
}

/* Where the answer starts among the sorted `names`: at the cursor's topic, or the first name
 * after it when the cursor names one that is not there. Sets *refused when Kafka refuses the
 * cursor: a negative partition, or (when topics are named) a topic the request does not name. */
static int32_t start_of(const rn_str_t *names, int32_t n,
                        const rn_describe_topic_partitions_request_cursor_t *cursor,
                        bool all_topics, bool *refused)
{
    *refused = false;
    if (cursor == NULL)
        return 0;
    int32_t start = 0;
    while (start < n && compare_names(&names[start], &cursor->topic_name) < 0)
        start++;
    bool named = start < n && compare_names(&names[start], &cursor->topic_name) == 0;
    *refused = cursor->partition_index < 0 || (!all_topics && !named);
    return start;
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

/* Kafka refuses a cursor in the shape of its error answer: every topic of the request, in its
 * order and repeats included, INVALID_REQUEST, with no operations; none when none is named.
 * False when the arena ran out. */
static bool refuse(rn_request_t *req, const rn_describe_topic_partitions_request_t *body,
                   bool all_topics, rn_describe_topic_partitions_response_t *resp)
{
    int32_t n = all_topics ? 0 : body->topics.count;
    rn_describe_topic_partitions_response_topic_t *items =
        rn_arena_try_alloc_array(&req->arena, rn_describe_topic_partitions_response_topic_t,
                                 n ? n : 1);
    if (items == NULL)
        return false;
    for (int32_t i = 0; i < n; i++) {
        rn_describe_topic_partitions_response_topic_init(&items[i]);
        items[i].name = body->topics.items[i].name;
        items[i].error_code = RN_KERR_INVALID_REQUEST;
    }
    resp->topics.items = items;
    resp->topics.count = n;
    return true;
}

/* Sets next_cursor to `name`, `partition`; false when the arena ran out. */
static bool set_cursor(rn_request_t *req, rn_describe_topic_partitions_response_t *resp,
                       rn_str_t name, int32_t partition)
{
    resp->next_cursor = rn_arena_try_alloc(&req->arena, sizeof *resp->next_cursor);
    if (resp->next_cursor == NULL)
        return false;
    rn_describe_topic_partitions_response_cursor_init(resp->next_cursor);
    resp->next_cursor->topic_name = name;
    resp->next_cursor->partition_index = partition;
    return true;
}

/* Answers names[start..n) within the partition limit, setting the cursor when it stops short.
 * False when the arena ran out. */
static bool describe_from(rn_request_t *req, const rn_describe_topic_partitions_request_t *body,
                          const rn_str_t *names, int32_t start, int32_t n, bool all_topics,
                          rn_describe_topic_partitions_response_t *resp)
{
    rn_topics_t *topics = req->broker->topics;
    const rn_describe_topic_partitions_request_cursor_t *cursor = body->cursor;
    int32_t *node = rn_arena_try_alloc(&req->arena, sizeof *node);
    rn_describe_topic_partitions_response_topic_t *items =
        rn_arena_try_alloc_array(&req->arena, rn_describe_topic_partitions_response_topic_t,
                                 n > start ? n - start : 1);
    if (node == NULL || items == NULL)
        return false;
    *node = req->broker->node_id;
    resp->topics.items = items;
    /* Kafka caps the limit at max.request.partition.size.limit and answers at least one
     * partition (a limit of 0 or below counts as 1), so that paging always moves on. */
    int32_t limit = body->response_partition_limit;
    int32_t room = limit < 1 ? 1 : limit < MAX_PARTITION_LIMIT ? limit : MAX_PARTITION_LIMIT;
    for (int32_t i = start; i < n; i++) {
        /* The limit is reached with topics left: the next answer starts with this one. */
        if (room <= 0)
            return set_cursor(req, resp, names[i], 0);
        rn_describe_topic_partitions_response_topic_t *t = &items[resp->topics.count];
        rn_describe_topic_partitions_response_topic_init(t);
        t->name = names[i];
        /* The request cannot ask: Kafka always answers every operation a topic supports
         * (acl.h), unknown topics and illegal names included. */
        t->topic_authorized_operations = rn_acl_authorized_operations(RN_ACL_RESOURCE_TOPIC);
        rn_topic_t *topic = rn_topics_get(topics, names[i]);
        if (topic == NULL) {
            if (all_topics)
                continue;
            char why[160];
            t->error_code = rn_topic_name_valid(names[i], why, sizeof why)
                                ? RN_KERR_UNKNOWN_TOPIC_OR_PARTITION
                                : RN_KERR_INVALID_TOPIC_EXCEPTION;
            resp->topics.count++;
            continue;
        }
        t->topic_id = topic->id;
        t->is_internal = topic->internal;
        int32_t from = cursor != NULL && compare_names(&names[i], &cursor->topic_name) == 0
                           ? cursor->partition_index
                           : 0;
        int32_t next = -1;
        bool ok = describe_partitions(req, topic, from, room, node, t, &next);
        rn_topic_unref(topic);
        if (!ok)
            return false;
        resp->topics.count++;
        room -= t->partitions.count;
        if (next >= 0)
            return set_cursor(req, resp, names[i], next);
    }
    return true;
}

void rn_handle_describe_topic_partitions(rn_request_t *req)
{
    rn_describe_topic_partitions_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    rn_describe_topic_partitions_response_t resp;
    rn_describe_topic_partitions_response_init(&resp);
    bool all_topics = body.topics.count <= 0;
    rn_topic_t **all = NULL;
    size_t nall = all_topics ? rn_topics_list(req->broker->topics, &all) : 0;
    rn_str_t *names = NULL;
    int32_t nnames = names_asked(req, &body, all, nall, &names);
    bool ok = nnames >= 0;
    if (ok) {
        bool refused;
        int32_t start = start_of(names, nnames, body.cursor, all_topics, &refused);
        ok = refused ? refuse(req, &body, all_topics, &resp)
                     : describe_from(req, &body, names, start, nnames, all_topics, &resp);
    }
    /* The answer points into the registry's names: send it before dropping the topics. */
    if (ok)
        rn_respond(req, &resp);
    else
        rn_reject(req, "out of memory");
    rn_topics_list_free(all, nall);
}
