#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Offset commits pipelined on one connection take effect in the order they were sent.

Kafka works on one request per connection at a time: its SocketServer mutes a connection from
the moment a request arrives until its response is sent, so a request's effects are in place
before the next request on that connection runs. A client that pipelines OffsetCommit requests
for one group, as librdkafka's commit(asynchronous=True) after every message and kafka-python's
commit_async() do, therefore ends with the offset of the last commit the broker acknowledged,
and an OffsetFetch sent behind a commit on the same connection sees that commit.

- confluent-kafka (librdkafka): a consumer in the group (subscribed: its commits carry the
  generation and member id) and one outside it (assigned: standalone commits) each run ROUNDS
  rounds. A round produces COMMITS messages, consumes them, commits every message's offset + 1
  asynchronously, back to back, and polls until every on_commit has fired. Every commit must be
  reported once, without an error, and the group's committed offset must be the last one, per
  consumer.committed() and per a raw OffsetFetch on a new connection; at the end a fresh
  consumer must see it too.
- raw sockets: RAW_ROUNDS rounds, each writing RAW_COMMITS standalone OffsetCommit requests
  (generation -1, empty member id; v2, v7 and v8) with increasing offsets at once on one
  connection. The responses must come back in order with error 0, and OffsetFetch on the same
  and on a new connection must answer the last offset. Then commit/fetch pairs written at once
  on one connection (PAIR_ROUNDS rounds of PAIRS pairs): each fetch must answer the commit just
  before it.
- kafka-python 2.0.2: commit_async() after every message of a subscribed consumer
  (max_in_flight_requests_per_connection raised so that every commit can be in flight), the
  same checks as for librdkafka.

The order checks note every round that went wrong and the test fails at its end with all of
them, so a failure says how often the order was broken, not only that it was. Anything else (a
commit error from a raw request, a missing callback, a message out of place) fails at once."""

import time
import unittest

import kafka
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic

from harness import BrokerTestCase, KafkaSocket, frame, request_header
from kafka_wire import (OFFSET_COMMIT, OFFSET_FETCH, offset_commit_body, offset_fetch_body,
                        parse_offset_commit_response, parse_offset_fetch_response)

ROUNDS = 50              # client rounds per test
COMMITS = 200            # pipelined commits per client round
RAW_ROUNDS = 100         # raw rounds per version pair
RAW_COMMITS = 300        # pipelined commits per raw round
PAIR_ROUNDS = 10         # raw rounds per version pair of the interleaved test
PAIRS = 200              # commit/fetch pairs per round of the interleaved test
TIME_LIMIT = 45.0        # seconds per test method at most (a bound, not the expected time)
# (OffsetCommit version, OffsetFetch version): kafka-python's, librdkafka 1.7's, the flexible ones.
VERSIONS = ((2, 1), (7, 7), (8, 8))


def create_topic(bootstrap, topic):
    admin = AdminClient({"bootstrap.servers": bootstrap})  # alive until the result is in
    fs = admin.create_topics([NewTopic(topic, 1, 1)], request_timeout=15)
    fs[topic].result(timeout=20)


def commit_frame(version, cid, group, topic, offset):
    return frame(request_header(OFFSET_COMMIT, version, cid, flexible=version >= 8)
                 + offset_commit_body(version, group, topic, 0, offset))


def fetch_frame(version, cid, group, topic):
    return frame(request_header(OFFSET_FETCH, version, cid, flexible=version >= 6)
                 + offset_fetch_body(version, group, topic, [0]))


def read_response(sock, cid, flexible):
    """The next response on `sock`, which must answer correlation id `cid`: a Reader positioned
    after the response header (response header v1, with its tag section, when `flexible`)."""
    got, r = sock.recv_response()
    if got != cid:
        raise AssertionError("response with correlation id %d where %d was due: responses out "
                             "of order" % (got, cid))
    if flexible:
        r.skip_tags()
    return r


def read_commit(sock, version, cid, topic):
    """Reads the response to one single-partition OffsetCommit; returns its error code."""
    errors = parse_offset_commit_response(version, read_response(sock, cid, version >= 8))
    if list(errors) != [(topic, 0)]:
        raise AssertionError("OffsetCommit v%d response (cid %d) answers %s, not [(%r, 0)]"
                             % (version, cid, sorted(errors), topic))
    return errors[(topic, 0)]


def read_fetch(sock, version, cid, topic):
    """Reads the response to one single-partition OffsetFetch; returns the committed offset
    (-1: none) and raises on any error code."""
    error, parts = parse_offset_fetch_response(version, read_response(sock, cid, version >= 6))
    if error != 0 or list(parts) != [(topic, 0)] or parts[(topic, 0)]["error"] != 0:
        raise AssertionError("OffsetFetch v%d response (cid %d): error %d, partitions %s"
                             % (version, cid, error, parts))
    return parts[(topic, 0)]["offset"]


def raw_committed(port, group, topic, version=8):
    """The group's committed offset for partition 0, asked on a new connection."""
    with KafkaSocket(port) as s:
        s.send_raw(fetch_frame(version, 1, group, topic))
        return read_fetch(s, version, 1, topic)


def time_left(deadline, what):
    left = deadline - time.monotonic()
    if left <= 0:
        raise AssertionError("out of time (%.0f s per test) %s" % (TIME_LIMIT, what))
    return left


class ClientRounds:
    """The rounds shared by the client tests. A client adapter provides consume(n, deadline) ->
    [offsets of n new messages], commit_async(offset), serve(seconds) (runs the client's callbacks
    for that long; fails if a message arrives) and committed() (the committed offset as the
    client asks the broker for it)."""

    def __init__(self, test, topic, group):
        self.test = test
        self.topic = topic
        self.group = group
        self.reports = []        # (error or None, committed offset or None), one per callback

    def run(self, client, deadline):
        test = self.test
        producer = Producer({"bootstrap.servers": test.broker.bootstrap, "linger.ms": 5})
        bad = []                 # one line per round that went wrong
        seq = 0
        for rnd in range(ROUNDS):
            for _ in range(COMMITS):
                producer.produce(self.topic, value=b"m%06d" % seq, partition=0)
                seq += 1
            left = producer.flush(time_left(deadline, "producing round %d" % rnd))
            test.assertEqual(left, 0, "round %d: %d messages not delivered" % (rnd, left))
            offsets = client.consume(COMMITS, deadline)
            test.assertEqual(offsets, list(range(rnd * COMMITS, (rnd + 1) * COMMITS)),
                             "round %d: the consumer did not get the round's messages in order"
                             % rnd)
            del self.reports[:]
            wanted = [o + 1 for o in offsets]
            for offset in wanted:
                client.commit_async(offset)
            while len(self.reports) < len(wanted):
                time_left(deadline, "waiting for round %d's commit callbacks (%d of %d)"
                          % (rnd, len(self.reports), len(wanted)))
                client.serve(0.01)
            client.serve(0.05)   # one more turn: no callback may come twice
            test.assertEqual(len(self.reports), len(wanted),
                             "round %d: %d commit callbacks for %d commits"
                             % (rnd, len(self.reports), len(wanted)))
            failed = [(o, e) for e, o in self.reports if e is not None]
            reported = sorted(o for e, o in self.reports if e is None)
            last = wanted[-1]
            own = client.committed()
            raw = raw_committed(test.broker.port, self.group, self.topic)
            if failed:
                bad.append("round %d: %d of %d commits failed, e.g. %s"
                           % (rnd, len(failed), len(wanted), failed[:3]))
            elif reported != wanted:
                bad.append("round %d: the callbacks reported %d offsets from %s to %s, not "
                           "the %d committed (%d..%d)"
                           % (rnd, len(reported), min(reported, default=None),
                              max(reported, default=None), len(wanted), wanted[0], last))
            if own != last or raw != last:
                bad.append("round %d: committed offset %d per the client, %d per OffsetFetch; "
                           "the last of %d pipelined commits (%d..%d) was %d"
                           % (rnd, own, raw, len(wanted), wanted[0], last, last))
        if bad:
            test.fail("%d of %d rounds went wrong:\n%s" % (len(bad), ROUNDS, "\n".join(bad)))
        return wanted[-1]


class ConfluentClient:
    """librdkafka through confluent-kafka: commit(offsets=[...], asynchronous=True) per message,
    on_commit served by poll()."""

    def __init__(self, rounds, bootstrap, subscribe):
        self.rounds = rounds
        self.topic = rounds.topic
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": rounds.group,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "on_commit": self.on_commit,
        })
        if subscribe:
            self.consumer.subscribe([self.topic])
        else:
            self.consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])

    def on_commit(self, err, partitions):
        if err is not None:
            self.rounds.reports.append((str(err), None))
            return
        for tp in partitions:
            if tp.topic != self.topic or tp.partition != 0:
                self.rounds.reports.append(("foreign partition %s" % tp, None))
            elif tp.error is not None:
                self.rounds.reports.append((str(tp.error), tp.offset))
            else:
                self.rounds.reports.append((None, tp.offset))

    def consume(self, n, deadline):
        got = []
        while len(got) < n:
            left = time_left(deadline, "consuming (%d of %d messages)" % (len(got), n))
            for msg in self.consumer.consume(n - len(got), min(left, 1.0)):
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise AssertionError("consumer error: %s" % msg.error())
                got.append(msg.offset())
        return got

    def commit_async(self, offset):
        self.consumer.commit(offsets=[TopicPartition(self.topic, 0, offset)], asynchronous=True)

    def serve(self, seconds):
        msg = self.consumer.poll(seconds)
        if msg is not None and not msg.error():
            raise AssertionError("unexpected message at offset %d while waiting for commits"
                                 % msg.offset())

    def committed(self):
        return self.consumer.committed([TopicPartition(self.topic, 0)], timeout=10)[0].offset

    def close(self):
        self.consumer.close()


class KafkaPythonClient:
    """kafka-python 2.0.2: commit_async() per message, callbacks run by poll()."""

    def __init__(self, rounds, bootstrap):
        self.rounds = rounds
        self.topic = rounds.topic
        # kafka-python fails a request at once (NodeNotReadyError) when its connection already
        # has max_in_flight_requests_per_connection (5) requests outstanding: raised here so that
        # every commit of a round is in flight at the same time, as with librdkafka.
        self.consumer = kafka.KafkaConsumer(
            bootstrap_servers=bootstrap, group_id=rounds.group, client_id="runnel-it-commit-order",
            enable_auto_commit=False, auto_offset_reset="earliest",
            max_in_flight_requests_per_connection=COMMITS + 100, request_timeout_ms=30000,
            api_version_auto_timeout_ms=10000)
        self.consumer.subscribe([self.topic])
        # The same group, never subscribed: its committed() sends OffsetFetch every time.
        self.observer = kafka.KafkaConsumer(
            bootstrap_servers=bootstrap, group_id=rounds.group,
            client_id="runnel-it-commit-order-observer", enable_auto_commit=False,
            request_timeout_ms=30000, api_version_auto_timeout_ms=10000)

    def on_commit(self, offsets, result):
        if isinstance(result, Exception):
            self.rounds.reports.append(("%s: %s" % (type(result).__name__, result), None))
            return
        for tp, om in offsets.items():
            if tp.topic != self.topic or tp.partition != 0:
                self.rounds.reports.append(("foreign partition %s" % (tp,), None))
            else:
                self.rounds.reports.append((None, om.offset))

    def consume(self, n, deadline):
        got = []
        while len(got) < n:
            left = time_left(deadline, "consuming (%d of %d messages)" % (len(got), n))
            recs = self.consumer.poll(timeout_ms=int(min(left, 1.0) * 1000),
                                      max_records=n - len(got))
            for msgs in recs.values():
                got.extend(m.offset for m in msgs)
        return got

    def commit_async(self, offset):
        self.consumer.commit_async(
            {kafka.TopicPartition(self.topic, 0): kafka.OffsetAndMetadata(offset, "")},
            callback=self.on_commit)

    def serve(self, seconds):
        recs = self.consumer.poll(timeout_ms=int(seconds * 1000))
        if any(recs.values()):
            raise AssertionError("unexpected messages while waiting for commits: %s" % recs)

    def committed(self):
        # Asked of the observer: for a partition assigned to it, committed() would answer the
        # consumer's own record of its acknowledged commits, not the broker's.
        got = self.observer.committed(kafka.TopicPartition(self.topic, 0))
        return -1 if got is None else got

    def close(self):
        self.observer.close(autocommit=False)
        self.consumer.close(autocommit=False)


class ConfluentAsyncCommits(BrokerTestCase):

    def run_client(self, subscribe):
        deadline = time.monotonic() + TIME_LIMIT
        topic = group = "commit-order-confluent-%s" % ("subscribed" if subscribe else "assigned")
        create_topic(self.broker.bootstrap, topic)
        rounds = ClientRounds(self, topic, group)
        client = ConfluentClient(rounds, self.broker.bootstrap, subscribe)
        try:
            last = rounds.run(client, deadline)
        finally:
            client.close()
        fresh = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": group,
                          "enable.auto.commit": False})
        try:
            got = fresh.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
        finally:
            fresh.close()
        self.assertEqual(got, last, "a fresh consumer of group %s sees committed offset %d; the "
                         "last commit acknowledged was %d" % (group, got, last))

    def test_subscribed_consumer_keeps_the_last_async_commit(self):
        self.run_client(subscribe=True)

    def test_assigned_consumer_keeps_the_last_async_commit(self):
        self.run_client(subscribe=False)


class KafkaPythonAsyncCommits(BrokerTestCase):

    def test_commit_async_keeps_the_last_commit(self):
        deadline = time.monotonic() + TIME_LIMIT
        topic = group = "commit-order-kafka-python"
        create_topic(self.broker.bootstrap, topic)
        rounds = ClientRounds(self, topic, group)
        client = KafkaPythonClient(rounds, self.broker.bootstrap)
        try:
            last = rounds.run(client, deadline)
        finally:
            client.close()
        got = raw_committed(self.broker.port, group, topic, version=1)
        self.assertEqual(got, last, "OffsetFetch v1 on a new connection after the consumer closed "
                         "answers %d; the last commit acknowledged was %d" % (got, last))


class RawPipelinedCommits(BrokerTestCase):
    """Standalone commits (generation -1, empty member id) written at once on one connection."""

    topic = "commit-order-raw"

    def setUp(self):
        super().setUp()
        create_topic(self.broker.bootstrap, self.topic)

    def test_pipelined_commits_keep_the_last(self):
        deadline = time.monotonic() + TIME_LIMIT
        bad = []
        for cv, fv in VERSIONS:
            group = "commit-order-raw-v%d" % cv
            with KafkaSocket(self.broker.port) as s:
                cid = 0
                for rnd in range(RAW_ROUNDS):
                    time_left(deadline, "in round %d of OffsetCommit v%d" % (rnd, cv))
                    offsets = [rnd * RAW_COMMITS + i + 1 for i in range(RAW_COMMITS)]
                    first = cid
                    s.send_raw(b"".join(commit_frame(cv, first + i, group, self.topic, o)
                                        for i, o in enumerate(offsets)))
                    errors = [read_commit(s, cv, first + i, self.topic)
                              for i in range(len(offsets))]
                    cid = first + len(offsets)
                    failed = [(o, e) for o, e in zip(offsets, errors) if e != 0]
                    self.assertEqual(failed[:5], [], "OffsetCommit v%d round %d: %d of %d "
                                     "commits failed, (offset, error) e.g."
                                     % (cv, rnd, len(failed), len(offsets)))
                    s.send_raw(fetch_frame(fv, cid, group, self.topic))
                    same = read_fetch(s, fv, cid, self.topic)
                    cid += 1
                    other = raw_committed(self.broker.port, group, self.topic, fv)
                    last = offsets[-1]
                    if same != last or other != last:
                        bad.append("OffsetCommit v%d round %d: OffsetFetch v%d answers %d on the "
                                   "same connection, %d on a new one; the last of %d pipelined "
                                   "commits (%d..%d), all acknowledged, was %d"
                                   % (cv, rnd, fv, same, other, len(offsets), offsets[0], last,
                                      last))
        if bad:
            self.fail("%d of %d rounds went wrong:\n%s"
                      % (len(bad), RAW_ROUNDS * len(VERSIONS), "\n".join(bad)))

    def test_fetch_behind_a_pipelined_commit_sees_it(self):
        deadline = time.monotonic() + TIME_LIMIT
        bad = []
        for cv, fv in VERSIONS:
            group = "commit-order-raw-pairs-v%d" % cv
            with KafkaSocket(self.broker.port) as s:
                cid = 0
                for rnd in range(PAIR_ROUNDS):
                    time_left(deadline, "in round %d of OffsetCommit v%d" % (rnd, cv))
                    offsets = [rnd * PAIRS + i + 1 for i in range(PAIRS)]
                    first = cid
                    s.send_raw(b"".join(commit_frame(cv, first + 2 * i, group, self.topic, o)
                                        + fetch_frame(fv, first + 2 * i + 1, group, self.topic)
                                        for i, o in enumerate(offsets)))
                    seen = []
                    for i, o in enumerate(offsets):
                        error = read_commit(s, cv, first + 2 * i, self.topic)
                        self.assertEqual(error, 0, "OffsetCommit v%d of offset %d: error %d"
                                         % (cv, o, error))
                        seen.append(read_fetch(s, fv, first + 2 * i + 1, self.topic))
                    cid = first + 2 * len(offsets)
                    wrong = [(o, got) for o, got in zip(offsets, seen) if got != o]
                    if wrong:
                        bad.append("OffsetCommit v%d / OffsetFetch v%d round %d: %d of %d fetches "
                                   "did not answer the commit just before them, (committed, "
                                   "fetched) e.g. %s" % (cv, fv, rnd, len(wrong), len(offsets),
                                                         wrong[:4]))
        if bad:
            self.fail("%d of %d rounds went wrong:\n%s"
                      % (len(bad), PAIR_ROUNDS * len(VERSIONS), "\n".join(bad)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
