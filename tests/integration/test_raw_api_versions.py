#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""ApiVersions over a raw socket (CLIENTS.md, rule 1): it never fails and never closes the
connection. A version the broker does not know gets header v0 and a v0-shaped body with error
35 (UNSUPPORTED_VERSION) and a list that includes ApiVersions itself; the same connection then
answers a valid request. Also: v3 (flexible body, header v0), INVALID_REQUEST for a bad client
software name, and pipelined requests answered in order (rule 7)."""

import struct
import unittest

from harness import (API_VERSIONS, METADATA, BrokerTestCase, KafkaSocket, frame,
                     parse_api_versions_v0_body, request_header)
from kafka_wire import api_versions_v3_body as v3_body, parse_api_versions_v3_body

UNSUPPORTED_VERSION = 35
INVALID_REQUEST = 42


class RawApiVersions(BrokerTestCase):

    def assert_advertises_itself(self, keys):
        self.assertIn(API_VERSIONS, keys, "ApiVersions (18) missing from %s" % keys)
        lo, hi = keys[API_VERSIONS]
        self.assertEqual(lo, 0, "ApiVersions must be advertised from v0: %s" % keys)
        self.assertGreaterEqual(hi, 3, "ApiVersions must be advertised up to v3: %s" % keys)

    def test_unknown_version_gets_error_35_and_connection_stays_open(self):
        with KafkaSocket(self.broker.port) as s:
            s.send_request(API_VERSIONS, 999, 0x5A5A0001)
            corr, r = s.recv_response()
            self.assertEqual(corr, 0x5A5A0001)
            error, keys = parse_api_versions_v0_body(r)
            self.assertEqual(error, UNSUPPORTED_VERSION)
            self.assert_advertises_itself(keys)

            s.send_request(API_VERSIONS, 0, 0x5A5A0002)
            corr, r = s.recv_response()
            self.assertEqual(corr, 0x5A5A0002)
            error, keys = parse_api_versions_v0_body(r)
            self.assertEqual(error, 0)
            self.assert_advertises_itself(keys)
            self.assertIn(METADATA, keys, "Metadata (3) missing from %s" % keys)
            self.assertEqual(keys[METADATA][0], 0, "Metadata must be advertised from v0: %s" % keys)

    def test_next_flexible_version_is_also_answered_with_error_35(self):
        # The version just past the advertised maximum, with a flexible request header and body
        # as a newer client would send it: still header v0 and a v0-shaped body.
        with KafkaSocket(self.broker.port) as s:
            s.send_request(API_VERSIONS, 0, 6)
            corr, r = s.recv_response()
            self.assertEqual(corr, 6)
            error, keys = parse_api_versions_v0_body(r)
            self.assertEqual(error, 0)
            next_version = keys[API_VERSIONS][1] + 1

            s.send_request(API_VERSIONS, next_version, 7, body=v3_body("runnel-it", "1.0"),
                           flexible=True)
            corr, r = s.recv_response()
            self.assertEqual(corr, 7)
            error, keys = parse_api_versions_v0_body(r)
            self.assertEqual(error, UNSUPPORTED_VERSION, "ApiVersions v%d" % next_version)
            self.assert_advertises_itself(keys)

    def test_v2_body(self):
        with KafkaSocket(self.broker.port) as s:
            s.send_request(API_VERSIONS, 2, 11)
            corr, r = s.recv_response()
            self.assertEqual(corr, 11)
            error = r.int16()
            n = r.int32()
            keys = {}
            for _ in range(n):
                key, lo, hi = r.int16(), r.int16(), r.int16()
                keys[key] = (lo, hi)
            r.int32()  # throttle_time_ms
            self.assertEqual(r.remaining(), 0)
            self.assertEqual(error, 0)
            self.assert_advertises_itself(keys)

    def test_v3_flexible_body_with_header_v0(self):
        with KafkaSocket(self.broker.port) as s:
            s.send_request(API_VERSIONS, 3, 12, body=v3_body("runnel-it", "1.0.0-test"),
                           flexible=True)
            corr, r = s.recv_response()
            self.assertEqual(corr, 12)
            # Header v0 even for v3: the next byte is the body's error code, not a tag section.
            error, keys = parse_api_versions_v3_body(r)
            self.assertEqual(error, 0)
            self.assert_advertises_itself(keys)

    def test_v3_invalid_software_name_gets_invalid_request(self):
        with KafkaSocket(self.broker.port) as s:
            s.send_request(API_VERSIONS, 3, 13, body=v3_body("bad name!", "1.0"), flexible=True)
            corr, r = s.recv_response()
            self.assertEqual(corr, 13)
            self.assertEqual(r.int16(), INVALID_REQUEST)
            # The connection stays usable: librdkafka retries at an older version on it.
            s.send_request(API_VERSIONS, 0, 14)
            corr, r = s.recv_response()
            self.assertEqual(corr, 14)
            self.assertEqual(parse_api_versions_v0_body(r)[0], 0)

    def test_pipelined_requests_are_answered_in_order(self):
        port = self.broker.port
        with KafkaSocket(port) as s:
            batch = (frame(request_header(API_VERSIONS, 0, 101))
                     + frame(request_header(METADATA, 0, 102) + struct.pack(">i", 0))
                     + frame(request_header(METADATA, 1, 103) + struct.pack(">i", -1))
                     + frame(request_header(API_VERSIONS, 3, 104, flexible=True)
                             + v3_body("runnel-it", "1.0")))
            s.send_raw(batch)

            corr, r = s.recv_response()
            self.assertEqual(corr, 101)
            self.assertEqual(parse_api_versions_v0_body(r)[0], 0)

            corr, r = s.recv_response()
            self.assertEqual(corr, 102)
            # Metadata v0: brokers [node_id host port], topics [...]; empty array = all topics.
            brokers = [(r.int32(), r.take(r.int16()).decode(), r.int32())
                       for _ in range(r.int32())]
            self.assertEqual(brokers, [(1, "127.0.0.1", port)])
            self.assertEqual(r.int32(), 0, "no topics exist yet")
            self.assertEqual(r.remaining(), 0)

            corr, r = s.recv_response()
            self.assertEqual(corr, 103)
            # Metadata v1: brokers [node_id host port rack], controller_id, topics [...].
            brokers = []
            for _ in range(r.int32()):
                node_id, host, bport = r.int32(), r.take(r.int16()).decode(), r.int32()
                rack_len = r.int16()
                if rack_len >= 0:
                    r.take(rack_len)
                brokers.append((node_id, host, bport))
            self.assertEqual(brokers, [(1, "127.0.0.1", port)])
            self.assertEqual(r.int32(), 1, "controller_id must name this broker")
            self.assertEqual(r.int32(), 0, "no topics exist yet")
            self.assertEqual(r.remaining(), 0)

            corr, r = s.recv_response()
            self.assertEqual(corr, 104)
            self.assertEqual(parse_api_versions_v3_body(r)[0], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
