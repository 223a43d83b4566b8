/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the topics room's tests: a fresh log directory under /tmp per test, a
 * broker configuration built from properties text (as the broker builds it), file reading, and
 * stderr capture for log lines. */
#ifndef RN_TESTS_TOPICS_FIXTURE_H
#define RN_TESTS_TOPICS_FIXTURE_H

#include <criterion/criterion.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "topics/internal.h"
#include "util/err.h"

typedef struct fixture {
    char dir[64];
    rn_config_t cfg;
} fixture_t;

static int fixture_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void fixture_rmtree(const char *path)
{
    nftw(path, fixture_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* Builds the broker configuration from `props` (one key=value per line) with log.dirs set to
 * a new temporary directory. */
static inline void fixture_init(fixture_t *f, const char *props)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/rn-topics-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    runnel_config_t *p = runnel_config_new();
    char err[256] = "";
    cr_assert_eq(runnel_config_set(p, "log.dirs", f->dir), 0);
    if (props != NULL)
        cr_assert_eq(rn_props_parse(p, props, strlen(props), err, sizeof err), 0, "%s", err);
    cr_assert_eq(rn_config_build(p, &f->cfg, err, sizeof err), 0, "%s", err);
    runnel_config_free(p);
}

static inline void fixture_deinit(fixture_t *f)
{
    fixture_rmtree(f->dir);
    rn_config_deinit(&f->cfg);
}

/* `dir/name` as text (caller frees), or NULL when absent. */
static inline char *fixture_read(const char *dir, const char *name)
{
    char *text = NULL;
    size_t len = 0;
    return rn_persist_read(dir, name, &text, &len) == 0 ? text : NULL;
}

static inline void fixture_write(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp, "%s", path);
    fputs(text, fp);
    fclose(fp);
}

static inline bool fixture_exists(const char *dir, const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static inline void fixture_mkdir(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(mkdir(path, 0755), 0, "%s", path);
}

/* Starts sending fd 2 to a temporary file; fixture_capture_end returns what was written. */
typedef struct capture {
    FILE *tmp;
    int saved;
} capture_t;

static inline void fixture_capture_begin(capture_t *c)
{
    c->tmp = tmpfile();
    cr_assert_not_null(c->tmp);
    fflush(stderr);
    c->saved = dup(2);
    cr_assert_geq(c->saved, 0);
    cr_assert_geq(dup2(fileno(c->tmp), 2), 0);
}

static inline char *fixture_capture_end(capture_t *c)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    long len = ftell(c->tmp);
    char *out = calloc(1, (size_t)(len > 0 ? len : 0) + 1);
    rewind(c->tmp);
    if (len > 0)
        cr_assert_eq(fread(out, 1, (size_t)len, c->tmp), (size_t)len);
    fclose(c->tmp);
    return out;
}

static inline rn_topic_spec_t fixture_spec(const char *name, int32_t partitions)
{
    return (rn_topic_spec_t){ .name = rn_str_from_cstr(name),
                              .num_partitions = partitions,
                              .replication_factor = -1 };
}

#endif
