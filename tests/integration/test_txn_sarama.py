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


class SaramaProgram(tc.ProgramClient):
    client = CLIENT
    prefix = "sarama"
    fenced_pattern = r"INVALID_PRODUCER_EPOCH|PRODUCER_FENCED"
    log_name = "sarama's log"
    cwd = None
    timeout = RUN_TIMEOUT

    def command(self, scenario, bootstrap):
        return [BINARY, "-scenario", scenario, "-bootstrap", bootstrap,
                "-timeout", "%ds" % (RUN_TIMEOUT - 10)]


class SaramaTxn(SaramaProgram, tc.TxnCase):
    pass


class SaramaTxnKill(SaramaProgram, tc.TxnKillCase):
    pass


if __name__ == "__main__":
    unittest.main(verbosity=2)
