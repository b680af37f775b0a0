"""`missive send` and `missive sendmail` when the relay refuses something: all or nothing.

A message goes to every recipient or to none (as msmtp does): when the relay refuses one
RCPT, the client says RSET instead of DATA, names each refused address with the relay's
reply on stderr, and exits 67 (EX_NOUSER) for a 5xx, 75 (EX_TEMPFAIL) for a 4xx with
--no-queue, so that a mail program reports the failure and sending again gives nobody a
second copy. (Without --no-queue a 4xx keeps the message in the outbox and exits 0: see
test_client_outbox.py.) A refused
message (5xx at MAIL, DATA or after it) is 65, refused credentials 77, each with the
relay's reply quoted.

Servers: missived (the harness's MissiveServer), checked over POP3 (STAT, RETR byte-exact)
and in its database (no message stored at all); and the harness's FakeSmtpServer, with and
without PIPELINING, to answer 451 to one RCPT or 554 after DATA and to show which commands
the client sent."""

import os
import shutil
import tempfile
import unittest

from missive_harness import (DOMAIN, HOST, PASSWORD, FakeSmtpServer, MissiveTestCase,
                             fetch_all, mailbox_count, make_message, unique_users,
                             wait_for_mailbox_count)
from test_client_send import run_missive
from test_client_tls import write_config

UNKNOWN_REPLY = "550 5.1.1 <{0}>: Recipient address rejected: User unknown"


def stderr_lines(result):
    return result.stderr.decode().splitlines()


class ClientHome:
    """A private HOME for one test, with a client config file in it."""

    def __init__(self, test):
        self.dir = tempfile.mkdtemp(prefix="missive-client-home-")
        test.addCleanup(shutil.rmtree, self.dir, True)

    def run(self, args, stdin=b"", password=None, **settings):
        settings.setdefault("server", HOST)
        settings.setdefault("tls", "none")
        config = write_config(self.dir, **settings)
        return run_missive(["--config", config, *args], stdin=stdin, password=password,
                           home=self.dir)


def send_args(sender, recipients, subject):
    args = ["send", "--from", sender, "--subject", subject]
    for r in recipients:
        args += ["--to", r]
    return args


class ClientRefusalsMissivedTest(MissiveTestCase):
    """Against missived: an unknown local user (550), too many recipients (452), a sender
    the submission user does not own (553), a wrong password (535). User names are short:
    POP3 arguments are at most 40 octets (RFC 1939 3)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = cls.start_server(config='[smtp]\nsubmission = ["127.0.0.1:0"]\n')
        cls.limited = cls.start_server(config="[smtp]\nmax_recipients = 1\n")

    def setUp(self):
        super().setUp()
        self.home = ClientHome(self)

    def stored_messages(self, server):
        """Messages in the relay's database: one is there before the relay says 250."""
        return server.scalar("SELECT count(*) FROM message")

    def unknown(self, tag):
        return f"nobody.{tag}.{os.getpid()}@{DOMAIN}"

    def assertNothingSent(self, server, before, *mailboxes):
        self.assertEqual(self.stored_messages(server), before, "the relay stored a message")
        for user in mailboxes:
            self.assertEqual(mailbox_count(server, user), 0, f"POP3 STAT of {user}")

    def test_unknown_recipient_sends_nothing_and_exits_67(self):
        for command in ("send", "sendmail"):
            with self.subTest(command=command):
                sender, good = unique_users(self.server, f"r{command[-1]}.", 2)
                unknown = self.unknown(command)
                before = self.stored_messages(self.server)
                if command == "send":
                    r = self.home.run(send_args(sender, [good, unknown], "half known"),
                                      stdin=b"Hello.\n", smtp_port=self.server.smtp_port)
                else:
                    message = make_message("half known", ["Hello."], sender=sender,
                                           to=f"{good}, {unknown}")
                    r = self.home.run(["sendmail", "-oi", "-f", sender, "--", good, unknown],
                                      stdin=message, smtp_port=self.server.smtp_port)
                self.assertEqual(r.returncode, 67, r.stderr)
                self.assertEqual(r.stdout, b"")
                self.assertEqual(stderr_lines(r), [
                    f"missive: recipient refused: {unknown}: {UNKNOWN_REPLY.format(unknown)}",
                    "missive: nothing was sent: the mail server refused 1 of 2 recipients",
                ])
                self.assertNothingSent(self.server, before, good)

    def test_every_recipient_known_delivers_once_each(self):
        for command in ("send", "sendmail"):
            with self.subTest(command=command):
                sender, first, second = unique_users(self.server, f"k{command[-1]}.", 3)
                before = self.stored_messages(self.server)
                message = make_message(f"both known by {command}", ["Hello both.", ".dot"],
                                       sender=sender, to=f"{first}, {second}")
                if command == "send":
                    r = self.home.run(send_args(sender, [first, second],
                                                f"both known by {command}"),
                                      stdin=b"Hello both.\n.dot\n",
                                      smtp_port=self.server.smtp_port)
                    self.assertRegex(r.stdout.decode(), r"^queued as [A-Z0-9]+\n$")
                else:
                    r = self.home.run(["sendmail", "-oi", "-f", sender, "--", first, second],
                                      stdin=message, smtp_port=self.server.smtp_port)
                    self.assertEqual(r.stdout, b"")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stderr, b"")
                self.assertEqual(self.stored_messages(self.server), before + 1)
                for user in (first, second):
                    wait_for_mailbox_count(self.server, user, 1, confirm_pop3=True)
                    [stored] = fetch_all(self.server, user)
                    self.assertIn(f"\r\nSubject: both known by {command}\r\n".encode(), stored)
                    if command == "sendmail":
                        # Nothing to add (From, Date, Message-ID are there): the relay's
                        # Received line, then the message byte for byte.
                        self.assertStoredEndsWith(stored, message)
                    else:
                        self.assertTrue(stored.endswith(b"\r\n\r\nHello both.\r\n.dot\r\n"),
                                        stored[-200:])

    def test_too_many_recipients_is_452_sends_nothing_and_exits_75_with_no_queue(self):
        for command in ("send", "sendmail"):
            with self.subTest(command=command):
                sender, first, second = unique_users(self.limited, f"l{command[-1]}.", 3)
                before = self.stored_messages(self.limited)
                if command == "send":
                    r = self.home.run(send_args(sender, [first, second], "one too many")
                                      + ["--no-queue"],
                                      stdin=b"x\n", smtp_port=self.limited.smtp_port)
                else:
                    r = self.home.run(["sendmail", "--no-queue", "-i", first, second],
                                      stdin=b"Subject: one too many\n\nx\n",
                                      smtp_port=self.limited.smtp_port)
                self.assertEqual(r.returncode, 75, r.stderr)
                self.assertEqual(r.stdout, b"")
                self.assertEqual(stderr_lines(r), [
                    f"missive: recipient refused: {second}: 452 4.5.3 Error: too many recipients",
                    "missive: nothing was sent: the mail server cannot take 1 of 2 recipients "
                    "now; try again later",
                ])
                self.assertNothingSent(self.limited, before, first, second)

    def test_sender_refused_exits_65_with_the_reply(self):
        [alice] = unique_users(self.server, "o.", 1)
        before = self.stored_messages(self.server)
        r = self.home.run(send_args(f"mallory@{DOMAIN}", [alice], "not mine"), stdin=b"x\n",
                          password=PASSWORD, smtp_port=self.server.port("submission"),
                          user=alice)
        self.assertEqual(r.returncode, 65, r.stderr)
        [line] = stderr_lines(r)
        self.assertRegex(line, rf"^missive: nothing was sent: the mail server refused the "
                               rf"message from <mallory@{DOMAIN}>: 553 5\.7\.1 ")
        self.assertNothingSent(self.server, before, alice)

    def test_wrong_password_exits_77_with_the_reply(self):
        [alice] = unique_users(self.server, "p.", 1)
        r = self.home.run(send_args(alice, [alice], "x"), stdin=b"x\n", password="wrong",
                          smtp_port=self.server.port("submission"), user=alice)
        self.assertEqual(r.returncode, 77, r.stderr)
        [line] = stderr_lines(r)
        self.assertTrue(line.startswith(
            f"missive: the mail server refused the user name or password for {alice}: 535 5.7.8 "),
            line)


class ClientRefusalsScriptedTest(unittest.TestCase):
    """Against FakeSmtpServer: which commands the client sends when one RCPT gets 451, and
    a message refused after DATA."""

    def setUp(self):
        self.home = ClientHome(self)

    def fake(self, pipelining, **kwargs):
        features = ["8BITMIME", "ENHANCEDSTATUSCODES"] + (["PIPELINING"] if pipelining else [])
        server = FakeSmtpServer(features=features, **kwargs)
        self.addCleanup(server.stop)
        return server

    def verbs(self, server):
        return [line.split(" ", 1)[0].upper() for _, line in server.commands]

    def test_451_to_one_recipient_says_rset_not_data_and_exits_75_with_no_queue(self):
        later = "later@example.test"
        for pipelining in (True, False):
            for command in ("send", "sendmail"):
                with self.subTest(pipelining=pipelining, command=command):
                    server = self.fake(pipelining, rcpt_reply=lambda address, n: (
                        "451 4.3.0 mailbox busy, try later" if address == later else None))
                    if command == "send":
                        r = self.home.run(send_args("a@example.test",
                                                    ["b@example.test", later], "busy")
                                          + ["--no-queue"],
                                          stdin=b"x\n", smtp_port=server.port)
                    else:
                        r = self.home.run(["sendmail", "--no-queue", "-i", "b@example.test",
                                           later],
                                          stdin=b"Subject: busy\n\nx\n", smtp_port=server.port)
                    self.assertEqual(r.returncode, 75, r.stderr)
                    self.assertEqual(stderr_lines(r), [
                        f"missive: recipient refused: {later}: 451 4.3.0 mailbox busy, try later",
                        "missive: nothing was sent: the mail server cannot take 1 of 2 "
                        "recipients now; try again later",
                    ])
                    self.assertEqual(server.transactions, [])
                    self.assertEqual(self.verbs(server),
                                     ["EHLO", "MAIL", "RCPT", "RCPT", "RSET", "QUIT"])

    def test_every_recipient_accepted_sends_data_once(self):
        for pipelining in (True, False):
            with self.subTest(pipelining=pipelining):
                server = self.fake(pipelining)
                r = self.home.run(send_args("a@example.test", ["b@example.test",
                                                               "c@example.test"], "fine"),
                                  stdin=b"x\n", smtp_port=server.port)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout.decode(), "queued as FAKE1\n")
                [transaction] = server.wait_transactions(1)
                self.assertEqual(transaction.rcpts, ["b@example.test", "c@example.test"])
                self.assertEqual(self.verbs(server),
                                 ["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"])

    def test_message_refused_after_data_exits_65_with_the_reply(self):
        server = self.fake(True, data_reply=lambda n: "554 5.6.0 message content rejected")
        r = self.home.run(["sendmail", "-i", "b@example.test"], stdin=b"Subject: s\n\nx\n",
                          smtp_port=server.port)
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertEqual(stderr_lines(r), [
            "missive: nothing was sent: the mail server refused the message: "
            "554 5.6.0 message content rejected"])


if __name__ == "__main__":
    unittest.main()
