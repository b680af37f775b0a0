"""DKIM signing (RFC 6376; Ed25519 per RFC 8463) checked by dkimpy (Debian python3-dkim), an
implementation no one here wrote: `missived dkim keygen` writes a key and prints its record,
mail from our own users (a trusted network here) whose From: domain has a [[dkim]] key is
signed relaxed/relaxed before it is stored, and the copy read back over POP3 verifies
against that record; a changed Subject does not; mail from outside, or from a domain with no
key, is not signed."""

import os
import re
import stat
import unittest

from missive_harness import (RelayTestCase, fetch_all, make_message, pop3_session, require_system_module,
                             smtp_send, wait_for_mailbox_count)

ALICE = "alice@a.test"


def require_dkimpy():
    """dkimpy (Debian python3-dkim; python3-nacl for Ed25519)."""
    return require_system_module("dkim", "python3-dkim")


def txt_of(record):
    """The text of a zone-file TXT line, its quoted strings joined (RFC 1035 3.3.14)."""
    return "".join(re.findall(r'"([^"]*)"', record)).encode()


class DkimSigningTest(RelayTestCase):

    def keygen(self, relay, domain, selector, algorithm):
        r = relay.cli("dkim", "keygen", "--domain", domain, "--selector", selector,
                      "--algorithm", algorithm)
        self.assertEqual(r.returncode, 0, r.stderr)
        record = r.stdout.strip()
        self.assertRegex(record, rf'^{selector}\._domainkey\.{re.escape(domain)}\. IN TXT "v=DKIM1; '
                                 rf'k={"ed25519" if algorithm == "ed25519" else "rsa"}; p=')
        path = os.path.join(relay.data_dir, "dkim", f"{domain}.{selector}.pem")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        return record

    def start(self, trusted=None):
        """A relay of a.test with an RSA key for a.test and an Ed25519 key for ed.test."""
        relay = self.start_relay("a.test", start=False, trusted_networks=trusted, extra_config=(
            '\n[[dkim]]\ndomain = "a.test"\nselector = "rsa1"\n'
            '\n[[dkim]]\ndomain = "ed.test"\nselector = "ed1"\nalgorithm = "ed25519"\n'))
        self.records = {"rsa1._domainkey.a.test.": self.keygen(relay, "a.test", "rsa1", "rsa"),
                        "ed1._domainkey.ed.test.": self.keygen(relay, "ed.test", "ed1", "ed25519")}
        relay.add_user(ALICE)
        relay.start()
        return relay

    def dns(self, name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        record = self.records.get(name if name.endswith(".") else name + ".")
        return txt_of(record) if record else None

    def received(self, relay, sender, subject="signed", **kwargs):
        msg = make_message(subject, ["a line", "  blanks  and\ttabs  ", "", ""],
                           sender=sender, to=ALICE, **kwargs)
        smtp_send(relay, sender, [ALICE], msg)
        wait_for_mailbox_count(relay, ALICE, 1)
        [raw] = fetch_all(relay, ALICE)
        return raw

    def verify(self, raw):
        return require_dkimpy().verify(raw, dnsfunc=self.dns)

    def test_rsa_signature_verifies_with_dkimpy(self):
        raw = self.received(self.start(), ALICE, subject="Re: a colon :  and  blanks")
        self.assertRegex(raw, rb"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=a\.test; s=rsa1;")
        self.assertTrue(self.verify(raw), raw[:1500])
        # over-signed From: h= names it once more than it occurs
        h = re.search(rb"h=([^;]+);", raw).group(1)
        self.assertEqual(h.split(b":").count(b"from"), 2, h)
        self.assertFalse(self.verify(raw.replace(b"Subject: Re:", b"Subject: Fw:")))

    def test_a_message_sent_with_bdat_is_signed_too(self):
        """BDAT (RFC 3030) takes the same path as DATA: signed before it is stored."""
        relay = self.start()
        msg = make_message("chunked and signed", ["a line", ".a dot"], sender=ALICE, to=ALICE)
        with relay.smtp() as c:
            self.assertEqual(c.ehlo().code, 250)
            self.assertEqual(c.cmd(f"MAIL FROM:<{ALICE}>").code, 250)
            self.assertEqual(c.cmd(f"RCPT TO:<{ALICE}>").code, 250)
            half = len(msg) // 2
            c.send(f"BDAT {half}\r\n".encode() + msg[:half])
            self.assertEqual(c.reply().code, 250)
            c.send(f"BDAT {len(msg) - half} LAST\r\n".encode() + msg[half:])
            self.assertEqual(c.reply().code, 250)
        wait_for_mailbox_count(relay, ALICE, 1)
        [raw] = fetch_all(relay, ALICE)
        self.assertIn(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=a.test; s=rsa1;", raw)
        self.assertTrue(self.verify(raw), raw[:1500])

    def test_ed25519_signature_verifies_with_dkimpy(self):
        raw = self.received(self.start(), "bob@ed.test")
        self.assertIn(b"a=ed25519-sha256; c=relaxed/relaxed; d=ed.test; s=ed1;", raw)
        self.assertTrue(self.verify(raw), raw[:1500])

    def test_signatures_survive_a_relaxed_round_trip(self):
        """What relaxed/relaxed forgives (RFC 6376 3.4.2, 3.4.4): header names in another case,
        blanks after the colon and inside a value, a header refolded, blanks at line ends and
        empty lines at the end of the body. dkimpy still verifies both keys' signatures."""
        relay = self.start()
        for sender in (ALICE, "bob@ed.test"):
            raw = self.received(relay, sender, subject="a  subject\twith blanks")
            head, body = raw.split(b"\r\n\r\n", 1)
            changed = (head.replace(b"Subject: a  subject\twith blanks", b"SUBJECT:  a subject\r\n\twith   blanks ")
                           .replace(b"\r\nTo: ", b"\r\nto:\t")
                       + b"\r\n\r\n" + body.replace(b"a line", b"a line   ") + b"\r\n\r\n")
            self.assertNotEqual(changed, raw)
            self.assertTrue(self.verify(changed), changed[:1500])
            self.assertFalse(self.verify(changed.replace(b"a line", b"a  lime")))
            self.empty(relay)

    def empty(self, relay):
        """Deletes the maildrop's messages, so the next one received is the only one."""
        c = pop3_session(relay, ALICE)
        n, _ = c.stat()
        for i in range(1, n + 1):
            self.assertTrue(c.cmd(f"DELE {i}").startswith("+OK"))
        c.quit()
        c.close()
        wait_for_mailbox_count(relay, ALICE, 0)

    def test_the_message_id_and_date_the_relay_adds_are_signed(self):
        raw = self.received(self.start(), ALICE, date=False, message_id=False)
        h = re.search(rb"h=([^;]+);", raw).group(1).split(b":")
        self.assertIn(b"message-id", h)
        self.assertIn(b"date", h)
        self.assertTrue(self.verify(raw))

    def test_a_large_message_is_signed(self):
        relay = self.start()
        big = make_message("big", [b"x" * 998] * 5000, sender=ALICE, to=ALICE)  # about 5 MB
        smtp_send(relay, ALICE, [ALICE], big)
        wait_for_mailbox_count(relay, ALICE, 1)
        [raw] = fetch_all(relay, ALICE)
        self.assertTrue(self.verify(raw))

    def test_no_key_for_the_from_domain_no_signature(self):
        raw = self.received(self.start(), "carol@elsewhere.test")
        self.assertNotIn(b"DKIM-Signature", raw)

    def test_mail_from_outside_is_not_signed(self):
        raw = self.received(self.start(trusted=[]), ALICE.replace("alice", "mallory"))
        self.assertNotIn(b"DKIM-Signature", raw)

    def test_show_prints_the_configured_records_and_keygen_never_overwrites(self):
        relay = self.start()
        r = relay.cli("dkim", "show", "--config", relay.config_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), list(self.records.values()))
        path = os.path.join(relay.data_dir, "dkim", "a.test.rsa1.pem")
        before = open(path, "rb").read()
        again = relay.cli("dkim", "keygen", "--domain", "a.test", "--selector", "rsa1")
        self.assertEqual(again.returncode, 73, again.stderr)
        self.assertIn("File exists", again.stderr)
        self.assertEqual(open(path, "rb").read(), before)

    def test_an_unreadable_key_stops_the_start_with_exit_78(self):
        relay = self.start_relay("a.test", start=False, extra_config=(
            '\n[[dkim]]\ndomain = "a.test"\nselector = "missing"\n'))
        r = relay.cli("dkim", "show", "--config", relay.config_path)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("a.test.missing.pem", r.stderr)


if __name__ == "__main__":
    unittest.main()
