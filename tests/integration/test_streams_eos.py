#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Kafka Streams 4.4 with processing.guarantee=exactly_once_v2 counts words exactly (issue 11),
also when the Streams process or the broker is killed with SIGKILL part way.

tests/integration/streams holds WordCount (scripts/setup builds it into .cache/streams with
kafka-streams from Maven Central): lines in, split into words, re-keyed by word (a repartition
topic), counted in a RocksDB store (a changelog topic), every new count out. Streams creates
both internal topics itself with replication factor -1; the test makes the input and output
topics, 3 partitions each, and the broker runs with auto.create.topics.enable=false.

Each test starts a fresh broker, then a producer thread (librdkafka, idempotent) writes 20,000
lines of known words into the input topic, paced over about ten seconds, while Streams runs.
A read_committed consumer follows the output topic all along and decides when to kill. At the
end Streams is closed with SIGTERM, and a fresh read_committed consumer reads the whole output
topic. With exactly-once, and with Streams' record cache off (one output record per input
word), the committed counts of each word in offset order must be exactly 1, 2, ..., N where N is
how often the input holds the word: a gap would be a lost update, a repeat or a count past N
a duplicate one, and both are what exactly_once_v2 rules out. (With at_least_once, a kill
before Streams commits gives counts past N: see RUNNEL_STREAMS_CONFIG below.) The input topic
is also read back: each line exactly once (the idempotent producer's part). A read_uncommitted
consumer reads the output too, for the log only: how much aborted transactions left in it.

    test_clean               no fault
    test_streams_sigkill     the Streams JVM killed with SIGKILL once committed counts reach a
                             quarter of the total while input is still coming, then started again
                             on the same state directory
    test_broker_sigkill      the broker killed with SIGKILL at a third, started again on the same
                             data directory and port after a second; Streams, the producer and the
                             consumer recover by themselves

The broker is Runnel ($RUNNEL_BIN, the default) or, with RUNNEL_TEST_BROKER=kafka, Apache Kafka
4.4 (kafka_oracle.py), against which every test here must pass as written; kafka-tv1 is Kafka
formatted with transaction.version=1, the transaction protocol Runnel serves (meson's
streams_eos_kafka runs that one). Logs (Streams', the broker's) are printed, in part, when a test
fails; RUNNEL_KEEP_TMP=1 keeps them whole. RUNNEL_STREAMS_CONFIG="KEY=VALUE ..." adds Streams
settings, for experiments.
"""

import collections
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from harness import HERE, Broker, _die_with_parent

BROKER_KIND = os.environ.get("RUNNEL_TEST_BROKER", "runnel")
# Kafka 4.4 enables transaction.version 2 (KIP-890 part 2) by default, and the 4.4 producer
# then uses it; kafka-tv1 formats the node with transaction.version=1, the protocol Runnel
# serves (issue 11), so that the oracle answers the same requests Runnel gets.
KAFKA_FEATURES = {"kafka": {}, "kafka-tv1": {"transaction.version": 1}}
if BROKER_KIND in KAFKA_FEATURES:
    from kafka_oracle import KafkaBroker
elif BROKER_KIND != "runnel":
    raise SystemExit("RUNNEL_TEST_BROKER=%s: expected runnel, kafka or kafka-tv1" % BROKER_KIND)

REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
STREAMS_OUT = os.path.join(REPO, ".cache", "streams")
MAIN_CLASS = "runnel.streams.WordCount"
# C1 only and the serial collector, as for the Java client suite: two cores are shared by the
# broker, Streams and the test.
JVM_OPTS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx384m",
            "-Djava.awt.headless=true"]

PARTITIONS = 3
LINES = 20000
VOCABULARY = 400
SEED = 11
PRODUCE_SECONDS = 10.0   # the producer's pace: input keeps coming while the faults happen
BROKER_SETTINGS = ("auto.create.topics.enable=false", "group.initial.rebalance.delay.ms=0")
# RUNNEL_STREAMS_CONFIG adds space-separated KEY=VALUE settings, for experiments: with
# processing.guarantee=at_least_once, test_streams_sigkill must fail (repeated counts), which
# shows that the checks here can see what exactly-once prevents.
STREAMS_CONFIG = ("commit.interval.ms=200",) + \
    tuple(os.environ.get("RUNNEL_STREAMS_CONFIG", "").split())

KILL_DELAY = 0.3         # seconds from reaching the kill's threshold to the kill
RUNNING_TIMEOUT = 60     # from starting the JVM to Streams' RUNNING
COMPLETE_TIMEOUT = 120   # from the last fault to every count complete
CLOSE_TIMEOUT = 45       # SIGTERM to the JVM's exit (its close() takes at most 30 s)
READ_TIMEOUT = 60        # reading a whole topic back
LOG_LINES = 80

STATE_RE = re.compile(r"^STATE (\S+)$")


def java_bin():
    """$RUNNEL_JAVA, else $JAVA_HOME/bin/java, else `java` on PATH."""
    path = os.environ.get("RUNNEL_JAVA")
    if not path and os.environ.get("JAVA_HOME"):
        path = os.path.join(os.environ["JAVA_HOME"], "bin", "java")
    path = path or shutil.which("java")
    if not path or not os.access(path, os.X_OK):
        raise AssertionError("no java to run Kafka Streams with (RUNNEL_JAVA, JAVA_HOME, PATH): "
                             "run ./scripts/setup")
    return path


def classpath():
    """WordCount and its jars, as scripts/setup built them; missing ones fail, never skip."""
    for part in ("classes", "lib"):
        if not os.path.isfile(os.path.join(STREAMS_OUT, part + ".complete")):
            raise AssertionError("%s/%s is not built: run ./scripts/setup" % (STREAMS_OUT, part))
    return os.path.join(STREAMS_OUT, "classes") + os.pathsep + os.path.join(STREAMS_OUT, "lib",
                                                                             "*")


def make_input():
    """LINES lines of 1 to 6 words from a vocabulary of VOCABULARY, with skewed frequencies (a
    few words in thousands of lines, many in a handful), always the same. Returns the lines and
    the expected count of each word."""
    rng = random.Random(SEED)
    words = ["w%03d" % i for i in range(VOCABULARY)]
    weights = [1.0 / (i + 1) for i in range(VOCABULARY)]
    lines = [" ".join(rng.choices(words, weights, k=rng.randint(1, 6))) for _ in range(LINES)]
    counts = collections.Counter(w for line in lines for w in line.split(" "))
    return lines, counts


def line_key(i):
    return b"line-%05d" % i


class TestBroker:
    """The broker under test, Runnel or Kafka, behind the three calls the tests need."""

    def __init__(self):
        if BROKER_KIND != "runnel":
            self.impl = KafkaBroker(overrides=BROKER_SETTINGS,
                                    features=KAFKA_FEATURES[BROKER_KIND])
        else:
            self.impl = Broker(overrides=BROKER_SETTINGS)

    def start(self):
        self.impl.start()
        return self

    @property
    def bootstrap(self):
        return self.impl.bootstrap

    @property
    def pid(self):
        return self.impl.pid

    def kill9_and_restart(self, down_seconds):
        """SIGKILL, `down_seconds` down, then the same data directory on the same port."""
        if BROKER_KIND != "runnel":
            self.impl.kill9()
            time.sleep(down_seconds)
            self.impl.restart()
        else:
            port = self.impl.port
            self.impl.kill9()
            time.sleep(down_seconds)
            self.impl.start(port=port)

    def stop(self):
        self.impl.stop()

    def dump_log(self):
        self.impl.dump_log()


class InputProducer(threading.Thread):
    """Writes the lines, keyed by line number, with an idempotent librdkafka producer, paced to
    take about PRODUCE_SECONDS; records any delivery error."""

    def __init__(self, bootstrap, topic, lines):
        super().__init__(name="input-producer", daemon=True)
        self.topic = topic
        self.lines = lines
        self.errors = []
        self.delivered = 0
        self.sent = 0
        self.done = threading.Event()
        self.halt = threading.Event()   # set by the test's cleanup: give up at once
        self.producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                                  "acks": "all", "linger.ms": 5,
                                  "message.timeout.ms": 120000})

    def on_delivery(self, err, msg):
        if err is not None:
            self.errors.append("line %s: %s" % (msg.key(), err))
        else:
            self.delivered += 1

    def run(self):
        try:
            chunk = 200
            pause = PRODUCE_SECONDS / (len(self.lines) / chunk)
            for start in range(0, len(self.lines), chunk):
                if self.halt.is_set():
                    return
                for i in range(start, min(start + chunk, len(self.lines))):
                    while True:
                        try:
                            self.producer.produce(self.topic, self.lines[i].encode(),
                                                  line_key(i), on_delivery=self.on_delivery)
                            break
                        except BufferError:
                            self.producer.poll(0.1)
                    self.sent += 1
                self.producer.poll(0)
                time.sleep(pause)
            deadline = time.monotonic() + 150
            left = len(self.producer)
            while left and not self.halt.is_set() and time.monotonic() < deadline:
                left = self.producer.flush(1)
            if left:
                self.errors.append("%d lines still undelivered after flush()" % left)
        except Exception as e:  # reported by the test, never lost in a thread
            self.errors.append("producer thread: %r" % e)
        finally:
            self.done.set()


class StreamsProgram:
    """One Streams JVM running `main_class` with `args`. Its stdout (one line per event it
    reports) is read by a thread and kept per run, with a condition to wait on; its stdin is a
    pipe when `stdin` (a program that takes commands), else closed; its stderr, Streams' log,
    goes to a file of the test's directory, appended to across restarts."""

    def __init__(self, main_class, args, log_path, stdin=False):
        self.name = main_class.rsplit(".", 1)[-1]
        self.cmd = [java_bin()] + JVM_OPTS + ["-cp", classpath(), main_class] + list(args)
        self.log_path = log_path
        self.stdin = stdin
        self.proc = None
        self.lines = []
        self.runs = 0
        self.cond = threading.Condition()

    def start(self):
        self.runs += 1
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write("==== %s run %d: %s ====\n" % (self.name, self.runs, " ".join(self.cmd)))
        self._log = open(self.log_path, "a", encoding="utf-8")
        self.proc = subprocess.Popen(self.cmd,
                                     stdin=subprocess.PIPE if self.stdin else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._log, text=True,
                                     errors="replace", preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._read, args=(self.proc, self.runs),
                                        name="streams-stdout", daemon=True)
        self._reader.start()

    def _read(self, proc, run):
        for line in proc.stdout:
            with self.cond:
                self.lines.append((run, line.rstrip("\n")))
                self.cond.notify_all()
        proc.stdout.close()

    def run_lines(self):
        with self.cond:
            return [line for run, line in self.lines if run == self.runs]

    def state(self):
        states = [m.group(1) for m in map(STATE_RE.match, self.run_lines()) if m]
        return states[-1] if states else None

    def fatal(self):
        return [line for line in self.run_lines() if line.startswith("FATAL")]

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        """SIGKILL to this JVM's own pid."""
        self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)
        self._log.close()

    def stop(self):
        """SIGTERM (Streams closes and commits), at most CLOSE_TIMEOUT s; returns the status."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(CLOSE_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            code = "killed after %d s" % CLOSE_TIMEOUT
        self._reader.join(5)
        if self.stdin:
            self.proc.stdin.close()
        self._log.close()
        return code

    def kill_if_running(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
            self._log.close()

    def log_excerpt(self, lines_each=None):
        """Streams' warnings and errors (first LOG_LINES), then the last LOG_LINES lines."""
        n = lines_each or LOG_LINES
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return ["(no log at %s)" % self.log_path]
        bad = [l for l in lines if " WARN " in l or " ERROR " in l or l.startswith("====")]
        return (["-- warnings and errors --"] + bad[:n] + ["-- last %d lines --" % n] +
                lines[-n:])


class StreamsApp(StreamsProgram):
    """The WordCount JVM."""

    def __init__(self, bootstrap, app_id, input_topic, output_topic, state_dir, log_path):
        super().__init__(MAIN_CLASS, [bootstrap, app_id, input_topic, output_topic, state_dir] +
                         list(STREAMS_CONFIG), log_path)


class OutputFollower:
    """A read_committed consumer of the output topic, from the start: per word, the counts in
    the order read."""

    def __init__(self, bootstrap, topic, group, isolation="read_committed"):
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                  "isolation.level": isolation,
                                  "auto.offset.reset": "earliest",
                                  "enable.auto.commit": False,
                                  "enable.partition.eof": True})
        self.consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        self.seen = collections.defaultdict(list)
        self.records = 0
        self.eof = set()
        self.errors = []

    def poll(self, seconds):
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            msg = self.consumer.poll(min(left, 0.2))
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    self.eof.add(msg.partition())
                elif not msg.error().retriable() and \
                        msg.error().code() != KafkaError._TRANSPORT:
                    self.errors.append(str(msg.error()))
                continue
            self.eof.discard(msg.partition())
            value = msg.value()
            if value is None or len(value) != 8:
                self.errors.append("partition %d offset %d: value %r is not a long"
                                   % (msg.partition(), msg.offset(), value))
                continue
            self.seen[msg.key().decode()].append(struct.unpack(">q", value)[0])
            self.records += 1

    def close(self):
        self.consumer.close()


def read_input(bootstrap, topic):
    """Every record of the input topic (read_committed), as {key: [values]}."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "verify-" + uuid.uuid4().hex,
                  "isolation.level": "read_committed", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    out = collections.defaultdict(list)
    eof = set()
    deadline = time.monotonic() + READ_TIMEOUT
    try:
        while len(eof) < PARTITIONS and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(msg.partition())
                continue
            eof.discard(msg.partition())
            out[msg.key()].append(msg.value().decode())
    finally:
        c.close()
    if len(eof) < PARTITIONS:
        raise AssertionError("the input topic was not read to its end within %d s (partitions "
                             "at their end: %s)" % (READ_TIMEOUT, sorted(eof)))
    return out


def end_offsets(bootstrap, topic):
    """{partition: high watermark}, for the report."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "hw-" + uuid.uuid4().hex})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(PARTITIONS)}
    finally:
        c.close()


def count_problems(seen, expected):
    """What breaks exactly-once in the committed counts `seen` ({word: [counts]}), given
    `expected` ({word: N}): each word's counts must be exactly 1..N. Returns a list of lines."""
    problems = []
    for word in sorted(set(seen) | set(expected)):
        got, want = seen.get(word, []), expected.get(word, 0)
        if got == list(range(1, want + 1)):
            continue
        if want == 0:
            problems.append("%s: not in the input, yet counted %s" % (word, got[:10]))
            continue
        steps = collections.Counter()
        prev = 0
        for v in got:
            steps["gap" if v > prev + 1 else "repeat" if v <= prev else "ok"] += 1
            prev = v
        first_bad = next((i for i, v in enumerate(got) if v != i + 1), len(got))
        problems.append("%s: %d updates, last %s, expected 1..%d; %d repeated or going back, "
                        "%d skipping; first difference at update %d: %s"
                        % (word, len(got), got[-1] if got else None, want, steps["repeat"],
                           steps["gap"], first_bad + 1, got[max(0, first_bad - 2):first_bad + 3]))
    return problems


class StreamsExactlyOnce(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.lines, cls.expected = make_input()
        cls.total_words = sum(cls.expected.values())

    def setUp(self):
        self.t0 = time.monotonic()
        self.tmpdir = tempfile.mkdtemp(prefix="runnel-streams-")
        if not os.environ.get("RUNNEL_KEEP_TMP"):
            self.addCleanup(shutil.rmtree, self.tmpdir, ignore_errors=True)
        self.broker = TestBroker().start()
        self.addCleanup(self.broker.stop)
        suffix = uuid.uuid4().hex[:8]
        self.input = "lines-" + suffix
        self.output = "counts-" + suffix
        self.app_id = "wordcount-" + suffix
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        futures = admin.create_topics([NewTopic(t, PARTITIONS, 1)
                                       for t in (self.input, self.output)], request_timeout=20)
        for f in futures.values():
            f.result(timeout=30)
        self.app = StreamsApp(self.broker.bootstrap, self.app_id, self.input, self.output,
                              os.path.join(self.tmpdir, "state"),
                              os.path.join(self.tmpdir, "streams.log"))
        self.addCleanup(self.app.kill_if_running)
        self.follower = OutputFollower(self.broker.bootstrap, self.output,
                                       "follower-" + suffix)
        self.addCleanup(self.follower.close)
        self.producer = InputProducer(self.broker.bootstrap, self.input, self.lines)
        self.addCleanup(self.producer.halt.set)
        self.events = []

    def note(self, what):
        line = "%6.1f s  %s" % (time.monotonic() - self.t0, what)
        self.events.append(line)
        print(line, file=sys.stderr)

    def fail_with_logs(self, why):
        print("---- what happened ----")
        print("\n".join(self.events))
        print("---- Kafka Streams (%s) ----" % self.app.log_path)
        print("\n".join(self.app.log_excerpt()))
        print("---- Streams stdout ----")
        print("\n".join("run %d: %s" % rl for rl in self.app.lines[-40:]))
        sys.stdout.flush()
        self.broker.dump_log()
        self.fail(why)

    def check_streams(self):
        fatal = self.app.fatal()
        if fatal:
            self.fail_with_logs("a Streams thread died: %s" % fatal[0])
        if not self.app.alive():
            self.fail_with_logs("the Streams JVM exited by itself with status %s"
                                % self.app.proc.returncode)

    def start_streams(self):
        self.app.start()
        deadline = time.monotonic() + RUNNING_TIMEOUT
        while self.app.state() != "RUNNING":
            self.check_streams()
            if time.monotonic() > deadline:
                self.fail_with_logs("Streams was not RUNNING %d s after start (state %s)"
                                    % (RUNNING_TIMEOUT, self.app.state()))
            self.follower.poll(0.2)
        self.note("Streams run %d RUNNING (follower has %d committed counts)"
                  % (self.app.runs, self.follower.records))

    def follow_until(self, records, timeout, what):
        """Polls the output until the follower has read `records` committed counts."""
        deadline = time.monotonic() + timeout
        while self.follower.records < records:
            self.check_streams()
            if time.monotonic() > deadline:
                self.fail_with_logs("%s: %d of %d committed counts after %d s"
                                    % (what, self.follower.records, records, timeout))
            self.follower.poll(0.5)

    def read_all(self, isolation):
        """The whole output topic, read by a fresh consumer to the end of every partition."""
        fresh = OutputFollower(self.broker.bootstrap, self.output, "verify-" + uuid.uuid4().hex,
                               isolation)
        try:
            deadline = time.monotonic() + READ_TIMEOUT
            while len(fresh.eof) < PARTITIONS and time.monotonic() < deadline:
                fresh.poll(0.5)
            if len(fresh.eof) < PARTITIONS:
                self.fail_with_logs("the output topic was not read to its end (%s) within %d s; "
                                    "partitions at their end: %s (a transaction left open?)"
                                    % (isolation, READ_TIMEOUT, sorted(fresh.eof)))
            self.assertEqual(fresh.errors, [])
        finally:
            fresh.close()
        return fresh

    def finish(self):
        """Waits for every count, closes Streams, reads everything back and checks it."""
        self.follow_until(self.total_words, COMPLETE_TIMEOUT, "waiting for every count")
        self.note("the follower has read %d committed counts" % self.follower.records)
        self.producer.join(5)
        self.assertEqual(self.producer.errors, [], "the input producer failed")
        code = self.app.stop()
        self.note("Streams closed with status %s" % code)
        if code != 0:
            self.fail_with_logs("WordCount did not close cleanly after SIGTERM: status %s" % code)
        # The follower read on across every fault; a fresh consumer reads it all again. A
        # read_uncommitted one also sees what aborted transactions wrote: only reported, since
        # a kill may land when no transaction has anything written.
        fresh = self.read_all("read_committed")
        everything = self.read_all("read_uncommitted")
        self.note("fresh reads: %d counts read_committed, %d read_uncommitted (%d aborted); "
                  "high watermarks %s" % (fresh.records, everything.records,
                                          everything.records - fresh.records,
                                          end_offsets(self.broker.bootstrap, self.output)))
        self.follower.poll(1.0)
        self.assertEqual(self.follower.errors, [])

        inputs = read_input(self.broker.bootstrap, self.input)
        wrong = ["%s: %s" % (line_key(i).decode(), inputs.get(line_key(i)))
                 for i, line in enumerate(self.lines) if inputs.get(line_key(i)) != [line]]
        self.assertEqual(len(inputs), len(self.lines), "lines in the input topic")
        self.assertEqual(wrong[:10], [], "input lines missing, changed or duplicated (%d)"
                         % len(wrong))

        for who, seen in (("a fresh read_committed consumer", fresh.seen),
                          ("the read_committed consumer that followed the run", self.follower.seen)):
            problems = count_problems(seen, self.expected)
            if problems:
                self.fail_with_logs("%d of %d words counted wrongly, as %s read them:\n  %s"
                                    % (len(problems), len(self.expected), who,
                                       "\n  ".join(problems[:20])))
        self.note("every count exact: %d words, %d updates, %d distinct words"
                  % (self.total_words, fresh.records, len(self.expected)))
        self.check_internal_topics()

    def check_internal_topics(self):
        """Streams made its repartition and changelog topics itself (replication factor -1),
        with the partitions of the input and the cleanup policies it asked for."""
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        topics = admin.list_topics(timeout=20).topics
        want = {self.app_id + "-words-repartition": "delete",
                self.app_id + "-counts-changelog": "compact"}
        for name, policy in want.items():
            self.assertIn(name, topics, "internal topics Streams should have created")
            self.assertEqual(len(topics[name].partitions), PARTITIONS, name)
            res = ConfigResource(ConfigResource.Type.TOPIC, name)
            configs = admin.describe_configs([res], request_timeout=20)[res].result(timeout=30)
            self.assertEqual(configs["cleanup.policy"].value, policy, name)

    def test_clean(self):
        self.start_streams()
        self.producer.start()
        self.finish()

    def reach_part_way(self, fraction):
        """Follows the output until `fraction` of the counts are committed, and checks that
        the work is not done: Streams is in the middle of it, with a transaction open."""
        self.follow_until(int(self.total_words * fraction), COMPLETE_TIMEOUT, "before the kill")
        # The follower sees counts right after a commit; a little later the next transaction
        # has more likely written something, which the kill then leaves to be aborted.
        self.follower.poll(KILL_DELAY)
        self.assertLess(self.follower.records, self.total_words,
                        "every count was committed before the kill: it would not be part way")
        return "after %d of %d committed counts, %d of %d lines sent" % (
            self.follower.records, self.total_words, self.producer.sent, len(self.lines))

    def test_streams_sigkill(self):
        self.start_streams()
        self.producer.start()
        where = self.reach_part_way(0.25)
        self.app.kill9()
        self.note("SIGKILL to Streams (its own pid) " + where)
        self.follower.poll(1.0)
        self.start_streams()
        self.finish()

    def test_broker_sigkill(self):
        self.start_streams()
        self.producer.start()
        where = self.reach_part_way(0.33)
        pid = self.broker.pid
        self.note("SIGKILL to the broker (pid %d) %s" % (pid, where))
        self.broker.kill9_and_restart(1.0)
        self.note("the broker restarted on the same data directory and port (pid %d)"
                  % self.broker.pid)
        self.finish()


if __name__ == "__main__":
    unittest.main(verbosity=2)
