#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""kcat 1.7.1 (librdkafka 2.0.2) as a balanced group consumer: `kcat -G GROUP TOPIC -e`
(JoinGroup v5, SyncGroup v3, Heartbeat, auto-commit and the final commit on close with
OffsetCommit v7, LeaveGroup, OffsetFetch v7 on the next start).

A 3-partition topic gets 30 messages (kcat -P, 10 a partition). A first `kcat -G` run (with
auto.offset.reset=earliest, as no offset is committed yet) prints all 30 and exits at the end of
every partition, committing on close; the group's committed offsets are then the end of every
partition (confluent-kafka committed(), an independent OffsetFetch). After 15 more messages, a
second run of the same group prints exactly the 15 new ones; a third run prints nothing."""

import shutil
import subprocess
import unittest

from groups_common import GROUP_OVERRIDES, committed_offsets, create_topic, end_offsets
from harness import BrokerTestCase, run

TOPIC = "kcat-group"
GROUP = "it-group-kcat"
PARTITIONS = 3


class KcatGroup(BrokerTestCase):
    overrides = GROUP_OVERRIDES

    def setUp(self):
        self.kcat = shutil.which("kcat")
        self.assertIsNotNone(self.kcat, "kcat is not installed: run scripts/setup")
        super().setUp()

    def produce(self, tag, per_partition):
        """Messages TAG-pP-I, I < per_partition, into every partition P, with kcat -P -p P."""
        for p in range(PARTITIONS):
            data = "".join("%s-p%d-%d\n" % (tag, p, i) for i in range(per_partition))
            r = subprocess.run([self.kcat, "-b", self.broker.bootstrap, "-P", "-t", TOPIC,
                                "-p", str(p)], input=data, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, "kcat -P -p %d failed: %s" % (p, r.stderr))

    def consume(self, what):
        r = run([self.kcat, "-b", self.broker.bootstrap, "-G", GROUP, "-e",
                 "-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=6000",
                 "-f", "%p %o %s\\n", TOPIC], timeout=60)
        diag = "%s: kcat exit status %d\nstdout:\n%s\nstderr:\n%s" % (what, r.returncode,
                                                                      r.stdout, r.stderr)
        self.assertEqual(r.returncode, 0, diag)
        got = []
        for line in r.stdout.splitlines():
            p, o, v = line.split(" ", 2)
            got.append((int(p), int(o), v))
        return sorted(got), diag

    def test_consume_commit_then_only_new_messages(self):
        create_topic(self.broker.bootstrap, TOPIC, PARTITIONS)
        self.produce("first", 10)

        got, diag = self.consume("first run")
        expected = sorted((p, i, "first-p%d-%d" % (p, i)) for p in range(PARTITIONS)
                          for i in range(10))
        self.assertEqual(got, expected, "first run: expected every message of the topic once\n"
                         + diag)

        ends = end_offsets(self.broker.bootstrap, TOPIC, PARTITIONS)
        self.assertEqual(ends, {0: 10, 1: 10, 2: 10})
        committed = committed_offsets(self.broker.bootstrap, GROUP, TOPIC, PARTITIONS)
        self.assertEqual(committed, ends, "after the first kcat -G run, the group's committed "
                         "offsets must be the end of every partition: expected %s, actual %s\n%s"
                         % (ends, committed, diag))

        self.produce("second", 5)
        got, diag = self.consume("second run")
        expected = sorted((p, 10 + i, "second-p%d-%d" % (p, i)) for p in range(PARTITIONS)
                          for i in range(5))
        old = [m for m in got if m[1] < 10]
        self.assertEqual(old, [], "second run re-read %d messages committed by the first run "
                         "(expected to start at the committed offset 10 of every partition)\n%s"
                         % (len(old), diag))
        self.assertEqual(got, expected, "second run: expected exactly the 15 new messages\n" + diag)

        got, diag = self.consume("third run")
        self.assertEqual(got, [], "third run, nothing new produced: expected no messages\n" + diag)
        committed = committed_offsets(self.broker.bootstrap, GROUP, TOPIC, PARTITIONS)
        self.assertEqual(committed, {0: 15, 1: 15, 2: 15},
                         "committed offsets after the last run (expected the end of every "
                         "partition)\n" + diag)


if __name__ == "__main__":
    unittest.main(verbosity=2)
