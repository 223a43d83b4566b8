#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Writes the seed corpora of the fuzz targets from the golden bytes of the unit tests:
#   corpus/fuzz_records/  the record batches of tests/unit/records/golden.h (librdkafka 2.0.2),
#                         each alone, and two of them back to back (a two-batch blob)
#   corpus/fuzz_proto/    the request frames (no size prefix) of tests/unit/proto/test_vectors.c,
#                         tests/unit/proto/test_messages.c and tests/unit/handlers/test_dispatch.c
#   corpus/fuzz_config/   conf/runnel.properties
#   corpus/fuzz_coord_records/  the byte arrays of tests/unit/coord/, framed as records
#   corpus/fuzz_log_recovery/   two golden batches as a segment, recovered unclean and clean
# Run from anywhere: tests/fuzz/make_corpus.py. Overwrites the files it writes.
import pathlib
import re

here = pathlib.Path(__file__).resolve().parent
unit = here.parent / 'unit'

ARRAY = re.compile(r'static const uint8_t (\w+)\[\d*\]\s*=\s*\{(.*?)\};', re.S)


def arrays(path):
    text = path.read_text()
    for name, body in ARRAY.findall(text):
        body = re.sub(r'/\*.*?\*/', '', body, flags=re.S)
        out = bytearray()
        for tok in re.findall(r"'(?:\\.|[^'])'|0x[0-9a-fA-F]+|\d+", body):
            if tok.startswith("'"):
                out += tok[1:-1].encode().decode('unicode_escape').encode('latin-1')
            else:
                out.append(int(tok, 0))
        yield name, bytes(out)


def write(target, name, data):
    d = here / 'corpus' / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


golden = dict(arrays(unit / 'records' / 'golden.h'))
for name, data in golden.items():
    write('fuzz_records', name, data)
write('fuzz_records', 'two_batches_none_zstd', golden['golden_none'] + golden['golden_zstd'])

# Request frames start with an api key and version a schema has; encodings the tests expect
# ("want") are responses or bodies and are seeds too.
n = 0
for src in ['proto/test_vectors.c', 'proto/test_messages.c', 'handlers/test_dispatch.c']:
    for name, data in arrays(unit / src):
        n += 1
        write('fuzz_proto', '%s_%02d_%s' % (pathlib.Path(src).stem, n, name), data)


# fuzz_config: the shipped properties file.
write('fuzz_config', 'runnel_properties', (here.parent.parent / 'conf' / 'runnel.properties')
      .read_bytes())


# fuzz_coord_records: the coordinators' record bytes of the unit tests, each framed as
# fuzz_coord_records.c reads its input (u8 topic, u16 key length, key, i32 value length, value)
# as a key and as a value of both internal topics, and a group key followed by each value.
def record(topic, key, value):
    out = bytes([topic]) + len(key).to_bytes(2, 'big') + key
    if value is None:
        return out + (-1).to_bytes(4, 'big', signed=True)
    return out + len(value).to_bytes(4, 'big') + value


coord = {}
for src in sorted((unit / 'coord').glob('test_*.c')):
    for name, data in arrays(src):
        coord['%s_%s' % (src.stem, name)] = data
group_key = b'\x00\x02\x00\x03grp'
for name, data in coord.items():
    write('fuzz_coord_records', name, record(0, data, data) + record(1, data, data) +
          record(0, group_key, data) + record(0, group_key, None))

# fuzz_log_recovery: no index files (recovery rebuilds them), then the golden batches as
# segment 0, unclean (flags 0) and clean (flags 1).
segment = golden['golden_none'] + golden['golden_zstd']
for flags in (0, 1):
    write('fuzz_log_recovery', 'golden_flags%d' % flags,
          bytes([flags]) + b'\x00\x00' + b'\x00\x00' + segment)
