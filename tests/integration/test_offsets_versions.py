#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""OffsetCommit v9-v10 and OffsetFetch v9-v10 (KIP-848's versions) for classic groups, asked of
Runnel and of Apache Kafka 4.4 (kafka_oracle.py) in the same run with the same raw requests
(kafka_wire.py). Every answer must be the one written down here, from both brokers: a Kafka
answer that differs means the expectation is wrong (and the test says so), a Runnel answer
that differs is a Runnel bug.

What the versions mean for a classic group, as Kafka 4.4 answered when asked:
- OffsetCommit v9+ reads its generation as "generation or member epoch"; for a group that does
  not exist, a generation >= 0 is GROUP_ID_NOT_FOUND where v8 answers ILLEGAL_GENERATION. A
  standalone commit (generation -1, with or without a member id) makes the group; a group with
  offsets only has no members, so a generation for it is UNKNOWN_MEMBER_ID at every version.
- OffsetFetch v9's member id and epoch change nothing for a classic group or a group that does
  not exist (they are checked for KIP-848 consumer groups only).
- v10 names topics by id in requests and responses. An id no topic has (the zero id too) is
  UNKNOWN_TOPIC_ID for each of its partitions whatever the group's verdict; a fetch answers it
  with offset -1, leader epoch -1 and metadata "". A fetch of every topic names them by id.

What legitimately differs is normalised: topic ids (each broker makes its own; answers name the
test's topic "T"), and the order of topics and partitions in a response (Kafka lists a fetch's
unknown ids last, and merges a commit's topic named twice; clients read answers by topic and
partition)."""

import time
import unittest

from harness import Broker, KafkaSocket
from kafka_oracle import KafkaBroker
import kafka_wire as w

TOPIC = "offsets-versions"
PARTITIONS = 2
UNKNOWN_ID = bytes.fromhex("0123456789abcdef0123456789abcdef")
ZERO_ID = bytes(16)
READY_TIMEOUT = 30.0
# Errors a coordinator answers while it loads or moves; the fixtures retry past them.
NOT_READY = {w.NOT_COORDINATOR, w.COORDINATOR_NOT_AVAILABLE, w.COORDINATOR_LOAD_IN_PROGRESS}

NONE = "NONE"


def name(code):
    return w.error_name(code) if code else NONE


class Side:
    """One broker, asked with raw requests on a new connection each."""

    def __init__(self, label, port):
        self.label = label
        self.port = port
        self.corr = 0
        self.topic_id = None

    def call(self, api, version, body, flexible):
        self.corr += 1
        with KafkaSocket(self.port) as s:
            s.send_request(api, version, self.corr, body=body, flexible=flexible)
            corr, r = s.recv_response()
            if corr != self.corr:
                raise AssertionError("%s: correlation id %d, sent %d" % (self.label, corr,
                                                                          self.corr))
            if flexible:
                r.skip_tags()
            return r

    def topic_key(self, version, topic, first_id_version):
        """The test's topic by name, or from `first_id_version` by this broker's id; other
        topics (ids the test made up) go as they are."""
        if topic == TOPIC and version >= first_id_version:
            return self.topic_id
        return topic

    def label_of(self, topic):
        if topic == self.topic_id:
            return "T"
        if topic == UNKNOWN_ID:
            return "UNKNOWN_ID"
        if topic == ZERO_ID:
            return "ZERO_ID"
        return topic.hex() if isinstance(topic, bytes) else topic

    # -- setup ---------------------------------------------------------------------------

    def create_topic(self):
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": "127.0.0.1:%d" % self.port})
        admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])[TOPIC].result(timeout=20)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            md = w.parse_metadata_response(12, self.call(w.METADATA, 12,
                                                         w.metadata_body(12, [TOPIC]), True))
            t = md["topics"].get(TOPIC)
            if t and t["error"] == 0 and len(t["partitions"]) == PARTITIONS:
                self.topic_id = t["topic_id"]
                return
            time.sleep(0.2)
        raise AssertionError("%s: topic %s not in Metadata within %.0f s"
                             % (self.label, TOPIC, READY_TIMEOUT))

    def wait_coordinator(self, group):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            r = self.call(w.FIND_COORDINATOR, 1, w.find_coordinator_v1_body(group), False)
            if w.parse_find_coordinator_v1_response(r)[0] == 0:
                return
            time.sleep(0.2)
        raise AssertionError("%s: no coordinator for %s within %.0f s"
                             % (self.label, group, READY_TIMEOUT))

    def join(self, group):
        """A one-member classic group: JoinGroup v3, SyncGroup v2. Returns (generation,
        member id)."""
        self.wait_coordinator(group)
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            j = w.parse_join_group_v3_response(self.call(
                w.JOIN_GROUP, 3, w.join_group_v3_body(group, session_timeout_ms=120000,
                                                      rebalance_timeout_ms=120000), False))
            if j["error"] not in NOT_READY or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if j["error"]:
            raise AssertionError("%s: JoinGroup: %s" % (self.label, name(j["error"])))
        error, _ = w.parse_sync_group_v2_response(self.call(
            w.SYNC_GROUP, 2, w.sync_group_v2_body(group, j["generation_id"], j["member_id"],
                                                  [(j["member_id"], b"")]), False))
        if error:
            raise AssertionError("%s: SyncGroup: %s" % (self.label, name(error)))
        return j["generation_id"], j["member_id"]

    # -- the questions -------------------------------------------------------------------

    def commit(self, version, group, topics, generation=-1, member_id="", instance=None):
        """OffsetCommit: `topics` is [(topic, [(partition, offset)])]. Returns the sorted
        [(topic label, partition, error name)]."""
        body = w.offset_commit_request_body(
            version, group, [(self.topic_key(version, t, 10), [(p, o, "") for p, o in parts])
                             for t, parts in topics], generation, member_id, instance)
        res = w.parse_offset_commit_response(version, self.call(w.OFFSET_COMMIT, version, body,
                                                                version >= 8))
        return sorted((self.label_of(t), p, name(e)) for (t, p), e in res.items())

    def fetch(self, version, group, topics, member_id=None, member_epoch=-1):
        """OffsetFetch v8+ of one group: `topics` is [(topic, [partition])] or None (every
        offset). Returns (group error name, sorted [(topic label, partition, offset, leader
        epoch, metadata, error name)])."""
        if topics is not None:
            topics = [(self.topic_key(version, t, 10), ps) for t, ps in topics]
        body = w.offset_fetch_groups_body(version, [dict(group_id=group, topics=topics,
                                                         member_id=member_id,
                                                         member_epoch=member_epoch)])
        groups = w.parse_offset_fetch_groups_response(version, self.call(w.OFFSET_FETCH, version,
                                                                         body, True))
        if [g[0] for g in groups] != [group]:
            raise AssertionError("%s: OffsetFetch v%d answered groups %s, asked for %r"
                                 % (self.label, version, [g[0] for g in groups], group))
        _, error, parts = groups[0]
        return name(error), sorted((self.label_of(t), p, d["offset"], d["leader_epoch"],
                                    d["metadata"], name(d["error"]))
                                   for (t, p), d in parts.items())


class OffsetsVersions(unittest.TestCase):
    """One Runnel and one Kafka for the class; each test uses groups of its own."""

    @classmethod
    def setUpClass(cls):
        runnel = Broker().start()
        cls.addClassCleanup(runnel.stop)
        kafka = KafkaBroker().start()
        cls.addClassCleanup(kafka.stop)
        cls.sides = [Side("kafka", kafka.port), Side("runnel", runnel.port)]
        for side in cls.sides:
            side.create_topic()
            side.wait_coordinator("offsets-versions-warmup")

    def same(self, question, ask, want):
        """Asks `ask(side)` of Kafka, then of Runnel; each answer must be `want`."""
        with self.subTest(question):
            for side in self.sides:
                got = ask(side)
                if side.label == "kafka":
                    self.assertEqual(got, want, "%s: Kafka 4.4 answered %s, the test expects "
                                     "%s: the expectation is wrong" % (question, got, want))
                else:
                    self.assertEqual(got, want, "%s: Runnel answered %s, Kafka 4.4 %s"
                                     % (question, got, want))

    def standalone(self, group, partition=0, offset=5):
        for side in self.sides:
            deadline = time.monotonic() + READY_TIMEOUT
            while True:
                got = side.commit(8, group, [(TOPIC, [(partition, offset)])])
                if got[0][2] not in {name(e) for e in NOT_READY} or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            self.assertEqual(got, [(TOPIC, partition, NONE)], "%s: standalone commit to %s"
                             % (side.label, group))

    # -- OffsetCommit ----------------------------------------------------------------------

    def test_commit_to_a_group_that_does_not_exist(self):
        self.standalone("ov-warm")  # the coordinator is ready on both
        for v in (8, 9, 10):
            t = "T" if v >= 10 else TOPIC
            for generation in (-1, 0, 3):
                for member in ("", "m"):
                    group = "ov-none-%d-%d-%s" % (v, generation, member)
                    want = NONE if generation < 0 else (
                        "GROUP_ID_NOT_FOUND" if v >= 9 else "ILLEGAL_GENERATION")
                    self.same("OffsetCommit v%d, group that does not exist, generation %d, "
                              "member %r" % (v, generation, member),
                              lambda s, v=v, g=group, gen=generation, m=member:
                              s.commit(v, g, [(TOPIC, [(0, 1)])], gen, m),
                              [(t, 0, want)])
            # A partition that does not exist says so before the group's verdict.
            self.same("OffsetCommit v%d, partitions 1 and 9 of 2, group that does not exist"
                      % v, lambda s, v=v: s.commit(v, "ov-none-p-%d" % v,
                                                   [(TOPIC, [(9, 1), (1, 1)])], 3, "m"),
                      [(t, 1, "ILLEGAL_GENERATION" if v < 9 else "GROUP_ID_NOT_FOUND"),
                       (t, 9, "UNKNOWN_TOPIC_OR_PARTITION")])

    def test_commit_to_a_group_that_has_only_offsets(self):
        self.standalone("ov-solo")
        for v in (2, 8, 9, 10):
            t = "T" if v >= 10 else TOPIC
            for generation, member, instance, want in (
                    (3, "m", None, "UNKNOWN_MEMBER_ID"), (0, "", None, "UNKNOWN_MEMBER_ID"),
                    (1, "m", "i", "UNKNOWN_MEMBER_ID"), (-1, "m", None, NONE),
                    (-1, "", None, NONE)):
                self.same("OffsetCommit v%d, group with offsets only, generation %d, member %r, "
                          "instance %r" % (v, generation, member, instance),
                          lambda s, v=v, gen=generation, m=member, i=instance:
                          s.commit(v, "ov-solo", [(TOPIC, [(1, 2)])], gen, m, i),
                          [(t, 1, want)])

    def test_commits_of_a_classic_group_member(self):
        members = {side.label: side.join("ov-live") for side in self.sides}
        for v in (8, 9, 10):
            t = "T" if v >= 10 else TOPIC
            for what, pick, want in (
                    ("its generation", lambda gen, m: (gen, m), NONE),
                    ("another generation", lambda gen, m: (gen + 5, m), "ILLEGAL_GENERATION"),
                    ("another member", lambda gen, m: (gen, "bogus"), "UNKNOWN_MEMBER_ID"),
                    ("a standalone commit", lambda gen, m: (-1, ""), "UNKNOWN_MEMBER_ID")):
                def ask(s, v=v, pick=pick):
                    gen, member = pick(*members[s.label])
                    return s.commit(v, "ov-live", [(TOPIC, [(0, 10 + v)])], gen, member)
                self.same("OffsetCommit v%d to a Stable group with %s" % (v, what), ask,
                          [(t, 0, want)])
        # OffsetFetch v9+: the member's id and epoch, right or wrong, change nothing.
        for v in (9, 10):
            t = "T" if v >= 10 else TOPIC
            for what, epoch_delta in (("its generation", 0), ("another epoch", 3)):
                def ask(s, v=v, d=epoch_delta):
                    gen, member = members[s.label]
                    return s.fetch(v, "ov-live", [(TOPIC, [0, 1])], member, gen + d)
                self.same("OffsetFetch v%d with the member's id and %s" % (v, what), ask,
                          (NONE, [(t, 0, 20, -1, "", NONE), (t, 1, -1, -1, "", NONE)]))

    def test_commit_v10_names_topics_by_id(self):
        self.standalone("ov-ids")
        self.same("OffsetCommit v10: the topic's id, partitions 0 and 9; an unknown id; the zero "
                  "id", lambda s: s.commit(10, "ov-ids", [(TOPIC, [(0, 7), (9, 1)]),
                                                          (UNKNOWN_ID, [(0, 1), (5, 1)]),
                                                          (ZERO_ID, [(1, 1)])]),
                  [("T", 0, NONE), ("T", 9, "UNKNOWN_TOPIC_OR_PARTITION"),
                   ("UNKNOWN_ID", 0, "UNKNOWN_TOPIC_ID"), ("UNKNOWN_ID", 5, "UNKNOWN_TOPIC_ID"),
                   ("ZERO_ID", 1, "UNKNOWN_TOPIC_ID")])
        self.same("OffsetCommit v10: an unknown id before the group's verdict",
                  lambda s: s.commit(10, "ov-ids-none", [(UNKNOWN_ID, [(0, 1)]),
                                                         (TOPIC, [(1, 1)])], 2, "m"),
                  [("T", 1, "GROUP_ID_NOT_FOUND"), ("UNKNOWN_ID", 0, "UNKNOWN_TOPIC_ID")])
        # What v10 wrote, by id, every version reads; v8 and v9 by name.
        for v in (8, 9, 10):
            t = "T" if v >= 10 else TOPIC
            self.same("OffsetFetch v%d after a v10 commit" % v,
                      lambda s, v=v: s.fetch(v, "ov-ids", [(TOPIC, [0, 1])]),
                      (NONE, [(t, 0, 7, -1, "", NONE), (t, 1, -1, -1, "", NONE)]))

    # -- OffsetFetch -----------------------------------------------------------------------

    def test_fetch_v10_names_topics_by_id(self):
        self.standalone("ov-fetch", partition=1, offset=9)
        unknown = [("UNKNOWN_ID", 0, -1, -1, "", "UNKNOWN_TOPIC_ID"),
                   ("UNKNOWN_ID", 1, -1, -1, "", "UNKNOWN_TOPIC_ID"),
                   ("ZERO_ID", 0, -1, -1, "", "UNKNOWN_TOPIC_ID")]
        self.same("OffsetFetch v10: the topic's id, an unknown id, the zero id",
                  lambda s: s.fetch(10, "ov-fetch", [(UNKNOWN_ID, [0, 1]), (ZERO_ID, [0]),
                                                     (TOPIC, [0, 1])]),
                  (NONE, sorted([("T", 0, -1, -1, "", NONE), ("T", 1, 9, -1, "", NONE)]
                                + unknown)))
        self.same("OffsetFetch v10: an unknown id of a group that does not exist",
                  lambda s: s.fetch(10, "ov-fetch-none", [(UNKNOWN_ID, [0])]),
                  (NONE, [("UNKNOWN_ID", 0, -1, -1, "", "UNKNOWN_TOPIC_ID")]))
        for v in (8, 9, 10):
            t = "T" if v >= 10 else TOPIC
            self.same("OffsetFetch v%d of every topic" % v,
                      lambda s, v=v: s.fetch(v, "ov-fetch", None),
                      (NONE, [(t, 1, 9, -1, "", NONE)]))
            self.same("OffsetFetch v%d of every topic of a group that does not exist" % v,
                      lambda s, v=v: s.fetch(v, "ov-fetch-none", None), (NONE, []))

    def test_fetch_v9_member_fields_change_nothing_for_classic_groups(self):
        self.standalone("ov-member", partition=0, offset=4)
        for v in (9, 10):
            t = "T" if v >= 10 else TOPIC
            for member_id, epoch in ((None, -1), ("m", 5), ("", -1), (None, 3), ("m", -1)):
                self.same("OffsetFetch v%d, member %r epoch %d, group with offsets"
                          % (v, member_id, epoch),
                          lambda s, v=v, m=member_id, e=epoch:
                          s.fetch(v, "ov-member", [(TOPIC, [0, 1])], m, e),
                          (NONE, [(t, 0, 4, -1, "", NONE), (t, 1, -1, -1, "", NONE)]))
                self.same("OffsetFetch v%d, member %r epoch %d, group that does not exist"
                          % (v, member_id, epoch),
                          lambda s, v=v, m=member_id, e=epoch:
                          s.fetch(v, "ov-member-none", [(TOPIC, [0])], m, e),
                          (NONE, [(t, 0, -1, -1, "", NONE)]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
