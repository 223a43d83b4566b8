/* SPDX-License-Identifier: Apache-2.0 */
/* Listener endpoints as Kafka writes them: NAME://HOST:PORT, where HOST is an IPv4 literal,
 * a bracketed IPv6 literal, a DNS name (advertised listeners only), or empty for all
 * interfaces. */
#ifndef RN_LISTENER_H
#define RN_LISTENER_H

#include <stdbool.h>

typedef struct rn_endpoint {
    char *host;   /* owned by the caller (malloc); without brackets */
    int port;
} rn_endpoint_t;

/* Parses exactly one NAME://HOST:PORT from a comma list. `advertised` allows DNS names and
 * forbids wildcards. Returns NULL with *ep filled, or a reason; a reason of "" means out of
 * memory. */
const char *rn_endpoint_parse(const char *value, bool advertised, rn_endpoint_t *ep);

#endif
