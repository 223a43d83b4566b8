/* SPDX-License-Identifier: Apache-2.0 */
/* File-system steps that durability rests on. A file created, renamed or removed is durable
 * only once its directory is synced: without that, a crash can lose the directory entry along
 * with every fsynced byte behind it. Blocking: off the event loops. */
#ifndef RN_UTIL_FS_H
#define RN_UTIL_FS_H

/* fsync(2) on the directory `dir`. Returns 0 or a negative errno. */
int rn_fsync_dir(const char *dir);

#endif
