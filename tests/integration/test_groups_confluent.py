#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Consumer groups with confluent-kafka-python 1.7.0 (librdkafka 2.0.2: JoinGroup v5 with the
MEMBER_ID_REQUIRED round trip, SyncGroup v3, Heartbeat v3, LeaveGroup v1, OffsetCommit v7,
OffsetFetch v7; assignors range,roundrobin), each consumer in its own process (group_worker.py):

three consumers in one group on a 6-partition topic get disjoint shares covering every
partition; one closes (LeaveGroup) and the other two take over its partitions at once; a fourth
joins; one is SIGKILLed and its partitions move after its 6 s session timeout and not before;
with messages produced all along, every message is processed, duplicates only of what the
killed consumer processed after its last commit, and the group's committed offsets end at the
end of every partition. See groups_common.py for the steps."""

import unittest

from groups_common import GroupScenario, GroupTestCase, python_worker_cmd

TOPIC = "groups-confluent"
GROUP = "it-group-confluent"


class ConfluentGroup(GroupTestCase):

    def worker_cmd(self, name):
        return python_worker_cmd("confluent", self.broker.bootstrap, GROUP, TOPIC,
                                 "it-confluent-" + name)

    def test_three_consumers_leave_join_kill(self):
        GroupScenario(self, self.spawn, TOPIC, GROUP, "confluent-kafka").run()


if __name__ == "__main__":
    unittest.main(verbosity=2)
