"""`missived tls selfsigned`: a certificate names each --host as what it is, a name as a
dNSName and an address as an iPAddress (RFC 5280 4.2.1.6), so that clients which check the
address they connected to accept it; the key is its owner's alone; given --cert and --key,
the command writes those two files and nothing else."""

import os
import shutil
import stat
import subprocess
import tempfile
import unittest

from missive_harness import (DOMAIN, HOST, MissiveTestCase, make_message, missived_path,
                             require_tool, wait_for_mailbox_count)

ALICE = f"alice@{DOMAIN}"


def selfsigned(directory, *args):
    """`missived tls selfsigned ARGS` run in `directory` (no --data-dir)."""
    return subprocess.run([missived_path(), "tls", "selfsigned", *args], cwd=directory,
                          capture_output=True, text=True, timeout=60)


def subject_alt_name(cert):
    """The certificate's subjectAltName as openssl prints it, e.g. "DNS:a, IP Address:b"."""
    r = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-ext", "subjectAltName"],
                       capture_output=True, text=True, check=True, timeout=30)
    head, _, value = r.stdout.partition("\n")
    assert head.strip() == "X509v3 Subject Alternative Name:", r.stdout
    return value.strip()


class SelfSignedTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.curl = require_tool("curl")
        require_tool("openssl")
        cls.tmp = tempfile.mkdtemp(prefix="missive-selfsigned-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        # The certificate the relay below uses, made by the command under test.
        cls.work = os.path.join(cls.tmp, "work")
        os.mkdir(cls.work)
        cls.cert, cls.key = os.path.join(cls.work, "cert.pem"), os.path.join(cls.work, "key.pem")
        cls.made = selfsigned(cls.work, "--host", "mx.example.test", "--host", HOST,
                              "--cert", cls.cert, "--key", cls.key)
        if cls.made.returncode != 0:
            raise AssertionError(f"tls selfsigned failed: {cls.made.returncode} {cls.made.stderr}")
        cls.server = cls.start_server(f"""
[tls]
cert = "{cls.cert}"
key = "{cls.key}"
""")
        cls.server.add_user(ALICE)
        cls.sent = 0

    def test_names_and_addresses_each_as_what_they_are(self):
        self.assertEqual(subject_alt_name(self.cert), "DNS:mx.example.test, IP Address:127.0.0.1")

    def test_writes_the_two_files_and_nothing_else(self):
        self.assertEqual(sorted(os.listdir(self.work)), ["cert.pem", "key.pem"])
        self.assertEqual(stat.S_IMODE(os.stat(self.key).st_mode), 0o600)

    def test_an_address_alone(self):
        work = tempfile.mkdtemp(dir=self.tmp)
        r = selfsigned(work, "--host", HOST, "--cert", "c.pem", "--key", "k.pem")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(subject_alt_name(os.path.join(work, "c.pem")), "IP Address:127.0.0.1")
        self.assertEqual(sorted(os.listdir(work)), ["c.pem", "k.pem"])

    def test_default_paths_are_in_the_data_directory(self):
        work = tempfile.mkdtemp(dir=self.tmp)
        r = selfsigned(work, "--host", "mx.example.test", "--data-dir", "data")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(os.listdir(os.path.join(work, "data"))), ["cert.pem", "key.pem"])
        self.assertEqual(subject_alt_name(os.path.join(work, "data", "cert.pem")),
                         "DNS:mx.example.test")

    def test_a_host_that_is_neither_refused(self):
        work = tempfile.mkdtemp(dir=self.tmp)
        r = selfsigned(work, "--host", f"{HOST}:25", "--cert", "c.pem", "--key", "k.pem")
        self.assertEqual(r.returncode, 64, r.stderr)  # EX_USAGE
        self.assertIn("not a host name or IP address: 127.0.0.1:25", r.stderr)
        self.assertEqual(os.listdir(work), [])

    def send_with_curl(self, host, *args):
        """curl sends a message over STARTTLS (required) to smtp://host:PORT, trusting the
        certificate alone; returns curl's exit status and stderr."""
        type(self).sent += 1
        message = os.path.join(self.tmp, f"message{self.sent}.eml")
        with open(message, "wb") as f:
            f.write(make_message(f"curl over TLS {self.sent}", ["hello"], to=ALICE))
        r = subprocess.run([self.curl, "-sS", "--max-time", "20", "--ssl-reqd",
                            "--cacert", self.cert, *args,
                            "--url", f"smtp://{host}:{self.server.smtp_port}",
                            "--mail-from", ALICE, "--mail-rcpt", ALICE, "--upload-file", message],
                           capture_output=True, text=True, timeout=30)
        return r.returncode, r.stderr

    def test_curl_verifies_the_address_and_the_name(self):
        self.assertEqual(self.send_with_curl(HOST), (0, ""))
        # The name, resolved by curl itself to 127.0.0.1: no DNS query leaves the host.
        port = self.server.smtp_port
        self.assertEqual(
            self.send_with_curl("mx.example.test", "--resolve", f"mx.example.test:{port}:{HOST}"),
            (0, ""))
        wait_for_mailbox_count(self.server, ALICE, 2)
        # A name the certificate does not carry: curl refuses the peer (exit 60), so the two
        # above passed its check rather than skipped it.
        code, stderr = self.send_with_curl("other.example.test", "--resolve",
                                           f"other.example.test:{port}:{HOST}")
        self.assertEqual(code, 60, stderr)
        wait_for_mailbox_count(self.server, ALICE, 2)


if __name__ == "__main__":
    unittest.main()
