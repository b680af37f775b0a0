"""SMTP protocol checks over raw sockets: replies, ordering, limits, pipelining, smuggling."""

import re
import time
import unittest

from missive_harness import (DOMAIN, HOSTNAME, MissiveTestCase, make_message, queue_id_of,
                             refused_port, unique_users, wait_for_mailbox_count, wait_until,
                             mailbox_count)

MAX_SIZE = 100000
MAX_RCPTS = 5

# remote.test is routed to a port where connections are refused, so its mail stays deferred.
CONFIG = f"""
[smtp]
max_message_size = {MAX_SIZE}
max_recipients = {MAX_RCPTS}

[queue]
retry_initial = "1h"

[[route]]
domain = "remote.test"
host = "127.0.0.1:{{remote_port}}"
"""

ALICE = f"alice@{DOMAIN}"


class SmtpProtocolTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server(
            CONFIG.format(remote_port=refused_port(cls.addClassCleanup)))
        cls.bob = cls.server.add_user(f"bob@{DOMAIN}")
        cls.carol = cls.server.add_user(f"carol@{DOMAIN}")
        cls.pool = unique_users(cls.server, "s", 16)

    def fresh_user(self):
        return self.pool.pop()

    def session(self, ehlo=True):
        c = self.server.smtp()
        self.addCleanup(c.close)
        if ehlo:
            self.assertReply(c.ehlo(), 250)
        return c

    def message_count(self):
        return self.server.scalar("SELECT count(*) FROM message")

    # -- greeting, EHLO, simple commands ---------------------------------------------------

    def test_greeting(self):
        c = self.session(ehlo=False)
        self.assertEqual(c.greeting.raw, f"220 {HOSTNAME} ESMTP Missive\r\n".encode())

    def test_ehlo_extensions(self):
        c = self.session(ehlo=False)
        r = c.ehlo("client.example.test")
        self.assertReply(r, 250)
        self.assertTrue(r.lines[0].startswith(HOSTNAME), str(r))
        keywords = [l.upper() for l in r.lines[1:]]
        for ext in ("PIPELINING", f"SIZE {MAX_SIZE}", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8"):
            self.assertIn(ext, keywords, str(r))
        self.assertTrue(r.raw.endswith(b"\r\n"))
        self.assertEqual(r.raw.count(b"\r\n"), len(r.lines))

    def test_helo(self):
        c = self.session(ehlo=False)
        r = c.cmd("HELO client.example.test")
        self.assertReply(r, 250)
        self.assertEqual(len(r.lines), 1, str(r))
        self.assertIn(HOSTNAME, r.text)
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")

    def test_simple_commands(self):
        c = self.session()
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")
        self.assertReply(c.cmd("VRFY bob"), 252, "2.5.0")
        self.assertReply(c.cmd("HELP"), 214, "2.0.0")
        self.assertReply(c.cmd("QUIT"), 221, "2.0.0")
        self.assertTrue(c.is_closed(), "connection not closed after QUIT")

    def test_commands_are_case_insensitive(self):
        c = self.session(ehlo=False)
        self.assertReply(c.cmd("ehlo client.example.test"), 250)
        self.assertReply(c.cmd(f"mail from:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"rcpt to:<{self.bob}>"), 250, "2.1.5")
        self.assertReply(c.cmd("rset"), 250, "2.0.0")

    def test_unknown_command(self):
        c = self.session()
        self.assertReply(c.cmd("FOOBAR baz"), 500, "5.5.2")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")

    # -- ordering --------------------------------------------------------------------------

    def test_mail_before_helo(self):
        c = self.session(ehlo=False)
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 503, "5.5.1")

    def test_rcpt_before_mail(self):
        c = self.session()
        self.assertReply(c.cmd(f"RCPT TO:<{self.bob}>"), 503, "5.5.1")

    def test_data_before_rcpt(self):
        c = self.session()
        self.assertReply(c.cmd("DATA"), 503, "5.5.1")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd("DATA"), 503, "5.5.1")
        # the transaction is still open and usable
        self.assertReply(c.cmd(f"RCPT TO:<{self.bob}>"), 250, "2.1.5")

    def test_nested_mail(self):
        c = self.session()
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 503, "5.5.1")

    def test_rset_clears_transaction(self):
        c = self.session()
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{self.bob}>"), 250, "2.1.5")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")
        self.assertReply(c.cmd(f"RCPT TO:<{self.bob}>"), 503, "5.5.1")
        self.assertReply(c.cmd("DATA"), 503, "5.5.1")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")

    # -- syntax and parameters ---------------------------------------------------------------

    def test_bad_syntax(self):
        c = self.session()
        self.assertReply(c.cmd("MAIL FROM:foo"), 501, "5.5.4")
        self.assertReply(c.cmd("MAIL"), 501, "5.5.4")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<;sleep 1;>"), 501, "5.5.4")
        self.assertReply(c.cmd("RCPT"), 501, "5.5.4")
        c2 = self.session(ehlo=False)
        self.assertEqual(c2.cmd("EHLO").code, 501)
        self.assertEqual(c2.cmd("HELO").code, 501)

    def test_null_sender_accepted(self):
        c = self.session()
        self.assertReply(c.cmd("MAIL FROM:<>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{self.bob}>"), 250, "2.1.5")

    def test_unknown_parameters(self):
        c = self.session()
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}> FOO=BAR"), 555, "5.5.4")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}> BODY=8BITMIME"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{self.bob}> FOO=BAR"), 555, "5.5.4")
        self.assertReply(c.cmd(f"RCPT TO:<{self.bob}>"), 250, "2.1.5")

    def test_unknown_local_user(self):
        c = self.session()
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<nobody@{DOMAIN}>"), 550, "5.1.1")
        self.assertReply(c.cmd(f"RCPT TO:<{self.bob}>"), 250, "2.1.5")

    def test_local_domain_is_case_insensitive(self):
        c = self.session()
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<bob@EXAMPLE.TEST>"), 250, "2.1.5")

    def test_nonlocal_recipient_from_trusted_is_queued_deferred(self):
        c = self.session()
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<someone@remote.test>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        qid = queue_id_of(c.data_bytes(make_message("relay", ["to elsewhere"], to="someone@remote.test")))
        state = wait_until(lambda: self.server.query(
            "SELECT r.state, r.is_local, r.attempts FROM recipient r JOIN message m "
            "ON m.id = r.message_id WHERE m.queue_id = ? AND r.state = 'deferred'", (qid,)),
            what="recipient deferred")
        self.assertEqual(state, [("deferred", 0, 1)])
        kinds = [k for (k,) in self.server.query(
            "SELECT h.kind FROM message_history h JOIN message m ON m.id = h.message_id "
            "WHERE m.queue_id = ? ORDER BY h.at, h.rank, h.position", (qid,))]
        self.assertEqual(kinds.count("accepted"), 1, kinds)
        self.assertNotIn("delivered", kinds)

    # -- limits ------------------------------------------------------------------------------

    def test_too_many_recipients(self):
        c = self.session()
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        for i in range(MAX_RCPTS):
            self.assertReply(c.cmd(f"RCPT TO:<r{i}@remote.test>"), 250, "2.1.5")
        self.assertReply(c.cmd("RCPT TO:<one-too-many@remote.test>"), 452, "4.5.3")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")

    def test_size_parameter(self):
        c = self.session()
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}> SIZE={MAX_SIZE + 1}"), 552, "5.3.4")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}> SIZE=99999999999999999999"), 552, "5.3.4")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}> SIZE={MAX_SIZE // 2}"), 250, "2.1.0")

    def test_data_too_big(self):
        user = self.fresh_user()
        before = self.message_count()
        c = self.session()
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{user}>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        body = make_message("big", ["x" * 76] * (MAX_SIZE // 78 + 100))
        self.assertGreater(len(body), MAX_SIZE)
        self.assertReply(c.data_bytes(body), 552, "5.3.4")
        # the session goes on: a following transaction works
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{user}>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        queue_id_of(c.data_bytes(make_message("small", ["ok"])))
        self.assertEqual(self.message_count(), before + 1)
        wait_for_mailbox_count(self.server, user, 1, confirm_pop3=True)

    def test_command_line_length(self):
        c = self.session()
        line = "NOOP " + "x" * (512 - 2 - 5)  # exactly 512 octets with CRLF
        self.assertReply(c.cmd(line), 250, "2.0.0")
        self.assertReply(c.cmd(line + "x"), 500, "5.5.2")
        self.assertReply(c.cmd("NOOP " + "y" * 5000), 500, "5.5.2")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")

    def test_data_line_length(self):
        user = self.fresh_user()
        before = self.message_count()
        c = self.session()
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{user}>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        self.assertReply(c.data_bytes(make_message("long", ["y" * 999])), 500, "5.5.2")
        self.assertEqual(self.message_count(), before)
        # 998 octets + CRLF = 1000 is allowed
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{user}>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        queue_id_of(c.data_bytes(make_message("long-ok", ["z" * 998])))
        wait_for_mailbox_count(self.server, user, 1, confirm_pop3=True)

    def test_local_part_too_long(self):
        c = self.session()
        local = "a" * 65
        self.assertReply(c.cmd(f"MAIL FROM:<{local}@{DOMAIN}>"), 501, "5.1.7")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{local}@{DOMAIN}>"), 501, "5.1.3")
        self.assertReply(c.cmd(f"RCPT TO:<{'a' * 64}@remote.test>"), 250, "2.1.5")

    def test_path_too_long(self):
        c = self.session()
        domain = ".".join(["d" * 63] * 3) + ".test"          # 196 octets, a valid domain
        long_path = f"{'a' * 64}@{domain}"                    # 261 octets > 256
        domain_too_long = ".".join(["e" * 63] * 4) + ".test"  # 260 octets > 255
        self.assertReply(c.cmd(f"MAIL FROM:<{long_path}>"), 501, "5.1.7")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{long_path}>"), 501, "5.1.3")
        self.assertReply(c.cmd(f"RCPT TO:<x@{domain_too_long}>"), 501, "5.1.3")
        self.assertReply(c.cmd(f"RCPT TO:<{'a' * 50}@{domain}>"), 250, "2.1.5")

    def test_non_ascii_address(self):
        c = self.session()
        self.assertReply(c.cmd("MAIL FROM:<jörg@remote.test>"), 553, "5.6.7")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<jörg@remote.test>"), 553, "5.6.7")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")
        self.assertReply(c.cmd("MAIL FROM:<jörg@remote.test> SMTPUTF8"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<jörg@remote.test>"), 250, "2.1.5")

    def test_smtputf8_message_delivered(self):
        user = self.fresh_user()
        c = self.session()
        self.assertReply(c.cmd("MAIL FROM:<jörg@remote.test> SMTPUTF8 BODY=8BITMIME"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{user}>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        msg = make_message("grüße", ["Grüße aus Köln"], sender="jörg@remote.test", to=user)
        queue_id_of(c.data_bytes(msg))
        wait_for_mailbox_count(self.server, user, 1, confirm_pop3=True)

    # -- the SMTP smuggling defence ----------------------------------------------------------

    SMUGGLE_TERMINATORS = {
        "lf-dot-lf": b"\n.\n",
        "lf-dot-crlf": b"\n.\r\n",
        "crlf-dot-lf": b"\r\n.\n",
        "cr-dot-cr": b"\r.\r",
        "cr-dot-crlf": b"\r.\r\n",
        "crlf-dot-cr": b"\r\n.\r",
    }

    def _smuggle(self, fake_terminator):
        victim = self.fresh_user()
        before = self.message_count()
        c = self.session()
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{victim}>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        payload = (b"From: alice@example.test\r\nSubject: outer\r\n\r\nouter body"
                   + fake_terminator
                   + f"MAIL FROM:<mallory@{DOMAIN}>\r\nRCPT TO:<{victim}>\r\nDATA\r\n".encode()
                   + b"From: admin@example.test\r\nSubject: smuggled\r\n\r\nsmuggled body\r\n"
                   + b".\r\n")
        c.send(payload)
        self.assertReply(c.reply(), 554, "5.6.0", msg=f"terminator {fake_terminator!r}")
        # exactly one reply: the next one answers our QUIT
        self.assertReply(c.cmd("QUIT"), 221, "2.0.0")
        self.assertTrue(c.is_closed())
        self.assertEqual(self.message_count(), before, "a message was stored")
        time.sleep(0.2)
        self.assertEqual(mailbox_count(self.server, victim), 0)

    def test_smuggling_terminators_are_not_data_end(self):
        for name, term in self.SMUGGLE_TERMINATORS.items():
            with self.subTest(terminator=name):
                self._smuggle(term)

    def test_bare_cr_bare_lf_and_nul_refused(self):
        for name, line in (("bare CR", b"abc\rdef"), ("bare LF", b"abc\ndef"), ("NUL", b"abc\x00def")):
            with self.subTest(kind=name):
                before = self.message_count()
                c = self.session()
                self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
                self.assertReply(c.cmd(f"RCPT TO:<{self.carol}>"), 250, "2.1.5")
                self.assertReply(c.cmd("DATA"), 354)
                c.send(b"Subject: x\r\n\r\n" + line + b"\r\nmore\r\n.\r\n")
                self.assertReply(c.reply(), 554, "5.6.0")
                self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
                self.assertEqual(self.message_count(), before)

    # -- pipelining ------------------------------------------------------------------------

    def test_pipelining(self):
        u1, u2 = self.fresh_user(), self.fresh_user()
        c = self.session(ehlo=False)
        c.send(f"EHLO client.example.test\r\nMAIL FROM:<{ALICE}>\r\nRCPT TO:<{u1}>\r\n"
               f"RCPT TO:<nobody@{DOMAIN}>\r\nRCPT TO:<{u2}>\r\nDATA\r\n".encode())
        self.assertReply(c.reply(), 250)
        self.assertReply(c.reply(), 250, "2.1.0")
        self.assertReply(c.reply(), 250, "2.1.5")
        self.assertReply(c.reply(), 550, "5.1.1")
        self.assertReply(c.reply(), 250, "2.1.5")
        self.assertReply(c.reply(), 354)
        c.send(make_message("pipelined", ["one", "two"]) + b".\r\nNOOP\r\nQUIT\r\n")
        qid = queue_id_of(c.reply())
        self.assertReply(c.reply(), 250, "2.0.0")
        self.assertReply(c.reply(), 221, "2.0.0")
        wait_for_mailbox_count(self.server, u1, 1, confirm_pop3=True)
        wait_for_mailbox_count(self.server, u2, 1, confirm_pop3=True)
        self.assertEqual(self.server.scalar(
            "SELECT count(*) FROM recipient r JOIN message m ON m.id = r.message_id "
            "WHERE m.queue_id = ?", (qid,)), 2)

    def test_pipelined_transactions(self):
        u = self.fresh_user()
        c = self.session()
        one = f"MAIL FROM:<{ALICE}>\r\nRCPT TO:<{u}>\r\nDATA\r\n".encode()
        c.send(one)
        self.assertReply(c.reply(), 250, "2.1.0")
        self.assertReply(c.reply(), 250, "2.1.5")
        self.assertReply(c.reply(), 354)
        c.send(make_message("p1", ["a"]) + b".\r\n" + one)
        q1 = queue_id_of(c.reply())
        self.assertReply(c.reply(), 250, "2.1.0")
        self.assertReply(c.reply(), 250, "2.1.5")
        self.assertReply(c.reply(), 354)
        c.send(make_message("p2", ["b"]) + b".\r\n")
        q2 = queue_id_of(c.reply())
        self.assertNotEqual(q1, q2)
        wait_for_mailbox_count(self.server, u, 2, confirm_pop3=True)

    def test_queued_reply_and_db_rows(self):
        u = self.fresh_user()
        c = self.session()
        r = c.send_mail(ALICE, [u], make_message("rows", ["hello"]), ehlo=False)
        qid = queue_id_of(r)
        self.assertRegex(qid, r"^[A-Z0-9]+$")
        rows = self.server.query("SELECT sender FROM message WHERE queue_id = ?", (qid,))
        self.assertEqual(rows, [(ALICE,)])
        wait_for_mailbox_count(self.server, u, 1, confirm_pop3=True)


class SmtpIdleTimeoutTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server('[smtp]\ncommand_timeout = "2s"\ndata_timeout = "2s"\n'
                                      '[pop3]\nidle_timeout = "2s"\n')
        cls.bob = cls.server.add_user(f"bob@{DOMAIN}")

    def test_silent_client_during_data_gets_421(self):
        before = self.server.scalar("SELECT count(*) FROM message")
        c = self.server.smtp(timeout=10)
        self.addCleanup(c.close)
        self.assertReply(c.ehlo(), 250)
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{self.bob}>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        c.send(b"Subject: unfinished\r\n\r\nhalf a message\r\n")
        t0 = time.monotonic()
        self.assertReply(c.reply(), 421, "4.4.2")
        self.assertLess(time.monotonic() - t0, 8)
        self.assertTrue(c.is_closed())
        self.assertEqual(self.server.scalar("SELECT count(*) FROM message"), before)

    def test_pop3_autologout_deletes_nothing(self):
        from missive_harness import pop3_session, smtp_send
        smtp_send(self.server, ALICE, [self.bob], make_message("idle pop", ["x"]))
        wait_for_mailbox_count(self.server, self.bob, 1)
        c = pop3_session(self.server, self.bob)
        self.addCleanup(c.close)
        self.assertOk(c.cmd("DELE 1"))
        t0 = time.monotonic()
        # RFC 1939: the autologout timer closes the connection without removing messages
        # (a final -ERR line is tolerated)
        deadline = t0 + 8
        closed = False
        while time.monotonic() < deadline:
            try:
                line = c.line()
                self.assertTrue(line.startswith("-ERR"), line)
            except (EOFError, ConnectionResetError):
                closed = True
                break
        self.assertTrue(closed, "POP3 session not closed by the idle timeout")
        self.assertGreater(time.monotonic() - t0, 1.5)
        c2 = pop3_session(self.server, self.bob)
        self.addCleanup(c2.close)
        self.assertEqual(c2.stat()[0], 1)
        self.assertOk(c2.quit())

    def test_silent_client_gets_421(self):
        c = self.server.smtp(timeout=10)
        self.addCleanup(c.close)
        self.assertEqual(c.greeting.code, 220)
        t0 = time.monotonic()
        r = c.reply()
        elapsed = time.monotonic() - t0
        self.assertReply(r, 421, "4.4.2")
        self.assertGreater(elapsed, 1.5)
        self.assertLess(elapsed, 8)
        self.assertTrue(c.is_closed(), "connection not closed after 421")

    def test_silent_client_after_ehlo_gets_421(self):
        c = self.server.smtp(timeout=10)
        self.addCleanup(c.close)
        self.assertReply(c.ehlo(), 250)
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.reply(), 421, "4.4.2")
        self.assertTrue(c.is_closed())


class SmtpConnectionLimitTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server("[smtp]\nmax_connections = 2\n")

    def test_third_connection_refused(self):
        c1 = self.server.smtp()
        self.addCleanup(c1.close)
        c2 = self.server.smtp()
        self.addCleanup(c2.close)
        self.assertEqual(c1.greeting.code, 220)
        self.assertEqual(c2.greeting.code, 220)
        c3 = self.server.smtp()
        self.addCleanup(c3.close)
        self.assertReply(c3.greeting, 421, "4.7.0")
        self.assertTrue(c3.is_closed())
        # the admitted sessions still work
        self.assertReply(c1.cmd("NOOP"), 250, "2.0.0")
        self.assertReply(c1.cmd("QUIT"), 221, "2.0.0")
        c1.close()

        def admitted():
            c = self.server.smtp()
            try:
                return c.greeting.code == 220
            finally:
                c.close()
        wait_until(admitted, what="a slot freed after QUIT")


class SmtpUntrustedRelayTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server("[smtp]\ntrusted_networks = []\n")
        cls.bob = cls.server.add_user(f"bob@{DOMAIN}")

    def test_relay_refused_local_accepted(self):
        c = self.server.smtp()
        self.addCleanup(c.close)
        self.assertReply(c.ehlo(), 250)
        self.assertReply(c.cmd("MAIL FROM:<someone@remote.test>"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<other@remote.test>"), 554, "5.7.1")
        self.assertReply(c.cmd(f"RCPT TO:<{self.bob}>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        queue_id_of(c.data_bytes(make_message("from outside", ["hi"], sender="someone@remote.test")))
        wait_for_mailbox_count(self.server, self.bob, 1)


if __name__ == "__main__":
    unittest.main()
