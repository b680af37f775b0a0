"""`missived queue list | show | flush | retry | delete` on the data directory of a running
relay whose next hop is down, with a one-hour retry schedule: only the admin commands can
make the relay try again within the test."""

import re
import threading
import time
import unittest

from missive_harness import (RelayTestCase, make_message, smtp_send, utc_stamp,
                             wait_for_mailbox_count, wait_until)

ALICE = "alice@a.test"
BOB = "bob@b.test"
SLOW = {"retry_initial": "1h", "retry_max": "1h", "max_lifetime": "5d"}

MESSAGE_LINE = re.compile(r"^(?P<qid>[A-Z0-9]+)  +(?P<age>\S+)  +(?P<size>\d+)  +"
                          r"from=(?P<from><[^<>\s]*>|[^<>\s]*)\s*$")
RCPT_LINE = re.compile(r"^\s+to=(?P<to><[^<>\s]+>|[^<>\s]+)  +state=(?P<state>\w+)  +"
                       r"attempts=(?P<attempts>\d+)  +next=(?P<next>\S+)  +reply=(?P<reply>.*?)\s*$")


def bare(addr):
    return addr[1:-1] if addr.startswith("<") and addr.endswith(">") else addr


def parse_queue_list(text):
    """{qid: {"age", "size", "from", "rcpts": {addr: {...}}}}; fails on a stray line."""
    out, current = {}, None
    for line in text.splitlines():
        if not line.strip():
            continue
        m = MESSAGE_LINE.match(line)
        if m:
            current = out[m.group("qid")] = {"age": m.group("age"), "size": int(m.group("size")),
                                             "from": bare(m.group("from")), "rcpts": {}}
            continue
        m = RCPT_LINE.match(line)
        if m and current is not None:
            current["rcpts"][bare(m.group("to"))] = {
                "state": m.group("state"), "attempts": int(m.group("attempts")),
                "next": m.group("next"), "reply": m.group("reply")}
            continue
        raise AssertionError(f"unexpected line in `queue list`: {line!r}\n{text}")
    return out


class QueueAdminTest(RelayTestCase):

    def setUp(self):
        super().setUp()
        self.port = self.reserved_port()  # refused until B starts on it
        self.a, self.b = self.start_relay_pair(a_queue=SLOW, b_smtp_port=self.port, start_b=False)

    def send_deferred(self, subject):
        qid = smtp_send(self.a, ALICE, [BOB], make_message(subject, ["x"], sender=ALICE, to=BOB))
        state, attempts, next_at, _ = self.a.wait_state(qid, BOB, "deferred")
        self.assertEqual(attempts, 1)
        self.assertGreater(next_at, time.time() + 1800, "the retry must be about an hour away")
        return qid

    def queue(self, *args):
        return self.a.cli("queue", *args)

    def queue_ok(self, *args):
        r = self.queue(*args)
        self.assertEqual(r.returncode, 0, f"queue {' '.join(args)}: {r.stdout!r} {r.stderr!r}")
        return r.stdout

    def test_list_and_show(self):
        self.assertEqual(self.queue_ok("list").strip(), "queue is empty")
        qid = self.send_deferred("admin show")
        self.a.add_user("carol@a.test")
        local = smtp_send(self.a, ALICE, ["carol@a.test"], make_message("local", ["x"]))
        wait_for_mailbox_count(self.a, "carol@a.test", 1)

        listed = parse_queue_list(self.queue_ok("list"))
        self.assertEqual(list(listed), [qid], "only messages with pending recipients are listed")
        entry = listed[qid]
        self.assertEqual(entry["from"], ALICE)
        self.assertEqual(entry["size"], self.a.scalar("SELECT size FROM message WHERE queue_id = ?",
                                                      (qid,)))
        state, attempts, next_at, last_reply = self.a.recipient(qid, BOB)
        self.assertEqual(entry["rcpts"], {BOB: {
            "state": "deferred", "attempts": attempts, "next": utc_stamp(next_at),
            "reply": last_reply if last_reply else "-"}})
        self.assertNotIn(local, listed)

        r = self.queue("show", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertIn("Subject: admin show", lines)
        self.assertTrue(any(l.startswith("Received: ") for l in lines), r.stdout)
        rcpt_lines = [RCPT_LINE.match(l) for l in lines if RCPT_LINE.match(l)]
        self.assertEqual([(bare(m.group("to")), m.group("state"), int(m.group("attempts")))
                          for m in rcpt_lines], [(BOB, "deferred", attempts)], r.stdout)
        events = self.a.events(qid)
        self.assertEqual([k for k, _, _ in events][:2], ["accepted", "deferred"])
        for kind, rcpt, detail in events:
            self.assertTrue(any(kind in l and (detail or "") in l and (rcpt or "") in l
                                for l in lines),
                            f"event {(kind, rcpt, detail)} not shown:\n{r.stdout}")
        self.assertRegex(r.stdout, rf"127\.0\.0\.1(\[127\.0\.0\.1\])?:{self.port}\b")
        self.assertRegex(r.stdout, "(?i)connection refused")

        # a delivered message can still be shown, with its remote history
        r = self.queue("show", local)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("delivered", r.stdout)

    def test_flush_delivers_now(self):
        qid = self.send_deferred("flush me")
        self.b.start()
        state, _, next_at, _ = self.a.recipient(qid, BOB)
        self.assertEqual(state, "deferred")
        self.assertGreater(next_at, time.time() + 1800, "nothing is due for an hour")
        t0 = time.monotonic()
        self.queue_ok("flush")
        self.a.wait_state(qid, BOB, "delivered", timeout=5)
        self.assertLess(time.monotonic() - t0, 5)
        wait_for_mailbox_count(self.b, BOB, 1)
        self.assertEqual(self.queue_ok("list").strip(), "queue is empty")
        self.queue_ok("flush")  # flushing an empty queue is no error

    def test_flush_while_next_hop_still_down_makes_one_more_attempt(self):
        qid = self.send_deferred("still down")
        self.queue_ok("flush")
        state, attempts, next_at, _ = self.a.wait_state(qid, BOB, "deferred")
        wait_until(lambda: self.a.recipient(qid, BOB)[1] == 2, timeout=5,
                   what="a second attempt after flush")
        state, attempts, next_at, _ = self.a.recipient(qid, BOB)
        self.assertEqual((state, attempts), ("deferred", 2))
        self.assertGreater(next_at, time.time() + 1800, "back on the slow schedule")
        self.assertEqual(len([e for e in self.a.events(qid) if e[0] == "deferred"]), 2)

    def test_retry_one_and_delete_another(self):
        q1 = self.send_deferred("retry me")
        q2 = self.send_deferred("delete me")
        self.assertEqual(sorted(parse_queue_list(self.queue_ok("list"))), sorted([q1, q2]))
        self.b.start()
        self.queue_ok("retry", q1)
        self.a.wait_state(q1, BOB, "delivered", timeout=5)
        wait_for_mailbox_count(self.b, BOB, 1)
        state, _, next_at, _ = self.a.recipient(q2, BOB)
        self.assertEqual(state, "deferred", "retry ID touches one message")
        self.assertGreater(next_at, time.time() + 1800, "retry ID leaves the others' schedule")
        self.assertEqual(list(parse_queue_list(self.queue_ok("list"))), [q2])

        messages_before = self.a.message_count()
        self.queue_ok("delete", q2)
        self.assertEqual(self.queue_ok("list").strip(), "queue is empty")
        state = self.a.recipient(q2, BOB)
        self.assertTrue(state is None or state[0] == "failed", state)
        self.queue_ok("flush")
        self.a.wait_quiet()
        self.assertEqual(self.a.mailbox_messages(ALICE), [], "a deleted message is not bounced")
        self.assertLessEqual(self.a.message_count(), messages_before, "no DSN row appeared")
        wait_for_mailbox_count(self.b, BOB, 1, timeout=0)

    def test_quoted_local_parts_are_kept_as_given_and_in_order(self):
        # RFC 5321 4.1.2: a quoted local part may hold a comma, a quote or a backslash as
        # quoted-pairs; stored (on PostgreSQL as an array literal) and listed as given.
        rcpts = ['"a,b"@b.test', '"q\\"uote"@b.test', '"back\\\\slash"@b.test', BOB]
        qid = smtp_send(self.a, ALICE, rcpts, make_message("quoted", ["x"], sender=ALICE, to=BOB))
        stored = self.a.query("SELECT r.address FROM recipient r JOIN message m "
                              "ON m.id = r.message_id WHERE m.queue_id = ? ORDER BY r.id", (qid,))
        self.assertEqual([a for (a,) in stored], rcpts)

    def test_unknown_id(self):
        for verb in ("show", "delete", "retry"):
            r = self.queue(verb, "NOSUCHID0000")
            self.assertEqual(r.returncode, 1, f"queue {verb} of an unknown id: {r}")
            self.assertTrue(r.stderr.strip(), f"queue {verb}: no error message on stderr")
        self.assertEqual(self.queue_ok("list").strip(), "queue is empty")


class UserDeletionKeepsHistoryTest(RelayTestCase):

    def test_user_del_keeps_other_finished_messages(self):
        # A relayed message is finished once the next hop took it: its body is freed, its row
        # and history stay for `queue show`. Deleting a local user takes only that user's mail.
        fake = self.fake_smtp()
        a = self.start_relay("a.test", start=False, routes=[("x.test", fake.port)])
        a.add_user(ALICE)
        a.add_user("leaving@a.test")
        a.start()
        relayed = smtp_send(a, ALICE, ["rcpt@x.test"],
                            make_message("relayed", ["x"], sender=ALICE, to="rcpt@x.test"))
        a.wait_state(relayed, "rcpt@x.test", "delivered")
        own = smtp_send(a, ALICE, ["leaving@a.test"], make_message("own", ["x"], sender=ALICE))
        wait_for_mailbox_count(a, "leaving@a.test", 1)
        r = a.cli("user", "del", "leaving@a.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        ids = [row[0] for row in a.query("SELECT queue_id FROM message")]
        self.assertEqual(ids, [relayed], "the relayed message's history stays; the leaver's own goes")
        r = a.cli("queue", "show", relayed)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("rcpt@x.test", r.stdout)

class DeleteDuringDeliveryTest(RelayTestCase):

    def test_queue_delete_while_the_next_hop_holds_the_data(self):
        gate = threading.Event()
        self.addCleanup(gate.set)

        def data_reply(n):
            if n == 0:
                gate.wait(20)  # the first message's data stays unanswered until released
            return "250 2.0.0 Ok"
        fake = self.fake_smtp(data_reply=data_reply)
        a = self.start_relay("a.test", routes=[("x.test", fake.port)])
        qid = smtp_send(a, ALICE, ["held@x.test"],
                        make_message("held", ["x"], sender=ALICE, to="held@x.test"))
        wait_until(lambda: any(line.upper().startswith("DATA") for _, line in list(fake.commands)),
                   what="DATA at the next hop")
        r = a.cli("queue", "delete", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, f"deleted {qid}\n")
        gate.set()
        # the attempt's result is dropped cleanly, once, and says why
        a.wait_delivery_log(qid, "held@x.test", "dropped")
        self.assertEqual(a.scalar("SELECT count(*) FROM message WHERE queue_id = ?", (qid,)), 0)
        # the slot is free: the next message to the same hop goes through
        after = smtp_send(a, ALICE, ["next@x.test"],
                          make_message("after", ["y"], sender=ALICE, to="next@x.test"))
        a.wait_state(after, "next@x.test", "delivered")
        self.assertNotIn("event=record_failed", a.read_log())
        # and nothing is left under way: SIGTERM stops the relay without waiting out the grace
        a.stop()
        self.assertNotIn("stopping_hard", a.read_log())

if __name__ == "__main__":
    unittest.main()
