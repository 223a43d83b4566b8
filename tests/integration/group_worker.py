#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""One group consumer as its own process, for the group tests (not a test itself).

Usage: group_worker.py CLIENT BOOTSTRAP GROUP TOPIC NAME [options]
CLIENT is `confluent` (confluent-kafka-python over librdkafka) or `kafka-python`.

The consumer subscribes to TOPIC in GROUP with auto-commit off and auto.offset.reset earliest,
and reports on stdout, one JSON object a line (flushed at once, so that what a SIGKILLed worker
reported is all in the pipe):

  {"ev": "start", "name": NAME, "pid": PID}
  {"ev": "assign", "parts": [...]}      rebalance callback: partitions assigned (eager: all)
  {"ev": "revoke", "parts": [...]}      rebalance callback: partitions revoked, after their commit
  {"ev": "msg", "p": P, "o": O, "v": VALUE}    one message processed
  {"ev": "commit", "offsets": {"P": NEXT}}     a synchronous commit that succeeded
  {"ev": "commit_failed", "offsets": {...}, "error": "..."}
  {"ev": "error", "error": "..."}          (confluent: also "code", the error's name, and
                                        "rdfatal", librdkafka's fatal flag, as when fenced)
  {"ev": "closed"}                      close() returned (after a final commit)

It commits what it processed synchronously every --commit-ms, in the revoke callback (for the
revoked partitions, while the member still belongs to the generation), and before close(). A
line `close` on stdin (or EOF) makes it commit, close the consumer (LeaveGroup, except for a
static member under librdkafka, KIP-345) and exit 0. It exits by itself after --max-seconds.
"""

import argparse
import json
import logging
import os
import sys
import threading
import time

_out_lock = threading.Lock()


def out(**obj):
    line = json.dumps(obj, separators=(",", ":"))
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def stdin_watcher(stop):
    for line in sys.stdin:
        if line.strip() == "close":
            break
    stop.set()


class Pending:
    """Next offset to commit per partition: processed but not yet committed."""

    def __init__(self):
        self.next = {}

    def processed(self, p, o):
        self.next[p] = o + 1

    def take(self, parts=None):
        return {p: o for p, o in self.next.items() if parts is None or p in parts}

    def committed(self, offsets):
        for p, o in offsets.items():
            if self.next.get(p) == o:
                del self.next[p]

    def drop(self, parts):
        for p in parts:
            self.next.pop(p, None)


def run_confluent(a, stop):
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    conf = {
        "bootstrap.servers": a.bootstrap,
        "group.id": a.group,
        "client.id": a.name,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": a.session_ms,
        "heartbeat.interval.ms": a.heartbeat_ms,
        "socket.timeout.ms": 10000,
        "enable.partition.eof": False,
    }
    if a.instance_id:
        conf["group.instance.id"] = a.instance_id
    pending = Pending()

    def commit(consumer, parts=None):
        offs = pending.take(parts)
        if not offs:
            return
        tps = [TopicPartition(a.topic, p, o) for p, o in sorted(offs.items())]
        try:
            res = consumer.commit(offsets=tps, asynchronous=False)
        except KafkaException as e:
            out(ev="commit_failed", offsets={str(p): o for p, o in offs.items()}, error=str(e))
            return
        ok, bad = {}, {}
        for tp in res or []:
            if tp.error is not None:
                bad[str(tp.partition)] = str(tp.error)
            else:
                ok[tp.partition] = tp.offset
        if ok:
            out(ev="commit", offsets={str(p): o for p, o in ok.items()})
            pending.committed(ok)
        if bad:
            out(ev="commit_failed", offsets={str(p): o for p, o in offs.items()}, error=bad)

    def on_assign(consumer, parts):
        out(ev="assign", parts=sorted(tp.partition for tp in parts))

    def on_revoke(consumer, parts):
        ps = {tp.partition for tp in parts}
        commit(consumer, ps)
        pending.drop(ps)
        out(ev="revoke", parts=sorted(ps))

    def on_lost(consumer, parts):
        ps = {tp.partition for tp in parts}
        pending.drop(ps)
        out(ev="revoke", parts=sorted(ps), lost=True)

    c = Consumer(conf)
    c.subscribe([a.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    deadline = time.monotonic() + a.max_seconds
    last_commit = time.monotonic()
    while not stop.is_set() and time.monotonic() < deadline:
        m = c.poll(0.05)
        if m is not None:
            if m.error():
                err = m.error()
                out(ev="error", error=str(err), code=err.name(), rdfatal=err.fatal())
            else:
                v = m.value()
                out(ev="msg", p=m.partition(), o=m.offset(), v=v.decode() if v is not None else None)
                pending.processed(m.partition(), m.offset())
        if time.monotonic() - last_commit >= a.commit_ms / 1000.0:
            commit(c)
            last_commit = time.monotonic()
    commit(c)
    c.close()
    out(ev="closed")


def run_kafka_python(a, stop):
    from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
    from kafka.errors import KafkaError

    pending = Pending()
    holder = {}

    def commit(parts=None):
        offs = pending.take(parts)
        if not offs:
            return
        try:
            holder["c"].commit({TopicPartition(a.topic, p): OffsetAndMetadata(o, "")
                                for p, o in offs.items()})
        except KafkaError as e:
            out(ev="commit_failed", offsets={str(p): o for p, o in offs.items()},
                error="%s: %s" % (type(e).__name__, e))
            return
        out(ev="commit", offsets={str(p): o for p, o in offs.items()})
        pending.committed(offs)

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            ps = {tp.partition for tp in revoked}
            commit(ps)
            pending.drop(ps)
            out(ev="revoke", parts=sorted(ps))

        def on_partitions_assigned(self, assigned):
            out(ev="assign", parts=sorted(tp.partition for tp in assigned))

    c = KafkaConsumer(bootstrap_servers=a.bootstrap, group_id=a.group, client_id=a.name,
                      enable_auto_commit=False, auto_offset_reset="earliest",
                      session_timeout_ms=a.session_ms, heartbeat_interval_ms=a.heartbeat_ms,
                      request_timeout_ms=max(30000, a.session_ms + 5000))
    holder["c"] = c
    c.subscribe([a.topic], listener=Listener())
    deadline = time.monotonic() + a.max_seconds
    last_commit = time.monotonic()
    while not stop.is_set() and time.monotonic() < deadline:
        recs = c.poll(timeout_ms=50)
        for tp, msgs in sorted(recs.items()):
            for m in msgs:
                v = m.value
                out(ev="msg", p=tp.partition, o=m.offset, v=v.decode() if v is not None else None)
                pending.processed(tp.partition, m.offset)
        if time.monotonic() - last_commit >= a.commit_ms / 1000.0:
            commit()
            last_commit = time.monotonic()
    commit()
    c.close(autocommit=False)
    out(ev="closed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("client", choices=["confluent", "kafka-python"])
    ap.add_argument("bootstrap")
    ap.add_argument("group")
    ap.add_argument("topic")
    ap.add_argument("name")
    ap.add_argument("--session-ms", type=int, default=6000)
    ap.add_argument("--heartbeat-ms", type=int, default=500)
    ap.add_argument("--commit-ms", type=int, default=200)
    ap.add_argument("--instance-id", default=None)
    ap.add_argument("--max-seconds", type=float, default=120)
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    threading.Thread(target=stdin_watcher, args=(stop,), daemon=True).start()
    out(ev="start", name=a.name, pid=os.getpid())
    try:
        if a.client == "confluent":
            run_confluent(a, stop)
        else:
            run_kafka_python(a, stop)
    except Exception as e:  # report, then fail the process
        out(ev="error", error="%s: %s" % (type(e).__name__, e), fatal=True)
        raise


if __name__ == "__main__":
    main()
