#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""log.cleaner.io.max.bytes.per.second (issue 12): the cleaner's reads and writes are held to
the rate, as Kafka's Throttler holds them, and the cleaned log is still right.

A compacted topic gets about 12 MB of records over 1,000 keys; the broker's cleaner may move 4 MB
a second. The round's own log line says how long it took and how many bytes it read and wrote:
at that rate it cannot have taken much less than (read + written) / rate. Kafka's throttler (and
ours) checks every 300 ms, so the last window may go unthrottled: the bound allows half a second.
The rate is a limit, not a speed: the assertion is on a lower bound of time, which a loaded
machine can only make easier to meet."""

import os
import re
import sys
import time
import unittest

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from harness import Broker

RATE = 4_000_000  # bytes per second
KEYS = 1000
RECORDS = 120_000
VALUE = b"v" * 90
ROUND = re.compile(r"/thr-0: cleaned offsets (\d+) to (\d+) in ([\d.]+) s: \d+ segments' "
                   r"([\d.]+) MB read, ([\d.]+) MB written")


class CleanerThrottle(unittest.TestCase):
    def test_rate_limit_holds(self):
        b = Broker(overrides=("log.cleaner.backoff.ms=200",
                              "log.cleaner.io.max.bytes.per.second=%d" % RATE,
                              "log.retention.check.interval.ms=500"))
        b.start()
        self.addCleanup(b.stop)
        bs = b.bootstrap
        admin = AdminClient({"bootstrap.servers": bs})
        # min.compaction.lag.ms of an hour holds the cleaner off while the topic fills, so one
        # round takes it all once the lag is lifted.
        conf = {"cleanup.policy": "compact", "segment.bytes": str(1 << 20), "segment.ms": "1000",
                "min.cleanable.dirty.ratio": "0.01", "min.compaction.lag.ms": "3600000"}
        for f in admin.create_topics([NewTopic("thr", 1, 1, config=conf)]).values():
            f.result(timeout=30)

        p = Producer({"bootstrap.servers": bs, "linger.ms": 20, "acks": "all"})
        latest = {}
        for i in range(RECORDS):
            key = b"k%04d" % (i % KEYS)
            value = VALUE + b"%08d" % i
            while True:
                try:
                    p.produce("thr", key=key, value=value, partition=0)
                    break
                except BufferError:
                    p.poll(0.05)
            latest[key] = value
        self.assertEqual(p.flush(60), 0)
        time.sleep(1.3)  # past segment.ms: the sentinel rolls everything above into cleanable
        p.produce("thr", key=b"sentinel", value=b"s", partition=0)
        latest[b"sentinel"] = b"s"
        self.assertEqual(p.flush(30), 0)
        conf["min.compaction.lag.ms"] = "0"  # AlterConfigs replaces the whole set
        for f in admin.alter_configs([ConfigResource("topic", "thr", set_config=conf)]).values():
            f.result(timeout=30)

        line = b.wait_for_line(ROUND.pattern, timeout=120)
        self.assertIsNotNone(line, "no cleaning round of thr-0 in 120 s")
        m = ROUND.search(line)
        self.assertIsNotNone(m, line)
        seconds = float(m.group(3))
        moved = (float(m.group(4)) + float(m.group(5))) * 1e6
        print("cleaner round: %.1f MB read and written in %.3f s (limit %.1f MB/s)"
              % (moved / 1e6, seconds, RATE / 1e6), file=sys.stderr)
        self.assertGreater(moved, 8e6, "the round moved too little to say anything: " + line)
        self.assertGreaterEqual(seconds, moved / RATE - 0.5,
                                "the cleaner ran faster than log.cleaner.io.max.bytes.per.second: "
                                + line)

        # The throttled round cleaned right: the latest value of every key, once.
        c = Consumer({"bootstrap.servers": bs, "group.id": "thr-reader",
                      "enable.partition.eof": True, "auto.offset.reset": "earliest"})
        c.assign([TopicPartition("thr", 0, 0)])
        seen, deadline = {}, time.monotonic() + 60
        while time.monotonic() < deadline:
            msg = c.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    break
                self.fail(str(msg.error()))
            self.assertNotIn(msg.key(), seen, "a key twice after cleaning")
            seen[msg.key()] = msg.value()
        c.close()
        self.assertEqual(seen, latest)


if __name__ == "__main__":
    unittest.main()
