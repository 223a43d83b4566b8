#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Differential conformance (issue 10): the corpus of tests/conformance/scenarios.py runs
against Runnel and against Apache Kafka (kafka_oracle.py), and the decoded answers are compared
field by field after normalise.py has removed what legitimately differs. Every difference must
be declared, with its reason, in tests/conformance/differences.tsv; an undeclared one fails the
test with API, version, scenario, step, field path and both values. A declaration that covers
nothing any more fails too, so the file stays true.

The run writes docs/conformance.md: for every API and version either broker advertises, same /
differs (why) / Runnel only / Kafka only.

By hand, printing every difference (declared ones too) instead of failing:

    python3 tests/integration/test_conformance.py --report [--runnel build/runnel] [--json F]

Both brokers run side by side, one thread each; the corpus takes well under a minute."""

import argparse
import glob
import json
import os
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "conformance"))
sys.path.insert(0, HERE)

import harness  # noqa: E402
import kafka_oracle  # noqa: E402
import kafka_wire  # noqa: E402
from codec import Codec  # noqa: E402
import normalise as norm  # noqa: E402
import scenarios as sc  # noqa: E402

DOC = os.path.join(REPO, "docs", "conformance.md")

# The same settings on both brokers wherever they change an answer, each given explicitly:
# auto-creation on (both brokers' default), one partition for new topics, __consumer_offsets and
# __transaction_state (Kafka's 50 would only slow it down), no initial rebalance delay.
SHARED_SETTINGS = {"node.id": "1", "auto.create.topics.enable": "true", "num.partitions": "1",
                   "offsets.topic.num.partitions": "1", "transaction.state.log.num.partitions": "1",
                   "group.initial.rebalance.delay.ms": "0"}
RUNNEL_OVERRIDES = ["%s=%s" % kv for kv in SHARED_SETTINGS.items()]
KAFKA_OVERRIDES = {k: v for k, v in SHARED_SETTINGS.items() if k != "node.id"}  # the oracle's


def advertised(host, port):
    """{api key: (min, max)} from ApiVersions v0."""
    with harness.KafkaSocket(port) as s:
        s.send_request(harness.API_VERSIONS, 0, 1, client_id=sc.CLIENT_ID)
        _, r = s.recv_response()
        error, keys = harness.parse_api_versions_v0_body(r)
    if error:
        raise AssertionError("ApiVersions v0 answered error %d" % error)
    return keys


class Outcome:
    """Everything one comparison found."""

    def __init__(self, codec, plan, runs_r, runs_k, declarations, seconds, oracle):
        self.codec, self.plan = codec, plan
        self.runs_r, self.runs_k = runs_r, runs_k
        self.declarations = declarations
        self.seconds = seconds
        self.kafka_version = oracle.kafka_version()
        self.oracle_names = oracle.api_name
        self.diffs = []             # every Difference on shared versions
        self.one_sided = {}         # (api, version) -> (Runnel's outcome, Kafka's outcome)
        self.undecodable = []       # (broker, api, version, scenario, step, error)
        self.scenario_errors = []   # (broker, scenario, version, error)
        self.compare()
        self.undeclared = norm.classify(self.diffs, declarations, codec.name)
        self.stale = [d for d in declarations if not d.used]

    def api_name(self, key):
        """Kafka's name for an API key: our schema's, else the oracle's table."""
        return self.codec.name(key) if key in self.codec.apis else self.oracle_names(key)

    def requests(self):
        return sum(len(r.steps) for r in self.runs_r.values()), \
            sum(len(r.steps) for r in self.runs_k.values())

    def compare(self):
        for key, rr in self.runs_r.items():
            self.compare_run(rr, self.runs_k[key])

    def compare_run(self, rr, rk):
        scn, version = rr.sc, rr.version

        def differ(api, v, label, path, runnel, kafka):
            self.diffs.append(norm.Difference(api, v, scn.name, scn.api, version, label, path,
                                              runnel, kafka))

        for who, run in (("Runnel", rr), ("Kafka", rk)):
            if run.error:
                self.scenario_errors.append((who, scn, version, run.error))
        if (rr.error or "") != (rk.error or ""):
            differ(scn.api, version, "<setup>", "<setup>", rr.error or "ran",
                   rk.error or "ran")
        tag = "-%s-v%d" % (scn.name.replace("_", "-"), version)
        nr = norm.Normaliser(self.codec.name, scn.name, tag)
        nk = norm.Normaliser(self.codec.name, scn.name, tag)
        # A run at a version only one broker serves is a probe: only its steps at that version
        # count (the others depend on what the probe did, or failed to do).
        probe = version != sc.ONCE and self.plan.status.get((scn.api, version)) != "both"
        steps_r = {s.label: s for s in rr.steps}
        steps_k = {s.label: s for s in rk.steps}
        for label in list(steps_r) + [x for x in steps_k if x not in steps_r]:
            a, b = steps_r.get(label), steps_k.get(label)
            api, v = (a or b).api, (a or b).version
            if probe and (api, v) != (scn.api, version):
                continue
            for who, s in (("Runnel", a), ("Kafka", b)):
                if s is not None and s.outcome == "undecodable":
                    self.undecodable.append((who, api, v, scn.name, label, s.error))
                elif s is not None and s.outcome == "response":
                    tags = unknown_tags(s.body)
                    if tags:
                        self.undecodable.append((who, api, v, scn.name, label,
                                                 "tagged fields our schema does not know: " +
                                                 ", ".join(tags)))
            ra = a.summary() if a else ABSENT_STEP
            kb = b.summary() if b else ABSENT_STEP
            status = self.plan.status.get((api, v), "both")
            if status != "both" and v != sc.ONCE:
                # Only one broker advertises this version: the report records both outcomes.
                # Runnel must keep to its own ApiVersions (answer what it advertises, close
                # the connection on what it does not); Kafka's side is only recorded.
                # A version Runnel serves and Kafka does not is a deliberate choice, so it
                # must be declared like any other difference.
                self.one_sided[(api, v)] = (ra, kb)
                want = "response" if status.startswith("runnel") else "closed"
                if a is None or a.outcome != want:
                    differ(api, v, label, "<one-sided>", ra, kb)
                elif status.startswith("runnel"):
                    differ(api, v, label, "<runnel-only>", ra, kb)
            elif a is None or b is None:
                differ(api, v, label, "<step>", ra, kb)
            elif a.outcome != b.outcome or (a.outcome != "response" and a.error != b.error):
                differ(api, v, label, "<outcome>", ra, kb)
            elif a.outcome == "response":
                ba = nr.body(api, a.body, a.scope)
                bb = nk.body(api, b.body, b.scope)
                for path, x, y in norm.compare(ba, bb):
                    differ(api, v, label, path, x, y)


ABSENT_STEP = "not sent"


def unknown_tags(body, path=""):
    """Paths of the tagged fields codec.py kept as `_tagN` (none in our schema)."""
    out = []
    if isinstance(body, dict):
        for k, v in body.items():
            p = "%s.%s" % (path, k) if path else k
            out += [p] if k.startswith("_tag") else unknown_tags(v, p)
    elif isinstance(body, list):
        for item in body:
            out += unknown_tags(item, path + "[]")
    return out


# -- presenting -----------------------------------------------------------------------------------

def show(path, value, limit=300):
    if value is norm.ABSENT or value == norm.ABSENT:
        return "<absent>"
    if isinstance(value, int) and not isinstance(value, bool) and path.endswith("error_code"):
        return "%d %s" % (value, kafka_wire.error_name(value))
    if isinstance(value, bytes):
        return "bytes " + (value.hex() if len(value) <= 32 else value[:32].hex() + "...")
    text = json.dumps(value, default=lambda o: o.hex() if isinstance(o, bytes) else
                      sorted(o) if isinstance(o, frozenset) else str(o))
    return text if len(text) <= limit else text[:limit] + "... (%d chars)" % len(text)


def format_diff(codec, d):
    return ("%s v%s, scenario %s v%d, step %r, %s\n      Runnel: %s\n      Kafka:  %s"
            % (codec.name(d.api), d.version, d.scenario, d.run_version, d.step, d.path,
               show(d.path, d.runnel), show(d.path, d.kafka)))


def format_groups(outcome):
    """The undeclared differences, one block per group of group_undeclared(): API, versions,
    field, both values, and the scenario runs and steps that showed it."""
    out = []
    for api, gpath, rv, kv, vs, where in group_undeclared(outcome.diffs):
        shown = sorted(where)
        out.append("  %s v%s %s\n      Runnel: %s\n      Kafka:  %s\n      in %s%s"
                   % (outcome.api_name(api), ranges(vs), gpath, rv, kv, ", ".join(shown[:4]),
                      " and %d more" % (len(shown) - 4) if len(shown) > 4 else ""))
    return "\n".join(out)


def ranges(versions):
    out = []
    for v in sorted(versions):
        if out and out[-1][1] == v - 1:
            out[-1][1] = v
        else:
            out.append([v, v])
    return ", ".join(str(a) if a == b else "%d-%d" % (a, b) for a, b in out)


def decl_id(decl):
    return "D%d" % decl.lineno


def group_undeclared(diffs):
    """Undeclared differences grouped by API, field and both values: [(api, gpath, Runnel's,
    Kafka's, versions, {scenario/step})], largest groups first."""
    groups = {}
    for d in diffs:
        if d.declared is not None:
            continue
        key = (d.api, d.gpath, show(d.path, d.runnel, 160), show(d.path, d.kafka, 160))
        vs, where = groups.setdefault(key, (set(), set()))
        vs.add(d.version)
        where.add("%s/%s" % (d.scenario, d.step))
    return sorted(((k[0], k[1], k[2], k[3], vs, where) for k, (vs, where) in groups.items()),
                  key=lambda g: (g[0], g[1], -len(g[5])))


def cell(outcome, key, v):
    """The matrix entry for one API version: (status, why)."""
    st = outcome.plan.status[(key, v)]
    ds = [d for d in outcome.diffs if d.api == key and d.version == v]
    declared = sorted({d.declared for d in ds if d.declared is not None},
                      key=lambda decl: decl.lineno)
    paths = {}
    for d in ds:
        if d.declared is None:
            paths[d.gpath] = paths.get(d.gpath, 0) + 1
    why = []
    if declared:
        why.append("declared: " + ", ".join(decl_id(decl) for decl in declared))
    if paths:
        shown = sorted(paths.items(), key=lambda p: -p[1])
        why.append("undeclared: " + ", ".join("`%s` x%d" % p for p in shown[:4]) +
                   (" and %d more fields" % (len(shown) - 4) if len(shown) > 4 else ""))
    if st == "both":
        return ("differs" if ds else "same"), "; ".join(why)
    if st.endswith("(no schema)"):
        return st.replace("runnel", "Runnel").replace("kafka", "Kafka"), ""
    r, k = outcome.one_sided.get((key, v), ("-", "-"))
    why.append("probe: Runnel %s, Kafka %s" % (r, k))
    return ("Runnel only" if st.startswith("runnel") else "Kafka only"), "; ".join(why)


def write_doc(outcome, path=DOC):
    name = outcome.api_name
    nreq_r, nreq_k = outcome.requests()
    lines = [
        "# Conformance: Runnel against Apache Kafka %s" % outcome.kafka_version,
        "",
        "Generated by `tests/integration/test_conformance.py` (issue 10) from its last run; do "
        "not edit by hand. The corpus (`tests/conformance/scenarios.py`) made %d scenario runs "
        "(%d requests to Runnel, %d to Kafka); the answers were decoded with our schemas "
        "(`proto/*.schema`) and compared field by field after the normalisation below. A "
        "difference is either declared, with its reason, in `tests/conformance/differences.tsv`, "
        "or it fails the test." % (len(outcome.runs_r), nreq_r, nreq_k),
        "",
        "Use this page to settle questions of behaviour: where it says *same*, Runnel answers "
        "as Kafka does in every scenario listed at the end. *Runnel only* and *Kafka only* are "
        "versions one broker advertises; the other one is sent the API's first scenario as a "
        "probe. *no schema*: our `proto/*.schema` does not describe that version.",
        "",
        "## API x version",
        "",
        "| API | key | versions | status | why |",
        "|---|---|---|---|---|",
    ]
    keys = sorted({k for k, _ in outcome.plan.status})
    for key in keys:
        vs = sorted(v for k, v in outcome.plan.status if k == key)
        rows = []
        for v in vs:
            st, why = cell(outcome, key, v)
            if rows and rows[-1][1] == st and rows[-1][2] == why:
                rows[-1][0].append(v)
            else:
                rows.append([[v], st, why])
        for versions, st, why in rows:
            lines.append("| %s | %d | %s | %s | %s |" % (name(key), key, ranges(versions), st,
                                                         why.replace("|", "\\|")))
    lines += ["", "## Declared differences", "",
              "`tests/conformance/differences.tsv`, with how many compared values each line "
              "covered in this run.", "",
              "| id | API | versions | field | covers | reason |", "|---|---|---|---|---|---|"]
    for d in outcome.declarations:
        if d.versions is None:
            vers = "*"
        elif d.versions[1] == 0x7FFF:
            vers = "%d+" % d.versions[0]
        else:
            vers = ranges(range(d.versions[0], d.versions[1] + 1))
        field = ("%s:%s" % (d.scenario, d.path)) if d.scenario else d.path
        lines.append("| %s | %s | %s | `%s` | %d | %s |" % (
            decl_id(d), d.api, vers, field, d.used, d.reason.replace("|", "\\|")))
    groups = group_undeclared(outcome.diffs)
    if groups:
        lines += ["", "## Undeclared differences", "",
                  "Each is to be fixed or, if it is deliberate, declared. Grouped by API, field "
                  "and both values; the test's failure message lists every one.", "",
                  "| API | versions | field | Runnel | Kafka | where (scenario/step) |",
                  "|---|---|---|---|---|---|"]
        for api, gpath, rv, kv, vs, where in groups:
            shown = sorted(where)
            lines.append("| %s | %s | `%s` | %s | %s | %s |" % (
                name(api), ranges(vs), gpath, md_value(rv), md_value(kv),
                ", ".join(shown[:3]) + (" (+%d)" % (len(shown) - 3) if len(shown) > 3 else "")))
    if outcome.undecodable:
        lines += ["", "## Answers our schemas could not decode fully", ""]
        for who, api, v, scn, label, err in outcome.undecodable:
            lines.append("- %s, %s v%d, %s / %s: %s" % (who, name(api), v, scn, label, err))
    lines += ["", "## Normalisation", "",
              "What is removed before comparing (`tests/conformance/normalise.py`).", "",
              "| API | field | becomes | why |", "|---|---|---|---|"]
    becomes = {"zero": "0", "token": "`<field>` when set", "id": "`<id#N>` by first appearance",
               "clock": "`<clock>` when within 30 minutes of the comparison",
               "sorted": "the array in ascending order",
               "text": "`<text>` when not empty", "records": "batches with header fields",
               "names": "the set of names"}
    for api, pattern, action, why in norm.RULES:
        lines.append("| %s | `%s` | %s | %s |" % (api, pattern, becomes[action], why))
    lines += ["", "Answers that list every topic, group or transaction are compared for the "
              "fixture's (`cf-fix-*`), the internal (`__*`) and the scenario's own names only.",
              "", "## Scenarios", "", "| API | scenario | versions | what |", "|---|---|---|---|"]
    runs = {}
    for run in outcome.runs_r.values():
        runs.setdefault((run.sc.api, run.sc.name, run.sc.doc), []).append(run.version)
    for (api, sname, doc), vs in sorted(runs.items(), key=lambda x: (x[0][0], x[0][1])):
        shown = "once" if vs == [sc.ONCE] else ranges(v for v in vs if v != sc.ONCE)
        lines.append("| %s | %s | %s | %s |" % (name(api), sname, shown,
                                                " ".join(doc.split()).replace("|", "\\|")))
    if outcome.plan.skipped:
        lines += ["", "Not run, because one broker does not advertise an API they need:", ""]
        for scn in outcome.plan.skipped:
            missing = [k for k in scn.needs if k not in outcome.plan.runnel]
            missing += [k for k in scn.needs if k not in outcome.plan.kafka]
            lines.append("- %s %s (not advertised: %s)" % (name(scn.api), scn.name, ", ".join(
                sorted({name(k) for k in missing}))))
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def md_value(text):
    return "`%s`" % text.replace("`", "'").replace("|", "\\|") if text else ""


# -- running --------------------------------------------------------------------------------------

def run_both(runnel, kafka, oracle):
    """Runs the corpus against both brokers (harness.Broker, kafka_oracle.KafkaBroker), one
    thread each, and compares. `oracle` is the kafka_oracle module."""
    codec = Codec.load()
    declarations = norm.load_declarations(api_names={m.name for m in codec.apis.values()})
    br = sc.Broker("Runnel", runnel.host, runnel.port, codec)
    bk = sc.Broker("Kafka", kafka.host, kafka.port, codec)
    br.advertised = advertised(runnel.host, runnel.port)
    bk.advertised = advertised(kafka.host, kafka.port)
    plan = sc.Plan(codec, br.advertised, bk.advertised)
    t0 = (int(time.time()) - 3600) * 1000
    results, errors = {}, {}

    def work(b):
        try:
            results[b.name] = sc.run_plan(b, plan, t0)
        except BaseException as e:          # reported by the main thread
            errors[b.name] = e

    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(b,), name="corpus-" + b.name)
               for b in (br, bk)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name, e in errors.items():
        raise AssertionError("the corpus could not run against %s: %r" % (name, e)) from e
    return Outcome(codec, plan, results["Runnel"], results["Kafka"], declarations,
                   time.monotonic() - started, oracle)


def summary(outcome):
    nr, nk = outcome.requests()
    return ("%d scenario runs, %d requests to Runnel and %d to Kafka in %.1f s; %d differences "
            "(%d declared, %d undeclared); %d stale declarations"
            % (len(outcome.runs_r), nr, nk, outcome.seconds, len(outcome.diffs),
               len(outcome.diffs) - len(outcome.undeclared), len(outcome.undeclared),
               len(outcome.stale)))


class Conformance(unittest.TestCase):
    """Runnel and Kafka answer the corpus alike, up to the declared differences."""

    def test_no_undeclared_differences(self):
        runnel = harness.Broker(overrides=RUNNEL_OVERRIDES).start()
        self.addCleanup(runnel.stop)
        kafka = kafka_oracle.KafkaBroker(overrides=KAFKA_OVERRIDES).start()
        self.addCleanup(kafka.stop)
        outcome = run_both(runnel, kafka, kafka_oracle)
        write_doc(outcome)
        print("conformance: " + summary(outcome), file=sys.stderr)
        problems = []
        for who, scn, v, err in outcome.scenario_errors:
            print("conformance: %s: scenario %s v%d stopped: %s" % (who, scn.name, v, err),
                  file=sys.stderr)
        if outcome.undeclared:
            problems.append("%d undeclared differences: fix them, or declare the deliberate "
                            "ones in tests/conformance/differences.tsv with the reason. Grouped "
                            "by API, field and both values (every one: --report):\n%s"
                            % (len(outcome.undeclared), format_groups(outcome)))
        if outcome.stale:
            problems.append("declarations that covered no difference (remove them):\n  %s"
                            % "\n  ".join("%s: %s %s %s" % (d.where(), d.api, d.path, d.reason)
                                          for d in outcome.stale))
        if outcome.undecodable:
            problems.append("answers our schemas cannot decode fully (a schema error?):\n  %s"
                            % "\n  ".join("%s: %s v%d %s/%s: %s"
                                          % (who, outcome.codec.name(a), v, scn, label, err)
                                          for who, a, v, scn, label, err
                                          in outcome.undecodable))
        if problems:
            self.fail("\n\n".join(problems))


def find_runnel():
    cands = [p for p in glob.glob(os.path.join(REPO, "build*", "runnel")) if os.access(p, os.X_OK)]
    if not cands:
        raise SystemExit("no build*/runnel: build first, or give --runnel PATH")
    return max(cands, key=os.path.getmtime)


def print_run(codec, rr, rk):
    tag = "-%s-v%d" % (rr.sc.name.replace("_", "-"), rr.version)
    print("==== %s v%d" % (rr.sc.name, rr.version))
    for who, run in (("Runnel", rr), ("Kafka", rk)):
        n = norm.Normaliser(codec.name, rr.sc.name, tag)
        if run.error:
            print("  %s: stopped: %s" % (who, run.error))
        for step in run.steps:
            body = n.body(step.api, step.body, step.scope) if step.body is not None else None
            print("  %s %r (%s v%d): %s %s" % (who, step.label, codec.name(step.api),
                                             step.version, step.summary(),
                                             show("", body, 1 << 30) if body is not None else ""))


def main_report(argv):
    ap = argparse.ArgumentParser(description="Print every difference between Runnel and Kafka.")
    ap.add_argument("--report", action="store_true", required=True)
    ap.add_argument("--runnel", help="the runnel binary (default: $RUNNEL_BIN or the newest "
                    "build*/runnel)")
    ap.add_argument("--json", help="also write every difference to this JSON file")
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite docs/conformance.md")
    ap.add_argument("--slowest", type=int, default=10, help="list the N slowest runs")
    ap.add_argument("--show", metavar="SCENARIO[@VERSION]",
                    help="print both brokers' answers (normalised) in the runs of a scenario")
    args = ap.parse_args(argv)
    os.environ["RUNNEL_BIN"] = args.runnel or os.environ.get("RUNNEL_BIN") or find_runnel()
    runnel = harness.Broker(overrides=RUNNEL_OVERRIDES).start()
    try:
        kafka = kafka_oracle.KafkaBroker(overrides=KAFKA_OVERRIDES).start()
        try:
            outcome = run_both(runnel, kafka, kafka_oracle)
        finally:
            kafka.stop()
    finally:
        runnel.stop()
    codec = outcome.codec
    by_api = {}
    for d in outcome.diffs:
        by_api.setdefault(codec.name(d.api), []).append(d)
    for api in sorted(by_api):
        print("== %s" % api)
        for d in by_api[api]:
            tag = "declared (%s)" % d.declared.where() if d.declared else "UNDECLARED"
            print("  [%s] %s" % (tag, format_diff(codec, d)))
    for who, scn, v, err in outcome.scenario_errors:
        print("scenario %s v%d stopped on %s: %s" % (scn.name, v, who, err))
    for who, api, v, scn, label, err in outcome.undecodable:
        print("undecodable from %s: %s v%d %s/%s: %s" % (who, codec.name(api), v, scn, label, err))
    for d in outcome.stale:
        print("stale declaration %s: %s %s" % (d.where(), d.api, d.path))
    for key, rr in outcome.runs_r.items():
        if args.show and (rr.sc.name == args.show or
                          "%s@%d" % (rr.sc.name, rr.version) == args.show):
            print_run(codec, rr, outcome.runs_k[key])
    for who, runs in (("Runnel", outcome.runs_r), ("Kafka", outcome.runs_k)):
        slow = sorted(runs.values(), key=lambda r: -r.seconds)[:args.slowest]
        print("slowest runs on %s: %s" % (who, ", ".join(
            "%s v%d %.2f s" % (r.sc.name, r.version, r.seconds) for r in slow)))
    print(summary(outcome))
    if not args.no_doc:
        write_doc(outcome)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump([{"api": codec.name(d.api), "version": d.version, "scenario": d.scenario,
                        "run_version": d.run_version,
                        "step": d.step, "path": d.path, "runnel": show(d.path, d.runnel),
                        "kafka": show(d.path, d.kafka),
                        "declared": d.declared.where() if d.declared else None}
                       for d in outcome.diffs], f, indent=1)
    return 0


if __name__ == "__main__":
    if "--report" in sys.argv[1:]:
        sys.exit(main_report(sys.argv[1:]))
    unittest.main()
