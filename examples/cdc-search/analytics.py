#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The CDC example's analytics (issue 13): runs OrderTotals, the Kafka Streams application of
analytics/src/main/java/runnel/cdc/OrderTotals.java, and reads its output back.

scripts/setup compiles OrderTotals into .cache/cdc/analytics-classes against the Kafka Streams
jars of .cache/streams/lib. OrderTotals reads Debezium's change topics shop.public.customers and
shop.public.orders and keeps, in a compacted topic (shop.customer-totals by default), per
customer {"customer_id", "name", "orders", "quantity"}: what

    SELECT c.id, c.name, count(o.id), sum(o.quantity)
    FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name

returns, a tombstone for a customer it does not.

    OrderTotalsApp(bootstrap, app_id, state_dir, log_path).start()   the JVM, in the background
    read_totals(bootstrap, topic, timeout)                              {customer_id: totals}

Run as a script, it runs the app in the foreground until Ctrl-C:

    python3 examples/cdc-search/analytics.py BOOTSTRAP [APP_ID] [STATE_DIR]

Only confluent_kafka (Debian's python3-confluent-kafka) is needed; nothing of tests/.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from pipeline import die_with_parent, java_bin

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
CLASSES = os.path.join(REPO, ".cache", "cdc", "analytics-classes")
STREAMS_LIB = os.path.join(REPO, ".cache", "streams", "lib")
MAIN_CLASS = "runnel.cdc.OrderTotals"
DEFAULT_OUTPUT = "shop.customer-totals"
# C1 only and the serial collector: the example shares a small machine with the broker,
# Connect and PostgreSQL, and a short-lived JVM gains little from C2.
JVM_OPTS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx384m",
            "-Djava.awt.headless=true"]
CLOSE_TIMEOUT = 45   # SIGTERM to exit: OrderTotals' close() takes at most 30 s


def classpath():
    """OrderTotals and the Kafka Streams jars, as scripts/setup built them."""
    if not os.path.isfile(CLASSES + ".complete"):
        raise RuntimeError("%s is not built: run ./scripts/setup" % CLASSES)
    if not os.path.isdir(STREAMS_LIB):
        raise RuntimeError("%s is missing: run ./scripts/setup" % STREAMS_LIB)
    return CLASSES + os.pathsep + os.path.join(STREAMS_LIB, "*")


class OrderTotalsApp:
    """One OrderTotals JVM. Its stdout (STATE, THREAD_REPLACED, FATAL, CLOSED lines) is read by a
    thread and kept; its stderr, Streams' log, is appended to `log_path`. `overrides` are extra
    KEY=VALUE Streams settings."""

    def __init__(self, bootstrap, app_id, state_dir, log_path, output_topic=DEFAULT_OUTPUT,
                 java=None, overrides=()):
        self.cmd = ([java or java_bin()] + JVM_OPTS +
                    ["-cp", classpath(), MAIN_CLASS, bootstrap, app_id, state_dir,
                     output_topic] + list(overrides))
        self.log_path = log_path
        self.proc = None
        self.lines = []
        self.cond = threading.Condition()
        self._log = None
        self._reader = None

    def start(self):
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write("==== %s ====\n" % " ".join(self.cmd))
        self._log = open(self.log_path, "a", encoding="utf-8")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._log, text=True, errors="replace",
                                     preexec_fn=die_with_parent)
        self._reader = threading.Thread(target=self._read, args=(self.proc,),
                                        name="order-totals-stdout", daemon=True)
        self._reader.start()
        return self

    def _read(self, proc):
        for line in proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        proc.stdout.close()

    def output(self):
        """Every stdout line so far."""
        with self.cond:
            return list(self.lines)

    def state(self):
        """The last state Streams reported (RUNNING, REBALANCING, ...), or None."""
        states = [l.split(" ", 1)[1] for l in self.output() if l.startswith("STATE ")]
        return states[-1] if states else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def problem(self):
        """The first FATAL line (the application gave up), else None. THREAD_REPLACED lines are
        not problems: Streams started a new thread and carries on."""
        return next((l for l in self.output() if l.startswith("FATAL")), None)

    def replaced(self):
        """The THREAD_REPLACED lines: stream threads that died and were replaced."""
        return [l for l in self.output() if l.startswith("THREAD_REPLACED")]

    def wait_running(self, timeout):
        """Waits until Streams is RUNNING; False after `timeout` seconds, on a FATAL line, or
        when the JVM exited."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if self.state() == "RUNNING":
                    return True
                if self.problem() or not self.alive():
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.5))

    def stop(self):
        """SIGTERM (Streams closes and commits), then SIGKILL to the same pid after
        CLOSE_TIMEOUT seconds. Returns the exit status, or None when it was never started."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(CLOSE_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._reader is not None:
            self._reader.join(5)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.proc.returncode


def read_totals(bootstrap, topic=DEFAULT_OUTPUT, timeout=30.0):
    """The output topic folded from offset 0, read_committed, to its end: {customer_id:
    {"name", "orders", "quantity"}}, the last value of each key, a tombstone removing it.
    Raises TimeoutError when the end is not reached within `timeout` seconds."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap,
                         "group.id": "order-totals-reader-" + uuid.uuid4().hex[:8],
                         "isolation.level": "read_committed",
                         "enable.auto.commit": False,
                         "enable.partition.eof": True,
                         "fetch.wait.max.ms": 50})
    totals = {}
    try:
        # One partition: OrderTotals creates the topic so.
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("%s not read to its end within %.0f s" % (topic, timeout))
            msg = consumer.poll(min(left, 0.5))
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    return totals
                if msg.error().fatal():
                    raise RuntimeError("reading %s: %s" % (topic, msg.error()))
                continue   # the broker restarting, the topic not there yet: retried
            key = json.loads(msg.key())["id"]
            if msg.value() is None:
                totals.pop(key, None)
                continue
            value = json.loads(msg.value())
            totals[key] = {"name": value["name"], "orders": value["orders"],
                           "quantity": value["quantity"]}
    finally:
        consumer.close()


def main(argv):
    if not 2 <= len(argv) <= 4:
        print("usage: analytics.py BOOTSTRAP [APP_ID] [STATE_DIR]", file=sys.stderr)
        return 2
    bootstrap = argv[1]
    app_id = argv[2] if len(argv) > 2 else "cdc-order-totals"
    state_dir = argv[3] if len(argv) > 3 else os.path.join(tempfile.gettempdir(),
                                                          "cdc-order-totals")
    os.makedirs(state_dir, exist_ok=True)
    log_path = os.path.join(state_dir, "order-totals.log")
    app = OrderTotalsApp(bootstrap, app_id, state_dir, log_path).start()
    print("OrderTotals started; Streams' log: %s" % log_path)
    try:
        while app.alive():
            time.sleep(1)
            print("state %s; %d customers with orders" % (app.state(),
                                                             len(read_totals(bootstrap))))
    except KeyboardInterrupt:
        pass
    finally:
        print("stopped, status %s" % app.stop())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
