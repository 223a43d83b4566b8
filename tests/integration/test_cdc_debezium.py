#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Change data capture through Runnel (issue 13): Debezium's PostgreSQL connector in a Kafka
Connect 4.4 distributed worker, with Runnel as Connect's Kafka.

The parts are the example's (examples/cdc-search/pipeline.py). scripts/setup fetches Connect into
.cache/cdc/connect-libs and Debezium's plugin into .cache/cdc/plugins (examples/cdc-search/pom-*.xml)
and installs PostgreSQL. The test runs:

- a private PostgreSQL cluster (initdb in a temporary directory, wal_level=logical, on an
  ephemeral loopback port; through `runuser -u postgres` when the test runs as root, since
  PostgreSQL refuses to run as root), with examples/cdc-search/schema.sql's three tables
  (customers, products, orders) and a few hundred rows for the initial snapshot;
- Runnel (harness.Broker), and a Connect worker (its REST API on an ephemeral port) whose three
  internal topics Connect creates in Runnel;
- the connector, registered over REST: snapshot, then streaming through pgoutput into the
  compacted topics shop.public.{customers,products,orders}.

1. About 2,000 changes (inserts, updates, deletes of the three tables, in transactions of 20)
   are committed. A confluent_kafka consumer reads the three topics from offset 0 and folds them
   into {table: {id: row}} (a delete event or a tombstone removes the row) until that equals
   `SELECT * FROM table` of every table, row for row (bounded wait).
2. A second batch of about 1,000 changes is committed over a few seconds; Runnel is killed with
   SIGKILL in the middle of it and started again on the same port and data directory. Connect
   and Debezium must recover by themselves (no REST call): the fold, read again from offset 0,
   must equal the tables again (no change lost; a change sent twice folds to the same rows).
   Connect's log must show that the connector's producer lost Runnel, and no ERROR but the
   plugin scanner's (Debezium's optional CloudEventsConverter lacks its dependencies).
3. The change topics and Connect's three internal topics are cleanup.policy=compact
   (DescribeConfigs).

About 20 s with the ASan broker, most of it the JVM's start."""

import json
import os
import shutil
import sys
import tempfile
import time
import unittest
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from harness import Broker

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "examples", "cdc-search"))
from pipeline import (CONNECT_TOPICS, CONNECTOR, TABLES, Connect, PacedWriter,  # noqa: E402
                      Postgres, Workload, change_topic, connector_config, normalize)

BATCH1_CHANGES = 2000     # in transactions of 20
BATCH2_CHANGES = 1000     # in transactions of 20, 10 per second
BATCH2_RATE = 10
FOLD_TIMEOUT = 120        # the fold equals the tables
KILL_AFTER = 1.5          # seconds into the second batch
DOWN_FOR = 1.0            # seconds Runnel stays dead


class Fold:
    """Reads the change topics from offset 0 into {table: {id: row}}."""

    def __init__(self, bootstrap):
        self.state = {t: {} for t in TABLES}
        self.events = 0
        self.tombstones = 0
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": "cdc-fold-%s" % uuid.uuid4().hex[:8],
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 50,
            "enable.partition.eof": False,
        })
        self.consumer.assign([TopicPartition(change_topic(t), 0, OFFSET_BEGINNING)
                              for t in TABLES])

    def poll(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msgs = self.consumer.consume(1000, timeout=0.2)
            for m in msgs:
                if m.error():
                    if m.error().code() in (KafkaError._PARTITION_EOF,
                                            KafkaError.UNKNOWN_TOPIC_OR_PART):
                        continue
                    raise AssertionError("consumer error: %s" % m.error())
                table = m.topic().rsplit(".", 1)[1]
                key = json.loads(m.key())["id"]
                if m.value() is None:
                    self.tombstones += 1
                    self.state[table].pop(key, None)
                    continue
                ev = json.loads(m.value())
                self.events += 1
                if ev["op"] == "d":
                    self.state[table].pop(key, None)
                else:
                    self.state[table][key] = normalize(ev["after"])
            if not msgs:
                return

    def close(self):
        self.consumer.close()


def wait_fold_equals(test, bootstrap, pg, connect, what):
    """A fresh fold from offset 0 until it equals every table (bounded); returns the fold."""
    fold = Fold(bootstrap)
    try:
        deadline = time.monotonic() + FOLD_TIMEOUT
        sql = {t: pg.rows(t) for t in TABLES}
        while True:
            fold.poll(1.0)
            if fold.state == sql:
                return fold
            if time.monotonic() >= deadline:
                break
        diffs = []
        for t in TABLES:
            got, want = fold.state[t], sql[t]
            missing = sorted(set(want) - set(got))
            extra = sorted(set(got) - set(want))
            wrong = sorted(i for i in set(want) & set(got) if want[i] != got[i])
            diffs.append("%s: %d rows in SQL, %d folded; missing %s, extra %s, differing %s"
                         % (t, len(want), len(got), missing[:10], extra[:10], wrong[:10]))
        test.fail("%s: the fold of the change topics (%d events, %d tombstones) is not the "
                  "tables after %d s:\n%s\n%s" % (what, fold.events, fold.tombstones,
                                                  FOLD_TIMEOUT, "\n".join(diffs),
                                                  connect.logs()))
    finally:
        fold.close()


class CdcDebezium(unittest.TestCase):

    def test_debezium_postgres_through_connect(self):
        t0 = time.monotonic()
        work = tempfile.mkdtemp(prefix="runnel-cdc-")
        self.addCleanup(shutil.rmtree, work, ignore_errors=True)

        pg = Postgres()
        self.addCleanup(pg.stop)
        pg.start()
        workload = Workload(seed=13)
        pg.create_shop(workload.snapshot_sql())

        broker = Broker(overrides=("log.cleaner.backoff.ms=200",))
        broker.start()
        self.addCleanup(broker.stop)

        connect = Connect(broker.bootstrap, work)
        connect.start()
        self.addCleanup(connect.stop)
        info = connect.wait_rest()
        self.assertEqual(info.get("version"), "4.4.0", info)
        connect.request("PUT", "/connectors/%s/config" % CONNECTOR, connector_config(pg))
        connect.wait_running()
        print("connector running after %.1f s" % (time.monotonic() - t0))

        # 1. The snapshot and about 2,000 changes.
        before = workload.n
        pg.psql("\n".join(workload.changes(BATCH1_CHANGES)))
        fold = wait_fold_equals(self, broker.bootstrap, pg, connect, "first batch")
        print("batch 1: %d changes; fold of %d events, %d tombstones equals SQL (%s) at %.1f s"
              % (workload.n - before, fold.events, fold.tombstones,
                 {t: len(fold.state[t]) for t in TABLES}, time.monotonic() - t0))

        # 2. kill -9 of Runnel in the middle of a second batch.
        before = workload.n
        writer = PacedWriter(pg, workload.changes(BATCH2_CHANGES), BATCH2_RATE)
        time.sleep(KILL_AFTER)
        self.assertLess(writer.written, len(writer.txns), "the second batch ended before the kill")
        port = broker.port
        broker.kill9()
        time.sleep(DOWN_FOR)
        broker.start(port=port)
        writer.wait(120)
        fold = wait_fold_equals(self, broker.bootstrap, pg, connect, "after kill -9 of Runnel")
        print("batch 2: %d changes around a kill -9; fold of %d events, %d tombstones equals "
              "SQL (%s) at %.1f s" % (workload.n - before, fold.events, fold.tombstones,
                                      {t: len(fold.state[t]) for t in TABLES},
                                      time.monotonic() - t0))
        status = connect.request("GET", "/connectors/%s/status" % CONNECTOR)
        self.assertEqual([t["state"] for t in status["tasks"]], ["RUNNING"], status)
        # The kill hit the connector while it streamed, and nothing in Connect failed: its
        # only ERROR lines are the plugin scanner's, which cannot load Debezium's optional
        # CloudEventsConverter (dependencies not in the plugin).
        with open(connect.log, encoding="utf-8", errors="replace") as f:
            log = f.read().splitlines()
        self.assertTrue(any("connector-producer-%s-0" % CONNECTOR in l
                            and "could not be established" in l for l in log),
                        "the connector's producer never lost Runnel:\n" + connect.logs())
        errors = [l for l in log if " ERROR " in l
                  and not ("Scanner]" in l and "Converter" in l)]
        self.assertEqual(errors, [], connect.logs())

        # 3. Every topic of the pipeline is compacted.
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        topics = [change_topic(t) for t in TABLES] + list(CONNECT_TOPICS)
        futures = admin.describe_configs([ConfigResource("topic", t) for t in topics])
        for res, fut in futures.items():
            policy = fut.result(timeout=30)["cleanup.policy"].value
            self.assertEqual(policy, "compact", res.name)
        print("done in %.1f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    unittest.main()
