#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""confluent-kafka-python 1.7.0 (over librdkafka 2.0.2): AdminClient.list_topics() returns the
cluster: broker 1 at the listener's address, controller 1, no topics. A topic that does not
exist is reported as UNKNOWN_TOPIC_OR_PART when auto-creation is off (no fake topics)."""

import logging
import unittest

from confluent_kafka import KafkaError
from confluent_kafka.admin import AdminClient

from harness import BrokerTestCase


class CapturingHandler(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def admin_client(bootstrap, **extra):
    conf = {"bootstrap.servers": bootstrap, "client.id": "runnel-it-confluent",
            "socket.timeout.ms": 10000}
    conf.update(extra)
    return AdminClient(conf)


class ConfluentListTopics(BrokerTestCase):

    def test_list_topics_returns_broker_1(self):
        md = admin_client(self.broker.bootstrap).list_topics(timeout=10)
        self.assertEqual(sorted(md.brokers), [1])
        b = md.brokers[1]
        self.assertEqual((b.id, b.host, b.port), (1, "127.0.0.1", self.broker.port))
        self.assertEqual(md.controller_id, 1)
        self.assertEqual(md.orig_broker_id, 1)
        self.assertTrue(md.cluster_id, "empty cluster id")
        self.assertEqual(md.topics, {})

    def test_api_versions_negotiated_without_fallback(self):
        logger = logging.getLogger("runnel-it-confluent")
        logger.setLevel(logging.DEBUG)
        handler = CapturingHandler()
        logger.addHandler(handler)
        admin = admin_client(self.broker.bootstrap, debug="broker,protocol", logger=logger)
        admin.list_topics(timeout=10)
        admin.poll(0)  # serve the log queue
        log = "\n".join(handler.messages)
        for failure in ("ApiVersionRequest failed", "failed due to",
                        "Disconnected while requesting ApiVersion"):
            self.assertNotIn(failure, log, "librdkafka's ApiVersions negotiation failed:\n" + log)
        self.assertRegex(log, r"Received ApiVersionResponse \(v3\b", log)


class ConfluentUnknownTopic(BrokerTestCase):
    overrides = ("auto.create.topics.enable=false",)

    def test_unknown_topic_is_reported(self):
        md = admin_client(self.broker.bootstrap).list_topics(topic="runnel-no-such-topic",
                                                             timeout=10)
        self.assertIn("runnel-no-such-topic", md.topics)
        t = md.topics["runnel-no-such-topic"]
        self.assertIsNotNone(t.error)
        self.assertEqual(t.error.code(), KafkaError.UNKNOWN_TOPIC_OR_PART, t.error)
        self.assertEqual(t.partitions, {})


if __name__ == "__main__":
    unittest.main(verbosity=2)
