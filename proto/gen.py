#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generates Runnel's Kafka message codecs from the schema files in proto/.

    gen.py --out-dir DIR FILE.schema...     writes DIR/messages.h, DIR/messages.c and
                                            DIR/messages_sample.c (test-only value filler)
    gen.py --check FILE.schema...           parses and checks the files, writes nothing

The schema format is described in proto/README.md. Standard library only.

For every message section (request, response, header fields) the generated C has:
  - a struct per section and per nested struct, holding the fields of every version;
  - rn_<msg>_init()    sets every field to its default;
  - rn_<msg>_decode()  reads one version from an rn_reader_t, slices pointing into its buffer;
  - rn_<msg>_encode()  writes one version into an rn_outbuf_t.
Decoders check every length against the bytes present (through the reader) and allocate
arrays only after the count has been checked against what is left of the frame.
"""

import argparse
import os
import re
import sys

PRIMS = {
    # name: (C type, reader call, writer call, fixed wire size or None)
    'int8': ('int8_t', 'rn_read_int8', 'rn_write_int8', 1),
    'int16': ('int16_t', 'rn_read_int16', 'rn_write_int16', 2),
    'int32': ('int32_t', 'rn_read_int32', 'rn_write_int32', 4),
    'int64': ('int64_t', 'rn_read_int64', 'rn_write_int64', 8),
    'uint16': ('uint16_t', 'rn_read_uint16', 'rn_write_uint16', 2),
    'float64': ('double', 'rn_read_float64', 'rn_write_float64', 8),
    'bool': ('bool', 'rn_read_bool', 'rn_write_bool', 1),
    'uuid': ('rn_uuid_t', 'rn_read_uuid', 'rn_write_uuid', 16),
    'string': ('rn_str_t', None, None, None),
    'bytes': ('rn_bytes_t', None, None, None),
    'records': ('rn_records_t', None, None, None),
}
NULLABLE_KINDS = ('string', 'bytes', 'records')
MAX_VERSION = 0x7fff


class SchemaError(Exception):
    pass


def snake(name):
    s = re.sub(r'([a-z0-9])([A-Z])', r'\1_\2', name)
    s = re.sub(r'([A-Z]+)([A-Z][a-z])', r'\1_\2', s)
    return s.lower()


class Versions:
    """A version range: lo..hi inclusive; empty when lo is None."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    @staticmethod
    def parse(text, where):
        if text == 'none':
            return Versions(None, None)
        m = re.fullmatch(r'(\d+)(\+|-(\d+))?', text)
        if not m:
            raise SchemaError(f'{where}: bad version range {text!r}')
        lo = int(m.group(1))
        if m.group(2) == '+':
            return Versions(lo, MAX_VERSION)
        hi = int(m.group(3)) if m.group(3) else lo
        if hi < lo:
            raise SchemaError(f'{where}: empty version range {text!r}')
        return Versions(lo, hi)

    def empty(self):
        return self.lo is None

    def contains(self, v):
        return not self.empty() and self.lo <= v <= self.hi

    def intersect(self, other):
        if self.empty() or other.empty():
            return Versions(None, None)
        lo, hi = max(self.lo, other.lo), min(self.hi, other.hi)
        return Versions(lo, hi) if lo <= hi else Versions(None, None)

    def cond(self, within, var='v'):
        """A C condition true for the versions of `within` that are in this range."""
        r = self.intersect(within)
        if r.empty():
            return '0'
        parts = []
        if r.lo > within.lo:
            parts.append(f'{var} >= {r.lo}')
        if r.hi < within.hi:
            parts.append(f'{var} <= {r.hi}')
        return ' && '.join(parts) if parts else '1'


class Field:
    def __init__(self, name, type_, versions, where):
        self.name, self.type, self.versions, self.where = name, type_, versions, where
        self.nullable = Versions(None, None)
        self.tag = None
        self.default = None
        self.flex_none = False
        self.children = []      # sub-field lines, when this field defines its struct
        self.struct = None      # resolved Struct for struct kinds

    @property
    def is_array(self):
        return self.type.startswith('[]')

    @property
    def elem(self):
        return self.type[2:] if self.is_array else self.type

    @property
    def elem_is_struct(self):
        return self.elem not in PRIMS

    def kind(self):
        if self.is_array:
            return 'struct_array' if self.elem_is_struct else 'array'
        return 'struct' if self.elem_is_struct else 'prim'


class Struct:
    def __init__(self, name, cname, fields, where):
        self.name, self.cname, self.fields, self.where = name, cname, fields, where


class Section:
    def __init__(self, msg, kind):
        self.msg, self.kind = msg, kind
        self.fields = []
        self.structs = {}       # name -> Struct (defined inline or by a struct block)
        self.blocks = {}        # name -> field list of `struct Name` blocks
        self.top = None

    @property
    def prefix(self):
        if self.msg.kind == 'header':
            return 'rn_' + snake(self.msg.name)
        return f'rn_{snake(self.msg.name)}_{self.kind}'


class Message:
    def __init__(self, kind, name, key, where):
        self.kind, self.name, self.key, self.where = kind, name, key, where
        self.versions = None
        self.flexible = None
        self.sections = []

    def flex_cond(self, var='v'):
        return self.flexible.cond(self.versions, var)


def parse_field(tokens, where):
    if len(tokens) < 3:
        raise SchemaError(f'{where}: a field needs a name, a type and versions')
    name, type_, vers = tokens[:3]
    if not re.fullmatch(r'[a-z][a-z0-9_]*', name):
        raise SchemaError(f'{where}: field name {name!r} is not snake_case')
    base = type_[2:] if type_.startswith('[]') else type_
    if base not in PRIMS and not re.fullmatch(r'[A-Z][A-Za-z0-9]*', base):
        raise SchemaError(f'{where}: unknown type {type_!r}')
    if type_.startswith('[]') and base == 'records':
        raise SchemaError(f'{where}: arrays of records are not a Kafka type')
    f = Field(name, type_, Versions.parse(vers, where), where)
    if f.versions.empty():
        raise SchemaError(f'{where}: field {name} is in no version')
    for opt in tokens[3:]:
        if '=' not in opt:
            raise SchemaError(f'{where}: option {opt!r} is not key=value')
        k, val = opt.split('=', 1)
        if k == 'nullable':
            f.nullable = Versions.parse(val, where)
        elif k == 'tag':
            if not val.isdigit():
                raise SchemaError(f'{where}: tag must be a number')
            f.tag = int(val)
        elif k == 'default':
            f.default = val
        elif k == 'flex' and val == 'none':
            f.flex_none = True
        else:
            raise SchemaError(f'{where}: unknown option {opt!r}')
    if not f.nullable.empty():
        if f.kind() == 'prim' and base not in NULLABLE_KINDS:
            raise SchemaError(f'{where}: {type_} cannot be nullable')
    return f


def parse_file(path):
    msgs = []
    msg = None
    section = None
    stack = []      # (indent, Field) for nesting
    target = None   # list receiving column-0 fields (section fields or a struct block)
    with open(path, encoding='utf-8') as fh:
        lines = fh.read().split('\n')
    for lineno, raw in enumerate(lines, 1):
        where = f'{os.path.basename(path)}:{lineno}'
        line = raw.split('#', 1)[0].rstrip()
        if not line.strip():
            continue
        if '\t' in line:
            raise SchemaError(f'{where}: tabs are not allowed')
        indent = len(line) - len(line.lstrip(' '))
        tokens = line.split()
        if indent == 0:
            word = tokens[0]
            if word in ('api', 'header'):
                if word == 'api':
                    if len(tokens) != 3 or not tokens[2].isdigit():
                        raise SchemaError(f'{where}: expected "api Name KEY"')
                    msg = Message('api', tokens[1], int(tokens[2]), where)
                else:
                    if len(tokens) != 2:
                        raise SchemaError(f'{where}: expected "header Name"')
                    msg = Message('header', tokens[1], None, where)
                msgs.append(msg)
                section = None
                continue
            if msg is None:
                raise SchemaError(f'{where}: expected "api" or "header" first')
            if word == 'versions' and section is None:
                msg.versions = Versions.parse(tokens[1], where)
                continue
            if word == 'flexible' and section is None:
                msg.flexible = Versions.parse(tokens[1], where)
                if not msg.flexible.empty() and msg.flexible.hi != MAX_VERSION:
                    raise SchemaError(f'{where}: flexible must be "N+" or "none"')
                continue
            if word in ('request', 'response', 'fields') and len(tokens) == 1:
                if (word == 'fields') != (msg.kind == 'header'):
                    raise SchemaError(f'{where}: section {word!r} does not fit a {msg.kind}')
                if any(s.kind == word for s in msg.sections):
                    raise SchemaError(f'{where}: section {word} given twice')
                section = Section(msg, word)
                msg.sections.append(section)
                target = section.fields
                stack = []
                continue
            if word == 'struct':
                if section is None or len(tokens) != 2:
                    raise SchemaError(f'{where}: "struct Name" belongs inside a section')
                if tokens[1] in section.blocks:
                    raise SchemaError(f'{where}: struct {tokens[1]} defined twice')
                target = section.blocks[tokens[1]] = []
                stack = [(0, None)]
                continue
        if section is None:
            raise SchemaError(f'{where}: field outside a section')
        if indent % 2:
            raise SchemaError(f'{where}: indentation must be a multiple of two spaces')
        f = parse_field(tokens, where)
        base = 0 if not stack or stack[0][1] is not None else 2   # struct blocks indent by 2
        level = (indent - base) // 2
        if level < 0:
            raise SchemaError(f'{where}: struct block fields are indented two spaces')
        parents = [s for s in stack if s[1] is not None]
        parents = parents[:level]
        if len(parents) != level:
            raise SchemaError(f'{where}: indented deeper than its parent')
        if level == 0:
            target.append(f)
        else:
            parent = parents[-1][1]
            if not parent.elem_is_struct:
                raise SchemaError(f'{where}: {parent.name} is not a struct and has no sub-fields')
            parent.children.append(f)
        stack = ([(0, None)] if stack and stack[0][1] is None else []) + parents + [(indent, f)]
    return msgs


def resolve(msg):
    if msg.versions is None or msg.flexible is None:
        raise SchemaError(f'{msg.where}: {msg.name} needs "versions" and "flexible" lines')
    expected = ('fields',) if msg.kind == 'header' else ('request', 'response')
    if tuple(s.kind for s in msg.sections) != expected:
        raise SchemaError(f'{msg.where}: {msg.name} needs sections {", ".join(expected)} in that order')
    for sec in msg.sections:
        def define(name, fields, where):
            if name in sec.structs:
                raise SchemaError(f'{where}: struct {name} defined twice in {msg.name} {sec.kind}')
            st = Struct(name, f'{sec.prefix}_{snake(name)}_t', fields, where)
            sec.structs[name] = st
            return st

        def walk(fields, seen_names):
            tags = set()
            for f in fields:
                if f.name in seen_names:
                    raise SchemaError(f'{f.where}: field {f.name} given twice')
                seen_names.add(f.name)
                if f.versions.intersect(msg.versions).empty():
                    raise SchemaError(f'{f.where}: {f.name} is in no version of {msg.name}')
                if f.tag is not None:
                    if f.tag in tags:
                        raise SchemaError(f'{f.where}: tag {f.tag} used twice')
                    tags.add(f.tag)
                    if not f.versions.intersect(msg.flexible).lo == f.versions.lo:
                        raise SchemaError(f'{f.where}: tagged field {f.name} in a non-flexible version')
                if f.elem_is_struct:
                    if f.children:
                        f.struct = define(f.elem, f.children, f.where)
                        walk(f.children, set())
                    else:
                        f.struct = None   # resolved below from a struct block
                elif f.children:
                    raise SchemaError(f'{f.where}: {f.name} has sub-fields but type {f.type}')
                if f.default is not None:
                    check_default(f)

        walk(sec.fields, set())
        for name, fields in sec.blocks.items():
            define(name, fields, msg.where)
            walk(fields, set())

        def link(fields):
            for f in fields:
                if f.elem_is_struct and f.struct is None:
                    if f.elem not in sec.structs:
                        raise SchemaError(f'{f.where}: struct {f.elem} is not defined in {msg.name} {sec.kind}')
                    f.struct = sec.structs[f.elem]
                if f.children:
                    link(f.children)

        link(sec.fields)
        for fields in sec.blocks.values():
            link(fields)
        sec.top = Struct(msg.name, f'{sec.prefix}_t', sec.fields, msg.where)


def check_default(f):
    d = f.default
    k = f.kind()
    if d == 'null':
        if f.nullable.empty():
            raise SchemaError(f'{f.where}: default null on a field that is never nullable')
        return
    if k == 'prim' and f.elem in ('int8', 'int16', 'int32', 'int64', 'uint16'):
        try:
            int(d, 0)
        except ValueError:
            raise SchemaError(f'{f.where}: default {d!r} is not an integer')
        return
    if k == 'prim' and f.elem == 'float64':
        float(d)
        return
    if k == 'prim' and f.elem == 'bool':
        if d not in ('true', 'false'):
            raise SchemaError(f'{f.where}: default {d!r} is not true or false')
        return
    if k == 'prim' and f.elem == 'string' and d == '""':
        return
    raise SchemaError(f'{f.where}: unsupported default {d!r} for {f.type}')


# ---------------------------------------------------------------------------------------------
# C generation

class Out:
    def __init__(self):
        self.lines = []

    def __call__(self, text=''):
        self.lines.append(text)

    def text(self):
        return '\n'.join(self.lines) + '\n'


def ctype_elem(f):
    if f.elem_is_struct:
        return f.struct.cname
    return PRIMS[f.elem][0]


def member_decl(f):
    k = f.kind()
    if k in ('array', 'struct_array'):
        return f'struct {{ {ctype_elem(f)} *items; int32_t count; }} {f.name};   /* count -1: null */'
    if k == 'struct':
        if not f.nullable.empty():
            return f'{f.struct.cname} *{f.name};   /* NULL: null */'
        return f'{f.struct.cname} {f.name};'
    return f'{PRIMS[f.elem][0]} {f.name};'


def c_default(f):
    d = f.default
    if f.elem == 'int64' and d is not None and d != 'null':
        v = int(d, 0)
        return 'INT64_MIN' if v == -(1 << 63) else f'INT64_C({v})'
    if f.elem == 'int32' and d is not None and d != 'null' and int(d, 0) == -(1 << 31):
        return 'INT32_MIN'
    return d


def all_structs(sec):
    """Nested structs before the ones that contain them, the section's top struct last."""
    order, seen = [], set()

    def visit(st):
        if st.cname in seen:
            return
        seen.add(st.cname)
        for f in st.fields:
            if f.struct is not None:
                visit(f.struct)
        order.append(st)

    visit(sec.top)
    for st in sec.structs.values():
        visit(st)
    # The top struct goes last whatever the visiting order was.
    order.remove(sec.top)
    order.append(sec.top)
    return order


def min_wire_len(st, msg, v, depth=0):
    """Smallest number of bytes a struct takes at version v."""
    flex = msg.flexible.contains(v)
    n = 1 if flex else 0    # tag section count
    for f in st.fields:
        if not f.versions.contains(v) or f.tag is not None:
            continue
        n += field_min_len(f, msg, v, flex and not f.flex_none, depth)
    return n


def field_min_len(f, msg, v, compact, depth):
    k = f.kind()
    if k in ('array', 'struct_array'):
        return 1 if compact else 4
    if k == 'struct':
        if not f.nullable.empty() and f.nullable.contains(v):
            return 1
        return min_wire_len(f.struct, msg, v, depth + 1)
    if f.elem == 'string':
        return 1 if compact else 2
    if f.elem in ('bytes', 'records'):
        return 1 if compact else 4
    return PRIMS[f.elem][3]


def elem_min_len(f, msg):
    """Smallest element size over the versions that carry the array (0 if any can be empty)."""
    sizes = []
    vr = f.versions.intersect(msg.versions)
    for v in range(vr.lo, vr.hi + 1):
        compact = msg.flexible.contains(v) and not f.flex_none
        if f.elem_is_struct:
            sizes.append(min_wire_len(f.struct, msg, v))
        elif f.elem == 'string':
            sizes.append(1 if compact else 2)
        elif f.elem == 'bytes':
            sizes.append(1 if compact else 4)
        else:
            sizes.append(PRIMS[f.elem][3])
    return min(sizes) if sizes else 0


class Gen:
    def __init__(self, msgs):
        self.msgs = msgs
        self.h = Out()
        self.c = Out()
        self.s = Out()

    # -- header --------------------------------------------------------------------------
    def header(self):
        h = self.h
        h('/* Generated by proto/gen.py from the proto schema files. Do not edit. */')
        h('#ifndef RN_PROTO_MESSAGES_H')
        h('#define RN_PROTO_MESSAGES_H')
        h('')
        h('#include <stdbool.h>')
        h('#include <stddef.h>')
        h('#include <stdint.h>')
        h('')
        h('#include "proto/reader.h"')
        h('#include "proto/types.h"')
        h('#include "proto/writer.h"')
        h('#include "util/arena.h"')
        h('')
        h('/* API keys. */')
        h('typedef enum rn_api_key {')
        for m in self.msgs:
            if m.kind == 'api':
                h(f'    RN_API_{snake(m.name).upper()} = {m.key},')
        h('} rn_api_key_t;')
        h('')
        for m in self.msgs:
            for sec in m.sections:
                h(f'/* {m.name} {sec.kind}: versions {m.versions.lo}-{m.versions.hi}, '
                  f'flexible {"none" if m.flexible.empty() else str(m.flexible.lo) + "+"}. */')
                for st in all_structs(sec):
                    name = st.cname[:-2]
                    h(f'typedef struct {name} {{')
                    if not st.fields:
                        h('    char unused_;   /* no fields in any version */')
                    for f in st.fields:
                        note = f'v{f.versions.lo}+' if f.versions.hi == MAX_VERSION else f'v{f.versions.lo}-{f.versions.hi}'
                        if f.tag is not None:
                            note += f', tag {f.tag}'
                        h(f'    {member_decl(f)}'.ljust(70) + f' /* {note} */')
                    h(f'}} {st.cname};')
                    h(f'void {name}_init({st.cname} *m);')
                    h('')
                top = sec.top.cname[:-2]
                h(f'rn_decode_t {top}_decode(rn_reader_t *r, int16_t version, rn_arena_t *arena, {sec.top.cname} *m);')
                h(f'void {top}_encode(rn_outbuf_t *w, int16_t version, const {sec.top.cname} *m);')
                h('')
        h('/* Every API with a schema, for the handler table, ApiVersions and tests. */')
        h('typedef struct rn_proto_api {')
        h('    int16_t key;')
        h('    const char *name;')
        h('    int16_t min_version, max_version;')
        h('    int16_t flexible_min;          /* first flexible version, or -1 */')
        h('    size_t request_size, response_size;')
        h('    rn_decode_t (*request_decode)(rn_reader_t *r, int16_t version, rn_arena_t *arena, void *m);')
        h('    void (*request_encode)(rn_outbuf_t *w, int16_t version, const void *m);')
        h('    rn_decode_t (*response_decode)(rn_reader_t *r, int16_t version, rn_arena_t *arena, void *m);')
        h('    void (*response_encode)(rn_outbuf_t *w, int16_t version, const void *m);')
        h('    /* Test support: fill every field present in `version` with varied values derived from')
        h('     * *seed. NULL unless messages_sample.c (built only for tests) is linked. */')
        h('    void (*request_sample)(void *m, int16_t version, rn_arena_t *arena, unsigned *seed);')
        h('    void (*response_sample)(void *m, int16_t version, rn_arena_t *arena, unsigned *seed);')
        h('} rn_proto_api_t;')
        h('')
        h('extern const rn_proto_api_t rn_proto_apis[];')
        h('extern const size_t rn_proto_api_count;')
        h('/* The entry for `key`, or NULL when there is no schema for it. */')
        h('const rn_proto_api_t *rn_proto_api_find(int16_t key);')
        h('')
        h('#endif')

    # -- codecs ----------------------------------------------------------------------------
    def source(self):
        c = self.c
        c('/* Generated by proto/gen.py from the proto schema files. Do not edit. */')
        c('#include "proto/messages.h"')
        c('')
        c('#include <string.h>')
        c('')
        c('/* The sample fillers live in messages_sample.c, which only tests link; weak references keep')
        c(' * the broker free of them. */')
        for m in self.msgs:
            for sec in m.sections:
                c(f'void {sec.top.cname[:-2]}_sample(void *m, int16_t version, rn_arena_t *arena, unsigned *seed) __attribute__((weak));')
        c('')
        c('static bool skip_tags(rn_reader_t *r)')
        c('{')
        c('    uint32_t n = rn_read_uvarint(r, "tagged field count");')
        c('    for (uint32_t i = 0; i < n && rn_reader_ok(r); i++) {')
        c('        rn_read_uvarint(r, "tag");')
        c('        uint32_t len = rn_read_uvarint(r, "tagged field size");')
        c('        rn_reader_skip(r, len, "tagged field");')
        c('    }')
        c('    return rn_reader_ok(r);')
        c('}')
        c('')
        c('static bool fail_nomem(rn_reader_t *r)')
        c('{')
        c('    return rn_reader_fail(r, "out of memory for a decoded array");')
        c('}')
        c('')
        c('static void write_records(rn_outbuf_t *w, bool compact, const rn_records_t *rec)')
        c('{')
        c('    if (rn_records_is_null(rec)) {')
        c('        rn_write_array_len(w, compact, -1);   /* same encoding as a null length */')
        c('        return;')
        c('    }')
        c('    size_t len = rn_records_len(rec);')
        c('    if (compact)')
        c('        rn_write_uvarint(w, (uint32_t)len + 1);')
        c('    else')
        c('        rn_write_int32(w, (int32_t)len);')
        c('    if (rec->file != NULL)')
        c('        rn_outbuf_append_file(w, rec->file);')
        c('    else')
        c('        rn_outbuf_append(w, rec->ptr, rec->len);')
        c('}')
        c('')
        c('static rn_records_t read_records(rn_reader_t *r, bool compact, bool nullable, const char *what)')
        c('{')
        c('    rn_bytes_t b = rn_read_bytes(r, compact, nullable, what);')
        c('    return (rn_records_t){ .ptr = b.ptr, .len = b.len, .file = NULL };')
        c('}')
        c('')
        for m in self.msgs:
            for sec in m.sections:
                structs = all_structs(sec)
                for st in structs:
                    c(f'static bool dec_{st.cname[:-2]}(rn_reader_t *r, int16_t v, rn_arena_t *arena, {st.cname} *m);')
                    c(f'static void enc_{st.cname[:-2]}(rn_outbuf_t *w, int16_t v, const {st.cname} *m);')
                c('')
                for st in self.default_checked(sec):
                    self.gen_is_default(st)
                for st in structs:
                    self.gen_init(st)
                    self.gen_decode(m, st)
                    self.gen_encode(m, st)
                top = sec.top.cname[:-2]
                c(f'rn_decode_t {top}_decode(rn_reader_t *r, int16_t version, rn_arena_t *arena, {sec.top.cname} *m)')
                c('{')
                c(f'    {top}_init(m);')
                c(f'    if (version < {m.versions.lo} || version > {m.versions.hi})')
                c('        return rn_reader_fail(r, "unsupported version"), RN_DECODE_INVALID;')
                c(f'    return dec_{top}(r, version, arena, m) ? RN_DECODE_OK : RN_DECODE_INVALID;')
                c('}')
                c('')
                c(f'void {top}_encode(rn_outbuf_t *w, int16_t version, const {sec.top.cname} *m)')
                c('{')
                c(f'    enc_{top}(w, version, m);')
                c('}')
                c('')
                if m.kind != 'api':
                    continue
                c(f'static rn_decode_t generic_{top}_decode(rn_reader_t *r, int16_t version, rn_arena_t *arena, void *m)')
                c('{')
                c(f'    return {top}_decode(r, version, arena, m);')
                c('}')
                c('')
                c(f'static void generic_{top}_encode(rn_outbuf_t *w, int16_t version, const void *m)')
                c('{')
                c(f'    {top}_encode(w, version, m);')
                c('}')
                c('')
        c('const rn_proto_api_t rn_proto_apis[] = {')
        for m in self.msgs:
            if m.kind != 'api':
                continue
            req, resp = m.sections
            rq, rs = req.top.cname[:-2], resp.top.cname[:-2]
            flex = -1 if m.flexible.empty() else m.flexible.lo
            c(f'    {{ .key = {m.key}, .name = "{m.name}", .min_version = {m.versions.lo}, '
              f'.max_version = {m.versions.hi}, .flexible_min = {flex},')
            c(f'      .request_size = sizeof({req.top.cname}), .response_size = sizeof({resp.top.cname}),')
            c(f'      .request_decode = generic_{rq}_decode, .request_encode = generic_{rq}_encode,')
            c(f'      .response_decode = generic_{rs}_decode, .response_encode = generic_{rs}_encode,')
            c(f'      .request_sample = {rq}_sample, .response_sample = {rs}_sample }},')
        c('};')
        c('const size_t rn_proto_api_count = sizeof rn_proto_apis / sizeof rn_proto_apis[0];')
        c('')
        c('const rn_proto_api_t *rn_proto_api_find(int16_t key)')
        c('{')
        c('    for (size_t i = 0; i < rn_proto_api_count; i++)')
        c('        if (rn_proto_apis[i].key == key)')
        c('            return &rn_proto_apis[i];')
        c('    return NULL;')
        c('}')

    def default_checked(self, sec):
        """Structs whose default-ness decides whether a tagged field is written, nested first."""
        need = []

        def add(st):
            for f in st.fields:
                if f.kind() == 'struct' and f.nullable.empty():
                    add(f.struct)
            if st not in need:
                need.append(st)

        for st in all_structs(sec):
            for f in st.fields:
                if f.tag is not None and f.kind() == 'struct' and f.nullable.empty():
                    add(f.struct)
        return need

    def gen_is_default(self, st):
        c = self.c
        name = st.cname[:-2]
        c(f'static bool is_default_{name}(const {st.cname} *m)')
        c('{')
        c('    (void)m;')
        for f in st.fields:
            c(f'    if ({self.differs(f)})')
            c('        return false;')
        c('    return true;')
        c('}')
        c('')

    def gen_init(self, st):
        c = self.c
        name = st.cname[:-2]
        c(f'void {name}_init({st.cname} *m)')
        c('{')
        c('    memset(m, 0, sizeof *m);')
        for f in st.fields:
            k = f.kind()
            d = f.default
            if k in ('array', 'struct_array'):
                if d == 'null':
                    c(f'    m->{f.name}.count = -1;')
            elif k == 'struct':
                if f.nullable.empty():
                    c(f'    {f.struct.cname[:-2]}_init(&m->{f.name});')
            elif f.elem == 'string':
                if d == '""' or (d is None and f.nullable.empty()):
                    c(f'    m->{f.name}.ptr = "";')
            elif f.elem == 'bytes':
                if d is None and f.nullable.empty():
                    c(f'    m->{f.name}.ptr = (const uint8_t *)"";')
            elif f.elem == 'records':
                pass
            elif d is not None and d not in ('0', 'false'):
                c(f'    m->{f.name} = {c_default(f)};')
        c('}')
        c('')

    def read_value(self, f, msg, out, lhs, compact_expr, indent, rd='r'):
        """Emit C that reads one element/value of field f into lhs from reader `r`."""
        c = self.c
        pad = ' ' * indent
        what = f'"{f.name}"'
        elem = f.elem
        nullable = f.nullable.cond(msg.versions) if not f.nullable.empty() else '0'
        if f.elem_is_struct:
            c(f'{pad}if (!dec_{f.struct.cname[:-2]}({rd}, v, arena, {lhs}))')
            c(f'{pad}    return false;')
        elif elem == 'string':
            c(f'{pad}{lhs} = rn_read_string({rd}, {compact_expr}, {nullable}, {what});')
        elif elem == 'bytes':
            c(f'{pad}{lhs} = rn_read_bytes({rd}, {compact_expr}, {nullable}, {what});')
        elif elem == 'records':
            c(f'{pad}{lhs} = read_records({rd}, {compact_expr}, {nullable}, {what});')
        else:
            c(f'{pad}{lhs} = {PRIMS[elem][1]}({rd}, {what});')

    def gen_field_decode(self, msg, f, indent, rd='r'):
        c = self.c
        pad = ' ' * indent
        k = f.kind()
        compact = '0' if f.flex_none else (msg.flex_cond() if not msg.flexible.empty() else '0')
        nullable = f.nullable.cond(msg.versions) if not f.nullable.empty() else '0'
        if k in ('array', 'struct_array'):
            elem_t = ctype_elem(f)
            c(f'{pad}{{')
            c(f'{pad}    int32_t n = rn_read_array_len({rd}, {compact}, {nullable}, {elem_min_len(f, msg)}, "{f.name}");')
            c(f'{pad}    if (!rn_reader_ok({rd}))')
            c(f'{pad}        return false;')
            c(f'{pad}    m->{f.name}.count = n;')
            c(f'{pad}    m->{f.name}.items = NULL;')
            c(f'{pad}    if (n > 0) {{')
            c(f'{pad}        {elem_t} *items = rn_arena_try_alloc_array(arena, {elem_t}, n);')
            c(f'{pad}        if (items == NULL)')
            c(f'{pad}            return fail_nomem({rd});')
            c(f'{pad}        m->{f.name}.items = items;')
            c(f'{pad}        for (int32_t i = 0; i < n; i++) {{')
            if f.elem_is_struct:
                c(f'{pad}            {f.struct.cname[:-2]}_init(&items[i]);')
                self.read_value(f, msg, None, '&items[i]', compact, indent + 12, rd)
            else:
                self.read_value(f, msg, None, 'items[i]', compact, indent + 12, rd)
                c(f'{pad}            if (!rn_reader_ok({rd}))')
                c(f'{pad}                return false;')
            c(f'{pad}        }}')
            c(f'{pad}    }}')
            c(f'{pad}}}')
        elif k == 'struct':
            if not f.nullable.empty():
                c(f'{pad}{{')
                c(f'{pad}    bool present = true;')
                c(f'{pad}    if ({nullable}) {{')
                c(f'{pad}        int8_t marker = rn_read_int8({rd}, "{f.name} presence");')
                c(f'{pad}        if (!rn_reader_ok({rd}))')
                c(f'{pad}            return false;')
                c(f'{pad}        if (marker != -1 && marker != 1)')
                c(f'{pad}            return rn_reader_fail({rd}, "{f.name} presence");')
                c(f'{pad}        present = marker == 1;')
                c(f'{pad}    }}')
                c(f'{pad}    m->{f.name} = NULL;')
                c(f'{pad}    if (present) {{')
                c(f'{pad}        {f.struct.cname} *s = rn_arena_try_alloc(arena, sizeof *s);')
                c(f'{pad}        if (s == NULL)')
                c(f'{pad}            return fail_nomem({rd});')
                c(f'{pad}        {f.struct.cname[:-2]}_init(s);')
                c(f'{pad}        if (!dec_{f.struct.cname[:-2]}({rd}, v, arena, s))')
                c(f'{pad}            return false;')
                c(f'{pad}        m->{f.name} = s;')
                c(f'{pad}    }}')
                c(f'{pad}}}')
            else:
                c(f'{pad}if (!dec_{f.struct.cname[:-2]}({rd}, v, arena, &m->{f.name}))')
                c(f'{pad}    return false;')
        else:
            self.read_value(f, msg, None, f'm->{f.name}', compact, indent, rd)

    def gen_decode(self, msg, st):
        c = self.c
        name = st.cname[:-2]
        c(f'static bool dec_{name}(rn_reader_t *r, int16_t v, rn_arena_t *arena, {st.cname} *m)')
        c('{')
        c('    (void)v;')
        c('    (void)arena;')
        c('    (void)m;')
        for f in st.fields:
            if f.tag is not None:
                continue
            cond = f.versions.cond(msg.versions)
            if cond == '0':
                continue
            if cond == '1':
                self.gen_field_decode(msg, f, 4)
            else:
                c(f'    if ({cond}) {{')
                self.gen_field_decode(msg, f, 8)
                c('    }')
        tagged = sorted((f for f in st.fields if f.tag is not None), key=lambda f: f.tag)
        if not msg.flexible.empty():
            fc = msg.flex_cond()
            if not tagged:
                c(f'    if ({fc} && !skip_tags(r))')
                c('        return false;')
            else:
                c(f'    if ({fc}) {{')
                c('        uint32_t ntags = rn_read_uvarint(r, "tagged field count");')
                c('        for (uint32_t t = 0; t < ntags && rn_reader_ok(r); t++) {')
                c('            uint32_t tag = rn_read_uvarint(r, "tag");')
                c('            uint32_t size = rn_read_uvarint(r, "tagged field size");')
                c('            rn_reader_t sub = rn_reader_split(r, size, "tagged field");')
                c('            if (!rn_reader_ok(r))')
                c('                return false;')
                c('            switch (tag) {')
                for f in tagged:
                    c(f'            case {f.tag}:')
                    c(f'                if ({f.versions.cond(msg.versions)}) {{')
                    self.gen_field_decode(msg, f, 20, '&sub')   # the field reads only its own bytes
                    c('                    if (!rn_reader_ok(&sub) || rn_reader_left(&sub) != 0)')
                    c(f'                        return rn_reader_fail(r, sub.err ? sub.err : "{f.name}: tagged field size");')
                    c('                }')
                    c('                break;')
                c('            default:')
                c('                break;   /* unknown tags are skipped (KIP-482) */')
                c('            }')
                c('        }')
                c('    }')
        c('    return rn_reader_ok(r);')
        c('}')
        c('')

    def write_value(self, f, msg, rhs, compact, indent, wr='w'):
        c = self.c
        pad = ' ' * indent
        elem = f.elem
        if f.elem_is_struct:
            c(f'{pad}enc_{f.struct.cname[:-2]}({wr}, v, &{rhs});')
        elif elem == 'string':
            c(f'{pad}rn_write_string({wr}, {compact}, {rhs});')
        elif elem == 'bytes':
            c(f'{pad}rn_write_bytes({wr}, {compact}, {rhs});')
        elif elem == 'records':
            c(f'{pad}write_records({wr}, {compact}, &{rhs});')
        else:
            c(f'{pad}{PRIMS[elem][2]}({wr}, {rhs});')

    def gen_field_encode(self, msg, f, indent, wr='w'):
        c = self.c
        pad = ' ' * indent
        k = f.kind()
        compact = '0' if f.flex_none else (msg.flex_cond() if not msg.flexible.empty() else '0')
        nullable = f.nullable.cond(msg.versions) if not f.nullable.empty() else '0'
        if k in ('array', 'struct_array'):
            c(f'{pad}{{')
            c(f'{pad}    int32_t n = m->{f.name}.count;')
            c(f'{pad}    if (n < 0 && !({nullable}))')
            c(f'{pad}        n = 0;   /* null is not expressible in this version: send empty */')
            c(f'{pad}    rn_write_array_len({wr}, {compact}, n);')
            c(f'{pad}    for (int32_t i = 0; i < n; i++)')
            self.write_value(f, msg, f'm->{f.name}.items[i]', compact, indent + 8, wr)
            c(f'{pad}}}')
        elif k == 'struct':
            if not f.nullable.empty():
                c(f'{pad}if ({nullable})')
                c(f'{pad}    rn_write_int8({wr}, m->{f.name} != NULL ? 1 : -1);')
                c(f'{pad}if (m->{f.name} != NULL) {{')
                c(f'{pad}    enc_{f.struct.cname[:-2]}({wr}, v, m->{f.name});')
                c(f'{pad}}} else if (!({nullable})) {{')
                c(f'{pad}    {f.struct.cname} empty;')
                c(f'{pad}    {f.struct.cname[:-2]}_init(&empty);')
                c(f'{pad}    enc_{f.struct.cname[:-2]}({wr}, v, &empty);')
                c(f'{pad}}}')
            else:
                c(f'{pad}enc_{f.struct.cname[:-2]}({wr}, v, &m->{f.name});')
        elif f.elem in ('string', 'bytes') and f.nullable.empty():
            empty = '""' if f.elem == 'string' else '(const uint8_t *)""'
            t = PRIMS[f.elem][0]
            c(f'{pad}{{')
            c(f'{pad}    {t} val = m->{f.name};')
            c(f'{pad}    if (val.ptr == NULL)')
            c(f'{pad}        val.ptr = {empty};   /* never nullable: send empty */')
            self.write_value(f, msg, 'val', compact, indent + 4, wr)
            c(f'{pad}}}')
        elif f.elem in ('string', 'bytes') and not f.nullable.empty():
            empty = '""' if f.elem == 'string' else '(const uint8_t *)""'
            t = PRIMS[f.elem][0]
            c(f'{pad}{{')
            c(f'{pad}    {t} val = m->{f.name};')
            c(f'{pad}    if (val.ptr == NULL && !({nullable}))')
            c(f'{pad}        val.ptr = {empty};   /* not nullable in this version: send empty */')
            self.write_value(f, msg, 'val', compact, indent + 4, wr)
            c(f'{pad}}}')
        else:
            self.write_value(f, msg, f'm->{f.name}', compact, indent, wr)

    def tag_present(self, f, var='m'):
        """C expression: is tagged field f different from its default (so written)?"""
        return self.differs(f).replace('m->', var + '->')

    def differs(self, f):
        k = f.kind()
        d = f.default
        if k in ('array', 'struct_array'):
            return f'm->{f.name}.count != -1' if d == 'null' else f'm->{f.name}.count > 0'
        if k == 'struct':
            if not f.nullable.empty():
                return f'm->{f.name} != NULL'
            # Written only when some field differs from its default, as Kafka does: a Fetch
            # response must not carry a diverging epoch or a current leader nobody set.
            return f'!is_default_{f.struct.cname[:-2]}(&m->{f.name})'
        if f.elem == 'string':
            if d == 'null':
                return f'm->{f.name}.ptr != NULL'
            return f'(m->{f.name}.ptr != NULL && m->{f.name}.len > 0)'
        if f.elem in ('bytes', 'records'):
            return f'm->{f.name}.ptr != NULL && m->{f.name}.len > 0'
        if f.elem == 'uuid':
            return f'memcmp(m->{f.name}.b, (uint8_t[16]){{0}}, 16) != 0'
        if f.elem == 'bool':
            return f'm->{f.name} != {d or "false"}'
        return f'm->{f.name} != {c_default(f) if d is not None else 0}'

    def gen_encode(self, msg, st):
        c = self.c
        name = st.cname[:-2]
        c(f'static void enc_{name}(rn_outbuf_t *w, int16_t v, const {st.cname} *m)')
        c('{')
        c('    (void)v;')
        c('    (void)m;')
        c('    (void)w;')
        for f in st.fields:
            if f.tag is not None:
                continue
            cond = f.versions.cond(msg.versions)
            if cond == '0':
                continue
            if cond == '1':
                self.gen_field_encode(msg, f, 4)
            else:
                c(f'    if ({cond}) {{')
                self.gen_field_encode(msg, f, 8)
                c('    }')
        tagged = sorted((f for f in st.fields if f.tag is not None), key=lambda f: f.tag)
        if not msg.flexible.empty():
            fc = msg.flex_cond()
            if not tagged:
                c(f'    if ({fc})')
                c('        rn_write_uvarint(w, 0);')
            else:
                c(f'    if ({fc}) {{')
                c('        uint32_t ntags = 0;')
                for f in tagged:
                    c(f'        bool has_{f.name} = ({f.versions.cond(msg.versions)}) && ({self.tag_present(f)});')
                    c(f'        ntags += has_{f.name};')
                c('        rn_write_uvarint(w, ntags);')
                for f in tagged:
                    c(f'        if (has_{f.name}) {{')
                    c('            /* The size prefix comes first, so the value is encoded aside. */')
                    c('            rn_outbuf_t tmp;')
                    c('            rn_outbuf_init(&tmp);')
                    self.gen_field_encode(msg, f, 12, '&tmp')
                    c('            if (tmp.failed)')
                    c('                w->failed = true;')
                    c(f'            rn_write_uvarint(w, {f.tag});')
                    c('            rn_write_uvarint(w, (uint32_t)tmp.len);')
                    c('            rn_outbuf_append(w, tmp.data, tmp.len);')
                    c('            rn_outbuf_deinit(&tmp);')
                    c('        }')
                c('    }')
        c('}')
        c('')

    # -- test-only sample values -------------------------------------------------------------
    def sample(self):
        s = self.s
        s('/* Generated by proto/gen.py from the proto schema files. Do not edit. */')
        s('/* Test support: fills messages with varied values so that round trips exercise every')
        s(' * field of every version. Linked only into tests. */')
        s('#include "proto/messages.h"')
        s('')
        s('#include <stdio.h>')
        s('#include <string.h>')
        s('')
        s('static rn_str_t sample_str(rn_arena_t *arena, unsigned *seed)')
        s('{')
        s('    char *p = rn_arena_sprintf(arena, "s%u", (*seed)++ % 1000);')
        s('    return (rn_str_t){ .ptr = p, .len = p ? strlen(p) : 0 };')
        s('}')
        s('')
        s('static rn_bytes_t sample_bytes(rn_arena_t *arena, unsigned *seed)')
        s('{')
        s('    size_t n = (*seed)++ % 5;')
        s('    uint8_t *p = rn_arena_try_alloc(arena, n + 1);')
        s('    for (size_t i = 0; p != NULL && i < n; i++)')
        s('        p[i] = (uint8_t)(*seed + i);')
        s('    return (rn_bytes_t){ .ptr = p, .len = p ? n : 0 };')
        s('}')
        s('')
        for m in self.msgs:
            for sec in m.sections:
                structs = all_structs(sec)
                for st in structs:
                    s(f'static void smp_{st.cname[:-2]}({st.cname} *m, int16_t v, rn_arena_t *arena, unsigned *seed, int depth);')
                for st in structs:
                    self.gen_sample(m, st)
                top = sec.top.cname
                s(f'void {top[:-2]}_sample(void *m, int16_t version, rn_arena_t *arena, unsigned *seed);')
                s(f'void {top[:-2]}_sample(void *m, int16_t version, rn_arena_t *arena, unsigned *seed)')
                s('{')
                s(f'    {top[:-2]}_init(m);')
                s(f'    smp_{top[:-2]}(m, version, arena, seed, 0);')
                s('}')
                s('')

    def sample_value(self, f, msg, lhs, indent):
        s = self.s
        pad = ' ' * indent
        e = f.elem
        if f.elem_is_struct:
            s(f'{pad}{f.struct.cname[:-2]}_init(&{lhs});')
            s(f'{pad}smp_{f.struct.cname[:-2]}(&{lhs}, v, arena, seed, depth + 1);')
        elif e == 'string':
            s(f'{pad}{lhs} = sample_str(arena, seed);')
        elif e == 'bytes':
            s(f'{pad}{lhs} = sample_bytes(arena, seed);')
        elif e == 'records':
            s(f'{pad}{{ rn_bytes_t b = sample_bytes(arena, seed); {lhs}.ptr = b.ptr; {lhs}.len = b.len; }}')
        elif e == 'bool':
            s(f'{pad}{lhs} = ((*seed)++ & 1) != 0;')
        elif e == 'uuid':
            s(f'{pad}for (int b = 0; b < 16; b++) {lhs}.b[b] = (uint8_t)((*seed)++);')
        elif e == 'float64':
            s(f'{pad}{lhs} = (double)((*seed)++) / 4.0;')
        else:
            ct = PRIMS[e][0]
            s(f'{pad}{lhs} = ({ct})((*seed)++ * 2654435761u);')

    def gen_sample(self, msg, st):
        s = self.s
        name = st.cname[:-2]
        s(f'static void smp_{name}({st.cname} *m, int16_t v, rn_arena_t *arena, unsigned *seed, int depth)')
        s('{')
        s('    (void)v; (void)arena; (void)seed; (void)depth; (void)m;')
        for f in st.fields:
            cond = f.versions.cond(msg.versions)
            if cond == '0':
                continue
            s(f'    if ({cond}) {{')
            nullable = f.nullable.cond(msg.versions) if not f.nullable.empty() else '0'
            k = f.kind()
            if k in ('array', 'struct_array'):
                et = ctype_elem(f)
                s(f'        if (({nullable}) && *seed % 7 == 0) {{')
                s(f'            m->{f.name}.count = -1;')
                s('            (*seed)++;')
                s('        } else {')
                s('            int32_t n = depth > 3 ? 0 : (int32_t)((*seed)++ % 3);')
                s(f'            {et} *items = rn_arena_try_alloc_array(arena, {et}, n > 0 ? n : 1);')
                s(f'            m->{f.name}.items = items;')
                s(f'            m->{f.name}.count = items ? n : 0;')
                s('            for (int32_t i = 0; items != NULL && i < n; i++) {')
                self.sample_value(f, msg, 'items[i]', 16)
                s('            }')
                s('        }')
            elif k == 'struct' and not f.nullable.empty():
                s(f'        if (({nullable}) && *seed % 5 == 0) {{')
                s(f'            m->{f.name} = NULL;')
                s('            (*seed)++;')
                s('        } else {')
                s(f'            {f.struct.cname} *p = rn_arena_try_alloc(arena, sizeof *p);')
                s('            if (p != NULL) {')
                self.sample_value(f, msg, '*p', 16)
                s('            }')
                s(f'            m->{f.name} = p;')
                s('        }')
            elif f.elem in NULLABLE_KINDS and not f.nullable.empty():
                s(f'        if (({nullable}) && *seed % 4 == 0) {{')
                s('            (*seed)++;')
                s(f'            memset(&m->{f.name}, 0, sizeof m->{f.name});')
                s('        } else {')
                self.sample_value(f, msg, f'm->{f.name}', 12)
                s('        }')
            else:
                self.sample_value(f, msg, f'm->{f.name}', 8)
            s('    }')
        s('}')
        s('')


def load(paths):
    msgs = []
    for p in paths:
        msgs.extend(parse_file(p))
    keys = {}
    names = set()
    for m in msgs:
        resolve(m)
        if m.name in names:
            raise SchemaError(f'{m.where}: {m.name} defined twice')
        names.add(m.name)
        if m.kind == 'api':
            if m.key in keys:
                raise SchemaError(f'{m.where}: API key {m.key} used by {keys[m.key]} too')
            keys[m.key] = m.name
    msgs.sort(key=lambda m: (m.kind != 'header', m.key if m.key is not None else -1, m.name))
    return msgs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out-dir')
    ap.add_argument('--check', action='store_true')
    ap.add_argument('schemas', nargs='+')
    args = ap.parse_args()
    try:
        msgs = load(args.schemas)
    except (SchemaError, OSError) as e:
        print(f'gen.py: {e}', file=sys.stderr)
        return 1
    if args.check:
        print(f'{len(msgs)} messages OK')
        return 0
    if not args.out_dir:
        ap.error('--out-dir or --check is required')
    g = Gen(msgs)
    g.header()
    g.source()
    g.sample()
    for name, out in (('messages.h', g.h), ('messages.c', g.c), ('messages_sample.c', g.s)):
        path = os.path.join(args.out_dir, name)
        text = out.text()
        try:
            with open(path, encoding='utf-8') as fh:
                if fh.read() == text:
                    continue     # unchanged: keep the timestamp, spare the rebuild
        except OSError:
            pass
        with open(path + '.tmp', 'w', encoding='utf-8') as fh:
            fh.write(text)
        os.replace(path + '.tmp', path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
