# SPDX-License-Identifier: Apache-2.0
"""Shared parts of the transaction tests of issue 11 (test_txn_confluent.py, test_txn_java.py,
test_txn_kafkajs.py, test_txn_sarama.py); not a test itself.

Five scenarios, each run with every client, each checked here the same way for every client:

  a  interleaved commits and aborts: A_TXNS transactions of A_MSGS records over A_PARTITIONS
     partitions, every A_ABORT_EVERY-th one aborted; a read_committed consumer must read exactly
     the committed records, in order, and a read_uncommitted one every record, in order.
  b  consume-transform-produce: B_INPUTS records in an input topic; run 1 reads them in a consumer
     group and, in transactions of B_TXN_SIZE records, writes "out-" + value to the same partition
     of an output topic and sends the offsets to the transaction; it commits B_RUN1_TXNS of them,
     then aborts one more and stops. Run 2 (a new consumer in the group, a new producer) resumes
     at the committed offsets and transforms the rest. The output holds exactly one record per
     input, in input order, and the group's offsets end at the input's end.
  c  fencing: producer 1 commits a transaction, then leaves a second one open (records flushed);
     producer 2 with the same transactional.id initializes, which fences producer 1: its next
     send or commit fails with the client's fencing error, and its open transaction is aborted
     (read_committed never sees it; read_uncommitted does, proving it was written).
  d  timeout: a producer with transaction.timeout.ms = D_TIMEOUT_MS leaves a transaction open;
     the broker aborts it, so a read_committed consumer gets past it (the LSO advances) to what
     another producer commits after it, and never sees its records.
  e  kill -9 in the middle of a commit: a producer commits transactions 0 to E_KILL_TXN over
     E_PARTITIONS partitions; when it starts committing the last one the broker gets SIGKILL.
     The broker restarts on the same data, a new producer with the same transactional.id
     initializes, and read_committed must see each transaction whole or not at all (and every
     transaction whose commit returned, whole). The last commit may fail (the broker died
     under it) or, when the kill came late, have returned: Kafka answers EndTxn once the
     prepare record is written and writes the markers after, so that too is a kill in the
     middle of a commit.

Every topic ends with a sentinel: a committed transaction that writes SENTINEL to each partition
last. Consumers read each partition until they see it, so a reader that stops early or a broker
whose LSO does not move shows up as a timeout, and what comes after the expected records (a
duplicate) is in the lists that the checks compare.

The client side: a client runs a scenario and returns an observation, a dict of JSON values
(the Java, JavaScript and Go programs print theirs as one JSON line, from the flat spec() that
they read on stdin). An observation with an "error" key failed at that step. The keys:

  a: outcomes [commit|abort per transaction], read_committed and read_uncommitted
     {partition: [values in offset order]}
  b: run1_committed, run1_aborted, run2 [input values processed, in processing order],
     run2_first {partition: offset of run 2's first record}, output {partition: [values]},
     committed {partition: the group's committed offset at the end}
  c: fence_error (text of producer 1's first failure after the fencing), fence_step (send or
     commit), a2_acked [records of the open transaction acknowledged before the fencing],
     read_committed, read_uncommitted
  d: open_acked, open_commit_error (when the test commits the timed-out transaction at the
     end), read_committed, read_uncommitted, seconds_to_sentinel (from the open transaction's
     last acknowledgement to read_committed reading the sentinel)
  e: produce phase {committed: [transactions whose commit returned], commit_error,
     commit_ms: [how long each commit took]},
     verify phase {read_committed}

The broker: Runnel (the default) or Apache Kafka 4.4 (kafka_oracle.KafkaBroker), chosen with
RUNNEL_TEST_BROKER=runnel|kafka. Both get BROKER_OVERRIDES; the Kafka run proves the scenarios
right. Each module starts one broker for scenarios a to d and one of its own for e.
"""

import json
import os
import re
import subprocess
import sys
import threading
import time
import traceback
import unittest

from harness import HOST, Broker, _die_with_parent
from kafka_oracle import KafkaBroker

# Kafka's transaction.abort.timed.out.transaction.cleanup.interval.ms is 10 s by default: how
# often the coordinator looks for transactions past their timeout. Lowered so that scenario d
# takes seconds; Runnel reads the same key. No topic is created by Metadata, so that a scenario
# that forgot to create one fails on both brokers.
BROKER_OVERRIDES = (
    "auto.create.topics.enable=false",
    "group.initial.rebalance.delay.ms=0",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms=500",
)

# Kafka only, for scenario e: the KRaft controller (in the killed process too) gives the
# restarted broker's old registration a fresh session before the broker can register again,
# 9 s by default; with these a restart takes about 4 s instead of 11.
KAFKA_OVERRIDES = ("broker.session.timeout.ms=3000", "broker.heartbeat.interval.ms=500")

SENTINEL = "end"
WAIT_S = 30.0              # the longest a client waits for one thing (records, a sentinel)

A_TXNS, A_MSGS, A_PARTITIONS, A_ABORT_EVERY = 20, 50, 3, 3
B_INPUTS, B_PARTITIONS, B_TXN_SIZE, B_RUN1_TXNS = 60, 3, 5, 5
C_PARTITIONS, C_MSGS = 2, 10
D_PARTITIONS, D_MSGS, D_TIMEOUT_MS = 2, 10, 3000
E_PARTITIONS, E_MSGS, E_KILL_TXN = 24, 2, 4


# Scenario e runs once for each of these, on one broker killed and restarted each time, with
# a topic and a transactional id per round: the kill comes this fraction of the median time of
# the round's earlier commits after the client says it is committing.
E_KILL_FRACTIONS = (0.0, 0.5, 1.0)


def kill_delay(commit_ms, fraction):
    """Seconds from the client's "COMMITTING n" to SIGKILL: `fraction` of the median time the
    earlier commits took (at most 50 ms). EndTxn takes about a millisecond on either broker, and
    the kill cannot be aimed closer than that from outside, so the rounds spread it over the
    commit: before the request arrives, while the broker writes the prepare record and the
    markers, or just after the client saw the commit return."""
    if not commit_ms:
        return 0.0
    ms = sorted(commit_ms)[len(commit_ms) // 2] * fraction
    return min(ms, 50.0) / 1000.0


def broker_kind():
    kind = os.environ.get("RUNNEL_TEST_BROKER", "runnel")
    if kind not in ("runnel", "kafka"):
        raise AssertionError("RUNNEL_TEST_BROKER=%r: runnel or kafka" % kind)
    return kind


def spec(prefix):
    """Everything a client program needs, flat (names, counts, settings)."""
    return {
        "prefix": prefix,
        "sentinel": SENTINEL,
        "wait_ms": int(WAIT_S * 1000),
        "a_topic": prefix + "-a", "a_txn_id": prefix + "-a",
        "a_txns": A_TXNS, "a_msgs": A_MSGS, "a_partitions": A_PARTITIONS,
        "a_abort_every": A_ABORT_EVERY,
        "b_in_topic": prefix + "-b-in", "b_out_topic": prefix + "-b-out",
        "b_group": prefix + "-b-group", "b_txn_id": prefix + "-b",
        "b_inputs": B_INPUTS, "b_partitions": B_PARTITIONS, "b_txn_size": B_TXN_SIZE,
        "b_run1_txns": B_RUN1_TXNS,
        "c_topic": prefix + "-c", "c_txn_id": prefix + "-c",
        "c_partitions": C_PARTITIONS, "c_msgs": C_MSGS,
        "d_topic": prefix + "-d", "d_open_txn_id": prefix + "-d-open",
        "d_after_txn_id": prefix + "-d-after",
        "d_partitions": D_PARTITIONS, "d_msgs": D_MSGS, "d_timeout_ms": D_TIMEOUT_MS,
        "e_topic": prefix + "-e", "e_txn_id": prefix + "-e",
        "e_partitions": E_PARTITIONS, "e_msgs": E_MSGS, "e_kill_txn": E_KILL_TXN,
    }


# -- the records of each scenario (the clients make the same from the spec) ----------------

def a_value(t, m):
    """Record m of transaction t in scenario a, written to partition m % A_PARTITIONS."""
    return "a-t%02d-m%02d" % (t, m)


def a_aborted(t):
    return t % A_ABORT_EVERY == A_ABORT_EVERY - 1


def b_input(i):
    """Input record i of scenario b, in partition i % B_PARTITIONS."""
    return "in-%03d" % i


def b_transform(value):
    return "out-" + value


def c_value(part, m):
    """Record m of part a1 (committed), a2 (left open, then fenced) or b (the new producer)."""
    return "c-%s-m%02d" % (part, m)


def d_value(part, m):
    return "d-%s-m%02d" % (part, m)


def e_value(t, p, m):
    return "e-t%02d-p%02d-m%d" % (t, p, m)


def by_partition(values, partitions, partition_of):
    out = {str(p): [] for p in range(partitions)}
    for i, v in enumerate(values):
        out[str(partition_of(i))].append(v)
    return out


def with_sentinel(parts):
    return {p: vs + [SENTINEL] for p, vs in parts.items()}


# -- brokers -------------------------------------------------------------------------------

class TxnBroker:
    """The broker under test: Runnel or Kafka, with kill9() and restart() on the same data
    directory and the same address."""

    def __init__(self, kind):
        self.kind = kind
        if kind == "runnel":
            self.broker = Broker(overrides=BROKER_OVERRIDES)
        else:
            self.broker = KafkaBroker(overrides=BROKER_OVERRIDES + KAFKA_OVERRIDES)
        self.port = None

    def start(self):
        t0 = time.monotonic()
        if self.kind == "runnel":
            self.broker.start(port=self.port or 0)
        elif self.port is None:
            self.broker.start()
        else:
            self.broker.restart()    # after kill9(): the same directory and ports
        self.port = self.broker.port
        print("txn: %s started on %s in %.1f s" % (self.kind, self.bootstrap,
                                                  time.monotonic() - t0), file=sys.stderr)
        return self

    @property
    def bootstrap(self):
        return "%s:%d" % (HOST, self.port)

    def kill9(self):
        self.broker.kill9()

    def restart(self):
        """start() after kill9(): the same data directory and port."""
        return self.start()

    def stop(self):
        self.broker.stop()

    def log_tail(self, n=80):
        lines = self.broker.lines() if self.kind == "runnel" else self.broker.log_lines()
        return lines[-n:]


# -- running client programs ---------------------------------------------------------------

def run_program(cmd, spec_dict, timeout, cwd=None, env=None):
    """Runs a client program with the spec as JSON on stdin; returns (observation, stderr
    text). The observation is the last stdout line that starts with "{"; a missing one, or a
    non-zero exit status, becomes an "error"."""
    try:
        p = subprocess.run(cmd, input=json.dumps(spec_dict), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, errors="replace", timeout=timeout,
                           cwd=cwd, env=env, preexec_fn=_die_with_parent)
        out, err, status = p.stdout, p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
        status = "killed after %d s" % timeout
    return observation(out or "", status), err or ""


def observation(out, status):
    lines = [line for line in out.splitlines() if line.startswith("{")]
    try:
        obs = json.loads(lines[-1]) if lines else {}
    except ValueError as e:
        obs = {"error": "unparsable observation %r: %s" % (lines[-1][:200], e)}
    if status != 0 and "error" not in obs:
        obs["error"] = "the program exited with status %s%s" % (
            status, "" if lines else " and printed no observation")
    elif not lines and "error" not in obs:
        obs["error"] = "the program printed no observation"
    return obs


def kill_during_commit(broker, cmd, spec_dict, fraction, timeout, cwd=None, env=None):
    """Scenario e with a client program: runs `cmd` (its produce phase), which prints
    "COMMITTING n" just before each commit and, after the last one, waits for the end of its
    stdin; at COMMITTING E_KILL_TXN sends SIGKILL to the broker (after kill_delay(), with
    `fraction`, of the durations the program printed as "COMMITTED n MILLIS"), closes the
    program's stdin, waits
    for it to exit, then restarts the broker on the same data. Returns (observation, stderr
    text)."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace", cwd=cwd,
                            env=env, preexec_fn=_die_with_parent)
    # The spec on one line; stdin stays open until after the kill, and the program waits for
    # its end after the last commit, so that it is still there when the kill comes.
    proc.stdin.write(json.dumps(spec_dict) + "\n")
    proc.stdin.flush()
    out, err = [], []
    trigger = threading.Event()
    want = "COMMITTING %d" % E_KILL_TXN

    commit_ms = []

    def read_out():
        for line in proc.stdout:
            out.append(line)
            words = line.split()
            if len(words) == 3 and words[0] == "COMMITTED":
                commit_ms.append(float(words[2]))
            if line.strip() == want:
                trigger.set()
        trigger.set()   # EOF: the program ended without reaching the kill

    def read_err():
        for line in proc.stderr:
            err.append(line)

    readers = [threading.Thread(target=f, daemon=True) for f in (read_out, read_err)]
    for r in readers:
        r.start()
    killed = False
    deadline = time.monotonic() + timeout
    try:
        trigger.wait(timeout)
        if proc.poll() is None and any(line.strip() == want for line in out):
            delay = kill_delay(commit_ms, fraction)
            time.sleep(delay)
            broker.kill9()
            killed = True
        proc.stdin.close()
        try:
            proc.wait(max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()   # our own child only
            proc.wait(10)
    finally:
        if not proc.stdin.closed:
            proc.stdin.close()
        for r in readers:
            r.join(10)
        proc.stdout.close()
        proc.stderr.close()
        if killed:
            broker.restart()
    obs = observation("".join(out), proc.returncode)
    if not killed and "error" not in obs:
        obs["error"] = "the program never printed %r: no kill" % want
    obs["killed"] = killed
    if killed:
        obs.setdefault("commit_ms", commit_ms)
        obs["kill_delay_ms"] = round(delay * 1000, 2)
    return obs, "".join(err)


# -- the tests -----------------------------------------------------------------------------

_shared = {}


def shared_broker():
    """The module's broker for scenarios a to d, started on first use, stopped at the end."""
    if "broker" not in _shared:
        _shared["broker"] = TxnBroker(broker_kind()).start()
        unittest.addModuleCleanup(_stop_shared)
    return _shared["broker"]


def _stop_shared():
    broker = _shared.pop("broker", None)
    if broker is not None:
        broker.stop()


class TxnChecks:
    """Checks of the observations; mixed into the test classes below."""

    client = None            # name and version, for messages
    fenced_pattern = None    # what this client's fencing error must match (scenario c)

    where_prefix = ""        # what the checks running now are about, for messages

    def where(self, what):
        return "%s on %s, %s%s" % (self.client, broker_kind(), self.where_prefix, what)

    def assert_no_error(self, obs, what):
        if "error" in obs:
            seen = {k: v for k, v in obs.items() if k not in ("error", "trace", "stderr")}
            self.fail("%s failed: %s\nseen until then: %s\n%s%s"
                      % (self.where(what), obs["error"], json.dumps(seen)[:3000],
                         obs.get("trace", ""), obs.get("stderr", "")))

    def assert_parts(self, got, want, what):
        """Per-partition lists, compared partition by partition with a short message."""
        got = {str(k): v for k, v in (got or {}).items()}
        for p in sorted(want, key=int):
            g, w = got.get(p), want[p]
            if g != w:
                extra = [v for v in (g or []) if v not in w]
                missing = [v for v in w if v not in (g or [])]
                self.fail(self.where("%s, partition %s: %d records read, %d expected; "
                                     "unexpected %s; missing %s; first read %s"
                                     % (what, p, len(g or []), len(w), extra[:8], missing[:8],
                                        (g or [])[:6])))
        self.assertEqual(sorted(got, key=int), sorted(want, key=int),
                         self.where("%s: partitions read" % what))

    # -- a ---------------------------------------------------------------------------------

    def check_interleaved(self, obs):
        self.assert_no_error(obs, "interleaved commits and aborts")
        want_outcomes = ["abort" if a_aborted(t) else "commit" for t in range(A_TXNS)]
        self.assertEqual(obs["outcomes"], want_outcomes, self.where("what each transaction did"))
        committed, every = [], []
        for t in range(A_TXNS):
            values = [a_value(t, m) for m in range(A_MSGS)]
            every += values
            if not a_aborted(t):
                committed += values
        part = lambda i: (i % A_MSGS) % A_PARTITIONS   # noqa: E731 - record i of the list
        self.assert_parts(obs["read_committed"],
                          with_sentinel(by_partition(committed, A_PARTITIONS, part)),
                          "read_committed")
        self.assert_parts(obs["read_uncommitted"],
                          with_sentinel(by_partition(every, A_PARTITIONS, part)),
                          "read_uncommitted")

    # -- b ---------------------------------------------------------------------------------

    def check_consume_transform_produce(self, obs):
        self.assert_no_error(obs, "consume-transform-produce")
        inputs = [b_input(i) for i in range(B_INPUTS)]
        run1, aborted, run2 = obs["run1_committed"], obs["run1_aborted"], obs["run2"]
        self.assertEqual(len(run1), B_RUN1_TXNS * B_TXN_SIZE,
                         self.where("records committed by run 1"))
        self.assertEqual(len(set(run1)), len(run1), self.where("run 1 processed a record twice"))
        self.assertTrue(aborted, self.where("run 1 aborted no record"))
        # Run 2 starts where run 1's committed transactions left the group's offsets: the
        # aborted transaction's offsets must not count, so its records come again.
        part_of = {b_input(i): i % B_PARTITIONS for i in range(B_INPUTS)}
        first = {}
        for p in range(B_PARTITIONS):
            first[str(p)] = sum(1 for v in run1 if part_of[v] == p)
        self.assertEqual({str(k): v for k, v in obs["run2_first"].items()},
                         {p: o for p, o in first.items()
                          if o < sum(1 for i in range(B_INPUTS) if i % B_PARTITIONS == int(p))},
                         self.where("the offset of run 2's first record of each partition "
                                    "(the offsets run 1 committed in its transactions)"))
        self.assertEqual(sorted(run2), sorted(set(inputs) - set(run1)),
                         self.where("records processed by run 2: every one run 1 did not commit, "
                                    "once"))
        self.assertTrue(set(aborted) <= set(run2),
                        self.where("records of run 1's aborted transaction come again in run 2"))
        want = by_partition([b_transform(v) for v in inputs], B_PARTITIONS,
                            lambda i: i % B_PARTITIONS)
        self.assert_parts(obs["output"], with_sentinel(want), "output (read_committed)")
        ends = {str(p): len(want[str(p)]) for p in range(B_PARTITIONS)}
        self.assertEqual({str(k): v for k, v in obs["committed"].items()}, ends,
                         self.where("the group's committed offsets at the end"))

    # -- c ---------------------------------------------------------------------------------

    def check_fencing(self, obs):
        self.assert_no_error(obs, "fencing")
        print("%s: producer 1 failed at %s with %s" % (self.where("fencing"),
                                                        obs.get("fence_step"),
                                                        obs.get("fence_error")), file=sys.stderr)
        self.assertRegex(obs.get("fence_error") or "", self.fenced_pattern,
                         self.where("producer 1's first failure after producer 2 initialized "
                                    "(at %s)" % obs.get("fence_step")))
        part = lambda i: i % C_PARTITIONS   # noqa: E731
        a1 = [c_value("a1", m) for m in range(C_MSGS)]
        a2 = [c_value("a2", m) for m in range(C_MSGS)]
        b = [c_value("b", m) for m in range(C_MSGS)]
        self.assertEqual(sorted(obs["a2_acked"]), sorted(a2),
                         self.where("records of the open transaction acknowledged before the "
                                    "fencing"))
        committed = by_partition(a1, C_PARTITIONS, part)
        for p, vs in by_partition(b, C_PARTITIONS, part).items():
            committed[p] += vs
        self.assert_parts(obs["read_committed"], with_sentinel(committed),
                          "read_committed (the fenced producer's open transaction is aborted)")
        every = by_partition(a1, C_PARTITIONS, part)
        for more in (a2, b):
            for p, vs in by_partition(more, C_PARTITIONS, part).items():
                every[p] += vs
        self.assert_parts(obs["read_uncommitted"], with_sentinel(every), "read_uncommitted")

    # -- d ---------------------------------------------------------------------------------

    def check_timeout(self, obs):
        self.assert_no_error(obs, "transaction timeout")
        part = lambda i: i % D_PARTITIONS   # noqa: E731
        opened = [d_value("open", m) for m in range(D_MSGS)]
        after = [d_value("after", m) for m in range(D_MSGS)]
        self.assertEqual(sorted(obs["open_acked"]), sorted(opened),
                         self.where("records of the open transaction acknowledged"))
        self.assert_parts(obs["read_committed"],
                          with_sentinel(by_partition(after, D_PARTITIONS, part)),
                          "read_committed (the timed-out transaction is aborted)")
        every = by_partition(opened, D_PARTITIONS, part)
        for p, vs in by_partition(after, D_PARTITIONS, part).items():
            every[p] += vs
        self.assert_parts(obs["read_uncommitted"], with_sentinel(every), "read_uncommitted")
        print("%s: read_committed reached the sentinel %.1f s after the open transaction's last "
              "record (transaction.timeout.ms %d); committing it afterwards: %s"
              % (self.where("timeout"), obs.get("seconds_to_sentinel", -1), D_TIMEOUT_MS,
                 obs.get("open_commit_error")), file=sys.stderr)
        self.assertGreaterEqual(obs["seconds_to_sentinel"], D_TIMEOUT_MS / 1000.0 * 0.8,
                                self.where("read_committed passed the open transaction before it "
                                           "could have timed out"))
        self.assertTrue(obs.get("open_commit_error"),
                        self.where("committing the timed-out transaction afterwards must fail"))

    # -- e ---------------------------------------------------------------------------------

    def check_kill(self, produced, verified, round_name):
        self.where_prefix = "kill -9, %s: " % round_name
        try:
            self._check_kill(produced, verified)
        finally:
            self.where_prefix = ""

    def _check_kill(self, produced, verified):
        self.assert_no_error(verified, "after the restart")
        self.assertTrue(produced.get("killed"), self.where("the broker was not killed: %s"
                                                           % produced.get("error")))
        committed = produced.get("committed", [])
        self.assertIn(committed, (list(range(E_KILL_TXN)), list(range(E_KILL_TXN + 1))),
                      self.where("transactions whose commit returned (%s)"
                                 % produced.get("commit_error")))
        counts = {}
        read = verified["read_committed"]
        for p in range(E_PARTITIONS):
            values = read.get(str(p), [])
            self.assertTrue(values and values[-1] == SENTINEL,
                            self.where("partition %d does not end with the sentinel" % p))
            for v in values[:-1]:
                m = re.fullmatch(r"e-t(\d+)-p(\d+)-m(\d+)", v)
                self.assertTrue(m and int(m.group(2)) == p,
                                self.where("unexpected record %r in partition %d" % (v, p)))
                counts[int(m.group(1))] = counts.get(int(m.group(1)), 0) + 1
            # Within a partition, transactions in order and records in order.
            self.assertEqual(values[:-1], sorted(values[:-1]),
                             self.where("order of partition %d" % p))
        whole = E_PARTITIONS * E_MSGS
        partial = {t: n for t, n in counts.items() if n != whole}
        self.assertEqual(partial, {}, self.where("transactions read in part (transaction: "
                                                 "records; %d is whole)" % whole))
        for t in committed:
            self.assertIn(t, counts, self.where("transaction %d committed before the kill is "
                                                "missing" % t))
        self.assertTrue(set(counts) <= set(range(E_KILL_TXN + 1)),
                        self.where("transactions read: %s" % sorted(counts)))
        print("%s: SIGKILL %.2f ms after the client started committing transaction %d (earlier "
              "commits took %s ms); its commit %s; after the restart it is %s"
              % (self.where("").rstrip(": "), produced.get("kill_delay_ms", -1), E_KILL_TXN,
                 produced.get("commit_ms"),
                 "returned" if E_KILL_TXN in committed else
                 "failed: %s" % produced.get("commit_error"),
                 "committed" if E_KILL_TXN in counts else "aborted"), file=sys.stderr)


class TxnCase(TxnChecks, unittest.TestCase):
    """Scenarios a to d on the module's shared broker. Subclasses set client, prefix and
    fenced_pattern and implement run_<scenario>(bootstrap, spec) -> observation."""

    prefix = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = shared_broker()
        cls._results = {}

    def scenario(self, name):
        if name not in self._results:
            t0 = time.monotonic()
            try:
                obs = getattr(self, "run_" + name)(self.broker.bootstrap, spec(self.prefix))
            except Exception as e:  # noqa: BLE001 - any failure of the client is the result
                obs = {"error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc()}
            obs["seconds"] = round(time.monotonic() - t0, 2)
            print("%s: %.2f s" % (self.where(name), obs["seconds"]), file=sys.stderr)
            self._results[name] = obs
        return self._results[name]

    def test_a_interleaved_commits_and_aborts(self):
        self.check_interleaved(self.scenario("interleaved"))

    def test_b_consume_transform_produce(self):
        self.check_consume_transform_produce(self.scenario("consume_transform_produce"))

    def test_c_second_producer_fences_the_first(self):
        self.check_fencing(self.scenario("fencing"))

    def test_d_open_transaction_times_out(self):
        self.check_timeout(self.scenario("timeout"))


class TxnKillCase(TxnChecks, unittest.TestCase):
    """Scenario e with a broker of its own, killed and restarted once per E_KILL_FRACTIONS.
    Subclasses implement run_kill(broker, spec, fraction) -> (produce observation, verify
    observation)."""

    prefix = None

    def test_e_kill9_in_the_middle_of_a_commit(self):
        broker = TxnBroker(broker_kind()).start()
        self.addCleanup(broker.stop)
        for i, fraction in enumerate(E_KILL_FRACTIONS):
            s = spec(self.prefix)
            s["e_topic"] += "-%d" % i
            s["e_txn_id"] += "-%d" % i
            t0 = time.monotonic()
            produced, verified = self.run_kill(broker, s, fraction)
            print("%s, round %d: %.2f s; produce phase %s"
                  % (self.where("kill -9"), i, time.monotonic() - t0,
                     json.dumps({k: v for k, v in produced.items() if k != "stderr"})[:600]),
                  file=sys.stderr)
            self.check_kill(produced, verified, "round %d" % i)


class ProgramClient:
    """A client whose scenarios run as a separate program (the Java, kafkajs and sarama
    ones): `command(scenario, bootstrap)` gives its argv, run in `cwd` and given the spec on
    stdin (run_program); `log_name` names its stderr in failures. Mixed into TxnCase and
    TxnKillCase, it provides their run_* methods."""

    cwd = None
    log_name = None
    timeout = 90

    def command(self, scenario, bootstrap):
        raise NotImplementedError

    def run_scenario(self, scenario, bootstrap, spec_dict):
        obs, err = run_program(self.command(scenario, bootstrap), spec_dict, self.timeout,
                               cwd=self.cwd)
        if "error" in obs:
            obs["stderr"] = "%s (last 60 lines):\n%s" % (
                self.log_name, "\n".join(err.splitlines()[-60:]))
        return obs

    def run_interleaved(self, bootstrap, spec_dict):
        return self.run_scenario("interleaved", bootstrap, spec_dict)

    def run_consume_transform_produce(self, bootstrap, spec_dict):
        return self.run_scenario("consume_transform_produce", bootstrap, spec_dict)

    def run_fencing(self, bootstrap, spec_dict):
        return self.run_scenario("fencing", bootstrap, spec_dict)

    def run_timeout(self, bootstrap, spec_dict):
        return self.run_scenario("timeout", bootstrap, spec_dict)

    def run_kill(self, broker, spec_dict, fraction):
        produced, err = kill_during_commit(broker, self.command("kill_produce", broker.bootstrap),
                                           spec_dict, fraction, self.timeout, cwd=self.cwd)
        if "error" in produced:
            print("%s of the produce phase:\n%s" % (self.log_name, err[-4000:]),
                  file=sys.stderr)
        return produced, self.run_scenario("kill_verify", broker.bootstrap, spec_dict)
