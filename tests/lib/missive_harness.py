"""Shared test harness for Missive's integration and end-to-end tests.

Python 3 standard library only. Everything talks to 127.0.0.1, every socket has a
timeout, every wait is bounded.

Main pieces:
  MissiveServer      start/stop/kill a `missived serve` child on ephemeral ports
  MissiveTestCase    unittest.TestCase base: registers servers, dumps their logs on failure
  SmtpClient         raw-socket SMTP client returning parsed (multi-line) replies
  Pop3Client         raw-socket POP3 client (single and multi-line responses, dot-unstuffing)
  helpers            message construction, dot-stuffing, delivery polling, DB queries
"""

import base64
import os
import pty
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import missive_pg

HOST = "127.0.0.1"
DOMAIN = "example.test"
HOSTNAME = "mx.example.test"
PASSWORD = "secret"
SOCKET_TIMEOUT = 10.0
DEFAULT_WAIT = 10.0

_HERE = os.path.dirname(os.path.abspath(__file__))
_DEFAULT_BINARY = os.path.normpath(os.path.join(_HERE, "..", "..", "build", "server", "missived"))

LISTEN_RE = re.compile(
    r"^missived: (smtp|pop3|submission|submissions|pop3s|metrics) listening on 127\.0\.0\.1:(\d+)$")
QUEUED_RE = re.compile(r"^Ok: queued as ([A-Z0-9]+)$")


class HarnessError(AssertionError):
    """Raised when the harness itself cannot do its job (server does not start, ...).

    It derives from AssertionError so that unittest reports it as a FAILURE, never a skip.
    """


def missived_path():
    path = os.environ.get("MISSIVED") or _DEFAULT_BINARY
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise HarnessError(f"missived binary not found or not executable: {path!r} (set MISSIVED)")
    return path


def require_tool(name):
    """Return the path of an external tool; a missing tool is a loud failure, not a skip."""
    path = shutil.which(name)
    if path is None:
        raise HarnessError(f"required external tool {name!r} is not installed (not on PATH)")
    return path


def wait_until(predicate, timeout=DEFAULT_WAIT, interval=0.05, what="condition"):
    """Poll predicate() until it returns a truthy value; return it. Fail after timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # keep polling; report the last error on timeout
            last_exc = exc
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise HarnessError(f"timed out after {timeout}s waiting for {what}{extra}")
        time.sleep(interval)


def run_with_terminal_stderr(command, env=None, timeout=60):
    """Run `command` with stderr on a pseudo-terminal (stdout a pipe, stdin /dev/null), as
    a person at a terminal who pipes the output would. Returns (exit status, stdout bytes,
    the bytes written to the terminal)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=slave, env=env)
    finally:
        os.close(slave)
    shown, out = b"", b""
    deadline = time.monotonic() + timeout
    try:
        open_fds = {master, proc.stdout.fileno()}
        while open_fds and time.monotonic() < deadline:
            ready, _, _ = select.select(list(open_fds), [], [], 0.2)
            for fd in ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the terminal's last writer is gone
                    chunk = b""
                if not chunk:
                    open_fds.discard(fd)
                elif fd == master:
                    shown += chunk
                else:
                    out += chunk
        if open_fds:
            proc.kill()
            raise HarnessError(f"{command[0]} still writing after {timeout}s")
        return proc.wait(10), out, shown
    finally:
        os.close(master)
        proc.stdout.close()


# ---------------------------------------------------------------------------------------
# The server process
# ---------------------------------------------------------------------------------------

class MissiveServer:
    """One `missived serve` child process with its own (or a given) data directory."""

    def __init__(self, config=None, data_dir=None, domain=DOMAIN, hostname=HOSTNAME,
                 extra_args=None, name="missived", env=None, wrapper=None, store=None):
        self.config_text = config
        # store: None for the run's backend, "sqlite", or a missive_pg.PgStore (None: SQLite)
        self.store = missive_pg.resolve_store(store)
        # env: extra environment variables for the child (e.g. LD_PRELOAD of a fault shim);
        # wrapper: a command prefix (e.g. strace), so the child is wrapper + command().
        self.env = dict(env or {})
        self.wrapper = list(wrapper or [])
        self.own_dir = data_dir is None
        self.base_dir = tempfile.mkdtemp(prefix="missive-test-") if data_dir is None else None
        self.data_dir = data_dir if data_dir is not None else os.path.join(self.base_dir, "data")
        self.work_dir = self.base_dir or tempfile.mkdtemp(prefix="missive-test-aux-")
        os.makedirs(self.data_dir, exist_ok=True)
        self.domain = domain
        self.hostname = hostname
        self.extra_args = list(extra_args or [])
        self.name = name
        self.proc = None
        self.smtp_port = None
        self.pop3_port = None
        self.log_path = os.path.join(self.work_dir, "server.log")
        self._log_lock = threading.Lock()
        self._threads = []
        self._listen_lines = {}
        self._listen_cond = threading.Condition()
        self.starts = 0
        self.config_path = None
        if config is not None or self.store is not None:
            self.config_path = os.path.join(self.work_dir, "missived.toml")
            self.write_config(config or "")

    def write_config(self, text):
        """Write the config file: text, then the [store] section of a PostgreSQL store."""
        with open(self.config_path, "w") as f:
            f.write(text)
            if self.store is not None:
                f.write("\n" + self.store.section())

    @property
    def db_path(self):
        return os.path.join(self.data_dir, "missive.db")

    def command(self):
        cmd = [missived_path(), "serve", "--data-dir", self.data_dir,
               "--smtp", f"{HOST}:0", "--pop3", f"{HOST}:0",
               "--domain", self.domain, "--hostname", self.hostname]
        if self.config_path:
            cmd += ["--config", self.config_path]
        return cmd + self.extra_args

    def _log(self, text):
        with self._log_lock:
            with open(self.log_path, "a", encoding="utf-8", errors="replace") as f:
                f.write(text)

    def _drain(self, stream, tag, watch_listen):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self._log(f"[{tag}] {line}\n")
            if watch_listen:
                m = LISTEN_RE.match(line)
                if m:
                    with self._listen_cond:
                        self._listen_lines[m.group(1)] = int(m.group(2))
                        self._listen_cond.notify_all()
        stream.close()
        if watch_listen:
            with self._listen_cond:
                self._listen_cond.notify_all()

    def start(self, timeout=DEFAULT_WAIT):
        if self.running():
            raise HarnessError("server already running")
        self.starts += 1
        self._log(f"===== start #{self.starts}: {' '.join(self.command())}\n")
        self._listen_lines = {}
        self.proc = subprocess.Popen(self.wrapper + self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=self.work_dir, env={**os.environ, **self.env})
        self._threads = [
            threading.Thread(target=self._drain, args=(self.proc.stdout, "out", True), daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stderr, "err", False), daemon=True),
        ]
        for t in self._threads:
            t.start()
        deadline = time.monotonic() + timeout
        with self._listen_cond:
            while not ("smtp" in self._listen_lines and "pop3" in self._listen_lines):
                remaining = deadline - time.monotonic()
                if self.proc.poll() is not None:
                    break
                if remaining <= 0:
                    break
                self._listen_cond.wait(min(remaining, 0.1))
            ok = "smtp" in self._listen_lines and "pop3" in self._listen_lines
        if not ok:
            rc = self.proc.poll()
            if rc is None:
                self.proc.kill()
                self.proc.wait(5)
            self._join_drains()
            raise HarnessError(
                f"missived did not announce both listeners within {timeout}s "
                f"(exit status {rc}); log:\n{self.log_tail()}")
        self.smtp_port = self._listen_lines["smtp"]
        self.pop3_port = self._listen_lines["pop3"]
        return self

    def port(self, service, timeout=DEFAULT_WAIT):
        """The port a listener of `service` (e.g. "submission", "pop3s") announced."""
        deadline = time.monotonic() + timeout
        with self._listen_cond:
            while service not in self._listen_lines:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise HarnessError(f"missived announced no {service} listener")
                self._listen_cond.wait(min(remaining, 0.1))
            return self._listen_lines[service]

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _join_drains(self):
        for t in self._threads:
            t.join(5)

    def stop(self, timeout=DEFAULT_WAIT):
        """SIGTERM and wait (bounded). Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                self._join_drains()
                raise HarnessError(f"missived did not exit within {timeout}s of SIGTERM; log:\n"
                                   + self.log_tail())
        self._join_drains()
        rc = self.proc.returncode
        self._log(f"===== exited with status {rc}\n")
        return rc

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(DEFAULT_WAIT)
        self._join_drains()
        self._log(f"===== killed with SIGKILL (status {self.proc.returncode})\n")

    def cleanup(self, remove_files=True):
        try:
            if self.running():
                self.proc.kill()
                self.proc.wait(5)
                self._log("===== killed by the harness at cleanup\n")
        finally:
            self._join_drains()
        if remove_files and self.base_dir and not os.environ.get("MISSIVE_KEEP_TMP"):
            shutil.rmtree(self.base_dir, ignore_errors=True)
        if remove_files and self.store is not None:
            self.store.release()

    def read_log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=DEFAULT_WAIT):
        """The log once a line matches the regex `pattern` (bounded): the server's stderr
        reaches the file through a reader thread, a moment after the reply that follows it."""
        regex = re.compile(pattern)
        return wait_until(lambda: regex.search(self.read_log()) and self.read_log(), timeout,
                          what=f"a log line matching {pattern!r}")

    def log_tail(self, lines=80):
        return "\n".join(self.read_log().splitlines()[-lines:])

    # -- admin CLI -------------------------------------------------------------------------

    def cli(self, *args, stdin=None, timeout=30):
        """Run `missived ARGS... --data-dir DIR`; returns CompletedProcess (text). On
        PostgreSQL the server's config (its [store]) goes with it."""
        cmd = [missived_path(), *args, "--data-dir", self.data_dir]
        if self.store is not None and "--config" not in args:
            cmd += ["--config", self.config_path]
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                              timeout=timeout, cwd=self.work_dir)

    def add_user(self, address, password=PASSWORD):
        r = self.cli("user", "add", address, "--password-stdin", stdin=password + "\n")
        if r.returncode != 0:
            raise HarnessError(f"user add {address} failed: status {r.returncode}, "
                               f"stdout={r.stdout!r} stderr={r.stderr!r}")
        return address

    # -- database --------------------------------------------------------------------------

    def query(self, sql, params=()):
        """Run one read-only query against DIR/missive.db (or the server's PostgreSQL
        database: missive_pg.translate_sql); returns all rows."""
        if self.store is not None:
            return self.store.database.query(sql, params)
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def scalar(self, sql, params=()):
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    # -- clients ---------------------------------------------------------------------------

    def smtp(self, timeout=SOCKET_TIMEOUT):
        return SmtpClient(self.smtp_port, timeout=timeout)

    def pop3(self, timeout=SOCKET_TIMEOUT):
        return Pop3Client(self.pop3_port, timeout=timeout)


# ---------------------------------------------------------------------------------------
# unittest base class
# ---------------------------------------------------------------------------------------

class MissiveTestCase(unittest.TestCase):
    """Base class: servers started through start_server() are cleaned up and their logs are
    printed to stderr when a test of the class fails."""

    maxDiff = 4000
    _servers = None
    _leftover_dirs = None

    @classmethod
    def start_server(cls, config=None, **kwargs):
        """A server shared by the tests of the class. If it dies during a test (a crash is
        that test's failure), it is restarted on the same data directory before the next
        test, so that one crash does not cascade into every later test."""
        if cls._servers is None:
            cls._servers = []
        server = MissiveServer(config=config, **kwargs)
        server.auto_restart = True
        cls._servers.append(server)
        # class cleanups run even when setUpClass fails half-way (tearDownClass does not)
        cls.addClassCleanup(cls._stop_and_clean, server)
        server.start()
        return server

    @staticmethod
    def _stop_and_clean(server):
        try:
            if server.running():
                server.stop()
        except Exception:
            pass
        server.cleanup()

    def setUp(self):
        super().setUp()
        self._test_servers = []
        for server in type(self)._servers or []:
            if getattr(server, "auto_restart", False) and server.proc is not None \
                    and not server.running():
                sys.stderr.write(f"\n!!! missived died (exit status {server.proc.returncode}) "
                                 f"before {self.id()}; restarting it on the same data dir\n")
                server._join_drains()
                server._log(f"===== died with status {server.proc.returncode}; restarting\n")
                server.start()

    def start_test_server(self, config=None, **kwargs):
        """A server living for one test only (its log is kept until the class is done)."""
        server = MissiveServer(config=config, **kwargs)
        if not hasattr(self, "_test_servers"):
            self._test_servers = []
        self._test_servers.append(server)
        type(self)._leftover_dirs = (type(self)._leftover_dirs or []) + [server]
        self.addCleanup(server.cleanup, remove_files=False)
        server.start()
        return server

    def refused_port(self):
        """A port where connections are refused for this test (see refused_port)."""
        return refused_port(self.addCleanup)

    def reserved_port(self):
        """A port held for a server to listen on later in this test (see reserved_port)."""
        return reserved_port(self.addCleanup)

    @classmethod
    def tearDownClass(cls):
        for server in cls._leftover_dirs or []:
            server.cleanup()
        cls._leftover_dirs = None
        super().tearDownClass()

    def run(self, result=None):
        before = (len(result.failures) + len(result.errors)) if result is not None else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            for server in (type(self)._servers or []) + getattr(self, "_test_servers", []):
                sys.stderr.write(f"\n----- missived log for {self.id()} ({server.log_path}) -----\n")
                sys.stderr.write(server.log_tail(60) + "\n")
                if getattr(server, "auto_restart", False) and server.proc is not None \
                        and server.proc.poll() is not None:
                    sys.stderr.write(f"!!! missived is not running: exit status {server.proc.returncode}\n")
                sys.stderr.write("----- end of log -----\n")
        return out

    # -- assertions ------------------------------------------------------------------------

    def assertReply(self, reply, code, enhanced=None, msg=None):
        """Assert an SMTP reply's code and (first line's) enhanced status code."""
        self.assertIsInstance(reply, Reply)
        detail = f"{msg + ': ' if msg else ''}got {reply!s}"
        self.assertEqual(reply.code, code, detail)
        if enhanced is not None:
            self.assertEqual(reply.enhanced, enhanced, detail)
            for line in reply.lines:  # RFC 2034: every line carries it
                self.assertTrue(line.startswith(enhanced), detail)

    def assertOk(self, line, msg=None):
        self.assertTrue(line.startswith("+OK"), f"{msg + ': ' if msg else ''}expected +OK, got {line!r}")

    def assertErr(self, line, code=None, msg=None):
        prefix = "-ERR" if code is None else f"-ERR [{code}]"
        self.assertTrue(line.startswith(prefix), f"{msg + ': ' if msg else ''}expected {prefix}, got {line!r}")

    def assertDeliveryHeaders(self, stored, sender, recipient):
        """A message read from a maildrop starts with the fields of final delivery, Return-Path
        (RFC 5321 4.4) and Delivered-To (RFC 9228); returns what follows them."""
        expected = f"Return-Path: <{sender}>\r\nDelivered-To: {recipient}\r\n".encode()
        if not stored.startswith(expected):
            self.fail(f"expected the delivery headers {expected!r}, got {stored[:300]!r}")
        return stored[len(expected):]

    def assertStoredEndsWith(self, stored, sent):
        """The stored message is some prepended header lines followed by the sent bytes."""
        if not stored.endswith(sent):
            self.fail(f"stored message does not end with the sent bytes\n"
                      f"sent  (len {len(sent)}): {sent[:300]!r}...{sent[-200:]!r}\n"
                      f"stored(len {len(stored)}): {stored[:600]!r}...{stored[-200:]!r}")
        prefix = stored[:len(stored) - len(sent)]
        self.assertTrue(prefix == b"" or prefix.endswith(b"\r\n"), repr(prefix))
        for line in prefix.split(b"\r\n")[:-1]:
            self.assertRegex(line, rb"^([!-9;-~]+:|[ \t])",
                             f"prepended text is not a header line: {line!r} in {prefix!r}")
        return prefix


# ---------------------------------------------------------------------------------------
# SMTP client
# ---------------------------------------------------------------------------------------

class Reply:
    """A complete SMTP reply. lines = text after 'NNN-' / 'NNN ' of each line."""

    def __init__(self, code, lines, raw):
        self.code = code
        self.lines = lines
        self.raw = raw

    @property
    def text(self):
        return self.lines[0] if self.lines else ""

    @property
    def enhanced(self):
        m = re.match(r"^([245]\.\d{1,3}\.\d{1,3})(?: |$)", self.text)
        return m.group(1) if m else None

    @property
    def after_enhanced(self):
        return re.sub(r"^[245]\.\d{1,3}\.\d{1,3} ?", "", self.text)

    def __str__(self):
        return self.raw.decode("utf-8", "replace").replace("\r\n", "\\r\\n")

    __repr__ = __str__


class LineSocket:
    def __init__(self, port, timeout=SOCKET_TIMEOUT, host=HOST):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError(f"connection closed by server (unconsumed: {self.buf!r})")
        self.buf += chunk

    def readline(self):
        """One line including its CRLF (LF accepted as the terminator so we never hang)."""
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                return line
            self._fill()

    def read_until(self, marker):
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                data, self.buf = self.buf[:i + len(marker)], self.buf[i + len(marker):]
                return data
            self._fill()

    def is_closed(self, timeout=DEFAULT_WAIT):
        """True if the server closes the connection within timeout (no further data)."""
        if self.buf:
            return False
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(1 << 16)
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        if chunk:
            self.buf += chunk
            return False
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SmtpClient(LineSocket):
    def __init__(self, port, timeout=SOCKET_TIMEOUT, read_greeting=True):
        super().__init__(port, timeout)
        self.greeting = self.reply() if read_greeting else None

    def reply(self):
        raw = b""
        lines = []
        code = None
        while True:
            line = self.readline()
            raw += line
            m = re.match(rb"^(\d{3})([ -])?(.*?)\r?\n$", line, re.S)
            if not m:
                raise AssertionError(f"malformed SMTP reply line {line!r} (reply so far {raw!r})")
            c = int(m.group(1))
            if code is not None and c != code:
                raise AssertionError(f"multi-line reply with mixed codes: {raw!r}")
            code = c
            lines.append(m.group(3).decode("utf-8", "replace"))
            if m.group(2) != b"-":
                if not line.endswith(b"\r\n"):
                    raise AssertionError(f"reply line not terminated by CRLF: {raw!r}")
                return Reply(code, lines, raw)

    def cmd(self, line):
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.reply()

    def ehlo(self, name="client.example.test"):
        return self.cmd(f"EHLO {name}")

    def data_bytes(self, body):
        """After 354: send body (dot-stuffed here) plus the terminator; return the reply."""
        self.send(dot_stuff(body) + b".\r\n")
        return self.reply()

    def send_mail(self, sender, rcpts, body, ehlo=True):
        """Full transaction; returns the final reply (asserts the intermediate ones)."""
        if ehlo:
            r = self.ehlo()
            assert r.code == 250, f"EHLO: {r}"
        r = self.cmd(f"MAIL FROM:<{sender}>")
        assert r.code == 250, f"MAIL: {r}"
        for rcpt in rcpts:
            r = self.cmd(f"RCPT TO:<{rcpt}>")
            assert r.code == 250, f"RCPT {rcpt}: {r}"
        r = self.cmd("DATA")
        assert r.code == 354, f"DATA: {r}"
        return self.data_bytes(body)


def dot_stuff(body):
    """CRLF-terminated body -> dot-stuffed body (without the final '.CRLF')."""
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    lines = body.split(b"\r\n")[:-1]
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)


def queue_id_of(reply):
    m = QUEUED_RE.match(reply.after_enhanced)
    if reply.code != 250 or reply.enhanced != "2.0.0" or not m:
        raise AssertionError(f"expected '250 2.0.0 Ok: queued as ID', got {reply}")
    return m.group(1)


def smtp_send(server, sender, rcpts, body):
    """Send one message over a raw socket; returns its queue id."""
    with server.smtp() as c:
        r = c.send_mail(sender, rcpts, body)
        qid = queue_id_of(r)
        c.cmd("QUIT")
        return qid


def make_message(subject="test", body_lines=(), headers=None, test_id=None, date=True,
                 message_id=True, sender="alice@example.test", to="bob@example.test"):
    """A CRLF message. body_lines: list of bytes/str lines (without line ends)."""
    hs = [("From", sender), ("To", to), ("Subject", subject)]
    if date:
        hs.append(("Date", "Mon, 01 Jan 2024 12:00:00 +0000"))
    if message_id:
        hs.append(("Message-ID", f"<{subject.replace(' ', '-')}.{time.time_ns()}@client.example.test>"))
    if test_id is not None:
        hs.append(("X-Test-Id", test_id))
    hs += list(headers or [])
    out = b"".join(f"{k}: {v}\r\n".encode("utf-8") for k, v in hs) + b"\r\n"
    for l in body_lines:
        out += (l.encode("utf-8") if isinstance(l, str) else l) + b"\r\n"
    return out


def header_section(msg):
    i = msg.find(b"\r\n\r\n")
    return msg if i < 0 else msg[:i + 2]


def header_fields(msg):
    """Unfolded (name_lower, value) pairs of the header section."""
    fields = []
    for line in header_section(msg).split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + b" " + line.strip())
        else:
            name, _, value = line.partition(b":")
            fields.append((name.strip().lower().decode("ascii", "replace"), value.strip()))
    return fields


# ---------------------------------------------------------------------------------------
# POP3 client
# ---------------------------------------------------------------------------------------

class Pop3Client(LineSocket):
    def __init__(self, port, timeout=SOCKET_TIMEOUT, read_greeting=True):
        super().__init__(port, timeout)
        self.greeting = self.line() if read_greeting else None

    def line(self):
        raw = self.readline()
        if not raw.endswith(b"\r\n"):
            raise AssertionError(f"POP3 line not terminated by CRLF: {raw!r}")
        return raw[:-2].decode("utf-8", "replace")

    def cmd(self, line):
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.line()

    def multiline_raw(self):
        """Body of a multi-line response (after the status line): raw bytes up to and
        including the terminating '.CRLF'."""
        if self.buf.startswith(b".\r\n"):
            self.buf = self.buf[3:]
            return b".\r\n"
        return self.read_until(b"\r\n.\r\n")

    def multiline(self):
        """Body of a multi-line response, dot-unstuffed, CRLF line ends kept."""
        raw = self.multiline_raw()
        if raw == b".\r\n":
            return b""
        content = raw[:-3]
        lines = content.split(b"\r\n")[:-1]
        return b"".join((l[1:] if l.startswith(b".") else l) + b"\r\n" for l in lines)

    def login(self, user, password=PASSWORD):
        r = self.cmd(f"USER {user}")
        if not r.startswith("+OK"):
            raise AssertionError(f"USER {user}: {r}")
        r = self.cmd(f"PASS {password}")
        if not r.startswith("+OK"):
            raise AssertionError(f"PASS for {user}: {r}")
        return r

    def auth_plain(self, user, password=PASSWORD):
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.cmd(f"AUTH PLAIN {token}")

    def stat(self):
        r = self.cmd("STAT")
        m = re.match(r"^\+OK (\d+) (\d+)", r)
        if not m:
            raise AssertionError(f"STAT: {r}")
        return int(m.group(1)), int(m.group(2))

    def listing(self, command="LIST"):
        r = self.cmd(command)
        if not r.startswith("+OK"):
            raise AssertionError(f"{command}: {r}")
        out = []
        for l in self.multiline().split(b"\r\n")[:-1]:
            n, v = l.decode().split(" ", 1)
            out.append((int(n), v))
        return out

    def retr(self, n):
        r = self.cmd(f"RETR {n}")
        if not r.startswith("+OK"):
            raise AssertionError(f"RETR {n}: {r}")
        return self.multiline()

    def top(self, n, lines):
        r = self.cmd(f"TOP {n} {lines}")
        if not r.startswith("+OK"):
            raise AssertionError(f"TOP {n} {lines}: {r}")
        return self.multiline()

    def quit(self):
        return self.cmd("QUIT")


def pop3_session(server, user, password=PASSWORD, timeout=DEFAULT_WAIT):
    """Log in, retrying (bounded) while the maildrop is locked by a just-closed session."""
    deadline = time.monotonic() + timeout
    while True:
        c = server.pop3()
        c.cmd(f"USER {user}")
        r = c.cmd(f"PASS {password}")
        if r.startswith("+OK"):
            return c
        c.close()
        if "[IN-USE]" not in r or time.monotonic() >= deadline:
            raise AssertionError(f"POP3 login for {user} failed: {r}")
        time.sleep(0.05)


def mailbox_count(server, user, password=PASSWORD):
    c = pop3_session(server, user, password)
    try:
        return c.stat()[0]
    finally:
        try:
            c.quit()
        finally:
            c.close()


def mailbox_entries(server, user):
    """Number of entries in a user's maildrop, read from the database."""
    return server.scalar("SELECT count(*) FROM mailbox_entry me JOIN user u ON u.id = me.user_id "
                         "WHERE u.address = ? COLLATE NOCASE", (user,))


def wait_for_mailbox_count(server, user, count, password=PASSWORD, timeout=DEFAULT_WAIT,
                           confirm_pop3=False):
    """Wait (bounded) until the maildrop holds exactly `count` messages. Polls the database
    (cheap: a POP3 login costs a deliberately slow password hash), then, if confirm_pop3,
    checks POP3 STAT agrees. Fails if the count goes above `count`."""
    deadline = time.monotonic() + timeout
    while True:
        n = mailbox_entries(server, user)
        if n == count:
            break
        if n > count:
            raise AssertionError(f"mailbox of {user} holds {n} messages, expected {count}")
        if time.monotonic() >= deadline:
            raise AssertionError(f"mailbox of {user} holds {n} messages after {timeout}s, "
                                 f"expected {count}")
        time.sleep(0.02)
    if confirm_pop3:
        n = mailbox_count(server, user, password)
        if n != count:
            raise AssertionError(f"POP3 STAT for {user} says {n} messages, expected {count}")
    return count


def fetch_all(server, user, password=PASSWORD):
    """All messages of a maildrop (raw bytes, dot-unstuffed), via one POP3 session."""
    c = pop3_session(server, user, password)
    try:
        n, _ = c.stat()
        msgs = [c.retr(i) for i in range(1, n + 1)]
        c.quit()
        return msgs
    finally:
        c.close()


def unique_users(server, prefix, count, parallel=4):
    """Create `count` fresh users with unique addresses (a few `user add` processes at a
    time: hashing is deliberately slow); returns the addresses."""
    from concurrent.futures import ThreadPoolExecutor
    stamp = f"{os.getpid()}{time.monotonic_ns() % 10**9}"
    users = [f"{prefix}{i}.{stamp}@{DOMAIN}" for i in range(count)]
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(server.add_user, users))
    return users


class ToolTestCase(MissiveTestCase):
    """Base class for tests that drive the server with an outside tool (curl, swaks): one
    server per class, a pool of fresh users, and a scratch directory. Subclasses set TOOL
    and USER_PREFIX; the tool's path is in cls.tool."""

    TOOL = None
    USER_PREFIX = "t"
    USER_COUNT = 10

    @classmethod
    def setUpClass(cls):
        cls.tool = require_tool(cls.TOOL)
        cls.server = cls.start_server()
        cls.pool = unique_users(cls.server, cls.USER_PREFIX, cls.USER_COUNT)
        cls.tmp = tempfile.mkdtemp(prefix=f"missive-{cls.TOOL}-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)

    def fresh_user(self):
        return self.pool.pop()


# ---------------------------------------------------------------------------------------
# Store and forward: relays with routes, a scripted SMTP next hop, DSN parsing
# ---------------------------------------------------------------------------------------

import email
import email.utils
from datetime import datetime, timedelta, timezone

RELAY_QUEUE = {"retry_initial": "1s", "retry_max": "2s", "max_lifetime": "8s"}
DELIVERY_LINE = (r"(?m)(?:^|\s){qid}: to=<{rcpt}>, relay={relay}, delay=[^,\s]+, "
                 r"attempts={attempts}, status={status} \((?P<reason>.*)\)$")


TEST_ID_RE = re.compile(rb"^X-Test-Id: (\S+)\r$", re.M)


def test_id_of(body):
    """The X-Test-Id of a message (bytes), or None unless its header has exactly one."""
    head = body.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    found = TEST_ID_RE.findall(head)
    return found[0].decode() if len(found) == 1 else None


class HeldPort:
    """A TCP port on 127.0.0.1 taken by binding port 0, and held (never listened on) until
    close(). While it is held, connecting to it is refused (nothing listens) and no other
    socket gets it: not a bind(), not a client's source port (the kernel gives a connect()
    no port that a bound socket holds). Never "bind, close, hand the number on".

    for_listener=True: for a server that has to be told its port before it starts (a next
    hop that is down at first, relays routing to each other, a relay restarted on the same
    port). This socket then sets SO_REUSEADDR: Linux lets another SO_REUSEADDR socket (as
    missived's and FakeSmtpServer's listeners are) bind the port and listen on it while this
    one holds it without listening; when that listener closes, the port is still held, so
    the server can listen there again and nothing else can have taken it in between."""

    def __init__(self, for_listener=False):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if for_listener:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((HOST, 0))
        except OSError:
            self.sock.close()
            raise
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


def refused_port(cleanup):
    """A port where connections are refused, held until the cleanup registered with
    `cleanup` (e.g. self.addCleanup, cls.addClassCleanup) runs. A next hop that is down."""
    held = HeldPort()
    cleanup(held.close)
    return held.port


def reserved_port(cleanup):
    """A port held for a server to listen on later (HeldPort(for_listener=True)); until it
    does, and whenever it is stopped, connections are refused. Released by `cleanup`."""
    held = HeldPort(for_listener=True)
    cleanup(held.close)
    return held.port


def relay_config(domain, hostname, routes=(), trusted_networks=None, queue=None, extra=""):
    """Config text of one relay. routes: (domain, port or "host:port") pairs."""
    q = dict(RELAY_QUEUE)
    q.update(queue or {})
    lines = [f'hostname = "{hostname}"', f'domains = ["{domain}"]', ""]
    if trusted_networks is not None:
        nets = ", ".join(f'"{n}"' for n in trusted_networks)
        lines += ["[smtp]", f"trusted_networks = [{nets}]", ""]
    # (numbers as TOML integers, durations as strings)
    lines += ["[queue]"] + [f"{k} = {v}" if isinstance(v, int) else f'{k} = "{v}"'
                            for k, v in q.items()] + [""]
    for rdomain, target in routes:
        host = target if isinstance(target, str) else f"{HOST}:{target}"
        lines += ["[[route]]", f'domain = "{rdomain}"', f'host = "{host}"', ""]
    return "\n".join(lines) + extra


class RelayServer(MissiveServer):
    """A missived owning one domain, with routes and a seconds-scale queue schedule.
    smtp_port: a fixed SMTP port, one from reserved_port() (so that routes pointing at it
    hold before the relay starts and across restarts); 0: the kernel picks one at every
    start, read from the listener line."""

    def __init__(self, domain, hostname=None, routes=(), trusted_networks=None, queue=None,
                 smtp_port=0, extra_config="", name=None, data_dir=None, extra_domains=(),
                 store=None):
        hostname = hostname or f"mx.{domain}"
        self.extra_domains = list(extra_domains)
        self.routes = list(routes)
        self.trusted_networks = trusted_networks
        self.queue_settings = queue
        self.extra_config = extra_config
        self.fixed_smtp_port = smtp_port
        super().__init__(config=relay_config(domain, hostname, routes, trusted_networks, queue,
                                             extra_config),
                         data_dir=data_dir, domain=domain, hostname=hostname,
                         name=name or domain, store=store)

    def command(self):
        cmd = super().command()
        for d in self.extra_domains:
            cmd += ["--domain", d]
        if self.fixed_smtp_port:
            cmd[cmd.index("--smtp") + 1] = f"{HOST}:{self.fixed_smtp_port}"
        return cmd

    def start(self, timeout=DEFAULT_WAIT):
        super().start(timeout)
        if self.fixed_smtp_port and self.smtp_port != self.fixed_smtp_port:
            raise HarnessError(f"{self.name} listens for SMTP on {self.smtp_port}, "
                               f"not on its fixed port {self.fixed_smtp_port}")
        return self

    def set_routes(self, routes):
        """Rewrite the config with other routes (takes effect at the next start)."""
        self.routes = list(routes)
        self.write_config(relay_config(self.domain, self.hostname, self.routes,
                                       self.trusted_networks, self.queue_settings,
                                       self.extra_config))

    # -- queue rows ------------------------------------------------------------------------

    def message_count(self):
        return self.scalar("SELECT count(*) FROM message")

    def pending_count(self):
        """Recipients still to deliver (queued or deferred, claimed or not)."""
        return self.scalar("SELECT count(*) FROM recipient WHERE state IN ('queued', 'deferred')")

    def wait_quiet(self, timeout=DEFAULT_WAIT):
        """Wait (bounded) until no recipient is left to deliver. From then on nothing more
        happens on its own: every attempt, every DSN, starts from a pending recipient (a DSN
        to a local sender is delivered in the transaction that makes it)."""
        wait_until(lambda: self.pending_count() == 0, timeout,
                   what=f"{self.name}: no recipient left to deliver")

    def recipients(self, qid):
        """{address: (state, attempts, next_attempt_at, last_reply)} of one message."""
        rows = self.query("SELECT r.address, r.state, r.attempts, r.next_attempt_at, r.last_reply "
                          "FROM recipient r JOIN message m ON m.id = r.message_id "
                          "WHERE m.queue_id = ? ORDER BY r.id", (qid,))
        return {a: (s, n, t, lr) for a, s, n, t, lr in rows}

    def recipient(self, qid, address):
        return self.recipients(qid).get(address)

    def events(self, qid):
        """[(kind, recipient, detail)] of one message, in order."""
        return self.query("SELECT h.kind, h.recipient, h.detail FROM message_history h "
                          "JOIN message m ON m.id = h.message_id WHERE m.queue_id = ? "
                          "ORDER BY h.at, h.rank, h.position", (qid,))

    def wait_state(self, qid, address, states, timeout=DEFAULT_WAIT):
        """Wait until the recipient is in one of `states`; returns its row."""
        if isinstance(states, str):
            states = (states,)

        def check():
            row = self.recipient(qid, address)
            return row if row is not None and row[0] in states else None
        try:
            return wait_until(check, timeout, what=f"{address} of {qid} in state {states}")
        except HarnessError as e:
            raise HarnessError(f"{e}; recipients: {self.recipients(qid)}; "
                               f"events: {self.events(qid)}") from None

    def wait_event(self, qid, kind, count=1, timeout=DEFAULT_WAIT):
        """Wait until the message has at least `count` events of `kind`; returns them."""
        def check():
            evs = [e for e in self.events(qid) if e[0] == kind]
            return evs if len(evs) >= count else None
        try:
            return wait_until(check, timeout, what=f"{count} '{kind}' event(s) of {qid}")
        except HarnessError as e:
            raise HarnessError(f"{e}; events: {self.events(qid)}") from None

    def mailbox_messages(self, user):
        """[(queue_id, sender)] of the messages in a user's maildrop, in order."""
        return self.query("SELECT m.queue_id, m.sender FROM mailbox_entry me "
                          "JOIN user u ON u.id = me.user_id JOIN message m ON m.id = me.message_id "
                          "WHERE u.address = ? COLLATE NOCASE ORDER BY me.id", (user,))

    def body(self, qid):
        rows = self.query("SELECT body FROM message WHERE queue_id = ?", (qid,))
        return bytes(rows[0][0]) if rows else None

    def delivery_log_match(self, qid, rcpt, status, relay=r"\S+", attempts=r"\d+"):
        """The Postfix-style log line of a delivery attempt, as a re.Match (or None)."""
        pattern = DELIVERY_LINE.format(qid=re.escape(qid), rcpt=re.escape(rcpt), relay=relay,
                                       attempts=attempts, status=status)
        return re.search(pattern, self.read_log())

    def wait_delivery_log(self, qid, rcpt, status, relay=r"\S+", attempts=r"\d+", timeout=5):
        """Wait (bounded) for the log line of delivery_log_match; returns the match."""
        try:
            return wait_until(lambda: self.delivery_log_match(qid, rcpt, status, relay, attempts),
                              timeout, what=f"log line {qid}: to=<{rcpt}> ... status={status}")
        except HarnessError as e:
            lines = [l for l in self.read_log().splitlines() if qid in l]
            raise HarnessError(f"{e}; lines with {qid}:\n" + "\n".join(lines)) from None


def received_count(msg):
    return sum(1 for n, _ in header_fields(msg) if n == "received")


def utc_stamp(unix_seconds):
    return datetime.fromtimestamp(unix_seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- a scripted SMTP next hop -------------------------------------------------------------

class FakeTransaction:
    def __init__(self, mail_from, rcpts, data, outcome, at, connection):
        self.mail_from = mail_from    # reverse-path, without brackets ('' for <>)
        self.rcpts = rcpts            # forward-paths accepted with 250
        self.data = data              # dot-unstuffed bytes, final CRLF included
        self.outcome = outcome        # the reply sent after the final dot, or FakeSmtpServer.CLOSE
        self.at = at                  # time.monotonic() when the final dot arrived
        self.connection = connection  # index of the connection

    def __repr__(self):
        return (f"FakeTransaction(from={self.mail_from!r}, rcpts={self.rcpts!r}, "
                f"{len(self.data)} bytes, outcome={self.outcome!r}, conn={self.connection})")


class FakeSmtpServer:
    """An SMTP server on 127.0.0.1 with scripted behaviour, to stand in for a next hop.

    rcpt_reply(address, n) -> reply line (str) or None for "250 2.1.5 Ok"; n counts the
        RCPT commands seen so far for that address (0 for the first).
    data_reply(n) -> reply line, or FakeSmtpServer.CLOSE to read the data up to the final
        dot and close the connection without replying; n counts completed DATA (0 first).
    Every transaction whose data was read is recorded in .transactions; every RCPT in
    .rcpt_log as (monotonic time, address, reply)."""

    CLOSE = "close"

    def __init__(self, port=0, rcpt_reply=None, data_reply=None, name="fake.x.test",
                 ehlo_reply=None, features=("PIPELINING", "8BITMIME", "SIZE 52428800",
                                             "ENHANCEDSTATUSCODES"), on_connect=None):
        self.rcpt_reply = rcpt_reply or (lambda addr, n: None)
        self.data_reply = data_reply or (lambda n: None)
        self.ehlo_reply = ehlo_reply      # None: the EHLO reply from name and features
        self.features = list(features)
        self.on_connect = on_connect      # on_connect(conn, index) -> True: it served it all
        self.name = name
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.transactions = []
        self.rcpt_log = []
        self.commands = []
        self.connections = 0
        self._rcpt_seen = {}
        self._conns = []
        self._threads = []
        self._stopping = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def _accept_loop(self):
        while not self._stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                index = self.connections
                self.connections += 1
                self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn, index), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn, index):
        conn.settimeout(SOCKET_TIMEOUT * 3)
        f = conn.makefile("rb")

        def send(line):
            conn.sendall(line.encode() + b"\r\n")
        try:
            if self.on_connect is not None and self.on_connect(conn, index):
                return
            send(f"220 {self.name} ESMTP fake")
            mail_from, rcpts = None, []
            while True:
                raw = f.readline(4096)
                if not raw:
                    return
                line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
                verb = line[:4].upper()
                with self.lock:
                    self.commands.append((index, line))
                if verb == "EHLO":
                    if self.ehlo_reply is not None:
                        send(self.ehlo_reply)
                    else:
                        lines = [self.name] + self.features
                        send("\r\n".join(f"250{' ' if i == len(lines) - 1 else '-'}{l}"
                                          for i, l in enumerate(lines)))
                elif verb == "HELO":
                    send(f"250 {self.name}")
                elif verb == "MAIL":
                    m = re.match(r"(?i)^MAIL FROM:\s*<([^>]*)>", line)
                    mail_from, rcpts = (m.group(1) if m else line), []
                    send("250 2.1.0 Ok")
                elif verb == "RCPT":
                    m = re.match(r"(?i)^RCPT TO:\s*<([^>]*)>", line)
                    addr = m.group(1) if m else line
                    with self.lock:
                        n = self._rcpt_seen.get(addr, 0)
                        self._rcpt_seen[addr] = n + 1
                    reply = self.rcpt_reply(addr, n) or "250 2.1.5 Ok"
                    with self.lock:
                        self.rcpt_log.append((time.monotonic(), addr, reply))
                        self.cond.notify_all()
                    if reply.startswith("2"):
                        rcpts.append(addr)
                    send(reply)
                elif verb == "DATA":
                    if not rcpts:
                        send("554 5.5.1 Error: no valid recipients")
                        continue
                    send("354 End data with <CR><LF>.<CR><LF>")
                    data = b""
                    while True:
                        dl = f.readline(1 << 20)
                        if not dl:
                            return
                        if dl == b".\r\n":
                            break
                        data += dl[1:] if dl.startswith(b".") else dl
                    with self.lock:
                        n = len(self.transactions)
                    reply = self.data_reply(n) or f"250 2.0.0 Ok: queued as FAKE{n + 1}"
                    with self.lock:
                        self.transactions.append(FakeTransaction(mail_from, list(rcpts), data,
                                                                 reply, time.monotonic(), index))
                        self.cond.notify_all()
                    if reply == self.CLOSE:
                        return
                    send(reply)
                    mail_from, rcpts = None, []
                elif verb == "RSET":
                    mail_from, rcpts = None, []
                    send("250 2.0.0 Ok")
                elif verb == "NOOP":
                    send("250 2.0.0 Ok")
                elif verb == "QUIT":
                    send("221 2.0.0 Bye")
                    return
                else:
                    send("502 5.5.1 Error: command not implemented")
        except OSError:
            return
        finally:
            try:
                f.close()
                conn.close()
            except OSError:
                pass

    def wait_transactions(self, count, timeout=DEFAULT_WAIT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.transactions) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise HarnessError(f"fake SMTP server saw {len(self.transactions)} "
                                       f"transactions after {timeout}s, expected {count}: "
                                       f"{self.transactions}; commands: {self.commands[-20:]}")
                self.cond.wait(min(remaining, 0.1))
            return list(self.transactions)

    def rcpts_of(self, address):
        with self.lock:
            return [(t, r) for t, a, r in self.rcpt_log if a == address]

    def wait_rcpts(self, address, count, timeout=DEFAULT_WAIT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                seen = [(t, r) for t, a, r in self.rcpt_log if a == address]
                if len(seen) >= count:
                    return seen
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise HarnessError(f"fake SMTP server saw {len(seen)} RCPT for {address} "
                                       f"after {timeout}s, expected {count}")
                self.cond.wait(min(remaining, 0.1))

    def stop(self):
        self._stopping = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._acceptor.join(5)
        for t in self._threads:
            t.join(5)


# -- DSN (RFC 3464) -----------------------------------------------------------------------

def _unfold(value):
    return re.sub(r"\s+", " ", str(value)).strip()


class Dsn:
    """A parsed delivery status notification (see parse_dsn)."""

    def __init__(self, msg, human, per_message, per_recipient, original_headers):
        self.msg = msg                      # email.message.Message of the whole DSN
        self.human = human                  # text of the text/plain part
        self.per_message = per_message      # {lower-case field: value}
        self.per_recipient = per_recipient  # [{lower-case field: value}]
        self.original_headers = original_headers  # email.message.Message of the headers

    def recipient(self, address):
        for block in self.per_recipient:
            kind, _, addr = block.get("final-recipient", "").partition(";")
            if addr.strip() == address:
                return block
        return None

    def final_recipients(self):
        out = []
        for block in self.per_recipient:
            kind, _, addr = block.get("final-recipient", "").partition(";")
            out.append((kind.strip().lower(), addr.strip()))
        return out


def parse_dsn(raw):
    """Parse raw bytes as an RFC 3464 DSN; raises AssertionError with the reason if the
    structure is wrong (multipart/report; report-type=delivery-status; text/plain,
    message/delivery-status, text/rfc822-headers)."""
    msg = email.message_from_bytes(raw)
    problems = []
    if msg.get_content_type() != "multipart/report":
        problems.append(f"content type is {msg.get_content_type()!r}")
    if (msg.get_param("report-type") or "").lower() != "delivery-status":
        problems.append(f"report-type is {msg.get_param('report-type')!r}")
    parts = msg.get_payload() if msg.is_multipart() else []
    types = [p.get_content_type() for p in parts]
    if types[:2] != ["text/plain", "message/delivery-status"] or len(types) != 3 \
            or types[2] not in ("text/rfc822-headers", "message/rfc822"):
        problems.append(f"parts are {types}")
    if problems or msg.defects:
        raise AssertionError(f"not an RFC 3464 DSN: {problems} defects={msg.defects}\n"
                             f"{raw[:3000]!r}")
    human = parts[0].get_payload(decode=True).decode("utf-8", "replace")
    blocks = parts[1].get_payload()
    if not isinstance(blocks, list) or len(blocks) < 2:
        raise AssertionError(f"message/delivery-status has {len(blocks) if isinstance(blocks, list) else 0} "
                             f"blocks, expected per-message + per-recipient:\n{raw[:3000]!r}")

    def fields(block):
        return {k.lower(): _unfold(v) for k, v in block.items()}
    per_message = fields(blocks[0])
    per_recipient = [fields(b) for b in blocks[1:]]
    third = parts[2]
    if third.get_content_type() == "text/rfc822-headers":
        original = email.message_from_bytes(third.get_payload(decode=True))
    else:
        original = third.get_payload()[0]
    return Dsn(msg, human, per_message, per_recipient, original)


def parse_email_date(value):
    """An RFC 5322 date-time -> aware datetime (AssertionError if it is not one)."""
    try:
        d = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError) as e:
        raise AssertionError(f"not an RFC 5322 date-time: {value!r} ({e})")
    if d is None or d.tzinfo is None:
        raise AssertionError(f"date-time without a zone: {value!r}")
    return d


# -- aiosmtpd (Debian package python3-aiosmtpd) ------------------------------------------

def require_system_module(name, package):
    """Import `name`, which the Debian package `package` installs for the system Python
    (/usr/lib/python3/dist-packages); when the tests run under another Python 3 (pyenv,
    venv), that directory is appended to sys.path. Missing: a loud failure, never a skip."""
    import importlib
    try:
        return importlib.import_module(name)
    except ImportError as first:
        d = "/usr/lib/python3/dist-packages"
        top = os.path.join(d, name.split(".")[0])
        # a package (a directory) or a module of one file (python3-spf's spf.py)
        if (os.path.isdir(top) or os.path.isfile(top + ".py")) and d not in sys.path:
            sys.path.append(d)
        try:
            return importlib.import_module(name)
        except ImportError as e:
            raise HarnessError(f"required module {name} is not importable ({first}; {e}); "
                               f"install {package}") from None


def require_aiosmtpd():
    """aiosmtpd.controller (Debian python3-aiosmtpd)."""
    return require_system_module("aiosmtpd.controller", "python3-aiosmtpd")


def start_aiosmtpd(handler, **kwargs):
    """aiosmtpd's threaded Controller serving `handler` on 127.0.0.1, started; its port is
    .port. kwargs go to Controller (server_hostname, ready_timeout, SMTP parameters).

    The listening socket is bound to port 0 here and handed to the event loop, so the port
    is the kernel's pick and stays taken from bind to stop. (aiosmtpd 1.4, Debian 12's,
    cannot be given port 0 itself: after create_server it connects to the configured port
    to check that the server answers.) Stop it with .stop()."""
    module = require_aiosmtpd()

    class HeldSocketController(module.Controller):
        def __init__(self, sock, *args, **kw):
            self._sock = sock
            super().__init__(*args, hostname=HOST, port=sock.getsockname()[1], **kw)

        def _create_server(self):
            return self.loop.create_server(self._factory_invoker, sock=self._sock,
                                           ssl=self.ssl_context)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, 0))
        controller = HeldSocketController(sock, handler, **kwargs)
        controller.start()
    except BaseException:
        sock.close()
        raise
    return controller


# -- test case base for relay tests -------------------------------------------------------

class RelayTestCase(MissiveTestCase):
    """Relays living for one test each (logs dumped on failure) and relay assertions."""

    def start_relay(self, domain, start=True, **kwargs):
        server = RelayServer(domain, **kwargs)
        if not hasattr(self, "_test_servers"):
            self._test_servers = []
        self._test_servers.append(server)
        type(self)._leftover_dirs = (type(self)._leftover_dirs or []) + [server]
        self.addCleanup(server.cleanup, remove_files=False)
        if start:
            server.start()
        return server

    def fake_smtp(self, **kwargs):
        fake = FakeSmtpServer(**kwargs)
        self.addCleanup(fake.stop)
        return fake

    def start_relay_pair(self, a_queue=None, b_queue=None, a_routes=(), b_routes=(),
                         b_smtp_port=0, start_b=True):
        """B owns b.test (user bob@b.test); A owns a.test (user alice@a.test) and routes
        b.test to B. start_b=False: B is created but not started, on b_smtp_port (default:
        a reserved_port, where A's attempts are refused until B starts). Returns (a, b)."""
        port = b_smtp_port
        if not start_b and not port:
            port = reserved_port(self.addCleanup)  # refused until B starts on it
        b = self.start_relay("b.test", start=False, queue=b_queue, routes=b_routes,
                             smtp_port=port)
        b.add_user("bob@b.test")
        if start_b:
            b.start()
        a = self.start_relay("a.test", queue=a_queue,
                             routes=[("b.test", b.smtp_port or port)] + list(a_routes),
                             start=False)
        a.add_user("alice@a.test")
        a.start()
        return a, b

    def assertDsn(self, raw, reporting_host, failed, subject=None, original_sender=None):
        """raw is an RFC 3464 DSN from MAILER-DAEMON@reporting_host listing exactly the
        recipients in `failed` ({address: status regex}). Returns the parsed Dsn."""
        dsn = parse_dsn(raw)
        msg = dsn.msg
        self.assertEqual(_unfold(msg.get("Auto-Submitted", "")).lower(), "auto-replied",
                         header_section(raw))
        self.assertRegex(_unfold(msg.get("From", "")),
                         rf"(?i)MAILER-DAEMON@{re.escape(reporting_host)}>?$")
        if original_sender is not None:
            self.assertIn(original_sender, _unfold(msg.get("To", "")))
        self.assertEqual(len(msg.get_all("Message-ID") or []), 1, header_section(raw))
        parse_email_date(msg.get("Date", ""))
        pm = dsn.per_message
        self.assertIn("reporting-mta", pm, pm)
        self.assertRegex(pm["reporting-mta"], rf"(?i)^dns; ?{re.escape(reporting_host)}$")
        self.assertIn("arrival-date", pm, pm)
        now = datetime.now(timezone.utc)
        arrival = parse_email_date(pm["arrival-date"])
        self.assertLess(abs((now - arrival).total_seconds()), 300, pm)
        self.assertEqual(sorted(a for _, a in dsn.final_recipients()), sorted(failed),
                         dsn.per_recipient)
        for kind, _ in dsn.final_recipients():
            self.assertEqual(kind, "rfc822", dsn.per_recipient)
        for address, status in failed.items():
            block = dsn.recipient(address)
            self.assertEqual(block.get("action", "").lower(), "failed", block)
            self.assertRegex(block.get("status", ""), rf"^{status}$", block)
            self.assertRegex(block.get("status", ""), r"^[45]\.\d{1,3}\.\d{1,3}$", block)
            self.assertTrue(block.get("diagnostic-code"), f"no Diagnostic-Code: {block}")
            self.assertIn("last-attempt-date", block, block)
            last = parse_email_date(block["last-attempt-date"])
            self.assertLess(abs((now - last).total_seconds()), 300, block)
            self.assertGreaterEqual(last, arrival - timedelta(seconds=1))
        if subject is not None:
            self.assertEqual(_unfold(dsn.original_headers.get("Subject", "")), subject,
                             dsn.original_headers.items())
        return dsn

    def assertRelayedCopy(self, data, original, server, qid):
        """data is the copy `server` stored for qid and sent on: its own Received: on top of
        the original bytes, exactly as many octets as the message's size column (a relay may
        free the body once every recipient is done; while it is kept, equal to it)."""
        prefix = self.assertStoredEndsWith(data, original)
        fields = header_fields(prefix)
        self.assertEqual([n for n, _ in fields], ["received"], prefix)
        self.assertIn(f"by {server.hostname}".encode(), fields[0][1], prefix)
        size = server.scalar("SELECT size FROM message WHERE queue_id = ?", (qid,))
        self.assertEqual(len(data), size, "the copy sent on differs in size from the stored one")
        body = server.body(qid)
        if body:
            self.assertEqual(data, body, "the copy sent on differs from the stored one")
        return prefix
