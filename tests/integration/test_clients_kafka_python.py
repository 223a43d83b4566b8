#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""kafka-python 3.0 from PyPI (pure Python, its own codec) against Runnel and Apache Kafka in
the same run (issue 10): KafkaProducer, KafkaConsumer and KafkaAdminClient through every
scenario of clients_common.py. Runs with the venv's python (scripts/setup, meson.build).

kafka-python 3.0 produces idempotently by default (enable_idempotence=True, as the Java producer
since Kafka 3.0, KIP-679): InitProducerId first, then a producer id and sequence numbers in
every batch. Every scenario keeps that default, except producer_no_idempotence."""

import threading
import time
import unittest

import clients_common as cc
from client_versions import require

require("kafka-python")

from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.admin import (ConfigResource, ConfigResourceType, KafkaAdminClient,  # noqa: E402
                         OffsetSpec)

TIMEOUT_MS = 20000
CLIENT_ID = "runnel-it-kafka-python"


class Member:
    """A group consumer polled by a thread of its own, as an application would run it (a
    KafkaConsumer is used by one thread only); `owned` is its assignment after the last poll.
    close() stops the thread, which closes the consumer (LeaveGroup)."""

    def __init__(self, consumer):
        self.consumer = consumer
        self.owned = []
        self.error = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            while not self.stop.is_set():
                self.consumer.poll(timeout_ms=100)
                self.owned = sorted(tp.partition for tp in self.consumer.assignment())
        except Exception as e:  # noqa: BLE001 - reported by the scenario
            self.error = cc.error_text(e)
        finally:
            self.consumer.close()

    def close(self):
        self.stop.set()
        self.thread.join(cc.WAIT_S)


class KafkaPythonScenarios(cc.Scenarios):
    client = "kafka-python 3.0"
    prefix = "kp"
    unsupported = {}

    # -- helpers ---------------------------------------------------------------------------

    def admin(self, bootstrap):
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=CLIENT_ID,
                                 request_timeout_ms=TIMEOUT_MS)
        self.addCleanup(admin.close)
        return admin

    def create_topics(self, bootstrap, topics, configs=None):
        self.admin(bootstrap).create_topics(
            {t: {"num_partitions": n, "replication_factor": 1, "configs": dict(configs or {})}
             for t, n in topics.items()}, timeout_ms=TIMEOUT_MS)

    def produce(self, bootstrap, records, **conf):
        """records: [(topic, partition, key, value, headers, timestamp_ms)]; returns offsets."""
        producer = KafkaProducer(**dict({"bootstrap_servers": bootstrap, "client_id": CLIENT_ID,
                                         "linger_ms": 5, "request_timeout_ms": TIMEOUT_MS},
                                        **conf))
        try:
            futures = [producer.send(t, key=k.encode() if k is not None else None,
                                     value=v.encode(), headers=h, partition=p, timestamp_ms=ts)
                       for t, p, k, v, h, ts in records]
            producer.flush(TIMEOUT_MS / 1000)
            return [f.get(timeout=1).offset for f in futures]
        finally:
            producer.close(10)

    def read_all(self, bootstrap, topics):
        """{topic: [ConsumerRecord]} of every partition of {topic: partitions}, by assignment
        from the beginning to the end offsets."""
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id=CLIENT_ID, group_id=None,
                                 enable_auto_commit=False, auto_offset_reset="earliest",
                                 request_timeout_ms=TIMEOUT_MS)
        try:
            tps = [TopicPartition(t, p) for t, n in topics.items() for p in range(n)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            ends = consumer.end_offsets(tps)
            got = {tp: [] for tp in tps}
            deadline = time.monotonic() + cc.WAIT_S

            def done():
                return all((got[tp][-1].offset + 1 if got[tp] else consumer.position(tp))
                           >= ends[tp] for tp in tps)

            while not done():
                if time.monotonic() > deadline:
                    raise AssertionError("end offsets %s not reached in %.0f s (read %s)"
                                         % (ends, cc.WAIT_S, {tp: len(v) for tp, v in got.items()}))
                for tp, recs in consumer.poll(timeout_ms=200).items():
                    got[tp] += recs
        finally:
            consumer.close()
        out = {t: [] for t in topics}
        for tp in tps:
            out[tp.topic] += got[tp]
        return out

    def group_consumer(self, bootstrap, group, topic, client_id=CLIENT_ID):
        return KafkaConsumer(topic, bootstrap_servers=bootstrap, client_id=client_id,
                             group_id=group, auto_offset_reset="earliest",
                             enable_auto_commit=False, request_timeout_ms=TIMEOUT_MS,
                             session_timeout_ms=cc.SESSION_TIMEOUT_MS,
                             heartbeat_interval_ms=cc.HEARTBEAT_INTERVAL_MS)

    def consume_group(self, consumer, want):
        got = []
        deadline = time.monotonic() + cc.WAIT_S
        extra_until = None
        while extra_until is None or time.monotonic() < extra_until:
            if time.monotonic() > deadline:
                raise AssertionError("read %d of %d records in %.0f s"
                                     % (len(got), want, cc.WAIT_S))
            for tp, recs in consumer.poll(timeout_ms=200).items():
                got += [[tp.partition, r.offset, r.value.decode()] for r in recs]
            if len(got) >= want and extra_until is None:
                extra_until = time.monotonic() + 1.0
        return got

    def wait_assigned(self, consumers, cond, what):
        deadline = time.monotonic() + cc.WAIT_S
        while not cond():
            if time.monotonic() > deadline:
                raise AssertionError("%s within %.0f s: %s" % (what, cc.WAIT_S,
                                     [sorted(tp.partition for tp in c.assignment())
                                      for c in consumers]))
            for c in consumers:
                c.poll(timeout_ms=100)

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
            obs["produced"][codec] = self.produce(
                bootstrap, recs, compression_type=None if codec == "none" else codec)
        got = self.read_all(bootstrap, topics)
        for codec in cc.CODECS:
            obs["consumed"][codec] = [
                [r.offset, r.key.decode(), r.value.decode(),
                 [[k, v.decode()] for k, v in r.headers]]
                for r in got["%s-%s" % (prefix, codec)]]
        return obs

    def run_group(self, bootstrap, prefix):
        obs = {}
        topic, group = prefix, prefix
        self.create_topics(bootstrap, {topic: cc.GROUP_PARTITIONS})
        self.produce(bootstrap, [(topic, i % cc.GROUP_PARTITIONS, None, cc.group_value(i),
                                  None, None) for i in range(cc.GROUP_FIRST)])
        consumer = self.group_consumer(bootstrap, group, topic)
        try:
            obs["first"] = self.consume_group(consumer, cc.GROUP_FIRST)
            consumer.commit()
            obs["committed"] = {
                str(p): consumer.committed(TopicPartition(topic, p))
                for p in range(cc.GROUP_PARTITIONS)}
        finally:
            consumer.close()
        self.produce(bootstrap, [(topic, i % cc.GROUP_PARTITIONS, None, cc.group_value(i),
                                  None, None)
                                 for i in range(cc.GROUP_FIRST, cc.GROUP_FIRST + cc.GROUP_SECOND)])
        consumer = self.group_consumer(bootstrap, group, topic)
        try:
            obs["second"] = self.consume_group(consumer, cc.GROUP_SECOND)
            consumer.commit()
        finally:
            consumer.close()
        return obs

    def run_rebalance(self, bootstrap, prefix):
        obs = {}
        topic, group = prefix, prefix
        self.create_topics(bootstrap, {topic: cc.REBALANCE_PARTITIONS})
        every = list(range(cc.REBALANCE_PARTITIONS))
        a = Member(self.group_consumer(bootstrap, group, topic, "member-a"))
        b = None

        def wait(cond, what):
            deadline = time.monotonic() + cc.WAIT_S
            while not cond():
                if time.monotonic() > deadline:
                    raise AssertionError("%s within %.0f s: A owns %s, B owns %s"
                                         % (what, cc.WAIT_S, a.owned, b and b.owned))
                for m in (a, b):
                    if m is not None and m.error:
                        raise AssertionError("member %s: %s" % (m.consumer.config["client_id"],
                                                                m.error))
                time.sleep(0.05)

        try:
            wait(lambda: a.owned == every, "A alone does not own every partition")
            obs["a_alone"] = a.owned
            b = Member(self.group_consumer(bootstrap, group, topic, "member-b"))
            wait(lambda: a.owned and b.owned and sorted(a.owned + b.owned) == every,
                 "A and B do not share the partitions")
            obs["a_with_b"], obs["b_with_a"] = a.owned, b.owned
            b.close()
            b = None
            wait(lambda: a.owned == every, "A does not own every partition after B left")
            obs["a_after_b_left"] = a.owned
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
            res = ConfigResource(ConfigResourceType.TOPIC, topic,
                                 configs={k: None for k in cc.TOPIC_CONFIGS})
            got = admin.describe_configs([res], config_filter="all")
            return {k: v["value"] for k, v in got["topic"][topic].items()}

        obs["configs_created"] = cc.settle(describe, cc.created)
        # kafka-python picks IncrementalAlterConfigs when the broker has it (2.3 and later).
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                            configs={"retention.ms": cc.ALTERED_RETENTION_MS})])
        obs["alter_kind"] = "incremental"
        obs["configs_altered"] = cc.settle(describe, cc.altered)

        admin.create_partitions({topic: cc.ADMIN_PARTITIONS_AFTER}, timeout_ms=TIMEOUT_MS)
        obs["partitions_after"] = cc.settle(
            lambda: len(admin.describe_topics([topic])[0]["partitions"]),
            lambda n: n == cc.ADMIN_PARTITIONS_AFTER)

        ts = cc.offsets_timestamps(obs["base_ms"])
        self.produce(bootstrap, [(topic, 0, None, "t-%d" % i, None, ts[i])
                                 for i in range(cc.OFFSET_RECORDS)])
        tp = TopicPartition(topic, 0)

        def list_offset(spec):
            return admin.list_partition_offsets({tp: spec}, timeout_ms=TIMEOUT_MS)[tp]

        obs["offsets"] = offsets = {}
        offsets["earliest"] = list_offset(OffsetSpec.EARLIEST).offset
        offsets["latest"] = list_offset(OffsetSpec.LATEST).offset
        offsets["by_timestamp"] = list_offset(obs["base_ms"] + 3500).offset
        r = list_offset(OffsetSpec.MAX_TIMESTAMP)
        offsets["max_timestamp"] = [r.offset, r.timestamp]

        res = admin.delete_records({tp: cc.DELETE_BEFORE}, timeout_ms=TIMEOUT_MS)
        obs["low_watermark"] = res[tp]["low_watermark"]
        obs["earliest_after_delete"] = list_offset(OffsetSpec.EARLIEST).offset

        cluster = admin.describe_cluster()
        obs["cluster"] = {"brokers": [b["broker_id"] for b in cluster["brokers"]],
                          "controller": cluster["controller_id"],
                          "cluster_id": cluster["cluster_id"]}
        return obs

    def run_admin_groups(self, bootstrap, prefix):
        topic, group = prefix, prefix
        obs = {"group": group}
        admin = self.admin(bootstrap)
        self.create_topics(bootstrap, {topic: cc.GROUP_PARTITIONS})

        def listed():
            return sorted(g["group_id"] for g in admin.list_groups())

        def describe():
            d = admin.describe_groups([group])[group]
            members = []
            for m in d["members"]:
                assigned = [p for t in m["member_assignment"]["assigned_partitions"]
                            if t["topic"] == topic for p in t["partitions"]]
                members.append({"client_id": m["client_id"], "assigned": sorted(assigned)})
            return {"state": d["group_state"], "protocol_type": d["protocol_type"],
                    "members": members}

        consumer = self.group_consumer(bootstrap, group, topic)
        try:
            self.wait_assigned([consumer],
                               lambda: len(consumer.assignment()) == cc.GROUP_PARTITIONS,
                               "no full assignment")
            from kafka.structs import OffsetAndMetadata
            consumer.commit({TopicPartition(topic, p): OffsetAndMetadata(0, "", -1)
                             for p in range(cc.GROUP_PARTITIONS)})
            obs["listed"] = listed()
            obs["described_active"] = describe()
        finally:
            consumer.close()
        obs["described_empty"] = describe()
        res = admin.delete_groups([group])
        obs["delete_error"] = None if res.get(group) == "OK" else str(res.get(group))
        obs["listed_after_delete"] = listed()
        return obs

    def run_delete_records(self, bootstrap, prefix):
        topic = prefix
        self.create_topics(bootstrap, {topic: 1})
        self.produce(bootstrap, [(topic, 0, None, "d-%d" % i, None, None)
                                 for i in range(cc.DELETE_RECORDS_N)])
        tp = TopicPartition(topic, 0)
        res = self.admin(bootstrap).delete_records({tp: cc.DELETE_RECORDS_BEFORE},
                                                   timeout_ms=TIMEOUT_MS)
        obs = {"low_watermark": res[tp]["low_watermark"]}
        obs["consumed"] = [[r.offset, r.value.decode()]
                           for r in self.read_all(bootstrap, {topic: 1})[topic]]
        return obs

    def produce_and_read(self, bootstrap, topic, **conf):
        """A KafkaProducer built from `conf` alone (plus bootstrap_servers)."""
        self.create_topics(bootstrap, {topic: 1})
        producer = KafkaProducer(bootstrap_servers=bootstrap, **conf)
        try:
            futures = [producer.send(topic, value=("v-%d" % i).encode(), partition=0)
                       for i in range(cc.DEFAULTS_RECORDS)]
            producer.flush(TIMEOUT_MS / 1000)
            for f in futures:
                f.get(timeout=1)
        finally:
            producer.close(10)
        return {"consumed": [[r.offset, r.value.decode()]
                             for r in self.read_all(bootstrap, {topic: 1})[topic]]}

    def run_producer_defaults(self, bootstrap, prefix):
        return self.produce_and_read(bootstrap, prefix)

    def run_producer_no_idempotence(self, bootstrap, prefix):
        return self.produce_and_read(bootstrap, prefix, enable_idempotence=False)


class KafkaPythonOnRunnel(KafkaPythonScenarios, cc.OnRunnel):
    pass


class KafkaPythonOnKafka(KafkaPythonScenarios, cc.OnKafka):
    pass


if __name__ == "__main__":
    unittest.main(verbosity=2)
