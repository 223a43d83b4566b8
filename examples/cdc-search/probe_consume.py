#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Work in progress (issue 13): reads the change topics shop.public.* from BOOTSTRAP in a
# consumer group for SECONDS, printing each event's key, operation and (for rows carrying the
# marker column) the lag from the database commit (source.ts_ms) to arrival here.
# Usage: probe_consume.py BOOTSTRAP GROUP SECONDS
import json
import sys
import time

from confluent_kafka import Consumer

bootstrap, group, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
              "auto.offset.reset": "earliest", "enable.auto.commit": True,
              "fetch.wait.max.ms": 10})
c.subscribe(["^shop\\.public\\..*"])
started_ms = time.time() * 1000
deadline = time.time() + seconds
counts = {}
lags = []
while time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        print("error", m.error())
        continue
    now_ms = time.time() * 1000
    key = m.key().decode() if m.key() else None
    if m.value() is None:
        kind = "tombstone"
        detail = ""
    else:
        v = json.loads(m.value())
        kind = v.get("op")
        row = v.get("after") or v.get("before")
        detail = json.dumps(row)[:90]
        # Only changes committed after this consumer started: older ones are history.
        if kind in ("c", "u", "d") and v["source"]["ts_ms"] >= started_ms:
            lags.append(now_ms - v["source"]["ts_ms"])
    counts[(m.topic(), kind)] = counts.get((m.topic(), kind), 0) + 1
    print("%s[%d]@%d key=%s %s %s" % (m.topic(), m.partition(), m.offset(), key, kind, detail))
c.close()
for k in sorted(counts):
    print("count", k, counts[k])
if lags:
    lags.sort()
    print("lag ms (commit -> here): n=%d p50=%.0f p99=%.0f max=%.0f"
          % (len(lags), lags[len(lags) // 2], lags[int(len(lags) * 0.99)], lags[-1]))
