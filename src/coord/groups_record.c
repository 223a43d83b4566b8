/* SPDX-License-Identifier: Apache-2.0 */
/* GroupMetadataKey and GroupMetadataValue, the group records of __consumer_offsets, in Kafka's
 * layouts (group-coordinator GroupMetadataKey.json / GroupMetadataValue.json). Each starts with
 * an INT16 version. Key version 2: group STRING. Value versions:
 *   0: protocolType STRING, generation INT32, protocol STRING?, leader STRING?, members [
 *      memberId STRING, clientId STRING, clientHost STRING, sessionTimeout INT32,
 *      subscription BYTES, assignment BYTES ]
 *   1: members gain rebalanceTimeout INT32 (before sessionTimeout);
 *   2: currentStateTimestamp INT64 after leader;
 *   3: members gain groupInstanceId STRING? after memberId;
 *   4: as 3 in flexible form (compact strings, bytes and arrays, tagged fields).
 * We write value version 3, as Kafka does since 2.3, and read 0-4. Bytes read here may come
 * from a damaged file: every length goes through a reader that knows where the record ends. */
#include <string.h>

#include "coord/groups_internal.h"
#include "proto/reader.h"
#include "proto/writer.h"
#include "util/err.h"

void rn_groups_key_encode(rn_outbuf_t *w, rn_str_t group_id)
{
    rn_write_int16(w, RN_GROUPS_KEY_VERSION);
    rn_write_string(w, false, group_id);
}

void rn_groups_value_encode(rn_outbuf_t *w, const rn_group_t *g, int64_t now_ms)
{
    rn_write_int16(w, RN_GROUPS_VALUE_VERSION);
    /* Kafka writes "" for a group that never had a protocol type (offsets-only groups). */
    rn_write_string(w, false,
                    g->protocol_type.ptr ? rn_ostr_view(g->protocol_type) : rn_str_from_cstr(""));
    rn_write_int32(w, g->generation);
    rn_write_string(w, false, rn_ostr_view(g->protocol_name));
    rn_write_string(w, false,
                    g->leader ? rn_ostr_view(g->leader->member_id) : (rn_str_t){ NULL, 0 });
    rn_write_int64(w, g->state_timestamp >= 0 ? g->state_timestamp : now_ms);
    rn_write_array_len(w, false, (int32_t)g->nmembers);
    for (size_t i = 0; i < g->nmembers; i++) {
        const rn_group_member_t *m = g->members[i];
        rn_write_string(w, false, rn_ostr_view(m->member_id));
        rn_write_string(w, false, rn_ostr_view(m->group_instance_id));
        rn_write_string(w, false, rn_ostr_view(m->client_id));
        rn_write_string(w, false, rn_ostr_view(m->client_host));
        rn_write_int32(w, m->rebalance_timeout_ms);
        rn_write_int32(w, m->session_timeout_ms);
        rn_write_bytes(w, false, rn_groups_member_metadata(m, g->protocol_name));
        rn_bytes_t none = { (const uint8_t *)"", 0 };
        rn_write_bytes(w, false, m->assignment.ptr ? rn_ostr_bytes(m->assignment) : none);
    }
}

int rn_groups_key_decode(rn_bytes_t b, rn_str_t *group_id)
{
    rn_reader_t r;
    rn_reader_init(&r, b.ptr, b.len);
    int16_t version = rn_read_int16(&r, "key version");
    rn_str_t group = rn_read_string(&r, false, false, "group");
    if (!rn_reader_ok(&r) || version != RN_GROUPS_KEY_VERSION || rn_reader_left(&r) != 0)
        return RN_EPROTO;
    *group_id = group;
    return 0;
}

static bool skip_tags(rn_reader_t *r)
{
    uint32_t n = rn_read_uvarint(r, "tagged field count");
    for (uint32_t i = 0; i < n && rn_reader_ok(r); i++) {
        rn_read_uvarint(r, "tag");
        uint32_t len = rn_read_uvarint(r, "tagged field size");
        rn_reader_skip(r, len, "tagged field");
    }
    return rn_reader_ok(r);
}

static bool decode_member(rn_reader_t *r, int16_t v, rn_groups_value_member_t *m)
{
    bool flex = v >= 4;
    m->member_id = rn_read_string(r, flex, false, "memberId");
    m->group_instance_id =
        v >= 3 ? rn_read_string(r, flex, true, "groupInstanceId") : (rn_str_t){ NULL, 0 };
    m->client_id = rn_read_string(r, flex, false, "clientId");
    m->client_host = rn_read_string(r, flex, false, "clientHost");
    m->rebalance_timeout = v >= 1 ? rn_read_int32(r, "rebalanceTimeout") : -1;
    m->session_timeout = rn_read_int32(r, "sessionTimeout");
    m->subscription = rn_read_bytes(r, flex, false, "subscription");
    m->assignment = rn_read_bytes(r, flex, false, "assignment");
    if (flex && !skip_tags(r))
        return false;
    return rn_reader_ok(r);
}

int rn_groups_value_decode(rn_bytes_t b, rn_arena_t *arena, rn_groups_value_t *out)
{
    rn_reader_t r;
    rn_reader_init(&r, b.ptr, b.len);
    memset(out, 0, sizeof *out);
    int16_t v = rn_read_int16(&r, "value version");
    if (!rn_reader_ok(&r) || v < 0 || v > 4)
        return RN_EPROTO;
    bool flex = v >= 4;
    out->version = v;
    out->protocol_type = rn_read_string(&r, flex, false, "protocolType");
    out->generation = rn_read_int32(&r, "generation");
    out->protocol = rn_read_string(&r, flex, true, "protocol");
    out->leader = rn_read_string(&r, flex, true, "leader");
    out->current_state_timestamp = v >= 2 ? rn_read_int64(&r, "currentStateTimestamp") : -1;
    /* A member takes at least 18 bytes (version 0: three empty strings, an INT32 and two empty
     * BYTES; version 4: 15), so a count the record cannot hold is refused before anything is
     * allocated for it. */
    int32_t n = rn_read_array_len(&r, flex, false, flex ? 15 : 18, "members");
    if (!rn_reader_ok(&r))
        return RN_EPROTO;
    out->nmembers = n;
    if (arena != NULL && n > 0) {
        out->members = rn_arena_try_alloc_array(arena, rn_groups_value_member_t, n);
        if (out->members == NULL)
            return RN_ENOMEM;
    }
    for (int32_t i = 0; i < n; i++) {
        rn_groups_value_member_t m;
        if (!decode_member(&r, v, &m))
            return RN_EPROTO;
        if (out->members != NULL)
            out->members[i] = m;
    }
    if (flex && !skip_tags(&r))
        return RN_EPROTO;
    if (!rn_reader_ok(&r) || rn_reader_left(&r) != 0)
        return RN_EPROTO;
    return 0;
}
