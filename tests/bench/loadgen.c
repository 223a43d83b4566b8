/* SPDX-License-Identifier: Apache-2.0 */
/* runnel-loadgen: a load generator that does not bound the broker. At 100-byte messages
 * librdkafka uses 1.5-3x the broker's CPU, so runnel-bench's produce figures measure the client.
 * This program encodes one Produce request per partition once, then replays it over several
 * connections, each with many requests in flight, and reads the answers checking only their
 * error codes; `fetch` reads a topic over and over walking batch headers only (never records).
 * What it measures is each broker's own ceiling on this machine.
 *
 *   runnel-loadgen produce --brokers HOST:PORT --topic T [--partitions P] [--connections C]
 *                          [--inflight K] [--records N] [--size S] [--acks A] [--seconds D]
 *                          [--idempotent]
 *   runnel-loadgen fetch   --brokers HOST:PORT --topic T [--partitions P] [--connections C]
 *                          [--max-bytes B] [--seconds D]
 *   common: --pid BROKER_PID (CPU accounting), --system NAME, --csv RAW, --section NAME
 *
 * Fixed versions that Kafka 4.x and Runnel both serve: CreateTopics v4, Produce v7, Fetch v11
 * (all classic, request header v1); scripts/bench runs both modes against Runnel and Apache
 * Kafka 4.4 in the same run. produce creates the topic (an existing one is fine) and
 * warms every partition up before it measures. Every request is checked: a non-zero error code
 * ends the run with status 1. Results go out as runnel-bench raw rows (bench.h).
 *
 * --idempotent: one producer id from InitProducerId v0 (null transactional id) for the whole
 * run, and every request carries it with its partition's next base sequence, which advances by
 * the batch's record count per request, as a librdkafka or Java producer's would. Each partition
 * is then written by one connection only (partitions must be a multiple of connections), so its
 * requests reach the broker in sequence order. A new sequence changes the batch's CRC-32C; as
 * CRC-32C is affine over bytes of a fixed length, the CRC of a sequence is that of sequence 0
 * XORed with one precomputed term per bit set, so patching a request costs 32 XORs, not a pass
 * over its bytes: the generator's own cost stays that of plain produce. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "records/records.h"
#include "util/endian.h"

enum { API_PRODUCE = 0, API_FETCH = 1, API_CREATE_TOPICS = 19, API_INIT_PRODUCER_ID = 22 };
enum { MAX_CONNECTIONS = 64, MAX_PARTITIONS = 1024 };

typedef struct options {
    const char *host, *port, *topic, *system, *csv, *section;
    pid_t pid;
    int partitions, connections, inflight, records, size, acks, seconds;
    int max_bytes;
    bool idempotent;
} options_t;

static options_t opt = {
    .system = "runnel",
    .section = "raw",
    .partitions = 4,
    .connections = 4,
    .inflight = 16,
    .records = 100,
    .size = 100,
    .acks = 1,
    .seconds = 10,
    .max_bytes = 1 << 20,
};

/* ---- a growable byte buffer and the encoders it needs ---- */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf_t;

static void put(buf_t *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL)
            bench_die("out of memory");
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put8(buf_t *b, uint8_t v)
{
    put(b, &v, 1);
}

static void put16(buf_t *b, uint16_t v)
{
    uint8_t x[2];
    rn_store_be16(x, v);
    put(b, x, 2);
}

static void put32(buf_t *b, uint32_t v)
{
    uint8_t x[4];
    rn_store_be32(x, v);
    put(b, x, 4);
}

static void put64(buf_t *b, uint64_t v)
{
    uint8_t x[8];
    rn_store_be64(x, v);
    put(b, x, 8);
}

static void put_str(buf_t *b, const char *s)
{
    put16(b, (uint16_t)strlen(s));
    put(b, s, strlen(s));
}

static void put_varint(buf_t *b, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); /* zigzag */
    while (z >= 0x80) {
        put8(b, (uint8_t)(z | 0x80));
        z >>= 7;
    }
    put8(b, (uint8_t)z);
}

/* A request header v1 (api, version, correlation id, client id) after a size placeholder. */
static void begin_request(buf_t *b, int16_t api, int16_t version, int32_t corr)
{
    b->len = 0;
    put32(b, 0);
    put16(b, (uint16_t)api);
    put16(b, (uint16_t)version);
    put32(b, (uint32_t)corr);
    put_str(b, "runnel-loadgen");
}

static void end_request(buf_t *b)
{
    rn_store_be32(b->p, (uint32_t)(b->len - 4));
}

/* The producer of an --idempotent run (InitProducerId), or -1 and -1. */
static int64_t producer_id = -1;
static int16_t producer_epoch = -1;

/* One uncompressed v2 batch of `n` records with `size`-byte values and no key, from
 * producer_id/producer_epoch with base sequence 0 when idempotent, else -1. */
static void build_batch(buf_t *b, int n, int size)
{
    buf_t recs = { 0 };
    uint8_t *value = calloc(1, (size_t)size + 1);
    for (int i = 0; i < size; i++)
        value[i] = (uint8_t)('a' + i % 26);
    for (int i = 0; i < n; i++) {
        buf_t r = { 0 };
        put8(&r, 0);          /* attributes */
        put_varint(&r, 0);    /* timestampDelta */
        put_varint(&r, i);    /* offsetDelta */
        put_varint(&r, -1);   /* key: null */
        put_varint(&r, size); /* value */
        put(&r, value, (size_t)size);
        put_varint(&r, 0); /* headers */
        put_varint(&recs, (int64_t)r.len);
        put(&recs, r.p, r.len);
        free(r.p);
    }
    int64_t now = bench_now_ns() / 1000000;
    size_t start = b->len;
    put64(b, 0);                 /* base offset: the broker assigns it */
    put32(b, 0);                 /* batch length, below */
    put32(b, 0xffffffffu);       /* partition leader epoch */
    put8(b, 2);                  /* magic */
    put32(b, 0);                 /* crc, below */
    put16(b, 0);                 /* attributes: none, CreateTime */
    put32(b, (uint32_t)(n - 1)); /* last offset delta */
    put64(b, (uint64_t)now);     /* base timestamp */
    put64(b, (uint64_t)now);     /* max timestamp */
    put64(b, (uint64_t)producer_id);
    put16(b, (uint16_t)producer_epoch);
    put32(b, producer_id >= 0 ? 0 : 0xffffffffu); /* base sequence */
    put32(b, (uint32_t)n);                        /* records count */
    put(b, recs.p, recs.len);
    rn_store_be32(b->p + start + 8, (uint32_t)(b->len - start - 12));
    rn_store_be32(b->p + start + 17, rn_crc32c(0, b->p + start + 21, b->len - start - 21));
    free(recs.p);
    free(value);
}

/* ---- sockets ---- */

static int connect_to(void)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
    if (getaddrinfo(opt.host, opt.port, &hints, &ai) != 0)
        bench_die("cannot resolve %s:%s", opt.host, opt.port);
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        bench_die("cannot connect to %s:%s: %s", opt.host, opt.port, strerror(errno));
    freeaddrinfo(ai);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            bench_die("send: %s", k < 0 ? strerror(errno) : "closed");
        p += k;
        n -= (size_t)k;
    }
}

static void recv_all(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = recv(fd, p, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            bench_die("recv: %s", k < 0 ? strerror(errno) : "closed by the broker");
        p += k;
        n -= (size_t)k;
    }
}

/* Reads one response into `b` (size prefix stripped) and checks its correlation id. */
static void read_response(int fd, buf_t *b, int32_t corr)
{
    uint8_t prefix[4];
    recv_all(fd, prefix, 4);
    uint32_t size = rn_load_be32(prefix);
    if (size < 4 || size > (256u << 20))
        bench_die("response of %u bytes", size);
    if (b->cap < size) {
        b->cap = size;
        b->p = realloc(b->p, size);
        if (b->p == NULL)
            bench_die("out of memory");
    }
    b->len = size;
    recv_all(fd, b->p, size);
    if ((int32_t)rn_load_be32(b->p) != corr)
        bench_die("correlation id %d, expected %d", (int32_t)rn_load_be32(b->p), corr);
}

/* A bounded reader over a response, failing the run on a short one. */
typedef struct cursor {
    const uint8_t *p, *end;
} cursor_t;

static const uint8_t *take(cursor_t *c, size_t n)
{
    if ((size_t)(c->end - c->p) < n)
        bench_die("response shorter than its fields");
    const uint8_t *at = c->p;
    c->p += n;
    return at;
}

static int16_t get16(cursor_t *c)
{
    return (int16_t)rn_load_be16(take(c, 2));
}

static int32_t get32(cursor_t *c)
{
    return (int32_t)rn_load_be32(take(c, 4));
}

static int64_t get64(cursor_t *c)
{
    return (int64_t)rn_load_be64(take(c, 8));
}

static void skip_str(cursor_t *c)
{
    int16_t n = get16(c);
    if (n > 0)
        take(c, (size_t)n);
}

/* ---- produce ---- */

/* One request per partition, built once; each connection sends its own copies, patching the
 * correlation id in place (and with --idempotent the base sequence and the CRC). */
static buf_t *produce_requests;
static _Atomic int64_t produced_msgs, produce_errors;
static _Atomic bool stop_now;

/* Where the batch starts in every request (the same in all: the partition is a fixed-width
 * field), and, for --idempotent, the CRC of the batch with sequence 0 and the term each bit of
 * the sequence XORs into it. Batch fields at: CRC 17, base sequence 53 (KIP-98's layout). */
enum { BATCH_CRC = 17, BATCH_CRC_FROM = 21, BATCH_BASE_SEQUENCE = 53 };
static size_t batch_pos;
static uint32_t crc_seq0, crc_bit[31];
/* Each partition's next base sequence; touched by its one connection only (after the warm-up,
 * which runs before the connections start). */
static int32_t next_sequence[MAX_PARTITIONS];

/* A batch's CRC-32C field, computed over its bytes. */
static uint32_t batch_crc(const uint8_t *batch, size_t len)
{
    return rn_crc32c(0, batch + BATCH_CRC_FROM, len - BATCH_CRC_FROM);
}

/* The CRC terms of the 31 bits a sequence can have (sequences run 0 to 2^31-1, then wrap). */
static void prepare_sequences(buf_t *batch)
{
    crc_seq0 = batch_crc(batch->p, batch->len);
    for (int bit = 0; bit < 31; bit++) {
        rn_store_be32(batch->p + BATCH_BASE_SEQUENCE, 1u << bit);
        crc_bit[bit] = batch_crc(batch->p, batch->len) ^ crc_seq0;
    }
    rn_store_be32(batch->p + BATCH_BASE_SEQUENCE, 0);
}

/* Writes the partition's next base sequence into a request for it, with the batch's CRC, and
 * advances the sequence by the batch's records (mod 2^31, as Kafka counts). */
static void take_sequence(buf_t *req, int partition)
{
    uint32_t seq = (uint32_t)next_sequence[partition], crc = crc_seq0;
    for (int bit = 0; bit < 31; bit++)
        if (seq >> bit & 1)
            crc ^= crc_bit[bit];
    rn_store_be32(req->p + batch_pos + BATCH_BASE_SEQUENCE, seq);
    rn_store_be32(req->p + batch_pos + BATCH_CRC, crc);
    next_sequence[partition] = (int32_t)((seq + (uint32_t)opt.records) & 0x7fffffffu);
}

static void build_produce_requests(void)
{
    produce_requests = calloc((size_t)opt.partitions, sizeof *produce_requests);
    buf_t batch = { 0 };
    build_batch(&batch, opt.records, opt.size);
    if (opt.idempotent)
        prepare_sequences(&batch);
    for (int p = 0; p < opt.partitions; p++) {
        buf_t *b = &produce_requests[p];
        begin_request(b, API_PRODUCE, 7, 0);
        put16(b, 0xffff); /* transactional id: null */
        put16(b, (uint16_t)opt.acks);
        put32(b, 30000); /* timeout ms */
        put32(b, 1);     /* one topic */
        put_str(b, opt.topic);
        put32(b, 1); /* one partition */
        put32(b, (uint32_t)p);
        put32(b, (uint32_t)batch.len);
        batch_pos = b->len;
        put(b, batch.p, batch.len);
        end_request(b);
    }
    free(batch.p);
}

/* The first partition's error code of a Produce v7 response. */
static int16_t produce_error(const buf_t *resp)
{
    cursor_t c = { resp->p + 4, resp->p + resp->len };
    if (get32(&c) != 1)
        bench_die("a Produce answer without exactly one topic");
    skip_str(&c);
    if (get32(&c) != 1)
        bench_die("a Produce answer without exactly one partition");
    get32(&c);
    return get16(&c);
}

static void send_produce(int fd, buf_t *requests, int partition, int32_t corr)
{
    buf_t *b = &requests[partition];
    rn_store_be32(b->p + 8, (uint32_t)corr); /* after the size, api key and version */
    if (opt.idempotent)
        take_sequence(b, partition);
    send_all(fd, b->p, b->len);
}

/* This connection's own copies of the requests. */
static buf_t *copy_requests(void)
{
    buf_t *copies = calloc((size_t)opt.partitions, sizeof *copies);
    if (copies == NULL)
        bench_die("out of memory");
    for (int p = 0; p < opt.partitions; p++)
        put(&copies[p], produce_requests[p].p, produce_requests[p].len);
    return copies;
}

static void free_requests(buf_t *requests)
{
    for (int p = 0; p < opt.partitions; p++)
        free(requests[p].p);
    free(requests);
}

/* Sends one request per partition until every one is accepted: a new topic's partitions may
 * need a moment (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION on Kafka). */
static void warm_up(void)
{
    int fd = connect_to();
    buf_t resp = { 0 };
    buf_t *requests = copy_requests();
    int32_t corr = 1;
    for (int p = 0; p < opt.partitions; p++) {
        int64_t deadline = bench_now_ns() + 30 * 1000000000LL;
        for (;;) {
            int32_t seq = next_sequence[p];
            send_produce(fd, requests, p, corr);
            read_response(fd, &resp, corr++);
            int16_t err = produce_error(&resp);
            if (err == 0)
                break;
            next_sequence[p] = seq; /* refused: nothing was written, so the sequence is free */
            if (bench_now_ns() > deadline)
                bench_die("partition %d still answers error %d after 30 s", p, err);
            usleep(100 * 1000);
        }
    }
    free_requests(requests);
    free(resp.p);
    close(fd);
}

static void *produce_thread(void *arg)
{
    int index = (int)(intptr_t)arg;
    int fd = connect_to();
    buf_t resp = { 0 };
    buf_t *requests = copy_requests();
    int32_t sent = 0, received = 0;
    int partition = index % opt.partitions;
    bool acks0 = opt.acks == 0;
    while (!atomic_load_explicit(&stop_now, memory_order_relaxed)) {
        while (!acks0 && sent - received < opt.inflight) {
            send_produce(fd, requests, partition, sent++);
            partition = (partition + opt.connections) % opt.partitions;
        }
        if (acks0) {
            send_produce(fd, requests, partition, sent++);
            atomic_fetch_add_explicit(&produced_msgs, opt.records, memory_order_relaxed);
            continue;
        }
        read_response(fd, &resp, received++);
        if (produce_error(&resp) != 0)
            atomic_fetch_add_explicit(&produce_errors, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&produced_msgs, opt.records, memory_order_relaxed);
    }
    while (!acks0 && received < sent) /* drain, so the broker finishes what it was sent */
        read_response(fd, &resp, received++);
    free_requests(requests);
    free(resp.p);
    close(fd);
    return NULL;
}

static void create_topic(void)
{
    int fd = connect_to();
    buf_t b = { 0 }, resp = { 0 };
    begin_request(&b, API_CREATE_TOPICS, 4, 1);
    put32(&b, 1);
    put_str(&b, opt.topic);
    put32(&b, (uint32_t)opt.partitions);
    put16(&b, 1);     /* replication factor */
    put32(&b, 0);     /* no assignments */
    put32(&b, 0);     /* no configs */
    put32(&b, 30000); /* timeout ms */
    put8(&b, 0);      /* validate only: false */
    end_request(&b);
    send_all(fd, b.p, b.len);
    read_response(fd, &resp, 1);
    cursor_t c = { resp.p + 4, resp.p + resp.len };
    get32(&c); /* throttle */
    get32(&c); /* one topic */
    skip_str(&c);
    int16_t err = get16(&c);
    if (err != 0 && err != 36) /* TOPIC_ALREADY_EXISTS is fine */
        bench_die("CreateTopics %s: error %d", opt.topic, err);
    free(b.p);
    free(resp.p);
    close(fd);
}

/* InitProducerId v0 with a null transactional id: producer_id and producer_epoch. A broker
 * may answer COORDINATOR_LOAD_IN_PROGRESS (14) at first (Kafka fetches its block of ids from
 * the controller on first use) or COORDINATOR_NOT_AVAILABLE (15): retried for up to 30 s. */
static void init_producer_id(void)
{
    int fd = connect_to();
    buf_t b = { 0 }, resp = { 0 };
    int64_t deadline = bench_now_ns() + 30 * 1000000000LL;
    for (int32_t corr = 1;; corr++) {
        begin_request(&b, API_INIT_PRODUCER_ID, 0, corr);
        put16(&b, 0xffff); /* transactional id: null */
        put32(&b, 60000);  /* transaction timeout ms, unused without one */
        end_request(&b);
        send_all(fd, b.p, b.len);
        read_response(fd, &resp, corr);
        cursor_t c = { resp.p + 4, resp.p + resp.len };
        get32(&c); /* throttle */
        int16_t err = get16(&c);
        producer_id = get64(&c);
        producer_epoch = get16(&c);
        if (err == 0 && producer_id >= 0 && producer_epoch >= 0)
            break;
        if ((err != 14 && err != 15) || bench_now_ns() > deadline)
            bench_die("InitProducerId: error %d (producer id %lld, epoch %d)", err,
                      (long long)producer_id, producer_epoch);
        usleep(100 * 1000);
    }
    free(b.p);
    free(resp.p);
    close(fd);
}

/* ---- fetch ---- */

static _Atomic int64_t fetched_msgs, fetched_bytes;

/* Walks the batch headers of a records field: the messages and payload-ish bytes of the whole
 * batches in it, and the offset after the last one (the last may be cut short by max_bytes). */
static int64_t walk_batches(const uint8_t *p, size_t len, int64_t offset, int64_t *msgs)
{
    size_t pos = 0;
    while (len - pos >= 61) {
        int64_t base = (int64_t)rn_load_be64(p + pos);
        uint32_t blen = rn_load_be32(p + pos + 8);
        if (blen < 49 || blen + 12 > len - pos)
            break;
        int32_t last_delta = (int32_t)rn_load_be32(p + pos + 23);
        int32_t count = (int32_t)rn_load_be32(p + pos + 57);
        *msgs += count;
        offset = base + last_delta + 1;
        pos += blen + 12;
    }
    atomic_fetch_add_explicit(&fetched_bytes, (int64_t)pos, memory_order_relaxed);
    return offset;
}

static void *fetch_thread(void *arg)
{
    int index = (int)(intptr_t)arg;
    int fd = connect_to();
    buf_t req = { 0 }, resp = { 0 };
    int64_t offsets[MAX_PARTITIONS] = { 0 };
    int32_t corr = 0;
    while (!atomic_load_explicit(&stop_now, memory_order_relaxed)) {
        int mine = 0;
        begin_request(&req, API_FETCH, 11, corr);
        put32(&req, 0xffffffffu); /* replica id -1 */
        put32(&req, 100);         /* max wait ms */
        put32(&req, 1);           /* min bytes */
        put32(&req, (uint32_t)opt.max_bytes);
        put8(&req, 0);            /* read_uncommitted */
        put32(&req, 0);           /* session id */
        put32(&req, 0xffffffffu); /* session epoch -1 */
        put32(&req, 1);
        put_str(&req, opt.topic);
        size_t count_at = req.len;
        put32(&req, 0);
        for (int p = index; p < opt.partitions; p += opt.connections) {
            put32(&req, (uint32_t)p);
            put32(&req, 0xffffffffu); /* current leader epoch -1 */
            put64(&req, (uint64_t)offsets[p]);
            put64(&req, UINT64_MAX); /* log start offset -1 */
            put32(&req, (uint32_t)opt.max_bytes);
            mine++;
        }
        rn_store_be32(req.p + count_at, (uint32_t)mine);
        put32(&req, 0);    /* forgotten topics */
        put_str(&req, ""); /* rack id */
        end_request(&req);
        send_all(fd, req.p, req.len);
        read_response(fd, &resp, corr++);
        cursor_t c = { resp.p + 4, resp.p + resp.len };
        get32(&c); /* throttle */
        int16_t err = get16(&c);
        get32(&c); /* session id */
        if (err != 0)
            bench_die("Fetch error %d", err);
        int32_t ntopics = get32(&c);
        int64_t msgs = 0;
        for (int32_t t = 0; t < ntopics; t++) {
            skip_str(&c);
            int32_t nparts = get32(&c);
            for (int32_t i = 0; i < nparts; i++) {
                int32_t part = get32(&c);
                int16_t perr = get16(&c);
                int64_t hw = get64(&c);
                get64(&c); /* last stable offset */
                get64(&c); /* log start offset */
                int32_t naborted = get32(&c);
                for (int32_t a = 0; a < naborted; a++)
                    take(&c, 16);
                get32(&c); /* preferred read replica */
                int32_t rlen = get32(&c);
                const uint8_t *records = rlen > 0 ? take(&c, (size_t)rlen) : NULL;
                if (perr != 0)
                    bench_die("Fetch partition %d: error %d", part, perr);
                if (part < 0 || part >= opt.partitions)
                    bench_die("Fetch answered partition %d", part);
                if (records != NULL)
                    offsets[part] = walk_batches(records, (size_t)rlen, offsets[part], &msgs);
                if (offsets[part] >= hw)
                    offsets[part] = 0; /* read the cached log again from the start */
            }
        }
        atomic_fetch_add_explicit(&fetched_msgs, msgs, memory_order_relaxed);
    }
    free(req.p);
    free(resp.p);
    close(fd);
    return NULL;
}

/* ---- main ---- */

static void parse(int argc, char **argv)
{
    static const struct option longs[] = {
        { "brokers", required_argument, 0, 'b' },    { "topic", required_argument, 0, 't' },
        { "partitions", required_argument, 0, 'p' }, { "connections", required_argument, 0, 'c' },
        { "inflight", required_argument, 0, 'k' },   { "records", required_argument, 0, 'n' },
        { "size", required_argument, 0, 's' },       { "acks", required_argument, 0, 'a' },
        { "seconds", required_argument, 0, 'd' },    { "max-bytes", required_argument, 0, 'm' },
        { "pid", required_argument, 0, 'P' },        { "system", required_argument, 0, 'S' },
        { "csv", required_argument, 0, 'C' },        { "section", required_argument, 0, 'X' },
        { "idempotent", no_argument, 0, 'I' },       { 0, 0, 0, 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'b': {
            char *hp = strdup(optarg), *colon = strrchr(hp, ':');
            if (colon == NULL)
                bench_die("--brokers wants HOST:PORT");
            *colon = '\0';
            opt.host = hp;
            opt.port = colon + 1;
            break;
        }
        case 't':
            opt.topic = optarg;
            break;
        case 'p':
            opt.partitions = atoi(optarg);
            break;
        case 'c':
            opt.connections = atoi(optarg);
            break;
        case 'k':
            opt.inflight = atoi(optarg);
            break;
        case 'n':
            opt.records = atoi(optarg);
            break;
        case 's':
            opt.size = atoi(optarg);
            break;
        case 'a':
            opt.acks = atoi(optarg);
            break;
        case 'd':
            opt.seconds = atoi(optarg);
            break;
        case 'm':
            opt.max_bytes = atoi(optarg);
            break;
        case 'P':
            opt.pid = (pid_t)atoi(optarg);
            break;
        case 'S':
            opt.system = optarg;
            break;
        case 'C':
            opt.csv = optarg;
            break;
        case 'X':
            opt.section = optarg;
            break;
        case 'I':
            opt.idempotent = true;
            break;
        default:
            bench_die("unknown option (see the header of tests/bench/loadgen.c)");
        }
    }
    if (opt.host == NULL || opt.topic == NULL)
        bench_die("--brokers and --topic are required");
    if (opt.partitions < 1 || opt.partitions > MAX_PARTITIONS || opt.connections < 1 ||
        opt.connections > MAX_CONNECTIONS || opt.inflight < 1 || opt.records < 1 || opt.size < 0 ||
        opt.seconds < 1 || opt.max_bytes < 1)
        bench_die("an option is out of range");
    if (opt.idempotent && (opt.connections > opt.partitions || opt.partitions % opt.connections))
        bench_die("--idempotent needs partitions to be a multiple of connections: each partition "
                  "written by one connection keeps its sequences in order");
}

/* Runs `fn` on every connection for opt.seconds and returns the elapsed seconds, with the
 * broker's and this process's CPU over the same time. */
static double run_threads(void *(*fn)(void *), double *broker_cpu, double *self_cpu)
{
    pthread_t threads[MAX_CONNECTIONS];
    double b0 = bench_proc_cpu_s(opt.pid), s0 = bench_self_cpu_s();
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < opt.connections; i++)
        if (pthread_create(&threads[i], NULL, fn, (void *)(intptr_t)i) != 0)
            bench_die("pthread_create failed");
    sleep((unsigned)opt.seconds);
    atomic_store(&stop_now, true);
    for (int i = 0; i < opt.connections; i++)
        pthread_join(threads[i], NULL);
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    *broker_cpu = opt.pid > 0 ? bench_proc_cpu_s(opt.pid) - b0 : -1;
    *self_cpu = bench_self_cpu_s() - s0;
    return secs;
}

static void emit(const char *what, const char *unit, double value, double bytes, double broker_cpu,
                 double self_cpu)
{
    /* The figure names what shapes the load: record size, batch, connections, requests in
     * flight, acks. A fetch names only the size and the connections: it walks what is there. */
    char figure[160];
    if (strcmp(what, "produce") == 0)
        snprintf(figure, sizeof figure, "raw produce %dB x%d C=%d K=%d acks=%d%s %s", opt.size,
                 opt.records, opt.connections, opt.inflight, opt.acks,
                 opt.idempotent ? " idempotent" : "", unit);
    else
        snprintf(figure, sizeof figure, "raw %s %dB C=%d %s", what, opt.size, opt.connections,
                 unit);
    bench_row_t row = {
        .section = opt.section,
        .figure = figure,
        .unit = unit,
        .system = opt.system,
        .value = value,
        .broker_cpu_s = broker_cpu,
        .client_cpu_s = self_cpu,
        .bytes = bytes,
        .size = opt.size,
    };
    bench_emit(opt.csv, &row);
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "produce") != 0 && strcmp(argv[1], "fetch") != 0))
        bench_die("usage: runnel-loadgen produce|fetch --brokers HOST:PORT --topic T [options]");
    bool produce = strcmp(argv[1], "produce") == 0;
    parse(argc - 1, argv + 1);
    double broker_cpu, self_cpu;
    if (produce) {
        create_topic();
        if (opt.idempotent)
            init_producer_id();
        build_produce_requests();
        warm_up();
        double secs = run_threads(produce_thread, &broker_cpu, &self_cpu);
        if (produce_errors > 0)
            bench_die("%lld Produce requests failed", (long long)produce_errors);
        double msgs = (double)produced_msgs;
        emit("produce", "msgs/s", msgs / secs, msgs * opt.size, broker_cpu, self_cpu);
        emit("produce", "MB/s", msgs * opt.size / secs / 1e6, msgs * opt.size, broker_cpu,
             self_cpu);
    } else {
        double secs = run_threads(fetch_thread, &broker_cpu, &self_cpu);
        double msgs = (double)fetched_msgs;
        emit("fetch", "msgs/s", msgs / secs, (double)fetched_bytes, broker_cpu, self_cpu);
        emit("fetch", "MB/s", (double)fetched_bytes / secs / 1e6, (double)fetched_bytes, broker_cpu,
             self_cpu);
    }
    return 0;
}
