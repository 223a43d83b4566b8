# SPDX-License-Identifier: Apache-2.0
"""Shared parts of the tests of today's clients (issue 10); not a test itself.

Each client is tested against Runnel and, in the same run, against Apache Kafka (the oracle,
kafka_oracle.KafkaBroker): a scenario that fails on Kafka is a bug in the test, one that fails
on Runnel alone is a bug in Runnel (or, where a test says so, a missing feature with its issue).

A client's test module defines one class of scenarios (a subclass of Scenarios) that knows how
to run each scenario with that client, and two test classes built from it, one per broker:

    class ConfluentScenarios(clients_common.Scenarios): ...   # run_codecs(), run_group(), ...
    class ConfluentOnRunnel(ConfluentScenarios, clients_common.OnRunnel): pass
    class ConfluentOnKafka(ConfluentScenarios, clients_common.OnKafka): pass

A run_<scenario>(bootstrap, prefix) method does what a user of the client would do and returns
what it saw, as an observation: a dict of plain JSON values (a Go client prints its own as one
JSON object, go_spec() tells it the scenario's data). The checks, here, are the same for every
client and both brokers. An observation with an "error" key failed at that step (the keys before
it are what was seen until then). A feature that a client's API does not offer is named in its
`unsupported` dict, with the reason, and its check is left out (and printed, so that the log
says what was not covered).

Each module starts at most one Runnel and one Kafka (shared_broker()), on ephemeral ports with
temporary directories, when its first class needs them; both are stopped when the module ends.
Topic and group names start with the client's prefix and the scenario's name, so clients
sharing a broker never meet. Both brokers get the same overrides (BROKER_OVERRIDES).
"""

import asyncio
import os
import struct
import sys
import time
import traceback
import unittest

from harness import HOST, Broker
from kafka_oracle import KafkaBroker

# Same settings on both brokers: no delay before the first rebalance of a group (Kafka's 3 s
# default would stall every first join), and no topic created by a Metadata request, so that a
# scenario that forgot to create its topic fails on both.
BROKER_OVERRIDES = ("group.initial.rebalance.delay.ms=0", "auto.create.topics.enable=false")

# Group members in every scenario: a session timeout within Kafka's default bounds (6 s to
# 30 min) and a short heartbeat interval, so that a member learns of a rebalance quickly.
SESSION_TIMEOUT_MS = 10000
HEARTBEAT_INTERVAL_MS = 500
# How long a scenario waits for one thing (a message, an assignment) before it gives up.
WAIT_S = 30.0

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
CODEC_ID = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
CODEC_RECORDS = 20

GROUP_PARTITIONS = 3
GROUP_FIRST = 30           # messages before the first run of the group, i to partition i % 3
GROUP_SECOND = 15          # messages produced between the two runs
REBALANCE_PARTITIONS = 4
ADMIN_PARTITIONS = 2       # at creation; create-partitions takes it to ADMIN_PARTITIONS_AFTER
ADMIN_PARTITIONS_AFTER = 4
TOPIC_CONFIGS = {"retention.ms": "86400000", "max.message.bytes": "2000000"}
ALTERED_RETENTION_MS = "7200000"
DEFAULT_MAX_MESSAGE_BYTES = "1048588"    # Kafka's message.max.bytes default, Runnel's too
OFFSET_RECORDS = 10        # produced to partition 0 of the admin topic with set timestamps
MAX_TS_INDEX = 6           # the record with the largest timestamp (not the last one)
DELETE_BEFORE = 3          # admin: DeleteRecords before this offset
DELETE_RECORDS_N = 10      # delete_records scenario: records produced
DELETE_RECORDS_BEFORE = 4  # and deleted before this offset
DEFAULTS_RECORDS = 10      # producer_defaults / producer_no_idempotence


def codec_record(codec, i):
    """(key, value, headers) of record i of the codec scenario. Values are long and repetitive,
    so that every codec shrinks them (franz-go sends a batch uncompressed otherwise); the header
    key "dup" appears twice, which Kafka allows."""
    value = "%s-%03d-" % (codec, i) + "abcdefghij" * 20
    headers = [["codec", codec], ["seq", str(i)], ["dup", "a"], ["dup", "b"]]
    return "k-%d" % i, value, headers


def group_value(i):
    return "g-%d" % i


def offsets_timestamps(base_ms):
    """Timestamps of the OFFSET_RECORDS records of the admin scenario: one second apart, except
    record MAX_TS_INDEX, which is the newest of all. All lie in the past (Kafka 4 refuses
    timestamps more than an hour ahead by default)."""
    ts = [base_ms + i * 1000 for i in range(OFFSET_RECORDS)]
    ts[MAX_TS_INDEX] = base_ms + 300000
    return ts


def offsets_base_ms():
    return (int(time.time()) - 600) * 1000


def go_spec():
    """Everything the Go program (go-clients/main.go) needs to run any scenario the way the
    Python clients do: the records themselves, the counts and the settings."""
    base_ms = offsets_base_ms()
    records = {}
    for codec in CODECS:
        records[codec] = []
        for i in range(CODEC_RECORDS):
            key, value, headers = codec_record(codec, i)
            records[codec].append({"key": key, "value": value, "headers": headers})
    return {
        "codecs": list(CODECS),
        "codec_records": records,
        "group_partitions": GROUP_PARTITIONS,
        "group_first": [group_value(i) for i in range(GROUP_FIRST)],
        "group_second": [group_value(i) for i in range(GROUP_FIRST, GROUP_FIRST + GROUP_SECOND)],
        "rebalance_partitions": REBALANCE_PARTITIONS,
        "admin_partitions": ADMIN_PARTITIONS,
        "admin_partitions_after": ADMIN_PARTITIONS_AFTER,
        "topic_configs": TOPIC_CONFIGS,
        "altered_retention_ms": ALTERED_RETENTION_MS,
        "base_ms": base_ms,
        "timestamps": offsets_timestamps(base_ms),
        "by_timestamp": base_ms + 3500,
        "delete_before": DELETE_BEFORE,
        "delete_records_values": ["d-%d" % i for i in range(DELETE_RECORDS_N)],
        "delete_records_before": DELETE_RECORDS_BEFORE,
        "defaults_values": ["v-%d" % i for i in range(DEFAULTS_RECORDS)],
        "session_timeout_ms": SESSION_TIMEOUT_MS,
        "heartbeat_interval_ms": HEARTBEAT_INTERVAL_MS,
        "wait_s": WAIT_S,
    }


SETTLE_S = 10.0


def settle(fetch, done, timeout=SETTLE_S):
    """fetch() again every 100 ms until done(value) holds or `timeout` passes; returns the last
    value (the check then says what is wrong). Kafka applies topic changes through its metadata
    log, so for a moment after acknowledging one, the broker may still describe the old state;
    a user waits the same way. Runnel answers with the new state at once."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.1)
        value = fetch()
    return value


async def settle_async(fetch, done, timeout=SETTLE_S):
    """settle() for a coroutine function `fetch`."""
    deadline = time.monotonic() + timeout
    value = await fetch()
    while not done(value) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        value = await fetch()
    return value


def created(configs):
    return configs.get("retention.ms") == TOPIC_CONFIGS["retention.ms"]


def altered(configs):
    return configs.get("retention.ms") == ALTERED_RETENTION_MS


def error_text(exc):
    return "%s: %s" % (type(exc).__name__, exc)


# -- brokers -------------------------------------------------------------------------------

_brokers = {}


def shared_broker(kind):
    """The module's broker of `kind` ("runnel" or "kafka"), started on first use and stopped
    when the module's tests are done (a module cleanup). Call from the main thread."""
    if kind not in _brokers:
        if kind == "runnel":
            broker = Broker(overrides=BROKER_OVERRIDES)
        elif kind == "kafka":
            broker = KafkaBroker(overrides=BROKER_OVERRIDES)
        else:
            raise ValueError(kind)
        t0 = time.monotonic()
        broker.start()
        print("%s started on %s in %.1f s" % (kind, broker_bootstrap(broker),
                                             time.monotonic() - t0), file=sys.stderr)
        _brokers[kind] = broker
        unittest.addModuleCleanup(_stop_broker, kind)
    return _brokers[kind]


def _stop_broker(kind):
    broker = _brokers.pop(kind, None)
    if broker is not None:
        broker.stop()


def broker_bootstrap(broker):
    return "%s:%d" % (HOST, broker.port)


# -- reading a partition's log from disk ---------------------------------------------------

def batch_codecs(data_dir, topic, partition=0):
    """The codec ids of the record batches in one partition's .log segments (Kafka's layout,
    which Runnel shares: <log dir>/<topic>-<partition>/<base offset>.log; a v2 batch is
    base_offset(8) batch_length(4) partition_leader_epoch(4) magic(1) crc(4) attributes(2),
    codec in the 3 low bits of attributes). Reads only complete batches."""
    d = os.path.join(data_dir, "%s-%d" % (topic, partition))
    codecs = []
    for name in sorted(os.listdir(d)):
        if not name.endswith(".log"):
            continue
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()
        pos = 0
        while pos + 23 <= len(data):
            (length,) = struct.unpack_from(">i", data, pos + 8)
            if length <= 0 or pos + 12 + length > len(data):
                break
            magic = data[pos + 16]
            if magic != 2:
                raise AssertionError("%s: magic %d at byte %d, expected 2" % (name, magic, pos))
            (attributes,) = struct.unpack_from(">h", data, pos + 21)
            codecs.append(attributes & 7)
            pos += 12 + length
    return codecs


# -- the test classes ----------------------------------------------------------------------

class Scenarios:
    """The scenarios, for one client; mixed into a unittest.TestCase with OnRunnel or OnKafka.

    Subclasses set `client` (name and version, for messages), `prefix` (of topic and group
    names), `unsupported` ({check: why}) and implement run_<scenario>(bootstrap, prefix). A
    scenario runs once per class: two test methods asking for the same one share its result."""

    client = None
    prefix = None
    unsupported = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = shared_broker(cls.broker_kind)
        cls.bootstrap = broker_bootstrap(cls.broker)
        cls._results = {}

    def scenario(self, name):
        if name not in self._results:
            prefix = "%s-%s" % (self.prefix, name.replace("_", "-"))
            t0 = time.monotonic()
            try:
                obs = getattr(self, "run_" + name)(self.bootstrap, prefix)
            except Exception as e:  # noqa: BLE001 - any failure of the client is the result
                obs = {"error": error_text(e), "trace": traceback.format_exc()}
            obs["seconds"] = round(time.monotonic() - t0, 2)
            obs["prefix"] = prefix
            print("%s on %s, %s: %.2f s" % (self.client, self.broker_kind, name, obs["seconds"]),
                  file=sys.stderr)
            self._results[name] = obs
        return self._results[name]

    def where(self, what):
        return "%s on %s, %s" % (self.client, self.broker_kind, what)

    def offered(self, check):
        """False (and a line in the log) when the client's API does not offer `check`."""
        if check in self.unsupported:
            print("%s: not offered by the client's API: %s (%s)"
                  % (self.client, check, self.unsupported[check]), file=sys.stderr)
            return False
        return True

    def assert_no_error(self, obs, what):
        if "error" in obs:
            seen = {k: v for k, v in obs.items() if k not in ("error", "trace")}
            self.fail("%s failed: %s\nseen until then: %s\n%s"
                      % (self.where(what), obs["error"], seen, obs.get("trace", "")))

    # -- produce and consume with every codec, with headers --------------------------------

    def test_codecs_and_headers(self):
        obs = self.scenario("codecs")
        self.assert_no_error(obs, "codecs")
        for codec in CODECS:
            topic = "%s-%s" % (obs["prefix"], codec)
            want = [[i] + list(codec_record(codec, i)) for i in range(CODEC_RECORDS)]
            got = obs["consumed"].get(codec)
            self.assertEqual(got, want, self.where("codec %s: records read back (offset, key, "
                                                   "value, headers) differ" % codec))
            produced = obs.get("produced", {}).get(codec)
            if produced is not None:
                self.assertEqual(produced, list(range(CODEC_RECORDS)),
                                 self.where("codec %s: offsets of the delivery reports" % codec))
            codecs = batch_codecs(self.broker.data_dir, topic)
            self.assertTrue(codecs, self.where("codec %s: no batch on disk" % codec))
            self.assertEqual(set(codecs), {CODEC_ID[codec]},
                             self.where("codec %s: codecs of the batches on disk (attributes & 7)"
                                        % codec))

    # -- a consumer group: join, commit, leave, resume -------------------------------------

    def test_group_commit_leave_resume(self):
        obs = self.scenario("group")
        self.assert_no_error(obs, "group")
        first = sorted(tuple(m) for m in obs["first"])
        want_first = sorted((i % GROUP_PARTITIONS, i // GROUP_PARTITIONS, group_value(i))
                            for i in range(GROUP_FIRST))
        self.assertEqual(first, want_first, self.where("first run of the group: records read "
                                                       "(partition, offset, value)"))
        per = GROUP_FIRST // GROUP_PARTITIONS
        self.assertEqual(obs["committed"], {str(p): per for p in range(GROUP_PARTITIONS)},
                         self.where("committed offsets after the first run"))
        second = sorted(tuple(m) for m in obs["second"])
        want_second = sorted((i % GROUP_PARTITIONS, i // GROUP_PARTITIONS, group_value(i))
                             for i in range(GROUP_FIRST, GROUP_FIRST + GROUP_SECOND))
        self.assertEqual(second, want_second, self.where("second run of the group must resume "
                                                         "at the committed offsets"))

    # -- two members: both get partitions; when one leaves the other gets all --------------

    def test_rebalance_two_members(self):
        obs = self.scenario("rebalance")
        self.assert_no_error(obs, "rebalance")
        every = list(range(REBALANCE_PARTITIONS))
        self.assertEqual(sorted(obs["a_alone"]), every, self.where("A alone owns every partition"))
        a, b = sorted(obs["a_with_b"]), sorted(obs["b_with_a"])
        self.assertTrue(a and b, self.where("with two members both own partitions: A %s, B %s"
                                            % (a, b)))
        self.assertEqual(sorted(a + b), every,
                         self.where("A %s and B %s must share every partition once" % (a, b)))
        self.assertEqual(sorted(obs["a_after_b_left"]), every,
                         self.where("after B left, A owns every partition"))

    # -- admin: topics, configs, partitions, offsets, records, cluster ---------------------

    def test_admin_topics_configs_offsets(self):
        obs = self.scenario("admin")
        self.assert_no_error(obs, "admin")
        if self.offered("describe_configs"):
            got = {k: obs["configs_created"].get(k) for k in TOPIC_CONFIGS}
            self.assertEqual(got, TOPIC_CONFIGS, self.where("DescribeConfigs of a topic created "
                                                            "with configs"))
        if self.offered("alter_configs"):
            after = obs["configs_altered"]
            self.assertEqual(after.get("retention.ms"), ALTERED_RETENTION_MS,
                             self.where("retention.ms after %s AlterConfigs" % obs["alter_kind"]))
            # Incremental changes one key; the legacy AlterConfigs replaces the topic's whole
            # set, so a key it does not name returns to its default.
            keep = (TOPIC_CONFIGS["max.message.bytes"] if obs["alter_kind"] == "incremental"
                    else DEFAULT_MAX_MESSAGE_BYTES)
            self.assertEqual(after.get("max.message.bytes"), keep,
                             self.where("max.message.bytes after %s AlterConfigs"
                                        % obs["alter_kind"]))
        if self.offered("create_partitions"):
            self.assertEqual(obs["partitions_after"], ADMIN_PARTITIONS_AFTER,
                             self.where("partitions after CreatePartitions"))
        ts = offsets_timestamps(obs["base_ms"])
        offsets = obs["offsets"]
        self.assertEqual(offsets.get("earliest"), 0, self.where("ListOffsets earliest"))
        self.assertEqual(offsets.get("latest"), OFFSET_RECORDS, self.where("ListOffsets latest"))
        # The first record whose timestamp is at least the one asked for.
        self.assertEqual(offsets.get("by_timestamp"), 4,
                         self.where("ListOffsets for timestamp %d (records 1 s apart from %d)"
                                    % (obs["base_ms"] + 3500, obs["base_ms"])))
        if self.offered("max_timestamp"):
            self.assertEqual(offsets.get("max_timestamp"), [MAX_TS_INDEX, ts[MAX_TS_INDEX]],
                             self.where("ListOffsets MAX_TIMESTAMP (offset, timestamp)"))
        if self.offered("delete_records"):
            if "low_watermark" in obs:   # sarama's DeleteRecords returns only an error
                self.assertEqual(obs["low_watermark"], DELETE_BEFORE,
                                 self.where("low watermark returned by DeleteRecords"))
            self.assertEqual(obs["earliest_after_delete"], DELETE_BEFORE,
                             self.where("ListOffsets earliest after DeleteRecords"))
        if self.offered("describe_cluster"):
            cluster = obs["cluster"]
            self.assertEqual(len(cluster["brokers"]), 1, self.where("brokers in the cluster"))
            self.assertEqual(cluster["controller"], cluster["brokers"][0],
                             self.where("the controller is the one broker"))
            if "cluster_id" in cluster:  # sarama's DescribeCluster does not return it
                self.assertTrue(cluster["cluster_id"], self.where("cluster id"))

    # -- admin: list, describe and delete consumer groups ----------------------------------

    def test_admin_groups(self):
        obs = self.scenario("admin_groups")
        self.assert_no_error(obs, "admin_groups")
        group = obs["group"]
        self.assertIn(group, obs["listed"], self.where("ListGroups while a member is in"))
        active = obs["described_active"]
        self.assertEqual(active["state"], "Stable", self.where("DescribeGroups state, one member"))
        self.assertEqual(active["protocol_type"], "consumer", self.where("protocol type"))
        self.assertEqual(len(active["members"]), 1, self.where("members of the group"))
        self.assertEqual(sorted(active["members"][0]["assigned"]),
                         list(range(GROUP_PARTITIONS)),
                         self.where("partitions assigned to the only member"))
        empty = obs["described_empty"]
        self.assertEqual((empty["state"], empty["members"]), ("Empty", []),
                         self.where("DescribeGroups after the member left"))
        if self.offered("delete_groups"):
            self.assertIsNone(obs["delete_error"], self.where("DeleteGroups"))
            self.assertNotIn(group, obs["listed_after_delete"],
                             self.where("ListGroups after DeleteGroups"))

    # -- DeleteRecords, then a consumer starts at the new log start ------------------------

    def test_delete_records_then_consume(self):
        # A client without DeleteRecords sets this test to None: no test, not a vacuous pass.
        obs = self.scenario("delete_records")
        self.assert_no_error(obs, "delete_records")
        if "low_watermark" in obs:
            self.assertEqual(obs["low_watermark"], DELETE_RECORDS_BEFORE,
                             self.where("low watermark after DeleteRecords"))
        want = [[o, "d-%d" % o] for o in range(DELETE_RECORDS_BEFORE, DELETE_RECORDS_N)]
        self.assertEqual(obs["consumed"], want, self.where("a consumer from the beginning reads "
                                                           "from the new log start"))

    # -- the producer's default configuration ----------------------------------------------

    def check_produced_and_read(self, name):
        obs = self.scenario(name)
        self.assert_no_error(obs, name)
        want = [[o, "v-%d" % o] for o in range(DEFAULTS_RECORDS)]
        self.assertEqual(obs["consumed"], want, self.where("%s: records read back" % name))

    def test_producer_defaults(self):
        # The producer exactly as the client configures it by default.
        self.check_produced_and_read("producer_defaults")

    def test_producer_no_idempotence(self):
        # The same with idempotence explicitly off (where the client has the setting).
        self.check_produced_and_read("producer_no_idempotence")


class OnRunnel(unittest.TestCase):
    broker_kind = "runnel"


class OnKafka(unittest.TestCase):
    broker_kind = "kafka"
