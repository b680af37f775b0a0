#!/usr/bin/env bash
# The fault suite's long versions (issue 6, "nothing lost"): runs each fault module with
# MISSIVE_SOAK=1 (200 SIGKILLs in the crash loop, 200 POP3 rounds, ...) against the binaries
# in build/, one module at a time, each bounded in time.
#
# Usage:
#   tests/soak.sh                       # every fault module
#   tests/soak.sh test_pop3_faults ...  # only these modules
# Environment:
#   MISSIVED, MISSIVE          the binaries (default: build/server/missived, build/client/missive)
#   SOAK_MODULE_TIMEOUT        seconds one module may run before it is stopped (default 1800)
#
# A module that is missing is an error, never a silent skip. Exit status: 0 if every module
# passed, 1 otherwise (including a module stopped at its time bound, status 124/137).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

modules=("$@")
if [ ${#modules[@]} -eq 0 ]; then
  modules=(test_crash_recovery test_graceful_shutdown test_pop3_faults test_next_hop_faults
           test_load_held test_storage_failures test_disk_full test_sync_before_reply)
fi

export MISSIVED="${MISSIVED:-$root/build/server/missived}"
export MISSIVE="${MISSIVE:-$root/build/client/missive}"
limit="${SOAK_MODULE_TIMEOUT:-1800}"

fail() { echo "soak: $*" >&2; exit 1; }
command -v timeout >/dev/null || fail "the 'timeout' tool (coreutils) is not installed"
command -v python3 >/dev/null || fail "python3 is not installed"
[ -x "$MISSIVED" ] || fail "missived not found or not executable: $MISSIVED (set MISSIVED)"
[ -x "$MISSIVE" ] || fail "missive not found or not executable: $MISSIVE (set MISSIVE)"
[[ "$limit" =~ ^[0-9]+$ ]] || fail "SOAK_MODULE_TIMEOUT must be whole seconds, not '$limit'"

missing=()
for m in "${modules[@]}"; do
  [ -f "$here/integration/$m.py" ] || missing+=("$m")
done
[ ${#missing[@]} -eq 0 ] || fail "no such module in tests/integration: ${missing[*]}"

export MISSIVE_SOAK=1 PYTHONPATH="$here/lib" PYTHONDONTWRITEBYTECODE=1
cd "$here/integration"
results=()
failed=0
for m in "${modules[@]}"; do
  echo "== $m (MISSIVE_SOAK=1, at most ${limit}s)"
  start=$SECONDS
  # timeout signals its whole process group, so the relays a stopped module started go too.
  timeout --kill-after=30 "$limit" python3 -m unittest -v "$m"
  status=$?
  took=$((SECONDS - start))
  case $status in
    0) results+=("ok      $m (${took}s)") ;;
    124|137) results+=("TIMEOUT $m (${took}s, bound ${limit}s)"); failed=1 ;;
    *) results+=("FAILED  $m (status $status, ${took}s)"); failed=1 ;;
  esac
done

echo "== soak summary"
printf '%s\n' "${results[@]}"
exit $failed
