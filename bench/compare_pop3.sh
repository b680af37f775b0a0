#!/usr/bin/env bash
# compare.sh pop3 (this file): POP3 retrieval from missived against a private Dovecot holding
# the same mail (issue 20, target 5), alternating the two within each round, with medians
# and ratios at the end.
#
#   bench/compare.sh pop3                        # 5 rounds, 10,000 x 1 KiB and 100 x 1 MiB
#   bench/compare.sh pop3 --rounds 3 --no-delete --keep
#
# Options (flag or environment variable):
#   --rounds N           ROUNDS          rounds (default 5; at most 50)
#   --small N            SMALL_MESSAGES  messages of 1 KiB for small@bench.test (default 10000)
#   --large N            LARGE_MESSAGES  messages of 1 MiB for large@bench.test (default 100)
#   --window N           WINDOW          RETR/DELE in flight (default 1: one at a time)
#   --no-delete          DELETE=0        skip the delete runs (DELE everything, time QUIT)
#   --pin same|apart     PIN             pin both servers (all their threads and processes) to
#                                        CPU 0, and the client to CPU 0 (same) or CPU 1 (apart):
#                                        with one command at a time, whether client and server
#                                        share a core decides how fast they wake each other
#   --budget MIN         BUDGET_MINUTES  start no round after this many minutes of measuring
#                                        (default 10; set-up and any build come on top)
#   --baseline-bin FILE  BASELINE_BIN    also measure this missived binary (missived@baseline),
#                                        with its own data directory filled the same way
#   --build-dir DIR      MISSIVE_BUILD_DIR  build to use/make (default build)
#   --no-build           BUILD=0         use the binaries as they are
#   --keep               KEEP=1          keep the work directory (configs, logs, results.jsonl)
#
# What runs (all on 127.0.0.1, all stopped by the trap on exit, every wait bounded):
#   - missived (current build) with the users small@bench.test and large@bench.test, filled
#     over SMTP by missive-bench (10,000 x 1,024 octets; 100 x 1,048,576 octets), then waited
#     for until every message is in the maildrop.
#   - Dovecot from Debian (dovecot-pop3d, installed if missing when run as root; the system
#     instance is never started nor touched): a private instance, `dovecot -F -c` with a
#     config of its own (base_dir, state_dir, log in the work directory; Maildir; a
#     passwd-file passdb/userdb with plain passwords; ssl = no and disable_plaintext_auth =
#     no for loopback; Dovecot's defaults otherwise), listening on a free high port of
#     127.0.0.1. It runs as the invoking user; as root, as the system user `missivebench`
#     (created if missing), since Dovecot does not serve mail as root.
#   - The same mail in both: each Maildir is written from what missived serves on RETR
#     (its Return-Path, Delivered-To and Received fields included), as Dovecot's own delivery
#     writes files (LF line ends, S= and W= sizes in the name): both serve the same octets,
#     which the warm-up checks (missive-pop3-bench --digest, summed per mailbox).
#   - After every fill, an unmeasured warm-up session against each target (RETR of all, no
#     DELE): Dovecot builds its index, moves new/ to cur/ and marks the messages seen;
#     missived checks the password once (scrypt) and remembers the login.
# Each round, for each mailbox: missive-pop3-bench against every target (the order reversed
# every other round): login, STAT, UIDL, RETR of all, QUIT. With deletes (the default), each
# round then runs, for each mailbox and target, a session that RETRs all, DELEs all and QUITs
# (QUIT's answer timed: the UPDATE state), and fills that target's mailbox again.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ROUNDS=${ROUNDS:-5}
SMALL_MESSAGES=${SMALL_MESSAGES:-10000}
LARGE_MESSAGES=${LARGE_MESSAGES:-100}
WINDOW=${WINDOW:-1}
DELETE=${DELETE:-1}
BUDGET_MINUTES=${BUDGET_MINUTES:-10}
PIN=${PIN:-}
BASELINE_BIN=${BASELINE_BIN:-}
BUILD_DIR=${MISSIVE_BUILD_DIR:-build}
BUILD=${BUILD:-1}
KEEP=${KEEP:-0}

while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --small) SMALL_MESSAGES=$2; shift 2 ;;
    --large) LARGE_MESSAGES=$2; shift 2 ;;
    --window) WINDOW=$2; shift 2 ;;
    --no-delete) DELETE=0; shift ;;
    --pin) PIN=$2; shift 2 ;;
    --budget) BUDGET_MINUTES=$2; shift 2 ;;
    --baseline-bin) BASELINE_BIN=$2; shift 2 ;;
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh pop3: unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
done

die() { echo "compare.sh pop3: $*" >&2; exit 1; }
# log, stop_pid, stop_postfix, wait_port
source "$ROOT/bench/bench_lib.sh"

for n in "$ROUNDS" "$SMALL_MESSAGES" "$LARGE_MESSAGES" "$WINDOW" "$BUDGET_MINUTES"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "not a number: $n"
done
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 50 ] || die "--rounds must be 1..50"
[ "$SMALL_MESSAGES" -ge 1 ] && [ "$LARGE_MESSAGES" -ge 1 ] || die "each mailbox needs a message"
[ -z "$BASELINE_BIN" ] || [ -x "$BASELINE_BIN" ] || die "--baseline-bin: $BASELINE_BIN is not executable"
SERVER_PIN=()   # prefix of the servers' command lines
CLIENT_PIN=()   # prefix of the client's
case "$PIN" in
  "") ;;
  same) SERVER_PIN=(taskset -c 0); CLIENT_PIN=(taskset -c 0) ;;
  apart) SERVER_PIN=(taskset -c 0); CLIENT_PIN=(taskset -c 1) ;;
  *) die "--pin must be same or apart" ;;
esac

PASSWORD=bench-password
SMALL_USER=small@bench.test
LARGE_USER=large@bench.test
SMALL_SIZE=1024
LARGE_SIZE=1048576
RUN_TIMEOUT=300     # seconds, any one session or fill
HELPER="python3 $ROOT/bench/pop3_helper.py"
COMPARE_HELPER="python3 $ROOT/bench/compare_helper.py"

# --- Dovecot from Debian ------------------------------------------------------------------
if ! command -v dovecot >/dev/null || [ ! -x /usr/lib/dovecot/pop3 ]; then
  [ "$(id -u)" -eq 0 ] || die "needs Debian's dovecot-pop3d (apt-get install dovecot-pop3d), or run as root"
  log "installing dovecot-pop3d from Debian (its system instance is not used)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-pop3d >/dev/null
fi
DOVECOT_USER=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
  DOVECOT_USER=missivebench
  id "$DOVECOT_USER" >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$DOVECOT_USER"
fi
# Runs a command as DOVECOT_USER in place of the (sub)shell that calls it, so that $! of a
# background call is the command itself (Dovecot's master, whose CPU counts its children).
as_dovecot_user() {
  if [ "$(id -u)" -eq 0 ]; then exec setpriv --reuid="$DOVECOT_USER" --regid="$DOVECOT_USER" --init-groups "$@"
  else exec "$@"; fi
}

# --- builds ---------------------------------------------------------------------------------
if [ "$BUILD" = 1 ]; then
  log "building in $BUILD_DIR (scripts/setup.sh)"
  MISSIVE_BUILD_DIR=$BUILD_DIR scripts/setup.sh >/dev/null
fi
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
MISSIVED=$BUILD_DIR/server/missived
BENCH=$BUILD_DIR/bench/missive-bench
POP3_BENCH=$BUILD_DIR/bench/missive-pop3-bench
for f in "$MISSIVED" "$BENCH" "$POP3_BENCH"; do [ -x "$f" ] || die "missing $f (build it, or drop --no-build)"; done

# --- processes we start, and the trap that stops them --------------------------------------
declare -A PID SMTP_PORT POP3_PORT DIR KIND
WORK=""

cleanup() {
  set +e
  local name
  for name in "${!PID[@]}"; do stop_pid "${PID[$name]}"; done
  if [ -n "$WORK" ]; then
    if [ "$KEEP" = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  fi
}

mailbox_user() { if [ "$1" = small ]; then echo "$SMALL_USER"; else echo "$LARGE_USER"; fi; }
mailbox_count() { if [ "$1" = small ]; then echo "$SMALL_MESSAGES"; else echo "$LARGE_MESSAGES"; fi; }

start_missived() {  # start_missived NAME BINARY
  local name=$1 binary=$2 dir=$WORK/$1 user
  mkdir -p "$dir"
  cat > "$dir/missived.toml" <<EOF
[smtp]
max_connections_per_address = 1000
EOF
  for user in "$SMALL_USER" "$LARGE_USER"; do
    echo "$PASSWORD" | "$binary" user add "$user" --password-stdin --config "$dir/missived.toml" \
      --data-dir "$dir/data" --domain bench.test >/dev/null
  done
  "${SERVER_PIN[@]}" "$binary" serve --config "$dir/missived.toml" --data-dir "$dir/data" --smtp 127.0.0.1:0 \
    --pop3 127.0.0.1:0 --domain bench.test --hostname "${name//[^a-z0-9.]/-}.bench.test" \
    > "$dir/stdout" 2> "$dir/missived.log" &
  PID[$name]=$!
  KIND[$name]=missived
  DIR[$name]=$dir
  for _ in $(seq 1 100); do
    SMTP_PORT[$name]=$(sed -n 's/.*smtp listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/stdout" 2>/dev/null || true)
    POP3_PORT[$name]=$(sed -n 's/.*pop3 listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/stdout" 2>/dev/null || true)
    [ -n "${SMTP_PORT[$name]}" ] && [ -n "${POP3_PORT[$name]}" ] && break
    kill -0 "${PID[$name]}" 2>/dev/null || { cat "$dir/missived.log" >&2; die "$name did not start"; }
    sleep 0.1
  done
  [ -n "${POP3_PORT[$name]}" ] || die "$name did not say where it listens"
  log "$name: smtp 127.0.0.1:${SMTP_PORT[$name]}, pop3 127.0.0.1:${POP3_PORT[$name]}, pid ${PID[$name]}"
}

start_dovecot() {
  local name=dovecot dir=$WORK/dovecot port uid gid master=""
  uid=$(id -u "$DOVECOT_USER"); gid=$(id -g "$DOVECOT_USER")
  mkdir -p "$dir/run" "$dir/state" "$dir/mail"
  port=$($HELPER free-port)
  # Dovecot's defaults but for what a private, unprivileged instance on loopback needs.
  cat > "$dir/dovecot.conf" <<EOF
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_internal_user = $DOVECOT_USER
default_internal_group = $(id -gn "$DOVECOT_USER")
default_login_user = $DOVECOT_USER
first_valid_uid = $uid
first_valid_gid = $gid
mail_location = maildir:$dir/mail/%n
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $dir/users
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    address = 127.0.0.1
    port = $port
  }
}
service anvil {
  chroot =
}
EOF
  : > "$dir/users"
  for user in "$SMALL_USER" "$LARGE_USER"; do
    echo "$user:{PLAIN}$PASSWORD:$uid:$gid::$dir/mail/${user%@*}::" >> "$dir/users"
    mkdir -p "$dir/mail/${user%@*}/new" "$dir/mail/${user%@*}/cur" "$dir/mail/${user%@*}/tmp"
  done
  chown -R "$DOVECOT_USER:" "$dir"
  (as_dovecot_user "${SERVER_PIN[@]}" dovecot -F -c "$dir/dovecot.conf") > "$dir/stdout" 2>&1 &
  PID[$name]=$!
  KIND[$name]=dovecot
  DIR[$name]=$dir
  POP3_PORT[$name]=$port
  wait_port "$port" || { cat "$dir/stdout" "$dir/dovecot.log" >&2; die "dovecot did not listen on $port"; }
  log "dovecot $(dovecot --version | cut -d' ' -f1): pop3 127.0.0.1:$port, pid ${PID[$name]}, as $DOVECOT_USER"
}

# Fills a target's mailbox (it is empty): missived over SMTP, Dovecot from the Maildir
# template; then the warm-up session, which on the first fill also takes a digest of the
# octets served (a refilled missived serves new messages: new queue ids and dates).
fill() {  # fill TARGET BOX [first]
  local target=$1 box=$2 first=${3:-} user n start
  user=$(mailbox_user "$box"); n=$(mailbox_count "$box")
  start=$EPOCHREALTIME
  if [ "${KIND[$target]}" = missived ]; then
    local -a load=(-n "$n" -s "$SMALL_SIZE" -c 10 -k 100)
    [ "$box" = large ] && load=(-n "$n" -s "$LARGE_SIZE" -c 4 -k 5)
    timeout "$RUN_TIMEOUT" "$BENCH" --port "${SMTP_PORT[$target]}" "${load[@]}" --from bench@bench.test \
      --to "$user" --quiet --json "$WORK/fill.json" 2> "$WORK/fill.err" ||
      { cat "$WORK/fill.err" "$WORK/fill.json" >&2; die "$target: filling $box over SMTP failed"; }
    local have=0
    for _ in $(seq 1 $((RUN_TIMEOUT * 5))); do
      have=$($HELPER count "${POP3_PORT[$target]}" "$user" "$PASSWORD" 2>/dev/null || echo 0)
      [ "$have" -ge "$n" ] && break
      sleep 0.2
    done
    [ "$have" = "$n" ] || die "$target: $have of $n messages in the $box maildrop"
  else
    local mail=${DIR[$target]}/mail/${user%@*}
    [ -z "$(find "$mail/new" "$mail/cur" -type f -print -quit)" ] || die "$target: the $box Maildir is not empty"
    cp -p "$WORK/template/$box/new/"* "$mail/new/"
    chown -R "$DOVECOT_USER:" "$mail"
  fi
  if [ -n "$first" ]; then session 0 "$target" "$box" warmup --digest
  else session 0 "$target" "$box" warmup; fi
  log "$target: $box mailbox filled in $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
}

snapshot() {  # server CPU (missived; Dovecot's master with all its processes), machine busy, total
  if [ "${KIND[$1]}" = dovecot ]; then $COMPARE_HELPER snapshot "tree:${PID[$1]}"
  else $COMPARE_HELPER snapshot "${PID[$1]}"; fi
}

# One session of missive-pop3-bench; appends a record to results.jsonl.
session() {  # session ROUND TARGET BOX MODE(retrieve|delete|warmup) [EXTRA ARGS]
  local round=$1 target=$2 box=$3 mode=$4 out=$WORK/run.json before after rc=0
  shift 4
  local -a args=(--port "${POP3_PORT[$target]}" --user "$(mailbox_user "$box")" --password "$PASSWORD"
                 --window "$WINDOW" --timeout "$RUN_TIMEOUT" --json "$out" --quiet
                 --label "$target $box $mode round $round" "$@")
  [ "$mode" = delete ] && args+=(--delete)
  rm -f "$out"
  before=$(snapshot "$target")
  timeout $((RUN_TIMEOUT + 10)) "${CLIENT_PIN[@]}" "$POP3_BENCH" "${args[@]}" 2> "$WORK/run.err" || rc=$?
  sleep 0.2   # Dovecot's master reaps the session's process: its CPU then counts
  after=$(snapshot "$target")
  $HELPER record "$WORK/results.jsonl" round="$round" target="$target" box="$box" mode="$mode" \
    before="$before" after="$after" exit="$rc" bench="$out"
  if [ "$rc" != 0 ]; then
    log "round $round $target $box $mode: FAILED (exit $rc): $(head -c 300 "$WORK/run.err") $(cat "$out" 2>/dev/null | head -c 400)"
    [ "$mode" = warmup ] && die "$target: the warm-up failed"
  elif [ "$mode" != warmup ]; then
    log "round $round $target $box $mode: $(sed -n 's/.*"msgs_per_s":\([0-9.]*\).*"mb_per_s":\([0-9.]*\).*/\1 msg\/s, \2 MB\/s/p' "$out"), login->UIDL $(sed -n 's/.*"login_to_uidl_ms":\([0-9.]*\).*/\1/p' "$out") ms, QUIT $(sed -n 's/.*"quit_ms":\([0-9.]*\).*/\1/p' "$out") ms"
  fi
}

# --- main -----------------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/missive-pop3.XXXXXX)
chmod 755 "$WORK"
trap cleanup EXIT
trap 'exit 130' INT TERM
log "work directory $WORK; rounds $ROUNDS; $SMALL_MESSAGES x $SMALL_SIZE and $LARGE_MESSAGES x $LARGE_SIZE octets; window $WINDOW${PIN:+; pinned: $PIN}"

targets=(missived)
start_missived missived "$MISSIVED"
if [ -n "$BASELINE_BIN" ]; then
  start_missived missived@baseline "$BASELINE_BIN"
  targets+=(missived@baseline)
fi
start_dovecot
targets+=(dovecot)

for box in small large; do
  fill missived "$box" first
  # The Maildir template: what missived serves, octet for octet (see pop3_helper.py).
  mkdir -p "$WORK/template/$box"
  $HELPER maildir "${POP3_PORT[missived]}" "$(mailbox_user "$box")" "$PASSWORD" "$WORK/template/$box" >/dev/null
  for t in "${targets[@]}"; do [ "$t" = missived ] || fill "$t" "$box" first; done
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
  for box in small large; do
    for t in "${order[@]}"; do session "$round" "$t" "$box" retrieve; done
  done
  if [ "$DELETE" = 1 ]; then
    for box in small large; do
      for t in "${order[@]}"; do
        session "$round" "$t" "$box" delete
        fill "$t" "$box"
      done
    done
  fi
done

for name in "${!PID[@]}"; do stop_pid "${PID[$name]}"; unset "PID[$name]"; done
echo
$HELPER summarize "$WORK/results.jsonl"
if [ -n "$stopped" ]; then
  echo "NOTE: the time budget ($BUDGET_MINUTES min) ran out before $stopped; later rounds were not started."
fi
log "done in $SECONDS s"
