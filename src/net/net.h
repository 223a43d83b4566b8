/* SPDX-License-Identifier: Apache-2.0 */
/* The network room: `nloops` libuv loops, each in its own thread, each with its own listening
 * socket on the same address (SO_REUSEPORT) and owning the connections it accepted.
 *
 * A connection reads 4-byte size-prefixed frames. The size is checked against
 * `max_request_bytes` before any allocation; a frame that is too large, or a size below the
 * smallest request header, closes the connection. Each complete frame is handed up through
 * `on_request` as an rn_net_req_t. With `one_at_a_time` (the broker's choice, Kafka's rule of one
 * request per connection at a time), a connection's next request is handed up only once the one
 * before it has been finished (rn_net_respond, _respond_none or _close_conn), so a request's
 * effects are in place before the next request on that connection runs; frames behind it are
 * read and kept. Without it, every complete frame is handed up at once. Either way responses go
 * out strictly in request order (Kafka clients drop a connection on an out-of-order correlation
 * id).
 *
 * Connections are driven with uv_poll_t on the raw socket, so the writer can mix writev (memory
 * chunks) and sendfile (file ranges) on one descriptor; nothing else writes to it. */
#ifndef RN_NET_NET_H
#define RN_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "util/outbuf.h"

typedef struct rn_net rn_net_t;
typedef struct rn_net_conn rn_net_conn_t;

/* One request frame. Owned by the network room; valid from on_request until the request is
 * finished with exactly one of rn_net_respond, rn_net_respond_none or rn_net_close_conn,
 * which must be called on the connection's loop (rn_net_req_loop), inside on_request or at
 * any later time. The request stays valid even if its connection closes meanwhile (peer
 * EOF, idle, rn_net_close_conn on an earlier request): finishing it then drops the response
 * and releases its file ranges. At most 64 requests (or 16 MiB of frames, or 4 MiB of unsent
 * responses) are outstanding per connection; beyond that the connection stops reading. With
 * one_at_a_time, a handler that finishes later (a long poll, work on the thread pool) holds up
 * only its own connection. */
typedef struct rn_net_req {
    const uint8_t *frame; /* the request bytes, size prefix stripped */
    size_t len;
    rn_net_conn_t *conn;
    void *user; /* free for the handler layer */
} rn_net_req_t;

/* An IP address as the connection limits compare them: IPv6 bytes, an IPv4 address as its
 * IPv4-mapped form ::ffff:a.b.c.d (so a v4 client of a dual-stack listener is the same peer). */
typedef struct rn_net_ip {
    uint8_t bytes[16];
} rn_net_ip_t;

/* The address of an AF_INET or AF_INET6 `addr` as an rn_net_ip_t. Returns 0 or RN_EINVAL. */
int rn_net_ip_from_sockaddr(const struct sockaddr *addr, socklen_t addrlen, rn_net_ip_t *out);

/* Kafka's connection limits (max.connections, max.connections.per.ip and its overrides),
 * enforced at accept. When `max_connections` connections are open, every loop stops accepting
 * (the kernel keeps new ones in the listen backlog) until one closes, as Kafka's acceptor
 * blocks. A connection from an IP address that already has its limit open is closed at once
 * (logged at INFO). A connection counts from accept until its descriptor is closed. */
typedef struct rn_net_ip_limit {
    rn_net_ip_t ip;
    int32_t max; /* 0 or less: every connection from `ip` is refused */
} rn_net_ip_limit_t;
typedef struct rn_net_limits {
    int32_t max_connections;        /* >= 0; INT32_MAX: no limit */
    int32_t max_connections_per_ip; /* >= 0; INT32_MAX: no limit */
    const rn_net_ip_limit_t *ip;    /* per-address limits that replace the one above; copied */
    size_t nip;
} rn_net_limits_t;

/* Runs on the connection's loop. It may finish `req` before returning, or keep it. */
typedef void (*rn_net_request_cb)(rn_net_req_t *req, void *ctx);

typedef struct rn_net_config {
    const char *host; /* numeric IPv4 or IPv6 address to bind, e.g. "127.0.0.1", "0.0.0.0" */
    int port;         /* 0: an ephemeral port, shared by every loop's listener */
    int nloops;       /* >= 1 */
    size_t max_request_bytes; /* socket.request.max.bytes */
    bool one_at_a_time; /* dispatch a connection's next request only after the last finished */
    uint64_t idle_ms;   /* connections.max.idle.ms; 0: never close idle connections */
    const rn_net_limits_t *limits; /* NULL: no connection limits; copied by rn_net_new */
    rn_net_request_cb on_request;  /* runs on the connection's loop */
    void *ctx;
    /* Optional: asked about each accepted connection (after the connection limits), on the
     * accepting loop, with `ctx`; false closes it at once (a refuse_connections fault). */
    bool (*accept_filter)(const struct sockaddr *addr, socklen_t addrlen, void *ctx);
    /* Optional per-loop state for the layers above (parked requests, their timers). Each runs
     * on the loop's own thread: loop_start before the loop runs (its result is the loop's
     * data, see rn_net_req_loop_data); loop_stop when the loop begins to stop, to finish what it
     * holds and close its handles so the loop can end; loop_end after the loop has ended, to
     * free the data. loop_stop and loop_end get NULL data for a loop that never started. */
    void *(*loop_start)(uv_loop_t *loop, int index, void *ctx);
    void (*loop_stop)(void *loop_data);
    void (*loop_end)(void *loop_data);
} rn_net_config_t;

/* Binds the listeners (so the port is known and errors surface before any thread starts).
 * Returns 0 or a negative error (-EADDRINUSE, ...). */
int rn_net_new(const rn_net_config_t *config, rn_net_t **out);
/* The bound port (the real one when the configured port was 0). */
int rn_net_port(const rn_net_t *net);
/* Starts one thread per loop. Returns 0 or a negative error. */
int rn_net_start(rn_net_t *net);
/* Stops accepting, lets responses already submitted or in flight finish (bounded by a short
 * grace period), closes every connection, joins the threads. Call from any thread but a loop's.
 * Requests the handler still holds when a loop ends are freed here: the handler must not touch
 * them afterwards. A libuv handle the handler keeps active on a loop delays that loop's end
 * until it is closed; one left open but inactive makes uv_loop_close fail (logged). */
void rn_net_stop(rn_net_t *net);
void rn_net_free(rn_net_t *net);

/* Sends `out` as the response to `req` (the frame's 4-byte size prefix must already be at the
 * start of `out`; see rn_outbuf_patch_be32). Takes the content of `out` (leaves it empty), file
 * ranges included: each is released once sent, or when the connection closes first. A prefix
 * that does not match the wire length, or `out->failed`, closes the connection (logged). */
void rn_net_respond(rn_net_req_t *req, rn_outbuf_t *out);
/* Finishes `req` without a response (Produce with acks=0). */
void rn_net_respond_none(rn_net_req_t *req);
/* Finishes `req` and closes its connection at once; earlier responses not yet sent are
 * dropped, and other requests the handler holds on it stay valid until finished. */
void rn_net_close_conn(rn_net_req_t *req);

/* "ip:port" of the peer, for log lines. Valid while the connection lives. */
const char *rn_net_conn_peer(const rn_net_conn_t *conn);
uv_loop_t *rn_net_req_loop(const rn_net_req_t *req);
/* The data loop_start returned for the loop of `req`'s connection. */
void *rn_net_req_loop_data(const rn_net_req_t *req);

/* Counters for tests and benchmarks (summed over loops, read without locks). */
typedef struct rn_net_stats {
    uint64_t connections_accepted;
    uint64_t connections_open;     /* accepted and not yet closed (descriptor still held) */
    uint64_t connections_rejected; /* closed at accept by a per-IP limit */
    uint64_t bytes_sendfile;       /* bytes sent with sendfile(2) */
    uint64_t bytes_written;        /* bytes sent with write/writev */
    uint64_t bytes_read;           /* bytes received from clients */
} rn_net_stats_t;
void rn_net_get_stats(const rn_net_t *net, rn_net_stats_t *out);

#endif
