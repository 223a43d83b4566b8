#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Storage through the Python clients (issue 4): each creates a topic of 3 partitions with its
admin API, produces keyed messages, and reads everything back by partition assignment (no
consumer group: groups are the next issue).

- confluent-kafka-python 1.7.0 (librdkafka 2.0.2): AdminClient.create_topics, Producer with
  acks=all + flush, Consumer.assign() from OFFSET_BEGINNING (librdkafka needs a group.id for a
  Consumer; auto-commit is off and nothing asks the coordinator for offsets).
- kafka-python 2.0.2 (its own codec): KafkaAdminClient.create_topics, KafkaProducer send +
  flush, KafkaConsumer assign + seek_to_beginning, poll until all read. Also with gzip, which
  kafka-python compresses itself (independent of librdkafka's encoder).

Checks: every message back exactly once with its key and value, offsets dense from 0 per
partition and matching the delivery reports, per-partition produce order."""

import time
import unittest

from harness import BrokerTestCase

PARTITIONS = 3
N = 3000
DEADLINE = 60.0


def expected_messages(tag, n=N):
    return [(("%s-key-%d" % (tag, i)).encode(), ("%s-value-%d-" % (tag, i)).encode() + b"x" * (i % 50))
            for i in range(n)]


class ConfluentKafkaStorage(BrokerTestCase):

    def test_create_produce_and_read_back_by_assignment(self):
        from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition, OFFSET_BEGINNING
        from confluent_kafka.admin import AdminClient, NewTopic

        topic = "py-confluent"
        bs = self.broker.bootstrap
        admin = AdminClient({"bootstrap.servers": bs})
        fs = admin.create_topics([NewTopic(topic, PARTITIONS, 1)], operation_timeout=10,
                                 request_timeout=15)
        self.assertIsNone(fs[topic].result(timeout=20))
        md = admin.list_topics(topic=topic, timeout=10)
        self.assertIsNone(md.topics[topic].error, md.topics[topic].error)
        self.assertEqual(sorted(md.topics[topic].partitions), list(range(PARTITIONS)))

        # Creating it again: TOPIC_ALREADY_EXISTS (36).
        fs = admin.create_topics([NewTopic(topic, PARTITIONS, 1)], request_timeout=15)
        with self.assertRaises(Exception) as cm:
            fs[topic].result(timeout=20)
        self.assertEqual(cm.exception.args[0].code(), KafkaError.TOPIC_ALREADY_EXISTS,
                         "second create: %s" % cm.exception)

        reports = {}
        errors = []

        def on_delivery(err, msg):
            if err is not None:
                errors.append((msg.key(), err))
            else:
                reports[msg.key()] = (msg.partition(), msg.offset())

        producer = Producer({"bootstrap.servers": bs, "acks": "all", "linger.ms": 5,
                             "message.timeout.ms": 30000})
        sent = expected_messages("ck")
        for i, (k, v) in enumerate(sent):
            producer.produce(topic, key=k, value=v, partition=i % PARTITIONS, on_delivery=on_delivery)
            producer.poll(0)
        left = producer.flush(30)
        self.assertEqual(left, 0, "%d messages still undelivered after flush(30)" % left)
        self.assertEqual(errors[:5], [], "delivery errors (first 5 of %d)" % len(errors))
        self.assertEqual(len(reports), N)

        consumer = Consumer({"bootstrap.servers": bs, "group.id": "runnel-it-assign-only",
                             "enable.auto.commit": False, "enable.auto.offset.store": False,
                             "enable.partition.eof": True, "auto.offset.reset": "error",
                             "check.crcs": True})
        try:
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
            got = {p: [] for p in range(PARTITIONS)}
            eof = set()
            deadline = time.monotonic() + DEADLINE
            while len(eof) < PARTITIONS and time.monotonic() < deadline:
                msg = consumer.poll(1.0)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        eof.add(msg.partition())
                        continue
                    self.fail("consumer error: %s" % msg.error())
                got[msg.partition()].append((msg.offset(), msg.key(), msg.value()))
        finally:
            consumer.close()
        self.assertEqual(len(eof), PARTITIONS, "EOF reached on partitions %s only within %.0f s "
                         "(read %s)" % (sorted(eof), DEADLINE, {p: len(v) for p, v in got.items()}))
        self.check(sent, got, reports)

    def check(self, sent, got, reports):
        for p in range(PARTITIONS):
            want = [(k, v) for i, (k, v) in enumerate(sent) if i % PARTITIONS == p]
            rows = got[p]
            self.assertEqual([o for o, _, _ in rows], list(range(len(rows))),
                             "partition %d: offsets not dense from 0" % p)
            self.assertEqual([(k, v) for _, k, v in rows], want,
                             "partition %d: messages differ from those produced, in order" % p)
            for o, k, _ in rows:
                self.assertEqual(reports[k], (p, o), "delivery report of %r vs where it was read" % k)


class KafkaPythonStorage(BrokerTestCase):

    def run_kafka_python(self, topic, compression):
        from kafka import KafkaConsumer, KafkaProducer, TopicPartition
        from kafka.admin import KafkaAdminClient, NewTopic
        from kafka.errors import TopicAlreadyExistsError

        bs = self.broker.bootstrap
        admin = KafkaAdminClient(bootstrap_servers=bs, request_timeout_ms=15000,
                                 client_id="runnel-it-kafka-python")
        try:
            resp = admin.create_topics([NewTopic(topic, PARTITIONS, 1)], timeout_ms=10000)
            errors = [(t, e) for t, e, *_ in resp.topic_errors if e != 0]
            self.assertEqual(errors, [], "create_topics errors: %s" % resp)
            with self.assertRaises(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(topic, PARTITIONS, 1)], timeout_ms=10000)
        finally:
            admin.close()

        producer = KafkaProducer(bootstrap_servers=bs, acks="all", linger_ms=5,
                                 compression_type=compression, request_timeout_ms=15000,
                                 client_id="runnel-it-kafka-python")
        sent = expected_messages("kp-%s" % compression)
        futures = [producer.send(topic, key=k, value=v, partition=i % PARTITIONS)
                   for i, (k, v) in enumerate(sent)]
        producer.flush(30)
        reports = {}
        for (k, _), f in zip(sent, futures):
            md = f.get(timeout=1)
            reports[k] = (md.partition, md.offset)
        producer.close(10)

        consumer = KafkaConsumer(bootstrap_servers=bs, group_id=None, enable_auto_commit=False,
                                 auto_offset_reset="none", check_crcs=True,
                                 request_timeout_ms=15000, client_id="runnel-it-kafka-python")
        try:
            tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            ends = consumer.end_offsets(tps)
            self.assertEqual(sum(ends.values()), N, "end offsets %s do not add up to %d" % (ends, N))
            got = {p: [] for p in range(PARTITIONS)}
            deadline = time.monotonic() + DEADLINE
            while sum(map(len, got.values())) < N and time.monotonic() < deadline:
                for tp, msgs in consumer.poll(timeout_ms=1000).items():
                    got[tp.partition] += [(m.offset, m.key, m.value) for m in msgs]
            # Nothing more arrives after everything was read.
            for tp, msgs in consumer.poll(timeout_ms=500).items():
                got[tp.partition] += [(m.offset, m.key, m.value) for m in msgs]
        finally:
            consumer.close()
        self.assertEqual(sum(map(len, got.values())), N,
                         "read %s within %.0f s, expected %d in all" %
                         ({p: len(v) for p, v in got.items()}, DEADLINE, N))
        ConfluentKafkaStorage.check(self, sent, got, reports)

    def test_create_produce_and_read_back_by_assignment(self):
        self.run_kafka_python("py-kafka-python", None)

    def test_gzip_produce_and_read_back(self):
        self.run_kafka_python("py-kafka-python-gzip", "gzip")


if __name__ == "__main__":
    unittest.main(verbosity=2)
