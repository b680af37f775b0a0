"""Crash loop: 8 senders stream messages (each with a unique X-Test-Id) to relay A while A is
killed with SIGKILL at least 20 times (MISSIVE_SOAK=1: 200) at random moments and at chosen
ones (a client awaiting the reply to its final dot, a client sending DATA, a remote delivery
to relay B under way), and restarted each time in less than 5 s. Local delivery happens in
the transaction that stores the message, so a kill during that commit is also a kill during
local delivery.

At the end, once A's queue is empty: every id that got 250 is in each of its local mailboxes
on A exactly once, and reached B at least once if it had a remote recipient (more than once
only if that delivery was in flight at a kill); nothing that got a 4xx/5xx reply, and nothing
whose final dot was never sent, appears anywhere; an id whose reply was lost with the
connection is in a local mailbox at most once, and then in all of its local recipients'
mailboxes (a message is committed with all its recipients); both databases pass
PRAGMA integrity_check and A's rows agree with each other (mailbox entries = delivered local
recipients, one 'accepted' event per message, one 'delivered' event per recipient, no claim
left, no bounce)."""

import collections
import os
import random
import re
import socket
import sqlite3
import sys
import threading
import time
import unittest

from missive_harness import (dot_stuff, make_message, pop3_session, queue_id_of, RelayTestCase,
                             SmtpClient, test_id_of, wait_until)

SOAK = os.environ.get("MISSIVE_SOAK") == "1"
KILLS = 200 if SOAK else 20
SENDERS = 8
RESTART_LIMIT = 5.0            # seconds from spawn to both listening lines
DRAIN_TIMEOUT = 120 if SOAK else 45
SENDER_PAUSE = (0.0, 0.004)    # between messages: keeps the volume (and the run time) bounded

BOB = "bob@example.test"
CAROL = "carol@example.test"
DAVE = "dave@remote.test"
LOCAL_USERS = (BOB, CAROL)
SENDER = "alice@example.test"  # no such mailbox: a bounce (there must be none) would fail
# Local only, remote only, and both.
RECIPIENT_SETS = [(BOB,), (BOB, CAROL), (DAVE,), (CAROL, DAVE), (BOB, CAROL, DAVE)]

# How each kill picks its moment (rotating): a random sleep, or the first moment a condition
# holds (bounded wait) plus a tiny random delay.
STRATEGIES = ("random", "commit", "data", "commit", "remote", "random")






class Attempt:
    """One message a sender tried. outcome: 'acked' (250, qid known), 'refused' (a definite
    4xx/5xx reply), 'unsent' (the connection died before the final dot was sent) or
    'unknown' (the final dot was sent, no reply came)."""

    def __init__(self, test_id, rcpts):
        self.test_id = test_id
        self.rcpts = tuple(rcpts)
        self.outcome = None
        self.qid = None
        self.detail = ""

    def __repr__(self):
        return f"{self.test_id}:{self.outcome}:{self.qid}:{self.rcpts}:{self.detail}"


class Sender(threading.Thread):
    def __init__(self, index, port, stop):
        super().__init__(daemon=True, name=f"sender{index}")
        self.index = index
        self.port = port
        self.stop = stop
        self.phase = "idle"       # idle | connect | envelope | body | commit
        self.large = False        # the message under way is a large one
        self.attempts = []
        self.errors = []          # protocol violations seen (malformed 250, ...)
        self.rng = random.Random(index * 7919 + int(time.time()))

    def connect(self):
        self.phase = "connect"
        c = SmtpClient(self.port, timeout=10, read_greeting=False)
        try:
            if c.reply().code == 220 and c.ehlo(f"sender{self.index}.client.test").code == 250:
                return c
        except (OSError, EOFError, AssertionError):
            pass
        c.close()
        return None

    def message(self, seq, test_id, rcpts):
        lines = [f"payload of {test_id}", ".a line that needs dot-stuffing", "." * (seq % 4)]
        if seq % 6 == 5:  # some large ones, so that DATA takes a while
            self.large = True
            lines += [f"{i:06d} " + "x" * 90 for i in range(self.rng.randrange(500, 2500))]
        else:
            self.large = False
            lines += ["y" * self.rng.randrange(0, 300)]
        return make_message(f"crash {test_id}", lines, test_id=test_id, sender=SENDER,
                            to=", ".join(rcpts))

    def transaction(self, c, attempt, body):
        """Runs one transaction on c; sets attempt.outcome. Returns False if c is dead."""
        self.phase = "envelope"
        try:
            for line in [f"MAIL FROM:<{SENDER}>"] + [f"RCPT TO:<{r}>" for r in attempt.rcpts]:
                r = c.cmd(line)
                if r.code != 250:
                    attempt.outcome, attempt.detail = "refused", f"{line}: {r}"
                    return False
            r = c.cmd("DATA")
            if r.code != 354:
                attempt.outcome, attempt.detail = "refused", f"DATA: {r}"
                return False
            self.phase = "body"
            c.send(dot_stuff(body))
        except (OSError, EOFError) as e:
            attempt.outcome, attempt.detail = "unsent", repr(e)
            return False
        # From here on the relay may commit the message: the outcome is unknown until a
        # reply arrives.
        self.phase = "commit"
        try:
            c.send(b".\r\n")
            r = c.reply()
        except (OSError, EOFError) as e:
            attempt.outcome, attempt.detail = "unknown", repr(e)
            return False
        if r.code == 250:
            try:
                attempt.qid = queue_id_of(r)
            except AssertionError as e:
                self.errors.append(f"{attempt.test_id}: {e}")
                attempt.outcome = "unknown"
                return False
            attempt.outcome = "acked"
            return True
        attempt.outcome, attempt.detail = "refused", str(r)
        if r.code == 421:
            return False
        return 400 <= r.code < 600

    def run(self):
        seq = 0
        c = None
        while not self.stop.is_set():
            if c is None:
                try:
                    c = self.connect()
                except (OSError, EOFError, AssertionError):
                    c = None
                if c is None:
                    self.phase = "idle"
                    time.sleep(self.rng.uniform(0.005, 0.03))
                    continue
            seq += 1
            test_id = f"s{self.index}-{seq}"
            rcpts = RECIPIENT_SETS[(seq + self.index) % len(RECIPIENT_SETS)]
            attempt = Attempt(test_id, rcpts)
            self.attempts.append(attempt)
            alive = False
            try:
                alive = self.transaction(c, attempt, self.message(seq, test_id, rcpts))
            except AssertionError as e:  # a malformed reply
                self.errors.append(f"{test_id}: {e}")
                attempt.outcome = attempt.outcome or "unknown"
            self.phase = "idle"
            if not alive:
                c.close()
                c = None
            time.sleep(self.rng.uniform(*SENDER_PAUSE))
        if c is not None:
            try:
                c.cmd("QUIT")
            except (OSError, EOFError, AssertionError):
                pass
            c.close()
        self.phase = "done"


class CrashLoopTest(RelayTestCase):

    def test_sigkill_loop_loses_nothing_and_duplicates_nothing_locally(self):
        started = time.monotonic()
        b = self.start_relay("remote.test", start=False)
        b.add_user(DAVE)
        b.start()
        # A is killed and restarted on the same port, which the senders keep connecting to:
        # it is held for the whole test, so nothing else can take it while A is down.
        a = self.start_relay("example.test", smtp_port=self.reserved_port(), start=False,
                             routes=[("remote.test", b.smtp_port)],
                             queue={"retry_initial": "1s", "retry_max": "2s",
                                    "max_lifetime": "1h"})
        for u in LOCAL_USERS:
            a.add_user(u)
        a.start()
        port = a.smtp_port

        stop = threading.Event()
        senders = [Sender(i, port, stop) for i in range(SENDERS)]
        for s in senders:
            s.start()
        restart_times = []
        kills = []          # per kill: strategy, whether its condition was met, what was going on
        in_flight_at_kill = set()   # test ids with a remote delivery claimed at some kill
        acked_at_kill = []
        try:
            time.sleep(0.5)
            for k in range(KILLS):
                strategy = STRATEGIES[k % len(STRATEGIES)]
                met = self.wait_for_moment(a, senders, strategy)
                phases = collections.Counter(s.phase for s in senders)
                large_in_data = sum(1 for s in senders if s.phase in ("body", "commit") and s.large)
                a.kill9()
                self.assertEqual(a.proc.returncode, -9)
                acked_at_kill.append(sum(1 for s in senders for at in list(s.attempts)
                                         if at.outcome == "acked"))
                claimed, pending_local = self.snapshot_after_kill(a)
                in_flight_at_kill |= claimed
                kills.append((strategy, met, dict(phases), large_in_data, len(claimed),
                              pending_local))
                t0 = time.monotonic()
                a.start(timeout=RESTART_LIMIT * 3)
                restart_times.append(time.monotonic() - t0)
                self.assertEqual(a.smtp_port, port)
                # give the senders time to reconnect before the next kill
                time.sleep(random.uniform(0.15, 0.3))
            time.sleep(0.5)  # some traffic on the last incarnation too
        finally:
            stop.set()
            for s in senders:
                s.join(20)
        self.assertFalse([s.name for s in senders if s.is_alive()], "sender threads hang")
        loop_time = time.monotonic() - started

        attempts = [at for s in senders for at in s.attempts]
        errors = [e for s in senders for e in s.errors]
        by_outcome = collections.defaultdict(list)
        for at in attempts:
            by_outcome[at.outcome].append(at)
        kills_met = collections.Counter(st for st, met, *_ in kills if met)
        sys.stderr.write(
            f"\n[crash loop] kills={len(kills)} restart max={max(restart_times):.3f}s "
            f"mean={sum(restart_times) / len(restart_times):.3f}s; attempts={len(attempts)} "
            + " ".join(f"{k}={len(v)}" for k, v in sorted(by_outcome.items()))
            + f"; kills whose moment came: {dict(kills_met)}; kills with a remote claim: "
            f"{sum(1 for x in kills if x[4])}; with a local delivery pending: "
            f"{sum(1 for x in kills if x[5])}; with a client awaiting its 250: "
            f"{sum(1 for x in kills if x[2].get('commit'))}; incarnations that acknowledged "
            f"nothing: {sum(1 for x, y in zip([0] + acked_at_kill, acked_at_kill) if y == x)}; "
            f"loop {loop_time:.1f}s\n")

        self.assertEqual(errors, [], "protocol violations seen by the senders")
        self.assertEqual(len(kills), KILLS)
        slow = [f"{t:.3f}" for t in restart_times if t >= RESTART_LIMIT]
        self.assertEqual(slow, [], f"restarts slower than {RESTART_LIMIT}s")
        self.assertLessEqual(set(by_outcome), {"acked", "refused", "unsent", "unknown"})
        acked = by_outcome["acked"]
        self.assertGreater(len(acked), 5 * KILLS, "too little traffic to prove anything")
        self.assertGreater(len(by_outcome["unknown"]) + len(by_outcome["unsent"]), 0,
                           "no kill interrupted a transaction")
        # the kills hit a relay at work: most incarnations acknowledged something
        idle = sum(1 for x, y in zip([0] + acked_at_kill, acked_at_kill) if y == x)
        self.assertLessEqual(idle, KILLS // 4, f"acknowledged at each kill: {acked_at_kill}")
        self.assertEqual(len({at.qid for at in acked}), len(acked), "a queue id given twice")
        # the moments were reached (each strategy at least once)
        for strategy in set(STRATEGIES):
            self.assertGreater(kills_met[strategy], 0, f"no kill at a '{strategy}' moment: {kills}")

        self.wait_drained(a, b)
        self.check_outcome(a, b, attempts, in_flight_at_kill)

        self.assertEqual(a.stop(), 0, "SIGTERM did not exit 0")
        self.assertEqual(b.stop(), 0, "SIGTERM did not exit 0")
        # (on PostgreSQL the server enforces the foreign keys itself, always)
        for server in (a, b) if a.store is None else ():
            conn = sqlite3.connect(server.db_path, timeout=10)
            try:
                self.assertEqual(conn.execute("PRAGMA integrity_check").fetchall(), [("ok",)],
                                 server.name)
                self.assertEqual(conn.execute("PRAGMA foreign_key_check").fetchall(), [],
                                 server.name)
            finally:
                conn.close()
        sys.stderr.write(f"[crash loop] total {time.monotonic() - started:.1f}s\n")

    # -- the kill loop ---------------------------------------------------------------------

    def wait_for_moment(self, a, senders, strategy):
        """Sleeps until the moment of this kill; True if the wanted condition was seen."""
        if strategy == "random":
            r = random.random()
            time.sleep(random.uniform(0, 0.02) if r < 0.4 else random.uniform(0.02, 0.6))
            return True
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if strategy == "commit":
                hit = any(s.phase == "commit" for s in senders)
            elif strategy == "data":
                hit = any(s.phase in ("body", "commit") and s.large for s in senders)
            else:
                hit = a.scalar("SELECT count(*) FROM recipient WHERE in_flight = 1") > 0
            if hit:
                time.sleep(random.uniform(0, 0.003))
                return True
            time.sleep(0.002 if strategy == "remote" else 0.0005)
        return False

    def snapshot_after_kill(self, a):
        """The test ids with a remote delivery claimed (in flight) when A died, and the
        number of local recipients still waiting."""
        rows = a.query("SELECT m.body FROM recipient r JOIN message m "
                       "ON m.id = r.message_id WHERE r.in_flight = 1")
        pending = a.scalar("SELECT count(*) FROM recipient WHERE is_local = 1 "
                           "AND state IN ('queued', 'deferred')")
        return {test_id_of(bytes(body)) for (body,) in rows}, pending

    def wait_drained(self, a, b):
        def pending(server):
            return server.scalar("SELECT count(*) FROM recipient "
                                 "WHERE state IN ('queued', 'deferred')")
        t0 = time.monotonic()
        wait_until(lambda: pending(a) == 0, timeout=DRAIN_TIMEOUT, interval=0.2,
                   what="A's queue to drain")
        wait_until(lambda: pending(b) == 0, timeout=DRAIN_TIMEOUT, interval=0.2,
                   what="B's queue to drain")
        sys.stderr.write(f"[crash loop] queues drained in {time.monotonic() - t0:.1f}s\n")

    # -- the verdict -----------------------------------------------------------------------

    def mailbox_ids(self, server, user):
        """Test ids of the messages in a maildrop, in order (None for one without)."""
        rows = server.query("SELECT m.body FROM mailbox_entry me JOIN user u ON u.id = me.user_id "
                            "JOIN message m ON m.id = me.message_id "
                            "WHERE u.address = ? ORDER BY me.id", (user,))
        return [test_id_of(bytes(body)) for (body,) in rows]

    def check_outcome(self, a, b, attempts, in_flight_at_kill):
        by_id = {at.test_id: at for at in attempts}
        self.assertEqual(len(by_id), len(attempts), "test ids are not unique")
        boxes = {u: collections.Counter(self.mailbox_ids(a, u)) for u in LOCAL_USERS}
        remote = collections.Counter(self.mailbox_ids(b, DAVE))

        # Nothing in a mailbox that was not sent with that recipient.
        for user, ids in list(boxes.items()) + [(DAVE, remote)]:
            strangers = [i for i in ids if i not in by_id or user not in by_id[i].rcpts]
            self.assertEqual(strangers, [], f"messages in {user}'s mailbox that nobody sent "
                                            f"to {user}")

        problems = collections.defaultdict(list)
        for at in attempts:
            local = [u for u in at.rcpts if u in LOCAL_USERS]
            copies = {u: boxes[u][at.test_id] for u in local}
            far = remote[at.test_id] if DAVE in at.rcpts else 0
            if at.outcome == "acked":
                for u, n in copies.items():
                    if n != 1:
                        problems[f"acknowledged, {n} copies in a local mailbox"].append((at, u))
                if DAVE in at.rcpts and far < 1:
                    problems["acknowledged, never reached B"].append(at)
            elif at.outcome in ("refused", "unsent"):
                if any(copies.values()) or far:
                    problems[f"{at.outcome}, yet delivered"].append((at, copies, far))
            else:  # unknown: committed or not, but then with all its recipients
                if any(n > 1 for n in copies.values()):
                    problems["unknown outcome, duplicated locally"].append((at, copies))
                if local and len(set(copies.values())) > 1:
                    problems["unknown outcome, in some local mailboxes only"].append((at, copies))
                if local and all(copies.values()) and DAVE in at.rcpts and far < 1:
                    problems["unknown outcome, delivered locally, never reached B"].append(at)
            if far > 1 and at.test_id not in in_flight_at_kill:
                problems["duplicated on B without a delivery in flight at a kill"].append((at, far))
        report = {k: v[:10] for k, v in problems.items()}
        self.assertEqual(report, {}, f"{ {k: len(v) for k, v in problems.items()} }")
        duplicates = sum(1 for n in remote.values() if n > 1)
        sys.stderr.write(f"[crash loop] ids duplicated on B: {duplicates} "
                         f"(in flight at a kill: {len(in_flight_at_kill)})\n")

        # POP3 agrees with the database.
        for user in LOCAL_USERS:
            c = pop3_session(a, user)
            try:
                self.assertEqual(c.stat()[0], sum(boxes[user].values()), user)
                self.assertOk(c.quit())
            finally:
                c.close()
        self.check_rows(a, by_id)

    def check_rows(self, a, by_id):
        """A's tables agree with each other and with what the clients were told."""
        messages = a.query("SELECT id, queue_id, sender, size, length(body), body FROM message")
        recipients = a.query("SELECT message_id, address, is_local, state, in_flight "
                             "FROM recipient")
        entries = a.query("SELECT me.message_id, u.address FROM mailbox_entry me "
                          "JOIN user u ON u.id = me.user_id")
        events = a.query("SELECT message_id, recipient, kind FROM message_history")
        self.assertEqual([m for m in messages if m[2] == ""], [], "a bounce was generated")
        rcpts_of = collections.defaultdict(list)
        for mid, address, is_local, state, in_flight in recipients:
            rcpts_of[mid].append((address, is_local, state, in_flight))
        self.assertEqual([r for r in recipients if r[3] != "delivered" or r[4] != 0], [],
                         "recipients not delivered, or still claimed")
        acked_by_qid = {at.qid: at for at in by_id.values() if at.outcome == "acked"}
        unknown = [at for at in by_id.values() if at.outcome == "unknown"]
        seen_qids = set()
        for mid, qid, sender, size, length, body in messages:
            seen_qids.add(qid)
            rows = rcpts_of[mid]
            addresses = sorted(r[0] for r in rows)
            self.assertEqual(len(addresses), len(set(addresses)), (qid, rows))
            if length:
                self.assertEqual(size, length, f"size column of {qid}")
                test_id = test_id_of(bytes(body))
                self.assertIn(test_id, by_id, qid)
                at = by_id[test_id]
                self.assertIn(at.outcome, ("acked", "unknown"), (qid, at))
                if at.outcome == "acked":
                    self.assertEqual(at.qid, qid, f"{test_id}'s 250 named another queue id")
            else:
                # its body was freed: every recipient was remote and done
                self.assertTrue(all(not r[1] for r in rows), (qid, rows))
                at = acked_by_qid.get(qid)
                if at is None:
                    self.assertGreater(len(unknown), 0, f"{qid} is nobody's message")
                    continue
            self.assertEqual(addresses, sorted(at.rcpts), f"{qid}: recipients stored")
            for address, is_local, _, _ in rows:
                self.assertEqual(bool(is_local), address in LOCAL_USERS, (qid, address))
        missing = [at for at in acked_by_qid.values() if at.qid not in seen_qids]
        self.assertEqual(missing[:10], [], f"{len(missing)} acknowledged messages not in A's "
                                           f"message table")
        # mailbox entries = delivered local recipients, one each
        delivered_local = collections.Counter((mid, address) for mid, address, is_local, _, _
                                              in recipients if is_local)
        self.assertEqual(collections.Counter(entries), delivered_local,
                         "mailbox entries differ from the delivered local recipients")
        kinds = collections.Counter((mid, rcpt, kind) for mid, rcpt, kind in events)
        for mid, *_ in messages:
            self.assertEqual(kinds[(mid, None, "accepted")], 1, f"'accepted' events of {mid}")
        for mid, address, *_ in recipients:
            self.assertEqual(kinds[(mid, address, "delivered")], 1,
                             f"'delivered' events of {address} of message {mid}")
        self.assertEqual(len(messages), len(seen_qids))


if __name__ == "__main__":
    unittest.main()
