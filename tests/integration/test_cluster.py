"""Two `missived` nodes on one PostgreSQL database ([store] url, node): what one node stores
the other serves, the maildrop lock and the user table are cluster-wide, changes reach the
other node (LISTEN/NOTIFY), a dead node's leases run out and the other delivers, SIGKILLs of
either node lose and duplicate nothing, and a PostgreSQL outage gives 451s, not lost mail.

Only meaningful on PostgreSQL: ctest runs it with the test cluster's URL (pg.integration.
test_cluster); without one, every test is skipped with the reason."""

import collections
import random
import re
import sys
import threading
import time
import unittest

import missive_pg
from missive_harness import (FakeSmtpServer, RelayTestCase, SmtpClient, dot_stuff, fetch_all,
                             make_message, pop3_session, queue_id_of, smtp_send, test_id_of,
                             wait_for_mailbox_count, wait_until)
from missive_pg import PgDatabase, PgStore
from pg_cluster import PgCluster

DOMAIN = "a.test"
BOB = f"bob@{DOMAIN}"
CAROL = f"carol@{DOMAIN}"
SENDER = "sender@client.test"       # no mailbox here: a bounce to it would show as a message
REMOTE = "rcpt@far.test"
SLOW = {"retry_initial": "1h", "retry_max": "1h", "max_lifetime": "5d"}
LEASE_SECONDS = 5

def setUpModule():
    if not missive_pg.cluster_url():
        raise unittest.SkipTest(f"two-node tests need a PostgreSQL: no MISSIVE_TEST_PG_URL or "
                                f"MISSIVE_TEST_PG_URL_FILE (ctest runs pg.integration.test_cluster)")


class ClusterTestCase(RelayTestCase):
    """Nodes of one cluster: relays of DOMAIN on one fresh database, dropped after the test."""

    def new_database(self, base_url=None):
        db = PgDatabase.create(prefix="missive_cluster", base_url=base_url)
        # registered before the nodes: cleanups run last-in first-out, the nodes die first
        self.addCleanup(db.drop)
        return db

    def start_nodes(self, names=("A", "B"), database=None, start=True, lease=None, **kwargs):
        database = database or self.new_database()
        keys = {"lease": lease} if lease else {}
        nodes = [self.start_relay(DOMAIN, start=False, name=name,
                                  store=PgStore(database, node=name, **keys), **kwargs)
                 for name in names]
        if start:
            for node in nodes:
                node.start()
        return nodes

    def rcpt_reply(self, node, address):
        with node.smtp() as c:
            self.assertEqual(c.ehlo().code, 250)
            self.assertEqual(c.cmd(f"MAIL FROM:<{SENDER}>").code, 250)
            r = c.cmd(f"RCPT TO:<{address}>")
            c.cmd("QUIT")
            return r


class ReadAcrossNodesTest(ClusterTestCase):

    def test_message_accepted_by_a_is_read_byte_exact_from_b(self):
        a, b = self.start_nodes()
        a.add_user(BOB)
        lines = [b".", b"..", b".leading dot", b"", b"trailing spaces   ", b"\ttab",
                 bytes(range(0x80, 0x100)), b"mixed \xc3\xa9 \xff\xfe bytes", b"end."]
        sent = make_message("across nodes", lines, sender=SENDER, to=BOB)
        qid = smtp_send(a, SENDER, [BOB], sent)
        wait_for_mailbox_count(b, BOB, 1)
        [from_b] = fetch_all(b, BOB)
        stored = self.assertDeliveryHeaders(from_b, SENDER, BOB)
        self.assertStoredEndsWith(stored, sent)
        [from_a] = fetch_all(a, BOB)
        self.assertEqual(from_a, from_b, "the two nodes serve different bytes")
        self.assertEqual([q for q, _ in b.mailbox_messages(BOB)], [qid])


class MaildropLockTest(ClusterTestCase):

    def test_session_on_a_locks_b_out_until_a_is_killed(self):
        a, b = self.start_nodes()
        a.add_user(BOB)
        smtp_send(b, SENDER, [BOB], make_message("locked", ["x"], sender=SENDER, to=BOB))
        wait_for_mailbox_count(a, BOB, 1)
        holder = pop3_session(a, BOB)
        self.addCleanup(holder.close)
        self.assertEqual(holder.stat()[0], 1)
        with b.pop3() as c:
            self.assertOk(c.cmd(f"USER {BOB}"))
            self.assertErr(c.cmd("PASS secret"), "IN-USE", "B while A holds the maildrop")
        a.kill9()

        def b_serves():
            with b.pop3() as c:
                c.cmd(f"USER {BOB}")
                r = c.cmd("PASS secret")
                if not r.startswith("+OK"):
                    self.assertErr(r, "IN-USE")
                    return None
                n = c.stat()[0]
                self.assertOk(c.quit())
                return ("served", n)
        self.assertEqual(wait_until(b_serves, timeout=20, interval=0.2,
                                    what="B to serve the maildrop A held when it died"),
                         ("served", 1))


    def test_a_lock_connection_that_broke_takes_its_locks_back(self):
        # PostgreSQL ends A's locks connection (an administrator, a network blip) while a
        # session on A holds the maildrop: A connects again and takes the lock back, so B
        # still answers [IN-USE].
        database = self.new_database()
        a, b = self.start_nodes(database=database)
        a.add_user(BOB)
        smtp_send(b, SENDER, [BOB], make_message("locked", ["x"], sender=SENDER, to=BOB))
        wait_for_mailbox_count(a, BOB, 1)
        holder = pop3_session(a, BOB)
        self.addCleanup(holder.close)
        [(bob_id,)] = database.query("SELECT id FROM user WHERE address = ?", (BOB,))

        def lock_holders():
            # pg_locks shows a one-key advisory lock's key in objid (keys below 2^32).
            return database.query(
                "SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
                "WHERE a.application_name = 'missived A locks' AND l.locktype = 'advisory' "
                "AND l.granted AND l.classid = 0 AND l.objid = ? AND l.objsubid = 1", (bob_id,))
        [(first,)] = lock_holders()
        self.assertEqual(database.query("SELECT pg_terminate_backend(?)", (first,)), [(True,)])

        def taken_back():
            pids = [pid for (pid,) in lock_holders()]
            return pids if pids and pids != [first] else None
        [second] = wait_until(taken_back, timeout=15, interval=0.1,
                              what="A's new locks connection to hold BOB's maildrop lock")
        self.assertNotEqual(second, first)
        with b.pop3() as c:
            self.assertOk(c.cmd(f"USER {BOB}"))
            self.assertErr(c.cmd("PASS secret"), "IN-USE", "B after A took its lock back")
        self.assertEqual(holder.stat()[0], 1, "A's session goes on")
        self.assertIn("event=reconnected", a.read_log())


class ChangesReachEveryNodeTest(ClusterTestCase):

    def test_user_added_through_b_is_honoured_at_rcpt_on_a_within_a_second(self):
        a, b = self.start_nodes()
        newcomer = f"newcomer@{DOMAIN}"
        # A has looked the address up (and may remember that it is unknown)
        self.assertEqual(self.rcpt_reply(a, newcomer).code, 550)
        b.add_user(newcomer)
        t0 = time.monotonic()
        wait_until(lambda: self.rcpt_reply(a, newcomer).code == 250, timeout=1.0, interval=0.05,
                   what="A to accept a user added through B")
        sys.stderr.write(f"\n[cluster] user add through B honoured by A in "
                         f"{time.monotonic() - t0:.3f}s\n")
        r = a.cli("user", "del", newcomer)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_until(lambda: self.rcpt_reply(b, newcomer).code == 550, timeout=1.0, interval=0.05,
                   what="B to refuse a user deleted through A")

    def test_queue_list_is_the_same_on_both_nodes(self):
        hop = self.fake_smtp(rcpt_reply=lambda addr, n: "451 4.3.0 not now")
        a, b = self.start_nodes(queue=SLOW, routes=[("far.test", hop.port)])
        a.add_user(BOB)
        qids = [smtp_send(node, BOB, [REMOTE, f"other{i}@far.test"],
                          make_message(f"listed {i}", ["x"], sender=BOB, to=REMOTE))
                for i, node in enumerate([a, b, a, b, a])]
        for qid in qids:
            a.wait_state(qid, REMOTE, "deferred")
        for qid, i in zip(qids, range(len(qids))):
            a.wait_state(qid, f"other{i}@far.test", "deferred")

        def listing(node):
            r = node.cli("queue", "list")
            self.assertEqual(r.returncode, 0, r.stderr)
            # the age column is the only one that depends on when the command runs
            return re.sub(r"(?m)^([A-Z0-9]+)  +\S+  ", r"\1  AGE  ", r.stdout)
        from_a, from_b = listing(a), listing(b)
        self.assertEqual(from_a, from_b)
        for qid in qids:
            self.assertIn(qid, from_a)

    def test_queue_flush_through_a_wakes_b(self):
        accepting = threading.Event()
        hop = self.fake_smtp(
            rcpt_reply=lambda addr, n: None if accepting.is_set() else "451 4.3.0 not yet")
        a, b = self.start_nodes(queue=SLOW, routes=[("far.test", hop.port)])
        a.add_user(BOB)
        qid = smtp_send(a, BOB, [REMOTE], make_message("flush", ["x"], sender=BOB, to=REMOTE))
        state, attempts, next_at, _ = a.wait_state(qid, REMOTE, "deferred")
        self.assertEqual(attempts, 1)
        self.assertGreater(next_at, time.time() + 1800, "the retry is an hour away")
        accepting.set()
        # A is gone: only B can deliver now, and only if the flush wakes it
        self.assertEqual(a.stop(), 0)
        t0 = time.monotonic()
        r = a.cli("queue", "flush")
        self.assertEqual(r.returncode, 0, r.stderr)
        b.wait_state(qid, REMOTE, "delivered", timeout=5)
        self.assertLess(time.monotonic() - t0, 5)
        hop.wait_transactions(1)
        b.wait_delivery_log(qid, REMOTE, "sent")


class LeaseTest(ClusterTestCase):

    def test_b_delivers_what_a_held_when_it_died_after_the_lease(self):
        claimed = threading.Event()
        release = threading.Event()
        self.addCleanup(release.set)

        def rcpt_reply(addr, n):
            if n == 0:  # A's attempt: hold it until A is dead
                claimed.set()
                release.wait(60)
                return "451 4.3.0 held"
            return None
        hop = self.fake_smtp(rcpt_reply=rcpt_reply)
        a, b = self.start_nodes(routes=[("far.test", hop.port)], lease=f"{LEASE_SECONDS}s",
                                start=False)
        a.start()
        a.add_user(BOB)
        qid = smtp_send(a, BOB, [REMOTE], make_message("leased", ["x"], sender=BOB, to=REMOTE))
        self.assertTrue(claimed.wait(10), "A never tried the next hop")
        [(node, until)] = a.query("SELECT r.lease_node, r.lease_until FROM recipient r "
                                  "JOIN message m ON m.id = r.message_id WHERE m.queue_id = ?",
                                  (qid,))
        self.assertEqual(node, "A", "A's attempt holds no lease")
        self.assertIsNotNone(until)
        self.assertLessEqual(until, time.time() + LEASE_SECONDS + 2, "a lease longer than set")
        b.start()
        a.kill9()
        release.set()
        b.wait_state(qid, REMOTE, "delivered", timeout=LEASE_SECONDS + 20)
        [tx] = hop.wait_transactions(1)
        delivered_at = time.time() - (time.monotonic() - tx.at)
        self.assertGreaterEqual(delivered_at, until - 1, "B delivered before A's lease ran out")
        b.wait_delivery_log(qid, REMOTE, "sent")
        self.assertEqual(b.query("SELECT lease_node, lease_until FROM recipient"), [(None, None)])

    def test_a_living_node_keeps_its_lease_past_the_lease_length(self):
        lease = 3
        claimed = threading.Event()
        release = threading.Event()
        self.addCleanup(release.set)

        def rcpt_reply(addr, n):
            if n == 0:  # A's attempt lasts twice the lease, then succeeds
                claimed.set()
                release.wait(2 * lease)
            return None
        hop = self.fake_smtp(rcpt_reply=rcpt_reply)
        a, b = self.start_nodes(routes=[("far.test", hop.port)], lease=f"{lease}s", start=False)
        a.start()
        a.add_user(BOB)
        qid = smtp_send(a, BOB, [REMOTE], make_message("slow", ["x"], sender=BOB, to=REMOTE))
        self.assertTrue(claimed.wait(10), "A never tried the next hop")
        b.start()
        a.wait_state(qid, REMOTE, "delivered", timeout=4 * lease)
        a.wait_delivery_log(qid, REMOTE, "sent")
        a.wait_quiet()
        self.assertEqual(len(hop.rcpts_of(REMOTE)), 1,
                         "B took the recipient while A, alive, was delivering it")
        self.assertEqual(len(hop.transactions), 1)


# -- senders for the crash loop and the outage ---------------------------------------------

RECIPIENT_SETS = [(BOB,), (BOB, CAROL), (CAROL,)]


class Attempt:
    """One message a sender tried. outcome: 'acked' (250, qid known), 'refused' (a definite
    4xx/5xx reply), 'unsent' (the connection died before the final dot was sent) or
    'unknown' (the final dot was sent, no reply came)."""

    def __init__(self, test_id, rcpts, node):
        self.test_id = test_id
        self.rcpts = tuple(rcpts)
        self.node = node
        self.outcome = None
        self.qid = None
        self.reply = None
        self.at = time.monotonic()

    def __repr__(self):
        return f"{self.test_id}@{self.node}:{self.outcome}:{self.qid}:{self.rcpts}:{self.reply}"


class Sender(threading.Thread):
    """Sends messages with unique X-Test-Ids to one node, one connection per message,
    reading the node's port at each connection (it changes when the node restarts)."""

    def __init__(self, index, node, stop):
        super().__init__(daemon=True, name=f"sender{index}")
        self.index = index
        self.node = node
        self.stop = stop
        self.attempts = []
        self.errors = []
        self.rng = random.Random(index * 7919 + int(time.time()))

    def send_one(self, attempt, body):
        try:
            c = SmtpClient(self.node.smtp_port, timeout=10, read_greeting=False)
        except OSError as e:
            attempt.outcome, attempt.reply = "unsent", repr(e)
            return
        try:
            try:
                r = c.reply()
                if r.code != 220:
                    attempt.outcome, attempt.reply = "refused", f"greeting: {r}"
                    return
                for line in ["EHLO sender.client.test", f"MAIL FROM:<{SENDER}>"] + \
                        [f"RCPT TO:<{x}>" for x in attempt.rcpts] + ["DATA"]:
                    r = c.cmd(line)
                    if r.code != (354 if line == "DATA" else 250):
                        attempt.outcome, attempt.reply = "refused", f"{line}: {r}"
                        return
                c.send(dot_stuff(body))
            except (OSError, EOFError) as e:
                attempt.outcome, attempt.reply = "unsent", repr(e)
                return
            try:
                c.send(b".\r\n")
                r = c.reply()
            except (OSError, EOFError) as e:
                attempt.outcome, attempt.reply = "unknown", repr(e)
                return
            attempt.reply = str(r)
            if r.code == 250:
                attempt.qid = queue_id_of(r)
                attempt.outcome = "acked"
            else:
                attempt.outcome = "refused"
            try:
                c.cmd("QUIT")
            except (OSError, EOFError):
                pass
        except AssertionError as e:  # a malformed reply
            self.errors.append(f"{attempt.test_id}: {e}")
            attempt.outcome = attempt.outcome or "unknown"
        finally:
            c.close()

    def run(self):
        seq = 0
        while not self.stop.is_set():
            seq += 1
            test_id = f"s{self.index}-{seq}"
            rcpts = RECIPIENT_SETS[(seq + self.index) % len(RECIPIENT_SETS)]
            attempt = Attempt(test_id, rcpts, self.node.name)
            self.attempts.append(attempt)
            lines = [f"payload of {test_id}", ".dot-stuffed"] + \
                ["y" * self.rng.randrange(0, 900) for _ in range(self.rng.randrange(1, 4))]
            self.send_one(attempt, make_message(f"cluster {test_id}", lines, test_id=test_id,
                                                sender=SENDER, to=", ".join(rcpts)))
            if attempt.outcome != "acked":
                time.sleep(self.rng.uniform(0.01, 0.05))


class SendingTestCase(ClusterTestCase):

    def start_senders(self, nodes, count=8):
        stop = threading.Event()
        senders = [Sender(i, nodes[i % len(nodes)], stop) for i in range(count)]
        self.addCleanup(stop.set)
        for s in senders:
            s.start()
        return stop, senders

    def stop_senders(self, stop, senders):
        stop.set()
        for s in senders:
            s.join(30)
        self.assertFalse([s.name for s in senders if s.is_alive()], "sender threads hang")
        self.assertEqual([e for s in senders for e in s.errors], [], "protocol violations")
        return [at for s in senders for at in s.attempts]

    def mailboxes(self, node):
        """{user: Counter of test ids in the maildrop}, from the database."""
        rows = node.query('SELECT u.address, m.body FROM mailbox_entry me '
                          'JOIN "user" u ON u.id = me.user_id '
                          'JOIN message m ON m.id = me.message_id')
        boxes = {BOB: collections.Counter(), CAROL: collections.Counter()}
        for user, body in rows:
            boxes[user][test_id_of(bytes(body))] += 1
        return boxes

    def check_outcome(self, node, attempts):
        """Every acknowledged message in each of its mailboxes exactly once; nothing refused
        or unsent anywhere; an unknown outcome at most once, in all or none of its boxes."""
        by_id = {at.test_id: at for at in attempts}
        boxes = self.mailboxes(node)
        problems = collections.defaultdict(list)
        for user, ids in boxes.items():
            for i in ids:
                if i not in by_id or user not in by_id[i].rcpts:
                    problems[f"in {user}'s maildrop, never sent to {user}"].append(i)
        for at in attempts:
            copies = {u: boxes[u][at.test_id] for u in at.rcpts}
            if at.outcome == "acked":
                if any(n != 1 for n in copies.values()):
                    problems["acknowledged, not exactly once"].append((at, copies))
            elif at.outcome in ("refused", "unsent"):
                if any(copies.values()):
                    problems[f"{at.outcome}, yet delivered"].append((at, copies))
            elif any(n > 1 for n in copies.values()) or len(set(copies.values())) > 1:
                problems["unknown outcome, duplicated or partial"].append((at, copies))
        self.assertEqual({k: v[:10] for k, v in problems.items()}, {},
                         f"{ {k: len(v) for k, v in problems.items()} }")
        return boxes

    def check_rows(self, node, attempts):
        """The tables agree with each other and with what the clients were told."""
        def count(sql):
            return node.scalar(sql)
        self.assertEqual(count("SELECT count(*) FROM recipient WHERE mailbox_user_id IS NOT NULL "
                               "AND state <> 'delivered'"), 0, "a maildrop entry not delivered")
        self.assertEqual(count("SELECT count(*) FROM recipient WHERE is_local = 1 "
                               "AND state <> 'delivered'"), 0, "local recipients left pending")
        self.assertEqual(count("SELECT count(*) FROM recipient WHERE lease_until IS NOT NULL"), 0,
                         "a lease left")
        self.assertEqual(count("SELECT count(*) FROM mailbox_entry"),
                         count("SELECT count(*) FROM recipient WHERE is_local = 1 "
                               "AND state = 'delivered'"), "entries = delivered local recipients")
        self.assertEqual(count("SELECT count(*) FROM message m WHERE NOT EXISTS "
                               "(SELECT 1 FROM recipient r WHERE r.message_id = m.id)"), 0,
                         "a message without recipients")
        self.assertEqual(count("SELECT count(*) FROM message WHERE sender = ''"), 0,
                         "a bounce was made")
        acked = [at for at in attempts if at.outcome == "acked"]
        self.assertEqual(len({at.qid for at in acked}), len(acked), "a queue id given twice")
        stored = dict(node.query("SELECT queue_id, (SELECT count(*) FROM recipient r "
                                 "WHERE r.message_id = m.id) FROM message m"))
        wrong = [at for at in acked if stored.get(at.qid) != len(at.rcpts)]
        self.assertEqual(wrong[:10], [], "acknowledged messages stored with other recipients")


class CrashLoopTest(SendingTestCase):

    KILLS = 20

    def test_sigkills_alternating_between_nodes_lose_and_duplicate_nothing(self):
        started = time.monotonic()
        a, b = self.start_nodes()
        for u in (BOB, CAROL):
            a.add_user(u)
        stop, senders = self.start_senders([a, b])
        restarts = []
        try:
            time.sleep(0.5)
            for k in range(self.KILLS):
                node = (a, b)[k % 2]
                time.sleep(random.uniform(0.05, 0.5))
                node.kill9()
                self.assertEqual(node.proc.returncode, -9)
                t0 = time.monotonic()
                node.start(timeout=15)
                restarts.append(time.monotonic() - t0)
                time.sleep(random.uniform(0.1, 0.3))  # the senders reconnect
            time.sleep(0.5)
        finally:
            attempts = self.stop_senders(stop, senders)
        outcomes = collections.Counter(at.outcome for at in attempts)
        sys.stderr.write(f"\n[cluster crash loop] kills={len(restarts)} restart max="
                         f"{max(restarts):.2f}s; attempts: {dict(outcomes)}; "
                         f"loop {time.monotonic() - started:.1f}s\n")
        self.assertGreater(outcomes["acked"], 5 * self.KILLS, "too little traffic")
        self.assertLessEqual(set(outcomes), {"acked", "refused", "unsent", "unknown"})
        for node in (a, b):
            self.assertTrue(node.running(), f"{node.name} died on its own")
        a.wait_quiet(timeout=30)
        boxes = self.check_outcome(a, attempts)
        self.check_rows(a, attempts)
        # POP3 on either node agrees with the database
        for user, node in ((BOB, a), (CAROL, b)):
            c = pop3_session(node, user)
            try:
                self.assertEqual(c.stat()[0], sum(boxes[user].values()), user)
                self.assertOk(c.quit())
            finally:
                c.close()
        self.assertEqual(a.stop(), 0)
        self.assertEqual(b.stop(), 0)


class PostgresqlAwayTest(SendingTestCase):
    """PostgreSQL stopped for 10 s while both nodes take mail: 451 4.3.0 meanwhile, never a
    lost 250, and acceptance resumes without a restart. A cluster of its own: the shared one
    stays up for the tests running beside it."""

    OUTAGE = 10

    def test_postgresql_stopped_under_load(self):
        cluster = PgCluster().start()
        self.addCleanup(cluster.stop)
        a, b = self.start_nodes(database=self.new_database(cluster.url))
        for u in (BOB, CAROL):
            a.add_user(u)
        lurker = f"lurker@{DOMAIN}"   # never logged in: nothing of it is cached
        a.add_user(lurker)
        stop, senders = self.start_senders([a, b], count=4)
        try:
            wait_until(lambda: sum(1 for s in senders for at in list(s.attempts)
                                   if at.outcome == "acked") >= 20, timeout=15,
                       what="traffic before the outage")
            down_at = time.monotonic()
            cluster.stop_server()

            def refused_since_down():
                return [at for s in senders for at in list(s.attempts)
                        if at.outcome == "refused" and at.at >= down_at]
            refusals = wait_until(refused_since_down, timeout=self.OUTAGE,
                                  what="a refusal while PostgreSQL is down")
            self.assertRegex(refusals[0].reply, r"451[ -]4\.3\.0", refusals[0])
            with b.pop3() as c:
                c.cmd(f"USER {lurker}")
                self.assertErr(c.cmd("PASS secret"), "SYS/TEMP", "POP3 while PostgreSQL is down")
            time.sleep(max(0.0, self.OUTAGE - (time.monotonic() - down_at)))
            cluster.start()
            up_at = time.monotonic()
            for node in (a, b):
                wait_until(lambda: smtp_send(node, SENDER, [BOB],
                                             make_message("after", ["x"], sender=SENDER, to=BOB)),
                           timeout=30, interval=0.5,
                           what=f"{node.name} to accept again once PostgreSQL is back")
            sys.stderr.write(f"\n[cluster outage] acceptance back "
                             f"{time.monotonic() - up_at:.1f}s after PostgreSQL\n")
            time.sleep(1)
        finally:
            attempts = self.stop_senders(stop, senders)
        for node in (a, b):
            self.assertTrue(node.running(), f"{node.name} did not survive the outage")
        outcomes = collections.Counter(at.outcome for at in attempts)
        sys.stderr.write(f"[cluster outage] attempts: {dict(outcomes)}\n")
        refused = [at for at in attempts if at.outcome == "refused"]
        self.assertEqual([at for at in refused if not re.search(r"\b4\d\d[ -]", at.reply or "")],
                         [], "a permanent refusal for a temporary outage")
        acked_after = [at for at in attempts if at.outcome == "acked" and at.at > up_at]
        self.assertTrue(acked_after, "the senders got no 250 after the outage")
        # the "after" messages are not the senders': count them out of BOB's box
        attempts_known = {at.test_id for at in attempts}
        boxes = self.mailboxes(a)
        boxes[BOB] = collections.Counter({i: n for i, n in boxes[BOB].items()
                                          if i in attempts_known})
        self.check_outcome_boxes(attempts, boxes)

    def check_outcome_boxes(self, attempts, boxes):
        for at in attempts:
            copies = {u: boxes[u][at.test_id] for u in at.rcpts}
            if at.outcome == "acked":
                self.assertEqual(set(copies.values()), {1}, f"an acknowledged message: {at}")
            elif at.outcome in ("refused", "unsent"):
                self.assertEqual(set(copies.values()), {0}, f"a refused message stored: {at}")


if __name__ == "__main__":
    unittest.main()
