#!/usr/bin/env python3
"""What DKIM signing and the inbound checks cost in acceptance (issue 16's bench goal):
four missived processes started side by side on the current build, loaded in turn by
missive-bench, round after round, so that they share the machine's noise:

  plain          no [[dkim]] key, no [checks]
  dkim-rsa       [[dkim]] rsa-sha256, 2048 bits: every message (from a trusted client) signed
  dkim-ed25519   [[dkim]] ed25519-sha256 (RFC 8463)
  checks         [checks] spf, dkim and dmarc = "annotate", the client outside
                 trusted_networks: SPF of HELO and MAIL FROM, DKIM (none to verify) and DMARC
                 asked of a real DNS server (unbound, tests/lib/dns_server.py) on 127.0.0.1

Reported: the median acceptance rate of each, its ratio to plain, and the relay's CPU per
message (utime+stime of the process over the run, from /proc), and what each adds to plain's.
Goal: Ed25519 signing costs at most 10% of the acceptance rate (ratio >= 0.90).

  python3 bench/authentication_cost.py [--rounds 5] [--messages 5000] [--concurrency 50]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from dns_server import DnsServer  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
PASSWORD = "bench-password"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Relay:
    def __init__(self, name, missived, work, config, dkim=None):
        self.name = name
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.config = os.path.join(self.dir, "missived.toml")
        self.data = os.path.join(self.dir, "data")
        with open(self.config, "w") as f:
            f.write("[smtp]\nmax_connections = 100000\nmax_connections_per_address = 100000\n" + config)
        common = ["--config", self.config, "--data-dir", self.data, "--domain", "bench.test"]
        subprocess.run([missived, "user", "add", "bob@bench.test", "--password-stdin", *common],
                       input=PASSWORD, text=True, check=True, capture_output=True)
        if dkim:
            # (The global options first: keygen's --domain is the key's.)
            subprocess.run([missived, *common, "dkim", "keygen", "--domain", "sign.test",
                            "--selector", dkim, "--algorithm", dkim], check=True, capture_output=True)
        self.stdout = open(os.path.join(self.dir, "stdout"), "w+")
        self.process = subprocess.Popen(
            [missived, "serve", *common, "--smtp", "127.0.0.1:0", "--pop3", "127.0.0.1:0",
             "--hostname", f"{name}.bench.test"],
            stdout=self.stdout, stderr=open(os.path.join(self.dir, "missived.log"), "w"))
        self.port = None
        deadline = time.monotonic() + 20
        while self.port is None and time.monotonic() < deadline:
            self.stdout.seek(0)
            for line in self.stdout:
                if "smtp listening on 127.0.0.1:" in line:
                    self.port = int(line.rsplit(":", 1)[1].split()[0])
            time.sleep(0.05)
        if self.port is None:
            self.stop()
            raise SystemExit(f"{name}: missived did not start (see {self.dir})")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = parser.parse_args()
    missived = os.path.join(args.build, "server", "missived")
    bench = os.path.join(args.build, "bench", "missive-bench")

    dns = DnsServer(['sender.test. TXT "v=spf1 ip4:127.0.0.1 -all"',
                     '_dmarc.sender.test. TXT "v=DMARC1; p=none"',
                     'client.sender.test. TXT "v=spf1 ip4:127.0.0.1 -all"'],
                    {"test.": "static"}).start()
    work = tempfile.mkdtemp(prefix="missive-auth-bench-")
    # (Strangers are greeted after [smtp] greeting_delay; the bench measures the checks.)
    checks = (f'trusted_networks = []\ngreeting_delay = "0s"\n\n[checks]\nspf = "annotate"\ndkim = "annotate"\n'
              f'dmarc = "annotate"\n\n[dns]\nresolver = "{dns.address}"\n')
    signing = '\n[[dkim]]\ndomain = "sign.test"\nselector = "{0}"\nalgorithm = "{0}"\n'
    relays = []  # each added as soon as it runs, so that the cleanup stops it
    try:
        for name, config, dkim in (("plain", "", None),
                                   ("dkim-rsa", signing.format("rsa"), "rsa"),
                                   ("dkim-ed25519", signing.format("ed25519"), "ed25519"),
                                   ("checks", checks, None)):
            relays.append(Relay(name, missived, work, config, dkim=dkim))
        rates = {r.name: [] for r in relays}
        cpu = {r.name: [] for r in relays}
        for round_number in range(args.rounds):
            for relay in relays:
                sender = "bench@sender.test" if relay.name == "checks" else "bench@sign.test"
                before = cpu_seconds(relay.process.pid)
                run = subprocess.run([bench, "--port", str(relay.port), "-n", str(args.messages),
                                      "-c", str(args.concurrency), "--size", str(args.size),
                                      "--from", sender, "--to", "bob@bench.test",
                                      "--helo", "client.sender.test", "--json", "-"],
                                     capture_output=True, text=True, timeout=600)
                used = cpu_seconds(relay.process.pid) - before
                report = json.loads(run.stdout.strip().splitlines()[-1])
                if report["failed"] or not report["clean"]:
                    raise SystemExit(f"{relay.name}: {report['failed']} failed: {report['errors']}")
                rates[relay.name].append(report["msgs_per_s"])
                cpu[relay.name].append(used / report["accepted"] * 1000)
                print(f"round {round_number + 1} {relay.name:13} {report['msgs_per_s']:9.0f} msg/s "
                      f"{cpu[relay.name][-1]:.3f} ms CPU/msg", flush=True)
        base_rate = statistics.median(rates["plain"])
        base_cpu = statistics.median(cpu["plain"])
        print(f"\n{args.rounds} rounds of {args.messages} x {args.size} octets, "
              f"{args.concurrency} sessions; medians")
        print(f"{'target':13} {'msg/s':>9} {'ratio':>6} {'ms CPU/msg':>11} {'added':>7}")
        for relay in relays:
            rate = statistics.median(rates[relay.name])
            used = statistics.median(cpu[relay.name])
            print(f"{relay.name:13} {rate:9.0f} {rate / base_rate:6.2f} {used:11.3f} "
                  f"{used - base_cpu:+7.3f}")
    finally:
        for relay in relays:
            relay.stop()
        dns.stop()
        if not os.environ.get("MISSIVE_KEEP_TMP"):
            subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
