#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Static group membership (KIP-345) with confluent-kafka-python 1.7.0 (librdkafka 2.0.2,
JoinGroup v5 with group_instance_id, so no MEMBER_ID_REQUIRED round trip), each consumer in
its own process (group_worker.py) with group.instance.id set and a 6 s session timeout, while
a producer keeps writing (~200 messages/s) to the 6-partition topic:

- A, B and C (instances static-a, -b, -c) get 2 partitions each;
- C closes (a static member sends no LeaveGroup on close) and a new process with the same
  group.instance.id starts at once: it gets C's partitions back, resumes at C's committed
  offsets, and A and B see no rebalance (no on_assign/on_revoke callback, same assignment);
- B is SIGKILLed and restarted the same way: same result for B, A and C;
- a second process starts with A's group.instance.id while A still runs: it gets A's
  partitions, the others see no rebalance, and A is fenced (FENCED_INSTANCE_ID, a fatal error
  in librdkafka) and can no longer commit;
- C is SIGKILLed and not restarted: a static member still expires, so after its session
  timeout (and not before) A and B take over its partitions."""

import time
import unittest

from groups_common import (QUIET_MARGIN_S, SESSION_MS, BackgroundProducer, GroupScenario,
                           GroupTestCase, create_topic, python_worker_cmd)

TOPIC = "static-members"
GROUP = "it-group-static"
QUIET_S = 3.0   # how long the others are watched after a rejoin (6 heartbeat intervals)


class StaticMembership(GroupTestCase):

    def worker_cmd(self, name):
        instance = "static-" + name[0].lower()
        return python_worker_cmd("confluent", self.broker.bootstrap, GROUP, TOPIC,
                                 "it-static-" + name, "--instance-id", instance)

    def callbacks(self, s, name):
        return [(e["ev"], e["parts"]) for _, e in s.workers[name].callback_events()]

    def restart_member(self, s, old, new, how, others):
        """Stops `old` (close or kill), starts `new` with the same instance id, and checks that
        it gets old's partitions back, resumes at old's commits, and the others see nothing."""
        parts = s.workers[old].snapshot()[0]
        cb_before = {n: self.callbacks(s, n) for n in others}
        assign_before = {n: s.workers[n].snapshot()[0] for n in others}
        if how == "close":
            code = s.workers[old].close()
            self.assertEqual(code, 0, "%s's close failed: %s" % (old, s.workers[old].describe()))
        else:
            s.workers[old].kill()
        commits = dict(s.workers[old].commits)
        t_stop = time.monotonic()
        s.note("%s stopped (%s) holding %s, last commits %s"
               % (old, how, sorted(parts), dict(sorted(commits.items()))))
        del s.workers[old]
        s.workers[new] = self.spawn(new)

        deadline = t_stop + SESSION_MS / 1000.0
        while True:
            s.check_workers_alive([new] + others)
            got = s.workers[new].snapshot()[0]
            if got:
                break
            if time.monotonic() > deadline:
                s.fail("%s (same group.instance.id as %s) restarted within the session timeout "
                       "got no assignment within %d ms of %s stopping: expected %s back at once"
                       % (new, old, SESSION_MS, old, sorted(parts)))
            time.sleep(0.05)
        took = time.monotonic() - t_stop
        s.note("%s assigned %s %.2f s after %s stopped" % (new, sorted(got), took, old))
        if got != parts:
            s.fail("%s rejoined with %s's group.instance.id: expected its partitions %s back, "
                   "actual %s" % (new, old, sorted(parts), sorted(got)))

        # The others: no callback, same assignment, for a while.
        quiet_until = time.monotonic() + QUIET_S
        while time.monotonic() < quiet_until:
            s.check_workers_alive([new] + others)
            for n in others:
                cb = self.callbacks(s, n)
                if cb != cb_before[n] or s.workers[n].snapshot()[0] != assign_before[n]:
                    s.fail("%s's rebalance callbacks ran when static member %s came back as %s: "
                           "expected none (no rebalance); callbacks before %s, after %s"
                           % (n, old, new, cb_before[n], cb))
            if s.workers[new].snapshot()[0] != parts:
                s.fail("%s's assignment changed after its rejoin: %s"
                       % (new, s.workers[new].describe()))
            time.sleep(0.05)

        # new resumed where old committed.
        firsts = {}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and set(firsts) != parts:
            with s.workers[new].lock:
                for p, o, _ in s.workers[new].processed:
                    firsts.setdefault(p, o)
            time.sleep(0.05)
        expected = {p: commits[p] for p in parts if p in commits}
        actual = {p: firsts.get(p) for p in expected}
        if actual != expected:
            s.fail("%s must resume at %s's committed offsets: expected first offsets %s, "
                   "actual %s" % (new, old, expected, actual))
        s.note("%s resumed at %s's commits %s; %s saw no rebalance" % (new, old, expected, others))

    def fence_member(self, s, old, new, others):
        """Starts `new` with `old`'s group.instance.id while `old` still runs: new gets old's
        partitions without a rebalance, and old is fenced (FENCED_INSTANCE_ID, 82), which
        librdkafka raises as a fatal error; old's commits are refused from then on."""
        parts = s.workers[old].snapshot()[0]
        cb_before = {n: self.callbacks(s, n) for n in others}
        t_start = time.monotonic()
        s.workers[new] = self.spawn(new)
        deadline = t_start + 15
        while True:
            s.check_workers_alive([new] + others)
            got = s.workers[new].snapshot()[0]
            if got:
                break
            if time.monotonic() > deadline:
                s.fail("%s (started with the group.instance.id of the running %s) got no "
                       "assignment within 15 s: expected %s at once"
                       % (new, old, sorted(parts)))
            time.sleep(0.05)
        t_assigned = s.workers[new].snapshot()[1]
        if got != parts:
            s.fail("%s took over %s's group.instance.id: expected %s's partitions %s, actual %s"
                   % (new, old, old, sorted(parts), sorted(got)))
        deadline = time.monotonic() + 10
        while True:
            with s.workers[old].lock:
                fenced = [e for e in s.workers[old].errors if "fenced" in e.get("error", "").lower()]
            if fenced:
                break
            if time.monotonic() > deadline:
                s.fail("%s was not fenced within 10 s of %s joining with its group.instance.id: "
                       "expected FENCED_INSTANCE_ID (82) on its next heartbeat or commit, "
                       "raised by librdkafka as a fatal error; errors seen: %s"
                       % (old, new, s.workers[old].errors[-5:]))
            time.sleep(0.05)
        s.note("%s assigned %s %.2f s after it started; %s fenced: %s"
               % (new, sorted(got), t_assigned - t_start, old, fenced[0]["error"]))
        quiet_until = time.monotonic() + QUIET_S
        while time.monotonic() < quiet_until:
            s.check_workers_alive([new] + others)
            for n in others:
                cb = self.callbacks(s, n)
                if cb != cb_before[n]:
                    s.fail("%s's rebalance callbacks ran when %s took over %s's group.instance.id:"
                           " expected none; before %s, after %s" % (n, new, old, cb_before[n], cb))
            time.sleep(0.05)
        with s.workers[old].lock:
            late = [(round(t - t_assigned, 2), e["offsets"]) for t, e in s.workers[old].events
                    if e.get("ev") == "commit" and t > t_assigned + 1.0]
        if late:
            s.fail("the fenced %s still committed successfully after %s took over its "
                   "group.instance.id (expected FENCED_INSTANCE_ID for every commit with the old "
                   "member id): (seconds after, offsets) %s" % (old, new, late[:5]))
        s.workers[old].kill()
        del s.workers[old]

    def test_static_member_rejoins_without_rebalance(self):
        s = GroupScenario(self, self.spawn, TOPIC, GROUP, "confluent-kafka static")
        bs = self.broker.bootstrap
        create_topic(bs, TOPIC)
        prod = BackgroundProducer(bs, TOPIC)
        prod.produce(600)
        prod.flush()
        prod.start()
        try:
            for n in ("A", "B", "C"):
                s.workers[n] = self.spawn(n)
            t, assigns = s.wait_balanced(["A", "B", "C"], [2, 2, 2], 40, "three static members")
            s.note("A, B, C balanced: %s" % {n: sorted(a) for n, a in assigns.items()})
            s._wait_progress(["A", "B", "C"], 10)

            self.restart_member(s, "C", "C2", "close", ["A", "B"])
            self.restart_member(s, "B", "B2", "kill", ["A", "C2"])

            self.fence_member(s, "A", "A2", ["B2", "C2"])

            # A static member that does not come back expires after its session timeout.
            c_parts = s.workers["C2"].snapshot()[0]
            before = {n: s.workers[n].snapshot() for n in ("A2", "B2")}
            t_kill = time.monotonic()
            s.workers["C2"].kill()
            s.note("C2 killed holding %s, not restarted" % sorted(c_parts))
            quiet_until = t_kill + SESSION_MS / 1000.0 - 0.5 - QUIET_MARGIN_S
            while time.monotonic() < quiet_until:
                s.check_workers_alive(["A2", "B2"])
                for n in ("A2", "B2"):
                    if s.workers[n].snapshot() != before[n]:
                        s.fail("%s's assignment changed %.2f s after static member C2 was killed: "
                               "expected nothing before its %d ms session timeout"
                               % (n, time.monotonic() - t_kill, SESSION_MS))
                time.sleep(0.05)
            t, assigns = s.wait_balanced(["A2", "B2"], [3, 3], SESSION_MS / 1000.0 + 20,
                                         "after static member C2 was killed", since=t_kill)
            s.note("A2, B2 took over %s %.2f s after the kill: %s"
                   % (sorted(c_parts), t - t_kill, {n: sorted(a) for n, a in assigns.items()}))
            if t - t_kill > SESSION_MS / 1000.0 + 10:
                s.fail("C2's partitions moved %.2f s after the kill: expected about the %d ms "
                       "session timeout" % (t - t_kill, SESSION_MS))
        finally:
            prod.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
