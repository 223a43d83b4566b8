#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The CDC example's search index (issue 13), examples/cdc-search/search_index.py, against
Runnel: a consumer group member keeping a SQLite FTS5 index of customers and products from
Debezium's change topics.

The change events are synthetic, shaped as Debezium's PostgreSQL connector writes them through
Kafka Connect's JsonConverter (schemas.enable=false; test_cdc_debezium.py runs the real one):
key {"id": N}, value the envelope {before, after, source {ts_us, lsn, txId, snapshot}, op,
ts_ms}, a delete being an op "d" event and then a tombstone. The test keeps the tables as a
Python model and runs the indexer's command line as a subprocess, with the Python that runs
the test (meson.build runs it with the venv's confluent-kafka 2.x and Debian's 1.7.0):

1. A snapshot (op r) and a first round of inserts, updates (one customer a hundred times) and
   deletes are in the compacted topics before the indexer starts in group A; its `dump` must
   equal the model (bounded wait). `query` finds a product by a word of its description; after
   the product is deleted and another updated, it finds neither the deleted one nor the old
   word, and finds the new one.
2. A second round is produced from a thread while Runnel is killed with SIGKILL and started
   again on the same port and data directory; the indexer, left alone, converges again.
3. SIGTERM: the indexer exits 0, and group A's committed offsets are the ends of the topics.
   Its journal holds every offset of both topics (none missed), its lag file the lags of the
   non-snapshot changes.
4. A second indexer in a new group B with a new database, stopped by --stop-after-idle,
   dumps the same tables, having applied every record exactly once.

About 15 s."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness import Broker

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SCRIPT = os.path.join(ROOT, "examples", "cdc-search", "search_index.py")
sys.path.insert(0, os.path.dirname(SCRIPT))
import search_index  # noqa: E402  (the module under test, also importable)

TOPICS = {"customers": "shop.public.customers", "products": "shop.public.products"}
SNAPSHOT = {"customers": 150, "products": 80}
ROUND1 = 400              # changes before the indexer starts
ROUND2 = 1500             # changes produced across the kill -9
ROUND2_PAUSE = 0.002      # seconds between round 2's changes
KILL_AFTER = 1.0          # seconds into round 2
DOWN_FOR = 1.0            # seconds Runnel stays dead
HOT_UPDATES = 100         # updates of customer 1 in round 1
CONVERGE_TIMEOUT = 30
ASSIGN_TIMEOUT = 20
EXIT_TIMEOUT = 15

FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Ken", "Frances", "Niklaus",
         "Margaret", "John", "Radia", "Leslie", "Tony", "Adele")
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Thompson", "Allen",
        "Wirth", "Hamilton", "Backus", "Perlman", "Lamport", "Hoare", "Goldberg")
CITIES = ("London", "New York", "Zurich", "Austin", "Boston", "Oslo", "Lyon", "Kyoto", None)
ADJECTIVES = ("stainless", "cast", "enamel", "bamboo", "copper", "glass", "ceramic", "oak")
NOUNS = ("kettle", "teapot", "mug", "skillet", "whisk", "grinder", "ladle", "colander")


class Shop:
    """The tables as a model, and the change records Debezium would write for each change."""

    def __init__(self, seed):
        self.rnd = random.Random(seed)
        self.tables = {t: {} for t in TOPICS}
        self.next_id = {t: 1 for t in TOPICS}
        self.version = {}         # product id -> description version
        self.lsn = 23_000_000
        self.tx = 700
        self.lock = threading.Lock()

    def _envelope(self, op, before, after, snapshot):
        self.lsn += 56
        now_us = time.time_ns() // 1000
        return {"before": before, "after": after,
                "source": {"version": "3.6.1.Final", "connector": "postgresql", "name": "shop",
                           "ts_ms": now_us // 1000, "ts_us": now_us,
                           "ts_ns": now_us * 1000, "snapshot": snapshot, "db": "shop",
                           "schema": "public", "table": "", "txId": self.tx, "lsn": self.lsn,
                           "xmin": None},
                "transaction": None, "op": op, "ts_ms": now_us // 1000 + 3}

    def _record(self, table, row_id, env):
        env["source"]["table"] = table
        key = json.dumps({"id": row_id}).encode()
        return TOPICS[table], key, (None if env is None else json.dumps(env).encode())

    def _new_row(self, table, row_id):
        if table == "customers":
            first, last = self.rnd.choice(FIRST), self.rnd.choice(LAST)
            return {"id": row_id, "name": "%s %s" % (first, last),
                    "email": "%s.%s%d@example.org" % (first.lower(), last.lower(), row_id),
                    "city": self.rnd.choice(CITIES)}
        self.version[row_id] = 0
        return {"id": row_id, "name": "%s %s" % (self.rnd.choice(ADJECTIVES).title(),
                                                 self.rnd.choice(NOUNS)),
                "description": self._description(row_id),
                "price_cents": self.rnd.randrange(199, 99999)}

    def _description(self, row_id):
        # sku<id>v<version>: one word that only this version of this product has.
        return "%s %s %s, sku%dv%d" % (self.rnd.choice(ADJECTIVES), self.rnd.choice(ADJECTIVES),
                                       self.rnd.choice(NOUNS), row_id, self.version[row_id])

    def snapshot(self):
        out = []
        total = sum(SNAPSHOT.values())
        n = 0
        for table, count in SNAPSHOT.items():
            for _ in range(count):
                n += 1
                row_id = self.next_id[table]
                self.next_id[table] += 1
                row = self._new_row(table, row_id)
                self.tables[table][row_id] = row
                out.append(self._record(table, row_id, self._envelope(
                    "r", None, dict(row), "last" if n == total else "true")))
        self.tx += 1
        return out

    def insert(self, table):
        row_id = self.next_id[table]
        self.next_id[table] += 1
        row = self._new_row(table, row_id)
        self.tables[table][row_id] = row
        return [self._record(table, row_id, self._envelope("c", None, dict(row), "false"))]

    def update(self, table, row_id=None):
        if row_id is None:
            row_id = self.rnd.choice(sorted(self.tables[table]))
        before = dict(self.tables[table][row_id])
        after = dict(before)
        if table == "customers":
            after["city"] = self.rnd.choice(CITIES)
            local, domain = before["email"].split("@")
            after["email"] = "%s.u%d@%s" % (local.split(".u")[0], self.rnd.randrange(1000), domain)
        else:
            self.version[row_id] += 1
            after["description"] = self._description(row_id)
            after["price_cents"] = self.rnd.randrange(199, 99999)
        self.tables[table][row_id] = after
        return [self._record(table, row_id, self._envelope("u", before, dict(after), "false"))]

    def delete(self, table, row_id=None):
        if row_id is None:
            row_id = self.rnd.choice(sorted(self.tables[table]))
        before = self.tables[table].pop(row_id)
        return [self._record(table, row_id, self._envelope("d", dict(before), None, "false")),
                (TOPICS[table], json.dumps({"id": row_id}).encode(), None)]

    def random_change(self):
        """One transaction's records: an insert, update or delete of a random table."""
        with self.lock:
            self.tx += 1
            table = self.rnd.choice(sorted(TOPICS))
            r = self.rnd.random()
            if r < 0.35 or len(self.tables[table]) < 10:
                return self.insert(table)
            if r < 0.85:
                return self.update(table)
            return self.delete(table)

    def model(self):
        with self.lock:
            return {t: {i: dict(r) for i, r in rows.items()} for t, rows in self.tables.items()}


class Indexer:
    """search_index.py consume as a subprocess; stdout is read in a thread."""

    def __init__(self, bootstrap, group, work, name):
        self.db = os.path.join(work, name + ".db")
        self.journal = os.path.join(work, name + ".journal")
        self.lag = os.path.join(work, name + ".lag")
        self.log = os.path.join(work, name + ".log")
        self.assigned = threading.Event()
        self.lines = []
        self.bootstrap, self.group = bootstrap, group

    def start(self, *extra):
        self.stderr = open(self.log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, SCRIPT, "consume", "--bootstrap", self.bootstrap, "--group",
             self.group, "--db", self.db, "--journal", self.journal, "--lag", self.lag] +
            list(extra),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        if not self.assigned.wait(ASSIGN_TIMEOUT):
            raise AssertionError("no 'assigned:' line within %d s; log:\n%s"
                                 % (ASSIGN_TIMEOUT, self.log_text()))
        return self

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("assigned: shop."):
                self.assigned.set()

    def log_text(self):
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-60:])

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(EXIT_TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)
            self.stderr.close()
            self.proc.stdout.close()

    def journal_lines(self):
        with open(self.journal, encoding="utf-8") as f:
            return [json.loads(line) for line in f]


def cli(*args):
    r = subprocess.run([sys.executable, SCRIPT] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError("search_index.py %s: status %d\n%s"
                             % (" ".join(args), r.returncode, r.stderr))
    return r.stdout


def dump(db):
    """`dump` as {table: {id: row}}."""
    tables = json.loads(cli("dump", "--db", db))
    return {t: {r["id"]: r for r in rows} for t, rows in tables.items()}


def query_ids(db, *words):
    """(kind, id) of `query`'s hits."""
    return [(line.split("\t")[0], int(line.split("\t")[1]))
            for line in cli("query", "--db", db, *words).splitlines()]


class CdcSearch(unittest.TestCase):

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="runnel-cdc-search-")
        # No initial rebalance delay: a single member is assigned at once.
        self.broker = Broker(overrides=["group.initial.rebalance.delay.ms=0"]).start()
        self.indexers = []
        self.producer = Producer({"bootstrap.servers": self.broker.bootstrap,
                                  "enable.idempotence": True, "linger.ms": 5,
                                  "message.timeout.ms": 60000})
        self.delivery_errors = []

    def tearDown(self):
        for ix in self.indexers:
            if os.environ.get("CDC_SEARCH_SHOW_LOGS"):
                print("---- %s ----\n%s" % (ix.log, ix.log_text()))
            if ix.proc.poll() is None:
                ix.stop(signal.SIGKILL)
        self.producer.flush(5)
        self.broker.stop()
        shutil.rmtree(self.work, ignore_errors=True)

    def create_topics(self):
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        fs = admin.create_topics([NewTopic(t, 1, 1, config={"cleanup.policy": "compact"})
                                  for t in TOPICS.values()], operation_timeout=10,
                                 request_timeout=15)
        for f in fs.values():
            f.result(15)

    def produce(self, records):
        def delivered(err, msg):
            if err is not None:
                self.delivery_errors.append(str(err))
        for topic, key, value in records:
            while True:
                try:
                    self.producer.produce(topic, value=value, key=key, on_delivery=delivered)
                    break
                except BufferError:
                    self.producer.poll(0.1)
            self.producer.poll(0)

    def flush(self):
        left = self.producer.flush(60)
        self.assertEqual(left, 0, "records not delivered within 60 s")
        self.assertEqual(self.delivery_errors, [])

    def wait_converged(self, ix, shop, what):
        want = shop.model()
        deadline = time.monotonic() + CONVERGE_TIMEOUT
        while True:
            got = search_index.SearchIndex(ix.db, readonly=True)
            try:
                state = {t: got.rows(t) for t in TOPICS}
            finally:
                got.close()
            if state == want:
                break
            if time.monotonic() >= deadline or ix.proc.poll() is not None:
                diffs = []
                for t in TOPICS:
                    for i in sorted(set(state[t]) | set(want[t])):
                        if state[t].get(i) != want[t].get(i):
                            diffs.append("%s %d: index %s, model %s"
                                         % (t, i, state[t].get(i), want[t].get(i)))
                self.fail("%s: the index differs from the model after %d s (indexer status "
                          "%s) in %d rows, e.g.\n%s\nindexer log:\n%s"
                          % (what, CONVERGE_TIMEOUT, ix.proc.poll(), len(diffs),
                             "\n".join(diffs[:10]), ix.log_text()))
            time.sleep(0.2)
        # The command line's dump says the same, with PostgreSQL's json_agg types.
        self.assertEqual(dump(ix.db), want)

    def ends(self):
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "cdc-search-ends"})
        try:
            return {t: c.get_watermark_offsets(TopicPartition(t, 0), timeout=10)[1]
                    for t in TOPICS.values()}
        finally:
            c.close()

    def committed(self, group):
        """{topic: committed offset} of `group`: ListConsumerGroupOffsets where the client has
        it (confluent-kafka 2.x), else a consumer's committed() (Debian's 1.7.0)."""
        tps = [TopicPartition(t, 0) for t in TOPICS.values()]
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        if hasattr(admin, "list_consumer_group_offsets"):
            from confluent_kafka import ConsumerGroupTopicPartitions
            fs = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, tps)])
            result = fs[group].result(15).topic_partitions
        else:
            c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": group})
            try:
                result = c.committed(tps, timeout=15)
            finally:
                c.close()
        for tp in result:
            self.assertIsNone(tp.error, "committed offset of %s" % tp.topic)
        return {tp.topic: tp.offset for tp in result}

    def test_index_follows_changes(self):
        started = time.monotonic()
        shop = Shop(seed=13)
        self.create_topics()

        # 1. The snapshot and a first round, then the indexer in group A.
        self.produce(shop.snapshot())
        for _ in range(HOT_UPDATES):
            with shop.lock:
                self.produce(shop.update("customers", 1))
        for _ in range(ROUND1):
            self.produce(shop.random_change())
        self.flush()
        a = Indexer(self.broker.bootstrap, "cdc-search-a", self.work, "a")
        self.indexers.append(a)
        a.start()
        self.wait_converged(a, shop, "after the snapshot and round 1")

        model = shop.model()["products"]
        gone, changed = sorted(model)[:2]
        gone_word = "sku%dv%d" % (gone, shop.version[gone])
        old_word = "sku%dv%d" % (changed, shop.version[changed])
        self.assertEqual(query_ids(a.db, gone_word), [("product", gone)])
        self.assertEqual(query_ids(a.db, old_word), [("product", changed)])
        # A customer by two words of different columns (name and city).
        cust = next(r for r in shop.model()["customers"].values() if r["city"])
        hits = query_ids(a.db, cust["name"].split()[1], cust["city"].split()[0])
        self.assertIn(("customer", cust["id"]), hits)
        with shop.lock:
            self.produce(shop.delete("products", gone) + shop.update("products", changed))
        self.flush()
        self.wait_converged(a, shop, "after a delete and an update")
        new_word = "sku%dv%d" % (changed, shop.version[changed])
        self.assertEqual(query_ids(a.db, gone_word), [])
        self.assertEqual(query_ids(a.db, old_word), [])
        self.assertEqual(query_ids(a.db, new_word), [("product", changed)])

        # 2. A second round across a kill -9 of Runnel; the indexer is left alone.
        def round2():
            for _ in range(ROUND2):
                self.produce(shop.random_change())
                time.sleep(ROUND2_PAUSE)
        producing = threading.Thread(target=round2, name="round2")
        producing.start()
        time.sleep(KILL_AFTER)
        port = self.broker.port
        self.broker.kill9()
        time.sleep(DOWN_FOR)
        self.broker.start(port=port)
        producing.join(60)
        self.assertFalse(producing.is_alive(), "round 2 did not finish")
        self.flush()
        self.wait_converged(a, shop, "after round 2 and the kill -9")

        # 3. SIGTERM: exit 0, the offsets committed up to the ends of the topics.
        self.assertEqual(a.stop(), 0, "indexer A after SIGTERM; log:\n%s" % a.log_text())
        ends = self.ends()
        self.assertEqual(self.committed("cdc-search-a"), ends)
        seen = {}
        for j in a.journal_lines():
            seen.setdefault(j["topic"], set()).add(j["offset"])
        for topic, end in ends.items():
            self.assertEqual(seen.get(topic), set(range(end)), "journal of A, %s" % topic)
        with open(a.lag) as f:
            lags = [int(line) for line in f]
        self.assertGreater(len(lags), ROUND1)
        self.assertGreaterEqual(min(lags), 0)

        # 4. A new group and a new database: the same index, every record applied once.
        b = Indexer(self.broker.bootstrap, "cdc-search-b", self.work, "b")
        self.indexers.append(b)
        b.start("--stop-after-idle", "2")
        try:
            status = b.proc.wait(CONVERGE_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("indexer B did not stop after 2 s idle; log:\n%s" % b.log_text())
        self.assertEqual(status, 0, b.log_text())
        b.stop()
        self.assertEqual(dump(b.db), shop.model())
        self.assertEqual(b.lines[0], "assigned: shop.public.customers[0], shop.public.products[0]")
        self.assertEqual(dump(b.db), dump(a.db))
        self.assertEqual(self.committed("cdc-search-b"), ends)
        journal = b.journal_lines()
        self.assertEqual(len(journal), sum(ends.values()))
        self.assertEqual(len({(j["topic"], j["offset"]) for j in journal}), len(journal))
        snapshot = [j for j in journal if j["snapshot"] in ("true", "last")]
        self.assertEqual(len(snapshot), sum(SNAPSHOT.values()))
        self.assertTrue(all(j["op"] == "r" for j in snapshot))
        tombstones = [j for j in journal if j["op"] == "t"]
        deletes = [j for j in journal if j["op"] == "d"]
        self.assertEqual(len(tombstones), len(deletes))
        print("cdc_search: %d records, %d re-read by A across the kill -9, A's lag p50 "
              "%.1f ms (backlog and outage included), %.1f s" % (
                  sum(ends.values()), len(a.journal_lines()) - sum(ends.values()),
                  sorted(lags)[len(lags) // 2] / 1000, time.monotonic() - started))


if __name__ == "__main__":
    unittest.main()
