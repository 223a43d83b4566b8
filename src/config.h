/* SPDX-License-Identifier: Apache-2.0 */
/* Broker configuration: Java-properties text in, typed values out. Key names and defaults are
 * Kafka's (conf/runnel.properties documents each). Validation happens once, in rn_config_build,
 * so a bad value stops the broker before anything is bound or written. */
#ifndef RN_CONFIG_H
#define RN_CONFIG_H

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

/* A key the broker accepts, for documentation and, later, DescribeConfigs. */
typedef struct rn_config_key {
    const char *name;
    const char *default_value;  /* as a properties value; NULL: none, or computed (`doc` says how) */
    const char *doc;            /* one line */
    bool in_effect;             /* false: accepted without a warning but not used yet */
} rn_config_key_t;

/* The i-th known key in table order, or NULL past the end. Static storage. */
const rn_config_key_t *rn_config_key_at(size_t i);
/* The known key called `name`, or NULL. */
const rn_config_key_t *rn_config_key_find(const char *name);

typedef struct rn_config {
    char *listener_host;            /* listeners: "" (all interfaces), an IPv4 or IPv6 literal
                                     * without brackets; "localhost" arrives as "127.0.0.1" */
    int listener_port;              /* 0..65535; 0: ephemeral */
    char *advertised_host;          /* advertised.listeners, never NULL after a build: derived
                                     * from the listener when absent (wildcards become loopback) */
    int advertised_port;            /* 1..65535, or -1: the bound port */
    int32_t node_id;                /* node.id or broker.id; default 1 */
    char *cluster_id;               /* cluster.id; NULL: read or made in the data dir */
    char *log_dir;                  /* first of log.dirs (or log.dir); default "./data" */
    int num_network_threads;        /* 1..256; default: number of online CPUs (at most 256) */
    int64_t socket_request_max_bytes;   /* 1..2^31-1; default 104857600 */
    int64_t connections_max_idle_ms;    /* default 600000; 0: never close idle connections */
    bool auto_create_topics_enable;     /* default true */
    int32_t num_partitions;             /* >= 1; default 1 */
    rn_log_level_t log_level;           /* log.level; default info */
} rn_config_t;

/* Checks every known key of `props` and fills `out` with typed values and defaults. Values are
 * trimmed first, as Kafka does. On success, unknown keys are logged as warnings naming the key
 * (unless `log.level` is error). Returns 0, RN_ENOMEM, or RN_ECONFIG with a one-line message
 * `invalid value for KEY: 'VALUE' (reason)` in `err`; on failure `out` holds nothing to free
 * and nothing has been logged. Does not set the process log level: the caller does. */
int rn_config_build(const runnel_config_t *props, rn_config_t *out, char *err, size_t errlen);
/* Frees the strings of a built config and zeroes it; safe on a zeroed or deinited config. */
void rn_config_deinit(rn_config_t *config);

#endif
