#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""kafkajs 2.2.4 (pure JavaScript, its own codec) admin client: connects (ApiVersions v2,
stepping down on error 35), describes the cluster and fetches topic metadata (Metadata v6).
The client runs as js/admin.js under node, with kafkajs from js/node_modules (scripts/setup)."""

import json
import os
import shutil
import unittest

from harness import HERE, BrokerTestCase, run

JS_DIR = os.path.join(HERE, "js")


class Kafkajs(BrokerTestCase):

    def setUp(self):
        node = shutil.which("node")
        self.assertIsNotNone(node, "node is not installed: run scripts/setup")
        self.assertTrue(os.path.isfile(os.path.join(JS_DIR, "node_modules", "kafkajs", "package.json")),
                        "kafkajs is not installed in %s: run scripts/setup" % JS_DIR)
        self.node = node
        super().setUp()

    def test_admin_describes_cluster_and_fetches_metadata(self):
        p = run([self.node, os.path.join(JS_DIR, "admin.js"), self.broker.bootstrap],
                timeout=60, cwd=JS_DIR)
        self.assertEqual(p.returncode, 0, "kafkajs admin failed:\nstdout:\n%s\nstderr:\n%s"
                         % (p.stdout, p.stderr))
        out = json.loads(p.stdout.strip().splitlines()[-1])
        cluster = out["cluster"]
        self.assertEqual(cluster["controller"], 1, cluster)
        self.assertEqual(cluster["brokers"],
                         [{"nodeId": 1, "host": "127.0.0.1", "port": self.broker.port}], cluster)
        self.assertTrue(cluster.get("clusterId"), "empty cluster id: %s" % cluster)
        self.assertEqual(out["metadata"], {"topics": []})
        self.assertEqual(out["topics"], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
