"""End to end against a next hop no one here wrote: Python's aiosmtpd (Debian package
python3-aiosmtpd), run in-process, receives what A relays for x.test. The envelope must
be the original one and the content byte for byte what A stored: A's Received: header on
top of the original, lines starting with '.', 8-bit bytes and all."""

import threading
import unittest

from missive_harness import (RelayTestCase, make_message, require_aiosmtpd, smtp_send,
                             start_aiosmtpd, wait_until)

ALICE = "alice@a.test"


class RecordingHandler:
    def __init__(self):
        self.lock = threading.Lock()
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.envelopes.append({
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "content": envelope.content,
                "original_content": envelope.original_content,
                "mail_options": list(envelope.mail_options),
            })
        return "250 2.0.0 Message accepted for delivery"

    def snapshot(self):
        with self.lock:
            return list(self.envelopes)


def tricky_lines():
    high = bytes(range(0x80, 0x100))
    return ([b".", b"..", b"...", b".starts with a dot", b"", b" . ", b"From here"]
            + [high[i:i + 32] for i in range(0, 128, 32)]
            + [b"caf\xc3\xa9 \xe2\x82\xac \xff", b"end."])


class AiosmtpdPeerTest(RelayTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        require_aiosmtpd()  # missing: a loud failure, before any test

    def setUp(self):
        super().setUp()
        self.handler = RecordingHandler()
        self.controller = start_aiosmtpd(self.handler, server_hostname="aiosmtpd.x.test",
                                         ready_timeout=10)
        self.addCleanup(self.controller.stop)
        port = self.controller.port
        self.a = self.start_relay("a.test", start=False, routes=[("x.test", port)])
        self.a.add_user(ALICE)
        self.a.start()
        self.port = port

    def wait_envelopes(self, n):
        return wait_until(lambda: (lambda e: e if len(e) >= n else None)(self.handler.snapshot()),
                          timeout=10, what=f"{n} message(s) at aiosmtpd")

    def test_envelope_and_content_byte_for_byte(self):
        msg = make_message("to aiosmtpd", tricky_lines(), sender=ALICE, to="xavier@x.test",
                           headers=[("Content-Type", "text/plain; charset=iso-8859-1"),
                                    ("Content-Transfer-Encoding", "8bit")])
        qid = smtp_send(self.a, ALICE, ["xavier@x.test"], msg)
        [env] = self.wait_envelopes(1)
        self.assertEqual(env["mail_from"], ALICE)
        self.assertEqual(env["rcpt_tos"], ["xavier@x.test"])
        self.assertIsInstance(env["original_content"], bytes)
        self.assertIsInstance(env["content"], bytes)
        self.assertEqual(env["content"], env["original_content"])
        state, attempts, _, _ = self.a.wait_state(qid, "xavier@x.test", "delivered")
        self.assertRelayedCopy(env["original_content"], msg, self.a, qid)
        self.assertEqual(attempts, 1)
        [(_, _, detail)] = [e for e in self.a.events(qid) if e[0] == "delivered"]
        self.assertIn("250 2.0.0 Message accepted for delivery", detail)
        self.a.wait_delivery_log(qid, "xavier@x.test", "sent",
                                 relay=rf"127\.0\.0\.1\[127\.0\.0\.1\]:{self.port}", attempts="1")

    def test_several_recipients_each_once(self):
        rcpts = ["one@x.test", "two@x.test", "three@x.test"]
        msg = make_message("three at aiosmtpd", [".x", "y"], sender=ALICE, to="one@x.test")
        qid = smtp_send(self.a, ALICE, rcpts, msg)
        for r in rcpts:
            self.a.wait_state(qid, r, "delivered")
        envs = self.handler.snapshot()
        got = sorted(r for e in envs for r in e["rcpt_tos"])
        self.assertEqual(got, sorted(rcpts), "each recipient exactly once")
        for e in envs:
            self.assertEqual(e["mail_from"], ALICE)
            self.assertRelayedCopy(e["original_content"], msg, self.a, qid)

    def test_null_sender_passed_on(self):
        msg = make_message("from <>", ["x"], sender="MAILER-DAEMON@a.test", to="xavier@x.test")
        qid = smtp_send(self.a, "", ["xavier@x.test"], msg)
        [env] = self.wait_envelopes(1)
        # aiosmtpd spells the null reverse-path "<>" (email's AngleAddr.addr_spec)
        self.assertEqual(env["mail_from"], "<>")
        self.a.wait_state(qid, "xavier@x.test", "delivered")
        self.assertRelayedCopy(env["original_content"], msg, self.a, qid)


if __name__ == "__main__":
    unittest.main()
