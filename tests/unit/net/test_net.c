/* SPDX-License-Identifier: Apache-2.0 */
/* The network room against real sockets: a real rn_net on 127.0.0.1, port 0, two loops, and
 * blocking client sockets in the test thread. Handlers answer in whatever order a test wants
 * (inside on_request or later from a timer on the request's loop); clients must always see
 * responses in request order. Requests here are minimal: size, api_key, api_version,
 * correlation_id, payload; the echo response is size, correlation_id, payload. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "net/net.h"
#include "util/logging.h"
#include "util/outbuf.h"

/* ---- time and waiting ---- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool wait_for(atomic_int *value, int want, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    while (atomic_load(value) < want) {
        if (now_ms() > deadline)
            return false;
        usleep(2000);
    }
    return true;
}

/* ---- bytes ---- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int32_t req_corr(const rn_net_req_t *req)
{
    return (int32_t)be32(req->frame + 4);
}

/* ---- the server side ---- */

static rn_net_t *net_start_with(int nloops, size_t max_request_bytes, uint64_t idle_ms,
                                bool one_at_a_time, rn_net_request_cb cb)
{
    rn_net_config_t config = {
        .host = "127.0.0.1",
        .port = 0,
        .nloops = nloops,
        .max_request_bytes = max_request_bytes,
        .one_at_a_time = one_at_a_time,
        .idle_ms = idle_ms,
        .on_request = cb,
    };
    rn_net_t *net = NULL;
    int err = rn_net_new(&config, &net);
    cr_assert_eq(err, 0, "rn_net_new: %s", strerror(-err));
    cr_assert_gt(rn_net_port(net), 0);
    cr_assert_eq(rn_net_start(net), 0);
    return net;
}

static rn_net_t *net_start(int nloops, size_t max_request_bytes, uint64_t idle_ms,
                           rn_net_request_cb cb)
{
    return net_start_with(nloops, max_request_bytes, idle_ms, false, cb);
}

/* Echoes the correlation id and the payload. */
static void respond_echo(rn_net_req_t *req)
{
    rn_outbuf_t out;
    rn_outbuf_init(&out);
    rn_outbuf_extend(&out, 4);
    rn_outbuf_append(&out, req->frame + 4, 4);
    rn_outbuf_append(&out, req->frame + 8, req->len - 8);
    rn_outbuf_patch_be32(&out, 0, (uint32_t)out.len - 4);
    rn_net_respond(req, &out);
    cr_assert_eq(out.len, 0, "rn_net_respond takes the content");
    rn_outbuf_deinit(&out);
}

static void echo_handler(rn_net_req_t *req, void *ctx)
{
    (void)ctx;
    respond_echo(req);
}

/* A response later, from a timer on the request's loop (outside any dispatch). */
typedef struct later {
    uv_timer_t timer;
    rn_net_req_t *req;
    void (*fn)(rn_net_req_t *req);
} later_t;

static void on_later_closed(uv_handle_t *handle)
{
    free(handle->data);
}

static void on_later(uv_timer_t *timer)
{
    later_t *later = timer->data;
    later->fn(later->req);
    uv_close((uv_handle_t *)timer, on_later_closed);
}

static void do_later(rn_net_req_t *req, uint64_t ms, void (*fn)(rn_net_req_t *req))
{
    later_t *later = calloc(1, sizeof(*later));
    later->req = req;
    later->fn = fn;
    uv_timer_init(rn_net_req_loop(req), &later->timer);
    later->timer.data = later;
    uv_timer_start(&later->timer, on_later, ms, 0);
}

/* ---- the client side ---- */

static int client_connect_to(const char *host, int port)
{
    struct sockaddr_storage ss = { 0 };
    socklen_t len;
    int family;
    if (strchr(host, ':') != NULL) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, host, &sin6->sin6_addr);
        len = sizeof(*sin6);
        family = AF_INET6;
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, host, &sin->sin_addr);
        len = sizeof(*sin);
        family = AF_INET;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&ss, len), 0, "connect: %s", strerror(errno));
    struct timeval tv = { .tv_sec = 10 }; /* a broken test fails instead of hanging */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static int client_connect(rn_net_t *net)
{
    return client_connect_to("127.0.0.1", rn_net_port(net));
}

static void send_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        cr_assert_gt(n, 0, "send: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

/* Appends one request frame (api_key 18, version 0) to buf; returns its length. */
static size_t put_request(uint8_t *buf, int32_t corr, const void *payload, size_t len)
{
    put_be32(buf, (uint32_t)(8 + len));
    buf[4] = 0;
    buf[5] = 18;
    buf[6] = buf[7] = 0;
    put_be32(buf + 8, (uint32_t)corr);
    memcpy(buf + 12, payload, len);
    return 12 + len;
}

static void send_request(int fd, int32_t corr, const char *payload)
{
    uint8_t buf[256];
    size_t len = put_request(buf, corr, payload, strlen(payload));
    send_all(fd, buf, len);
}

static bool recv_all(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Reads one response; returns its body (after the size prefix), which the caller frees. */
static uint8_t *recv_response(int fd, size_t *len)
{
    uint8_t prefix[4];
    cr_assert(recv_all(fd, prefix, 4), "no response (errno %s)", strerror(errno));
    *len = be32(prefix);
    uint8_t *body = malloc(*len + 1);
    cr_assert(recv_all(fd, body, *len), "truncated response");
    body[*len] = 0;
    return body;
}

static void expect_echo(int fd, int32_t corr, const char *payload)
{
    size_t len;
    uint8_t *body = recv_response(fd, &len);
    cr_assert_eq(len, 4 + strlen(payload), "response length for %d", corr);
    cr_assert_eq((int32_t)be32(body), corr, "responses out of order: got %d, want %d",
                 (int32_t)be32(body), corr);
    cr_assert_eq(memcmp(body + 4, payload, strlen(payload)), 0);
    free(body);
}

/* The server closed the connection (EOF, or a reset when it left our bytes unread). */
static bool closed_by_server(int fd)
{
    uint8_t b;
    ssize_t n = recv(fd, &b, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* ---- shared handler state (one test per process) ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static rn_net_req_t *held[512];
static int nheld;
static atomic_int received;
static atomic_int answered;

static void quiet(void)
{
    rn_log_set_level(RN_LOG_ERROR);
}

TestSuite(net, .init = quiet, .timeout = 30);

/* ---- ordering ---- */

#define NPIPE 5

/* Holds requests until NPIPE have come, then answers the last one first. */
static void reverse_handler(rn_net_req_t *req, void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&mu);
    held[nheld++] = req;
    if (nheld == NPIPE) {
        for (int i = NPIPE - 1; i >= 0; i--)
            respond_echo(held[i]);
        nheld = 0;
    }
    pthread_mutex_unlock(&mu);
}

Test(net, pipelined_responses_given_in_reverse_arrive_in_request_order)
{
    rn_net_t *net = net_start(2, 1 << 20, 0, reverse_handler);
    int fd = client_connect(net);
    uint8_t buf[1024];
    size_t len = 0;
    char payload[32];
    for (int i = 0; i < NPIPE; i++) {
        snprintf(payload, sizeof(payload), "request-%d", i);
        len += put_request(buf + len, 1000 + i, payload, strlen(payload));
    }
    send_all(fd, buf, len); /* all frames in one segment: several frames per read */
    for (int i = 0; i < NPIPE; i++) {
        snprintf(payload, sizeof(payload), "request-%d", i);
        expect_echo(fd, 1000 + i, payload);
    }
    close(fd);
    rn_net_stop(net);
    rn_net_free(net);
}

/* Answers request i after (NPIPE - i) * 30 ms: later requests first, from timers. */
static void delayed_reverse_handler(rn_net_req_t *req, void *ctx)
{
    (void)ctx;
    int32_t corr = req_corr(req);
    do_later(req, (uint64_t)(NPIPE - corr) * 30, respond_echo);
}

Test(net, asynchronous_out_of_order_responses_arrive_in_request_order)
{
    rn_net_t *net = net_start(2, 1 << 20, 0, delayed_reverse_handler);
    int fd = client_connect(net);
    for (int i = 0; i < NPIPE; i++)
        send_request(fd, i, "x");
    for (int i = 0; i < NPIPE; i++)
        expect_echo(fd, i, "x");
    close(fd);
    rn_net_stop(net);
    rn_net_free(net);
}

/* Finishes the middle request of three without a response (Produce with acks=0). */
static void none_for_odd_handler(rn_net_req_t *req, void *ctx)
{
    (void)ctx;
    if (req_corr(req) % 2 == 1)
        rn_net_respond_none(req);
    else
        do_later(req, 20, respond_echo);
}

Test(net, respond_none_sends_nothing_and_keeps_order)
{
    rn_net_t *net = net_start(1, 1 << 20, 0, none_for_odd_handler);
    int fd = client_connect(net);
    for (int i = 0; i < 4; i++)
        send_request(fd, i, "abc");
    expect_echo(fd, 0, "abc");
    expect_echo(fd, 2, "abc");
    close(fd);
    rn_net_stop(net);
    rn_net_free(net);
}

static void loop_recording_handler(rn_net_req_t *req, void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&mu);
    bool seen = false;
    for (int i = 0; i < nheld; i++)
        seen |= (void *)held[i] == (void *)rn_net_req_loop(req);
    if (!seen)
        held[nheld++] = (rn_net_req_t *)(void *)rn_net_req_loop(req);
    pthread_mutex_unlock(&mu);
    respond_echo(req);
}

Test(net, every_loop_listens_on_the_same_port)
{
    rn_net_t *net = net_start(2, 1 << 20, 0, loop_recording_handler);
    enum { NCONN = 32 };
    int fds[NCONN];
    for (int i = 0; i < NCONN; i++) {
        fds[i] = client_connect(net);
        send_request(fds[i], i, "hello");
    }
    for (int i = 0; i < NCONN; i++) {
        expect_echo(fds[i], i, "hello");
        close(fds[i]);
    }
    rn_net_stats_t stats;
    rn_net_get_stats(net, &stats);
    cr_assert_eq(stats.connections_accepted, NCONN);
    cr_assert_gt(stats.bytes_written, 0);
    /* SO_REUSEPORT hashes each connection to a listener; 32 on one of two: chance 2^-31. */
    cr_assert_eq(nheld, 2, "connections reached %d loops", nheld);
    rn_net_stop(net);
    rn_net_free(net);
}

/* ---- file ranges ---- */

#define FILE_LEN (1 << 20)
static int file_fd = -1;
static uint8_t file_bytes[FILE_LEN];
static atomic_int releases[4];

static void count_release(void *owner)
{
    atomic_fetch_add(&releases[(intptr_t)owner], 1);
}

static void make_temp_file(void)
{
    char path[] = "/tmp/runnel-test-net-XXXXXX";
    file_fd = mkstemp(path);
    cr_assert_geq(file_fd, 0);
    unlink(path); /* the open descriptor keeps it, as a segment kept past retention would */
    unsigned seed = 12345;
    for (size_t i = 0; i < FILE_LEN; i++)
        file_bytes[i] = (uint8_t)rand_r(&seed);
    cr_assert_eq(write(file_fd, file_bytes, FILE_LEN), FILE_LEN);
}

#define RANGE_POS 4099
#define RANGE_LEN 600000

/* corr|"HEAD"|file[RANGE_POS, +RANGE_LEN)|"TAIL"|empty range|file[10, +5) */
static void respond_with_file(rn_net_req_t *req)
{
    rn_outbuf_t out;
    rn_outbuf_init(&out);
    rn_outbuf_extend(&out, 4);
    rn_outbuf_append(&out, req->frame + 4, 4);
    rn_outbuf_append(&out, "HEAD", 4);
    rn_file_range_t big = { file_fd, RANGE_POS, RANGE_LEN, count_release, (void *)0 };
    rn_file_range_t empty = { file_fd, 0, 0, count_release, (void *)1 };
    rn_file_range_t small = { file_fd, 10, 5, count_release, (void *)2 };
    rn_outbuf_append_file(&out, &big);
    rn_outbuf_append(&out, "TAIL", 4);
    rn_outbuf_append_file(&out, &empty);
    rn_outbuf_append_file(&out, &small);
    rn_outbuf_patch_be32(&out, 0, (uint32_t)rn_outbuf_wire_len(&out) - 4);
    rn_net_respond(req, &out);
    rn_outbuf_deinit(&out);
}

/* Request 0 gets the file response, but only after request 1's memory response is queued. */
static void file_handler(rn_net_req_t *req, void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&mu);
    if (req_corr(req) == 0) {
        held[0] = req;
    } else {
        respond_echo(req);
        respond_with_file(held[0]);
    }
    pthread_mutex_unlock(&mu);
}

static void expect_file_response(int fd, int32_t corr)
{
    size_t len;
    uint8_t *body = recv_response(fd, &len);
    cr_assert_eq(len, 4 + 4 + RANGE_LEN + 4 + 5);
    cr_assert_eq((int32_t)be32(body), corr);
    cr_assert_eq(memcmp(body + 4, "HEAD", 4), 0);
    cr_assert_eq(memcmp(body + 8, file_bytes + RANGE_POS, RANGE_LEN), 0, "file bytes differ");
    cr_assert_eq(memcmp(body + 8 + RANGE_LEN, "TAIL", 4), 0);
    cr_assert_eq(memcmp(body + 12 + RANGE_LEN, file_bytes + 10, 5), 0);
    free(body);
}

Test(net, file_range_arrives_byte_exact_and_is_counted_as_sendfile)
{
    make_temp_file();
    rn_net_t *net = net_start(2, 1 << 20, 0, file_handler);
    int fd = client_connect(net);
    send_request(fd, 0, "file");
    send_request(fd, 1, "mem");
    usleep(100 * 1000); /* let the socket buffer fill: the writer must resume after EAGAIN */
    expect_file_response(fd, 0);
    expect_echo(fd, 1, "mem");

    rn_net_stats_t stats;
    rn_net_get_stats(net, &stats);
    cr_assert_eq(stats.bytes_sendfile, RANGE_LEN + 5);
    cr_assert_eq(stats.bytes_written, (4 + 4 + 4 + 4) + (4 + 4 + 3));
    close(fd);
    rn_net_stop(net);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(atomic_load(&releases[i]), 1, "range %d released %d times", i,
                     atomic_load(&releases[i]));
    rn_net_free(net);
    close(file_fd);
}

/* A memory response far larger than the socket buffers: partial writes, EAGAIN, resume. */
#define BIG_LEN (8 << 20)

static void respond_big(rn_net_req_t *req)
{
    rn_outbuf_t out;
    rn_outbuf_init(&out);
    rn_outbuf_extend(&out, 4);
    rn_outbuf_append(&out, req->frame + 4, 4);
    uint8_t *p = rn_outbuf_extend(&out, BIG_LEN);
    for (size_t i = 0; i < BIG_LEN; i++)
        p[i] = (uint8_t)(i % 251);
    rn_outbuf_patch_be32(&out, 0, (uint32_t)out.len - 4);
    rn_net_respond(req, &out);
    rn_outbuf_deinit(&out);
}

static void big_handler(rn_net_req_t *req, void *ctx)
{
    (void)ctx;
    if (req_corr(req) == 0)
        respond_big(req);
    else
        respond_echo(req);
}

Test(net, memory_response_larger_than_the_socket_buffer_arrives_whole)
{
    rn_net_t *net = net_start(1, 1 << 20, 0, big_handler);
    int fd = client_connect(net);
    send_request(fd, 0, "big");
    send_request(fd, 1, "after");
    usleep(50 * 1000);
    size_t len;
    uint8_t *body = recv_response(fd, &len);
    cr_assert_eq(len, 4 + BIG_LEN);
    cr_assert_eq(be32(body), 0);
    for (size_t i = 0; i < BIG_LEN; i++)
        if (body[4 + i] != (uint8_t)(i % 251))
            cr_assert_fail("byte %zu differs", i);
    free(body);
    expect_echo(fd, 1, "after");
    close(fd);
    rn_net_stop(net);
    rn_net_free(net);
}

/* ---- bad sizes ---- */

Test(net, bad_size_prefix_closes_only_that_connection)
{
    rn_net_t *net = net_start(2, 1024, 0, echo_handler);
    int good = client_connect(net);
    send_request(good, 1, "before");
    expect_echo(good, 1, "before");

    static const uint32_t bad_sizes[] = { 1025, 7, 0, 0xffffffffu, 0x80000000u };
    for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        int bad = client_connect(net);
        uint8_t prefix[12] = { 0 };
        put_be32(prefix, bad_sizes[i]);
        send_all(bad, prefix, sizeof(prefix));
        cr_assert(closed_by_server(bad), "size %u was accepted", bad_sizes[i]);
        close(bad);
    }

    /* Half a frame, then gone: the partial frame buffer is freed with the connection. */
    int half = client_connect(net);
    uint8_t partial[4 + 20] = { 0 };
    put_be32(partial, 500);
    send_all(half, partial, sizeof(partial));
    close(half);

    /* The largest allowed frame still goes through, on the connection that stayed open. */
    static uint8_t frame[4 + 1024];
    char payload[1024 - 8 + 1];
    memset(payload, 'p', sizeof(payload) - 1);
    payload[sizeof(payload) - 1] = 0;
    size_t len = put_request(frame, 2, payload, strlen(payload));
    cr_assert_eq(len, 4 + 1024);
    send_all(good, frame, len);
    expect_echo(good, 2, payload);
    close(good);
    rn_net_stop(net);
    rn_net_free(net);
}

/* A frame trickled in one byte at a time is reassembled. */
Test(net, frame_split_across_many_reads_is_reassembled)
{
    rn_net_t *net = net_start(1, 1 << 20, 0, echo_handler);
    int fd = client_connect(net);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    uint8_t buf[64];
    size_t len = put_request(buf, 77, "trickle", 7);
    len += put_request(buf + len, 78, "second", 6);
    for (size_t i = 0; i < len; i++) {
        send_all(fd, buf + i, 1);
        usleep(1000);
    }
    expect_echo(fd, 77, "trickle");
    expect_echo(fd, 78, "second");
    close(fd);
    rn_net_stop(net);
    rn_net_free(net);
}

/* A frame bigger than the read buffer goes straight into its own buffer. */
Test(net, large_request_is_delivered_intact)
{
    rn_net_t *net = net_start(1, 4 << 20, 0, echo_handler);
    int fd = client_connect(net);
    size_t payload_len = 3 << 20;
    uint8_t *frame = malloc(12 + payload_len);
    char *payload = malloc(payload_len + 1);
    for (size_t i = 0; i < payload_len; i++)
        payload[i] = (char)('a' + i % 26);
    payload[payload_len] = 0;
    size_t len = put_request(frame, 5, payload, payload_len);
    send_all(fd, frame, len);
    expect_echo(fd, 5, payload);
    free(frame);
    free(payload);
    close(fd);
    rn_net_stop(net);
    rn_net_free(net);
}

/* ---- back-pressure ---- */

static atomic_int in_handler, peak_in_handler;

static void respond_and_count(rn_net_req_t *req)
{
    atomic_fetch_sub(&in_handler, 1);
    respond_echo(req);
}

static void slow_handler(rn_net_req_t *req, void *ctx)
{
    (void)ctx;
    int now = atomic_fetch_add(&in_handler, 1) + 1;
    int peak = atomic_load(&peak_in_handler);
    while (now > peak && !atomic_compare_exchange_weak(&peak_in_handler, &peak, now))
        ;
    do_later(req, 50, respond_and_count);
}

Test(net, pipelining_is_bounded_by_back_pressure)
{
    rn_net_t *net = net_start(1, 1 << 20, 0, slow_handler);
    int fd = client_connect(net);
    enum { N = 300 };
    static uint8_t buf[N * 16];
    size_t len = 0;
    for (int i = 0; i < N; i++)
        len += put_request(buf + len, i, "bp", 2);
    send_all(fd, buf, len); /* 3.6 KB: one read takes all of it */
    for (int i = 0; i < N; i++)
        expect_echo(fd, i, "bp");
    int peak = atomic_load(&peak_in_handler);
    cr_assert_leq(peak, 64, "%d requests were with the handler at once", peak);
    cr_assert_geq(peak, 32, "pipelining barely happened (peak %d)", peak);
    close(fd);
    rn_net_stop(net);
    rn_net_free(net);
}

/* ---- one request at a time (Kafka's rule, the broker's setting) ---- */

Test(net, one_at_a_time_hands_up_the_next_request_only_after_the_last_finished)
{
    atomic_store(&in_handler, 0);
    atomic_store(&peak_in_handler, 0);
    rn_net_t *net = net_start_with(1, 1 << 20, 0, true, slow_handler); /* answers after 50 ms */
    int fd = client_connect(net);
    enum { N = 20 };
    static uint8_t buf[N * 16];
    size_t len = 0;
    for (int i = 0; i < N; i++)
        len += put_request(buf + len, i, "one", 3);
    send_all(fd, buf, len); /* every frame in one read */
    for (int i = 0; i < N; i++)
        expect_echo(fd, i, "one");
    int peak = atomic_load(&peak_in_handler);
    cr_assert_eq(peak, 1, "%d requests of one connection were with the handler at once", peak);
    close(fd);
    rn_net_stop(net);
    rn_net_free(net);
}

Test(net, one_at_a_time_holds_up_only_its_own_connection)
{
    atomic_store(&in_handler, 0);
    atomic_store(&peak_in_handler, 0);
    rn_net_t *net = net_start_with(1, 1 << 20, 0, true, slow_handler);
    int a = client_connect(net), b = client_connect(net);
    send_request(a, 1, "a1");
    send_request(a, 2, "a2");
    send_request(b, 1, "b1");
    send_request(b, 2, "b2");
    expect_echo(a, 1, "a1");
    expect_echo(b, 1, "b1");
    expect_echo(a, 2, "a2");
    expect_echo(b, 2, "b2");
    cr_assert_eq(atomic_load(&peak_in_handler), 2, "one request of each connection at a time");
    close(a);
    close(b);
    rn_net_stop(net);
    rn_net_free(net);
}

static void hold_first_handler(rn_net_req_t *req, void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&received, 1);
    do_later(req, 300, respond_echo); /* the peer has gone by then */
}

Test(net, one_at_a_time_drops_the_frames_waiting_when_the_peer_goes)
{
    atomic_store(&received, 0);
    rn_net_t *net = net_start_with(1, 1 << 20, 0, true, hold_first_handler);
    int fd = client_connect(net);
    for (int i = 0; i < 4; i++)
        send_request(fd, i, "wait");
    cr_assert(wait_for(&received, 1, 5000));
    close(fd);          /* three frames still wait behind the held one */
    usleep(500 * 1000); /* the held request is answered on a dead connection */
    cr_assert_eq(atomic_load(&received), 1, "waiting frames of a closed connection never run");
    rn_net_stop(net);
    rn_net_free(net); /* ASan: the waiting frames were freed */
}

/* ---- idle connections ---- */

static void idle_handler(rn_net_req_t *req, void *ctx)
{
    (void)ctx;
    if (req_corr(req) == 99)
        do_later(req, 400, respond_echo); /* pending for 4 idle periods */
    else
        respond_echo(req);
}

Test(net, idle_connection_is_closed_and_busy_ones_are_not)
{
    rn_net_t *net = net_start(2, 1 << 20, 100, idle_handler);
    uint64_t start = now_ms();
    int idle = client_connect(net);
    int chatty = client_connect(net);
    int waiting = client_connect(net);
    send_request(waiting, 99, "slow");
    for (int i = 0; i < 8; i++) {
        usleep(50 * 1000);
        send_request(chatty, i, "ping");
        expect_echo(chatty, i, "ping");
    }
    expect_echo(waiting, 99, "slow"); /* not closed while its request was pending */
    cr_assert(closed_by_server(idle));
    uint64_t elapsed = now_ms() - start;
    cr_assert_geq(elapsed, 100);
    cr_assert(closed_by_server(waiting), "idle after its response, so closed too");
    close(idle);
    close(chatty);
    close(waiting);
    rn_net_stop(net);
    rn_net_free(net);
}

/* ---- closing with requests outstanding ---- */

static void hold_forever_handler(rn_net_req_t *req, void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&mu);
    if (req_corr(req) >= 100)
        do_later(req, 200, respond_echo); /* answered inside the grace period */
    else
        held[nheld++] = req; /* never answered */
    pthread_mutex_unlock(&mu);
    atomic_fetch_add(&received, 1);
}

Test(net, stop_with_requests_pending_finishes_cleanly)
{
    rn_net_t *net = net_start(2, 1 << 20, 0, hold_forever_handler);
    int stuck = client_connect(net);
    int answered_late = client_connect(net);
    int idle = client_connect(net);
    int half = client_connect(net);
    uint8_t partial[4 + 20] = { 0 };
    put_be32(partial, 500);
    send_all(half, partial, sizeof(partial)); /* mid-frame at stop: closed at once */
    for (int i = 0; i < 3; i++)
        send_request(stuck, i, "never");
    send_request(answered_late, 100, "late");
    cr_assert(wait_for(&received, 4, 5000));

    uint64_t start = now_ms();
    rn_net_stop(net);
    uint64_t took = now_ms() - start;
    cr_assert_lt(took, 5000, "stop took %llu ms", (unsigned long long)took);
    cr_assert_geq(took, 1500, "stop did not wait for the stuck connection (%llu ms)",
                  (unsigned long long)took);

    expect_echo(answered_late, 100, "late"); /* an in-flight response still went out */
    cr_assert(closed_by_server(answered_late));
    cr_assert(closed_by_server(stuck));
    cr_assert(closed_by_server(idle));
    cr_assert(closed_by_server(half));
    rn_net_free(net); /* frees the three abandoned requests: ASan checks */
    close(half);
    close(stuck);
    close(answered_late);
    close(idle);
}

Test(net, stop_without_connections_is_quick)
{
    rn_net_t *net = net_start(4, 1 << 20, 1000, echo_handler);
    uint64_t start = now_ms();
    rn_net_stop(net);
    cr_assert_lt(now_ms() - start, 1000);
    rn_net_stop(net); /* a second stop does nothing */
    rn_net_free(net);
}

static void close_handler(rn_net_req_t *req, void *ctx)
{
    (void)ctx;
    if (req_corr(req) == 0) {
        respond_echo(req);
    } else {
        rn_net_close_conn(req);
    }
}

Test(net, close_conn_from_the_handler_closes_the_connection)
{
    rn_net_t *net = net_start(1, 1 << 20, 0, close_handler);
    int fd = client_connect(net);
    send_request(fd, 0, "fine");
    expect_echo(fd, 0, "fine");
    send_request(fd, 1, "bad");
    send_request(fd, 2, "dropped");
    cr_assert(closed_by_server(fd));
    close(fd);
    int other = client_connect(net);
    send_request(other, 0, "still");
    expect_echo(other, 0, "still");
    close(other);
    rn_net_stop(net);
    rn_net_free(net);
}

static void respond_file_and_count(rn_net_req_t *req)
{
    respond_with_file(req);
    atomic_fetch_add(&answered, 1);
}

static void late_file_handler(rn_net_req_t *req, void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&received, 1);
    do_later(req, 300, respond_file_and_count);
}

Test(net, response_to_a_closed_connection_is_dropped_and_ranges_released)
{
    make_temp_file();
    rn_net_t *net = net_start(1, 1 << 20, 0, late_file_handler);
    int fd = client_connect(net);
    send_request(fd, 0, "gone");
    cr_assert(wait_for(&received, 1, 5000));
    close(fd); /* the server sees EOF while the handler still holds the request */
    cr_assert(wait_for(&answered, 1, 5000));
    for (int i = 0; i < 3; i++)
        cr_assert(wait_for(&releases[i], 1, 5000), "range %d not released", i);
    /* The same loop still serves others, and only their bytes count as sent. */
    int other = client_connect(net);
    send_request(other, 1, "here");
    expect_file_response(other, 1);
    close(other);
    rn_net_stop(net);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(atomic_load(&releases[i]), 2, "range %d released %d times", i,
                     atomic_load(&releases[i]));
    rn_net_stats_t stats;
    rn_net_get_stats(net, &stats);
    cr_assert_eq(stats.bytes_sendfile, RANGE_LEN + 5, "the dropped response was not sent");
    rn_net_free(net);
    close(file_fd);
}

#define HUGE_RANGE ((size_t)64 << 20)

static void huge_file_handler(rn_net_req_t *req, void *ctx)
{
    (void)ctx;
    rn_outbuf_t out;
    rn_outbuf_init(&out);
    rn_outbuf_extend(&out, 4);
    rn_file_range_t r = { file_fd, 0, HUGE_RANGE, count_release, (void *)0 };
    rn_outbuf_append_file(&out, &r);
    rn_outbuf_patch_be32(&out, 0, (uint32_t)rn_outbuf_wire_len(&out) - 4);
    rn_net_respond(req, &out);
    rn_outbuf_deinit(&out);
    atomic_fetch_add(&received, 1);
}

Test(net, unsent_file_range_is_released_when_the_peer_goes_away)
{
    char path[] = "/tmp/runnel-test-net-XXXXXX";
    file_fd = mkstemp(path);
    cr_assert_geq(file_fd, 0);
    unlink(path);
    cr_assert_eq(ftruncate(file_fd, (off_t)HUGE_RANGE), 0); /* sparse: no disk needed */
    rn_net_t *net = net_start(1, 1 << 20, 0, huge_file_handler);
    int fd = client_connect(net);
    send_request(fd, 0, "huge");
    cr_assert(wait_for(&received, 1, 5000));
    uint8_t some[4096];
    cr_assert(recv_all(fd, some, sizeof(some)), "the response started");
    close(fd); /* with most of 64 MiB unsent: a reset for the server */
    cr_assert(wait_for(&releases[0], 1, 5000), "the range was not released");
    rn_net_stop(net);
    cr_assert_eq(atomic_load(&releases[0]), 1);
    rn_net_stats_t stats;
    rn_net_get_stats(net, &stats);
    cr_assert_lt(stats.bytes_sendfile, HUGE_RANGE);
    rn_net_free(net);
    close(file_fd);
}

static void malformed_handler(rn_net_req_t *req, void *ctx)
{
    (void)ctx;
    rn_outbuf_t out;
    rn_outbuf_init(&out);
    rn_outbuf_append(&out, "\0\0\0\x09wrong", 9); /* says 9 bytes follow, 5 do */
    rn_net_respond(req, &out);
    rn_outbuf_deinit(&out);
}

Test(net, malformed_response_closes_the_connection)
{
    rn_net_t *net = net_start(1, 1 << 20, 0, malformed_handler);
    int fd = client_connect(net);
    send_request(fd, 0, "x");
    cr_assert(closed_by_server(fd));
    close(fd);
    rn_net_stop(net);
    rn_net_free(net);
}

/* ---- setup errors ---- */

static rn_net_config_t config_for(const char *host, int port)
{
    return (rn_net_config_t){
        .host = host,
        .port = port,
        .nloops = 2,
        .max_request_bytes = 1 << 20,
        .on_request = echo_handler,
    };
}

Test(net, port_in_use_fails_before_any_thread_starts)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    cr_assert_eq(listen(fd, 1), 0);
    socklen_t len = sizeof(sin);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    rn_net_config_t config = config_for("127.0.0.1", ntohs(sin.sin_port));
    rn_net_t *net = (rn_net_t *)(uintptr_t)1;
    cr_assert_eq(rn_net_new(&config, &net), -EADDRINUSE);
    cr_assert_null(net);
    close(fd);
}

Test(net, second_broker_on_the_same_port_is_refused)
{
    rn_net_t *first = net_start(2, 1 << 20, 0, echo_handler);
    rn_net_config_t config = config_for("127.0.0.1", rn_net_port(first));
    rn_net_t *second = NULL;
    cr_assert_eq(rn_net_new(&config, &second), -EADDRINUSE,
                 "SO_REUSEPORT must not let a second broker share the port");
    rn_net_stop(first);
    rn_net_free(first);
}

Test(net, bad_hosts_and_values_are_rejected)
{
    rn_net_t *net = NULL;
    rn_net_config_t config = config_for("localhost", 0);
    cr_assert_eq(rn_net_new(&config, &net), -EINVAL, "only numeric hosts");
    config = config_for("192.0.2.1", 0); /* TEST-NET-1: not ours */
    cr_assert_eq(rn_net_new(&config, &net), -EADDRNOTAVAIL);
    config = config_for("127.0.0.1", 70000);
    cr_assert_eq(rn_net_new(&config, &net), -EINVAL);
    config = config_for("127.0.0.1", 0);
    config.nloops = 0;
    cr_assert_eq(rn_net_new(&config, &net), -EINVAL);
    config = config_for("127.0.0.1", 0);
    config.on_request = NULL;
    cr_assert_eq(rn_net_new(&config, &net), -EINVAL);
    cr_assert_null(net);
}

Test(net, any_address_and_new_free_without_start)
{
    rn_net_t *net = NULL;
    rn_net_config_t config = config_for("", 0);
    cr_assert_eq(rn_net_new(&config, &net), 0);
    cr_assert_gt(rn_net_port(net), 0);
    int fd = client_connect_to("127.0.0.1", rn_net_port(net)); /* queued in the backlog */
    rn_net_free(net);
    close(fd);
    config = config_for("0.0.0.0", 0);
    cr_assert_eq(rn_net_new(&config, &net), 0);
    rn_net_free(net);
    rn_net_free(NULL);
}

Test(net, ipv6_loopback_works)
{
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    if (probe < 0 || bind(probe, (struct sockaddr *)&sin6, sizeof(sin6)) != 0)
        cr_skip_test("no IPv6 loopback here");
    close(probe);
    const char *hosts[] = { "::1", "[::1]" };
    for (int i = 0; i < 2; i++) {
        rn_net_t *net = NULL;
        rn_net_config_t config = config_for(hosts[i], 0);
        cr_assert_eq(rn_net_new(&config, &net), 0, "%s", hosts[i]);
        cr_assert_eq(rn_net_start(net), 0);
        int fd = client_connect_to("::1", rn_net_port(net));
        send_request(fd, 6, "six");
        expect_echo(fd, 6, "six");
        close(fd);
        rn_net_stop(net);
        rn_net_free(net);
    }
}
