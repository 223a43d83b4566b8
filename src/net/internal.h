/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/net/: the records shared by net.c (loops, listeners, idle sweep, shutdown) and
 * conn.c (framing, dispatch, the ordered writer).
 *
 * Ownership in one picture: an rn_net_t owns `nloops` loops; a loop owns the connections its
 * listener accepted; a connection owns a FIFO of slots, one per complete request frame, in
 * request order. A slot lives from the moment its frame is complete until its response has been
 * written (or the connection has died and the handler has finished it). Slots are handed to the
 * handler one at a time, in order: the next only once the one before it has finished. Everything
 * below a loop is touched only by that loop's thread; other threads only read the stats counters
 * and call uv_async_send on `stop_async`. */
#ifndef RN_NET_INTERNAL_H
#define RN_NET_INTERNAL_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "net/net.h"
#include "util/hmap.h"
#include "util/outbuf.h"

/* The smallest request header (v0): api_key int16, api_version int16, correlation_id int32. */
#define RN_NET_MIN_FRAME 8
/* Per-connection read buffer for size prefixes and small frames; a large frame body is read
 * straight into its own buffer (readv), so this only bounds how far ahead we read. */
#define RN_NET_READ_BUF (16 * 1024)
/* Back-pressure: a connection stops reading (and stops parsing what it already read) while it
 * holds this many requests, this many request bytes, or this many unsent response bytes. The
 * request-bytes limit is checked before a frame is started, so one frame of up to
 * max_request_bytes always gets through when nothing else is pending. */
#define RN_NET_MAX_PENDING_REQUESTS 64
#define RN_NET_MAX_PENDING_REQUEST_BYTES ((size_t)16 << 20)
#define RN_NET_MAX_QUEUED_RESPONSE_BYTES ((size_t)4 << 20)
/* How long rn_net_stop waits for responses still owed before it closes connections anyway. */
#define RN_NET_STOP_GRACE_MS 2000
/* Connections accepted per readiness callback, so one loop's accept burst cannot starve its
 * connections. */
#define RN_NET_ACCEPT_BATCH 64
/* After EMFILE/ENFILE/ENOBUFS the listener stays readable; we pause accepting this long. */
#define RN_NET_ACCEPT_RETRY_MS 100
/* At most this many per-IP rejections are logged per second (the rest are counted and summed
 * up in the next line), and the descriptor-limit warning at most once per this many ms. */
#define RN_NET_REJECT_LOGS_PER_SEC 10
#define RN_NET_FD_WARN_EVERY_MS 10000
/* iovecs gathered across queued responses per writev. */
#define RN_NET_WRITE_IOVS 64
#define RN_NET_MAX_LOOPS 1024

#ifndef NDEBUG
#define RN_NET_ASSERT_ON_LOOP(loop) assert(pthread_equal((loop)->owner, pthread_self()))
#else
#define RN_NET_ASSERT_ON_LOOP(loop) ((void)(loop))
#endif

typedef struct rn_net_loop rn_net_loop_t;
typedef struct rn_net_slot rn_net_slot_t;

/* One request frame and, later, its response. Owner: the connection's loop. The frame bytes
 * follow the struct in the same allocation, so `req.frame` stays valid as long as the slot. */
struct rn_net_slot {
    rn_net_req_t req;           /* what the handler sees; req.conn is the owner */
    rn_net_slot_t *prev, *next; /* conn's FIFO, in request order */
    bool dispatched;            /* handed to on_request; the handler holds it until it finishes */
    bool responded;             /* the handler has finished it; `out` holds the response */
    rn_outbuf_t out;            /* the response; its parts are sent in wire order */
    size_t part;                /* next part to send: 2i = memory chunk i, 2i+1 = splice i */
    size_t part_sent;           /* bytes of that part already sent */
    uint8_t frame[];
};

/* One accepted socket. Owner: `loop`. Freed when its poll handle has closed and the handler has
 * finished every slot (a dead connection keeps only slots the handler still holds). */
struct rn_net_conn {
    rn_net_loop_t *loop;
    uv_poll_t poll;
    int fd;
    int events;                 /* what `poll` is started with; 0 while stopped */
    bool dead;                  /* closed: nothing more is read or written */
    bool poll_closed;           /* the close callback has run and the fd is closed */
    bool in_dispatch;           /* on_request is running for one of its frames */
    bool want_write;            /* the writer met EAGAIN: poll for writable */
    bool resume_queued;         /* on loop->resume_head: frames wait in rbuf */
    rn_net_conn_t *prev, *next; /* loop->conns */
    rn_net_conn_t *resume_prev, *resume_next;
    rn_net_slot_t *head, *tail;  /* FIFO of slots */
    rn_net_slot_t *undispatched; /* first slot not yet dispatched; all after it wait too */
    rn_net_slot_t *running;      /* the dispatched slot the handler has not finished, or NULL */
    size_t nslots;               /* slots in the FIFO */
    size_t slot_bytes;           /* frame bytes held by those slots */
    size_t queued_bytes;         /* response bytes submitted but not yet sent */
    uint64_t last_active;        /* uv_now() when a byte was last read or written */
    rn_net_slot_t *partial;      /* frame being received; not in the FIFO yet */
    size_t partial_have;         /* its bytes received so far */
    size_t rbuf_len;             /* bytes in rbuf not yet parsed */
    rn_net_ip_t ip;              /* the peer's address, for the connection limits */
    char peer[64];               /* "ip:port" or "[ip6]:port" */
    uint8_t rbuf[RN_NET_READ_BUF];
};

/* One event loop, its thread, its listener and its connections. */
struct rn_net_loop {
    rn_net_t *net;
    int index;
    void *user; /* what config.loop_start returned */
    uv_loop_t uv;
    pthread_t thread; /* as returned by pthread_create */
    pthread_t owner;  /* the thread running `uv`, for RN_NET_ASSERT_ON_LOOP */
    bool thread_started;
    bool closed;   /* uv_loop_close has been called */
    int listen_fd; /* owned by listen_poll: closed in its close callback */
    uv_poll_t listen_poll;
    uv_async_t stop_async;   /* the only handle other threads touch (uv_async_send) */
    uv_timer_t sweep_timer;  /* idle connections */
    uv_timer_t grace_timer;  /* the stop grace period */
    uv_timer_t accept_timer; /* resumes accepting after EMFILE and friends */
    uv_async_t wake_async;   /* a connection slot freed up (max.connections): accept again */
    bool quota_waiting;      /* guarded by net->quota.lock: waits for wake_async */
    bool quota_blocked;      /* the listener is stopped until wake_async */
    uv_idle_t resume_idle;   /* parses frames left in rbuf once back-pressure lifts */
    rn_net_conn_t *conns;    /* live connections and dead ones the handler still uses */
    rn_net_conn_t *resume_head;
    size_t nlive;   /* connections not yet dead */
    bool stopping;  /* no accepting, no reading: drain, then finish */
    bool finishing; /* every handle is being closed */
    /* Counters: written only by this loop, read by rn_net_get_stats from any thread. Relaxed
     * order: they are statistics and publish no other memory. */
    _Atomic uint64_t connections_accepted;
    _Atomic uint64_t connections_rejected;
    _Atomic uint64_t bytes_sendfile;
    _Atomic uint64_t bytes_written;
    _Atomic uint64_t bytes_read;
};

/* One per IP address with connections open (only while a per-IP limit is configured). */
typedef struct rn_net_ip_count {
    rn_hmap_node_t node;
    rn_net_ip_t ip;
    int64_t count;
} rn_net_ip_count_t;

/* The connection limits, shared by every loop. `lock` guards everything below it and every
 * loop's quota_waiting; it is held for a few instructions (a hash lookup, a counter) and never
 * across I/O or a callback, but uv_async_send is called under it so that a loop closing its
 * wake_async cannot race a send (loop_finish clears quota_waiting under the same lock first). */
typedef struct rn_net_quota {
    pthread_mutex_t lock;
    int64_t open;   /* connections accepted whose descriptor is not closed yet */
    int64_t max;    /* max.connections */
    int64_t max_ip; /* max.connections.per.ip */
    bool per_ip;    /* some per-IP limit exists: `counts` is kept */
    rn_net_ip_limit_t *ip_limits;
    size_t nip_limits;
    rn_hmap_t counts;          /* rn_net_ip_count_t by address */
    size_t nwaiting;           /* loops with quota_waiting set */
    bool announced;            /* the "max.connections reached" line was logged for this episode */
    uint64_t reject_window_ms; /* rate limit of the per-IP rejection lines */
    unsigned reject_logged;
    uint64_t reject_suppressed;
    uint64_t fd_warned_ms; /* last descriptor-limit warning; 0: never */
} rn_net_quota_t;

struct rn_net {
    rn_net_config_t config; /* config.host points at `host` */
    rn_net_quota_t quota;
    char *host;
    int port; /* the bound port */
    int nloops;
    rn_net_loop_t *loops;
    bool started;
    bool stopped;
};

/* quota.c */

void rn_net_quota_init(rn_net_quota_t *quota, const rn_net_limits_t *limits);
void rn_net_quota_deinit(rn_net_quota_t *quota);
/* Takes a connection slot before accepting. False when max.connections are open: `loop` is
 * then registered to be woken (wake_async) when one closes, and must stop accepting. */
bool rn_net_quota_reserve(rn_net_loop_t *loop);
/* Gives back a reserved slot that accept did not use. */
void rn_net_quota_unreserve(rn_net_loop_t *loop);
/* Counts an accepted connection from `ip` against its per-IP limit. False (and the reserved
 * slot kept: the caller closes the socket, then calls rn_net_quota_unreserve) when that
 * address already has its limit open; the rejection is logged. */
bool rn_net_quota_admit(rn_net_loop_t *loop, const rn_net_ip_t *ip);
/* A counted connection's descriptor was closed: frees its slot and its per-IP count. */
void rn_net_quota_release(rn_net_loop_t *loop, const rn_net_ip_t *ip);
/* Before `loop` closes wake_async: no wake-up may be sent to it any more. */
void rn_net_quota_forget_loop(rn_net_loop_t *loop);
/* The connections open right now. */
int64_t rn_net_quota_open(rn_net_quota_t *quota);
/* Logs (rate-limited, for the whole process) that accept failed for lack of descriptors,
 * naming RLIMIT_NOFILE and how to raise it. `err` is the errno. */
void rn_net_quota_warn_fds(rn_net_loop_t *loop, int err);

/* conn.c */

/* Wraps a freshly accepted non-blocking socket `fd` in a connection on `loop` and starts
 * reading. Takes ownership of `fd` on every path (closed on failure) and of the connection
 * slot counted for `ip` (released when the descriptor is closed). Owner loop: `loop`. */
void rn_net_conn_open(rn_net_loop_t *loop, int fd, const struct sockaddr *addr, socklen_t addrlen,
                      const rn_net_ip_t *ip);
/* Closes `conn` at once: unsent responses are dropped and their file ranges released; slots
 * the handler still holds stay valid until it finishes them. Its memory is released later,
 * never inside this call. Does nothing to a dead connection. Owner loop: conn's. */
void rn_net_conn_close(rn_net_conn_t *conn);
/* Re-derives what `conn` polls for after a change of state (back-pressure, stopping). While
 * the loop stops it closes the connection once nothing is owed on it. */
void rn_net_conn_update(rn_net_conn_t *conn);
/* Frees a dead connection and every slot it still holds, after its loop has ended (the handler
 * can no longer finish them). */
void rn_net_conn_free_abandoned(rn_net_conn_t *conn);

/* net.c */

/* Called by rn_net_conn_close after `loop->nlive` dropped: finishes a stopping loop once its
 * last connection is gone. */
void rn_net_loop_conn_closed(rn_net_loop_t *loop);

#endif
