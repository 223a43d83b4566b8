/* SPDX-License-Identifier: Apache-2.0 */
/* The handler room's interface: one request in, one response (or none, or a closed
 * connection) out. The broker hands each frame to rn_handlers_dispatch(), which reads the
 * request header, checks the API and version against the handler table, and calls the
 * handler. Handlers never see a socket: they finish a request through rn_respond(),
 * rn_respond_none() or rn_reject(), which call the `finish` hook the broker installed.
 *
 * The handler table is also what ApiVersions advertises, so a range grows only when the
 * handler for it exists (CLIENTS.md rules 1-3). */
#ifndef RN_HANDLERS_HANDLERS_H
#define RN_HANDLERS_HANDLERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "proto/errors.h"
#include "proto/messages.h"
#include "util/arena.h"
#include "util/bytes.h"
#include "util/outbuf.h"
#include "util/work.h"

/* What handlers know of the broker they run in. Read-only once the broker has started,
 * except `port`, published when the listeners are bound. */
typedef struct rn_broker_info {
    struct rn_topics *topics;       /* the topic registry (src/topics/topics.h) */
    struct rn_coord *coord;         /* groups and committed offsets (src/coord/coord.h) */
    struct rn_faults *faults;       /* injected faults (src/faults/faults.h); NULL: none */
    const struct rn_config *config; /* the broker's validated configuration (src/config.h) */
    int32_t node_id;
    const char *cluster_id;
    const char *advertised_host;
    _Atomic int advertised_port;
    bool auto_create_topics_enable;
    int32_t num_partitions;
} rn_broker_info_t;

typedef enum rn_finish {
    RN_FINISH_RESPOND, /* send `out` */
    RN_FINISH_NONE,    /* no response (Produce acks=0) */
    RN_FINISH_CLOSE,   /* close the connection */
} rn_finish_t;

typedef struct rn_request rn_request_t;
struct rn_request {
    /* Filled by rn_handlers_dispatch from the request header. */
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    rn_str_t client_id; /* points into the frame; NULL ptr when the client sent null */
    rn_reader_t body;   /* the bytes after the header */
    /* Set by the broker before dispatch. */
    const uint8_t *frame; /* the request, size prefix stripped; alive until finish */
    size_t frame_len;
    const char *peer;             /* "ip:port", for log lines */
    struct rn_loop_ctx *loop_ctx; /* the connection's loop, for requests that wait (park.h) */
    rn_executor_t *executor; /* where blocking work goes (util/work.h): the loop's thread pool */
    const rn_broker_info_t *broker;
    rn_arena_t arena; /* everything decoded for this request */
    rn_outbuf_t out;  /* the response frame: size prefix, header, body */
    /* Called exactly once per request, on the connection's loop. May free the request. */
    void (*finish)(rn_request_t *req, rn_finish_t how);
    void *finish_ctx;
    /* Metrics (metrics.c), set by dispatch: when the request started (rn_clock_mono_ns; 0:
     * not metered), and the first error code of the encoded answer (0: none). */
    int64_t start_ns;
    int16_t answered_error;
};

/* A handler decodes req->body at req->api_version and finishes the request, now or later. */
typedef void (*rn_handler_fn)(rn_request_t *req);

typedef struct rn_handler {
    int16_t min, max; /* versions handled, a subset of the schema's */
    rn_handler_fn fn;
} rn_handler_t;

/* The handler for `api_key`, or NULL (fn == NULL) when there is none. */
const rn_handler_t *rn_handlers_find(int16_t api_key);
/* Fills `out` with every API that has a handler and its range; returns how many. */
size_t rn_handlers_list(int16_t *keys, int16_t *mins, int16_t *maxs, size_t cap);

/* Whether an injected error fault can answer requests of `api_key` (a response shape that
 * carries an error code for the whole request is known for it: Produce, Fetch, ListOffsets,
 * Metadata, OffsetCommit, OffsetFetch, FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup, InitProducerId, ApiVersions). */
bool rn_error_answer_supported(int16_t api_key);

/* Reads the request header and runs the handler (or answers/rejects as Kafka does for an
 * unknown API or version). Always finishes the request, possibly later. */
void rn_handlers_dispatch(rn_request_t *req);

/* Fills resp->api_keys with the handler table (ApiVersions, including its error answer).
 * False when the request's arena is exhausted. */
bool rn_api_versions_fill(rn_request_t *req, rn_api_versions_response_t *resp);

/* Response helpers for handlers. rn_respond encodes `resp` (the API's response struct) at the
 * request's version behind the right response header and finishes the request. */
void rn_respond(rn_request_t *req, const void *resp);
/* rn_respond in two steps, for an answer that is known before it may go out (a group's answer
 * waits for its records to be written): rn_encode_response encodes `resp` into req->out (false:
 * out of memory, and the request has been rejected), rn_send_encoded later finishes the request
 * with it. */
bool rn_encode_response(rn_request_t *req, const void *resp);
void rn_send_encoded(rn_request_t *req);
void rn_respond_none(rn_request_t *req);
/* Logs `why` (with peer, client id, API, version and reader position when given) and closes
 * the connection. */
void rn_reject(rn_request_t *req, const char *why);
/* Decodes the request body into `msg` (the API's request struct, allocated by the caller),
 * rejecting the request (and returning false) on malformed input or trailing bytes. */
bool rn_decode_body(rn_request_t *req, void *msg);

/* KIP-320: a client's current_leader_epoch (-1: not given) against the partition's, always
 * RN_LOG_LEADER_EPOCH here: a newer one is UNKNOWN_LEADER_EPOCH (the client knows of a leader
 * this broker does not), an older one FENCED_LEADER_EPOCH, as Kafka answers Fetch v9+ and
 * ListOffsets v4+. */
rn_kerr_t rn_leader_epoch_check(int32_t current_leader_epoch);

/* ---- metrics (metrics.c), for the control plane's /metrics: every request that reached the
 * handler table, counted when it finishes. An error is an answer with any non-zero error code
 * (rn_proto_api_t.response_error: top level or nested), an UNSUPPORTED_VERSION ApiVersions
 * answer, or a connection closed instead of an answer. Process-wide; any thread. */
#define RN_HANDLERS_METRICS_KEYS 128    /* API keys 0..127 are metered */
#define RN_HANDLERS_METRICS_VERSIONS 32 /* versions 0..31 */
/* Counts a request being finished `how` (called by dispatch.c just before req->finish). */
void rn_handlers_metrics_finish(const rn_request_t *req, rn_finish_t how);
/* Requests (*n) and errors (*nerr) so far for one API key and version (0 outside the metered
 * ranges). */
void rn_handlers_metrics_get(int16_t api_key, int16_t version, uint64_t *n, uint64_t *nerr);
/* Request durations (dispatch to finish, waiting included) of one API key; NULL outside the
 * metered range. */
const struct rn_histogram *rn_handlers_metrics_duration(int16_t api_key);

/* Loop hooks for the network room (rn_net_config_t.loop_start/_stop/_end): per-loop state for
 * requests that wait. */
void *rn_handlers_loop_start(uv_loop_t *loop, int index, void *unused);
void rn_handlers_loop_stop(void *loop_ctx);
void rn_handlers_loop_end(void *loop_ctx);
/* The executor of a loop's state (rn_request_t.executor): libuv's thread pool, completions on
 * that loop. */
rn_executor_t *rn_handlers_loop_executor(void *loop_ctx);

/* Handlers. */
void rn_handle_api_versions(rn_request_t *req);
void rn_handle_metadata(rn_request_t *req);
void rn_handle_produce(rn_request_t *req);
void rn_handle_fetch(rn_request_t *req);
void rn_handle_list_offsets(rn_request_t *req);
void rn_handle_find_coordinator(rn_request_t *req);
void rn_handle_init_producer_id(rn_request_t *req);
void rn_handle_add_partitions_to_txn(rn_request_t *req);
void rn_handle_add_offsets_to_txn(rn_request_t *req);
void rn_handle_end_txn(rn_request_t *req);
void rn_handle_txn_offset_commit(rn_request_t *req);
void rn_handle_describe_transactions(rn_request_t *req);
void rn_handle_list_transactions(rn_request_t *req);
void rn_handle_describe_acls(rn_request_t *req);
void rn_handle_create_acls(rn_request_t *req);
void rn_handle_delete_acls(rn_request_t *req);
void rn_handle_create_topics(rn_request_t *req);
void rn_handle_delete_topics(rn_request_t *req);
void rn_handle_delete_records(rn_request_t *req);
void rn_handle_create_partitions(rn_request_t *req);
void rn_handle_describe_configs(rn_request_t *req);
void rn_handle_alter_configs(rn_request_t *req);
void rn_handle_incremental_alter_configs(rn_request_t *req);
void rn_handle_join_group(rn_request_t *req);
void rn_handle_heartbeat(rn_request_t *req);
void rn_handle_leave_group(rn_request_t *req);
void rn_handle_sync_group(rn_request_t *req);
void rn_handle_describe_groups(rn_request_t *req);
void rn_handle_list_groups(rn_request_t *req);
void rn_handle_delete_groups(rn_request_t *req);
void rn_handle_offset_commit(rn_request_t *req);
void rn_handle_offset_fetch(rn_request_t *req);
void rn_handle_offset_delete(rn_request_t *req);
void rn_handle_describe_cluster(rn_request_t *req);
void rn_handle_describe_log_dirs(rn_request_t *req);
void rn_handle_offset_for_leader_epoch(rn_request_t *req);
void rn_handle_describe_producers(rn_request_t *req);
void rn_handle_describe_topic_partitions(rn_request_t *req);

#endif
