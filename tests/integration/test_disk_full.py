"""Disk full (issue 6): the data directory on a small tmpfs (8 MiB), filled by a filler file.

- Below `[smtp] min_free_space` (default 2 x max_message_size; here max_message_size is
  1 MiB) MAIL gets `452 4.3.1`, never 250, and so does a MAIL whose SIZE= does not fit in
  the free space above that reserve; POP3 keeps serving stored mail; once the filler is gone
  MAIL is accepted again within seconds, without a restart, and the message is delivered.
- Filesystem filled to the last block between RCPT and DATA: the end of DATA gets
  `451 4.3.1` (the database cannot grow), not 250 and not a dropped connection; nothing of
  the message is stored; with space back, the next message on the same session gets 250.
- Mail queued before the disk filled (a local message for postmaster waiting for its
  mailbox, a remote one deferred by the next hop) is delivered while the disk is "full"
  (below the reserve, not at zero).

Needs root (mount -t tmpfs); a failed mount is a loud failure.
"""

import errno
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from missive_harness import (DOMAIN, HOSTNAME, FakeSmtpServer, HarnessError, MissiveTestCase,
                             fetch_all, mailbox_entries, make_message, pop3_session,
                             queue_id_of, relay_config, wait_for_mailbox_count, wait_until)

MAX_MESSAGE = 1048576
MIN_FREE = 2 * MAX_MESSAGE          # the relay's default reserve for this max_message_size
FS_SIZE = 8 * 1024 * 1024
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
POSTMASTER = f"postmaster@{DOMAIN}"
FAR = "carol@far.test"
FULL_TEXT = "insufficient system storage"


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class Tmpfs:
    """A tmpfs of `size` bytes mounted on a fresh directory; unmount() always in cleanup."""

    def __init__(self, size):
        self.path = tempfile.mkdtemp(prefix="missive-tmpfs-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                            self.path], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            os.rmdir(self.path)
            raise HarnessError(f"cannot mount a tmpfs on {self.path} (this test needs root and "
                               f"mount(8)): status {r.returncode}: {r.stderr.strip()}")
        self.filler = os.path.join(self.path, "filler")

    def unmount(self):
        r = subprocess.run(["umount", self.path], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:  # still busy (a process left behind?): detach it at least
            subprocess.run(["umount", "-l", self.path], capture_output=True, timeout=30)
        try:
            os.rmdir(self.path)
        except OSError:
            pass

    def free(self):
        return free_bytes(self.path)

    def fill_to(self, leave_free):
        """Grow the filler file until at most `leave_free` bytes are free (not below ~0)."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            chunk = b"\0" * 65536
            for _ in range(FS_SIZE // 4096 + 16):   # bounded: a page at a time at the end
                excess = self.free() - leave_free
                if excess <= 0:
                    break
                os.write(fd, chunk[:max(4096, min(len(chunk), excess))])
        finally:
            os.close(fd)
        free = self.free()
        if free > leave_free:
            raise HarnessError(f"could not fill {self.path} down to {leave_free} free bytes "
                               f"({free} free)")
        return free

    def fill_completely(self):
        """Grow the filler until the filesystem says ENOSPC; returns the bytes left (0)."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (65536, 4096, 512, 1):
                for _ in range(FS_SIZE // size + 16):
                    try:
                        os.write(fd, b"\0" * size)
                    except OSError as e:
                        if e.errno != errno.ENOSPC:
                            raise
                        break
                else:
                    raise HarnessError(f"{self.path} never got full")
        finally:
            os.close(fd)
        return self.free()

    def empty(self):
        os.unlink(self.filler)


def big_message(subject, octets):
    """A message of about `octets` octets (76-character lines)."""
    line = "x" * 74
    return make_message(subject, [f"{i:06d}{line}" for i in range(octets // 82)])


class DiskFullTest(MissiveTestCase):

    def setUp(self):
        super().setUp()
        self.fs = Tmpfs(FS_SIZE)
        self.addCleanup(self.fs.unmount)   # runs after the server's cleanup (LIFO)

    def start_on_tmpfs(self, routes=(), queue=None):
        config = relay_config(DOMAIN, HOSTNAME, routes=routes,
                              queue=queue or {"retry_initial": "1s", "retry_max": "1s"},
                              extra=f"\n[smtp]\nmax_message_size = {MAX_MESSAGE}\n")
        server = self.start_test_server(config=config,
                                        data_dir=os.path.join(self.fs.path, "data"))
        type(self).addClassCleanup(shutil.rmtree, server.work_dir, ignore_errors=True)
        server.add_user(BOB)
        return server

    def assertRefusedForSpace(self, reply, code=452):
        self.assertReply(reply, code, "4.3.1")
        self.assertIn(FULL_TEXT, reply.text.lower(), str(reply))

    def send_one(self, c, subject, ehlo=False, rcpts=(BOB,)):
        msg = make_message(subject, [f"text of {subject}"])
        return msg, queue_id_of(c.send_mail(ALICE, list(rcpts), msg, ehlo=ehlo))

    def stored_with_subject(self, server, subject):
        return server.scalar("SELECT count(*) FROM message WHERE instr(body, ?) > 0",
                             (f"Subject: {subject}\r\n".encode(),))

    def test_below_the_reserve_mail_gets_452_and_is_accepted_again_when_space_returns(self):
        server = self.start_on_tmpfs()
        with server.smtp() as c:
            ehlo = c.ehlo()
            self.assertIn(f"SIZE {MAX_MESSAGE}", ehlo.lines)
            first, _ = self.send_one(c, "before the disk filled")
            c.cmd("QUIT")
        wait_for_mailbox_count(server, BOB, 1)

        # Just above the reserve: a MAIL without SIZE is accepted, one whose SIZE does not fit
        # in what is left above the reserve is refused (RFC 1870 6.1).
        free = self.fs.fill_to(MIN_FREE + 300 * 1024)
        self.assertGreater(free, MIN_FREE + 200 * 1024)
        with server.smtp() as c:
            c.ehlo()
            self.assertRefusedForSpace(c.cmd(f"MAIL FROM:<{ALICE}> SIZE=600000"))
            self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}> SIZE=10000"), 250, "2.1.0")
            self.assertReply(c.cmd("RSET"), 250)
            self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
            self.assertReply(c.cmd("RSET"), 250)

            # Below the reserve: every MAIL is refused, on this session and a new one.
            free = self.fs.fill_to(MIN_FREE // 2)
            self.assertGreater(free, 0)
            for _ in range(3):
                self.assertRefusedForSpace(c.cmd(f"MAIL FROM:<{ALICE}>"))
            self.assertRefusedForSpace(c.cmd(f"MAIL FROM:<{ALICE}> SIZE=100"))
            with server.smtp() as c2:
                c2.ehlo()
                self.assertRefusedForSpace(c2.cmd(f"MAIL FROM:<{ALICE}>"))
                self.assertReply(c2.cmd("QUIT"), 221)
            # RCPT and DATA without a transaction are refused as out of sequence.
            self.assertReply(c.cmd(f"RCPT TO:<{BOB}>"), 503)

            # POP3 keeps serving what is stored.
            p = pop3_session(server, BOB)
            try:
                self.assertEqual(p.stat()[0], 1)
                self.assertTrue(p.retr(1).endswith(first))
                self.assertOk(p.quit())
            finally:
                p.close()
            self.assertEqual(server.scalar("SELECT count(*) FROM message"), 1)

            # Space returns: the same session, the same relay, accepted within seconds.
            self.fs.empty()
            freed_at = time.monotonic()

            def mail_accepted():
                r = c.cmd(f"MAIL FROM:<{ALICE}>")
                if r.code == 250:
                    return r
                self.assertRefusedForSpace(r)
                return None
            wait_until(mail_accepted, timeout=5, interval=0.2, what="MAIL accepted again")
            self.assertLess(time.monotonic() - freed_at, 5)
            self.assertReply(c.cmd(f"RCPT TO:<{BOB}>"), 250)
            self.assertReply(c.cmd("DATA"), 354)
            after = make_message("after the space returned", ["accepted again"])
            queue_id_of(c.data_bytes(after))
            c.cmd("QUIT")
        wait_for_mailbox_count(server, BOB, 2)
        msgs = fetch_all(server, BOB)
        self.assertTrue(msgs[1].endswith(after))
        self.assertEqual(server.scalar("SELECT count(*) FROM message"), 2)
        self.assertEqual(server.stop(), 0)

    def test_filesystem_full_at_the_end_of_data_gives_451_and_stores_nothing(self):
        server = self.start_on_tmpfs()
        with server.smtp(timeout=30) as c:
            first, _ = self.send_one(c, "before the disk filled", ehlo=True)
            wait_for_mailbox_count(server, BOB, 1)

            self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
            self.assertReply(c.cmd(f"RCPT TO:<{BOB}>"), 250, "2.1.5")
            left = self.fs.fill_completely()
            self.assertLess(left, 4096)
            self.assertReply(c.cmd("DATA"), 354)
            subject = "when the disk was full"
            r = c.data_bytes(big_message(subject, 900 * 1024))
            self.assertRefusedForSpace(r, code=451)
            # Nothing of it is stored; the session goes on.
            self.assertEqual(server.scalar("SELECT count(*) FROM message"), 1)
            self.assertEqual(self.stored_with_subject(server, subject), 0)
            self.assertEqual(mailbox_entries(server, BOB), 1)
            self.assertReply(c.cmd("NOOP"), 250)

            self.fs.empty()
            after, qid = self.send_one(c, "after the space returned")
            c.cmd("QUIT")
        wait_for_mailbox_count(server, BOB, 2)
        msgs = fetch_all(server, BOB)
        self.assertTrue(msgs[0].endswith(first))
        self.assertTrue(msgs[1].endswith(after))
        self.assertIn(f"id {qid}".encode(), msgs[1])
        self.assertEqual(server.scalar("SELECT count(*) FROM message"), 2)
        self.assertEqual(self.stored_with_subject(server, subject), 0)
        self.assertEqual(server.stop(), 0)

    def test_mail_queued_before_the_disk_filled_is_delivered_while_it_is_full(self):
        disk_full = threading.Event()
        # The next hop defers every attempt until the disk is full, so that the delivery
        # that succeeds happens while it is.
        fake = FakeSmtpServer(data_reply=lambda n: None if disk_full.is_set()
                              else "451 4.3.0 try again later")
        self.addCleanup(fake.stop)
        server = self.start_on_tmpfs(routes=[("far.test", fake.port)])
        with server.smtp() as c:
            # No mailbox for postmaster yet: the message waits in the queue (RFC 5321 4.5.1).
            _, local_qid = self.send_one(c, "for the postmaster", ehlo=True, rcpts=(POSTMASTER,))
            _, remote_qid = self.send_one(c, "for far away", rcpts=(FAR,))
            c.cmd("QUIT")
        wait_until(lambda: self.state(server, local_qid, POSTMASTER) == "deferred",
                   what="postmaster message deferred")
        fake.wait_transactions(1)
        wait_until(lambda: self.state(server, remote_qid, FAR) == "deferred",
                   what="remote message deferred")

        free = self.fs.fill_to(MIN_FREE // 2)
        self.assertGreater(free, 0)
        disk_full.set()
        with server.smtp() as c:
            c.ehlo()
            self.assertRefusedForSpace(c.cmd(f"MAIL FROM:<{ALICE}>"))
            c.cmd("QUIT")

        # The remote message goes out at its next retry, the local one once postmaster has
        # a mailbox and the queue is flushed; both while new mail is refused.
        server.add_user(POSTMASTER)
        r = server.cli("queue", "flush")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for_mailbox_count(server, POSTMASTER, 1)
        wait_until(lambda: self.state(server, remote_qid, FAR) == "delivered", timeout=15,
                   what="remote message delivered")
        self.assertEqual(self.state(server, local_qid, POSTMASTER), "delivered")
        delivered = [t for t in fake.transactions if t.outcome.startswith("250")]
        self.assertEqual(len(delivered), 1, fake.transactions)
        self.assertEqual(delivered[0].rcpts, [FAR])
        self.assertLess(self.fs.free(), MIN_FREE, "the disk was no longer 'full'")
        with server.smtp() as c:
            c.ehlo()
            self.assertRefusedForSpace(c.cmd(f"MAIL FROM:<{ALICE}>"))
            c.cmd("QUIT")
        # Nothing new was stored, and nothing bounced.
        self.assertEqual(server.scalar("SELECT count(*) FROM message"), 2)
        self.assertEqual(server.scalar(
            "SELECT count(*) FROM event WHERE kind IN ('bounced', 'failed')"), 0)
        self.assertEqual(server.stop(), 0)

    @staticmethod
    def state(server, qid, address):
        return server.scalar("SELECT r.state FROM recipient r JOIN message m "
                             "ON m.id = r.message_id WHERE m.queue_id = ? AND r.address = ?",
                             (qid, address))


if __name__ == "__main__":
    unittest.main()
