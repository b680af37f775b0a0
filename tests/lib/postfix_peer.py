"""A private Postfix (Debian's `postfix`) for tests, as bench/compare.sh runs one: its own
configuration, queue and log in a temporary directory, smtpd on a high port of 127.0.0.1,
never the system instance. It relays by transport_maps (domain -> [127.0.0.1]:port) and
delivers nothing locally. Started and stopped by the test; every wait is bounded.

Needs root (Postfix's master runs as root) and the package; a missing one fails loudly."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

from missive_harness import HOST, HarnessError, HeldPort, wait_until

POSTFIX = "/usr/sbin/postfix"

def master_cf(listen):
    """master.cf: an smtpd on `listen`, then the services shared with the benchmarks."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "postfix_master.cf")) as f:
        return f"{listen} inet n - n - - smtpd\n" + f.read()


def require_postfix():
    if not os.access(POSTFIX, os.X_OK):
        raise HarnessError("postfix is not installed (scripts/setup.sh installs it)")
    if os.geteuid() != 0:
        raise HarnessError("a private Postfix needs root (its master runs as root)")


class PostfixPeer:
    """routes: {domain: port on 127.0.0.1}; the port Postfix listens on is .port."""

    def __init__(self, routes, hostname="postfix.peer.test"):
        require_postfix()
        self.dir = tempfile.mkdtemp(prefix="missive-postfix-")
        os.chmod(self.dir, 0o755)
        self.held = HeldPort(for_listener=True)
        self.port = self.held.port
        self.hostname = hostname
        self.routes = dict(routes)
        self.started = False

    @property
    def maillog(self):
        return os.path.join(self.dir, "maillog")

    def _write_config(self):
        etc = os.path.join(self.dir, "etc")
        for sub in ("etc", "queue", "data"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        shutil.chown(os.path.join(self.dir, "data"), "postfix")
        transport = ", ".join(f"{d}=smtp:[{HOST}]:{p}" for d, p in self.routes.items())
        relay_domains = ", ".join(self.routes)
        with open(os.path.join(etc, "main.cf"), "w") as f:
            f.write(f"""\
compatibility_level = 3.6
queue_directory = {self.dir}/queue
data_directory = {self.dir}/data
maillog_file = {self.maillog}
maillog_file_prefixes = {self.dir}
myhostname = {self.hostname}
mydomain = peer.test
myorigin = peer.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = {HOST}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = {relay_domains}
transport_maps = inline:{{ {transport} }}
smtp_dns_support_level = disabled
smtp_tls_security_level = none
smtpd_tls_security_level = none
minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s
biff = no
""")
        with open(os.path.join(etc, "master.cf"), "w") as f:
            f.write(master_cf(f"{HOST}:{self.port}"))

    def start(self, timeout=30):
        self._write_config()
        etc = os.path.join(self.dir, "etc")
        r = subprocess.run([POSTFIX, "-c", etc, "start"], capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise HarnessError(f"postfix did not start: {r.stdout}{r.stderr}\n{self.log()}")
        self.started = True

        def answers():
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as s:
                    return s.recv(512).startswith(b"220")
            except OSError:
                return False
        wait_until(answers, timeout, what=f"postfix answering on {self.port}")
        return self

    def stop(self):
        if self.started:
            etc = os.path.join(self.dir, "etc")
            try:
                subprocess.run([POSTFIX, "-c", etc, "stop"], capture_output=True, timeout=30)
            except subprocess.TimeoutExpired:
                subprocess.run([POSTFIX, "-c", etc, "abort"], capture_output=True, timeout=10)
            # master exits shortly after "stop"; its pid file goes with it
            pid_file = os.path.join(self.dir, "queue", "pid", "master.pid")
            deadline = time.monotonic() + 10
            while os.path.exists(pid_file) and time.monotonic() < deadline:
                time.sleep(0.1)
            self.started = False
        self.held.close()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except OSError:
            return "(no maillog)"

    def wait_log(self, pattern, timeout=30):
        """Wait (bounded) until the maillog matches `pattern`; returns the match."""
        regex = re.compile(pattern, re.M)
        try:
            return wait_until(lambda: regex.search(self.log()), timeout,
                              what=f"postfix log matching {pattern!r}")
        except HarnessError as e:
            raise HarnessError(f"{e}\n{self.log()[-4000:]}") from None
