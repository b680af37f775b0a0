"""`missived store copy --to URL`: a SQLite data directory holding queued (deferred) remote
mail, delivered mail in maildrops, failed mail (and its bounce) and users, copied into an
empty PostgreSQL database; a relay on that database then shows the same queue, the same
histories, the same maildrops and UIDLs, the same users, and the passwords still work.

Needs the test cluster (ctest runs it as pg.integration.test_store_copy)."""

import re
import subprocess
import unittest

import missive_pg
from missive_harness import (RelayTestCase, fetch_all, make_message, missived_path, pop3_session,
                             run_with_terminal_stderr, smtp_send, wait_for_mailbox_count)
from missive_pg import PgDatabase, PgStore

ALICE = "alice@a.test"
BOB = "bob@a.test"
PASSWORDS = {ALICE: "alice-pw", BOB: "bob pw with spaces"}
SLOW = {"retry_initial": "1h", "retry_max": "1h", "max_lifetime": "5d"}

def setUpModule():
    if not missive_pg.cluster_url():
        raise unittest.SkipTest(f"store copy needs a PostgreSQL: no MISSIVE_TEST_PG_URL or "
                                f"MISSIVE_TEST_PG_URL_FILE (ctest runs pg.integration.test_store_copy)")


class StoreCopyTest(RelayTestCase):

    def snapshot(self, relay, queue_ids):
        """What must survive the copy, as the relay shows it."""
        def ok(*args):
            r = relay.cli(*args)
            self.assertEqual(r.returncode, 0, f"{args}: {r.stdout!r} {r.stderr!r}")
            return r.stdout
        shot = {
            # the age column depends on when the command runs
            "queue list": re.sub(r"(?m)^([A-Z0-9]+)  +\S+  ", r"\1  AGE  ", ok("queue", "list")),
            "user list": ok("user", "list"),
            "alias list": ok("alias", "list"),
        }
        for qid in queue_ids:
            shot[f"queue show {qid}"] = ok("queue", "show", qid)
        for user, password in PASSWORDS.items():
            c = pop3_session(relay, user, password)
            try:
                shot[f"UIDL {user}"] = c.listing("UIDL")
                shot[f"LIST {user}"] = c.listing("LIST")
                shot[f"RETR {user}"] = [c.retr(n) for n, _ in shot[f"LIST {user}"]]
                self.assertOk(c.quit())
            finally:
                c.close()
        return shot

    def test_copy_sqlite_into_postgresql(self):
        deferring = self.fake_smtp(rcpt_reply=lambda addr, n: "451 4.3.0 not now")
        refusing = self.fake_smtp(rcpt_reply=lambda addr, n: "550 5.1.1 no such user")
        routes = [("far.test", deferring.port), ("gone.test", refusing.port)]
        a = self.start_relay("a.test", store="sqlite", queue=SLOW, routes=routes, start=False)
        for user, password in PASSWORDS.items():
            a.add_user(user, password)
        for alias in (("info@a.test", ALICE, BOB), ("@a.test", BOB)):
            self.assertEqual(a.cli("alias", "add", *alias).returncode, 0)
        a.start()
        local = [smtp_send(a, "someone@client.test", [BOB], make_message(f"local {i}", [f"n{i}"]))
                 for i in range(3)]
        both = smtp_send(a, ALICE, [BOB, "r1@far.test"],
                         make_message("local and deferred", ["x"], sender=ALICE))
        deferred = smtp_send(a, ALICE, ["r2@far.test", "r3@far.test"],
                             make_message("deferred", ["y"], sender=ALICE))
        failed = smtp_send(a, ALICE, ["nobody@gone.test"], make_message("failed", ["z"],
                                                                        sender=ALICE))
        for qid, rcpt in ((both, "r1@far.test"), (deferred, "r2@far.test"),
                          (deferred, "r3@far.test")):
            a.wait_state(qid, rcpt, "deferred")
        a.wait_state(failed, "nobody@gone.test", "failed")
        wait_for_mailbox_count(a, BOB, 4)
        wait_for_mailbox_count(a, ALICE, 1)   # the bounce of the failed message
        # a message read and deleted over POP3 is gone before the copy, and stays gone
        c = pop3_session(a, BOB, PASSWORDS[BOB])
        self.assertOk(c.cmd("DELE 1"))
        self.assertOk(c.quit())
        c.close()
        wait_for_mailbox_count(a, BOB, 3)
        queue_ids = local[1:] + [both, deferred, failed]
        before = self.snapshot(a, queue_ids)
        messages = a.message_count()
        self.assertEqual(a.stop(), 0)

        database = PgDatabase.create(prefix="missive_copy")
        self.addCleanup(database.drop)
        r = a.cli("store", "copy", "--to", database.url, "--config", a.config_path, timeout=60)
        self.assertEqual(r.returncode, 0, f"store copy: {r.stdout!r} {r.stderr!r}")
        said = r.stdout + r.stderr
        self.assertRegex(said, rf"\b{messages}\b.*message", f"the number of messages: {said!r}")
        self.assertRegex(said, rf"\b{len(PASSWORDS)}\b.*user", f"the number of users: {said!r}")
        self.assertRegex(said, r"\b3 alias targets\b", said)

        b = self.start_relay("a.test", queue=SLOW, routes=routes, name="copied",
                             store=PgStore(database, node="copied"))
        after = self.snapshot(b, queue_ids)
        for key in before:
            self.assertEqual(after[key], before[key], key)
        self.assertEqual(b.message_count(), messages)
        self.assertEqual([q for q, _ in b.mailbox_messages(BOB)],
                         [q for q, _ in a.mailbox_messages(BOB)])
        with b.pop3() as c:
            c.cmd(f"USER {ALICE}")
            self.assertErr(c.cmd("PASS wrong-password"), msg="a wrong password after the copy")
        self.assertIn("info@a.test: alice@a.test, bob@a.test", after["alias list"])
        # the copied relay goes on: new mail, read back
        smtp_send(b, "someone@client.test", [ALICE], make_message("after the copy", ["w"]))
        wait_for_mailbox_count(b, ALICE, 2)
        self.assertEqual(len(fetch_all(b, ALICE, PASSWORDS[ALICE])), 2)

    def test_copy_refuses_a_database_that_is_not_empty(self):
        a = self.start_relay("a.test", store="sqlite", start=False)
        a.add_user(ALICE, PASSWORDS[ALICE])
        database = PgDatabase.create(prefix="missive_copy")
        self.addCleanup(database.drop)
        first = a.cli("store", "copy", "--to", database.url, "--config", a.config_path, timeout=60)
        self.assertEqual(first.returncode, 0, first.stderr)
        again = a.cli("store", "copy", "--to", database.url, "--config", a.config_path, timeout=60)
        self.assertNotEqual(again.returncode, 0, "a second copy into the same database")
        self.assertTrue(again.stderr.strip(), "no reason given")
        self.assertEqual(database.query("SELECT count(*) FROM user"), [(1,)])


class StoreCopyProgressTest(RelayTestCase):
    """Progress on a terminal, silence in a pipe."""

    def setUp(self):
        super().setUp()
        self.a = self.start_relay("a.test", store="sqlite", start=False)
        self.a.add_user(ALICE, PASSWORDS[ALICE])
        self.a.add_user(BOB, PASSWORDS[BOB])
        self.database = PgDatabase.create(prefix="missive_copy")
        self.addCleanup(self.database.drop)
        self.command = [missived_path(), "store", "copy", "--to", self.database.url,
                        "--config", self.a.config_path, "--data-dir", self.a.data_dir]

    def test_quiet_in_a_pipe(self):
        r = subprocess.run(self.command, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        # The log may say the schema was made; no progress, no control characters.
        self.assertNotIn("copying", r.stderr)
        self.assertNotIn("\r", r.stderr)
        self.assertNotIn("\x1b", r.stderr)
        self.assertEqual(r.stdout.count("\n"), 1, r.stdout)
        self.assertRegex(r.stdout, r"^copied 2 users, 0 messages")

    def test_progress_on_a_terminal(self):
        status, out, shown = run_with_terminal_stderr(self.command)
        self.assertEqual(status, 0, shown)
        self.assertRegex(out.decode(), r"^copied 2 users, 0 messages")
        text = shown.decode()
        for line in ("copying users: 2/2", "copying messages: 0/0", "copying recipients: 0/0",
                     "copying history events: 0/0", "copying aliases: 0/0"):
            self.assertIn("\r\x1b[K" + line, text)
        self.assertTrue(text.endswith("\r\x1b[K"), "the line is cleared before the result")


if __name__ == "__main__":
    unittest.main()
