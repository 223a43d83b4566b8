/* SPDX-License-Identifier: Apache-2.0 */
/* The machine's own limits, measured in the same run as the brokers so the table can say how far
 * each figure is from what the kernel and the hardware allow on this machine:
 *   - loopback TCP throughput (one writer thread, one reader thread, 1 MiB writes);
 *   - sendfile of a page-cached file over loopback (what a Fetch served with sendfile can reach);
 *   - appending to a new file in the page cache, and the same followed by fdatasync (the disk);
 *     on some virtual disks the first write of a block costs more than the copy into the cache;
 *   - reading a page-cached file with read() (what a recovery scan can reach);
 *   - loopback round trip of one byte (TCP_NODELAY ping-pong), the floor under any latency.
 * Every measurement is bounded by --seconds or by the file size. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define CHUNK (1u << 20)

/* A connected pair of TCP sockets over 127.0.0.1. */
static void loopback_pair(int *client, int *server)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof addr;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0)
        bench_die("limits: loopback listener: %s", strerror(errno));
    *client = socket(AF_INET, SOCK_STREAM, 0);
    if (*client < 0 || connect(*client, (struct sockaddr *)&addr, sizeof addr) != 0)
        bench_die("limits: loopback connect: %s", strerror(errno));
    if ((*server = accept(lfd, NULL, NULL)) < 0)
        bench_die("limits: loopback accept: %s", strerror(errno));
    close(lfd);
}

typedef struct pump {
    int fd;      /* the sending socket */
    int file_fd; /* the file sendfile() sends, or -1 for plain write() */
    size_t file_len;
    int64_t deadline; /* bench_now_ns() value after which the sender stops */
} pump_t;

/* Sends until the deadline, then shuts the socket down so the reader sees end of stream. */
static void *pump_main(void *arg)
{
    pump_t *p = arg;
    char *buf = calloc(1, CHUNK);
    if (buf == NULL)
        bench_die("limits: out of memory");
    while (bench_now_ns() < p->deadline) {
        if (p->file_fd >= 0) {
            off_t pos = 0;
            while (pos < (off_t)p->file_len && bench_now_ns() < p->deadline) {
                ssize_t n = sendfile(p->fd, p->file_fd, &pos, p->file_len - (size_t)pos);
                if (n <= 0)
                    bench_die("limits: sendfile: %s", n < 0 ? strerror(errno) : "no progress");
            }
        } else {
            ssize_t n = write(p->fd, buf, CHUNK);
            if (n < 0)
                bench_die("limits: write: %s", strerror(errno));
        }
    }
    shutdown(p->fd, SHUT_WR);
    free(buf);
    return NULL;
}

/* MB/s (10^6 bytes) received over a loopback connection fed by write() or sendfile(). */
static double stream_rate(int file_fd, size_t file_len, double seconds)
{
    int client, server;
    loopback_pair(&client, &server);
    char *buf = malloc(CHUNK);
    if (buf == NULL)
        bench_die("limits: out of memory");
    int64_t start = bench_now_ns();
    pump_t p = { .fd = client,
                 .file_fd = file_fd,
                 .file_len = file_len,
                 .deadline = start + (int64_t)(seconds * 1e9) };
    pthread_t th;
    if (pthread_create(&th, NULL, pump_main, &p) != 0)
        bench_die("limits: pthread_create failed");
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(server, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            bench_die("limits: read: %s", strerror(errno));
        if (n == 0)
            break;
        total += (uint64_t)n;
    }
    int64_t elapsed = bench_now_ns() - start;
    pthread_join(th, NULL);
    close(client);
    close(server);
    free(buf);
    return (double)total / 1e6 / ((double)elapsed / 1e9);
}

typedef struct echo {
    int fd;
    int rounds;
} echo_t;

static void *echo_main(void *arg)
{
    echo_t *e = arg;
    char c;
    for (int i = 0; i < e->rounds; i++) {
        if (read(e->fd, &c, 1) != 1 || write(e->fd, &c, 1) != 1)
            bench_die("limits: echo: %s", strerror(errno));
    }
    return NULL;
}

/* One-byte ping-pong over loopback: fills p50 and p99 in microseconds. */
static void round_trip(int rounds, double *p50_us, double *p99_us)
{
    int client, server, one = 1;
    loopback_pair(&client, &server);
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    echo_t e = { .fd = server, .rounds = rounds };
    pthread_t th;
    if (pthread_create(&th, NULL, echo_main, &e) != 0)
        bench_die("limits: pthread_create failed");
    int64_t *lat = malloc(sizeof(*lat) * (size_t)rounds);
    if (lat == NULL)
        bench_die("limits: out of memory");
    char c = 'x';
    for (int i = 0; i < rounds; i++) {
        int64_t t0 = bench_now_ns();
        if (write(client, &c, 1) != 1 || read(client, &c, 1) != 1)
            bench_die("limits: ping: %s", strerror(errno));
        lat[i] = bench_now_ns() - t0;
    }
    pthread_join(th, NULL);
    *p50_us = bench_quantile(lat, (size_t)rounds, 0.50) / 1e3;
    *p99_us = bench_quantile_sorted(lat, (size_t)rounds, 0.99) / 1e3;
    free(lat);
    close(client);
    close(server);
}

int bench_limits_main(int argc, char **argv)
{
    static const struct option options[] = {
        { "csv", required_argument, NULL, 'o' },
        { "dir", required_argument, NULL, 'd' },
        { "seconds", required_argument, NULL, 's' },
        { "file-mb", required_argument, NULL, 'f' },
        { NULL, 0, NULL, 0 },
    };
    const char *csv = NULL, *dir = "/tmp";
    double seconds = 1.0;
    long file_mb = 256;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'o':
            csv = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        case 's':
            seconds = atof(optarg);
            break;
        case 'f':
            file_mb = atol(optarg);
            break;
        default:
            bench_die("usage: runnel-bench limits [--csv F] [--dir D] [--seconds S] [--file-mb N]");
        }
    }
    if (file_mb < 1 || seconds <= 0)
        bench_die("limits: --file-mb and --seconds must be positive");

    double tcp = stream_rate(-1, 0, seconds);

    /* A file of pseudo-random bytes (so no layer can compress it), appended into the page cache
     * and timed, then made durable with fdatasync and timed again. On a virtual machine the first
     * touch of guest memory can cost more than the copy, so the append runs three times on fresh
     * files and the best round counts; the last file stays for the read and sendfile tests. */
    uint64_t *chunk = malloc(CHUNK);
    if (chunk == NULL)
        bench_die("limits: out of memory");
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < CHUNK / 8; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        chunk[i] = x;
    }
    size_t len = (size_t)file_mb * CHUNK;
    char path[4096];
    snprintf(path, sizeof path, "%s/limits.%d.dat", dir, (int)getpid());
    double cache_write = 0, durable_write = 0;
    int fd = -1;
    for (int round = 0; round < 3; round++) {
        if (fd >= 0)
            close(fd);
        unlink(path);
        if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0)
            bench_die("limits: %s: %s", path, strerror(errno));
        int64_t t0 = bench_now_ns();
        for (size_t pos = 0; pos < len; pos += CHUNK) {
            chunk[0] = pos; /* each MiB differs */
            if (write(fd, chunk, CHUNK) != (ssize_t)CHUNK)
                bench_die("limits: write %s: %s", path, strerror(errno));
        }
        int64_t t1 = bench_now_ns();
        if (fdatasync(fd) != 0)
            bench_die("limits: fdatasync %s: %s", path, strerror(errno));
        int64_t t2 = bench_now_ns();
        double w = (double)len / 1e6 / ((double)(t1 - t0) / 1e9);
        double d = (double)len / 1e6 / ((double)(t2 - t0) / 1e9);
        cache_write = w > cache_write ? w : cache_write;
        durable_write = d > durable_write ? d : durable_write;
    }

    /* Read it twice: the first pass makes sure every page is cached, the second is timed. */
    double cached_read = 0;
    for (int pass = 0; pass < 2; pass++) {
        int64_t r0 = bench_now_ns();
        for (size_t pos = 0; pos < len; pos += CHUNK) {
            if (pread(fd, chunk, CHUNK, (off_t)pos) != (ssize_t)CHUNK)
                bench_die("limits: read %s: %s", path, strerror(errno));
        }
        cached_read = (double)len / 1e6 / ((double)(bench_now_ns() - r0) / 1e9);
    }
    double sendfile_rate = stream_rate(fd, len, seconds);
    close(fd);
    unlink(path);
    free(chunk);

    double rtt50, rtt99;
    round_trip(20000, &rtt50, &rtt99);

    const struct {
        const char *key, *unit;
        double value;
    } rows[] = {
        { "loopback TCP", "MB/s", tcp },
        { "sendfile cached file over loopback", "MB/s", sendfile_rate },
        { "write to page cache (new file)", "MB/s", cache_write },
        /* A broker appending what it receives is bounded by the slower of the two. */
        { "loopback TCP + page-cache append", "MB/s", tcp < cache_write ? tcp : cache_write },
        { "write + fdatasync", "MB/s", durable_write },
        { "read cached file", "MB/s", cached_read },
        { "loopback round trip p50", "ms", rtt50 / 1e3 },
        { "loopback round trip p99", "ms", rtt99 / 1e3 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bench_emit(csv, &(bench_row_t){ .section = "limits",
                                        .figure = rows[i].key,
                                        .unit = rows[i].unit,
                                        .system = "limit",
                                        .value = rows[i].value,
                                        .broker_cpu_s = -1,
                                        .client_cpu_s = -1,
                                        .bytes = -1 });
    }
    return 0;
}
