/* SPDX-License-Identifier: Apache-2.0 */
/* The embeddable API: a real broker started and stopped inside the test process, answering
 * ApiVersions over a real socket on an ephemeral port. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
    static const uint8_t req[] = { 0, 0, 0, 10, 0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00 };
    cr_assert_eq(send(fd, req, sizeof req, 0), (ssize_t)sizeof req);
    uint8_t head[10];
    read_full(fd, head, sizeof head);
    uint32_t size = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
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

Test(runnel, free_without_stop_stops)
{
    runnel_t *rn = start_broker();
    runnel_free(rn);
    runnel_free(NULL);
    remove_datadir();
}
