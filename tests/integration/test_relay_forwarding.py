"""Store and forward between relays on loopback ports: A (a.test) hands mail for b.test to
B (b.test) by SMTP; the message lands in B's mailbox byte for byte, with A's and B's
Received: headers on top; A's queue records the remote reply; the log says so Postfix-style.
With three relays, A's default route "*" is a smarthost C, and a specific route wins."""

import re
import unittest

from missive_harness import (RelayTestCase, fetch_all, header_fields, make_message,
                             smtp_send, wait_for_mailbox_count, wait_until)

ALICE = "alice@a.test"
BOB = "bob@b.test"


def tricky_lines():
    high = bytes(range(0x80, 0x100))
    return ([b".", b"..", b".leading dot", b"", b"trailing spaces   ", b"\ttab"]
            + [high[i:i + 32] for i in range(0, 128, 32)]
            + [b"caf\xc3\xa9 \xff\xfe", b"end."])


class RelayForwardingTest(RelayTestCase):

    def test_mail_for_b_lands_in_b_mailbox_byte_exact(self):
        a, b = self.start_relay_pair()
        msg = make_message("to b", tricky_lines(), sender=ALICE, to=BOB,
                           headers=[("Content-Type", "text/plain; charset=iso-8859-1"),
                                    ("Content-Transfer-Encoding", "8bit")])
        qid = smtp_send(a, ALICE, [BOB], msg)
        wait_for_mailbox_count(b, BOB, 1, timeout=10)
        [stored] = fetch_all(b, BOB)
        stored = self.assertDeliveryHeaders(stored, ALICE, BOB)
        prefix = self.assertStoredEndsWith(stored, msg)
        fields = header_fields(prefix)
        self.assertEqual([n for n, _ in fields], ["received", "received"], prefix)
        self.assertIn(b"by mx.b.test", fields[0][1], "B's Received: must come first")
        self.assertIn(b"by mx.a.test", fields[1][1], "A's Received: must come second")
        # what B stored is exactly what A stored, with B's Received: on top
        a_copy = stored[stored.index(b"\r\nReceived:") + 2:]
        self.assertRelayedCopy(a_copy, msg, a, qid)

        # A's queue: delivered after one attempt, B's reply recorded
        state, attempts, _, last_reply = a.wait_state(qid, BOB, "delivered")
        self.assertGreaterEqual(attempts, 1)
        [(b_qid, b_sender)] = b.mailbox_messages(BOB)
        self.assertEqual(b_sender, ALICE, "B's envelope sender must be the original sender")
        events = a.events(qid)
        kinds = [k for k, _, _ in events]
        self.assertEqual(kinds[0], "accepted", events)
        self.assertEqual(kinds.count("delivered"), 1, events)
        self.assertLess(kinds.index("accepted"), kinds.index("delivered"))
        self.assertNotIn("failed", kinds, events)
        [(_, rcpt, detail)] = [e for e in events if e[0] == "delivered"]
        self.assertEqual(rcpt, BOB)
        self.assertIn(f"250 2.0.0 Ok: queued as {b_qid}", detail, events)

        # the log line of the attempt, Postfix-style
        m = wait_until(lambda: a.delivery_log_match(
            qid, BOB, "sent", relay=re.escape(f"127.0.0.1[127.0.0.1]:{b.smtp_port}"),
            attempts="1"), timeout=5, what="the status=sent log line")
        self.assertTrue(m.group("reason").startswith("250 "), m.group(0))
        self.assertIn(b_qid, m.group("reason"))

    def test_local_and_remote_recipients_of_one_message(self):
        a, b = self.start_relay_pair()
        a.add_user("carol@a.test")
        b.add_user("dave@b.test")
        msg = make_message("mixed", ["one local, two remote"], sender=ALICE, to=BOB)
        qid = smtp_send(a, ALICE, ["carol@a.test", BOB, "dave@b.test"], msg)
        for addr in ("carol@a.test", BOB, "dave@b.test"):
            a.wait_state(qid, addr, "delivered")
        wait_for_mailbox_count(a, "carol@a.test", 1)
        wait_for_mailbox_count(b, BOB, 1)
        wait_for_mailbox_count(b, "dave@b.test", 1)
        self.assertStoredEndsWith(fetch_all(a, "carol@a.test")[0], msg)
        for user in (BOB, "dave@b.test"):
            [stored] = fetch_all(b, user)
            prefix = self.assertStoredEndsWith(self.assertDeliveryHeaders(stored, ALICE, user), msg)
            self.assertEqual([n for n, _ in header_fields(prefix)], ["received", "received"])
        delivered = sorted(r for k, r, _ in a.events(qid) if k == "delivered")
        self.assertEqual(delivered, sorted(["carol@a.test", BOB, "dave@b.test"]))
        # nothing else went to B: one copy per recipient, none for carol
        self.assertEqual(b.scalar("SELECT count(*) FROM recipient WHERE address = 'carol@a.test'"), 0)

    def test_several_messages_each_delivered_once(self):
        a, b = self.start_relay_pair()
        msgs = [make_message(f"burst {i}", [f"number {i}"], sender=ALICE, to=BOB) for i in range(5)]
        qids = [smtp_send(a, ALICE, [BOB], m) for m in msgs]
        for qid in qids:
            a.wait_state(qid, BOB, "delivered")
        wait_for_mailbox_count(b, BOB, 5)
        stored = fetch_all(b, BOB)
        self.assertEqual(sorted(s.split(b"\r\n\r\n", 1)[1] for s in stored),
                         sorted(m.split(b"\r\n\r\n", 1)[1] for m in msgs))

    def test_smarthost_and_specific_route(self):
        # B owns b.test and e.test; C owns c.test and routes e.test onward to B;
        # A routes b.test to B and everything else ("*") to its smarthost C.
        b = self.start_relay("b.test", start=False, extra_domains=["e.test"])
        b.add_user(BOB)
        b.add_user("erin@e.test")
        b.start()
        c = self.start_relay("c.test", start=False, routes=[("e.test", b.smtp_port)])
        c.add_user("carl@c.test")
        c.start()
        a = self.start_relay("a.test", start=False,
                             routes=[("*", c.smtp_port), ("b.test", b.smtp_port)])
        a.add_user(ALICE)
        a.start()
        to_c = make_message("via smarthost", ["for c"], sender=ALICE, to="carl@c.test")
        to_b = make_message("direct", ["for b"], sender=ALICE, to=BOB)
        to_e = make_message("two hops", ["for e via c"], sender=ALICE, to="erin@e.test")
        q1 = smtp_send(a, ALICE, ["carl@c.test"], to_c)
        q2 = smtp_send(a, ALICE, [BOB], to_b)
        q3 = smtp_send(a, ALICE, ["erin@e.test"], to_e)
        a.wait_state(q1, "carl@c.test", "delivered")
        a.wait_state(q2, BOB, "delivered")
        a.wait_state(q3, "erin@e.test", "delivered")
        wait_for_mailbox_count(c, "carl@c.test", 1)
        wait_for_mailbox_count(b, BOB, 1)
        wait_for_mailbox_count(b, "erin@e.test", 1)

        [stored_c] = fetch_all(c, "carl@c.test")
        fields = header_fields(self.assertStoredEndsWith(
            self.assertDeliveryHeaders(stored_c, ALICE, "carl@c.test"), to_c))
        self.assertEqual([n for n, _ in fields], ["received", "received"])
        self.assertIn(b"by mx.c.test", fields[0][1])
        self.assertIn(b"by mx.a.test", fields[1][1])

        # the specific route wins over "*": straight from A to B, C never saw it
        [stored_b] = fetch_all(b, BOB)
        fields = header_fields(self.assertStoredEndsWith(
            self.assertDeliveryHeaders(stored_b, ALICE, BOB), to_b))
        self.assertEqual([n for n, _ in fields], ["received", "received"])
        self.assertIn(b"by mx.b.test", fields[0][1])
        self.assertIn(b"by mx.a.test", fields[1][1])
        self.assertEqual(c.scalar("SELECT count(*) FROM recipient WHERE address = ?", (BOB,)), 0)

        # the smarthost relays onward: A -> C -> B, three Received: headers
        [stored_e] = fetch_all(b, "erin@e.test")
        fields = header_fields(self.assertStoredEndsWith(
            self.assertDeliveryHeaders(stored_e, ALICE, "erin@e.test"), to_e))
        self.assertEqual([n for n, _ in fields], ["received"] * 3)
        self.assertIn(b"by mx.b.test", fields[0][1])
        self.assertIn(b"by mx.c.test", fields[1][1])
        self.assertIn(b"by mx.a.test", fields[2][1])
        self.assertEqual(c.query("SELECT r.state FROM recipient r WHERE r.address = ?",
                                 ("erin@e.test",)), [("delivered",)])


if __name__ == "__main__":
    unittest.main()
