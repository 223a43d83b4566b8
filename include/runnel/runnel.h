/* SPDX-License-Identifier: Apache-2.0 */
/* Runnel's embeddable API: start a real Kafka-protocol broker inside your own process, for
 * instance as a fixture of a C test suite, with real storage on a directory you choose.
 *
 *     runnel_config_t *cfg = runnel_config_new();
 *     runnel_config_set(cfg, "listeners", "PLAINTEXT://127.0.0.1:0");   // ephemeral port
 *     runnel_config_set(cfg, "log.dirs", "/tmp/my-test-data");
 *     char err[256];
 *     runnel_t *rn = runnel_new(cfg, err, sizeof err);                   // NULL: err says why
 *     runnel_config_free(cfg);
 *     runnel_start(rn);
 *     int port = runnel_port(rn);                                        // bootstrap
 * 127.0.0.1:port
 *     ...
 *     runnel_stop(rn);
 *     runnel_free(rn);
 *
 * Configuration keys are those of conf/runnel.properties (Kafka's names). Functions return 0 on
 * success or a negative errno-style code. None of them may be called from a broker thread. */
#ifndef RUNNEL_RUNNEL_H
#define RUNNEL_RUNNEL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RUNNEL_EXPORT __attribute__((visibility("default")))
#else
#define RUNNEL_EXPORT
#endif

typedef struct runnel_config runnel_config_t;
typedef struct runnel runnel_t;

/* The Runnel version, e.g. "0.1.0". */
RUNNEL_EXPORT const char *runnel_version(void);

/* An empty set of properties; every key takes its default. */
RUNNEL_EXPORT runnel_config_t *runnel_config_new(void);
RUNNEL_EXPORT void runnel_config_free(runnel_config_t *config);
/* Sets `key` to `value` (both copied); a later set of the same key wins. Keys and values are
 * checked by runnel_new. Returns 0, or -EINVAL for a NULL or empty key or a NULL value. */
RUNNEL_EXPORT int runnel_config_set(runnel_config_t *config, const char *key, const char *value);
/* Reads a Java-properties file into `config` (its keys win over earlier ones). Returns 0, or a
 * negative code with a one-line message naming the file (and line) in `err`; then `config` is
 * unchanged. */
RUNNEL_EXPORT int runnel_config_load(runnel_config_t *config, const char *path, char *err,
                                     size_t errlen);

/* Validates `config` and prepares a broker (nothing is bound or started yet). Returns NULL with
 * a one-line message naming the key and value in `err` when the configuration is invalid.
 * Unknown keys are logged as warnings. `config` is not retained. */
RUNNEL_EXPORT runnel_t *runnel_new(const runnel_config_t *config, char *err, size_t errlen);
/* Opens the data directory, binds the listeners and starts the network threads. */
RUNNEL_EXPORT int runnel_start(runnel_t *rn);
/* The port the broker listens on (the real one when the listener asked for port 0), or -1
 * before runnel_start. */
RUNNEL_EXPORT int runnel_port(const runnel_t *rn);
/* The bound port of the control plane (runnel.control.listener), or -1 when it is off or the
 * broker is not started. */
RUNNEL_EXPORT int runnel_control_port(const runnel_t *rn);
/* Stops accepting, finishes in-flight responses, closes connections and joins the threads. */
RUNNEL_EXPORT void runnel_stop(runnel_t *rn);
/* Stops the broker if it runs, then frees it. runnel_free(NULL) does nothing. */
RUNNEL_EXPORT void runnel_free(runnel_t *rn);

#ifdef __cplusplus
}
#endif

#endif
