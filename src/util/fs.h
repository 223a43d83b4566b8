/* SPDX-License-Identifier: Apache-2.0 */
/* File-system steps that durability rests on. A file created, renamed or removed is durable
 * only once its directory is synced: without that, a crash can lose the directory entry along
 * with every fsynced byte behind it. Blocking: off the event loops. */
#ifndef RN_UTIL_FS_H
#define RN_UTIL_FS_H

#include <stddef.h>

/* fsync(2) on the directory `dir`. Returns 0 or a negative errno. */
int rn_fsync_dir(const char *dir);

/* Writes `dir/name` atomically: `name.tmp` written and fsynced, renamed over `name`, then the
 * directory fsynced, so a crash leaves either the old file or the new one. Returns 0 or a
 * negative errno (the old file is intact then). */
int rn_fs_write_atomic(const char *dir, const char *name, const char *data, size_t len);

/* Reads the whole of `dir/name` into `buf` (at most `cap` bytes) and sets *len. Returns 0,
 * -ENOENT when the file is absent, -EFBIG when it holds more than `cap` bytes, or another
 * negative errno. For small files of our own (the producer id block). */
int rn_fs_read_small(const char *dir, const char *name, char *buf, size_t cap, size_t *len);

#endif
