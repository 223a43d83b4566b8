/* SPDX-License-Identifier: Apache-2.0 */
/* Directory syncs and whole-file replacement (fs.h). */
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

int rn_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int err = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return err;
}

static int join(char *out, size_t outlen, const char *dir, const char *name, const char *suffix)
{
    int n = snprintf(out, outlen, "%s/%s%s", dir, name, suffix);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int rn_fs_write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    int err;
    if ((err = join(path, sizeof path, dir, name, "")) != 0 ||
        (err = join(tmp, sizeof tmp, dir, name, ".tmp")) != 0)
        return err;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if ((err = write_all(fd, data, len)) != 0)
        goto fail_close;
    if (fsync(fd) != 0) {
        err = -errno;
        goto fail_close;
    }
    if (close(fd) != 0) {
        err = -errno;
        goto fail_unlink;
    }
    if (rename(tmp, path) != 0) {
        err = -errno;
        goto fail_unlink;
    }
    /* The rename is durable only once the directory entry is. */
    return rn_fsync_dir(dir);
fail_close:
    close(fd);
fail_unlink:
    unlink(tmp);
    return err;
}

int rn_fs_read_small(const char *dir, const char *name, char *buf, size_t cap, size_t *len)
{
    char path[PATH_MAX];
    int err;
    if ((err = join(path, sizeof path, dir, name, "")) != 0)
        return err;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    /* One byte more than `cap` is asked for, so a file that does not fit is told apart from
     * one that fills the buffer exactly. */
    for (;;) {
        char extra;
        char *to = got < cap ? buf + got : &extra;
        size_t want = got < cap ? cap - got : 1;
        ssize_t n = read(fd, to, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = -errno;
            break;
        }
        if (n == 0)
            break;
        if (got >= cap) {
            err = -EFBIG;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (err == 0)
        *len = got;
    return err;
}
