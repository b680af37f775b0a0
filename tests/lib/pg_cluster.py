"""A private PostgreSQL cluster for the tests: initdb in a temporary directory as an
unprivileged user, listening only on 127.0.0.1 (a free port) and on a socket in that
directory, trust authentication for the role `missive` (a superuser, so that the tests can
CREATE DATABASE), stopped and removed at the end. The system cluster and its port and
socket directory are never touched.

As a script (the ctest fixture, tests/CMakeLists.txt):
    python3 pg_cluster.py start STATE_DIR   starts a cluster, writes STATE_DIR/url, prints it
    python3 pg_cluster.py stop STATE_DIR    stops the cluster started there, removes it
As a module: PgCluster() (start/stop/url), e.g. for a test that stops PostgreSQL under load
and must not take the shared cluster away from the other tests.

Debian's postgresql package provides the binaries (/usr/lib/postgresql/N/bin); MISSIVE_PG_BIN
names another directory. initdb refuses to run as root: under root (CI) the cluster runs as
the system user `missive-test`, created when missing.
"""

import glob
import os
import pwd
import random
import shutil
import subprocess
import sys
import tempfile
import time

TEST_USER = "missive-test"
ROLE = "missive"
HOST = "127.0.0.1"
# Below the ephemeral range (32768-60999 on Linux), so that no client socket's source port
# holds the port PostgreSQL wants; PostgreSQL cannot listen on port 0 and report it.
PORT_RANGE = (20000, 32000)
PORT_TRIES = 20
START_TIMEOUT = 60


class PgClusterError(AssertionError):
    """The cluster could not be set up (a failure of the test run, never a skip)."""


def pg_bin(tool):
    """The path of a PostgreSQL server binary (initdb, pg_ctl, postgres)."""
    base = os.environ.get("MISSIVE_PG_BIN")
    if not base:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                       key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
        if not found:
            raise PgClusterError("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin); "
                                 "install Debian's postgresql (scripts/setup.sh) or set MISSIVE_PG_BIN")
        base = os.path.dirname(found[-1])
    path = os.path.join(base, tool)
    if not os.access(path, os.X_OK):
        raise PgClusterError(f"{path} is not executable")
    return path


def _ensure_test_user():
    """Under root: the unprivileged system user the cluster runs as (created if missing)."""
    try:
        return pwd.getpwnam(TEST_USER)
    except KeyError:
        pass
    r = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        "--user-group", TEST_USER], capture_output=True, text=True)
    try:
        return pwd.getpwnam(TEST_USER)  # also when a concurrent run created it first
    except KeyError:
        raise PgClusterError(f"cannot create the system user {TEST_USER}: {r.stderr.strip()}") \
            from None


class PgCluster:
    """One private cluster. base_dir: the temporary directory holding the data directory,
    the socket and the log (made by start(), removed by stop())."""

    def __init__(self, base_dir=None, port=None):
        self.base_dir = base_dir
        self.port = port

    @property
    def data_dir(self):
        return os.path.join(self.base_dir, "data")

    @property
    def log_path(self):
        return os.path.join(self.base_dir, "postgres.log")

    @property
    def url(self):
        """The URL of the maintenance database `postgres` as the role `missive`."""
        return f"postgresql://{ROLE}@{HOST}:{self.port}/postgres"

    def _run(self, cmd, timeout=START_TIMEOUT, check=True):
        """Run a PostgreSQL tool as the unprivileged user (under root) or as ourselves."""
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", TEST_USER, "--"] + cmd
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL, cwd="/")
        if check and r.returncode != 0:
            raise PgClusterError(f"{' '.join(cmd)} failed with status {r.returncode}:\n"
                                 f"{r.stdout}{r.stderr}\n{self.log_tail()}")
        return r

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def init(self):
        """initdb into a fresh temporary directory, configured for the tests."""
        if self.base_dir is None:
            self.base_dir = tempfile.mkdtemp(prefix="missive-pg-")
        os.makedirs(self.base_dir, exist_ok=True)
        if os.geteuid() == 0:
            user = _ensure_test_user()
            os.chown(self.base_dir, user.pw_uid, user.pw_gid)
        os.chmod(self.base_dir, 0o700)
        self._run([pg_bin("initdb"), "-D", self.data_dir, "-U", ROLE, "--auth=trust",
                   "--encoding=UTF8", "--locale=C", "--no-instructions"])
        with open(os.path.join(self.data_dir, "pg_hba.conf"), "w") as f:
            f.write("# the tests' private cluster: the role missive, over its socket or 127.0.0.1\n"
                    f"local all {ROLE} trust\n"
                    f"host  all {ROLE} {HOST}/32 trust\n")
        with open(os.path.join(self.data_dir, "postgresql.conf"), "a") as f:
            f.write("\n# tests/lib/pg_cluster.py\n"
                    f"listen_addresses = '{HOST}'\n"
                    f"unix_socket_directories = '{self.base_dir}'\n"
                    "max_connections = 300\n"
                    "shared_buffers = 32MB\n"
                    "fsync = on\n"
                    "synchronous_commit = on\n"
                    "log_min_messages = warning\n"
                    "log_connections = off\n")
        return self

    def start(self):
        """Start on a free port (tries a few: PostgreSQL cannot take port 0); returns self."""
        if self.base_dir is None or not os.path.isdir(self.data_dir):
            self.init()
        ports = [self.port] if self.port else \
            random.sample(range(*PORT_RANGE), PORT_TRIES)
        for port in ports:
            r = self._run([pg_bin("pg_ctl"), "start", "-D", self.data_dir, "-l", self.log_path,
                           "-w", "-t", str(START_TIMEOUT), "-o", f"-p {port}"], check=False)
            if r.returncode == 0:
                self.port = port
                return self
            log = self.log_tail(10)
            if "could not bind" not in log and "already in use" not in log:
                raise PgClusterError(f"pg_ctl start failed (status {r.returncode}):\n"
                                     f"{r.stdout}{r.stderr}\n{self.log_tail()}")
        raise PgClusterError(f"no free port for PostgreSQL after {len(ports)} tries: "
                             f"{self.log_tail()}")

    def running(self):
        r = self._run([pg_bin("pg_ctl"), "status", "-D", self.data_dir], check=False)
        return r.returncode == 0

    def stop_server(self, mode="fast"):
        """Stop the server, keep the data (start() brings it back on the same port)."""
        if self.base_dir and os.path.isdir(self.data_dir) and self.running():
            self._run([pg_bin("pg_ctl"), "stop", "-D", self.data_dir, "-m", mode, "-w",
                       "-t", str(START_TIMEOUT)])

    def stop(self):
        """Stop the server and remove its directory."""
        try:
            self.stop_server()
        finally:
            if self.base_dir:
                shutil.rmtree(self.base_dir, ignore_errors=True)


# -- the ctest fixture: state in STATE_DIR (url, and where the cluster lives) -------------

def _state(state_dir, name):
    return os.path.join(state_dir, name)


def fixture_stop(state_dir):
    """Stop the cluster whose place STATE_DIR/cluster names, if any; forget it."""
    try:
        with open(_state(state_dir, "cluster")) as f:
            base_dir = f.read().strip()
    except FileNotFoundError:
        return
    try:
        if base_dir:
            PgCluster(base_dir).stop()
    finally:
        for name in ("url", "cluster"):
            try:
                os.unlink(_state(state_dir, name))
            except FileNotFoundError:
                pass


def fixture_start(state_dir):
    """Start a cluster for one test run; write its URL to STATE_DIR/url; return the URL."""
    os.makedirs(state_dir, exist_ok=True)
    fixture_stop(state_dir)  # the leftover of an interrupted run
    cluster = PgCluster()
    try:
        cluster.init()
        with open(_state(state_dir, "cluster"), "w") as f:
            f.write(cluster.base_dir + "\n")
        cluster.start()
    except BaseException:
        fixture_stop(state_dir)
        raise
    tmp = _state(state_dir, "url.tmp")
    with open(tmp, "w") as f:
        f.write(cluster.url + "\n")
    os.replace(tmp, _state(state_dir, "url"))
    return cluster.url


def main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        sys.stderr.write(f"usage: {argv[0]} start|stop STATE_DIR\n")
        return 64
    if argv[1] == "start":
        t0 = time.monotonic()
        url = fixture_start(argv[2])
        print(url)
        sys.stderr.write(f"pg_cluster: started in {time.monotonic() - t0:.1f}s\n")
    else:
        fixture_stop(argv[2])
        print("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
