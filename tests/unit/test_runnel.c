/* SPDX-License-Identifier: Apache-2.0 */
/* The embeddable API: a real broker started and stopped inside the test process, answering
 * ApiVersions over a real socket on an ephemeral port. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "runnel/runnel.h"

static char datadir[64];

static runnel_t *start_broker(void)
{
    snprintf(datadir, sizeof datadir, "/tmp/runnel-unit-XXXXXX");
    cr_assert_not_null(mkdtemp(datadir));
    runnel_config_t *cfg = runnel_config_new();
    runnel_config_set(cfg, "listeners", "PLAINTEXT://127.0.0.1:0");
    runnel_config_set(cfg, "log.dirs", datadir);
    runnel_config_set(cfg, "num.network.threads", "2");
    char err[256] = "";
    runnel_t *rn = runnel_new(cfg, err, sizeof err);
    runnel_config_free(cfg);
    cr_assert_not_null(rn, "runnel_new: %s", err);
    cr_assert_eq(runnel_port(rn), -1, "no port before start");
    cr_assert_eq(runnel_start(rn), 0);
    cr_assert_gt(runnel_port(rn), 0);
    return rn;
}

static void remove_datadir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", datadir);
    cr_assert_eq(system(cmd), 0);
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* 0 when a connection to 127.0.0.1:port is accepted, else connect's errno. */
static int connect_errno(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int err = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 ? 0 : errno;
    close(fd);
    return err;
}

/* 0 when this process can listen on 127.0.0.1:port, else the errno of bind or listen.
 * SO_REUSEADDR lets the bind past connections in TIME_WAIT on the port, but not past a socket
 * still listening on it; without SO_REUSEPORT, which the broker's listeners set, a listener
 * left behind cannot share the port either. */
static int listen_errno(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    int one = 1;
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int err = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 1) == 0 ? 0 : errno;
    close(fd);
    return err;
}

/* Kafka's clean-shutdown marker, written by an orderly stop after the last checkpoint and
 * removed by a start, so that only a crash leaves a data directory without it. */
static bool clean_marker_exists(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/.kafka_cleanshutdown", datadir);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void read_full(int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = recv(fd, buf + got, len - got, 0);
        cr_assert_gt(n, 0, "connection closed or timed out after %zu of %zu bytes", got, len);
        got += (size_t)n;
    }
}

Test(runnel, starts_answers_api_versions_and_stops)
{
    runnel_t *rn = start_broker();
    int fd = connect_to(runnel_port(rn));
    static const uint8_t req[] = { 0,    0,    0,    10,   0x00, 0x12, 0x00,
                                   0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00 };
    cr_assert_eq(send(fd, req, sizeof req, 0), (ssize_t)sizeof req);
    uint8_t head[10];
    read_full(fd, head, sizeof head);
    uint32_t size =
        (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
    cr_assert_eq(head[7], 7, "correlation id");
    cr_assert_eq(head[8] << 8 | head[9], 0, "no error");
    cr_assert_gt(size, 6);
    close(fd);
    runnel_stop(rn);
    runnel_free(rn);
    remove_datadir();
}

Test(runnel, invalid_configuration_is_refused_with_the_key_named)
{
    runnel_config_t *cfg = runnel_config_new();
    runnel_config_set(cfg, "listeners", "PLAINTEXT://127.0.0.1:70000");
    char err[256] = "";
    runnel_t *rn = runnel_new(cfg, err, sizeof err);
    runnel_config_free(cfg);
    cr_assert_null(rn);
    cr_assert_not_null(strstr(err, "listeners"), "%s", err);
    cr_assert_not_null(strstr(err, "70000"), "%s", err);
}

Test(runnel, free_without_stop_closes_the_port_and_shuts_down_cleanly)
{
    runnel_t *rn = start_broker();
    int port = runnel_port(rn);
    cr_assert_eq(connect_errno(port), 0, "the broker does not accept on port %d", port);
    cr_assert_not(clean_marker_exists(), "a running broker left the clean-shutdown marker");
    runnel_free(rn);
    int err = connect_errno(port);
    cr_assert_eq(err, ECONNREFUSED, "port %d after runnel_free: %s", port, strerror(err));
    err = listen_errno(port);
    cr_assert_eq(err, 0, "cannot listen on port %d after runnel_free: %s", port, strerror(err));
    cr_assert(clean_marker_exists(),
              "runnel_free without runnel_stop wrote no %s/.kafka_cleanshutdown: the orderly stop "
              "did not run",
              datadir);
    remove_datadir();
}

Test(runnel, free_null_does_nothing)
{
    runnel_free(NULL);
}
