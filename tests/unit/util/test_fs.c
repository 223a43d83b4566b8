/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/util/fs.c: atomic replacement of a whole file (no temp file left behind, a
 * missing directory reported) and reading a small file back with its size bound. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/rn-fs-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(fs, .init = setup, .fini = teardown);

static bool exists(const char *name)
{
    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

Test(fs, atomic_write_replaces_the_file_and_leaves_no_temp)
{
    char buf[32];
    size_t len = 0;
    cr_assert_eq(rn_fs_write_atomic(dir, "x", "first\n", 6), 0);
    cr_assert_eq(rn_fs_write_atomic(dir, "x", "second\n", 7), 0);
    cr_assert_eq(rn_fs_read_small(dir, "x", buf, sizeof buf, &len), 0);
    cr_assert_eq(len, 7);
    cr_assert_eq(memcmp(buf, "second\n", 7), 0);
    cr_assert_not(exists("x.tmp"));
    cr_assert_eq(rn_fs_write_atomic(dir, "empty", "", 0), 0);
    cr_assert_eq(rn_fs_read_small(dir, "empty", buf, sizeof buf, &len), 0);
    cr_assert_eq(len, 0);
}

Test(fs, atomic_write_into_a_missing_directory_fails_cleanly)
{
    char sub[128];
    snprintf(sub, sizeof sub, "%s/nope", dir);
    cr_assert_eq(rn_fs_write_atomic(sub, "x", "a", 1), -ENOENT);
}

Test(fs, read_small_reports_missing_and_oversized_files)
{
    char buf[4];
    size_t len = 99;
    cr_assert_eq(rn_fs_read_small(dir, "absent", buf, sizeof buf, &len), -ENOENT);
    cr_assert_eq(len, 99, "untouched on failure");
    cr_assert_eq(rn_fs_write_atomic(dir, "four", "abcd", 4), 0);
    cr_assert_eq(rn_fs_read_small(dir, "four", buf, sizeof buf, &len), 0, "exactly full fits");
    cr_assert_eq(len, 4);
    cr_assert_eq(rn_fs_write_atomic(dir, "five", "abcde", 5), 0);
    cr_assert_eq(rn_fs_read_small(dir, "five", buf, sizeof buf, &len), -EFBIG);
}
