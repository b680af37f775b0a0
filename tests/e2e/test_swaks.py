"""End to end with swaks, the Swiss Army Knife for SMTP."""

import os
import subprocess
import unittest

from missive_harness import (DOMAIN, HOST, ToolTestCase, fetch_all, header_fields,
                             make_message, wait_for_mailbox_count)

ALICE = f"alice@{DOMAIN}"


class SwaksTest(ToolTestCase):

    TOOL = "swaks"
    USER_PREFIX = "w"
    USER_COUNT = 8

    def run_swaks(self, *args):
        cmd = [self.tool, "--server", f"{HOST}:{self.server.smtp_port}", "--from", ALICE,
               "--helo", "client.example.test", "--timeout", "20", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=40)

    def test_data_from_file(self):
        user = self.fresh_user()
        msg = make_message("swaks file", [".dot", "..two", "plain", "", "end"], to=user)
        path = os.path.join(self.tmp, "file.eml")
        with open(path, "wb") as f:
            f.write(msg[:-2])  # swaks itself appends CRLF before the final ".CRLF"
        r = self.run_swaks("--to", user, "--data", f"@{path}")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^<-  250 2\.0\.0 Ok: queued as [A-Z0-9]+$")
        wait_for_mailbox_count(self.server, user, 1)
        [stored] = fetch_all(self.server, user)
        self.assertStoredEndsWith(stored, msg)

    def test_body(self):
        user = self.fresh_user()
        r = self.run_swaks("--to", user, "--body", "hello from swaks", "--header", "Subject: via swaks")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        wait_for_mailbox_count(self.server, user, 1)
        [stored] = fetch_all(self.server, user)
        self.assertIn(b"\r\n\r\nhello from swaks\r\n", stored)
        names = [n for n, _ in header_fields(stored)]
        self.assertEqual(names.count("message-id"), 1, names)
        self.assertEqual(names.count("date"), 1, names)
        self.assertEqual(names.count("received"), 1, names)
        self.assertEqual(dict(header_fields(stored))["subject"], b"via swaks")

    def test_pipeline(self):
        user = self.fresh_user()
        r = self.run_swaks("--to", user, "--pipeline", "--body", "pipelined body")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("does not support PIPELINING", r.stdout + r.stderr)
        wait_for_mailbox_count(self.server, user, 1)
        [stored] = fetch_all(self.server, user)
        self.assertIn(b"\r\n\r\npipelined body\r\n", stored)

    def test_several_recipients(self):
        users = [self.fresh_user() for _ in range(2)]
        r = self.run_swaks("--to", ",".join(users), "--body", "to both")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for u in users:
            wait_for_mailbox_count(self.server, u, 1, confirm_pop3=True)

    def test_unknown_recipient(self):
        r = self.run_swaks("--to", f"nobody@{DOMAIN}", "--body", "x")
        self.assertEqual(r.returncode, 24, r.stdout + r.stderr)  # swaks: all recipients refused
        self.assertIn("550 5.1.1", r.stdout)

    def test_8bit_body(self):
        user = self.fresh_user()
        r = self.run_swaks("--to", user, "--body", "caf\u00e9 8-bit body", "--header",
                           "Content-Type: text/plain; charset=utf-8")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        wait_for_mailbox_count(self.server, user, 1)
        [stored] = fetch_all(self.server, user)
        self.assertIn("caf\u00e9 8-bit body".encode(), stored)


if __name__ == "__main__":
    unittest.main()
