#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The librdkafka producer of test_idempotent_chaos.py (issue 11), run as a child process with
either Debian's python3 (python3-confluent-kafka 1.7.0, librdkafka 2.0.2) or the venv's
(confluent-kafka 2.16 from PyPI, librdkafka 2.16 in its wheel):

    chaos_producer.py BOOTSTRAP TOPIC COUNT RATE on|off TIMEOUT_S

Produces COUNT records, record i with key "k<i>" and value chaos_value(i), at about RATE records
a second (so that they go out in many small Produce requests rather than a few large ones),
with enable.idempotence on or off, acks=all, max.in.flight 5 and unlimited retries.
Then it waits for every delivery report, for at most TIMEOUT_S seconds from its start, and
prints one JSON object on stdout: the client, how many records were acknowledged, how many
failed and the first errors. librdkafka's own log goes to stderr."""

import json
import sys
import time

from confluent_kafka import Producer, libversion, version


def chaos_value(i):
    """Record i's value: its number first, padded to 100 bytes (the test parses the number)."""
    return ("%08d-" % i).encode() + b"x" * 91


def main(argv):
    bootstrap, topic, count, rate, idem, timeout_s = argv[1:7]
    count, rate, timeout_s = int(count), float(rate), float(timeout_s)
    t0 = time.monotonic()
    deadline = t0 + timeout_s
    conf = {"bootstrap.servers": bootstrap, "client.id": "runnel-chaos-librdkafka",
            "enable.idempotence": idem == "on", "acks": "all",
            # librdkafka's default is a million; five is what Java and idempotence use.
            "max.in.flight.requests.per.connection": 5,
            # Not idempotence's settings, but librdkafka doubles its reconnect backoff at each
            # reconnection, up to 10 s, and starts again from 100 ms only after 10 s without
            # one: with a cut every second or so it would spend the run waiting.
            "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200}
    if idem == "off":
        # Retry "forever", as librdkafka 2.x does by default (older versions retried twice).
        conf["retries"] = 2147483647
    p = Producer(conf)
    acked, failed, errors = [0], [0], []

    def report(err, msg):
        if err is None:
            acked[0] += 1
        else:
            failed[0] += 1
            if len(errors) < 10:
                errors.append(str(err))

    for i in range(count):
        target = t0 + i / rate
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            if now < target:
                p.poll(min(target - now, 0.05))
                continue
            try:
                p.produce(topic, key=b"k%d" % i, value=chaos_value(i), on_delivery=report)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
        if time.monotonic() >= deadline:
            break
    left = p.flush(max(0.0, deadline - time.monotonic()))
    # version() is (string, int) in 1.7 and a string in 2.x; libversion() is (string, int).
    ck = version()
    ck = ck[0] if isinstance(ck, tuple) else ck
    print(json.dumps({"client": "confluent-kafka %s, librdkafka %s" % (ck, libversion()[0]),
                      "acked": acked[0], "failed": failed[0], "unacked": left, "errors": errors,
                      "seconds": round(time.monotonic() - t0, 2)}))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
