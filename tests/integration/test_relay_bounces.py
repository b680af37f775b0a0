"""Bounces: a 5xx from the next hop or an expired lifetime ends in one RFC 3464 DSN from <>
in the sender's mailbox; never a bounce for a message from <>; more than 50 Received:
headers is refused with 554 5.4.6; a routing loop between two relays ends in one DSN."""

import email.utils
import re
import time
import unittest

from missive_harness import (RelayTestCase, fetch_all, header_fields, make_message,
                             parse_dsn, smtp_send, wait_for_mailbox_count, wait_until)

ALICE = "alice@a.test"
BOB = "bob@b.test"


class BounceTest(RelayTestCase):

    def the_dsn(self, a, user=ALICE, timeout=10):
        """Wait for exactly one message in user's mailbox on A; check it came from <>."""
        wait_for_mailbox_count(a, user, 1, timeout=timeout)
        [(dsn_qid, sender)] = a.mailbox_messages(user)
        self.assertEqual(sender, "", "a DSN's envelope sender must be <>")
        [raw] = fetch_all(a, user)
        return dsn_qid, raw

    def test_550_from_next_hop_bounces_to_sender(self):
        a, b = self.start_relay_pair()
        msg = make_message("will bounce", ["to nobody"], sender=ALICE, to="nosuch@b.test")
        qid = smtp_send(a, ALICE, ["nosuch@b.test"], msg)
        state, attempts, _, last_reply = a.wait_state(qid, "nosuch@b.test", "failed")
        self.assertEqual(attempts, 1)
        self.assertIn("550 5.1.1", last_reply or "")
        [(_, rcpt, detail)] = [e for e in a.events(qid) if e[0] == "failed"]
        self.assertEqual(rcpt, "nosuch@b.test")
        self.assertRegex(detail, r"550 5\.1\.1")
        m = a.wait_delivery_log(qid, "nosuch@b.test", "bounced", attempts="1")
        self.assertIn("550 5.1.1", m.group("reason"))

        dsn_qid, raw = self.the_dsn(a)
        dsn = self.assertDsn(raw, "mx.a.test", {"nosuch@b.test": r"5\.1\.1"},
                             subject="will bounce", original_sender=ALICE)
        block = dsn.recipient("nosuch@b.test")
        self.assertRegex(block["diagnostic-code"], r"(?i)^smtp; ?550 5\.1\.1")
        self.assertIn("nosuch@b.test", dsn.human)
        original_mid = dict(header_fields(msg))["message-id"].decode()
        self.assertEqual(dsn.original_headers.get("Message-ID"), original_mid)
        self.assertNotEqual(dsn.msg.get("Message-ID"), original_mid)
        # the DSN says where it points: multipart/report from <> to alice, nothing else
        self.assertEqual(b.message_count(), 0, "B refused at RCPT: it must store nothing")
        a.wait_quiet()
        self.assertEqual(len(a.mailbox_messages(ALICE)), 1, "exactly one DSN, no bounce loop")
        self.assertEqual(a.message_count(), 2, "the original and its DSN, nothing more")

    def test_several_failed_recipients_one_dsn(self):
        a, b = self.start_relay_pair()
        rcpts = ["nosuch1@b.test", BOB, "nosuch2@b.test", "nosuch3@b.test"]
        msg = make_message("partly bounces", ["x"], sender=ALICE, to=BOB)
        qid = smtp_send(a, ALICE, rcpts, msg)
        a.wait_state(qid, BOB, "delivered")
        for r in ("nosuch1@b.test", "nosuch2@b.test", "nosuch3@b.test"):
            a.wait_state(qid, r, "failed")
        wait_for_mailbox_count(b, BOB, 1)
        _, raw = self.the_dsn(a)
        self.assertDsn(raw, "mx.a.test", {r: r"5\.1\.1" for r in
                                          ("nosuch1@b.test", "nosuch2@b.test", "nosuch3@b.test")},
                       subject="partly bounces", original_sender=ALICE)
        a.wait_quiet()
        self.assertEqual(len(a.mailbox_messages(ALICE)), 1, "one DSN for all failed recipients")

    def test_each_recipient_has_its_own_fate(self):
        def rcpt_reply(addr, n):
            return {"temp@x.test": "451 4.3.0 Not now",
                    "perm@x.test": "550 5.1.1 No such user here"}.get(addr)
        fake = self.fake_smtp(rcpt_reply=rcpt_reply)
        a = self.start_relay("a.test", start=False, routes=[("x.test", fake.port)])
        a.add_user(ALICE)
        a.start()
        msg = make_message("three fates", ["x"], sender=ALICE, to="ok@x.test")
        qid = smtp_send(a, ALICE, ["ok@x.test", "temp@x.test", "perm@x.test"], msg)
        a.wait_state(qid, "ok@x.test", "delivered")
        a.wait_state(qid, "perm@x.test", "failed")
        state, attempts, next_at, last_reply = wait_until(
            lambda: (lambda r: r if r[1] >= 2 else None)(a.recipient(qid, "temp@x.test")),
            timeout=10, what="temp@x.test retried")
        self.assertEqual(state, "deferred")
        self.assertIn("451 4.3.0 Not now", last_reply or "")
        [t] = fake.wait_transactions(1)
        self.assertEqual(t.rcpts, ["ok@x.test"])
        self.assertRelayedCopy(t.data, msg, a, qid)
        _, raw = self.the_dsn(a)
        dsn = self.assertDsn(raw, "mx.a.test", {"perm@x.test": r"5\.1\.1"},
                             subject="three fates", original_sender=ALICE)
        self.assertIn("550 5.1.1 No such user here", dsn.recipient("perm@x.test")["diagnostic-code"])
        self.assertEqual(len(fake.transactions), 1, fake.transactions)

    def test_expiry_bounces_with_4_4_7(self):
        a, b = self.start_relay_pair(start_b=False,
                                     a_queue={"retry_initial": "1s", "retry_max": "1s",
                                              "max_lifetime": "3s"})
        msg = make_message("expires", ["x"], sender=ALICE, to=BOB)
        t0 = time.time()
        qid = smtp_send(a, ALICE, [BOB], msg)
        a.wait_state(qid, BOB, "deferred")
        state, attempts, _, _ = a.wait_state(qid, BOB, "failed", timeout=15)
        # arrival is kept in whole seconds: allow one second of truncation
        self.assertGreaterEqual(time.time() - t0, 1.9, "gave up before max_lifetime")
        self.assertGreaterEqual(attempts, 2)
        kinds = [k for k, _, _ in a.events(qid)]
        self.assertEqual(kinds[0], "accepted")
        self.assertIn("deferred", kinds)
        # one event ends the recipient's story (its kind for expiry is the relay's choice)
        self.assertEqual(sum(1 for k, r, _ in a.events(qid) if r == BOB
                             and k in ("failed", "expired")), 1, a.events(qid))
        _, raw = self.the_dsn(a)
        self.assertDsn(raw, "mx.a.test", {BOB: r"4\.4\.7"}, subject="expires",
                       original_sender=ALICE)

    def test_null_sender_is_never_bounced(self):
        a, b = self.start_relay_pair()
        before = a.message_count()
        qid = smtp_send(a, "", ["nosuch@b.test", BOB],
                        make_message("from the null sender", ["x"], sender="MAILER-DAEMON@a.test",
                                     to="nosuch@b.test"))
        self.assertEqual(a.scalar("SELECT sender FROM message WHERE queue_id = ?", (qid,)), "")
        a.wait_state(qid, "nosuch@b.test", "failed")
        a.wait_state(qid, BOB, "delivered")
        wait_for_mailbox_count(b, BOB, 1)
        self.assertEqual(b.mailbox_messages(BOB)[0][1], "", "MAIL FROM:<> is passed on as <>")
        a.wait_quiet()
        self.assertEqual(a.message_count(), before + 1, "no DSN for a message from <>")
        self.assertEqual(a.mailbox_messages(ALICE), [])
        self.assertEqual(b.message_count(), 1)


class LoopTest(RelayTestCase):

    @staticmethod
    def with_received(n, subject):
        hops = [("Received", f"from hop{i}.test by hop{i + 1}.test; "
                             f"Mon, 01 Jan 2024 12:00:{i % 60:02d} +0000") for i in range(n)]
        msg = make_message(subject, ["looping"], sender=ALICE, to=BOB)
        return b"".join(f"{k}: {v}\r\n".encode() for k, v in hops) + msg

    def test_more_than_50_received_headers_refused(self):
        b = self.start_relay("b.test", start=False)
        b.add_user(BOB)
        b.start()
        with b.smtp() as c:
            self.assertReply(c.ehlo(), 250)
            self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250)
            self.assertReply(c.cmd(f"RCPT TO:<{BOB}>"), 250)
            self.assertReply(c.cmd("DATA"), 354)
            self.assertReply(c.data_bytes(self.with_received(51, "51 hops")), 554, "5.4.6")
            # the session goes on; exactly 50 is still acceptable
            self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250)
            self.assertReply(c.cmd(f"RCPT TO:<{BOB}>"), 250)
            self.assertReply(c.cmd("DATA"), 354)
            self.assertReply(c.data_bytes(self.with_received(50, "50 hops")), 250, "2.0.0")
        wait_for_mailbox_count(b, BOB, 1)
        [stored] = fetch_all(b, BOB)
        self.assertIn(b"Subject: 50 hops", stored)
        self.assertEqual(b.message_count(), 1)

    def test_routing_loop_between_two_relays_ends_in_one_dsn(self):
        # Each routes to the other, and missived reads its routes only at start: B starts
        # first, on a port of its own, routing to a port held for A; A then starts on that
        # port, routing to B's.
        pa = self.reserved_port()
        b = self.start_relay("b.test", routes=[("loop.test", pa), ("a.test", pa)])
        a = self.start_relay("a.test", start=False, smtp_port=pa,
                             routes=[("loop.test", b.smtp_port)])
        a.add_user(ALICE)
        a.start()
        qid = smtp_send(a, ALICE, ["lost@loop.test"],
                        make_message("round and round", ["x"], sender=ALICE, to="lost@loop.test"))
        wait_for_mailbox_count(a, ALICE, 1, timeout=30)
        [(dsn_qid, sender)] = a.mailbox_messages(ALICE)
        self.assertEqual(sender, "")
        [raw] = fetch_all(a, ALICE)
        from_host = re.search(r"MAILER-DAEMON@([\w.-]+)", parse_dsn(raw).msg.get("From", ""))
        self.assertIsNotNone(from_host, raw[:500])
        self.assertIn(from_host.group(1), ("mx.a.test", "mx.b.test"))
        dsn = self.assertDsn(raw, from_host.group(1), {"lost@loop.test": r"5\.\d{1,3}\.\d{1,3}"},
                             subject="round and round", original_sender=ALICE)
        self.assertIn("5.4.6", dsn.recipient("lost@loop.test")["diagnostic-code"])
        # the loop is over: nothing is left to deliver on either side, so nothing new appears
        wait_until(lambda: a.pending_count() + b.pending_count() == 0,
                   what="nothing left queued on either side of a finished loop")
        counts = (a.message_count(), b.message_count())
        self.assertLessEqual(sum(counts), 2 * 52, counts)
        self.assertEqual(len(a.mailbox_messages(ALICE)), 1, "exactly one DSN")


if __name__ == "__main__":
    unittest.main()
