/* SPDX-License-Identifier: Apache-2.0 */
/* `runnel --ephemeral`: see ephemeral.h. */
#include "ephemeral.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int set(runnel_config_t *config, const char *key, const char *value)
{
    int rc = runnel_config_set(config, key, value);
    if (rc != 0)
        fprintf(stderr, "runnel: --ephemeral: cannot set %s: %s\n", key, strerror(-rc));
    return rc == 0 ? 0 : -1;
}

int rn_ephemeral_prepare(runnel_config_t *config, char *dir, size_t cap)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    int n = snprintf(dir, cap, "%s/runnel-ephemeral-XXXXXX", tmp);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "runnel: --ephemeral: TMPDIR is too long\n");
        return -1;
    }
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "runnel: --ephemeral: cannot make a directory in %s: %s\n", tmp,
                strerror(errno));
        return -1;
    }
    if (set(config, "listeners", "PLAINTEXT://127.0.0.1:0") != 0 ||
        set(config, "log.dirs", dir) != 0 ||
        set(config, "group.initial.rebalance.delay.ms", "0") != 0 ||
        set(config, "runnel.control.listener", "http://127.0.0.1:0") != 0) {
        rn_ephemeral_cleanup(dir);
        return -1;
    }
    return 0;
}

/* `s` as a JSON string body (quotes and backslashes escaped, control bytes as \u00XX). */
static void print_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

void rn_ephemeral_announce(const runnel_t *rn, const char *dir)
{
    printf("{\"bootstrap\": \"127.0.0.1:%d\", \"control\": ", runnel_port(rn));
    if (runnel_control_port(rn) >= 0)
        printf("\"http://127.0.0.1:%d\"", runnel_control_port(rn));
    else
        printf("null");
    printf(", \"pid\": %ld, \"data_dir\": ", (long)getpid());
    print_json_string(stdout, dir);
    printf("}\n");
    (void)fflush(stdout);
}

static void *watch_stdin(void *arg)
{
    (void)arg;
    char buf[4096];
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n > 0)
            continue; /* what the runner writes means nothing; only the end does */
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
    kill(getpid(), SIGTERM);
    return NULL;
}

int rn_ephemeral_watch_stdin(void)
{
    pthread_t t;
    int rc = pthread_create(&t, NULL, watch_stdin, NULL);
    if (rc == 0)
        pthread_detach(t);
    return rc;
}

static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        fprintf(stderr, "runnel: --ephemeral: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

void rn_ephemeral_cleanup(const char *dir)
{
    if (dir[0] != '\0')
        (void)nftw(dir, remove_one, 32, FTW_DEPTH | FTW_PHYS);
}
