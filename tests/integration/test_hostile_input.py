"""Hostile input and abuse limits (issue 5): each hostile input gets a clear error and costs
nothing else; slow clients are bounded per whole command; abusive clients are cut off.

Covered elsewhere, so not repeated here:
  test_smtp_protocol.py
    - smuggling with the fake terminators \\n.\\n, \\n.\\r\\n, \\r\\n.\\n, \\r.\\r, \\r.\\r\\n,
      \\r\\n.\\r (test_smuggling_terminators_are_not_data_end)
    - bare CR, bare LF and NUL in the middle of a DATA line (test_bare_cr_bare_lf_and_nul_refused)
    - 513-octet and 5000-octet command lines (test_command_line_length), 999-octet data lines
    - SIZE= above the limit on MAIL (test_size_parameter), data above the limit without SIZE=
    - non-ASCII local parts on MAIL and RCPT without/with SMTPUTF8 (test_non_ascii_address)
    - the reply code of RCPT TO:<;sleep 1;> (test_bad_syntax)
    - silent clients (SmtpIdleTimeoutTest), the global connection cap (SmtpConnectionLimitTest)
  test_pop3_protocol.py: a 300-octet USER and a 260-octet NOOP (test_long_command_line)
  test_relay_outbound.py: a hostile next hop's endless reply
  test_tls_auth.py: a failed AUTH is answered after a pause; STARTTLS/STLS drop pipelined
    plaintext

The abuse limits count three protocol errors in a row (500/501/502/503/504/555) as a reason to
end the session, so the tests of the other classes put a successful command (NOOP) after every
refused one: they test one thing each and must not trip that limit by accident.
"""

import base64
import os
import re
import select
import socket
import threading
import time
import unittest

from missive_harness import (DOMAIN, PASSWORD, MissiveTestCase, Pop3Client,
                             SmtpClient, fetch_all, make_message, mailbox_entries,
                             pop3_session, queue_id_of, refused_port, smtp_send, unique_users,
                             wait_for_mailbox_count, wait_until)

MAX_SIZE = 100000
ALICE = f"alice@{DOMAIN}"
# Config that makes the tests' own address, 127.0.0.1, an untrusted client.
UNTRUSTED = "[smtp]\ntrusted_networks = []\n"
TABLES = ["event", "mailbox_entry", "message", "recipient", "user"]

# remote.test goes to a port where connections are refused, and is retried only after an
# hour: nothing addressed there leaves the queue while the tests run (and these tests RSET
# before DATA).
CONFIG = f"""
[smtp]
max_message_size = {MAX_SIZE}

[queue]
retry_initial = "1h"

[[route]]
domain = "remote.test"
host = "127.0.0.1:{{remote_port}}"
"""


def rss_kib(server):
    """Resident set size of the missived process, in KiB."""
    with open(f"/proc/{server.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/PID/status")


def next_reply(client, timeout):
    """The next SMTP reply, or the string 'closed' / 'timeout' when there is none."""
    client.sock.settimeout(timeout)
    try:
        return client.reply()
    except (EOFError, ConnectionResetError):
        return "closed"
    except socket.timeout:
        return "timeout"


class HostileSmtpInputTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server(
            CONFIG.format(remote_port=refused_port(cls.addClassCleanup)))
        cls.bob = cls.server.add_user(f"bob@{DOMAIN}")
        cls.pool = unique_users(cls.server, "h", 12)

    def fresh_user(self):
        return self.pool.pop()

    def session(self, timeout=10):
        c = self.server.smtp(timeout=timeout)
        self.addCleanup(c.close)
        self.assertReply(c.ehlo(), 250)
        return c

    def message_count(self):
        return self.server.scalar("SELECT count(*) FROM message")

    def assertTablesIntact(self):
        names = [n for (n,) in self.server.query(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name IN "
            "('event', 'mailbox_entry', 'message', 'recipient', 'user') ORDER BY name")]
        self.assertEqual(names, TABLES)

    # -- smuggling ---------------------------------------------------------------------------

    def smuggled(self, victim, n):
        """A whole smuggled transaction, without a line end after its last body line."""
        return (f"MAIL FROM:<mallory{n}@{DOMAIN}>\r\nRCPT TO:<{victim}>\r\nDATA\r\n"
                f"From: admin@{DOMAIN}\r\nSubject: smuggled {n}\r\n\r\nsmuggled body {n}").encode()

    def assertSmugglingRefused(self, fake_terminators, what):
        """One DATA: an outer message, then for each fake terminator that terminator and a
        smuggled transaction, then the real <CRLF>.<CRLF>: exactly one 554 5.6.0 comes back
        (after the real end), nothing is stored, and the session goes on."""
        victim = self.fresh_user()
        before = self.message_count()
        c = self.session()
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{victim}>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        payload = b"From: alice@example.test\r\nSubject: outer\r\n\r\nouter body"
        for n, term in enumerate(fake_terminators):
            payload += term + self.smuggled(victim, n)
        payload += b"\r\n.\r\n"
        # self-check: the only real end of data is the last one
        self.assertEqual(payload.count(b"\r\n.\r\n"), 1)
        self.assertTrue(payload.endswith(b"\r\n.\r\n"))
        c.send(payload)
        self.assertReply(c.reply(), 554, "5.6.0", msg=what)
        # exactly one reply: the next one answers the NOOP, not a smuggled command
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0", msg=what)
        self.assertEqual(self.message_count(), before, f"{what}: a message was stored")
        self.assertEqual(mailbox_entries(self.server, victim), 0, what)
        # and the session can still send mail
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")

    def test_smuggling_with_nul_before_the_dot(self):
        self.assertSmugglingRefused([b"\r\n\x00.\r\n"], "CRLF NUL . CRLF")

    def test_smuggling_with_cr_cr_lf(self):
        self.assertSmugglingRefused([b"\r\r\n"], "CR CR LF")

    def test_smuggling_with_a_dot_line_ended_by_cr_cr_lf(self):
        self.assertSmugglingRefused([b"\r\n.\r\r\n"], "CRLF . CR CR LF")

    def test_smuggling_mixed_variants_in_one_message(self):
        self.assertSmugglingRefused(
            [b"\n.\n", b"\r\n.\r\r\n", b"\r\n\x00.\r\n", b"\n.\r\n", b"\r\n.\x00\r\n",
             b"\r.\r", b"\r\n.\n", b"\r\r\n"], "mixed")

    def test_nul_as_the_last_data_byte(self):
        user = self.fresh_user()
        before = self.message_count()
        c = self.session()
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{user}>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        c.send(b"Subject: nul at the end\r\n\r\nbody\x00\r\n.\r\n")
        self.assertReply(c.reply(), 554, "5.6.0")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertEqual(self.message_count(), before)
        self.assertEqual(mailbox_entries(self.server, user), 0)

    # -- NUL and over-long command lines -------------------------------------------------------

    def test_nul_in_commands(self):
        c = self.session()
        self.assertReply(c.cmd(b"MAIL FROM:<a\x00b@example.test>"), 500, "5.5.2")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd(b"NOOP\x00"), 500, "5.5.2")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd(b"\x00"), 500, "5.5.2")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        # the refused MAIL started no transaction
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{self.bob}\x00>"), 500, "5.5.2")
        self.assertReply(c.cmd(f"RCPT TO:<{self.bob}>"), 250, "2.1.5")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")

    def test_100k_command_line(self):
        c = self.session()
        # the over-long line and the next command in one write: one 500, then the NOOP's reply
        c.send(b"NOOP " + b"x" * 100000 + b"\r\nNOOP\r\n")
        self.assertReply(c.reply(), 500, "5.5.2")
        self.assertReply(c.reply(), 250, "2.0.0")
        # an over-long MAIL is refused as a line, not parsed: it starts no transaction
        self.assertReply(c.cmd(f"MAIL FROM:<{'a' * 100000}@{DOMAIN}>"), 500, "5.5.2")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{self.bob}>"), 250, "2.1.5")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")

    def test_32_mib_command_line_is_not_buffered(self):
        c = self.session()
        before = rss_kib(self.server)
        chunk = b"x" * (1 << 20)
        c.send(b"NOOP ")
        for _ in range(32):
            c.send(chunk)
        c.send(b"\r\nNOOP\r\n")
        self.assertReply(c.reply(), 500, "5.5.2")
        self.assertReply(c.reply(), 250, "2.0.0")
        grown = rss_kib(self.server) - before
        self.assertLess(grown, 8 * 1024, f"missived grew by {grown} KiB reading a 32 MiB line")

    # -- 10,000 pipelined RCPTs ----------------------------------------------------------------

    def test_10000_pipelined_rcpts(self):
        c = self.session(timeout=20)
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        rss_before = rss_kib(self.server)
        batch = b"".join(b"RCPT TO:<r%d@remote.test>\r\n" % i for i in range(10000))
        # one write, from another thread, so that neither side can block the other on full
        # socket buffers while we read the replies here
        send_errors = []

        def send():
            try:
                c.sock.sendall(batch)
            except OSError as e:
                send_errors.append(e)
        t0 = time.monotonic()
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        replies = []
        for _ in range(10000):
            r = c.reply()
            replies.append((r.code, r.enhanced))
            if time.monotonic() - t0 > 20:
                self.fail(f"only {len(replies)} RCPT replies after 20 s")
        elapsed = time.monotonic() - t0
        sender.join(5)
        self.assertEqual(send_errors, [])
        self.assertLess(elapsed, 20)
        expected = [(250, "2.1.5")] * 100 + [(452, "4.5.3")] * 9900
        if replies != expected:
            first = next(i for i, (a, b) in enumerate(zip(replies, expected)) if a != b)
            self.fail(f"RCPT reply {first + 1} is {replies[first]}, expected {expected[first]}")
        # exactly 10,000 replies: the next one answers the NOOP
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        grown = rss_kib(self.server) - rss_before
        self.assertLess(grown, 16 * 1024, f"missived grew by {grown} KiB for 10,000 RCPTs")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{self.bob}>"), 250, "2.1.5")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")

    # -- SIZE lies -----------------------------------------------------------------------------

    def test_size_lie_above_the_limit(self):
        user = self.fresh_user()
        before = self.message_count()
        c = self.session()
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}> SIZE=10"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{user}>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        body = make_message("size lie", ["y" * 78] * 2500)  # ~200 KB
        self.assertGreater(len(body), 2 * MAX_SIZE)
        self.assertReply(c.data_bytes(body), 552, "5.3.4")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertEqual(self.message_count(), before)
        self.assertEqual(mailbox_entries(self.server, user), 0)

    def test_size_lie_below_the_limit_is_stored_exactly(self):
        # SIZE= is a declaration, not a measure: the message actually sent is what counts
        user = self.fresh_user()
        c = self.session()
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}> SIZE=10"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{user}>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        body = make_message("small lie", ["z" * 70] * 60, to=user)
        self.assertGreater(len(body), 4000)
        qid = queue_id_of(c.data_bytes(body))
        wait_for_mailbox_count(self.server, user, 1)
        [stored] = fetch_all(self.server, user)
        stored = self.assertDeliveryHeaders(stored, ALICE, user)
        self.assertStoredEndsWith(stored, body)
        self.assertEqual(self.server.scalar("SELECT size FROM message WHERE queue_id = ?", (qid,)),
                         len(stored))

    # -- control characters in parameters, no command injection ----------------------------------

    def test_control_characters_in_parameters(self):
        c = self.session()
        for line in (f"MAIL FROM:<{ALICE}> AUTH=x\r".encode(),
                     f"MAIL FROM:<{ALICE}> AUTH=x\ry".encode(),
                     f"MAIL FROM:<{ALICE}> AUTH=x\x00".encode(),
                     f"MAIL FROM:<{ALICE}> ENVID=a\x00b".encode(),
                     f"MAIL FROM:<{ALICE}> ENVID=a\rb".encode()):
            self.assertReply(c.cmd(line), 500, "5.5.2", msg=repr(line))
            self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        # a parameter no extension offered defines
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}> X-ENVID=abc"), 555, "5.5.4")
        # DSN's ENVID (RFC 3461) is offered: one that decodes to a control character is 501
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}> ENVID=a+0Db"), 501, "5.5.4")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        # none of the refused MAIL commands started a transaction
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        for line in (f"RCPT TO:<{self.bob}> ORCPT=rfc822;b\x00".encode(),
                     f"RCPT TO:<{self.bob}> ORCPT=rfc822;bob\r@example.test".encode(),
                     f"RCPT TO:<{self.bob}> ORCPT=rfc822;\x00\r".encode()):
            self.assertReply(c.cmd(line), 500, "5.5.2", msg=repr(line))
            self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd(f"RCPT TO:<{self.bob}> X-ORCPT=rfc822;{self.bob}"), 555, "5.5.4")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        # DSN's ORCPT is offered: xtext that decodes to CR LF is 501
        self.assertReply(c.cmd(f"RCPT TO:<{self.bob}> ORCPT=rfc822;b+0D+0A@example.test"), 501,
                         "5.5.4")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        # the transaction is intact and holds no recipient yet
        self.assertReply(c.cmd("DATA"), 503, "5.5.1")
        self.assertReply(c.cmd(f"RCPT TO:<{self.bob}>"), 250, "2.1.5")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")

    def test_crlf_inside_a_parameter_makes_two_commands(self):
        c = self.session()
        c.send(f"MAIL FROM:<{ALICE}> X-ENVID=abc\r\nX-INJECTED: yes\r\n".encode())
        self.assertReply(c.reply(), 555, "5.5.4")
        self.assertReply(c.reply(), 500, "5.5.2")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        # the text after the CRLF is parsed as a command of its own, with its own reply
        c.send(f"RCPT TO:<{self.bob}> X-ORCPT=rfc822;x\r\nRCPT TO:<nobody@{DOMAIN}>\r\n".encode())
        self.assertReply(c.reply(), 555, "5.5.4")
        self.assertReply(c.reply(), 550, "5.1.1")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        c.send(f"RCPT TO:<{self.bob}> X-ORCPT=rfc822;x\r\nDATA\r\n".encode())
        self.assertReply(c.reply(), 555, "5.5.4")
        self.assertReply(c.reply(), 503, "5.5.1")  # no recipient: DATA refused, not begun
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")

    # -- shell and SQL metacharacters ------------------------------------------------------------

    def test_shell_metacharacters_in_recipients(self):
        c = self.session()
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        for addr, code, enhanced in (
                (";sleep 1;", 501, ("5.1.3", "5.5.4")),
                ("$(sleep 1)@example.test", 501, ("5.1.3", "5.5.4")),
                ("|sleep 1", 501, ("5.1.3", "5.5.4")),
                # valid addresses: strings to look up, never commands to run
                ("`sleep${IFS}1`@example.test", 550, ("5.1.1",)),
                ('"|sleep 1"@example.test', 550, ("5.1.1",)),
                ('"$(sleep 1)"@remote.test', 250, ("2.1.5",))):
            t0 = time.monotonic()
            r = c.cmd(f"RCPT TO:<{addr}>")
            elapsed = time.monotonic() - t0
            self.assertEqual(r.code, code, f"RCPT TO:<{addr}>: {r}")
            self.assertIn(r.enhanced, enhanced, f"RCPT TO:<{addr}>: {r}")
            self.assertLess(elapsed, 1.0, f"RCPT TO:<{addr}> took {elapsed:.2f} s")
            self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")

    def test_sql_metacharacters_in_addresses(self):
        users = self.server.scalar("SELECT count(*) FROM user")
        messages = self.message_count()
        c = self.session()
        r = c.cmd("MAIL FROM:<x'); DROP TABLE message;--@example.test>")
        self.assertEqual(r.code, 501, str(r))
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        r = c.cmd("RCPT TO:<x'); DROP TABLE user;--@example.test>")
        self.assertEqual(r.code, 501, str(r))
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        # valid addresses that would match every user if pasted into SQL: unknown users
        for addr in ('"x\' OR \'1\'=\'1"@example.test', "robert'--@example.test",
                     '"%"@example.test', "_@example.test", '"*"@example.test'):
            self.assertReply(c.cmd(f"RCPT TO:<{addr}>"), 550, "5.1.1", msg=addr)
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")
        self.assertTablesIntact()
        self.assertEqual(self.server.scalar("SELECT count(*) FROM user"), users)
        self.assertEqual(self.message_count(), messages)

    def test_odd_senders_stored_and_shown_verbatim(self):
        marker = f"/tmp/mp{os.getpid()}"  # short: the local part must fit in 64 octets
        self.addCleanup(lambda: os.path.exists(marker) and os.remove(marker))
        for sender in ("\"a'b;c\"@example.test",
                       "\"x'); DROP TABLE message;--\"@example.test",
                       f"\"$(touch {marker})`touch {marker}`\"@example.test"):
            with self.subTest(sender=sender):
                user = self.fresh_user()
                c = self.session()
                self.assertReply(c.cmd(f"MAIL FROM:<{sender}>"), 250, "2.1.0")
                self.assertReply(c.cmd(f"RCPT TO:<{user}>"), 250, "2.1.5")
                self.assertReply(c.cmd("DATA"), 354)
                body = make_message("odd sender", [f"from {sender}"], sender=sender, to=user)
                qid = queue_id_of(c.data_bytes(body))
                self.assertReply(c.cmd("QUIT"), 221, "2.0.0")
                self.assertEqual(self.server.query(
                    "SELECT sender FROM message WHERE queue_id = ?", (qid,)), [(sender,)])
                self.assertTablesIntact()
                wait_for_mailbox_count(self.server, user, 1)
                [stored] = fetch_all(self.server, user)
                self.assertStoredEndsWith(stored, body)
                shown = self.server.cli("queue", "show", qid)
                self.assertEqual(shown.returncode, 0, shown.stderr)
                self.assertIn(f"\nfrom: <{sender}>\n", shown.stdout)
                self.assertIn(f" from=<{sender}> ", shown.stdout)
                self.assertRegex(shown.stdout, rf"(?m)^From: {re.escape(sender)}\r?$")
                self.assertFalse(os.path.exists(marker), "a shell ran the sender address")

    # -- non-ASCII without SMTPUTF8 ----------------------------------------------------------------

    def test_non_ascii_domains_without_smtputf8(self):
        c = self.session()
        self.assertReply(c.cmd("MAIL FROM:<a@exämple.test>"), 553, "5.6.7")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<b@bücher.test>"), 553, "5.6.7")
        self.assertReply(c.cmd("RCPT TO:<bøb@example.test>"), 553, "5.6.7")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")
        self.assertReply(c.cmd("MAIL FROM:<a@exämple.test> SMTPUTF8"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<b@bücher.test>"), 250, "2.1.5")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")


class HostilePop3InputTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server(
            CONFIG.format(remote_port=refused_port(cls.addClassCleanup)))
        cls.user = cls.server.add_user(f"pat@{DOMAIN}")
        smtp_send(cls.server, ALICE, [cls.user], make_message("one", ["kept"], to=cls.user))
        wait_for_mailbox_count(cls.server, cls.user, 1)

    def session(self):
        c = self.server.pop3()
        self.addCleanup(c.close)
        self.assertOk(c.greeting)
        return c

    def assertCapa(self, c):
        self.assertOk(c.cmd("CAPA"))
        self.assertIn(b"USER\r\n", c.multiline())

    def test_over_long_commands(self):
        c = self.session()
        self.assertErr(c.cmd("X" * 5000))
        self.assertCapa(c)
        # the line over 255 octets and the next command in one write: one -ERR, then CAPA
        c.send(b"CAPA " + b"y" * 5000 + b"\r\nCAPA\r\n")
        self.assertErr(c.line())
        self.assertOk(c.line())
        self.assertIn(b"USER\r\n", c.multiline())
        self.assertErr(c.cmd("USER " + "u" * 1000))
        self.assertOk(c.cmd(f"USER {self.user}"))
        self.assertOk(c.cmd(f"PASS {PASSWORD}"))
        self.assertErr(c.cmd("STAT " + "s" * 5000))
        self.assertEqual(c.stat()[0], 1)
        self.assertErr(c.cmd(b"DELE 1" + b" " * (1 << 20)))
        self.assertEqual(c.stat()[0], 1)
        self.assertOk(c.quit())
        self.assertTrue(c.is_closed())

    def test_nul_in_commands(self):
        c = self.session()
        self.assertErr(c.cmd(b"CAPA\x00"))
        self.assertErr(c.cmd(b"USER pat\x00@example.test"))
        self.assertErr(c.cmd(b"\x00"))
        self.assertCapa(c)
        self.assertOk(c.cmd(f"USER {self.user}"))
        self.assertOk(c.cmd(f"PASS {PASSWORD}"))
        self.assertErr(c.cmd(b"STAT\x00"))
        self.assertErr(c.cmd(b"DELE\x001"))
        self.assertErr(c.cmd(b"DELE 1\x00"))
        self.assertErr(c.cmd(b"RETR \x001"))
        self.assertEqual(c.stat()[0], 1)
        self.assertOk(c.quit())
        c.close()
        # nothing was marked deleted
        c2 = pop3_session(self.server, self.user)
        self.addCleanup(c2.close)
        self.assertEqual(c2.stat()[0], 1)
        self.assertOk(c2.quit())


class SlowClientTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server('[smtp]\ncommand_timeout = "1s"\n')

    def test_deadline_per_whole_command_and_others_served_meanwhile(self):
        slow = self.server.smtp(timeout=10)
        self.addCleanup(slow.close)
        self.assertReply(slow.ehlo(), 250)
        results, errors = [], []
        lock = threading.Lock()

        def normal_sessions(count):
            for _ in range(count):
                try:
                    started = time.monotonic()
                    c = SmtpClient(self.server.smtp_port, timeout=5)
                    try:
                        codes, waits = [c.greeting.code], [time.monotonic() - started]
                        for line in ("EHLO normal.example.test", "NOOP", "QUIT"):
                            t = time.monotonic()
                            codes.append(c.cmd(line).code)
                            waits.append(time.monotonic() - t)
                    finally:
                        c.close()
                    with lock:
                        results.append((started, time.monotonic(), codes, waits))
                except Exception as e:  # reported below
                    with lock:
                        errors.append(repr(e))

        # 20 sessions, 4 at a time (the per-address connection cap must not get in the way)
        workers = [threading.Thread(target=normal_sessions, args=(5,), daemon=True)
                   for _ in range(4)]
        command = b"NOOP\r\n"  # 6 bytes, one every 0.3 s: 1.5 s for the whole line
        t0 = time.monotonic()
        slow.send(command[:1])
        for w in workers:
            w.start()
        for byte in command[1:]:
            readable, _, _ = select.select([slow.sock], [], [], 0.3)
            if readable:
                break
            try:
                slow.send(bytes([byte]))
            except OSError:
                break
        r = next_reply(slow, 5)
        answered = time.monotonic() - t0
        for w in workers:
            w.join(15)
        self.assertIsInstance(r, type(slow.greeting), f"slow client: no reply ({r})")
        self.assertReply(r, 421, "4.4.2", msg=f"after {answered:.2f} s")
        self.assertGreater(answered, 0.8)
        self.assertLess(answered, 1.45, "the deadline is per read, not per whole command")
        self.assertTrue(slow.is_closed(), "not closed after 421")

        self.assertEqual(errors, [])
        self.assertEqual(len(results), 20)
        for started, ended, codes, waits in results:
            self.assertEqual(codes, [220, 250, 250, 221])
            self.assertLess(max(waits), 0.5, f"a normal session waited {max(waits):.2f} s")
        done_meanwhile = sum(1 for _, ended, _, _ in results if ended < t0 + answered)
        self.assertGreater(done_meanwhile, 0, "no normal session ran while the slow one waited")


class PregreetTest(MissiveTestCase):
    """greeting_delay (default 100 ms) holds the greeting back from untrusted clients, and a
    client that talks during it gets 554 5.5.0 and is closed; clients in trusted_networks
    are greeted at once. Here loopback is made untrusted, then trusted again."""

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server(config='[smtp]\ntrusted_networks = ["10.0.0.0/8"]\n')

    def client(self, port=None, timeout=3, read_greeting=True):
        c = SmtpClient(port or self.server.smtp_port, timeout=timeout, read_greeting=read_greeting)
        self.addCleanup(c.close)
        return c

    def test_talking_before_the_greeting_is_refused(self):
        c = self.client(read_greeting=False)
        c.send(b"EHLO early.example.test\r\n")
        r = next_reply(c, 3)
        self.assertNotIsInstance(r, str, f"no reply ({r})")
        self.assertReply(r, 554, "5.5.0")
        self.assertTrue(c.is_closed(3), "not closed after 554")

    def test_the_greeting_waits_for_greeting_delay(self):
        t0 = time.monotonic()
        c = self.client()
        elapsed = time.monotonic() - t0
        self.assertEqual(c.greeting.code, 220, str(c.greeting))
        self.assertGreater(elapsed, 0.09, "greeted before the default 100 ms greeting_delay")
        self.assertLess(elapsed, 2)

    def test_trusted_clients_are_greeted_at_once(self):
        server = self.start_test_server()  # default trusted_networks: loopback
        c = self.client(server.smtp_port, read_greeting=False)
        c.send(b"EHLO early.example.test\r\n")  # no pause to break
        r = next_reply(c, 3)
        self.assertNotIsInstance(r, str, f"no greeting ({r})")
        self.assertEqual(r.code, 220, str(r))
        self.assertReply(c.reply(), 250)


class AbuseLimitTest(MissiveTestCase):
    """The contract: three protocol errors in a row -> 421 4.7.0 and close; an HTTP request
    line as the first command -> 502 5.5.1 and close; per-address connection
    cap (max_connections_per_address, default 20) -> 421 4.7.0 and close; failed logins per
    address (auth_failure_limit, default 5) -> the address is refused for auth_ban_time."""

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server()

    def client(self, port=None, timeout=3, read_greeting=True):
        c = SmtpClient(port or self.server.smtp_port, timeout=timeout, read_greeting=read_greeting)
        self.addCleanup(c.close)
        return c

    def assertEndedWith421(self, c, error, what):
        """After the third error in a row: its own error reply (optional), then 421 4.7.0, then
        the server closes."""
        r = next_reply(c, 3)
        if isinstance(r, type(c.greeting)) and r.code == error:
            r = next_reply(c, 3)
        self.assertNotIsInstance(r, str, f"{what}: no 421 4.7.0 ({r})")
        self.assertReply(r, 421, "4.7.0", msg=what)
        self.assertTrue(c.is_closed(3), f"{what}: not closed after 421")

    def test_three_protocol_errors_in_a_row_end_the_session(self):
        sequences = {
            "500/501/503": [("FOO", 500, "5.5.2"), ("MAIL FROM:foo", 501, "5.5.4"),
                            ("RCPT TO:<x@remote.test>", 503)],
            "555/504/500": [(f"MAIL FROM:<{ALICE}> X-ENVID=x", 555, "5.5.4"),
                            ("AUTH XYZZY", 504, "5.5.4"), ("BAR", 500)],
        }
        for name, seq in sequences.items():
            with self.subTest(sequence=name):
                c = self.client()
                self.assertReply(c.ehlo(), 250)
                for line, code, enhanced in seq[:2]:
                    self.assertReply(c.cmd(line), code, enhanced, msg=line)
                c.send(seq[2][0] + "\r\n")
                self.assertEndedWith421(c, seq[2][1], name)

    def test_a_successful_command_resets_the_error_count(self):
        c = self.client()
        self.assertReply(c.ehlo(), 250)
        for _ in range(3):
            self.assertReply(c.cmd("FOO"), 500, "5.5.2")
            self.assertReply(c.cmd("MAIL FROM:foo"), 501, "5.5.4")
            self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd("QUIT"), 221, "2.0.0")

    def test_http_requests_get_502_and_close(self):
        for request in ("GET / HTTP/1.1", "POST / HTTP/1.1", "CONNECT host:443 HTTP/1.1"):
            with self.subTest(request=request):
                c = self.client()
                self.assertEqual(c.greeting.code, 220)
                # a whole request, as a browser or proxy client sends it: nothing after the
                # request line gets a reply
                c.send(f"{request}\r\nHost: mx.example.test\r\nContent-Length: 0\r\n\r\n")
                r = next_reply(c, 3)
                self.assertNotIsInstance(r, str, f"{request}: no reply ({r})")
                self.assertReply(r, 502, "5.5.1", msg=request)
                self.assertTrue(c.is_closed(3), f"{request}: not closed after 502")

    def assertConnectionCap(self, server, cap):
        admitted = [self.client(server.smtp_port, read_greeting=False) for _ in range(cap)]
        for i, c in enumerate(admitted):
            r = next_reply(c, 3)
            self.assertNotIsInstance(r, str, f"connection {i + 1}: no greeting ({r})")
            self.assertEqual(r.code, 220, f"connection {i + 1} of {cap}: {r}")
        extra = self.client(server.smtp_port, read_greeting=False)
        r = next_reply(extra, 3)
        self.assertNotIsInstance(r, str, f"connection {cap + 1}: no greeting ({r})")
        self.assertReply(r, 421, "4.7.0", msg=f"connection {cap + 1} of cap {cap}")
        self.assertTrue(extra.is_closed(3))
        # the admitted ones still work, and a slot frees when one leaves
        self.assertReply(admitted[0].cmd("NOOP"), 250, "2.0.0")
        self.assertReply(admitted[0].cmd("QUIT"), 221, "2.0.0")
        admitted[0].close()

        def admitted_again():
            c = SmtpClient(server.smtp_port, timeout=3)
            try:
                return c.greeting.code == 220
            finally:
                c.close()
        wait_until(admitted_again, timeout=5, interval=0.1, what="a slot freed after QUIT")

    # The limits apply outside trusted_networks (the next class): the tests, from 127.0.0.1,
    # make it untrusted.
    def test_per_address_connection_cap_default_20(self):
        server = self.start_test_server(UNTRUSTED)
        self.assertConnectionCap(server, 20)

    def test_per_address_connection_cap_configured(self):
        server = self.start_test_server(UNTRUSTED + "max_connections_per_address = 3\n")
        self.assertConnectionCap(server, 3)

    def test_failed_pop3_logins_ban_the_address(self):
        server = self.start_test_server(
            UNTRUSTED + 'auth_failure_limit = 3\nauth_ban_time = "3s"\n')
        user = server.add_user(f"victim@{DOMAIN}")
        for i in range(3):
            p = Pop3Client(server.pop3_port, timeout=5)
            try:
                self.assertOk(p.greeting, f"connection before failure {i + 1}")
                self.assertOk(p.cmd(f"USER {user}"))
                t0 = time.monotonic()
                r = p.cmd("PASS wrong-password")
                self.assertGreater(time.monotonic() - t0, 0.8, "a failed PASS is answered late")
                if i < 2:
                    self.assertErr(r, "AUTH", f"failure {i + 1}")
                else:  # the failure that gets the address banned may say so already
                    self.assertRegex(r, r"^-ERR \[(AUTH|SYS/TEMP)\]", f"failure {i + 1}")
            finally:
                p.close()
        banned_at = t0  # the third PASS was sent: the ban began between then and its answer
        p = Pop3Client(server.pop3_port, timeout=3)
        self.addCleanup(p.close)
        self.assertErr(p.greeting, "SYS/TEMP", "POP3 after 3 failed logins")
        self.assertTrue(p.is_closed(3))
        s = SmtpClient(server.smtp_port, timeout=3)
        self.addCleanup(s.close)
        self.assertReply(s.greeting, 421, "4.7.0", msg="SMTP after 3 failed POP3 logins")
        self.assertTrue(s.is_closed(3))

        def admitted():
            c = Pop3Client(server.pop3_port, timeout=3)
            try:
                return c.greeting.startswith("+OK")
            finally:
                c.close()
        wait_until(admitted, timeout=8, interval=0.25, what="the ban to expire")
        self.assertGreater(time.monotonic() - banned_at, 2.5, "the ban ended before auth_ban_time")
        c = pop3_session(server, user)
        self.addCleanup(c.close)
        self.assertOk(c.quit())


class TrustedNetworkExemptionTest(MissiveTestCase):
    """trusted_networks (by default loopback) are exempt from the per-address connection cap
    and the failed-login ban, as Postfix exempts $mynetworks: a webmail on localhost or an
    office NAT shares its address with whoever abuses it, and nobody may be locked out.
    Failures are still answered late (1 s each)."""

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server(
            '[smtp]\nmax_connections_per_address = 20\nauth_failure_limit = 5\n')
        cls.user = cls.server.add_user(f"trusted.user@{DOMAIN}")

    def test_twenty_slow_clients_do_not_stop_a_21st(self):
        slow = []
        for i in range(20):
            c = SmtpClient(self.server.smtp_port, timeout=5)
            self.addCleanup(c.close)
            self.assertEqual(c.greeting.code, 220, f"slow client {i + 1}")
            slow.append(c)
        c = SmtpClient(self.server.smtp_port, timeout=5)
        self.addCleanup(c.close)
        self.assertEqual(c.greeting.code, 220, str(c.greeting))
        self.assertReply(c.ehlo(), 250)
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250)
        self.assertReply(c.cmd(f"RCPT TO:<{self.user}>"), 250)
        self.assertReply(c.cmd("DATA"), 354)
        self.assertReply(c.data_bytes(make_message("the 21st", ["got through"])), 250, "2.0.0")
        # the slow ones are still served
        self.assertReply(slow[0].cmd("NOOP"), 250)

    def wrong_then_right(self, wrong_login, right_login):
        """20 wrong logins, two at a time in each of 10 threads, then the right one."""
        errors = []

        def fail_twice():
            try:
                for _ in range(2):
                    wrong_login()
            except Exception as e:  # reported below, in the test's thread
                errors.append(e)
        threads = [threading.Thread(target=fail_twice) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        right_login()

    def test_smtp_auth_works_again_after_20_wrong_passwords(self):
        def attempt(password):
            c = SmtpClient(self.server.smtp_port, timeout=10)
            try:
                self.assertEqual(c.greeting.code, 220, str(c.greeting))
                self.assertReply(c.ehlo(), 250)
                token = base64.b64encode(f"\0{self.user}\0{password}".encode()).decode()
                return c.cmd(f"AUTH PLAIN {token}")
            finally:
                c.close()

        def wrong():
            self.assertReply(attempt("wrong-password"), 535, "5.7.8")
        self.wrong_then_right(wrong, lambda: self.assertReply(attempt(PASSWORD), 235, "2.7.0"))

    def test_pop3_login_works_again_after_20_wrong_passwords(self):
        def attempt(password):
            p = Pop3Client(self.server.pop3_port, timeout=10)
            try:
                self.assertOk(p.greeting)
                self.assertOk(p.cmd(f"USER {self.user}"))
                return p.cmd(f"PASS {password}")
            finally:
                p.close()

        def wrong():
            self.assertErr(attempt("wrong-password"), "AUTH")
        self.wrong_then_right(wrong, lambda: self.assertOk(attempt(PASSWORD)))


if __name__ == "__main__":
    unittest.main()
