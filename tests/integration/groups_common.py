# SPDX-License-Identifier: Apache-2.0
"""Shared parts of the consumer-group tests (not a test itself).

Worker: one group consumer in its own process (group_worker.py for the Python clients,
js/group_consumer.js for kafkajs) whose JSON-lines stdout is read by a thread into its state:
current assignment, messages processed, last successful commit per partition, commit failures,
errors. close() asks it to commit and close (LeaveGroup); kill() sends SIGKILL (no LeaveGroup).

GroupScenario: the three-consumer scenario run by test_groups_confluent.py,
test_groups_kafka_python.py and test_groups_kafkajs.py:

 1. a 6-partition topic with 1,200 messages; a producer thread keeps producing (~200/s) until
    the end of step 5;
 2. three consumers A, B, C join: each gets a disjoint share, together all 6 (2 each);
 3. C closes (LeaveGroup): A and B take over its partitions (3 each), sooner than a session
    timeout would have done it;
 4. D joins: 2 each again;
 5. A is SIGKILLed (no LeaveGroup): nothing moves before its session timeout; then B and D take
    over (3 each);
 6. the producer stops; B and D consume up to the end, commit and close;
 7. every produced message was processed (none lost); a message processed twice is allowed only
    if A processed it after its last successful commit for that partition; the group's committed
    offsets equal the end of every partition.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from harness import HERE, BrokerTestCase, _die_with_parent

PARTITIONS = 6
SESSION_MS = 6000
# After a SIGKILL, the others' assignments must not change for SESSION_MS - 500 ms (a heartbeat
# interval) - QUIET_MARGIN_S: a broker that removes a member when its connection closes, or
# expires it early, fails; a heartbeat a second late does not.
QUIET_MARGIN_S = 1.0
# Broker overrides of every group test: a short initial rebalance delay (Kafka's 3000 ms default
# would stall every first join), and Kafka's default session timeout bounds (spelled out).
GROUP_OVERRIDES = ("group.initial.rebalance.delay.ms=300",
                   "group.min.session.timeout.ms=6000",
                   "group.max.session.timeout.ms=1800000")
PYTHON = "/usr/bin/python3"
WORKER_PY = os.path.join(HERE, "group_worker.py")
JS_DIR = os.path.join(HERE, "js")


def now():
    return time.monotonic()


class Worker:
    """A consumer process reporting JSON lines; see group_worker.py for the events."""

    def __init__(self, name, cmd, log_dir, cwd=None):
        self.name = name
        self.cmd = cmd
        self.lock = threading.Lock()
        self.events = []          # (monotonic time, event dict)
        self.assignment = None    # set of partitions; None before the first assign
        self.last_assign_time = None
        self.processed = []       # (p, o, v)
        self.commits = {}         # p -> next offset of the last successful commit
        self.commit_failures = []
        self.errors = []
        self.closed = False
        self.killed = False
        self.started = now()
        self.stderr_path = os.path.join(log_dir, "%s.stderr" % name)
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, cwd=cwd, text=True,
                                     errors="replace", preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._read, name="worker-" + name, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"ev": "garbage", "line": line}
            t = now()
            with self.lock:
                self.events.append((t, ev))
                kind = ev.get("ev")
                if kind == "assign":
                    self.assignment = set(ev["parts"])
                    self.last_assign_time = t
                elif kind == "revoke":
                    self.assignment = set()
                    self.last_assign_time = t
                elif kind == "msg":
                    self.processed.append((ev["p"], ev["o"], ev["v"]))
                elif kind == "commit":
                    for p, o in ev["offsets"].items():
                        self.commits[int(p)] = o
                elif kind == "commit_failed":
                    self.commit_failures.append(ev)
                elif kind in ("error", "garbage"):
                    self.errors.append(ev)
                elif kind == "closed":
                    self.closed = True

    # -- observation -----------------------------------------------------------------------

    def snapshot(self):
        with self.lock:
            return (None if self.assignment is None else set(self.assignment), self.last_assign_time)

    def count(self, kind):
        with self.lock:
            return sum(1 for _, e in self.events if e.get("ev") == kind)

    def callback_events(self):
        with self.lock:
            return [(t, e) for t, e in self.events if e.get("ev") in ("assign", "revoke")]

    def n_processed(self):
        with self.lock:
            return len(self.processed)

    def alive(self):
        return self.proc.poll() is None

    def stderr_tail(self, n=30):
        try:
            with open(self.stderr_path, errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return "(no stderr)"
        return "\n".join(lines[-n:])

    def describe(self):
        with self.lock:
            cb = [e for _, e in self.events if e.get("ev") in ("assign", "revoke")]
            return ("%s: pid %d %s, assignment %s, %d processed, commits %s, callbacks %s, "
                    "commit failures %s, errors %s"
                    % (self.name, self.proc.pid,
                       "running" if self.proc.poll() is None else "exit %s" % self.proc.returncode,
                       None if self.assignment is None else sorted(self.assignment),
                       len(self.processed), dict(sorted(self.commits.items())),
                       [(e["ev"], e["parts"]) for e in cb][-8:],
                       self.commit_failures[-3:], self.errors[-3:]))

    # -- control ---------------------------------------------------------------------------

    def close(self, timeout=20):
        """Asks the worker to commit and close; returns its exit status."""
        try:
            self.proc.stdin.write("close\n")
            self.proc.stdin.flush()
            self.proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError("%s did not close within %d s: %s\nstderr:\n%s"
                                 % (self.name, timeout, self.describe(), self.stderr_tail()))
        self._reader.join(5)
        return code

    def kill(self):
        self.killed = True
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(5)
        self._reader.join(5)

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        try:
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass
        self._stderr.close()


def python_worker_cmd(client, bootstrap, group, topic, name, *extra):
    return [PYTHON, WORKER_PY, client, bootstrap, group, topic, name,
            "--session-ms", str(SESSION_MS)] + list(extra)


def js_worker_cmd(node, bootstrap, group, topic, name):
    return [node, os.path.join(JS_DIR, "group_consumer.js"), bootstrap, group, topic, name,
            str(SESSION_MS)]


class BackgroundProducer:
    """confluent-kafka Producer (acks=all) writing message i ("m-<i>") to partition i % 6,
    records every delivery report: {(partition, offset): value}."""

    def __init__(self, bootstrap, topic, partitions=PARTITIONS):
        from confluent_kafka import Producer
        self.topic = topic
        self.partitions = partitions
        self.p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                           "client.id": "runnel-it-group-producer"})
        self.seq = 0
        self.delivered = {}
        self.errors = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    def _report(self, err, msg):
        with self.lock:
            if err is not None:
                self.errors.append(str(err))
            else:
                self.delivered[(msg.partition(), msg.offset())] = msg.value().decode()

    def produce(self, n):
        for _ in range(n):
            i = self.seq
            self.seq += 1
            self.p.produce(self.topic, value=("m-%d" % i).encode(), partition=i % self.partitions,
                           on_delivery=self._report)
            self.p.poll(0)

    def flush(self, timeout=20):
        left = self.p.flush(timeout)
        if left:
            raise AssertionError("producer: %d messages not delivered within %d s" % (left, timeout))

    def start(self, per_tick=20, tick=0.1):
        def loop():
            while not self._stop.is_set():
                self.produce(per_tick)
                self._stop.wait(tick)
        self._thread = threading.Thread(target=loop, name="producer", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.flush()


def create_topic(bootstrap, topic, partitions=PARTITIONS):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([NewTopic(topic, partitions, 1)], operation_timeout=10,
                             request_timeout=15)
    fs[topic].result(timeout=20)


def end_offsets(bootstrap, topic, partitions=PARTITIONS):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "runnel-it-watermarks",
                  "enable.auto.commit": False})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(partitions)}
    finally:
        c.close()


def committed_offsets(bootstrap, group, topic, partitions=PARTITIONS):
    """The group's committed offsets as confluent-kafka's committed() reads them (OffsetFetch),
    without joining the group; -1001 (OFFSET_INVALID) where nothing is committed."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        res = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=15)
        return {tp.partition: tp.offset for tp in res}
    finally:
        c.close()


class GroupScenario:
    """Runs the scenario described in the module docstring against tc.broker. spawn(name)
    returns a started Worker. tc is the unittest.TestCase (for assertions)."""

    def __init__(self, tc, spawn, topic, group, client):
        self.tc = tc
        self.spawn = spawn
        self.topic = topic
        self.group = group
        self.client = client
        self.workers = {}
        self.timeline = []
        self.t0 = now()

    def note(self, what):
        line = "%6.2f s  %s" % (now() - self.t0, what)
        self.timeline.append(line)
        print(line)
        sys.stdout.flush()

    def state(self):
        return "\n".join(["timeline:"] + ["  " + l for l in self.timeline] + ["workers:"] +
                         ["  " + w.describe() for w in self.workers.values()])

    def fail(self, msg):
        self.tc.fail("%s [%s]\n%s" % (msg, self.client, self.state()))

    def check_workers_alive(self, names):
        for n in names:
            w = self.workers[n]
            if not w.alive():
                self.fail("consumer %s exited unexpectedly with status %s; stderr:\n%s"
                          % (n, w.proc.returncode, w.stderr_tail()))
            fatal = [e for e in w.errors if e.get("fatal")]
            if fatal:
                self.fail("consumer %s reported a fatal error: %s" % (n, fatal))

    def wait_balanced(self, names, sizes, timeout, what, since=None, settle=1.0):
        """Waits until the named workers' assignments are disjoint and cover every partition,
        with these sorted sizes, unchanged for `settle` seconds (and, with `since`, each
        assigned after `since`). Returns (time the balance was reached, {name: set})."""
        deadline = now() + timeout
        reached = None
        last = None
        while True:
            self.check_workers_alive(names)
            snaps = {n: self.workers[n].snapshot() for n in names}
            assigns = {n: s[0] for n, s in snaps.items()}
            ok = all(a is not None for a in assigns.values())
            if ok:
                union = set()
                total = 0
                for a in assigns.values():
                    union |= a
                    total += len(a)
                ok = (union == set(range(PARTITIONS)) and total == PARTITIONS
                      and sorted(len(a) for a in assigns.values()) == sorted(sizes))
            if ok and since is not None:
                ok = all(s[1] is not None and s[1] >= since for s in snaps.values())
            key = tuple(sorted((n, tuple(sorted(a or ()))) for n, a in assigns.items()))
            if ok:
                if key != last or reached is None:
                    last = key
                    reached = max(s[1] for s in snaps.values())
                    settled_from = now()
                elif now() - settled_from >= settle:
                    return reached, assigns
            else:
                reached = None
                last = None
            if now() > deadline:
                self.fail("%s: expected the assignments of %s to be disjoint and cover partitions "
                          "0-%d with sizes %s within %.0f s; actual: %s"
                          % (what, names, PARTITIONS - 1, sorted(sizes), timeout,
                             {n: None if a is None else sorted(a) for n, a in assigns.items()}))
            time.sleep(0.05)

    def run(self):
        tc = self.tc
        bs = tc.broker.bootstrap
        create_topic(bs, self.topic)
        prod = BackgroundProducer(bs, self.topic)
        self.producer = prod
        prod.produce(1200)
        prod.flush()
        self.note("produced 1200 messages into %s (6 partitions)" % self.topic)
        prod.start()

        # 2. Three members: 2 partitions each.
        for n in "ABC":
            self.workers[n] = self.spawn(n)
        t, assigns = self.wait_balanced("ABC", [2, 2, 2], 40, "three consumers joined")
        self.note("A, B, C balanced: %s" % {n: sorted(a) for n, a in assigns.items()})

        # Let everyone process and commit something in this generation.
        self._wait_progress("ABC", 10)

        # 3. C leaves with LeaveGroup: A and B take over, without waiting for a session timeout.
        c_parts = assigns["C"]
        t_close = now()
        code = self.workers["C"].close()
        if code != 0 or not self.workers["C"].closed:
            self.fail("C's close() failed: exit status %s (expected 0 after a 'closed' event); "
                      "stderr:\n%s" % (code, self.workers["C"].stderr_tail()))
        self.note("C closed (exit 0) in %.2f s" % (now() - t_close))
        t, assigns = self.wait_balanced("AB", [3, 3], 20, "after C left", since=t_close)
        took = t - t_close
        self.note("A, B took over C's %s in %.2f s: %s"
                  % (sorted(c_parts), took, {n: sorted(a) for n, a in assigns.items()}))
        if took >= SESSION_MS / 1000.0:
            self.fail("after C's LeaveGroup, the rebalance completed only %.2f s later: expected "
                      "well under the %d ms session timeout (LeaveGroup must start a rebalance "
                      "at once, not wait for the member to expire)" % (took, SESSION_MS))

        # 4. D joins: 2 each again.
        t_join = now()
        self.workers["D"] = self.spawn("D")
        t, assigns = self.wait_balanced("ABD", [2, 2, 2], 30, "after D joined", since=t_join)
        self.note("D joined in %.2f s: %s" % (t - t_join, {n: sorted(a) for n, a in assigns.items()}))
        self._wait_progress("ABD", 10)

        # 5. A is killed: no LeaveGroup; its partitions move only after its session timeout.
        a_parts = assigns["A"]
        before = {n: self.workers[n].snapshot() for n in "BD"}
        t_kill = now()
        self.workers["A"].kill()
        self.note("A SIGKILLed holding %s (last commits %s)"
                  % (sorted(a_parts), dict(sorted(self.workers["A"].commits.items()))))
        # Nothing moves while A's session is still alive: A heartbeated about a heartbeat
        # interval (500 ms) before the kill, so SESSION_MS - 500 ms are guaranteed; QUIET_MARGIN_S
        # more allows for a late heartbeat on a loaded machine.
        quiet_until = t_kill + SESSION_MS / 1000.0 - 0.5 - QUIET_MARGIN_S
        while now() < quiet_until:
            self.check_workers_alive("BD")
            for n in "BD":
                snap = self.workers[n].snapshot()
                if snap != before[n]:
                    self.fail("%s's assignment changed %.2f s after A was killed (from %s to %s): "
                              "expected no rebalance before A's %d ms session timeout expires "
                              "(Kafka does not remove a member when its connection closes)"
                              % (n, now() - t_kill, sorted(before[n][0]), sorted(snap[0] or ()),
                                 SESSION_MS))
            time.sleep(0.05)
        t, assigns = self.wait_balanced("BD", [3, 3], SESSION_MS / 1000.0 + 20,
                                        "after A was killed", since=t_kill)
        took = t - t_kill
        self.note("B, D took over A's %s %.2f s after the kill: %s"
                  % (sorted(a_parts), took, {n: sorted(a) for n, a in assigns.items()}))
        if took > SESSION_MS / 1000.0 + 10:
            self.fail("A's partitions moved %.2f s after the kill: expected within about the "
                      "%d ms session timeout (+ a heartbeat and a rejoin)" % (took, SESSION_MS))

        # 6. Stop producing; the survivors consume to the end, commit and close.
        prod.stop()
        if prod.errors:
            self.fail("producer delivery errors: %s" % prod.errors[:5])
        produced = dict(prod.delivered)
        self.note("producer stopped: %d messages delivered" % len(produced))
        deadline = now() + 30
        while True:
            self.check_workers_alive("BD")
            seen = set()
            for w in self.workers.values():
                with w.lock:
                    seen.update((p, o) for p, o, _ in w.processed)
            missing = set(produced) - seen
            if not missing:
                break
            if now() > deadline:
                by_p = {}
                for p, o in sorted(missing):
                    by_p.setdefault(p, []).append(o)
                self.fail("messages lost: %d of %d produced messages were never processed by "
                          "any consumer within 30 s of the end of production; missing offsets "
                          "by partition (first 10 each): %s"
                          % (len(missing), len(produced),
                             {p: os[:10] for p, os in by_p.items()}))
            time.sleep(0.1)
        self.note("every produced message processed")
        # A short wait: a consumer re-reading from a stale committed offset shows up here.
        time.sleep(1.0)
        for n in "BD":
            code = self.workers[n].close()
            if code != 0 or not self.workers[n].closed:
                self.fail("%s's close() failed: exit status %s; stderr:\n%s"
                          % (n, code, self.workers[n].stderr_tail()))
        self.note("B and D closed")

        # 7. Checks.
        self.note("commit failures (allowed; they explain duplicates if any): %s"
                  % {n: [e.get("error") for e in w.commit_failures][:3]
                     for n, w in sorted(self.workers.items())})
        self._check_values(produced)
        self._check_duplicates(produced)
        ends = end_offsets(bs, self.topic)
        committed = committed_offsets(bs, self.group, self.topic)
        if committed != ends:
            self.fail("committed offsets of group %s after every consumer closed: expected the "
                      "end of every partition %s, actual %s (OffsetFetch)"
                      % (self.group, ends, committed))
        self.note("committed offsets = end offsets %s" % ends)

    def _wait_progress(self, names, n, timeout=15):
        """Waits until each named worker processed n more messages and made a commit."""
        start = {x: self.workers[x].n_processed() for x in names}
        commits = {x: self.workers[x].count("commit") for x in names}
        deadline = now() + timeout
        while True:
            self.check_workers_alive(names)
            if all(self.workers[x].n_processed() >= start[x] + n and
                   self.workers[x].count("commit") > commits[x] for x in names):
                return
            if now() > deadline:
                self.fail("consumers %s did not each process %d more messages and commit within "
                          "%d s of getting their partitions (processed before: %s, now: %s)"
                          % (names, n, timeout, start,
                             {x: self.workers[x].n_processed() for x in names}))
            time.sleep(0.05)

    def _check_values(self, produced):
        bad = []
        for w in self.workers.values():
            for p, o, v in w.processed:
                if (p, o) not in produced:
                    bad.append((w.name, p, o, v, "not produced"))
                elif produced[(p, o)] != v:
                    bad.append((w.name, p, o, v, "expected %r" % produced[(p, o)]))
        if bad:
            self.fail("consumers saw %d messages that differ from what was produced (worker, "
                      "partition, offset, value, problem), first 10: %s" % (len(bad), bad[:10]))

    def _check_duplicates(self, produced):
        seen = {}
        for w in self.workers.values():
            for p, o, _ in w.processed:
                seen.setdefault((p, o), []).append(w.name)
        dups = {k: v for k, v in seen.items() if len(v) > 1}
        victim = self.workers["A"]
        allowed = set()
        for p, o, _ in victim.processed:
            c = victim.commits.get(p)
            if c is None or o >= c:
                allowed.add((p, o))
        unexpected = {k: v for k, v in dups.items()
                      if k not in allowed or len(v) != 2 or "A" not in v}
        self.note("%d duplicates, %d allowed (processed by the killed A after its last commit)"
                  % (len(dups), len(allowed)))
        if unexpected:
            first = sorted(unexpected.items())[:15]
            self.fail("unexpected duplicates: %d messages were processed more than once without "
                      "being the killed consumer A's uncommitted work (expected: duplicates only "
                      "of A's messages at or after A's last commit per partition %s, each seen "
                      "by A and one other consumer); actual (partition, offset): consumers, "
                      "first 15: %s" % (len(unexpected), dict(sorted(victim.commits.items())), first))


class GroupTestCase(BrokerTestCase):
    """A broker with GROUP_OVERRIDES, and worker processes that are killed after the test (their
    stderr tails printed). Subclasses define worker_cmd(name)."""

    overrides = GROUP_OVERRIDES

    def setUp(self):
        self.log_dir = tempfile.mkdtemp(prefix="runnel-it-group-")
        if not os.environ.get("RUNNEL_KEEP_TMP"):
            self.addCleanup(shutil.rmtree, self.log_dir, ignore_errors=True)
        self.workers = []
        super().setUp()

    def tearDown(self):
        # Before the broker stops (a cleanup registered by BrokerTestCase.setUp).
        for w in self.workers:
            w.cleanup()
            print("---- %s stderr (tail) ----\n%s" % (w.name, w.stderr_tail(40)))
        super().tearDown()

    def worker_cmd(self, name):
        raise NotImplementedError

    def spawn(self, name, cmd=None, cwd=None):
        w = Worker(name, cmd or self.worker_cmd(name), self.log_dir, cwd=cwd)
        self.workers.append(w)
        return w
