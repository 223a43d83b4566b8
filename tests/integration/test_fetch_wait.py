#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""When a Fetch waits (issue 10). A fetch for partitions with no new data waits up to
max_wait_ms for min_bytes; a fetch that names no partitions at all answers at once, as Kafka
does. The Java consumer sends one (session epoch -1, max_wait_ms 500) to close its fetch
session, so every consumer close() took half a second longer on Runnel than on Kafka."""

import struct
import time
import unittest

from harness import BrokerTestCase, KafkaSocket, Reader, compact_string, uvarint
import kafka_wire as w

VERSION = 12  # flexible, topics by name


def fetch_v12(max_wait_ms, topic=None, partition=0, offset=0):
    body = struct.pack(">iiiibii", -1, max_wait_ms, 1, 1 << 20, 0, 0, -1)
    if topic is None:
        body += uvarint(1)  # no topics
    else:
        body += uvarint(2) + compact_string(topic) + uvarint(2)
        # partition, current_leader_epoch, fetch_offset, last_fetched_epoch, log_start_offset,
        # partition_max_bytes, no tags
        body += struct.pack(">iiqiqi", partition, -1, offset, -1, -1, 1 << 20) + uvarint(0)
        body += uvarint(0)  # the topic's tags
    body += uvarint(1)  # no forgotten topics
    body += compact_string("")  # rack_id
    return body + uvarint(0)


def parse_fetch_v12(r):
    """(top-level error, [(partition, error, high_watermark)]) of a v12 response."""
    r.skip_tags()  # response header v1
    r.int32()  # throttle_time_ms
    error = r.int16()
    r.int32()  # session_id
    parts = []
    for _ in range(r.uvarint() - 1):
        r.compact_string()
        for _ in range(r.uvarint() - 1):
            index, perr, hw = r.int32(), r.int16(), r.int64()
            r.int64(), r.int64()  # last_stable_offset, log_start_offset
            n = r.uvarint() - 1
            for _ in range(max(n, 0)):
                r.int64(), r.int64()
                r.skip_tags()
            r.int32()  # preferred_read_replica
            size = r.uvarint() - 1
            if size > 0:
                r.take(size)
            r.skip_tags()
            parts.append((index, perr, hw))
        r.skip_tags()
    r.skip_tags()
    return error, parts


class FetchWait(BrokerTestCase):

    def test_a_fetch_of_no_partitions_answers_at_once(self):
        # max_wait_ms is far longer than the socket's patience: a parked request fails here.
        with KafkaSocket(self.broker.port, timeout=5.0) as s:
            start = time.monotonic()
            s.send_request(w.FETCH, VERSION, 7, fetch_v12(60000), flexible=True)
            corr, r = s.recv_response()
            took = time.monotonic() - start
            self.assertEqual(corr, 7)
            error, parts = parse_fetch_v12(r)
            self.assertEqual((error, parts), (0, []))
            self.assertLess(took, 5.0)

    def test_a_fetch_at_the_end_of_a_partition_still_waits(self):
        # The control: the same request naming one partition at its end waits for data.
        with KafkaSocket(self.broker.port, timeout=10.0) as s:
            s.send_request(w.METADATA, 9, 1, w.metadata_body(9, ["waits"], True),
                           flexible=True)
            s.recv_response()
            start = time.monotonic()
            s.send_request(w.FETCH, VERSION, 2, fetch_v12(1500, "waits"), flexible=True)
            corr, r = s.recv_response()
            took = time.monotonic() - start
            self.assertEqual(corr, 2)
            self.assertEqual(parse_fetch_v12(r), (0, [(0, 0, 0)]))
            self.assertGreaterEqual(took, 1.2)


if __name__ == "__main__":
    unittest.main()
