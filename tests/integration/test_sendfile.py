#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Zero-copy Fetch (issue 4, DESIGN.md): record bytes go from the segment file to the client
socket with sendfile(2), never through user space.

About 1 MB is produced to a 1-partition topic. Then strace attaches to the broker (all threads,
`-f -ff -yy -e trace=sendfile,write,writev,sendmsg,sendto,pwritev,pwritev2`), kcat consumes the
partition from the beginning, and strace detaches. In strace's output:
- the sendfile calls whose source is a .log segment of the topic and whose destination is a TCP
  connection to the broker's port moved at least the segment bytes that were fetched (all of
  them: the consumer reads from offset 0);
- the other write calls on those connections carried less than a tenth of that (response
  headers, metadata): the records did not also go through a buffer.

strace must work here (scripts/setup installs it; root or ptrace_scope 0). If it cannot attach
the test fails: it does not skip, because the proof is the point."""

import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import BrokerTestCase, run, segment_bytes

TOPIC = "sendfile"
MESSAGES = 1000
VALUE_SIZE = 1000

CALL_RE = re.compile(r"^(\w+)\((\d+)<(.*)\)\s+=\s+(-?\d+)")
TCP_RE = re.compile(r"^TCP:\[([\d.]+):(\d+)->([\d.]+):(\d+)\]>")
SENDFILE_RE = re.compile(r"^sendfile\((\d+)<TCP:\[([\d.]+):(\d+)->[\d.]+:(\d+)\]>,\s*(\d+)<([^>]*)>,"
                         r".*\)\s+=\s+(-?\d+)")


class Sendfile(BrokerTestCase):

    def setUp(self):
        self.strace = shutil.which("strace")
        self.assertIsNotNone(self.strace, "strace is not installed: run scripts/setup")
        super().setUp()

    def produce(self):
        from confluent_kafka import Producer
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        fs = admin.create_topics(
            [NewTopic(TOPIC, 1, 1)], request_timeout=15)
        fs[TOPIC].result(timeout=20)
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all", "linger.ms": 5})
        failed = []
        for i in range(MESSAGES):
            p.produce(TOPIC, key=b"k%d" % i, value=(b"%06d" % i) * (VALUE_SIZE // 6), partition=0,
                      on_delivery=lambda err, msg: err and failed.append(err))
            p.poll(0)
        self.assertEqual(p.flush(30), 0, "messages left after flush")
        self.assertEqual(failed, [], "delivery errors")

    def test_fetch_uses_sendfile_from_segment_to_socket(self):
        self.produce()
        files = segment_bytes(self.broker.data_dir, TOPIC, 0)
        log_bytes = sum(len(b) for b in files.values())
        self.assertGreater(log_bytes, MESSAGES * VALUE_SIZE * 0.9,
                           "segment files %s hold only %d bytes" % (list(files), log_bytes))

        out_dir = tempfile.mkdtemp(prefix="runnel-it-strace-")
        try:
            prefix = os.path.join(out_dir, "trace")
            st = subprocess.Popen([self.strace, "-f", "-ff", "-yy", "-s", "0",
                                   "-e", "trace=sendfile,write,writev,sendmsg,sendto,pwritev,pwritev2",
                                   "-o", prefix, "-p", str(self.broker.pid)],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
            try:
                attached = self.wait_attached(st)
                c = run(["kcat", "-C", "-b", self.broker.bootstrap, "-t", TOPIC, "-p", "0",
                         "-o", "beginning", "-e", "-q", "-f", "%o\n"], timeout=60)
                self.assertEqual(c.returncode, 0, "kcat -C failed:\n%s" % c.stderr)
                n = len(c.stdout.split())
                self.assertEqual(n, MESSAGES, "kcat read %d messages, %d were produced" % (n, MESSAGES))
            finally:
                if st.poll() is None:
                    st.send_signal(signal.SIGINT)  # detach
                try:
                    st.wait(15)
                except subprocess.TimeoutExpired:
                    st.kill()
                    st.wait(5)
            self.assertTrue(self.broker.alive(), "broker died under strace")

            sent_by_sendfile, other_bytes, calls, sources = self.parse(prefix)
            summary = ("strace (%s) saw %d sendfile calls moving %d bytes from %s to client "
                       "connections, and %d bytes written to them by other calls; the segment "
                       "holds %d bytes" % (attached, calls, sent_by_sendfile, sorted(sources),
                                           other_bytes, log_bytes))
            print(summary)
            self.assertGreaterEqual(sent_by_sendfile, log_bytes,
                                    "record bytes did not go out by sendfile: " + summary)
            self.assertLess(other_bytes, log_bytes / 10,
                            "record bytes also went out through write calls: " + summary)
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)

    def wait_attached(self, st):
        """Reads strace's stderr until it says it attached; fails loudly if it cannot."""
        deadline = time.monotonic() + 10
        os.set_blocking(st.stderr.fileno(), False)
        buf = b""
        while time.monotonic() < deadline:
            chunk = st.stderr.read()
            if chunk:
                buf += chunk
                m = re.search(rb"Process \d+ attached[^\n]*", buf)
                if m:
                    return m.group(0).decode()
            if st.poll() is not None:
                rest = st.stderr.read() or b""
                self.fail("strace could not attach to the broker (exit status %s); ptrace is "
                          "needed for the sendfile proof (root, or kernel.yama.ptrace_scope=0):\n%s"
                          % (st.returncode, (buf + rest).decode(errors="replace")))
            time.sleep(0.05)
        self.fail("strace did not attach within 10 s:\n%s" % buf.decode(errors="replace"))

    def parse(self, prefix):
        port = self.broker.port
        sent = other = calls = 0
        sources = set()
        topic_dir = os.path.join(self.broker.data_dir, "%s-0" % TOPIC)
        paths = glob.glob(prefix + ".*")
        self.assertTrue(paths, "strace wrote no output files")
        for path in paths:
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    m = SENDFILE_RE.match(line)
                    if m:
                        local_port, src, result = int(m.group(3)), m.group(6), int(m.group(7))
                        if (local_port == port and result > 0 and src.endswith(".log")
                                and os.path.dirname(src.replace(" (deleted)", "")) == topic_dir):
                            sent += result
                            calls += 1
                            sources.add(os.path.basename(src))
                        continue
                    m = CALL_RE.match(line)
                    if m and m.group(1) != "sendfile":
                        t = TCP_RE.match(m.group(3))
                        if t and int(t.group(2)) == port and int(m.group(4)) > 0:
                            other += int(m.group(4))
        return sent, other, calls, sources


if __name__ == "__main__":
    unittest.main(verbosity=2)
