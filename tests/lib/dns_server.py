"""A real DNS server for the tests: Debian's `unbound` serving test zones from local-data on
127.0.0.1 (a free UDP/TCP port), answering nothing else (every other name is REFUSED, so no
query ever leaves the host), stopped at the end. Also a silent "server" that never answers,
for timeouts.

    with DnsServer(["far.test. MX 10 mx.far.test.", "mx.far.test. A 127.0.0.1"],
                   zones={"far.test.": "static"}) as dns:
        dns.address   # "127.0.0.1:PORT", for [dns] resolver
"""

import os
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import time

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"
PORT_RANGE = (20000, 32000)   # below the ephemeral range, as pg_cluster.py


def _query(port, name, qtype=1, timeout=0.5):
    """One UDP query to 127.0.0.1:port; the RCODE of the answer, or None without one."""
    qid = random.randrange(65536)
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.strip(".").split("."))
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question + b"\0" + \
        struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, ("127.0.0.1", port))
        try:
            data, _ = s.recvfrom(4096)
        except socket.timeout:
            return None
    if len(data) < 12 or struct.unpack(">H", data[:2])[0] != qid:
        return None
    return data[3] & 0x0F


class DnsServer:
    def __init__(self, records, zones):
        """`records`: local-data lines ("name. TYPE data"); `zones`: local-zone name → type
        ("static": only the records given, NXDOMAIN for other names; "deny": queries dropped,
        so a client times out; "refuse": REFUSED, which a resolver reports as SERVFAIL)."""
        self.records = list(records)
        self.zones = dict(zones)
        self.dir = None
        self.process = None
        self.port = None

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def _config(self, port):
        lines = ["server:",
                 "  interface: 127.0.0.1", f"  port: {port}",
                 "  do-daemonize: no", '  username: ""', '  chroot: ""',
                 f'  directory: "{self.dir}"', '  pidfile: ""',
                 "  use-syslog: no", f'  logfile: "{self.dir}/unbound.log"', "  verbosity: 1",
                 "  do-ip6: no", "  access-control: 127.0.0.0/8 allow",
                 '  module-config: "iterator"',
                 # every name not in a test zone: refused, never looked up on the internet
                 '  local-zone: "." refuse']
        for zone, kind in self.zones.items():
            lines.append(f'  local-zone: "{zone}" {kind}')
        for record in self.records:
            lines.append(f'  local-data: "{record}"')
        lines += ["remote-control:", "  control-enable: no"]
        return "\n".join(lines) + "\n"

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="missive-dns-")
        os.chmod(self.dir, 0o755)
        for port in random.sample(range(*PORT_RANGE), 20):
            conf = os.path.join(self.dir, "unbound.conf")
            with open(conf, "w") as f:
                f.write(self._config(port))
            self.process = subprocess.Popen([UNBOUND, "-d", "-c", conf],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.process.poll() is None:
                if _query(port, "ready.invalid", timeout=0.2) is not None:
                    self.port = port
                    return self
            self._kill()   # the port was taken, or it did not start: another port
        raise AssertionError(f"unbound did not start; its log:\n{self.log()}")

    def log(self):
        try:
            with open(os.path.join(self.dir, "unbound.log"), errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def _kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def stop(self):
        self._kill()
        if self.dir and not os.environ.get("MISSIVE_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
