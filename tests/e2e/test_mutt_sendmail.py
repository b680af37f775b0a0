"""mutt (Debian package `mutt`, no one here wrote it) sending through `missive sendmail`.

mutt runs its $sendmail with the recipients as arguments and the message on stdin, and
reports failure when the program exits non-zero. So `missive sendmail` must be all or
nothing: with one recipient unknown to the relay nothing may be delivered (else mutt says
"failed", the user sends again, and the known recipient gets the message twice). mutt runs
in batch mode (stdin not a terminal) with a private muttrc and HOME, against missived; what
was delivered is read back with Python's poplib."""

import os
import poplib
import shutil
import subprocess
import tempfile

from missive_harness import (HOST, PASSWORD, MissiveTestCase, require_tool,
                             wait_for_mailbox_count)
from test_client_send import missive_path

DOMAIN = "localhost"
SENDER = f"alice@{DOMAIN}"
GOOD = f"good@{DOMAIN}"
OTHER = f"other@{DOMAIN}"
UNKNOWN = f"unknown@{DOMAIN}"
MUTT_TIMEOUT = 60


def pop3_messages(server, user):
    """Every message in the maildrop, as bytes with CRLF line ends, read with poplib."""
    client = poplib.POP3(HOST, server.pop3_port, timeout=10)
    try:
        client.user(user)
        client.pass_(PASSWORD)
        count, _ = client.stat()
        messages = [b"\r\n".join(client.retr(n)[1]) + b"\r\n" for n in range(1, count + 1)]
        client.quit()
        return messages
    finally:
        client.close()


class MuttSendmailTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mutt = require_tool("mutt")  # missing: a failure, not a skip

    def setUp(self):
        super().setUp()
        # A server per test: each test's "nothing delivered" sees only its own mail.
        self.server = self.start_test_server(domain=DOMAIN)
        for user in (SENDER, GOOD, OTHER):
            self.server.add_user(user)
        self.home = tempfile.mkdtemp(prefix="missive-mutt-home-")
        self.addCleanup(shutil.rmtree, self.home, True)
        config = os.path.join(self.home, "missive.toml")
        with open(config, "w") as f:
            f.write(f'server = "{HOST}"\nsmtp_port = {self.server.smtp_port}\n')
        self.muttrc = os.path.join(self.home, "muttrc")
        with open(self.muttrc, "w") as f:
            f.write(f'set sendmail="{missive_path()} sendmail --config {config}"\n'
                    f'set from="{SENDER}"\n'
                    'set realname="Alice"\n'
                    "set use_from=yes\n"
                    "set use_envelope_from=yes\n"   # mutt passes -f SENDER
                    'set record=""\n'               # no copy to a sent folder
                    "set copy=no\n"
                    f'set folder="{self.home}/Mail"\n'
                    f'set spoolfile="{self.home}/spool"\n')

    def run_mutt(self, subject, body, *recipients):
        env = {k: v for k, v in os.environ.items() if k not in ("MISSIVE_PASSWORD", "MUTT")}
        env.update(HOME=self.home, MAIL=os.path.join(self.home, "spool"), LC_ALL="C",
                   XDG_CONFIG_HOME=os.path.join(self.home, ".config"))
        return subprocess.run([self.mutt, "-n", "-F", self.muttrc, "-s", subject, "--",
                               *recipients], input=body, capture_output=True,
                              timeout=MUTT_TIMEOUT, env=env, cwd=self.home)

    def stored_messages(self):
        """Messages in the relay's database: one is there before the relay says 250."""
        return self.server.scalar("SELECT count(*) FROM message")

    def test_unknown_recipient_fails_and_nothing_is_delivered(self):
        r = self.run_mutt("half known", b"Hello from mutt.\n", GOOD, UNKNOWN)
        self.assertNotEqual(r.returncode, 0, (r.stdout, r.stderr))
        # mutt passes on what missive said, and the status it exited with.
        self.assertIn(f"missive: recipient refused: {UNKNOWN}: 550 5.1.1 ".encode(), r.stderr)
        self.assertIn(b"child exited 67", r.stderr)
        self.assertEqual(self.stored_messages(), 0)
        self.assertEqual(pop3_messages(self.server, GOOD), [])

    def test_known_recipients_get_the_message_once_each(self):
        r = self.run_mutt("Lunch at noon", b"Hello from mutt.\nSee you there.\n", GOOD, OTHER)
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        self.assertEqual(self.stored_messages(), 1)
        for user in (GOOD, OTHER):
            wait_for_mailbox_count(self.server, user, 1)
            [message] = pop3_messages(self.server, user)
            head, _, body = message.partition(b"\r\n\r\n")
            self.assertIn(b"\r\nSubject: Lunch at noon\r\n", head)
            self.assertIn(f"\r\nFrom: Alice <{SENDER}>\r\n".encode(), head)
            self.assertIn(f"\r\nTo: {GOOD}, {OTHER}\r\n".encode(), head)
            self.assertEqual(body, b"Hello from mutt.\r\nSee you there.\r\n")
