#!/usr/bin/env python3
"""SMTP acceptance load generator for missived.

Starts its own missived on 127.0.0.1 ephemeral ports with a temporary data directory (or
uses --smtp HOST:PORT of a running relay), then runs CONCURRENCY sessions that each send
MESSAGES messages of SIZE octets over one connection (EHLO once; MAIL, RCPT and DATA
pipelined per message). Prints accepted messages per second and the latency from the end
of DATA to the 250 reply, per round and as the median over ROUNDS rounds.

    python3 bench/smtp_load.py --missived build/server/missived --concurrency 20
"""
import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

RECIPIENT = "bench@bench.test"


async def read_reply(reader):
    """Reads one (possibly multi-line) SMTP reply; returns its code."""
    while True:
        line = await asyncio.wait_for(reader.readline(), 30)
        if not line:
            raise ConnectionError("server closed the connection")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3])


async def session(host, port, messages, body, latencies):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        assert await read_reply(reader) == 220
        writer.write(b"EHLO bench.test\r\n")
        assert await read_reply(reader) == 250
        for _ in range(messages):
            writer.write(b"MAIL FROM:<load@bench.test>\r\nRCPT TO:<" + RECIPIENT.encode() + b">\r\nDATA\r\n")
            for expected in (250, 250, 354):
                code = await read_reply(reader)
                assert code == expected, f"got {code}, expected {expected}"
            started = time.perf_counter()
            writer.write(body + b".\r\n")
            code = await read_reply(reader)
            assert code == 250, f"DATA answered {code}"
            latencies.append(time.perf_counter() - started)
        writer.write(b"QUIT\r\n")
        await writer.drain()
    finally:
        writer.close()


async def round_(host, port, concurrency, messages, body):
    latencies = []
    started = time.perf_counter()
    await asyncio.gather(*(session(host, port, messages, body, latencies) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies


def make_body(size):
    header = b"From: load@bench.test\r\nTo: bench@bench.test\r\nSubject: load\r\n\r\n"
    line = b"x" * 76 + b"\r\n"
    lines = max(1, (size - len(header)) // len(line))
    return header + line * lines


def start_relay(missived, data_dir):
    subprocess.run([missived, "user", "add", RECIPIENT, "--password-stdin", "--data-dir", data_dir,
                    "--domain", "bench.test"], input=b"bench\n", check=True, capture_output=True)
    log = open(os.path.join(data_dir, "missived.log"), "wb")
    # All load comes from one address: lift the per-address cap (default 20) for the bench.
    config = os.path.join(data_dir, "bench.toml")
    with open(config, "w") as f:
        f.write("[smtp]\nmax_connections_per_address = 100000\nmax_connections = 100000\n")
    proc = subprocess.Popen([missived, "serve", "--config", config, "--data-dir", data_dir,
                             "--smtp", "127.0.0.1:0", "--pop3", "127.0.0.1:0",
                             "--domain", "bench.test"],
                            stdout=subprocess.PIPE, stderr=log)
    deadline = time.time() + 10
    while time.time() < deadline:
        line = proc.stdout.readline().decode()
        match = re.search(r"smtp listening on 127\.0\.0\.1:(\d+)", line)
        if match:
            return proc, int(match.group(1))
    proc.kill()
    raise RuntimeError("missived did not start")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--missived", default="build/server/missived")
    parser.add_argument("--smtp", help="HOST:PORT of a running relay (then RECIPIENT must exist)")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--messages", type=int, default=100, help="messages per session per round")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    body = make_body(args.size)
    proc = None
    with tempfile.TemporaryDirectory(prefix="missive-bench-") as data_dir:
        if args.smtp:
            host, port = args.smtp.rsplit(":", 1)
            port = int(port)
        else:
            host = "127.0.0.1"
            proc, port = start_relay(args.missived, data_dir)
        try:
            rates, all_latencies = [], []
            for n in range(args.rounds):
                rate, latencies = asyncio.run(round_(host, port, args.concurrency, args.messages, body))
                latencies.sort()
                rates.append(rate)
                all_latencies += latencies
                print(f"round {n + 1}: {rate:8.0f} msg/s  p50 {latencies[len(latencies) // 2] * 1000:6.2f} ms  "
                      f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:6.2f} ms")
            all_latencies.sort()
            print(f"median over {args.rounds} rounds: {statistics.median(rates):.0f} msg/s accepted "
                  f"({args.concurrency} sessions, {len(body)}-octet messages); "
                  f"latency p50 {all_latencies[len(all_latencies) // 2] * 1000:.2f} ms, "
                  f"p99 {all_latencies[int(len(all_latencies) * 0.99)] * 1000:.2f} ms")
        finally:
            if proc:
                proc.terminate()
                proc.wait(10)
                # Group commit at work: how many storage transactions all of that took.
                with open(os.path.join(data_dir, "missived.log"), encoding="utf-8", errors="replace") as log:
                    batches = re.findall(r"event=stopped write_batches=(\d+)", log.read())
                if batches:
                    total = args.rounds * args.concurrency * args.messages
                    print(f"writer transactions: {batches[-1]} for {total} messages "
                          f"(accepting and delivering: {2 * total / int(batches[-1]):.1f} jobs per commit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
