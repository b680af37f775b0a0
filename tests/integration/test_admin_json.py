"""`--json` of `missived queue list | show | summary` and `user list`: one JSON document that
Python's json reads, holding the same facts as the text; `queue summary` counts what the
queue holds (a relay whose next hops are down, on a one-hour retry schedule)."""

import json
import re
import time
import unittest

from missive_harness import RelayTestCase, make_message, refused_port, smtp_send, utc_stamp
from test_relay_queue_admin import parse_queue_list

ALICE = "alice@a.test"
SLOW = {"retry_initial": "1h", "retry_max": "1h", "max_lifetime": "5d"}
BUCKETS = ["0-5m", "5-10m", "10-20m", "20-40m", "40-80m", "80-160m", "160-320m", "320-640m",
           "640-1280m", "1280m+"]


def parse_summary(text):
    """qshape's table: {row name: [T, bucket counts...]}, with the header checked."""
    lines = text.splitlines()
    assert lines[0].split() == ["T", "5", "10", "20", "40", "80", "160", "320", "640", "1280",
                                "1280+"], lines[0]
    rows = {}
    for line in lines[1:]:
        name, *numbers = line.split()
        rows[name] = [int(n) for n in numbers]
    return rows


class AdminJsonTest(RelayTestCase):

    def setUp(self):
        super().setUp()
        port = refused_port(self.addCleanup)
        self.a = self.start_relay("a.test", queue=SLOW, start=False,
                                  routes=[("b.test", port), ("c.test", port)])
        self.a.add_user(ALICE)
        self.a.start()

    def cli_ok(self, *args):
        r = self.a.cli(*args)
        self.assertEqual(r.returncode, 0, f"{' '.join(args)}: {r.stdout!r} {r.stderr!r}")
        return r.stdout

    def json_of(self, *args):
        text = self.cli_ok(*args, "--json")
        return json.loads(text)  # one document: trailing data would fail here

    def send_deferred(self, rcpts, subject):
        qid = smtp_send(self.a, ALICE, rcpts, make_message(subject, ["x"], sender=ALICE, to=rcpts[0]))
        for rcpt in rcpts:
            self.a.wait_state(qid, rcpt, "deferred")
        return qid

    def test_empty_queue(self):
        self.assertEqual(self.json_of("queue", "list"), {"messages": []})
        summary = self.json_of("queue", "summary")
        self.assertEqual(summary, {"buckets": BUCKETS, "domains": [],
                                   "total": {"recipients": 0, "counts": [0] * 10}})
        self.assertEqual(parse_summary(self.cli_ok("queue", "summary")), {"TOTAL": [0] * 11})

    def test_queue_list_holds_the_facts_of_the_text(self):
        q1 = self.send_deferred(["bob@b.test"], "one")
        q2 = self.send_deferred(["x@c.test", "y@c.test"], "two \u00e9")
        text = parse_queue_list(self.cli_ok("queue", "list"))
        doc = self.json_of("queue", "list")
        self.assertEqual(set(doc), {"messages"})
        self.assertEqual([m["queue_id"] for m in doc["messages"]], [q1, q2], "oldest first")
        self.assertEqual(list(text), [q1, q2])
        now = time.time()
        for m in doc["messages"]:
            t = text[m["queue_id"]]
            self.assertEqual(set(m), {"queue_id", "sender", "received_at", "size", "age_seconds",
                                      "recipients"})
            self.assertEqual((m["sender"], m["size"]), (t["from"], t["size"]))
            self.assertRegex(m["received_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertTrue(0 <= m["age_seconds"] < 60, m)
            # The text list was taken a moment before the JSON one: a second may have ticked
            # in between (seen under ASan on PostgreSQL).
            self.assertIn(t["age"], {f"{m['age_seconds']}s", f"{m['age_seconds'] - 1}s"})
            self.assertEqual({r["address"]: {"state": r["state"], "attempts": r["attempts"],
                                             "next": r["next_attempt_at"] or "-",
                                             "reply": r["last_reply"] or "-"}
                              for r in m["recipients"]}, t["rcpts"])
            for r in m["recipients"]:
                state, attempts, next_at, last_reply = self.a.recipient(m["queue_id"], r["address"])
                self.assertEqual((r["state"], r["attempts"], r["next_attempt_at"], r["last_reply"]),
                                 (state, attempts, utc_stamp(next_at), last_reply))
                self.assertGreater(next_at, now + 1800)
        self.assertEqual(doc["messages"][1]["sender"], ALICE)

    def test_queue_show_holds_the_facts_of_the_text(self):
        qid = self.send_deferred(["bob@b.test", "x@c.test"], 'quote " and \\ backslash')
        doc = self.json_of("queue", "show", qid)
        text = self.cli_ok("queue", "show", qid)
        self.assertEqual(set(doc), {"queue_id", "sender", "received_at", "size", "recipients",
                                    "client", "events", "headers"})
        self.assertEqual(doc["queue_id"], qid)
        self.assertIn(f"queue id: {qid}\n", text)
        self.assertIn(f"from: <{doc['sender']}>\n", text)
        self.assertIn(f"arrival: {doc['received_at']}\n", text)
        self.assertIn(f"size: {doc['size']}\n", text)
        self.assertIn(f"client: {doc['client']}\n", text)
        self.assertEqual([r["address"] for r in doc["recipients"]], ["bob@b.test", "x@c.test"])
        events = self.a.events(qid)
        self.assertEqual([(e["kind"], e["recipient"], e["detail"]) for e in doc["events"]],
                         [(k, r, d or "") for k, r, d in events])
        for e in doc["events"]:
            rcpt = f"<{e['recipient']}>" if e["recipient"] else "-"
            self.assertIn(f"    {e['at']}  {e['kind']}  {rcpt}  {e['detail']}\n", text)
        self.assertIn('Subject: quote " and \\ backslash', doc["headers"])
        self.assertTrue(doc["headers"].endswith("\r\n\r\n"), "the header section as stored, CRLF")
        self.assertIn(doc["headers"].replace("\r\n", "\n"), text)  # text mode reads CRLF as \n

    def test_queue_show_unknown_id(self):
        r = self.a.cli("queue", "show", "NOSUCHID0000", "--json")
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertIn("NOSUCHID0000", r.stderr)

    def test_user_list(self):
        for user in ("zed@a.test", "amy@a.test"):
            self.a.add_user(user)
        doc = self.json_of("user", "list")
        self.assertEqual(doc, {"users": self.cli_ok("user", "list").splitlines()})
        self.assertEqual(doc["users"], sorted([ALICE, "zed@a.test", "amy@a.test"]))

    def test_summary_counts_match_the_queue(self):
        self.send_deferred(["bob@b.test"], "b1")
        self.send_deferred(["bob@b.test", "carol@b.test", "x@c.test"], "b2 c1")
        self.send_deferred(["y@C.test"], "c2")
        pending = self.a.pending_count()
        self.assertEqual(pending, 5)
        doc = self.json_of("queue", "summary")
        self.assertEqual(doc["buckets"], BUCKETS)
        self.assertEqual(doc["total"], {"recipients": 5, "counts": [5] + [0] * 9})
        self.assertEqual(doc["domains"], [
            {"domain": "b.test", "recipients": 3, "counts": [3] + [0] * 9},
            {"domain": "c.test", "recipients": 2, "counts": [2] + [0] * 9}])
        rows = parse_summary(self.cli_ok("queue", "summary"))
        self.assertEqual(rows, {"TOTAL": [5, 5] + [0] * 9, "b.test": [3, 3] + [0] * 9,
                                "c.test": [2, 2] + [0] * 9})
        self.assertEqual(list(rows), ["TOTAL", "b.test", "c.test"], "most recipients first")


if __name__ == "__main__":
    unittest.main()
