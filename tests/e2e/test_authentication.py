"""SPF, DMARC and Authentication-Results on inbound mail from a client outside
trusted_networks, against a real DNS server (unbound, tests/lib/dns_server.py) serving the
test zones: SPF of HELO and MAIL FROM ([checks] spf), DMARC with p=reject, p=quarantine and a
subdomain policy found at the organizational domain ([checks] dmarc = "enforce"), a DNS server
that does not answer (451, never a rejection), and SPF enforcement (550 5.7.23 at MAIL).
Oracles no one here wrote: pyspf (Debian python3-spf) agrees with Missive on every SPF case
used here, python3-authres parses every Authentication-Results field Missive writes, dkimpy
signs the message whose aligned signature passes DMARC."""

import re
import smtplib
import unittest
import urllib.request

from dns_server import DnsServer
from missive_harness import (RelayTestCase, fetch_all, make_message, require_system_module,
                             wait_for_mailbox_count)
from test_dkim import require_dkimpy
from test_dkim_verify import make_keys

ALICE = "alice@a.test"
HELO = "client.helo.test"

# Domains and what they publish.
ZONE = [
    f'{HELO}. TXT "v=spf1 ip4:127.0.0.1 -all"',
    'pass.test. TXT "v=spf1 ip4:192.0.2.1 ip4:127.0.0.0/8 -all"',
    '_dmarc.pass.test. TXT "v=DMARC1; p=reject"',
    'fail.test. TXT "v=spf1 ip4:192.0.2.1 -all"',
    '_dmarc.fail.test. TXT "v=DMARC1; p=reject; adkim=s"',
    'quar.test. TXT "v=spf1 -all"',
    '_dmarc.quar.test. TXT "v=DMARC1; p=quarantine"',
    # a subdomain with no record of its own: the organizational domain's sp= applies
    'mail.org.test. TXT "v=spf1 -all"',
    '_dmarc.org.test. TXT "v=DMARC1; p=none; sp=reject"',
    # SPF softfail and an include
    'soft.test. TXT "v=spf1 include:pass.test ~all"',
    'nodmarc.test. TXT "v=spf1 ~all"',
]


def unfold(field):
    return re.sub(rb"\r\n[ \t]+", b" ", field).decode()


class AuthenticationTest(RelayTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rsa_pem, rsa_record, _, _ = make_keys()
        cls.dns = DnsServer(ZONE + [f"sel._domainkey.fail.test. TXT {rsa_record}"],
                            {"test.": "static", "down.test.": "deny"}).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        super().tearDownClass()

    def relay_with(self, spf="annotate", dmarc="enforce"):
        relay = self.start_relay("a.test", start=False, trusted_networks=[], extra_config=(
            f'\n[checks]\nspf = "{spf}"\ndkim = "annotate"\ndmarc = "{dmarc}"\n\n'
            f'[dns]\nresolver = "{self.dns.address}"\ntimeout = "1s"\n\n'
            f'[metrics]\nlisten = "127.0.0.1:0"\n'))
        relay.add_user(ALICE)
        relay.start()
        return relay

    def send(self, relay, sender, message):
        """MAIL FROM `sender` after EHLO HELO; the (code, text) of the end of the data, or of
        the first refusal."""
        with smtplib.SMTP("127.0.0.1", relay.smtp_port, local_hostname=HELO, timeout=30) as s:
            s.ehlo()
            code, text = s.mail(sender)
            if code != 250:
                return code, text
            code, text = s.rcpt(ALICE)
            self.assertEqual(code, 250, text)
            code, text = s.data(message)
            return code, text

    def message(self, author, subject="check me", headers=None):
        return make_message(subject, ["Hello."], sender=author, to=ALICE, headers=headers)

    def delivered(self, relay, count=1):
        wait_for_mailbox_count(relay, ALICE, count)
        return fetch_all(relay, ALICE)[count - 1]

    def our_results(self, raw):
        """Our one Authentication-Results field, unfolded, after authres has parsed it."""
        authres = require_system_module("authres", "python3-authres")
        fields = re.findall(rb"(?mi)^Authentication-Results:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", raw)
        ours = [f for f in fields if f.strip().lower().startswith(b"mx.a.test")]
        self.assertEqual(len(ours), 1, raw[:2000])
        text = unfold(ours[0])
        parsed = authres.AuthenticationResultsHeader.parse("Authentication-Results:" + text)
        self.assertEqual(parsed.authserv_id, "mx.a.test")
        return text, {(r.method, r.result) for r in parsed.results}

    def test_aligned_spf_pass_passes_dmarc(self):
        relay = self.relay_with()
        code, text = self.send(relay, "someone@pass.test", self.message("someone@pass.test"))
        self.assertEqual(code, 250, text)
        text, results = self.our_results(self.delivered(relay))
        self.assertEqual(text, " mx.a.test; spf=pass (matched a term of the SPF record of pass.test)"
                               " smtp.mailfrom=pass.test; spf=pass (matched a term of the SPF"
                               f" record of {HELO}) smtp.helo={HELO}; dkim=none;"
                               " dmarc=pass (p=reject dis=none) header.from=pass.test")
        self.assertEqual(results, {("spf", "pass"), ("dkim", "none"), ("dmarc", "pass")})

    def test_dmarc_reject_refuses_mail_failing_spf_and_dkim(self):
        relay = self.relay_with()
        code, text = self.send(relay, "someone@fail.test", self.message("someone@fail.test"))
        self.assertEqual((code, text), (550, b"5.7.1 Error: message rejected by the DMARC policy of fail.test"))
        # Nothing was stored: the next message is the first in the maildrop.
        code, _ = self.send(relay, "someone@pass.test", self.message("someone@pass.test", "second"))
        self.assertEqual(code, 250)
        raw = self.delivered(relay)
        self.assertIn(b"Subject: second", raw)
        relay.wait_log(r"reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: 550 5\.7\.1")
        # Counted by method and result: SPF of the two MAIL FROM identities (fail, then pass),
        # two messages without a signature, DMARC fail then pass.
        with urllib.request.urlopen(f"http://127.0.0.1:{relay.port('metrics')}/metrics", timeout=10) as r:
            scrape = r.read().decode()
        counted = dict(re.findall(r'^missive_smtp_authentication_results_total\{(method="[a-z]+",result="[a-z]+")\} (\d+)$',
                                  scrape, re.M))
        self.assertEqual(counted, {'method="spf",result="pass"': "1", 'method="spf",result="fail"': "1",
                                   'method="dkim",result="none"': "2",
                                   'method="dmarc",result="pass"': "1", 'method="dmarc",result="fail"': "1"})

    def test_an_aligned_dkim_signature_passes_dmarc_despite_spf(self):
        relay = self.relay_with()
        dkim = require_dkimpy()
        msg = self.message("someone@fail.test")
        signed = dkim.sign(msg, b"sel", b"fail.test", self.rsa_pem) + msg
        code, text = self.send(relay, "someone@fail.test", signed)
        self.assertEqual(code, 250, text)
        text, results = self.our_results(self.delivered(relay))
        self.assertIn(("spf", "fail"), results)
        self.assertIn(("dkim", "pass"), results)
        self.assertIn(("dmarc", "pass"), results)
        self.assertIn("dmarc=pass (p=reject dis=none) header.from=fail.test", text)

    def test_quarantine_is_delivered_marked(self):
        relay = self.relay_with()
        forged_mark = [("X-Missive-Quarantine", "none")]
        code, _ = self.send(relay, "x@quar.test", self.message("x@quar.test", headers=forged_mark))
        self.assertEqual(code, 250)
        raw = self.delivered(relay)
        self.assertEqual(re.findall(rb"(?mi)^X-Missive-Quarantine:.*$", raw), [b"X-Missive-Quarantine: dmarc\r"])
        text, results = self.our_results(raw)
        self.assertIn("dmarc=fail (p=quarantine dis=quarantine) header.from=quar.test", text)
        self.assertIn(("spf", "fail"), results)

    def test_a_subdomain_gets_the_organizational_sp_policy(self):
        relay = self.relay_with()
        code, text = self.send(relay, "x@mail.org.test", self.message("x@mail.org.test"))
        self.assertEqual((code, text), (550, b"5.7.1 Error: message rejected by the DMARC policy of mail.org.test"))

    def test_a_domain_without_dmarc_is_none_and_softfail_is_kept(self):
        relay = self.relay_with()
        code, _ = self.send(relay, "x@nodmarc.test", self.message("x@nodmarc.test"))
        self.assertEqual(code, 250)
        text, results = self.our_results(self.delivered(relay))
        self.assertIn(("spf", "softfail"), results)
        self.assertIn("dmarc=none (nodmarc.test publishes no DMARC policy) header.from=nodmarc.test", text)

    def test_dns_down_defers_with_451_never_rejects(self):
        relay = self.relay_with()
        code, text = self.send(relay, "x@down.test", self.message("x@down.test"))
        self.assertEqual((code, text), (451, b"4.7.1 Error: DMARC policy could not be checked, try again later"))
        annotate = self.relay_with(dmarc="annotate")
        code, _ = self.send(annotate, "x@down.test", self.message("x@down.test"))
        self.assertEqual(code, 250)
        text, results = self.our_results(self.delivered(annotate))
        self.assertIn(("spf", "temperror"), results)
        self.assertIn(("dmarc", "temperror"), results)

    def test_spf_enforce_refuses_a_fail_at_mail(self):
        relay = self.relay_with(spf="enforce", dmarc="off")
        code, text = self.send(relay, "x@fail.test", self.message("x@fail.test"))
        self.assertEqual(code, 550)
        self.assertTrue(text.startswith(b"5.7.23 Error: SPF check failed: 127.0.0.1 is not allowed"), text)
        code, text = self.send(relay, "x@down.test", self.message("x@down.test"))
        self.assertEqual((code, text), (451, b"4.7.24 Error: SPF record could not be checked, try again later"))
        code, _ = self.send(relay, "x@soft.test", self.message("x@soft.test"))
        self.assertEqual(code, 250)  # include:pass.test passes
        text, results = self.our_results(self.delivered(relay))
        self.assertEqual(results, {("spf", "pass"), ("dkim", "none")})

    def test_pyspf_agrees_on_every_case(self):
        """Missive's results above, from pyspf over the same DNS server."""
        spf = require_system_module("spf", "python3-spf")
        import dns.resolver
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.dns.port
        saved, dns.resolver.default_resolver = dns.resolver.default_resolver, resolver
        try:
            cases = {("x@pass.test", "pass"), ("x@fail.test", "fail"), ("x@quar.test", "fail"),
                     ("x@soft.test", "pass"), ("x@nodmarc.test", "softfail"),
                     ("x@mail.org.test", "fail"), (f"postmaster@{HELO}", "pass")}
            for sender, expected in sorted(cases):
                result, _ = spf.check2(i="127.0.0.1", s=sender, h=HELO, timeout=5)
                self.assertEqual(result, expected, sender)
        finally:
            dns.resolver.default_resolver = saved


if __name__ == "__main__":
    unittest.main()
