/* SPDX-License-Identifier: Apache-2.0 */
/* Fetch (key 1), v4-v18: record bytes go from segment files to the socket with sendfile. Each
 * partition's records field is a file range held on its segment (rn_log_read); the response
 * encoder hands the range to the output buffer and the network room sends it with sendfile.
 *
 * Long poll: when fewer than min_bytes are there, the request is parked on its connection's
 * loop (park.h) and watches its partitions; an append on any loop wakes it, and it answers as
 * soon as min_bytes are there or max_wait_ms is up. To miss no append, it parks and starts
 * watching before its second look at the logs.
 *
 * Sessions (KIP-227) are not kept: every answer has session_id 0, which is what a broker
 * without a session cache answers; clients then send full requests (librdkafka and kafkajs
 * use sessionless fetches anyway). v0-v3 need message-format down-conversion, a later issue:
 * their partitions get UNSUPPORTED_FOR_MESSAGE_FORMAT. */
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers.h"
#include "handlers/park.h"
#include "topics/topics.h"
#include "util/err.h"

typedef struct fetch fetch_t;

typedef struct fetch_part {
    fetch_t *f;
    rn_topic_t *topic; /* counted reference, or NULL (error already set) */
    rn_partition_t *part;
    rn_fetch_response_partition_t *resp; /* in the request's arena */
    int64_t offset;
    int32_t max_bytes;
    rn_log_slice_t slice; /* held between a read and the response */
    rn_watch_t watch;
    bool watching;
} fetch_part_t;

struct fetch {
    rn_parked_t parked;
    rn_request_t *req;
    rn_fetch_response_t resp;
    fetch_part_t *parts;
    size_t nparts;
    int64_t min_bytes, max_bytes;
    bool read_committed; /* isolation_level 1 */
    bool has_error;
    bool parked_now;
};

static void release_slices(fetch_t *f)
{
    for (size_t i = 0; i < f->nparts; i++) {
        rn_log_slice_t *s = &f->parts[i].slice;
        if (s->range.len > 0 && s->range.release != NULL)
            s->range.release(s->range.owner);
        memset(s, 0, sizeof *s);
    }
}

/* read_committed: the aborted transactions that meet what was read (Kafka's
 * addAbortedTransactions: from the fetch offset to the fetch's upper bound offset), for the
 * consumer to drop their batches. False when the arena ran out. */
static bool list_aborted(fetch_t *f, fetch_part_t *fp)
{
    rn_log_t *log = fp->part->log;
    int64_t upper = rn_log_fetch_upper_bound(log, &fp->slice);
    rn_log_aborted_t small[8];
    int n = rn_log_aborted_txns(log, fp->offset, upper, small, 8);
    rn_log_aborted_t *all = small;
    if (n > 8) {
        int room = n;
        all = rn_arena_try_alloc_array(&f->req->arena, rn_log_aborted_t, room);
        if (all == NULL)
            return false;
        /* An abort may land between the two calls: list only what was written. */
        n = rn_log_aborted_txns(log, fp->offset, upper, all, (size_t)room);
        if (n > room)
            n = room;
    }
    if (n <= 0)
        return true;
    rn_fetch_response_aborted_transaction_t *items =
        rn_arena_try_alloc_array(&f->req->arena, rn_fetch_response_aborted_transaction_t, n);
    if (items == NULL)
        return false;
    for (int i = 0; i < n; i++) {
        rn_fetch_response_aborted_transaction_init(&items[i]);
        items[i].producer_id = all[i].producer_id;
        items[i].first_offset = all[i].first_offset;
    }
    fp->resp->aborted_transactions.items = items;
    fp->resp->aborted_transactions.count = n;
    return true;
}

/* Reads every partition once, cut as Kafka cuts them (ReplicaManager.readFromLog): each
 * partition gets at most partition_max_bytes of what is left of max_bytes, ending wherever that
 * ends, even inside a batch (consumers skip a partial last batch); the first partition with
 * data gets at least its first batch whole (KIP-74). Returns the record bytes found. */
static int64_t read_partitions(fetch_t *f)
{
    int64_t total = 0;
    for (size_t i = 0; i < f->nparts; i++) {
        fetch_part_t *fp = &f->parts[i];
        rn_fetch_response_partition_t *pr = fp->resp;
        pr->records = (rn_records_t){ .ptr = (const uint8_t *)"", .len = 0 };
        if (fp->topic == NULL)
            continue;
        rn_log_t *log = fp->part->log;
        int64_t room = f->max_bytes - total;
        size_t limit = fp->max_bytes > 0 ? (size_t)fp->max_bytes : 0;
        if (room < 0)
            room = 0;
        if ((size_t)room < limit)
            limit = (size_t)room;
        /* The last stable offset first: it is at most the high watermark the read sees. */
        int64_t lso = rn_log_last_stable_offset(log);
        int rc = rn_log_read_committed(log, fp->offset, limit, total == 0,
                                       f->read_committed ? lso : INT64_MAX, &fp->slice);
        if (rc == RN_LOG_OFFSET_OUT_OF_RANGE || rc < 0) {
            /* A partition in error answers -1 for its offsets, as Kafka does. */
            pr->error_code = rc < 0 ? RN_KERR_KAFKA_STORAGE_ERROR : RN_KERR_OFFSET_OUT_OF_RANGE;
            pr->high_watermark = pr->last_stable_offset = pr->log_start_offset = -1;
            pr->aborted_transactions.count = -1;
            f->has_error = true;
            continue;
        }
        /* The slice's offsets were read at the same instant as its range. */
        pr->high_watermark = fp->slice.high_watermark;
        pr->log_start_offset = fp->slice.log_start_offset;
        pr->last_stable_offset = lso;
        if (fp->slice.range.len > 0 && f->read_committed && !list_aborted(f, fp)) {
            /* No room to list what to drop: send nothing rather than aborted records; the
             * consumer asks again. */
            fp->slice.range.release(fp->slice.range.owner);
            fp->slice.range = (rn_file_range_t){ .fd = -1 };
        }
        if (fp->slice.range.len > 0) {
            pr->records = (rn_records_t){ .file = &fp->slice.range };
            total += (int64_t)fp->slice.range.len;
        }
    }
    return total;
}

static void on_append(rn_watch_t *w)
{
    fetch_part_t *fp = rn_container_of(w, fetch_part_t, watch);
    rn_parked_wake(&fp->f->parked);
}

static void watch_all(fetch_t *f, bool on)
{
    for (size_t i = 0; i < f->nparts; i++) {
        fetch_part_t *fp = &f->parts[i];
        if (fp->topic == NULL || fp->watching == on)
            continue;
        if (on) {
            fp->watch.wake = on_append;
            rn_partition_watch(fp->part, &fp->watch);
        } else {
            rn_partition_unwatch(fp->part, &fp->watch);
        }
        fp->watching = on;
    }
}

static void drop_topics(fetch_t *f)
{
    for (size_t i = 0; i < f->nparts; i++) {
        if (f->parts[i].topic != NULL)
            rn_topic_unref(f->parts[i].topic);
        f->parts[i].topic = NULL;
    }
}

static void fetch_free(fetch_t *f)
{
    free(f->parts);
    free(f);
}

/* Sends the response (the slices become the records' file ranges) and lets go of everything. */
static void answer(fetch_t *f)
{
    watch_all(f, false);
    rn_request_t *req = f->req;
    f->req = NULL;
    rn_respond(req, &f->resp); /* the encoder took the file ranges */
    for (size_t i = 0; i < f->nparts; i++)
        memset(&f->parts[i].slice, 0, sizeof f->parts[i].slice);
    drop_topics(f);
}

static void on_parked_release(rn_parked_t *p)
{
    fetch_free(rn_container_of(p, fetch_t, parked));
}

static void on_retry(rn_parked_t *p, bool final)
{
    fetch_t *f = rn_container_of(p, fetch_t, parked);
    int64_t total = read_partitions(f);
    if (!final && !f->has_error && total < f->min_bytes) {
        release_slices(f);
        return;
    }
    answer(f);
    rn_unpark(p);
}

/* Resolves the request's topics and partitions into `f->parts` and the response skeleton. */
static bool resolve(fetch_t *f, const rn_fetch_request_t *body)
{
    rn_request_t *req = f->req;
    rn_topics_t *topics = req->broker->topics;
    int16_t v = req->api_version;
    size_t n = 0;
    for (int32_t t = 0; t < body->topics.count; t++)
        n += body->topics.items[t].partitions.count > 0
                 ? (size_t)body->topics.items[t].partitions.count
                 : 0;
    f->parts = calloc(n ? n : 1, sizeof *f->parts);
    rn_fetch_response_topic_t *rtopics =
        rn_arena_try_alloc_array(&req->arena, rn_fetch_response_topic_t,
                                 body->topics.count > 0 ? body->topics.count : 1);
    if (f->parts == NULL || rtopics == NULL)
        return false;
    f->resp.responses.items = rtopics;
    f->resp.responses.count = body->topics.count > 0 ? body->topics.count : 0;
    size_t k = 0;
    for (int32_t t = 0; t < f->resp.responses.count; t++) {
        const rn_fetch_request_topic_t *qt = &body->topics.items[t];
        rn_fetch_response_topic_t *rt = &rtopics[t];
        rn_fetch_response_topic_init(rt);
        rt->topic = qt->topic;
        rt->topic_id = qt->topic_id;
        int32_t np = qt->partitions.count > 0 ? qt->partitions.count : 0;
        rn_fetch_response_partition_t *rparts =
            rn_arena_try_alloc_array(&req->arena, rn_fetch_response_partition_t, np ? np : 1);
        if (rparts == NULL)
            return false;
        rt->partitions.items = rparts;
        rt->partitions.count = np;
        rn_topic_t *topic =
            v >= 13 ? rn_topics_get_by_id(topics, qt->topic_id) : rn_topics_get(topics, qt->topic);
        int16_t missing = v >= 13 ? RN_KERR_UNKNOWN_TOPIC_ID : RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        for (int32_t i = 0; i < np; i++) {
            const rn_fetch_request_partition_t *qp = &qt->partitions.items[i];
            fetch_part_t *fp = &f->parts[k++];
            rn_fetch_response_partition_init(&rparts[i]);
            rparts[i].partition_index = qp->partition;
            rparts[i].records = (rn_records_t){ .ptr = (const uint8_t *)"", .len = 0 };
            fp->f = f;
            fp->resp = &rparts[i];
            fp->offset = qp->fetch_offset;
            fp->max_bytes = qp->partition_max_bytes;
            rn_partition_t *part = topic != NULL ? rn_topic_partition(topic, qp->partition) : NULL;
            /* A partition in error answers -1 for its offsets, as Kafka does. */
            rparts[i].high_watermark = rparts[i].last_stable_offset = rparts[i].log_start_offset =
                -1;
            /* Aborted transactions are listed for read_committed only (none yet). Kafka 4.4
             * answers null to read_uncommitted and for a partition whose read failed, and an
             * empty list for an unknown topic or partition. */
            rparts[i].aborted_transactions.count = -1;
            if (v < 4) {
                rparts[i].error_code = RN_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
                f->has_error = true;
            } else if (part == NULL) {
                rparts[i].error_code = topic == NULL ? missing : RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                rparts[i].aborted_transactions.count = 0;
                f->has_error = true;
            } else if (v >= 9 && rn_leader_epoch_check(qp->current_leader_epoch) != RN_KERR_NONE) {
                rparts[i].error_code = rn_leader_epoch_check(qp->current_leader_epoch);
                f->has_error = true;
            } else {
                rn_topic_ref(topic);
                fp->topic = topic;
                fp->part = part;
                if (body->isolation_level == 1)
                    rparts[i].aborted_transactions.count = 0;
            }
        }
        if (topic != NULL)
            rn_topic_unref(topic);
    }
    f->nparts = k;
    return true;
}

void rn_handle_fetch(rn_request_t *req)
{
    rn_fetch_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    fetch_t *f = calloc(1, sizeof *f);
    if (f == NULL) {
        rn_reject(req, "out of memory");
        return;
    }
    f->req = req;
    rn_fetch_response_init(&f->resp);
    f->min_bytes = body.min_bytes;
    f->max_bytes = body.max_bytes;
    f->read_committed = body.isolation_level == 1;
    if (body.session_epoch > 0) {
        /* An incremental fetch in a session this broker never made (it makes none). */
        f->resp.error_code = RN_KERR_FETCH_SESSION_ID_NOT_FOUND;
        rn_respond(req, &f->resp);
        fetch_free(f);
        return;
    }
    if (!resolve(f, &body)) {
        drop_topics(f);
        fetch_free(f);
        rn_reject(req, "out of memory");
        return;
    }
    int64_t total = read_partitions(f);
    /* A fetch of no partitions answers at once, as Kafka does: the Java consumer sends one
     * (session epoch -1, max_wait_ms 500) to close its session, and would wait for nothing. */
    bool may_wait = body.max_wait_ms > 0 && f->nparts > 0 && !f->has_error &&
                    total < f->min_bytes && rn_can_park(req->loop_ctx);
    if (may_wait) {
        /* Park first (a wake-up needs a parked request to land on), then watch, then look
         * again: an append between the two looks is not missed. */
        release_slices(f);
        f->parked.retry = on_retry;
        f->parked.release = on_parked_release;
        rn_park(req->loop_ctx, &f->parked, (uint64_t)body.max_wait_ms);
        watch_all(f, true);
        total = read_partitions(f);
        if (f->has_error || total >= f->min_bytes) {
            answer(f);
            rn_unpark(&f->parked); /* frees f once its timer has closed */
        } else {
            release_slices(f);
        }
        return;
    }
    answer(f);
    fetch_free(f);
}
