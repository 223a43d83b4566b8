#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Transactions with kafkajs 2.2.4 against Runnel or, with RUNNEL_TEST_BROKER=kafka, Apache
Kafka 4.4 (issue 11): the scenarios of txn_common.py, a to e.

The client side is js/txn.js under node (kafkajs from js/node_modules, scripts/setup), one node
process per scenario. kafkajs speaks the transaction APIs at v1 only (InitProducerId,
AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit; Produce 7, Fetch 11), too old
for PRODUCER_FENCED: a broker answers its fenced producer with INVALID_PRODUCER_EPOCH.

Unlike the other clients, kafkajs's producer.connect() gets a non-transactional producer id;
the InitProducerId with the transactional id (which fences an older producer) comes with the
producer's first transaction(). Its consumers only come in groups: each reader joins a group of
its own."""

import os
import shutil
import unittest

import txn_common as tc
from harness import HERE

JS_DIR = os.path.join(HERE, "js")
RUN_TIMEOUT = 90
CLIENT = "kafkajs 2.2.4"

NODE = None


def setUpModule():
    global NODE
    NODE = shutil.which("node")
    if not NODE:
        raise AssertionError("node is not installed: run ./scripts/setup")
    if not os.path.isfile(os.path.join(JS_DIR, "node_modules", "kafkajs", "package.json")):
        raise AssertionError("kafkajs is not installed in %s: run ./scripts/setup" % JS_DIR)


class KafkajsProgram(tc.ProgramClient):
    client = CLIENT
    prefix = "kjs"
    fenced_pattern = r"INVALID_PRODUCER_EPOCH|PRODUCER_FENCED"
    log_name = "kafkajs stderr"
    cwd = JS_DIR
    timeout = RUN_TIMEOUT

    def command(self, scenario, bootstrap):
        return [NODE, os.path.join(JS_DIR, "txn.js"), scenario, bootstrap]


class KafkajsTxn(KafkajsProgram, tc.TxnCase):
    pass


class KafkajsTxnKill(KafkajsProgram, tc.TxnKillCase):
    pass


if __name__ == "__main__":
    unittest.main(verbosity=2)
