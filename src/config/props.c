/* SPDX-License-Identifier: Apache-2.0 */
/* The public runnel_config_t: properties as given, in Java-properties syntax, one entry per
 * key (a later set wins). Typed validation of the values is config.c's job. */
#include "config/config.h"
#include "config/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* A configuration file is written by an operator, but a limit still keeps a wrong path (a log
 * file, /dev/zero) from eating memory. */
#define MAX_CONFIG_FILE_BYTES (16u << 20)

/* ---- The property list ---- */

runnel_config_t *runnel_config_new(void)
{
    return calloc(1, sizeof(runnel_config_t));
}

void runnel_config_free(runnel_config_t *config)
{
    if (config == NULL)
        return;
    for (size_t i = 0; i < config->count; i++) {
        free(config->props[i].key);
        free(config->props[i].value);
    }
    free(config->props);
    free(config);
}

static rn_prop_t *find_prop(const runnel_config_t *config, const char *key)
{
    for (size_t i = 0; i < config->count; i++)
        if (strcmp(config->props[i].key, key) == 0)
            return &config->props[i];
    return NULL;
}

const char *rn_props_get(const runnel_config_t *config, const char *key)
{
    const rn_prop_t *prop = find_prop(config, key);
    return prop ? prop->value : NULL;
}

/* Stores `key` and `value`, taking ownership of both on every path. */
static int set_owned(runnel_config_t *config, char *key, char *value)
{
    rn_prop_t *prop = find_prop(config, key);
    if (prop != NULL) {
        free(key);
        free(prop->value);
        prop->value = value;
        return 0;
    }
    if (config->count == config->cap) {
        size_t cap = config->cap ? config->cap * 2 : 16;
        rn_prop_t *props = realloc(config->props, cap * sizeof *props);
        if (props == NULL) {
            free(key);
            free(value);
            return RN_ENOMEM;
        }
        config->props = props;
        config->cap = cap;
    }
    config->props[config->count++] = (rn_prop_t){ .key = key, .value = value };
    return 0;
}

int runnel_config_set(runnel_config_t *config, const char *key, const char *value)
{
    if (config == NULL || key == NULL || value == NULL || key[0] == '\0')
        return RN_EINVAL;
    char *k = strdup(key);
    char *v = strdup(value);
    if (k == NULL || v == NULL) {
        free(k);
        free(v);
        return RN_ENOMEM;
    }
    return set_owned(config, k, v);
}

/* ---- Java-properties syntax ---- */

/* Java's whitespace for properties: space, tab and form feed (not newlines: they end lines). */
static bool is_prop_space(char c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

/* Steps over one line terminator: \n, \r, or \r\n. */
static const char *skip_eol(const char *p, const char *end)
{
    if (*p == '\r' && p + 1 < end && p[1] == '\n')
        return p + 2;
    return p + 1;
}

typedef struct linebuf {
    char *ptr;
    size_t len, cap;
} linebuf_t;

static int linebuf_push(linebuf_t *buf, char c)
{
    if (buf->len == buf->cap) {
        size_t cap = buf->cap ? buf->cap * 2 : 256;
        char *ptr = realloc(buf->ptr, cap);
        if (ptr == NULL)
            return RN_ENOMEM;
        buf->ptr = ptr;
        buf->cap = cap;
    }
    buf->ptr[buf->len++] = c;
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads the four hex digits of a \uXXXX escape starting at s[i] (just after the 'u'). */
static long read_u4(const char *s, size_t n, size_t i)
{
    if (n - i < 4)
        return -1;
    long v = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = hex_value(s[i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static size_t put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Resolves the escapes of s[0..n) into a new string (*out, owned by the caller). The output is
 * never longer than the input: \uXXXX is 6 bytes for at most 3, a surrogate pair 12 for 4.
 * Returns 0, RN_ENOMEM, or RN_ECONFIG with *why set. */
static int unescape(const char *s, size_t n, char **out, const char **why)
{
    char *dst = malloc(n + 1);
    size_t len = 0;
    if (dst == NULL)
        return RN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            dst[len++] = s[i];
            continue;
        }
        if (++i == n) /* a lone trailing backslash: the line reader already dropped it */
            break;
        switch (s[i]) {
        case 't':
            dst[len++] = '\t';
            break;
        case 'n':
            dst[len++] = '\n';
            break;
        case 'r':
            dst[len++] = '\r';
            break;
        case 'f':
            dst[len++] = '\f';
            break;
        case 'u': {
            long cp = read_u4(s, n, i + 1);
            if (cp < 0) {
                *why = "malformed \\uXXXX escape";
                goto fail;
            }
            i += 4;
            if (cp == 0) {
                *why = "\\u0000 is not allowed";
                goto fail;
            }
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                *why = "unpaired surrogate in \\u escape";
                goto fail;
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                /* Java strings are UTF-16, so characters beyond the BMP arrive as two escapes. */
                long low =
                    (n - i > 2 && s[i + 1] == '\\' && s[i + 2] == 'u') ? read_u4(s, n, i + 3) : -1;
                if (low < 0xdc00 || low > 0xdfff) {
                    *why = "unpaired surrogate in \\u escape";
                    goto fail;
                }
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                i += 6;
            }
            len += put_utf8(dst + len, (unsigned long)cp);
            break;
        }
        default: /* \\, \=, \:, \#, \!, \ and any other character stand for themselves */
            dst[len++] = s[i];
            break;
        }
    }
    dst[len] = '\0';
    *out = dst;
    return 0;
fail:
    free(dst);
    return RN_ECONFIG;
}

/* Splits one logical line (continuations joined, escapes still in place) into key and value as
 * java.util.Properties does: the key ends at the first unescaped '=', ':' or whitespace; then
 * whitespace, at most one '=' or ':' (if the key did not end on one), and whitespace again are
 * skipped; the rest, trailing whitespace included, is the value. */
static int parse_logical_line(runnel_config_t *config, const char *line, size_t n, size_t lineno,
                              char *err, size_t errlen)
{
    size_t key_len = n, value_start = n;
    bool has_sep = false, backslash = false;
    for (size_t i = 0; i < n; i++) {
        char c = line[i];
        if (!backslash && (c == '=' || c == ':')) {
            key_len = i;
            value_start = i + 1;
            has_sep = true;
            break;
        }
        if (!backslash && is_prop_space(c)) {
            key_len = i;
            value_start = i + 1;
            break;
        }
        backslash = c == '\\' ? !backslash : false;
    }
    for (; value_start < n; value_start++) {
        char c = line[value_start];
        if (is_prop_space(c))
            continue;
        if (!has_sep && (c == '=' || c == ':')) {
            has_sep = true;
            continue;
        }
        break;
    }
    if (key_len == 0) {
        rn_config_set_err(err, errlen, "line %zu: missing key", lineno);
        return RN_ECONFIG;
    }
    char *key = NULL, *value = NULL;
    const char *why = NULL;
    int rc = unescape(line, key_len, &key, &why);
    if (rc == 0)
        rc = unescape(line + value_start, n - value_start, &value, &why);
    if (rc != 0) {
        free(key);
        if (rc == RN_ECONFIG)
            rn_config_set_err(err, errlen, "line %zu: %s", lineno, why);
        else
            rn_config_set_err(err, errlen, "line %zu: out of memory", lineno);
        return rc;
    }
    if ((rc = set_owned(config, key, value)) != 0)
        rn_config_set_err(err, errlen, "line %zu: out of memory", lineno);
    return rc;
}

int rn_props_parse(runnel_config_t *config, const char *text, size_t len, char *err, size_t errlen)
{
    const char *p = text, *end = text + len;
    size_t lineno = 1;
    linebuf_t buf = { 0 };
    int rc = 0;
    while (p < end) {
        while (p < end && is_prop_space(*p))
            p++;
        if (p == end)
            break;
        if (*p == '\n' || *p == '\r') {
            p = skip_eol(p, end);
            lineno++;
            continue;
        }
        if (*p == '#' || *p == '!') { /* a comment line never continues, even after a '\' */
            while (p < end && *p != '\n' && *p != '\r')
                p++;
            continue;
        }
        /* Join the natural lines of one logical line. A backslash escapes the next character,
         * so only an odd run of backslashes before the terminator continues the line. */
        size_t first_line = lineno;
        bool backslash = false;
        buf.len = 0;
        while (p < end) {
            char c = *p;
            if (c == '\n' || c == '\r') {
                p = skip_eol(p, end);
                lineno++;
                if (!backslash)
                    break;
                buf.len--;
                backslash = false;
                while (p < end && is_prop_space(*p))
                    p++;
                continue;
            }
            if (c == '\0') {
                rn_config_set_err(err, errlen, "line %zu: NUL byte", lineno);
                rc = RN_ECONFIG;
                goto done;
            }
            if ((rc = linebuf_push(&buf, c)) != 0) {
                rn_config_set_err(err, errlen, "line %zu: out of memory", lineno);
                goto done;
            }
            backslash = c == '\\' ? !backslash : false;
            p++;
        }
        if (p == end && backslash) /* continued past the end of the text, as Java allows */
            buf.len--;
        if (buf.len == 0) /* nothing but continuation backslashes */
            continue;
        if ((rc = parse_logical_line(config, buf.ptr, buf.len, first_line, err, errlen)) != 0)
            goto done;
    }
done:
    free(buf.ptr);
    return rc;
}

int runnel_config_load(runnel_config_t *config, const char *path, char *err, size_t errlen)
{
    if (config == NULL || path == NULL) {
        rn_config_set_err(err, errlen, "no configuration or path given");
        return RN_EINVAL;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int rc = -errno;
        rn_config_set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return rc;
    }
    /* Read in chunks rather than trusting a size from fstat: the path may be a pipe. */
    char *text = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (len == cap) {
            if (cap == MAX_CONFIG_FILE_BYTES) {
                rn_config_set_err(err, errlen, "%s: larger than %u bytes", path,
                                  MAX_CONFIG_FILE_BYTES);
                rc = RN_ECONFIG;
                goto done;
            }
            size_t ncap = cap ? cap * 2 : 4096;
            if (ncap > MAX_CONFIG_FILE_BYTES)
                ncap = MAX_CONFIG_FILE_BYTES;
            char *ntext = realloc(text, ncap);
            if (ntext == NULL) {
                rn_config_set_err(err, errlen, "%s: out of memory", path);
                rc = RN_ENOMEM;
                goto done;
            }
            text = ntext;
            cap = ncap;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                rc = -(errno ? errno : EIO);
                rn_config_set_err(err, errlen, "cannot read %s: %s", path, strerror(-rc));
                goto done;
            }
            break;
        }
    }
    /* Parse into a scratch list first, so a file with a bad line changes nothing. */
    runnel_config_t *scratch = runnel_config_new();
    if (scratch == NULL) {
        rn_config_set_err(err, errlen, "%s: out of memory", path);
        rc = RN_ENOMEM;
        goto done;
    }
    char why[256] = "";
    if ((rc = rn_props_parse(scratch, text, len, why, sizeof why)) != 0)
        rn_config_set_err(err, errlen, "%s: %s", path, why);
    for (size_t i = 0; rc == 0 && i < scratch->count; i++) {
        rn_prop_t *prop = &scratch->props[i];
        if ((rc = set_owned(config, prop->key, prop->value)) != 0)
            rn_config_set_err(err, errlen, "%s: out of memory", path);
        prop->key = prop->value = NULL; /* moved, or freed by set_owned */
    }
    runnel_config_free(scratch);
done:
    free(text);
    fclose(f);
    return rc;
}
