#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Consumer groups with kafkajs 2.2.4 (pure JavaScript, its own codec: JoinGroup v5 with the
MEMBER_ID_REQUIRED round trip, SyncGroup v3, Heartbeat v3, LeaveGroup v3, OffsetCommit v5,
OffsetFetch v4; its own RoundRobinAssigner), one node process per consumer
(js/group_consumer.js, committing after every batch):

three consumers in one group on a 6-partition topic get disjoint shares covering every
partition; one disconnects (LeaveGroup) and the other two take over its partitions at once; a
fourth joins; one is SIGKILLed and its partitions move after its 6 s session timeout and not
before; with messages produced all along, every message is processed, duplicates only of what
the killed consumer processed after its last commit, and the group's committed offsets end at
the end of every partition. See groups_common.py for the steps.

kafkajs cannot share a group with the other clients: its only protocol (assignor) name,
RoundRobinAssigner, is its own (../../shared/CLIENTS.md). A kafkajs consumer joining a group
held by a librdkafka consumer (range, roundrobin) is refused with INCONSISTENT_GROUP_PROTOCOL
(23), and the librdkafka member keeps its partitions without a rebalance."""

import os
import shutil
import time
import unittest

from groups_common import (JS_DIR, PARTITIONS, GroupScenario, GroupTestCase, create_topic,
                           js_worker_cmd, python_worker_cmd)

TOPIC = "groups-kafkajs"
GROUP = "it-group-kafkajs"


class KafkajsGroup(GroupTestCase):

    def setUp(self):
        self.node = shutil.which("node")
        self.assertIsNotNone(self.node, "node is not installed: run scripts/setup")
        self.assertTrue(os.path.isfile(os.path.join(JS_DIR, "node_modules", "kafkajs",
                                                    "package.json")),
                        "kafkajs is not installed in %s: run scripts/setup" % JS_DIR)
        super().setUp()

    def worker_cmd(self, name):
        return js_worker_cmd(self.node, self.broker.bootstrap, GROUP, TOPIC, "it-kafkajs-" + name)

    def spawn(self, name, cmd=None, cwd=None):
        return super().spawn(name, cmd, cwd=JS_DIR)

    def test_three_consumers_leave_join_kill(self):
        GroupScenario(self, self.spawn, TOPIC, GROUP, "kafkajs").run()

    def test_cannot_join_a_librdkafka_group(self):
        topic, group = "groups-mixed", "it-group-mixed"
        bs = self.broker.bootstrap
        create_topic(bs, topic)
        s = GroupScenario(self, self.spawn, topic, group, "librdkafka + kafkajs")
        s.workers["R"] = self.spawn("R", python_worker_cmd("confluent", bs, group, topic,
                                                           "it-mixed-librdkafka"))
        s.wait_balanced(["R"], [PARTITIONS], 30, "the librdkafka consumer alone")
        before = s.workers["R"].callback_events()
        j = self.spawn("J", js_worker_cmd(self.node, bs, group, topic, "it-mixed-kafkajs"))
        s.workers["J"] = j
        deadline = time.monotonic() + 20
        while True:
            with j.lock:
                refused = [e for e in j.errors if "incompatible" in e.get("error", "")]
            if refused or "INCONSISTENT_GROUP_PROTOCOL" in j.stderr_tail(200):
                break
            if j.count("assign") or time.monotonic() > deadline:
                s.fail("a kafkajs consumer (protocol RoundRobinAssigner) joining a group whose "
                       "member offers only range and roundrobin: expected JoinGroup to fail with "
                       "INCONSISTENT_GROUP_PROTOCOL (23) within 20 s; actual: %s\nkafkajs stderr:\n%s"
                       % (j.describe(), j.stderr_tail()))
            time.sleep(0.05)
        s.note("kafkajs refused: %s" % (refused[0]["error"] if refused else "see its log"))
        time.sleep(2.0)
        s.check_workers_alive(["R"])
        after = s.workers["R"].callback_events()
        if after != before or s.workers["R"].snapshot()[0] != set(range(PARTITIONS)):
            s.fail("the refused kafkajs join disturbed the librdkafka member: callbacks before %s, "
                   "after %s" % ([e for _, e in before], [e for _, e in after]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
