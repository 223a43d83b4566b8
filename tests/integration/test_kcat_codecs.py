#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""kcat 1.7.1 (librdkafka 2.0.2) produces keyed messages with each compression codec (none,
gzip, snappy, lz4, zstd; acks=all, linger.ms=5) to an auto-created topic of 3 partitions
(num.partitions=3), then consumes every partition back by assignment (`kcat -C -e`, no group):

- every message comes back byte-identical, exactly once (same multiset of key/value lines);
- each partition's offsets are dense, 0..n-1, and its messages are in produce order (keys are
  k<index>; one producer, no errors, so librdkafka keeps per-partition order);
- the batches in the segment files carry the codec that was asked for: the broker stored them as
  received, and librdkafka did not silently fall back to no compression (CLIENTS.md rule 11).

test_lz4_idempotent does the same with `-X enable.idempotence=true` (InitProducerId first): the
stored batches carry one producer id at epoch 0, and each partition's sequence numbers run
from 0 without a gap or a repeat.

Counts: 100,000 messages per codec, as issue 4 asks, for every codec: measured at about 2 s per
codec (produce + consume + checks) with both the plain and the -Dsanitize=true build, about
10 s for the file, so nothing is cut down for the sanitizer. Each test prints its timings and
the stored (batches, records) per codec. RUNNEL_IT_CODEC_MESSAGES overrides the count for a
quick local run."""

import os
import random
import struct
import subprocess
import time
import unittest

from harness import BrokerTestCase, segment_bytes

COUNT = int(os.environ.get("RUNNEL_IT_CODEC_MESSAGES", "100000"))
PARTITIONS = 3
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
PRODUCE_TIMEOUT = 120
CONSUME_TIMEOUT = 120


def walk_batches(data):
    """Yields (base_offset, record_count, codec, magic, (producer_id, producer_epoch,
    base_sequence)) of each batch in a segment's bytes; fails on a torn or unknown batch."""
    pos = 0
    while pos < len(data):
        if pos + 61 > len(data):
            raise AssertionError("torn batch header at byte %d of %d" % (pos, len(data)))
        base_offset, length = struct.unpack_from(">qi", data, pos)
        magic = data[pos + 16]
        attributes, = struct.unpack_from(">h", data, pos + 21)
        producer = struct.unpack_from(">qhi", data, pos + 43)
        count, = struct.unpack_from(">i", data, pos + 57)
        if magic != 2 or length < 49 or pos + 12 + length > len(data):
            raise AssertionError("bad batch at byte %d: magic %d, length %d, file %d bytes"
                                 % (pos, magic, length, len(data)))
        yield base_offset, count, attributes & 7, magic, producer
        pos += 12 + length


class KcatCodecs(BrokerTestCase):
    overrides = ("num.partitions=%d" % PARTITIONS,)

    def produce(self, topic, codec, lines, conf=()):
        cmd = ["kcat", "-P", "-b", self.broker.bootstrap, "-t", topic, "-K", "\t",
               "-z", codec, "-X", "linger.ms=5", "-X", "acks=all",
               "-X", "message.timeout.ms=60000"]
        for kv in conf:
            cmd += ["-X", kv]
        p = subprocess.run(cmd, input=b"".join(l + b"\n" for l in lines), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=PRODUCE_TIMEOUT)
        err = p.stderr.decode(errors="replace")
        self.assertEqual(p.returncode, 0, "kcat -P -z %s exited %d:\n%s" % (codec, p.returncode, err))
        self.assertNotIn("Delivery failed", err, "kcat -P -z %s:\n%s" % (codec, err))
        self.assertNotIn("ERROR", err, "kcat -P -z %s:\n%s" % (codec, err[-4000:]))

    def consume(self, topic, partition, expected):
        cmd = ["kcat", "-C", "-b", self.broker.bootstrap, "-t", topic, "-p", str(partition),
               "-o", "beginning", "-e", "-q", "-f", "%o\t%k\t%s\n", "-X", "check.crcs=true"]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=CONSUME_TIMEOUT)
        err = p.stderr.decode(errors="replace")
        self.assertEqual(p.returncode, 0, "kcat -C -p %d exited %d:\n%s" % (partition, p.returncode, err))
        out = p.stdout.split(b"\n")
        self.assertEqual(out[-1], b"", "kcat output does not end with a newline")
        rows = [l.split(b"\t", 2) for l in out[:-1]]
        self.assertEqual(len(rows), expected,
                         "%s-%d: expected %d messages (the high watermark), kcat read %d\n%s"
                         % (topic, partition, expected, len(rows), err[-2000:]))
        return rows

    def high_watermarks(self, topic):
        """{partition: (low, high)} watermarks, asked with ListOffsets through confluent-kafka."""
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "runnel-it-unused",
                      "enable.auto.commit": False})
        try:
            return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                    for p in range(PARTITIONS)}
        finally:
            c.close()

    def check_codec(self, codec, count, idempotent=False):
        topic = "codec-" + codec + ("-idempotent" if idempotent else "")
        rng = random.Random("%s-%d" % (codec, count))
        lines = [b"k%d\tv%d-%016x-%s" % (i, i, rng.getrandbits(64), b"payload" * (i % 7))
                 for i in range(count)]
        t0 = time.monotonic()
        self.produce(topic, codec, lines, ["enable.idempotence=true"] if idempotent else [])
        t1 = time.monotonic()

        marks = self.high_watermarks(topic)
        for p, (low, high) in marks.items():
            self.assertEqual(low, 0, "%s-%d: low watermark %d, expected 0" % (topic, p, low))
        self.assertEqual(sum(h for _, h in marks.values()), count,
                         "%s: high watermarks %s do not add up to the %d messages produced"
                         % (topic, marks, count))

        got = []
        for p in range(PARTITIONS):
            rows = self.consume(topic, p, marks[p][1])
            offsets = [int(r[0]) for r in rows]
            self.assertEqual(offsets, list(range(len(rows))),
                             "%s-%d: offsets are not dense 0..%d (first gap near %s)"
                             % (topic, p, len(rows) - 1,
                                next((i for i, o in enumerate(offsets) if o != i), None)))
            indices = [int(r[1][1:]) for r in rows]
            bad = next((i for i in range(1, len(indices)) if indices[i] <= indices[i - 1]), None)
            self.assertIsNone(bad, "%s-%d: not in produce order at offset %s: key k%s after k%s"
                              % (topic, p, bad, bad is not None and indices[bad],
                                 bad is not None and indices[bad - 1]))
            got += [r[1] + b"\t" + r[2] for r in rows]
        t2 = time.monotonic()

        self.assertEqual(len(got), count, "%s: read %d messages, produced %d" % (topic, len(got), count))
        if sorted(got) != sorted(lines):
            missing = sorted(set(lines) - set(got))[:5]
            extra = sorted(set(got) - set(lines))[:5]
            self.fail("%s: messages read back differ from those produced; missing e.g. %s, "
                      "unexpected e.g. %s" % (topic, missing, extra))

        # What the broker stored: v2 batches, codec as asked, counts adding up. librdkafka sends
        # a batch uncompressed when compressing it does not make it smaller (a batch of one or
        # two messages), so codec 0 is allowed for a few records; any other codec is not, and
        # most records must be in batches of the codec asked for (librdkafka falls back to no
        # compression without a word when the broker's ApiVersions lack what the codec needs).
        stored = 0
        by_codec = {}
        producers = set()
        for p in range(PARTITIONS):
            files = segment_bytes(self.broker.data_dir, topic, p)
            self.assertTrue(files, "%s-%d: no .log segment in %s" % (topic, p, self.broker.data_dir))
            expected_next = 0
            for name, data in files.items():
                for base, n, batch_codec, _, (pid, epoch, seq) in walk_batches(data):
                    self.assertIn(batch_codec, (0, CODECS[codec]),
                                  "%s-%d %s: batch at offset %d has codec %d, expected %d (%s)"
                                  % (topic, p, name, base, batch_codec, CODECS[codec], codec))
                    self.assertEqual(base, expected_next, "%s-%d %s: batch base offset %d, "
                                     "expected %d" % (topic, p, name, base, expected_next))
                    if idempotent:
                        # One producer alone wrote this partition, so its sequence numbers
                        # equal the offsets: nothing lost, nothing written twice.
                        self.assertTrue(pid >= 0 and epoch == 0 and seq == base,
                                        "%s-%d %s: batch at offset %d has producer id %d, "
                                        "epoch %d, base sequence %d"
                                        % (topic, p, name, base, pid, epoch, seq))
                        producers.add(pid)
                    expected_next += n
                    stored += n
                    batches, records = by_codec.get(batch_codec, (0, 0))
                    by_codec[batch_codec] = (batches + 1, records + n)
        self.assertEqual(stored, count, "%s: %d records in the segment files, %d produced"
                         % (topic, stored, count))
        if idempotent:
            self.assertEqual(len(producers), 1, "%s: producer ids in the stored batches: %s"
                             % (topic, sorted(producers)))
        compressed = by_codec.get(CODECS[codec], (0, 0))[1]
        self.assertGreaterEqual(compressed, count * 0.9,
                                "%s: only %d of %d records are in batches with codec %d (%s); "
                                "(batches, records) by codec: %s"
                                % (topic, compressed, count, CODECS[codec], codec, by_codec))
        print("codec %-6s %6d messages%s: produce %.2f s, consume+check %.2f s; (batches, "
              "records) by codec stored: %s" % (codec, count, ", idempotent" if idempotent else "",
                                               t1 - t0, t2 - t1, by_codec))

    def test_none(self):
        self.check_codec("none", COUNT)

    def test_gzip(self):
        self.check_codec("gzip", COUNT)

    def test_snappy(self):
        self.check_codec("snappy", COUNT)

    def test_lz4(self):
        self.check_codec("lz4", COUNT)

    def test_zstd(self):
        self.check_codec("zstd", COUNT)

    def test_lz4_idempotent(self):
        self.check_codec("lz4", COUNT, idempotent=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
