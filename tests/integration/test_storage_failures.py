"""Storage that fails: the relay answers 451 4.3.0, never 250, and recovers on its own; a
database from a newer Missive is refused at start with a clear message."""

import sqlite3
import subprocess
import threading
import unittest

from missive_harness import (DOMAIN, MissiveServer, MissiveTestCase, make_message, missived_path,
                             wait_for_mailbox_count)

ALICE = f"alice@{DOMAIN}"


class LockedDatabaseTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server()
        cls.user = f"locked@{DOMAIN}"
        cls.server.add_user(cls.user)

    def test_locked_database_gives_451_then_recovers(self):
        # Another process holds the write lock longer than the relay's busy timeout (5 s).
        holder = sqlite3.connect(self.server.db_path, timeout=5, isolation_level=None,
                                 check_same_thread=False)
        holder.execute("BEGIN EXCLUSIVE")
        released = threading.Timer(8.0, holder.rollback)
        released.start()
        try:
            with self.server.smtp(timeout=30) as c:
                r = c.send_mail(ALICE, [self.user], make_message("while locked", ["x"], to=self.user))
                self.assertReply(r, 451, "4.3.0")
                released.join()
                # Same session, lock gone: the next message is stored.
                r = c.send_mail(ALICE, [self.user], make_message("after", ["y"], to=self.user),
                                ehlo=False)
                self.assertReply(r, 250, "2.0.0")
        finally:
            released.cancel()
            holder.close()
        wait_for_mailbox_count(self.server, self.user, 1)
        self.assertEqual(self.server.scalar("SELECT count(*) FROM message"), 1)


class NewerSchemaTest(MissiveTestCase):

    def test_newer_database_is_refused(self):
        server = MissiveServer()
        self.addCleanup(server.cleanup)
        server.add_user(ALICE)  # creates the database at the current version
        db = sqlite3.connect(server.db_path)
        db.execute("PRAGMA user_version = 999")
        db.commit()
        db.close()
        r = subprocess.run(server.command(), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("schema version 999", r.stderr)
        self.assertIn("newer", r.stderr)
        self.assertEqual(r.stdout, "", "nothing may listen on a database it cannot read")


if __name__ == "__main__":
    unittest.main()
