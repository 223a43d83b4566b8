#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Committed offsets and group metadata across broker restarts; DescribeGroups, ListGroups and
DeleteGroups as the admin clients see them.

One confluent-kafka-python consumer (librdkafka 2.0.2) subscribes to a 3-partition topic in a
group and commits chosen offsets with commit(asynchronous=False); committed() returns them.
While it is a member:
- confluent AdminClient.list_groups() (ListGroups + DescribeGroups) and kafka-python
  KafkaAdminClient.describe_consumer_groups() (DescribeGroups) show the group Stable, protocol
  type `consumer`, protocol `range` (librdkafka's first choice), one member with its client id
  and an assignment of every partition; list_consumer_groups() (ListGroups) names the group;
- delete_consumer_groups() refuses it with NON_EMPTY_GROUP (68).
After close() (LeaveGroup) the group is Empty with no members. After a clean restart (SIGTERM)
committed() and kafka-python list_consumer_group_offsets() (OffsetFetch, all partitions) return
the same offsets, the group is listed and Empty, and a new member resumes at them. Offsets
committed just before a kill -9 survive it too. delete_consumer_groups() then removes the empty
group: it is no longer listed, described as Dead, has no committed offsets, and stays deleted
after another restart."""

import signal
import struct
import time
import unittest

from groups_common import GROUP_OVERRIDES, create_topic
from harness import BrokerTestCase

TOPIC = "restart-group"
GROUP = "it-group-restart"
PARTITIONS = 3
OFFSET_INVALID = -1001


def decode_assignment(b):
    """ConsumerProtocolAssignment (version, [topic [partition]], user_data) -> {topic: [p]}."""
    if not b:
        return {}
    pos = 2  # version
    (n,) = struct.unpack_from(">i", b, pos)
    pos += 4
    out = {}
    for _ in range(n):
        (tl,) = struct.unpack_from(">h", b, pos)
        pos += 2
        topic = b[pos:pos + tl].decode()
        pos += tl
        (pn,) = struct.unpack_from(">i", b, pos)
        pos += 4
        out[topic] = sorted(struct.unpack_from(">%di" % pn, b, pos))
        pos += 4 * pn
    return out


class GroupRestart(BrokerTestCase):
    overrides = GROUP_OVERRIDES

    def setUp(self):
        super().setUp()
        self.consumers = []
        self.admins = []

    def tearDown(self):
        for c in self.consumers:
            try:
                c.close()
            except Exception:
                pass
        for a in self.admins:
            try:
                a.close()
            except Exception:
                pass
        super().tearDown()

    # -- clients ---------------------------------------------------------------------------

    def consumer(self, client_id):
        from confluent_kafka import Consumer
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": GROUP,
                      "client.id": client_id, "enable.auto.commit": False,
                      "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                      "heartbeat.interval.ms": 500, "enable.partition.eof": False})
        self.consumers.append(c)
        return c

    def kp_admin(self):
        from kafka.admin import KafkaAdminClient
        a = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap,
                             client_id="it-restart-kafka-python-admin", request_timeout_ms=15000)
        self.admins.append(a)
        return a

    def committed(self):
        from confluent_kafka import TopicPartition
        c = self.consumer("it-restart-reader")
        try:
            res = c.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=15)
            return {tp.partition: tp.offset for tp in res}
        finally:
            c.close()
            self.consumers.remove(c)

    def confluent_group(self):
        """The group as confluent AdminClient.list_groups(GROUP) reports it, or None."""
        from confluent_kafka.admin import AdminClient
        groups = AdminClient({"bootstrap.servers": self.broker.bootstrap}).list_groups(
            GROUP, timeout=15)
        mine = [g for g in groups if g.id == GROUP]
        return mine[0] if mine else None

    def listed_groups(self):
        """Every group as confluent list_groups() (all) and kafka-python list_consumer_groups()
        report them: ({id: state}, {id: protocol_type})."""
        from confluent_kafka.admin import AdminClient
        groups = AdminClient({"bootstrap.servers": self.broker.bootstrap}).list_groups(timeout=15)
        return ({g.id: g.state for g in groups},
                dict(self.kp_admin().list_consumer_groups()))

    def describe(self):
        return self.kp_admin().describe_consumer_groups([GROUP])[0]

    def wait_subscribed(self, c, timeout=30):
        """Polls until c is assigned every partition; returns the messages polled meanwhile."""
        msgs = []
        errors = []
        deadline = time.monotonic() + timeout
        while len(c.assignment()) < PARTITIONS:
            m = c.poll(0.1)
            if m is not None:
                if m.error():
                    errors.append(str(m.error()))
                else:
                    msgs.append(m)
            if time.monotonic() > deadline:
                self.fail("the consumer was not assigned all %d partitions of %s within %d s "
                          "(assignment: %s); consumer errors (last 5): %s"
                          % (PARTITIONS, TOPIC, timeout, c.assignment(), errors[-5:]))
        return msgs

    def commit(self, c, offsets):
        from confluent_kafka import TopicPartition
        res = c.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in sorted(offsets.items())],
                       asynchronous=False)
        errs = {tp.partition: str(tp.error) for tp in res if tp.error is not None}
        self.assertEqual(errs, {}, "commit(%s) per-partition errors" % offsets)
        self.assertEqual({tp.partition: tp.offset for tp in res}, offsets)

    def wait_state(self, state, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            d = self.describe()
            if d.state == state:
                return d
            if time.monotonic() > deadline:
                self.fail("DescribeGroups %s: expected state %s within %d s, actual %s (%s)"
                          % (GROUP, state, timeout, d.state, d))
            time.sleep(0.1)

    # -- the test --------------------------------------------------------------------------

    def test_offsets_survive_restarts_describe_list_delete(self):
        from confluent_kafka import Producer
        from kafka.errors import NonEmptyGroupError

        bs = self.broker.bootstrap
        create_topic(bs, TOPIC, PARTITIONS)
        prod = Producer({"bootstrap.servers": bs, "acks": "all"})
        for p in range(PARTITIONS):
            for i in range(10):
                prod.produce(TOPIC, value=b"v-%d-%d" % (p, i), partition=p)
        self.assertEqual(prod.flush(20), 0)

        # A member commits chosen offsets.
        c1 = self.consumer("it-restart-c1")
        c1.subscribe([TOPIC])
        self.wait_subscribed(c1)
        first = {0: 3, 1: 5, 2: 7}
        self.commit(c1, first)
        from confluent_kafka import TopicPartition
        got = {tp.partition: tp.offset for tp in
               c1.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=15)}
        self.assertEqual(got, first, "committed() right after commit(): expected %s, actual %s"
                         % (first, got))

        # Described and listed while the member is active.
        g = self.confluent_group()
        self.assertIsNotNone(g, "confluent list_groups(%s) does not return the group" % GROUP)
        self.assertEqual((g.state, g.protocol_type, g.protocol), ("Stable", "consumer", "range"),
                         "confluent list_groups: (state, protocol type, protocol)")
        self.assertEqual(len(g.members), 1, "confluent list_groups: members %s" % g.members)
        m = g.members[0]
        self.assertEqual(m.client_id, "it-restart-c1", "member client id")
        self.assertTrue(m.id, "member id is empty")
        self.assertIn(m.client_host.lstrip("/"), ("127.0.0.1", "localhost"),
                      "member client host: %r" % m.client_host)
        self.assertEqual(decode_assignment(m.assignment), {TOPIC: list(range(PARTITIONS))},
                         "confluent list_groups: the member's assignment (decoded)")

        d = self.describe()
        self.assertEqual((d.error_code, d.group, d.state, d.protocol_type, d.protocol),
                         (0, GROUP, "Stable", "consumer", "range"),
                         "kafka-python describe_consumer_groups: %s" % (d,))
        self.assertEqual(len(d.members), 1, "kafka-python describe: members %s" % (d.members,))
        dm = d.members[0]
        self.assertEqual((dm.member_id, dm.client_id), (m.id, "it-restart-c1"), str(dm))
        self.assertEqual(list(dm.member_metadata.subscription), [TOPIC],
                         "member metadata (subscription): %s" % (dm.member_metadata,))
        self.assertEqual([(t, sorted(ps)) for t, ps in dm.member_assignment.assignment],
                         [(TOPIC, list(range(PARTITIONS)))],
                         "member assignment: %s" % (dm.member_assignment,))

        states, types = self.listed_groups()
        self.assertEqual(states.get(GROUP), "Stable", "confluent list_groups(): %s" % states)
        self.assertEqual(types.get(GROUP), "consumer",
                         "kafka-python list_consumer_groups(): %s" % types)

        res = self.kp_admin().delete_consumer_groups([GROUP])
        self.assertEqual(len(res), 1, res)
        self.assertEqual(res[0][0], GROUP)
        self.assertIs(res[0][1], NonEmptyGroupError,
                      "DeleteGroups of a group with an active member: expected NON_EMPTY_GROUP "
                      "(68), actual %s" % (res[0][1],))
        self.assertEqual(self.describe().state, "Stable",
                         "the refused DeleteGroups must leave the group alone")

        # The member leaves: Empty, no members, offsets kept.
        c1.close()
        self.consumers.remove(c1)
        d = self.wait_state("Empty")
        self.assertEqual(list(d.members), [], "an Empty group has no members: %s" % (d,))
        self.assertEqual(self.committed(), first, "committed offsets after the member left")

        # Clean restart.
        self.broker.restart()
        self.assertEqual(self.committed(), first,
                         "committed() after a clean restart: expected the offsets committed "
                         "before it")
        offs = self.kp_admin().list_consumer_group_offsets(GROUP)
        self.assertEqual({tp.partition: om.offset for tp, om in offs.items() if tp.topic == TOPIC},
                         first, "kafka-python list_consumer_group_offsets (OffsetFetch of every "
                         "partition) after a clean restart: %s" % offs)
        states, types = self.listed_groups()
        self.assertEqual(states.get(GROUP), "Empty",
                         "after the restart the group must be listed, Empty: %s" % states)
        self.assertEqual(types.get(GROUP), "consumer", "kafka-python list_consumer_groups(): %s"
                         % types)
        self.assertEqual(self.describe().state, "Empty")

        # A new member resumes at the committed offsets, then commits the end and the broker
        # is killed.
        c2 = self.consumer("it-restart-c2")
        c2.subscribe([TOPIC])
        msgs = self.wait_subscribed(c2)
        firsts = {}
        deadline = time.monotonic() + 20
        while len(firsts) < PARTITIONS and time.monotonic() < deadline:
            m = c2.poll(0.1)
            if m is not None and not m.error():
                msgs.append(m)
            for m in msgs:
                firsts.setdefault(m.partition(), m.offset())
        self.assertEqual(firsts, first, "a member joining after the restart must start at the "
                         "committed offsets: first offset read per partition")
        second = {0: 10, 1: 9, 2: 8}
        self.commit(c2, second)
        self.broker.restart(sig=signal.SIGKILL)
        self.assertEqual(self.committed(), second,
                         "committed() after kill -9: expected the offsets committed (and "
                         "acknowledged) just before it")
        c2.close()
        self.consumers.remove(c2)
        d = self.wait_state("Empty", timeout=15)

        # DeleteGroups of the empty group.
        res = self.kp_admin().delete_consumer_groups([GROUP])
        self.assertEqual([(gid, err.errno) for gid, err in res], [(GROUP, 0)],
                         "DeleteGroups of an Empty group: expected no error, actual %s" % res)
        states, types = self.listed_groups()
        self.assertNotIn(GROUP, states, "a deleted group must not be listed (confluent)")
        self.assertNotIn(GROUP, types, "a deleted group must not be listed (kafka-python)")
        d = self.describe()
        self.assertEqual((d.state, list(d.members)), ("Dead", []),
                         "DescribeGroups of a deleted group (Kafka: Dead, no members): %s" % (d,))
        self.assertEqual(self.committed(), {p: OFFSET_INVALID for p in range(PARTITIONS)},
                         "a deleted group has no committed offsets")
        self.broker.restart()
        states, types = self.listed_groups()
        self.assertNotIn(GROUP, states, "the deleted group came back after a restart")
        self.assertEqual(self.committed(), {p: OFFSET_INVALID for p in range(PARTITIONS)},
                         "offsets of the deleted group came back after a restart")


if __name__ == "__main__":
    unittest.main(verbosity=2)
