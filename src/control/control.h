/* SPDX-License-Identifier: Apache-2.0 */
/* The control plane: an HTTP listener, off by default (runnel.control.listener), on which a test
 * harness sees and steers the broker: health, metrics, reset, snapshots, compaction and injected
 * faults. libmicrohttpd parses HTTP and runs the listener on a thread of its own; requests and
 * answers are JSON (jansson), metrics Prometheus text. Each route is a function in this room
 * (routes.h); broker-wide operations that only the broker can do come in as callbacks. */
#ifndef RN_CONTROL_CONTROL_H
#define RN_CONTROL_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "log/log.h"

typedef struct rn_control rn_control_t;
typedef struct rn_topics rn_topics_t;
typedef struct rn_coord rn_coord_t;
typedef struct rn_net rn_net_t;
typedef struct rn_faults rn_faults_t;

/* Where snapshots live: log.dir/RN_SNAPSHOTS_DIR/NAME (src/broker_snapshot.h). */
#define RN_SNAPSHOTS_DIR ".runnel-snapshots"

typedef enum rn_snapshot_op {
    RN_SNAPSHOT_SAVE,
    RN_SNAPSHOT_RESTORE,
    RN_SNAPSHOT_DELETE,
} rn_snapshot_op_t;

/* What the routes reach. The pointers outlive the control plane (the broker stops it first).
 * topics, coord and net point at the broker's own fields, read at each request: a snapshot
 * restore replaces those rooms (NULL after a failed restore). libmicrohttpd answers one
 * request at a time on its thread, and restore runs there, so routes never see one change. */
typedef struct rn_control_env {
    const rn_config_t *config;
    rn_topics_t *const *topics;
    rn_coord_t *const *coord;
    rn_net_t *const *net;
    rn_faults_t *faults; /* the registry POST /faults fills (src/faults/faults.h) */
    int kafka_port;      /* the Kafka listener's bound port */
    /* Broker operations: `broker` is passed back. Each returns 0, or a negative errno with a
     * message in err. NULL: the route answers 501. */
    void *broker;
    int (*reset)(void *broker, char *err, size_t errlen);
    /* -ENOENT: no such topic; -EINVAL: not compacted; -ENOTSUP: no log cleaner. */
    int (*compact)(void *broker, const char *topic, rn_log_clean_stats_t *sum, char *err,
                   size_t errlen);
    /* POST /snapshots/NAME, POST /snapshots/NAME/restore, DELETE /snapshots/NAME: -ENOENT
     * when restore or delete finds no snapshot of that name. */
    int (*snapshot)(void *broker, rn_snapshot_op_t op, const char *name, char *err, size_t errlen);
} rn_control_env_t;

/* Binds runnel.control.listener and starts serving. 0 (with *out set), or a negative errno with
 * a message logged. */
int rn_control_start(const rn_control_env_t *env, rn_control_t **out);
/* The bound port. */
int rn_control_port(const rn_control_t *c);
/* Stops the listener (waiting for requests being answered) and frees. NULL is fine. */
void rn_control_stop(rn_control_t *c);

#endif
