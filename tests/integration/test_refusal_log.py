"""Logs an operator (and fail2ban) can act on: one Postfix-style line per refused command,
naming the client, the reply, the envelope and the HELO name (a failed AUTH names the user
tried, never the password); every connect has exactly one disconnect, also for clients that
reset the connection; a warning at start for a domain without a postmaster mailbox."""

import base64
import collections
import re
import socket
import struct
import unittest

from missive_harness import (DOMAIN, HOST, PASSWORD, MissiveTestCase, make_message,
                             pop3_session, wait_until)

ALICE = f"alice@{DOMAIN}"
WRONG_PASSWORD = "not-the-password-7c1e"
HELO = "client.example.test"
CLIENT = r"unknown\[127\.0\.0\.1\]"


def reset(sock):
    """Closes with an RST (SO_LINGER 0), as a scanner does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class RefusalLogTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server("""
[smtp]
submission = ["127.0.0.1:0"]
auth_failure_limit = 1000
""")
        cls.server.add_user(ALICE)

    def wait_line(self, pattern):
        """The one log line matching pattern (a regex over a whole line)."""
        found = []

        def seen():
            found[:] = re.findall(rf"(?m) info [SP]\d+: ({pattern})$", self.server.read_log())
            return found
        wait_until(seen, what=f"a log line matching {pattern!r}")
        return found

    def session(self, port=None):
        from missive_harness import SmtpClient
        c = SmtpClient(port or self.server.smtp_port)
        self.addCleanup(c.close)
        self.assertReply(c.cmd(f"EHLO {HELO}"), 250)
        return c

    def test_unknown_user_550(self):
        c = self.session()
        self.assertReply(c.cmd("MAIL FROM:<someone@outside.test>"), 250)
        self.assertReply(c.cmd(f"RCPT TO:<nobody@{DOMAIN}>"), 550, "5.1.1")
        self.wait_line(
            rf"reject: RCPT from {CLIENT}: 550 5\.1\.1 <nobody@{DOMAIN}>: Recipient address "
            rf"rejected: User unknown; from=<someone@outside\.test> to=<nobody@{DOMAIN}> "
            rf"proto=ESMTP helo=<{HELO}>")

    def test_bare_lf_554(self):
        c = self.session()
        self.assertReply(c.cmd("MAIL FROM:<lf@outside.test>"), 250)
        self.assertReply(c.cmd(f"RCPT TO:<{ALICE}>"), 250)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(b"Subject: x\r\n\r\nbare\nline feed\r\n.\r\n")
        self.assertReply(c.reply(), 554, "5.6.0")
        self.wait_line(
            rf"reject: END-OF-MESSAGE from {CLIENT}: 554 5\.6\.0 Error: bare CR, bare LF or NUL "
            rf"in message data \(RFC 5321 2\.3\.8\); from=<lf@outside\.test> to=<{ALICE}> "
            rf"proto=ESMTP helo=<{HELO}>")

    def test_failed_auth_535_names_the_user_never_the_password(self):
        c = self.session()
        token = base64.b64encode(f"\0{ALICE}\0{WRONG_PASSWORD}".encode()).decode()
        self.assertReply(c.cmd(f"AUTH PLAIN {token}"), 535, "5.7.8")
        self.wait_line(
            rf"reject: AUTH from {CLIENT}: 535 5\.7\.8 Error: authentication credentials "
            rf"invalid; sasl_username=<{ALICE}> proto=ESMTP helo=<{HELO}>")
        self.assertNotIn(WRONG_PASSWORD, self.server.read_log())
        self.assertNotIn(token, self.server.read_log())

    def test_sender_not_owned_553(self):
        c = self.session(self.server.port("submission"))
        token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
        self.assertReply(c.cmd(f"AUTH PLAIN {token}"), 235)
        self.assertReply(c.cmd("MAIL FROM:<ceo@bank.test>"), 553, "5.7.1")
        self.wait_line(
            rf"reject: MAIL from {CLIENT}: 553 5\.7\.1 <ceo@bank\.test>: Sender address "
            rf"rejected: not owned by {ALICE}; from=<ceo@bank\.test> proto=ESMTP helo=<{HELO}>")
        self.assertNotIn(PASSWORD + "\n", self.server.read_log())

    def test_failed_pop3_login_names_the_user_never_the_password(self):
        p = self.server.pop3()
        self.addCleanup(p.close)
        self.assertOk(p.cmd(f"USER {ALICE}"))
        self.assertErr(p.cmd(f"PASS {WRONG_PASSWORD}"), "AUTH")
        self.wait_line(rf"reject: LOGIN from {CLIENT}: -ERR \[AUTH\] Invalid username or "
                       rf"password; user=<{ALICE}>")
        self.assertNotIn(WRONG_PASSWORD, self.server.read_log())

    def test_every_connect_has_one_disconnect_after_resets(self):
        before = set(re.findall(r" ([SP]\d+): event=connect ", self.server.read_log()))
        ports = [self.server.smtp_port, self.server.pop3_port]
        for round_ in range(6):
            socks = []
            for i in range(10):
                s = socket.create_connection((HOST, ports[i % 2]), timeout=10)
                if i % 3 == 1:
                    s.recv(512)                        # after the greeting
                if i % 3 == 2:
                    s.recv(512)
                    s.sendall(b"EHLO scanner\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x")  # mid-command
                socks.append(s)
            for s in socks:
                reset(s)
        log = {}

        def all_disconnected():
            text = self.server.read_log()
            connects = collections.Counter(re.findall(r" ([SP]\d+): event=connect ", text))
            disconnects = collections.Counter(re.findall(r" ([SP]\d+): event=disconnect ", text))
            new = set(connects) - before
            log.update(connects=connects, disconnects=disconnects, new=new)
            return len(new) >= 60 and all(disconnects[s] >= 1 for s in connects)
        wait_until(all_disconnected, what="a disconnect line for every connect")
        self.assertEqual(len(log["new"]), 60)
        # exactly one each, never two
        for session in log["connects"]:
            self.assertEqual((log["connects"][session], log["disconnects"][session]), (1, 1), session)

    def test_quit_has_its_disconnect(self):
        def connects():
            return re.findall(r" ([SP]\d+): event=connect ", self.server.read_log())
        for port, quit_reply in ((self.server.smtp_port, b"221 "), (self.server.pop3_port, b"+OK")):
            before = len(connects())
            s = socket.create_connection((HOST, port), timeout=10)
            s.recv(512)
            s.sendall(b"QUIT\r\n")
            self.assertTrue(s.recv(512).startswith(quit_reply))
            s.close()
            wait_until(lambda: len(connects()) > before, what="the connect line")
            session = connects()[before]
            wait_until(lambda: f" {session}: event=disconnect reason=quit\n" in self.server.read_log(),
                       what=f"the disconnect line of {session}")

    def test_postmaster_warning_at_start(self):
        self.assertRegex(self.server.read_log(),
                         rf"warning missived: event=no_postmaster domain={DOMAIN} ")


if __name__ == "__main__":
    unittest.main()
