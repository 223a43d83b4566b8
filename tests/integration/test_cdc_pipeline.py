#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The change-data-capture example end to end (issue 13), with the example's own parts
(examples/cdc-search: pipeline.py, search_index.py, analytics.py and OrderTotals.java):

  PostgreSQL --Debezium in Kafka Connect 4.4--> Runnel --> search consumer (SQLite FTS5)
                                                       \\-> Kafka Streams totals per customer
                                                       \\-> MirrorMaker 2 --> Kafka 4.4

Connect runs with exactly.once.source.support=enabled, so Debezium's records and its source
offsets go into Runnel in one transaction: a kill -9 neither loses nor repeats a change.

1. Snapshot of 600 rows, then 10,000 changes (inserts, updates, deletes; orders also move between
   customers) in transactions of 20. The search index equals `SELECT * FROM customers` and
   `products` row for row, the Streams totals equal the SQL aggregate per customer, and a raw
   fold of the three change topics equals the three tables (bounded waits).
2. 2,000 more changes paced over 5 s; Runnel is killed with SIGKILL 2 s in and started again
   1 s later on the same port and data. Connect, Debezium, the search consumer and the Streams
   app are left alone: all must recover by themselves, and index, totals and fold converge to
   the database again.
3. Compaction: the change topics get segment.ms=1 s, min.cleanable.dirty.ratio=0.01 and
   delete.retention.ms=0; a few changes roll their segments and the cleaner compacts them (each
   topic then holds fewer records than were written). A new consumer group with a new index
   file rebuilds from offset 0 and gets the same index as the running consumer and the tables;
   the same searches give the same answers.
4. MirrorMaker 2 (dedicated mode, offset.lag.max=0) copies the change topics and group `search`
   into Apache Kafka 4.4 (kafka_oracle.py). The search consumer stops (SIGTERM: commit and leave),
   MirrorMaker translates its committed offsets into Kafka, 500 more changes are made in
   PostgreSQL (they reach Kafka through Runnel and MirrorMaker), and the consumer starts again
   with the same group and index file but Kafka as its bootstrap. Its index equals the tables
   again; its journal (one line per change event applied) shows that on Kafka it read no change
   it had read on Runnel and none twice, and that together the two runs read every change event
   the mirrored topics hold.
5. The Streams totals, still on Runnel, equal the SQL aggregate after everything.

About 3 minutes with the ASan broker on two cores: four JVMs (Connect, Streams, Kafka,
MirrorMaker) start in it."""

import collections
import json
import os
import shutil
import sys
import tempfile
import time
import unittest
import uuid

from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError, KafkaException,
                             TopicPartition)
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource)

from harness import Broker
from kafka_oracle import KafkaBroker

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "examples", "cdc-search"))
import analytics  # noqa: E402
import search_index  # noqa: E402
from pipeline import (CONNECTOR, TABLES, Connect, MirrorMaker, PacedWriter,  # noqa: E402
                      Postgres, SearchConsumer, Workload, change_topic, connector_config,
                      normalize)

SNAPSHOT = (200, 100, 300)        # customers, products, orders
CHANGES = 10000
KILL_CHANGES = 2000               # paced: 100 transactions of 20, 20 per second
KILL_RATE = 20
KILL_AFTER = 2.0                  # seconds into the paced changes
DOWN_FOR = 1.0                    # seconds Runnel stays dead
MIRROR_CHANGES = 500
INDEXED = ("customers", "products")
GROUP = "search"
TOTALS_TOPIC = "shop.customer-totals"
CONVERGE_TIMEOUT = 240            # index, totals and fold equal the database
CLEAN_TIMEOUT = 120
MIRROR_TIMEOUT = 180
SEARCHES = ("Renamed", "Town", "revision", "Customer", "number")


def read_topics(bootstrap, topics, idle=2.0, timeout=120):
    """Every record of `topics` from offset 0 (read_committed), as (topic, key, value) in order,
    read until nothing came for `idle` seconds and every partition reached its end."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "cdc-read-%s"
                         % uuid.uuid4().hex[:8], "enable.auto.commit": False,
                         "enable.partition.eof": True, "fetch.wait.max.ms": 50,
                         "isolation.level": "read_committed"})
    try:
        consumer.assign([TopicPartition(t, 0, OFFSET_BEGINNING) for t in topics])
        out = []
        at_end = set()
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() < deadline:
            msgs = consumer.consume(1000, timeout=0.2)
            for m in msgs:
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        at_end.add(m.topic())
                        continue
                    if m.error().code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                        continue
                    raise AssertionError("reading %s: %s" % (topics, m.error()))
                at_end.discard(m.topic())
                out.append((m.topic(), m.key(), m.value()))
                last = time.monotonic()
            if len(at_end) == len(topics) and time.monotonic() - last >= idle:
                return out
        raise AssertionError("reading %s did not reach the ends within %d s" % (topics, timeout))
    finally:
        consumer.close()


def fold(records):
    """{table: {id: row}} of change events (a delete or a tombstone removes the row)."""
    state = {t: {} for t in TABLES}
    for topic, key, value in records:
        table = topic.rsplit(".", 1)[1]
        i = json.loads(key)["id"]
        ev = json.loads(value) if value is not None else None
        if ev is None or ev["op"] == "d":
            state[table].pop(i, None)
        else:
            state[table][i] = normalize(ev["after"])
    return state


def event_identities(records):
    """The identity of each change event in `records` (tombstones are not events): its topic,
    row id, op, and the LSN and transaction of its change in PostgreSQL; offsets differ between
    Runnel and Kafka, these do not."""
    out = []
    for topic, key, value in records:
        if value is not None:
            ev = json.loads(value)
            out.append((topic, json.loads(key)["id"], ev["op"], ev["source"]["lsn"],
                        ev["source"]["txId"]))
    return out


def read_journal(path):
    """The identities of the change events search_index.py's journal says it applied (one JSON
    line per record; a tombstone has no LSN)."""
    out = []
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            if e["lsn"] is not None:
                out.append((e["topic"], e["id"], e["op"], e["lsn"], e["txId"]))
    return out


def describe_diff(got, want):
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = sorted(i for i in set(want) & set(got) if want[i] != got[i])
    return ("%d rows wanted, %d got; missing %s, extra %s, differing %s (first: %s vs %s)"
            % (len(want), len(got), missing[:8], extra[:8], wrong[:8],
               want.get(wrong[0]) if wrong else None, got.get(wrong[0]) if wrong else None))


class CdcPipeline(unittest.TestCase):

    def setUp(self):
        self.t0 = time.monotonic()
        self.work = tempfile.mkdtemp(prefix="runnel-cdc-pipeline-")
        self.addCleanup(shutil.rmtree, self.work, ignore_errors=True)
        self.procs = []           # what prints its log when the test fails

    def say(self, what):
        print("%6.1f s  %s" % (time.monotonic() - self.t0, what), flush=True)

    def logs(self):
        return "\n".join(p() for p in self.procs)

    # -- convergence -----------------------------------------------------------------------

    def index_equals_sql(self, db):
        index = search_index.SearchIndex(db, readonly=True)
        try:
            return all(index.rows(t) == self.pg.rows(t) for t in INDEXED)
        finally:
            index.close()

    def wait_converged(self, what, db, bootstrap=None, totals=True, raw=True):
        """Waits until the index in `db`, the Streams totals and a raw fold of the change topics
        all equal the database (the fold and totals read from `bootstrap`, Runnel by default)."""
        bootstrap = bootstrap or self.broker.bootstrap
        deadline = time.monotonic() + CONVERGE_TIMEOUT
        state = {}
        while True:
            state["index"] = self.index_equals_sql(db)
            if state["index"] and totals:
                got = analytics.read_totals(bootstrap, TOTALS_TOPIC, timeout=60)
                state["totals"] = got == self.pg.totals()
            if state["index"] and state.get("totals", True) and raw:
                records = read_topics(bootstrap, [change_topic(t) for t in TABLES])
                state["fold"] = fold(records) == {t: self.pg.rows(t) for t in TABLES}
            if all(state.values()) and len(state) == 1 + totals + raw:
                self.say("%s: %s equal%s the database" % (what, ", ".join(state),
                                                           "" if len(state) > 1 else "s"))
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(1.0)
        index = search_index.SearchIndex(db, readonly=True)
        diffs = ["%s: %s" % (t, describe_diff(index.rows(t), self.pg.rows(t))) for t in INDEXED]
        index.close()
        if totals:
            diffs.append("totals: %s" % describe_diff(
                analytics.read_totals(bootstrap, TOTALS_TOPIC, timeout=60), self.pg.totals()))
        self.fail("%s: not converged within %d s (%s):\n%s\n%s"
                  % (what, CONVERGE_TIMEOUT, state, "\n".join(diffs), self.logs()))

    # -- the test ----------------------------------------------------------------------------

    def test_database_to_search_index(self):
        pg = self.pg = Postgres()
        self.addCleanup(pg.stop)
        pg.start()
        workload = Workload(seed=1313, snapshot=SNAPSHOT)
        pg.create_shop(workload.snapshot_sql())

        broker = self.broker = Broker(overrides=("log.cleaner.backoff.ms=200",))
        broker.start()
        self.addCleanup(broker.stop)

        # Stopped in reverse: consumers and Streams, then Connect, then the brokers (a Connect
        # worker whose broker is gone takes its time to stop), then PostgreSQL.
        connect = Connect(broker.bootstrap, os.path.join(self.work, "connect"),
                          extra=["exactly.once.source.support=enabled"])
        connect.start()
        self.addCleanup(connect.stop)
        self.procs.append(connect.logs)
        connect.wait_rest()
        connect.request("PUT", "/connectors/%s/config" % CONNECTOR, connector_config(pg))
        connect.wait_running()
        self.say("connector running")

        totals = analytics.OrderTotalsApp(broker.bootstrap, "cdc-totals",
                                          os.path.join(self.work, "streams-state"),
                                          os.path.join(self.work, "streams.log"),
                                          output_topic=TOTALS_TOPIC)
        totals.start()
        self.addCleanup(totals.stop)
        self.procs.append(lambda: "---- streams ----\n%s\n%s" % (
            "\n".join(totals.output()[-20:]), tail_file(totals.log_path)))

        db = os.path.join(self.work, "search.db")
        journal_runnel = os.path.join(self.work, "journal-runnel")
        consumer_log = os.path.join(self.work, "search.log")
        search = SearchConsumer(broker.bootstrap, GROUP, db, consumer_log,
                                journal=journal_runnel)
        search.start()
        self.addCleanup(search.stop)
        self.procs.append(lambda: "---- search consumer ----\n" + tail_file(consumer_log))
        self.assertTrue(totals.wait_running(120), self.logs())
        self.say("search consumer and Streams running")

        # 1. The snapshot and 10,000 changes.
        before = workload.n
        pg.psql("\n".join(workload.changes(CHANGES)), timeout=300)
        self.assertGreaterEqual(workload.n - before, CHANGES)
        self.say("%d changes committed" % (workload.n - before))
        self.wait_converged("snapshot + %d changes" % (workload.n - before), db)

        # 2. kill -9 of Runnel in the middle of the change stream.
        before = workload.n
        writer = PacedWriter(pg, workload.changes(KILL_CHANGES), KILL_RATE)
        time.sleep(KILL_AFTER)
        self.assertLess(writer.written, len(writer.txns), "the changes ended before the kill")
        port = broker.port
        broker.kill9()
        self.say("kill -9 of Runnel after %d of %d transactions" % (writer.written,
                                                                    len(writer.txns)))
        time.sleep(DOWN_FOR)
        broker.start(port=port)
        writer.wait(120)
        self.say("%d changes around the kill" % (workload.n - before))
        self.wait_converged("after kill -9", db)
        self.assertTrue(search.alive(), "the search consumer died:\n" + self.logs())
        self.assertIsNone(totals.problem(), self.logs())
        self.assertEqual(connect.task_states(), ("RUNNING", ["RUNNING"]), self.logs())

        # 3. Compaction, then a new group rebuilds the index from offset 0.
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        change_topics = [change_topic(t) for t in TABLES]
        written = collections.Counter(t for t, _, _ in read_topics(broker.bootstrap,
                                                                   change_topics))
        resources = [ConfigResource("topic", t, incremental_configs=[
            ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
            for k, v in (("segment.ms", "1000"), ("min.cleanable.dirty.ratio", "0.01"),
                         ("delete.retention.ms", "0"))]) for t in change_topics]
        for res, fut in admin.incremental_alter_configs(resources).items():
            fut.result(timeout=30)
        time.sleep(1.5)
        pg.psql("\n".join(workload.changes(100)))       # appends roll the old segments
        deadline = time.monotonic() + CLEAN_TIMEOUT
        while True:
            now = collections.Counter(t for t, _, _ in read_topics(broker.bootstrap,
                                                                   change_topics))
            if all(now[t] < written[t] for t in change_topics):
                break
            self.assertLess(time.monotonic(), deadline, "not compacted: %s records, %s before"
                            % (dict(now), dict(written)))
            time.sleep(2.0)
        self.say("compacted: %s records, %s before" % (dict(now), dict(written)))
        self.wait_converged("after compaction", db, totals=False, raw=False)
        rebuilt_db = os.path.join(self.work, "rebuilt.db")
        rebuild = SearchConsumer(broker.bootstrap, "search-rebuild", rebuilt_db,
                                 os.path.join(self.work, "rebuild.log"))
        rebuild.start()
        self.addCleanup(rebuild.stop)
        self.wait_converged("the index rebuilt from offset 0", rebuilt_db, totals=False,
                            raw=False)
        self.assertEqual(rebuild.stop(), 0)
        a = search_index.SearchIndex(db, readonly=True)
        b = search_index.SearchIndex(rebuilt_db, readonly=True)
        try:
            for t in INDEXED:
                self.assertEqual(a.rows(t), b.rows(t), t)
            for word in SEARCHES:
                hits = a.search([word], 10000)
                self.assertTrue(hits, "no hit for %r" % word)
                self.assertEqual(sorted_hits(hits), sorted_hits(b.search([word], 10000)), word)
        finally:
            a.close()
            b.close()

        # 4. MirrorMaker 2 to Kafka 4.4, and the search consumer moves over.
        kafka = KafkaBroker()
        kafka.start()
        self.addCleanup(kafka.stop)
        mm2 = MirrorMaker(broker.bootstrap, kafka.bootstrap, os.path.join(self.work, "mm2"),
                          GROUP)
        mm2.start()
        self.addCleanup(mm2.stop)
        self.procs.append(mm2.logs)
        self.say("Kafka and MirrorMaker 2 started")
        # The consumer stops once every change so far is indexed, so its committed offsets are
        # Runnel's log ends.
        self.wait_converged("before the move", db, totals=False, raw=False)
        self.assertEqual(search.stop(), 0, self.logs())
        indexed_topics = [change_topic(t) for t in INDEXED]
        deadline = time.monotonic() + MIRROR_TIMEOUT
        while True:
            committed = group_offsets(kafka.bootstrap, GROUP, indexed_topics)
            ends = end_offsets(kafka.bootstrap, indexed_topics)
            if committed and committed == ends:
                break
            if time.monotonic() >= deadline:
                self.fail("MirrorMaker did not bring group %s to Kafka's ends within %d s: "
                          "committed %s, ends %s\n%s" % (GROUP, MIRROR_TIMEOUT, committed, ends,
                                                         self.logs()))
            time.sleep(1.0)
        self.say("group %s on Kafka at %s (the mirrored ends)" % (GROUP, committed))
        pg.psql("\n".join(workload.changes(MIRROR_CHANGES)))
        journal_kafka = os.path.join(self.work, "journal-kafka")
        moved = SearchConsumer(kafka.bootstrap, GROUP, db, consumer_log, journal=journal_kafka)
        moved.start()
        self.addCleanup(moved.stop)
        self.wait_converged("on Kafka", db, bootstrap=kafka.bootstrap, totals=False)
        self.assertEqual(moved.stop(), 0, self.logs())
        on_runnel = read_journal(journal_runnel)
        on_kafka = read_journal(journal_kafka)
        mirrored = event_identities(read_topics(kafka.bootstrap, indexed_topics))
        self.assertTrue(on_kafka, "the consumer read nothing on Kafka")
        twice = [e for e, n in collections.Counter(on_kafka).items() if n > 1]
        self.assertEqual(twice, [], "read twice on Kafka")
        again = set(on_kafka) & set(on_runnel)
        self.assertEqual(sorted(again)[:10], [], "read on Runnel, then again on Kafka")
        missed = set(mirrored) - set(on_kafka) - set(on_runnel)
        self.assertEqual(sorted(missed)[:10], [], "in Kafka's topics, never read")
        self.say("on Kafka: %d change events read, none read before, none twice; %d mirrored "
                 "events all read" % (len(on_kafka), len(set(mirrored))))

        # 5. The Streams totals, on Runnel all along.
        self.wait_converged("at the end", db, bootstrap=broker.bootstrap, raw=False)
        self.assertIsNone(totals.problem(), self.logs())


def sorted_hits(hits):
    """Search hits in an order that does not depend on how ties were broken."""
    return sorted((h["score"], h["kind"], h["id"], h["snippet"]) for h in hits)


def tail_file(path, n=60):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return "(%s)\n" % e


def group_offsets(bootstrap, group, topics):
    """{topic: committed offset} of partition 0 of `topics` for `group` (OffsetFetch through a
    consumer that never joins the group), without the topics that have none. Not the
    AdminClient: confluent-kafka 2.16's list_consumer_group_offsets crashes the interpreter
    (SIGSEGV) against Kafka 4.4 here."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    try:
        parts = consumer.committed([TopicPartition(t, 0) for t in topics], timeout=10)
    except Exception:  # noqa: BLE001 - the coordinator not ready yet: asked again
        return {}
    finally:
        consumer.close()
    return {tp.topic: tp.offset for tp in parts if tp.offset >= 0}


def end_offsets(bootstrap, topics):
    """{topic: high watermark of partition 0}, or {} while a topic is missing."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "cdc-ends",
                         "isolation.level": "read_committed"})
    try:
        return {t: consumer.get_watermark_offsets(TopicPartition(t, 0), timeout=10)[1]
                for t in topics}
    except KafkaException:
        return {}
    finally:
        consumer.close()


if __name__ == "__main__":
    unittest.main()
