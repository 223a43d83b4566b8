/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/topics: the registry's layout, the topic index, the on-disk formats and the
 * topic config table. Nothing outside this room includes it (unit tests of the room do).
 *
 * Locks, outermost first; none is held while calling a callback, and only admin_lock is held
 * across disk I/O (only admin operations ever wait for it):
 *   admin_lock       serializes every change (create, delete, alter, add partitions, close) and
 *                    the topic file, so a change is decided, written and published as one step;
 *   lock (rwlock)    guards the index and each topic's config and overrides; lookups take it
 *                    for reading for a hash probe, publishing takes it for writing;
 *   pending_lock     guards the list of deleted topics that are still referenced;
 *   checkpoint_lock  serializes checkpoint writes (maintenance, delete and close);
 *   a partition's watch_lock guards its watchers. */
#ifndef RN_TOPICS_INTERNAL_H
#define RN_TOPICS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "topics/topics.h"
#include "util/hmap.h"

#define RN_TOPICS_FILE "runnel-topics"
#define RN_TOPICS_FILE_MAGIC "runnel-topics"
#define RN_TOPICS_FILE_VERSION 1
#define RN_RECOVERY_POINT_CHECKPOINT "recovery-point-offset-checkpoint"
#define RN_LOG_START_CHECKPOINT "log-start-offset-checkpoint"
#define RN_CLEAN_SHUTDOWN_FILE ".kafka_cleanshutdown"

#define RN_TOPIC_NAME_MAX 249                /* Kafka's Topic.MAX_NAME_LENGTH */
#define RN_TOPICS_MAX_PARTITIONS 10000       /* per topic: each partition holds files open */
#define RN_TOPICS_FILE_MAX_BYTES (64u << 20) /* topic file or checkpoint we agree to read */
#define RN_CHECKPOINT_INTERVAL_MS 60000      /* Kafka's log.flush.offset.checkpoint.interval.ms */

/* ---- names.c: topic names, topic ids, text escapes ---- */

/* The name with '.' replaced by '_': two topics whose names collide so would share metric
 * names in Kafka, which refuses the second (Topic.hasCollision). Writes at most 249 bytes + NUL. */
void rn_topic_name_collision_key(rn_str_t name, char out[RN_TOPIC_NAME_MAX + 1]);
/* A new topic id: 16 bytes from getrandom with the version-4 and variant bits set, never
 * zero, never Kafka's reserved METADATA_TOPIC_ID, never one whose text starts with '-'
 * (Kafka's Uuid.randomUuid rules). Returns 0 or a negative errno. */
int rn_topic_id_make(rn_uuid_t *id);
bool rn_uuid_is_zero(const rn_uuid_t *id);
/* Kafka's Uuid.toString: URL-safe base64 without padding, 22 characters plus a NUL. */
void rn_uuid_format(const rn_uuid_t *id, char out[23]);
/* Parses what rn_uuid_format writes (exactly 22 characters of the URL-safe alphabet, with the
 * last character's unused low bits zero). Returns true on success. */
bool rn_uuid_parse(const char *s, size_t len, rn_uuid_t *out);

/* A growable text buffer for files we write. Aborts on allocation failure: its size follows
 * what the registry already holds in memory. */
typedef struct rn_text {
    char *ptr;
    size_t len, cap;
} rn_text_t;
void rn_text_append(rn_text_t *t, const char *s, size_t len);
void rn_text_printf(rn_text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends `s` with every byte outside printable ASCII, and ' ', '%' and '=', written as %XX. */
void rn_text_escape(rn_text_t *t, const char *s);
void rn_text_free(rn_text_t *t);
/* Decodes %XX escapes of s[0..len) into a new NUL-terminated string. NULL when the text holds a
 * bad escape, a byte that should have been escaped, or a NUL; or when out of memory. */
char *rn_unescape(const char *s, size_t len);

/* ---- map.c: the index of live topics by name and by id ---- */

typedef struct rn_topic_index {
    rn_hmap_t by_name, by_id; /* one node per topic in each (map.c) */
    size_t count;
} rn_topic_index_t;

void rn_topic_index_init(rn_topic_index_t *index);
/* Frees the index's nodes, not the topics. */
void rn_topic_index_deinit(rn_topic_index_t *index);
rn_topic_t *rn_topic_index_find(const rn_topic_index_t *index, rn_str_t name);
rn_topic_t *rn_topic_index_find_id(const rn_topic_index_t *index, const rn_uuid_t *id);
/* Adds a topic whose name and id are not in the index yet. */
void rn_topic_index_insert(rn_topic_index_t *index, rn_topic_t *topic);
void rn_topic_index_remove(rn_topic_index_t *index, rn_topic_t *topic);
/* Calls fn for every topic, in no particular order; fn must not change the index. */
void rn_topic_index_each(const rn_topic_index_t *index, void (*fn)(rn_topic_t *topic, void *arg),
                         void *arg);

/* ---- persist.c: files in the log directory ---- */

/* Reads `dir/name` whole (at most RN_TOPICS_FILE_MAX_BYTES) into a new NUL-terminated buffer.
 * Returns 0, -ENOENT when absent, -EFBIG when larger, or another negative errno. */
int rn_persist_read(const char *dir, const char *name, char **out, size_t *len);

/* One line of the topic file: `name id partitions internal key=value...`. */
typedef struct rn_topic_line {
    char *name;
    rn_uuid_t id;
    int32_t npartitions;
    bool internal;
    rn_topic_override_t *overrides;
    size_t noverrides;
} rn_topic_line_t;

/* The topic file: a first line `runnel-topics 1`, then one line per topic (name, base64url id,
 * partition count, internal 0/1, then escaped key=value overrides), each ending in "\n". */
void rn_topics_file_encode(const rn_topic_line_t *lines, size_t n, rn_text_t *out);
/* Parses a topic file, checking every field (legal names, ids, counts, known keys with valid
 * values, no duplicate names or ids). Returns 0 with owned lines, or RN_EINVAL with "line N:
 * reason" in `why`. */
int rn_topics_file_decode(const char *text, size_t len, rn_topic_line_t **out, size_t *n, char *why,
                          size_t whylen);
void rn_topic_lines_free(rn_topic_line_t *lines, size_t n);

/* One entry of a Kafka offset checkpoint file. */
typedef struct rn_checkpoint_entry {
    char *topic;
    int32_t partition;
    int64_t offset;
} rn_checkpoint_entry_t;

/* Kafka's OffsetCheckpointFile format, byte for byte: "0\n" (version), the entry count and
 * "\n", then "topic partition offset\n" per entry, in the order given. */
void rn_checkpoint_encode(const rn_checkpoint_entry_t *entries, size_t n, rn_text_t *out);
/* Parses a checkpoint file; on success the entries are sorted by topic and partition for
 * rn_checkpoint_find. Returns 0 or RN_EINVAL with the reason in `why`. */
int rn_checkpoint_decode(const char *text, size_t len, rn_checkpoint_entry_t **out, size_t *n,
                         char *why, size_t whylen);
/* The offset for (topic, partition) in sorted entries, or `missing`. */
int64_t rn_checkpoint_find(const rn_checkpoint_entry_t *entries, size_t n, const char *topic,
                           int32_t partition, int64_t missing);
void rn_checkpoint_entries_free(rn_checkpoint_entry_t *entries, size_t n);
/* Sorts entries by topic, then partition (the order we write them in). */
void rn_checkpoint_sort(rn_checkpoint_entry_t *entries, size_t n);

/* The clean-shutdown marker (Kafka's `.kafka_cleanshutdown`): written empty and fsynced, the
 * directory fsynced; removal is made durable the same way. Return 0 or a negative errno
 * (removing an absent marker is 0). */
int rn_clean_marker_write(const char *dir);
bool rn_clean_marker_exists(const char *dir);
int rn_clean_marker_remove(const char *dir);

/* Partition directories of the log dir: `<topic>-<partition>` (and Kafka's
 * `<topic>-<partition>.<id>-delete`). Calls `keep` for each; those it refuses are removed with
 * everything in them. `*found` counts the partition-shaped directories seen. Returns 0 or a
 * negative errno. */
int rn_persist_sweep_partition_dirs(const char *dir,
                                    bool (*keep)(const char *topic, int32_t partition, void *arg),
                                    void *arg, size_t *found);
/* Removes `path` and everything below it. Returns 0 or a negative errno. */
int rn_persist_remove_tree(const char *path);

/* ---- topic_config.c: the topic config keys ---- */

/* A list of overrides owned by its holder (key and value strings malloc'd). */
void rn_overrides_free(rn_topic_override_t *ov, size_t n);
/* A deep copy; aborts on allocation failure (sizes follow what is already held). */
rn_topic_override_t *rn_overrides_dup(const rn_topic_override_t *ov, size_t n);
const char *rn_overrides_get(const rn_topic_override_t *ov, size_t n, const char *key);

/* Checks one topic config: known key (INVALID_CONFIG "Unknown topic config name: KEY") and a
 * valid value (Kafka's ConfigException message). `value` NULL is refused as Kafka refuses it.
 * Returns 0 or RN_KERR_INVALID_CONFIG with the message in `res`. */
rn_kerr_t rn_topic_config_check(const char *key, const char *value, rn_topics_result_t *res);
/* Keys earlier Runnel releases accepted and Kafka 4 removed (message.downconversion.enable,
 * message.timestamp.difference.max.ms, KIP-724 and KIP-937): refused now as unknown, as Kafka 4.4
 * refuses them, but a topic file that still holds one loads without it. */
bool rn_topic_config_removed(const char *key);
/* Checks a whole set: each entry, then rules across keys (remote.storage.enable=true needs
 * tiered storage, which this broker does not have; min.compaction.lag.ms <=
 * max.compaction.lag.ms, against the broker defaults where one is not overridden). */
rn_kerr_t rn_topic_config_check_set(const rn_config_t *cfg, const rn_topic_override_t *ov, size_t n,
                                    rn_topics_result_t *res);
/* A new override list from CreateTopics or AlterConfigs entries: values trimmed as Kafka trims
 * them, a key given twice keeps its last value; with `skip_null`, a NULL value drops the key
 * (AlterConfigs) instead of being refused (CreateTopics). Everything is checked. */
rn_kerr_t rn_topic_config_from_entries(const rn_config_t *cfg, const rn_topic_override_t *set,
                                       size_t n, bool skip_null, rn_topic_override_t **out,
                                       size_t *nout, rn_topics_result_t *res);
/* IncrementalAlterConfigs on a copy of `cur`: SET, DELETE, APPEND and SUBTRACT (LIST keys
 * only), each key at most once per request (INVALID_REQUEST otherwise). */
rn_kerr_t rn_topic_config_apply_ops(const rn_config_t *cfg, const rn_topic_override_t *cur,
                                    size_t ncur, const rn_config_op_t *ops, size_t nops,
                                    rn_topic_override_t **out, size_t *nout,
                                    rn_topics_result_t *res);
/* The effective typed config: broker defaults (from `cfg`) under the (valid) overrides. */
void rn_topic_config_compute(const rn_config_t *cfg, const rn_topic_override_t *ov, size_t n,
                             rn_topic_config_t *out);
/* DescribeConfigs entries for a topic with these overrides; see rn_topic_config_entries. */
size_t rn_topic_config_describe(const rn_config_t *cfg, const rn_topic_override_t *ov, size_t n,
                                rn_config_entry_t **out);

/* ---- registry.c ---- */

/* A topic as the registry allocates it; `pub` is what topics.h shows. */
typedef struct rn_topic_impl rn_topic_impl_t;
struct rn_topic_impl {
    rn_topic_t pub;
    rn_topics_t *registry;     /* NULL once detached by a close that found it still referenced */
    int32_t capacity;          /* slots in pub.partitions */
    rn_partition_t ***retired; /* replaced partition arrays, freed with the topic */
    size_t nretired;
    rn_topic_impl_t *pending_prev, *pending_next; /* registry->pending while deleted */
};

struct rn_topics {
    const rn_config_t *cfg; /* the broker's; outlives the registry */
    char *log_dir;
    pthread_mutex_t admin_lock;
    pthread_rwlock_t lock;
    rn_topic_index_t index;
    pthread_mutex_t pending_lock;
    rn_topic_impl_t *pending; /* deleted, still referenced: directories not removed yet */
    pthread_mutex_t checkpoint_lock;
    int64_t last_checkpoint_ms; /* guarded by checkpoint_lock */
};

/* `dir/<name>-<index>`, malloc'd. */
char *rn_partition_dir(const rn_topics_t *topics, const char *name, int32_t index);
/* A topic not yet published, holding the index's reference (refs 1), its config computed from
 * `ov`. Takes ownership of `ov`. */
rn_topic_impl_t *rn_topic_new(rn_topics_t *topics, const char *name, const rn_uuid_t *id,
                              bool internal, rn_topic_override_t *ov, size_t nov);
/* Opens partition `index` of `t` (its log with t's config). Returns 0 or a negative errno,
 * logged. */
int rn_partition_open(rn_topics_t *topics, rn_topic_impl_t *t, int32_t index,
                      int64_t recovery_point, int64_t log_start, bool clean, rn_partition_t **out);
/* Deletes the logs of partitions opened for a change that failed, and frees them. */
void rn_partitions_discard(rn_partition_t **parts, int32_t n);
/* Makes partitions [from, to) of `t` visible (parts[0] is partition `from`); caller holds the
 * write lock or `t` is not published yet. */
void rn_partitions_publish(rn_topic_impl_t *t, rn_partition_t **parts, int32_t from, int32_t to);
/* Rewrites the topic file from the index, leaving `skip` out and putting `change` in (replacing
 * the line of its name, or added). Caller holds admin_lock. Returns 0 or a negative errno,
 * logged. */
int rn_topics_write_file(rn_topics_t *topics, const rn_topic_t *skip,
                         const rn_topic_line_t *change);

/* Offsets gathered for the two checkpoint files; topic names borrowed. */
typedef struct rn_checkpoint_offsets {
    rn_checkpoint_entry_t *recovery, *start;
    size_t n, cap;
} rn_checkpoint_offsets_t;
void rn_checkpoint_offsets_add(rn_checkpoint_offsets_t *o, char *topic, int32_t partition,
                               int64_t recovery_point, int64_t log_start);
void rn_checkpoint_offsets_free(rn_checkpoint_offsets_t *o);
/* Writes both checkpoint files from `o` (sorting it); caller holds checkpoint_lock. Returns 0
 * or a negative errno, logged. */
int rn_topics_write_checkpoint_files(rn_topics_t *topics, rn_checkpoint_offsets_t *o);
/* Writes both checkpoint files from the live topics (checkpoint_lock taken inside). */
int rn_topics_write_checkpoints(rn_topics_t *topics);

/* ---- The topic config keys (topic_keys.c, used by topic_config.c) ---- */

typedef struct synonym {
    const char *name; /* a broker key (config.c's table) */
    int64_t unit;     /* its value times this is the topic's (ms per minute or hour), else 1 */
} synonym_t;

typedef struct topic_key topic_key_t;
struct topic_key {
    const char *name;
    int8_t type;                /* RN_CONFIG_TYPE_* */
    const char *kafka_default;  /* when the broker config was not built (tests, embedders) */
    synonym_t synonyms[3];      /* most precedent first; the last one carries the broker default */
    int64_t min, max;           /* INT and LONG */
    double dmin, dmax;          /* DOUBLE */
    const char *const *choices; /* STRING: NULL-terminated, compared exactly as Kafka does */
    bool minus_one_floor;       /* a negative broker value means -1 (retention.ms) */
    /* A check after the type's (or, for a LIST, instead of cleanup.policy's): Kafka's own
     * validator for the key. NULL: none. */
    rn_kerr_t (*check)(const topic_key_t *k, const char *value, rn_topics_result_t *res);
    const char *doc;
};

extern const topic_key_t rn_topic_keys[];
extern const size_t rn_topic_nkeys;
/* The key named `name`, or NULL. */
const topic_key_t *rn_topic_key_find(const char *name);
/* Kafka's validators that the table names (topic_config.c). */
rn_kerr_t rn_topic_check_gzip_level(const topic_key_t *k, const char *value,
                                    rn_topics_result_t *res);
rn_kerr_t rn_topic_check_throttled_replicas(const topic_key_t *k, const char *value,
                                            rn_topics_result_t *res);

#endif
