#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Topic configs (issue 4): CreateTopics with configs, DescribeConfigs, IncrementalAlterConfigs
(raw v0 and v1, neither Python client has it), AlterConfigs (confluent-kafka: Kafka's replace
semantics: keys not given return to their defaults), and persistence across a restart
(SIGTERM, then a new process on the same data directory).

DescribeConfigs through confluent-kafka 1.7.0 (librdkafka: DescribeConfigs v1, config_source)
and kafka-python 2.0.2. A topic's own setting reports source DYNAMIC_TOPIC_CONFIG (1, Kafka's
"TOPIC_CONFIG") and is_default false; a key the topic does not set reports DEFAULT_CONFIG (5)
and Kafka's default value (the broker here runs without a config file). cleanup.policy is
reported exactly as set, "compact": Kafka Connect refuses anything else (CLIENTS.md rule 10)."""

import struct
import unittest

from confluent_kafka import KafkaException
from confluent_kafka.admin import (AdminClient, ConfigResource, ConfigSource, NewTopic)

from harness import BrokerTestCase, KafkaSocket, compact_string, uvarint
import kafka_wire as w

TOPIC = "configs"
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
RES_TOPIC, RES_BROKER = 2, 4
INVALID_CONFIG = 40
UNKNOWN_TOPIC_OR_PARTITION = 3

TOPIC_SRC = ConfigSource.DYNAMIC_TOPIC_CONFIG.value
DEFAULT_SRC = ConfigSource.DEFAULT_CONFIG.value

# Kafka's defaults for topic keys on a broker without overrides.
KAFKA_DEFAULTS = {
    "cleanup.policy": "delete",
    "retention.ms": "604800000",
    "segment.bytes": "1073741824",
    "max.message.bytes": "1048588",
    "min.insync.replicas": "1",
    "retention.bytes": "-1",
}


def incremental_alter_body(version, resources, validate_only=False):
    """resources: [(type, name, [(key, op, value)])]."""
    if version >= 1:
        b = uvarint(len(resources) + 1)
        for rtype, name, configs in resources:
            b += struct.pack(">b", rtype) + compact_string(name) + uvarint(len(configs) + 1)
            for key, op, value in configs:
                b += compact_string(key) + struct.pack(">b", op)
                b += uvarint(0) if value is None else compact_string(value)
                b += uvarint(0)
            b += uvarint(0)
        return b + struct.pack(">b", validate_only) + uvarint(0)
    b = struct.pack(">i", len(resources))
    for rtype, name, configs in resources:
        b += struct.pack(">b", rtype) + w.string(name) + struct.pack(">i", len(configs))
        for key, op, value in configs:
            b += w.string(key) + struct.pack(">b", op) + w.string(value)
    return b + struct.pack(">b", validate_only)


def parse_incremental_alter_response(version, r):
    flexible = version >= 1
    if flexible:
        r.skip_tags()  # response header v1
    r.int32()  # throttle
    n = r.uvarint() - 1 if flexible else r.int32()
    out = {}
    for _ in range(n):
        error = r.int16()
        message = r.compact_string() if flexible else r.string()
        rtype = r.int8()
        name = r.compact_string() if flexible else r.string()
        if flexible:
            r.skip_tags()
        out[(rtype, name)] = (error, message)
    if flexible:
        r.skip_tags()
    if r.remaining():
        raise AssertionError("%d bytes left after IncrementalAlterConfigs v%d" % (r.remaining(), version))
    return out


class Configs(BrokerTestCase):

    def admin(self):
        return AdminClient({"bootstrap.servers": self.broker.bootstrap, "socket.timeout.ms": 10000})

    def create(self, topic=TOPIC, config=None):
        admin = self.admin()
        fs = admin.create_topics([NewTopic(topic, 1, 1, config=config or {})],
                                        operation_timeout=10, request_timeout=15)
        fs[topic].result(timeout=20)

    def describe(self, restype=ConfigResource.Type.TOPIC, name=TOPIC):
        admin = self.admin()
        fs = admin.describe_configs([ConfigResource(restype, name)], request_timeout=15)
        (f,) = fs.values()
        return f.result(timeout=20)

    def assert_entry(self, entries, key, value, source, when):
        self.assertIn(key, entries, "%s: DescribeConfigs has no %s (keys: %s)"
                      % (when, key, sorted(entries)))
        e = entries[key]
        got = (e.value, e.source, e.is_default)
        want = (value, source, source == DEFAULT_SRC)
        self.assertEqual(got, want, "%s: %s: expected (value, source, is_default) %s, got %s"
                         % (when, key, want, got))
        self.assertFalse(e.is_sensitive, "%s: %s is_sensitive" % (when, key))

    def incremental_alter(self, version, resources, corr=1):
        with KafkaSocket(self.broker.port) as s:
            s.send_request(w.INCREMENTAL_ALTER_CONFIGS, version, corr,
                           body=incremental_alter_body(version, resources), flexible=version >= 1)
            got, r = s.recv_response()
            self.assertEqual(got, corr)
            return parse_incremental_alter_response(version, r)

    # -- tests ----------------------------------------------------------------------------------

    def test_created_configs_are_described_with_sources(self):
        self.create(config={"cleanup.policy": "compact", "retention.ms": "1234"})
        entries = self.describe()
        self.assert_entry(entries, "cleanup.policy", "compact", TOPIC_SRC, "after create")
        self.assert_entry(entries, "retention.ms", "1234", TOPIC_SRC, "after create")
        for key in ("segment.bytes", "max.message.bytes", "min.insync.replicas", "retention.bytes"):
            self.assert_entry(entries, key, KAFKA_DEFAULTS[key], DEFAULT_SRC, "after create")

        # kafka-python, its own codec and DescribeConfigs version.
        from kafka.admin import ConfigResource as KpResource, ConfigResourceType, KafkaAdminClient
        admin = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap, request_timeout_ms=15000)
        try:
            (resp,) = admin.describe_configs([KpResource(ConfigResourceType.TOPIC, TOPIC)])
        finally:
            admin.close()
        (res,) = resp.resources
        error, _, _, name, config_entries = res[:5]
        self.assertEqual((error, name), (0, TOPIC), "kafka-python describe_configs: %s" % (res,))
        values = {e[0]: e[1] for e in config_entries}
        self.assertEqual(values.get("cleanup.policy"), "compact",
                         "kafka-python describe_configs cleanup.policy: %s" % values)
        self.assertEqual(values.get("retention.ms"), "1234", values)

    def test_describe_selected_keys_with_synonyms_and_unknown_topic(self):
        # confluent-kafka 1.7.0 cannot ask for selected keys; kafka-python can (DescribeConfigs
        # v2 with configuration_keys and include_synonyms).
        self.create(config={"cleanup.policy": "compact"})
        from kafka.admin import ConfigResource as KpResource, ConfigResourceType, KafkaAdminClient
        admin = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap, request_timeout_ms=15000)
        try:
            (resp,) = admin.describe_configs(
                [KpResource(ConfigResourceType.TOPIC, TOPIC,
                            configs={"cleanup.policy": None, "retention.ms": None})],
                include_synonyms=True)
        finally:
            admin.close()
        (res,) = resp.resources
        self.assertEqual(res[0], 0, "kafka-python describe_configs: %s" % (res,))
        entries = {e[0]: e for e in res[4]}
        self.assertEqual(sorted(entries), ["cleanup.policy", "retention.ms"],
                         "DescribeConfigs v%d for two keys returned %s"
                         % (resp.API_VERSION, sorted(entries)))
        name, value, read_only, source, sensitive, synonyms = entries["cleanup.policy"][:6]
        self.assertEqual((value, read_only, source, sensitive), ("compact", False, TOPIC_SRC, False),
                         "cleanup.policy (value, read_only, source, sensitive)")
        self.assertTrue(synonyms, "cleanup.policy: no synonyms though include_synonyms was set")
        self.assertEqual(tuple(synonyms[0]), ("cleanup.policy", "compact", TOPIC_SRC),
                         "cleanup.policy: the first synonym is the topic's own setting: %s"
                         % (synonyms,))
        _, value, _, source, _, _ = entries["retention.ms"][:6]
        self.assertEqual((value, source), (KAFKA_DEFAULTS["retention.ms"], DEFAULT_SRC),
                         "retention.ms (value, source)")

        admin = self.admin()
        fs = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "no-such-topic")],
                                           request_timeout=15)
        (f,) = fs.values()
        with self.assertRaises(KafkaException) as cm:
            f.result(timeout=20)
        self.assertEqual(cm.exception.args[0].code(), UNKNOWN_TOPIC_OR_PARTITION,
                         "DescribeConfigs of a missing topic: %s" % cm.exception)

    def test_incremental_alter_survives_restart(self):
        self.create(config={"cleanup.policy": "compact", "retention.ms": "1234"})
        res = self.incremental_alter(0, [(RES_TOPIC, TOPIC, [("retention.ms", SET, "5678")])])
        self.assertEqual(res, {(RES_TOPIC, TOPIC): (0, None)}, "IncrementalAlterConfigs v0 SET")
        entries = self.describe()
        self.assert_entry(entries, "retention.ms", "5678", TOPIC_SRC, "after incremental SET")
        self.assert_entry(entries, "cleanup.policy", "compact", TOPIC_SRC,
                          "after incremental SET of another key")

        # v1 (flexible): set one key, delete another (back to its default).
        res = self.incremental_alter(1, [(RES_TOPIC, TOPIC, [("max.message.bytes", SET, "200000"),
                                                             ("retention.ms", DELETE, None)])], 2)
        self.assertEqual(res, {(RES_TOPIC, TOPIC): (0, None)}, "IncrementalAlterConfigs v1")
        entries = self.describe()
        self.assert_entry(entries, "max.message.bytes", "200000", TOPIC_SRC, "after v1 SET")
        self.assert_entry(entries, "retention.ms", KAFKA_DEFAULTS["retention.ms"], DEFAULT_SRC,
                          "after v1 DELETE")
        res = self.incremental_alter(1, [(RES_TOPIC, TOPIC, [("retention.ms", SET, "98765")])], 3)
        self.assertEqual(res, {(RES_TOPIC, TOPIC): (0, None)})

        self.broker.restart()
        entries = self.describe()
        self.assert_entry(entries, "cleanup.policy", "compact", TOPIC_SRC, "after restart")
        self.assert_entry(entries, "retention.ms", "98765", TOPIC_SRC, "after restart")
        self.assert_entry(entries, "max.message.bytes", "200000", TOPIC_SRC, "after restart")
        self.assert_entry(entries, "segment.bytes", KAFKA_DEFAULTS["segment.bytes"], DEFAULT_SRC,
                          "after restart")

    def test_incremental_alter_errors(self):
        self.create()
        res = self.incremental_alter(0, [(RES_TOPIC, TOPIC, [("no.such.config", SET, "1")])])
        self.assertEqual(res[(RES_TOPIC, TOPIC)][0], INVALID_CONFIG, "unknown key: %s" % res)
        res = self.incremental_alter(0, [(RES_TOPIC, TOPIC, [("retention.ms", SET, "soon")])], 2)
        self.assertEqual(res[(RES_TOPIC, TOPIC)][0], INVALID_CONFIG, "retention.ms=soon: %s" % res)
        res = self.incremental_alter(0, [(RES_TOPIC, "no-such-topic",
                                          [("retention.ms", SET, "1000")])], 3)
        self.assertEqual(res[(RES_TOPIC, "no-such-topic")][0], UNKNOWN_TOPIC_OR_PARTITION,
                         "missing topic: %s" % res)
        # Nothing changed.
        entries = self.describe()
        self.assert_entry(entries, "retention.ms", KAFKA_DEFAULTS["retention.ms"], DEFAULT_SRC,
                          "after refused alters")

    def test_alter_configs_replaces_the_set_and_survives_restart(self):
        self.create(config={"cleanup.policy": "compact", "retention.ms": "1234",
                            "max.message.bytes": "300000"})
        # AlterConfigs (v0, librdkafka) replaces the topic's whole set: max.message.bytes,
        # not given, returns to its default (Kafka's semantics; hence KIP-339).
        admin = self.admin()
        fs = admin.alter_configs([ConfigResource(
            ConfigResource.Type.TOPIC, TOPIC,
            set_config={"cleanup.policy": "compact", "retention.ms": "4321"})], request_timeout=15)
        (f,) = fs.values()
        f.result(timeout=20)
        entries = self.describe()
        self.assert_entry(entries, "retention.ms", "4321", TOPIC_SRC, "after AlterConfigs")
        self.assert_entry(entries, "cleanup.policy", "compact", TOPIC_SRC, "after AlterConfigs")
        self.assert_entry(entries, "max.message.bytes", KAFKA_DEFAULTS["max.message.bytes"],
                          DEFAULT_SRC, "after AlterConfigs without it")

        self.broker.restart()
        entries = self.describe()
        self.assert_entry(entries, "retention.ms", "4321", TOPIC_SRC, "after AlterConfigs + restart")
        self.assert_entry(entries, "cleanup.policy", "compact", TOPIC_SRC,
                          "after AlterConfigs + restart")
        self.assert_entry(entries, "max.message.bytes", KAFKA_DEFAULTS["max.message.bytes"],
                          DEFAULT_SRC, "after AlterConfigs + restart")

    def test_broker_resource_is_described(self):
        entries = self.describe(ConfigResource.Type.BROKER, "1")
        self.assertTrue(entries, "DescribeConfigs of broker 1 returned no entries")
        self.assertIn("num.partitions", entries, "broker configs: %s" % sorted(entries))
        self.assertEqual(entries["num.partitions"].value, "1", entries["num.partitions"])
        for key in ("log.retention.hours", "message.max.bytes", "default.replication.factor"):
            if key in entries:
                self.assertIsNotNone(entries[key].value, "%s has no value" % key)


if __name__ == "__main__":
    unittest.main(verbosity=2)
