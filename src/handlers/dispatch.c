/* SPDX-License-Identifier: Apache-2.0 */
/* From a frame to a handler: reads the request header (v1 for classic versions, v2 with a tag
 * section for flexible ones), routes by API key and version, and frames responses (header v0
 * for classic versions and always for ApiVersions; v1 with a tag section for flexible ones).
 *
 * An unknown API or version never reaches a handler: ApiVersions answers UNSUPPORTED_VERSION
 * with a v0 body (CLIENTS.md rule 1); anything else closes the connection with a log line. */
#include "handlers/handlers.h"

#include <stdio.h>

#include "faults/faults.h"
#include "handlers/inject.h"
#include "log/log.h"
#include "util/clock.h"
#include "util/logging.h"

static bool is_flexible(int16_t api_key, int16_t version)
{
    const rn_proto_api_t *api = rn_proto_api_find(api_key);
    return api != NULL && api->flexible_min >= 0 && version >= api->flexible_min;
}

/* Renders a client id for a log line: printable ASCII kept, the rest hex-escaped. */
static const char *printable(rn_str_t s, char *buf, size_t cap)
{
    if (s.ptr == NULL)
        return "(null)";
    size_t o = 0;
    for (size_t i = 0; i < s.len && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            buf[o++] = (char)ch;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", ch);
    }
    buf[o] = '\0';
    return buf;
}

/* Every way a request ends goes through here, so that the metrics see each exactly once. */
static void finish(rn_request_t *req, rn_finish_t how)
{
    rn_handlers_metrics_finish(req, how);
    req->finish(req, how);
}

static bool encode_response(rn_request_t *req, int16_t version, bool flexible_header,
                            void (*encode)(rn_outbuf_t *, int16_t, const void *), const void *resp)
{
    rn_outbuf_t *w = &req->out;
    rn_write_int32(w, 0); /* size, patched below */
    rn_write_int32(w, req->correlation_id);
    if (flexible_header)
        rn_write_uvarint(w, 0); /* response header v1: empty tag section */
    encode(w, version, resp);
    if (w->failed) {
        rn_reject(req, "out of memory while encoding the response");
        return false;
    }
    rn_outbuf_patch_be32(w, 0, (uint32_t)(rn_outbuf_wire_len(w) - 4));
    return true;
}

bool rn_encode_response(rn_request_t *req, const void *resp)
{
    const rn_proto_api_t *api = rn_proto_api_find(req->api_key);
    /* ApiVersions' response header is always v0, even when its body is flexible (KIP-511),
     * so that a client can read it before it knows which versions the broker has. */
    bool flex_header =
        req->api_key != RN_API_API_VERSIONS && is_flexible(req->api_key, req->api_version);
    req->answered_error = api->response_error(resp, req->api_version);
    return encode_response(req, req->api_version, flex_header, api->response_encode, resp);
}

void rn_send_encoded(rn_request_t *req)
{
    finish(req, RN_FINISH_RESPOND);
}

void rn_respond(rn_request_t *req, const void *resp)
{
    if (rn_encode_response(req, resp))
        rn_send_encoded(req);
}

void rn_respond_none(rn_request_t *req)
{
    finish(req, RN_FINISH_NONE);
}

void rn_reject(rn_request_t *req, const char *why)
{
    char id[128];
    const rn_proto_api_t *api = rn_proto_api_find(req->api_key);
    rn_log(RN_LOG_WARN, "handlers",
           "closing connection from %s (client id '%s'): %s (key %d) v%d: %s",
           req->peer ? req->peer : "?", printable(req->client_id, id, sizeof id),
           api ? api->name : "unknown API", req->api_key, req->api_version, why);
    finish(req, RN_FINISH_CLOSE);
}

rn_kerr_t rn_leader_epoch_check(int32_t current_leader_epoch)
{
    if (current_leader_epoch < 0 || current_leader_epoch == RN_LOG_LEADER_EPOCH)
        return RN_KERR_NONE;
    return current_leader_epoch > RN_LOG_LEADER_EPOCH ? RN_KERR_UNKNOWN_LEADER_EPOCH
                                                      : RN_KERR_FENCED_LEADER_EPOCH;
}

bool rn_decode_body(rn_request_t *req, void *msg)
{
    const rn_proto_api_t *api = rn_proto_api_find(req->api_key);
    rn_reader_t *r = &req->body;
    const uint8_t *start = r->cur;
    if (api->request_decode(r, req->api_version, &req->arena, msg) != RN_DECODE_OK) {
        char why[160];
        snprintf(why, sizeof why, "malformed request body (%s) at byte %zu", r->err ? r->err : "?",
                 (size_t)(r->cur - start));
        rn_reject(req, why);
        return false;
    }
    /* Bytes after a whole body are ignored, as Kafka 4.4 ignores them: librdkafka 2.16's
     * AdminClient list_topics sends Metadata v13 with three (tests/unit/handlers/
     * test_dispatch.c has the frame), and Kafka answers it. */
    if (rn_reader_left(r) != 0)
        rn_log(RN_LOG_DEBUG, "handlers", "%s v%d: ignored %zu bytes after the request body",
               api->name, req->api_version, rn_reader_left(r));
    return true;
}

/* Kafka answers an ApiVersions request of a version it does not know with a v0-shaped body:
 * UNSUPPORTED_VERSION and its own ranges. We send every range, as the clients in CLIENTS.md
 * expect (kafkajs and librdkafka step down; Java-style clients retry at ApiVersions' max). */
static void answer_unsupported_api_versions(rn_request_t *req)
{
    rn_api_versions_response_t resp;
    rn_api_versions_response_init(&resp);
    resp.error_code = RN_KERR_UNSUPPORTED_VERSION;
    if (!rn_api_versions_fill(req, &resp)) {
        rn_reject(req, "out of memory");
        return;
    }
    const rn_proto_api_t *api = rn_proto_api_find(RN_API_API_VERSIONS);
    req->answered_error = RN_KERR_UNSUPPORTED_VERSION;
    if (encode_response(req, 0, false, api->response_encode, &resp))
        rn_send_encoded(req);
}

void rn_handlers_dispatch(rn_request_t *req)
{
    rn_reader_t r;
    req->start_ns = rn_clock_mono_ns();
    rn_reader_init(&r, req->frame, req->frame_len);
    req->api_key = rn_read_int16(&r, "request_api_key");
    req->api_version = rn_read_int16(&r, "request_api_version");
    req->correlation_id = rn_read_int32(&r, "correlation_id");
    req->client_id = (rn_str_t){ NULL, 0 };
    if (!rn_reader_ok(&r)) {
        req->start_ns = 0; /* no API to count it under */
        rn_reject(req, "request shorter than its header");
        return;
    }
    const rn_handler_t *h = rn_handlers_find(req->api_key);
    if (h == NULL || req->api_version < h->min || req->api_version > h->max) {
        if (req->api_key == RN_API_API_VERSIONS) {
            answer_unsupported_api_versions(req);
            return;
        }
        /* Best effort: the client id is in the same place in header v1 and v2. */
        req->client_id = rn_read_string(&r, false, true, "client_id");
        rn_reject(req, h == NULL ? "unknown API key" : "unsupported version");
        return;
    }
    rn_reader_init(&r, req->frame, req->frame_len);
    rn_request_header_t hdr;
    int16_t header_version = is_flexible(req->api_key, req->api_version) ? 2 : 1;
    if (rn_request_header_decode(&r, header_version, &req->arena, &hdr) != RN_DECODE_OK) {
        rn_reject(req, "malformed request header");
        return;
    }
    req->client_id = hdr.client_id;
    req->body = r;
    /* One atomic load while no fault is registered (faults.h). */
    if (rn_faults_armed(req->broker->faults) && rn_inject_faults(req))
        return;
    h->fn(req);
}
