"""POP3 under SIGKILL: a maildrop of 30 messages of known content and distinct sizes; in each
round (15; MISSIVE_SOAK=1: 200) a client logs in, records UIDL, DELEs a random subset, sends
QUIT, and the relay is killed 0-20 ms later (often before the +OK can come back) and
restarted. The next login succeeds at once (no stale [IN-USE] lock) and finds every message
byte-exact with its UIDL unchanged; the messages not DELE'd are all there, the DELE'd ones
are either all gone or all there (QUIT's update is one transaction), and all gone whenever
the +OK arrived. The database stays sound: PRAGMA integrity_check ok, mailbox entries =
STAT's count, no message row left behind by a deleted entry."""

import os
import random
import re
import sys
import time
import unittest

from missive_harness import (DOMAIN, MissiveTestCase, Pop3Client, PASSWORD, make_message,
                             smtp_send, wait_for_mailbox_count)

SOAK = os.environ.get("MISSIVE_SOAK") == "1"
ROUNDS = 200 if SOAK else 15
MESSAGES = 30
REFILL_BELOW = 10
USER = f"alice@{DOMAIN}"
SENDER = f"sender@{DOMAIN}"
TEST_ID_RE = re.compile(rb"^X-Test-Id: (\S+)\r$", re.M)


class Pop3KillDuringQuitTest(MissiveTestCase):

    def setUp(self):
        super().setUp()
        self.server = self.start_test_server()
        self.server.add_user(USER)
        self.sent = {}        # test id -> the bytes sent
        self.originals = {}   # uid -> the bytes RETR gave the first time
        self.serial = 0

    def deliver(self, count):
        """Sends `count` new messages of distinct sizes; returns their test ids."""
        ids = []
        for _ in range(count):
            self.serial += 1
            test_id = f"m{self.serial}"
            lines = [f"message {test_id}", ".starts with a dot", "..two dots", "."]
            lines += ["x" * 60 + f" {i}" for i in range(self.serial % 7)]
            filler = "y" * (40 * self.serial + 1)  # sizes differ from message to message
            lines += [filler[i:i + 76] for i in range(0, len(filler), 76)]
            msg = make_message(f"pop3 {test_id}", lines, test_id=test_id, sender=SENDER, to=USER)
            smtp_send(self.server, SENDER, [USER], msg)
            self.sent[test_id] = msg
            ids.append(test_id)
        return ids

    def login(self):
        """Logs in at once: a refused login ([IN-USE] or any other) fails the test."""
        c = Pop3Client(self.server.pop3_port)
        self.assertOk(c.greeting)
        self.assertOk(c.cmd(f"USER {USER}"))
        r = c.cmd(f"PASS {PASSWORD}")
        self.assertOk(r, "login right after the restart")
        return c

    def check_maildrop(self, c, expected_present, maybe_present, new_ids):
        """Reads the whole maildrop; checks it against the originals. Returns
        ({uid: message number}, {uid: bytes})."""
        uidl = c.listing("UIDL")
        sizes = dict(c.listing("LIST"))
        count, octets = c.stat()
        self.assertEqual(count, len(uidl))
        self.assertEqual([n for n, _ in uidl], list(range(1, count + 1)))
        uids = [u for _, u in uidl]
        self.assertEqual(len(uids), len(set(uids)), f"a UIDL given twice: {uidl}")
        for u in uids:
            self.assertRegex(u, r"^[!-~]{1,70}$", "RFC 1939 7: UIDL is 1-70 printable characters")
        number = {u: n for n, u in uidl}
        if not self.originals:
            self.assertEqual(len(set(sizes.values())), count, f"sizes not distinct: {sizes}")
        unknown = [u for u in uids if u not in self.originals]
        # new uids must be the refill, each found by its X-Test-Id, byte-exact
        fresh = set(new_ids)
        for u in unknown:
            data = c.retr(number[u])
            found = TEST_ID_RE.findall(data.split(b"\r\n\r\n", 1)[0] + b"\r\n")
            self.assertEqual(len(found), 1, f"uid {u} is no message of this test: {data[:300]!r}")
            test_id = found[0].decode()
            self.assertIn(test_id, fresh, f"uid {u} ({test_id}) appeared from nowhere")
            fresh.discard(test_id)
            self.assertStoredEndsWith(data, self.sent[test_id])
            self.originals[u] = data
        self.assertEqual(fresh, set(), "refill messages missing")
        missing = sorted(set(expected_present) - set(uids))
        self.assertEqual(missing, [], "messages never DELE'd are gone")
        strays = sorted(set(uids) - set(expected_present) - set(maybe_present) - set(unknown))
        self.assertEqual(strays, [], "deleted messages came back")
        total = 0
        for u in uids:
            data = c.retr(number[u])
            self.assertEqual(data, self.originals[u], f"uid {u} changed its content")
            self.assertEqual(int(sizes[number[u]]), len(data), f"LIST size of uid {u}")
            total += len(data)
        self.assertEqual(octets, total, "STAT octets")
        # the database agrees
        db = self.server
        self.assertEqual(db.query("PRAGMA integrity_check"), [("ok",)])
        self.assertEqual(db.scalar("SELECT count(*) FROM mailbox_entry"), count)
        self.assertEqual(db.scalar("SELECT count(*) FROM message"), count,
                         "a message row outlived its only mailbox entry")
        return number

    def test_sigkill_around_quit_update_is_all_or_nothing(self):
        started = time.monotonic()
        ids = self.deliver(MESSAGES)
        wait_for_mailbox_count(self.server, USER, MESSAGES)
        present = set()       # uids that must be there
        maybe = set()         # the last round's DELE'd uids: all there or all gone
        new_ids = ids
        stats = {"deleted": 0, "kept": 0, "ok_seen": 0}
        for round_no in range(ROUNDS + 1):
            c = self.login()
            try:
                number = self.check_maildrop(c, present, maybe, new_ids)
                if maybe:
                    gone = maybe - set(number)
                    self.assertIn(gone, (set(), maybe),
                                  f"round {round_no}: QUIT's update was cut in half: "
                                  f"{sorted(gone)} of {sorted(maybe)} gone")
                    if got_ok:
                        self.assertEqual(gone, maybe, "+OK to QUIT, yet the messages are back")
                    stats["deleted" if gone else "kept"] += 1
                if round_no == ROUNDS:
                    self.assertOk(c.quit())
                    break
                # the lock is real: a second session is refused while this one is open
                other = Pop3Client(self.server.pop3_port)
                try:
                    other.cmd(f"USER {USER}")
                    self.assertErr(other.cmd(f"PASS {PASSWORD}"), "IN-USE")
                finally:
                    other.close()
                uids = sorted(number)
                doomed = set(random.sample(uids, random.randint(1, min(4, len(uids)))))
                for u in doomed:
                    self.assertOk(c.cmd(f"DELE {number[u]}"))
                present, maybe = set(uids) - doomed, doomed
                # QUIT, then SIGKILL 0-20 ms later (a third of the time at once)
                delay = 0 if random.random() < 1 / 3 else random.uniform(0, 0.02)
                c.send(b"QUIT\r\n")
                if delay:
                    time.sleep(delay)
                self.server.kill9()
                got_ok = self.quit_reply(c)
                stats["ok_seen"] += got_ok
            finally:
                c.close()
            self.server.start()
            new_ids = []
            if len(present) < REFILL_BELOW:
                # the next login sees these as new uids
                new_ids = self.deliver(MESSAGES - len(present))
                self.wait_delivered()
        sys.stderr.write(f"\n[pop3 faults] rounds={ROUNDS} {stats} "
                         f"in {time.monotonic() - started:.1f}s\n")
        self.assertEqual(stats["deleted"] + stats["kept"], ROUNDS)
        self.assertEqual(self.server.stop(), 0)

    def wait_delivered(self):
        """Waits until every message sent is in the maildrop."""
        deadline = time.monotonic() + 10
        while self.server.scalar("SELECT count(*) FROM recipient "
                                 "WHERE state <> 'delivered'") != 0:
            self.assertLess(time.monotonic(), deadline, "refill not delivered")
            time.sleep(0.02)

    def quit_reply(self, c):
        """After the kill: True if the +OK to QUIT had arrived."""
        try:
            data = c.buf
            c.sock.settimeout(2)
            while True:
                chunk = c.sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        line = data.split(b"\r\n", 1)[0]
        if line:
            self.assertTrue(line.startswith(b"+OK"), f"reply to QUIT: {line!r}")
        return line.startswith(b"+OK")


if __name__ == "__main__":
    unittest.main()
