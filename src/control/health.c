/* SPDX-License-Identifier: Apache-2.0 */
/* GET /healthz: 200 once the broker serves (the control plane starts after the Kafka listener
 * is bound and the topics and coordinator are loaded), with the addresses a harness needs. */
#include "control/routes.h"

#include <stdio.h>
#include <string.h>

void rn_route_healthz(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp)
{
    (void)req;
    const rn_config_t *cfg = c->env.config;
    char bootstrap[300];
    snprintf(bootstrap, sizeof bootstrap, "%s%s%s:%d",
             strchr(cfg->advertised_host, ':') != NULL ? "[" : "", cfg->advertised_host,
             strchr(cfg->advertised_host, ':') != NULL ? "]" : "", c->env.kafka_port);
    rn_http_json(resp, 200, json_pack("{s:s, s:s}", "status", "ok", "bootstrap", bootstrap));
}
