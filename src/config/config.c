/* SPDX-License-Identifier: Apache-2.0 */
/* Configuration: the table of known keys and validation (the syntax is in props.c, listeners
 * in listener.c, value syntaxes shared with topic configs in values.c).
 *
 * `keys` below is the one place a key is declared: name, documented default, one-line doc, and
 * how rn_config_build checks it. rn_config_build walks the table, not the properties, so every
 * key is checked exactly once and in a fixed order, and an absent key goes through the same code
 * with the table's default. A later issue adds a key with one table row (plus a field in
 * rn_config_t); conf/runnel.properties documents the same keys.
 *
 * Every key's value in effect is also kept as text (rn_config_value) with a flag saying whether
 * it was set (rn_config_is_set): DescribeConfigs reports them, and topic configs derive their
 * defaults from them. Keys derived from several others (log.retention.*, log.roll.*,
 * log.flush.interval.ms) are combined after the walk, in derive_log_defaults. */
#include "config/config.h"
#include "config/internal.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/err.h"
#include "util/logging.h"
#include "util/parse.h"

/* Error messages quote at most this many bytes of a value. */
#define MAX_QUOTED_BYTES 120
#define MAX_NETWORK_THREADS 256
#define MAX_CLUSTER_ID_BYTES 255

/* Copies `s` into `dst` for a one-line message: control bytes and DEL become escapes, so a
 * value with a \n escape cannot split the line, and a long value is cut with "...". Bytes >= 0x80
 * are kept, so UTF-8 stays readable. */
static void quote(char *dst, size_t dstlen, const char *s)
{
    size_t n = 0, shown = 0;
    assert(dstlen >= 8);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[5];
        if (shown == MAX_QUOTED_BYTES) {
            if (n + 4 > dstlen)
                break;
            memcpy(dst + n, "...", 3);
            n += 3;
            break;
        }
        if (c == '\n' || c == '\r' || c == '\t')
            snprintf(esc, sizeof esc, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
        else if (c < 0x20 || c == 0x7f)
            snprintf(esc, sizeof esc, "\\x%02x", c);
        else {
            esc[0] = (char)c;
            esc[1] = '\0';
        }
        size_t elen = strlen(esc);
        if (n + elen + 1 > dstlen)
            break;
        memcpy(dst + n, esc, elen);
        n += elen;
        shown++;
    }
    dst[n] = '\0';
}

/* Java's String.trim, which Kafka applies to every value: drops bytes <= ' ' at both ends. */
static char *trimmed_dup(const char *s)
{
    while (*s != '\0' && (unsigned char)*s <= ' ')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (unsigned char)s[n - 1] <= ' ')
        n--;
    return strndup(s, n);
}

/* ---- The table of known keys ---- */

typedef struct build {
    const runnel_config_t *props;
    rn_config_t cfg;
    char *err;
    size_t errlen;
    size_t extra_log_dirs; /* directories of log.dirs after the first, for a warning */
} build_t;

/* For KEY_INT32, KEY_INT64 and KEY_BOOL, a row without a field (field_size 0) is checked but
 * stored nowhere: its text (rn_config_value) is what other code reads, or nothing does yet. A
 * key without a static default is not checked when absent. */
typedef enum key_kind {
    KEY_INT32,  /* an int32_t field in [min, max] */
    KEY_INT64,  /* an int64_t field in [min, max] */
    KEY_BOOL,   /* a bool field: true or false, any case */
    KEY_DOUBLE, /* a finite decimal number in [dmin, dmax]; never stored */
    KEY_ENUM,   /* one of `choices`, exactly (Kafka compares case-sensitively); never stored */
    KEY_CUSTOM, /* checked by `apply` */
    KEY_ALIAS,  /* in effect, checked by the `apply` of the key named in its doc */
    KEY_LATER,  /* accepted, not yet in effect: no check until its issue lands */
} key_kind_t;

typedef struct key_def key_def_t;
/* Checks `value` (trimmed; NULL when the key is absent and has no static default) and stores
 * it in b->cfg. Returns 0, RN_ENOMEM, or RN_ECONFIG after filling b->err. */
typedef int (*key_apply_fn)(build_t *b, const key_def_t *def, const char *value);

struct key_def {
    rn_config_key_t pub; /* first, so rn_config_key_at can hand it out */
    key_kind_t kind;
    int64_t min, max;           /* KEY_INT32, KEY_INT64 */
    double dmin, dmax;          /* KEY_DOUBLE */
    const char *const *choices; /* KEY_ENUM: NULL-terminated */
    size_t field, field_size; /* KEY_INT32, KEY_INT64, KEY_BOOL: where in rn_config_t; 0: nowhere */
    key_apply_fn apply;       /* KEY_CUSTOM */
};

#define FIELD(name) \
    .field = offsetof(rn_config_t, name), .field_size = sizeof(((rn_config_t *)0)->name)

static int apply_listeners(build_t *b, const key_def_t *def, const char *value);
static int apply_advertised_listeners(build_t *b, const key_def_t *def, const char *value);
static int apply_node_id(build_t *b, const key_def_t *def, const char *value);
static int apply_cluster_id(build_t *b, const key_def_t *def, const char *value);
static int apply_log_dirs(build_t *b, const key_def_t *def, const char *value);
static int apply_num_network_threads(build_t *b, const key_def_t *def, const char *value);
static int apply_idle_ms(build_t *b, const key_def_t *def, const char *value);
static int apply_log_level(build_t *b, const key_def_t *def, const char *value);
static int apply_index_interval(build_t *b, const key_def_t *def, const char *value);
static int apply_cleanup_policy(build_t *b, const key_def_t *def, const char *value);
static int apply_timestamp_type(build_t *b, const key_def_t *def, const char *value);
static int apply_replication_factor(build_t *b, const key_def_t *def, const char *value);
static int apply_gzip_level(build_t *b, const key_def_t *def, const char *value);

static const char *const compression_types[] = { "uncompressed", "zstd",     "lz4", "snappy",
                                                 "gzip",         "producer", NULL };

#define B RN_CONFIG_TYPE_BOOLEAN
#define S RN_CONFIG_TYPE_STRING
#define I RN_CONFIG_TYPE_INT
#define H RN_CONFIG_TYPE_SHORT
#define L RN_CONFIG_TYPE_LONG
#define D RN_CONFIG_TYPE_DOUBLE
#define LIST RN_CONFIG_TYPE_LIST

/* Order matters where one key reads another: listeners comes before advertised.listeners. */
static const key_def_t keys[] = {
    { .pub = { "listeners", "PLAINTEXT://127.0.0.1:9092",
               "the one listener, PLAINTEXT://HOST:PORT; empty host: all interfaces; port 0: "
               "ephemeral",
               true, S },
      .kind = KEY_CUSTOM,
      .apply = apply_listeners },
    { .pub = { "advertised.listeners", NULL,
               "address given to clients; default: the listener, with 127.0.0.1 for a wildcard "
               "host",
               true, S },
      .kind = KEY_CUSTOM,
      .apply = apply_advertised_listeners },
    { .pub = { "node.id", "1", "this broker's id (0 or more)", true, I },
      .kind = KEY_CUSTOM,
      .apply = apply_node_id },
    { .pub = { "broker.id", "1", "older name of node.id; if both are set they must agree", true,
               I },
      .kind = KEY_ALIAS },
    { .pub = { "cluster.id", NULL,
               "cluster id reported to clients; default: kept in the data directory", true, S },
      .kind = KEY_CUSTOM,
      .apply = apply_cluster_id },
    { .pub = { "log.dirs", "./data", "data directory (comma list; only the first is used)", true,
               S },
      .kind = KEY_CUSTOM,
      .apply = apply_log_dirs },
    { .pub = { "log.dir", "./data", "data directory, used when log.dirs is not set", true, S },
      .kind = KEY_ALIAS },
    { .pub = { "num.network.threads", NULL, "network threads (1-256); default: number of CPUs",
               true, I },
      .kind = KEY_CUSTOM,
      .apply = apply_num_network_threads },
    { .pub = { "socket.request.max.bytes", "104857600", "largest request accepted, in bytes", true,
               I },
      .kind = KEY_INT64,
      .min = 1,
      .max = INT32_MAX,
      FIELD(socket_request_max_bytes) },
    { .pub = { "connections.max.idle.ms", "600000", "close connections idle this long; -1: never",
               true, L },
      .kind = KEY_CUSTOM,
      .apply = apply_idle_ms },
    { .pub = { "auto.create.topics.enable", "true",
               "create a topic when a client asks for an unknown one", true, B },
      .kind = KEY_BOOL,
      FIELD(auto_create_topics_enable) },
    { .pub = { "num.partitions", "1", "partitions of an auto-created topic", true, I },
      .kind = KEY_INT32,
      .min = 1,
      .max = INT32_MAX,
      FIELD(num_partitions) },
    { .pub = { "log.level", "info", "most verbose log level: error, warn, info, debug or trace",
               true, S },
      .kind = KEY_CUSTOM,
      .apply = apply_log_level },

    /* Topics and their logs: each is the broker default of a topic config (topic_config.c). */
    { .pub = { "default.replication.factor", "1",
               "replication factor of a topic created with -1 (auto-created ones too)", true, I },
      .kind = KEY_CUSTOM,
      .apply = apply_replication_factor },
    { .pub = { "runnel.accept.replication.factor", "false",
               "accept a replication factor above 1 with a warning (one replica is kept) instead "
               "of refusing it",
               true, B },
      .kind = KEY_BOOL,
      FIELD(accept_replication_factor) },
    { .pub = { "delete.topic.enable", "true", "allow DeleteTopics", true, B },
      .kind = KEY_BOOL,
      FIELD(delete_topic_enable) },
    { .pub = { "log.segment.bytes", "1073741824", "size at which a segment is rolled (14 or more)",
               true, I },
      .kind = KEY_INT64,
      .min = 14,
      .max = INT32_MAX,
      FIELD(log_defaults.segment_bytes) },
    { .pub = { "log.roll.ms", NULL, "age at which a segment is rolled; default: log.roll.hours",
               true, L },
      .kind = KEY_INT64,
      .min = 1,
      .max = INT64_MAX },
    { .pub = { "log.roll.hours", "168", "age at which a segment is rolled, in hours", true, I },
      .kind = KEY_INT32,
      .min = 1,
      .max = INT32_MAX },
    { .pub = { "log.retention.ms", NULL,
               "how long data is kept; -1: forever; default: log.retention.minutes", true, L },
      .kind = KEY_INT64,
      .min = INT64_MIN,
      .max = INT64_MAX },
    { .pub = { "log.retention.minutes", NULL, "how long data is kept; default: log.retention.hours",
               true, I },
      .kind = KEY_INT32,
      .min = INT32_MIN,
      .max = INT32_MAX },
    { .pub = { "log.retention.hours", "168", "how long data is kept, in hours", true, I },
      .kind = KEY_INT32,
      .min = INT32_MIN,
      .max = INT32_MAX },
    { .pub = { "log.retention.bytes", "-1", "size a partition is trimmed to; -1: no limit", true,
               L },
      .kind = KEY_INT64,
      .min = INT64_MIN,
      .max = INT64_MAX,
      FIELD(log_defaults.retention_bytes) },
    { .pub = { "log.retention.check.interval.ms", "300000", "how often retention runs", true, L },
      .kind = KEY_INT64,
      .min = 1,
      .max = INT64_MAX,
      FIELD(log_retention_check_interval_ms) },
    { .pub = { "log.flush.interval.messages", "9223372036854775807",
               "fsync after this many records", true, L },
      .kind = KEY_INT64,
      .min = 1,
      .max = INT64_MAX,
      FIELD(log_defaults.flush_messages) },
    { .pub = { "log.flush.interval.ms", NULL,
               "fsync after this long; default: log.flush.scheduler.interval.ms", true, L },
      .kind = KEY_INT64,
      .min = 0,
      .max = INT64_MAX },
    { .pub = { "log.flush.scheduler.interval.ms", "9223372036854775807",
               "default of log.flush.interval.ms (Kafka's flusher period); default: never", true,
               L },
      .kind = KEY_INT64,
      .min = 0,
      .max = INT64_MAX },
    { .pub = { "log.index.interval.bytes", "4096", "bytes between offset index entries", true, I },
      .kind = KEY_CUSTOM,
      .apply = apply_index_interval },
    { .pub = { "index.interval.bytes", "4096",
               "older Runnel name of log.index.interval.bytes, used when that is not set", true, I,
               .unlisted = true },
      .kind = KEY_ALIAS },
    { .pub = { "log.index.size.max.bytes", "10485760",
               "largest offset index of a segment (4 or more)", true, I },
      .kind = KEY_INT32,
      .min = 4,
      .max = INT32_MAX,
      FIELD(log_defaults.max_index_bytes) },
    { .pub = { "message.max.bytes", "1048588", "largest record batch accepted", true, I },
      .kind = KEY_INT32,
      .min = 0,
      .max = INT32_MAX,
      FIELD(message_max_bytes) },
    { .pub = { "log.cleanup.policy", "delete",
               "default cleanup policy: delete, compact or both (compact,delete)", true, LIST },
      .kind = KEY_CUSTOM,
      .apply = apply_cleanup_policy },
    { .pub = { "log.message.timestamp.type", "CreateTime",
               "CreateTime keeps the producer's timestamps, LogAppendTime replaces them with the "
               "broker's clock",
               true, S },
      .kind = KEY_CUSTOM,
      .apply = apply_timestamp_type },
    { .pub = { "min.insync.replicas", "1",
               "replicas that must acknowledge acks=all (one node has one)", true, I },
      .kind = KEY_INT32,
      .min = 1,
      .max = INT32_MAX,
      FIELD(min_insync_replicas) },
    { .pub = { "log.message.timestamp.before.max.ms", "9223372036854775807",
               "Produce refuses a CreateTime record this much older than the broker's clock", true,
               L },
      .kind = KEY_INT64,
      .min = 0,
      .max = INT64_MAX },
    { .pub = { "log.message.timestamp.after.max.ms", "3600000",
               "Produce refuses a CreateTime record this much newer than the broker's clock", true,
               L },
      .kind = KEY_INT64,
      .min = 0,
      .max = INT64_MAX },

    /* Topic config defaults that are checked and reported (DescribeConfigs) but change nothing
     * yet: compaction, recompression, preallocation, segment jitter, replication and tiered
     * storage come later or never. Kafka 4 removed log.message.downconversion.enable and
     * log.message.timestamp.difference.max.ms (KIP-724, KIP-937): they are unknown keys now,
     * ignored with a warning, as Kafka 4 ignores them. */
    { .pub = { "compression.type", "producer",
               "codec topics store (uncompressed, zstd, lz4, snappy, gzip, producer); batches are "
               "kept as sent",
               false, S },
      .kind = KEY_ENUM,
      .choices = compression_types },
    { .pub = { "log.cleaner.enable", "true", "run compaction for compacted topics", false, B },
      .kind = KEY_BOOL },
    { .pub = { "log.cleaner.delete.retention.ms", "86400000",
               "how long compaction keeps tombstones", false, L },
      .kind = KEY_INT64,
      .min = 0,
      .max = INT64_MAX },
    { .pub = { "log.cleaner.min.compaction.lag.ms", "0", "youngest record compaction may remove",
               false, L },
      .kind = KEY_INT64,
      .min = 0,
      .max = INT64_MAX },
    { .pub = { "log.cleaner.max.compaction.lag.ms", "9223372036854775807",
               "oldest a record may stay uncompacted", false, L },
      .kind = KEY_INT64,
      .min = 1,
      .max = INT64_MAX },
    { .pub = { "log.cleaner.min.cleanable.ratio", "0.5",
               "dirty ratio at which a log is compacted (0 to 1)", false, D },
      .kind = KEY_DOUBLE,
      .dmin = 0,
      .dmax = 1 },
    { .pub = { "log.segment.delete.delay.ms", "60000",
               "wait before a deleted segment's file is removed", false, L },
      .kind = KEY_INT64,
      .min = 0,
      .max = INT64_MAX },
    { .pub = { "log.preallocate", "false", "preallocate segment files", false, B },
      .kind = KEY_BOOL },
    { .pub = { "unclean.leader.election.enable", "false",
               "elect an out-of-sync replica (one node: no effect)", false, B },
      .kind = KEY_BOOL },
    { .pub = { "compression.gzip.level", "-1",
               "gzip level topics would recompress with: 1 to 9, or -1 for zlib's default", false,
               I },
      .kind = KEY_CUSTOM,
      .apply = apply_gzip_level },
    { .pub = { "compression.lz4.level", "9", "lz4 level topics would recompress with (1 to 17)",
               false, I },
      .kind = KEY_INT32,
      .min = 1,
      .max = 17 },
    { .pub = { "compression.zstd.level", "3",
               "zstd level topics would recompress with (-131072 to 22)", false, I },
      .kind = KEY_INT32,
      .min = -131072,
      .max = 22 },
    { .pub = { "max.decompressed.message.bytes", "2147483639",
               "largest a compressed batch may inflate to (1 to 2147483639)", false, I },
      .kind = KEY_INT32,
      .min = 1,
      .max = 2147483639 },
    { .pub = { "log.roll.jitter.ms", NULL,
               "random amount taken off segment.ms per segment; default: log.roll.jitter.hours",
               false, L },
      .kind = KEY_INT64,
      .min = 0,
      .max = INT64_MAX },
    { .pub = { "log.roll.jitter.hours", "0", "log.roll.jitter.ms in hours", false, I },
      .kind = KEY_INT32,
      .min = 0,
      .max = INT32_MAX },
    { .pub = { "log.local.retention.ms", "-2",
               "how long segments stay local with tiered storage; -2: retention.ms", false, L },
      .kind = KEY_INT64,
      .min = -2,
      .max = INT64_MAX },
    { .pub = { "log.local.retention.bytes", "-2",
               "how much stays local with tiered storage; -2: retention.bytes", false, L },
      .kind = KEY_INT64,
      .min = -2,
      .max = INT64_MAX },
    { .pub = { "log.remote.copy.lag.ms", "0",
               "how long a segment waits before tiered storage copies it", false, L },
      .kind = KEY_INT64,
      .min = -1,
      .max = INT64_MAX },
    { .pub = { "log.remote.copy.lag.bytes", "-1",
               "how many bytes wait before tiered storage copies them", false, L },
      .kind = KEY_INT64,
      .min = -1,
      .max = INT64_MAX },

    /* Accepted so that a Kafka configuration starts without warnings; each takes effect (and
     * gets its checks) with the issue that implements it. Defaults are Kafka's, except where
     * a single node cannot meet them (replication factors and min ISR). */
    { .pub = { "offsets.topic.num.partitions", "50",
               "partitions of __consumer_offsets (used when it is created)", true, I },
      .kind = KEY_INT32,
      .min = 1,
      .max = 10000,
      FIELD(offsets_topic_num_partitions) },
    { .pub = { "offsets.topic.replication.factor", "1",
               "replication factor of __consumer_offsets (Kafka: 3)", false, H },
      .kind = KEY_LATER },
    { .pub = { "transaction.state.log.replication.factor", "1",
               "replication factor of __transaction_state (Kafka: 3)", false, H },
      .kind = KEY_LATER },
    { .pub = { "transaction.state.log.min.isr", "1", "min ISR of __transaction_state (Kafka: 2)",
               false, I },
      .kind = KEY_LATER },
    { .pub = { "group.initial.rebalance.delay.ms", "3000",
               "wait for more members before the first rebalance", true, I },
      .kind = KEY_INT32,
      .min = 0,
      .max = INT32_MAX,
      FIELD(group_initial_rebalance_delay_ms) },
    { .pub = { "group.min.session.timeout.ms", "6000",
               "smallest session timeout a member may ask for", true, I },
      .kind = KEY_INT32,
      .min = 0,
      .max = INT32_MAX,
      FIELD(group_min_session_timeout_ms) },
    { .pub = { "group.max.session.timeout.ms", "1800000",
               "largest session timeout a member may ask for", true, I },
      .kind = KEY_INT32,
      .min = 0,
      .max = INT32_MAX,
      FIELD(group_max_session_timeout_ms) },
    { .pub = { "offsets.retention.minutes", "10080",
               "how long committed offsets of empty groups are kept", true, I },
      .kind = KEY_INT32,
      .min = 1,
      .max = INT32_MAX,
      FIELD(offsets_retention_minutes) },
    { .pub = { "offset.metadata.max.bytes", "4096", "largest metadata string of a committed offset",
               true, I },
      .kind = KEY_INT32,
      .min = 0,
      .max = INT16_MAX,
      FIELD(offset_metadata_max_bytes) },
};

#undef B
#undef S
#undef I
#undef H
#undef L
#undef D
#undef LIST

#define NKEYS (sizeof keys / sizeof keys[0])

static const key_def_t *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].pub.name, name) == 0)
            return &keys[i];
    return NULL;
}

const rn_config_key_t *rn_config_key_at(size_t i)
{
    return i < NKEYS ? &keys[i].pub : NULL;
}

const rn_config_key_t *rn_config_key_find(const char *name)
{
    const key_def_t *def = find_key(name);
    return def ? &def->pub : NULL;
}

static int invalid(build_t *b, const char *key, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes the one-line `invalid value for KEY: 'VALUE' (reason)` and returns RN_ECONFIG. */
static int invalid(build_t *b, const char *key, const char *value, const char *fmt, ...)
{
    char shown[MAX_QUOTED_BYTES * 4 + 8], reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    quote(shown, sizeof shown, value);
    rn_config_set_err(b->err, b->errlen, "invalid value for %s: '%s' (%s)", key, shown, reason);
    return RN_ECONFIG;
}

static int oom(build_t *b)
{
    rn_config_set_err(b->err, b->errlen, "out of memory");
    return RN_ENOMEM;
}

/* Parses an integer for `key` and checks it against [min, max]. */
static int get_int(build_t *b, const char *key, const char *value, int64_t min, int64_t max,
                   int64_t *out)
{
    int64_t v = 0;
    int r = rn_parse_int64(value, &v);
    if (r == RN_EINVAL)
        return invalid(b, key, value, "not an integer");
    if (r != 0 || v < min || v > max) {
        if (max == INT64_MAX)
            return invalid(b, key, value, "must be at least %" PRId64, min);
        return invalid(b, key, value, "must be between %" PRId64 " and %" PRId64, min, max);
    }
    *out = v;
    return 0;
}

static void *field_of(build_t *b, const key_def_t *def)
{
    return (char *)&b->cfg + def->field;
}

static int apply_key(build_t *b, const key_def_t *def, const char *value)
{
    /* An absent key without a static default: nothing to check; derive_log_defaults or the
     * key's own apply knows what its absence means. */
    if (value == NULL && def->kind != KEY_CUSTOM)
        return 0;
    switch (def->kind) {
    case KEY_INT32: {
        int64_t v = 0;
        int rc = get_int(b, def->pub.name, value, def->min, def->max, &v);
        if (rc != 0)
            return rc;
        assert(def->min >= INT32_MIN && def->max <= INT32_MAX);
        if (def->field_size != 0) {
            assert(def->field_size == sizeof(int32_t));
            int32_t *field = field_of(b, def);
            *field = (int32_t)v;
        }
        return 0;
    }
    case KEY_INT64: {
        int64_t v = 0;
        int rc = get_int(b, def->pub.name, value, def->min, def->max, &v);
        if (rc != 0)
            return rc;
        if (def->field_size != 0) {
            assert(def->field_size == sizeof(int64_t));
            int64_t *field = field_of(b, def);
            *field = v;
        }
        return 0;
    }
    case KEY_BOOL: {
        bool v;
        /* Kafka's ConfigDef accepts exactly these, in any case. */
        if (strcasecmp(value, "true") == 0)
            v = true;
        else if (strcasecmp(value, "false") == 0)
            v = false;
        else
            return invalid(b, def->pub.name, value, "must be true or false");
        if (def->field_size != 0) {
            assert(def->field_size == sizeof(bool));
            bool *field = field_of(b, def);
            *field = v;
        }
        return 0;
    }
    case KEY_DOUBLE: {
        /* Java's Double.parseDouble takes about what strtod takes; NaN and infinities are
         * refused here because no ratio can be one. */
        char *end = NULL;
        errno = 0;
        double v = strtod(value, &end);
        if (value[0] == '\0' || *end != '\0' || !isfinite(v))
            return invalid(b, def->pub.name, value, "not a number");
        if (v < def->dmin || v > def->dmax)
            return invalid(b, def->pub.name, value, "must be between %g and %g", def->dmin,
                           def->dmax);
        return 0;
    }
    case KEY_ENUM: {
        char list[256] = "";
        for (const char *const *c = def->choices; *c != NULL; c++) {
            if (strcmp(value, *c) == 0)
                return 0;
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     c == def->choices ? "" : ", ", *c);
        }
        return invalid(b, def->pub.name, value, "must be one of %s", list);
    }
    case KEY_CUSTOM:
        return def->apply(b, def, value);
    case KEY_ALIAS:
    case KEY_LATER:
        return 0;
    }
    return 0;
}

/* ---- Listeners ---- */

static int apply_listeners(build_t *b, const key_def_t *def, const char *value)
{
    rn_endpoint_t ep;
    const char *why = NULL;
    int rc = rn_endpoint_parse(value, false, &ep, &why);
    if (rc == RN_ENOMEM)
        return oom(b);
    if (rc != 0)
        return invalid(b, def->pub.name, value, "%s", why);
    b->cfg.listener_host = ep.host;
    b->cfg.listener_port = ep.port;
    return 0;
}

static int apply_advertised_listeners(build_t *b, const key_def_t *def, const char *value)
{
    if (value == NULL) {
        const char *host = b->cfg.listener_host;
        if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
            host = "127.0.0.1";
        else if (strcmp(host, "::") == 0)
            host = "::1";
        if ((b->cfg.advertised_host = strdup(host)) == NULL)
            return oom(b);
        b->cfg.advertised_port = b->cfg.listener_port != 0 ? b->cfg.listener_port : -1;
        return 0;
    }
    rn_endpoint_t ep;
    const char *why = NULL;
    int rc = rn_endpoint_parse(value, true, &ep, &why);
    if (rc == RN_ENOMEM)
        return oom(b);
    if (rc != 0)
        return invalid(b, def->pub.name, value, "%s", why);
    b->cfg.advertised_host = ep.host;
    b->cfg.advertised_port = ep.port != 0 ? ep.port : -1;
    return 0;
}

/* ---- The other keys ---- */

/* node.id is KRaft's name, broker.id the older one; Kafka accepts both when they agree. */
static int apply_node_id(build_t *b, const key_def_t *def, const char *value)
{
    int64_t node_id = 1, broker_id = -1;
    int rc;
    if ((rc = get_int(b, def->pub.name, value, 0, INT32_MAX, &node_id)) != 0)
        return rc;
    char *broker = NULL;
    const char *given = rn_props_get(b->props, "broker.id");
    if (given != NULL) {
        if ((broker = trimmed_dup(given)) == NULL)
            return oom(b);
        if ((rc = get_int(b, "broker.id", broker, 0, INT32_MAX, &broker_id)) != 0)
            goto out;
        if (rn_props_get(b->props, def->pub.name) == NULL)
            node_id = broker_id;
        else if (broker_id != node_id) {
            rc = invalid(b, "broker.id", broker, "differs from node.id %" PRId64, node_id);
            goto out;
        }
    }
    b->cfg.node_id = (int32_t)node_id;
out:
    free(broker);
    return rc;
}

static int apply_cluster_id(build_t *b, const key_def_t *def, const char *value)
{
    if (value == NULL || value[0] == '\0') /* `cluster.id=` leaves it to the data directory */
        return 0;
    if (strlen(value) > MAX_CLUSTER_ID_BYTES)
        return invalid(b, def->pub.name, value, "longer than %d bytes", MAX_CLUSTER_ID_BYTES);
    for (const char *p = value; *p != '\0'; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return invalid(b, def->pub.name, value,
                           "only printable ASCII without spaces is allowed");
    if ((b->cfg.cluster_id = strdup(value)) == NULL)
        return oom(b);
    return 0;
}

/* log.dirs wins over log.dir, as in Kafka. Runnel keeps one data directory. */
static int apply_log_dirs(build_t *b, const key_def_t *def, const char *value)
{
    const char *key = def->pub.name;
    char *fallback = NULL;
    if (rn_props_get(b->props, key) == NULL && rn_props_get(b->props, "log.dir") != NULL) {
        key = "log.dir";
        if ((fallback = trimmed_dup(rn_props_get(b->props, key))) == NULL)
            return oom(b);
        value = fallback;
    }
    const char *first = NULL;
    size_t first_len = 0;
    size_t count = rn_config_list_first(value, &first, &first_len);
    int rc = 0;
    if (count == 0)
        rc = invalid(b, key, value, "no directory given");
    else if ((b->cfg.log_dir = strndup(first, first_len)) == NULL)
        rc = oom(b);
    else
        b->extra_log_dirs = count - 1;
    free(fallback);
    return rc;
}

static int apply_num_network_threads(build_t *b, const key_def_t *def, const char *value)
{
    if (value == NULL) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        b->cfg.num_network_threads = n < 1                     ? 1
                                     : n > MAX_NETWORK_THREADS ? MAX_NETWORK_THREADS
                                                               : (int)n;
        return 0;
    }
    int64_t n = 0;
    int rc = get_int(b, def->pub.name, value, 1, MAX_NETWORK_THREADS, &n);
    if (rc == 0)
        b->cfg.num_network_threads = (int)n;
    return rc;
}

/* Kafka disables the idle timeout with -1; here 0 means the same, and 0 is accepted too. */
static int apply_idle_ms(build_t *b, const key_def_t *def, const char *value)
{
    int64_t ms = 0;
    int rc = get_int(b, def->pub.name, value, -1, INT64_MAX, &ms);
    if (rc != 0)
        return rc;
    b->cfg.connections_max_idle_ms = ms == -1 ? 0 : ms;
    return 0;
}

static int apply_log_level(build_t *b, const key_def_t *def, const char *value)
{
    if (rn_log_level_parse(value, &b->cfg.log_level) != 0)
        return invalid(b, def->pub.name, value, "must be error, warn, info, debug or trace");
    return 0;
}

/* ---- Topic and log defaults ---- */

/* log.index.interval.bytes is Kafka's name; index.interval.bytes is what earlier Runnel files
 * used (it is the topic key's name), so it still counts when the Kafka name is not set. */
static int apply_index_interval(build_t *b, const key_def_t *def, const char *value)
{
    const char *key = def->pub.name;
    char *alias = NULL;
    if (rn_props_get(b->props, key) == NULL &&
        rn_props_get(b->props, "index.interval.bytes") != NULL) {
        key = "index.interval.bytes";
        if ((alias = trimmed_dup(rn_props_get(b->props, key))) == NULL)
            return oom(b);
        value = alias;
    }
    int64_t v = 0;
    int rc = get_int(b, key, value, 0, INT32_MAX, &v);
    if (rc == 0)
        b->cfg.log_defaults.index_interval_bytes = (int32_t)v;
    free(alias);
    return rc;
}

static int apply_cleanup_policy(build_t *b, const key_def_t *def, const char *value)
{
    if (rn_config_parse_cleanup_policy(value, b->cfg.log_cleanup_policy,
                                       sizeof b->cfg.log_cleanup_policy,
                                       &b->cfg.log_defaults.delete_enabled) != 0)
        return invalid(b, def->pub.name, value, "must be a comma list of delete and compact");
    return 0;
}

static int apply_timestamp_type(build_t *b, const key_def_t *def, const char *value)
{
    if (strcmp(value, "CreateTime") == 0)
        b->cfg.log_append_time = false;
    else if (strcmp(value, "LogAppendTime") == 0)
        b->cfg.log_append_time = true;
    else
        return invalid(b, def->pub.name, value, "must be CreateTime or LogAppendTime");
    return 0;
}

/* Replication factors travel as INT16 on the wire. Above 1, topics follow the same rule as
 * CreateTopics (refused unless runnel.accept.replication.factor). */
static int apply_replication_factor(build_t *b, const key_def_t *def, const char *value)
{
    int64_t v = 0;
    int rc = get_int(b, def->pub.name, value, 1, INT16_MAX, &v);
    if (rc == 0)
        b->cfg.default_replication_factor = (int16_t)v;
    return rc;
}

/* Kafka's gzip levels: Deflater's 1 to 9, or -1 for zlib's default. */
static int apply_gzip_level(build_t *b, const key_def_t *def, const char *value)
{
    int64_t v = 0;
    int rc = get_int(b, def->pub.name, value, INT32_MIN, INT32_MAX, &v);
    if (rc == 0 && v != -1 && (v < 1 || v > 9))
        rc = invalid(b, def->pub.name, value, "must be between 1 and 9, or -1");
    return rc;
}

static size_t key_index(const char *name)
{
    const key_def_t *def = find_key(name);
    assert(def != NULL);
    return (size_t)(def - keys);
}

/* The checked value of an integer key, or `fallback` when it is absent. */
static int64_t int_value(const build_t *b, const char *name, int64_t fallback)
{
    const char *value = b->cfg.values[key_index(name)];
    int64_t v = fallback;
    if (value != NULL && rn_parse_int64(value, &v) != 0)
        v = fallback; /* cannot happen: the walk checked it */
    return v;
}

/* Kafka's KafkaConfig: log.retention.ms, else minutes, else hours, and any negative result
 * means unlimited (-1); log.roll.ms, else log.roll.hours; log.flush.interval.ms, else
 * log.flush.scheduler.interval.ms. */
static int derive_log_defaults(build_t *b)
{
    rn_config_log_defaults_t *log = &b->cfg.log_defaults;
    int64_t retention;
    if (b->cfg.values[key_index("log.retention.ms")] != NULL)
        retention = int_value(b, "log.retention.ms", -1);
    else if (b->cfg.values[key_index("log.retention.minutes")] != NULL)
        retention = int_value(b, "log.retention.minutes", -1) * 60 * 1000;
    else
        retention = int_value(b, "log.retention.hours", 168) * 60 * 60 * 1000;
    log->retention_ms = retention < 0 ? -1 : retention;
    if (log->retention_bytes < 0)
        log->retention_bytes = -1;
    if (b->cfg.values[key_index("log.roll.ms")] != NULL)
        log->segment_ms = int_value(b, "log.roll.ms", 0);
    else
        log->segment_ms = int_value(b, "log.roll.hours", 168) * 60 * 60 * 1000;
    if (b->cfg.values[key_index("log.flush.interval.ms")] != NULL)
        log->flush_ms = int_value(b, "log.flush.interval.ms", INT64_MAX);
    else
        log->flush_ms = int_value(b, "log.flush.scheduler.interval.ms", INT64_MAX);

    /* The alias's value is the one in effect: report it under the Kafka name too. */
    size_t kafka = key_index("log.index.interval.bytes"), alias = key_index("index.interval.bytes");
    if (!b->cfg.set[kafka] && b->cfg.set[alias]) {
        char *copy = strdup(b->cfg.values[alias]);
        if (copy == NULL)
            return oom(b);
        free(b->cfg.values[kafka]);
        b->cfg.values[kafka] = copy;
        b->cfg.set[kafka] = true;
    }
    return 0;
}

const char *rn_config_value(const rn_config_t *config, const char *name)
{
    const key_def_t *def = find_key(name);
    if (def == NULL || config->values == NULL)
        return NULL;
    return config->values[def - keys];
}

bool rn_config_is_set(const rn_config_t *config, const char *name)
{
    const key_def_t *def = find_key(name);
    return def != NULL && config->set != NULL && config->set[def - keys];
}

/* ---- Build ---- */

int rn_config_build(const runnel_config_t *props, rn_config_t *out, char *err, size_t errlen)
{
    build_t b = { .props = props, .err = err, .errlen = errlen };
    int rc = 0;
    b.cfg.values = calloc(NKEYS, sizeof *b.cfg.values);
    b.cfg.set = calloc(NKEYS, sizeof *b.cfg.set);
    if (b.cfg.values == NULL || b.cfg.set == NULL)
        rc = oom(&b);
    for (size_t i = 0; i < NKEYS && rc == 0; i++) {
        const key_def_t *def = &keys[i];
        const char *given = rn_props_get(props, def->pub.name);
        const char *value = given != NULL ? given : def->pub.default_value;
        if (value != NULL &&
            (b.cfg.values[i] = given != NULL ? trimmed_dup(value) : strdup(value)) == NULL) {
            rc = oom(&b);
            break;
        }
        b.cfg.set[i] = given != NULL;
        rc = apply_key(&b, def, b.cfg.values[i]);
    }
    if (rc == 0)
        rc = derive_log_defaults(&b);
    if (rc != 0) {
        rn_config_deinit(&b.cfg);
        *out = (rn_config_t){ 0 };
        return rc;
    }
    /* Warn only once the configuration is known to be good: on failure the error line is the
     * only output. The process log level is not set yet, so honour log.level by hand. */
    if (b.cfg.log_level >= RN_LOG_WARN) {
        for (size_t i = 0; i < props->count; i++) {
            if (find_key(props->props[i].key) != NULL)
                continue;
            char shown[MAX_QUOTED_BYTES * 4 + 8];
            quote(shown, sizeof shown, props->props[i].key);
            rn_log(RN_LOG_WARN, "config", "unknown key '%s' ignored", shown);
        }
        /* Kafka's keys that Runnel checks and reports (DescribeConfigs says "Not in effect
         * yet") but does not act on: a user who sets one expects something to happen. */
        for (size_t i = 0; i < NKEYS; i++)
            if (b.cfg.set[i] && !keys[i].pub.in_effect)
                rn_log(RN_LOG_WARN, "config", "key '%s' is accepted but has no effect yet",
                       keys[i].pub.name);
        if (b.extra_log_dirs > 0)
            rn_log(RN_LOG_WARN, "config",
                   "log.dirs names %zu directories; only the first, '%s', is used",
                   b.extra_log_dirs + 1, b.cfg.log_dir);
    }
    *out = b.cfg;
    return 0;
}

void rn_config_deinit(rn_config_t *config)
{
    free(config->listener_host);
    free(config->advertised_host);
    free(config->cluster_id);
    free(config->log_dir);
    if (config->values != NULL)
        for (size_t i = 0; i < NKEYS; i++)
            free(config->values[i]);
    free(config->values);
    free(config->set);
    *config = (rn_config_t){ 0 };
}
