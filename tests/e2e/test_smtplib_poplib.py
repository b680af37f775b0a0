"""End to end with clients no one here wrote: Python's smtplib and poplib."""

import email
import email.policy
import poplib
import smtplib
import unittest
from email.message import EmailMessage

from missive_harness import (DOMAIN, HOST, PASSWORD, MissiveTestCase, make_message, unique_users,
                             wait_for_mailbox_count)

ALICE = f"alice@{DOMAIN}"
BIG_LIMIT = 12 * 1024 * 1024


def tricky_body():
    lines = [b".", b"..", b".starts with a dot", b"...", b"", b" . ", b"end."]
    high = bytes(range(0x80, 0x100))
    lines += [high[i:i + 16] for i in range(0, 128, 16)]
    lines += [b"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa8", b"."]
    return lines


def ten_mib_message():
    head = make_message("ten mebibytes", [])
    line_len = 76
    n_lines = (10 * 1024 * 1024) // (line_len + 2) + 1
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    body = bytearray()
    for i in range(n_lines):
        if i % 1000 == 0:
            body += b"." + b"%075d" % i + b"\r\n"  # dot lines sprinkled through
        else:
            start = i % len(alphabet)
            line = (alphabet[start:] + alphabet[:start]) * 2
            body += line[:line_len] + b"\r\n"
    msg = head + bytes(body)
    assert len(msg) >= 10 * 1024 * 1024
    return msg


class SmtplibPoplibTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server(f"[smtp]\nmax_message_size = {BIG_LIMIT}\n")
        cls.pool = unique_users(cls.server, "e", 14)

    def fresh_user(self):
        return self.pool.pop()

    def smtp(self):
        s = smtplib.SMTP(HOST, self.server.smtp_port, local_hostname="client.example.test", timeout=30)
        self.addCleanup(s.close)
        return s

    def pop(self, user, password=PASSWORD):
        p = poplib.POP3(HOST, self.server.pop3_port, timeout=30)
        self.addCleanup(p.close)
        p.user(user)
        p.pass_(password)
        return p

    @staticmethod
    def joined(lines):
        return b"".join(l + b"\r\n" for l in lines)

    def retr_all(self, user):
        p = self.pop(user)
        count, _ = p.stat()
        msgs = []
        for i in range(1, count + 1):
            resp, lines, octets = p.retr(i)
            self.assertTrue(resp.startswith(b"+OK"), resp)
            msgs.append(self.joined(lines))
        p.quit()
        return msgs

    def test_ehlo_features(self):
        s = self.smtp()
        code, _ = s.ehlo()
        self.assertEqual(code, 250)
        for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "smtputf8"):
            self.assertTrue(s.has_extn(ext), ext)
        self.assertEqual(s.esmtp_features["size"], str(BIG_LIMIT))
        code, msg = s.noop()
        self.assertEqual(code, 250)
        self.assertTrue(msg.startswith(b"2.0.0"), msg)
        self.assertEqual(s.verify("bob")[0], 252)
        self.assertEqual(s.quit()[0], 221)

    def test_round_trip_byte_exact(self):
        user = self.fresh_user()
        msg = make_message("tricky via smtplib", tricky_body(), to=user)
        s = self.smtp()
        refused = s.sendmail(ALICE, [user], msg, mail_options=["BODY=8BITMIME"])
        self.assertEqual(refused, {})
        s.quit()
        wait_for_mailbox_count(self.server, user, 1)
        [stored] = self.retr_all(user)
        prefix = self.assertStoredEndsWith(stored, msg)
        self.assertIn(b"Received:", prefix)

    def test_ten_mib_body(self):
        user = self.fresh_user()
        msg = ten_mib_message()
        s = self.smtp()
        self.assertEqual(s.sendmail(ALICE, [user], msg), {})
        s.quit()
        wait_for_mailbox_count(self.server, user, 1)
        p = self.pop(user)
        count, total = p.stat()
        self.assertEqual(count, 1)
        resp, lines, octets = p.retr(1)
        stored = self.joined(lines)
        self.assertEqual(total, len(stored))
        self.assertEqual(p.list(1), f"+OK 1 {len(stored)}".encode())
        p.quit()
        if not stored.endswith(msg):
            self.fail(f"10 MiB body differs: sent {len(msg)} octets, got {len(stored)}")
        self.assertLess(len(stored) - len(msg), 2000)

    def test_several_recipients_each_get_one_copy(self):
        users = [self.fresh_user() for _ in range(3)]
        msg = make_message("to three via smtplib", ["hello all"])
        s = self.smtp()
        self.assertEqual(s.sendmail(ALICE, users, msg), {})
        s.quit()
        for u in users:
            wait_for_mailbox_count(self.server, u, 1)
            [stored] = self.retr_all(u)
            self.assertStoredEndsWith(stored, msg)

    def test_unknown_recipient_refused(self):
        user = self.fresh_user()
        s = self.smtp()
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
            s.sendmail(ALICE, [f"nobody@{DOMAIN}"], make_message("x", ["y"]))
        code, text = cm.exception.recipients[f"nobody@{DOMAIN}"]
        self.assertEqual(code, 550)
        self.assertTrue(text.startswith(b"5.1.1"), text)
        msg = make_message("partial", ["one good, one bad"])
        refused = s.sendmail(ALICE, [f"nobody@{DOMAIN}", user], msg)
        self.assertEqual(list(refused), [f"nobody@{DOMAIN}"])
        self.assertEqual(refused[f"nobody@{DOMAIN}"][0], 550)
        s.quit()
        wait_for_mailbox_count(self.server, user, 1)

    def test_email_api_message(self):
        user = self.fresh_user()
        m = EmailMessage()
        m["From"] = ALICE
        m["To"] = user
        m["Subject"] = "Grüße — an attachment"
        m.set_content("Hällo,\n.\nsee attached.\n")
        blob = bytes(range(256)) * 40
        m.add_attachment(blob, maintype="application", subtype="octet-stream", filename="blob.bin")
        s = self.smtp()
        self.assertEqual(s.send_message(m), {})
        s.quit()
        wait_for_mailbox_count(self.server, user, 1)
        [stored] = self.retr_all(user)
        parsed = email.message_from_bytes(stored, policy=email.policy.default)
        self.assertEqual(parsed["Subject"], "Grüße — an attachment")
        self.assertEqual(len(parsed.get_all("Message-ID")), 1)
        self.assertEqual(len(parsed.get_all("Date")), 1)
        self.assertIsNotNone(parsed["Received"])
        text, att = list(parsed.iter_parts())
        self.assertEqual(text.get_content().replace("\r\n", "\n"), "Hällo,\n.\nsee attached.\n")
        self.assertEqual(att.get_content(), blob)
        self.assertEqual(att.get_filename(), "blob.bin")

    def test_poplib_commands(self):
        user = self.fresh_user()
        msgs = [make_message(f"pop {i}", [f"body {i}", "second line", "third line"]) for i in range(3)]
        s = self.smtp()
        for m in msgs:
            self.assertEqual(s.sendmail(ALICE, [user], m), {})
        s.quit()
        wait_for_mailbox_count(self.server, user, 3)
        p = self.pop(user)
        caps = p.capa()
        for cap in ("USER", "UIDL", "TOP", "RESP-CODES", "PIPELINING", "SASL"):
            self.assertIn(cap, caps)
        self.assertIn("PLAIN", caps["SASL"])
        count, size = p.stat()
        self.assertEqual(count, 3)
        resp, listing, _ = p.list()
        self.assertEqual(len(listing), 3)
        self.assertEqual(sum(int(l.split()[1]) for l in listing), size)
        resp, uids, _ = p.uidl()
        uids = [u.split()[1] for u in uids]
        self.assertEqual(len(set(uids)), 3)
        self.assertEqual(p.uidl(2).split()[2], uids[1])
        resp, top, _ = p.top(2, 1)
        full = self.joined(p.retr(2)[1])
        self.assertStoredEndsWith(full, msgs[1])
        self.assertEqual(self.joined(top), full[:full.index(b"\r\n\r\n") + 4] + b"body 1\r\n")
        self.assertTrue(p.dele(1).startswith(b"+OK"))
        with self.assertRaises(poplib.error_proto):
            p.retr(1)
        self.assertTrue(p.rset().startswith(b"+OK"))
        self.assertEqual(p.stat()[0], 3)
        self.assertTrue(p.dele(3).startswith(b"+OK"))
        self.assertTrue(p.noop().startswith(b"+OK"))
        self.assertTrue(p.quit().startswith(b"+OK"))
        p2 = self.pop(user)
        self.assertEqual(p2.stat()[0], 2)
        resp, uids2, _ = p2.uidl()
        self.assertEqual([u.split()[1] for u in uids2], uids[:2])
        p2.quit()

    def test_poplib_errors(self):
        user = self.fresh_user()
        p = poplib.POP3(HOST, self.server.pop3_port, timeout=30)
        self.addCleanup(p.close)
        p.user(user)
        with self.assertRaises(poplib.error_proto) as cm:
            p.pass_("wrong")
        self.assertTrue(cm.exception.args[0].startswith(b"-ERR [AUTH]"), cm.exception.args)
        p1 = self.pop(user)
        p2 = poplib.POP3(HOST, self.server.pop3_port, timeout=30)
        self.addCleanup(p2.close)
        p2.user(user)
        with self.assertRaises(poplib.error_proto) as cm:
            p2.pass_(PASSWORD)
        self.assertTrue(cm.exception.args[0].startswith(b"-ERR [IN-USE]"), cm.exception.args)
        p1.quit()


class SmtplibSizeLimitTest(MissiveTestCase):
    LIMIT = 20000

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server(f"[smtp]\nmax_message_size = {cls.LIMIT}\n")
        cls.bob = cls.server.add_user(f"bob@{DOMAIN}")

    def smtp(self):
        s = smtplib.SMTP(HOST, self.server.smtp_port, local_hostname="client.example.test", timeout=30)
        self.addCleanup(s.close)
        return s

    def big(self):
        return make_message("too big", ["x" * 70] * (self.LIMIT // 72 + 50))

    def test_size_declared_up_front(self):
        s = self.smtp()
        msg = self.big()
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            s.sendmail(ALICE, [self.bob], msg)  # smtplib sends SIZE=len(msg)
        self.assertEqual(cm.exception.smtp_code, 552)
        self.assertTrue(cm.exception.smtp_error.startswith(b"5.3.4"), cm.exception.smtp_error)
        self.assertEqual(s.noop()[0], 250)

    def test_size_enforced_on_data(self):
        s = self.smtp()
        s.ehlo()
        self.assertEqual(s.mail(ALICE)[0], 250)  # no SIZE declared
        self.assertEqual(s.rcpt(self.bob)[0], 250)
        code, text = s.data(self.big())
        self.assertEqual(code, 552)
        self.assertTrue(text.startswith(b"5.3.4"), text)
        self.assertEqual(s.noop()[0], 250)
        before = self.server.scalar("SELECT count(*) FROM message")
        self.assertEqual(s.sendmail(ALICE, [self.bob], make_message("fits", ["ok"])), {})
        self.assertEqual(self.server.scalar("SELECT count(*) FROM message"), before + 1)
        s.quit()


if __name__ == "__main__":
    unittest.main()
