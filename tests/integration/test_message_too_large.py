#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""max.message.bytes (issue 4): a batch larger than the topic's max.message.bytes is refused by
the broker with MESSAGE_TOO_LARGE (10) and nothing is written; the next, small message
succeeds and is the one read back at the next offset. The broker-wide default comes from
message.max.bytes.

The clients' own size checks are set high so that the refusal comes from the broker:
kafka-python max_request_size 10 MB; librdkafka message.max.bytes 10 MB."""

import time
import unittest

from harness import BrokerTestCase

TOPIC = "too-large"
LIMIT = 10000
BIG = 20000


def create_topic(bootstrap, topic, config):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})  # alive until the result is in
    fs = admin.create_topics(
        [NewTopic(topic, 1, 1, config=config)], request_timeout=15)
    fs[topic].result(timeout=20)


def read_all(bootstrap, topic, expected):
    from kafka import KafkaConsumer, TopicPartition
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                      request_timeout_ms=15000, fetch_max_bytes=50 << 20,
                      max_partition_fetch_bytes=50 << 20)
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        got = []
        deadline = time.monotonic() + 30
        while len(got) < expected and time.monotonic() < deadline:
            for msgs in c.poll(timeout_ms=500).values():
                got += [(m.offset, m.value) for m in msgs]
        got += [(m.offset, m.value) for msgs in c.poll(timeout_ms=300).values() for m in msgs]
        return got
    finally:
        c.close()


class MessageTooLarge(BrokerTestCase):

    def test_kafka_python_gets_message_size_too_large(self):
        from kafka import KafkaProducer
        from kafka.errors import MessageSizeTooLargeError
        create_topic(self.broker.bootstrap, TOPIC, {"max.message.bytes": str(LIMIT)})
        p = KafkaProducer(bootstrap_servers=self.broker.bootstrap, acks="all", retries=0,
                          max_request_size=10 << 20, batch_size=1 << 20, linger_ms=0,
                          request_timeout_ms=15000)
        try:
            first = p.send(TOPIC, value=b"s" * 100, partition=0).get(timeout=20)
            self.assertEqual(first.offset, 0)
            f = p.send(TOPIC, value=b"B" * BIG, partition=0)
            with self.assertRaises(MessageSizeTooLargeError,
                                   msg="a %d-byte message to a topic with max.message.bytes=%d "
                                   "was not refused by the broker" % (BIG, LIMIT)) as cm:
                f.get(timeout=20)
            # The error came from the broker (error code 10), not from the client's own check,
            # which raises before sending and names max_request_size.
            self.assertNotIn("max_request_size", str(cm.exception), cm.exception)
            after = p.send(TOPIC, value=b"after", partition=0).get(timeout=20)
            self.assertEqual(after.offset, 1, "the message after the refused one: offset %d, "
                             "expected 1 (nothing written for the refused one)" % after.offset)
        finally:
            p.close(10)
        got = read_all(self.broker.bootstrap, TOPIC, 2)
        self.assertEqual(got, [(0, b"s" * 100), (1, b"after")])

    def test_confluent_gets_msg_size_too_large(self):
        from confluent_kafka import KafkaError, Producer
        create_topic(self.broker.bootstrap, TOPIC, {"max.message.bytes": str(LIMIT)})
        results = []
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all",
                      "message.max.bytes": 10 << 20, "retries": 0, "linger.ms": 0,
                      "message.timeout.ms": 20000})

        def produce(value):
            p.produce(TOPIC, value=value, partition=0,
                      on_delivery=lambda err, msg: results.append((err, msg.offset())))
            self.assertEqual(p.flush(25), 0, "undelivered after flush")
            return results[-1]

        err, off = produce(b"x" * 200)
        self.assertEqual((err, off), (None, 0))
        err, _ = produce(b"Y" * BIG)
        self.assertIsNotNone(err, "a %d-byte message to a topic with max.message.bytes=%d was "
                             "accepted" % (BIG, LIMIT))
        self.assertEqual(err.code(), KafkaError.MSG_SIZE_TOO_LARGE,
                         "expected MSG_SIZE_TOO_LARGE (broker error 10), got %s" % err)
        err, off = produce(b"small again")
        self.assertEqual((err, off), (None, 1), "the message after the refused one")
        got = read_all(self.broker.bootstrap, TOPIC, 2)
        self.assertEqual(got, [(0, b"x" * 200), (1, b"small again")])


class BrokerMessageMaxBytes(BrokerTestCase):
    # The broker default applies to a topic without its own max.message.bytes.
    overrides = ("message.max.bytes=%d" % LIMIT,)

    def test_broker_default_applies(self):
        from kafka import KafkaProducer
        from kafka.errors import MessageSizeTooLargeError
        create_topic(self.broker.bootstrap, TOPIC, {})
        p = KafkaProducer(bootstrap_servers=self.broker.bootstrap, acks="all", retries=0,
                          max_request_size=10 << 20, batch_size=1 << 20, request_timeout_ms=15000)
        try:
            with self.assertRaises(MessageSizeTooLargeError):
                p.send(TOPIC, value=b"B" * BIG, partition=0).get(timeout=20)
            ok = p.send(TOPIC, value=b"b" * (LIMIT // 2), partition=0).get(timeout=20)
            self.assertEqual(ok.offset, 0)
        finally:
            p.close(10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
