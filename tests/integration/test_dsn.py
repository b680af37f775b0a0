"""The DSN extension (RFC 3461, RFC 3464) end to end: every NOTIFY combination against local
delivery (success DSNs), a next hop that answers 550 (failure DSNs, RET=FULL or HDRS), and a
next hop that stays down past [queue] delay_warning (one "delayed" DSN, once, also across a
restart); a next hop without DSN gets a "relayed" DSN sent for SUCCESS, one with DSN gets
the parameters passed on; never a DSN to <>; malformed parameters are 501 5.5.4. Every
report is parsed with Python's email package."""

import time
import unittest

from missive_harness import (RelayTestCase, fetch_all, make_message, parse_dsn, queue_id_of,
                             refused_port, wait_for_mailbox_count, wait_until)

ALICE = "alice@a.test"
BOB = "bob@a.test"

# RFC 3461 4.1: NOTIFY is NEVER alone, or any combination of the three; None: no NOTIFY.
COMBINATIONS = [None, "NEVER", "SUCCESS", "FAILURE", "DELAY", "SUCCESS,FAILURE",
                "SUCCESS,DELAY", "FAILURE,DELAY", "SUCCESS,FAILURE,DELAY"]


def asks(notify, what):
    """Whether NOTIFY value `notify` asks for `what` (RFC 3461 4.1 defaults without it)."""
    if notify is None:
        return what in ("FAILURE", "DELAY")
    return what in notify.split(",")


def envid_for(notify):
    return "E-" + (notify or "none").replace(",", "-")


def send_with_dsn(server, sender, rcpts, body, mail_params=""):
    """One transaction over a raw socket; rcpts: [(address, rcpt parameters)]."""
    with server.smtp() as c:
        r = c.ehlo()
        assert r.code == 250, r
        r = c.cmd(f"MAIL FROM:<{sender}>{mail_params}")
        assert r.code == 250, f"MAIL: {r}"
        for address, params in rcpts:
            r = c.cmd(f"RCPT TO:<{address}>{params}")
            assert r.code == 250, f"RCPT {address}{params}: {r}"
        r = c.cmd("DATA")
        assert r.code == 354, r
        return queue_id_of(c.data_bytes(body))


def rcpt_params(notify, orcpt=None):
    params = f" NOTIFY={notify}" if notify else ""
    if orcpt:
        params += f" ORCPT={orcpt}"
    return params


class DsnTest(RelayTestCase):

    def relay(self, routes=(), queue=None):
        a = self.start_relay("a.test", start=False, routes=routes, queue=queue)
        a.add_user(ALICE)
        a.add_user(BOB)
        a.start()
        return a

    def dsns(self, a, count, timeout=15):
        """The `count` DSNs in alice's maildrop (all from <>), parsed, by envelope id."""
        wait_for_mailbox_count(a, ALICE, count, timeout=timeout)
        senders = [s for _, s in a.mailbox_messages(ALICE)]
        self.assertEqual(senders, [""] * count, "a DSN's envelope sender is <>")
        reports = [parse_dsn(raw) for raw in fetch_all(a, ALICE)] if count else []
        return {d.per_message.get("original-envelope-id"): d for d in reports}

    def assertReport(self, dsn, action, recipient, status, orcpt=None, returned="headers"):
        self.assertEqual(dsn.per_message["reporting-mta"], "dns; mx.a.test")
        [block] = dsn.per_recipient
        self.assertEqual(block["final-recipient"].replace(" ", ""), f"rfc822;{recipient}")
        self.assertEqual(block["action"], action)
        self.assertRegex(block["status"], status)
        if orcpt:
            self.assertEqual(block.get("original-recipient"), orcpt)
        else:
            self.assertNotIn("original-recipient", block)
        third = dsn.msg.get_payload()[2]
        if returned == "full":
            self.assertEqual(third.get_content_type(), "message/rfc822")
            body = third.get_payload()[0].get_payload()
            self.assertIn("the body line", body)
        else:
            self.assertEqual(third.get_content_type(), "text/rfc822-headers")
            self.assertNotIn(b"the body line", third.get_payload(decode=True))
        self.assertEqual(dsn.msg["To"], ALICE)
        self.assertEqual(dsn.msg["Auto-Submitted"], "auto-replied")

    def test_local_delivery_every_notify_combination(self):
        a = self.relay()
        for notify in COMBINATIONS:
            msg = make_message(f"local {notify}", ["the body line"], sender=ALICE, to=BOB)
            send_with_dsn(a, ALICE, [(BOB, rcpt_params(notify, "rfc822;Bob+2Btag@a.test"))], msg,
                          f" RET=FULL ENVID={envid_for(notify)}")
        wanted = [n for n in COMBINATIONS if asks(n, "SUCCESS")]
        reports = self.dsns(a, len(wanted))
        self.assertEqual(sorted(reports), sorted(envid_for(n) for n in wanted))
        for notify in wanted:
            # RET=FULL is for failures: a success report returns the headers only.
            self.assertReport(reports[envid_for(notify)], "delivered", BOB, r"^2\.0\.0$",
                              orcpt="rfc822;Bob+tag@a.test")
            self.assertEqual(reports[envid_for(notify)].msg["Subject"],
                             "Successful Mail Delivery Report")
        self.assertEqual(len(fetch_all(a, BOB)), len(COMBINATIONS), "every message delivered")

    def test_550_next_hop_every_notify_combination(self):
        fake = self.fake_smtp(rcpt_reply=lambda addr, n: "550 5.1.1 No such user here")
        a = self.relay(routes=[("x.test", fake.port)])
        qids = {}
        for i, notify in enumerate(COMBINATIONS):
            ret = " RET=FULL" if i % 2 else " RET=HDRS"
            msg = make_message(f"refused {notify}", ["the body line"], sender=ALICE,
                               to="nosuch@x.test")
            qids[notify] = send_with_dsn(
                a, ALICE, [("nosuch@x.test", rcpt_params(notify, "rfc822;No+20Such@x.test"
                                                          .replace("+20", "+2B")))],
                msg, f"{ret} ENVID={envid_for(notify)}")
        for notify, qid in qids.items():
            a.wait_state(qid, "nosuch@x.test", "failed")
        a.wait_quiet()
        wanted = [n for n in COMBINATIONS if asks(n, "FAILURE")]
        reports = self.dsns(a, len(wanted))
        self.assertEqual(sorted(reports), sorted(envid_for(n) for n in wanted))
        for i, notify in enumerate(COMBINATIONS):
            if notify not in wanted:
                continue
            dsn = reports[envid_for(notify)]
            self.assertReport(dsn, "failed", "nosuch@x.test", r"^5\.1\.1$",
                              orcpt="rfc822;No+Such@x.test",
                              returned="full" if i % 2 else "headers")
            self.assertIn("550 5.1.1", dsn.per_recipient[0]["diagnostic-code"])

    def test_next_hop_down_past_delay_warning(self):
        down = refused_port(self.addCleanup)
        a = self.relay(routes=[("down.test", down)],
                       queue={"retry_initial": "1s", "retry_max": "1s", "max_lifetime": "1h",
                              "delay_warning": "2s"})
        for notify in COMBINATIONS:
            msg = make_message(f"late {notify}", ["the body line"], sender=ALICE, to="x@down.test")
            send_with_dsn(a, ALICE, [("x@down.test", rcpt_params(notify))], msg,
                          f" ENVID={envid_for(notify)}")
        wanted = [n for n in COMBINATIONS if asks(n, "DELAY")]
        reports = self.dsns(a, len(wanted), timeout=20)
        self.assertEqual(sorted(reports), sorted(envid_for(n) for n in wanted))
        for notify in wanted:
            dsn = reports[envid_for(notify)]
            self.assertReport(dsn, "delayed", "x@down.test", r"^4\.")
            self.assertEqual(dsn.msg["Subject"], "Delayed Mail (still being retried)")
        # Once only: more retries, and a restart, send no second warning.
        time.sleep(3)
        a.stop()
        a.start()
        time.sleep(3)
        self.assertEqual(len(a.mailbox_messages(ALICE)), len(wanted), "one warning per message")
        self.assertGreater(a.pending_count(), 0, "still being retried")

    def test_relayed_dsn_when_next_hop_lacks_dsn(self):
        fake = self.fake_smtp()  # no DSN in its EHLO
        a = self.relay(routes=[("x.test", fake.port)])
        msg = make_message("relayed", ["the body line"], sender=ALICE, to="ok@x.test")
        qid = send_with_dsn(a, ALICE, [("ok@x.test", " NOTIFY=SUCCESS ORCPT=rfc822;ok@x.test"),
                                       ("quiet@x.test", "")], msg, " ENVID=REL1")
        a.wait_state(qid, "ok@x.test", "delivered")
        reports = self.dsns(a, 1)
        self.assertReport(reports["REL1"], "relayed", "ok@x.test", r"^2\.", orcpt="rfc822;ok@x.test")
        [t] = fake.wait_transactions(1)
        mail = [l for _, l in fake.commands if l.upper().startswith("MAIL")]
        self.assertNotIn("ENVID", mail[0], "no DSN parameters to a next hop without DSN")

    def test_parameters_passed_on_to_a_next_hop_with_dsn(self):
        fake = self.fake_smtp(features=("PIPELINING", "8BITMIME", "SIZE 52428800",
                                        "ENHANCEDSTATUSCODES", "DSN"))
        a = self.relay(routes=[("x.test", fake.port)])
        msg = make_message("passed on", ["the body line"], sender=ALICE, to="ok@x.test")
        qid = send_with_dsn(a, ALICE,
                            [("ok@x.test", " NOTIFY=SUCCESS,DELAY ORCPT=rfc822;o+2Bk@x.test"),
                             ("plain@x.test", "")], msg, " RET=HDRS ENVID=a+2Bb")
        a.wait_state(qid, "ok@x.test", "delivered")
        fake.wait_transactions(1)
        lines = [l for _, l in fake.commands]
        [mail] = [l for l in lines if l.upper().startswith("MAIL")]
        self.assertTrue(mail.startswith(f"MAIL FROM:<{ALICE}>"), mail)
        self.assertIn(" RET=HDRS", mail)
        self.assertIn(" ENVID=a+2Bb", mail)
        rcpts = [l for l in lines if l.upper().startswith("RCPT")]
        self.assertIn("RCPT TO:<ok@x.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;o+2Bk@x.test", rcpts)
        self.assertIn("RCPT TO:<plain@x.test>", rcpts)
        a.wait_quiet()
        time.sleep(0.5)
        self.assertEqual(a.mailbox_messages(ALICE), [], "the next hop reports, not us")

    def test_never_a_dsn_to_the_null_sender(self):
        fake = self.fake_smtp(rcpt_reply=lambda addr, n: "550 5.1.1 No")
        a = self.relay(routes=[("x.test", fake.port)])
        msg = make_message("from <>", ["the body line"], sender="", to=BOB)
        send_with_dsn(a, "", [(BOB, " NOTIFY=SUCCESS"), ("no@x.test", " NOTIFY=FAILURE")], msg)
        a.wait_quiet()
        time.sleep(0.5)
        self.assertEqual(a.mailbox_messages(ALICE), [])
        self.assertEqual(len(a.mailbox_messages(BOB)), 1)

    def test_malformed_parameters(self):
        a = self.relay()
        with a.smtp() as c:
            self.assertReply(c.ehlo(), 250)
            for bad in (" RET=FOO", " ENVID=a+2", " ENVID=a+0D", " RET=FULL RET=HDRS"):
                self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}>{bad}"), 501, "5.5.4")
                c.cmd("NOOP")  # three protocol errors in a row would end the session
            self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}> RET=FULL ENVID=ok"), 250)
            for bad in (" NOTIFY=NEVER,SUCCESS", " NOTIFY=", " NOTIFY=SOMETIMES",
                        " ORCPT=rfc822;not-an-address", " ORCPT=rfc822;a+2b@x.test",
                        " ORCPT=rfc822", " ORCPT=;a@a.test"):
                self.assertReply(c.cmd(f"RCPT TO:<{BOB}>{bad}"), 501, "5.5.4")
                c.cmd("NOOP")  # three protocol errors in a row would end the session
            self.assertReply(c.cmd(f"RCPT TO:<{BOB}> NOTIFY=NEVER ORCPT=rfc822;bob@a.test"), 250)
        with a.smtp() as c:
            self.assertReply(c.cmd("HELO client.test"), 250)
            self.assertReply(c.cmd(f"MAIL FROM:<{ALICE}> RET=FULL"), 555)


if __name__ == "__main__":
    unittest.main()
