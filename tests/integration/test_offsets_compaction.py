#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""__consumer_offsets is compacted, so the coordinator's start-up load stays small (issue 12:
"A group that commits the same offsets 1,000,000 times: after cleaning, the broker's start-up
load of __consumer_offsets takes about as long as for a fresh group (figures in the note)").

One group commits one partition's offset 1,000,000 times (RUNNEL_IT_COMMITS changes the
count) with raw OffsetCommit v7 requests pipelined on one connection: offset 42 each time but
the last, which commits 4242, so that a cleaner keeping the wrong copy shows. The broker runs
with offsets.topic.segment.bytes at 1 MiB (Kafka's smallest segment), so the commits fill a
hundred segments or more, and with the cleaner off for that part, so that the first restart
measures the load of the whole uncompacted journal. Then:

1. restart with the cleaner off: the load of every commit ever made (a figure, not asserted);
2. restart with the cleaner on (log.cleaner.backoff.ms 200); wait, at most CLEAN_TIMEOUT s, for
   DescribeLogDirs to report __consumer_offsets below 4 MiB;
3. restart: the load of the compacted journal;
4. a fresh broker, one commit of one group, restart: the load of a fresh group.

"The load" is timed from the start of the process to the first OffsetFetch that answers 4242
without error (Kafka answers COORDINATOR_LOAD_IN_PROGRESS until it has loaded); Runnel's own
line "loaded __consumer_offsets in N ms: R records ..." (src/coord/coord.c) is read too. The
compacted load must take less than 3 times the fresh one plus 200 ms (both ways of timing it,
for Runnel), and the committed offset must be 4242 after every restart. The figures are
printed. Also: __transaction_state, created by a transactional producer's InitProducerId, and
__consumer_offsets are compacted topics (DescribeConfigs cleanup.policy=compact).

The broker is Runnel, or Kafka 4.4 with RUNNEL_TEST_BROKER=kafka, against which the test passes
as written (Kafka's load is timed only by OffsetFetch: its log holds warnings only)."""

import os
import re
import socket
import struct
import sys
import time
import unittest

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

import kafka_wire as w
from compaction_broker import IS_KAFKA, TestBroker, describe_log_dirs
from harness import HOST, KafkaSocket, frame, request_header

TOPIC = "committed"
GROUP = "commits-a-million-times"
FRESH_GROUP = "commits-once"
COMMITS = int(os.environ.get("RUNNEL_IT_COMMITS", "1000000"))
OFFSET, LAST_OFFSET = 42, 4242
COMMIT_VERSION = 7           # non-flexible: the response's last two bytes are the error code
FETCH_VERSION = 5
SEGMENT_BYTES = 1048576
CLEANED_BYTES = 4 << 20      # __consumer_offsets counts as compacted below this
CHUNK = 1000                 # requests written at once
WINDOW = 4000                # requests without a response at most
COMMIT_TIMEOUT = 300
CLEAN_TIMEOUT = 120
LOAD_TIMEOUT = 60
SLOWER = 3.0                 # the compacted load may take SLOWER times the fresh one...
SLACK = 0.2                  # ... plus SLACK seconds

BROKER_SETTINGS = ("offsets.topic.segment.bytes=%d" % SEGMENT_BYTES,
                   "log.cleaner.backoff.ms=200")
LOADED_RE = re.compile(r"loaded __consumer_offsets in (\d+) ms: (\d+) records in (\d+) batches "
                       r"\((\d+) bytes\)")


def coordinator_ready(port, group, timeout=30):
    """FindCoordinator v1 until it answers without error (the first one makes Kafka create
    __consumer_offsets), then one OffsetCommit until it is accepted (Kafka answers
    NOT_COORDINATOR while it loads the new partition)."""
    deadline = time.monotonic() + timeout
    error = -1
    while error != 0:
        if time.monotonic() > deadline:
            raise AssertionError("FindCoordinator: %s after %d s" % (w.error_name(error), timeout))
        with KafkaSocket(port) as s:
            s.send_request(w.FIND_COORDINATOR, 1, 1, body=w.find_coordinator_v1_body(group))
            _, r = s.recv_response()
            error = w.parse_find_coordinator_v1_response(r)[0]
        if error:
            time.sleep(0.1)
    error = -1
    while error != 0:
        if time.monotonic() > deadline:
            raise AssertionError("OffsetCommit: %s after %d s" % (w.error_name(error), timeout))
        with KafkaSocket(port) as s:
            s.send_request(w.OFFSET_COMMIT, COMMIT_VERSION, 1,
                           body=w.offset_commit_body(COMMIT_VERSION, group, TOPIC, 0, OFFSET))
            _, r = s.recv_response()
            error = w.parse_offset_commit_response(COMMIT_VERSION, r)[(TOPIC, 0)]
        if error:
            time.sleep(0.1)


def commit_many(port, group, n):
    """n OffsetCommits of TOPIC-0, pipelined on one connection, the last one LAST_OFFSET and
    the others OFFSET; returns the seconds taken. Every response must say no error."""
    bodies = {o: w.offset_commit_body(COMMIT_VERSION, group, TOPIC, 0, o)
              for o in (OFFSET, LAST_OFFSET)}
    sock = socket.create_connection((HOST, port), timeout=30)
    sent = got = 0
    buf = bytearray()
    t0 = time.monotonic()
    deadline = t0 + COMMIT_TIMEOUT
    try:
        while got < n:
            if time.monotonic() > deadline:
                raise AssertionError("%d of %d commits answered after %d s"
                                     % (got, n, COMMIT_TIMEOUT))
            if sent < n and sent - got < WINDOW:
                k = min(CHUNK, n - sent)
                sock.sendall(b"".join(
                    frame(request_header(w.OFFSET_COMMIT, COMMIT_VERSION, sent + i) +
                          bodies[LAST_OFFSET if sent + i == n - 1 else OFFSET])
                    for i in range(k)))
                sent += k
                continue
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise AssertionError("the broker closed the connection after %d commits" % got)
            buf += chunk
            pos = 0
            while len(buf) - pos >= 4:
                (size,) = struct.unpack_from(">i", buf, pos)
                if len(buf) - pos - 4 < size:
                    break
                (corr,) = struct.unpack_from(">i", buf, pos + 4)
                (error,) = struct.unpack_from(">h", buf, pos + 4 + size - 2)
                if corr != got:
                    raise AssertionError("response %d has correlation id %d" % (got, corr))
                if error:
                    raise AssertionError("commit %d: %s" % (got, w.error_name(error)))
                pos += 4 + size
                got += 1
            del buf[:pos]
    finally:
        sock.close()
    return time.monotonic() - t0


def fetch_offset(port, group):
    """(error, offset) of TOPIC-0 for `group`, by OffsetFetch v5."""
    with KafkaSocket(port, timeout=10) as s:
        s.send_request(w.OFFSET_FETCH, FETCH_VERSION, 1,
                       body=w.offset_fetch_body(FETCH_VERSION, group, TOPIC, [0]))
        _, r = s.recv_response()
        error, parts = w.parse_offset_fetch_response(FETCH_VERSION, r)
    p = parts.get((TOPIC, 0))
    if error == 0 and p is not None:
        error = p["error"]
    return error, (p["offset"] if p else None)


def offsets_size(port):
    sizes = describe_log_dirs(port, {"__consumer_offsets": list(range(50))})
    return sum(size for (topic, _), size in sizes.items() if topic == "__consumer_offsets")


class Load:
    """One restart's figures."""

    def __init__(self, what, seconds, offset, line):
        self.what = what
        self.seconds = seconds      # process start to the first good OffsetFetch
        self.offset = offset
        self.line = line            # Runnel's "loaded __consumer_offsets" line, or None
        m = LOADED_RE.search(line or "")
        self.load_ms = int(m.group(1)) if m else None
        self.records = int(m.group(2)) if m else None
        self.bytes = int(m.group(4)) if m else None

    def __str__(self):
        s = "%s: first OffsetFetch answered after %.3f s" % (self.what, self.seconds)
        if self.load_ms is not None:
            s += "; Runnel loaded __consumer_offsets in %d ms (%d records, %d bytes)" % (
                self.load_ms, self.records, self.bytes)
        return s


class OffsetsCompaction(unittest.TestCase):

    def new_broker(self, overrides=()):
        broker = TestBroker(BROKER_SETTINGS + tuple(overrides)).start()
        self.addCleanup(broker.stop)
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic(TOPIC, 1, 1)], request_timeout=20)[TOPIC].result(timeout=30)
        return broker

    def restart_and_time(self, broker, group, what):
        """Stops the broker cleanly, starts it, and times the first good OffsetFetch."""
        broker.stop_clean()
        broker.start()
        deadline = broker.started_mono + LOAD_TIMEOUT
        while True:
            try:
                error, offset = fetch_offset(broker.port, group)
            except (OSError, AssertionError):
                error, offset = -1, None
            if error == 0:
                break
            broker.check_alive(what)
            if time.monotonic() > deadline:
                broker.dump_log()
                self.fail("%s: no OffsetFetch answer within %d s (last error %s)"
                          % (what, LOAD_TIMEOUT, w.error_name(error)))
            time.sleep(0.01)
        seconds = time.monotonic() - broker.started_mono
        line = None
        if not IS_KAFKA:
            line = next((l for l in broker.run_lines() if LOADED_RE.search(l)), None)
            self.assertIsNotNone(line, "%s: Runnel logged no 'loaded __consumer_offsets in N ms' "
                                 "line" % what)
        load = Load(what, seconds, offset, line)
        print(load)
        sys.stdout.flush()
        self.assertEqual(offset, LAST_OFFSET, "%s: the committed offset of %s" % (what, group))
        return load

    def check_compacted_topics(self, broker):
        """__consumer_offsets and __transaction_state are created compacted."""
        p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "compaction-it"})
        p.init_transactions(30)
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for topic in ("__consumer_offsets", "__transaction_state"):
            res = ConfigResource(ConfigResource.Type.TOPIC, topic)
            configs = admin.describe_configs([res], request_timeout=20)[res].result(timeout=30)
            self.assertEqual(configs["cleanup.policy"].value, "compact",
                             "%s's cleanup.policy" % topic)

    def test_start_up_load_after_a_million_commits(self):
        big = self.new_broker(("log.cleaner.enable=false",))
        coordinator_ready(big.port, GROUP)
        seconds = commit_many(big.port, GROUP, COMMITS)
        peak = offsets_size(big.port)
        print("%d commits in %.1f s (%.0f/s); __consumer_offsets holds %d bytes"
              % (COMMITS, seconds, COMMITS / seconds, peak))
        self.assertGreater(peak, 8 * SEGMENT_BYTES, "the commits should fill many segments")
        segments = max(len([n for n in os.listdir(os.path.join(big.data_dir, d))
                            if n.endswith(".log")])
                       for d in os.listdir(big.data_dir) if d.startswith("__consumer_offsets-"))
        self.assertGreaterEqual(segments, peak // SEGMENT_BYTES,
                                "%d bytes of commits in %d segments: offsets.topic.segment.bytes="
                                "%d is not in effect (only sealed segments can be cleaned)"
                                % (peak, segments, SEGMENT_BYTES))
        uncompacted = self.restart_and_time(big, GROUP, "%d commits, not compacted" % COMMITS)

        big.set_override("log.cleaner.enable", "true")
        big.stop_clean()
        big.start()
        t0 = time.monotonic()
        size = offsets_size(big.port)
        while size >= CLEANED_BYTES:
            if time.monotonic() - t0 > CLEAN_TIMEOUT:
                big.dump_log()
                self.fail("__consumer_offsets still holds %d bytes (of %d) %d s after the "
                          "cleaner was enabled" % (size, peak, CLEAN_TIMEOUT))
            time.sleep(0.5)
            big.check_alive("waiting for the cleaner")
            size = offsets_size(big.port)
        print("the cleaner took __consumer_offsets from %d to %d bytes in %.1f s"
              % (peak, size, time.monotonic() - t0))
        compacted = self.restart_and_time(big, GROUP, "%d commits, compacted" % COMMITS)
        big.stop()

        fresh_broker = self.new_broker()
        coordinator_ready(fresh_broker.port, FRESH_GROUP)
        commit_many(fresh_broker.port, FRESH_GROUP, 1)
        fresh = self.restart_and_time(fresh_broker, FRESH_GROUP, "one commit, fresh broker")
        self.check_compacted_topics(fresh_broker)

        print("FIGURES (%s): uncompacted %.3f s, compacted %.3f s, fresh %.3f s to the first "
              "OffsetFetch" % (big.kind, uncompacted.seconds, compacted.seconds, fresh.seconds))
        if not IS_KAFKA:
            print("FIGURES (runnel log): uncompacted %d ms / %d records, compacted %d ms / %d "
                  "records, fresh %d ms / %d records"
                  % (uncompacted.load_ms, uncompacted.records, compacted.load_ms,
                     compacted.records, fresh.load_ms, fresh.records))
        self.assertLess(compacted.seconds, SLOWER * fresh.seconds + SLACK,
                        "the start-up after compaction (%.3f s) is not about as quick as a fresh "
                        "one (%.3f s)" % (compacted.seconds, fresh.seconds))
        if not IS_KAFKA:
            self.assertLess(compacted.load_ms, SLOWER * fresh.load_ms + SLACK * 1000,
                            "loading the compacted __consumer_offsets (%d ms) is not about as "
                            "quick as a fresh one (%d ms)" % (compacted.load_ms, fresh.load_ms))


if __name__ == "__main__":
    unittest.main(verbosity=2)
