"""Metrics (issue 18): `[metrics] listen` serves GET /metrics in the Prometheus text format
(0.0.4) and GET /healthz.

- Real traffic (accepted and refused messages, local delivery, a remote deferral then expiry
  through a route to a refused port, a remote bounce from a next hop that answers 550, SMTP
  AUTH and POP3 logins, STARTTLS that succeeds and one that fails, a session held open) is
  counted exactly; `promtool check metrics` accepts the scrape; a real Prometheus server
  scrapes the relay and answers a PromQL query for the accepted messages with the number
  sent.
- /healthz answers 200 while the store commits and 503 when it does not (the fault shim
  turns fdatasync into EIO): from a failed commit of mail, and without any traffic from a
  write of its own; back to 200 by itself once fsync works again.
- Other paths 404, other methods 405, a malformed request 400, an oversized head 431;
  HEAD has the headers of GET.
- A malformed `[metrics] listen` or an unknown key stops the relay with exit 78, naming the
  file, the line and the key.

Everything on 127.0.0.1; every wait is bounded.
"""

import base64
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from dns_server import DnsServer
from missive_harness import (DOMAIN, PASSWORD, FakeSmtpServer, HarnessError, MissiveServer,
                             MissiveTestCase, make_message, missived_path, pop3_session,
                             queue_id_of, require_tool, smtp_send, wait_for_mailbox_count,
                             wait_until)

ALICE = f"alice@{DOMAIN}"
FAR = "carol@far.test"        # routed to a refused port: deferred, then expired
BOUNCING = "dave@bounce.test"  # routed to a next hop that answers 550 5.1.1
LIFETIME = 3                   # [queue] max_lifetime, seconds
HTTP_TIMEOUT = 10


def free_port():
    """A port nobody listens on right now (for Prometheus's own web listener)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path, method="GET"):
    """(status, headers, body) of one request to 127.0.0.1:port."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as r:
            return r.status, r.headers, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8")


def raw_http(port, data):
    """Send raw bytes, read the whole answer (the server closes after it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$")


def parse_samples(text):
    """{'name{labels}': value} of every sample line."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError(f"not a sample line: {line!r}")
        samples[m.group(1)] = float(m.group(2))
    return samples


def fault_shim_path():
    path = os.environ.get("FAULT_SHIM")
    if not path or not os.path.isfile(path):
        raise HarnessError(f"FAULT_SHIM={path!r} must name the fault_shim library built from "
                           "tests/fault/fault_shim.c (CTest sets it)")
    return path


def make_certificate(directory):
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run([missived_path(), "tls", "selfsigned", "--cert", cert, "--key", key,
                    "--host", "127.0.0.1"], check=True, capture_output=True, timeout=60)
    return cert, key


class MetricsTest(MissiveTestCase):

    def metrics_server(self, extra="", env=None):
        server = self.start_test_server(
            config=f'[metrics]\nlisten = "127.0.0.1:0"\n{extra}', env=env)
        return server, server.port("metrics")

    def scrape(self, port):
        status, headers, body = http_get(port, "/metrics")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        return body, parse_samples(body)

    def recipient_row(self, server, qid, address):
        rows = server.query("SELECT r.state, r.attempts FROM recipient r JOIN message m "
                            "ON m.id = r.message_id WHERE m.queue_id = ? AND r.address = ?",
                            (qid, address))
        return rows[0] if rows else None

    def wait_recipient(self, server, qid, address, state, attempts):
        wait_until(lambda: self.recipient_row(server, qid, address) == (state, attempts),
                   timeout=15, what=f"{address} of {qid} {state} after {attempts} attempts "
                                    f"(now {self.recipient_row(server, qid, address)})")

    def test_traffic_is_counted_exactly_and_prometheus_scrapes_it(self):
        require_tool("promtool")
        require_tool("prometheus")
        certs = tempfile.mkdtemp(prefix="missive-metrics-certs-")
        self.addCleanup(shutil.rmtree, certs, True)
        cert, key = make_certificate(certs)
        refused = self.refused_port()
        next_hop = FakeSmtpServer(rcpt_reply=lambda addr, n: "550 5.1.1 no such user here")
        self.addCleanup(next_hop.stop)
        # A retry far beyond the lifetime: one deferral, then the next attempt (asked for
        # with `queue retry`) finds the lifetime over: expired.
        server, port = self.metrics_server(
            f'[tls]\ncert = "{cert}"\nkey = "{key}"\n'
            f'[queue]\nretry_initial = "1h"\nretry_max = "1h"\nmax_lifetime = "{LIFETIME}s"\n'
            f'[[route]]\ndomain = "far.test"\nhost = "127.0.0.1:{refused}"\n'
            f'[[route]]\ndomain = "bounce.test"\nhost = "127.0.0.1:{next_hop.port}"\n')
        server.add_user(ALICE)
        smtp = f'service="smtp",listener="127.0.0.1:{server.smtp_port}"'
        pop3 = f'service="pop3",listener="127.0.0.1:{server.pop3_port}"'

        _, before = self.scrape(port)
        self.assertEqual(before['missive_smtp_messages_accepted_total{service="smtp"}'], 0)
        self.assertEqual(before[f"missive_sessions_open{{{smtp}}}"], 0)
        self.assertEqual(before['missive_build_info{version="0.1.0"}'], 1)

        held = server.smtp()   # an open session, counted while it lasts
        self.addCleanup(held.close)
        self.assertEqual(held.ehlo().code, 250)

        # Accepted: three local messages, one for far.test, one for bounce.test.
        for i in range(3):
            smtp_send(server, ALICE, [ALICE], make_message(f"local {i}", ["hi"], to=ALICE))
        far_qid = smtp_send(server, ALICE, [FAR], make_message("far", ["x"], to=FAR))
        bounce_qid = smtp_send(server, ALICE, [BOUNCING], make_message("b", ["y"], to=BOUNCING))
        sent = 5

        # Refused: an unknown local user at RCPT, a SIZE too big at MAIL, bare LF in the data.
        with server.smtp() as c:
            self.assertEqual(c.ehlo().code, 250)
            self.assertEqual(c.cmd(f"MAIL FROM:<{ALICE}> SIZE=999999999999").code, 552)
            self.assertEqual(c.cmd(f"MAIL FROM:<{ALICE}>").code, 250)
            self.assertEqual(c.cmd(f"RCPT TO:<nosuch@{DOMAIN}>").code, 550)
            self.assertEqual(c.cmd(f"RCPT TO:<{ALICE}>").code, 250)
            self.assertEqual(c.cmd("DATA").code, 354)
            c.send(b"Subject: smuggled\r\n\r\nbare\nline feed\r\n.\r\n")
            self.assertEqual(c.reply().code, 554)
            c.cmd("QUIT")

        # SMTP AUTH: one success, one failure (plaintext AUTH is allowed from loopback).
        with server.smtp() as c:
            self.assertEqual(c.ehlo().code, 250)
            good = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
            bad = base64.b64encode(f"\0{ALICE}\0wrong".encode()).decode()
            self.assertEqual(c.cmd(f"AUTH PLAIN {bad}").code, 535)
            self.assertEqual(c.cmd(f"AUTH PLAIN {good}").code, 235)
            c.cmd("QUIT")

        # STARTTLS: one handshake completes, one gets garbage instead of a ClientHello.
        with server.smtp() as c:
            self.assertEqual(c.ehlo().code, 250)
            self.assertEqual(c.cmd("STARTTLS").code, 220)
            context = ssl.create_default_context(cafile=cert)
            tls = context.wrap_socket(c.sock, server_hostname="127.0.0.1")
            tls.sendall(b"QUIT\r\n")
            self.assertTrue(tls.recv(1024).startswith(b"221"))
            tls.close()
        with server.smtp() as c:
            self.assertEqual(c.ehlo().code, 250)
            self.assertEqual(c.cmd("STARTTLS").code, 220)
            c.send(b"this is not a TLS record\r\n" * 4)
            self.assertTrue(c.is_closed(), "a failed handshake ends the session")

        # The remote ones: far.test deferred once, bounce.test bounced (and its DSN delivered
        # to alice).
        self.wait_recipient(server, far_qid, FAR, "deferred", 1)
        self.wait_recipient(server, bounce_qid, BOUNCING, "failed", 1)
        wait_for_mailbox_count(server, ALICE, 4)
        _, mid = self.scrape(port)
        self.assertEqual(mid['missive_queue_recipients{state="deferred"}'], 1)
        self.assertEqual(mid['missive_queue_recipients{state="queued"}'], 0)
        self.assertEqual(mid['missive_queue_recipients{state="sending"}'], 0)
        self.assertEqual(mid["missive_queue_oldest_due_message_age_seconds"], 0, "nothing due")
        self.assertEqual(mid[f"missive_sessions_open{{{smtp}}}"], 1, "the held session")

        # The lifetime passes; the next attempt expires far.test, and its DSN is delivered.
        received = server.scalar("SELECT received_at FROM message WHERE queue_id = ?", (far_qid,))
        wait_until(lambda: time.time() >= received + LIFETIME + 1, timeout=LIFETIME + 3,
                   what="the lifetime of the far.test message over")
        r = server.cli("queue", "retry", far_qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_recipient(server, far_qid, FAR, "failed", 2)
        wait_for_mailbox_count(server, ALICE, 5)

        # POP3: one failed login, one good one (which reads the five messages).
        with server.pop3() as c:
            c.cmd(f"USER {ALICE}")
            self.assertTrue(c.cmd("PASS wrong").startswith("-ERR"))
        c = pop3_session(server, ALICE)
        self.assertEqual(c.stat()[0], 5)
        held_pop3 = c
        self.addCleanup(held_pop3.close)

        text, after = self.scrape(port)
        expected = {
            'missive_smtp_messages_accepted_total{service="smtp"}': sent,
            'missive_smtp_messages_refused_total{stage="MAIL",class="5xx",reason="message_too_big"}': 1,
            'missive_smtp_messages_refused_total{stage="RCPT",class="5xx",reason="user_unknown"}': 1,
            'missive_smtp_messages_refused_total{stage="END-OF-MESSAGE",class="5xx",reason="bad_content"}': 1,
            'missive_smtp_transaction_duration_seconds_count': sent,
            # 3 local messages and 2 DSNs to alice
            'missive_recipients_total{outcome="delivered",destination="local"}': 5,
            'missive_recipients_total{outcome="deferred",destination="local"}': 0,
            'missive_recipients_total{outcome="bounced",destination="local"}': 0,
            'missive_recipients_total{outcome="expired",destination="local"}': 0,
            'missive_recipients_total{outcome="delivered",destination="remote"}': 0,
            'missive_recipients_total{outcome="deferred",destination="remote"}': 1,
            'missive_recipients_total{outcome="bounced",destination="remote"}': 1,
            'missive_recipients_total{outcome="expired",destination="remote"}': 1,
            # only the bounce.test attempt got an answer from a next hop
            'missive_remote_delivery_duration_seconds_count': 1,
            'missive_logins_total{protocol="smtp",result="success"}': 1,
            'missive_logins_total{protocol="smtp",result="failure"}': 1,
            'missive_logins_total{protocol="pop3",result="success"}': 1,
            'missive_logins_total{protocol="pop3",result="failure"}': 1,
            'missive_tls_handshakes_total{service="smtp"}': 1,
            'missive_tls_handshake_failures_total{service="smtp"}': 1,
            f"missive_sessions_open{{{smtp}}}": 1,
            f"missive_sessions_open{{{pop3}}}": 1,
            # smtp_send x5, the refusals, AUTH, two STARTTLS, and the held one
            f"missive_connections_total{{{smtp}}}": 10,
            f"missive_connections_total{{{pop3}}}": 2,
            'missive_queue_recipients{state="deferred"}': 0,
            'missive_queue_recipients{state="queued"}': 0,
            'missive_queue_oldest_due_message_age_seconds': 0,
            # every domain has a route: no DNS query
            'missive_dns_queries_total{type="mx",outcome="records"}': 0,
            'missive_dns_queries_total{type="mx",outcome="temporary"}': 0,
            'missive_dns_queries_total{type="address",outcome="addresses"}': 0,
            'missive_store_writable': 1,
            'missive_store_write_batch_failures_total': 0,
        }
        for series, value in expected.items():
            with self.subTest(series=series):
                self.assertIn(series, after, f"scrape:\n{text}")
                self.assertEqual(after[series], value)
        batches = after["missive_store_write_batches_total"]
        self.assertGreaterEqual(batches, 1)
        self.assertEqual(after["missive_store_write_batch_jobs_count"], batches)
        self.assertEqual(after["missive_store_commit_duration_seconds_count"], batches)
        self.assertGreaterEqual(after["missive_store_write_batch_jobs_sum"], sent)
        self.assertEqual(after['missive_smtp_transaction_duration_seconds_bucket{le="+Inf"}'], sent)
        self.assertIn("# TYPE missive_smtp_transaction_duration_seconds histogram", text)
        self.assertIn("# TYPE missive_smtp_messages_accepted_total counter", text)

        # promtool, the format's own checker (lint included).
        scrape_file = os.path.join(server.work_dir, "scrape.txt")
        with open(scrape_file, "w") as f:
            f.write(text)
        with open(scrape_file) as f:
            check = subprocess.run(["promtool", "check", "metrics"], stdin=f,
                                   capture_output=True, text=True, timeout=60)
        self.assertEqual(check.returncode, 0,
                         f"promtool check metrics:\n{check.stdout}{check.stderr}")

        self.assertEqual(self.prometheus_query(port, "sum(missive_smtp_messages_accepted_total)"),
                         sent)

    def prometheus_query(self, metrics_port, query, expected_value=None):
        """Start a Prometheus that scrapes 127.0.0.1:metrics_port every second, and return
        the value of `query` once the first scrape is in (bounded)."""
        work = tempfile.mkdtemp(prefix="missive-prometheus-")
        self.addCleanup(shutil.rmtree, work, True)
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: missive\n    scrape_interval: 1s\n"
                    "    scrape_timeout: 1s\n"
                    f"    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n")
        web_port = free_port()
        log = open(os.path.join(work, "prometheus.log"), "w")
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={work}/data",
             f"--web.listen-address=127.0.0.1:{web_port}"],
            stdout=log, stderr=subprocess.STDOUT, cwd=work)

        def stop():
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.addCleanup(stop)

        def answer():
            if proc.poll() is not None:
                raise AssertionError(f"prometheus exited with {proc.returncode}: "
                                     f"{open(os.path.join(work, 'prometheus.log')).read()[-3000:]}")
            url = (f"http://127.0.0.1:{web_port}/api/v1/query?"
                   + urllib.parse.urlencode({"query": query}))
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    body = json.load(r)
            except (urllib.error.URLError, ConnectionError, OSError):
                return None   # not up yet
            if body.get("status") != "success" or not body["data"]["result"]:
                return None   # no scrape yet
            return float(body["data"]["result"][0]["value"][1])

        value = wait_until(lambda: answer(), timeout=60, interval=0.5,
                           what=f"Prometheus answering {query}")
        # The target is up, as Prometheus itself says.
        with urllib.request.urlopen(
                f"http://127.0.0.1:{web_port}/api/v1/query?"
                + urllib.parse.urlencode({"query": 'up{job="missive"}'}), timeout=5) as r:
            up = json.load(r)["data"]["result"]
        self.assertEqual(float(up[0]["value"][1]), 1.0)
        return value

    def test_healthz_follows_the_store(self):
        shim = fault_shim_path()
        control = os.path.join(tempfile.mkdtemp(prefix="missive-fault-"), "fsync-eio")
        self.addCleanup(shutil.rmtree, os.path.dirname(control), True)
        asan = os.environ.get("ASAN_OPTIONS", "")
        server, port = self.metrics_server(env={
            "LD_PRELOAD": shim, "MISSIVE_FAULT_FSYNC_EIO": control,
            "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"})
        server.add_user(ALICE)
        smtp_send(server, ALICE, [ALICE], make_message("before", ["ok"], to=ALICE))
        self.assertEqual(http_get(port, "/healthz")[:3:2], (200, "ok\n"))

        # Every fsync fails from now on. Without any mail, /healthz finds it out with a
        # write of its own once the last commit is more than a second old.
        open(control, "w").close()
        wait_until(lambda: http_get(port, "/healthz")[0] == 503, timeout=10,
                   what="/healthz 503 with fsync failing and no traffic")
        self.assertEqual(http_get(port, "/healthz", method="HEAD")[0], 503)
        with server.smtp() as c:
            r = c.send_mail(ALICE, [ALICE], make_message("during", ["eio"], to=ALICE))
            self.assertEqual(r.code, 451, str(r))
            c.cmd("QUIT")
        status, _, body = http_get(port, "/healthz")
        self.assertEqual((status, body), (503, "the store does not take writes\n"))
        _, samples = self.scrape(port)
        self.assertEqual(samples["missive_store_writable"], 0)
        self.assertGreaterEqual(samples["missive_store_write_batch_failures_total"], 2)

        # The disk is back: /healthz sees it by itself, without a message to commit.
        os.unlink(control)
        wait_until(lambda: http_get(port, "/healthz")[0] == 200, timeout=10,
                   what="/healthz 200 again with fsync working and no traffic")
        _, samples = self.scrape(port)
        self.assertEqual(samples["missive_store_writable"], 1)
        smtp_send(server, ALICE, [ALICE], make_message("after", ["ok again"], to=ALICE))
        self.assertEqual(http_get(port, "/healthz")[0], 200)

    def test_dns_lookups_are_counted_by_type_and_outcome(self):
        dns = DnsServer(["far.test. MX 10 mx.far.test.", "far.test. MX 20 backup.far.test.",
                         "mx.far.test. A 127.0.0.1", "backup.far.test. A 127.0.0.2",
                         "implicit.test. A 127.0.0.1", "nullmx.test. MX 0 ."],
                        {"far.test.": "static", "implicit.test.": "static",
                         "nullmx.test.": "static", "gone.test.": "static"}).start()
        self.addCleanup(dns.stop)
        sink = FakeSmtpServer()
        self.addCleanup(sink.stop)
        server, port = self.metrics_server(
            f'[dns]\nresolver = "{dns.address}"\ntimeout = "2s"\n'
            f'[queue]\nretry_initial = "1h"\nretry_max = "1h"\nmx_port = {sink.port}\n')
        server.add_user(ALICE)
        far = smtp_send(server, ALICE, ["r@far.test"], make_message("mx", ["x"], to="r@far.test"))
        implicit = smtp_send(server, ALICE, ["r@implicit.test"],
                             make_message("implicit", ["x"], to="r@implicit.test"))
        null = smtp_send(server, ALICE, ["r@nullmx.test"],
                         make_message("null", ["x"], to="r@nullmx.test"))
        gone = smtp_send(server, ALICE, ["r@x.gone.test"],
                         make_message("gone", ["x"], to="r@x.gone.test"))
        self.wait_recipient(server, far, "r@far.test", "delivered", 1)
        self.wait_recipient(server, implicit, "r@implicit.test", "delivered", 1)
        self.wait_recipient(server, null, "r@nullmx.test", "failed", 1)
        self.wait_recipient(server, gone, "r@x.gone.test", "failed", 1)
        text, samples = self.scrape(port)
        # far.test: its MX records, then both exchangers' addresses; implicit.test: no MX,
        # then its own address; a null MX and NXDOMAIN: no address asked for.
        expected = {
            'missive_dns_queries_total{type="mx",outcome="records"}': 1,
            'missive_dns_queries_total{type="mx",outcome="no_records"}': 1,
            'missive_dns_queries_total{type="mx",outcome="null_mx"}': 1,
            'missive_dns_queries_total{type="mx",outcome="no_domain"}': 1,
            'missive_dns_queries_total{type="mx",outcome="temporary"}': 0,
            'missive_dns_queries_total{type="address",outcome="addresses"}': 3,
            'missive_dns_queries_total{type="address",outcome="none"}': 0,
            'missive_dns_queries_total{type="address",outcome="temporary"}': 0,
            'missive_recipients_total{outcome="delivered",destination="remote"}': 2,
            'missive_recipients_total{outcome="bounced",destination="remote"}': 2,
            'missive_remote_delivery_duration_seconds_count': 2,
        }
        for series, value in expected.items():
            with self.subTest(series=series):
                self.assertEqual(samples.get(series), value, f"scrape:\n{text}")

    def test_other_paths_methods_and_malformed_requests(self):
        server, port = self.metrics_server()
        self.assertEqual(http_get(port, "/")[0], 404)
        self.assertEqual(http_get(port, "/metrics/extra")[0], 404)
        status, headers, _ = http_get(port, "/metrics", method="POST")
        self.assertEqual(status, 405)
        self.assertEqual(headers["Allow"], "GET, HEAD")
        self.assertEqual(http_get(port, "/healthz", method="DELETE")[0], 405)
        status, headers, body = http_get(port, "/metrics", method="HEAD")
        self.assertEqual((status, body), (200, ""))
        self.assertGreater(int(headers["Content-Length"]), 0)
        self.assertEqual(http_get(port, "/metrics?name[]=x")[0], 200)
        self.assertTrue(raw_http(port, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400 "))
        self.assertTrue(raw_http(port, b"GET /metrics HTTP/9.9\r\n\r\n").startswith(b"HTTP/1.1 400 "))
        big = b"GET /metrics HTTP/1.1\r\nX-Filler: " + b"a" * 20000 + b"\r\n\r\n"
        self.assertTrue(raw_http(port, big).startswith(b"HTTP/1.1 431 "))
        many = b"GET /metrics HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n"
        self.assertTrue(raw_http(port, many).startswith(b"HTTP/1.1 431 "))
        # A client that sends half a request and stalls costs only its own connection.
        with socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT) as stalled:
            stalled.sendall(b"GET /metrics HTTP/1.1\r\n")
            self.assertEqual(http_get(port, "/healthz")[0], 200)
        self.assertTrue(server.running())

    def test_bad_metrics_config_names_file_line_and_key(self):
        cases = [
            ('[metrics]\nlisten = "localhost:9187"\n', 2, "metrics.listen"),
            ('[metrics]\nlisten = "127.0.0.1:99999"\n', 2, "metrics.listen"),
            ('[metrics]\nlisten = 9187\n', 2, "metrics.listen"),
            ('\n[metrics]\nport = 9187\n', 3, "metrics.port"),
        ]
        for text, line, key in cases:
            with self.subTest(config=text):
                server = MissiveServer(config=text)
                self.addCleanup(server.cleanup)
                r = subprocess.run(server.command(), capture_output=True, text=True, timeout=30,
                                   cwd=server.work_dir)
                self.assertEqual(r.returncode, 78, r.stderr)
                self.assertIn(f"{server.config_path}:{line}:", r.stderr)
                self.assertIn(key, r.stderr)


if __name__ == "__main__":
    unittest.main()
