/* SPDX-License-Identifier: Apache-2.0 */
/* The embeddable broker behind include/runnel/runnel.h: validates the configuration, prepares
 * the data directory, and wires the rooms together. Frames arrive from `net` on a loop
 * thread, become rn_request_t, go through the handler table, and their responses go back to
 * `net`, which sends them in request order.
 *
 * Lifetime: runnel_new (config checked, nothing touched on disk) -> runnel_start (data dir,
 * listeners bound, threads started) -> runnel_stop (in-flight responses finished, threads
 * joined) -> runnel_free. */
#include "runnel/runnel.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "control/control.h"
#include "coord/coord.h"
#include "faults/faults.h"
#include "handlers/handlers.h"
#include "log/log.h"
#include "net/net.h"
#include "topics/topics.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/logging.h"
#include "util/xmalloc.h"

#include "broker_snapshot.h"

struct runnel {
    rn_config_t config;
    rn_broker_info_t info;
    char *cluster_id;      /* owned: configured, read from meta.properties, or made */
    char *advertised_host; /* owned */
    rn_net_t *net;         /* NULL until started */
    rn_topics_t *topics;   /* NULL until started */
    rn_coord_t *coord;     /* NULL until started */
    rn_cleaner_t *cleaner; /* NULL until started, or with log.cleaner.enable=false */
    rn_control_t *control; /* NULL until started, or without runnel.control.listener */
    rn_faults_t *faults;   /* injected faults (POST /faults); lives as long as the broker */
    /* Two maintenance threads, off the event loops: the coordinator's clock, and the logs'
     * disk work (retention, time-based flush and roll, checkpoints), apart so that a long
     * retention pass never delays a session timeout. */
    pthread_t maint[2];
    int nmaint;
    bool rooms_open; /* topics, coordinator, maintenance threads and cleaner */
    int port;        /* the Kafka listener's bound port, kept across a snapshot restore */
    bool maint_stop; /* guarded by maint_lock */
    pthread_mutex_t maint_lock;
    pthread_cond_t maint_cond;
};

/* Decoded structs may be larger than their wire form (a 2-byte string length becomes a
 * 16-byte view), but a request that needs more than this fails alone, not the broker. */
enum { ARENA_BASE_LIMIT = 64 << 20 };

const char *runnel_version(void)
{
    return RUNNEL_VERSION;
}

/* ------------------------------------------------------------------------------------------ */
/* Requests: net -> handlers -> net. Runs on the connection's loop. */

static void broker_finish(rn_request_t *req, rn_finish_t how)
{
    rn_net_req_t *nreq = req->finish_ctx;
    switch (how) {
    case RN_FINISH_RESPOND:
        rn_net_respond(nreq, &req->out);
        break;
    case RN_FINISH_NONE:
        rn_net_respond_none(nreq);
        break;
    case RN_FINISH_CLOSE:
        rn_net_close_conn(nreq);
        break;
    }
    rn_outbuf_deinit(&req->out);
    rn_arena_deinit(&req->arena);
    free(req);
}

static void on_request(rn_net_req_t *nreq, void *ctx)
{
    runnel_t *rn = ctx;
    rn_request_t *req = calloc(1, sizeof *req);
    if (req == NULL) {
        rn_log(RN_LOG_ERROR, "broker", "out of memory for a request from %s",
               rn_net_conn_peer(nreq->conn));
        rn_net_close_conn(nreq);
        return;
    }
    req->frame = nreq->frame;
    req->frame_len = nreq->len;
    req->peer = rn_net_conn_peer(nreq->conn);
    req->broker = &rn->info;
    req->loop_ctx = rn_net_req_loop_data(nreq);
    req->executor = rn_handlers_loop_executor(req->loop_ctx);
    rn_arena_init(&req->arena, ARENA_BASE_LIMIT + 2 * nreq->len);
    rn_outbuf_init(&req->out);
    req->finish = broker_finish;
    req->finish_ctx = nreq;
    rn_handlers_dispatch(req);
}

/* A refuse_connections fault (POST /faults) closes accepted connections at once while its
 * window is open. Runs on the accepting loop. */
static bool accept_filter(const struct sockaddr *addr, socklen_t addrlen, void *ctx)
{
    runnel_t *rn = ctx;
    rn_fault_hit_t hit;
    if (!rn_faults_refuse_connection(rn->faults, &hit))
        return true;
    char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
    (void)getnameinfo(addr, addrlen, host, sizeof host, port, sizeof port,
                      NI_NUMERICHOST | NI_NUMERICSERV);
    rn_log(RN_LOG_INFO, "control",
           "fault #%lld: refused a connection from %s:%s (%lld ms left in the window)",
           (long long)hit.id, host, port, (long long)hit.remaining);
    return false;
}

/* ------------------------------------------------------------------------------------------ */
/* The data directory and meta.properties (cluster.id, node.id), as Kafka's KRaft brokers
 * keep them: a cluster id is made once and then read back on every start. */

static int mkdir_p(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return -ENAMETOOLONG;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding (22 chars). */
static char *make_cluster_id(void)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return NULL;
    char *out = rn_xmalloc(23);
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < sizeof raw; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = alphabet[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[o++] = alphabet[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    return out;
}

static char *read_meta_cluster_id(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/meta.properties", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char line[512];
    char *id = NULL;
    while (id == NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "cluster.id=", 11) != 0)
            continue;
        char *v = line + 11;
        v[strcspn(v, "\r\n")] = '\0';
        if (*v != '\0')
            id = rn_xstrdup(v);
    }
    fclose(f);
    return id;
}

/* Written atomically: temp file, fsync, rename, fsync of the directory. */
static int write_meta(const char *dir, const char *cluster_id, int32_t node_id)
{
    char tmp[4200], path[4200];
    snprintf(tmp, sizeof tmp, "%s/meta.properties.tmp", dir);
    snprintf(path, sizeof path, "%s/meta.properties", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    char text[256];
    int n =
        snprintf(text, sizeof text, "#Written by runnel %s\nversion=1\ncluster.id=%s\nnode.id=%d\n",
                 RUNNEL_VERSION, cluster_id, node_id);
    int err = 0;
    if (write(fd, text, (size_t)n) != n || fsync(fd) != 0)
        err = errno ? -errno : -EIO;
    close(fd);
    if (err == 0 && rename(tmp, path) != 0)
        err = -errno;
    /* The rename is durable only once the directory entry is. */
    if (err == 0)
        err = rn_fsync_dir(dir);
    if (err != 0)
        unlink(tmp);
    return err;
}

static int prepare_data_dir(runnel_t *rn)
{
    const char *dir = rn->config.log_dir;
    int err = mkdir_p(dir);
    if (err != 0) {
        rn_log(RN_LOG_ERROR, "broker", "cannot create log.dirs %s: %s", dir, strerror(-err));
        return err;
    }
    char *stored = read_meta_cluster_id(dir);
    if (rn->config.cluster_id != NULL) {
        if (stored != NULL && strcmp(stored, rn->config.cluster_id) != 0) {
            rn_log(RN_LOG_ERROR, "broker", "cluster.id %s does not match %s in %s/meta.properties",
                   rn->config.cluster_id, stored, dir);
            free(stored);
            return -EINVAL;
        }
        free(stored);
        stored = rn_xstrdup(rn->config.cluster_id);
    }
    if (stored == NULL) {
        stored = make_cluster_id();
        if (stored == NULL)
            return -EIO;
    }
    if ((err = write_meta(dir, stored, rn->config.node_id)) != 0) {
        rn_log(RN_LOG_ERROR, "broker", "cannot write %s/meta.properties: %s", dir, strerror(-err));
        free(stored);
        return err;
    }
    free(rn->cluster_id);
    rn->cluster_id = stored;
    rn->info.cluster_id = stored;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Maintenance, off the event loops: the coordinator's clock every 100 ms (session and
 * rebalance timeouts) on one thread; time-based flushes and rolls every second (flush.ms,
 * segment.ms) and retention every log.retention.check.interval.ms on another. */

enum { COORD_TICK_MS = 100, LOG_TICK_MS = 1000 };

/* Sleeps `ms` unless a stop is asked for; returns false when it is. */
static bool maint_wait(runnel_t *rn, long ms)
{
    struct timespec until = rn_clock_wall_after(ms);
    pthread_mutex_lock(&rn->maint_lock);
    if (!rn->maint_stop)
        pthread_cond_timedwait(&rn->maint_cond, &rn->maint_lock, &until);
    bool go_on = !rn->maint_stop;
    pthread_mutex_unlock(&rn->maint_lock);
    return go_on;
}

static void *coord_main(void *arg)
{
    runnel_t *rn = arg;
    while (maint_wait(rn, COORD_TICK_MS))
        rn_coord_tick(rn->coord, rn_clock_wall_ms());
    return NULL;
}

static void *logs_main(void *arg)
{
    runnel_t *rn = arg;
    int64_t interval = rn->config.log_retention_check_interval_ms;
    int64_t expiry_interval = rn->config.producer_id_expiration_check_interval_ms;
    int64_t next_retention = rn_clock_wall_ms() + interval;
    int64_t next_expiry = rn_clock_wall_ms() + expiry_interval;
    while (maint_wait(rn, LOG_TICK_MS)) {
        int64_t now = rn_clock_wall_ms();
        bool retention_due = now >= next_retention;
        if (retention_due)
            next_retention = now + interval;
        rn_topics_maintain(rn->topics, now, retention_due);
        if (now >= next_expiry) {
            next_expiry = now + expiry_interval;
            rn_topics_expire_producers(rn->topics, now, rn->config.producer_id_expiration_ms);
        }
    }
    return NULL;
}

static void maint_stop(runnel_t *rn)
{
    pthread_mutex_lock(&rn->maint_lock);
    rn->maint_stop = true;
    pthread_cond_broadcast(&rn->maint_cond);
    pthread_mutex_unlock(&rn->maint_lock);
    for (int i = 0; i < rn->nmaint; i++)
        pthread_join(rn->maint[i], NULL);
    rn->nmaint = 0;
}

/* Stops the maintenance threads, then closes the coordinator and the logs (checkpoints and the
 * clean-shutdown marker are written last). The network must be stopped already. */
static void close_rooms(runnel_t *rn)
{
    if (!rn->rooms_open)
        return;
    rn->rooms_open = false;
    rn_cleaner_stop(rn->cleaner);
    rn->cleaner = NULL;
    maint_stop(rn);
    pthread_cond_destroy(&rn->maint_cond);
    pthread_mutex_destroy(&rn->maint_lock);
    rn_coord_close(rn->coord);
    rn->coord = NULL;
    rn->info.coord = NULL;
    rn_topics_close(rn->topics);
    rn->topics = NULL;
    rn->info.topics = NULL;
}

/* ---- descriptors and connection limits ---- */

/* Servers raise their descriptor soft limit to the hard limit at start-up (the JVM that runs
 * Kafka does so by default, -XX:+MaxFDLimit): the soft limit is often 1024, which a few
 * hundred partitions (three files each) plus connections exceed, while the hard limit is what
 * the administrator actually allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur == rl.rlim_max) {
        rn_log(RN_LOG_INFO, "broker", "file descriptor limit (RLIMIT_NOFILE): %llu",
               (unsigned long long)rl.rlim_cur);
        return;
    }
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        rn_log(RN_LOG_WARN, "broker",
               "cannot raise the file descriptor limit from %llu to the hard limit %llu: %s",
               (unsigned long long)old, (unsigned long long)rl.rlim_max, strerror(errno));
        return;
    }
    rn_log(RN_LOG_INFO, "broker",
           "raised the file descriptor limit (RLIMIT_NOFILE) from %llu to the hard limit %llu",
           (unsigned long long)old, (unsigned long long)rl.rlim_max);
}

/* Resolves one host of max.connections.per.ip.overrides as Java's InetAddress.getByName does
 * for Kafka: a literal is itself, "" is loopback, and a name is its first IPv4 address (Java
 * prefers IPv4 by default), else its first IPv6 one. */
static int resolve_override_host(const char *host, rn_net_ip_t *out)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host[0] != '\0' ? host : "127.0.0.1", NULL, &hints, &res);
    if (rc != 0) {
        rn_log(RN_LOG_ERROR, "broker",
               "cannot resolve '%s' of max.connections.per.ip.overrides: %s", host,
               gai_strerror(rc));
        return -EINVAL;
    }
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *ai = res; ai != NULL && pick == NULL; ai = ai->ai_next)
        if (ai->ai_family == AF_INET)
            pick = ai;
    for (const struct addrinfo *ai = res; ai != NULL && pick == NULL; ai = ai->ai_next)
        if (ai->ai_family == AF_INET6)
            pick = ai;
    rc = pick != NULL ? rn_net_ip_from_sockaddr(pick->ai_addr, pick->ai_addrlen, out) : -EINVAL;
    if (rc != 0)
        rn_log(RN_LOG_ERROR, "broker", "'%s' of max.connections.per.ip.overrides has no address",
               host);
    freeaddrinfo(res);
    return rc;
}

/* The connection limits for the network room; *ips is allocated (free it). Returns 0 or a
 * negative error (logged) when an override's host cannot be resolved. */
static int build_limits(const rn_config_t *config, rn_net_limits_t *limits, rn_net_ip_limit_t **ips)
{
    *ips = NULL;
    *limits = (rn_net_limits_t){ .max_connections = config->max_connections,
                                 .max_connections_per_ip = config->max_connections_per_ip };
    if (config->n_ip_overrides == 0)
        return 0;
    rn_net_ip_limit_t *list = rn_xcalloc(config->n_ip_overrides, sizeof *list);
    size_t n = 0;
    for (size_t i = 0; i < config->n_ip_overrides; i++) {
        rn_net_ip_t ip;
        int err = resolve_override_host(config->ip_overrides[i].host, &ip);
        if (err != 0) {
            free(list);
            return err;
        }
        /* Two names for one address: the later entry wins, as it would for one name. */
        size_t j = 0;
        while (j < n && memcmp(list[j].ip.bytes, ip.bytes, sizeof ip.bytes) != 0)
            j++;
        list[j] = (rn_net_ip_limit_t){ .ip = ip, .max = config->ip_overrides[i].max };
        if (j == n)
            n++;
    }
    limits->ip = list;
    limits->nip = n;
    *ips = list;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */

runnel_t *runnel_new(const runnel_config_t *config, char *err, size_t errlen)
{
    runnel_t *rn = rn_xcalloc(1, sizeof *rn);
    if (rn_config_build(config, &rn->config, err, errlen) != 0) {
        free(rn);
        return NULL;
    }
    rn_log_set_level(rn->config.log_level);
    const char *host = rn->config.advertised_host;
    if (host == NULL) {
        /* A wildcard listener cannot be advertised; loopback is the honest default for a
         * development broker (set advertised.listeners for anything else). */
        const char *l = rn->config.listener_host;
        host =
            (l[0] == '\0' || strcmp(l, "0.0.0.0") == 0 || strcmp(l, "::") == 0) ? "127.0.0.1" : l;
    }
    rn->advertised_host = rn_xstrdup(host);
    rn->info.config = &rn->config;
    rn->info.node_id = rn->config.node_id;
    rn->info.advertised_host = rn->advertised_host;
    atomic_init(&rn->info.advertised_port, -1);
    rn->info.auto_create_topics_enable = rn->config.auto_create_topics_enable;
    rn->info.num_partitions = rn->config.num_partitions;
    rn->faults = rn_faults_new();
    rn->info.faults = rn->faults;
    return rn;
}

/* The bound of the cache of open segment files: as configured, else half the descriptor limit,
 * which leaves the other half to connections and the files opened for a moment. */
static void size_open_files(const rn_config_t *cfg)
{
    size_t max = (size_t)cfg->log_open_files_max;
    struct rlimit rl;
    if (max == 0) {
        max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
                      rl.rlim_cur / 2 < (rlim_t)INT32_MAX
                  ? (size_t)(rl.rlim_cur / 2)
                  : RN_LOG_OPEN_FILES_DEFAULT;
        if (max < 16)
            max = 16;
    }
    rn_log_set_open_files_max(max);
    rn_log(RN_LOG_INFO, "broker",
           "segment files kept open: at most %zu (runnel.log.open.files.max)", max);
}

/* ---- the control plane ---- */

/* POST /reset: the topic registry first (user topics deleted, internal ones emptied), then the
 * coordinator's memory. Both use the rooms' thread-safe calls, so connections, loops and
 * parked requests carry on: a parked fetch wakes to a deleted topic, a parked join gets
 * UNKNOWN_MEMBER_ID and its client joins again. Runs on the control plane's thread. */
static int broker_reset(void *broker, char *err, size_t errlen)
{
    runnel_t *rn = broker;
    if (rn->topics == NULL) {
        snprintf(err, errlen, "the broker is down (a snapshot restore failed)");
        return -EIO;
    }
    rn_topics_reset_stats_t stats;
    int rc = rn_topics_reset(rn->topics, &stats);
    rn_coord_reset(rn->coord);
    if (rc != 0)
        snprintf(err, errlen, "the topic file or an internal topic: %s", strerror(-rc));
    rn_log(RN_LOG_INFO, "broker", "reset: %zu topics deleted, %zu internal topics emptied",
           stats.topics_deleted, stats.internal_emptied);
    return rc;
}

/* Opens the rooms over log.dir: the topics, the coordinator (which reads its state back from
 * the internal topics), the maintenance threads and the cleaner. 0, or a negative errno with
 * everything undone. */
static int open_rooms(runnel_t *rn)
{
    int err = rn_topics_open(&rn->config, &rn->topics);
    if (err != 0)
        return err;
    rn->info.topics = rn->topics;
    if ((err = rn_coord_open(&rn->config, rn->topics, rn_clock_wall_ms(), &rn->coord)) != 0) {
        rn_log(RN_LOG_ERROR, "broker", "cannot open the group coordinator: %s", strerror(-err));
        rn_topics_close(rn->topics);
        rn->topics = NULL;
        rn->info.topics = NULL;
        return err;
    }
    rn->info.coord = rn->coord;
    pthread_mutex_init(&rn->maint_lock, NULL);
    pthread_cond_init(&rn->maint_cond, NULL);
    rn->maint_stop = false;
    rn->rooms_open = true;
    void *(*const mains[2])(void *) = { coord_main, logs_main };
    for (int i = 0; i < 2; i++) {
        if (pthread_create(&rn->maint[i], NULL, mains[i], rn) != 0) {
            close_rooms(rn);
            return -EAGAIN;
        }
        rn->nmaint++;
    }
    (void)rn_cleaner_start(rn->topics, &rn->config, &rn->cleaner);
    return 0;
}

/* Binds the Kafka listener on `port` (0: any) and starts its loops. 0 or a negative errno
 * (logged). */
static int start_net(runnel_t *rn, int port)
{
    rn_net_limits_t limits;
    rn_net_ip_limit_t *ip_limits = NULL;
    int err = build_limits(&rn->config, &limits, &ip_limits);
    if (err != 0)
        return err;
    rn_net_config_t nc = {
        .host = rn->config.listener_host,
        .port = port,
        .nloops = rn->config.num_network_threads,
        .max_request_bytes = (size_t)rn->config.socket_request_max_bytes,
        .one_at_a_time = true, /* Kafka: one request per connection at a time */
        .idle_ms = rn->config.connections_max_idle_ms > 0
                       ? (uint64_t)rn->config.connections_max_idle_ms
                       : 0,
        .limits = &limits,
        .on_request = on_request,
        .ctx = rn,
        .accept_filter = accept_filter,
        .loop_start = rn_handlers_loop_start,
        .loop_stop = rn_handlers_loop_stop,
        .loop_end = rn_handlers_loop_end,
    };
    err = rn_net_new(&nc, &rn->net);
    free(ip_limits); /* copied by rn_net_new */
    if (err != 0) {
        rn_log(RN_LOG_ERROR, "broker", "cannot listen on %s:%d: %s",
               rn->config.listener_host[0] ? rn->config.listener_host : "0.0.0.0", port,
               strerror(-err));
        rn->net = NULL;
        return err;
    }
    rn->port = rn_net_port(rn->net);
    int adv = rn->config.advertised_port >= 0 ? rn->config.advertised_port : rn->port;
    atomic_store_explicit(&rn->info.advertised_port, adv, memory_order_release);
    if ((err = rn_net_start(rn->net)) != 0) {
        rn_net_free(rn->net);
        rn->net = NULL;
    }
    return err;
}

/* ---- snapshots (POST /snapshots/NAME, .../restore, DELETE): the rooms are closed around the
 * file work, so the data directory is at rest (logs synced, checkpoints and the clean-shutdown
 * marker written) and the snapshot needs no recovery when restored. Kafka clients are
 * disconnected meanwhile and reconnect to the same port; the control plane keeps running. ---- */

/* Stops the Kafka listener and closes the rooms. */
static void quiesce(runnel_t *rn)
{
    if (rn->net != NULL) {
        rn_net_stop(rn->net);
        rn_net_free(rn->net);
        rn->net = NULL;
    }
    close_rooms(rn);
}

/* Opens the rooms again over log.dir and listens on the port bound before. */
static int resume(runnel_t *rn, char *err, size_t errlen)
{
    int rc = open_rooms(rn);
    if (rc == 0 && (rc = start_net(rn, rn->port)) != 0)
        close_rooms(rn);
    if (rc != 0)
        snprintf(err, errlen, "the broker could not start again (%s): it is down", strerror(-rc));
    return rc;
}

static int snapshot_save(const char *dir, const char *root, const char *path, const char *name,
                         char *err, size_t errlen)
{
    char tmp[4400], old[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    snprintf(old, sizeof old, "%s.old", path);
    size_t linked = 0, copied = 0;
    int rc = mkdir(root, 0755) == 0 || errno == EEXIST ? 0 : -errno;
    if (rc == 0 && (rc = rn_snapshot_remove(tmp)) == 0 && (rc = rn_snapshot_remove(old)) == 0 &&
        (rc = rn_snapshot_mirror(dir, tmp, RN_SNAPSHOTS_DIR, &linked, &copied)) == 0 &&
        (rc = rn_snapshot_sync(tmp)) == 0 && rename(path, old) != 0 && errno != ENOENT)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc == 0 && (rc = rn_fsync_dir(root)) == 0)
        (void)rn_snapshot_remove(old);
    if (rc != 0) {
        snprintf(err, errlen, "saving into %s: %s", tmp, strerror(-rc));
        (void)rn_snapshot_remove(tmp);
        return rc;
    }
    rn_log(RN_LOG_INFO, "broker", "snapshot %s saved: %zu files linked, %zu copied", name, linked,
           copied);
    return 0;
}

static int snapshot_restore(const char *dir, const char *path, const char *name, char *err,
                            size_t errlen)
{
    size_t linked = 0, copied = 0;
    int rc = rn_snapshot_clear(dir, RN_SNAPSHOTS_DIR);
    if (rc == 0 && (rc = rn_snapshot_mirror(path, dir, NULL, &linked, &copied)) == 0)
        rc = rn_snapshot_sync(dir);
    if (rc != 0) {
        snprintf(err, errlen, "restoring into %s: %s", dir, strerror(-rc));
        return rc;
    }
    rn_log(RN_LOG_INFO, "broker", "snapshot %s restored: %zu files linked, %zu copied", name,
           linked, copied);
    return 0;
}

/* Rolls every partition's active segment before a save: the data then lies in sealed
 * segments, which the snapshot (and a restore from it) hard-links instead of copying, so both
 * cost a few links per partition, not the bytes. A sealed file is never written in place
 * again: the cleaner and retention replace or unlink names, which leaves the other link whole. */
static void roll_all(runnel_t *rn)
{
    rn_topic_t **list;
    size_t n = rn_topics_list(rn->topics, &list);
    for (size_t i = 0; i < n; i++) {
        int32_t np = atomic_load_explicit(&list[i]->npartitions, memory_order_acquire);
        for (int32_t p = 0; p < np; p++)
            (void)rn_log_roll(rn_topic_partition(list[i], p)->log);
    }
    rn_topics_list_free(list, n);
}

/* Runs on the control plane's thread, one request at a time. A snapshot taken while clients
 * write holds what was written before the listener stopped. */
static int broker_snapshot(void *broker, rn_snapshot_op_t op, const char *name, char *err,
                           size_t errlen)
{
    runnel_t *rn = broker;
    const char *dir = rn->config.log_dir;
    char root[4200], path[4300];
    snprintf(root, sizeof root, "%s/%s", dir, RN_SNAPSHOTS_DIR);
    snprintf(path, sizeof path, "%s/%s", root, name);
    struct stat st;
    bool exists = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    if (op != RN_SNAPSHOT_SAVE && !exists)
        return -ENOENT;
    if (op == RN_SNAPSHOT_DELETE) {
        int rc = rn_snapshot_remove(path);
        if (rc != 0)
            snprintf(err, errlen, "removing %s: %s", path, strerror(-rc));
        return rc;
    }
    if (op == RN_SNAPSHOT_SAVE && !rn->rooms_open) {
        snprintf(err, errlen, "the broker is down (a snapshot restore failed)");
        return -EIO;
    }
    if (op == RN_SNAPSHOT_SAVE)
        roll_all(rn);
    quiesce(rn);
    int rc = op == RN_SNAPSHOT_SAVE ? snapshot_save(dir, root, path, name, err, errlen)
                                    : snapshot_restore(dir, path, name, err, errlen);
    /* A failed save leaves the data directory as it was: start again over it. A failed
     * restore leaves it part-way: starting would serve that, so the broker stays down. */
    if (rc != 0 && op == RN_SNAPSHOT_RESTORE)
        return rc;
    char why[200] = "";
    int rc2 = resume(rn, why, sizeof why);
    if (rc == 0 && rc2 != 0) {
        snprintf(err, errlen, "%s", why);
        rc = rc2;
    }
    return rc;
}

/* POST /topics/NAME/compact: the topic's partitions cleaned now, on the control plane's thread
 * (the cleaner's own threads wait for it on the same logs, and it for them). */
static int broker_compact(void *broker, const char *name, rn_log_clean_stats_t *sum, char *err,
                          size_t errlen)
{
    runnel_t *rn = broker;
    if (rn->topics == NULL) {
        snprintf(err, errlen, "the broker is down after a failed restore");
        return -EIO;
    }
    rn_topic_t *topic = rn_topics_get(rn->topics, rn_str_from_cstr(name));
    if (topic == NULL) {
        snprintf(err, errlen, "unknown topic '%s'", name);
        return -ENOENT;
    }
    rn_topic_config_t tc;
    rn_topic_get_config(rn->topics, topic, &tc);
    int rc = -EINVAL;
    if (!tc.log.compact)
        snprintf(err, errlen, "topic '%s' has cleanup.policy=%s, not compact", name,
                 tc.cleanup_policy);
    else if ((rc = rn_cleaner_compact_now(rn->cleaner, topic, sum)) == -ENOTSUP)
        snprintf(err, errlen, "the log cleaner is off (log.cleaner.enable=false)");
    else if (rc != 0)
        snprintf(err, errlen, "cleaning failed: %s", strerror(-rc));
    rn_topic_unref(topic);
    return rc;
}

static int start_control(runnel_t *rn, int kafka_port)
{
    rn_control_env_t env = {
        .config = &rn->config,
        .topics = &rn->topics,
        .coord = &rn->coord,
        .net = &rn->net,
        .faults = rn->faults,
        .kafka_port = kafka_port,
        .broker = rn,
        .reset = broker_reset,
        .compact = broker_compact,
        .snapshot = broker_snapshot,
    };
    return rn_control_start(&env, &rn->control);
}

int runnel_start(runnel_t *rn)
{
    if (rn->net != NULL)
        return -EALREADY;
    raise_fd_limit();
    size_open_files(&rn->config);
    int err = prepare_data_dir(rn);
    if (err != 0 || (err = open_rooms(rn)) != 0)
        return err;
    if ((err = start_net(rn, rn->config.listener_port)) != 0) {
        close_rooms(rn);
        return err;
    }
    int adv = atomic_load_explicit(&rn->info.advertised_port, memory_order_acquire);
    rn_log(RN_LOG_INFO, "broker", "node %d of cluster %s, %d network threads, data in %s",
           rn->info.node_id, rn->info.cluster_id, rn->config.num_network_threads,
           rn->config.log_dir);
    rn_log(RN_LOG_INFO, "broker", "listening on %s:%d (advertised %s:%d)",
           rn->config.listener_host[0] ? rn->config.listener_host : "0.0.0.0", rn->port,
           rn->info.advertised_host, adv);
    if (rn->config.control_port >= 0 && (err = start_control(rn, adv)) != 0) {
        runnel_stop(rn);
        return err;
    }
    return 0;
}

int runnel_port(const runnel_t *rn)
{
    return rn->net != NULL ? rn_net_port(rn->net) : -1;
}

int runnel_control_port(const runnel_t *rn)
{
    return rn->control != NULL ? rn_control_port(rn->control) : -1;
}

void runnel_stop(runnel_t *rn)
{
    /* net is NULL after a failed snapshot restore while the control plane still runs. */
    if (rn == NULL || (rn->net == NULL && rn->control == NULL && !rn->rooms_open))
        return;
    rn_log(RN_LOG_INFO, "broker", "stopping");
    rn_control_stop(rn->control);
    rn->control = NULL;
    /* Network first (parked fetches answer, produce syncs finish), then the maintenance
     * thread, then the logs: checkpoints and the clean-shutdown marker come last. */
    if (rn->net != NULL) {
        rn_net_stop(rn->net);
        rn_net_free(rn->net);
        rn->net = NULL;
    }
    close_rooms(rn);
    rn_log(RN_LOG_INFO, "broker", "stopped");
}

void runnel_free(runnel_t *rn)
{
    if (rn == NULL)
        return;
    runnel_stop(rn);
    rn_config_deinit(&rn->config);
    free(rn->cluster_id);
    free(rn->advertised_host);
    rn_faults_free(rn->faults);
    free(rn);
}
