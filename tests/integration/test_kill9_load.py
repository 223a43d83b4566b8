#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""kill -9 under load (issue 14): twenty SIGKILLs at random moments while three producers, a
group consumer committing offsets and the log cleaner all work on one broker.

The broker runs with log.flush.interval.messages=1 (an acknowledgement means fdatasync returned)
and a cleaner that looks for work every 100 ms. Three topics of 3 partitions, each written by
its own librdkafka producer (acks=all) in a thread of this process, at a steady rate:
- load-plain: an idempotent producer; every record carries a sequence number (its partition is
  the number modulo 3), so that each one is unique and the order within a partition is known;
- load-compact: an idempotent producer overwriting KEYS keys over and over (a key always goes to
  the same partition), on a compacted topic with 8 KiB segments rolled at least every second and
  min.cleanable.dirty.ratio 0.01, so that the cleaner runs between kills;
- load-txn: a transactional producer; each transaction writes a few records over the three
  partitions and is committed, or, about one in five, deliberately aborted after its records
  were acknowledged (so that aborted records are in the log for read_committed to skip).
A consumer in a group reads load-plain and, after each poll, commits the next offsets
synchronously; every commit the broker acknowledged is recorded.

Acknowledged means a delivery report without error (for the transactional producer: a commit
that returned). A producer that gets a fatal error is replaced by a new one (a new producer id);
what the old one had in flight stays unacknowledged: it may be in the log, but never twice.

Twenty times: the broker runs 1 to 3 s (seeded), gets SIGKILL, stays down 0.2 to 1 s and starts
again on the same data directory and port. A kill comes then, or (a seeded choice) up to 2 s
later, a few milliseconds after the transactional producer entered commit_transaction or a
cleaner file (.cleaned, .swap) showed in a load-compact directory, so that some land inside a
commit (the prepare record, the markers) or a cleaning pass. Then, while the clients go on,
with what was acknowledged before the check began:
- load-plain: each record is one that was sent, none twice, in sequence order per partition;
  every acknowledged one is there, at the offset its delivery report gave;
- load-compact: no value twice, offsets increasing, each acknowledged record still in the log at
  its acknowledged offset; per key, values in the order they were sent (an overwritten value
  never comes back after a newer one), and the key's last record is its latest acknowledged one
  or a later one whose report the kill swallowed;
- load-txn read_committed: nothing of an aborted transaction (deliberately, or aborted after a
  failed commit), every record of every committed transaction exactly once; read_uncommitted:
  every acknowledged record exactly once, at its offset;
- OffsetFetch for the group: at least the last offset whose commit was acknowledged, for each
  partition (committed offsets never move backwards).
At the end the clients stop (the last transaction settled, the consumer's last commit made) and
everything is checked once more, now also: a transaction whose outcome the client never learnt
(its producer was replaced) is visible whole or not at all; the cleaner has cleaned load-compact
in several runs of the broker and fewer records remain than were acknowledged; each producer and
the consumer made progress after the last restart. The broker must then stop cleanly.

RUNNEL_IT_SEED fixes the kill schedule (printed); RUNNEL_IT_KILLS changes the number of kills,
RUNNEL_IT_RATE the idempotent producers' rate (records per second, 150 by default).
Runs with the confluent-kafka of whichever interpreter runs it (meson: the venv's)."""

import functools
import os
import random
import re
import threading
import time
import unittest

from confluent_kafka import (Consumer, KafkaError, KafkaException, OFFSET_BEGINNING, Producer,
                             TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic

from harness import BrokerTestCase

PLAIN, COMPACT, TXN = "load-plain", "load-compact", "load-txn"
PARTITIONS = 3
GROUP = "load-group"
KILLS = int(os.environ.get("RUNNEL_IT_KILLS", "20"))
RUN_S = (1.0, 3.0)          # the broker runs this long (from its start) before each kill
DOWN_S = (0.2, 1.0)         # and stays down this long
RATE = int(os.environ.get("RUNNEL_IT_RATE", "150"))  # records/s of each idempotent producer
TXN_RECORDS = (3, 12)       # records per transaction
TXN_PAUSE_S = 0.05          # between transactions
ABORT_SHARE = 0.2           # transactions aborted on purpose
KEYS = 90
PAD = b"." * 60
READ_TIMEOUT = 60.0         # reading a topic back must reach its end and what was acknowledged
CALL_TIMEOUT = 10.0         # one transactional call (init, commit, abort) before it is retried
STOP_TIMEOUT = 60.0
# A kill comes at a random moment, or is aimed at a transaction's commit or at a cleaning pass
# (waiting at most AIM_WAIT_S for it, then AIM_DELAY_S more).
AIMS = ("random", "commit", "cleaner")
AIM_WAIT_S = 2.0
AIM_DELAY_S = (0.0, 0.005)
MIN_CLEANED_RUNS = 3        # broker runs in which the cleaner cleaned load-compact

BROKER_SETTINGS = ("log.flush.interval.messages=1", "log.cleaner.backoff.ms=100",
                   "auto.create.topics.enable=false", "group.initial.rebalance.delay.ms=0",
                   "transaction.abort.timed.out.transaction.cleanup.interval.ms=500")
COMPACT_CONFIG = {"cleanup.policy": "compact", "segment.bytes": "8192", "segment.ms": "1000",
                  "min.cleanable.dirty.ratio": "0.01", "min.compaction.lag.ms": "0",
                  "delete.retention.ms": "86400000"}

# log_level 2: librdkafka's "Connect failed" lines, which every kill brings, stay out of the output.
CLIENT_COMMON = {"reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 200,
                 "socket.timeout.ms": 10000, "topic.metadata.refresh.interval.ms": 1000,
                 "log_level": 2}


def plain_value(seq):
    return b"P%08d:" % seq + PAD


def compact_key(k):
    return b"k%03d" % k


def compact_value(seq, k):
    return b"C%08d:k%03d:" % (seq, k) + PAD


def txn_value(txn, i):
    return b"T%06d:%03d:" % (txn, i) + PAD


class Writer(threading.Thread):
    """One producer thread; subclasses say what it writes. `sent` maps a record's id to what
    the check needs, `acked` an acknowledged id to (partition, offset); both under `lock`."""

    def __init__(self, name, bootstrap, seed):
        super().__init__(name=name, daemon=True)
        self.bootstrap = bootstrap
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.sent = {}
        self.acked = {}
        self.failed = {}           # id -> error text of a failed delivery report (in doubt)
        self.stopping = threading.Event()
        self.fatal = None          # the fatal error that the current producer reported
        self.replaced = []         # (time, error) each time the producer was replaced
        self.error = None          # an exception that ended the thread
        self.producer = None

    def config(self):
        conf = {"bootstrap.servers": self.bootstrap, "acks": "all", "linger.ms": 5,
                "enable.idempotence": True, "message.timeout.ms": 60000,
                "error_cb": self.on_error}
        conf.update(CLIENT_COMMON)
        return conf

    def on_error(self, err):
        if err.fatal():
            self.fatal = err

    def on_delivery(self, rid, err, msg):
        with self.lock:
            if err is None:
                self.acked[rid] = (msg.partition(), msg.offset())
            else:
                self.failed[rid] = str(err)

    def produce(self, topic, partition, key, value, rid, info):
        with self.lock:
            self.sent[rid] = info
        while True:
            try:
                self.producer.produce(topic, value=value, key=key, partition=partition,
                                      on_delivery=functools.partial(self.on_delivery, rid))
                return
            except BufferError:
                self.producer.poll(0.05)

    def replace_producer(self, why):
        """Drops the producer after a fatal error (what it had in flight stays in doubt) and
        makes a new one."""
        old, self.producer = self.producer, None
        self.replaced.append((time.monotonic(), str(why)))
        print("%s: replacing the producer after %s" % (self.name, why), flush=True)
        try:
            old.purge(in_queue=True, in_flight=True, blocking=False)
            old.flush(2)
        except KafkaException:
            pass
        self.fatal = None
        self.producer = Producer(self.config())

    def run(self):
        try:
            self.producer = Producer(self.config())
            self.work()
        except Exception as e:  # noqa: BLE001 - reported by the test's main thread
            import traceback
            self.error = "%s\n%s" % (e, traceback.format_exc())

    def drain(self):
        """After stopping: waits for the delivery reports of what is in flight."""
        deadline = time.monotonic() + STOP_TIMEOUT
        while len(self.producer) and time.monotonic() < deadline:
            self.producer.flush(1)

    def snapshot(self):
        with self.lock:
            return dict(self.sent), dict(self.acked)


class RateWriter(Writer):
    """An idempotent producer at RATE records per second; `record(seq)` says what seq is."""

    def work(self):
        t0 = time.monotonic()
        seq = 0
        while not self.stopping.is_set():
            if self.fatal is not None:
                self.replace_producer(self.fatal)
            due = int((time.monotonic() - t0) * RATE)
            while seq < due and not self.stopping.is_set():
                try:
                    self.produce(*self.record(seq))
                except KafkaException as e:
                    if not e.args[0].fatal():
                        raise
                    self.replace_producer(e.args[0])
                    continue
                seq += 1
            self.producer.poll(0.01)
        self.drain()


class PlainWriter(RateWriter):
    def record(self, seq):
        return PLAIN, seq % PARTITIONS, None, plain_value(seq), seq, seq % PARTITIONS


class CompactWriter(RateWriter):
    def record(self, seq):
        k = self.rng.randrange(KEYS)
        return COMPACT, k % PARTITIONS, compact_key(k), compact_value(seq, k), seq, k


class TxnWriter(Writer):
    """A transactional producer. `txns` maps a transaction's number to its state: "open",
    "committing", "committed" (commit returned), "aborted" (abort returned), "abort-intent"
    (aborted on purpose; whatever happened to the abort, never to be visible) or "doubt" (the
    producer was replaced before the client learnt the outcome). Record ids are (txn, i)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.txns = {}
        self.txn_records = {}      # txn -> [ids produced in it]
        self.commit_times = []     # when each commit returned
        self.committing = threading.Event()  # set while in commit_transaction
        self.aborts_deliberate = 0

    def config(self):
        conf = super().config()
        conf.update({"transactional.id": "load-txn-producer", "transaction.timeout.ms": 30000,
                     "message.timeout.ms": 30000})
        return conf

    def set_state(self, txn, state):
        with self.lock:
            self.txns[txn] = state

    def call(self, fn):
        """Runs a transactional call, retrying retriable errors. Returns None, "abort" (the
        transaction must be aborted) or "fatal"."""
        deadline = time.monotonic() + STOP_TIMEOUT
        while True:
            try:
                fn(CALL_TIMEOUT)
                return None
            except KafkaException as e:
                err = e.args[0]
                if err.fatal():
                    return "fatal"
                if err.txn_requires_abort():
                    return "abort"
                if not err.retriable() and err.code() != KafkaError._TIMED_OUT:
                    raise
                if time.monotonic() > deadline:
                    raise AssertionError("%s: %s still failing after %.0f s: %s"
                                         % (self.name, fn.__name__, STOP_TIMEOUT, err))

    def init(self):
        while True:
            res = self.call(self.producer.init_transactions)
            if res is None:
                return
            self.replace_producer("init_transactions: %s" % res)

    def after_fatal(self, txn):
        self.set_state(txn, "doubt" if self.txns[txn] != "abort-intent" else "abort-intent")
        self.replace_producer(self.fatal or "a fatal error")
        self.init()

    def abort(self, txn, final_state):
        res = self.call(self.producer.abort_transaction)
        if res == "fatal":
            self.after_fatal(txn)
        elif res is None:
            self.set_state(txn, final_state)
        else:
            raise AssertionError("%s: abort_transaction wants an abort" % self.name)

    def work(self):
        self.init()
        txn = 0
        while not self.stopping.is_set():
            txn += 1
            deliberate = self.rng.random() < ABORT_SHARE
            try:
                self.producer.begin_transaction()
            except KafkaException as e:
                if not e.args[0].fatal():
                    raise
                self.set_state(txn, "doubt")
                self.replace_producer(e.args[0])
                self.init()
                continue
            self.set_state(txn, "abort-intent" if deliberate else "open")
            ids = []
            with self.lock:
                self.txn_records[txn] = ids
            failed = None
            for i in range(self.rng.randint(*TXN_RECORDS)):
                rid = (txn, i)
                try:
                    self.produce(TXN, i % PARTITIONS, None, txn_value(txn, i), rid, txn)
                except KafkaException as e:
                    failed = e.args[0]
                    break
                with self.lock:
                    ids.append(rid)
                self.producer.poll(0)
            if failed is not None and failed.fatal():
                self.after_fatal(txn)
                continue
            if deliberate:
                # Let the records reach the log first, so that there is something to skip.
                self.producer.flush(CALL_TIMEOUT)
                self.aborts_deliberate += 1
                self.abort(txn, "abort-intent")
            elif failed is not None:
                self.abort(txn, "aborted")
            else:
                self.set_state(txn, "committing")
                self.committing.set()
                try:
                    res = self.call(self.producer.commit_transaction)
                finally:
                    self.committing.clear()
                if res is None:
                    self.set_state(txn, "committed")
                    self.commit_times.append(time.monotonic())
                elif res == "abort":
                    self.abort(txn, "aborted")
                else:
                    self.after_fatal(txn)
            time.sleep(TXN_PAUSE_S)
        self.drain()

    def snapshot(self):
        with self.lock:
            return (dict(self.sent), dict(self.acked), dict(self.txns),
                    {t: list(ids) for t, ids in self.txn_records.items()})


class GroupReader(threading.Thread):
    """A group member reading load-plain and committing, after each poll, the next offset of
    each partition it read, synchronously. `acked[p]` is the highest offset whose commit the
    broker acknowledged; `backwards` lists acknowledged commits below an earlier one."""

    def __init__(self, bootstrap):
        super().__init__(name="group-reader", daemon=True)
        self.bootstrap = bootstrap
        self.lock = threading.Lock()
        self.acked = {}
        self.commits = 0
        self.backwards = []
        self.failures = {}         # error text -> how many commits failed with it
        self.last_ack = None       # time of the last acknowledged commit
        self.longest_gap = (0.0, None)  # (seconds without an acknowledged commit, until when)
        self.stopping = threading.Event()
        self.error = None

    def failed(self, err):
        with self.lock:
            self.failures[err] = self.failures.get(err, 0) + 1

    def commit(self, consumer, pending):
        offsets = [TopicPartition(PLAIN, p, o) for p, o in sorted(pending.items())]
        try:
            result = consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as e:
            self.failed(str(e.args[0].name()))
            return False     # not acknowledged; the next poll's commit covers it
        ok = True
        now = time.monotonic()
        for tp in result:
            if tp.error is not None:
                self.failed(tp.error.name())
        with self.lock:
            for tp in result:
                if tp.error is not None:
                    ok = False
                    continue
                if self.last_ack is not None and now - self.last_ack > self.longest_gap[0]:
                    self.longest_gap = (now - self.last_ack, now)
                self.last_ack = now
                prev = self.acked.get(tp.partition, -1)
                if tp.offset < prev:
                    self.backwards.append((tp.partition, prev, tp.offset))
                self.acked[tp.partition] = max(prev, tp.offset)
                self.commits += 1
                pending.pop(tp.partition, None)
        return ok

    def run(self):
        try:
            conf = {"bootstrap.servers": self.bootstrap, "group.id": GROUP,
                    "enable.auto.commit": False, "auto.offset.reset": "earliest",
                    "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000}
            conf.update(CLIENT_COMMON)
            consumer = Consumer(conf)
            consumer.subscribe([PLAIN])
            pending = {}
            while not self.stopping.is_set():
                for msg in consumer.consume(500, 0.2):
                    if msg.error():
                        self.failed("consume: " + msg.error().name())
                        continue
                    pending[msg.partition()] = msg.offset() + 1
                if pending:
                    self.commit(consumer, pending)
            deadline = time.monotonic() + STOP_TIMEOUT
            while pending and time.monotonic() < deadline:
                if not self.commit(consumer, pending):
                    consumer.poll(0.2)
            consumer.close()
        except Exception as e:  # noqa: BLE001
            import traceback
            self.error = "%s\n%s" % (e, traceback.format_exc())

    def snapshot(self):
        with self.lock:
            return dict(self.acked), self.commits


def read_back(bootstrap, topics, isolation, expected):
    """{(topic, partition): [(offset, key, value)]} from the beginning of each partition to its
    end, reading on until every (topic, value) in `expected` was seen (markers of a committed
    transaction may come after its commit returned). The writers go on meanwhile: a partition
    is done once it reached its end, what was acknowledged before the call lying below it."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "load-verify",
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "auto.offset.reset": "error", "check.crcs": True,
                  "isolation.level": isolation, **CLIENT_COMMON})
    parts = [(t, p) for t in topics for p in range(PARTITIONS)]
    got = {tp: [] for tp in parts}
    missing = set(expected)
    try:
        c.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in parts])
        eof = set()
        deadline = time.monotonic() + READ_TIMEOUT
        while (len(eof) < len(parts) or missing) and time.monotonic() < deadline:
            for msg in c.consume(2000, 0.2):
                tp = (msg.topic(), msg.partition())
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        eof.add(tp)
                        continue
                    raise AssertionError("%s consumer error: %s" % (isolation, msg.error()))
                got[tp].append((msg.offset(), msg.key(), msg.value()))
                missing.discard((msg.topic(), msg.value()))
        if len(eof) < len(parts) or missing:
            raise AssertionError(
                "%s: reading %s back, after %.0f s: ends of %s not reached, %d acknowledged "
                "records not seen (some: %s)"
                % (isolation, topics, READ_TIMEOUT, sorted(set(parts) - eof), len(missing),
                   sorted(missing)[:5]))
        return got
    finally:
        c.close()


class Kill9Load(BrokerTestCase):
    overrides = BROKER_SETTINGS

    def setUp(self):
        super().setUp()
        self.seed = int(os.environ.get("RUNNEL_IT_SEED", str(int(time.time() * 1000) % 1000000)))
        self.rng = random.Random(self.seed)
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        fs = admin.create_topics([NewTopic(PLAIN, PARTITIONS, 1),
                                  NewTopic(COMPACT, PARTITIONS, 1, config=COMPACT_CONFIG),
                                  NewTopic(TXN, PARTITIONS, 1)], request_timeout=20)
        for f in fs.values():
            f.result(timeout=30)
        self.threads = []
        self.addCleanup(self.stop_threads)

    def stop_threads(self):
        for t in self.threads:
            t.stopping.set()
        for t in self.threads:
            t.join(STOP_TIMEOUT + 10)

    def fail_with_log(self, why):
        self.broker.dump_log()
        self.fail("seed %d: %s" % (self.seed, why))

    def check_threads(self, when):
        for t in self.threads:
            if t.error:
                self.fail_with_log("%s: thread %s failed: %s" % (when, t.name, t.error))
        if not self.broker.alive():
            self.fail_with_log("%s: the broker died by itself (exit status %s)"
                               % (when, self.broker.proc.poll() if self.broker.proc else None))

    # -- checks --------------------------------------------------------------------------------

    def check_plain(self, got, acked, when):
        seen = {}
        for p in range(PARTITIONS):
            last = -1
            prev = -1
            for offset, _, value in got[(PLAIN, p)]:
                m = re.fullmatch(rb"P(\d{8}):\.+", value or b"")
                if not m:
                    self.fail_with_log("%s: %s-%d offset %d: a record never sent: %r"
                                       % (when, PLAIN, p, offset, value[:40]))
                seq = int(m.group(1))
                if offset <= prev:
                    self.fail_with_log("%s: %s-%d: offset %d after %d"
                                       % (when, PLAIN, p, offset, prev))
                prev = offset
                if seq in seen:
                    self.fail_with_log("%s: %s: seq %d twice, at %s and %s-%d offset %d"
                                       % (when, PLAIN, seq, seen[seq], PLAIN, p, offset))
                seen[seq] = (p, offset)
                if seq % PARTITIONS != p or seq <= last:
                    self.fail_with_log("%s: %s-%d offset %d: seq %d out of order (previous %d)"
                                       % (when, PLAIN, p, offset, seq, last))
                last = seq
                if seq in acked and acked[seq] != (p, offset):
                    self.fail_with_log("%s: %s seq %d at partition %d offset %d, acknowledged "
                                       "at %s" % (when, PLAIN, seq, p, offset, acked[seq]))
        lost = sorted(set(acked) - set(seen))
        if lost:
            self.fail_with_log("%s: %s: %d acknowledged records lost, first %s"
                               % (when, PLAIN, len(lost), [(s, acked[s]) for s in lost[:5]]))
        return len(seen)

    def check_compact(self, got, sent, acked, when):
        seen = {}
        latest_acked = {}
        for seq, (p, offset) in acked.items():
            k = sent[seq]
            if latest_acked.get(k, (-1,))[0] < seq:
                latest_acked[k] = (seq, p, offset)
        count = 0
        for p in range(PARTITIONS):
            prev = -1
            last = {}          # key -> seq of its last record so far
            for offset, key, value in got[(COMPACT, p)]:
                count += 1
                m = re.fullmatch(rb"C(\d{8}):k(\d{3}):\.+", value or b"")
                if not m or key != compact_key(int(m.group(2))):
                    self.fail_with_log("%s: %s-%d offset %d: a record never sent: key %r value %r"
                                       % (when, COMPACT, p, offset, key, (value or b"")[:40]))
                seq, k = int(m.group(1)), int(m.group(2))
                if sent.get(seq) != k or k % PARTITIONS != p:
                    self.fail_with_log("%s: %s-%d offset %d: seq %d key %d was not sent so"
                                       % (when, COMPACT, p, offset, seq, k))
                if offset <= prev:
                    self.fail_with_log("%s: %s-%d: offset %d after %d"
                                       % (when, COMPACT, p, offset, prev))
                prev = offset
                if seq in seen:
                    self.fail_with_log("%s: %s: value of seq %d twice, at %s and %s-%d offset %d"
                                       % (when, COMPACT, seq, seen[seq], COMPACT, p, offset))
                seen[seq] = (p, offset)
                if seq in acked and acked[seq] != (p, offset):
                    self.fail_with_log("%s: %s seq %d at partition %d offset %d, acknowledged "
                                       "at %s" % (when, COMPACT, seq, p, offset, acked[seq]))
                if last.get(k, -1) >= seq:
                    self.fail_with_log("%s: %s-%d offset %d: key %d's seq %d after its seq %d "
                                       "(an overwritten value came back)"
                                       % (when, COMPACT, p, offset, k, seq, last[k]))
                last[k] = seq
            for k, (seq, kp, offset) in latest_acked.items():
                if kp != p:
                    continue
                if last.get(k, -1) < seq:
                    self.fail_with_log("%s: %s key %d ends at seq %s, older than its latest "
                                       "acknowledged seq %d at offset %d: a live record lost"
                                       % (when, COMPACT, k, last.get(k), seq, offset))
        return count

    def check_txn(self, committed, uncommitted, sent, acked, txns, txns_after, records, when,
                  final):
        """`txns`: the transactions' states before the reading (committed ones must be whole);
        `txns_after`: after it (aborted ones must be invisible)."""
        # read_uncommitted: every acknowledged record once, at its offset.
        seen = {}
        for p in range(PARTITIONS):
            prev = -1
            for offset, _, value in uncommitted[(TXN, p)]:
                m = re.fullmatch(rb"T(\d{6}):(\d{3}):\.+", value or b"")
                if not m:
                    self.fail_with_log("%s: %s-%d offset %d: a record never sent: %r"
                                       % (when, TXN, p, offset, (value or b"")[:40]))
                rid = (int(m.group(1)), int(m.group(2)))
                if rid not in sent or rid[1] % PARTITIONS != p:
                    self.fail_with_log("%s: %s-%d offset %d: %s was not sent so"
                                       % (when, TXN, p, offset, rid))
                if offset <= prev:
                    self.fail_with_log("%s: %s-%d: offset %d after %d"
                                       % (when, TXN, p, offset, prev))
                prev = offset
                if rid in seen:
                    self.fail_with_log("%s: %s read_uncommitted: %s twice, at %s and %d offset %d"
                                       % (when, TXN, rid, seen[rid], p, offset))
                seen[rid] = (p, offset)
                if rid in acked and acked[rid] != (p, offset):
                    self.fail_with_log("%s: %s %s at partition %d offset %d, acknowledged at %s"
                                       % (when, TXN, rid, p, offset, acked[rid]))
        lost = sorted(set(acked) - set(seen))
        if lost:
            self.fail_with_log("%s: %s read_uncommitted: %d acknowledged records lost, first %s"
                               % (when, TXN, len(lost), lost[:5]))
        # read_committed: nothing aborted, every committed transaction whole and once.
        visible = {}
        for p in range(PARTITIONS):
            for offset, _, value in committed[(TXN, p)]:
                m = re.fullmatch(rb"T(\d{6}):(\d{3}):\.+", value or b"")
                rid = (int(m.group(1)), int(m.group(2))) if m else None
                if rid not in sent:
                    self.fail_with_log("%s: %s read_committed offset %d: a record never sent: %r"
                                       % (when, TXN, offset, (value or b"")[:40]))
                if rid in visible:
                    self.fail_with_log("%s: %s read_committed: %s twice" % (when, TXN, rid))
                visible[rid] = (p, offset)
                state = txns_after.get(rid[0])
                if state in ("aborted", "abort-intent"):
                    self.fail_with_log("%s: %s read_committed sees %s at partition %d offset %d, "
                                       "of transaction %d, which was %s"
                                       % (when, TXN, rid, p, offset, rid[0], state))
        by_txn = {}
        for rid in visible:
            by_txn.setdefault(rid[0], set()).add(rid)
        for txn, state in txns.items():
            want = set(records.get(txn, ()))
            have = by_txn.get(txn, set())
            if state == "committed" and have != want:
                self.fail_with_log("%s: %s: committed transaction %d: read_committed sees %d of "
                                   "its %d records (missing %s)"
                                   % (when, TXN, txn, len(have), len(want),
                                      sorted(want - have)[:5]))
            if final and state == "doubt" and have and not (want & set(acked)) <= have:
                self.fail_with_log("%s: %s: transaction %d of unknown outcome is partly visible: "
                                   "%s of its acknowledged %s"
                                   % (when, TXN, txn, sorted(have), sorted(want & set(acked))))
        return len(visible), len(seen)

    def check_offsets(self, reader, when):
        acked, _ = reader.snapshot()
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": GROUP,
                      "enable.auto.commit": False, **CLIENT_COMMON})
        try:
            deadline = time.monotonic() + READ_TIMEOUT
            while True:
                try:
                    got = c.committed([TopicPartition(PLAIN, p) for p in range(PARTITIONS)],
                                      timeout=CALL_TIMEOUT)
                    break
                except KafkaException as e:
                    if time.monotonic() > deadline:
                        self.fail_with_log("%s: OffsetFetch keeps failing: %s" % (when, e))
                    time.sleep(0.2)
        finally:
            c.close()
        fetched = {tp.partition: tp.offset for tp in got}
        for p, offset in acked.items():
            if fetched.get(p, -1) < offset:
                self.fail_with_log("%s: group %s partition %d: OffsetFetch answers %s, below the "
                                   "acknowledged commit of offset %d"
                                   % (when, GROUP, p, fetched.get(p), offset))
        if reader.backwards:
            self.fail_with_log("%s: acknowledged commits went backwards: %s"
                               % (when, reader.backwards[:5]))
        return fetched

    def verify(self, when, final=False):
        t0 = time.monotonic()
        psent, packed = self.plain.snapshot()
        csent, cacked = self.compact.snapshot()
        tsent, tacked, txns, records = self.txn.snapshot()
        committed_ids = {rid for t, s in txns.items() if s == "committed" for rid in records[t]}
        # Not the compacted topic's: the cleaner may replace a key's latest acknowledged value by
        # a newer one written since. Reaching the end of its partitions is enough there (what was
        # acknowledged lies below the high watermark).
        expected = ({(PLAIN, plain_value(s)) for s in packed}
                    | {(TXN, txn_value(*rid)) for rid in tacked})
        uncommitted = read_back(self.broker.bootstrap, (PLAIN, COMPACT, TXN), "read_uncommitted",
                                expected)
        committed = read_back(self.broker.bootstrap, (TXN,), "read_committed",
                              {(TXN, txn_value(*rid)) for rid in committed_ids})
        # The writers went on while we read: what was acknowledged before the reading must be
        # there; what was sent up to its end may be (sent, the transactions' outcomes and their
        # records only grow).
        csent = self.compact.snapshot()[0]
        tsent, _, txns_after, records = self.txn.snapshot()
        n_plain = self.check_plain(uncommitted, packed, when)
        n_compact = self.check_compact(uncommitted, csent, cacked, when)
        n_rc, n_ru = self.check_txn(committed, uncommitted, tsent, tacked, txns, txns_after,
                                    records, when, final)
        fetched = self.check_offsets(self.reader, when)
        states = {}
        for s in txns.values():
            states[s] = states.get(s, 0) + 1
        print("%s: checked in %.1f s: %s %d records (%d acknowledged); %s %d records "
              "(%d acknowledged, %d keys); %s %d read_committed, %d read_uncommitted, "
              "transactions %s; group offsets %s"
              % (when, time.monotonic() - t0, PLAIN, n_plain, len(packed), COMPACT, n_compact,
                 len(cacked), len(set(csent[s] for s in cacked)), TXN, n_rc, n_ru, states,
                 [fetched.get(p) for p in range(PARTITIONS)]), flush=True)
        return n_compact, len(cacked)

    # -- the test ------------------------------------------------------------------------------

    def test_kill9_under_load(self):
        schedule = [(round(self.rng.uniform(*RUN_S), 2), round(self.rng.uniform(*DOWN_S), 2),
                     self.rng.choice(AIMS)) for _ in range(KILLS)]
        print("seed %d: %d kills, (run s, down s, aim): %s" % (self.seed, KILLS, schedule),
              flush=True)
        bootstrap = self.broker.bootstrap
        self.plain = PlainWriter("plain-writer", bootstrap, self.seed + 1)
        self.compact = CompactWriter("compact-writer", bootstrap, self.seed + 2)
        self.txn = TxnWriter("txn-writer", bootstrap, self.seed + 3)
        self.reader = GroupReader(bootstrap)
        self.threads = [self.plain, self.compact, self.txn, self.reader]
        for t in self.threads:
            t.start()
        t_start = time.monotonic()
        started = time.monotonic()
        progress_at_last_start = None
        restarts = []
        aimed = {}
        for n, (run_s, down_s, aim) in enumerate(schedule, 1):
            while time.monotonic() < started + run_s:
                self.check_threads("before kill %d" % n)
                time.sleep(0.05)
            if self.wait_for_aim(aim):
                aimed[aim] = aimed.get(aim, 0) + 1
            self.check_threads("before kill %d" % n)
            port = self.broker.port
            self.broker.kill9()
            time.sleep(down_s)
            self.broker.start(port=port)
            started = time.monotonic()
            restarts.append(started)
            self.assertEqual(self.broker.port, port, "restarted on another port")
            self.check_threads("after kill %d" % n)
            self.verify("kill %d/%d (%.1f s in)" % (n, KILLS, time.monotonic() - t_start))
            progress_at_last_start = self.progress()
        # A last stretch of work, then everything stops and settles.
        time.sleep(2.0)
        self.check_threads("at the end")
        for t in self.threads:
            t.stopping.set()
        for t in self.threads:
            t.join(STOP_TIMEOUT + 10)
            if t.is_alive():
                self.fail_with_log("thread %s did not stop within %.0f s" % (t.name, STOP_TIMEOUT))
        self.check_threads("after stopping the clients")
        n_compact, acked_compact = self.verify("final", final=True)
        after = self.progress()
        stalled = [name for name, before in progress_at_last_start.items() if after[name] <= before]
        if stalled:
            self.fail_with_log("no progress after the last restart: %s (before %s, after %s)"
                               % (stalled, progress_at_last_start, after))
        cleaned_runs = self.cleaned_runs()
        replaced = {t.name: len(t.replaced) for t in (self.plain, self.compact, self.txn)}
        delays = []
        for t in restarts:
            later = [c for c in self.txn.commit_times if c > t]
            if later:
                delays.append(round(later[0] - t, 1))
        print("txn writer: seconds from each restart to its first commit: %s" % delays, flush=True)
        print("kills that found the moment they were aimed at: %s of %s"
              % (aimed, {a: sum(1 for x in schedule if x[2] == a) for a in AIMS}), flush=True)
        gap, until = self.reader.longest_gap
        print("group reader: failed commits and errors %s; longest time without an acknowledged "
              "commit %.1f s, until %.1f s in"
              % (self.reader.failures, gap, (until or t_start) - t_start), flush=True)
        print("seed %d: %d kills in %.1f s; the cleaner cleaned %s in %d of %d broker runs; "
              "%d of %d acknowledged %s records remain; deliberate aborts %d; producers "
              "replaced %s; %d commits acknowledged"
              % (self.seed, KILLS, time.monotonic() - t_start, COMPACT, cleaned_runs,
                 self.broker.runs, n_compact, acked_compact, COMPACT, self.txn.aborts_deliberate,
                 replaced, self.reader.snapshot()[1]), flush=True)
        if KILLS >= 10:
            self.assertGreaterEqual(cleaned_runs, MIN_CLEANED_RUNS,
                                    "the cleaner cleaned %s in too few broker runs" % COMPACT)
        self.assertLess(n_compact, acked_compact, "compaction removed nothing")
        self.assertGreater(self.txn.aborts_deliberate, 0, "no transaction was aborted on purpose")

    def wait_for_aim(self, aim):
        """Waits (at most AIM_WAIT_S) for the moment a kill is aimed at, then a few random
        milliseconds; True when the moment came. "commit": the transactional producer is in
        commit_transaction (EndTxn, the prepare record, the markers); "cleaner": a cleaner file
        (.cleaned, .swap) is in a load-compact partition directory."""
        if aim == "random":
            return False
        deadline = time.monotonic() + AIM_WAIT_S
        dirs = [os.path.join(self.broker.data_dir, "%s-%d" % (COMPACT, p))
                for p in range(PARTITIONS)]
        while time.monotonic() < deadline:
            if aim == "commit":
                hit = self.txn.committing.is_set()
            else:
                hit = False
                for d in dirs:
                    try:
                        hit = hit or any(f.endswith((".cleaned", ".swap")) for f in os.listdir(d))
                    except FileNotFoundError:
                        pass
            if hit:
                time.sleep(self.rng.uniform(*AIM_DELAY_S))
                return True
            time.sleep(0.0005)
        return False

    def progress(self):
        return {"plain": len(self.plain.snapshot()[1]), "compact": len(self.compact.snapshot()[1]),
                "txn": len(self.txn.snapshot()[1]), "group": self.reader.snapshot()[1]}

    def cleaned_runs(self):
        """How many runs of the broker logged a cleaning of a load-compact partition."""
        runs = 0
        lines = self.broker.lines()
        bounds = list(self.broker._run_starts) + [len(lines)]
        for a, b in zip(bounds, bounds[1:]):
            if any(COMPACT in line and "cleaned offsets" in line for line in lines[a:b]):
                runs += 1
        return runs


if __name__ == "__main__":
    unittest.main()
