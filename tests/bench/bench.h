/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the benchmark client's files (bench.c, limits.c): clocks, CPU accounting,
 * percentiles, and the raw result rows every workload appends to one CSV.
 *
 * A raw row is one measurement of one system ("runnel", "mock" or "limit"):
 *     section,figure,unit,system,value,broker_cpu_s,client_cpu_s,bytes,size,limit_key,target
 * `report` joins the rows of one figure into a line of the table. Figures never contain commas. */
#ifndef RUNNEL_BENCH_H
#define RUNNEL_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t bench_now_ns(void);

/* utime + stime of a process (all its threads, live and exited), in seconds, from its CPU-time
 * clock or else /proc/PID/stat; -1 when pid <= 0 or unreadable. */
double bench_proc_cpu_s(pid_t pid);

/* This process's user + system CPU (all threads), in seconds. */
double bench_self_cpu_s(void);

/* VmRSS of a process from /proc/PID/status in KiB, or -1. */
long bench_proc_rss_kb(pid_t pid);

/* qsort's comparison of two int64_t. */
int bench_cmp_i64(const void *a, const void *b);
/* Sorts `v` in place and returns the q-quantile (0..1) by the nearest-rank method; 0 when
 * n == 0. */
double bench_quantile(int64_t *v, size_t n, double q);
/* The q-quantile of an already sorted array. */
double bench_quantile_sorted(const int64_t *v, size_t n, double q);

/* One raw row. `csv` may be NULL (the row is then only printed). Negative CPU or bytes mean
 * "not measured" and are written empty. `limit_key` and `target` may be NULL. */
typedef struct bench_row {
    const char *section, *figure, *unit, *system;
    double value;
    double broker_cpu_s, client_cpu_s;
    double bytes;
    long size;
    const char *limit_key, *target;
} bench_row_t;
void bench_emit(const char *csv, const bench_row_t *row);

/* Prints a message to stderr and exits with status 1. */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Subcommand in limits.c: the machine's own limits. */
int bench_limits_main(int argc, char **argv);

#endif
