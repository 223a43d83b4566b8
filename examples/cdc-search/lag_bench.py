#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The end-to-end lag of the CDC pipeline (issue 13), for scripts/bench: from a change's commit
in PostgreSQL to the SQLite commit that makes it searchable in the search index.

    lag_bench.py --broker runnel|kafka [--runnel-bin PATH] [--rate 1000] [--seconds 20]
                 [--warm-up 5] [--python PATH] [--poll-interval-ms 10] [--linger-ms 0]
                 [--breakdown] [--keep]

Starts, each on ephemeral loopback ports: a private PostgreSQL cluster with the shop's
customers and products (SNAPSHOT_ROWS each; no orders: the index reads only those two tables);
the broker (Runnel, the binary given, with conf/runnel.properties; or Apache Kafka 4.4, one
KRaft node from tests/integration/kafka_oracle.py with Kafka's own JVM settings, those of
kafka-server-start.sh); a Kafka Connect 4.4 worker with Debezium's PostgreSQL connector
(pipeline.py); and, once Debezium's snapshot has written both topics, the search consumer
(search_index.py consume --lag, run by --python: the PyPI venv's interpreter if there is one).
When the snapshot is indexed, one psql session commits `rate` changes per second, each a
one-row INSERT (30%) or UPDATE of customers or products in its own transaction, for warm-up +
seconds; the consumer writes, per change event, the microseconds from its commit (Debezium's
source.ts_us) to the SQLite commit that made it searchable. The warm-up's changes are dropped
(the first warm-up x rate lines: the JVMs' JIT, the first batches), the rest are the figures.
Prints one line (stderr has the progress):

    cdc-lag broker=runnel rate=1000 achieved=999.6 changes=20000 indexed=20000 p50_ms=..
        p99_ms=.. max_ms=.. broker_cpu_s=.. connect_cpu_s=.. consumer_cpu_s=..

(CPU seconds of each process over the paced writing, warm-up included). Exit status 1 when the
achieved rate is below 90% of the one asked, or a change is not indexed within DRAIN_TIMEOUT s
of the last commit; 2 for bad arguments.

The same low-latency settings go to both brokers' clients, measured on the 2-core machine at
1,000 changes/s through Runnel (--breakdown):
- the connector's poll.interval.ms=10 (Debezium's default is 500 ms). Its task hands Connect a
  batch once per interval, so the interval is most of the lag: commit -> Connect's send is
  about 6 ms p50 at 10 ms and 1.5 ms at 1 ms, but at 1 ms Connect burns 2.6 times the CPU
  (two thirds of a core) and the consumer, in smaller batches, twice its own;
- the worker's producer.linger.ms=0: Kafka 4's producer waits 5 ms by default for a batch to
  fill, which a trickle of changes never does (send -> indexed 7.0 ms p50 with it, 2.5 without);
- the consumer's fetch.wait.max.ms=10 (search_index.py's default); a Fetch returns as soon as
  there are records, so this bounds only the idle polls.

--breakdown also has the consumer write its journal, and after the run reads the change
topics back (confluent_kafka in the interpreter running this) to split each measured change's
lag into: commit -> Debezium (the envelope's ts_us, when Debezium handled the event),
Debezium -> the record's timestamp (when Connect's producer got it, ms precision), and
record -> indexed. Processes are stopped by PID in the order Connect, consumer, broker,
PostgreSQL."""

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pipeline import (CONNECTOR, ROOT, Connect, PacedWriter, Postgres,  # noqa: E402
                      Runnel, Workload, change_topic, connector_config, die_with_parent,
                      stop_process, tail, wait_until)

TABLES = ("customers", "products")    # what the search index reads
SNAPSHOT_ROWS = 1000                  # of each table
INSERT_SHARE = 0.3                    # of the changes; the rest are updates
POLL_INTERVAL_MS = 10
LINGER_MS = 0             # Connect's producer (worker producer.linger.ms)
TOPICS_TIMEOUT = 120      # Debezium's snapshot has made both topics
ASSIGN_TIMEOUT = 60       # the consumer has its partitions
SNAPSHOT_TIMEOUT = 120    # the snapshot is indexed
DRAIN_TIMEOUT = 60        # every change is indexed after the last commit
MIN_ACHIEVED = 0.9


def default_python():
    venv = os.path.join(ROOT, ".cache", "venv", "bin", "python3")
    return venv if os.access(venv, os.X_OK) else sys.executable


def proc_cpu(pid):
    """CPU seconds (utime + stime, all threads) of a live process, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def percentile(sorted_values, q):
    """Nearest rank: the smallest value with at least q of the samples at or below it."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(-(-q * len(sorted_values) // 1)) - 1))
    return sorted_values[k]


class Changes:
    """One-row INSERTs and UPDATEs of customers and products, one statement (its own
    transaction under psql's autocommit) each, ids taken from a Workload that owns them."""

    def __init__(self, seed):
        self.workload = Workload(seed, snapshot=(SNAPSHOT_ROWS, SNAPSHOT_ROWS, 0))
        self.rng = random.Random(seed + 1)

    def snapshot_sql(self):
        return self.workload.snapshot_sql()

    def statements(self, n):
        out = []
        for _ in range(n):
            table = self.rng.choice(TABLES)
            if self.rng.random() < INSERT_SHARE:
                out.append(self.workload.insert(table))
            else:
                out.append(self.workload.update(table))
        return out


class Consumer:
    """search_index.py consume as a child process; its stdout read for "assigned:" lines."""

    def __init__(self, python, script, bootstrap, work, breakdown):
        self.db = os.path.join(work, "index.db")
        self.lag = os.path.join(work, "lag.txt")
        self.journal = os.path.join(work, "journal.jsonl") if breakdown else None
        self.log = os.path.join(work, "consumer.log")
        open(self.lag, "w").close()
        cmd = [python, script, "consume", "--bootstrap", bootstrap, "--group", "cdc-lag",
               "--db", self.db, "--lag", self.lag]
        if self.journal:
            cmd += ["--journal", self.journal]
        self.assigned = []
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=log, text=True, preexec_fn=die_with_parent)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("assigned:"):
                self.assigned.append(line.split(":", 1)[1].strip())

    def alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError("the search consumer exited with %s:\n%s"
                               % (self.proc.returncode, tail(self.log)))
        return True

    def has_partitions(self, topics):
        self.alive()
        return self.assigned and all(t in self.assigned[-1] for t in topics)

    def count(self, table):
        """Rows of `table` in the index, 0 while it does not exist yet."""
        try:
            db = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=5)
            try:
                return db.execute("SELECT count(*) FROM %s" % table).fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error:
            return 0

    def lags(self):
        with open(self.lag) as f:
            return [int(line) for line in f if line.strip()]

    def lag_lines(self):
        with open(self.lag, "rb") as f:
            return f.read().count(b"\n")

    def stop(self):
        stop_process(self.proc)


def start_broker(args, work):
    """(broker, its pid, its bootstrap) of the kind asked."""
    if args.broker == "runnel":
        broker = Runnel(work, binary=args.runnel_bin).start()
        return broker, broker.proc.pid, broker.bootstrap
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    import kafka_oracle  # noqa: E402 (needs tests/integration on the path)
    broker = kafka_oracle.KafkaBroker(jvm_opts=kafka_oracle.SCRIPT_JVM_OPTS)
    broker.format_jvm_opts = list(kafka_oracle.JVM_OPTS)
    broker.start()
    return broker, broker.proc.pid, broker.bootstrap


def topics_written(connect, topics):
    """True once the connector has written to every one of `topics` (Connect's active topics,
    KIP-558): they exist, and a consumer subscribing now is assigned them."""
    try:
        got = connect.request("GET", "/connectors/%s/topics" % CONNECTOR)
    except (OSError, ValueError):
        return False
    return all(t in got.get(CONNECTOR, {}).get("topics", []) for t in topics)


def breakdown(bootstrap, journal, lag_path, skip):
    """Medians and p99s of the lag's parts for the measured changes (after the first `skip`)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer as KConsumer, TopicPartition
    applied = []     # (topic, offset, indexed_us) of each change with a lag line, in order
    with open(journal) as jf, open(lag_path) as lf:
        lags = [int(line) for line in lf if line.strip()]
        i = 0
        for line in jf:
            j = json.loads(line)
            if j["op"] in ("c", "u", "d") and j["ts_us"] is not None \
                    and j["snapshot"] in (None, "false", False):
                if i < len(lags):
                    applied.append((j["topic"], j["offset"], j["ts_us"] + lags[i]))
                i += 1
    applied = applied[skip:]
    want = {(t, o): ix for t, o, ix in applied}
    c = KConsumer({"bootstrap.servers": bootstrap, "group.id": "cdc-lag-breakdown",
                   "enable.auto.commit": False, "enable.partition.eof": True})
    c.assign([TopicPartition(change_topic(t), 0, OFFSET_BEGINNING) for t in TABLES])
    parts = {"commit->debezium": [], "debezium->record": [], "record->indexed": []}
    eof = set()
    deadline = time.monotonic() + 60
    while len(eof) < len(TABLES) and time.monotonic() < deadline:
        for m in c.consume(1000, timeout=1.0):
            if m.error():
                eof.add(m.topic())
                continue
            ix = want.get((m.topic(), m.offset()))
            if ix is None or m.value() is None:
                continue
            env = json.loads(m.value())
            commit = env["source"].get("ts_us") or env["source"]["ts_ms"] * 1000
            handled = env.get("ts_us") or env["ts_ms"] * 1000
            record = m.timestamp()[1] * 1000
            parts["commit->debezium"].append(handled - commit)
            parts["debezium->record"].append(record - handled)
            parts["record->indexed"].append(ix - record)
    c.close()
    out = []
    for name, values in parts.items():
        values.sort()
        out.append("%s p50_ms=%.2f p99_ms=%.2f" % (name, percentile(values, 0.5) / 1000,
                                                   percentile(values, 0.99) / 1000))
    return "breakdown n=%d: %s" % (len(parts["record->indexed"]), "; ".join(out))


def run(args, work):
    t0 = time.monotonic()

    def say(msg):
        print("lag_bench %6.1f s: %s" % (time.monotonic() - t0, msg), file=sys.stderr,
              flush=True)

    started = {}      # name -> object with stop(), stopped in STOP_ORDER
    try:
        changes = Changes(seed=13)
        pg = Postgres()     # its own temporary directory: the postgres user must reach it
        started["postgres"] = pg
        pg.start()
        pg.create_shop(changes.snapshot_sql())
        say("postgres on %d" % pg.port)

        broker, broker_pid, bootstrap = start_broker(args, work)
        started["broker"] = broker
        say("%s on %s (pid %d)" % (args.broker, bootstrap, broker_pid))

        linger = ["producer.linger.ms=%d" % args.linger_ms] if args.linger_ms >= 0 else []
        connect = Connect(bootstrap, os.path.join(work, "connect"), extra=linger)
        started["connect"] = connect
        connect.start()
        connect.wait_rest()
        connect.request("PUT", "/connectors/%s/config" % CONNECTOR,
                        connector_config(pg, args.poll_interval_ms))
        connect.wait_running()
        topics = [change_topic(t) for t in TABLES]
        wait_until("the snapshot's topics %s" % topics, lambda: topics_written(connect, topics),
                   TOPICS_TIMEOUT, 0.5)
        say("connector running, topics made")

        consumer = Consumer(args.python, args.index_script, bootstrap,
                            work, args.breakdown)
        started["consumer"] = consumer
        wait_until("the search consumer's partitions", lambda: consumer.has_partitions(topics),
                   ASSIGN_TIMEOUT, 0.1)
        wait_until("the snapshot indexed", lambda: consumer.alive() and all(
            consumer.count(t) >= SNAPSHOT_ROWS for t in TABLES), SNAPSHOT_TIMEOUT, 0.2)
        if consumer.lag_lines() != 0:
            raise RuntimeError("lag lines before any change: %d" % consumer.lag_lines())
        say("snapshot indexed (%d rows each)" % SNAPSHOT_ROWS)

        warm = int(args.rate * args.warm_up)
        measured = int(args.rate * args.seconds)
        stmts = changes.statements(warm + measured)
        pids = {"broker": broker_pid, "connect": connect.proc.pid, "consumer": consumer.proc.pid}
        cpu0 = {k: proc_cpu(p) for k, p in pids.items()}
        w0 = time.monotonic()
        writer = PacedWriter(pg, stmts, args.rate)
        writer.wait(args.warm_up + args.seconds + 120)
        elapsed = time.monotonic() - w0
        cpu1 = {k: proc_cpu(p) for k, p in pids.items()}
        achieved = len(stmts) / elapsed
        say("%d changes committed in %.2f s (%.1f/s)" % (len(stmts), elapsed, achieved))

        total = warm + measured
        try:
            wait_until("every change indexed", lambda: consumer.alive() and
                       consumer.lag_lines() >= total, DRAIN_TIMEOUT, 0.1)
        except TimeoutError:
            pass
        lags = consumer.lags()
        samples = sorted(lags[warm:total])
        cpu = " ".join("%s_cpu_s=%s" % (k, "%.2f" % (cpu1[k] - cpu0[k])
                                        if cpu0[k] is not None and cpu1[k] is not None
                                        else "nan") for k in pids)
        line = ("cdc-lag broker=%s rate=%d achieved=%.1f changes=%d indexed=%d p50_ms=%.2f "
                "p99_ms=%.2f max_ms=%.2f %s" % (
                    args.broker, args.rate, achieved, measured, len(samples),
                    percentile(samples, 0.5) / 1000, percentile(samples, 0.99) / 1000,
                    (samples[-1] / 1000 if samples else float("nan")), cpu))
        if args.breakdown:
            say(breakdown(bootstrap, consumer.journal, consumer.lag, warm))
        print(line, flush=True)
        ok = True
        if achieved < MIN_ACHIEVED * args.rate:
            print("lag_bench: achieved %.1f changes/s, below %d%% of %d" % (
                achieved, MIN_ACHIEVED * 100, args.rate), file=sys.stderr)
            ok = False
        if len(lags) < total:
            print("lag_bench: %d of %d changes indexed %d s after the last commit" % (
                len(lags), total, DRAIN_TIMEOUT), file=sys.stderr)
            ok = False
        return 0 if ok else 1
    finally:
        for name in ("connect", "consumer", "broker", "postgres"):
            part = started.get(name)
            if part is None:
                continue
            try:
                part.stop()
            except Exception as e:  # keep stopping the others
                print("lag_bench: stopping %s: %s" % (name, e), file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--broker", choices=("runnel", "kafka"), required=True)
    p.add_argument("--runnel-bin", default=os.path.join(ROOT, "build", "runnel"))
    p.add_argument("--rate", type=int, default=1000, help="changes per second")
    p.add_argument("--seconds", type=float, default=20, help="measured seconds")
    p.add_argument("--warm-up", type=float, default=5, help="seconds of changes not measured")
    p.add_argument("--python", default=default_python(), help="the consumer's interpreter")
    p.add_argument("--index-script", default=os.path.join(HERE, "search_index.py"))
    p.add_argument("--poll-interval-ms", type=int, default=POLL_INTERVAL_MS,
                   help="Debezium's poll.interval.ms (default %(default)s)")
    p.add_argument("--linger-ms", type=int, default=LINGER_MS,
                   help="Connect's producer linger.ms (default %(default)s; -1: the producer's "
                   "own default)")
    p.add_argument("--breakdown", action="store_true",
                   help="also split the lag into its parts (the consumer writes a journal)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args()
    if args.rate <= 0 or args.seconds <= 0 or args.warm_up < 0:
        p.error("--rate and --seconds must be positive, --warm-up not negative")
    # A SIGTERM (scripts/bench's time limit) unwinds through run()'s finally, which stops
    # everything, PostgreSQL too (pg_ctl's server is not our child: nothing else would).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    work = tempfile.mkdtemp(prefix="runnel-cdc-lag-")
    try:
        return run(args, work)
    except (RuntimeError, TimeoutError, OSError) as e:
        print("lag_bench: %s" % e, file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print("lag_bench: kept %s" % work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
