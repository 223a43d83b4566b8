#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Producer state survives restarts (issue 11), over a raw socket so that producer ids, epochs
and sequences are exactly what the test says.

An idempotent producer (InitProducerId v4, null transactional id) writes five batches to one
partition; the broker is then killed with SIGKILL (no snapshot at close: the state comes back
from a replay of the log) and, in a second test, stopped cleanly and then killed after more
batches (the state comes back from the clean-shutdown snapshot plus a replay). After each
restart, as Kafka 4.4 answers the same requests:
- a retry of the producer's last batch is answered with the offset it was first written at, and
  nothing is written (the high watermark does not move);
- the next sequence is accepted at the log end; a gap gets OUT_OF_ORDER_SEQUENCE_NUMBER (45);
  an older epoch gets INVALID_PRODUCER_EPOCH (47);
- DescribeProducers lists the producer with its epoch and last sequence.
A fresh InitProducerId after the restart never hands out an id given out before (ids are
allocated in blocks that are persisted before use). With producer.id.expiration.ms lowered, an
idle producer is forgotten by the broker's periodic check and may then start anywhere."""

import signal
import struct
import time
import unittest

from confluent_kafka.admin import AdminClient, NewTopic

from harness import BrokerTestCase, KafkaSocket, Reader, compact_string, uvarint
import kafka_wire as w

TOPIC = "idem-restart"
INIT_PRODUCER_ID = 22
DESCRIBE_PRODUCERS = 61
PRODUCE_VERSION = 9
OUT_OF_ORDER = 45
INVALID_PRODUCER_EPOCH = 47


class IdempotentWire(BrokerTestCase):
    """A broker with TOPIC, and an idempotent producer spoken over raw requests."""

    def setUp(self):
        super().setUp()
        self.corr = 0
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        admin.create_topics([NewTopic(TOPIC, 1, 1)], request_timeout=15)[TOPIC].result(timeout=20)

    def call(self, api, version, body, flexible):
        self.corr += 1
        with KafkaSocket(self.broker.port) as s:
            s.send_request(api, version, self.corr, body=body, flexible=flexible)
            corr, r = s.recv_response()
        self.assertEqual(corr, self.corr, "correlation id")
        if flexible:
            r.skip_tags()  # response header v1
        return r

    def init_producer_id(self):
        body = uvarint(0) + struct.pack(">iqh", 60000, -1, -1) + uvarint(0)  # v4, null id
        r = self.call(INIT_PRODUCER_ID, 4, body, True)
        throttle, error, pid, epoch = r.int32(), r.int16(), r.int64(), r.int16()
        r.skip_tags()
        self.assertEqual(error, 0, "InitProducerId: error %s" % w.error_name(error))
        self.assertGreaterEqual(pid, 0)
        self.assertEqual(epoch, 0)
        return pid

    def produce(self, pid, epoch, seq, n=2, tag="m"):
        batch = w.batch_v2([(None, b"%s-%d-%d" % (tag.encode(), seq, i)) for i in range(n)],
                           producer_id=pid, producer_epoch=epoch, base_sequence=seq)
        r = self.call(w.PRODUCE, PRODUCE_VERSION,
                      w.produce_body(PRODUCE_VERSION, TOPIC, [(0, batch)]), True)
        parts = w.parse_produce_response(PRODUCE_VERSION, r)
        return parts[(TOPIC, 0)]

    def high_watermark(self):
        r = self.call(w.LIST_OFFSETS, 1, w.list_offsets_body(1, TOPIC, [(0, -1)]), False)
        return w.parse_list_offsets_response(1, r)[(TOPIC, 0)]["offset"]

    def describe_producers(self):
        body = (uvarint(2) + compact_string(TOPIC) + uvarint(2) + struct.pack(">i", 0)
                + uvarint(0) + uvarint(0))
        r = self.call(DESCRIBE_PRODUCERS, 0, body, True)
        r.int32()  # throttle
        out = {}
        for _ in range(r.uvarint() - 1):
            r.compact_string()
            for _ in range(r.uvarint() - 1):
                r.int32()
                error = r.int16()
                r.compact_string()
                self.assertEqual(error, 0, "DescribeProducers: %s" % w.error_name(error))
                for _ in range(r.uvarint() - 1):
                    pid, epoch, last_seq = r.int64(), r.int32(), r.int32()
                    r.int64(), r.int32(), r.int64()
                    r.skip_tags()
                    out[pid] = (epoch, last_seq)
                r.skip_tags()
            r.skip_tags()
        return out

    def write_five(self, pid, first_seq=0):
        """Five batches of two records; returns their base offsets."""
        offsets = []
        for k in range(5):
            p = self.produce(pid, 0, first_seq + 2 * k)
            self.assertEqual(p["error"], 0, "batch %d: %s" % (k, w.error_name(p["error"])))
            offsets.append(p["base_offset"])
        return offsets

    def check_state(self, pid, last_seq, last_offset, when):
        hw = self.high_watermark()
        retry = self.produce(pid, 0, last_seq - 1)
        self.assertEqual((retry["error"], retry["base_offset"]), (0, last_offset),
                         "%s: a retry of the last batch must answer its original offset" % when)
        self.assertEqual(self.high_watermark(), hw, "%s: a retry must write nothing" % when)
        self.assertEqual(self.describe_producers().get(pid), (0, last_seq),
                         "%s: DescribeProducers (epoch, last sequence)" % when)
        gap = self.produce(pid, 0, last_seq + 3)
        self.assertEqual(gap["error"], OUT_OF_ORDER, "%s: a gap" % when)
        old = self.produce(pid, -1, last_seq + 1)
        self.assertEqual(old["error"], INVALID_PRODUCER_EPOCH, "%s: an older epoch" % when)
        nxt = self.produce(pid, 0, last_seq + 1)
        self.assertEqual((nxt["error"], nxt["base_offset"]), (0, hw),
                         "%s: the next sequence goes at the log end" % when)
        return last_seq + 2, nxt["base_offset"]



class IdempotentRestart(IdempotentWire):

    def test_state_after_kill9_comes_from_the_log(self):
        pid = self.init_producer_id()
        offsets = self.write_five(pid)
        self.broker.restart(sig=signal.SIGKILL)
        self.check_state(pid, 9, offsets[-1], "after kill -9")
        self.assertGreater(self.init_producer_id(), pid, "producer ids are never handed out twice")

    def test_state_after_clean_stop_then_kill9(self):
        pid = self.init_producer_id()
        offsets = self.write_five(pid)
        self.broker.restart()  # SIGTERM: a snapshot at the log end
        last_seq, last_offset = self.check_state(pid, 9, offsets[-1], "after a clean restart")
        more = self.write_five(pid, first_seq=last_seq + 1)
        self.broker.restart(sig=signal.SIGKILL)
        self.check_state(pid, last_seq + 10, more[-1], "after a clean restart and kill -9")


class ProducerExpiry(IdempotentWire):
    """producer.id.expiration.ms, measured from the batch's own timestamp as Kafka measures
    it: a producer whose last batch is older than that is forgotten by the next check, and
    its next batch may start at any sequence (Kafka 4.4 accepts sequence 57 there too)."""

    overrides = ("producer.id.expiration.ms=1000",
                 "producer.id.expiration.check.interval.ms=200")

    def test_idle_producer_is_forgotten(self):
        pid = self.init_producer_id()
        for k in range(3):
            p = self.produce(pid, 0, 2 * k)  # batch timestamps of 2023: long expired
            self.assertEqual(p["error"], 0, w.error_name(p["error"]))
        self.assertEqual(self.produce(pid, 0, 57)["error"], OUT_OF_ORDER, "known: a gap")
        deadline = time.monotonic() + 10
        while pid in self.describe_producers() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertNotIn(pid, self.describe_producers(), "expired within 10 s")
        p = self.produce(pid, 0, 57)
        self.assertEqual(p["error"], 0, "a forgotten producer starts anywhere: %s"
                         % w.error_name(p["error"]))


if __name__ == "__main__":
    unittest.main()
