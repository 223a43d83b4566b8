#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The internal topics belong to the broker (issue 14), as confluent-kafka-python (librdkafka
2.0.2) sees it.

By default:
- a Producer's batch into __consumer_offsets or __transaction_state fails with
  INVALID_TOPIC_EXCEPTION (_TOPIC_EXCEPTION in librdkafka), as Kafka 4.4 answers, and a group's
  committed offset is unchanged;
- AdminClient delete_topics and create_partitions on both, and alter_configs (a cleanup.policy
  other than compact) on __consumer_offsets, fail with POLICY_VIOLATION, with a message naming
  runnel.internal.topics.allow.destructive.changes where the API version carries one, where
  Kafka 4.4 would do them;
- after a clean restart the group's committed offset is still there.

With runnel.internal.topics.allow.destructive.changes=true Runnel does what Kafka does: client id
__admin_client may write into __consumer_offsets (any other is still refused), and DeleteTopics
removes __consumer_offsets, so after a restart the group has no committed offset any more."""

import time
import unittest

from harness import BrokerTestCase

DATA = "it-internal-data"
GROUP = "it-internal-group"
OFFSETS = "__consumer_offsets"
TXN_STATE = "__transaction_state"
ALLOW_KEY = "runnel.internal.topics.allow.destructive.changes"
COMMITTED = 7
OFFSET_INVALID = -1001
TIMEOUT = 15


class InternalTopicsBase(BrokerTestCase):
    overrides = ("group.initial.rebalance.delay.ms=0", "offsets.topic.num.partitions=1",
                 "transaction.state.log.num.partitions=1")

    def admin(self):
        """One AdminClient per test: a future fails with _DESTROY once its client is gone."""
        from confluent_kafka.admin import AdminClient
        if getattr(self, "_admin", None) is None:
            self._admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        return self._admin

    def create_data_topic(self):
        from confluent_kafka.admin import NewTopic
        fs = self.admin().create_topics([NewTopic(DATA, 1, 1)], operation_timeout=TIMEOUT)
        fs[DATA].result(TIMEOUT)

    def consumer(self):
        from confluent_kafka import Consumer
        return Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": GROUP,
                         "enable.auto.commit": False, "client.id": "it-internal-consumer"})

    def commit(self, offset):
        """Commits `offset` for DATA-0 as a consumer outside any generation (simple commit);
        this also makes the broker create __consumer_offsets."""
        from confluent_kafka import TopicPartition
        c = self.consumer()
        try:
            c.commit(offsets=[TopicPartition(DATA, 0, offset)], asynchronous=False)
        finally:
            c.close()

    def committed(self):
        from confluent_kafka import TopicPartition
        c = self.consumer()
        try:
            return c.committed([TopicPartition(DATA, 0)], timeout=TIMEOUT)[0].offset
        finally:
            c.close()

    def produce(self, topic, client_id):
        """One record into partition 0 of `topic`; returns the delivery error (None: written)."""
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "client.id": client_id,
                      "message.timeout.ms": 10000, "retries": 0})
        results = []
        p.produce(topic, key=b"forged-key", value=b"forged-value", partition=0,
                  on_delivery=lambda err, msg: results.append(err))
        deadline = time.monotonic() + TIMEOUT
        while not results and time.monotonic() < deadline:
            p.poll(0.1)
        p.flush(5)
        self.assertEqual(len(results), 1, "no delivery report within %d s" % TIMEOUT)
        return results[0]

    def ensure_txn_state(self):
        """A transactional producer's init creates __transaction_state."""
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": self.broker.bootstrap,
                      "transactional.id": "it-internal-txn"})
        p.init_transactions(TIMEOUT)
        p.flush(1)

    def admin_error(self, fs, key):
        """The KafkaError a future of an AdminClient call failed with (fails if it succeeded)."""
        from confluent_kafka import KafkaException
        with self.assertRaises(KafkaException, msg="%s succeeded" % key) as cm:
            fs[key].result(TIMEOUT)
        return cm.exception.args[0]


class InternalTopicsProtected(InternalTopicsBase):

    def test_clients_cannot_write_or_destroy_internal_topics(self):
        from confluent_kafka import KafkaError
        from confluent_kafka.admin import ConfigResource, NewPartitions
        self.create_data_topic()
        self.commit(COMMITTED)
        self.ensure_txn_state()
        self.assertEqual(self.committed(), COMMITTED)

        for topic in (OFFSETS, TXN_STATE):
            for client_id in ("it-internal-producer", "__admin_client"):
                err = self.produce(topic, client_id)
                self.assertIsNotNone(err, "%s by %s was written" % (topic, client_id))
                self.assertEqual(err.code(), KafkaError.TOPIC_EXCEPTION,
                                 "%s by %s: %s" % (topic, client_id, err))
        self.assertEqual(self.committed(), COMMITTED, "a forged write changed nothing")

        admin = self.admin()
        for topic in (OFFSETS, TXN_STATE):
            # librdkafka 2.0.2 sends DeleteTopics v4, which has no error message (v5+ does).
            err = self.admin_error(admin.delete_topics([topic], operation_timeout=TIMEOUT), topic)
            self.assertEqual(err.code(), KafkaError.POLICY_VIOLATION, str(err))
            err = self.admin_error(admin.create_partitions([NewPartitions(topic, 4)]), topic)
            self.assertEqual(err.code(), KafkaError.POLICY_VIOLATION, str(err))
            self.assertIn(ALLOW_KEY, err.str())
        res = ConfigResource(ConfigResource.Type.TOPIC, OFFSETS,
                             set_config={"cleanup.policy": "delete"})
        err = self.admin_error(admin.alter_configs([res]), res)
        self.assertEqual(err.code(), KafkaError.POLICY_VIOLATION, str(err))
        self.assertIn(ALLOW_KEY, err.str())
        # What keeps the records is allowed, as in Kafka.
        res = ConfigResource(ConfigResource.Type.TOPIC, OFFSETS,
                             set_config={"cleanup.policy": "compact", "retention.ms": "3600000"})
        admin.alter_configs([res])[res].result(TIMEOUT)

        md = admin.list_topics(timeout=TIMEOUT)
        self.assertIn(OFFSETS, md.topics)
        self.assertEqual(len(md.topics[OFFSETS].partitions), 1)
        self.assertEqual(self.committed(), COMMITTED)

        self.broker.restart()
        self.assertEqual(self.committed(), COMMITTED, "the committed offset survives a restart")
        loaded = [line for line in self.broker.run_lines() if "loaded __consumer_offsets" in line]
        self.assertTrue(loaded and " 0 bad records" in loaded[-1] and
                        " 0 other records skipped" in loaded[-1],
                        "the offsets topic holds only the coordinator's records: %s" % loaded)


class InternalTopicsUnprotected(InternalTopicsBase):
    overrides = InternalTopicsBase.overrides + (ALLOW_KEY + "=true",)

    def test_the_allow_key_gives_kafkas_behaviour(self):
        from confluent_kafka import KafkaError
        self.create_data_topic()
        self.commit(COMMITTED)
        self.assertEqual(self.committed(), COMMITTED)

        err = self.produce(OFFSETS, "it-internal-producer")
        self.assertIsNotNone(err)
        self.assertEqual(err.code(), KafkaError.TOPIC_EXCEPTION, str(err))
        self.assertIsNone(self.produce(OFFSETS, "__admin_client"),
                          "Kafka lets client id __admin_client write")

        admin = self.admin()
        admin.delete_topics([OFFSETS], operation_timeout=TIMEOUT)[OFFSETS].result(TIMEOUT)
        self.broker.restart()
        self.assertEqual(self.committed(), OFFSET_INVALID,
                         "deleting __consumer_offsets threw the committed offset away")


if __name__ == "__main__":
    unittest.main()
