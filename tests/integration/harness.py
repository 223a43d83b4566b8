# SPDX-License-Identifier: Apache-2.0
"""Shared fixture of the integration tests: a real runnel process on an ephemeral port.

Broker() starts $RUNNEL_BIN (set by tests/integration/meson.build) on PLAINTEXT://127.0.0.1:0 with
a fresh temporary data directory and debug logging, waits (at most 10 s) for its
`listening on HOST:PORT` line on stderr and keeps copying stderr to a log file in a thread.
stop() sends SIGTERM and checks that the broker exits with status 0 within 10 s; it uses
SIGKILL, on the broker's own pid, only when the broker does not exit. The log's tail is printed
to stdout, which meson shows for a failing test.

The same Broker can run several times on one data directory: restart() stops it (SIGTERM, exit 0
checked) and starts it again on the same port, kill9() kills it without cleaning anything, and
start() after kill9() recovers from the same directory. run_lines() returns the stderr lines of
the current run only; lines() those of every run. Call start()/restart() from the test's main
thread: the kernel kills the broker when the thread that started it exits (PR_SET_PDEATHSIG).

Also here: a small Kafka wire client (KafkaSocket) for tests that send raw frames, and
BrokerTestCase, a unittest.TestCase that runs one broker per test.
"""

import ctypes
import json
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HOST = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
LISTENING_RE = re.compile(r"listening on (\S+):(\d+)")
LOG_TAIL_LINES = 200

HERE = os.path.dirname(os.path.abspath(__file__))


def runnel_bin():
    path = os.environ.get("RUNNEL_BIN")
    if not path:
        raise RuntimeError("RUNNEL_BIN is not set: run the integration tests with `meson test` "
                           "(or ./scripts/test)")
    return path


def _die_with_parent():
    """Runs in the child before exec: if this test process dies (say a meson timeout kills it),
    the kernel sends SIGKILL to the broker so that no broker outlives its test."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # pragma: no cover - best effort only
        pass


def run(cmd, timeout=30, **kwargs):
    """Runs a client command to completion with a bounded wait; returns CompletedProcess."""
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, errors="replace",
                          timeout=timeout, **kwargs)


class Ephemeral:
    """`runnel --ephemeral` for a test (issue 15): started with a pipe on its stdin, its first
    stdout line (the announcement) parsed into info, bootstrap, control and port. stop() closes
    stdin, which stops it and removes its data directory, and waits (a kill after `timeout`).
    stderr goes to `stderr` (a file object), else nowhere."""

    def __init__(self, *args, stderr=None, timeout=30):
        self.timeout = timeout
        self.proc = subprocess.Popen([runnel_bin(), "--ephemeral", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=stderr if stderr is not None else subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            raise AssertionError("no announcement line (exit %s)" % self.proc.poll())
        self.info = json.loads(line)
        self.bootstrap = self.info["bootstrap"]
        self.control = self.info["control"]
        self.port = int(self.bootstrap.rsplit(":", 1)[1])

    def stop(self):
        """Closes stdin and waits; the exit status, or None when it had to be killed."""
        status = self.proc.poll()
        if status is None:
            self.proc.stdin.close()
            try:
                status = self.proc.wait(self.timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                status = None
        self.proc.stdout.close()
        return status


class Broker:
    """One runnel process. Use start()/stop() or `with Broker() as broker:`."""

    def __init__(self, overrides=(), config_file=None, args=(), config_flag="-c", nofile=None,
                 start_timeout=START_TIMEOUT):
        self.overrides = list(overrides)
        # Seconds a start may take until it listens: recovery after a kill -9 of a broker with
        # tens of thousands of partitions takes longer than the default under ASan.
        self.start_timeout = start_timeout
        # (soft, hard) RLIMIT_NOFILE for the broker process only, say (64, 64) to run it out
        # of descriptors; None: inherited from this process.
        self.nofile = nofile
        self.config_file = config_file
        self.config_flag = config_flag
        self.args = list(args)
        self.proc = None
        self.host = None
        self.port = None
        self.tmpdir = None
        self.data_dir = None
        self.log_path = None
        self.runs = 0             # how many times this broker has been started
        self._run_start = 0       # index in _lines of the current run's first line
        self._run_starts = []
        self._lines = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._reader = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, port=0):
        """Starts the broker on `port` (0: any free port). The first start makes a fresh
        temporary data directory; later starts (after stop(keep_data=True) or kill9()) reuse it."""
        if self.tmpdir is None:
            self.tmpdir = tempfile.mkdtemp(prefix="runnel-it-")
            self.data_dir = os.path.join(self.tmpdir, "data")
            self.log_path = os.path.join(self.tmpdir, "broker.log")
        cmd = [runnel_bin()]
        if self.config_file:
            cmd += [self.config_flag, self.config_file]
        cmd += ["--override", "listeners=PLAINTEXT://%s:%d" % (HOST, port),
                "--override", "log.dirs=%s" % self.data_dir,
                "--override", "log.level=debug"]
        # RUNNEL_IT_OVERRIDES: more overrides for every broker of a run, separated by spaces,
        # say "runnel.log.open.files.max=1" to run a suite with every segment file reopened.
        for kv in self.overrides + os.environ.get("RUNNEL_IT_OVERRIDES", "").split():
            cmd += ["--override", kv]
        cmd += self.args
        self.cmd = cmd
        self.host = self.port = None
        self.runs += 1
        with self._lock:
            self._run_start = len(self._lines)
            self._run_starts.append(self._run_start)
        ready = self._ready = threading.Event()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, preexec_fn=self._preexec)
        self._reader = threading.Thread(target=self._drain, args=(self.proc, ready, self.runs),
                                        name="runnel-stderr", daemon=True)
        self._reader.start()
        if not ready.wait(self.start_timeout) or self.port is None:
            code = self.proc.poll()
            self._kill()
            self.dump_log()
            self._cleanup()
            raise AssertionError("broker did not log 'listening on HOST:PORT' within %.0f s "
                                 "(exit status %s); command: %s"
                                 % (self.start_timeout, code, " ".join(cmd)))
        return self

    def _preexec(self):
        """In the child before exec: dies with the test, and takes the descriptor limit."""
        _die_with_parent()
        if self.nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, self.nofile)

    def _drain(self, proc, ready, run):
        with open(self.log_path, "a", encoding="utf-8", errors="replace") as log:
            log.write("==== run %d: %s ====\n" % (run, " ".join(self.cmd)))
            for raw in proc.stderr:
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                log.write(line + "\n")
                log.flush()
                with self._lock:
                    self._lines.append(line)
                if self.port is None:
                    m = LISTENING_RE.search(line)
                    if m:
                        self.host, self.port = m.group(1), int(m.group(2))
                        ready.set()
        ready.set()  # EOF: the broker exited (or closed stderr) before or after binding

    def stop(self, sig=signal.SIGTERM, keep_data=False):
        """Stops the broker with `sig` and asserts that it exits 0 within STOP_TIMEOUT. With
        `keep_data` the data directory stays for a later start() and the log is not printed."""
        if self.proc is None:
            return
        ok = False
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
            try:
                code = self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                stacks = thread_stacks(self.proc.pid)
                self._kill()
                raise AssertionError("broker did not exit within %.0f s of %s; killed with SIGKILL"
                                     "%s" % (STOP_TIMEOUT, signal.Signals(sig).name, stacks))
            self._reader.join(5)
            if code != 0:
                what = ("killed by %s" % signal.Signals(-code).name) if code < 0 else "status %d" % code
                raise AssertionError("broker exited with %s after %s (expected status 0)"
                                     % (what, signal.Signals(sig).name))
            ok = True
        finally:
            if not (keep_data and ok):
                self.dump_log()
                self._cleanup()
            else:
                self._close_proc()

    def kill9(self):
        """SIGKILL to the broker's own pid; waits for it to die. The data directory stays."""
        if self.proc is None:
            raise AssertionError("kill9(): the broker is not running")
        self._kill()
        self._close_proc()

    def discard(self):
        """SIGKILL (if running) and removes the data directory: for a test whose clean stop is
        not what it tests, such as one that leaves a thousand dirty partitions to flush."""
        if self.proc is not None:
            self.kill9()
        self._cleanup()

    def restart(self, sig=signal.SIGTERM, same_port=True):
        """Stops the broker with `sig` (SIGKILL: no exit status check) and starts it again on the
        same data directory, on the same port unless `same_port` is false."""
        port = self.port if same_port else 0
        if sig == signal.SIGKILL:
            self.kill9()
        else:
            self.stop(sig, keep_data=True)
        return self.start(port=port or 0)

    def _close_proc(self):
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None

    def _cleanup(self):
        self._close_proc()
        if self.tmpdir and not os.environ.get("RUNNEL_KEEP_TMP"):
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None

    def _kill(self):
        """Last resort: SIGKILL to the broker's own pid."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self._reader is not None:
            self._reader.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- observation -----------------------------------------------------------------------

    @property
    def bootstrap(self):
        return "%s:%d" % (HOST, self.port)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def lines(self):
        """stderr lines of every run so far."""
        with self._lock:
            return list(self._lines)

    def run_lines(self):
        """stderr lines of the current (or last) run only."""
        with self._lock:
            return list(self._lines[self._run_start:])

    def wait_for_line(self, pattern, timeout=10.0, this_run=False):
        """Returns the first stderr line matching `pattern` (a regex), waiting at most `timeout`;
        with `this_run`, only lines of the current run count."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in (self.run_lines() if this_run else self.lines()):
                if rx.search(line):
                    return line
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def dump_log(self):
        lines = self.lines()
        first = max(0, len(lines) - LOG_TAIL_LINES)
        print("---- broker stderr (%s), last %d of %d lines, %d run(s) ----"
              % (" ".join(getattr(self, "cmd", [])), len(lines) - first, len(lines), self.runs))
        starts = {i: n + 1 for n, i in enumerate(self._run_starts)}
        for i in range(first, len(lines)):
            if i in starts and self.runs > 1:
                print("==== run %d ====" % starts[i])
            print(lines[i])
        print("---- end of broker stderr ----")
        sys.stdout.flush()


def thread_stacks(pid):
    """Every thread's stack of a process that hangs, from gdb when the machine has it (CI
    installs it), so that a hang seen once can be understood; "" without gdb."""
    gdb = shutil.which("gdb")
    if gdb is None:
        return ""
    try:
        out = subprocess.run([gdb, "-p", str(pid), "-batch", "-ex", "thread apply all bt 20"],
                             capture_output=True, text=True, timeout=30).stdout
    except (subprocess.SubprocessError, OSError) as e:
        return "\n(gdb failed: %s)" % e
    lines = [l for l in out.splitlines() if l.startswith(("#", "Thread"))]
    return "\nthreads of the hung broker:\n" + "\n".join(lines)


def partition_dir(data_dir, topic, partition):
    return os.path.join(data_dir, "%s-%d" % (topic, partition))


def segment_bytes(data_dir, topic, partition):
    """{file name: bytes} of every .log segment of one partition (Kafka's layout:
    <log.dir>/<topic>-<partition>/<20-digit base offset>.log); {} when the directory is missing."""
    d = partition_dir(data_dir, topic, partition)
    out = {}
    if os.path.isdir(d):
        for name in sorted(os.listdir(d)):
            if name.endswith(".log"):
                with open(os.path.join(d, name), "rb") as f:
                    out[name] = f.read()
    return out


class BrokerTestCase(unittest.TestCase):
    """Each test gets its own broker, started with the class's `overrides`, and the broker must
    stop cleanly (SIGTERM -> exit 0) after the test. The stop is a cleanup, not tearDown, so it
    also runs when a subclass's setUp fails after super().setUp() (say, creating a topic): no
    broker or temporary directory is left behind."""

    overrides = ()
    config_file = None

    def setUp(self):
        self.broker = Broker(overrides=self.overrides, config_file=self.config_file).start()
        self.addCleanup(self._stop_broker)

    def _stop_broker(self):
        broker, self.broker = self.broker, None
        if broker is not None:
            broker.stop()


# -- a minimal Kafka wire client for raw-socket tests --------------------------------------

API_VERSIONS = 18
METADATA = 3


def uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def compact_string(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


def request_header(api_key, api_version, correlation_id, client_id="runnel-it", flexible=False):
    """Request header v1 (v2 when `flexible`: v1 plus an empty tag section)."""
    cid = client_id.encode()
    hdr = struct.pack(">hhih", api_key, api_version, correlation_id, len(cid)) + cid
    if flexible:
        hdr += uvarint(0)
    return hdr


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


class Reader:
    """Reads Kafka primitives from a bytes payload; raises AssertionError past the end."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise AssertionError("response too short: need %d bytes at %d of %d"
                                 % (n, self.pos, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def int16(self):
        return struct.unpack(">h", self.take(2))[0]

    def int32(self):
        return struct.unpack(">i", self.take(4))[0]

    def int8(self):
        return struct.unpack(">b", self.take(1))[0]

    def int64(self):
        return struct.unpack(">q", self.take(8))[0]

    def string(self):
        """INT16-length string; None for a null (-1) one."""
        n = self.int16()
        return None if n < 0 else self.take(n).decode("utf-8", errors="replace")

    def compact_string(self):
        """Compact (uvarint length + 1) string; None for a null (0) one."""
        n = self.uvarint() - 1
        return None if n < 0 else self.take(n).decode("utf-8", errors="replace")

    def uvarint(self):
        shift = value = 0
        while True:
            b = self.take(1)[0]
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
            if shift > 28:
                raise AssertionError("uvarint too long at %d" % self.pos)

    def skip_tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()              # tag
            self.take(self.uvarint())   # size, data

    def remaining(self):
        return len(self.data) - self.pos


class KafkaSocket:
    """A blocking socket with bounded waits, speaking Kafka's size-prefixed frames."""

    def __init__(self, port, timeout=10.0):
        self.timeout = timeout
        self.sock = socket.create_connection((HOST, port), timeout=timeout)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_request(self, api_key, api_version, correlation_id, body=b"", flexible=False,
                     client_id="runnel-it"):
        self.send_raw(frame(request_header(api_key, api_version, correlation_id, client_id,
                                           flexible) + body))

    def _recv_exact(self, n):
        buf = bytearray()
        deadline = time.monotonic() + self.timeout
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out after %.0f s waiting for %d bytes (got %d)"
                                     % (self.timeout, n, len(buf)))
            self.sock.settimeout(left)
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise AssertionError("connection closed by the broker after %d of %d bytes"
                                     % (len(buf), n))
            buf += chunk
        return bytes(buf)

    def recv_frame(self):
        (size,) = struct.unpack(">i", self._recv_exact(4))
        if size < 4 or size > 64 << 20:
            raise AssertionError("implausible response size %d" % size)
        return self._recv_exact(size)

    def recv_response(self):
        """Reads one frame and returns (correlation_id, Reader positioned after header v0)."""
        r = Reader(self.recv_frame())
        return r.int32(), r

    def wait_closed(self, timeout=10.0):
        """True when the broker closes (EOF or reset) within `timeout`; bytes it sends first are
        returned as the second element."""
        got = bytearray()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, bytes(got)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False, bytes(got)
            except (ConnectionResetError, BrokenPipeError):
                return True, bytes(got)
            if not chunk:
                return True, bytes(got)
            got += chunk


def parse_api_versions_v0_body(r):
    """ApiVersions response body v0: error_code, [api_key min max]. Returns (error, {key: (min, max)})
    and checks that the body has no bytes left over."""
    error = r.int16()
    n = r.int32()
    if n < 0 or n > 1000:
        raise AssertionError("implausible api_keys count %d" % n)
    keys = {}
    for _ in range(n):
        key, lo, hi = r.int16(), r.int16(), r.int16()
        keys[key] = (lo, hi)
    if r.remaining():
        raise AssertionError("%d bytes left after an ApiVersions v0 body" % r.remaining())
    return error, keys
