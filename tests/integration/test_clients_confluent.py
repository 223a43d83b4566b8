#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""confluent-kafka 2.16 from PyPI (librdkafka 2.16 inside its wheel) against Runnel and Apache
Kafka in the same run (issue 10): Producer, Consumer and AdminClient through every scenario of
clients_common.py. Runs with the venv's python (scripts/setup, tests/integration/meson.build).

librdkafka's producer is not idempotent by default (enable.idempotence=false), so its default
configuration needs no InitProducerId. The consumers use the classic group protocol (the
default of group.protocol) and librdkafka's default assignors (range, roundrobin)."""

import time
import unittest

import clients_common as cc
from client_versions import require

require("confluent-kafka")

from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError,  # noqa: E402
                             Producer, TopicPartition)
from confluent_kafka.admin import (AdminClient, AlterConfigOpType,  # noqa: E402
                                   ConfigEntry, ConfigResource, NewPartitions, NewTopic,
                                   OffsetSpec, ResourceType)

TIMEOUT = 20


def state_name(state):
    """ConsumerGroupState.STABLE -> "Stable", Kafka's spelling."""
    return state.name.capitalize()


class ConfluentScenarios(cc.Scenarios):
    client = "confluent-kafka 2.16"
    prefix = "ck"
    unsupported = {}

    # -- helpers ---------------------------------------------------------------------------

    def admin(self, bootstrap):
        return AdminClient({"bootstrap.servers": bootstrap})

    def create_topics(self, bootstrap, topics, configs=None):
        """topics: {name: partitions}."""
        admin = self.admin(bootstrap)   # alive until the results are in
        fs = admin.create_topics(
            [NewTopic(t, n, 1, config=dict(configs or {})) for t, n in topics.items()],
            request_timeout=TIMEOUT)
        for f in fs.values():
            f.result(timeout=TIMEOUT)

    def produce(self, bootstrap, records, conf=None):
        """records: [(topic, partition, key, value, headers, timestamp)]; returns offsets."""
        reports, errors = [None] * len(records), []
        producer = Producer(dict({"bootstrap.servers": bootstrap, "linger.ms": 5,
                                  "enable.idempotence": False}, **(conf or {})))
        for i, (topic, partition, key, value, headers, ts) in enumerate(records):
            def on_delivery(err, msg, i=i):
                if err is not None:
                    errors.append(str(err))
                else:
                    reports[i] = msg.offset()
            kwargs = {"timestamp": ts} if ts else {}
            producer.produce(topic, key=key, value=value, headers=headers, partition=partition,
                             on_delivery=on_delivery, **kwargs)
            producer.poll(0)
        left = producer.flush(TIMEOUT)
        if errors or left:
            raise AssertionError("delivery failed: %d undelivered, errors %s" % (left, errors[:3]))
        return reports

    def read_all(self, bootstrap, topics):
        """Every record of {topic: partitions} from the beginning, by assignment:
        {topic: [Message]} in offset order per partition."""
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused-assign-only",
                             "enable.auto.commit": False, "enable.partition.eof": True,
                             "auto.offset.reset": "earliest"})
        got = {t: [] for t in topics}
        try:
            tps = [TopicPartition(t, p, OFFSET_BEGINNING) for t, n in topics.items()
                   for p in range(n)]
            consumer.assign(tps)
            eof = set()
            deadline = time.monotonic() + cc.WAIT_S
            while len(eof) < len(tps):
                if time.monotonic() > deadline:
                    raise AssertionError("end of %d partitions not reached in %.0f s (read %s)"
                                         % (len(tps) - len(eof), cc.WAIT_S,
                                            {t: len(v) for t, v in got.items()}))
                msg = consumer.poll(0.5)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        eof.add((msg.topic(), msg.partition()))
                        continue
                    raise AssertionError("consumer error: %s" % msg.error())
                eof.discard((msg.topic(), msg.partition()))
                got[msg.topic()].append(msg)
        finally:
            consumer.close()
        return got

    def group_consumer(self, bootstrap, group, **extra):
        return Consumer(dict({"bootstrap.servers": bootstrap, "group.id": group,
                              "auto.offset.reset": "earliest", "enable.auto.commit": False,
                              "session.timeout.ms": cc.SESSION_TIMEOUT_MS,
                              "heartbeat.interval.ms": cc.HEARTBEAT_INTERVAL_MS}, **extra))

    def consume_group(self, consumer, want):
        """Polls until `want` records arrived, then 1 s more for any extra."""
        got = []
        deadline = time.monotonic() + cc.WAIT_S
        extra_until = None
        while True:
            now = time.monotonic()
            if extra_until is not None and now > extra_until:
                return got
            if now > deadline:
                raise AssertionError("read %d of %d records in %.0f s"
                                     % (len(got), want, cc.WAIT_S))
            msg = consumer.poll(0.2)
            if msg is not None:
                if msg.error():
                    raise AssertionError("consumer error: %s" % msg.error())
                got.append([msg.partition(), msg.offset(), msg.value().decode()])
            if len(got) >= want and extra_until is None:
                extra_until = time.monotonic() + 1.0

    # -- scenarios -------------------------------------------------------------------------

    def run_codecs(self, bootstrap, prefix):
        obs = {"produced": {}, "consumed": {}}
        topics = {"%s-%s" % (prefix, c): 1 for c in cc.CODECS}
        self.create_topics(bootstrap, topics)
        for codec in cc.CODECS:
            recs = []
            for i in range(cc.CODEC_RECORDS):
                key, value, headers = cc.codec_record(codec, i)
                recs.append(("%s-%s" % (prefix, codec), 0, key, value,
                             [(k, v.encode()) for k, v in headers], None))
            obs["produced"][codec] = self.produce(bootstrap, recs, {"compression.type": codec})
        got = self.read_all(bootstrap, topics)
        for codec in cc.CODECS:
            obs["consumed"][codec] = [
                [m.offset(), m.key().decode(), m.value().decode(),
                 [[k, v.decode()] for k, v in (m.headers() or [])]]
                for m in got["%s-%s" % (prefix, codec)]]
        return obs

    def run_group(self, bootstrap, prefix):
        obs = {}
        topic, group = prefix, prefix
        self.create_topics(bootstrap, {topic: cc.GROUP_PARTITIONS})
        self.produce(bootstrap, [(topic, i % cc.GROUP_PARTITIONS, None,
                                  cc.group_value(i), None, None) for i in range(cc.GROUP_FIRST)])
        consumer = self.group_consumer(bootstrap, group)
        try:
            consumer.subscribe([topic])
            obs["first"] = self.consume_group(consumer, cc.GROUP_FIRST)
            consumer.commit(asynchronous=False)
            tps = [TopicPartition(topic, p) for p in range(cc.GROUP_PARTITIONS)]
            obs["committed"] = {str(tp.partition): tp.offset
                                for tp in consumer.committed(tps, timeout=TIMEOUT)}
        finally:
            consumer.close()
        self.produce(bootstrap, [(topic, i % cc.GROUP_PARTITIONS, None, cc.group_value(i),
                                  None, None)
                                 for i in range(cc.GROUP_FIRST, cc.GROUP_FIRST + cc.GROUP_SECOND)])
        consumer = self.group_consumer(bootstrap, group)
        try:
            consumer.subscribe([topic])
            obs["second"] = self.consume_group(consumer, cc.GROUP_SECOND)
            consumer.commit(asynchronous=False)
        finally:
            consumer.close()
        return obs

    def run_rebalance(self, bootstrap, prefix):
        obs = {}
        topic, group = prefix, prefix
        self.create_topics(bootstrap, {topic: cc.REBALANCE_PARTITIONS})
        every = list(range(cc.REBALANCE_PARTITIONS))
        a = self.group_consumer(bootstrap, group, **{"client.id": "member-a"})
        b = self.group_consumer(bootstrap, group, **{"client.id": "member-b"})
        members = [a]

        def owned(c):
            return sorted(tp.partition for tp in c.assignment())

        def wait_until(cond, what):
            deadline = time.monotonic() + cc.WAIT_S
            while not cond():
                if time.monotonic() > deadline:
                    raise AssertionError("%s within %.0f s: A owns %s, B owns %s"
                                         % (what, cc.WAIT_S, owned(a), owned(b)))
                for c in members:
                    msg = c.poll(0.1)
                    if msg is not None and msg.error():
                        raise AssertionError("consumer error: %s" % msg.error())

        try:
            a.subscribe([topic])
            wait_until(lambda: owned(a) == every, "A alone does not own every partition")
            obs["a_alone"] = owned(a)
            b.subscribe([topic])
            members.append(b)
            wait_until(lambda: owned(a) and owned(b) and sorted(owned(a) + owned(b)) == every,
                       "A and B do not share the partitions")
            obs["a_with_b"], obs["b_with_a"] = owned(a), owned(b)
            members.remove(b)
            b.close()
            b = None
            wait_until(lambda: owned(a) == every, "A does not own every partition after B left")
            obs["a_after_b_left"] = owned(a)
        finally:
            a.close()
            if b is not None:
                b.close()
        return obs

    def run_admin(self, bootstrap, prefix):
        obs = {"base_ms": cc.offsets_base_ms()}
        topic = prefix
        admin = self.admin(bootstrap)
        self.create_topics(bootstrap, {topic: cc.ADMIN_PARTITIONS}, cc.TOPIC_CONFIGS)

        def describe():
            res = ConfigResource(ResourceType.TOPIC, topic)
            entries = admin.describe_configs([res], request_timeout=TIMEOUT)[res].result(TIMEOUT)
            return {k: e.value for k, e in entries.items()}

        obs["configs_created"] = cc.settle(describe, cc.created)
        res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
            ConfigEntry("retention.ms", cc.ALTERED_RETENTION_MS,
                        incremental_operation=AlterConfigOpType.SET)])
        admin.incremental_alter_configs([res], request_timeout=TIMEOUT)[res].result(TIMEOUT)
        obs["alter_kind"] = "incremental"
        obs["configs_altered"] = cc.settle(describe, cc.altered)

        fs = admin.create_partitions([NewPartitions(topic, cc.ADMIN_PARTITIONS_AFTER)],
                                     request_timeout=TIMEOUT)
        fs[topic].result(TIMEOUT)
        obs["partitions_after"] = cc.settle(
            lambda: len(admin.list_topics(topic, timeout=TIMEOUT).topics[topic].partitions),
            lambda n: n == cc.ADMIN_PARTITIONS_AFTER)

        ts = cc.offsets_timestamps(obs["base_ms"])
        self.produce(bootstrap, [(topic, 0, None, "t-%d" % i, None, ts[i])
                                 for i in range(cc.OFFSET_RECORDS)])
        tp = TopicPartition(topic, 0)

        def list_offset(spec):
            return admin.list_offsets({tp: spec}, request_timeout=TIMEOUT)[tp].result(TIMEOUT)

        obs["offsets"] = offsets = {}
        offsets["earliest"] = list_offset(OffsetSpec.earliest()).offset
        offsets["latest"] = list_offset(OffsetSpec.latest()).offset
        offsets["by_timestamp"] = list_offset(
            OffsetSpec.for_timestamp(obs["base_ms"] + 3500)).offset
        r = list_offset(OffsetSpec.max_timestamp())
        offsets["max_timestamp"] = [r.offset, r.timestamp]

        fs = admin.delete_records([TopicPartition(topic, 0, cc.DELETE_BEFORE)],
                                  request_timeout=TIMEOUT)
        obs["low_watermark"] = list(fs.values())[0].result(TIMEOUT).low_watermark
        obs["earliest_after_delete"] = list_offset(OffsetSpec.earliest()).offset

        cluster = admin.describe_cluster(request_timeout=TIMEOUT).result(TIMEOUT)
        obs["cluster"] = {"brokers": [n.id for n in cluster.nodes],
                          "controller": cluster.controller.id if cluster.controller else None,
                          "cluster_id": cluster.cluster_id}
        return obs

    def run_admin_groups(self, bootstrap, prefix):
        topic, group = prefix, prefix
        obs = {"group": group}
        admin = self.admin(bootstrap)
        self.create_topics(bootstrap, {topic: cc.GROUP_PARTITIONS})

        def listed():
            res = admin.list_consumer_groups(request_timeout=TIMEOUT).result(TIMEOUT)
            return sorted(g.group_id for g in res.valid)

        def describe():
            d = admin.describe_consumer_groups([group], request_timeout=TIMEOUT)[group] \
                .result(TIMEOUT)
            return {"state": state_name(d.state),
                    "protocol_type": "" if d.is_simple_consumer_group else "consumer",
                    "members": [{"client_id": m.client_id,
                                 "assigned": sorted(tp.partition
                                                    for tp in m.assignment.topic_partitions)}
                                for m in d.members]}

        consumer = self.group_consumer(bootstrap, group)
        try:
            consumer.subscribe([topic])
            deadline = time.monotonic() + cc.WAIT_S
            while len(consumer.assignment()) < cc.GROUP_PARTITIONS:
                if time.monotonic() > deadline:
                    raise AssertionError("no full assignment within %.0f s" % cc.WAIT_S)
                consumer.poll(0.1)
            consumer.commit(offsets=[TopicPartition(topic, p, 0)
                                     for p in range(cc.GROUP_PARTITIONS)], asynchronous=False)
            obs["listed"] = listed()
            obs["described_active"] = describe()
        finally:
            consumer.close()
        obs["described_empty"] = describe()
        try:
            admin.delete_consumer_groups([group], request_timeout=TIMEOUT)[group].result(TIMEOUT)
            obs["delete_error"] = None
        except Exception as e:  # noqa: BLE001 - reported, then checked
            obs["delete_error"] = cc.error_text(e)
        obs["listed_after_delete"] = listed()
        return obs

    def run_delete_records(self, bootstrap, prefix):
        topic = prefix
        self.create_topics(bootstrap, {topic: 1})
        self.produce(bootstrap, [(topic, 0, None, "d-%d" % i, None, None)
                                 for i in range(cc.DELETE_RECORDS_N)])
        admin = self.admin(bootstrap)
        fs = admin.delete_records([TopicPartition(topic, 0, cc.DELETE_RECORDS_BEFORE)],
                                  request_timeout=TIMEOUT)
        obs = {"low_watermark": list(fs.values())[0].result(TIMEOUT).low_watermark}
        obs["consumed"] = [[m.offset(), m.value().decode()]
                           for m in self.read_all(bootstrap, {topic: 1})[topic]]
        return obs

    def produce_and_read(self, bootstrap, topic, conf):
        """Producer built from `conf` alone (plus bootstrap.servers)."""
        self.create_topics(bootstrap, {topic: 1})
        errors = []
        producer = Producer(dict({"bootstrap.servers": bootstrap}, **conf))
        for i in range(cc.DEFAULTS_RECORDS):
            producer.produce(topic, value="v-%d" % i, partition=0,
                             on_delivery=lambda err, msg: err and errors.append(str(err)))
        left = producer.flush(TIMEOUT)
        if errors or left:
            raise AssertionError("delivery failed: %d undelivered, errors %s" % (left, errors[:3]))
        return {"consumed": [[m.offset(), m.value().decode()]
                             for m in self.read_all(bootstrap, {topic: 1})[topic]]}

    def run_producer_defaults(self, bootstrap, prefix):
        return self.produce_and_read(bootstrap, prefix, {})

    def run_producer_no_idempotence(self, bootstrap, prefix):
        return self.produce_and_read(bootstrap, prefix, {"enable.idempotence": False})


class ConfluentOnRunnel(ConfluentScenarios, cc.OnRunnel):
    pass


class ConfluentOnKafka(ConfluentScenarios, cc.OnKafka):
    pass


if __name__ == "__main__":
    unittest.main(verbosity=2)
