"""Final delivery: a message read from a maildrop starts with Return-Path (RFC 5321 4.4: the
envelope sender, <> for a bounce) and Delivered-To (RFC 9228: the mailbox), in LIST and STAT
sizes too; a Return-Path the sender wrote is removed, for mailboxes and next hops alike;
a message whose Delivered-To names one of its mailboxes is a forwarding loop, refused."""

import poplib
import re
import unittest

from missive_harness import (DOMAIN, HOST, PASSWORD, MissiveTestCase, RelayTestCase, fetch_all,
                             header_section, make_message, pop3_session, queue_id_of, smtp_send,
                             wait_for_mailbox_count, wait_until)

SENDER = "Bob.Sender@outside.test"


def with_header(msg, line):
    """The message with one more header line at the top."""
    return line.encode() + b"\r\n" + msg


class MaildropTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server()
        cls.users = [cls.server.add_user(f"fd{i}@{DOMAIN}") for i in range(8)]

    def test_return_path_and_delivered_to_read_back_with_poplib(self):
        user = self.users[0]
        msg = make_message("hello", ["body line"])
        smtp_send(self.server, SENDER, [user], msg)
        wait_for_mailbox_count(self.server, user, 1)
        pop = poplib.POP3(HOST, self.server.pop3_port, timeout=10)
        try:
            pop.user(user)
            pop.pass_(PASSWORD)
            count, octets = pop.stat()
            _, lines, _ = pop.retr(1)
            _, listing, _ = pop.list()
            _, top, _ = pop.top(1, 0)
        finally:
            pop.quit()
        retrieved = b"\r\n".join(lines) + b"\r\n"
        self.assertEqual(lines[0], f"Return-Path: <{SENDER}>".encode())
        self.assertEqual(lines[1], f"Delivered-To: {user}".encode())
        self.assertTrue(lines[2].startswith(b"Received: "), lines[:3])
        self.assertTrue(retrieved.endswith(msg), retrieved)
        # RFC 1939 5: the sizes are those of the message as RETR sends it
        self.assertEqual((count, octets), (1, len(retrieved)))
        self.assertEqual(listing, [f"1 {len(retrieved)}".encode()])
        self.assertEqual(top[:2], lines[:2])

    def test_each_mailbox_gets_its_own_delivered_to(self):
        users = self.users[1:3]
        msg = make_message("two", ["to both"])
        smtp_send(self.server, SENDER, users, msg)
        copies = {}
        for user in users:
            wait_for_mailbox_count(self.server, user, 1)
            [copies[user]] = fetch_all(self.server, user)
        rests = [self.assertDeliveryHeaders(copies[u], SENDER, u) for u in users]
        self.assertEqual(rests[0], rests[1], "one stored body, two sets of delivery headers")

    def test_return_path_written_by_the_sender_is_replaced(self):
        user = self.users[3]
        msg = make_message("forged return path", ["x"])
        sent = with_header(msg, "Return-Path: <forged@evil.test>")
        sent = sent.replace(b"\r\nSubject:", b"\r\nreturn-path:\r\n <folded@evil.test>\r\nSubject:", 1)
        smtp_send(self.server, SENDER, [user], sent)
        wait_for_mailbox_count(self.server, user, 1)
        [stored] = fetch_all(self.server, user)
        rest = self.assertDeliveryHeaders(stored, SENDER, user)
        self.assertNotIn(b"evil.test", stored)
        self.assertEqual(len(re.findall(rb"(?mi)^return-path:", header_section(stored))), 1)
        self.assertStoredEndsWith(rest, msg)

    def test_bounce_message_sender_is_null(self):
        # a message from <> (a DSN from elsewhere) reads back with Return-Path: <>
        user = self.users[4]
        smtp_send(self.server, "", [user], make_message("a bounce", ["from <>"]))
        wait_for_mailbox_count(self.server, user, 1)
        [stored] = fetch_all(self.server, user)
        self.assertDeliveryHeaders(stored, "", user)

    def test_forwarding_loop_is_refused(self):
        user = self.users[5]
        looped = with_header(make_message("loop", ["came back"]), f"Delivered-To: {user.upper()}")
        with self.server.smtp() as c:
            self.assertReply(c.ehlo(), 250)
            self.assertReply(c.cmd(f"MAIL FROM:<{SENDER}>"), 250)
            self.assertReply(c.cmd(f"RCPT TO:<{user}>"), 250)
            self.assertReply(c.cmd("DATA"), 354)
            r = c.data_bytes(looped)
            self.assertReply(r, 554, "5.4.6")
            self.assertEqual(r.after_enhanced, f"Error: mail forwarding loop for <{user}>")
        self.assertEqual(self.server.scalar("SELECT count(*) FROM recipient WHERE address = ?",
                                            (user,)), 0)
        wait_until(lambda: re.search(
            rf"reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: 554 5\.4\.6 Error: mail "
            rf"forwarding loop for <{re.escape(user)}>; from=<{re.escape(SENDER)}> "
            rf"to=<{re.escape(user)}>", self.server.read_log()), what="the reject line")

    def test_delivered_to_another_mailbox_is_no_loop(self):
        user = self.users[6]
        msg = with_header(make_message("forwarded", ["from elsewhere"]),
                          "Delivered-To: someone@elsewhere.test")
        smtp_send(self.server, SENDER, [user], msg)
        wait_for_mailbox_count(self.server, user, 1)
        [stored] = fetch_all(self.server, user)
        self.assertStoredEndsWith(self.assertDeliveryHeaders(stored, SENDER, user), msg)


class RelayedTest(RelayTestCase):

    def test_relayed_mail_has_no_return_path_or_delivered_to(self):
        fake = self.fake_smtp()
        a = self.start_relay("a.test", routes=[("x.test", fake.port)])
        msg = make_message("onward", ["to the next hop"], sender="alice@a.test", to="rcpt@x.test")
        sent = with_header(msg, "Return-Path: <forged@evil.test>")
        smtp_send(a, "alice@a.test", ["rcpt@x.test"], sent)
        [transaction] = fake.wait_transactions(1)
        data = transaction.data
        self.assertNotIn(b"Return-Path", data)
        self.assertNotIn(b"Delivered-To", data)
        # the relay's Received: on top, then exactly what was sent without the sender's field
        self.assertTrue(data.startswith(b"Received: "), data[:200])
        self.assertTrue(data.endswith(msg), data)

    def test_bounce_reads_back_with_null_return_path_and_is_logged(self):
        fake = self.fake_smtp(rcpt_reply=lambda addr, n: "550 5.1.1 No such user here")
        a = self.start_relay("a.test", start=False, routes=[("x.test", fake.port)])
        a.add_user("alice@a.test")
        a.start()
        qid = smtp_send(a, "alice@a.test", ["nobody@x.test"],
                        make_message("bounces", ["x"], sender="alice@a.test", to="nobody@x.test"))
        wait_for_mailbox_count(a, "alice@a.test", 1)
        [(dsn_qid, sender)] = a.mailbox_messages("alice@a.test")
        self.assertEqual(sender, "")
        [stored] = fetch_all(a, "alice@a.test")
        self.assertDeliveryHeaders(stored, "", "alice@a.test")
        # the DSN's creation and its delivery each have their line, under the right queue id
        wait_until(lambda: f"{qid}: sender non-delivery notification: {dsn_qid}\n" in a.read_log(),
                   what="the notification line")
        wait_until(lambda: re.search(rf"{dsn_qid}: to=<alice@a\.test>, relay=local, delay=\d+, "
                                     rf"attempts=1, status=sent", a.read_log()),
                   what="the DSN's delivery line")


if __name__ == "__main__":
    unittest.main()
