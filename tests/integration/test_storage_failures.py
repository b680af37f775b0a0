"""Storage that fails: the relay answers 451 4.3.0, never 250, and recovers on its own; a
database from a newer Missive is refused at start with a clear message.

Issue 6 adds:
- Another process holds `BEGIN EXCLUSIVE` on missive.db for 12 s (MISSIVE_SOAK=1: 30 s):
  every message sent meanwhile gets 451 within the busy timeout (5 s) plus a second of the
  end of its data; mail queued just before the lock (local, and remote deferred by the next
  hop) is not bounced; once released, everything is delivered and new mail gets 250.
- A delivery the next hop accepted just as the lock was taken cannot be recorded for a
  while: the relay records it after the release, and does not send the message twice.
- A read-only data directory (a tmpfs remounted read-only) and a data directory whose parent
  does not exist stop `missived serve` at once with exit status 73 (EX_CANTCREAT) and a
  sentence naming the directory, and nothing on stdout (no listener).
"""

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from missive_harness import (DOMAIN, HOSTNAME, FakeSmtpServer, HarnessError, MissiveServer,
                             MissiveTestCase, make_message, missived_path, queue_id_of,
                             relay_config, wait_for_mailbox_count, wait_until)

ALICE = f"alice@{DOMAIN}"
SOAK = os.environ.get("MISSIVE_SOAK") == "1"
LOCK_SECONDS = 30 if SOAK else 12
BUSY_TIMEOUT = 5.0   # the relay's SQLite busy timeout (common/db.hpp)


class LockedDatabaseTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server()
        cls.user = f"locked@{DOMAIN}"
        cls.server.add_user(cls.user)

    def test_locked_database_gives_451_then_recovers(self):
        # Another process holds the write lock longer than the relay's busy timeout (5 s).
        holder = sqlite3.connect(self.server.db_path, timeout=5, isolation_level=None,
                                 check_same_thread=False)
        holder.execute("BEGIN EXCLUSIVE")
        released = threading.Timer(8.0, holder.rollback)
        released.start()
        try:
            with self.server.smtp(timeout=30) as c:
                r = c.send_mail(ALICE, [self.user], make_message("while locked", ["x"], to=self.user))
                self.assertReply(r, 451, "4.3.0")
                released.join()
                # Same session, lock gone: the next message is stored.
                r = c.send_mail(ALICE, [self.user], make_message("after", ["y"], to=self.user),
                                ehlo=False)
                self.assertReply(r, 250, "2.0.0")
        finally:
            released.cancel()
            holder.close()
        wait_for_mailbox_count(self.server, self.user, 1)
        self.assertEqual(self.server.scalar("SELECT count(*) FROM message"), 1)


class NewerSchemaTest(MissiveTestCase):

    def test_newer_database_is_refused(self):
        server = MissiveServer()
        self.addCleanup(server.cleanup)
        server.add_user(ALICE)  # creates the database at the current version
        db = sqlite3.connect(server.db_path)
        db.execute("PRAGMA user_version = 999")
        db.commit()
        db.close()
        r = subprocess.run(server.command(), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("schema version 999", r.stderr)
        self.assertIn("newer", r.stderr)
        self.assertEqual(r.stdout, "", "nothing may listen on a database it cannot read")


# A separate process that takes the write lock, says so, holds it, and lets go.
LOCK_HOLDER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.rollback()
db.close()
print("released", flush=True)
"""


class LongLockTest(MissiveTestCase):

    def test_database_locked_by_another_process_for_long(self):
        bob, far = f"bob@{DOMAIN}", "carol@far.test"
        locked = threading.Event()
        # The next hop defers the remote message until the lock is held, so that its next
        # attempt falls inside the lock.
        fake, server = self.relay_behind(
            lambda n: None if locked.is_set() else "451 4.3.0 try again later")
        server.add_user(bob)

        with server.smtp(timeout=30) as c:
            remote_qid = queue_id_of(c.send_mail(
                ALICE, [far], make_message("queued before the lock, remote", ["r"], to=far)))
            fake.wait_transactions(1)
            local_msg = make_message("queued before the lock, local", ["l"], to=bob)
            local_qid = queue_id_of(c.send_mail(ALICE, [bob], local_msg, ehlo=False))

            holder = self.take_lock(server, LOCK_SECONDS)
            lock_end = time.monotonic() + LOCK_SECONDS
            locked.set()

            refused = []
            for i in range(LOCK_SECONDS):   # bounded; each try takes about the busy timeout
                if lock_end - time.monotonic() < BUSY_TIMEOUT + 1.5:
                    break                   # the next answer could come after the release
                subject = f"while locked {i}"
                self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
                self.assertReply(c.cmd(f"RCPT TO:<{bob}>"), 250, "2.1.5")
                self.assertReply(c.cmd("DATA"), 354)
                started = time.monotonic()
                r = c.data_bytes(make_message(subject, [f"refused {i}"], to=bob))
                elapsed = time.monotonic() - started
                refused.append((subject, r, elapsed, lock_end - time.monotonic()))
            self.assertGreaterEqual(len(refused), 2, refused)

            self.assertEqual(holder.wait(LOCK_SECONDS + 15), 0, holder.stderr.read())
            self.assertEqual(holder.stdout.readline().strip(), "released")
            # Lock gone: the same session is accepted again at once.
            after = make_message("after the lock", ["accepted"], to=bob)
            after_qid = queue_id_of(c.send_mail(ALICE, [bob], after, ehlo=False))
            c.cmd("QUIT")

        # Everything queued is delivered: nothing bounced, nothing lost. (A message of the
        # lock that got 250 because its answer came after the release is mail too; that it
        # was not a 451 in time is reported below.)
        late = [queue_id_of(r) for _, r, _, _ in refused if r.code == 250]
        wait_for_mailbox_count(server, bob, 2 + len(late), timeout=15)
        self.assertEqual([q for q, _ in self.mailbox(server, bob)], [local_qid, *late, after_qid])
        wait_until(lambda: self.state(server, remote_qid, far) == "delivered", timeout=15,
                   what="the remote message delivered after the lock")
        accepted = [t for t in fake.transactions if t.outcome.startswith("250")]
        self.assertGreaterEqual(len(accepted), 1, fake.transactions)
        self.assertTrue(all(t.mail_from == ALICE and t.rcpts == [far] for t in fake.transactions),
                        fake.transactions)
        self.assertEqual(server.scalar(
            "SELECT count(*) FROM event WHERE kind IN ('bounced', 'failed')"), 0,
            server.query("SELECT * FROM event"))
        self.assertEqual(server.scalar("SELECT count(*) FROM message WHERE sender = ''"), 0)
        self.assertEqual(self.mailbox(server, ALICE), [])
        # Each message sent during the lock: 451 4.3.x within the busy timeout plus a second
        # of the end of its data, and nothing of it stored. (Checked last, so that a slow
        # answer does not hide whether the queued mail survived.)
        answers = [f"{subject}: {r} after {elapsed:.2f}s, {left:.2f}s before the lock ended"
                   for subject, r, elapsed, left in refused]
        for (subject, r, elapsed, _), what in zip(refused, answers):
            self.assertLessEqual(elapsed, BUSY_TIMEOUT + 1.0, "\n".join(answers))
            self.assertEqual(r.code, 451, what)
            self.assertRegex(r.enhanced or "", r"^4\.3\.\d{1,3}$", what)
            self.assertEqual(server.scalar("SELECT count(*) FROM message WHERE instr(body, ?) > 0",
                                           (f"Subject: {subject}\r\n".encode(),)), 0, subject)
        self.assertEqual(server.scalar("SELECT count(*) FROM message"), 3 + len(late))
        self.assertEqual(server.stop(), 0)

    def test_attempt_answered_under_the_lock_is_recorded_after_it(self):
        # The next hop takes the message, but its 250 comes once another process holds the
        # write lock, longer than the busy timeout: the relay cannot record the delivery. It
        # must keep trying and record it after the release (not leave the recipient claimed
        # until a restart), and must not send the message again meanwhile.
        far = "dave@far.test"
        reached, locked = threading.Event(), threading.Event()

        def data_reply(n):
            reached.set()
            locked.wait(10)   # bounded
            return None       # 250

        fake, server = self.relay_behind(data_reply)
        with server.smtp(timeout=30) as c:
            qid = queue_id_of(c.send_mail(
                ALICE, [far], make_message("answered under the lock", ["d"], to=far)))
        self.assertTrue(reached.wait(10), "the relay never sent the message on")
        seconds = BUSY_TIMEOUT + 3
        holder = self.take_lock(server, seconds)
        locked.set()
        self.assertEqual(holder.wait(seconds + 15), 0, holder.stderr.read())
        wait_until(lambda: self.state(server, qid, far) == "delivered", timeout=15,
                   what="the delivery recorded after the lock")
        self.assertIn("event=record_failed", server.read_log())
        self.assertEqual(len(fake.transactions), 1, fake.transactions)  # sent once only
        self.assertEqual(server.scalar(
            "SELECT count(*) FROM recipient WHERE in_flight = 1"), 0)
        self.assertEqual(server.stop(), 0)

    def relay_behind(self, data_reply):
        """A relay whose mail for far.test goes to a fake next hop answering DATA with
        data_reply, retried every second or two; ALICE is a user."""
        fake = FakeSmtpServer(data_reply=data_reply)
        self.addCleanup(fake.stop)
        config = relay_config(DOMAIN, HOSTNAME, routes=[("far.test", fake.port)],
                              queue={"retry_initial": "1s", "retry_max": "2s",
                                     "max_lifetime": "1h"})
        server = self.start_test_server(config=config)
        server.add_user(ALICE)
        return fake, server

    def take_lock(self, server, seconds):
        """Another process takes the write lock for `seconds`; returns it once it holds it."""
        holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, server.db_path,
                                   str(seconds)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.addCleanup(self.end_holder, holder)
        line = holder.stdout.readline()   # bounded: the holder's own timeout is 10 s
        self.assertEqual(line.strip(), "locked", holder.stderr.read() if not line else line)
        return holder

    @staticmethod
    def end_holder(holder):
        if holder.poll() is None:
            holder.kill()
        holder.wait(5)
        holder.stdout.close()
        holder.stderr.close()

    @staticmethod
    def mailbox(server, user):
        return server.query("SELECT m.queue_id, m.sender FROM mailbox_entry me JOIN user u "
                            "ON u.id = me.user_id JOIN message m ON m.id = me.message_id "
                            "WHERE u.address = ? ORDER BY me.id", (user,))

    @staticmethod
    def state(server, qid, address):
        return server.scalar("SELECT r.state FROM recipient r JOIN message m "
                             "ON m.id = r.message_id WHERE m.queue_id = ? AND r.address = ?",
                             (qid, address))


class UnusableDataDirectoryTest(MissiveTestCase):

    def serve(self, data_dir):
        """Run `missived serve` on data_dir to its end (bounded); (CompletedProcess, seconds).
        (Not through MissiveServer, which creates its data directory.)"""
        cmd = [missived_path(), "serve", "--data-dir", data_dir, "--smtp", "127.0.0.1:0",
               "--pop3", "127.0.0.1:0", "--domain", DOMAIN, "--hostname", HOSTNAME]
        started = time.monotonic()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=15,
                               stdin=subprocess.DEVNULL, cwd=tempfile.gettempdir())
        except subprocess.TimeoutExpired as e:
            self.fail(f"missived did not stop within 15 s on {data_dir}: it runs on a data "
                      f"directory it cannot use (stdout {e.stdout!r}, stderr {e.stderr!r})")
        return r, time.monotonic() - started

    def test_read_only_data_directory_stops_the_start(self):
        mount_point = tempfile.mkdtemp(prefix="missive-ro-")
        self.addCleanup(os.rmdir, mount_point)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs",
                            mount_point], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise HarnessError(f"cannot mount a tmpfs on {mount_point} (needs root): "
                               f"{r.stderr.strip()}")
        self.addCleanup(subprocess.run, ["umount", mount_point], capture_output=True, timeout=30)
        data_dir = os.path.join(mount_point, "data")
        setup = MissiveServer(data_dir=data_dir)
        self.addCleanup(shutil.rmtree, setup.work_dir, ignore_errors=True)
        setup.add_user(ALICE)   # creates the database while the directory is writable
        self.assertTrue(os.path.isfile(setup.db_path))
        r = subprocess.run(["mount", "-o", "remount,ro", mount_point], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, f"remount,ro failed: {r.stderr}")

        r, seconds = self.serve(data_dir)
        self.assertEqual(r.returncode, 73, r.stderr)
        self.assertIn(f"data directory {data_dir} is not writable", r.stderr)
        self.assertRegex(r.stderr, r"(?m)^missived: data directory \S+ is not writable: \S")
        self.assertEqual(r.stdout, "", "nothing may listen on a data directory it cannot write")
        self.assertLess(seconds, 5.0, "the refusal took too long")

    def test_data_directory_whose_parent_is_missing_stops_the_start(self):
        base = tempfile.mkdtemp(prefix="missive-nodir-")
        self.addCleanup(shutil.rmtree, base, ignore_errors=True)
        data_dir = os.path.join(base, "missing", "data")
        r, seconds = self.serve(data_dir)
        self.assertEqual(r.returncode, 73, r.stderr)
        self.assertIn(f"cannot create data directory {data_dir}", r.stderr)
        self.assertRegex(r.stderr, r"(?m)^missived: cannot create data directory \S+: \S")
        self.assertEqual(r.stdout, "", "nothing may listen without a data directory")
        self.assertFalse(os.path.exists(os.path.join(base, "missing")))
        self.assertLess(seconds, 5.0, "the refusal took too long")


if __name__ == "__main__":
    unittest.main()
