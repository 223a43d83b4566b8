/* SPDX-License-Identifier: Apache-2.0 */
/* Produce (key 0), v3-v10: record batches validated in full (records room), then appended as
 * received with offsets assigned in place (log room); compressed batches are never
 * recompressed. A batch that fails validation writes nothing.
 *
 * The checks come in Kafka's order, and give Kafka 4.4's answers (asked with the same bytes):
 * first the whole request (a first batch whose header cannot be a batch fails every partition
 * with CORRUPT_MESSAGE and Kafka's message; transactional batches without a transactional id
 * fail every partition with TRANSACTIONAL_ID_AUTHORIZATION_FAILED), then each partition as
 * the request frames it (rn_records_frame: exactly one whole magic 2 batch, a fragment after it
 * ignored), then acks, then what the log checks. A partition named twice is answered once, and
 * the last copy is the one written, as Kafka reads the request into a map.
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

#include "config/config.h"
#include "coord/coord.h"
#include "coord/txn.h"
#include "handlers/admin.h"
#include "handlers/handlers.h"
#include "handlers/park.h"
#include "records/records.h"
#include "topics/topics.h"
#include "util/clock.h"
#include "util/endian.h"
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
    bool any_error; /* some partition failed: an acks=0 request closes the connection */
} produce_t;

/* Produce v8+'s record_errors and error_message for a batch refused with INVALID_TIMESTAMP:
 * one entry per record out of bounds, in Kafka's words. False when out of memory. */
static bool timestamp_errors(rn_request_t *req, const uint8_t *bytes, size_t len, size_t bound,
                             const rn_timestamp_bounds_t *bounds, int64_t count,
                             rn_produce_response_partition_t *out)
{
    out->error_message = rn_str_from_cstr(RN_RECORDS_INVALID_TIMESTAMP_MESSAGE);
    if (count <= 0 || count > INT32_MAX)
        return count == 0;
    rn_timestamp_error_t *errs =
        rn_arena_try_alloc_array(&req->arena, rn_timestamp_error_t, (int32_t)count);
    rn_produce_response_record_error_t *items =
        rn_arena_try_alloc_array(&req->arena, rn_produce_response_record_error_t, (int32_t)count);
    if (errs == NULL || items == NULL)
        return false;
    size_t n = rn_records_timestamp_errors(bytes, len, bound, bounds, errs, (size_t)count);
    for (size_t i = 0; i < n; i++) {
        char text[200];
        int w = rn_timestamp_error_format(&errs[i], bounds, text, sizeof text);
        if (w < 0)
            return false;
        rn_produce_response_record_error_init(&items[i]);
        items[i].batch_index = errs[i].batch_index;
        items[i].batch_index_error_message = rn_admin_message(req, "%s", text);
    }
    out->record_errors.items = items;
    out->record_errors.count = (int32_t)n;
    return true;
}

/* Kafka's LogValidator on a compacted topic: every record needs a key. Counts the keyless
 * records of the (validated) batch and, for Produce v8+, lists them in record_errors with
 * Kafka 4.4's words. Returns how many there are, or -1 when out of memory. */
static int64_t keyless_records(rn_request_t *req, const rn_topic_t *topic, int32_t partition,
                               const uint8_t *bytes, size_t len, size_t bound,
                               rn_produce_response_partition_t *out)
{
    rn_record_iter_t it;
    rn_record_iter_init(&it, bound);
    int64_t n = 0;
    rn_record_t rec;
    int32_t index = 0, first[3];
    if (rn_record_iter_start(&it, bytes, len) == 0)
        for (; rn_record_iter_next(&it, &rec) == 1; index++)
            if (rec.key.ptr == NULL && n++ < 3)
                first[n - 1] = index;
    if (n == 0 || n > INT32_MAX) {
        rn_record_iter_deinit(&it);
        return n;
    }
    rn_produce_response_record_error_t *items =
        rn_arena_try_alloc_array(&req->arena, rn_produce_response_record_error_t, (int32_t)n);
    if (items == NULL) {
        rn_record_iter_deinit(&it);
        return -1;
    }
    rn_str_t text = rn_admin_message(req,
                                     "Compacted topic cannot accept message without key in topic "
                                     "partition %s-%d",
                                     topic->name, partition);
    int32_t k = 0;
    index = 0;
    if (rn_record_iter_start(&it, bytes, len) == 0)
        for (; rn_record_iter_next(&it, &rec) == 1 && k < (int32_t)n; index++)
            if (rec.key.ptr == NULL) {
                rn_produce_response_record_error_init(&items[k]);
                items[k].batch_index = index;
                items[k++].batch_index_error_message = text;
            }
    rn_record_iter_deinit(&it);
    out->record_errors.items = items;
    out->record_errors.count = k;
    char shown[3][400];
    for (int i = 0; i < 3 && i < n; i++)
        snprintf(shown[i], sizeof shown[i], "RecordError(batchIndex=%d, message='%.*s')", first[i],
                 (int)text.len, text.ptr);
    out->error_message =
        rn_admin_message(req,
                         "One or more records have been rejected due to %lld record errors in "
                         "total, and only "
                         "showing the first three errors at most: [%s%s%s%s%s]",
                         (long long)n, shown[0], n > 1 ? ", " : "", n > 1 ? shown[1] : "",
                         n > 2 ? ", " : "", n > 2 ? shown[2] : "");
    return n;
}

/* Appends one partition's records: `len` bytes, one whole magic 2 batch (framed by the
 * caller). Returns a Kafka error code; sets *sync_needed. */
static rn_kerr_t append_partition(rn_request_t *req, rn_topic_t *topic, rn_partition_t *part,
                                  uint8_t *bytes, size_t len, rn_produce_response_partition_t *out,
                                  bool *sync_needed)
{
    rn_topic_config_t cfg;
    rn_topic_get_config(req->broker->topics, topic, &cfg);
    /* The frame is the request's own memory until it finishes: offsets and LogAppendTime are
     * written into it in place, then the same bytes go to the log. */
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
    /* KIP-937: a CreateTime topic refuses records too far from the broker's clock. */
    rn_timestamp_bounds_t bounds = { .now_ms = rn_clock_wall_ms(),
                                     .before_max_ms = cfg.timestamp_before_max_ms,
                                     .after_max_ms = cfg.timestamp_after_max_ms };
    rn_kerr_t err =
        rn_records_validate_at(bytes, len, bound, cfg.log_append_time ? NULL : &bounds, &sum, &why);
    if ((err == RN_KERR_NONE || err == RN_KERR_INVALID_TIMESTAMP) && cfg.log.compact &&
        sum.keyless > 0) {
        /* Kafka refuses the whole batch, before its timestamps are looked at; only then are
         * the records walked again, to list the keyless ones. */
        if (keyless_records(req, topic, part->index, bytes, len, bound, out) < 0)
            return RN_KERR_UNKNOWN_SERVER_ERROR;
        return RN_KERR_INVALID_RECORD;
    }
    if (err == RN_KERR_INVALID_TIMESTAMP &&
        !timestamp_errors(req, bytes, len, bound, &bounds, sum.timestamp_errors, out))
        return RN_KERR_UNKNOWN_SERVER_ERROR;
    if (err != RN_KERR_NONE) {
        rn_log(RN_LOG_DEBUG, "produce", "%s: %s-%d: rejected batch (%s): %s", req->peer,
               topic->name, part->index, rn_kerr_name(err), why ? why : "");
        return err;
    }
    /* Kafka's LogValidator: clients may not write control batches, and a producer's batch
     * needs a sequence. */
    if ((h.attributes & RN_BATCH_ATTR_CONTROL) != 0)
        return RN_KERR_INVALID_RECORD;
    if (h.producer_id >= 0 && h.base_sequence < 0)
        return RN_KERR_INVALID_RECORD;
    int64_t append_time = -1;
    if (cfg.log_append_time) {
        append_time = rn_clock_wall_ms();
        rn_records_set_log_append_time(bytes, len, append_time);
        sum.max_timestamp = append_time;
    }
    rn_log_appended_t a;
    int rc = rn_log_append_batch(part->log, bytes, len, &sum, &a);
    if (rc > 0) /* the producer state refused it (log.h): Kafka's code, whatever the version */
        return (rn_kerr_t)rc;
    if (rc < 0) {
        rn_log(RN_LOG_ERROR, "produce", "%s-%d: append failed: %s", topic->name, part->index,
               strerror(-rc));
        return RN_KERR_KAFKA_STORAGE_ERROR;
    }
    out->base_offset = a.base_offset;
    if (a.duplicate) {
        /* A retry of a batch already written: Kafka 4.4 answers with the original's offset and
         * its stored max timestamp as log_append_time_ms, on either timestamp type. */
        out->log_append_time_ms = a.duplicate_timestamp;
        return RN_KERR_NONE;
    }
    *sync_needed = a.sync_needed;
    rn_partition_notify(part);
    out->log_append_time_ms = append_time;
    return RN_KERR_NONE;
}

/* ProduceRequest.validateRecords, per partition, on the framing of its bytes: exactly one
 * whole batch, of magic 2, zstd from v7 (KIP-110). */
static rn_kerr_t check_framing(int16_t version, const rn_records_framing_t *f)
{
    if (f->nbatches == 0 && f->error == RN_FRAME_OK)
        return RN_KERR_INVALID_RECORD;
    if (f->nbatches > 0 && f->first_magic != 2)
        return RN_KERR_INVALID_RECORD;
    if (f->nbatches > 0 && (f->first_attributes & RN_BATCH_ATTR_CODEC_MASK) == RN_CODEC_ZSTD &&
        version < 7)
        return RN_KERR_UNSUPPORTED_COMPRESSION_TYPE;
    if (f->error != RN_FRAME_OK) /* a second batch whose header is corrupt */
        return RN_KERR_CORRUPT_MESSAGE;
    if (f->nbatches > 1)
        return RN_KERR_INVALID_RECORD;
    return RN_KERR_NONE;
}

/* Errors for which Kafka answers -1 as the log start offset: those found before the log is
 * reached, and those of its own list (too large, corrupt, storage). Other errors of the log's
 * checks carry the partition's log start. */
static bool answers_log_start(rn_kerr_t err)
{
    return err != RN_KERR_MESSAGE_TOO_LARGE && err != RN_KERR_CORRUPT_MESSAGE &&
           err != RN_KERR_KAFKA_STORAGE_ERROR;
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

/* One partition of the answer, and the copy of it in the request that is written: the last. */
typedef struct slot {
    rn_str_t topic;
    rn_produce_request_partition_t *qp;
    rn_produce_response_partition_t *rp;
} slot_t;

/* Lays the answer out as Kafka's map of partitions makes it: one topic per name and one
 * partition per (name, index), in the order they first appear, topics without partitions
 * left out. Fills `slots` (one per answered partition) and returns their number, or -1 when
 * the arena ran out. */
static int32_t lay_out(rn_request_t *req, const rn_produce_request_t *body,
                       rn_produce_response_t *resp, slot_t **slots_out)
{
    rn_arena_t *arena = &req->arena;
    int32_t nt = body->topic_data.count > 0 ? body->topic_data.count : 0;
    int32_t n = 0;
    for (int32_t t = 0; t < nt; t++)
        n += body->topic_data.items[t].partition_data.count > 0
                 ? body->topic_data.items[t].partition_data.count
                 : 0;
    rn_str_t *names = rn_arena_try_alloc_array(arena, rn_str_t, nt ? nt : 1);
    int32_t *topic_first = rn_arena_try_alloc_array(arena, int32_t, nt ? nt : 1);
    int32_t *answer_of = rn_arena_try_alloc_array(arena, int32_t, nt ? nt : 1);
    rn_str_t *keys = rn_arena_try_alloc_array(arena, rn_str_t, n ? n : 1);
    int32_t *topic_at = rn_arena_try_alloc_array(arena, int32_t, n ? n : 1);
    int32_t *first = rn_arena_try_alloc_array(arena, int32_t, n ? n : 1);
    int32_t *last = rn_arena_try_alloc_array(arena, int32_t, n ? n : 1);
    rn_produce_request_partition_t **entry =
        rn_arena_try_alloc_array(arena, rn_produce_request_partition_t *, n ? n : 1);
    if (names == NULL || topic_first == NULL || answer_of == NULL || keys == NULL ||
        topic_at == NULL || first == NULL || last == NULL || entry == NULL)
        return -1;
    int32_t k = 0;
    for (int32_t t = 0; t < nt; t++) {
        rn_produce_request_topic_t *qt = &body->topic_data.items[t];
        names[t] = qt->name;
        answer_of[t] = -1;
        for (int32_t i = 0; i < qt->partition_data.count; i++, k++) {
            /* The key: the topic's bytes, then the partition's 4. */
            uint8_t *key = rn_arena_try_alloc(arena, qt->name.len + 4);
            if (key == NULL)
                return -1;
            if (qt->name.len > 0)
                memcpy(key, qt->name.ptr, qt->name.len);
            rn_store_be32(key + qt->name.len, (uint32_t)qt->partition_data.items[i].index);
            keys[k] = (rn_str_t){ (const char *)key, qt->name.len + 4 };
            topic_at[k] = t;
            entry[k] = &qt->partition_data.items[i];
        }
    }
    if (!rn_admin_group_keys(arena, names, nt, topic_first, NULL) ||
        !rn_admin_group_keys(arena, keys, n, first, last))
        return -1;
    /* Number the answered topics, and count each one's partitions. */
    int32_t ntopics = 0, nslots = 0;
    int32_t *count = rn_arena_try_alloc_array(arena, int32_t, nt ? nt : 1);
    if (count == NULL)
        return -1;
    for (k = 0; k < n; k++) {
        if (first[k] != k)
            continue;
        int32_t g = topic_first[topic_at[k]];
        if (answer_of[g] < 0) {
            count[ntopics] = 0;
            answer_of[g] = ntopics++;
        }
        count[answer_of[g]]++;
        nslots++;
    }
    rn_produce_response_topic_t *rtopics =
        rn_arena_try_alloc_array(arena, rn_produce_response_topic_t, ntopics ? ntopics : 1);
    slot_t *slots = rn_arena_try_alloc_array(arena, slot_t, nslots ? nslots : 1);
    if (rtopics == NULL || slots == NULL)
        return -1;
    for (int32_t t = 0; t < nt; t++) {
        if (answer_of[t] < 0)
            continue;
        rn_produce_response_topic_t *rt = &rtopics[answer_of[t]];
        rn_produce_response_topic_init(rt);
        rt->name = names[t];
        rt->partition_responses.items =
            rn_arena_try_alloc_array(arena, rn_produce_response_partition_t, count[answer_of[t]]);
        if (rt->partition_responses.items == NULL)
            return -1;
    }
    int32_t s = 0;
    for (k = 0; k < n; k++) {
        if (first[k] != k)
            continue;
        rn_produce_response_topic_t *rt = &rtopics[answer_of[topic_first[topic_at[k]]]];
        rn_produce_response_partition_t *rp =
            &rt->partition_responses.items[rt->partition_responses.count++];
        rn_produce_response_partition_init(rp);
        rp->index = entry[k]->index;
        rp->base_offset = -1;
        slots[s++] = (slot_t){ .topic = rt->name, .qp = entry[last[k]], .rp = rp };
    }
    resp->responses.items = rtopics;
    resp->responses.count = ntopics;
    *slots_out = slots;
    return nslots;
}

/* What fails the whole request, in Kafka's order: the first batch of some partition whose
 * header cannot be a batch (CORRUPT_MESSAGE, with Kafka's message), then transactional batches
 * without a transactional id. RN_KERR_NONE when neither; *has_txn says whether any first batch
 * is transactional. */
static rn_kerr_t check_request(rn_request_t *req, const rn_produce_request_t *body,
                               rn_str_t *message, bool *has_txn)
{
    *has_txn = false;
    for (int32_t t = 0; t < body->topic_data.count; t++) {
        const rn_produce_request_topic_t *qt = &body->topic_data.items[t];
        for (int32_t i = 0; i < qt->partition_data.count; i++) {
            const rn_records_t *rec = &qt->partition_data.items[i].records;
            if (rn_records_is_null(rec))
                continue;
            rn_records_framing_t f = rn_records_frame(rec->ptr, rec->len);
            if (f.nbatches == 0 && f.error != RN_FRAME_OK) {
                char text[128];
                *message =
                    rn_admin_message(req, "%s", rn_records_frame_message(&f, text, sizeof text));
                return RN_KERR_CORRUPT_MESSAGE;
            }
            if (f.nbatches > 0 && f.first_magic == 2 &&
                (f.first_attributes & RN_BATCH_ATTR_TRANSACTIONAL) != 0)
                *has_txn = true;
        }
    }
    if (*has_txn && body->transactional_id.ptr == NULL)
        return RN_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    return RN_KERR_NONE;
}

/* __consumer_offsets and __transaction_state are written by the broker's coordinators only
 * (through the log, never through this handler): a client's batch there could forge or corrupt
 * every group's committed offsets. Kafka 4.4 refuses it too (ReplicaManager.appendToLocalLog,
 * after the checks above), except from client id __admin_client, which its old admin tools used.
 * Any client can pick that id, so Runnel lets it through only when
 * runnel.internal.topics.allow.destructive.changes asks for Kafka's behaviour. */
static bool internal_writes_allowed(const rn_request_t *req)
{
    return req->broker->config->internal_topics_allow_destructive_changes &&
           rn_str_eq_cstr(req->client_id, "__admin_client");
}

/* Kafka's per-partition checks before the log's, in its order. */
static rn_kerr_t check_partition(const rn_request_t *req, const rn_produce_request_t *body,
                                 const rn_partition_t *part, const rn_records_framing_t *f)
{
    if (part == NULL)
        return RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (req->api_version < 3)
        return RN_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
    rn_kerr_t err = check_framing(req->api_version, f);
    if (err != RN_KERR_NONE)
        return err;
    if (body->acks != 0 && body->acks != 1 && body->acks != -1)
        return RN_KERR_INVALID_REQUIRED_ACKS;
    if (part->topic->internal && !internal_writes_allowed(req))
        return RN_KERR_INVALID_TOPIC_EXCEPTION; /* Kafka 4.4 gives no message */
    return RN_KERR_NONE;
}

/* Kafka's words for a transactional batch whose partition is not in its transaction. */
#define NOT_ADDED_MESSAGE "Partition was not added to the transaction"

/* transaction.partition.verification.enable (KIP-890 part 1): a transactional batch is written
 * only into a partition its transaction holds, which the coordinator knows (coord/txn.h). The
 * coordinator's verdicts are answered as Kafka 4.4 answers them at Produce v3-v10 (asked):
 * another producer id or an unknown transactional id INVALID_PRODUCER_ID_MAPPING, another epoch
 * INVALID_PRODUCER_EPOCH, a partition not added INVALID_TXN_STATE with Kafka's message, and a
 * transaction being completed NOT_ENOUGH_REPLICAS, which every client retries without looking
 * the leader up again. A transactional batch without a producer id is written, as Kafka writes
 * it. Like Kafka, it skips the question while the producer's transaction is already open in
 * the partition's log at that epoch (the coordinator said yes to its first batch). */
static rn_kerr_t verify_txn(const rn_request_t *req, const rn_produce_request_t *body, bool has_txn,
                            rn_str_t topic, const rn_partition_t *part, const rn_records_t *rec,
                            const rn_records_framing_t *f, rn_str_t *message)
{
    if (!has_txn || (f->first_attributes & RN_BATCH_ATTR_TRANSACTIONAL) == 0 ||
        f->first_producer_id < 0)
        return RN_KERR_NONE;
    rn_coord_t *coord = req->broker->coord;
    if (coord == NULL)
        return RN_KERR_INVALID_PRODUCER_ID_MAPPING; /* no coordinator knows the id */
    if (!req->broker->config->transaction_partition_verification_enable)
        return RN_KERR_NONE;
    rn_batch_header_t h;
    if (rn_batch_parse_header(rec->ptr, f->len, &h) != RN_DECODE_OK)
        return RN_KERR_NONE; /* framing saw a whole batch; validation will say what is wrong */
    if (rn_log_txn_open(part->log, h.producer_id, h.producer_epoch))
        return RN_KERR_NONE;
    rn_kerr_t err = rn_txn_verify(rn_coord_txn(coord), body->transactional_id, h.producer_id,
                                  h.producer_epoch, topic, part->index);
    switch (err) {
    case RN_KERR_PRODUCER_FENCED:
        return RN_KERR_INVALID_PRODUCER_EPOCH;
    case RN_KERR_CONCURRENT_TRANSACTIONS:
        return RN_KERR_NOT_ENOUGH_REPLICAS;
    case RN_KERR_TRANSACTION_ABORTABLE:
        /* Produce v11 brought TRANSACTION_ABORTABLE (KIP-890); before it, this. */
        *message = rn_str_from_cstr(NOT_ADDED_MESSAGE);
        return RN_KERR_INVALID_TXN_STATE;
    default:
        return err;
    }
}

/* One partition's answer: the checks, then the append. */
static void produce_partition(rn_request_t *req, produce_t *p, const rn_produce_request_t *body,
                              bool has_txn, slot_t *sl)
{
    rn_produce_response_partition_t *rp = sl->rp;
    rn_topic_t *topic = rn_topics_get(req->broker->topics, sl->topic);
    rn_partition_t *part = topic != NULL ? rn_topic_partition(topic, sl->qp->index) : NULL;
    rn_records_t *rec = &sl->qp->records;
    rn_records_framing_t f = { .first_magic = -1, .first_producer_id = -1 };
    if (!rn_records_is_null(rec))
        f = rn_records_frame(rec->ptr, rec->len);
    bool sync_needed = false;
    rn_str_t message = { NULL, 0 };
    rp->error_code = check_partition(req, body, part, &f);
    if (rp->error_code == RN_KERR_NONE)
        rp->error_code = verify_txn(req, body, has_txn, sl->topic, part, rec, &f, &message);
    if (req->api_version >= 8 && message.ptr != NULL)
        rp->error_message = message;
    if (rp->error_code == RN_KERR_NONE) {
        /* Only the whole batch is written: a fragment after it is dropped, as Kafka does. */
        rp->error_code =
            append_partition(req, topic, part, (uint8_t *)rec->ptr, f.len, rp, &sync_needed);
        if (answers_log_start(rp->error_code))
            rp->log_start_offset = rn_log_start_offset(part->log);
    }
    if (rp->error_code != RN_KERR_NONE)
        p->any_error = true;
    else if (sync_needed && !remember_sync(p, topic, part->log))
        rp->error_code = RN_KERR_KAFKA_STORAGE_ERROR;
    if (topic != NULL)
        rn_topic_unref(topic);
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
    slot_t *slots = NULL;
    int32_t nslots = lay_out(req, &body, &p->resp, &slots);
    if (nslots < 0)
        goto oom;
    rn_str_t message = { NULL, 0 };
    bool has_txn = false;
    rn_kerr_t whole = check_request(req, &body, &message, &has_txn);
    for (int32_t i = 0; i < nslots; i++) {
        if (whole == RN_KERR_NONE) {
            produce_partition(req, p, &body, has_txn, &slots[i]);
            continue;
        }
        slots[i].rp->error_code = whole;
        if (req->api_version >= 8)
            slots[i].rp->error_message = message;
        p->any_error = true;
    }

    if (body.acks == 0) {
        /* No response for acks=0; an error can only be told by closing the connection. The
         * flush policy still holds (Kafka flushes inside the append, whatever the acks): the
         * sync runs on its own, and nobody waits for it. */
        rn_executor_t *executor = req->executor; /* finishing frees the request */
        p->req = NULL;
        if (p->any_error)
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
