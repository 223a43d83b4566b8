/* SPDX-License-Identifier: Apache-2.0 */
/* The fault registry: what a test harness asked, through the control plane (POST /faults), to
 * go wrong, in the spirit of librdkafka's mock cluster and franz-go's kfake. A fault answers the
 * next `count` matching requests with a Kafka error code, holds their responses back, or closes
 * their connection; or, for a while, refuses new connections.
 *
 * One registry per broker. It knows API keys, topic names and client ids only as numbers and
 * bytes (it depends on util alone): the handler room asks it about each request, the broker asks
 * it about each accepted connection, the control room adds, lists and clears. Thread-safe: one
 * mutex guards the list and the counters and is held for a scan of the list, never while calling
 * out. The request path pays one relaxed atomic load while no fault is registered
 * (rn_faults_armed). */
#ifndef RN_FAULTS_FAULTS_H
#define RN_FAULTS_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rn_faults rn_faults_t;

typedef enum rn_fault_action {
    RN_FAULT_ERROR,              /* answer with error_code, without executing the request */
    RN_FAULT_DELAY,              /* answer delay_ms later than the handler did */
    RN_FAULT_CLOSE,              /* close the connection instead of answering */
    RN_FAULT_REFUSE_CONNECTIONS, /* close accepted connections at once, for duration_ms */
    RN_FAULT__COUNT
} rn_fault_action_t;

/* The API key the counters use for refuse_connections, which concerns no API. */
#define RN_FAULT_NO_API (-1)
/* API keys counted per action: 0..RN_FAULT_MAX_API (Kafka's keys stay below 100). */
#define RN_FAULT_MAX_API 127

/* A fault as POST /faults describes it. Strings are copied by rn_faults_add. */
typedef struct rn_fault_spec {
    rn_fault_action_t action;
    int16_t api_key;       /* the API it applies to; RN_FAULT_NO_API for refuse_connections */
    int16_t error_code;    /* RN_FAULT_ERROR: the Kafka error code answered */
    int64_t count;         /* how many requests it applies to; -1: until cleared */
    uint32_t delay_ms;     /* RN_FAULT_DELAY */
    uint64_t duration_ms;  /* RN_FAULT_REFUSE_CONNECTIONS */
    const char *topic;     /* NULL: any; else only requests naming this topic */
    int32_t partition;     /* -1: any; else only requests naming topic's partition */
    const char *client_id; /* NULL: any; else only requests from this client id */
} rn_fault_spec_t;

/* A fault as stored, for GET /faults. Strings are valid during the rn_faults_list callback. */
typedef struct rn_fault_info {
    int64_t id;
    rn_fault_spec_t spec;
    int64_t remaining;    /* requests it still applies to; -1: until cleared */
    uint64_t injected;    /* times it was applied */
    int64_t remaining_ms; /* refuse_connections: time left in the window (0 when over) */
} rn_fault_info_t;

/* One topic-partition a request names, for matching. `partition` -1: the whole topic (Metadata);
 * `name` need not be NUL-terminated. */
typedef struct rn_fault_target {
    const char *name;
    size_t name_len;
    int32_t partition;
} rn_fault_target_t;

/* A request, as the matching sees it. */
typedef struct rn_fault_query {
    int16_t api_key;
    const char *client_id; /* NULL when the client sent a null client id */
    size_t client_id_len;
    const rn_fault_target_t *targets; /* what the request names; read only when a fault of this
                                         API filters on a topic (rn_faults_wants_topics) */
    size_t ntargets;
} rn_fault_query_t;

/* A fault that applied: what to do, and what to log. */
typedef struct rn_fault_hit {
    int64_t id;
    rn_fault_action_t action;
    int16_t error_code;
    uint32_t delay_ms;
    int64_t remaining; /* after this one; -1: until cleared */
} rn_fault_hit_t;

rn_faults_t *rn_faults_new(void);
/* NULL is fine. */
void rn_faults_free(rn_faults_t *faults);

/* Registers a fault (copying its strings); returns its id (1, 2, ...), or -1 out of memory.
 * A refuse_connections window starts now. */
int64_t rn_faults_add(rn_faults_t *faults, const rn_fault_spec_t *spec);
/* Removes every fault; returns how many there were. The injected counters stay. */
size_t rn_faults_clear(rn_faults_t *faults);
/* Removes fault `id`: true, or false when there is none. */
bool rn_faults_remove(rn_faults_t *faults, int64_t id);
/* Calls fn for each fault, in the order they were added, under the registry's lock: fn must
 * not call back into the registry. */
void rn_faults_list(rn_faults_t *faults, void (*fn)(const rn_fault_info_t *info, void *ctx),
                    void *ctx);

/* True when a request fault (error, delay, close) may apply: the request path's fast check,
 * one atomic load. NULL is fine (false). */
bool rn_faults_armed(const rn_faults_t *faults);
/* True when a live fault of `api_key` filters on a topic: the caller must then fill the
 * query's targets. */
bool rn_faults_wants_topics(rn_faults_t *faults, int16_t api_key);
/* Finds the first live fault (in the order added) that matches `q`; when there is one, uses one
 * of its count, counts it, fills *hit and returns true. */
bool rn_faults_take(rn_faults_t *faults, const rn_fault_query_t *q, rn_fault_hit_t *hit);
/* For a connection just accepted: true (with *hit filled and the refusal counted) when a
 * refuse_connections window is open. NULL is fine (false). */
bool rn_faults_refuse_connection(rn_faults_t *faults, rn_fault_hit_t *hit);

/* How many times faults of `action` were applied to requests of `api_key` (RN_FAULT_NO_API
 * for refuse_connections) since the registry was made: /metrics'
 * runnel_faults_injected_total{action,api}. */
uint64_t rn_faults_injected(rn_faults_t *faults, rn_fault_action_t action, int16_t api_key);
/* Calls fn for each (action, api_key) whose count is not zero, actions in enum order and keys
 * ascending, with a copy of the counters taken under the lock (fn runs without it). */
void rn_faults_injected_each(rn_faults_t *faults,
                             void (*fn)(rn_fault_action_t action, int16_t api_key, uint64_t count,
                                        void *ctx),
                             void *ctx);

/* "error", "delay", "close", "refuse_connections"; and back (false for an unknown name). */
const char *rn_fault_action_name(rn_fault_action_t action);
bool rn_fault_action_parse(const char *name, rn_fault_action_t *out);

#endif
