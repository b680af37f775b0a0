"""Nothing is lost while the next hop is away: a stopped next hop means deferral with
backoff, then exactly one delivery once it is back; a next hop that dies after DATA
before replying gets the message again (the one duplicate SMTP allows); 4xx replies are
retried on a seconds-scale schedule capped at retry_max."""

import time
import unittest

from missive_harness import (FakeSmtpServer, RelayTestCase, fetch_all, header_fields,
                             make_message, smtp_send, wait_for_mailbox_count, wait_until)

ALICE = "alice@a.test"
BOB = "bob@b.test"


class NextHopDownTest(RelayTestCase):

    def test_b_stopped_then_started_exactly_one_copy(self):
        port = self.reserved_port()  # refused until B starts on it
        a, b = self.start_relay_pair(b_smtp_port=port, start_b=False)
        msg = make_message("while b is down", ["patience"], sender=ALICE, to=BOB)
        qid = smtp_send(a, ALICE, [BOB], msg)  # A accepts: 250 (asserted by smtp_send)

        state, attempts, next_at, _ = a.wait_state(qid, BOB, "deferred")
        self.assertGreaterEqual(attempts, 1)
        self.assertGreater(next_at, time.time() - 1, "next attempt must lie ahead")
        [(kind, rcpt, detail)] = a.wait_event(qid, "deferred")[:1]
        self.assertEqual(rcpt, BOB)
        self.assertRegex(detail, rf"127\.0\.0\.1(\[127\.0\.0\.1\])?:{port}\b")
        self.assertRegex(detail, "(?i)connection refused")
        m = a.wait_delivery_log(qid, BOB, "deferred", attempts="1")
        self.assertRegex(m.group("reason"), "(?i)connection refused")
        self.assertEqual(a.recipient(qid, BOB)[0], "deferred")

        b.start()
        self.assertEqual(b.smtp_port, port)
        a.wait_state(qid, BOB, "delivered", timeout=10)
        wait_for_mailbox_count(b, BOB, 1)
        # stays at one copy: nothing is left to try again
        a.wait_quiet()
        self.assertEqual(a.recipient(qid, BOB)[0], "delivered")
        wait_for_mailbox_count(b, BOB, 1, timeout=0)
        self.assertEqual(b.message_count(), 1)
        [stored] = fetch_all(b, BOB)
        prefix = self.assertStoredEndsWith(self.assertDeliveryHeaders(stored, ALICE, BOB), msg)
        self.assertEqual([n for n, _ in header_fields(prefix)], ["received", "received"])
        kinds = [k for k, _, _ in a.events(qid)]
        self.assertEqual(kinds[0], "accepted")
        self.assertEqual(kinds[-1], "delivered")
        self.assertEqual(kinds.count("delivered"), 1)
        self.assertGreaterEqual(kinds.count("deferred"), 1)
        a.wait_delivery_log(qid, BOB, "sent", relay=rf"127\.0\.0\.1\[127\.0\.0\.1\]:{port}")

    def test_schedule_survives_a_restart_of_the_sender(self):
        port = self.reserved_port()  # refused until B starts on it
        a, b = self.start_relay_pair(b_smtp_port=port, start_b=False)
        qid = smtp_send(a, ALICE, [BOB], make_message("restart", ["x"], sender=ALICE, to=BOB))
        a.wait_state(qid, BOB, "deferred")
        self.assertEqual(a.stop(), 0)
        b.start()
        a.start()
        a.wait_state(qid, BOB, "delivered", timeout=10)
        wait_for_mailbox_count(b, BOB, 1)
        a.wait_quiet()
        wait_for_mailbox_count(b, BOB, 1, timeout=0)


class FlakyNextHopTest(RelayTestCase):

    def relay_to_fake(self, fake, queue=None):
        a = self.start_relay("a.test", start=False, routes=[("x.test", fake.port)], queue=queue)
        a.add_user(ALICE)
        a.start()
        return a

    def test_dies_after_data_before_replying_gets_it_again(self):
        fake = self.fake_smtp(data_reply=lambda n: FakeSmtpServer.CLOSE if n == 0 else None)
        a = self.relay_to_fake(fake)
        msg = make_message("die after data", [".dot", "body"], sender=ALICE, to="xavier@x.test")
        qid = smtp_send(a, ALICE, ["xavier@x.test"], msg)
        first, second = fake.wait_transactions(2, timeout=10)[:2]
        self.assertEqual(first.outcome, FakeSmtpServer.CLOSE)
        self.assertTrue(second.outcome.startswith("250"))
        state, attempts, _, _ = a.wait_state(qid, "xavier@x.test", "delivered")
        self.assertEqual(attempts, 2)
        for t in (first, second):
            self.assertEqual(t.mail_from, ALICE)
            self.assertEqual(t.rcpts, ["xavier@x.test"])
            self.assertRelayedCopy(t.data, msg, a, qid)
        self.assertEqual(first.data, second.data)
        kinds = [k for k, _, _ in a.events(qid)]
        self.assertEqual(kinds, ["accepted", "deferred", "delivered"], a.events(qid))
        a.wait_quiet()
        self.assertEqual(len(fake.transactions), 2, fake.transactions)

    def test_4xx_at_rcpt_is_retried(self):
        fake = self.fake_smtp(rcpt_reply=lambda addr, n:
                              "451 4.3.0 Try again later" if n == 0 else None)
        a = self.relay_to_fake(fake)
        qid = smtp_send(a, ALICE, ["xena@x.test"],
                        make_message("451 once", ["x"], sender=ALICE, to="xena@x.test"))
        [(_, rcpt, detail)] = a.wait_event(qid, "deferred")
        self.assertEqual(rcpt, "xena@x.test")
        self.assertIn("451 4.3.0 Try again later", detail)
        state, attempts, _, _ = a.wait_state(qid, "xena@x.test", "delivered", timeout=10)
        self.assertEqual(attempts, 2)
        [t] = fake.wait_transactions(1)
        self.assertEqual(t.rcpts, ["xena@x.test"])
        a.wait_delivery_log(qid, "xena@x.test", "deferred", attempts="1")
        a.wait_delivery_log(qid, "xena@x.test", "sent",
                            relay=rf"127\.0\.0\.1\[127\.0\.0\.1\]:{fake.port}", attempts="2")

    def test_4xx_after_data_is_retried(self):
        fake = self.fake_smtp(data_reply=lambda n:
                              "452 4.3.1 Insufficient system storage" if n == 0 else None)
        a = self.relay_to_fake(fake)
        qid = smtp_send(a, ALICE, ["xena@x.test"],
                        make_message("452 once", ["x"], sender=ALICE, to="xena@x.test"))
        a.wait_state(qid, "xena@x.test", "delivered", timeout=10)
        [(_, _, detail)] = [e for e in a.events(qid) if e[0] == "deferred"]
        self.assertIn("452 4.3.1 Insufficient system storage", detail)
        self.assertEqual(len(fake.wait_transactions(2)), 2)

    def test_backoff_doubles_and_is_capped_at_retry_max(self):
        # retry_initial 1s, retry_max 2s: attempts about 1 s, 2 s, 2 s, 2 s apart
        # (uncapped doubling would be 1, 2, 4, 8).
        fake = self.fake_smtp(rcpt_reply=lambda addr, n: "450 4.2.0 Mailbox busy")
        # Five attempts take 7 to 11 s: a lifetime longer than the harness's 8 s.
        a = self.relay_to_fake(fake, queue={"retry_initial": "1s", "retry_max": "2s",
                                            "max_lifetime": "60s"})
        qid = smtp_send(a, ALICE, ["busy@x.test"],
                        make_message("backoff", ["x"], sender=ALICE, to="busy@x.test"))
        seen = fake.wait_rcpts("busy@x.test", 5, timeout=20)
        times = [t for t, _ in seen[:5]]
        gaps = [round(b - a_, 2) for a_, b in zip(times, times[1:])]
        # Jitter is +-20% and delays are whole seconds, so they are exactly 1, 2, 2, 2 s.
        # next_attempt_at is kept in whole seconds counted from the next whole second: a
        # retry is never early, and up to 1 s late.
        self.assertGreaterEqual(gaps[0], 0.9, f"first retry after {gaps[0]} s: {gaps}")
        self.assertLessEqual(gaps[0], 2.5, f"first retry after {gaps[0]} s: {gaps}")
        for g in gaps[1:]:
            self.assertGreaterEqual(g, 1.9, f"a retry came before its 2 s: {gaps}")
        for g in gaps:
            self.assertLessEqual(g, 3.5, f"retries must be capped at retry_max (2 s): {gaps}")
        state, attempts, next_at, last_reply = wait_until(
            lambda: (lambda r: r if r[1] >= 5 else None)(a.recipient(qid, "busy@x.test")),
            timeout=5, what="attempts >= 5 recorded")
        self.assertEqual(state, "deferred")
        self.assertIn("450 4.2.0 Mailbox busy", last_reply or "")


if __name__ == "__main__":
    unittest.main()
