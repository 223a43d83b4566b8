# SPDX-License-Identifier: Apache-2.0
"""Turning two brokers' answers into comparable values, comparing them field by field, and the
file of deliberate differences (differences.tsv).

Normalisation removes only what legitimately differs between two correct brokers: values each
broker chooses for itself (ids, ports, paths, clocks) and free text meant for people. RULES is
the whole list, each with its reason; docs/conformance.md prints it. Everything else is
compared as decoded.

A difference is (API, version, scenario, step, field path, Runnel's value, Kafka's value). Its
generic path drops the keys of array entries (`topics[name=t].error_code` becomes
`topics[].error_code`); differences.tsv matches on that."""

import os
import re
import struct
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DIFFERENCES_TSV = os.path.join(HERE, "differences.tsv")

ABSENT = "<absent>"

# (API name or '*', glob over the generic field path, action, why). Actions:
#   zero     the value becomes 0
#   token    a value that is set becomes <field name> (null and -1 stay as they are)
#   id       each distinct value becomes <id#N>, N counting first appearances within one run
#            of a scenario, so that "the same id again" still compares; the zero uuid and -1
#            stay
#   clock    a time within CLOCK_WINDOW_MS of the comparison's own clock becomes <clock>: the
#            broker's clock; the corpus's record timestamps are an hour old and stay
#   text     a non-empty text becomes <text>; null and "" stay
#   records  record bytes are split into batches with their header fields
#   names    an array of config entries is compared by the set of names only
#   sorted   an array of numbers is compared in ascending order (its order means nothing)
RULES = [
    ("*", "throttle_time_ms", "zero",
     "Quotas: a broker may ask a client to wait; neither broker has quotas set, and the "
     "value says nothing about the protocol."),
    ("*", "cluster_id", "token", "Each cluster makes its own id when it is formatted."),
    ("*", "*topic_id", "id", "Each broker makes its own topic ids (random uuids)."),
    ("*", "host", "token", "The broker's listener: both use 127.0.0.1, but each its own port."),
    ("*", "port", "token", "Each broker listens on its own ephemeral port."),
    ("*", "*brokers[].host", "token", "As host."),
    ("*", "*brokers[].port", "token", "As port."),
    ("*", "*coordinators[].host", "token", "As host."),
    ("*", "*coordinators[].port", "token", "As port."),
    ("*", "*node_endpoints[].host", "token", "As host."),
    ("*", "*node_endpoints[].port", "token", "As port."),
    ("*", "*member_id", "id",
     "Member ids are made by the coordinator (Kafka: client id + '-' + a random uuid)."),
    ("JoinGroup", "leader", "id", "The leader's member id, as member_id."),
    ("*", "*error_message", "text",
     "Free text for people; the error code carries the meaning. Only null versus a message "
     "is compared."),
    ("DescribeLogDirs", "results[].log_dir", "token", "Each broker has its own data directory."),
    ("DescribeLogDirs", "results[].total_bytes", "token",
     "The size of the file system holding the data directory."),
    ("DescribeLogDirs", "results[].usable_bytes", "token",
     "The free space of that file system."),
    ("Produce", "responses[].partition_responses[].log_append_time_ms", "clock",
     "The broker's clock when it appended (LogAppendTime topics; -1 otherwise). The answer to "
     "a duplicate batch carries the original batch's timestamp, compared as it is."),
    ("Fetch", "responses[].partitions[].records", "records",
     "Compared batch by batch, header field by header field; LogAppendTime batches and "
     "transaction markers carry the broker's clock in their timestamps and CRC, and a "
     "producer's batches its producer id (as producer_id below) in their CRC."),
    ("*", "*producer_id", "id",
     "Each broker hands out its own producer ids (Kafka: from blocks its controller "
     "allocates); -1 (none) stays."),
    ("DescribeProducers", "topics[].partitions[].active_producers[].last_timestamp", "clock",
     "A producer's last batch's timestamp (the corpus's, compared), or the broker's clock when "
     "its last write was a transaction marker."),
    ("DescribeTransactions", "transaction_states[].transaction_start_time_ms", "clock",
     "The coordinator's clock when the transaction began."),
    ("DescribeTransactions", "transaction_states[].topics[].partitions", "sorted",
     "A transaction's partitions are a set: Kafka lists them in its hash set's order."),
    ("DescribeConfigs", "results[].configs", "names",
     "Only in the answer for every config of a broker (scenario broker_all): a broker has "
     "hundreds of settings, compared there by name; values are compared where keys are "
     "asked for."),
]

# Names an all-topics or all-groups answer is compared on: the fixture's, the internal topics,
# and the scenario's own (which contain its tag).
FIXTURE_PREFIX = "cf-fix-"
ARRAY_KEYS = ("name", "topic", "topic_id", "topic_name", "group_id", "resource_name", "api_key",
              "partition_index", "partition", "index", "node_id", "broker_id", "member_id",
              "key", "log_dir", "base_offset", "batch", "transactional_id", "first_offset",
              "producer_id")
CLOCK_WINDOW_MS = 30 * 60 * 1000


class DeclarationError(Exception):
    pass


# -- normalising ----------------------------------------------------------------------------------

def generic(path):
    return re.sub(r"\[[^\]]*\]", "[]", path)


def glob_match(pattern, text):
    """`*` matches any run of characters; everything else, brackets included, is literal."""
    rx = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(rx, text) is not None


def rule_for(api_name, gpath):
    for api, pattern, action, _ in RULES:
        if api not in ("*", api_name):
            continue
        if glob_match(pattern, gpath):
            return action
    return None


class Normaliser:
    """Normalises the steps of one run of one scenario on one broker (ids are numbered per
    run, so both brokers' runs number them the same way when they agree)."""

    def __init__(self, api_names, scenario_name, own_tag):
        self.api_names = api_names
        self.scenario_name = scenario_name
        self.own_tag = own_tag
        self.ids = {}
        self.now_ms = int(time.time() * 1000)

    def body(self, api, body, scope=False):
        """The normalised copy of a decoded body. `scope`: True keeps the fixture's, the
        internal and the run's own entries of a listing; "no-internal" drops internal ones too
        (their contents are each coordinator's own bookkeeping)."""
        name = self.api_names(api)
        if scope:
            body = self.scoped(body, internal=scope != "no-internal")
        return self._walk(name, body, "")

    def _walk(self, api_name, x, path):
        if isinstance(x, dict):
            out = {}
            for k, val in x.items():
                p = "%s.%s" % (path, k) if path else k
                action = rule_for(api_name, generic(p))
                if action == "names" and not (self.scenario_name == "broker_all"):
                    action = None
                out[k] = self._apply(action, api_name, val, p) if action else \
                    self._walk(api_name, val, p)
            return out
        if isinstance(x, list):
            return [self._walk(api_name, item, "%s[]" % path) for item in x]
        return x

    def _apply(self, action, api_name, val, path):
        if action == "zero":
            return 0 if isinstance(val, int) else val
        if action == "token":
            if val is None or val == -1:
                return val
            return "<%s>" % path.rsplit(".", 1)[-1]
        if action == "id":
            if isinstance(val, list):
                return [self._apply("id", api_name, v, path) for v in val]
            if val in (None, "", -1, "00000000-0000-0000-0000-000000000000"):
                return val
            if val not in self.ids:
                self.ids[val] = "<id#%d>" % (len(self.ids) + 1)
            return self.ids[val]
        if action == "text":
            return "<text>" if val else val
        if action == "clock":
            if isinstance(val, int) and abs(val - self.now_ms) < CLOCK_WINDOW_MS:
                return "<clock>"
            return val
        if action == "sorted":
            return sorted(val) if isinstance(val, list) else val
        if action == "records":
            batches = split_records(val)
            for b in batches or ():
                if b.get("producer_id", -1) != -1:
                    b["producer_id"] = self._apply("id", api_name, b["producer_id"], path)
                    b["crc"] = "<crc>"
            return batches
        if action == "names":
            return NameSet(c.get("name") for c in val) if isinstance(val, list) else val
        raise AssertionError(action)

    def own(self, name, internal):
        return isinstance(name, str) and (name.startswith(FIXTURE_PREFIX)
                                          or (internal and name.startswith("__"))
                                          or self.own_tag in name)

    def scoped(self, x, internal=True):
        """Drops entries of listing answers that belong to other scenarios (and, unless
        `internal`, the internal topics), and puts the named entries kept in name order: a
        listing's order means nothing (Kafka's follows its hash maps), but ids are numbered by
        first appearance, so both brokers' listings must come in the same order."""
        if isinstance(x, dict):
            return {k: self.scoped(v, internal) for k, v in x.items()}
        if isinstance(x, list):
            out, keys = [], []
            for item in x:
                key = None
                if isinstance(item, dict):
                    for k in ("name", "topic", "group_id", "transactional_id"):
                        if k in item and isinstance(item[k], str):
                            if not self.own(item[k], internal):
                                item = None
                            key = item and item[k]
                            break
                if item is not None:
                    out.append(self.scoped(item, internal))
                    keys.append(key)
            if out and all(k is not None for k in keys):
                out = [item for _, item in sorted(zip(keys, out), key=lambda p: p[0])]
            return out
        return x


class NameSet(frozenset):
    """The names of a long listing; compare() reports the names only one side has, as two
    differences (`path{only Runnel}`, `path{only Kafka}`), so that a declaration can cover one
    direction and not the other."""


def split_records(data):
    """Record bytes as a list of batches (dicts of their header fields), for readable diffs."""
    if data is None:
        return None
    out = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 17:
            out.append({"batch": len(out), "partial": data[pos:].hex()})
            break
        base_offset, length, epoch, magic = struct.unpack_from(">qiib", data, pos)
        end = pos + 12 + length
        if end > len(data):
            out.append({"batch": len(out), "base_offset": base_offset,
                        "partial": "%d of %d bytes" % (len(data) - pos, length + 12)})
            break
        b = {"batch": len(out), "base_offset": base_offset, "length": length, "magic": magic,
             "partition_leader_epoch": epoch}
        if magic == 2 and length >= 49:
            (crc, attrs, lod, base_ts, max_ts, pid, pep, bseq,
             count) = struct.unpack_from(">IhiqqqhiI", data, pos + 17)
            b.update(crc="%08x" % crc, attributes=attrs, last_offset_delta=lod,
                     base_timestamp=base_ts, max_timestamp=max_ts, producer_id=pid,
                     producer_epoch=pep, base_sequence=bseq, records_count=count,
                     records=data[pos + 61:end].hex())
            if attrs & 0x28:          # LogAppendTime or a control batch: the broker's clock
                b.update(crc="<crc>", base_timestamp="<time>", max_timestamp="<time>")
        else:
            b["bytes"] = data[pos + 12:end].hex()
        out.append(b)
        pos = end
    return out


# -- comparing ------------------------------------------------------------------------------------

class Difference:
    """One differing value. api and version are those of the request that was answered;
    scenario and run_version those of the scenario run that sent it."""

    def __init__(self, api, version, scenario, run_api, run_version, step, path, runnel, kafka):
        self.api, self.version, self.scenario, self.step = api, version, scenario, step
        self.run_api, self.run_version = run_api, run_version
        self.path, self.runnel, self.kafka = path, runnel, kafka
        self.gpath = generic(path)
        self.declared = None           # the Declaration that covers it

    def key(self):
        return (self.api, self.version, self.scenario, self.step, self.path)


def _key_field(a, b):
    """The field that names the entries of two arrays of structs (the first of ARRAY_KEYS
    that every entry has), or None."""
    items = a + b
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for k in ARRAY_KEYS:
        if all(k in i for i in items):
            return k
    return None


def compare(a, b, path=""):
    """[(path, Runnel's value, Kafka's value)] where the two normalised values differ."""
    if isinstance(a, NameSet) and isinstance(b, NameSet):
        out = []
        if a - b:
            out.append((path + "{only Runnel}", sorted(a - b), ABSENT))
        if b - a:
            out.append((path + "{only Kafka}", ABSENT, sorted(b - a)))
        return out
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            p = "%s.%s" % (path, k) if path else k
            out += compare(a.get(k, ABSENT), b.get(k, ABSENT), p)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if a == b:
            return []
        k = _key_field(a, b)
        if k is not None:
            out = []
            ka = [i[k] for i in a]
            kb = [i[k] for i in b]
            if len(set(map(repr, ka))) != len(ka) or len(set(map(repr, kb))) != len(kb):
                # The same entry more than once on one side: say so, then compare the first
                # of each.
                if sorted(map(repr, ka)) != sorted(map(repr, kb)):
                    out.append(("%s{%s of each entry}" % (path, k), ka, kb))
            ma, mb = {}, {}
            for i in a:
                ma.setdefault(repr(i[k]), i)
            for i in b:
                mb.setdefault(repr(i[k]), i)
            for key in list(ma) + [x for x in mb if x not in ma]:
                shown = key.strip("'")
                out += compare(ma.get(key, ABSENT), mb.get(key, ABSENT),
                               "%s[%s=%s]" % (path, k, shown))
            return out
        if len(a) == len(b) and any(isinstance(i, (dict, list)) for i in a + b):
            out = []
            for i, (x, y) in enumerate(zip(a, b)):
                out += compare(x, y, "%s[%d]" % (path, i))
            return out
        return [(path, a, b)]
    if a != b or type(a) is not type(b):
        return [(path, a, b)]
    return []


# -- the file of deliberate differences -----------------------------------------------------------

class Declaration:
    def __init__(self, lineno, api, versions, path, reason):
        self.lineno, self.api, self.versions, self.path, self.reason = (
            lineno, api, versions, path, reason)
        self.scenario = None
        if ":" in path and not path.startswith("<"):
            self.scenario, self.path = path.split(":", 1)
        self.used = 0

    def covers(self, api_names, d):
        """True when this line covers difference `d`: its API and versions name either the
        request that was answered or the scenario run that sent it (so that `Produce 0-2 *`
        also covers the ListOffsets a Produce v0 scenario sends after its Produce)."""
        if self.scenario is not None and not glob_match(self.scenario, d.scenario):
            return False
        if self.path != "*" and not (glob_match(self.path, d.gpath) or
                                     glob_match(self.path, d.path)):
            return False
        for api, version in ((d.api, d.version), (d.run_api, d.run_version)):
            if self.api not in ("*", api_names(api)):
                continue
            if self.versions is None or self.versions[0] <= version <= self.versions[1]:
                return True
        return False

    def where(self):
        return "differences.tsv:%d" % self.lineno


def parse_versions(text, where):
    if text == "*":
        return None
    m = re.fullmatch(r"(\d+)(\+|-(\d+))?", text)
    if not m:
        raise DeclarationError("%s: versions %r: expected N, N-M, N+ or *" % (where, text))
    lo = int(m.group(1))
    hi = 0x7FFF if m.group(2) == "+" else int(m.group(3)) if m.group(3) else lo
    if hi < lo:
        raise DeclarationError("%s: empty version range %r" % (where, text))
    return lo, hi


def load_declarations(path=DIFFERENCES_TSV, api_names=()):
    """Reads differences.tsv: API, versions, field path, reason; tab-separated, '#' comments.
    Every line needs all four, a known API name (or '*') and a reason."""
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            where = "differences.tsv:%d" % lineno
            cols = line.split("\t")
            if len(cols) != 4:
                raise DeclarationError("%s: %d tab-separated columns, want 4 (API, versions, "
                                       "field path, reason)" % (where, len(cols)))
            api, versions, fpath, reason = (c.strip() for c in cols)
            if api != "*" and api_names and api not in api_names:
                raise DeclarationError("%s: unknown API %r" % (where, api))
            if not fpath:
                raise DeclarationError("%s: empty field path (use '*')" % where)
            if len(reason) < 10:
                raise DeclarationError("%s: every declared difference needs its reason" % where)
            out.append(Declaration(lineno, api, parse_versions(versions, where), fpath, reason))
    return out


def classify(diffs, declarations, api_names):
    """Marks each difference with the first declaration covering it; returns the undeclared."""
    undeclared = []
    for d in diffs:
        for decl in declarations:
            if decl.covers(api_names, d):
                d.declared = decl
                decl.used += 1
                break
        else:
            undeclared.append(d)
    return undeclared
