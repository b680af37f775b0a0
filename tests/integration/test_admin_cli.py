"""`missived user ...` administration, configuration errors, graceful shutdown and restart."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from missive_harness import (DOMAIN, HOST, PASSWORD, MissiveServer, MissiveTestCase, make_message,
                             missived_path, pop3_session, smtp_send, wait_for_mailbox_count,
                             fetch_all)

ALICE = f"alice@{DOMAIN}"


class UserAdminTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server()

    def cli(self, *args, stdin=None):
        return self.server.cli(*args, stdin=stdin)

    def listed(self):
        r = self.cli("user", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.splitlines()

    def pop3_login_reply(self, user, password):
        c = self.server.pop3()
        try:
            c.cmd(f"USER {user}")
            return c.cmd(f"PASS {password}")
        finally:
            c.close()

    def test_add_list_del(self):
        names = [f"zed@{DOMAIN}", f"amy@{DOMAIN}", f"mike@{DOMAIN}"]
        for n in names:
            r = self.cli("user", "add", n, "--password-stdin", stdin="pw-" + n + "\n")
            self.assertEqual(r.returncode, 0, r.stderr)
        listed = self.listed()
        for n in names:
            self.assertIn(n, listed)
        self.assertEqual(listed, sorted(listed))
        self.assertEqual(len(listed), len(set(listed)))
        r = self.cli("user", "del", f"mike@{DOMAIN}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(f"mike@{DOMAIN}", self.listed())
        self.assertIn(f"zed@{DOMAIN}", self.listed())

    def test_add_existing_user_fails(self):
        user = f"dup@{DOMAIN}"
        self.assertEqual(self.cli("user", "add", user, "--password-stdin", stdin="a\n").returncode, 0)
        r = self.cli("user", "add", user, "--password-stdin", stdin="b\n")
        self.assertEqual(r.returncode, 1, (r.stdout, r.stderr))
        self.assertTrue((r.stderr + r.stdout).strip(), "no message for a duplicate user")
        r = self.cli("user", "add", f"DUP@{DOMAIN.upper()}", "--password-stdin", stdin="c\n")
        self.assertEqual(r.returncode, 1, "addresses differing only in case are the same user")
        # the first password still works
        self.assertTrue(self.pop3_login_reply(user, "a").startswith("+OK"))

    def test_add_while_running_is_usable_at_once(self):
        user = f"live@{DOMAIN}"
        c = self.server.smtp()
        self.addCleanup(c.close)
        self.assertReply(c.ehlo(), 250)
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{user}>"), 550, "5.1.1")
        self.server.add_user(user)
        self.assertReply(c.cmd(f"RCPT TO:<{user}>"), 250, "2.1.5")
        self.assertReply(c.cmd("DATA"), 354)
        self.assertEqual(c.data_bytes(make_message("live", ["hi"])).code, 250)
        wait_for_mailbox_count(self.server, user, 1, confirm_pop3=True)

    def test_passwd(self):
        user = f"pw@{DOMAIN}"
        self.server.add_user(user, "old-password")
        # A login just before the change: the relay's cache of recent logins must not let
        # the old password in afterwards.
        self.assertTrue(self.pop3_login_reply(user, "old-password").startswith("+OK"))
        r = self.cli("user", "passwd", user, "--password-stdin", stdin="new-password\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.pop3_login_reply(user, "new-password").startswith("+OK"))
        self.assertTrue(self.pop3_login_reply(user, "old-password").startswith("-ERR [AUTH]"))

    def test_deleted_user_cannot_log_in_or_receive(self):
        user = f"gone@{DOMAIN}"
        self.server.add_user(user)
        smtp_send(self.server, ALICE, [user], make_message("before deletion", ["x"]))
        wait_for_mailbox_count(self.server, user, 1, confirm_pop3=True)
        r = self.cli("user", "del", user)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.pop3_login_reply(user, PASSWORD).startswith("-ERR [AUTH]"))
        c = self.server.smtp()
        self.addCleanup(c.close)
        self.assertReply(c.ehlo(), 250)
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{user}>"), 550, "5.1.1")

    def test_del_removes_only_that_users_messages(self):
        gone, stays = f"leaving@{DOMAIN}", f"staying@{DOMAIN}"
        for user in (gone, stays):
            self.server.add_user(user)
        q_gone = smtp_send(self.server, ALICE, [gone], make_message("for the leaver", ["x"]))
        q_both = smtp_send(self.server, ALICE, [gone, stays], make_message("for both", ["x"]))
        q_stays = smtp_send(self.server, ALICE, [stays], make_message("for the stayer", ["x"]))
        wait_for_mailbox_count(self.server, gone, 2, confirm_pop3=True)
        others = self.server.scalar("SELECT count(*) FROM message WHERE queue_id NOT IN (?, ?, ?)",
                                    (q_gone, q_both, q_stays))
        r = self.cli("user", "del", gone)
        self.assertEqual(r.returncode, 0, r.stderr)
        ids = [row[0] for row in self.server.query("SELECT queue_id FROM message")]
        self.assertNotIn(q_gone, ids, "the leaver's own message goes with the leaver")
        self.assertIn(q_both, ids, "still in the other maildrop")
        self.assertIn(q_stays, ids)
        self.assertEqual(len(ids) - 2, others, "nobody else's messages are touched")
        self.assertEqual(len(fetch_all(self.server, stays)), 2)

    def test_del_is_seen_by_the_next_rcpt(self):
        # The relay remembers recipients it looked up; `user del` must still count at once.
        user = f"brief@{DOMAIN}"
        self.server.add_user(user)
        c = self.server.smtp()
        self.addCleanup(c.close)
        self.assertReply(c.ehlo(), 250)
        self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>"), 250, "2.1.0")
        self.assertReply(c.cmd(f"RCPT TO:<{user}>"), 250, "2.1.5")
        self.assertReply(c.cmd(f"RCPT TO:<{user.upper()}>"), 250, "2.1.5")
        r = self.cli("user", "del", user)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertReply(c.cmd(f"RCPT TO:<{user}>"), 550, "5.1.1")
        self.server.add_user(user)
        self.assertReply(c.cmd(f"RCPT TO:<{user}>"), 250, "2.1.5")

    def test_del_unknown_user_fails(self):
        r = self.cli("user", "del", f"never-existed@{DOMAIN}")
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue((r.stderr + r.stdout).strip())

    def test_password_is_not_stored_in_clear(self):
        user = f"hash@{DOMAIN}"
        self.server.add_user(user, "clear-text-password-123")
        [(h,)] = self.server.query("SELECT password_hash FROM user WHERE address = ?", (user,))
        self.assertNotIn("clear-text-password-123", h)
        self.server.add_user(f"hash2@{DOMAIN}", "clear-text-password-123")
        [(h2,)] = self.server.query("SELECT password_hash FROM user WHERE address = ?",
                                     (f"hash2@{DOMAIN}",))
        self.assertNotEqual(h, h2, "same password, same hash: no salt")


class ConfigErrorTest(MissiveTestCase):

    def run_with_config(self, text):
        d = tempfile.mkdtemp(prefix="missive-badcfg-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "bad-config.toml")
        with open(path, "w") as f:
            f.write(text)
        cmd = [missived_path(), "serve", "--data-dir", os.path.join(d, "data"),
               "--smtp", f"{HOST}:0", "--pop3", f"{HOST}:0", "--domain", DOMAIN,
               "--config", path]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate(timeout=5)
            self.fail(f"missived kept running with a bad config:\n{text}\nstderr: {err}")
        return p.returncode, err, path

    def check_error(self, text, key, line):
        rc, err, path = self.run_with_config(text)
        self.assertEqual(rc, 78, f"exit status for config\n{text}\nstderr: {err!r}")
        self.assertIn(os.path.basename(path), err)
        self.assertIn(key, err)
        rest = err.replace(path, "FILE").replace(os.path.basename(path), "FILE")
        self.assertRegex(rest, rf"(?<![\d.]){line}(?![\d.])", f"line {line} not named: {err!r}")

    def test_unknown_top_level_key(self):
        self.check_error('hostname = "mx.example.test"\n\nbogus_key = 1\n', "bogus_key", 3)

    def test_unknown_key_in_section(self):
        self.check_error('[smtp]\nmax_recipients = 10\n\nno_such_setting = true\n',
                         "no_such_setting", 4)

    def test_bad_duration(self):
        self.check_error('# comment\n[smtp]\ncommand_timeout = "5 fortnights"\n',
                         "command_timeout", 3)

    def test_bad_value_type(self):
        self.check_error('[smtp]\n\n\n\nmax_message_size = "huge"\n', "max_message_size", 5)

    def test_negative_size(self):
        self.check_error('[pop3]\nidle_timeout = "10m"\n[smtp]\nmax_message_size = -5\n',
                         "max_message_size", 4)

    def test_bad_network(self):
        self.check_error('[smtp]\ntrusted_networks = ["127.0.0.0/99"]\n', "trusted_networks", 2)


class LifecycleTest(MissiveTestCase):

    def test_sigterm_exits_zero_with_open_sessions_and_data_survives(self):
        server = self.start_test_server()
        user = server.add_user(f"bob@{DOMAIN}")
        msg = make_message("survives", ["kept across restart"])
        smtp_send(server, ALICE, [user], msg)
        wait_for_mailbox_count(server, user, 1)
        c = pop3_session(server, user)
        uidl_before = c.listing("UIDL")
        self.assertOk(c.quit())
        c.close()
        # idle sessions open while stopping
        s = server.smtp()
        self.addCleanup(s.close)
        self.assertReply(s.ehlo(), 250)
        p = server.pop3()
        self.addCleanup(p.close)
        t0 = time.monotonic()
        self.assertEqual(server.stop(), 0)
        self.assertLess(time.monotonic() - t0, 10)
        server.start()
        c = pop3_session(server, user)
        self.addCleanup(c.close)
        self.assertEqual(c.listing("UIDL"), uidl_before)
        self.assertStoredEndsWith(c.retr(1), msg)
        self.assertOk(c.quit())
        self.assertEqual(server.stop(), 0)

    def test_sigint_exits_zero(self):
        server = self.start_test_server()
        server.proc.send_signal(signal.SIGINT)
        self.assertEqual(server.proc.wait(10), 0)

    def test_restart_after_kill_dash_nine(self):
        server = self.start_test_server()
        user = server.add_user(f"bob@{DOMAIN}")
        msg = make_message("after crash", ["still here"])
        smtp_send(server, ALICE, [user], msg)
        server.kill9()
        server.start()
        wait_for_mailbox_count(server, user, 1)
        [stored] = fetch_all(server, user)
        self.assertStoredEndsWith(stored, msg)
        self.assertEqual(server.stop(), 0)

    def test_listen_lines(self):
        server = self.start_test_server()
        out = [l for l in server.read_log().splitlines() if l.startswith("[out] missived:")]
        self.assertIn(f"[out] missived: smtp listening on 127.0.0.1:{server.smtp_port}", out)
        self.assertIn(f"[out] missived: pop3 listening on 127.0.0.1:{server.pop3_port}", out)
        self.assertNotEqual(server.smtp_port, 0)
        self.assertNotEqual(server.pop3_port, 0)


if __name__ == "__main__":
    unittest.main()
