#!/usr/bin/env python3
"""Helpers for bench/compare_big.sh (standard library only): a process's memory, what a
missived database holds, and the summary of `compare.sh big` and `compare.sh recipients`.
Runs are recorded with compare_helper.py record (server CPU, other%, missive-bench's report).

    big_helper.py memory PID                   # "VmRSS VmHWM" in KiB
    big_helper.py record RESULTS.jsonl key=value ... [KEY@=FILE.json ...]
                                               # compare_helper.py record, plus whole JSON
                                               # documents (KEY@=FILE: FILE's JSON under KEY)
    big_helper.py database FILE                # JSON: live bytes, file sizes, rows, per table
    big_helper.py maildrop-rows FILE           # messages in all maildrops (read-only)
    big_helper.py pop3-clear PORT PASSWORD USER...  # empties these maildrops over POP3
    big_helper.py summarize big|recipients RESULTS.jsonl
"""
import json
import os
import poplib
import sqlite3
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_helper  # noqa: E402

MIB = 1024 * 1024


def memory(pid):
    """VmRSS and VmHWM (the peak resident set since the process started) in KiB."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return f"{values['VmRSS']} {values['VmHWM']}"


def database(path):
    """What a missived SQLite database holds, read through a read-only connection (the relay
    keeps running): pages in use (file pages minus the free list; the WAL's pages are read
    through), the files' sizes, message bodies and maildrop rows, and bytes per table and index."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        messages, bodies, body_bytes = db.execute(
            "SELECT count(*), count(*) FILTER (WHERE length(body) > 0), "
            "coalesce(sum(length(body)), 0) FROM message").fetchone()
        recipients, in_maildrops = db.execute(
            "SELECT count(*), count(mailbox_user_id) FROM recipient").fetchone()
        tables = {}
        try:  # SQLITE_ENABLE_DBSTAT_VTAB (Debian's library has it)
            for name, size in db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
                tables[name] = size
        except sqlite3.Error:
            pass
    finally:
        db.close()

    def size(p):
        try:
            return os.path.getsize(p)
        except OSError:
            return 0

    return json.dumps({"live_bytes": (pages - free) * page_size, "file_bytes": size(path),
                       "wal_bytes": size(path + "-wal"), "messages": messages,
                       "bodies": bodies, "body_bytes": body_bytes, "recipients": recipients,
                       "maildrop_rows": in_maildrops, "tables": tables})


def record(path, args):
    """compare_helper.py's record of one run, with JSON documents added (KEY@=FILE)."""
    documents = {}
    plain = []
    for arg in args:
        key, _, value = arg.partition("=")
        if key.endswith("@"):
            try:
                with open(value) as f:
                    documents[key[:-1]] = json.load(f)
            except (OSError, ValueError):
                documents[key[:-1]] = None
        else:
            plain.append(arg)
    with tempfile.TemporaryDirectory() as scratch:
        one = os.path.join(scratch, "run.jsonl")
        compare_helper.record(one, plain)
        with open(one) as f:
            entry = json.loads(f.readline())
    entry.update(documents)
    with open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")


def maildrop_rows(path):
    """How many messages the maildrops hold: a local delivery is its recipient's row naming
    the user (schema 004)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute("SELECT count(mailbox_user_id) FROM recipient").fetchone()[0]
    finally:
        db.close()


def pop3_clear(port, password, users):
    """Deletes every message of each user's maildrop (one POP3 session each)."""
    for user in users:
        box = poplib.POP3("127.0.0.1", int(port), timeout=120)
        try:
            box.user(user)
            box.pass_(password)
            for n in range(1, box.stat()[0] + 1):
                box.dele(n)
            box.quit()
        finally:
            box.close()


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def show(value, spec="{:.0f}"):
    return "-" if value is None else spec.format(value)


def spread(values, spec="{:.0f}"):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"[{spec.format(min(values))}-{spec.format(max(values))}]"


def mb_per_s(run):
    """10^6 octets of message content accepted a second (first connect to last 250)."""
    bench = run.get("bench") or {}
    wall = bench.get("wall_s") or 0
    return run["accepted"] * run["size"] / wall / 1e6 if wall > 0 and run["accepted"] else 0.0


def completed_per_s(run):
    """Messages a second from the first connect until the target had delivered them all:
    Postfix delivers after its 250, missived before."""
    bench = run.get("bench") or {}
    wall = (bench.get("wall_s") or 0) + (run.get("drain_s") or 0)
    return run["accepted"] / wall if wall > 0 and run["accepted"] else 0.0


def cpu_ms(run):
    return 1000 * run["server_cpu_s"] / run["accepted"] if run.get("accepted") else None


def latency(run, key):
    return ((run.get("bench") or {}).get("latency_ms") or {}).get(key)


def ratios(runs, target, against, metric):
    """Per-round ratios of `metric` (target / against) in the rounds that measured both."""
    by_round = {}
    for r in runs:
        by_round.setdefault(r["round"], {})[r["target"]] = metric(r)
    out = []
    for values in by_round.values():
        if values.get(target) and values.get(against):
            out.append(values[target] / values[against])
    return out


def summarize(scenario, path):
    every = [json.loads(line) for line in open(path) if line.strip()]
    runs = [r for r in every if r["round"] >= 1]  # round 0 is the warm-up
    if not runs:
        print("no runs recorded")
        return 1
    first = runs[0]
    rounds = max(r["round"] for r in runs)
    targets = [t for t in ("missived", "missived@baseline", "postfix", "smtp-sink")
               if any(r["target"] == t for r in runs)]
    big = scenario == "big"
    if big:
        print(f"== compare.sh big: {rounds} round(s), {first['messages']} messages of "
              f"{first['size']} octets per run, {first['sessions']} sessions, a new connection "
              f"per message; medians over rounds [slowest-fastest]")
        print("   MB/s: 10^6 octets of message accepted a second (first connect to last 250); "
              "RSS+: missived's peak RSS (VmHWM, a fresh process each run) minus its RSS "
              "before the run, MiB")
    else:
        print(f"== compare.sh recipients: {rounds} round(s), {first['messages']} messages of "
              f"{first['size']} octets to {first['recipients']} local recipients each per run, "
              f"{first['sessions']} sessions, a new connection per message; medians over rounds "
              f"[slowest-fastest]")
        print("   msg/s: messages accepted a second (first connect to last 250); done/s: "
              "messages a second until every copy was in its mailbox (load + drain)")
    print("   lat: MAIL -> 250 after DATA, ms; drain: last 250 -> everything delivered, s; "
          "CPU: server (missived; Postfix master + all its daemons) ms a message; other%: the "
          "machine's CPU used by neither server nor generator (other people's work)")
    print()
    if big:
        header = (f"{'target':<19}{'MB/s':>7} {'[min-max]':<12}{'msg/s':>7}{'lat p50':>9}"
                  f"{'p99':>8}{'drain s':>8}{'CPU':>7}{'gen CPU':>8}{'other%':>7}{'RSS+':>6}"
                  f"{'max':>6}{'err':>5}")
    else:
        header = (f"{'target':<19}{'msg/s':>7} {'[min-max]':<12}{'done/s':>7}{'lat p50':>9}"
                  f"{'p99':>8}{'drain s':>8}{'CPU':>7}{'gen CPU':>8}{'other%':>7}{'err':>5}")
    print(header)
    for t in targets:
        sel = [r for r in runs if r["target"] == t]
        errors = sum(int(r.get("errors", 0)) for r in sel)
        gen = med([1000 * r["gen_cpu_s"] / r["accepted"] if r.get("accepted") else None for r in sel])
        common = (f"{show(med([latency(r, 'p50') for r in sel]), '{:.1f}'):>9}"
                  f"{show(med([latency(r, 'p99') for r in sel]), '{:.1f}'):>8}"
                  f"{show(med([r.get('drain_s') for r in sel]), '{:.2f}'):>8}"
                  f"{show(med([cpu_ms(r) for r in sel]), '{:.2f}'):>7}"
                  f"{show(gen, '{:.2f}'):>8}"
                  f"{show(med([r.get('other_pct') for r in sel]), '{:.0f}'):>7}")
        if big:
            rates = [mb_per_s(r) for r in sel]
            growth = [(r["hwm_kib"] - r["rss_before_kib"]) / 1024 for r in sel if "hwm_kib" in r]
            print(f"{t:<19}{show(med(rates)):>7} {spread(rates):<12}"
                  f"{show(med([r.get('rate') for r in sel])):>7}{common}"
                  f"{show(med(growth)):>6}{show(max(growth) if growth else None):>6}{errors:>5}")
        else:
            rates = [r.get("rate") for r in sel]
            print(f"{t:<19}{show(med(rates)):>7} {spread(rates):<12}"
                  f"{show(med([completed_per_s(r) for r in sel])):>7}{common}{errors:>5}")
    print()
    metric = mb_per_s if big else (lambda r: r.get("rate"))
    name = "MB/s" if big else "msg/s"
    pairs = [("missived", "smtp-sink"), ("missived", "postfix"), ("missived", "missived@baseline")]
    results = {}
    for a, b in pairs:
        if a in targets and b in targets:
            per_round = ratios(runs, a, b, metric)
            if not per_round:
                continue
            results[(a, b)] = med(per_round)
            print(f"{a} / {b} ({name}): {med(per_round):.2f} x (per round "
                  f"{min(per_round):.2f}-{max(per_round):.2f}, {len(per_round)} rounds)")
    if not big and "missived" in targets and "postfix" in targets:
        per_round = ratios(runs, "missived", "postfix", completed_per_s)
        if per_round:
            print(f"missived / postfix (done/s, until delivered): {med(per_round):.2f} x (per round "
                  f"{min(per_round):.2f}-{max(per_round):.2f})")
    print()
    failed = [r for r in runs if int(r.get("errors", 0)) > 0 or r.get("status", "ok") != "ok"]
    if big:
        ratio = results.get(("missived", "smtp-sink"))
        if ratio is not None:
            print(f"issue 20 target 3, MB/s >= 0.5 x smtp-sink's: {ratio:.2f} x: "
                  f"{'PASS' if ratio >= 0.5 else 'FAIL'}")
        sessions, size = first["sessions"], first["size"]
        bound = 2 * size * sessions / MIB
        for t in ("missived", "missived@baseline"):
            growth = [(r["hwm_kib"] - r["rss_before_kib"]) / 1024 for r in runs
                      if r["target"] == t and "hwm_kib" in r]
            if growth:
                print(f"issue 20 target 3, {t} peak RSS growth <= 2 x {size / MIB:.0f} MiB x "
                      f"{sessions} sessions = {bound:.0f} MiB: highest of {len(growth)} runs "
                      f"{max(growth):.1f} MiB ({max(growth) / (size * sessions / MIB):.2f} x one "
                      f"message per session): {'PASS' if max(growth) <= bound else 'FAIL'}")
    else:
        for t in ("missived", "missived@baseline"):
            sel = [r for r in runs if r["target"] == t and r.get("db_after")]
            if not sel:
                continue
            last = sel[-1]
            per_message = med([(r["db_after"]["live_bytes"] - r["db_before"]["live_bytes"]) / r["accepted"]
                               for r in sel if r.get("accepted")])
            copies = first["recipients"] * first["size"]
            after, before = last["db_after"], last["db_before"]
            bodies = after["bodies"] - before["bodies"]
            body_bytes = after["body_bytes"] - before["body_bytes"]
            rows = after["maildrop_rows"] - before["maildrop_rows"]
            print(f"{t}: database after its last run: {after['file_bytes'] / MIB:.1f} MiB file + "
                  f"{after['wal_bytes'] / MIB:.1f} MiB WAL, {after['live_bytes'] / MIB:.1f} MiB in use; "
                  f"that run added {bodies} message bodies ({body_bytes} octets, "
                  f"{body_bytes / max(bodies, 1):.0f} a message) and {rows} maildrop rows "
                  f"for {last['accepted']} messages")
            print(f"  stored a message (pages in use after - before, median over runs): "
                  f"{show(per_message)} octets, against {first['recipients']} x {first['size']} = "
                  f"{copies} for a copy per recipient ({show(per_message / copies if per_message else None, '{:.2f}')} x)")
            tables = after.get("tables") or {}
            if tables:
                top = sorted(tables.items(), key=lambda kv: -kv[1])[:6]
                print("  largest tables and indexes: " +
                      ", ".join(f"{n} {v / MIB:.1f} MiB" for n, v in top))
            once = bodies == last["accepted"] and body_bytes < 2 * first["size"] * max(bodies, 1)
            print(f"issue 20 target 4, {t}: the body stored once per message: "
                  f"{'PASS' if once else 'FAIL'}")
    if failed:
        print()
        print("runs with errors:")
        for r in failed:
            print(f"  round {r['round']} {r['target']}: {r.get('status')} {r.get('detail', '')}")
    return 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    command, args = argv[1], argv[2:]
    if command == "memory":
        print(memory(args[0]))
    elif command == "maildrop-rows":
        print(maildrop_rows(args[0]))
    elif command == "pop3-clear":
        pop3_clear(args[0], args[1], args[2:])
    elif command == "record":
        record(args[0], args[1:])
    elif command == "database":
        print(database(args[0]))
    elif command == "summarize":
        return summarize(args[0], args[1])
    else:
        print(__doc__, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
