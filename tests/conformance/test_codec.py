#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks of codec.py: golden bytes laid out by hand from the protocol guide (the same vectors
as tests/unit/proto/test_vectors.c, so the Python and the C codecs agree on them), round trips
of varied values through every section of every version of every schema, and strict decoding
(truncation, trailing bytes, bad lengths, unknown tags).

    python3 tests/conformance/test_codec.py          (also run by meson: conformance_codec)"""

import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from codec import Codec, CodecError, Reader, ZERO_UUID, uvarint  # noqa: E402

CODEC = Codec.load()


def h(text):
    """Bytes from hex written with spaces and comments-free groups."""
    return bytes.fromhex("".join(text.split()))


class GoldenVectors(unittest.TestCase):
    """Each vector is also in tests/unit/proto/test_vectors.c, where the C codec checks it."""

    def test_api_versions_v3_request_as_librdkafka_sends_it(self):
        frame = h("0012 0003 00000001 0007 72646b61666b61 00"    # header v2: INT16 client id
                  "0b 6c696272646b61666b61 06 322e302e32 00")    # compact strings, tags
        hdr, body = CODEC.decode_request(frame)
        self.assertEqual(hdr, {"request_api_key": 18, "request_api_version": 3,
                               "correlation_id": 1, "client_id": "rdkafka"})
        self.assertEqual(body, {"client_software_name": "librdkafka",
                                "client_software_version": "2.0.2"})
        self.assertEqual(CODEC.encode_request(18, 3, 1, "rdkafka", body), frame)

    def test_api_versions_v0_request_is_header_only(self):
        frame = h("0012 0000 00000007 0000")
        hdr, body = CODEC.decode_request(frame)
        self.assertEqual(hdr["correlation_id"], 7)
        self.assertEqual(hdr["client_id"], "")
        self.assertEqual(body, {})

    def two_apis(self):
        return [{"api_key": 3, "min_version": 0, "max_version": 12},
                {"api_key": 18, "min_version": 0, "max_version": 4}]

    def test_api_versions_v0_response(self):
        want = h("0023 00000002 0003 0000 000c 0012 0000 0004")
        self.assertEqual(CODEC.encode_body(18, "response", 0,
                                           {"error_code": 35, "api_keys": self.two_apis()}), want)
        self.assertEqual(CODEC.decode_body(18, "response", 0, want),
                         {"error_code": 35, "api_keys": self.two_apis()})

    def test_api_versions_v3_response_writes_tags_only_when_not_default(self):
        want = h("0000 03 0003 0000 000c 00 0012 0000 0004 00 00000000 00")
        body = {"api_keys": self.two_apis()}
        self.assertEqual(CODEC.encode_body(18, "response", 3, body), want)
        body["finalized_features_epoch"] = 5
        with_tag = CODEC.encode_body(18, "response", 3, body)
        self.assertEqual(with_tag, want[:-1] + h("01 01 08 0000000000000005"))
        decoded = CODEC.decode_body(18, "response", 3, with_tag)
        self.assertEqual(decoded["finalized_features_epoch"], 5)
        self.assertEqual(CODEC.decode_body(18, "response", 3, want)["finalized_features_epoch"], -1)

    def test_api_versions_response_header_is_v0_even_when_flexible(self):
        payload = h("0000002a") + h("0000 01 00000000 00")
        corr, body = CODEC.decode_response(18, 3, payload)
        self.assertEqual((corr, body["api_keys"]), (42, []))

    def test_metadata_v0(self):
        req = h("00000001 0003 666f6f")
        body = CODEC.decode_body(3, "request", 0, req)
        self.assertEqual(body, {"topics": [{"name": "foo"}]})
        self.assertEqual(CODEC.encode_body(3, "request", 0, body), req)
        resp = h("00000001 00000001 0001 68 00002384"
                 "00000001 0003 0003 666f6f 00000000")
        want = {"brokers": [{"node_id": 1, "host": "h", "port": 9092}],
                "topics": [{"error_code": 3, "name": "foo", "partitions": []}]}
        self.assertEqual(CODEC.decode_body(3, "response", 0, resp), want)
        self.assertEqual(CODEC.encode_body(3, "response", 0, want), resp)

    def test_metadata_v9(self):
        req = h("02 04 666f6f 00 01 00 01 00")
        body = CODEC.decode_body(3, "request", 9, req)
        self.assertEqual(body, {"topics": [{"name": "foo"}], "allow_auto_topic_creation": True,
                                "include_cluster_authorized_operations": False,
                                "include_topic_authorized_operations": True})
        self.assertEqual(CODEC.encode_body(3, "request", 9, body), req)
        resp = h("00000000 02 00000001 02 68 00002384 00 00 02 63 00000001 01 80000000 00")
        got = CODEC.decode_body(3, "response", 9, resp)
        self.assertEqual(got["brokers"], [{"node_id": 1, "host": "h", "port": 9092, "rack": None}])
        self.assertEqual((got["cluster_id"], got["controller_id"], got["topics"]), ("c", 1, []))
        self.assertEqual(got["cluster_authorized_operations"], -2147483648)
        self.assertEqual(CODEC.encode_body(3, "response", 9, got), resp)


def sample_value(codec, msg, f, v, rng, depth):
    """A varied value for field f at version v (nulls where the version allows them)."""
    nullable = f.nullable.contains(v)
    k = f.kind()
    if nullable and rng.random() < 0.2:
        return None
    if k in ("array", "struct_array"):
        n = 0 if depth > 3 else rng.randrange(3)
        return [sample_elem(codec, msg, f, v, rng, depth + 1) for _ in range(n)]
    return sample_elem(codec, msg, f, v, rng, depth)


def sample_elem(codec, msg, f, v, rng, depth):
    e = f.elem
    if f.elem_is_struct:
        return {g.name: sample_value(codec, msg, g, v, rng, depth + 1) for g in f.struct.fields
                if g.versions.contains(v)}
    if e == "string":
        return rng.choice(["", "a", "topic-\u00e9", "x" * 200])
    if e in ("bytes", "records"):
        return bytes(rng.randrange(256) for _ in range(rng.randrange(6)))
    if e == "uuid":
        return "%08x-0000-4000-8000-%012x" % (rng.randrange(1 << 32), rng.randrange(1 << 48))
    if e == "bool":
        return rng.random() < 0.5
    if e == "float64":
        return rng.randrange(1000) / 4.0
    bits = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}.get(e)
    if e == "uint16":
        return rng.randrange(1 << 16)
    return rng.randrange(-(1 << (bits - 1)), 1 << (bits - 1))


class RoundTrips(unittest.TestCase):
    def test_every_section_of_every_version_round_trips(self):
        rng = random.Random(10)
        count = 0
        for key, msg in sorted(CODEC.apis.items()):
            for sec in msg.sections:
                for v in range(msg.versions.lo, msg.versions.hi + 1):
                    for _ in range(4):
                        value = {f.name: sample_value(CODEC, msg, f, v, rng, 0)
                                 for f in sec.top.fields if f.versions.contains(v)}
                        data = CODEC.encode_body(key, sec.kind, v, value)
                        with self.subTest(api=msg.name, section=sec.kind, version=v):
                            self.assertEqual(CODEC.decode_body(key, sec.kind, v, data), value)
                        count += 1
        self.assertGreater(count, 1000)

    def test_absent_fields_take_their_defaults(self):
        data = CODEC.encode_body(1, "request", 12, {})
        body = CODEC.decode_body(1, "request", 12, data)
        self.assertEqual(body["max_bytes"], 0x7FFFFFFF)
        self.assertEqual(body["session_epoch"], -1)
        self.assertIsNone(body["cluster_id"])          # tag 0, not written at its default
        self.assertEqual(body["replica_id"], -1)

    def test_headers_follow_the_flexible_versions(self):
        self.assertEqual(CODEC.request_header_version(3, 8), 1)
        self.assertEqual(CODEC.request_header_version(3, 9), 2)
        self.assertEqual(CODEC.response_header_version(3, 9), 1)
        self.assertEqual(CODEC.response_header_version(18, 4), 0)
        frame = CODEC.encode_request(3, 9, 5, None, {"topics": None})
        self.assertEqual(frame[:10], h("0003 0009 00000005 ffff"))
        self.assertEqual(frame[10], 0)                  # header tag section


class StrictDecoding(unittest.TestCase):
    def setUp(self):
        self.frame = CODEC.encode_body(3, "response", 12, {
            "brokers": [{"node_id": 1, "host": "h", "port": 1}], "cluster_id": "c",
            "topics": [{"name": "t", "topic_id": ZERO_UUID,
                        "partitions": [{"replica_nodes": [1], "isr_nodes": [1]}]}]})

    def test_every_truncation_fails(self):
        for n in range(len(self.frame)):
            with self.assertRaises(CodecError, msg="%d-byte prefix" % n):
                CODEC.decode_body(3, "response", 12, self.frame[:n])

    def test_trailing_bytes_fail(self):
        with self.assertRaisesRegex(CodecError, "1 bytes left over"):
            CODEC.decode_body(3, "response", 12, self.frame + b"\x00")

    def test_null_where_not_nullable_fails(self):
        with self.assertRaisesRegex(CodecError, "not nullable"):
            CODEC.decode_body(3, "response", 0, h("ffffffff 00000000"))
        with self.assertRaises(CodecError):
            CODEC.encode_body(3, "request", 0, {"topics": None})

    def test_hostile_counts_fail_before_allocating(self):
        with self.assertRaisesRegex(CodecError, "array of"):
            CODEC.decode_body(3, "response", 0, h("7fffffff"))

    def test_overlong_varint_fails(self):
        with self.assertRaisesRegex(CodecError, "longer than 5"):
            Reader(h("ffffffffff01")).uvarint("x")

    def test_unknown_tags_are_kept_and_written_back(self):
        resp = h("00000000 01 00 ffffffff 01 02 05 01 aa 09 00")   # v12: no cluster ops
        body = CODEC.decode_body(3, "response", 12, resp)
        self.assertEqual(body["_tag5"], "aa")
        self.assertEqual(body["_tag9"], "")
        self.assertEqual(CODEC.encode_body(3, "response", 12, body), resp)

    def test_descending_tags_fail(self):
        resp = h("00000000 01 00 ffffffff 01 02 09 00 05 00")
        with self.assertRaisesRegex(CodecError, "ascend"):
            CODEC.decode_body(3, "response", 12, resp)

    def test_unknown_fields_are_refused_when_encoding(self):
        with self.assertRaisesRegex(CodecError, "not in the schema"):
            CODEC.encode_body(3, "request", 12, {"topicz": []})

    def test_uvarint(self):
        self.assertEqual(uvarint(300), h("ac02"))
        self.assertEqual(Reader(h("ac02")).uvarint("x"), 300)


if __name__ == "__main__":
    unittest.main()
