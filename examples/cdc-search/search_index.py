#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The search side of the CDC example (issue 13): a consumer group member that keeps a SQLite
FTS5 index of the shop's customers and products from Debezium's change topics.

Input: the compacted topics shop.public.customers and shop.public.products, written by
Debezium's PostgreSQL connector through Kafka Connect's JsonConverter (schemas.enable=false).
A record's key is {"id": N}; its value a Debezium envelope {"before", "after", "source", "op",
"ts_ms"}, with op r (snapshot read), c, u or d; a delete is an op "d" event followed by a
tombstone (null value) with the same key.

The database (SearchIndex) has one plain table per entity whose columns are the PostgreSQL
table's, in the same order and with the same JSON types (so `SELECT * FROM customers` compares
row for row with PostgreSQL's), and one FTS5 table over both entities:

    docs(kind UNINDEXED, ref UNINDEXED, name, body)

kind is 'customer' or 'product', ref the row's id, name its name and body the other searchable
text (email and city; description). Its rowid is derived from (kind, id), so an upsert or a
delete finds its document without a scan, and bm25 ranks customers and products together.
Applying an event is idempotent: an upsert replaces the row and its document, a delete removes
them if present. That is what makes at-least-once delivery safe.

Indexer reads the topics in a consumer group (auto.offset.reset=earliest, no auto commit) and,
per polled batch, applies every event in one SQLite transaction, commits it (fsync) and only
then commits the batch's offsets to Kafka synchronously. A crash between the two re-reads the
batch, which changes nothing. A failed Kafka commit (broker down, rebalance) is logged and
retried with the next batch, never fatal; librdkafka reconnects by itself.

Command line:
    search_index.py consume --bootstrap HOST:PORT --group G --db PATH
                            [--journal FILE] [--lag FILE] [--stop-after-idle SECONDS]
    search_index.py query --db PATH [--limit N] [--json] WORDS...
    search_index.py dump --db PATH

consume prints "assigned: TOPIC[P], ..." (flushed) on every assignment, so that a driver can
wait for it, and exits 0 after SIGTERM or SIGINT: it finishes the batch in hand, commits it,
leaves the group and closes. If the broker is unreachable then, it waits --close-timeout
seconds at most and exits 75 (the index is consistent; the uncommitted tail is re-read).
Works with confluent-kafka 1.7 (Debian) and 2.x (PyPI)."""

import argparse
import json
import logging
import os
import signal
import sqlite3
import sys
import threading
import time

log = logging.getLogger("search_index")

# The entities: PostgreSQL's columns in table order (examples/cdc-search/schema.sql) with the
# SQLite type that keeps json_agg's JSON type, and which columns go into the document.
ENTITIES = {
    "customers": {
        "kind": "customer",
        "tag": 0,
        "columns": (("id", "INTEGER PRIMARY KEY"), ("name", "TEXT NOT NULL"),
                    ("email", "TEXT NOT NULL"), ("city", "TEXT")),
        "body": ("email", "city"),
    },
    "products": {
        "kind": "product",
        "tag": 1,
        "columns": (("id", "INTEGER PRIMARY KEY"), ("name", "TEXT NOT NULL"),
                    ("description", "TEXT"), ("price_cents", "INTEGER NOT NULL")),
        "body": ("description",),
    },
}
TOPIC_PREFIX = "shop.public."
TOPICS = tuple(TOPIC_PREFIX + t for t in ENTITIES)
TOMBSTONE = "tombstone"   # the op apply() and the journal give a record with a null value

# consume's exit status when it could not commit its last offsets or leave the group in time
# (the broker unreachable at shutdown): the index is consistent, a restart re-reads a little.
EXIT_UNCLEAN = 75

# Weights of bm25() per docs column (kind, ref, name, body): a word of the name counts more.
BM25_WEIGHTS = (0.0, 0.0, 4.0, 1.0)


def table_of(topic):
    """The entity a change topic carries (its last dot-separated part), or None."""
    table = topic.rsplit(".", 1)[-1]
    return table if table in ENTITIES else None


def doc_rowid(table, row_id):
    """docs' rowid for (entity, id): distinct for every pair, found without a scan."""
    return row_id * len(ENTITIES) + ENTITIES[table]["tag"]


def parse_event(key_bytes, value_bytes):
    """(id, op, envelope or None) of one change record; op is the envelope's (r, c, u, d, or t
    for a truncate), or TOMBSTONE. The id comes from the key; a record without a usable key
    falls back to the row's id. Raises ValueError for a record that is not a change event."""
    row_id = None
    if key_bytes:
        key = json.loads(key_bytes)
        if isinstance(key, dict):
            key = key.get("payload", key)  # a JsonConverter with schemas.enable=true
            row_id = key.get("id")
    if value_bytes is None:
        return row_id, TOMBSTONE, None
    env = json.loads(value_bytes)
    if isinstance(env, dict) and "payload" in env and "schema" in env:
        env = env["payload"]
    if not isinstance(env, dict):
        raise ValueError("not a Debezium envelope")
    op = env.get("op")
    if row_id is None:
        row = env.get("after") or env.get("before") or {}
        row_id = row.get("id")
    return row_id, op, env


def is_snapshot(env):
    """True for an event of Debezium's snapshot (op r, or source.snapshot other than false)."""
    snap = (env.get("source") or {}).get("snapshot")
    return env.get("op") == "r" or snap not in (None, "false", False)


def commit_time_us(env):
    """The source database's commit time of the change in microseconds since the epoch, or
    None: source.ts_us (Debezium 2.6+), else source.ts_ms * 1000."""
    source = env.get("source") or {}
    if source.get("ts_us") is not None:
        return int(source["ts_us"])
    if source.get("ts_ms") is not None:
        return int(source["ts_ms"]) * 1000
    return None


class SearchIndex:
    """The SQLite database. One writer (the Indexer) at a time; readers may open the same file
    with readonly=True while it writes (WAL mode)."""

    def __init__(self, path, readonly=False, fsync=True):
        self.path = path
        if readonly:
            self.db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10,
                                      isolation_level=None)
        else:
            self.db = sqlite3.connect(path, timeout=10, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before Kafka hears of it, even across a power loss.
            self.db.execute("PRAGMA synchronous=%s" % ("FULL" if fsync else "NORMAL"))
            self._create()
        self.db.execute("PRAGMA busy_timeout=10000")

    def _create(self):
        with self.transaction():
            for table, e in ENTITIES.items():
                self.db.execute("CREATE TABLE IF NOT EXISTS %s (%s)" % (
                    table, ", ".join("%s %s" % c for c in e["columns"])))
            self.db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS docs USING "
                            "fts5(kind UNINDEXED, ref UNINDEXED, name, body)")

    def close(self):
        self.db.close()

    def transaction(self):
        return _Transaction(self.db)

    # -- writing -------------------------------------------------------------------------------

    def apply(self, topic, key_bytes, value_bytes):
        """Applies one change record of `topic` (call inside transaction() to batch). Returns
        (table, id, op) of what it did, op TOMBSTONE for a tombstone and id None for a
        truncate, or None for a record it ignores (another topic, not a change event, no id,
        an op it does not know); an ignored record is logged, never fatal."""
        table = table_of(topic)
        if table is None:
            return None
        try:
            row_id, op, env = parse_event(key_bytes, value_bytes)
        except (ValueError, AttributeError) as e:
            log.warning("%s: not a change event (%s), ignored", topic, e)
            return None
        if op == "t":
            # A truncate (only sent if the connector's skipped.operations lets it through).
            self.truncate(table)
            return table, None, op
        if not isinstance(row_id, int):
            log.warning("%s: change record without an integer id, ignored", topic)
            return None
        if op in ("r", "c", "u"):
            after = env.get("after")
            if not isinstance(after, dict):
                log.warning("%s: op %s for id %s without 'after', ignored", topic, op, row_id)
                return None
            self.upsert(table, dict(after, id=row_id))
        elif op in ("d", TOMBSTONE):
            self.delete(table, row_id)
        else:
            # "m" (a logical decoding message) carries no row.
            log.warning("%s: op %r for id %s ignored", topic, op, row_id)
            return None
        return table, row_id, op

    def upsert(self, table, row):
        e = ENTITIES[table]
        names = [c[0] for c in e["columns"]]
        self.db.execute("INSERT OR REPLACE INTO %s (%s) VALUES (%s)" % (
            table, ", ".join(names), ", ".join("?" * len(names))),
            [row.get(n) for n in names])
        rowid = doc_rowid(table, row["id"])
        body = " ".join(str(row[c]) for c in e["body"] if row.get(c) is not None)
        self.db.execute("DELETE FROM docs WHERE rowid = ?", (rowid,))
        self.db.execute("INSERT INTO docs (rowid, kind, ref, name, body) VALUES (?, ?, ?, ?, ?)",
                        (rowid, e["kind"], row["id"], row.get("name") or "", body))

    def truncate(self, table):
        self.db.execute("DELETE FROM %s" % table)
        self.db.execute("DELETE FROM docs WHERE kind = ?", (ENTITIES[table]["kind"],))

    def delete(self, table, row_id):
        self.db.execute("DELETE FROM %s WHERE id = ?" % table, (row_id,))
        self.db.execute("DELETE FROM docs WHERE rowid = ?", (doc_rowid(table, row_id),))

    # -- reading -------------------------------------------------------------------------------

    def rows(self, table):
        """{id: row} of one entity, the row a dict with PostgreSQL's column names."""
        cur = self.db.execute("SELECT * FROM %s ORDER BY id" % table)
        names = [d[0] for d in cur.description]
        return {r[0]: dict(zip(names, r)) for r in cur}

    def dump(self):
        """{table: [row, ...]} ordered by id, as `dump` prints it."""
        return {t: list(self.rows(t).values()) for t in ENTITIES}

    def search(self, terms, limit=10):
        """Hits for all of `terms` (words; each is matched as a phrase of its tokens, so FTS5's
        query syntax needs no escaping), best first by bm25: a list of dicts with kind, id,
        name, snippet and score (lower is better)."""
        words = [w for w in " ".join(terms).split() if w]
        if not words:
            return []
        match = " ".join('"%s"' % w.replace('"', '""') for w in words)
        cur = self.db.execute(
            "SELECT kind, ref, name, snippet(docs, -1, '[', ']', '...', 10), "
            "bm25(docs, %s) AS score FROM docs WHERE docs MATCH ? ORDER BY score LIMIT ?"
            % ", ".join(str(w) for w in BM25_WEIGHTS), (match, limit))
        return [{"kind": k, "id": i, "name": n, "snippet": s, "score": sc}
                for k, i, n, s, sc in cur]


class _Transaction:
    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        return False


class Indexer:
    """A consumer group member feeding a SearchIndex. run() loops until stop() (thread-safe)
    or, with stop_after_idle, when it has partitions and neither a record nor an assignment
    came for that many seconds; it then commits, leaves the group and closes the consumer.

    journal: a path or a writable text file; one JSON line per applied record, written after
    the SQLite commit: topic, partition, offset, id, op (TOMBSTONE for one, "ignored" for a
    record apply() ignored), lsn, txId, snapshot (source.snapshot), ts_us (the commit time, as
    used for lag).
    lag: a path (one number a line) or a list; per applied change event that is not part of the
    snapshot and has a commit time, microseconds from the database commit to the SQLite commit
    that made it searchable.
    on_assign: called with the list of "topic[partition]" strings of each assignment."""

    def __init__(self, bootstrap, group, index, topics=TOPICS, journal=None, lag=None,
                 fetch_wait_ms=10, batch_size=1000, config=None, on_assign=None):
        from confluent_kafka import Consumer  # imported here: SearchIndex alone needs none
        self.index = index
        self.topics = list(topics)
        self.batch_size = batch_size
        self.on_assign = on_assign
        self._stop = threading.Event()
        self._pending = {}        # (topic, partition) -> next offset applied, not yet committed
        self._journal, self._own_journal = _open_out(journal)
        if isinstance(lag, list):
            self.lags, self._lag_file, self._own_lag = lag, None, False
        else:
            self.lags = []
            self._lag_file, self._own_lag = _open_out(lag)
        self.applied = 0          # records applied (re-reads included)
        self.batches = 0
        self.commit_failures = 0
        self.assignment = []
        self._last_activity = time.monotonic()
        conf = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "fetch.wait.max.ms": fetch_wait_ms,
            # Debezium creates a table's topic with its first event: a consumer that subscribed
            # earlier sees the topic at its next metadata refresh, by default 5 minutes later.
            "topic.metadata.refresh.interval.ms": 2000,
            "client.id": "cdc-search-index",
            "logger": log,
        }
        conf.update(config or {})
        self.consumer = Consumer(conf)
        self.consumer.subscribe(self.topics, on_assign=self._assigned, on_revoke=self._revoked)

    def stop(self):
        self._stop.set()

    def _assigned(self, consumer, partitions):
        self.assignment = ["%s[%d]" % (p.topic, p.partition) for p in partitions]
        self._last_activity = time.monotonic()
        log.info("assigned: %s", ", ".join(self.assignment))
        if self.on_assign is not None:
            self.on_assign(self.assignment)

    def _revoked(self, consumer, partitions):
        # Offsets applied to SQLite but not committed yet (a commit failed) are committed now,
        # while this member still owns them; if that fails too the next owner re-reads them,
        # which the idempotent index absorbs.
        self._commit(consumer)
        revoked = {(p.topic, p.partition) for p in partitions}
        for tp in list(self._pending):
            if tp in revoked:
                del self._pending[tp]
        self.assignment = []

    def run(self, stop_after_idle=None, close_timeout=None):
        """Consumes until stop() or idle, then close(close_timeout); returns close()'s result."""
        from confluent_kafka import KafkaError
        self._last_activity = time.monotonic()
        last_retry = 0.0
        try:
            while not self._stop.is_set():
                # consume(n, timeout) waits out its timeout unless n records come, which would
                # add up to the timeout to every change's lag: wait for the first record, then
                # take what has already arrived behind it.
                first = self.consumer.poll(0.2)
                msgs = [] if first is None else [first]
                if first is not None and self.batch_size > 1:
                    msgs += self.consumer.consume(self.batch_size - 1, timeout=0)
                records = []
                for m in msgs:
                    err = m.error()
                    if err is None:
                        records.append(m)
                    elif err.fatal():
                        raise RuntimeError("fatal consumer error: %s" % err)
                    elif err.code() != KafkaError._PARTITION_EOF:
                        log.warning("consumer: %s", err)
                now = time.monotonic()
                if records:
                    self._last_activity = now
                    self._apply_batch(records)
                    self._commit()
                elif self._pending and now - last_retry >= 1.0:
                    last_retry = now
                    self._commit()
                elif (stop_after_idle is not None and self.assignment
                      and now - self._last_activity >= stop_after_idle):
                    log.info("idle for %.1f s: stopping", stop_after_idle)
                    break
        finally:
            clean = self.close(close_timeout)
        return clean

    def _apply_batch(self, records):
        events = []
        with self.index.transaction():
            for m in records:
                done = self.index.apply(m.topic(), m.key(), m.value())
                events.append((m, done))
        committed_us = time.time_ns() // 1000
        self.batches += 1
        self.applied += len(records)
        for m, done in events:
            self._pending[(m.topic(), m.partition())] = m.offset() + 1
            self._record(m, done, committed_us)
        for f in (self._journal, self._lag_file):
            if f is not None:
                f.flush()

    def _record(self, m, done, committed_us):
        env = None
        if m.value() is not None:
            try:
                env = json.loads(m.value())
            except ValueError:
                env = None
        env = env if isinstance(env, dict) else {}
        source = env.get("source") or {}
        ts_us = commit_time_us(env) if env else None
        if self._journal is not None:
            row_id = done[1] if done else None
            op = done[2] if done else "ignored"
            self._journal.write(json.dumps({
                "topic": m.topic(), "partition": m.partition(), "offset": m.offset(),
                "id": row_id, "op": op, "lsn": source.get("lsn"), "txId": source.get("txId"),
                "snapshot": source.get("snapshot"), "ts_us": ts_us}, sort_keys=True) + "\n")
        if done and done[2] in ("c", "u", "d") and ts_us is not None and not is_snapshot(env):
            lag = committed_us - ts_us
            self.lags.append(lag)
            if self._lag_file is not None:
                self._lag_file.write("%d\n" % lag)

    def _commit(self, consumer=None):
        """Commits the offsets applied so far, synchronously, with `consumer` (default: ours).
        False (logged) if it failed; the offsets stay pending and the next call tries again."""
        from confluent_kafka import KafkaException, TopicPartition
        if not self._pending:
            return True
        offsets = [TopicPartition(t, p, o) for (t, p), o in sorted(self._pending.items())]
        try:
            result = (consumer or self.consumer).commit(offsets=offsets, asynchronous=False)
        except KafkaException as e:
            self.commit_failures += 1
            log.warning("offset commit failed (will retry): %s", e.args[0] if e.args else e)
            return False
        failed = [tp for tp in (result or []) if tp.error is not None]
        if failed:
            self.commit_failures += 1
            log.warning("offset commit failed for %s (will retry)",
                        ", ".join("%s[%d]: %s" % (tp.topic, tp.partition, tp.error)
                                  for tp in failed))
            return False
        for tp in offsets:
            if self._pending.get((tp.topic, tp.partition)) == tp.offset:
                del self._pending[(tp.topic, tp.partition)]
        return True

    def close(self, timeout=None):
        """Commits what is pending, closes the consumer (leaving the group) and the journal and
        lag files. Returns True if all of that worked. With `timeout`, gives up after that many
        seconds on a close that waits for an unreachable broker (librdkafka then waits out the
        session timeout, 45 s, and longer): the close goes on in a daemon thread and the caller
        should exit the process; the index is consistent and uncommitted offsets only mean a
        re-read, which the index absorbs."""
        if self.consumer is None:
            return True
        consumer = self.consumer
        closed = threading.Event()
        result = {"clean": False}

        def leave():
            # A synchronous commit also waits for an unreachable coordinator (up to the session
            # timeout), so it runs under the same bound as the close.
            try:
                result["clean"] = True
                if self._pending and not self._commit(consumer):
                    log.warning("closing with uncommitted offsets: %s", self._pending)
                    result["clean"] = False
                consumer.close()  # leaves the group
            finally:
                closed.set()

        try:
            if timeout is None:
                leave()
            else:
                threading.Thread(target=leave, name="consumer-close", daemon=True).start()
                if not closed.wait(timeout):
                    log.warning("the consumer did not close within %.0f s (broker unreachable?); "
                                "not waiting to leave the group", timeout)
                    return False
        finally:
            self.consumer = None
            for f, own in ((self._journal, self._own_journal), (self._lag_file, self._own_lag)):
                if f is not None:
                    f.flush()
                    if own:
                        f.close()
        return result["clean"]


def _open_out(target):
    """(file, whether we opened it) for a path, an open file or None."""
    if target is None:
        return None, False
    if hasattr(target, "write"):
        return target, False
    return open(target, "a", encoding="utf-8"), True


# -- command line -----------------------------------------------------------------------------


def cmd_consume(args):
    index = SearchIndex(args.db, fsync=not args.no_fsync)

    def assigned(parts):
        print("assigned: %s" % (", ".join(parts) or "(nothing)"), flush=True)

    indexer = Indexer(args.bootstrap, args.group, index, topics=args.topic or TOPICS,
                      journal=args.journal, lag=args.lag, fetch_wait_ms=args.fetch_wait_ms,
                      on_assign=assigned)

    watchdog = []

    def give_up():
        # The loop itself can be stuck in a synchronous commit that waits for an unreachable
        # coordinator; SQLite's last transaction is committed or rolled back, never half done.
        log.warning("still running %.0f s after the signal: exiting (status %d)",
                    args.close_timeout, EXIT_UNCLEAN)
        logging.shutdown()
        os._exit(EXIT_UNCLEAN)

    def on_signal(signum, frame):
        log.info("%s: finishing the batch and leaving the group", signal.Signals(signum).name)
        indexer.stop()
        if not watchdog:
            watchdog.append(threading.Timer(args.close_timeout + 1, give_up))
            watchdog[0].daemon = True
            watchdog[0].start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        clean = indexer.run(stop_after_idle=args.stop_after_idle,
                            close_timeout=args.close_timeout)
    finally:
        index.close()
    log.info("applied %d records in %d batches, %d failed offset commits",
             indexer.applied, indexer.batches, indexer.commit_failures)
    if clean:
        return 0
    # The consumer may still be closing in its thread, inside librdkafka: do not wait for it.
    log.warning("exiting without a clean close (status %d)", EXIT_UNCLEAN)
    logging.shutdown()
    sys.stdout.flush()
    os._exit(EXIT_UNCLEAN)


def cmd_query(args):
    index = SearchIndex(args.db, readonly=True)
    hits = index.search(args.words, limit=args.limit)
    index.close()
    if args.json:
        print(json.dumps(hits))
    else:
        for h in hits:
            print("%s\t%d\t%s\t%s" % (h["kind"], h["id"], h["name"], h["snippet"]))
    return 0


def cmd_dump(args):
    index = SearchIndex(args.db, readonly=True)
    print(json.dumps(index.dump()))
    index.close()
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description="SQLite FTS5 index of the CDC example's change "
                                "topics (examples/cdc-search).")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("consume", help="index the change topics in a consumer group")
    c.add_argument("--bootstrap", required=True)
    c.add_argument("--group", required=True)
    c.add_argument("--db", required=True)
    c.add_argument("--journal", help="append one JSON line per applied record")
    c.add_argument("--lag", help="append commit-to-index lag in microseconds, one a line")
    c.add_argument("--stop-after-idle", type=float, metavar="SECONDS",
                   help="exit when no record came for this long")
    c.add_argument("--topic", action="append", help="a topic to read (default: %s)"
                   % ", ".join(TOPICS))
    c.add_argument("--fetch-wait-ms", type=int, default=10)
    c.add_argument("--close-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long to wait to leave the group at exit (default 10)")
    c.add_argument("--no-fsync", action="store_true",
                   help="SQLite synchronous=NORMAL (a power loss may lose committed batches)")
    c.set_defaults(fn=cmd_consume)
    q = sub.add_parser("query", help="print the best hits for WORDS (all must match)")
    q.add_argument("--db", required=True)
    q.add_argument("--limit", type=int, default=10)
    q.add_argument("--json", action="store_true", help="one JSON list instead of lines")
    q.add_argument("words", nargs="+")
    q.set_defaults(fn=cmd_query)
    d = sub.add_parser("dump", help="print every table as JSON {table: [rows]}")
    d.add_argument("--db", required=True)
    d.set_defaults(fn=cmd_dump)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s search_index %(levelname)s %(message)s")
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
