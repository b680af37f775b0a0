"""What the queue keeps, and for how long: a finished message and its history are removed
once [queue] keep_history has passed since its last attempt (a message a maildrop still
holds stays); mail for a postmaster who has no mailbox expires after max_lifetime like any
other message, with a bounce to its sender."""

import unittest

from missive_harness import (RelayTestCase, fetch_all, make_message, smtp_send,
                             wait_for_mailbox_count, wait_until)

ALICE = "alice@a.test"


class RetentionTest(RelayTestCase):

    def test_finished_history_goes_after_keep_history(self):
        fake = self.fake_smtp()
        a = self.start_relay("a.test", start=False, routes=[("x.test", fake.port)],
                             queue={"keep_history": "2s"})
        a.add_user(ALICE)
        a.start()
        kept = smtp_send(a, "sender@x.test", [ALICE], make_message("in a maildrop", ["x"]))
        relayed = smtp_send(a, ALICE, ["rcpt@x.test"],
                            make_message("relayed", ["y"], sender=ALICE, to="rcpt@x.test"))
        a.wait_state(relayed, "rcpt@x.test", "delivered")
        r = a.cli("queue", "show", relayed)
        self.assertEqual(r.returncode, 0, r.stderr)

        def gone():
            return a.scalar("SELECT count(*) FROM message WHERE queue_id = ?", (relayed,)) == 0
        wait_until(gone, timeout=15, what="the finished message to be removed")
        self.assertEqual(a.scalar("SELECT count(*) FROM recipient WHERE address = 'rcpt@x.test'"), 0)
        self.assertEqual(a.scalar("SELECT count(*) FROM event"), 0, "its history went with it")
        self.assertNotEqual(a.cli("queue", "show", relayed).returncode, 0)
        # the message in alice's maildrop is not finished with: it stays, readable
        self.assertEqual([q for q, _ in a.mailbox_messages(ALICE)], [kept])
        self.assertEqual(len(fetch_all(a, ALICE)), 1)
        self.assertRegex(a.read_log(), r"event=history_removed messages=1\b")

    def test_keep_history_is_checked_as_a_duration(self):
        a = self.start_relay("a.test", start=False, queue={"keep_history": "forever"})
        r = a.cli("serve", "--config", a.config_path)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("queue.keep_history", r.stderr)


class PostmasterExpiryTest(RelayTestCase):

    def test_postmaster_mail_without_a_mailbox_expires_with_a_bounce(self):
        a = self.start_relay("a.test", start=False, queue={"max_lifetime": "3s"})
        a.add_user(ALICE)
        a.start()
        qid = smtp_send(a, ALICE, ["postmaster@a.test"], make_message("to nobody yet", ["x"]))
        a.wait_state(qid, "postmaster@a.test", "deferred")
        a.wait_state(qid, "postmaster@a.test", "failed", timeout=15)
        [(kind, rcpt, _)] = [e for e in a.events(qid) if e[0] == "expired"]
        self.assertEqual(rcpt, "postmaster@a.test")
        wait_for_mailbox_count(a, ALICE, 1)
        [(dsn_qid, sender)] = a.mailbox_messages(ALICE)
        self.assertEqual(sender, "")
        [raw] = fetch_all(a, ALICE)
        self.assertDsn(self.assertDeliveryHeaders(raw, "", ALICE), "mx.a.test",
                       {"postmaster@a.test": r"4\.4\.7"}, original_sender=ALICE)
        a.wait_delivery_log(qid, "postmaster@a.test", "expired", relay="local")


if __name__ == "__main__":
    unittest.main()
