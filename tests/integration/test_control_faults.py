#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Fault injection over the control plane (issue 15): POST /faults on `runnel --ephemeral`, and
real clients seeing exactly the injected behaviour.

1. error: three NOT_LEADER_OR_FOLLOWER answers to Produce; the Java producer 4.4
   (java/faults/FaultProducer.java, compiled here) and librdkafka's (confluent-kafka) retry
   through them and succeed; the record is written once; GET /faults shows remaining 0 and the
   broker logged exactly three "answered Produce" lines.
2. close: the connection of a Fetch is closed instead of answered; librdkafka's consumer
   reconnects and still reads every record, in order, once.
3. delay: a Metadata request (raw frames, one client id) is answered no sooner than delay_ms,
   and the next one at once; a Produce delayed by 400 ms is acknowledged no sooner.
4. refuse_connections: for duration_ms every new connection is closed at once; after it, new
   connections are served and a producer started during the window delivers.
5. The HTTP side: bad bodies are 400 with a reason, DELETE /faults/ID and DELETE /faults.
About 20 seconds (the Java producer's JVM is most of it)."""

import json
import os
import shutil
import struct
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness import Ephemeral, KafkaSocket

TIMEOUT = 30
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
JAVA_LIB = os.path.join(REPO, ".cache", "java-clients", "lib")
JAVA_SOURCE = os.path.join(HERE, "java", "faults", "FaultProducer.java")
NOT_LEADER_OR_FOLLOWER = 6


class Fixture:
    """`runnel --ephemeral` with its stderr (the log) kept in a file."""

    def __init__(self):
        self.logfile = tempfile.NamedTemporaryFile(prefix="runnel-faults-", suffix=".log",
                                                   delete=False)
        self.broker = Ephemeral(stderr=self.logfile)
        self.proc = self.broker.proc
        self.bootstrap = self.broker.bootstrap
        self.control = self.broker.control
        self.port = self.broker.port

    def stop(self):
        self.broker.stop()
        self.logfile.close()
        os.unlink(self.logfile.name)

    def log(self):
        with open(self.logfile.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def log_lines(self, needle):
        return [line for line in self.log().splitlines() if needle in line]

    def http(self, method, path, body=None):
        """(status, parsed JSON) of a control plane request."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.control + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def injected_metric(self, action, api):
        """runnel_faults_injected_total{action, api} from GET /metrics (0 when absent)."""
        from prometheus_client.parser import text_string_to_metric_families
        with urllib.request.urlopen(self.control + "/metrics", timeout=TIMEOUT) as r:
            text = r.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if (sample.name == "runnel_faults_injected_total"
                        and sample.labels == {"action": action, "api": api}):
                    return sample.value
        return 0

    def add_fault(self, body):
        status, answer = self.http("POST", "/faults", body)
        if status != 201:
            raise AssertionError("POST /faults %s: %s %s" % (body, status, answer))
        return answer

    def fault(self, fault_id):
        status, answer = self.http("GET", "/faults")
        assert status == 200, answer
        for f in answer["faults"]:
            if f["id"] == fault_id:
                return f
        raise AssertionError("fault %d is not listed: %s" % (fault_id, answer))

    def create_topic(self, name, partitions=1):
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics([NewTopic(name, partitions, 1)])
        futures[name].result(TIMEOUT)


def build_java(tmpdir):
    """Compiles FaultProducer.java against the jars scripts/setup copied; returns the class
    directory. Missing jars or javac fail the test, never skip it."""
    if not os.path.isfile(os.path.join(REPO, ".cache", "java-clients", "lib.complete")):
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


def read_all(bootstrap, topic, n, group=None):
    """Every record of partition 0 of `topic`, from the start, until n are read."""
    conf = {"bootstrap.servers": bootstrap, "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "group.id": group or "reader-" + topic}
    c = Consumer(conf)
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        got = []
        deadline = time.monotonic() + TIMEOUT
        while len(got) < n and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                got.append((m.offset(), m.value()))
        return got
    finally:
        c.close()


def metadata_v1(sock, correlation_id, client_id):
    """Sends Metadata v1 for no topics (an empty array) and waits for its answer; returns the
    seconds it took."""
    t0 = time.monotonic()
    sock.send_request(3, 1, correlation_id, struct.pack(">i", 0), client_id=client_id)
    got, _ = sock.recv_response()
    assert got == correlation_id, (got, correlation_id)
    return time.monotonic() - t0


class ControlFaults(unittest.TestCase):

    def setUp(self):
        self.fx = Fixture()
        self.addCleanup(self.fx.stop)
        self.addCleanup(lambda: self.fx.http("DELETE", "/faults"))

    def dump_log_on_failure(self):
        print("---- broker log tail ----")
        print("\n".join(self.fx.log().splitlines()[-60:]))

    # 1. error ------------------------------------------------------------------------------

    def test_java_producer_retries_through_three_not_leader_answers(self):
        tmp = tempfile.mkdtemp(prefix="runnel-faults-java-")
        self.addCleanup(shutil.rmtree, tmp, True)
        classes = build_java(tmp)
        self.fx.create_topic("java-errors")
        fault = self.fx.add_fault({"action": "error", "api": "Produce",
                                   "error": "NOT_LEADER_OR_FOLLOWER", "count": 3,
                                   "topic": "java-errors"})
        self.assertEqual(fault["remaining"], 3)
        self.assertEqual(fault["error_code"], NOT_LEADER_OR_FOLLOWER)
        java = os.environ.get("RUNNEL_JAVA") or shutil.which("java")
        self.assertIsNotNone(java, "no java on PATH: run ./scripts/setup")
        p = subprocess.run([java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx256m",
                            "-cp", classes + os.pathsep + os.path.join(JAVA_LIB, "*"),
                            "runnel.faults.FaultProducer", self.fx.bootstrap, "java-errors",
                            "java-fault-producer", "25"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90)
        if not p.stdout.startswith("ACKED 0 0"):
            self.dump_log_on_failure()
            self.fail("the Java producer: %r\n%s" % (p.stdout, p.stderr[-3000:]))
        self.assertEqual(self.fx.fault(fault["id"])["remaining"], 0)
        self.assertEqual(self.fx.fault(fault["id"])["injected"], 3)
        lines = self.fx.log_lines("fault #%d: answered Produce" % fault["id"])
        self.assertEqual(len(lines), 3, lines)
        self.assertIn("from client java-fault-producer", lines[0])
        self.assertIn("with NOT_LEADER_OR_FOLLOWER (2 left)", lines[0])
        self.assertIn("(0 left)", lines[2])
        # Not executed: the record is there once, at offset 0.
        self.assertEqual(read_all(self.fx.bootstrap, "java-errors", 1), [(0, b"v")])
        # The client saw the error and retried, as its log says.
        self.assertIn("NOT_LEADER_OR_FOLLOWER", p.stderr)

    def test_librdkafka_producer_retries_through_three_not_leader_answers(self):
        self.fx.create_topic("rdkafka-errors")
        fault = self.fx.add_fault({"action": "error", "api": 0, "error_code": 6, "count": 3,
                                   "topic": "rdkafka-errors", "partition": 0,
                                   "client_id": "rdkafka-fault-producer"})
        p = Producer({"bootstrap.servers": self.fx.bootstrap, "client.id": "rdkafka-fault-producer",
                      "retry.backoff.ms": 50, "enable.idempotence": True})
        reports = []
        p.produce("rdkafka-errors", b"v", on_delivery=lambda err, m: reports.append((err, m)))
        self.assertEqual(p.flush(TIMEOUT), 0)
        self.assertEqual(len(reports), 1)
        self.assertIsNone(reports[0][0])
        self.assertEqual(reports[0][1].offset(), 0)
        self.assertEqual(self.fx.fault(fault["id"])["remaining"], 0)
        self.assertEqual(len(self.fx.log_lines("fault #%d: answered Produce" % fault["id"])), 3)
        self.assertEqual(self.fx.injected_metric("error", "Produce"), 3)
        self.assertEqual(read_all(self.fx.bootstrap, "rdkafka-errors", 1), [(0, b"v")])

    def test_a_topic_filter_leaves_other_topics_alone(self):
        self.fx.create_topic("hit")
        self.fx.create_topic("miss")
        fault = self.fx.add_fault({"action": "error", "api": "Produce",
                                   "error": "NOT_LEADER_OR_FOLLOWER", "count": 1,
                                   "topic": "hit"})
        p = Producer({"bootstrap.servers": self.fx.bootstrap, "linger.ms": 0})
        p.produce("miss", b"m")
        self.assertEqual(p.flush(TIMEOUT), 0)
        self.assertEqual(self.fx.fault(fault["id"])["remaining"], 1)
        p.produce("hit", b"h")
        self.assertEqual(p.flush(TIMEOUT), 0)
        self.assertEqual(self.fx.fault(fault["id"])["remaining"], 0)

    # 2. close ------------------------------------------------------------------------------

    def test_librdkafka_consumer_rides_out_a_closed_fetch_connection(self):
        self.fx.create_topic("closing")
        p = Producer({"bootstrap.servers": self.fx.bootstrap})
        for i in range(200):
            p.produce("closing", b"r%03d" % i)
        self.assertEqual(p.flush(TIMEOUT), 0)
        fault = self.fx.add_fault({"action": "close", "api": "Fetch", "count": 2,
                                   "topic": "closing"})
        self.assertEqual(fault["remaining"], 2)
        got = read_all(self.fx.bootstrap, "closing", 200)
        if len(got) != 200:
            self.dump_log_on_failure()
        self.assertEqual(got, [(i, b"r%03d" % i) for i in range(200)])
        self.assertEqual(self.fx.fault(fault["id"])["remaining"], 0)
        lines = self.fx.log_lines("fault #%d: closed the connection" % fault["id"])
        self.assertEqual(len(lines), 2, lines)
        self.assertEqual(self.fx.injected_metric("close", "Fetch"), 2)

    # 3. delay ------------------------------------------------------------------------------

    def test_a_delayed_metadata_answer_comes_no_sooner_than_delay_ms(self):
        fault = self.fx.add_fault({"action": "delay", "api": "Metadata", "delay_ms": 700,
                                   "count": 1, "client_id": "slow-probe"})
        with KafkaSocket(self.fx.port) as s:
            # Another client id is not delayed.
            self.assertLess(metadata_v1(s, 1, "quick-probe"), 0.5)
            self.assertEqual(self.fx.fault(fault["id"])["remaining"], 1)
            self.assertGreaterEqual(metadata_v1(s, 2, "slow-probe"), 0.7)
            self.assertLess(metadata_v1(s, 3, "slow-probe"), 0.5)
        self.assertEqual(self.fx.fault(fault["id"])["remaining"], 0)
        self.assertEqual(len(self.fx.log_lines("fault #%d: holding back by 700 ms" % fault["id"])),
                         1)

    def test_a_delayed_produce_is_acknowledged_no_sooner_than_delay_ms(self):
        self.fx.create_topic("slow")
        p = Producer({"bootstrap.servers": self.fx.bootstrap, "linger.ms": 0})
        p.produce("slow", b"warm-up")
        self.assertEqual(p.flush(TIMEOUT), 0)
        fault = self.fx.add_fault({"action": "delay", "api": "Produce", "delay_ms": 400})
        self.assertEqual(fault["remaining"], -1)  # until cleared
        acked = []
        t0 = time.monotonic()
        p.produce("slow", b"late", on_delivery=lambda err, m: acked.append(time.monotonic()))
        self.assertEqual(p.flush(TIMEOUT), 0)
        self.assertGreaterEqual(acked[0] - t0, 0.4)
        status, answer = self.fx.http("DELETE", "/faults/%d" % fault["id"])
        self.assertEqual((status, answer), (200, {"cleared": 1}))
        t0 = time.monotonic()
        p.produce("slow", b"quick", on_delivery=lambda err, m: acked.append(time.monotonic()))
        self.assertEqual(p.flush(TIMEOUT), 0)
        self.assertLess(acked[1] - t0, 0.4)
        self.assertEqual(read_all(self.fx.bootstrap, "slow", 3),
                         [(0, b"warm-up"), (1, b"late"), (2, b"quick")])

    # 4. refuse_connections -----------------------------------------------------------------

    def test_new_connections_are_refused_during_the_window_only(self):
        fault = self.fx.add_fault({"action": "refuse_connections", "duration_ms": 1500})
        t0 = time.monotonic()
        with KafkaSocket(self.fx.port) as s:
            s.send_request(18, 0, 1)
            closed, got = s.wait_closed(5)
        self.assertTrue(closed, "a connection in the window was not closed")
        self.assertEqual(got, b"")
        # A producer started in the window delivers once it is over.
        p = Producer({"bootstrap.servers": self.fx.bootstrap, "reconnect.backoff.ms": 100,
                      "reconnect.backoff.max.ms": 300, "log_level": 3})
        p.produce("after-window", b"x")
        self.assertEqual(p.flush(TIMEOUT), 0)
        self.assertGreaterEqual(time.monotonic() - t0, 1.4)
        with KafkaSocket(self.fx.port) as s:
            s.send_request(18, 0, 2)
            got, _ = s.recv_response()
            self.assertEqual(got, 2)
        listed = self.fx.fault(fault["id"])
        self.assertEqual(listed["remaining_ms"], 0)
        self.assertGreaterEqual(listed["injected"], 2)  # the socket and the producer's first
        self.assertEqual(len(self.fx.log_lines("fault #%d: refused a connection" % fault["id"])),
                         listed["injected"])

    # 5. the HTTP side ----------------------------------------------------------------------

    def test_bad_bodies_are_refused_with_a_reason(self):
        bad = [
            ({}, "action"),
            ({"action": "explode", "api": "Produce"}, "action"),
            ({"action": "error", "error_code": 6}, "api"),
            ({"action": "error", "api": "Produce"}, "error"),
            ({"action": "error", "api": "Produce", "error": "NO_SUCH_ERROR"}, "NO_SUCH_ERROR"),
            ({"action": "error", "api": "Produuce", "error_code": 6}, "Produuce"),
            ({"action": "error", "api": 9999, "error_code": 6}, "9999"),
            ({"action": "error", "api": "CreateTopics", "error_code": 6}, "close or delay"),
            ({"action": "close", "api": "JoinGroup", "topic": "t"}, "topic"),
            ({"action": "close", "api": "Fetch", "partition": 1}, "partition"),
            ({"action": "close", "api": "Fetch", "count": 0}, "count"),
            ({"action": "delay", "api": "Fetch"}, "delay_ms"),
            ({"action": "delay", "api": "Fetch", "delay_ms": 10 ** 9}, "delay_ms"),
            ({"action": "refuse_connections"}, "duration_ms"),
            ({"action": "refuse_connections", "duration_ms": 5, "api": "Fetch"}, "only"),
            ({"action": "close", "api": "Fetch", "colour": "red"}, "colour"),
        ]
        for body, word in bad:
            status, answer = self.fx.http("POST", "/faults", body)
            self.assertEqual(status, 400, body)
            self.assertIn(word, answer["error"], body)
        self.assertEqual(self.fx.http("GET", "/faults"), (200, {"faults": []}))

    def test_listing_and_clearing(self):
        a = self.fx.add_fault({"action": "close", "api": "heartbeat"})
        b = self.fx.add_fault({"action": "error", "api": "FindCoordinator",
                               "error": "COORDINATOR_NOT_AVAILABLE", "count": 2})
        self.assertEqual((a["api"], a["api_key"], a["count"]), ("Heartbeat", 12, 1))
        self.assertEqual((b["error"], b["error_code"]), ("COORDINATOR_NOT_AVAILABLE", 15))
        status, answer = self.fx.http("GET", "/faults")
        self.assertEqual([f["id"] for f in answer["faults"]], [a["id"], b["id"]])
        self.assertEqual(self.fx.http("DELETE", "/faults/%d" % a["id"]), (200, {"cleared": 1}))
        self.assertEqual(self.fx.http("DELETE", "/faults/%d" % a["id"])[0], 404)
        self.assertEqual(self.fx.http("DELETE", "/faults/nope")[0], 404)
        self.assertEqual(self.fx.http("DELETE", "/faults"), (200, {"cleared": 1}))
        self.assertEqual(self.fx.http("GET", "/faults"), (200, {"faults": []}))


if __name__ == "__main__":
    unittest.main()
