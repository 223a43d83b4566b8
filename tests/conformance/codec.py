# SPDX-License-Identifier: Apache-2.0
"""A generic Kafka message codec driven by our own schema files (proto/*.schema, read with
proto/schema.py), for tests that talk to any Kafka-protocol broker.

Values are plain Python: a struct is a dict keyed by field name in wire order, an array a
list (None when null), int8..int64 and uint16 an int, float64 a float, bool a bool, string a
str (None when null), bytes and records a bytes object (None when null), uuid a canonical
lower-case UUID string. A nullable struct is None when null.

    codec = Codec.load()                         # every proto/*.schema of this tree
    frame = codec.encode_request(3, 12, 7, "client", {"topics": None})
    corr, body = codec.decode_response(3, 12, payload)   # payload: frame without its size

Encoding fills every field the caller left out with its schema default, and writes a tagged
field only when its value differs from the default (KIP-482), as Kafka does. Decoding is
strict: every length is checked, a response must use up its bytes exactly, and an error names
the field path and byte position. A decoded struct holds exactly the fields on the wire in
that version; tagged fields that were absent get their defaults, and tags the schema does not
know are kept as "_tag<N>": hex string, so that a comparison notices them.

Header versions follow the protocol guide: request header v2 for flexible request versions (v1
otherwise), response header v1 for flexible versions, except ApiVersions, whose response
header is always v0 (KIP-511)."""

import glob
import os
import struct
import sys
import uuid as uuidlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "proto"))

import schema as schema_model  # noqa: E402  (proto/schema.py: the one parser of our schemas)

API_VERSIONS_KEY = 18
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
# Decoding guard: no count or length in a test response comes near this; a bigger one is a
# misparse, reported at once instead of allocating for it.
MAX_COUNT = 1 << 20

_FIXED = {
    "int8": ">b", "int16": ">h", "int32": ">i", "int64": ">q", "uint16": ">H", "float64": ">d",
}


class CodecError(Exception):
    """A value that cannot be encoded, or bytes that do not decode, with where it happened."""


# -- primitives ---------------------------------------------------------------------------------

def uvarint(n):
    if n < 0:
        raise CodecError("uvarint of negative %d" % n)
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class Reader:
    """A cursor over bytes that can't run past its end; errors name the byte position."""

    def __init__(self, data, pos=0, end=None):
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def left(self):
        return self.end - self.pos

    def take(self, n, what):
        if n < 0 or n > self.left():
            raise CodecError("%s: need %d bytes at byte %d, %d left" % (what, n, self.pos,
                                                                        self.left()))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return bytes(b)

    def fixed(self, kind, what):
        fmt = _FIXED[kind]
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]

    def uvarint(self, what):
        value = shift = 0
        for _ in range(5):
            b = self.take(1, what)[0]
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
        raise CodecError("%s: unsigned varint longer than 5 bytes at byte %d" % (what, self.pos))


# -- the model ----------------------------------------------------------------------------------

class Codec:
    """Encoders and decoders for every message of a set of schema files."""

    def __init__(self, msgs):
        self.apis = {}          # key -> schema Message
        self.headers = {}       # name -> schema Message
        for m in msgs:
            if m.kind == "api":
                self.apis[m.key] = m
            else:
                self.headers[m.name] = m
        self.request_header = self.headers["RequestHeader"]
        self.response_header = self.headers["ResponseHeader"]

    @classmethod
    def load(cls, proto_dir=None):
        proto_dir = proto_dir or os.path.join(REPO, "proto")
        return cls(schema_model.load(sorted(glob.glob(os.path.join(proto_dir, "*.schema")))))

    # -- what the schemas know ----------------------------------------------------------------

    def api(self, key):
        m = self.apis.get(key)
        if m is None:
            raise CodecError("no schema for API key %d" % key)
        return m

    def name(self, key):
        m = self.apis.get(key)
        return m.name if m is not None else "ApiKey%d" % key

    def key(self, name):
        for k, m in self.apis.items():
            if m.name == name:
                return k
        raise CodecError("no schema for API %s" % name)

    def versions(self, key):
        """(lo, hi) of the versions our schema describes for `key`, or None."""
        m = self.apis.get(key)
        return (m.versions.lo, m.versions.hi) if m is not None else None

    def has_version(self, key, version):
        m = self.apis.get(key)
        return m is not None and m.versions.contains(version)

    def flexible(self, key, version):
        return self.api(key).flexible.contains(version)

    def request_header_version(self, key, version):
        return 2 if self.flexible(key, version) else 1

    def response_header_version(self, key, version):
        if key == API_VERSIONS_KEY:
            return 0
        return 1 if self.flexible(key, version) else 0

    def section(self, key, kind):
        m = self.api(key)
        return m, next(s for s in m.sections if s.kind == kind)

    # -- whole frames ----------------------------------------------------------------------

    def encode_request(self, key, version, correlation_id, client_id, body):
        """Request header and body, without the 4-byte size prefix."""
        m, sec = self.section(key, "request")
        self._check_version(m, version)
        hv = self.request_header_version(key, version)
        hdr = {"request_api_key": key, "request_api_version": version,
               "correlation_id": correlation_id, "client_id": client_id}
        out = bytearray()
        self._enc_struct(out, self.request_header, self.request_header.sections[0].top, hv, hdr,
                         "header")
        self._enc_struct(out, m, sec.top, version, body or {}, m.name)
        return bytes(out)

    def encode_body(self, key, kind, version, body):
        m, sec = self.section(key, kind)
        self._check_version(m, version)
        out = bytearray()
        self._enc_struct(out, m, sec.top, version, body or {}, m.name)
        return bytes(out)

    def decode_request(self, payload):
        """(header dict, body dict) of a whole request frame without its size prefix."""
        r = Reader(payload)
        key = r.fixed("int16", "request_api_key")
        version = r.fixed("int16", "request_api_version")
        r.pos = 0
        m = self.api(key)
        self._check_version(m, version)
        hv = self.request_header_version(key, version)
        hdr = self._dec_struct(r, self.request_header, self.request_header.sections[0].top, hv,
                               "header")
        body = self.decode_body(key, "request", version, r)
        return hdr, body

    def decode_response(self, key, version, payload):
        """(correlation id, body dict) of a response frame without its size prefix."""
        r = Reader(payload)
        hv = self.response_header_version(key, version)
        hdr = self._dec_struct(r, self.response_header, self.response_header.sections[0].top, hv,
                               "header")
        return hdr["correlation_id"], self.decode_body(key, "response", version, r)

    def decode_body(self, key, kind, version, r):
        """Decodes one body from Reader `r` (or bytes); it must use up what is left."""
        if not isinstance(r, Reader):
            r = Reader(r)
        m, sec = self.section(key, kind)
        self._check_version(m, version)
        body = self._dec_struct(r, m, sec.top, version, m.name)
        if r.left():
            raise CodecError("%s %s v%d: %d bytes left over after byte %d"
                             % (m.name, kind, version, r.left(), r.pos))
        return body

    @staticmethod
    def _check_version(m, version):
        if not m.versions.contains(version):
            raise CodecError("%s: our schema has no version %d (it has %d-%d)"
                             % (m.name, version, m.versions.lo, m.versions.hi))

    # -- defaults ------------------------------------------------------------------------------

    def default(self, msg, f, version):
        """The value field `f` takes when it is absent: its schema default, as gen.py's init.
        A null default stands only in versions where the field is nullable; elsewhere it is the
        empty value, which is what gen.py's encoders send for it."""
        k = f.kind()
        d = f.default
        null_ok = f.nullable.contains(version)
        if k in ("array", "struct_array"):
            return None if d == "null" and null_ok else []
        if k == "struct":
            if null_ok and (d == "null" or d is None):
                return None
            return self.default_struct(msg, f.struct, version)
        if f.elem == "string":
            if null_ok and (d == "null" or (d is None and not f.nullable.empty())):
                return None
            return ""
        if f.elem in ("bytes", "records"):
            if null_ok and (d == "null" or (d is None and not f.nullable.empty())):
                return None
            return b""
        if f.elem == "uuid":
            return ZERO_UUID
        if f.elem == "bool":
            return d == "true"
        if f.elem == "float64":
            return float(d) if d is not None else 0.0
        return int(d, 0) if d is not None else 0

    def default_struct(self, msg, st, version):
        return {f.name: self.default(msg, f, version) for f in st.fields
                if f.versions.contains(version)}

    # -- encoding ------------------------------------------------------------------------------

    def _enc_struct(self, out, msg, st, v, value, path):
        if not isinstance(value, dict):
            raise CodecError("%s: a struct needs a dict, got %r" % (path, value))
        known = {f.name for f in st.fields}
        extra = [k for k in value if k not in known and not k.startswith("_tag")]
        if extra:
            raise CodecError("%s: fields %s are not in the schema" % (path, ", ".join(extra)))
        flex = msg.flexible.contains(v)
        tagged = []
        for f in st.fields:
            if not f.versions.contains(v):
                continue
            val = value[f.name] if f.name in value else self.default(msg, f, v)
            if f.tag is not None:
                if flex and not self._is_default(msg, f, v, val):
                    tagged.append((f.tag, f, val))
                continue
            self._enc_field(out, msg, f, v, val, "%s.%s" % (path, f.name))
        if flex:
            raw = [(int(k[4:]), bytes.fromhex(val)) for k, val in value.items()
                   if k.startswith("_tag")]
            entries = []
            for tag, f, val in tagged:
                sub = bytearray()
                self._enc_field(sub, msg, f, v, val, "%s.%s" % (path, f.name))
                entries.append((tag, bytes(sub)))
            entries.extend(raw)
            entries.sort(key=lambda e: e[0])
            out += uvarint(len(entries))
            for tag, data in entries:
                out += uvarint(tag) + uvarint(len(data)) + data

    def _is_default(self, msg, f, v, val):
        return self._normal(val) == self._normal(self.default(msg, f, v))

    @staticmethod
    def _normal(val):
        return val.lower() if isinstance(val, str) and len(val) == 36 and val.count("-") == 4 \
            else val

    def _enc_field(self, out, msg, f, v, val, path):
        compact = msg.flexible.contains(v) and not f.flex_none
        nullable = f.nullable.contains(v)
        k = f.kind()
        if k in ("array", "struct_array"):
            if val is None and not nullable:
                raise CodecError("%s: null array in v%d, where it is not nullable" % (path, v))
            n = -1 if val is None else len(val)
            out += (uvarint(n + 1) if compact else struct.pack(">i", n))
            for i, item in enumerate(val or ()):
                self._enc_value(out, msg, f, v, item, compact, "%s[%d]" % (path, i))
            return
        if k == "struct" and not f.nullable.empty():
            if nullable:
                out += struct.pack(">b", -1 if val is None else 1)
                if val is None:
                    return
            elif val is None:
                val = self.default_struct(msg, f.struct, v)
        self._enc_value(out, msg, f, v, val, compact, path, nullable)

    def _enc_value(self, out, msg, f, v, val, compact, path, nullable=False):
        e = f.elem
        if f.elem_is_struct:
            self._enc_struct(out, msg, f.struct, v, val, path)
        elif e == "string":
            if val is None:
                if not nullable:
                    raise CodecError("%s: null string in v%d, where it is not nullable" % (path, v))
                out += uvarint(0) if compact else struct.pack(">h", -1)
                return
            b = val.encode("utf-8") if isinstance(val, str) else bytes(val)
            if not compact and len(b) > 0x7FFF:
                raise CodecError("%s: a string of %d bytes does not fit INT16" % (path, len(b)))
            out += (uvarint(len(b) + 1) if compact else struct.pack(">h", len(b))) + b
        elif e in ("bytes", "records"):
            if val is None:
                if not nullable:
                    raise CodecError("%s: null bytes in v%d, where they are not nullable"
                                     % (path, v))
                out += uvarint(0) if compact else struct.pack(">i", -1)
                return
            b = bytes(val)
            out += (uvarint(len(b) + 1) if compact else struct.pack(">i", len(b))) + b
        elif e == "uuid":
            out += uuidlib.UUID(val).bytes if isinstance(val, str) else bytes(val)
        elif e == "bool":
            out += b"\x01" if val else b"\x00"
        else:
            try:
                out += struct.pack(_FIXED[e], val)
            except struct.error as exc:
                raise CodecError("%s: %r is not a %s (%s)" % (path, val, e, exc))

    # -- decoding ------------------------------------------------------------------------------

    def _dec_struct(self, r, msg, st, v, path):
        flex = msg.flexible.contains(v)
        out = {}
        tagged = {}
        for f in st.fields:
            if not f.versions.contains(v):
                continue
            if f.tag is not None:
                tagged[f.tag] = f
                out[f.name] = self.default(msg, f, v)
                continue
            out[f.name] = self._dec_field(r, msg, f, v, "%s.%s" % (path, f.name))
        if flex:
            n = r.uvarint(path + ": tagged field count")
            last = -1
            for _ in range(n):
                tag = r.uvarint(path + ": tag")
                size = r.uvarint(path + ": tagged field size")
                if tag <= last:
                    raise CodecError("%s: tag %d after tag %d (tags must ascend, KIP-482)"
                                     % (path, tag, last))
                last = tag
                start = r.pos
                data = r.take(size, "%s: tag %d" % (path, tag))
                f = tagged.get(tag)
                if f is None:
                    out["_tag%d" % tag] = data.hex()
                    continue
                sub = Reader(r.data, start, start + size)
                fpath = "%s.%s" % (path, f.name)
                out[f.name] = self._dec_field(sub, msg, f, v, fpath)
                if sub.left():
                    raise CodecError("%s: %d bytes left inside tagged field %d"
                                     % (fpath, sub.left(), tag))
        return out

    def _dec_field(self, r, msg, f, v, path):
        compact = msg.flexible.contains(v) and not f.flex_none
        nullable = f.nullable.contains(v)
        k = f.kind()
        if k in ("array", "struct_array"):
            if compact:
                n = r.uvarint(path + ": array length") - 1
            else:
                n = r.fixed("int32", path + ": array length")
            if n < 0:
                if n == -1 and nullable:
                    return None
                raise CodecError("%s: array length %d at byte %d (%s)"
                                 % (path, n, r.pos, "null where not nullable" if n == -1
                                    else "negative"))
            if n > MAX_COUNT or n > r.left():
                raise CodecError("%s: array of %d with %d bytes left" % (path, n, r.left()))
            return [self._dec_value(r, msg, f, v, compact, False, "%s[%d]" % (path, i))
                    for i in range(n)]
        if k == "struct" and not f.nullable.empty() and nullable:
            marker = r.fixed("int8", path + ": presence")
            if marker == -1:
                return None
            if marker != 1:
                raise CodecError("%s: struct presence marker %d at byte %d"
                                 % (path, marker, r.pos - 1))
        return self._dec_value(r, msg, f, v, compact, nullable, path)

    def _dec_value(self, r, msg, f, v, compact, nullable, path):
        e = f.elem
        if f.elem_is_struct:
            return self._dec_struct(r, msg, f.struct, v, path)
        if e in ("string", "bytes", "records"):
            if compact:
                n = r.uvarint(path + ": length") - 1
            else:
                n = r.fixed("int16" if e == "string" else "int32", path + ": length")
            if n < 0:
                if n == -1 and nullable:
                    return None
                raise CodecError("%s: length %d at byte %d (%s)"
                                 % (path, n, r.pos, "null where not nullable" if n == -1
                                    else "negative"))
            data = r.take(n, path)
            if e == "string":
                try:
                    return data.decode("utf-8")
                except UnicodeDecodeError:
                    raise CodecError("%s: not UTF-8: %s" % (path, data.hex()))
            return data
        if e == "uuid":
            return str(uuidlib.UUID(bytes=r.take(16, path)))
        if e == "bool":
            b = r.take(1, path)[0]
            return b != 0
        return r.fixed(e, path)
