"""missive-bench --recipients N against a real relay (the load of `bench/compare.sh
recipients`): every message goes to --to's local part numbered 1..N, each of those maildrops
gets every message, and the relay stores each message's body once, however many maildrops
hold it (one message row, one maildrop row per recipient)."""

import json
import os
import sqlite3
import subprocess
import unittest

from missive_harness import DOMAIN, MissiveTestCase, wait_for_mailbox_count

RECIPIENTS = 5
MESSAGES = 6


def bench_path():
    build = os.environ.get("MISSIVE_BUILD_DIR") or os.path.join(
        os.path.dirname(__file__), "..", "..", "build")
    return os.path.join(build, "bench", "missive-bench")


class BenchRecipientsTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server()
        cls.users = [cls.server.add_user(f"many{i}@{DOMAIN}") for i in range(1, RECIPIENTS + 1)]
        cls.server.add_user(f"few1@{DOMAIN}")
        cls.server.add_user(f"few2@{DOMAIN}")

    def test_every_recipient_gets_every_message_and_the_body_is_stored_once(self):
        run = subprocess.run(
            [bench_path(), "--port", str(self.server.smtp_port), "-n", str(MESSAGES), "-c", "2",
             "-s", "2048", "--recipients", str(RECIPIENTS), "--to", f"many@{DOMAIN}",
             "--json", "-", "--quiet"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr + run.stdout)
        report = json.loads(run.stdout)
        self.assertEqual((report["accepted"], report["recipients"], report["clean"]),
                         (MESSAGES, RECIPIENTS, True))
        for user in self.users:
            wait_for_mailbox_count(self.server, user, MESSAGES)
        db = sqlite3.connect(f"file:{self.server.db_path}?mode=ro", uri=True, timeout=10)
        try:
            bodies, smallest = db.execute(
                "SELECT count(*), min(length(body)) FROM message WHERE sender = 'bench@bench.test'"
            ).fetchone()
            in_maildrops = db.execute(
                "SELECT count(*) FROM recipient r JOIN message m ON m.id = r.message_id "
                "WHERE m.sender = 'bench@bench.test' AND r.mailbox_user_id IS NOT NULL").fetchone()[0]
        finally:
            db.close()
        self.assertEqual(bodies, MESSAGES)
        self.assertGreaterEqual(smallest, 2048)  # the whole message, with the relay's Received
        self.assertEqual(in_maildrops, MESSAGES * RECIPIENTS)

    def test_refused_recipient_fails_the_message(self):
        # few3 is no user: every message is counted failed, though the others took it.
        run = subprocess.run(
            [bench_path(), "--port", str(self.server.smtp_port), "-n", "2", "-c", "1",
             "--recipients", "3", "--to", f"few@{DOMAIN}", "--from", "other@bench.test",
             "--json", "-", "--quiet"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 1, run.stderr + run.stdout)
        report = json.loads(run.stdout)
        self.assertEqual((report["accepted"], report["failed"]), (0, 2))
        self.assertTrue(any("RCPT 550" in kind for kind in report["errors"]), report["errors"])


if __name__ == "__main__":
    unittest.main()
