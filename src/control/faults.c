/* SPDX-License-Identifier: Apache-2.0 */
/* POST /faults, GET /faults, DELETE /faults, DELETE /faults/ID: the fault registry
 * (src/faults/faults.h) over HTTP. A body names an action and, for the request faults, the API
 * by Kafka's name ("Produce", as the protocol guide spells it) or key number; an error by
 * Kafka's name ("NOT_LEADER_OR_FOLLOWER") or code. Everything is checked here, so that the
 * request path only ever sees faults it can carry out. */
#include "control/routes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "faults/faults.h"
#include "handlers/handlers.h"
#include "proto/errors.h"
#include "proto/messages.h"

/* Bounds that keep a typo from parking responses or refusing connections for days. */
#define MAX_DELAY_MS 600000u     /* 10 minutes */
#define MAX_DURATION_MS 3600000u /* an hour */
#define MAX_FILTER_LEN 249       /* Kafka's longest topic name */

/* Kafka's error codes run from -1 to a little over 130; names are looked up in that range. */
#define KERR_MIN (-1)
#define KERR_MAX 1000

static const char *api_name(int16_t key)
{
    const rn_proto_api_t *api = rn_proto_api_find(key);
    return api != NULL ? api->name : NULL;
}

/* "Produce" (any case) or 0: sets *key; false with a message in `why`. */
static bool parse_api(json_t *v, int16_t *key, char *why, size_t whylen)
{
    if (json_is_integer(v)) {
        json_int_t k = json_integer_value(v);
        if (k < 0 || k > RN_FAULT_MAX_API || api_name((int16_t)k) == NULL) {
            snprintf(why, whylen, "\"api\": no API with key %lld", (long long)k);
            return false;
        }
        *key = (int16_t)k;
        return true;
    }
    if (json_is_string(v)) {
        const char *name = json_string_value(v);
        for (size_t i = 0; i < rn_proto_api_count; i++) {
            if (strcasecmp(rn_proto_apis[i].name, name) == 0 &&
                rn_proto_apis[i].key <= RN_FAULT_MAX_API) {
                *key = rn_proto_apis[i].key;
                return true;
            }
        }
        snprintf(why, whylen,
                 "\"api\": no API named '%.100s' (use Kafka's names: Produce, "
                 "Fetch, Metadata, ... or the key number)",
                 name);
        return false;
    }
    snprintf(why, whylen, "\"api\" must be an API name or key number");
    return false;
}

static bool parse_error(json_t *name, json_t *code, int16_t *out, char *why, size_t whylen)
{
    if (name != NULL) {
        if (!json_is_string(name)) {
            snprintf(why, whylen, "\"error\" must be a Kafka error name");
            return false;
        }
        const char *s = json_string_value(name);
        for (int c = KERR_MIN; c <= KERR_MAX; c++) {
            if (strcasecmp(rn_kerr_name(c), s) == 0 && strcmp(s, "UNKNOWN_CODE") != 0) {
                *out = (int16_t)c;
                return true;
            }
        }
        snprintf(why, whylen, "\"error\": no Kafka error named '%.100s'", s);
        return false;
    }
    if (code == NULL || !json_is_integer(code) || json_integer_value(code) < INT16_MIN ||
        json_integer_value(code) > INT16_MAX) {
        snprintf(why, whylen,
                 "an error fault needs \"error\" (a Kafka error name) or "
                 "\"error_code\" (a number)");
        return false;
    }
    *out = (int16_t)json_integer_value(code);
    return true;
}

/* An optional non-negative integer field no larger than `max`; -1 when absent. */
static bool parse_uint(json_t *body, const char *key, json_int_t max, json_int_t *out, char *why,
                       size_t whylen)
{
    json_t *v = json_object_get(body, key);
    *out = -1;
    if (v == NULL)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max) {
        snprintf(why, whylen, "\"%s\" must be an integer from 0 to %lld", key, (long long)max);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

static bool parse_filter(json_t *body, const char *key, const char **out, char *why, size_t whylen)
{
    json_t *v = json_object_get(body, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) > MAX_FILTER_LEN) {
        snprintf(why, whylen, "\"%s\" must be a string of 1 to %d bytes", key, MAX_FILTER_LEN);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static bool topic_filter_allowed(int16_t api_key)
{
    return api_key == RN_API_PRODUCE || api_key == RN_API_FETCH || api_key == RN_API_LIST_OFFSETS ||
           api_key == RN_API_METADATA;
}

static bool known_field(const char *key)
{
    static const char *const fields[] = { "action",    "api",      "error",       "error_code",
                                          "count",     "delay_ms", "duration_ms", "topic",
                                          "partition", "client_id" };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(key, fields[i]) == 0)
            return true;
    return false;
}

/* The body of POST /faults as a spec (strings borrowed from `body`); false with `why`. */
static bool parse_spec(json_t *body, rn_fault_spec_t *spec, char *why, size_t whylen)
{
    const char *key;
    json_t *value;
    json_object_foreach(body, key, value)
    {
        if (!known_field(key)) {
            snprintf(why, whylen, "unknown field \"%.100s\"", key);
            return false;
        }
    }
    *spec = (rn_fault_spec_t){ .api_key = RN_FAULT_NO_API, .partition = -1 };
    json_t *action = json_object_get(body, "action");
    if (!json_is_string(action) ||
        !rn_fault_action_parse(json_string_value(action), &spec->action)) {
        snprintf(why, whylen,
                 "\"action\" must be one of error, delay, close, "
                 "refuse_connections");
        return false;
    }
    json_int_t count, delay, duration, partition;
    if (!parse_uint(body, "delay_ms", MAX_DELAY_MS, &delay, why, whylen) ||
        !parse_uint(body, "duration_ms", MAX_DURATION_MS, &duration, why, whylen) ||
        !parse_uint(body, "partition", INT32_MAX, &partition, why, whylen) ||
        !parse_filter(body, "topic", &spec->topic, why, whylen) ||
        !parse_filter(body, "client_id", &spec->client_id, why, whylen))
        return false;
    json_t *jcount = json_object_get(body, "count");
    if (jcount != NULL && (!json_is_integer(jcount) ||
                           (json_integer_value(jcount) < 1 && json_integer_value(jcount) != -1))) {
        snprintf(why, whylen, "\"count\" must be a positive integer, or -1 for until cleared");
        return false;
    }
    count = jcount != NULL ? json_integer_value(jcount) : 0;
    if (spec->action == RN_FAULT_REFUSE_CONNECTIONS) {
        if (duration <= 0) {
            snprintf(why, whylen, "refuse_connections needs \"duration_ms\" (1 to %u)",
                     MAX_DURATION_MS);
            return false;
        }
        if (json_object_get(body, "api") != NULL || spec->topic != NULL ||
            spec->client_id != NULL || partition >= 0 || jcount != NULL) {
            snprintf(why, whylen, "refuse_connections takes only \"duration_ms\"");
            return false;
        }
        spec->duration_ms = (uint64_t)duration;
        spec->count = -1;
        return true;
    }
    json_t *api = json_object_get(body, "api");
    if (api == NULL) {
        snprintf(why, whylen, "a request fault needs \"api\"");
        return false;
    }
    if (!parse_api(api, &spec->api_key, why, whylen))
        return false;
    if (spec->topic != NULL && !topic_filter_allowed(spec->api_key)) {
        snprintf(why, whylen, "\"topic\" filters Produce, Fetch, ListOffsets and Metadata only");
        return false;
    }
    if (partition >= 0 && spec->topic == NULL) {
        snprintf(why, whylen, "\"partition\" needs \"topic\"");
        return false;
    }
    spec->partition = (int32_t)partition;
    switch (spec->action) {
    case RN_FAULT_ERROR:
        if (!rn_error_answer_supported(spec->api_key)) {
            snprintf(why, whylen, "error faults are not available for %s (use close or delay)",
                     api_name(spec->api_key));
            return false;
        }
        if (!parse_error(json_object_get(body, "error"), json_object_get(body, "error_code"),
                         &spec->error_code, why, whylen))
            return false;
        spec->count = count != 0 ? count : 1;
        return true;
    case RN_FAULT_DELAY:
        if (delay < 0) {
            snprintf(why, whylen, "a delay fault needs \"delay_ms\" (0 to %u)", MAX_DELAY_MS);
            return false;
        }
        spec->delay_ms = (uint32_t)delay;
        spec->count = count != 0 ? count : -1;
        return true;
    default: /* close */
        spec->count = count != 0 ? count : 1;
        return true;
    }
}

static json_t *fault_json(const rn_fault_info_t *info)
{
    const rn_fault_spec_t *spec = &info->spec;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(info->id));
    json_object_set_new(o, "action", json_string(rn_fault_action_name(spec->action)));
    if (spec->action == RN_FAULT_REFUSE_CONNECTIONS) {
        json_object_set_new(o, "duration_ms", json_integer((json_int_t)spec->duration_ms));
        json_object_set_new(o, "remaining_ms", json_integer(info->remaining_ms));
    } else {
        json_object_set_new(o, "api", json_string(api_name(spec->api_key)));
        json_object_set_new(o, "api_key", json_integer(spec->api_key));
        json_object_set_new(o, "count", json_integer(spec->count));
        json_object_set_new(o, "remaining", json_integer(info->remaining));
    }
    if (spec->action == RN_FAULT_ERROR) {
        json_object_set_new(o, "error", json_string(rn_kerr_name(spec->error_code)));
        json_object_set_new(o, "error_code", json_integer(spec->error_code));
    }
    if (spec->action == RN_FAULT_DELAY)
        json_object_set_new(o, "delay_ms", json_integer(spec->delay_ms));
    if (spec->topic != NULL)
        json_object_set_new(o, "topic", json_string(spec->topic));
    if (spec->partition >= 0)
        json_object_set_new(o, "partition", json_integer(spec->partition));
    if (spec->client_id != NULL)
        json_object_set_new(o, "client_id", json_string(spec->client_id));
    json_object_set_new(o, "injected", json_integer((json_int_t)info->injected));
    return o;
}

typedef struct find_ctx {
    int64_t id;
    json_t *found;
} find_ctx_t;

static void find_one(const rn_fault_info_t *info, void *ctx)
{
    find_ctx_t *f = ctx;
    if (info->id == f->id)
        f->found = fault_json(info);
}

static void add_one(const rn_fault_info_t *info, void *ctx)
{
    json_array_append_new(ctx, fault_json(info));
}

void rn_route_faults_add(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp)
{
    if (c->env.faults == NULL) {
        rn_http_error(resp, 501, "faults are not available");
        return;
    }
    if (!json_is_object(req->json)) {
        rn_http_error(resp, 400, "the body must be a JSON object describing the fault");
        return;
    }
    rn_fault_spec_t spec;
    char why[300];
    if (!parse_spec(req->json, &spec, why, sizeof why)) {
        rn_http_error(resp, 400, "%s", why);
        return;
    }
    int64_t id = rn_faults_add(c->env.faults, &spec);
    if (id < 0) {
        rn_http_error(resp, 500, "out of memory");
        return;
    }
    find_ctx_t f = { .id = id };
    rn_faults_list(c->env.faults, find_one, &f);
    if (f.found == NULL) { /* cleared in between */
        rn_fault_info_t info = { .id = id, .spec = spec, .remaining = spec.count };
        f.found = fault_json(&info);
    }
    rn_http_json(resp, 201, f.found);
}

void rn_route_faults_list(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp)
{
    (void)req;
    json_t *list = json_array();
    if (c->env.faults != NULL)
        rn_faults_list(c->env.faults, add_one, list);
    rn_http_json(resp, 200, json_pack("{s:o}", "faults", list));
}

void rn_route_faults_clear(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp)
{
    (void)req;
    size_t n = c->env.faults != NULL ? rn_faults_clear(c->env.faults) : 0;
    rn_http_json(resp, 200, json_pack("{s:I}", "cleared", (json_int_t)n));
}

void rn_route_faults_remove(rn_control_t *c, const rn_http_req_t *req, rn_http_resp_t *resp)
{
    char *end = NULL;
    errno = 0;
    long long id = strtoll(req->tail, &end, 10);
    if (errno != 0 || end == req->tail || *end != '\0' || id <= 0) {
        rn_http_error(resp, 404, "no fault '%.100s' (ids are positive integers)", req->tail);
        return;
    }
    if (c->env.faults == NULL || !rn_faults_remove(c->env.faults, id)) {
        rn_http_error(resp, 404, "no fault %lld", id);
        return;
    }
    rn_http_json(resp, 200, json_pack("{s:i}", "cleared", 1));
}
