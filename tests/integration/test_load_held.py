"""Load held, on 127.0.0.1 only.

Sessions: 300 concurrent SMTP sessions (MISSIVE_SOAK=1: 1,000), each sending a message a
second (soak: every 2 s) over one connection per round, in rounds (a 12 s warm-up, then 3 s
each; soak: 60 s, then 30 s each) for 30 s (soak: 5 min), with a POP3 client polling one of
the mailboxes all the while (log in, STAT, UIDL, RETR, DELE, QUIT). Zero errors: every SMTP reply is the exact code and enhanced code
expected, every POP3 command gets +OK; every accepted message is delivered exactly once
(recipient rows, mailbox entries and what the poller took, byte for byte); the relay's memory
is flat after the warm-up (VmRSS sampled after each round once the queue is drained: the
second half of the run does not grow).

Idle connections: 2,000 (soak: 10,000) connections opened one after another against
`[smtp] max_connections = 1500` (soak: 9,000): exactly the first `cap` are greeted with 220
and stay open, every one beyond it gets `421 4.7.0` and is closed; with a few admitted ones
closed, a new client is greeted and completes a mail transaction within 1 s, and the cap
holds again after; once all are closed, the relay's descriptors return to their baseline."""

import asyncio
import mmap
import os
import random
import re
import resource
import socket
import sys
import threading
import time
import unittest

from missive_harness import (HOST, HOSTNAME, PASSWORD, MissiveTestCase, SmtpClient, queue_id_of,
                             wait_for_mailbox_count, wait_until)

SOAK = os.environ.get("MISSIVE_SOAK") == "1"
if SOAK:
    SESSIONS, PACE, ROUNDS, ROUND_SECONDS, WARMUP_SECONDS = 1000, 2.0, 9, 30.0, 60.0
    IDLE, IDLE_CAP = 10000, 9000
else:
    SESSIONS, PACE, ROUNDS, ROUND_SECONDS, WARMUP_SECONDS = 300, 1.0, 7, 3.0, 12.0
    IDLE, IDLE_CAP = 2000, 1500
# ROUNDS counts the first round (WARMUP_SECONDS long) and the rounds after it; memory is
# compared between round BASE_ROUND (0-based) and the last.
BASE_ROUND = ROUNDS // 2
LOAD_SECONDS = WARMUP_SECONDS + (ROUNDS - 1) * ROUND_SECONDS

USERS = [f"load{i}@example.test" for i in range(4)]
POLLED = USERS[0]
SENDER = "sender@client.test"
REPLY_TIMEOUT = 30.0           # seconds for any one reply under load
DRAIN_TIMEOUT = 120 if SOAK else 60
FILLER_LINES = 24              # message size about 2 KiB
POLL_BATCH = 100               # messages the poller takes per POP3 session at most
TEST_ID_RE = re.compile(rb"^X-Test-Id: (\S+)\r$", re.M)
QUEUED_RE = re.compile(rb"^250 2\.0\.0 Ok: queued as ([A-Z0-9]+)\r\n$")

# Memory: VmRSS is sampled after each round, once the queue is drained, the round's sessions
# are closed and no POP3 login is under way (a login that runs scrypt maps 32 MiB for a
# moment). RSS is the heap's high-water mark (glibc keeps freed memory), and it takes a while
# to reach it: SQLite's page caches (2 MiB a connection) fill as the database grows, and each
# round reconnects every session, so how the round's peak interleaves with long-lived
# allocations can move the mark up in steps. Measured: at 300 sessions ~17 MiB, rising by
# < 0.2 MiB over the rounds after the warm-up; at 1,000 sessions for 5 minutes, 23.2 to
# 23.5 MiB. An earlier build that kept TLS buffers for every session (~60 KiB each) rose in
# steps of up to 6 MiB (75, 87, 96, 96, 103 MiB at 1,000 sessions) through the first half of
# the soak, and not one KiB in the second. A leak, unlike a step, grows RSS in every round.
# So the first half of the run (the long first round and the rounds up to BASE_ROUND) is the
# warm-up, and after it
#  - in total, the last round is at most 10% + 4 MiB above round BASE_ROUND (room for one
#    more step), and
#  - at most half of the rounds after BASE_ROUND grow by more than 0.5% + 256 KiB each.
# At the short scale (3 s rounds: ~900 messages and 300 sessions each) the second breaks with
# a leak of >= 400 octets a message or >= 1.2 KiB a session, the first with ~2 KiB a message
# wherever the rounds fall; the soak's 30 s rounds (~15,000 messages, 1,000 sessions) see
# leaks of ~30 octets a message.
RSS_TOTAL_GROWTH, RSS_TOTAL_SLACK_KIB = 0.10, 4 * 1024
RSS_ROUND_GROWTH, RSS_ROUND_SLACK_KIB = 0.005, 256
# Under AddressSanitizer RSS is dominated by the quarantine of freed memory (256 MiB) and
# swings by +-30 MiB between samples as the allocator returns memory to the system on its
# own schedule (measured): there only the total is checked, and only a gross leak fails it.
RSS_TOTAL_GROWTH_ASAN, RSS_TOTAL_SLACK_KIB_ASAN = 0.25, 32 * 1024


def sanitized(path):
    """Whether a binary is built with AddressSanitizer (it references __asan_init)."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        return m.find(b"__asan_init") >= 0


def message_for(test_id, rcpt):
    """The exact bytes sent for one test id (so nothing needs keeping to check them)."""
    return (f"From: {SENDER}\r\nTo: {rcpt}\r\nSubject: load {test_id}\r\n"
            f"Date: Mon, 01 Jan 2024 12:00:00 +0000\r\n"
            f"Message-ID: <{test_id}@client.test>\r\nX-Test-Id: {test_id}\r\n\r\n"
            f"Message {test_id} for {rcpt}.\r\n"
            f"..a line that starts with a dot\r\n"
            + "".join(f"{n:02d} " + "x" * 67 + "\r\n" for n in range(FILLER_LINES))).encode()


def marker_of(raw):
    """The X-Test-Id of a message, or None."""
    head = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    found = TEST_ID_RE.findall(head)
    return found[0].decode() if len(found) == 1 else None


def proc_status(pid, field):
    """A field of /proc/PID/status in kB, e.g. VmRSS."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def stable_fd_count(pid):
    """A predicate for wait_until: the descriptor count once it is the same 0.2 s apart."""
    def check():
        n = fd_count(pid)
        time.sleep(0.2)
        return n if fd_count(pid) == n else None
    return check


def nofile_limit(pid):
    """The soft RLIMIT_NOFILE of a process, from /proc/PID/limits."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError(f"no open-files limit in /proc/{pid}/limits")


def raise_nofile(needed):
    """Raise this process's soft RLIMIT_NOFILE to `needed` (children inherit it); a hard
    limit below it is a loud failure."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise AssertionError(f"RLIMIT_NOFILE hard limit {hard} < {needed} needed by this test")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return soft, hard


# -- the SMTP load ----------------------------------------------------------------------------

class Load:
    """What the senders did: accepted[test_id] = (qid, rcpt); errors: descriptions."""

    def __init__(self):
        self.accepted = {}
        self.errors = []
        self.sessions = 0


async def read_reply(reader):
    """One whole SMTP reply (raw bytes); EOF is an error."""
    raw = b""
    while True:
        line = await asyncio.wait_for(reader.readline(), REPLY_TIMEOUT)
        if not line.endswith(b"\r\n"):
            raise AssertionError(f"connection closed or line not CRLF-terminated: {raw + line!r}")
        raw += line
        if line[3:4] != b"-":
            return raw


async def expect(reader, prefix, what):
    raw = await read_reply(reader)
    if not raw.startswith(prefix):
        raise AssertionError(f"{what}: expected {prefix!r}, got {raw!r}")
    return raw


async def sender_session(load, port, index, round_no, deadline):
    """One connection: EHLO, then a message every PACE seconds (after a random offset) until
    the round's deadline, then QUIT. Bounded in count and time."""
    reader = writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), REPLY_TIMEOUT)
        load.sessions += 1
        await expect(reader, b"220 ", "greeting")
        writer.write(f"EHLO s{index}.client.test\r\n".encode())
        await expect(reader, b"250", "EHLO")
        next_at = time.monotonic() + random.uniform(0, PACE)
        for n in range(int(max(WARMUP_SECONDS, ROUND_SECONDS) / PACE) + 2):
            if next_at >= deadline:
                break
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += PACE
            test_id = f"L{round_no}.{index}.{n}"
            rcpt = USERS[(index + n) % len(USERS)]
            writer.write(f"MAIL FROM:<{SENDER}>\r\n".encode())
            await expect(reader, b"250 2.1.0 ", f"MAIL of {test_id}")
            writer.write(f"RCPT TO:<{rcpt}>\r\n".encode())
            await expect(reader, b"250 2.1.5 ", f"RCPT of {test_id}")
            writer.write(b"DATA\r\n")
            await expect(reader, b"354 ", f"DATA of {test_id}")
            body = message_for(test_id, rcpt)
            stuffed = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                               for l in body.split(b"\r\n")[:-1])
            writer.write(stuffed + b".\r\n")
            raw = await read_reply(reader)
            m = QUEUED_RE.match(raw)
            if not m:
                raise AssertionError(f"end of DATA of {test_id}: got {raw!r}")
            load.accepted[test_id] = (m.group(1).decode(), rcpt)
        writer.write(b"QUIT\r\n")
        await expect(reader, b"221 ", "QUIT")
    except Exception as e:  # every failure is counted; the assertion reports them
        load.errors.append(f"session {index} round {round_no}: {e!r}")
    finally:
        if writer is not None:
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 5)
            except Exception:
                pass


async def run_round(load, port, round_no, seconds):
    deadline = time.monotonic() + seconds
    tasks = [sender_session(load, port, i, round_no, deadline) for i in range(SESSIONS)]
    await asyncio.wait_for(asyncio.gather(*tasks), seconds + 3 * REPLY_TIMEOUT)


# -- the POP3 poller --------------------------------------------------------------------------

class Poller(threading.Thread):
    """Polls POLLED until stopped: log in, STAT, UIDL, RETR and DELE up to POLL_BATCH
    messages, QUIT, wait for the close. taken[test_id] = raw message (after QUIT's +OK)."""

    def __init__(self, server, deadline):
        super().__init__(daemon=True)
        self.server = server
        self.deadline = deadline
        self.stop_event = threading.Event()
        self.taken = {}
        self.duplicates = []
        self.errors = []
        self.polls = 0
        self.commands = 0
        # Held during each POP3 session, so that memory can be sampled between sessions: a
        # login that runs the password hash (scrypt) maps 32 MiB for a moment: no leak.
        self.session_lock = threading.Lock()

    def check(self, line, what):
        self.commands += 1
        if not line.startswith("+OK"):
            raise AssertionError(f"POP3 {what}: {line!r}")

    def poll_once(self):
        c = self.server.pop3()
        try:
            if not c.greeting.startswith("+OK"):
                raise AssertionError(f"POP3 greeting: {c.greeting!r}")
            self.check(c.cmd(f"USER {POLLED}"), "USER")
            self.check(c.cmd(f"PASS {PASSWORD}"), "PASS")
            r = c.cmd("STAT")
            self.check(r, "STAT")
            count = int(r.split()[1])
            r = c.cmd("UIDL")
            self.check(r, "UIDL")
            uids = c.multiline().split(b"\r\n")[:-1]
            if len(uids) != count:
                raise AssertionError(f"UIDL lists {len(uids)} messages, STAT said {count}")
            got = {}
            for n in range(1, min(count, POLL_BATCH) + 1):
                self.check(c.cmd(f"RETR {n}"), f"RETR {n}")
                raw = c.multiline()
                test_id = marker_of(raw)
                if test_id is None:
                    raise AssertionError(f"RETR {n}: no X-Test-Id in {raw[:300]!r}")
                got[test_id] = raw
                self.check(c.cmd(f"DELE {n}"), f"DELE {n}")
            self.check(c.cmd("QUIT"), "QUIT")
            # The maildrop is unlocked when the session ends: wait for the close.
            if not c.is_closed(10):
                raise AssertionError("the server did not close the POP3 connection after QUIT")
            for test_id, raw in got.items():
                if test_id in self.taken:
                    self.duplicates.append(test_id)
                self.taken[test_id] = raw
            self.polls += 1
        finally:
            c.close()

    def run(self):
        while not self.stop_event.is_set() and time.monotonic() < self.deadline:
            try:
                with self.session_lock:
                    self.poll_once()
            except Exception as e:
                self.errors.append(repr(e))
                if len(self.errors) > 20:
                    return
            self.stop_event.wait(0.2)

    def stop(self):
        self.stop_event.set()
        self.join(60)


# -- the tests --------------------------------------------------------------------------------

class LoadHeldTest(MissiveTestCase):

    def test_sessions_and_polling_zero_errors_exactly_once_memory_flat(self):
        raise_nofile(SESSIONS * 2 + 1000)
        server = self.start_test_server(config=(
            "[smtp]\n"
            f"max_connections = {SESSIONS + 500}\n"
            f"max_connections_per_address = {SESSIONS + 500}\n"
            'greeting_delay = "0s"\n'))
        for user in USERS:
            server.add_user(user)
        pid = server.proc.pid
        load = Load()
        poller = Poller(server, time.monotonic() + LOAD_SECONDS + ROUNDS * DRAIN_TIMEOUT + 60)
        poller.start()
        self.addCleanup(poller.stop)

        def undelivered():
            return server.scalar("SELECT count(*) FROM recipient WHERE state != 'delivered'")

        rss = []
        started = time.monotonic()
        for round_no in range(ROUNDS):
            seconds = WARMUP_SECONDS if round_no == 0 else ROUND_SECONDS
            asyncio.run(run_round(load, server.smtp_port, round_no, seconds))
            self.assertEqual(load.errors, [], f"SMTP errors in round {round_no}")
            wait_until(lambda: undelivered() == 0, timeout=DRAIN_TIMEOUT, interval=0.1,
                       what=f"the queue drained after round {round_no}")
            with poller.session_lock:
                rss.append(proc_status(pid, "VmRSS"))
        elapsed = time.monotonic() - started
        poller.stop()
        self.assertFalse(poller.is_alive(), "the POP3 poller did not stop")
        sys.stderr.write(f"\n[load] {SESSIONS} sessions, a {WARMUP_SECONDS:.0f} s warm-up and "
                         f"{ROUNDS - 1} rounds of {ROUND_SECONDS:.0f} s: "
                         f"{len(load.accepted)} messages in {elapsed:.1f} s; POP3: {poller.polls} "
                         f"polls, {poller.commands} commands, {len(poller.taken)} taken; "
                         f"VmRSS by round (KiB): {rss}\n")

        # Zero errors.
        self.assertEqual(load.errors, [])
        self.assertEqual(poller.errors, [], "POP3 errors")
        self.assertEqual(poller.duplicates, [], "the poller got the same message twice")
        self.assertEqual(load.sessions, SESSIONS * ROUNDS)
        self.assertGreaterEqual(len(load.accepted), SESSIONS * (LOAD_SECONDS / PACE - 2 * ROUNDS),
                                "fewer messages than the pace asks for: the load did not hold")
        self.assertGreater(poller.polls, ROUNDS, "the poller hardly polled")
        self.assertGreater(len(poller.taken), 0)

        # Exactly once: one delivered recipient per accepted message, no other message (no
        # bounce), and each message once in its mailbox or in what the poller took.
        by_qid = {qid: (test_id, rcpt) for test_id, (qid, rcpt) in load.accepted.items()}
        self.assertEqual(len(by_qid), len(load.accepted), "a queue id was given twice")
        taken_qids = set()
        for test_id in poller.taken:
            self.assertIn(test_id, load.accepted, f"the poller got {test_id}, never accepted")
            taken_qids.add(load.accepted[test_id][0])
        # A message the poller deleted is gone from the relay with its rows; every other
        # one has its one recipient delivered at the first attempt.
        rows = server.query("SELECT m.queue_id, r.address, r.state, r.attempts FROM recipient r "
                            "JOIN message m ON m.id = r.message_id")
        self.assertEqual(len(rows), len(by_qid) - len(taken_qids))
        for qid, address, state, attempts in rows:
            self.assertIn(qid, by_qid)
            self.assertNotIn(qid, taken_qids)
            self.assertEqual((address, state, attempts), (by_qid[qid][1], "delivered", 1), qid)
        self.assertEqual(server.scalar("SELECT count(*) FROM message"), len(by_qid) - len(taken_qids))
        entries = server.query("SELECT m.queue_id, u.address, m.body FROM mailbox_entry me "
                               "JOIN user u ON u.id = me.user_id "
                               "JOIN message m ON m.id = me.message_id")
        in_mailbox = {}
        for qid, address, body in entries:
            self.assertNotIn(qid, in_mailbox, f"{qid} twice in the mailboxes")
            in_mailbox[qid] = (address, bytes(body))
        for test_id, raw in poller.taken.items():
            qid, rcpt = load.accepted[test_id]
            self.assertEqual(rcpt, POLLED)
            self.assertNotIn(qid, in_mailbox, f"{test_id} was deleted but is still in the mailbox")
            self.assertStoredEndsWith(raw, message_for(test_id, rcpt))
        for qid, (test_id, rcpt) in by_qid.items():
            if qid in taken_qids:
                continue
            self.assertIn(qid, in_mailbox, f"{test_id} ({qid}) accepted but not delivered")
            address, body = in_mailbox[qid]
            self.assertEqual(address, rcpt)
            if not body.endswith(message_for(test_id, rcpt)):
                self.fail(f"{test_id} stored differently: {body[-300:]!r}")
        self.assertEqual(len(in_mailbox) + len(taken_qids), len(by_qid))

        # Memory flat after the warm-up: the second half of the run does not grow.
        base = rss[BASE_ROUND]
        asan = sanitized(server.command()[0])
        growth, slack = ((RSS_TOTAL_GROWTH_ASAN, RSS_TOTAL_SLACK_KIB_ASAN) if asan
                         else (RSS_TOTAL_GROWTH, RSS_TOTAL_SLACK_KIB))
        self.assertLessEqual(rss[-1], base * (1 + growth) + slack,
                             f"VmRSS grew from {base} KiB (round {BASE_ROUND + 1}) to {rss[-1]} "
                             f"KiB (round {ROUNDS}); by round: {rss}")
        if not asan:
            deltas = [b - a_ for a_, b in zip(rss[BASE_ROUND:], rss[BASE_ROUND + 1:])]
            growing = [d for d in deltas if d > base * RSS_ROUND_GROWTH + RSS_ROUND_SLACK_KIB]
            self.assertLessEqual(2 * len(growing), len(deltas),
                                 f"VmRSS grows round after round (KiB: {deltas} after round "
                                 f"{BASE_ROUND + 1}); by round: {rss}")

    def test_idle_connections_cap_421_and_descriptors_back_to_baseline(self):
        raise_nofile(IDLE + 1000)
        server = self.start_test_server(config=(
            "[smtp]\n"
            f"max_connections = {IDLE_CAP}\n"
            f"max_connections_per_address = {IDLE * 10}\n"
            'greeting_delay = "0s"\n'))
        user = "idle@example.test"
        server.add_user(user)
        pid = server.proc.pid
        self.assertGreaterEqual(nofile_limit(pid), IDLE_CAP + 100,
                                "the relay cannot open as many descriptors as the cap allows")
        # Baseline: listeners, database, log pipes; stable once the relay is up.
        with server.smtp() as c:
            self.assertEqual(c.cmd("QUIT").code, 221)
        baseline = wait_until(stable_fd_count(pid), timeout=5, what="a stable descriptor count")
        refused_before = server.read_log().count("event=refused reason=too_many_connections")
        rss_before = proc_status(pid, "VmRSS")

        admitted, refused = [], 0
        self.addCleanup(lambda: [s.close() for s in admitted])
        greeting = f"220 {HOSTNAME} ".encode()
        started = time.monotonic()
        deadline = started + (120 if SOAK else 60)
        for i in range(IDLE):
            self.assertLess(time.monotonic(), deadline, f"opening {IDLE} connections took too long")
            s = socket.create_connection((HOST, server.smtp_port), timeout=10)
            s.settimeout(10)
            f = s.makefile("rb")
            line = f.readline(1024)
            if i < IDLE_CAP:
                self.assertTrue(line.startswith(greeting),
                                f"connection {i + 1} (cap {IDLE_CAP}) got {line!r}")
                f.close()
                admitted.append(s)
            else:
                self.assertRegex(line, rb"^421 4\.7\.0 .*too many connections.*\r\n$",
                                 f"connection {i + 1} beyond the cap of {IDLE_CAP}")
                self.assertEqual(f.read(), b"", "the relay must close a refused connection")
                f.close()
                s.close()
                refused += 1
        opened_in = time.monotonic() - started
        self.assertEqual((len(admitted), refused), (IDLE_CAP, IDLE - IDLE_CAP))
        # One descriptor per admitted session, none left by the refused ones.
        wait_until(lambda: fd_count(pid) == baseline + IDLE_CAP, timeout=10,
                   what=f"relay descriptors = baseline {baseline} + {IDLE_CAP} "
                        f"(now {fd_count(pid)})")
        rss_kib = proc_status(pid, "VmRSS")
        sys.stderr.write(f"\n[idle] {IDLE_CAP} idle SMTP sessions open (+{refused} refused) in "
                         f"{opened_in:.1f} s: relay VmRSS {rss_kib} KiB (before: {rss_before} KiB; "
                         f"{(rss_kib - rss_before) / IDLE_CAP:.1f} KiB a session), {fd_count(pid)} "
                         f"descriptors (baseline {baseline})\n")
        self.assertTrue(server.running())

        # Below the cap again: a new client is served at once.
        closing = 10
        for s in admitted[-closing:]:
            s.close()
        del admitted[-closing:]
        wait_until(lambda: fd_count(pid) == baseline + IDLE_CAP - closing, timeout=5,
                   what="the relay noticing the closed sessions")
        t0 = time.monotonic()
        with SmtpClient(server.smtp_port, timeout=5) as c:
            self.assertEqual(c.greeting.code, 220, c.greeting)
            body = b"Subject: under the cap\r\n\r\nserved promptly\r\n"
            qid = queue_id_of(c.send_mail("idle-sender@client.test", [user], body))
            took = time.monotonic() - t0
            self.assertEqual(c.cmd("QUIT").code, 221)
        self.assertLessEqual(took, 1.0, f"a client under the cap waited {took:.2f} s")
        wait_for_mailbox_count(server, user, 1)
        self.assertEqual(server.scalar("SELECT count(*) FROM message WHERE queue_id = ?", (qid,)), 1)

        # The cap holds again: `closing` more are admitted, the next is refused.
        wait_until(lambda: fd_count(pid) == baseline + IDLE_CAP - closing, timeout=5)
        for i in range(closing + 1):
            s = socket.create_connection((HOST, server.smtp_port), timeout=10)
            s.settimeout(10)
            f = s.makefile("rb")
            line = f.readline(1024)
            f.close()
            if i < closing:
                self.assertTrue(line.startswith(greeting), line)
                admitted.append(s)
            else:
                self.assertTrue(line.startswith(b"421 4.7.0 "), line)
                s.close()
        # One log line per refusal (the log reaches the file through a pipe: wait for it).
        def refusals_logged():
            return server.read_log().count("event=refused reason=too_many_connections") - refused_before
        wait_until(lambda: refusals_logged() >= IDLE - IDLE_CAP + 1, timeout=5,
                   what="a log line for each refusal")
        self.assertEqual(refusals_logged(), IDLE - IDLE_CAP + 1)

        # All closed: the descriptors return to the baseline.
        for s in admitted:
            s.close()
        admitted.clear()
        wait_until(lambda: fd_count(pid) == baseline, timeout=30, interval=0.2,
                   what=f"relay descriptors back to the baseline {baseline}")
        self.assertTrue(server.running())
        with server.smtp() as c:
            self.assertEqual(c.cmd("NOOP").code, 250)
            c.cmd("QUIT")


if __name__ == "__main__":
    unittest.main()
