/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/config/: listener endpoints as Kafka writes them, NAME://HOST:PORT, where HOST
 * is an IPv4 literal, a bracketed IPv6 literal, a DNS name (advertised listeners only), or empty
 * for all interfaces (listener.c). Nothing outside this room includes it (its unit tests may). */
#ifndef RN_CONFIG_INTERNAL_H
#define RN_CONFIG_INTERNAL_H

#include <stdbool.h>

typedef struct rn_endpoint {
    char *host;   /* owned by the caller (malloc); without brackets */
    int port;
} rn_endpoint_t;

/* Parses exactly one NAME://HOST:PORT from a comma list. `advertised` allows DNS names and
 * forbids wildcards. Returns 0 with *ep filled, RN_EINVAL with the reason (static text) in
 * *why, or RN_ENOMEM; *ep is untouched on failure. */
int rn_endpoint_parse(const char *value, bool advertised, rn_endpoint_t *ep, const char **why);

#endif
