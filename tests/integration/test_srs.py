"""Forwarding with SRS: a message to an alias that forwards to an outside address reaches the
next hop (the harness's fake SMTP server, by a route) with an SRS0 envelope sender of our
domain, which passes SPF as Debian's python3-spf checks it against a zone served by unbound
(our domain's record allows 127.0.0.1; the original sender's does not); a bounce to that SRS
address reaches the original sender, in its mailbox (read with poplib) or at its own next
hop; forged, altered and expired SRS addresses are refused at RCPT; the null sender is not
rewritten. The key is made by `missived srs keygen` in the data directory; SRS addresses are
also made here, independently, with Python's hmac, to hold the format to its description."""

import base64
import hashlib
import hmac
import os
import time
import unittest

from dns_server import DnsServer
from missive_harness import (RelayTestCase, SmtpClient, fetch_all, make_message,
                             require_system_module, smtp_send, wait_for_mailbox_count)

OURS = "a.test"
ALICE = f"alice@{OURS}"
FORWARD = f"fwd@{OURS}"
FRIEND = "friend@far.test"           # where FORWARD forwards, behind the fake next hop
OUTSIDER = "someone@outside.test"    # an outside sender, whose SPF allows only 192.0.2.1

RECORDS = [
    f'{OURS}. TXT "v=spf1 ip4:127.0.0.1 -all"',
    'outside.test. TXT "v=spf1 ip4:192.0.2.1 -all"',
]
ZONES = {f"{OURS}.": "static", "outside.test.": "static"}


def srs_address(secret, local, domain, day, our_domain=OURS):
    """SRS0=HASH=TT=domain=local@ours as missived writes it: HMAC-SHA256 of the lower-case
    "TT=domain=local", its first 5 bytes in base 32; TT the day modulo 1024 in base 32."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    t = day % 1024
    stamp = alphabet[t >> 5] + alphabet[t & 31]
    data = f"{stamp}={domain}={local}".lower().encode()
    mac = hmac.new(secret.encode(), data, hashlib.sha256).digest()
    digest = base64.b32encode(mac[:5]).decode()
    return f"SRS0={digest}={stamp}={domain}={local}@{our_domain}"


def today():
    return int(time.time()) // 86400


class SrsForwardingTest(RelayTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.spf = require_system_module("spf", "python3-spf")
        resolver = require_system_module("dns.resolver", "python3-dnspython")
        cls.dns = DnsServer(RECORDS, ZONES).start()
        # pyspf asks dnspython's default resolver: make it ask only the test server
        r = resolver.Resolver(configure=False)
        r.nameservers = ["127.0.0.1"]
        r.port = cls.dns.port
        resolver.default_resolver = r

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        super().tearDownClass()

    def start(self):
        self.sink = self.fake_smtp()
        relay = self.start_relay(OURS, start=False,
                                 routes=[("far.test", self.sink.port), ("outside.test", self.sink.port)],
                                 queue={"retry_initial": "1h", "retry_max": "1h"})
        r = relay.cli("srs", "keygen")
        self.assertEqual(r.returncode, 0, r.stderr)
        key_file = os.path.join(relay.data_dir, "srs.secret")
        self.assertEqual(os.stat(key_file).st_mode & 0o777, 0o600)
        with open(key_file) as f:
            self.secret = f.read().strip()
        relay.add_user(ALICE)
        r = relay.cli("alias", "add", FORWARD, FRIEND, ALICE)
        self.assertEqual(r.returncode, 0, r.stderr)
        relay.start()
        return relay

    def spf_result(self, sender):
        result, _explanation = self.spf.check2(i="127.0.0.1", s=sender, h="mx.a.test")
        return result

    def test_forwarded_mail_gets_an_srs_sender_that_passes_spf(self):
        relay = self.start()
        smtp_send(relay, OUTSIDER, [FORWARD], make_message("forwarded", ["x"], sender=OUTSIDER))
        [t] = self.sink.wait_transactions(1)
        self.assertEqual(t.rcpts, [FRIEND])
        self.assertEqual(t.mail_from, srs_address(self.secret, "someone", "outside.test", today()))
        self.assertIn(b"Subject: forwarded", t.data)
        # the next hop's SPF check passes for the SRS sender, where the original would fail
        self.assertEqual(self.spf_result(t.mail_from), "pass")
        self.assertEqual(self.spf_result(OUTSIDER), "fail")
        # the local target of the same alias sees the original sender
        wait_for_mailbox_count(relay, ALICE, 1)
        [stored] = fetch_all(relay, ALICE)
        self.assertTrue(stored.startswith(f"Return-Path: <{OUTSIDER}>\r\n".encode()), stored[:80])

    def test_a_missived_next_hop_enforcing_spf_accepts_the_srs_sender(self):
        """Missive's own SPF checker as the next hop: far.test is a second missived with
        [checks] spf = "enforce" asking the same DNS server, which would refuse the original
        sender (550 5.7.23) and takes the forwarded copy."""
        far = self.start_relay("far.test", start=False, trusted_networks=[], extra_config=(
            f'\n[checks]\nspf = "enforce"\n\n[dns]\nresolver = "{self.dns.address}"\n'))
        far.add_user(FRIEND)
        far.start()
        with SmtpClient(far.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd(f"MAIL FROM:<{OUTSIDER}>").code, 550)
        relay = self.start_relay(OURS, start=False, routes=[("far.test", far.smtp_port)])
        self.assertEqual(relay.cli("srs", "keygen").returncode, 0)
        relay.add_user(ALICE)
        self.assertEqual(relay.cli("alias", "add", FORWARD, FRIEND).returncode, 0)
        relay.start()
        smtp_send(relay, OUTSIDER, [FORWARD], make_message("forwarded", ["x"], sender=OUTSIDER))
        wait_for_mailbox_count(far, FRIEND, 1)
        [stored] = fetch_all(far, FRIEND)
        self.assertRegex(stored, rb"^Return-Path: <SRS0=[A-Z2-7]{8}=[A-Z2-7]{2}=outside\.test=someone@a\.test>\r\n")
        far.wait_log(r"event=spf identity=mailfrom result=pass")

    def test_a_bounce_to_the_srs_address_reaches_the_original_sender(self):
        relay = self.start()
        # alice (local) writes to the alias; the forwarded copy carries her SRS address
        smtp_send(relay, ALICE, [FORWARD], make_message("from alice", ["x"], sender=ALICE))
        [t] = self.sink.wait_transactions(1)
        srs = t.mail_from
        self.assertTrue(srs.startswith("SRS0=") and srs.endswith(f"={OURS}=alice@{OURS}"), srs)
        wait_for_mailbox_count(relay, ALICE, 1)    # her own copy, through the alias
        # the far side bounces it: <> to the SRS address, which is reversed to alice
        bounce = make_message("Undelivered Mail Returned to Sender", ["gone"],
                              sender="MAILER-DAEMON@far.test", to=srs)
        with SmtpClient(relay.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd("MAIL FROM:<>").code, 250)
            reply = c.cmd(f"RCPT TO:<{srs.lower()}>")     # a relay may change the case
            self.assertEqual(reply.code, 250, reply)
            self.assertEqual(c.cmd("DATA").code, 354)
            self.assertEqual(c.data_bytes(bounce).code, 250)
        wait_for_mailbox_count(relay, ALICE, 2, confirm_pop3=True)
        stored = fetch_all(relay, ALICE)[1]
        self.assertTrue(stored.startswith(b"Return-Path: <>\r\nDelivered-To: " + ALICE.encode()),
                        stored[:80])
        self.assertIn(b"Subject: Undelivered Mail Returned to Sender", stored)
        relay.wait_log(r"event=srs_reversed to=<srs0=\S+> original=<alice@a\.test>")

    def test_a_bounce_for_an_outside_sender_goes_back_to_it(self):
        relay = self.start()
        srs = srs_address(self.secret, "someone", "outside.test", today())
        smtp_send(relay, "", [srs], make_message("bounce", ["x"], sender="MAILER-DAEMON@far.test"))
        [t] = self.sink.wait_transactions(1)
        self.assertEqual((t.mail_from, t.rcpts), ("", [OUTSIDER]))

    def test_forged_altered_and_expired_srs_addresses_are_refused(self):
        relay = self.start()
        good = srs_address(self.secret, "alice", OURS, today())
        cases = {
            srs_address("not our secret at all", "alice", OURS, today()): "bad hash",
            good.replace("=alice@", "=eve@"): "bad hash",                # another sender
            srs_address(self.secret, "alice", OURS, today() - 30): "expired",
            "SRS0=XX=YY@" + OURS: "malformed",
        }
        with SmtpClient(relay.smtp_port) as c:
            c.ehlo()
            self.assertEqual(c.cmd("MAIL FROM:<>").code, 250)
            for address, why in cases.items():
                reply = c.cmd(f"RCPT TO:<{address}>")
                self.assertEqual((reply.code, reply.enhanced), (550, "5.1.1"), (address, reply))
                self.assertIn(why, reply.text)
            # one made by this test's own implementation of the scheme, today: accepted
            self.assertEqual(c.cmd(f"RCPT TO:<{good}>").code, 250)

    def test_forwarded_and_direct_outside_recipients_of_one_message_have_their_own_senders(self):
        relay = self.start()
        direct = "other@far.test"
        smtp_send(relay, OUTSIDER, [FORWARD, direct, FRIEND],
                  make_message("both", ["x"], sender=OUTSIDER))
        transactions = self.sink.wait_transactions(2)
        by_rcpt = {tuple(t.rcpts): t.mail_from for t in transactions}
        # FRIEND named directly after the alias led there: one copy, the alias's sender
        self.assertEqual(by_rcpt, {
            (FRIEND,): srs_address(self.secret, "someone", "outside.test", today()),
            (direct,): OUTSIDER})
        self.assertEqual(transactions[0].data, transactions[1].data)

    def test_a_sender_too_long_for_an_srs_local_part_is_forwarded_as_it_is(self):
        # SRS0=HHHHHHHH=TT=outside.test= is 30 octets: with a 35-octet local part the SRS
        # local part would be 65, over RFC 5321's 64, which the next hop (and we, for the
        # bounce) would refuse.
        relay = self.start()
        longest = "s" * 34 + "@outside.test"
        too_long = "s" * 35 + "@outside.test"
        self.assertEqual(len(srs_address(self.secret, "s" * 34, "outside.test", today())
                             .split("@")[0]), 64)
        smtp_send(relay, longest, [FORWARD], make_message("fits", ["x"], sender=longest))
        [t] = self.sink.wait_transactions(1)
        self.assertEqual(t.mail_from, srs_address(self.secret, "s" * 34, "outside.test", today()))
        smtp_send(relay, too_long, [FORWARD], make_message("too long", ["x"], sender=too_long))
        t = self.sink.wait_transactions(2)[1]
        self.assertEqual((t.mail_from, t.rcpts), (too_long, [FRIEND]))
        relay.wait_log("event=srs_not_applied reason=local_part_too_long")

    def test_the_null_sender_is_not_rewritten(self):
        relay = self.start()
        smtp_send(relay, "", [FORWARD], make_message("a bounce, forwarded", ["x"]))
        [t] = self.sink.wait_transactions(1)
        self.assertEqual((t.mail_from, t.rcpts), ("", [FRIEND]))


class SrsKeyTest(RelayTestCase):

    def test_keygen_never_overwrites_and_check_reads_the_key(self):
        relay = self.start_relay(OURS, start=False)
        self.assertEqual(relay.cli("srs", "keygen").returncode, 0)
        again = relay.cli("srs", "keygen")
        self.assertEqual(again.returncode, 73, again.stderr)
        self.assertIn("File exists", again.stderr)
        check = relay.cli("check", "--config", relay.config_path)
        self.assertEqual(check.returncode, 0, check.stderr)
        with open(os.path.join(relay.data_dir, "srs.secret"), "w") as f:
            f.write("short\n")
        check = relay.cli("check", "--config", relay.config_path)
        self.assertEqual(check.returncode, 78, check.stderr)
        self.assertIn("srs.secret holds fewer than 16 characters", check.stderr)

    def test_config_keys_are_checked(self):
        relay = self.start_relay(OURS, start=False,
                                 extra_config='\n[srs]\nsecret = "short"\ndomain = "elsewhere.test"\n'
                                              '\n[smtp]\nrecipient_delimiter = "@"\n')
        check = relay.cli("check", "--config", relay.config_path)
        self.assertEqual(check.returncode, 78, check.stderr)
        self.assertRegex(check.stderr, r"missived\.toml:\d+: srs\.secret: expected at least 16")
        self.assertRegex(check.stderr, r"missived\.toml:\d+: srs\.domain: expected one of the local")
        self.assertRegex(check.stderr, r"missived\.toml:\d+: smtp\.recipient_delimiter: expected")


if __name__ == "__main__":
    unittest.main()
