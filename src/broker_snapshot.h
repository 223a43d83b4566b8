/* SPDX-License-Identifier: Apache-2.0 */
/* Snapshots of the data directory (POST /snapshots/NAME): the file work, apart from the broker
 * that quiesces its rooms around it. A snapshot is a mirror of log.dir kept in
 * log.dir/.runnel-snapshots/NAME: inside log.dir so that hard links always work (one file
 * system) and so that ephemeral mode removes it with the rest; topic loading ignores it (its
 * name is no partition directory name) and reset never touches it.
 *
 * Files that never change once written are hard-linked: the .log, .index, .timeindex and
 * .txnindex files of sealed segments (every segment of a partition directory but the last,
 * the active one). Everything else (active segments, checkpoints, the topic file,
 * meta.properties, producer snapshots, the clean-shutdown marker) is copied. Blocking: called
 * while the broker's rooms are closed, on the control plane's thread. */
#ifndef RN_BROKER_SNAPSHOT_H
#define RN_BROKER_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>

/* Mirrors the directory `src` into `dst` (created, or an empty one): its files and the files of its
 * directories (partition directories hold no deeper ones), leaving out the entry `skip` of `src`'s
 * top level (NULL: none) and partition directories pending deletion
 * ("-delete"). *linked and *copied count the files. Returns 0 or a negative errno. */
int rn_snapshot_mirror(const char *src, const char *dst, const char *skip, size_t *linked,
                       size_t *copied);

/* Removes every entry of `dir` but `keep` (NULL: none), recursively. 0 or a negative errno. */
int rn_snapshot_clear(const char *dir, const char *keep);

/* Removes `path` and everything below; a missing path is fine. 0 or a negative errno. */
int rn_snapshot_remove(const char *path);

/* Flushes the file system holding `path` (syncfs), then `path`'s directory entries. */
int rn_snapshot_sync(const char *path);

#endif
