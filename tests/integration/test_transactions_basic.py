#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Transactions with confluent-kafka-python 1.7 (librdkafka 2.0.2, Debian) against Runnel and
Apache Kafka 4.4 in the same run (issue 11): the same scenarios pass on both, so a failure on
Kafka is a bug in the test.

  - commits and aborts interleaved: a read_committed consumer sees exactly the committed
    records, a read_uncommitted one sees them all;
  - consume-transform-produce with send_offsets_to_transaction: the group's offsets move only
    when the transaction commits;
  - a second producer with the same transactional.id fences the first, whose open transaction
    is aborted and whose commit then fails;
  - a transaction left open past transaction.timeout.ms is aborted by the broker, and what
    follows it becomes readable.

The brokers look for timed-out transactions every 500 ms
(transaction.abort.timed.out.transaction.cleanup.interval.ms) instead of Kafka's 10 s."""

import time
import unittest
import uuid

from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError, KafkaException,
                             Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic

from harness import HOST, Broker
from kafka_oracle import KafkaBroker

OVERRIDES = ("group.initial.rebalance.delay.ms=0", "auto.create.topics.enable=false",
             "transaction.abort.timed.out.transaction.cleanup.interval.ms=500")
TIMEOUT = 30.0

_brokers = {}


def broker(kind):
    """The module's broker of `kind`, started on first use, stopped when the module is done."""
    if kind not in _brokers:
        b = Broker(overrides=OVERRIDES) if kind == "runnel" else KafkaBroker(overrides=OVERRIDES)
        b.start()
        _brokers[kind] = b
        unittest.addModuleCleanup(_stop, kind)
    return _brokers[kind]


def _stop(kind):
    _brokers.pop(kind).stop()


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


class TransactionScenarios:
    kind = None  # "runnel" or "kafka"

    def setUp(self):
        self.bootstrap = "%s:%d" % (HOST, broker(self.kind).port)

    # -- helpers ---------------------------------------------------------------------------

    def create_topic(self, name, partitions=1):
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for f in admin.create_topics([NewTopic(name, partitions, 1)],
                                     request_timeout=TIMEOUT).values():
            f.result(timeout=TIMEOUT)

    def producer(self, txn_id, **extra):
        conf = {"bootstrap.servers": self.bootstrap, "transactional.id": txn_id,
                "linger.ms": 5}
        conf.update(extra)
        p = Producer(conf)
        p.init_transactions(TIMEOUT)
        return p

    def produce_all(self, p, topic, values, partition=0):
        for v in values:
            p.produce(topic, value=v.encode(), partition=partition)
        p.flush(TIMEOUT)

    def read(self, topic, isolation, partitions=1):
        """Every value of `topic` from the beginning up to the end a consumer of `isolation`
        sees (the last stable offset for read_committed), in offset order per partition."""
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": unique("reader"),
                      "enable.auto.commit": False, "enable.partition.eof": True,
                      "isolation.level": isolation})
        got, at_end = [], set()
        try:
            c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
            deadline = time.monotonic() + TIMEOUT
            while len(at_end) < partitions and time.monotonic() < deadline:
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error() is not None:
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        at_end.add(m.partition())
                        continue
                    raise AssertionError("consumer error: %s" % m.error())
                got.append(m.value().decode())
                at_end.discard(m.partition())
        finally:
            c.close()
        self.assertEqual(len(at_end), partitions, "the consumer never reached the end")
        return got

    def wait_until(self, what, check, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.2)
        self.fail("timed out waiting for " + what)

    # -- scenarios -------------------------------------------------------------------------

    def test_read_committed_sees_only_committed_records(self):
        topic = unique("txn-basic")
        self.create_topic(topic)
        p = self.producer(unique("tx"))
        p.begin_transaction()
        self.produce_all(p, topic, ["a1", "a2"])
        p.commit_transaction(TIMEOUT)
        p.begin_transaction()
        self.produce_all(p, topic, ["b1", "b2"])
        p.abort_transaction(TIMEOUT)
        p.begin_transaction()
        self.produce_all(p, topic, ["c1"])
        p.commit_transaction(TIMEOUT)
        self.assertEqual(self.read(topic, "read_committed"), ["a1", "a2", "c1"])
        self.assertEqual(self.read(topic, "read_uncommitted"), ["a1", "a2", "b1", "b2", "c1"])

    def test_an_open_transaction_holds_back_read_committed(self):
        topic = unique("txn-open")
        self.create_topic(topic)
        p = self.producer(unique("tx"))
        p.begin_transaction()
        self.produce_all(p, topic, ["x1"])
        # Not committed yet: read_committed stops before it, read_uncommitted sees it.
        self.assertEqual(self.read(topic, "read_committed"), [])
        self.assertEqual(self.read(topic, "read_uncommitted"), ["x1"])
        p.commit_transaction(TIMEOUT)
        self.assertEqual(self.read(topic, "read_committed"), ["x1"])

    def test_send_offsets_to_transaction_commits_them_with_it(self):
        source, sink = unique("txn-in"), unique("txn-out")
        self.create_topic(source)
        self.create_topic(sink)
        plain = Producer({"bootstrap.servers": self.bootstrap})
        for i in range(4):
            plain.produce(source, value=("in%d" % i).encode(), partition=0)
        plain.flush(TIMEOUT)
        group = unique("ctp")
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group,
                             "enable.auto.commit": False, "auto.offset.reset": "earliest",
                             "isolation.level": "read_committed"})
        try:
            consumer.assign([TopicPartition(source, 0, OFFSET_BEGINNING)])
            p = self.producer(unique("tx"))
            # One committed transaction over the first two records, then an aborted one.
            for commit, count in ((True, 2), (False, 2)):
                msgs = []
                deadline = time.monotonic() + TIMEOUT
                while len(msgs) < count and time.monotonic() < deadline:
                    m = consumer.poll(0.5)
                    if m is not None and m.error() is None:
                        msgs.append(m)
                self.assertEqual(len(msgs), count)
                p.begin_transaction()
                for m in msgs:
                    p.produce(sink, value=m.value().upper(), partition=0)
                p.send_offsets_to_transaction(
                    [TopicPartition(source, 0, msgs[-1].offset() + 1)],
                    consumer.consumer_group_metadata(), TIMEOUT)
                if commit:
                    p.commit_transaction(TIMEOUT)
                else:
                    p.abort_transaction(TIMEOUT)
                committed = consumer.committed([TopicPartition(source, 0)], TIMEOUT)[0].offset
                self.assertEqual(committed, 2, "after the %s" % ("commit" if commit else "abort"))
        finally:
            consumer.close()
        self.assertEqual(self.read(sink, "read_committed"), ["IN0", "IN1"])

    def test_a_second_producer_fences_the_first(self):
        topic = unique("txn-fence")
        self.create_topic(topic)
        txn_id = unique("tx")
        first = self.producer(txn_id)
        first.begin_transaction()
        self.produce_all(first, topic, ["old"])
        # The second init_transactions aborts the first producer's open transaction.
        second = self.producer(txn_id)
        second.begin_transaction()
        self.produce_all(second, topic, ["new"])
        second.commit_transaction(TIMEOUT)
        with self.assertRaises(KafkaException) as caught:
            first.commit_transaction(TIMEOUT)
        self.assertTrue(caught.exception.args[0].fatal(),
                        "a fenced producer's error is fatal: %s" % caught.exception)
        self.assertEqual(self.read(topic, "read_committed"), ["new"])
        self.assertEqual(self.read(topic, "read_uncommitted"), ["old", "new"])

    def test_a_transaction_left_open_is_aborted_at_its_timeout(self):
        topic = unique("txn-timeout")
        self.create_topic(topic)
        stale = self.producer(unique("tx"), **{"transaction.timeout.ms": 2000})
        stale.begin_transaction()
        self.produce_all(stale, topic, ["lost"])
        other = self.producer(unique("tx"))
        other.begin_transaction()
        self.produce_all(other, topic, ["kept"])
        other.commit_transaction(TIMEOUT)
        # The broker aborts the stale transaction, which then no longer holds back "kept".
        self.wait_until("the timed-out transaction to be aborted",
                        lambda: self.read(topic, "read_committed") == ["kept"])
        self.assertEqual(self.read(topic, "read_uncommitted"), ["lost", "kept"])


class RunnelTransactions(TransactionScenarios, unittest.TestCase):
    kind = "runnel"


class KafkaTransactions(TransactionScenarios, unittest.TestCase):
    kind = "kafka"


if __name__ == "__main__":
    unittest.main()
