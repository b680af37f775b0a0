#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests, then integration and
# end-to-end tests against a real missived on 127.0.0.1; then the whole suite again in a
# build under AddressSanitizer and UndefinedBehaviorSanitizer; then each fuzz target for a
# short bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
ctest --test-dir build --output-on-failure --timeout 600 -j2 "$@"

echo "== the same suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan)"
MISSIVE_BUILD_DIR=build-asan MISSIVE_CMAKE_ARGS="-DMISSIVE_SANITIZE=ON" bash scripts/setup.sh
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure --timeout 900 -j2 "$@"

if [ -f scripts/fuzz.sh ]; then
  echo "== fuzz targets, briefly (scripts/fuzz.sh)"
  FUZZ_SECONDS=${FUZZ_SECONDS:-10} bash scripts/fuzz.sh
fi
