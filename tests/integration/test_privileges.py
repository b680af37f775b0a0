"""Started as root, missived binds, reads its key, hands its data directory to the run_as
user and becomes that user; its files are readable by their owner only."""

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import unittest

from missive_harness import (DOMAIN, MissiveServer, MissiveTestCase, make_message, smtp_send,
                             wait_for_mailbox_count, wait_until)

RUN_AS = "missive-test"


def ensure_user(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                       check=True, capture_output=True, timeout=30)
        return pwd.getpwnam(name)


@unittest.skipUnless(os.geteuid() == 0, "dropping privileges needs root")
class PrivilegeDropTest(MissiveTestCase):

    def test_drops_to_run_as_and_keeps_files_private(self):
        user = ensure_user(RUN_AS)
        # The data directory's parents must be passable for the unprivileged user.
        base = tempfile.mkdtemp(prefix="missive-drop-")
        os.chmod(base, 0o755)
        self.addCleanup(shutil.rmtree, base, ignore_errors=True)
        data = os.path.join(base, "data")
        server = MissiveServer(config=f'run_as = "{RUN_AS}"\n', data_dir=data)
        self.addCleanup(server.cleanup)
        bob = f"bob@{DOMAIN}"
        server.add_user(bob)  # as root, before the start: the start hands the files over
        server.start()
        self.addCleanup(server.stop)
        def uids():
            with open(f"/proc/{server.proc.pid}/status") as status:
                line = next(line for line in status if line.startswith("Uid:"))
            return {int(u) for u in line.split()[1:]}
        # The listening lines come just before the drop: wait for it, briefly.
        wait_until(lambda: uids() == {user.pw_uid}, timeout=5, what="the uid to change")
        self.assertEqual(uids(), {user.pw_uid}, "real, effective, saved and fs uid")
        for name in ("missive.db",):
            info = os.stat(os.path.join(data, name))
            self.assertEqual(info.st_uid, user.pw_uid, name)
            self.assertEqual(stat.S_IMODE(info.st_mode), 0o600, name)
        self.assertEqual(stat.S_IMODE(os.stat(data).st_mode), 0o700)
        # It still works as that user: accept, store, deliver.
        smtp_send(server, f"alice@{DOMAIN}", [bob], make_message("after the drop", ["x"], to=bob))
        wait_for_mailbox_count(server, bob, 1)

    def test_missing_run_as_user_is_a_config_error(self):
        server = MissiveServer(config='run_as = "no-such-user-here"\n')
        self.addCleanup(server.cleanup)
        r = subprocess.run(server.command(), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("no-such-user-here", r.stderr)


if __name__ == "__main__":
    unittest.main()
