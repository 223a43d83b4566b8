#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""20,000 partitions with data under a 20,000-descriptor limit (issue 14). Segment files are a
cache of open descriptors (half the limit by default), so partitions are bounded by the disk,
not by descriptors. The broker runs with RLIMIT_NOFILE 20,000 (soft and hard; lower if this
machine's hard limit is):

1. Two topics of 10,000 partitions each are created, one record is produced into every
   partition with confluent-kafka, and a consumer assigned all 20,000 reads every one back.
   The broker's open descriptors stay within its limit and the cache's bound holds.
2. After a kill -9 and a restart under the same limit, every partition is recovered: all 20,000
   records are read again and a second record produced into every partition lands at offset 1.
About 2 minutes under ASan."""

import os
import resource
import signal
import time
import unittest

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness import Broker

TOPICS = ("wide-a", "wide-b")
PER_TOPIC = 10000
TIMEOUT = 300


def limit():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 20000 if hard == resource.RLIM_INFINITY else min(20000, hard)


def open_descriptors(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


# librdkafka's producer and consumer walk all their partitions on many wakeups, so a client
# with 20,000 of them spends minutes of its own CPU; clients of 2,000 partitions each, one
# after the other, do the same work in seconds (the broker's CPU is small either way).
CHUNK = 2000


def chunks():
    """(topic, first, last + 1) for every CHUNK partitions of both topics."""
    for topic in TOPICS:
        for first in range(0, PER_TOPIC, CHUNK):
            yield topic, first, min(first + CHUNK, PER_TOPIC)


def produce_all(bootstrap, round_):
    """One record into every partition of both topics; returns {(topic, partition): offset}."""
    errors, offsets = [], {}

    def done(err, msg):
        if err:
            errors.append(err)
        else:
            offsets[(msg.topic(), msg.partition())] = msg.offset()

    for topic, first, end in chunks():
        p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 50,
                      "message.timeout.ms": TIMEOUT * 1000})
        for i in range(first, end):
            p.produce(topic, key=b"%d" % i, value=b"%s-%d-r%d" % (topic.encode(), i, round_),
                      partition=i, on_delivery=done)
        assert p.flush(TIMEOUT) == 0, "not all delivered"
    assert not errors, errors[:5]
    return offsets


def read_all(bootstrap):
    """{(topic, partition): [values]} of every partition of both topics, read to their ends."""
    got = {}
    for topic, first, end in chunks():
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": "wide-read",
                      "enable.auto.commit": False, "enable.partition.eof": True,
                      "fetch.wait.max.ms": 100})
        c.assign([TopicPartition(topic, i, OFFSET_BEGINNING) for i in range(first, end)])
        eof = set()
        try:
            deadline = time.monotonic() + TIMEOUT
            while len(eof) < end - first and time.monotonic() < deadline:
                for m in c.consume(CHUNK, timeout=0.5):
                    if m.error():
                        if m.error().code() == KafkaError._PARTITION_EOF:
                            eof.add(m.partition())
                        else:
                            raise AssertionError(m.error())
                        continue
                    got.setdefault((m.topic(), m.partition()), []).append(m.value())
        finally:
            c.close()
        assert len(eof) == end - first, "%s: %d of %d partitions reached their end" % (
            topic, len(eof), end - first)
    return got


class Phases:
    """Prints how long each step took (to see where the time of a slow run went)."""

    def __init__(self, broker):
        self.broker = broker
        self.t = time.monotonic()
        self.cpu = 0.0

    def broker_cpu(self):
        try:
            with open("/proc/%d/stat" % self.broker.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, TypeError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))

    def __call__(self, what):
        now, cpu = time.monotonic(), self.broker_cpu()
        print("  %6.1f s (broker CPU %5.1f s)  %s" % (now - self.t, max(cpu - self.cpu, 0), what),
              flush=True)
        self.t, self.cpu = now, cpu


class ManyPartitions(unittest.TestCase):

    def test_20000_partitions_under_20000_descriptors(self):
        n = limit()
        broker = Broker(nofile=(n, n), overrides=("auto.create.topics.enable=false",),
                        start_timeout=TIMEOUT)
        broker.start()
        phase = Phases(broker)
        # A clean stop syncs 20,000 written partitions; the restart here is a kill -9 anyway.
        self.addCleanup(broker.discard)
        broker.wait_for_line(r"segment files kept open: at most %d " % (n // 2))
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        futs = admin.create_topics([NewTopic(t, PER_TOPIC, 1) for t in TOPICS],
                                   operation_timeout=TIMEOUT, request_timeout=TIMEOUT)
        for t, f in futs.items():
            f.result(timeout=TIMEOUT)
        phase("created 2 x %d partitions" % PER_TOPIC)
        want = {(t, i): [b"%s-%d-r0" % (t.encode(), i)] for t in TOPICS for i in range(PER_TOPIC)}

        offsets = produce_all(broker.bootstrap, 0)
        self.assertEqual(set(offsets.values()), {0})
        phase("produced one record into each")
        self.assertEqual(read_all(broker.bootstrap), want)
        phase("read every partition")
        fds = open_descriptors(broker.pid)
        print("open descriptors after 20,000 partitions written and read: %d (limit %d)"
              % (fds, n))
        self.assertLess(fds, n // 2 + 200, "the cache's bound plus connections and the rest")

        broker.restart(signal.SIGKILL)
        phase.cpu = 0.0
        phase("killed and restarted")
        self.assertEqual(read_all(broker.bootstrap), want)
        phase("read every partition")
        offsets = produce_all(broker.bootstrap, 1)
        self.assertEqual(set(offsets.values()), {1}, "written after the restart")
        for key, values in want.items():
            values.append(b"%s-%d-r1" % (key[0].encode(), key[1]))
        phase("produced a second record into each")
        self.assertEqual(read_all(broker.bootstrap), want)
        phase("read every partition")
        self.assertLess(open_descriptors(broker.pid), n // 2 + 200)
        self.assertTrue(broker.alive())


if __name__ == "__main__":
    unittest.main()
