/* SPDX-License-Identifier: Apache-2.0 */
/* Kafka's value syntaxes that the broker's keys and the topic configs share (a LIST: commas,
 * entries trimmed, empty ones ignored; cleanup.policy), and the room's error formatter. */
#include "config/config.h"
#include "config/internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/parse.h"

void rn_config_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int rn_config_parse_cleanup_policy(const char *value, char *canon, size_t canon_len,
                                   bool *delete_enabled)
{
    bool compact = false, del = false;
    const char *p = value;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '\0') {
        for (;;) {
            /* Kafka splits a LIST on commas with any whitespace around them. */
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            while (n > 0 && (unsigned char)p[n - 1] <= ' ')
                n--;
            if (n == 7 && memcmp(p, "compact", 7) == 0)
                compact = true;
            else if (n == 6 && memcmp(p, "delete", 6) == 0)
                del = true;
            else
                return RN_EINVAL;
            if (comma == NULL)
                break;
            p = comma + 1;
            while ((unsigned char)*p <= ' ' && *p != '\0')
                p++;
        }
    }
    const char *c = compact && del ? "compact,delete" : compact ? "compact" : del ? "delete" : "";
    if (strlen(c) >= canon_len)
        return RN_EINVAL;
    strcpy(canon, c);
    if (delete_enabled != NULL)
        *delete_enabled = del;
    return 0;
}

size_t rn_config_list_first(const char *value, const char **first, size_t *first_len)
{
    size_t count = 0;
    for (const char *p = value;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *s = p;
        while (n > 0 && (unsigned char)*s <= ' ')
            s++, n--;
        while (n > 0 && (unsigned char)s[n - 1] <= ' ')
            n--;
        if (n > 0 && count++ == 0)
            *first = s, *first_len = n;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return count;
}

void rn_config_free_ip_overrides(rn_config_ip_override_t *overrides, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(overrides[i].host);
    free(overrides);
}

/* Java's Utils.validHostPattern: letters, digits and "-%._:" only (no brackets, no spaces). */
static bool valid_host(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && strchr("-%._:", c) == NULL)
            return false;
    }
    return true;
}

static void trim_span(const char **s, size_t *n)
{
    while (*n > 0 && (unsigned char)**s <= ' ')
        (*s)++, (*n)--;
    while (*n > 0 && (unsigned char)(*s)[*n - 1] <= ' ')
        (*n)--;
}

int rn_config_parse_ip_overrides(const char *value, rn_config_ip_override_t **out, size_t *count,
                                 char *why, size_t whylen)
{
    *out = NULL;
    *count = 0;
    /* Java's String.split drops empty entries at the end only: "a:1," is one entry, while
     * "a:1,,b:2" and ",a:1" have an empty one, which Kafka cannot split at a ':'. */
    size_t end = strlen(value);
    while (end > 0 && (value[end - 1] == ',' || (unsigned char)value[end - 1] <= ' '))
        end--;
    rn_config_ip_override_t *list = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (size_t pos = 0; end > 0 && pos <= end;) {
        const char *entry = value + pos;
        const char *comma = memchr(entry, ',', end - pos);
        size_t len = comma != NULL ? (size_t)(comma - entry) : end - pos;
        pos += len + 1;
        trim_span(&entry, &len);
        const char *colon = NULL;
        for (size_t i = len; i > 0 && colon == NULL; i--)
            if (entry[i - 1] == ':')
                colon = entry + i - 1;
        if (colon == NULL) {
            rn_config_set_err(why, whylen, "entry %zu is not host:count", n + 1);
            rc = RN_EINVAL;
            goto fail;
        }
        const char *host = entry, *num = colon + 1;
        size_t host_len = (size_t)(colon - entry), num_len = len - host_len - 1;
        trim_span(&host, &host_len);
        trim_span(&num, &num_len);
        char numbuf[32];
        int64_t max = 0;
        if (num_len == 0 || num_len >= sizeof numbuf ||
            (memcpy(numbuf, num, num_len), numbuf[num_len] = '\0',
             rn_parse_int64(numbuf, &max) != 0) ||
            max < INT32_MIN || max > INT32_MAX) {
            rn_config_set_err(why, whylen, "the count of entry %zu is not a 32-bit integer", n + 1);
            rc = RN_EINVAL;
            goto fail;
        }
        if (!valid_host(host, host_len)) {
            rn_config_set_err(why, whylen,
                              "invalid address '%.*s': letters, digits and -%%._: only",
                              (int)(host_len > 64 ? 64 : host_len), host);
            rc = RN_EINVAL;
            goto fail;
        }
        /* The same host again: its last count wins, as in Kafka's map. */
        size_t i = 0;
        while (i < n &&
               !(strlen(list[i].host) == host_len && memcmp(list[i].host, host, host_len) == 0))
            i++;
        if (i == n) {
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 4;
                rn_config_ip_override_t *grown = realloc(list, ncap * sizeof *list);
                if (grown == NULL) {
                    rc = RN_ENOMEM;
                    goto fail;
                }
                list = grown;
                cap = ncap;
            }
            if ((list[n].host = strndup(host, host_len)) == NULL) {
                rc = RN_ENOMEM;
                goto fail;
            }
            n++;
        }
        list[i].max = (int32_t)max;
    }
    *out = list;
    *count = n;
    return 0;
fail:
    if (rc == RN_ENOMEM)
        rn_config_set_err(why, whylen, "out of memory");
    rn_config_free_ip_overrides(list, n);
    return rc;
}
