#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Partitions under a descriptor limit (issue 14). A partition holds one descriptor, that of its
active .log: its indexes are mappings that keep none (the active ones were two more, so a broker
limited to N descriptors ran out at about N / 3 partitions). The broker runs with RLIMIT_NOFILE
1024 (soft and hard):

1. A topic of 900 partitions is created, one record produced into each and read back.
2. A topic of 500 more partitions cannot fit: CreateTopics answers KAFKA_STORAGE_ERROR (56) with
   a message that names the limit (RLIMIT_NOFILE) and how to raise it, the broker logs a WARN
   saying the same, and it keeps serving: the first topic is read again, a new connection works,
   and the failed topic does not exist.
3. After a kill -9 and a restart under the same limit, all 900 partitions are recovered and
   their records are there.
About 15 s under ASan."""

import signal
import time
import unittest

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness import Broker

NOFILE = 1024
PARTITIONS = 900
TOO_MANY = 500
TIMEOUT = 60


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
                  "enable.auto.commit": False, "enable.partition.eof": True})
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

    def test_partitions_under_a_descriptor_limit(self):
        broker = Broker(nofile=(NOFILE, NOFILE), overrides=("auto.create.topics.enable=false",))
        broker.start()
        # A clean stop flushes 900 written partitions (three fsyncs each), which can take longer
        # than the harness's stop timeout on a loaded machine; that is not what this tests.
        self.addCleanup(broker.discard)
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        want = {i: b"value-%d" % i for i in range(PARTITIONS)}

        self.assertIsNone(create(admin, "many", PARTITIONS))
        produce_each(broker.bootstrap, "many", PARTITIONS)
        self.assertEqual(read_each(broker.bootstrap, "many", PARTITIONS), want)

        err = create(admin, "too-many", TOO_MANY)
        self.assertIsNotNone(err, "%d more partitions fit under %d descriptors"
                             % (TOO_MANY, NOFILE))
        self.assertEqual(err.code(), KafkaError.KAFKA_STORAGE_ERROR, err)
        self.assertIn("RLIMIT_NOFILE %d" % NOFILE, err.str())
        self.assertIn("ulimit -n", err.str())
        broker.wait_for_line(r"WARN .*out of file descriptors.*RLIMIT_NOFILE %d" % NOFILE)
        self.assertNotIn("too-many", admin.list_topics(timeout=TIMEOUT).topics)
        self.assertEqual(read_each(broker.bootstrap, "many", PARTITIONS), want)

        broker.restart(signal.SIGKILL)
        self.assertEqual(read_each(broker.bootstrap, "many", PARTITIONS), want)


if __name__ == "__main__":
    unittest.main()
