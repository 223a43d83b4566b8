#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""No duplicates under retries (issue 11, acceptance): an idempotent producer whose connections
are cut in the middle of Produce requests many times leaves every partition with each of its
records exactly once, in the order it sent them.

One broker for the module, Runnel by default or Apache Kafka 4.4 with RUNNEL_TEST_BROKER=kafka
(kafka_oracle.py: the same test against the oracle shows that the test itself is right). The
broker advertises the address of a ChaosProxy (chaos_proxy.py), so that the clients, given the
broker's own address to bootstrap from, send every Produce request through the proxy, which cuts
a connection with a Produce request every CUT_GAP seconds, once CUT_PROGRESS Produce responses
have come through since the last cut: mostly after the broker answered and before the client
heard (the retry then carries records the broker already has), sometimes right after a
whole request or in the middle of one.

Four producers, each a child process that produces COUNT records with keys k0, k1, ... to a
topic of 3 partitions at RATE records a second (many small requests, so many cuts):
- librdkafka 2.0.2 through Debian's python3-confluent-kafka 1.7.0 (chaos_producer.py),
- librdkafka 2.16 through confluent-kafka 2.16 from PyPI, in the venv of scripts/setup,
- the Java producer 4.4 (java/chaos/ChaosProducer.java, compiled here against
  .cache/java-clients/lib), with its defaults,
- franz-go 1.22 (go-clients/chaos, built here offline), with its defaults.
librdkafka gets enable.idempotence=true (its default is false), acks=all and five requests in
flight, and a reconnect backoff of at most 200 ms (chaos_producer.py says why); the Java
producer and franz-go are idempotent by default and keep every default.

Each client runs twice, on topics of their own:
- test_idempotent: every record acknowledged, none failed; reading every partition back
  (confluent-kafka, by assignment, with the proxy disarmed) finds each record exactly once,
  records of one partition in increasing number (the order they were sent), the partitions'
  end offsets adding up to COUNT (no record written twice, not even one that a reader
  would drop), every batch in the partition's log files carrying a producer id, each
  producer epoch's sequence numbers without a break, and at least MIN_CUTS cuts made,
  MIN_RESPONSE_CUTS of them after the broker's answer.
- test_without_idempotence: the same with idempotence off and unlimited retries, and only cuts
  after the broker's answer, to show that the cuts do make duplicates when the broker does not
  deduplicate. Only librdkafka's duplicates are asserted (more than zero: they are tens to
  hundreds every time); the others' are printed. Every record must still be there at least
  once. These runs see fewer cuts: a client that retries a batch again and again backs off
  longer each time (librdkafka 2.16 up to retry.backoff.max.ms, 1 s).

The summary of each run (records, Produce requests, cuts by kind, duplicates, out-of-order
records, batches and producer ids on disk) is printed on stderr. RUNNEL_IT_SEED fixes the
proxy's choices (the seed is printed); RUNNEL_KEEP_TMP=1 keeps the producers' stderr."""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest

from confluent_kafka import Consumer, KafkaError, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic

from chaos_proxy import ChaosProxy
from harness import HERE, HOST, Broker, _die_with_parent

REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
CACHE = os.path.join(REPO, ".cache")
VENV_PYTHON = os.path.join(CACHE, "venv", "bin", "python3")
DEBIAN_PYTHON = "/usr/bin/python3"
JAVA_LIB = os.path.join(CACHE, "java-clients", "lib")
JAVA_SOURCE = os.path.join(HERE, "java", "chaos", "ChaosProducer.java")
GO_DIR = os.path.join(HERE, "go-clients")

PARTITIONS = 3
COUNT = 10000         # records per idempotent run
RATE = 1000           # records a second
COUNT_OFF = 4000      # records per run without idempotence
CUT_GAP = (0.08, 0.2)  # seconds from one cut to the next, drawn uniformly
CUT_PROGRESS = (1, 4)  # Produce responses relayed to clients from one cut to the next
MAX_CUTS = 80
# Per idempotent run. Runs usually see 25 to 60 cuts on either broker, but a client that backs
# off after a reconnect sends few requests on a loaded machine (librdkafka 2.16 once made 108
# Produce requests and 12 cuts, 4 after the answer): the bound asks for a real number of cuts
# without making the test depend on the machine's speed.
MIN_CUTS = 10
MIN_RESPONSE_CUTS = 3
MIN_CUTS_OFF = 3      # per run without idempotence (all after the answer), shorter
PRODUCER_TIMEOUT = 30  # seconds a producer may take, from its start to its last report
READ_TIMEOUT = 20
SEED = int(os.environ.get("RUNNEL_IT_SEED", str(int(time.time() * 1000) % 1000000)))

BROKER_KIND = os.environ.get("RUNNEL_TEST_BROKER", "runnel")

_proxy = None
_broker = None
_tmpdir = None
_java_classes = None
_go_binary = None


def direct_bootstrap():
    return "%s:%d" % (HOST, _broker.port)


# -- building the Java and Go producers ----------------------------------------------------

def build_java(tmpdir):
    """Compiles ChaosProducer.java against the jars scripts/setup copied; returns the class
    directory. Missing jars fail the module, never skip it."""
    if not os.path.isfile(os.path.join(CACHE, "java-clients", "lib.complete")):
        raise AssertionError("%s is not there: run ./scripts/setup" % JAVA_LIB)
    javac = shutil.which("javac")
    if javac is None:
        raise AssertionError("no javac on PATH: run ./scripts/setup")
    out = os.path.join(tmpdir, "java")
    p = subprocess.run([javac, "--release", "17", "-encoding", "UTF-8", "-Xlint:all", "-Werror",
                        "-cp", os.path.join(JAVA_LIB, "*"), "-d", out, JAVA_SOURCE],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("javac %s failed:\n%s%s" % (JAVA_SOURCE, p.stdout, p.stderr))
    return out


def build_go(tmpdir):
    """Builds go-clients/chaos offline, with the module cache and Go of test_clients_go.py."""
    import test_clients_go as tcg   # its go_env() and go_command(), not its tests
    if not os.path.isdir(os.path.join(CACHE, "go", "pkg", "mod")):
        raise AssertionError("the Go modules are not in %s: run ./scripts/setup" % CACHE)
    out = os.path.join(tmpdir, "chaos-franz")
    p = subprocess.run([tcg.go_command(), "build", "-o", out, "./chaos"], cwd=GO_DIR,
                       env=tcg.go_env(), stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=600)
    if p.returncode != 0:
        raise AssertionError("go build ./chaos in %s failed:\n%s%s" % (GO_DIR, p.stdout, p.stderr))
    return out


def java_command():
    java = os.environ.get("RUNNEL_JAVA") or shutil.which("java")
    if not java:
        raise AssertionError("no java on PATH: run ./scripts/setup")
    return [java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx256m",
            "-cp", _java_classes + os.pathsep + os.path.join(JAVA_LIB, "*"),
            "runnel.chaos.ChaosProducer"]


# -- the module's proxy and broker ---------------------------------------------------------

def setUpModule():
    global _proxy, _broker, _tmpdir, _java_classes, _go_binary
    _tmpdir = tempfile.mkdtemp(prefix="runnel-chaos-")
    if os.environ.get("RUNNEL_KEEP_TMP"):
        print("chaos: the producers' stderr stays in %s" % _tmpdir, file=sys.stderr)
    else:
        unittest.addModuleCleanup(shutil.rmtree, _tmpdir, ignore_errors=True)
    _java_classes = build_java(_tmpdir)
    _go_binary = build_go(_tmpdir)
    _proxy = ChaosProxy(seed=SEED, gap=CUT_GAP, progress=CUT_PROGRESS, max_cuts=MAX_CUTS).start()
    unittest.addModuleCleanup(_proxy.stop)
    overrides = ("auto.create.topics.enable=false",)
    if BROKER_KIND == "runnel":
        _broker = Broker(overrides=overrides + ("advertised.listeners=PLAINTEXT://%s"
                                                % _proxy.address,))
    elif BROKER_KIND == "kafka":
        from kafka_oracle import KafkaBroker
        _broker = KafkaBroker(overrides=overrides, advertised=_proxy.address)
    else:
        raise AssertionError("RUNNEL_TEST_BROKER=%s: runnel or kafka" % BROKER_KIND)
    # Kafka picks its port inside start(); the proxy asks for it at each connection.
    _proxy.upstream = lambda: (HOST, _broker.port) if _broker.port else None
    _broker.start()
    unittest.addModuleCleanup(_broker.stop)
    print("chaos: %s on %s, advertising the proxy at %s; seed %d"
          % (BROKER_KIND, direct_bootstrap(), _proxy.address, SEED), file=sys.stderr)


# -- one run -------------------------------------------------------------------------------

def create_topic(topic):
    admin = AdminClient({"bootstrap.servers": direct_bootstrap()})
    fs = admin.create_topics([NewTopic(topic, PARTITIONS, 1)], request_timeout=15)
    fs[topic].result(timeout=20)


def read_back(topic):
    """({partition: [record number, ...] in offset order}, {partition: end offset}), read by
    assignment from the beginning to the end of every partition."""
    c = Consumer({"bootstrap.servers": direct_bootstrap(), "group.id": "runnel-chaos-unused",
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "auto.offset.reset": "error", "check.crcs": True})
    got = {p: [] for p in range(PARTITIONS)}
    ends = {}
    try:
        for p in range(PARTITIONS):
            ends[p] = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        last = {p: -1 for p in range(PARTITIONS)}
        deadline = time.monotonic() + READ_TIMEOUT
        while any(last[p] + 1 < ends[p] for p in ends) and time.monotonic() < deadline:
            for msg in c.consume(1000, 0.5):
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise AssertionError("consumer error: %s" % msg.error())
                got[msg.partition()].append(int(msg.value()[:8]))
                last[msg.partition()] = msg.offset()
        short = {p: (last[p] + 1, ends[p]) for p in ends if last[p] + 1 < ends[p]}
        if short:
            raise AssertionError("%s: partitions not read to their end offset within %d s "
                                 "(partition: (read to, end)): %s" % (topic, READ_TIMEOUT, short))
        return got, ends
    finally:
        c.close()


def log_batches(topic, partition):
    """[(base offset, producer id, producer epoch, base sequence, record count)] of the record
    batches in one partition's .log segments, read from the broker's data directory (Kafka's
    layout, which Runnel shares: <log dir>/<topic>-<partition>/<base offset>.log). A v2 batch
    header is base_offset(8) batch_length(4) partition_leader_epoch(4) magic(1) crc(4)
    attributes(2) last_offset_delta(4) base_timestamp(8) max_timestamp(8) producer_id(8)
    producer_epoch(2) base_sequence(4) records_count(4). Only complete batches are read."""
    d = os.path.join(_broker.data_dir, "%s-%d" % (topic, partition))
    out = []
    for name in sorted(os.listdir(d)):
        if not name.endswith(".log"):
            continue
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()
        pos = 0
        while pos + 61 <= len(data):
            base_offset, length = struct.unpack_from(">qi", data, pos)
            if length <= 0 or pos + 12 + length > len(data):
                break
            pid, epoch, seq, n = struct.unpack_from(">qhii", data, pos + 43)
            out.append((base_offset, pid, epoch, seq, n))
            pos += 12 + length
    return out


def sequence_breaks(batches):
    """Places where a batch does not continue the sequence of the one before it from the same
    producer id and epoch: [(base offset, expected base sequence, base sequence)]."""
    last = {}
    out = []
    for base_offset, pid, epoch, seq, n in batches:
        want = last.get((pid, epoch))
        if want is not None and seq != want:
            out.append((base_offset, want, seq))
        last[(pid, epoch)] = seq + n
    return out


def analyse(got, count):
    """What the partitions hold against records 0..count-1 sent once each, in order."""
    seen = {}
    out_of_order = {}
    for p, numbers in got.items():
        for i in numbers:
            seen[i] = seen.get(i, 0) + 1
        # Records of one partition were sent in increasing number; each place where a number
        # is not above the one before it is a record out of order (a duplicate or a reordering).
        bad = [(k, numbers[k - 1], numbers[k]) for k in range(1, len(numbers))
               if numbers[k] <= numbers[k - 1]]
        if bad:
            out_of_order[p] = bad
    return {"records": sum(len(v) for v in got.values()),
            "per_partition": {p: len(v) for p, v in got.items()},
            "duplicates": sum(n - 1 for n in seen.values() if n > 1),
            "duplicated_records": sorted(i for i, n in seen.items() if n > 1),
            "missing": sorted(set(range(count)) - set(seen)),
            "unexpected": sorted(i for i in seen if not 0 <= i < count),
            "out_of_order": out_of_order}


class Run:
    """One producer run through the armed proxy and its read-back."""

    def __init__(self, case, client, command, idempotent, count, modes=None):
        self.client = client
        self.topic = "chaos-%s-%s" % (client, "idem" if idempotent else "noidem")
        self.count = count
        create_topic(self.topic)
        stderr_path = os.path.join(_tmpdir, self.topic + ".stderr")
        _proxy.reset_counts()
        _proxy.arm(modes=modes)
        t0 = time.monotonic()
        try:
            with open(stderr_path, "w+", encoding="utf-8", errors="replace") as err:
                try:
                    p = subprocess.run(command + [direct_bootstrap(), self.topic, str(count),
                                                  str(RATE), "on" if idempotent else "off",
                                                  str(PRODUCER_TIMEOUT)],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=err, text=True, timeout=PRODUCER_TIMEOUT + 15,
                                       preexec_fn=_die_with_parent)
                    out, status = p.stdout, p.returncode
                except subprocess.TimeoutExpired as e:
                    out, status = e.stdout or "", "killed after %d s" % (PRODUCER_TIMEOUT + 15)
                err.seek(0)
                self.stderr_tail = err.read().splitlines()[-60:]
        finally:
            _proxy.disarm()
        self.seconds = time.monotonic() - t0
        self.proxy = _proxy.stats()
        lines = [line for line in (out or "").splitlines() if line.startswith("{")]
        if status != 0 or not lines:
            case.fail("%s: the producer exited with status %s and printed %s; its stderr:\n%s"
                      % (self.topic, status, "nothing" if not lines else lines[-1],
                         "\n".join(self.stderr_tail)))
        self.producer = json.loads(lines[-1])
        self.got, self.ends = read_back(self.topic)
        self.result = analyse(self.got, count)
        print("chaos: %s on %s, %s: %d records at %d/s in %.1f s (%s), %d acked, %d failed, "
              "%d unacked; %d connections, %d Produce requests, cuts %s; read back %d records "
              "(per partition %s, end offsets %s): %d duplicates, %d missing, %d out of order"
              % (self.producer.get("client"), BROKER_KIND,
                 "idempotent" if idempotent else "idempotence off", count, RATE, self.seconds,
                 self.topic, self.producer["acked"], self.producer["failed"],
                 self.producer["unacked"], self.proxy["connections"],
                 self.proxy["produce_requests"], self.proxy["cuts"], self.result["records"],
                 self.result["per_partition"], self.ends, self.result["duplicates"],
                 len(self.result["missing"]),
                 sum(len(v) for v in self.result["out_of_order"].values())), file=sys.stderr)
        if self.producer["errors"]:
            print("chaos: first producer errors: %s" % self.producer["errors"], file=sys.stderr)

    def where(self, what):
        return "%s on %s (topic %s, seed %d): %s" % (self.producer.get("client"), BROKER_KIND,
                                                     self.topic, SEED, what)

    def show(self, items, n=20):
        items = list(items)
        return "%s%s" % (items[:n], " ... (%d in all)" % len(items) if len(items) > n else "")

    def check_cuts(self, case, minimum, minimum_response):
        case.assertGreater(self.proxy["produce_requests"], 0,
                           self.where("no Produce request went through the proxy: the broker "
                                      "does not advertise it"))
        case.assertGreaterEqual(self.proxy["total_cuts"], minimum,
                                self.where("too few cuts (%s in %d Produce requests)"
                                           % (self.proxy["cuts"], self.proxy["produce_requests"])))
        case.assertGreaterEqual(self.proxy["cuts"]["response"], minimum_response,
                                self.where("too few cuts after the broker's answer (%s)"
                                           % self.proxy["cuts"]))

    def tail(self):
        return "\nthe producer's stderr (last lines):\n" + "\n".join(self.stderr_tail)


class ChaosCase:
    """Mixed into a unittest.TestCase with `client` (a short name) and command()."""

    client = None

    def command(self):
        raise NotImplementedError

    def test_idempotent(self):
        run = Run(self, self.client, self.command(), True, COUNT)
        run.check_cuts(self, MIN_CUTS, MIN_RESPONSE_CUTS)
        res = run.result
        self.assertEqual((run.producer["acked"], run.producer["failed"], run.producer["unacked"]),
                         (COUNT, 0, 0),
                         run.where("(acked, failed, unacked); errors %s" % run.producer["errors"])
                         + run.tail())
        self.assertEqual(res["duplicates"], 0,
                         run.where("records written twice: %s"
                                   % run.show(res["duplicated_records"])) + run.tail())
        self.assertEqual(res["missing"], [], run.where("records missing: %s"
                                                       % run.show(res["missing"])))
        self.assertEqual(res["unexpected"], [], run.where("records never sent"))
        self.assertEqual(res["out_of_order"], {},
                         run.where("records out of order (partition: [(index, before, at)]): %s"
                                   % {p: run.show(v, 10) for p, v in res["out_of_order"].items()}))
        self.assertEqual(sum(run.ends.values()), COUNT,
                         run.where("end offsets %s: the logs hold more than the records read"
                                   % run.ends))
        self.assertTrue(all(res["per_partition"].values()),
                        run.where("a partition got nothing: %s" % res["per_partition"]))
        # The log itself: every batch carries a producer id (the client really was
        # idempotent), and each producer epoch's sequence numbers run on without a gap.
        seen = {}
        for p in range(PARTITIONS):
            batches = log_batches(run.topic, p)
            seen[p] = (len(batches), sorted({(b[1], b[2]) for b in batches}))
            self.assertTrue(batches and all(b[1] >= 0 for b in batches),
                            run.where("partition %d: batches without a producer id: %s"
                                      % (p, run.show([b for b in batches if b[1] < 0]))))
            self.assertEqual(sequence_breaks(batches), [],
                             run.where("partition %d: sequence breaks (base offset, expected, "
                                       "found)" % p))
        print("chaos: %s on disk, partition: (batches, [(producer id, epoch)]): %s"
              % (run.topic, seen), file=sys.stderr)

    def test_without_idempotence(self):
        run = Run(self, self.client, self.command(), False, COUNT_OFF, modes=(("response", 1),))
        run.check_cuts(self, MIN_CUTS_OFF, MIN_CUTS_OFF)
        res = run.result
        self.assertEqual(res["missing"], [], run.where("records missing without idempotence: %s"
                                                       % run.show(res["missing"])) + run.tail())
        if self.duplicates_expected:
            self.assertGreater(res["duplicates"], 0,
                               run.where("no duplicates without idempotence: the cuts do not "
                                         "make the producer retry what the broker wrote"))


class LibrdkafkaDebian(ChaosCase, unittest.TestCase):
    """librdkafka 2.0.2 (python3-confluent-kafka 1.7.0)."""

    client = "librdkafka-debian"
    duplicates_expected = True

    def command(self):
        return [DEBIAN_PYTHON, os.path.join(HERE, "chaos_producer.py")]


class LibrdkafkaPyPI(ChaosCase, unittest.TestCase):
    """librdkafka 2.16 (confluent-kafka 2.16 from PyPI, in .cache/venv)."""

    client = "librdkafka-pypi"
    duplicates_expected = True

    def command(self):
        if not os.access(VENV_PYTHON, os.X_OK):
            raise AssertionError("%s is not there: run ./scripts/setup" % VENV_PYTHON)
        return [VENV_PYTHON, os.path.join(HERE, "chaos_producer.py")]


class JavaProducer(ChaosCase, unittest.TestCase):
    """The Java producer 4.4 with its defaults."""

    client = "java"
    duplicates_expected = False

    def command(self):
        return java_command()


class FranzGo(ChaosCase, unittest.TestCase):
    """franz-go 1.22 with its defaults."""

    client = "franz-go"
    duplicates_expected = False

    def command(self):
        return [_go_binary]


if __name__ == "__main__":
    unittest.main(verbosity=2)
