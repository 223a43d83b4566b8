/* SPDX-License-Identifier: Apache-2.0 */
/* POST /topics/NAME/compact: clean a compacted topic now, so a test of compaction need not wait
 * for the cleaner's ratio and back-off (the broker does the work: env.compact). */
#include "control/routes.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void rn_route_compact(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp)
{
    /* The tail is "NAME/compact"; a topic name never holds '/'. */
    const char *slash = strchr(req->tail, '/');
    if (slash == NULL || strcmp(slash, "/compact") != 0 || slash == req->tail ||
        (size_t)(slash - req->tail) > 249) {
        rn_http_error(resp, 404, "POST %s: no such route (POST /topics/NAME/compact)", req->path);
        return;
    }
    char name[250];
    memcpy(name, req->tail, (size_t)(slash - req->tail));
    name[slash - req->tail] = '\0';
    if (c->env.compact == NULL) {
        rn_http_error(resp, 501, "compaction is not available");
        return;
    }
    char err[300] = "";
    rn_log_clean_stats_t st;
    double t0 = now_ms();
    int rc = c->env.compact(c->env.broker, name, &st, err, sizeof err);
    if (rc != 0) {
        unsigned status = rc == -ENOENT ? 404 : rc == -EINVAL ? 400 : rc == -ENOTSUP ? 409 : 500;
        rn_http_error(resp, status, "%s", err[0] != '\0' ? err : strerror(-rc));
        return;
    }
    rn_http_json(resp, 200,
                 json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "topic", name,
                           "records_read", (json_int_t)st.records_read, "records_kept",
                           (json_int_t)st.records_kept, "bytes_read", (json_int_t)st.bytes_read,
                           "bytes_written", (json_int_t)st.bytes_written, "tombstones_dropped",
                           (json_int_t)st.tombstones_dropped, "segments_before",
                           (json_int_t)st.segments_before, "segments_after",
                           (json_int_t)st.segments_after, "ms", now_ms() - t0));
}
