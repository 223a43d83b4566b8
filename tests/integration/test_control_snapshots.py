#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Snapshots through the control plane (issue 15), against `runnel --ephemeral` with confluent-kafka.

Two topics with records and a committed group offset are saved as "seed"; more records, a
deleted topic and a newer commit follow; restoring "seed" brings back exactly the saved records
per partition, the deleted topic and the committed offset, and producing goes on at the right
offsets. The listing, deletion, 404 and 400 answers are checked, and saving and restoring about
100 MB are timed (the figures printed). Some seconds."""

import os
import sys
import time
import unittest

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from test_control_state import TIMEOUT, Fixture, call


def read_partition(bootstrap, topic, partition):
    """Every record value of one partition, from its start to its high watermark."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader",
                  "enable.auto.commit": False})
    try:
        low, high = c.get_watermark_offsets(TopicPartition(topic, partition), TIMEOUT)
        c.assign([TopicPartition(topic, partition, low)])
        got = []
        deadline = time.monotonic() + TIMEOUT
        while len(got) < high - low and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                got.append((m.offset(), m.value()))
        return got
    finally:
        c.close()


def produce(bootstrap, topic, partition, values):
    """Produces the values to one partition; returns their offsets."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    offsets = []

    def done(err, msg):
        assert err is None, err
        offsets.append(msg.offset())

    for v in values:  # one batch each: small segments roll between them
        p.produce(topic, value=v, partition=partition, on_delivery=done)
        assert p.flush(TIMEOUT) == 0
    return offsets


def commit(bootstrap, group, topic, partition, offset):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        c.commit(offsets=[TopicPartition(topic, partition, offset)], asynchronous=False)
    finally:
        c.close()


class Snapshots(Fixture):

    def test_restore_brings_back_records_topics_and_offsets(self):
        # Small segments: the saved partitions have sealed segments (hard-linked) and an active one.
        self.create(["a"], partitions=2, config={"segment.bytes": "1024"})
        self.create(["b"])
        bs = self.bootstrap
        seed = {0: [b"a0-%03d" % i + b"." * 100 for i in range(30)],
                1: [b"a1-%03d" % i for i in range(10)]}
        for part, values in seed.items():
            self.assertEqual(produce(bs, "a", part, values), list(range(len(values))))
        produce(bs, "b", 0, [b"b%d" % i for i in range(5)])
        commit(bs, "g", "a", 0, 7)
        self.assertEqual(self.committed("g", "a"), [7])

        status, answer = call(self.base, "POST", "/snapshots/seed")
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["name"], "seed")
        self.assertIsInstance(answer["ms"], float)
        saved = os.path.join(self.info["data_dir"], ".runnel-snapshots", "seed", "a-0")
        nlinks = [os.stat(os.path.join(saved, f)).st_nlink for f in os.listdir(saved)
                  if f.endswith(".log")]
        self.assertGreater(len(nlinks), 1)
        self.assertIn(2, nlinks)  # sealed segments are shared with the data directory

        # Afterwards: more records, a deleted topic, a newer commit.
        self.assertEqual(produce(bs, "a", 0, [b"late%d" % i for i in range(3)]), [30, 31, 32])
        self.admin.delete_topics(["b"])["b"].result(TIMEOUT)
        commit(bs, "g", "a", 0, 12)
        self.assertEqual(self.committed("g", "a"), [12])

        status, answer = call(self.base, "POST", "/snapshots/seed/restore")
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["name"], "seed")

        # New clients see the state as saved.
        for part, values in seed.items():
            got = read_partition(bs, "a", part)
            self.assertEqual(got, list(enumerate(values)), "a-%d" % part)
        self.assertEqual([v for _, v in read_partition(bs, "b", 0)],
                         [b"b%d" % i for i in range(5)])
        self.assertEqual(self.committed("g", "a"), [7])
        self.assertEqual(produce(bs, "a", 0, [b"after"]), [30])
        self.assertEqual(produce(bs, "b", 0, [b"b-after"]), [5])

        # Saving again under the same name replaces it.
        status, answer = call(self.base, "POST", "/snapshots/seed")
        self.assertEqual(status, 200, answer)
        status, answer = call(self.base, "POST", "/snapshots/other.name_2")
        self.assertEqual(status, 200, answer)
        self.assertEqual(call(self.base, "GET", "/snapshots"),
                         (200, {"snapshots": ["other.name_2", "seed"]}))
        status, answer = call(self.base, "POST", "/snapshots/seed/restore")
        self.assertEqual(status, 200, answer)
        self.assertEqual(read_partition(bs, "a", 0)[-1], (30, b"after"))

        self.assertEqual(call(self.base, "DELETE", "/snapshots/seed"), (200, {"name": "seed"}))
        self.assertEqual(call(self.base, "GET", "/snapshots"),
                         (200, {"snapshots": ["other.name_2"]}))
        self.assertEqual(call(self.base, "DELETE", "/snapshots/seed")[0], 404)
        self.assertEqual(call(self.base, "POST", "/snapshots/seed/restore")[0], 404)
        self.assertEqual(call(self.base, "POST", "/snapshots/nope/restore")[0], 404)
        for bad in ["bad%21name", "x" * 101, "a.tmp", "sp%20ace"]:
            status, answer = call(self.base, "POST", "/snapshots/" + bad)
            self.assertEqual(status, 400, (bad, answer))
        status, _ = call(self.base, "GET", "/healthz")
        self.assertEqual(status, 200)

    def test_100_mb_save_and_restore_figures(self):
        self.create(["big"], partitions=4, config={"segment.bytes": str(16 << 20)})
        p = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 20,
                      "message.max.bytes": 2 << 20})
        value = os.urandom(256 << 10)
        for i in range(400):  # 100 MB
            p.produce("big", value=value, partition=i % 4)
            if i % 50 == 49:
                p.flush(TIMEOUT)
        self.assertEqual(p.flush(TIMEOUT), 0)
        status, save = call(self.base, "POST", "/snapshots/big", timeout=120)
        self.assertEqual(status, 200, save)
        p.produce("big", value=b"more", partition=0)
        self.assertEqual(p.flush(TIMEOUT), 0)
        status, restore = call(self.base, "POST", "/snapshots/big/restore", timeout=120)
        self.assertEqual(status, 200, restore)
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "w"})
        try:
            _, high = c.get_watermark_offsets(TopicPartition("big", 0), TIMEOUT)
        finally:
            c.close()
        self.assertEqual(high, 100)
        print("snapshot of 100 MB: save %.1f ms, restore %.1f ms" % (save["ms"], restore["ms"]),
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
