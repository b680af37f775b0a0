#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz/ with clang (ASan + UBSan) into ./build-fuzz,
# then runs them. The main build uses g++ and knows nothing of this.
#
#   scripts/fuzz.sh                 build, then run every target for FUZZ_SECONDS (default 10)
#                                   on a scratch copy of its seed corpus; non-zero if any crashes
#   scripts/fuzz.sh TARGET HOURS    build, then run one target (e.g. fuzz_data_reader) for
#                                   HOURS (fractions allowed) on build-fuzz/corpus/TARGET,
#                                   which keeps what it finds from one run to the next
#   scripts/fuzz.sh --build         build only
#
# Environment: FUZZ_SECONDS, FUZZ_JOBS (long runs: libFuzzer -fork=N, default 1), CXX.
# A crash leaves its input in build-fuzz/artifacts/TARGET/; replay it with
# `build-fuzz/TARGET FILE`. The committed corpus is only ever read.
set -euo pipefail
cd "$(dirname "$0")/.."

# What is needed: clang and its fuzzer and sanitizer runtimes; Asio's and OpenSSL's headers,
# which pop3_client.hpp (the POP3 response parser's header) includes.
packages=(clang libclang-rt-14-dev libasio-dev libssl-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

build=build-fuzz
fuzz_dir=tests/fuzz
targets=(fuzz_smtp_command fuzz_data_reader fuzz_reply_parser fuzz_address fuzz_headers
         fuzz_pop3_command fuzz_mime_parse fuzz_pop3_response fuzz_mx_response
         fuzz_spf_record fuzz_dmarc_record fuzz_dkim_tags
         fuzz_bdat_command fuzz_dsn_parameters)
# The sans-IO codec sources the targets link (no sockets, no SQLite, no Asio; mx_lookup.cpp is
# the MX parser alone, its query is in mx_query.cpp). Asio 1.22 looks for
# <experimental/coroutine> under clang, which libstdc++ lacks, and then declares no
# asio::awaitable, which pop3_client.hpp names: ASIO_HAS_CO_AWAIT says libstdc++'s
# <coroutine> will do (only declarations are compiled here).
sources=(common/base64.cpp common/data_reader.cpp common/dot_stuffing.cpp
         common/mail_address.cpp common/message_headers.cpp common/pop3_command.cpp
         common/sasl_plain.cpp common/smtp_command.cpp common/smtp_reply.cpp
         common/bdat_command.cpp common/dsn_parameters.cpp common/xtext.cpp
         common/smtp_reply_parser.cpp common/mime_encoding.cpp common/mime_parse.cpp
         server/delivery/mx_lookup.cpp server/delivery/bounce_message.cpp
         server/spf/spf_record.cpp server/spf/spf_macro.cpp server/dns/dns_rdata.cpp
         server/dmarc/dmarc_record.cpp server/dkim/dkim_tags.cpp
         build-fuzz/pop3_response_parser.cpp)

cxx=${CXX:-clang++}
case "$cxx" in *clang*) ;; *) cxx=clang++ ;; esac  # libFuzzer needs clang, whatever CXX says
launcher=""
command -v ccache >/dev/null && launcher=ccache
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cxxflags="-std=c++20 -g -O1 -fno-omit-frame-pointer $sanitize -Icommon -Iserver/delivery -Iserver/spf -Iserver/dns -Iserver/dmarc -Iserver/dkim -I$fuzz_dir"
cxxflags+=" -DASIO_STANDALONE -DASIO_NO_DEPRECATED -DASIO_HAS_CO_AWAIT=1"
libs="-lssl -lcrypto -lfmt"  # OpenSSL: pop3_client.hpp includes tls.hpp (asio::ssl)
jobs=$(nproc 2>/dev/null || echo 2)

# Compiles `source` to `object` unless the object is newer than it and than every header.
compile() {
  local source=$1 object=$2 instrument=$3
  if [ -f "$object" ] && [ "$object" -nt "$source" ] && [ "$object" -nt "$newest_header" ]; then
    return 0
  fi
  # shellcheck disable=SC2086
  $launcher "$cxx" $cxxflags "$instrument" -c "$source" -o "$object"
}

# Links one target: its object, the fuzzer's main, and the codecs it uses.
link() {
  local target=$1
  # shellcheck disable=SC2086
  "$cxx" $cxxflags -fsanitize=fuzzer "$build/obj/$target.o" "$build/libcodecs.a" $libs \
    -o "$build/$target"
}
export -f compile link

# The POP3 response parser shares common/pop3_client.cpp with the Asio session, whose
# coroutines clang 14 cannot compile under UBSan ("Cannot represent a difference across
# sections"). Only the parser's section of that file is compiled: the text between its
# "// ---- the response parser ----" and "// ---- the session ----" markers, rewritten only
# when it changed so the object is not rebuilt for nothing.
extract_pop3_parser() {
  local from=common/pop3_client.cpp to=$build/pop3_response_parser.cpp
  local section
  section=$(awk '/^\/\/ ---- the response parser ----/ {on = 1; next}
                 /^\/\/ ---- the session ----/ {on = 0} on' "$from")
  if [ -z "$section" ] || ! grep -q 'pop3_response_parser::feed' <<<"$section"; then
    echo "fuzz: cannot find the response parser's section in $from (its markers moved?)" >&2
    exit 1
  fi
  printf '// Generated by scripts/fuzz.sh from %s: the sans-IO response parser only.\n#include "pop3_client.hpp"\n\n#include <string>\n#include <string_view>\n\nnamespace missive {\n%s\n}  // namespace missive\n' \
    "$from" "$section" >"$to.new"
  if cmp -s "$to.new" "$to"; then rm "$to.new"; else mv "$to.new" "$to"; fi
}

build_all() {
  local start=$SECONDS
  mkdir -p "$build/obj"
  # Objects built with other flags are built again.
  if [ "$(cat "$build/flags" 2>/dev/null)" != "$cxx $cxxflags" ]; then
    rm -f "$build"/obj/*.o
    echo "$cxx $cxxflags" >"$build/flags"
  fi
  extract_pop3_parser
  newest_header=$(ls -t common/*.hpp server/*/*.hpp "$fuzz_dir"/*.hpp | head -n 1)
  export cxx cxxflags launcher newest_header build libs
  # Codec objects once, shared by every target; each target's own file with the fuzzer's
  # main. Both in parallel, one job per core.
  {
    for s in "${sources[@]}"; do
      printf '%s %s %s\n' "$s" "$build/obj/$(basename "${s%.cpp}").o" -fsanitize=fuzzer-no-link
    done
    for t in "${targets[@]}"; do
      printf '%s %s %s\n' "$fuzz_dir/$t.cpp" "$build/obj/$t.o" -fsanitize=fuzzer
    done
  } | xargs -P "$jobs" -L 1 bash -c 'compile "$0" "$1" "$2"'
  # The codecs as an archive: each target links only the objects it uses.
  local objects=()
  for s in "${sources[@]}"; do objects+=("$build/obj/$(basename "${s%.cpp}").o"); done
  rm -f "$build/libcodecs.a"
  ar rcs "$build/libcodecs.a" "${objects[@]}"
  printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -L 1 bash -c 'link "$0"'
  echo "fuzz: built ${#targets[@]} targets in $((SECONDS - start)) s"
}

# Replays the committed crash inputs of `target` (tests/fuzz/crashes/TARGET/): each must now
# pass. Returns non-zero when one still fails.
replay_crashes() {
  local target=$1 dir=$fuzz_dir/crashes/$1 log=$build/logs/$1.replay.log
  [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ] || return 0
  mkdir -p "$build/logs"
  if "$build/$target" -runs=1 "$dir"/* >"$log" 2>&1; then
    echo "fuzz: $target: $(ls "$dir" | wc -l) committed crash input(s) pass"
    return 0
  fi
  echo "fuzz: $target: a committed crash input in $dir still fails (log $log)"
  grep -m 1 -A 20 -E 'Running: |fuzz invariant broken|ERROR: |runtime error' "$log" || tail -n 20 "$log"
  return 1
}

# Runs one target for `seconds` on `corpus` (extra libFuzzer flags after it); prints how many
# inputs it ran; returns libFuzzer's status.
run_target() {
  local target=$1 seconds=$2 corpus=$3
  shift 3
  local artifacts=$build/artifacts/$target/ log=$build/logs/$target.log
  mkdir -p "$artifacts" "$build/logs"
  touch "$log.start"
  local status=0
  "$build/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts" -print_final_stats=1 "$@" "$corpus" >"$log" 2>&1 || status=$?
  # One process: its final stats. Fork mode: the last "#N" progress line of the parent.
  local execs
  execs=$(grep -ho 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s += $2} END {print s + 0}')
  if [ "$execs" -eq 0 ]; then
    execs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
  fi
  local crashes
  crashes=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) -newer "$log.start" 2>/dev/null | wc -l)
  if [ "$status" -eq 0 ] && [ "$crashes" -eq 0 ]; then
    echo "fuzz: $target: ok, ${execs:-0} execs in ${seconds} s"
  else
    echo "fuzz: $target: FAILED (exit $status, $crashes new input(s) in $artifacts) after ${execs:-0} execs; log $log"
    grep -m 1 -A 30 -E 'fuzz invariant broken|ERROR: |runtime error' "$log" || tail -n 30 "$log"
    status=1
  fi
  return "$status"
}

build_all
[ "${1:-}" = "--build" ] && exit 0

if [ $# -eq 0 ]; then
  seconds=${FUZZ_SECONDS:-10}
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  failed=()
  for t in "${targets[@]}"; do
    # A scratch copy: what the run finds never lands in the committed corpus.
    mkdir -p "$scratch/$t"
    [ -d "$fuzz_dir/corpus/$t" ] && cp -R "$fuzz_dir/corpus/$t/." "$scratch/$t/"
    replay_crashes "$t" || failed+=("$t")
    run_target "$t" "$seconds" "$scratch/$t" || failed+=("$t")
  done
  if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: $(printf '%s\n' "${failed[@]}" | sort -u | tr '\n' ' ')"
    exit 1
  fi
  echo "fuzz: all ${#targets[@]} targets ran ${seconds} s each without a crash"
  exit 0
fi

if [ $# -ne 2 ]; then
  echo "usage: scripts/fuzz.sh [--build | TARGET HOURS]" >&2
  exit 64
fi
target=$1
hours=$2
[ -x "$build/$target" ] || { echo "fuzz: no target $target (one of: ${targets[*]})" >&2; exit 64; }
seconds=$(awk -v h="$hours" 'BEGIN { s = int(h * 3600); if (s < 1) s = 1; print s }')
corpus=$build/corpus/$target
mkdir -p "$corpus"
[ -d "$fuzz_dir/corpus/$target" ] && cp -Rn "$fuzz_dir/corpus/$target/." "$corpus/"
# Fork mode: a crash, timeout or OOM is saved in build-fuzz/artifacts/TARGET/ and the run goes
# on, so an hours-long run collects every distinct crash instead of stopping at the first.
echo "fuzz: running $target for $seconds s on $corpus, ${FUZZ_JOBS:-1} job(s) (log $build/logs/$target.log)"
status=0
replay_crashes "$target" || status=1
run_target "$target" "$seconds" "$corpus" -fork="${FUZZ_JOBS:-1}" -ignore_crashes=1 \
  -ignore_timeouts=1 -ignore_ooms=1 || status=1
exit "$status"
