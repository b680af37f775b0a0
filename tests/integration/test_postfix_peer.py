"""Postfix as a peer (Debian's postfix, a private instance on a high port of 127.0.0.1,
tests/lib/postfix_peer.py): Postfix sends to missived with the DSN parameters it was given
(over DATA: Postfix's SMTP client has no BDAT, only its server has, since Postfix 3.4;
inbound BDAT is tested with raw sockets in test_chunking and between two missived in
test_relay_forwarding); missived forwards to Postfix with BDAT and passes its DSN
parameters on, so Postfix, relaying on to a next hop without DSN, sends the "relayed"
report itself. The message arrives byte for byte on both sides."""

import smtplib
import unittest

from missive_harness import (HOST, RelayTestCase, fetch_all, make_message, parse_dsn,
                             queue_id_of, wait_for_mailbox_count)
from postfix_peer import PostfixPeer

ALICE = "alice@a.test"
BOB = "bob@a.test"


class PostfixPeerTest(RelayTestCase):

    def start_postfix(self, routes):
        peer = PostfixPeer(routes)
        self.addCleanup(peer.cleanup)
        try:
            peer.start()
        except Exception:
            print(peer.log()[-4000:])
            raise
        return peer

    def relay(self, routes=()):
        a = self.start_relay("a.test", start=False, routes=routes)
        a.add_user(ALICE)
        a.add_user(BOB)
        a.start()
        return a

    def test_postfix_sends_to_missived_with_bdat_and_dsn(self):
        a = self.relay()
        postfix = self.start_postfix({"a.test": a.smtp_port})
        msg = make_message("from postfix", ["a line", ".leading dot", "8bit? no, plain"],
                           sender=ALICE, to=BOB)
        with smtplib.SMTP(HOST, postfix.port, timeout=30) as s:
            s.ehlo("client.test")
            refused = s.sendmail(ALICE, [BOB], msg, mail_options=["RET=FULL", "ENVID=PF+2B1"],
                                 rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob@a.test"])
            self.assertEqual(refused, {})
        wait_for_mailbox_count(a, BOB, 1, timeout=30)
        [stored] = fetch_all(a, BOB)
        self.assertStoredEndsWith(stored, msg)
        [(ret, envid, notify, orcpt)] = a.query(
            "SELECT m.dsn_ret, m.dsn_envid, r.dsn_notify, r.dsn_orcpt FROM message m "
            "JOIN recipient r ON r.message_id = m.id WHERE r.address = ?", (BOB,))
        self.assertEqual((ret, envid, notify, orcpt), (1, "PF+1", 3, "rfc822;bob@a.test"))
        # SUCCESS asked, delivered here: missived reports it (Postfix passed NOTIFY on).
        wait_for_mailbox_count(a, ALICE, 1, timeout=30)
        [report] = fetch_all(a, ALICE)
        dsn = parse_dsn(report)
        self.assertEqual(dsn.per_message["original-envelope-id"], "PF+1")
        self.assertEqual(dsn.per_message["reporting-mta"], "dns; mx.a.test")
        [block] = dsn.per_recipient
        self.assertEqual(block["action"], "delivered")
        self.assertEqual(block["original-recipient"], "rfc822;bob@a.test")
        postfix.wait_log(r"status=sent \(250 2\.0\.0 Ok: queued as ")

    def test_missived_forwards_to_postfix_with_bdat_and_dsn(self):
        fake = self.fake_smtp()  # the hop after Postfix: no DSN, no CHUNKING
        a_port = self.reserved_port()  # each routes to the other: ports fixed before start
        postfix = self.start_postfix({"x.test": fake.port, "a.test": a_port})
        a = self.start_relay("a.test", start=False, routes=[("x.test", postfix.port)],
                             smtp_port=a_port)
        a.add_user(ALICE)
        a.start()

        msg = make_message("to postfix", ["a line", ".leading dot", "..two dots", "end"],
                           sender=ALICE, to="carol@x.test")
        with a.smtp() as c:
            self.assertReply(c.ehlo(), 250)
            self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}> RET=HDRS ENVID=MS+2B2"), 250)
            self.assertReply(c.cmd("RCPT TO:<carol@x.test> NOTIFY=SUCCESS,FAILURE "
                                   "ORCPT=rfc822;Carol@x.test"), 250)
            self.assertReply(c.cmd("DATA"), 354)
            qid = queue_id_of(c.data_bytes(msg))
        a.wait_state(qid, "carol@x.test", "delivered", timeout=30)
        [t] = fake.wait_transactions(1, timeout=30)
        self.assertEqual(t.rcpts, ["carol@x.test"])
        self.assertStoredEndsWith(t.data, msg)  # byte for byte through missived and Postfix
        # missived spoke BDAT to Postfix (smtpd counts the commands of each session).
        postfix.wait_log(r"disconnect from \S+ ehlo=1 mail=1 rcpt=1 bdat=1 quit=1")
        # Postfix took NOTIFY on (it speaks DSN) and reports "relayed" itself, to alice here.
        try:
            wait_for_mailbox_count(a, ALICE, 1, timeout=30)
        except AssertionError:
            print(postfix.log()[-4000:])
            raise
        [report] = fetch_all(a, ALICE)
        dsn = parse_dsn(report)
        self.assertEqual(dsn.per_message["original-envelope-id"], "MS+2")
        self.assertIn("postfix.peer.test", dsn.per_message["reporting-mta"])
        [block] = dsn.per_recipient
        self.assertEqual(block["action"], "relayed")
        self.assertEqual(block["original-recipient"], "rfc822;Carol@x.test")


if __name__ == "__main__":
    unittest.main()
