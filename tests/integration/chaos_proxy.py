# SPDX-License-Identifier: Apache-2.0
"""A TCP proxy that cuts Kafka connections in the middle of Produce requests (issue 11).

ChaosProxy listens on 127.0.0.1 (an ephemeral port), connects each client to the broker at
`upstream` and relays bytes both ways, reading Kafka's framing: every frame is a 4-byte
big-endian size and that many bytes; a request starts with api_key (2), api_version (2) and
correlation_id (4); a response starts with correlation_id (4). It relays whole frames only, so
it always knows where a request or a response starts.

While armed, it cuts the connection of a Produce request once two things have happened since
the last cut: a while has passed (seconds drawn from `gap`), so that clients that batch
differently get about as many cuts in a run, and the broker's responses to some Produce requests
(a number drawn from `progress`) have reached their clients, so that the client makes progress
between two cuts: cutting the first request of every new connection would only make the client
retry the same batch forever. Both numbers, and the kind of cut, come from a random.Random seeded
with `seed`. A cut is one of:

    response   the request goes to the broker whole; when the broker's response to it comes
               back, that response and everything after it is dropped and both sides are
               closed. The broker wrote the records and the client never heard: a producer
               that retries writes them twice unless the broker recognises the retry.
    request    the request goes to the broker whole and both sides are closed at once,
               racing the broker's handling of it.
    partial    half of the request's frame goes to the broker, then both sides are closed:
               the broker sees a truncated frame and must write nothing.

The client's side is closed with a RST (SO_LINGER 0) or a FIN, at random too. At most
`max_cuts` cuts are made. Other requests (Metadata, InitProducerId, ...) are never cut, so a
client always gets through its handshake again after a cut.

The broker has to advertise the proxy's address (advertised.listeners, both for Runnel and for
Kafka), so that the clients, bootstrapped at the broker itself or at the proxy, send everything
after their first Metadata through the proxy. The proxy counts what it relayed (connections,
Produce requests and their responses) so that a test can check that the traffic really went
through it.

Threads, two per connection, with blocking sockets; stop() shuts every socket down, which ends
every blocked call, and joins every thread it started."""

import random
import socket
import struct
import threading
import time

HOST = "127.0.0.1"
PRODUCE = 0
CHUNK = 65536
ACCEPT_POLL = 0.5      # seconds: how often the acceptor looks at the stop flag
JOIN_TIMEOUT = 5.0
MODES = ("response", "request", "partial")


class _Cut(Exception):
    """Raised inside a relay thread when its connection has been cut."""


class _Conn:
    """One client connection and its connection to the broker."""

    def __init__(self, proxy, client, upstream, number):
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.number = number
        self.lock = threading.Lock()
        self.cut = False
        self.cut_on_response = set()   # (correlation id, rst) whose response ends the connection
        self.produce_corrs = set()     # correlation ids of Produce requests sent upstream
        self.threads = []

    def close(self, rst=False):
        """Closes both sockets (idempotent); with `rst` the client gets a RST, not a FIN."""
        with self.lock:
            if self.cut:
                return
            self.cut = True
        if rst:
            try:
                self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            except OSError:
                pass
        for s in (self.client, self.upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def _frames(buf):
    """Splits whole frames off the front of `buf` (a bytearray, consumed in place); returns them
    as bytes, size prefix included. A frame whose size is negative is returned alone, as is,
    with the rest of the buffer: the proxy relays it and lets the broker decide."""
    out = []
    while len(buf) >= 4:
        (size,) = struct.unpack_from(">i", buf, 0)
        if size < 0:
            out.append(bytes(buf))
            del buf[:]
            break
        if len(buf) < 4 + size:
            break
        out.append(bytes(buf[:4 + size]))
        del buf[:4 + size]
    return out


class ChaosProxy:
    """See the module's docstring. start() binds; set `upstream` before clients connect."""

    def __init__(self, seed=1, gap=(0.08, 0.2), progress=(2, 6), max_cuts=60, modes=None,
                 upstream=None):
        self.rng = random.Random(seed)
        self.seed = seed
        self.gap = gap
        self.progress = progress
        self.max_cuts = max_cuts
        # (mode, weight): mostly the case that makes duplicates.
        self.default_modes = modes or (("response", 6), ("request", 2), ("partial", 2))
        self.modes = self.default_modes
        # (host, port) of the broker, or a function that returns it (None: not known yet).
        self.upstream = upstream
        self.port = None
        self.armed = False
        self.cuts = {m: 0 for m in MODES}
        self.connections = 0
        self.refused = 0                # connections that came before `upstream` was set
        self.produce_requests = 0
        self.produce_responses = 0      # responses to Produce requests relayed to clients
        self.requests = 0
        self._lock = threading.Lock()
        self._stopping = False
        self._listener = None
        self._acceptor = None
        self._conns = []
        self._next_time = None          # no cut before this time.monotonic()
        self._next_progress = None      # nor before produce_responses reaches this

    # -- lifecycle -------------------------------------------------------------------------

    def start(self):
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(64)
        self._listener.settimeout(ACCEPT_POLL)
        self.port = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, name="chaos-accept", daemon=True)
        self._acceptor.start()
        return self

    def stop(self):
        """Closes the listener and every connection; joins every thread."""
        self._stopping = True
        if self._acceptor is not None:
            self._acceptor.join(JOIN_TIMEOUT)
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            conn.close()
            for t in conn.threads:
                t.join(JOIN_TIMEOUT)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def address(self):
        return "%s:%d" % (HOST, self.port)

    def arm(self, max_cuts=None, modes=None):
        """Starts cutting (the first Produce request after a first gap); `max_cuts`, when
        given, replaces the constructor's, and `modes` does for this arming only."""
        with self._lock:
            if max_cuts is not None:
                self.max_cuts = max_cuts
            self.modes = modes or self.default_modes
            self._schedule()
            self.armed = True

    def disarm(self):
        with self._lock:
            self.armed = False

    def reset_counts(self):
        with self._lock:
            self.cuts = {m: 0 for m in MODES}
            self.produce_requests = 0
            self.produce_responses = 0
            self.requests = 0
            self.connections = 0

    def total_cuts(self):
        with self._lock:
            return sum(self.cuts.values())

    def stats(self):
        with self._lock:
            return {"connections": self.connections, "requests": self.requests,
                    "produce_requests": self.produce_requests,
                    "produce_responses": self.produce_responses, "cuts": dict(self.cuts),
                    "total_cuts": sum(self.cuts.values())}

    # -- relaying --------------------------------------------------------------------------

    def _accept(self):
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            target = self.upstream() if callable(self.upstream) else self.upstream
            if target is None:
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(target, timeout=5)
            except OSError:
                client.close()
                continue
            # Blocking sockets: close() shuts both down, which wakes a thread blocked in them.
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.settimeout(None)
            with self._lock:
                self.connections += 1
                conn = _Conn(self, client, upstream, self.connections)
                # Forget connections that are over, so that a long run keeps a short list.
                self._conns = [c for c in self._conns if not c.cut] + [conn]
            for target, name in ((self._requests, "c2b"), (self._responses, "b2c")):
                t = threading.Thread(target=self._run, args=(target, conn),
                                     name="chaos-%s-%d" % (name, conn.number), daemon=True)
                conn.threads.append(t)
                t.start()

    def _run(self, target, conn):
        try:
            target(conn)
        except (_Cut, OSError):
            pass
        finally:
            conn.close()

    def _recv(self, conn, sock):
        """Bytes from `sock`, b"" at EOF; raises _Cut once the connection is cut."""
        if conn.cut:
            raise _Cut()
        return sock.recv(CHUNK)

    def _schedule(self):
        """Sets the earliest next cut. Called with the lock held."""
        self._next_time = time.monotonic() + self.rng.uniform(*self.gap)
        self._next_progress = self.produce_responses + self.rng.randint(*self.progress)

    def _decide(self, conn, frame):
        """The cut to make with this request frame, or None. Counts requests and remembers
        the correlation ids of Produce requests."""
        if len(frame) < 12:
            return None
        api_key, _, corr = struct.unpack_from(">hhi", frame, 4)
        with self._lock:
            self.requests += 1
            if api_key != PRODUCE:
                return None
            self.produce_requests += 1
            conn.produce_corrs.add(corr)
            if (not self.armed or sum(self.cuts.values()) >= self.max_cuts
                    or time.monotonic() < self._next_time
                    or self.produce_responses < self._next_progress):
                return None
            self._schedule()
            mode = self.rng.choices([m for m, _ in self.modes],
                                    weights=[w for _, w in self.modes])[0]
            rst = self.rng.random() < 0.5
            self.cuts[mode] += 1
        return mode, rst

    def _requests(self, conn):
        buf = bytearray()
        while True:
            data = self._recv(conn, conn.client)
            if not data:
                return
            buf += data
            for frame in _frames(buf):
                decision = self._decide(conn, frame)
                if decision is None:
                    conn.upstream.sendall(frame)
                    continue
                mode, rst = decision
                if mode == "partial":
                    conn.upstream.sendall(frame[:max(4, len(frame) // 2)])
                    conn.close(rst)
                    raise _Cut()
                if mode == "response":
                    (corr,) = struct.unpack_from(">i", frame, 8)
                    with conn.lock:
                        conn.cut_on_response.add((corr, rst))
                    conn.upstream.sendall(frame)
                    continue
                conn.upstream.sendall(frame)   # "request"
                conn.close(rst)
                raise _Cut()

    def _responses(self, conn):
        buf = bytearray()
        while True:
            data = self._recv(conn, conn.upstream)
            if not data:
                return
            buf += data
            for frame in _frames(buf):
                produce = False
                if len(frame) >= 8:
                    (corr,) = struct.unpack_from(">i", frame, 4)
                    with conn.lock:
                        hit = [e for e in conn.cut_on_response if e[0] == corr]
                    if hit:
                        # Progress counts from the cut itself: responses relayed between
                        # the decision and now were to requests sent before this one.
                        with self._lock:
                            self._schedule()
                        conn.close(hit[0][1])
                        raise _Cut()
                    produce = corr in conn.produce_corrs
                    conn.produce_corrs.discard(corr)
                conn.client.sendall(frame)
                if produce:
                    with self._lock:
                        self.produce_responses += 1
