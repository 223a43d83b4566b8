#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""kafkajs 2.2.4 (pure JavaScript, its own codec) and storage (issue 4), via js/storage.js:
admin.createTopics (3 partitions; again: false, TOPIC_ALREADY_EXISTS counts as done),
producer.send of known counts per partition (uncompressed, then GZIP compressed by kafkajs),
admin.fetchTopicOffsets (ListOffsets v3 latest and earliest) and fetchTopicOffsetsByTimestamp.

Expected: send results name each partition with error 0 and base offsets that follow on from
the previous send; fetchTopicOffsets gives low 0 and high = messages sent per partition; by
timestamp, the first offset whose timestamp is >= the target (message i has t0 + i*1000), and
for a time after every message the high watermark (kafkajs turns the broker's -1 into it)."""

import json
import os
import shutil
import time
import unittest

from harness import HERE, BrokerTestCase, run

JS_DIR = os.path.join(HERE, "js")
TOPIC = "kafkajs-storage"


class KafkajsStorage(BrokerTestCase):

    def setUp(self):
        node = shutil.which("node")
        self.assertIsNotNone(node, "node is not installed: run scripts/setup")
        self.assertTrue(os.path.isfile(os.path.join(JS_DIR, "node_modules", "kafkajs", "package.json")),
                        "kafkajs is not installed in %s: run scripts/setup" % JS_DIR)
        self.node = node
        super().setUp()

    def test_create_produce_fetch_topic_offsets(self):
        t0 = int(time.time() * 1000) - 600000
        p = run([self.node, os.path.join(JS_DIR, "storage.js"), self.broker.bootstrap, TOPIC, str(t0)],
                timeout=60, cwd=JS_DIR)
        self.assertEqual(p.returncode, 0, "kafkajs storage.js failed:\nstdout:\n%s\nstderr:\n%s"
                         % (p.stdout, p.stderr))
        out = json.loads(p.stdout.strip().splitlines()[-1])
        plain_counts, gzip_counts = out["counts"]["plain"], out["counts"]["gzip"]

        self.assertIs(out["created"], True, "createTopics of a new topic: %s" % out["created"])
        self.assertIs(out["createdAgain"], False,
                      "createTopics of an existing topic must resolve to false: %s" % out["createdAgain"])
        parts = {p["partitionId"]: p for p in out["metadata"]["topics"][0]["partitions"]}
        self.assertEqual(sorted(parts), [0, 1, 2], "metadata: %s" % out["metadata"])
        for pid, pm in parts.items():
            self.assertEqual((pm["partitionErrorCode"], pm["leader"]), (0, 1), pm)

        def by_partition(results, what):
            got = {}
            for r in results:
                self.assertEqual(r["topicName"], TOPIC, r)
                self.assertEqual(r["errorCode"], 0, "%s: %s" % (what, r))
                got[r["partition"]] = int(r["baseOffset"])
            return got

        plain = by_partition(out["plain"], "uncompressed send")
        self.assertEqual(plain, {p: 0 for p, n in enumerate(plain_counts) if n},
                         "uncompressed send: base offsets per partition")
        gz = by_partition(out["gzip"], "GZIP send")
        self.assertEqual(gz, {p: plain_counts[p] for p, n in enumerate(gzip_counts) if n},
                         "GZIP send: base offsets per partition follow the uncompressed send")

        offsets = {o["partition"]: o for o in out["offsets"]}
        self.assertEqual(sorted(offsets), [0, 1, 2], "fetchTopicOffsets: %s" % out["offsets"])
        for p in range(3):
            high = plain_counts[p] + gzip_counts[p]
            o = offsets[p]
            self.assertEqual((int(o["low"]), int(o["high"]), int(o["offset"])), (0, high, high),
                             "fetchTopicOffsets partition %d: expected low 0, high %d, got %s"
                             % (p, high, o))

        # t0 + 2500: message 3 (t0 + 3000) of the first send in every partition.
        by_ts = {o["partition"]: int(o["offset"]) for o in out["byTimestamp"]}
        self.assertEqual(by_ts, {0: 3, 1: 3, 2: 3},
                         "fetchTopicOffsetsByTimestamp(t0 + 2500): %s" % out["byTimestamp"])
        after = {o["partition"]: int(o["offset"]) for o in out["afterLast"]}
        self.assertEqual(after, {p: plain_counts[p] + gzip_counts[p] for p in range(3)},
                         "fetchTopicOffsetsByTimestamp(after the last message): %s" % out["afterLast"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
