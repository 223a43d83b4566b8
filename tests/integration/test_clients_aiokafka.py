#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""aiokafka 0.14 from PyPI (asyncio, its own codec) against Runnel and Apache Kafka in the same
run (issue 10): AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient through every
scenario of clients_common.py. Runs with the venv's python (scripts/setup, meson.build).

aiokafka's producer is not idempotent by default (enable_idempotence=False). Its admin client
is smaller than the others, and these are left out or taken from elsewhere:
- ListOffsets: the admin client has none; the consumer's beginning_offsets, end_offsets and
  offsets_for_times are aiokafka's way (no MAX_TIMESTAMP).
- alter_configs sends the legacy AlterConfigs (no IncrementalAlterConfigs), which replaces a
  topic's whole set: keys it does not name return to their defaults.
- DeleteGroups: none.
- describe_consumer_groups returns the raw DescribeGroups answer; the member assignment is
  decoded with aiokafka's own ConsumerProtocolMemberAssignment."""

import asyncio
import time
import unittest

import clients_common as cc
from client_versions import require

require("aiokafka")

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.admin import (AIOKafkaAdminClient, NewPartitions, NewTopic,  # noqa: E402
                            RecordsToDelete)
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType  # noqa: E402
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment  # noqa: E402

TIMEOUT_MS = 20000
CLIENT_ID = "runnel-it-aiokafka"


class Admin:
    """`async with Admin(bootstrap) as admin:` an AIOKafkaAdminClient, started and closed."""

    def __init__(self, bootstrap):
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=CLIENT_ID,
                                         request_timeout_ms=TIMEOUT_MS)

    async def __aenter__(self):
        await self.admin.start()
        return self.admin

    async def __aexit__(self, *exc):
        await self.admin.close()


def check_errors(what, errors):
    """errors: [(name, error_code, ...)] from a raw response."""
    bad = [e for e in errors if e[1] != 0]
    if bad:
        raise AssertionError("%s: %s" % (what, bad))


class AiokafkaScenarios(cc.Scenarios):
    client = "aiokafka 0.14"
    prefix = "aio"
    unsupported = {"max_timestamp": "no MAX_TIMESTAMP in offsets_for_times",
                   "delete_groups": "AIOKafkaAdminClient has no delete_consumer_groups"}

    # Each run_* (what the checks call) runs its async scenario in an event loop of its own.
    def sync(self, coro):
        return asyncio.run(asyncio.wait_for(coro, 2 * cc.WAIT_S + 30))

    def run_codecs(self, bootstrap, prefix):
        return self.sync(self.arun_codecs(bootstrap, prefix))

    def run_group(self, bootstrap, prefix):
        return self.sync(self.arun_group(bootstrap, prefix))

    def run_rebalance(self, bootstrap, prefix):
        return self.sync(self.arun_rebalance(bootstrap, prefix))

    def run_admin(self, bootstrap, prefix):
        return self.sync(self.arun_admin(bootstrap, prefix))

    def run_admin_groups(self, bootstrap, prefix):
        return self.sync(self.arun_admin_groups(bootstrap, prefix))

    def run_delete_records(self, bootstrap, prefix):
        return self.sync(self.arun_delete_records(bootstrap, prefix))

    def run_producer_defaults(self, bootstrap, prefix):
        return self.sync(self.arun_producer_defaults(bootstrap, prefix))

    def run_producer_no_idempotence(self, bootstrap, prefix):
        return self.sync(self.arun_producer_no_idempotence(bootstrap, prefix))

    # -- helpers ---------------------------------------------------------------------------

    async def create_topics(self, bootstrap, topics, configs=None):
        async with Admin(bootstrap) as admin:
            resp = await admin.create_topics(
                [NewTopic(t, n, 1, topic_configs=dict(configs or {})) for t, n in topics.items()],
                timeout_ms=TIMEOUT_MS)
        check_errors("create_topics", resp.topic_errors)

    async def produce(self, bootstrap, records, **conf):
        """records: [(topic, partition, key, value, headers, timestamp_ms)]; returns offsets."""
        producer = AIOKafkaProducer(**dict({"bootstrap_servers": bootstrap,
                                            "client_id": CLIENT_ID, "linger_ms": 5,
                                            "request_timeout_ms": TIMEOUT_MS}, **conf))
        await producer.start()
        try:
            futures = [await producer.send(t, key=k.encode() if k is not None else None,
                                           value=v.encode(), headers=h, partition=p,
                                           timestamp_ms=ts)
                       for t, p, k, v, h, ts in records]
            return [(await f).offset for f in futures]
        finally:
            await producer.stop()

    async def read_all(self, bootstrap, topics):
        """{topic: [ConsumerRecord]} of every partition of {topic: partitions}, by assignment
        from the beginning to the end offsets."""
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id=CLIENT_ID,
                                    group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest", request_timeout_ms=TIMEOUT_MS)
        await consumer.start()
        try:
            tps = [TopicPartition(t, p) for t, n in topics.items() for p in range(n)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            got = {tp: [] for tp in tps}
            deadline = time.monotonic() + cc.WAIT_S

            async def done():
                for tp in tps:
                    pos = got[tp][-1].offset + 1 if got[tp] else await consumer.position(tp)
                    if pos < ends[tp]:
                        return False
                return True

            while not await done():
                if time.monotonic() > deadline:
                    raise AssertionError("end offsets %s not reached in %.0f s (read %s)"
                                         % (ends, cc.WAIT_S, {tp: len(v) for tp, v in got.items()}))
                for tp, recs in (await consumer.getmany(timeout_ms=200)).items():
                    got[tp] += recs
        finally:
            await consumer.stop()
        out = {t: [] for t in topics}
        for tp in tps:
            out[tp.topic] += got[tp]
        return out

    def group_consumer(self, bootstrap, group, topic, client_id=CLIENT_ID):
        return AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, client_id=client_id,
                                group_id=group, auto_offset_reset="earliest",
                                enable_auto_commit=False, request_timeout_ms=TIMEOUT_MS,
                                session_timeout_ms=cc.SESSION_TIMEOUT_MS,
                                heartbeat_interval_ms=cc.HEARTBEAT_INTERVAL_MS)

    async def consume_group(self, consumer, want):
        got = []
        deadline = time.monotonic() + cc.WAIT_S
        extra_until = None
        while extra_until is None or time.monotonic() < extra_until:
            if time.monotonic() > deadline:
                raise AssertionError("read %d of %d records in %.0f s"
                                     % (len(got), want, cc.WAIT_S))
            for tp, recs in (await consumer.getmany(timeout_ms=200)).items():
                got += [[tp.partition, r.offset, r.value.decode()] for r in recs]
            if len(got) >= want and extra_until is None:
                extra_until = time.monotonic() + 1.0
        return got

    async def wait_assigned(self, consumers, cond, what):
        """Polls every consumer (each must poll to follow a rebalance) until cond() holds."""
        deadline = time.monotonic() + cc.WAIT_S
        while not cond():
            if time.monotonic() > deadline:
                raise AssertionError("%s within %.0f s: %s" % (what, cc.WAIT_S,
                                     [sorted(tp.partition for tp in c.assignment())
                                      for c in consumers]))
            await asyncio.gather(*(c.getmany(timeout_ms=100) for c in consumers))

    # -- scenarios -------------------------------------------------------------------------

    async def arun_codecs(self, bootstrap, prefix):
        obs = {"produced": {}, "consumed": {}}
        topics = {"%s-%s" % (prefix, c): 1 for c in cc.CODECS}
        await self.create_topics(bootstrap, topics)
        for codec in cc.CODECS:
            recs = []
            for i in range(cc.CODEC_RECORDS):
                key, value, headers = cc.codec_record(codec, i)
                recs.append(("%s-%s" % (prefix, codec), 0, key, value,
                             [(k, v.encode()) for k, v in headers], None))
            obs["produced"][codec] = await self.produce(
                bootstrap, recs, compression_type=None if codec == "none" else codec)
        got = await self.read_all(bootstrap, topics)
        for codec in cc.CODECS:
            obs["consumed"][codec] = [
                [r.offset, r.key.decode(), r.value.decode(),
                 [[k, v.decode()] for k, v in r.headers]]
                for r in got["%s-%s" % (prefix, codec)]]
        return obs

    async def arun_group(self, bootstrap, prefix):
        obs = {}
        topic, group = prefix, prefix
        await self.create_topics(bootstrap, {topic: cc.GROUP_PARTITIONS})
        await self.produce(bootstrap, [(topic, i % cc.GROUP_PARTITIONS, None, cc.group_value(i),
                                        None, None) for i in range(cc.GROUP_FIRST)])
        consumer = self.group_consumer(bootstrap, group, topic)
        await consumer.start()
        try:
            obs["first"] = await self.consume_group(consumer, cc.GROUP_FIRST)
            await consumer.commit()
            obs["committed"] = {str(p): await consumer.committed(TopicPartition(topic, p))
                                for p in range(cc.GROUP_PARTITIONS)}
        finally:
            await consumer.stop()
        await self.produce(bootstrap, [
            (topic, i % cc.GROUP_PARTITIONS, None, cc.group_value(i), None, None)
            for i in range(cc.GROUP_FIRST, cc.GROUP_FIRST + cc.GROUP_SECOND)])
        consumer = self.group_consumer(bootstrap, group, topic)
        await consumer.start()
        try:
            obs["second"] = await self.consume_group(consumer, cc.GROUP_SECOND)
            await consumer.commit()
        finally:
            await consumer.stop()
        return obs

    async def arun_rebalance(self, bootstrap, prefix):
        obs = {}
        topic, group = prefix, prefix
        await self.create_topics(bootstrap, {topic: cc.REBALANCE_PARTITIONS})
        every = list(range(cc.REBALANCE_PARTITIONS))

        def owned(c):
            return sorted(tp.partition for tp in c.assignment())

        a = self.group_consumer(bootstrap, group, topic, "member-a")
        b = self.group_consumer(bootstrap, group, topic, "member-b")
        await a.start()
        b_running = False
        try:
            await self.wait_assigned([a], lambda: owned(a) == every,
                                     "A alone does not own every partition")
            obs["a_alone"] = owned(a)
            await b.start()
            b_running = True
            await self.wait_assigned([a, b], lambda: owned(a) and owned(b)
                                     and sorted(owned(a) + owned(b)) == every,
                                     "A and B do not share the partitions")
            obs["a_with_b"], obs["b_with_a"] = owned(a), owned(b)
            b_running = False
            await b.stop()
            await self.wait_assigned([a], lambda: owned(a) == every,
                                     "A does not own every partition after B left")
            obs["a_after_b_left"] = owned(a)
        finally:
            await a.stop()
            if b_running:
                await b.stop()
        return obs

    async def arun_admin(self, bootstrap, prefix):
        obs = {"base_ms": cc.offsets_base_ms()}
        topic = prefix
        await self.create_topics(bootstrap, {topic: cc.ADMIN_PARTITIONS}, cc.TOPIC_CONFIGS)
        async with Admin(bootstrap) as admin:
            async def describe():
                resps = await admin.describe_configs([ConfigResource(
                    ConfigResourceType.TOPIC, topic, configs={k: None for k in cc.TOPIC_CONFIGS})])
                out = {}
                for resp in resps:
                    for err, msg, _, _, entries in resp.resources:
                        if err:
                            raise AssertionError("describe_configs: error %d %s" % (err, msg))
                        out.update({e[0]: e[1] for e in entries})
                return out

            obs["configs_created"] = await cc.settle_async(describe, cc.created)
            resps = await admin.alter_configs([ConfigResource(
                ConfigResourceType.TOPIC, topic,
                configs={"retention.ms": cc.ALTERED_RETENTION_MS})])
            for resp in resps:
                check_errors("alter_configs", [(r[3], r[0], r[1]) for r in resp.resources])
            obs["alter_kind"] = "legacy"
            obs["configs_altered"] = await cc.settle_async(describe, cc.altered)

            resp = await admin.create_partitions({topic: NewPartitions(cc.ADMIN_PARTITIONS_AFTER)},
                                                 timeout_ms=TIMEOUT_MS)
            check_errors("create_partitions", resp.topic_errors)
            async def partitions():
                return len((await admin.describe_topics([topic]))[0]["partitions"])

            obs["partitions_after"] = await cc.settle_async(
                partitions, lambda n: n == cc.ADMIN_PARTITIONS_AFTER)

        ts = cc.offsets_timestamps(obs["base_ms"])
        await self.produce(bootstrap, [(topic, 0, None, "t-%d" % i, None, ts[i])
                                       for i in range(cc.OFFSET_RECORDS)])
        tp = TopicPartition(topic, 0)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id=CLIENT_ID,
                                    request_timeout_ms=TIMEOUT_MS)
        await consumer.start()
        try:
            obs["offsets"] = offsets = {}
            offsets["earliest"] = (await consumer.beginning_offsets([tp]))[tp]
            offsets["latest"] = (await consumer.end_offsets([tp]))[tp]
            found = await consumer.offsets_for_times({tp: obs["base_ms"] + 3500})
            offsets["by_timestamp"] = found[tp].offset if found[tp] else None

            async with Admin(bootstrap) as admin:
                res = await admin.delete_records({tp: RecordsToDelete(cc.DELETE_BEFORE)},
                                                 timeout_ms=TIMEOUT_MS)
                obs["low_watermark"] = res[tp]
                obs["earliest_after_delete"] = (await consumer.beginning_offsets([tp]))[tp]
                cluster = await admin.describe_cluster()
        finally:
            await consumer.stop()
        obs["cluster"] = {"brokers": [b["node_id"] for b in cluster["brokers"]],
                          "controller": cluster["controller_id"],
                          "cluster_id": cluster["cluster_id"]}
        return obs

    async def arun_admin_groups(self, bootstrap, prefix):
        topic, group = prefix, prefix
        obs = {"group": group}
        await self.create_topics(bootstrap, {topic: cc.GROUP_PARTITIONS})
        async with Admin(bootstrap) as admin:
            async def listed():
                return sorted(g[0] for g in await admin.list_consumer_groups())

            async def describe():
                resps = await admin.describe_consumer_groups([group])
                groups = [g for resp in resps for g in resp.groups]
                if len(groups) != 1 or groups[0][0] != 0:
                    raise AssertionError("describe_consumer_groups: %s" % resps)
                _, _, state, protocol_type, _, members = groups[0]
                out = []
                for m in members:
                    a = ConsumerProtocolMemberAssignment.decode(m[4])
                    assigned = [p for t, ps in a.assignment if t == topic for p in ps]
                    out.append({"client_id": m[1], "assigned": sorted(assigned)})
                return {"state": state, "protocol_type": protocol_type, "members": out}

            consumer = self.group_consumer(bootstrap, group, topic)
            await consumer.start()
            try:
                await self.wait_assigned([consumer],
                                         lambda: len(consumer.assignment()) == cc.GROUP_PARTITIONS,
                                         "no full assignment")
                await consumer.commit({TopicPartition(topic, p): 0
                                       for p in range(cc.GROUP_PARTITIONS)})
                obs["listed"] = await listed()
                obs["described_active"] = await describe()
            finally:
                await consumer.stop()
            obs["described_empty"] = await describe()
        return obs

    async def arun_delete_records(self, bootstrap, prefix):
        topic = prefix
        await self.create_topics(bootstrap, {topic: 1})
        await self.produce(bootstrap, [(topic, 0, None, "d-%d" % i, None, None)
                                       for i in range(cc.DELETE_RECORDS_N)])
        tp = TopicPartition(topic, 0)
        async with Admin(bootstrap) as admin:
            res = await admin.delete_records({tp: RecordsToDelete(cc.DELETE_RECORDS_BEFORE)},
                                             timeout_ms=TIMEOUT_MS)
        obs = {"low_watermark": res[tp]}
        obs["consumed"] = [[r.offset, r.value.decode()]
                           for r in (await self.read_all(bootstrap, {topic: 1}))[topic]]
        return obs

    async def produce_and_read(self, bootstrap, topic, **conf):
        """An AIOKafkaProducer built from `conf` alone (plus bootstrap_servers)."""
        await self.create_topics(bootstrap, {topic: 1})
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **conf)
        await producer.start()
        try:
            for i in range(cc.DEFAULTS_RECORDS):
                await producer.send_and_wait(topic, value=("v-%d" % i).encode(), partition=0)
        finally:
            await producer.stop()
        return {"consumed": [[r.offset, r.value.decode()]
                             for r in (await self.read_all(bootstrap, {topic: 1}))[topic]]}

    async def arun_producer_defaults(self, bootstrap, prefix):
        return await self.produce_and_read(bootstrap, prefix)

    async def arun_producer_no_idempotence(self, bootstrap, prefix):
        return await self.produce_and_read(bootstrap, prefix, enable_idempotence=False)


class AiokafkaOnRunnel(AiokafkaScenarios, cc.OnRunnel):
    pass


class AiokafkaOnKafka(AiokafkaScenarios, cc.OnKafka):
    pass


if __name__ == "__main__":
    unittest.main(verbosity=2)
