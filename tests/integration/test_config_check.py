"""`missived check`: every problem of a configuration with its file, line and key, exit 78;
nothing started. The relay's start refuses the same file with the same words."""

import os
import shutil
import subprocess
import tempfile
import unittest

from missive_harness import HOST, missived_path


class ConfigCheckTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="missive-check-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        # The default data directory, relative to the working directory: check must not make it.
        self.data_dir = os.path.join(self.dir, "missive-data")

    def write(self, text, name="missived.toml"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def check(self, path, *extra):
        return subprocess.run([missived_path(), "check", "--config", path, *extra],
                              capture_output=True, text=True, timeout=30, cwd=self.dir)

    def problems(self, text):
        """Runs check on `text`; asserts exit 78, nothing on stdout, nothing created; returns
        the problems with the file's path written FILE."""
        path = self.write(text)
        r = self.check(path)
        self.assertEqual(r.returncode, 78, (r.stdout, r.stderr))
        self.assertEqual(r.stdout, "")
        self.assertFalse(os.path.exists(self.data_dir), "check created the data directory")
        prefix = "missived: configuration error: "
        lines = r.stderr.splitlines()
        for line in lines:
            self.assertTrue(line.startswith(prefix + path + ":"), line)
        return [line[len(prefix):].replace(path, "FILE") for line in lines]

    def test_unknown_key(self):
        self.assertEqual(self.problems('[smtp]\nlisten = ["127.0.0.1:2525"]\nlisten_too = 1\n'),
                         ["FILE:3: unknown key 'smtp.listen_too'"])

    def test_bad_duration(self):
        self.assertEqual(self.problems('\n[queue]\nretry_max = "an hour"\n'),
                         ['FILE:3: queue.retry_max: expected a duration such as "30s", "5m", '
                          '"1h" or "5d"'])

    def test_delay_warning(self):
        self.assertEqual(self.problems('[queue]\ndelay_warning = "soon"\n'),
                         ['FILE:2: queue.delay_warning: expected a duration such as "30s", "5m", '
                          '"1h" or "5d", or "0"'])
        self.assertEqual(self.problems('[queue]\ndelay_warning = 4\n')[0][:30],
                         "FILE:2: queue.delay_warning: e")
        for good in ('"0"', '"0s"', '"30s"', '"4h"'):
            r = self.check(self.write(f'[queue]\ndelay_warning = {good}\n'))
            self.assertEqual(r.returncode, 0, (good, r.stdout, r.stderr))

    def test_bad_address(self):
        self.assertEqual(self.problems('[pop3]\nlisten = ["localhost:110"]\n'),
                         ["FILE:2: pop3.listen: 'localhost:110' is not an address:port such as "
                          '"127.0.0.1:2525" or "[::1]:2525"'])

    def test_bad_route(self):
        self.assertEqual(
            self.problems('[[route]]\ndomain = "a.test"\nhost = "127.0.0.1:2526"\ntls = "maybe"\n'
                          '\n[[route]]\ndomain = "b.test"\n'),
            ['FILE:4: route.tls: expected "opportunistic", "required" or "none"',
             "FILE:6: route: needs both 'domain' and 'host'"])

    def test_missing_certificate(self):
        missing = os.path.join(self.dir, "no-such-cert.pem")
        key = self.write("not a key\n", "key.pem")
        self.assertEqual(self.problems(f'hostname = "mx.example.test"\n[tls]\ncert = "{missing}"\n'
                                       f'key = "{key}"\n'),
                         [f"FILE:3: tls.cert: cannot read {missing}: No such file or directory"])

    def test_certificate_without_key(self):
        cert = self.write("x\n", "cert.pem")
        self.assertEqual(self.problems(f'[tls]\n\ncert = "{cert}"\n'),
                         ["FILE:3: tls.cert: [tls] needs both cert and key"])

    def test_implicit_tls_without_certificate(self):
        self.assertEqual(self.problems('[smtp]\nsubmissions = ["127.0.0.1:2465"]\n'),
                         ["FILE:2: smtp.submissions: implicit TLS needs [tls] cert and key"])

    def test_missing_dkim_key(self):
        missing = os.path.join(self.dir, "no-such-key.pem")
        [problem] = self.problems(f'domains = ["example.test"]\n\n[[dkim]]\ndomain = "example.test"\n'
                                  f'selector = "s1"\nkey = "{missing}"\n')
        self.assertTrue(problem.startswith(f"FILE:3: dkim: DKIM key {missing} (d=example.test, s=s1): "
                                           "cannot read it"), problem)

    def test_run_as_names_a_user(self):
        self.assertEqual(self.problems('\nrun_as = "no-such-user-here"\n'),
                         ["FILE:2: run_as: there is no user 'no-such-user-here'"])
        self.assertEqual(self.problems('run_as = "root"\n'), ["FILE:1: run_as: 'root' is root"])

    def test_every_problem_in_one_run_in_file_order(self):
        self.assertEqual(
            [p.split(": ")[0] + ": " + p.split(": ")[1] for p in self.problems(
                'bogus = 1\n[smtp]\ncommand_timeout = "soon"\nlisten = ["nowhere"]\n'
                '[queue]\nmax_lifetime = 5\n[[route]]\ndomain = "x.test"\nhost = "1.2.3.4"\n')],
            ["FILE:1: unknown key 'bogus'", "FILE:3: smtp.command_timeout",
             "FILE:4: smtp.listen", "FILE:6: queue.max_lifetime", "FILE:9: route.host"])

    def test_syntax_error_names_the_line(self):
        self.assertEqual(len(self.problems('hostname = "a"\n[smtp\n')), 1)
        self.assertTrue(self.problems('hostname = "a"\n[smtp\n')[0].startswith("FILE:2: "))

    def test_a_good_configuration_passes_without_starting_anything(self):
        cert, key = os.path.join(self.dir, "cert.pem"), os.path.join(self.dir, "key.pem")
        r = subprocess.run([missived_path(), "tls", "selfsigned", "--cert", cert, "--key", key,
                            "--host", "mx.example.test"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        path = self.write(f'hostname = "mx.example.test"\ndata_dir = "{self.data_dir}"\n'
                          f'[smtp]\nlisten = ["{HOST}:1"]\nsubmissions = ["{HOST}:2"]\n'
                          f'[tls]\ncert = "{cert}"\nkey = "{key}"\n'
                          '[[route]]\ndomain = "*"\nhost = "127.0.0.1:2527"\n')
        r = self.check(path)
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (0, f"missived: configuration ok: {path}\n", ""))
        self.assertFalse(os.path.exists(self.data_dir))

    def test_the_built_in_defaults_pass(self):
        r = subprocess.run([missived_path(), "check", "--data-dir", self.data_dir],
                           capture_output=True, text=True, timeout=30, cwd=self.dir)
        self.assertEqual((r.returncode, r.stdout), (0, "missived: configuration ok: built-in defaults\n"))
        self.assertFalse(os.path.exists(self.data_dir))

    def test_missing_config_file(self):
        r = self.check(os.path.join(self.dir, "absent.toml"))
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("absent.toml", r.stderr)

    def test_the_relay_refuses_what_check_refuses_with_the_same_words(self):
        missing = os.path.join(self.dir, "gone.pem")
        path = self.write(f'data_dir = "{self.data_dir}"\n[tls]\ncert = "{missing}"\nkey = "{missing}"\n')
        checked = self.check(path)
        started = subprocess.run([missived_path(), "serve", "--config", path, "--smtp", f"{HOST}:0",
                                  "--pop3", f"{HOST}:0"],
                                 capture_output=True, text=True, timeout=30, cwd=self.dir)
        self.assertEqual((checked.returncode, started.returncode), (78, 78))
        self.assertEqual(started.stderr.splitlines(), checked.stderr.splitlines())
        self.assertEqual(len(checked.stderr.splitlines()), 2)


if __name__ == "__main__":
    unittest.main()
