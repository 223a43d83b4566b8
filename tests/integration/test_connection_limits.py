#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Connection limits as Kafka 4.4 applies them (the oracle's answers are in
/work/facts/limits.md): max.connections.per.ip closes a connection over its address's limit at
once while the first ones work, max.connections.per.ip.overrides replaces the limit for the
hosts it names (IPs or hostnames), and max.connections makes the next connection wait,
connected but unanswered, until another closes. Then scale and exhaustion: 5,000 concurrent
connections each do ApiVersions and Metadata, and a broker that runs out of descriptors warns
with the limit's name, keeps serving the connections it has, and accepts again once some close.

Clients bind their sockets to other loopback addresses (127.0.0.2, 127.0.0.3: all of 127/8 is
loopback on Linux) to be different peers of one listener on 127.0.0.1."""

import os
import resource
import socket
import time
import unittest

from harness import (API_VERSIONS, HOST, METADATA, Broker, BrokerTestCase, KafkaSocket,
                     parse_api_versions_v0_body)
from kafka_wire import metadata_body, parse_metadata_response

MANY = 5000
MANY_MARGIN = 200         # descriptors this process needs besides the MANY sockets
REJECT_WAIT = 5.0         # a rejected connection must be closed within this
UNANSWERED_WAIT = 1.0     # how long a waiting connection is watched for (no) answer


class BoundSocket(KafkaSocket):
    """A KafkaSocket whose local address is `src`, so the broker sees that IP as the peer."""

    def __init__(self, port, src, timeout=10.0):
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.sock.settimeout(timeout)
            self.sock.bind((src, 0))
            self.sock.connect((HOST, port))
        except BaseException:
            self.sock.close()
            raise


def api_versions_ok(test, s, corr):
    s.send_request(API_VERSIONS, 0, corr)
    got, r = s.recv_response()
    test.assertEqual(got, corr)
    test.assertEqual(parse_api_versions_v0_body(r)[0], 0)


def answered_within(s, corr, timeout):
    """Sends ApiVersions and says whether an answer comes within `timeout`. The request stays
    outstanding when it does not: read it later with recv_response."""
    s.send_request(API_VERSIONS, 0, corr)
    s.sock.settimeout(timeout)
    try:
        data = s.sock.recv(4, socket.MSG_PEEK)
    except socket.timeout:
        return False
    finally:
        s.sock.settimeout(s.timeout)
    return len(data) == 4


class Sockets:
    """Connections closed together at the end of a test."""

    def __init__(self, test):
        self.all = []
        test.addCleanup(self.close)

    def add(self, s):
        self.all.append(s)
        return s

    def close(self):
        for s in self.all:
            s.close()
        self.all = []


class PerIpLimit(BrokerTestCase):
    overrides = ("num.network.threads=2", "max.connections.per.ip=2",
                 "max.connections.per.ip.overrides=127.0.0.3:4")

    def assert_rejected(self, s, what):
        closed, got = s.wait_closed(REJECT_WAIT)
        self.assertTrue(closed, "%s was not closed within %.0f s" % (what, REJECT_WAIT))
        self.assertEqual(got, b"", "%s got bytes before it was closed" % what)

    def test_connections_over_the_per_ip_limit_are_closed_at_once(self):
        socks = Sockets(self)
        first = [socks.add(BoundSocket(self.broker.port, "127.0.0.1")) for _ in range(2)]
        for i, s in enumerate(first):
            api_versions_ok(self, s, i)
        third = socks.add(BoundSocket(self.broker.port, "127.0.0.1"))
        self.assert_rejected(third, "the third connection from 127.0.0.1")
        self.assertIsNotNone(self.broker.wait_for_line(
            r"INFO .*rejected connection from 127\.0\.0\.1, address already has the configured "
            r"maximum of 2 connections"))
        for i, s in enumerate(first):       # the first two are untouched
            api_versions_ok(self, s, 10 + i)

        # Another address has its own count.
        other = [socks.add(BoundSocket(self.broker.port, "127.0.0.2")) for _ in range(2)]
        for i, s in enumerate(other):
            api_versions_ok(self, s, 20 + i)
        self.assert_rejected(socks.add(BoundSocket(self.broker.port, "127.0.0.2")),
                             "the third connection from 127.0.0.2")

        # Closing one frees its place: the next connection from that address gets in.
        first[0].close()
        deadline = time.monotonic() + 5
        while True:
            again = socks.add(BoundSocket(self.broker.port, "127.0.0.1"))
            try:
                api_versions_ok(self, again, 30)
                break
            except (AssertionError, OSError):
                # The broker may not have seen the close yet: it counts a connection until its
                # descriptor is closed.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        api_versions_ok(self, first[1], 31)

    def test_an_override_replaces_the_limit_for_its_address(self):
        socks = Sockets(self)
        allowed = [socks.add(BoundSocket(self.broker.port, "127.0.0.3")) for _ in range(4)]
        for i, s in enumerate(allowed):
            api_versions_ok(self, s, i)
        self.assert_rejected(socks.add(BoundSocket(self.broker.port, "127.0.0.3")),
                             "the fifth connection from 127.0.0.3 (override 4)")
        self.assertIsNotNone(self.broker.wait_for_line(
            r"rejected connection from 127\.0\.0\.3, address already has the configured "
            r"maximum of 4 connections"))
        for i, s in enumerate(allowed):
            api_versions_ok(self, s, 10 + i)


class PerIpZeroWithHostnameOverride(BrokerTestCase):
    # Kafka allows max.connections.per.ip=0 only with overrides; "localhost" is resolved when
    # the listener starts, to 127.0.0.1 (Java prefers IPv4, and so do we).
    overrides = ("max.connections.per.ip=0",
                 "max.connections.per.ip.overrides= localhost : 3 , 10.1.2.3:7")

    def test_only_the_overridden_host_may_connect(self):
        socks = Sockets(self)
        allowed = [socks.add(BoundSocket(self.broker.port, "127.0.0.1")) for _ in range(3)]
        for i, s in enumerate(allowed):
            api_versions_ok(self, s, i)
        for src in ("127.0.0.1", "127.0.0.2"):
            closed, _ = socks.add(BoundSocket(self.broker.port, src)).wait_closed(REJECT_WAIT)
            self.assertTrue(closed, "a connection from %s was not closed" % src)
        self.assertIsNotNone(self.broker.wait_for_line(
            r"rejected connection from 127\.0\.0\.2, address already has the configured "
            r"maximum of 0 connections"))


class MaxConnections(BrokerTestCase):
    overrides = ("num.network.threads=2", "max.connections=3")

    def test_the_next_connection_waits_until_one_closes(self):
        socks = Sockets(self)
        held = [socks.add(KafkaSocket(self.broker.port)) for _ in range(3)]
        for i, s in enumerate(held):
            api_versions_ok(self, s, i)
        # The fourth connects (the kernel's backlog takes it) but is not served.
        waiting = socks.add(KafkaSocket(self.broker.port))
        self.assertFalse(answered_within(waiting, 100, UNANSWERED_WAIT),
                         "a fourth connection was answered with max.connections=3")
        self.assertIsNotNone(self.broker.wait_for_line(r"INFO .*max\.connections \(3\) reached"))
        for i, s in enumerate(held):        # the three keep working meanwhile
            api_versions_ok(self, s, 10 + i)
        held[0].close()
        corr, r = waiting.recv_response()   # now it gets in, and its request is answered
        self.assertEqual(corr, 100)
        self.assertEqual(parse_api_versions_v0_body(r)[0], 0)
        # Still three at most: a fifth waits again.
        fifth = socks.add(KafkaSocket(self.broker.port))
        self.assertFalse(answered_within(fifth, 200, UNANSWERED_WAIT),
                         "a fifth connection was answered with three open and max.connections=3")
        waiting.close()
        corr, _ = fifth.recv_response()
        self.assertEqual(corr, 200)


class ManyConnections(BrokerTestCase):
    overrides = ("num.network.threads=2",)

    def setUp(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = MANY + MANY_MARGIN
        if hard != resource.RLIM_INFINITY and hard < need:
            self.skipTest("RLIMIT_NOFILE hard limit is %d; %d concurrent connections need %d "
                          "descriptors in this process (and as many in the broker)"
                          % (hard, MANY, need))
        if soft != resource.RLIM_INFINITY and soft < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        super().setUp()

    def test_5000_concurrent_connections_each_do_api_versions_and_metadata(self):
        socks = Sockets(self)
        t0 = time.monotonic()
        for _ in range(MANY):
            socks.add(KafkaSocket(self.broker.port, timeout=60))
        connected = time.monotonic()
        for i, s in enumerate(socks.all):        # every request in flight before any read
            s.send_request(API_VERSIONS, 0, i)
        for i, s in enumerate(socks.all):
            corr, r = s.recv_response()
            self.assertEqual(corr, i)
            self.assertEqual(parse_api_versions_v0_body(r)[0], 0)
        for i, s in enumerate(socks.all):
            s.send_request(METADATA, 1, MANY + i, body=metadata_body(1))
        for i, s in enumerate(socks.all):
            metadata_ok_reply(self, s, MANY + i)
        print("%d connections: connected in %.2f s, ApiVersions and Metadata on each in %.2f s"
              % (MANY, connected - t0, time.monotonic() - connected))
        self.assertTrue(self.broker.alive())
        # All of them still open and usable.
        api_versions_ok(self, socks.all[0], 3 * MANY)
        api_versions_ok(self, socks.all[-1], 3 * MANY + 1)


def metadata_ok_reply(test, s, corr):
    got, r = s.recv_response()
    test.assertEqual(got, corr)
    md = parse_metadata_response(1, r)
    test.assertEqual([b[0] for b in md["brokers"]], [1])


class OutOfDescriptors(unittest.TestCase):
    """The broker runs with RLIMIT_NOFILE 64 (soft and hard, so it cannot raise it)."""

    NOFILE = 64

    def setUp(self):
        self.broker = Broker(overrides=("num.network.threads=2",),
                             nofile=(self.NOFILE, self.NOFILE)).start()
        self.addCleanup(self.broker.stop)

    def test_accept_pauses_with_a_warning_and_resumes_when_descriptors_free(self):
        self.assertIsNotNone(self.broker.wait_for_line(
            r"file descriptor limit \(RLIMIT_NOFILE\): %d" % self.NOFILE))
        socks = Sockets(self)
        served = []
        waiting = None
        for i in range(self.NOFILE + 10):
            s = socks.add(KafkaSocket(self.broker.port))
            if not answered_within(s, i, UNANSWERED_WAIT):
                waiting = s
                break
            s.recv_response()
            served.append(s)
        self.assertIsNotNone(waiting, "every one of %d connections was answered under a limit of "
                             "%d descriptors" % (len(served), self.NOFILE))
        self.assertGreater(len(served), 10)
        line = self.broker.wait_for_line(r"WARN .*out of file descriptors.*RLIMIT_NOFILE soft "
                                         r"limit %d.*ulimit -Hn" % self.NOFILE)
        self.assertIsNotNone(line, "no warning naming RLIMIT_NOFILE")
        # The broker keeps serving what it has, and does not spin on the listener meanwhile.
        cpu0 = self.broker_cpu()
        for i, s in enumerate(served):
            api_versions_ok(self, s, 1000 + i)
        time.sleep(1)
        cpu = self.broker_cpu() - cpu0
        self.assertLess(cpu, 0.5, "the broker used %.2f s of CPU in about 1 s while out of "
                        "descriptors: it spins" % cpu)
        # Closing some gives descriptors back: the waiting connection is taken and answered.
        for s in served[:10]:
            s.close()
        corr, r = waiting.recv_response()
        self.assertEqual(parse_api_versions_v0_body(r)[0], 0)
        api_versions_ok(self, socks.add(KafkaSocket(self.broker.port)), 2000)
        for i, s in enumerate(served[10:]):
            api_versions_ok(self, s, 3000 + i)

    def broker_cpu(self):
        with open("/proc/%d/stat" % self.broker.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])   # utime, stime
        return ticks / float(os.sysconf("SC_CLK_TCK"))



class DescriptorLimitAtStart(unittest.TestCase):
    """Started with a soft limit below its hard limit, the broker raises it."""

    def test_the_soft_limit_is_raised_to_the_hard_limit_at_start(self):
        broker = Broker(nofile=(256, 1024)).start()
        try:
            self.assertIsNotNone(broker.wait_for_line(
                r"INFO .*raised the file descriptor limit \(RLIMIT_NOFILE\) from 256 to the hard "
                r"limit 1024"))
            with open("/proc/%d/limits" % broker.pid) as f:
                row = [l for l in f if l.startswith("Max open files")][0].split()
            self.assertEqual(row[3:5], ["1024", "1024"])
        finally:
            broker.stop()



class UnresolvableOverride(unittest.TestCase):
    def test_a_host_that_does_not_resolve_stops_the_start(self):
        # Kafka resolves the overrides' hosts when its socket server starts and stops with
        # UnknownHostException; so do we, before anything listens.
        import tempfile
        from harness import run, runnel_bin
        with tempfile.TemporaryDirectory(prefix="runnel-it-") as tmp:
            res = run([runnel_bin(), "--override", "listeners=PLAINTEXT://127.0.0.1:0",
                       "--override", "log.dirs=" + os.path.join(tmp, "data"),
                       "--override", "max.connections.per.ip.overrides=no-such-host.invalid:5"])
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn("cannot resolve 'no-such-host.invalid' of max.connections.per.ip.overrides",
                      res.stderr)
        self.assertNotIn("listening on", res.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
