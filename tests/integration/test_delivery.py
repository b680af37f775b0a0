"""SMTP in, background local delivery, POP3 out: byte-exact content, added headers, copies,
and the rows the queue leaves in the database (raw sockets on both sides)."""

import unittest

from missive_pg import sqlite_only
from missive_harness import (DOMAIN, HOSTNAME, MissiveTestCase, fetch_all, header_fields,
                             header_section, make_message, queue_id_of, smtp_send, unique_users,
                             wait_for_mailbox_count, wait_until)

ALICE = f"alice@{DOMAIN}"


def tricky_body_lines():
    lines = [b".", b"..", b"...", b".leading dot", b". space after dot", b"",
             b"line with trailing spaces   ", b"\ttab-indented", b"From the start (mbox-ish)",
             b"end with a dot."]
    high = bytes(range(0x80, 0x100))
    lines += [high[i:i + 32] for i in range(0, 128, 32)]
    lines += [b"mixed \xc3\xa9t\xc3\xa9 \xff\xfe bytes", b".", b""]
    return lines


class DeliveryTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server()
        cls.pool = unique_users(cls.server, "d", 12)

    def fresh_user(self):
        return self.pool.pop()

    def deliver_one(self, msg, user=None):
        user = user or self.fresh_user()
        qid = smtp_send(self.server, ALICE, [user], msg)
        wait_for_mailbox_count(self.server, user, 1)
        [stored] = fetch_all(self.server, user)
        return qid, user, stored

    def test_round_trip_byte_exact(self):
        msg = make_message("tricky", tricky_body_lines(),
                           headers=[("Content-Type", "text/plain; charset=iso-8859-1"),
                                    ("Content-Transfer-Encoding", "8bit")])
        qid, user, stored = self.deliver_one(msg)
        as_stored = self.assertDeliveryHeaders(stored, ALICE, user)
        prefix = self.assertStoredEndsWith(as_stored, msg)
        fields = header_fields(prefix)
        names = [n for n, _ in fields]
        self.assertIn("received", names)
        # the relay only prepends Received: (Message-ID and Date were present)
        self.assertEqual(names, ["received"], prefix)
        received = dict(fields)["received"]
        self.assertIn(HOSTNAME.encode(), received)
        self.assertGreater(prefix.count(b"\r\n"), 1, f"Received: not folded: {prefix!r}")
        for line in prefix.split(b"\r\n")[:-1]:
            self.assertLessEqual(len(line), 998)
        # the DB holds the same bytes once; each mailbox adds its delivery headers on the way out
        body, size = self.server.query("SELECT body, size FROM message WHERE queue_id = ?", (qid,))[0]
        self.assertEqual(bytes(body), as_stored)
        self.assertEqual(size, len(as_stored))

    def test_received_header_first_after_the_delivery_headers(self):
        msg = make_message("first", ["body"])
        _, user, stored = self.deliver_one(msg)
        self.assertTrue(self.assertDeliveryHeaders(stored, ALICE, user).startswith(b"Received:"),
                        stored[:200])

    def test_message_id_and_date_added_when_absent(self):
        msg = make_message("bare", ["no id, no date"], date=False, message_id=False)
        _, user, stored = self.deliver_one(msg)
        prefix = self.assertStoredEndsWith(self.assertDeliveryHeaders(stored, ALICE, user), msg)
        names = [n for n, _ in header_fields(stored)]
        self.assertEqual(names.count("message-id"), 1, header_section(stored))
        self.assertEqual(names.count("date"), 1, header_section(stored))
        self.assertEqual(names.count("received"), 1, header_section(stored))
        prefix_names = [n for n, _ in header_fields(prefix)]
        self.assertEqual(sorted(prefix_names), ["date", "message-id", "received"])
        mid = dict(header_fields(stored))["message-id"]
        self.assertRegex(mid, rb"^<[^<>@\s]+@[^<>@\s]+>$")

    def test_only_missing_header_added(self):
        msg = make_message("half", ["date only"], date=True, message_id=False)
        _, _, stored = self.deliver_one(msg)
        names = [n for n, _ in header_fields(stored)]
        self.assertEqual(names.count("message-id"), 1)
        self.assertEqual(names.count("date"), 1)
        msg = make_message("half2", ["id only"], date=False, message_id=True)
        _, _, stored = self.deliver_one(msg)
        names = [n for n, _ in header_fields(stored)]
        self.assertEqual(names.count("message-id"), 1)
        self.assertEqual(names.count("date"), 1)

    def test_lowercase_existing_headers_not_duplicated(self):
        msg = (b"from: alice@example.test\r\nmessage-id: <lower@client.example.test>\r\n"
               b"date: Mon, 01 Jan 2024 12:00:00 +0000\r\nsubject: lower\r\n\r\nbody\r\n")
        _, _, stored = self.deliver_one(msg)
        names = [n for n, _ in header_fields(stored)]
        self.assertEqual(names.count("message-id"), 1, header_section(stored))
        self.assertEqual(names.count("date"), 1, header_section(stored))

    def test_several_recipients_one_copy_each(self):
        users = [self.fresh_user() for _ in range(3)]
        msg = make_message("multi", ["to three"])
        qid = smtp_send(self.server, ALICE, users, msg)
        for u in users:
            wait_for_mailbox_count(self.server, u, 1)
        stored = [self.assertDeliveryHeaders(fetch_all(self.server, u)[0], ALICE, u) for u in users]
        for s in stored:
            self.assertStoredEndsWith(s, msg)
        self.assertEqual(stored[0], stored[1])
        self.assertEqual(stored[1], stored[2])
        q = self.server.query
        self.assertEqual(q("SELECT count(*) FROM message WHERE queue_id = ?", (qid,)), [(1,)])
        states = q("SELECT r.address, r.state, r.is_local FROM recipient r JOIN message m "
                   "ON m.id = r.message_id WHERE m.queue_id = ? ORDER BY r.address", (qid,))
        self.assertEqual(states, sorted((u, "delivered", 1) for u in users))
        entries = q("SELECT count(*), count(DISTINCT me.user_id), count(DISTINCT me.message_id) "
                    "FROM mailbox_entry me JOIN message m ON m.id = me.message_id "
                    "WHERE m.queue_id = ?", (qid,))
        self.assertEqual(entries, [(3, 3, 1)])
        events = q("SELECT h.kind, h.recipient FROM message_history h JOIN message m "
                   "ON m.id = h.message_id WHERE m.queue_id = ? ORDER BY h.at, h.rank, h.position",
                   (qid,))
        kinds = [k for k, _ in events]
        self.assertEqual(kinds.count("accepted"), 1, events)
        self.assertEqual(kinds[0], "accepted", events)
        delivered = sorted(r for k, r in events if k == "delivered")
        self.assertEqual(delivered, sorted(users), events)
        self.assertEqual(len(events), 4, events)

    def test_postmaster_accepted_without_a_mailbox(self):
        # RFC 5321 4.5.1: postmaster must be accepted; with no such user the message waits
        # in the queue (never dropped) until an operator adds one.
        with self.server.smtp() as c:
            self.assertReply(c.ehlo(), 250)
            self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
            self.assertReply(c.cmd("RCPT TO:<Postmaster>"), 250, "2.1.5")
            self.assertReply(c.cmd(f"RCPT TO:<POSTMASTER@{DOMAIN.upper()}>"), 250, "2.1.5")
            self.assertReply(c.cmd(f"RCPT TO:<nobody@{DOMAIN}>"), 550, "5.1.1")
            self.assertReply(c.cmd("DATA"), 354)
            qid = c.data_bytes(make_message("to postmaster", ["hello"]))
            self.assertReply(qid, 250, "2.0.0")
        q = self.server.query
        wait_until(lambda: q("SELECT count(*) FROM event e JOIN message m ON m.id = e.message_id "
                             "WHERE m.queue_id = ? AND e.kind = 'deferred'",
                             (queue_id_of(qid),)) == [(1,)], what="postmaster deferral event")
        # Both spellings name one mailbox: one recipient, so one copy.
        states = q("SELECT r.address, r.state FROM recipient r JOIN message m ON m.id = r.message_id "
                   "WHERE m.queue_id = ? ORDER BY r.id", (queue_id_of(qid),))
        self.assertEqual(states, [(f"postmaster@{DOMAIN}", "deferred")])

    def test_one_copy_however_the_address_is_spelled(self):
        user = self.fresh_user()
        local, domain = user.split("@")
        msg = make_message("spellings", ["once"])
        qid = smtp_send(self.server, ALICE, [user, f"{local.upper()}@{domain}",
                                             f"{local}@{domain.upper()}"], msg)
        wait_for_mailbox_count(self.server, user, 1)
        self.assertEqual(self.server.query(
            "SELECT count(*) FROM recipient r JOIN message m ON m.id = r.message_id "
            "WHERE m.queue_id = ?", (qid,)), [(1,)])

    def test_messages_keep_arrival_order(self):
        user = self.fresh_user()
        msgs = [make_message(f"order {i}", [f"number {i}"]) for i in range(5)]
        for m in msgs:
            smtp_send(self.server, ALICE, [user], m)
        wait_for_mailbox_count(self.server, user, 5)
        stored = fetch_all(self.server, user)
        for s, m in zip(stored, msgs):
            self.assertStoredEndsWith(s, m)

    @sqlite_only("the database file's mode and journal")
    def test_database_file_is_private(self):
        import os
        import stat
        mode = stat.S_IMODE(os.stat(self.server.db_path).st_mode)
        self.assertEqual(mode & 0o077, 0, f"missive.db mode is {oct(mode)}")
        journal = self.server.query("PRAGMA journal_mode")[0][0]
        self.assertEqual(journal.lower(), "wal")


if __name__ == "__main__":
    unittest.main()
