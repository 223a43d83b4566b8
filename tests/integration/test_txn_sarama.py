#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Transactions with IBM/sarama 1.61 (Go) against Runnel or, with RUNNEL_TEST_BROKER=kafka,
Apache Kafka 4.4 (issue 11): the scenarios of txn_common.py, a to e.

The client side is go-clients/txn (a command of the go-clients module, pinned by its go.mod
and go.sum), built by setUpModule offline (GOPROXY=off) from the modules scripts/setup put in
.cache/go, into a temporary directory: a second when nothing changed. sarama runs with
Config.Version V4_3_1_0 and picks each request's version from the broker's ApiVersions; its
consume-transform-produce sends the group's generation and member id with the offsets
(AddOffsetsToTxnWithGroupMetadata, KIP-447)."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import txn_common as tc
from test_clients_go import BUILD_TIMEOUT, CACHE, GO_DIR, go_command, go_env

RUN_TIMEOUT = 90
CLIENT = "sarama 1.61"

BINARY = None


def setUpModule():
    global BINARY
    if not os.path.isdir(os.path.join(CACHE, "go", "pkg", "mod")):
        raise AssertionError("the Go modules are not in %s: run ./scripts/setup" % CACHE)
    out = tempfile.mkdtemp(prefix="runnel-txn-go-")
    unittest.addModuleCleanup(shutil.rmtree, out, ignore_errors=True)
    BINARY = os.path.join(out, "txn")
    p = subprocess.run([go_command(), "build", "-o", BINARY, "./txn"], cwd=GO_DIR,
                       env=go_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=BUILD_TIMEOUT)
    if p.returncode != 0:
        raise AssertionError("go build ./txn in %s failed (status %d); ./scripts/setup fetches "
                             "the modules:\n%s%s" % (GO_DIR, p.returncode, p.stdout, p.stderr))


def command(scenario, bootstrap):
    return [BINARY, "-scenario", scenario, "-bootstrap", bootstrap,
            "-timeout", "%ds" % (RUN_TIMEOUT - 10)]


def run(scenario, bootstrap, spec):
    obs, err = tc.run_program(command(scenario, bootstrap), spec, RUN_TIMEOUT)
    if "error" in obs:
        obs["stderr"] = "sarama's log (last 60 lines):\n" + "\n".join(err.splitlines()[-60:])
    return obs


class SaramaTxn(tc.TxnCase):
    client = CLIENT
    prefix = "sarama"
    fenced_pattern = r"INVALID_PRODUCER_EPOCH|PRODUCER_FENCED"

    def run_interleaved(self, bootstrap, spec):
        return run("interleaved", bootstrap, spec)

    def run_consume_transform_produce(self, bootstrap, spec):
        return run("consume_transform_produce", bootstrap, spec)

    def run_fencing(self, bootstrap, spec):
        return run("fencing", bootstrap, spec)

    def run_timeout(self, bootstrap, spec):
        return run("timeout", bootstrap, spec)


class SaramaTxnKill(tc.TxnKillCase):
    client = CLIENT
    prefix = "sarama"

    def run_kill(self, broker, spec, fraction):
        produced, err = tc.kill_during_commit(broker, command("kill_produce", broker.bootstrap),
                                              spec, fraction, RUN_TIMEOUT)
        if "error" in produced:
            print("sarama's log of the produce phase:\n" + err[-4000:], file=sys.stderr)
        return produced, run("kill_verify", broker.bootstrap, spec)


if __name__ == "__main__":
    unittest.main(verbosity=2)
