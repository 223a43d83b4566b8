/* SPDX-License-Identifier: Apache-2.0 */
/* Directory syncs (fs.h). */
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
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
