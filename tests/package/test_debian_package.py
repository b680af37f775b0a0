"""The Debian package, built by `cpack -G DEB` from the build directory: lintian finds no
error or warning, systemd-analyze accepts the unit, the files are where Debian wants them,
and the relay and client taken out of the package (dpkg-deb -x) send and read back a
message. Nothing is installed on this machine and no system service is started."""

import glob
import gzip
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from missive_harness import DOMAIN, HOST, MissiveServer, require_tool

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
UNIT = "usr/lib/systemd/system/missived.service"
CONFFILE = "etc/missive/missived.toml"
FILES = {
    "etc/missive/missived.toml", "usr/bin/missive", "usr/bin/missived", UNIT,
    "usr/share/doc/missive/changelog.Debian.gz", "usr/share/doc/missive/copyright",
    "usr/share/lintian/overrides/missive", "usr/share/man/man1/missive.1.gz",
    "usr/share/man/man5/missived.toml.5.gz", "usr/share/man/man8/missived.8.gz",
}


def build_dir():
    path = os.environ.get("MISSIVE_BUILD_DIR") or os.path.join(ROOT, "build")
    if not os.path.isfile(os.path.join(path, "CPackConfig.cmake")):
        raise AssertionError(f"no CPackConfig.cmake in {path!r} (set MISSIVE_BUILD_DIR)")
    return path


def run(*command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=kwargs.pop("timeout", 120),
                          **kwargs)


class DebianPackageTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="missive-package-")
        cls.addClassCleanup(shutil.rmtree, cls.work, True)
        r = run(require_tool("cpack"), "-G", "DEB", "-B", os.path.join(cls.work, "out"),
                cwd=build_dir(), timeout=300)
        if r.returncode != 0:
            raise AssertionError(f"cpack failed:\n{r.stdout}\n{r.stderr}")
        [cls.deb] = glob.glob(os.path.join(cls.work, "out", "missive_*.deb"))
        cls.tree = os.path.join(cls.work, "tree")
        r = run(require_tool("dpkg-deb"), "-x", cls.deb, cls.tree)
        if r.returncode != 0:
            raise AssertionError(f"dpkg-deb -x failed: {r.stderr}")
        cls.control = os.path.join(cls.work, "control")
        run("dpkg-deb", "-e", cls.deb, cls.control).check_returncode()

    def path(self, relative):
        return os.path.join(self.tree, relative)

    def field(self, name):
        r = run("dpkg-deb", "-f", self.deb, name)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def test_lintian_reports_no_error_or_warning(self):
        r = run(require_tool("lintian"), "--tag-display-limit", "0", self.deb, timeout=180)
        tags = [line for line in r.stdout.splitlines() if re.match(r"^[EW]: ", line)]
        self.assertEqual(tags, [], r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_the_files_and_nothing_else(self):
        found = set()
        for directory, _, names in os.walk(self.tree):
            for name in names:
                found.add(os.path.relpath(os.path.join(directory, name), self.tree))
        self.assertEqual(found, FILES)
        for binary in ("usr/bin/missived", "usr/bin/missive"):
            self.assertTrue(os.access(self.path(binary), os.X_OK), binary)
        self.assertFalse(os.path.exists(self.path("usr/sbin")), "no /usr/sbin/sendmail")

    def test_control(self):
        self.assertEqual(self.field("Package"), "missive")
        self.assertEqual(self.field("Section"), "mail")
        self.assertRegex(self.field("Version"), r"^\d+\.\d+\.\d+-1$")
        depends = [d.strip().split()[0] for d in self.field("Depends").split(",")]
        for needed in ("adduser", "init-system-helpers", "libc6", "libsqlite3-0", "libssl3", "libpq5"):
            self.assertIn(needed, depends)
        with open(os.path.join(self.control, "conffiles")) as f:
            self.assertEqual(f.read(), "/etc/missive/missived.toml\n")

    def test_maintainer_scripts(self):
        with open(os.path.join(self.control, "postinst")) as f:
            postinst = f.read()
        self.assertRegex(postinst, r"adduser --system --group [^\n]*\\\n[^\n]* missive\n")
        self.assertIn("deb-systemd-helper enable 'missived.service'", postinst)
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(self.control, script)
            self.assertTrue(os.access(path, os.X_OK), script)
            with open(path) as f:
                text = f.read()
            self.assertNotIn("update-alternatives", text, "sendmail is not offered")
            self.assertNotIn("sendmail", text)
            r = run("sh", "-n", path)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_systemd_accepts_the_unit(self):
        analyze = require_tool("systemd-analyze")
        # verify resolves ExecStart= and man: pages in --root: the package's tree, with the
        # system's targets for the unit's default dependencies.
        root = os.path.join(self.work, "verify-root")
        shutil.copytree(self.tree, root)
        for target in glob.glob("/lib/systemd/system/*.target"):
            shutil.copy(target, os.path.join(root, "usr/lib/systemd/system"))
        unit = os.path.join(root, UNIT)
        r = run(analyze, "verify", f"--root={root}", unit,
                env={**os.environ, "MANPATH": os.path.join(root, "usr/share/man")})
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))
        r = run(analyze, "security", "--offline=true", f"--root={root}", unit)
        level = re.search(r"Overall exposure level for missived.service: (\d+\.\d+)", r.stdout)
        self.assertIsNotNone(level, r.stdout + r.stderr)
        self.assertLessEqual(float(level.group(1)), 2.0, r.stdout)

    def test_unit_settings(self):
        with open(self.path(UNIT)) as f:
            settings = [line.strip() for line in f if re.match(r"^\w+=", line)]
        for wanted in ("User=missive", "StateDirectory=missive", "ProtectSystem=strict",
                       "NoNewPrivileges=yes", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                       "ExecStart=/usr/bin/missived serve --config /etc/missive/missived.toml",
                       "RestartPreventExitStatus=78"):
            self.assertIn(wanted, settings)
        # The relay does not re-read its configuration: no reload that would only pretend.
        self.assertFalse([s for s in settings if s.startswith("ExecReload=")])

    def test_man_pages_are_the_sources_compressed(self):
        for name, section in (("missive.1", 1), ("missived.8", 8), ("missived.toml.5", 5)):
            with gzip.open(self.path(f"usr/share/man/man{section}/{name}.gz"), "rb") as f:
                packaged = f.read()
            with open(os.path.join(ROOT, "man", name), "rb") as f:
                self.assertEqual(packaged, f.read(), name)

    def test_the_packaged_configuration_is_valid(self):
        r = run(self.path("usr/bin/missived"), "check", "--config", self.path(CONFFILE))
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(r.stdout, f"missived: configuration ok: {self.path(CONFFILE)}\n")

    def test_relay_and_client_from_the_package_send_and_read_back(self):
        saved = os.environ.get("MISSIVED")
        os.environ["MISSIVED"] = self.path("usr/bin/missived")
        self.addCleanup(lambda: os.environ.__setitem__("MISSIVED", saved) if saved
                        else os.environ.pop("MISSIVED", None))
        server = MissiveServer(config='[queue]\nretry_initial = "1s"\n', store="sqlite")
        self.addCleanup(server.cleanup)
        server.start()
        alice = f"alice@{DOMAIN}"
        server.add_user(alice, "packaged secret")
        home = os.path.join(self.work, "home")
        os.makedirs(home, exist_ok=True)
        env = {**os.environ, "HOME": home, "XDG_CONFIG_HOME": os.path.join(home, ".config"),
               "XDG_DATA_HOME": os.path.join(home, ".local/share"),
               "MISSIVE_PASSWORD": "packaged secret"}
        client = [self.path("usr/bin/missive"), "--server", HOST,
                  "--smtp-port", str(server.smtp_port), "--pop3-port", str(server.pop3_port),
                  "--user", alice]
        r = subprocess.run([*client, "send", "--from", alice, "--to", alice, "--subject",
                            "from the package"], input="Sent and read by the packaged tools.\n",
                           capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"queued as [A-Z0-9]+")
        r = subprocess.run([*client, "inbox"], capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("from the package", r.stdout)
        r = subprocess.run([*client, "read", "1"], capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Sent and read by the packaged tools.", r.stdout)
        self.assertIn("from the package", r.stdout)
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main()
