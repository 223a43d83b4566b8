#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Partitions under a descriptor limit (issue 14). Segment files are a cache of open descriptors
(half the limit by default; least recently used closed first) and indexes are mappings that
keep none, so a broker limited to N descriptors is not limited to N partitions. (Each
partition used to hold three, so a broker ran out at about N / 3 partitions.)

1. With RLIMIT_NOFILE 1024 (soft and hard), a topic of 3,000 partitions is created, one record
   produced into each and read back; the broker's open descriptors stay below the limit. After
   a kill -9 and a restart under the same limit, every partition is recovered with its record.
2. When descriptors do run out, it is the connections that took them: with RLIMIT_NOFILE 128,
   connections are opened until the broker stops accepting. CreateTopics on a connection it
   already had then answers KAFKA_STORAGE_ERROR (56) with a message that names the limit and
   how to raise it, the broker logs a WARN saying the same, and it keeps serving; once the
   connections close the same CreateTopics succeeds.
About 30 s under ASan."""

import os
import signal
import time
import unittest

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness import API_VERSIONS, Broker, KafkaSocket
from test_connection_limits import UNANSWERED_WAIT, Sockets, answered_within

NOFILE = 1024
PARTITIONS = 3000
SMALL_NOFILE = 128
TIMEOUT = 120


def create(admin, name, partitions):
    """CreateTopics; returns the KafkaError, or None when the topic was created."""
    fut = admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=TIMEOUT,
                              request_timeout=TIMEOUT)[name]
    try:
        fut.result(timeout=TIMEOUT)
        return None
    except Exception as e:  # noqa: BLE001 - the KafkaException carries the error
        return e.args[0]


def produce_each(bootstrap, topic, n):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 50})
    errors = []
    for i in range(n):
        p.produce(topic, value=b"value-%d" % i, key=b"%d" % i, partition=i,
                  on_delivery=lambda err, msg: err and errors.append(err))
    assert p.flush(TIMEOUT) == 0, "not all delivered"
    assert not errors, errors[:5]


def read_each(bootstrap, topic, n):
    """{partition: value} of the first record of each of n partitions."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "fd-read",
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "fetch.wait.max.ms": 100})
    c.assign([TopicPartition(topic, i, OFFSET_BEGINNING) for i in range(n)])
    got, eof = {}, set()
    try:
        deadline = time.monotonic() + TIMEOUT
        while len(eof) < n and time.monotonic() < deadline:
            for m in c.consume(1000, timeout=0.5):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        eof.add(m.partition())
                    continue
                got.setdefault(m.partition(), m.value())
    finally:
        c.close()
    return got


class DescriptorLimit(unittest.TestCase):

    def test_partitions_beyond_the_descriptor_limit(self):
        broker = Broker(nofile=(NOFILE, NOFILE), overrides=("auto.create.topics.enable=false",))
        broker.start()
        # A clean stop syncs 3,000 written partitions, which can take longer than the harness's
        # stop timeout on a loaded machine; that is not what this tests.
        self.addCleanup(broker.discard)
        broker.wait_for_line(r"segment files kept open: at most %d " % (NOFILE // 2))
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        want = {i: b"value-%d" % i for i in range(PARTITIONS)}

        self.assertIsNone(create(admin, "many", PARTITIONS))
        produce_each(broker.bootstrap, "many", PARTITIONS)
        self.assertEqual(read_each(broker.bootstrap, "many", PARTITIONS), want)
        self.assertLess(len(os.listdir("/proc/%d/fd" % broker.pid)), NOFILE)

        broker.restart(signal.SIGKILL)
        self.assertEqual(read_each(broker.bootstrap, "many", PARTITIONS), want)
        self.assertTrue(broker.alive())

    def test_out_of_descriptors_create_topics_fails_cleanly(self):
        broker = Broker(nofile=(SMALL_NOFILE, SMALL_NOFILE),
                        overrides=("auto.create.topics.enable=false",))
        broker.start()
        self.addCleanup(broker.stop)
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        # The AdminClient's connection to the controller (not only the bootstrap one) is open
        # before the others take every descriptor: a CreateTopics that only validates opens it.
        admin.list_topics(timeout=TIMEOUT)
        admin.create_topics([NewTopic("late", 4, 1)], validate_only=True,
                            request_timeout=TIMEOUT)["late"].result(timeout=TIMEOUT)
        socks = Sockets(self)
        waiting = None
        for i in range(SMALL_NOFILE + 10):
            s = socks.add(KafkaSocket(broker.port))
            if not answered_within(s, i, UNANSWERED_WAIT):
                waiting = s
                break
            s.recv_response()
        self.assertIsNotNone(waiting, "the broker accepted every connection")

        err = create(admin, "late", 4)
        self.assertIsNotNone(err, "CreateTopics succeeded with no descriptor left")
        self.assertEqual(err.code(), KafkaError.KAFKA_STORAGE_ERROR, err)
        self.assertIn("RLIMIT_NOFILE %d" % SMALL_NOFILE, err.str())
        self.assertIn("ulimit -n", err.str())
        broker.wait_for_line(r"WARN .*out of file descriptors.*RLIMIT_NOFILE %d" % SMALL_NOFILE)
        self.assertNotIn("late", admin.list_topics(timeout=TIMEOUT).topics)

        socks.close()
        self.assertIsNone(create(admin, "late", 4))
        produce_each(broker.bootstrap, "late", 4)
        self.assertEqual(read_each(broker.bootstrap, "late", 4),
                         {i: b"value-%d" % i for i in range(4)})
        s = socks.add(KafkaSocket(broker.port))
        s.send_request(API_VERSIONS, 0, 1)
        self.assertEqual(s.recv_response()[0], 1)


if __name__ == "__main__":
    unittest.main()
