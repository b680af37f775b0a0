"""The outbox of `missive` (issue 19): a message the relay cannot take now is kept in the
client's local store and sent later, as /usr/sbin/sendmail does.

Against a real missived on a fixed loopback port (stopped, then started): a cron-style
`sendmail -t` with the relay stopped exits 0 and keeps the message; `flush` delivers it
exactly once, byte for byte behind the relay's trace headers; a second flush sends nothing;
`watch` and `flush` at the same moment deliver each queued message once (claims). Against
the harness's FakeSmtpServer: 451 at RCPT queues (RSET, no DATA) and a later flush sends the
same bytes; 550 does not queue (67). Against missived's submission port: a wrong password
does not queue (77). `--no-queue` with the relay down exits 75 and keeps nothing."""

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import unittest

from missive_harness import (DOMAIN, HOST, PASSWORD, FakeSmtpServer, MissiveTestCase,
                             RelayServer, fetch_all, mailbox_count, unique_users, wait_until)
from test_client_send import missive_path, run_missive


def process_start_time(pid):
    """Field 22 of /proc/PID/stat (proc(5)): when the process started, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    return int(stat[stat.rindex(")") + 2:].split()[19])


def cron_message(sender, to, subject, body_lines):
    """A message with From, Date and Message-ID, so that sendmail adds nothing to it."""
    head = (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: Sun, 06 Dec 2026 09:00:00 +0000\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}.{os.getpid()}@cron.example.test>\r\n")
    return (head + "\r\n" + "".join(line + "\r\n" for line in body_lines)).encode()


class ClientStore:
    """A private HOME and local store for one test, and `missive` run against them."""

    def __init__(self, test):
        self.home = tempfile.mkdtemp(prefix="missive-outbox-home-")
        test.addCleanup(shutil.rmtree, self.home, True)
        self.data_dir = os.path.join(self.home, "store")

    def args(self, smtp_port, pop3_port=None, user=None):
        out = ["--server", HOST, "--smtp-port", str(smtp_port), "--data-dir", self.data_dir]
        if pop3_port is not None:
            out += ["--pop3-port", str(pop3_port)]
        if user is not None:
            out += ["--user", user]
        return out

    def run(self, smtp_port, *args, stdin=b"", user=None, password=None, pop3_port=None):
        return run_missive([*self.args(smtp_port, pop3_port, user), *args], stdin=stdin,
                           password=password, home=self.home)

    def rows(self, sql):
        path = os.path.join(self.data_dir, "missive-client.db")
        if not os.path.exists(path):
            return []
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def outbox_json(self, smtp_port):
        r = self.run(smtp_port, "outbox", "--json")
        if r.returncode != 0:
            raise AssertionError(r.stderr)
        return json.loads(r.stdout)["outbox"]


class OutboxRelayTest(MissiveTestCase):
    """missived on a port held for it, started and stopped by the tests."""

    def setUp(self):
        super().setUp()
        self.port = self.reserved_port()  # refused until the relay listens on it
        self.relay = RelayServer(DOMAIN, smtp_port=self.port)
        self.addCleanup(self.relay.cleanup)
        self.addCleanup(lambda: self.relay.running() and self.relay.stop())
        self.client = ClientStore(self)

    def users(self, prefix, count):
        started = self.relay.running()
        if not started:
            self.relay.start()
        users = unique_users(self.relay, prefix, count)
        if not started:
            self.relay.stop()
        return users

    def test_cron_sendmail_with_the_relay_stopped_is_kept_and_flushed_exactly_once(self):
        sender, rcpt = self.users("cron.", 2)
        message = cron_message(sender, rcpt, "nightly backup",
                               ["backup done: 42 files", ".a line with a dot", "", "end"])
        r = self.client.run(self.port, "sendmail", "-t", "-oi", "-f", sender, stdin=message)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"")
        self.assertEqual(r.stderr.decode(),
                         "missive: relay unavailable; queued in the outbox as 1\n")
        [entry] = self.client.outbox_json(self.port)
        self.assertEqual((entry["id"], entry["sender"], entry["recipients"], entry["attempts"],
                          entry["state"]), (1, sender, [rcpt], 1, "queued"))
        self.assertIn("cannot reach the mail server", entry["last_error"])
        [(content,)] = self.client.rows("SELECT content FROM outbox")
        self.assertEqual(content, message)

        self.relay.start()
        r = self.client.run(self.port, "flush")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"^sent outbox message 1 \(queued as [A-Z0-9]+\)\n$")
        self.assertEqual(self.client.outbox_json(self.port), [])
        # Local delivery commits with the message: it is in the mailbox once the relay said 250.
        [stored] = fetch_all(self.relay, rcpt)
        self.assertStoredEndsWith(stored, message)

        r = self.client.run(self.port, "flush")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"", b""))
        self.assertEqual(mailbox_count(self.relay, rcpt), 1)

    def test_no_queue_with_the_relay_down_exits_75_and_keeps_nothing(self):
        for command in ("send", "sendmail"):
            with self.subTest(command=command):
                if command == "send":
                    r = self.client.run(self.port, "send", "--no-queue", "--from",
                                        f"a@{DOMAIN}", "--to", f"b@{DOMAIN}", stdin=b"x\n")
                else:
                    r = self.client.run(self.port, "sendmail", "--no-queue", "-i", f"b@{DOMAIN}",
                                        stdin=b"Subject: x\n\nx\n")
                self.assertEqual(r.returncode, 75, r.stderr)
                [line] = r.stderr.decode().splitlines()
                self.assertTrue(line.startswith("missive: cannot reach the mail server"), line)
                self.assertEqual(self.client.rows("SELECT count(*) FROM outbox"), [])

    def test_watch_and_flush_at_the_same_moment_send_each_message_once(self):
        reader, *rcpts = self.users("race.", 9)
        for i, rcpt in enumerate(rcpts):
            r = self.client.run(self.port, "sendmail", "-i", "-f", reader,
                                rcpt, stdin=cron_message(reader, rcpt, f"race {i}", ["x"]))
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([e["id"] for e in self.client.outbox_json(self.port)],
                         list(range(1, len(rcpts) + 1)))
        self.relay.start()
        env = {k: v for k, v in os.environ.items() if k != "MISSIVE_PASSWORD"}
        env.update(HOME=self.client.home, MISSIVE_PASSWORD=PASSWORD)
        common = [missive_path(), *self.client.args(self.port, self.relay.pop3_port, reader)]
        watch = subprocess.Popen([*common, "watch", "--every", "1s"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=env)
        self.addCleanup(lambda: watch.poll() is None and watch.kill())
        flush = subprocess.run([*common, "flush"], capture_output=True, env=env, timeout=60)
        self.assertIn(flush.returncode, (0, 75), flush.stderr)
        wait_until(lambda: self.client.rows("SELECT count(*) FROM outbox") == [(0,)],
                   timeout=30, what="an empty outbox")
        watch.send_signal(signal.SIGTERM)
        out, err = watch.communicate(timeout=30)
        self.assertEqual(watch.returncode, 0, err)

        def sent_ids(text):
            return [int(line.split()[3]) for line in text.decode().splitlines()
                    if line.startswith("sent outbox message ")]
        by_flush, by_watch = sent_ids(flush.stdout), sent_ids(out)
        self.assertEqual(sorted(by_flush + by_watch), list(range(1, len(rcpts) + 1)),
                         (flush.stdout, out))
        for rcpt in rcpts:
            self.assertEqual(mailbox_count(self.relay, rcpt), 1, rcpt)


class OutboxRefusalsTest(MissiveTestCase):
    """Which failures queue: 4xx at RCPT does; 5xx and bad credentials do not."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = cls.start_server(config='[smtp]\nsubmission = ["127.0.0.1:0"]\n')

    def setUp(self):
        super().setUp()
        self.client = ClientStore(self)

    def fake(self, **kwargs):
        server = FakeSmtpServer(**kwargs)
        self.addCleanup(server.stop)
        return server

    def verbs(self, server):
        return [line.split(" ", 1)[0].upper() for _, line in server.commands]

    def test_451_at_rcpt_queues_and_flush_sends_the_same_bytes_later(self):
        later = "later@example.test"
        server = self.fake(rcpt_reply=lambda address, n: (
            "451 4.3.0 mailbox busy, try later" if address == later and n == 0 else None))
        r = self.client.run(server.port, "send", "--from", "a@example.test", "--to",
                            "b@example.test", "--to", later, "--subject", "busy",
                            stdin=b"see you\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"")
        self.assertEqual(r.stderr.decode().splitlines(), [
            f"missive: recipient refused: {later}: 451 4.3.0 mailbox busy, try later",
            "missive: relay unavailable; queued in the outbox as 1"])
        self.assertEqual(server.transactions, [])
        self.assertEqual(self.verbs(server), ["EHLO", "MAIL", "RCPT", "RCPT", "RSET", "QUIT"])
        [entry] = self.client.outbox_json(server.port)
        self.assertEqual(entry["recipients"], ["b@example.test", later])
        self.assertIn("cannot take 1 of 2 recipients", entry["last_error"])
        [(content,)] = self.client.rows("SELECT content FROM outbox")

        r = self.client.run(server.port, "flush")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "sent outbox message 1 (queued as FAKE1)\n")
        [transaction] = server.transactions
        self.assertEqual(transaction.rcpts, ["b@example.test", later])
        self.assertEqual(transaction.data, content)
        self.assertEqual(self.client.outbox_json(server.port), [])

    def scripted(self, replies, port=0):
        """An SMTP server answering each command by its verb from `replies` (a reply line),
        whose EHLO offers STARTTLS and AUTH PLAIN; returns it and the verbs it saw."""
        seen = []

        def serve(conn, index):
            f = conn.makefile("rb")
            conn.sendall(replies.get("greeting", "220 scripted ESMTP").encode() + b"\r\n")
            while True:
                line = f.readline(4096)
                if not line:
                    return True
                verb = line.split(b" ", 1)[0].strip().upper().decode()
                seen.append(verb)
                if verb == "EHLO":
                    reply = "250-scripted\r\n250-STARTTLS\r\n250 AUTH PLAIN"
                else:
                    reply = replies.get(verb, "221 2.0.0 Bye" if verb == "QUIT" else
                                        "250 2.0.0 Ok")
                conn.sendall(reply.encode() + b"\r\n")
                if verb == "QUIT" or reply.startswith("421"):
                    return True

        return self.fake(port=port, on_connect=serve), seen

    def test_4xx_during_tls_or_auth_set_up_queues(self):
        config = os.path.join(self.client.home, "required.toml")
        with open(config, "w") as f:
            f.write('tls = "required"\n')
        cases = [
            ("greeting 421", {"greeting": "421 4.3.2 too busy, come back later"}, []),
            ("STARTTLS 454", {"STARTTLS": "454 4.7.0 TLS not available now"},
             ["--config", config]),
            ("AUTH 454", {"AUTH": "454 4.7.0 temporary authentication failure"},
             ["--user", "a@example.test"]),
        ]
        for n, (what, replies, extra) in enumerate(cases, start=1):
            with self.subTest(what=what):
                server, seen = self.scripted(replies)
                r = self.client.run(server.port, *extra, "send", "--from", "a@example.test",
                                    "--to", "b@example.test", stdin=b"x\n", password="pw")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stderr.decode().splitlines()[-1],
                                 f"missive: relay unavailable; queued in the outbox as {n}")
                self.assertNotIn("MAIL", seen)
                self.client.run(server.port, "outbox", "delete", str(n))

    def test_flush_stops_at_a_failure_every_message_would_meet(self):
        port = self.reserved_port()
        for n in range(3):
            r = self.client.run(port, "send", "--from", "a@example.test", "--to",
                                "b@example.test", stdin=b"x\n")
            self.assertEqual(r.returncode, 0, r.stderr)
        server, seen = self.scripted({"greeting": "421 4.3.2 busy"}, port=port)
        r = self.client.run(port, "flush")
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertEqual(r.stderr.decode(),
                         "missive: 3 messages are still in the outbox: the mail server at "
                         f"127.0.0.1[127.0.0.1]:{port} refused the connection: 421 4.3.2 busy\n")
        self.assertEqual(server.connections, 1)
        # The first message was also tried by the two later sends (each flushes first, and
        # stops at it); the others were never tried again.
        self.assertEqual([e["attempts"] for e in self.client.outbox_json(port)], [4, 1, 1])

    def test_a_message_refused_for_good_at_flush_stays_refused_until_deleted(self):
        port = self.reserved_port()
        r = self.client.run(port, "send", "--from", "a@example.test", "--to",
                            "gone@example.test", stdin=b"x\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        server = self.fake(port=port, rcpt_reply=lambda address, n: "550 5.1.1 no such user")
        r = self.client.run(port, "flush")
        self.assertEqual(r.returncode, 67, r.stderr)
        self.assertEqual(r.stderr.decode().splitlines(), [
            "missive: outbox message 1: recipient refused: gone@example.test: "
            "550 5.1.1 no such user",
            "missive: outbox message 1: nothing was sent: the mail server refused 1 of 1 "
            "recipients; it stays in the outbox until `missive outbox delete 1`"])
        [entry] = self.client.outbox_json(port)
        self.assertEqual((entry["state"], entry["attempts"]), ("refused", 2))
        # Never tried again by itself: nothing waits, so the next flush has nothing to do.
        r = self.client.run(port, "flush")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"", b""))
        self.assertEqual(server.connections, 1)
        r = self.client.run(port, "outbox", "delete", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.client.outbox_json(port), [])

    def test_send_first_flushes_what_waits(self):
        port = self.reserved_port()  # refused until the fake server listens there
        r = self.client.run(port, "send", "--from", "a@example.test", "--to", "b@example.test",
                            "--subject", "older", stdin=b"first\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, b"missive: relay unavailable; queued in the outbox as 1\n")
        server = self.fake(port=port)
        r = self.client.run(port, "send", "--from", "a@example.test", "--to", "c@example.test",
                            "--subject", "newer", stdin=b"second\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, b"missive: sent outbox message 1 (queued as FAKE1)\n")
        self.assertEqual(r.stdout, b"queued as FAKE2\n")
        older, newer = server.transactions
        self.assertEqual((older.rcpts, newer.rcpts), (["b@example.test"], ["c@example.test"]))
        self.assertIn(b"\r\nSubject: older\r\n", older.data)
        self.assertEqual(self.client.outbox_json(port), [])

    def test_a_claim_holds_while_its_process_lives_and_not_after(self):
        port = self.reserved_port()
        r = self.client.run(port, "send", "--from", "a@example.test", "--to", "b@example.test",
                            stdin=b"x\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        server = self.fake(port=port)

        def claim(pid, start):
            conn = sqlite3.connect(os.path.join(self.client.data_dir, "missive-client.db"))
            with conn:
                conn.execute("UPDATE outbox SET claim_host = ?, claim_pid = ?, claim_start = ?, "
                             "claimed_at = strftime('%s', 'now')",
                             (socket.gethostname(), pid, start))
            conn.close()

        # Claimed by this test's process, which lives: nobody else sends the message.
        claim(os.getpid(), process_start_time(os.getpid()))
        [entry] = self.client.outbox_json(port)
        self.assertTrue(entry["being_sent"])
        r = self.client.run(port, "flush")
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertEqual(r.stdout, b"")
        self.assertEqual(r.stderr, b"missive: 1 message is still in the outbox "
                                   b"(1 being sent by another missive)\n")
        self.assertEqual(server.transactions, [])

        # The same pid with another start time is a later process: the holder died.
        claim(os.getpid(), process_start_time(os.getpid()) + 1)
        self.assertFalse(self.client.outbox_json(port)[0]["being_sent"])
        r = self.client.run(port, "flush")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"sent outbox message 1 (queued as FAKE1)\n")
        self.assertEqual(len(server.transactions), 1)

    def test_550_at_rcpt_does_not_queue_and_exits_67(self):
        nobody = "nobody@example.test"
        server = self.fake(rcpt_reply=lambda address, n: (
            "550 5.1.1 no such user" if address == nobody else None))
        r = self.client.run(server.port, "send", "--from", "a@example.test", "--to",
                            "b@example.test", "--to", nobody, stdin=b"x\n")
        self.assertEqual(r.returncode, 67, r.stderr)
        self.assertEqual(r.stderr.decode().splitlines(), [
            f"missive: recipient refused: {nobody}: 550 5.1.1 no such user",
            "missive: nothing was sent: the mail server refused 1 of 2 recipients"])
        self.assertEqual(self.client.outbox_json(server.port), [])

    def test_wrong_password_does_not_queue_and_exits_77(self):
        [alice] = unique_users(self.server, "pw.", 1)
        port = self.server.port("submission")
        r = self.client.run(port, "send", "--from", alice, "--to", alice, stdin=b"x\n",
                            user=alice, password="wrong")
        self.assertEqual(r.returncode, 77, r.stderr)
        [line] = r.stderr.decode().splitlines()
        self.assertTrue(line.startswith(
            f"missive: the mail server refused the user name or password for {alice}: 535 "),
            line)
        self.assertEqual(self.client.outbox_json(port), [])

    def test_clients_started_at_once_on_a_new_store_all_work(self):
        # Each migrates the new store; the schema version is read again under the write
        # lock, so none applies a migration another has just applied.
        env = {k: v for k, v in os.environ.items() if k != "MISSIVE_PASSWORD"}
        env["HOME"] = self.client.home
        procs = [subprocess.Popen([missive_path(), "--data-dir", self.client.data_dir,
                                   "outbox", "--json"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env) for _ in range(6)]
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            self.assertEqual((proc.returncode, out, err), (0, b'{"outbox": []}\n', b""))

    def test_outbox_delete_drops_one_message(self):
        port = self.refused_port()
        for subject in ("one", "two"):
            r = self.client.run(port, "send", "--from", "a@example.test", "--to",
                                "b@example.test", "--subject", subject, stdin=b"x\n")
            self.assertEqual(r.returncode, 0, r.stderr)
        r = self.client.run(port, "outbox", "delete", "1")
        self.assertEqual((r.returncode, r.stdout), (0, b"deleted outbox message 1\n"), r.stderr)
        self.assertEqual([e["id"] for e in self.client.outbox_json(port)], [2])
        r = self.client.run(port, "outbox", "delete", "1")
        self.assertEqual(r.returncode, 65, r.stderr)
        r = self.client.run(port, "flush")
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertIn("1 message is still in the outbox", r.stderr.decode())


if __name__ == "__main__":
    unittest.main()
