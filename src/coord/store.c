/* SPDX-License-Identifier: Apache-2.0 */
/* An internal topic as a journal (__consumer_offsets, __transaction_state): each append is one
 * uncompressed batch built here and written through the partition's log like a Produce; loading
 * reads each partition from its log start in large chunks (rn_log_read finds whole batches, pread
 * copies them) and walks the records. Loading is the start-up cost Kafka pays too: everything the
 * cleaner has not compacted yet (at least the active segment) is read back, so the loop avoids
 * per-record allocation and system calls. The topics are compacted: tombstones and gaps in the
 * offsets are what a cleaned partition looks like. */
#include "coord/store.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "records/records.h"
#include "topics/topics.h"
#include "util/err.h"
#include "util/logging.h"
#include "util/xmalloc.h"

/* Bytes asked of rn_log_read per call at start-up: large enough that the calls cost nothing
 * next to the parsing, small enough not to matter in memory. */
#define LOAD_CHUNK (8u << 20)
/* Bound for inflating a compressed batch (we write none; a Kafka-written topic might). */
#define LOAD_MAX_UNCOMPRESSED (64u << 20)

/* The broker keys of each internal topic (Kafka's names). */
typedef struct internal_topic {
    const char *name;
    const char *partitions_key;
    bool txn; /* __transaction_state */
} internal_topic_t;

static const internal_topic_t internal_topics[] = {
    { RN_STORE_TOPIC, "offsets.topic.num.partitions", false },
    { RN_STORE_TXN_TOPIC, "transaction.state.log.num.partitions", true },
};

/* The topic configs an internal topic is created with, as texts. */
#define MAX_CREATE_CONFIGS 5
typedef struct create_configs {
    rn_topic_override_t ov[MAX_CREATE_CONFIGS];
    size_t n;
    char segment_bytes[16], min_isr[16];
} create_configs_t;

struct rn_store {
    rn_topics_t *topics;
    const char *name;        /* static storage */
    create_configs_t create; /* fixed at open from the broker configuration */
    /* Counted reference, dropped at close; NULL until the topic exists. Kafka creates the topic
     * on the first FindCoordinator, not at start-up: an empty broker starts without 50
     * partitions to create. Set once under create_lock, read with acquire. */
    _Atomic(rn_topic_t *) topic;
    pthread_mutex_t create_lock;
    int32_t npartitions; /* fixed at open: an id's partition must never move */
};

static rn_topic_t *store_topic(const rn_store_t *store)
{
    return atomic_load_explicit(&((rn_store_t *)store)->topic, memory_order_acquire);
}

bool rn_store_ready(const rn_store_t *store)
{
    return store_topic(store) != NULL;
}

int rn_store_ensure(rn_store_t *store)
{
    if (store_topic(store) != NULL)
        return 0;
    pthread_mutex_lock(&store->create_lock);
    int rc = 0;
    rn_str_t name = rn_str_from_cstr(store->name);
    rn_topic_t *topic = store_topic(store);
    if (topic == NULL && (topic = rn_topics_get(store->topics, name)) == NULL) {
        /* Replication is 1 on one node whatever offsets.topic.replication.factor
         * (transaction.state.log.replication.factor) says. */
        rn_topic_spec_t spec = {
            .name = name,
            .num_partitions = store->npartitions,
            .replication_factor = 1,
            .configs = store->create.ov,
            .nconfigs = store->create.n,
            .internal = true,
        };
        rn_topics_result_t res = rn_topics_create(store->topics, &spec, false, &topic);
        if (res.error_code != 0) {
            rn_log(RN_LOG_ERROR, "coord", "cannot create %s: %s: %s", store->name,
                   rn_kerr_name(res.error_code), res.message);
            rc = res.error_code == RN_KERR_KAFKA_STORAGE_ERROR ? -EIO
                                                               : RN_EINVAL; /* a disk failure */
            topic = NULL;
        }
    }
    if (topic != NULL && store_topic(store) == NULL)
        atomic_store_explicit(&store->topic, topic, memory_order_release);
    pthread_mutex_unlock(&store->create_lock);
    return rc;
}

/* `key` and `value` live as long as the store (literals, or buffers of `c`). */
static void add_config(create_configs_t *c, char *key, char *value)
{
    assert(c->n < MAX_CREATE_CONFIGS);
    c->ov[c->n++] = (rn_topic_override_t){ .key = key, .value = value };
}

/* The configs Kafka 4.4 creates each internal topic with (its group coordinator's
 * groupMetadataTopicConfigs, its transaction coordinator's topic configs): both compacted, with
 * the segment size of the broker key for that topic; __consumer_offsets keeps the producer's
 * compression, __transaction_state is uncompressed, with transaction.state.log.min.isr as its
 * min.insync.replicas and unclean leader election off. */
static void create_configs(const rn_config_t *cfg, bool txn, create_configs_t *c)
{
    *c = (create_configs_t){ 0 };
    int32_t segment_bytes =
        txn ? cfg->transaction_state_log_segment_bytes : cfg->offsets_topic_segment_bytes;
    snprintf(c->segment_bytes, sizeof c->segment_bytes, "%" PRId32, segment_bytes);
    add_config(c, "cleanup.policy", "compact");
    add_config(c, "compression.type", txn ? "uncompressed" : "producer");
    add_config(c, "segment.bytes", c->segment_bytes);
    if (txn) {
        /* Checked at start-up: an integer of 1 or more. */
        const char *min_isr = rn_config_value(cfg, "transaction.state.log.min.isr");
        snprintf(c->min_isr, sizeof c->min_isr, "%s", min_isr != NULL ? min_isr : "1");
        add_config(c, "min.insync.replicas", c->min_isr);
        add_config(c, "unclean.leader.election.enable", "false");
    }
}

int rn_store_open_topic(const rn_config_t *cfg, const char *name, rn_topics_t *topics,
                        rn_store_t **out)
{
    const internal_topic_t *it = NULL;
    for (size_t i = 0; i < sizeof internal_topics / sizeof internal_topics[0]; i++)
        if (strcmp(internal_topics[i].name, name) == 0)
            it = &internal_topics[i];
    assert(it != NULL);
    const char *partitions_key = it->partitions_key;
    int32_t npartitions =
        it->txn ? cfg->transaction_state_log_num_partitions : cfg->offsets_topic_num_partitions;
    rn_store_t *store = rn_xcalloc(1, sizeof *store);
    store->topics = topics;
    store->name = it->name;
    store->npartitions = npartitions;
    create_configs(cfg, it->txn, &store->create); /* in place: values point into it */
    pthread_mutex_init(&store->create_lock, NULL);
    rn_topic_t *topic = rn_topics_get(topics, rn_str_from_cstr(name));
    if (topic != NULL) {
        int32_t n = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
        if (n != npartitions)
            rn_log(RN_LOG_WARN, "coord",
                   "%s has %" PRId32 " partitions; %s=%" PRId32
                   " applies only when the topic is created",
                   name, n, partitions_key, npartitions);
        store->npartitions = n;
        atomic_store_explicit(&store->topic, topic, memory_order_release);
    }
    *out = store;
    return 0;
}

int rn_store_open(const rn_config_t *cfg, rn_topics_t *topics, rn_store_t **out)
{
    return rn_store_open_topic(cfg, RN_STORE_TOPIC, topics, out);
}

rn_partition_t *rn_store_partition(const rn_store_t *store, int32_t index)
{
    rn_topic_t *topic = store_topic(store);
    return topic != NULL ? rn_topic_partition(topic, index) : NULL;
}

const char *rn_store_name(const rn_store_t *store)
{
    return store->name;
}

void rn_store_close(rn_store_t *store)
{
    if (store == NULL)
        return;
    rn_topic_t *topic = store_topic(store);
    if (topic != NULL)
        rn_topic_unref(topic);
    pthread_mutex_destroy(&store->create_lock);
    free(store);
}

int32_t rn_store_partitions(const rn_store_t *store)
{
    return store->npartitions;
}

/* One code point from UTF-8 as Java's decoder reads it: a malformed sequence (the longest
 * prefix of a valid one, or a single bad byte) becomes U+FFFD. Returns the bytes used. */
static size_t utf8_next(const uint8_t *p, size_t left, uint32_t *cp)
{
    uint8_t b0 = p[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    size_t need;
    uint32_t v;
    uint8_t lo = 0x80, hi = 0xBF; /* the range of the second byte */
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
        v = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        v = b0 & 0x0F;
        if (b0 == 0xE0)
            lo = 0xA0; /* overlong */
        else if (b0 == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        v = b0 & 0x07;
        if (b0 == 0xF0)
            lo = 0x90; /* overlong */
        else if (b0 == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    size_t i = 1;
    for (; i <= need; i++) {
        if (i >= left || p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xBF)) {
            *cp = 0xFFFD;
            return i;
        }
        v = v << 6 | (p[i] & 0x3F);
    }
    *cp = v;
    return i;
}

int32_t rn_store_java_hash(rn_str_t s)
{
    /* h = 31*h + c over UTF-16 code units, in 32-bit two's complement (unsigned: no UB). */
    uint32_t h = 0;
    const uint8_t *p = (const uint8_t *)s.ptr;
    for (size_t pos = 0; pos < s.len;) {
        uint32_t cp;
        pos += utf8_next(p + pos, s.len - pos, &cp);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xD800 + (cp >> 10));
            h = 31 * h + (0xDC00 + (cp & 0x3FF));
        } else {
            h = 31 * h + cp;
        }
    }
    return (int32_t)h;
}

int32_t rn_store_partition_for(const rn_store_t *store, rn_str_t group_id)
{
    /* Kafka's Utils.abs: Math.abs, except that Integer.MIN_VALUE (whose Math.abs is itself)
     * maps to 0. Not the `& 0x7fffffff` of Utils.toPositive: that differs for every negative. */
    int32_t h = rn_store_java_hash(group_id);
    int32_t a = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
    return a % store->npartitions;
}

int rn_store_append(rn_store_t *store, rn_str_t group_id, rn_bytes_t key, rn_bytes_t value,
                    int64_t now_ms)
{
    rn_store_record_t rec = { .key = key, .value = value };
    return rn_store_append_many(store, group_id, &rec, 1, now_ms);
}

/* Builds one batch of `records` (a producer's when producer_id >= 0) and appends it to the
 * partition of `id`. */
static int append_batch(rn_store_t *store, rn_str_t id, const rn_store_record_t *records, size_t n,
                        int64_t now_ms, int64_t producer_id, int16_t producer_epoch)
{
    if (n == 0)
        return 0;
    int rc = rn_store_ensure(store);
    if (rc != 0)
        return rc;
    rn_partition_t *part =
        rn_topic_partition(store_topic(store), rn_store_partition_for(store, id));
    if (part == NULL)
        return RN_EINVAL; /* cannot happen: partitions only grow */
    rn_batch_builder_t b;
    rn_batch_builder_init(&b);
    if (producer_id >= 0)
        rn_batch_builder_set_producer(&b, producer_id, producer_epoch, -1,
                                      RN_BATCH_ATTR_TRANSACTIONAL);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = rn_batch_builder_add(&b, now_ms, records[i].key, records[i].value);
    uint8_t *batch = NULL;
    size_t len = 0;
    rn_records_summary_t sum;
    if (rc == 0)
        rc = rn_batch_builder_finish(&b, &batch, &len, &sum);
    rn_batch_builder_deinit(&b);
    if (rc != 0)
        return rc;
    int64_t base = 0;
    bool sync_needed = false;
    rc = rn_log_append(part->log, batch, len, &sum, &base, &sync_needed);
    free(batch);
    if (rc == 0 && sync_needed)
        rc = rn_log_sync(part->log);
    if (rc == 0)
        rn_partition_notify(part); /* anyone fetching the topic */
    return rc;
}

int rn_store_append_many(rn_store_t *store, rn_str_t group_id, const rn_store_record_t *records,
                         size_t n, int64_t now_ms)
{
    return append_batch(store, group_id, records, n, now_ms, -1, -1);
}

int rn_store_append_txn(rn_store_t *store, rn_str_t group_id, const rn_store_record_t *records,
                        size_t n, int64_t now_ms, int64_t producer_id, int16_t producer_epoch)
{
    return append_batch(store, group_id, records, n, now_ms, producer_id, producer_epoch);
}

/* ---- loading ---- */

typedef struct loader {
    rn_store_t *store;
    rn_store_entry_fn fn;
    void *ctx;
    rn_store_stats_t stats;
    uint8_t *buf;
    size_t cap;
    rn_record_iter_t it;
} loader_t;

static int read_range(loader_t *ld, const rn_file_range_t *range)
{
    if (range->len > ld->cap) {
        size_t cap = range->len < LOAD_CHUNK ? LOAD_CHUNK : range->len;
        uint8_t *p = malloc(cap);
        if (p == NULL)
            return RN_ENOMEM;
        free(ld->buf);
        ld->buf = p;
        ld->cap = cap;
    }
    for (size_t done = 0; done < range->len;) {
        ssize_t got = pread(range->fd, ld->buf + done, range->len - done, range->pos + (off_t)done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return got < 0 ? -errno : -EIO; /* a segment cut short under us */
        done += (size_t)got;
    }
    return 0;
}

/* Walks the batches in ld->buf[0, len): calls fn for every record at or after *offset (a
 * control batch's too, with its marker type) and moves *offset past each batch. Returns false
 * at a batch that does not parse. */
static bool load_batches(loader_t *ld, int32_t partition, size_t len, int64_t *offset)
{
    const char *name = ld->store->name;
    for (size_t pos = 0; pos < len;) {
        if (rn_record_iter_start(&ld->it, ld->buf + pos, len - pos) != 0) {
            rn_log(RN_LOG_ERROR, "coord",
                   "%s-%" PRId32 " offset %" PRId64 ": %s; loading of this partition stops here",
                   name, partition, *offset, ld->it.err);
            return false;
        }
        const rn_batch_header_t *h = &ld->it.header;
        /* Unsigned: hostile header values wrap instead of overflowing. */
        int64_t next =
            (int64_t)((uint64_t)h->base_offset + (uint64_t)(int64_t)h->last_offset_delta + 1);
        if (next <= *offset) {
            rn_log(RN_LOG_ERROR, "coord",
                   "%s-%" PRId32 ": batch at offset %" PRId64 " goes backwards; loading stops",
                   name, partition, h->base_offset);
            return false;
        }
        ld->stats.batches++;
        bool control = (h->attributes & RN_BATCH_ATTR_CONTROL) != 0;
        rn_store_origin_t origin = {
            .producer_id = h->producer_id,
            .producer_epoch = h->producer_epoch,
            .transactional = (h->attributes & RN_BATCH_ATTR_TRANSACTIONAL) != 0,
            .marker = control ? rn_records_marker_type(ld->buf + pos, len - pos, NULL) : -1,
        };
        rn_record_t rec;
        int rc = 0;
        /* A control batch other than a marker (a leader change, say) means nothing here. */
        while ((!control || origin.marker >= 0) && (rc = rn_record_iter_next(&ld->it, &rec)) == 1) {
            if (rec.offset < *offset)
                continue; /* below the log start (DeleteRecords inside a batch) */
            if (!control)
                ld->stats.records++;
            origin.offset = rec.offset;
            ld->fn(ld->ctx, partition, &origin, rec.key, rec.value);
        }
        if (rc < 0) {
            rn_log(RN_LOG_ERROR, "coord",
                   "%s-%" PRId32 " batch at offset %" PRId64 ": %s; loading stops", name, partition,
                   h->base_offset, ld->it.err);
            return false;
        }
        pos += rn_batch_size(h);
        *offset = next;
    }
    return true;
}

static int load_partition(loader_t *ld, int32_t index)
{
    rn_partition_t *part = rn_topic_partition(store_topic(ld->store), index);
    if (part == NULL)
        return 0;
    int64_t offset = rn_log_start_offset(part->log);
    for (;;) {
        rn_log_slice_t slice;
        int rc = rn_log_read(part->log, offset, LOAD_CHUNK, &slice);
        if (rc == RN_LOG_OFFSET_OUT_OF_RANGE) {
            if (offset >= slice.log_start_offset)
                return 0;                    /* past the end */
            offset = slice.log_start_offset; /* retention moved the start */
            continue;
        }
        if (rc < 0)
            return rc;
        if (slice.range.len == 0)
            return 0;
        rc = read_range(ld, &slice.range);
        if (slice.range.release != NULL)
            slice.range.release(slice.range.owner);
        if (rc != 0)
            return rc;
        ld->stats.bytes += (int64_t)slice.range.len;
        if (!load_batches(ld, index, slice.range.len, &offset)) {
            ld->stats.bad_partitions++;
            return 0;
        }
    }
}

int rn_store_load_entries(rn_store_t *store, rn_store_entry_fn fn, void *ctx,
                          rn_store_stats_t *stats)
{
    loader_t ld = { .store = store, .fn = fn, .ctx = ctx };
    rn_record_iter_init(&ld.it, LOAD_MAX_UNCOMPRESSED);
    int rc = 0;
    for (int32_t p = 0; store_topic(store) != NULL && p < store->npartitions && rc == 0; p++)
        rc = load_partition(&ld, p);
    rn_record_iter_deinit(&ld.it);
    free(ld.buf);
    if (stats != NULL)
        *stats = ld.stats;
    return rc;
}

/* rn_store_load's callback behind rn_store_load_entries: data records only. */
typedef struct plain_load {
    rn_store_record_fn fn;
    void *ctx;
} plain_load_t;

static void on_plain_entry(void *ctx, int32_t partition, const rn_store_origin_t *origin,
                           rn_bytes_t key, rn_bytes_t value)
{
    plain_load_t *pl = ctx;
    /* Transactional records are left out with the markers: whether they count depends on a
     * marker that only rn_store_load_entries' callers follow. */
    if (origin->marker < 0 && !origin->transactional)
        pl->fn(pl->ctx, partition, key, value);
}

int rn_store_load(rn_store_t *store, rn_store_record_fn fn, void *ctx, rn_store_stats_t *stats)
{
    plain_load_t pl = { .fn = fn, .ctx = ctx };
    return rn_store_load_entries(store, on_plain_entry, &pl, stats);
}
