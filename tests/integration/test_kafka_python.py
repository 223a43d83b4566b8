#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""kafka-python 2.0.2 (pure Python, its own codec) bootstraps against the broker.

kafka-python sends ApiVersions v0 once, with Metadata v0 pipelined behind it, and then guesses
the broker's version from the advertised ranges (CLIENTS.md, rule 3). Below 0.11 it falls back
to old message formats, so the guess must come out as a modern broker (2.0 or later)."""

import logging
import unittest

from kafka import KafkaAdminClient, KafkaConsumer

from harness import BrokerTestCase


def setUpModule():
    # kafka-python's own warnings, with their logger names, in the test's output. Here rather
    # than under __main__: meson runs this module through runner.py.
    logging.basicConfig(level=logging.WARNING)


TIMEOUTS = dict(request_timeout_ms=30000, api_version_auto_timeout_ms=10000,
                connections_max_idle_ms=60000, reconnect_backoff_max_ms=1000)


class KafkaPython(BrokerTestCase):

    def test_admin_infers_modern_broker_version(self):
        admin = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap,
                                 client_id="runnel-it-kafka-python", **TIMEOUTS)
        try:
            version = admin.config["api_version"]
            self.assertGreaterEqual(version, (2, 0),
                                    "kafka-python inferred broker version %s from ApiVersions"
                                    % (version,))
        finally:
            admin.close()

    def test_admin_describes_cluster(self):
        admin = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap,
                                 client_id="runnel-it-kafka-python", **TIMEOUTS)
        try:
            cluster = admin.describe_cluster()
            self.assertEqual(cluster["controller_id"], 1, cluster)
            brokers = [(b["node_id"], b["host"], b["port"]) for b in cluster["brokers"]]
            self.assertEqual(brokers, [(1, "127.0.0.1", self.broker.port)], cluster)
            self.assertEqual(admin.list_topics(), [])
        finally:
            admin.close()

    def test_consumer_bootstraps(self):
        consumer = KafkaConsumer(bootstrap_servers=self.broker.bootstrap,
                                 client_id="runnel-it-kafka-python", **TIMEOUTS)
        try:
            version = consumer.config["api_version"]
            self.assertGreaterEqual(version, (2, 0),
                                    "kafka-python inferred broker version %s from ApiVersions"
                                    % (version,))
            self.assertEqual(consumer.topics(), set())
        finally:
            consumer.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
