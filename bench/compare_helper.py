#!/usr/bin/env python3
"""Helpers for bench/compare.sh (standard library only): the port a server bound, CPU
accounting from /proc, clearing a POP3 mailbox, merging two missive-bench reports, recording
each run, scraping a relay's /metrics, and the final table with medians and ratios.

    compare_helper.py listen-port PID [SECONDS]  # the port PID listens on (127.0.0.1)
    compare_helper.py snapshot SPEC...          # "server-cpu,busy,total[,db-cpu]" (seconds);
                                                # SPEC: PID, tree:PID (with its children),
                                                # db:PID (a tree, also counted apart as db-cpu)
    compare_helper.py pop3-count PORT USER PASSWORD
    compare_helper.py pop3-clear PORT USER PASSWORD
    compare_helper.py merge-bench OUT.json A.json B.json A.latencies B.latencies
    compare_helper.py record RESULTS.jsonl key=value ... [bench=FILE.json]
    compare_helper.py scrape PORT INTERVAL TALLY  # GET /metrics every INTERVAL s until killed;
                                                # TALLY holds "answered failed"
    compare_helper.py summarize RESULTS.jsonl [TARGET=WRITE_BATCHES ...]
                                                [scrapes:TARGET="ANSWERED FAILED" ...]
"""
import json
import math
import os
import poplib
import statistics
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def listening_ports(pid):
    """The ports of the TCP sockets in LISTEN state on 127.0.0.1 that PID holds open."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            address, port = fields[1].split(":")
            # 0100007F: 127.0.0.1 in the kernel's (little-endian) order; 0A: LISTEN
            if address == "0100007F" and fields[3] == "0A" and fields[9] in inodes:
                ports.add(int(port, 16))
    return sorted(ports)


def listen_port(pid, seconds=10.0):
    """The one port on 127.0.0.1 that PID listens on, waiting up to `seconds` for it. The
    servers are started on port 0 (the kernel picks a free port and the server keeps it
    bound), and this reads the port back from the server's own socket: never a port that
    was bound, closed and handed on, which another process could take in between."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            ports = listening_ports(pid)
        except FileNotFoundError:
            raise SystemExit(f"compare_helper: pid {pid} is gone") from None
        if len(ports) == 1:
            return ports[0]
        if len(ports) > 1:
            raise SystemExit(f"compare_helper: pid {pid} listens on several ports: {ports}")
        if time.monotonic() >= deadline:
            raise SystemExit(f"compare_helper: pid {pid} listens on no port of 127.0.0.1 "
                             f"after {seconds} s")
        time.sleep(0.05)


def stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (field 3 onwards)."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()


def cpu_seconds(pid, tree):
    """User + system CPU seconds of PID; with tree, plus its reaped children (cutime,
    cstime) and its live children: the whole of Postfix's master and its daemons."""
    fields = stat_fields(pid)
    # Fields 14-17 of stat(5): utime, stime, cutime, cstime (here offset by 3).
    total = int(fields[11]) + int(fields[12])
    if tree:
        total += int(fields[13]) + int(fields[14])
        for child in os.listdir("/proc"):
            if not child.isdigit():
                continue
            try:
                f = stat_fields(child)
            except OSError:
                continue
            if f[1] == str(pid):  # field 4: ppid
                total += int(f[11]) + int(f[12])
    return total / TICKS


def machine():
    """Busy and total CPU seconds of the whole machine since boot (all cores). Busy is
    user + nice + system + steal: interrupt and softirq time (much of loopback TCP) is
    charged to no process, so it is left out rather than counted as someone else's work."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + steal) / TICKS, sum(values[:8]) / TICKS


def snapshot(specs):
    """CPU seconds of the processes SPECS name (see the usage), and of the machine."""
    busy, total = machine()
    cpu = db = 0.0
    for spec in specs:
        kind, _, pid = spec.rpartition(":")
        seconds = cpu_seconds(int(pid), tree=kind in ("tree", "db"))
        cpu += seconds
        if kind == "db":
            db += seconds
    fields = [cpu, busy, total] + ([db] if any(s.startswith("db:") for s in specs) else [])
    return ",".join(f"{v:.3f}" for v in fields)


def percentile(sorted_values, p):
    """Nearest rank, as missive-bench computes it (bench_report.cpp percentile)."""
    if not sorted_values:
        return 0.0
    rank = math.ceil(p / 100.0 * len(sorted_values))
    return sorted_values[min(max(rank, 1), len(sorted_values)) - 1]


def merge_bench(out_path, report_paths, latency_paths):
    """One report for missive-bench runs made at once against the nodes of one cluster:
    counts added; msg/s is everything accepted over the time from the first connect of any
    run to the last 250 of any (their clock is CLOCK_MONOTONIC, one for the machine);
    latency percentiles over all runs' samples (--latencies files) or, if a file is
    missing, the worst of the runs' own (latency_merged false). Prints "accepted msgs_per_s"."""
    parts = [json.load(open(p)) for p in report_paths]
    samples = []
    merged_latency = True
    for path in latency_paths:
        try:
            with open(path) as f:
                samples += [float(line) for line in f if line.strip()]
        except OSError:
            merged_latency = False
    accepted = sum(p["accepted"] for p in parts)
    starts = [p.get("first_connect_monotonic_s") for p in parts]
    ends = [p.get("last_accept_monotonic_s") for p in parts]
    if None not in starts and None not in ends:
        wall = max(ends) - min(starts)
    else:  # a run that accepted nothing: the longest run's own wall time
        wall = max(p["wall_s"] for p in parts)
    if merged_latency and samples:
        samples.sort()
        latency = {"p50": percentile(samples, 50), "p99": percentile(samples, 99),
                   "p99_9": percentile(samples, 99.9), "max": samples[-1],
                   "mean": sum(samples) / len(samples)}
    else:
        keys = ("p50", "p99", "p99_9", "max", "mean")
        lat = [p.get("latency_ms") or {} for p in parts]
        latency = {k: max((d.get(k) or 0) for d in lat) for k in keys} if any(lat) else None
        merged_latency = False
    errors = {}
    for p in parts:
        for kind, count in (p.get("errors") or {}).items():
            errors[kind] = errors.get(kind, 0) + count
    report = {
        "label": " + ".join(p["label"] for p in parts),
        "host": parts[0]["host"], "ports": [p["port"] for p in parts],
        "messages": sum(p["messages"] for p in parts), "size": parts[0]["size"],
        "concurrency": sum(p["concurrency"] for p in parts),
        "per_session": parts[0]["per_session"],
        "pipelining": "/".join(sorted({p["pipelining"] for p in parts})),
        "accepted": accepted, "failed": sum(p["failed"] for p in parts),
        "sessions": sum(p["sessions"] for p in parts),
        "wall_s": round(wall, 3),
        "msgs_per_s": round(accepted / wall, 3) if wall > 0 and accepted else 0.0,
        "latency_ms": latency, "latency_merged": merged_latency, "lag": None,
        "errors": errors, "error_count": sum(p["error_count"] for p in parts),
        "missing_queue_ids": sum(p["missing_queue_ids"] for p in parts),
        "generator_cpu_s": round(sum(p["generator_cpu_s"] for p in parts), 3),
        "clean": all(p["clean"] for p in parts),
        "generators": [{"port": p["port"], "messages": p["messages"],
                        "concurrency": p["concurrency"], "ok": p["accepted"],
                        "rate": p["msgs_per_s"], "wall_s": p["wall_s"]} for p in parts],
    }
    with open(out_path, "w") as f:
        f.write(json.dumps(report) + "\n")
    print(report["accepted"], report["msgs_per_s"])


def pop3(port, user, password, clear):
    """Number of messages in the mailbox; with clear, deletes them all."""
    box = poplib.POP3("127.0.0.1", int(port), timeout=30)
    try:
        box.user(user)
        box.pass_(password)
        count = box.stat()[0]
        if clear:
            for n in range(1, count + 1):
                box.dele(n)
        box.quit()
    finally:
        box.close()
    return count


def record(path, args):
    """Appends one run: key=value pairs (numbers where they parse), plus the whole
    missive-bench JSON report under "bench" when bench=FILE is given and readable.
    before=/after= snapshots give server_cpu_s and other_pct (the machine's CPU used by
    neither the server nor the generator, in percent of all cores)."""
    entry = {}
    for arg in args:
        key, _, value = arg.partition("=")
        if key == "bench":
            try:
                with open(value) as f:
                    entry["bench"] = json.load(f)
            except (OSError, ValueError):
                entry["bench"] = None
            continue
        try:
            entry[key] = int(value)
        except ValueError:
            try:
                entry[key] = float(value)
            except ValueError:
                entry[key] = value
    before, after = entry.pop("before", None), entry.pop("after", None)
    if before and after:
        cpu0, busy0, total0, *db0 = map(float, str(before).split(","))
        cpu1, busy1, total1, *db1 = map(float, str(after).split(","))
        entry["server_cpu_s"] = round(cpu1 - cpu0, 3)
        if db0 and db1:  # of which the database's (PostgreSQL's) own
            entry["db_cpu_s"] = round(db1[0] - db0[0], 3)
        other = max(0.0, (busy1 - busy0) - (cpu1 - cpu0) - float(entry.get("gen_cpu_s", 0)))
        entry["other_pct"] = round(100 * other / max(total1 - total0, 1e-9), 1)
    bench = entry.get("bench")
    if bench:
        entry["rate"] = bench["msgs_per_s"]
        entry["gen_cpu_s"] = bench["generator_cpu_s"]
        lag = bench.get("lag") or {}
        entry["errors"] = int(entry.get("errors", 0)) + bench["error_count"] + \
            (lag.get("missing") or 0) + (1 if lag.get("fatal") else 0)
        if bench["error_count"] or lag.get("missing") or lag.get("fatal"):
            if entry.get("status", "ok") == "ok":
                entry["status"] = "errors"
    with open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")


# ---------------------------------------------------------------------------------------
# The summary

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, spec="{:.0f}", none="-"):
    return none if value is None else spec.format(value)


def rate_of(run):
    return run.get("rate") if run.get("accepted", 0) > 0 else 0.0


def summarize(path, batches):
    every_run = [json.loads(line) for line in open(path) if line.strip()]
    runs = [r for r in every_run if r["round"] >= 1]  # round 0 is the warm-up
    if not runs:
        print("no runs recorded")
        return 1
    first = runs[0]
    rounds = max(r["round"] for r in runs)
    per = first.get("per_session", 1)
    reuse = ("a new connection per message" if per == 1 else
             f"missive-bench {per} messages per connection, smtp-source one")
    print(f"== missived vs Postfix vs smtp-sink: {rounds} round(s), {first['messages']} messages "
          f"of {first['size']} octets per run, {reuse}; medians over rounds")
    print("   msg/s: accepted messages per second (missive-bench: first connect to last 250; "
          "smtp-source: its whole run)")
    print("   lat: MAIL -> 250 after DATA (missive-bench only); lag: 250 -> listed by POP3 "
          "(missived+lag only); drain: last 250 -> queue empty / all in the mailbox")
    print("   missived+lag: the same missived process as missived, while missive-bench polls POP3 "
          "every 5 ms for the lag; every other run has no poller")
    print("   lat, lag: ms; fsync: per message, in the slow-fsync runs (all processes of the target)")
    print("   CPU ms/msg: server (missived process; Postfix master + all its daemons) and "
          "generator; other%: CPU of all cores used by neither in that time (other people's work)")
    commits = {}
    for r in runs:
        if r.get("commit"):
            commits.setdefault(r["target"], r["commit"])
    if "missived@baseline" in commits:
        print(f"   missived@baseline: missived built from {commits['missived@baseline']}; "
              f"missived and the others: {commits.get('missived', '?')} (the generator is the "
              f"current missive-bench for all)")
    if any(r["target"] in ("missived+pg", "missived+pg2") for r in runs):
        print("   missived+pg: one node on PostgreSQL; missived+pg2: two nodes on one PostgreSQL "
              "database, two missive-bench at once (half the messages and sessions each); their "
              "srv CPU includes all of PostgreSQL's")
    print()
    targets = ["missived", "missived+metrics", "missived@baseline", "missived+lag", "postfix", "smtp-sink",
               "missived+pg", "missived+pg2", "missived+slowfsync", "missived@baseline+slowfsync",
               "postfix+slowfsync"]
    generators = ["missive-bench", "smtp-source"]
    concurrencies = sorted({r["concurrency"] for r in runs})
    header = (f"{'generator':<14}{'target':<20}{'msg/s':>7} {'[min-max]':<13}{'lat p50':>8}"
              f"{'p99':>8}{'p99.9':>8}{'lag p50':>8}{'p99':>8}{'drain s':>8}{'srv CPU':>8}"
              f"{'gen CPU':>8}{'other%':>7}{'fsync':>7}{'err':>5}")
    summary = {}
    for c in concurrencies:
        print(f"-- concurrency {c}")
        print(header)
        for g in generators:
            for t in targets:
                sel = [r for r in runs if r["concurrency"] == c and r["generator"] == g
                       and r["target"] == t]
                if not sel:
                    continue
                rates = [rate_of(r) for r in sel]
                summary[(c, g, t)] = sel
                lat = [r.get("bench", {}) or {} for r in sel]
                lat50 = med([(b.get("latency_ms") or {}).get("p50") for b in lat])
                lat99 = med([(b.get("latency_ms") or {}).get("p99") for b in lat])
                lat999 = med([(b.get("latency_ms") or {}).get("p99_9") for b in lat])
                lag50 = med([((b.get("lag") or {}).get("ms") or {}).get("p50") for b in lat])
                lag99 = med([((b.get("lag") or {}).get("ms") or {}).get("p99") for b in lat])
                drain = med([r.get("drain_s") for r in sel])
                n = [max(r.get("accepted", 0), 1) for r in sel]
                srv = med([r["server_cpu_s"] * 1000 / k for r, k in zip(sel, n)
                           if r.get("server_cpu_s") is not None])
                gen = med([r["gen_cpu_s"] * 1000 / k for r, k in zip(sel, n)
                           if r.get("gen_cpu_s") is not None])
                other = med([r.get("other_pct") for r in sel])
                fsync = med([r["fsyncs"] / k for r, k in zip(sel, n) if r.get("fsyncs") is not None])
                errors = sum(int(r.get("errors", 0)) for r in sel)
                span = f"[{min(rates):.0f}-{max(rates):.0f}]"
                print(f"{g:<14}{t:<20}{med(rates):>7.0f} {span:<13}{fmt(lat50, '{:.2f}'):>8}"
                      f"{fmt(lat99, '{:.2f}'):>8}{fmt(lat999, '{:.1f}'):>8}"
                      f"{fmt(lag50, '{:.1f}'):>8}{fmt(lag99, '{:.1f}'):>8}"
                      f"{fmt(drain, '{:.2f}'):>8}{fmt(srv, '{:.2f}'):>8}{fmt(gen, '{:.2f}'):>8}"
                      f"{fmt(other, '{:.0f}'):>7}{fmt(fsync, '{:.2f}'):>7}{errors:>5}")
        print()

    def ratio(c, g, a, b):
        """Ratio of median rates, and the spread of the per-round ratios."""
        ra, rb = summary.get((c, g, a)), summary.get((c, g, b))
        if not ra or not rb:
            return None, None, None
        ma, mb = med([rate_of(r) for r in ra]), med([rate_of(r) for r in rb])
        by_round_b = {r["round"]: rate_of(r) for r in rb}
        pairs = [rate_of(r) / by_round_b[r["round"]] for r in ra
                 if by_round_b.get(r["round"])]
        if not mb:
            return None, None, None
        return ma / mb, (min(pairs) if pairs else None), (max(pairs) if pairs else None)

    def latency(c, g, t, key):
        """Median over rounds of one latency percentile, and the per-round values."""
        values = [((r.get("bench") or {}).get("latency_ms") or {}).get(key)
                  for r in summary.get((c, g, t), [])]
        values = [v for v in values if v is not None]
        return med(values), values

    print("-- ratios of median msg/s (in brackets: the per-round ratios, each round's runs "
          "back to back)")
    for c in concurrencies:
        for g in generators:
            parts = []
            for a, b, name in (("missived+metrics", "missived", "missived+metrics/missived"),
                               ("missived", "postfix", "missived/postfix"),
                               ("missived", "smtp-sink", "missived/smtp-sink"),
                               ("missived+lag", "smtp-sink", "missived+lag/smtp-sink"),
                               ("postfix", "smtp-sink", "postfix/smtp-sink"),
                               ("missived+slowfsync", "missived", "missived slow/fast fsync"),
                               ("missived@baseline+slowfsync", "missived@baseline",
                                "missived@baseline slow/fast fsync"),
                               ("missived+slowfsync", "missived@baseline+slowfsync",
                                "missived/missived@baseline with slow fsync"),
                               ("postfix+slowfsync", "postfix", "postfix slow/fast fsync"),
                               ("missived", "missived@baseline", "missived/missived@baseline"),
                               ("missived+pg", "missived", "missived+pg/missived"),
                               ("missived+pg2", "missived+pg", "missived+pg2/missived+pg")):
                value, low, high = ratio(c, g, a, b)
                if value is not None:
                    spread = f" [{low:.2f}-{high:.2f}]" if low is not None else ""
                    parts.append(f"{name} {value:.2f}x{spread}")
            if parts:
                print(f"concurrency {c:<3} {g:<14} " + ";  ".join(parts))
    print()

    # The targets of issue 7, at the highest concurrency measured, with missive-bench:
    # acceptance from the missived runs (no poller, like the sink), lag from missived+lag.
    c = max(concurrencies)
    g = "missive-bench"
    checks = []
    value, _, _ = ratio(c, g, "missived", "postfix")
    checks.append((f"acceptance >= 5x Postfix at {c} sessions", value, value is not None and value >= 5,
                   "{:.2f}x"))
    value, _, _ = ratio(c, g, "missived", "smtp-sink")
    checks.append((f"acceptance >= 0.7x smtp-sink at {c} sessions", value,
                   value is not None and value >= 0.7, "{:.2f}x"))
    sel = summary.get((c, g, "missived"), [])
    benches = [r.get("bench") or {} for r in sel]
    lat99 = med([(b.get("latency_ms") or {}).get("p99") for b in benches])
    checks.append(("p99 accept latency <= 10 ms", lat99, lat99 is not None and lat99 <= 10, "{:.2f} ms"))
    lag_benches = [r.get("bench") or {} for r in summary.get((c, g, "missived+lag"), [])]
    lag50 = med([((b.get("lag") or {}).get("ms") or {}).get("p50") for b in lag_benches])
    lag99 = med([((b.get("lag") or {}).get("ms") or {}).get("p99") for b in lag_benches])
    checks.append(("p50 accept -> mailbox lag <= 20 ms", lag50, lag50 is not None and lag50 <= 20,
                   "{:.1f} ms"))
    checks.append(("p99 accept -> mailbox lag <= 100 ms", lag99, lag99 is not None and lag99 <= 100,
                   "{:.1f} ms"))
    growth = med([((b.get("lag") or {}).get("last_quarter_p50") or 0) -
                  ((b.get("lag") or {}).get("first_quarter_p50") or 0)
                  for b in lag_benches]) if lag_benches else None
    checks.append(("delivery keeps up (lag p50, last quarter - first quarter of a run)", growth,
                   growth is not None and growth <= 20, "{:+.1f} ms"))
    value, _, _ = ratio(c, g, "missived+slowfsync", "missived")
    checks.append(("with 2 ms fsync, acceptance >= 0.5x the fast disk's", value,
                   value is not None and value >= 0.5, "{:.2f}x"))
    print(f"-- issue 7 targets (concurrency {c}, missive-bench; medians)")
    for name, value, ok, spec in checks:
        state = "n/a " if value is None else ("PASS" if ok else "FAIL")
        print(f"  {state}  {name}: {fmt(value, spec)}")
    # Issue 20, target 2: the slow disk, at 10 and at 50 sessions.
    slow_goals = [(c, goal) for c, goal in ((10, 0.6), (50, 0.8)) if c in concurrencies]
    if slow_goals and any(t == "missived+slowfsync" for (_, _, t) in summary):
        print("-- issue 20 target 2 (missive-bench; medians): with 2 ms fsync, acceptance "
              "against the fast disk's")
        for c, goal in slow_goals:
            value, low, high = ratio(c, g, "missived+slowfsync", "missived")
            state = "n/a " if value is None else ("PASS" if value >= goal else "FAIL")
            spread = f" [{low:.2f}-{high:.2f}]" if low is not None else ""
            print(f"  {state}  >= {goal}x at {c} sessions: {fmt(value, '{:.2f}x')}{spread}")
    # Not a target: the same acceptance figures from the lag runs, so nothing is hidden.
    lat99 = med([(b.get("latency_ms") or {}).get("p99") for b in lag_benches])
    value, _, _ = ratio(c, g, "missived+lag", "smtp-sink")
    print(f"  info  while a POP3 client polls every 5 ms (missived+lag): p99 accept latency "
          f"{fmt(lat99, '{:.2f} ms')}, acceptance {fmt(value, '{:.2f}x')} smtp-sink")
    print()

    if any(t == "missived@baseline" for (_, _, t) in summary):
        print(f"-- missived ({commits.get('missived', '?')}) against missived@baseline "
              f"({commits.get('missived@baseline', '?')}), missive-bench, medians over rounds; "
              f"issue 13: acceptance >= 0.95x, p99 no worse beyond noise")
        print("   noise: p99 is \"no worse\" while the current median is at most the highest p99 "
              "the baseline had in any round")
        for c in concurrencies:
            if (c, g, "missived@baseline") not in summary or (c, g, "missived") not in summary:
                continue
            value, low, high = ratio(c, g, "missived", "missived@baseline")
            p99_ok = None
            rate_new = med([rate_of(r) for r in summary[(c, g, "missived")]])
            rate_old = med([rate_of(r) for r in summary[(c, g, "missived@baseline")]])
            spread = f" [{low:.2f}-{high:.2f}]" if low is not None else ""
            print(f"  c={c:<4} msg/s {rate_new:.0f} vs {rate_old:.0f}: "
                  f"{fmt(value, '{:.2f}x')}{spread}", end="")
            for key in ("p50", "p99"):
                new, _ = latency(c, g, "missived", key)
                old, old_rounds = latency(c, g, "missived@baseline", key)
                r = new / old if new is not None and old else None
                print(f";  {key} {fmt(new, '{:.2f}')} vs {fmt(old, '{:.2f}')} ms: "
                      f"{fmt(r, '{:.2f}x')}", end="")
                if key == "p99":
                    p99_ok = None if new is None or not old_rounds else new <= max(old_rounds)
                    noise = f"{min(old_rounds):.2f}-{max(old_rounds):.2f}" if old_rounds else "-"
                    print(f" (baseline rounds {noise})", end="")
            print()
            state = "n/a " if value is None else ("PASS" if value >= 0.95 else "FAIL")
            print(f"    {state}  acceptance >= 0.95x the baseline's at {c} sessions: {fmt(value, '{:.2f}x')}")
            state = "n/a " if p99_ok is None else ("PASS" if p99_ok else "FAIL")
            print(f"    {state}  p99 accept latency no worse than the baseline's beyond noise at {c} sessions")
        print()

    if any(t in ("missived+pg", "missived+pg2") for (_, _, t) in summary):
        print("-- PostgreSQL (issue 15), missive-bench, medians over rounds; CPU per message: "
              "the missived node(s) + PostgreSQL")
        for c in concurrencies:
            parts = []
            for t in ("missived", "missived+pg", "missived+pg2"):
                sel = summary.get((c, g, t))
                if not sel:
                    continue
                n = [max(r.get("accepted", 0), 1) for r in sel]
                total = med([r["server_cpu_s"] * 1000 / k for r, k in zip(sel, n)
                             if r.get("server_cpu_s") is not None])
                db = med([r["db_cpu_s"] * 1000 / k for r, k in zip(sel, n)
                          if r.get("db_cpu_s") is not None])
                if db is not None and total is not None:
                    parts.append(f"{t} {total - db:.2f} + {db:.2f} ms/msg")
                else:
                    parts.append(f"{t} {fmt(total, '{:.2f}')} ms/msg")
            print(f"  c={c:<4} " + ";  ".join(parts))
        merged = [r for r in runs if r["target"] == "missived+pg2" and r.get("bench")]
        if any(not r["bench"].get("latency_merged", True) for r in merged):
            print("  NOTE: some missived+pg2 runs lack a node's latency samples: their percentiles "
                  "are the worse of the two nodes', not merged")
        c = 50 if 50 in concurrencies else max(concurrencies)
        value, _, _ = ratio(c, g, "missived+pg", "missived")
        state = "n/a " if value is None else ("PASS" if value >= 0.5 else "FAIL")
        print(f"    {state}  one node on PostgreSQL >= 0.5x one on SQLite at {c} sessions "
              f"(goal at 50 sessions, 1 KiB): {fmt(value, '{:.2f}x')}")
        value, _, _ = ratio(c, g, "missived+pg2", "missived+pg")
        print(f"    info  two nodes on one PostgreSQL / one node at {c} sessions: "
              f"{fmt(value, '{:.2f}x')}")
        print()

    scrapes = [a for a in batches if a.startswith("scrapes:")]
    batches = [a for a in batches if not a.startswith("scrapes:")]
    if any(t == "missived+metrics" for (_, _, t) in summary):
        print("-- metrics (issue 18): missived+metrics is the same relay with [metrics] listen, "
              "GET /metrics once a second all along; missive-bench, medians over rounds")
        for arg in scrapes:
            target, _, tally = arg[len("scrapes:"):].partition("=")
            ok, _, failed = tally.partition(" ")
            print(f"   {target}: {ok} scrapes answered 200, {failed or '?'} failed")
        for c in concurrencies:
            if (c, g, "missived+metrics") not in summary or (c, g, "missived") not in summary:
                continue
            value, low, high = ratio(c, g, "missived+metrics", "missived")
            rate_on = med([rate_of(r) for r in summary[(c, g, "missived+metrics")]])
            rate_off = med([rate_of(r) for r in summary[(c, g, "missived")]])
            p99_on, _ = latency(c, g, "missived+metrics", "p99")
            p99_off, _ = latency(c, g, "missived", "p99")
            spread = f" [{low:.2f}-{high:.2f}]" if low is not None else ""
            state = "n/a " if value is None else ("PASS" if value >= 0.98 else "FAIL")
            print(f"  {state}  acceptance with metrics >= 0.98x without at {c} sessions: "
                  f"{rate_on:.0f} vs {rate_off:.0f} msg/s, {fmt(value, '{:.3f}x')}{spread}; "
                  f"p99 {fmt(p99_on, '{:.2f}')} vs {fmt(p99_off, '{:.2f}')} ms")
        print()

    for arg in batches:
        target, _, count = arg.partition("=")
        # NAME+lag runs went to the same process as NAME.
        accepted = sum(r.get("accepted", 0) for r in every_run
                       if r["target"] in (target, target + "+lag"))
        if count.isdigit() and int(count) > 0:
            print(f"-- group commit: {target} made {count} writer transactions for {accepted} messages "
                  f"accepted and delivered, and the POP3 deletions "
                  f"({2 * accepted / int(count):.1f} accept/deliver jobs per commit, warm-up included)")
    if batches:
        print()

    failed = [r for r in every_run if int(r.get("errors", 0)) > 0 or r.get("status", "ok") != "ok"]
    if failed:
        print("-- runs with errors (every one listed)")
        for r in failed:
            detail = r.get("detail", "")
            bench = r.get("bench") or {}
            if bench.get("errors"):
                detail += " " + json.dumps(bench["errors"])
            lag = bench.get("lag") or {}
            if lag.get("missing"):
                detail += f" lag: {lag['missing']} never seen in the mailbox"
            print(f"  round {r['round']} c={r['concurrency']} {r['generator']} -> {r['target']}: "
                  f"status={r.get('status')} errors={r.get('errors')} {detail}".rstrip())
    else:
        print("-- no errors in any run")
    return 0


def scrape(port, interval, tally_path):
    """GET http://127.0.0.1:PORT/metrics every INTERVAL seconds (on a fixed schedule) until
    terminated; after each, TALLY_PATH holds "answered failed" (answered: a 200 with a body)."""
    import signal
    import urllib.request
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    answered = failed = 0
    next_at = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                ok = r.status == 200 and b"missive_smtp_messages_accepted_total" in r.read()
        except OSError:
            ok = False
        if ok:
            answered += 1
        else:
            failed += 1
        with open(tally_path + ".tmp", "w") as f:
            f.write(f"{answered} {failed}\n")
        os.replace(tally_path + ".tmp", tally_path)
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    command, args = argv[1], argv[2:]
    if command == "listen-port":
        print(listen_port(int(args[0]), float(args[1]) if len(args) > 1 else 10.0))
    elif command == "snapshot":
        print(snapshot(args))
    elif command == "merge-bench":
        merge_bench(args[0], args[1:3], args[3:5])
    elif command in ("pop3-count", "pop3-clear"):
        print(pop3(args[0], args[1], args[2], command == "pop3-clear"))
    elif command == "record":
        record(args[0], args[1:])
    elif command == "scrape":
        return scrape(int(args[0]), float(args[1]), args[2])
    elif command == "summarize":
        return summarize(args[0], args[1:])
    else:
        print(__doc__, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
