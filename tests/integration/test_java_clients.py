#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The Apache Kafka Java client 4.4 against Runnel and, in the same run, against Apache Kafka 4.4
(issue 10).

tests/integration/java holds ClientScenarios, a command-line program that runs scenarios of the
Java producer, the classic-protocol consumer and Admin against one bootstrap address and prints
one `RESULT name PASS|FAIL millis text` line per scenario (see its source for what each checks).
scripts/setup builds it into .cache/java-clients. A JVM costs about a second to start and load
the client, so each test class starts one pair of brokers, a Runnel and a Kafka, and runs one JVM
per broker with all of the class's scenarios, both at once; the test methods then read the
results, one method per scenario and broker:

    test_<scenario>_on_runnel     what Runnel must do
    test_<scenario>_on_kafka      the oracle: a failure here is a bug in the scenario, not a pass

Every producer keeps the client's default configuration, idempotent since Kafka 3.0
(InitProducerId first, then a producer id and sequence numbers in every batch), except in
produce-consume-none-noidem, which is produce-consume-none with enable.idempotence=false.

Both brokers run with auto.create.topics.enable=false and group.initial.rebalance.delay.ms=0.
The JVM's stderr (the client's log at WARN, RUNNEL_JAVA_LOG=debug for more, and stack traces)
goes to a file; a failing row prints its scenario's part of it.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from harness import HERE, Broker, _die_with_parent

try:
    from kafka_oracle import KafkaBroker
except ModuleNotFoundError as e:
    # Only the absence of the fixture itself is tolerated (its Kafka rows then skip, which
    # makes the module a SKIP, never OK); a fixture that is there but broken is an error.
    if e.name != "kafka_oracle":
        raise
    KafkaBroker = None

REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
JAVA_OUT = os.path.join(REPO, ".cache", "java-clients")
MAIN_CLASS = "runnel.it.ClientScenarios"
# C1 only and the serial collector: these JVMs live for seconds, where start-up counts most.
JVM_OPTS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx256m", "-Djava.awt.headless=true"]
SCENARIO_TIMEOUT = 45   # seconds, per scenario, enforced by ClientScenarios
JVM_TIMEOUT = 150       # seconds, for one JVM with all the scenarios of a class (meson: 300)
STDERR_LINES = 80

BROKER_SETTINGS = ("auto.create.topics.enable=false", "group.initial.rebalance.delay.ms=0")
RESULT_RE = re.compile(r"^RESULT (\S+) (PASS|FAIL) (\d+) ?(.*)$")

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")


def java_bin():
    """$RUNNEL_JAVA, else $JAVA_HOME/bin/java, else `java` on PATH."""
    path = os.environ.get("RUNNEL_JAVA")
    if not path and os.environ.get("JAVA_HOME"):
        path = os.path.join(os.environ["JAVA_HOME"], "bin", "java")
    path = path or shutil.which("java")
    if not path or not os.access(path, os.X_OK):
        raise AssertionError("no java to run the Java client with (RUNNEL_JAVA, JAVA_HOME, PATH): "
                             "run ./scripts/setup")
    return path


def classpath():
    """The scenarios and their jars, as scripts/setup built them; missing ones fail, never skip."""
    for part in ("classes", "lib"):
        if not os.path.isfile(os.path.join(JAVA_OUT, part + ".complete")):
            raise AssertionError("%s/%s is not built: run ./scripts/setup" % (JAVA_OUT, part))
    return os.path.join(JAVA_OUT, "classes") + os.pathsep + os.path.join(JAVA_OUT, "lib", "*")


def java_command(*args):
    return [java_bin()] + JVM_OPTS + ["-cp", classpath(), MAIN_CLASS] + list(args)


def method_name(scenario, broker):
    return "test_%s_on_%s" % (scenario.replace("-", "_"), broker)


class ScenarioRun:
    """One JVM running `scenarios` against `bootstrap`, started at once, read by wait()."""

    def __init__(self, broker_name, bootstrap, scenarios, tmpdir):
        self.broker_name = broker_name
        self.scenarios = list(scenarios)
        self.stderr_path = os.path.join(tmpdir, "java-%s.stderr" % broker_name)
        self.results = {}    # scenario -> (PASS or FAIL, millis, text)
        self.status = None
        self.seconds = None
        self.error = None    # why there are no results at all, if so
        self._stderr = open(self.stderr_path, "w", encoding="utf-8")
        self.cmd = java_command("--timeout", str(SCENARIO_TIMEOUT), bootstrap, *self.scenarios)
        self._t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._stderr, text=True, errors="replace",
                                     preexec_fn=_die_with_parent)

    def wait(self, deadline):
        try:
            out, _ = self.proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()   # our own child only
            out, _ = self.proc.communicate()
            self.error = "the JVM was still running after %d s and was killed" % JVM_TIMEOUT
        finally:
            self._stderr.close()
        self.seconds = time.monotonic() - self._t0
        self.status = self.proc.returncode
        for line in out.splitlines():
            m = RESULT_RE.match(line)
            if m:
                self.results[m.group(1)] = (m.group(2), int(m.group(3)), m.group(4))
            elif line.strip():
                print("java (%s): %s" % (self.broker_name, line))

    def stderr_of(self, scenario):
        """The JVM's stderr lines from the start of `scenario` to the start of the next one."""
        try:
            with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return []
        out, inside = [], False
        for line in lines:
            if line.startswith("==== scenario "):
                inside = line.startswith("==== scenario %s against" % scenario)
            if inside:
                out.append(line)
        return out[:STDERR_LINES]


class JavaClientsCase(unittest.TestCase):
    """Starts a Runnel and a Kafka for the class, runs `scenarios` against both, one JVM each,
    and keeps the results for the test methods that add_rows() makes."""

    scenarios = ()
    runs = {}
    kafka_error = None

    @classmethod
    def setUpClass(cls):
        cls.runs = {}
        cls.kafka_error = None
        cls.tmpdir = tempfile.mkdtemp(prefix="runnel-java-")
        cls.addClassCleanup(shutil.rmtree, cls.tmpdir, ignore_errors=True)
        runnel = Broker(overrides=BROKER_SETTINGS).start()
        cls.addClassCleanup(runnel.stop)
        brokers = {"runnel": runnel}
        if KafkaBroker is None:
            cls.kafka_error = ("the Apache Kafka fixture (tests/integration/kafka_oracle.py) is "
                               "not in this tree")
        else:
            try:
                kafka = KafkaBroker(overrides=BROKER_SETTINGS).start()
            except Exception as e:   # the Runnel rows still run; every Kafka row fails with this
                cls.kafka_error = "Apache Kafka did not start: %s" % e
            else:
                cls.addClassCleanup(kafka.stop)
                brokers["kafka"] = kafka
        deadline = time.monotonic() + JVM_TIMEOUT
        for name, broker in brokers.items():
            cls.runs[name] = ScenarioRun(name, broker.bootstrap, cls.scenarios, cls.tmpdir)
        for run in cls.runs.values():
            run.wait(deadline)
        cls.print_matrix()

    @classmethod
    def print_matrix(cls):
        """The results as a table on stdout (meson's log), then each broker's text per scenario."""
        print("%s: %d scenarios, one JVM per broker (%s)" % (
            cls.__name__, len(cls.scenarios),
            ", ".join("%s %.1f s, exit %s" % (n, r.seconds, r.status) for n, r in cls.runs.items())))
        if cls.kafka_error:
            print("  kafka: %s" % cls.kafka_error)
        width = max(len(s) for s in cls.scenarios)
        for s in cls.scenarios:
            cells = []
            for name in ("runnel", "kafka"):
                res = cls.runs[name].results.get(s) if name in cls.runs else None
                cells.append("%s %-4s %8s" % (name, res[0] if res else "-",
                                              "%d ms" % res[1] if res else ""))
            print("  %-*s  %s" % (width, s, "   ".join(cells)))
        for s in cls.scenarios:
            for name, run in cls.runs.items():
                res = run.results.get(s)
                if res and res[2]:
                    print("  %s on %s: %s" % (s, name, res[2]))
        sys.stdout.flush()

    def result(self, broker, scenario):
        if broker == "kafka" and self.kafka_error:
            if KafkaBroker is None:
                self.skipTest(self.kafka_error)
            self.fail(self.kafka_error)
        run = self.runs[broker]
        res = run.results.get(scenario)
        if res is None:
            self.fail("%s: no RESULT line for %s (JVM exit status %s%s); its stderr:\n%s"
                      % (broker, scenario, run.status, ", " + run.error if run.error else "",
                         "\n".join(run.stderr_of(scenario)) or "(nothing)"))
        return run, res

    def check(self, broker, scenario):
        run, (status, ms, text) = self.result(broker, scenario)
        if status == "PASS":
            return
        print("---- java stderr of %s against %s ----" % (scenario, broker))
        print("\n".join(run.stderr_of(scenario)))
        print("---- end ----")
        if broker == "kafka":
            self.fail("%s fails on Apache Kafka too, so the scenario is wrong: %s" % (scenario, text))
        other = self.runs.get("kafka")
        verdict = ""
        if other is not None and other.results.get(scenario, ("",))[0] == "PASS":
            verdict = " (passes on Apache Kafka: a Runnel bug)"
        self.fail("%s fails on Runnel%s: %s" % (scenario, verdict, text))


def add_rows(cls):
    """Adds test_<scenario>_on_runnel and test_<scenario>_on_kafka for each scenario of `cls`."""
    for scenario in cls.scenarios:
        for broker in ("runnel", "kafka"):
            def test(self, broker=broker, scenario=scenario):
                self.check(broker, scenario)
            test.__name__ = method_name(scenario, broker)
            setattr(cls, test.__name__, test)
    return cls


@add_rows
class JavaRecords(JavaClientsCase):
    """Produce and consume with every codec and with headers, with the default (idempotent)
    producer, and once without idempotence."""

    scenarios = tuple("produce-consume-%s" % c for c in CODECS) + \
        ("produce-consume-none-noidem", "headers")


@add_rows
class JavaGroupsAndAdmin(JavaClientsCase):
    """Consumer groups (classic protocol) and the Admin client."""

    scenarios = ("group-commit-resume", "group-rebalance", "admin-groups", "admin-topics",
                 "admin-configs", "admin-create-partitions", "admin-list-offsets",
                 "admin-describe-cluster", "delete-records-consume")


class ScenarioList(unittest.TestCase):

    def test_every_java_scenario_has_rows(self):
        """Each scenario ClientScenarios knows is run by one class here, and nothing else."""
        res = subprocess.run(java_command("--list"), stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr)
        known = res.stdout.split()
        ours = list(JavaRecords.scenarios) + list(JavaGroupsAndAdmin.scenarios)
        self.assertEqual(sorted(ours), sorted(known))


if __name__ == "__main__":
    unittest.main(verbosity=2)
