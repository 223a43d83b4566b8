# SPDX-License-Identifier: Apache-2.0
"""The conformance corpus: short sequences of requests, each run the same way against Runnel
and against Apache Kafka, whose decoded responses test_conformance.py compares.

A scenario is a function `fn(s, v)` registered with @scenario for one API. It runs at each
version `v` of that API that both brokers advertise (and, for versions only one of them
advertises, the API's first scenario runs as a probe on both). It talks to the broker through
the Session `s`:

    s.call(api, version, body, label)   sends one request; the exchange is recorded under
                                        `label` and compared; returns the decoded body (None
                                        when the broker closed the connection or sent nothing)
    s.call_retrying(api, version, body, label)
                                        the same, but first repeats the request (bounded, not
                                        compared) while it answers an error clients retry
                                        (coordinator loading, CONCURRENT_TRANSACTIONS)
    s.setup(api, version, body)         the same, but not compared: preparing state (creating
                                        a topic, producing a batch); fails the scenario unless
                                        every error code in the answer is 0
    s.topic("x"), s.group("x")          names private to this scenario and version, so that
                                        no two runs share state and a broker's answers do not
                                        depend on what ran before

Everything the two brokers are asked is the same byte for byte, except values a broker chose
itself and the scenario reads back (topic ids, member ids), which go into later requests as
each broker gave them.

Shared state made once per broker before the corpus (fixture()):
    FIX_DATA     3 partitions; partition 0 holds batches of 3, 2 and 1 records (offsets 0-5),
                 partition 1 one batch of 2 records, partition 2 nothing
    FIX_GROUP    a group with no members that has committed offsets for FIX_DATA 0 and 1
    FIX_TXN      (brokers with a transaction coordinator) a transactional id with a producer id
                 and no transaction
and the group coordinator is ready (__consumer_offsets exists), which Kafka reaches only after
a few FindCoordinator tries; InitProducerId hands out ids (Kafka answers
COORDINATOR_LOAD_IN_PROGRESS until its first block of producer ids arrives from its
controller); and, where the broker has one, the transaction coordinator is ready
(__transaction_state exists and is loaded).

Scenarios that need APIs beyond their own (the transaction coordinator's) say so with `needs`:
they run only when both brokers advertise every one of them, and the report lists the ones
that did not run."""

import os
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import kafka_wire as wire  # noqa: E402  (record batches and error names)

from codec import CodecError  # noqa: E402

# API keys, by Kafka's names.
PRODUCE, FETCH, LIST_OFFSETS, METADATA = 0, 1, 2, 3
OFFSET_COMMIT, OFFSET_FETCH, FIND_COORDINATOR = 8, 9, 10
JOIN_GROUP, HEARTBEAT, LEAVE_GROUP, SYNC_GROUP = 11, 12, 13, 14
DESCRIBE_GROUPS, LIST_GROUPS, SASL_HANDSHAKE, API_VERSIONS = 15, 16, 17, 18
CREATE_TOPICS, DELETE_TOPICS, DELETE_RECORDS, INIT_PRODUCER_ID = 19, 20, 21, 22
OFFSET_FOR_LEADER_EPOCH = 23
DESCRIBE_ACLS, CREATE_ACLS, DELETE_ACLS = 29, 30, 31
DESCRIBE_CONFIGS, ALTER_CONFIGS, DESCRIBE_LOG_DIRS = 32, 33, 35
CREATE_PARTITIONS, DELETE_GROUPS, INCREMENTAL_ALTER_CONFIGS = 37, 42, 44
OFFSET_DELETE, DESCRIBE_CLUSTER, DESCRIBE_TOPIC_PARTITIONS = 47, 60, 75
ADD_PARTITIONS_TO_TXN, ADD_OFFSETS_TO_TXN, END_TXN, TXN_OFFSET_COMMIT = 24, 25, 26, 28
DESCRIBE_PRODUCERS, DESCRIBE_TRANSACTIONS, LIST_TRANSACTIONS = 61, 65, 66

# What a scenario that runs transactions needs both brokers to advertise.
TXN_APIS = (ADD_PARTITIONS_TO_TXN, ADD_OFFSETS_TO_TXN, END_TXN, TXN_OFFSET_COMMIT,
            DESCRIBE_TRANSACTIONS)

CLIENT_ID = "conformance"
REQUEST_TIMEOUT = 15.0
PROBE_TIMEOUT = 3.0         # for versions only one broker serves: Kafka keeps some waiting
FIX_DATA = "cf-fix-data"
FIX_GROUP = "cf-fix-group"
FIX_TXN = "cf-fix-txn"
FIXTURE_PREFIX = "cf-fix-"
NODE_ID = 1
SESSION_MS = 10000          # group session timeout: within Kafka's 6 s - 30 min
REBALANCE_MS = 3000

# Versions the corpus uses for setup steps: ones both brokers serve.
V_CREATE_TOPICS = 5
V_PRODUCE = 8
V_METADATA = 12
V_FIND_COORDINATOR = 3
V_JOIN = 5
V_SYNC = 3
V_HEARTBEAT = 3
V_LEAVE = 3
V_OFFSET_COMMIT = 7
V_OFFSET_FETCH = 7
V_LIST_OFFSETS = 5
V_INIT_PRODUCER_ID = 4
V_ADD_PARTITIONS = 3
V_ADD_OFFSETS = 3
V_END_TXN = 3
V_DESCRIBE_TXN = 0

# Errors a client retries after a short wait: the coordinator is loading or not there yet, or
# a transaction is still completing (CONCURRENT_TRANSACTIONS).
RETRIABLE = (wire.COORDINATOR_LOAD_IN_PROGRESS, wire.COORDINATOR_NOT_AVAILABLE,
             wire.CONCURRENT_TRANSACTIONS)
TXN_TIMEOUT_MS = 60000


class ScenarioError(Exception):
    """A scenario could not run as written (its setup failed): reported, never compared."""


# -- the registry -------------------------------------------------------------------------------

class Scenario:
    def __init__(self, api, name, fn, versions, doc, needs=()):
        self.api, self.name, self.fn, self.versions, self.doc = api, name, fn, versions, doc
        self.needs = tuple(needs)

    def applies(self, v):
        return self.versions is None or self.versions[0] <= v <= self.versions[1]

    @property
    def id(self):
        return "%d.%s" % (self.api, self.name)


SCENARIOS = []


def scenario(api, versions=None, needs=()):
    """Registers fn(s, v) as a scenario of `api`, for `versions` (lo, hi) or all of them. The
    first scenario of an API is its probe: it also runs at versions only one broker serves.
    `needs`: API keys both brokers must advertise for the scenario to run at all."""
    def register(fn):
        name = fn.__name__.split("__", 1)[-1]
        SCENARIOS.append(Scenario(api, name, fn, versions, (fn.__doc__ or "").strip(), needs))
        return fn
    return register


def scenarios_for(api):
    return [sc for sc in SCENARIOS if sc.api == api]


# -- talking to a broker ------------------------------------------------------------------------

class Conn:
    """One TCP connection speaking size-prefixed frames, with bounded waits."""

    def __init__(self, host, port, timeout=REQUEST_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout

    def close(self):
        self.sock.close()

    def send(self, payload):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def _recv_exact(self, n, deadline):
        buf = bytearray()
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer within %.1f s" % self.timeout)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(n - len(buf))
            except socket.timeout:
                raise TimeoutError("no answer within %.1f s" % self.timeout)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                if buf:
                    raise EOFError("closed after %d of %d bytes" % (len(buf), n))
                raise EOFError("closed")
            buf += chunk
        return bytes(buf)

    def recv(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        (size,) = struct.unpack(">i", self._recv_exact(4, deadline))
        if size < 4 or size > 256 << 20:
            raise EOFError("implausible frame size %d" % size)
        return self._recv_exact(size, deadline)


class Broker:
    """What the corpus knows about one broker while it runs: where it is, what it advertised,
    and the fixture's state (topic ids)."""

    def __init__(self, name, host, port, codec):
        self.name, self.host, self.port, self.codec = name, host, port, codec
        self.advertised = {}       # api key -> (min, max), from ApiVersions v0
        self.topic_ids = {}        # topic name -> uuid string
        self.cluster_id = None     # from Metadata, when a scenario asked
        self.t0 = None             # base timestamp of the fixture's records (ms)


class Step:
    """One recorded exchange. outcome: 'response', 'closed' (the broker closed the connection
    instead of answering), 'none' (nothing came back, as for acks=0), 'timeout', or
    'undecodable' (an answer our schema cannot read: `error` says where)."""

    def __init__(self, label, api, version, outcome, body=None, error=None, raw=None):
        self.label, self.api, self.version = label, api, version
        self.outcome, self.body, self.error, self.raw = outcome, body, error, raw
        self.scope = False      # the answer lists everything: compare the run's own names only

    def summary(self):
        if self.outcome == "response":
            return "response"
        return "%s%s" % (self.outcome, (": " + self.error) if self.error else "")


class Session:
    """One run of one scenario at one version against one broker."""

    def __init__(self, broker, sc, version, tag=None, timeout=REQUEST_TIMEOUT, probe=False):
        self.broker = broker
        self.timeout = timeout
        self.probe = probe      # a version only one broker serves: settle() does not wait
        self.codec = broker.codec
        self.sc = sc
        self.v = version
        self.tag = tag or ("v%d" % version)
        self.steps = []
        self.conn = None
        self.corr = 0
        self.labels = set()

    # -- names private to this run -----------------------------------------------------------

    def name(self, kind, suffix=""):
        base = "cf-%s-%s-%s" % (kind, self.sc.name.replace("_", "-"), self.tag)
        return base + ("-" + suffix if suffix else "")

    def topic(self, suffix=""):
        return self.name("t%d" % self.sc.api, suffix)

    def group(self, suffix=""):
        return self.name("g%d" % self.sc.api, suffix)

    # -- requests ----------------------------------------------------------------------------

    def _connect(self):
        if self.conn is None:
            self.conn = Conn(self.broker.host, self.broker.port, self.timeout)
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def exchange(self, api, version, body=None, payload=None, expect_answer=True,
                 decode_as=None, timeout=None):
        """Sends one request (built from `body`, or the raw `payload` of header and body) and
        returns a Step without recording it. `decode_as` (api, version) reads the answer as
        another version (ApiVersions answers an unknown version in v0's shape)."""
        self.corr += 1
        corr = self.corr
        if payload is None:
            payload = self.codec.encode_request(api, version, corr, CLIENT_ID, body or {})
        else:
            payload = payload[:4] + struct.pack(">i", corr) + payload[8:]
        try:
            conn = self._connect()
            conn.send(payload)
            if not expect_answer:
                return Step(None, api, version, "none")
            frame = conn.recv(timeout)
        except EOFError as e:
            self.close()
            return Step(None, api, version, "closed", error=None if str(e) == "closed" else str(e))
        except TimeoutError as e:
            self.close()
            return Step(None, api, version, "timeout", error=str(e))
        except OSError as e:
            self.close()
            return Step(None, api, version, "closed", error=str(e))
        dapi, dver = decode_as or (api, version)
        try:
            got_corr, resp = self.codec.decode_response(dapi, dver, frame)
        except CodecError as e:
            self.close()
            return Step(None, api, version, "undecodable", error=str(e), raw=frame)
        if got_corr != corr:
            self.close()
            return Step(None, api, version, "undecodable",
                        error="correlation id %d, sent %d" % (got_corr, corr), raw=frame)
        return Step(None, api, version, "response", body=resp)

    def call(self, api, version, body=None, label=None, scope=False, **kw):
        """Sends a request, records the exchange under `label` for comparison and returns the
        decoded body (None unless the broker answered). `scope`: the answer lists every topic
        or group of the broker, and is compared for the fixture's, the internal and this run's
        own names only."""
        return self._record(self.exchange(api, version, body, **kw), api, version, label, scope)

    def call_retrying(self, api, version, body=None, label=None, scope=False,
                      retriable=RETRIABLE, timeout=10.0):
        """As call(), but repeats the request (bounded, not compared) while the answer carries
        an error a client retries (RETRIABLE), as clients do; the last answer is compared."""
        deadline = time.monotonic() + (0 if self.probe else timeout)
        while True:
            step = self.exchange(api, version, body)
            if (step.outcome != "response" or time.monotonic() > deadline or
                    not set(error_codes(step.body)) & set(retriable)):
                return self._record(step, api, version, label, scope)
            time.sleep(0.05)

    def _record(self, step, api, version, label, scope):
        step.scope = scope
        label = label or "%s v%d" % (self.codec.name(api), version)
        n, base = 2, label
        while label in self.labels:
            label = "%s #%d" % (base, n)
            n += 1
        self.labels.add(label)
        step.label = label
        self.steps.append(step)
        return step.body

    def setup(self, api, version, body=None, allow=(), what=None, retry=False):
        """A request that prepares state: not compared, and every error code in the answer must
        be 0 (or in `allow`), or the scenario stops with ScenarioError. `retry`: first repeats
        it (at most 10 s) while it answers an error of RETRIABLE."""
        step = self.exchange(api, version, body)
        deadline = time.monotonic() + 10
        while (retry and step.outcome == "response" and time.monotonic() < deadline and
               set(error_codes(step.body)) & set(RETRIABLE)):
            time.sleep(0.05)
            step = self.exchange(api, version, body)
        what = what or "%s v%d" % (self.codec.name(api), version)
        if step.outcome != "response":
            raise ScenarioError("setup %s: %s" % (what, step.summary()))
        bad = [c for c in error_codes(step.body) if c != 0 and c not in allow]
        if bad:
            raise ScenarioError("setup %s: error %s" % (what, ", ".join(
                "%d %s" % (c, wire.error_name(c)) for c in bad)))
        return step.body

    def wait(self, api, version, body, ready, what, timeout=10.0):
        """Repeats a request (not compared) until ready(body) holds: for what Kafka finishes in
        the background (a topic created by Metadata, the group coordinator)."""
        deadline = time.monotonic() + timeout
        while True:
            step = self.exchange(api, version, body)
            if step.outcome == "response" and ready(step.body):
                return step.body
            if time.monotonic() > deadline:
                raise ScenarioError("%s: not ready after %.0f s (last: %s %s)"
                                    % (what, timeout, step.summary(), step.body))
            time.sleep(0.05)

    def settle(self, api, version, body, ready, timeout=3.0):
        """Like wait(), for a change that Kafka applies in the background after it answered
        (a broker's metadata image trails the controller), but never fails: after `timeout`
        the scenario goes on, and the comparison shows what the broker answers then."""
        deadline = time.monotonic() + (0 if self.probe else timeout)
        while time.monotonic() < deadline:
            step = self.exchange(api, version, body)
            if step.outcome == "response" and ready(step.body):
                return
            time.sleep(0.02)

    # -- common setup steps ------------------------------------------------------------------

    def create_topic(self, name, partitions=1, configs=None):
        """Creates a topic and waits until every partition has its leader: Kafka answers
        CreateTopics before the partitions can take requests (NOT_LEADER_OR_FOLLOWER)."""
        cfg = [{"name": k, "value": val} for k, val in (configs or {}).items()]
        self.setup(CREATE_TOPICS, V_CREATE_TOPICS, {
            "topics": [{"name": name, "num_partitions": partitions, "replication_factor": 1,
                        "configs": cfg}], "timeout_ms": 10000}, what="create topic " + name)
        self.wait(LIST_OFFSETS, V_LIST_OFFSETS,
                  lo_body({name: [(p, -1) for p in range(partitions)]}),
                  lambda b: error_codes(b) and not any(error_codes(b)),
                  "leaders of " + name)
        return self.topic_id(name)

    def topic_id(self, name):
        """The broker's id for topic `name` (Metadata v12), cached per broker."""
        if name not in self.broker.topic_ids:
            body = self.wait(METADATA, V_METADATA, {"topics": [{"name": name}],
                                                    "allow_auto_topic_creation": False},
                             lambda b: b["topics"] and b["topics"][0]["error_code"] == 0
                             and b["topics"][0]["partitions"], "metadata of " + name)
            self.broker.topic_ids[name] = body["topics"][0]["topic_id"]
        return self.broker.topic_ids[name]

    def cluster_id(self):
        """The broker's cluster id (Metadata v12), cached per broker."""
        if self.broker.cluster_id is None:
            body = self.setup(METADATA, V_METADATA, md_body(V_METADATA, []))
            self.broker.cluster_id = body["cluster_id"]
        return self.broker.cluster_id

    def produce(self, topic, partition, batches):
        """Appends `batches` (record batch bytes) one request each, acks=-1."""
        for b in batches:
            self.setup(PRODUCE, V_PRODUCE, produce_body(topic, partition, b),
                       what="produce to %s-%d" % (topic, partition))

    def commit(self, group, topic, offsets, generation=-1, member=""):
        self.setup(OFFSET_COMMIT, V_OFFSET_COMMIT, {
            "group_id": group, "generation_id_or_member_epoch": generation, "member_id": member,
            "topics": [{"name": topic, "partitions": [
                {"partition_index": p, "committed_offset": o, "committed_metadata": "m%d" % p}
                for p, o in offsets.items()]}]}, what="commit for " + group)

    def join(self, group, member="", protocols=None, version=V_JOIN, instance=None, label=None):
        """JoinGroup at `version`; a MEMBER_ID_REQUIRED answer (v4+) is answered by rejoining with
        the given id, as clients do. Both exchanges are compared. Returns the last answer."""
        body = {"group_id": group, "session_timeout_ms": SESSION_MS,
                "rebalance_timeout_ms": REBALANCE_MS, "member_id": member,
                "group_instance_id": instance, "protocol_type": "consumer",
                "protocols": protocols or [{"name": "range", "metadata": b"\x00\x01"}]}
        resp = self.call(JOIN_GROUP, version, body, label=label or "join")
        if resp is not None and resp["error_code"] == wire.MEMBER_ID_REQUIRED:
            body["member_id"] = resp["member_id"]
            resp = self.call(JOIN_GROUP, version, body, label=(label or "join") + " again")
        return resp

    def stable_member(self, group, protocols=None):
        """Setup: one member joins `group` (JoinGroup v5) and syncs; returns (member id,
        generation)."""
        body = {"group_id": group, "session_timeout_ms": SESSION_MS,
                "rebalance_timeout_ms": REBALANCE_MS, "member_id": "",
                "protocol_type": "consumer",
                "protocols": protocols or [{"name": "range", "metadata": b"\x00\x01"}]}
        resp = self.setup(JOIN_GROUP, V_JOIN, body, allow=(wire.MEMBER_ID_REQUIRED,))
        if resp["error_code"] == wire.MEMBER_ID_REQUIRED:
            body["member_id"] = resp["member_id"]
            resp = self.setup(JOIN_GROUP, V_JOIN, body)
        member, gen = resp["member_id"], resp["generation_id"]
        self.setup(SYNC_GROUP, V_SYNC, {"group_id": group, "generation_id": gen,
                                        "member_id": member, "assignments": [
                                            {"member_id": member, "assignment": b"\x00\x00"}]})
        return member, gen


def error_codes(body):
    """Every error_code in a decoded body, at any depth."""
    out = []

    def walk(x):
        if isinstance(x, dict):
            for k, val in x.items():
                if k.endswith("error_code") and isinstance(val, int):
                    out.append(val)
                else:
                    walk(val)
        elif isinstance(x, list):
            for item in x:
                walk(item)
    walk(body)
    return out


def produce_body(topic, partition, records, acks=-1):
    return {"transactional_id": None, "acks": acks, "timeout_ms": 10000,
            "topic_data": [{"name": topic, "partition_data": [
                {"index": partition, "records": records}]}]}


def batch(t0, values, key=b"k", ts_step=1000, **kw):
    """A v2 batch of records `values` with key `key`, timestamps t0, t0+ts_step, ..."""
    return wire.batch_v2([(key, val) for val in values], base_timestamp=t0,
                         timestamp_deltas=[i * ts_step for i in range(len(values))], **kw)


def pbatch(t0, values, producer, seq, txn=False, epoch=None):
    """A producer's batch: `producer` (id, epoch), first sequence `seq`; `epoch` overrides the
    producer's; `txn` sets the transactional bit."""
    pid, pep = producer
    return batch(t0, values, producer_id=pid, producer_epoch=pep if epoch is None else epoch,
                 base_sequence=seq, attributes=0x10 if txn else 0)


# -- the fixture --------------------------------------------------------------------------------

def fixture(broker, t0, txn=False):
    """Builds the shared state (see the module's docstring) on `broker`; `txn`: both brokers
    have a transaction coordinator."""
    broker.t0 = t0
    fx = Scenario(-1, "fixture", None, None, "")
    s = Session(broker, fx, 0, tag="fixture")
    try:
        # Kafka answers COORDINATOR_NOT_AVAILABLE while it creates __consumer_offsets, then
        # COORDINATOR_LOAD_IN_PROGRESS while it loads it.
        s.wait(FIND_COORDINATOR, V_FIND_COORDINATOR, {"key": FIX_GROUP, "key_type": 0},
               lambda b: b["error_code"] == 0, "group coordinator", timeout=30)
        s.wait(OFFSET_FETCH, V_OFFSET_FETCH, of_body(V_OFFSET_FETCH, FIX_GROUP, None),
               lambda b: b["error_code"] == 0, "group coordinator loaded", timeout=30)
        s.create_topic(FIX_DATA, partitions=3)
        s.produce(FIX_DATA, 0, [batch(t0, [b"a0", b"a1", b"a2"]),
                                batch(t0 + 3000, [b"a3", b"a4"]),
                                batch(t0 + 5000, [b"a5"])])
        s.produce(FIX_DATA, 1, [batch(t0, [b"b0", b"b1"])])
        s.commit(FIX_GROUP, FIX_DATA, {0: 2, 1: 1})
        s.topic_id("__consumer_offsets")
        if INIT_PRODUCER_ID in broker.advertised:
            s.wait(INIT_PRODUCER_ID, V_INIT_PRODUCER_ID, ipid_body(None),
                   lambda b: b["error_code"] == 0, "producer ids", timeout=30)
        if txn:
            s.wait(FIND_COORDINATOR, V_FIND_COORDINATOR, {"key": FIX_TXN, "key_type": 1},
                   lambda b: b["error_code"] == 0, "transaction coordinator", timeout=30)
            s.wait(INIT_PRODUCER_ID, V_INIT_PRODUCER_ID, ipid_body(FIX_TXN),
                   lambda b: b["error_code"] == 0, "transaction coordinator loaded", timeout=30)
    finally:
        s.close()


# -- running a plan -----------------------------------------------------------------------------

class Run:
    """The outcome of one scenario at one version on one broker."""

    def __init__(self, sc, version, steps, error=None, seconds=0.0):
        self.sc, self.version, self.steps, self.error = sc, version, steps, error
        self.seconds = seconds


def run_one(broker, sc, version, probe=False):
    s = Session(broker, sc, version, timeout=PROBE_TIMEOUT if probe else REQUEST_TIMEOUT,
                probe=probe)
    t = time.monotonic()
    error = None
    try:
        sc.fn(s, version)
    except ScenarioError as e:
        error = str(e)
    except CodecError as e:
        error = "cannot encode: %s" % e
    finally:
        s.close()
    return Run(sc, version, s.steps, error, time.monotonic() - t)


def run_plan(broker, plan, t0):
    """Runs the fixture, then every (scenario, version) of `plan` (a Plan) in order; returns
    {(scenario id, version): Run}."""
    fixture(broker, t0, txn=plan.served(TXN_APIS))
    out = {}
    for sc, version, one_sided in plan.items:
        out[(sc.id, version)] = run_one(broker, sc, version, one_sided)
    return out


# -- building blocks for the scenarios ----------------------------------------------------------

UNKNOWN_ID = "c0ffee00-0000-4000-8000-00000000000a"    # a topic id neither broker made
MISSING = "cf-no-such-topic"
BAD_NAME = "bad name!"                                   # a space and '!' are not legal
LONG_NAME = "x" * 250                                    # Kafka's limit is 249 characters


def md_body(v, names, auto=False, topic_ops=False):
    """Metadata request for `names` (None: every topic; v0 has no null, so an empty array)."""
    if names is None:
        topics = [] if v == 0 else None
    else:
        topics = [{"name": n} for n in names]
    return {"topics": topics, "allow_auto_topic_creation": auto,
            "include_topic_authorized_operations": topic_ops}


def fetch_body(s, v, topic, parts, isolation=0, max_bytes=0x7FFFFFFF, max_wait=0, min_bytes=0,
               topic_id=None, session=(0, -1), forgotten=()):
    """Fetch request for `parts` [(partition, offset, partition_max_bytes)] of one topic; v13+
    names the topic by id (the broker's own, or `topic_id`)."""
    tid = topic_id or (s.topic_id(topic) if v >= 13 else "00000000-0000-0000-0000-000000000000")
    return {"replica_id": -1, "max_wait_ms": max_wait, "min_bytes": min_bytes,
            "max_bytes": max_bytes, "isolation_level": isolation,
            "session_id": session[0], "session_epoch": session[1],
            "topics": [{"topic": topic, "topic_id": tid, "partitions": [
                {"partition": p, "fetch_offset": o, "partition_max_bytes": mb,
                 "current_leader_epoch": -1, "log_start_offset": -1} for p, o, mb in parts]}],
            "forgotten_topics_data": list(forgotten), "rack_id": ""}


def lo_body(topic_parts, isolation=0, epoch=-1):
    """ListOffsets request: {topic: [(partition, timestamp)]}."""
    return {"replica_id": -1, "isolation_level": isolation, "timeout_ms": 1000, "topics": [
        {"name": t, "partitions": [{"partition_index": p, "timestamp": ts,
                                    "current_leader_epoch": epoch, "max_num_offsets": 1}
                                   for p, ts in parts]} for t, parts in topic_parts.items()]}


def ct_topic(name, partitions=1, rf=1, configs=None, assignments=None):
    return {"name": name, "num_partitions": partitions, "replication_factor": rf,
            "assignments": assignments or [],
            "configs": [{"name": k, "value": val} for k, val in (configs or {}).items()]}


def ct_body(topics, validate_only=False):
    return {"topics": topics, "timeout_ms": 10000, "validate_only": validate_only}


def dc_body(resources, synonyms=False, docs=False):
    """DescribeConfigs: resources [(type, name, keys or None)]; type 2 topic, 4 broker."""
    return {"resources": [{"resource_type": t, "resource_name": n, "configuration_keys": k}
                          for t, n, k in resources],
            "include_synonyms": synonyms, "include_documentation": docs}


def oc_body(group, topic, offsets, generation=-1, member="", metadata="m"):
    return {"group_id": group, "generation_id_or_member_epoch": generation, "member_id": member,
            "group_instance_id": None, "retention_time_ms": -1,
            "topics": [{"name": topic, "partitions": [
                {"partition_index": p, "committed_offset": o, "committed_leader_epoch": -1,
                 "commit_timestamp": -1, "committed_metadata": metadata}
                for p, o in offsets.items()]}]}


def of_body(v, group, topics, require_stable=False):
    """OffsetFetch for one group: topics {name: [partitions]} or None (all, v2+)."""
    ts = None if topics is None else [{"name": t, "partition_indexes": ps}
                                      for t, ps in topics.items()]
    if v >= 8:
        return {"groups": [{"group_id": group, "topics": ts}], "require_stable": require_stable}
    return {"group_id": group, "topics": ts, "require_stable": require_stable}


# -- ApiVersions ----------------------------------------------------------------------------------

def av_body(v, name="conformance", version="1.0"):
    return {"client_software_name": name, "client_software_version": version}


@scenario(API_VERSIONS)
def av__basic(s, v):
    """The advertised APIs (compared in the report's matrix, not field by field)."""
    s.call(API_VERSIONS, v, av_body(v))


@scenario(API_VERSIONS, versions=(3, 0x7FFF))
def av__bad_software_name(s, v):
    """A software name outside [a-zA-Z0-9](?:[a-zA-Z0-9\\-.]*[a-zA-Z0-9])? is INVALID_REQUEST."""
    s.call(API_VERSIONS, v, av_body(v, name="-conformance!"), label="bad name")
    s.call(API_VERSIONS, v, av_body(v, name="", version=""), label="empty name and version")
    s.call(API_VERSIONS, v, av_body(v, version="1.0 beta"), label="bad version")


@scenario(API_VERSIONS, versions=(5, 0x7FFF))
def av__cluster_and_node(s, v):
    """The cluster and node the client means to reach (v5+, KIP-1242): this one, another
    cluster, another node, neither given."""
    body = av_body(v)
    s.call(API_VERSIONS, v, dict(body, cluster_id=s.cluster_id(), node_id=NODE_ID),
           label="this cluster and node")
    s.call(API_VERSIONS, v, dict(body, cluster_id="cf-another-cluster", node_id=NODE_ID),
           label="another cluster")
    s.call(API_VERSIONS, v, dict(body, cluster_id=s.cluster_id(), node_id=7),
           label="another node")
    s.call(API_VERSIONS, v, dict(body, cluster_id=None, node_id=-1), label="neither")


@scenario(API_VERSIONS, versions=(0, 0))
def av__unknown_version(s, v):
    """A version the broker does not know: a v0-shaped UNSUPPORTED_VERSION answer."""
    payload = s.codec.encode_request(API_VERSIONS, 3, 0, CLIENT_ID, av_body(3))
    payload = struct.pack(">hh", API_VERSIONS, 0x7FFF) + payload[4:]
    s.call(API_VERSIONS, 0x7FFF, payload=payload, decode_as=(API_VERSIONS, 0),
           label="ApiVersions v32767")


# -- Metadata -------------------------------------------------------------------------------------

@scenario(METADATA)
def md__named_topic(s, v):
    """A topic by name: partitions, leader, replicas, ISR, leader epoch, topic id."""
    s.call(METADATA, v, md_body(v, [FIX_DATA]))


@scenario(METADATA)
def md__all_topics(s, v):
    """Every topic (v0: empty array; v1+: null), compared for the fixture's and the internal
    topics only (normalise.py keeps those)."""
    s.call(METADATA, v, md_body(v, None), scope=True)


@scenario(METADATA, versions=(1, 0x7FFF))
def md__no_topics(s, v):
    """An empty array (v1+) asks for no topics, only brokers and the cluster."""
    s.call(METADATA, v, md_body(v, []))


@scenario(METADATA)
def md__unknown_topic(s, v):
    """An unknown topic without auto-creation (v4+ can say no; v0-3 always auto-create, so
    the name is one no broker can create)."""
    if v >= 4:
        s.call(METADATA, v, md_body(v, [MISSING]), label="unknown")
    s.call(METADATA, v, md_body(v, [BAD_NAME]), label="illegal name")
    s.call(METADATA, v, md_body(v, [LONG_NAME]), label="name too long")


@scenario(METADATA)
def md__auto_create(s, v):
    """An unknown topic with auto-creation allowed: the first answer, then the topic once it
    exists (auto.create.topics.enable=true, num.partitions=1 on both)."""
    name = s.topic()
    s.call(METADATA, v, md_body(v, [name], auto=True), label="first")
    s.wait(METADATA, V_METADATA, md_body(V_METADATA, [name]),
           lambda b: b["topics"][0]["error_code"] == 0 and b["topics"][0]["partitions"],
           "auto-created " + name)
    s.call(METADATA, v, md_body(v, [name], auto=True), label="created")


@scenario(METADATA)
def md__duplicate_and_mixed(s, v):
    """The same topic twice, and a known topic beside an unknown one."""
    s.call(METADATA, v, md_body(v, [FIX_DATA, FIX_DATA]), label="duplicate")
    s.call(METADATA, v, md_body(v, [FIX_DATA, BAD_NAME]), label="mixed")


@scenario(METADATA)
def md__internal_topic(s, v):
    """__consumer_offsets by name: is_internal (v1+), one partition on both brokers."""
    s.call(METADATA, v, md_body(v, ["__consumer_offsets"]))


@scenario(METADATA, versions=(8, 0x7FFF))
def md__authorized_operations(s, v):
    """include_topic_authorized_operations (v8+) and, v8-10, the cluster's."""
    body = md_body(v, [FIX_DATA], topic_ops=True)
    body["include_cluster_authorized_operations"] = True
    s.call(METADATA, v, body)


@scenario(METADATA, versions=(10, 0x7FFF))
def md__by_topic_id(s, v):
    """A topic named by id only (name null) and an unknown id."""
    tid = s.topic_id(FIX_DATA)
    s.call(METADATA, v, {"topics": [{"topic_id": tid, "name": None}],
                         "allow_auto_topic_creation": False}, label="known id")
    s.call(METADATA, v, {"topics": [{"topic_id": UNKNOWN_ID, "name": None}],
                         "allow_auto_topic_creation": False}, label="unknown id")


# -- Produce --------------------------------------------------------------------------------------

@scenario(PRODUCE)
def pr__append(s, v):
    """Two appends to a fresh partition: base offsets 0 then 3, log start offset 0."""
    t = s.topic()
    s.create_topic(t)
    t0 = s.broker.t0
    s.call(PRODUCE, v, produce_body(t, 0, batch(t0, [b"1", b"2", b"3"])), label="first")
    s.call(PRODUCE, v, produce_body(t, 0, batch(t0, [b"4"])), label="second")
    s.call(PRODUCE, v, produce_body(t, 0, batch(t0, [b"5"]), acks=1), label="acks=1")


@scenario(PRODUCE)
def pr__acks_zero(s, v):
    """acks=0: no answer at all; the request after it is answered and sees the record."""
    t = s.topic()
    s.create_topic(t)
    s.call(PRODUCE, v, produce_body(t, 0, batch(s.broker.t0, [b"1"]), acks=0),
           expect_answer=False, label="acks=0")
    s.call(LIST_OFFSETS, V_LIST_OFFSETS, lo_body({t: [(0, -1)]}), label="latest after")


@scenario(PRODUCE)
def pr__unknown_topic_and_partition(s, v):
    """An unknown topic (Produce never auto-creates) and a partition out of range."""
    b = batch(s.broker.t0, [b"x"])
    s.call(PRODUCE, v, produce_body(MISSING, 0, b), label="unknown topic")
    s.call(PRODUCE, v, produce_body(FIX_DATA, 99, b), label="partition 99")
    s.call(PRODUCE, v, produce_body(FIX_DATA, -1, b), label="partition -1")


@scenario(PRODUCE)
def pr__invalid_acks(s, v):
    """acks=2 is INVALID_REQUIRED_ACKS."""
    t = s.topic()
    s.create_topic(t)
    s.call(PRODUCE, v, produce_body(t, 0, batch(s.broker.t0, [b"x"]), acks=2))


@scenario(PRODUCE)
def pr__corrupt_batches(s, v):
    """A bad CRC, a record count that does not match, empty records, garbage. (Not null
    records: Kafka 4.4 never answers those.)"""
    t = s.topic()
    s.create_topic(t)
    t0 = s.broker.t0
    s.call(PRODUCE, v, produce_body(t, 0, batch(t0, [b"x"], crc=1)), label="bad crc")
    s.call(PRODUCE, v, produce_body(t, 0, batch(t0, [b"x", b"y"], count=3)), label="bad count")
    s.call(PRODUCE, v, produce_body(t, 0, b""), label="empty records")
    s.call(PRODUCE, v, produce_body(t, 0, b"\x00" * 7), label="7 zero bytes")
    s.call(LIST_OFFSETS, V_LIST_OFFSETS, lo_body({t: [(0, -1)]}), label="nothing appended")


@scenario(PRODUCE)
def pr__malformed_records(s, v):
    """Batches whose frame and CRC are right and whose insides are not: a record whose offset
    delta is not its position, a record length that is not a varint, codec bits 5, gzip that
    is not gzip."""
    t = s.topic()
    s.create_topic(t)
    t0 = s.broker.t0
    s.call(PRODUCE, v, produce_body(t, 0, batch(t0, [b"x"], payload=wire.record(b"k", b"x", 5))),
           label="offset delta 5")
    s.call(PRODUCE, v, produce_body(t, 0, batch(t0, [b"x"], payload=b"\xff" * 10)),
           label="not a varint")
    s.call(PRODUCE, v, produce_body(t, 0, batch(t0, [b"x"], attributes=5)), label="codec 5")
    s.call(PRODUCE, v, produce_body(t, 0, batch(t0, [b"x"], attributes=1, payload=b"not gzip")),
           label="gzip that is not gzip")
    s.call(LIST_OFFSETS, V_LIST_OFFSETS, lo_body({t: [(0, -1)]}), label="what was written")


@scenario(PRODUCE)
def pr__framing(s, v):
    """How a partition's bytes split into batches: a fragment after a whole batch (ignored, the
    batch written), a corrupt second header, a first batch that cannot be a batch (the whole
    request fails, every partition with Kafka's message), a magic Kafka does not know."""
    t = s.topic()
    s.create_topic(t, partitions=2)
    t0 = s.broker.t0
    good = batch(t0, [b"x"])
    short = bytearray(good)
    short[8:12] = (10).to_bytes(4, "big")
    magic3 = bytearray(good)
    magic3[16] = 3

    def two(p0, p1):
        return {"transactional_id": None, "acks": -1, "timeout_ms": 10000, "topic_data": [
            {"name": t, "partition_data": [{"index": 0, "records": p0},
                                           {"index": 1, "records": p1}]}]}
    s.call(PRODUCE, v, produce_body(t, 0, good + b"\0" * 7), label="fragment after a batch")
    s.call(PRODUCE, v, produce_body(t, 0, good + b"\0" * 20), label="corrupt second header")
    s.call(PRODUCE, v, two(good, bytes(short)), label="first header too short")
    s.call(PRODUCE, v, two(bytes(magic3), good), label="first magic 3")
    s.call(LIST_OFFSETS, V_LIST_OFFSETS, lo_body({t: [(0, -1), (1, -1)]}), label="what was written")


@scenario(PRODUCE)
def pr__transactional_batches(s, v):
    """A transactional batch without a transactional id fails the whole request; with one, and
    no transaction begun, it is refused."""
    t = s.topic()
    s.create_topic(t, partitions=2)
    txn = batch(s.broker.t0, [b"t"], attributes=0x10)
    plain = batch(s.broker.t0, [b"p"])
    body = {"transactional_id": None, "acks": -1, "timeout_ms": 10000, "topic_data": [
        {"name": t, "partition_data": [{"index": 0, "records": plain},
                                       {"index": 1, "records": txn}]}]}
    s.call(PRODUCE, v, body, label="no transactional id")
    body["transactional_id"] = "cf-no-such-transaction"
    s.call(PRODUCE, v, body, label="a transactional id")
    s.call(LIST_OFFSETS, V_LIST_OFFSETS, lo_body({t: [(0, -1), (1, -1)]}), label="what was written")


@scenario(PRODUCE)
def pr__timestamps_out_of_bounds(s, v):
    """KIP-937: records more than message.timestamp.after.max.ms (1 hour) ahead of the broker's
    clock are INVALID_TIMESTAMP with one record error each; a LogAppendTime topic takes them."""
    t = s.topic()
    s.create_topic(t)
    ahead = int(time.time() * 1000) + 2 * 3600 * 1000
    s.call(PRODUCE, v, produce_body(t, 0, batch(ahead, [b"x", b"y"])), label="two hours ahead")
    s.call(PRODUCE, v, produce_body(t, 0, batch(int(time.time() * 1000), [b"z"])), label="now")
    lat = s.topic("lat")
    s.create_topic(lat, configs={"message.timestamp.type": "LogAppendTime"})
    s.call(PRODUCE, v, produce_body(lat, 0, batch(ahead, [b"x"])), label="LogAppendTime topic")


@scenario(PRODUCE)
def pr__keyless_to_compacted(s, v):
    """Records without a key to a compacted topic (issue 12): the whole batch is refused with
    INVALID_RECORD and, from v8, one record error per keyless record; a keyed tombstone and an
    empty key are accepted; a delete topic takes a keyless record."""
    t = s.topic("compacted")
    s.create_topic(t, configs={"cleanup.policy": "compact"})
    t0 = s.broker.t0
    mixed = wire.batch_v2([(b"a", b"1"), (None, b"2"), (b"c", b"3"), (None, None)],
                          base_timestamp=t0)
    s.call(PRODUCE, v, produce_body(t, 0, mixed), label="keyless records")
    ok = wire.batch_v2([(b"a", None), (b"", b"empty key")], base_timestamp=t0)
    s.call(PRODUCE, v, produce_body(t, 0, ok), label="tombstone and empty key")
    d = s.topic("delete")
    s.create_topic(d)
    s.call(PRODUCE, v, produce_body(d, 0, wire.batch_v2([(None, b"x")], base_timestamp=t0)),
           label="keyless to delete topic")


@scenario(PRODUCE)
def pr__old_message_formats(s, v):
    """Magic 0 and 1 message sets (what v0-v2 clients send)."""
    t = s.topic()
    s.create_topic(t)
    s.call(PRODUCE, v, produce_body(t, 0, wire.message_set([(b"k", b"v")], 0)), label="magic 0")
    s.call(PRODUCE, v, produce_body(t, 0, wire.message_set([(b"k", b"v")], 1)), label="magic 1")


@scenario(PRODUCE)
def pr__too_large(s, v):
    """A batch above the topic's max.message.bytes is MESSAGE_TOO_LARGE."""
    t = s.topic()
    s.create_topic(t, configs={"max.message.bytes": "1000"})
    s.call(PRODUCE, v, produce_body(t, 0, batch(s.broker.t0, [b"x" * 2000])))


@scenario(PRODUCE)
def pr__compressed_and_log_append_time(s, v):
    """A gzip batch, and a batch into a LogAppendTime topic (log_append_time_ms v2+)."""
    t = s.topic()
    s.create_topic(t, configs={"message.timestamp.type": "LogAppendTime"})
    s.call(PRODUCE, v, produce_body(t, 0, wire.gzip_batch([(b"k", b"v1"), (b"k", b"v2")],
                                                         base_timestamp=s.broker.t0)),
           label="gzip")
    s.call(PRODUCE, v, produce_body(t, 0, batch(s.broker.t0, [b"x"])), label="plain")


@scenario(PRODUCE)
def pr__two_partitions_one_request(s, v):
    """One request for two partitions and a duplicate partition entry."""
    t = s.topic()
    s.create_topic(t, partitions=2)
    b = batch(s.broker.t0, [b"x"])
    s.call(PRODUCE, v, {"acks": -1, "timeout_ms": 10000, "topic_data": [
        {"name": t, "partition_data": [{"index": 0, "records": b}, {"index": 1, "records": b}]}]},
        label="two partitions")
    s.call(PRODUCE, v, {"acks": -1, "timeout_ms": 10000, "topic_data": [
        {"name": t, "partition_data": [{"index": 0, "records": b}, {"index": 0, "records": b}]}]},
        label="same partition twice")
    s.call(PRODUCE, v, {"acks": -1, "timeout_ms": 10000, "topic_data": []}, label="no topics")


# -- Fetch ----------------------------------------------------------------------------------------

@scenario(FETCH)
def fe__from_start(s, v):
    """Partition 0 of the fixture from offset 0: every batch, watermarks, LSO."""
    s.call(FETCH, v, fetch_body(s, v, FIX_DATA, [(0, 0, 1 << 20)]))


@scenario(FETCH)
def fe__mid_batch_and_end(s, v):
    """From inside the first batch (the whole batch comes back), at the end, empty partition."""
    s.call(FETCH, v, fetch_body(s, v, FIX_DATA, [(0, 1, 1 << 20)]), label="offset 1")
    s.call(FETCH, v, fetch_body(s, v, FIX_DATA, [(0, 6, 1 << 20)]), label="at high watermark")
    s.call(FETCH, v, fetch_body(s, v, FIX_DATA, [(2, 0, 1 << 20)]), label="empty partition")


@scenario(FETCH)
def fe__out_of_range(s, v):
    """An offset past the end and a negative one: OFFSET_OUT_OF_RANGE."""
    s.call(FETCH, v, fetch_body(s, v, FIX_DATA, [(0, 1000, 1 << 20)]), label="past end")
    s.call(FETCH, v, fetch_body(s, v, FIX_DATA, [(0, -5, 1 << 20)]), label="negative")


@scenario(FETCH)
def fe__unknown_topic_and_partition(s, v):
    """An unknown topic (v13+: an unknown topic id) and a partition out of range."""
    s.call(FETCH, v, fetch_body(s, v, MISSING, [(0, 0, 1 << 20)], topic_id=UNKNOWN_ID),
           label="unknown topic")
    s.call(FETCH, v, fetch_body(s, v, FIX_DATA, [(99, 0, 1 << 20)]), label="partition 99")


@scenario(FETCH)
def fe__small_max_bytes(s, v):
    """A partition_max_bytes and a max_bytes smaller than the first batch (KIP-74: the
    first batch comes whole from v3 on), and 0 bytes."""
    s.call(FETCH, v, fetch_body(s, v, FIX_DATA, [(0, 0, 10)]), label="partition max 10")
    s.call(FETCH, v, fetch_body(s, v, FIX_DATA, [(0, 0, 1 << 20)], max_bytes=10),
           label="max_bytes 10")
    s.call(FETCH, v, fetch_body(s, v, FIX_DATA, [(0, 0, 100)]), label="partition max 100")
    s.call(FETCH, v, fetch_body(s, v, FIX_DATA, [(0, 0, 0)]), label="partition max 0")


@scenario(FETCH)
def fe__read_committed(s, v):
    """isolation_level 1 (v4+): last stable offset = high watermark without transactions."""
    s.call(FETCH, v, fetch_body(s, v, FIX_DATA, [(0, 0, 1 << 20), (1, 0, 1 << 20)],
                                isolation=1))


@scenario(FETCH)
def fe__long_poll_times_out(s, v):
    """min_bytes 1 at the end of the log: an empty answer after max_wait_ms (200 ms)."""
    s.call(FETCH, v, fetch_body(s, v, FIX_DATA, [(0, 6, 1 << 20)], max_wait=200, min_bytes=1))


@scenario(FETCH, versions=(7, 0x7FFF))
def fe__sessions(s, v):
    """Fetch sessions (KIP-227): epoch 0 asks for a new session; an unknown session id."""
    s.call(FETCH, v, fetch_body(s, v, FIX_DATA, [(0, 0, 1 << 20)], session=(0, 0)),
           label="new session")
    s.call(FETCH, v, fetch_body(s, v, FIX_DATA, [(0, 0, 1 << 20)], session=(12345, 1)),
           label="unknown session")


@scenario(FETCH)
def fe__empty_request(s, v):
    """No topics at all."""
    body = fetch_body(s, v, FIX_DATA, [])
    body["topics"] = []
    s.call(FETCH, v, body)


@scenario(FETCH)
def fe__after_delete_records(s, v):
    """log_start_offset (v5+) after DeleteRecords, and a fetch below it."""
    t = s.topic()
    s.create_topic(t)
    s.produce(t, 0, [batch(s.broker.t0, [b"1", b"2"]), batch(s.broker.t0, [b"3"])])
    s.setup(DELETE_RECORDS, 1, {"topics": [{"name": t, "partitions": [
        {"partition_index": 0, "offset": 2}]}], "timeout_ms": 10000})
    s.call(FETCH, v, fetch_body(s, v, t, [(0, 2, 1 << 20)]), label="from log start")
    s.call(FETCH, v, fetch_body(s, v, t, [(0, 0, 1 << 20)]), label="below log start")


# -- ListOffsets ----------------------------------------------------------------------------------

@scenario(LIST_OFFSETS)
def lo__earliest_latest(s, v):
    """Earliest (-2) and latest (-1) of a partition with data and an empty one."""
    s.call(LIST_OFFSETS, v, lo_body({FIX_DATA: [(0, -2), (1, -1), (2, -2)]}), label="mixed")
    s.call(LIST_OFFSETS, v, lo_body({FIX_DATA: [(0, -1)]}), label="latest")


@scenario(LIST_OFFSETS)
def lo__by_timestamp(s, v):
    """By timestamp: the first record at or after it (v1+), before all, after all."""
    t0 = s.broker.t0
    s.call(LIST_OFFSETS, v, lo_body({FIX_DATA: [(0, t0 + 1500)]}), label="inside batch")
    s.call(LIST_OFFSETS, v, lo_body({FIX_DATA: [(0, t0 - 1)]}), label="before all")
    s.call(LIST_OFFSETS, v, lo_body({FIX_DATA: [(0, t0 + 10 ** 7)]}), label="after all")
    s.call(LIST_OFFSETS, v, lo_body({FIX_DATA: [(2, t0)]}), label="empty partition")


@scenario(LIST_OFFSETS)
def lo__special_timestamps(s, v):
    """Max timestamp (-3, v7+), earliest local (-4, v8+), latest tiered (-5, v9+) and an
    undefined negative one (-6), at every version (older ones should refuse them)."""
    for ts in (-3, -4, -5, -6):
        s.call(LIST_OFFSETS, v, lo_body({FIX_DATA: [(0, ts)]}), label="timestamp %d" % ts)


@scenario(LIST_OFFSETS)
def lo__unknown_topic_and_partition(s, v):
    """An unknown topic and partition 99."""
    s.call(LIST_OFFSETS, v, lo_body({MISSING: [(0, -1)]}), label="unknown topic")
    s.call(LIST_OFFSETS, v, lo_body({FIX_DATA: [(99, -1)]}), label="partition 99")


@scenario(LIST_OFFSETS)
def lo__duplicate_partition(s, v):
    """The same partition twice in one request."""
    s.call(LIST_OFFSETS, v, lo_body({FIX_DATA: [(0, -1), (0, -2)]}))


@scenario(LIST_OFFSETS, versions=(2, 0x7FFF))
def lo__read_committed(s, v):
    """isolation_level 1 (v2+): latest is the last stable offset."""
    s.call(LIST_OFFSETS, v, lo_body({FIX_DATA: [(0, -1)]}, isolation=1))


@scenario(LIST_OFFSETS, versions=(4, 0x7FFF))
def lo__leader_epoch_check(s, v):
    """current_leader_epoch (v4+) above the leader's (0) and below it."""
    s.call(LIST_OFFSETS, v, lo_body({FIX_DATA: [(0, -1)]}, epoch=5), label="epoch 5")
    s.call(LIST_OFFSETS, v, lo_body({FIX_DATA: [(0, -1)]}, epoch=0), label="epoch 0")


@scenario(LIST_OFFSETS)
def lo__after_delete_records(s, v):
    """Earliest follows the log start offset after DeleteRecords."""
    t = s.topic()
    s.create_topic(t)
    s.produce(t, 0, [batch(s.broker.t0, [b"1", b"2", b"3"])])
    s.setup(DELETE_RECORDS, 1, {"topics": [{"name": t, "partitions": [
        {"partition_index": 0, "offset": 2}]}], "timeout_ms": 10000})
    s.call(LIST_OFFSETS, v, lo_body({t: [(0, -2)]}),
           label="earliest")
    s.call(LIST_OFFSETS, v, lo_body({t: [(0, s.broker.t0)]}), label="timestamp below start")


# -- FindCoordinator ------------------------------------------------------------------------------

def fc_body(v, keys, key_type=0):
    if v >= 4:
        return {"key_type": key_type, "coordinator_keys": keys}
    return {"key": keys[0], "key_type": key_type}


@scenario(FIND_COORDINATOR)
def fc__group(s, v):
    """The coordinator of a group: this node."""
    s.call(FIND_COORDINATOR, v, fc_body(v, [FIX_GROUP]))


@scenario(FIND_COORDINATOR)
def fc__edge_keys(s, v):
    """An empty group id, a 300-character one, and (v1+) an unknown key type (share groups
    are type 2, out of range 7)."""
    s.call(FIND_COORDINATOR, v, fc_body(v, [""]), label="empty key")
    s.call(FIND_COORDINATOR, v, fc_body(v, ["g" * 300]), label="long key")
    if v >= 1:
        s.call(FIND_COORDINATOR, v, fc_body(v, [FIX_GROUP], key_type=7), label="key type 7")


@scenario(FIND_COORDINATOR, versions=(4, 0x7FFF))
def fc__batch(s, v):
    """Several keys in one request (v4+), one of them empty, and none."""
    s.call(FIND_COORDINATOR, v, fc_body(v, [FIX_GROUP, "", "cf-other"]), label="three keys")
    s.call(FIND_COORDINATOR, v, fc_body(v, []), label="no keys")


# -- classic groups -------------------------------------------------------------------------------

def subscription(topics):
    """ConsumerProtocolSubscription v0: what a consumer sends as its protocol metadata."""
    out = struct.pack(">hi", 0, len(topics))
    for t in topics:
        out += struct.pack(">h", len(t)) + t.encode()
    return out + struct.pack(">i", -1)


def sync_body(group, gen, member, assignments=None, protocol="range"):
    return {"group_id": group, "generation_id": gen, "member_id": member,
            "protocol_type": "consumer", "protocol_name": protocol,
            "assignments": [{"member_id": member, "assignment": b"\x00\x00"}]
            if assignments is None else assignments}


def leave(s, group, member, version=V_LEAVE, label=None, compare=False):
    body = {"group_id": group, "member_id": member,
            "members": [{"member_id": member, "group_instance_id": None}]}
    if compare:
        return s.call(LEAVE_GROUP, version, body, label=label)
    return s.setup(LEAVE_GROUP, version, body)


@scenario(JOIN_GROUP)
def jg__join_sync_leave(s, v):
    """A new member joins (v4+: MEMBER_ID_REQUIRED first, then with the given id), syncs,
    and leaves."""
    g = s.group()
    resp = s.join(g, version=v)
    if resp is None or resp["error_code"] != 0:
        return
    member, gen = resp["member_id"], resp["generation_id"]
    s.call(SYNC_GROUP, V_SYNC, sync_body(g, gen, member), label="sync")
    s.call(DESCRIBE_GROUPS, 5, {"groups": [g]}, label="describe")
    leave(s, g, member, label="leave", compare=True)


@scenario(JOIN_GROUP)
def jg__invalid_requests(s, v):
    """An empty group id, a too short session timeout, an unknown member id on a new group,
    no protocols, an empty protocol type."""
    body = {"group_id": s.group(), "session_timeout_ms": SESSION_MS,
            "rebalance_timeout_ms": REBALANCE_MS, "member_id": "", "protocol_type": "consumer",
            "protocols": [{"name": "range", "metadata": b""}]}
    s.call(JOIN_GROUP, v, dict(body, group_id=""), label="empty group id")
    s.call(JOIN_GROUP, v, dict(body, session_timeout_ms=1), label="session 1 ms")
    s.call(JOIN_GROUP, v, dict(body, session_timeout_ms=3600001), label="session 1 h")
    s.call(JOIN_GROUP, v, dict(body, member_id="cf-ghost"), label="unknown member")
    s.call(JOIN_GROUP, v, dict(body, protocols=[]), label="no protocols")
    s.call(JOIN_GROUP, v, dict(body, protocol_type=""), label="empty protocol type")


@scenario(JOIN_GROUP)
def jg__inconsistent_protocol(s, v):
    """A second member whose protocol type or protocols the group does not share."""
    g = s.group()
    member, _ = s.stable_member(g)
    s.call(JOIN_GROUP, v, {"group_id": g, "session_timeout_ms": SESSION_MS,
                           "rebalance_timeout_ms": REBALANCE_MS, "member_id": "",
                           "protocol_type": "connect",
                           "protocols": [{"name": "range", "metadata": b""}]},
           label="other protocol type")
    s.call(JOIN_GROUP, v, {"group_id": g, "session_timeout_ms": SESSION_MS,
                           "rebalance_timeout_ms": REBALANCE_MS, "member_id": "",
                           "protocol_type": "consumer",
                           "protocols": [{"name": "roundrobin", "metadata": b""}]},
           label="no common protocol")
    leave(s, g, member)


@scenario(JOIN_GROUP, versions=(5, 0x7FFF))
def jg__static_member(s, v):
    """A static member (group_instance_id, v5+) joins without MEMBER_ID_REQUIRED; the same
    instance id with another member id is fenced."""
    g = s.group()
    resp = s.join(g, version=v, instance="cf-instance-1")
    if resp is None or resp["error_code"] != 0:
        return
    s.call(SYNC_GROUP, 5, dict(sync_body(g, resp["generation_id"], resp["member_id"]),
                               group_instance_id="cf-instance-1"), label="sync")
    s.call(HEARTBEAT, 4, {"group_id": g, "generation_id": resp["generation_id"],
                          "member_id": "cf-other-member", "group_instance_id": "cf-instance-1"},
           label="fenced heartbeat")
    s.call(LEAVE_GROUP, 5, {"group_id": g, "members": [
        {"member_id": resp["member_id"], "group_instance_id": "cf-instance-1"}]}, label="leave")


@scenario(SYNC_GROUP)
def sg__sync(s, v):
    """The leader's SyncGroup with its assignment, then a follower-style one without."""
    g = s.group()
    resp = s.setup(JOIN_GROUP, V_JOIN, {"group_id": g, "session_timeout_ms": SESSION_MS,
                                        "rebalance_timeout_ms": REBALANCE_MS,
                                        "member_id": "", "group_instance_id": "cf-i",
                                        "protocol_type": "consumer", "protocols": [
                                            {"name": "range", "metadata": b"\x00"}]})
    member, gen = resp["member_id"], resp["generation_id"]
    body = sync_body(g, gen, member, assignments=[{"member_id": member,
                                                   "assignment": b"\x00\x07cf"}])
    body["group_instance_id"] = "cf-i"
    s.call(SYNC_GROUP, v, body, label="leader")
    s.call(SYNC_GROUP, v, dict(body, assignments=[]), label="again without assignments")
    s.setup(LEAVE_GROUP, V_LEAVE, {"group_id": g, "members": [
        {"member_id": member, "group_instance_id": "cf-i"}]})


@scenario(SYNC_GROUP)
def sg__errors(s, v):
    """An unknown group, a wrong generation, an unknown member, an empty group id, and (v5)
    a protocol type or name that is not the group's."""
    g = s.group()
    member, gen = s.stable_member(g)
    s.call(SYNC_GROUP, v, sync_body(s.group("missing"), 1, "cf-m"), label="unknown group")
    s.call(SYNC_GROUP, v, sync_body(g, gen + 5, member), label="wrong generation")
    s.call(SYNC_GROUP, v, sync_body(g, gen, "cf-ghost"), label="unknown member")
    s.call(SYNC_GROUP, v, sync_body("", gen, member), label="empty group id")
    if v >= 5:
        s.call(SYNC_GROUP, v, dict(sync_body(g, gen, member), protocol_type="connect"),
               label="other protocol type")
        s.call(SYNC_GROUP, v, sync_body(g, gen, member, protocol="roundrobin"),
               label="other protocol name")
    leave(s, g, member)


@scenario(HEARTBEAT)
def hb__heartbeat(s, v):
    """A member's heartbeat, then a wrong generation, an unknown member, an unknown group
    and an empty group id."""
    g = s.group()
    member, gen = s.stable_member(g)
    body = {"group_id": g, "generation_id": gen, "member_id": member}
    s.call(HEARTBEAT, v, body, label="member")
    s.call(HEARTBEAT, v, dict(body, generation_id=gen + 1), label="wrong generation")
    s.call(HEARTBEAT, v, dict(body, member_id="cf-ghost"), label="unknown member")
    s.call(HEARTBEAT, v, dict(body, group_id=s.group("missing")), label="unknown group")
    s.call(HEARTBEAT, v, dict(body, group_id=""), label="empty group id")
    leave(s, g, member)


@scenario(HEARTBEAT)
def hb__during_rebalance(s, v):
    """A heartbeat while a second member's join has started a rebalance: REBALANCE_IN_PROGRESS
    (the second member's JoinGroup is not awaited: its answer comes after the first rejoins or
    the rebalance times out, and its connection is dropped)."""
    g = s.group()
    member, gen = s.stable_member(g)
    other = Session(s.broker, s.sc, s.v, tag=s.tag)
    try:
        other.exchange(JOIN_GROUP, V_JOIN, {"group_id": g, "session_timeout_ms": SESSION_MS,
                                            "rebalance_timeout_ms": REBALANCE_MS,
                                            "member_id": "", "group_instance_id": "cf-second",
                                            "protocol_type": "consumer",
                                            "protocols": [{"name": "range", "metadata": b""}]},
                       expect_answer=False)
        time.sleep(0.2)
        s.call(HEARTBEAT, v, {"group_id": g, "generation_id": gen, "member_id": member},
               label="during rebalance")
    finally:
        other.close()
    leave(s, g, member)


@scenario(LEAVE_GROUP)
def lv__leave(s, v):
    """A member leaves; leaving again; an unknown group; an empty group id."""
    g = s.group()
    member, _ = s.stable_member(g)
    body = {"group_id": g, "member_id": member,
            "members": [{"member_id": member, "group_instance_id": None, "reason": "done"}]}
    s.call(LEAVE_GROUP, v, body, label="leave")
    s.call(LEAVE_GROUP, v, body, label="again")
    s.call(LEAVE_GROUP, v, dict(body, group_id=s.group("missing")), label="unknown group")
    s.call(LEAVE_GROUP, v, dict(body, group_id=""), label="empty group id")
    s.call(DESCRIBE_GROUPS, 5, {"groups": [g]}, label="describe")


@scenario(LEAVE_GROUP, versions=(3, 0x7FFF))
def lv__batch(s, v):
    """Several members at once (v3+): a known one, an unknown one, an unknown static one; and
    an empty members array."""
    g = s.group()
    member, _ = s.stable_member(g)
    s.call(LEAVE_GROUP, v, {"group_id": g, "members": [
        {"member_id": member}, {"member_id": "cf-ghost"},
        {"member_id": "", "group_instance_id": "cf-ghost-instance"}]}, label="three")
    s.call(LEAVE_GROUP, v, {"group_id": g, "members": []}, label="none")


@scenario(DESCRIBE_GROUPS)
def dg__describe(s, v):
    """A stable group with one member, an empty group with offsets, an unknown group, an
    empty id, all in one request."""
    g = s.group()
    member, _ = s.stable_member(g, protocols=[{"name": "range",
                                                 "metadata": subscription([FIX_DATA])}])
    s.call(DESCRIBE_GROUPS, v, {"groups": [g, FIX_GROUP, s.group("missing"), ""],
                                "include_authorized_operations": True})
    leave(s, g, member)


@scenario(DESCRIBE_GROUPS)
def dg__empty_request(s, v):
    """No groups at all."""
    s.call(DESCRIBE_GROUPS, v, {"groups": []})


@scenario(LIST_GROUPS)
def lg__list(s, v):
    """The groups (compared for this scenario's and the fixture's only) and, v4+, filtered
    by state, including a state that does not exist; v5+ by type."""
    g = s.group()
    member, _ = s.stable_member(g)
    s.call(LIST_GROUPS, v, {}, label="all", scope=True)
    if v >= 5:
        s.call(LIST_GROUPS, v, {"types_filter": ["classic"]}, label="classic", scope=True)
        s.call(LIST_GROUPS, v, {"types_filter": ["consumer"]}, label="consumer", scope=True)
        s.call(LIST_GROUPS, v, {"types_filter": ["Classic", "nope"]}, label="odd types",
               scope=True)
    if v >= 4:
        s.call(LIST_GROUPS, v, {"states_filter": ["Stable"]}, label="stable", scope=True)
        s.call(LIST_GROUPS, v, {"states_filter": ["Empty", "Dead"]}, label="empty or dead",
               scope=True)
        s.call(LIST_GROUPS, v, {"states_filter": ["Nope"]}, label="unknown state", scope=True)
    leave(s, g, member)


@scenario(DELETE_GROUPS)
def dlg__delete(s, v):
    """An empty group with offsets is deleted (then gone); a group with a member is not; an
    unknown group; an empty id; the same group twice."""
    g = s.group()
    s.commit(g, FIX_DATA, {0: 1})
    busy = s.group("busy")
    member, _ = s.stable_member(busy)
    s.call(DELETE_GROUPS, v, {"groups_names": [g]}, label="empty group")
    s.call(OFFSET_FETCH, V_OFFSET_FETCH, of_body(V_OFFSET_FETCH, g, {FIX_DATA: [0]}),
           label="offsets after")
    s.call(DELETE_GROUPS, v, {"groups_names": [g, busy, "", s.group("missing")]},
           label="mixed")
    g2 = s.group("twice")
    s.commit(g2, FIX_DATA, {0: 1})
    s.call(DELETE_GROUPS, v, {"groups_names": [g2, g2]}, label="same group twice")
    s.call(DELETE_GROUPS, v, {"groups_names": []}, label="none")
    leave(s, busy, member)


# -- OffsetCommit, OffsetFetch, OffsetDelete ------------------------------------------------------

@scenario(OFFSET_COMMIT)
def oc__standalone(s, v):
    """A commit outside the group protocol (generation -1, no member), read back."""
    g = s.group()
    s.call(OFFSET_COMMIT, v, oc_body(g, FIX_DATA, {0: 3, 1: 1}))
    s.call(OFFSET_FETCH, V_OFFSET_FETCH, of_body(V_OFFSET_FETCH, g, {FIX_DATA: [0, 1, 2]}),
           label="read back")


@scenario(OFFSET_COMMIT)
def oc__errors(s, v):
    """An unknown topic, partition 99, metadata too large (4097 bytes), a null metadata, a
    negative offset, an empty group id, an unknown member of an unknown group."""
    g = s.group()
    s.call(OFFSET_COMMIT, v, oc_body(g, MISSING, {0: 1}), label="unknown topic")
    s.call(OFFSET_COMMIT, v, oc_body(g, FIX_DATA, {99: 1}), label="partition 99")
    s.call(OFFSET_COMMIT, v, oc_body(g, FIX_DATA, {0: 1}, metadata="m" * 4097),
           label="metadata too large")
    s.call(OFFSET_COMMIT, v, oc_body(g, FIX_DATA, {0: 1}, metadata=None), label="null metadata")
    s.call(OFFSET_COMMIT, v, oc_body(g, FIX_DATA, {1: -5}), label="negative offset")
    s.call(OFFSET_COMMIT, v, oc_body("", FIX_DATA, {0: 1}), label="empty group id")
    s.call(OFFSET_COMMIT, v, oc_body(s.group("other"), FIX_DATA, {0: 1}, generation=3,
                                     member="cf-ghost"), label="unknown member")
    s.call(OFFSET_FETCH, V_OFFSET_FETCH, of_body(V_OFFSET_FETCH, g, {FIX_DATA: [0, 1]}),
           label="read back")


@scenario(OFFSET_COMMIT)
def oc__in_group(s, v):
    """A member commits with its generation; then a wrong generation and an unknown member."""
    g = s.group()
    member, gen = s.stable_member(g)
    s.call(OFFSET_COMMIT, v, oc_body(g, FIX_DATA, {0: 2}, generation=gen, member=member),
           label="member")
    s.call(OFFSET_COMMIT, v, oc_body(g, FIX_DATA, {0: 2}, generation=gen + 1, member=member),
           label="wrong generation")
    s.call(OFFSET_COMMIT, v, oc_body(g, FIX_DATA, {0: 2}, generation=gen, member="cf-ghost"),
           label="unknown member")
    s.call(OFFSET_COMMIT, v, oc_body(g, FIX_DATA, {0: 2}), label="standalone into live group")
    leave(s, g, member)


@scenario(OFFSET_COMMIT)
def oc__empty_topics(s, v):
    """A commit with no topics."""
    s.call(OFFSET_COMMIT, v, dict(oc_body(s.group(), FIX_DATA, {}), topics=[]))


@scenario(OFFSET_FETCH)
def of__committed(s, v):
    """The fixture group's offsets: two committed partitions, one without, and an unknown
    topic."""
    s.call(OFFSET_FETCH, v, of_body(v, FIX_GROUP, {FIX_DATA: [0, 1, 2], MISSING: [0]}))


@scenario(OFFSET_FETCH, versions=(2, 0x7FFF))
def of__all_partitions(s, v):
    """Null topics (v2+): every partition the group has offsets for."""
    s.call(OFFSET_FETCH, v, of_body(v, FIX_GROUP, None))


@scenario(OFFSET_FETCH)
def of__unknown_group(s, v):
    """A group with no offsets, an empty group id, no topics."""
    s.call(OFFSET_FETCH, v, of_body(v, s.group("missing"), {FIX_DATA: [0]}), label="unknown")
    s.call(OFFSET_FETCH, v, of_body(v, "", {FIX_DATA: [0]}), label="empty group id")
    s.call(OFFSET_FETCH, v, of_body(v, FIX_GROUP, {}), label="no topics")


@scenario(OFFSET_FETCH, versions=(7, 0x7FFF))
def of__require_stable(s, v):
    """require_stable (v7+) with no commit pending."""
    s.call(OFFSET_FETCH, v, of_body(v, FIX_GROUP, {FIX_DATA: [0]}, require_stable=True))


@scenario(OFFSET_FETCH, versions=(8, 0x7FFF))
def of__several_groups(s, v):
    """Several groups in one request (v8+), one asking for all its partitions."""
    s.call(OFFSET_FETCH, v, {"groups": [
        {"group_id": FIX_GROUP, "topics": [{"name": FIX_DATA, "partition_indexes": [0]}]},
        {"group_id": s.group("missing"), "topics": None},
        {"group_id": FIX_GROUP, "topics": None}], "require_stable": False})


@scenario(OFFSET_DELETE)
def od__delete(s, v):
    """Offsets of an empty group: one partition deleted, an unknown topic, an unknown group,
    and a group whose member subscribes to the topic (GROUP_SUBSCRIBED_TO_TOPIC)."""
    g = s.group()
    s.commit(g, FIX_DATA, {0: 1, 1: 1})
    body = {"group_id": g, "topics": [{"name": FIX_DATA, "partitions": [
        {"partition_index": 0}]}]}
    s.call(OFFSET_DELETE, v, body, label="one partition")
    s.call(OFFSET_FETCH, V_OFFSET_FETCH, of_body(V_OFFSET_FETCH, g, {FIX_DATA: [0, 1]}),
           label="read back")
    s.call(OFFSET_DELETE, v, {"group_id": g, "topics": [
        {"name": MISSING, "partitions": [{"partition_index": 0}]},
        {"name": FIX_DATA, "partitions": [{"partition_index": 99}]}]}, label="unknown")
    s.call(OFFSET_DELETE, v, dict(body, group_id=s.group("missing")), label="unknown group")
    s.call(OFFSET_DELETE, v, dict(body, group_id=""), label="empty group id")
    busy = s.group("busy")
    member, gen = s.stable_member(busy, protocols=[{"name": "range",
                                                    "metadata": subscription([FIX_DATA])}])
    s.commit(busy, FIX_DATA, {0: 1}, generation=gen, member=member)
    s.call(OFFSET_DELETE, v, dict(body, group_id=busy), label="subscribed")
    leave(s, busy, member)


# -- CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords -----------------------------------

@scenario(CREATE_TOPICS)
def ct__create(s, v):
    """A topic of 3 partitions; then Metadata shows it."""
    t = s.topic()
    s.call(CREATE_TOPICS, v, ct_body([ct_topic(t, 3)]), label="create")
    md_settle(s, [t], partitions_are(t, 3))
    s.call(METADATA, V_METADATA, md_body(V_METADATA, [t]), label="metadata")


@scenario(CREATE_TOPICS)
def ct__with_configs(s, v):
    """Configs given at creation (v5+ answers with the topic's whole configuration)."""
    t = s.topic()
    s.call(CREATE_TOPICS, v, ct_body([ct_topic(t, 2, configs={
        "cleanup.policy": "compact", "retention.ms": "3600000", "max.message.bytes": "20000"})]))


@scenario(CREATE_TOPICS)
def ct__validate_only(s, v):
    """validate_only (v1+): the answer a real creation would get, and nothing created."""
    t = s.topic()
    s.call(CREATE_TOPICS, v, ct_body([ct_topic(t, 2)], validate_only=True), label="validate")
    s.call(CREATE_TOPICS, v, ct_body([ct_topic(FIX_DATA, 2)], validate_only=True),
           label="validate existing")
    s.call(METADATA, V_METADATA, md_body(V_METADATA, [t]), label="metadata")


@scenario(CREATE_TOPICS)
def ct__invalid_topics(s, v):
    """An existing topic, illegal and too long names, 0 and -2 partitions, replication factor
    0 and 3, an unknown broker in an assignment, assignments beside a partition count."""
    t = s.topic
    s.call(CREATE_TOPICS, v, ct_body([
        ct_topic(FIX_DATA), ct_topic(BAD_NAME), ct_topic(LONG_NAME), ct_topic("."),
        ct_topic(t("zero"), 0), ct_topic(t("neg"), -2), ct_topic(t("rf0"), 1, rf=0),
        ct_topic(t("rf3"), 1, rf=3),
        ct_topic(t("broker7"), -1, rf=-1, assignments=[{"partition_index": 0,
                                                         "broker_ids": [7]}]),
        ct_topic(t("both"), 2, rf=1, assignments=[{"partition_index": 0, "broker_ids": [1]}]),
    ]), label="invalid")


@scenario(CREATE_TOPICS)
def ct__invalid_configs(s, v):
    """An unknown config name, a value of the wrong type, a value out of range, a null value,
    a broker-only config, a config Kafka 4 removed, Kafka 4's own checks (gzip level,
    throttled replicas, tiered storage on a broker without it) and the same config twice."""
    t = s.topic
    s.call(CREATE_TOPICS, v, ct_body([
        ct_topic(t("unknown"), configs={"no.such.config": "1"}),
        ct_topic(t("type"), configs={"retention.ms": "soon"}),
        ct_topic(t("range"), configs={"min.insync.replicas": "0"}),
        ct_topic(t("enum"), configs={"cleanup.policy": "sometimes"}),
        {"name": t("null"), "num_partitions": 1, "replication_factor": 1, "assignments": [],
         "configs": [{"name": "retention.ms", "value": None}]},
        ct_topic(t("broker"), configs={"log.retention.ms": "1000"}),
        ct_topic(t("removed"), configs={"message.downconversion.enable": "true"}),
        ct_topic(t("gzip"), configs={"compression.gzip.level": "0"}),
        ct_topic(t("throttled"), configs={"leader.replication.throttled.replicas": "0:1,*"}),
        ct_topic(t("tiered"), configs={"remote.storage.enable": "true"}),
        {"name": t("twice"), "num_partitions": 1, "replication_factor": 1, "assignments": [],
         "configs": [{"name": "retention.ms", "value": "1000"},
                     {"name": "retention.ms", "value": "2000"}]},
    ]), label="invalid configs")


@scenario(CREATE_TOPICS)
def ct__compaction_configs(s, v):
    """The compaction keys (issue 12): values out of range or of the wrong type, the lag pair
    inverted, a cleanup.policy list with a bad or an empty element; then a valid set."""
    t = s.topic
    s.call(CREATE_TOPICS, v, ct_body([
        ct_topic(t("ratio-high"), configs={"min.cleanable.dirty.ratio": "1.5"}),
        ct_topic(t("ratio-low"), configs={"min.cleanable.dirty.ratio": "-0.1"}),
        ct_topic(t("ratio-type"), configs={"min.cleanable.dirty.ratio": "abc"}),
        ct_topic(t("delete-retention"), configs={"delete.retention.ms": "-1"}),
        ct_topic(t("min-lag"), configs={"min.compaction.lag.ms": "-1"}),
        ct_topic(t("max-lag"), configs={"max.compaction.lag.ms": "0"}),
        ct_topic(t("lags"), configs={"min.compaction.lag.ms": "5000",
                                     "max.compaction.lag.ms": "1000"}),
        ct_topic(t("policy-bad"), configs={"cleanup.policy": "compact,foo"}),
        ct_topic(t("policy-empty-item"), configs={"cleanup.policy": "compact,"}),
        ct_topic(t("valid"), configs={"cleanup.policy": "compact,delete",
                                      "min.cleanable.dirty.ratio": "0.1",
                                      "delete.retention.ms": "1000",
                                      "min.compaction.lag.ms": "0",
                                      "max.compaction.lag.ms": "60000"}),
    ], validate_only=True), label="compaction configs")


@scenario(CREATE_TOPICS)
def ct__duplicate_and_empty(s, v):
    """The same name twice in one request (both fail), and no topics."""
    t = s.topic()
    s.call(CREATE_TOPICS, v, ct_body([ct_topic(t), ct_topic(t)]), label="duplicate")
    s.call(CREATE_TOPICS, v, ct_body([]), label="empty")


@scenario(CREATE_TOPICS, versions=(4, 0x7FFF))
def ct__broker_defaults(s, v):
    """num_partitions and replication_factor -1 (v4+): the broker's defaults; an explicit
    assignment of two partitions."""
    t = s.topic
    s.call(CREATE_TOPICS, v, ct_body([
        ct_topic(t("defaults"), -1, rf=-1),
        ct_topic(t("assigned"), -1, rf=-1, assignments=[
            {"partition_index": 0, "broker_ids": [1]},
            {"partition_index": 1, "broker_ids": [1]}]),
        ct_topic(t("gap"), -1, rf=-1, assignments=[
            {"partition_index": 0, "broker_ids": [1]},
            {"partition_index": 2, "broker_ids": [1]}]),
        ct_topic(t("dup-broker"), -1, rf=-1, assignments=[
            {"partition_index": 0, "broker_ids": [1, 1]}]),
    ]))
    md_settle(s, [t("defaults"), t("assigned")],
              lambda ts: partitions_are(t("defaults"), 1)(ts) and
              partitions_are(t("assigned"), 2)(ts))
    s.call(METADATA, V_METADATA, md_body(V_METADATA, [t("defaults"), t("assigned")]),
           label="metadata")


@scenario(DELETE_TOPICS)
def dt__delete(s, v):
    """A topic deleted by name, then gone; deleting it again."""
    t = s.topic()
    s.create_topic(t)
    body = {"topic_names": [t], "topics": [{"name": t}], "timeout_ms": 10000}
    s.call(DELETE_TOPICS, v, body, label="delete")
    md_settle(s, [t], lambda ts: ts[t]["error_code"] != 0)
    s.call(METADATA, V_METADATA, md_body(V_METADATA, [t]), label="metadata")
    s.call(DELETE_TOPICS, v, body, label="again")


@scenario(DELETE_TOPICS)
def dt__invalid(s, v):
    """Unknown, illegal and empty names, the same topic twice, and no topics."""
    names = [MISSING, BAD_NAME, ""]
    s.call(DELETE_TOPICS, v, {"topic_names": names, "topics": [{"name": n} for n in names],
                              "timeout_ms": 10000}, label="invalid")
    t = s.topic()
    s.create_topic(t)
    s.call(DELETE_TOPICS, v, {"topic_names": [t, t], "topics": [{"name": t}, {"name": t}],
                              "timeout_ms": 10000}, label="twice")
    s.call(DELETE_TOPICS, v, {"topic_names": [], "topics": [], "timeout_ms": 10000},
           label="none")


@scenario(DELETE_TOPICS, versions=(6, 0x7FFF))
def dt__by_id(s, v):
    """By topic id (v6+): a known id, an unknown id, a name and an id together, neither."""
    t = s.topic()
    tid = s.create_topic(t)
    s.call(DELETE_TOPICS, v, {"topics": [{"name": None, "topic_id": tid}],
                              "timeout_ms": 10000}, label="known id")
    s.call(DELETE_TOPICS, v, {"topics": [{"name": None, "topic_id": UNKNOWN_ID}],
                              "timeout_ms": 10000}, label="unknown id")
    s.call(DELETE_TOPICS, v, {"topics": [{"name": FIX_DATA, "topic_id": UNKNOWN_ID}],
                              "timeout_ms": 10000}, label="name and id")
    s.call(DELETE_TOPICS, v, {"topics": [{"name": None}], "timeout_ms": 10000},
           label="neither")


@scenario(CREATE_PARTITIONS)
def cp__grow(s, v):
    """A topic grows from 1 to 3 partitions; Metadata shows them."""
    t = s.topic()
    s.create_topic(t)
    s.call(CREATE_PARTITIONS, v, {"topics": [{"name": t, "count": 3, "assignments": None}],
                                  "timeout_ms": 10000, "validate_only": False}, label="grow")
    md_settle(s, [t], partitions_are(t, 3))
    s.call(METADATA, V_METADATA, md_body(V_METADATA, [t]), label="metadata")


@scenario(CREATE_PARTITIONS)
def cp__invalid(s, v):
    """Fewer or as many partitions as now, an unknown topic, validate_only, assignments that
    do not fit, an unknown broker, the same topic twice, no topics."""
    t = s.topic()
    s.create_topic(t, partitions=2)

    def one(name, count, assignments=None):
        return {"name": name, "count": count, "assignments": assignments}
    req = {"timeout_ms": 10000, "validate_only": False}
    s.call(CREATE_PARTITIONS, v, dict(req, topics=[one(t, 1)]), label="fewer")
    s.call(CREATE_PARTITIONS, v, dict(req, topics=[one(t, 2)]), label="same")
    s.call(CREATE_PARTITIONS, v, dict(req, topics=[one(MISSING, 2)]), label="unknown topic")
    s.call(CREATE_PARTITIONS, v, dict(req, topics=[one(t, 4)], validate_only=True),
           label="validate only")
    s.call(CREATE_PARTITIONS, v, dict(req, topics=[one(t, 4, [{"broker_ids": [1]}])]),
           label="assignments short")
    s.call(CREATE_PARTITIONS, v, dict(req, topics=[one(t, 3, [{"broker_ids": [7]}])]),
           label="unknown broker")
    s.call(CREATE_PARTITIONS, v, dict(req, topics=[one(t, 3), one(t, 4)]), label="twice")
    s.call(CREATE_PARTITIONS, v, dict(req, topics=[]), label="none")
    s.call(METADATA, V_METADATA, md_body(V_METADATA, [t]), label="metadata")


@scenario(DELETE_RECORDS)
def dr__delete(s, v):
    """Up to offset 2, to the high watermark (-1), past it, and below the new start; then
    earliest offsets."""
    t = s.topic()
    s.create_topic(t, partitions=2)
    s.produce(t, 0, [batch(s.broker.t0, [b"1", b"2", b"3"]), batch(s.broker.t0, [b"4", b"5"])])

    def body(parts):
        return {"topics": [{"name": t, "partitions": [
            {"partition_index": p, "offset": o} for p, o in parts]}], "timeout_ms": 10000}
    s.call(DELETE_RECORDS, v, body([(0, 2)]), label="to 2")
    s.call(DELETE_RECORDS, v, body([(0, 1)]), label="below start")
    s.call(DELETE_RECORDS, v, body([(0, 100)]), label="past end")
    s.call(DELETE_RECORDS, v, body([(0, -1), (1, -1)]), label="to high watermark")
    s.call(DELETE_RECORDS, v, body([(0, -7)]), label="negative")
    s.call(LIST_OFFSETS, V_LIST_OFFSETS, lo_body({t: [(0, -2), (1, -2)]}), label="earliest")


@scenario(DELETE_RECORDS)
def dr__unknown(s, v):
    """An unknown topic, partition 99, the same partition twice, no topics."""
    s.call(DELETE_RECORDS, v, {"topics": [
        {"name": MISSING, "partitions": [{"partition_index": 0, "offset": 0}]},
        {"name": FIX_DATA, "partitions": [{"partition_index": 99, "offset": 0}]}],
        "timeout_ms": 10000}, label="unknown")
    t = s.topic()
    s.create_topic(t)
    s.call(DELETE_RECORDS, v, {"topics": [{"name": t, "partitions": [
        {"partition_index": 0, "offset": 0}, {"partition_index": 0, "offset": 0}]}],
        "timeout_ms": 10000}, label="twice")
    s.call(DELETE_RECORDS, v, {"topics": [], "timeout_ms": 10000}, label="none")


# -- configs --------------------------------------------------------------------------------------

@scenario(DESCRIBE_CONFIGS)
def dc__topic_all(s, v):
    """Every config of a topic without overrides."""
    s.call(DESCRIBE_CONFIGS, v, dc_body([(2, FIX_DATA, None)]))


@scenario(DESCRIBE_CONFIGS)
def dc__topic_overrides(s, v):
    """Some keys of a topic created with overrides, with synonyms (v1+) and documentation
    (v3+), and an unknown key."""
    t = s.topic()
    s.create_topic(t, configs={"cleanup.policy": "compact", "retention.ms": "3600000"})
    keys = ["cleanup.policy", "retention.ms", "segment.bytes", "no.such.config"]
    s.call(DESCRIBE_CONFIGS, v, dc_body([(2, t, keys)]), label="keys")
    s.call(DESCRIBE_CONFIGS, v, dc_body([(2, t, keys)], synonyms=True), label="synonyms")
    s.call(DESCRIBE_CONFIGS, v, dc_body([(2, t, ["retention.ms"])], docs=True),
           label="documentation")


@scenario(DESCRIBE_CONFIGS)
def dc__broker_keys(s, v):
    """Some broker keys of this node, with synonyms (v1+)."""
    keys = ["num.partitions", "log.retention.ms", "log.retention.hours", "message.max.bytes",
            "auto.create.topics.enable", "default.replication.factor", "log.segment.bytes",
            "offsets.topic.num.partitions", "node.id", "no.such.config"]
    s.call(DESCRIBE_CONFIGS, v, dc_body([(4, str(NODE_ID), keys)]), label="keys")
    s.call(DESCRIBE_CONFIGS, v, dc_body([(4, str(NODE_ID), keys[:3])], synonyms=True),
           label="synonyms")


@scenario(DESCRIBE_CONFIGS)
def dc__cleaner_keys(s, v):
    """The log cleaner's broker keys (issue 12), with synonyms (v1+), and a compacted topic's
    compaction keys with synonyms."""
    keys = ["log.cleaner.enable", "log.cleaner.threads", "log.cleaner.dedupe.buffer.size",
            "log.cleaner.io.buffer.size", "log.cleaner.io.buffer.load.factor",
            "log.cleaner.backoff.ms", "log.cleaner.io.max.bytes.per.second",
            "log.cleaner.min.cleanable.ratio", "log.cleaner.delete.retention.ms",
            "log.cleaner.min.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms",
            "offsets.topic.segment.bytes", "transaction.state.log.segment.bytes"]
    s.call(DESCRIBE_CONFIGS, v, dc_body([(4, str(NODE_ID), keys)]), label="keys")
    s.call(DESCRIBE_CONFIGS, v, dc_body([(4, str(NODE_ID), keys)], synonyms=True),
           label="synonyms")
    t = s.topic()
    s.create_topic(t, configs={"cleanup.policy": "compact", "delete.retention.ms": "1000"})
    tkeys = ["cleanup.policy", "min.cleanable.dirty.ratio", "delete.retention.ms",
             "min.compaction.lag.ms", "max.compaction.lag.ms", "segment.ms"]
    s.call(DESCRIBE_CONFIGS, v, dc_body([(2, t, tkeys)], synonyms=True), label="topic")


@scenario(DESCRIBE_CONFIGS)
def dc__broker_all(s, v):
    """Every broker config of this node (the names, compared as a set)."""
    s.call(DESCRIBE_CONFIGS, v, dc_body([(4, str(NODE_ID), None)]))


@scenario(DESCRIBE_CONFIGS)
def dc__invalid_resources(s, v):
    """An unknown topic, an illegal topic name, another broker, a broker id that is no number,
    an empty broker name (the cluster default), an unknown resource type, the same topic
    twice, no resources."""
    s.call(DESCRIBE_CONFIGS, v, dc_body([(2, MISSING, None)]), label="unknown topic")
    s.call(DESCRIBE_CONFIGS, v, dc_body([(2, BAD_NAME, None)]), label="illegal topic")
    s.call(DESCRIBE_CONFIGS, v, dc_body([(4, "2", ["num.partitions"])]), label="other broker")
    s.call(DESCRIBE_CONFIGS, v, dc_body([(4, "one", ["num.partitions"])]), label="broker one")
    s.call(DESCRIBE_CONFIGS, v, dc_body([(4, "", ["num.partitions"])]), label="cluster default")
    s.call(DESCRIBE_CONFIGS, v, dc_body([(99, "x", None)]), label="resource type 99")
    s.call(DESCRIBE_CONFIGS, v, dc_body([(2, FIX_DATA, ["retention.ms"]),
                                         (2, FIX_DATA, ["cleanup.policy"])]), label="twice")
    s.call(DESCRIBE_CONFIGS, v, dc_body([]), label="none")


@scenario(DESCRIBE_CONFIGS)
def dc__broker_logger(s, v):
    """The root logger of this node (resource type 8)."""
    s.call(DESCRIBE_CONFIGS, v, dc_body([(8, str(NODE_ID), ["root"])]))


def ac_body(resources, validate_only=False):
    """AlterConfigs: resources [(type, name, {key: value})]."""
    return {"resources": [{"resource_type": t, "resource_name": n, "configs": [
        {"name": k, "value": val} for k, val in cfg.items()]} for t, n, cfg in resources],
        "validate_only": validate_only}


def config_values(body):
    """{name: value} of the first resource of a DescribeConfigs answer."""
    results = (body or {}).get("results") or [{}]
    return {c["name"]: c["value"] for c in results[0].get("configs") or ()}


def describe_keys(s, topic, keys, label, expect=None):
    """DescribeConfigs v4 of some keys of a topic, compared; with `expect` ({key: value}),
    first waits (not compared, at most 3 s) until the broker shows those values."""
    body = dc_body([(2, topic, keys)])
    if expect:
        s.settle(DESCRIBE_CONFIGS, 4, body,
                 lambda b: all(config_values(b).get(k) == val for k, val in expect.items()))
    s.call(DESCRIBE_CONFIGS, 4, body, label=label)


def md_settle(s, names, ready):
    """Waits (not compared, at most 3 s) until Metadata v12 for `names` satisfies
    ready({name: topic entry})."""
    s.settle(METADATA, V_METADATA, md_body(V_METADATA, names),
             lambda b: ready({t["name"]: t for t in b["topics"]}))


def partitions_are(name, n):
    return lambda ts: ts[name]["error_code"] == 0 and len(ts[name]["partitions"]) == n


@scenario(ALTER_CONFIGS)
def ac__topic(s, v):
    """A topic's configuration replaced (non-incremental: what is not given returns to its
    default), validate_only, then described."""
    t = s.topic()
    s.create_topic(t, configs={"cleanup.policy": "compact"})
    s.call(ALTER_CONFIGS, v, ac_body([(2, t, {"retention.ms": "3600000"})], True),
           label="validate only")
    s.call(ALTER_CONFIGS, v, ac_body([(2, t, {"retention.ms": "3600000",
                                              "max.message.bytes": "20000"})]), label="alter")
    describe_keys(s, t, ["cleanup.policy", "retention.ms", "max.message.bytes"], "describe",
                  expect={"retention.ms": "3600000", "max.message.bytes": "20000"})
    s.call(ALTER_CONFIGS, v, ac_body([(2, t, {})]), label="empty set")
    describe_keys(s, t, ["retention.ms"], "describe after empty",
                  expect={"retention.ms": "604800000"})


@scenario(ALTER_CONFIGS)
def ac__invalid(s, v):
    """An unknown topic, an unknown config, a bad value, a null value, a broker config on a
    topic, an unknown resource type, no resources. (Not the same topic twice: Kafka 4.4 never
    answers that request.)"""
    t = s.topic()
    s.create_topic(t)
    for label, res in (("unknown topic", [(2, MISSING, {"retention.ms": "1"})]),
                       ("unknown config", [(2, t, {"no.such.config": "1"})]),
                       ("bad value", [(2, t, {"retention.ms": "soon"})]),
                       ("null value", [(2, t, {"retention.ms": None})]),
                       ("broker config", [(2, t, {"log.retention.ms": "1000"})]),
                       ("resource type 99", [(99, "x", {})]),
                       ("none", [])):
        s.call(ALTER_CONFIGS, v, ac_body(res), label=label)
    describe_keys(s, t, ["retention.ms"], "describe")


@scenario(ALTER_CONFIGS)
def ac__broker(s, v):
    """A broker resource: a read-only config, and another broker."""
    s.call(ALTER_CONFIGS, v, ac_body([(4, str(NODE_ID), {"node.id": "5"})], True),
           label="read-only")
    s.call(ALTER_CONFIGS, v, ac_body([(4, "7", {"log.segment.bytes": "1048576"})], True),
           label="other broker")


@scenario(ALTER_CONFIGS)
def ac__broker_dynamic(s, v):
    """validate_only of a config Kafka can change on a running broker (Runnel cannot)."""
    s.call(ALTER_CONFIGS, v, ac_body([(4, str(NODE_ID), {"log.segment.bytes": "1048576"})],
                                     True), label="dynamic, validate only")


def iac_body(resources, validate_only=False):
    """IncrementalAlterConfigs: resources [(type, name, [(key, op, value)])]; op 0 SET,
    1 DELETE, 2 APPEND, 3 SUBTRACT."""
    return {"resources": [{"resource_type": t, "resource_name": n, "configs": [
        {"name": k, "config_operation": op, "value": val} for k, op, val in cfg]}
        for t, n, cfg in resources], "validate_only": validate_only}


@scenario(INCREMENTAL_ALTER_CONFIGS)
def iac__operations(s, v):
    """SET, DELETE, APPEND and SUBTRACT on a topic, each followed by a describe."""
    t = s.topic()
    s.create_topic(t)
    keys = ["retention.ms", "cleanup.policy"]
    s.call(INCREMENTAL_ALTER_CONFIGS, v, iac_body([(2, t, [("retention.ms", 0, "3600000")])]),
           label="set")
    describe_keys(s, t, keys, "after set", expect={"retention.ms": "3600000"})
    s.call(INCREMENTAL_ALTER_CONFIGS, v, iac_body([(2, t, [("cleanup.policy", 2, "compact")])]),
           label="append")
    describe_keys(s, t, keys, "after append", expect={"cleanup.policy": "delete,compact"})
    s.call(INCREMENTAL_ALTER_CONFIGS, v, iac_body([(2, t, [("cleanup.policy", 3, "delete")])]),
           label="subtract")
    describe_keys(s, t, keys, "after subtract", expect={"cleanup.policy": "compact"})
    s.call(INCREMENTAL_ALTER_CONFIGS, v, iac_body([(2, t, [("retention.ms", 1, None)])]),
           label="delete")
    describe_keys(s, t, keys, "after delete", expect={"retention.ms": "604800000"})
    s.call(INCREMENTAL_ALTER_CONFIGS, v, iac_body([(2, t, [("retention.ms", 0, "1")])], True),
           label="validate only")
    describe_keys(s, t, keys, "after validate only")


@scenario(INCREMENTAL_ALTER_CONFIGS)
def iac__invalid(s, v):
    """APPEND to a config that is no list, an unknown config, a bad value, SET with a null
    value, the same key twice, an unknown topic, no resources."""
    t = s.topic()
    s.create_topic(t)
    for label, res in (("append to a number", [(2, t, [("retention.ms", 2, "1")])]),
                       ("unknown config", [(2, t, [("no.such.config", 0, "1")])]),
                       ("bad value", [(2, t, [("retention.ms", 0, "soon")])]),
                       ("set null", [(2, t, [("retention.ms", 0, None)])]),
                       ("same key twice", [(2, t, [("retention.ms", 0, "1"),
                                                   ("retention.ms", 0, "2")])]),
                       ("delete unknown", [(2, t, [("no.such.config", 1, None)])]),
                       ("unknown topic", [(2, MISSING, [("retention.ms", 0, "1")])]),
                       ("none", [])):
        s.call(INCREMENTAL_ALTER_CONFIGS, v, iac_body(res), label=label)
    describe_keys(s, t, ["retention.ms"], "describe")


@scenario(INCREMENTAL_ALTER_CONFIGS)
def iac__unknown_operation(s, v):
    """An operation other than SET, DELETE, APPEND and SUBTRACT on a topic."""
    t = s.topic()
    s.create_topic(t)
    s.call(INCREMENTAL_ALTER_CONFIGS, v, iac_body([(2, t, [("retention.ms", 9, "1")])]),
           label="operation 9")
    describe_keys(s, t, ["retention.ms"], "describe")


@scenario(INCREMENTAL_ALTER_CONFIGS)
def iac__broker_logger(s, v):
    """BROKER_LOGGER (resource type 8), all validate_only so that no level changes: SET of the
    root logger, a level that is not one, DELETE and APPEND of root, an unknown logger, another
    node, an empty node id."""
    for label, name, ops in (("set root", "1", [("root", 0, "INFO")]),
                             ("bad level", "1", [("root", 0, "info")]),
                             ("delete root", "1", [("root", 1, None)]),
                             ("append", "1", [("root", 2, "INFO")]),
                             ("unknown logger", "1", [("no.such.logger", 0, "INFO")]),
                             ("other node", "2", [("root", 0, "INFO")]),
                             ("empty node", "", [("root", 0, "INFO")])):
        s.call(INCREMENTAL_ALTER_CONFIGS, v, iac_body([(8, name, ops)], True), label=label)


# -- ACLs (no authorizer on either broker) ---------------------------------------------------------

ACL_FILTER = {"resource_type_filter": 1, "resource_name_filter": None, "pattern_type_filter": 1,
              "principal_filter": None, "host_filter": None, "operation": 1,
              "permission_type": 1}


@scenario(DESCRIBE_ACLS)
def acl__describe(s, v):
    """Any ACL, and an UNKNOWN (0) resource type: no authorizer on either broker."""
    s.call(DESCRIBE_ACLS, v, ACL_FILTER, label="any")
    s.call(DESCRIBE_ACLS, v, dict(ACL_FILTER, resource_type_filter=0), label="unknown type")


@scenario(CREATE_ACLS)
def acl__create(s, v):
    """One ACL binding, and none: no authorizer on either broker."""
    s.call(CREATE_ACLS, v, {"creations": [
        {"resource_type": 2, "resource_name": FIX_DATA, "resource_pattern_type": 3,
         "principal": "User:alice", "host": "*", "operation": 3, "permission_type": 3}]},
        label="one")
    s.call(CREATE_ACLS, v, {"creations": []}, label="none")


@scenario(DELETE_ACLS)
def acl__delete(s, v):
    """One filter, and none: no authorizer on either broker."""
    s.call(DELETE_ACLS, v, {"filters": [ACL_FILTER]}, label="one")
    s.call(DELETE_ACLS, v, {"filters": []}, label="none")


# -- cluster and partitions -----------------------------------------------------------------------

@scenario(OFFSET_FOR_LEADER_EPOCH)
def ofle__epochs(s, v):
    """Epoch 0 (the only one), a later and an earlier one, an unknown topic, partition 99,
    and (v2+) a current leader epoch that does not match; v3+ as a consumer (replica -1)."""
    def body(parts, topic=FIX_DATA, current=-1):
        return {"replica_id": -1, "topics": [{"topic": topic, "partitions": [
            {"partition": p, "current_leader_epoch": current, "leader_epoch": e}
            for p, e in parts]}]}
    s.call(OFFSET_FOR_LEADER_EPOCH, v, body([(0, 0), (1, 0), (2, 0)]), label="epoch 0")
    s.call(OFFSET_FOR_LEADER_EPOCH, v, body([(0, 5), (0, -1)]), label="epochs 5 and -1")
    s.call(OFFSET_FOR_LEADER_EPOCH, v, body([(0, 0)], topic=MISSING), label="unknown topic")
    s.call(OFFSET_FOR_LEADER_EPOCH, v, body([(99, 0)]), label="partition 99")
    if v >= 2:
        s.call(OFFSET_FOR_LEADER_EPOCH, v, body([(0, 0)], current=3), label="current 3")
        s.call(OFFSET_FOR_LEADER_EPOCH, v, body([(0, 0)], current=0), label="current 0")
    if v >= 3:
        s.call(OFFSET_FOR_LEADER_EPOCH, v, dict(body([(0, 0)]), replica_id=1),
               label="as replica 1")


@scenario(DESCRIBE_LOG_DIRS)
def dld__topic(s, v):
    """The fixture's partitions (sizes, lag, future flag)."""
    s.call(DESCRIBE_LOG_DIRS, v, {"topics": [{"topic": FIX_DATA, "partitions": [0, 1, 2, 9]}]})


@scenario(DESCRIBE_LOG_DIRS)
def dld__all_and_unknown(s, v):
    """Every partition (null; compared for the fixture's topics only: what the coordinators
    write to __consumer_offsets is their own), an unknown topic, none."""
    s.call(DESCRIBE_LOG_DIRS, v, {"topics": None}, label="all", scope="no-internal")
    s.call(DESCRIBE_LOG_DIRS, v, {"topics": [{"topic": MISSING, "partitions": [0]}]},
           label="unknown topic")
    s.call(DESCRIBE_LOG_DIRS, v, {"topics": []}, label="none")


@scenario(DESCRIBE_CLUSTER)
def dcl__describe(s, v):
    """The cluster: id, controller, brokers; with authorized operations."""
    s.call(DESCRIBE_CLUSTER, v, {"include_cluster_authorized_operations": False},
           label="plain")
    s.call(DESCRIBE_CLUSTER, v, {"include_cluster_authorized_operations": True},
           label="with operations")


@scenario(DESCRIBE_CLUSTER, versions=(2, 0x7FFF))
def dcl__fenced_brokers(s, v):
    """include_fenced_brokers (v2+, KIP-1073): no broker of this node is fenced."""
    s.call(DESCRIBE_CLUSTER, v, {"include_fenced_brokers": True})


@scenario(DESCRIBE_CLUSTER, versions=(1, 0x7FFF))
def dcl__endpoint_types(s, v):
    """endpoint_type (v1+): brokers (1), controllers (2) asked of a broker, unknown (5)."""
    for et in (1, 2, 5):
        s.call(DESCRIBE_CLUSTER, v, {"endpoint_type": et}, label="endpoint type %d" % et)


def dtp_body(names, limit=2000, cursor=None):
    return {"topics": [{"name": n} for n in names], "response_partition_limit": limit,
            "cursor": cursor}


@scenario(DESCRIBE_TOPIC_PARTITIONS)
def dtp__describe(s, v):
    """A topic; the same paged one partition at a time through the cursor."""
    s.call(DESCRIBE_TOPIC_PARTITIONS, v, dtp_body([FIX_DATA]), label="whole")
    resp = s.call(DESCRIBE_TOPIC_PARTITIONS, v, dtp_body([FIX_DATA], limit=1), label="page 1")
    if resp and resp.get("next_cursor"):
        s.call(DESCRIBE_TOPIC_PARTITIONS, v, dtp_body([FIX_DATA], limit=1,
                                                      cursor=resp["next_cursor"]),
               label="page 2")


@scenario(DESCRIBE_TOPIC_PARTITIONS)
def dtp__edges(s, v):
    """An unknown topic, an illegal name, every topic (empty list; compared for the fixture's
    topics), a cursor past the end, a cursor on a topic not asked for, limits 0 and -1."""
    s.call(DESCRIBE_TOPIC_PARTITIONS, v, dtp_body([MISSING, BAD_NAME]), label="unknown")
    s.call(DESCRIBE_TOPIC_PARTITIONS, v, dtp_body([]), label="all", scope=True)
    s.call(DESCRIBE_TOPIC_PARTITIONS, v, dtp_body([FIX_DATA], cursor={
        "topic_name": FIX_DATA, "partition_index": 7}), label="cursor past end")
    s.call(DESCRIBE_TOPIC_PARTITIONS, v, dtp_body([FIX_DATA], cursor={
        "topic_name": "cf-fix-a", "partition_index": 0}), label="cursor elsewhere")
    s.call(DESCRIBE_TOPIC_PARTITIONS, v, dtp_body([FIX_DATA], limit=0), label="limit 0")
    s.call(DESCRIBE_TOPIC_PARTITIONS, v, dtp_body([FIX_DATA], limit=-1), label="limit -1")


# -- InitProducerId and idempotent producers (issue 11) --------------------------------------------

UNISSUED_PID = 777777           # a producer id neither broker handed out
INT32_MAX = 0x7FFFFFFF


def ipid_body(txn, timeout=TXN_TIMEOUT_MS, pid=-1, epoch=-1):
    """InitProducerId: transactional id `txn` (None: an idempotent producer); v3+ also carry
    the producer's id and epoch (KIP-360), -1 when it has none."""
    return {"transactional_id": txn, "transaction_timeout_ms": timeout, "producer_id": pid,
            "producer_epoch": epoch}


def init_producer(s, label="init", v=V_INIT_PRODUCER_ID, txn=None, **kw):
    """InitProducerId, compared, retried as a client does while the coordinator loads; returns
    (producer id, epoch), or stops the scenario when the broker gave none."""
    resp = s.call_retrying(INIT_PRODUCER_ID, v, ipid_body(txn, **kw), label=label)
    if resp is None or resp["error_code"] != 0:
        raise ScenarioError("%s: no producer id (%s)" % (label, resp))
    return resp["producer_id"], resp["producer_epoch"]


def describe_producers(s, topic, partitions, label="producers"):
    return s.call(DESCRIBE_PRODUCERS, 0, {"topics": [
        {"name": topic, "partition_indexes": list(partitions)}]}, label=label)


@scenario(INIT_PRODUCER_ID)
def ipid__idempotent(s, v):
    """Two idempotent producers (null transactional id): a new id each, epoch 0, whatever the
    transaction timeout (-5 and 999999999 are accepted: an idempotent producer has none)."""
    init_producer(s, "first", v)
    init_producer(s, "second", v)
    s.call_retrying(INIT_PRODUCER_ID, v, ipid_body(None, timeout=-5), label="timeout -5")
    s.call_retrying(INIT_PRODUCER_ID, v, ipid_body(None, timeout=999999999),
                    label="timeout 999999999")


@scenario(INIT_PRODUCER_ID, versions=(3, 0x7FFF))
def ipid__idempotent_with_producer(s, v):
    """KIP-360 fields (v3+) with a null transactional id: the producer's own id and epoch, a
    later epoch, the last epoch, an id never handed out; each time a new id at epoch 0."""
    pid, _ = init_producer(s, "first", v)
    for label, p, e in (("own id, epoch 0", pid, 0), ("own id, epoch 4", pid, 4),
                        ("own id, epoch 32767", pid, 32767),
                        ("id never handed out", UNISSUED_PID, 0)):
        s.call_retrying(INIT_PRODUCER_ID, v, ipid_body(None, pid=p, epoch=e), label=label)


@scenario(INIT_PRODUCER_ID)
def ipid__invalid(s, v):
    """An empty transactional id; (v3+) an epoch without a producer id and a producer id without
    an epoch: INVALID_REQUEST."""
    s.call_retrying(INIT_PRODUCER_ID, v, ipid_body(""), label="empty transactional id")
    if v >= 3:
        s.call_retrying(INIT_PRODUCER_ID, v, ipid_body(None, pid=-1, epoch=3),
                        label="epoch without id")
        s.call_retrying(INIT_PRODUCER_ID, v, ipid_body(None, pid=UNISSUED_PID, epoch=-1),
                        label="id without epoch")


# Produce of idempotent batches, at the versions that carry magic-2 batches (v3+). Each run has
# its own topic and producers; every batch is one request, acks=-1.

def produce_as(s, v, topic, b, label, partition=0, acks=-1):
    return s.call(PRODUCE, v, produce_body(topic, partition, b, acks=acks), label=label)


def log_end(s, topic, partitions=(0,), label="log end"):
    s.call(LIST_OFFSETS, V_LIST_OFFSETS, lo_body({topic: [(p, -1) for p in partitions]}),
           label=label)


@scenario(PRODUCE, versions=(3, 0x7FFF))
def pr__idempotent_sequences(s, v):
    """One producer: batches of 3, 2 and five of 1 record in sequence; then a duplicate of each
    of the last five (answered with the original offset, and as log_append_time_ms the original
    batch's timestamp, nothing appended), of the sixth-last and of the first batch
    (OUT_OF_ORDER_SEQUENCE_NUMBER: only five are remembered)."""
    t = s.topic()
    s.create_topic(t)
    t0 = s.broker.t0
    p = init_producer(s)
    produce_as(s, v, t, pbatch(t0, [b"a0", b"a1", b"a2"], p, 0), "seq 0, 3 records")
    produce_as(s, v, t, pbatch(t0 + 3000, [b"a3", b"a4"], p, 3), "seq 3, 2 records")
    for seq in range(5, 10):
        produce_as(s, v, t, pbatch(t0 + seq * 1000, [b"a%d" % seq], p, seq), "seq %d" % seq)
    for seq in range(5, 10):
        produce_as(s, v, t, pbatch(t0 - 100000, [b"a%d" % seq], p, seq),
                   "duplicate of seq %d" % seq)
    produce_as(s, v, t, pbatch(t0 + 3000, [b"a3", b"a4"], p, 3), "duplicate of seq 3 (6th last)")
    produce_as(s, v, t, pbatch(t0, [b"a0", b"a1", b"a2"], p, 0), "duplicate of seq 0")
    log_end(s, t)
    describe_producers(s, t, [0])


@scenario(PRODUCE, versions=(3, 0x7FFF))
def pr__idempotent_out_of_order(s, v):
    """After batches seq 0 (1 record) and 1-2: a gap (seq 5), an overlap (seq 2, 2 records),
    the base sequence of a remembered batch with another count (seq 1, 1 record), a duplicate
    of the first batch, then the next batch in order (seq 3)."""
    t = s.topic()
    s.create_topic(t)
    t0 = s.broker.t0
    p = init_producer(s)
    produce_as(s, v, t, pbatch(t0, [b"x0"], p, 0), "seq 0")
    produce_as(s, v, t, pbatch(t0, [b"x1", b"x2"], p, 1), "seq 1, 2 records")
    produce_as(s, v, t, pbatch(t0, [b"x5"], p, 5), "gap: seq 5")
    produce_as(s, v, t, pbatch(t0, [b"x2", b"x3"], p, 2), "overlap: seq 2, 2 records")
    produce_as(s, v, t, pbatch(t0, [b"x1"], p, 1), "seq 1 with 1 record")
    produce_as(s, v, t, pbatch(t0, [b"x0"], p, 0), "duplicate of seq 0")
    produce_as(s, v, t, pbatch(t0, [b"x3"], p, 3), "seq 3")
    log_end(s, t)


@scenario(PRODUCE, versions=(3, 0x7FFF))
def pr__idempotent_epochs(s, v):
    """Epochs of one producer id: epoch -1 (INVALID_PRODUCER_EPOCH), a higher epoch with a
    sequence other than 0 (OUT_OF_ORDER_SEQUENCE_NUMBER) and with 0 (a new start), the older
    epoch again (INVALID_PRODUCER_EPOCH), and an epoch skipped ahead."""
    t = s.topic()
    s.create_topic(t)
    t0 = s.broker.t0
    p = init_producer(s)
    produce_as(s, v, t, pbatch(t0, [b"e0"], p, 0), "epoch 0 seq 0")
    produce_as(s, v, t, pbatch(t0, [b"e1"], p, 1), "epoch 0 seq 1")
    produce_as(s, v, t, pbatch(t0, [b"e2"], p, 2, epoch=-1), "epoch -1 seq 2")
    produce_as(s, v, t, pbatch(t0, [b"e2"], p, 5, epoch=1), "epoch 1 seq 5")
    produce_as(s, v, t, pbatch(t0, [b"e2"], p, 0, epoch=1), "epoch 1 seq 0")
    produce_as(s, v, t, pbatch(t0, [b"e3"], p, 2, epoch=0), "epoch 0 again, seq 2")
    produce_as(s, v, t, pbatch(t0, [b"e3"], p, 1, epoch=1), "epoch 1 seq 1")
    produce_as(s, v, t, pbatch(t0, [b"e4"], p, 0, epoch=3), "epoch 3 seq 0")
    log_end(s, t)
    describe_producers(s, t, [0])


@scenario(PRODUCE, versions=(3, 0x7FFF))
def pr__idempotent_unknown_producer(s, v):
    """A producer the partition has no state for starts at any sequence: an id no broker
    handed out (seq 5, then 6), and a fresh id whose first batch is seq 57."""
    t = s.topic()
    s.create_topic(t)
    t0 = s.broker.t0
    p = init_producer(s)
    never = (UNISSUED_PID, 3)
    produce_as(s, v, t, pbatch(t0, [b"u5"], never, 5), "id never handed out, seq 5")
    produce_as(s, v, t, pbatch(t0, [b"u6"], never, 6), "id never handed out, seq 6")
    produce_as(s, v, t, pbatch(t0, [b"u57"], p, 57), "fresh id, seq 57")
    produce_as(s, v, t, pbatch(t0, [b"u58"], p, 58), "fresh id, seq 58")
    produce_as(s, v, t, pbatch(t0, [b"u60"], p, 60), "fresh id, seq 60")
    log_end(s, t)
    describe_producers(s, t, [0])


@scenario(PRODUCE, versions=(3, 0x7FFF))
def pr__idempotent_sequence_wrap(s, v):
    """Sequences wrap at INT32_MAX to 0: a batch of 3 from seq 2147483647 (last sequence 1),
    then seq 2, then a duplicate of the wrapping batch; a second producer's seq 2147483647
    followed by seq 0, and by seq 2147483647 again (its duplicate)."""
    t = s.topic()
    s.create_topic(t)
    t0 = s.broker.t0
    p = init_producer(s, "init first")
    q = init_producer(s, "init second")
    produce_as(s, v, t, pbatch(t0, [b"w0"], p, INT32_MAX - 1), "seq 2147483646")
    produce_as(s, v, t, pbatch(t0, [b"w1", b"w2", b"w3"], p, INT32_MAX),
               "seq 2147483647, 3 records")
    produce_as(s, v, t, pbatch(t0, [b"w4"], p, 2), "seq 2")
    produce_as(s, v, t, pbatch(t0, [b"w1", b"w2", b"w3"], p, INT32_MAX),
               "duplicate of the wrapping batch")
    produce_as(s, v, t, pbatch(t0, [b"q0"], q, INT32_MAX), "second: seq 2147483647")
    produce_as(s, v, t, pbatch(t0, [b"q1"], q, 0), "second: seq 0")
    produce_as(s, v, t, pbatch(t0, [b"q0"], q, INT32_MAX), "second: duplicate")
    log_end(s, t)
    describe_producers(s, t, [0])


@scenario(PRODUCE, versions=(3, 0x7FFF))
def pr__idempotent_invalid_fields(s, v):
    """A producer id with epoch -1 (INVALID_PRODUCER_EPOCH) and with sequence -1
    (INVALID_RECORD); no producer id but a sequence (a plain batch); acks=1 (accepted)."""
    t = s.topic()
    s.create_topic(t)
    t0 = s.broker.t0
    p = init_producer(s)
    produce_as(s, v, t, pbatch(t0, [b"i0"], p, 0), "seq 0")
    produce_as(s, v, t, pbatch(t0, [b"i1"], p, 1, epoch=-1), "epoch -1")
    produce_as(s, v, t, pbatch(t0, [b"i1"], p, -1), "sequence -1")
    produce_as(s, v, t, pbatch(t0, [b"i1"], (-1, -1), 5), "no producer id, seq 5")
    produce_as(s, v, t, pbatch(t0, [b"i1"], p, 1), "acks=1", acks=1)
    log_end(s, t)


@scenario(PRODUCE, versions=(3, 0x7FFF))
def pr__idempotent_plain_mixed(s, v):
    """Plain batches between a producer's batches leave its sequence alone; a duplicate is
    still answered with its own offset."""
    t = s.topic()
    s.create_topic(t)
    t0 = s.broker.t0
    p = init_producer(s)
    produce_as(s, v, t, pbatch(t0, [b"m0"], p, 0), "seq 0")
    produce_as(s, v, t, batch(t0, [b"plain1"]), "plain")
    produce_as(s, v, t, pbatch(t0, [b"m1", b"m2"], p, 1), "seq 1, 2 records")
    produce_as(s, v, t, batch(t0, [b"plain2"]), "plain again")
    produce_as(s, v, t, pbatch(t0, [b"m1", b"m2"], p, 1), "duplicate of seq 1")
    produce_as(s, v, t, pbatch(t0, [b"m3"], p, 3), "seq 3")
    log_end(s, t)
    describe_producers(s, t, [0])


@scenario(PRODUCE, versions=(3, 0x7FFF))
def pr__idempotent_partitions(s, v):
    """Sequences are per partition: one request for two partitions, then each on its own (a gap
    on partition 1 only), and a duplicate of the two-partition request."""
    t = s.topic()
    s.create_topic(t, partitions=2)
    t0 = s.broker.t0
    p = init_producer(s)

    def two(b0, b1):
        return {"transactional_id": None, "acks": -1, "timeout_ms": 10000, "topic_data": [
            {"name": t, "partition_data": [{"index": 0, "records": b0},
                                           {"index": 1, "records": b1}]}]}
    s.call(PRODUCE, v, two(pbatch(t0, [b"p0"], p, 0), pbatch(t0, [b"q0", b"q1"], p, 0)),
           label="both at seq 0")
    produce_as(s, v, t, pbatch(t0, [b"p1"], p, 1), "partition 0 seq 1")
    produce_as(s, v, t, pbatch(t0, [b"q5"], p, 5), "partition 1 seq 5", partition=1)
    s.call(PRODUCE, v, two(pbatch(t0, [b"p0"], p, 0), pbatch(t0, [b"q0", b"q1"], p, 0)),
           label="both again")
    log_end(s, t, (0, 1))
    describe_producers(s, t, [0, 1])


@scenario(PRODUCE, versions=(3, 0x7FFF))
def pr__idempotent_log_append_time(s, v):
    """A LogAppendTime topic: a duplicate is answered with the time of the original append."""
    t = s.topic()
    s.create_topic(t, configs={"message.timestamp.type": "LogAppendTime"})
    t0 = s.broker.t0
    p = init_producer(s)
    produce_as(s, v, t, pbatch(t0, [b"l0", b"l1"], p, 0), "seq 0")
    produce_as(s, v, t, pbatch(t0, [b"l2"], p, 2), "seq 2")
    produce_as(s, v, t, pbatch(t0, [b"l0", b"l1"], p, 0), "duplicate of seq 0")


# -- DescribeProducers ----------------------------------------------------------------------------

@scenario(DESCRIBE_PRODUCERS)
def dp__producers(s, v):
    """Three partitions: two producers on partition 0 (one of them at a later epoch), a plain
    batch among them, one producer on partition 1, none on partition 2."""
    t = s.topic()
    s.create_topic(t, partitions=3)
    t0 = s.broker.t0
    p = init_producer(s, "init first")
    q = init_producer(s, "init second")
    s.produce(t, 0, [pbatch(t0, [b"a", b"b", b"c"], p, 0), pbatch(t0 + 5000, [b"d"], p, 3),
                     pbatch(t0 + 1000, [b"e"], q, 0), batch(t0 + 2000, [b"plain"]),
                     pbatch(t0 + 3000, [b"f"], q, 0, epoch=2)])
    s.produce(t, 1, [pbatch(t0 + 7000, [b"g", b"h"], p, 0)])
    describe_producers(s, t, [0, 1, 2])
    describe_producers(s, t, [1, 1], label="same partition twice")


@scenario(DESCRIBE_PRODUCERS)
def dp__unknown(s, v):
    """An unknown topic, a partition the topic does not have, a partition with only plain
    batches (the fixture's), no topics."""
    describe_producers(s, MISSING, [0], label="unknown topic")
    describe_producers(s, FIX_DATA, [99], label="partition 99")
    describe_producers(s, FIX_DATA, [0, -1], label="plain data and partition -1")
    s.call(DESCRIBE_PRODUCERS, v, {"topics": []}, label="no topics")


# -- Fetch and ListOffsets of producers' batches -----------------------------------------------

@scenario(FETCH)
def fe__idempotent_batches(s, v):
    """A producer's batches around a plain one, read uncommitted and (v4+) committed: the
    batches keep their producer id, epoch and sequence; the last stable offset is the high
    watermark."""
    t = s.topic()
    s.create_topic(t)
    t0 = s.broker.t0
    p = init_producer(s)
    s.produce(t, 0, [pbatch(t0, [b"a", b"b"], p, 0), batch(t0, [b"plain"]),
                     pbatch(t0, [b"c"], p, 2)])
    s.call(FETCH, v, fetch_body(s, v, t, [(0, 0, 1 << 20)]), label="read uncommitted")
    s.call(FETCH, v, fetch_body(s, v, t, [(0, 0, 1 << 20)], isolation=1), label="read committed")


@scenario(LIST_OFFSETS, versions=(2, 0x7FFF))
def lo__read_committed_idempotent(s, v):
    """Latest and earliest, isolation_level 0 and 1, of a partition of idempotent batches."""
    t = s.topic()
    s.create_topic(t)
    p = init_producer(s)
    s.produce(t, 0, [pbatch(s.broker.t0, [b"a", b"b"], p, 0), pbatch(s.broker.t0, [b"c"], p, 2)])
    s.call(LIST_OFFSETS, v, lo_body({t: [(0, -1)]}), label="latest")
    s.call(LIST_OFFSETS, v, lo_body({t: [(0, -1)]}, isolation=1), label="latest committed")
    s.call(LIST_OFFSETS, v, lo_body({t: [(0, -2)]}, isolation=1), label="earliest committed")


# -- transactions (issue 11) ---------------------------------------------------------------------
#
# A transaction here takes the path of a KIP-98 client (transaction.version 1): InitProducerId,
# AddPartitionsToTxn v3, transactional batches with Produce v8, EndTxn v3. Every transactional
# id is the run's own (s.txn_id()); between a transaction's end and the next request that
# depends on its markers, the run waits (not compared) until the coordinator has completed it.

V_FETCH = 11            # Fetch for reading back: both brokers serve it, topics by name
DONE_STATES = ("CompleteCommit", "CompleteAbort")


def txn_id(s, suffix=""):
    """A transactional id private to this run."""
    return s.name("x%d" % s.sc.api, suffix)


def apt_body(v, txn, producer, topics, verify_only=False):
    """AddPartitionsToTxn for `topics` {name: [partitions]}: the client's form (v0-3) or one
    entry of the batched form (v4+)."""
    tl = [{"name": n, "partitions": ps} for n, ps in topics.items()]
    if v <= 3:
        return {"v3_and_below_transactional_id": txn, "v3_and_below_producer_id": producer[0],
                "v3_and_below_producer_epoch": producer[1], "v3_and_below_topics": tl}
    return {"transactions": [{"transactional_id": txn, "producer_id": producer[0],
                              "producer_epoch": producer[1], "verify_only": verify_only,
                              "topics": tl}]}


def end_body(txn, producer, commit):
    return {"transactional_id": txn, "producer_id": producer[0], "producer_epoch": producer[1],
            "committed": commit}


def aot_body(txn, producer, group):
    return {"transactional_id": txn, "producer_id": producer[0], "producer_epoch": producer[1],
            "group_id": group}


def toc_body(txn, producer, group, topic, offsets, generation=-1, member=""):
    return {"transactional_id": txn, "group_id": group, "producer_id": producer[0],
            "producer_epoch": producer[1], "generation_id": generation, "member_id": member,
            "group_instance_id": None, "topics": [{"name": topic, "partitions": [
                {"partition_index": p, "committed_offset": o, "committed_leader_epoch": -1,
                 "committed_metadata": "m"} for p, o in offsets.items()]}]}


def add_partitions(s, txn, producer, topics):
    """Setup: AddPartitionsToTxn v3, retried while the previous transaction completes."""
    s.setup(ADD_PARTITIONS_TO_TXN, V_ADD_PARTITIONS, apt_body(V_ADD_PARTITIONS, txn, producer,
                                                              topics),
            retry=True, what="add partitions to " + txn)


def txn_send(s, topic, partition, values, txn, producer, seq):
    """Setup: one transactional batch (Produce v8 with the transactional id)."""
    body = produce_body(topic, partition, pbatch(s.broker.t0, values, producer, seq, txn=True))
    body["transactional_id"] = txn
    s.setup(PRODUCE, V_PRODUCE, body, what="transactional produce to %s-%d" % (topic, partition))


def wait_done(s, txn):
    """Waits (not compared) until the coordinator has written the markers of `txn`'s end."""
    s.wait(DESCRIBE_TRANSACTIONS, V_DESCRIBE_TXN, {"transactional_ids": [txn]},
           lambda b: b["transaction_states"][0]["transaction_state"] in DONE_STATES,
           "end of " + txn)


def end_txn(s, txn, producer, commit):
    """Setup: EndTxn v3, then the wait for its markers."""
    s.setup(END_TXN, V_END_TXN, end_body(txn, producer, commit), retry=True,
            what=("commit " if commit else "abort ") + txn)
    wait_done(s, txn)


def describe_txns(s, ids, label="describe"):
    return s.call(DESCRIBE_TRANSACTIONS, V_DESCRIBE_TXN, {"transactional_ids": list(ids)},
                  label=label)


def read_committed(s, topic, offset=0, label="read committed", max_bytes=1 << 20):
    s.call(FETCH, V_FETCH, fetch_body(s, V_FETCH, topic, [(0, offset, max_bytes)], isolation=1),
           label=label)


def txn_layout(s, topic):
    """Fills partition 0 of `topic` with three transactional producers' batches around plain
    ones, compared on the way only through their InitProducerId:
        0 plain | 1-2 first | 3 second | 4 abort first | 5 second | 6 commit second |
        7 plain | 8 first | 9 abort first | 10 third (left open) | 11 plain
    so the high watermark is 12, the last stable offset 10, and the first producer's aborted
    transactions begin at 1 and 8. Returns the three (transactional id, producer)."""
    t0 = s.broker.t0
    ids = [txn_id(s, n) for n in ("first", "second", "third")]
    ps = [init_producer(s, "init " + n, txn=i) for n, i in zip(("first", "second", "third"),
                                                                 ids)]
    (a, pa), (b, pb), (c, pc) = zip(ids, ps)
    s.produce(topic, 0, [batch(t0, [b"plain0"])])
    add_partitions(s, a, pa, {topic: [0]})
    txn_send(s, topic, 0, [b"a0", b"a1"], a, pa, 0)
    add_partitions(s, b, pb, {topic: [0]})
    txn_send(s, topic, 0, [b"b0"], b, pb, 0)
    end_txn(s, a, pa, False)
    txn_send(s, topic, 0, [b"b1"], b, pb, 1)
    end_txn(s, b, pb, True)
    s.produce(topic, 0, [batch(t0, [b"plain7"])])
    add_partitions(s, a, pa, {topic: [0]})
    txn_send(s, topic, 0, [b"a2"], a, pa, 2)
    end_txn(s, a, pa, False)
    add_partitions(s, c, pc, {topic: [0]})
    txn_send(s, topic, 0, [b"c0"], c, pc, 0)
    s.produce(topic, 0, [batch(t0, [b"plain11"])])
    return list(zip(ids, ps))


@scenario(FIND_COORDINATOR, versions=(1, 0x7FFF), needs=TXN_APIS)
def fc__transaction(s, v):
    """key_type 1 (v1+): the transaction coordinator of the fixture's transactional id, of one
    never used, of an empty one; v4+ all three in one request."""
    s.call(FIND_COORDINATOR, v, fc_body(v, [FIX_TXN], key_type=1), label="fixture's")
    s.call(FIND_COORDINATOR, v, fc_body(v, [txn_id(s)], key_type=1), label="new id")
    s.call(FIND_COORDINATOR, v, fc_body(v, [""], key_type=1), label="empty id")
    if v >= 4:
        s.call(FIND_COORDINATOR, v, fc_body(v, [FIX_TXN, txn_id(s), ""], key_type=1),
               label="three keys")


@scenario(INIT_PRODUCER_ID, needs=TXN_APIS)
def ipid__transactional(s, v):
    """A transactional id: the first call (epoch 0), the next (the epoch bumped); v3+ the
    producer's current epoch (bumped), its previous one (a retry: the same answer), a later
    one and another producer id (PRODUCER_FENCED); transaction timeouts above the maximum,
    0 and the maximum; v3+ a new id sent with some producer id and epoch."""
    txn = txn_id(s)
    pid, _ = init_producer(s, "first", v, txn)
    init_producer(s, "second", v, txn)
    if v >= 3:
        for label, p, e in (("current epoch", pid, 1), ("previous epoch", pid, 1),
                            ("later epoch", pid, 5), ("other producer id", UNISSUED_PID, 2)):
            s.call_retrying(INIT_PRODUCER_ID, v, ipid_body(txn, pid=p, epoch=e), label=label)
    for ms in (900001, 0, 900000):
        s.call_retrying(INIT_PRODUCER_ID, v, ipid_body(txn, timeout=ms), label="timeout %d" % ms)
    if v >= 3:
        s.call_retrying(INIT_PRODUCER_ID, v, ipid_body(txn_id(s, "new"), pid=UNISSUED_PID,
                                                       epoch=3), label="new id with a producer")
    describe_txns(s, [txn])


@scenario(INIT_PRODUCER_ID, needs=TXN_APIS)
def ipid__during_transaction(s, v):
    """InitProducerId while the id has a transaction open: CONCURRENT_TRANSACTIONS while the
    coordinator aborts it, then (retried, as clients do) the epoch two above; the partition's
    last stable offset is past the abort marker."""
    t = s.topic()
    s.create_topic(t)
    txn = txn_id(s)
    p = init_producer(s, "init", txn=txn)
    add_partitions(s, txn, p, {t: [0]})
    txn_send(s, t, 0, [b"x"], txn, p, 0)
    s.call(INIT_PRODUCER_ID, v, ipid_body(txn), label="while open")
    s.call_retrying(INIT_PRODUCER_ID, v, ipid_body(txn), label="retried")
    s.call(LIST_OFFSETS, V_LIST_OFFSETS, lo_body({t: [(0, -1)]}, isolation=1),
           label="latest committed")
    describe_txns(s, [txn])


@scenario(PRODUCE, versions=(3, 0x7FFF), needs=TXN_APIS)
def pr__transactional_producer(s, v):
    """A transactional producer's batches: to a partition added to its transaction, to one not
    added, a plain batch of the same producer while the transaction is open, an older epoch,
    none of the transactional id in the request; the last stable offset while open and what a
    read_committed consumer sees after the abort."""
    t = s.topic()
    s.create_topic(t, partitions=2)
    t0 = s.broker.t0
    txn = txn_id(s)
    init_producer(s, "init", txn=txn)
    p = init_producer(s, "init again", txn=txn)

    def send(label, b, partition=0, tid=txn):
        s.call(PRODUCE, v, dict(produce_body(t, partition, b), transactional_id=tid),
               label=label)
    add_partitions(s, txn, p, {t: [0]})
    send("transactional", pbatch(t0, [b"t0"], p, 0, txn=True))
    send("partition not added", pbatch(t0, [b"n0"], p, 0, txn=True), partition=1)
    send("plain batch, same producer", pbatch(t0, [b"p1"], p, 1), tid=None)
    send("older epoch", pbatch(t0, [b"o1"], p, 1, txn=True, epoch=p[1] - 1))
    send("no transactional id", pbatch(t0, [b"x1"], p, 1, txn=True), tid=None)
    send("next", pbatch(t0, [b"t1"], p, 1, txn=True))
    s.call(LIST_OFFSETS, V_LIST_OFFSETS, lo_body({t: [(0, -1), (1, -1)]}, isolation=1),
           label="latest committed, open")
    end_txn(s, txn, p, False)
    read_committed(s, t, label="read committed after the abort")


@scenario(ADD_PARTITIONS_TO_TXN)
def apt__unknown_transaction(s, v):
    """A transactional id the coordinator does not know."""
    s.call(ADD_PARTITIONS_TO_TXN, v, apt_body(v, txn_id(s, "missing"), (UNISSUED_PID, 0),
                                              {FIX_DATA: [0]}))


@scenario(ADD_PARTITIONS_TO_TXN, versions=(0, 3), needs=TXN_APIS)
def apt__add(s, v):
    """A partition added (twice: the same answer); a request naming an unknown topic (nothing
    added, OPERATION_NOT_ATTEMPTED for the others); a partition the topic does not have; an
    older and a later epoch; another producer id; no topics."""
    t = s.topic()
    s.create_topic(t, partitions=2)
    t2 = s.topic("other")
    s.create_topic(t2)
    txn = txn_id(s)
    init_producer(s, "init", txn=txn)
    pid, e = init_producer(s, "init again", txn=txn)
    for label, prod, topics in (("add", (pid, e), {t: [0]}), ("again", (pid, e), {t: [0]}),
                                ("with an unknown topic", (pid, e),
                                 {t: [1], MISSING: [0], t2: [0]}),
                                ("partition 7", (pid, e), {t: [7]}),
                                ("older epoch", (pid, e - 1), {t: [1]}),
                                ("later epoch", (pid, e + 5), {t: [1]}),
                                ("other producer id", (UNISSUED_PID, e), {t: [1]}),
                                ("no topics", (pid, e), {})):
        s.call_retrying(ADD_PARTITIONS_TO_TXN, v, apt_body(v, txn, prod, topics), label=label)
    describe_txns(s, [txn])
    end_txn(s, txn, (pid, e), False)


@scenario(ADD_PARTITIONS_TO_TXN, versions=(4, 0x7FFF), needs=TXN_APIS)
def apt__batched(s, v):
    """The batched form (v4+): verify_only of a partition not in the transaction
    (TRANSACTION_ABORTABLE), adding it, verify_only again; a later epoch; two transactions in
    one request, one of them unknown."""
    t = s.topic()
    s.create_topic(t, partitions=2)
    txn = txn_id(s)
    p = init_producer(s, "init", txn=txn)
    s.call(ADD_PARTITIONS_TO_TXN, v, apt_body(v, txn, p, {t: [0]}, True), label="verify only")
    s.call(ADD_PARTITIONS_TO_TXN, v, apt_body(v, txn, p, {t: [0]}), label="add")
    s.call(ADD_PARTITIONS_TO_TXN, v, apt_body(v, txn, p, {t: [0]}, True),
           label="verify only, added")
    s.call(ADD_PARTITIONS_TO_TXN, v, apt_body(v, txn, (p[0], p[1] + 5), {t: [1]}),
           label="later epoch")
    two = apt_body(v, txn, p, {t: [1]})
    two["transactions"] += apt_body(v, txn_id(s, "missing"), p, {t: [1]})["transactions"]
    s.call(ADD_PARTITIONS_TO_TXN, v, two, label="two transactions")
    describe_txns(s, [txn])
    end_txn(s, txn, p, False)


@scenario(ADD_OFFSETS_TO_TXN)
def aot__unknown_transaction(s, v):
    """A transactional id the coordinator does not know."""
    s.call(ADD_OFFSETS_TO_TXN, v, aot_body(txn_id(s, "missing"), (UNISSUED_PID, 0), s.group()))


@scenario(ADD_OFFSETS_TO_TXN, needs=TXN_APIS)
def aot__add(s, v):
    """A group's offsets added to a transaction (twice), an empty group id, an older and a
    later epoch, another producer id; the transaction then holds __consumer_offsets."""
    txn = txn_id(s)
    init_producer(s, "init", txn=txn)
    pid, e = init_producer(s, "init again", txn=txn)
    g = s.group()
    for label, prod, group in (("add", (pid, e), g), ("again", (pid, e), g),
                               ("empty group id", (pid, e), ""),
                               ("older epoch", (pid, e - 1), g),
                               ("later epoch", (pid, e + 5), g),
                               ("other producer id", (UNISSUED_PID, e), g)):
        s.call_retrying(ADD_OFFSETS_TO_TXN, v, aot_body(txn, prod, group), label=label)
    describe_txns(s, [txn])
    end_txn(s, txn, (pid, e), False)


@scenario(TXN_OFFSET_COMMIT)
def toc__unknown_transaction(s, v):
    """Offsets for a transactional id the coordinators do not know."""
    s.call(TXN_OFFSET_COMMIT, v, toc_body(txn_id(s, "missing"), (UNISSUED_PID, 0), s.group(),
                                          FIX_DATA, {0: 1}))


@scenario(TXN_OFFSET_COMMIT, needs=TXN_APIS)
def toc__commit(s, v):
    """Offsets committed in a transaction: before AddOffsetsToTxn (INVALID_TXN_STATE), then
    after it; an unknown topic, an older epoch, another producer id; OffsetFetch with
    require_stable while they are pending (UNSTABLE_OFFSET_COMMIT), and after the commit."""
    g = s.group()
    txn = txn_id(s)
    init_producer(s, "init", txn=txn)
    p = init_producer(s, "init again", txn=txn)
    s.call(TXN_OFFSET_COMMIT, v, toc_body(txn, p, g, FIX_DATA, {0: 3}),
           label="before AddOffsetsToTxn")
    s.setup(ADD_OFFSETS_TO_TXN, V_ADD_OFFSETS, aot_body(txn, p, g), retry=True)
    s.call(TXN_OFFSET_COMMIT, v, toc_body(txn, p, g, FIX_DATA, {0: 3, 1: 1}), label="commit")
    s.call(TXN_OFFSET_COMMIT, v, toc_body(txn, p, g, MISSING, {0: 1}), label="unknown topic")
    s.call(TXN_OFFSET_COMMIT, v, toc_body(txn, (p[0], p[1] - 1), g, FIX_DATA, {0: 4}),
           label="older epoch")
    s.call(TXN_OFFSET_COMMIT, v, toc_body(txn, (UNISSUED_PID, p[1]), g, FIX_DATA, {0: 4}),
           label="other producer id")
    s.call(OFFSET_FETCH, V_OFFSET_FETCH, of_body(V_OFFSET_FETCH, g, {FIX_DATA: [0, 1]},
                                                 require_stable=True), label="pending, stable")
    s.call(OFFSET_FETCH, V_OFFSET_FETCH, of_body(V_OFFSET_FETCH, g, {FIX_DATA: [0, 1]}),
           label="pending")
    end_txn(s, txn, p, True)
    s.call(OFFSET_FETCH, V_OFFSET_FETCH, of_body(V_OFFSET_FETCH, g, {FIX_DATA: [0, 1]},
                                                 require_stable=True), label="after commit")


@scenario(TXN_OFFSET_COMMIT, versions=(3, 0x7FFF), needs=TXN_APIS)
def toc__group_member(s, v):
    """The group generation and member (v3+) of a group with one member: its own, a wrong
    generation, an unknown member, none (-1 and ""), and generation -1 with the member."""
    g = s.group()
    member, gen = s.stable_member(g)
    txn = txn_id(s)
    p = init_producer(s, "init", txn=txn)
    s.setup(ADD_OFFSETS_TO_TXN, V_ADD_OFFSETS, aot_body(txn, p, g), retry=True)
    for label, gn, m in (("member", gen, member), ("wrong generation", gen + 1, member),
                         ("unknown member", gen, "cf-ghost"), ("no member", -1, ""),
                         ("generation -1 with member", -1, member)):
        s.call(TXN_OFFSET_COMMIT, v, toc_body(txn, p, g, FIX_DATA, {0: 2}, generation=gn,
                                              member=m), label=label)
    end_txn(s, txn, p, False)
    leave(s, g, member)


@scenario(END_TXN)
def et__unknown_transaction(s, v):
    """A transactional id the coordinator does not know."""
    s.call(END_TXN, v, end_body(txn_id(s, "missing"), (UNISSUED_PID, 0), True))


@scenario(END_TXN, needs=TXN_APIS)
def et__commit(s, v):
    """A transaction of two batches committed; the same commit again once complete (a retry);
    an abort after it (INVALID_TXN_STATE); then what a read_committed consumer, DescribeProducers
    and DescribeTransactions see."""
    t = s.topic()
    s.create_topic(t)
    txn = txn_id(s)
    p = init_producer(s, "init", txn=txn)
    add_partitions(s, txn, p, {t: [0]})
    txn_send(s, t, 0, [b"c0", b"c1"], txn, p, 0)
    txn_send(s, t, 0, [b"c2"], txn, p, 2)
    s.call_retrying(END_TXN, v, end_body(txn, p, True), label="commit")
    wait_done(s, txn)
    s.call_retrying(END_TXN, v, end_body(txn, p, True), label="commit again")
    s.call_retrying(END_TXN, v, end_body(txn, p, False), label="abort after commit")
    read_committed(s, t)
    describe_producers(s, t, [0])
    describe_txns(s, [txn])


@scenario(END_TXN, needs=TXN_APIS)
def et__abort(s, v):
    """A transaction of two batches aborted: what read_committed and read_uncommitted consumers
    (the aborted transaction listed), DescribeProducers and DescribeTransactions see."""
    t = s.topic()
    s.create_topic(t)
    txn = txn_id(s)
    p = init_producer(s, "init", txn=txn)
    add_partitions(s, txn, p, {t: [0]})
    txn_send(s, t, 0, [b"a0", b"a1"], txn, p, 0)
    txn_send(s, t, 0, [b"a2"], txn, p, 2)
    s.call_retrying(END_TXN, v, end_body(txn, p, False), label="abort")
    wait_done(s, txn)
    read_committed(s, t)
    s.call(FETCH, V_FETCH, fetch_body(s, V_FETCH, t, [(0, 0, 1 << 20)]), label="read uncommitted")
    describe_producers(s, t, [0])
    describe_txns(s, [txn])


@scenario(END_TXN, needs=TXN_APIS)
def et__errors(s, v):
    """Commit and abort with no transaction begun (INVALID_TXN_STATE; an abort v5+ bumps the
    epoch instead); with one open: an older and a later epoch, another producer id, an unknown
    transactional id; after its abort, the same abort again (a retry)."""
    t = s.topic()
    s.create_topic(t)
    txn = txn_id(s)
    init_producer(s, "init", txn=txn)
    pid, e = init_producer(s, "init again", txn=txn)
    s.call_retrying(END_TXN, v, end_body(txn, (pid, e), True), label="commit, none begun")
    resp = s.call_retrying(END_TXN, v, end_body(txn, (pid, e), False), label="abort, none begun")
    if resp is not None and resp["error_code"] == 0 and resp.get("producer_epoch", -1) >= 0:
        e = resp["producer_epoch"]          # v5: the epoch the abort bumped to
    add_partitions(s, txn, (pid, e), {t: [0]})
    for label, tid, prod in (("older epoch", txn, (pid, e - 1)),
                             ("later epoch", txn, (pid, e + 5)),
                             ("other producer id", txn, (UNISSUED_PID, e)),
                             ("unknown transactional id", txn_id(s, "missing"), (pid, e))):
        s.call_retrying(END_TXN, v, end_body(tid, prod, True), label=label)
    end_txn(s, txn, (pid, e), False)
    s.call_retrying(END_TXN, v, end_body(txn, (pid, e), False), label="abort again")
    s.settle(DESCRIBE_TRANSACTIONS, V_DESCRIBE_TXN, {"transactional_ids": [txn]},
             lambda b: b["transaction_states"][0]["transaction_state"] in DONE_STATES)
    describe_txns(s, [txn])


@scenario(DESCRIBE_TRANSACTIONS)
def dtx__unknown(s, v):
    """An unknown transactional id, an empty one, none."""
    describe_txns(s, [txn_id(s, "missing")], label="unknown")
    describe_txns(s, [""], label="empty id")
    describe_txns(s, [], label="none")


@scenario(DESCRIBE_TRANSACTIONS, needs=TXN_APIS)
def dtx__states(s, v):
    """One transactional id through Empty, Ongoing (two partitions), CompleteCommit, Ongoing
    again and CompleteAbort; then several ids in one request (the fixture's, an unknown one)."""
    t = s.topic()
    s.create_topic(t, partitions=2)
    txn = txn_id(s)
    p = init_producer(s, "init", txn=txn)
    describe_txns(s, [txn], label="empty")
    add_partitions(s, txn, p, {t: [0, 1]})
    describe_txns(s, [txn], label="ongoing")
    end_txn(s, txn, p, True)
    describe_txns(s, [txn], label="committed")
    add_partitions(s, txn, p, {t: [1]})
    end_txn(s, txn, p, False)
    describe_txns(s, [txn], label="aborted")
    describe_txns(s, [txn, txn_id(s, "missing"), FIX_TXN], label="several")


def ltx_body(states=(), pids=(), duration=-1):
    return {"state_filters": list(states), "producer_id_filters": list(pids),
            "duration_filter": duration}


@scenario(LIST_TRANSACTIONS)
def ltx__list(s, v):
    """Every transaction (compared for the fixture's), and a state filter naming no state."""
    s.call(LIST_TRANSACTIONS, v, ltx_body(), label="all", scope=True)
    s.call(LIST_TRANSACTIONS, v, ltx_body(states=["Bogus"]), label="unknown state", scope=True)


@scenario(LIST_TRANSACTIONS, needs=TXN_APIS)
def ltx__filters(s, v):
    """Two transactional ids, one Empty, one Ongoing: no filter, state filters (one unknown),
    the producer id of one, and (v1+) a duration of an hour and of 0."""
    t = s.topic()
    s.create_topic(t)
    a, b = txn_id(s, "empty"), txn_id(s, "open")
    init_producer(s, "init empty", txn=a)
    pb = init_producer(s, "init open", txn=b)
    add_partitions(s, b, pb, {t: [0]})
    s.call(LIST_TRANSACTIONS, v, ltx_body(), label="all", scope=True)
    s.call(LIST_TRANSACTIONS, v, ltx_body(states=["Ongoing", "Bogus"]), label="ongoing",
           scope=True)
    s.call(LIST_TRANSACTIONS, v, ltx_body(pids=[pb[0]]), label="producer id", scope=True)
    if v >= 1:
        # "Running longer than" the duration, in ms: the open one must be at least 1 ms old
        # for duration 0 to keep it, which a broker answering within the same ms is not.
        time.sleep(0.01)
        s.call(LIST_TRANSACTIONS, v, ltx_body(duration=3600000), label="an hour old",
               scope=True)
        s.call(LIST_TRANSACTIONS, v, ltx_body(duration=0), label="duration 0", scope=True)
    end_txn(s, b, pb, False)


@scenario(FETCH, needs=TXN_APIS)
def fe__transactions(s, v):
    """A partition of committed, aborted and open transactions (txn_layout): read_committed
    from 0, 5 and the last stable offset, with a small partition_max_bytes; read_uncommitted
    (no aborted transactions listed; the last stable offset all the same)."""
    t = s.topic()
    s.create_topic(t)
    txn_layout(s, t)
    for label, off, mb in (("committed from 0", 0, 1 << 20), ("committed from 5", 5, 1 << 20),
                           ("committed from 10", 10, 1 << 20), ("committed, 80 bytes", 0, 80)):
        s.call(FETCH, v, fetch_body(s, v, t, [(0, off, mb)], isolation=1), label=label)
    s.call(FETCH, v, fetch_body(s, v, t, [(0, 0, 1 << 20)]), label="uncommitted from 0")


@scenario(LIST_OFFSETS, versions=(2, 0x7FFF), needs=TXN_APIS)
def lo__transactions(s, v):
    """Latest, earliest and by timestamp, isolation_level 0 and 1, of a partition of
    transactions with one left open (txn_layout): latest committed is the last stable
    offset."""
    t = s.topic()
    s.create_topic(t)
    txn_layout(s, t)
    for label, ts, iso in (("latest", -1, 0), ("latest committed", -1, 1),
                           ("earliest committed", -2, 1),
                           ("timestamp committed", s.broker.t0, 1)):
        s.call(LIST_OFFSETS, v, lo_body({t: [(0, ts)]}, isolation=iso), label=label)


@scenario(DESCRIBE_PRODUCERS, needs=TXN_APIS)
def dp__transactions(s, v):
    """The producers of a partition of transactions (txn_layout): coordinator epochs once a
    marker was written, the open transaction's first offset."""
    t = s.topic()
    s.create_topic(t)
    txn_layout(s, t)
    describe_producers(s, t, [0])


# -- internal topics (issue 14) -------------------------------------------------------------------
# What a client may do to __consumer_offsets, which holds every group's committed offsets. Only
# requests that change nothing on Kafka run here (refused, or validate_only): a real delete or
# cleanup.policy change would destroy the oracle's fixture group for every later scenario.
# tests/integration/test_internal_topics.py covers the real ones on Runnel.

OFFSETS_TOPIC = "__consumer_offsets"


@scenario(PRODUCE, versions=(3, 0x7FFF))
def pr__internal_topic(s, v):
    """A client batch into __consumer_offsets (acks 1 and -1) and into a partition it lacks:
    Kafka refuses the first with INVALID_TOPIC_EXCEPTION, without a message."""
    b = batch(s.broker.t0, [b"forged"])
    s.call(PRODUCE, v, produce_body(OFFSETS_TOPIC, 0, b, acks=1), label="acks=1")
    s.call(PRODUCE, v, produce_body(OFFSETS_TOPIC, 0, b), label="acks=-1")
    s.call(PRODUCE, v, produce_body(OFFSETS_TOPIC, 99, b), label="partition 99")
    s.call(OFFSET_FETCH, V_OFFSET_FETCH, of_body(V_OFFSET_FETCH, FIX_GROUP, None),
           label="fixture group")


@scenario(DELETE_RECORDS)
def dr__internal_topic(s, v):
    """DeleteRecords on __consumer_offsets: INVALID_TOPIC_EXCEPTION whatever the offset; an
    unknown partition first."""
    s.call(DELETE_RECORDS, v, {"topics": [{"name": OFFSETS_TOPIC, "partitions": [
        {"partition_index": 0, "offset": -1}, {"partition_index": 1, "offset": -7},
        {"partition_index": 99, "offset": 0}]}], "timeout_ms": 10000}, label="delete")


@scenario(CREATE_TOPICS)
def ct__internal_topic(s, v):
    """CreateTopics of __consumer_offsets, which exists: TOPIC_ALREADY_EXISTS."""
    body = {"topics": [ct_topic(OFFSETS_TOPIC, 1)], "timeout_ms": 10000, "validate_only": False}
    s.call(CREATE_TOPICS, v, body, label="exists")


@scenario(CREATE_PARTITIONS)
def cp__internal_topic(s, v):
    """More partitions for __consumer_offsets (validate_only), and as many as now: Kafka
    allows the first, which would move groups to other partitions (Runnel refuses it)."""
    req = {"timeout_ms": 10000, "validate_only": True}
    s.call(CREATE_PARTITIONS, v, dict(req, topics=[
        {"name": OFFSETS_TOPIC, "count": 2, "assignments": None}]), label="grow")
    s.call(CREATE_PARTITIONS, v, dict(req, topics=[
        {"name": OFFSETS_TOPIC, "count": 1, "assignments": None}]), label="same")


@scenario(ALTER_CONFIGS)
def ac__internal_topic(s, v):
    """validate_only on __consumer_offsets: a set that keeps cleanup.policy=compact, and one
    that leaves it out (AlterConfigs replaces every override, so the policy would become the
    broker's delete)."""
    s.call(ALTER_CONFIGS, v, ac_body([(2, OFFSETS_TOPIC, {
        "cleanup.policy": "compact", "retention.ms": "3600000"})], True), label="keeps compact")
    s.call(ALTER_CONFIGS, v, ac_body([(2, OFFSETS_TOPIC, {"retention.ms": "3600000"})], True),
           label="drops compact")
    describe_keys(s, OFFSETS_TOPIC, ["cleanup.policy", "retention.ms"], "describe")


@scenario(INCREMENTAL_ALTER_CONFIGS)
def iac__internal_topic(s, v):
    """validate_only on __consumer_offsets: SET retention.ms, SET cleanup.policy=delete, APPEND
    delete."""
    for label, ops in (("retention", [("retention.ms", 0, "3600000")]),
                       ("policy delete", [("cleanup.policy", 0, "delete")]),
                       ("append delete", [("cleanup.policy", 2, "delete")])):
        s.call(INCREMENTAL_ALTER_CONFIGS, v, iac_body([(2, OFFSETS_TOPIC, ops)], True),
               label=label)
    describe_keys(s, OFFSETS_TOPIC, ["cleanup.policy", "retention.ms"], "describe")


# -- probes: unknown versions and APIs without scenarios ------------------------------------------

ONCE = 0x7FFF          # the version the once-only scenarios are filed under: none has it

# Request bodies for the probe of an API that has a schema but no scenario (one broker serves
# it); APIs not listed get a body of schema defaults.
PROBE_BODIES = {
    SASL_HANDSHAKE: {"mechanism": "PLAIN"},
}


def generic_probe(api):
    def probe(s, v):
        s.call(api, v, PROBE_BODIES.get(api, {}), label="probe")
    return Scenario(api, "probe", probe, None, "A request of schema defaults.")


def unknown_version(api):
    def probe(s, v):
        cid = CLIENT_ID.encode()
        payload = struct.pack(">hhih", api, ONCE, 0, len(cid)) + cid
        s.call(api, ONCE, payload=payload, label="v%d, header only" % ONCE)
    return Scenario(api, "unknown_version", probe, None,
                    "Version 32767, which no broker serves: the connection is closed.")


class Plan:
    """What runs: every (scenario, version) in order, and the status of each (API, version):
    'both', 'runnel only', 'kafka only', 'kafka only (no schema)', 'runnel only (no schema)'."""

    def __init__(self, codec, runnel, kafka):
        self.codec = codec
        self.runnel, self.kafka = runnel, kafka        # {key: (min, max)} advertised
        self.status = {}                               # (key, version) -> status
        self.items = []                                # [(Scenario, version, one-sided)]
        self.skipped = [sc for sc in SCENARIOS if not self.served(sc.needs)]
        for key in sorted(set(runnel) | set(kafka)):
            los = [r[0] for r in (runnel.get(key), kafka.get(key)) if r]
            his = [r[1] for r in (runnel.get(key), kafka.get(key)) if r]
            registered = scenarios_for(key)
            if key == API_VERSIONS:
                once = [sc for sc in registered if sc.name == "unknown_version"]
                registered = [sc for sc in registered if sc.name != "unknown_version"]
            else:
                once = [unknown_version(key)]
            for v in range(min(los), max(his) + 1):
                in_r = runnel.get(key) and runnel[key][0] <= v <= runnel[key][1]
                in_k = kafka.get(key) and kafka[key][0] <= v <= kafka[key][1]
                if not in_r and not in_k:
                    continue
                schema = codec.has_version(key, v)
                st = "both" if in_r and in_k else "runnel only" if in_r else "kafka only"
                if not schema:
                    st += " (no schema)" if st != "both" else ""
                    if st == "both":
                        st = "both (no schema)"
                self.status[(key, v)] = st
                if not schema:
                    continue
                applicable = [sc for sc in registered if sc.applies(v) and
                              self.served(sc.needs)]
                if st == "both":
                    self.items += [(sc, v, False) for sc in applicable] or \
                        [(generic_probe(key), v, False)]
                else:
                    self.items.append((applicable[0] if applicable else generic_probe(key), v,
                                       True))
            self.items += [(sc, ONCE, False) for sc in once]

    def served(self, keys):
        """Both brokers advertise every API of `keys`."""
        return all(k in self.runnel and k in self.kafka for k in keys)

