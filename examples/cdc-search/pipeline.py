# SPDX-License-Identifier: Apache-2.0
"""The CDC example's moving parts as processes on this machine, for the one-command runner
(`run`), the integration tests (tests/integration/test_cdc_*.py) and scripts/bench.

- Postgres: a private PostgreSQL cluster (initdb into a temporary directory, wal_level=logical, an
  ephemeral loopback port, its socket in that directory). PostgreSQL refuses to run as root, so
  as root its server commands go through `runuser -u postgres`.
- Runnel: the broker binary on a port of its own, with conf/runnel.properties.
- Connect: a Kafka Connect 4.4 distributed worker (ConnectDistributed) with Debezium's
  PostgreSQL plugin, its REST API on an ephemeral port; connector_config() is the connector.
- MirrorMaker: MirrorMaker 2 in dedicated mode copying the change topics and a consumer group
  from one cluster to another, keeping topic names.
- Workload: random inserts, updates and deletes of the three tables, as SQL.
- PacedWriter: feeds SQL statements to one psql session at a given rate.

scripts/setup fetches the jars into .cache/cdc (pom-*.xml here) and installs PostgreSQL."""

import ctypes
import datetime
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HOST = "127.0.0.1"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CDC_CACHE = os.path.join(ROOT, ".cache", "cdc")
CONNECT_LIBS = os.path.join(CDC_CACHE, "connect-libs")
MM2_LIBS = os.path.join(CDC_CACHE, "mm2-libs")
PLUGINS = os.path.join(CDC_CACHE, "plugins")
LOG4J_CONFIG = os.path.join(HERE, "log4j2-connect.xml")

TABLES = ("customers", "products", "orders")
TOPIC_PREFIX = "shop"
CONNECT_TOPICS = ("cdc-connect-configs", "cdc-connect-offsets", "cdc-connect-status")
CONNECTOR = "shop-postgres"

JVM_OPTS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m", "-Djava.awt.headless=true"]
REST_TIMEOUT = 60         # Connect's REST API answers
RUNNING_TIMEOUT = 90      # the connector's task is RUNNING
STOP_TIMEOUT = 30
LOG_LINES = 80


def change_topic(table):
    return "%s.public.%s" % (TOPIC_PREFIX, table)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def die_with_parent():
    """Runs in a child before exec: when the process that started it dies (a test killed by its
    timeout, a runner killed by Ctrl-C twice), the kernel sends the child SIGKILL."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # pragma: no cover - best effort only
        pass


def java_bin():
    """$RUNNEL_JAVA, else $JAVA_HOME/bin/java, else `java` on PATH."""
    path = os.environ.get("RUNNEL_JAVA")
    if not path and os.environ.get("JAVA_HOME"):
        path = os.path.join(os.environ["JAVA_HOME"], "bin", "java")
    path = path or shutil.which("java")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("no java (RUNNEL_JAVA, JAVA_HOME, PATH): run ./scripts/setup")
    return path


def tail(path, n=LOG_LINES):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return "(%s)\n" % e


def wait_until(what, predicate, timeout, interval=0.5):
    """Calls predicate() until it returns something true, for at most `timeout` seconds;
    returns that, or raises TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise TimeoutError("%s: not within %d s" % (what, timeout))
        time.sleep(interval)


def stop_process(proc, timeout=STOP_TIMEOUT):
    """SIGTERM to proc's own pid, SIGKILL (same pid) when it does not exit in time."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def pg_bin():
    """The newest /usr/lib/postgresql/N/bin with an initdb."""
    base = "/usr/lib/postgresql"
    versions = []
    if os.path.isdir(base):
        for v in os.listdir(base):
            if v.isdigit() and os.path.isfile(os.path.join(base, v, "bin", "initdb")):
                versions.append(int(v))
    if not versions:
        raise RuntimeError("no PostgreSQL server in %s: run ./scripts/setup" % base)
    return os.path.join(base, str(max(versions)), "bin")


def normalize(row):
    """A row as compared: timestamps (orders.created_at) as an aware datetime, since PostgreSQL
    writes +00:00 where Debezium's ZonedTimestamp writes Z."""
    out = dict(row)
    if isinstance(out.get("created_at"), str):
        out["created_at"] = datetime.datetime.fromisoformat(out["created_at"].replace("Z",
                                                                                      "+00:00"))
    return out


class Postgres:
    """A private cluster in a temporary directory of its own, removed by stop(). Not inside
    another temporary directory: as root the server runs as user postgres, who could not enter
    a directory that mkdtemp made for root."""

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
            raise RuntimeError("%s failed (%d): %s%s" % (" ".join(cmd), r.returncode, r.stdout,
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

    def stop(self, remove=True):
        if self.started:
            self.started = False
            try:
                self._server(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "fast",
                             "-w", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                self._server(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m",
                             "immediate", "-w", "stop")
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)

    def psql_cmd(self, db="shop"):
        return [os.path.join(self.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", HOST,
                "-p", str(self.port), "-U", "postgres", "-d", db, "-At"]

    def psql(self, sql, db="shop", timeout=120):
        r = subprocess.run(self.psql_cmd(db), input=sql, capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("psql failed (%d): %s\n%s" % (r.returncode, r.stderr, sql[:500]))
        return r.stdout

    def create_shop(self, rows_sql=None, samples=False):
        """Database `shop` with schema.sql's tables, then rows_sql (a workload's rows, with ids
        of its own), then, with `samples` or without rows_sql, schema.sql's sample rows. After
        rows_sql the id sequences start at 1,000,000, so that rows inserted without an id (the
        samples, a user's INSERT) never take a workload's id."""
        self.psql("CREATE DATABASE shop;", db="postgres")
        with open(os.path.join(HERE, "schema.sql")) as f:
            tables, sample_rows = f.read().split("INSERT INTO", 1)
        sql = tables
        if rows_sql is not None:
            sql += rows_sql + "\n" + "".join(
                "SELECT setval(pg_get_serial_sequence('%s', 'id'), 1000000, false);\n" % t
                for t in TABLES)
        if samples or rows_sql is None:
            sql += "INSERT INTO" + sample_rows
        self.psql(sql)

    def rows(self, table):
        """{id: row} of `table`, rows as PostgreSQL's json_agg writes them."""
        out = self.psql("SELECT coalesce(json_agg(t), '[]') FROM %s t;" % table)
        return {r["id"]: normalize(r) for r in json.loads(out)}

    def totals(self):
        """What the analytics app keeps: per customer with orders, its name, how many orders
        and their total quantity."""
        out = self.psql("SELECT coalesce(json_agg(t), '[]') FROM (SELECT c.id, c.name, "
                        "count(o.id) AS orders, sum(o.quantity) AS quantity FROM customers c "
                        "JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name) t;")
        return {r["id"]: {"name": r["name"], "orders": r["orders"], "quantity": r["quantity"]}
                for r in json.loads(out)}


class Runnel:
    """The broker binary (build/runnel unless `binary`) on a free port with
    conf/runnel.properties, its data and log in `workdir`. For the runner and the bench; the
    tests use their harness's Broker."""

    def __init__(self, workdir, binary=None, overrides=()):
        self.binary = binary or os.path.join(ROOT, "build", "runnel")
        self.workdir = workdir
        self.port = free_port()
        self.bootstrap = "%s:%d" % (HOST, self.port)
        self.log = os.path.join(workdir, "runnel.log")
        self.overrides = list(overrides)
        self.proc = None

    def start(self, timeout=30):
        cmd = [self.binary, "-c", os.path.join(ROOT, "conf", "runnel.properties"),
               "--override", "listeners=PLAINTEXT://%s" % self.bootstrap,
               "--override", "log.dirs=%s" % os.path.join(self.workdir, "runnel-data")]
        for kv in self.overrides:
            cmd += ["--override", kv]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         preexec_fn=die_with_parent)

        def listening():
            if self.proc.poll() is not None:
                raise RuntimeError("runnel exited with %s:\n%s" % (self.proc.returncode,
                                                                   tail(self.log)))
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until("runnel listening on %s" % self.bootstrap, listening, timeout, 0.05)
        return self

    def stop(self):
        stop_process(self.proc)


def start_connect_jvm(libs, work, out_path, main_and_args):
    """A JVM of Kafka Connect's (a worker, MirrorMaker) with the jars of `libs`, logging
    (log4j2-connect.xml) into work/connect.log, its stdout and stderr into out_path."""
    cmd = [java_bin()] + JVM_OPTS + [
        "-Dconnect.logs.dir=%s" % work, "-Dlog4j2.configurationFile=%s" % LOG4J_CONFIG,
        "-cp", os.path.join(libs, "*")] + main_and_args
    with open(out_path, "ab") as out:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                preexec_fn=die_with_parent)


class Connect:
    """A Connect 4.4 distributed worker against `bootstrap`, its files in `work`."""

    def __init__(self, bootstrap, work, extra=()):
        for path in (CONNECT_LIBS, os.path.join(PLUGINS, "debezium-connector-postgres")):
            if not os.path.isdir(path):
                raise RuntimeError("%s is missing: run ./scripts/setup" % path)
        os.makedirs(work, exist_ok=True)
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
                "plugin.path=%s" % PLUGINS] + list(extra) + [""]))
        self.proc = None

    def start(self):
        self.proc = start_connect_jvm(CONNECT_LIBS, self.work, self.out,
                                      ["org.apache.kafka.connect.cli.ConnectDistributed",
                                       self.props])
        return self

    def stop(self):
        proc, self.proc = self.proc, None
        stop_process(proc)

    def request(self, method, path, body=None, timeout=10):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b"null")

    def wait_rest(self, timeout=REST_TIMEOUT):
        def answer():
            if self.proc.poll() is not None:
                raise RuntimeError("Connect exited with %s:\n%s" % (self.proc.returncode,
                                                                    self.logs()))
            try:
                return self.request("GET", "/")
            except (urllib.error.URLError, OSError, ValueError):
                return None
        try:
            return wait_until("Connect's REST API", answer, timeout)
        except TimeoutError as e:
            raise TimeoutError("%s\n%s" % (e, self.logs())) from None

    def task_states(self, name=CONNECTOR):
        """(connector state, [task states]), or None while the REST API cannot say."""
        try:
            status = self.request("GET", "/connectors/%s/status" % name)
            return status["connector"]["state"], [t["state"] for t in status.get("tasks", [])]
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return None

    def wait_running(self, name=CONNECTOR, timeout=RUNNING_TIMEOUT):
        def running():
            states = self.task_states(name)
            if states and "FAILED" in states[1]:
                raise RuntimeError("connector %s failed: %s\n%s" % (name, states, self.logs()))
            return states and states[0] == "RUNNING" and states[1] and \
                all(s == "RUNNING" for s in states[1])
        try:
            wait_until("connector %s RUNNING" % name, running, timeout)
        except TimeoutError as e:
            raise TimeoutError("%s: %s\n%s" % (e, self.task_states(name), self.logs())) from None

    def logs(self):
        return "---- connect.out ----\n%s---- connect.log ----\n%s" % (tail(self.out),
                                                                         tail(self.log))


def connector_config(pg, poll_interval_ms=50):
    """Debezium's PostgreSQL connector: snapshot of database `shop`, then its changes through
    pgoutput, into the compacted topics shop.public.{customers,products,orders}.
    poll.interval.ms is how long the task sleeps when the database was quiet: the floor of the
    end-to-end lag (Debezium's default is 500 ms)."""
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
        "poll.interval.ms": str(poll_interval_ms),
        "topic.creation.default.replication.factor": "1",
        "topic.creation.default.partitions": "1",
        "topic.creation.default.cleanup.policy": "compact",
    }


class MirrorMaker:
    """MirrorMaker 2, dedicated mode, copying the change topics and consumer group `group` from
    `source` to `target` with IdentityReplicationPolicy, so that a consumer moved over finds the
    same topic names and its committed offsets, translated. offset.lag.max=0 writes an offset
    sync for every record, so that translation is exact rather than rounded down to the last
    sync (by default one per 100 records): a moved consumer then reads no change twice.
    connect-mirror 4.4.0 is not served by the registry here, so this is 4.3.1 on its own class
    path (pom-mirror.xml)."""

    def __init__(self, source, target, work, group):
        if not os.path.isdir(MM2_LIBS):
            raise RuntimeError("%s is missing: run ./scripts/setup" % MM2_LIBS)
        os.makedirs(work, exist_ok=True)
        self.work = work
        self.props = os.path.join(work, "mm2.properties")
        self.log = os.path.join(work, "connect.log")
        self.out = os.path.join(work, "mm2.out")
        with open(self.props, "w") as f:
            f.write("\n".join([
                "clusters=runnel,kafka",
                "runnel.bootstrap.servers=%s" % source,
                "kafka.bootstrap.servers=%s" % target,
                "runnel->kafka.enabled=true",
                "runnel->kafka.topics=%s\\\\.public\\\\..*" % TOPIC_PREFIX,
                "runnel->kafka.groups=%s" % group,
                "kafka->runnel.enabled=false",
                "replication.policy.class="
                "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
                "replication.factor=1",
                "checkpoints.topic.replication.factor=1",
                "heartbeats.topic.replication.factor=1",
                "offset-syncs.topic.replication.factor=1",
                "offset.storage.replication.factor=1",
                "status.storage.replication.factor=1",
                "config.storage.replication.factor=1",
                "sync.group.offsets.enabled=true",
                "sync.group.offsets.interval.seconds=1",
                "emit.checkpoints.interval.seconds=1",
                "emit.heartbeats.interval.seconds=1",
                "refresh.topics.interval.seconds=5",
                "refresh.groups.interval.seconds=5",
                "offset.flush.interval.ms=1000",
                "offset.lag.max=0",
                ""]))
        self.proc = None

    def start(self):
        self.proc = start_connect_jvm(MM2_LIBS, self.work, self.out,
                                      ["org.apache.kafka.connect.mirror.MirrorMaker", self.props,
                                       "--clusters", "kafka"])
        return self

    def stop(self):
        proc, self.proc = self.proc, None
        stop_process(proc)

    def logs(self):
        return "---- mm2.out ----\n%s---- connect.log ----\n%s" % (tail(self.out),
                                                                     tail(self.log))


class Workload:
    """SQL for random changes, tracking which ids exist so that updates and deletes hit rows and
    orders refer to live customers and products. `n` counts the rows changed."""

    def __init__(self, seed, snapshot=(100, 50, 150)):
        self.rng = random.Random(seed)
        self.snapshot = dict(zip(TABLES, snapshot))
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
            return ("UPDATE products SET price_cents = %d, description = 'Thing number %d, "
                    "revision %d' WHERE id = %d;" % (v, i, v, i))
        if self.rng.random() < 0.2:
            # An order moves to another customer: the analytics app must take it off one total
            # and onto another.
            c = self.rng.choice(sorted(self.ids["customers"]))
            self.order_refs[i] = (c, self.order_refs[i][1])
            return "UPDATE orders SET customer_id = %d WHERE id = %d;" % (c, i)
        return "UPDATE orders SET quantity = %d WHERE id = %d;" % (v % 50 + 1, i)

    def delete(self, table):
        """Deletes a row of `table`; a customer or product with orders loses its orders first
        (each such order is one more change)."""
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
        stmts = []
        for table in TABLES:
            stmts += [self.insert(table) for _ in range(self.snapshot[table])]
        return "\n".join(stmts)

    def change(self, tables=TABLES):
        table = self.rng.choice(tables)
        kind = self.rng.random()
        if kind < 0.45 or len(self.ids[table]) < 20:
            return self.insert(table)
        if kind < 0.85:
            return self.update(table)
        return self.delete(table)

    def changes(self, count, per_txn=20, tables=TABLES):
        """Transactions of `per_txn` changes until at least `count` rows changed; returns the
        list of transactions, each one string of SQL."""
        out = []
        goal = self.n + count
        while self.n < goal:
            out.append("BEGIN;\n%s\nCOMMIT;" % "\n".join(self.change(tables)
                                                        for _ in range(per_txn)))
        return out


class PacedWriter:
    """Feeds transactions (strings of SQL) to one psql session, `rate` of them per second, in a
    thread; `done` is set when psql has run them all (wait()). psql runs each statement as it
    reads it, so pacing what we write paces the commits."""

    def __init__(self, pg, txns, rate):
        self.txns = txns
        self.rate = rate
        self.proc = subprocess.Popen(pg.psql_cmd(), stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, preexec_fn=die_with_parent)
        self.written = 0
        self.error = None
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()

    def _feed(self):
        start = time.monotonic()
        try:
            for i, txn in enumerate(self.txns):
                delay = start + i / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self.proc.stdin.write(txn + "\n")
                self.proc.stdin.flush()
                self.written += 1
            self.proc.stdin.close()
        except (BrokenPipeError, OSError) as e:
            self.error = e

    def wait(self, timeout):
        """Waits for psql to run everything; raises when it failed."""
        self.thread.join(timeout)
        try:
            code = self.proc.wait(max(1.0, timeout))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise RuntimeError("psql did not finish the paced changes in %d s" % timeout)
        err = self.proc.stderr.read()
        if code != 0 or self.error:
            raise RuntimeError("psql failed (%s, %s): %s" % (code, self.error, err))


def example_python():
    """The interpreter for the example's Python programs: the virtual environment scripts/setup
    makes (today's confluent-kafka from PyPI), else this one."""
    venv = os.path.join(ROOT, ".cache", "venv", "bin", "python3")
    return venv if os.access(venv, os.X_OK) else sys.executable


class SearchConsumer:
    """search_index.py's consumer as a process: group `group` on `bootstrap`, its index in the
    SQLite file `db`, its output in `log`; `journal` and `lag` as search_index.py says."""

    def __init__(self, bootstrap, group, db, log, journal=None, lag=None, python=None):
        self.cmd = [python or example_python(), os.path.join(HERE, "search_index.py"), "consume",
                    "--bootstrap", bootstrap, "--group", group, "--db", db]
        if journal:
            self.cmd += ["--journal", journal]
        if lag:
            self.cmd += ["--lag", lag]
        self.db = db
        self.log = log
        self.proc = None

    def start(self, timeout=60):
        """Starts it and waits for it to say it has its partitions."""
        start = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, preexec_fn=die_with_parent)

        def assigned():
            if self.proc.poll() is not None:
                raise RuntimeError("search consumer exited with %s:\n%s"
                                   % (self.proc.returncode, tail(self.log)))
            with open(self.log, "rb") as f:
                f.seek(start)
                return b"assigned" in f.read()
        wait_until("the search consumer's assignment", assigned, timeout, 0.2)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM (it commits and leaves its group); returns its exit status."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        stop_process(proc)
        return proc.returncode
