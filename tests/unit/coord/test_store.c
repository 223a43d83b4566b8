/* SPDX-License-Identifier: Apache-2.0 */
/* The __consumer_offsets journal (src/coord/store.c): Kafka's partition for a group (Java's
 * String.hashCode, Utils.abs), the topic it creates, appends read back in order across clean
 * restarts and kill -9, and a damaged batch that stops one partition's load. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "coord/store.h"
#include "fixture.h"
#include "util/err.h"

static rn_str_t S(const char *s)
{
    return rn_str_from_cstr(s);
}
static rn_bytes_t B(const char *s)
{
    return (rn_bytes_t){ .ptr = (const uint8_t *)s, .len = strlen(s) };
}

/* Expected values computed by hand (h = 31*h + UTF-16 unit, as a signed 32-bit int); the
 * partitions are Kafka's Utils.abs(h) % 50, where Utils.abs is Math.abs with MIN_VALUE -> 0. */
Test(store, java_hash_matches_string_hashcode)
{
    cr_assert_eq(rn_store_java_hash(S("")), 0);
    cr_assert_eq(rn_store_java_hash(S("a")), 97);
    cr_assert_eq(rn_store_java_hash(S("group")), 98629247);
    cr_assert_eq(rn_store_java_hash(S("my-group")), -1906497762);
    cr_assert_eq(rn_store_java_hash(S("test-consumer-group")), -1793216381);
    cr_assert_eq(rn_store_java_hash(S("console-consumer-12345")), 158455506);
    cr_assert_eq(rn_store_java_hash(S("polygenelubricants")), INT32_MIN);
    /* U+00E9 is one UTF-16 unit (233); U+1F600 is the surrogate pair D83D DE00. */
    cr_assert_eq(rn_store_java_hash(S("group\xc3\xa9")), -1237460406);
    cr_assert_eq(rn_store_java_hash(S("g\xf0\x9f\x98\x80")), 1871882);
    /* Malformed UTF-8 decodes to U+FFFD per bad sequence, as Java's decoder does. */
    cr_assert_eq(rn_store_java_hash(S("\xff")), 0xFFFD);
    cr_assert_eq(rn_store_java_hash(S("\xe2\x82")), 0xFFFD, "a cut-short sequence is one U+FFFD");
}

typedef struct opened {
    fixture_t f;
    rn_store_t *store;
} opened_t;

static void open_store(opened_t *o, const char *props)
{
    fixture_init(&o->f, props);
    cr_assert_eq(rn_store_open(&o->f.cfg, o->f.topics, &o->store), 0);
}

static void close_store(opened_t *o)
{
    rn_store_close(o->store);
    fixture_deinit(&o->f);
}

Test(store, partition_for_is_kafkas)
{
    opened_t o;
    open_store(&o, NULL);
    cr_assert_eq(rn_store_partitions(o.store), 50);
    cr_assert_eq(rn_store_partition_for(o.store, S("a")), 47);
    cr_assert_eq(rn_store_partition_for(o.store, S("group")), 47);
    cr_assert_eq(rn_store_partition_for(o.store, S("my-group")), 12,
                 "Math.abs, not & 0x7fffffff (36)");
    cr_assert_eq(rn_store_partition_for(o.store, S("test-consumer-group")), 31);
    cr_assert_eq(rn_store_partition_for(o.store, S("polygenelubricants")), 0);
    cr_assert_eq(rn_store_partition_for(o.store, S("group\xc3\xa9")), 6);
    close_store(&o);
}

Test(store, creates_an_internal_compacted_topic_and_keeps_its_partition_count)
{
    opened_t o;
    open_store(&o, "offsets.topic.num.partitions=3\n");
    /* Created on first need (FindCoordinator or an append), as Kafka does, not at open. */
    cr_assert_not(rn_store_ready(o.store));
    cr_assert_null(rn_topics_get(o.f.topics, S(RN_STORE_TOPIC)));
    cr_assert_eq(rn_store_ensure(o.store), 0);
    cr_assert(rn_store_ready(o.store));
    rn_topic_t *topic = rn_topics_get(o.f.topics, S(RN_STORE_TOPIC));
    cr_assert_not_null(topic);
    cr_assert(topic->internal);
    cr_assert_eq(atomic_load(&topic->npartitions), 3);
    rn_topic_config_t tc;
    rn_topic_get_config(o.f.topics, topic, &tc);
    cr_assert_str_eq(tc.cleanup_policy, "compact");
    cr_assert_not(tc.log.delete_enabled, "retention never deletes commits");
    rn_topic_unref(topic);
    rn_store_close(o.store);
    fixture_restart(&o.f);
    /* A later configuration does not move groups: the existing topic's count wins. */
    rn_config_deinit(&o.f.cfg);
    fixture_config(&o.f, o.f.dir, "offsets.topic.num.partitions=7\n");
    cr_assert_eq(rn_store_open(&o.f.cfg, o.f.topics, &o.store), 0);
    cr_assert_eq(rn_store_partitions(o.store), 3);
    close_store(&o);
}

typedef struct seen {
    int n;
    int32_t partition[64];
    char key[64][32];
    char value[64][32]; /* "<null>" for a tombstone */
} seen_t;

static void collect(void *ctx, int32_t partition, rn_bytes_t key, rn_bytes_t value)
{
    seen_t *s = ctx;
    cr_assert_lt(s->n, 64);
    s->partition[s->n] = partition;
    snprintf(s->key[s->n], sizeof s->key[0], "%.*s", (int)key.len, (const char *)key.ptr);
    if (value.ptr == NULL)
        snprintf(s->value[s->n], sizeof s->value[0], "<null>");
    else
        snprintf(s->value[s->n], sizeof s->value[0], "%.*s", (int)value.len,
                 (const char *)value.ptr);
    s->n++;
}

static void append_some(rn_store_t *store)
{
    cr_assert_eq(rn_store_append(store, S("a"), B("k1"), B("v1"), 1000), 0);
    rn_store_record_t many[] = {
        { .key = B("k2"), .value = B("v2") },
        { .key = B("k1"), .value = { NULL, 0 } },
        { .key = B("k3"), .value = B("") },
    };
    cr_assert_eq(rn_store_append_many(store, S("a"), many, 3, 1001), 0);
    cr_assert_eq(rn_store_append(store, S("group"), B("k4"), B("v4"), 1002), 0);
    cr_assert_eq(rn_store_append_many(store, S("a"), many, 0, 1003), 0, "nothing to append");
}

static void assert_appended(const seen_t *s, int32_t partition_a, int32_t partition_group)
{
    cr_assert_eq(s->n, 5);
    /* Partitions load in order: "a" (97 % 3 == 1) before "group" (98629247 % 3 == 2). */
    const char *keys[] = { "k1", "k2", "k1", "k3", "k4" };
    const char *values[] = { "v1", "v2", "<null>", "", "v4" };
    for (int i = 0; i < 5; i++) {
        cr_assert_str_eq(s->key[i], keys[i], "record %d", i);
        cr_assert_str_eq(s->value[i], values[i], "record %d", i);
        cr_assert_eq(s->partition[i], i < 4 ? partition_a : partition_group);
    }
}

Test(store, appends_load_back_in_order_after_a_clean_restart)
{
    opened_t o;
    open_store(&o, "offsets.topic.num.partitions=3\n");
    append_some(o.store);
    cr_assert_eq(rn_store_partition_for(o.store, S("a")), 1);
    cr_assert_eq(rn_store_partition_for(o.store, S("group")), 2);
    rn_store_close(o.store);
    fixture_restart(&o.f);
    cr_assert_eq(rn_store_open(&o.f.cfg, o.f.topics, &o.store), 0);
    seen_t s = { 0 };
    rn_store_stats_t stats;
    cr_assert_eq(rn_store_load(o.store, collect, &s, &stats), 0);
    assert_appended(&s, 1, 2);
    cr_assert_eq(stats.batches, 3);
    cr_assert_eq(stats.records, 5);
    cr_assert_eq(stats.bad_partitions, 0);
    cr_assert_gt(stats.bytes, 3 * 61);
    close_store(&o);
}

Test(store, appends_survive_a_kill)
{
    opened_t o;
    const char *props = "offsets.topic.num.partitions=3\n";
    open_store(&o, props);
    append_some(o.store);
    fixture_t crashed;
    fixture_crash_copy(&o.f, &crashed, props);
    rn_store_t *store;
    cr_assert_eq(rn_store_open(&crashed.cfg, crashed.topics, &store), 0);
    seen_t s = { 0 };
    cr_assert_eq(rn_store_load(store, collect, &s, NULL), 0);
    assert_appended(&s, 1, 2);
    rn_store_close(store);
    fixture_deinit(&crashed);
    close_store(&o);
}

typedef struct in_order {
    int n;
    bool ok;
} in_order_t;

/* Keys must come as k0, k1, k2... with 4000-byte values. */
static void check_in_order(void *ctx, int32_t partition, rn_bytes_t key, rn_bytes_t value)
{
    in_order_t *c = ctx;
    (void)partition;
    char want[16];
    snprintf(want, sizeof want, "k%d", c->n);
    if (key.len != strlen(want) || memcmp(key.ptr, want, key.len) != 0 || value.len != 4000)
        c->ok = false;
    c->n++;
}

Test(store, loads_a_partition_larger_than_one_read)
{
    /* Over 8 MiB in one partition: the loader's reads (8 MiB each) must continue where the
     * previous one stopped, across batch and segment boundaries. */
    opened_t o;
    open_store(&o, "offsets.topic.num.partitions=1\nlog.segment.bytes=3000000\n");
    static char value[4000];
    memset(value, 'v', sizeof value);
    int n = 3000;
    for (int i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        rn_bytes_t v = { .ptr = (const uint8_t *)value, .len = sizeof value };
        cr_assert_eq(rn_store_append(o.store, S("g"), B(key), v, i), 0);
    }
    rn_store_stats_t stats;
    in_order_t c = { 0, true };
    cr_assert_eq(rn_store_load(o.store, check_in_order, &c, &stats), 0);
    cr_assert_eq(stats.records, n);
    cr_assert_eq(c.n, n);
    cr_assert(c.ok);
    cr_assert_gt(stats.bytes, (int64_t)8 << 20);
    close_store(&o);
}

/* The path of partition 0's only segment. */
static void segment_path(const fixture_t *f, char *out, size_t len)
{
    snprintf(out, len, "%s/%s-0/00000000000000000000.log", f->dir, RN_STORE_TOPIC);
}

Test(store, a_damaged_batch_stops_only_its_partition)
{
    opened_t o;
    open_store(&o, "offsets.topic.num.partitions=2\n");
    /* Partition 0 gets "b" (98 % 2 == 0), partition 1 gets "a". */
    cr_assert_eq(rn_store_partition_for(o.store, S("b")), 0);
    cr_assert_eq(rn_store_append(o.store, S("b"), B("k1"), B("v1"), 1), 0);
    cr_assert_eq(rn_store_append(o.store, S("b"), B("k2"), B("v2"), 2), 0);
    cr_assert_eq(rn_store_append(o.store, S("a"), B("k3"), B("v3"), 3), 0);
    rn_store_close(o.store);
    rn_topics_close(o.f.topics);
    /* A clean shutdown, then a flipped byte in the last record of partition 0: no recovery
     * runs, so the loader meets the bad CRC itself. */
    char path[256];
    segment_path(&o.f, path, sizeof path);
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0, "%s", path);
    off_t end = lseek(fd, 0, SEEK_END);
    uint8_t byte;
    cr_assert_eq(pread(fd, &byte, 1, end - 2), 1);
    byte ^= 0xff;
    cr_assert_eq(pwrite(fd, &byte, 1, end - 2), 1);
    close(fd);
    cr_assert_eq(rn_topics_open(&o.f.cfg, &o.f.topics), 0);
    cr_assert_eq(rn_store_open(&o.f.cfg, o.f.topics, &o.store), 0);
    seen_t s = { 0 };
    rn_store_stats_t stats;
    cr_assert_eq(rn_store_load(o.store, collect, &s, &stats), 0);
    cr_assert_eq(stats.bad_partitions, 1);
    cr_assert_eq(s.n, 2, "k1 before the damage and k3 in the other partition");
    cr_assert_str_eq(s.key[0], "k1");
    cr_assert_str_eq(s.key[1], "k3");
    close_store(&o);
}

Test(store, an_empty_topic_loads_nothing)
{
    opened_t o;
    open_store(&o, "offsets.topic.num.partitions=4\n");
    seen_t s = { 0 };
    rn_store_stats_t stats;
    cr_assert_eq(rn_store_load(o.store, collect, &s, &stats), 0);
    cr_assert_eq(s.n, 0);
    cr_assert_eq(stats.batches, 0);
    close_store(&o);
}

/* ---- a second topic, and transactions ---- */

Test(store, serves_transaction_state_as_a_second_topic)
{
    fixture_t f;
    fixture_init(&f, "transaction.state.log.num.partitions=5\n");
    rn_store_t *offsets, *txn;
    cr_assert_eq(rn_store_open(&f.cfg, f.topics, &offsets), 0);
    cr_assert_eq(rn_store_open_topic(&f.cfg, RN_STORE_TXN_TOPIC, f.topics, &txn), 0);
    cr_assert_str_eq(rn_store_name(txn), "__transaction_state");
    cr_assert_str_eq(rn_store_name(offsets), "__consumer_offsets");
    /* Kafka places a transactional id as it places a group (Utils.abs(hashCode) % n). */
    cr_assert_eq(rn_store_partition_for(txn, S("my-group")), 1906497762 % 5);
    cr_assert_eq(rn_store_append(txn, S("my-group"), B("k"), B("v"), 5), 0);
    cr_assert(rn_store_ready(txn));
    cr_assert_not(rn_store_ready(offsets), "each topic is created on its own");
    rn_topic_t *topic = rn_topics_get(f.topics, S(RN_STORE_TXN_TOPIC));
    cr_assert_not_null(topic);
    cr_assert(topic->internal);
    cr_assert_eq(atomic_load(&topic->npartitions), 5);
    rn_topic_unref(topic);
    seen_t s = { 0 };
    cr_assert_eq(rn_store_load(txn, collect, &s, NULL), 0);
    cr_assert_eq(s.n, 1);
    cr_assert_eq(s.partition[0], 2);
    rn_store_close(txn);
    rn_store_close(offsets);
    fixture_deinit(&f);
}

/* The value of `key` among a topic's config entries. */
static const char *config_of(const rn_config_entry_t *e, size_t n, const char *key, int8_t *source)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].name, key) == 0) {
            *source = e[i].source;
            return e[i].value;
        }
    cr_assert_fail("no config %s", key);
    return NULL;
}

/* Kafka 4.4 creates both internal topics compacted, with the segment size of their own broker
 * key; __consumer_offsets keeps the producer's compression, __transaction_state is
 * uncompressed, with transaction.state.log.min.isr and no unclean leader election. */
Test(store, internal_topics_are_created_with_kafkas_configs)
{
    fixture_t f;
    fixture_init(&f, "offsets.topic.num.partitions=2\ntransaction.state.log.num.partitions=3\n"
                     "offsets.topic.segment.bytes=1048576\n"
                     "transaction.state.log.segment.bytes=2097152\n");
    rn_store_t *stores[2];
    cr_assert_eq(rn_store_open(&f.cfg, f.topics, &stores[0]), 0);
    cr_assert_eq(rn_store_open_topic(&f.cfg, RN_STORE_TXN_TOPIC, f.topics, &stores[1]), 0);
    static const struct {
        const char *name, *segment_bytes, *compression;
        int32_t partitions;
    } want[2] = { { RN_STORE_TOPIC, "1048576", "producer", 2 },
                  { RN_STORE_TXN_TOPIC, "2097152", "uncompressed", 3 } };
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(rn_store_ensure(stores[i]), 0);
        rn_topic_t *topic = rn_topics_get(f.topics, S(want[i].name));
        cr_assert_not_null(topic);
        cr_assert_eq(atomic_load(&topic->npartitions), want[i].partitions);
        rn_topic_config_t tc;
        rn_topic_get_config(f.topics, topic, &tc);
        cr_assert(tc.log.compact, "%s", want[i].name);
        cr_assert_not(tc.log.delete_enabled, "%s", want[i].name);
        cr_assert_eq(tc.log.segment_bytes, atoll(want[i].segment_bytes));
        rn_config_entry_t *e;
        size_t n = rn_topic_config_entries(f.topics, topic, &e);
        int8_t source = 0;
        cr_assert_str_eq(config_of(e, n, "cleanup.policy", &source), "compact");
        cr_assert_eq(source, 1, "DYNAMIC_TOPIC_CONFIG");
        cr_assert_str_eq(config_of(e, n, "segment.bytes", &source), want[i].segment_bytes);
        cr_assert_eq(source, 1);
        cr_assert_str_eq(config_of(e, n, "compression.type", &source), want[i].compression);
        cr_assert_eq(source, 1);
        config_of(e, n, "min.insync.replicas", &source);
        cr_assert_eq(source, i == 1 ? 1 : 5, "only __transaction_state sets min.insync.replicas");
        config_of(e, n, "unclean.leader.election.enable", &source);
        cr_assert_eq(source, i == 1 ? 1 : 5);
        rn_config_entries_free(e, n);
        rn_topic_unref(topic);
        rn_store_close(stores[i]);
    }
    fixture_deinit(&f);
}

typedef struct entries {
    int n;
    rn_store_origin_t origin[8];
    char key[8][16];
} entries_t;

static void collect_entry(void *ctx, int32_t partition, const rn_store_origin_t *origin,
                          rn_bytes_t key, rn_bytes_t value)
{
    entries_t *e = ctx;
    (void)partition;
    (void)value;
    cr_assert_lt(e->n, 8);
    e->origin[e->n] = *origin;
    snprintf(e->key[e->n], sizeof e->key[0], "%.*s", (int)key.len, (const char *)key.ptr);
    e->n++;
}

/* A marker appended the way the log room writes one, straight to the partition's log. */
static void append_marker(rn_store_t *store, fixture_t *f, rn_str_t id, int type, int64_t pid,
                          int16_t epoch)
{
    uint8_t *batch;
    size_t len;
    rn_records_summary_t sum;
    cr_assert_eq(rn_records_build_marker(type, pid, epoch, 0, 9, &batch, &len, &sum), 0);
    rn_topic_t *topic = rn_topics_get(f->topics, S(rn_store_name(store)));
    rn_partition_t *part = rn_topic_partition(topic, rn_store_partition_for(store, id));
    int64_t base;
    bool sync;
    cr_assert_eq(rn_log_append(part->log, batch, len, &sum, &base, &sync), 0);
    free(batch);
    rn_topic_unref(topic);
}

Test(store, transactional_batches_and_markers_load_with_their_origin)
{
    opened_t o;
    open_store(&o, "offsets.topic.num.partitions=1\n");
    rn_store_record_t recs[] = { { .key = B("t1"), .value = B("x") },
                                 { .key = B("t2"), .value = B("y") } };
    cr_assert_eq(rn_store_append(o.store, S("g"), B("plain"), B("v"), 1), 0);
    cr_assert_eq(rn_store_append_txn(o.store, S("g"), recs, 2, 2, 42, 3), 0);
    append_marker(o.store, &o.f, S("g"), RN_MARKER_COMMIT, 42, 3);
    cr_assert_eq(rn_store_append_txn(o.store, S("g"), recs, 1, 3, 43, 0), 0);
    append_marker(o.store, &o.f, S("g"), RN_MARKER_ABORT, 43, 0);
    entries_t e = { 0 };
    rn_store_stats_t stats;
    cr_assert_eq(rn_store_load_entries(o.store, collect_entry, &e, &stats), 0);
    cr_assert_eq(e.n, 6);
    cr_assert_str_eq(e.key[0], "plain");
    cr_assert_eq(e.origin[0].producer_id, -1);
    cr_assert_not(e.origin[0].transactional);
    cr_assert_eq(e.origin[0].marker, -1);
    cr_assert_str_eq(e.key[1], "t1");
    cr_assert_eq(e.origin[1].offset, 1);
    cr_assert_eq(e.origin[1].producer_id, 42);
    cr_assert_eq(e.origin[1].producer_epoch, 3);
    cr_assert(e.origin[1].transactional);
    cr_assert_eq(e.origin[2].offset, 2);
    cr_assert_eq(e.origin[3].marker, RN_MARKER_COMMIT);
    cr_assert_eq(e.origin[3].producer_id, 42);
    cr_assert_eq(e.origin[3].offset, 3);
    cr_assert_eq(e.origin[4].producer_id, 43);
    cr_assert_eq(e.origin[5].marker, RN_MARKER_ABORT);
    cr_assert_eq(stats.records, 4, "markers are not records");
    /* The plain loader sees only what needs no marker. */
    seen_t s = { 0 };
    cr_assert_eq(rn_store_load(o.store, collect, &s, NULL), 0);
    cr_assert_eq(s.n, 1);
    cr_assert_str_eq(s.key[0], "plain");
    close_store(&o);
}
