"""TLS and authentication: STARTTLS (RFC 3207) and STLS (RFC 2595) with the plaintext pipelined
behind them discarded (CVE-2011-0411), implicit TLS (RFC 8314), AUTH PLAIN/LOGIN (RFC 4954),
the submission service's rules (RFC 6409), and a bad certificate refused at start."""

import base64
import os
import poplib
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from missive_harness import (DOMAIN, HOST, PASSWORD, MissiveServer, MissiveTestCase, make_message,
                             missived_path, wait_for_mailbox_count)

ALICE = f"alice@{DOMAIN}"


def make_certificate(directory):
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run([missived_path(), "tls", "selfsigned", "--cert", cert, "--key", key,
                    "--host", "localhost", "--data-dir", directory],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def client_context(cert):
    context = ssl.create_default_context(cafile=cert)
    context.check_hostname = True
    return context


def read_reply(sock_file):
    """One SMTP reply from a file object: (code, [lines])."""
    lines = []
    while True:
        line = sock_file.readline().decode()
        if not line:
            raise ConnectionError("closed")
        lines.append(line.rstrip("\r\n"))
        if len(line) < 4 or line[3] != "-":
            return int(line[:3]), lines


class TlsAuthTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.certs = tempfile.mkdtemp(prefix="missive-certs-")
        cls.cert, cls.key = make_certificate(cls.certs)
        cls.server = cls.start_server(f"""
[smtp]
submission = ["127.0.0.1:0"]
submissions = ["127.0.0.1:0"]
trusted_networks = []
plaintext_auth = "never"

[pop3]
pop3s = ["127.0.0.1:0"]

[tls]
cert = "{cls.cert}"
key = "{cls.key}"
""")
        cls.server.add_user(ALICE)
        cls.context = client_context(cls.cert)

    def test_starttls_discards_pipelined_plaintext(self):
        with socket.create_connection((HOST, self.server.smtp_port), timeout=10) as raw:
            f = raw.makefile("rb")
            self.assertEqual(read_reply(f)[0], 220)
            raw.sendall(b"EHLO client.test\r\n")
            code, lines = read_reply(f)
            self.assertIn("STARTTLS", [l[4:] for l in lines])
            self.assertNotIn("AUTH PLAIN LOGIN", [l[4:] for l in lines], "no AUTH in plaintext")
            # HELP pipelined behind STARTTLS in plaintext must never be answered.
            raw.sendall(b"STARTTLS\r\nHELP\r\n")
            code, lines = read_reply(f)
            self.assertEqual(code, 220)
            self.assertTrue(lines[0].startswith("220 2.0.0"))
            with self.context.wrap_socket(raw, server_hostname="localhost") as tls:
                tf = tls.makefile("rb")
                tls.sendall(b"NOOP\r\n")
                self.assertEqual(read_reply(tf), (250, ["250 2.0.0 Ok"]))
                # State was reset: MAIL needs EHLO again.
                tls.sendall(b"MAIL FROM:<alice@example.test>\r\n")
                self.assertEqual(read_reply(tf)[0], 503)
                tls.sendall(b"EHLO client.test\r\n")
                code, lines = read_reply(tf)
                keywords = [l[4:] for l in lines]
                self.assertNotIn("STARTTLS", keywords)
                self.assertIn("AUTH PLAIN LOGIN", keywords)
                tls.sendall(b"STARTTLS\r\n")
                self.assertEqual(read_reply(tf)[0], 503)

    def test_auth_refused_in_plaintext_with_538(self):
        s = smtplib.SMTP(HOST, self.server.smtp_port, timeout=10)
        self.addCleanup(s.close)
        s.ehlo("client.test")
        token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
        code, text = s.docmd("AUTH", f"PLAIN {token}")
        self.assertEqual(code, 538)
        self.assertTrue(text.startswith(b"5.7.11"))

    def test_submission_requires_auth_and_own_sender(self):
        port = self.server.port("submission")
        s = smtplib.SMTP("localhost", port, timeout=10)  # the certificate names localhost
        self.addCleanup(s.close)
        s.starttls(context=self.context)
        s.ehlo("client.test")
        self.assertEqual(s.docmd("MAIL", f"FROM:<{ALICE}>")[0], 530)
        started = time.monotonic()
        with self.assertRaises(smtplib.SMTPAuthenticationError) as failure:
            s.login(ALICE, "wrong password")
        self.assertEqual(failure.exception.smtp_code, 535)
        self.assertGreater(time.monotonic() - started, 0.8, "a failed AUTH is answered after a pause")
        code, _ = s.login(ALICE, PASSWORD)
        self.assertEqual(code, 235)
        self.assertEqual(s.docmd("MAIL", "FROM:<mallory@example.test>")[0], 553)
        self.assertEqual(s.docmd("MAIL", f"FROM:<{ALICE}>")[0], 250)
        # Authenticated users may relay even though no network is trusted.
        self.assertEqual(s.docmd("RCPT", "TO:<someone@elsewhere.test>")[0], 250)
        self.assertEqual(s.docmd("RCPT", f"TO:<{ALICE}>")[0], 250)
        s.docmd("RSET")
        s.quit()

    def test_auth_login_mechanism(self):
        s = smtplib.SMTP("localhost", self.server.port("submission"), timeout=10)
        self.addCleanup(s.close)
        s.starttls(context=self.context)
        s.ehlo("client.test")
        s.user, s.password = ALICE, PASSWORD
        code, text = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        self.assertEqual(code, 235)

    def test_implicit_tls_submission_delivers(self):
        user = f"tls.reader@{DOMAIN}"
        self.server.add_user(user)
        with smtplib.SMTP_SSL("localhost", self.server.port("submissions"), context=self.context,
                              timeout=10) as s:
            s.login(ALICE, PASSWORD)
            s.sendmail(ALICE, [user], make_message("implicit tls", ["secret"], to=user))
        wait_for_mailbox_count(self.server, user, 1)
        p = poplib.POP3_SSL("localhost", self.server.port("pop3s"), context=self.context, timeout=10)
        self.addCleanup(p.close)
        p.user(user)
        p.pass_(PASSWORD)
        lines = p.retr(1)[1]
        p.quit()
        self.assertEqual(lines[:2], [f"Return-Path: <{ALICE}>".encode(), f"Delivered-To: {user}".encode()])
        received = b"\r\n".join(lines[2:5]).decode()
        self.assertIn("with ESMTPSA id", received)

    def test_pop3_stls_discards_pipelined_plaintext(self):
        with socket.create_connection((HOST, self.server.pop3_port), timeout=10) as raw:
            f = raw.makefile("rb")
            self.assertTrue(f.readline().startswith(b"+OK"))
            raw.sendall(b"CAPA\r\n")
            capa = []
            while (line := f.readline()) != b".\r\n":
                capa.append(line.strip())
            self.assertIn(b"STLS", capa)
            raw.sendall(b"STLS\r\nNOOP\r\n")
            self.assertTrue(f.readline().startswith(b"+OK"))
            with self.context.wrap_socket(raw, server_hostname="localhost") as tls:
                tf = tls.makefile("rb")
                tls.sendall(b"CAPA\r\n")
                # The plaintext NOOP was discarded: the first answer is CAPA's.
                self.assertTrue(tf.readline().startswith(b"+OK Capability"))
                capa = []
                while (line := tf.readline()) != b".\r\n":
                    capa.append(line.strip())
                self.assertNotIn(b"STLS", capa)
                self.assertIn(b"USER", capa)
                tls.sendall(f"USER {ALICE}\r\nPASS {PASSWORD}\r\nQUIT\r\n".encode())
                self.assertTrue(tf.readline().startswith(b"+OK"))
                self.assertTrue(tf.readline().startswith(b"+OK"))


class BadCertificateTest(MissiveTestCase):

    def test_unreadable_certificate_refused_at_start(self):
        server = MissiveServer(config='[tls]\ncert = "/nonexistent/cert.pem"\nkey = "/nonexistent/key.pem"\n')
        self.addCleanup(server.cleanup)
        r = subprocess.run(server.command(), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("/nonexistent/cert.pem", r.stderr)
        self.assertEqual(r.stdout, "")


class PlaintextAuthPolicyTest(MissiveTestCase):
    """plaintext_auth governs POP3 exactly as SMTP AUTH: with "never" and no TLS at all, no
    password is taken in the clear, not even from loopback."""

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server('[smtp]\nplaintext_auth = "never"\n')
        cls.server.add_user(ALICE)

    def test_pop3_refuses_user_pass_and_auth(self):
        p = self.server.pop3()
        self.addCleanup(p.close)
        capa = p.cmd("CAPA")
        self.assertOk(capa)
        capabilities = p.multiline().decode().split("\r\n")
        self.assertNotIn("USER", capabilities)
        self.assertNotIn("SASL PLAIN", capabilities)
        self.assertEqual(p.cmd(f"USER {ALICE}"), "-ERR [AUTH] Plaintext authentication is disabled here")
        self.assertErr(p.cmd(f"PASS {PASSWORD}"), "AUTH")
        token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
        self.assertErr(p.cmd(f"AUTH PLAIN {token}"), "AUTH")

    def test_smtp_refuses_auth(self):
        with self.server.smtp() as c:
            r = c.ehlo()
            self.assertReply(r, 250)
            self.assertFalse(any(line.startswith("AUTH") for line in r.lines), r.lines)
            token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
            self.assertReply(c.cmd(f"AUTH PLAIN {token}"), 538, "5.7.11")

if __name__ == "__main__":
    unittest.main()
