/* SPDX-License-Identifier: Apache-2.0 */
/* Topic configs: checking values against the keys of Kafka 4.4's LogConfig (their table, with
 * each key's type, Kafka's default, validator and the broker keys it falls back to, is
 * topic_keys.c), the values in effect, and changes to a topic's overrides.
 *
 * A topic's value for a key is, in order: its override (as set with CreateTopics or AlterConfigs,
 * trimmed), else the first of its broker synonyms the broker configuration sets (converted to
 * milliseconds for log.retention.minutes/hours and log.roll(.jitter).hours), else the broker
 * default, which is Kafka's. The typed rn_topic_config_t is parsed from those same texts, so what
 * DescribeConfigs reports is exactly what the log and the handlers use. Keys marked "not in
 * effect" (recompression, replication, tiered storage) are checked and reported but change
 * nothing yet; their doc line says so. */
#include "topics/internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/parse.h"
#include "util/xmalloc.h"

enum { OP_SET = 0, OP_DELETE = 1, OP_APPEND = 2, OP_SUBTRACT = 3 };

bool rn_topic_config_removed(const char *key)
{
    return strcmp(key, "message.downconversion.enable") == 0 ||
           strcmp(key, "message.timestamp.difference.max.ms") == 0;
}

/* ---- Override lists ---- */

void rn_overrides_free(rn_topic_override_t *ov, size_t n)
{
    if (ov == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(ov[i].key);
        free(ov[i].value);
    }
    free(ov);
}

rn_topic_override_t *rn_overrides_dup(const rn_topic_override_t *ov, size_t n)
{
    if (n == 0)
        return NULL;
    rn_topic_override_t *copy = rn_xcalloc(n, sizeof *copy);
    for (size_t i = 0; i < n; i++) {
        copy[i].key = rn_xstrdup(ov[i].key);
        copy[i].value = rn_xstrdup(ov[i].value);
    }
    return copy;
}

const char *rn_overrides_get(const rn_topic_override_t *ov, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ov[i].key, key) == 0)
            return ov[i].value;
    return NULL;
}

/* Sets key=value (both copied), replacing an earlier value. */
static void overrides_set(rn_topic_override_t **ov, size_t *n, const char *key, const char *value)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*ov)[i].key, key) == 0) {
            free((*ov)[i].value);
            (*ov)[i].value = rn_xstrdup(value);
            return;
        }
    *ov = rn_xrealloc(*ov, (*n + 1) * sizeof **ov);
    (*ov)[(*n)++] = (rn_topic_override_t){ .key = rn_xstrdup(key), .value = rn_xstrdup(value) };
}

static void overrides_delete(rn_topic_override_t *ov, size_t *n, const char *key)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(ov[i].key, key) == 0) {
            free(ov[i].key);
            free(ov[i].value);
            memmove(&ov[i], &ov[i + 1], (*n - i - 1) * sizeof *ov);
            (*n)--;
            return;
        }
}

/* ---- Checking values ---- */

static rn_kerr_t fail(rn_topics_result_t *res, rn_kerr_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static rn_kerr_t fail(rn_topics_result_t *res, rn_kerr_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof res->message, fmt, ap);
    va_end(ap);
    res->error_code = code;
    return code;
}

/* A client's text for a message: printable ASCII kept, anything else as '?', cut at 40 bytes. */
static const char *shown(const char *s, char buf[48])
{
    size_t n = 0;
    for (; s[n] != '\0' && n < 40; n++)
        buf[n] = (unsigned char)s[n] >= ' ' && (unsigned char)s[n] < 0x7f ? s[n] : '?';
    if (s[n] != '\0' && n >= 3)
        memcpy(buf + n - 3, "...", 3);
    buf[n] = '\0';
    return buf;
}

static void join_choices(const char *const *choices, char *out, size_t len)
{
    out[0] = '\0';
    for (const char *const *c = choices; *c != NULL; c++)
        snprintf(out + strlen(out), len - strlen(out), "%s%s", c == choices ? "" : ", ", *c);
}

/* Kafka's gzip levels: Deflater's 1 (fastest) to 9 (best), or -1 for zlib's default. */
rn_kerr_t rn_topic_check_gzip_level(const topic_key_t *k, const char *value,
                                    rn_topics_result_t *res)
{
    char v[48];
    int64_t n = 0;
    rn_parse_int64(value, &n); /* check_value parsed it as an INT already */
    if (n == -1 || (n >= 1 && n <= 9))
        return 0;
    return fail(res, RN_KERR_INVALID_CONFIG,
                "Invalid value %s for configuration %s: Value must be between 1 and 9 or equal to "
                "-1",
                shown(value, v), k->name);
}

typedef bool (*item_fn)(const char *item, size_t len, void *arg);

/* Splits `value` on commas and calls fn for each item, trimmed; empty items too when
 * `keep_empty`. A value of blanks alone has no items. Stops early when fn returns false. Returns
 * how many items fn saw. */
static size_t split_items(const char *value, bool keep_empty, item_fn fn, void *arg)
{
    size_t count = 0;
    const char *start = value;
    while (*start != '\0' && (unsigned char)*start <= ' ')
        start++;
    if (*start == '\0')
        return 0;
    for (const char *p = value;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        const char *item = p;
        while (len > 0 && (unsigned char)*item <= ' ')
            item++, len--;
        while (len > 0 && (unsigned char)item[len - 1] <= ' ')
            len--;
        if (len > 0 || keep_empty) {
            count++;
            if (!fn(item, len, arg))
                return count;
        }
        if (comma == NULL)
            return count;
        p = comma + 1;
    }
}

/* A LIST value's items, each trimmed, empty ones dropped (what Runnel keeps of a checked
 * value). */
static size_t each_item(const char *value, item_fn fn, void *arg)
{
    return split_items(value, false, fn, arg);
}

typedef struct policy_check {
    const char *bad; /* the first item that is empty or neither compact nor delete */
    size_t bad_len;
} policy_check_t;

static bool policy_item(const char *item, size_t len, void *arg)
{
    policy_check_t *c = arg;
    if ((len == 7 && memcmp(item, "compact", 7) == 0) ||
        (len == 6 && memcmp(item, "delete", 6) == 0))
        return true;
    c->bad = item;
    c->bad_len = len;
    return false;
}

/* cleanup.policy as Kafka 4.4's ConfigDef parses and validates a LIST with valid strings: items
 * split on commas and trimmed (blanks alone are the empty list), then checked in order, so the
 * message names the first bad item, or says that an item is empty. */
static rn_kerr_t check_cleanup_policy(const topic_key_t *k, const char *value,
                                      rn_topics_result_t *res)
{
    policy_check_t c = { 0 };
    split_items(value, true, policy_item, &c);
    if (c.bad == NULL)
        return 0;
    if (c.bad_len == 0)
        return fail(res, RN_KERR_INVALID_CONFIG, "Configuration '%s' values must not be empty.",
                    k->name);
    char item[48], v[48];
    size_t n = c.bad_len < sizeof item - 1 ? c.bad_len : sizeof item - 1;
    memcpy(item, c.bad, n);
    item[n] = '\0';
    return fail(res, RN_KERR_INVALID_CONFIG,
                "Invalid value %s for configuration %s: String must be one of: compact, delete",
                shown(item, v), k->name);
}

typedef struct replicas_check {
    size_t items;
    bool star, bad;
} replicas_check_t;

/* One item of a throttled-replicas list: "*", or PARTITION:BROKER in decimal digits. */
static bool replica_item(const char *item, size_t len, void *arg)
{
    replicas_check_t *c = arg;
    c->items++;
    if (len == 1 && item[0] == '*') {
        c->star = true;
        return true;
    }
    size_t i = 0, digits = 0;
    for (; i < len && item[i] >= '0' && item[i] <= '9'; i++)
        digits++;
    bool ok = digits > 0 && i < len && item[i++] == ':';
    for (digits = 0; ok && i < len && item[i] >= '0' && item[i] <= '9'; i++)
        digits++;
    c->bad = c->bad || !ok || digits == 0 || i != len;
    return !c->bad;
}

typedef struct joined {
    char *out; /* out[0..len) written so far, NUL-terminated */
    size_t cap, len;
} joined_t;

static bool join_item(const char *item, size_t len, void *arg)
{
    joined_t *j = arg;
    int w = snprintf(j->out + j->len, j->cap - j->len, "%s%.*s", j->len > 1 ? ", " : "", (int)len,
                     item);
    if (w < 0 || (size_t)w >= j->cap - j->len) {
        j->len = j->cap - 1; /* cut: the message shows 40 bytes of it anyway */
        return false;
    }
    j->len += (size_t)w;
    return true;
}

/* Kafka's ThrottledReplicaListValidator: the literal "*" alone, or a list of
 * PARTITION:BROKER items. The message shows the items as Java prints a list ("[a, b]"). */
rn_kerr_t rn_topic_check_throttled_replicas(const topic_key_t *k, const char *value,
                                            rn_topics_result_t *res)
{
    replicas_check_t c = { 0 };
    each_item(value, replica_item, &c);
    if (!c.bad && (!c.star || c.items == 1))
        return 0;
    char list[64], printable[48];
    joined_t j = { .out = list, .cap = sizeof list - 1, .len = 1 }; /* room for the ']' */
    list[0] = '[';
    list[1] = '\0';
    each_item(value, join_item, &j);
    list[j.len] = ']';
    list[j.len + 1] = '\0';
    return fail(res, RN_KERR_INVALID_CONFIG,
                "Invalid value %s for configuration %s: %s must be the literal '*' or a list of "
                "replicas in the following format: [partitionId]:[brokerId],[partitionId]:"
                "[brokerId],...",
                shown(list, printable), k->name, k->name);
}

/* Kafka's ConfigDef parse and validator messages ("Invalid value V for configuration K: ..."). */
static rn_kerr_t check_value(const topic_key_t *k, const char *value, rn_topics_result_t *res)
{
    char v[48];
    switch (k->type) {
    case RN_CONFIG_TYPE_INT:
    case RN_CONFIG_TYPE_LONG: {
        int64_t n;
        bool is_int = k->type == RN_CONFIG_TYPE_INT;
        if (rn_parse_int64(value, &n) != 0 || (is_int && (n < INT32_MIN || n > INT32_MAX)))
            return fail(res, RN_KERR_INVALID_CONFIG,
                        "Invalid value %s for configuration %s: Not a number of type %s",
                        shown(value, v), k->name, is_int ? "INT" : "LONG");
        if (n < k->min)
            return fail(res, RN_KERR_INVALID_CONFIG,
                        "Invalid value %s for configuration %s: Value must be at least %" PRId64,
                        shown(value, v), k->name, k->min);
        if (n > k->max)
            return fail(res, RN_KERR_INVALID_CONFIG,
                        "Invalid value %s for configuration %s: Value must be no more than "
                        "%" PRId64,
                        shown(value, v), k->name, k->max);
        return k->check != NULL ? k->check(k, value, res) : 0;
    }
    case RN_CONFIG_TYPE_BOOLEAN:
        if (strcasecmp(value, "true") != 0 && strcasecmp(value, "false") != 0)
            return fail(res, RN_KERR_INVALID_CONFIG,
                        "Invalid value %s for configuration %s: Expected value to be either true "
                        "or false",
                        shown(value, v), k->name);
        return 0;
    case RN_CONFIG_TYPE_DOUBLE: {
        char *end = NULL;
        double d = strtod(value, &end);
        if (value[0] == '\0' || *end != '\0' || !isfinite(d))
            return fail(res, RN_KERR_INVALID_CONFIG,
                        "Invalid value %s for configuration %s: Not a number of type DOUBLE",
                        shown(value, v), k->name);
        if (d < k->dmin || d > k->dmax)
            return fail(res, RN_KERR_INVALID_CONFIG,
                        "Invalid value %s for configuration %s: Value must be %s %g",
                        shown(value, v), k->name, d < k->dmin ? "at least" : "no more than",
                        d < k->dmin ? k->dmin : k->dmax);
        return 0;
    }
    case RN_CONFIG_TYPE_STRING:
        for (const char *const *c = k->choices; c != NULL && *c != NULL; c++)
            if (strcmp(value, *c) == 0)
                return 0;
        if (k->choices == NULL)
            return 0;
        char list[96];
        join_choices(k->choices, list, sizeof list);
        return fail(res, RN_KERR_INVALID_CONFIG,
                    "Invalid value %s for configuration %s: String must be one of: %s",
                    shown(value, v), k->name, list);
    case RN_CONFIG_TYPE_LIST: {
        if (k->check != NULL)
            return k->check(k, value, res);
        return check_cleanup_policy(k, value, res);
    }
    }
    return 0;
}

rn_kerr_t rn_topic_config_check(const char *key, const char *value, rn_topics_result_t *res)
{
    char k[48];
    const topic_key_t *def = key != NULL ? rn_topic_key_find(key) : NULL;
    if (def == NULL)
        return fail(res, RN_KERR_INVALID_CONFIG, "Unknown topic config name: %s",
                    key != NULL ? shown(key, k) : "null");
    if (value == NULL)
        return fail(res, RN_KERR_INVALID_CONFIG, "Null value not supported for topic configs: %s",
                    key);
    return check_value(def, value, res);
}

/* ---- Values in effect ---- */

typedef struct effective {
    char *value;               /* malloc'd; NULL only when no value can be found */
    int8_t source;             /* 1 TOPIC_CONFIG, 4 STATIC_BROKER_CONFIG, 5 DEFAULT_CONFIG */
    const char *synonym;       /* the first broker key behind the default, or NULL */
    const char *synonym_value; /* its value, borrowed from the broker config, or NULL */
    int8_t synonym_source;     /* 4 or 5 */
} effective_t;

/* The broker key's text converted to the topic key's: units multiplied, a negative retention
 * made -1, as Kafka's KafkaConfig derives them. */
static char *convert(const topic_key_t *k, const synonym_t *syn, const char *raw)
{
    if (syn->unit == 1 && !k->minus_one_floor)
        return rn_xstrdup(raw);
    int64_t v;
    if (rn_parse_int64(raw, &v) != 0)
        return rn_xstrdup(raw); /* config.c checked it; keep the text rather than guess */
    if (syn->unit != 1 && v > INT64_MAX / syn->unit)
        v = INT64_MAX;
    else if (syn->unit != 1 && v < INT64_MIN / syn->unit)
        v = INT64_MIN;
    else
        v *= syn->unit;
    if (k->minus_one_floor && v < 0)
        v = -1;
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return rn_xstrdup(buf);
}

static char *list_normalized(const char *value);

/* The value comes from the first broker key the configuration sets, else from the last one's
 * default (log.retention.hours carries retention.ms's), converted. What is reported follows
 * Kafka 4.4, which names only the first broker key (log.retention.ms for retention.ms), with
 * that key's own value and source, and takes the topic value's source from it alone: with just
 * log.retention.hours=2 set, retention.ms is 7200000 from DEFAULT_CONFIG, with no synonym. */
static effective_t effective(const rn_config_t *cfg, const topic_key_t *k,
                             const rn_topic_override_t *ov, size_t n)
{
    effective_t e = { .source = 5, .synonym_source = 5 };
    size_t nsyn = 0;
    while (nsyn < 3 && k->synonyms[nsyn].name != NULL)
        nsyn++;
    const synonym_t *from = NULL;
    for (size_t i = 0; i < nsyn && from == NULL; i++)
        if (rn_config_is_set(cfg, k->synonyms[i].name))
            from = &k->synonyms[i];
    if (from == NULL && nsyn > 0)
        from = &k->synonyms[nsyn - 1];
    const char *raw = from != NULL ? rn_config_value(cfg, from->name) : NULL;
    if (nsyn > 0) {
        e.synonym = k->synonyms[0].name;
        e.synonym_value = rn_config_value(cfg, e.synonym);
        e.synonym_source = rn_config_is_set(cfg, e.synonym) ? 4 : 5;
    }
    const char *over = rn_overrides_get(ov, n, k->name);
    if (over != NULL) {
        /* Kafka reports a LIST override as it parsed it. */
        e.value = k->type == RN_CONFIG_TYPE_LIST ? list_normalized(over) : rn_xstrdup(over);
        e.source = 1;
    } else if (raw != NULL) {
        e.value = convert(k, from, raw);
        e.source = e.synonym_source;
    } else {
        e.value = rn_xstrdup(k->kafka_default);
    }
    return e;
}

static int64_t as_int(const char *value)
{
    int64_t v = 0;
    rn_parse_int64(value, &v);
    return v;
}

static void set_typed(rn_topic_config_t *out, const char *key, const char *value)
{
    rn_log_config_t *log = &out->log;
    if (strcmp(key, "cleanup.policy") == 0) {
        if (rn_config_parse_cleanup_policy(value, out->cleanup_policy, sizeof out->cleanup_policy,
                                           &log->delete_enabled) != 0) {
            strcpy(out->cleanup_policy, "delete");
            log->delete_enabled = true;
        }
        log->compact = strstr(out->cleanup_policy, "compact") != NULL;
    } else if (strcmp(key, "delete.retention.ms") == 0) {
        log->delete_retention_ms = as_int(value);
    } else if (strcmp(key, "min.cleanable.dirty.ratio") == 0) {
        log->min_cleanable_ratio = strtod(value, NULL);
    } else if (strcmp(key, "min.compaction.lag.ms") == 0) {
        log->min_compaction_lag_ms = as_int(value);
    } else if (strcmp(key, "max.compaction.lag.ms") == 0) {
        log->max_compaction_lag_ms = as_int(value);
    } else if (strcmp(key, "flush.messages") == 0) {
        log->flush_messages = as_int(value);
    } else if (strcmp(key, "flush.ms") == 0) {
        log->flush_ms = as_int(value);
    } else if (strcmp(key, "index.interval.bytes") == 0) {
        log->index_interval_bytes = (int32_t)as_int(value);
    } else if (strcmp(key, "max.message.bytes") == 0) {
        out->max_message_bytes = (int32_t)as_int(value);
    } else if (strcmp(key, "message.timestamp.after.max.ms") == 0) {
        out->timestamp_after_max_ms = as_int(value);
    } else if (strcmp(key, "message.timestamp.before.max.ms") == 0) {
        out->timestamp_before_max_ms = as_int(value);
    } else if (strcmp(key, "message.timestamp.type") == 0) {
        out->log_append_time = strcmp(value, "LogAppendTime") == 0;
    } else if (strcmp(key, "min.insync.replicas") == 0) {
        out->min_insync_replicas = (int32_t)as_int(value);
    } else if (strcmp(key, "retention.bytes") == 0) {
        log->retention_bytes = as_int(value) < 0 ? -1 : as_int(value);
    } else if (strcmp(key, "retention.ms") == 0) {
        log->retention_ms = as_int(value) < 0 ? -1 : as_int(value);
    } else if (strcmp(key, "segment.bytes") == 0) {
        log->segment_bytes = as_int(value);
    } else if (strcmp(key, "segment.index.bytes") == 0) {
        log->max_index_bytes = (int32_t)as_int(value);
    } else if (strcmp(key, "segment.ms") == 0) {
        log->segment_ms = as_int(value);
    }
}

void rn_topic_config_compute(const rn_config_t *cfg, const rn_topic_override_t *ov, size_t n,
                             rn_topic_config_t *out)
{
    *out = (rn_topic_config_t){ 0 };
    for (size_t i = 0; i < rn_topic_nkeys; i++) {
        effective_t e = effective(cfg, &rn_topic_keys[i], ov, n);
        set_typed(out, rn_topic_keys[i].name, e.value);
        free(e.value);
    }
}

size_t rn_topic_config_describe(const rn_config_t *cfg, const rn_topic_override_t *ov, size_t n,
                                rn_config_entry_t **out)
{
    rn_config_entry_t *entries = rn_xcalloc(rn_topic_nkeys, sizeof *entries);
    for (size_t i = 0; i < rn_topic_nkeys; i++) {
        effective_t e = effective(cfg, &rn_topic_keys[i], ov, n);
        entries[i] = (rn_config_entry_t){
            .name = rn_xstrdup(rn_topic_keys[i].name),
            .value = e.value,
            .read_only = false,
            .is_default = e.source == 5,
            .source = e.source,
            .type = rn_topic_keys[i].type,
            .synonym_name = e.synonym != NULL ? rn_xstrdup(e.synonym) : NULL,
            .synonym_value = e.synonym_value != NULL ? rn_xstrdup(e.synonym_value) : NULL,
            .synonym_source = e.synonym_source,
            .doc = rn_xstrdup(rn_topic_keys[i].doc),
        };
    }
    *out = entries;
    return rn_topic_nkeys;
}

/* ---- Sets of overrides ---- */

rn_kerr_t rn_topic_config_check_set(const rn_config_t *cfg, const rn_topic_override_t *ov, size_t n,
                                    rn_topics_result_t *res)
{
    for (size_t i = 0; i < n; i++)
        if (rn_topic_config_check(ov[i].key, ov[i].value, res) != 0)
            return res->error_code;
    /* A broker without tiered storage refuses to put a topic on it (Kafka's LogConfig.validate,
     * after every value has parsed). */
    const char *remote = rn_overrides_get(ov, n, "remote.storage.enable");
    if (remote != NULL && strcasecmp(remote, "true") == 0)
        return fail(res, RN_KERR_INVALID_CONFIG,
                    "Tiered Storage functionality is disabled in the broker. Topic cannot be "
                    "configured with remote log storage.");
    /* Kafka's LogConfig.validateValues. */
    effective_t lo = effective(cfg, rn_topic_key_find("min.compaction.lag.ms"), ov, n);
    effective_t hi = effective(cfg, rn_topic_key_find("max.compaction.lag.ms"), ov, n);
    int64_t min_lag = as_int(lo.value), max_lag = as_int(hi.value);
    free(lo.value);
    free(hi.value);
    if (min_lag > max_lag)
        return fail(res, RN_KERR_INVALID_CONFIG,
                    "conflict topic config setting min.compaction.lag.ms (%" PRId64
                    ") > max.compaction.lag.ms (%" PRId64 ")",
                    min_lag, max_lag);
    return 0;
}

/* Java's String.trim. */
static char *trimmed(const char *s)
{
    while (*s != '\0' && (unsigned char)*s <= ' ')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (unsigned char)s[n - 1] <= ' ')
        n--;
    char *t = rn_xmalloc(n + 1);
    memcpy(t, s, n);
    t[n] = '\0';
    return t;
}

rn_kerr_t rn_topic_config_from_entries(const rn_config_t *cfg, const rn_topic_override_t *set,
                                       size_t n, bool skip_null, rn_topic_override_t **out,
                                       size_t *nout, rn_topics_result_t *res)
{
    rn_topic_override_t *ov = NULL;
    size_t count = 0;
    *out = NULL;
    *nout = 0;
    for (size_t i = 0; i < n; i++) {
        if (set[i].value == NULL && skip_null && set[i].key != NULL) {
            overrides_delete(ov, &count, set[i].key);
            continue;
        }
        char *value = set[i].value != NULL ? trimmed(set[i].value) : NULL;
        rn_kerr_t code = rn_topic_config_check(set[i].key, value, res);
        if (code == 0)
            overrides_set(&ov, &count, set[i].key, value);
        free(value);
        if (code != 0) {
            rn_overrides_free(ov, count);
            return code;
        }
    }
    if (rn_topic_config_check_set(cfg, ov, count, res) != 0) {
        rn_overrides_free(ov, count);
        return res->error_code;
    }
    *out = ov;
    *nout = count;
    return 0;
}

/* The items of a list being edited by APPEND or SUBTRACT. */
typedef struct item_list {
    char **items; /* malloc'd, each NUL-terminated */
    size_t n;
} item_list_t;

static bool list_find(const item_list_t *l, const char *item, size_t len, size_t *at)
{
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->items[i]) == len && memcmp(l->items[i], item, len) == 0) {
            *at = i;
            return true;
        }
    return false;
}

/* The current value's items, each kept once. */
static bool list_take(const char *item, size_t len, void *arg)
{
    item_list_t *l = arg;
    size_t at;
    if (!list_find(l, item, len, &at)) {
        l->items = rn_xrealloc(l->items, (l->n + 1) * sizeof *l->items);
        l->items[l->n] = rn_xmalloc(len + 1);
        memcpy(l->items[l->n], item, len);
        l->items[l->n++][len] = '\0';
    }
    return true;
}

/* An item of a SUBTRACT's operand: removed when present. */
static bool list_subtract(const char *item, size_t len, void *arg)
{
    item_list_t *l = arg;
    size_t at;
    if (list_find(l, item, len, &at)) {
        free(l->items[at]);
        memmove(&l->items[at], &l->items[at + 1], (l->n - at - 1) * sizeof *l->items);
        l->n--;
    }
    return true;
}

/* The operand of an APPEND as Kafka 4.4 splits it (Java's String.split(",")): every item, an
 * empty one included, except empty ones at the end; an empty operand is one empty item. An empty
 * item is kept so that the check of the result refuses it, as Kafka does. */
static void append_items(const char *operand, item_list_t *l)
{
    const char *end = operand + strlen(operand);
    if (*operand != '\0')
        while (end > operand && end[-1] == ',')
            end--;
    if (end == operand && *operand != '\0')
        return; /* commas alone: no items */
    for (const char *p = operand;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t len = comma != NULL ? (size_t)(comma - p) : (size_t)(end - p);
        const char *item = p;
        while (len > 0 && (unsigned char)*item <= ' ')
            item++, len--;
        while (len > 0 && (unsigned char)item[len - 1] <= ' ')
            len--;
        list_take(item, len, l);
        if (comma == NULL)
            return;
        p = comma + 1;
    }
}

/* Joins the items with "," and frees them. */
static char *list_join(item_list_t *l)
{
    rn_text_t out = { 0 };
    rn_text_append(&out, "", 0);
    for (size_t i = 0; i < l->n; i++) {
        if (i > 0)
            rn_text_append(&out, ",", 1);
        rn_text_append(&out, l->items[i], strlen(l->items[i]));
        free(l->items[i]);
    }
    free(l->items);
    *l = (item_list_t){ 0 };
    return out.ptr;
}

/* A LIST value as Kafka 4.4 reports it once parsed: items trimmed, each kept once, in order,
 * joined with "," (" compact , delete " is "compact,delete", "compact,compact" is "compact"). */
static char *list_normalized(const char *value)
{
    item_list_t l = { 0 };
    each_item(value, list_take, &l);
    return list_join(&l);
}

/* APPEND and SUBTRACT on a LIST value: the current items as Kafka's ConfigDef parses a LIST
 * (split on commas, trimmed, empty ones dropped), the operand's appended (append_items) or
 * subtracted; the result joined with ",". */
static char *list_op(const char *current, const char *operand, int8_t op)
{
    item_list_t l = { 0 };
    each_item(current, list_take, &l);
    if (op == OP_APPEND)
        append_items(operand, &l);
    else
        each_item(operand, list_subtract, &l);
    return list_join(&l);
}

rn_kerr_t rn_topic_config_apply_ops(const rn_config_t *cfg, const rn_topic_override_t *cur,
                                    size_t ncur, const rn_config_op_t *ops, size_t nops,
                                    rn_topic_override_t **out, size_t *nout,
                                    rn_topics_result_t *res)
{
    size_t count = ncur;
    rn_topic_override_t *ov = rn_overrides_dup(cur, ncur);
    rn_kerr_t code = 0;
    char k[48];
    for (size_t i = 0; i < nops && code == 0; i++) {
        const rn_config_op_t *op = &ops[i];
        if (op->key == NULL) {
            code = fail(res, RN_KERR_INVALID_REQUEST, "Null config name");
            break;
        }
        for (size_t j = 0; j < i && code == 0; j++)
            if (ops[j].key != NULL && strcmp(ops[j].key, op->key) == 0)
                code = fail(res, RN_KERR_INVALID_REQUEST, "Error due to duplicate config keys");
        if (code != 0)
            break;
        const topic_key_t *def = rn_topic_key_find(op->key);
        switch (op->op) {
        case OP_SET: {
            char *value = op->value != NULL ? trimmed(op->value) : NULL;
            if ((code = rn_topic_config_check(op->key, value, res)) == 0)
                overrides_set(&ov, &count, op->key, value);
            free(value);
            break;
        }
        case OP_DELETE:
            /* As in Kafka, deleting a key that has no override (even an unknown one) is a no-op. */
            overrides_delete(ov, &count, op->key);
            break;
        case OP_APPEND:
        case OP_SUBTRACT: {
            const char *verb = op->op == OP_APPEND ? "APPEND" : "SUBTRACT";
            if (def == NULL) {
                code = fail(res, RN_KERR_INVALID_CONFIG, "Unknown topic config name: %s",
                            shown(op->key, k));
                break;
            }
            if (def->type != RN_CONFIG_TYPE_LIST) {
                code = fail(res, RN_KERR_INVALID_CONFIG,
                            "Can't %s to key %s because its type is not LIST.", verb, def->name);
                break;
            }
            if (op->value == NULL) {
                code = fail(res, RN_KERR_INVALID_CONFIG, "Null value not supported for : %s",
                            def->name);
                break;
            }
            effective_t e = effective(cfg, def, ov, count);
            char *value = list_op(e.value, op->value, op->op);
            free(e.value);
            if ((code = rn_topic_config_check(def->name, value, res)) == 0)
                overrides_set(&ov, &count, def->name, value);
            free(value);
            break;
        }
        default:
            code = fail(res, RN_KERR_INVALID_REQUEST, "Unknown alter config operation %d", op->op);
            break;
        }
    }
    if (code == 0)
        code = rn_topic_config_check_set(cfg, ov, count, res);
    if (code != 0) {
        rn_overrides_free(ov, count);
        *out = NULL;
        *nout = 0;
        return code;
    }
    *out = ov;
    *nout = count;
    return 0;
}

/* ---- Public ---- */

size_t rn_topics_broker_config_entries(rn_topics_t *topics, rn_config_entry_t **out)
{
    size_t nkeys = 0;
    while (rn_config_key_at(nkeys) != NULL)
        nkeys++;
    rn_config_entry_t *entries = rn_xcalloc(nkeys + 1, sizeof *entries);
    size_t n = 0;
    for (size_t i = 0; i < nkeys; i++) {
        const rn_config_key_t *key = rn_config_key_at(i);
        if (key->unlisted)
            continue;
        const char *value = rn_config_value(topics->cfg, key->name);
        bool set = rn_config_is_set(topics->cfg, key->name);
        char *doc = rn_xmalloc(strlen(key->doc) + 32);
        snprintf(doc, strlen(key->doc) + 32, "%s%s",
                 key->in_effect ? "" : "Not in effect yet: ", key->doc);
        entries[n++] = (rn_config_entry_t){
            .name = rn_xstrdup(key->name),
            .value = value != NULL ? rn_xstrdup(value) : NULL,
            .read_only = true,
            .is_default = !set,
            .source = set ? 4 : 5,
            .type = key->type,
            .doc = doc,
        };
    }
    *out = entries;
    return n;
}

void rn_config_entries_free(rn_config_entry_t *entries, size_t n)
{
    if (entries == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(entries[i].name);
        free(entries[i].value);
        free(entries[i].synonym_name);
        free(entries[i].synonym_value);
        free(entries[i].doc);
    }
    free(entries);
}
