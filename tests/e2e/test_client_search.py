"""Reading the local store of `missive` (issue 19): full-text search, threads, and saving
attachments.

Messages reach a real missived over SMTP and the client's store with `missive fetch`; the
rest runs offline. Search finds a word that occurs only in a base64-encoded UTF-8 body (and
one in a quoted-printable ISO-8859-1 body), from:/to:/subject: narrow a term, and a query
FTS5 cannot parse gets one sentence and exit 64; a store from before search is indexed by
the migration. `inbox --threads` groups a three-message conversation by References and
In-Reply-To and a message without either by its subject. `read --save` never writes
outside its folder nor over a file."""

import base64
import json
import os
import re
import shutil
import sqlite3
import tempfile
import unittest

from missive_harness import (DOMAIN, HOST, PASSWORD, MissiveTestCase, smtp_send,
                             unique_users)
from test_client_send import run_missive


def message(sender, to, subject, date, body=b"hello\r\n", headers=(), content_headers=()):
    head = [("From", sender), ("To", to), ("Subject", subject), ("Date", date), *headers,
            *content_headers]
    out = "".join(f"{k}: {v}\r\n" for k, v in head).encode()
    return out + b"\r\n" + body


class ClientStoreReadingTest(MissiveTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = cls.start_server()

    def setUp(self):
        super().setUp()
        self.home = tempfile.mkdtemp(prefix="missive-search-home-")
        self.addCleanup(shutil.rmtree, self.home, True)
        self.data_dir = os.path.join(self.home, "store")
        self.alice, self.bob, self.carol = unique_users(self.server, "s.", 3)

    def missive(self, *args):
        common = ["--server", HOST, "--smtp-port", str(self.server.smtp_port),
                  "--pop3-port", str(self.server.pop3_port), "--user", self.alice,
                  "--data-dir", self.data_dir]
        return run_missive([*common, *args], password=PASSWORD, home=self.home)

    def deliver(self, *messages):
        """Sends each message to alice and fetches them all; returns their local ids."""
        for raw in messages:
            smtp_send(self.server, self.bob, [self.alice], raw)
        r = self.missive("fetch")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), f"{len(messages)} new message"
                         f"{'' if len(messages) == 1 else 's'}\n")
        return self.ids("inbox", "--offline")

    def ids(self, *args):
        r = self.missive(*args, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return sorted(m["id"] for m in json.loads(r.stdout)["messages"])

    def search(self, query):
        return self.ids("search", query, "--offline")

    def test_search_finds_words_of_encoded_bodies_and_narrows_by_field(self):
        utf8_body = "Grüße aus Luzern: der Vierwaldstättersee glänzt heute.\n".encode()
        b64 = base64.encodebytes(utf8_body).replace(b"\n", b"\r\n")
        encoded = message(self.bob, self.alice, "Ferien", "Sun, 06 Dec 2026 08:00:00 +0000",
                          body=b64, content_headers=[
                              ("MIME-Version", "1.0"),
                              ("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Transfer-Encoding", "base64")])
        self.assertNotIn("Vierwaldstättersee".encode(), encoded)
        latin1 = message(f"Carol <{self.carol}>", self.alice, "Quarterly budget",
                         "Sun, 06 Dec 2026 09:00:00 +0000",
                         body=b"caf=E9 cr=E8me and numbers\r\n", content_headers=[
                             ("MIME-Version", "1.0"),
                             ("Content-Type", "text/plain; charset=iso-8859-1"),
                             ("Content-Transfer-Encoding", "quoted-printable")])
        plain = message(self.bob, f"{self.alice}, {self.carol}", "Lunch",
                        "Sun, 06 Dec 2026 10:00:00 +0000", body=b"about the budget\r\n")
        first, second, third = self.deliver(encoded, latin1, plain)

        self.assertEqual(self.search("Vierwaldstättersee"), [first])
        self.assertEqual(self.search("vierwaldstattersee"), [first])  # diacritics folded
        self.assertEqual(self.search("crème"), [second])
        self.assertEqual(self.search("budget"), [second, third])
        self.assertEqual(self.search("subject:budget"), [second])
        self.assertEqual(self.search(f"from:{self.carol}"), [second])
        self.assertEqual(self.search("from:carol budget"), [second])
        self.assertEqual(self.search(f"to:{self.carol}"), [third])
        self.assertEqual(self.search('subject:"quarterly budget"'), [second])
        self.assertEqual(self.search("lunch OR ferien"), [first, third])
        self.assertEqual(self.search("nowhere"), [])

        r = self.missive("search", "budget", "--offline")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().splitlines()
        self.assertTrue(lines[0].split()[:2] == ["ID", "DATE"], lines)
        self.assertEqual([int(line.split()[0]) for line in lines[1:]], [third, second])

    def test_a_query_fts5_cannot_parse_gets_one_sentence_and_exit_64(self):
        self.deliver(message(self.bob, self.alice, "Lunch", "Sun, 06 Dec 2026 10:00:00 +0000"))
        for query in ('"unbalanced', "lunch AND", "(lunch", "from:"):
            with self.subTest(query=query):
                r = self.missive("search", query, "--offline")
                self.assertEqual(r.returncode, 64, r.stderr)
                self.assertEqual(r.stdout, b"")
                [line] = r.stderr.decode().splitlines()
                # FTS5's own words in parentheses ("fts5: syntax error near ...",
                # "unterminated string"), then how queries are written.
                self.assertRegex(line, r"^missive: search: cannot understand the query '"
                                 + re.escape(query) + r"' \(.+\); use words, ")

    def test_a_store_fetched_before_search_is_indexed_by_the_migration(self):
        [only] = self.deliver(message(self.bob, self.alice, "Old news",
                                      "Sun, 06 Dec 2026 10:00:00 +0000",
                                      body=b"a zeppelin went by\r\n"))
        # The store as the missive before search left it: schema version 2, no index.
        conn = sqlite3.connect(os.path.join(self.data_dir, "missive-client.db"))
        conn.executescript("DROP TABLE message_search; DROP INDEX messages_to_index;"
                           "ALTER TABLE messages DROP COLUMN search_indexed;"
                           "PRAGMA user_version = 2;")
        conn.close()
        self.assertEqual(self.search("zeppelin"), [only])

    def test_threads_group_a_conversation_by_references_and_a_message_by_subject(self):
        d = "Sun, 06 Dec 2026 {}:00:00 +0000"
        start = message(self.bob, self.alice, "Trip plans", d.format("08"),
                        headers=[("Message-ID", "<t1@x.test>")])
        reply = message(self.alice, self.bob, "Re: Trip plans", d.format("09"),
                        headers=[("Message-ID", "<t2@x.test>"), ("In-Reply-To", "<t1@x.test>"),
                                 ("References", "<t1@x.test>")])
        # A new subject, but References ties it to the conversation.
        third = message(self.bob, self.alice, "Dates for the trip", d.format("11"),
                        headers=[("Message-ID", "<t3@x.test>"), ("In-Reply-To", "<t2@x.test>"),
                                 ("References", "<t1@x.test> <t2@x.test>")])
        invoice = message(self.bob, self.alice, "Invoice", d.format("10"),
                          headers=[("Message-ID", "<i1@x.test>")])
        # Neither In-Reply-To nor References: grouped by its subject.
        again = message(self.bob, self.alice, "RE: invoice", d.format("07"),
                        headers=[("Message-ID", "<i2@x.test>")])
        self.deliver(start, reply, third, invoice, again)
        r = self.missive("inbox", "--threads", "--offline", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        threads = json.loads(r.stdout)["threads"]
        self.assertEqual([[m["subject"] for m in t["messages"]] for t in threads], [
            ["Trip plans", "Re: Trip plans", "Dates for the trip"],
            ["RE: invoice", "Invoice"],
        ])
        self.assertEqual([t["subject"] for t in threads], ["Trip plans", "RE: invoice"])
        r = self.missive("inbox", "--threads", "--offline")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = r.stdout.decode().splitlines()[1:]
        table_ids = [int(row.split()[0]) for row in rows]
        self.assertEqual(table_ids, [m["id"] for t in threads for m in t["messages"]])

    def test_save_keeps_attachments_inside_the_folder_and_never_overwrites(self):
        boundary = "=_b_"
        parts = [("../../x", b"dotdot"), ("/etc/x", b"absolute"),
                 ("bell\x07name\x1b[31m.txt", b"control"), ("report.pdf", b"%PDF-1.4 new")]
        body = b"--" + boundary.encode() + b"\r\nContent-Type: text/plain\r\n\r\nsee files\r\n"
        for name, data in parts:
            body += (f"--{boundary}\r\nContent-Type: application/octet-stream\r\n"
                     f"Content-Disposition: attachment; filename=\"{name}\"\r\n"
                     f"Content-Transfer-Encoding: base64\r\n\r\n").encode()
            body += base64.b64encode(data) + b"\r\n"
        body += f"--{boundary}--\r\n".encode()
        [mid] = self.deliver(message(self.bob, self.alice, "files", "Sun, 06 Dec 2026 10:00:00 "
                                     "+0000", body=body, content_headers=[
                                         ("MIME-Version", "1.0"),
                                         ("Content-Type",
                                          f"multipart/mixed; boundary=\"{boundary}\"")]))
        folder = os.path.join(self.home, "a", "b", "save")
        os.makedirs(folder)
        with open(os.path.join(folder, "report.pdf"), "wb") as f:
            f.write(b"keep me")
        etc_x_before = os.path.lexists("/etc/x")

        r = self.missive("read", str(mid), "--save", folder)
        self.assertEqual(r.returncode, 0, r.stderr)
        names = ["x", "x (1)", "bell_name_[31m.txt", "report (1).pdf"]
        self.assertEqual(r.stdout.decode().splitlines(), [os.path.join(folder, n) for n in names])
        for name, (_, data) in zip(names, parts):
            with open(os.path.join(folder, name), "rb") as f:
                self.assertEqual(f.read(), data, name)
        with open(os.path.join(folder, "report.pdf"), "rb") as f:
            self.assertEqual(f.read(), b"keep me")
        self.assertFalse(os.path.lexists(os.path.join(self.home, "a", "x")))
        self.assertFalse(os.path.lexists(os.path.join(self.home, "x")))
        self.assertEqual(os.path.lexists("/etc/x"), etc_x_before)

        r = self.missive("read", str(mid), "--save", folder)
        self.assertEqual(r.returncode, 0, r.stderr)
        again = ["x (2)", "x (3)", "bell_name_[31m (1).txt", "report (2).pdf"]
        self.assertEqual(r.stdout.decode().splitlines(), [os.path.join(folder, n) for n in again])
        self.assertEqual(sorted(os.listdir(folder)), sorted(names + again + ["report.pdf"]))
        with open(os.path.join(folder, "x"), "rb") as f:
            self.assertEqual(f.read(), b"dotdot")


if __name__ == "__main__":
    unittest.main()
