/* SPDX-License-Identifier: Apache-2.0 */
/* The control plane's HTTP listener: libmicrohttpd with its own polling thread, a table of
 * routes, request bodies gathered up to a bound and parsed as JSON when they are JSON. */
#include "control/routes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/logging.h"

/* A control request body is a few small JSON fields; anything larger is refused (413). */
#define MAX_BODY (1u << 20)

typedef struct route {
    const char *method;
    const char *path; /* exact, or a prefix when it ends with '/' */
    rn_route_fn fn;
} route_t;

static const route_t routes[] = {
    { "GET", "/healthz", rn_route_healthz },
    { "GET", "/metrics", rn_route_metrics },
    { "POST", "/reset", rn_route_reset },
    { "POST", "/topics/", rn_route_compact },
    { "POST", "/snapshots/", rn_route_snapshots_post },
    { "GET", "/snapshots", rn_route_snapshots_list },
    { "DELETE", "/snapshots/", rn_route_snapshots_delete },
    { "POST", "/faults", rn_route_faults_add },
    { "GET", "/faults", rn_route_faults_list },
    { "DELETE", "/faults", rn_route_faults_clear },
    { "DELETE", "/faults/", rn_route_faults_remove },
};

/* The body of one request, gathered across the calls libmicrohttpd makes with its pieces. */
typedef struct pending {
    char *data;
    size_t len;
    bool too_large;
} pending_t;

void rn_http_json(rn_http_resp_t *resp, unsigned status, json_t *value)
{
    resp->status = status;
    resp->content_type = "application/json";
    char *text = value != NULL ? json_dumps(value, JSON_COMPACT) : NULL;
    json_decref(value);
    if (text == NULL) {
        resp->status = 500;
        rn_outbuf_append(&resp->body, "{\"error\":\"out of memory\"}", 25);
    } else {
        rn_outbuf_append(&resp->body, text, strlen(text));
        free(text);
    }
    rn_outbuf_append(&resp->body, "\n", 1);
}

void rn_http_error(rn_http_resp_t *resp, unsigned status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rn_http_json(resp, status, json_pack("{s:s}", "error", msg));
}

/* The route for method and path: sets *tail; NULL with *status 404 or 405. */
static const route_t *find_route(const char *method, const char *path, const char **tail,
                                 unsigned *status)
{
    bool path_known = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const route_t *r = &routes[i];
        size_t n = strlen(r->path);
        bool prefix = r->path[n - 1] == '/';
        bool match =
            prefix ? strncmp(path, r->path, n) == 0 && path[n] != '\0' : strcmp(path, r->path) == 0;
        if (!match)
            continue;
        path_known = true;
        if (strcmp(method, r->method) == 0) {
            *tail = prefix ? path + n : "";
            return r;
        }
    }
    *status = path_known ? 405 : 404;
    return NULL;
}

static enum MHD_Result send_response(struct MHD_Connection *conn, rn_http_resp_t *resp)
{
    size_t len = resp->body.failed ? 0 : resp->body.len;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, len > 0 ? resp->body.data : (void *)"",
                                        MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                  resp->content_type != NULL ? resp->content_type
                                                             : "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static void answer(rn_control_t *c, const char *method, const char *url, pending_t *p,
                   rn_http_resp_t *resp)
{
    const char *tail = "";
    unsigned status = 404;
    const route_t *route = find_route(method, url, &tail, &status);
    if (route == NULL) {
        rn_http_error(resp, status, "%s %s: %s", method, url,
                      status == 404 ? "no such route" : "method not allowed");
        return;
    }
    if (p->too_large) {
        rn_http_error(resp, 413, "the request body is larger than %u bytes", MAX_BODY);
        return;
    }
    rn_http_req_t req = {
        .method = method,
        .path = url,
        .tail = tail,
        .body = p->data != NULL ? p->data : "",
        .body_len = p->len,
    };
    if (p->len > 0) {
        json_error_t jerr;
        req.json = json_loadb(p->data, p->len, 0, &jerr);
        if (req.json == NULL) {
            rn_http_error(resp, 400, "the body is not JSON: %s (line %d, column %d)", jerr.text,
                          jerr.line, jerr.column);
            return;
        }
    }
    route->fn(c, &req, resp);
    json_decref(req.json);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    rn_control_t *c = cls;
    pending_t *p = *con_cls;
    if (p == NULL) { /* the headers: the body (if any) comes in the next calls */
        if ((p = calloc(1, sizeof *p)) == NULL)
            return MHD_NO;
        *con_cls = p;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (p->too_large || n > MAX_BODY - p->len) {
            p->too_large = true;
            return MHD_YES;
        }
        char *grown = realloc(p->data, p->len + n + 1);
        if (grown == NULL)
            return MHD_NO;
        memcpy(grown + p->len, upload_data, n);
        p->data = grown;
        p->len += n;
        p->data[p->len] = '\0';
        return MHD_YES;
    }
    rn_http_resp_t resp = { .status = 200 };
    rn_outbuf_init(&resp.body);
    answer(c, method, url, p, &resp);
    enum MHD_Result ret = send_response(conn, &resp);
    rn_outbuf_deinit(&resp.body);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    pending_t *p = *con_cls;
    if (p != NULL) {
        free(p->data);
        free(p);
        *con_cls = NULL;
    }
}

/* libmicrohttpd's own messages; its format strings are its own, hence the pragma. */
static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    vsnprintf(msg, sizeof msg, fmt, ap); /* NOLINT(clang-diagnostic-format-nonliteral) */
#pragma GCC diagnostic pop
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    rn_log(RN_LOG_WARN, "control", "%s", msg);
}

int rn_control_start(const rn_control_env_t *env, rn_control_t **out)
{
    const rn_config_t *cfg = env->config;
    struct sockaddr_storage ss = { 0 };
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (strchr(cfg->control_host, ':') != NULL) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)cfg->control_port);
        if (inet_pton(AF_INET6, cfg->control_host, &a->sin6_addr) != 1)
            return -EINVAL;
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)cfg->control_port);
        if (inet_pton(AF_INET, cfg->control_host, &a->sin_addr) != 1)
            return -EINVAL;
    }
    rn_control_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    c->env = *env;
    /* The logger first: libmicrohttpd reports the options after it through it. */
    c->daemon = MHD_start_daemon(flags, (uint16_t)cfg->control_port, NULL, NULL, on_request, c,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, c, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                                 c, MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
    if (c->daemon == NULL) {
        int err = errno != 0 ? errno : EADDRINUSE;
        rn_log(RN_LOG_ERROR, "control", "cannot listen on %s:%d (runnel.control.listener): %s",
               cfg->control_host, cfg->control_port, strerror(err));
        free(c);
        return -err;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(c->daemon, MHD_DAEMON_INFO_BIND_PORT);
    c->port = info != NULL ? (int)info->port : cfg->control_port;
    rn_log(RN_LOG_INFO, "control", "control plane listening on http://%s%s%s:%d",
           strchr(cfg->control_host, ':') != NULL ? "[" : "", cfg->control_host,
           strchr(cfg->control_host, ':') != NULL ? "]" : "", c->port);
    *out = c;
    return 0;
}

int rn_control_port(const rn_control_t *c)
{
    return c->port;
}

void rn_control_stop(rn_control_t *c)
{
    if (c == NULL)
        return;
    MHD_stop_daemon(c->daemon);
    free(c);
}
