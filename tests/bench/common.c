/* SPDX-License-Identifier: Apache-2.0 */
/* The helpers bench.h declares, shared by the benchmark programs (runnel-bench, runnel-loadgen):
 * clocks, CPU and memory accounting, percentiles, and the raw result rows. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "runnel-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

double bench_proc_cpu_s(pid_t pid)
{
    if (pid <= 0)
        return -1;
    /* The process's CPU-time clock: the same utime + stime sum, to the nanosecond rather than in
     * clock ticks (a short workload would otherwise read 0.00 or 0.01 s). */
    clockid_t clock;
    struct timespec ts;
    if (clock_getcpuclockid(pid, &clock) == 0 && clock_gettime(clock, &ts) == 0)
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: fields restart after the last ')'.
     * utime and stime are fields 14 and 15 of proc(5), the 12th and 13th after it. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    unsigned long long utime = 0, stime = 0;
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
        2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

double bench_self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

long bench_proc_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

int bench_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

double bench_quantile_sorted(const int64_t *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)ceil(q * (double)n); /* nearest rank, 1-based */
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1];
}

double bench_quantile(int64_t *v, size_t n, double q)
{
    qsort(v, n, sizeof *v, bench_cmp_i64);
    return bench_quantile_sorted(v, n, q);
}

static void csv_num(FILE *f, double v)
{
    if (v >= 0 && isfinite(v))
        fprintf(f, "%.6g", v);
}

void bench_emit(const char *csv, const bench_row_t *row)
{
    printf("  %-52s %-6s %14.6g%s\n", row->figure, row->system, row->value,
           strcmp(row->unit, "verify") == 0 ? (row->value > 0 ? " (ok)" : " (FAILED)") : "");
    fflush(stdout);
    if (csv == NULL)
        return;
    FILE *f = fopen(csv, "a");
    if (f == NULL)
        bench_die("%s: %s", csv, strerror(errno));
    fprintf(f, "%s,%s,%s,%s,%.9g,", row->section, row->figure, row->unit, row->system, row->value);
    csv_num(f, row->broker_cpu_s);
    fputc(',', f);
    csv_num(f, row->client_cpu_s);
    fputc(',', f);
    csv_num(f, row->bytes);
    fprintf(f, ",%ld,%s,%s\n", row->size, row->limit_key ? row->limit_key : "",
            row->target ? row->target : "");
    fclose(f);
}
