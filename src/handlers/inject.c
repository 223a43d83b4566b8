/* SPDX-License-Identifier: Apache-2.0 */
/* Injected faults on the request path (inject.h). The registry decides which fault applies;
 * this file finds what a request names (only when a fault filters on a topic, by decoding the
 * body once more from a copy of its reader), logs the fault and carries it out. A delayed answer
 * is parked on the connection's loop (park.h) with a timer: nothing sleeps on a loop, and a
 * stopping loop sends what it holds at once. */
#include "handlers/inject.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults/faults.h"
#include "handlers/park.h"
#include "topics/topics.h"
#include "util/logging.h"

/* ---- what a request names ---- */

typedef struct targets {
    rn_fault_target_t *items;
    size_t count, cap;
} targets_t;

static void add_target(rn_request_t *req, targets_t *ts, rn_str_t name, int32_t partition)
{
    if (name.ptr == NULL)
        return;
    if (ts->count == ts->cap) {
        size_t cap = ts->cap ? 2 * ts->cap : 16;
        rn_fault_target_t *grown = rn_arena_try_alloc_array(&req->arena, rn_fault_target_t, cap);
        if (grown == NULL)
            return; /* matching sees fewer targets; the request itself is unaffected */
        if (ts->count > 0)
            memcpy(grown, ts->items, ts->count * sizeof *grown);
        ts->items = grown;
        ts->cap = cap;
    }
    ts->items[ts->count++] = (rn_fault_target_t){ name.ptr, name.len, partition };
}

/* Fetch v13+ and Metadata v10+ may name a topic by id: its name, copied into the arena. */
static rn_str_t name_of_id(rn_request_t *req, rn_uuid_t id)
{
    rn_topic_t *topic = rn_topics_get_by_id(req->broker->topics, id);
    if (topic == NULL)
        return (rn_str_t){ NULL, 0 };
    char *name = rn_arena_strndup(&req->arena, topic->name, strlen(topic->name));
    rn_topic_unref(topic);
    return rn_str_from_cstr(name);
}

/* Decodes the body of a Produce, Fetch, ListOffsets or Metadata request from a copy of its
 * reader (the handler decodes it again) and lists the topic-partitions it names. A body that
 * does not decode names nothing; its handler rejects it. */
static void collect_targets(rn_request_t *req, targets_t *ts)
{
    rn_reader_t r = req->body;
    const rn_proto_api_t *api = rn_proto_api_find(req->api_key);
    if (api == NULL)
        return;
    void *msg = rn_arena_try_alloc(&req->arena, api->request_size);
    if (msg == NULL || api->request_decode(&r, req->api_version, &req->arena, msg) != RN_DECODE_OK)
        return;
    switch (req->api_key) {
    case RN_API_PRODUCE: {
        const rn_produce_request_t *body = msg;
        for (int32_t t = 0; t < body->topic_data.count; t++)
            for (int32_t p = 0; p < body->topic_data.items[t].partition_data.count; p++)
                add_target(req, ts, body->topic_data.items[t].name,
                           body->topic_data.items[t].partition_data.items[p].index);
        break;
    }
    case RN_API_FETCH: {
        const rn_fetch_request_t *body = msg;
        for (int32_t t = 0; t < body->topics.count; t++) {
            const rn_fetch_request_topic_t *qt = &body->topics.items[t];
            rn_str_t name = req->api_version >= 13 ? name_of_id(req, qt->topic_id) : qt->topic;
            for (int32_t p = 0; p < qt->partitions.count; p++)
                add_target(req, ts, name, qt->partitions.items[p].partition);
        }
        break;
    }
    case RN_API_LIST_OFFSETS: {
        const rn_list_offsets_request_t *body = msg;
        for (int32_t t = 0; t < body->topics.count; t++)
            for (int32_t p = 0; p < body->topics.items[t].partitions.count; p++)
                add_target(req, ts, body->topics.items[t].name,
                           body->topics.items[t].partitions.items[p].partition_index);
        break;
    }
    case RN_API_METADATA: {
        const rn_metadata_request_t *body = msg;
        for (int32_t t = 0; t < body->topics.count; t++) {
            const rn_metadata_request_topic_t *qt = &body->topics.items[t];
            add_target(req, ts, qt->name.ptr != NULL ? qt->name : name_of_id(req, qt->topic_id),
                       -1);
        }
        break;
    }
    default:
        break;
    }
}

/* ---- delayed answers ---- */

typedef struct delayed {
    rn_parked_t park; /* first: the park's callbacks get this struct */
    rn_request_t *req;
    void (*finish)(rn_request_t *req, rn_finish_t how); /* the request's own hook */
    void *finish_ctx;
    uint32_t delay_ms;
} delayed_t;

static void on_delay_over(rn_parked_t *p, bool final)
{
    (void) final; /* the timer, or the loop stopping: either way the answer goes now */
    delayed_t *d = (delayed_t *)p;
    rn_request_t *req = d->req;
    rn_unpark(p);
    req->finish(req, RN_FINISH_RESPOND);
}

static void on_delay_release(rn_parked_t *p)
{
    free(p);
}

/* The request's finish hook while a delay applies: puts the request's own hook back, then
 * holds a response back for delay_ms; no response and a closed connection go at once. */
static void delay_finish(rn_request_t *req, rn_finish_t how)
{
    delayed_t *d = req->finish_ctx;
    req->finish = d->finish;
    req->finish_ctx = d->finish_ctx;
    if (how != RN_FINISH_RESPOND || !rn_can_park(req->loop_ctx)) {
        free(d);
        req->finish(req, how);
        return;
    }
    d->park.retry = on_delay_over;
    d->park.release = on_delay_release;
    /* libuv counts a timer from the loop's time, cached at the start of the iteration in whole
     * milliseconds, so it can fire up to a millisecond before delay_ms has passed since now:
     * one more makes the answer come no sooner than asked. */
    rn_park(req->loop_ctx, &d->park, (uint64_t)d->delay_ms + 1);
}

static void delay_answer(rn_request_t *req, uint32_t delay_ms)
{
    delayed_t *d = calloc(1, sizeof *d);
    if (d == NULL)
        return; /* answered without the delay */
    d->req = req;
    d->finish = req->finish;
    d->finish_ctx = req->finish_ctx;
    d->delay_ms = delay_ms;
    req->finish = delay_finish;
    req->finish_ctx = d;
}

/* ---- applying a fault ---- */

static void render(rn_str_t s, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; s.ptr != NULL && i < s.len && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            buf[o++] = (char)ch;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", ch);
    }
    buf[o] = '\0';
}

static void log_fault(const rn_request_t *req, const rn_fault_hit_t *hit)
{
    const rn_proto_api_t *api = rn_proto_api_find(req->api_key);
    const char *name = api != NULL ? api->name : "?";
    char client[128], left[32], what[96];
    render(req->client_id, client, sizeof client);
    if (hit->remaining < 0)
        snprintf(left, sizeof left, "until cleared");
    else
        snprintf(left, sizeof left, "%" PRId64 " left", hit->remaining);
    switch (hit->action) {
    case RN_FAULT_ERROR:
        snprintf(what, sizeof what, "answered");
        break;
    case RN_FAULT_DELAY:
        snprintf(what, sizeof what, "holding back by %" PRIu32 " ms the answer to", hit->delay_ms);
        break;
    default:
        snprintf(what, sizeof what, "closed the connection instead of answering");
        break;
    }
    if (hit->action == RN_FAULT_ERROR)
        rn_log(RN_LOG_INFO, "control",
               "fault #%" PRId64 ": answered %s v%d from client %s (%s) with %s (%s)", hit->id,
               name, req->api_version, client, req->peer ? req->peer : "?",
               rn_kerr_name(hit->error_code), left);
    else
        rn_log(RN_LOG_INFO, "control", "fault #%" PRId64 ": %s %s v%d from client %s (%s) (%s)",
               hit->id, what, name, req->api_version, client, req->peer ? req->peer : "?", left);
}

bool rn_inject_faults(rn_request_t *req)
{
    rn_faults_t *faults = req->broker->faults;
    rn_fault_query_t q = {
        .api_key = req->api_key,
        .client_id = req->client_id.ptr,
        .client_id_len = req->client_id.len,
    };
    targets_t ts = { 0 };
    if (rn_faults_wants_topics(faults, req->api_key)) {
        collect_targets(req, &ts);
        q.targets = ts.items;
        q.ntargets = ts.count;
    }
    rn_fault_hit_t hit;
    if (!rn_faults_take(faults, &q, &hit))
        return false;
    log_fault(req, &hit);
    switch (hit.action) {
    case RN_FAULT_ERROR:
        rn_answer_error(req, hit.error_code);
        return true;
    case RN_FAULT_CLOSE:
        req->finish(req, RN_FINISH_CLOSE);
        return true;
    case RN_FAULT_DELAY:
        delay_answer(req, hit.delay_ms);
        return false;
    default:
        return false;
    }
}
