#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""POST /topics/NAME/compact (issue 15): a compacted topic cleaned now, whatever its dirty ratio,
min.compaction.lag.ms and segments, so a test of compaction need not wait for the cleaner.

1. A topic with cleanup.policy=compact, a high min.cleanable.dirty.ratio and a long
   min.compaction.lag.ms (the cleaner on its own would not touch it) gets 5 rounds of 20 keys
   over 2 partitions and a tombstone for one key, all in its active segments. Right after the
   call a consumer reads exactly one record per key, the last written (the tombstone too: its
   first cleaning gives it a delete horizon, as in Kafka), and reaches the end of each
   partition: the log end offsets are unchanged.
2. More records and a second call: again one per key.
3. An unknown topic is 404, a topic without compaction 400.
A few seconds."""

import json
import time
import unittest
import urllib.error
import urllib.request

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness import Ephemeral

TIMEOUT = 30
TOPIC = "compact-now"
KEYS = 20


def post(control, path):
    req = urllib.request.Request(control + path, data=b"", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def read_all(bootstrap, topic, partitions):
    """{partition: [(offset, key, value)]} read from the start to the end of each partition."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compact-reader",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    got = {p: [] for p in range(partitions)}
    eof = set()
    deadline = time.monotonic() + TIMEOUT
    try:
        while len(eof) < partitions and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                continue
            got[m.partition()].append((m.offset(), m.key(), m.value()))
    finally:
        c.close()
    assert len(eof) == partitions, "%d of %d partitions read to their end" % (len(eof),
                                                                              partitions)
    return got


class CompactNow(unittest.TestCase):

    def setUp(self):
        broker = Ephemeral()
        self.addCleanup(broker.stop)
        self.bootstrap, self.control = broker.bootstrap, broker.control

    def produce(self, rounds, first_value):
        """rounds x KEYS records, key k to partition k % 2; returns {key: last value}."""
        p = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 0})
        last = {}
        v = first_value
        for _ in range(rounds):
            for k in range(KEYS):
                key = b"k%02d" % k
                p.produce(TOPIC, key=key, value=b"v%d" % v, partition=k % 2)
                last[key] = b"v%d" % v
                v += 1
            p.flush(TIMEOUT)  # one batch per round: compaction has batches to merge
        self.assertEqual(p.flush(TIMEOUT), 0)
        return last

    def assert_one_per_key(self, want, ends):
        got = read_all(self.bootstrap, TOPIC, 2)
        for p in range(2):
            keys = [k for _, k, _ in got[p]]
            self.assertEqual(len(keys), len(set(keys)), "partition %d holds a key twice" % p)
            self.assertEqual(sorted(keys), sorted(k for k in want if int(k[1:]) % 2 == p))
            for _, k, v in got[p]:
                self.assertEqual(v, want[k], k)
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "ends"})
        for p in range(2):
            self.assertEqual(c.get_watermark_offsets(TopicPartition(TOPIC, p), TIMEOUT)[1],
                             ends[p], "the log end moved")
        c.close()

    def ends(self):
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "ends"})
        e = [c.get_watermark_offsets(TopicPartition(TOPIC, p), TIMEOUT)[1] for p in range(2)]
        c.close()
        return e

    def test_a_compacted_topic_is_cleaned_at_once(self):
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        admin.create_topics([NewTopic(TOPIC, 2, 1, config={
            "cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.99",
            "min.compaction.lag.ms": "3600000"})])[TOPIC].result(TIMEOUT)
        admin.create_topics([NewTopic("plain", 1, 1)])["plain"].result(TIMEOUT)
        want = self.produce(5, 0)
        p = Producer({"bootstrap.servers": self.bootstrap})
        p.produce(TOPIC, key=b"k03", value=None, partition=1)  # a tombstone
        self.assertEqual(p.flush(TIMEOUT), 0)
        want[b"k03"] = None
        ends = self.ends()
        self.assertEqual(sum(ends), 5 * KEYS + 1)

        status, answer = post(self.control, "/topics/%s/compact" % TOPIC)
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["topic"], TOPIC)
        self.assertEqual(answer["records_read"], 5 * KEYS + 1)
        self.assertEqual(answer["records_kept"], KEYS)
        self.assertEqual(answer["tombstones_dropped"], 0, "a tombstone's first cleaning keeps it")
        self.assert_one_per_key(want, ends)

        want.update(self.produce(2, 1000))
        ends = self.ends()
        status, answer = post(self.control, "/topics/%s/compact" % TOPIC)
        self.assertEqual(status, 200, answer)
        self.assert_one_per_key(want, ends)

        status, answer = post(self.control, "/topics/nope/compact")
        self.assertEqual(status, 404, answer)
        self.assertIn("unknown topic", answer["error"])
        status, answer = post(self.control, "/topics/plain/compact")
        self.assertEqual(status, 400, answer)
        self.assertIn("not compact", answer["error"])
        status, answer = post(self.control, "/topics/%s/other" % TOPIC)
        self.assertEqual(status, 404, answer)


if __name__ == "__main__":
    unittest.main()
