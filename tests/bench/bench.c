/* SPDX-License-Identifier: Apache-2.0 */
/* runnel-bench: the benchmark client behind scripts/bench (issue #5). One program, one subcommand
 * per workload, each run against one broker (Runnel, Apache Kafka or librdkafka's mock cluster) and
 * appending raw rows to a CSV that `report` turns into the table:
 *
 *   spawn      fork/exec a broker, time it to its first Metadata answer over raw TCP (from the
 *              fork, or from the exec a launcher announces with "exec_monotonic_ns=N")
 *   produce    N messages of S bytes to P partitions; msgs/s, MB/s, delivery latency; with
 *              --idempotence true|false, librdkafka's enable.idempotence, named in the figure;
 *              with --keys K, keyed records over K keys in turn (for compacted topics); with
 *              --paced, at --rate for --duration s or until --stop-file exists (--ready-file is
 *              created when sending starts): delivery latency p50/p99/p99.9/max, the figure
 *              named with the rate and --label
 *   consume    read a produced topic from the beginning by assignment; msgs/s, MB/s, and a
 *              verification of every payload against what produce wrote
 *   e2e        fixed rate, producer and consumer in this process, produce-to-consume latency
 *   txn        transactions of --per-txn messages for --duration seconds (transactional.id,
 *              init_transactions, begin/commit); transactions/s, msgs/s, MB/s, commit latency;
 *              exit status 3 when the broker's ApiVersions lacks the transaction APIs
 *   alter      AlterConfigs of --topic: exactly the --topic-config KEY=VALUE given
 *   conns      hold N idle connections open and read the broker's RSS
 *   limits     the machine's own limits (limits.c)
 *   report     join raw rows into the table and the CSV
 *
 * Options: --brokers HOST:PORT, --pid BROKER_PID (CPU accounting), --system runnel|kafka|mock,
 * --csv RAW,
 * --section, --topic, --partitions, --count, --size, --acks, --compression, --linger-ms,
 * --manifest,
 * --idempotence true|false, --per-txn N, --keys K, --topic-config KEY=VALUE (configs of a topic
 * the subcommand creates, or sets with alter), --paced, --stop-file, --ready-file, --label,
 * --rate, --duration, --timeout, --no-create (topics made by runnel-mock), --allow-truncated (a
 * broker with retention below the topic size), --set KEY=VALUE (any librdkafka property), and
 * --target/--target-mb (the target for the msgs/s and MB/s rows, see `report`).
 *
 * Every payload is self-describing: a 32-byte header (magic, partition, sequence, CLOCK_MONOTONIC
 * timestamp, and a 64-bit hash of everything else in the payload) followed by bytes taken from a
 * pseudo-random block. A consumer recomputes the hash of each payload, checks that sequence and
 * offset advance together, and compares count and the order-independent sum of hashes per
 * partition with the manifest produce wrote. Wrong bytes, lost, duplicated or reordered messages
 * fail the run with exit status 1. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "bench.h"

/* ---- payloads ---- */

#define PAYLOAD_MAGIC 0x31424e52u /* "RNB1": a measured message */
#define WARMUP_MAGIC 0x57424e52u  /* "RNBW": a warm-up message, not counted */
#define HEADER_LEN 32
#define FILL_LEN (1u << 20)

/* An xxh64-style hash: four 64-bit lanes over 32-byte stripes, then the tail. It runs at several
 * GB/s, so verifying a gigabyte costs the client a fraction of a second, not the figure. */
static const uint64_t PRIME1 = 0x9E3779B185EBCA87ull, PRIME2 = 0xC2B2AE3D27D4EB4Full,
                      PRIME3 = 0x165667B19E3779F9ull, PRIME4 = 0x85EBCA77C2B2AE63ull,
                      PRIME5 = 0x27D4EB2F165667C5ull;

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint64_t lane_round(uint64_t acc, uint64_t w)
{
    acc += w * PRIME2;
    acc = rotl64(acc, 31);
    return acc * PRIME1;
}

static uint64_t h64(const uint8_t *p, size_t len, uint64_t seed)
{
    const uint8_t *end = p + len;
    uint64_t h;
    if (len >= 32) {
        uint64_t v1 = seed + PRIME1 + PRIME2, v2 = seed + PRIME2, v3 = seed, v4 = seed - PRIME1;
        do {
            v1 = lane_round(v1, load64(p));
            v2 = lane_round(v2, load64(p + 8));
            v3 = lane_round(v3, load64(p + 16));
            v4 = lane_round(v4, load64(p + 24));
            p += 32;
        } while ((size_t)(end - p) >= 32);
        h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
        h = (h ^ lane_round(0, v1)) * PRIME1 + PRIME4;
        h = (h ^ lane_round(0, v2)) * PRIME1 + PRIME4;
        h = (h ^ lane_round(0, v3)) * PRIME1 + PRIME4;
        h = (h ^ lane_round(0, v4)) * PRIME1 + PRIME4;
    } else {
        h = seed + PRIME5;
    }
    h += (uint64_t)len;
    for (; (size_t)(end - p) >= 8; p += 8)
        h = rotl64(h ^ lane_round(0, load64(p)), 27) * PRIME1 + PRIME4;
    for (; p < end; p++)
        h = rotl64(h ^ (*p * PRIME5), 11) * PRIME1;
    h ^= h >> 33;
    h *= PRIME2;
    h ^= h >> 29;
    h *= PRIME3;
    h ^= h >> 32;
    return h;
}

static uint8_t *fill_block; /* FILL_LEN + largest payload bytes of pseudo-random data */
static size_t fill_len;

static void fill_init(size_t max_payload)
{
    fill_len = FILL_LEN + max_payload;
    fill_block = malloc(fill_len + 8);
    if (fill_block == NULL)
        bench_die("out of memory");
    uint64_t x = 0x2545F4914F6CDD1Dull;
    for (size_t i = 0; i < fill_len; i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(fill_block + i, &x, 8);
    }
}

/* Header fields, little-endian as this machine writes them (producer and consumer share it). */
typedef struct header {
    uint32_t magic;
    int32_t partition;
    uint64_t seq;
    int64_t ts_ns;
    uint64_t hash;
} header_t;
_Static_assert(sizeof(header_t) == HEADER_LEN, "payload header is 32 bytes");

static uint64_t header_seed(const header_t *h)
{
    return ((uint64_t)h->magic << 32 | (uint32_t)h->partition) * PRIME1 ^ h->seq * PRIME2 ^
           (uint64_t)h->ts_ns * PRIME3;
}

/* Writes a payload of `size` >= HEADER_LEN bytes into buf; returns its hash. */
static uint64_t payload_build(uint8_t *buf, size_t size, uint32_t magic, int32_t partition,
                              uint64_t seq, int64_t ts_ns)
{
    header_t h = { .magic = magic, .partition = partition, .seq = seq, .ts_ns = ts_ns };
    size_t body = size - HEADER_LEN;
    /* Start the body at a place in the block chosen by (partition, seq), so two messages
     * differ in their bytes and not only in their headers. */
    size_t start = (size_t)((seq * PRIME1 ^ (uint64_t)partition * PRIME2) % (FILL_LEN / 8)) * 8;
    memcpy(buf + HEADER_LEN, fill_block + start, body);
    h.hash = h64(buf + HEADER_LEN, body, header_seed(&h));
    memcpy(buf, &h, sizeof h);
    return h.hash;
}

/* Checks a payload's own hash; returns NULL or what is wrong with it. */
static const char *payload_check(const void *payload, size_t len, header_t *h)
{
    if (payload == NULL || len < HEADER_LEN)
        return "payload shorter than its 32-byte header";
    memcpy(h, payload, sizeof *h);
    if (h->magic != PAYLOAD_MAGIC && h->magic != WARMUP_MAGIC)
        return "payload does not start with the benchmark's magic";
    if (h64((const uint8_t *)payload + HEADER_LEN, len - HEADER_LEN, header_seed(h)) != h->hash)
        return "payload bytes do not match their hash";
    return NULL;
}

/* ---- options shared by the subcommands ---- */

typedef struct opts {
    const char *brokers, *topic, *system, *csv, *section, *manifest, *log, *target, *target_mb;
    const char *acks, *compression, *idempotence;
    pid_t pid;
    int partitions;
    long count, size;
    int linger_ms;
    double rate, duration, timeout;
    bool allow_truncated, no_create;
    int settle_ms;
    const char *sets[16]; /* extra librdkafka properties, KEY=VALUE, for every client */
    int nsets;
    long per_txn;
    long keys;                     /* produce: keyed records over this many keys; 0: no key */
    const char *topic_configs[16]; /* KEY=VALUE: configs of a created topic, or to alter */
    int ntopic_configs;
    bool paced; /* produce at --rate for --duration */
    const char *stop_file, *ready_file, *label;
} opts_t;

enum {
    O_BROKERS = 256,
    O_TOPIC,
    O_SYSTEM,
    O_CSV,
    O_SECTION,
    O_MANIFEST,
    O_LOG,
    O_TARGET,
    O_TARGET_MB,
    O_ACKS,
    O_COMPRESSION,
    O_PID,
    O_PARTITIONS,
    O_COUNT,
    O_SIZE,
    O_LINGER,
    O_RATE,
    O_DURATION,
    O_TIMEOUT,
    O_ALLOW_TRUNCATED,
    O_SETTLE,
    O_NO_CREATE,
    O_SET,
    O_IDEMPOTENCE,
    O_PER_TXN,
    O_KEYS,
    O_TOPIC_CONFIG,
    O_PACED,
    O_STOP_FILE,
    O_READY_FILE,
    O_LABEL,
};

static const struct option long_options[] = {
    { "brokers", required_argument, NULL, O_BROKERS },
    { "topic", required_argument, NULL, O_TOPIC },
    { "system", required_argument, NULL, O_SYSTEM },
    { "csv", required_argument, NULL, O_CSV },
    { "section", required_argument, NULL, O_SECTION },
    { "manifest", required_argument, NULL, O_MANIFEST },
    { "log", required_argument, NULL, O_LOG },
    { "target", required_argument, NULL, O_TARGET },
    { "target-mb", required_argument, NULL, O_TARGET_MB },
    { "acks", required_argument, NULL, O_ACKS },
    { "compression", required_argument, NULL, O_COMPRESSION },
    { "pid", required_argument, NULL, O_PID },
    { "partitions", required_argument, NULL, O_PARTITIONS },
    { "count", required_argument, NULL, O_COUNT },
    { "size", required_argument, NULL, O_SIZE },
    { "linger-ms", required_argument, NULL, O_LINGER },
    { "rate", required_argument, NULL, O_RATE },
    { "duration", required_argument, NULL, O_DURATION },
    { "timeout", required_argument, NULL, O_TIMEOUT },
    { "allow-truncated", no_argument, NULL, O_ALLOW_TRUNCATED },
    { "settle-ms", required_argument, NULL, O_SETTLE },
    { "no-create", no_argument, NULL, O_NO_CREATE },
    { "set", required_argument, NULL, O_SET },
    { "idempotence", required_argument, NULL, O_IDEMPOTENCE },
    { "per-txn", required_argument, NULL, O_PER_TXN },
    { "keys", required_argument, NULL, O_KEYS },
    { "topic-config", required_argument, NULL, O_TOPIC_CONFIG },
    { "paced", no_argument, NULL, O_PACED },
    { "stop-file", required_argument, NULL, O_STOP_FILE },
    { "ready-file", required_argument, NULL, O_READY_FILE },
    { "label", required_argument, NULL, O_LABEL },
    { NULL, 0, NULL, 0 },
};

static void parse_opts(int argc, char **argv, opts_t *o)
{
    *o = (opts_t){ .system = "runnel",
                   .section = "misc",
                   .acks = "1",
                   .compression = "none",
                   .partitions = 4,
                   .count = 100000,
                   .size = 100,
                   .linger_ms = 5,
                   .rate = 10000,
                   .duration = 10,
                   .timeout = 120,
                   .settle_ms = 300,
                   .per_txn = 10 };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (opt) {
        case O_BROKERS:
            o->brokers = optarg;
            break;
        case O_TOPIC:
            o->topic = optarg;
            break;
        case O_SYSTEM:
            o->system = optarg;
            break;
        case O_CSV:
            o->csv = optarg;
            break;
        case O_SECTION:
            o->section = optarg;
            break;
        case O_MANIFEST:
            o->manifest = optarg;
            break;
        case O_LOG:
            o->log = optarg;
            break;
        case O_TARGET:
            o->target = optarg;
            break;
        case O_TARGET_MB:
            o->target_mb = optarg;
            break;
        case O_ACKS:
            o->acks = optarg;
            break;
        case O_COMPRESSION:
            o->compression = optarg;
            break;
        case O_PID:
            o->pid = (pid_t)atol(optarg);
            break;
        case O_PARTITIONS:
            o->partitions = atoi(optarg);
            break;
        case O_COUNT:
            o->count = atol(optarg);
            break;
        case O_SIZE:
            o->size = atol(optarg);
            break;
        case O_LINGER:
            o->linger_ms = atoi(optarg);
            break;
        case O_RATE:
            o->rate = atof(optarg);
            break;
        case O_DURATION:
            o->duration = atof(optarg);
            break;
        case O_TIMEOUT:
            o->timeout = atof(optarg);
            break;
        case O_ALLOW_TRUNCATED:
            o->allow_truncated = true;
            break;
        case O_SETTLE:
            o->settle_ms = atoi(optarg);
            break;
        case O_NO_CREATE:
            o->no_create = true;
            break;
        case O_SET:
            if (o->nsets == (int)(sizeof o->sets / sizeof o->sets[0]) ||
                strchr(optarg, '=') == NULL)
                bench_die("--set takes KEY=VALUE, at most 16 times");
            o->sets[o->nsets++] = optarg;
            break;
        case O_IDEMPOTENCE:
            if (strcmp(optarg, "true") != 0 && strcmp(optarg, "false") != 0)
                bench_die("--idempotence takes true or false");
            o->idempotence = optarg;
            break;
        case O_PER_TXN:
            o->per_txn = atol(optarg);
            break;
        case O_KEYS:
            o->keys = atol(optarg);
            break;
        case O_TOPIC_CONFIG:
            if (o->ntopic_configs == (int)(sizeof o->topic_configs / sizeof o->topic_configs[0]) ||
                strchr(optarg, '=') == NULL)
                bench_die("--topic-config takes KEY=VALUE, at most 16 times");
            o->topic_configs[o->ntopic_configs++] = optarg;
            break;
        case O_PACED:
            o->paced = true;
            break;
        case O_STOP_FILE:
            o->stop_file = optarg;
            break;
        case O_READY_FILE:
            o->ready_file = optarg;
            break;
        case O_LABEL:
            o->label = optarg;
            break;
        default:
            bench_die("unknown option (see the header of tests/bench/bench.c)");
        }
    }
    if (o->partitions < 1 || o->count < 0 || o->rate <= 0 || o->duration <= 0 || o->timeout <= 0 ||
        o->per_txn < 1 || o->keys < 0)
        bench_die("--partitions, --rate, --duration, --timeout and --per-txn must be positive, "
                  "--keys not negative");
}

static void need(const char *value, const char *name)
{
    if (value == NULL)
        bench_die("%s is required", name);
}

/* "100B", "1KiB", "10KiB", "100KiB" */
static void size_label(long size, char *out, size_t cap)
{
    if (size >= 1024 && size % 1024 == 0)
        snprintf(out, cap, "%ldKiB", size / 1024);
    else
        snprintf(out, cap, "%ldB", size);
}

/* ---- librdkafka handles ---- */

/* Splits "KEY=VALUE" (checked by parse_opts) into key, a copy, and the value it returns. */
static const char *split_kv(const char *kv, char *key, size_t cap)
{
    const char *eq = strchr(kv, '=');
    snprintf(key, cap, "%.*s", (int)(eq - kv), kv);
    return eq + 1;
}

static void conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        bench_die("config %s=%s: %s", key, value, errstr);
}

static rd_kafka_conf_t *base_conf(const opts_t *o)
{
    need(o->brokers, "--brokers");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", o->brokers);
    conf_set(conf, "client.id", "runnel-bench");
    /* TCP_NODELAY, as the Java client sets it: without it a delayed ACK can hold a small
     * request for tens of milliseconds, which is the client's doing, not the broker's. */
    conf_set(conf, "socket.nagle.disable", "true");
    conf_set(conf, "log_level", "4");
    for (int i = 0; i < o->nsets; i++) {
        char key[128];
        const char *value = split_kv(o->sets[i], key, sizeof key);
        conf_set(conf, key, value);
    }
    return conf;
}

static rd_kafka_t *new_handle(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (rk == NULL)
        bench_die("rd_kafka_new: %s", errstr);
    return rk;
}

/* Creates the topic with CreateTopics, with the configs of --topic-config (an existing one is
 * fine, whatever its configs) unless `exists` (the mock, which has no CreateTopics: runnel-mock
 * creates the run's topics at start), then waits until Metadata shows every partition with a
 * leader and every partition answers ListOffsets. A broker that refuses or never shows it fails
 * the run. */
static void create_topic(rd_kafka_t *rk, const opts_t *o, const char *topic, int partitions,
                         bool exists, double timeout_s)
{
    char errstr[512];
    if (exists)
        goto wait;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr, sizeof errstr);
    if (nt == NULL)
        bench_die("NewTopic %s: %s", topic, errstr);
    for (int i = 0; i < o->ntopic_configs; i++) {
        char key[128];
        const char *value = split_kv(o->topic_configs[i], key, sizeof key);
        if (rd_kafka_NewTopic_set_config(nt, key, value) != RD_KAFKA_RESP_ERR_NO_ERROR)
            bench_die("NewTopic %s: config %s refused", topic, o->topic_configs[i]);
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(ao, (int)(timeout_s * 1000), errstr, sizeof errstr);
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, (int)(timeout_s * 1000));
    if (ev == NULL)
        bench_die("CreateTopics %s: no answer in %.0f s", topic, timeout_s);
    if (rd_kafka_event_error(ev))
        bench_die("CreateTopics %s: %s", topic, rd_kafka_event_error_string(ev));
    size_t n = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[i]);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            bench_die("CreateTopics %s: %s (%s)", topic, rd_kafka_err2str(err),
                      rd_kafka_topic_result_error_string(res[i])
                          ? rd_kafka_topic_result_error_string(res[i])
                          : "");
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);

wait:;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    int64_t deadline = bench_now_ns() + (int64_t)(timeout_s * 1e9);
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
        int ready = 0;
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err == 0) {
            for (int i = 0; i < md->topics[0].partition_cnt; i++)
                ready += md->topics[0].partitions[i].leader >= 0;
        }
        if (md != NULL)
            rd_kafka_metadata_destroy(md);
        if (ready == partitions)
            break;
        if (ready > partitions)
            bench_die("topic %s has %d partitions, expected %d (stale data dir?)", topic, ready,
                      partitions);
        if (bench_now_ns() > deadline)
            bench_die("topic %s: %d of %d partitions with a leader after %.0f s (%s)", topic, ready,
                      partitions, timeout_s, rd_kafka_err2str(err));
        usleep(20000);
    }
    /* Kafka lists a new partition's leader in Metadata a moment before the leader takes the
     * partition on: a Produce in between fails with NOT_LEADER_OR_FOLLOWER, and librdkafka's
     * retry of that batch lands behind the batches sent after it, a reordering that consume
     * then reports. ListOffsets asks the partition itself: once each answers, all are ready. */
    for (int p = 0; p < partitions; p++) {
        for (;;) {
            int64_t lo, hi;
            rd_kafka_resp_err_t err =
                rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (bench_now_ns() > deadline)
                bench_die("topic %s: partition %d does not answer ListOffsets after %.0f s (%s)",
                          topic, p, timeout_s, rd_kafka_err2str(err));
            usleep(20000);
        }
    }
    rd_kafka_topic_destroy(rkt);
}

/* ---- produce ---- */

typedef struct produce_run {
    int64_t *sent_ns; /* by message index: when produce() was called */
    int64_t *lat_ns;  /* delivery latencies, in delivery order */
    size_t nlat;
    uint64_t delivered, failed;
    uint64_t *part_count, *part_sum;
    int nparts;
    int64_t last_dr_ns;
    char first_err[256];
} produce_run_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    produce_run_t *run = opaque;
    int64_t now = bench_now_ns();
    size_t i = (size_t)(uintptr_t)m->_private;
    run->last_dr_ns = now;
    if (m->err) {
        if (run->failed++ == 0)
            snprintf(run->first_err, sizeof run->first_err, "partition %d: %s", (int)m->partition,
                     rd_kafka_err2str(m->err));
        return;
    }
    header_t h;
    memcpy(&h, m->payload, sizeof h);
    if (m->partition >= 0 && m->partition < run->nparts) {
        run->part_count[m->partition]++;
        run->part_sum[m->partition] += h.hash;
    }
    run->delivered++;
    run->lat_ns[run->nlat++] = now - run->sent_ns[i];
}

/* --paced: a thread serves the delivery reports as they come, so a report is not held back
 * until the sending thread's next wake-up (up to one period at the paced rate). */
typedef struct poller {
    rd_kafka_t *rk;
    atomic_bool stop;
} poller_t;

static void *poller_main(void *arg)
{
    poller_t *pl = arg;
    while (!atomic_load(&pl->stop))
        rd_kafka_poll(pl->rk, 20);
    return NULL;
}

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        bench_die("%s: %s", path, strerror(errno));
    fclose(f);
}

static int cmd_produce(int argc, char **argv)
{
    opts_t o;
    parse_opts(argc, argv, &o);
    need(o.topic, "--topic");
    if (o.size < HEADER_LEN)
        bench_die("--size must be at least %d", HEADER_LEN);
    fill_init((size_t)o.size);
    /* Paced: at most --rate x --duration messages, fewer when --stop-file appears first. */
    size_t n = o.paced ? (size_t)(o.rate * o.duration) : (size_t)o.count;

    produce_run_t run = { .nparts = o.partitions };
    run.sent_ns = calloc(n + 1, sizeof *run.sent_ns);
    run.lat_ns = calloc(n + 1, sizeof *run.lat_ns);
    run.part_count = calloc((size_t)o.partitions, sizeof *run.part_count);
    run.part_sum = calloc((size_t)o.partitions, sizeof *run.part_sum);
    uint8_t *scratch = malloc((size_t)o.size);
    if (!run.sent_ns || !run.lat_ns || !run.part_count || !run.part_sum || !scratch)
        bench_die("out of memory");

    char linger[32];
    snprintf(linger, sizeof linger, "%d", o.linger_ms);
    rd_kafka_conf_t *conf = base_conf(&o);
    conf_set(conf, "acks", o.acks);
    conf_set(conf, "compression.type", o.compression);
    conf_set(conf, "linger.ms", linger);
    /* Idempotence changes nothing else here (acks stays what --acks says; librdkafka then keeps
     * at most 5 requests in flight per broker, as the Java producer does). */
    if (o.idempotence != NULL)
        conf_set(conf, "enable.idempotence", o.idempotence);
    /* A deep local queue, so produce() rarely blocks: latency then includes the queueing the
     * broker's pace causes, as in Kafka's own producer-perf-test. */
    conf_set(conf, "queue.buffering.max.messages", "1000000");
    conf_set(conf, "queue.buffering.max.kbytes", "1048576");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &run);
    rd_kafka_t *rk = new_handle(RD_KAFKA_PRODUCER, conf);
    create_topic(rk, &o, o.topic, o.partitions, o.no_create, 30);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o.topic, NULL);

    poller_t poller = { .rk = rk };
    pthread_t poll_th;
    if (o.paced) {
        prctl(PR_SET_TIMERSLACK, 1UL); /* wake on time, not 50 us late */
        if (pthread_create(&poll_th, NULL, poller_main, &poller) != 0)
            bench_die("pthread_create failed");
    }
    if (o.ready_file != NULL)
        touch(o.ready_file);

    double broker0 = bench_proc_cpu_s(o.pid), client0 = bench_self_cpu_s();
    int64_t t0 = bench_now_ns(), period = (int64_t)(1e9 / o.rate);
    /* The stop file is looked for about every 50 ms of paced sending. */
    size_t check_every = o.rate > 20 ? (size_t)(o.rate / 20) : 1;
    char key[32];
    size_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        if (o.paced) {
            if (o.stop_file != NULL && i % check_every == 0 && access(o.stop_file, F_OK) == 0)
                break;
            int64_t due = t0 + (int64_t)i * period;
            if (due > bench_now_ns()) {
                struct timespec ts = { .tv_sec = due / 1000000000, .tv_nsec = due % 1000000000 };
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
                }
            }
        }
        int32_t part = (int32_t)(i % (size_t)o.partitions);
        uint64_t seq = i / (size_t)o.partitions;
        int flags = RD_KAFKA_MSG_F_COPY;
        uint8_t *buf = scratch;
        if (o.size > 4096) {
            /* Large payloads are built in place and handed over, saving one copy. */
            if ((buf = malloc((size_t)o.size)) == NULL)
                bench_die("out of memory");
            flags = RD_KAFKA_MSG_F_FREE;
        }
        int64_t ts = bench_now_ns();
        payload_build(buf, (size_t)o.size, PAYLOAD_MAGIC, part, seq, ts);
        /* Keyed: key-000000000 to key-(K-1) in turn, each rewritten every K messages. */
        size_t klen =
            o.keys > 0 ? (size_t)snprintf(key, sizeof key, "key-%09ld", (long)(i % (size_t)o.keys))
                       : 0;
        for (;;) {
            run.sent_ns[i] = bench_now_ns();
            if (rd_kafka_produce(rkt, part, flags, buf, (size_t)o.size, klen ? key : NULL, klen,
                                 (void *)(uintptr_t)i) == 0)
                break;
            rd_kafka_resp_err_t err = rd_kafka_last_error();
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                bench_die("produce: %s", rd_kafka_err2str(err));
            if (o.paced)
                usleep(1000);
            else
                rd_kafka_poll(rk, 1);
        }
        sent = i + 1;
        if (!o.paced && (i & 255) == 0)
            rd_kafka_poll(rk, 0);
    }
    int64_t sent_end = bench_now_ns();
    int64_t deadline = sent_end + (int64_t)(o.timeout * 1e9);
    while (rd_kafka_outq_len(rk) > 0 && bench_now_ns() < deadline) {
        if (o.paced)
            usleep(1000);
        else
            rd_kafka_poll(rk, 50);
    }
    if (o.paced) {
        atomic_store(&poller.stop, true);
        pthread_join(poll_th, NULL);
    }
    double broker1 = bench_proc_cpu_s(o.pid), client1 = bench_self_cpu_s();
    if (run.delivered + run.failed < sent)
        bench_die("produce: only %" PRIu64 " of %zu messages reported after %.0f s",
                  run.delivered + run.failed, sent, o.timeout);
    n = sent;

    double secs = (double)(run.last_dr_ns - t0) / 1e9;
    double bytes = (double)run.delivered * (double)o.size;
    double broker_cpu = broker0 >= 0 && broker1 >= 0 ? broker1 - broker0 : -1;
    char label[32], fig[256];
    size_label(o.size, label, sizeof label);
    char base[160];
    snprintf(base, sizeof base, "produce %s P=%d acks=%s %s%s", label, o.partitions, o.acks,
             o.compression,
             o.idempotence == NULL                ? ""
             : strcmp(o.idempotence, "true") == 0 ? " idempotent"
                                                  : " plain");
    if (o.paced) {
        size_t len = strlen(base);
        snprintf(base + len, sizeof base - len, " %.0f msgs/s%s%s", o.rate, o.label ? " " : "",
                 o.label ? o.label : "");
    }

    if (run.failed > 0) {
        /* Figures of a run the broker refused in part would flatter it: only the failure counts. */
        fprintf(stderr, "runnel-bench: produce: %" PRIu64 " of %zu deliveries failed; first: %s\n",
                run.failed, n, run.first_err);
        snprintf(fig, sizeof fig, "%s all delivered", base);
        bench_emit(o.csv, &(bench_row_t){ .section = o.section,
                                          .figure = fig,
                                          .unit = "verify",
                                          .system = o.system,
                                          .value = 0,
                                          .broker_cpu_s = -1,
                                          .client_cpu_s = -1,
                                          .bytes = -1,
                                          .size = o.size });
        return 1;
    }
    if (o.paced) {
        /* The rate is given: the figures are the delivery latencies, with the window's CPU on
         * the p99 row (as e2e does). */
        double achieved = (double)n / ((double)(sent_end - t0) / 1e9);
        if (achieved < 0.95 * o.rate)
            fprintf(stderr,
                    "runnel-bench: produce: the producer reached only %.0f msgs/s of %.0f\n",
                    achieved, o.rate);
        qsort(run.lat_ns, run.nlat, sizeof *run.lat_ns, bench_cmp_i64);
        static const struct {
            const char *name;
            double q;
        } pq[] = { { "p50", 0.50 }, { "p99", 0.99 }, { "p99.9", 0.999 }, { "max", 1.0 } };
        for (size_t k = 0; k < 4; k++) {
            snprintf(fig, sizeof fig, "%s delivery %s ms", base, pq[k].name);
            bench_emit(o.csv,
                       &(bench_row_t){
                           .section = o.section,
                           .figure = fig,
                           .unit = "ms",
                           .system = o.system,
                           .value = bench_quantile_sorted(run.lat_ns, run.nlat, pq[k].q) / 1e6,
                           .broker_cpu_s = k == 1 ? broker_cpu : -1,
                           .client_cpu_s = k == 1 ? client1 - client0 : -1,
                           .bytes = k == 1 ? bytes : -1,
                           .size = o.size });
        }
        printf("  %zu messages in %.1f s\n", n, secs);
        rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        return 0;
    }
    bench_row_t row = { .section = o.section,
                        .system = o.system,
                        .broker_cpu_s = broker_cpu,
                        .client_cpu_s = client1 - client0,
                        .bytes = bytes,
                        .size = o.size };
    snprintf(fig, sizeof fig, "%s msgs/s", base);
    row.figure = fig, row.unit = "msgs/s", row.value = (double)run.delivered / secs;
    row.limit_key = "loopback TCP + page-cache append", row.target = o.target;
    bench_emit(o.csv, &row);
    snprintf(fig, sizeof fig, "%s MB/s", base);
    row.unit = "MB/s", row.value = bytes / 1e6 / secs, row.target = o.target_mb;
    bench_emit(o.csv, &row);

    qsort(run.lat_ns, run.nlat, sizeof *run.lat_ns, bench_cmp_i64);
    static const struct {
        const char *name;
        double q;
    } qs[] = { { "p50", 0.50 }, { "p99", 0.99 }, { "p99.9", 0.999 } };
    for (size_t k = 0; k < 3; k++) {
        snprintf(fig, sizeof fig, "%s delivery %s ms", base, qs[k].name);
        bench_emit(o.csv, &(bench_row_t){
                              .section = o.section,
                              .figure = fig,
                              .unit = "ms",
                              .system = o.system,
                              .value = bench_quantile_sorted(run.lat_ns, run.nlat, qs[k].q) / 1e6,
                              .broker_cpu_s = -1,
                              .client_cpu_s = -1,
                              .bytes = -1,
                              .size = o.size });
    }

    if (o.manifest != NULL) {
        FILE *f = fopen(o.manifest, "w");
        if (f == NULL)
            bench_die("%s: %s", o.manifest, strerror(errno));
        fprintf(f, "topic %s\nsize %ld\npartitions %d\n", o.topic, o.size, o.partitions);
        for (int p = 0; p < o.partitions; p++)
            fprintf(f, "%d %" PRIu64 " %" PRIu64 "\n", p, run.part_count[p], run.part_sum[p]);
        fclose(f);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return 0;
}

/* ---- consume ---- */

typedef struct part_state {
    uint64_t want_count, want_sum; /* from the manifest */
    int64_t lo, hi;                /* watermarks before reading */
    int64_t next_offset, first_offset;
    uint64_t first_seq, count, sum;
    bool eof, seen;
} part_state_t;

static int failures;

static void verify_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void verify_fail(const char *fmt, ...)
{
    if (failures++ < 10) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "runnel-bench: VERIFY FAILED: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
    }
}

static int cmd_consume(int argc, char **argv)
{
    opts_t o;
    parse_opts(argc, argv, &o);
    need(o.manifest, "--manifest");
    FILE *f = fopen(o.manifest, "r");
    if (f == NULL)
        bench_die("%s: %s", o.manifest, strerror(errno));
    char topic[256];
    long size;
    int nparts;
    if (fscanf(f, "topic %255s size %ld partitions %d", topic, &size, &nparts) != 3 || nparts < 1)
        bench_die("%s: not a manifest", o.manifest);
    part_state_t *ps = calloc((size_t)nparts, sizeof *ps);
    if (ps == NULL)
        bench_die("out of memory");
    uint64_t want_total = 0;
    for (int p = 0; p < nparts; p++) {
        int id;
        if (fscanf(f, "%d %" SCNu64 " %" SCNu64, &id, &ps[p].want_count, &ps[p].want_sum) != 3 ||
            id != p)
            bench_die("%s: bad partition line %d", o.manifest, p);
        want_total += ps[p].want_count;
    }
    fclose(f);

    rd_kafka_conf_t *conf = base_conf(&o);
    /* rd_kafka_assign() needs a group id, but nothing here joins or commits: no group protocol. */
    conf_set(conf, "group.id", "runnel-bench");
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "enable.auto.offset.store", "false");
    conf_set(conf, "enable.partition.eof", "true");
    conf_set(conf, "auto.offset.reset", "error");
    rd_kafka_t *rk = new_handle(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(rk);

    rd_kafka_topic_partition_list_t *assignment = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++) {
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, topic, p, &ps[p].lo, &ps[p].hi, 10000);
        if (err)
            bench_die("ListOffsets %s [%d]: %s", topic, p, rd_kafka_err2str(err));
        ps[p].next_offset = ps[p].lo;
        /* The beginning, as an absolute offset: a logical one (RD_KAFKA_OFFSET_BEGINNING) makes
         * librdkafka look it up again, at times half a second later, which would be timed. */
        rd_kafka_topic_partition_list_add(assignment, topic, p)->offset = ps[p].lo;
    }

    double broker0 = bench_proc_cpu_s(o.pid), client0 = bench_self_cpu_s();
    int64_t t0 = bench_now_ns(), t_last = t0;
    rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, assignment);
    if (aerr)
        bench_die("assign: %s", rd_kafka_err2str(aerr));
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    rd_kafka_message_t *msgs[1024];
    int eofs = 0;
    uint64_t total = 0;
    double bytes = 0;
    int64_t deadline = t0 + (int64_t)(o.timeout * 1e9);
    while (eofs < nparts && bench_now_ns() < deadline && failures < 1000) {
        /* A batch call blocks until its array is full or the timeout is up, so it is used only
         * when it cannot wait: the rest of the time one blocking poll waits for a message. */
        ssize_t got = rd_kafka_consume_batch_queue(q, 0, msgs, 1024);
        if (got == 0 && (msgs[0] = rd_kafka_consumer_poll(rk, 100)) != NULL)
            got = 1;
        for (ssize_t k = 0; k < got; k++) {
            rd_kafka_message_t *m = msgs[k];
            int p = m->partition;
            if (p < 0 || p >= nparts) {
                verify_fail("message for unknown partition %d", p);
            } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (!ps[p].eof && m->offset >= ps[p].hi) {
                    ps[p].eof = true;
                    eofs++;
                }
            } else if (m->err) {
                verify_fail("partition %d: consumer error: %s", p, rd_kafka_message_errstr(m));
            } else {
                header_t h = { 0 };
                const char *why = payload_check(m->payload, m->len, &h);
                part_state_t *s = &ps[p];
                if (why != NULL)
                    verify_fail("partition %d offset %" PRId64 ": %s", p, m->offset, why);
                else if (m->len != (size_t)size)
                    verify_fail("partition %d offset %" PRId64 ": %zu bytes, produced %ld", p,
                                m->offset, m->len, size);
                else if (h.partition != p)
                    verify_fail("partition %d offset %" PRId64
                                ": holds a message produced to partition %d",
                                p, m->offset, (int)h.partition);
                if (m->offset != s->next_offset)
                    verify_fail("partition %d: offset %" PRId64 " follows %" PRId64
                                " (expected %" PRId64 ")",
                                p, m->offset, s->next_offset - 1, s->next_offset);
                if (!s->seen) {
                    s->seen = true;
                    s->first_offset = m->offset;
                    s->first_seq = h.seq;
                } else if (why == NULL &&
                           h.seq - s->first_seq != (uint64_t)(m->offset - s->first_offset)) {
                    verify_fail("partition %d: offset %" PRId64 " holds sequence %" PRIu64
                                ", expected %" PRIu64,
                                p, m->offset, h.seq,
                                s->first_seq + (uint64_t)(m->offset - s->first_offset));
                }
                s->next_offset = m->offset + 1;
                s->count++;
                s->sum += h.hash;
                total++;
                bytes += (double)m->len;
                t_last = bench_now_ns();
            }
            rd_kafka_message_destroy(m);
        }
    }
    double broker1 = bench_proc_cpu_s(o.pid), client1 = bench_self_cpu_s();
    if (eofs < nparts)
        verify_fail("timed out after %.0f s: end reached in %d of %d partitions, %" PRIu64
                    " of %" PRIu64 " messages",
                    o.timeout, eofs, nparts, total, want_total);

    uint64_t retained = 0;
    for (int p = 0; p < nparts; p++) {
        part_state_t *s = &ps[p];
        retained += (uint64_t)(s->hi - s->lo);
        if (s->hi != (int64_t)s->want_count)
            verify_fail("partition %d: high watermark %" PRId64 ", produced %" PRIu64, p, s->hi,
                        s->want_count);
        if (s->count != (uint64_t)(s->hi - s->lo))
            verify_fail("partition %d: read %" PRIu64 " messages between watermarks %" PRId64
                        " and %" PRId64,
                        p, s->count, s->lo, s->hi);
        if (s->lo == 0) {
            if (s->count != s->want_count || s->sum != s->want_sum)
                verify_fail("partition %d: read %" PRIu64 " messages (hash sum %016" PRIx64
                            "), produced %" PRIu64 " (hash sum %016" PRIx64 ")",
                            p, s->count, s->sum, s->want_count, s->want_sum);
            if (s->seen && s->first_seq != 0)
                verify_fail("partition %d: offset 0 holds sequence %" PRIu64, p, s->first_seq);
        } else if (!o.allow_truncated) {
            verify_fail("partition %d: log start offset %" PRId64 ", but nothing was deleted", p,
                        s->lo);
        } else if (s->seen && s->first_seq + s->count != s->want_count) {
            verify_fail("partition %d: retained tail ends at sequence %" PRIu64
                        ", produced %" PRIu64,
                        p, s->first_seq + s->count, s->want_count);
        }
    }
    if (retained < want_total)
        printf("  note: %s retained %" PRIu64 " of %" PRIu64
               " messages (log start offsets above 0); "
               "figures cover those\n",
               o.system, retained, want_total);

    double secs = (double)(t_last - t0) / 1e9;
    char label[32], fig[256], base[160];
    size_label(size, label, sizeof label);
    snprintf(base, sizeof base, "consume %s P=%d", label, nparts);
    bench_row_t row = { .section = o.section,
                        .system = o.system,
                        .broker_cpu_s = broker0 >= 0 && broker1 >= 0 ? broker1 - broker0 : -1,
                        .client_cpu_s = client1 - client0,
                        .bytes = bytes,
                        .size = size };
    snprintf(fig, sizeof fig, "%s msgs/s", base);
    row.figure = fig, row.unit = "msgs/s", row.value = secs > 0 ? (double)total / secs : 0;
    row.limit_key = "sendfile cached file over loopback";
    bench_emit(o.csv, &row);
    snprintf(fig, sizeof fig, "%s MB/s", base);
    row.unit = "MB/s", row.value = secs > 0 ? bytes / 1e6 / secs : 0, row.target = o.target_mb;
    bench_emit(o.csv, &row);
    snprintf(fig, sizeof fig, "%s payloads verified", base);
    bench_emit(o.csv, &(bench_row_t){ .section = o.section,
                                      .figure = fig,
                                      .unit = "verify",
                                      .system = o.system,
                                      .value = failures == 0,
                                      .broker_cpu_s = -1,
                                      .client_cpu_s = -1,
                                      .bytes = -1,
                                      .size = size });
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_partition_list_destroy(assignment);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(ps);
    return failures == 0 ? 0 : 1;
}

/* ---- end to end ---- */

typedef struct e2e_run {
    rd_kafka_t *consumer;
    size_t n; /* measured messages */
    long size;
    int64_t *lat_ns; /* by sequence; -1 until received */
    atomic_size_t received;
    atomic_bool warm, stop;
    int errors;
} e2e_run_t;

static void *e2e_consumer_main(void *arg)
{
    e2e_run_t *run = arg;
    while (!atomic_load_explicit(&run->stop, memory_order_relaxed)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(run->consumer, 20);
        if (m == NULL)
            continue;
        int64_t now = bench_now_ns();
        header_t h;
        const char *why;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* Not an error: caught up. */
        } else if (m->err) {
            if (run->errors++ < 5)
                fprintf(stderr, "runnel-bench: e2e consumer: %s\n", rd_kafka_message_errstr(m));
        } else if ((why = payload_check(m->payload, m->len, &h)) != NULL) {
            verify_fail("e2e offset %" PRId64 ": %s", m->offset, why);
        } else if (h.magic == WARMUP_MAGIC) {
            atomic_store_explicit(&run->warm, true, memory_order_relaxed);
        } else if (h.seq >= run->n || run->lat_ns[h.seq] >= 0) {
            verify_fail("e2e offset %" PRId64 ": unexpected or repeated sequence %" PRIu64,
                        m->offset, h.seq);
        } else {
            run->lat_ns[h.seq] = now - h.ts_ns;
            atomic_fetch_add_explicit(&run->received, 1, memory_order_relaxed);
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

static void e2e_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    int *failed = opaque;
    if (m->err && (*failed)++ < 5)
        fprintf(stderr, "runnel-bench: e2e delivery: %s\n", rd_kafka_err2str(m->err));
}

static int cmd_e2e(int argc, char **argv)
{
    opts_t o;
    parse_opts(argc, argv, &o);
    need(o.topic, "--topic");
    if (o.size < HEADER_LEN)
        bench_die("--size must be at least %d", HEADER_LEN);
    fill_init((size_t)o.size);
    prctl(PR_SET_TIMERSLACK, 1UL); /* wake at 100 us ticks, not 50 us late */

    int failed = 0;
    rd_kafka_conf_t *pconf = base_conf(&o);
    conf_set(pconf, "acks", o.acks);
    conf_set(pconf, "linger.ms", "0");
    rd_kafka_conf_set_dr_msg_cb(pconf, e2e_delivery);
    rd_kafka_conf_set_opaque(pconf, &failed);
    rd_kafka_t *producer = new_handle(RD_KAFKA_PRODUCER, pconf);
    create_topic(producer, &o, o.topic, 1, o.no_create, 30);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(producer, o.topic, NULL);

    e2e_run_t run = { .n = (size_t)(o.rate * o.duration), .size = o.size };
    run.lat_ns = malloc(sizeof(*run.lat_ns) * (run.n + 1));
    uint8_t *buf = malloc((size_t)o.size);
    if (run.lat_ns == NULL || buf == NULL)
        bench_die("out of memory");
    for (size_t i = 0; i < run.n; i++)
        run.lat_ns[i] = -1;

    rd_kafka_conf_t *cconf = base_conf(&o);
    conf_set(cconf, "group.id", "runnel-bench-e2e");
    conf_set(cconf, "enable.auto.commit", "false");
    conf_set(cconf, "enable.auto.offset.store", "false");
    run.consumer = new_handle(RD_KAFKA_CONSUMER, cconf);
    rd_kafka_poll_set_consumer(run.consumer);
    rd_kafka_topic_partition_list_t *assignment = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(assignment, o.topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    if (rd_kafka_assign(run.consumer, assignment))
        bench_die("assign failed");
    pthread_t th;
    if (pthread_create(&th, NULL, e2e_consumer_main, &run) != 0)
        bench_die("pthread_create failed");

    /* Warm up until the consumer has seen a message: its connection is up and fetching. */
    int64_t warm_deadline = bench_now_ns() + 20 * 1000000000LL;
    for (uint64_t k = 0; !atomic_load(&run.warm); k++) {
        if (bench_now_ns() > warm_deadline)
            bench_die("e2e: the consumer saw no warm-up message in 20 s");
        payload_build(buf, (size_t)o.size, WARMUP_MAGIC, 0, k, bench_now_ns());
        if (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, buf, (size_t)o.size, NULL, 0, NULL) != 0)
            bench_die("e2e produce: %s", rd_kafka_err2str(rd_kafka_last_error()));
        rd_kafka_poll(producer, 10);
    }
    usleep(200000);

    double broker0 = bench_proc_cpu_s(o.pid), client0 = bench_self_cpu_s();
    int64_t period = (int64_t)(1e9 / o.rate), t0 = bench_now_ns();
    for (size_t i = 0; i < run.n; i++) {
        int64_t due = t0 + (int64_t)i * period;
        if (due > bench_now_ns()) {
            struct timespec ts = { .tv_sec = due / 1000000000, .tv_nsec = due % 1000000000 };
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
            }
        }
        payload_build(buf, (size_t)o.size, PAYLOAD_MAGIC, 0, i, bench_now_ns());
        if (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, buf, (size_t)o.size, NULL, 0, NULL) != 0)
            bench_die("e2e produce: %s", rd_kafka_err2str(rd_kafka_last_error()));
        rd_kafka_poll(producer, 0);
    }
    int64_t sent_end = bench_now_ns();
    int64_t deadline = sent_end + 10 * 1000000000LL;
    while (atomic_load(&run.received) < run.n && bench_now_ns() < deadline)
        rd_kafka_poll(producer, 5);
    double broker1 = bench_proc_cpu_s(o.pid), client1 = bench_self_cpu_s();
    atomic_store(&run.stop, true);
    pthread_join(th, NULL);

    size_t got = 0;
    int64_t maxlat = 0;
    for (size_t i = 0; i < run.n; i++) {
        if (run.lat_ns[i] >= 0) {
            if (run.lat_ns[i] > maxlat)
                maxlat = run.lat_ns[i];
            run.lat_ns[got++] = run.lat_ns[i];
        }
    }
    if (got < run.n)
        verify_fail("e2e: received %zu of %zu messages within 10 s of the last send", got, run.n);
    if (failed)
        verify_fail("e2e: %d deliveries failed", failed);
    double achieved = (double)run.n / ((double)(sent_end - t0) / 1e9);
    if (achieved < 0.95 * o.rate)
        fprintf(stderr, "runnel-bench: e2e: the producer reached only %.0f msgs/s of %.0f\n",
                achieved, o.rate);

    qsort(run.lat_ns, got, sizeof *run.lat_ns, bench_cmp_i64);
    char label[32], fig[256], base[160];
    size_label(o.size, label, sizeof label);
    snprintf(base, sizeof base, "e2e %s %.0f msgs/s", label, o.rate);
    if (failures > 0) {
        /* Latencies of the messages that did arrive would flatter a broker that lost the rest. */
        snprintf(fig, sizeof fig, "%s all received", base);
        bench_emit(o.csv, &(bench_row_t){ .section = o.section,
                                          .figure = fig,
                                          .unit = "verify",
                                          .system = o.system,
                                          .value = 0,
                                          .broker_cpu_s = -1,
                                          .client_cpu_s = -1,
                                          .bytes = -1,
                                          .size = o.size });
        _exit(1); /* the handles may wait on a broker that is gone */
    }
    static const struct {
        const char *name;
        double q;
        const char *limit;
    } qs[] = { { "p50", 0.50, "loopback round trip p50" },
               { "p99", 0.99, "loopback round trip p99" },
               { "p99.9", 0.999, NULL },
               { "max", 1.0, NULL } };
    char targets[4][16] = { "", "<1", "<5", "" };
    if (strcmp(o.section, "e2e") != 0) /* the targets are for the headline 100-byte run */
        memset(targets, 0, sizeof targets);
    double bytes = (double)got * (double)o.size;
    for (size_t k = 0; k < 4; k++) {
        snprintf(fig, sizeof fig, "%s %s ms", base, qs[k].name);
        double v = k == 3 ? (double)maxlat : bench_quantile_sorted(run.lat_ns, got, qs[k].q);
        bench_emit(o.csv, &(bench_row_t){ .section = o.section,
                                          .figure = fig,
                                          .unit = "ms",
                                          .system = o.system,
                                          .value = v / 1e6,
                                          .broker_cpu_s = k == 1 ? broker1 - broker0 : -1,
                                          .client_cpu_s = k == 1 ? client1 - client0 : -1,
                                          .bytes = k == 1 ? bytes : -1,
                                          .size = o.size,
                                          .limit_key = qs[k].limit,
                                          .target = targets[k][0] ? targets[k] : NULL });
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_flush(producer, 5000);
    rd_kafka_destroy(producer);
    rd_kafka_topic_partition_list_destroy(assignment);
    rd_kafka_consumer_close(run.consumer);
    rd_kafka_destroy(run.consumer);
    free(run.lat_ns);
    free(buf);
    return failures == 0 ? 0 : 1;
}

/* ---- alter: a topic's configs ---- */

/* AlterConfigs of one topic: its configs become exactly those of --topic-config (the others
 * return to the broker's defaults, as AlterConfigs, not the incremental kind, does). */
static int cmd_alter(int argc, char **argv)
{
    opts_t o;
    parse_opts(argc, argv, &o);
    need(o.topic, "--topic");
    if (o.ntopic_configs == 0)
        bench_die("alter: no --topic-config");
    char errstr[512];
    rd_kafka_t *rk = new_handle(RD_KAFKA_PRODUCER, base_conf(&o));
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, o.topic);
    for (int i = 0; i < o.ntopic_configs; i++) {
        char key[128];
        const char *value = split_kv(o.topic_configs[i], key, sizeof key);
        if (rd_kafka_ConfigResource_set_config(res, key, value) != RD_KAFKA_RESP_ERR_NO_ERROR)
            bench_die("alter %s: config %s refused", o.topic, o.topic_configs[i]);
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(ao, (int)(o.timeout * 1000), errstr, sizeof errstr);
    rd_kafka_AlterConfigs(rk, &res, 1, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, (int)(o.timeout * 1000));
    if (ev == NULL)
        bench_die("AlterConfigs %s: no answer in %.0f s", o.topic, o.timeout);
    if (rd_kafka_event_error(ev))
        bench_die("AlterConfigs %s: %s", o.topic, rd_kafka_event_error_string(ev));
    size_t n = 0;
    const rd_kafka_ConfigResource_t **out =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
    for (size_t i = 0; i < n; i++) {
        if (rd_kafka_ConfigResource_error(out[i]) != RD_KAFKA_RESP_ERR_NO_ERROR)
            bench_die("AlterConfigs %s: %s (%s)", o.topic,
                      rd_kafka_err2str(rd_kafka_ConfigResource_error(out[i])),
                      rd_kafka_ConfigResource_error_string(out[i])
                          ? rd_kafka_ConfigResource_error_string(out[i])
                          : "");
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return 0;
}

/* ---- raw Kafka requests: start-up probe and idle connections ---- */

/* Splits "host:port" (the last colon) into a connected socket with a 2 s receive timeout. */
static int connect_to(const char *hostport)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (colon == NULL || (size_t)(colon - hostport) >= sizeof host)
        return -EINVAL;
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = '\0';
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
        return -EINVAL;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return -errno;
    }
    struct timeval tv = { .tv_sec = 2 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        int err = -errno;
        close(fd);
        freeaddrinfo(ai);
        return err;
    }
    freeaddrinfo(ai);
    return fd;
}

static bool read_full(int fd, uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = read(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

static size_t put16(uint8_t *p, int v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}
static size_t put32(uint8_t *p, int32_t v)
{
    p[0] = (uint8_t)((uint32_t)v >> 24), p[1] = (uint8_t)((uint32_t)v >> 16);
    p[2] = (uint8_t)((uint32_t)v >> 8), p[3] = (uint8_t)v;
    return 4;
}
static int32_t get32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}
static int16_t get16(const uint8_t *p)
{
    return (int16_t)((uint16_t)p[0] << 8 | p[1]);
}

/* Sends a request with header v1 (client id "runnel-bench") and an optional body; reads the
 * response into a malloc'd buffer (*resp, *resp_len, excluding the size prefix). Returns false
 * on any failure or a correlation id mismatch. */
static bool kafka_call(int fd, int api_key, int version, int32_t corr, const uint8_t *body,
                       size_t body_len, uint8_t **resp, size_t *resp_len)
{
    uint8_t req[64];
    static const char client[] = "runnel-bench";
    size_t n = 4;
    n += put16(req + n, api_key);
    n += put16(req + n, version);
    n += put32(req + n, corr);
    n += put16(req + n, (int)strlen(client));
    memcpy(req + n, client, strlen(client));
    n += strlen(client);
    if (body_len > sizeof req - n)
        return false;
    memcpy(req + n, body, body_len);
    n += body_len;
    put32(req, (int32_t)(n - 4));
    if (write(fd, req, n) != (ssize_t)n)
        return false;
    uint8_t sz[4];
    if (!read_full(fd, sz, 4))
        return false;
    int32_t len = get32(sz);
    if (len < 4 || len > 64 << 20)
        return false;
    uint8_t *buf = malloc((size_t)len);
    if (buf == NULL || !read_full(fd, buf, (size_t)len) || get32(buf) != corr) {
        free(buf);
        return false;
    }
    *resp = buf;
    *resp_len = (size_t)len;
    return true;
}

/* ApiVersions v0 on an open connection: true when it answers with error 0. */
static bool api_versions_ok(int fd)
{
    uint8_t *resp;
    size_t len;
    if (!kafka_call(fd, 18, 0, 1, NULL, 0, &resp, &len))
        return false;
    bool ok = len >= 6 && get16(resp + 4) == 0;
    free(resp);
    return ok;
}

/* ApiVersions v0, then Metadata v0 for all topics: true when Metadata names at least one
 * broker, i.e. the broker can serve clients. */
static bool metadata_ok(const char *hostport)
{
    int fd = connect_to(hostport);
    if (fd < 0)
        return false;
    bool ok = false;
    uint8_t *resp = NULL, all_topics[4];
    size_t len;
    put32(all_topics, 0);
    if (api_versions_ok(fd) &&
        kafka_call(fd, 3, 0, 2, all_topics, sizeof all_topics, &resp, &len)) {
        /* correlation id, brokers[]: node_id, host (int16 length + bytes), port */
        if (len >= 18 && get32(resp + 4) >= 1) {
            int16_t hl = get16(resp + 12);
            ok = hl >= 0 && (size_t)hl + 18 <= len;
        }
        free(resp);
    }
    close(fd);
    return ok;
}

/* ---- spawn ---- */

static int cmd_spawn(int argc, char **argv)
{
    /* Options before "--", the broker's command line after it. */
    int dash = 1;
    while (dash < argc && strcmp(argv[dash], "--") != 0)
        dash++;
    if (dash >= argc - 1)
        bench_die(
            "usage: runnel-bench spawn --log FILE [--timeout S] [--settle-ms MS] -- COMMAND...");
    opts_t o;
    parse_opts(dash, argv, &o);
    need(o.log, "--log");
    int logw = open(o.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int logr = open(o.log, O_RDONLY | O_CLOEXEC);
    if (logw < 0 || logr < 0)
        bench_die("%s: %s", o.log, strerror(errno));
    lseek(logr, 0, SEEK_END);

    int64_t t0 = bench_now_ns();
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(logw, 1);
        dup2(logw, 2);
        execvp(argv[dash + 1], argv + dash + 1);
        fprintf(stderr, "runnel-bench spawn: exec %s: %s\n", argv[dash + 1], strerror(errno));
        _exit(127);
    }
    close(logw);

    /* Follow the log: the port comes from "listening on HOST:PORT", recovery figures from
     * "recovered DIR: scanned N batches (B bytes)" lines printed before it. */
    char acc[65536];
    size_t acc_len = 0;
    char hostport[300] = "";
    int64_t exec_ns = -1; /* when a launcher exec'd the broker itself, if it says */
    double scanned_bytes = 0, scanned_batches = 0;
    int recovered_logs = 0;
    int64_t ready_ns = -1, deadline = t0 + (int64_t)(o.timeout * 1e9);
    while (ready_ns < 0) {
        ssize_t n = read(logr, acc + acc_len, sizeof acc - 1 - acc_len);
        if (n > 0) {
            acc_len += (size_t)n;
            acc[acc_len] = '\0';
            char *line = acc, *nl;
            while ((nl = strchr(line, '\n')) != NULL) {
                *nl = '\0';
                char *at;
                if (hostport[0] == '\0' && (at = strstr(line, "listening on ")) != NULL) {
                    sscanf(at + strlen("listening on "), "%299s", hostport);
                    /* Runnel: "listening on 127.0.0.1:PORT (advertised ...)". */
                } else if ((at = strstr(line, "exec_monotonic_ns=")) != NULL) {
                    /* kafka_oracle.py --serve formats the node first, then execs the JVM: a
                     * Kafka user formats once, so start-up counts from the exec. */
                    long long ns = atoll(at + strlen("exec_monotonic_ns="));
                    if (ns >= t0 && ns <= bench_now_ns())
                        exec_ns = ns;
                } else if ((at = strstr(line, "recovered ")) != NULL &&
                           (at = strstr(at, ": scanned ")) != NULL) {
                    long long batches = 0, bytes = 0;
                    if (sscanf(at, ": scanned %lld batches (%lld bytes)", &batches, &bytes) == 2) {
                        scanned_batches += (double)batches;
                        scanned_bytes += (double)bytes;
                        recovered_logs++;
                    }
                }
                line = nl + 1;
            }
            acc_len -= (size_t)(line - acc);
            memmove(acc, line, acc_len);
            if (acc_len == sizeof acc - 1)
                acc_len = 0; /* a line longer than the buffer: drop it */
        }
        if (hostport[0] != '\0' && metadata_ok(hostport)) {
            ready_ns = bench_now_ns();
            break;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            bench_die("spawn: %s exited (status %d) before answering Metadata; see %s",
                      argv[dash + 1],
                      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), o.log);
        if (bench_now_ns() > deadline) {
            kill(pid, SIGKILL);
            bench_die("spawn: no Metadata answer from %s within %.0f s; see %s", argv[dash + 1],
                      o.timeout, o.log);
        }
        /* A fine probe for a broker that starts in milliseconds; a coarser one after a second,
         * so that probing does not take CPU from a JVM that starts in seconds. */
        usleep(hostport[0] == '\0' ? 100 : bench_now_ns() - t0 < 1000000000 ? 500 : 5000);
    }
    close(logr);
    usleep((useconds_t)o.settle_ms * 1000);
    printf("pid=%d hostport=%s startup_ms=%.3f rss_kb=%ld scanned_bytes=%.0f scanned_batches=%.0f "
           "recovered_logs=%d\n",
           (int)pid, hostport, (double)(ready_ns - (exec_ns > 0 ? exec_ns : t0)) / 1e6,
           bench_proc_rss_kb(pid), scanned_bytes, scanned_batches, recovered_logs);
    return 0;
}

/* ---- idle connections ---- */

static int cmd_conns(int argc, char **argv)
{
    opts_t o;
    parse_opts(argc, argv, &o);
    need(o.brokers, "--brokers");
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)o.count + 64) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)o.count + 64 ? rl.rlim_max : (rlim_t)o.count + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int *fds = calloc((size_t)o.count + 1, sizeof *fds);
    if (fds == NULL)
        bench_die("out of memory");
    long rss_before = bench_proc_rss_kb(o.pid);
    for (long i = 0; i < o.count; i++) {
        if ((fds[i] = connect_to(o.brokers)) < 0)
            bench_die("conns: connection %ld: %s", i + 1, strerror(-fds[i]));
        if (!api_versions_ok(fds[i]))
            bench_die("conns: connection %ld: no ApiVersions answer", i + 1);
    }
    usleep((useconds_t)o.settle_ms * 1000);
    long rss = bench_proc_rss_kb(o.pid);
    printf("conns=%ld rss_before_kb=%ld rss_kb=%ld\n", o.count, rss_before, rss);
    for (long i = 0; i < o.count; i++)
        close(fds[i]);
    free(fds);
    return 0;
}

/* ---- transactions ---- */

/* ApiVersions v0 over raw TCP: the name of the first transaction API the broker does not list
 * (InitProducerId, AddPartitionsToTxn, EndTxn, FindCoordinator v1 for key type 1), or NULL when
 * it lists them all. A broker without them is not measured: `txn` says so and exits with 3. */
static const char *missing_txn_api(const char *hostport)
{
    int fd = connect_to(hostport);
    if (fd < 0)
        bench_die("txn: cannot connect to %s: %s", hostport, strerror(-fd));
    uint8_t *resp;
    size_t len;
    if (!kafka_call(fd, 18, 0, 1, NULL, 0, &resp, &len) || len < 10 || get16(resp + 4) != 0)
        bench_die("txn: no ApiVersions answer from %s", hostport);
    close(fd);
    static const struct {
        int key, min_max;
        const char *name;
    } want[] = { { 10, 1, "FindCoordinator v1 (transaction coordinators)" },
                 { 22, 0, "InitProducerId" },
                 { 24, 0, "AddPartitionsToTxn" },
                 { 26, 0, "EndTxn" } };
    int32_t n = get32(resp + 6);
    const char *missing = NULL;
    for (size_t k = 0; k < sizeof want / sizeof want[0] && missing == NULL; k++) {
        bool found = false;
        for (int32_t i = 0; i < n && (size_t)(10 + 6 * (i + 1)) <= len; i++) {
            const uint8_t *e = resp + 10 + 6 * i;
            if (get16(e) == want[k].key && get16(e + 4) >= want[k].min_max)
                found = true;
        }
        if (!found)
            missing = want[k].name;
    }
    free(resp);
    return missing;
}

typedef struct txn_run {
    uint64_t delivered, failed;
    char first_err[256];
} txn_run_t;

static void txn_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    txn_run_t *run = opaque;
    if (!m->err) {
        run->delivered++;
    } else if (run->failed++ == 0) {
        snprintf(run->first_err, sizeof run->first_err, "partition %d: %s", (int)m->partition,
                 rd_kafka_err2str(m->err));
    }
}

/* Ends the run on a failed transactional call, naming it. */
static void txn_check(rd_kafka_error_t *error, const char *what)
{
    if (error == NULL)
        return;
    fprintf(stderr, "runnel-bench: txn: %s: %s (%s)\n", what, rd_kafka_error_string(error),
            rd_kafka_error_txn_requires_abort(error) ? "abortable"
            : rd_kafka_error_is_fatal(error)         ? "fatal"
                                                     : "retriable");
    rd_kafka_error_destroy(error);
    _exit(1); /* the handle may wait on a broker that no longer answers */
}

/* One transaction of `count` messages, round robin over the partitions from message index
 * *next; counts each partition's messages and whether the transaction wrote to it (one commit
 * marker each). */
static void txn_one(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const opts_t *o, uint8_t *buf,
                    uint64_t *next, uint64_t *part_count, uint64_t *markers, bool *touched)
{
    txn_check(rd_kafka_begin_transaction(rk), "begin_transaction");
    memset(touched, 0, sizeof *touched * (size_t)o->partitions);
    for (long k = 0; k < o->per_txn; k++, (*next)++) {
        int32_t part = (int32_t)(*next % (uint64_t)o->partitions);
        uint64_t seq = *next / (uint64_t)o->partitions;
        payload_build(buf, (size_t)o->size, PAYLOAD_MAGIC, part, seq, bench_now_ns());
        while (rd_kafka_produce(rkt, part, RD_KAFKA_MSG_F_COPY, buf, (size_t)o->size, NULL, 0,
                                NULL) != 0) {
            rd_kafka_resp_err_t err = rd_kafka_last_error();
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                bench_die("txn produce: %s", rd_kafka_err2str(err));
            rd_kafka_poll(rk, 1);
        }
        part_count[part]++;
        touched[part] = true;
    }
    txn_check(rd_kafka_commit_transaction(rk, (int)(o->timeout * 1000)), "commit_transaction");
    for (int p = 0; p < o->partitions; p++)
        markers[p] += touched[p];
}

static int cmd_txn(int argc, char **argv)
{
    opts_t o;
    parse_opts(argc, argv, &o);
    need(o.brokers, "--brokers");
    need(o.topic, "--topic");
    if (o.size < HEADER_LEN)
        bench_die("--size must be at least %d", HEADER_LEN);
    const char *missing = missing_txn_api(o.brokers);
    if (missing != NULL) {
        printf("  %s does not serve transactions: no %s in its ApiVersions; not measured\n",
               o.system, missing);
        return 3;
    }
    fill_init((size_t)o.size);

    txn_run_t run = { 0 };
    char linger[32], txn_id[300];
    snprintf(linger, sizeof linger, "%d", o.linger_ms);
    snprintf(txn_id, sizeof txn_id, "runnel-bench-%s", o.topic);
    rd_kafka_conf_t *conf = base_conf(&o);
    conf_set(conf, "transactional.id", txn_id);
    conf_set(conf, "linger.ms", linger);
    conf_set(conf, "queue.buffering.max.messages", "1000000");
    conf_set(conf, "queue.buffering.max.kbytes", "1048576");
    rd_kafka_conf_set_dr_msg_cb(conf, txn_delivery);
    rd_kafka_conf_set_opaque(conf, &run);
    rd_kafka_t *rk = new_handle(RD_KAFKA_PRODUCER, conf);
    create_topic(rk, &o, o.topic, o.partitions, o.no_create, 30);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o.topic, NULL);
    /* Kafka creates __transaction_state (50 partitions) on the first transactional
     * FindCoordinator: init_transactions may take seconds there, and is not timed. */
    txn_check(rd_kafka_init_transactions(rk, (int)(o.timeout * 1000)), "init_transactions");

    uint64_t *part_count = calloc((size_t)o.partitions, sizeof *part_count);
    uint64_t *markers = calloc((size_t)o.partitions, sizeof *markers);
    bool *touched = calloc((size_t)o.partitions, sizeof *touched);
    uint8_t *buf = malloc((size_t)o.size);
    size_t lat_cap = 1024, ntxn = 0;
    int64_t *lat_ns = malloc(lat_cap * sizeof *lat_ns);
    if (!part_count || !markers || !touched || !buf || !lat_ns)
        bench_die("out of memory");
    uint64_t next = 0;
    /* One transaction first, not timed: the partitions' first AddPartitionsToTxn and the
     * producer's first batches to them. */
    txn_one(rk, rkt, &o, buf, &next, part_count, markers, touched);
    uint64_t warm_msgs = next;

    double broker0 = bench_proc_cpu_s(o.pid), client0 = bench_self_cpu_s();
    int64_t t0 = bench_now_ns(), t_end = t0 + (int64_t)(o.duration * 1e9), t = t0;
    while (t < t_end) {
        txn_one(rk, rkt, &o, buf, &next, part_count, markers, touched);
        int64_t now = bench_now_ns();
        if (ntxn == lat_cap) {
            lat_cap *= 2;
            if ((lat_ns = realloc(lat_ns, lat_cap * sizeof *lat_ns)) == NULL)
                bench_die("out of memory");
        }
        lat_ns[ntxn++] = now - t;
        t = now;
    }
    double broker1 = bench_proc_cpu_s(o.pid), client1 = bench_self_cpu_s();
    double secs = (double)(t - t0) / 1e9;
    uint64_t msgs = next - warm_msgs;
    if (run.failed > 0 || run.delivered != next)
        verify_fail("txn: %" PRIu64 " of %" PRIu64 " messages delivered, %" PRIu64
                    " failed (first: %s)",
                    run.delivered, next, run.failed, run.first_err);

    /* Every committed message once and one commit marker per transaction and partition it
     * wrote to: each partition's high watermark is exactly their sum. The markers may land just
     * after EndTxn answers (Kafka writes them afterwards), so wait for them a little. */
    for (int p = 0; p < o.partitions && failures == 0; p++) {
        int64_t want = (int64_t)(part_count[p] + markers[p]), lo = -1, hi = -1;
        int64_t deadline = bench_now_ns() + 10 * 1000000000LL;
        for (;;) {
            rd_kafka_resp_err_t err =
                rd_kafka_query_watermark_offsets(rk, o.topic, p, &lo, &hi, 5000);
            if (err)
                bench_die("txn: ListOffsets %s [%d]: %s", o.topic, p, rd_kafka_err2str(err));
            if (hi == want || bench_now_ns() > deadline)
                break;
            usleep(20000);
        }
        if (lo != 0 || hi != want)
            verify_fail("txn: partition %d holds offsets %" PRId64 " to %" PRId64 "; %" PRIu64
                        " messages in %" PRIu64 " transactions want 0 to %" PRId64,
                        p, lo, hi, part_count[p], markers[p], want);
    }

    char label[32], fig[256], base[160];
    size_label(o.size, label, sizeof label);
    snprintf(base, sizeof base, "txn %s P=%d %ld msgs/txn", label, o.partitions, o.per_txn);
    if (failures > 0) {
        snprintf(fig, sizeof fig, "%s all committed", base);
        bench_emit(o.csv, &(bench_row_t){ .section = o.section,
                                          .figure = fig,
                                          .unit = "verify",
                                          .system = o.system,
                                          .value = 0,
                                          .broker_cpu_s = -1,
                                          .client_cpu_s = -1,
                                          .bytes = -1,
                                          .size = o.size });
        _exit(1);
    }
    double bytes = (double)msgs * (double)o.size;
    bench_row_t row = { .section = o.section,
                        .system = o.system,
                        .broker_cpu_s = broker0 >= 0 && broker1 >= 0 ? broker1 - broker0 : -1,
                        .client_cpu_s = client1 - client0,
                        .bytes = bytes,
                        .size = o.size };
    snprintf(fig, sizeof fig, "%s txns/s", base);
    row.figure = fig, row.unit = "txns/s", row.value = (double)ntxn / secs;
    bench_emit(o.csv, &row);
    snprintf(fig, sizeof fig, "%s msgs/s", base);
    row.unit = "msgs/s", row.value = (double)msgs / secs;
    bench_emit(o.csv, &row);
    snprintf(fig, sizeof fig, "%s MB/s", base);
    row.unit = "MB/s", row.value = bytes / 1e6 / secs;
    bench_emit(o.csv, &row);
    qsort(lat_ns, ntxn, sizeof *lat_ns, bench_cmp_i64);
    static const struct {
        const char *name;
        double q;
    } qs[] = { { "p50", 0.50 }, { "p99", 0.99 } };
    for (size_t k = 0; k < 2; k++) {
        snprintf(fig, sizeof fig, "%s begin-to-commit %s ms", base, qs[k].name);
        bench_emit(o.csv,
                   &(bench_row_t){ .section = o.section,
                                   .figure = fig,
                                   .unit = "ms",
                                   .system = o.system,
                                   .value = bench_quantile_sorted(lat_ns, ntxn, qs[k].q) / 1e6,
                                   .broker_cpu_s = -1,
                                   .client_cpu_s = -1,
                                   .bytes = -1,
                                   .size = o.size });
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(part_count);
    free(markers);
    free(touched);
    free(buf);
    free(lat_ns);
    return 0;
}

/* ---- report ---- */

#define MAX_FIGURES 512
/* figure; Runnel, Kafka, R/Kafka, mock, R/mock, limit, R/limit; target, met; broker CPU s,
 * broker s/GB and client CPU s, each for Runnel, Kafka and mock. */
#define TABLE_ROW \
    "%-48s %9s %9s %7s %9s %7s %9s %7s %-19s %-4s %7s %7s %7s %7s %7s %7s %7s %7s %7s\n"

/* Samples per figure and system: scripts/bench --runs takes 1 to 9, and issue 11's pairs run
 * each mode twice per run. */
#define MAX_RUNS 18

/* The systems a table compares, in the order of every per-system array: Runnel first (the
 * targets are its own), then librdkafka's mock cluster, then Apache Kafka. The raw rows name
 * them as system_names says; the table shows them in the order `shown` says. */
enum { SYS_RUNNEL, SYS_MOCK, SYS_KAFKA, NSYS };
static const char *const system_names[NSYS] = { "runnel", "mock", "kafka" };
static const int shown[NSYS] = { SYS_RUNNEL, SYS_KAFKA, SYS_MOCK };

/* One line of the table. Each system's columns are the medians over the runs (scripts/bench
 * --runs N appends N rows per figure and system); a verification row fails if any run failed. */
typedef struct figure {
    char section[64], name[192], unit[16], limit_key[96], target[64];
    long size;
    bool has[NSYS];
    int runs[NSYS];
    double sample[NSYS][4][MAX_RUNS]; /* value, broker CPU, client CPU, bytes */
    double value[NSYS], broker_cpu[NSYS], client_cpu[NSYS], bytes[NSYS];
} figure_t;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of the numbers among v[0..n), or NaN when there are none. */
static double median(const double *v, int n)
{
    double tmp[MAX_RUNS];
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i]))
            tmp[k++] = v[i];
    if (k == 0)
        return NAN;
    qsort(tmp, (size_t)k, sizeof tmp[0], cmp_double);
    return k % 2 ? tmp[k / 2] : (tmp[k / 2 - 1] + tmp[k / 2]) / 2;
}

static char *next_field(char **cur)
{
    char *s = *cur, *comma = strchr(s, ',');
    if (comma != NULL) {
        *comma = '\0';
        *cur = comma + 1;
    } else {
        s[strcspn(s, "\r\n")] = '\0';
        *cur = s + strlen(s);
    }
    return s;
}

static double num_or_nan(const char *s)
{
    return *s ? atof(s) : NAN;
}

static void fmt_value(char *out, size_t cap, double v, const char *unit)
{
    if (isnan(v))
        snprintf(out, cap, "-");
    else if (strcmp(unit, "verify") == 0)
        snprintf(out, cap, "%s", v > 0 ? "ok" : "FAILED");
    else if (fabs(v) >= 100)
        snprintf(out, cap, "%.0f", v);
    else if (fabs(v) >= 10)
        snprintf(out, cap, "%.1f", v);
    else if (fabs(v) >= 1)
        snprintf(out, cap, "%.2f", v);
    else
        snprintf(out, cap, "%.3f", v);
}

/* A ratio as fmt_value writes a number, but two significant digits below 0.01: Runnel's start-up
 * is a thousandth of Kafka's, and "0.000" would say nothing. */
static void fmt_ratio(char *out, size_t cap, double v)
{
    if (!isnan(v) && v != 0 && fabs(v) < 0.01)
        snprintf(out, cap, "%.2g", v);
    else
        fmt_value(out, cap, v, "");
}

static double cpu_per_gb(const figure_t *fg, int s)
{
    if (!fg->has[s] || isnan(fg->broker_cpu[s]) || isnan(fg->bytes[s]) || fg->bytes[s] <= 0 ||
        strcmp(fg->unit, "MB/s") != 0)
        return NAN;
    return fg->broker_cpu[s] / (fg->bytes[s] / 1e9);
}

/* Evaluates Runnel's target "A;B;..." where each is [cpu]OP NUMBER[%limit], OP mock or OP kafka:
 * "yes", "NO" or "". */
static const char *target_met(const figure_t *fg, double limit)
{
    if (!fg->target[0])
        return "";
    if (!fg->has[SYS_RUNNEL])
        return "?";
    char buf[64];
    snprintf(buf, sizeof buf, "%s", fg->target);
    bool all = true;
    for (char *tok = strtok(buf, ";"); tok != NULL; tok = strtok(NULL, ";")) {
        double lhs = fg->value[SYS_RUNNEL], rhs;
        if (strncmp(tok, "cpu", 3) == 0) {
            lhs = cpu_per_gb(fg, SYS_RUNNEL);
            tok += 3;
        }
        char op[3] = { 0 };
        size_t oplen = strspn(tok, "<>=");
        if (oplen == 0 || oplen > 2)
            return "?";
        memcpy(op, tok, oplen);
        tok += oplen;
        int other = strcmp(tok, "mock") == 0    ? SYS_MOCK
                    : strcmp(tok, "kafka") == 0 ? SYS_KAFKA
                                                : -1;
        if (other >= 0) {
            rhs = fg->has[other] ? fg->value[other] : NAN;
        } else {
            char *end;
            rhs = strtod(tok, &end);
            if (strcmp(end, "%limit") == 0)
                rhs = rhs / 100 * limit;
        }
        if (isnan(lhs) || isnan(rhs))
            return "?";
        bool ok = strcmp(op, ">=") == 0   ? lhs >= rhs
                  : strcmp(op, "<=") == 0 ? lhs <= rhs
                  : strcmp(op, ">") == 0  ? lhs > rhs
                                          : lhs < rhs;
        all = all && ok;
    }
    return all ? "yes" : "NO";
}

static int cmd_report(int argc, char **argv)
{
    if (argc != 3)
        bench_die("usage: runnel-bench report RAW.csv OUT.csv");
    FILE *in = fopen(argv[1], "r");
    if (in == NULL)
        bench_die("%s: %s", argv[1], strerror(errno));
    static figure_t figs[MAX_FIGURES], limits[64];
    int nfigs = 0, nlimits = 0;
    char line[1024];
    while (fgets(line, sizeof line, in) != NULL) {
        char *cur = line;
        char *section = next_field(&cur), *name = next_field(&cur), *unit = next_field(&cur);
        char *system = next_field(&cur), *value = next_field(&cur), *bcpu = next_field(&cur);
        char *ccpu = next_field(&cur), *bytes = next_field(&cur), *size = next_field(&cur);
        char *limit_key = next_field(&cur), *target = next_field(&cur);
        if (strcmp(section, "section") == 0 || !*name)
            continue;
        figure_t *fg = NULL;
        int s;
        if (strcmp(system, "limit") == 0) {
            s = 0;
            for (int i = 0; i < nlimits && fg == NULL; i++)
                if (strcmp(limits[i].name, name) == 0)
                    fg = &limits[i];
            if (fg == NULL) {
                if (nlimits == 64)
                    continue;
                fg = &limits[nlimits++];
            }
        } else {
            s = -1;
            for (int k = 0; k < NSYS; k++)
                if (strcmp(system, system_names[k]) == 0)
                    s = k;
            if (s < 0)
                continue;
            for (int i = 0; i < nfigs && fg == NULL; i++)
                if (strcmp(figs[i].name, name) == 0)
                    fg = &figs[i];
            if (fg == NULL) {
                if (nfigs == MAX_FIGURES)
                    continue;
                fg = &figs[nfigs++];
            }
        }
        snprintf(fg->section, sizeof fg->section, "%s", section);
        snprintf(fg->name, sizeof fg->name, "%s", name);
        snprintf(fg->unit, sizeof fg->unit, "%s", unit);
        if (*limit_key)
            snprintf(fg->limit_key, sizeof fg->limit_key, "%s", limit_key);
        if (*target)
            snprintf(fg->target, sizeof fg->target, "%s", target);
        fg->size = atol(size);
        fg->has[s] = true;
        if (fg->runs[s] == MAX_RUNS)
            continue;
        int r = fg->runs[s]++;
        fg->sample[s][0][r] = atof(value);
        fg->sample[s][1][r] = num_or_nan(bcpu);
        fg->sample[s][2][r] = num_or_nan(ccpu);
        fg->sample[s][3][r] = num_or_nan(bytes);
    }
    fclose(in);
    for (int i = 0; i < nfigs + nlimits; i++) {
        figure_t *fg = i < nfigs ? &figs[i] : &limits[i - nfigs];
        for (int s = 0; s < NSYS; s++) {
            if (!fg->has[s])
                continue;
            fg->value[s] = median(fg->sample[s][0], fg->runs[s]);
            if (strcmp(fg->unit, "verify") == 0) {
                for (int r = 0; r < fg->runs[s]; r++)
                    fg->value[s] =
                        fg->sample[s][0][r] < fg->value[s] ? fg->sample[s][0][r] : fg->value[s];
            }
            fg->broker_cpu[s] = median(fg->sample[s][1], fg->runs[s]);
            fg->client_cpu[s] = median(fg->sample[s][2], fg->runs[s]);
            fg->bytes[s] = median(fg->sample[s][3], fg->runs[s]);
        }
    }

    /* Group the rows by section, in this order, keeping the order of the rows within each. */
    static const char *const order[] = { "startup", "footprint", "produce",  "consume",
                                         "e2e",     "e2e-sizes", "parts",    "idempotent",
                                         "txn",     "raw",       "recovery", "compaction" };
    int rank[MAX_FIGURES];
    for (int i = 0; i < nfigs; i++) {
        rank[i] = (int)(sizeof order / sizeof order[0]);
        for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
            if (strcmp(figs[i].section, order[k]) == 0)
                rank[i] = (int)k;
    }
    for (int i = 1; i < nfigs; i++) {
        figure_t fg = figs[i];
        int r = rank[i], j = i;
        for (; j > 0 && rank[j - 1] > r; j--) {
            figs[j] = figs[j - 1];
            rank[j] = rank[j - 1];
        }
        figs[j] = fg;
        rank[j] = r;
    }

    FILE *out = fopen(argv[2], "w");
    if (out == NULL)
        bench_die("%s: %s", argv[2], strerror(errno));
    /* The CSV keeps the columns it had with two systems, in their order, and appends Kafka's:
     * a reader of the old file reads the new one. */
    fprintf(
        out,
        "section,figure,unit,size,runnel,mock,runnel_over_mock,limit,runnel_over_limit,target,met,"
        "runnel_broker_cpu_s,runnel_broker_cpu_s_per_gb,mock_broker_cpu_s,mock_broker_cpu_s_per_gb,"
        "runnel_client_cpu_s,mock_client_cpu_s,kafka,runnel_over_kafka,kafka_broker_cpu_s,"
        "kafka_broker_cpu_s_per_gb,kafka_client_cpu_s\n");
    printf(TABLE_ROW, "figure", "Runnel", "Kafka", "R/Kafka", "mock", "R/mock", "limit", "R/limit",
           "target", "met", "broker", "CPU s", "", "broker", "s/GB", "", "client", "CPU s", "");
    printf(TABLE_ROW, "", "", "", "", "", "", "", "", "", "", "Runnel", "Kafka", "mock", "Runnel",
           "Kafka", "mock", "Runnel", "Kafka", "mock");
    const char *last_section = "";
    for (int i = 0; i < nfigs; i++) {
        figure_t *fg = &figs[i];
        double limit = NAN;
        for (int k = 0; k < nlimits && fg->limit_key[0]; k++) {
            if (strcmp(limits[k].name, fg->limit_key) == 0) {
                limit = limits[k].value[0];
                /* A byte-rate limit bounds a message rate at limit / message size. */
                if (strcmp(fg->unit, "msgs/s") == 0 && fg->size > 0)
                    limit = limit * 1e6 / (double)fg->size;
            }
        }
        bool verify = strcmp(fg->unit, "verify") == 0;
        /* CPU goes on one row per workload: a workload's txns/s, msgs/s and MB/s rows share it,
         * shown on the MB/s one. */
        bool cpu_row = strcmp(fg->unit, "msgs/s") != 0 && strcmp(fg->unit, "txns/s") != 0;
        double v[NSYS], over[NSYS], cpu[NSYS], per_gb[NSYS], client[NSYS];
        for (int s = 0; s < NSYS; s++) {
            v[s] = fg->has[s] ? fg->value[s] : NAN;
            cpu[s] = fg->has[s] ? fg->broker_cpu[s] : NAN;
            per_gb[s] = cpu_per_gb(fg, s);
            client[s] = fg->has[s] ? fg->client_cpu[s] : NAN;
        }
        for (int s = 0; s < NSYS; s++) /* Runnel over each system */
            over[s] = verify || v[s] == 0 ? NAN : v[SYS_RUNNEL] / v[s];
        double rl = isnan(limit) || limit == 0 ? NAN : v[SYS_RUNNEL] / limit;
        const char *met = target_met(fg, limit);
        char c[16][32];
        fmt_value(c[0], 32, v[SYS_RUNNEL], fg->unit);
        fmt_value(c[1], 32, v[SYS_KAFKA], fg->unit);
        fmt_ratio(c[2], 32, over[SYS_KAFKA]);
        fmt_value(c[3], 32, v[SYS_MOCK], fg->unit);
        fmt_ratio(c[4], 32, over[SYS_MOCK]);
        fmt_value(c[5], 32, limit, "");
        fmt_ratio(c[6], 32, rl);
        for (int k = 0; k < NSYS; k++) {
            int s = shown[k];
            fmt_value(c[7 + k], 32, cpu_row ? cpu[s] : NAN, "");
            fmt_value(c[10 + k], 32, per_gb[s], "");
            fmt_value(c[13 + k], 32, cpu_row ? client[s] : NAN, "");
        }
        if (strcmp(last_section, fg->section) != 0 && i > 0)
            printf("\n");
        last_section = fg->section;
        printf(TABLE_ROW, fg->name, c[0], c[1], c[2], c[3], c[4], c[5], c[6], fg->target, met, c[7],
               c[8], c[9], c[10], c[11], c[12], c[13], c[14], c[15]);
        fprintf(out, "%s,%s,%s,%ld,", fg->section, fg->name, fg->unit, fg->size);
        double cols[] = { v[SYS_RUNNEL], v[SYS_MOCK], over[SYS_MOCK], limit, rl };
        for (size_t k = 0; k < 5; k++) {
            if (!isnan(cols[k]))
                fprintf(out, "%.6g", cols[k]);
            fputc(',', out);
        }
        fprintf(out, "%s,%s,", fg->target, met);
        double tail[] = { cpu[SYS_RUNNEL],   per_gb[SYS_RUNNEL], cpu[SYS_MOCK],
                          per_gb[SYS_MOCK],  client[SYS_RUNNEL], client[SYS_MOCK],
                          v[SYS_KAFKA],      over[SYS_KAFKA],    cpu[SYS_KAFKA],
                          per_gb[SYS_KAFKA], client[SYS_KAFKA] };
        size_t ntail = sizeof tail / sizeof tail[0];
        for (size_t k = 0; k < ntail; k++) {
            /* The figures keep six digits, the CPU figures four, as before. */
            if (!isnan(tail[k]))
                fprintf(out, k == 6 || k == 7 ? "%.6g" : "%.4g", tail[k]);
            fputc(k == ntail - 1 ? '\n' : ',', out);
        }
    }
    if (nlimits > 0) {
        printf("\nmachine limits:");
        for (int k = 0; k < nlimits; k++) {
            char v[32];
            fmt_value(v, sizeof v, limits[k].value[0], "");
            printf("%s %s %s %s", k ? ";" : "", limits[k].name, v, limits[k].unit);
            fprintf(out, "limits,%s,%s,0,,,,%.6g,,,,,,,,,,,,,,\n", limits[k].name, limits[k].unit,
                    limits[k].value[0]);
        }
        printf("\n");
    }
    fclose(out);
    return 0;
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        { "spawn", cmd_spawn },   { "produce", cmd_produce }, { "consume", cmd_consume },
        { "e2e", cmd_e2e },       { "conns", cmd_conns },     { "limits", bench_limits_main },
        { "report", cmd_report }, { "txn", cmd_txn },         { "alter", cmd_alter },
    };
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2) {
        for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
            if (strcmp(argv[1], cmds[i].name) == 0)
                return cmds[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "Usage: runnel-bench spawn|produce|consume|e2e|txn|alter|conns|limits|report "
                    "[OPTIONS]\n"
                    "See the header of tests/bench/bench.c; scripts/bench runs them all.\n");
    return 2;
}
