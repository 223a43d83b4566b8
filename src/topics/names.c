/* SPDX-License-Identifier: Apache-2.0 */
/* Topic names and ids as Kafka defines them, and the small text helpers the topic file uses.
 *
 * A topic id is a version-4 UUID shown as Kafka's Uuid.toString shows it: 16 bytes in URL-safe
 * base64 without padding (22 characters), so a log line or the topic file shows the same text
 * as kafka-topics.sh --describe. */
#include "topics/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/xmalloc.h"

static bool legal_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

bool rn_topic_name_internal(rn_str_t name)
{
    return rn_str_eq_cstr(name, "__consumer_offsets") ||
           rn_str_eq_cstr(name, "__transaction_state");
}

/* Kafka's messages (org.apache.kafka.common.internals.Topic.validate), so clients show the same
 * text they would get from Kafka. */
bool rn_topic_name_valid(rn_str_t name, char *why, size_t whylen)
{
    if (name.ptr == NULL || name.len == 0) {
        snprintf(why, whylen, "Topic name is illegal, it can't be empty");
        return false;
    }
    if ((name.len == 1 && name.ptr[0] == '.') ||
        (name.len == 2 && name.ptr[0] == '.' && name.ptr[1] == '.')) {
        snprintf(why, whylen, "Topic name cannot be \".\" or \"..\"");
        return false;
    }
    if (name.len > RN_TOPIC_NAME_MAX) {
        snprintf(why, whylen, "Topic name is illegal, it can't be longer than %d characters",
                 RN_TOPIC_NAME_MAX);
        return false;
    }
    for (size_t i = 0; i < name.len; i++)
        if (!legal_char(name.ptr[i])) {
            snprintf(why, whylen,
                     "Topic name is illegal, it contains a character other than ASCII "
                     "alphanumerics, '.', '_' and '-'");
            return false;
        }
    return true;
}

void rn_topic_name_collision_key(rn_str_t name, char out[RN_TOPIC_NAME_MAX + 1])
{
    size_t n = name.len < RN_TOPIC_NAME_MAX ? name.len : RN_TOPIC_NAME_MAX;
    for (size_t i = 0; i < n; i++)
        out[i] = name.ptr[i] == '.' ? '_' : name.ptr[i];
    out[n] = '\0';
}

bool rn_uuid_is_zero(const rn_uuid_t *id)
{
    for (size_t i = 0; i < sizeof id->b; i++)
        if (id->b[i] != 0)
            return false;
    return true;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int rn_topic_id_make(rn_uuid_t *id)
{
    for (;;) {
        size_t got = 0;
        while (got < sizeof id->b) {
            ssize_t n = getrandom(id->b + got, sizeof id->b - got, 0);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return -errno;
            }
            got += (size_t)n;
        }
        id->b[6] = (uint8_t)((id->b[6] & 0x0f) | 0x40); /* version 4 */
        id->b[8] = (uint8_t)((id->b[8] & 0x3f) | 0x80); /* IETF variant */
        /* Kafka's Uuid.randomUuid also refuses ZERO_UUID and METADATA_TOPIC_ID (0, 1), which the
         * version bits already exclude, and ids whose text starts with '-' (62 in the top six
         * bits), which command-line tools would read as an option. */
        if (!rn_uuid_is_zero(id) && (id->b[0] >> 2) != 62)
            return 0;
    }
}

void rn_uuid_format(const rn_uuid_t *id, char out[23])
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < sizeof id->b; i++) {
        acc = (acc << 8) | id->b[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url[(acc >> bits) & 0x3f];
        }
    }
    if (bits > 0)
        out[o++] = b64url[(acc << (6 - bits)) & 0x3f];
    out[o] = '\0';
}

static int b64url_value(char c)
{
    const char *p = c != '\0' ? strchr(b64url, c) : NULL;
    return p != NULL ? (int)(p - b64url) : -1;
}

bool rn_uuid_parse(const char *s, size_t len, rn_uuid_t *out)
{
    if (len != 22)
        return false;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value(s[i]);
        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->b[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* 22 characters carry 132 bits: the last 4 must be zero, or two texts would name one id. */
    return o == 16 && (acc & ((1u << bits) - 1)) == 0;
}

/* ---- Text ---- */

static void reserve(rn_text_t *t, size_t more)
{
    if (t->len + more + 1 <= t->cap)
        return;
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->len + more + 1)
        cap *= 2;
    t->ptr = rn_xrealloc(t->ptr, cap);
    t->cap = cap;
}

void rn_text_append(rn_text_t *t, const char *s, size_t len)
{
    reserve(t, len);
    memcpy(t->ptr + t->len, s, len);
    t->len += len;
    t->ptr[t->len] = '\0';
}

void rn_text_printf(rn_text_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    reserve(t, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(t->ptr + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

static bool plain_byte(unsigned char c)
{
    return c > ' ' && c < 0x7f && c != '%' && c != '=';
}

void rn_text_escape(rn_text_t *t, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (plain_byte(*p)) {
            rn_text_append(t, (const char *)p, 1);
        } else {
            char esc[3] = { '%', hex[*p >> 4], hex[*p & 15] };
            rn_text_append(t, esc, 3);
        }
    }
}

void rn_text_free(rn_text_t *t)
{
    free(t->ptr);
    *t = (rn_text_t){ 0 };
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

char *rn_unescape(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hex_value(s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                goto bad;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (plain_byte(c)) {
            out[o++] = (char)c;
        } else {
            goto bad;
        }
    }
    out[o] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}
