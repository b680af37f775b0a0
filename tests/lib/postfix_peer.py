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

# Debian's master.cf without chroot (it would need copies of /etc files in the queue
# directory) and without the pipe transports; smtpd on {listen}.
MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup     unix  n - n 60 1 pickup
cleanup    unix  n - n - 0 cleanup
qmgr       unix  n - n 300 1 qmgr
tlsmgr     unix  - - n 1000? 1 tlsmgr
rewrite    unix  - - n - - trivial-rewrite
bounce     unix  - - n - 0 bounce
defer      unix  - - n - 0 bounce
trace      unix  - - n - 0 bounce
verify     unix  - - n - 1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n - - proxymap
proxywrite unix  - - n - 1 proxymap
smtp       unix  - - n - - smtp
relay      unix  - - n - - smtp
showq      unix  n - n - - showq
error      unix  - - n - - error
retry      unix  - - n - - error
discard    unix  - - n - - discard
local      unix  - n n - - local
virtual    unix  - n n - - virtual
lmtp       unix  - - n - - lmtp
anvil      unix  - - n - 1 anvil
scache     unix  - - n - 1 scache
postlog    unix-dgram n - n - 1 postlogd
"""


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
            f.write(MASTER_CF.format(listen=f"{HOST}:{self.port}"))

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
