"""The outbound SMTP client against scripted next hops: HELO fallback, no PIPELINING, a
5xx after DATA bounces every recipient in one DSN, and hostile replies (endless or
over-long) end the session and defer, without hurting the relay."""

import socket
import time
import unittest

from missive_harness import (FakeSmtpServer, RelayTestCase, fetch_all, make_message,
                             smtp_send, wait_for_mailbox_count, wait_until)

ALICE = "alice@a.test"


def endless_greeting(conn, index):
    """Send a multi-line greeting that never ends, until the client hangs up (bounded)."""
    chunk = b"220-fake.x.test still greeting you\r\n" * 2000
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            conn.sendall(chunk)
    except OSError:
        pass
    return True


def overlong_greeting(conn, index):
    """Send one reply line far beyond the 512 octets of RFC 5321 4.5.3.1.5, never ending it,
    then wait (bounded) for the client to hang up."""
    try:
        conn.sendall(b"220 " + b"x" * 200000)
        conn.settimeout(20)
        while conn.recv(4096):
            pass
    except OSError:
        pass
    return True


class OutboundClientTest(RelayTestCase):

    def relay_to(self, fake):
        a = self.start_relay("a.test", start=False, routes=[("x.test", fake.port)])
        a.add_user(ALICE)
        a.start()
        return a

    def test_helo_fallback_when_ehlo_is_refused(self):
        fake = self.fake_smtp(ehlo_reply="502 5.5.1 Error: command not implemented")
        a = self.relay_to(fake)
        msg = make_message("helo only", [".dot", "..two", "plain"], sender=ALICE, to="x@x.test")
        qid = smtp_send(a, ALICE, ["x@x.test"], msg)
        [t] = fake.wait_transactions(1)
        a.wait_state(qid, "x@x.test", "delivered")
        verbs = [line.split()[0].upper() for _, line in fake.commands if line.strip()]
        self.assertEqual(verbs[:2], ["EHLO", "HELO"], fake.commands)
        self.assertNotIn(" BODY=", " ".join(line.upper() for _, line in fake.commands),
                         "no ESMTP parameters after a HELO")
        self.assertEqual(t.rcpts, ["x@x.test"])
        self.assertRelayedCopy(t.data, msg, a, qid)

    def test_next_hop_without_pipelining(self):
        fake = self.fake_smtp(features=("8BITMIME", "ENHANCEDSTATUSCODES"))
        a = self.relay_to(fake)
        msg = make_message("no pipelining", ["x"], sender=ALICE, to="x@x.test")
        qid = smtp_send(a, ALICE, ["x@x.test", "y@x.test"], msg)
        a.wait_state(qid, "x@x.test", "delivered")
        a.wait_state(qid, "y@x.test", "delivered")
        got = sorted(r for t in fake.transactions for r in t.rcpts)
        self.assertEqual(got, ["x@x.test", "y@x.test"])
        for t in fake.transactions:
            self.assertRelayedCopy(t.data, msg, a, qid)

    def test_5xx_after_data_bounces_all_recipients_in_one_dsn(self):
        fake = self.fake_smtp(data_reply=lambda n: "554 5.6.0 Message content rejected")
        a = self.relay_to(fake)
        msg = make_message("content rejected", ["x"], sender=ALICE, to="x@x.test")
        qid = smtp_send(a, ALICE, ["x@x.test", "y@x.test"], msg)
        for r in ("x@x.test", "y@x.test"):
            state, attempts, _, last_reply = a.wait_state(qid, r, "failed")
            self.assertEqual(attempts, 1)
            self.assertIn("554 5.6.0 Message content rejected", last_reply or "")
        wait_for_mailbox_count(a, ALICE, 1)
        [(_, sender)] = a.mailbox_messages(ALICE)
        self.assertEqual(sender, "")
        [raw] = fetch_all(a, ALICE)
        dsn = self.assertDsn(raw, "mx.a.test", {"x@x.test": r"5\.6\.0", "y@x.test": r"5\.6\.0"},
                             subject="content rejected", original_sender=ALICE)
        for r in ("x@x.test", "y@x.test"):
            self.assertIn("554 5.6.0", dsn.recipient(r)["diagnostic-code"])
        a.wait_quiet()
        self.assertEqual(len(a.mailbox_messages(ALICE)), 1)
        self.assertEqual(len(fake.transactions), 1, "a 5xx is not retried")

    def assertHostileHopDeferred(self, on_connect):
        fake = self.fake_smtp(on_connect=on_connect)
        a = self.relay_to(fake)
        qid = smtp_send(a, ALICE, ["x@x.test"],
                        make_message("hostile", ["x"], sender=ALICE, to="x@x.test"))
        state, attempts, _, _ = a.wait_state(qid, "x@x.test", "deferred", timeout=15)
        self.assertGreaterEqual(attempts, 1)
        self.assertEqual(fake.transactions, [])
        # the relay is unharmed: it still answers and takes mail at once
        t0 = time.monotonic()
        a.add_user("carol@a.test")
        smtp_send(a, ALICE, ["carol@a.test"], make_message("still alive", ["x"]))
        wait_for_mailbox_count(a, "carol@a.test", 1)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertTrue(a.running())

    def test_one_connection_carries_the_queue_and_rsets_only_after_a_failed_transaction(self):
        """Messages waiting for one next hop go over one connection. A transaction that got
        its reply to the final dot is over (RFC 5321 4.1.1.4), so the next MAIL follows it
        at once; after one that stopped short of the data (its only RCPT refused), RSET comes
        first. Every result is recorded, the last ones before the connection's slot is free."""
        port = self.reserved_port()
        a = self.start_relay("a.test", start=False, routes=[("x.test", port)],
                             queue={"retry_initial": "1h", "retry_max": "1h", "max_lifetime": "1d"})
        a.add_user(ALICE)
        a.start()
        rcpts = ["x1@x.test", "later@x.test", "x3@x.test", "x4@x.test", "x5@x.test"]
        qids = [smtp_send(a, ALICE, [r], make_message(f"batch {i}", ["x"], sender=ALICE, to=r))
                for i, r in enumerate(rcpts)]
        for qid, r in zip(qids, rcpts):
            a.wait_state(qid, r, "deferred")  # nothing listens yet: refused
        fake = FakeSmtpServer(port=port, rcpt_reply=lambda addr, n:
                              "451 4.7.1 later" if addr == "later@x.test" else None)
        self.addCleanup(fake.stop)
        r = a.cli("queue", "flush")
        self.assertEqual(r.returncode, 0, r.stderr)
        for qid, r in zip(qids, rcpts):
            if r == "later@x.test":
                wait_until(lambda: a.recipient(qid, r)[1] == 2, timeout=10, what="a second attempt")
                self.assertEqual(a.recipient(qid, r)[0], "deferred")
            else:
                a.wait_state(qid, r, "delivered")
        self.assertEqual(len(fake.transactions), 4)
        self.assertEqual({index for index, _ in fake.commands}, {0}, "one connection")
        # The transactions as the next hop saw them: each MAIL's RCPT, and what came before.
        verbs = [(line.split()[0].upper(), line) for _, line in fake.commands if line.strip()]
        before_mail = []
        last_rcpt = None
        for i, (verb, line) in enumerate(verbs):
            if verb == "MAIL":
                before_mail.append((verbs[i - 1][0], last_rcpt))
            elif verb == "RCPT":
                last_rcpt = line
        self.assertEqual(len(before_mail), 5, verbs)
        self.assertEqual(before_mail[0][0], "EHLO", verbs)
        for verb, previous_rcpt in before_mail[1:]:
            expected = "RSET" if "later@x.test" in previous_rcpt else "DATA"
            self.assertEqual(verb, expected, verbs)
        # (DATA: the last line of a delivered transaction the fake logs is DATA itself; the
        # content is not logged as commands.)

    def test_endless_reply_ends_the_session_and_defers(self):
        self.assertHostileHopDeferred(endless_greeting)

    def test_overlong_reply_line_ends_the_session_and_defers(self):
        self.assertHostileHopDeferred(overlong_greeting)


if __name__ == "__main__":
    unittest.main()
