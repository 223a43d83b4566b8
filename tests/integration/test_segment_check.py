#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""segment_check.py, the on-disk checker of test_compaction_kill9.py, can fail (issue 12): a
partition directory written here by hand, correct, passes; each kind of damage a cleaner or a
recovery could do is then made to a copy and must be reported. No broker."""

import os
import shutil
import struct
import tempfile
import time
import unittest

import kafka_wire as w
import segment_check

TS = 1700000000000


def batch(base_offset, n, ts=TS, size=200):
    """A v2 batch of n records (offsets base..base+n-1), about `size` bytes of values."""
    value = b"v" * max(1, size // max(n, 1))
    return w.batch_v2([(b"k%d" % i, value) for i in range(n)], base_offset=base_offset,
                      base_timestamp=ts, max_timestamp=ts)


class Segment:
    """A segment's files: batches laid out, an index entry every `every` batches (Runnel's
    rule: the batch's base offset), a time index entry per indexed batch."""

    def __init__(self, base, batches, every=2):
        self.base = base
        self.log = b""
        self.index = b""
        self.timeindex = b""
        for i, (first, n, ts) in enumerate(batches):
            pos = len(self.log)
            self.log += batch(first, n, ts)
            if i and i % every == 0:
                self.index += struct.pack(">ii", first - base, pos)
                self.timeindex += struct.pack(">qi", ts, first + n - 1 - base)

    def write(self, d, suffix=""):
        for ext, data in ((".log", self.log), (".index", self.index),
                          (".timeindex", self.timeindex)):
            with open(os.path.join(d, "%020d%s%s" % (self.base, ext, suffix)), "wb") as f:
                f.write(data)


def good_segments():
    # Offsets with gaps, as after cleaning: 0-4, 10-11, 20 | 30-32, 40, 50-59 | 60-61 (newest)
    return [Segment(0, [(0, 5, TS), (10, 2, TS + 1), (20, 1, TS + 2), (25, 3, TS + 3)]),
            Segment(30, [(30, 3, TS + 4), (40, 1, TS + 5), (50, 10, TS + 6)]),
            Segment(60, [(60, 2, TS + 7)])]


class SegmentCheck(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="runnel-segcheck-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.segs = good_segments()
        for s in self.segs:
            s.write(self.dir)

    def path(self, base, ext):
        return os.path.join(self.dir, "%020d%s" % (base, ext))

    def overwrite(self, base, ext, data):
        with open(self.path(base, ext), "wb") as f:
            f.write(data)

    def expect_problem(self, mode, words):
        res = segment_check.check(self.dir, mode=mode, index_rule="base")
        self.assertFalse(res, "a damaged directory passed:\n" + res.report())
        text = "\n".join(res.problems)
        self.assertIn(words, text, res.report())

    def test_good_directory_passes(self):
        for mode in ("crashed", "stopped"):
            res = segment_check.check(self.dir, mode=mode, index_rule="base")
            self.assertTrue(res, res.report())
            self.assertEqual(res.segments, 3)
            self.assertEqual(res.batches, 8)
            self.assertGreater(res.index_entries, 0)
            self.assertGreater(res.time_entries, 0)

    def test_kafka_rule_differs(self):
        res = segment_check.check(self.dir, index_rule="last")
        self.assertFalse(res, "an index of base offsets passed as Kafka's last offsets")

    def test_zero_tail_is_unused(self):
        seg = self.segs[2]
        self.overwrite(60, ".index", seg.index + b"\0" * 800)
        self.overwrite(60, ".timeindex", seg.timeindex + b"\0" * 1200)
        self.assertTrue(segment_check.check(self.dir, mode="stopped"))

    def test_index_names_the_wrong_offset(self):
        seg = self.segs[0]
        rel, pos = struct.unpack_from(">ii", seg.index, 0)
        self.overwrite(0, ".index", struct.pack(">ii", rel + 1, pos) + seg.index[8:])
        self.expect_problem("stopped", "names offset")

    def test_index_points_inside_a_batch(self):
        seg = self.segs[0]
        rel, pos = struct.unpack_from(">ii", seg.index, 0)
        self.overwrite(0, ".index", struct.pack(">ii", rel, pos + 3) + seg.index[8:])
        self.expect_problem("stopped", "inside a batch")

    def test_index_past_the_log(self):
        seg = self.segs[1]
        self.overwrite(30, ".index", seg.index + struct.pack(">ii", 35, len(seg.log) + 100))
        self.expect_problem("stopped", "past the last whole batch")

    def test_index_descends(self):
        seg = Segment(0, [(0, 1, TS), (1, 1, TS + 1), (2, 1, TS + 2), (3, 1, TS + 3),
                          (4, 1, TS + 4)], every=1)
        entries = [seg.index[i:i + 8] for i in range(0, len(seg.index), 8)]
        seg.index = entries[0] + entries[2] + entries[1] + entries[3]
        seg.write(self.dir)
        self.expect_problem("stopped", "does not ascend")

    def test_time_index_out_of_the_segment(self):
        seg = self.segs[0]
        self.overwrite(0, ".timeindex", struct.pack(">qi", TS + 1, 29))
        self.expect_problem("stopped", "outside the segment")

    def test_time_index_descends(self):
        seg = self.segs[1]
        self.overwrite(30, ".timeindex", struct.pack(">qi", TS + 5, 5) + struct.pack(">qi", TS + 4, 20))
        self.expect_problem("stopped", "does not ascend")

    def test_missing_index(self):
        os.unlink(self.path(30, ".index"))
        self.expect_problem("stopped", "no offset index")

    def test_offset_twice_across_segments(self):
        Segment(30, [(28, 3, TS + 4), (40, 1, TS + 5)]).write(self.dir)
        self.expect_problem("stopped", "below the segment's base")
        Segment(30, [(30, 3, TS + 4), (40, 1, TS + 5)]).write(self.dir)
        Segment(0, [(0, 5, TS), (25, 6, TS + 1)]).write(self.dir)
        self.expect_problem("stopped", "next segment's base")

    def test_offsets_go_back(self):
        Segment(0, [(0, 5, TS), (3, 2, TS + 1)]).write(self.dir)
        self.expect_problem("stopped", "not above the previous batch's last offset")

    def test_torn_tail(self):
        newest = self.segs[2].log
        self.overwrite(60, ".log", newest + batch(62, 2)[:30])
        self.assertTrue(segment_check.check(self.dir, mode="crashed"),
                        "a torn tail of the newest segment after kill -9 is for recovery to cut")
        self.expect_problem("stopped", "needs")
        with open(self.path(60, ".log"), "wb") as f:
            f.write(newest)
        self.overwrite(30, ".log", self.segs[1].log[:-10])
        self.expect_problem("crashed", "needs")

    def test_leftovers_resolved_as_recovery_would(self):
        # A .cleaned group (never committed) does not count; a .swap replaces the segments
        # whose base offsets lie within its offsets.
        Segment(0, [(0, 1, TS)]).write(self.dir, ".cleaned")
        self.assertTrue(segment_check.check(self.dir, mode="crashed"))
        swap = Segment(0, [(4, 1, TS), (11, 1, TS + 1), (57, 3, TS + 6)])
        swap.write(self.dir, ".swap")
        res = segment_check.check(self.dir, mode="crashed")
        self.assertTrue(res, res.report())
        self.assertEqual(res.segments, 2, res.report())
        self.assertEqual(res.batches, 4, res.report())
        self.assertEqual(len(res.leftovers), 6)
        # Old segments deleted, swap not renamed yet: the same log.
        os.unlink(self.path(30, ".log"))
        self.assertTrue(segment_check.check(self.dir, mode="crashed"))
        # A segment below the swap whose offsets run into it is not replaced: a broken log.
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        Segment(0, [(0, 40, TS)]).write(self.dir)
        Segment(30, [(30, 3, TS + 4)]).write(self.dir)
        Segment(30, [(31, 1, TS + 4), (50, 10, TS + 6)]).write(self.dir, ".swap")
        self.expect_problem("crashed", "next segment's base")

    def test_leftovers_older_than(self):
        Segment(0, [(0, 1, TS)]).write(self.dir, ".cleaned")
        t = time.time_ns() + 10**9
        self.assertEqual(len(segment_check.leftovers_older_than(self.dir, t)), 3)
        self.assertEqual(segment_check.leftovers_older_than(self.dir, 0), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
