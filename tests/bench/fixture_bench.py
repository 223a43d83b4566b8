#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Issue 15's figures: Runnel as a test fixture.

- start: from spawning the process to the first Metadata answer on its bootstrap address, for
  `runnel --ephemeral`, librdkafka's mock cluster (runnel-mock, tests/bench/mock.c) and Apache
  Kafka 4.4 (kafka_oracle.KafkaBroker, Kafka's own JVM settings, KRaft formatted first);
- POST /reset with 100 topics (each with a record), a group's offsets and a transactional id;
- POST /snapshots/NAME and /snapshots/NAME/restore of 100 MB of records.
Medians of --runs runs (Kafka: --kafka-runs). Prints one line per figure ("fixture NAME VALUE")
and a table; exit 1 when a Runnel measurement failed.

  fixture_bench.py --runnel BIN [--mock BIN] [--kafka] [--runs N] [--mb 100] [--topics 100]
"""

import argparse
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

TIMEOUT = 60


def metadata_v1_request(corr):
    """Metadata v1 asking for no topic (the cheapest answer that proves the broker serves)."""
    client = b"bench"
    body = struct.pack(">i", 0)  # topics: an empty array
    header = struct.pack(">hhih", 3, 1, corr, len(client)) + client
    msg = header + body
    return struct.pack(">i", len(msg)) + msg


def first_metadata(host, port, deadline):
    """Connects (retrying while refused) and waits for a Metadata answer; True when one came."""
    while time.perf_counter() < deadline:
        try:
            with socket.create_connection((host, port), timeout=5) as s:
                s.sendall(metadata_v1_request(1))
                head = b""
                while len(head) < 8:
                    chunk = s.recv(8 - len(head))
                    if not chunk:
                        raise ConnectionError("closed")
                    head += chunk
                size, corr = struct.unpack(">ii", head)
                return corr == 1 and size > 4
        except OSError:
            time.sleep(0.0005)
    return False


def split(addr):
    host, port = addr.rsplit(":", 1)
    return host, int(port)


def start_runnel(runnel):
    """(ms from spawn to the first Metadata answer, process, announcement)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([runnel, "--ephemeral", "--override", "log.level=warn"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        raise RuntimeError("runnel --ephemeral exited (%s) without an announcement" % proc.poll())
    info = json.loads(line)
    if not first_metadata(*split(info["bootstrap"]), t0 + TIMEOUT):
        raise RuntimeError("no Metadata answer from %s" % info["bootstrap"])
    return (time.perf_counter() - t0) * 1000, proc, info


def stop_runnel(proc):
    proc.stdin.close()
    proc.wait(TIMEOUT)


def start_mock(mock):
    t0 = time.perf_counter()
    proc = subprocess.Popen([mock], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    addr = None
    for line in proc.stderr:
        if "listening on " in line:
            addr = line.split("listening on ", 1)[1].strip()
            break
    if addr is None or not first_metadata(*split(addr), t0 + TIMEOUT):
        proc.kill()
        proc.wait()
        raise RuntimeError("the mock did not answer Metadata")
    ms = (time.perf_counter() - t0) * 1000
    proc.terminate()
    proc.wait(TIMEOUT)
    return ms


def start_kafka():
    from kafka_oracle import KafkaBroker
    t0 = time.perf_counter()
    k = KafkaBroker()
    k.start()
    try:
        if not first_metadata(*split(k.bootstrap), t0 + 120):
            raise RuntimeError("Kafka did not answer Metadata")
        return (time.perf_counter() - t0) * 1000
    finally:
        k.stop()


def post(control, path):
    req = urllib.request.Request(control + path, data=b"", method="POST")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
        answer = json.load(r)
    return (time.perf_counter() - t0) * 1000, answer


def fill_for_reset(bootstrap, topics):
    """`topics` topics of one partition with a record each, a group's commit, a transaction."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = ["reset-%03d" % i for i in range(topics)]
    for f in admin.create_topics([NewTopic(n, 1, 1) for n in names]).values():
        f.result(TIMEOUT)
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for n in names:
        p.produce(n, b"v")
    assert p.flush(TIMEOUT) == 0
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-reset"})
    c.commit(offsets=[TopicPartition(names[0], 0, 1)], asynchronous=False)
    c.close()
    t = Producer({"bootstrap.servers": bootstrap, "transactional.id": "bench-reset"})
    t.init_transactions(TIMEOUT)
    t.begin_transaction()
    t.produce(names[0], b"t")
    t.commit_transaction(TIMEOUT)


def fill_mb(bootstrap, mb):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    # Four partitions: auto-creation would make one (num.partitions), and partition 1 would be
    # unknown to the producer.
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic("snapshot-data", 4, 1)]).values():
        f.result(TIMEOUT)
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1 << 20,
                  "compression.type": "none", "queue.buffering.max.kbytes": 1 << 20})
    value = os.urandom(10 << 10)
    for i in range(mb * 100):  # 100 records of 10 KiB per MB
        while True:
            try:
                p.produce("snapshot-data", value, partition=i % 4)
                break
            except BufferError:
                p.poll(0.05)
    assert p.flush(TIMEOUT * 5) == 0


def median(xs):
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runnel", required=True)
    ap.add_argument("--mock")
    ap.add_argument("--kafka", action="store_true")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--kafka-runs", type=int, default=1)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--topics", type=int, default=100)
    args = ap.parse_args()
    failed = []
    rows = []   # (figure, system, value, unit)

    starts = []
    for _ in range(max(args.runs, 1) * 4):  # start is cheap: more samples
        ms, proc, _info = start_runnel(args.runnel)
        starts.append(ms)
        stop_runnel(proc)
    rows.append(("start to first Metadata answer", "runnel --ephemeral", median(starts), "ms"))
    if args.mock:
        try:
            rows.append(("start to first Metadata answer", "librdkafka mock",
                         median([start_mock(args.mock) for _ in range(max(args.runs, 1) * 4)]),
                         "ms"))
        except Exception as e:  # noqa: BLE001 - a note, not Runnel's failure
            rows.append(("start to first Metadata answer", "librdkafka mock (failed: %s)" % e,
                         None, "ms"))
    if args.kafka:
        try:
            rows.append(("start to first Metadata answer", "Kafka 4.4",
                         median([start_kafka() for _ in range(args.kafka_runs)]), "ms"))
        except Exception as e:  # noqa: BLE001
            rows.append(("start to first Metadata answer", "Kafka 4.4 (failed: %s)" % e, None,
                         "ms"))

    _ms, proc, info = start_runnel(args.runnel)
    try:
        control, bootstrap = info["control"], info["bootstrap"]
        resets, reset_server = [], []
        for _ in range(args.runs):
            fill_for_reset(bootstrap, args.topics)
            ms, answer = post(control, "/reset")
            resets.append(ms)
            reset_server.append(answer.get("ms", ms))
        rows.append(("POST /reset, %d topics (wall)" % args.topics, "runnel", median(resets),
                     "ms"))
        rows.append(("POST /reset, %d topics (broker)" % args.topics, "runnel",
                     median(reset_server), "ms"))
        fill_mb(bootstrap, args.mb)
        snaps, restores = [], []
        for i in range(args.runs):
            ms, _ = post(control, "/snapshots/bench")
            snaps.append(ms)
            ms, _ = post(control, "/snapshots/bench/restore")
            restores.append(ms)
        rows.append(("POST /snapshots/NAME, %d MB" % args.mb, "runnel", median(snaps), "ms"))
        rows.append(("POST /snapshots/NAME/restore, %d MB" % args.mb, "runnel", median(restores),
                     "ms"))
    except (urllib.error.URLError, RuntimeError, AssertionError, KeyError) as e:
        failed.append("control plane: %s" % e)
    finally:
        stop_runnel(proc)

    print("Issue 15, Runnel as a fixture (medians of %d runs; start: %d)"
          % (args.runs, max(args.runs, 1) * 4))
    for figure, system, value, unit in rows:
        shown = "-" if value is None else "%.1f" % value
        print("  %-40s %-28s %10s %s" % (figure, system, shown, unit))
        if value is not None:
            print("fixture %s|%s %.3f" % (figure, system, value))
    for f in failed:
        print("FAILED: %s" % f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
