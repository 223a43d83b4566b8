/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing of `listeners` and `advertised.listeners` entries (see internal.h). */
#include "config/internal.h"

#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/err.h"
#include "util/parse.h"

#define MAX_HOSTNAME_BYTES 253

static bool is_ipv4(const char *s)
{
    struct in_addr a;
    return inet_pton(AF_INET, s, &a) == 1;
}

static bool is_ipv6(const char *s)
{
    struct in6_addr a;
    return inet_pton(AF_INET6, s, &a) == 1;
}

/* A DNS name as RFC 1123 allows it, plus '_' (seen in container names). */
static bool is_hostname(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MAX_HOSTNAME_BYTES)
        return false;
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '.' || *s == '_'))
            return false;
    return true;
}

/* The endpoint's reason for refusal (static text), NULL with *ep filled (host owned by the
 * caller), or OUT_OF_MEMORY. */
static const char OUT_OF_MEMORY[] = "out of memory";

static const char *parse(const char *value, bool advertised, rn_endpoint_t *ep)
{
    const char *entry = NULL;
    size_t entry_len = 0;
    size_t count = rn_config_list_first(value, &entry, &entry_len);
    if (count == 0)
        return "expected NAME://HOST:PORT";
    if (count > 1)
        return "only one listener is supported";

    const char *sep = NULL;
    for (size_t i = 0; i + 3 <= entry_len; i++)
        if (memcmp(entry + i, "://", 3) == 0) {
            sep = entry + i;
            break;
        }
    if (sep == NULL || sep == entry)
        return "expected NAME://HOST:PORT";
    if ((size_t)(sep - entry) != strlen("PLAINTEXT") || strncasecmp(entry, "PLAINTEXT", 9) != 0)
        return "only PLAINTEXT is supported";

    const char *rest = sep + 3, *end = entry + entry_len;
    const char *host_start, *host_end, *port_start;
    bool bracketed = false;
    if (rest < end && *rest == '[') {
        const char *close = memchr(rest, ']', (size_t)(end - rest));
        if (close == NULL)
            return "missing ']' after an IPv6 address";
        host_start = rest + 1;
        host_end = close;
        if (close + 1 == end)
            return "missing port";
        if (close[1] != ':')
            return "expected ':' and a port after ']'";
        port_start = close + 2;
        bracketed = true;
    } else {
        const char *colon = NULL;
        for (const char *p = rest; p < end; p++)
            if (*p == ':')
                colon = p;
        if (colon == NULL)
            return "missing port";
        if (memchr(rest, ':', (size_t)(colon - rest)) != NULL)
            return "an IPv6 address needs brackets, e.g. PLAINTEXT://[::1]:9092";
        host_start = rest;
        host_end = colon;
        port_start = colon + 1;
    }
    if (port_start == end)
        return "missing port";

    char port_text[32];
    if ((size_t)(end - port_start) >= sizeof port_text)
        return "port must be between 0 and 65535";
    memcpy(port_text, port_start, (size_t)(end - port_start));
    port_text[end - port_start] = '\0';
    int64_t port = 0;
    int r = rn_parse_int64(port_text, &port);
    if (r != 0 && r != -ERANGE)
        return "port is not a number";
    if (r == -ERANGE || port < 0 || port > 65535)
        return "port must be between 0 and 65535";

    char *host = strndup(host_start, (size_t)(host_end - host_start));
    if (host == NULL)
        return OUT_OF_MEMORY;
    const char *why = NULL;
    if (bracketed) {
        if (!is_ipv6(host))
            why = "not an IPv6 address between the brackets";
        else if (advertised && strcmp(host, "::") == 0)
            why = "cannot advertise the wildcard address; name a host clients can reach";
    } else if (host[0] == '\0') {
        /* Listener: all interfaces. Advertised: Kafka would use the machine's name; we use
         * loopback, which always works on one machine (documented in runnel.properties). */
        if (advertised) {
            free(host);
            host = strdup("127.0.0.1");
        }
    } else if (!advertised && strcasecmp(host, "localhost") == 0) {
        /* Binding "localhost" would depend on the resolver (::1 or 127.0.0.1); pin it. */
        free(host);
        host = strdup("127.0.0.1");
    } else if (!is_ipv4(host)) {
        if (!advertised)
            why = "host must be empty, an IPv4 address, [IPv6 address] or localhost";
        else if (!is_hostname(host))
            why = "host must be a DNS name, an IPv4 address or [IPv6 address]";
    } else if (advertised && strcmp(host, "0.0.0.0") == 0) {
        why = "cannot advertise the wildcard address; name a host clients can reach";
    }
    if (host == NULL)
        return OUT_OF_MEMORY;
    if (why != NULL) {
        free(host);
        return why;
    }
    ep->host = host;
    ep->port = (int)port;
    return NULL;
}

int rn_endpoint_parse(const char *value, bool advertised, rn_endpoint_t *ep, const char **why)
{
    const char *reason = parse(value, advertised, ep);
    if (reason == OUT_OF_MEMORY)
        return RN_ENOMEM;
    *why = reason;
    return reason == NULL ? 0 : RN_EINVAL;
}
