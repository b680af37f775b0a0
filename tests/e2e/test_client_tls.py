"""`missive` with TLS: STARTTLS (RFC 3207) when sending, STLS (RFC 2595) when fetching.

Certificates are self-signed, made with the openssl command line for each run; the client
trusts them through `ca_file`. Servers:
  - aiosmtpd (python3-aiosmtpd, no one here wrote it) with `require_starttls`: sending with
    tls = "starttls" and "required" goes through TLS (aiosmtpd's session says so, and the SNI
    it saw is checked); tls = "none" is refused (530); tls = "required" against a server that
    does not offer STARTTLS exits 69 and sends nothing; an untrusted certificate, or one that
    names another host, fails the handshake (exit 69) and sends nothing.
  - a scripted SMTP server and a scripted POP3 server (below, Python's ssl module) that put
    a forged reply behind their "go ahead" in plaintext: the client must discard it
    (RFC 3207 4.2, RFC 2595 4; CVE-2011-0411) and ask EHLO / CAPA again over TLS.
  - missived with a [tls] section: STARTTLS for `missive send`, STLS for `missive fetch`.
Configuration mistakes (bad `tls` or `tls_verify` value, missing `ca_file`) exit 78 naming
file:line:key."""

import logging
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest

from missive_harness import (HOST, PASSWORD, HarnessError, MissiveTestCase, missived_path,
                             mailbox_entries, refused_port, require_aiosmtpd, require_tool,
                             start_aiosmtpd, wait_for_mailbox_count, wait_until)
from test_client_send import run_missive

ALICE = "alice@example.test"
BOB = "bob@example.test"
QUEUE_ID = "TLS123"


def make_certificate(directory, name, san, cn="localhost"):
    """A self-signed certificate and key, CN=`cn`, with the given subjectAltName."""
    openssl = require_tool("openssl")
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    r = subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-subj", "/CN=" + cn,
                        "-addext", "subjectAltName=" + san, "-days", "2"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise HarnessError(f"openssl req failed ({r.returncode}): {r.stderr}")
    return cert, key


def server_context(cert, key, sni_seen=None):
    """A TLS server context for the test servers; records the SNI names it is asked for."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if sni_seen is not None:
        def callback(sslobj, name, ctx):
            sni_seen.append(name)
        context.sni_callback = callback
    return context


class Certificates:
    """The run's certificates: `good` names localhost and 127.0.0.1; `other` is another
    self-signed one (not trusted when ca_file is `good`); `elsewhere` names only
    other.test; `named` names only mx.example.test (no address)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="missive-tls-")
        self.cert, self.key = make_certificate(self.dir, "good", "DNS:localhost,IP:127.0.0.1")
        self.other_cert, self.other_key = make_certificate(self.dir, "other",
                                                           "DNS:localhost,IP:127.0.0.1")
        self.elsewhere_cert, self.elsewhere_key = make_certificate(self.dir, "elsewhere",
                                                                   "DNS:other.test")
        self.named_cert, self.named_key = make_certificate(self.dir, "named",
                                                           "DNS:mx.example.test",
                                                           cn="mx.example.test")

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def write_config(home, **settings):
    """A client config file with these keys (strings quoted, ints as they are)."""
    path = os.path.join(home, "config.toml")
    with open(path, "w") as f:
        for key, value in settings.items():
            f.write(f'{key} = "{value}"\n' if isinstance(value, str) else f"{key} = {value}\n")
    return path


class RecordingHandler:
    """aiosmtpd handler: keeps each message with whether its session was over TLS."""

    def __init__(self):
        self.lock = threading.Lock()
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.envelopes.append({
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "content": envelope.original_content,
                "tls": session.ssl is not None,
            })
        return f"250 2.0.0 Ok: queued as {QUEUE_ID}"

    def snapshot(self):
        with self.lock:
            return list(self.envelopes)


class ClientStartTlsAiosmtpdTest(unittest.TestCase):
    """`missive send` against aiosmtpd, with and without STARTTLS."""

    @classmethod
    def setUpClass(cls):
        require_aiosmtpd()  # missing: a loud failure, before any test
        cls.certs = Certificates()
        cls.addClassCleanup(cls.certs.cleanup)
        # aiosmtpd logs a traceback for each handshake the client fails on purpose.
        log = logging.getLogger("mail.log")
        level = log.level
        log.setLevel(logging.CRITICAL)
        cls.addClassCleanup(log.setLevel, level)

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="missive-client-home-")
        self.addCleanup(shutil.rmtree, self.home, True)

    def start_aiosmtpd(self, tls=True, require_starttls=True, cert=None, key=None):
        """aiosmtpd on a port of its own; with `tls`, it offers STARTTLS with `cert` (default the
        good one). Returns (handler, port, sni_seen)."""
        handler = RecordingHandler()
        sni_seen = []
        kwargs = {}
        if tls:
            context = server_context(cert or self.certs.cert, key or self.certs.key, sni_seen)
            kwargs = {"tls_context": context, "require_starttls": require_starttls}
        controller = start_aiosmtpd(handler, server_hostname="aiosmtpd.x.test",
                                    ready_timeout=10, **kwargs)
        self.addCleanup(controller.stop)
        return handler, controller.port, sni_seen

    def send(self, port, server=HOST, **settings):
        config = write_config(self.home, server=server, smtp_port=port, **settings)
        return run_missive(["--config", config, "send", "--from", BOB, "--to", ALICE,
                            "--subject", "over TLS"],
                           stdin=b"Hello over TLS.\n", home=self.home)

    def wait_envelopes(self, handler, n):
        return wait_until(lambda: (lambda e: e if len(e) >= n else None)(handler.snapshot()),
                          timeout=10, what=f"{n} message(s) at aiosmtpd")

    def assertOneSentence(self, stderr, *fragments):
        text = stderr.decode()
        self.assertTrue(text.startswith("missive: "), text)
        self.assertEqual(text.count("\n"), 1, text)
        self.assertNotIn("Traceback", text)
        self.assertNotIn("internal error", text)
        for fragment in fragments:
            self.assertIn(fragment, text)

    def test_starttls_and_required_send_over_tls(self):
        for mode in ("starttls", "required"):
            with self.subTest(tls=mode):
                handler, port, sni_seen = self.start_aiosmtpd()
                r = self.send(port, tls=mode, ca_file=self.certs.cert)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout.decode().strip(), f"queued as {QUEUE_ID}")
                [env] = self.wait_envelopes(handler, 1)
                self.assertTrue(env["tls"], "aiosmtpd took the message without TLS")
                self.assertEqual(env["mail_from"], BOB)
                self.assertEqual(env["rcpt_tos"], [ALICE])
                self.assertIn(b"Hello over TLS.", env["content"])
                # RFC 6066 3: no SNI for an address literal.
                self.assertEqual(sni_seen, [None])

    def test_default_configuration_uses_starttls_when_offered(self):
        # tls defaults to "starttls" and tls_verify to "peer": only ca_file is needed.
        handler, port, _ = self.start_aiosmtpd()
        r = self.send(port, ca_file=self.certs.cert)
        self.assertEqual(r.returncode, 0, r.stderr)
        [env] = self.wait_envelopes(handler, 1)
        self.assertTrue(env["tls"])

    def test_host_name_is_sent_as_sni_and_checked(self):
        handler, port, sni_seen = self.start_aiosmtpd()
        r = self.send(port, server="localhost", tls="required", ca_file=self.certs.cert)
        self.assertEqual(r.returncode, 0, r.stderr)
        [env] = self.wait_envelopes(handler, 1)
        self.assertTrue(env["tls"])
        self.assertEqual(sni_seen, ["localhost"])

    def test_tls_server_name_is_checked_and_sent_as_sni(self):
        # The server is given by address; its certificate names only mx.example.test.
        handler, port, sni_seen = self.start_aiosmtpd(cert=self.certs.named_cert,
                                                      key=self.certs.named_key)
        r = self.send(port, tls="required", ca_file=self.certs.named_cert,
                      tls_server_name="mx.example.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        [env] = self.wait_envelopes(handler, 1)
        self.assertTrue(env["tls"])
        self.assertEqual(sni_seen, ["mx.example.test"])
        # Without it the address is checked, and the certificate does not carry it.
        r = self.send(port, tls="required", ca_file=self.certs.named_cert)
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertOneSentence(r.stderr, "certificate verify failed", "IP address mismatch")
        self.assertEqual(len(handler.snapshot()), 1)

    def test_starttls_with_plain_server_sends_in_plaintext(self):
        handler, port, _ = self.start_aiosmtpd(tls=False)
        r = self.send(port, tls="starttls", ca_file=self.certs.cert)
        self.assertEqual(r.returncode, 0, r.stderr)
        [env] = self.wait_envelopes(handler, 1)
        self.assertFalse(env["tls"])

    def test_tls_none_against_require_starttls_is_refused(self):
        handler, port, _ = self.start_aiosmtpd()
        r = self.send(port, tls="none")
        self.assertEqual(r.returncode, 69, r.stderr)
        # aiosmtpd: "530 Must issue a STARTTLS command first"
        self.assertOneSentence(r.stderr, "530", "STARTTLS")
        self.assertEqual(handler.snapshot(), [])

    def test_required_against_server_without_starttls_exits_69(self):
        handler, port, _ = self.start_aiosmtpd(tls=False)
        r = self.send(port, tls="required", ca_file=self.certs.cert)
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertOneSentence(r.stderr, "does not offer STARTTLS, which is required")
        self.assertEqual(handler.snapshot(), [])

    def test_untrusted_certificate_fails_the_handshake(self):
        for mode in ("starttls", "required"):
            with self.subTest(tls=mode):
                handler, port, _ = self.start_aiosmtpd(cert=self.certs.other_cert,
                                                       key=self.certs.other_key)
                r = self.send(port, tls=mode, ca_file=self.certs.cert)
                self.assertEqual(r.returncode, 69, r.stderr)
                self.assertOneSentence(r.stderr, "TLS handshake", "certificate verify failed")
                self.assertEqual(handler.snapshot(), [])

    def test_system_store_does_not_trust_a_self_signed_certificate(self):
        handler, port, _ = self.start_aiosmtpd()
        r = self.send(port, tls="starttls")
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertOneSentence(r.stderr, "certificate verify failed")
        self.assertEqual(handler.snapshot(), [])

    def test_certificate_for_another_host_fails_the_handshake(self):
        handler, port, _ = self.start_aiosmtpd(cert=self.certs.elsewhere_cert,
                                               key=self.certs.elsewhere_key)
        r = self.send(port, tls="required", ca_file=self.certs.elsewhere_cert)
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertOneSentence(r.stderr, "certificate verify failed", "mismatch")
        self.assertEqual(handler.snapshot(), [])

    def test_tls_verify_none_accepts_any_certificate(self):
        handler, port, _ = self.start_aiosmtpd(cert=self.certs.elsewhere_cert,
                                               key=self.certs.elsewhere_key)
        r = self.send(port, tls="required", tls_verify="none")
        self.assertEqual(r.returncode, 0, r.stderr)
        [env] = self.wait_envelopes(handler, 1)
        self.assertTrue(env["tls"])

    def test_sendmail_over_required_tls(self):
        handler, port, _ = self.start_aiosmtpd()
        config = write_config(self.home, server=HOST, smtp_port=port, tls="required",
                              ca_file=self.certs.cert)
        message = (f"From: {BOB}\r\nTo: {ALICE}\r\nSubject: sendmail over TLS\r\n\r\n"
                   "Hi.\r\n").encode()
        r = run_missive(["--config", config, "sendmail", "-t"], stdin=message, home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        [env] = self.wait_envelopes(handler, 1)
        self.assertTrue(env["tls"])
        self.assertEqual(env["rcpt_tos"], [ALICE])


class ClientTlsConfigTest(unittest.TestCase):
    """Mistakes in the TLS settings: exit 78, naming file:line:key."""

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="missive-client-home-")
        self.addCleanup(shutil.rmtree, self.home, True)

    def run_with(self, text):
        path = os.path.join(self.home, "config.toml")
        with open(path, "w") as f:
            f.write(text)
        r = run_missive(["--config", path, "send", "--from", BOB, "--to", ALICE],
                        stdin=b"x\n", home=self.home)
        return path, r

    def test_bad_values(self):
        cases = [
            ('server = "127.0.0.1"\ntls = "always"\n', 2, "tls"),
            ('tls_verify = "maybe"\n', 1, "tls_verify"),
            ('tls = "required"\nca_file = "no-such-file.pem"\n', 2, "ca_file"),
            ('tls = true\n', 1, "tls"),
            ('server = "127.0.0.1"\ntls_server_name = ""\n', 2, "tls_server_name"),
            ('tls_server_name = "mx example.test"\n', 1, "tls_server_name"),
            ('tls_server_name = 3\n', 1, "tls_server_name"),
        ]
        for text, line, key in cases:
            with self.subTest(text=text):
                path, r = self.run_with(text)
                self.assertEqual(r.returncode, 78, r.stderr)
                self.assertIn(f"{path}:{line}: {key}:", r.stderr.decode())

    def test_ca_file_that_is_not_pem_exits_78(self):
        not_pem = os.path.join(self.home, "not.pem")
        with open(not_pem, "w") as f:
            f.write("not a certificate\n")
        port = refused_port(self.addCleanup)
        text = (f'server = "127.0.0.1"\nsmtp_port = {port}\npop3_port = {port}\n'
                f'user = "{ALICE}"\ndata_dir = "{self.home}/store"\nca_file = "{not_pem}"\n')
        path, r = self.run_with(text)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("cannot use TLS as configured", r.stderr.decode())
        r = run_missive(["--config", path, "fetch"], password="pw", home=self.home)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("cannot use TLS as configured", r.stderr.decode())

    def test_relative_ca_file_is_found_beside_the_config_file(self):
        certs = Certificates()
        self.addCleanup(certs.cleanup)
        shutil.copy(certs.cert, os.path.join(self.home, "ca.pem"))
        port = refused_port(self.addCleanup)  # the config is accepted, the server is down
        path, r = self.run_with(f'server = "127.0.0.1"\nsmtp_port = {port}\n'
                                'tls = "required"\nca_file = "ca.pem"\n')
        # The server being down, the message waits in the outbox (issue 19).
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"missive: relay unavailable; queued in the outbox as 1\n", r.stderr)

    def test_help_describes_the_tls_keys(self):
        r = run_missive(["--help"], home=self.home)
        self.assertEqual(r.returncode, 0)
        out = r.stdout.decode()
        for word in ("tls", "starttls", "required", "tls_verify", "ca_file", "tls_server_name"):
            self.assertIn(word, out)


# ---------------------------------------------------------------------------------------
# Scripted servers that inject plaintext behind their "go ahead"
# ---------------------------------------------------------------------------------------

class ScriptedServer:
    """A one-connection-at-a-time TCP server on 127.0.0.1 running `session(conn)` in a
    thread per connection; what sessions record goes to `log`."""

    def __init__(self, session):
        self.session = session
        self.log = []
        self.errors = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, 0))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(10)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        lines = LineConnection(conn)
        try:
            self.session(lines, self.log)
        except Exception as e:  # reported by the test through `errors`
            self.errors.append(repr(e))
        finally:
            lines.close()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.listener.close()


class LineConnection:
    """CRLF lines over a socket that can be upgraded to TLS in the middle."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("client closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def start_tls(self, context):
        if self.buf:
            raise AssertionError(f"client pipelined behind the TLS command: {self.buf!r}")
        self.sock = context.wrap_socket(self.sock, server_side=True)


def smtp_session_with_injection(context):
    """SMTP: offers STARTTLS; its 220 carries a forged "250 injected" in the same packet."""
    def session(conn, log):
        conn.send(b"220 scripted.test ESMTP\r\n")
        tls = False
        while True:
            line = conn.line()
            verb = line.split(" ", 1)[0].upper()
            log.append(("tls" if tls else "plain", line))
            if verb == "EHLO":
                extensions = [] if tls else ["STARTTLS"]
                lines = ["scripted.test"] + extensions + ["8BITMIME"]
                conn.send("".join(f"250-{l}\r\n" for l in lines[:-1]).encode()
                          + f"250 {lines[-1]}\r\n".encode())
            elif verb == "STARTTLS":
                conn.send(b"220 2.0.0 go ahead\r\n250 2.0.0 injected in plaintext\r\n")
                conn.start_tls(context)
                tls = True
            elif verb in ("MAIL", "RCPT"):
                conn.send(b"250 2.1.0 ok\r\n")
            elif verb == "DATA":
                conn.send(b"354 go on\r\n")
                while conn.line() != ".":
                    pass
                conn.send(f"250 2.0.0 Ok: queued as {QUEUE_ID}\r\n".encode())
            elif verb == "QUIT":
                conn.send(b"221 bye\r\n")
                return
            else:
                conn.send(b"502 5.5.1 unknown\r\n")
    return session


def smtp_session_with_broken_tls(conn, log):
    """SMTP: offers STARTTLS, says 220 and hangs up instead of a handshake; without
    STARTTLS it takes the message."""
    conn.send(b"220 scripted.test ESMTP\r\n")
    while True:
        line = conn.line()
        verb = line.split(" ", 1)[0].upper()
        log.append(("plain", line))
        if verb == "EHLO":
            conn.send(b"250-scripted.test\r\n250 STARTTLS\r\n")
        elif verb == "STARTTLS":
            conn.send(b"220 2.0.0 go ahead\r\n")
            return
        elif verb in ("MAIL", "RCPT"):
            conn.send(b"250 2.1.0 ok\r\n")
        elif verb == "DATA":
            conn.send(b"354 go on\r\n")
            while conn.line() != ".":
                pass
            conn.send(f"250 2.0.0 Ok: queued as {QUEUE_ID}\r\n".encode())
        elif verb == "QUIT":
            conn.send(b"221 bye\r\n")
            return
        else:
            conn.send(b"502 5.5.1 unknown\r\n")


def pop3_session_with_injection(context, message):
    """POP3: CAPA lists STLS (and SASL PLAIN only over TLS); the +OK to STLS carries a
    forged "+OK injected" in the same packet. One message in the maildrop."""
    def session(conn, log):
        conn.send(b"+OK scripted POP3 ready\r\n")
        tls = False
        while True:
            line = conn.line()
            verb = line.split(" ", 1)[0].upper()
            log.append(("tls" if tls else "plain", line))
            if verb == "CAPA":
                caps = ["USER", "UIDL"] + (["SASL PLAIN"] if tls else ["STLS"])
                conn.send(b"+OK\r\n" + "".join(c + "\r\n" for c in caps).encode() + b".\r\n")
            elif verb == "STLS":
                conn.send(b"+OK begin TLS\r\n+OK injected in plaintext\r\n")
                conn.start_tls(context)
                tls = True
            elif verb in ("USER", "PASS", "AUTH"):
                conn.send(b"+OK\r\n" if tls else b"-ERR [AUTH] only over TLS\r\n")
            elif verb == "UIDL":
                conn.send(b"+OK\r\n1 uid-one\r\n.\r\n")
            elif verb == "RETR":
                conn.send(b"+OK\r\n" + message + b".\r\n")
            elif verb == "QUIT":
                conn.send(b"+OK bye\r\n")
                return
            else:
                conn.send(b"-ERR unknown\r\n")
    return session


class ClientTlsInjectionTest(unittest.TestCase):
    """What a server sends behind its "go ahead" in plaintext is discarded; EHLO and CAPA
    are asked again over TLS."""

    @classmethod
    def setUpClass(cls):
        cls.certs = Certificates()
        cls.addClassCleanup(cls.certs.cleanup)

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="missive-client-home-")
        self.addCleanup(shutil.rmtree, self.home, True)

    def start(self, session):
        server = ScriptedServer(session)
        self.addCleanup(server.stop)
        return server

    def test_smtp_discards_plaintext_after_220_and_says_ehlo_again(self):
        context = server_context(self.certs.cert, self.certs.key)
        server = self.start(smtp_session_with_injection(context))
        config = write_config(self.home, server=HOST, smtp_port=server.port, tls="required",
                              ca_file=self.certs.cert)
        r = run_missive(["--config", config, "send", "--from", BOB, "--to", ALICE],
                        stdin=b"x\n", home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().strip(), f"queued as {QUEUE_ID}")
        self.assertEqual(server.errors, [])
        verbs = [(layer, line.split(" ", 1)[0].upper()) for layer, line in server.log]
        self.assertEqual(verbs[:4], [("plain", "EHLO"), ("plain", "STARTTLS"),
                                     ("tls", "EHLO"), ("tls", "MAIL")])
        self.assertTrue(all(layer == "tls" for layer, _ in verbs[2:]), verbs)

    def test_failed_handshake_falls_back_to_plaintext_only_without_verification(self):
        server = self.start(smtp_session_with_broken_tls)
        config = write_config(self.home, server=HOST, smtp_port=server.port, tls="starttls",
                              tls_verify="none")
        r = run_missive(["--config", config, "send", "--from", BOB, "--to", ALICE],
                        stdin=b"x\n", home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        verbs = [line.split(" ", 1)[0].upper() for _, line in server.log]
        self.assertEqual(verbs[:4], ["EHLO", "STARTTLS", "EHLO", "MAIL"])
        # Asked to check the certificate, the client does not settle for plaintext.
        for settings in ({"tls": "starttls", "ca_file": self.certs.cert},
                         {"tls": "required", "tls_verify": "none"}):
            with self.subTest(**settings):
                del server.log[:]
                config = write_config(self.home, server=HOST, smtp_port=server.port, **settings)
                r = run_missive(["--config", config, "send", "--from", BOB, "--to", ALICE],
                                stdin=b"x\n", home=self.home)
                self.assertEqual(r.returncode, 69, r.stderr)
                self.assertIn("TLS handshake", r.stderr.decode())
                self.assertNotIn("MAIL", [line.split(" ", 1)[0].upper() for _, line in server.log])

    def test_pop3_discards_plaintext_after_ok_and_asks_capa_again(self):
        context = server_context(self.certs.cert, self.certs.key)
        message = b"From: bob@example.test\r\nSubject: scripted\r\n\r\nHello.\r\n"
        server = self.start(pop3_session_with_injection(context, message))
        config = write_config(self.home, server=HOST, pop3_port=server.port, tls="required",
                              ca_file=self.certs.cert, user=ALICE,
                              data_dir=os.path.join(self.home, "store"))
        r = run_missive(["--config", config, "fetch"], password="pw", home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "1 new message\n")
        self.assertEqual(server.errors, [])
        verbs = [(layer, line.split(" ", 1)[0].upper()) for layer, line in server.log]
        # Over TLS the new CAPA offers SASL PLAIN, which the client then uses.
        self.assertEqual(verbs[:4], [("plain", "CAPA"), ("plain", "STLS"),
                                     ("tls", "CAPA"), ("tls", "AUTH")])
        self.assertTrue(all(layer == "tls" for layer, _ in verbs[2:]), verbs)

    def test_pop3_required_without_stls_exits_69_before_the_password(self):
        def session(conn, log):
            conn.send(b"+OK plain POP3\r\n")
            while True:
                line = conn.line()
                log.append(("plain", line))
                if line.upper() == "CAPA":
                    conn.send(b"+OK\r\nUSER\r\nUIDL\r\n.\r\n")
                elif line.upper() == "QUIT":
                    conn.send(b"+OK\r\n")
                    return
                else:
                    conn.send(b"-ERR no\r\n")
        server = self.start(session)
        config = write_config(self.home, server=HOST, pop3_port=server.port, tls="required",
                              user=ALICE, data_dir=os.path.join(self.home, "store"))
        r = run_missive(["--config", config, "fetch"], password="pw", home=self.home)
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("does not offer STLS, which is required", r.stderr.decode())
        self.assertEqual(r.stderr.decode().count("\n"), 1, r.stderr)
        wait_until(lambda: server.log, what="the CAPA")
        self.assertFalse(any(line.upper().startswith(("USER", "PASS", "AUTH"))
                             for _, line in server.log), server.log)

    def test_pop3_untrusted_certificate_exits_69(self):
        context = server_context(self.certs.other_cert, self.certs.other_key)
        server = self.start(pop3_session_with_injection(context, b"x\r\n"))
        config = write_config(self.home, server=HOST, pop3_port=server.port,
                              ca_file=self.certs.cert, user=ALICE,
                              data_dir=os.path.join(self.home, "store"))
        r = run_missive(["--config", config, "fetch"], password="pw", home=self.home)
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("certificate verify failed", r.stderr.decode())


# ---------------------------------------------------------------------------------------
# missived with [tls]: STARTTLS and STLS on the relay's side
# ---------------------------------------------------------------------------------------

class ClientTlsMissivedTest(MissiveTestCase):
    """`missive send` and `missive fetch` against missived configured with a certificate."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certs = Certificates()
        cls.addClassCleanup(cls.certs.cleanup)
        cls.server = cls.start_server(
            config=f'[tls]\ncert = "{cls.certs.cert}"\nkey = "{cls.certs.key}"\n')
        cls.server.add_user(ALICE)
        cls.plain = cls.start_server()
        cls.plain.add_user(ALICE)

    def setUp(self):
        super().setUp()
        self.home = tempfile.mkdtemp(prefix="missive-client-home-")
        self.addCleanup(shutil.rmtree, self.home, True)

    def missive(self, server, *args, stdin=b"", **settings):
        settings.setdefault("data_dir", os.path.join(self.home, "store"))
        config = write_config(self.home, server=HOST, smtp_port=server.smtp_port,
                              pop3_port=server.pop3_port, user=ALICE, **settings)
        return run_missive(["--config", config, *args], stdin=stdin, password=PASSWORD,
                           home=self.home)

    def drain(self, server):
        r = self.missive(server, "fetch", "--delete", tls="none",
                         data_dir=os.path.join(self.home, "drain"))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_server_offers_stls_in_capa(self):
        client = self.server.pop3()
        try:
            self.assertTrue(client.greeting.startswith("+OK"), client.greeting)
            self.assertTrue(client.cmd("CAPA").startswith("+OK"))
            caps = [c.strip().upper() for c in client.multiline().decode().splitlines()]
            self.assertIn("STLS", caps)
        finally:
            client.close()

    def test_send_and_fetch_with_tls_required(self):
        self.drain(self.server)
        r = self.missive(self.server, "send", "--from", ALICE, "--to", ALICE, "--subject",
                         "both ways over TLS", stdin=b"Secret.\n", tls="required",
                         ca_file=self.certs.cert)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"^queued as [A-Z0-9]+\n$")
        wait_for_mailbox_count(self.server, ALICE, 1)
        r = self.missive(self.server, "fetch", tls="required", ca_file=self.certs.cert)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "1 new message\n")
        r = self.missive(self.server, "inbox", "--offline")
        self.assertIn("both ways over TLS", r.stdout.decode())

    def test_fetch_with_tls_none_stays_in_plaintext(self):
        r = self.missive(self.server, "fetch", tls="none")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_fetch_with_untrusted_certificate_exits_69(self):
        r = self.missive(self.server, "fetch", tls="starttls", ca_file=self.certs.other_cert)
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("certificate verify failed", r.stderr.decode())

    def test_required_against_missived_without_tls_exits_69(self):
        r = self.missive(self.plain, "fetch", tls="required", ca_file=self.certs.cert)
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("does not offer STLS, which is required", r.stderr.decode())
        r = self.missive(self.plain, "send", "--from", ALICE, "--to", ALICE, stdin=b"x\n",
                         tls="required", ca_file=self.certs.cert)
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("does not offer STARTTLS, which is required", r.stderr.decode())


# ---------------------------------------------------------------------------------------
# missived with a certificate for mx.example.test: the server given by its address
# ---------------------------------------------------------------------------------------

class ClientTlsServerNameMissivedTest(MissiveTestCase):
    """`server` is an address, as in the README's example. Its certificate is checked for
    that address (an IP subjectAltName, RFC 6125 6.2.1, RFC 5280 4.2.1.6), or for
    `tls_server_name` when it is set; a name the certificate does not carry fails the
    handshake with exit 69 and a sentence naming it. Certificates: `with_ip` names
    mx.example.test and 127.0.0.1, `named` only mx.example.test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certs = Certificates()
        cls.addClassCleanup(cls.certs.cleanup)
        cls.ip_cert, cls.ip_key = make_certificate(
            cls.certs.dir, "with_ip", "DNS:mx.example.test,IP:127.0.0.1", cn="mx.example.test")
        tls = '[tls]\ncert = "{}"\nkey = "{}"\n'
        cls.with_ip = cls.start_server(config=tls.format(cls.ip_cert, cls.ip_key))
        cls.with_ip.add_user(ALICE)
        cls.named = cls.start_server(config=tls.format(cls.certs.named_cert,
                                                       cls.certs.named_key))
        cls.named.add_user(ALICE)
        # The README's way: `missived tls selfsigned --host 127.0.0.1` (an IP subjectAltName).
        cls.own_cert = os.path.join(cls.certs.dir, "selfsigned.pem")
        cls.own_key = os.path.join(cls.certs.dir, "selfsigned.key")
        subprocess.run([missived_path(), "tls", "selfsigned", "--host", "127.0.0.1",
                        "--cert", cls.own_cert, "--key", cls.own_key], check=True,
                       capture_output=True, timeout=60, cwd=cls.certs.dir)
        cls.selfsigned = cls.start_server(config=tls.format(cls.own_cert, cls.own_key))
        cls.selfsigned.add_user(ALICE)

    def setUp(self):
        super().setUp()
        self.home = tempfile.mkdtemp(prefix="missive-client-home-")
        self.addCleanup(shutil.rmtree, self.home, True)

    def config(self, server, cert, **settings):
        """The README's client example: server by address, ca_file beside the config."""
        shutil.copy(cert, os.path.join(self.home, "cert.pem"))
        return write_config(self.home, server="127.0.0.1", smtp_port=server.smtp_port,
                            pop3_port=server.pop3_port, user=ALICE, tls="starttls",
                            tls_verify="peer", ca_file="cert.pem",
                            data_dir=os.path.join(self.home, "store"), **settings)

    def send(self, config, subject):
        return run_missive(["--config", config, "send", "--from", ALICE, "--to", ALICE,
                            "--subject", subject], stdin=b"Checked.\n", password=PASSWORD,
                           home=self.home)

    def fetch(self, config):
        return run_missive(["--config", config, "fetch", "--delete"], password=PASSWORD,
                           home=self.home)

    def test_readme_example_checks_the_address_in_the_certificate(self):
        config = self.config(self.with_ip, self.ip_cert)
        r = self.send(config, "to an address")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"^queued as [A-Z0-9]+\n$")
        wait_for_mailbox_count(self.with_ip, ALICE, 1)
        r = self.fetch(config)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "1 new message\n")

    def test_readme_example_with_a_certificate_from_missived_tls_selfsigned(self):
        config = self.config(self.selfsigned, self.own_cert)
        r = self.send(config, "to 127.0.0.1, certificate by missived")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"^queued as [A-Z0-9]+\n$")
        wait_for_mailbox_count(self.selfsigned, ALICE, 1)
        r = self.fetch(config)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "1 new message\n")

    def test_tls_server_name_is_the_name_checked(self):
        # Without tls_server_name the address is checked, and this certificate lacks it.
        r = self.send(self.config(self.named, self.certs.named_cert), "unchecked")
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("IP address mismatch", r.stderr.decode())
        config = self.config(self.named, self.certs.named_cert,
                             tls_server_name="mx.example.test")
        r = self.send(config, "by name")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for_mailbox_count(self.named, ALICE, 1)
        r = self.fetch(config)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "1 new message\n")

    def test_wrong_tls_server_name_exits_69_naming_it(self):
        for server, cert in ((self.with_ip, self.ip_cert), (self.named, self.certs.named_cert)):
            with self.subTest(cert=os.path.basename(cert)):
                config = self.config(server, cert, tls_server_name="wrong.example.test")
                r = self.send(config, "wrong name")
                self.assertEqual(r.returncode, 69, r.stderr)
                [line] = r.stderr.decode().splitlines()
                self.assertTrue(line.startswith("missive: cannot send securely to the mail "
                                                "server: TLS handshake with 127.0.0.1"), line)
                self.assertIn("certificate verify failed", line)
                self.assertIn("(hostname mismatch)", line)
                self.assertTrue(line.endswith("the certificate was checked for the name "
                                              "wrong.example.test"), line)
                r = self.fetch(config)
                self.assertEqual(r.returncode, 69, r.stderr)
                self.assertIn("checked for the name wrong.example.test", r.stderr.decode())
        self.assertEqual(mailbox_entries(self.with_ip, ALICE), 0)
        self.assertEqual(mailbox_entries(self.named, ALICE), 0)


if __name__ == "__main__":
    unittest.main()
