"""Aliases and subaddresses, each checked through POP3 (poplib): nested aliases, a user
reached twice getting one copy, a loop refused with its path (at once, not a hang), a
catch-all only where no user or alias matches, alice+tag@d delivered to alice@d with the tag
kept in the envelope recipient, postmaster@ going where its alias says, changes seen by the
running relay at the next RCPT; and the admin commands' output and exit codes."""

import json
import poplib
import re
import time
import unittest

from missive_harness import (DOMAIN, HOST, PASSWORD, MissiveTestCase, SmtpClient, make_message,
                             smtp_send, wait_for_mailbox_count)

CATCH = "catch.test"   # a second local domain, with a catch-all
SENDER = "sender@outside.test"


def pop3_messages(server, user):
    """Every message of a maildrop, read with poplib."""
    pop = poplib.POP3(HOST, server.pop3_port, timeout=10)
    try:
        pop.user(user)
        pop.pass_(PASSWORD)
        count, _ = pop.stat()
        return [b"\r\n".join(pop.retr(i + 1)[1]) + b"\r\n" for i in range(count)]
    finally:
        pop.quit()


class AliasDeliveryTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server(extra_args=["--domain", CATCH])
        cls.counter = 0

    def fresh(self, stem):
        """A new address of DOMAIN for this test (the server is shared)."""
        type(self).counter += 1
        return f"{stem}{self.counter}@{DOMAIN}"

    def user(self, stem, domain=DOMAIN):
        address = self.fresh(stem).replace(f"@{DOMAIN}", f"@{domain}")
        return self.server.add_user(address)

    def alias(self, source, *targets):
        r = self.server.cli("alias", "add", source, *targets)
        self.assertEqual(r.returncode, 0, r.stderr)
        return source

    def rcpt(self, *recipients, sender=SENDER):
        """The RCPT replies for `recipients` in one transaction (then RSET)."""
        with SmtpClient(self.server.smtp_port) as c:
            c.ehlo()
            c.cmd(f"MAIL FROM:<{sender}>")
            replies = [c.cmd(f"RCPT TO:<{r}>") for r in recipients]
            c.cmd("QUIT")
        return replies

    def assertOneCopy(self, user, subject):
        wait_for_mailbox_count(self.server, user, 1, confirm_pop3=True)
        [stored] = pop3_messages(self.server, user)
        self.assertIn(f"Subject: {subject}".encode(), stored)
        return stored

    def test_nested_aliases_reach_every_user_once(self):
        u1, u2, u3 = self.user("n"), self.user("n"), self.user("n")
        inner = self.alias(self.fresh("inner"), u1, u2)
        outer = self.alias(self.fresh("outer"), inner, u3, u1)   # u1 twice: once through inner
        smtp_send(self.server, SENDER, [outer], make_message("nested", ["x"]))
        for u in (u1, u2, u3):
            stored = self.assertOneCopy(u, "nested")
            self.assertIn(f"Delivered-To: {u}".encode(), stored)
            self.assertIn(f"Return-Path: <{SENDER}>".encode(), stored)
        time.sleep(0.3)
        wait_for_mailbox_count(self.server, u1, 1)

    def test_a_user_reached_twice_in_one_message_gets_one_copy(self):
        u = self.user("twice")
        a = self.alias(self.fresh("toU"), u)
        tag = u.replace("@", "+tag@")
        self.assertEqual([r.code for r in self.rcpt(u, a, tag)], [250, 250, 250])
        smtp_send(self.server, SENDER, [a, u, tag], make_message("twice", ["x"]))
        self.assertOneCopy(u, "twice")
        time.sleep(0.3)
        wait_for_mailbox_count(self.server, u, 1)

    def test_a_loop_is_refused_at_once_with_its_path(self):
        u = self.user("loopu")
        a, b = self.fresh("loopa"), self.fresh("loopb")
        self.alias(a, b)
        self.alias(b, u, a)
        started = time.monotonic()
        [reply] = self.rcpt(a)
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual((reply.code, reply.enhanced), (550, "5.4.6"), reply)
        self.assertIn(f"alias loop ({a} -> {b} -> {a})", reply.text, reply)
        self.server.wait_log(rf"event=alias_loop to=<{re.escape(a)}>")
        # nothing was delivered to the user the loop also names
        time.sleep(0.2)
        wait_for_mailbox_count(self.server, u, 0)

    def test_a_catch_all_applies_only_where_no_user_or_alias_matches(self):
        catcher = self.user("catcher", CATCH)
        own = self.user("own", CATCH)
        other = self.user("other")
        aliased = self.alias(self.fresh("aliased").replace(DOMAIN, CATCH), other)
        self.alias(f"@{CATCH}", catcher)
        anyone = f"anyone{self.counter}@{CATCH}"
        smtp_send(self.server, SENDER, [anyone], make_message("caught", ["x"]))
        smtp_send(self.server, SENDER, [own], make_message("own", ["x"]))
        smtp_send(self.server, SENDER, [aliased], make_message("aliased", ["x"]))
        self.assertOneCopy(catcher, "caught")
        self.assertOneCopy(own, "own")
        self.assertOneCopy(other, "aliased")
        # another local domain has no catch-all: unknown there
        [reply] = self.rcpt(f"anyone{self.counter}@{DOMAIN}")
        self.assertEqual((reply.code, reply.enhanced), (550, "5.1.1"), reply)

    def test_an_alias_whose_targets_lead_nowhere_is_unknown(self):
        dead = self.alias(self.fresh("dead"), self.fresh("nobody"))
        [reply] = self.rcpt(dead)
        self.assertEqual((reply.code, reply.enhanced), (550, "5.1.1"), reply)

    def test_a_subaddress_goes_to_its_user_with_the_tag_kept(self):
        u = self.user("sub")
        tagged = u.replace("@", "+lists@")
        qid = smtp_send(self.server, SENDER, [tagged], make_message("tagged", ["x"]))
        stored = self.assertOneCopy(u, "tagged")
        # the envelope recipient keeps the tag (for the record and for the reader's filters)
        self.assertIn(f"Delivered-To: {tagged}".encode(), stored)
        rows = self.server.query("SELECT r.address, r.mailbox FROM recipient r JOIN message m "
                                 "ON m.id = r.message_id WHERE m.queue_id = ?", (qid,))
        self.assertEqual(rows, [(tagged, u)])

    def test_a_subaddress_of_an_alias_and_one_that_is_a_user(self):
        u, v = self.user("suba"), self.user("subb")
        a = self.alias(self.fresh("team"), u)
        special = self.server.add_user(v.replace("@", "+special@"))
        smtp_send(self.server, SENDER, [a.replace("@", "+x@")], make_message("alias tag", ["x"]))
        smtp_send(self.server, SENDER, [special], make_message("own user", ["x"]))
        self.assertOneCopy(u, "alias tag")
        self.assertOneCopy(special, "own user")
        wait_for_mailbox_count(self.server, v, 0)

    def test_postmaster_goes_where_its_alias_says(self):
        admin = self.user("admin")
        self.alias(f"postmaster@{DOMAIN}", admin)
        try:
            smtp_send(self.server, SENDER, ["Postmaster@" + DOMAIN], make_message("to pm", ["x"]))
            self.assertOneCopy(admin, "to pm")
        finally:
            self.server.cli("alias", "del", f"postmaster@{DOMAIN}")
        # without the alias (and without a user) postmaster is still accepted (RFC 5321 4.5.1)
        [reply] = self.rcpt(f"postmaster@{DOMAIN}")
        self.assertEqual(reply.code, 250, reply)

    def test_changes_are_seen_by_the_running_relay_at_the_next_rcpt(self):
        u = self.user("live")
        a = self.fresh("live-alias")
        self.assertEqual(self.rcpt(a)[0].code, 550)
        self.alias(a, u)
        self.assertEqual(self.rcpt(a)[0].code, 250)
        r = self.server.cli("alias", "del", a)
        self.assertEqual((r.returncode, r.stdout), (0, f"deleted alias {a}\n"), r.stderr)
        self.assertEqual(self.rcpt(a)[0].code, 550)


class SubaddressOffTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server(config='[smtp]\nrecipient_delimiter = ""\n')
        cls.server.add_user(f"alice@{DOMAIN}")

    def test_recipient_delimiter_empty_turns_subaddresses_off(self):
        with SmtpClient(self.server.smtp_port) as c:
            c.ehlo()
            c.cmd(f"MAIL FROM:<{SENDER}>")
            reply = c.cmd(f"RCPT TO:<alice+tag@{DOMAIN}>")
            plain = c.cmd(f"RCPT TO:<alice@{DOMAIN}>")
        self.assertEqual((reply.code, reply.enhanced), (550, "5.1.1"), reply)
        self.assertEqual(plain.code, 250)


class AliasCommandsTest(MissiveTestCase):
    """`missived alias add|del|list` beside a running relay, as `user` commands are run."""

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server()

    def cli(self, *args):
        return self.server.cli("alias", *args)

    def test_add_list_del_and_exit_codes(self):
        r = self.cli("add", f"info@{DOMAIN}", f"alice@{DOMAIN}", "bob@elsewhere.test")
        self.assertEqual((r.returncode, r.stdout),
                         (0, f"added alias info@{DOMAIN}: alice@{DOMAIN}, bob@elsewhere.test\n"),
                         r.stderr)
        r = self.cli("add", f"@{DOMAIN.upper()}", f"alice@{DOMAIN}")
        self.assertEqual((r.returncode, r.stdout),
                         (0, f"added alias @{DOMAIN}: alice@{DOMAIN}\n"), r.stderr)
        # a target added again is noted, not doubled
        r = self.cli("add", f"info@{DOMAIN}", f"alice@{DOMAIN}", f"carol@{DOMAIN}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("some targets were there already", r.stdout)
        r = self.cli("list")
        self.assertEqual((r.returncode, r.stdout), (0, (
            f"@{DOMAIN}: alice@{DOMAIN}\n"
            f"info@{DOMAIN}: alice@{DOMAIN}, bob@elsewhere.test, carol@{DOMAIN}\n")), r.stderr)
        r = self.cli("list", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"aliases": [
            {"source": f"@{DOMAIN}", "targets": [f"alice@{DOMAIN}"]},
            {"source": f"info@{DOMAIN}",
             "targets": [f"alice@{DOMAIN}", "bob@elsewhere.test", f"carol@{DOMAIN}"]}]})
        r = self.cli("del", f"INFO@{DOMAIN}")
        self.assertEqual((r.returncode, r.stdout), (0, f"deleted alias INFO@{DOMAIN}\n"), r.stderr)
        r = self.cli("del", f"info@{DOMAIN}")
        self.assertEqual((r.returncode, r.stderr), (67, f"missived: no alias info@{DOMAIN}\n"))
        r = self.cli("del", f"@{DOMAIN}")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.cli("list", "--json")
        self.assertEqual(json.loads(r.stdout), {"aliases": []})

    def test_bad_arguments(self):
        r = self.cli("add", "not an address", f"alice@{DOMAIN}")
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertIn("is not a mail address", r.stderr)
        r = self.cli("add", f"x@{DOMAIN}", "nope")
        self.assertEqual(r.returncode, 64, r.stderr)
        r = self.cli("add", f"x@{DOMAIN}", f"X@{DOMAIN}")
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn("cannot be its own target", r.stderr)
        r = self.cli("add", f"x@{DOMAIN}")
        self.assertEqual(r.returncode, 64, r.stderr)   # no target: usage
        r = self.cli("add", "y@other.test", f"alice@{DOMAIN}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("not one of the local domains", r.stderr)
        self.cli("del", "y@other.test")


if __name__ == "__main__":
    unittest.main()
