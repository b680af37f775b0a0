"""The man pages in man/: clean under mandoc's and groff's lint, and complete: every
subcommand of missived and missive and every key the config loader knows is described."""

import os
import re
import subprocess
import unittest

from missive_harness import missived_path, require_tool

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PAGES = {"missived.8": 8, "missive.1": 1, "missived.toml.5": 5}


def page(name):
    with open(os.path.join(ROOT, "man", name), encoding="utf-8") as f:
        return f.read()


def missive_path():
    path = os.environ.get("MISSIVE") or os.path.join(ROOT, "build", "client", "missive")
    if not os.access(path, os.X_OK):
        raise AssertionError(f"missive binary not found: {path!r} (set MISSIVE)")
    return path


def subcommands(*command):
    """The subcommands a CLI11 --help lists under SUBCOMMANDS."""
    out = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=10).stdout
    names, inside = [], False
    for line in out.splitlines():
        if line.upper().startswith("SUBCOMMANDS"):
            inside = True
        elif inside and re.match(r"^  \S", line):
            names.append(line.split()[0])
        elif inside and line and not line.startswith(" "):
            inside = False
    return names


class ManPageLintTest(unittest.TestCase):

    def test_mandoc_lint_finds_nothing(self):
        mandoc = require_tool("mandoc")
        for name in PAGES:
            with self.subTest(page=name):
                r = subprocess.run([mandoc, "-T", "lint", os.path.join(ROOT, "man", name)],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_groff_warns_about_nothing(self):
        man = require_tool("man")
        for name in PAGES:
            with self.subTest(page=name):
                r = subprocess.run([man, "--warnings", "-E", "UTF-8", "-l", os.path.join(ROOT, "man", name)],
                                   capture_output=True, text=True, timeout=30,
                                   env={**os.environ, "MANWIDTH": "80", "MAN_KEEP_STDERR": "1"})
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stderr, "")
                self.assertIn("\nNAME\n", r.stdout)

    def test_sections_match_file_names(self):
        for name, section in PAGES.items():
            m = re.search(r"^\.TH (\S+) (\d)", page(name), re.M)
            self.assertEqual((m.group(1), int(m.group(2))), (name.rsplit(".", 1)[0].upper(), section))


class ManPageCompletenessTest(unittest.TestCase):

    def test_missived_page_names_every_subcommand(self):
        text = page("missived.8")
        top = subcommands(missived_path())
        self.assertIn("queue", top)
        for group in top:
            nested = subcommands(missived_path(), group)
            for sub in nested or [""]:
                command = f"{group} {sub}".strip()
                with self.subTest(command=command):
                    # `serve` is the default: the synopsis writes it [serve]
                    pattern = (r"\n\.RB \[ serve \]\n" if command == "serve"
                               else rf"\n\.B missived {command}\b")
                    self.assertTrue(re.search(pattern, text), f"missived(8) lacks {command}")

    def test_missive_page_names_every_subcommand(self):
        text = page("missive.1")
        names = subcommands(missive_path())
        self.assertIn("send", names)
        for name in names:
            with self.subTest(command=name):
                self.assertTrue(re.search(rf"\n\.BI? \"?{name}\b", text), f"missive(1) lacks {name}")

    def test_config_page_names_every_key_the_loader_knows(self):
        with open(os.path.join(ROOT, "server", "daemon", "server_config.cpp"), encoding="utf-8") as f:
            source = f.read()
        text = page("missived.toml.5")
        sections = re.findall(r'reader\.each\([^,]+, "([a-z0-9_.]*)", \{([^}]*)\}', source)
        self.assertGreaterEqual(len(sections), 7)
        for prefix, keys in sections:
            heading = {"": "TOP LEVEL", "route.": "[[route]]", "dkim.": "[[dkim]]"}.get(prefix, f"[{prefix[:-1]}]")
            body = text.split(f".SH {heading}\n", 1)[1].split("\n.SH ", 1)[0]
            for key in re.findall(r'"([a-z0-9_]+)"', keys):
                if prefix == "" and key in ("smtp", "pop3", "tls", "queue", "store", "dns", "metrics", "route", "dkim",
                                             "checks", "srs"):
                    continue  # tables: their own sections
                with self.subTest(key=prefix + key):
                    self.assertTrue(re.search(rf"\n\.BR? [^\n]*\b{key}\b", body),
                                    f"missived.toml(5) lacks {prefix}{key}")

    def test_exit_codes_of_the_code_are_documented(self):
        with open(os.path.join(ROOT, "common", "exit_codes.hpp"), encoding="utf-8") as f:
            codes = {int(c) for c in re.findall(r"= (\d+);", f.read())}
        used_by_missived = codes - {69, 75, 77}  # the client's: server answers
        exit_section = page("missived.8").split(".SH EXIT STATUS", 1)[1].split("\n.SH ", 1)[0]
        for code in sorted(used_by_missived):
            with self.subTest(code=code):
                self.assertIn(f"\n.B {code}\n", exit_section)


if __name__ == "__main__":
    unittest.main()
