# SPDX-License-Identifier: Apache-2.0
"""Runnel's schema files (proto/README.md): parsing and checking into a model of messages,
sections, structs and fields with their version ranges. Used by gen.py; standard library only."""

import os
import re

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
