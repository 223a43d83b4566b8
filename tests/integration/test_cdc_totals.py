#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The CDC example's analytics against Runnel (issue 13): OrderTotals, a Kafka Streams 4.4
application with exactly_once_v2 (examples/cdc-search/analytics, built by scripts/setup into
.cache/cdc/analytics-classes), keeps order totals per customer that must equal SQL's

    SELECT c.id, c.name, count(o.id), sum(o.quantity)
    FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name

The change events are synthetic, in the format Debezium's PostgreSQL connector writes through
Connect's JsonConverter with schemas.enable=false (test_cdc_debezium.py runs the real thing):
key {"id":N}, value {"before","after","source","op","ts_ms"}, a delete an op "d" event followed
by a tombstone. A Python model of the two tables gives the SQL answer.

1. A snapshot (op "r") of 50 customers and 300 orders, then about 450 changes: new orders,
   quantities changed, orders moved to another customer (an update whose before and after have
   different customer_id), orders deleted, every order of some customers deleted (they leave
   the totals but stay customers), customers deleted after their last order, customers renamed.
   OrderTotals starts, and the output topic read read_committed from offset 0 (last value per
   key) must equal the model (bounded wait).
2. A second batch of about 400 changes is produced over about 3 s; Runnel is killed with SIGKILL
   in the middle of it and started again on the same port and data directory. OrderTotals is
   not restarted: the totals must equal the model again, with no FATAL line from the app.
3. The output topic, which OrderTotals created, is compacted with one partition.

Step 2 is what caught OrderTotals with Streams' record caches on both sides of its join: a
customer deleted right after its last order kept its old totals (no tombstone), also with Kafka
as the broker. RUNNEL_STREAMS_CONFIG="KEY=VALUE ..." adds Streams settings, for experiments;
RUNNEL_KEEP_TMP=1 keeps Streams' log and the broker's data.

About 8 s with Runnel (25 s with RUNNEL_TEST_BROKER=kafka-tv1, Kafka 4.4 formatted with
transaction.version=1, against which the test passes as written).
"""

import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import unittest

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from harness import Broker

BROKER_KIND = os.environ.get("RUNNEL_TEST_BROKER", "runnel")
# As in test_streams_eos.py: Kafka 4.4 formatted with transaction.version=1 is the transaction
# protocol Runnel serves; plain "kafka" is Kafka's default (2).
KAFKA_FEATURES = {"kafka": {}, "kafka-tv1": {"transaction.version": 1}}
if BROKER_KIND in KAFKA_FEATURES:
    from kafka_oracle import KafkaBroker
elif BROKER_KIND != "runnel":
    raise SystemExit("RUNNEL_TEST_BROKER=%s: expected runnel, kafka or kafka-tv1" % BROKER_KIND)
HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "cdc-search"))
sys.path.insert(0, EXAMPLE)
from analytics import OrderTotalsApp, read_totals  # noqa: E402  (the example, not tests/)

CUSTOMERS = "shop.public.customers"
ORDERS = "shop.public.orders"
OUTPUT = "shop.customer-totals"
SEED = 13
SNAPSHOT_CUSTOMERS = 50
SNAPSHOT_ORDERS = 300
BATCH1_CHANGES = 450
BATCH2_CHANGES = 400
BATCH2_SECONDS = 3.0     # the second batch's pace: the kill lands in its middle
KILL_AFTER = 1.2         # seconds into the second batch
DOWN_FOR = 1.0           # seconds the broker stays down
RUNNING_TIMEOUT = 60     # JVM start to Streams' RUNNING
CONVERGE_TIMEOUT = 60    # last event to totals equal to the model
BROKER_SETTINGS = ("auto.create.topics.enable=false", "group.initial.rebalance.delay.ms=0",
                   "log.cleaner.backoff.ms=200")
# RUNNEL_STREAMS_CONFIG adds space-separated KEY=VALUE Streams settings, for experiments.
STREAMS_CONFIG = tuple(os.environ.get("RUNNEL_STREAMS_CONFIG", "").split())
LOG_LINES = 60


class Shop:
    """The two tables, as the database would hold them, and the Debezium events that each
    change gives. Keeps the foreign key: an order's customer exists, and a customer is deleted
    only once it has no orders."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.customers = {}   # id -> row
        self.orders = {}      # id -> row
        self.next_customer = 1
        self.next_order = 1
        self.lsn = 1000
        self.kinds = {}       # kind of change -> how many, for the report

    # -- events ---------------------------------------------------------------------------

    def event(self, topic, key, before, after, op, snapshot="false"):
        """One change event as (topic, key bytes, value bytes)."""
        self.lsn += 8
        now_ms = int(time.time() * 1000)
        source = {"version": "3.6.1.Final", "connector": "postgresql", "name": "shop",
                  "ts_ms": now_ms, "ts_us": now_ms * 1000, "snapshot": snapshot, "db": "shop",
                  "schema": "public", "table": topic.rsplit(".", 1)[1], "txId": self.lsn // 8,
                  "lsn": self.lsn}
        value = {"before": before, "after": after, "source": source, "op": op, "ts_ms": now_ms}
        return (topic, json.dumps({"id": key}).encode(), json.dumps(value).encode())

    def deleted(self, topic, key, before):
        """A delete: the op "d" event, then the tombstone that lets compaction drop the key."""
        return [self.event(topic, key, before, None, "d"),
                (topic, json.dumps({"id": key}).encode(), None)]

    # -- changes --------------------------------------------------------------------------

    def customer_row(self, cid):
        return {"id": cid, "name": "Customer %d %s" % (cid, self.rng.choice("ABCDEFG")),
                "email": "c%d@example.org" % cid, "city": self.rng.choice(["Oslo", "Lima"])}

    def order_row(self, oid, cid):
        return {"id": oid, "customer_id": cid, "product_id": self.rng.randint(1, 20),
                "quantity": self.rng.randint(1, 9),
                "created_at": "2026-12-02T11:%02d:00.000000Z" % self.rng.randint(0, 59)}

    def insert_customer(self, op="c", snapshot="false"):
        cid = self.next_customer
        self.next_customer += 1
        self.customers[cid] = self.customer_row(cid)
        return [self.event(CUSTOMERS, cid, None, self.customers[cid], op, snapshot)]

    def insert_order(self, op="c", snapshot="false"):
        oid = self.next_order
        self.next_order += 1
        self.orders[oid] = self.order_row(oid, self.rng.choice(sorted(self.customers)))
        return [self.event(ORDERS, oid, None, self.orders[oid], op, snapshot)]

    def update_order(self, oid, **changes):
        before = self.orders[oid]
        after = dict(before, **changes)
        self.orders[oid] = after
        return [self.event(ORDERS, oid, before, after, "u")]

    def delete_order(self, oid):
        return self.deleted(ORDERS, oid, self.orders.pop(oid))

    def orders_of(self, cid):
        return sorted(o for o, row in self.orders.items() if row["customer_id"] == cid)

    def snapshot(self):
        events = []
        for _ in range(SNAPSHOT_CUSTOMERS):
            events += self.insert_customer("r", "true")
        for _ in range(SNAPSHOT_ORDERS):
            events += self.insert_order("r", "true")
        # Debezium marks the snapshot's last event "last".
        topic, key, value = events[-1]
        v = json.loads(value)
        v["source"]["snapshot"] = "last"
        events[-1] = (topic, key, json.dumps(v).encode())
        return events

    def change(self):
        """One random change (one to a dozen events), of a kind drawn with fixed weights."""
        kinds = [("new order", 30), ("quantity", 20), ("move order", 15), ("delete order", 12),
                 ("new customer", 6), ("rename", 8), ("drop all orders", 4),
                 ("delete customer", 5)]
        kind = self.rng.choices([k for k, _ in kinds], [w for _, w in kinds])[0]
        events = self.apply(kind)
        if events:
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
            return events
        return self.apply("new order") if self.customers else self.apply("new customer")

    def apply(self, kind):
        rng = self.rng
        if kind == "new customer" or not self.customers:
            return self.insert_customer()
        if kind == "new order":
            return self.insert_order()
        if kind == "rename":
            cid = rng.choice(sorted(self.customers))
            before = self.customers[cid]
            after = dict(before, name="Renamed %d %d" % (cid, rng.randint(0, 999)))
            self.customers[cid] = after
            return [self.event(CUSTOMERS, cid, before, after, "u")]
        if kind == "drop all orders":
            # Every order of one customer goes; the customer stays, without totals.
            with_orders = sorted({row["customer_id"] for row in self.orders.values()})
            if not with_orders:
                return []
            events = []
            for oid in self.orders_of(rng.choice(with_orders)):
                events += self.delete_order(oid)
            return events
        if kind == "delete customer":
            # Its orders first, as the foreign key demands, then the customer.
            cid = rng.choice(sorted(self.customers))
            events = []
            for oid in self.orders_of(cid):
                events += self.delete_order(oid)
            return events + self.deleted(CUSTOMERS, cid, self.customers.pop(cid))
        if not self.orders:
            return []
        oid = rng.choice(sorted(self.orders))
        if kind == "quantity":
            return self.update_order(oid, quantity=rng.randint(1, 9))
        if kind == "move order":
            others = [c for c in self.customers if c != self.orders[oid]["customer_id"]]
            return self.update_order(oid, customer_id=rng.choice(others)) if others else []
        if kind == "delete order":
            return self.delete_order(oid)
        raise AssertionError(kind)

    def changes(self, count):
        events = []
        for _ in range(count):
            events += self.change()
        return events

    def expected(self):
        """SELECT c.id, c.name, count(o.id), sum(o.quantity) FROM customers c JOIN orders o
        ON o.customer_id = c.id GROUP BY c.id, c.name, as {id: {name, orders, quantity}}."""
        out = {}
        for row in self.orders.values():
            c = self.customers.get(row["customer_id"])
            if c is None:
                continue
            t = out.setdefault(c["id"], {"name": c["name"], "orders": 0, "quantity": 0})
            t["orders"] += 1
            t["quantity"] += row["quantity"]
        return out


class EventProducer(threading.Thread):
    """Produces events, in order, paced over `seconds`, with an idempotent producer (as Connect's
    is): each topic gets them in the order given, none twice, also across a broker restart."""

    def __init__(self, bootstrap, events, seconds):
        super().__init__(name="cdc-events", daemon=True)
        self.events = events
        self.seconds = seconds
        self.errors = []
        self.halt = threading.Event()
        self.producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                                  "acks": "all", "linger.ms": 5, "message.timeout.ms": 60000,
                                  "reconnect.backoff.max.ms": 500})

    def on_delivery(self, err, msg):
        if err is not None:
            self.errors.append("%s %s: %s" % (msg.topic(), msg.key(), err))

    def run(self):
        try:
            chunk = 20
            pause = self.seconds / max(1, len(self.events) / chunk)
            for start in range(0, len(self.events), chunk):
                for topic, key, value in self.events[start:start + chunk]:
                    while not self.halt.is_set():
                        try:
                            self.producer.produce(topic, value, key,
                                                  on_delivery=self.on_delivery)
                            break
                        except BufferError:
                            self.producer.poll(0.1)
                self.producer.poll(0)
                if pause:
                    time.sleep(pause)
            deadline = time.monotonic() + 90
            while len(self.producer) and not self.halt.is_set() and \
                    time.monotonic() < deadline:
                self.producer.flush(1)
            if len(self.producer):
                self.errors.append("%d events undelivered" % len(self.producer))
        except Exception as e:  # reported by the test, never lost in a thread
            self.errors.append("producer thread: %r" % e)


class TestBroker:
    """Runnel ($RUNNEL_BIN), or Kafka 4.4 with RUNNEL_TEST_BROKER=kafka or kafka-tv1, behind the
    calls the test needs."""

    def __init__(self):
        if BROKER_KIND == "runnel":
            self.impl = Broker(overrides=BROKER_SETTINGS)
        else:
            self.impl = KafkaBroker(overrides=BROKER_SETTINGS,
                                    features=KAFKA_FEATURES[BROKER_KIND])

    def start(self):
        self.impl.start()
        return self

    @property
    def bootstrap(self):
        return self.impl.bootstrap

    def kill9_and_restart(self, down_seconds, note):
        """SIGKILL, `down_seconds` down, then the same data directory on the same port."""
        port = self.impl.port
        self.impl.kill9()
        note("broker killed with SIGKILL")
        time.sleep(down_seconds)
        if BROKER_KIND == "runnel":
            self.impl.start(port=port)
        else:
            self.impl.restart()
        note("broker started again")

    def stop(self):
        self.impl.stop()

    def dump_log(self):
        self.impl.dump_log()


def diff(got, want):
    lines = []
    for cid in sorted(set(got) | set(want)):
        if got.get(cid) != want.get(cid):
            lines.append("customer %d: output %s, SQL %s" % (cid, got.get(cid), want.get(cid)))
    return lines


class CdcTotals(unittest.TestCase):

    def setUp(self):
        self.t0 = time.monotonic()
        self.tmpdir = tempfile.mkdtemp(prefix="runnel-cdc-totals-")
        if not os.environ.get("RUNNEL_KEEP_TMP"):
            self.addCleanup(shutil.rmtree, self.tmpdir, ignore_errors=True)
        self.broker = TestBroker().start()
        self.addCleanup(self.broker.stop)
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        futures = admin.create_topics([NewTopic(t, 1, 1, config={"cleanup.policy": "compact"})
                                       for t in (CUSTOMERS, ORDERS)], request_timeout=20)
        for f in futures.values():
            f.result(timeout=30)
        self.app = OrderTotalsApp(self.broker.bootstrap, "cdc-order-totals",
                                  os.path.join(self.tmpdir, "state"),
                                  os.path.join(self.tmpdir, "order-totals.log"),
                                  overrides=STREAMS_CONFIG)
        self.addCleanup(self.app.stop)

    def note(self, what):
        print("%6.1f s  %s" % (time.monotonic() - self.t0, what))
        sys.stdout.flush()

    def fail_with_logs(self, why):
        print("---- OrderTotals stdout ----")
        print("\n".join(self.app.output()[-LOG_LINES:]))
        print("---- OrderTotals log (%s): warnings and errors, then the end ----"
              % self.app.log_path)
        try:
            with open(self.app.log_path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            lines = []
        print("\n".join([l for l in lines if " WARN " in l or " ERROR " in l][:LOG_LINES]))
        print("...")
        print("\n".join(lines[-LOG_LINES:]))
        sys.stdout.flush()
        self.broker.dump_log()
        self.fail(why)

    def produce(self, events, seconds=0.0):
        producer = EventProducer(self.broker.bootstrap, events, seconds)
        self.addCleanup(producer.halt.set)
        producer.start()
        return producer

    def wait_totals(self, shop, what):
        """Reads the output until it equals the model (at most CONVERGE_TIMEOUT s)."""
        want = shop.expected()
        deadline = time.monotonic() + CONVERGE_TIMEOUT
        got = {}
        while True:
            if self.app.problem():
                self.fail_with_logs("%s: OrderTotals gave up: %s" % (what, self.app.problem()))
            if not self.app.alive():
                self.fail_with_logs("%s: OrderTotals exited by itself" % what)
            try:
                got = read_totals(self.broker.bootstrap, OUTPUT, timeout=10)
            except TimeoutError:
                got = None
            if got == want:
                return got
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.fail_with_logs("%s: the totals differ from SQL after %d s:\n%s"
                            % (what, CONVERGE_TIMEOUT,
                               "\n".join(diff(got or {}, want)[:30]) if got is not None
                               else "(the output could not be read to its end)"))

    def test_totals_follow_the_tables_across_a_kill9(self):
        shop = Shop(SEED)

        # 1. Snapshot and the first batch, then the app.
        events = shop.snapshot() + shop.changes(BATCH1_CHANGES)
        producer = self.produce(events)
        producer.join(60)
        self.assertFalse(producer.is_alive(), "the first batch was not produced within 60 s")
        self.assertEqual(producer.errors, [])
        want = shop.expected()
        self.note("batch 1: %d events, %d customers, %d orders, %d customers with orders; "
                  "changes %s" % (len(events), len(shop.customers), len(shop.orders), len(want),
                                  shop.kinds))
        # The cases the brief names must be in the data: customers without orders (all their
        # orders deleted), customers deleted, orders moved.
        self.assertTrue(set(shop.customers) - set(want), "no customer without orders")
        self.assertLess(len(shop.customers), shop.next_customer - 1, "no customer deleted")
        self.assertGreater(shop.kinds.get("move order", 0), 0)
        self.app.start()
        if not self.app.wait_running(RUNNING_TIMEOUT):
            self.fail_with_logs("OrderTotals was not RUNNING %d s after start (state %s)"
                                % (RUNNING_TIMEOUT, self.app.state()))
        self.note("OrderTotals RUNNING")
        self.wait_totals(shop, "first batch")
        self.note("totals equal SQL: %d customers" % len(want))

        # 2. kill -9 of Runnel in the middle of the second batch.
        shop.kinds.clear()
        events = shop.changes(BATCH2_CHANGES)
        producer = self.produce(events, BATCH2_SECONDS)
        time.sleep(KILL_AFTER)
        self.assertTrue(producer.is_alive(), "the second batch ended before the kill")
        self.broker.kill9_and_restart(DOWN_FOR, self.note)
        producer.join(90)
        self.assertFalse(producer.is_alive(), "the second batch was not produced within 90 s")
        self.assertEqual(producer.errors, [])
        self.note("batch 2: %d events produced; changes %s" % (len(events), shop.kinds))
        want = self.wait_totals(shop, "after kill -9 of Runnel")
        self.note("totals equal SQL again: %d customers; the app's stream threads replaced: %d"
                  % (len(want), len(self.app.replaced())))
        for line in self.app.replaced():
            self.note("  " + line[:300])
        self.assertIsNone(self.app.problem())
        self.assertTrue(self.app.alive())
        # The kill reached the app (its clients lost the broker), and it recovered by itself.
        # Streams usually also finds its thread "fenced", closes its tasks dirty (aborting the
        # open transaction, restoring the stores from their changelogs) and rejoins the group:
        # against Runnel because the restarted broker no longer knows the group's member (the
        # first TxnOffsetCommit gets UNKNOWN_MEMBER_ID), against Kafka because the restart
        # outlasts Streams' 10 s transaction timeout (ProducerFencedException). Printed only.
        with open(self.app.log_path, encoding="utf-8", errors="replace") as f:
            log = f.read()
        self.assertIn("could not be established", log,
                      "OrderTotals' clients never lost the broker: was the kill too late?")
        self.note("Streams: %d 'could not be established', %d 'thread is being fenced', "
                  "%d tasks closed dirty" % (log.count("could not be established"),
                                             log.count("thread is being fenced"),
                                             log.count("Closed dirty")))

        # 3. The output topic is compacted, with one partition.
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        res = ConfigResource("topic", OUTPUT)
        config = admin.describe_configs([res])[res].result(timeout=30)
        self.assertEqual(config["cleanup.policy"].value, "compact")
        meta = admin.list_topics(OUTPUT, timeout=30)
        self.assertEqual(len(meta.topics[OUTPUT].partitions), 1)

        status = self.app.stop()
        self.assertEqual(status, 0, "OrderTotals' exit status after SIGTERM")
        self.assertIn("CLOSED clean", self.app.output())
        self.note("done")


if __name__ == "__main__":
    unittest.main()
