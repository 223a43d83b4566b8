#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Connections across the network loops: many clients at once are all answered, and a
connection idle for longer than connections.max.idle.ms is closed while an active one is not."""

import time
import unittest

from harness import (API_VERSIONS, BrokerTestCase, KafkaSocket, parse_api_versions_v0_body)

CONNECTIONS = 64


def api_versions_ok(test, s, corr):
    s.send_request(API_VERSIONS, 0, corr)
    got, r = s.recv_response()
    test.assertEqual(got, corr)
    test.assertEqual(parse_api_versions_v0_body(r)[0], 0)


class ManyConnections(BrokerTestCase):
    overrides = ("num.network.threads=2",)

    def test_many_concurrent_connections_are_all_answered(self):
        socks = [KafkaSocket(self.broker.port) for _ in range(CONNECTIONS)]
        try:
            for i, s in enumerate(socks):         # every request in flight before any read
                s.send_request(API_VERSIONS, 0, 1000 + i)
            for i, s in enumerate(socks):
                corr, r = s.recv_response()
                self.assertEqual(corr, 1000 + i)
                self.assertEqual(parse_api_versions_v0_body(r)[0], 0)
            for i, s in enumerate(socks):         # and each connection stays usable
                api_versions_ok(self, s, 2000 + i)
        finally:
            for s in socks:
                s.close()


class IdleConnections(BrokerTestCase):
    overrides = ("connections.max.idle.ms=500",)

    def test_idle_connection_is_closed_and_active_one_is_not(self):
        with KafkaSocket(self.broker.port) as idle, KafkaSocket(self.broker.port) as active:
            api_versions_ok(self, idle, 1)
            api_versions_ok(self, active, 1)
            start = time.monotonic()
            # Keep `active` busy (a request every 100 ms) for well past the idle limit.
            corr = 2
            while time.monotonic() - start < 1.5:
                api_versions_ok(self, active, corr)
                corr += 1
                time.sleep(0.1)
            closed, _ = idle.wait_closed(5)
            self.assertTrue(closed, "idle connection still open %.1f s after its last request "
                            "(connections.max.idle.ms=500)" % (time.monotonic() - start))
            api_versions_ok(self, active, corr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
