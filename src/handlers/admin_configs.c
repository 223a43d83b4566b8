/* SPDX-License-Identifier: Apache-2.0 */
/* DescribeConfigs (32), AlterConfigs (33) and IncrementalAlterConfigs (44), for topics (resource
 * type 2), this broker (type 4) and its log level (BROKER_LOGGER, type 8, described as Kafka's
 * root logger and set with IncrementalAlterConfigs).
 *
 * Topic configs come from the topics room, which knows each key's value, source, type and
 * broker synonym. Broker configs come from the config key table: a key set in the configuration
 * is STATIC_BROKER_CONFIG, any other DEFAULT_CONFIG, and every broker key is read-only because
 * Runnel has no dynamic broker configs; altering one is refused with Kafka's own answer for a
 * key that is not dynamic. CLIENTS.md rule 10: DescribeConfigs reports each topic's real
 * cleanup.policy (Kafka Connect refuses a compacted topic reported as anything but `compact`).
 * Messages follow Kafka's ConfigHelper and ConfigAdminManager. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "handlers/admin.h"
#include "handlers/job.h"
#include "topics/topics.h"
#include "util/logging.h"

/* ConfigResource.Type ids. */
enum { RESOURCE_TOPIC = 2, RESOURCE_BROKER = 4, RESOURCE_BROKER_LOGGER = 8 };
/* DescribeConfigsResponse.ConfigSource ids. */
enum {
    SOURCE_TOPIC_CONFIG = 1,
    SOURCE_STATIC_BROKER_CONFIG = 4,
    SOURCE_DEFAULT_CONFIG = 5,
    SOURCE_DYNAMIC_BROKER_LOGGER_CONFIG = 6,
};

/* Runnel has one log level for everything (util/logging.h), shown as Kafka shows the level of
 * its root logger; Kafka's other loggers are its own classes. */
#define ROOT_LOGGER "root"
/* Kafka's names of log4j's levels, as it accepts them (exactly, in upper case). Runnel has no
 * fatal messages, so FATAL keeps errors, its quietest level. */
static const struct {
    const char *name;
    rn_log_level_t level;
} logger_levels[] = {
    { "DEBUG", RN_LOG_DEBUG }, { "ERROR", RN_LOG_ERROR }, { "FATAL", RN_LOG_ERROR },
    { "INFO", RN_LOG_INFO },   { "TRACE", RN_LOG_TRACE }, { "WARN", RN_LOG_WARN },
};

static const char *level_name(rn_log_level_t level)
{
    switch (level) {
    case RN_LOG_ERROR:
        return "ERROR";
    case RN_LOG_WARN:
        return "WARN";
    case RN_LOG_INFO:
        return "INFO";
    case RN_LOG_DEBUG:
        return "DEBUG";
    case RN_LOG_TRACE:
        break;
    }
    return "TRACE";
}
/* AlterConfigOp.OpType ids. */
enum { OP_SET = 0, OP_DELETE = 1, OP_APPEND = 2, OP_SUBTRACT = 3 };

static const rn_str_t null_str = { NULL, 0 };

static int compare_strs(const void *a, const void *b)
{
    const rn_str_t *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n > 0 ? memcmp(x->ptr, y->ptr, n) : 0;
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* Kafka's Topic.validate: 1-249 characters of [a-zA-Z0-9._-], and not "." or "..". NULL when
 * legal, else the message Kafka gives. */
static const char *topic_name_problem(rn_str_t name, char *buf, size_t cap)
{
    if (name.ptr == NULL || name.len == 0)
        return "Topic name is illegal, it can't be empty";
    if ((name.len == 1 && name.ptr[0] == '.') ||
        (name.len == 2 && name.ptr[0] == '.' && name.ptr[1] == '.'))
        return "Topic name cannot be \".\" or \"..\"";
    if (name.len > 249) {
        snprintf(buf, cap,
                 "Topic name is illegal, it can't be longer than 249 characters, topic name: %.*s",
                 64, name.ptr);
        return buf;
    }
    for (size_t i = 0; i < name.len; i++) {
        char ch = name.ptr[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!ok) {
            snprintf(buf, cap,
                     "Topic name is illegal, it contains a character other than ASCII "
                     "alphanumerics, "
                     "'.', '_' and '-'");
            return buf;
        }
    }
    return NULL;
}

/* ConfigAdminManager.validateResourceNameIsCurrentNodeId and ConfigHelper.resourceNameToBrokerId:
 * true when `name` is this node's id in decimal. */
static bool parse_node_id(rn_str_t name, int32_t *out)
{
    if (name.ptr == NULL || name.len == 0 || name.len > 11)
        return false;
    char buf[12];
    memcpy(buf, name.ptr, name.len);
    buf[name.len] = '\0';
    char *end;
    long v = strtol(buf, &end, 10);
    if (*end != '\0' || v < INT32_MIN || v > INT32_MAX || buf[0] == ' ' || buf[0] == '+')
        return false;
    *out = (int32_t)v;
    return true;
}

/* ---- DescribeConfigs ---- */

typedef struct describe_ctx {
    rn_request_t *req;
    bool synonyms, documentation;
    const rn_str_t *keys; /* the requested names, sorted; NULL: all */
    int32_t nkeys;
} describe_ctx_t;

static bool wanted(const describe_ctx_t *d, const char *name)
{
    if (d->keys == NULL)
        return true;
    rn_str_t key = rn_str_from_cstr(name);
    return bsearch(&key, d->keys, (size_t)d->nkeys, sizeof *d->keys, compare_strs) != NULL;
}

static void add_synonym(rn_describe_configs_response_config_t *c, rn_str_t name, rn_str_t value,
                        int8_t source)
{
    rn_describe_configs_response_synonym_t *s = &c->synonyms.items[c->synonyms.count++];
    rn_describe_configs_response_synonym_init(s);
    s->name = name;
    s->value = value;
    s->source = source;
}

/* One topic key. Synonyms, most specific first as Kafka lists them: the topic's override, the
 * broker key when the configuration sets it, then the broker key's default. */
static bool fill_topic_entry(const describe_ctx_t *d, const rn_config_entry_t *e,
                             rn_describe_configs_response_config_t *c)
{
    rn_request_t *req = d->req;
    bool oom = false;
    rn_describe_configs_response_config_init(c);
    c->name = rn_admin_str(req, e->name, &oom);
    c->value = rn_admin_str(req, e->value, &oom);
    c->read_only = e->read_only;
    c->config_source = e->source;
    c->is_default = e->source == SOURCE_DEFAULT_CONFIG;
    c->is_sensitive = false;
    c->config_type = e->type;
    if (d->documentation)
        c->documentation = rn_admin_str(req, e->doc, &oom);
    if (!d->synonyms)
        return !oom;
    c->synonyms.items =
        rn_arena_try_alloc_array(&req->arena, rn_describe_configs_response_synonym_t, 3);
    if (c->synonyms.items == NULL)
        return false;
    if (e->source == SOURCE_TOPIC_CONFIG)
        add_synonym(c, c->name, c->value, SOURCE_TOPIC_CONFIG);
    /* Kafka lists only broker synonyms that have a value, and none for a key without one. */
    if (e->synonym_name != NULL && e->synonym_value != NULL) {
        rn_str_t syn = rn_admin_str(req, e->synonym_name, &oom);
        add_synonym(c, syn, rn_admin_str(req, e->synonym_value, &oom), e->synonym_source);
        const rn_config_key_t *k = rn_config_key_find(e->synonym_name);
        if (e->synonym_source != SOURCE_DEFAULT_CONFIG && k != NULL && k->default_value != NULL)
            add_synonym(c, syn, rn_str_from_cstr(k->default_value), SOURCE_DEFAULT_CONFIG);
    }
    return !oom;
}

static bool describe_topic(const describe_ctx_t *d, const rn_describe_configs_request_resource_t *r,
                           rn_describe_configs_response_result_t *res)
{
    rn_request_t *req = d->req;
    char buf[192];
    const char *problem = topic_name_problem(r->resource_name, buf, sizeof buf);
    if (problem != NULL) {
        res->error_code = RN_KERR_INVALID_TOPIC_EXCEPTION;
        res->error_message = rn_admin_message(req, "%s", problem);
        return true;
    }
    rn_topic_t *topic = rn_topics_get(req->broker->topics, r->resource_name);
    if (topic == NULL) {
        res->error_code = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION; /* Kafka sends no message here */
        return true;
    }
    rn_config_entry_t *entries = NULL;
    size_t n = rn_topic_config_entries(req->broker->topics, topic, &entries);
    rn_topic_unref(topic);
    bool ok = true;
    res->configs.items =
        rn_arena_try_alloc_array(&req->arena, rn_describe_configs_response_config_t, n);
    if (n > 0 && res->configs.items == NULL)
        ok = false;
    for (size_t i = 0; i < n && ok; i++)
        if (wanted(d, entries[i].name))
            ok = fill_topic_entry(d, &entries[i], &res->configs.items[res->configs.count++]);
    rn_config_entries_free(entries, n);
    return ok;
}

/* Whether `name` is this node's id; otherwise sets Kafka's refusal (ConfigHelper's words) on
 * `res`. A broker resource may also be named "" (`empty_ok`, checked by the caller), which the
 * refusal then mentions. */
static bool names_this_broker(rn_request_t *req, rn_str_t name, bool empty_ok,
                              rn_describe_configs_response_result_t *res)
{
    int32_t id;
    if (!parse_node_id(name, &id)) {
        res->error_code = RN_KERR_INVALID_REQUEST;
        res->error_message = rn_admin_message(req, "Broker id must be an integer, but it is: %.*s",
                                              (int)name.len, name.ptr);
        return false;
    }
    if (id == req->broker->node_id)
        return true;
    res->error_code = RN_KERR_INVALID_REQUEST;
    int32_t node = req->broker->node_id;
    res->error_message =
        empty_ok ? rn_admin_message(req,
                                    "Unexpected broker id, expected %d or empty string, but "
                                    "received %.*s",
                                    node, (int)name.len, name.ptr)
                 : rn_admin_message(req, "Unexpected broker id, expected %d but received %.*s",
                                    node, (int)name.len, name.ptr);
    return false;
}

/* The broker's keys (rn_topics_broker_config_entries), copied into the request's arena. */
static bool describe_broker(const describe_ctx_t *d,
                            const rn_describe_configs_request_resource_t *r,
                            rn_describe_configs_response_result_t *res)
{
    rn_request_t *req = d->req;
    /* An empty name asks for the cluster-wide dynamic defaults (ConfigHelper.describeConfigs):
     * there are none without dynamic configs. */
    if (r->resource_name.ptr == NULL || r->resource_name.len == 0)
        return true;
    if (!names_this_broker(req, r->resource_name, true, res))
        return true;
    rn_config_entry_t *entries = NULL;
    size_t n = rn_topics_broker_config_entries(req->broker->topics, &entries);
    bool oom = false;
    res->configs.items =
        rn_arena_try_alloc_array(&req->arena, rn_describe_configs_response_config_t, n);
    if (n > 0 && res->configs.items == NULL)
        oom = true;
    for (size_t i = 0; i < n && !oom; i++) {
        const rn_config_entry_t *e = &entries[i];
        if (!wanted(d, e->name))
            continue;
        bool sensitive = e->type == RN_CONFIG_TYPE_PASSWORD;
        rn_describe_configs_response_config_t *c = &res->configs.items[res->configs.count++];
        rn_describe_configs_response_config_init(c);
        c->name = rn_admin_str(req, e->name, &oom);
        c->value = sensitive ? null_str : rn_admin_str(req, e->value, &oom);
        c->read_only = e->read_only;
        c->config_source = e->source;
        c->is_default = e->is_default;
        c->is_sensitive = sensitive;
        c->config_type = e->type;
        if (d->documentation)
            c->documentation = rn_admin_str(req, e->doc, &oom);
        if (!d->synonyms)
            continue;
        c->synonyms.items =
            rn_arena_try_alloc_array(&req->arena, rn_describe_configs_response_synonym_t, 2);
        if (c->synonyms.items == NULL) {
            oom = true;
            break;
        }
        if (e->source == SOURCE_STATIC_BROKER_CONFIG)
            add_synonym(c, c->name, c->value, SOURCE_STATIC_BROKER_CONFIG);
        const rn_config_key_t *k = rn_config_key_find(e->name);
        if (k != NULL && k->default_value != NULL)
            add_synonym(c, c->name, sensitive ? null_str : rn_str_from_cstr(k->default_value),
                        SOURCE_DEFAULT_CONFIG);
    }
    rn_config_entries_free(entries, n);
    return !oom;
}

/* BROKER_LOGGER: the root logger, whose level is the process's. The name must be this node's
 * id (Kafka's ConfigHelper words each refusal). */
static bool describe_logger(const describe_ctx_t *d,
                            const rn_describe_configs_request_resource_t *r,
                            rn_describe_configs_response_result_t *res)
{
    rn_request_t *req = d->req;
    if (r->resource_name.ptr == NULL || r->resource_name.len == 0) {
        res->error_code = RN_KERR_INVALID_REQUEST;
        res->error_message = rn_admin_message(req, "Broker id must not be empty");
        return true;
    }
    if (!names_this_broker(req, r->resource_name, false, res))
        return true;
    if (!wanted(d, ROOT_LOGGER))
        return true;
    res->configs.items =
        rn_arena_try_alloc_array(&req->arena, rn_describe_configs_response_config_t, 1);
    if (res->configs.items == NULL)
        return false;
    rn_describe_configs_response_config_t *c = &res->configs.items[res->configs.count++];
    rn_describe_configs_response_config_init(c);
    c->name = rn_str_from_cstr(ROOT_LOGGER);
    c->value = rn_str_from_cstr(level_name(rn_log_get_level()));
    c->read_only = false;
    c->config_source = SOURCE_DYNAMIC_BROKER_LOGGER_CONFIG;
    c->is_default = false;
    c->is_sensitive = false;
    c->config_type = RN_CONFIG_TYPE_UNKNOWN;
    /* Kafka sends an empty text for a logger whether or not documentation was asked for. */
    c->documentation = rn_str_from_cstr("");
    return true;
}

/* Reads only: answered on the loop, without the thread pool. */
void rn_handle_describe_configs(rn_request_t *req)
{
    rn_describe_configs_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    int32_t n = body.resources.count > 0 ? body.resources.count : 0;
    rn_describe_configs_response_result_t *results =
        rn_arena_try_alloc_array(&req->arena, rn_describe_configs_response_result_t, n);
    if (n > 0 && results == NULL)
        goto oom;
    for (int32_t i = 0; i < n; i++) {
        const rn_describe_configs_request_resource_t *r = &body.resources.items[i];
        rn_describe_configs_response_result_t *res = &results[i];
        rn_describe_configs_response_result_init(res);
        res->resource_type = r->resource_type;
        res->resource_name = r->resource_name;
        /* Null or empty configuration_keys means every key; a named unknown key is left out. */
        describe_ctx_t d = { .req = req,
                             .synonyms = body.include_synonyms,
                             .documentation = body.include_documentation };
        if (r->configuration_keys.count > 0) {
            rn_str_t *keys =
                rn_arena_try_alloc_array(&req->arena, rn_str_t, r->configuration_keys.count);
            if (keys == NULL)
                goto oom;
            memcpy(keys, r->configuration_keys.items,
                   sizeof *keys * (size_t)r->configuration_keys.count);
            qsort(keys, (size_t)r->configuration_keys.count, sizeof *keys, compare_strs);
            d.keys = keys;
            d.nkeys = r->configuration_keys.count;
        }
        bool ok = true;
        if (r->resource_type == RESOURCE_TOPIC) {
            ok = describe_topic(&d, r, res);
        } else if (r->resource_type == RESOURCE_BROKER) {
            ok = describe_broker(&d, r, res);
        } else if (r->resource_type == RESOURCE_BROKER_LOGGER) {
            ok = describe_logger(&d, r, res);
        } else {
            res->error_code = RN_KERR_INVALID_REQUEST;
            res->error_message =
                rn_admin_message(req, "Unsupported resource type: %d", r->resource_type);
        }
        if (!ok)
            goto oom;
        /* Kafka 4.4 sends an empty message, not null, wherever it has none to give (success
         * and UNKNOWN_TOPIC_OR_PARTITION alike). */
        if (res->error_message.ptr == NULL)
            res->error_message = rn_str_from_cstr("");
    }
    rn_describe_configs_response_t resp;
    rn_describe_configs_response_init(&resp);
    resp.results.items = results;
    resp.results.count = n;
    rn_respond(req, &resp);
    return;
oom:
    rn_reject(req, "out of memory");
}

/* ---- AlterConfigs and IncrementalAlterConfigs ---- */

/* One resource of either request, in a common shape. */
typedef struct alter_resource {
    int8_t resource_type;
    rn_str_t resource_name;
    int32_t nconfigs;
    rn_config_op_t *ops;  /* NUL-terminated copies; op is OP_SET for AlterConfigs */
    bool has_null_value;  /* a null value where one is not allowed */
    rn_kerr_t error_code; /* set while checking */
    rn_str_t error_message;
} alter_resource_t;

typedef struct alter_job {
    rn_job_t job;
    bool incremental;
    bool validate_only;
    int32_t nresources;
    alter_resource_t *resources;
    rn_alter_configs_response_t resp;
    rn_incremental_alter_configs_response_t iresp;
} alter_job_t;

/* ConfigAdminManager.preprocess: a resource named twice is refused everywhere it appears;
 * repeated keys and null values are refused per resource. */
static bool preprocess(rn_request_t *req, alter_job_t *j)
{
    int32_t n = j->nresources;
    rn_str_t *keys = rn_arena_try_alloc_array(&req->arena, rn_str_t, n);
    uint8_t *kind = rn_arena_try_alloc_array(&req->arena, uint8_t, n);
    if (n > 0 && (keys == NULL || kind == NULL))
        return false;
    for (int32_t i = 0; i < n; i++) {
        const alter_resource_t *r = &j->resources[i];
        /* The key is the type byte then the name, so that equal names of two types differ. */
        char *key = rn_arena_try_alloc(&req->arena, r->resource_name.len + 1);
        if (key == NULL)
            return false;
        key[0] = (char)r->resource_type;
        if (r->resource_name.len > 0)
            memcpy(key + 1, r->resource_name.ptr, r->resource_name.len);
        keys[i] = (rn_str_t){ key, r->resource_name.len + 1 };
    }
    if (!rn_admin_classify_keys(&req->arena, keys, n, kind))
        return false;
    for (int32_t i = 0; i < n; i++) {
        alter_resource_t *r = &j->resources[i];
        if (kind[i] != RN_ADMIN_KEY_UNIQUE) {
            r->error_code = RN_KERR_INVALID_REQUEST;
            r->error_message = rn_admin_message(req, "Each resource must appear at most once.");
            continue;
        }
        rn_str_t *names = rn_arena_try_alloc_array(&req->arena, rn_str_t, r->nconfigs);
        uint8_t *name_kind = rn_arena_try_alloc_array(&req->arena, uint8_t, r->nconfigs);
        if (r->nconfigs > 0 && (names == NULL || name_kind == NULL))
            return false;
        for (int32_t k = 0; k < r->nconfigs; k++)
            names[k] = rn_str_from_cstr(r->ops[k].key);
        if (!rn_admin_classify_keys(&req->arena, names, r->nconfigs, name_kind))
            return false;
        bool repeated = false;
        for (int32_t k = 0; k < r->nconfigs; k++)
            repeated = repeated || name_kind[k] != RN_ADMIN_KEY_UNIQUE;
        if (repeated) {
            r->error_code = RN_KERR_INVALID_REQUEST;
            r->error_message = rn_admin_message(req, "Error due to duplicate config keys");
            continue;
        }
        if (r->has_null_value) {
            char list[256] = "";
            size_t len = 0;
            for (int32_t k = 0; k < r->nconfigs && len < sizeof list - 1; k++) {
                if (r->ops[k].value != NULL || (j->incremental && r->ops[k].op == OP_DELETE))
                    continue;
                int w = snprintf(list + len, sizeof list - len, "%s%s", len > 0 ? ", " : "",
                                 r->ops[k].key);
                len = w < 0 ? len : len + (size_t)w;
            }
            r->error_code = RN_KERR_INVALID_REQUEST;
            r->error_message = rn_admin_message(req, "Null value not supported for : %s", list);
        }
    }
    return true;
}

/* A broker resource: the name must be empty (cluster-wide) or this node's id, and no key is
 * dynamic here, so any change is refused as Kafka refuses a key that is not dynamic
 * (DynamicBrokerConfig.validate, wrapped in INVALID_REQUEST by ConfigAdminManager). Deleting a
 * key that was never set dynamically is accepted: there is nothing to delete. */
static void alter_broker(rn_request_t *req, bool incremental, alter_resource_t *r)
{
    int32_t id = 0;
    if (r->resource_name.len > 0 && !parse_node_id(r->resource_name, &id)) {
        r->error_code = RN_KERR_INVALID_REQUEST;
        r->error_message = rn_admin_message(req, "Node id must be an integer, but it is: %.*s",
                                            (int)r->resource_name.len, r->resource_name.ptr);
        return;
    }
    if (r->resource_name.len > 0 && id != req->broker->node_id) {
        r->error_code = RN_KERR_INVALID_REQUEST;
        r->error_message =
            rn_admin_message(req, "Unexpected broker id, expected %d, but received %.*s",
                             req->broker->node_id, (int)r->resource_name.len, r->resource_name.ptr);
        return;
    }
    char list[256] = "";
    size_t len = 0;
    for (int32_t k = 0; k < r->nconfigs; k++) {
        int8_t op = r->ops[k].op;
        if (incremental && (op < OP_SET || op > OP_SUBTRACT)) {
            r->error_code = RN_KERR_INVALID_REQUEST;
            r->error_message = rn_admin_message(req, "Unknown operations type %d", op);
            return;
        }
        if (op == OP_DELETE || len >= sizeof list - 1)
            continue;
        int w = snprintf(list + len, sizeof list - len, "%s%s", len > 0 ? ", " : "", r->ops[k].key);
        len = w < 0 ? len : len + (size_t)w;
    }
    if (list[0] != '\0') {
        r->error_code = RN_KERR_INVALID_REQUEST;
        r->error_message =
            rn_admin_message(req, "Cannot update these configs dynamically: Set(%s)", list);
    }
}

/* IncrementalAlterConfigs of BROKER_LOGGER (AlterConfigs does not know it, as in Kafka): SET of
 * the root logger to one of Kafka's level names changes the process's log level at once. Every
 * op is checked before any is applied, in Kafka's order and words (ConfigAdminManager's logger
 * checks). */
static void alter_logger(rn_request_t *req, bool validate_only, alter_resource_t *r)
{
    int32_t id = 0;
    if (!parse_node_id(r->resource_name, &id)) {
        r->error_code = RN_KERR_INVALID_REQUEST;
        r->error_message = rn_admin_message(req, "Node id must be an integer, but it is: %.*s",
                                            (int)r->resource_name.len, r->resource_name.ptr);
        return;
    }
    if (id != req->broker->node_id) {
        r->error_code = RN_KERR_INVALID_REQUEST;
        r->error_message =
            rn_admin_message(req, "Unexpected node id. Expected %d, but received %.*s",
                             req->broker->node_id, (int)r->resource_name.len, r->resource_name.ptr);
        return;
    }
    static const char *const verbs[] = { [OP_APPEND] = "APPEND", [OP_SUBTRACT] = "SUBTRACT" };
    bool set = false;
    rn_log_level_t level = RN_LOG_INFO;
    for (int32_t k = 0; k < r->nconfigs; k++) {
        const rn_config_op_t *op = &r->ops[k];
        if (op->op == OP_APPEND || op->op == OP_SUBTRACT) {
            r->error_code = RN_KERR_INVALID_REQUEST;
            r->error_message =
                rn_admin_message(req, "%s operation is not allowed for the BROKER_LOGGER resource",
                                 verbs[op->op]);
            return;
        }
        if (op->op != OP_SET && op->op != OP_DELETE) {
            r->error_code = RN_KERR_INVALID_REQUEST;
            r->error_message = rn_admin_message(req,
                                                "Unknown operation type %d is not allowed for the "
                                                "BROKER_LOGGER resource",
                                                op->op);
            return;
        }
        if (strcmp(op->key, ROOT_LOGGER) != 0) {
            r->error_code = RN_KERR_INVALID_CONFIG;
            r->error_message = rn_admin_message(req, "Logger %s does not exist!", op->key);
            return;
        }
        if (op->op == OP_DELETE) {
            r->error_code = RN_KERR_INVALID_REQUEST;
            r->error_message =
                rn_admin_message(req, "Removing the log level of the root logger is not allowed");
            return;
        }
        size_t i = 0, n = sizeof logger_levels / sizeof logger_levels[0];
        while (i < n && strcmp(op->value, logger_levels[i].name) != 0)
            i++;
        if (i == n) {
            r->error_code = RN_KERR_INVALID_CONFIG;
            r->error_message =
                rn_admin_message(req,
                                 "Cannot set the log level of %s to %s as it is not a supported "
                                 "log level. Valid "
                                 "log levels are DEBUG, ERROR, FATAL, INFO, TRACE, WARN",
                                 op->key, op->value);
            return;
        }
        set = true;
        level = logger_levels[i].level;
    }
    if (set && !validate_only) {
        rn_log(RN_LOG_INFO, "handlers", "%s: log level set to %s", req->peer, level_name(level));
        rn_log_set_level(level);
    }
}

/* False when out of memory. */
static bool alter_topic(rn_request_t *req, const alter_job_t *j, alter_resource_t *r)
{
    rn_topics_t *topics = req->broker->topics;
    rn_topics_result_t res;
    if (j->incremental) {
        for (int32_t k = 0; k < r->nconfigs; k++) {
            if (r->ops[k].op < OP_SET || r->ops[k].op > OP_SUBTRACT) {
                r->error_code = RN_KERR_INVALID_REQUEST;
                r->error_message =
                    rn_admin_message(req, "Unknown operations type %d", r->ops[k].op);
                return true;
            }
        }
        res = rn_topics_incremental_alter_configs(topics, r->resource_name, r->ops,
                                                  (size_t)r->nconfigs, j->validate_only);
    } else {
        /* AlterConfigs replaces every override with the given set. */
        rn_topic_override_t *set =
            rn_arena_try_alloc_array(&req->arena, rn_topic_override_t, r->nconfigs);
        if (r->nconfigs > 0 && set == NULL)
            return false;
        /* The registry only reads the overrides it is given; the strings are the arena copies. */
        for (int32_t k = 0; k < r->nconfigs; k++)
            set[k] = (rn_topic_override_t){ (char *)r->ops[k].key, (char *)r->ops[k].value };
        res = rn_topics_alter_configs(topics, r->resource_name, set, (size_t)r->nconfigs,
                                      j->validate_only);
    }
    r->error_code = res.error_code;
    if (res.error_code != RN_KERR_NONE && res.message[0] != '\0')
        r->error_message = rn_admin_message(req, "%s", res.message);
    return true;
}

static void run_alter(rn_job_t *job)
{
    alter_job_t *j = (alter_job_t *)job;
    rn_request_t *req = job->req;
    if (!preprocess(req, j)) {
        job->oom = true;
        return;
    }
    for (int32_t i = 0; i < j->nresources; i++) {
        alter_resource_t *r = &j->resources[i];
        if (r->error_code != RN_KERR_NONE)
            continue;
        if (r->resource_type == RESOURCE_TOPIC) {
            if (!alter_topic(req, j, r)) {
                job->oom = true;
                return;
            }
        } else if (r->resource_type == RESOURCE_BROKER) {
            alter_broker(req, j->incremental, r);
        } else if (r->resource_type == RESOURCE_BROKER_LOGGER && j->incremental) {
            alter_logger(req, j->validate_only, r);
        } else {
            /* Kafka also knows CLIENT_METRICS (16) and GROUP (32). */
            r->error_code = RN_KERR_INVALID_REQUEST;
            r->error_message = rn_admin_message(req, "Unknown resource type %d", r->resource_type);
        }
    }
    int32_t n = j->nresources;
    if (j->incremental) {
        rn_incremental_alter_configs_response_resource_t *out =
            rn_arena_try_alloc_array(&req->arena, rn_incremental_alter_configs_response_resource_t,
                                     n);
        if (n > 0 && out == NULL) {
            job->oom = true;
            return;
        }
        for (int32_t i = 0; i < n; i++) {
            rn_incremental_alter_configs_response_resource_init(&out[i]);
            out[i].error_code = j->resources[i].error_code;
            out[i].error_message = j->resources[i].error_message;
            out[i].resource_type = j->resources[i].resource_type;
            out[i].resource_name = j->resources[i].resource_name;
        }
        rn_incremental_alter_configs_response_init(&j->iresp);
        j->iresp.responses.items = out;
        j->iresp.responses.count = n;
        job->resp = &j->iresp;
    } else {
        rn_alter_configs_response_result_t *out =
            rn_arena_try_alloc_array(&req->arena, rn_alter_configs_response_result_t, n);
        if (n > 0 && out == NULL) {
            job->oom = true;
            return;
        }
        for (int32_t i = 0; i < n; i++) {
            rn_alter_configs_response_result_init(&out[i]);
            out[i].error_code = j->resources[i].error_code;
            out[i].error_message = j->resources[i].error_message;
            out[i].resource_type = j->resources[i].resource_type;
            out[i].resource_name = j->resources[i].resource_name;
        }
        rn_alter_configs_response_init(&j->resp);
        j->resp.responses.items = out;
        j->resp.responses.count = n;
        job->resp = &j->resp;
    }
}

/* Copies one config of either request into r->ops[k]. False when out of memory. */
static bool copy_op(rn_request_t *req, alter_resource_t *r, int32_t k, rn_str_t name,
                    rn_str_t value, int8_t op, bool null_allowed)
{
    rn_config_op_t *o = &r->ops[k];
    o->key = rn_arena_strndup(&req->arena, name.ptr != NULL ? name.ptr : "", name.len);
    o->value = value.ptr != NULL ? rn_arena_strndup(&req->arena, value.ptr, value.len) : NULL;
    o->op = op;
    if (value.ptr == NULL && !null_allowed)
        r->has_null_value = true;
    return o->key != NULL && (value.ptr == NULL || o->value != NULL);
}

/* The job for `n` resources, or NULL after rejecting the request. */
static alter_job_t *new_alter_job(rn_request_t *req, int32_t n)
{
    alter_job_t *j = rn_job_new(req, sizeof *j, run_alter);
    if (j == NULL)
        return NULL;
    j->nresources = n > 0 ? n : 0;
    j->resources = rn_arena_try_alloc_array(&req->arena, alter_resource_t, j->nresources);
    if (j->nresources > 0 && j->resources == NULL) {
        rn_reject(req, "out of memory");
        return NULL;
    }
    return j;
}

void rn_handle_alter_configs(rn_request_t *req)
{
    rn_alter_configs_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    alter_job_t *j = new_alter_job(req, body.resources.count);
    if (j == NULL)
        return;
    j->validate_only = body.validate_only;
    for (int32_t i = 0; i < j->nresources; i++) {
        const rn_alter_configs_request_resource_t *in = &body.resources.items[i];
        alter_resource_t *r = &j->resources[i];
        r->resource_type = in->resource_type;
        r->resource_name = in->resource_name;
        r->nconfigs = in->configs.count > 0 ? in->configs.count : 0;
        r->ops = rn_arena_try_alloc_array(&req->arena, rn_config_op_t, r->nconfigs);
        if (r->nconfigs > 0 && r->ops == NULL)
            goto oom;
        for (int32_t k = 0; k < r->nconfigs; k++)
            if (!copy_op(req, r, k, in->configs.items[k].name, in->configs.items[k].value, OP_SET,
                         false))
                goto oom;
    }
    rn_job_start(&j->job);
    return;
oom:
    rn_reject(req, "out of memory");
}

void rn_handle_incremental_alter_configs(rn_request_t *req)
{
    rn_incremental_alter_configs_request_t body;
    if (!rn_decode_body(req, &body))
        return;
    alter_job_t *j = new_alter_job(req, body.resources.count);
    if (j == NULL)
        return;
    j->incremental = true;
    j->validate_only = body.validate_only;
    for (int32_t i = 0; i < j->nresources; i++) {
        const rn_incremental_alter_configs_request_resource_t *in = &body.resources.items[i];
        alter_resource_t *r = &j->resources[i];
        r->resource_type = in->resource_type;
        r->resource_name = in->resource_name;
        r->nconfigs = in->configs.count > 0 ? in->configs.count : 0;
        r->ops = rn_arena_try_alloc_array(&req->arena, rn_config_op_t, r->nconfigs);
        if (r->nconfigs > 0 && r->ops == NULL)
            goto oom;
        for (int32_t k = 0; k < r->nconfigs; k++) {
            const rn_incremental_alter_configs_request_config_t *c = &in->configs.items[k];
            if (!copy_op(req, r, k, c->name, c->value, c->config_operation,
                         c->config_operation == OP_DELETE))
                goto oom;
        }
    }
    rn_job_start(&j->job);
    return;
oom:
    rn_reject(req, "out of memory");
}
