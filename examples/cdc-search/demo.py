# SPDX-License-Identifier: Apache-2.0
"""From a database to a search index in one minute: starts the whole CDC example on this machine
(`run` calls this after scripts/setup and the build) and says where to look.

  PostgreSQL (private cluster) --Debezium in Kafka Connect 4.4--> Runnel
      --> search_index.py consume (SQLite FTS5 index of customers and products)
      --> OrderTotals (Kafka Streams, exactly-once: order totals per customer)

It loads a few hundred rows (the snapshot), makes --changes random changes at --rate
transactions per second, waits until the index and the totals equal the database, then prints
the commands to search, change the data and watch the topics, and runs until Ctrl-C. With
--check it stops there instead, with exit status 0 only when everything matched."""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time

import analytics
import search_index
from pipeline import (CONNECTOR, HERE, ROOT, TABLES, Connect, PacedWriter, Postgres, Runnel,
                      SearchConsumer, Workload, change_topic, connector_config, wait_until)

TOTALS_TOPIC = "shop.customer-totals"


class Demo:
    def __init__(self, args):
        self.args = args
        self.t0 = time.monotonic()
        if args.workdir:
            os.makedirs(args.workdir, exist_ok=True)
            self.work = args.workdir
        else:
            self.work = tempfile.mkdtemp(prefix="runnel-cdc-demo-")
        self.stops = []          # run in reverse order by close()

    def say(self, what):
        print("[%5.1f s] %s" % (time.monotonic() - self.t0, what), flush=True)

    def started(self, stop):
        self.stops.append(stop)

    def close(self):
        while self.stops:
            stop = self.stops.pop()
            try:
                stop()
            except Exception as e:  # noqa: BLE001 - stop the rest anyway
                print("stopping: %s" % e, file=sys.stderr)
        if not self.args.keep and not self.args.workdir:
            shutil.rmtree(self.work, ignore_errors=True)

    def matches(self):
        """(index equals the tables, totals equal the SQL aggregate)."""
        index = search_index.SearchIndex(self.db, readonly=True)
        try:
            same = all(index.rows(t) == self.pg.rows(t) for t in ("customers", "products"))
        finally:
            index.close()
        got = analytics.read_totals(self.runnel.bootstrap, TOTALS_TOPIC, timeout=30)
        return same, got == self.pg.totals()

    def wait_matches(self, what, timeout):
        state = [None]

        def both():
            state[0] = self.matches()
            return all(state[0])
        try:
            wait_until(what, both, timeout, 1.0)
        except TimeoutError:
            self.say("%s: index equal %s, totals equal %s after %d s (logs in %s)"
                     % (what, state[0][0], state[0][1], timeout, self.work))
            return False
        self.say("%s: the search index and the totals equal the database" % what)
        return True

    def run(self):
        a = self.args
        self.say("working directory %s" % self.work)
        self.pg = Postgres()
        self.pg.start()
        self.started(lambda: self.pg.stop(remove=not a.keep))
        workload = Workload(seed=a.seed, snapshot=(200, 100, 300))
        self.pg.create_shop(workload.snapshot_sql(), samples=True)
        self.say("PostgreSQL on 127.0.0.1:%d, database shop: %s rows"
                 % (self.pg.port, sum(len(self.pg.rows(t)) for t in TABLES)))

        self.runnel = Runnel(self.work, binary=a.broker_bin)
        self.runnel.start()
        self.started(self.runnel.stop)
        self.say("Runnel on %s (log %s)" % (self.runnel.bootstrap, self.runnel.log))

        connect = Connect(self.runnel.bootstrap, os.path.join(self.work, "connect"),
                          extra=["exactly.once.source.support=enabled"])
        connect.start()
        self.started(connect.stop)
        connect.wait_rest()
        connect.request("PUT", "/connectors/%s/config" % CONNECTOR,
                        connector_config(self.pg, poll_interval_ms=10))
        connect.wait_running()
        self.say("Kafka Connect %s with Debezium's connector %s: RUNNING" % (connect.url,
                                                                               CONNECTOR))

        self.db = os.path.join(self.work, "search.db")
        search = SearchConsumer(self.runnel.bootstrap, "search", self.db,
                                os.path.join(self.work, "search.log"))
        search.start()
        self.started(search.stop)
        totals = analytics.OrderTotalsApp(self.runnel.bootstrap, "cdc-totals",
                                          os.path.join(self.work, "streams-state"),
                                          os.path.join(self.work, "streams.log"),
                                          output_topic=TOTALS_TOPIC)
        totals.start()
        self.started(totals.stop)
        if not totals.wait_running(120):
            raise RuntimeError("Kafka Streams did not reach RUNNING (log %s)" % totals.log_path)
        self.say("search consumer (group search, index %s) and Kafka Streams OrderTotals "
                 "running" % self.db)
        ok = self.wait_matches("snapshot", 120)

        if ok and a.changes:
            txns = workload.changes(a.changes, per_txn=a.per_txn)
            self.say("making %d changes in %d transactions, %g per second"
                     % (a.changes, len(txns), a.rate))
            writer = PacedWriter(self.pg, txns, a.rate)
            writer.wait(len(txns) / a.rate + 120)
            ok = self.wait_matches("%d changes" % a.changes, 180)

        self.where_to_look(connect)
        if a.check:
            return 0 if ok else 1
        print("Ctrl-C stops everything.", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
        return 0 if ok else 1

    def where_to_look(self, connect):
        py = os.path.relpath(sys.executable) if sys.executable.startswith(ROOT) else \
            sys.executable
        here = os.path.relpath(HERE)
        b = self.runnel.bootstrap
        print("""
Where to look:
  search:       %(py)s %(here)s/search_index.py query --db %(db)s kettle
  change data:  %(psql)s -h 127.0.0.1 -p %(pg)d -U postgres shop
                  e.g. UPDATE products SET description = 'Copper kettle' WHERE name = 'Kettle';
                  then search again for copper
  the topics:   kcat -b %(b)s -C -e -t %(products)s -o beginning
  totals:       kcat -b %(b)s -C -e -t %(totals)s -o beginning -X isolation.level=read_committed
  connector:    curl -s %(url)s/connectors/%(conn)s/status
  logs:         %(work)s
""" % {"py": py, "here": here, "db": self.db, "psql": os.path.join(self.pg.bin, "psql"),
            "pg": self.pg.port, "b": b, "products": change_topic("products"),
            "totals": TOTALS_TOPIC, "url": connect.url, "conn": CONNECTOR, "work": self.work},
              flush=True)


def interrupted(signum, frame):
    """SIGTERM stops everything as Ctrl-C does."""
    raise KeyboardInterrupt


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--changes", type=int, default=1000,
                   help="random changes to make after the snapshot (default 1000)")
    p.add_argument("--rate", type=float, default=50,
                   help="transactions per second (default 50)")
    p.add_argument("--per-txn", type=int, default=5, help="changes per transaction (default 5)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--check", action="store_true",
                   help="stop once the index and the totals match (exit 1 if they do not)")
    p.add_argument("--keep", action="store_true", help="keep the working directory")
    p.add_argument("--workdir", help="working directory (kept; default a temporary one)")
    p.add_argument("--broker-bin", default=os.path.join(ROOT, "build", "runnel"),
                   help="the runnel binary (default build/runnel)")
    args = p.parse_args()
    demo = Demo(args)
    # Also SIGINT: a shell that starts the runner in the background leaves SIGINT ignored.
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    try:
        return demo.run()
    except KeyboardInterrupt:
        return 130
    finally:
        demo.say("stopping")
        demo.close()


if __name__ == "__main__":
    sys.exit(main())
