/* SPDX-License-Identifier: Apache-2.0 */
/* The topics room: the registry of topics and their partitions, each partition's log, topic
 * configs (Kafka's names, defaults from the broker's log.* keys), and their persistence in the
 * log directory: a topic file written atomically (temp file, fsync, rename, fsync dir), and
 * Kafka's recovery-point-offset-checkpoint and log-start-offset-checkpoint files plus a
 * clean-shutdown marker.
 *
 * Threads: every function is safe from any thread. Lookups take a read lock for a hash probe and
 * return a counted reference. Changes (create, delete, alter, add partitions) are serialized
 * among themselves and do their disk work (opening logs, writing the topic file) without
 * blocking lookups, which wait at most for the few instructions that publish a change. A topic
 * object never changes its name, id or partition objects; CreatePartitions only appends
 * partitions (readers see `npartitions` grow atomically).
 *
 * Lifetime: a reference keeps the topic, its partitions and their logs usable. DeleteTopics
 * removes the topic from lookups and from the topic file at once; its logs are closed and their
 * directories removed when the last reference is dropped (at once when nobody holds one), so an
 * append or fetch that holds a reference never meets a freed log. Until then the name stays
 * taken: CreateTopics answers TOPIC_ALREADY_EXISTS "marked for deletion", as Kafka does while a
 * deletion is in progress. Changing the registry never runs on a loop for long: the caller's
 * thread does the disk work, so admin handlers should run it off the event loops. */
#ifndef RN_TOPICS_TOPICS_H
#define RN_TOPICS_TOPICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/log.h"
#include "proto/errors.h"
#include "util/bytes.h"

/* The broker configuration (config/config.h); only pointers to it pass through here. */
typedef struct rn_config rn_config_t;

typedef struct rn_topics rn_topics_t;
typedef struct rn_topic rn_topic_t;
typedef struct rn_partition rn_partition_t;
typedef struct rn_config_entry rn_config_entry_t; /* DescribeConfigs entries, below */

/* Someone waiting for appends to a partition (a parked Fetch). wake() is called after each
 * append (rn_partition_notify) and when the topic is deleted, from that thread, with the
 * partition's watch lock held: it must only set atomics and call uv_async_send, and must not
 * call rn_partition_watch/unwatch. A watcher is on at most one partition's list at a time;
 * zero-initialize it (prev = next = NULL) before its first rn_partition_watch. */
typedef struct rn_watch rn_watch_t;
struct rn_watch {
    void (*wake)(rn_watch_t *w);
    rn_watch_t *prev, *next; /* the partition's list; owned by the partition while watching */
};

struct rn_partition {
    rn_topic_t *topic; /* not a counted reference: the topic outlives its partitions */
    int32_t index;
    rn_log_t *log;              /* never NULL while the registry is open */
    pthread_mutex_t watch_lock; /* guards `watchers` */
    rn_watch_t *watchers;
};

/* Effective config of one topic: overrides over broker defaults. */
typedef struct rn_topic_config {
    rn_log_config_t log;
    bool log_append_time;        /* message.timestamp.type=LogAppendTime */
    int32_t max_message_bytes;   /* max.message.bytes / message.max.bytes, default 1048588 */
    int32_t min_insync_replicas; /* min.insync.replicas, default 1 */
    /* KIP-937, CreateTime topics only: Produce refuses a record whose timestamp is more than
     * this far behind / ahead of the broker's clock (rn_records_timestamp_bounds). */
    int64_t timestamp_before_max_ms; /* message.timestamp.before.max.ms, default INT64_MAX */
    int64_t timestamp_after_max_ms;  /* message.timestamp.after.max.ms, default 3600000 */
    char cleanup_policy[32]; /* canonical: "delete", "compact", "compact,delete" or "" (neither) */
} rn_topic_config_t;

/* One key=value override as the user set it (kept for DescribeConfigs and persistence). */
typedef struct rn_topic_override {
    char *key;
    char *value;
} rn_topic_override_t;

struct rn_topic {
    _Atomic int refs;
    char *name;
    rn_uuid_t id;                /* random (v4), made once at creation, persisted, never reused */
    bool internal;               /* __consumer_offsets, __transaction_state, or created internal */
    _Atomic int32_t npartitions; /* partitions[0..npartitions) are valid */
    rn_partition_t **_Atomic partitions; /* capacity grows by replacing the array; old arrays are
                                    kept until the topic is freed, so a reader never sees freed
                                    memory; use rn_topic_partition() */
    rn_topic_config_t config; /* read under the registry lock, or copy with rn_topic_get_config */
    rn_topic_override_t *overrides; /* read under the registry lock (rn_topic_config_entries) */
    size_t noverrides;
    _Atomic bool deleted; /* removed from the registry; files removed at the last unref */
};

/* Opens the registry in `cfg->log_dir` (made if missing): reads the topic file, removes the
 * directories of partitions it does not list (left by a delete that a crash interrupted), opens
 * every partition's log with the recovery point and log start offset of the checkpoints
 * (recovery unless the clean-shutdown marker is there), rewrites the checkpoints, and removes the
 * marker, so a crash from now on means recovery at the next start. Logs one line saying whether
 * recovery runs. Refuses to start (RN_EINVAL) on a damaged topic file, or on partition
 * directories without any topic file. `cfg` must outlive the registry. Returns 0 or a negative
 * errno, with a log line. */
int rn_topics_open(const rn_config_t *cfg, rn_topics_t **out);
/* Syncs and closes every log, writes the checkpoints, then the clean-shutdown marker (only if
 * everything before succeeded). Call it after the network and the maintenance thread have
 * stopped and every topic reference has been dropped. rn_topics_close(NULL) does nothing. */
void rn_topics_close(rn_topics_t *topics);

/* Lookups return a counted reference (drop it with rn_topic_unref), or NULL; deleted topics are
 * not found. rn_topic_ref(NULL) and rn_topic_unref(NULL) do nothing. */
rn_topic_t *rn_topics_get(rn_topics_t *topics, rn_str_t name);
rn_topic_t *rn_topics_get_by_id(rn_topics_t *topics, rn_uuid_t id);
void rn_topic_ref(rn_topic_t *topic);
void rn_topic_unref(rn_topic_t *topic);
/* The partition, or NULL when out of range. Valid while the caller holds its topic reference. */
rn_partition_t *rn_topic_partition(rn_topic_t *topic, int32_t index);
void rn_topic_get_config(rn_topics_t *topics, rn_topic_t *topic, rn_topic_config_t *out);

/* Kafka's Topic.validate: 1-249 bytes of [a-zA-Z0-9._-], not "." or "..". Returns true, or
 * false with Kafka's message in `why`. */
bool rn_topic_name_valid(rn_str_t name, char *why, size_t whylen);
/* Whether `name` is one of the broker's internal topics, __consumer_offsets or
 * __transaction_state (Kafka's Topic.isInternal, less share groups' topic, which Runnel lacks). */
bool rn_topic_name_internal(rn_str_t name);

/* Every topic (internal ones too), each with a reference, sorted by name; free with
 * rn_topics_list_free. */
size_t rn_topics_list(rn_topics_t *topics, rn_topic_t ***out);
void rn_topics_list_free(rn_topic_t **list, size_t n);

/* Kafka error codes these return (0 on success), with a message for the response. */
typedef struct rn_topics_result {
    rn_kerr_t error_code;
    char message[320]; /* Kafka's longest (throttled replicas) is about 250 bytes */
} rn_topics_result_t;

/* CreateTopics. Checks the name (Kafka's rules: 1-249 chars of [a-zA-Z0-9._-], not "." or "..";
 * a name equal to an existing one once '.' and '_' are confused: INVALID_TOPIC_EXCEPTION 17),
 * TOPIC_ALREADY_EXISTS (36; also while a deleted topic of that name is still being removed),
 * partitions (-1: num.partitions; 0 or below, or above Runnel's 10000 per topic:
 * INVALID_PARTITIONS 37), replication factor (-1: default.replication.factor; 0 or below, or
 * above 1 unless runnel.accept.replication.factor, which logs a warning instead:
 * INVALID_REPLICATION_FACTOR 38), configs (unknown key, null or bad value: INVALID_CONFIG 40;
 * values are trimmed, a key given twice keeps its last value). `validate_only` checks everything
 * without creating. `internal` (and the names __consumer_offsets and __transaction_state) marks
 * the topic internal; a client's request (`internal` false) for one of those names gets
 * POLICY_VIOLATION (44) unless runnel.internal.topics.allow.destructive.changes, since the broker
 * creates them with the configs its coordinators need. On success the partitions exist, the topic
 * file has been rewritten atomically, and *out_topic (if not NULL) holds a reference to the new
 * topic. A disk failure is KAFKA_STORAGE_ERROR (56), with nothing created. */
typedef struct rn_topic_spec {
    rn_str_t name;
    int32_t num_partitions;
    int16_t replication_factor;
    const rn_topic_override_t *configs;
    size_t nconfigs;
    bool internal;
} rn_topic_spec_t;
rn_topics_result_t rn_topics_create(rn_topics_t *topics, const rn_topic_spec_t *spec,
                                    bool validate_only, rn_topic_t **out_topic);
/* CreateTopics with validate_only, as Kafka 4.4 answers it from v5: rn_topics_create's checks,
 * nothing created, and on success the configs the topic would have in *entries (as
 * rn_topic_config_entries lists them; free with rn_config_entries_free, also on error, when
 * there are none) and in *id a fresh random id that nothing keeps: Kafka makes up a new one for
 * every such request. */
rn_topics_result_t rn_topics_create_dry_run(rn_topics_t *topics, const rn_topic_spec_t *spec,
                                            rn_uuid_t *id, rn_config_entry_t **entries,
                                            size_t *nentries);
/* DeleteTopics: removes the topic from the registry, the topic file and the checkpoints, wakes
 * its partitions' watchers (a woken fetch sees `deleted`), then deletes its logs and their
 * directories at the last reference (see Lifetime); fetches holding file ranges stay safe.
 * UNKNOWN_TOPIC_OR_PARTITION (3); TOPIC_DELETION_DISABLED (73) when delete.topic.enable=false;
 * KAFKA_STORAGE_ERROR (56) when the topic file cannot be written (nothing changed then).
 * An internal topic gets POLICY_VIOLATION (44) unless runnel.internal.topics.allow.destructive.
 * changes (then its coordinator keeps the deleted topic until the broker restarts). */
rn_topics_result_t rn_topics_delete(rn_topics_t *topics, rn_str_t name);
/* The control plane's reset: deletes every topic that is not internal as DeleteTopics would
 * (whatever delete.topic.enable says), with one rewrite of the topic file, and empties the
 * internal topics (their log start offset moves to their end). Blocking: off the loops. Returns 0
 * or the first negative errno (the topics are gone from lookups all the same). */
typedef struct rn_topics_reset_stats {
    size_t topics_deleted, partitions_deleted, internal_emptied;
} rn_topics_reset_stats_t;
int rn_topics_reset(rn_topics_t *topics, rn_topics_reset_stats_t *stats);
/* CreatePartitions: grows to `count` partitions (INVALID_PARTITIONS when not larger, or above
 * 10000; UNKNOWN_TOPIC_OR_PARTITION without a message, as Kafka 4.4 answers it). The new logs exist
 * and the topic file is rewritten before the new count is published. Growing an internal topic
 * gets POLICY_VIOLATION (44) unless runnel.internal.topics.allow.destructive.changes. */
rn_topics_result_t rn_topics_add_partitions(rn_topics_t *topics, rn_str_t name, int32_t count,
                                            bool validate_only);
/* AlterConfigs replaces all overrides with `set` (a NULL value leaves its key unset);
 * IncrementalAlterConfigs applies `op`s (0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT; APPEND and
 * SUBTRACT only on LIST keys such as cleanup.policy, starting from the value in effect) to the
 * current overrides. INVALID_CONFIG (40) for unknown keys or bad values, INVALID_REQUEST (42) for
 * a key given twice or an unknown op, UNKNOWN_TOPIC_OR_PARTITION (3). Deleting an override that
 * is not set does nothing, as in Kafka. A change (validate_only too) that would leave an internal
 * topic with a cleanup.policy other than compact gets POLICY_VIOLATION (44) unless
 * runnel.internal.topics.allow.destructive.changes. Persisted before returning; the logs get the
 * new settings (rn_log_set_config). */
rn_topics_result_t rn_topics_alter_configs(rn_topics_t *topics, rn_str_t name,
                                           const rn_topic_override_t *set, size_t n,
                                           bool validate_only);
typedef struct rn_config_op {
    const char *key;
    const char *value; /* NULL for DELETE */
    int8_t op;
} rn_config_op_t;
rn_topics_result_t rn_topics_incremental_alter_configs(rn_topics_t *topics, rn_str_t name,
                                                       const rn_config_op_t *ops, size_t n,
                                                       bool validate_only);

/* DescribeConfigs support: the topic config keys Runnel knows, sorted by name. For each: the
 * topic's value, whether it is an override (source TOPIC_CONFIG 1) or comes from the broker's
 * static config (STATIC_BROKER_CONFIG 4) or Kafka's default (DEFAULT_CONFIG 5), its type
 * (Kafka's ConfigType, RN_CONFIG_TYPE_* in config.h) and a doc line that says when a key is
 * accepted and reported but not in effect yet. The synonym is the first broker key the topic key
 * falls back to (log.retention.ms for retention.ms, as Kafka 4.4 names it, although the value
 * may come from log.retention.hours), with its value (NULL when it has none) and source (4 or
 * 5), which is also the source of a value that is not an override; it is filled for overrides
 * too, so a handler can list [TOPIC_CONFIG override, broker synonym] when asked for synonyms.
 * read_only is false for topic keys. Strings are allocated with malloc into `out` and freed by
 * rn_config_entries_free. */
struct rn_config_entry {
    char *name;
    char *value; /* NULL for a sensitive or unset value */
    bool read_only;
    bool is_default;
    int8_t source;
    int8_t type;
    char *synonym_name; /* the broker key behind a default, or NULL */
    char *synonym_value;
    int8_t synonym_source;
    char *doc; /* says "Not in effect" for a key accepted but not used yet */
};
size_t rn_topic_config_entries(rn_topics_t *topics, rn_topic_t *topic, rn_config_entry_t **out);
/* DescribeConfigs for the broker resource: every key of the broker's table (rn_config_key_at
 * order) but the unlisted older names, with its value in effect, source STATIC_BROKER_CONFIG (4)
 * when the configuration set it, else DEFAULT_CONFIG (5) (is_default then), read_only true (Runnel
 * has no dynamic broker configs), its type and doc (a key the broker accepts but does not use yet
 * starts "Not in effect yet:"); no synonym. Free with rn_config_entries_free. */
size_t rn_topics_broker_config_entries(rn_topics_t *topics, rn_config_entry_t **out);
void rn_config_entries_free(rn_config_entry_t *entries, size_t n);

/* Partition watchers for long polls. unwatch is safe for a watcher that is not watching (it
 * was never added, or already removed); after it returns, wake() is not running and will not
 * be called for `w`. */
void rn_partition_watch(rn_partition_t *part, rn_watch_t *w);
void rn_partition_unwatch(rn_partition_t *part, rn_watch_t *w);
/* Wakes every watcher: the appending handler calls it after rn_log_append returns. */
void rn_partition_notify(rn_partition_t *part);

/* Forgets, in every partition, producers idle for producer.id.expiration.ms (Kafka's
 * removeExpiredProducers, every producer.id.expiration.check.interval.ms). Off the loops. */
void rn_topics_expire_producers(rn_topics_t *topics, int64_t now_ms, int64_t expiration_ms);

/* Housekeeping, called by the broker's maintenance thread every second: rn_log_maintain on
 * every partition (flush.ms, segment.ms), retention when `retention_due` (every
 * log.retention.check.interval.ms), and the checkpoint files every 60 s as Kafka writes them.
 * Blocking (disk work): never call it on an event loop. */
void rn_topics_maintain(rn_topics_t *topics, int64_t now_ms, bool retention_due);

/* ---- The log cleaner (cleaner.c): compaction of the cleanup.policy=compact topics ---- */
typedef struct rn_cleaner rn_cleaner_t;
/* Reads cleaner-offset-checkpoint and starts log.cleaner.threads threads (none, and *out NULL,
 * when log.cleaner.enable is false). `topics` and `cfg` must outlive it. Returns 0. */
int rn_cleaner_start(rn_topics_t *topics, const rn_config_t *cfg, rn_cleaner_t **out);
/* Stops the threads, abandoning rounds in progress (their output is removed). Call it before
 * rn_topics_close. NULL does nothing. */
void rn_cleaner_stop(rn_cleaner_t *cl);
/* Cleans every partition of `topic` now (POST /topics/NAME/compact): rolls each active segment
 * and runs rounds until nothing is dirty, whatever min.cleanable.dirty.ratio and
 * min.compaction.lag.ms say, waiting for a round a cleaner thread is running on the same log.
 * *sum adds up the rounds' stats. 0, -ENOTSUP without a cleaner (log.cleaner.enable=false) or a
 * negative errno. Blocking: not on an event loop. */
int rn_cleaner_compact_now(rn_cleaner_t *cl, rn_topic_t *topic, rn_log_clean_stats_t *sum);

#endif
