/* SPDX-License-Identifier: Apache-2.0 */
/* POST /reset: the broker as freshly started (the broker does the work: env.reset). */
#include "control/routes.h"

#include <string.h>

#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void rn_route_reset(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp)
{
    (void)req;
    if (c->env.reset == NULL) {
        rn_http_error(resp, 501, "reset is not available");
        return;
    }
    char err[256] = "";
    double t0 = now_ms();
    int rc = c->env.reset(c->env.broker, err, sizeof err);
    if (rc != 0) {
        rn_http_error(resp, 500, "reset failed: %s", err[0] != '\0' ? err : strerror(-rc));
        return;
    }
    rn_http_json(resp, 200, json_pack("{s:s, s:f}", "status", "ok", "ms", now_ms() - t0));
}
