"""The relay's TLS as an outside auditor sees it: testssl.sh (Debian package testssl.sh)
against STARTTLS on SMTP (RFC 3207) and STLS on POP3 (RFC 2595), with a certificate from a
test CA that testssl.sh is told to trust. No finding may be rated MEDIUM or worse: protocols,
cipher suites, server order, forward secrecy, renegotiation, known attacks, certificate."""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from missive_harness import HOST, HarnessError, MissiveTestCase

# testssl.sh's severities, from its JSON, that fail the test (FATAL: the scan itself broke).
SEVERE = {"MEDIUM", "HIGH", "CRITICAL", "FATAL"}

# Findings about the test certificate that no private test CA can avoid, by id. A test CA
# publishes no CRL and runs no OCSP responder; testssl.sh rates a certificate without either
# HIGH. It would only fetch a CRL with --phone-out, which also asks pwnedkeys.com, off this
# host. The finding is about who issued the certificate, not about Missive's TLS.
CERTIFICATE_ONLY = {"cert_revocation"}

# One testssl.sh run may take this long (it makes a few hundred handshakes; about 35 s on
# two busy cores): both fit in ctest's 300 s.
RUN_TIMEOUT = 120

# The TLS 1.2 suites a server with an RSA certificate offers, in its order: ECDHE (forward
# secrecy) with an AEAD, none with static-RSA key exchange or CBC.
TLS12_ORDER = "ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305"


def require_testssl():
    """testssl.sh's path: Debian installs it as `testssl`, upstream calls it `testssl.sh`.
    Missing: a loud failure, never a skip."""
    for name in ("testssl", "testssl.sh"):
        path = shutil.which(name)
        if path:
            return path
    raise HarnessError("required external tool testssl.sh is not installed "
                       "(Debian package testssl.sh; scripts/setup.sh installs it)")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_test_ca(directory):
    """A CA and a server certificate for the address 127.0.0.1 signed by it, made with the
    openssl command as an operator would. Returns (ca, cert, key) paths."""
    with open(os.path.join(directory, "leaf.cnf"), "w") as f:
        f.write("[leaf]\n"
                f"subjectAltName = IP:{HOST}\n"
                "basicConstraints = critical, CA:FALSE\n"
                "keyUsage = critical, digitalSignature, keyEncipherment\n"
                "extendedKeyUsage = serverAuth\n"
                "subjectKeyIdentifier = hash\n"
                "authorityKeyIdentifier = keyid\n")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "365",
            "-subj", "/CN=Missive test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=directory)
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={HOST}",
            "-keyout", "key.pem", "-out", "req.pem", cwd=directory)
    # A 128-bit random serial, as CAs must give (CA/B Forum baseline requirements 7.1).
    openssl("x509", "-req", "-in", "req.pem", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", f"0x{secrets.token_hex(16)}", "-days", "90", "-sha256",
            "-extfile", "leaf.cnf", "-extensions", "leaf", "-out", "cert.pem", cwd=directory)
    return tuple(os.path.join(directory, name) for name in ("ca.pem", "cert.pem", "key.pem"))


class TestsslTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.testssl = require_testssl()
        cls.tmp = tempfile.mkdtemp(prefix="missive-testssl-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.ca, cert, key = make_test_ca(cls.tmp)
        cls.server = cls.start_server(f"""
[tls]
cert = "{cert}"
key = "{key}"
""")

    def run_testssl(self, starttls, port):
        """testssl.sh's findings for STARTTLS `starttls` on 127.0.0.1:port, from its JSON."""
        report = os.path.join(self.tmp, f"{starttls}.json")
        command = [self.testssl, "--quiet", "--color", "0", "--warnings", "off",
                   "--nodns", "none",        # no DNS: nothing leaves 127.0.0.1
                   "--add-ca", self.ca, "--jsonfile", report,
                   "--connect-timeout", "10", "--openssl-timeout", "10",
                   "-t", starttls,
                   "-p",  # protocols
                   "-s",  # cipher categories
                   "-f",  # forward secrecy
                   "-P",  # the server's order
                   "-S",  # certificate and server defaults
                   "-U",  # vulnerabilities, renegotiation (-R) among them
                   f"{HOST}:{port}"]
        started = time.monotonic()
        run = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                             cwd=self.tmp)
        took = time.monotonic() - started
        sys.stderr.write(f"\ntestssl.sh -t {starttls}: {took:.0f} s\n")
        if not os.path.exists(report):
            self.fail(f"testssl.sh wrote no report (exit status {run.returncode}):\n"
                      f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
        with open(report) as f:
            findings = json.load(f)
        self.assertIsInstance(findings, list)
        return findings, run.stdout

    def assertProfile(self, findings, output):
        """None of testssl.sh's findings is MEDIUM or worse, and it saw the profile."""
        found = {f["id"]: f.get("finding") for f in findings}
        # The scan reached the server over TLS: without this, a failed STARTTLS would leave
        # no findings at all, and nothing severe.
        self.assertEqual(found.get("TLS1_2"), "offered", output)
        severe = [f for f in findings
                  if f.get("severity") in SEVERE and f["id"] not in CERTIFICATE_ONLY]
        if severe:
            lines = "\n".join(f"  {f['severity']} {f['id']}: {f.get('finding')}" for f in severe)
            sys.stderr.write(f"\ntestssl.sh output:\n{output}\n")
            self.fail(f"testssl.sh rates {len(severe)} finding(s) MEDIUM or worse:\n{lines}")
        self.assertEqual(found.get("TLS1_3"), "offered with final", output)
        self.assertEqual(found.get("TLS1_1"), "not offered", output)
        self.assertEqual(found.get("cipher_order"), "server", output)
        self.assertEqual(found.get("cipherorder_TLSv1_2"), TLS12_ORDER, output)
        self.assertEqual(set(found.get("PFS_ECDHE_curves", "").split()),
                         {"X25519", "prime256v1", "secp384r1"}, output)

    def test_smtp_starttls(self):
        self.assertProfile(*self.run_testssl("smtp", self.server.smtp_port))

    def test_pop3_stls(self):
        self.assertProfile(*self.run_testssl("pop3", self.server.pop3_port))


if __name__ == "__main__":
    unittest.main()
