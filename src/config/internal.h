/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/config/: listener endpoints as Kafka writes them, NAME://HOST:PORT, where HOST
 * is an IPv4 literal, a bracketed IPv6 literal, a DNS name (advertised listeners only), or empty
 * for all interfaces (listener.c), the error formatter the room shares, and the table of known
 * keys (keys.c) that config.c builds the configuration with. Nothing outside this
 * room includes it (its unit tests may). */
#ifndef RN_CONFIG_INTERNAL_H
#define RN_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

typedef struct rn_endpoint {
    char *host; /* owned by the caller (malloc); without brackets */
    int port;
} rn_endpoint_t;

/* Parses exactly one NAME://HOST:PORT from a comma list. `advertised` allows DNS names and
 * forbids wildcards. Returns 0 with *ep filled, RN_EINVAL with the reason (static text) in
 * *why, or RN_ENOMEM; *ep is untouched on failure. */
int rn_endpoint_parse(const char *value, bool advertised, rn_endpoint_t *ep, const char **why);

/* Formats a one-line error into `err` (nothing when err is NULL or errlen 0). */
void rn_config_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- The table of known keys (keys.c), read by config.c ---- */

typedef struct build {
    const runnel_config_t *props;
    rn_config_t cfg;
    char *err;
    size_t errlen;
    size_t extra_log_dirs; /* directories of log.dirs after the first, for a warning */
} build_t;

/* For KEY_INT32, KEY_INT64, KEY_BOOL and KEY_DOUBLE, a row without a field (field_size 0) is
 * checked but stored nowhere: its text (rn_config_value) is what other code reads, or nothing does
 * yet. A key without a static default is not checked when absent. */
typedef enum key_kind {
    KEY_INT32,  /* an int32_t field in [min, max] */
    KEY_INT64,  /* an int64_t field in [min, max] */
    KEY_BOOL,   /* a bool field: true or false, any case */
    KEY_DOUBLE, /* a double field: a finite decimal number in [dmin, dmax] ((dmin, dmax] with
                   dmin_open) */
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
    bool dmin_open;             /* KEY_DOUBLE: dmin itself is refused */
    const char *const *choices; /* KEY_ENUM: NULL-terminated */
    size_t field, field_size;   /* KEY_INT32, KEY_INT64, KEY_BOOL, KEY_DOUBLE: where in rn_config_t;
                                   0: nowhere */
    key_apply_fn apply;         /* KEY_CUSTOM */
};

#define FIELD(name) \
    .field = offsetof(rn_config_t, name), .field_size = sizeof(((rn_config_t *)0)->name)

extern const key_def_t rn_config_keys[];
extern const size_t rn_config_nkeys;
/* The row of key `name`, or NULL. */
const key_def_t *rn_config_key_def(const char *name);
/* The checks of KEY_CUSTOM rows (config.c). */
int rn_config_apply_listeners(build_t *b, const key_def_t *def, const char *value);
int rn_config_apply_advertised_listeners(build_t *b, const key_def_t *def, const char *value);
int rn_config_apply_control_listener(build_t *b, const key_def_t *def, const char *value);
int rn_config_apply_node_id(build_t *b, const key_def_t *def, const char *value);
int rn_config_apply_cluster_id(build_t *b, const key_def_t *def, const char *value);
int rn_config_apply_log_dirs(build_t *b, const key_def_t *def, const char *value);
int rn_config_apply_num_network_threads(build_t *b, const key_def_t *def, const char *value);
int rn_config_apply_idle_ms(build_t *b, const key_def_t *def, const char *value);
int rn_config_apply_log_level(build_t *b, const key_def_t *def, const char *value);
int rn_config_apply_index_interval(build_t *b, const key_def_t *def, const char *value);
int rn_config_apply_cleanup_policy(build_t *b, const key_def_t *def, const char *value);
int rn_config_apply_timestamp_type(build_t *b, const key_def_t *def, const char *value);
int rn_config_apply_replication_factor(build_t *b, const key_def_t *def, const char *value);
int rn_config_apply_gzip_level(build_t *b, const key_def_t *def, const char *value);
int rn_config_apply_dedupe_buffer_size(build_t *b, const key_def_t *def, const char *value);
int rn_config_apply_ip_overrides(build_t *b, const key_def_t *def, const char *value);
int rn_config_apply_queued_max_request_bytes(build_t *b, const key_def_t *def, const char *value);

#endif
