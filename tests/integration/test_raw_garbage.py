#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Bad input never crashes the broker (DESIGN.md): a connection that sends garbage (an oversized
or negative size prefix, an empty or truncated frame, an unknown API key, an unsupported version
of a known API, random bytes) is closed within a bounded wait, while other connections, old and
new, keep working and the process stays alive."""

import random
import struct
import unittest

from harness import (API_VERSIONS, METADATA, BrokerTestCase, KafkaSocket, frame,
                     parse_api_versions_v0_body, request_header, run)

CLOSE_TIMEOUT = 10.0


def random_frame(seed, length=64):
    rng = random.Random(seed)
    payload = bytearray(rng.getrandbits(8) for _ in range(length))
    payload[0:2] = struct.pack(">h", 0x7000 + rng.randrange(0x0FFF))  # no such API key
    return frame(bytes(payload))


GARBAGE = {
    "size_prefix_0x7fffffff": struct.pack(">I", 0x7FFFFFFF),
    "size_prefix_above_socket_request_max_bytes": struct.pack(">i", 104857600 + 1),
    "negative_size_prefix": struct.pack(">i", -1),
    "empty_frame": struct.pack(">i", 0),
    "truncated_header": frame(b"\x00\x12\x00"),
    "client_id_longer_than_frame": frame(struct.pack(">hhih", API_VERSIONS, 0, 1, 1000) + b"ab"),
    "huge_api_key": frame(request_header(0x7FFF, 0, 42, client_id="runnel-it-badkey")),
    "negative_api_key": frame(request_header(-2, 0, 43)),
    "unsupported_metadata_version": frame(request_header(METADATA, 999, 44) + b"\x00" * 8),
    "random_bytes_1": random_frame(1),
    "random_bytes_2": random_frame(2, 4096),
}


class RawGarbage(BrokerTestCase):

    def api_versions_ok(self, s, corr):
        s.send_request(API_VERSIONS, 0, corr)
        got, r = s.recv_response()
        self.assertEqual(got, corr)
        self.assertEqual(parse_api_versions_v0_body(r)[0], 0)

    def kcat_lists_broker(self):
        p = run(["kcat", "-b", self.broker.bootstrap, "-m", "10", "-L"], timeout=30)
        self.assertEqual(p.returncode, 0, "kcat -L failed:\n" + p.stderr)
        self.assertRegex(p.stdout, r"broker 1 at 127\.0\.0\.1:%d\b" % self.broker.port)

    def test_garbage_is_disconnected_and_others_keep_working(self):
        with KafkaSocket(self.broker.port) as good:
            self.api_versions_ok(good, 1)
            for i, (name, data) in enumerate(GARBAGE.items()):
                with self.subTest(garbage=name):
                    with KafkaSocket(self.broker.port) as bad:
                        bad.send_raw(data)
                        closed, _ = bad.wait_closed(CLOSE_TIMEOUT)
                        self.assertTrue(closed, "%s: connection still open after %.0f s"
                                        % (name, CLOSE_TIMEOUT))
                    self.assertTrue(self.broker.alive(), "broker died after %s" % name)
                    # The connection opened before the garbage is unaffected...
                    self.api_versions_ok(good, 100 + i)
                    # ... and so is a new one.
                    with KafkaSocket(self.broker.port) as fresh:
                        self.api_versions_ok(fresh, 200 + i)
            self.kcat_lists_broker()
            self.api_versions_ok(good, 2)
        self.assertTrue(self.broker.alive())

    def test_garbage_while_kcat_connects(self):
        with KafkaSocket(self.broker.port) as bad:
            bad.send_raw(GARBAGE["random_bytes_1"])
            self.kcat_lists_broker()
            closed, _ = bad.wait_closed(CLOSE_TIMEOUT)
            self.assertTrue(closed)
        self.assertTrue(self.broker.alive())

    def test_unknown_api_key_is_logged_with_client_id_key_and_version(self):
        with KafkaSocket(self.broker.port) as bad:
            bad.send_raw(GARBAGE["huge_api_key"])
            closed, _ = bad.wait_closed(CLOSE_TIMEOUT)
            self.assertTrue(closed)
        line = self.broker.wait_for_line(r"runnel-it-badkey.*32767|32767.*runnel-it-badkey", 5)
        self.assertIsNotNone(line, "no log line names client id 'runnel-it-badkey' and API key "
                             "32767")


if __name__ == "__main__":
    unittest.main(verbosity=2)
