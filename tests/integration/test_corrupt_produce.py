#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Bad input at the records layer, over a raw socket (issue 4): Produce requests built by hand
(kafka_wire.py: record batches v2 with a CRC-32C computed here, message sets v0/v1).

- A valid batch gets error 0 and the next base offset; it is stored exactly as sent (only the
  base offset and partition leader epoch are rewritten).
- A bad CRC or a compressed payload that is not valid for its codec (gzip, snappy, lz4, zstd):
  CORRUPT_MESSAGE (2); a record count that disagrees with the records, a record that does not
  parse, a truncated batch (no whole batch) or two batches: INVALID_RECORD (87). Issue 4 asked
  for CORRUPT_MESSAGE for the count; Kafka 4.4, asked with the same bytes (issue 10), answers
  INVALID_RECORD, which a producer does not retry. Either way the partition's bytes on disk are
  unchanged, and the next valid produce still works and gets the next offset.
- Produce v0-v2 with magic-0/1 message sets: UNSUPPORTED_FOR_MESSAGE_FORMAT (43) for the
  partition, nothing written (issue 4: old formats are a later issue)."""

import struct
import unittest
import zlib

from confluent_kafka.admin import AdminClient, NewTopic

from harness import BrokerTestCase, KafkaSocket, segment_bytes
import kafka_wire as w

TOPIC = "raw-produce"


def create_topic(bootstrap, topic, partitions=1, config=None):
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000})
    fs = admin.create_topics([NewTopic(topic, partitions, 1, config=config or {})],
                             operation_timeout=10, request_timeout=15)
    fs[topic].result(timeout=20)


def messages(tag, n=3):
    return [(b"key-%s-%d" % (tag.encode(), i), b"value-%s-%d" % (tag.encode(), i) * 3)
            for i in range(n)]


class CorruptProduce(BrokerTestCase):

    def setUp(self):
        super().setUp()
        create_topic(self.broker.bootstrap, TOPIC)
        self.corr = 0
        self.sent_batches = []   # (expected base offset, batch bytes) of accepted batches
        self.next_offset = 0

    # -- helpers ------------------------------------------------------------------------------

    def produce(self, version, records, partition=0, topic=TOPIC):
        """Sends one Produce request and returns the partition's response dict."""
        self.corr += 1
        with KafkaSocket(self.broker.port) as s:
            s.send_request(w.PRODUCE, version, self.corr,
                           body=w.produce_body(version, topic, [(partition, records)]),
                           flexible=version >= 9)
            corr, r = s.recv_response()
            self.assertEqual(corr, self.corr, "correlation id")
            if version >= 9:
                r.skip_tags()  # response header v1
            parts = w.parse_produce_response(version, r)
        self.assertEqual(list(parts), [(topic, partition)],
                         "Produce v%d: expected one answer for %s-%d, got %s"
                         % (version, topic, partition, parts))
        return parts[(topic, partition)]

    def on_disk(self):
        return segment_bytes(self.broker.data_dir, TOPIC, 0)

    def produce_valid(self, version, batch, count):
        p = self.produce(version, batch)
        self.assertEqual((p["error"], p["base_offset"]), (w.NONE, self.next_offset),
                         "Produce v%d of a valid batch of %d records: expected (error, base "
                         "offset) = (0, %d), got %s" % (version, count, self.next_offset, p))
        if version >= 5:
            self.assertEqual(p["log_start_offset"], 0, "log_start_offset in %s" % p)
        if version >= 2:
            self.assertEqual(p["log_append_time"], -1,
                             "log_append_time must be -1 for a CreateTime topic: %s" % p)
        self.sent_batches.append((self.next_offset, batch))
        self.next_offset += count
        return p

    def assert_stored_as_sent(self):
        """The segment files hold exactly the accepted batches, in order, each with its base
        offset rewritten (bytes 0-7); the partition leader epoch (bytes 12-15) is not compared."""
        files = self.on_disk()
        data = b"".join(files.values())
        expected = b"".join(struct.pack(">q", off) + b[8:] for off, b in self.sent_batches)

        def mask(buf):
            out, pos = bytearray(buf), 0
            while pos + 12 <= len(out):
                out[pos + 12:pos + 16] = b"\0\0\0\0"
                pos += 12 + struct.unpack(">i", bytes(out[pos + 8:pos + 12]))[0]
            return bytes(out)

        self.assertEqual(len(data), len(expected),
                         "segment bytes on disk: expected %d (the accepted batches), got %d in %s"
                         % (len(expected), len(data), list(files)))
        self.assertEqual(mask(data), mask(expected),
                         "segment bytes differ from the accepted batches as sent")

    def assert_refused(self, version, records, expected_error, what):
        """`expected_error` is one code or a tuple of acceptable ones."""
        before = self.on_disk()
        p = self.produce(version, records)
        allowed = expected_error if isinstance(expected_error, tuple) else (expected_error,)
        self.assertIn(p["error"], allowed,
                      "Produce v%d with %s: expected %s, got %s (%s)"
                      % (version, what, " or ".join(map(w.error_name, allowed)),
                         w.error_name(p["error"]), p))
        self.assertTrue(self.broker.alive(), "broker died after Produce v%d with %s" % (version, what))
        after = self.on_disk()
        self.assertEqual({k: len(v) for k, v in after.items()}, {k: len(v) for k, v in before.items()},
                         "Produce v%d with %s changed the segment files' sizes" % (version, what))
        self.assertTrue(after == before, "Produce v%d with %s changed the segment bytes"
                        % (version, what))

    def check_refused_then_valid(self, make_bad, expected_error, what, versions=(3, 7, 9)):
        self.produce_valid(7, w.batch_v2(messages("first")), 3)
        for version in versions:
            with self.subTest(version=version):
                self.assert_refused(version, make_bad(), expected_error, what)
                self.produce_valid(version, w.batch_v2(messages("after-v%d" % version, 2)), 2)
        self.assert_stored_as_sent()

    # -- valid input --------------------------------------------------------------------------

    def test_valid_batches_get_consecutive_offsets_and_are_stored_as_sent(self):
        for i, version in enumerate((3, 4, 5, 6, 7, 8, 9)):
            with self.subTest(version=version):
                self.produce_valid(version, w.batch_v2(messages("v%d" % version, i + 1)), i + 1)
        self.assert_stored_as_sent()

    def test_valid_gzip_batch_is_accepted_and_stored_as_sent(self):
        self.produce_valid(7, w.gzip_batch(messages("gz", 50)), 50)
        self.produce_valid(9, w.gzip_batch(messages("gz2", 5)), 5)
        self.assert_stored_as_sent()

    def test_two_batches_in_one_request(self):
        two = w.batch_v2(messages("a", 2)) + w.batch_v2(messages("b", 3))
        p = self.produce(7, two)
        # Kafka 4.4 refuses a second batch in one partition (exactly one from v3).
        self.assertEqual(p["error"], w.INVALID_RECORD, p)
        self.assertEqual(b"".join(self.on_disk().values()), b"",
                         "refused (%s) but bytes were written" % p)
        self.produce_valid(7, w.batch_v2(messages("c", 1)), 1)
        self.assert_stored_as_sent()

    # -- corrupt input ------------------------------------------------------------------------

    def test_bad_crc_is_corrupt_message(self):
        def bad():
            good = w.batch_v2(messages("crc"))
            crc = struct.unpack(">I", good[17:21])[0]
            return w.batch_v2(messages("crc"), crc=crc ^ 0x00010000)
        self.check_refused_then_valid(bad, w.CORRUPT_MESSAGE, "a batch with a wrong CRC-32C")

    def test_flipped_payload_byte_is_corrupt_message(self):
        def bad():
            b = bytearray(w.batch_v2(messages("flip")))
            b[-5] ^= 0x20  # inside a value: the CRC no longer matches
            return bytes(b)
        self.check_refused_then_valid(bad, w.CORRUPT_MESSAGE, "a byte flipped after the CRC")

    def test_record_count_above_records_is_invalid_record(self):
        self.check_refused_then_valid(lambda: w.batch_v2(messages("cnt"), count=4),
                                      w.INVALID_RECORD,
                                      "record count 4 over 3 records (CRC correct)")

    def test_record_count_below_records_is_invalid_record(self):
        self.check_refused_then_valid(lambda: w.batch_v2(messages("cnt"), count=2,
                                                         last_offset_delta=2),
                                      w.INVALID_RECORD,
                                      "record count 2 over 3 records (CRC correct)")

    def test_offset_delta_disagreeing_with_count_is_invalid_record(self):
        # 3 records whose last offset delta claims 5: the batch would cover offsets it lacks.
        self.check_refused_then_valid(lambda: w.batch_v2(messages("lod"), last_offset_delta=5),
                                      w.INVALID_RECORD, "last_offset_delta 5 over 3 records")

    def test_truncated_batch_is_invalid_record(self):
        def bad():
            b = w.batch_v2(messages("trunc", 5))
            return b[:-7]  # batch length says 7 bytes more than are present: no whole batch
        self.check_refused_then_valid(bad, w.INVALID_RECORD, "a batch cut 7 bytes short")

    def test_record_length_varint_overflow_is_invalid_record(self):
        def bad():
            payload = b"\xff" * 11 + w.records_v2(messages("varint", 1))  # 11-byte varint
            return w.batch_v2(messages("varint", 1), payload=payload)
        self.check_refused_then_valid(bad, w.INVALID_RECORD,
                                      "a record length varint of 11 bytes")

    def test_invalid_gzip_payload_is_corrupt_message(self):
        self.check_refused_then_valid(
            lambda: w.batch_v2(messages("gz"), attributes=w.CODEC_GZIP,
                               payload=b"this is not gzip data at all " * 4),
            w.CORRUPT_MESSAGE, "codec gzip with a payload that is not gzip")

    def test_damaged_gzip_stream_is_corrupt_message(self):
        def bad():
            co = zlib.compressobj(6, zlib.DEFLATED, 31)
            payload = bytearray(co.compress(w.records_v2(messages("gzd", 20))) + co.flush())
            payload[len(payload) // 2] ^= 0xFF
            return w.batch_v2(messages("gzd", 20), attributes=w.CODEC_GZIP, payload=bytes(payload),
                              count=20)
        self.check_refused_then_valid(bad, w.CORRUPT_MESSAGE,
                                      "codec gzip with a byte of the deflate stream flipped")

    def test_gzip_records_disagreeing_with_count_is_invalid_record(self):
        def bad():
            co = zlib.compressobj(6, zlib.DEFLATED, 31)
            payload = co.compress(w.records_v2(messages("gzc", 3))) + co.flush()
            return w.batch_v2(messages("gzc", 3), attributes=w.CODEC_GZIP, payload=payload,
                              count=5)
        self.check_refused_then_valid(bad, w.INVALID_RECORD,
                                      "valid gzip holding 3 records under a count of 5")

    def test_invalid_snappy_payload_is_corrupt_message(self):
        self.check_refused_then_valid(
            lambda: w.batch_v2(messages("sn"), attributes=w.CODEC_SNAPPY,
                               payload=b"\xff\xff\xff\xff\x0fnot snappy" * 3),
            w.CORRUPT_MESSAGE, "codec snappy with a payload that is not snappy")

    def test_invalid_lz4_payload_is_corrupt_message(self):
        self.check_refused_then_valid(
            lambda: w.batch_v2(messages("lz"), attributes=w.CODEC_LZ4,
                               payload=b"not an lz4 frame, no magic number" * 2),
            w.CORRUPT_MESSAGE, "codec lz4 with a payload that is not an lz4 frame")

    def test_invalid_zstd_payload_is_corrupt_message(self):
        self.check_refused_then_valid(
            lambda: w.batch_v2(messages("zs"), attributes=w.CODEC_ZSTD,
                               payload=b"not a zstd frame: no magic number" * 2),
            w.CORRUPT_MESSAGE, "codec zstd with a payload that is not a zstd frame",
            versions=(7, 9))  # zstd needs Produce v7 (KIP-110), checked first

    def test_truncated_zstd_frame_is_corrupt_message(self):
        # A zstd frame header (magic 0xFD2FB528) followed by nothing usable.
        self.check_refused_then_valid(
            lambda: w.batch_v2(messages("zst"), attributes=w.CODEC_ZSTD,
                               payload=b"\x28\xb5\x2f\xfd\x24\x10\x85\x00\x00"),
            w.CORRUPT_MESSAGE, "codec zstd with a frame cut after its header",
            versions=(7, 9))  # zstd needs Produce v7 (KIP-110), checked first

    # -- old formats --------------------------------------------------------------------------

    def test_message_sets_v0_v1_are_unsupported_for_message_format(self):
        self.produce_valid(7, w.batch_v2(messages("first")), 3)
        for version, magic in ((0, 0), (1, 0), (1, 1), (2, 1), (2, 0)):
            with self.subTest(version=version, magic=magic):
                self.assert_refused(version, w.message_set(messages("old-%d" % magic), magic),
                                    w.UNSUPPORTED_FOR_MESSAGE_FORMAT,
                                    "a magic-%d message set" % magic)
                self.produce_valid(7, w.batch_v2(messages("after-v%d-m%d" % (version, magic), 1)), 1)
        self.assert_stored_as_sent()

    def test_v2_batch_in_produce_v2_is_refused_without_writing(self):
        # Produce v0-v2 partitions are answered with UNSUPPORTED_FOR_MESSAGE_FORMAT whatever
        # they hold (issue 4); the broker must not write or crash.
        self.produce_valid(7, w.batch_v2(messages("first")), 3)
        # Kafka itself answers INVALID_RECORD (magic 2 needs Produce v3+); either is fine.
        self.assert_refused(2, w.batch_v2(messages("v2-in-v2")),
                            (w.UNSUPPORTED_FOR_MESSAGE_FORMAT, w.INVALID_RECORD),
                            "a v2 batch in Produce v2")
        self.produce_valid(7, w.batch_v2(messages("after")), 3)
        self.assert_stored_as_sent()


if __name__ == "__main__":
    unittest.main(verbosity=2)
