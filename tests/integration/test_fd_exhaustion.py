"""The accept loop survives running out of file descriptors (EMFILE): connections beyond
what the process can open wait or fail, and once clients go away the relay serves again."""

import os
import resource
import socket
import unittest

from missive_harness import HOST, MissiveServer, MissiveTestCase, wait_until

# Low enough that 60 idle clients exhaust it; high enough for the database and listeners.
FD_LIMIT = 48


class LimitedServer(MissiveServer):
    def command(self):
        # prlimit(1) runs missived with a small RLIMIT_NOFILE.
        return ["prlimit", f"--nofile={FD_LIMIT}:{FD_LIMIT}", "--"] + super().command()


class FdExhaustionTest(MissiveTestCase):

    def test_accept_loop_survives_emfile(self):
        if "UBSAN_OPTIONS" in os.environ:
            # UBSan's vptr check proves a vtable readable by writing it into a pipe; with no
            # descriptor free it cannot, reports "object has invalid vptr" for a sound object
            # in std::make_shared, and the sanitized relay stops there (one run in two to
            # eight here). The sanitizer cannot run out of descriptors; the normal build runs
            # this test.
            self.skipTest("UBSan needs free descriptors for its own checks")
        server = LimitedServer(config="[smtp]\nmax_connections_per_address = 1000\n"
                                      'greeting_delay = "0s"\n')
        self.addCleanup(server.cleanup)
        server.start()
        self.addCleanup(server.stop)
        idle = []
        try:
            for _ in range(60):
                s = socket.socket()
                s.settimeout(5)
                s.connect((HOST, server.smtp_port))  # completes in the kernel backlog
                idle.append(s)
            # Some got greeted; the rest wait in the backlog while accept() fails with EMFILE.
            greeted = 0
            for s in idle:
                s.settimeout(0.2)
                try:
                    if s.recv(100).startswith(b"220"):
                        greeted += 1
                except OSError:
                    pass
            self.assertGreater(greeted, 0)
            self.assertLess(greeted, 60, "the limit was not reached: the test proves nothing")
        finally:
            for s in idle:
                s.close()
        # The loop kept going: once the clients are gone (the relay still has the backlog of
        # closed connections to work through), a new one is served normally.
        def served():
            try:
                with server.smtp() as c:
                    return c.greeting.code == 220 and c.cmd("NOOP").code == 250
            except OSError:
                return False
        try:
            # Generous: under AddressSanitizer on a loaded machine the relay works through
            # the backlog of closed connections slowly (it failed once at 15 s in CI).
            wait_until(served, timeout=40, interval=0.2, what="a new client served")
        except AssertionError as e:
            raise AssertionError(f"{e}\nrelay log:\n{server.log_tail(60)}") from None
        self.assertIn("accept_failed", server.read_log())
        self.assertTrue(server.running())


if __name__ == "__main__":
    unittest.main()
