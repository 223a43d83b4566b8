#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The CDC example's one command (issue 13): examples/cdc-search/demo.py --check, what
examples/cdc-search/run starts after scripts/setup and the build, here with the broker under test
(RUNNEL_BIN). It starts PostgreSQL, Runnel, Connect with Debezium, the search consumer and the
Streams app, makes 300 changes, and exits 0 only when the search index and the totals equal the
database; it must also print where to look; the search it suggests must find the sample product. About
40 s."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness import runnel_bin

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
EXAMPLE = os.path.join(ROOT, "examples", "cdc-search")
sys.path.insert(0, EXAMPLE)
from pipeline import example_python  # noqa: E402

TIMEOUT = 400


class CdcExample(unittest.TestCase):

    def test_demo_check(self):
        work = tempfile.mkdtemp(prefix="runnel-cdc-example-")
        self.addCleanup(shutil.rmtree, work, ignore_errors=True)
        cmd = [example_python(), os.path.join(EXAMPLE, "demo.py"), "--check", "--changes", "300",
               "--rate", "100", "--broker-bin", runnel_bin(), "--workdir", work]
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=TIMEOUT, cwd=ROOT)
        out = r.stdout + r.stderr
        print(out)
        self.assertEqual(r.returncode, 0, out)
        self.assertIn("snapshot: the search index and the totals equal the database", out)
        self.assertIn("300 changes: the search index and the totals equal the database", out)
        self.assertIn("Where to look:", out)
        # The search it suggests finds the sample product in the index it left behind.
        query = re.search(r"search:\s+(.*)", out).group(1).split()
        self.assertEqual(query[-3:], ["--db", os.path.join(work, "search.db"), "kettle"], query)
        r = subprocess.run([example_python()] + query[1:], capture_output=True, text=True,
                           timeout=60, cwd=ROOT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Kettle", r.stdout)


if __name__ == "__main__":
    unittest.main()
