#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""GET /metrics on the control plane (issue 15), read with prometheus_client's own parser:

1. `runnel --ephemeral`; a topic of 3 partitions gets 7, 11 and 13 records from confluent-kafka;
   a group consumes them all and commits offsets for two partitions only; a second group, whose
   id holds a double quote, a backslash and a newline, commits one.
2. The answer is text/plain; version=0.0.4 and parses. Request counters for Produce, Fetch and
   Metadata are positive; a CreateTopics of an existing topic counts as an error, the Produce
   requests as none. Every histogram's buckets never decrease and +Inf equals _count.
3. runnel_log_end_offset is what was produced, per partition; runnel_consumer_group_lag is the
   high watermark minus what Consumer.committed() returns, per partition, and absent for the
   partition without a commit; the odd group id comes back intact (escaping).
4. Network and connection counters moved, resident memory is positive.
A few seconds."""

import math
import os
import time
import unittest
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from harness import Ephemeral

TIMEOUT = 30
TOPIC = "metered"
COUNTS = {0: 7, 1: 11, 2: 13}
GROUP = "metrics-group"
ODD_GROUP = 'odd "group"\\with\nnewline'


def scrape(control):
    with urllib.request.urlopen(control + "/metrics", timeout=TIMEOUT) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode("utf-8")


def samples(families, name):
    """{frozenset(labels.items()): value} of the samples called `name` (a family's sample name,
    e.g. runnel_requests_total or x_bucket)."""
    out = {}
    for fam in families:
        for s in fam.samples:
            if s.name == name:
                out[frozenset(s.labels.items())] = s.value
    return out


def consume_all(consumer, want, deadline):
    got = 0
    while got < want and time.monotonic() < deadline:
        m = consumer.poll(0.2)
        if m is not None and not m.error():
            got += 1
    return got


class ControlMetrics(unittest.TestCase):

    def setUp(self):
        broker = Ephemeral()
        self.addCleanup(broker.stop)
        self.info = broker.info
        self.bootstrap = broker.bootstrap

    def make_topic(self):
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for f in admin.create_topics([NewTopic(TOPIC, 3, 1)]).values():
            f.result(TIMEOUT)
        # Again: TOPIC_ALREADY_EXISTS, which the metrics must count as an error.
        for f in admin.create_topics([NewTopic(TOPIC, 3, 1)]).values():
            with self.assertRaises(Exception):
                f.result(TIMEOUT)

    def produce(self):
        p = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
        for part, n in COUNTS.items():
            for i in range(n):
                p.produce(TOPIC, value=b"v%d" % i, partition=part)
        self.assertEqual(p.flush(TIMEOUT), 0)

    def consumer(self, group):
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group,
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})
        self.addCleanup(c.close)
        return c

    def test_metrics(self):
        self.make_topic()
        self.produce()
        total = sum(COUNTS.values())

        c = self.consumer(GROUP)
        c.subscribe([TOPIC])
        self.assertEqual(consume_all(c, total, time.monotonic() + TIMEOUT), total)
        # Commit two partitions of three, at offsets below their ends.
        c.commit(offsets=[TopicPartition(TOPIC, 0, 3), TopicPartition(TOPIC, 1, 11)],
                 asynchronous=False)
        tps = [TopicPartition(TOPIC, p) for p in COUNTS]
        committed = {tp.partition: tp.offset for tp in c.committed(tps, timeout=TIMEOUT)}
        self.assertEqual(committed[0], 3)
        self.assertEqual(committed[1], 11)
        self.assertLess(committed[2], 0, "partition 2 has no commit")

        odd = self.consumer(ODD_GROUP)
        odd.assign([TopicPartition(TOPIC, 2, 0)])
        odd.commit(offsets=[TopicPartition(TOPIC, 2, 5)], asynchronous=False)

        status, ctype, text = scrape(self.info["control"])
        if os.environ.get("METRICS_DUMP"):
            print(text)
        self.assertEqual(status, 200)
        self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
        families = list(text_string_to_metric_families(text))
        names = {f.name for f in families}
        # The parser drops a counter's _total from the family name.
        for want in ("runnel_requests", "runnel_request_errors", "runnel_request_duration_seconds",
                     "runnel_network_received_bytes", "runnel_network_sent_bytes",
                     "runnel_connections", "runnel_connections_accepted",
                     "runnel_log_start_offset", "runnel_log_end_offset", "runnel_log_size_bytes",
                     "runnel_consumer_group_committed_offset", "runnel_consumer_group_lag",
                     "runnel_log_fsync_duration_seconds", "runnel_log_cleaner_runs",
                     "runnel_process_resident_memory_bytes"):
            self.assertIn(want, names)
        for fam in families:
            self.assertTrue(fam.documentation, fam.name + " has a HELP line")
            self.assertIn(fam.type, ("counter", "gauge", "histogram"), fam.name)

        # 2. requests, errors and histograms
        requests = samples(families, "runnel_requests_total")
        errors = samples(families, "runnel_request_errors_total")
        by_api = {}
        for labels, v in requests.items():
            api = dict(labels)["api"]
            by_api[api] = by_api.get(api, 0) + v
        for api in ("Produce", "Fetch", "Metadata", "ApiVersions", "OffsetCommit",
                    "OffsetFetch", "JoinGroup", "SyncGroup"):
            self.assertGreater(by_api.get(api, 0), 0, api)
        self.assertEqual(set(errors), set(requests), "an error series for each request series")
        err_by_api = {}
        for labels, v in errors.items():
            api = dict(labels)["api"]
            err_by_api[api] = err_by_api.get(api, 0) + v
        self.assertGreaterEqual(err_by_api["CreateTopics"], 1)
        self.assertEqual(err_by_api["Produce"], 0)
        for labels, v in requests.items():
            self.assertLessEqual(errors[labels], v)

        for fam in families:
            if fam.type != "histogram":
                continue
            series = {}
            for s in fam.samples:
                key = frozenset((k, v) for k, v in s.labels.items() if k != "le")
                series.setdefault(key, {"buckets": []})
                if s.name.endswith("_bucket"):
                    le = s.labels["le"]
                    series[key]["buckets"].append((math.inf if le == "+Inf" else float(le),
                                                   s.value))
                elif s.name.endswith("_count"):
                    series[key]["count"] = s.value
                elif s.name.endswith("_sum"):
                    series[key]["sum"] = s.value
            for key, h in series.items():
                b = sorted(h["buckets"])
                self.assertEqual(len(b), 15, (fam.name, key))
                self.assertEqual(b[-1][0], math.inf)
                for (_, lo), (_, hi) in zip(b, b[1:]):
                    self.assertLessEqual(lo, hi, (fam.name, key, b))
                self.assertEqual(b[-1][1], h["count"], (fam.name, key))
                self.assertGreaterEqual(h["sum"], 0)
        durations = samples(families, "runnel_request_duration_seconds_count")
        self.assertEqual(durations[frozenset({("api", "Produce")})], by_api["Produce"])

        # 3. partitions and lag
        end = samples(families, "runnel_log_end_offset")
        start_ = samples(families, "runnel_log_start_offset")
        size = samples(families, "runnel_log_size_bytes")
        for part, n in COUNTS.items():
            key = frozenset({("topic", TOPIC), ("partition", str(part))})
            self.assertEqual(end[key], n, part)
            self.assertEqual(start_[key], 0, part)
            self.assertGreater(size[key], 0, part)
            low, high = c.get_watermark_offsets(TopicPartition(TOPIC, part), timeout=TIMEOUT)
            self.assertEqual(high, n)

        lag = samples(families, "runnel_consumer_group_lag")
        offsets = samples(families, "runnel_consumer_group_committed_offset")
        mine = {int(dict(k)["partition"]): v for k, v in lag.items()
                if dict(k)["group"] == GROUP and dict(k)["topic"] == TOPIC}
        self.assertEqual(mine, {p: COUNTS[p] - committed[p] for p in (0, 1)})
        mine = {int(dict(k)["partition"]): v for k, v in offsets.items()
                if dict(k)["group"] == GROUP and dict(k)["topic"] == TOPIC}
        self.assertEqual(mine, {0: 3, 1: 11})
        odd_key = frozenset({("group", ODD_GROUP), ("topic", TOPIC), ("partition", "2")})
        self.assertEqual(offsets.get(odd_key), 5, "the odd group id reads back intact")
        self.assertEqual(lag.get(odd_key), COUNTS[2] - 5)

        # 4. network and process
        def one(name):
            got = samples(families, name)
            self.assertEqual(len(got), 1, name)
            return next(iter(got.values()))
        self.assertGreater(one("runnel_network_received_bytes_total"), 0)
        self.assertGreater(one("runnel_network_sent_bytes_total"), 0)
        self.assertGreaterEqual(one("runnel_connections_accepted_total"), 3)
        self.assertGreaterEqual(one("runnel_connections"), 1, "the consumers are connected")
        self.assertGreater(one("runnel_process_resident_memory_bytes"), 1 << 20)
        self.assertGreater(one("process_start_time_seconds"), time.time() - 3600)

        # Counters only grow: a second scrape after more produce.
        self.produce()
        families = list(text_string_to_metric_families(scrape(self.info["control"])[2]))
        again = samples(families, "runnel_requests_total")
        for labels, v in requests.items():
            self.assertGreaterEqual(again[labels], v)
        end = samples(families, "runnel_log_end_offset")
        for part, n in COUNTS.items():
            self.assertEqual(end[frozenset({("topic", TOPIC), ("partition", str(part))})], 2 * n)


if __name__ == "__main__":
    unittest.main()
