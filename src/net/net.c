/* SPDX-License-Identifier: Apache-2.0 */
/* Loops, listeners, the idle sweep and the orderly stop (connections are in conn.c).
 *
 * Every loop has its own listening socket on the same address, made by hand with SO_REUSEPORT
 * (libuv 1.44 has no UV_TCP_REUSEPORT), so the kernel spreads new connections over the loops and
 * no descriptor ever crosses threads. All sockets are bound in rn_net_new: a port in use fails
 * there, before any thread exists.
 *
 * Stop, per loop: close the listener, stop reading, let connections send what they owe (the
 * handler may still answer requests it holds) for up to RN_NET_STOP_GRACE_MS, then close every
 * connection and handle so uv_run returns and uv_loop_close succeeds. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/internal.h"
#include "util/err.h"
#include "util/logging.h"
#include "util/xmalloc.h"

/* ---- addresses and listening sockets ---- */

/* Parses a numeric host ("127.0.0.1", "::1", "[::1]"; NULL, "" or "0.0.0.0": any IPv4). */
static int parse_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)(void *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)ss;
    if (host == NULL || host[0] == '\0') {
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
        sin->sin_port = htons((uint16_t)port);
        *len = sizeof(*sin);
        return 0;
    }
    char buf[INET6_ADDRSTRLEN + 2];
    size_t hostlen = strlen(host);
    if (hostlen >= 2 && host[0] == '[' && host[hostlen - 1] == ']') {
        if (hostlen - 2 >= sizeof(buf))
            return RN_EINVAL;
        memcpy(buf, host + 1, hostlen - 2);
        buf[hostlen - 2] = '\0';
        host = buf;
    }
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *len = sizeof(*sin);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*sin6);
        return 0;
    }
    return RN_EINVAL;
}

static void set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)(void *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)(void *)ss)->sin6_port = htons((uint16_t)port);
}

/* A bound, listening, non-blocking socket. Returns the fd or a negative errno. */
static int listen_socket(const struct sockaddr_storage *ss, socklen_t len, bool reuseport)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
        bind(fd, (const struct sockaddr *)ss, len) != 0 ||
        (reuseport && listen(fd, SOMAXCONN) != 0)) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

/* SO_REUSEPORT would let us join another process's listener on the same port (any process of
 * the same user that also sets it) and silently share its connections. A plain bind first
 * fails with EADDRINUSE if anybody listens there, as Kafka would. */
static int check_port_free(const struct sockaddr_storage *ss, socklen_t len)
{
    int fd = listen_socket(ss, len, false);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -errno;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
}

/* ---- accepting ---- */

static void on_listen_readable(uv_poll_t *poll, int status, int events);
static void on_accept_timer(uv_timer_t *timer);

/* Polls the listener again, unless accepting is paused for another reason. */
static void accept_resume(rn_net_loop_t *loop)
{
    if (loop->stopping || loop->quota_blocked || uv_is_active((uv_handle_t *)&loop->accept_timer))
        return;
    int err = uv_poll_start(&loop->listen_poll, UV_READABLE, on_listen_readable);
    if (err != 0) {
        /* Try again later rather than stop accepting for good. */
        rn_log(RN_LOG_WARN, "net", "loop %d: cannot poll the listener: %s; retrying in %d ms",
               loop->index, uv_strerror(err), RN_NET_ACCEPT_RETRY_MS);
        uv_timer_start(&loop->accept_timer, on_accept_timer, RN_NET_ACCEPT_RETRY_MS, 0);
    }
}

static void on_accept_timer(uv_timer_t *timer)
{
    accept_resume(rn_container_of(timer, rn_net_loop_t, accept_timer));
}

/* Another connection closed while max.connections were open (quota.c). */
static void on_wake_async(uv_async_t *async)
{
    rn_net_loop_t *loop = rn_container_of(async, rn_net_loop_t, wake_async);
    loop->quota_blocked = false;
    accept_resume(loop);
}

static void on_listen_readable(uv_poll_t *poll, int status, int events)
{
    rn_net_loop_t *loop = rn_container_of(poll, rn_net_loop_t, listen_poll);
    (void)events;
    if (status < 0) {
        rn_log(RN_LOG_WARN, "net", "loop %d: listener error: %s", loop->index, uv_strerror(status));
        goto pause;
    }
    for (int i = 0; i < RN_NET_ACCEPT_BATCH; i++) {
        /* max.connections: take the slot before the connection, so that at the limit new
         * connections stay in the backlog instead of being accepted and dropped. */
        if (!rn_net_quota_reserve(loop)) {
            loop->quota_blocked = true;
            uv_poll_stop(&loop->listen_poll);
            return;
        }
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd =
            accept4(loop->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            atomic_fetch_add_explicit(&loop->connections_accepted, 1, memory_order_relaxed);
            rn_net_ip_t ip = { { 0 } };
            (void)rn_net_ip_from_sockaddr((struct sockaddr *)&ss, len, &ip);
            if (!rn_net_quota_admit(loop, &ip)) {
                /* Kafka closes it at once; the client sees EOF or a reset. */
                close(fd);
                rn_net_quota_unreserve(loop);
                continue;
            }
            const rn_net_config_t *cfg = &loop->net->config;
            if (cfg->accept_filter != NULL &&
                !cfg->accept_filter((struct sockaddr *)&ss, len, cfg->ctx)) {
                close(fd);
                rn_net_quota_unreserve(loop);
                continue;
            }
            rn_net_conn_open(loop, fd, (struct sockaddr *)&ss, len, &ip);
            continue;
        }
        int err = errno;
        rn_net_quota_unreserve(loop);
        if (err == EAGAIN || err == EWOULDBLOCK)
            return;
        /* The connection failed before we took it, or a firewall said no: try the next one. */
        if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM)
            continue;
        if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)
            rn_net_quota_warn_fds(loop, err);
        else
            rn_log(RN_LOG_WARN, "net", "loop %d: accept failed: %s; pausing accepts for %d ms",
                   loop->index, strerror(err), RN_NET_ACCEPT_RETRY_MS);
        goto pause;
    }
    return;
pause:
    /* EMFILE and friends leave the connection queued and the socket readable: polling on would
     * spin at full speed (libuv's own accept loop works around it by closing a spare
     * descriptor to accept and drop the connection; we would rather keep it queued), so wait a
     * little for descriptors to come back. Existing connections are served meanwhile. */
    uv_poll_stop(&loop->listen_poll);
    uv_timer_start(&loop->accept_timer, on_accept_timer, RN_NET_ACCEPT_RETRY_MS, 0);
}

/* ---- the idle sweep ---- */

static void on_sweep(uv_timer_t *timer)
{
    rn_net_loop_t *loop = rn_container_of(timer, rn_net_loop_t, sweep_timer);
    uint64_t now = uv_now(&loop->uv);
    uint64_t idle_ms = loop->net->config.idle_ms;
    rn_net_conn_t *conn = loop->conns;
    while (conn != NULL) {
        rn_net_conn_t *next = conn->next; /* closing never frees at once, but be plain about it */
        /* Idle means nothing owed either way: a request the handler is slow to answer is not
         * the client's silence. */
        if (!conn->dead && conn->head == NULL && now - conn->last_active >= idle_ms) {
            rn_log(RN_LOG_DEBUG, "net", "peer %s: idle for %llu ms; closing", conn->peer,
                   (unsigned long long)(now - conn->last_active));
            rn_net_conn_close(conn);
        }
        conn = next;
    }
}

/* A sweep every quarter of idle_ms (10 ms to 1 s) closes a connection within 25% (or a
 * second) of its deadline, without a timer per connection. */
static uint64_t sweep_interval(uint64_t idle_ms)
{
    uint64_t every = idle_ms / 4;
    return every < 10 ? 10 : every > 1000 ? 1000 : every;
}

/* ---- stopping ---- */

static void on_listen_closed(uv_handle_t *handle)
{
    rn_net_loop_t *loop = rn_container_of(handle, rn_net_loop_t, listen_poll);
    close(loop->listen_fd);
    loop->listen_fd = -1;
}

static void close_handle(uv_handle_t *handle, uv_close_cb cb)
{
    if (!uv_is_closing(handle))
        uv_close(handle, cb);
}

/* Closes every connection and handle of `loop`; uv_run then returns once the close callbacks
 * have run. Requests the handler still holds stay valid until the loop ends. */
static void loop_finish(rn_net_loop_t *loop)
{
    if (loop->finishing)
        return;
    loop->finishing = true;
    for (rn_net_conn_t *conn = loop->conns; conn != NULL; conn = conn->next) {
        if (!conn->dead) {
            rn_log(RN_LOG_DEBUG, "net", "peer %s: closing at stop with %zu requests unanswered",
                   conn->peer, conn->nslots);
            rn_net_conn_close(conn);
        }
    }
    close_handle((uv_handle_t *)&loop->listen_poll, on_listen_closed);
    close_handle((uv_handle_t *)&loop->stop_async, NULL);
    rn_net_quota_forget_loop(loop); /* no wake-up may reach wake_async once it is closing */
    close_handle((uv_handle_t *)&loop->wake_async, NULL);
    close_handle((uv_handle_t *)&loop->sweep_timer, NULL);
    close_handle((uv_handle_t *)&loop->grace_timer, NULL);
    close_handle((uv_handle_t *)&loop->accept_timer, NULL);
    close_handle((uv_handle_t *)&loop->resume_idle, NULL);
}

void rn_net_loop_conn_closed(rn_net_loop_t *loop)
{
    if (loop->stopping && loop->nlive == 0)
        loop_finish(loop);
}

static void on_grace_timer(uv_timer_t *timer)
{
    rn_net_loop_t *loop = rn_container_of(timer, rn_net_loop_t, grace_timer);
    rn_log(RN_LOG_INFO, "net", "loop %d: stop grace period over; closing %zu connections",
           loop->index, loop->nlive);
    loop_finish(loop);
}

static void loop_stop_begin(rn_net_loop_t *loop)
{
    if (loop->stopping)
        return;
    loop->stopping = true;
    if (loop->net->config.loop_stop != NULL)
        loop->net->config.loop_stop(loop->user);
    close_handle((uv_handle_t *)&loop->listen_poll, on_listen_closed);
    uv_timer_stop(&loop->accept_timer);
    uv_timer_stop(&loop->sweep_timer);
    /* Stop reading everywhere; connections owing nothing close now (which may finish the loop
     * from inside rn_net_conn_close when the last one goes). */
    rn_net_conn_t *conn = loop->conns;
    while (conn != NULL) {
        rn_net_conn_t *next = conn->next;
        rn_net_conn_update(conn);
        conn = next;
    }
    if (loop->finishing)
        return;
    if (loop->nlive == 0)
        loop_finish(loop);
    else
        uv_timer_start(&loop->grace_timer, on_grace_timer, RN_NET_STOP_GRACE_MS, 0);
}

static void on_stop_async(uv_async_t *async)
{
    loop_stop_begin(rn_container_of(async, rn_net_loop_t, stop_async));
}

/* After uv_run has returned: nothing can finish the requests still held, so free them, and
 * close the loop. */
static void loop_end(rn_net_loop_t *loop)
{
    while (loop->conns != NULL)
        rn_net_conn_free_abandoned(loop->conns);
    int err = uv_loop_close(&loop->uv);
    if (err != 0)
        rn_log(RN_LOG_ERROR, "net",
               "loop %d: uv_loop_close: %s (a handle on this loop was left open)", loop->index,
               uv_strerror(err));
    loop->closed = true;
    if (loop->net->config.loop_end != NULL)
        loop->net->config.loop_end(loop->user);
    loop->user = NULL;
}

static void *loop_main(void *arg)
{
    rn_net_loop_t *loop = arg;
    char name[16];
    snprintf(name, sizeof(name), "rn-net-%d", loop->index);
    pthread_setname_np(pthread_self(), name);
    loop->owner = pthread_self();
    if (loop->net->config.loop_start != NULL)
        loop->user = loop->net->config.loop_start(&loop->uv, loop->index, loop->net->config.ctx);
    uv_run(&loop->uv, UV_RUN_DEFAULT);
    loop_end(loop);
    return NULL;
}

/* Tears down a loop whose thread never ran, on the calling thread. */
static void loop_teardown_here(rn_net_loop_t *loop)
{
    loop->owner = pthread_self();
    loop_stop_begin(loop);
    uv_run(&loop->uv, UV_RUN_DEFAULT);
    loop_end(loop);
}

/* ---- setup ---- */

/* Initialises `loop` around the listening socket `fd` (taken on every path). */
static int loop_open(rn_net_t *net, rn_net_loop_t *loop, int index, int fd)
{
    int err;
    loop->net = net;
    loop->index = index;
    loop->listen_fd = fd;
    loop->owner = pthread_self();
    if ((err = uv_loop_init(&loop->uv)) != 0)
        goto fail_close_fd;
    if ((err = uv_async_init(&loop->uv, &loop->stop_async, on_stop_async)) != 0)
        goto fail_close_loop;
    if ((err = uv_async_init(&loop->uv, &loop->wake_async, on_wake_async)) != 0)
        goto fail_close_async;
    if ((err = uv_poll_init(&loop->uv, &loop->listen_poll, fd)) != 0)
        goto fail_close_wake;
    /* These cannot fail on Unix. */
    uv_timer_init(&loop->uv, &loop->sweep_timer);
    uv_timer_init(&loop->uv, &loop->grace_timer);
    uv_timer_init(&loop->uv, &loop->accept_timer);
    uv_idle_init(&loop->uv, &loop->resume_idle);
    if ((err = uv_poll_start(&loop->listen_poll, UV_READABLE, on_listen_readable)) != 0)
        goto fail_close_handles;
    if (net->config.idle_ms > 0) {
        uint64_t every = sweep_interval(net->config.idle_ms);
        uv_timer_start(&loop->sweep_timer, on_sweep, every, every);
    }
    return 0;
fail_close_handles:
    uv_close((uv_handle_t *)&loop->resume_idle, NULL);
    uv_close((uv_handle_t *)&loop->accept_timer, NULL);
    uv_close((uv_handle_t *)&loop->grace_timer, NULL);
    uv_close((uv_handle_t *)&loop->sweep_timer, NULL);
    uv_close((uv_handle_t *)&loop->listen_poll, NULL); /* the fd is closed below, after the run */
fail_close_wake:
    uv_close((uv_handle_t *)&loop->wake_async, NULL);
fail_close_async:
    uv_close((uv_handle_t *)&loop->stop_async, NULL);
    uv_run(&loop->uv, UV_RUN_DEFAULT);
fail_close_loop:
    uv_loop_close(&loop->uv);
fail_close_fd:
    close(fd);
    return err;
}

int rn_net_new(const rn_net_config_t *config, rn_net_t **out)
{
    *out = NULL;
    if (config->nloops < 1 || config->nloops > RN_NET_MAX_LOOPS || config->on_request == NULL ||
        config->port < 0 || config->port > 65535 || config->max_request_bytes < RN_NET_MIN_FRAME)
        return RN_EINVAL;
    struct sockaddr_storage ss;
    socklen_t sslen;
    int err = parse_addr(config->host, config->port, &ss, &sslen);
    if (err != 0)
        return err;
    if (config->port != 0 && (err = check_port_free(&ss, sslen)) != 0)
        return err;

    rn_net_t *net = rn_xcalloc(1, sizeof(*net));
    net->config = *config;
    net->host = rn_xstrdup(config->host != NULL ? config->host : "");
    net->config.host = net->host;
    if (net->config.max_request_bytes > INT32_MAX) /* the size prefix is an int32 anyway */
        net->config.max_request_bytes = INT32_MAX;
    net->config.limits = NULL; /* the caller's; copied into `quota` */
    rn_net_quota_init(&net->quota, config->limits);
    net->port = config->port;
    net->loops = rn_xcalloc((size_t)config->nloops, sizeof(rn_net_loop_t));
    int opened = 0;
    for (; opened < config->nloops; opened++) {
        int fd = listen_socket(&ss, sslen, true);
        if (fd < 0) {
            err = fd;
            goto fail;
        }
        if (opened == 0 && net->port == 0) {
            /* Port 0: the first bind picks the port and every other loop joins it. */
            if ((net->port = bound_port(fd)) < 0) {
                err = net->port;
                close(fd);
                goto fail;
            }
            set_port(&ss, net->port);
        }
        if ((err = loop_open(net, &net->loops[opened], opened, fd)) != 0)
            goto fail;
    }
    net->nloops = config->nloops;
    *out = net;
    return 0;
fail:
    for (int i = 0; i < opened; i++)
        loop_teardown_here(&net->loops[i]);
    rn_net_quota_deinit(&net->quota);
    free(net->loops);
    free(net->host);
    free(net);
    return err;
}

int rn_net_port(const rn_net_t *net)
{
    return net->port;
}

static void stop_threads(rn_net_t *net)
{
    for (int i = 0; i < net->nloops; i++)
        if (net->loops[i].thread_started)
            uv_async_send(&net->loops[i].stop_async);
    for (int i = 0; i < net->nloops; i++) {
        if (net->loops[i].thread_started) {
            pthread_join(net->loops[i].thread, NULL);
            net->loops[i].thread_started = false;
        }
    }
}

int rn_net_start(rn_net_t *net)
{
    if (net->started || net->stopped)
        return RN_EINVAL;
    net->started = true;
    /* Loop threads take no asynchronous signals: SIGINT and SIGTERM belong to whoever embeds
     * us, and SIGPIPE from sendfile to a reset peer must become EPIPE, not a dead process. The
     * mask is inherited, so set it around pthread_create; faults stay deliverable. */
    sigset_t mask, old;
    sigfillset(&mask);
    static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS };
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
        sigdelset(&mask, faults[i]);
    pthread_sigmask(SIG_BLOCK, &mask, &old);
    int err = 0;
    for (int i = 0; i < net->nloops && err == 0; i++) {
        err = -pthread_create(&net->loops[i].thread, NULL, loop_main, &net->loops[i]);
        net->loops[i].thread_started = err == 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        rn_log(RN_LOG_ERROR, "net", "cannot start a loop thread: %s", strerror(-err));
        stop_threads(net);
        net->stopped = true;
        return err;
    }
    rn_log(RN_LOG_DEBUG, "net", "listening on %s port %d with %d loops",
           net->host[0] != '\0' ? net->host : "0.0.0.0", net->port, net->nloops);
    return 0;
}

void rn_net_stop(rn_net_t *net)
{
    if (net == NULL || net->stopped)
        return;
    net->stopped = true;
    stop_threads(net);
}

void rn_net_free(rn_net_t *net)
{
    if (net == NULL)
        return;
    rn_net_stop(net);
    for (int i = 0; i < net->nloops; i++)
        if (!net->loops[i].closed)
            loop_teardown_here(&net->loops[i]);
    rn_net_quota_deinit(&net->quota);
    free(net->loops);
    free(net->host);
    free(net);
}

void rn_net_get_stats(const rn_net_t *net, rn_net_stats_t *out)
{
    *out = (rn_net_stats_t){ 0 };
    for (int i = 0; i < net->nloops; i++) {
        rn_net_loop_t *loop = &net->loops[i];
        out->connections_accepted +=
            atomic_load_explicit(&loop->connections_accepted, memory_order_relaxed);
        out->bytes_sendfile += atomic_load_explicit(&loop->bytes_sendfile, memory_order_relaxed);
        out->bytes_written += atomic_load_explicit(&loop->bytes_written, memory_order_relaxed);
        out->bytes_read += atomic_load_explicit(&loop->bytes_read, memory_order_relaxed);
        out->connections_rejected +=
            atomic_load_explicit(&loop->connections_rejected, memory_order_relaxed);
    }
    out->connections_open = (uint64_t)rn_net_quota_open(&((rn_net_t *)net)->quota);
}
