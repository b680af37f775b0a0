"""kill -9 the relay mid-stream several times: every message that got 250 is in the
mailboxes exactly once, nothing is duplicated, and the database is intact."""

import collections
import random
import re
import smtplib
import sqlite3
import sys
import threading
import time
import unittest

from missive_harness import (DOMAIN, HOST, MissiveServer, MissiveTestCase, make_message,
                             pop3_session, wait_until)

SENDERS = 4
KILLS = 3
RECIPIENTS = [f"bob@{DOMAIN}", f"carol@{DOMAIN}"]
TEST_ID_RE = re.compile(rb"^X-Test-Id: (\S+)\r$", re.M)


class CrashRecoveryTest(MissiveTestCase):

    def setUp(self):
        super().setUp()
        self.server = self.start_test_server()
        for r in RECIPIENTS:
            self.server.add_user(r)
        self.port = self.server.smtp_port
        self.port_lock = threading.Lock()
        self.stop = threading.Event()
        self.acked = set()
        self.attempted = 0
        self.errors = 0
        self.acked_lock = threading.Lock()

    def current_port(self):
        with self.port_lock:
            return self.port

    def sender(self, n):
        seq = 0
        smtp = None
        while not self.stop.is_set():
            seq += 1
            test_id = f"s{n}-{seq}"
            msg = make_message(f"crash {test_id}", [f"payload {test_id}", "." * (seq % 5)],
                               test_id=test_id)
            try:
                if smtp is None:
                    smtp = smtplib.SMTP(HOST, self.current_port(), timeout=5)
                    smtp.ehlo("crash.example.test")
                smtp.sendmail(f"alice@{DOMAIN}", RECIPIENTS, msg)
            except (OSError, smtplib.SMTPException):
                with self.acked_lock:
                    self.errors += 1
                try:
                    if smtp is not None:
                        smtp.close()
                except Exception:
                    pass
                smtp = None
                time.sleep(0.02)
                continue
            finally:
                with self.acked_lock:
                    self.attempted += 1
            with self.acked_lock:
                self.acked.add(test_id)
        if smtp is not None:
            try:
                smtp.quit()
            except Exception:
                smtp.close()

    def test_kill_dash_nine_loses_and_duplicates_nothing(self):
        threads = [threading.Thread(target=self.sender, args=(i,), daemon=True) for i in range(SENDERS)]
        for t in threads:
            t.start()
        acked_at_kill = []
        try:
            for _ in range(KILLS):
                time.sleep(random.uniform(0.2, 0.8))
                self.server.kill9()
                with self.acked_lock:
                    acked_at_kill.append(len(self.acked))
                self.server.start()
                with self.port_lock:
                    self.port = self.server.smtp_port
            time.sleep(0.5)  # some traffic on the last incarnation too
        finally:
            self.stop.set()
            for t in threads:
                t.join(15)
        self.assertFalse(any(t.is_alive() for t in threads), "sender threads did not stop")
        sys.stderr.write(f"\n[crash test] acknowledged={len(self.acked)} attempts={self.attempted} "
                         f"errors={self.errors} acknowledged at each kill={acked_at_kill}\n")
        self.assertGreater(len(self.acked), 20, f"too few messages acknowledged ({len(self.acked)}); "
                           f"attempts={self.attempted} errors={self.errors} acked at kills={acked_at_kill}")
        # every incarnation must have accepted something, otherwise a kill tested nothing
        self.assertEqual(len(acked_at_kill), KILLS)
        self.assertGreater(acked_at_kill[0], 0, acked_at_kill)
        for a, b in zip(acked_at_kill, acked_at_kill[1:]):
            self.assertGreater(b, a, f"an incarnation accepted nothing: {acked_at_kill}")

        # wait until the scheduler has delivered everything that was committed
        def all_delivered():
            pending = self.server.scalar(
                "SELECT count(*) FROM recipient WHERE state <> 'delivered'")
            return pending == 0
        wait_until(all_delivered, timeout=15, what="all recipients delivered after restarts")

        stored_ids = {}
        for rcpt in RECIPIENTS:
            c = pop3_session(self.server, rcpt)
            try:
                count, _ = c.stat()
                ids = []
                for i in range(1, count + 1):
                    head = c.top(i, 0)
                    found = TEST_ID_RE.findall(head)
                    self.assertEqual(len(found), 1, f"message {i} of {rcpt} has no single X-Test-Id: {head!r}")
                    ids.append(found[0].decode())
                self.assertOk(c.quit())
            finally:
                c.close()
            stored_ids[rcpt] = ids

        for rcpt, ids in stored_ids.items():
            dups = [i for i, k in collections.Counter(ids).items() if k > 1]
            self.assertEqual(dups, [], f"duplicated in {rcpt}'s mailbox")
            missing = sorted(self.acked - set(ids))
            self.assertEqual(missing, [], f"acknowledged but missing in {rcpt}'s mailbox "
                             f"({len(missing)} of {len(self.acked)})")
        # both recipients got exactly the same set (a message is stored with all its recipients)
        self.assertEqual(set(stored_ids[RECIPIENTS[0]]), set(stored_ids[RECIPIENTS[1]]))
        # nothing stored that nobody tried to send
        n_msgs = self.server.scalar("SELECT count(*) FROM message")
        self.assertEqual(n_msgs, len(stored_ids[RECIPIENTS[0]]))
        self.assertEqual(self.server.scalar("SELECT count(*) FROM mailbox_entry"),
                         len(RECIPIENTS) * n_msgs)
        accepted = self.server.scalar("SELECT count(*) FROM event WHERE kind = 'accepted'")
        self.assertEqual(accepted, n_msgs)

        rc = self.server.stop()
        self.assertEqual(rc, 0, "SIGTERM did not exit 0")
        conn = sqlite3.connect(self.server.db_path, timeout=10)
        try:
            self.assertEqual(conn.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
            self.assertEqual(conn.execute("PRAGMA foreign_key_check").fetchall(), [])
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
