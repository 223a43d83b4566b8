/* SPDX-License-Identifier: Apache-2.0 */
/* A broker without sockets for the handler tests: a configuration built from properties text,
 * a real topic registry (and, when asked, a real coordinator) in a fresh temporary directory,
 * and helpers that frame a request struct as a client would, run it through
 * rn_handlers_dispatch and decode the response. Work a handler queues (util/work.h) goes to
 * the fixture's own executor, which runs it after the handler has returned, as the broker's
 * thread pool would run it later; the answer is there when run_frame returns. A response's
 * file ranges (Fetch records) are
 * read in with pread, so the captured bytes are what a client would receive. */
#ifndef RN_TESTS_HANDLERS_FIXTURE_H
#define RN_TESTS_HANDLERS_FIXTURE_H

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "coord/coord.h"
#include "handlers/handlers.h"
#include "log/log.h"
#include "records/records.h"
#include "topics/topics.h"
#include "util/err.h"
#include "util/logging.h"

#define NOW 1700000000000

/* The fixture's executor: a FIFO the test drains (fixture_run_work). */
typedef struct fixture_executor {
    rn_executor_t ex;
    rn_work_t *head, **tail;
    int queued;  /* pieces of work queued since the fixture started */
    bool refuse; /* queue fails with -EAGAIN, as a broken executor would */
} fixture_executor_t;

static struct {
    fixture_executor_t executor;
    char dir[64];
    runnel_config_t *props;
    rn_config_t cfg;
    rn_topics_t *topics;
    rn_coord_t *coord; /* NULL unless the fixture was started with one */
    rn_broker_info_t info;
    rn_arena_t arena;      /* decoded responses */
    const char *client_id; /* sent in every request header */
    const char *peer;      /* the client's address as the broker sees it */
} fx;

static inline rn_str_t S(const char *s)
{
    return rn_str_from_cstr(s);
}

static inline int fixture_queue(rn_executor_t *ex, rn_work_t *w)
{
    fixture_executor_t *fe = rn_container_of(ex, fixture_executor_t, ex);
    if (fe->refuse)
        return -EAGAIN;
    w->next = NULL;
    *fe->tail = w;
    fe->tail = &w->next;
    fe->queued++;
    return 0;
}

/* Runs queued work, first in first out, until none is left (done may queue more). */
static inline void fixture_run_work(void)
{
    fixture_executor_t *fe = &fx.executor;
    while (fe->head != NULL) {
        rn_work_t *w = fe->head;
        fe->head = w->next;
        if (fe->head == NULL)
            fe->tail = &fe->head;
        w->run(w);
        w->done(w, 0);
    }
}

/* Opens the registry, and the coordinator when `with_coord`. */
static inline void fixture_open(bool with_coord)
{
    cr_assert_eq(rn_topics_open(&fx.cfg, &fx.topics), 0);
    fx.info.topics = fx.topics;
    if (with_coord) {
        cr_assert_eq(rn_coord_open(&fx.cfg, fx.topics, NOW, &fx.coord), 0);
        fx.info.coord = fx.coord;
    }
}

static inline void fixture_close(void)
{
    rn_coord_close(fx.coord);
    fx.coord = NULL;
    fx.info.coord = NULL;
    rn_topics_close(fx.topics);
    fx.topics = NULL;
    fx.info.topics = NULL;
}

/* Starts a broker in /tmp/runnel-<name>-XXXXXX. `props` is "key=value\n" lines (log.dirs is
 * added). */
static inline void fixture_start(const char *name, const char *props, bool with_coord)
{
    memset(&fx, 0, sizeof fx);
    fx.executor.ex.queue = fixture_queue;
    fx.executor.tail = &fx.executor.head;
    rn_log_set_level(RN_LOG_ERROR); /* the registry's INFO lines and the sweeps' WARN lines */
    snprintf(fx.dir, sizeof fx.dir, "/tmp/runnel-%s-XXXXXX", name);
    cr_assert_not_null(mkdtemp(fx.dir));
    fx.props = runnel_config_new();
    char text[512], err[256];
    snprintf(text, sizeof text, "log.dirs=%s\n%s", fx.dir, props ? props : "");
    cr_assert_eq(rn_props_parse(fx.props, text, strlen(text), err, sizeof err), 0, "%s", err);
    cr_assert_eq(rn_config_build(fx.props, &fx.cfg, err, sizeof err), 0, "%s", err);
    fx.info.config = &fx.cfg;
    fx.info.node_id = 1;
    fx.info.cluster_id = "test-cluster";
    fx.info.advertised_host = "127.0.0.1";
    atomic_store(&fx.info.advertised_port, 9092);
    fx.info.auto_create_topics_enable = fx.cfg.auto_create_topics_enable;
    fx.info.num_partitions = fx.cfg.num_partitions;
    fixture_open(with_coord);
    rn_arena_init(&fx.arena, 0);
    fx.client_id = "handlers-test";
    fx.peer = "127.0.0.1:51234";
}

static inline int fixture_remove_entry(const char *path, const struct stat *sb, int flag,
                                       struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static inline void fixture_stop(void)
{
    rn_arena_deinit(&fx.arena);
    fixture_close();
    rn_config_deinit(&fx.cfg);
    runnel_config_free(fx.props);
    nftw(fx.dir, fixture_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- logs, written directly ---- */

/* The log of `topic`-`partition`, which must exist. */
static inline rn_log_t *fixture_log_of(const char *topic, int32_t partition)
{
    rn_topic_t *t = rn_topics_get(fx.topics, S(topic));
    cr_assert_not_null(t, "topic %s", topic);
    rn_log_t *log = rn_topic_partition(t, partition)->log;
    rn_topic_unref(t); /* the registry keeps the topic while it is not deleted */
    return log;
}

/* Appends the batch `p`/`len` (validated first) as Produce would, stamped `log_append_time`
 * when that is not -1 (a LogAppendTime topic). */
static inline void fixture_append(const char *topic, int32_t partition, uint8_t *p, size_t len,
                                  int64_t log_append_time)
{
    rn_records_summary_t sum;
    const char *why = NULL;
    cr_assert_eq(rn_records_validate(p, len, 1 << 20, &sum, &why), 0, "%s", why);
    if (log_append_time >= 0) {
        rn_records_set_log_append_time(p, len, log_append_time);
        sum.max_timestamp = log_append_time;
    }
    int64_t base;
    bool sync;
    cr_assert_eq(rn_log_append(fixture_log_of(topic, partition), p, len, &sum, &base, &sync), 0);
}

/* ---- one request, one response ---- */

typedef struct reply {
    rn_finish_t how;
    int calls;
    uint8_t *bytes; /* malloc'd copy of the response frame; the caller frees */
    size_t len;
} reply_t;

/* Copies `len` bytes of a file range, as sendfile would send them. */
static inline void fixture_read_range(const rn_file_range_t *range, uint8_t *to)
{
    size_t done = 0;
    while (done < range->len) {
        ssize_t n = pread(range->fd, to + done, range->len - done, range->pos + (off_t)done);
        cr_assert_gt(n, 0, "file range %zu bytes at %lld", range->len, (long long)range->pos);
        done += (size_t)n;
    }
}

/* The response as it goes on the wire: the memory parts, with each file range (Fetch records,
 * which the network room sends with sendfile) read in at its place. */
static inline void fixture_capture(rn_request_t *req, rn_finish_t how)
{
    reply_t *o = req->finish_ctx;
    o->how = how;
    o->calls++;
    if (how != RN_FINISH_RESPOND)
        return;
    const rn_outbuf_t *out = &req->out;
    o->len = rn_outbuf_wire_len(out);
    o->bytes = malloc(o->len ? o->len : 1);
    cr_assert_not_null(o->bytes);
    size_t at = 0, pos = 0;
    for (size_t i = 0; i < out->nsplices; i++) {
        const rn_splice_t *s = &out->splices[i];
        memcpy(o->bytes + pos, out->data + at, s->at - at);
        pos += s->at - at;
        at = s->at;
        fixture_read_range(&s->range, o->bytes + pos);
        pos += s->range.len;
    }
    memcpy(o->bytes + pos, out->data + at, out->len - at);
}

static inline reply_t run_frame(const uint8_t *frame, size_t len)
{
    reply_t o = { 0 };
    rn_request_t req;
    memset(&req, 0, sizeof req);
    req.frame = frame;
    req.frame_len = len;
    req.peer = fx.peer;
    req.broker = &fx.info;
    req.executor = &fx.executor.ex;
    rn_arena_init(&req.arena, 0);
    rn_outbuf_init(&req.out);
    req.finish = fixture_capture;
    req.finish_ctx = &o;
    rn_handlers_dispatch(&req);
    fixture_run_work();
    rn_outbuf_deinit(&req.out);
    rn_arena_deinit(&req.arena);
    cr_assert_eq(o.calls, 1, "every request is finished exactly once");
    return o;
}

static inline bool flexible(int16_t key, int16_t version)
{
    const rn_proto_api_t *api = rn_proto_api_find(key);
    return api->flexible_min >= 0 && version >= api->flexible_min;
}

/* Frames `body` (the API's request struct) behind a request header, as a client would. */
static inline void build_frame(int16_t key, int16_t version, const void *body, rn_outbuf_t *w)
{
    rn_outbuf_init(w);
    rn_write_int16(w, key);
    rn_write_int16(w, version);
    rn_write_int32(w, 7);
    rn_write_string(w, false, S(fx.client_id));
    if (flexible(key, version))
        rn_write_uvarint(w, 0);
    rn_proto_api_find(key)->request_encode(w, version, body);
    cr_assert(!w->failed);
}

/* Sends `body` and decodes the response into `resp` (the API's response struct). */
static inline void call(int16_t key, int16_t version, const void *body, void *resp)
{
    rn_outbuf_t w;
    build_frame(key, version, body, &w);
    reply_t o = run_frame(w.data, w.len);
    rn_outbuf_deinit(&w);
    cr_assert_eq(o.how, RN_FINISH_RESPOND, "API %d v%d answered", key, version);
    /* Decoded strings point into the response bytes: keep a copy for the test's life. */
    uint8_t *bytes = rn_arena_try_alloc(&fx.arena, o.len);
    cr_assert_not_null(bytes);
    memcpy(bytes, o.bytes, o.len);
    free(o.bytes);
    cr_assert_geq(o.len, 8);
    uint32_t size =
        (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 | bytes[3];
    cr_assert_eq(size, o.len - 4, "the size prefix counts every byte after it, file ranges too");
    size_t header = 8 + (flexible(key, version) ? 1 : 0);
    rn_reader_t r;
    rn_reader_init(&r, bytes + header, o.len - header);
    cr_assert_eq(rn_proto_api_find(key)->response_decode(&r, version, &fx.arena, resp),
                 RN_DECODE_OK);
    cr_assert_eq(rn_reader_left(&r), 0);
}

#endif
