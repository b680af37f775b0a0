#!/usr/bin/env bash
# Installs what is missing, builds, and starts the relay on its embedded defaults:
# SQLite in ./missive-data, SMTP on 127.0.0.1:2525, POP3 on 127.0.0.1:2110, domain localhost.
# Extra arguments go to `missived serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec ./build/server/missived serve "$@"
