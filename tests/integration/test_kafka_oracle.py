#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The Kafka fixture (kafka_oracle.py) runs beside Runnel: Apache Kafka and Runnel both answer
ApiVersions v3 and Metadata over raw sockets, and the Metadata of an empty one-node cluster
has the same shape on both (one broker, node 1, on its own 127.0.0.1 port, controller 1, no
topics), at the lowest and at the highest Metadata version both advertise.

The test prints Kafka's ApiVersions ranges beside Runnel's, one API a line. It fails, never
skips, when Kafka is missing or does not start: scripts/setup installs it."""

import unittest

from harness import API_VERSIONS, METADATA, Broker, KafkaSocket
from kafka_oracle import KafkaBroker, api_name, kafka_version
from kafka_wire import (api_versions_v3_body, metadata_body, metadata_flexible,
                        parse_api_versions_v3_body, parse_metadata_response)


def api_versions_v3(port):
    with KafkaSocket(port) as s:
        s.send_request(API_VERSIONS, 3, 7, body=api_versions_v3_body("runnel-it", "1.0"),
                       flexible=True)
        corr, r = s.recv_response()
        if corr != 7:
            raise AssertionError("ApiVersions v3: correlation id %d, sent 7" % corr)
        # The response header stays v0 for ApiVersions (KIP-511): the body follows at once.
        return parse_api_versions_v3_body(r)


def metadata(port, version):
    with KafkaSocket(port) as s:
        flexible = metadata_flexible(version)
        s.send_request(METADATA, version, 8, body=metadata_body(version), flexible=flexible)
        corr, r = s.recv_response()
        if corr != 8:
            raise AssertionError("Metadata v%d: correlation id %d, sent 8" % (version, corr))
        if flexible:
            r.skip_tags()  # response header v1
        return parse_metadata_response(version, r)


def ranges_table(kafka_keys, runnel_keys):
    """One line per API that either broker advertises: key, name, Kafka's and Runnel's range."""
    lines = ["%4s  %-38s %-9s %-9s" % ("key", "api", "kafka", "runnel")]
    for key in sorted(set(kafka_keys) | set(runnel_keys)):
        k = "%d-%d" % kafka_keys[key] if key in kafka_keys else "-"
        r = "%d-%d" % runnel_keys[key] if key in runnel_keys else "-"
        lines.append("%4d  %-38s %-9s %-9s" % (key, api_name(key), k, r))
    return "\n".join(lines)


class KafkaOracleSmoke(unittest.TestCase):

    def setUp(self):
        self.kafka = KafkaBroker().start()
        self.addCleanup(self.kafka.stop)
        self.runnel = Broker().start()
        self.addCleanup(self.runnel.stop)

    def test_both_answer_api_versions_v3_and_metadata(self):
        answers = {}
        for name, port in (("kafka", self.kafka.port), ("runnel", self.runnel.port)):
            error, keys = api_versions_v3(port)
            self.assertEqual(error, 0, "%s: ApiVersions v3 error %d" % (name, error))
            for key in (API_VERSIONS, METADATA):
                self.assertIn(key, keys, "%s does not advertise %s" % (name, api_name(key)))
            self.assertLessEqual(keys[API_VERSIONS][0], 3)
            self.assertGreaterEqual(keys[API_VERSIONS][1], 3)
            answers[name] = keys
        print("ApiVersions v3 ranges, Apache Kafka %s (%d APIs) and Runnel (%d APIs):\n%s"
              % (kafka_version(), len(answers["kafka"]), len(answers["runnel"]),
                 ranges_table(answers["kafka"], answers["runnel"])))
        # The fixture's own probe (ApiVersions v0) saw the same list.
        self.assertEqual(self.kafka.api_versions, answers["kafka"])

        lo = max(answers["kafka"][METADATA][0], answers["runnel"][METADATA][0])
        hi = min(answers["kafka"][METADATA][1], answers["runnel"][METADATA][1], 13)
        self.assertLessEqual(lo, hi, "no Metadata version in common: kafka %s, runnel %s"
                             % (answers["kafka"][METADATA], answers["runnel"][METADATA]))
        for version in sorted({lo, hi}):
            for name, port in (("kafka", self.kafka.port), ("runnel", self.runnel.port)):
                with self.subTest(broker=name, metadata_version=version):
                    md = metadata(port, version)
                    print("%s Metadata v%d: brokers %s, cluster %s, controller %d, topics %s"
                          % (name, version, md["brokers"], md["cluster_id"],
                             md["controller_id"], sorted(md["topics"])))
                    self.assertEqual(md["error"], 0)
                    self.assertEqual([b[:3] for b in md["brokers"]], [(1, "127.0.0.1", port)])
                    if version >= 1:
                        self.assertEqual(md["controller_id"], 1)
                    if version >= 2:
                        self.assertTrue(md["cluster_id"], "%s sent no cluster id" % name)
                    self.assertEqual(md["topics"], {}, "an empty cluster lists no topics")
        self.assertEqual(metadata(self.kafka.port, hi)["cluster_id"], self.kafka.cluster_id,
                         "Kafka's cluster id is not the one the fixture formatted it with")


if __name__ == "__main__":
    unittest.main(verbosity=2)
