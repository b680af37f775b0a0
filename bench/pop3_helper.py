#!/usr/bin/env python3
"""Helpers for `bench/compare.sh pop3` (bench/compare_pop3.sh; standard library only).

    pop3_helper.py free-port                      # a free TCP port on 127.0.0.1, for Dovecot
    pop3_helper.py count PORT USER PASSWORD       # messages in a POP3 maildrop (STAT)
    pop3_helper.py maildir PORT USER PASSWORD DIR # every message of a POP3 maildrop, as
                                                  # files of a Maildir's new/ (see below)
    pop3_helper.py record RESULTS.jsonl key=value ... bench=RUN.json
    pop3_helper.py summarize RESULTS.jsonl        # medians, ratios, the issue 20 goals

The Maildir files are what missived serves on RETR, octet for octet (its Return-Path,
Delivered-To and Received fields included), stored as Dovecot's own delivery (dovecot-lda)
stores a message: LF line ends, and the file name carrying the size on disk (S=) and the
size with CRLF line ends (W=), so that Dovecot answers STAT and LIST without reading them.
"""
import json
import os
import poplib
import socket
import statistics
import sys
import time

# missive-bench's lines are 78 octets; a Received field may be longer than poplib's default.
poplib._MAXLINE = 1 << 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def login(port, user, password):
    box = poplib.POP3("127.0.0.1", int(port), timeout=120)
    box.user(user)
    box.pass_(password)
    return box


def count(port, user, password):
    box = login(port, user, password)
    try:
        n = box.stat()[0]
        box.quit()
    finally:
        box.close()
    return n


def maildir(port, user, password, directory):
    """Writes every message of the maildrop into DIRECTORY/new (created with cur/, tmp/)."""
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(directory, sub), exist_ok=True)
    box = login(port, user, password)
    written = 0
    try:
        n = box.stat()[0]
        stamp = int(time.time())
        for i in range(1, n + 1):
            _, lines, _ = box.retr(i)  # dot-unstuffed, without line ends
            on_disk = b"".join(line + b"\n" for line in lines)
            virtual = len(on_disk) + len(lines)  # each LF becomes CRLF on the wire
            name = f"{stamp}.M{i}P{os.getpid()}.bench,S={len(on_disk)},W={virtual}"
            with open(os.path.join(directory, "tmp", name), "wb") as f:
                f.write(on_disk)
            os.rename(os.path.join(directory, "tmp", name), os.path.join(directory, "new", name))
            written += 1
        box.quit()
    finally:
        box.close()
    return written


def number(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def record(path, args):
    """Appends one run: key=value pairs, and the client's JSON report under "bench"."""
    entry = {}
    for arg in args:
        key, _, value = arg.partition("=")
        if key == "bench":
            try:
                with open(value) as f:
                    entry["bench"] = json.loads(f.read())
            except (OSError, ValueError) as e:
                entry["bench"] = {"clean": False, "error": f"no report: {e}"}
        else:
            entry[key] = number(value)
    with open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def show(value, spec="{:.0f}"):
    return "-" if value is None else spec.format(value)


def cpu_ms_per_message(run):
    """The server's CPU (missived; Dovecot's master with all its processes) per message."""
    try:
        before = [float(v) for v in run["before"].split(",")]
        after = [float(v) for v in run["after"].split(",")]
    except (KeyError, ValueError):
        return None
    n = run["bench"].get("stat_messages") or 0
    return (after[0] - before[0]) * 1000 / n if n else None


def other_share(run):
    """Share of the machine's CPU used by neither the server nor the client in the run."""
    try:
        before = [float(v) for v in run["before"].split(",")]
        after = [float(v) for v in run["after"].split(",")]
    except (KeyError, ValueError):
        return None
    total = after[2] - before[2]
    if total <= 0:
        return None
    other = (after[1] - before[1]) - (after[0] - before[0]) - run["bench"].get("client_cpu_s", 0)
    return max(0.0, 100 * other / total)


def summarize(path):
    runs = []
    with open(path) as f:
        for line in f:
            runs.append(json.loads(line))
    measured = [r for r in runs if r.get("round", 0) > 0]
    failed = [r for r in runs if not r["bench"].get("clean")]
    targets = []
    for r in runs:
        if r["target"] not in targets:
            targets.append(r["target"])
    boxes = []
    for r in runs:
        if r["box"] not in boxes:
            boxes.append(r["box"])
    rounds = sorted({r["round"] for r in measured})

    def pick(box, mode, target):
        return [r for r in measured if r["box"] == box and r["mode"] == mode and r["target"] == target
                and r["bench"].get("clean")]

    def per_round(box, mode, a, b, key):
        ratios = []
        for n in rounds:
            x = [r["bench"][key] for r in pick(box, mode, a) if r["round"] == n]
            y = [r["bench"][key] for r in pick(box, mode, b) if r["round"] == n]
            if x and y and y[0]:
                ratios.append(x[0] / y[0])
        return ratios

    out = []
    out.append(f"== POP3: missived vs Dovecot, {len(rounds)} round(s); medians over rounds "
               "(targets alternating, the order swapped every round)")
    out.append("   msg/s, MB/s: RETR of every message, one command at a time (first RETR sent to the "
               "last message's end; MB = 10^6 octets)")
    out.append("   login->UIDL: USER sent to the end of the UIDL listing (USER, PASS, STAT, UIDL), ms")
    out.append("   DELE s: DELE of every message; QUIT ms: QUIT sent to +OK (the UPDATE state)")
    out.append("   srv CPU: ms per message, the server (missived; Dovecot master and all its "
               "processes); cli CPU: the client; other%: the machine's CPU used by neither")
    for box in boxes:
        sample = next((r for r in runs if r["box"] == box), None)
        size = ""
        if sample and sample["bench"].get("stat_messages"):
            b = sample["bench"]
            size = f": {b['stat_messages']} messages, {b['stat_octets'] / b['stat_messages']:.0f} octets each on average"
        out.append("")
        out.append(f"-- {box}{size}")
        out.append(f"{'target':<20} {'msg/s [min-max]':<22} {'MB/s':>8} {'login->UIDL':>12} "
                   f"{'DELE s':>8} {'QUIT ms':>9} {'srv CPU':>8} {'cli CPU':>8} {'other%':>7}")
        for t in targets:
            rs = pick(box, "retrieve", t)
            ds = pick(box, "delete", t)
            if not rs and not ds:
                continue
            rates = [r["bench"]["msgs_per_s"] for r in rs]
            span = f"[{min(rates):.0f}-{max(rates):.0f}]" if rates else ""
            cli = med([r["bench"]["client_cpu_s"] * 1000 / max(1, r["bench"]["stat_messages"]) for r in rs])
            out.append(
                f"{t:<20} {show(med(rates)) + ' ' + span:<22} "
                f"{show(med([r['bench']['mb_per_s'] for r in rs]), '{:.1f}'):>8} "
                f"{show(med([r['bench']['login_to_uidl_ms'] for r in rs]), '{:.2f}'):>12} "
                f"{show(med([r['bench']['dele_s'] for r in ds]), '{:.3f}'):>8} "
                f"{show(med([r['bench']['quit_ms'] for r in ds]), '{:.1f}'):>9} "
                f"{show(med([cpu_ms_per_message(r) for r in rs]), '{:.3f}'):>8} "
                f"{show(cli, '{:.3f}'):>8} "
                f"{show(med([other_share(r) for r in rs])):>7}")

    out.append("")
    out.append("-- ratios missived / dovecot of the medians (in brackets: per round)")
    goals = []
    for box in boxes:
        for t in targets:
            if t == "dovecot" or not pick(box, "retrieve", t):
                continue
            parts = []
            for key, label in (("msgs_per_s", "msg/s"), ("mb_per_s", "MB/s"),
                               ("login_to_uidl_ms", "login->UIDL")):
                a = med([r["bench"][key] for r in pick(box, "retrieve", t)])
                b = med([r["bench"][key] for r in pick(box, "retrieve", "dovecot")])
                if a is None or not b:
                    continue
                pr = per_round(box, "retrieve", t, "dovecot", key)
                span = f" [{min(pr):.2f}-{max(pr):.2f}]" if pr else ""
                parts.append(f"{label} {a / b:.2f}x{span}")
                if t == "missived" and key in ("msgs_per_s", "mb_per_s"):
                    goals.append((a / b >= 1.5, f"{box}: retrieval {label} >= 1.5x Dovecot's: {a / b:.2f}x"))
                if t == "missived" and key == "login_to_uidl_ms":
                    goals.append((a <= b, f"{box}: login->UIDL <= Dovecot's: {a:.2f} vs {b:.2f} ms"))
            for key, label in (("quit_ms", "QUIT"), ("dele_s", "DELE")):
                a = med([r["bench"][key] for r in pick(box, "delete", t)])
                b = med([r["bench"][key] for r in pick(box, "delete", "dovecot")])
                if a is None or not b:
                    continue
                pr = per_round(box, "delete", t, "dovecot", key)
                span = f" [{min(pr):.2f}-{max(pr):.2f}]" if pr else ""
                parts.append(f"{label} time {a / b:.2f}x{span}")
            out.append(f"{box:<8} {t:<20} " + ";  ".join(parts))
    out.append("")
    out.append("-- issue 20 target 5 (medians)")
    for passed, text in goals:
        out.append(f"  {'PASS' if passed else 'FAIL'}  {text}")
    # Only missived and Dovecot hold the same messages: a baseline relay is filled on its own
    # (other queue ids and dates in its Received fields).
    digests = {}
    for r in runs:
        d = r["bench"].get("digest")
        if d and r["target"] in ("missived", "dovecot"):
            digests.setdefault(r["box"], {}).setdefault(d, set()).add(r["target"])
    for box, seen in digests.items():
        if len(seen) == 1:
            out.append(f"  same octets served by {', '.join(sorted(next(iter(seen.values()))))} "
                       f"for {box} (digest {next(iter(seen))})")
        else:
            out.append(f"  DIFFERENT octets served for {box}: {seen}")
    if failed:
        out.append("")
        out.append(f"-- {len(failed)} run(s) with an error")
        for r in failed:
            out.append(f"  round {r['round']} {r['target']} {r['box']} {r['mode']}: {r['bench'].get('error')}")
    print("\n".join(out))


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    command, args = argv[1], argv[2:]
    if command == "free-port":
        print(free_port())
    elif command == "count":
        print(count(*args[:3]))
    elif command == "maildir":
        print(maildir(*args[:4]))
    elif command == "record":
        record(args[0], args[1:])
    elif command == "summarize":
        summarize(args[0])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
