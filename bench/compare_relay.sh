#!/usr/bin/env bash
# compare.sh relay (this file): the relay path (issue 20, target 1). Mail for a remote domain
# accepted and forwarded to one next hop, measured as recipients per second arriving at the
# next hop, for missived against a private Postfix relaying to the same kind of sink, and
# against the generator sending straight to the sink; the targets alternate within each
# round, in reverse order every other round; medians, ratios and the goals at the end.
#
#   bench/compare.sh relay                       # 3 rounds, 5000 x 1 KiB, 50 sessions
#   bench/compare.sh relay --rounds 5 --messages 10000 --keep
#   bench/compare.sh relay --baseline-bin /tmp/missived.old   # also an older missived
#
# Options (flag or environment variable):
#   --rounds N           ROUNDS          rounds (default 3; at most 50)
#   --messages N         MESSAGES        messages per run (default 5000)
#   --sessions N         SESSIONS        smtp-source sessions at once (default 50)
#   --size N             SIZE            octets per message (default 1024; smtp-source's -l
#                                        is the body alone, so it gets SIZE - 147)
#   --budget MIN         BUDGET_MINUTES  start no round after this many minutes of measuring
#                                        (default 10; set-up and any build come on top)
#   --baseline-bin FILE  BASELINE_BIN    also measure this missived binary (target
#                                        missived@FILE's name), same config, its own data
#                                        directory and sink; may be given more than once
#   --build-dir DIR      MISSIVE_BUILD_DIR  build to use/make (default build)
#   --no-build           BUILD=0         use the binaries as they are
#   --keep               KEEP=1          keep the work directory (configs, logs, results.jsonl)
#
# What runs (all on 127.0.0.1, all stopped by the trap on exit, every wait bounded):
#   - missive-sink (bench/missive_sink.cpp): the next hop. It answers at once, stores nothing
#     and counts messages, recipients and connections; the time of each run is taken from the
#     generator's start to the sink's end of data of the last message. One plain sink per
#     target, and one answering 451 to every tenth RCPT.
#   - Postfix's smtp-sink, loaded straight by the generator (target smtp-sink, timed by the
#     generator's run since it cannot count): shows that missive-sink is no slower than it,
#     so the sink is never the limit.
#   - missived (current build): relay.test routed ([[route]]) to its sink; its defaults
#     otherwise (max_connections_per_destination 4), the inbound per-address cap lifted.
#   - missived+451: the same, routed to the deferring sink; retry_initial 1h, so a deferred
#     recipient is not tried again within the run. Its rate counts the good recipients.
#   - Postfix from Debian, as compare.sh runs it (installed if missing, debconf "No
#     configuration"; a private instance with its own config, queue and data directories,
#     smtpd on a loopback port the kernel picks), with relayhost = [127.0.0.1]:its sink;
#     Postfix's defaults otherwise (queue files fsynced; 20 connections per destination).
#   - direct: the generator straight to a missive-sink.
# The generator is Postfix's smtp-source (-s SESSIONS -l SIZE-147 -m MESSAGES, a new
# connection per message, one recipient each: rcpt@relay.test).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ROUNDS=${ROUNDS:-3}
MESSAGES=${MESSAGES:-5000}
SESSIONS=${SESSIONS:-50}
SIZE=${SIZE:-1024}
BUDGET_MINUTES=${BUDGET_MINUTES:-10}
BASELINE_BIN=${BASELINE_BIN:-}
BUILD_DIR=${MISSIVE_BUILD_DIR:-build}
BUILD=${BUILD:-1}
KEEP=${KEEP:-0}

while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --messages) MESSAGES=$2; shift 2 ;;
    --sessions) SESSIONS=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --budget) BUDGET_MINUTES=$2; shift 2 ;;
    --baseline-bin) BASELINE_BIN="$BASELINE_BIN $2"; shift 2 ;;
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh relay: unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
done

die() { echo "compare.sh relay: $*" >&2; exit 1; }
# log, stop_pid, stop_postfix, wait_port
source "$ROOT/bench/bench_lib.sh"

for n in "$ROUNDS" "$MESSAGES" "$SESSIONS" "$SIZE" "$BUDGET_MINUTES"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "not a number: $n"
done
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 50 ] || die "--rounds must be 1..50"
[ "$MESSAGES" -ge 10 ] || die "--messages must be at least 10"
[ "$SESSIONS" -ge 1 ] || die "--sessions must be at least 1"
[ "$SIZE" -gt 147 ] || die "--size must be more than 147 (smtp-source's headers)"
for bin in $BASELINE_BIN; do [ -x "$bin" ] || die "--baseline-bin: $bin is not executable"; done
[ "$(id -u)" -eq 0 ] || die "run as root: Postfix's master runs as root"

BENCH_USER=missivebench
RUN_TIMEOUT=300     # seconds, any one run (generator and drain)
HELPER="python3 $ROOT/bench/relay_helper.py"
COMPARE_HELPER="python3 $ROOT/bench/compare_helper.py"

# --- Postfix from Debian (smtp-source and smtp-sink come with it) --------------------------
if ! [ -x /usr/sbin/postfix ] || ! command -v smtp-source >/dev/null || ! command -v smtp-sink >/dev/null; then
  log "installing postfix from Debian (debconf: No configuration)"
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
fi
id "$BENCH_USER" >/dev/null 2>&1 ||
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$BENCH_USER"

# --- builds ---------------------------------------------------------------------------------
if [ "$BUILD" = 1 ]; then
  log "building in $BUILD_DIR (scripts/setup.sh)"
  MISSIVE_BUILD_DIR=$BUILD_DIR scripts/setup.sh >/dev/null
fi
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
MISSIVED=$BUILD_DIR/server/missived
SINK=$BUILD_DIR/bench/missive-sink
for f in "$MISSIVED" "$SINK"; do [ -x "$f" ] || die "missing $f (build it, or drop --no-build)"; done

# --- processes we start, and the trap that stops them --------------------------------------
declare -A PID SMTP_PORT SINK_PORT KIND CPU_SPEC
POSTFIX_DIRS=()
OTHER_PIDS=()
WORK=""

cleanup() {
  local name dir pid
  set +e
  for name in "${!PID[@]}"; do [ "${KIND[$name]}" = postfix ] || stop_pid "${PID[$name]}"; done
  for pid in "${OTHER_PIDS[@]}"; do stop_pid "$pid"; done
  for dir in "${POSTFIX_DIRS[@]}"; do stop_postfix "$dir"; done
  if [ -n "$WORK" ]; then
    if [ "$KEEP" = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  fi
}

start_sink() {  # start_sink TARGET [MISSIVE-SINK OPTIONS]: the next hop of TARGET
  local target=$1 out=$WORK/sink-${1//[^a-z0-9]/-}.out port=""
  shift
  "$SINK" --port 0 "$@" > "$out" 2>&1 &
  OTHER_PIDS+=($!)
  for _ in $(seq 1 100); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out" 2>/dev/null || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$out" >&2; die "the sink of $target did not start"; }
  SINK_PORT[$target]=$port
}

start_missived() {  # start_missived NAME BINARY [QUEUE SETTINGS]
  local name=$1 binary=$2 queue=${3:-} dir=$WORK/${1//[^a-z0-9]/-}
  mkdir -p "$dir"
  cat > "$dir/missived.toml" <<EOF
# All load comes from 127.0.0.1: lift the per-address cap (default 20) above any concurrency.
[smtp]
max_connections = 100000
max_connections_per_address = 100000

[queue]
$queue

[[route]]
domain = "relay.test"
host = "127.0.0.1:${SINK_PORT[$name]}"
EOF
  "$binary" serve --config "$dir/missived.toml" --data-dir "$dir/data" --smtp 127.0.0.1:0 \
    --pop3 127.0.0.1:0 --domain bench.test --hostname "${name//[^a-z0-9.]/-}.bench.test" \
    > "$dir/stdout" 2> "$dir/missived.log" &
  PID[$name]=$!
  KIND[$name]=missived
  CPU_SPEC[$name]=${PID[$name]}
  for _ in $(seq 1 100); do
    SMTP_PORT[$name]=$(sed -n 's/.*smtp listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/stdout" 2>/dev/null || true)
    [ -n "${SMTP_PORT[$name]}" ] && break
    kill -0 "${PID[$name]}" 2>/dev/null || { cat "$dir/missived.log" >&2; die "$name did not start"; }
    sleep 0.1
  done
  [ -n "${SMTP_PORT[$name]}" ] || die "$name did not say where it listens"
  log "$name: smtp 127.0.0.1:${SMTP_PORT[$name]}, pid ${PID[$name]}, next hop 127.0.0.1:${SINK_PORT[$name]}"
}

# A private Postfix as compare.sh makes them, relaying everything not its own to the sink.
start_postfix() {  # start_postfix NAME
  local name=$1 dir=$WORK/$1 port master
  mkdir -p "$dir/etc" "$dir/queue" "$dir/data" "$dir/spool"
  chown postfix "$dir/data"
  chmod 700 "$dir/data"
  chmod 1777 "$dir/spool"
  cat > "$dir/etc/main.cf" <<EOF
# A private Postfix for bench/compare_relay.sh: loopback only, its own directories, every
# remote domain relayed to the sink; everything else Postfix's defaults (queue files fsynced).
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_spool_directory = $dir/spool
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
myhostname = ${name//+/-}.bench.test
mydomain = bench.test
myorigin = bench.test
mydestination = bench.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:${SINK_PORT[$name]}
alias_maps =
alias_database =
local_recipient_maps =
biff = no
EOF
  # smtpd on port 0: master binds a port the kernel picks and keeps it; it is read back
  # from master's socket once it runs. The other services: tests/lib/postfix_master.cf.
  { echo "127.0.0.1:0 inet n - n - - smtpd"; cat "$ROOT/tests/lib/postfix_master.cf"; } \
    > "$dir/etc/master.cf"
  POSTFIX_DIRS+=("$dir")
  postfix -c "$dir/etc" start > "$dir/start.log" 2>&1 ||
    { cat "$dir/start.log" "$dir/maillog" >&2 2>/dev/null; die "$name: postfix did not start"; }
  master=""
  for _ in $(seq 1 100); do
    master=$(tr -dc 0-9 2>/dev/null < "$dir/queue/pid/master.pid" || true)
    [ -n "$master" ] && break
    sleep 0.1
  done
  [ -n "$master" ] || { cat "$dir/maillog" >&2; die "$name: master wrote no pid file"; }
  port=$($COMPARE_HELPER listen-port "$master") || { cat "$dir/maillog" >&2; die "$name: master listens nowhere"; }
  wait_port "$port" || { cat "$dir/maillog" >&2; die "$name: nothing listens on $port"; }
  PID[$name]=$master
  SMTP_PORT[$name]=$port
  KIND[$name]=postfix
  CPU_SPEC[$name]=tree:$master
  log "$name $(postconf -c "$dir/etc" -h mail_version): smtp 127.0.0.1:$port, master $master, relayhost 127.0.0.1:${SINK_PORT[$name]}"
}

start_smtp_sink() {  # Postfix's smtp-sink, loaded straight by the generator
  local port
  port=$(python3 "$ROOT/bench/pop3_helper.py" free-port)
  smtp-sink -u "$BENCH_USER" "127.0.0.1:$port" 1000 > "$WORK/smtp-sink.log" 2>&1 &
  PID[smtp-sink]=$!
  KIND[smtp-sink]=smtp-sink
  CPU_SPEC[smtp-sink]=${PID[smtp-sink]}
  SMTP_PORT[smtp-sink]=$port
  wait_port "$port" || { cat "$WORK/smtp-sink.log" >&2; die "smtp-sink did not listen on $port"; }
}

# One run: smtp-source against the target; the sink counts what arrives.
measure() {  # measure ROUND TARGET
  local round=$1 target=$2 sink port expect=$MESSAGES clock=sink
  port=${SMTP_PORT[$target]}
  sink=${SINK_PORT[$target]:-${SINK_PORT[direct]}}
  [ "$target" = smtp-sink ] && clock=generator
  local -a cpu=()
  [ -n "${CPU_SPEC[$target]:-}" ] && cpu=("cpu=${CPU_SPEC[$target]}")
  printf '[%s] round %s %-18s ' "$(date +%H:%M:%S)" "$round" "$target" >&2
  if [ "$target" = smtp-sink ]; then
    # smtp-sink cannot count: the run is timed by the generator, and the helper's wait for
    # the (idle) missive-sink of direct ends at once.
    expect=0
  fi
  $HELPER run "$WORK/results.jsonl" "$sink" "$expect" "$RUN_TIMEOUT" round="$round" target="$target" \
    load="$MESSAGES" size="$SIZE" sessions="$SESSIONS" clock="$clock" "${cpu[@]}" -- \
    smtp-source -s "$SESSIONS" -l $((SIZE - 147)) -m "$MESSAGES" -f "sender@bench.test" \
    -t "rcpt@relay.test" "127.0.0.1:$port" >&2 || true
}

# --- main -----------------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/missive-relay.XXXXXX)
chmod 755 "$WORK"
trap cleanup EXIT
trap 'exit 130' INT TERM
log "work directory $WORK; rounds $ROUNDS; $MESSAGES x $SIZE octets, $SESSIONS sessions"

targets=(missived)
start_sink missived
start_missived missived "$MISSIVED"
for bin in $BASELINE_BIN; do
  t=missived@$(basename "$bin")
  start_sink "$t"
  start_missived "$t" "$bin"
  targets+=("$t")
done
start_sink missived+451 --defer-every 10
start_missived missived+451 "$MISSIVED" 'retry_initial = "1h"'
targets+=(missived+451)
start_sink postfix
start_postfix postfix
targets+=(postfix)
start_sink direct
SMTP_PORT[direct]=${SINK_PORT[direct]}
KIND[direct]=sink
targets+=(direct)
start_smtp_sink
targets+=(smtp-sink)

# Warm-up, not measured: every target relays a few messages once.
for t in "${targets[@]}"; do
  $HELPER run "$WORK/warmup.jsonl" "${SINK_PORT[$t]:-${SINK_PORT[direct]}}" $([ "$t" = smtp-sink ] && echo 0 || echo 100) 60 \
    round=0 target="$t" -- smtp-source -s 10 -l 100 -m 100 -f sender@bench.test -t rcpt@relay.test \
    "127.0.0.1:${SMTP_PORT[$t]}" > /dev/null || die "$t: the warm-up did not arrive at the sink"
done

budget_end=$((SECONDS + BUDGET_MINUTES * 60))
stopped=""
for round in $(seq 1 "$ROUNDS"); do
  if [ "$SECONDS" -ge "$budget_end" ]; then stopped="round $round"; break; fi
  order=("${targets[@]}")
  if [ $((round % 2)) = 0 ]; then
    order=()
    for ((i = ${#targets[@]} - 1; i >= 0; i--)); do order+=("${targets[$i]}"); done
  fi
  for t in "${order[@]}"; do measure "$round" "$t"; done
done

echo
$HELPER summarize "$WORK/results.jsonl"
if [ -n "$stopped" ]; then
  echo "NOTE: the time budget ($BUDGET_MINUTES min) ran out before $stopped; later rounds were not started."
fi
log "done in $SECONDS s"
