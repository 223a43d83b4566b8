#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Log compaction (issue 12), with confluent-kafka against Runnel or, with
RUNNEL_TEST_BROKER=kafka, Apache Kafka 4.4, whose cleaner proves the test right
(compaction_common.py has the broker, the topic settings and the raw helpers).

1. Acceptance: RECORDS records (1,000,000; RUNNEL_COMPACTION_RECORDS for fewer) over 10,000
   keys in 2 partitions, lz4-compressed, values carrying a per-key version, then tombstones for
   1,000 of the keys. After a roll and a cleaning pass a consumer from the beginning sees exactly
   one record per key at the offset its last delivery report gave: the latest value of a live
   key, the tombstone of a deleted one; offsets strictly increase. A second pass that runs before
   delete.retention.ms can have passed keeps the tombstones; a pass after it drops every one of
   them and nothing else. The partition sizes (DescribeLogDirs) shrink to less than 3 times the
   bytes of the live records plus 64 KiB.
2. Produce and consume while the cleaner works: a producer overwrites 1,000 keys for
   CHURN_SECONDS in 1 MiB segments rolled every second, so the cleaner runs again and again
   underneath; a consumer tails the partition the whole time, and another reads it from the
   beginning to its end over and over. Each such read, at the end offset E it reached, has for
   every key exactly the latest acknowledged value below E; the tail consumer's last value of
   each key is the last acknowledged one. A consumer that committed an offset early, inside a
   region cleaned later, resumes there without error and sees exactly what is left after it.
3. (test_compaction_txn.py) transactions.
4. A record without a key is refused on a compacted topic with Kafka 4.4's answer: error 87
   (INVALID_RECORD), record_errors naming each keyless record by its index in the batch with
   "Compacted topic cannot accept message without key in topic partition T-P", and nothing of
   the batch is appended (facts: /work/facts/compaction-keyless.md).

RUNNEL_IT_SEED fixes the random keys (the seed is printed)."""

import bisect
import os
import random
import threading
import time
import unittest

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, TopicPartition

import compaction_common as cc
import kafka_wire as w
from harness import KafkaSocket

SEED = int(os.environ.get("RUNNEL_IT_SEED", str(int(time.time() * 1000) % 1000000)))
RECORDS = int(os.environ.get("RUNNEL_COMPACTION_RECORDS", "1000000"))
KEYS = 10000
DELETED = 1000
PARTITIONS = 2
RETENTION_MS = 15000          # delete.retention.ms of test 1
CHURN_KEYS = 20               # keys that make the log dirty again, 100 records each
SIZE_FACTOR = 3
SIZE_SLACK = 64 << 10
FILLER = b" " + b"abcdefghij" * 4
CLEAN_TIMEOUT = 180.0         # one cleaning pass, seen from outside

CHURN_SECONDS = float(os.environ.get("RUNNEL_COMPACTION_CHURN_SECONDS", "20"))
CHURN_RATE = 6000             # records per second
OVERWRITE_KEYS = 1000


def setUpModule():
    cc.start_broker()
    cc.log("seed %d, %d records", SEED, RECORDS)


def key_name(i):
    return b"key-%05d" % i


def compare(got, expect):
    """None when `got` [(offset, key, value)] holds exactly `expect` {key: (offset, value)};
    otherwise a short account of the differences."""
    seen = {}
    dup, wrong, extra = [], [], []
    for off, k, v in got:
        if k in seen:
            dup.append((k, seen[k][0], off))
        seen[k] = (off, v)
        if k not in expect:
            extra.append((k, off, v))
        elif expect[k] != (off, v):
            wrong.append((k, "got", off, v, "want", expect[k]))
    missing = [(k, expect[k]) for k in expect if k not in seen]
    if not (dup or wrong or extra or missing):
        return None
    return ("%d records for %d expected keys: %d keys twice %s, %d keys missing %s, %d wrong %s, "
            "%d unexpected %s" % (len(got), len(expect), len(dup), dup[:3], len(missing),
                                  missing[:3], len(wrong), wrong[:3], len(extra), extra[:3]))


class Acceptance(unittest.TestCase):
    """Test 1: a million records, tombstones, their retention, and the size of what is left."""

    def test_compaction_keeps_the_latest_record_of_each_key_and_tombstones_for_a_while(self):
        topic = cc.unique("acceptance")
        cc.create_topic(topic, PARTITIONS, delete_retention_ms=RETENTION_MS)
        rng = random.Random(SEED)
        expect = {p: {} for p in range(PARTITIONS)}      # partition -> key -> (offset, value)
        errors = []

        def on_delivery(err, msg):
            if err is not None:
                errors.append(err)
                return
            e = expect[msg.partition()]
            k = msg.key()
            old = e.get(k)
            if old is None or msg.offset() > old[0]:
                e[k] = (msg.offset(), msg.value())

        p = cc.producer(**{"linger.ms": 20, "compression.type": "lz4",
                           "batch.num.messages": 10000, "queue.buffering.max.messages": 400000,
                           "on_delivery": on_delivery})
        versions = [0] * KEYS
        t0 = time.monotonic()

        def send(i, value):
            while True:
                try:
                    p.produce(topic, key=key_name(i), value=value, partition=i % PARTITIONS)
                    return
                except BufferError:
                    p.poll(0.01)

        for n in range(RECORDS):
            i = rng.randrange(KEYS)
            versions[i] += 1
            send(i, b"%s v%06d %s%s" % (key_name(i), versions[i], os.urandom(12).hex().encode(),
                                        FILLER))
            if n % 20000 == 0:
                p.poll(0)
        deleted = rng.sample(range(KEYS), DELETED)
        for i in deleted:
            send(i, None)
        self.assertEqual(p.flush(120), 0, "records left unflushed")
        self.assertEqual(errors, [], "delivery errors")
        produce_s = time.monotonic() - t0
        sizes_produced = cc.log_sizes(topic, PARTITIONS)
        cc.log("test 1: %d records and %d tombstones produced in %.1f s; sizes %s",
               RECORDS, DELETED, produce_s, sizes_produced)
        gone = set(deleted)
        self.assertEqual(sum(len(e) for e in expect.values()),
                         len({i for i in range(KEYS) if versions[i]} | gone),
                         "every key written has its latest delivery report")
        for i in deleted:
            self.assertIsNone(expect[i % PARTITIONS][key_name(i)][1])

        def add(sentinels):
            for part, (k, v, off) in sentinels.items():
                expect[part][k] = (off, v)

        def live_bytes(part, e=None):
            return sum(len(k) + len(v or b"") for k, (_, v) in (e or expect[part]).items())

        def check(parts_expect, size_gate=True):
            """(ok, why) for one read of every partition against `parts_expect`."""
            if size_gate:
                sizes = cc.log_sizes(topic, PARTITIONS)
                for part in range(PARTITIONS):
                    bound = SIZE_FACTOR * live_bytes(part, parts_expect[part]) + SIZE_SLACK
                    if sizes[part] > bound:
                        return False, "partition %d: %d bytes, more than %d" % (part, sizes[part],
                                                                                bound)
            for part in range(PARTITIONS):
                got, _end = cc.read_partition(topic, part, deadline_s=60)
                why = compare(got, parts_expect[part])
                if why:
                    return False, "partition %d: %s" % (part, why)
            return True, None

        # Pass 1: everything but the sentinels leaves the active segment.
        t_roll1 = time.monotonic()
        add(cc.roll(topic, PARTITIONS, "1"))
        _, pass1_s = cc.wait_until("first cleaning (one record per key, tombstones kept)",
                                   lambda: check(expect), CLEAN_TIMEOUT)
        t_pass1 = time.monotonic()
        sizes_pass1 = cc.log_sizes(topic, PARTITIONS)
        cc.log("test 1: first pass seen %.1f s after the roll; sizes %s (live bytes %s)",
               t_pass1 - t_roll1, sizes_pass1,
               [live_bytes(part) for part in range(PARTITIONS)])

        # Pass 2, before delete.retention.ms can have passed: make the log dirty again with
        # CHURN_KEYS keys written 100 times each.
        churn = [(n % CHURN_KEYS, b"churn-a-%02d" % (n % CHURN_KEYS), b"churn a %05d" % n)
                 for n in range(100 * CHURN_KEYS)]
        acked = cc.produce_all(cc.producer(), [(j % PARTITIONS, k, v) for j, k, v in churn],
                               topic)
        for (j, k, v), (part, off) in zip(churn, acked):
            expect[part][k] = (off, v)
        add(cc.roll(topic, PARTITIONS, "2"))
        without = {part: {k: ov for k, ov in e.items() if ov[1] is not None}
                   for part, e in expect.items()}

        def pass2():
            ok, why = check(expect, size_gate=False)
            if ok:
                return True, "with tombstones"
            ok2, why2 = check(without, size_gate=False)
            return ok2, ("without tombstones" if ok2 else "%s / without tombstones: %s"
                         % (why, why2))

        how, pass2_s = cc.wait_until("second cleaning (churn keys once each)", pass2,
                                     CLEAN_TIMEOUT)
        t_pass2 = time.monotonic()
        if t_pass2 < t_roll1 + RETENTION_MS / 1000.0:
            self.assertEqual(how, "with tombstones",
                             "a pass %.1f s after the first roll, before delete.retention.ms "
                             "(%d ms) since the first cleaning, dropped tombstones"
                             % (t_pass2 - t_roll1, RETENTION_MS))
            cc.log("test 1: second pass seen %.1f s after the first roll kept the tombstones",
                   t_pass2 - t_roll1)
        else:
            cc.log("test 1: second pass seen %.1f s after the first roll, too late to check that "
                   "it keeps the tombstones (%s)", t_pass2 - t_roll1, how)

        # Pass 3, after delete.retention.ms since the first cleaning (which happened before
        # t_pass1): the tombstones go.
        wait = t_pass1 + RETENTION_MS / 1000.0 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        churn = [(n % CHURN_KEYS, b"churn-b-%02d" % (n % CHURN_KEYS), b"churn b %05d" % n)
                 for n in range(100 * CHURN_KEYS)]
        acked = cc.produce_all(cc.producer(), [(j % PARTITIONS, k, v) for j, k, v in churn],
                               topic)
        for (j, k, v), (part, off) in zip(churn, acked):
            expect[part][k] = (off, v)
        add(cc.roll(topic, PARTITIONS, "3"))
        final = {part: {k: ov for k, ov in e.items() if ov[1] is not None}
                 for part, e in expect.items()}
        _, pass3_s = cc.wait_until("cleaning after delete.retention.ms (no tombstones left)",
                                   lambda: check(final), CLEAN_TIMEOUT)
        sizes_final = cc.log_sizes(topic, PARTITIONS)
        live = [live_bytes(part, final[part]) for part in range(PARTITIONS)]
        cc.log("test 1: tombstones gone %.1f s after the third roll; %d live keys; sizes: "
               "produced %s, after pass 1 %s, final %s; live record bytes %s",
               pass3_s, sum(len(e) for e in final.values()), sizes_produced, sizes_pass1,
               sizes_final, live)
        for part in range(PARTITIONS):
            self.assertEqual(len([k for k in final[part] if k.startswith(b"key-")]),
                             len([i for i in range(KEYS) if i % PARTITIONS == part
                                  and versions[i] and i not in gone]))
            # The size right after producing is no baseline: the cleaner runs while the
            # records arrive (1 MiB segments, a dirty ratio of 1 %), so that size is already
            # partly cleaned, by how much depends on the machine's speed. The records checks
            # above (each live key once, reading from the beginning) say the log holds the
            # live set; this says its bytes are about those of the live set too.
            self.assertLess(sizes_final[part], SIZE_FACTOR * live[part] + SIZE_SLACK,
                            "partition %d did not shrink to about its live set" % part)


class ProduceConsumeDuringCleaning(unittest.TestCase):
    """Test 2: no loss while the cleaner rewrites the segments under producers and consumers."""

    def test_reading_to_the_end_always_yields_the_latest_value_of_every_key(self):
        topic = cc.unique("churn")
        cc.create_topic(topic, 1, delete_retention_ms=60000)
        rng = random.Random(SEED + 2)
        acked = {}              # key -> [(offset, value)], offsets increasing
        errors = []
        failures = []
        stop = threading.Event()
        producing = threading.Event()
        producing.set()
        snapshots = []          # (end offset, {key: (offset, value)}, records, during production)

        def on_delivery(err, msg):
            if err is not None:
                errors.append(err)
                return
            acked.setdefault(msg.key(), []).append((msg.offset(), msg.value()))

        def snapshot_reader():
            try:
                while not stop.is_set():
                    during = producing.is_set()
                    got, end = cc.read_partition(topic, 0, deadline_s=60)
                    last = {}
                    for off, k, v in got:
                        last[k] = (off, v)
                    snapshots.append((end, last, len(got), during and producing.is_set()))
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                failures.append("snapshot reader: %r" % e)

        tail_last = {}
        tail_end = [None]

        def tail_reader():
            c = Consumer({"bootstrap.servers": cc.bootstrap(), "group.id": cc.unique("tail"),
                          "enable.auto.commit": False, "enable.partition.eof": True,
                          "auto.offset.reset": "error", "check.crcs": True,
                          "fetch.wait.max.ms": 100})
            prev = -1
            try:
                c.assign([TopicPartition(topic, 0, 0)])
                deadline = None
                while True:
                    if stop.is_set() and deadline is None:
                        deadline = time.monotonic() + 60
                    if deadline is not None and time.monotonic() > deadline:
                        failures.append("tail reader: end %s not reached" % final_end[0])
                        return
                    for m in c.consume(1000, 0.2):
                        if m.error() is not None:
                            if m.error().code() == KafkaError._PARTITION_EOF:
                                if final_end[0] is not None and m.offset() >= final_end[0]:
                                    tail_end[0] = m.offset()
                                    return
                                continue
                            failures.append("tail reader: %s" % m.error())
                            return
                        if m.offset() <= prev:
                            failures.append("tail reader: offset %d after %d"
                                            % (m.offset(), prev))
                            return
                        prev = m.offset()
                        tail_last[m.key()] = (m.offset(), m.value())
            except Exception as e:  # noqa: BLE001
                failures.append("tail reader: %r" % e)
            finally:
                c.close()

        final_end = [None]
        threads = [threading.Thread(target=snapshot_reader, name="snapshots", daemon=True),
                   threading.Thread(target=tail_reader, name="tail", daemon=True)]
        p = cc.producer(**{"linger.ms": 5, "compression.type": "zstd",
                           "on_delivery": on_delivery})
        for t in threads:
            t.start()
        versions = [0] * OVERWRITE_KEYS
        group = cc.unique("midway")
        committed = None
        n = 0
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < CHURN_SECONDS:
                due = int((time.monotonic() - t0) * CHURN_RATE)
                while n < due:
                    i = rng.randrange(OVERWRITE_KEYS)
                    versions[i] += 1
                    value = b"%s v%06d %s" % (key_name(i), versions[i], os.urandom(48).hex()
                                              .encode())
                    try:
                        p.produce(topic, key=key_name(i), value=value, partition=0)
                    except BufferError:
                        break
                    n += 1
                p.poll(0.01)
                if committed is None and time.monotonic() - t0 > CHURN_SECONDS / 4:
                    committed = self.commit_midway(topic, group)
            self.assertEqual(p.flush(60), 0, "records left unflushed")
        finally:
            producing.clear()
        self.assertEqual(errors, [], "delivery errors")
        self.assertIsNotNone(committed)
        _low, high = self.watermarks(topic)
        cc.log("test 2: %d records produced in %.1f s over %d keys; high watermark %d; "
               "%d snapshot reads so far", n, time.monotonic() - t0, OVERWRITE_KEYS, high,
               len(snapshots))

        # Let the cleaner finish: a roll, then the log holds one record per key.
        sentinel = cc.roll(topic, 1, "end")[0]
        final_end[0] = sentinel[2] + 1
        latest = {k: offs[-1] for k, offs in acked.items()}
        latest[sentinel[0]] = (sentinel[2], sentinel[1])

        def cleaned():
            got, _ = cc.read_partition(topic, 0, deadline_s=60)
            why = compare(got, latest)
            return why is None, why

        _, clean_s = cc.wait_until("the cleaner catching up after producing", cleaned,
                                   CLEAN_TIMEOUT)
        stop.set()
        for t in threads:
            t.join(90)
        self.assertEqual(failures, [])
        self.assertFalse(any(t.is_alive() for t in threads), "a reader thread did not finish")

        # Every read from the beginning to its end E had each key's latest value below E.
        offsets = {k: [o for o, _ in offs] for k, offs in acked.items()}
        for end, last, count, _during in snapshots:
            want = {}
            for k, offs in acked.items():
                j = bisect.bisect_left(offsets[k], end)
                if j:
                    want[k] = offs[j - 1]
            if sentinel[2] < end:
                want[sentinel[0]] = (sentinel[2], sentinel[1])
            got = sorted((o, k, v) for k, (o, v) in last.items())
            why = compare(got, want)
            self.assertIsNone(why, "a read from the beginning to offset %d (%d records): %s"
                              % (end, count, why))
        during = [(end, count) for end, _, count, d in snapshots if d and end > 0]
        cc.log("test 2: %d reads from the beginning during production (end offset, records): "
               "%s ... %s; cleaned %.1f s after the roll", len(during), during[:3], during[-3:],
               clean_s)
        self.assertGreaterEqual(len(during), 3, "too few reads from the beginning while "
                                "producing")
        self.assertTrue(any(count < end / 2 for end, count in during[1:]),
                        "no read during production found the log compacted: the cleaner did "
                        "not run under the producer")
        want_tail = {k: offs[-1] for k, offs in acked.items()}
        want_tail[sentinel[0]] = (sentinel[2], sentinel[1])
        self.assertEqual(tail_last, want_tail, "the tail consumer's last values")

        # The mid-way consumer resumes at its committed offset, now in a cleaned region.
        final, _ = cc.read_partition(topic, 0)
        self.assertNotIn(committed, {o for o, _, _ in final},
                         "the committed offset %d still holds a record" % committed)
        self.assertLess(len([1 for o, _, _ in final if o < committed]), committed / 2)
        resumed = self.resume(topic, group, committed)
        self.assertEqual(resumed, [r for r in final if r[0] >= committed])

    def watermarks(self, topic):
        c = Consumer({"bootstrap.servers": cc.bootstrap(), "group.id": cc.unique("wm")})
        try:
            return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=cc.TIMEOUT,
                                           cached=False)
        finally:
            c.close()

    def commit_midway(self, topic, group):
        """Reads the log as it is with a group consumer and commits an offset in the middle of
        what it read (a record that later writes overwrite); returns that offset."""
        got, _end = cc.read_partition(topic, 0, group=group)
        self.assertGreaterEqual(len(got), 1000, "the mid-way consumer read too little")
        offset = got[len(got) // 2][0]
        c = Consumer({"bootstrap.servers": cc.bootstrap(), "group.id": group,
                      "enable.auto.commit": False})
        try:
            c.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
        finally:
            c.close()
        return offset

    def resume(self, topic, group, committed):
        """What a consumer of `group` reads from its committed offset to the end."""
        c = Consumer({"bootstrap.servers": cc.bootstrap(), "group.id": group,
                      "enable.auto.commit": False, "enable.partition.eof": True,
                      "auto.offset.reset": "error", "check.crcs": True})
        got = []
        try:
            (tp,) = c.committed([TopicPartition(topic, 0)], timeout=cc.TIMEOUT)
            self.assertEqual(tp.offset, committed, "the group's committed offset")
            c.assign([TopicPartition(topic, 0, OFFSET_INVALID)])   # from the committed offset
            deadline = time.monotonic() + cc.TIMEOUT
            while True:
                self.assertLess(time.monotonic(), deadline, "the resumed consumer did not reach "
                                "the end")
                ms = c.consume(1000, 0.5)
                done = False
                for m in ms:
                    if m.error() is not None:
                        self.assertEqual(m.error().code(), KafkaError._PARTITION_EOF,
                                         "the resumed consumer: %s" % m.error())
                        done = True
                        break
                    got.append((m.offset(), m.key(), m.value()))
                if done:
                    break
        finally:
            c.close()
        cc.log("test 2: resumed at committed offset %d: first record at %s, %d records",
               committed, got[0][0] if got else None, len(got))
        return got


class KeylessRefused(unittest.TestCase):
    """Test 4: Kafka 4.4's answer to a record without a key on a compacted topic."""

    MESSAGE = "Compacted topic cannot accept message without key in topic partition %s-0"

    def produce(self, version, topic, messages, compressed=False):
        batch = w.gzip_batch(messages) if compressed else w.batch_v2(messages)
        with KafkaSocket(cc.broker().port) as s:
            s.send_request(w.PRODUCE, version, 9, w.produce_body(version, topic, [(0, batch)]),
                           flexible=version >= 9)
            corr, r = s.recv_response()
            self.assertEqual(corr, 9)
            if version >= 9:
                r.skip_tags()
            return w.parse_produce_response(version, r)[(topic, 0)]

    def test_keyless_records_get_invalid_record_with_their_batch_indexes(self):
        for policy in ("compact", "compact,delete"):
            topic = cc.unique("keyless")
            cc.create_topic(topic, 1, cleanup_policy=policy)
            msg = self.MESSAGE % topic
            for version in (3, 7, 8, 9, 10):   # Runnel serves Produce up to v10
                for compressed in (False, True):
                    what = "%s, Produce v%d, %s" % (policy, version,
                                                    "gzip" if compressed else "uncompressed")
                    one = self.produce(version, topic, [(None, b"v")], compressed)
                    mixed = self.produce(version, topic, [(b"k", b"a"), (None, b"b"),
                                                          (b"k2", b"c"), (None, None)],
                                         compressed)
                    for got, indexes in ((one, [0]), (mixed, [1, 3])):
                        self.assertEqual(got["error"], w.INVALID_RECORD,
                                         "%s: error %s" % (what, w.error_name(got["error"])))
                        self.assertEqual(got["base_offset"], -1, what)
                        if version >= 5:
                            self.assertEqual(got["log_start_offset"], 0, what)
                        if version >= 8:
                            self.assertEqual(got["record_errors"], [(i, msg) for i in indexes],
                                             what)
                            shown = ", ".join("RecordError(batchIndex=%d, message='%s')"
                                              % (i, msg) for i in indexes)
                            self.assertEqual(
                                got["error_message"],
                                "One or more records have been rejected due to %d record errors "
                                "in total, and only showing the first three errors at most: [%s]"
                                % (len(indexes), shown), what)
            # Nothing of a refused batch was appended: the next keyed record is offset 0.
            ok = self.produce(8, topic, [(b"k", b"v")])
            self.assertEqual((ok["error"], ok["base_offset"]), (0, 0), policy)
        # A keyless record on a topic that is not compacted is fine.
        topic = cc.unique("keyless-delete")
        cc.create_topic(topic, 1, cleanup_policy="delete")
        ok = self.produce(8, topic, [(None, b"v")])
        self.assertEqual((ok["error"], ok["base_offset"]), (0, 0))


if __name__ == "__main__":
    unittest.main()
