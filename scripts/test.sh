#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests, then integration and
# end-to-end tests against a real missived on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ctest --test-dir build --output-on-failure --timeout 600 -j2 "$@"
