"""`missive reply` and `missive forward` (issue 19), parsed back with Python's `email`
package from the mailboxes of a real missived: To from Reply-To or From, `--all` adding the
other recipients but never the user, "Re:" once, In-Reply-To and References as RFC 5322
3.6.4 says, `--quote` quoting the original's text; a forward carries the original whole as
a message/rfc822 part."""

import email
import email.policy
import os
import shutil
import tempfile
import unittest

from missive_harness import (HOST, PASSWORD, MissiveTestCase, fetch_all, smtp_send,
                             unique_users)
from test_client_send import run_missive


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def text_of(part):
    """A text part's content with LF line breaks (what arrived has CRLF)."""
    return part.get_content().replace("\r\n", "\n")


def addresses(msg, name):
    header = msg[name]
    return [] if header is None else [a.addr_spec for a in header.addresses]


class ClientReplyForwardTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = cls.start_server()

    def setUp(self):
        super().setUp()
        self.home = tempfile.mkdtemp(prefix="missive-reply-home-")
        self.addCleanup(shutil.rmtree, self.home, True)
        self.alice, self.bob, self.carol, self.list = unique_users(self.server, "r.", 4)
        self.original_id = f"plan.{os.getpid()}@bob.example.test"
        original = (f"From: Bob <{self.bob}>\r\nTo: Alice <{self.alice}>\r\n"
                    f"Cc: {self.carol}\r\nSubject: Plan\r\n"
                    f"Date: Sun, 06 Dec 2026 08:00:00 +0000\r\n"
                    f"Message-ID: <{self.original_id}>\r\n"
                    f"References: <older@bob.example.test>\r\n"
                    f"In-Reply-To: <older@bob.example.test>\r\n\r\n"
                    f"Line one\r\nLine two\r\n").encode()
        smtp_send(self.server, self.bob, [self.alice, self.carol], original)
        r = self.missive("fetch")
        self.assertEqual((r.returncode, r.stdout), (0, b"1 new message\n"), r.stderr)
        self.drain(self.carol)
        self.drain(self.alice)

    def missive(self, *args, stdin=b""):
        common = ["--server", HOST, "--smtp-port", str(self.server.smtp_port),
                  "--pop3-port", str(self.server.pop3_port), "--user", self.alice,
                  "--data-dir", os.path.join(self.home, "store")]
        return run_missive([*common, *args], stdin=stdin, password=PASSWORD, home=self.home)

    def drain(self, user):
        """The messages in `user`'s mailbox, which is emptied."""
        from missive_harness import pop3_session
        c = pop3_session(self.server, user)
        try:
            n, _ = c.stat()
            out = [c.retr(i) for i in range(1, n + 1)]
            for i in range(1, n + 1):
                c.cmd(f"DELE {i}")
            c.quit()
            return out
        finally:
            c.close()

    def test_reply_all_with_quote(self):
        r = self.missive("reply", "1", "--all", "--quote", stdin=b"Agreed.\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"^queued as [A-Z0-9]+\n$")
        [to_bob] = self.drain(self.bob)
        [to_carol] = self.drain(self.carol)
        self.assertEqual(self.drain(self.alice), [])  # never to the user itself
        msg = parse(to_bob)
        self.assertEqual(addresses(msg, "From"), [self.alice])
        self.assertEqual(addresses(msg, "To"), [self.bob])
        self.assertEqual(addresses(msg, "Cc"), [self.carol])
        self.assertEqual(msg["Subject"], "Re: Plan")
        self.assertEqual(msg["In-Reply-To"], f"<{self.original_id}>")
        self.assertEqual(msg["References"].split(),
                         ["<older@bob.example.test>", f"<{self.original_id}>"])
        self.assertTrue(msg["Message-ID"])
        text = text_of(msg)
        self.assertTrue(text.startswith("Agreed.\n"), text)
        self.assertIn("> Line one\n> Line two\n", text)
        self.assertEqual(parse(to_carol)["Message-ID"], msg["Message-ID"])

    def test_reply_goes_to_the_sender_only_and_says_re_once(self):
        r = self.missive("reply", "1", stdin=b"Just you.\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        [to_bob] = self.drain(self.bob)
        self.assertEqual(self.drain(self.carol), [])
        msg = parse(to_bob)
        self.assertEqual(addresses(msg, "To"), [self.bob])
        self.assertIsNone(msg["Cc"])
        self.assertEqual(text_of(msg), "Just you.\n")
        self.assertNotIn("> Line one", text_of(msg))

        # Bob's answer, from a list with Reply-To, already says "Re:": it goes to Reply-To.
        answer = (f"From: {self.bob}\r\nTo: {self.alice}\r\nReply-To: {self.list}\r\n"
                  f"Subject: RE: Plan\r\nDate: Sun, 06 Dec 2026 09:00:00 +0000\r\n"
                  f"Message-ID: <answer@bob.example.test>\r\n"
                  f"In-Reply-To: {msg['Message-ID']}\r\n"
                  f"References: <older@bob.example.test> <{self.original_id}> "
                  f"{msg['Message-ID']}\r\n\r\nok\r\n").encode()
        smtp_send(self.server, self.bob, [self.alice], answer)
        r = self.missive("fetch")
        self.assertEqual(r.stdout, b"1 new message\n", r.stderr)
        r = self.missive("reply", "2", stdin=b"Fine.\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        [to_list] = self.drain(self.list)
        self.assertEqual(self.drain(self.bob), [])
        again = parse(to_list)
        self.assertEqual(again["Subject"], "RE: Plan")
        self.assertEqual(again["In-Reply-To"], "<answer@bob.example.test>")
        self.assertEqual(again["References"].split(), [
            "<older@bob.example.test>", f"<{self.original_id}>", msg["Message-ID"],
            "<answer@bob.example.test>"])

    def test_forward_attaches_the_original_as_message_rfc822(self):
        r = self.missive("forward", "1", "--to", self.carol, stdin=b"FYI, see below.\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        [forwarded] = self.drain(self.carol)
        msg = parse(forwarded)
        self.assertEqual(addresses(msg, "To"), [self.carol])
        self.assertEqual(msg["Subject"], "Fwd: Plan")
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        text, attached = list(msg.iter_parts())
        self.assertEqual(text_of(text), "FYI, see below.\n")
        self.assertEqual(attached.get_content_type(), "message/rfc822")
        inner = attached.get_content()
        self.assertEqual(inner["Subject"], "Plan")
        self.assertEqual(inner["Message-ID"], f"<{self.original_id}>")
        self.assertEqual(text_of(inner), "Line one\nLine two\n")

        r = self.missive("forward", "1", "--to", "not an address", stdin=b"x\n")
        self.assertEqual(r.returncode, 65, r.stderr)
        r = self.missive("forward", "9", "--to", self.carol, stdin=b"x\n")
        self.assertEqual(r.returncode, 65, r.stderr)


if __name__ == "__main__":
    unittest.main()
