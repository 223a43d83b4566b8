# SPDX-License-Identifier: Apache-2.0
"""Apache Kafka as a test fixture ("the oracle"): a real Kafka broker beside Runnel, so that a
test can ask both the same question and compare the answers.

KafkaBroker() runs one KRaft node (broker and controller in one JVM, node 1, a standalone
controller quorum) from the jars that scripts/setup put in .cache/kafka-VERSION/libs (Maven,
tests/kafka/pom.xml; VERSION is the pom's kafka.version). start() makes a fresh temporary
directory, picks two free ports on 127.0.0.1 (the PLAINTEXT listener and the controller's),
writes our own server.properties there, formats the data directory with Kafka's StorageTool,
starts `java kafka.Kafka`, and returns once Metadata on the PLAINTEXT port answers and lists this
broker (at most START_TIMEOUT s). stop() sends SIGTERM, waits at most STOP_TIMEOUT s, then
SIGKILL, always to the pid it started and nothing else, and removes the directory (kept with
RUNNEL_KEEP_TMP=1). kill9() kills it as a crash would, keeping the directory, and restart()
starts it again there, on the same ports, without formatting.

Kafka logs warnings and errors only (tests/kafka/log4j2.xml; RUNNEL_KAFKA_LOG_LEVEL=INFO for
more) into kafka.log in that directory; the JVM's own stdout and stderr go to kafka.out beside
it. A failed start prints the tail of both. Startup times go to stderr: the format step, and the
start to the first answer.

Missing jars or a missing `java` is a failure, never a skip: scripts/setup installs them.

    with KafkaBroker() as kafka:                 # or: kafka = KafkaBroker().start()
        ... kafka.port, kafka.bootstrap ...      #     self.addCleanup(kafka.stop)

Overrides are server.properties keys, as a dict or as "key=value" strings; those that place the
node (listeners, ports, node id, roles, log.dirs) belong to the fixture and are refused.
`advertised` ("HOST:PORT") makes the node advertise another address for its PLAINTEXT listener,
such as a proxy in front of it (test_idempotent_chaos.py); a callable is asked for it once the
node's port is known. The fixture itself still talks to the node's own port.
`features` ({name: level}) sets feature levels when the node is formatted, such as
{"transaction.version": 1}.
Call start() from the test's main thread: the kernel kills Kafka when the thread that started it
exits (PR_SET_PDEATHSIG), as for harness.Broker.

From the command line, for scripts/bench (issue 10), the same node with Kafka's own JVM settings:

    python3 tests/integration/kafka_oracle.py --serve DIR [KEY=VALUE ...]

formats a node in DIR (new or empty) with free ports, prints "listening on 127.0.0.1:PORT" and
"exec_monotonic_ns=N" (CLOCK_MONOTONIC when it execs the JVM), then replaces itself with
`java kafka.Kafka`: the caller's pid is Kafka's, and start-up can be timed from the exec, format
left out. Kafka's log and the node's files stay in DIR; stopping it is the caller's business.
"""

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from harness import API_VERSIONS, METADATA, HOST, KafkaSocket, _die_with_parent, \
    parse_api_versions_v0_body
from kafka_wire import metadata_body, metadata_flexible, parse_metadata_response

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
POM = os.path.join(REPO, "tests", "kafka", "pom.xml")
LOG4J_CONFIG = os.path.join(REPO, "tests", "kafka", "log4j2.xml")

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
FORMAT_TIMEOUT = 60.0
PROBE_TIMEOUT = 2.0          # one ApiVersions or Metadata try while Kafka starts
BIND_ATTEMPTS = 3            # fresh ports after a lost race for one
LOG_TAIL_LINES = 60
NODE_ID = 1

# The JVM's options, measured on the 2-core machine (medians of 5 starts, format + start to the
# first Metadata answer, RSS after 10 s idle): Kafka's own script settings (G1, a fixed 1 GiB
# heap) take 4.1 s and 376 MiB; the serial collector, C1 only (the JIT's second tier competes
# with the test for two cores) and a small initial heap take 3.7 s and 283 MiB. A test broker
# moves little data, so C2's faster code does not pay for itself.
JVM_OPTS = ["-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true"]

# Kafka's own JVM settings: what bin/kafka-server-start.sh (the heap) and bin/kafka-run-class.sh
# (the collector, the server VM, headless) pass when KAFKA_HEAP_OPTS and KAFKA_JVM_PERFORMANCE_OPTS
# are unset, with the JIT's every tier. serve() runs the broker with these: a benchmark measures
# Kafka as a user starts it, not the fixture's trimmed JVM.
SCRIPT_JVM_OPTS = ["-Xmx1G", "-Xms1G", "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                   "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
                   "-Djava.awt.headless=true"]

# Keys that say where the node is and what it is: set by start(), never by an override.
FIXED_KEYS = {"process.roles", "node.id", "listeners", "advertised.listeners",
              "controller.listener.names", "listener.security.protocol.map",
              "inter.broker.listener.name", "controller.quorum.bootstrap.servers",
              "controller.quorum.voters", "log.dirs", "log.dir"}

# Settings a one-node cluster needs (internal topics with one replica, since Kafka's defaults
# ask for 3) or that make a test broker answer at once (no group rebalance delay), before the
# caller's overrides. Everything else keeps Kafka's default: the oracle is Kafka as shipped.
DEFAULTS = {
    "num.partitions": "1",
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
}

# Kafka's API names by key (ApiKeys in kafka-clients 4.4), for messages and printed tables.
API_NAMES = {
    0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 4: "LeaderAndIsr",
    5: "StopReplica", 6: "UpdateMetadata", 7: "ControlledShutdown", 8: "OffsetCommit",
    9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup",
    14: "SyncGroup", 15: "DescribeGroups", 16: "ListGroups", 17: "SaslHandshake",
    18: "ApiVersions", 19: "CreateTopics", 20: "DeleteTopics", 21: "DeleteRecords",
    22: "InitProducerId", 23: "OffsetForLeaderEpoch", 24: "AddPartitionsToTxn",
    25: "AddOffsetsToTxn", 26: "EndTxn", 27: "WriteTxnMarkers", 28: "TxnOffsetCommit",
    29: "DescribeAcls", 30: "CreateAcls", 31: "DeleteAcls", 32: "DescribeConfigs",
    33: "AlterConfigs", 34: "AlterReplicaLogDirs", 35: "DescribeLogDirs", 36: "SaslAuthenticate",
    37: "CreatePartitions", 38: "CreateDelegationToken", 39: "RenewDelegationToken",
    40: "ExpireDelegationToken", 41: "DescribeDelegationToken", 42: "DeleteGroups",
    43: "ElectLeaders", 44: "IncrementalAlterConfigs", 45: "AlterPartitionReassignments",
    46: "ListPartitionReassignments", 47: "OffsetDelete", 48: "DescribeClientQuotas",
    49: "AlterClientQuotas", 50: "DescribeUserScramCredentials", 51: "AlterUserScramCredentials",
    52: "Vote", 53: "BeginQuorumEpoch", 54: "EndQuorumEpoch", 55: "DescribeQuorum",
    56: "AlterPartition", 57: "UpdateFeatures", 58: "Envelope", 59: "FetchSnapshot",
    60: "DescribeCluster", 61: "DescribeProducers", 62: "BrokerRegistration",
    63: "BrokerHeartbeat", 64: "UnregisterBroker", 65: "DescribeTransactions",
    66: "ListTransactions", 67: "AllocateProducerIds", 68: "ConsumerGroupHeartbeat",
    69: "ConsumerGroupDescribe", 70: "ControllerRegistration", 71: "GetTelemetrySubscriptions",
    72: "PushTelemetry", 73: "AssignReplicasToDirs", 74: "ListConfigResources",
    75: "DescribeTopicPartitions", 76: "ShareGroupHeartbeat", 77: "ShareGroupDescribe",
    78: "ShareFetch", 79: "ShareAcknowledge", 80: "AddRaftVoter", 81: "RemoveRaftVoter",
    82: "UpdateRaftVoter", 83: "InitializeShareGroupState", 84: "ReadShareGroupState",
    85: "WriteShareGroupState", 86: "DeleteShareGroupState", 87: "ReadShareGroupStateSummary",
    88: "StreamsGroupHeartbeat", 89: "StreamsGroupDescribe", 90: "DescribeShareGroupOffsets",
    91: "AlterShareGroupOffsets", 92: "DeleteShareGroupOffsets",
    93: "StreamsGroupTopologyDescriptionUpdate", 94: "UnregisterController",
}


def api_name(key):
    return API_NAMES.get(key, "ApiKey%d" % key)


def kafka_version():
    """The kafka.version property of tests/kafka/pom.xml: the one place that names it."""
    with open(POM, encoding="utf-8") as f:
        m = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", f.read())
    if not m:
        raise AssertionError("%s has no <kafka.version>" % POM)
    return m.group(1)


def kafka_home():
    """Where scripts/setup installs Kafka: $RUNNEL_KAFKA_HOME, else .cache/kafka-VERSION."""
    return os.environ.get("RUNNEL_KAFKA_HOME") or os.path.join(REPO, ".cache",
                                                              "kafka-" + kafka_version())


def kafka_libs():
    """The directory of jars, checked complete: scripts/setup writes the `complete` marker only
    after Maven copied every jar, so a half-finished copy is never used."""
    home = kafka_home()
    libs = os.path.join(home, "libs")
    if not os.path.isfile(os.path.join(home, "complete")) or not os.path.isdir(libs):
        raise AssertionError("Apache Kafka %s is not installed in %s (no 'complete' marker): "
                             "run ./scripts/setup, which fetches it with Maven"
                             % (kafka_version(), home))
    return libs


def cds_archive():
    """The class-data sharing archive that `kafka_oracle.py --cds` (run by scripts/setup) dumps
    beside the jars: with it, the JVM maps Kafka's classes instead of loading and verifying them,
    which takes about 1.2 s off each start (format and broker). A stale or missing archive
    costs only that time; the JVM checks it and goes on without it."""
    return os.path.join(kafka_home(), "kafka.jsa")


def java_bin():
    """$RUNNEL_JAVA, else $JAVA_HOME/bin/java, else `java` on PATH. Kafka 4 needs Java 17+."""
    path = os.environ.get("RUNNEL_JAVA")
    if not path and os.environ.get("JAVA_HOME"):
        path = os.path.join(os.environ["JAVA_HOME"], "bin", "java")
    path = path or shutil.which("java")
    if not path or not os.access(path, os.X_OK):
        raise AssertionError("no java to run Kafka with (RUNNEL_JAVA, JAVA_HOME, PATH): run "
                             "./scripts/setup")
    return path


def random_cluster_id():
    """A cluster id as Kafka makes them (Uuid.randomUuid): 16 random bytes in unpadded URL-safe
    base64, never the zero id and never starting with '-', which a command line would take for
    an option."""
    while True:
        raw = uuid.uuid4().bytes
        text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        if any(raw) and not text.startswith("-"):
            return text


def free_ports(n):
    """`n` distinct ports that were free a moment ago: each socket stays bound until all are
    chosen. Another process can still take one before Kafka binds it; start() retries then."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _parse_overrides(overrides):
    if overrides is None:
        return {}
    if isinstance(overrides, dict):
        items = overrides.items()
    else:
        items = []
        for kv in overrides:
            key, sep, value = kv.partition("=")
            if not sep:
                raise ValueError("override %r is not key=value" % kv)
            items.append((key, value))
    out = {}
    for key, value in items:
        key = key.strip()
        if key in FIXED_KEYS:
            raise ValueError("%s is set by KafkaBroker itself and cannot be overridden" % key)
        out[key] = str(value)
    return out


def _tail(path, n):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()[-n:]
    except OSError:
        return []


class KafkaBroker:
    """One Apache Kafka process (KRaft, broker and controller in one). Use start()/stop() or
    `with KafkaBroker() as kafka:`."""

    def __init__(self, overrides=None, jvm_opts=None, advertised=None, features=None):
        self.overrides = _parse_overrides(overrides)
        self.advertised = advertised
        # Feature levels set when the node is formatted (StorageTool --feature name=level), say
        # {"transaction.version": 1} for the transaction protocol before KIP-890 part 2; the
        # default is what Kafka's release version enables.
        self.features = dict(features or {})
        self.jvm_opts = list(JVM_OPTS if jvm_opts is None else jvm_opts)
        if jvm_opts is None and os.path.isfile(cds_archive()):
            self.jvm_opts.append("-XX:SharedArchiveFile=" + cds_archive())
        self.format_jvm_opts = self.jvm_opts   # the StorageTool's JVM: the same unless serve()
        self.proc = None
        self.host = HOST
        self.port = None
        self.controller_port = None
        self.tmpdir = None
        self.data_dir = None
        self.log_path = None         # Kafka's own log (log4j2.xml): warnings and errors
        self.out_path = None         # the JVM's stdout and stderr
        self.cluster_id = None
        self.api_versions = None     # {key: (min, max)} from the ApiVersions v0 that answered
        self.format_seconds = None
        self.start_seconds = None    # from exec of kafka.Kafka to the first Metadata answer
        self._out = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self):
        """Formats a fresh node and starts it; returns self once Metadata answers."""
        if self.proc is not None:
            raise AssertionError("KafkaBroker.start(): already running (pid %d)" % self.proc.pid)
        libs = kafka_libs()
        java = java_bin()
        self._place(tempfile.mkdtemp(prefix="runnel-kafka-"), libs)
        try:
            for attempt in range(1, BIND_ATTEMPTS + 1):
                self.port, self.controller_port = free_ports(2)
                self._write_config()
                self._format(java)
                if self._launch(java):
                    return self
                # The process died before answering. Only a lost race for a port earns another
                # try, with new ports and a newly formatted directory (the standalone quorum
                # records the controller's address).
                if not self._lost_port_race() or attempt == BIND_ATTEMPTS:
                    raise AssertionError("Kafka exited with status %s before answering; "
                                         "command: %s" % (self.proc.returncode,
                                                          " ".join(self.cmd)))
                print("kafka_oracle: port %d or %d was taken before Kafka bound it; retrying "
                      "with new ports" % (self.port, self.controller_port), file=sys.stderr)
                self._close_proc()
                shutil.rmtree(self.data_dir, ignore_errors=True)
        except BaseException:
            self._kill()
            self.dump_log()
            self._cleanup()
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _place(self, directory, libs):
        """Puts the node's files in `directory` (data, Kafka's log, the JVM's output, the
        config), with the jars of `libs` on the class path."""
        self.classpath = os.path.join(libs, "*")
        self.tmpdir = directory
        self.data_dir = os.path.join(self.tmpdir, "data")
        self.log_path = os.path.join(self.tmpdir, "kafka.log")
        self.out_path = os.path.join(self.tmpdir, "kafka.out")
        self.cluster_id = random_cluster_id()

    def _write_config(self):
        advertised = self.advertised() if callable(self.advertised) else self.advertised
        props = {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            "listeners": "PLAINTEXT://%s:%d,CONTROLLER://%s:%d"
                         % (HOST, self.port, HOST, self.controller_port),
            "advertised.listeners": "PLAINTEXT://" + (advertised or "%s:%d" % (HOST, self.port)),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.quorum.bootstrap.servers": "%s:%d" % (HOST, self.controller_port),
            "log.dirs": self.data_dir,
        }
        props.update(DEFAULTS)
        props.update(self.overrides)
        self.config_path = os.path.join(self.tmpdir, "server.properties")
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write("# Written by tests/integration/kafka_oracle.py for one test run.\n")
            for key, value in props.items():
                f.write("%s=%s\n" % (key, value))

    def _format(self, java):
        """StorageTool format --standalone: this node alone is the controller quorum (KIP-853)."""
        cmd = [java] + self.format_jvm_opts + self._log_opts() + [
            "-cp", self.classpath, "kafka.tools.StorageTool", "format",
            "--cluster-id", self.cluster_id, "--config", self.config_path, "--standalone"]
        for name, level in self.features.items():
            cmd += ["--feature", "%s=%s" % (name, level)]
        t0 = time.monotonic()
        res = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=FORMAT_TIMEOUT,
                             preexec_fn=_die_with_parent)
        self.format_seconds = time.monotonic() - t0
        if res.returncode != 0:
            raise AssertionError("kafka-storage format exited with status %d:\n%s\ncommand: %s"
                                 % (res.returncode, res.stdout.decode(errors="replace"),
                                    " ".join(cmd)))

    def _log_opts(self):
        opts = ["-Dlog4j2.configurationFile=" + LOG4J_CONFIG, "-Dkafka.logs.dir=" + self.tmpdir]
        if os.environ.get("RUNNEL_KAFKA_LOG_LEVEL"):
            opts.append("-Drunnel.kafka.log.level=" + os.environ["RUNNEL_KAFKA_LOG_LEVEL"])
        return opts

    def _launch(self, java):
        """Starts kafka.Kafka and waits for it to answer. True once it does; False when the
        process exits first. Raises when it neither answers nor exits within START_TIMEOUT."""
        self.cmd = self._kafka_cmd(java)
        self._out = open(self.out_path, "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=subprocess.STDOUT, cwd=self.tmpdir,
                                     preexec_fn=_die_with_parent)
        deadline = t0 + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self._probe():
                self.start_seconds = time.monotonic() - t0
                print("kafka_oracle: Kafka %s (pid %d) answered on %s:%d after %.2f s "
                      "(format %.2f s)" % (kafka_version(), self.proc.pid, HOST, self.port,
                                           self.start_seconds, self.format_seconds),
                      file=sys.stderr)
                return True
            time.sleep(0.1)
        raise AssertionError("Kafka did not answer Metadata on %s:%d within %.0f s; command: %s"
                             % (HOST, self.port, START_TIMEOUT, " ".join(self.cmd)))

    def _kafka_cmd(self, java):
        """The broker's command line: the JVM, its options, Kafka's log settings, kafka.Kafka."""
        return [java] + self.jvm_opts + self._log_opts() + [
            "-cp", self.classpath, "kafka.Kafka", self.config_path]

    def _probe(self):
        """One try: ApiVersions v0, then Metadata (the highest version we parse) must answer and
        list this broker, which Kafka does once the node has registered and been unfenced."""
        try:
            with KafkaSocket(self.port, timeout=PROBE_TIMEOUT) as s:
                s.send_request(API_VERSIONS, 0, 1, client_id="kafka-oracle")
                corr, r = s.recv_response()
                error, keys = parse_api_versions_v0_body(r)
                if corr != 1 or error != 0 or METADATA not in keys:
                    return False
                version = min(keys[METADATA][1], 13)
                flexible = metadata_flexible(version)
                s.send_request(METADATA, version, 2, body=metadata_body(version),
                               flexible=flexible, client_id="kafka-oracle")
                corr, r = s.recv_response()
                if flexible:
                    r.skip_tags()
                md = parse_metadata_response(version, r)
        except (OSError, AssertionError):
            # Refused before the listener is up, or accepted and left waiting (or closed) while
            # the broker is still starting: try again.
            return False
        if corr != 2 or not any(b[0] == NODE_ID for b in md["brokers"]):
            return False
        self.api_versions = keys
        return True

    def _lost_port_race(self):
        text = "\n".join(_tail(self.log_path, 200) + _tail(self.out_path, 200))
        return "Address already in use" in text or "BindException" in text

    def stop(self):
        """SIGTERM, at most STOP_TIMEOUT s, then SIGKILL to Kafka's own pid; removes the
        temporary directory. Raises AssertionError when Kafka had already exited by itself."""
        if self.proc is None:
            return
        try:
            code = self.proc.poll()
            if code is not None:
                self.dump_log()
                raise AssertionError("Kafka (pid %d) exited by itself with status %s before "
                                     "stop()" % (self.proc.pid, code))
            t0 = time.monotonic()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
                print("kafka_oracle: Kafka stopped %.2f s after SIGTERM"
                      % (time.monotonic() - t0), file=sys.stderr)
            except subprocess.TimeoutExpired:
                print("kafka_oracle: Kafka did not exit within %.0f s of SIGTERM; SIGKILL"
                      % STOP_TIMEOUT, file=sys.stderr)
                self._kill()
        finally:
            self._cleanup()

    def kill9(self):
        """SIGKILL to Kafka's own pid, as a crash: nothing is flushed and the directory stays,
        for restart(). Raises AssertionError when Kafka had already exited by itself."""
        if self.proc is None:
            raise AssertionError("kill9(): Kafka is not running")
        code = self.proc.poll()
        if code is not None:
            self.dump_log()
            raise AssertionError("Kafka (pid %d) exited by itself with status %s before kill9()"
                                 % (self.proc.pid, code))
        self._kill()
        self._close_proc()

    def restart(self, sig=signal.SIGKILL):
        """Stops Kafka with `sig` (SIGKILL by default, as kill9(); SIGTERM waits at most
        STOP_TIMEOUT s for a clean exit) unless it is already stopped, then starts it again on
        the same directory, ports and cluster id, without formatting: the restarted node
        recovers its logs and metadata as after a crash or a reboot. Returns self once Metadata
        answers, as start() does."""
        if self.tmpdir is None:
            raise AssertionError("restart(): Kafka was never started, or stop() removed its "
                                 "directory")
        if self.proc is not None:
            if sig == signal.SIGKILL:
                self.kill9()
            else:
                self.proc.send_signal(sig)
                try:
                    self.proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self._kill()
                    raise AssertionError("Kafka did not exit within %.0f s of %s"
                                         % (STOP_TIMEOUT, signal.Signals(sig).name))
                self._close_proc()
        try:
            # The ports were Kafka's a moment ago; a client's reconnect cannot take a listening
            # port, so the only race is with an unrelated process binding it, which fails here.
            if not self._launch(java_bin()):
                raise AssertionError("Kafka exited with status %s on restart before answering; "
                                     "command: %s" % (self.proc.returncode, " ".join(self.cmd)))
        except BaseException:
            self._kill()
            self.dump_log()
            self._cleanup()
            raise
        return self

    def _kill(self):
        """Last resort: SIGKILL to the process this object started, then reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def _close_proc(self):
        if self._out is not None:
            self._out.close()
            self._out = None
        self.proc = None

    def _cleanup(self):
        self._close_proc()
        if self.tmpdir and not os.environ.get("RUNNEL_KEEP_TMP"):
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- observation -----------------------------------------------------------------------

    @property
    def bootstrap(self):
        return "%s:%d" % (HOST, self.port)

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_lines(self):
        """Kafka's log so far (warnings and errors)."""
        return _tail(self.log_path, 1 << 30) if self.log_path else []

    def dump_log(self):
        """Prints the tails of Kafka's log and of the JVM's output to stdout (meson shows it
        for a failing test)."""
        for what, path in (("kafka.log", self.log_path), ("JVM stdout/stderr", self.out_path)):
            if not path:
                continue
            lines = _tail(path, LOG_TAIL_LINES)
            print("---- Kafka %s (%s), last %d lines ----" % (what, path, len(lines)))
            for line in lines:
                print(line)
        print("---- end of Kafka output ----")
        sys.stdout.flush()


def make_cds_archive():
    """Starts Kafka once with -XX:ArchiveClassesAtExit and stops it, so that the JVM dumps the
    classes it loaded into cds_archive(). The dump goes to a temporary name that is renamed at
    the end: a reader never sees half an archive. Returns 0 or 1, for scripts/setup."""
    final = cds_archive()
    partial = "%s.%d.partial" % (final, os.getpid())
    opts = JVM_OPTS + ["-XX:ArchiveClassesAtExit=" + partial]
    try:
        KafkaBroker(jvm_opts=opts).start().stop()
        if not os.path.isfile(partial):
            print("kafka_oracle: the JVM wrote no archive to %s" % partial, file=sys.stderr)
            return 1
        os.replace(partial, final)
        print("kafka_oracle: wrote %s (%d MiB)" % (final, os.path.getsize(final) >> 20),
              file=sys.stderr)
        return 0
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def serve(directory, overrides):
    """Formats a node in `directory` and replaces this process with its broker, run with
    SCRIPT_JVM_OPTS (the module's header says what it prints). The format step is not what is
    measured, so it runs with the fixture's quick JVM. Returns only on failure: 1."""
    broker = KafkaBroker(overrides, jvm_opts=SCRIPT_JVM_OPTS)
    broker.format_jvm_opts = list(JVM_OPTS)
    if os.path.isfile(cds_archive()):
        broker.format_jvm_opts.append("-XX:SharedArchiveFile=" + cds_archive())
    libs = kafka_libs()
    java = java_bin()
    os.makedirs(directory, exist_ok=True)
    if os.listdir(directory):
        print("kafka_oracle: --serve %s: the directory is not empty" % directory, file=sys.stderr)
        return 1
    broker._place(os.path.abspath(directory), libs)
    broker.port, broker.controller_port = free_ports(2)
    broker._write_config()
    broker._format(java)
    cmd = broker._kafka_cmd(java)
    print("kafka_oracle: Kafka %s formatted in %s (%.2f s); exec %s"
          % (kafka_version(), broker.data_dir, broker.format_seconds, " ".join(cmd)))
    print("listening on %s:%d" % (HOST, broker.port))
    # The clock the caller reads too (runnel-bench spawn: CLOCK_MONOTONIC), read as late as
    # possible: what follows is the JVM's own start.
    print("exec_monotonic_ns=%d" % time.monotonic_ns())
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(broker.tmpdir)
    os.execv(java, cmd)


if __name__ == "__main__":
    if sys.argv[1:] == ["--cds"]:
        sys.exit(make_cds_archive())
    if len(sys.argv) >= 3 and sys.argv[1] == "--serve":
        sys.exit(serve(sys.argv[2], sys.argv[3:]))
    print("usage: kafka_oracle.py --cds   (dump Kafka's class archive; scripts/setup runs it)\n"
          "       kafka_oracle.py --serve DIR [KEY=VALUE ...]   (format a node in DIR and exec "
          "Kafka; scripts/bench)", file=sys.stderr)
    sys.exit(2)
