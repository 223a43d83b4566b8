# SPDX-License-Identifier: Apache-2.0
"""What the compaction tests share (issue 12): test_compaction.py and test_compaction_txn.py.

The broker is Runnel ($RUNNEL_BIN, the default) or, with RUNNEL_TEST_BROKER=kafka, Apache Kafka
4.4 (kafka_oracle.py), whose cleaner is the reference: every scenario passing on Kafka proves
that the test asks only what Kafka's log cleaner does. One broker per module, started by
start_broker() and stopped when the module is done; each test makes its own topics.

Both brokers get BROKER_OVERRIDES: the cleaner looks for work every 200 ms instead of every
15 s, deleted segments go after 1 s instead of 60 s, and the retention check (which also rolls
an idle segment on Runnel) runs every 500 ms. Topics get TOPIC_CONFIG plus their own keys:
compacted, 1 MiB segments (Kafka 4's minimum for segment.bytes), a short segment.ms, a dirty
ratio of 1 % and no compaction lag.

The active segment is never cleaned. Kafka rolls a segment only when a record is appended, so
roll() waits past segment.ms and then appends one sentinel record (a key of its own) to each
partition: everything before the sentinel becomes cleanable.

Helpers that look at the log itself rather than through a client:
  - log_sizes(): DescribeLogDirs' partition_size of each partition;
  - batches(): every record batch of a partition as a raw Fetch (v11, read_uncommitted) returns
    it, header fields decoded (offsets, producer id, attributes, record count) and, for a control
    batch, its type (COMMIT or ABORT), so that a test can count transaction markers and see
    empty batches, which no client shows.
"""

import os
import struct
import sys
import time
import unittest
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness import HOST, Broker, KafkaSocket

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
from codec import Codec  # noqa: E402  (tests/conformance/codec.py, driven by proto/*.schema)

BROKER_KIND = os.environ.get("RUNNEL_TEST_BROKER", "runnel")

BROKER_OVERRIDES = (
    "log.cleaner.backoff.ms=200",
    "log.segment.delete.delay.ms=1000",
    "log.retention.check.interval.ms=500",
    "group.initial.rebalance.delay.ms=0",
    "auto.create.topics.enable=false",
)

SEGMENT_BYTES = 1 << 20
SEGMENT_MS = 1000
TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    "segment.bytes": str(SEGMENT_BYTES),
    "segment.ms": str(SEGMENT_MS),
    "min.cleanable.dirty.ratio": "0.01",
    "min.compaction.lag.ms": "0",
}

TIMEOUT = 30.0            # one client call
FETCH = 1
DESCRIBE_LOG_DIRS = 35
FETCH_VERSION = 11        # names topics, carries log_start_offset; not flexible
DESCRIBE_LOG_DIRS_VERSION = 4

ATTR_CODEC_MASK = 0x07
ATTR_TRANSACTIONAL = 0x10
ATTR_CONTROL = 0x20

_codec = None
_broker = None


def codec():
    global _codec
    if _codec is None:
        _codec = Codec.load()
    return _codec


def start_broker():
    """Starts the module's broker (Runnel or Kafka, by RUNNEL_TEST_BROKER) and registers its
    stop as a module cleanup; returns it."""
    global _broker
    if BROKER_KIND == "runnel":
        _broker = Broker(overrides=BROKER_OVERRIDES)
    elif BROKER_KIND == "kafka":
        from kafka_oracle import KafkaBroker
        _broker = KafkaBroker(overrides=BROKER_OVERRIDES)
    else:
        raise AssertionError("RUNNEL_TEST_BROKER=%r: runnel or kafka" % BROKER_KIND)
    _broker.start()
    unittest.addModuleCleanup(stop_broker)
    print("compaction: %s on %s" % (BROKER_KIND, bootstrap()), file=sys.stderr)
    return _broker


def stop_broker():
    global _broker
    b, _broker = _broker, None
    if b is not None:
        b.stop()


def broker():
    return _broker


def bootstrap():
    return "%s:%d" % (HOST, _broker.port)


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def log(fmt, *args):
    print("compaction: " + (fmt % args if args else fmt), file=sys.stderr)
    sys.stderr.flush()


# -- topics and clients ------------------------------------------------------------------------

def create_topic(name, partitions=1, **config):
    """A compacted topic with TOPIC_CONFIG and `config` (underscores in keys become dots)."""
    conf = dict(TOPIC_CONFIG)
    conf.update({k.replace("_", "."): str(v) for k, v in config.items()})
    admin = AdminClient({"bootstrap.servers": bootstrap()})
    for f in admin.create_topics([NewTopic(name, partitions, 1, config=conf)],
                                 request_timeout=TIMEOUT).values():
        f.result(timeout=TIMEOUT)
    return conf


def producer(**extra):
    conf = {"bootstrap.servers": bootstrap(), "acks": "all", "linger.ms": 5,
            "enable.idempotence": True, "message.timeout.ms": 60000}
    conf.update(extra)
    return Producer(conf)


def produce_all(p, items, topic):
    """Produces [(partition, key, value)] and flushes; returns [(partition, offset)] from the
    delivery reports, failing on any delivery error."""
    out = [None] * len(items)
    errors = []

    def report(i):
        def cb(err, msg):
            if err is not None:
                errors.append(err)
            else:
                out[i] = (msg.partition(), msg.offset())
        return cb

    for i, (part, key, value) in enumerate(items):
        while True:
            try:
                p.produce(topic, key=key, value=value, partition=part, on_delivery=report(i))
                break
            except BufferError:
                p.poll(0.05)
    left = p.flush(TIMEOUT)
    if left or errors:
        raise AssertionError("%d records unflushed, delivery errors: %s" % (left, errors[:5]))
    return out


def roll(topic, partitions, tag):
    """Waits past segment.ms and appends one sentinel record (key `sentinel-TAG-P`) to each
    partition, so that everything before it leaves the active segment; returns
    {partition: (key, value, offset)} of the sentinels."""
    time.sleep(SEGMENT_MS / 1000.0 + 0.2)
    p = producer()
    items = [(part, b"sentinel-%s-%d" % (tag.encode(), part), b"sentinel " + tag.encode())
             for part in range(partitions)]
    got = produce_all(p, items, topic)
    return {part: (k, v, got[i][1]) for i, (part, k, v) in enumerate(items)}


def read_partition(topic, partition, isolation="read_uncommitted", start=OFFSET_BEGINNING,
                   deadline_s=TIMEOUT, group=None):
    """[(offset, key, value)] of one partition from `start` to the end the consumer reaches
    (EOF, or the high watermark of the last fetch response), and that end offset. A consumer
    error fails; offsets must strictly increase (checked here, since every caller wants it). check.crcs is on: a cleaned batch must carry a correct
    CRC. auto.offset.reset=error: an offset the log no longer has is an error, not a skip."""
    c = Consumer({"bootstrap.servers": bootstrap(), "group.id": group or unique("reader"),
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "auto.offset.reset": "error", "check.crcs": True,
                  "isolation.level": isolation, "fetch.wait.max.ms": 100})
    got = []
    end = None
    try:
        c.assign([TopicPartition(topic, partition, start)])
        deadline = time.monotonic() + deadline_s
        while end is None:
            if time.monotonic() > deadline:
                raise AssertionError("%s-%d: end not reached within %.0f s (%d records read)"
                                     % (topic, partition, deadline_s, len(got)))
            for m in c.consume(10000, 0.5):
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        end = m.offset()
                        break
                    raise AssertionError("%s-%d: consumer error after %d records: %s"
                                         % (topic, partition, len(got), err))
                if got and m.offset() <= got[-1][0]:
                    raise AssertionError("%s-%d: offset %d after %d: offsets must strictly "
                                         "increase" % (topic, partition, m.offset(), got[-1][0]))
                got.append((m.offset(), m.key(), m.value()))
            if end is None and got and isolation == "read_uncommitted":
                # Under a producer that never pauses the end is reached for a moment only, and
                # EOF may never come: the high watermark of the last fetch response will do.
                # Every record below it was read by the time that response was made.
                _low, high = c.get_watermark_offsets(TopicPartition(topic, partition),
                                                     cached=True)
                if high >= 0 and got[-1][0] + 1 >= high:
                    end = high
    finally:
        c.close()
    return got, end


def wait_until(what, check, timeout, interval=0.3):
    """Calls check() until it returns a true value or `timeout` s pass; returns (value, seconds).
    On timeout fails with `what` and the last value check() gave (a string saying why)."""
    t0 = time.monotonic()
    last = None
    while True:
        ok, last = check()
        if ok:
            return last, time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError("%s: not within %.0f s; last: %s" % (what, timeout, last))
        time.sleep(interval)


# -- raw requests ----------------------------------------------------------------------------

def _request(key, version, body):
    c = codec()
    payload = c.encode_request(key, version, 1, "runnel-compaction-it", body)
    with KafkaSocket(_broker.port, timeout=TIMEOUT) as s:
        s.send_raw(struct.pack(">i", len(payload)) + payload)
        corr, resp = c.decode_response(key, version, s.recv_frame())
    assert corr == 1, corr
    return resp


def log_sizes(topic, partitions):
    """{partition: bytes} from DescribeLogDirs."""
    resp = _request(DESCRIBE_LOG_DIRS, DESCRIBE_LOG_DIRS_VERSION,
                    {"topics": [{"topic": topic, "partitions": list(range(partitions))}]})
    out = {}
    for r in resp["results"]:
        if r["error_code"]:
            raise AssertionError("DescribeLogDirs: error %d for %s" % (r["error_code"],
                                                                        r["log_dir"]))
        for t in r["topics"]:
            if t["name"] == topic:
                for p in t["partitions"]:
                    out[p["partition_index"]] = out.get(p["partition_index"], 0) \
                        + p["partition_size"]
    if sorted(out) != list(range(partitions)):
        raise AssertionError("DescribeLogDirs named partitions %s of %s, not 0..%d"
                             % (sorted(out), topic, partitions - 1))
    return out


class Batch:
    __slots__ = ("base_offset", "last_offset", "attributes", "producer_id", "producer_epoch",
                 "count", "size", "control_type")

    @property
    def control(self):
        return bool(self.attributes & ATTR_CONTROL)

    @property
    def transactional(self):
        return bool(self.attributes & ATTR_TRANSACTIONAL)

    def __repr__(self):
        kind = ("control(%s)" % self.control_type) if self.control else "data"
        return "<%s %d-%d pid %d count %d attrs 0x%x>" % (kind, self.base_offset,
                                                          self.last_offset, self.producer_id,
                                                          self.count, self.attributes)


def _uvarint(data, pos):
    value = shift = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _varint(data, pos):
    v, pos = _uvarint(data, pos)
    return (v >> 1) ^ -(v & 1), pos


def _control_type(records):
    """COMMIT or ABORT from a control batch's first record (uncompressed: length, attributes,
    timestamp delta, offset delta, key = int16 version, int16 type)."""
    pos = 0
    _, pos = _varint(records, pos)      # record length
    pos += 1                            # attributes
    _, pos = _varint(records, pos)      # timestamp delta
    _, pos = _varint(records, pos)      # offset delta
    klen, pos = _varint(records, pos)
    if klen < 4:
        return "BAD-KEY"
    _version, ctype = struct.unpack(">hh", records[pos:pos + 4])
    return {0: "ABORT", 1: "COMMIT"}.get(ctype, "TYPE-%d" % ctype)


def parse_batches(data):
    """The complete v2 batches in `data` (a Fetch response's records; a partial last batch is
    left out)."""
    out = []
    pos = 0
    while pos + 12 <= len(data):
        base, length = struct.unpack(">qi", data[pos:pos + 12])
        end = pos + 12 + length
        if end > len(data):
            break
        magic = data[pos + 16]
        if magic != 2:
            raise AssertionError("batch at offset %d has magic %d" % (base, magic))
        (attrs, last_delta, _bts, _mts, pid, epoch, _seq,
         count) = struct.unpack(">hiqqqhii", data[pos + 21:pos + 61])
        b = Batch()
        b.base_offset, b.last_offset, b.attributes = base, base + last_delta, attrs
        b.producer_id, b.producer_epoch, b.count, b.size = pid, epoch, count, 12 + length
        b.control_type = None
        if attrs & ATTR_CONTROL:
            if attrs & ATTR_CODEC_MASK:
                raise AssertionError("control batch at %d is compressed" % base)
            b.control_type = _control_type(data[pos + 61:end]) if count else "EMPTY"
        out.append(b)
        pos = end
    return out


def batches(topic, partition, max_bytes=8 << 20):
    """Every batch of a partition from its log start to its high watermark (read_uncommitted),
    fetched raw (Fetch v11) in as many requests as it takes."""
    offset = 0
    out = []
    while True:
        resp = _request(FETCH, FETCH_VERSION, {
            "max_wait_ms": 0, "min_bytes": 0, "max_bytes": max_bytes, "isolation_level": 0,
            "topics": [{"topic": topic, "partitions": [{
                "partition": partition, "fetch_offset": offset,
                "partition_max_bytes": max_bytes}]}]})
        if resp["error_code"]:
            raise AssertionError("Fetch: top-level error %d" % resp["error_code"])
        (t,) = resp["responses"]
        (p,) = t["partitions"]
        if p["error_code"]:
            raise AssertionError("Fetch %s-%d at %d: error %d" % (topic, partition, offset,
                                                                  p["error_code"]))
        got = parse_batches(p["records"] or b"")
        if not got:
            if offset < p["high_watermark"]:
                raise AssertionError("Fetch %s-%d at %d: no whole batch below the high "
                                     "watermark %d" % (topic, partition, offset,
                                                       p["high_watermark"]))
            return out
        for b in got:
            if b.last_offset >= offset:
                out.append(b)
        offset = got[-1].last_offset + 1
        if offset >= p["high_watermark"]:
            return out
