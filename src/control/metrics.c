/* SPDX-License-Identifier: Apache-2.0 */
/* GET /metrics: the broker's counters in the Prometheus text format (version 0.0.4), read at
 * the moment of the scrape: requests by API and version, request and fsync durations, network
 * bytes and connections, per-partition offsets and sizes, consumer group committed offsets and
 * lag, the log cleaner's work, and the process's memory. Nothing here is kept between scrapes:
 * counters live where the work happens (handlers/metrics.c, log/metrics.c, net) and are
 * process-wide and monotonic (POST /reset leaves them alone, as a restart would not).
 *
 * Runs on libmicrohttpd's thread. Every source it reads is safe from any thread: atomics,
 * published log offsets, the topic list (references), and copies of the committed offsets. */
#include "control/routes.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/prom.h"
#include "coord/coord.h"
#include "coord/offsets.h"
#include "faults/faults.h"
#include "handlers/handlers.h"
#include "log/log.h"
#include "net/net.h"
#include "proto/messages.h"
#include "topics/topics.h"
#include "util/histogram.h"

/* Committed offsets copied out for one scrape: the offsets map is locked only while copying. */
enum { GROUPS_ARENA_LIMIT = 256 << 20 };

typedef struct group_offsets {
    rn_str_t group; /* in the arena */
    rn_offsets_entry_t *entries;
    size_t n;
} group_offsets_t;

typedef struct groups {
    rn_arena_t arena;
    group_offsets_t *items; /* heap */
    size_t n, cap;
    bool nomem;
} groups_t;

/* ---- requests ---- */

static void write_requests(rn_outbuf_t *out)
{
    /* Only the API versions that have been asked for: every key and version would be ~1000
     * series of zeros. */
    rn_prom_family(out, "runnel_requests_total", "counter",
                   "Requests that reached a handler, by API and version.");
    for (size_t i = 0; i < rn_proto_api_count; i++) {
        const rn_proto_api_t *api = &rn_proto_apis[i];
        for (int16_t v = 0; v <= api->max_version; v++) {
            uint64_t n, nerr;
            rn_handlers_metrics_get(api->key, v, &n, &nerr);
            if (n == 0)
                continue;
            char version[8];
            snprintf(version, sizeof version, "%d", v);
            rn_prom_label_t labels[] = { rn_prom_label("api", api->name),
                                         rn_prom_label("version", version) };
            rn_prom_uint(out, "runnel_requests_total", labels, 2, n);
        }
    }
    rn_prom_family(out, "runnel_request_errors_total", "counter",
                   "Requests answered with a non-zero error code (top level or in any "
                   "partition), or with the connection closed.");
    for (size_t i = 0; i < rn_proto_api_count; i++) {
        const rn_proto_api_t *api = &rn_proto_apis[i];
        for (int16_t v = 0; v <= api->max_version; v++) {
            uint64_t n, nerr;
            rn_handlers_metrics_get(api->key, v, &n, &nerr);
            if (n == 0)
                continue;
            char version[8];
            snprintf(version, sizeof version, "%d", v);
            rn_prom_label_t labels[] = { rn_prom_label("api", api->name),
                                         rn_prom_label("version", version) };
            rn_prom_uint(out, "runnel_request_errors_total", labels, 2, nerr);
        }
    }
    rn_prom_family(out, "runnel_request_duration_seconds", "histogram",
                   "Time from a request's arrival to its answer (a long poll's wait included), "
                   "by API.");
    for (size_t i = 0; i < rn_proto_api_count; i++) {
        const rn_proto_api_t *api = &rn_proto_apis[i];
        const rn_histogram_t *h = rn_handlers_metrics_duration(api->key);
        if (h == NULL)
            continue;
        rn_histogram_snapshot_t snap;
        rn_histogram_read(h, &snap);
        if (snap.count == 0)
            continue;
        rn_prom_label_t label = rn_prom_label("api", api->name);
        rn_prom_histogram(out, "runnel_request_duration_seconds", &label, 1, &snap);
    }
}

/* ---- network ---- */

static void write_network(rn_outbuf_t *out, rn_net_t *net)
{
    rn_net_stats_t st = { 0 };
    if (net != NULL)
        rn_net_get_stats(net, &st);
    rn_prom_family(out, "runnel_network_received_bytes_total", "counter",
                   "Bytes read from Kafka clients.");
    rn_prom_uint(out, "runnel_network_received_bytes_total", NULL, 0, st.bytes_read);
    rn_prom_family(out, "runnel_network_sent_bytes_total", "counter",
                   "Bytes sent to Kafka clients (write and sendfile).");
    rn_prom_uint(out, "runnel_network_sent_bytes_total", NULL, 0,
                 st.bytes_written + st.bytes_sendfile);
    rn_prom_family(out, "runnel_network_sendfile_bytes_total", "counter",
                   "Of the bytes sent, those sent with sendfile (zero-copy Fetch).");
    rn_prom_uint(out, "runnel_network_sendfile_bytes_total", NULL, 0, st.bytes_sendfile);
    rn_prom_family(out, "runnel_connections", "gauge", "Kafka client connections open.");
    rn_prom_uint(out, "runnel_connections", NULL, 0, st.connections_open);
    rn_prom_family(out, "runnel_connections_accepted_total", "counter",
                   "Kafka client connections accepted.");
    rn_prom_uint(out, "runnel_connections_accepted_total", NULL, 0, st.connections_accepted);
    rn_prom_family(out, "runnel_connections_rejected_total", "counter",
                   "Connections closed at accept by a per-IP connection limit.");
    rn_prom_uint(out, "runnel_connections_rejected_total", NULL, 0, st.connections_rejected);
}

/* ---- partitions ---- */

typedef enum part_value { LOG_START, LOG_END, LOG_SIZE } part_value_t;

static void write_partition_family(rn_outbuf_t *out, rn_topic_t **list, size_t ntopics,
                                   const char *name, const char *help, part_value_t what)
{
    rn_prom_family(out, name, "gauge", help);
    for (size_t t = 0; t < ntopics; t++) {
        rn_topic_t *topic = list[t];
        int32_t nparts = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
        for (int32_t p = 0; p < nparts; p++) {
            rn_partition_t *part = rn_topic_partition(topic, p);
            if (part == NULL)
                continue;
            int64_t v = what == LOG_START ? rn_log_start_offset(part->log)
                        : what == LOG_END ? rn_log_high_watermark(part->log)
                                          : rn_log_size_bytes(part->log);
            char index[16];
            snprintf(index, sizeof index, "%d", p);
            rn_prom_label_t labels[] = { rn_prom_label("topic", topic->name),
                                         rn_prom_label("partition", index) };
            rn_prom_int(out, name, labels, 2, v);
        }
    }
}

static void write_partitions(rn_outbuf_t *out, rn_topics_t *topics)
{
    rn_topic_t **list = NULL;
    size_t n = topics != NULL ? rn_topics_list(topics, &list) : 0;
    write_partition_family(out, list, n, "runnel_log_start_offset",
                           "The partition's log start offset (the first offset kept).", LOG_START);
    write_partition_family(out, list, n, "runnel_log_end_offset",
                           "The partition's high watermark (its log end offset on one node).",
                           LOG_END);
    write_partition_family(out, list, n, "runnel_log_size_bytes",
                           "Bytes in the partition's segment files.", LOG_SIZE);
    rn_topics_list_free(list, n);
}

/* ---- consumer groups ---- */

static void copy_group(void *ctx, rn_str_t group_id)
{
    groups_t *g = ctx;
    if (g->nomem)
        return;
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        group_offsets_t *grown = realloc(g->items, cap * sizeof *grown);
        if (grown == NULL) {
            g->nomem = true;
            return;
        }
        g->items = grown;
        g->cap = cap;
    }
    char *name =
        rn_arena_strndup(&g->arena, group_id.ptr != NULL ? group_id.ptr : "", group_id.len);
    if (name == NULL) {
        g->nomem = true;
        return;
    }
    g->items[g->n++] = (group_offsets_t){ .group = { name, group_id.len } };
}

static int by_group(const void *a, const void *b)
{
    const rn_str_t *x = &((const group_offsets_t *)a)->group;
    const rn_str_t *y = &((const group_offsets_t *)b)->group;
    int c = memcmp(x->ptr, y->ptr, x->len < y->len ? x->len : y->len);
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

static void load_groups(groups_t *g, rn_coord_t *coord)
{
    rn_offsets_t *offsets = rn_coord_offsets(coord);
    rn_offsets_each_group(offsets, copy_group, g);
    if (g->n > 1)
        qsort(g->items, g->n, sizeof *g->items, by_group);
    for (size_t i = 0; i < g->n && !g->nomem; i++)
        if (rn_offsets_fetch_all(offsets, g->items[i].group, &g->arena, &g->items[i].entries,
                                 &g->items[i].n) != 0)
            g->nomem = true;
}

static void write_groups(rn_outbuf_t *out, rn_coord_t *coord, rn_topics_t *topics)
{
    groups_t g = { 0 };
    rn_arena_init(&g.arena, GROUPS_ARENA_LIMIT);
    if (coord != NULL)
        load_groups(&g, coord);
    rn_prom_family(out, "runnel_consumer_group_committed_offset", "gauge",
                   "The offset a consumer group has committed for a partition.");
    for (size_t i = 0; i < g.n; i++)
        for (size_t j = 0; j < g.items[i].n; j++) {
            const rn_offsets_entry_t *e = &g.items[i].entries[j];
            char index[16];
            snprintf(index, sizeof index, "%d", e->partition);
            rn_prom_label_t labels[] = {
                { "group", g.items[i].group.ptr, g.items[i].group.len },
                { "topic", e->topic.ptr, e->topic.len },
                rn_prom_label("partition", index),
            };
            rn_prom_int(out, "runnel_consumer_group_committed_offset", labels, 3, e->offset);
        }
    rn_prom_family(out, "runnel_consumer_group_lag", "gauge",
                   "High watermark minus the committed offset (0 when the commit is ahead); "
                   "absent when the partition no longer exists or the offset is negative.");
    for (size_t i = 0; i < g.n; i++)
        for (size_t j = 0; j < g.items[i].n; j++) {
            const rn_offsets_entry_t *e = &g.items[i].entries[j];
            rn_topic_t *topic = topics != NULL ? rn_topics_get(topics, e->topic) : NULL;
            rn_partition_t *part = topic != NULL ? rn_topic_partition(topic, e->partition) : NULL;
            if (part != NULL && e->offset >= 0) {
                int64_t lag = rn_log_high_watermark(part->log) - e->offset;
                char index[16];
                snprintf(index, sizeof index, "%d", e->partition);
                rn_prom_label_t labels[] = {
                    { "group", g.items[i].group.ptr, g.items[i].group.len },
                    { "topic", e->topic.ptr, e->topic.len },
                    rn_prom_label("partition", index),
                };
                rn_prom_int(out, "runnel_consumer_group_lag", labels, 3, lag > 0 ? lag : 0);
            }
            rn_topic_unref(topic);
        }
    free(g.items);
    rn_arena_deinit(&g.arena);
}

/* ---- the logs' disk work ---- */

static void write_log_work(rn_outbuf_t *out)
{
    rn_log_metrics_t m;
    rn_log_metrics_get(&m);
    rn_histogram_snapshot_t snap;
    rn_histogram_read(m.fsync, &snap);
    rn_prom_family(out, "runnel_log_fsync_duration_seconds", "histogram",
                   "Duration of each segment fdatasync when a log is flushed.");
    rn_prom_histogram(out, "runnel_log_fsync_duration_seconds", NULL, 0, &snap);

    static const struct {
        const char *name, *help;
        size_t off;
    } cleaner[] = {
        { "runnel_log_cleaner_runs_total", "Compaction rounds completed.",
          offsetof(rn_log_metrics_t, clean_runs) },
        { "runnel_log_cleaner_failures_total", "Compaction rounds that failed.",
          offsetof(rn_log_metrics_t, clean_failures) },
        { "runnel_log_cleaner_read_bytes_total", "Bytes the cleaner read.",
          offsetof(rn_log_metrics_t, clean_bytes_read) },
        { "runnel_log_cleaner_written_bytes_total", "Bytes the cleaner wrote (kept records).",
          offsetof(rn_log_metrics_t, clean_bytes_written) },
        { "runnel_log_cleaner_read_records_total", "Records the cleaner read.",
          offsetof(rn_log_metrics_t, clean_records_read) },
        { "runnel_log_cleaner_kept_records_total", "Records the cleaner kept.",
          offsetof(rn_log_metrics_t, clean_records_kept) },
        { "runnel_log_cleaner_dropped_tombstones_total", "Tombstones the cleaner removed.",
          offsetof(rn_log_metrics_t, clean_tombstones_dropped) },
    };
    for (size_t i = 0; i < sizeof cleaner / sizeof cleaner[0]; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&m + cleaner[i].off, sizeof v);
        rn_prom_family(out, cleaner[i].name, "counter", cleaner[i].help);
        rn_prom_uint(out, cleaner[i].name, NULL, 0, v);
    }
}

/* ---- the process ---- */

/* The `n`th (from 1) space-separated number of `p` as unsigned. */
static bool nth_number(const char *p, int n, unsigned long long *out)
{
    for (int i = 1;; i++) {
        while (*p == ' ')
            p++;
        if (*p == '\0' || *p == '\n')
            return false;
        if (i == n) {
            char *end;
            errno = 0;
            *out = strtoull(p, &end, 10);
            return end != p && errno == 0;
        }
        while (*p != ' ' && *p != '\0')
            p++;
    }
}

/* /proc/self/stat: utime, stime (fields 14 and 15) and starttime (22), in clock ticks. */
static bool read_proc_stat(unsigned long long *utime, unsigned long long *stime,
                           unsigned long long *start)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (f == NULL)
        return false;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (p == NULL)
        return false;
    /* After ")" comes field 3 (state): field k is number k - 2 of the rest. */
    return nth_number(p + 1, 12, utime) && nth_number(p + 1, 13, stime) &&
           nth_number(p + 1, 20, start);
}

static long long boot_time(void)
{
    char line[256];
    long long btime = -1;
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long long v;
        if (strncmp(line, "btime ", 6) == 0 && nth_number(line + 6, 1, &v)) {
            btime = (long long)v;
            break;
        }
    }
    fclose(f);
    return btime;
}

static void write_process(rn_outbuf_t *out)
{
    long page = sysconf(_SC_PAGESIZE);
    long ticks = sysconf(_SC_CLK_TCK);
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        char line[128];
        if (fgets(line, sizeof line, f) == NULL || !nth_number(line, 1, &size) ||
            !nth_number(line, 2, &resident))
            resident = 0;
        fclose(f);
    }
    rn_prom_family(out, "runnel_process_resident_memory_bytes", "gauge",
                   "Resident memory of the broker process.");
    rn_prom_uint(out, "runnel_process_resident_memory_bytes", NULL, 0,
                 (uint64_t)resident * (uint64_t)(page > 0 ? page : 4096));

    unsigned long long utime, stime, start;
    long long btime = boot_time();
    if (ticks > 0 && read_proc_stat(&utime, &stime, &start)) {
        rn_prom_family(out, "process_cpu_seconds_total", "counter",
                       "User and system CPU time of the broker process.");
        rn_prom_double(out, "process_cpu_seconds_total", NULL, 0,
                       (double)(utime + stime) / (double)ticks);
        if (btime >= 0) {
            rn_prom_family(out, "process_start_time_seconds", "gauge",
                           "Start time of the broker process since the Unix epoch.");
            rn_prom_double(out, "process_start_time_seconds", NULL, 0,
                           (double)btime + (double)start / (double)ticks);
        }
    }
    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        uint64_t n = 0;
        for (struct dirent *de; (de = readdir(d)) != NULL;)
            n += de->d_name[0] != '.';
        closedir(d);
        rn_prom_family(out, "process_open_fds", "gauge",
                       "Open file descriptors of the broker process.");
        rn_prom_uint(out, "process_open_fds", NULL, 0, n > 0 ? n - 1 : 0); /* less opendir's */
    }
}

/* ---- injected faults ---- */

static void write_fault(rn_fault_action_t action, int16_t api_key, uint64_t count, void *ctx)
{
    const rn_proto_api_t *api = api_key != RN_FAULT_NO_API ? rn_proto_api_find(api_key) : NULL;
    rn_prom_label_t labels[2] = {
        rn_prom_label("action", rn_fault_action_name(action)),
        rn_prom_label("api", api != NULL ? api->name : ""),
    };
    rn_prom_uint(ctx, "runnel_faults_injected_total", labels, 2, count);
}

static void write_faults(rn_outbuf_t *out, rn_faults_t *faults)
{
    rn_prom_family(out, "runnel_faults_injected_total", "counter",
                   "Faults injected through the control plane, by action and API (api is empty "
                   "for refused connections).");
    if (faults != NULL)
        rn_faults_injected_each(faults, write_fault, out);
}

void rn_route_metrics(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp)
{
    (void)req;
    /* Read through the broker's fields: a restore replaces these rooms. It runs on this
     * thread too (libmicrohttpd serves one request at a time), so none changes meanwhile. */
    rn_net_t *net = *c->env.net;
    rn_topics_t *topics = *c->env.topics;
    rn_coord_t *coord = *c->env.coord;
    if (net == NULL || topics == NULL || coord == NULL) {
        rn_http_error(resp, 503, "the broker is down (a snapshot restore failed)");
        return;
    }
    rn_outbuf_t *out = &resp->body;
    write_requests(out);
    write_network(out, net);
    write_partitions(out, topics);
    write_groups(out, coord, topics);
    write_log_work(out);
    write_process(out);
    write_faults(out, c->env.faults);
    if (out->failed) {
        rn_outbuf_deinit(out);
        rn_outbuf_init(out);
        rn_http_error(resp, 500, "out of memory while writing the metrics");
        return;
    }
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
