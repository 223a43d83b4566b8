#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""kcat 1.7.1 (librdkafka 2.0.2) lists the broker: `kcat -L` in text and JSON forms.

librdkafka sends ApiVersions v3 first on every connection; the debug log must show that it was
answered at v3 and that librdkafka did not fall back to an older version or to the legacy
(pre-0.10) protocol."""

import json
import unittest

from harness import BrokerTestCase, run

APIVERSION_FAILURES = (
    "ApiVersionRequest failed",
    "failed due to",                      # "ApiVersionRequest v3 failed due to ...: retrying with v0"
    "Disconnected while requesting ApiVersion",
)


class KcatList(BrokerTestCase):

    def kcat(self, *args):
        p = run(["kcat", "-b", self.broker.bootstrap, "-m", "10", *args], timeout=30)
        self.assertEqual(p.returncode, 0, "kcat %s failed:\nstdout:\n%s\nstderr:\n%s"
                         % (" ".join(args), p.stdout, p.stderr))
        return p

    def test_list_shows_broker_1_at_its_address(self):
        p = self.kcat("-L")
        self.assertIn(" 1 brokers:", p.stdout)
        self.assertRegex(p.stdout, r"broker 1 at 127\.0\.0\.1:%d\b" % self.broker.port)
        self.assertIn(" 0 topics:", p.stdout)

    def test_list_json(self):
        p = self.kcat("-L", "-J")
        md = json.loads(p.stdout)
        self.assertEqual(md["brokers"], [{"id": 1, "name": "127.0.0.1:%d" % self.broker.port}])
        self.assertEqual(md["controllerid"], 1)
        self.assertEqual(md["originating_broker"]["id"], 1)
        self.assertEqual(md["topics"], [])

    def test_api_versions_negotiated_at_v3(self):
        p = self.kcat("-L", "-X", "debug=broker,protocol,feature")
        for failure in APIVERSION_FAILURES:
            self.assertNotIn(failure, p.stderr, "librdkafka's ApiVersions negotiation failed:\n"
                             + p.stderr)
        self.assertRegex(p.stderr, r"Received ApiVersionResponse \(v3\b",
                         "librdkafka did not get an ApiVersions v3 answer:\n" + p.stderr)


class KcatUnknownTopic(BrokerTestCase):
    # Without auto-creation, a topic that does not exist must be reported as such, never faked.
    overrides = ("auto.create.topics.enable=false",)

    def test_unknown_topic_is_reported(self):
        p = run(["kcat", "-b", self.broker.bootstrap, "-m", "10", "-L", "-J",
                 "-t", "runnel-no-such-topic"], timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        md = json.loads(p.stdout)
        self.assertEqual(len(md["topics"]), 1, md)
        topic = md["topics"][0]
        self.assertEqual(topic["topic"], "runnel-no-such-topic")
        self.assertEqual(topic.get("partitions", []), [])
        self.assertIn("Unknown topic or partition", topic.get("error", ""), topic)


if __name__ == "__main__":
    unittest.main(verbosity=2)
