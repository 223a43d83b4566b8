#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A Kafka Streams KTable restored from its compacted changelog gives the same answers (issue
12: "A Kafka Streams app with a KTable, its local state wiped, restores it from its compacted
changelog and gives the same answers").

tests/integration/streams holds KTableCount (scripts/setup builds it into .cache/streams beside
WordCount): groupByKey().count() of an input topic into the RocksDB store `counts`, exactly-once
(exactly_once_v2), the record cache off so that each input record writes one changelog record.
The internal topics get small segments (16 KiB) and min.cleanable.dirty.ratio 0.01 through
StreamsConfig's `topic.` prefix, so the changelog Streams creates compacted rolls often and is
cleaned; the broker's cleaner looks for work every 100 ms.

1. KTableCount runs; an idempotent producer writes 200 keys x 100 records to the input topic (2
   partitions), over about 3 s, so that the changelog holds many transactions. The store is dumped (an interactive query, on the DUMP command) until every
   count is what the input says.
2. The changelog is read (read_committed) from the beginning until it holds fewer than a quarter
   of the 20,000 records written to it: the broker compacted it.
3. Streams is stopped (SIGTERM), its state directory deleted, and started again: it restores the
   store from the changelog (its restore listener prints how many records each partition took).
   The dump must give the same answers as before, and the restore must have read fewer records
   than the changelog was given, and at least one per key.
4. One more record per key: every count goes up by one (the restored store is the one in use).

The broker is Runnel, or Kafka 4.4 formatted with transaction.version=1 (the protocol Runnel
serves) with RUNNEL_TEST_BROKER=kafka-tv1 (or kafka), against which the test passes as written;
for Kafka the small segments are `internal.segment.bytes` (compaction_broker.py says why)."""

import os
import shutil
import sys
import tempfile
import time
import unittest
import uuid

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from compaction_broker import SEGMENT_BYTES_KEY, TestBroker
from test_streams_eos import StreamsProgram

MAIN_CLASS = "runnel.streams.KTableCount"
PARTITIONS = 2
KEYS = 200
UPDATES_PER_KEY = 100
SEGMENT_BYTES = 16384
# The input comes over about 3 s, so that Streams commits a dozen transactions or more and the
# changelog the cleaner works on holds their markers between the records.
PRODUCE_PAUSE = 0.03
BROKER_SETTINGS = ("auto.create.topics.enable=false", "group.initial.rebalance.delay.ms=0",
                   "log.cleaner.backoff.ms=100")
STREAMS_CONFIG = ("topic.%s=%d" % (SEGMENT_BYTES_KEY, SEGMENT_BYTES),
                  "topic.min.cleanable.dirty.ratio=0.01")

RUNNING_TIMEOUT = 60
ANSWER_TIMEOUT = 90      # from the last input record to every count right
CLEAN_TIMEOUT = 90       # for the changelog to be compacted
READ_TIMEOUT = 60
LOG_LINES = 60


def key_of(k):
    return "k%03d" % k


class App(StreamsProgram):
    """One KTableCount JVM: stdout read by a thread, stdin for DUMP, stderr to a log file."""

    def __init__(self, bootstrap, app_id, input_topic, state_dir, log_path):
        super().__init__(MAIN_CLASS, [bootstrap, app_id, input_topic, state_dir] +
                         list(STREAMS_CONFIG), log_path, stdin=True)

    def log_excerpt(self):
        return super().log_excerpt(LOG_LINES)

    def problem(self):
        fatal = [l for l in self.run_lines() if l.startswith("FATAL")]
        if fatal:
            return "a stream thread died: " + fatal[0]
        if self.proc.poll() is not None:
            return "KTableCount exited by itself with status %s" % self.proc.returncode
        return None

    def dump(self, timeout=20):
        """{key: count}, or None when the store cannot be queried yet."""
        with self.cond:
            start = len(self.lines)
        self.proc.stdin.write("DUMP\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                mine = [l for run, l in self.lines[start:] if run == self.runs]
                if any(l.startswith(("DUMPED", "DUMP_FAILED")) for l in mine):
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("KTableCount did not answer DUMP within %d s" % timeout)
                self.cond.wait(left)
        if any(l.startswith("DUMP_FAILED") for l in mine):
            return None
        out = {}
        for l in mine:
            if l.startswith("ENTRY "):
                _, k, v = l.split(" ")
                out[k] = int(v)
            elif l.startswith("DUMPED"):
                break
        return out

    def restored(self):
        """{partition: records restored} from this run's RESTORED lines."""
        out = {}
        for l in self.run_lines():
            if l.startswith("RESTORED "):
                _, p, n = l.split(" ")
                out[int(p)] = int(n)
        return out


def read_changelog(bootstrap, topic):
    """(records, {partition: end offset}) of the changelog, read_committed from the start."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "changelog-" + uuid.uuid4().hex,
                  "isolation.level": "read_committed", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    records = 0
    eof = set()
    deadline = time.monotonic() + READ_TIMEOUT
    try:
        while len(eof) < PARTITIONS and time.monotonic() < deadline:
            for msg in c.consume(1000, 0.5):
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        eof.add(msg.partition())
                    continue
                eof.discard(msg.partition())
                records += 1
        if len(eof) < PARTITIONS:
            raise AssertionError("the changelog was not read to its end within %d s"
                                 % READ_TIMEOUT)
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(PARTITIONS)}
        return records, ends
    finally:
        c.close()


class StreamsKTableRestore(unittest.TestCase):

    def setUp(self):
        self.t0 = time.monotonic()
        self.tmpdir = tempfile.mkdtemp(prefix="runnel-ktable-")
        if not os.environ.get("RUNNEL_KEEP_TMP"):
            self.addCleanup(shutil.rmtree, self.tmpdir, ignore_errors=True)
        self.broker = TestBroker(BROKER_SETTINGS).start()
        self.addCleanup(self.broker.stop)
        suffix = uuid.uuid4().hex[:8]
        self.input = "ktable-in-" + suffix
        self.app_id = "ktable-" + suffix
        self.changelog = self.app_id + "-counts-changelog"
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        admin.create_topics([NewTopic(self.input, PARTITIONS, 1)],
                            request_timeout=20)[self.input].result(timeout=30)
        self.state_dir = os.path.join(self.tmpdir, "state")
        self.app = App(self.broker.bootstrap, self.app_id, self.input, self.state_dir,
                       os.path.join(self.tmpdir, "streams.log"))
        self.addCleanup(self.app.kill_if_running)
        self.events = []

    def note(self, what):
        line = "%6.1f s  %s" % (time.monotonic() - self.t0, what)
        self.events.append(line)
        print(line)
        sys.stdout.flush()

    def check_broker(self, when):
        try:
            self.broker.check_alive(when)
        except AssertionError as e:
            self.fail_with_logs(str(e))

    def fail_with_logs(self, why):
        print("---- what happened ----")
        print("\n".join(self.events))
        print("---- Kafka Streams (%s) ----" % self.app.log_path)
        print("\n".join(self.app.log_excerpt()))
        print("---- KTableCount stdout ----")
        print("\n".join("run %d: %s" % rl for rl in self.app.lines[-40:]
                        if not rl[1].startswith("ENTRY")))
        sys.stdout.flush()
        self.broker.dump_log()
        self.fail(why)

    def start_app(self):
        self.app.start()
        deadline = time.monotonic() + RUNNING_TIMEOUT
        while self.app.state() != "RUNNING":
            why = self.app.problem()
            if why:
                self.fail_with_logs(why)
            if time.monotonic() > deadline:
                self.fail_with_logs("Streams was not RUNNING %d s after start (state %s)"
                                    % (RUNNING_TIMEOUT, self.app.state()))
            time.sleep(0.2)
        self.note("KTableCount run %d RUNNING" % self.app.runs)

    def produce(self, rounds, pause=0.0):
        """`rounds` records per key, `pause` seconds between rounds."""
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "enable.idempotence": True,
                      "acks": "all", "linger.ms": 5})
        errors = []

        def on_delivery(err, msg):
            if err is not None:
                errors.append(str(err))

        for _ in range(rounds):
            for k in range(KEYS):
                p.produce(self.input, b"x", key_of(k).encode(), on_delivery=on_delivery)
            p.poll(0)
            time.sleep(pause)
        left = len(p)
        deadline = time.monotonic() + 60
        while left and time.monotonic() < deadline:
            left = p.flush(1)
            self.check_broker("producing the input")
        self.assertEqual(left, 0, "input records without a delivery report")
        self.assertEqual(errors, [], "input records not delivered")

    def wait_for_answers(self, expected, what):
        deadline = time.monotonic() + ANSWER_TIMEOUT
        last = None
        while True:
            why = self.app.problem()
            if why:
                self.fail_with_logs(why)
            last = self.app.dump()
            if last == expected:
                return last
            self.check_broker(what)
            if time.monotonic() > deadline:
                diff = sorted(k for k in set(expected) | set(last or {})
                              if (last or {}).get(k) != expected.get(k))
                self.fail_with_logs("%s: the store does not give the expected counts %d s on: "
                                    "%s (%d keys differ, e.g. %s)"
                                    % (what, ANSWER_TIMEOUT,
                                       "not queryable" if last is None else "%d keys" % len(last),
                                       len(diff), [(k, (last or {}).get(k), expected.get(k))
                                                   for k in diff[:5]]))
            time.sleep(0.5)

    def test_restore_from_compacted_changelog(self):
        self.start_app()
        self.produce(UPDATES_PER_KEY, PRODUCE_PAUSE)
        written = KEYS * UPDATES_PER_KEY
        expected = {key_of(k): UPDATES_PER_KEY for k in range(KEYS)}
        answers = self.wait_for_answers(expected, "first run")
        self.note("first run: every count is %d (%d keys)" % (UPDATES_PER_KEY, len(answers)))

        deadline = time.monotonic() + CLEAN_TIMEOUT
        while True:
            records, ends = read_changelog(self.broker.bootstrap, self.changelog)
            if records < written // 4:
                break
            self.check_broker("waiting for the changelog to be compacted")
            if time.monotonic() > deadline:
                self.fail_with_logs("the changelog still holds %d of the %d records written to "
                                    "it %d s on (end offsets %s): not compacted"
                                    % (records, written, CLEAN_TIMEOUT, ends))
            time.sleep(2)
        self.note("the changelog holds %d records of the %d written (end offsets %s)"
                  % (records, written, ends))

        code = self.app.stop()
        if code != 0:
            self.fail_with_logs("KTableCount did not close cleanly: status %s" % code)
        shutil.rmtree(self.state_dir)
        self.note("Streams stopped, its state directory deleted")
        self.start_app()
        again = self.wait_for_answers(answers, "after the restore")
        deadline = time.monotonic() + 30
        while len(self.app.restored()) < PARTITIONS and time.monotonic() < deadline:
            time.sleep(0.2)
        restored = self.app.restored()
        self.note("after the restore: the same %d answers; restored per partition %s"
                  % (len(again), restored))
        self.assertEqual(sorted(restored), list(range(PARTITIONS)),
                         "restore listener: partitions restored from the changelog")
        total = sum(restored.values())
        self.assertLess(total, written, "the restore read %d records, as many as were written "
                        "to the changelog (%d): nothing was compacted away" % (total, written))
        self.assertGreaterEqual(total, KEYS, "the restore read fewer records than there are keys")

        self.produce(1)
        expected = {key_of(k): UPDATES_PER_KEY + 1 for k in range(KEYS)}
        self.wait_for_answers(expected, "one more record per key after the restore")
        self.note("one more record per key: every count is %d" % (UPDATES_PER_KEY + 1))
        code = self.app.stop()
        if code != 0:
            self.fail_with_logs("KTableCount did not close cleanly: status %s" % code)


if __name__ == "__main__":
    unittest.main(verbosity=2)
