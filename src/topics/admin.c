/* SPDX-License-Identifier: Apache-2.0 */
/* The changes admin requests make: CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs
 * and IncrementalAlterConfigs.
 *
 * Each one runs under admin_lock in one order: check, do the disk work (open new logs, write the
 * topic file atomically), then publish under the write lock for a few instructions. A failure
 * before publishing undoes the disk work, so the topic file and what lookups see never disagree,
 * and a crash at any point leaves the old state or the new one. Error codes and messages are
 * Kafka's (KRaft's ReplicationControlManager), so clients print what they would print for Kafka.
 *
 * One deliberate difference guards the internal topics (issue 14): Kafka 4.4 lets any client
 * delete __consumer_offsets or __transaction_state, add partitions to them, give them a
 * cleanup.policy that is not compact, or create them itself before the broker does (asked of
 * the oracle: the conformance scenarios on internal topics). Each throws away or hides what every
 * group and transaction committed, so Runnel refuses them unless
 * runnel.internal.topics.allow.destructive.changes. */
#include "topics/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "util/err.h"
#include "util/logging.h"
#include "util/xmalloc.h"

static rn_topics_result_t result(rn_kerr_t code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static rn_topics_result_t result(rn_kerr_t code, const char *fmt, ...)
{
    rn_topics_result_t res = { .error_code = code };
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res.message, sizeof res.message, fmt, ap);
    va_end(ap);
    return res;
}

/* KAFKA_STORAGE_ERROR for partitions that could not be opened. Out of descriptors, the message
 * (and a WARN, since the operator must act) names the limit and how to raise it: every
 * partition holds the descriptor of its active .log. */
static rn_topics_result_t partitions_failed(const char *what, const char *topic, int err)
{
    if (err != -EMFILE && err != -ENFILE)
        return result(RN_KERR_KAFKA_STORAGE_ERROR, "Cannot %s of topic '%s': %s", what, topic,
                      strerror(-err));
    struct rlimit rl = { 0 };
    (void)getrlimit(RLIMIT_NOFILE, &rl);
    const char *which =
        err == -EMFILE ? "the broker's descriptor limit" : "the system's file table";
    rn_log(RN_LOG_WARN, "topics",
           "cannot %s of topic '%s': out of file descriptors (%s; RLIMIT_NOFILE %llu): each "
           "partition holds one; raise the limit (ulimit -n, systemd LimitNOFILE=, "
           "fs.file-max) or use fewer partitions",
           what, topic, which, (unsigned long long)rl.rlim_cur);
    return result(RN_KERR_KAFKA_STORAGE_ERROR,
                  "Cannot %s of topic '%s': out of file descriptors (%s, RLIMIT_NOFILE %llu); "
                  "raise it with ulimit -n",
                  what, topic, which, (unsigned long long)rl.rlim_cur);
}

static rn_topics_result_t ok(void)
{
    return (rn_topics_result_t){ 0 };
}

/* The key named in every refusal below. */
#define ALLOW_KEY "runnel.internal.topics.allow.destructive.changes"

/* Whether a change that can destroy an internal topic's state is refused for a topic that is
 * (or would be) `internal`. The refusal is POLICY_VIOLATION: the code Kafka answers when a
 * broker-side policy refuses an admin change, which clients show together with the message. */
static bool guarded(const rn_topics_t *topics, bool internal)
{
    return internal && !topics->cfg->internal_topics_allow_destructive_changes;
}

/* An internal topic's records are the committed state: only compaction may remove them, and
 * retention (cleanup.policy delete, alone or beside compact) must not. Sets *res and returns
 * false when overrides `ov` would give `topic` another policy. */
static bool keeps_state(rn_topics_t *topics, const rn_topic_t *topic, const rn_topic_override_t *ov,
                        size_t nov, rn_topics_result_t *res)
{
    if (!guarded(topics, topic->internal))
        return true;
    rn_topic_config_t config;
    rn_topic_config_compute(topics->cfg, ov, nov, &config);
    if (strcmp(config.cleanup_policy, "compact") == 0)
        return true;
    *res =
        result(RN_KERR_POLICY_VIOLATION,
               "Topic '%s' is internal: its cleanup.policy must stay compact (it would be '%s'), "
               "or retention deletes committed state. Set " ALLOW_KEY "=true to allow it.",
               topic->name, config.cleanup_policy);
    return false;
}

static rn_topic_impl_t *impl_of(rn_topic_t *topic)
{
    return rn_container_of(topic, rn_topic_impl_t, pub);
}

/* Names in messages: legal names are printable; others are never echoed. */
static int name_len(rn_str_t name)
{
    return name.len > 100 ? 100 : (int)name.len;
}

static bool pending_has(rn_topics_t *topics, rn_str_t name)
{
    bool found = false;
    pthread_mutex_lock(&topics->pending_lock);
    for (rn_topic_impl_t *t = topics->pending; t != NULL && !found; t = t->pending_next)
        found = rn_str_eq_cstr(name, t->pub.name);
    pthread_mutex_unlock(&topics->pending_lock);
    return found;
}

typedef struct collision {
    char key[RN_TOPIC_NAME_MAX + 1];
    const char *with;
} collision_t;

static void find_collision(rn_topic_t *topic, void *arg)
{
    collision_t *c = arg;
    char key[RN_TOPIC_NAME_MAX + 1];
    rn_topic_name_collision_key(rn_str_from_cstr(topic->name), key);
    if (c->with == NULL && strcmp(key, c->key) == 0)
        c->with = topic->name;
}

/* A partition directory that exists although no topic owns it: left by a delete whose removal
 * failed. It is not ours to reuse, and a new topic must start empty. */
static int clear_stale_dirs(rn_topics_t *topics, const char *name, int32_t from, int32_t to)
{
    for (int32_t i = from; i < to; i++) {
        char *dir = rn_partition_dir(topics, name, i);
        struct stat st;
        int err = 0;
        if (lstat(dir, &st) == 0) {
            rn_log(RN_LOG_WARN, "topics",
                   "removing stale directory %s before creating its partition", dir);
            err = rn_persist_remove_tree(dir);
        }
        free(dir);
        if (err != 0)
            return err;
    }
    return 0;
}

/* Opens partitions [from, to) of `t` into parts[0..to-from). On failure, those opened are
 * deleted. */
static int open_new_partitions(rn_topics_t *topics, rn_topic_impl_t *t, int32_t from, int32_t to,
                               rn_partition_t **parts)
{
    int err = clear_stale_dirs(topics, t->pub.name, from, to);
    for (int32_t i = from; i < to && err == 0; i++)
        /* A new log is empty: there is nothing to recover. */
        err = rn_partition_open(topics, t, i, 0, -1, true, &parts[i - from]);
    if (err != 0)
        rn_partitions_discard(parts, to - from);
    return err;
}

rn_topics_result_t rn_topics_create(rn_topics_t *topics, const rn_topic_spec_t *spec,
                                    bool validate_only, rn_topic_t **out_topic)
{
    const rn_config_t *cfg = topics->cfg;
    rn_topics_result_t res = ok();
    char why[160];
    if (out_topic != NULL)
        *out_topic = NULL;
    if (!rn_topic_name_valid(spec->name, why, sizeof why))
        return result(RN_KERR_INVALID_TOPIC_EXCEPTION, "%s", why);
    int n = name_len(spec->name);
    int32_t npartitions = spec->num_partitions == -1 ? cfg->num_partitions : spec->num_partitions;
    if (npartitions <= 0)
        return result(RN_KERR_INVALID_PARTITIONS,
                      "Number of partitions was set to an invalid non-positive value.");
    /* Kafka 4.4's controller refuses more than 10,000 partitions in one request with this
     * error and message (for every topic of the request; here for the topic that has them). */
    if (npartitions > RN_TOPICS_MAX_PARTITIONS)
        return result(RN_KERR_POLICY_VIOLATION,
                      "Excessively large number of partitions per request.");
    int32_t rf =
        spec->replication_factor == -1 ? cfg->default_replication_factor : spec->replication_factor;
    if (rf <= 0)
        return result(RN_KERR_INVALID_REPLICATION_FACTOR,
                      "Replication factor must be larger than 0, or -1 to use the default value.");
    if (rf > 1 && !cfg->accept_replication_factor)
        return result(RN_KERR_INVALID_REPLICATION_FACTOR,
                      "Unable to replicate the partition %d time(s): The target replication factor "
                      "of %d cannot be "
                      "reached because only 1 broker(s) are registered.",
                      rf, rf);
    rn_topic_override_t *ov = NULL;
    size_t nov = 0;
    if (rn_topic_config_from_entries(cfg, spec->configs, spec->nconfigs, false, &ov, &nov, &res) !=
        0)
        return res;

    pthread_mutex_lock(&topics->admin_lock);
    collision_t c = { .with = NULL };
    rn_topic_name_collision_key(spec->name, c.key);
    /* The index changes only under admin_lock, which we hold: reading it needs no other lock. */
    if (rn_topic_index_find(&topics->index, spec->name) != NULL) {
        res =
            result(RN_KERR_TOPIC_ALREADY_EXISTS, "Topic '%.*s' already exists.", n, spec->name.ptr);
        goto out_unlock;
    }
    if (pending_has(topics, spec->name)) {
        res = result(RN_KERR_TOPIC_ALREADY_EXISTS, "Topic '%.*s' is marked for deletion.", n,
                     spec->name.ptr);
        goto out_unlock;
    }
    rn_topic_index_each(&topics->index, find_collision, &c);
    if (c.with != NULL) {
        res = result(RN_KERR_INVALID_TOPIC_EXCEPTION,
                     "Topic '%.*s' collides with existing topic: %.*s", n, spec->name.ptr, 100,
                     c.with);
        goto out_unlock;
    }
    /* The broker creates its internal topics (spec->internal) with the configs and partition
     * count its coordinators need; a client's CreateTopics would choose them instead. */
    if (!spec->internal && guarded(topics, rn_topic_name_internal(spec->name))) {
        res = result(RN_KERR_POLICY_VIOLATION,
                     "Topic '%.*s' is internal: the broker creates it, with the configs it needs, "
                     "at the first FindCoordinator. Set " ALLOW_KEY "=true to create it yourself.",
                     n, spec->name.ptr);
        goto out_unlock;
    }
    if (validate_only)
        goto out_unlock;

    rn_uuid_t id;
    int err;
    do {
        if ((err = rn_topic_id_make(&id)) != 0) {
            res =
                result(RN_KERR_UNKNOWN_SERVER_ERROR, "Cannot make a topic id: %s", strerror(-err));
            goto out_unlock;
        }
    } while (rn_topic_index_find_id(&topics->index, &id) != NULL);
    char *name = rn_xmalloc(spec->name.len + 1);
    memcpy(name, spec->name.ptr, spec->name.len);
    name[spec->name.len] = '\0';
    rn_topic_impl_t *t = rn_topic_new(topics, name, &id, spec->internal, ov, nov);
    ov = NULL; /* the topic owns them now */
    free(name);
    rn_partition_t **parts = rn_xcalloc((size_t)npartitions, sizeof *parts);
    if ((err = open_new_partitions(topics, t, 0, npartitions, parts)) != 0) {
        res = partitions_failed("create the partitions", t->pub.name, err);
        goto out_free_topic;
    }
    rn_partitions_publish(t, parts, 0, npartitions); /* not visible yet: no lock needed */
    rn_topic_line_t line = {
        .name = t->pub.name,
        .id = id,
        .npartitions = npartitions,
        .internal = t->pub.internal,
        .overrides = t->pub.overrides,
        .noverrides = t->pub.noverrides,
    };
    if ((err = rn_topics_write_file(topics, NULL, &line)) != 0) {
        res =
            result(RN_KERR_KAFKA_STORAGE_ERROR, "Cannot write the topic file: %s", strerror(-err));
        atomic_store_explicit(&t->pub.deleted, true,
                              memory_order_release); /* the last unref deletes the logs */
        goto out_free_topic;
    }
    free(parts);
    parts = NULL;
    if (rf > 1)
        rn_log(RN_LOG_WARN, "topics",
               "topic %s: replication factor %d accepted (runnel.accept.replication.factor), but "
               "this one node keeps "
               "one replica",
               t->pub.name, rf);
    char idtext[23];
    rn_uuid_format(&id, idtext);
    rn_log(RN_LOG_INFO, "topics", "created topic %s (id %s, %d partitions)", t->pub.name, idtext,
           npartitions);
    pthread_rwlock_wrlock(&topics->lock);
    rn_topic_index_insert(&topics->index, &t->pub);
    pthread_rwlock_unlock(&topics->lock);
    if (out_topic != NULL) {
        rn_topic_ref(&t->pub);
        *out_topic = &t->pub;
    }
    goto out_unlock;

out_free_topic:
    /* Either open_new_partitions discarded the partitions, or they are published in a topic
     * marked deleted, whose last unref deletes their logs. */
    free(parts);
    rn_topic_unref(&t->pub);
out_unlock:
    pthread_mutex_unlock(&topics->admin_lock);
    rn_overrides_free(ov, nov);
    return res;
}

rn_topics_result_t rn_topics_create_dry_run(rn_topics_t *topics, const rn_topic_spec_t *spec,
                                            rn_uuid_t *id, rn_config_entry_t **entries,
                                            size_t *nentries)
{
    *entries = NULL;
    *nentries = 0;
    rn_topics_result_t res = rn_topics_create(topics, spec, true, NULL);
    if (res.error_code != RN_KERR_NONE)
        return res;
    int err = rn_topic_id_make(id);
    if (err != 0)
        return result(RN_KERR_UNKNOWN_SERVER_ERROR, "Cannot make a topic id: %s", strerror(-err));
    rn_topic_override_t *ov = NULL;
    size_t nov = 0;
    /* The same overrides rn_topics_create accepted a moment ago: trimmed, the last of a key. */
    if (rn_topic_config_from_entries(topics->cfg, spec->configs, spec->nconfigs, false, &ov, &nov,
                                     &res) != 0)
        return res;
    *nentries = rn_topic_config_describe(topics->cfg, ov, nov, entries);
    rn_overrides_free(ov, nov);
    return res;
}

rn_topics_result_t rn_topics_delete(rn_topics_t *topics, rn_str_t name)
{
    if (!topics->cfg->delete_topic_enable)
        return result(RN_KERR_TOPIC_DELETION_DISABLED, "Topic deletion is disabled.");
    pthread_mutex_lock(&topics->admin_lock);
    rn_topic_t *topic = rn_topic_index_find(&topics->index, name);
    if (topic == NULL) {
        pthread_mutex_unlock(&topics->admin_lock);
        return result(RN_KERR_UNKNOWN_TOPIC_OR_PARTITION,
                      "This server does not host this topic-partition.");
    }
    if (guarded(topics, topic->internal)) {
        pthread_mutex_unlock(&topics->admin_lock);
        return result(RN_KERR_POLICY_VIOLATION,
                      "Topic '%s' is internal: deleting it would throw away the committed state "
                      "of every %s. Set " ALLOW_KEY "=true to allow it.",
                      topic->name,
                      strcmp(topic->name, "__transaction_state") == 0 ? "transaction" : "group");
    }
    int err = rn_topics_write_file(topics, topic, NULL);
    if (err != 0) {
        pthread_mutex_unlock(&topics->admin_lock);
        return result(RN_KERR_KAFKA_STORAGE_ERROR, "Cannot write the topic file: %s",
                      strerror(-err));
    }
    rn_topic_impl_t *t = impl_of(topic);
    /* On the pending list before it leaves the index, so its name is never free while its
     * directories exist. */
    pthread_mutex_lock(&topics->pending_lock);
    t->pending_prev = NULL;
    t->pending_next = topics->pending;
    if (topics->pending != NULL)
        topics->pending->pending_prev = t;
    topics->pending = t;
    pthread_mutex_unlock(&topics->pending_lock);
    pthread_rwlock_wrlock(&topics->lock);
    rn_topic_index_remove(&topics->index, topic);
    atomic_store_explicit(&topic->deleted, true, memory_order_release);
    pthread_rwlock_unlock(&topics->lock);
    char idtext[23];
    rn_uuid_format(&topic->id, idtext);
    rn_log(RN_LOG_INFO, "topics", "deleted topic %s (id %s)", topic->name, idtext);
    /* Stale offsets of this name must not reach a later topic of the same name after a crash. */
    rn_topics_write_checkpoints(topics);
    pthread_mutex_unlock(&topics->admin_lock);

    /* Parked fetches wake up, see `deleted` and drop their references. */
    int32_t n = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
    for (int32_t i = 0; i < n; i++)
        rn_partition_notify(rn_topic_partition(topic, i));
    rn_topic_unref(topic); /* the index's reference */
    return ok();
}

rn_topics_result_t rn_topics_add_partitions(rn_topics_t *topics, rn_str_t name, int32_t count,
                                            bool validate_only)
{
    rn_topics_result_t res = ok();
    pthread_mutex_lock(&topics->admin_lock);
    rn_topic_t *topic = rn_topic_index_find(&topics->index, name);
    if (topic == NULL) {
        res.error_code = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION; /* Kafka 4.4 gives no message */
        goto out_unlock;
    }
    int32_t cur = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
    if (count == cur) {
        res = result(RN_KERR_INVALID_PARTITIONS, "Topic already has %d partition(s).", cur);
        goto out_unlock;
    }
    if (count < cur) {
        res = result(RN_KERR_INVALID_PARTITIONS,
                     "The topic %s currently has %d partition(s); %d would not be an increase.",
                     topic->name, cur, count);
        goto out_unlock;
    }
    if (count > RN_TOPICS_MAX_PARTITIONS) {
        res = result(RN_KERR_INVALID_PARTITIONS,
                     "Number of partitions %d is above Runnel's limit of %d per topic.", count,
                     RN_TOPICS_MAX_PARTITIONS);
        goto out_unlock;
    }
    /* A group's or transactional id's partition is its hash modulo the partition count:
     * more partitions move them away from the state they committed. */
    if (guarded(topics, topic->internal)) {
        res = result(RN_KERR_POLICY_VIOLATION,
                     "Topic '%s' is internal: more partitions would move groups and transactional "
                     "ids away from the state they committed. Set " ALLOW_KEY "=true to allow it.",
                     topic->name);
        goto out_unlock;
    }
    if (validate_only)
        goto out_unlock;
    rn_topic_impl_t *t = impl_of(topic);
    rn_partition_t **parts = rn_xcalloc((size_t)(count - cur), sizeof *parts);
    int err = open_new_partitions(topics, t, cur, count, parts);
    if (err == 0) {
        rn_topic_line_t line = {
            .name = topic->name,
            .id = topic->id,
            .npartitions = count,
            .internal = topic->internal,
            .overrides = topic->overrides,
            .noverrides = topic->noverrides,
        };
        if ((err = rn_topics_write_file(topics, NULL, &line)) != 0)
            rn_partitions_discard(parts, count - cur);
    }
    if (err != 0) {
        res = partitions_failed("add partitions", topic->name, err);
        free(parts);
        goto out_unlock;
    }
    pthread_rwlock_wrlock(&topics->lock);
    rn_partitions_publish(t, parts, cur, count);
    pthread_rwlock_unlock(&topics->lock);
    free(parts);
    rn_log(RN_LOG_INFO, "topics", "topic %s: partitions %d -> %d", topic->name, cur, count);
out_unlock:
    pthread_mutex_unlock(&topics->admin_lock);
    return res;
}

/* Persists and publishes `ov` (taken) as the overrides of `topic`. Caller holds admin_lock. */
static rn_topics_result_t replace_overrides(rn_topics_t *topics, rn_topic_t *topic,
                                            rn_topic_override_t *ov, size_t nov)
{
    rn_topic_line_t line = {
        .name = topic->name,
        .id = topic->id,
        .npartitions = atomic_load(&topic->npartitions),
        .internal = topic->internal,
        .overrides = ov,
        .noverrides = nov,
    };
    int err = rn_topics_write_file(topics, NULL, &line);
    if (err != 0) {
        rn_overrides_free(ov, nov);
        return result(RN_KERR_KAFKA_STORAGE_ERROR, "Cannot write the topic file: %s",
                      strerror(-err));
    }
    rn_topic_config_t config;
    rn_topic_config_compute(topics->cfg, ov, nov, &config);
    pthread_rwlock_wrlock(&topics->lock);
    rn_topic_override_t *old = topic->overrides;
    size_t nold = topic->noverrides;
    topic->overrides = ov;
    topic->noverrides = nov;
    topic->config = config;
    pthread_rwlock_unlock(&topics->lock);
    rn_overrides_free(old, nold);
    int32_t n = atomic_load_explicit(&topic->npartitions, memory_order_acquire);
    for (int32_t i = 0; i < n; i++)
        rn_log_set_config(rn_topic_partition(topic, i)->log, &config.log);
    rn_log(RN_LOG_INFO, "topics", "topic %s: configs altered (%zu overrides)", topic->name, nov);
    return ok();
}

rn_topics_result_t rn_topics_alter_configs(rn_topics_t *topics, rn_str_t name,
                                           const rn_topic_override_t *set, size_t n,
                                           bool validate_only)
{
    rn_topics_result_t res = ok();
    rn_topic_override_t *ov = NULL;
    size_t nov = 0;
    if (rn_topic_config_from_entries(topics->cfg, set, n, true, &ov, &nov, &res) != 0)
        return res;
    pthread_mutex_lock(&topics->admin_lock);
    rn_topic_t *topic = rn_topic_index_find(&topics->index, name);
    if (topic == NULL)
        res = result(RN_KERR_UNKNOWN_TOPIC_OR_PARTITION, "The topic '%.*s' does not exist.",
                     name_len(name), name.ptr);
    if (topic == NULL || !keeps_state(topics, topic, ov, nov, &res) || validate_only) {
        rn_overrides_free(ov, nov);
    } else {
        res = replace_overrides(topics, topic, ov, nov);
    }
    pthread_mutex_unlock(&topics->admin_lock);
    return res;
}

rn_topics_result_t rn_topics_incremental_alter_configs(rn_topics_t *topics, rn_str_t name,
                                                       const rn_config_op_t *ops, size_t n,
                                                       bool validate_only)
{
    rn_topics_result_t res = ok();
    pthread_mutex_lock(&topics->admin_lock);
    rn_topic_t *topic = rn_topic_index_find(&topics->index, name);
    rn_topic_override_t *ov = NULL;
    size_t nov = 0;
    if (topic == NULL) {
        res = result(RN_KERR_UNKNOWN_TOPIC_OR_PARTITION, "The topic '%.*s' does not exist.",
                     name_len(name), name.ptr);
    } else if (rn_topic_config_apply_ops(topics->cfg, topic->overrides, topic->noverrides, ops, n,
                                         &ov, &nov, &res) == 0) {
        /* Overrides change only under admin_lock, which we hold: reading them needs no lock. */
        if (!keeps_state(topics, topic, ov, nov, &res) || validate_only)
            rn_overrides_free(ov, nov);
        else
            res = replace_overrides(topics, topic, ov, nov);
    }
    pthread_mutex_unlock(&topics->admin_lock);
    return res;
}
