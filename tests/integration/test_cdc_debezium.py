#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Change data capture through Runnel (issue 13): Debezium's PostgreSQL connector in a Kafka
Connect 4.4 distributed worker, with Runnel as Connect's Kafka.

scripts/setup fetches Connect into .cache/cdc/connect-libs and Debezium's plugin into
.cache/cdc/plugins (examples/cdc-search/pom-*.xml) and installs PostgreSQL. The test runs:

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

import datetime
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from harness import HOST, Broker, _die_with_parent
from test_streams_eos import java_bin

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
EXAMPLE = os.path.join(ROOT, "examples", "cdc-search")
CDC_CACHE = os.path.join(ROOT, ".cache", "cdc")
CONNECT_LIBS = os.path.join(CDC_CACHE, "connect-libs")
PLUGINS = os.path.join(CDC_CACHE, "plugins")

TABLES = ("customers", "products", "orders")
TOPIC_PREFIX = "shop"
CONNECT_TOPICS = ("cdc-connect-configs", "cdc-connect-offsets", "cdc-connect-status")
CONNECTOR = "shop-postgres"

SNAPSHOT = {"customers": 100, "products": 50, "orders": 150}
BATCH1_TXNS = 100         # x 20 changes
BATCH2_TXNS = 50          # x 20 changes, 0.1 s apart
TXN_CHANGES = 20

REST_TIMEOUT = 60         # Connect's REST API answers
RUNNING_TIMEOUT = 90      # the connector's task is RUNNING
FOLD_TIMEOUT = 120        # the fold equals the tables
KILL_AFTER = 1.5          # seconds into the second batch
DOWN_FOR = 1.0            # seconds Runnel stays dead
STOP_TIMEOUT = 30
LOG_LINES = 80

JVM_OPTS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m", "-Djava.awt.headless=true"]


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def pg_bin():
    """The newest /usr/lib/postgresql/N/bin with initdb; missing fails, never skips."""
    base = "/usr/lib/postgresql"
    versions = []
    if os.path.isdir(base):
        for v in os.listdir(base):
            if os.path.isfile(os.path.join(base, v, "bin", "initdb")) and v.isdigit():
                versions.append(int(v))
    if not versions:
        raise AssertionError("no PostgreSQL server in %s: run ./scripts/setup" % base)
    return os.path.join(base, str(max(versions)), "bin")


def tail(path, n=LOG_LINES):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return "(%s)" % e


class Postgres:
    """A private cluster in a temporary directory, stopped by stop()."""

    def __init__(self):
        self.bin = pg_bin()
        self.as_root = os.geteuid() == 0
        self.dir = tempfile.mkdtemp(prefix="runnel-cdc-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "pg.log")
        self.port = free_port()
        self.started = False
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")

    def _server(self, *args, timeout=60):
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise AssertionError("%s failed (%d): %s%s" % (" ".join(cmd), r.returncode, r.stdout,
                                                           r.stderr))
        return r

    def start(self):
        self._server(os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "postgres",
                     "--auth=trust", "-E", "UTF8", "--no-instructions")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = '%s'\nport = %d\nunix_socket_directories = '%s'\n"
                    "wal_level = logical\nmax_replication_slots = 4\nmax_wal_senders = 4\n"
                    "fsync = off\n" % (HOST, self.port, self.dir))
        self._server(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.log, "-w",
                     "start")
        self.started = True
        return self

    def stop(self):
        if self.started:
            self.started = False
            try:
                self._server(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "fast",
                             "-w", "stop")
            except (AssertionError, subprocess.TimeoutExpired):
                self._server(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m",
                             "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def psql_cmd(self, db="shop"):
        return [os.path.join(self.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", HOST,
                "-p", str(self.port), "-U", "postgres", "-d", db, "-At"]

    def psql(self, sql, db="shop", timeout=60):
        r = subprocess.run(self.psql_cmd(db), input=sql, capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise AssertionError("psql failed (%d): %s\n%s" % (r.returncode, r.stderr, sql[:500]))
        return r.stdout

    def rows(self, table):
        out = self.psql("SELECT coalesce(json_agg(t), '[]') FROM %s t;" % table)
        return {r["id"]: normalize(r) for r in json.loads(out)}


def normalize(row):
    """A row as compared: timestamps (orders.created_at) as an aware datetime, since PostgreSQL
    writes +00:00 where Debezium's ZonedTimestamp writes Z."""
    out = dict(row)
    if out.get("created_at") is not None:
        out["created_at"] = datetime.datetime.fromisoformat(out["created_at"])
    return out


class Connect:
    """A Connect 4.4 distributed worker, its files in `work`."""

    def __init__(self, bootstrap, work):
        for path in (CONNECT_LIBS, os.path.join(PLUGINS, "debezium-connector-postgres")):
            if not os.path.isdir(path):
                raise AssertionError("%s is missing: run ./scripts/setup" % path)
        self.work = work
        self.rest_port = free_port()
        self.url = "http://%s:%d" % (HOST, self.rest_port)
        self.props = os.path.join(work, "worker.properties")
        self.log = os.path.join(work, "connect.log")
        self.out = os.path.join(work, "connect.out")
        with open(self.props, "w") as f:
            f.write("\n".join([
                "bootstrap.servers=%s" % bootstrap,
                "group.id=cdc-connect",
                "config.storage.topic=%s" % CONNECT_TOPICS[0],
                "offset.storage.topic=%s" % CONNECT_TOPICS[1],
                "status.storage.topic=%s" % CONNECT_TOPICS[2],
                "config.storage.replication.factor=1",
                "offset.storage.replication.factor=1",
                "status.storage.replication.factor=1",
                "key.converter=org.apache.kafka.connect.json.JsonConverter",
                "value.converter=org.apache.kafka.connect.json.JsonConverter",
                "key.converter.schemas.enable=false",
                "value.converter.schemas.enable=false",
                "offset.flush.interval.ms=1000",
                "listeners=%s" % self.url,
                "plugin.path=%s" % PLUGINS,
                ""]))
        self.proc = None

    def start(self):
        cmd = [java_bin()] + JVM_OPTS + [
            "-Dconnect.logs.dir=%s" % self.work,
            "-Dlog4j2.configurationFile=%s" % os.path.join(EXAMPLE, "log4j2-connect.xml"),
            "-cp", os.path.join(CONNECT_LIBS, "*"),
            "org.apache.kafka.connect.cli.ConnectDistributed", self.props]
        with open(self.out, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                         preexec_fn=_die_with_parent)
        return self

    def stop(self):
        """SIGTERM to the worker's pid, SIGKILL (same pid) if it does not exit in time."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def request(self, method, path, body=None, timeout=10):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b"null")

    def wait_rest(self):
        deadline = time.monotonic() + REST_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("Connect exited with %s:\n%s" % (self.proc.returncode,
                                                                     self.logs()))
            try:
                return self.request("GET", "/")
            except (urllib.error.URLError, OSError, ValueError):
                time.sleep(0.5)
        raise AssertionError("Connect's REST API did not answer within %d s:\n%s"
                             % (REST_TIMEOUT, self.logs()))

    def wait_running(self, name):
        deadline = time.monotonic() + RUNNING_TIMEOUT
        status = None
        while time.monotonic() < deadline:
            try:
                status = self.request("GET", "/connectors/%s/status" % name)
                tasks = status.get("tasks") or []
                if (status["connector"]["state"] == "RUNNING" and tasks
                        and all(t["state"] == "RUNNING" for t in tasks)):
                    return status
                if any(t["state"] == "FAILED" for t in tasks):
                    break
            except (urllib.error.URLError, OSError, ValueError, KeyError):
                pass
            time.sleep(0.5)
        raise AssertionError("connector %s not RUNNING within %d s: %s\n%s"
                             % (name, RUNNING_TIMEOUT, status, self.logs()))

    def logs(self):
        return "---- connect.out ----\n%s---- connect.log ----\n%s" % (tail(self.out),
                                                                         tail(self.log))


def connector_config(pg):
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "database.hostname": HOST,
        "database.port": str(pg.port),
        "database.user": "postgres",
        "database.password": "unused",
        "database.dbname": "shop",
        "topic.prefix": TOPIC_PREFIX,
        "plugin.name": "pgoutput",
        "slot.name": "shop_cdc",
        "publication.name": "shop_cdc",
        "publication.autocreate.mode": "filtered",
        "table.include.list": ",".join("public." + t for t in TABLES),
        "snapshot.mode": "initial",
        "poll.interval.ms": "50",
        "topic.creation.default.replication.factor": "1",
        "topic.creation.default.partitions": "1",
        "topic.creation.default.cleanup.policy": "compact",
    }


def change_topic(table):
    return "%s.public.%s" % (TOPIC_PREFIX, table)


class Workload:
    """SQL for random changes, tracking which ids exist so that updates and deletes hit rows and
    orders refer to live customers and products."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.ids = {t: set() for t in TABLES}
        self.next_id = {t: 1 for t in TABLES}
        self.order_refs = {}      # order id -> (customer id, product id)
        self.n = 0

    def insert(self, table):
        i = self.next_id[table]
        self.next_id[table] += 1
        self.ids[table].add(i)
        self.n += 1
        if table == "customers":
            return ("INSERT INTO customers (id, name, email, city) VALUES (%d, 'Customer %d', "
                    "'c%d@example.org', 'City %d');" % (i, i, i, self.rng.randrange(20)))
        if table == "products":
            return ("INSERT INTO products (id, name, description, price_cents) VALUES "
                    "(%d, 'Product %d', 'Thing number %d', %d);"
                    % (i, i, i, self.rng.randrange(100, 100000)))
        c = self.rng.choice(sorted(self.ids["customers"]))
        p = self.rng.choice(sorted(self.ids["products"]))
        self.order_refs[i] = (c, p)
        return ("INSERT INTO orders (id, customer_id, product_id, quantity) VALUES "
                "(%d, %d, %d, %d);" % (i, c, p, self.rng.randrange(1, 10)))

    def update(self, table):
        i = self.rng.choice(sorted(self.ids[table]))
        self.n += 1
        v = self.rng.randrange(1, 100000)
        if table == "customers":
            return "UPDATE customers SET city = 'Town %d', name = 'Renamed %d' WHERE id = %d;" % (
                v, v, i)
        if table == "products":
            return "UPDATE products SET price_cents = %d WHERE id = %d;" % (v, i)
        return "UPDATE orders SET quantity = %d WHERE id = %d;" % (v % 50 + 1, i)

    def delete(self, table):
        """Deletes a row of `table`; a customer or product with orders loses its orders first
        (each such order is one more delete)."""
        i = self.rng.choice(sorted(self.ids[table]))
        self.ids[table].discard(i)
        self.n += 1
        if table == "orders":
            del self.order_refs[i]
            return "DELETE FROM orders WHERE id = %d;" % i
        col = "customer_id" if table == "customers" else "product_id"
        ref = 0 if table == "customers" else 1
        gone = [o for o, refs in self.order_refs.items() if refs[ref] == i]
        for o in gone:
            del self.order_refs[o]
            self.ids["orders"].discard(o)
        self.n += len(gone)
        return ("DELETE FROM orders WHERE %s = %d; DELETE FROM %s WHERE id = %d;"
                % (col, i, table, i))

    def snapshot_sql(self):
        stmts = [self.insert("customers") for _ in range(SNAPSHOT["customers"])]
        stmts += [self.insert("products") for _ in range(SNAPSHOT["products"])]
        stmts += [self.insert("orders") for _ in range(SNAPSHOT["orders"])]
        return "\n".join(stmts)

    def change(self):
        table = self.rng.choice(TABLES)
        kind = self.rng.random()
        if kind < 0.45 or len(self.ids[table]) < 20:
            return self.insert(table)
        if kind < 0.85:
            return self.update(table)
        return self.delete(table)

    def transactions(self, count, pause=0.0):
        """`count` transactions of TXN_CHANGES changes, with pg_sleep(pause) between them."""
        out = []
        for _ in range(count):
            out.append("BEGIN;")
            out += [self.change() for _ in range(TXN_CHANGES)]
            out.append("COMMIT;")
            if pause:
                out.append("SELECT pg_sleep(%s);" % pause)
        return "\n".join(out) + "\n"


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
        pg.psql("CREATE DATABASE shop;", db="postgres")
        with open(os.path.join(EXAMPLE, "schema.sql")) as f:
            schema = f.read()
        # The example's schema with its sample rows dropped: the workload owns the ids.
        schema = schema.split("INSERT INTO", 1)[0]
        workload = Workload(seed=13)
        pg.psql(schema + workload.snapshot_sql())

        broker = Broker(overrides=("log.cleaner.backoff.ms=200",))
        broker.start()
        self.addCleanup(broker.stop)

        connect = Connect(broker.bootstrap, work)
        connect.start()
        self.addCleanup(connect.stop)
        info = connect.wait_rest()
        self.assertEqual(info.get("version"), "4.4.0", info)
        connect.request("PUT", "/connectors/%s/config" % CONNECTOR, connector_config(pg))
        connect.wait_running(CONNECTOR)
        print("connector running after %.1f s" % (time.monotonic() - t0))

        # 1. The snapshot and about 2,000 changes.
        before = workload.n
        pg.psql(workload.transactions(BATCH1_TXNS))
        fold = wait_fold_equals(self, broker.bootstrap, pg, connect, "first batch")
        print("batch 1: %d changes; fold of %d events, %d tombstones equals SQL (%s) at %.1f s"
              % (workload.n - before, fold.events, fold.tombstones,
                 {t: len(fold.state[t]) for t in TABLES}, time.monotonic() - t0))

        # 2. kill -9 of Runnel in the middle of a second batch.
        before = workload.n
        sql = workload.transactions(BATCH2_TXNS, pause=0.1)
        writer = subprocess.Popen(pg.psql_cmd(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: writer.poll() is None and (writer.kill(), writer.wait(10)))
        result = {}
        feeder = threading.Thread(target=lambda: result.update(
            zip(("out", "err"), writer.communicate(sql, timeout=120))), daemon=True)
        feeder.start()
        time.sleep(KILL_AFTER)
        self.assertIsNone(writer.poll(), "the second batch ended before the kill")
        port = broker.port
        broker.kill9()
        time.sleep(DOWN_FOR)
        broker.start(port=port)
        feeder.join(120)
        self.assertFalse(feeder.is_alive(), "the second batch did not end within 120 s")
        self.assertEqual(writer.returncode, 0, "psql failed: %s" % result.get("err"))
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
