"""Routing by DNS through a real resolver library (libunbound) asking a real DNS server
(unbound serving test zones on 127.0.0.1, `[dns] resolver`): MX records by preference and
their hosts' addresses, the implicit MX, a null MX and NXDOMAIN bouncing with the right
status, and a DNS server that times out or fails answered by deferring, never by a bounce.
The mail exchangers are the tests' fake SMTP server, on the port `[queue] mx_port` gives."""

import unittest

from dns_server import DnsServer
from missive_harness import (RelayTestCase, fetch_all, make_message, smtp_send,
                             wait_for_mailbox_count)

ALICE = "alice@a.test"

RECORDS = [
    "far.test. MX 20 backup.far.test.",
    "far.test. MX 10 mx.far.test.",
    "mx.far.test. A 127.0.0.1",
    "backup.far.test. A 127.0.0.2",
    "implicit.test. A 127.0.0.1",               # no MX: the domain itself
    "nullmx.test. MX 0 .",                      # RFC 7505
    "nohost.test. MX 10 missing.nohost.test.",  # an exchanger without an address
]
ZONES = {
    "far.test.": "static", "implicit.test.": "static", "nullmx.test.": "static",
    "nohost.test.": "static",
    "gone.test.": "static",    # nothing under it: NXDOMAIN
    "silent.test.": "deny",    # queries dropped: the resolver times out
    "broken.test.": "refuse",  # REFUSED: the resolver reports a failure
}


class DnsRoutingTest(RelayTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dns = DnsServer(RECORDS, ZONES).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        super().tearDownClass()

    def start(self):
        self.sink = self.fake_smtp()
        relay = self.start_relay(
            "a.test", start=False,
            queue={"retry_initial": "1h", "retry_max": "1h", "mx_port": self.sink.port},
            extra_config=f'\n[dns]\nresolver = "{self.dns.address}"\ntimeout = "2s"\n')
        relay.add_user(ALICE)
        relay.start()
        return relay

    def send(self, relay, rcpt, subject):
        return smtp_send(relay, ALICE, [rcpt], make_message(subject, ["x"], sender=ALICE, to=rcpt))

    def test_mx_records_route_to_the_lowest_preference_host(self):
        a = self.start()
        qid = self.send(a, "rcpt@far.test", "by MX")
        a.wait_state(qid, "rcpt@far.test", "delivered")
        [t] = self.sink.transactions
        self.assertEqual(t.rcpts, ["rcpt@far.test"])
        # MX 10 mx.far.test (127.0.0.1) before MX 20 backup.far.test (127.0.0.2)
        m = a.wait_delivery_log(qid, "rcpt@far.test", "sent", attempts="1")
        self.assertIn("127.0.0.1", m.group(0))
        self.assertNotIn("127.0.0.2", m.group(0))

    def test_a_domain_without_mx_is_its_own_exchanger(self):
        a = self.start()
        qid = self.send(a, "rcpt@implicit.test", "implicit MX")
        a.wait_state(qid, "rcpt@implicit.test", "delivered")
        self.assertEqual([t.rcpts for t in self.sink.transactions], [["rcpt@implicit.test"]])

    def assertBounced(self, a, rcpt, status):
        qid = self.send(a, rcpt, "bounces")
        state, attempts, _, last_reply = a.wait_state(qid, rcpt, "failed")
        self.assertRegex(last_reply, status.replace(".", r"\."))
        wait_for_mailbox_count(a, ALICE, 1)
        [raw] = fetch_all(a, ALICE)
        self.assertDsn(self.assertDeliveryHeaders(raw, "", ALICE), "mx.a.test",
                       {rcpt: status.replace(".", r"\.")})
        self.assertEqual(self.sink.connections, 0)

    def test_null_mx_bounces_with_5_1_10(self):
        self.assertBounced(self.start(), "rcpt@nullmx.test", "5.1.10")

    def test_nxdomain_bounces_with_5_1_2(self):
        self.assertBounced(self.start(), "rcpt@nosuch.gone.test", "5.1.2")

    def assertDeferredWithoutBounce(self, a, rcpt, reason):
        qid = self.send(a, rcpt, "deferred")
        state, attempts, _, last_reply = a.wait_state(qid, rcpt, "deferred", timeout=20)
        self.assertEqual(attempts, 1)
        self.assertRegex(last_reply, r"^451 4\.4\.3 ")
        self.assertRegex(last_reply, reason)
        # The decision and any DSN are one transaction: none was made.
        self.assertEqual(a.mailbox_messages(ALICE), [])
        self.assertEqual(self.sink.connections, 0)

    def test_a_resolver_that_times_out_defers(self):
        self.assertDeferredWithoutBounce(self.start(), "rcpt@silent.test", r"no DNS answer .* within 2 s")

    def test_a_resolver_that_fails_defers(self):
        self.assertDeferredWithoutBounce(self.start(), "rcpt@broken.test", r"SERVFAIL|REFUSED|cannot resolve")

    def test_exchangers_without_an_address_defer(self):
        self.assertDeferredWithoutBounce(self.start(), "rcpt@nohost.test",
                                         r"no address for the mail exchangers of nohost\.test")


if __name__ == "__main__":
    unittest.main()
