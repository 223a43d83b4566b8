#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""sarama 1.22 (Go, Debian's golang-github-shopify-sarama-dev) consumer groups at
Config.Version = V2_2_0_0: no ApiVersions; FindCoordinator v0, JoinGroup v1 (so no
MEMBER_ID_REQUIRED: rule 5 of ../../shared/CLIENTS.md), SyncGroup/Heartbeat/LeaveGroup v0,
OffsetFetch v1, OffsetCommit v1 (with member id and generation), Fetch v4; range assignor.

go/consumer_group/main.go is built by the test in GOPATH mode (GO111MODULE=off,
GOPATH=/usr/share/gocode, GOPROXY=off: offline) into a temporary directory. A first run of
the group consumes the 300 messages of a 3-partition topic (OffsetOldest) and commits them; the
group's committed offsets are then the end of every partition (read with confluent-kafka's
committed(), an independent OffsetFetch). After 200 more messages, a second run of the same
group resumes from the committed offsets: it gets exactly the 200 new messages, none of the
first 300."""

import collections
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from groups_common import GROUP_OVERRIDES, committed_offsets, create_topic, end_offsets
from harness import HERE, BrokerTestCase

TOPIC = "sarama-group"
GROUP = "it-group-sarama"
PARTITIONS = 3
SARAMA_SRC = "/usr/share/gocode/src/github.com/Shopify/sarama"
PROGRAM_DIR = os.path.join(HERE, "go", "consumer_group")


class SaramaConsumerGroup(BrokerTestCase):
    overrides = GROUP_OVERRIDES

    @classmethod
    def setUpClass(cls):
        go = shutil.which("go")
        if go is None or not os.path.isdir(SARAMA_SRC):
            raise AssertionError("go or sarama is missing (expected `go` on PATH and %s): run "
                                 "scripts/setup (golang-go, golang-github-shopify-sarama-dev)"
                                 % SARAMA_SRC)
        cls.tmp = tempfile.mkdtemp(prefix="runnel-it-sarama-")
        cls.binary = os.path.join(cls.tmp, "consumer_group")
        env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOPROXY="off",
                   GOFLAGS="", GOCACHE=os.path.join(cls.tmp, "gocache"), GOTOOLCHAIN="local")
        p = subprocess.run([go, "build", "-o", cls.binary, "."], cwd=PROGRAM_DIR, env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=300)
        if p.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise AssertionError("go build of %s failed (status %d):\n%s%s"
                                 % (PROGRAM_DIR, p.returncode, p.stdout, p.stderr))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def produce(self, start, n):
        """Messages "s-<i>" for i in [start, start + n), message i to partition i % 3."""
        from confluent_kafka import Producer
        errors = []
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all"})
        for i in range(start, start + n):
            p.produce(TOPIC, value=("s-%d" % i).encode(), partition=i % PARTITIONS,
                      on_delivery=lambda err, msg: err and errors.append(str(err)))
        self.assertEqual(p.flush(20), 0, "producer: messages not delivered within 20 s")
        self.assertEqual(errors, [], "producer delivery errors")

    def run_group(self, want, what):
        cmd = [self.binary, "-brokers", self.broker.bootstrap, "-group", GROUP, "-topic", TOPIC,
               "-want", str(want), "-idle-ms", "1500", "-timeout-ms", "30000"]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, errors="replace", timeout=60)
        events = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        kinds = [e["ev"] for e in events]
        errors = collections.Counter(e["error"] for e in events if e["ev"] == "error")
        diag = ("%s: exit status %d; events other than messages: %s; errors (count): %s\n"
                "sarama log (tail):\n%s"
                % (what, p.returncode,
                   [e for e in events if e["ev"] not in ("msg", "error")][:20], dict(errors),
                   "\n".join(p.stderr.splitlines()[-40:])))
        self.assertEqual(p.returncode, 0, diag)
        if "timeout" in kinds:
            self.fail("%s: expected %d messages within 30 s, got %d\n%s"
                      % (what, want, kinds.count("msg"), diag))
        self.assertIn("closed", kinds, diag)
        assigns = [e for e in events if e["ev"] == "assign"]
        self.assertTrue(assigns, "%s: Setup() never ran (no assignment)\n%s" % (what, diag))
        self.assertEqual(assigns[-1]["parts"], list(range(PARTITIONS)),
                         "%s: the only member must be assigned every partition\n%s" % (what, diag))
        msgs = [(e["p"], e["o"], e["v"]) for e in events if e["ev"] == "msg"]
        return msgs, diag

    def test_consume_commit_and_resume(self):
        create_topic(self.broker.bootstrap, TOPIC, PARTITIONS)
        self.produce(0, 300)

        first, diag = self.run_group(300, "first run")
        values = sorted(v for _, _, v in first)
        self.assertEqual(len(first), 300, "first run: expected the 300 messages once each, got "
                         "%d\n%s" % (len(first), diag))
        self.assertEqual(values, sorted("s-%d" % i for i in range(300)),
                         "first run: expected messages s-0..s-299\n%s" % diag)
        for p, o, v in first:
            self.assertEqual(int(v[2:]) % PARTITIONS, p, "message %s in partition %d" % (v, p))

        ends = end_offsets(self.broker.bootstrap, TOPIC, PARTITIONS)
        self.assertEqual(ends, {0: 100, 1: 100, 2: 100})
        committed = committed_offsets(self.broker.bootstrap, GROUP, TOPIC, PARTITIONS)
        self.assertEqual(committed, ends,
                         "after the first run, the group's committed offsets (OffsetFetch) must "
                         "be the end of every partition: expected %s, actual %s" % (ends, committed))

        self.produce(300, 200)
        second, diag = self.run_group(200, "second run")
        got = sorted((p, o) for p, o, _ in second)
        new_per_partition = collections.Counter(i % PARTITIONS for i in range(300, 500))
        expected = sorted((p, o) for p in range(PARTITIONS)
                          for o in range(100, 100 + new_per_partition[p]))
        old = [m for m in second if m[1] < 100]
        self.assertEqual(old, [], "second run re-read %d messages committed by the first run "
                         "(expected to resume at offset 100 in every partition); first 10: %s\n%s"
                         % (len(old), old[:10], diag))
        self.assertEqual(got, expected, "second run: expected exactly the 200 new messages "
                         "(offsets 100.. per partition)\n%s" % diag)
        self.assertEqual(sorted(v for _, _, v in second),
                         sorted("s-%d" % i for i in range(300, 500)), diag)
        committed = committed_offsets(self.broker.bootstrap, GROUP, TOPIC, PARTITIONS)
        ends = end_offsets(self.broker.bootstrap, TOPIC, PARTITIONS)
        self.assertEqual(committed, ends, "after the second run: committed %s, end offsets %s"
                         % (committed, ends))


if __name__ == "__main__":
    unittest.main(verbosity=2)
