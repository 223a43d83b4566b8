#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Transactions with confluent-kafka (librdkafka) against Runnel or, with
RUNNEL_TEST_BROKER=kafka, Apache Kafka 4.4 (issue 11): the scenarios of txn_common.py, a to e.

Runs with whichever confluent-kafka the interpreter has: meson runs it with the venv's (PyPI
2.16, librdkafka 2.16) as txn_confluent and with Debian's python3 (1.7.0, librdkafka 2.0.2) as
txn_confluent_debian. The client runs in this process; scenario e kills the broker from the main
thread while a producer thread is inside commit_transaction().

librdkafka's transactional producer is idempotent (it sets enable.idempotence itself) and
reports the fencing as a fatal error, _FENCED, on the send or the commit that meets it."""

import sys
import threading
import time
import unittest

import txn_common as tc

from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaException,  # noqa: E402
                             Producer, TopicPartition, libversion, version)
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TIMEOUT = 30          # seconds, for one blocking call of the client
POLL_S = 0.2
# version() is a (text, number) pair in 1.x and the text alone in 2.x.
CLIENT = "confluent-kafka %s (librdkafka %s)" % (
    version() if isinstance(version(), str) else version()[0], libversion()[0])


def err_text(err):
    """A KafkaError as "NAME (code) fatal: text"."""
    return "%s (%d)%s: %s" % (err.name(), err.code(), " fatal" if err.fatal() else "", err.str())


def exc_text(e):
    if isinstance(e, KafkaException) and e.args:
        return err_text(e.args[0])
    return "%s: %s" % (type(e).__name__, e)


def create_topics(bootstrap, topics):
    """topics: {name: partitions}; returns once each partition has a leader that answers
    (Kafka leads a new partition a moment after CreateTopics answers)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([NewTopic(t, n, 1) for t, n in topics.items()],
                             request_timeout=TIMEOUT)
    for f in fs.values():
        f.result(timeout=TIMEOUT)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "txn-unused"})
    try:
        for t, n in topics.items():
            for p in range(n):
                deadline = time.monotonic() + TIMEOUT
                while True:
                    try:
                        c.get_watermark_offsets(TopicPartition(t, p), timeout=5)
                        break
                    except KafkaException:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.1)
    finally:
        c.close()


def txn_producer(bootstrap, txn_id, **extra):
    conf = {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5}
    conf.update(extra)
    p = Producer(conf)
    p.init_transactions(TIMEOUT)
    return p


class Acks:
    """Delivery reports of one producer: acknowledged values and the first error."""

    def __init__(self):
        self.acked, self._errors = [], []

    def __call__(self, err, msg):
        # Only keep them here: confluent-kafka may call this with a fatal error's exception
        # already set (flush() about to raise it), where a call into the error fails.
        if err is not None:
            self._errors.append(err)
        else:
            self.acked.append(msg.value())

    @property
    def errors(self):
        return [err_text(e) for e in self._errors]

    @property
    def values(self):
        return [v.decode() for v in self.acked]


def send(producer, topic, partition, value, acks):
    producer.produce(topic, value=value.encode(), partition=partition, on_delivery=acks)
    producer.poll(0)


def read_until_sentinel(bootstrap, topic, partitions, isolation):
    """Every value of each partition from the beginning up to and with the sentinel:
    {partition: [values]}; raises if a partition has no sentinel within WAIT_S."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "txn-reader-unused",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "isolation.level": isolation})
    got = {str(p): [] for p in range(partitions)}
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        done = set()
        deadline = time.monotonic() + tc.WAIT_S
        while len(done) < partitions:
            if time.monotonic() > deadline:
                raise AssertionError("%s (%s): no sentinel within %.0f s in partitions %s; "
                                     "read %s" % (topic, isolation, tc.WAIT_S,
                                                  sorted(set(got) - done),
                                                  {p: len(v) for p, v in got.items()}))
            msg = c.poll(POLL_S)
            if msg is None:
                continue
            if msg.error():
                raise KafkaException(msg.error())
            value = msg.value().decode()
            got[str(msg.partition())].append(value)
            if value == tc.SENTINEL:
                done.add(str(msg.partition()))
    finally:
        c.close()
    return got


def commit_sentinel(producer, topic, partitions):
    producer.begin_transaction()
    acks = Acks()
    for p in range(partitions):
        send(producer, topic, p, tc.SENTINEL, acks)
    producer.commit_transaction(TIMEOUT)
    if acks.errors:
        raise AssertionError("sentinel: %s" % acks.errors[0])


class ConfluentTxn(tc.TxnCase):
    client = CLIENT
    prefix = "ck"
    fenced_pattern = r"_FENCED|PRODUCER_FENCED|INVALID_PRODUCER_EPOCH"

    # -- a ---------------------------------------------------------------------------------

    def run_interleaved(self, bootstrap, s):
        topic, n = s["a_topic"], s["a_partitions"]
        create_topics(bootstrap, {topic: n})
        p = txn_producer(bootstrap, s["a_txn_id"])
        outcomes = []
        for t in range(s["a_txns"]):
            acks = Acks()
            p.begin_transaction()
            for m in range(s["a_msgs"]):
                send(p, topic, m % n, tc.a_value(t, m), acks)
            if tc.a_aborted(t):
                p.flush(TIMEOUT)    # written, so that read_uncommitted has them to see
                p.abort_transaction(TIMEOUT)
                outcomes.append("abort")
            else:
                p.commit_transaction(TIMEOUT)
                outcomes.append("commit")
            if acks.errors or len(acks.acked) != s["a_msgs"]:
                raise AssertionError("transaction %d: %d acknowledged, errors %s"
                                     % (t, len(acks.acked), acks.errors[:3]))
        commit_sentinel(p, topic, n)
        return {"outcomes": outcomes,
                "read_committed": read_until_sentinel(bootstrap, topic, n, "read_committed"),
                "read_uncommitted": read_until_sentinel(bootstrap, topic, n,
                                                        "read_uncommitted")}

    # -- b ---------------------------------------------------------------------------------

    def ctp_consumer(self, bootstrap, s):
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": s["b_group"],
                      "enable.auto.commit": False, "auto.offset.reset": "earliest",
                      "isolation.level": "read_committed", "session.timeout.ms": 10000,
                      "heartbeat.interval.ms": 500})
        c.subscribe([s["b_in_topic"]])
        return c

    def ctp_txn(self, producer, consumer, s, batch, commit):
        """One transaction: the transformed records of `batch` and its offsets."""
        acks = Acks()
        producer.begin_transaction()
        ends = {}
        for msg in batch:
            send(producer, s["b_out_topic"], msg.partition(),
                 tc.b_transform(msg.value().decode()), acks)
            ends[msg.partition()] = msg.offset() + 1
        producer.send_offsets_to_transaction(
            [TopicPartition(s["b_in_topic"], p, o) for p, o in sorted(ends.items())],
            consumer.consumer_group_metadata(), TIMEOUT)
        if commit:
            producer.commit_transaction(TIMEOUT)
        else:
            producer.flush(TIMEOUT)
            producer.abort_transaction(TIMEOUT)
        if acks.errors:
            raise AssertionError("transformed records: %s" % acks.errors[0])
        return [msg.value().decode() for msg in batch]

    def poll(self, consumer, deadline, what):
        if time.monotonic() > deadline:
            raise AssertionError("%s: nothing more within %.0f s" % (what, tc.WAIT_S))
        msg = consumer.poll(POLL_S)
        if msg is not None and msg.error():
            raise KafkaException(msg.error())
        return msg

    def run_consume_transform_produce(self, bootstrap, s):
        n, size = s["b_partitions"], s["b_txn_size"]
        create_topics(bootstrap, {s["b_in_topic"]: n, s["b_out_topic"]: n})
        plain = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        for i in range(s["b_inputs"]):
            plain.produce(s["b_in_topic"], value=tc.b_input(i).encode(), partition=i % n)
        if plain.flush(TIMEOUT):
            raise AssertionError("input records not delivered")
        obs = {"run1_committed": [], "run1_aborted": [], "run2": [], "run2_first": {}}
        # Run 1: B_RUN1_TXNS transactions of B_TXN_SIZE records committed, one more aborted.
        consumer = self.ctp_consumer(bootstrap, s)
        producer = txn_producer(bootstrap, s["b_txn_id"])
        buffered, txns = [], 0
        deadline = time.monotonic() + tc.WAIT_S
        while txns <= s["b_run1_txns"]:
            msg = self.poll(consumer, deadline, "run 1")
            if msg is None:
                continue
            buffered.append(msg)
            if len(buffered) == size:
                commit = txns < s["b_run1_txns"]
                done = self.ctp_txn(producer, consumer, s, buffered, commit)
                obs["run1_committed" if commit else "run1_aborted"] += done
                buffered, txns = [], txns + 1
        consumer.close()
        del producer
        # Run 2: from the committed offsets to the end of every partition.
        ends = {p: sum(1 for i in range(s["b_inputs"]) if i % n == p) for p in range(n)}
        consumer = self.ctp_consumer(bootstrap, s)
        producer = txn_producer(bootstrap, s["b_txn_id"])
        positions = {}
        deadline = time.monotonic() + tc.WAIT_S
        while any(positions.get(p, -1) < ends[p] for p in range(n)):
            batch = consumer.consume(size, POLL_S)
            if time.monotonic() > deadline:
                raise AssertionError("run 2: at %s of %s after %.0f s" % (positions, ends,
                                                                         tc.WAIT_S))
            for msg in batch:
                if msg.error():
                    raise KafkaException(msg.error())
                obs["run2_first"].setdefault(str(msg.partition()), msg.offset())
                positions[msg.partition()] = msg.offset() + 1
            if batch:
                obs["run2"] += self.ctp_txn(producer, consumer, s, batch, True)
            # A partition run 1 finished gives run 2 nothing: its position is its end.
            for tp in consumer.committed([TopicPartition(s["b_in_topic"], p)
                                          for p in range(n)], TIMEOUT) if not batch else []:
                if tp.offset >= ends[tp.partition]:
                    positions[tp.partition] = tp.offset
        commit_sentinel(producer, s["b_out_topic"], n)
        committed = consumer.committed([TopicPartition(s["b_in_topic"], p) for p in range(n)],
                                       TIMEOUT)
        obs["committed"] = {str(tp.partition): tp.offset for tp in committed}
        consumer.close()
        obs["output"] = read_until_sentinel(bootstrap, s["b_out_topic"], n, "read_committed")
        return obs

    # -- c ---------------------------------------------------------------------------------

    def run_fencing(self, bootstrap, s):
        topic, n, msgs = s["c_topic"], s["c_partitions"], s["c_msgs"]
        create_topics(bootstrap, {topic: n})
        first = txn_producer(bootstrap, s["c_txn_id"])
        acks = Acks()
        first.begin_transaction()
        for m in range(msgs):
            send(first, topic, m % n, tc.c_value("a1", m), acks)
        first.commit_transaction(TIMEOUT)
        first.begin_transaction()
        open_acks = Acks()
        for m in range(msgs):
            send(first, topic, m % n, tc.c_value("a2", m), open_acks)
        first.flush(TIMEOUT)
        obs = {"a2_acked": open_acks.values}
        if acks.errors or open_acks.errors:
            raise AssertionError("producer 1: %s" % (acks.errors + open_acks.errors)[0])
        second = txn_producer(bootstrap, s["c_txn_id"])
        # Producer 1's next operations: one more record, then the commit.
        try:
            # No delivery callback: confluent-kafka 2.16 calls it with the fatal error's
            # exception already set, which turns it into a SystemError.
            first.produce(topic, value=tc.c_value("a2", msgs).encode(), partition=0)
            try:
                first.flush(TIMEOUT)
            except KafkaException as e:   # 2.x raises the fatal error from flush()
                obs["fence_step"], obs["fence_error"] = "send (flush)", exc_text(e)
            first.commit_transaction(TIMEOUT)
            obs.setdefault("fence_error", "")
            obs.setdefault("fence_step", "commit (which succeeded)")
        except KafkaException as e:
            obs.setdefault("fence_step", "commit")
            obs.setdefault("fence_error", exc_text(e))
        except BufferError as e:    # produce() on a producer in a fatal state
            obs.setdefault("fence_step", "send")
            obs.setdefault("fence_error", exc_text(e))
        second.begin_transaction()
        b_acks = Acks()
        for m in range(msgs):
            send(second, topic, m % n, tc.c_value("b", m), b_acks)
        second.commit_transaction(TIMEOUT)
        commit_sentinel(second, topic, n)
        obs["read_committed"] = read_until_sentinel(bootstrap, topic, n, "read_committed")
        obs["read_uncommitted"] = read_until_sentinel(bootstrap, topic, n, "read_uncommitted")
        return obs

    # -- d ---------------------------------------------------------------------------------

    def run_timeout(self, bootstrap, s):
        topic, n, msgs = s["d_topic"], s["d_partitions"], s["d_msgs"]
        create_topics(bootstrap, {topic: n})
        opened = txn_producer(bootstrap, s["d_open_txn_id"],
                              **{"transaction.timeout.ms": s["d_timeout_ms"]})
        acks = Acks()
        opened.begin_transaction()
        for m in range(msgs):
            send(opened, topic, m % n, tc.d_value("open", m), acks)
        opened.flush(TIMEOUT)
        t_open = time.monotonic()
        obs = {"open_acked": acks.values}
        after = txn_producer(bootstrap, s["d_after_txn_id"])
        after.begin_transaction()
        for m in range(msgs):
            send(after, topic, m % n, tc.d_value("after", m), Acks())
        after.commit_transaction(TIMEOUT)
        commit_sentinel(after, topic, n)
        obs["read_committed"] = read_until_sentinel(bootstrap, topic, n, "read_committed")
        obs["seconds_to_sentinel"] = round(time.monotonic() - t_open, 2)
        obs["read_uncommitted"] = read_until_sentinel(bootstrap, topic, n, "read_uncommitted")
        try:
            opened.commit_transaction(TIMEOUT)
            obs["open_commit_error"] = None
        except KafkaException as e:
            obs["open_commit_error"] = exc_text(e)
        return obs


class ConfluentTxnKill(tc.TxnKillCase):
    client = CLIENT
    prefix = "ck"

    def run_kill(self, broker, s, fraction):
        topic, n = s["e_topic"], s["e_partitions"]
        create_topics(broker.bootstrap, {topic: n})
        producer = txn_producer(broker.bootstrap, s["e_txn_id"])
        produced = {"committed": [], "commit_ms": []}
        committing = threading.Event()

        def produce():
            try:
                for t in range(s["e_kill_txn"] + 1):
                    producer.begin_transaction()
                    acks = Acks()
                    for p in range(n):
                        for m in range(s["e_msgs"]):
                            send(producer, topic, p, tc.e_value(t, p, m), acks)
                    producer.flush(TIMEOUT)
                    if t == s["e_kill_txn"]:
                        produced["kill_delay_ms"] = tc.kill_delay(produced["commit_ms"],
                                                                  fraction) * 1000
                        committing.set()
                    t0 = time.monotonic()
                    producer.commit_transaction(5)
                    produced["commit_ms"].append(round((time.monotonic() - t0) * 1000, 1))
                    produced["committed"].append(t)
            except Exception as e:  # noqa: BLE001 - the commit the kill interrupts
                produced["commit_error"] = exc_text(e)
            finally:
                committing.set()

        thread = threading.Thread(target=produce, name="txn-kill-producer", daemon=True)
        thread.start()
        committing.wait(tc.WAIT_S)
        if thread.is_alive():
            time.sleep(produced.get("kill_delay_ms", 0) / 1000)
            broker.kill9()
            produced["killed"] = True
        t_kill = time.monotonic()
        thread.join(60)
        producer.purge()
        del producer
        steps = {"producer_gave_up": time.monotonic() - t_kill}
        if produced.get("killed"):
            broker.restart()
        steps["restarted"] = time.monotonic() - t_kill
        verified = {}
        try:
            again = txn_producer(broker.bootstrap, s["e_txn_id"])
            steps["init_transactions"] = time.monotonic() - t_kill
            commit_sentinel(again, topic, n)
            steps["sentinel"] = time.monotonic() - t_kill
            verified["read_committed"] = read_until_sentinel(broker.bootstrap, topic, n,
                                                             "read_committed")
            steps["read"] = time.monotonic() - t_kill
        except Exception as e:  # noqa: BLE001
            verified["error"] = exc_text(e)
        produced["steps_s"] = {k: round(v, 2) for k, v in steps.items()}
        return produced, verified


if __name__ == "__main__":
    print(CLIENT, file=sys.stderr)
    unittest.main(verbosity=2)
