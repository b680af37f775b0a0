"""CHUNKING (RFC 3030) inbound over raw sockets: BDAT chunks and LAST, a 0-octet LAST, BDAT
in the command sequence (without MAIL or RCPT: 503, the chunk still read), DATA after BDAT,
the size limit per chunk and in total (552, the rest read and dropped), pipelined chunks,
no dot-unstuffing, bare line endings refused; the message reaches the mailbox byte for byte."""

import unittest

from missive_harness import (DOMAIN, MissiveTestCase, RelayTestCase, fetch_all, make_message,
                             queue_id_of, smtp_send, unique_users, wait_for_mailbox_count)

MAX_SIZE = 20000
CONFIG = f"""
[smtp]
max_message_size = {MAX_SIZE}
"""
ALICE = f"alice@{DOMAIN}"


class ChunkingTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server(CONFIG)
        cls.pool = unique_users(cls.server, "c", 16)

    def session(self):
        c = self.server.smtp()
        self.addCleanup(c.close)
        self.assertReply(c.ehlo(), 250)
        return c

    def envelope(self, c, rcpt):
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250)
        self.assertReply(c.cmd(f"RCPT TO:<{rcpt}>"), 250)

    def bdat(self, c, data, last=False):
        c.send(f"BDAT {len(data)}{' LAST' if last else ''}\r\n".encode() + data)
        return c.reply()

    def message_count(self):
        return self.server.scalar("SELECT count(*) FROM message")

    def stored(self, user):
        wait_for_mailbox_count(self.server, user, 1)
        [raw] = fetch_all(self.server, user)
        return raw

    def test_ehlo_offers_chunking_and_dsn_not_binarymime(self):
        c = self.server.smtp()
        self.addCleanup(c.close)
        r = c.ehlo()
        keywords = [l.upper() for l in r.lines[1:]]
        self.assertIn("CHUNKING", keywords)
        self.assertIn("DSN", keywords)
        self.assertNotIn("BINARYMIME", keywords)

    def test_chunks_make_the_message_byte_for_byte(self):
        user = self.pool.pop()
        msg = make_message("chunked", ["first line", ".a line with a leading dot", "..two",
                                       ".", "last"], sender=ALICE, to=user)
        c = self.session()
        self.envelope(c, user)
        pieces = [msg[:10], msg[10:11], msg[11:50], msg[50:]]
        for piece in pieces[:-1]:
            r = self.bdat(c, piece)
            self.assertReply(r, 250, "2.0.0")
            self.assertIn(f"{len(piece)} octets", r.text)
        r = self.bdat(c, pieces[-1], last=True)
        qid = queue_id_of(r)
        prefix = self.assertStoredEndsWith(self.stored(user), msg)  # no dot-unstuffing
        # The same path as DATA: our trace header, with the queue id, in front.
        self.assertRegex(prefix, rb"Received: from client\.example\.test \(\[127\.0\.0\.1\]\)\r\n"
                                 rb"\tby [^ ]+ \(Missive\) with ESMTP id " + qid.encode())

    def test_zero_octet_last_chunk(self):
        user = self.pool.pop()
        msg = make_message("zero last", ["x"], sender=ALICE, to=user)
        c = self.session()
        self.envelope(c, user)
        self.assertReply(self.bdat(c, msg), 250, "2.0.0")
        queue_id_of(self.bdat(c, b"", last=True))
        self.assertStoredEndsWith(self.stored(user), msg)

    def test_pipelined_chunks_and_envelope(self):
        user = self.pool.pop()
        msg = make_message("pipelined", ["a", "b", "c"], sender=ALICE, to=user)
        c = self.session()
        half = len(msg) // 2
        c.send(f"MAIL FROM:<{ALICE}>\r\nRCPT TO:<{user}>\r\n".encode() +
               f"BDAT {half}\r\n".encode() + msg[:half] +
               f"BDAT {len(msg) - half} LAST\r\n".encode() + msg[half:] + b"NOOP\r\n")
        self.assertReply(c.reply(), 250, "2.1.0")
        self.assertReply(c.reply(), 250, "2.1.5")
        self.assertReply(c.reply(), 250, "2.0.0")
        queue_id_of(c.reply())
        self.assertReply(c.reply(), 250)  # NOOP, read in step after the chunks
        self.assertStoredEndsWith(self.stored(user), msg)

    def test_bdat_without_mail_or_rcpt_is_503_and_the_chunk_is_dropped(self):
        c = self.session()
        before = self.message_count()
        # The chunk holds what looks like commands: read as data, never executed.
        chunk = b"RSET\r\nQUIT\r\n"
        self.assertReply(self.bdat(c, chunk, last=True), 503, "5.5.1")
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250)
        self.assertReply(self.bdat(c, chunk), 503, "5.5.1")  # MAIL but no RCPT
        self.assertReply(c.cmd("NOOP"), 250)
        self.assertEqual(self.message_count(), before)

    def test_data_after_bdat_is_503(self):
        user = self.pool.pop()
        c = self.session()
        self.envelope(c, user)
        self.assertReply(self.bdat(c, b"Subject: x\r\n"), 250)
        self.assertReply(c.cmd("DATA"), 503, "5.5.1")
        self.assertReply(c.cmd("RSET"), 250)
        # A new transaction after RSET works, with DATA.
        msg = make_message("after rset", ["x"], sender=ALICE, to=user)
        self.assertEqual(c.send_mail(ALICE, [user], msg, ehlo=False).code, 250)
        self.assertStoredEndsWith(self.stored(user), msg)

    def test_bdat_after_last_is_503(self):
        user = self.pool.pop()
        c = self.session()
        self.envelope(c, user)
        queue_id_of(self.bdat(c, make_message("one", ["x"]), last=True))
        self.assertReply(self.bdat(c, b"more", last=True), 503, "5.5.1")

    def test_oversize_chunk_552_and_rest_dropped(self):
        user = self.pool.pop()
        c = self.session()
        before = self.message_count()
        self.envelope(c, user)
        self.assertReply(self.bdat(c, b"Subject: big\r\n\r\n"), 250)
        big = (b"x" * 998 + b"\r\n") * (MAX_SIZE // 1000 + 1)
        self.assertReply(self.bdat(c, big), 552, "5.3.4")
        self.assertReply(self.bdat(c, b"tail\r\n"), 552, "5.3.4")
        self.assertReply(self.bdat(c, b"end\r\n", last=True), 552, "5.3.4")
        # In step, and the transaction is over.
        self.assertReply(c.cmd("NOOP"), 250)
        self.assertReply(c.cmd(f"RCPT TO:<{user}>"), 503)
        self.assertEqual(self.message_count(), before)

    def test_total_over_limit_552(self):
        user = self.pool.pop()
        c = self.session()
        self.envelope(c, user)
        piece = (b"y" * 998 + b"\r\n") * 6
        for _ in range(MAX_SIZE // len(piece)):
            self.assertReply(self.bdat(c, piece), 250)
        self.assertReply(self.bdat(c, piece, last=True), 552, "5.3.4")
        self.assertReply(c.cmd("NOOP"), 250)

    def test_bare_line_endings_refused(self):
        user = self.pool.pop()
        for data in (b"Subject: x\r\n\r\nbare\nLF\r\n", b"Subject: x\r\n\r\nbare\rCR\r\n",
                     b"Subject: x\r\n\r\nsmuggled\n.\nMAIL FROM:<x@y>\r\n"):
            c = self.session()
            self.envelope(c, user)
            self.assertReply(self.bdat(c, data, last=True), 554, "5.6.0")
            self.assertReply(c.cmd("NOOP"), 250)

    def test_bdat_after_helo_is_503(self):
        user = self.pool.pop()
        c = self.server.smtp()
        self.addCleanup(c.close)
        self.assertReply(c.cmd("HELO client.test"), 250)
        self.envelope(c, user)
        self.assertReply(self.bdat(c, b"Subject: x\r\n\r\nx\r\n", last=True), 503, "5.5.1")
        self.assertReply(c.cmd("NOOP"), 250)

    def test_malformed_bdat_ends_the_session(self):
        c = self.session()
        self.assertReply(c.cmd("BDAT x"), 501, "5.5.4")
        self.assertTrue(c.is_closed(), "after a BDAT whose size is unknown the session ends")

    def test_bdat_chunk_with_commands_inside_is_data(self):
        user = self.pool.pop()
        c = self.session()
        self.envelope(c, user)
        msg = b"Subject: inner\r\n\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<evil@x>\r\n"
        queue_id_of(self.bdat(c, msg, last=True))
        self.assertStoredEndsWith(self.stored(user), msg)


class ChunkingBetweenRelaysTest(RelayTestCase):
    """Outbound BDAT: A relays to B, which offers CHUNKING; the message arrives as sent."""

    def test_relay_sends_with_bdat(self):
        a, b = self.start_relay_pair()
        # Leading dots and a last line of dots: nothing stuffed on the way.
        msg = make_message("chunked relay", [".", "..", ".x", "end"], sender="alice@a.test",
                           to="bob@b.test")
        qid = smtp_send(a, "alice@a.test", ["bob@b.test"], msg)
        a.wait_state(qid, "bob@b.test", "delivered")
        wait_for_mailbox_count(b, "bob@b.test", 1)
        [stored] = fetch_all(b, "bob@b.test")
        self.assertStoredEndsWith(stored, msg)
        b.wait_log(r"event=bdat_message chunks=1 size=\d+")


if __name__ == "__main__":
    unittest.main()
