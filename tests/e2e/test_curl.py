"""End to end with curl: smtp:// upload and pop3:// retrieval."""

import os
import subprocess
import unittest

from missive_harness import (DOMAIN, HOST, PASSWORD, ToolTestCase, make_message, pop3_session,
                             wait_for_mailbox_count)

ALICE = f"alice@{DOMAIN}"


class CurlTest(ToolTestCase):

    TOOL = "curl"
    USER_PREFIX = "c"
    USER_COUNT = 10

    def run_curl(self, *args, binary=True):
        r = subprocess.run([self.tool, "-sS", "--max-time", "20", *args], capture_output=True,
                           timeout=30)
        return r

    def upload(self, msg, rcpts, sender=ALICE):
        path = os.path.join(self.tmp, f"msg{len(os.listdir(self.tmp))}.eml")
        with open(path, "wb") as f:
            f.write(msg)
        args = ["--url", f"smtp://{HOST}:{self.server.smtp_port}", "--mail-from", sender]
        for r in rcpts:
            args += ["--mail-rcpt", r]
        return self.run_curl(*args, "--upload-file", path)

    def pop3_url(self, path=""):
        return f"pop3://{HOST}:{self.server.pop3_port}/{path}"

    def test_smtp_upload_pop3_retr_byte_exact(self):
        user = self.fresh_user()
        lines = [b".", b"..dots", b".x", b"8-bit: " + bytes(range(0x80, 0x100, 3)), b"", b"end"]
        msg = make_message("curl round trip", lines, to=user)
        r = self.upload(msg, [user])
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for_mailbox_count(self.server, user, 1)
        r = self.run_curl(self.pop3_url("1"), "--user", f"{user}:{PASSWORD}")
        self.assertEqual(r.returncode, 0, r.stderr)
        stored = self.assertDeliveryHeaders(r.stdout, ALICE, user)
        self.assertStoredEndsWith(stored, msg)
        self.assertTrue(stored.startswith(b"Received:"), r.stdout[:100])

    def test_pop3_list(self):
        user = self.fresh_user()
        msgs = [make_message(f"list {i}", ["x" * (10 * i)], to=user) for i in range(1, 4)]
        for m in msgs:
            r = self.upload(m, [user])
            self.assertEqual(r.returncode, 0, r.stderr)
        wait_for_mailbox_count(self.server, user, 3)
        c = pop3_session(self.server, user)
        expected = c.listing("LIST")
        self.assertOk(c.quit())
        c.close()
        r = self.run_curl(self.pop3_url(), "--user", f"{user}:{PASSWORD}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"".join(f"{n} {s}\r\n".encode() for n, s in expected))

    def test_several_recipients(self):
        users = [self.fresh_user() for _ in range(2)]
        msg = make_message("curl to two", ["hi both"])
        r = self.upload(msg, users)
        self.assertEqual(r.returncode, 0, r.stderr)
        for u in users:
            wait_for_mailbox_count(self.server, u, 1)
            r = self.run_curl(self.pop3_url("1"), "--user", f"{u}:{PASSWORD}")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertStoredEndsWith(r.stdout, msg)

    def test_unknown_recipient(self):
        r = self.upload(make_message("nobody", ["x"]), [f"nobody@{DOMAIN}"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"550", r.stderr)

    def test_pop3_wrong_password(self):
        user = self.fresh_user()
        r = self.run_curl(self.pop3_url(), "--user", f"{user}:wrong")
        self.assertEqual(r.returncode, 67, r.stderr)  # CURLE_LOGIN_DENIED

    def test_pop3_dele(self):
        user = self.fresh_user()
        for i in range(2):
            self.assertEqual(self.upload(make_message(f"del {i}", ["x"]), [user]).returncode, 0)
        wait_for_mailbox_count(self.server, user, 2)
        r = self.run_curl(self.pop3_url("1"), "--user", f"{user}:{PASSWORD}", "-X", "DELE", "-I")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for_mailbox_count(self.server, user, 1)
        r = self.run_curl(self.pop3_url("1"), "--user", f"{user}:{PASSWORD}")
        self.assertIn(b"del 1", r.stdout)

    def test_pop3_uidl(self):
        user = self.fresh_user()
        self.assertEqual(self.upload(make_message("uidl", ["x"]), [user]).returncode, 0)
        wait_for_mailbox_count(self.server, user, 1)
        c = pop3_session(self.server, user)
        expected = c.listing("UIDL")
        self.assertOk(c.quit())
        c.close()
        r = self.run_curl(self.pop3_url(), "--user", f"{user}:{PASSWORD}", "-X", "UIDL")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"".join(f"{n} {u}\r\n".encode() for n, u in expected))


if __name__ == "__main__":
    unittest.main()
