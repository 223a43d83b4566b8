#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""ListOffsets (issue 4): earliest (-2), latest (-1), by timestamp through the time index, and
max timestamp (-3, v7+).

A topic of 3 partitions gets three messages each, with explicit CreateTime timestamps:
  partition 0: t0, t0+1000, t0+2000 in three batches (one send + flush each)
  partition 1: t0, t0+1000, t0+2000 in one batch
  partition 2: t0+2000, t0, t0+1000 in one batch (the largest timestamp is not the last)
By timestamp T the answer is the first offset whose timestamp is >= T, with that timestamp;
after every message, offset -1 (kafka-python: None; librdkafka: OFFSET_END -1).

Through kafka-python 2.0.2 (offsets_for_times, beginning/end_offsets: ListOffsets v1),
confluent-kafka 1.7.0 (offsets_for_times, get_watermark_offsets) and raw requests v0-v7."""

import time
import unittest

from harness import BrokerTestCase, KafkaSocket
import kafka_wire as w

TOPIC = "list-offsets"
LAYOUT = {0: (0, 1000, 2000), 1: (0, 1000, 2000), 2: (2000, 0, 1000)}


class ListOffsets(BrokerTestCase):

    def setUp(self):
        super().setUp()
        from kafka import KafkaProducer
        from kafka.admin import KafkaAdminClient, NewTopic
        self.t0 = (int(time.time()) - 3600) * 1000
        admin = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap, request_timeout_ms=15000)
        try:
            admin.create_topics([NewTopic(TOPIC, 3, 1)], timeout_ms=10000)
        finally:
            admin.close()
        producer = KafkaProducer(bootstrap_servers=self.broker.bootstrap, acks="all",
                                 linger_ms=1000, request_timeout_ms=15000)
        try:
            for i, dt in enumerate(LAYOUT[0]):
                f = producer.send(TOPIC, key=b"p0-%d" % i, value=b"v", partition=0,
                                  timestamp_ms=self.t0 + dt)
                producer.flush(20)
                self.assertEqual(f.get(timeout=1).offset, i, "partition 0 offset")
            for p in (1, 2):
                futures = [producer.send(TOPIC, key=b"p%d-%d" % (p, i), value=b"v", partition=p,
                                         timestamp_ms=self.t0 + dt)
                           for i, dt in enumerate(LAYOUT[p])]
                producer.flush(20)
                offsets = [f.get(timeout=1).offset for f in futures]
                self.assertEqual(offsets, [0, 1, 2], "partition %d offsets" % p)
        finally:
            producer.close(10)

    def expected(self, p, target):
        """(offset, timestamp) Kafka returns for timestamp `target` on partition p."""
        for off, dt in enumerate(LAYOUT[p]):
            if self.t0 + dt >= target:
                return off, self.t0 + dt
        return -1, -1

    def targets(self):
        t0 = self.t0
        return (t0 - 5000, t0, t0 + 1, t0 + 500, t0 + 1000, t0 + 1500, t0 + 2000, t0 + 2001,
                t0 + 3600 * 1000)

    def test_kafka_python_offsets_for_times(self):
        from kafka import KafkaConsumer, TopicPartition
        c = KafkaConsumer(bootstrap_servers=self.broker.bootstrap, group_id=None,
                          enable_auto_commit=False, request_timeout_ms=15000)
        try:
            tps = [TopicPartition(TOPIC, p) for p in range(3)]
            self.assertEqual(c.beginning_offsets(tps), {tp: 0 for tp in tps}, "beginning_offsets")
            self.assertEqual(c.end_offsets(tps), {tp: 3 for tp in tps}, "end_offsets")
            for target in self.targets():
                got = c.offsets_for_times({tp: target for tp in tps})
                for tp in tps:
                    off, ts = self.expected(tp.partition, target)
                    r = got[tp]
                    actual = None if r is None else (r.offset, r.timestamp)
                    want = None if off < 0 else (off, ts)
                    self.assertEqual(actual, want, "offsets_for_times(t0%+d) partition %d: expected "
                                     "%s, got %s" % (target - self.t0, tp.partition, want, actual))
        finally:
            c.close()

    def test_confluent_offsets_for_times(self):
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "runnel-it-unused",
                      "enable.auto.commit": False})
        try:
            for p in range(3):
                self.assertEqual(c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10),
                                 (0, 3), "watermarks of partition %d" % p)
            for target in self.targets():
                got = c.offsets_for_times([TopicPartition(TOPIC, p, target) for p in range(3)],
                                          timeout=10)
                for tp in got:
                    self.assertIsNone(tp.error, tp)
                    off, _ = self.expected(tp.partition, target)
                    self.assertEqual(tp.offset, off, "offsets_for_times(t0%+d) partition %d: "
                                     "expected %d, got %d" % (target - self.t0, tp.partition, off,
                                                               tp.offset))
        finally:
            c.close()

    def list_offsets(self, s, version, partitions, corr):
        s.send_request(w.LIST_OFFSETS, version, corr,
                       body=w.list_offsets_body(version, TOPIC, partitions), flexible=version >= 6)
        got, r = s.recv_response()
        self.assertEqual(got, corr)
        if version >= 6:
            r.skip_tags()
        return w.parse_list_offsets_response(version, r)

    def test_raw_versions(self):
        corr = 0
        with KafkaSocket(self.broker.port) as s:
            for version in range(0, 8):
                with self.subTest(version=version):
                    corr += 1
                    # v0: old-style offset arrays; only earliest and latest are meaningful.
                    if version == 0:
                        res = self.list_offsets(s, 0, [(0, -2), (1, -1)], corr)
                        self.assertEqual(res[(TOPIC, 0)]["error"], 0, res)
                        self.assertEqual(res[(TOPIC, 0)]["offsets"], [0], "v0 earliest: %s" % res)
                        self.assertEqual(res[(TOPIC, 1)]["offsets"], [3], "v0 latest: %s" % res)
                        continue
                    res = self.list_offsets(s, version, [(0, -2), (1, -1), (2, self.t0 + 500)], corr)
                    for p in range(3):
                        self.assertEqual(res[(TOPIC, p)]["error"], 0, "v%d: %s" % (version, res))
                    self.assertEqual(res[(TOPIC, 0)]["offset"], 0, "v%d earliest: %s" % (version, res))
                    self.assertEqual(res[(TOPIC, 0)]["timestamp"], -1, "v%d earliest: %s" % (version, res))
                    self.assertEqual(res[(TOPIC, 1)]["offset"], 3, "v%d latest: %s" % (version, res))
                    self.assertEqual(res[(TOPIC, 1)]["timestamp"], -1, "v%d latest: %s" % (version, res))
                    off, ts = self.expected(2, self.t0 + 500)
                    self.assertEqual((res[(TOPIC, 2)]["offset"], res[(TOPIC, 2)]["timestamp"]),
                                     (off, ts), "v%d by timestamp t0+500 on partition 2" % version)
                    corr += 1
                    res = self.list_offsets(s, version, [(p, self.t0 + 1500) for p in range(3)]
                                            + [(7, -1)], corr)
                    for p in range(3):
                        r = res[(TOPIC, p)]
                        self.assertEqual((r["error"], r["offset"], r["timestamp"]),
                                         (0,) + self.expected(p, self.t0 + 1500),
                                         "v%d by timestamp t0+1500 on partition %d" % (version, p))
                    self.assertEqual(res[(TOPIC, 7)]["error"], w.UNKNOWN_TOPIC_OR_PARTITION,
                                     "v%d partition 7 of 3: %s" % (version, res[(TOPIC, 7)]))
                    corr += 1
                    res = self.list_offsets(s, version, [(0, self.t0 + 2001)], corr)
                    self.assertEqual((res[(TOPIC, 0)]["error"], res[(TOPIC, 0)]["offset"],
                                      res[(TOPIC, 0)]["timestamp"]), (0, -1, -1),
                                     "v%d by a timestamp after every message" % version)
            # v7: max timestamp (-3): the record with the largest timestamp (KIP-734).
            corr += 1
            res = self.list_offsets(s, 7, [(p, -3) for p in range(3)], corr)
            for p in range(3):
                dts = LAYOUT[p]
                want = (0, dts.index(max(dts)), self.t0 + max(dts))
                r = res[(TOPIC, p)]
                self.assertEqual((r["error"], r["offset"], r["timestamp"]), want,
                                 "v7 max timestamp (-3) on partition %d: expected (error, offset, "
                                 "timestamp) %s, got %s" % (p, want, r))


if __name__ == "__main__":
    unittest.main(verbosity=2)
