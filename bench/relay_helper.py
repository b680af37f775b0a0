#!/usr/bin/env python3
"""Helper of bench/compare_relay.sh (`compare.sh relay`): one measured run against a
missive-sink, and the summary of all runs.

  relay_helper.py run RESULTS SINK_PORT EXPECT TIMEOUT KEY=VALUE... -- GENERATOR...
      Zeroes the sink's counts (XRESET), runs the generator, then asks the sink (XSTATS, on
      the same control connection, which the sink counts as one) every 10 ms until EXPECT
      recipients were answered (250 or 451) or TIMEOUT seconds have passed. Appends one JSON
      record to RESULTS: the KEY=VALUEs, the sink's counts, the generator's wall time and
      exit status, and CPU snapshots of the processes named by cpu=SPEC,SPEC (as
      compare_helper.py snapshot takes them) before and after.
  relay_helper.py summarize RESULTS
"""
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_helper  # noqa: E402  (snapshot: CPU of processes and of the machine)


class Sink:
    """The control connection to a missive-sink."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.file.readline()  # greeting

    def command(self, verb):
        self.sock.sendall(verb.encode() + b"\r\n")
        line = self.file.readline().decode().strip()
        if not line.startswith("250"):
            raise RuntimeError(f"sink answered {verb} with {line!r}")
        return line

    def stats(self):
        fields = dict(kv.split("=") for kv in self.command("XSTATS").split()[1:])
        return {k: (float(v) if k in ("first", "last") else int(v)) for k, v in fields.items()}


def own_cpu():
    """CPU seconds of this helper and the generators it ran (theirs count as ours, not others')."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def run(argv):
    results, port, expect, timeout = argv[0], int(argv[1]), int(argv[2]), float(argv[3])
    split = argv.index("--")
    meta = dict(a.split("=", 1) for a in argv[4:split])
    generator = argv[split + 1:]
    specs = [s for s in meta.pop("cpu", "").split(",") if s]
    sink = Sink(port)
    before = compare_helper.snapshot(specs)
    ours = own_cpu()
    sink.command("XRESET")
    start = time.monotonic()
    try:
        proc = subprocess.run(generator, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=timeout)
        exit_status, error = proc.returncode, proc.stderr.decode(errors="replace")[-300:]
    except subprocess.TimeoutExpired:
        exit_status, error = "timeout", "the generator ran out of time"
    generator_s = time.monotonic() - start
    stats = sink.stats()
    while stats["recipients"] + stats["deferred"] < expect and time.monotonic() - start < timeout:
        time.sleep(0.01)
        stats = sink.stats()
    after = compare_helper.snapshot(specs)
    record = dict(meta, expect=expect, exit=exit_status, error=error.strip(),
                  generator_cpu_s=round(own_cpu() - ours, 4),
                  generator_s=round(generator_s, 4), before=before, after=after, **stats)
    record["connections"] -= 1  # the control connection
    record["complete"] = stats["recipients"] + stats["deferred"] >= expect
    with open(results, "a") as f:
        f.write(json.dumps(record) + "\n")
    if record.get("clock") == "generator":
        print(f"{rate(record):.0f} messages/s by the generator's time ({generator_s:.2f} s, exit {exit_status})")
        return 0 if exit_status == 0 else 1
    print(f"{rate(record):.0f} recipients/s at the sink ({stats['recipients']} in {stats['last']:.2f} s; "
          f"{stats['deferred']} deferred; {record['connections']} connections; "
          f"generator {generator_s:.2f} s, exit {exit_status})")
    return 0 if record["complete"] and exit_status == 0 else 1


def rate(r):
    """Good recipients per second arriving at the sink, from the generator's start to the
    last message's end of data; for smtp-sink (which cannot count), the generator's time."""
    if r.get("clock") == "generator":
        return int(r["load"]) / r["generator_s"] if r["generator_s"] > 0 else 0
    return r["recipients"] / r["last"] if r["last"] > 0 else 0


def cpu_share(r):
    """Server CPU ms per message, and the share of the machine others used (%)."""
    b = [float(x) for x in r["before"].split(",")]
    a = [float(x) for x in r["after"].split(",")]
    server = a[0] - b[0]
    busy, total = a[1] - b[1], a[2] - b[2]
    generator = r.get("generator_cpu_s", 0.0)
    msgs = max(int(r["load"]) if r.get("clock") == "generator" else r["recipients"], 1)
    other = max(busy - server - generator, 0) / total * 100 if total > 0 else 0
    return server * 1000 / msgs, other


def med(values):
    return statistics.median(values) if values else None


def summarize(path):
    runs = [json.loads(line) for line in open(path)]
    targets = []
    for r in runs:
        if r["target"] not in targets:
            targets.append(r["target"])
    by = {t: [r for r in runs if r["target"] == t] for t in targets}
    rounds = sorted({int(r["round"]) for r in runs})
    per_round = {(t, int(r["round"])): rate(r) for t in targets for r in by[t]}
    first = runs[0]
    print(f"== relay path: {len(rounds)} round(s); {first['load']} messages of {first['size']} octets per run, "
          f"smtp-source -s {first['sessions']} (a new connection per message); medians over rounds")
    print("   rate: recipients answered 250 by the sink per second, from the generator's start to the last one's end of data")
    print("   (smtp-sink: messages per second of smtp-source's run); per conn: messages per outbound connection at the sink")
    print("   accept/s: messages per second of the generator's run (all answered 250); tail: ms from its end to the last arrival")
    print("   srv CPU: ms per message (missived; Postfix master + all its daemons); other%: CPU of the machine used by neither\n")
    print(f"{'target':26} {'rate/s':>8} {'[min-max]':>15} {'accept/s':>9} {'tail ms':>8} {'per conn':>9} "
          f"{'deferred':>9} {'srv CPU':>8} {'other%':>7} {'incomplete':>10}")
    medians = {}
    for t in targets:
        rs = by[t]
        rates = [rate(r) for r in rs]
        medians[t] = med(rates)
        per_conn = med([r["recipients"] / r["connections"] for r in rs if r["connections"] > 0 and r.get("clock") != "generator"])
        cpu = [cpu_share(r) for r in rs]
        accept = med([int(r["load"]) / r["generator_s"] for r in rs if r["generator_s"] > 0])
        tail = med([(r["last"] - r["generator_s"]) * 1000 for r in rs if r.get("clock") != "generator"])
        print(f"{t:26} {medians[t]:8.0f} {f'[{min(rates):.0f}-{max(rates):.0f}]':>15} {accept:9.0f} "
              f"{(f'{tail:.0f}' if tail is not None else '-'):>8} "
              f"{(f'{per_conn:.1f}' if per_conn and t != 'direct' and t != 'smtp-sink' else '-'):>9} "
              f"{med([r['deferred'] for r in rs]):9.0f} {med([c[0] for c in cpu]):8.3f} {med([c[1] for c in cpu]):7.0f} "
              f"{sum(1 for r in rs if not r['complete'] or r['exit'] != 0):10d}")

    def ratio(a, b):
        if a not in medians or b not in medians or not medians[b]:
            return None
        rs = [per_round[(a, n)] / per_round[(b, n)] for n in rounds
              if (a, n) in per_round and (b, n) in per_round and per_round[(b, n)]]
        value = medians[a] / medians[b]
        print(f"  {a + ' / ' + b:44} {value:6.2f}x  [per round {min(rs):.2f}-{max(rs):.2f}]")
        return value

    print("\n-- ratios of median rates (in brackets: the per-round ratios)")
    vs_postfix = ratio("missived", "postfix")
    vs_direct = ratio("missived", "direct")
    ratio("postfix", "direct")
    deferring = ratio("missived+451", "missived")
    ratio("direct", "smtp-sink")
    for t in targets:
        if t.startswith("missived@"):
            ratio("missived", t)
    per_conn = med([r["recipients"] / r["connections"] for r in by.get("missived", []) if r["connections"] > 0])

    def check(ok, text):
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")

    print("\n-- issue 20 target 1 goals (medians)")
    if vs_postfix is not None:
        check(vs_postfix >= 5, f"missived >= 5x Postfix relaying to the same sink: {vs_postfix:.2f}x")
    if vs_direct is not None:
        check(vs_direct >= 0.5, f"missived >= 0.5x the generator straight to the sink: {vs_direct:.2f}x")
    if per_conn is not None:
        check(per_conn > 1, f"outbound connections reused: {per_conn:.1f} messages per connection")
    if deferring is not None:
        check(deferring >= 0.8, f"with 451 to a tenth of the recipients, the good ones at >= 0.8x the clean rate: {deferring:.2f}x")
    bad = [r for r in runs if not r["complete"] or r["exit"] != 0]
    for r in bad:
        print(f"  run with an error: round {r['round']} {r['target']}: exit {r['exit']}, "
              f"{r['recipients']}+{r['deferred']} of {r['expect']} answered; {r['error'][:200]}")


def main(argv):
    if len(argv) >= 2 and argv[1] == "run":
        return run(argv[2:])
    if len(argv) == 3 and argv[1] == "summarize":
        summarize(argv[2])
        return 0
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
