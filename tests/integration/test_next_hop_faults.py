"""The next hop away, slow or broken, and nothing lost: relay A routes each fault domain to a
next hop the test controls and good.test to a healthy one. One test per fault:

  (a) nothing listens on the next hop's port (connection refused), then a server appears;
  (b) the next hop greets with 421;
  (c) it answers 451 to RCPT, or 451 after the final dot;
  (d) it takes a fixed delay before every reply line (MISSIVE_SOAK=1: a minute a line);
  (e) it reads the whole message and hangs up without a reply.

For each fault with retries, the attempt times (from the next hop's connection log, or the
moment each 'deferred' event appears in A's database when nothing listens) follow the
configured backoff: every delay A chose lies in the +-20% jitter band of the doubling
interval (capped at retry_max), and the next attempt comes no earlier than that delay minus
the one second lost to whole-second timestamps and not much later than it. No 'failed',
'expired' or 'bounced' event and no DSN appear before max_lifetime; once the next hop behaves,
the message is delivered at the next scheduled attempt (within one retry interval), byte for
byte, and A records it delivered (recipient row, event, log line). While A waits between
retries its CPU use is near idle (< 5% of one core over 3 s, from /proc/PID/stat), and mail
for good.test is delivered within 2 s of its acceptance throughout the fault.

(d) needs no retry: with A's outbound timeouts at their defaults (300 s a reply, 600 s after
the final dot) the slow next hop gets the message in the first attempt, and good.test mail
keeps flowing beside the slow session."""

import os
import random
import re
import socket
import threading
import time
import unittest

from missive_harness import FakeSmtpServer, make_message, RelayTestCase, smtp_send, wait_until

SOAK = os.environ.get("MISSIVE_SOAK") == "1"
if SOAK:
    QUEUE = {"retry_initial": "5s", "retry_max": "15s", "max_lifetime": "30m"}
    FAILURES = 5            # failed attempts before the next hop recovers
    LINE_DELAY = 60.0       # (d): seconds before every reply line
else:
    QUEUE = {"retry_initial": "2s", "retry_max": "4s", "max_lifetime": "60s"}
    FAILURES = 3
    LINE_DELAY = 1.5

RETRY_INITIAL = int(QUEUE["retry_initial"][:-1])
RETRY_MAX = int(QUEUE["retry_max"][:-1])
MAX_LIFETIME = int(QUEUE["max_lifetime"][:-1]) * (60 if QUEUE["max_lifetime"].endswith("m") else 1)
# Attempt spacing: next_attempt_at is kept in whole seconds, counted from the next whole
# second, so a retry is never before the delay A chose and up to one second after it; the
# rest is scheduling and observation noise.
EARLY_TOLERANCE = 0.3
LATE_TOLERANCE = 1.0 + 0.8
GOOD_PROMPT = 2.0           # seconds from the 250 for good.test mail to its delivery
CPU_WINDOW = 3.0            # seconds of waiting over which CPU use is measured
CPU_LIMIT = 0.05            # fraction of one core

ALICE = "alice@a.test"      # no local user: a DSN (there must be none) is seen as a message
GOOD = "good@good.test"
CLK_TCK = os.sysconf("SC_CLK_TCK")
DEFERRED_DELAY_RE = re.compile(r"next attempt in (\d+)s")
NOT_BEFORE_LIFETIME = ("failed", "expired", "bounced", "bounce_suppressed")


def std_round(x):
    """C++ std::round (half away from zero) for positive x."""
    return int(x + 0.5)


def delay_band(attempt):
    """The (lowest, highest) retry delay after failed attempt number `attempt` (1-based):
    retry_initial doubled per earlier failure, capped at retry_max, times a jitter factor in
    [0.8, 1.2], rounded to whole seconds, at least 1 (server/retry_schedule.cpp)."""
    base = min(RETRY_INITIAL * 2 ** (attempt - 1), RETRY_MAX)
    return max(1, std_round(0.8 * base)), max(1, std_round(1.2 * base))




def cpu_seconds(pid):
    """utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class EventWatcher:
    """Polls a relay's event table for one message (every 50 ms, in a thread) and notes when
    each event first appeared: [(monotonic time, kind, recipient, detail)]."""

    def __init__(self, relay, qid):
        self.relay = relay
        self.qid = qid
        self.seen = []
        self._ids = set()
        self.cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        deadline = time.monotonic() + 3600  # bounded even if nobody stops it
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                rows = self.relay.query(
                    "SELECT e.id, e.kind, e.recipient, e.detail FROM event e JOIN message m "
                    "ON m.id = e.message_id WHERE m.queue_id = ? ORDER BY e.id", (self.qid,))
            except Exception:
                rows = []
            now = time.monotonic()
            with self.cond:
                for eid, kind, rcpt, detail in rows:
                    if eid not in self._ids:
                        self._ids.add(eid)
                        self.seen.append((now, kind, rcpt, detail))
                        self.cond.notify_all()
            self._stop.wait(0.05)

    def of_kind(self, kind):
        with self.cond:
            return [e for e in self.seen if e[1] == kind]

    def wait_kind(self, kind, count, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [e for e in self.seen if e[1] == kind]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{count} '{kind}' event(s) of {self.qid} expected within "
                                         f"{timeout:.1f} s; events so far: "
                                         f"{[(k, d) for _, k, _, d in self.seen]}")
                self.cond.wait(min(remaining, 0.1))

    def stop(self):
        self._stop.set()
        self._thread.join(5)


class ConnectionLog:
    """An on_connect hook for FakeSmtpServer: notes the time of every connection and, while
    `greet_421` is set, greets with 421, notes what the client sends next (up to a line, for
    at most 2 s) in `after_421`, and hangs up."""

    GREETING_421 = "421 4.3.2 fake.x.test Service not available, closing transmission channel"

    def __init__(self):
        self.times = []
        self.after_421 = []
        self.greet_421 = False
        self.lock = threading.Lock()

    def __call__(self, conn, index):
        with self.lock:
            self.times.append(time.monotonic())
            refuse = self.greet_421
        if not refuse:
            return False
        got = b""
        try:
            conn.sendall(self.GREETING_421.encode() + b"\r\n")
            conn.settimeout(2)
            while b"\n" not in got and len(got) < 4096:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                got += chunk
        except OSError:
            pass
        with self.lock:
            self.after_421.append(got)
        return True

    def attempt_times(self, watcher=None):
        with self.lock:
            return list(self.times)


class SlowSession:
    """An on_connect hook for FakeSmtpServer playing a next hop that waits `delay` seconds
    before every reply line (the greeting, each line of a two-line EHLO reply, MAIL, RCPT,
    DATA, the final dot, QUIT). Records each transaction's data and the times of events."""

    def __init__(self, delay):
        self.delay = delay
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.transactions = []   # (connected at, reply to the final dot sent at, data)
        self.connections = []    # monotonic time of each connection
        self.closed_at = []      # monotonic time each session ended

    def __call__(self, conn, index):
        with self.lock:
            self.connections.append(time.monotonic())
        started = time.monotonic()
        conn.settimeout(max(60.0, self.delay * 3))
        f = conn.makefile("rb")

        def send(line):
            if self.stopping.wait(self.delay):
                raise OSError("stopping")
            conn.sendall(line.encode() + b"\r\n")
        try:
            send("220 slow.x.test ESMTP slow")
            data, rcpts = None, []
            while True:
                raw = f.readline(4096)
                if not raw:
                    return True
                verb = raw[:4].upper()
                if verb == b"EHLO":
                    send("250-slow.x.test")
                    send("250 ENHANCEDSTATUSCODES")
                elif verb == b"HELO":
                    send("250 slow.x.test")
                elif verb == b"MAIL":
                    rcpts = []
                    send("250 2.1.0 Ok")
                elif verb == b"RCPT":
                    rcpts.append(raw)
                    send("250 2.1.5 Ok")
                elif verb == b"DATA":
                    send("354 End data with <CR><LF>.<CR><LF>")
                    data = b""
                    while True:
                        line = f.readline(1 << 20)
                        if not line:
                            return True
                        if line == b".\r\n":
                            break
                        data += line[1:] if line.startswith(b".") else line
                    send(f"250 2.0.0 Ok: queued as SLOW{len(self.transactions) + 1}")
                    with self.lock:
                        self.transactions.append((started, time.monotonic(), data))
                elif verb == b"QUIT":
                    send("221 2.0.0 Bye")
                    return True
                elif verb == b"RSET":
                    send("250 2.0.0 Ok")
                else:
                    send("502 5.5.1 Error: command not implemented")
        except OSError:
            return True
        finally:
            with self.lock:
                self.closed_at.append(time.monotonic())
            try:
                f.close()
                conn.close()
            except OSError:
                pass


class NextHopFaultTest(RelayTestCase):

    # -- set-up ----------------------------------------------------------------------------

    def start_a(self, fault_domain, fault_port):
        """Relay A: fault_domain -> fault_port, good.test -> a healthy fake next hop."""
        self.good = self.fake_smtp(name="good.x.test")
        self.a = self.start_relay("a.test", queue=QUEUE,
                                  routes=[(fault_domain, fault_port), ("good.test", self.good.port)])
        return self.a

    def send_victim(self, fault_domain, subject):
        victim = f"victim@{fault_domain}"
        msg = make_message(subject, ["while the next hop is in trouble", ".a dotted line"],
                           sender=ALICE, to=victim)
        qid = smtp_send(self.a, ALICE, [victim], msg)
        watcher = EventWatcher(self.a, qid)
        self.addCleanup(watcher.stop)
        return victim, msg, qid, watcher

    # -- checks made during the fault ------------------------------------------------------

    def assertGoodMailFlows(self, label):
        """A message for good.test, accepted now, reaches the healthy next hop promptly."""
        before = len(self.good.transactions)
        msg = make_message(f"good during {label}", ["unaffected"], sender=ALICE, to=GOOD)
        qid = smtp_send(self.a, ALICE, [GOOD], msg)
        accepted = time.monotonic()
        transactions = self.good.wait_transactions(before + 1, timeout=GOOD_PROMPT + 5)
        t = transactions[before]
        self.assertLessEqual(t.at - accepted, GOOD_PROMPT,
                             f"mail for good.test took {t.at - accepted:.2f} s during {label}")
        self.assertEqual(t.rcpts, [GOOD])
        self.assertRelayedCopy(t.data, msg, self.a, qid)
        self.a.wait_state(qid, GOOD, "delivered", timeout=5)
        return t.at - accepted

    def assertIdleCpu(self, label):
        """The relay uses less than CPU_LIMIT of one core over CPU_WINDOW seconds."""
        pid = self.a.proc.pid
        t0, c0 = time.monotonic(), cpu_seconds(pid)
        time.sleep(CPU_WINDOW)
        t1, c1 = time.monotonic(), cpu_seconds(pid)
        share = (c1 - c0) / (t1 - t0)
        self.assertLess(share, CPU_LIMIT,
                        f"relay used {share:.1%} of a core while waiting ({label})")
        return share

    # -- the common scenario ---------------------------------------------------------------

    def fault_then_recovery(self, fault_domain, fault_port, recover, reason, attempt_times,
                            subject):
        """The message for fault_domain fails FAILURES times (each deferral's detail matching
        `reason`), then recover() makes the next hop behave. attempt_times(watcher) -> the
        monotonic times of the attempts as the test observed them (at least FAILURES + 1
        once delivered). Returns (qid, msg) after the common assertions."""
        a = self.a
        victim, msg, qid, watcher = self.send_victim(fault_domain, subject)
        wait_limit = 1.2 * RETRY_MAX + LATE_TOLERANCE + 1
        for k in range(1, FAILURES + 1):
            watcher.wait_kind("deferred", k, timeout=wait_limit + (5 if k == 1 else 0))
            if k == 1:
                self.assertGoodMailFlows(f"{fault_domain} after failure 1")
            if k == 2:
                self.assertIdleCpu(f"{fault_domain} between retries")
                self.assertGoodMailFlows(f"{fault_domain} after failure 2")
        # Still within the fault: nothing given up on, nothing bounced.
        self.assertLess(time.monotonic() - watcher.seen[0][0], MAX_LIFETIME - 5,
                        "the fault outlasted max_lifetime: the test proves nothing")
        recovered = time.monotonic()
        recover()
        delivered = watcher.wait_kind("delivered", 1, timeout=wait_limit + 5)

        deferred = watcher.of_kind("deferred")
        self.assertEqual(len(deferred), FAILURES,
                         f"one deferral per failed attempt: {[(k, d) for _, k, _, d in watcher.seen]}")
        delays = []
        for n, (_, _, rcpt, detail) in enumerate(deferred, start=1):
            self.assertEqual(rcpt, victim)
            self.assertRegex(detail, reason)
            m = DEFERRED_DELAY_RE.search(detail)
            self.assertIsNotNone(m, detail)
            delay = int(m.group(1))
            lo, hi = delay_band(n)
            self.assertTrue(lo <= delay <= hi,
                            f"delay after failure {n} is {delay} s, outside the configured "
                            f"{lo}..{hi} s (retry_initial {RETRY_INITIAL} s, retry_max "
                            f"{RETRY_MAX} s, +-20% jitter)")
            delays.append(delay)

        times = attempt_times(watcher)
        self.assertEqual(len(times), FAILURES + 1,
                         f"{FAILURES} failed attempts and one that delivered, got {len(times)}")
        gaps = [b - a_ for a_, b in zip(times, times[1:])]
        report = ", ".join(f"{g:.2f} s (chose {d} s)" for g, d in zip(gaps, delays))
        for n, (gap, delay) in enumerate(zip(gaps, delays), start=1):
            self.assertGreaterEqual(gap, delay - EARLY_TOLERANCE,
                                    f"attempt {n + 1} came too early: {report}")
            self.assertLessEqual(gap, delay + LATE_TOLERANCE,
                                 f"attempt {n + 1} came too late: {report}")
        # After recovery: delivered at the next scheduled attempt, within one retry interval.
        self.assertLessEqual(times[-1] - recovered, delays[-1] + LATE_TOLERANCE, report)
        self.assertLessEqual(times[-1] - recovered, 1.2 * RETRY_MAX + LATE_TOLERANCE, report)

        # A's records: delivered once, after the deferrals; nothing bounced.
        state, attempts, _, last_reply = a.wait_state(qid, victim, "delivered", timeout=5)
        self.assertEqual(attempts, FAILURES + 1)
        self.assertRegex(last_reply or "", r"^250 ")
        kinds = [k for k, _, _ in a.events(qid)]
        self.assertEqual(kinds, ["accepted"] + ["deferred"] * FAILURES + ["delivered"], a.events(qid))
        [(_, _, _, detail)] = delivered
        self.assertIn(f"relay=127.0.0.1[127.0.0.1]:{fault_port}", detail)
        a.wait_delivery_log(qid, victim, "sent", relay=rf"127\.0\.0\.1\[127\.0\.0\.1\]:{fault_port}",
                            attempts=str(FAILURES + 1))
        self.assertFalse(set(kinds) & set(NOT_BEFORE_LIFETIME), kinds)
        self.assertEqual(a.scalar("SELECT count(*) FROM message WHERE sender = ''"), 0,
                         "a DSN was generated before max_lifetime")
        self.assertEqual(a.scalar("SELECT count(*) FROM recipient WHERE state = 'failed'"), 0)
        return qid, msg

    # -- the faults ------------------------------------------------------------------------

    def test_a_connection_refused_then_a_server_appears(self):
        port = self.reserved_port()  # refused until the fake next hop listens on it
        self.start_a("down.test", port)
        hop = {}

        def recover():
            hop["fake"] = self.fake_smtp(port=port, name="down.x.test")

        def attempt_times(watcher):
            # Nothing listens, so the attempts are seen as the moments A records them
            # (polled every 50 ms): each deferral, then the delivery.
            return [t for t, k, _, _ in watcher.seen if k in ("deferred", "delivered")]

        qid, msg = self.fault_then_recovery(
            "down.test", port, recover, rf"(?i)connection refused.*127\.0\.0\.1.*:{port}\b"
            rf"|127\.0\.0\.1.*:{port}\b.*connection refused", attempt_times, "refused")
        [t] = hop["fake"].wait_transactions(1)
        self.assertEqual(t.rcpts, ["victim@down.test"])
        self.assertRelayedCopy(t.data, msg, self.a, qid)
        self.assertEqual(hop["fake"].connections, 1)

    def test_b_421_at_the_greeting(self):
        log = ConnectionLog()
        log.greet_421 = True
        fake = self.fake_smtp(name="busy.x.test", on_connect=log)
        self.start_a("busy.test", fake.port)

        def recover():
            with log.lock:
                log.greet_421 = False

        qid, msg = self.fault_then_recovery("busy.test", fake.port, recover, r"421 4\.3\.2 ",
                                            log.attempt_times, "greeted with 421")
        [t] = fake.wait_transactions(1)
        self.assertRelayedCopy(t.data, msg, self.a, qid)
        self.assertEqual(t.connection, FAILURES, "the delivery came over the last connection")
        # A 421 greeting means "go away": A sends nothing but (at most) QUIT on those.
        self.assertEqual(len(log.after_421), FAILURES)
        for got in log.after_421:
            self.assertIn(got.upper(), (b"", b"QUIT\r\n"), log.after_421)

    def test_c1_451_at_rcpt(self):
        log = ConnectionLog()
        broken = threading.Event()
        broken.set()
        fake = self.fake_smtp(name="greylist.x.test", on_connect=log,
                              rcpt_reply=lambda addr, n:
                              "451 4.7.1 Greylisted, try again later" if broken.is_set() else None)
        self.start_a("greylist.test", fake.port)
        qid, msg = self.fault_then_recovery("greylist.test", fake.port, broken.clear,
                                            r"451 4\.7\.1 Greylisted", log.attempt_times,
                                            "451 at RCPT")
        rcpts = fake.rcpts_of("victim@greylist.test")
        self.assertEqual([r[:3] for _, r in rcpts], ["451"] * FAILURES + ["250"], rcpts)
        [t] = fake.wait_transactions(1)
        self.assertRelayedCopy(t.data, msg, self.a, qid)

    def test_c2_451_at_end_of_data(self):
        log = ConnectionLog()
        broken = threading.Event()
        broken.set()
        fake = self.fake_smtp(name="full.x.test", on_connect=log,
                              data_reply=lambda n:
                              "451 4.3.0 Local error in processing" if broken.is_set() else None)
        self.start_a("full.test", fake.port)
        qid, msg = self.fault_then_recovery("full.test", fake.port, broken.clear,
                                            r"451 4\.3\.0 Local error in processing",
                                            log.attempt_times, "451 after DATA")
        transactions = fake.wait_transactions(FAILURES + 1)
        self.assertEqual(len(transactions), FAILURES + 1, transactions)
        self.assertEqual([t.outcome[:3] for t in transactions], ["451"] * FAILURES + ["250"])
        for t in transactions:
            self.assertEqual(t.mail_from, ALICE)
            self.assertEqual(t.rcpts, ["victim@full.test"])
            self.assertRelayedCopy(t.data, msg, self.a, qid)

    def test_d_a_slow_next_hop_gets_the_message_and_others_keep_flowing(self):
        slow = SlowSession(LINE_DELAY)
        fake = self.fake_smtp(name="slow.x.test", on_connect=slow)
        self.addCleanup(slow.stopping.set)  # runs before fake.stop (cleanups are LIFO)
        a = self.start_a("slow.test", fake.port)
        victim, msg, qid, watcher = self.send_victim("slow.test", "slow next hop")
        # Reply lines until the final dot is answered: greeting, EHLO (2 lines), MAIL, RCPT,
        # DATA, the final dot.
        lines = 7
        wait_until(lambda: slow.connections, timeout=10, what="A connecting to the slow next hop")
        # While the slow session lasts, good.test mail is delivered promptly, again and again,
        # and A sits idle waiting for the slow replies.
        checks = 0
        cpu = None
        deadline = time.monotonic() + lines * LINE_DELAY + 60
        while not slow.transactions and time.monotonic() < deadline:
            took = self.assertGoodMailFlows(f"the slow session ({checks + 1})")
            checks += 1
            if cpu is None:
                cpu = self.assertIdleCpu("waiting on a slow next hop")
            time.sleep(min(LINE_DELAY, 5.0))
        self.assertGreaterEqual(checks, 2, "the slow session ended before mail could be compared")
        delivered = watcher.wait_kind("delivered", 1, timeout=LINE_DELAY * 3 + 10)
        [(connected, answered, data)] = slow.transactions
        self.assertGreaterEqual(answered - connected, lines * LINE_DELAY - 0.5,
                                "the next hop was not as slow as meant")
        self.assertRelayedCopy(data, msg, a, qid)
        state, attempts, _, last_reply = a.wait_state(qid, victim, "delivered", timeout=5)
        self.assertEqual(attempts, 1, "A must wait for a slow next hop, not give up on it")
        self.assertEqual([k for k, _, _ in a.events(qid)], ["accepted", "delivered"], a.events(qid))
        self.assertIn(f"relay=127.0.0.1[127.0.0.1]:{fake.port}", delivered[0][3])
        self.assertEqual(len(slow.connections), 1)
        self.assertEqual(a.scalar("SELECT count(*) FROM message WHERE sender = ''"), 0)

    def test_e_dies_after_data_before_the_reply(self):
        log = ConnectionLog()
        broken = threading.Event()
        broken.set()
        fake = self.fake_smtp(name="crashy.x.test", on_connect=log,
                              data_reply=lambda n: FakeSmtpServer.CLOSE if broken.is_set() else None)
        self.start_a("crashy.test", fake.port)
        qid, msg = self.fault_then_recovery(
            "crashy.test", fake.port, broken.clear,
            r"(?i)(closed|reset|broken).*end of DATA|end of DATA.*(closed|reset)",
            log.attempt_times, "dies after DATA")
        transactions = fake.wait_transactions(FAILURES + 1)
        # Every attempt got the whole message (at least once: the next hop may keep copies
        # of the ones it never answered); the one it answered is the last.
        self.assertEqual([t.outcome for t in transactions][:FAILURES], [FakeSmtpServer.CLOSE] * FAILURES)
        self.assertEqual(len(transactions), FAILURES + 1, transactions)
        self.assertTrue(transactions[-1].outcome.startswith("250 "), transactions)
        for t in transactions:
            self.assertEqual(t.rcpts, ["victim@crashy.test"])
            self.assertRelayedCopy(t.data, msg, self.a, qid)
        self.assertEqual(len({t.data for t in transactions}), 1, "every copy is the same")


if __name__ == "__main__":
    unittest.main()
