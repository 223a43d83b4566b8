/* SPDX-License-Identifier: Apache-2.0 */
/* One client connection: size-prefixed framing, dispatch to the handler, and the ordered writer.
 *
 * The one idea: every complete frame becomes a slot at the tail of the connection's FIFO, and the
 * writer only ever sends from the head. Slots go to the handler in order; with one_at_a_time
 * (Kafka's rule of one request per connection at a time) the next is dispatched only when the
 * handler has finished the one before (at once for most requests, later for a long poll or
 * thread-pool work), so a request never runs before the effects of an earlier one on its
 * connection are in place. A response waits in its slot until every earlier one has gone out,
 * so clients always see correlation ids in request order.
 *
 * The socket is driven with uv_poll_t, not uv_tcp_t, so that the writer can mix writev (memory
 * parts) and sendfile (file ranges) on one descriptor: libuv never writes to it. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net/internal.h"
#include "util/endian.h"
#include "util/err.h"
#include "util/logging.h"

static void conn_process_input(rn_net_conn_t *conn);
static void conn_flush(rn_net_conn_t *conn);

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static rn_net_slot_t *slot_of(rn_net_req_t *req)
{
    return rn_container_of(req, rn_net_slot_t, req);
}

/* ---- the FIFO ---- */

static void fifo_push(rn_net_conn_t *conn, rn_net_slot_t *slot)
{
    slot->prev = conn->tail;
    slot->next = NULL;
    if (conn->tail != NULL)
        conn->tail->next = slot;
    else
        conn->head = slot;
    conn->tail = slot;
    conn->nslots++;
    conn->slot_bytes += slot->req.len;
    if (conn->undispatched == NULL)
        conn->undispatched = slot;
}

/* Unlinks `slot`, releases the file ranges it still holds and frees it. */
static void slot_free(rn_net_conn_t *conn, rn_net_slot_t *slot)
{
    if (slot->prev != NULL)
        slot->prev->next = slot->next;
    else
        conn->head = slot->next;
    if (slot->next != NULL)
        slot->next->prev = slot->prev;
    else
        conn->tail = slot->prev;
    conn->nslots--;
    conn->slot_bytes -= slot->req.len;
    rn_outbuf_deinit(&slot->out);
    free(slot);
}

/* ---- connection lifetime ---- */

static void format_peer(const struct sockaddr *addr, socklen_t addrlen, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    if (addr->sa_family == AF_INET && addrlen >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)addr;
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
        snprintf(buf, len, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
    } else if (addr->sa_family == AF_INET6 && addrlen >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)addr;
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
        snprintf(buf, len, "[%s]:%u", ip, (unsigned)ntohs(sin6->sin6_port));
    } else {
        snprintf(buf, len, "?");
    }
}

static void on_conn_poll(uv_poll_t *poll, int status, int events);

void rn_net_conn_open(rn_net_loop_t *loop, int fd, const struct sockaddr *addr, socklen_t addrlen,
                      const rn_net_ip_t *ip)
{
    RN_NET_ASSERT_ON_LOOP(loop);
    /* calloc, not rn_xcalloc: a flood of connections must not abort the broker. */
    rn_net_conn_t *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        rn_log(RN_LOG_WARN, "net", "out of memory for a new connection; closing it");
        close(fd);
        rn_net_quota_release(loop, ip);
        return;
    }
    conn->loop = loop;
    conn->fd = fd;
    conn->ip = *ip;
    conn->last_active = uv_now(&loop->uv);
    format_peer(addr, addrlen, conn->peer, sizeof(conn->peer));

    /* Responses are written whole (one writev per batch), so Nagle would only delay the last
     * segment of each by up to an ACK round trip. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    int err = uv_poll_init(&loop->uv, &conn->poll, fd);
    if (err != 0) {
        rn_log(RN_LOG_WARN, "net", "peer %s: cannot poll the socket: %s", conn->peer,
               uv_strerror(err));
        close(fd);
        rn_net_quota_release(loop, ip);
        free(conn);
        return;
    }
    conn->next = loop->conns;
    if (loop->conns != NULL)
        loop->conns->prev = conn;
    loop->conns = conn;
    loop->nlive++;
    rn_log(RN_LOG_DEBUG, "net", "peer %s: connected (loop %d)", conn->peer, loop->index);
    rn_net_conn_update(conn);
}

static void resume_dequeue(rn_net_conn_t *conn)
{
    if (!conn->resume_queued)
        return;
    if (conn->resume_prev != NULL)
        conn->resume_prev->resume_next = conn->resume_next;
    else
        conn->loop->resume_head = conn->resume_next;
    if (conn->resume_next != NULL)
        conn->resume_next->resume_prev = conn->resume_prev;
    conn->resume_prev = conn->resume_next = NULL;
    conn->resume_queued = false;
}

/* Frees `conn` once nothing refers to it: its poll handle is closed and the handler holds none
 * of its slots (after death, the FIFO holds only those). */
static void conn_maybe_free(rn_net_conn_t *conn)
{
    if (!conn->poll_closed || conn->head != NULL)
        return;
    rn_net_loop_t *loop = conn->loop;
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        loop->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    free(conn);
}

static void on_conn_closed(uv_handle_t *handle)
{
    rn_net_conn_t *conn = rn_container_of(handle, rn_net_conn_t, poll);
    /* Closed only now: libuv forgets the fd in uv_close, but keeping the number taken until
     * here means no new connection can reuse it while this handle is closing. */
    close(conn->fd);
    conn->fd = -1;
    conn->poll_closed = true;
    rn_net_quota_release(conn->loop, &conn->ip); /* max.connections: a waiting loop may accept */
    conn_maybe_free(conn);
}

void rn_net_conn_close(rn_net_conn_t *conn)
{
    if (conn->dead)
        return;
    RN_NET_ASSERT_ON_LOOP(conn->loop);
    conn->dead = true;
    resume_dequeue(conn);
    free(conn->partial);
    conn->partial = NULL;
    /* Drop every slot the handler does not hold: finished ones (unsent responses; their ranges
     * are released now) and ones never dispatched. The slot the handler still holds stays, so
     * its rn_net_req_t remains valid. */
    rn_net_slot_t *slot = conn->head;
    while (slot != NULL) {
        rn_net_slot_t *next = slot->next;
        if (slot->responded || !slot->dispatched)
            slot_free(conn, slot);
        slot = next;
    }
    conn->undispatched = NULL;
    conn->running = NULL; /* if the handler still holds it, it stays in the FIFO until finished */
    conn->queued_bytes = 0;
    uv_close((uv_handle_t *)&conn->poll, on_conn_closed);
    conn->loop->nlive--;
    rn_net_loop_conn_closed(conn->loop);
}

void rn_net_conn_free_abandoned(rn_net_conn_t *conn)
{
    assert(conn->dead && conn->poll_closed);
    while (conn->head != NULL)
        slot_free(conn, conn->head);
    conn_maybe_free(conn);
}

/* ---- polling and back-pressure ---- */

/* Whether the first undispatched frame may go to the handler now. */
static bool conn_may_dispatch(const rn_net_conn_t *conn)
{
    return conn->undispatched != NULL &&
           (conn->running == NULL || !conn->loop->net->config.one_at_a_time);
}

static bool conn_over_limit(const rn_net_conn_t *conn)
{
    return conn->nslots >= RN_NET_MAX_PENDING_REQUESTS ||
           conn->slot_bytes >= RN_NET_MAX_PENDING_REQUEST_BYTES ||
           conn->queued_bytes >= RN_NET_MAX_QUEUED_RESPONSE_BYTES;
}

static void conn_set_events(rn_net_conn_t *conn, int events)
{
    if (events == conn->events)
        return;
    int err =
        events != 0 ? uv_poll_start(&conn->poll, events, on_conn_poll) : uv_poll_stop(&conn->poll);
    if (err != 0) {
        rn_log(RN_LOG_WARN, "net", "peer %s: cannot poll the socket: %s; closing", conn->peer,
               uv_strerror(err));
        rn_net_conn_close(conn);
        return;
    }
    conn->events = events;
}

static void on_resume_idle(uv_idle_t *idle)
{
    rn_net_loop_t *loop = rn_container_of(idle, rn_net_loop_t, resume_idle);
    rn_net_conn_t *conn;
    /* This ends: conn_process_input stops only at a partial frame, at fewer than 4 bytes, at
     * back-pressure or at stop, and none of those queues the connection again. */
    while ((conn = loop->resume_head) != NULL) {
        resume_dequeue(conn);
        conn_process_input(conn);
    }
    uv_idle_stop(&loop->resume_idle);
}

/* Frames already in rbuf are parsed from an idle callback, not from wherever back-pressure
 * lifted: that is often inside rn_net_respond, and the handler must not see on_request run
 * again from inside its own call. */
static void resume_enqueue(rn_net_conn_t *conn)
{
    if (conn->resume_queued)
        return;
    rn_net_loop_t *loop = conn->loop;
    conn->resume_queued = true;
    conn->resume_prev = NULL;
    conn->resume_next = loop->resume_head;
    if (loop->resume_head != NULL)
        loop->resume_head->resume_prev = conn;
    loop->resume_head = conn;
    uv_idle_start(&loop->resume_idle, on_resume_idle);
}

void rn_net_conn_update(rn_net_conn_t *conn)
{
    if (conn->dead)
        return;
    int write = conn->want_write ? UV_WRITABLE : 0;
    if (conn->loop->stopping) {
        /* Stopping: read nothing more, but answer the frames already read and send what is
         * owed; close once nothing is. */
        if (!conn->in_dispatch && conn_may_dispatch(conn))
            resume_enqueue(conn);
        if (conn->head == NULL) {
            rn_log(RN_LOG_DEBUG, "net", "peer %s: closing, broker stopping", conn->peer);
            rn_net_conn_close(conn);
            return;
        }
        conn_set_events(conn, write | UV_DISCONNECT);
        return;
    }
    bool rbuf_full = conn->partial == NULL && conn->rbuf_len == sizeof(conn->rbuf);
    bool reading = !conn_over_limit(conn) && !rbuf_full;
    bool can_dispatch = conn_may_dispatch(conn);
    bool can_parse = !conn_over_limit(conn) && conn->partial == NULL && conn->rbuf_len >= 4;
    if (!conn->in_dispatch && (can_dispatch || can_parse))
        resume_enqueue(conn);
    /* UV_DISCONNECT (EPOLLRDHUP) lets a connection that is not reading notice that the peer
     * went away; a reading one sees EOF first. */
    conn_set_events(conn, (reading ? UV_READABLE : 0) | write | UV_DISCONNECT);
}

/* ---- reading and framing ---- */

static void conn_read(rn_net_conn_t *conn)
{
    struct iovec iov[2];
    int niov = 0;
    rn_net_slot_t *partial = conn->partial;
    if (partial != NULL) {
        /* A frame body in progress goes straight into its buffer; only what follows it lands in
         * rbuf. rbuf is empty here: parsing copies all of it into the partial frame. */
        assert(conn->rbuf_len == 0);
        iov[niov++] = (struct iovec){ partial->frame + conn->partial_have,
                                      partial->req.len - conn->partial_have };
    }
    if (conn->rbuf_len < sizeof(conn->rbuf))
        iov[niov++] =
            (struct iovec){ conn->rbuf + conn->rbuf_len, sizeof(conn->rbuf) - conn->rbuf_len };
    if (niov == 0)
        return;

    ssize_t got;
    do
        got = readv(conn->fd, iov, niov);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        rn_log(RN_LOG_DEBUG, "net", "peer %s: read failed: %s; closing", conn->peer,
               strerror(errno));
        rn_net_conn_close(conn);
        return;
    }
    if (got == 0) {
        /* Kafka clients never half-close, so EOF means gone: responses still owed are dropped. */
        rn_log(RN_LOG_DEBUG, "net", "peer %s: closed by peer", conn->peer);
        rn_net_conn_close(conn);
        return;
    }
    conn->last_active = uv_now(&conn->loop->uv);
    size_t n = (size_t)got;
    atomic_fetch_add_explicit(&conn->loop->bytes_read, n, memory_order_relaxed);
    if (partial != NULL) {
        size_t into_frame = min_size(n, iov[0].iov_len);
        conn->partial_have += into_frame;
        n -= into_frame;
    }
    conn->rbuf_len += n;
    conn_process_input(conn);
}

/* Starts the frame whose size prefix is at `prefix`. Returns false after closing the
 * connection: a size no request can have, or no memory for the frame. */
static bool frame_start(rn_net_conn_t *conn, const uint8_t *prefix)
{
    int32_t size = (int32_t)rn_load_be32(prefix);
    size_t max = conn->loop->net->config.max_request_bytes;
    /* Checked before allocating: the size is the client's word, not ours. */
    if (size < RN_NET_MIN_FRAME || (uint64_t)size > max) {
        rn_log(RN_LOG_WARN, "net", "peer %s: request size %" PRId32 " outside [%d, %zu]; closing",
               conn->peer, size, RN_NET_MIN_FRAME, max);
        rn_net_conn_close(conn);
        return false;
    }
    rn_net_slot_t *slot = malloc(sizeof(*slot) + (size_t)size);
    if (slot == NULL) {
        rn_log(RN_LOG_WARN, "net", "peer %s: no memory for a %" PRId32 "-byte request; closing",
               conn->peer, size);
        rn_net_conn_close(conn);
        return false;
    }
    *slot = (rn_net_slot_t){ .req = { .frame = slot->frame, .len = (size_t)size, .conn = conn } };
    rn_outbuf_init(&slot->out);
    conn->partial = slot;
    conn->partial_have = 0;
    return true;
}

/* Hands waiting frames to the handler in order (with one_at_a_time, while none is running).
 * Returns false when the handler closed the connection. */
static bool conn_dispatch(rn_net_conn_t *conn)
{
    rn_net_loop_t *loop = conn->loop;
    while (conn_may_dispatch(conn)) {
        rn_net_slot_t *slot = conn->undispatched;
        conn->undispatched = slot->next;
        slot->dispatched = true;
        conn->running = slot;
        loop->net->config.on_request(&slot->req, loop->net->config.ctx);
        if (conn->dead) /* the handler closed it; the conn's memory outlives this call */
            return false;
    }
    return true;
}

/* Parses what rbuf holds into frames and dispatches them (conn_dispatch), as long as
 * back-pressure allows; then writes whatever responses that produced. */
static void conn_process_input(rn_net_conn_t *conn)
{
    rn_net_loop_t *loop = conn->loop;
    size_t pos = 0;
    conn->in_dispatch = true;
    for (;;) {
        if (!conn_dispatch(conn))
            return;
        rn_net_slot_t *slot = conn->partial;
        if (slot != NULL) {
            size_t take = min_size(conn->rbuf_len - pos, slot->req.len - conn->partial_have);
            memcpy(slot->frame + conn->partial_have, conn->rbuf + pos, take);
            conn->partial_have += take;
            pos += take;
            if (conn->partial_have < slot->req.len)
                break;
            conn->partial = NULL;
            fifo_push(conn, slot);
            continue;
        }
        if (conn->rbuf_len - pos < 4 || loop->stopping || conn_over_limit(conn))
            break;
        if (!frame_start(conn, conn->rbuf + pos))
            return;
        pos += 4;
    }
    conn->in_dispatch = false;
    memmove(conn->rbuf, conn->rbuf + pos, conn->rbuf_len - pos);
    conn->rbuf_len -= pos;
    conn_flush(conn); /* responses given during dispatch go out in one batch */
    rn_net_conn_update(conn);
}

static void on_conn_poll(uv_poll_t *poll, int status, int events)
{
    rn_net_conn_t *conn = rn_container_of(poll, rn_net_conn_t, poll);
    if (status < 0) {
        rn_log(RN_LOG_DEBUG, "net", "peer %s: poll error: %s; closing", conn->peer,
               uv_strerror(status));
        rn_net_conn_close(conn);
        return;
    }
    if (events & UV_WRITABLE) {
        conn_flush(conn);
        if (conn->dead)
            return;
    }
    if (events & UV_READABLE) {
        conn_read(conn);
        if (conn->dead)
            return;
    } else if ((events & UV_DISCONNECT) && !(conn->events & UV_READABLE)) {
        rn_log(RN_LOG_DEBUG, "net", "peer %s: closed by peer", conn->peer);
        rn_net_conn_close(conn);
        return;
    }
    rn_net_conn_update(conn);
}

/* ---- the writer ---- */

/* A response is a sequence of parts: memory chunk 0, splice 0, memory chunk 1, ..., splice
 * n-1, memory chunk n. Memory chunk i is data[splice i-1 .at, splice i .at). */
static size_t part_count(const rn_outbuf_t *out)
{
    return 2 * out->nsplices + 1;
}

static bool part_is_range(size_t part)
{
    return part % 2 == 1;
}

static size_t chunk_start(const rn_outbuf_t *out, size_t part)
{
    return part == 0 ? 0 : out->splices[part / 2 - 1].at;
}

static size_t part_len(const rn_outbuf_t *out, size_t part)
{
    if (part_is_range(part))
        return out->splices[part / 2].range.len;
    size_t end = part / 2 < out->nsplices ? out->splices[part / 2].at : out->len;
    return end - chunk_start(out, part);
}

/* Releases a range that has been sent in full; rn_outbuf_deinit then skips it. */
static void range_sent(rn_file_range_t *range)
{
    if (range->release != NULL) {
        void (*release)(void *) = range->release;
        range->release = NULL;
        release(range->owner);
    }
}

/* Moves the cursor of `slot` past parts with nothing left to send, releasing ranges on the
 * way. Returns true when the whole response has been sent. */
static bool slot_skip_sent(rn_net_slot_t *slot)
{
    rn_outbuf_t *out = &slot->out;
    while (slot->part < part_count(out) && slot->part_sent == part_len(out, slot->part)) {
        if (part_is_range(slot->part))
            range_sent(&out->splices[slot->part / 2].range);
        slot->part++;
        slot->part_sent = 0;
    }
    return slot->part == part_count(out);
}

enum { SEND_PROGRESS, SEND_BLOCKED, SEND_FAILED };

static void count_sent(rn_net_conn_t *conn, size_t n, _Atomic uint64_t *counter)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
    conn->queued_bytes -= n;
    conn->last_active = uv_now(&conn->loop->uv);
}

/* Sends the rest of the file range at the head's cursor with sendfile(2). */
static int send_range(rn_net_conn_t *conn, rn_net_slot_t *slot)
{
    rn_file_range_t *range = &slot->out.splices[slot->part / 2].range;
    off_t pos = (off_t)(range->pos + (int64_t)slot->part_sent);
    size_t want = range->len - slot->part_sent;
    ssize_t n;
    do
        n = sendfile(conn->fd, range->fd, &pos, want);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        slot->part_sent += (size_t)n;
        count_sent(conn, (size_t)n, &conn->loop->bytes_sendfile);
        /* A short send usually means a full socket buffer; poll tells us when there is room. */
        return (size_t)n < want ? SEND_BLOCKED : SEND_PROGRESS;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return SEND_BLOCKED;
    if (n == 0) {
        /* The file is shorter than the range promised (truncated under us): the frame can no
         * longer be completed, and the client would wait forever for the missing bytes. */
        rn_log(RN_LOG_WARN, "net",
               "peer %s: file range ends early (%zu bytes missing at %lld); closing", conn->peer,
               want, (long long)pos);
    } else {
        rn_log(errno == EPIPE || errno == ECONNRESET ? RN_LOG_DEBUG : RN_LOG_WARN, "net",
               "peer %s: sendfile failed: %s; closing", conn->peer, strerror(errno));
    }
    return SEND_FAILED;
}

/* Marks `n` bytes written by writev as sent, from the head on. */
static void advance_memory(rn_net_conn_t *conn, size_t n)
{
    rn_net_slot_t *slot = conn->head;
    while (n > 0) {
        assert(slot != NULL && slot->responded);
        if (slot_skip_sent(slot)) {
            rn_net_slot_t *next = slot->next;
            slot_free(conn, slot);
            slot = next;
            continue;
        }
        assert(!part_is_range(slot->part)); /* gathering stops at a range with bytes left */
        size_t take = min_size(n, part_len(&slot->out, slot->part) - slot->part_sent);
        slot->part_sent += take;
        n -= take;
    }
}

/* Gathers memory chunks from the head on, across responses that are ready, up to the first
 * file range with bytes left, and writes them with one sendmsg. */
static int send_memory(rn_net_conn_t *conn)
{
    struct iovec iov[RN_NET_WRITE_IOVS];
    int niov = 0;
    size_t total = 0;
    for (rn_net_slot_t *slot = conn->head; slot != NULL && slot->responded; slot = slot->next) {
        const rn_outbuf_t *out = &slot->out;
        if (slot != conn->head)
            slot_skip_sent(slot);
        size_t sent = slot->part_sent;
        for (size_t part = slot->part; part < part_count(out); part++, sent = 0) {
            size_t len = part_len(out, part) - sent;
            if (part_is_range(part)) {
                if (len > 0)
                    goto gathered;
                continue; /* an empty range: released when the cursor passes it */
            }
            if (len == 0)
                continue;
            iov[niov++] = (struct iovec){ out->data + chunk_start(out, part) + sent, len };
            total += len;
            if (niov == RN_NET_WRITE_IOVS)
                goto gathered;
        }
    }
gathered:
    assert(niov > 0);
    /* sendmsg rather than writev only for MSG_NOSIGNAL: a peer that reset must cost us EPIPE,
     * not the process (the loop threads also block SIGPIPE, which covers sendfile). */
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)niov };
    ssize_t n;
    do
        n = sendmsg(conn->fd, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        count_sent(conn, (size_t)n, &conn->loop->bytes_written);
        advance_memory(conn, (size_t)n);
        return (size_t)n < total ? SEND_BLOCKED : SEND_PROGRESS;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return SEND_BLOCKED;
    rn_log(errno == EPIPE || errno == ECONNRESET ? RN_LOG_DEBUG : RN_LOG_WARN, "net",
           "peer %s: write failed: %s; closing", conn->peer,
           n == 0 ? "wrote nothing" : strerror(errno));
    return SEND_FAILED;
}

/* Sends ready responses from the head of the FIFO until the socket is full, a response is not
 * ready yet, or nothing is left. May close the connection. */
static void conn_flush(rn_net_conn_t *conn)
{
    for (;;) {
        rn_net_slot_t *slot;
        while ((slot = conn->head) != NULL && slot->responded && slot_skip_sent(slot))
            slot_free(conn, slot);
        if (slot == NULL || !slot->responded) {
            conn->want_write = false;
            return;
        }
        int rc = part_is_range(slot->part) ? send_range(conn, slot) : send_memory(conn);
        if (rc == SEND_BLOCKED) {
            conn->want_write = true;
            return;
        }
        if (rc == SEND_FAILED) {
            rn_net_conn_close(conn);
            return;
        }
    }
}

/* ---- finishing requests (the handler's side) ---- */

/* The handler let go of `slot`: either its response is queued, or the connection is dead and
 * the slot goes at once. */
static void slot_finished(rn_net_conn_t *conn, rn_net_slot_t *slot)
{
    if (slot == conn->running)
        conn->running = NULL; /* the next request may run: rn_net_conn_update resumes it */
    if (conn->dead) {
        slot_free(conn, slot);
        conn_maybe_free(conn);
        return;
    }
    if (conn->in_dispatch) /* conn_process_input flushes once the dispatch is over */
        return;
    if (slot == conn->head)
        conn_flush(conn);
    rn_net_conn_update(conn);
}

void rn_net_respond(rn_net_req_t *req, rn_outbuf_t *out)
{
    rn_net_slot_t *slot = slot_of(req);
    rn_net_conn_t *conn = req->conn;
    RN_NET_ASSERT_ON_LOOP(conn->loop);
    assert(!slot->responded);
    rn_outbuf_move(&slot->out, out);
    slot->responded = true;
    if (conn->dead) {
        slot_finished(conn, slot);
        return;
    }
    /* On the two failure paths below, closing frees `slot` with every other finished slot. */
    size_t wire_len = rn_outbuf_wire_len(&slot->out);
    if (slot->out.failed) {
        rn_log(RN_LOG_WARN, "net", "peer %s: response incomplete (out of memory); closing",
               conn->peer);
        rn_net_conn_close(conn);
        return;
    }
    /* A frame whose prefix disagrees with its length would desynchronise the client for good;
     * closing is the only honest answer to a bug in the encoder. */
    if (slot->out.len < 4 || wire_len - 4 > INT32_MAX ||
        rn_load_be32(slot->out.data) != wire_len - 4) {
        rn_log(RN_LOG_ERROR, "net",
               "peer %s: malformed response (%zu bytes, size prefix does not match); closing",
               conn->peer, wire_len);
        rn_net_conn_close(conn);
        return;
    }
    conn->queued_bytes += wire_len;
    slot_finished(conn, slot);
}

void rn_net_respond_none(rn_net_req_t *req)
{
    rn_net_slot_t *slot = slot_of(req);
    RN_NET_ASSERT_ON_LOOP(req->conn->loop);
    assert(!slot->responded);
    slot->responded = true; /* an empty response: the writer pops it when it reaches the head */
    slot_finished(req->conn, slot);
}

void rn_net_close_conn(rn_net_req_t *req)
{
    rn_net_slot_t *slot = slot_of(req);
    rn_net_conn_t *conn = req->conn;
    RN_NET_ASSERT_ON_LOOP(conn->loop);
    assert(!slot->responded);
    slot->responded = true;
    if (conn->dead) {
        slot_finished(conn, slot);
        return;
    }
    rn_log(RN_LOG_DEBUG, "net", "peer %s: closed by the handler", conn->peer);
    rn_net_conn_close(conn); /* frees `slot` with every other finished slot */
}

const char *rn_net_conn_peer(const rn_net_conn_t *conn)
{
    return conn->peer;
}

uv_loop_t *rn_net_req_loop(const rn_net_req_t *req)
{
    return &req->conn->loop->uv;
}

void *rn_net_req_loop_data(const rn_net_req_t *req)
{
    return req->conn->loop->user;
}
