#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Today's Go clients against Runnel and Apache Kafka in the same run (issue 10): IBM/sarama
1.61, segmentio/kafka-go 0.4.51 and twmb/franz-go 1.22 (with kadm 1.20), from the Go module
proxy, pinned by tests/integration/go-clients/go.mod and go.sum.

go-clients/ is one program (goclients) that runs one scenario with one client against one
bootstrap address and prints what it saw as JSON; this module runs it for every client,
scenario and broker, and checks the observations with the checks the Python clients get
(clients_common.py). scripts/setup downloads the modules into .cache/go and builds the program
into .cache/go-clients; setUpModule builds it again, offline (GOPROXY=off), which takes a
second when nothing changed and keeps the binary in step with the source.

What each client's API lacks, and so is not checked:
- sarama: no MAX_TIMESTAMP spec for ListOffsets; DeleteRecords returns no low watermark and
  DescribeCluster no cluster id (both are checked through what follows them).
- kafka-go: no DeleteRecords (nor its scenario), no MAX_TIMESTAMP spec; no DescribeCluster,
  so the cluster facts come from its Metadata; no idempotent producer at all.
- franz-go: everything (DescribeCluster through kmsg, franz-go's protocol package).

Producers: sarama and kafka-go are not idempotent by default. franz-go is (InitProducerId
first, then a producer id and sequence numbers in every batch), in every scenario but
producer_no_idempotence."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import clients_common as cc
from harness import HERE, _die_with_parent

REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
GO_DIR = os.path.join(HERE, "go-clients")
CACHE = os.path.join(REPO, ".cache")
BINARY = os.path.join(CACHE, "go-clients", "goclients")
RUN_TIMEOUT = 120
BUILD_TIMEOUT = 600
STDERR_TAIL = 60

SPEC = None


def go_env():
    """The environment scripts/setup builds with: module and build caches inside .cache/, the
    machine's own Go toolchain, and (here) no network."""
    return dict(os.environ, GOPATH=os.path.join(CACHE, "go"),
                GOMODCACHE=os.path.join(CACHE, "go", "pkg", "mod"),
                GOCACHE=os.path.join(CACHE, "go", "build"), GOTOOLCHAIN="local",
                GOFLAGS="-mod=readonly -buildvcs=false", GOPROXY="off")


def go_command():
    """A `go` at least as new as go.mod's go line: the one on PATH, else /usr/local/go's."""
    with open(os.path.join(GO_DIR, "go.mod"), encoding="utf-8") as f:
        want = tuple(int(x) for x in re.search(r"^go (\d+)\.(\d+)", f.read(), re.M).groups())
    tried = []
    for go in (shutil.which("go"), "/usr/local/go/bin/go"):
        if not go or not os.access(go, os.X_OK):
            continue
        out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True,
                             timeout=30, env=dict(os.environ, GOTOOLCHAIN="local")).stdout
        m = re.match(r"go(\d+)\.(\d+)", out.strip())
        if m and tuple(int(x) for x in m.groups()) >= want:
            return go
        tried.append("%s (%s)" % (go, out.strip() or "no version"))
    raise AssertionError("no Go %d.%d or newer (tried %s): go-clients/go.mod needs it"
                         % (want + (", ".join(tried) or "none",)))


def setUpModule():
    global SPEC
    if not os.path.isdir(os.path.join(CACHE, "go", "pkg", "mod")):
        raise AssertionError("the Go modules are not in %s: run ./scripts/setup" % CACHE)
    p = subprocess.run([go_command(), "build", "-o", BINARY, "."], cwd=GO_DIR, env=go_env(),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=BUILD_TIMEOUT)
    if p.returncode != 0:
        raise AssertionError("go build in %s failed (status %d); ./scripts/setup fetches the "
                             "modules:\n%s%s" % (GO_DIR, p.returncode, p.stdout, p.stderr))
    SPEC = json.dumps(cc.go_spec())


class GoScenarios(cc.Scenarios):
    go_client = None

    def go(self, scenario, bootstrap, prefix):
        with tempfile.TemporaryFile(mode="w+", prefix="goclients-") as err:
            try:
                p = subprocess.run([BINARY, "-client", self.go_client, "-scenario", scenario,
                                    "-bootstrap", bootstrap, "-prefix", prefix,
                                    "-timeout", "%ds" % (RUN_TIMEOUT - 10)],
                                   input=SPEC, stdout=subprocess.PIPE, stderr=err, text=True,
                                   timeout=RUN_TIMEOUT, preexec_fn=_die_with_parent)
                out, status = p.stdout, p.returncode
            except subprocess.TimeoutExpired as e:
                out, status = e.stdout or "", "killed after %d s" % RUN_TIMEOUT
            err.seek(0)
            tail = "".join(err.readlines()[-STDERR_TAIL:])
        lines = [line for line in (out or "").splitlines() if line.startswith("{")]
        obs = json.loads(lines[-1]) if lines else {}
        if status != 0 or not lines:
            obs.setdefault("error", "goclients exited with status %s and printed %s"
                           % (status, "no observation" if not lines else "one"))
        if "error" in obs:
            obs["trace"] = "%s's log (last %d lines):\n%s" % (self.go_client, STDERR_TAIL, tail)
        return obs

    def run_codecs(self, bootstrap, prefix):
        return self.go("codecs", bootstrap, prefix)

    def run_group(self, bootstrap, prefix):
        return self.go("group", bootstrap, prefix)

    def run_rebalance(self, bootstrap, prefix):
        return self.go("rebalance", bootstrap, prefix)

    def run_admin(self, bootstrap, prefix):
        return self.go("admin", bootstrap, prefix)

    def run_admin_groups(self, bootstrap, prefix):
        return self.go("admin_groups", bootstrap, prefix)

    def run_delete_records(self, bootstrap, prefix):
        return self.go("delete_records", bootstrap, prefix)

    def run_producer_defaults(self, bootstrap, prefix):
        return self.go("producer_defaults", bootstrap, prefix)

    def run_producer_no_idempotence(self, bootstrap, prefix):
        return self.go("producer_no_idempotence", bootstrap, prefix)


class SaramaScenarios(GoScenarios):
    go_client = "sarama"
    client = "sarama 1.61"
    prefix = "sarama"
    unsupported = {"max_timestamp": "ListOffsets takes OffsetNewest, OffsetOldest or a time"}


class KafkaGoScenarios(GoScenarios):
    go_client = "kafka-go"
    client = "kafka-go 0.4.51"
    prefix = "kafkago"
    unsupported = {"max_timestamp": "no MAX_TIMESTAMP spec in ListOffsets",
                   "delete_records": "kafka.Client has no DeleteRecords"}
    test_delete_records_then_consume = None


class FranzScenarios(GoScenarios):
    go_client = "franz-go"
    client = "franz-go 1.22"
    prefix = "franz"
    unsupported = {}


class SaramaOnRunnel(SaramaScenarios, cc.OnRunnel):
    pass


class KafkaGoOnRunnel(KafkaGoScenarios, cc.OnRunnel):
    pass


class FranzOnRunnel(FranzScenarios, cc.OnRunnel):
    pass


class SaramaOnKafka(SaramaScenarios, cc.OnKafka):
    pass


class KafkaGoOnKafka(KafkaGoScenarios, cc.OnKafka):
    pass


class FranzOnKafka(FranzScenarios, cc.OnKafka):
    pass


if __name__ == "__main__":
    unittest.main(verbosity=2)
