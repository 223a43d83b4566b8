/* SPDX-License-Identifier: Apache-2.0 */
/* The Prometheus text format (prom.h): escaping and sample lines. */
#include "control/prom.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_LABELS = 8 }; /* the most a sample here has, le included */

rn_prom_label_t rn_prom_label(const char *name, const char *value)
{
    return (rn_prom_label_t){ .name = name, .value = value, .len = strlen(value) };
}

static void put(rn_outbuf_t *out, const char *s)
{
    rn_outbuf_append(out, s, strlen(s));
}

/* Backslash and newline always; the double quote only inside a label value. */
static void escape(rn_outbuf_t *out, const char *s, size_t len, bool quote)
{
    if (len == 0)
        return;
    size_t run = 0; /* bytes of s before i not yet written */
    for (size_t i = 0; i < len; i++) {
        const char *rep = s[i] == '\\'           ? "\\\\"
                          : s[i] == '\n'         ? "\\n"
                          : s[i] == '"' && quote ? "\\\""
                                                 : NULL;
        if (rep == NULL)
            continue;
        rn_outbuf_append(out, s + run, i - run);
        put(out, rep);
        run = i + 1;
    }
    rn_outbuf_append(out, s + run, len - run);
}

void rn_prom_escape(rn_outbuf_t *out, const char *value, size_t len)
{
    escape(out, value, len, true);
}

void rn_prom_family(rn_outbuf_t *out, const char *name, const char *type, const char *help)
{
    put(out, "# HELP ");
    put(out, name);
    put(out, " ");
    escape(out, help, strlen(help), false);
    put(out, "\n# TYPE ");
    put(out, name);
    put(out, " ");
    put(out, type);
    put(out, "\n");
}

/* name{a="x",b="y"} and the space before the value. */
static void start(rn_outbuf_t *out, const char *name, const rn_prom_label_t *labels, size_t n)
{
    put(out, name);
    if (n > 0) {
        put(out, "{");
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                put(out, ",");
            put(out, labels[i].name);
            put(out, "=\"");
            escape(out, labels[i].value, labels[i].len, true);
            put(out, "\"");
        }
        put(out, "}");
    }
    put(out, " ");
}

void rn_prom_int(rn_outbuf_t *out, const char *name, const rn_prom_label_t *labels, size_t n,
                 int64_t value)
{
    char num[32];
    start(out, name, labels, n);
    snprintf(num, sizeof num, "%" PRId64 "\n", value);
    put(out, num);
}

void rn_prom_uint(rn_outbuf_t *out, const char *name, const rn_prom_label_t *labels, size_t n,
                  uint64_t value)
{
    char num[32];
    start(out, name, labels, n);
    snprintf(num, sizeof num, "%" PRIu64 "\n", value);
    put(out, num);
}

/* Go's ParseFloat spellings, which Prometheus reads: NaN, +Inf, -Inf. */
static void format_double(char *buf, size_t cap, double value)
{
    if (isnan(value))
        snprintf(buf, cap, "NaN");
    else if (isinf(value))
        snprintf(buf, cap, value > 0 ? "+Inf" : "-Inf");
    else /* the shortest of %.15g..%.17g that reads back as the same double */
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, cap, "%.*g", prec, value);
            if (strtod(buf, NULL) == value)
                break;
        }
}

void rn_prom_double(rn_outbuf_t *out, const char *name, const rn_prom_label_t *labels, size_t n,
                    double value)
{
    char num[40];
    start(out, name, labels, n);
    format_double(num, sizeof num, value);
    put(out, num);
    put(out, "\n");
}

void rn_prom_histogram(rn_outbuf_t *out, const char *name, const rn_prom_label_t *labels, size_t n,
                       const rn_histogram_snapshot_t *snap)
{
    char sample[128];
    rn_prom_label_t with_le[MAX_LABELS];
    if (n >= MAX_LABELS)
        n = MAX_LABELS - 1;
    if (n > 0)
        memcpy(with_le, labels, n * sizeof *labels);
    snprintf(sample, sizeof sample, "%s_bucket", name);
    for (size_t i = 0; i <= RN_HISTOGRAM_BOUNDS; i++) {
        char le[32];
        if (i < RN_HISTOGRAM_BOUNDS)
            snprintf(le, sizeof le, "%g", rn_histogram_bounds[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        with_le[n] = rn_prom_label("le", le);
        rn_prom_uint(out, sample, with_le, n + 1, snap->cumulative[i]);
    }
    snprintf(sample, sizeof sample, "%s_sum", name);
    rn_prom_double(out, sample, labels, n, snap->sum_seconds);
    snprintf(sample, sizeof sample, "%s_count", name);
    rn_prom_uint(out, sample, labels, n, snap->count);
}
