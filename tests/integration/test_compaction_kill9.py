#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Log compaction survives kill -9 at any moment (issue 12: "Ten kill -9 at random moments while
the cleaner works: after each restart no live record is lost, no offset appears twice, and the
indexes agree with the log").

A compacted topic of 2 partitions with small segments (32 KiB), min.cleanable.dirty.ratio 0.01
and a broker whose cleaner looks for work every 100 ms, so that it cleans almost all the time.
A librdkafka producer (acks=all, lz4, one request in flight per connection, so that a retry
never reorders) overwrites 1,000 keys over and over, with a tombstone now and then; every record
carries its key's partition, its sequence number in a header and a value derived from both.
Ten rounds; in each, the producer writes while the broker gets SIGKILL, in turn:
- at a random moment (0.4 to 2 s in);
- a random few milliseconds after a cleaner file (`.cleaned` or `.swap`) shows in a partition
  directory, so that the kill lands inside a cleaning pass;
- from strace (compaction_broker.RenameKiller), as a broker thread enters its n-th rename, n
  random from 1 to 12: the cleaner's renames (.cleaned to .swap, .swap to the final name) are
  the steps of its crash-safety protocol, and the states between them are short-lived enough
  that a kill from outside seldom finds them.
Then, each time:

- with the broker down, segment_check.py checks both partition directories as recovery would
  see them (leftovers resolved as Kafka's LogLoader does): batches whole and contiguous, offsets
  ascending within and across segments, every offset and time index entry pointing where it
  should;
- the broker starts again on the same directory and port; the `.cleaned` and `.swap` files that
  were there before the start must be gone (deleted, or the swap finished);
- the producer is flushed (its in-flight requests retried), and a consumer reads both partitions
  from the beginning to the end: offsets strictly increasing, each record one the producer sent,
  and for every key the last record is the latest acknowledged one (at the offset its delivery
  report gave), or a later one whose report the kill swallowed; a key whose latest acknowledged
  record is a tombstone ends in that tombstone (delete.retention.ms is a day).

At the end the log must have shrunk (fewer records read than acknowledged: the cleaner ran), a
share of the kills must have found cleaner files, and after a clean stop the directories pass the
strict check. The broker is Runnel, or Kafka 4.4 with RUNNEL_TEST_BROKER=kafka, against which the
test passes as written. RUNNEL_IT_SEED fixes the random choices (the seed is printed)."""

import functools
import os
import random
import shutil
import sys
import tempfile
import time
import unittest

from confluent_kafka import Consumer, KafkaError, OFFSET_BEGINNING, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import segment_check
from compaction_broker import INDEX_RULE, SEGMENT_BYTES_KEY, RenameKiller, TestBroker

TOPIC = "compact-kill9"
PARTITIONS = 2
KEYS = 1000
KILLS = 10
SEGMENT_BYTES = 32768
RATE = 6000                  # records per second while producing
TOMBSTONE_EVERY = 23         # one record in 23 is a tombstone
ROUND_SECONDS = (0.4, 2.0)   # how long the producer writes before a random-moment kill
CLEANER_WAIT = 6.0           # at most this long for a cleaner file, then the kill happens anyway
CLEANER_DELAY = (0.0, 0.03)  # from seeing a cleaner file to the kill
RENAME_NTH = (1, 12)         # the kill strikes at this rename of a broker thread
# How each round's kill comes: at a random moment; a few milliseconds after a cleaner file
# shows; or from strace, as a broker thread enters its n-th rename (compaction_broker.py).
STRATEGIES = ("random", "cleaner file", "rename")
FLUSH_TIMEOUT = 60
READ_TIMEOUT = 60
MIN_KILLS_IN_CLEANING = 2    # kills that must find cleaner files in a partition directory

BROKER_SETTINGS = ("log.cleaner.backoff.ms=100", "auto.create.topics.enable=false")
TOPIC_CONFIG = {"cleanup.policy": "compact", SEGMENT_BYTES_KEY: str(SEGMENT_BYTES),
                "min.cleanable.dirty.ratio": "0.01", "min.compaction.lag.ms": "0",
                "delete.retention.ms": "86400000"}


def key_of(k):
    return b"key-%04d" % k


def value_of(k, seq):
    """Derived from key and sequence, so a reader can tell a record from a corrupted one; about
    200 bytes that lz4 shrinks a little (the cleaner then has batches to decompress and write
    back compressed)."""
    head = b"%04d:%09d:" % (k, seq)
    return head + (b"%08x" % ((k * 2654435761 + seq * 40503) & 0xFFFFFFFF)) * 23


def is_tombstone(seq):
    return seq % TOMBSTONE_EVERY == TOMBSTONE_EVERY - 1


class Ledger:
    """What the producer sent and what the broker acknowledged, per key."""

    def __init__(self):
        self.sent = {}          # seq -> key
        self.acked = {}         # key -> (seq, offset) of the highest acknowledged seq
        self.acked_count = 0
        self.failed = 0
        self.errors = []

    def on_delivery(self, seq, err, msg):
        k = self.sent[seq]
        if err is not None:
            self.failed += 1    # in doubt: it may still be in the log
            if len(self.errors) < 5:
                self.errors.append(str(err))
            return
        self.acked_count += 1
        if k not in self.acked or self.acked[k][0] < seq:
            self.acked[k] = (seq, msg.offset())


def read_everything(bootstrap, check=lambda: None):
    """{partition: [(offset, key, seq, value)]} from the beginning to the end of each; calls
    `check` between polls."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compact-kill9-reader",
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "auto.offset.reset": "error", "check.crcs": True,
                  "fetch.message.max.bytes": 1 << 20})
    got = {p: [] for p in range(PARTITIONS)}
    try:
        c.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        eof = set()
        deadline = time.monotonic() + READ_TIMEOUT
        while len(eof) < PARTITIONS and time.monotonic() < deadline:
            check()
            for msg in c.consume(2000, 0.5):
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        eof.add(msg.partition())
                        continue
                    raise AssertionError("consumer error: %s" % msg.error())
                eof.discard(msg.partition())
                headers = dict(msg.headers() or [])
                seq = int(headers["seq"]) if "seq" in headers else None
                got[msg.partition()].append((msg.offset(), msg.key(), seq, msg.value()))
        if len(eof) < PARTITIONS:
            raise AssertionError("the end of partitions %s was not reached within %d s"
                                 % (sorted(set(range(PARTITIONS)) - eof), READ_TIMEOUT))
        return got
    finally:
        c.close()


class CompactionKill9(unittest.TestCase):

    def setUp(self):
        seed = int(os.environ.get("RUNNEL_IT_SEED", str(int(time.time() * 1000) % 1000000)))
        print("seed %d" % seed)
        self.rng = random.Random(seed)
        self.broker = TestBroker(BROKER_SETTINGS).start()
        self.addCleanup(self.broker.stop)
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1, config=TOPIC_CONFIG)],
                            request_timeout=20)[TOPIC].result(timeout=30)
        self.ledger = Ledger()
        self.seq = 0
        self.producer = Producer({
            "bootstrap.servers": self.broker.bootstrap, "acks": "all",
            "enable.idempotence": False, "max.in.flight.requests.per.connection": 1,
            "compression.type": "lz4", "linger.ms": 5, "batch.size": 65536,
            "message.timeout.ms": 45000, "reconnect.backoff.ms": 20,
            "reconnect.backoff.max.ms": 300, "socket.timeout.ms": 10000,
            "topic.metadata.refresh.interval.ms": 1000})
        self.dirs = [self.broker.partition_dir(TOPIC, p) for p in range(PARTITIONS)]
        self.tmpdir = tempfile.mkdtemp(prefix="runnel-kill9-")
        if not os.environ.get("RUNNEL_KEEP_TMP"):
            self.addCleanup(shutil.rmtree, self.tmpdir, ignore_errors=True)

    def fail_with_log(self, why):
        self.broker.dump_log()
        self.fail(why)

    def produce_some(self, n):
        for _ in range(n):
            k = self.rng.randrange(KEYS)
            seq = self.seq
            self.seq += 1
            self.ledger.sent[seq] = k
            value = None if is_tombstone(seq) else value_of(k, seq)
            while True:
                try:
                    self.producer.produce(TOPIC, value=value, key=key_of(k),
                                          partition=k % PARTITIONS,
                                          headers=[("seq", b"%d" % seq)],
                                          on_delivery=functools.partial(
                                              self.ledger.on_delivery, seq))
                    break
                except BufferError:
                    self.producer.poll(0.05)
        self.producer.poll(0)

    def cleaner_files(self):
        found = []
        for d in self.dirs:
            try:
                names = os.listdir(d)
            except FileNotFoundError:
                continue
            found += [n for n in names if n.endswith((".cleaned", ".swap"))]
        return found

    def produce_until_kill(self, rnd):
        """Produces at RATE until this round's kill, which it makes; returns how it came."""
        t0 = time.monotonic()
        strategy = STRATEGIES[rnd % len(STRATEGIES)]
        random_moment = t0 + self.rng.uniform(*ROUND_SECONDS)
        give_up = t0 + CLEANER_WAIT
        killer = None
        if strategy == "rename":
            nth = self.rng.randint(*RENAME_NTH)
            killer = RenameKiller(self.broker.pid, nth,
                                  os.path.join(self.tmpdir, "strace-%d.txt" % rnd))
        written = 0
        try:
            while True:
                now = time.monotonic()
                due = int((now - t0) * RATE) - written
                if due > 0:
                    self.produce_some(min(due, 500))
                    written += min(due, 500)
                self.producer.poll(0.002)
                if strategy != "rename":
                    self.broker.check_alive("round %d, before its kill" % (rnd + 1))
                if strategy == "random":
                    if now >= random_moment:
                        self.broker.kill9()
                        return "at a random moment, %.2f s in" % (now - t0)
                elif strategy == "rename":
                    if not self.broker.alive():
                        self.broker.kill9()   # reaps it
                        return "by strace at the broker's rename #%d (per thread), %.2f s in: %s" % (
                            nth, now - t0, killer.last_rename())
                    if now >= give_up:
                        self.broker.kill9()
                        return "%.1f s in, no thread reached rename #%d" % (now - t0, nth)
                elif now - t0 >= ROUND_SECONDS[0]:
                    files = self.cleaner_files()
                    if files:
                        time.sleep(self.rng.uniform(*CLEANER_DELAY))
                        self.broker.kill9()
                        return "%.3f s after seeing %s" % (time.monotonic() - now, files[:3])
                    if now >= give_up:
                        self.broker.kill9()
                        return "no cleaner file seen in %.1f s: at that moment" % CLEANER_WAIT
        finally:
            if killer is not None:
                killer.stop()

    def check_dirs(self, mode, when):
        results = []
        for d in self.dirs:
            res = segment_check.check(d, mode=mode, index_rule=INDEX_RULE)
            if not res:
                self.fail_with_log("%s: the partition directory fails the %s check:\n%s"
                                   % (when, mode, res.report()))
            results.append(res)
        return results

    def flush(self, when):
        deadline = time.monotonic() + FLUSH_TIMEOUT
        left = len(self.producer)
        while left and time.monotonic() < deadline:
            left = self.producer.flush(1)
            self.broker.check_alive(when)
        if left:
            self.fail_with_log("%s: %d records without a delivery report after %d s"
                               % (when, left, FLUSH_TIMEOUT))

    def verify_log(self, when):
        """Reads everything back and checks it against the ledger; returns the record count."""
        got = read_everything(self.broker.bootstrap, lambda: self.broker.check_alive(when))
        total = 0
        for p in range(PARTITIONS):
            rows = got[p]
            total += len(rows)
            last = {}
            prev = -1
            for offset, key, seq, value in rows:
                if offset <= prev:
                    self.fail_with_log("%s: partition %d: offset %d read after %d (twice, or "
                                       "going back)" % (when, p, offset, prev))
                prev = offset
                if seq is None or seq not in self.ledger.sent:
                    self.fail_with_log("%s: partition %d offset %d: a record the producer never "
                                       "sent (seq header %r)" % (when, p, offset, seq))
                k = self.ledger.sent[seq]
                want = None if is_tombstone(seq) else value_of(k, seq)
                if key != key_of(k) or value != want or k % PARTITIONS != p:
                    self.fail_with_log("%s: partition %d offset %d: seq %d holds key %r value "
                                       "%r, sent as key %r value %r to partition %d"
                                       % (when, p, offset, seq, key, (value or b"")[:40],
                                          key_of(k), (want or b"")[:40], k % PARTITIONS))
                last[k] = (seq, offset)
            for k, (seq, offset) in self.ledger.acked.items():
                if k % PARTITIONS != p:
                    continue
                if k not in last:
                    self.fail_with_log("%s: key %r is gone: its latest acknowledged record is "
                                       "seq %d at offset %d%s"
                                       % (when, key_of(k), seq, offset,
                                          " (a tombstone)" if is_tombstone(seq) else ""))
                lseq, loffset = last[k]
                if lseq < seq:
                    self.fail_with_log("%s: key %r ends at seq %d (offset %d), older than its "
                                       "latest acknowledged seq %d at offset %d: a live record "
                                       "lost" % (when, key_of(k), lseq, loffset, seq, offset))
                if lseq == seq and loffset != offset:
                    self.fail_with_log("%s: key %r: seq %d was acknowledged at offset %d, read "
                                       "at %d" % (when, key_of(k), seq, offset, loffset))
        return total

    def test_ten_kills_while_cleaning(self):
        events = []
        in_cleaning = 0
        t_start = time.monotonic()
        for rnd in range(KILLS):
            how = self.produce_until_kill(rnd)
            files = sorted(set(self.cleaner_files()))
            if files:
                in_cleaning += 1
            when = "kill -9 #%d (%s)" % (rnd + 1, how)
            results = self.check_dirs("crashed", when + ", broker down")
            self.broker.start()
            for d in self.dirs:
                old = segment_check.leftovers_older_than(d, self.broker.started_ns)
                if old:
                    self.fail_with_log("%s: after the restart, %s still holds cleaner files "
                                       "from before it: %s" % (when, os.path.basename(d), old))
            self.flush(when)
            read = self.verify_log(when + ", after the restart")
            events.append("%s: %d cleaner files at the kill %s; on disk %s; restart %.2f s; "
                          "%d records read, %d acknowledged so far"
                          % (when, len(files), files[:4],
                             "; ".join(r.summary() for r in results),
                             self.broker.ready_seconds, read, self.ledger.acked_count))
            print(events[-1])
            sys.stdout.flush()
        elapsed = time.monotonic() - t_start
        print("%d rounds in %.1f s: %d records sent, %d acknowledged, %d in doubt; %d of %d "
              "kills found cleaner files" % (KILLS, elapsed, self.seq, self.ledger.acked_count,
                                             self.ledger.failed, in_cleaning, KILLS))
        self.assertGreater(self.ledger.acked_count, self.seq // 2,
                           "fewer than half the records were acknowledged; errors e.g. %s"
                           % self.ledger.errors)
        self.assertGreaterEqual(in_cleaning, MIN_KILLS_IN_CLEANING,
                                "only %d kills found cleaner files (.cleaned, .swap): the test "
                                "did not kill the broker while it cleaned" % in_cleaning)

        # Has the cleaner done its job? Wait for it to catch up, then read again.
        deadline = time.monotonic() + 30
        while True:
            read = self.verify_log("at the end")
            if read < self.ledger.acked_count // 2 or time.monotonic() > deadline:
                break
            time.sleep(1)
        print("at the end: %d records read of %d acknowledged" % (read, self.ledger.acked_count))
        self.assertLess(read, self.ledger.acked_count // 2,
                        "the log did not shrink: the cleaner did not run")

        # A clean stop: nothing torn, everything indexed; the start after it removes leftovers.
        self.broker.stop_clean()
        results = self.check_dirs("stopped", "after a clean stop")
        print("after a clean stop: " + "; ".join(r.summary() for r in results))
        self.broker.start()
        for d in self.dirs:
            self.assertEqual(segment_check.leftovers_older_than(d, self.broker.started_ns), [],
                             "cleaner files left from before the last start")
        self.verify_log("after the clean restart")


if __name__ == "__main__":
    unittest.main(verbosity=2)
