#!/usr/bin/env bash
# Installs the Debian packages Missive needs (only those missing), then configures and
# builds it in ./build. Used by start.sh and test.sh; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # build (Debian 12's libsqlite3 is built with FTS5, which `missive search` needs: no
  # further package)
  g++ cmake ninja-build pkg-config ccache
  libasio-dev libsqlite3-dev libpq-dev libunbound-dev libfmt-dev doctest-dev libssl-dev libtomlplusplus-dev libcli11-dev
  # the Public Suffix List (Debian publicsuffix) through libpsl: DMARC organisational domains
  libpsl-dev publicsuffix
  # tests: real clients no one here wrote
  python3 python3-aiosmtpd curl swaks mutt
  # the SPF tests: the RFC 7208 test suite ships in python3-spf, read with python3-yaml
  # (test_srs checks a forwarded message's SRS sender with its pyspf);
  # python3-authres parses the Authentication-Results fields missived writes
  python3-spf python3-yaml python3-authres
  # the PostgreSQL store: a private cluster per test run (tests/lib/pg_cluster.py), psycopg2
  # for the tests' own queries
  postgresql python3-psycopg2
  # the DKIM tests: dkimpy verifies what missived signs (python3-nacl for Ed25519)
  python3-dkim python3-nacl
  # the DNS tests: a real DNS server (unbound) serving the test zones on 127.0.0.1
  unbound
  # the fault suite: system-call tracing (250 only after fsync)
  strace
  # the TLS profile test: an outside auditor of protocols, ciphers and known attacks
  testssl.sh
  # the man pages' lint (tests/package/test_man_pages.py; groff comes with man-db)
  mandoc
  # the Debian package (tests/package/test_debian_package.py): cpack's dpkg-shlibdeps and
  # file, the package's lint, systemd-analyze for the unit
  dpkg-dev file lintian systemd
  # the metrics test: promtool checks the exposition, a real Prometheus scrapes it
  prometheus
  # the peer tests (CHUNKING, DSN): a private Postfix on a high loopback port
  # (tests/lib/postfix_peer.py); installed unconfigured, so no system instance runs
  postfix
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  # Postfix "No configuration": no main.cf, no system instance started (tests run their own).
  echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

build_dir=${MISSIVE_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo ${MISSIVE_CMAKE_ARGS:-} >/dev/null
ninja -C "$build_dir"
