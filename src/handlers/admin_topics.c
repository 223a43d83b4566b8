/* SPDX-License-Identifier: Apache-2.0 */
/* CreateTopics (19), DeleteTopics (20), DeleteRecords (21) and CreatePartitions (37).
 *
 * Admin clients send these to the controller, and this node is the controller: nothing here
 * answers NOT_CONTROLLER. The topics room decides names, counts, replication factors and
 * configs; this file adds what Kafka's controller checks around it (ControllerApis and
 * ReplicationControlManager): duplicate names in one request, manual replica assignments, the
 * order of the checks, and the wording of the messages clients show their users. With one
 * broker, a manual assignment is valid only when every partition lists exactly this node.
 * The registry calls run as jobs, off the loop (job.h). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "coord/coord.h"
#include "handlers/admin.h"
#include "handlers/job.h"
#include "log/log.h"
#include "topics/topics.h"
#include "util/logging.h"

static rn_str_t result_message(rn_request_t *req, const rn_topics_result_t *r)
{
    if (r->error_code == RN_KERR_NONE || r->message[0] == '\0')
        return (rn_str_t){ NULL, 0 };
    return rn_admin_message(req, "%s", r->message);
}

static bool uuid_is_zero(rn_uuid_t id)
{
    static const rn_uuid_t zero;
    return memcmp(id.b, zero.b, sizeof id.b) == 0;
}

/* Kafka's validateManualPartitionAssignment with one registered broker: the replica list must
 * be exactly [node_id]. Kafka walks the sorted list and reports the first problem it meets, so
 * an unknown broker below this node's id wins over a repeat of this node. NULL when valid. */
static const char *check_replicas(const rn_request_t *req, const int32_t *ids, int32_t n, char *buf,
                                  size_t cap)
{
    if (n <= 0)
        return "The manual partition assignment includes an empty replica list.";
    int32_t node = req->broker->node_id;
    bool have_unknown = false;
    int32_t min_unknown = 0, self_count = 0;
    for (int32_t i = 0; i < n; i++) {
        if (ids[i] == node) {
            self_count++;
        } else if (!have_unknown || ids[i] < min_unknown) {
            min_unknown = ids[i];
            have_unknown = true;
        }
    }
    if (have_unknown && (min_unknown < node || self_count <= 1)) {
        snprintf(buf, cap,
                 "The manual partition assignment includes broker %d, but no such broker is "
                 "registered.",
                 min_unknown);
        return buf;
    }
    if (self_count > 1) {
        snprintf(buf, cap, "The manual partition assignment includes the broker %d more than once.",
                 node);
        return buf;
    }
    return NULL;
}

/* ---- CreateTopics ---- */

typedef struct create_topics_job {
    rn_job_t job;
    rn_create_topics_request_t body;
    rn_create_topics_response_t resp;
} create_topics_job_t;

/* The checks made here before the topics room sees the topic: null config values
 * (computeConfigChanges) and manual assignments (createTopic). On success *spec holds the
 * partition count and replication factor to ask for. Returns the error code, with *why. */
static rn_kerr_t precheck_create(rn_request_t *req, const rn_create_topics_request_topic_t *t,
                                 rn_topic_spec_t *spec, rn_str_t *why)
{
    char nulls[256] = "";
    size_t nulls_len = 0;
    for (int32_t i = 0; i < t->configs.count; i++) {
        const rn_create_topics_request_config_t *c = &t->configs.items[i];
        if (c->value.ptr == NULL && nulls_len < sizeof nulls - 1) {
            int len = snprintf(nulls + nulls_len, sizeof nulls - nulls_len, "%s%.*s",
                               nulls_len > 0 ? "," : "", (int)c->name.len, c->name.ptr);
            nulls_len = len < 0 ? nulls_len : nulls_len + (size_t)len;
        }
    }
    if (nulls[0] != '\0') {
        *why = rn_admin_message(req, "Null value not supported for topic configs: %s", nulls);
        return RN_KERR_INVALID_CONFIG;
    }

    int32_t n = t->assignments.count;
    if (n <= 0)
        return RN_KERR_NONE;
    if (t->replication_factor != -1) {
        *why = rn_admin_message(req, "A manual partition assignment was specified, but replication "
                                     "factor was not set to -1.");
        return RN_KERR_INVALID_REQUEST;
    }
    if (t->num_partitions != -1) {
        *why = rn_admin_message(req, "A manual partition assignment was specified, but "
                                     "numPartitions was not set to -1.");
        return RN_KERR_INVALID_REQUEST;
    }
    bool *seen = rn_arena_try_alloc_array(&req->arena, bool, n);
    if (seen == NULL)
        return RN_KERR_UNKNOWN_SERVER_ERROR;
    bool gap = false;
    for (int32_t i = 0; i < n; i++) {
        const rn_create_topics_request_assignment_t *a = &t->assignments.items[i];
        bool in_range = a->partition_index >= 0 && a->partition_index < n;
        if (in_range && seen[a->partition_index]) {
            *why = rn_admin_message(req,
                                    "Found multiple manual partition assignments for partition %d",
                                    a->partition_index);
            return RN_KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        char buf[160];
        const char *bad =
            check_replicas(req, a->broker_ids.items, a->broker_ids.count, buf, sizeof buf);
        if (bad != NULL) {
            *why = rn_admin_message(req, "%s", bad);
            return RN_KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        if (in_range)
            seen[a->partition_index] = true;
        else
            gap = true;
    }
    if (gap) {
        *why = rn_admin_message(req, "partitions should be a consecutive 0-based integer sequence");
        return RN_KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    spec->num_partitions = n;
    spec->replication_factor = 1;
    return RN_KERR_NONE;
}

/* CreateTopics v5+ returns the new topic's configs as DescribeConfigs shows them. Takes
 * `entries` (freed here). */
static bool fill_created_configs(rn_request_t *req, rn_config_entry_t *entries, size_t n,
                                 rn_create_topics_response_topic_t *res)
{
    rn_create_topics_response_config_t *items =
        rn_arena_try_alloc_array(&req->arena, rn_create_topics_response_config_t, n);
    bool oom = n > 0 && items == NULL;
    for (size_t i = 0; i < n && !oom; i++) {
        rn_create_topics_response_config_init(&items[i]);
        items[i].name = rn_admin_str(req, entries[i].name, &oom);
        items[i].value = rn_admin_str(req, entries[i].value, &oom);
        items[i].read_only = entries[i].read_only;
        items[i].config_source = entries[i].source;
        items[i].is_sensitive = false;
    }
    rn_config_entries_free(entries, n);
    res->configs.items = items;
    res->configs.count = oom ? 0 : (int32_t)n;
    return !oom;
}

/* Creates (or validates) one topic and fills its result. False only when out of memory. */
static bool create_one(rn_request_t *req, bool validate_only,
                       const rn_create_topics_request_topic_t *t,
                       rn_create_topics_response_topic_t *res)
{
    rn_topics_t *topics = req->broker->topics;
    rn_topic_spec_t spec = { .name = t->name,
                             .num_partitions = t->num_partitions,
                             .replication_factor = t->replication_factor };
    rn_str_t why = { NULL, 0 };
    rn_kerr_t code = precheck_create(req, t, &spec, &why);
    if (code == RN_KERR_UNKNOWN_SERVER_ERROR)
        return false;
    if (code != RN_KERR_NONE) {
        /* Kafka checks the name and then existence before configs and assignments. Ask the
         * topics room about those alone, so that they win here too. */
        rn_topic_spec_t plain = { .name = t->name, .num_partitions = -1, .replication_factor = -1 };
        rn_topics_result_t r = rn_topics_create(topics, &plain, true, NULL);
        if (r.error_code == RN_KERR_INVALID_TOPIC_EXCEPTION ||
            r.error_code == RN_KERR_TOPIC_ALREADY_EXISTS) {
            res->error_code = r.error_code;
            res->error_message = result_message(req, &r);
        } else {
            res->error_code = code;
            res->error_message = why;
        }
        return true;
    }

    int32_t nconfigs = t->configs.count > 0 ? t->configs.count : 0;
    rn_topic_override_t *configs =
        rn_arena_try_alloc_array(&req->arena, rn_topic_override_t, nconfigs);
    if (nconfigs > 0 && configs == NULL)
        return false;
    for (int32_t i = 0; i < nconfigs; i++) {
        const rn_create_topics_request_config_t *c = &t->configs.items[i];
        configs[i].key =
            rn_arena_strndup(&req->arena, c->name.ptr != NULL ? c->name.ptr : "", c->name.len);
        configs[i].value = rn_arena_strndup(&req->arena, c->value.ptr, c->value.len);
        if (configs[i].key == NULL || configs[i].value == NULL)
            return false;
    }
    spec.configs = configs;
    spec.nconfigs = (size_t)nconfigs;

    rn_topic_t *topic = NULL;
    rn_config_entry_t *entries = NULL;
    size_t nentries = 0;
    rn_topics_result_t r;
    if (validate_only)
        /* Kafka 4.4 answers what a creation would: the configs, and (v7) an id it makes up
         * afresh each time and never uses. */
        r = rn_topics_create_dry_run(topics, &spec, &res->topic_id, &entries, &nentries);
    else
        r = rn_topics_create(topics, &spec, false, &topic);
    if (r.error_code != RN_KERR_NONE) {
        rn_config_entries_free(entries, nentries);
        res->error_code = r.error_code;
        res->error_message = result_message(req, &r);
        return true;
    }
    /* One node keeps one replica, whatever factor was accepted: the response says so. */
    res->replication_factor = 1;
    if (topic == NULL) {
        res->num_partitions =
            spec.num_partitions == -1 ? req->broker->num_partitions : spec.num_partitions;
    } else {
        res->num_partitions = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
        res->topic_id = topic->id;
        if (req->api_version >= 5)
            nentries = rn_topic_config_entries(topics, topic, &entries);
        rn_topic_unref(topic);
    }
    if (req->api_version < 5) {
        rn_config_entries_free(entries, nentries);
        return true;
    }
    return fill_created_configs(req, entries, nentries, res);
}

static void run_create_topics(rn_job_t *job)
{
    create_topics_job_t *j = (create_topics_job_t *)job;
    rn_request_t *req = job->req;
    int32_t n = j->body.topics.count > 0 ? j->body.topics.count : 0;
    rn_str_t *names = rn_arena_try_alloc_array(&req->arena, rn_str_t, n);
    uint8_t *kind = rn_arena_try_alloc_array(&req->arena, uint8_t, n);
    rn_create_topics_response_topic_t *results =
        rn_arena_try_alloc_array(&req->arena, rn_create_topics_response_topic_t, n);
    if (n > 0 && (names == NULL || kind == NULL || results == NULL))
        goto oom;
    for (int32_t i = 0; i < n; i++)
        names[i] = j->body.topics.items[i].name;
    if (!rn_admin_classify_keys(&req->arena, names, n, kind))
        goto oom;
    /* ControllerApis.createTopics: a name given twice is refused once, and neither copy is
     * created. */
    int32_t count = 0;
    for (int32_t i = 0; i < n; i++) {
        if (kind[i] == RN_ADMIN_KEY_REPEAT)
            continue;
        rn_create_topics_response_topic_t *res = &results[count++];
        rn_create_topics_response_topic_init(res);
        res->name = names[i];
        if (kind[i] == RN_ADMIN_KEY_FIRST_OF_MANY) {
            res->error_code = RN_KERR_INVALID_REQUEST;
            res->error_message = rn_admin_message(req, "Duplicate topic name.");
        } else if (!create_one(req, j->body.validate_only, &j->body.topics.items[i], res)) {
            goto oom;
        }
    }
    rn_create_topics_response_init(&j->resp);
    j->resp.topics.items = results;
    j->resp.topics.count = count;
    job->resp = &j->resp;
    return;
oom:
    job->oom = true;
}

void rn_handle_create_topics(rn_request_t *req)
{
    create_topics_job_t *j = rn_job_new(req, sizeof *j, run_create_topics);
    if (j != NULL && rn_decode_body(req, &j->body))
        rn_job_start(&j->job);
}

/* ---- DeleteTopics ---- */

typedef struct delete_topics_job {
    rn_job_t job;
    rn_delete_topics_request_t body;
    rn_delete_topics_response_t resp;
} delete_topics_job_t;

typedef struct delete_entry {
    rn_str_t name; /* null when given by id */
    rn_uuid_t id;  /* zero when given by name */
    uint8_t kind;  /* among the names, or among the ids */
} delete_entry_t;

static int compare_uuids(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(rn_uuid_t));
}

/* Fills entries[] from either request layout and classifies duplicates, names among names and
 * ids among ids. Returns false when out of memory. */
static bool collect_deletes(rn_request_t *req, const rn_delete_topics_request_t *body,
                            delete_entry_t *entries, int32_t n)
{
    rn_str_t *names = rn_arena_try_alloc_array(&req->arena, rn_str_t, n);
    rn_str_t *ids = rn_arena_try_alloc_array(&req->arena, rn_str_t, n);
    int32_t *name_at = rn_arena_try_alloc_array(&req->arena, int32_t, n);
    int32_t *id_at = rn_arena_try_alloc_array(&req->arena, int32_t, n);
    uint8_t *kind = rn_arena_try_alloc_array(&req->arena, uint8_t, n);
    if (n > 0 && (names == NULL || ids == NULL || name_at == NULL || id_at == NULL || kind == NULL))
        return false;
    int32_t nnames = 0, nids = 0;
    for (int32_t i = 0; i < n; i++) {
        delete_entry_t *e = &entries[i];
        if (req->api_version >= 6)
            *e = (delete_entry_t){ .name = body->topics.items[i].name,
                                   .id = body->topics.items[i].topic_id };
        else
            *e = (delete_entry_t){ .name = body->topic_names.items[i] };
        if (e->name.ptr != NULL) {
            name_at[nnames] = i;
            names[nnames++] = e->name;
        } else {
            id_at[nids] = i;
            ids[nids++] = (rn_str_t){ (const char *)e->id.b, sizeof e->id.b };
        }
    }
    if (!rn_admin_classify_keys(&req->arena, names, nnames, kind))
        return false;
    for (int32_t k = 0; k < nnames; k++)
        entries[name_at[k]].kind = kind[k];
    if (!rn_admin_classify_keys(&req->arena, ids, nids, kind))
        return false;
    for (int32_t k = 0; k < nids; k++)
        entries[id_at[k]].kind = kind[k];
    return true;
}

/* Deletes one entry and fills its result. The id list is sorted: a name that resolves to an id
 * also given by id is refused, as ControllerApis.deleteTopics does. False when out of memory. */
static bool delete_one(rn_request_t *req, const delete_entry_t *e, const rn_uuid_t *given_ids,
                       size_t ngiven, rn_delete_topics_response_topic_t *res)
{
    bool by_id = e->name.ptr == NULL;
    if (by_id && uuid_is_zero(e->id)) {
        res->error_code = RN_KERR_INVALID_REQUEST;
        res->error_message = rn_admin_message(req, "Neither topic name nor id were specified.");
        return true;
    }
    if (!by_id && !uuid_is_zero(e->id)) {
        res->error_code = RN_KERR_INVALID_REQUEST;
        res->error_message =
            rn_admin_message(req, "You may not specify both topic name and topic id.");
        return true;
    }
    if (e->kind == RN_ADMIN_KEY_FIRST_OF_MANY) {
        res->error_code = RN_KERR_INVALID_REQUEST;
        res->error_message =
            rn_admin_message(req, by_id ? "Duplicate topic id." : "Duplicate topic name.");
        return true;
    }
    rn_topics_t *topics = req->broker->topics;
    rn_topic_t *topic = by_id ? rn_topics_get_by_id(topics, e->id) : rn_topics_get(topics, e->name);
    if (topic == NULL) {
        /* Kafka 4.4 words these with the errors' own messages (v5+ carries a message); a name
         * that is not even legal is just as unknown. */
        res->error_code = by_id ? RN_KERR_UNKNOWN_TOPIC_ID : RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        res->error_message = rn_admin_message(req, "%s", rn_kerr_message(res->error_code));
        return true;
    }
    bool oom = false;
    res->name = rn_admin_str(req, topic->name, &oom);
    res->topic_id = topic->id;
    rn_topic_unref(topic);
    if (oom)
        return false;
    if (!by_id &&
        bsearch(&res->topic_id, given_ids, ngiven, sizeof *given_ids, compare_uuids) != NULL) {
        res->error_code = RN_KERR_INVALID_REQUEST;
        res->error_message =
            rn_admin_message(req,
                             "The provided topic name maps to an ID that was already supplied.");
        return true;
    }
    rn_topics_result_t r = rn_topics_delete(topics, res->name);
    if (r.error_code == 0 && req->broker->coord != NULL) {
        /* The topic's committed offsets go with it (tombstones in __consumer_offsets). */
        char *name = rn_arena_strndup(&req->arena, res->name.ptr, res->name.len);
        if (name != NULL)
            rn_coord_topic_deleted(req->broker->coord, name);
    }
    res->error_code = r.error_code;
    res->error_message = result_message(req, &r);
    return true;
}

static void run_delete_topics(rn_job_t *job)
{
    delete_topics_job_t *j = (delete_topics_job_t *)job;
    rn_request_t *req = job->req;
    /* v0-v5 name topics in topic_names; v6 in topics, by name or by id. */
    int32_t n = req->api_version >= 6 ? j->body.topics.count : j->body.topic_names.count;
    n = n > 0 ? n : 0;
    delete_entry_t *entries = rn_arena_try_alloc_array(&req->arena, delete_entry_t, n);
    rn_uuid_t *given_ids = rn_arena_try_alloc_array(&req->arena, rn_uuid_t, n);
    rn_delete_topics_response_topic_t *results =
        rn_arena_try_alloc_array(&req->arena, rn_delete_topics_response_topic_t, n);
    if (n > 0 && (entries == NULL || given_ids == NULL || results == NULL))
        goto oom;
    if (!collect_deletes(req, &j->body, entries, n))
        goto oom;
    rn_delete_topics_response_init(&j->resp);
    j->resp.responses.items = results;
    job->resp = &j->resp;

    /* ControllerApis.deleteTopics fails the whole request when deletion is disabled; versions
     * before 3 have no TOPIC_DELETION_DISABLED and get INVALID_REQUEST. */
    if (!req->broker->config->delete_topic_enable) {
        rn_kerr_t code =
            req->api_version < 3 ? RN_KERR_INVALID_REQUEST : RN_KERR_TOPIC_DELETION_DISABLED;
        for (int32_t i = 0; i < n; i++) {
            rn_delete_topics_response_topic_init(&results[i]);
            results[i].name = entries[i].name;
            results[i].topic_id = entries[i].id;
            results[i].error_code = code;
        }
        j->resp.responses.count = n;
        return;
    }

    size_t ngiven = 0;
    for (int32_t i = 0; i < n; i++)
        if (entries[i].name.ptr == NULL && !uuid_is_zero(entries[i].id))
            given_ids[ngiven++] = entries[i].id;
    qsort(given_ids, ngiven, sizeof *given_ids, compare_uuids);

    int32_t count = 0;
    for (int32_t i = 0; i < n; i++) {
        if (entries[i].kind == RN_ADMIN_KEY_REPEAT)
            continue;
        rn_delete_topics_response_topic_t *res = &results[count++];
        rn_delete_topics_response_topic_init(res);
        res->name = entries[i].name;
        res->topic_id = entries[i].id;
        if (!delete_one(req, &entries[i], given_ids, ngiven, res))
            goto oom;
    }
    j->resp.responses.count = count;
    return;
oom:
    job->oom = true;
}

void rn_handle_delete_topics(rn_request_t *req)
{
    delete_topics_job_t *j = rn_job_new(req, sizeof *j, run_delete_topics);
    if (j != NULL && rn_decode_body(req, &j->body))
        rn_job_start(&j->job);
}

/* ---- CreatePartitions ---- */

typedef struct create_partitions_job {
    rn_job_t job;
    rn_create_partitions_request_t body;
    rn_create_partitions_response_t resp;
} create_partitions_job_t;

/* The assignment checks of ReplicationControlManager.createPartitions, made before the topics
 * room grows the topic. RN_KERR_NONE when there is nothing to object to here (an unknown topic
 * or a count that is no increase is left to the topics room, which words those). */
static rn_kerr_t precheck_partitions(rn_request_t *req,
                                     const rn_create_partitions_request_topic_t *t, rn_str_t *why)
{
    if (t->assignments.count < 0)
        return RN_KERR_NONE;
    rn_topic_t *topic = rn_topics_get(req->broker->topics, t->name);
    if (topic == NULL)
        return RN_KERR_NONE;
    int32_t current = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
    rn_topic_unref(topic);
    if (t->count <= current)
        return RN_KERR_NONE;
    int32_t additional = t->count - current;
    if (t->assignments.count != additional) {
        *why = rn_admin_message(req,
                                "Attempted to add %d additional partition(s), but only %d "
                                "assignment(s) were specified.",
                                additional, t->assignments.count);
        return RN_KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    for (int32_t i = 0; i < t->assignments.count; i++) {
        const rn_create_partitions_request_assignment_t *a = &t->assignments.items[i];
        char buf[160];
        const char *bad =
            check_replicas(req, a->broker_ids.items, a->broker_ids.count, buf, sizeof buf);
        if (bad != NULL) {
            *why = rn_admin_message(req, "%s", bad);
            return RN_KERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    return RN_KERR_NONE;
}

static void run_create_partitions(rn_job_t *job)
{
    create_partitions_job_t *j = (create_partitions_job_t *)job;
    rn_request_t *req = job->req;
    int32_t n = j->body.topics.count > 0 ? j->body.topics.count : 0;
    rn_str_t *names = rn_arena_try_alloc_array(&req->arena, rn_str_t, n);
    uint8_t *kind = rn_arena_try_alloc_array(&req->arena, uint8_t, n);
    rn_create_partitions_response_result_t *results =
        rn_arena_try_alloc_array(&req->arena, rn_create_partitions_response_result_t, n);
    if (n > 0 && (names == NULL || kind == NULL || results == NULL)) {
        job->oom = true;
        return;
    }
    for (int32_t i = 0; i < n; i++)
        names[i] = j->body.topics.items[i].name;
    if (!rn_admin_classify_keys(&req->arena, names, n, kind)) {
        job->oom = true;
        return;
    }
    int32_t count = 0;
    for (int32_t i = 0; i < n; i++) {
        if (kind[i] == RN_ADMIN_KEY_REPEAT)
            continue;
        const rn_create_partitions_request_topic_t *t = &j->body.topics.items[i];
        rn_create_partitions_response_result_t *res = &results[count++];
        rn_create_partitions_response_result_init(res);
        res->name = t->name;
        if (kind[i] == RN_ADMIN_KEY_FIRST_OF_MANY) {
            res->error_code = RN_KERR_INVALID_REQUEST;
            res->error_message = rn_admin_message(req, "Duplicate topic name.");
            continue;
        }
        rn_str_t why = { NULL, 0 };
        rn_kerr_t code = precheck_partitions(req, t, &why);
        if (code != RN_KERR_NONE) {
            res->error_code = code;
            res->error_message = why;
            continue;
        }
        rn_topics_result_t r =
            rn_topics_add_partitions(req->broker->topics, t->name, t->count, j->body.validate_only);
        res->error_code = r.error_code;
        res->error_message = result_message(req, &r);
    }
    rn_create_partitions_response_init(&j->resp);
    j->resp.results.items = results;
    j->resp.results.count = count;
    job->resp = &j->resp;
}

void rn_handle_create_partitions(rn_request_t *req)
{
    create_partitions_job_t *j = rn_job_new(req, sizeof *j, run_create_partitions);
    if (j != NULL && rn_decode_body(req, &j->body))
        rn_job_start(&j->job);
}

/* ---- DeleteRecords ---- */

typedef struct delete_records_job {
    rn_job_t job;
    rn_delete_records_request_t body;
    rn_delete_records_response_t resp;
} delete_records_job_t;

/* Kafka's Partition.deleteRecordsOnLeader: -1 means the high watermark; a negative offset or one
 * past the high watermark is OFFSET_OUT_OF_RANGE; an internal topic is INVALID_TOPIC_EXCEPTION;
 * a topic whose cleanup.policy lacks `delete`
 * refuses with POLICY_VIOLATION; an offset at or below the log start changes nothing. The low
 * watermark answered is the log start offset afterwards, or -1 on error. */
static void delete_partition_records(rn_topic_t *topic, bool delete_enabled,
                                     const rn_delete_records_request_partition_t *p,
                                     rn_delete_records_response_partition_result_t *res)
{
    res->partition_index = p->partition_index;
    res->low_watermark = -1;
    rn_partition_t *part = topic != NULL ? rn_topic_partition(topic, p->partition_index) : NULL;
    if (part == NULL) {
        res->error_code = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    /* Kafka's ReplicaManager.deleteRecordsOnLocalLog refuses every client here, before looking
     * at the offset (asked of Kafka 4.4, also for client id __admin_client). */
    if (topic->internal) {
        res->error_code = RN_KERR_INVALID_TOPIC_EXCEPTION;
        return;
    }
    int64_t offset = p->offset == -1 ? rn_log_high_watermark(part->log) : p->offset;
    if (offset < 0) {
        res->error_code = RN_KERR_OFFSET_OUT_OF_RANGE;
        return;
    }
    if (!delete_enabled) {
        res->error_code = RN_KERR_POLICY_VIOLATION;
        return;
    }
    if (offset > rn_log_start_offset(part->log)) {
        int rc = rn_log_delete_records(part->log, offset);
        if (rc == RN_LOG_OFFSET_OUT_OF_RANGE) {
            res->error_code = RN_KERR_OFFSET_OUT_OF_RANGE;
            return;
        }
        if (rc < 0) {
            rn_log(RN_LOG_ERROR, "handlers", "DeleteRecords on %s-%d up to offset %lld failed: %s",
                   topic->name, p->partition_index, (long long)offset, strerror(-rc));
            res->error_code = RN_KERR_KAFKA_STORAGE_ERROR;
            return;
        }
    }
    res->low_watermark = rn_log_start_offset(part->log);
}

/* One partition named in a DeleteRecords request. */
typedef struct delete_ref {
    rn_str_t name;
    int32_t partition_index;
    int64_t offset;
    int32_t seq;   /* position among all the request's partitions */
    int32_t group; /* the name's entry in the answer, once known */
} delete_ref_t;

static int compare_refs(const void *a, const void *b)
{
    const delete_ref_t *x = a, *y = b;
    size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
    int c = n > 0 ? memcmp(x->name.ptr, y->name.ptr, n) : 0;
    if (c == 0)
        c = (x->name.len > y->name.len) - (x->name.len < y->name.len);
    if (c == 0)
        c = (x->partition_index > y->partition_index) - (x->partition_index < y->partition_index);
    return c != 0 ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int compare_seqs(const void *a, const void *b)
{
    const delete_ref_t *x = a, *y = b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static bool same_name(rn_str_t a, rn_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Kafka's ReplicaManager.deleteRecords works on a map from topic-partition to offset: a
 * partition named twice (or under a topic named twice) is answered once, with the offset given
 * last, and a topic named without partitions not at all. The answer keeps the order in which
 * each topic and partition first appears (Kafka's own order is its hash map's). `refs` holds
 * the request's n partitions in request order; afterwards its first *nparts entries are the
 * partitions to answer, in the answer's order, each with `group` set to its topic's number
 * (0 to *ngroups - 1, one per distinct name). */
static void merge_deletes(delete_ref_t *refs, int32_t n, int32_t *nparts, int32_t *ngroups)
{
    qsort(refs, (size_t)n, sizeof *refs, compare_refs);
    int32_t kept = 0, groups = 0;
    for (int32_t i = 0; i < n; i++) {
        bool same_topic = kept > 0 && same_name(refs[kept - 1].name, refs[i].name);
        if (same_topic && refs[kept - 1].partition_index == refs[i].partition_index) {
            refs[kept - 1].offset = refs[i].offset; /* the later copy's offset, the first's place */
            continue;
        }
        refs[i].group = same_topic ? refs[kept - 1].group : groups++;
        refs[kept++] = refs[i];
    }
    qsort(refs, (size_t)kept, sizeof *refs, compare_seqs);
    *nparts = kept;
    *ngroups = groups;
}

static void run_delete_records(rn_job_t *job)
{
    delete_records_job_t *j = (delete_records_job_t *)job;
    rn_request_t *req = job->req;
    int32_t n = j->body.topics.count > 0 ? j->body.topics.count : 0;
    int64_t total = 0;
    for (int32_t i = 0; i < n; i++)
        total += j->body.topics.items[i].partitions.count > 0
                     ? j->body.topics.items[i].partitions.count
                     : 0;
    if (total > INT32_MAX)
        goto oom;
    delete_ref_t *refs = rn_arena_try_alloc_array(&req->arena, delete_ref_t, (int32_t)total);
    if (total > 0 && refs == NULL)
        goto oom;
    int32_t nrefs = 0;
    for (int32_t i = 0; i < n; i++) {
        const rn_delete_records_request_topic_t *t = &j->body.topics.items[i];
        for (int32_t k = 0; k < t->partitions.count; k++, nrefs++)
            refs[nrefs] = (delete_ref_t){ .name = t->name,
                                          .partition_index = t->partitions.items[k].partition_index,
                                          .offset = t->partitions.items[k].offset,
                                          .seq = nrefs };
    }
    int32_t nparts = 0, ngroups = 0;
    merge_deletes(refs, nrefs, &nparts, &ngroups);

    /* The answer's topics in order of first appearance (group numbers follow name order). */
    int32_t *slot = rn_arena_try_alloc_array(&req->arena, int32_t, ngroups);
    int32_t *count = rn_arena_try_alloc_array(&req->arena, int32_t, ngroups);
    rn_delete_records_response_topic_result_t *results =
        rn_arena_try_alloc_array(&req->arena, rn_delete_records_response_topic_result_t, ngroups);
    if (ngroups > 0 && (slot == NULL || count == NULL || results == NULL))
        goto oom;
    for (int32_t g = 0; g < ngroups; g++)
        slot[g] = -1;
    int32_t nresults = 0;
    for (int32_t i = 0; i < nparts; i++) {
        int32_t g = refs[i].group;
        if (slot[g] < 0) {
            slot[g] = nresults++;
            count[slot[g]] = 0;
            rn_delete_records_response_topic_result_init(&results[slot[g]]);
            results[slot[g]].name = refs[i].name;
        }
        count[slot[g]]++;
    }
    for (int32_t t = 0; t < nresults; t++) {
        results[t].partitions.items =
            rn_arena_try_alloc_array(&req->arena, rn_delete_records_response_partition_result_t,
                                     count[t]);
        if (results[t].partitions.items == NULL)
            goto oom;
    }
    /* Each topic is looked up once, when its first partition comes; references are dropped at
     * the end. */
    rn_topic_t **topic_of = rn_arena_try_alloc_array(&req->arena, rn_topic_t *, nresults);
    uint8_t *state = rn_arena_try_alloc_array(&req->arena, uint8_t, nresults);
    if (nresults > 0 && (topic_of == NULL || state == NULL))
        goto oom;
    enum { NOT_LOOKED_UP = 0, DELETE_DISABLED = 1, DELETE_ENABLED = 2 };
    for (int32_t t = 0; t < nresults; t++)
        state[t] = NOT_LOOKED_UP;
    for (int32_t i = 0; i < nparts; i++) {
        int32_t t = slot[refs[i].group];
        rn_delete_records_response_topic_result_t *res = &results[t];
        if (state[t] == NOT_LOOKED_UP) {
            topic_of[t] = rn_topics_get(req->broker->topics, res->name);
            state[t] = DELETE_DISABLED;
            if (topic_of[t] != NULL) {
                rn_topic_config_t cfg;
                rn_topic_get_config(req->broker->topics, topic_of[t], &cfg);
                state[t] = cfg.log.delete_enabled ? DELETE_ENABLED : DELETE_DISABLED;
            }
        }
        rn_delete_records_response_partition_result_t *part =
            &res->partitions.items[res->partitions.count++];
        rn_delete_records_response_partition_result_init(part);
        rn_delete_records_request_partition_t p;
        rn_delete_records_request_partition_init(&p);
        p.partition_index = refs[i].partition_index;
        p.offset = refs[i].offset;
        delete_partition_records(topic_of[t], state[t] == DELETE_ENABLED, &p, part);
    }
    for (int32_t t = 0; t < nresults; t++)
        rn_topic_unref(topic_of[t]);
    rn_delete_records_response_init(&j->resp);
    j->resp.topics.items = results;
    j->resp.topics.count = nresults;
    job->resp = &j->resp;
    return;
oom:
    job->oom = true;
}

void rn_handle_delete_records(rn_request_t *req)
{
    delete_records_job_t *j = rn_job_new(req, sizeof *j, run_delete_records);
    if (j != NULL && rn_decode_body(req, &j->body))
        rn_job_start(&j->job);
}
