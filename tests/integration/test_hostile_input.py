#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The hostile-input battery (issue 14): one broker, many kinds of bad or abusive clients, and
after each case a well-behaved client on its own connection that must still produce and
consume exactly, while the data acknowledged at the start (acks=all) must read back unchanged.

What is here and not in the older raw tests (test_raw_garbage.py: garbage frames close the
connection; test_corrupt_produce.py: damaged record batches; the conformance corpus: CreateTopics
with illegal names and 0/-2 partitions, ApiVersions at an unknown version):
- the framing cases again (size 0, negative, 2 GiB, truncated header, unknown keys), now with
  the data and client checks after them;
- every API the broker advertises at one version above its maximum (ApiVersions answers
  UNSUPPORTED_VERSION, the others close, as Kafka 4.4 does), and at its maximum with a valid
  header followed by random bytes;
- strings, arrays, byte fields and compact varints whose declared lengths run past the frame,
  and record fields that run past their record inside a batch whose CRC is right;
- compressed batches (gzip, zstd, lz4) that inflate far beyond message.max.bytes (bombs), with
  the broker's peak RSS checked;
- thousands of pipelined requests never read: the broker stops reading the socket;
- half a frame, then silence: closed after connections.max.idle.ms;
- CreateTopics with illegal names, colliding names and 0, -5 and 100,000 partitions;
- 20,000 group ids and 5,000 transactional ids: the tables are keyed with a seeded SipHash
  (src/util/hmap.h), so colliding ids cannot be chosen from outside; the case checks instead
  that many ids are served within a generous bound.

Expected answers are Kafka 4.4's, found by running this module against it:
RUNNEL_TEST_BROKER=kafka runs the same cases against kafka_oracle.KafkaBroker (the RSS bounds
apply to Runnel only: a JVM's heap is sized up front). Where Runnel differs on purpose the case
says so. Needs the venv's python (zstandard, lz4), as meson.build runs it."""

import os
import random
import socket
import struct
import sys
import time
import unittest
import zlib

import lz4.frame
import zstandard
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness import (API_VERSIONS, Broker, KafkaSocket, frame, parse_api_versions_v0_body,
                     request_header, uvarint)
import kafka_wire as w

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
from codec import Codec, CodecError  # noqa: E402

BROKER_KIND = os.environ.get("RUNNEL_TEST_BROKER", "runnel")
IS_KAFKA = BROKER_KIND == "kafka"
if IS_KAFKA:
    from kafka_oracle import KafkaBroker

IDLE_MS = 2000
SETTINGS = {"connections.max.idle.ms": str(IDLE_MS)}

ACKED = "hostile-acked"        # written once at the start with acks=all, re-read after each case
HEALTH = "hostile-health"      # the well-behaved client's topic
TARGET = "hostile-target"      # what the hostile requests name
CLOSE_TIMEOUT = 10.0
RSS_CASE_BOUND = 256 << 20     # peak RSS growth allowed during one case
RSS_BATTERY_BOUND = 256 << 20  # RSS growth allowed over the whole battery

FIND_COORDINATOR = 10
INIT_PRODUCER_ID = 22
CREATE_TOPICS = 19
LIST_GROUPS = 16
CODEC_GZIP, CODEC_LZ4, CODEC_ZSTD = 1, 3, 4

CODEC = Codec.load()


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


ASAN_QUARANTINE = 256 << 20


def under_asan(pid):
    """Whether the process runs with AddressSanitizer (its runtime is mapped)."""
    with open("/proc/%d/maps" % pid) as f:
        return any("libasan" in line or "libclang_rt.asan" in line for line in f)


def error_codes(value, out=None):
    """Every *error_code field of a decoded body, depth first, as a sorted list of names."""
    out = [] if out is None else out
    if isinstance(value, dict):
        for k, v in value.items():
            if k.endswith("error_code") and isinstance(v, int):
                out.append(w.error_name(v))
            else:
                error_codes(v, out)
    elif isinstance(value, list):
        for v in value:
            error_codes(v, out)
    return out


def header_for(key, version, corr, client_id="hostile"):
    """A request header of the version the API's flexible range implies (the schema's flexible
    ranges are open-ended, so a version one above the maximum is flexible if the maximum is)."""
    try:
        flexible = CODEC.flexible(key, version)
    except CodecError:
        flexible = False
    return request_header(key, version, corr, client_id, flexible=flexible)


def outcome(port, data, wait=CLOSE_TIMEOUT):
    """Sends `data` on a new connection and says what the broker did: ("closed", nbytes sent
    back first) or ("answered", first response frame) or ("silent",) when it neither answered
    nor closed within `wait`."""
    with KafkaSocket(port, timeout=wait) as s:
        try:
            s.send_raw(data)
        except (BrokenPipeError, ConnectionResetError):
            return ("closed", 0)
        closed, got = s.wait_closed(wait)
        if len(got) >= 4:
            (size,) = struct.unpack(">i", got[:4])
            if 0 <= size <= len(got) - 4:
                return ("answered", got[4:4 + size])
        if closed:
            return ("closed", len(got))
        return ("silent",)


# -- the well-behaved client ------------------------------------------------------------------

class Healthy:
    """A producer that lives across the battery, and a new consumer for every check."""

    def __init__(self, bootstrap):
        self.bootstrap = bootstrap
        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                                  "enable.idempotence": True, "linger.ms": 5})
        self.acked = []      # (partition, offset, key, value) acknowledged at the start
        self.rounds = 0

    def produce(self, topic, records):
        """Produces [(partition, key, value)] and returns their (partition, offset, key, value),
        every one acknowledged."""
        got, errors = [], []

        def on_delivery(err, msg):
            if err is not None:
                errors.append(err)
            else:
                got.append((msg.partition(), msg.offset(), msg.key(), msg.value()))

        for p, k, v in records:
            self.producer.produce(topic, value=v, key=k, partition=p, on_delivery=on_delivery)
        left = self.producer.flush(30)
        if left or errors or len(got) != len(records):
            raise AssertionError("producing %d records to %s: %d left, errors %s"
                                 % (len(records), topic, left, errors))
        return sorted(got)

    def consume(self, wanted):
        """Reads back the exact records `wanted` [(topic, partition, offset, key, value)]."""
        starts = {}
        for t, p, o, _, _ in wanted:
            starts[(t, p)] = min(o, starts.get((t, p), o))
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "hostile-checker",
                      "enable.auto.commit": False, "enable.partition.eof": False,
                      "fetch.wait.max.ms": 50})
        try:
            c.assign([TopicPartition(t, p, o) for (t, p), o in starts.items()])
            want = {(t, p, o): (k, v) for t, p, o, k, v in wanted}
            seen = {}
            deadline = time.monotonic() + 30
            while len(seen) < len(want) and time.monotonic() < deadline:
                for m in c.consume(500, 0.5):
                    if m.error():
                        raise AssertionError("consumer: %s" % m.error())
                    key = (m.topic(), m.partition(), m.offset())
                    if key in want:
                        seen[key] = (m.key(), m.value())
        finally:
            c.close()
        missing = [k for k in want if k not in seen]
        changed = [k for k in want if k in seen and seen[k] != want[k]]
        if missing or changed:
            raise AssertionError("%d of %d records missing (first %s), %d changed (first %s)"
                                 % (len(missing), len(want), missing[:3], len(changed),
                                    changed[:3]))

    def write_acked(self):
        rng = random.Random(14)
        recs = [(i % 2, b"k%04d" % i, bytes(rng.getrandbits(8) for _ in range(rng.randrange(200))))
                for i in range(200)]
        self.acked = [(ACKED,) + r for r in self.produce(ACKED, recs)]

    def check(self):
        """A few new records produced and read back exactly, and the acknowledged data read
        back unchanged."""
        self.rounds += 1
        recs = [(0, b"h%d-%d" % (self.rounds, i), os.urandom(32) + b"\x00\xff" * i)
                for i in range(5)]
        fresh = [(HEALTH,) + r for r in self.produce(HEALTH, recs)]
        self.consume(fresh + self.acked)


# -- the broker -------------------------------------------------------------------------------

class BrokerUnderTest:
    def __init__(self):
        if IS_KAFKA:
            self.impl = KafkaBroker(overrides=SETTINGS)
        else:
            self.impl = Broker(overrides=["%s=%s" % kv for kv in SETTINGS.items()])
        self.impl.start()

    @property
    def port(self):
        return self.impl.port

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.impl.port

    @property
    def pid(self):
        return self.impl.pid

    def alive(self):
        return self.impl.alive()

    def stop(self):
        self.impl.stop()

    def api_versions(self):
        with KafkaSocket(self.port) as s:
            s.send_request(API_VERSIONS, 0, 1)
            _, r = s.recv_response()
            err, keys = parse_api_versions_v0_body(r)
        assert err == 0, err
        return keys


class HostileInput(unittest.TestCase):
    """The cases run in the order of their names, on one broker (setUpClass)."""

    @classmethod
    def setUpClass(cls):
        cls.broker = BrokerUnderTest()
        try:
            admin = AdminClient({"bootstrap.servers": cls.broker.bootstrap})
            fs = admin.create_topics([NewTopic(ACKED, 2, 1), NewTopic(HEALTH, 1, 1),
                                      NewTopic(TARGET, 1, 1)], operation_timeout=20)
            for f in fs.values():
                f.result(30)
            cls.healthy = Healthy(cls.broker.bootstrap)
            cls.healthy.write_acked()
            cls.healthy.check()
            cls.keys = cls.broker.api_versions()
            cls.rss_start = status_kib(cls.broker.pid, "VmRSS")
            cls.summary = []
        except BaseException:
            cls.broker.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            rss_end = status_kib(cls.broker.pid, "VmRSS")
            hwm = status_kib(cls.broker.pid, "VmHWM")
            print("\n%s RSS: %.1f MiB before the battery, %.1f MiB after, peak %.1f MiB"
                  % (BROKER_KIND, cls.rss_start / 2**20, rss_end / 2**20, hwm / 2**20))
            for line in cls.summary:
                print("  " + line)
            # Under AddressSanitizer freed memory waits in its quarantine (256 MiB by default)
            # before it can be used again, so RSS keeps that much more for reasons of its own.
            bound = RSS_BATTERY_BOUND + (ASAN_QUARANTINE if under_asan(cls.broker.pid) else 0)
            if not IS_KAFKA and rss_end - cls.rss_start > bound:
                raise AssertionError("RSS grew by %.1f MiB over the battery (bound %d MiB)"
                                     % ((rss_end - cls.rss_start) / 2**20, bound >> 20))
        finally:
            cls.broker.stop()

    def setUp(self):
        self.assertTrue(self.broker.alive(), "the broker is not running")

    def after_case(self, what):
        self.assertTrue(self.broker.alive(), "the broker died during %s" % what)
        self.healthy.check()

    def note(self, line):
        self.summary.append(line)

    @property
    def port(self):
        return self.broker.port

    def assert_closed(self, name, data):
        got = outcome(self.port, data)
        self.assertEqual(got[0], "closed", "%s: expected the connection closed, got %s"
                         % (name, got[:1]))

    # -- framing ------------------------------------------------------------------------------

    def test_01_framing(self):
        """Sizes 0, -1 and 0x7fffffff, a truncated header, unknown API keys: closed (Kafka 4.4
        the same). test_raw_garbage.py has more shapes of this; here the data is checked."""
        cases = {
            "size 0": struct.pack(">i", 0),
            "size -1": struct.pack(">i", -1),
            "size 0x7fffffff": struct.pack(">i", 0x7FFFFFFF) + b"\x00" * 64,
            "size 0x80000000": struct.pack(">I", 0x80000000),
            "header of 3 bytes": frame(b"\x00\x03\x00"),
            "header without client id length": frame(struct.pack(">hhi", 3, 1, 7)),
            "client id past the frame": frame(struct.pack(">hhih", 3, 1, 7, 30000) + b"x"),
            "api key 0x7000": frame(request_header(0x7000, 0, 1)),
            "api key 100": frame(request_header(100, 0, 1) + b"\x00" * 16),
            "api key -1": frame(request_header(-1, 0, 1)),
        }
        for name, data in cases.items():
            with self.subTest(case=name):
                self.assert_closed(name, data)
        self.after_case("framing")

    def test_02_version_above_maximum(self):
        """Every advertised API at its maximum + 1: ApiVersions answers UNSUPPORTED_VERSION
        (a v0-shaped body), every other API closes the connection (Kafka 4.4: the same)."""
        closed = []
        for key, (_, hi) in sorted(self.keys.items()):
            data = frame(header_for(key, hi + 1, 77) + b"\x00" * 8)
            got = outcome(self.port, data)
            with self.subTest(api=CODEC.name(key), version=hi + 1):
                if key == API_VERSIONS:
                    self.assertEqual(got[0], "answered")
                    (corr, err) = struct.unpack(">ih", got[1][:6])
                    self.assertEqual((corr, err), (77, 35), "ApiVersions v%d" % (hi + 1))
                else:
                    self.assertEqual(got[0], "closed", "%s v%d: %s"
                                     % (CODEC.name(key), hi + 1, got[:1]))
                    closed.append(key)
        self.note("version above maximum: %d APIs closed, ApiVersions UNSUPPORTED_VERSION"
                  % len(closed))
        self.after_case("versions above the maximum")

    def test_03_random_body(self):
        """A valid header (each advertised API at its maximum and minimum version) followed by
        random bytes: the connection is closed or the request answered with its correlation id;
        never a crash or a hang."""
        rng = random.Random(1414)
        tally = {"closed": [], "answered": [], "silent": []}
        for key, (lo, hi) in sorted(self.keys.items()):
            for version in sorted({lo, hi}):
                for length in (7, 64, 512):
                    body = bytes(rng.getrandbits(8) for _ in range(length))
                    corr = rng.randrange(1 << 30)
                    got = outcome(self.port, frame(header_for(key, version, corr) + body),
                                  wait=3.0)
                    label = "%s v%d +%d" % (CODEC.name(key), version, length)
                    tally[got[0]].append(label)
                    if got[0] == "answered":
                        self.assertEqual(struct.unpack(">i", got[1][:4])[0], corr,
                                         "%s: answered with another correlation id" % label)
        self.note("random bodies: %d closed, %d answered (%s), %d silent (%s)"
                  % (len(tally["closed"]), len(tally["answered"]),
                     ", ".join(tally["answered"]), len(tally["silent"]),
                     ", ".join(tally["silent"])))
        # A request that parses as acks=0 Produce gets no answer; nothing else may be silent.
        self.assertTrue(all(x.startswith("Produce") for x in tally["silent"]), tally["silent"])
        self.after_case("random bodies")

    # -- declared lengths past the frame ----------------------------------------------------------

    def test_04_lengths_past_the_frame(self):
        """Strings, arrays, byte fields and compact varints whose declared length runs past the
        frame: the request cannot be parsed and the connection is closed (Kafka 4.4 the same)."""
        p3 = header_for(w.PRODUCE, 3, 5)
        p9 = header_for(w.PRODUCE, 9, 5)
        m12 = header_for(w.METADATA, 12, 5)
        head3 = w.string(None) + struct.pack(">hi", -1, 1000)
        head9 = uvarint(0) + struct.pack(">hi", -1, 1000)
        huge = b"\xff\xff\xff\xff\x0f"          # uvarint 2^32-1
        cases = {
            "Produce v3 topic name of 30000 in 100 bytes":
                (p3 + head3 + struct.pack(">ih", 1, 30000)).ljust(100, b"a"),
            "Produce v3 topics count 2^31-1":
                p3 + head3 + struct.pack(">i", 0x7FFFFFFF) + w.string(TARGET),
            "Produce v3 partitions count 2^31-1":
                p3 + head3 + struct.pack(">i", 1) + w.string(TARGET)
                + struct.pack(">i", 0x7FFFFFFF) + struct.pack(">i", 0),
            "Produce v3 records length 1000000 in 40 bytes":
                p3 + head3 + struct.pack(">i", 1) + w.string(TARGET)
                + struct.pack(">iii", 1, 0, 1000000) + b"\x00" * 40,
            "Produce v3 records length -2":
                p3 + head3 + struct.pack(">i", 1) + w.string(TARGET)
                + struct.pack(">iii", 1, 0, -2),
            "Produce v9 compact topic name 2^32-2":
                p9 + head9 + uvarint(2) + huge + b"abc",
            "Produce v9 compact topics count 2^32-2":
                p9 + head9 + huge + b"\x00" * 10,
            "Produce v9 compact records length 2^32-2":
                p9 + head9 + uvarint(2) + w.compact_string(TARGET) + uvarint(2)
                + struct.pack(">i", 0) + huge + b"\x00" * 10,
            "Produce v9 varint of 6 bytes":
                p9 + head9 + b"\xff\xff\xff\xff\xff\x01" + b"\x00" * 10,
            "Produce v9 tagged field size past the frame":
                p9 + head9 + uvarint(1) + w.compact_string(TARGET) + uvarint(1) + uvarint(1)
                + uvarint(0) + uvarint(5000) + b"x",
            "Metadata v12 topics count 2^31-1":
                m12 + uvarint(0x80000000) + b"\x00" * 8,
            "Metadata v1 topics count 2^31-1":
                header_for(w.METADATA, 1, 5) + struct.pack(">i", 0x7FFFFFFF) + w.string(TARGET),
            "Metadata v1 topic name of 30000":
                header_for(w.METADATA, 1, 5) + struct.pack(">ih", 1, 30000) + b"abc",
        }
        for name, payload in cases.items():
            with self.subTest(case=name):
                self.assert_closed(name, frame(payload))
        self.after_case("lengths past the frame")

    def produce_one(self, batch, version=9, topic=TARGET, timeout=30):
        """Produce of one batch on a new connection; returns the partition's error name."""
        with KafkaSocket(self.port, timeout=timeout) as s:
            s.send_request(w.PRODUCE, version, 9, body=w.produce_body(version, topic,
                                                                       [(0, batch)]),
                           flexible=version >= 9)
            corr, r = s.recv_response()
            self.assertEqual(corr, 9)
            if version >= 9:
                r.skip_tags()
            parts = w.parse_produce_response(version, r)
        return w.error_name(parts[(topic, 0)]["error"])

    def test_05_record_fields_past_their_record(self):
        """Inside a batch whose frame and CRC are right: a key length, a header count and a
        record count of 2^31-1, a value length past the record, a batch length past the
        records field. Each answer is Kafka 4.4's."""
        def rec(body):
            return w.varint(len(body)) + body
        attrs_ts_off = b"\x00" + w.varint(0) + w.varint(0)
        cases = {
            "key length 1000000 in a 12-byte record":
                (w.batch_v2(payload=rec(attrs_ts_off + w.varint(1000000) + b"abcdefgh"),
                            count=1), "INVALID_RECORD"),
            "value length past the record":
                (w.batch_v2(payload=rec(attrs_ts_off + w.varint(-1) + w.varint(500) + b"v" * 9
                                        + w.varint(0)), count=1), "INVALID_RECORD"),
            "header count 2^31-1":
                (w.batch_v2(payload=rec(attrs_ts_off + w.varint(-1) + w.varint(1) + b"v"
                                        + w.varint(0x7FFFFFFF)), count=1), "INVALID_RECORD"),
            "record count 2^31-1":
                (w.batch_v2([(b"k", b"v")], count=0x7FFFFFFF), "INVALID_RECORD"),
            "record length 2^31-1":
                (w.batch_v2(payload=w.varint(0x7FFFFFFF) + attrs_ts_off + b"\x01\x01",
                            count=1), "INVALID_RECORD"),
        }
        batch = w.batch_v2([(b"k", b"v")])
        long_batch = batch[:8] + struct.pack(">i", 1000000) + batch[12:]
        cases["batch length past the records field"] = (long_batch, "INVALID_RECORD")
        answers = {}
        for name, (data, expected) in cases.items():
            with self.subTest(case=name):
                answers[name] = self.produce_one(data)
                self.assertEqual(answers[name], expected, name)
        self.note("record fields: %s" % answers)
        self.after_case("record fields past their record")

    # -- compression bombs ----------------------------------------------------------------------

    @staticmethod
    def bomb_record(value_len):
        """The bytes of one record whose value is `value_len` zeros, as (prefix, zeros, suffix)
        so that a compressor can be fed the zeros in chunks."""
        head = b"\x00" + w.varint(0) + w.varint(0) + w.varint(-1) + w.varint(value_len)
        tail = w.varint(0)
        return w.varint(len(head) + value_len + len(tail)) + head, value_len, tail

    @staticmethod
    def compress(codec, prefix, zeros, suffix):
        chunk = bytes(1 << 20)
        if codec == CODEC_GZIP:
            co = zlib.compressobj(9, zlib.DEFLATED, 31)
            out = [co.compress(prefix)]
            for _ in range(zeros >> 20):
                out.append(co.compress(chunk))
            out += [co.compress(suffix), co.flush()]
            return b"".join(out)
        if codec == CODEC_ZSTD:
            co = zstandard.ZstdCompressor(level=3).compressobj()
            out = [co.compress(prefix)]
            for _ in range(zeros >> 20):
                out.append(co.compress(chunk))
            out += [co.compress(suffix), co.flush()]
            return b"".join(out)
        if codec == CODEC_LZ4:
            with lz4.frame.LZ4FrameCompressor(block_size=lz4.frame.BLOCKSIZE_MAX4MB,
                                              compression_level=9) as co:
                out = [co.begin(), co.compress(prefix)]
                for _ in range(zeros >> 20):
                    out.append(co.compress(chunk))
                out += [co.compress(suffix), co.flush()]
            return b"".join(out)
        raise ValueError(codec)

    def test_06_compression_bombs(self):
        """Batches of about 0.1-1 MB, under message.max.bytes (1 MiB), that inflate to 200 MiB -
        1 GiB: one record of zeros, and the zeros alone (no record structure). Runnel inflates
        into a buffer bounded by 32 times the compressed size (at least 64 MiB, at most 1 GiB;
        src/handlers/produce.c) and answers MESSAGE_TOO_LARGE past it; the broker's peak RSS
        may not grow by more than RSS_CASE_BOUND.

        A deliberate difference: Kafka 4.4 never holds a batch inflated (it walks the records
        from the stream), so it accepts the one-record gzip and zstd bombs (NONE) and answers
        INVALID_RECORD for the bare zeros; it answers UNKNOWN_SERVER_ERROR for both lz4 ones
        (4 MiB lz4 blocks). MESSAGE_TOO_LARGE, unlike CORRUPT_MESSAGE, is not retried as sent."""
        cases = [("gzip", CODEC_GZIP, 512), ("zstd", CODEC_ZSTD, 1024), ("lz4", CODEC_LZ4, 200)]
        answers = {}
        for name, codec, mib in cases:
            for shape in ("one record", "zeros"):
                label = "%s %d MiB %s" % (name, mib, shape)
                if shape == "one record":
                    prefix, zeros, suffix = self.bomb_record(mib << 20)
                else:
                    prefix, zeros, suffix = b"", mib << 20, b""
                payload = self.compress(codec, prefix, zeros, suffix)
                batch = w.batch_v2(payload=payload, count=1, attributes=codec)
                before = status_kib(self.broker.pid, "VmRSS")
                t0 = time.monotonic()
                answer = self.produce_one(batch, timeout=60)
                took = time.monotonic() - t0
                peak = status_kib(self.broker.pid, "VmHWM")
                answers[label] = answer
                self.note("bomb %s (%d bytes compressed): %s in %.1f s, RSS %.0f -> peak %.0f "
                          "MiB" % (label, len(batch), answer, took, before / 2**20, peak / 2**20))
                with self.subTest(case=label):
                    self.assertLess(len(batch), 1 << 20, "the bomb must fit message.max.bytes")
                    if not IS_KAFKA:
                        self.assertEqual(answer, "MESSAGE_TOO_LARGE", label)
                        self.assertLess(peak - before, RSS_CASE_BOUND,
                                        "%s: peak RSS %.0f MiB from %.0f MiB"
                                        % (label, peak / 2**20, before / 2**20))
        self.after_case("compression bombs")

    # -- pipelining without reading -----------------------------------------------------------

    def test_07_pipelined_without_reading(self):
        """Requests written as fast as the broker takes them, responses never read: the broker
        must stop reading the socket (the client's writes block) long before it has taken
        BYTES_CAP, its RSS stays bounded, and others are served meanwhile."""
        req = frame(header_for(w.METADATA, 1, 1) + struct.pack(">i", -1))  # all topics
        burst = req * 1000
        cap = 256 << 20
        before = status_kib(self.broker.pid, "VmRSS")
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setblocking(False)
        sent = 0
        stalled_since = None
        deadline = time.monotonic() + 30
        try:
            view = memoryview(burst)
            pos = 0
            while sent < cap and time.monotonic() < deadline:
                try:
                    n = s.send(view[pos:])
                except BlockingIOError:
                    n = 0
                if n:
                    sent += n
                    pos = (pos + n) % len(burst)
                    stalled_since = None
                    continue
                if stalled_since is None:
                    stalled_since = time.monotonic()
                elif time.monotonic() - stalled_since > 2.0:
                    break
                time.sleep(0.01)
            requests = sent // len(req)
            self.assertIsNotNone(stalled_since, "the broker read %d requests (%d MiB) without "
                                 "stopping" % (requests, sent >> 20))
            peak = status_kib(self.broker.pid, "VmRSS")
            self.note("pipelined: the broker stopped reading after %d requests (%.1f MiB incl. "
                      "socket buffers); RSS %.0f -> %.0f MiB"
                      % (requests, sent / 2**20, before / 2**20, peak / 2**20))
            self.assertGreater(requests, 1000, "thousands of requests were to be pipelined")
            if not IS_KAFKA:
                self.assertLess(peak - before, RSS_CASE_BOUND)
            self.after_case("pipelined requests (socket still open)")
        finally:
            s.close()
        self.after_case("pipelined requests")

    # -- half a frame, then silence ---------------------------------------------------------------

    def test_08_half_frame_stall(self):
        """Half a size prefix, and half a frame, then nothing: closed once
        connections.max.idle.ms (2 s here) has passed, within a bound."""
        shapes = {"2 bytes of the size": b"\x00\x00",
                  "half a frame": struct.pack(">i", 100) + b"\x00\x03\x00\x01" + b"\x00" * 40}
        socks = {}
        for name, data in shapes.items():
            s = KafkaSocket(self.port)
            s.send_raw(data)
            socks[name] = s
        t0 = time.monotonic()
        try:
            for name, s in socks.items():
                closed, _ = s.wait_closed(IDLE_MS / 1000 * 3 + 10 - (time.monotonic() - t0))
                took = time.monotonic() - t0
                self.note("stalled (%s): closed after %.1f s" % (name, took))
                with self.subTest(case=name):
                    self.assertTrue(closed, "%s: still open after %.1f s" % (name, took))
                    self.assertGreater(took, IDLE_MS / 1000 * 0.5,
                                       "%s: closed before the idle time" % name)
        finally:
            for s in socks.values():
                s.close()
        self.after_case("stalled half frames")

    # -- CreateTopics -----------------------------------------------------------------------------

    def create_topics(self, topics, version=5):
        body = {"topics": [{"name": n, "num_partitions": p, "replication_factor": 1,
                            "assignments": [], "configs": []} for n, p in topics],
                "timeout_ms": 30000, "validate_only": False}
        with KafkaSocket(self.port, timeout=60) as s:
            s.send_raw(frame(CODEC.encode_request(CREATE_TOPICS, version, 3, "hostile", body)))
            _, b = CODEC.decode_response(CREATE_TOPICS, version, s.recv_frame())
        self.note("CreateTopics %s: %s" % ([(n[:12], p) for n, p in topics],
                                           [(t["name"][:12], w.error_name(t["error_code"]),
                                             t.get("error_message")) for t in b["topics"]]))
        return {t["name"]: w.error_name(t["error_code"]) for t in b["topics"]}

    def test_09_create_topics(self):
        """Illegal names, names that collide once '.' and '_' are the same (Kafka's metric
        names), and 0, -5 and 100,000 partitions: Kafka 4.4's error for each."""
        expected = {
            "": "INVALID_TOPIC_EXCEPTION",
            ".": "INVALID_TOPIC_EXCEPTION",
            "..": "INVALID_TOPIC_EXCEPTION",
            "x" * 250: "INVALID_TOPIC_EXCEPTION",
            "bad/name": "INVALID_TOPIC_EXCEPTION",
            "bad\x00name": "INVALID_TOPIC_EXCEPTION",
            "caf\u00e9": "INVALID_TOPIC_EXCEPTION",
            "h.zero": "INVALID_PARTITIONS",
            "h.minus5": "INVALID_PARTITIONS",
            # Alone in its request: Kafka refuses more than 10,000 partitions per request for
            # every topic in it (then the whole dict above would be POLICY_VIOLATION).
            "h.hundred-thousand": "POLICY_VIOLATION",
        }
        got = self.create_topics([("", 1), (".", 1), ("..", 1), ("x" * 250, 1), ("bad/name", 1),
                                  ("bad\x00name", 1), ("caf\u00e9", 1), ("h.zero", 0),
                                  ("h.minus5", -5)])
        got.update(self.create_topics([("h.hundred-thousand", 100000)]))
        self.assertEqual(got, expected)
        # Collisions: the second of a.b / a_b is refused; a name of 249 characters is legal.
        first = self.create_topics([("h.col", 1), ("y" * 249, 1)])
        second = self.create_topics([("h_col", 1)])
        self.note("CreateTopics collisions: %s then %s" % (first, second))
        self.assertEqual(list(first.values()), ["NONE", "NONE"])
        self.assertEqual(second, {"h_col": "INVALID_TOPIC_EXCEPTION"})
        self.after_case("CreateTopics")

    # -- many group and transactional ids ------------------------------------------------------

    def pipeline(self, frames, parse, window=200, timeout=120):
        """Sends `frames` on one connection, at most `window` unanswered, and hands each
        response frame to parse(i, payload); returns the seconds taken."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        t0 = time.monotonic()
        deadline = t0 + timeout
        sent = got = 0
        buf = bytearray()
        try:
            while got < len(frames):
                self.assertLess(time.monotonic(), deadline, "%d of %d answered after %d s"
                                % (got, len(frames), timeout))
                if sent < len(frames) and sent - got < window:
                    k = min(window - (sent - got), len(frames) - sent)
                    sock.sendall(b"".join(frames[sent:sent + k]))
                    sent += k
                    continue
                chunk = sock.recv(1 << 20)
                self.assertTrue(chunk, "the broker closed after %d answers" % got)
                buf += chunk
                pos = 0
                while len(buf) - pos >= 4:
                    (size,) = struct.unpack_from(">i", buf, pos)
                    if len(buf) - pos - 4 < size:
                        break
                    parse(got, bytes(buf[pos + 4:pos + 4 + size]))
                    pos += 4 + size
                    got += 1
                del buf[:pos]
        finally:
            sock.close()
        return time.monotonic() - t0

    RETRIABLE = {"NOT_COORDINATOR", "COORDINATOR_LOAD_IN_PROGRESS", "COORDINATOR_NOT_AVAILABLE"}

    def until_all_ok(self, ids, make, errors_of, rounds=30):
        """Sends make(i, id) for every id, pipelined, and again for those answered with a
        retriable coordinator error (Kafka loads each __consumer_offsets or
        __transaction_state partition on first use); any other error fails. Returns seconds."""
        t0 = time.monotonic()
        pending = list(range(len(ids)))
        for _ in range(rounds):
            retry, bad = [], []

            def parse(n, payload):
                i = pending[n]
                (corr,) = struct.unpack(">i", payload[:4])
                self.assertEqual(corr, i, "answers out of order")
                errs = errors_of(payload)
                if errs and set(errs) <= self.RETRIABLE:
                    retry.append(i)
                elif errs:
                    bad.append((ids[i], errs))
            self.pipeline([make(i, ids[i]) for i in pending], parse)
            self.assertEqual(bad[:5], [], "%d refused" % len(bad))
            if not retry:
                return time.monotonic() - t0
            pending = retry
            time.sleep(0.5)
        raise AssertionError("%d still not coordinated after %d rounds" % (len(pending), rounds))

    def coordinator_ready(self, key, key_type):
        deadline = time.monotonic() + 60
        while True:
            body = {"key": key, "key_type": key_type}
            with KafkaSocket(self.port) as s:
                s.send_raw(frame(CODEC.encode_request(FIND_COORDINATOR, 1, 1, "hostile", body)))
                _, b = CODEC.decode_response(FIND_COORDINATOR, 1, s.recv_frame())
            if b["error_code"] == 0:
                return
            self.assertLess(time.monotonic(), deadline, "FindCoordinator: %s"
                            % w.error_name(b["error_code"]))
            time.sleep(0.2)

    def test_10_many_group_and_transactional_ids(self):
        """Collisions cannot be chosen (seeded SipHash, src/util/hmap.h), so: 20,000 groups by
        OffsetCommit and 5,000 transactional ids by InitProducerId, each answered without error
        within a generous bound, then ListGroups lists every group."""
        groups = ["hostile-g%05d" % i for i in range(20000)]
        self.coordinator_ready(groups[0], 0)

        def commit(i, g):
            return frame(CODEC.encode_request(w.OFFSET_COMMIT, 2, i, "hostile", {
                "group_id": g, "generation_id_or_member_epoch": -1, "member_id": "",
                "retention_time_ms": -1,
                "topics": [{"name": HEALTH, "partitions": [
                    {"partition_index": 0, "committed_offset": i, "committed_metadata": ""}]}]}))

        def commit_errors(payload):
            return [n for n in error_codes(CODEC.decode_response(w.OFFSET_COMMIT, 2, payload)[1])
                    if n != "NONE"]
        took_groups = self.until_all_ok(groups, commit, commit_errors)
        with KafkaSocket(self.port, timeout=60) as s:
            s.send_raw(frame(CODEC.encode_request(LIST_GROUPS, 2, 1, "hostile", {})))
            _, b = CODEC.decode_response(LIST_GROUPS, 2, s.recv_frame())
        listed = {g["group_id"] for g in b["groups"]}
        self.assertEqual(set(groups) - listed, set(), "groups missing from ListGroups")

        txn_ids = ["hostile-t%05d" % i for i in range(5000)]
        self.coordinator_ready(txn_ids[0], 1)

        def init(i, t):
            return frame(CODEC.encode_request(INIT_PRODUCER_ID, 1, i, "hostile", {
                "transactional_id": t, "transaction_timeout_ms": 60000}))

        def init_errors(payload):
            code = CODEC.decode_response(INIT_PRODUCER_ID, 1, payload)[1]["error_code"]
            return [w.error_name(code)] if code else []
        took_txn = self.until_all_ok(txn_ids, init, init_errors)
        self.note("%d groups committed in %.1f s; %d transactional ids initialised in %.1f s"
                  % (len(groups), took_groups, len(txn_ids), took_txn))
        self.after_case("many group and transactional ids")


if __name__ == "__main__":
    unittest.main(verbosity=2)
