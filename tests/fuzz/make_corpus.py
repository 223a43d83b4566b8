#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Writes the seed corpora of the fuzz targets from the golden bytes of the unit tests:
#   corpus/fuzz_records/  the record batches of tests/unit/records/golden.h (librdkafka 2.0.2),
#                         each alone, and two of them back to back (a two-batch blob)
#   corpus/fuzz_proto/    the request frames (no size prefix) of tests/unit/proto/test_vectors.c,
#                         tests/unit/proto/test_messages.c and tests/unit/handlers/test_dispatch.c
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
