"""POP3 protocol checks over raw sockets (RFC 1939, RFC 2449 CAPA, RFC 5034 AUTH PLAIN)."""

import base64
import re
import time
import unittest

from missive_harness import (DOMAIN, PASSWORD, MissiveTestCase, make_message, pop3_session,
                             smtp_send, unique_users, wait_for_mailbox_count, header_section)

ALICE = f"alice@{DOMAIN}"


class Pop3ProtocolTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_server()
        cls.pool = unique_users(cls.server, "p", 23)
        cls.sent = {}

    def test_long_password_with_spaces(self):
        # Long enough to live on the heap, with spaces (RFC 1939 7: PASS takes the rest of the line).
        password = "a long pass phrase with spaces, well over sixteen octets"
        user = f"long.password.user@{DOMAIN}"
        self.server.add_user(user, password=password)
        with self.server.pop3() as p:
            self.assertOk(p.login(user, password))
        with self.server.pop3() as p:
            self.assertOk(p.auth_plain(user, password))
        with self.server.pop3() as p:
            p.cmd(f"USER {user}")
            self.assertTrue(p.cmd(f"PASS {password[:-1]}").startswith("-ERR [AUTH]"))

    def user_with(self, count):
        """A fresh user whose maildrop holds `count` distinct messages; returns (user, msgs)."""
        user = self.pool.pop()
        msgs = []
        for i in range(count):
            body = [f"message {i} for {user}", ".dot line", "..two dots", "last"] + ["pad"] * i
            msgs.append(make_message(f"msg {i}", body, to=user))
            smtp_send(self.server, ALICE, [user], msgs[-1])
        wait_for_mailbox_count(self.server, user, count)
        return user, msgs

    def session(self, user=None, password=PASSWORD):
        if user is None:
            c = self.server.pop3()
        else:
            c = pop3_session(self.server, user, password)
        self.addCleanup(c.close)
        return c

    def quit(self, c):
        self.assertOk(c.quit())
        self.assertTrue(c.is_closed(), "not closed after QUIT")

    # -- authorization state -----------------------------------------------------------------

    def test_greeting(self):
        c = self.session()
        self.assertOk(c.greeting)

    def test_capa(self):
        c = self.session()
        r = c.cmd("CAPA")
        self.assertOk(r)
        caps = [l.decode() for l in c.multiline().split(b"\r\n")[:-1]]
        upper = [l.upper() for l in caps]
        for cap in ("USER", "UIDL", "TOP", "RESP-CODES", "PIPELINING"):
            self.assertIn(cap, upper, caps)
        sasl = [l.split()[1:] for l in upper if l.split()[0] == "SASL"]
        self.assertEqual(len(sasl), 1, caps)
        self.assertIn("PLAIN", sasl[0])

    def test_user_always_ok(self):
        c = self.session()
        self.assertOk(c.cmd(f"USER nobody@{DOMAIN}"))
        self.assertOk(c.cmd(f"USER {ALICE}"))

    def test_wrong_password_and_unknown_user_look_the_same(self):
        user = self.pool.pop()
        c = self.session()
        self.assertOk(c.cmd(f"USER {user}"))
        t0 = time.monotonic()
        wrong = c.cmd("PASS not-the-password")
        elapsed = time.monotonic() - t0
        self.assertErr(wrong, "AUTH")
        self.assertGreaterEqual(elapsed, 0.5, "no delay after a bad password")
        self.assertOk(c.cmd(f"USER nobody@{DOMAIN}"))
        t0 = time.monotonic()
        unknown = c.cmd("PASS whatever")
        elapsed = time.monotonic() - t0
        self.assertErr(unknown, "AUTH")
        self.assertGreaterEqual(elapsed, 0.5, "no delay for an unknown user")
        self.assertEqual(wrong, unknown, "replies reveal whether the mailbox exists")
        # the session is back in AUTHORIZATION state and a good login works
        self.assertOk(c.cmd(f"USER {user}"))
        self.assertOk(c.cmd(f"PASS {PASSWORD}"))
        self.assertEqual(c.stat(), (0, 0))
        self.quit(c)

    def test_pass_without_user(self):
        c = self.session()
        self.assertErr(c.cmd(f"PASS {PASSWORD}"))

    def test_auth_plain_initial_response(self):
        user, _ = self.user_with(1)
        c = self.session()
        self.assertOk(c.auth_plain(user))
        self.assertEqual(c.stat()[0], 1)
        self.quit(c)

    def test_auth_plain_continuation(self):
        user = self.pool.pop()
        c = self.session()
        r = c.cmd("AUTH PLAIN")
        self.assertTrue(r.startswith("+ ") or r == "+", f"expected continuation '+ ', got {r!r}")
        token = base64.b64encode(f"\0{user}\0{PASSWORD}".encode()).decode()
        self.assertOk(c.cmd(token))
        self.assertEqual(c.stat(), (0, 0))
        self.quit(c)

    def test_auth_plain_with_authzid_equal_to_user(self):
        user = self.pool.pop()
        c = self.session()
        token = base64.b64encode(f"{user}\0{user}\0{PASSWORD}".encode()).decode()
        self.assertOk(c.cmd(f"AUTH PLAIN {token}"))
        self.quit(c)

    def test_auth_plain_wrong_password(self):
        user = self.pool.pop()
        c = self.session()
        self.assertErr(c.auth_plain(user, "wrong"), "AUTH")
        c2 = self.session()
        self.assertErr(c2.cmd("AUTH PLAIN !!!not-base64!!!"))
        c3 = self.session()
        r = c3.cmd("AUTH PLAIN")
        self.assertTrue(r.startswith("+ ") or r == "+", r)
        self.assertErr(c3.cmd("*"), msg="cancelled AUTH")

    def test_commands_before_login_rejected(self):
        user, _ = self.user_with(1)
        c = self.session()
        for cmd in ("STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "UIDL", "TOP 1 0", "RSET", "NOOP"):
            self.assertErr(c.cmd(cmd), msg=cmd)
        self.assertOk(c.cmd(f"USER {user}"))
        self.assertOk(c.cmd(f"PASS {PASSWORD}"))
        self.assertEqual(c.stat()[0], 1)
        self.quit(c)

    def test_unknown_command(self):
        c = self.session()
        self.assertErr(c.cmd("FOOBAR"))
        self.assertOk(c.cmd("CAPA"))
        c.multiline()

    def test_long_command_line(self):
        user = self.pool.pop()
        c = self.session()
        self.assertErr(c.cmd("USER " + "x" * 300))
        self.assertOk(c.cmd(f"USER {user}"))
        self.assertOk(c.cmd(f"PASS {PASSWORD}"))
        self.assertErr(c.cmd("NOOP " + "y" * 260))
        self.assertOk(c.cmd("NOOP"))
        self.quit(c)

    def test_quit_in_authorization_state(self):
        c = self.session()
        self.quit(c)

    # -- transaction state -------------------------------------------------------------------

    def test_stat_list_uidl_retr(self):
        user, msgs = self.user_with(3)
        c = self.session(user)
        stored = [c.retr(i) for i in (1, 2, 3)]
        for s, m in zip(stored, msgs):
            self.assertStoredEndsWith(s, m)
        count, total = c.stat()
        self.assertEqual(count, 3)
        self.assertEqual(total, sum(len(s) for s in stored))
        listing = c.listing("LIST")
        self.assertEqual(listing, [(i, str(len(s))) for i, s in enumerate(stored, 1)])
        self.assertEqual(c.cmd("LIST 2"), f"+OK 2 {len(stored[1])}")
        uidl = c.listing("UIDL")
        self.assertEqual([n for n, _ in uidl], [1, 2, 3])
        uids = [u for _, u in uidl]
        self.assertEqual(len(set(uids)), 3)
        for u in uids:
            self.assertRegex(u, r"^[\x21-\x7e]{1,70}$")
        self.assertEqual(c.cmd("UIDL 3"), f"+OK 3 {uids[2]}")
        self.assertOk(c.cmd("NOOP"))
        self.quit(c)

    def test_retr_in_any_order(self):
        # The relay reads messages ahead of the client's RETR: any order, a message asked for
        # twice, one skipped, TOP between RETRs and a RETR after RSET all get the right one.
        user, msgs = self.user_with(5)
        c = self.session(user)
        for n in (3, 1, 2, 5, 4, 3, 1):
            self.assertStoredEndsWith(c.retr(n), msgs[n - 1])
        self.assertOk(c.cmd("DELE 2"))
        self.assertErr(c.cmd("RETR 2"))
        self.assertTrue(c.top(3, 0).endswith(b"\r\n\r\n"))
        self.assertStoredEndsWith(c.retr(4), msgs[3])
        self.assertOk(c.cmd("RSET"))
        self.assertStoredEndsWith(c.retr(2), msgs[1])
        self.assertEqual(c.stat()[0], 5)
        self.quit(c)

    def test_retr_is_dot_stuffed_on_the_wire(self):
        user, msgs = self.user_with(1)
        c = self.session(user)
        self.assertOk(c.cmd("RETR 1"))
        raw = c.multiline_raw()
        self.assertIn(b"\r\n..dot line\r\n", raw)   # '.dot line' stuffed
        self.assertIn(b"\r\n...two dots\r\n", raw)  # '..two dots' stuffed
        self.assertTrue(raw.endswith(b"\r\nlast\r\n.\r\n"))
        self.quit(c)

    def test_top(self):
        user, msgs = self.user_with(1)
        c = self.session(user)
        full = c.retr(1)
        hdr_end = full.index(b"\r\n\r\n") + 4
        self.assertEqual(c.top(1, 0), full[:hdr_end])
        body_lines = full[hdr_end:].split(b"\r\n")
        self.assertEqual(c.top(1, 2), full[:hdr_end] + b"\r\n".join(body_lines[:2]) + b"\r\n")
        self.assertEqual(c.top(1, 1000), full)
        self.assertEqual(c.top(1, 0), header_section(full) + b"\r\n")
        self.assertErr(c.cmd("TOP 1"), msg="TOP without line count")
        self.assertErr(c.cmd("TOP 1 -1"))
        self.quit(c)

    def test_bad_message_numbers(self):
        user, _ = self.user_with(2)
        c = self.session(user)
        for arg in ("0", "-1", "99999999999", "1x", "3", "+1", ""):
            for cmd in ("RETR", "LIST", "DELE", "UIDL"):
                if cmd in ("LIST", "UIDL") and arg == "":
                    continue  # LIST/UIDL without argument are valid
                line = f"{cmd} {arg}".rstrip()
                self.assertErr(c.cmd(line), msg=line)
            self.assertErr(c.cmd(f"TOP {arg} 0"), msg=f"TOP {arg} 0")
        self.assertEqual(c.stat()[0], 2)  # no DELE took effect
        self.assertOk(c.cmd("RETR 2"))
        c.multiline()
        self.quit(c)
        c2 = self.session(user)
        self.assertEqual(c2.stat()[0], 2)
        self.quit(c2)

    def test_dele_semantics(self):
        user, msgs = self.user_with(3)
        c = self.session(user)
        uids = [u for _, u in c.listing("UIDL")]
        sizes = c.listing("LIST")
        self.assertOk(c.cmd("DELE 1"))
        self.assertErr(c.cmd("RETR 1"))
        self.assertErr(c.cmd("DELE 1"))
        self.assertErr(c.cmd("LIST 1"))
        self.assertErr(c.cmd("UIDL 1"))
        self.assertErr(c.cmd("TOP 1 0"))
        self.assertEqual(c.stat(), (2, int(sizes[1][1]) + int(sizes[2][1])))
        self.assertEqual(c.listing("LIST"), sizes[1:])
        self.assertEqual([u for _, u in c.listing("UIDL")], uids[1:])
        # other sessions cannot see the deletion before QUIT (and are locked out anyway)
        self.quit(c)
        c2 = self.session(user)
        self.assertEqual(c2.stat()[0], 2)
        self.assertEqual(c2.listing("UIDL"), [(1, uids[1]), (2, uids[2])])
        self.assertStoredEndsWith(c2.retr(1), msgs[1])
        self.quit(c2)

    def test_rset_undoes_dele(self):
        user, msgs = self.user_with(2)
        c = self.session(user)
        self.assertOk(c.cmd("DELE 1"))
        self.assertOk(c.cmd("DELE 2"))
        self.assertEqual(c.stat(), (0, 0))
        self.assertOk(c.cmd("RSET"))
        self.assertEqual(c.stat()[0], 2)
        self.assertStoredEndsWith(c.retr(1), msgs[0])
        self.quit(c)
        c2 = self.session(user)
        self.assertEqual(c2.stat()[0], 2)
        self.quit(c2)

    def test_drop_without_quit_deletes_nothing_and_releases_lock(self):
        user, msgs = self.user_with(2)
        c = self.session(user)
        self.assertOk(c.cmd("DELE 1"))
        self.assertOk(c.cmd("DELE 2"))
        c.close()  # no QUIT
        t0 = time.monotonic()
        c2 = self.session(user)  # retries (bounded) while the lock is released
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(c2.stat()[0], 2)
        self.assertStoredEndsWith(c2.retr(2), msgs[1])
        self.quit(c2)

    def test_dele_all_then_quit_empties_maildrop(self):
        user, _ = self.user_with(2)
        c = self.session(user)
        self.assertOk(c.cmd("DELE 1"))
        self.assertOk(c.cmd("DELE 2"))
        self.quit(c)
        c2 = self.session(user)
        self.assertEqual(c2.stat(), (0, 0))
        self.assertOk(c2.cmd("LIST"))
        self.assertEqual(c2.multiline(), b"")
        self.quit(c2)
        self.assertEqual(self.server.scalar(
            "SELECT count(*) FROM mailbox_entry me JOIN user u ON u.id = me.user_id "
            "WHERE u.address = ?", (user,)), 0)

    def test_uidl_stable_across_sessions(self):
        user, _ = self.user_with(3)
        c = self.session(user)
        first = c.listing("UIDL")
        self.quit(c)
        c = self.session(user)
        self.assertEqual(c.listing("UIDL"), first)
        self.quit(c)
        # a new message gets a new uid; the old ones do not change
        smtp_send(self.server, ALICE, [user], make_message("later", ["later"], to=user))
        wait_for_mailbox_count(self.server, user, 4)
        c = self.session(user)
        now = c.listing("UIDL")
        self.assertEqual(now[:3], first)
        self.assertNotIn(now[3][1], [u for _, u in first])
        self.quit(c)

    def test_second_session_gets_in_use(self):
        user, _ = self.user_with(1)
        c1 = self.session(user)
        c2 = self.session()
        self.assertOk(c2.cmd(f"USER {user}"))
        self.assertErr(c2.cmd(f"PASS {PASSWORD}"), "IN-USE")
        c3 = self.session()
        self.assertErr(c3.auth_plain(user), "IN-USE")
        self.assertEqual(c1.stat()[0], 1)  # the first session is unaffected
        self.quit(c1)
        c4 = self.session(user)
        self.assertEqual(c4.stat()[0], 1)
        self.quit(c4)

    def test_pipelined_commands(self):
        user, msgs = self.user_with(2)
        c = self.session()
        c.send(f"USER {user}\r\nPASS {PASSWORD}\r\nSTAT\r\nLIST\r\nRETR 2\r\nNOOP\r\nQUIT\r\n".encode())
        self.assertOk(c.line())
        self.assertOk(c.line())
        self.assertRegex(c.line(), r"^\+OK 2 \d+")
        self.assertOk(c.line())
        self.assertEqual(len(c.multiline().split(b"\r\n")) - 1, 2)
        self.assertOk(c.line())
        self.assertStoredEndsWith(c.multiline(), msgs[1])
        self.assertOk(c.line())
        self.assertOk(c.line())
        self.assertTrue(c.is_closed())

    def test_empty_maildrop(self):
        user = self.pool.pop()
        c = self.session(user)
        self.assertEqual(c.stat(), (0, 0))
        self.assertErr(c.cmd("RETR 1"))
        self.assertOk(c.cmd("UIDL"))
        self.assertEqual(c.multiline(), b"")
        self.quit(c)


if __name__ == "__main__":
    unittest.main()
