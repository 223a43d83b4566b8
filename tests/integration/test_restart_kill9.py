#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Crash safety (issue 4, DESIGN.md "done" rule 3).

kill -9: 50,000 messages are produced with confluent-kafka (librdkafka) to 3 partitions,
acks=all, no retries, no idempotence, while the broker runs with log.flush.interval.messages=1
(an acknowledgement means fdatasync returned). Four times, at a random point while messages are
in flight, the broker gets SIGKILL and is started again on the same data directory and port;
the producer reconnects by itself. Then every partition is read back by assignment:
- every acknowledged message is there exactly once, at the offset its delivery report gave;
- each partition holds its messages in produce order (values carry a per-partition sequence),
  with no duplicates (no retries: a message is sent at most once);
- each restarted broker logs, per partition, what recovery did (a line matching /recover/i
  and naming the partition) and what it truncated (/truncat/i).

Clean stop: SIGTERM, then a start on the same directory logs that recovery was skipped
(/clean shutdown/i) and everything is still there.

RUNNEL_IT_SEED fixes the random kill points (the seed is printed)."""

import os
import random
import re
import time
import unittest

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic

from harness import BrokerTestCase

TOPIC = "crash"
PARTITIONS = 3
N = 50000
KILLS = 4
MAX_OUTSTANDING = 3000


def create_topic(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})  # alive until the result is in
    fs = admin.create_topics(
        [NewTopic(TOPIC, PARTITIONS, 1)], request_timeout=15)
    fs[TOPIC].result(timeout=20)


def value(p, seq):
    return b"p%d-s%07d" % (p, seq)


def read_everything(bootstrap, deadline_s=60):
    """{partition: [(offset, value)]} read by assignment from the beginning to the end."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "runnel-it-unused",
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "auto.offset.reset": "error", "check.crcs": True})
    got = {p: [] for p in range(PARTITIONS)}
    try:
        c.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        eof = set()
        deadline = time.monotonic() + deadline_s
        while len(eof) < PARTITIONS and time.monotonic() < deadline:
            for msg in c.consume(1000, 1.0):
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        eof.add(msg.partition())
                        continue
                    raise AssertionError("consumer error: %s" % msg.error())
                eof.discard(msg.partition())
                got[msg.partition()].append((msg.offset(), msg.value()))
        if len(eof) < PARTITIONS:
            raise AssertionError("end of partitions %s not reached within %d s"
                                 % (sorted(set(range(PARTITIONS)) - eof), deadline_s))
        return got
    finally:
        c.close()


class RestartKill9(BrokerTestCase):
    overrides = ("log.flush.interval.messages=1",)

    def recovery_lines(self):
        """Waits for the current run's per-partition recovery lines; returns them."""
        found = {}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(found) < PARTITIONS:
            for line in self.broker.run_lines():
                if not re.search(r"recover", line, re.I):
                    continue
                for p in range(PARTITIONS):
                    if re.search(r"\b%s-%d\b|\b%s\b.*\bpartition\W+%d\b" % (TOPIC, p, TOPIC, p), line):
                        found.setdefault(p, line)
            time.sleep(0.05)
        return found

    def test_kill9_while_producing_loses_no_acknowledged_message(self):
        seed = int(os.environ.get("RUNNEL_IT_SEED", str(int(time.time() * 1000) % 1000000)))
        rng = random.Random(seed)
        kill_at = sorted(rng.sample(range(N // 20, N - N // 20), KILLS))
        print("seed %d: kill -9 after %s delivery reports" % (seed, kill_at))
        create_topic(self.broker.bootstrap)

        acked = {}          # (partition, seq) -> offset
        failed = {}         # (partition, seq) -> error
        reports = [0]

        def on_delivery(err, msg):
            reports[0] += 1
            v = msg.value()
            key = (int(v[1:2]), int(v[4:]))
            if err is None:
                acked[key] = msg.offset()
            else:
                failed[key] = err

        producer = Producer({
            "bootstrap.servers": self.broker.bootstrap, "acks": "all", "retries": 0,
            "enable.idempotence": False, "linger.ms": 5, "message.timeout.ms": 60000,
            "reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 300,
            "socket.timeout.ms": 10000, "topic.metadata.refresh.interval.ms": 1000,
        })
        kills = []
        i = 0
        t_start = time.monotonic()
        while i < N or (kill_at and reports[0] < N):
            while i < N and len(producer) < MAX_OUTSTANDING:
                p = i % PARTITIONS
                producer.produce(TOPIC, value=value(p, i // PARTITIONS), partition=p,
                                 on_delivery=on_delivery)
                i += 1
            producer.poll(0.005)
            if kill_at and reports[0] >= kill_at[0]:
                kill_at.pop(0)
                time.sleep(rng.uniform(0, 0.02))   # messages still in flight
                in_flight = len(producer)
                port = self.broker.port
                self.broker.kill9()
                killed_at = time.monotonic()
                self.broker.start(port=port)
                self.assertEqual(self.broker.port, port, "restarted on another port")
                found = self.recovery_lines()
                kills.append((reports[0], in_flight, time.monotonic() - killed_at))
                self.assertEqual(sorted(found), list(range(PARTITIONS)),
                                 "after kill -9 #%d the restarted broker logged no recovery line "
                                 "(/recover/i naming %s-N) for partitions %s; its log:\n%s"
                                 % (len(kills), TOPIC, sorted(set(range(PARTITIONS)) - set(found)),
                                    "\n".join(self.broker.run_lines()[-40:])))
                for p, line in sorted(found.items()):
                    self.assertRegex(line, re.compile(r"truncat", re.I),
                                     "kill -9 #%d: the recovery line of partition %d does not say "
                                     "what was truncated: %s" % (len(kills), p, line))
            if time.monotonic() - t_start > 240:
                self.fail("producing took over 240 s: %d of %d reports" % (reports[0], N))
        left = producer.flush(60)
        self.assertEqual(left, 0, "%d messages without a delivery report after flush(60)" % left)
        self.assertEqual(len(kills), KILLS, "only %d kills happened" % len(kills))
        print("produced %d messages in %.1f s: %d acknowledged, %d failed; kills (reports, "
              "outstanding, restart s): %s" % (N, time.monotonic() - t_start, len(acked),
                                                 len(failed), kills))
        self.assertEqual(len(acked) + len(failed), N)
        self.assertGreater(len(acked), N // 2, "fewer than half the messages were acknowledged; "
                           "errors e.g. %s" % list(failed.values())[:5])

        got = read_everything(self.broker.bootstrap)
        self.check_partitions(got, acked)

        # A clean stop afterwards: the next start skips recovery and still has everything.
        self.broker.restart()
        line = self.broker.wait_for_line(r"(?i)clean shutdown", 10, this_run=True)
        self.assertIsNotNone(line, "after SIGTERM + start, no line says recovery was skipped "
                             "(/clean shutdown/i); log:\n%s" % "\n".join(self.broker.run_lines()[-40:]))
        again = read_everything(self.broker.bootstrap)
        self.assertEqual(again, got, "the log changed across a clean restart")

    def check_partitions(self, got, acked):
        for p in range(PARTITIONS):
            rows = got[p]
            offsets = [o for o, _ in rows]
            self.assertEqual(offsets, list(range(len(rows))),
                             "partition %d: offsets are not dense from 0" % p)
            seqs = []
            for o, v in rows:
                m = re.fullmatch(rb"p(\d)-s(\d{7})", v or b"")
                self.assertTrue(m and int(m.group(1)) == p,
                                "partition %d offset %d holds a foreign value %r" % (p, o, v))
                seqs.append(int(m.group(2)))
            dup = next((s for s, n in zip(seqs, seqs[1:]) if n <= s), None)
            self.assertIsNone(dup, "partition %d: sequence %s is followed by one not above it "
                              "(duplicate or out of order)" % (p, dup))
            where = {s: o for o, s in zip(offsets, seqs)}
            want = {s: o for (pp, s), o in acked.items() if pp == p}
            missing = sorted(s for s in want if s not in where)
            self.assertEqual(missing[:10], [], "partition %d: %d acknowledged messages are missing "
                             "(first sequences shown)" % (p, len(missing)))
            moved = [(s, want[s], where[s]) for s in sorted(want) if where[s] != want[s]]
            self.assertEqual(moved[:10], [], "partition %d: %d acknowledged messages are not at the "
                             "offset their delivery report gave: (seq, acked offset, found offset)"
                             % (p, len(moved)))


class CleanRestart(BrokerTestCase):

    def test_clean_stop_skips_recovery(self):
        create_topic(self.broker.bootstrap)
        producer = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all"})
        for s in range(300):
            producer.produce(TOPIC, value=value(s % PARTITIONS, s // PARTITIONS),
                             partition=s % PARTITIONS)
        self.assertEqual(producer.flush(30), 0)
        before = read_everything(self.broker.bootstrap)
        self.broker.restart()
        line = self.broker.wait_for_line(r"(?i)clean shutdown", 10, this_run=True)
        self.assertIsNotNone(line, "after SIGTERM + start, no line says recovery was skipped "
                             "(/clean shutdown/i); log of the new run:\n%s"
                             % "\n".join(self.broker.run_lines()))
        self.assertEqual(read_everything(self.broker.bootstrap), before)
        # And a kill -9 after that does not claim a clean shutdown: it recovers.
        port = self.broker.port
        self.broker.kill9()
        self.broker.start(port=port)
        line = self.broker.wait_for_line(r"(?i)recover", 10, this_run=True)
        self.assertIsNotNone(line, "after kill -9 + start, no line mentions recovery:\n%s"
                             % "\n".join(self.broker.run_lines()))
        self.assertEqual(read_everything(self.broker.bootstrap), before)


if __name__ == "__main__":
    unittest.main(verbosity=2)
