"""Outbound TLS and AUTH per route: a relay uses STARTTLS with its next hop when offered,
insists on it when the route says tls = "required", and authenticates to a smarthost with
the route's user and password."""

import os
import subprocess
import tempfile
import unittest

from missive_harness import (HOST, RelayTestCase, make_message, missived_path, smtp_send,
                             wait_until)

ALICE = "alice@a.test"
BOB = "bob@b.test"


def certificate(directory):
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run([missived_path(), "tls", "selfsigned", "--cert", cert, "--key", key,
                    "--host", "localhost", "--data-dir", directory],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def route(domain, port, **settings):
    lines = ["", "[[route]]", f'domain = "{domain}"', f'host = "{HOST}:{port}"']
    lines += [f'{key} = "{value}"' for key, value in settings.items()]
    return "\n".join(lines) + "\n"


class RelayTlsAuthTest(RelayTestCase):

    def start_b(self, with_tls):
        extra = ""
        if with_tls:
            cert, key = certificate(tempfile.mkdtemp(prefix="missive-b-cert-"))
            extra = f'\n[tls]\ncert = "{cert}"\nkey = "{key}"\n'
        b = self.start_relay("b.test", start=False, trusted_networks=[], extra_config=extra)
        b.add_user(BOB)
        b.start()
        return b

    def test_required_tls_and_auth_to_a_smarthost(self):
        b = self.start_b(with_tls=True)
        # B trusts nobody: relaying through it to c.test needs AUTH, and AUTH needs TLS.
        a = self.start_relay("a.test", start=False,
                             extra_config=route("*", b.smtp_port, tls="required", user=BOB,
                                                password="secret"))
        a.add_user(ALICE)
        a.start()
        qid = smtp_send(a, ALICE, [BOB], make_message("over tls", ["hello"], to=BOB))
        a.wait_state(qid, BOB, "delivered")
        # Info lines reach the log a moment after the fact (held for one write, then a pipe).
        wait_until(lambda: f"event=auth user={BOB}" in b.read_log(), timeout=5,
                   what="B's log of the AUTH")
        log = b.read_log()
        self.assertIn("event=tls", log)
        self.assertIn(f"event=auth user={BOB}", log)
        stored = b.query("SELECT body FROM message WHERE sender = ?", (ALICE,))[0][0]
        self.assertIn(b"with ESMTPSA id", stored.split(b"\r\n\r\n")[0])

    def test_required_tls_without_it_defers(self):
        b = self.start_b(with_tls=False)
        a = self.start_relay("a.test", start=False,
                             extra_config=route("b.test", b.smtp_port, tls="required"))
        a.add_user(ALICE)
        a.start()
        qid = smtp_send(a, ALICE, [BOB], make_message("no tls", ["x"], to=BOB))
        state, attempts, _, reply = a.wait_state(qid, BOB, "deferred")
        self.assertIn("STARTTLS", reply)
        self.assertEqual(b.scalar("SELECT count(*) FROM message"), 0, "nothing sent in plaintext")

    def test_opportunistic_tls_by_default(self):
        b = self.start_b(with_tls=True)
        a = self.start_relay("a.test", start=False, routes=[("b.test", b.smtp_port)])
        a.add_user(ALICE)
        a.start()
        qid = smtp_send(a, ALICE, [BOB], make_message("opportunistic", ["x"], to=BOB))
        a.wait_state(qid, BOB, "delivered")
        stored = b.query("SELECT body FROM message WHERE sender = ?", (ALICE,))[0][0]
        self.assertIn(b"with ESMTPS id", stored.split(b"\r\n\r\n")[0])


if __name__ == "__main__":
    unittest.main()
