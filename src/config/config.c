/* SPDX-License-Identifier: Apache-2.0 */
/* Configuration: validation against the table of known keys (the table is in keys.c, the
 * syntax in props.c, listeners in listener.c, value syntaxes shared with topic configs in
 * values.c).
 *
 * keys.c's `rn_config_keys` is the one place a key is declared: name, documented default, one-line
 * doc, and how rn_config_build checks it. rn_config_build walks the table, not the properties, so
 * every key is checked exactly once and in a fixed order, and an absent key goes through the same
 * code with the table's default. A later issue adds a key with one table row (plus a field in
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
#include <float.h>
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

const rn_config_key_t *rn_config_key_at(size_t i)
{
    return i < rn_config_nkeys ? &rn_config_keys[i].pub : NULL;
}

const rn_config_key_t *rn_config_key_find(const char *name)
{
    const key_def_t *def = rn_config_key_def(name);
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
        bool low = def->dmin_open ? v <= def->dmin : v < def->dmin;
        if ((low || v > def->dmax) && def->dmax == DBL_MAX)
            return invalid(b, def->pub.name, value, "must be %s %g",
                           def->dmin_open ? "greater than" : "at least", def->dmin);
        if ((low || v > def->dmax) && def->dmin_open)
            return invalid(b, def->pub.name, value, "must be greater than %g and at most %g",
                           def->dmin, def->dmax);
        if (low || v > def->dmax)
            return invalid(b, def->pub.name, value, "must be between %g and %g", def->dmin,
                           def->dmax);
        if (def->field_size != 0) {
            assert(def->field_size == sizeof(double));
            double *field = field_of(b, def);
            *field = v;
        }
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

int rn_config_apply_listeners(build_t *b, const key_def_t *def, const char *value)
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

int rn_config_apply_advertised_listeners(build_t *b, const key_def_t *def, const char *value)
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

/* runnel.control.listener: "" (off), or [http://]HOST:PORT with an IP literal (IPv6 in
 * brackets) or localhost, port 0 for an ephemeral one. */
int rn_config_apply_control_listener(build_t *b, const key_def_t *def, const char *value)
{
    b->cfg.control_port = -1;
    if (value == NULL || value[0] == '\0')
        return 0;
    const char *v = strncmp(value, "http://", 7) == 0 ? value + 7 : value;
    const char *colon = strrchr(v, ':');
    if (colon == NULL)
        return invalid(b, def->pub.name, value, "expected HOST:PORT");
    char host[64];
    const char *h = v;
    size_t hlen = (size_t)(colon - v);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof host)
        return invalid(b, def->pub.name, value, "expected HOST:PORT");
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    struct in6_addr a6;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) != 1 && inet_pton(AF_INET6, host, &a6) != 1)
        return invalid(b, def->pub.name, value, "the host must be an IP address or localhost");
    int64_t port;
    if (rn_parse_int64(colon + 1, &port) != 0 || port < 0 || port > 65535)
        return invalid(b, def->pub.name, value, "the port must be 0 to 65535");
    if ((b->cfg.control_host = strdup(host)) == NULL)
        return oom(b);
    b->cfg.control_port = (int)port;
    return 0;
}

/* ---- The other keys ---- */

/* node.id is KRaft's name, broker.id the older one; Kafka accepts both when they agree. */
int rn_config_apply_node_id(build_t *b, const key_def_t *def, const char *value)
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

int rn_config_apply_cluster_id(build_t *b, const key_def_t *def, const char *value)
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
int rn_config_apply_log_dirs(build_t *b, const key_def_t *def, const char *value)
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

int rn_config_apply_num_network_threads(build_t *b, const key_def_t *def, const char *value)
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
int rn_config_apply_idle_ms(build_t *b, const key_def_t *def, const char *value)
{
    int64_t ms = 0;
    int rc = get_int(b, def->pub.name, value, -1, INT64_MAX, &ms);
    if (rc != 0)
        return rc;
    b->cfg.connections_max_idle_ms = ms == -1 ? 0 : ms;
    return 0;
}

int rn_config_apply_log_level(build_t *b, const key_def_t *def, const char *value)
{
    if (rn_log_level_parse(value, &b->cfg.log_level) != 0)
        return invalid(b, def->pub.name, value, "must be error, warn, info, debug or trace");
    return 0;
}

/* ---- Topic and log defaults ---- */

/* log.index.interval.bytes is Kafka's name; index.interval.bytes is what earlier Runnel files
 * used (it is the topic key's name), so it still counts when the Kafka name is not set. */
int rn_config_apply_index_interval(build_t *b, const key_def_t *def, const char *value)
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

int rn_config_apply_cleanup_policy(build_t *b, const key_def_t *def, const char *value)
{
    if (rn_config_parse_cleanup_policy(value, b->cfg.log_cleanup_policy,
                                       sizeof b->cfg.log_cleanup_policy,
                                       &b->cfg.log_defaults.delete_enabled) != 0)
        return invalid(b, def->pub.name, value, "must be a comma list of delete and compact");
    b->cfg.log_defaults.compact = strstr(b->cfg.log_cleanup_policy, "compact") != NULL;
    return 0;
}

int rn_config_apply_timestamp_type(build_t *b, const key_def_t *def, const char *value)
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
int rn_config_apply_replication_factor(build_t *b, const key_def_t *def, const char *value)
{
    int64_t v = 0;
    int rc = get_int(b, def->pub.name, value, 1, INT16_MAX, &v);
    if (rc == 0)
        b->cfg.default_replication_factor = (int16_t)v;
    return rc;
}

/* Kafka's gzip levels: Deflater's 1 to 9, or -1 for zlib's default. */
int rn_config_apply_gzip_level(build_t *b, const key_def_t *def, const char *value)
{
    int64_t v = 0;
    int rc = get_int(b, def->pub.name, value, INT32_MIN, INT32_MAX, &v);
    if (rc == 0 && v != -1 && (v < 1 || v > 9))
        rc = invalid(b, def->pub.name, value, "must be between 1 and 9, or -1");
    return rc;
}

/* Kafka's KafkaConfig.validateValues requires log.cleaner.dedupe.buffer.size /
 * log.cleaner.threads > 1 MiB (integer division), the smallest key map worth a thread. The key
 * itself has no range in Kafka, so any integer that passes this is accepted. */
int rn_config_apply_dedupe_buffer_size(build_t *b, const key_def_t *def, const char *value)
{
    int64_t v = 0;
    int rc = get_int(b, def->pub.name, value, INT64_MIN, INT64_MAX, &v);
    if (rc != 0)
        return rc;
    int32_t threads = b->cfg.log_cleaner_threads;
    assert(threads >= 1); /* checked first: its row comes before this one */
    if (v / threads <= 1048576)
        return invalid(b, def->pub.name, value,
                       "must be at least 1MB per cleaner thread: %" PRId64
                       " or more with log.cleaner.threads=%" PRId32,
                       (int64_t)1048577 * threads, threads);
    b->cfg.log_cleaner_dedupe_buffer_size = v;
    return 0;
}

/* ---- Connection limits ---- */

/* Kafka's KafkaConfig.validateValues: max.connections.per.ip may be 0 only when overrides are
 * set (so that only the listed hosts can connect), and every override names a plausible host.
 * Hostnames are resolved when the listener starts (broker.c), as Kafka resolves them when its
 * socket server starts. */
int rn_config_apply_ip_overrides(build_t *b, const key_def_t *def, const char *value)
{
    char why[160];
    int rc = rn_config_parse_ip_overrides(value != NULL ? value : "", &b->cfg.ip_overrides,
                                          &b->cfg.n_ip_overrides, why, sizeof why);
    if (rc == RN_ENOMEM)
        return oom(b);
    if (rc != 0)
        return invalid(b, def->pub.name, value, "%s", why);
    if (b->cfg.max_connections_per_ip == 0 && b->cfg.n_ip_overrides == 0)
        return invalid(b, "max.connections.per.ip", "0",
                       "can be 0 only if max.connections.per.ip.overrides is set");
    return 0;
}

/* Kafka's KafkaConfig.validateValues: a bound on queued request bytes (any value above 0) must
 * leave room for the largest request; 0 and negative values mean no bound. */
int rn_config_apply_queued_max_request_bytes(build_t *b, const key_def_t *def, const char *value)
{
    int64_t v = 0;
    int rc = get_int(b, def->pub.name, value, INT64_MIN, INT64_MAX, &v);
    if (rc != 0)
        return rc;
    if (v > 0 && v < b->cfg.socket_request_max_bytes)
        return invalid(b, def->pub.name, value,
                       "must be at least socket.request.max.bytes (%" PRId64 "), or -1",
                       b->cfg.socket_request_max_bytes);
    b->cfg.queued_max_request_bytes = v;
    return 0;
}

static size_t key_index(const char *name)
{
    const key_def_t *def = rn_config_key_def(name);
    assert(def != NULL);
    return (size_t)(def - rn_config_keys);
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
    const key_def_t *def = rn_config_key_def(name);
    if (def == NULL || config->values == NULL)
        return NULL;
    return config->values[def - rn_config_keys];
}

bool rn_config_is_set(const rn_config_t *config, const char *name)
{
    const key_def_t *def = rn_config_key_def(name);
    return def != NULL && config->set != NULL && config->set[def - rn_config_keys];
}

/* ---- Build ---- */

int rn_config_build(const runnel_config_t *props, rn_config_t *out, char *err, size_t errlen)
{
    build_t b = { .props = props, .err = err, .errlen = errlen };
    int rc = 0;
    b.cfg.values = calloc(rn_config_nkeys, sizeof *b.cfg.values);
    b.cfg.set = calloc(rn_config_nkeys, sizeof *b.cfg.set);
    if (b.cfg.values == NULL || b.cfg.set == NULL)
        rc = oom(&b);
    for (size_t i = 0; i < rn_config_nkeys && rc == 0; i++) {
        const key_def_t *def = &rn_config_keys[i];
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
            if (rn_config_key_def(props->props[i].key) != NULL)
                continue;
            char shown[MAX_QUOTED_BYTES * 4 + 8];
            quote(shown, sizeof shown, props->props[i].key);
            rn_log(RN_LOG_WARN, "config", "unknown key '%s' ignored", shown);
        }
        /* Kafka's keys that Runnel checks and reports (DescribeConfigs says "Not in effect
         * yet") but does not act on: a user who sets one expects something to happen. */
        for (size_t i = 0; i < rn_config_nkeys; i++)
            if (b.cfg.set[i] && !rn_config_keys[i].pub.in_effect)
                rn_log(RN_LOG_WARN, "config", "key '%s' is accepted but has no effect yet",
                       rn_config_keys[i].pub.name);
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
    free(config->control_host);
    free(config->advertised_host);
    free(config->cluster_id);
    free(config->log_dir);
    rn_config_free_ip_overrides(config->ip_overrides, config->n_ip_overrides);
    if (config->values != NULL)
        for (size_t i = 0; i < rn_config_nkeys; i++)
            free(config->values[i]);
    free(config->values);
    free(config->set);
    *config = (rn_config_t){ 0 };
}
