/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/config/: listener endpoints as Kafka writes them, NAME://HOST:PORT, where HOST
 * is an IPv4 literal, a bracketed IPv6 literal, a DNS name (advertised listeners only), or empty
 * for all interfaces (listener.c), and the error formatter the room shares. Nothing outside this
 * room includes it (its unit tests may). */
#ifndef RN_CONFIG_INTERNAL_H
#define RN_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

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

#endif
