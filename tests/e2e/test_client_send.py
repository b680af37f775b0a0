"""`missive send` and `missive sendmail` against an SMTP server no one here wrote: Python's
aiosmtpd (Debian package python3-aiosmtpd), run in-process. What it received is parsed back
with Python's `email` package: subject (not ASCII), addresses, text and attachments (bytes
equal), Bcc only in the envelope. Also AUTH PLAIN when a user is configured, and the exit
statuses of the failures a user meets (bad address, unreadable attachment, bad password,
server down, bad usage)."""

import email
import email.policy
import os
import shutil
import subprocess
import tempfile
import threading
import unittest

from missive_harness import HOST, refused_port, require_aiosmtpd, start_aiosmtpd, wait_until

_HERE = os.path.dirname(os.path.abspath(__file__))
_DEFAULT_CLIENT = os.path.normpath(os.path.join(_HERE, "..", "..", "build", "client", "missive"))
RUN_TIMEOUT = 30


def missive_path():
    path = os.environ.get("MISSIVE", _DEFAULT_CLIENT)
    if not os.access(path, os.X_OK):
        raise AssertionError(f"missive client binary not found at {path} (set MISSIVE)")
    return path


def run_missive(args, stdin=b"", password=None, home=None, timeout=RUN_TIMEOUT, extra_env=None):
    """Runs `missive ARGS...` with a private HOME (no user config leaks in); returns
    CompletedProcess with bytes stdout/stderr."""
    env = {k: v for k, v in os.environ.items() if k != "MISSIVE_PASSWORD"}
    if home is not None:
        env["HOME"] = home
        env["XDG_CONFIG_HOME"] = os.path.join(home, ".config")
        env["XDG_DATA_HOME"] = os.path.join(home, ".local", "share")
    if password is not None:
        env["MISSIVE_PASSWORD"] = password
    env.update(extra_env or {})
    return subprocess.run([missive_path(), *args], input=stdin, capture_output=True,
                          timeout=timeout, env=env)


class RecordingHandler:
    def __init__(self):
        self.lock = threading.Lock()
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.envelopes.append({
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "content": envelope.original_content,
            })
        return "250 2.0.0 Ok: queued as AIO123"

    def snapshot(self):
        with self.lock:
            return list(self.envelopes)


class ClientSendTest(unittest.TestCase):
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        cls.controller_module = require_aiosmtpd()
        import aiosmtpd.smtp as smtp
        cls.smtp_module = smtp

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="missive-client-home-")
        self.addCleanup(shutil.rmtree, self.home, True)

    def start_aiosmtpd(self, auth=False):
        handler = RecordingHandler()
        kwargs = {}
        if auth:
            smtp = self.smtp_module

            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = (auth_data.login == b"alice@example.test"
                      and auth_data.password == b"correct horse")
                # handled=False: aiosmtpd answers 535 itself (its default sends nothing)
                return smtp.AuthResult(success=ok, handled=False)
            kwargs = {"auth_require_tls": False, "authenticator": authenticator,
                      "auth_required": True}
        controller = start_aiosmtpd(handler, server_hostname="aiosmtpd.x.test",
                                    ready_timeout=10, **kwargs)
        self.addCleanup(controller.stop)
        return handler, controller.port

    def wait_envelopes(self, handler, n):
        return wait_until(lambda: (lambda e: e if len(e) >= n else None)(handler.snapshot()),
                          timeout=10, what=f"{n} message(s) at aiosmtpd")

    def write_file(self, name, data):
        path = os.path.join(self.home, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def assertLinesWithin(self, raw, limit):
        for line in raw.split(b"\r\n"):
            self.assertLessEqual(len(line), limit, line[:100])

    def test_send_composes_what_email_parses_back(self):
        handler, port = self.start_aiosmtpd()
        binary = bytes(range(256)) * 300
        pdf = self.write_file("Résumé final.pdf", b"%PDF-1.4\n" + bytes(range(200)))
        blob = self.write_file("data.bin", binary)
        notes = self.write_file("notes.txt", "plain notes\n".encode())
        subject = "Réunion: ordre du jour — très long sujet pour vérifier le pliage 日本語"
        body = ("Bonjour Alice,\n\nvoici l'ordre du jour — café à 10h.\n"
                + "x" * 300 + "\n.\n.. a dot line\nFin.\n")
        r = run_missive(["--server", HOST, "--smtp-port", str(port), "send",
                         "--from", "Bob Été <bob@example.test>",
                         "--to", "alice@example.test", "--to", "Carol <carol@example.test>",
                         "--cc", "dave@example.test", "--bcc", "eve@example.test",
                         "--subject", subject,
                         "--attach", pdf, "--attach", blob, "--attach", notes],
                        stdin=body.encode(), home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().strip(), "queued as AIO123")
        [env] = self.wait_envelopes(handler, 1)
        self.assertEqual(env["mail_from"], "bob@example.test")
        self.assertEqual(sorted(env["rcpt_tos"]), sorted([
            "alice@example.test", "carol@example.test", "dave@example.test", "eve@example.test"]))
        raw = env["content"]
        self.assertTrue(raw.isascii())
        self.assertLinesWithin(raw, 78)
        self.assertNotIn(b"eve@example.test", raw)
        self.assertNotIn(b"\nBcc:", raw)

        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(str(msg["Subject"]), subject)
        self.assertEqual(msg["From"].addresses[0].addr_spec, "bob@example.test")
        self.assertEqual(msg["From"].addresses[0].display_name, "Bob Été")
        self.assertEqual([a.addr_spec for a in msg["To"].addresses],
                         ["alice@example.test", "carol@example.test"])
        self.assertEqual([a.addr_spec for a in msg["Cc"].addresses], ["dave@example.test"])
        self.assertIsNone(msg["Bcc"])
        self.assertIsNotNone(msg["Date"].datetime)
        self.assertRegex(msg["Message-ID"], r"^<[^<>@\s]+@example\.test>$")
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        text = msg.get_body(preferencelist=("plain",))
        self.assertEqual(text["Content-Transfer-Encoding"], "quoted-printable")
        self.assertEqual(text.get_content().replace("\r\n", "\n"), body)
        attachments = list(msg.iter_attachments())
        self.assertEqual([(a.get_filename(), a.get_content_type()) for a in attachments], [
            ("Résumé final.pdf", "application/pdf"),
            ("data.bin", "application/octet-stream"),
            ("notes.txt", "text/plain")])
        self.assertEqual(attachments[0].get_payload(decode=True), b"%PDF-1.4\n" + bytes(range(200)))
        self.assertEqual(attachments[1].get_payload(decode=True), binary)
        self.assertEqual(attachments[2].get_payload(decode=True), b"plain notes\n")
        for part in attachments:
            self.assertEqual(part["Content-Transfer-Encoding"], "base64")

    def test_ascii_message_is_7bit_single_part(self):
        handler, port = self.start_aiosmtpd()
        r = run_missive(["--server", HOST, "--smtp-port", str(port), "send",
                         "--from", "bob@example.test", "--to", "alice@example.test",
                         "--subject", "Plain hello"],
                        stdin=b"Hi Alice\nbye\n", home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        [env] = self.wait_envelopes(handler, 1)
        msg = email.message_from_bytes(env["content"], policy=email.policy.default)
        self.assertEqual(msg["Subject"], "Plain hello")
        self.assertIn(b"Subject: Plain hello\r\n", env["content"])
        self.assertEqual(msg.get_content_type(), "text/plain")
        self.assertEqual(msg.get_content_charset(), "utf-8")
        self.assertEqual(msg["Content-Transfer-Encoding"], "7bit")
        self.assertEqual(msg.get_content().replace("\r\n", "\n"), "Hi Alice\nbye\n")

    def test_auth_plain_when_a_user_is_configured(self):
        handler, port = self.start_aiosmtpd(auth=True)
        args = ["--server", HOST, "--smtp-port", str(port), "--user", "alice@example.test",
                "send", "--from", "alice@example.test", "--to", "bob@example.test"]
        r = run_missive(args, stdin=b"authenticated\n", password="correct horse", home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        [env] = self.wait_envelopes(handler, 1)
        self.assertEqual(env["rcpt_tos"], ["bob@example.test"])

        r = run_missive(args, stdin=b"x\n", password="wrong", home=self.home)
        self.assertEqual(r.returncode, 77, r.stderr)
        self.assertEqual(len(r.stderr.decode().strip().splitlines()), 1, r.stderr)
        self.assertEqual(len(handler.snapshot()), 1)

    def test_password_command_from_the_config_file(self):
        handler, port = self.start_aiosmtpd(auth=True)
        config = os.path.join(self.home, "client.toml")
        with open(config, "w") as f:
            f.write(f'server = "{HOST}"\nsmtp_port = {port}\nuser = "alice@example.test"\n'
                    'password_command = "echo \'correct horse\'; echo second line"\ntls = "none"\n')
        r = run_missive(["--config", config, "send", "--from", "alice@example.test",
                         "--to", "bob@example.test"], stdin=b"via password_command\n",
                        home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_envelopes(handler, 1)

    def test_sendmail_t_takes_recipients_from_headers_and_drops_bcc(self):
        handler, port = self.start_aiosmtpd()
        message = (b"From: cron@example.test\n"
                   b"To: Alice <alice@example.test>\n"
                   b"Cc: carol@example.test\n"
                   b"Bcc: secret@example.test,\n hidden@example.test\n"
                   b"Subject: nightly report\n"
                   b"\n"
                   b"all good\n.\nstill the body\n")
        r = run_missive(["--server", HOST, "--smtp-port", str(port), "sendmail", "-t", "-i",
                         "-f", "root@example.test"], stdin=message, home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        [env] = self.wait_envelopes(handler, 1)
        self.assertEqual(env["mail_from"], "root@example.test")
        self.assertEqual(sorted(env["rcpt_tos"]), sorted([
            "alice@example.test", "carol@example.test", "secret@example.test",
            "hidden@example.test"]))
        raw = env["content"]
        self.assertNotIn(b"Bcc", raw)
        self.assertNotIn(b"secret@", raw)
        self.assertNotIn(b"hidden@", raw)
        self.assertIn(b"\r\nall good\r\n.\r\nstill the body\r\n", raw)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(msg["Subject"], "nightly report")
        self.assertIsNotNone(msg["Date"])
        self.assertIsNotNone(msg["Message-ID"])

    def test_sendmail_arguments_as_git_send_email_and_mutt_give_them(self):
        handler, port = self.start_aiosmtpd()
        message = b"From: a@example.test\nTo: x@example.test\nSubject: s\n\nbody\n"
        r = run_missive(["--server", HOST, "--smtp-port", str(port), "sendmail", "-oem", "-oi",
                         "-FFull Name", "-f", "a@example.test", "--", "x@example.test",
                         "y@example.test"], stdin=message, home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)
        [env] = self.wait_envelopes(handler, 1)
        self.assertEqual(env["rcpt_tos"], ["x@example.test", "y@example.test"])
        # Without -i a lone "." ends the message, as in sendmail.
        r = run_missive(["--server", HOST, "--smtp-port", str(port), "sendmail",
                         "x@example.test"], stdin=message + b".\nnot sent\n", home=self.home,
                        extra_env={"USER": "cronuser"})
        self.assertEqual(r.returncode, 0, r.stderr)
        env = self.wait_envelopes(handler, 2)[1]
        self.assertNotIn(b"not sent", env["content"])
        # No -f and no configured user: $USER@hostname, as sendmail does.
        self.assertEqual(env["mail_from"], "cronuser@" + os.uname().nodename)

    def test_failures_have_one_sentence_and_a_sysexits_status(self):
        port = refused_port(self.addCleanup)  # nobody listens there
        # --no-queue: a plain SMTP client's answer (without it the outbox keeps the message).
        r = run_missive(["--server", HOST, "--smtp-port", str(port), "send", "--no-queue",
                         "--from", "a@example.test", "--to", "b@example.test"], stdin=b"x\n",
                        home=self.home)
        self.assertEqual(r.returncode, 75)
        lines = r.stderr.decode().strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("cannot reach the mail server", lines[0])
        self.assertNotIn("Traceback", r.stderr.decode())

        r = run_missive(["send", "--from", "not an address", "--to", "b@example.test"],
                        stdin=b"x\n", home=self.home)
        self.assertEqual(r.returncode, 65, r.stderr)
        r = run_missive(["send", "--from", "a@example.test", "--to", "b@example.test",
                         "--attach", os.path.join(self.home, "missing.pdf")], stdin=b"x\n",
                        home=self.home)
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertEqual(len(r.stderr.decode().strip().splitlines()), 1, r.stderr)
        r = run_missive(["send", "--to", "b@example.test"], home=self.home)
        self.assertEqual(r.returncode, 64, r.stderr)
        r = run_missive(["frobnicate"], home=self.home)
        self.assertEqual(r.returncode, 64, r.stderr)
        r = run_missive(["sendmail", "-t"], stdin=b"Subject: no recipients\n\nx\n", home=self.home)
        self.assertEqual(r.returncode, 64, r.stderr)
        r = run_missive(["--help"], home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_help_prints_the_usage_and_exits_0(self):
        # mutt, git send-email and people try `sendmail --help`; it is not a send.
        for args, usage in (
                (["sendmail", "--help"], "usage: missive sendmail [-t] [-i] [-f SENDER]"),
                (["--server", HOST, "sendmail", "-t", "-i", "--help", "x@example.test"],
                 "usage: missive sendmail [-t] [-i] [-f SENDER]"),
                (["send", "--help"], "Usage: ")):
            with self.subTest(args=args):
                r = run_missive(args, home=self.home)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stderr, b"")
                self.assertIn(usage, r.stdout.decode())
        # Run under the name "sendmail", the usage says so.
        link = os.path.join(self.home, "sendmail")
        os.symlink(missive_path(), link)
        r = subprocess.run([link, "--help"], capture_output=True, timeout=RUN_TIMEOUT,
                           env={**os.environ, "HOME": self.home})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.decode().startswith("usage: sendmail [-t] [-i] [-f SENDER]"),
                        r.stdout)
        self.assertIn("67 a recipient refused", r.stdout.decode())


if __name__ == "__main__":
    unittest.main()
