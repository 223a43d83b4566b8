/* SPDX-License-Identifier: Apache-2.0 */
/* Kafka's value syntaxes that the broker's keys and the topic configs share (a LIST: commas,
 * entries trimmed, empty ones ignored; cleanup.policy), and the room's error formatter. */
#include "config/config.h"
#include "config/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

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
