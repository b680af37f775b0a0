"""250 only after fsync (issue 6): the durability rule seen from outside, in system calls.

1. missived runs under strace. For every `250 2.0.0 Ok: queued as ...` the relay writes to a
   client socket, an fsync/fdatasync of missive.db-wal (or missive.db) started after the read
   that carried that session's end of data (`\\r\\n.\\r\\n`) and completed successfully before
   the 250 was written. Messages are sent one after another on one session and from several
   concurrent sessions (group commit), and the number of 250 writes found in the trace must
   equal the number of messages sent, so the parser cannot silently match nothing.

   What the binary really calls (found by tracing it): Asio's reactor sends and receives on
   sockets with sendto/recvfrom (single buffer, MSG_NOSIGNAL), SQLite writes the WAL with
   pwrite64 and syncs it with fdatasync, logs go to stderr with write. The trace covers the
   scatter/gather variants too (sendmsg/recvmsg/writev/readv, read/write), so the parser
   still finds the replies if a later Asio or a buffer sequence switches to them. -s is large
   (not 256): a message body read in one recvfrom is longer than 256 octets, and the end of
   data must be visible in the trace. -y names each descriptor (socket:[inode] or the file's
   path), which is how reads and writes are paired per session and syncs tied to the WAL.

2. With the fault shim (tests/fault/fault_shim.c, LD_PRELOAD, found through FAULT_SHIM) making
   fsync/fdatasync fail with EIO: the end of DATA gets 451 4.3.x and never 250, nothing of
   the message is stored (no message row, no mailbox entry), POP3 keeps serving what is
   there, and once the fault is switched off the same relay (no restart) answers 250 again
   and delivers.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import unittest

from missive_harness import (DOMAIN, HarnessError, MissiveTestCase, fetch_all, make_message,
                             mailbox_entries, pop3_session, queue_id_of, require_tool,
                             wait_for_mailbox_count)

SOAK = os.environ.get("MISSIVE_SOAK") == "1"
SEQUENTIAL = 40 if SOAK else 10          # messages on one session, one after another
SESSIONS = 8 if SOAK else 4              # concurrent sessions ...
PER_SESSION = 15 if SOAK else 5          # ... each sending this many
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
CAROL = f"carol@{DOMAIN}"

TRACED_CALLS = ("fsync,fdatasync,write,sendto,sendmsg,writev,read,readv,recvfrom,recvmsg,"
                "pwrite64")
QUEUED_REPLY = b"250 2.0.0 Ok: queued as "
END_OF_DATA = b"\r\n.\r\n"
SEND_CALLS = {"write", "writev", "sendto", "sendmsg"}
RECV_CALLS = {"read", "readv", "recvfrom", "recvmsg"}
SYNC_CALLS = {"fsync", "fdatasync"}


def fault_shim_path():
    """The fault shim built by CMake (tests/CMakeLists.txt passes FAULT_SHIM); loud if not."""
    path = os.environ.get("FAULT_SHIM")
    if not path:
        raise HarnessError("FAULT_SHIM is not set: it must name the fault_shim library built "
                           "from tests/fault/fault_shim.c (CTest sets it)")
    if not os.path.isfile(path):
        raise HarnessError(f"FAULT_SHIM={path!r} does not exist (build the fault_shim target)")
    return path


def shim_env(shim, control_file):
    """Environment for a missived with the shim preloaded. A sanitizer build checks that its
    runtime comes first among the loaded libraries; the preloaded shim comes before it."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    return {"LD_PRELOAD": shim, "MISSIVE_FAULT_FSYNC_EIO": control_file,
            "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}


# ---------------------------------------------------------------------------------------
# strace output
# ---------------------------------------------------------------------------------------

_LINE_RE = re.compile(r"^(\d+)\s+(.*)$")
_RESUMED_RE = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
_CALL_RE = re.compile(r"^(\w+)\((.*)$", re.S)
_FD_RE = re.compile(r"^(-?\d+)<([^>]*)>")
_RESULT_RE = re.compile(r'\)\s+=\s+(-?\d+|\?)[^"]*$')
_STRING_RE = re.compile(r'"((?:[^"\\]|\\.)*)"(\.\.\.)?', re.S)
_ESCAPES = {"n": 10, "r": 13, "t": 9, "v": 11, "f": 12, "a": 7, "b": 8, "\\": 92, '"': 34,
            "'": 39, "?": 63}


def c_unescape(text):
    """strace's C-style string literal body -> bytes."""
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out += ch.encode("latin-1")
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "x":
            m = re.match(r"[0-9a-fA-F]{1,2}", text[i + 2:])
            out.append(int(m.group(0), 16))
            i += 2 + len(m.group(0))
        elif nxt in "01234567":
            m = re.match(r"[0-7]{1,3}", text[i + 1:])
            out.append(int(m.group(0), 8) & 0xFF)
            i += 1 + len(m.group(0))
        else:
            raise ValueError(f"unknown escape \\{nxt} in strace string {text!r}")
    return bytes(out)


class Call:
    """One system call of the trace. entry/exit: line numbers where it started and ended."""

    def __init__(self, pid, name, args, entry, exit_):
        self.pid, self.name, self.entry, self.exit = pid, name, entry, exit_
        # strace pads the result of a resumed call: "<... fdatasync resumed>)   = 0".
        result = _RESULT_RE.search(args)
        head = args[:result.start()] if result else args
        self.ret = int(result.group(1)) if result and result.group(1) != "?" else None
        fd = _FD_RE.match(head)
        self.fd_path = fd.group(2) if fd else None
        strings = list(_STRING_RE.finditer(head))
        self.truncated = any(s.group(2) for s in strings)
        self.data = b"".join(c_unescape(s.group(1)) for s in strings)

    @property
    def is_socket(self):
        return bool(self.fd_path and self.fd_path.startswith("socket:"))

    def __repr__(self):
        return (f"Call(pid={self.pid}, {self.name}, fd={self.fd_path}, ret={self.ret}, "
                f"lines {self.entry}-{self.exit}, data={self.data[:60]!r})")


def parse_strace(text):
    """Lines of `strace -f -y -o FILE` -> [Call], in order of completion. Splits of one call
    across lines (`<unfinished ...>` then `<... NAME resumed>`) are put back together."""
    calls = []
    pending = {}  # pid -> (name, args so far, entry line)
    for number, line in enumerate(text.splitlines()):
        m = _LINE_RE.match(line)
        if not m:
            continue
        pid, rest = int(m.group(1)), m.group(2)
        if rest.startswith(("+++", "---")):
            continue
        resumed = _RESUMED_RE.match(rest)
        if resumed:
            if pid not in pending:
                raise AssertionError(f"trace line {number}: resumption without a start: {line!r}")
            name, head, entry = pending.pop(pid)
            if name != resumed.group(1):
                raise AssertionError(f"trace line {number}: {resumed.group(1)} resumed, "
                                     f"{name} was unfinished: {line!r}")
            body = head + resumed.group(2)
        else:
            call = _CALL_RE.match(rest)
            if not call:
                continue
            name, body, entry = call.group(1), call.group(2), number
            if body.endswith("<unfinished ...>"):
                pending[pid] = (name, body[:-len("<unfinished ...>")].rstrip(" "), number)
                continue
        calls.append(Call(pid, name, body, entry, number))
    return calls


class SyncCheck:
    """The outcome of checking a trace: one entry per `250 ... queued as` written."""

    def __init__(self):
        self.replies = []      # (queue id, Call of the write)
        self.violations = []   # text of each reply not preceded by a proper sync
        self.syncs = 0


def check_sync_before_reply(calls, database_names=("missive.db-wal", "missive.db")):
    """For every `250 2.0.0 Ok: queued as ID` written to a socket: a successful fsync or
    fdatasync of the database started after the read that completed that session's data
    (`\\r\\n.\\r\\n`) and ended before the write started."""
    result = SyncCheck()
    syncs = [c for c in calls if c.name in SYNC_CALLS and c.ret == 0 and c.fd_path
             and os.path.basename(c.fd_path) in database_names]
    result.syncs = len(syncs)
    tails = {}          # socket -> last octets received, so a split terminator is found
    ends_of_data = {}   # socket -> [exit line of each read that completed a message's data]
    for c in sorted(calls, key=lambda c: (c.entry if c.name in SEND_CALLS else c.exit)):
        if not c.is_socket:
            continue
        if c.name in RECV_CALLS and c.ret and c.ret > 0:
            if c.truncated:
                raise AssertionError(f"strace cut a socket read short (raise -s): {c}")
            stream = tails.get(c.fd_path, b"") + c.data
            previous = len(tails.get(c.fd_path, b""))
            start = 0
            while True:
                i = stream.find(END_OF_DATA, start)
                if i < 0:
                    break
                if i + len(END_OF_DATA) > previous:  # ends inside this read
                    ends_of_data.setdefault(c.fd_path, []).append(c.exit)
                start = i + len(END_OF_DATA)
            tails[c.fd_path] = stream[-(len(END_OF_DATA) - 1):]
        elif c.name in SEND_CALLS:
            start = 0
            while True:
                i = c.data.find(QUEUED_REPLY, start)
                if i < 0:
                    break
                start = i + len(QUEUED_REPLY)
                qid = re.match(rb"[A-Z0-9]+", c.data[start:])
                qid = qid.group(0).decode() if qid else "?"
                result.replies.append((qid, c))
                pending = ends_of_data.get(c.fd_path) or []
                if not pending:
                    result.violations.append(f"{qid}: 250 written (line {c.entry}) with no "
                                             f"end of data read before it on {c.fd_path}")
                    continue
                data_end = pending.pop(0)
                if not any(s.entry > data_end and s.exit < c.entry for s in syncs):
                    result.violations.append(
                        f"{qid}: no database sync between the end of its data (line "
                        f"{data_end}) and its 250 (line {c.entry}) on {c.fd_path}")
    return result


class TraceParserTest(unittest.TestCase):
    """The checker itself, on hand-written traces: it must be able to say no."""

    GOOD = "\n".join([
        '100  recvfrom(7<socket:[11]>, "DATA\\r\\n", 4096, 0, NULL, NULL) = 6',
        '100  sendto(7<socket:[11]>, "354 go\\r\\n", 8, MSG_NOSIGNAL, NULL, 0) = 8',
        '100  recvfrom(7<socket:[11]>,  <unfinished ...>',
        '101  fdatasync(8</d/missive.db-wal>) = 0',
        '100  <... recvfrom resumed>"Subject: x\\r\\n\\r\\nhi\\r\\n.\\r\\n", 4096, 0, NULL, NULL) = 21',
        '101  pwrite64(8</d/missive.db-wal>, "\\0\\0", 2, 0) = 2',
        '101  fdatasync(8</d/missive.db-wal> <unfinished ...>',
        '100  epoll_wait(5<anon_inode:[eventpoll]>, [], 128, 0) = 0',
        '101  <... fdatasync resumed>)          = 0',
        '100  sendto(7<socket:[11]>, "250 2.0.0 Ok: queued as ABC123\\r\\n", 32, MSG_NOSIGNAL, NULL, 0) = 32',
        '+++ exited with 0 +++',
    ])

    def test_a_sync_between_data_and_reply_passes(self):
        calls = parse_strace(self.GOOD)
        self.assertEqual([(c.name, c.ret) for c in calls],
                         [("recvfrom", 6), ("sendto", 8), ("fdatasync", 0), ("recvfrom", 21),
                          ("pwrite64", 2), ("epoll_wait", 0), ("fdatasync", 0), ("sendto", 32)])
        result = check_sync_before_reply(calls)
        self.assertEqual([q for q, _ in result.replies], ["ABC123"])
        self.assertEqual(result.violations, [])
        self.assertEqual(result.syncs, 2)

    def test_a_sync_only_before_the_data_fails(self):
        lines = self.GOOD.splitlines()
        bad = "\n".join(l for l in lines if "fdatasync(8</d/missive.db-wal> <unf" not in l
                        and "fdatasync resumed" not in l)
        result = check_sync_before_reply(parse_strace(bad))
        self.assertEqual(len(result.replies), 1)
        self.assertEqual(len(result.violations), 1, result.violations)

    def test_a_failed_sync_or_one_of_another_file_does_not_count(self):
        for replacement in ("<... fdatasync resumed>)          = -1 EIO (Input/output error)",
                            "<... fdatasync resumed>)          = ?"):
            bad = self.GOOD.replace("<... fdatasync resumed>)          = 0", replacement)
            self.assertEqual(len(check_sync_before_reply(parse_strace(bad)).violations), 1)
        other = self.GOOD.replace("101  fdatasync(8</d/missive.db-wal> <unfinished",
                                  "101  fdatasync(9</d/other.db> <unfinished")
        self.assertEqual(len(check_sync_before_reply(parse_strace(other)).violations), 1)

    def test_a_sync_that_started_before_the_data_ended_does_not_count(self):
        lines = self.GOOD.splitlines()
        # The sync starts before the read completes and ends after it.
        order = [lines[0], lines[1], lines[2], lines[6], lines[4], lines[8], lines[9]]
        result = check_sync_before_reply(parse_strace("\n".join(order)))
        self.assertEqual(len(result.violations), 1, result.violations)

    def test_sendmsg_and_split_terminator_are_understood(self):
        trace = "\n".join([
            '100  recvmsg(7<socket:[12]>, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="x\\r\\n.", iov_len=4096}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 4',
            '100  recvmsg(7<socket:[12]>, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="\\r\\n", iov_len=4096}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 2',
            '101  fdatasync(8</d/missive.db>) = 0',
            '100  sendmsg(7<socket:[12]>, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="250 2.0.0 Ok: queued as Q1\\r\\n", iov_len=28}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, MSG_NOSIGNAL) = 28',
        ])
        result = check_sync_before_reply(parse_strace(trace))
        self.assertEqual([q for q, _ in result.replies], ["Q1"])
        self.assertEqual(result.violations, [])

    def test_octal_and_hex_escapes(self):
        self.assertEqual(c_unescape(r"a\0b\303\251\x41\\\"\r\n"), b'a\0b\xc3\xa9A\\"\r\n')


# ---------------------------------------------------------------------------------------
# missived under strace
# ---------------------------------------------------------------------------------------

def children_of(pid):
    """Direct children of a process (strace's child is missived)."""
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(p) for p in f.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def stop_traced(server, timeout=20):
    """SIGTERM to missived itself (server.proc is strace, which detaches rather than passing
    a signal on), then wait for both. Returns missived's exit status as strace reports it."""
    pids = children_of(server.proc.pid)
    if len(pids) != 1:
        raise HarnessError(f"strace (pid {server.proc.pid}) has children {pids}, expected "
                           f"exactly missived")
    os.kill(pids[0], signal.SIGTERM)
    try:
        server.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"missived under strace did not exit within {timeout}s of SIGTERM")
    server._join_drains()
    return server.proc.returncode


def kill_traced(server):
    """Cleanup: SIGKILL missived (strace's child) first, so that it is not left detached."""
    if server.proc is None or server.proc.poll() is not None:
        return
    for pid in children_of(server.proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(5)


class SyncBeforeReplyTest(MissiveTestCase):

    def test_every_250_follows_a_sync_of_the_database(self):
        strace = require_tool("strace")
        trace_dir = tempfile.mkdtemp(prefix="missive-strace-")
        if not os.environ.get("MISSIVE_KEEP_TMP"):
            self.addCleanup(shutil.rmtree, trace_dir, ignore_errors=True)
        trace_path = os.path.join(trace_dir, "trace.txt")
        wrapper = [strace, "-f", "-y", "-s", "65536", "-e", f"trace={TRACED_CALLS}",
                   "-o", trace_path]
        # In the sanitizer build: LeakSanitizer cannot work under ptrace and would make the
        # traced relay exit 1 at the end; the other sanitizers stay on.
        asan = os.environ.get("ASAN_OPTIONS", "")
        server = self.start_test_server(
            wrapper=wrapper, env={"ASAN_OPTIONS": (asan + ":" if asan else "") + "detect_leaks=0"})
        self.addCleanup(kill_traced, server)
        for user in (BOB, CAROL):
            server.add_user(user)

        sent = []            # queue ids the clients were given
        failures = []
        lock = threading.Lock()

        def send_on_one_session(tag, count):
            try:
                with server.smtp(timeout=30) as c:
                    for i in range(count):
                        msg = make_message(f"sync {tag}-{i}", [f"body {tag} {i}", "." * (i % 3)])
                        r = c.send_mail(ALICE, [BOB, CAROL], msg, ehlo=(i == 0))
                        with lock:
                            sent.append(queue_id_of(r))
                    c.cmd("QUIT")
            except Exception as e:  # reported in the main thread
                with lock:
                    failures.append(f"session {tag}: {e!r}")

        send_on_one_session("seq", SEQUENTIAL)
        threads = [threading.Thread(target=send_on_one_session, args=(f"par{n}", PER_SESSION),
                                    daemon=True) for n in range(SESSIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertFalse(any(t.is_alive() for t in threads), "a sending session hung")
        self.assertEqual(failures, [])
        total = SEQUENTIAL + SESSIONS * PER_SESSION
        self.assertEqual(len(sent), total)
        wait_for_mailbox_count(server, BOB, total, timeout=30)
        wait_for_mailbox_count(server, CAROL, total, timeout=30)
        self.assertEqual(server.scalar("SELECT count(*) FROM message"), total)

        self.assertEqual(stop_traced(server), 0, server.log_tail())
        with open(trace_path, encoding="latin-1") as f:
            calls = parse_strace(f.read())
        result = check_sync_before_reply(calls)
        found = [q for q, _ in result.replies]
        self.assertEqual(len(found), total,
                         f"found {len(found)} '250 ... queued as' writes in the trace, sent "
                         f"{total} messages (trace: {trace_path})")
        self.assertEqual(sorted(found), sorted(sent))
        self.assertGreater(result.syncs, 0, "no sync of the database in the trace at all")
        self.assertEqual(result.violations, [], "\n".join(result.violations[:20]))
        # The same trace with the database's syncs not counted: every reply is a violation
        # (the check has teeth on this trace, not only on hand-written ones).
        blind = check_sync_before_reply(calls, database_names=("not-the-database",))
        self.assertEqual(len(blind.violations), total)


class FsyncEioTest(MissiveTestCase):

    def test_failing_fsync_turns_250_into_451_and_recovers_without_restart(self):
        shim = fault_shim_path()
        control_dir = tempfile.mkdtemp(prefix="missive-fault-")
        self.addCleanup(shutil.rmtree, control_dir, ignore_errors=True)
        control = os.path.join(control_dir, "fsync-eio")
        server = self.start_test_server(env=shim_env(shim, control))
        pid = server.proc.pid
        server.add_user(BOB)

        first = make_message("before the fault", ["stored and synced"])
        with server.smtp(timeout=30) as c:
            queue_id_of(c.send_mail(ALICE, [BOB], first))
            wait_for_mailbox_count(server, BOB, 1)

            open(control, "w").close()  # from now on every fsync/fdatasync fails with EIO
            try:
                failed_subjects = []
                for i in range(3):
                    subject = f"during the fault {i}"
                    failed_subjects.append(subject)
                    r = c.send_mail(ALICE, [BOB], make_message(subject, [f"lost {i}"]),
                                    ehlo=False)
                    self.assertEqual(r.code, 451, f"message {i} while fsync fails: {r}")
                    self.assertRegex(r.enhanced or "", r"^4\.3\.\d{1,3}$", str(r))
                # A new session sees the same.
                with server.smtp(timeout=30) as c2:
                    subject = "during the fault, second session"
                    failed_subjects.append(subject)
                    r = c2.send_mail(ALICE, [BOB], make_message(subject, ["lost too"]))
                    self.assertEqual(r.code, 451, str(r))
                    self.assertRegex(r.enhanced or "", r"^4\.3\.\d{1,3}$", str(r))
                    c2.cmd("QUIT")
                # POP3 still serves what is stored (reading needs no sync).
                p = pop3_session(server, BOB)
                try:
                    self.assertEqual(p.stat()[0], 1)
                    self.assertTrue(p.retr(1).endswith(first))
                    self.assertOk(p.quit())
                finally:
                    p.close()
                # Nothing of the refused messages is stored.
                self.assertEqual(server.scalar("SELECT count(*) FROM message"), 1)
                self.assertEqual(mailbox_entries(server, BOB), 1)
                for subject in failed_subjects:
                    self.assertEqual(server.scalar(
                        "SELECT count(*) FROM message WHERE instr(body, ?) > 0",
                        (f"Subject: {subject}\r\n".encode(),)), 0, subject)
            finally:
                os.unlink(control)

            # Fault gone: the same relay, the same session, accepts and delivers again.
            self.assertTrue(server.running())
            self.assertEqual(server.proc.pid, pid)
            after = make_message("after the fault", ["accepted again"])
            qid = queue_id_of(c.send_mail(ALICE, [BOB], after, ehlo=False))
            c.cmd("QUIT")
        wait_for_mailbox_count(server, BOB, 2)
        msgs = fetch_all(server, BOB)
        self.assertEqual(len(msgs), 2)
        self.assertTrue(msgs[0].endswith(first))
        self.assertTrue(msgs[1].endswith(after))
        self.assertIn(f"id {qid}".encode(), msgs[1])
        self.assertEqual(server.scalar("SELECT count(*) FROM message"), 2)
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main()
