/* SPDX-License-Identifier: Apache-2.0 */
/* Broker configuration: Java-properties text in, typed values out. Key names and defaults are
 * Kafka's (conf/runnel.properties documents each). Validation happens once, in rn_config_build,
 * so a bad value stops the broker before anything is bound or written. */
#ifndef RN_CONFIG_CONFIG_H
#define RN_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runnel/runnel.h"
#include "util/logging.h"

/* One key=value pair. Both strings are owned by the runnel_config_t. */
typedef struct rn_prop {
    char *key;
    char *value;
} rn_prop_t;

/* The public runnel_config_t: one entry per key, in the order keys were first set; setting a
 * key again replaces its value, so the last one set wins. */
struct runnel_config {
    rn_prop_t *props;
    size_t count, cap;
};

/* Parses Java-properties text (java.util.Properties.load rules: `key=value`, `key: value` or
 * `key value`; `#` and `!` comment lines; leading whitespace dropped; a line ending in an odd
 * number of backslashes continues on the next one, whose leading whitespace is dropped; escapes
 * \t \n \r \f \uXXXX, and a backslash before any other character keeps that character, e.g.
 * `\=` in a key) and sets each pair into `config`, so a later line wins. Unlike Java, bytes are
 * taken as they are (write UTF-8, not Latin-1), and an empty key, a NUL byte, \u0000 or an
 * unpaired surrogate is an error. `text` need not be NUL-terminated. Returns 0, RN_ENOMEM, or
 * RN_ECONFIG with "line N: ..." in `err`; pairs before the bad line have been set. */
int rn_props_parse(runnel_config_t *config, const char *text, size_t len, char *err, size_t errlen);
/* The value of `key` (last one set), or NULL. Borrowed from `config`: valid until the key is set
 * again or `config` is freed. */
const char *rn_props_get(const runnel_config_t *config, const char *key);

/* Kafka's ConfigType, as DescribeConfigs v3+ reports it. */
enum {
    RN_CONFIG_TYPE_UNKNOWN = 0,
    RN_CONFIG_TYPE_BOOLEAN = 1,
    RN_CONFIG_TYPE_STRING = 2,
    RN_CONFIG_TYPE_INT = 3,
    RN_CONFIG_TYPE_SHORT = 4,
    RN_CONFIG_TYPE_LONG = 5,
    RN_CONFIG_TYPE_DOUBLE = 6,
    RN_CONFIG_TYPE_LIST = 7,
    RN_CONFIG_TYPE_CLASS = 8,
    RN_CONFIG_TYPE_PASSWORD = 9,
};

/* A key the broker accepts, for documentation and DescribeConfigs. */
typedef struct rn_config_key {
    const char *name;
    const char *default_value; /* as a properties value; NULL: none, or computed (`doc` says how) */
    const char *doc;           /* one line */
    bool in_effect;            /* false: accepted and checked but not used yet: setting it logs a
                                  warning, and DescribeConfigs' doc says "Not in effect yet" */
    int8_t type;               /* RN_CONFIG_TYPE_*, Kafka's type for the key */
    bool unlisted;             /* an older Runnel name of another key (DescribeConfigs lists its
                                  value under that key only), or one of Kafka's internal keys,
                                  which its DescribeConfigs does not list */
} rn_config_key_t;

/* The i-th known key in table order, or NULL past the end. Static storage. */
const rn_config_key_t *rn_config_key_at(size_t i);
/* The known key called `name`, or NULL. */
const rn_config_key_t *rn_config_key_find(const char *name);

/* The broker's log.* defaults, typed (Kafka's precedence: log.retention.ms over
 * log.retention.minutes over log.retention.hours, and log.roll.ms over log.roll.hours; a negative
 * retention means -1, unlimited). Topics derive their settings from the same keys, with their
 * synonyms (topics/topic_config.c). The fields are rn_log_config_t's (log/log.h), in the same
 * order: a topic without overrides runs with exactly these values. */
typedef struct rn_config_log_defaults {
    int64_t segment_bytes;         /* log.segment.bytes */
    int64_t segment_ms;            /* log.roll.ms, log.roll.hours */
    int64_t retention_ms;          /* log.retention.ms, .minutes, .hours */
    int64_t retention_bytes;       /* log.retention.bytes */
    int64_t flush_messages;        /* log.flush.interval.messages */
    int64_t flush_ms;              /* log.flush.interval.ms, log.flush.scheduler.interval.ms */
    int32_t index_interval_bytes;  /* log.index.interval.bytes, index.interval.bytes */
    int32_t max_index_bytes;       /* log.index.size.max.bytes */
    bool delete_enabled;           /* log.cleanup.policy contains "delete" */
    bool compact;                  /* log.cleanup.policy contains "compact" */
    double min_cleanable_ratio;    /* log.cleaner.min.cleanable.ratio, 0..1; default 0.5 */
    int64_t min_compaction_lag_ms; /* log.cleaner.min.compaction.lag.ms, >= 0; default 0 */
    int64_t max_compaction_lag_ms; /* log.cleaner.max.compaction.lag.ms, >= 1; default INT64_MAX */
    int64_t delete_retention_ms;   /* log.cleaner.delete.retention.ms, >= 0; default 86400000 */
} rn_config_log_defaults_t;

/* One entry of max.connections.per.ip.overrides: a host as written (an IPv4 or IPv6 literal or
 * a hostname, resolved when the listener starts; "" means loopback, as Java reads it) and the
 * most connections allowed from it (any int32: 0 or less refuses every connection). */
typedef struct rn_config_ip_override {
    char *host; /* owned */
    int32_t max;
} rn_config_ip_override_t;

typedef struct rn_config {
    char *listener_host;              /* listeners: "" (all interfaces), an IPv4 or IPv6 literal
                                       * without brackets; "localhost" arrives as "127.0.0.1" */
    int listener_port;                /* 0..65535; 0: ephemeral */
    char *advertised_host;            /* advertised.listeners, never NULL after a build: derived
                                       * from the listener (a wildcard becomes loopback) */
    int advertised_port;              /* 1..65535, or -1: the bound port */
    char *control_host;               /* runnel.control.listener: an IP literal; NULL: off */
    int control_port;                 /* 0..65535 (0: ephemeral), or -1: off */
    int32_t node_id;                  /* node.id or broker.id; default 1 */
    char *cluster_id;                 /* cluster.id; NULL: read or made in the data dir */
    char *log_dir;                    /* first of log.dirs (or log.dir); default "./data" */
    int num_network_threads;          /* 1..256; default: number of online CPUs (at most 256) */
    int64_t socket_request_max_bytes; /* 1..2^31-1; default 104857600 */
    int64_t connections_max_idle_ms;  /* default 600000; 0: never close idle connections */
    int32_t max_connections;          /* >= 0; default INT32_MAX */
    int32_t max_connections_per_ip;   /* >= 0 (0 only with overrides); default INT32_MAX */
    rn_config_ip_override_t *ip_overrides; /* max.connections.per.ip.overrides, one per host */
    size_t n_ip_overrides;
    int32_t log_open_files_max;       /* runnel.log.open.files.max; 0: automatic */
    int64_t queued_max_request_bytes; /* <= 0 or >= socket.request.max.bytes; default -1 */
    bool auto_create_topics_enable;   /* default true */
    int32_t num_partitions;           /* >= 1; default 1 */
    rn_log_level_t log_level;         /* log.level; default info */

    rn_config_log_defaults_t log_defaults;
    int64_t log_retention_check_interval_ms; /* >= 1; default 300000 */
    int64_t producer_id_expiration_ms;       /* >= 1; default 86400000 */
    /* >= 1; default 600000. Kafka's internal key: DescribeConfigs does not list it. */
    int64_t producer_id_expiration_check_interval_ms;
    int32_t message_max_bytes; /* message.max.bytes, >= 0; default 1048588 */
    bool log_append_time;      /* log.message.timestamp.type=LogAppendTime; default CreateTime */
    /* log.cleanup.policy, canonical (rn_config_parse_cleanup_policy) */
    char log_cleanup_policy[16];
    int32_t min_insync_replicas;        /* >= 1; default 1 */
    int16_t default_replication_factor; /* 1..32767; default 1 (used for replication factor -1) */
    bool delete_topic_enable; /* default true; false: DeleteTopics gets TOPIC_DELETION_DISABLED */
    bool accept_replication_factor; /* runnel.accept.replication.factor; default false */
    /* runnel.internal.topics.allow.destructive.changes; default false: DeleteTopics,
     * CreatePartitions, a cleanup.policy other than compact and client-made internal topics are
     * refused with POLICY_VIOLATION, and Produce to an internal topic with
     * INVALID_TOPIC_EXCEPTION whatever the client id. true: as Kafka 4.4 (topics/admin.c). */
    bool internal_topics_allow_destructive_changes;

    /* The log cleaner (src/log/cleaner*.c), Kafka 4.4's CleanerConfig keys. */
    bool log_cleaner_enable;                    /* log.cleaner.enable; default true */
    int32_t log_cleaner_threads;                /* log.cleaner.threads, >= 1; default 1 */
    int64_t log_cleaner_dedupe_buffer_size;     /* log.cleaner.dedupe.buffer.size: for all threads,
                                                   more than 1 MiB per thread; default 134217728 */
    int32_t log_cleaner_io_buffer_size;         /* log.cleaner.io.buffer.size, >= 0, for all
                                                   threads; default 524288 */
    double log_cleaner_io_buffer_load_factor;   /* log.cleaner.io.buffer.load.factor, (0, 1];
                                                   default 0.9 */
    int64_t log_cleaner_backoff_ms;             /* log.cleaner.backoff.ms, >= 0; default 15000 */
    double log_cleaner_io_max_bytes_per_second; /* log.cleaner.io.max.bytes.per.second, > 0, for
                                                   all threads; default DBL_MAX (no limit) */

    /* Consumer groups (src/coord/groups.h). */
    int32_t group_initial_rebalance_delay_ms; /* >= 0; default 3000 (Kafka's) */
    int32_t group_min_session_timeout_ms;     /* >= 0; default 6000 */
    int32_t group_max_session_timeout_ms;     /* >= 0; default 1800000 */

    /* Committed offsets (src/coord/offsets.h). */
    int32_t offsets_topic_num_partitions; /* 1..10000; default 50; used when __consumer_offsets is
                                             created */
    int32_t offsets_topic_segment_bytes;  /* >= 14; default 104857600; segment.bytes of
                                             __consumer_offsets when it is created */
    int32_t offsets_retention_minutes;    /* >= 1; default 10080 (7 days) */
    int32_t offset_metadata_max_bytes;    /* 0..32767 (the record's INT16 length); default 4096 */

    /* Transactions (src/coord/txn.h). */
    int32_t transaction_state_log_num_partitions;    /* 1..10000; default 50; used when
                                                        __transaction_state is created */
    int32_t transaction_state_log_segment_bytes;     /* >= 14; default 104857600; segment.bytes
                                                        of __transaction_state when created */
    int32_t transaction_max_timeout_ms;              /* >= 1; default 900000 */
    int32_t transactional_id_expiration_ms;          /* >= 1; default 604800000 (7 days) */
    int32_t transaction_abort_timed_out_interval_ms; /* >= 1; default 10000 */
    int32_t transaction_remove_expired_interval_ms;  /* >= 1; default 3600000 */
    bool transaction_partition_verification_enable;  /* default true */

    /* Per key of the table (rn_config_key_at order): the value in effect as text and whether
     * the configuration set it. Read through rn_config_value and rn_config_is_set. */
    char **values;
    bool *set;
} rn_config_t;

/* Checks every known key of `props` and fills `out` with typed values and defaults. Values are
 * trimmed first, as Kafka does. On success, unknown keys are logged as warnings naming the key
 * (unless `log.level` is error). Returns 0, RN_ENOMEM, or RN_ECONFIG with a one-line message
 * `invalid value for KEY: 'VALUE' (reason)` in `err`; on failure `out` holds nothing to free
 * and nothing has been logged. Does not set the process log level: the caller does. */
int rn_config_build(const runnel_config_t *props, rn_config_t *out, char *err, size_t errlen);
/* Frees the strings of a built config and zeroes it; safe on a zeroed or deinited config. */
void rn_config_deinit(rn_config_t *config);

/* The value in effect for the known key `name`, as text: the value set (trimmed), else the
 * key's static default; NULL for an unknown key, a key unset without a static default
 * (log.retention.ms, ...), or a config that was not built. Borrowed from `config`. */
const char *rn_config_value(const rn_config_t *config, const char *name);
/* True when the configuration set the known key `name` (in a file, with runnel_config_set or
 * on the command line): DescribeConfigs reports STATIC_BROKER_CONFIG then, DEFAULT_CONFIG
 * otherwise. */
bool rn_config_is_set(const rn_config_t *config, const char *name);

/* Value parsing shared with topic configs, as Kafka parses them (values already trimmed;
 * integers go through rn_parse_int64, util/parse.h). */
/* Kafka's list syntax: comma-separated, entries trimmed, empty ones ignored. Returns how many
 * entries there are and points *first / *first_len at the first one. */
size_t rn_config_list_first(const char *value, const char **first, size_t *first_len);
/* Parses a max.connections.per.ip.overrides value (already trimmed) as Kafka does: entries
 * split at commas with any whitespace around them (trailing empty entries dropped, any other
 * empty entry an error), each split at its last ':' into a host and a count, both trimmed; the
 * host may hold only letters, digits and "-%._:" (so an IPv6 literal is written without
 * brackets, "::1:10"), the count is a Java int. A host given twice keeps its last count.
 * Returns 0 with *out (NULL when empty) and *count set, RN_EINVAL with the reason in `why`, or
 * RN_ENOMEM; nothing to free on failure. */
int rn_config_parse_ip_overrides(const char *value, rn_config_ip_override_t **out, size_t *count,
                                 char *why, size_t whylen);
void rn_config_free_ip_overrides(rn_config_ip_override_t *overrides, size_t count);

/* A cleanup.policy list: "compact" and "delete" separated by commas, spaces around commas
 * allowed, repeats allowed (as in Kafka); empty means neither (nothing is ever deleted). Writes the
 * canonical form ("", "delete", "compact" or "compact,delete") into `canon` (16 bytes or more)
 * and whether "delete" is in it. Returns 0 or RN_EINVAL. */
int rn_config_parse_cleanup_policy(const char *value, char *canon, size_t canon_len,
                                   bool *delete_enabled);

#endif
