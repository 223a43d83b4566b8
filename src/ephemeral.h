/* SPDX-License-Identifier: Apache-2.0 */
/* `runnel --ephemeral`: the broker as a test fixture. Part of the command line (main.c), built
 * only on include/runnel/runnel.h. */
#ifndef RN_EPHEMERAL_H
#define RN_EPHEMERAL_H

#include <stddef.h>

#include "runnel/runnel.h"

/* Makes a fresh data directory (into dir, at least PATH_MAX bytes) and sets the keys of the
 * mode: listeners on 127.0.0.1 port 0, log.dirs that directory,
 * group.initial.rebalance.delay.ms=0 and the control plane on 127.0.0.1 port 0. The caller
 * applies --override afterwards. 0, or -1 with a message on stderr. */
int rn_ephemeral_prepare(runnel_config_t *config, char *dir, size_t cap);
/* The first line on stdout, one JSON object: {"bootstrap": "127.0.0.1:PORT", "control":
 * "http://127.0.0.1:PORT", "pid": N, "data_dir": DIR}. */
void rn_ephemeral_announce(const runnel_t *rn, const char *dir);
/* A thread that reads stdin until it closes (EOF or an error), then raises SIGTERM in this
 * process: a test runner that dies leaves no broker behind. 0 or an errno. */
int rn_ephemeral_watch_stdin(void);
/* Removes the data directory and everything in it. */
void rn_ephemeral_cleanup(const char *dir);

#endif
