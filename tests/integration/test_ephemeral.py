#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`runnel --ephemeral`, the broker as a test fixture (issue 15):

1. The first line on stdout is one JSON object with the Kafka bootstrap address, the control
   plane's URL, the pid and the data directory; a confluent-kafka producer and a group consumer
   use the bootstrap address (the group's first join is not delayed:
   group.initial.rebalance.delay.ms=0), and GET /healthz on the control plane answers 200.
2. Closing its stdin stops it (exit 0) and removes the data directory.
3. --override still applies after the mode's own keys (num.partitions=3 for auto-created topics).
4. A test runner that dies (SIGKILL) closes the pipe: the broker stops and removes its
   directory on its own.
A few seconds."""

import json
import os
import signal
import subprocess
import sys
import time
import unittest
import urllib.request

from confluent_kafka import Consumer, Producer

from harness import runnel_bin

TIMEOUT = 30


def start(*extra):
    """Starts `runnel --ephemeral`; returns (process, the announcement)."""
    proc = subprocess.Popen([runnel_bin(), "--ephemeral", *extra], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        proc.wait()
        raise AssertionError("no announcement line (exit %s)" % proc.poll())
    return proc, json.loads(line)


def wait_gone(path, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not os.path.exists(path)


class Ephemeral(unittest.TestCase):

    def test_announce_serve_and_stop_when_stdin_closes(self):
        proc, info = start()
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        self.assertEqual(sorted(info), ["bootstrap", "control", "data_dir", "pid"])
        self.assertEqual(info["pid"], proc.pid)
        self.assertRegex(info["bootstrap"], r"^127\.0\.0\.1:\d+$")
        self.assertRegex(info["control"], r"^http://127\.0\.0\.1:\d+$")
        self.assertTrue(os.path.isdir(info["data_dir"]))

        with urllib.request.urlopen(info["control"] + "/healthz", timeout=TIMEOUT) as r:
            self.assertEqual(r.status, 200)
            health = json.load(r)
        self.assertEqual(health["status"], "ok")
        self.assertEqual(health["bootstrap"], info["bootstrap"])

        p = Producer({"bootstrap.servers": info["bootstrap"]})
        for i in range(10):
            p.produce("fixture", value=b"v%d" % i)
        self.assertEqual(p.flush(TIMEOUT), 0)
        c = Consumer({"bootstrap.servers": info["bootstrap"], "group.id": "g",
                      "auto.offset.reset": "earliest"})
        c.subscribe(["fixture"])
        got = []
        t0 = time.monotonic()
        deadline = t0 + TIMEOUT
        while len(got) < 10 and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                got.append(m.value())
        first_records_s = time.monotonic() - t0
        c.close()
        self.assertEqual(got, [b"v%d" % i for i in range(10)])
        # Kafka's default initial delay (3 s) would hold the first join that long.
        self.assertLess(first_records_s, 2.5, "the group's first join was delayed")

        proc.stdin.close()
        self.assertEqual(proc.wait(TIMEOUT), 0)
        self.assertTrue(wait_gone(info["data_dir"]), "the data directory was left behind")

    def test_overrides_still_apply(self):
        proc, info = start("--override", "num.partitions=3")
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        p = Producer({"bootstrap.servers": info["bootstrap"]})
        p.produce("auto", value=b"x")
        self.assertEqual(p.flush(TIMEOUT), 0)
        md = p.list_topics("auto", timeout=TIMEOUT)
        self.assertEqual(len(md.topics["auto"].partitions), 3)
        proc.stdin.close()
        self.assertEqual(proc.wait(TIMEOUT), 0)
        self.assertTrue(wait_gone(info["data_dir"]))

    def test_a_runner_that_dies_leaves_nothing_behind(self):
        # A runner process that starts the broker with a pipe on its stdin, prints the
        # announcement, and is then killed: the pipe closes with it.
        runner = subprocess.Popen(
            [sys.executable, "-c",
             "import subprocess, sys\n"
             "p = subprocess.Popen([sys.argv[1], '--ephemeral'], stdin=subprocess.PIPE,\n"
             "                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)\n"
             "sys.stdout.write(p.stdout.readline().decode()); sys.stdout.flush()\n"
             "import time; time.sleep(600)\n", runnel_bin()],
            stdout=subprocess.PIPE)
        self.addCleanup(lambda: runner.poll() is None and (runner.kill(), runner.wait()))
        info = json.loads(runner.stdout.readline())
        self.addCleanup(lambda: os.path.exists("/proc/%d" % info["pid"])
                        and os.kill(info["pid"], signal.SIGKILL))
        runner.send_signal(signal.SIGKILL)
        runner.wait(TIMEOUT)
        self.assertTrue(wait_gone(info["data_dir"]), "the data directory was left behind")
        deadline = time.monotonic() + TIMEOUT
        while os.path.exists("/proc/%d/status" % info["pid"]) and time.monotonic() < deadline:
            with open("/proc/%d/status" % info["pid"]) as f:
                if "State:\tZ" in f.read():  # exited; its parent is gone, init reaps it
                    break
            time.sleep(0.05)
        alive = os.path.exists("/proc/%d/status" % info["pid"]) and "State:\tZ" not in open(
            "/proc/%d/status" % info["pid"]).read()
        self.assertFalse(alive, "the broker outlived its runner")


if __name__ == "__main__":
    unittest.main()
