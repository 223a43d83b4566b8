#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""An on-disk check of one partition directory (issue 12): do the segments, their indexes and
the files a log cleaner leaves behind agree with each other? Run it on a stopped broker's
directory (kill -9 or a clean stop): the files must not change under it.

The layout is Kafka's (../../shared/CLIENTS.md, "Kafka's on-disk layout"): segments named by
their base offset, 20 digits, `.log` holding v2 record batches, `.index` entries of 8 bytes
(int32 offset relative to the segment base, int32 file position), `.timeindex` entries of 12
bytes (int64 timestamp, int32 relative offset), both big-endian, both possibly preallocated with
a zero tail: the entries in use end at the first all-zero one, and only zeros may follow. A v2 batch header: base offset int64 at 0, length int32 at 8 (of what follows),
partition leader epoch int32 at 12, magic int8 at 16, CRC at 17, attributes int16 at 21,
last offset delta int32 at 23, base timestamp int64 at 27, max timestamp int64 at 35, producer
id at 43, epoch at 51, base sequence at 53, record count int32 at 57; 61 bytes in all.

What an offset index entry's offset means differs: Runnel's rn_segment_index_batch
(src/log/segment.c) writes the base offset of the batch at that position ("base"); Kafka 4.4's
LogSegment.append writes the batch's last offset ("last"). `index_rule` says which to expect.

A cleaner writes `<base>.log.cleaned` (and `.index.cleaned`, `.timeindex.cleaned`,
`.txnindex.cleaned`), renames them to `.swap`, deletes the segments they replace (Kafka renames
those to `.deleted` first) and renames the `.swap` files to their real names. A crash can stop
it anywhere, and start-up then finishes the job the way Kafka's LogLoader does: `.cleaned` files
are deleted, a `.swap` segment replaces every `.log` segment whose base offset lies within the
swap's offsets and becomes a real segment, `.deleted` files are deleted. check() applies those
rules to the listing first and checks the log that recovery would see, so a crash at any step
must leave a directory from which recovery builds a correct log. A swap segment's indexes are
not checked: recovery rebuilds them (and the final renames may have moved some of them already).

Modes:
    "crashed"   after kill -9: the newest segment may end in a torn batch and its offset index
                may point past the last whole batch (recovery truncates and rebuilds it)
    "stopped"   after a clean stop: nothing torn anywhere
Leftovers (`.cleaned`, `.swap`, `.deleted`) are allowed in both and reported; whether start-up
removed them is what leftovers_older_than() answers for a running broker's directory.

From the command line: segment_check.py DIR [crashed|stopped] [base|last]
"""

import os
import re
import struct
import sys

BATCH_HEADER_LEN = 61
OFFSET_ENTRY_LEN = 8
TIME_ENTRY_LEN = 12
LEFTOVER_SUFFIXES = (".cleaned", ".swap", ".deleted")
SEGMENT_RE = re.compile(r"^(\d{20})\.(log|index|timeindex|txnindex)((?:\.cleaned|\.swap|\.deleted)?)$")


class Batch:
    __slots__ = ("pos", "size", "base_offset", "last_offset", "magic", "max_timestamp",
                 "count", "attributes")

    def __init__(self, pos, size, base_offset, last_offset, magic, max_timestamp, count,
                 attributes):
        self.pos = pos
        self.size = size
        self.base_offset = base_offset
        self.last_offset = last_offset
        self.magic = magic
        self.max_timestamp = max_timestamp
        self.count = count
        self.attributes = attributes


def read_batches(data):
    """([Batch], valid_end, why_stopped): whole v2 batch headers walked from position 0; stops at
    the first that is cut short or does not look like a batch (why_stopped says which, None when
    the data ends exactly after a batch)."""
    batches = []
    pos = 0
    n = len(data)
    while pos < n:
        if n - pos < 12:
            return batches, pos, "%d bytes at position %d: too few for a batch's offset and length" % (n - pos, pos)
        base_offset, length = struct.unpack_from(">qi", data, pos)
        if length < BATCH_HEADER_LEN - 12:
            return batches, pos, "batch at position %d declares length %d" % (pos, length)
        if n - pos - 12 < length:
            return batches, pos, ("batch at position %d (base offset %d) needs %d bytes, the file "
                                  "has %d" % (pos, base_offset, 12 + length, n - pos))
        magic = data[pos + 16]
        attributes, last_delta = struct.unpack_from(">hi", data, pos + 21)
        (max_ts,) = struct.unpack_from(">q", data, pos + 35)
        (count,) = struct.unpack_from(">i", data, pos + 57)
        batches.append(Batch(pos, 12 + length, base_offset, base_offset + last_delta, magic,
                             max_ts, count, attributes))
        pos += 12 + length
    return batches, pos, None


def _split_entries(data, fmt, size):
    """(entries in use, unused count, entries after the zero tail that are not zero): the
    entries up to the first all-zero one (a preallocated tail; an all-zero first entry means an
    empty index), which must be followed by zeros only."""
    entries = [struct.unpack_from(fmt, data, i) for i in range(0, len(data) - len(data) % size, size)]
    zero = (0, 0)
    n = next((i for i, e in enumerate(entries) if e == zero), len(entries))
    stray = sum(1 for e in entries[n:] if e != zero)
    return entries[:n], len(entries) - n, stray


def _used_offset_entries(data):
    return _split_entries(data, ">ii", OFFSET_ENTRY_LEN)


def _used_time_entries(data):
    return _split_entries(data, ">qi", TIME_ENTRY_LEN)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


class Result:
    """What check() found: `problems` (each one a sentence; empty when all agree), `notes`
    (what is allowed but worth saying: leftovers, torn tails, zero tails), and figures."""

    def __init__(self, path):
        self.path = path
        self.problems = []
        self.notes = []
        self.segments = 0
        self.batches = 0
        self.records = 0
        self.bytes = 0
        self.leftovers = []
        self.index_entries = 0
        self.time_entries = 0

    def __bool__(self):
        return not self.problems

    def summary(self):
        return ("%s: %d segments, %d batches, %d records, %d bytes, %d index and %d time index "
                "entries; leftovers %s; %d problems"
                % (os.path.basename(self.path), self.segments, self.batches, self.records,
                   self.bytes, self.index_entries, self.time_entries, self.leftovers or "none",
                   len(self.problems)))

    def report(self, limit=20):
        lines = [self.summary()]
        lines += ["  problem: " + p for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append("  ... %d more problems" % (len(self.problems) - limit))
        lines += ["  note: " + n for n in self.notes[:limit]]
        return "\n".join(lines)


def listing(path):
    """{(base offset, kind, suffix): file name} of a partition directory's segment files."""
    out = {}
    for name in os.listdir(path):
        m = SEGMENT_RE.match(name)
        if m:
            out[(int(m.group(1)), m.group(2), m.group(3))] = name
    return out


def check(path, mode="stopped", index_rule="base"):
    """Checks partition directory `path`; returns a Result."""
    if mode not in ("crashed", "stopped"):
        raise ValueError("mode %r" % mode)
    if index_rule not in ("base", "last"):
        raise ValueError("index_rule %r" % index_rule)
    res = Result(path)
    files = listing(path)
    res.leftovers = sorted(name for (_, _, suffix), name in files.items() if suffix)

    # The segments recovery would keep: every .log, then each .swap replacing the .log segments
    # whose base offsets lie within its offsets (Kafka's LogLoader), .cleaned and .deleted gone.
    segs = {}   # base -> suffix of the files that make the segment ("" or ".swap")
    for (base, kind, suffix) in files:
        if kind == "log" and suffix == "":
            segs[base] = ""
    for (base, kind, suffix) in sorted(files):
        if kind != "log" or suffix != ".swap":
            continue
        data = _read(os.path.join(path, files[(base, kind, suffix)]))
        batches, end, why = read_batches(data)
        if why is not None:
            res.problems.append("%s: a swap segment (complete by definition) is cut short: %s"
                                % (files[(base, kind, suffix)], why))
        last = batches[-1].last_offset if batches else base
        replaced = [b for b in segs if base <= b <= last]
        for b in replaced:
            del segs[b]
        segs[base] = ".swap"
        res.notes.append("%s replaces %d segment(s) %s on recovery"
                         % (files[(base, kind, suffix)], len(replaced), sorted(replaced)))
    for name in res.leftovers:
        res.notes.append("leftover " + name)

    bases = sorted(segs)
    res.segments = len(bases)
    prev_last = None      # last offset of the previous batch, across segments
    for i, base in enumerate(bases):
        suffix = segs[base]
        newest = i == len(bases) - 1
        log_name = files[(base, "log", suffix)]
        data = _read(os.path.join(path, log_name))
        res.bytes += len(data)
        batches, end, why = read_batches(data)
        if why is not None:
            if mode == "crashed" and newest and suffix == "":
                res.notes.append("%s: torn tail, allowed after kill -9 in the newest segment: %s"
                                 % (log_name, why))
            else:
                res.problems.append("%s: %s" % (log_name, why))
        next_base = bases[i + 1] if not newest else None
        for b in batches:
            res.batches += 1
            res.records += max(b.count, 0)
            if b.magic != 2:
                res.problems.append("%s: batch at position %d has magic %d" % (log_name, b.pos, b.magic))
            if b.last_offset < b.base_offset:
                res.problems.append("%s: batch at position %d: last offset %d below base %d"
                                    % (log_name, b.pos, b.last_offset, b.base_offset))
            if b.base_offset < base:
                res.problems.append("%s: batch at position %d has base offset %d, below the "
                                    "segment's base %d" % (log_name, b.pos, b.base_offset, base))
            if prev_last is not None and b.base_offset <= prev_last:
                res.problems.append("%s: batch at position %d has base offset %d, not above the "
                                    "previous batch's last offset %d (an offset twice, or going "
                                    "back)" % (log_name, b.pos, b.base_offset, prev_last))
            if next_base is not None and b.last_offset >= next_base:
                res.problems.append("%s: batch at position %d ends at offset %d, at or past the "
                                    "next segment's base %d" % (log_name, b.pos, b.last_offset,
                                                                next_base))
            prev_last = b.last_offset
        seg_last = batches[-1].last_offset if batches else None
        if suffix == ".swap":
            # Recovery rebuilds a swap segment's indexes from its .log (Kafka's LogLoader
            # recovers the segment; Runnel's rn_log_finish_swaps deletes them), and a crash in
            # the middle of the final renames may have moved some already: nothing to check.
            res.notes.append("%s: indexes not checked (rebuilt on recovery)" % log_name)
            continue
        by_pos = {b.pos: b for b in batches}
        torn_ok = mode == "crashed" and newest
        _check_offset_index(res, path, files, base, suffix, batches, by_pos, end, len(data),
                            index_rule, torn_ok, log_name)
        _check_time_index(res, path, files, base, suffix, batches, seg_last, torn_ok, log_name)
    return res


def _check_offset_index(res, path, files, base, suffix, batches, by_pos, valid_end, log_len,
                        index_rule, torn_ok, log_name):
    key = (base, "index", suffix)
    if key not in files:
        if batches:
            res.problems.append("%s has no offset index (%s)" % (log_name, "%020d.index%s" % (base, suffix)))
        return
    name = files[key]
    data = _read(os.path.join(path, name))
    if len(data) % OFFSET_ENTRY_LEN:
        res.problems.append("%s: %d bytes, not a whole number of 8-byte entries" % (name, len(data)))
    used, unused, stray = _used_offset_entries(data)
    res.index_entries += len(used)
    if stray:
        res.problems.append("%s: %d non-zero entries after the first all-zero one" % (name, stray))
    prev = None
    for n, (rel, pos) in enumerate(used):
        where = "%s entry %d (relative offset %d, position %d)" % (name, n, rel, pos)
        if prev is not None and (rel <= prev[0] or pos <= prev[1]):
            res.problems.append("%s does not ascend after (%d, %d)" % (where, prev[0], prev[1]))
        prev = (rel, pos)
        if pos >= valid_end:
            if torn_ok:
                res.notes.append("%s points past the last whole batch (%d): allowed after kill -9 "
                                 "in the newest segment" % (where, valid_end))
            else:
                res.problems.append("%s points past the last whole batch of %s (ends at %d, file "
                                    "%d bytes)" % (where, log_name, valid_end, log_len))
            continue
        b = by_pos.get(pos)
        if b is None:
            res.problems.append("%s points inside a batch, not at a batch start" % where)
            continue
        want = b.base_offset if index_rule == "base" else b.last_offset
        if base + rel != want:
            res.problems.append("%s names offset %d, but the batch there has base offset %d and "
                                "last offset %d (expected the %s offset)"
                                % (where, base + rel, b.base_offset, b.last_offset, index_rule))
    if unused and not torn_ok:
        res.notes.append("%s: %d unused (zero) entries at the end" % (name, unused))


def _check_time_index(res, path, files, base, suffix, batches, seg_last, torn_ok, log_name):
    key = (base, "timeindex", suffix)
    if key not in files:
        if batches:
            res.problems.append("%s has no time index" % log_name)
        return
    name = files[key]
    data = _read(os.path.join(path, name))
    if len(data) % TIME_ENTRY_LEN:
        res.problems.append("%s: %d bytes, not a whole number of 12-byte entries" % (name, len(data)))
    used, unused, stray = _used_time_entries(data)
    res.time_entries += len(used)
    if stray:
        res.problems.append("%s: %d non-zero entries after the first all-zero one" % (name, stray))
    max_ts = max((b.max_timestamp for b in batches), default=None)
    prev = None
    for n, (ts, rel) in enumerate(used):
        where = "%s entry %d (timestamp %d, relative offset %d)" % (name, n, ts, rel)
        if prev is not None and (ts <= prev[0] or rel < prev[1]):
            res.problems.append("%s does not ascend after (%d, %d)" % (where, prev[0], prev[1]))
        prev = (ts, rel)
        if seg_last is None or not base <= base + rel <= seg_last:
            if torn_ok:
                res.notes.append("%s: offset past the last whole batch, allowed after kill -9" % where)
            else:
                res.problems.append("%s names offset %d, outside the segment's offsets %d..%s"
                                    % (where, base + rel, base, seg_last))
        elif max_ts is not None and ts > max_ts and not torn_ok:
            res.problems.append("%s: timestamp above every batch's max timestamp (%d)" % (where, max_ts))


def leftovers_older_than(path, t_ns):
    """Names of `.cleaned` and `.swap` files in `path` last changed (ctime) before `t_ns`
    (time.time_ns()): what a start-up begun at t_ns should have removed or finished. A cleaner
    running since then makes files of its own, newer than t_ns (a rename changes the ctime)."""
    old = []
    for name in os.listdir(path):
        m = SEGMENT_RE.match(name)
        if not m or m.group(3) not in (".cleaned", ".swap"):
            continue
        try:
            st = os.stat(os.path.join(path, name))
        except FileNotFoundError:
            continue
        if st.st_ctime_ns < t_ns:
            old.append(name)
    return sorted(old)


def main(argv):
    if not 2 <= len(argv) <= 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    res = check(argv[1], *(argv[2:]))
    print(res.report(limit=1000))
    return 0 if res else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
