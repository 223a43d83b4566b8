#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Transactions with the Apache Kafka Java client 4.4 against Runnel or, with
RUNNEL_TEST_BROKER=kafka, Apache Kafka 4.4 (issue 11): the scenarios of txn_common.py, a to e.

The client side is java/src/main/java/runnel/it/TxnScenarios.java, one JVM per scenario.
setUpModule compiles the Java sources with javac into a temporary directory, against the jars
scripts/setup put in .cache/java-clients/lib (about 2 s), so the classes always match the
sources and no shared cache is written.

The Java producer uses the transaction protocol the broker advertises: against Kafka 4.4, whose
new clusters finalize transaction.version 2 (KIP-890), it adds partitions implicitly and bumps
the epoch at each commit; against a broker without it, AddPartitionsToTxn and EndTxn as before.
Its fencing error is ProducerFencedException (InvalidProducerEpochException where a Produce
meets the old epoch)."""

import os
import shutil
import subprocess
import tempfile
import unittest

import txn_common as tc
from harness import HERE
from test_java_clients import JAVA_OUT, JVM_OPTS, java_bin

SRC = os.path.join(HERE, "java", "src", "main", "java")
MAIN_CLASS = "runnel.it.TxnScenarios"
RUN_TIMEOUT = 90
CLIENT = "Java client 4.4"

CLASSES = None


def setUpModule():
    global CLASSES
    lib = os.path.join(JAVA_OUT, "lib")
    if not os.path.isfile(os.path.join(JAVA_OUT, "lib.complete")):
        raise AssertionError("%s is not there: run ./scripts/setup" % lib)
    javac = shutil.which("javac")
    if not javac:
        raise AssertionError("no javac on PATH: run ./scripts/setup")
    CLASSES = tempfile.mkdtemp(prefix="runnel-txn-java-")
    unittest.addModuleCleanup(shutil.rmtree, CLASSES, ignore_errors=True)
    sources = sorted(os.path.join(d, f) for d, _, files in os.walk(SRC) for f in files
                     if f.endswith(".java"))
    p = subprocess.run([javac, "--release", "17", "-encoding", "UTF-8", "-Xlint:all", "-Werror",
                        "-cp", os.path.join(lib, "*"), "-d", CLASSES] + sources,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError("javac failed (status %d):\n%s%s" % (p.returncode, p.stdout,
                                                                 p.stderr))


class JavaProgram(tc.ProgramClient):
    client = CLIENT
    prefix = "java"
    fenced_pattern = r"ProducerFencedException|InvalidProducerEpochException"
    log_name = "java stderr"
    cwd = None
    timeout = RUN_TIMEOUT

    def command(self, scenario, bootstrap):
        cp = CLASSES + os.pathsep + os.path.join(JAVA_OUT, "lib", "*")
        return [java_bin()] + JVM_OPTS + ["-cp", cp, MAIN_CLASS, scenario, bootstrap]


class JavaTxn(JavaProgram, tc.TxnCase):
    pass


class JavaTxnKill(JavaProgram, tc.TxnKillCase):
    pass


if __name__ == "__main__":
    unittest.main(verbosity=2)
