/* SPDX-License-Identifier: Apache-2.0 */
/* The Prometheus text format writer (src/control/prom.c): label values escape backslash, double
 * quote and newline and nothing else; HELP text escapes backslash and newline; integers are
 * exact; doubles use the shortest spelling that reads back, and Go's NaN/+Inf/-Inf; a
 * histogram lists cumulative buckets ending with +Inf equal to _count. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "control/prom.h"

static rn_outbuf_t out;

static void setup(void)
{
    rn_outbuf_init(&out);
}

static void teardown(void)
{
    rn_outbuf_deinit(&out);
}

TestSuite(prom, .init = setup, .fini = teardown);

/* The bytes written so far, NUL-terminated. */
static const char *text(void)
{
    rn_outbuf_append(&out, "", 1);
    cr_assert(!out.failed);
    out.len--; /* the NUL stays in the buffer but is not part of the text */
    return (const char *)out.data;
}

Test(prom, label_values_escape_backslash_quote_and_newline_only)
{
    const char v[] = "a\\b\"c\nd\te\xc3\xa9{}=,";
    rn_prom_escape(&out, v, sizeof v - 1);
    cr_assert_str_eq(text(), "a\\\\b\\\"c\\nd\te\xc3\xa9{}=,");
}

Test(prom, escape_keeps_embedded_bytes_by_length)
{
    rn_prom_escape(&out, "ab\\", 2); /* the length, not a NUL, ends the value */
    cr_assert_str_eq(text(), "ab");
}

Test(prom, family_lines_escape_help_but_not_quotes)
{
    rn_prom_family(&out, "runnel_x_total", "counter", "Says \"hi\" with a \\ and\na newline.");
    cr_assert_str_eq(text(), "# HELP runnel_x_total Says \"hi\" with a \\\\ and\\na newline.\n"
                             "# TYPE runnel_x_total counter\n");
}

Test(prom, samples_without_and_with_labels)
{
    rn_prom_uint(&out, "a_total", NULL, 0, UINT64_MAX);
    rn_prom_label_t labels[] = { rn_prom_label("topic", "t\"1"), rn_prom_label("partition", "0") };
    rn_prom_int(&out, "b", labels, 2, INT64_MIN);
    rn_prom_int(&out, "c", labels, 1, (int64_t)1 << 60);
    cr_assert_str_eq(text(), "a_total 18446744073709551615\n"
                             "b{topic=\"t\\\"1\",partition=\"0\"} -9223372036854775808\n"
                             "c{topic=\"t\\\"1\"} 1152921504606846976\n");
}

Test(prom, doubles_are_short_and_exact)
{
    rn_prom_double(&out, "a", NULL, 0, 0.1);
    rn_prom_double(&out, "b", NULL, 0, 2.4676e-05);
    rn_prom_double(&out, "c", NULL, 0, 1.0 / 3.0);
    rn_prom_double(&out, "d", NULL, 0, NAN);
    rn_prom_double(&out, "e", NULL, 0, INFINITY);
    rn_prom_double(&out, "f", NULL, 0, -INFINITY);
    rn_prom_double(&out, "g", NULL, 0, 0);
    cr_assert_str_eq(text(), "a 0.1\n"
                             "b 2.4676e-05\n"
                             "c 0.3333333333333333\n"
                             "d NaN\n"
                             "e +Inf\n"
                             "f -Inf\n"
                             "g 0\n");
}

Test(prom, histogram_lists_cumulative_buckets_sum_and_count)
{
    rn_histogram_t h;
    memset(&h, 0, sizeof h);
    rn_histogram_observe_ns(&h, 100000);      /* 0.1 ms: the first bucket */
    rn_histogram_observe_ns(&h, 500000);      /* exactly 0.5 ms: still the first (le) */
    rn_histogram_observe_ns(&h, 3000000);     /* 3 ms: le 0.005 */
    rn_histogram_observe_ns(&h, 60000000000); /* a minute: only +Inf */
    rn_histogram_observe_ns(&h, -5);          /* a clock step back counts as 0 */
    rn_histogram_snapshot_t snap;
    rn_histogram_read(&h, &snap);
    cr_assert_eq(snap.count, 5);
    cr_assert_eq(snap.cumulative[RN_HISTOGRAM_BOUNDS], 5);
    cr_assert_eq(snap.cumulative[0], 3);
    cr_assert_eq(snap.cumulative[3], 4);
    cr_assert_eq(snap.cumulative[RN_HISTOGRAM_BOUNDS - 1], 4);

    rn_prom_label_t label = rn_prom_label("api", "Produce");
    rn_prom_histogram(&out, "d_seconds", &label, 1, &snap);
    const char *t = text();
    cr_assert(strstr(t, "d_seconds_bucket{api=\"Produce\",le=\"0.0005\"} 3\n") == t, "%s", t);
    cr_assert_not_null(strstr(t, "d_seconds_bucket{api=\"Produce\",le=\"0.005\"} 4\n"));
    cr_assert_not_null(strstr(t, "d_seconds_bucket{api=\"Produce\",le=\"10\"} 4\n"));
    cr_assert_not_null(strstr(t, "d_seconds_bucket{api=\"Produce\",le=\"+Inf\"} 5\n"
                                 "d_seconds_sum{api=\"Produce\"} 60.0036\n"
                                 "d_seconds_count{api=\"Produce\"} 5\n"));
    /* 15 buckets, a sum and a count. */
    size_t lines = 0;
    for (const char *p = t; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, RN_HISTOGRAM_BOUNDS + 1 + 2);
}

Test(prom, histogram_without_labels)
{
    rn_histogram_t h;
    memset(&h, 0, sizeof h);
    rn_histogram_snapshot_t snap;
    rn_histogram_read(&h, &snap);
    rn_prom_histogram(&out, "f", NULL, 0, &snap);
    const char *t = text();
    cr_assert(strncmp(t, "f_bucket{le=\"0.0005\"} 0\n", 24) == 0, "%s", t);
    cr_assert_not_null(strstr(t, "f_bucket{le=\"+Inf\"} 0\nf_sum 0\nf_count 0\n"));
}
