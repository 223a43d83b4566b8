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
the end of every partition. See groups_common.py for the steps. (kafkajs cannot share a group
with the other clients: its assignor's name is its own, ../../shared/CLIENTS.md.)"""

import os
import shutil
import unittest

from groups_common import JS_DIR, GroupScenario, GroupTestCase, js_worker_cmd

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
