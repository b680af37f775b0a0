"""Relay control: only trusted clients may relay (554 5.7.1 for everyone else), and the
address tricks that open relays fall for are refused."""

import unittest

from missive_harness import RelayTestCase, make_message

REFUSED = {(550, "5.1.1"), (554, "5.7.1")}
PERCENT = "user%other.test@a.test"
QUOTED = '"user@other.test"@a.test'
SOURCE_ROUTE = "@a.test:user@other.test"
BANG = "other.test!user@a.test"


class RelayControlTest(RelayTestCase):

    def rcpt(self, client, address):
        return client.cmd(f"RCPT TO:<{address}>")

    def assertRefused(self, reply, address):
        self.assertIn((reply.code, reply.enhanced), REFUSED,
                      f"RCPT TO:<{address}> must be refused with 550 5.1.1 or 554 5.7.1, got {reply}")

    def test_untrusted_client_cannot_relay(self):
        r = self.start_relay("a.test", start=False, trusted_networks=[])
        r.add_user("user@a.test")
        r.start()
        with r.smtp() as c:
            self.assertReply(c.ehlo(), 250)
            self.assertReply(c.cmd("MAIL FROM:<someone@elsewhere.test>"), 250, "2.1.0")
            self.assertReply(self.rcpt(c, "victim@other.test"), 554, "5.7.1")
            self.assertReply(self.rcpt(c, "user@other.test"), 554, "5.7.1")
            for trick in (PERCENT, QUOTED, SOURCE_ROUTE, BANG):
                self.assertRefused(self.rcpt(c, trick), trick)
            # mail for its own domain is still welcome
            self.assertReply(self.rcpt(c, "user@a.test"), 250, "2.1.5")
            self.assertReply(c.cmd("DATA"), 354)
            self.assertReply(c.data_bytes(make_message("local", ["ok"])), 250, "2.0.0")
        self.assertEqual(r.query("SELECT address FROM recipient"), [("user@a.test",)])

    def test_untrusted_even_with_a_local_sender(self):
        r = self.start_relay("a.test", start=False, trusted_networks=[])
        r.add_user("user@a.test")
        r.start()
        with r.smtp() as c:
            self.assertReply(c.ehlo(), 250)
            self.assertReply(c.cmd("MAIL FROM:<user@a.test>"), 250, "2.1.0")
            self.assertReply(self.rcpt(c, "victim@other.test"), 554, "5.7.1")
            # RFC 5321 3.3: all RCPT refused -> DATA gets 503 or 554, never 354
            self.assertIn(c.cmd("DATA").code, (503, 554))

    def test_tricks_refused_even_for_a_trusted_client(self):
        r = self.start_relay("a.test", start=False, routes=[("other.test", self.refused_port())])
        r.add_user("user@a.test")
        r.start()
        with r.smtp() as c:
            self.assertReply(c.ehlo(), 250)
            self.assertReply(c.cmd("MAIL FROM:<user@a.test>"), 250, "2.1.0")
            for trick in (PERCENT, QUOTED, BANG):  # they name no local user
                self.assertRefused(self.rcpt(c, trick), trick)
            # a source route is reduced to its mailbox (RFC 5321 4.1.1.3, C), which a
            # trusted client may relay to
            self.assertReply(self.rcpt(c, SOURCE_ROUTE), 250, "2.1.5")
            self.assertReply(c.cmd("DATA"), 354)
            reply = c.data_bytes(make_message("source route", ["x"], sender="user@a.test",
                                              to="user@other.test"))
            self.assertReply(reply, 250, "2.0.0")
        self.assertEqual(r.query("SELECT address, is_local FROM recipient"),
                         [("user@other.test", 0)])

    def test_trusted_client_relays(self):
        r = self.start_relay("a.test", start=False, routes=[("other.test", self.refused_port())])
        r.start()
        with r.smtp() as c:
            self.assertReply(c.ehlo(), 250)
            self.assertReply(c.cmd("MAIL FROM:<user@a.test>"), 250, "2.1.0")
            self.assertReply(self.rcpt(c, "victim@other.test"), 250, "2.1.5")


if __name__ == "__main__":
    unittest.main()
