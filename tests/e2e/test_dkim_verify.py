"""Verifying DKIM on inbound mail ([checks] dkim = "annotate"): messages signed by dkimpy
(Debian python3-dkim) with keys made by the OpenSSL command line, their records served by a
real DNS server (unbound, tests/lib/dns_server.py), sent from a client outside
trusted_networks; the copy read back over POP3 carries one Authentication-Results field
(RFC 8601) from this relay with the result of each signature: pass for RSA and Ed25519,
relaxed and simple; fail for a changed body; permerror for a key that is not published;
temperror for a key lookup that times out; none without a signature. A field claiming to be
ours that came with the message is removed; one of another host stays."""

import base64
import re
import subprocess
import tempfile
import os
import unittest

from dns_server import DnsServer
from missive_harness import (RelayTestCase, fetch_all, make_message, smtp_send,
                             wait_for_mailbox_count)
from test_dkim import require_dkimpy

ALICE = "alice@a.test"
SENDER = "someone@sig.test"

# RFC 8463 appendix A: the keys (A.2) and the message signed with both (A.3), as dkimpy's
# test data has them (Debian python3-dkim, dkim/tests/data/rfc6376.signed.msg and test.txt).
RFC8463_ED25519_KEY = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
RFC8463_RSA_KEY = ("v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6"
                   "Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL"
                   "6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB")
RFC8463_MESSAGE = "/usr/lib/python3/dist-packages/dkim/tests/data/rfc6376.signed.msg"


def openssl(*args, stdin=None):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=True).stdout


def make_keys():
    """(rsa private PEM, rsa record, ed25519 seed in base64, ed25519 record)."""
    rsa_pem = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
    rsa_spki = openssl("pkey", "-pubout", "-outform", "DER", stdin=rsa_pem)
    ed_der = openssl("genpkey", "-algorithm", "ed25519", "-outform", "DER")
    ed_pub = openssl("pkey", "-inform", "DER", "-pubout", "-outform", "DER", stdin=ed_der)[-32:]
    rsa_text = "v=DKIM1; k=rsa; p=" + base64.b64encode(rsa_spki).decode()
    strings = " ".join(f'"{rsa_text[i:i + 255]}"' for i in range(0, len(rsa_text), 255))
    ed_text = "v=DKIM1; k=ed25519; p=" + base64.b64encode(ed_pub).decode()
    return rsa_pem, strings, base64.b64encode(ed_der[-32:]), f'"{ed_text}"'


class DkimVerifyTest(RelayTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rsa_pem, rsa_record, cls.ed_seed, ed_record = make_keys()
        cls.dns = DnsServer([f"rsa1._domainkey.sig.test. TXT {rsa_record}",
                             f"ed1._domainkey.sig.test. TXT {ed_record}",
                             f'brisbane._domainkey.football.example.com. TXT "{RFC8463_ED25519_KEY}"',
                             f'test._domainkey.football.example.com. TXT "{RFC8463_RSA_KEY}"'],
                            {"sig.test.": "static", "slow.test.": "deny",
                             "football.example.com.": "static"}).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.relay = self.start_relay("a.test", start=False, trusted_networks=[], extra_config=(
            f'\n[checks]\ndkim = "annotate"\n\n[dns]\nresolver = "{self.dns.address}"\n'
            f'timeout = "1s"\n'))
        self.relay.add_user(ALICE)
        self.relay.start()

    def sign(self, msg, selector=b"rsa1", domain=b"sig.test", canon=(b"relaxed", b"relaxed")):
        dkim = require_dkimpy()
        if selector == b"ed1":
            return dkim.sign(msg, selector, domain, self.ed_seed, canonicalize=canon,
                             signature_algorithm=b"ed25519-sha256") + msg
        return dkim.sign(msg, selector, domain, self.rsa_pem, canonicalize=canon) + msg

    def message(self, subject="verify me", extra_headers=None):
        return make_message(subject, ["a line", "  with  blanks  ", ""], sender=SENDER, to=ALICE,
                            headers=extra_headers)

    def results_of(self, sent):
        smtp_send(self.relay, SENDER, [ALICE], sent)
        wait_for_mailbox_count(self.relay, ALICE, 1)
        [raw] = fetch_all(self.relay, ALICE)
        fields = re.findall(rb"(?mi)^Authentication-Results:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", raw)
        ours = [f for f in fields if f.strip().lower().startswith(b"mx.a.test")]
        self.assertEqual(len(ours), 1, raw[:2000])
        return re.sub(rb"\r\n[ \t]+", b" ", ours[0]).decode(), raw

    def test_rsa_relaxed_passes(self):
        text, _ = self.results_of(self.sign(self.message()))
        self.assertRegex(text, r"^ mx\.a\.test; dkim=pass header\.d=sig\.test header\.s=rsa1 header\.b=\"[^\"]{8}\"$")

    def test_ed25519_passes(self):
        text, _ = self.results_of(self.sign(self.message(), selector=b"ed1"))
        self.assertIn("dkim=pass header.d=sig.test header.s=ed1", text)

    def test_simple_canonicalization_passes(self):
        text, _ = self.results_of(self.sign(self.message(), canon=(b"simple", b"simple")))
        self.assertIn("dkim=pass header.d=sig.test header.s=rsa1", text)

    def test_a_changed_body_fails(self):
        signed = self.sign(self.message())
        text, _ = self.results_of(signed.replace(b"a line", b"b line"))
        self.assertIn("dkim=fail (body hash did not verify) header.d=sig.test", text)

    def test_a_key_not_published_is_permerror(self):
        text, _ = self.results_of(self.sign(self.message(), selector=b"gone"))
        self.assertIn("dkim=permerror (no key for signature at gone._domainkey.sig.test)", text)

    def test_a_key_lookup_that_times_out_is_temperror(self):
        text, _ = self.results_of(self.sign(self.message(), domain=b"slow.test"))
        self.assertRegex(text, r"dkim=temperror \(key lookup: no DNS answer for rsa1\._domainkey\.slow\.test within 1 s\) header\.d=slow\.test")

    def test_no_signature_is_none(self):
        text, _ = self.results_of(self.message())
        self.assertEqual(text, " mx.a.test; dkim=none")

    def test_the_rfc8463_example_verifies(self):
        """Both signatures of RFC 8463 A.3 (Ed25519 and RSA, simple/simple) pass."""
        with open(RFC8463_MESSAGE, "rb") as f:
            message = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self.assertIn(b"s=brisbane;", message)
        smtp_send(self.relay, "joe@football.example.com", [ALICE], message)
        wait_for_mailbox_count(self.relay, ALICE, 1)
        [raw] = fetch_all(self.relay, ALICE)
        fields = re.findall(rb"(?mi)^Authentication-Results: mx\.a\.test;([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", raw)
        self.assertEqual(len(fields), 1, raw[:2000])
        text = re.sub(rb"\r\n[ \t]+", b" ", fields[0]).decode()
        self.assertRegex(text, r"^ dkim=pass header\.d=football\.example\.com header\.s=brisbane header\.b=\"[^\"]{8}\"; "
                               r"dkim=pass header\.d=football\.example\.com header\.s=test header\.b=\"[^\"]{8}\"$")

    def test_results_claiming_to_be_ours_are_removed(self):
        forged = self.message(extra_headers=[
            ("Authentication-Results", "mx.a.test; dkim=pass header.d=bank.test"),
            ("Authentication-Results", "other.test; spf=pass smtp.mailfrom=sig.test")])
        text, raw = self.results_of(forged)
        self.assertEqual(text, " mx.a.test; dkim=none")
        self.assertNotIn(b"bank.test", raw)
        self.assertIn(b"Authentication-Results: other.test; spf=pass", raw)


if __name__ == "__main__":
    unittest.main()
