/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/control/: one HTTP request as a route sees it, and the routes. */
#ifndef RN_CONTROL_ROUTES_H
#define RN_CONTROL_ROUTES_H

#include <jansson.h>
#include <stddef.h>

#include "control/control.h"
#include "util/outbuf.h"

struct rn_control {
    rn_control_env_t env;
    struct MHD_Daemon *daemon;
    int port;
};

typedef struct rn_http_req {
    const char *method;
    const char *path; /* without the query */
    const char *tail; /* the path after the route's prefix ("" for an exact route) */
    const char *body; /* NUL-terminated; "" when none */
    size_t body_len;
    json_t *json; /* the body parsed, when it is JSON (else NULL) */
} rn_http_req_t;

typedef struct rn_http_resp {
    unsigned status;
    const char *content_type; /* static; default application/json */
    rn_outbuf_t body;
} rn_http_resp_t;

/* Sets a JSON answer (takes `value`'s reference). */
void rn_http_json(rn_http_resp_t *resp, unsigned status, json_t *value);
/* {"error": message} with the status. */
void rn_http_error(rn_http_resp_t *resp, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef void (*rn_route_fn)(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp);

/* ---- the routes (one file each) ---- */
void rn_route_healthz(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp);
void rn_route_metrics(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp);
void rn_route_reset(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp);
/* compact.c: POST /topics/NAME/compact */
void rn_route_compact(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp);
/* snapshots.c: POST /snapshots/NAME[/restore], GET /snapshots, DELETE /snapshots/NAME */
void rn_route_snapshots_post(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp);
void rn_route_snapshots_list(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp);
void rn_route_snapshots_delete(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp);
/* faults.c: POST /faults, GET /faults, DELETE /faults, DELETE /faults/ID */
void rn_route_faults_add(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp);
void rn_route_faults_list(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp);
void rn_route_faults_clear(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp);
void rn_route_faults_remove(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp);

#endif
