/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the coordinator's tests: a broker configuration over a fresh log directory
 * in /tmp, a topics registry opened on it, and a "kill -9": a copy of the data directory taken
 * while everything is still open (what the page cache holds is what a killed process leaves),
 * opened as a second registry that has to recover. */
#ifndef RN_TESTS_COORD_FIXTURE_H
#define RN_TESTS_COORD_FIXTURE_H

#include <criterion/criterion.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config.h"
#include "topics/topics.h"

typedef struct fixture {
    char dir[64];
    rn_config_t cfg;
    rn_topics_t *topics;
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

static inline void fixture_config(fixture_t *f, const char *dir, const char *props)
{
    runnel_config_t *p = runnel_config_new();
    char err[256] = "";
    cr_assert_eq(runnel_config_set(p, "log.dirs", dir), 0);
    cr_assert_eq(runnel_config_set(p, "log.level", "error"), 0);
    if (props != NULL)
        cr_assert_eq(rn_props_parse(p, props, strlen(props), err, sizeof err), 0, "%s", err);
    cr_assert_eq(rn_config_build(p, &f->cfg, err, sizeof err), 0, "%s", err);
    runnel_config_free(p);
}

/* A new directory, the configuration `props` (key=value lines) over it, and the registry. */
static inline void fixture_init(fixture_t *f, const char *props)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/rn-coord-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    fixture_config(f, f->dir, props);
    rn_log_set_level(RN_LOG_ERROR);
    cr_assert_eq(rn_topics_open(&f->cfg, &f->topics), 0);
}

/* Closes the registry cleanly and opens it again (a clean restart). */
static inline void fixture_restart(fixture_t *f)
{
    rn_topics_close(f->topics);
    cr_assert_eq(rn_topics_open(&f->cfg, &f->topics), 0);
}

/* A kill -9: copies the data directory as it is now into `crashed` (set up with the same
 * properties) and opens a registry there without a clean shutdown behind it. The original
 * stays open; the caller closes both. */
static inline void fixture_crash_copy(fixture_t *f, fixture_t *crashed, const char *props)
{
    snprintf(crashed->dir, sizeof crashed->dir, "/tmp/rn-coord-XXXXXX");
    cr_assert_not_null(mkdtemp(crashed->dir));
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cp -a %s/. %s/", f->dir, crashed->dir);
    cr_assert_eq(system(cmd), 0);
    fixture_config(crashed, crashed->dir, props);
    cr_assert_eq(rn_topics_open(&crashed->cfg, &crashed->topics), 0);
}

static inline void fixture_deinit(fixture_t *f)
{
    rn_topics_close(f->topics);
    fixture_rmtree(f->dir);
    rn_config_deinit(&f->cfg);
}

#endif
