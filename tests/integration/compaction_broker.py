# SPDX-License-Identifier: Apache-2.0
"""The broker of test_compaction_kill9, test_offsets_compaction and test_streams_ktable (issue 12),
which stop, kill and restart it: Runnel or Apache Kafka 4.4 behind one small interface, the topic
settings that differ between them, a strace that kills the broker at its n-th rename, and a raw
DescribeLogDirs (the size of each partition's log, which is how a test sees the cleaner work).
(compaction_common.py serves test_compaction and test_compaction_txn, one broker per module.)

RUNNEL_TEST_BROKER=runnel (the default) runs $RUNNEL_BIN through harness.Broker;
RUNNEL_TEST_BROKER=kafka runs Kafka 4.4 through kafka_oracle.KafkaBroker, against which every
compaction test must pass as written: that is what shows the test asks only what Kafka does.

One difference is unavoidable: Kafka 4.x refuses a topic `segment.bytes` below 1 MiB (KIP-1030)
and offers `internal.segment.bytes` to tests instead; Runnel takes `segment.bytes` down to 14
bytes, as Kafka 3 did. SEGMENT_BYTES_KEY is the key to use for small segments."""

import os
import signal
import struct
import subprocess
import time

from harness import Broker, KafkaSocket
from kafka_wire import string

BROKER_KIND = os.environ.get("RUNNEL_TEST_BROKER", "runnel")
if BROKER_KIND not in ("runnel", "kafka", "kafka-tv1"):
    raise SystemExit("RUNNEL_TEST_BROKER=%s: expected runnel, kafka or kafka-tv1" % BROKER_KIND)
IS_KAFKA = BROKER_KIND != "runnel"
if IS_KAFKA:
    from kafka_oracle import KafkaBroker

SEGMENT_BYTES_KEY = "internal.segment.bytes" if IS_KAFKA else "segment.bytes"
# What an offset index entry's offset is (segment_check.py): Runnel indexes a batch by its base
# offset, Kafka 4.4 by its last.
INDEX_RULE = "last" if IS_KAFKA else "base"
KAFKA_FEATURES = {"kafka": {}, "kafka-tv1": {"transaction.version": 1}}

DESCRIBE_LOG_DIRS = 35


class TestBroker:
    """The broker under test. start() the first time; then kill9(), stop_clean() and start()
    again on the same data directory and port; stop() at the end removes everything."""

    def __init__(self, overrides=()):
        self.overrides = list(overrides)
        if IS_KAFKA:
            self.impl = KafkaBroker(overrides=self.overrides, features=KAFKA_FEATURES[BROKER_KIND])
        else:
            self.impl = Broker(overrides=self.overrides)
        self.started_ns = None    # time.time_ns() just before the latest start
        self.started_mono = None  # time.monotonic() just before the latest start
        self.ready_seconds = None  # from the latest start to the broker answering

    @property
    def kind(self):
        return BROKER_KIND

    def start(self):
        self.started_ns = time.time_ns()
        self.started_mono = time.monotonic()
        if IS_KAFKA:
            if self.impl.tmpdir is None:
                self.impl.start()
            else:
                self.impl.restart()
        else:
            self.impl.start(port=self.impl.port or 0)
        self.ready_seconds = time.monotonic() - self.started_mono
        return self

    def set_override(self, key, value):
        """Sets a broker setting for the next start() (the broker must be stopped)."""
        if IS_KAFKA:
            self.impl.overrides[key] = str(value)
            self.impl._write_config()
        else:
            self.impl.overrides = [kv for kv in self.impl.overrides
                                   if kv.partition("=")[0] != key] + ["%s=%s" % (key, value)]

    def kill9(self):
        """SIGKILL to the broker's own pid, or only reaps it when it is already dead."""
        if IS_KAFKA and not self.impl.alive():
            self.impl._close_proc()     # killed already (RenameKiller): KafkaBroker would raise
            return
        self.impl.kill9()

    def alive(self):
        return self.impl.alive()

    def check_alive(self, when):
        """Raises AssertionError, with the end of the broker's own output, when the broker has
        exited by itself: a test waiting on a dead broker would only report a time-out."""
        if self.impl.proc is None or self.impl.alive():
            return
        code = self.impl.proc.poll()
        if not IS_KAFKA:
            self.impl._reader.join(5)   # its last words (a sanitizer's report) read to the end
        if IS_KAFKA:
            tail = self.impl.log_lines()[-20:]
        else:
            tail = [l for l in self.impl.lines() if " DEBUG " not in l][-20:]
        raise AssertionError("%s: the broker exited by itself (status %s); the end of its "
                             "output:\n%s" % (when, code, "\n".join(tail)))

    def stop_clean(self):
        """SIGTERM; waits for the exit (status 0 for Runnel); the data directory stays."""
        if IS_KAFKA:
            proc = self.impl.proc
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                self.impl._kill()
                raise AssertionError("Kafka did not exit within 60 s of SIGTERM")
            self.impl._close_proc()
        else:
            self.impl.stop(keep_data=True)

    def stop(self):
        self.impl.stop()

    @property
    def bootstrap(self):
        return self.impl.bootstrap

    @property
    def port(self):
        return self.impl.port

    @property
    def pid(self):
        return self.impl.pid

    @property
    def data_dir(self):
        return self.impl.data_dir

    def partition_dir(self, topic, partition):
        return os.path.join(self.impl.data_dir, "%s-%d" % (topic, partition))

    def run_lines(self):
        """Runnel's stderr lines of the current run ([] for Kafka, whose log is a file)."""
        return [] if IS_KAFKA else self.impl.run_lines()

    def dump_log(self):
        self.impl.dump_log()


class RenameKiller:
    """strace attached to a running broker (every thread, and threads to come), set to SIGKILL
    the broker when one of its threads enters its `nth` rename (rename, renameat, renameat2:
    strace counts per thread). The cleaner moves files with renames (.cleaned to .swap, .swap to
    the final name) and so do checkpoint writes, so this kills the broker at one exact step of
    its crash-safety protocol, something a kill from outside hits only by luck. strace is one of
    the packages scripts/setup installs. stop() ends strace, by its own pid."""

    SYSCALLS = "rename,renameat,renameat2"

    def __init__(self, pid, nth, out_path):
        self.out_path = out_path
        self.proc = subprocess.Popen(
            ["strace", "-f", "-p", str(pid), "-o", out_path, "-e", "trace=" + self.SYSCALLS,
             "-e", "inject=%s:signal=KILL:when=%d" % (self.SYSCALLS, nth)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, errors="replace")
        # strace says "Process N attached" (with its threads) on stderr once it holds them all.
        line = self.proc.stderr.readline()
        if "attached" not in line:
            self.stop()
            raise AssertionError("strace did not attach to pid %d: %r" % (pid, line))

    def last_rename(self):
        """The last rename strace saw (the one the kill interrupted, if it struck), or None."""
        try:
            with open(self.out_path, encoding="utf-8", errors="replace") as f:
                lines = [l.strip() for l in f if "rename" in l and '"' in l]
        except OSError:
            return None
        return lines[-1] if lines else None

    def stop(self):
        """SIGTERM (strace detaches from a broker still alive), SIGKILL if it lingers."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc.stderr.close()


def describe_log_dirs(port, topics=None):
    """DescribeLogDirs v1: {(topic, partition): size in bytes} over every log directory.
    `topics` is {topic: [partitions]} or None for every topic."""
    if topics is None:
        body = struct.pack(">i", -1)
    else:
        body = struct.pack(">i", len(topics))
        for name, parts in topics.items():
            body += string(name) + struct.pack(">i", len(parts))
            body += b"".join(struct.pack(">i", p) for p in parts)
    with KafkaSocket(port, timeout=20) as s:
        s.send_request(DESCRIBE_LOG_DIRS, 1, 7, body=body)
        corr, r = s.recv_response()
    if corr != 7:
        raise AssertionError("DescribeLogDirs: correlation id %d, sent 7" % corr)
    r.int32()  # throttle
    out = {}
    for _ in range(r.int32()):
        error = r.int16()
        log_dir = r.string()
        if error:
            raise AssertionError("DescribeLogDirs: error %d for %s" % (error, log_dir))
        for _ in range(r.int32()):
            name = r.string()
            for _ in range(r.int32()):
                partition, size, _lag, _future = r.int32(), r.int64(), r.int64(), r.int8()
                out[(name, partition)] = out.get((name, partition), 0) + size
    if r.remaining():
        raise AssertionError("%d bytes left after a DescribeLogDirs v1 response" % r.remaining())
    return out
