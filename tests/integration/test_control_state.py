#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The control plane's state routes (issue 15), against `runnel --ephemeral` with confluent-kafka.

POST /reset after topics, records, a group's committed offsets and a transactional producer: the
topics are gone (the internal ones stay), the committed offsets are gone, the same
transactional id initializes as new (epoch 0 again), and a producer and a group member that
stayed connected produce and consume again (a topic created anew, the group joined again).
/reset with 100 topics is timed (five runs, the median printed).
Some seconds."""

import json
import statistics
import struct
import sys
import time
import unittest
import urllib.error
import urllib.request

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness import Ephemeral, KafkaSocket

TIMEOUT = 30


def call(base, method, path, timeout=TIMEOUT):
    """(status, JSON answer) of a control plane request."""
    req = urllib.request.Request(base + path, method=method, data=b"" if method != "GET" else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def init_producer_id(port, txn_id):
    """InitProducerId v1 over a raw socket: (error_code, producer_id, epoch)."""
    tid = txn_id.encode()
    body = struct.pack(">h", len(tid)) + tid + struct.pack(">i", 60000)
    deadline = time.monotonic() + TIMEOUT
    while True:
        with KafkaSocket(port) as s:
            s.send_request(22, 1, 7, body)
            frame = s.recv_frame()
        err, pid, epoch = struct.unpack(">hqh", frame[4 + 4:4 + 4 + 12])
        if err not in (14, 15, 51) or time.monotonic() > deadline:  # loading, not available
            return err, pid, epoch
        time.sleep(0.1)


def consume(c, n, timeout=TIMEOUT):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m)
    return got


def produce_until_delivered(p, topic, values):
    """Produces each value until its delivery succeeds (bounded)."""
    left = list(values)
    deadline = time.monotonic() + TIMEOUT
    while left and time.monotonic() < deadline:
        failed = []
        for v in left:
            try:
                p.produce(topic, value=v,
                          on_delivery=lambda e, m, v=v: e is not None and failed.append(v))
            except KafkaException:  # "Unknown topic" until its metadata comes back
                failed.append(v)
        assert p.flush(TIMEOUT) == 0
        left = failed
        if left:
            time.sleep(0.2)
    assert not left, "not delivered: %r" % left


class Fixture(unittest.TestCase):

    def setUp(self):
        self.broker = Ephemeral()
        self.addCleanup(self.broker.stop)
        self.proc, self.info = self.broker.proc, self.broker.info
        self.base = self.broker.control
        self.bootstrap = self.broker.bootstrap
        self.port = self.broker.port
        self.admin = AdminClient({"bootstrap.servers": self.bootstrap})

    def create(self, names, partitions=1, config=None):
        fs = self.admin.create_topics([NewTopic(n, partitions, 1, config=config or {})
                                       for n in names])
        for f in fs.values():
            f.result(TIMEOUT)

    def topics(self):
        return set(self.admin.list_topics(timeout=TIMEOUT).topics)

    def committed(self, group, topic, partitions=1):
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group})
        try:
            tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], TIMEOUT)
            return [tp.offset for tp in tps]
        finally:
            c.close()


class Reset(Fixture):

    def test_reset_forgets_everything_and_connected_clients_go_on(self):
        self.create(["keep-a", "keep-b"])
        p = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 0})
        for i in range(10):
            p.produce("keep-a", key=b"k", value=b"old%d" % i)
        self.assertEqual(p.flush(TIMEOUT), 0)
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "g",
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})
        c.subscribe(["keep-a"])
        self.assertEqual(len(consume(c, 10)), 10)
        c.commit(asynchronous=False)
        c.close()
        self.assertEqual(self.committed("g", "keep-a"), [10])
        # A member of another group stays connected through the reset, waiting for a topic.
        # (It does not hold a partition of a deleted topic: librdkafka 2.x can hang in
        # rd_kafka_destroy after one of its assigned topics is deleted.)
        c2 = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "g2",
                       "auto.offset.reset": "earliest", "enable.auto.commit": False,
                       "heartbeat.interval.ms": 200, "topic.metadata.refresh.interval.ms": 500})
        self.addCleanup(c2.close)
        c2.subscribe(["fresh"])
        consume(c2, 1, 2)

        tp = Producer({"bootstrap.servers": self.bootstrap, "transactional.id": "tx-1"})
        tp.init_transactions(TIMEOUT)
        tp.begin_transaction()
        tp.produce("keep-b", value=b"in-txn")
        tp.commit_transaction(TIMEOUT)
        err, _, epoch = init_producer_id(self.port, "tx-1")
        self.assertEqual((err, epoch), (0, 1))  # a second init bumps the epoch

        status, answer = call(self.base, "POST", "/reset")
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["status"], "ok")
        print("reset with a few topics: %.2f ms" % answer["ms"], file=sys.stderr)

        left = self.topics()
        self.assertNotIn("keep-a", left)
        self.assertNotIn("keep-b", left)
        self.assertIn("__consumer_offsets", left)
        self.assertIn("__transaction_state", left)
        self.assertEqual(self.committed("g", "keep-a"), [-1001])
        err, _, epoch = init_producer_id(self.port, "tx-1")
        self.assertEqual((err, epoch), (0, 0))  # a new transactional id

        # The producer and the consumer that stayed connected carry on with the fresh state: the
        # group is joined again (its member id was forgotten), the topic created anew.
        want = [b"new%d" % i for i in range(5)]
        produce_until_delivered(p, "fresh", want)
        got = [m.value() for m in consume(c2, 5)]
        self.assertEqual(got, want)
        c2.commit(asynchronous=False)
        self.assertEqual(self.committed("g2", "fresh"), [5])
        self.assertEqual(self.committed("g", "keep-a"), [-1001])

    def test_reset_with_100_topics_is_quick(self):
        figures = []
        for _ in range(5):
            self.create(["t%03d" % i for i in range(100)])
            p = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
            for i in range(100):
                p.produce("t%03d" % i, value=b"x" * 100)
            self.assertEqual(p.flush(TIMEOUT), 0)
            status, answer = call(self.base, "POST", "/reset")
            self.assertEqual(status, 200, answer)
            figures.append(answer["ms"])
            self.assertFalse([t for t in self.topics() if t.startswith("t")])
        print("reset with 100 topics: median %.2f ms (%s)"
              % (statistics.median(figures), ", ".join("%.2f" % f for f in figures)),
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main()

