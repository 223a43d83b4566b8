#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The command line: runnel [-c|--config FILE] [--override KEY=VALUE]... [--version] [--help].

Invalid values get a one-line error naming the key and the value, exit status 2, and nothing is
started. Unknown keys get a warning naming the key and the broker starts anyway. SIGTERM and
SIGINT stop the broker with exit status 0, also with a client connected."""

import os
import re
import shutil
import signal
import tempfile
import unittest

from harness import (API_VERSIONS, Broker, KafkaSocket, LISTENING_RE, parse_api_versions_v0_body,
                     run, runnel_bin)

CONF = os.environ.get("RUNNEL_CONF", "")


class Cli(unittest.TestCase):

    def test_version(self):
        p = run([runnel_bin(), "--version"], timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout + p.stderr, r"\d+\.\d+\.\d+")

    def test_help(self):
        p = run([runnel_bin(), "--help"], timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout + p.stderr
        for word in ("--config", "--override", "--version", "--help"):
            self.assertIn(word, out)

    def assert_rejected(self, key, value, overrides):
        tmp = tempfile.mkdtemp(prefix="runnel-it-cli-")
        try:
            data = os.path.join(tmp, "data")
            cmd = [runnel_bin(), "--override", "log.dirs=" + data]
            for kv in overrides:
                cmd += ["--override", kv]
            p = run(cmd, timeout=10)
            self.assertEqual(p.returncode, 2, "%s=%s: expected exit status 2, got %d\nstderr:\n%s"
                             % (key, value, p.returncode, p.stderr))
            lines = [l for l in p.stderr.splitlines() if key in l and value in l]
            self.assertEqual(len(lines), 1, "%s=%s: expected one line naming the key and the value"
                             "\nstderr:\n%s" % (key, value, p.stderr))
            self.assertNotRegex(p.stderr, LISTENING_RE, "started despite an invalid value")
            self.assertFalse(os.path.exists(data), "created log.dirs despite an invalid value")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_port_out_of_range_exits_2(self):
        self.assert_rejected("listeners", "70000", ["listeners=PLAINTEXT://127.0.0.1:70000"])

    def test_listener_without_port_exits_2(self):
        self.assert_rejected("listeners", "PLAINTEXT://127.0.0.1",
                             ["listeners=PLAINTEXT://127.0.0.1"])

    def test_negative_size_exits_2(self):
        self.assert_rejected("socket.request.max.bytes", "-1",
                             ["listeners=PLAINTEXT://127.0.0.1:0", "socket.request.max.bytes=-1"])

    def test_unknown_key_warns_and_starts(self):
        broker = Broker(overrides=["runnel.it.no.such.key=1"]).start()
        try:
            line = broker.wait_for_line(r"runnel\.it\.no\.such\.key", 5)
            self.assertIsNotNone(line, "no warning names the unknown key")
            self.assertRegex(line, re.compile(r"\bWARN(ING)?\b", re.I), "not a warning: %s" % line)
        finally:
            broker.stop()

    def test_a_key_not_in_effect_yet_warns_and_starts(self):
        # log.preallocate is Kafka's and accepted, but nothing preallocates yet: the user is told.
        broker = Broker(overrides=["log.preallocate=true"]).start()
        try:
            line = broker.wait_for_line(r"log\.preallocate", 5)
            self.assertIsNotNone(line, "no warning names the key")
            self.assertRegex(line, re.compile(r"\bWARN(ING)?\b", re.I), "not a warning: %s" % line)
            self.assertIn("no effect", line)
        finally:
            broker.stop()

    @unittest.skipUnless(CONF, "RUNNEL_CONF is not set")
    def test_default_config_file_starts_without_warnings(self):
        # conf/runnel.properties, with its listener and data dir overridden: every key in it is
        # known, so the broker starts and warns about nothing.
        for flag in ("-c", "--config"):
            with self.subTest(flag=flag):
                broker = Broker(config_file=CONF, config_flag=flag).start()
                try:
                    warnings = [l for l in broker.lines() if re.search(r"\bWARN(ING)?\b", l, re.I)]
                    self.assertEqual(warnings, [], "warnings with the default config file")
                finally:
                    broker.stop()

    def test_sigint_stops_with_status_0(self):
        broker = Broker().start()
        broker.stop(signal.SIGINT)

    def test_sigterm_with_a_connected_client_stops_with_status_0(self):
        broker = Broker().start()
        try:
            with KafkaSocket(broker.port) as s:
                s.send_request(API_VERSIONS, 0, 1)
                corr, r = s.recv_response()
                self.assertEqual(corr, 1)
                self.assertEqual(parse_api_versions_v0_body(r)[0], 0)
                broker.stop(signal.SIGTERM)
                closed, _ = s.wait_closed(5)
                self.assertTrue(closed, "client connection still open after the broker stopped")
        finally:
            if broker.proc is not None:
                broker.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
