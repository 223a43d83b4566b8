# SPDX-License-Identifier: Apache-2.0
"""Hand-built Kafka bytes for raw-socket tests: CRC-32C, varints, record batches v2 (and the
old magic-0/1 message sets), Produce, ListOffsets, OffsetCommit and OffsetFetch requests and
their responses, and the FindCoordinator, JoinGroup and SyncGroup that make a classic group member.

Everything here follows the protocol guide (../shared/kafka-protocol) and is written from it;
nothing is taken from the broker's code, so a test built on it checks the broker against Kafka,
not against itself."""

import os
import struct
import zlib

from harness import compact_string, uvarint

PRODUCE = 0
FETCH = 1
LIST_OFFSETS = 2
METADATA = 3
OFFSET_COMMIT = 8
OFFSET_FETCH = 9
INCREMENTAL_ALTER_CONFIGS = 44

# Error codes: Kafka's names for them, read from the project's one table (proto/errors.tsv), so
# a test says `kafka_wire.CORRUPT_MESSAGE` and a failure can print `error_name(code)`.
ERROR_NAMES = {}


def _load_error_table():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto",
                        "errors.tsv")
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            code, name, _message = line.rstrip("\n").split("\t")
            ERROR_NAMES[int(code)] = name
            globals()[name] = int(code)


_load_error_table()


def error_name(code):
    """Kafka's name of an error code, e.g. 'CORRUPT_MESSAGE' for 2."""
    return ERROR_NAMES.get(code, "UNKNOWN_CODE_%d" % code)

# Record batch attributes
CODEC_NONE, CODEC_GZIP, CODEC_SNAPPY, CODEC_LZ4, CODEC_ZSTD = 0, 1, 2, 3, 4


# -- CRC-32C (Castagnoli), table-driven, reflected polynomial 0x82F63B78 -----------------------

def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    table = _CRC32C_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# The standard check value (RFC 3720, appendix B.4 and every CRC catalogue).
assert crc32c(b"123456789") == 0xE3069283, "crc32c self-test failed"
assert crc32c(bytes(32)) == 0x8A9136AA, "crc32c self-test failed (32 zero bytes, RFC 3720)"


# -- varints -----------------------------------------------------------------------------------

def varint(n):
    """Zig-zag signed varint (also varlong: Python ints are unbounded)."""
    return uvarint((n << 1) ^ (n >> 63))


def nbytes(b):
    """Varint-length bytes of a record (-1 for null)."""
    if b is None:
        return varint(-1)
    return varint(len(b)) + b


# -- record batch v2 -------------------------------------------------------------------------

def record(key, value, offset_delta, timestamp_delta=0, headers=()):
    body = (struct.pack(">b", 0) + varint(timestamp_delta) + varint(offset_delta)
            + nbytes(key) + nbytes(value) + varint(len(headers)))
    for hk, hv in headers:
        body += varint(len(hk)) + hk + nbytes(hv)
    return varint(len(body)) + body


def records_v2(messages, timestamp_deltas=None):
    """The concatenated records for [(key, value), ...] with offset deltas 0..n-1."""
    out = b""
    for i, (k, v) in enumerate(messages):
        out += record(k, v, i, timestamp_deltas[i] if timestamp_deltas else 0)
    return out


def batch_v2(messages=None, base_timestamp=1700000000000, attributes=0, payload=None, count=None,
             last_offset_delta=None, max_timestamp=None, base_offset=0, crc=None,
             timestamp_deltas=None, producer_id=-1, producer_epoch=-1, base_sequence=-1):
    """A v2 record batch. By default `messages` [(key, value)] are written uncompressed with a
    correct CRC-32C. `payload` replaces the records section (for compressed or broken bodies),
    `count` the record count, `crc` the CRC field (for a bad CRC); an idempotent producer's batch
    gives its id, epoch and first sequence."""
    messages = messages or []
    if payload is None:
        payload = records_v2(messages, timestamp_deltas)
    if count is None:
        count = len(messages)
    if last_offset_delta is None:
        last_offset_delta = max(count - 1, 0)
    if max_timestamp is None:
        max_timestamp = base_timestamp + (max(timestamp_deltas) if timestamp_deltas else 0)
    after_crc = (struct.pack(">hiqqqhii", attributes, last_offset_delta, base_timestamp,
                             max_timestamp, producer_id, producer_epoch, base_sequence, count)
                 + payload)
    if crc is None:
        crc = crc32c(after_crc)
    # partition leader epoch, magic, crc
    tail = struct.pack(">ibI", -1, 2, crc) + after_crc
    return struct.pack(">qi", base_offset, len(tail)) + tail


def gzip_batch(messages, **kw):
    """A v2 batch whose records section is gzip-compressed (attributes codec 1)."""
    co = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    payload = co.compress(records_v2(messages)) + co.flush()
    return batch_v2(messages, attributes=CODEC_GZIP, payload=payload, count=len(messages), **kw)


# -- old message sets (magic 0 and 1) ----------------------------------------------------------

def message_set(messages, magic, timestamp=1700000000000):
    """A message set of uncompressed magic-0 or magic-1 messages with correct CRC-32 (IEEE)."""
    out = b""
    for i, (k, v) in enumerate(messages):
        body = struct.pack(">bb", magic, 0)
        if magic == 1:
            body += struct.pack(">q", timestamp)
        body += (struct.pack(">i", -1) if k is None else struct.pack(">i", len(k)) + k)
        body += (struct.pack(">i", -1) if v is None else struct.pack(">i", len(v)) + v)
        msg = struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF) + body
        out += struct.pack(">qi", i, len(msg)) + msg
    return out


# -- requests ----------------------------------------------------------------------------------

def string(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def produce_body(version, topic, partitions, acks=-1, timeout_ms=10000):
    """Produce request body. `partitions` is [(partition, records bytes or None)]."""
    flexible = version >= 9
    body = b""
    if version >= 3:
        body += uvarint(0) if flexible else string(None)          # transactional_id: null
    body += struct.pack(">hi", acks, timeout_ms)
    if flexible:
        body += uvarint(2) + compact_string(topic) + uvarint(len(partitions) + 1)
    else:
        body += struct.pack(">i", 1) + string(topic) + struct.pack(">i", len(partitions))
    for index, recs in partitions:
        body += struct.pack(">i", index)
        if flexible:
            body += uvarint(0) if recs is None else uvarint(len(recs) + 1) + recs
            body += uvarint(0)                                     # partition tags
        else:
            body += struct.pack(">i", -1) if recs is None else struct.pack(">i", len(recs)) + recs
    if flexible:
        body += uvarint(0) + uvarint(0)                            # topic tags, request tags
    return body


def parse_produce_response(version, r):
    """Returns {(topic, partition): dict(error, base_offset, log_append_time, log_start_offset,
    error_message)} and checks that nothing is left over. `r` is positioned after the header
    (for v9+, the caller has already skipped the response header's tag section)."""
    flexible = version >= 9
    out = {}

    def arr():
        return r.uvarint() - 1 if flexible else r.int32()

    def s():
        return r.compact_string() if flexible else r.string()

    for _ in range(arr()):
        topic = s()
        for _ in range(arr()):
            p = {"partition": r.int32(), "error": r.int16(), "base_offset": r.int64()}
            if version >= 2:
                p["log_append_time"] = r.int64()
            if version >= 5:
                p["log_start_offset"] = r.int64()
            if version >= 8:
                errors = []
                for _ in range(arr()):
                    errors.append((r.int32(), s()))
                    if flexible:
                        r.skip_tags()
                p["record_errors"] = errors
                p["error_message"] = s()
            if flexible:
                r.skip_tags()
            out[(topic, p["partition"])] = p
        if flexible:
            r.skip_tags()
    if version >= 1:
        r.int32()  # throttle_time_ms
    if flexible:
        r.skip_tags()
    if r.remaining():
        raise AssertionError("%d bytes left after a Produce v%d response" % (r.remaining(), version))
    return out


def list_offsets_body(version, topic, partitions):
    """ListOffsets request body; `partitions` is [(partition, timestamp)]."""
    flexible = version >= 6
    body = struct.pack(">i", -1)                                  # replica_id
    if version >= 2:
        body += struct.pack(">b", 0)                              # read_uncommitted
    if flexible:
        body += uvarint(2) + compact_string(topic) + uvarint(len(partitions) + 1)
    else:
        body += struct.pack(">i", 1) + string(topic) + struct.pack(">i", len(partitions))
    for index, ts in partitions:
        body += struct.pack(">i", index)
        if version >= 4:
            body += struct.pack(">i", -1)                         # current_leader_epoch
        body += struct.pack(">q", ts)
        if version == 0:
            body += struct.pack(">i", 1)                          # max_num_offsets
        if flexible:
            body += uvarint(0)
    if flexible:
        body += uvarint(0) + uvarint(0)
    return body


def parse_list_offsets_response(version, r):
    """Returns {(topic, partition): dict(error, timestamp, offset[, offsets for v0])}."""
    flexible = version >= 6
    out = {}

    def arr():
        return r.uvarint() - 1 if flexible else r.int32()

    if version >= 2:
        r.int32()  # throttle_time_ms
    for _ in range(arr()):
        topic = r.compact_string() if flexible else r.string()
        for _ in range(arr()):
            p = {"partition": r.int32(), "error": r.int16()}
            if version == 0:
                p["offsets"] = [r.int64() for _ in range(r.int32())]
            else:
                p["timestamp"] = r.int64()
                p["offset"] = r.int64()
            if version >= 4:
                p["leader_epoch"] = r.int32()
            if flexible:
                r.skip_tags()
            out[(topic, p["partition"])] = p
        if flexible:
            r.skip_tags()
    if flexible:
        r.skip_tags()
    if r.remaining():
        raise AssertionError("%d bytes left after a ListOffsets v%d response"
                             % (r.remaining(), version))
    return out


def _str(s, flexible):
    """A nullable string, compact when `flexible`."""
    if not flexible:
        return string(s)
    return uvarint(0) if s is None else compact_string(s)


def _arr(n, flexible):
    return uvarint(n + 1) if flexible else struct.pack(">i", n)


def _topic_key(version, topic, first_id_version):
    """A request's topic: its name (a str) before `first_id_version`, its 16-byte id from then
    on (KIP-848's topic ids)."""
    if version >= first_id_version:
        if not isinstance(topic, bytes) or len(topic) != 16:
            raise ValueError("v%d names topics by their 16-byte id, not %r" % (version, topic))
        return topic
    if not isinstance(topic, str):
        raise ValueError("v%d names topics by name, not %r" % (version, topic))
    return None


def offset_commit_request_body(version, group, topics, generation=-1, member_id="",
                               group_instance_id=None):
    """OffsetCommit request body, v2-v10. `topics` is [(topic, [(partition, offset, metadata)])]
    where a topic is its name up to v9 and its 16-byte id from v10. generation -1 with an empty
    member id is a standalone commit (a consumer outside the group protocol); v9+ reads the
    generation as "generation or member epoch" (KIP-848), the same field. retention_time_ms
    (v2-v4) is -1, the broker's default; committed_leader_epoch (v6+) is -1. v8+ is flexible."""
    if not 2 <= version <= 10:
        raise ValueError("OffsetCommit v%d is not built here" % version)
    flexible = version >= 8
    body = _str(group, flexible) + struct.pack(">i", generation) + _str(member_id, flexible)
    if version >= 7:
        body += _str(group_instance_id, flexible)
    if version <= 4:
        body += struct.pack(">q", -1)                             # retention_time_ms
    body += _arr(len(topics), flexible)
    for topic, partitions in topics:
        topic_id = _topic_key(version, topic, 10)
        body += topic_id if topic_id is not None else _str(topic, flexible)
        body += _arr(len(partitions), flexible)
        for partition, offset, metadata in partitions:
            body += struct.pack(">iq", partition, offset)
            if version >= 6:
                body += struct.pack(">i", -1)                     # committed_leader_epoch
            body += _str(metadata, flexible)
            if flexible:
                body += uvarint(0)                                # partition tags
        if flexible:
            body += uvarint(0)                                    # topic tags
    if flexible:
        body += uvarint(0)                                        # request tags
    return body


def offset_commit_body(version, group, topic, partition, offset, generation=-1, member_id="",
                       metadata=""):
    """OffsetCommit request body, v2-v10, committing `offset` for one partition of one topic
    (a name up to v9, a 16-byte topic id from v10); group_instance_id (v7+) is null."""
    return offset_commit_request_body(version, group, [(topic, [(partition, offset, metadata)])],
                                      generation, member_id)


def parse_offset_commit_response(version, r):
    """Returns {(topic, partition): error_code} and checks that nothing is left over; a topic is
    its name up to v9 and its 16-byte id from v10. `r` is positioned after the header (for v8+,
    the caller has skipped the header's tag section)."""
    flexible = version >= 8
    out = {}

    def arr():
        return r.uvarint() - 1 if flexible else r.int32()

    if version >= 3:
        r.int32()  # throttle_time_ms
    for _ in range(arr()):
        if version >= 10:
            topic = r.take(16)
        else:
            topic = r.compact_string() if flexible else r.string()
        for _ in range(arr()):
            partition, error = r.int32(), r.int16()
            if flexible:
                r.skip_tags()
            out[(topic, partition)] = error
        if flexible:
            r.skip_tags()
    if flexible:
        r.skip_tags()
    if r.remaining():
        raise AssertionError("%d bytes left after an OffsetCommit v%d response"
                             % (r.remaining(), version))
    return out


def offset_fetch_groups_body(version, groups, require_stable=False):
    """OffsetFetch request body, v8-v10: several groups at once. `groups` is [dict(group_id,
    topics, member_id, member_epoch)]: topics is [(topic, [partition])] (a topic's name up to v9,
    its 16-byte id from v10) or None for every offset of the group; member_id (v9+, nullable,
    default None) and member_epoch (v9+, default -1) are what a KIP-848 consumer sends."""
    if not 8 <= version <= 10:
        raise ValueError("OffsetFetch v%d has no groups array" % version)
    body = _arr(len(groups), True)
    for g in groups:
        body += _str(g["group_id"], True)
        if version >= 9:
            body += _str(g.get("member_id"), True)
            body += struct.pack(">i", g.get("member_epoch", -1))
        topics = g.get("topics")
        if topics is None:
            body += uvarint(0)                                    # null: every topic
        else:
            body += _arr(len(topics), True)
            for topic, partitions in topics:
                topic_id = _topic_key(version, topic, 10)
                body += topic_id if topic_id is not None else _str(topic, True)
                body += _arr(len(partitions), True)
                body += b"".join(struct.pack(">i", p) for p in partitions)
                body += uvarint(0)                                # topic tags
        body += uvarint(0)                                        # group tags
    body += struct.pack(">b", 1 if require_stable else 0)
    return body + uvarint(0)


def offset_fetch_body(version, group, topic, partitions, member_id=None, member_epoch=-1):
    """OffsetFetch request body, v1-v10, for some partitions of one topic of one group (a topic
    name up to v9, a 16-byte topic id from v10). v6+ is flexible; v7+ asks for require_stable
    false; v8+ wraps the group in a groups array; v9+ carries member_id and member_epoch."""
    if not 1 <= version <= 10:
        raise ValueError("OffsetFetch v%d is not built here" % version)
    if version >= 8:
        return offset_fetch_groups_body(version, [dict(group_id=group, member_id=member_id,
                                                       member_epoch=member_epoch,
                                                       topics=[(topic, partitions)])])
    flexible = version >= 6
    topics = _arr(1, flexible) + _str(topic, flexible) + _arr(len(partitions), flexible)
    topics += b"".join(struct.pack(">i", p) for p in partitions)
    if flexible:
        topics += uvarint(0)                                      # topic tags
    body = _str(group, flexible) + topics
    if version >= 7:
        body += struct.pack(">b", 0)                              # require_stable
    if flexible:
        body += uvarint(0)
    return body


def _offset_fetch_topics(version, r, out):
    flexible = version >= 6

    def arr():
        return r.uvarint() - 1 if flexible else r.int32()

    def s():
        return r.compact_string() if flexible else r.string()

    for _ in range(arr()):
        topic = r.take(16) if version >= 10 else s()
        for _ in range(arr()):
            partition = r.int32()
            p = {"offset": r.int64(), "leader_epoch": -1}
            if version >= 5:
                p["leader_epoch"] = r.int32()
            p["metadata"] = s()
            p["error"] = r.int16()
            if flexible:
                r.skip_tags()
            out[(topic, partition)] = p
        if flexible:
            r.skip_tags()


def parse_offset_fetch_groups_response(version, r):
    """OffsetFetch response v8-v10: [(group_id, error, {(topic, partition): dict(offset,
    leader_epoch, metadata, error)})] in the order of the response, a topic being its name up to
    v9 and its 16-byte id from v10. Checks that nothing is left over; `r` is positioned after
    the header's tag section."""
    if not 8 <= version <= 10:
        raise ValueError("OffsetFetch v%d has no groups array" % version)
    r.int32()  # throttle_time_ms
    groups = []
    for _ in range(r.uvarint() - 1):
        group_id = r.compact_string()
        parts = {}
        _offset_fetch_topics(version, r, parts)
        groups.append((group_id, r.int16(), parts))
        r.skip_tags()
    r.skip_tags()
    if r.remaining():
        raise AssertionError("%d bytes left after an OffsetFetch v%d response"
                             % (r.remaining(), version))
    return groups


def parse_offset_fetch_response(version, r):
    """Returns (error, {(topic, partition): dict(offset, leader_epoch, metadata, error)}): the
    top-level error (v2-v7) or the one group's error (v8+), 0 before v2; from v10 a topic is its
    16-byte id. Checks that nothing is left over; `r` is positioned after the header (for v6+,
    after the header's tag section)."""
    if version >= 8:
        groups = parse_offset_fetch_groups_response(version, r)
        if len(groups) != 1:
            raise AssertionError("OffsetFetch v%d response for %d groups, asked for 1"
                                 % (version, len(groups)))
        return groups[0][1], groups[0][2]
    flexible = version >= 6
    out = {}
    error = 0
    if version >= 3:
        r.int32()  # throttle_time_ms
    _offset_fetch_topics(version, r, out)
    if version >= 2:
        error = r.int16()
    if flexible:
        r.skip_tags()
    if r.remaining():
        raise AssertionError("%d bytes left after an OffsetFetch v%d response"
                             % (r.remaining(), version))
    return error, out


# -- FindCoordinator v1, JoinGroup v3 and SyncGroup v2: a classic group member, by hand -------

FIND_COORDINATOR = 10
JOIN_GROUP = 11
SYNC_GROUP = 14


def find_coordinator_v1_body(group):
    return string(group) + struct.pack(">b", 0)                   # key_type 0: a group


def parse_find_coordinator_v1_response(r):
    """Returns (error, node_id, host, port)."""
    r.int32()  # throttle_time_ms
    error = r.int16()
    r.string()  # error_message
    return error, r.int32(), r.string(), r.int32()


def join_group_v3_body(group, member_id="", protocol_type="consumer",
                       protocols=(("range", b""),), session_timeout_ms=30000,
                       rebalance_timeout_ms=30000):
    """JoinGroup v3 (the last version without MEMBER_ID_REQUIRED): a dynamic member."""
    body = string(group) + struct.pack(">ii", session_timeout_ms, rebalance_timeout_ms)
    body += string(member_id) + string(protocol_type) + struct.pack(">i", len(protocols))
    for name, metadata in protocols:
        body += string(name) + struct.pack(">i", len(metadata)) + metadata
    return body


def parse_join_group_v3_response(r):
    """Returns dict(error, generation_id, protocol_name, leader, member_id, members)."""
    r.int32()  # throttle_time_ms
    out = {"error": r.int16(), "generation_id": r.int32(), "protocol_name": r.string(),
           "leader": r.string(), "member_id": r.string(), "members": []}
    for _ in range(r.int32()):
        member_id = r.string()
        out["members"].append((member_id, r.take(r.int32())))
    if r.remaining():
        raise AssertionError("%d bytes left after a JoinGroup v3 response" % r.remaining())
    return out


def sync_group_v2_body(group, generation, member_id, assignments=()):
    """SyncGroup v2; `assignments` is [(member_id, bytes)] (the leader's)."""
    body = string(group) + struct.pack(">i", generation) + string(member_id)
    body += struct.pack(">i", len(assignments))
    for member, assignment in assignments:
        body += string(member) + struct.pack(">i", len(assignment)) + assignment
    return body


def parse_sync_group_v2_response(r):
    """Returns (error, assignment bytes)."""
    r.int32()  # throttle_time_ms
    error = r.int16()
    n = r.int32()
    assignment = r.take(n) if n >= 0 else None
    if r.remaining():
        raise AssertionError("%d bytes left after a SyncGroup v2 response" % r.remaining())
    return error, assignment


# -- ApiVersions v3 and Metadata v0-v13 --------------------------------------------------------

def api_versions_v3_body(name="runnel-it", version="1.0"):
    """ApiVersions request body v3/v4: client_software_name and _version (compact), tags. The
    header is v2 (flexible); the response header stays v0 (KIP-511)."""
    return compact_string(name) + compact_string(version) + uvarint(0)


def parse_api_versions_v3_body(r):
    """ApiVersions response v3/v4: error_code, compact [api_key min max tags], throttle_time_ms,
    tags (the supported and finalized features ride there and are skipped). Returns
    (error, {key: (min, max)}) and checks that nothing is left over."""
    error = r.int16()
    n = r.uvarint() - 1
    if not 0 <= n <= 1000:
        raise AssertionError("implausible compact array length %d" % n)
    keys = {}
    for _ in range(n):
        key, lo, hi = r.int16(), r.int16(), r.int16()
        r.skip_tags()
        keys[key] = (lo, hi)
    r.int32()  # throttle_time_ms
    r.skip_tags()
    if r.remaining():
        raise AssertionError("%d bytes left after an ApiVersions v3 body" % r.remaining())
    return error, keys


def metadata_flexible(version):
    """Metadata v9+ has flexible bodies, so request header v2 and response header v1."""
    return version >= 9


def metadata_body(version, topics=None, allow_auto_topic_creation=False):
    """Metadata request body, v0-v13. `topics` None asks for every topic (an empty array for v0,
    where the array is not nullable); topic ids (v10+) are sent as zero."""
    if not 0 <= version <= 13:
        raise ValueError("Metadata v%d is not built here" % version)
    flexible = metadata_flexible(version)
    if topics is None:
        if version == 0:
            body = struct.pack(">i", 0)
        else:
            body = uvarint(0) if flexible else struct.pack(">i", -1)
    else:
        body = _arr(len(topics), flexible)
        for name in topics:
            if version >= 10:
                body += bytes(16)                                 # topic_id: zero, by name
            body += _str(name, flexible)
            if flexible:
                body += uvarint(0)
    if version >= 4:
        body += struct.pack(">b", 1 if allow_auto_topic_creation else 0)
    if 8 <= version <= 10:
        body += struct.pack(">b", 0)          # include_cluster_authorized_operations
    if version >= 8:
        body += struct.pack(">b", 0)          # include_topic_authorized_operations
    if flexible:
        body += uvarint(0)
    return body


def parse_metadata_response(version, r):
    """Metadata response body, v0-v13. Returns dict(brokers=[(node_id, host, port, rack)],
    cluster_id, controller_id, error, topics={name: dict(error, internal, partitions={index:
    dict(error, leader, replicas, isr)})}) and checks that nothing is left over. `r` is
    positioned after the header (for v9+, after the header's tag section)."""
    flexible = metadata_flexible(version)

    def arr():
        return r.uvarint() - 1 if flexible else r.int32()

    def s():
        return r.compact_string() if flexible else r.string()

    def int32s():
        return [r.int32() for _ in range(arr())]

    out = {"brokers": [], "cluster_id": None, "controller_id": -1, "error": 0, "topics": {}}
    if version >= 3:
        r.int32()  # throttle_time_ms
    for _ in range(arr()):
        node_id, host, port = r.int32(), s(), r.int32()
        rack = s() if version >= 1 else None
        if flexible:
            r.skip_tags()
        out["brokers"].append((node_id, host, port, rack))
    if version >= 2:
        out["cluster_id"] = s()
    if version >= 1:
        out["controller_id"] = r.int32()
    for _ in range(arr()):
        topic = {"error": r.int16()}
        name = s()
        if version >= 10:
            topic["topic_id"] = r.take(16)
        topic["internal"] = bool(r.int8()) if version >= 1 else False
        partitions = {}
        for _ in range(arr()):
            p = {"error": r.int16()}
            index = r.int32()
            p["leader"] = r.int32()
            if version >= 7:
                p["leader_epoch"] = r.int32()
            p["replicas"] = int32s()
            p["isr"] = int32s()
            if version >= 5:
                p["offline"] = int32s()
            if flexible:
                r.skip_tags()
            partitions[index] = p
        topic["partitions"] = partitions
        if version >= 8:
            r.int32()  # topic_authorized_operations
        if flexible:
            r.skip_tags()
        out["topics"][name] = topic
    if 8 <= version <= 10:
        r.int32()      # cluster_authorized_operations
    if version >= 13:
        out["error"] = r.int16()
    if flexible:
        r.skip_tags()
    if r.remaining():
        raise AssertionError("%d bytes left after a Metadata v%d response"
                             % (r.remaining(), version))
    return out
