/* SPDX-License-Identifier: Apache-2.0 */
/* Connection limits shared by every loop: max.connections, max.connections.per.ip and its
 * overrides, as Kafka's ConnectionQuotas applies them, and the warning for running out of
 * descriptors.
 *
 * The one idea: a connection holds a slot from before accept(2) until its descriptor is closed.
 * A loop takes the slot first; when none is free it stops polling its listener, so new
 * connections wait in the kernel's backlog (connected, unanswered), and the release that frees
 * a slot wakes every waiting loop through its wake_async. Kafka's acceptor blocks the same way,
 * holding the one connection it has just accepted. The per-IP check comes after accept, once the
 * peer is known: a connection over its address's limit is closed at once, as in Kafka. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "net/internal.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/logging.h"

int rn_net_ip_from_sockaddr(const struct sockaddr *addr, socklen_t addrlen, rn_net_ip_t *out)
{
    if (addr->sa_family == AF_INET && addrlen >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)addr;
        memset(out->bytes, 0, 10);
        out->bytes[10] = out->bytes[11] = 0xff;
        memcpy(out->bytes + 12, &sin->sin_addr, 4);
        return 0;
    }
    if (addr->sa_family == AF_INET6 && addrlen >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)addr;
        memcpy(out->bytes, &sin6->sin6_addr, 16);
        return 0;
    }
    return RN_EINVAL;
}

/* "a.b.c.d" for an IPv4-mapped address, else the IPv6 text. */
static void format_ip(const rn_net_ip_t *ip, char *buf, size_t len)
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (memcmp(ip->bytes, mapped, sizeof mapped) == 0)
        inet_ntop(AF_INET, ip->bytes + 12, buf, (socklen_t)len);
    else
        inet_ntop(AF_INET6, ip->bytes, buf, (socklen_t)len);
}

void rn_net_quota_init(rn_net_quota_t *quota, const rn_net_limits_t *limits)
{
    *quota = (rn_net_quota_t){ .max = INT32_MAX, .max_ip = INT32_MAX };
    pthread_mutex_init(&quota->lock, NULL);
    if (limits == NULL)
        return;
    quota->max = limits->max_connections < 0 ? 0 : limits->max_connections;
    quota->max_ip = limits->max_connections_per_ip < 0 ? 0 : limits->max_connections_per_ip;
    if (limits->nip > 0) {
        quota->ip_limits = calloc(limits->nip, sizeof *quota->ip_limits);
        if (quota->ip_limits == NULL)
            abort(); /* a few bytes at start-up, sized by the operator's configuration */
        memcpy(quota->ip_limits, limits->ip, limits->nip * sizeof *quota->ip_limits);
        quota->nip_limits = limits->nip;
    }
    quota->per_ip = quota->max_ip < INT32_MAX || quota->nip_limits > 0;
    if (quota->per_ip)
        rn_hmap_init(&quota->counts);
}

void rn_net_quota_deinit(rn_net_quota_t *quota)
{
    rn_hmap_iter_t it = rn_hmap_iter(&quota->counts);
    for (rn_hmap_node_t *n; (n = rn_hmap_iter_next(&it)) != NULL;)
        free(rn_container_of(n, rn_net_ip_count_t, node));
    rn_hmap_deinit(&quota->counts);
    free(quota->ip_limits);
    pthread_mutex_destroy(&quota->lock);
}

int64_t rn_net_quota_open(rn_net_quota_t *quota)
{
    pthread_mutex_lock(&quota->lock);
    int64_t open = quota->open;
    pthread_mutex_unlock(&quota->lock);
    return open;
}

/* Under the lock: a slot is free again, so every waiting loop tries its listener again (more
 * than one may have a connection queued; those that lose the race wait again). */
static void wake_waiters(rn_net_t *net)
{
    rn_net_quota_t *quota = &net->quota;
    if (quota->nwaiting == 0 || quota->open >= quota->max)
        return;
    for (int i = 0; i < net->nloops && quota->nwaiting > 0; i++) {
        rn_net_loop_t *loop = &net->loops[i];
        if (loop->quota_waiting) {
            loop->quota_waiting = false;
            quota->nwaiting--;
            uv_async_send(&loop->wake_async);
        }
    }
}

bool rn_net_quota_reserve(rn_net_loop_t *loop)
{
    rn_net_quota_t *quota = &loop->net->quota;
    pthread_mutex_lock(&quota->lock);
    bool ok = quota->open < quota->max;
    if (ok) {
        quota->open++;
    } else if (!loop->quota_waiting) {
        loop->quota_waiting = true;
        quota->nwaiting++;
    }
    pthread_mutex_unlock(&quota->lock);
    return ok;
}

static void release_slot_locked(rn_net_t *net)
{
    rn_net_quota_t *quota = &net->quota;
    if (quota->open <= 0)
        rn_log(RN_LOG_ERROR, "net", "connection count would go below zero");
    else
        quota->open--;
    /* Announce again only after the count has really dropped: a reservation that accept did
     * not use, or one connection closing and another taking its place, is the same episode. */
    if (quota->open < quota->max - 1)
        quota->announced = false;
    wake_waiters(net);
}

void rn_net_quota_unreserve(rn_net_loop_t *loop)
{
    pthread_mutex_lock(&loop->net->quota.lock);
    release_slot_locked(loop->net);
    pthread_mutex_unlock(&loop->net->quota.lock);
}

static int64_t limit_for(const rn_net_quota_t *quota, const rn_net_ip_t *ip)
{
    for (size_t i = 0; i < quota->nip_limits; i++)
        if (memcmp(quota->ip_limits[i].ip.bytes, ip->bytes, sizeof ip->bytes) == 0)
            return quota->ip_limits[i].max;
    return quota->max_ip;
}

static rn_net_ip_count_t *find_count(rn_net_quota_t *quota, const rn_net_ip_t *ip, uint64_t hash)
{
    for (rn_hmap_node_t *n = rn_hmap_next_match(&quota->counts, NULL, hash); n != NULL;
         n = rn_hmap_next_match(&quota->counts, n, hash)) {
        rn_net_ip_count_t *c = rn_container_of(n, rn_net_ip_count_t, node);
        if (memcmp(c->ip.bytes, ip->bytes, sizeof ip->bytes) == 0)
            return c;
    }
    return NULL;
}

static void announce_full(const rn_net_quota_t *quota)
{
    rn_log(RN_LOG_INFO, "net",
           "max.connections (%lld) reached: new connections wait until one closes",
           (long long)quota->max);
}

bool rn_net_quota_admit(rn_net_loop_t *loop, const rn_net_ip_t *ip)
{
    rn_net_quota_t *quota = &loop->net->quota;
    pthread_mutex_lock(&quota->lock);
    /* Once each time the limit is reached by an accepted connection: more will wait. */
    bool announce = quota->open == quota->max && !quota->announced;
    if (!quota->per_ip) {
        quota->announced |= announce;
        pthread_mutex_unlock(&quota->lock);
        if (announce)
            announce_full(quota);
        return true;
    }
    int64_t max = limit_for(quota, ip);
    bool ok = true, log_it = false;
    uint64_t suppressed = 0;
    uint64_t hash = rn_hmap_hash(&quota->counts, ip->bytes, sizeof ip->bytes);
    rn_net_ip_count_t *c = find_count(quota, ip, hash);
    int64_t count = c != NULL ? c->count : 0;
    if (count >= max) {
        ok = false;
        /* Kafka logs every rejection at INFO; a client reconnecting in a tight loop would
         * flood the log, so a few lines a second, and a count of the rest. */
        uint64_t now = (uint64_t)rn_clock_mono_ms();
        if (now - quota->reject_window_ms >= 1000) {
            suppressed = quota->reject_suppressed;
            quota->reject_window_ms = now;
            quota->reject_logged = 0;
            quota->reject_suppressed = 0;
        }
        if (quota->reject_logged < RN_NET_REJECT_LOGS_PER_SEC) {
            quota->reject_logged++;
            log_it = true;
        } else {
            quota->reject_suppressed++;
        }
    } else if (c != NULL) {
        c->count++;
    } else if ((c = calloc(1, sizeof *c)) != NULL) {
        c->ip = *ip;
        c->count = 1;
        rn_hmap_insert(&quota->counts, &c->node, hash);
    } else {
        ok = false; /* cannot count it, so cannot let it in */
    }
    announce = announce && ok; /* a rejected one gives its slot back */
    quota->announced |= announce;
    pthread_mutex_unlock(&quota->lock);
    if (announce)
        announce_full(quota);
    if (!ok) {
        atomic_fetch_add_explicit(&loop->connections_rejected, 1, memory_order_relaxed);
        char text[INET6_ADDRSTRLEN];
        format_ip(ip, text, sizeof text);
        if (suppressed > 0)
            rn_log(RN_LOG_INFO, "net", "%llu more connections rejected by per-IP limits",
                   (unsigned long long)suppressed);
        if (log_it)
            rn_log(RN_LOG_INFO, "net",
                   "rejected connection from %s, address already has the configured maximum "
                   "of %lld connections",
                   text, (long long)max);
        else if (c == NULL && count < max)
            rn_log(RN_LOG_WARN, "net", "out of memory counting connections from %s; closing", text);
    }
    return ok;
}

void rn_net_quota_release(rn_net_loop_t *loop, const rn_net_ip_t *ip)
{
    rn_net_quota_t *quota = &loop->net->quota;
    pthread_mutex_lock(&quota->lock);
    if (quota->per_ip) {
        uint64_t hash = rn_hmap_hash(&quota->counts, ip->bytes, sizeof ip->bytes);
        rn_net_ip_count_t *c = find_count(quota, ip, hash);
        if (c != NULL && --c->count <= 0) {
            rn_hmap_remove(&quota->counts, &c->node);
            free(c);
        }
    }
    release_slot_locked(loop->net);
    pthread_mutex_unlock(&quota->lock);
}

void rn_net_quota_forget_loop(rn_net_loop_t *loop)
{
    rn_net_quota_t *quota = &loop->net->quota;
    pthread_mutex_lock(&quota->lock);
    if (loop->quota_waiting) {
        loop->quota_waiting = false;
        quota->nwaiting--;
    }
    pthread_mutex_unlock(&quota->lock);
}

void rn_net_quota_warn_fds(rn_net_loop_t *loop, int err)
{
    rn_net_quota_t *quota = &loop->net->quota;
    uint64_t now = (uint64_t)rn_clock_mono_ms();
    bool warn;
    pthread_mutex_lock(&quota->lock);
    warn = quota->fd_warned_ms == 0 || now - quota->fd_warned_ms >= RN_NET_FD_WARN_EVERY_MS;
    if (warn)
        quota->fd_warned_ms = now;
    int64_t open = quota->open;
    pthread_mutex_unlock(&quota->lock);
    if (!warn)
        return;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        rl.rlim_cur = rl.rlim_max = 0;
    if (err == EMFILE)
        rn_log(RN_LOG_WARN, "net",
               "cannot accept connections: out of file descriptors (%s; RLIMIT_NOFILE soft "
               "limit %llu, hard %llu; %lld connections open). Existing connections are still "
               "served and accepting resumes when descriptors free up. The broker raises its "
               "soft limit to the hard limit at start-up: raise the hard limit (`ulimit -Hn` "
               "before starting it, LimitNOFILE= in a systemd unit, nofile in "
               "/etc/security/limits.conf), or lower max.connections",
               strerror(err), (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
               (long long)open);
    else
        rn_log(RN_LOG_WARN, "net",
               "cannot accept connections: %s (the system-wide limit, fs.file-max, or kernel "
               "memory). Existing connections are still served and accepting resumes when "
               "resources free up; %lld connections open",
               strerror(err), (long long)open);
}
