/* SPDX-License-Identifier: Apache-2.0 */
/* Snapshots by name: POST /snapshots/NAME saves the whole broker state, POST
 * /snapshots/NAME/restore brings it back, GET /snapshots lists, DELETE /snapshots/NAME removes.
 * The broker does the work (env.snapshot); the listing reads log.dir/RN_SNAPSHOTS_DIR. */
#include "control/routes.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { NAME_MAX_LEN = 100 };

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* NAME: [A-Za-z0-9._-]{1,100}, not "." or "..". */
static bool name_valid(const char *name, size_t len)
{
    if (len == 0 || len > NAME_MAX_LEN || (len == 1 && name[0] == '.') ||
        (len == 2 && name[0] == '.' && name[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* Saves "NAME.tmp" and keeps a replaced one as "NAME.old" for a moment: neither is listed. */
static bool is_work_name(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && strcmp(name + n - 4, ".tmp") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".old") == 0);
}

static void run(rn_control_t *c, rn_snapshot_op_t op, const char *name, size_t len,
                rn_http_resp_t *resp)
{
    if (!name_valid(name, len)) {
        rn_http_error(resp, 400, "a snapshot name is 1 to 100 of A-Z a-z 0-9 . _ - (not . or ..)");
        return;
    }
    char buf[NAME_MAX_LEN + 1];
    memcpy(buf, name, len);
    buf[len] = '\0';
    if (is_work_name(buf)) {
        rn_http_error(resp, 400, "snapshot names ending in .tmp or .old are reserved");
        return;
    }
    if (c->env.snapshot == NULL) {
        rn_http_error(resp, 501, "snapshots are not available");
        return;
    }
    char err[256] = "";
    double t0 = now_ms();
    int rc = c->env.snapshot(c->env.broker, op, buf, err, sizeof err);
    if (rc == -ENOENT) {
        rn_http_error(resp, 404, "no snapshot named %s", buf);
        return;
    }
    if (rc != 0) {
        rn_http_error(resp, 500, "snapshot %s failed: %s", buf,
                      err[0] != '\0' ? err : strerror(-rc));
        return;
    }
    if (op == RN_SNAPSHOT_DELETE)
        rn_http_json(resp, 200, json_pack("{s:s}", "name", buf));
    else
        rn_http_json(resp, 200, json_pack("{s:s, s:f}", "name", buf, "ms", now_ms() - t0));
}

void rn_route_snapshots_post(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp)
{
    static const char restore[] = "/restore";
    size_t len = strlen(req->tail), rlen = sizeof restore - 1;
    if (len > rlen && strcmp(req->tail + len - rlen, restore) == 0)
        run(c, RN_SNAPSHOT_RESTORE, req->tail, len - rlen, resp);
    else
        run(c, RN_SNAPSHOT_SAVE, req->tail, len, resp);
}

void rn_route_snapshots_delete(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp)
{
    run(c, RN_SNAPSHOT_DELETE, req->tail, strlen(req->tail), resp);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void rn_route_snapshots_list(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp)
{
    (void)req;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", c->env.config->log_dir, RN_SNAPSHOTS_DIR);
    json_t *names = json_array();
    DIR *d = opendir(path);
    if (d != NULL) {
        char **list = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!name_valid(de->d_name, strlen(de->d_name)) || is_work_name(de->d_name))
                continue;
            if (n == cap) {
                cap = cap != 0 ? 2 * cap : 16;
                char **grown = realloc(list, cap * sizeof *list);
                if (grown == NULL)
                    break;
                list = grown;
            }
            char *dup = strdup(de->d_name);
            if (dup != NULL)
                list[n++] = dup;
        }
        closedir(d);
        if (n > 0)
            qsort(list, n, sizeof *list, by_name);
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(names, json_string(list[i]));
            free(list[i]);
        }
        free(list);
    }
    rn_http_json(resp, 200, json_pack("{s:o}", "snapshots", names));
}
