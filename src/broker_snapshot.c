/* SPDX-License-Identifier: Apache-2.0 */
/* The file work of snapshots (broker_snapshot.h): mirror with hard links for sealed segment
 * files, copies for the rest. */
#include "broker_snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

enum { PATH_CAP = 4200 };

static int join(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, PATH_CAP, "%s/%s", dir, name);
    return n < 0 || n >= PATH_CAP ? -ENAMETOOLONG : 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The base offset of a segment file name (20 digits and a segment suffix), else -1. */
static int64_t segment_base(const char *name)
{
    static const char *const suffixes[] = { ".log", ".index", ".timeindex", ".txnindex" };
    const char *dot = strchr(name, '.');
    if (dot == NULL || dot == name || dot - name > 20)
        return -1;
    bool known = false;
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        known = known || strcmp(dot, suffixes[i]) == 0;
    if (!known)
        return -1;
    int64_t v = 0;
    for (const char *p = name; p < dot; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

/* The base offset of the last .log segment of `dir` (the active one), else -1. */
static int64_t active_base(DIR *d)
{
    int64_t max = -1;
    struct dirent *de;
    rewinddir(d);
    while ((de = readdir(d)) != NULL) {
        int64_t base = ends_with(de->d_name, ".log") ? segment_base(de->d_name) : -1;
        if (base > max)
            max = base;
    }
    rewinddir(d);
    return max;
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777);
    if (out < 0) {
        int err = -errno;
        close(in);
        return err;
    }
    int err = 0;
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
        if (n == 0)
            break;
        if (n > 0)
            continue;
        if (errno == EINTR)
            continue;
        if (errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP && errno != EINVAL) {
            err = -errno;
            break;
        }
        /* No in-kernel copy here: plain reads and writes from where it stopped. */
        char buf[1 << 16];
        ssize_t r;
        while ((r = read(in, buf, sizeof buf)) != 0) {
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 || write(out, buf, (size_t)r) != r) {
                err = errno != 0 ? -errno : -EIO;
                break;
            }
        }
        break;
    }
    close(in);
    if (close(out) != 0 && err == 0)
        err = -errno;
    return err;
}

typedef struct counts {
    size_t linked, copied;
} counts_t;

static bool skipped(const char *name, const char *skip)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
           (skip != NULL && strcmp(name, skip) == 0) || ends_with(name, "-delete");
}

/* Links or copies the file `name` of `src` into `dst`; a directory only sets *is_dir. */
static int mirror_entry(const char *src, const char *dst, const char *name, int64_t active,
                        bool *is_dir, counts_t *n)
{
    char from[PATH_CAP], to[PATH_CAP];
    struct stat st;
    int err;
    *is_dir = false;
    if ((err = join(from, src, name)) != 0 || (err = join(to, dst, name)) != 0)
        return err;
    if (lstat(from, &st) != 0)
        return errno == ENOENT ? 0 : -errno; /* gone meanwhile: nothing to keep */
    if (S_ISDIR(st.st_mode)) {
        *is_dir = true;
        return 0;
    }
    if (!S_ISREG(st.st_mode))
        return 0;
    int64_t base = segment_base(name);
    if (base >= 0 && base < active) {
        if (link(from, to) == 0) {
            n->linked++;
            return 0;
        }
        if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOTSUP)
            return -errno;
    }
    if ((err = copy_file(from, to, st.st_mode)) == 0)
        n->copied++;
    return err;
}

/* One partition directory: files only (it holds no directories). */
static int mirror_partition(const char *src, const char *dst, counts_t *n)
{
    if (mkdir(dst, 0755) != 0 && errno != EEXIST)
        return -errno;
    DIR *d = opendir(src);
    if (d == NULL)
        return -errno;
    int64_t active = active_base(d);
    int err = 0;
    struct dirent *de;
    bool is_dir;
    while (err == 0 && (de = readdir(d)) != NULL)
        if (!skipped(de->d_name, NULL))
            err = mirror_entry(src, dst, de->d_name, active, &is_dir, n);
    closedir(d);
    return err;
}

int rn_snapshot_mirror(const char *src, const char *dst, const char *skip, size_t *linked,
                       size_t *copied)
{
    counts_t n = { 0, 0 };
    *linked = *copied = 0;
    if (mkdir(dst, 0755) != 0 && errno != EEXIST)
        return -errno;
    DIR *d = opendir(src);
    if (d == NULL)
        return -errno;
    int err = 0;
    struct dirent *de;
    char from[PATH_CAP], to[PATH_CAP];
    while (err == 0 && (de = readdir(d)) != NULL) {
        bool is_dir = false;
        if (skipped(de->d_name, skip))
            continue;
        err = mirror_entry(src, dst, de->d_name, -1, &is_dir, &n);
        if (err == 0 && is_dir && (err = join(from, src, de->d_name)) == 0 &&
            (err = join(to, dst, de->d_name)) == 0)
            err = mirror_partition(from, to, &n);
    }
    closedir(d);
    *linked = n.linked;
    *copied = n.copied;
    return err;
}

static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -errno : 0;
}

int rn_snapshot_remove(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -errno;
    int rc = nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS);
    if (rc == -1 && errno != 0)
        return -errno; /* nftw itself, or a callback that failed with EPERM */
    return rc <= 0 ? rc : -EIO;
}

int rn_snapshot_clear(const char *dir, const char *keep)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -errno;
    int err = 0;
    struct dirent *de;
    char path[PATH_CAP];
    while (err == 0 && (de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
            (keep != NULL && strcmp(name, keep) == 0))
            continue;
        if ((err = join(path, dir, name)) == 0)
            err = rn_snapshot_remove(path);
    }
    closedir(d);
    return err;
}

int rn_snapshot_sync(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int err = syncfs(fd) == 0 ? 0 : -errno;
    close(fd);
    return err != 0 ? err : rn_fsync_dir(path);
}
