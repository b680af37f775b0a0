#!/usr/bin/env python3
"""Scale checks for missived (issue 7), each on a fresh private relay on 127.0.0.1:

  mailbox   a POP3 maildrop of N messages (default 100,000): time of PASS, STAT and UIDL
  restart   N queued messages (default 100,000): time from spawn to the listening line and
            to the first 250 for a new message
  big       one message of S MiB (default 25): growth of the relay's peak RSS (VmHWM)
  idle      N idle SMTP connections (default 10,000), each greeted: the relay's RSS

    python3 bench/scale_checks.py [--missived build/server/missived] [mailbox restart big idle]

Medians over --rounds where a figure is timed. The databases for `mailbox` and `restart`
are filled with SQL directly (the schema is the relay's own, created by `missived user
add`), because sending 100,000 messages first would measure something else.
"""
import argparse
import os
import re
import resource
import shutil
import smtplib
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

DOMAIN = "bench.test"
USER = f"big@{DOMAIN}"
PASSWORD = "bench-password"
LISTEN_RE = re.compile(r"^missived: (\w+) listening on 127\.0\.0\.1:(\d+)$")


class Relay:
    """A private missived with its own data directory."""

    def __init__(self, missived, config=""):
        self.missived = missived
        self.dir = tempfile.mkdtemp(prefix="missive-scale-")
        self.data = os.path.join(self.dir, "data")
        self.config = os.path.join(self.dir, "missived.toml")
        with open(self.config, "w") as f:
            f.write(config)
        self.proc = None
        self.ports = {}

    def cli(self, *args, stdin=None):
        subprocess.run([self.missived, *args, "--config", self.config, "--data-dir", self.data],
                       input=stdin, text=True, check=True, capture_output=True, timeout=60)

    def start(self):
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [self.missived, "serve", "--config", self.config, "--data-dir", self.data,
             "--smtp", "127.0.0.1:0", "--pop3", "127.0.0.1:0", "--domain", DOMAIN],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        while len(self.ports) < 2:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("missived exited before listening")
            m = LISTEN_RE.match(line.strip())
            if m:
                self.ports[m.group(1)] = int(m.group(2))
            if time.monotonic() - started > 60:
                raise RuntimeError("missived did not listen within 60 s")
        return time.monotonic() - started

    def status(self, field):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise KeyError(field)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.ports = {}

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def fill_mailbox(db_path, count, queued):
    """`count` small messages for USER: in the maildrop, or (queued) waiting for delivery."""
    now = int(time.time())
    db = sqlite3.connect(db_path)
    user_id = db.execute("SELECT id FROM user WHERE address = ?", (USER,)).fetchone()[0]
    with db:
        for i in range(count):
            qid = f"SCALE{i:08d}"
            body = (f"From: <sender@{DOMAIN}>\r\nTo: <{USER}>\r\nSubject: scale {i}\r\n\r\n"
                    f"message {i}\r\n").encode()
            cur = db.execute("INSERT INTO message(queue_id, sender, size, received_at, client, body)"
                             " VALUES (?, ?, ?, ?, 'scale [127.0.0.1]', ?)",
                             (qid, f"sender@{DOMAIN}", len(body), now, body))
            message_id = cur.lastrowid
            # A delivered recipient naming the user is the maildrop entry (schema 4).
            db.execute("INSERT INTO recipient(message_id, address, is_local, state, "
                       "next_attempt_at, last_attempt_at, mailbox_user_id) "
                       "VALUES (?, ?, 1, ?, ?, ?, ?)",
                       (message_id, USER, "queued" if queued else "delivered", now, now,
                        None if queued else user_id))
    db.close()


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


class RawPop3:
    """Times a command from its send to the last octet of the answer, with no per-line
    parsing on the client side (poplib's line-by-line reading would be most of the time)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buffer = b""
        self.read_until(b"\r\n")

    def read_until(self, end):
        while not self.buffer.endswith(end):
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buffer += chunk
        answer, self.buffer = self.buffer, b""
        return answer

    def command(self, line, multiline=False):
        self.sock.sendall(line.encode() + b"\r\n")
        answer = self.read_until(b"\r\n.\r\n" if multiline else b"\r\n")
        if not answer.startswith(b"+OK"):
            raise RuntimeError(f"{line.split()[0]}: {answer[:80]!r}")
        return answer


def check_mailbox(missived, count, rounds):
    relay = Relay(missived)
    try:
        relay.cli("user", "add", USER, "--password-stdin", stdin=PASSWORD + "\n")
        fill_mailbox(os.path.join(relay.data, "missive.db"), count, queued=False)
        relay.start()
        logins, stats, uidls = [], [], []
        for _ in range(rounds):
            pop = RawPop3(relay.ports["pop3"])
            pop.command(f"USER {USER}")
            ms, _ = timed(lambda: pop.command(f"PASS {PASSWORD}"))
            logins.append(ms)
            ms, answer = timed(lambda: pop.command("STAT"))
            assert answer.split()[1] == str(count).encode(), f"STAT says {answer!r}"
            stats.append(ms)
            ms, answer = timed(lambda: pop.command("UIDL", multiline=True))
            assert answer.count(b"\r\n") == count + 2, "UIDL did not list every message"
            uidls.append(ms)
            pop.command("QUIT")
            pop.sock.close()
        print(f"mailbox of {count} messages (median of {rounds} logins): "
              f"PASS {statistics.median(logins):.1f} ms (password hash and maildrop load), "
              f"STAT {statistics.median(stats):.2f} ms, UIDL {statistics.median(uidls):.1f} ms")
    finally:
        relay.cleanup()


def send_one(port, subject="after restart"):
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=60)
    try:
        smtp.sendmail(f"sender@{DOMAIN}", [USER], f"Subject: {subject}\r\n\r\nhello\r\n")
    finally:
        smtp.quit()


def check_restart(missived, count, rounds):
    # Deliveries would drain the queue between rounds: route nothing local, so each
    # queued message is for a domain whose next hop is down and stays queued.
    relay = Relay(missived, config='[[route]]\ndomain = "down.test"\nhost = "127.0.0.1:9"\n'
                                   '[queue]\nretry_initial = "1h"\n')
    try:
        relay.cli("user", "add", USER, "--password-stdin", stdin=PASSWORD + "\n")
        db_path = os.path.join(relay.data, "missive.db")
        fill_mailbox(db_path, count, queued=True)
        db = sqlite3.connect(db_path)
        with db:
            db.execute("UPDATE recipient SET address = 'x@down.test', is_local = 0")
        db.close()
        listening, serving = [], []
        for _ in range(rounds):
            started = time.monotonic()
            relay.start()
            listening.append((time.monotonic() - started) * 1000)
            send_one(relay.ports["smtp"])
            serving.append((time.monotonic() - started) * 1000)
            queued = sqlite3.connect(db_path).execute(
                "SELECT count(*) FROM recipient WHERE state IN ('queued','deferred')").fetchone()[0]
            relay.stop()
        print(f"restart with {queued - 1} queued messages (median of {rounds}): listening after "
              f"{statistics.median(listening):.0f} ms, first 250 after {statistics.median(serving):.0f} ms")
    finally:
        relay.cleanup()


def check_big(missived, mib):
    relay = Relay(missived, config=f"[smtp]\nmax_message_size = {64 * 1024 * 1024}\n")
    try:
        relay.cli("user", "add", USER, "--password-stdin", stdin=PASSWORD + "\n")
        relay.start()
        send_one(relay.ports["smtp"], "warm-up")
        before_hwm, before_rss = relay.status("VmHWM"), relay.status("VmRSS")
        line = b"x" * 998 + b"\r\n"
        body = b"Subject: big\r\n\r\n" + line * (mib * 1024 * 1024 // len(line))
        smtp = smtplib.SMTP("127.0.0.1", relay.ports["smtp"], timeout=120)
        smtp.sendmail(f"sender@{DOMAIN}", [USER], body)
        smtp.quit()
        after_hwm = relay.status("VmHWM")
        growth = after_hwm - before_rss
        print(f"one {len(body) / 2**20:.1f} MiB message: RSS {before_rss / 2**20:.1f} MiB before, "
              f"peak {after_hwm / 2**20:.1f} MiB (peak before {before_hwm / 2**20:.1f}); growth "
              f"{growth / 2**20:.1f} MiB = {growth / len(body):.2f}x the message")
    finally:
        relay.cleanup()


def check_idle(missived, count):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = count + 200
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(need, soft), max(need, hard)))
    relay = Relay(missived, config=f"[smtp]\nmax_connections = {count + 100}\n"
                                   f"max_connections_per_address = {count + 100}\n")
    socks = []
    try:
        relay.start()
        baseline = relay.status("VmRSS")
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", relay.ports["smtp"]), timeout=30)
            socks.append(s)
        greeted = 0
        for s in socks:
            if s.recv(512).startswith(b"220"):
                greeted += 1
        time.sleep(0.5)
        rss = relay.status("VmRSS")
        print(f"{count} idle SMTP sessions ({greeted} greeted): RSS {rss / 2**20:.1f} MiB "
              f"(at start {baseline / 2**20:.1f} MiB; {(rss - baseline) / count / 1024:.1f} KiB a session)")
    finally:
        for s in socks:
            s.close()
        relay.cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--missived", default=os.path.join(here, "..", "build", "server", "missived"))
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--size-mib", type=int, default=25)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("checks", nargs="*", default=["mailbox", "restart", "big", "idle"])
    args = parser.parse_args()
    for check in args.checks:
        if check == "mailbox":
            check_mailbox(args.missived, args.messages, args.rounds)
        elif check == "restart":
            check_restart(args.missived, args.messages, args.rounds)
        elif check == "big":
            check_big(args.missived, args.size_mib)
        elif check == "idle":
            check_idle(args.missived, args.connections)
        else:
            sys.exit(f"unknown check {check!r}")


if __name__ == "__main__":
    main()
