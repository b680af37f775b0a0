"""`missive` against a real missived on ephemeral loopback ports: send → fetch → inbox →
read → delete round trip; a fetch killed with SIGKILL in the middle of a large download and
run again (every message exactly once in the local store); server down (exit 75, one
sentence; inbox falls back to the local store); wrong password (exit 77); `sendmail -t` with
Bcc (the Bcc recipient gets it, no header shows it); `watch` prints new messages and stops
cleanly on SIGTERM."""

import os
import select
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

from missive_harness import (HOST, PASSWORD, MissiveTestCase, mailbox_count, make_message,
                             run_with_terminal_stderr, smtp_send, wait_for_mailbox_count,
                             wait_until)
from test_client_send import missive_path, run_missive

ALICE = "alice@example.test"
BOB = "bob@example.test"


def readline_within(stream, timeout):
    """One line from a child's pipe, waiting at most `timeout` seconds ("" if none)."""
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([stream], [], [], remaining)
        if not ready:
            break
        chunk = os.read(stream.fileno(), 1)
        if not chunk:
            break
        data += chunk
    return data.decode()


class ClientMailboxTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = cls.start_server()
        cls.server.add_user(ALICE)
        cls.server.add_user(BOB)

    def setUp(self):
        super().setUp()
        self.home = tempfile.mkdtemp(prefix="missive-client-home-")
        self.addCleanup(shutil.rmtree, self.home, True)
        self.data_dir = os.path.join(self.home, "store")

    def missive(self, *args, user=ALICE, password=PASSWORD, data_dir=None, stdin=b"",
                timeout=60):
        common = ["--server", HOST, "--smtp-port", str(self.server.smtp_port),
                  "--pop3-port", str(self.server.pop3_port), "--user", user,
                  "--data-dir", data_dir or self.data_dir]
        return run_missive([*common, *args], stdin=stdin, password=password, home=self.home,
                           timeout=timeout)

    def store_rows(self, sql, data_dir=None):
        path = os.path.join(data_dir or self.data_dir, "missive-client.db")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def drain(self, user, password=PASSWORD):
        """Empties `user`'s server mailbox through the client (fetch --delete)."""
        d = os.path.join(self.home, "drain-" + user)
        r = self.missive("fetch", "--delete", user=user, password=password, data_dir=d)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_round_trip_send_fetch_inbox_read_delete(self):
        self.drain(ALICE)
        r = self.missive("send", "--from", BOB, "--to", ALICE, "--subject", "Grüße aus Köln",
                         stdin="Hallo Alice,\nschöne Grüße!\n".encode())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"^queued as [A-Z0-9]+\n$")
        wait_for_mailbox_count(self.server, ALICE, 1)

        r = self.missive("fetch")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "1 new message\n")
        r = self.missive("fetch")
        self.assertEqual(r.stdout.decode(), "0 new messages\n")
        # Left on the server.
        self.assertEqual(mailbox_count(self.server, ALICE), 1)

        r = self.missive("inbox", "--offline")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().splitlines()
        self.assertEqual(len(lines), 2, r.stdout)
        self.assertIn("Grüße aus Köln", lines[1])
        self.assertIn(BOB, lines[1])
        self.assertTrue(lines[1].rstrip().endswith("new"), lines[1])
        msg_id = lines[1].split()[0]

        r = self.missive("read", msg_id)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn(f"From:    {BOB}\n", out)
        self.assertIn(f"To:      {ALICE}\n", out)
        self.assertIn("Subject: Grüße aus Köln\n", out)
        self.assertIn("Hallo Alice,\nschöne Grüße!\n", out)
        r = self.missive("inbox", "--offline")
        self.assertTrue(r.stdout.decode().splitlines()[1].rstrip().endswith("seen"))

        r = self.missive("read", msg_id, "--raw")
        [(raw,)] = self.store_rows(f"SELECT raw FROM messages WHERE id = {int(msg_id)}")
        self.assertEqual(r.stdout, raw)
        self.assertIn(b"Subject: =?UTF-8?B?", r.stdout)

        r = self.missive("delete", msg_id)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.missive("inbox", "--offline")
        self.assertEqual(len(r.stdout.decode().splitlines()), 1, r.stdout)
        self.assertEqual(mailbox_count(self.server, ALICE), 1)  # not yet on the server
        r = self.missive("read", msg_id)
        self.assertEqual(r.returncode, 65)
        r = self.missive("fetch")  # the next poll deletes it there, and does not fetch it again
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "0 new messages\n")
        self.assertEqual(mailbox_count(self.server, ALICE), 0)
        self.assertEqual(self.store_rows("SELECT count(*) FROM pending_deletions"), [(0,)])

    def test_fetch_killed_midway_then_run_again(self):
        self.drain(BOB)
        # Big enough that the download takes far longer than noticing the first stored row.
        count, size = 40, 1024 * 1024
        import smtplib
        with smtplib.SMTP(HOST, self.server.smtp_port, timeout=30) as smtp:
            for i in range(count):
                line = f"message {i:02d} " + "z" * 60 + "\r\n"
                body = line * (size // len(line))
                msg = (f"From: {ALICE}\r\nTo: {BOB}\r\nSubject: big {i:02d}\r\n"
                       f"Message-ID: <big{i}@example.test>\r\n\r\n{body}")
                smtp.sendmail(ALICE, [BOB], msg.encode())
        wait_for_mailbox_count(self.server, BOB, count, timeout=30)

        env = dict(os.environ, MISSIVE_PASSWORD=PASSWORD, HOME=self.home)
        cmd = [missive_path(), "--server", HOST, "--pop3-port", str(self.server.pop3_port),
               "--user", BOB, "--data-dir", self.data_dir, "fetch"]
        db = os.path.join(self.data_dir, "missive-client.db")

        def stored():
            try:
                return self.store_rows("SELECT count(*) FROM messages")[0][0]
            except sqlite3.Error:
                return 0
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_until(lambda: os.path.exists(db) and stored() >= 1, timeout=30, interval=0.01,
                       what="the first message stored")
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.communicate(timeout=10)
        first = stored()
        self.assertLess(first, count, "the fetch finished before it could be killed")
        # The server lock of the killed session is released when the connection drops.
        def fetch_again():
            r = subprocess.run(cmd, env=env, capture_output=True, timeout=60)
            return r if r.returncode == 0 else None
        r = wait_until(fetch_again, timeout=20, what="a second fetch succeeding")
        new = count - first
        self.assertEqual(r.stdout.decode(), f"{new} new message{'' if new == 1 else 's'}\n")
        rows = self.store_rows("SELECT uid, subject, raw FROM messages")
        self.assertEqual(len(rows), count)
        self.assertEqual(len({uid for uid, _, _ in rows}), count)
        self.assertEqual(sorted(s for _, s, _ in rows), [f"big {i:02d}" for i in range(count)])
        for _, subject, raw in rows:
            self.assertGreater(len(raw), size - 100)
            self.assertIn(f"message {subject[4:]} ".encode(), raw)
        self.assertEqual(mailbox_count(self.server, BOB), count)

    def test_fetch_shows_progress_on_a_terminal_and_is_quiet_in_a_pipe(self):
        carol = "carol@example.test"
        self.server.add_user(carol)
        count = 12
        for i in range(count):
            smtp_send(self.server, ALICE, [carol], make_message(f"n{i}", [f"body {i}"]))
        wait_for_mailbox_count(self.server, carol, count)
        r = self.missive("fetch", user=carol, data_dir=os.path.join(self.home, "piped"))
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, f"{count} new messages\n".encode(), b""))

        env = dict(os.environ, MISSIVE_PASSWORD=PASSWORD, HOME=self.home)
        status, out, shown = run_with_terminal_stderr(
            [missive_path(), "--server", HOST, "--pop3-port", str(self.server.pop3_port),
             "--user", carol, "--data-dir", os.path.join(self.home, "on-a-terminal"), "fetch"],
            env=env)
        self.assertEqual((status, out), (0, f"{count} new messages\n".encode()), shown)
        text = shown.decode()
        self.assertTrue(text.startswith(f"\r\x1b[Kfetching: 0/{count}"), text)
        self.assertIn(f"\r\x1b[Kfetching: {count}/{count}", text)
        self.assertTrue(text.endswith("\r\x1b[K"), "the line is cleared before the count")
        # Nothing new: no progress line at all.
        status, out, shown = run_with_terminal_stderr(
            [missive_path(), "--server", HOST, "--pop3-port", str(self.server.pop3_port),
             "--user", carol, "--data-dir", os.path.join(self.home, "on-a-terminal"), "fetch"],
            env=env)
        self.assertEqual((status, out, shown), (0, b"0 new messages\n", b""))

    def test_server_down_exits_75_with_one_sentence(self):
        port = self.refused_port()
        r = run_missive(["--server", HOST, "--pop3-port", str(port), "--user", ALICE,
                         "--data-dir", self.data_dir, "fetch"], password=PASSWORD, home=self.home)
        self.assertEqual(r.returncode, 75)
        err = r.stderr.decode()
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("cannot reach the mail server", err)
        # inbox: a one-line warning, then the local store.
        r = run_missive(["--server", HOST, "--pop3-port", str(port), "--user", ALICE,
                         "--data-dir", self.data_dir, "inbox"], password=PASSWORD, home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stderr.decode().strip().splitlines()), 1, r.stderr)
        self.assertTrue(r.stdout.decode().startswith("   ID  DATE"))

    def test_wrong_password_exits_77(self):
        r = self.missive("fetch", password="not the password")
        self.assertEqual(r.returncode, 77, r.stderr)
        err = r.stderr.decode()
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("refused the user name or password", err)

    def test_sendmail_t_with_bcc(self):
        self.drain(ALICE)
        self.drain(BOB)
        message = (f"From: carol@example.test\nTo: {ALICE}\nBcc: {BOB}\n"
                   "Subject: secret copy\n\nhello\n").encode()
        r = self.missive("sendmail", "-t", "-i", stdin=message)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for_mailbox_count(self.server, ALICE, 1)
        wait_for_mailbox_count(self.server, BOB, 1)
        for user in (ALICE, BOB):
            d = os.path.join(self.home, "store-" + user)
            r = self.missive("fetch", user=user, data_dir=d)
            self.assertEqual(r.stdout.decode(), "1 new message\n", r.stderr)
            [(raw,)] = self.store_rows("SELECT raw FROM messages", data_dir=d)
            self.assertIn(b"Subject: secret copy", raw)
            self.assertNotIn(b"Bcc", raw)
            # bob's address shows only in his own copy's trace: Received: for <bob>, Delivered-To
            head = raw.split(b"\r\n\r\n")[0].replace(b"for <" + BOB.encode(), b"")
            self.assertNotIn(BOB.encode(), head.replace(b"Delivered-To: " + BOB.encode(), b""))

    def test_watch_prints_new_messages_and_stops_on_sigterm(self):
        self.drain(ALICE)
        env = dict(os.environ, MISSIVE_PASSWORD=PASSWORD, HOME=self.home)
        proc = subprocess.Popen(
            [missive_path(), "--server", HOST, "--pop3-port", str(self.server.pop3_port),
             "--user", ALICE, "--data-dir", self.data_dir, "watch", "--every", "1s"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            r = self.missive("send", "--from", BOB, "--to", ALICE, "--subject", "watch me",
                             stdin=b"x\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            line = readline_within(proc.stdout, 15)
            self.assertRegex(line, r"^new \d+: bob@example\.test — watch me\n$")
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=10)
            self.assertEqual(proc.returncode, 0, err)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)

    def test_watch_backs_off_while_the_server_is_away_and_stops_on_sigint(self):
        env = dict(os.environ, MISSIVE_PASSWORD=PASSWORD, HOME=self.home)
        proc = subprocess.Popen(
            [missive_path(), "--server", HOST, "--pop3-port", str(self.refused_port()),
             "--user", ALICE, "--data-dir", self.data_dir, "watch", "--every", "1s"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first = readline_within(proc.stderr, 10)
            second = readline_within(proc.stderr, 10)
            self.assertIn("retrying in 1s", first)
            self.assertIn("retrying in 2s", second)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=10)
            self.assertEqual(proc.returncode, 0, err)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)


if __name__ == "__main__":
    unittest.main()
