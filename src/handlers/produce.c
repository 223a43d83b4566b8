/* SPDX-License-Identifier: Apache-2.0 */
/* Produce (key 0), v3-v9: record batches validated in full (records room), then appended as
 * received with offsets assigned in place (log room); compressed batches are never
 * recompressed. A batch that fails validation writes nothing and gets CORRUPT_MESSAGE (or the
 * more precise code rn_records_validate gives).
 *
 * acks=1 and acks=-1 answer once the bytes are in the page cache, as Kafka does on one node,
 * unless the flush policy asks for a sync: then rn_log_sync runs on the request's executor
 * (the thread pool, never an event loop) and concurrent requests share the fdatasync (group
 * commit); the answer waits for it. acks=0 gets no response, and its sync runs all the same;
 * like Kafka, an error closes the connection instead, the only way such a producer can learn
 * of it. Produce v0-v2 carry magic 0/1 message sets, which need
 * conversion (a later issue): UNSUPPORTED_FOR_MESSAGE_FORMAT, nothing written. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handlers/handlers.h"
#include "handlers/park.h"
#include "records/records.h"
#include "topics/topics.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/logging.h"

/* Compressed batches are decompressed to validate them. The bound stops decompression bombs;
 * honest batches compress text maybe 10-20x. */
#define DECOMPRESS_BOUND_MIN ((size_t)64 << 20)
#define DECOMPRESS_BOUND_MAX ((size_t)1 << 30)

typedef struct produce {
    rn_work_t work;    /* the sync, when the flush policy asks for one */
    rn_request_t *req; /* NULL once an acks=0 request is finished: nobody waits */
    rn_produce_response_t resp;
    rn_topic_t **synced; /* topics whose partitions need a sync (references) */
    rn_log_t **logs;     /* the logs to sync */
    size_t nlogs;
    int sync_err;
} produce_t;

/* Appends one partition's records. Returns a Kafka error code; sets *sync_needed. */
static rn_kerr_t append_partition(rn_request_t *req, rn_topic_t *topic, rn_partition_t *part,
                                  rn_records_t *records, rn_produce_response_partition_t *out,
                                  bool *sync_needed)
{
    if (req->api_version < 3)
        return RN_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
    /* ProduceRequest.validateRecords: a partition must carry at least one batch. */
    if (rn_records_is_null(records) || records->len == 0)
        return RN_KERR_INVALID_RECORD;
    rn_topic_config_t cfg;
    rn_topic_get_config(req->broker->topics, topic, &cfg);
    /* The frame is the request's own memory until it finishes: offsets and LogAppendTime are
     * written into it in place, then the same bytes go to the log. */
    uint8_t *bytes = (uint8_t *)records->ptr;
    size_t len = records->len;
    /* Kafka's order (UnifiedLog.analyzeAndValidateRecords): a client's batch starts at offset 0,
     * then its size is held against max.message.bytes (RecordTooLargeException), and only then
     * is its CRC checked; so an oversized batch is MESSAGE_TOO_LARGE even when damaged, and it
     * is never inflated. A header that does not parse is left to the validation below. */
    rn_batch_header_t h;
    if (rn_batch_parse_header(bytes, len, &h) == RN_DECODE_OK) {
        if (h.base_offset != 0)
            return RN_KERR_INVALID_RECORD;
        if (rn_batch_size(&h) > (size_t)cfg.max_message_bytes)
            return RN_KERR_MESSAGE_TOO_LARGE;
    }
    size_t bound = len * 32;
    bound = bound < DECOMPRESS_BOUND_MIN   ? DECOMPRESS_BOUND_MIN
            : bound > DECOMPRESS_BOUND_MAX ? DECOMPRESS_BOUND_MAX
                                           : bound;
    rn_records_summary_t sum;
    const char *why = NULL;
    rn_kerr_t err = rn_records_validate(bytes, len, bound, &sum, &why);
    if (err != RN_KERR_NONE) {
        rn_log(RN_LOG_DEBUG, "produce", "%s: %s-%d: rejected batch (%s): %s", req->peer,
               topic->name, part->index, rn_kerr_name(err), why ? why : "");
        return err;
    }
    /* Kafka's LogValidator: v3+ carries exactly one batch per partition (the one whose size
     * was checked above), clients may not write control batches, and zstd needs Produce v7
     * (KIP-110). */
    if (sum.nbatches != 1 || (h.attributes & RN_BATCH_ATTR_CONTROL) != 0)
        return RN_KERR_INVALID_RECORD;
    if ((h.attributes & RN_BATCH_ATTR_CODEC_MASK) == RN_CODEC_ZSTD && req->api_version < 7)
        return RN_KERR_UNSUPPORTED_COMPRESSION_TYPE;
    int64_t append_time = -1;
    if (cfg.log_append_time) {
        append_time = rn_clock_wall_ms();
        rn_records_set_log_append_time(bytes, len, append_time);
        sum.max_timestamp = append_time;
    }
    int64_t base = 0;
    int rc = rn_log_append(part->log, bytes, len, &sum, &base, sync_needed);
    if (rc != 0) {
        rn_log(RN_LOG_ERROR, "produce", "%s-%d: append failed: %s", topic->name, part->index,
               strerror(-rc));
        return RN_KERR_KAFKA_STORAGE_ERROR;
    }
    rn_partition_notify(part);
    out->base_offset = base;
    out->log_append_time_ms = append_time;
    return RN_KERR_NONE;
}

static void produce_free(produce_t *p)
{
    for (size_t i = 0; i < p->nlogs; i++)
        rn_topic_unref(p->synced[i]);
    free(p->synced);
    free(p->logs);
    free(p);
}

/* After a failed sync, what was appended is not acknowledged. */
static void mark_all(produce_t *p, rn_kerr_t code)
{
    for (int32_t t = 0; t < p->resp.responses.count; t++) {
        rn_produce_response_topic_t *rt = &p->resp.responses.items[t];
        for (int32_t i = 0; i < rt->partition_responses.count; i++)
            if (rt->partition_responses.items[i].error_code == 0)
                rt->partition_responses.items[i].error_code = code;
    }
}

static void on_sync_work(rn_work_t *w)
{
    produce_t *p = rn_container_of(w, produce_t, work);
    for (size_t i = 0; i < p->nlogs && p->sync_err == 0; i++)
        p->sync_err = rn_log_sync(p->logs[i]);
}

/* Answers once the sync is over. Like Kafka, whose flush runs inside the append, a slow sync
 * delays the answer but does not turn written data into a timeout: a retry would write it
 * twice. */
static void on_sync_done(rn_work_t *w, int status)
{
    produce_t *p = rn_container_of(w, produce_t, work);
    if (status != 0 && p->sync_err == 0)
        p->sync_err = status;
    if (p->sync_err != 0) {
        rn_log(RN_LOG_ERROR, "produce", "sync after append failed: %s", strerror(-p->sync_err));
        if (p->req != NULL)
            mark_all(p, RN_KERR_KAFKA_STORAGE_ERROR);
    }
    if (p->req != NULL)
        rn_respond(p->req, &p->resp);
    produce_free(p);
}

/* The flush policy's sync, off the loop; the request (unless acks=0) answers when it is over.
 * When it cannot be queued, an acks=1/all request fails rather than block the loop. */
static void sync_then_answer(produce_t *p, rn_executor_t *executor)
{
    p->work.run = on_sync_work;
    p->work.done = on_sync_done;
    int err = rn_work_queue(executor, &p->work);
    if (err == 0)
        return;
    rn_log(RN_LOG_ERROR, "produce", "cannot queue the sync after an append: %s", strerror(-err));
    on_sync_done(&p->work, err);
}

static bool remember_sync(produce_t *p, rn_topic_t *topic, rn_log_t *log)
{
    for (size_t i = 0; i < p->nlogs; i++)
        if (p->logs[i] == log)
            return true;
    rn_log_t **logs = realloc(p->logs, (p->nlogs + 1) * sizeof *logs);
    if (logs == NULL)
        return false;
    p->logs = logs;
    rn_topic_t **topics = realloc(p->synced, (p->nlogs + 1) * sizeof *topics);
    if (topics == NULL)
        return false;
    p->synced = topics;
    rn_topic_ref(topic);
    p->synced[p->nlogs] = topic;
    p->logs[p->nlogs++] = log;
    return true;
}

void rn_handle_produce(rn_request_t *req)
{
    rn_produce_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    produce_t *p = calloc(1, sizeof *p);
    if (p == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    p->req = req;
    rn_produce_response_init(&p->resp);
    bool acks_ok = body.acks == 0 || body.acks == 1 || body.acks == -1;
    bool any_error = false;

    int32_t nt = body.topic_data.count > 0 ? body.topic_data.count : 0;
    rn_produce_response_topic_t *rtopics =
        rn_arena_try_alloc_array(&req->arena, rn_produce_response_topic_t, nt ? nt : 1);
    if (rtopics == NULL)
        goto oom;
    p->resp.responses.items = rtopics;
    p->resp.responses.count = nt;
    for (int32_t t = 0; t < nt; t++) {
        rn_produce_request_topic_t *qt = &body.topic_data.items[t];
        rn_produce_response_topic_t *rt = &rtopics[t];
        rn_produce_response_topic_init(rt);
        rt->name = qt->name;
        int32_t np = qt->partition_data.count > 0 ? qt->partition_data.count : 0;
        rn_produce_response_partition_t *rparts =
            rn_arena_try_alloc_array(&req->arena, rn_produce_response_partition_t, np ? np : 1);
        if (rparts == NULL)
            goto oom;
        rt->partition_responses.items = rparts;
        rt->partition_responses.count = np;
        rn_topic_t *topic = acks_ok ? rn_topics_get(req->broker->topics, qt->name) : NULL;
        for (int32_t i = 0; i < np; i++) {
            rn_produce_request_partition_t *qp = &qt->partition_data.items[i];
            rn_produce_response_partition_t *rp = &rparts[i];
            rn_produce_response_partition_init(rp);
            rp->index = qp->index;
            rp->base_offset = -1;
            rn_partition_t *part = topic != NULL ? rn_topic_partition(topic, qp->index) : NULL;
            bool sync_needed = false;
            if (!acks_ok)
                rp->error_code = RN_KERR_INVALID_REQUIRED_ACKS;
            else if (part == NULL)
                rp->error_code = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else
                rp->error_code = append_partition(req, topic, part, &qp->records, rp, &sync_needed);
            /* Kafka answers -1 for the log start offset of a partition in error. */
            if (rp->error_code == RN_KERR_NONE)
                rp->log_start_offset = rn_log_start_offset(part->log);
            if (rp->error_code != RN_KERR_NONE)
                any_error = true;
            else if (sync_needed && !remember_sync(p, topic, part->log))
                rp->error_code = RN_KERR_KAFKA_STORAGE_ERROR;
        }
        if (topic != NULL)
            rn_topic_unref(topic);
    }

    if (body.acks == 0) {
        /* No response for acks=0; an error can only be told by closing the connection. The
         * flush policy still holds (Kafka flushes inside the append, whatever the acks): the
         * sync runs on its own, and nobody waits for it. */
        rn_executor_t *executor = req->executor; /* finishing frees the request */
        p->req = NULL;
        if (any_error)
            rn_reject(req, "produce with acks=0 failed");
        else
            rn_respond_none(req);
        if (p->nlogs > 0)
            sync_then_answer(p, executor);
        else
            produce_free(p);
        return;
    }
    if (p->nlogs > 0)
        sync_then_answer(p, req->executor);
    else
        on_sync_done(&p->work, 0);
    return;
oom:
    produce_free(p);
    rn_reject(req, "out of memory");
}
