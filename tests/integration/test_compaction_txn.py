#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Log compaction and transactions (issue 12, test 3 of test_compaction.py's list), with
confluent-kafka against Runnel or, with RUNNEL_TEST_BROKER=kafka, Apache Kafka 4.4, whose cleaner
proves the test right (compaction_common.py has the broker and the raw helpers).

A transactional producer writes TXNS transactions of PER_TXN records of about 1 KB over TXN_KEYS
keys to a compacted topic (1 MiB segments: several of them), committing about two in three and
aborting the others; every record of an aborted transaction is delivered (flushed) before the
abort, so that it is in the log for the cleaner to remove. Each transaction's marker is the
batch right after its last record (one producer, one partition).

  - Before any marker can be dropped (less than delete.retention.ms since producing began), a raw
    Fetch finds one control batch per transaction, at that offset, of the right type.
  - After a roll and a cleaning pass, a read_committed consumer from the beginning sees exactly
    the latest committed value of each key at its offset, and so does a read_uncommitted one:
    the cleaner removed the aborted records.
  - After delete.retention.ms since that pass and another pass, a control batch is left for a
    transaction if and only if a batch of that transaction is left (Kafka keeps a marker while
    its transaction has data, and an empty batch as the last one of a producer): the markers of
    every transaction whose data is gone, aborted or committed, are gone too.

RUNNEL_IT_SEED fixes the keys and which transactions abort (the seed is printed)."""

import os
import random
import time
import unittest

from confluent_kafka import Producer

import compaction_common as cc

SEED = int(os.environ.get("RUNNEL_IT_SEED", str(int(time.time() * 1000) % 1000000)))
TXNS = 60
PER_TXN = 80
TXN_KEYS = 300
RETENTION_MS = 8000
CLEAN_TIMEOUT = 120.0


def setUpModule():
    cc.start_broker()
    cc.log("seed %d", SEED)


def compare(got, expect):
    seen = {}
    bad = []
    for off, k, v in got:
        if k in seen:
            bad.append(("twice", k, seen[k], off))
        seen[k] = off
        if expect.get(k) != (off, v):
            bad.append(("got", k, off, (v or b"")[:20], "want",
                        expect[k][0] if k in expect else None))
    missing = [k for k in expect if k not in seen]
    if not bad and not missing:
        return None
    return "%d records, %d expected: %d wrong %s, %d missing %s" % (
        len(got), len(expect), len(bad), bad[:3], len(missing), missing[:3])


class Transactions(unittest.TestCase):

    def test_cleaning_removes_aborted_data_and_markers_nothing_needs(self):
        topic = cc.unique("txn")
        cc.create_topic(topic, 1, delete_retention_ms=RETENTION_MS)
        rng = random.Random(SEED + 3)
        p = Producer({"bootstrap.servers": cc.bootstrap(), "transactional.id": cc.unique("tid"),
                      "linger.ms": 5, "compression.type": "none"})
        p.init_transactions(cc.TIMEOUT)
        txns = []                  # (committed, [(offset, key, value)])
        errors = []
        t_start = time.monotonic()
        for t in range(TXNS):
            committed = t == TXNS - 1 or rng.random() >= 0.35
            delivered = []

            def report(err, msg, delivered=delivered):
                if err is not None:
                    errors.append(err)
                else:
                    delivered.append((msg.offset(), msg.key(), msg.value()))

            p.begin_transaction()
            for n in range(PER_TXN):
                k = b"key-%03d" % rng.randrange(TXN_KEYS)
                v = b"%s t%03d n%02d %s %s" % (k, t, n, b"commit" if committed else b"abort",
                                               os.urandom(500).hex().encode())
                p.produce(topic, key=k, value=v, partition=0, on_delivery=report)
            self.assertEqual(p.flush(cc.TIMEOUT), 0)
            self.assertEqual(errors, [])
            self.assertEqual(len(delivered), PER_TXN)
            if committed:
                p.commit_transaction(cc.TIMEOUT)
            else:
                p.abort_transaction(cc.TIMEOUT)
            txns.append((committed, sorted(delivered)))
        produce_s = time.monotonic() - t_start
        markers = {recs[-1][0] + 1: ("COMMIT" if c else "ABORT") for c, recs in txns}
        ranges = [(recs[0][0], recs[-1][0], recs[-1][0] + 1) for _c, recs in txns]
        latest = {}
        for c, recs in txns:
            if c:
                for off, k, v in recs:
                    latest[k] = (off, v)
        n_abort = sum(1 for c, _ in txns if not c)
        cc.log("test 3: %d transactions (%d aborted) of %d records in %.1f s; %d keys live",
               TXNS, n_abort, PER_TXN, produce_s, len(latest))

        all_batches = cc.batches(topic, 0)
        pid = next(b.producer_id for b in all_batches if b.transactional)
        control = {b.base_offset: b.control_type for b in all_batches if b.control}
        if time.monotonic() < t_start + RETENTION_MS / 1000.0:
            self.assertEqual(control, markers, "the control batches before cleaning")
            cc.log("test 3: %d control batches before cleaning, one per transaction",
                   len(control))
        else:
            cc.log("test 3: producing took longer than delete.retention.ms: the markers before "
                   "cleaning are not checked (%d control batches)", len(control))
        for b in all_batches:
            if b.control:
                self.assertEqual((b.producer_id, b.count, b.last_offset),
                                 (pid, 1, b.base_offset), "control batch %r" % b)

        # Pass 1: aborted records go, markers stay (their delete horizon starts now).
        expect = dict(latest)
        for part, (k, v, off) in cc.roll(topic, 1, "1").items():
            expect[k] = (off, v)

        def pass1():
            for isolation in ("read_uncommitted", "read_committed"):
                got, _ = cc.read_partition(topic, 0, isolation)
                why = compare(got, expect)
                if why:
                    return False, "%s: %s" % (isolation, why)
            return True, None

        _, pass1_s = cc.wait_until("cleaning of the transactions", pass1, CLEAN_TIMEOUT)
        t_pass1 = time.monotonic()
        after1 = cc.batches(topic, 0)
        control1 = {b.base_offset: b.control_type for b in after1 if b.control}
        cc.log("test 3: aborted records gone %.1f s after the roll; %d batches, %d control "
               "batches left", pass1_s, len(after1), len(control1))
        self.assertLessEqual(set(control1.items()), set(markers.items()))

        # Kafka sets a marker's delete horizon in the first pass that finds its transaction
        # without data (KIP-534's "marker for an empty transaction") and drops it in a pass
        # delete.retention.ms later. Pass 2 runs after delete.retention.ms since pass 1 and
        # drops the markers of the transactions already empty in pass 1; pass 3, as long
        # after pass 2, those emptied by pass 1. Each pass is made by new records (churn
        # keys) and a roll, and seen done when the churn keys are down to one record each.
        def another_pass(tag, since):
            wait = since + RETENTION_MS / 1000.0 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            churn = [(0, b"churn-%s-%d" % (tag.encode(), n % 5),
                      b"churn %04d %s" % (n, os.urandom(400).hex().encode()))
                     for n in range(200)]
            for (_, k, v), (_, off) in zip(churn, cc.produce_all(cc.producer(), churn, topic)):
                expect[k] = (off, v)
            for part, (k, v, off) in cc.roll(topic, 1, tag).items():
                expect[k] = (off, v)

            def done():
                got, _ = cc.read_partition(topic, 0, "read_committed")
                why = compare(got, expect)
                return why is None, why

            _, s = cc.wait_until("cleaning pass %s" % tag, done, CLEAN_TIMEOUT)
            bs = cc.batches(topic, 0)
            cc.log("test 3: pass %s seen %.1f s after its roll: %d batches, %d control batches",
                   tag, s, len(bs), sum(1 for b in bs if b.control))
            return time.monotonic()

        t_pass2 = another_pass("2", t_pass1)
        another_pass("3", t_pass2)

        def needed(bs):
            """The markers that may stay: those of transactions with a batch left."""
            out = {}
            for first, last, marker in ranges:
                if any(not b.control and b.producer_id == pid and first <= b.base_offset <= last
                       for b in bs):
                    out[marker] = markers[marker]
            return out

        def pass3():
            bs = cc.batches(topic, 0)
            left = {b.base_offset: b.control_type for b in bs if b.control}
            want = needed(bs)
            if left != want:
                return False, ("control batches at %s, the transactions with data left have "
                               "theirs at %s" % (sorted(left), sorted(want)))
            got, _ = cc.read_partition(topic, 0, "read_committed")
            why = compare(got, expect)
            return why is None, ("read_committed: %s" % why, bs, left)

        (_why, final, left), pass3_s = cc.wait_until("markers dropped after "
                                                     "delete.retention.ms", pass3, 15)
        got, _ = cc.read_partition(topic, 0, "read_uncommitted")
        self.assertIsNone(compare(got, expect), "read_uncommitted after the third pass")
        kinds = lambda d: {t: sum(1 for x in d.values() if x == t) for t in ("COMMIT", "ABORT")}
        cc.log("test 3: control batches %s before cleaning, %s after the first pass, %s after "
               "the third (%.1f s more); %d batches now", kinds(markers), kinds(control1),
               kinds(left), pass3_s, len(final))
        self.assertLess(len(left), len(markers) - n_abort,
                        "no commit marker was dropped")
        self.assertEqual([m for m, t in left.items() if t == "ABORT"],
                         [m for m, t in needed(final).items() if t == "ABORT"])


if __name__ == "__main__":
    unittest.main()
