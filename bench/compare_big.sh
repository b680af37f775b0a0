#!/usr/bin/env bash
# compare.sh big | compare.sh recipients (this file): big messages and many recipients
# (issue 20, targets 3 and 4), missived against a private Postfix (and, for big messages,
# Postfix's smtp-sink, which stores nothing), alternating within each round, with medians,
# ratios and the goals at the end.
#
#   bench/compare.sh big                         # 5 rounds of 40 x 10 MiB at 4 sessions
#   bench/compare.sh recipients                  # 5 rounds of 500 x 1 KiB to 100 recipients, 10 sessions
#   bench/compare.sh big --rounds 3 --messages 20 --keep
#   bench/compare.sh recipients --baseline-bin /tmp/missived.old   # also an older missived
#
# Options (flag or environment variable):
#   --rounds N           ROUNDS          rounds (default 5; at most 50)
#   --messages N         MESSAGES        messages per run (big: 40, 400 MiB; recipients: 500)
#   --sessions N         SESSIONS        concurrent sessions (big: 4; recipients: 10)
#   --size N             SIZE            octets per message (big: 10485760; recipients: 1024)
#   --recipients N       RECIPIENTS      recipients per message (recipients only; default 100)
#   --targets "LIST"     TARGETS         measure only these (missived missived@baseline postfix
#                                        smtp-sink); all by default
#   --baseline-bin FILE  BASELINE_BIN    also measure this missived binary (missived@baseline),
#                                        with its own data directory, set up the same way
#   --budget MIN         BUDGET_MINUTES  start no round after this many minutes of measuring
#                                        (default 10; set-up and any build come on top)
#   --build-dir DIR      MISSIVE_BUILD_DIR  build to use/make (default build)
#   --no-build           BUILD=0         use the binaries as they are
#   --keep               KEEP=1          keep the work directory (configs, logs, results.jsonl)
#
# What runs (as root: Postfix's master runs as root; all on 127.0.0.1, all stopped by the
# trap on exit, every wait bounded):
#   - missived with [smtp] max_message_size = 50 MiB and the per-address connection cap
#     lifted. big: the user missivebench@bench.test; missived is started afresh (same data directory)
#     for every run, so that its peak RSS (VmHWM in /proc/PID/status, read as soon as the
#     last 250 is in, before anything logs in) is that run's; the growth is the peak minus
#     the RSS the idle process had just before the load. recipients: the users
#     user1..user100@bench.test, added once with `missived user add` (in parallel, two at a
#     time: each is an scrypt hash); one process for all runs; the database's pages in use
#     are read (read-only, big_helper.py database) before and after each run.
#   - A private Postfix from Debian (installed if missing, debconf "No configuration": no
#     system instance), set up as compare.sh sets up its own (own config, queue, data and
#     spool directories, smtpd on a free loopback port, no chroot, Postfix's defaults
#     otherwise, so queue files and mailboxes are fsynced), with message_size_limit = 50 MiB.
#     big: local delivery to the mbox of the system user missivebench (created if missing).
#     recipients: a virtual
#     mailbox domain (virtual(8)): bench.test with the mailboxes user1..user100, mbox files
#     under one directory, all owned by missivebench (virtual_uid_maps static), the map a
#     texthash file (no postmap).
#   - big only: smtp-sink on a free loopback port.
# Each round runs missive-bench against every target (the order reversed every other round);
# a run ends only when the target has delivered everything it accepted (Postfix: queue
# empty and every delivery in its log; missived: every copy in the maildrops, counted in its
# database, with a drain of 0 when they are all there at the first look), and then the mailboxes are emptied (Postfix: the mbox files truncated;
# missived: DELE over POP3), so no run pays for the one before. A warm-up run (round 0, 4 messages)
# against each target comes first.
set -euo pipefail

SCENARIO=${1:-}
case "$SCENARIO" in
  big|recipients) shift ;;
  -h|--help|"") SCENARIO=help ;;
  *) echo "compare_big.sh: the scenario is big or recipients, not $SCENARIO" >&2; exit 64 ;;
esac
if [ "$SCENARIO" = help ]; then sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; fi
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ "$SCENARIO" = big ]; then
  MESSAGES=${MESSAGES:-40}; SESSIONS=${SESSIONS:-4}; SIZE=${SIZE:-10485760}; RECIPIENTS=1
else
  MESSAGES=${MESSAGES:-500}; SESSIONS=${SESSIONS:-10}; SIZE=${SIZE:-1024}; RECIPIENTS=${RECIPIENTS:-100}
fi
ROUNDS=${ROUNDS:-5}
TARGETS=${TARGETS:-}
BASELINE_BIN=${BASELINE_BIN:-}
BUDGET_MINUTES=${BUDGET_MINUTES:-10}
BUILD_DIR=${MISSIVE_BUILD_DIR:-build}
BUILD=${BUILD:-1}
KEEP=${KEEP:-0}

while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --messages) MESSAGES=$2; shift 2 ;;
    --sessions) SESSIONS=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --recipients) RECIPIENTS=$2; shift 2 ;;
    --targets) TARGETS=$2; shift 2 ;;
    --baseline-bin) BASELINE_BIN=$2; shift 2 ;;
    --budget) BUDGET_MINUTES=$2; shift 2 ;;
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh $SCENARIO: unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
done

die() { echo "compare.sh $SCENARIO: $*" >&2; exit 1; }
# log, stop_pid, stop_postfix, wait_port
source "$ROOT/bench/bench_lib.sh"

for n in "$ROUNDS" "$MESSAGES" "$SESSIONS" "$SIZE" "$RECIPIENTS" "$BUDGET_MINUTES"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "not a number: $n"
done
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 50 ] || die "--rounds must be 1..50"
[ "$MESSAGES" -ge 1 ] && [ "$SESSIONS" -ge 1 ] || die "--messages and --sessions must be at least 1"
[ "$RECIPIENTS" -ge 1 ] && [ "$RECIPIENTS" -le 100 ] || die "--recipients must be 1..100 (missived's max_recipients)"
[ "$SIZE" -le 52428800 ] || die "--size must be at most 50 MiB (the size limit set here)"
[ -z "$BASELINE_BIN" ] || [ -x "$BASELINE_BIN" ] || die "--baseline-bin: $BASELINE_BIN is not executable"
[ "$(id -u)" -eq 0 ] || die "run as root: Postfix's master runs as root"

BENCH_USER=missivebench
PASSWORD=bench-password
SIZE_LIMIT=52428800    # octets: missived's max_message_size and Postfix's message_size_limit
RUN_TIMEOUT=300        # seconds, any one generator run
DRAIN_TIMEOUT=300      # seconds, for a target to deliver what it accepted
HELPER="python3 $ROOT/bench/big_helper.py"
COMPARE_HELPER="python3 $ROOT/bench/compare_helper.py"
if [ "$SCENARIO" = big ]; then
  MAILBOXES=("$BENCH_USER")   # Postfix delivers to the system user's mbox
else
  MAILBOXES=()
  for i in $(seq 1 "$RECIPIENTS"); do MAILBOXES+=("user$i"); done
fi
# missive-bench's --to: with --recipients N it numbers the local part 1..N.
if [ "$SCENARIO" = big ]; then BENCH_TO=$BENCH_USER@bench.test; else BENCH_TO=user@bench.test; fi

wanted() { [ -z "$TARGETS" ] || [[ " $TARGETS " == *" $1 "* ]]; }

# --- Postfix from Debian -----------------------------------------------------------------
if wanted postfix || wanted smtp-sink; then
  if ! [ -x /usr/sbin/postfix ] || ! command -v smtp-sink >/dev/null; then
    log "installing postfix from Debian (debconf: No configuration)"
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
  fi
fi
id "$BENCH_USER" >/dev/null 2>&1 ||
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$BENCH_USER"
id nobody >/dev/null 2>&1 || die "no user 'nobody' for smtp-sink"

# --- builds ---------------------------------------------------------------------------------
if [ "$BUILD" = 1 ]; then
  log "building in $BUILD_DIR (scripts/setup.sh)"
  MISSIVE_BUILD_DIR=$BUILD_DIR scripts/setup.sh >/dev/null
fi
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
MISSIVED=$BUILD_DIR/server/missived
BENCH=$BUILD_DIR/bench/missive-bench
for f in "$MISSIVED" "$BENCH"; do [ -x "$f" ] || die "missing $f (build it, or drop --no-build)"; done
"$BENCH" --help | grep -q -- --recipients || die "$BENCH has no --recipients (rebuild it)"

# --- processes we start, and the trap that stops them --------------------------------------
declare -A PID SMTP_PORT POP3_PORT DIR KIND BINARY
POSTFIX_DIRS=()
WORK=""
GEN_PID=""

cleanup() {
  set +e
  local name dir
  [ -n "$GEN_PID" ] && kill -TERM "$GEN_PID" 2>/dev/null
  for name in "${!PID[@]}"; do
    [ "${KIND[$name]}" = postfix ] || stop_pid "${PID[$name]}"
  done
  for dir in "${POSTFIX_DIRS[@]}"; do stop_postfix "$dir"; done
  if [ -n "$WORK" ]; then
    if [ "$KEEP" = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  fi
}

# --- missived ---------------------------------------------------------------------------------
setup_missived() {  # setup_missived NAME BINARY: config, data directory and users
  local name=$1 binary=$2 dir=$WORK/$1 box start=$SECONDS
  mkdir -p "$dir"
  cat > "$dir/missived.toml" <<EOF
[smtp]
max_connections = 100000
max_connections_per_address = 100000
max_message_size = $SIZE_LIMIT
EOF
  DIR[$name]=$dir
  BINARY[$name]=$binary
  KIND[$name]=missived
  # The first alone (it creates the data directory and the database), then two at a time:
  # each `user add` spends most of its time in scrypt.
  echo "$PASSWORD" | "$binary" user add "${MAILBOXES[0]}@bench.test" --password-stdin \
    --config "$dir/missived.toml" --data-dir "$dir/data" --domain bench.test >/dev/null ||
    die "$name: missived user add failed"
  printf '%s\n' "${MAILBOXES[@]:1}" | xargs -r -P 2 -I{} sh -c \
    'echo "$0" | "$1" user add "{}@bench.test" --password-stdin --config "$2/missived.toml" --data-dir "$2/data" --domain bench.test >/dev/null' \
    "$PASSWORD" "$binary" "$dir" || die "$name: missived user add failed"
  log "$name: ${#MAILBOXES[@]} user(s) added in $((SECONDS - start)) s"
}

launch_missived() {  # launch_missived NAME: starts it on its data directory
  local name=$1 dir=${DIR[$1]}
  rm -f "$dir/stdout"   # what the last process said must not be read for this one
  "${BINARY[$name]}" serve --config "$dir/missived.toml" --data-dir "$dir/data" --smtp 127.0.0.1:0 \
    --pop3 127.0.0.1:0 --domain bench.test --hostname "${name//[^a-z0-9.]/-}.bench.test" \
    > "$dir/stdout" 2>> "$dir/missived.log" &
  PID[$name]=$!
  SMTP_PORT[$name]=""; POP3_PORT[$name]=""
  for _ in $(seq 1 100); do
    SMTP_PORT[$name]=$(sed -n 's/.*smtp listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/stdout" 2>/dev/null || true)
    POP3_PORT[$name]=$(sed -n 's/.*pop3 listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/stdout" 2>/dev/null || true)
    [ -n "${SMTP_PORT[$name]}" ] && [ -n "${POP3_PORT[$name]}" ] && break
    kill -0 "${PID[$name]}" 2>/dev/null || { tail -n 20 "$dir/missived.log" >&2; die "$name did not start"; }
    sleep 0.1
  done
  [ -n "${POP3_PORT[$name]}" ] || die "$name did not say where it listens"
  wait_port "${SMTP_PORT[$name]}" || die "$name: nothing listens on ${SMTP_PORT[$name]}"
}

restart_missived() {  # restart_missived NAME: a fresh process, same data directory
  stop_pid "${PID[$1]}"
  launch_missived "$1"
}

# --- Postfix and smtp-sink ----------------------------------------------------------------------
start_postfix() {
  local name=postfix dir=$WORK/postfix port master="" uid gid box
  mkdir -p "$dir/etc" "$dir/queue" "$dir/data" "$dir/spool" "$dir/vmail"
  chown postfix "$dir/data"
  chmod 700 "$dir/data"
  chmod 1777 "$dir/spool"   # local(8) creates the mbox as the recipient, with a dot-lock beside it
  uid=$(id -u "$BENCH_USER"); gid=$(id -g "$BENCH_USER")
  cat > "$dir/etc/main.cf" <<EOF
# A private Postfix for bench/compare.sh $SCENARIO: loopback only, its own directories;
# everything else Postfix's defaults (queue files and mailboxes fsynced).
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_spool_directory = $dir/spool
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
myhostname = postfix.bench.test
mydomain = bench.test
myorigin = bench.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
message_size_limit = $SIZE_LIMIT
mailbox_size_limit = 0
biff = no
EOF
  if [ "$SCENARIO" = big ]; then
    # Local delivery to the mbox of the system user missivebench, as compare.sh.
    cat >> "$dir/etc/main.cf" <<EOF
mydestination = bench.test
local_recipient_maps = proxy:unix:passwd.byname
EOF
  else
    # A virtual mailbox domain: one mbox file per address, all owned by one uid.
    : > "$dir/etc/vmailbox"
    for box in "${MAILBOXES[@]}"; do echo "$box@bench.test $box" >> "$dir/etc/vmailbox"; done
    chown "$BENCH_USER:" "$dir/vmail"
    cat >> "$dir/etc/main.cf" <<EOF
mydestination = localhost
virtual_mailbox_domains = bench.test
virtual_mailbox_base = $dir/vmail
virtual_mailbox_maps = texthash:$dir/etc/vmailbox
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
virtual_mailbox_limit = 0
EOF
  fi
  # smtpd on port 0: master binds a port the kernel picks and keeps it; it is read back
  # from master's socket once it runs. The other services: tests/lib/postfix_master.cf.
  { echo "127.0.0.1:0 inet n - n - - smtpd"; cat "$ROOT/tests/lib/postfix_master.cf"; } \
    > "$dir/etc/master.cf"
  POSTFIX_DIRS+=("$dir")
  if ! postfix -c "$dir/etc" start > "$dir/start.log" 2>&1; then
    cat "$dir/start.log" "$dir/maillog" >&2 2>/dev/null
    die "postfix did not start"
  fi
  for _ in $(seq 1 100); do
    master=$(tr -dc 0-9 2>/dev/null < "$dir/queue/pid/master.pid" || true)
    [ -n "$master" ] && break
    sleep 0.1
  done
  [ -n "$master" ] || { cat "$dir/maillog" >&2; die "postfix: master wrote no pid file"; }
  port=$($COMPARE_HELPER listen-port "$master") || { cat "$dir/maillog" >&2; die "postfix: master listens nowhere"; }
  wait_port "$port" || die "postfix: nothing listens on $port"
  PID[$name]=$master
  SMTP_PORT[$name]=$port
  KIND[$name]=postfix
  DIR[$name]=$dir
  log "postfix $(postconf -c "$dir/etc" -h mail_version): smtp 127.0.0.1:$port, master pid $master"
}

start_sink() {
  local name=smtp-sink dir=$WORK/smtp-sink port
  mkdir -p "$dir"
  smtp-sink -u nobody 127.0.0.1:0 1024 > "$dir/stdout" 2>&1 &
  PID[$name]=$!
  port=$($COMPARE_HELPER listen-port "${PID[$name]}") || { cat "$dir/stdout" >&2; die "smtp-sink listens nowhere"; }
  wait_port "$port" || die "smtp-sink did not listen on $port"
  SMTP_PORT[$name]=$port
  KIND[$name]=sink
  DIR[$name]=$dir
  log "smtp-sink: 127.0.0.1:$port, pid ${PID[$name]}"
}

# --- measuring -------------------------------------------------------------------------------
snapshot() {  # server CPU (missived; Postfix's master with all its daemons), machine busy, total
  if [ "${KIND[$1]}" = postfix ]; then $COMPARE_HELPER snapshot "tree:${PID[$1]}"
  else $COMPARE_HELPER snapshot "${PID[$1]}"; fi
}

elapsed_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }

# Waits until a target has delivered all it accepted, then empties its mailboxes; prints the
# seconds that took (from the end of the load) and "ok" or what is missing.
drain() {  # drain NAME ACCEPTED
  local name=$1 accepted=$2 start=$EPOCHREALTIME left=0 delivered=0 box expected
  expected=$((accepted * ${#MAILBOXES[@]}))
  case "${KIND[$name]}" in
    postfix)
      for _ in $(seq 1 $((DRAIN_TIMEOUT * 20))); do
        left=$(find "${DIR[$name]}/queue/incoming" "${DIR[$name]}/queue/active" \
                    "${DIR[$name]}/queue/deferred" -type f | wc -l)
        delivered=$(grep -c ' status=sent ' "${DIR[$name]}/maillog" || true)
        [ "$left" = 0 ] && [ "$delivered" -ge "$expected" ] && break
        sleep 0.05
      done
      local took
      took=$(elapsed_since "$start")
      : > "${DIR[$name]}/maillog"
      : > "${DIR[$name]}/spool/$BENCH_USER" 2>/dev/null || true
      for box in "${MAILBOXES[@]}"; do : > "${DIR[$name]}/vmail/$box" 2>/dev/null || true; done
      if [ "$left" != 0 ]; then echo "$took queue-not-empty:$left"
      elif [ "$delivered" != "$expected" ]; then echo "$took delivered:$delivered/$expected"
      else echo "$took ok"; fi
      ;;
    missived)
      # Local delivery is in the transaction that stored the message: every copy should be
      # in its maildrop at once. Counted in the database (read-only), then the maildrops are
      # emptied over POP3.
      # Found complete at the first look, the drain is 0: delivered before the 250.
      local took=0 have=0 db=${DIR[$name]}/data/missive.db looks=0
      for _ in $(seq 1 $((DRAIN_TIMEOUT * 10))); do
        have=$(( $($HELPER maildrop-rows "$db") - MAILDROP_ROWS_BEFORE ))
        looks=$((looks + 1))
        [ "$have" -ge "$expected" ] && break
        sleep 0.1
      done
      [ "$looks" = 1 ] || took=$(elapsed_since "$start")
      local -a users=()
      for box in "${MAILBOXES[@]}"; do users+=("$box@bench.test"); done
      timeout "$DRAIN_TIMEOUT" $HELPER pop3-clear "${POP3_PORT[$name]}" "$PASSWORD" "${users[@]}" ||
        die "$name: emptying the maildrops failed"
      if [ "$have" -ge "$expected" ]; then echo "$took ok"; else echo "$took delivered:$have/$expected"; fi
      ;;
    *) echo "- ok" ;;
  esac
}

# One run: missive-bench against a target; appends a record to results.jsonl.
run_one() {  # run_one ROUND TARGET
  local round=$1 target=$2 n=$MESSAGES out=$WORK/run.json err=$WORK/run.err
  [ "$round" != 0 ] || n=4
  local rc=0 accepted=0 rate=0 errors=0 status=ok detail="" before after memory_before="" memory_after=""
  local -a extra=()
  rm -f "$out" "$err" "$WORK/db_before.json" "$WORK/db_after.json"
  if [ "${KIND[$target]}" = missived ]; then
    MAILDROP_ROWS_BEFORE=$($HELPER maildrop-rows "${DIR[$target]}/data/missive.db")
    if [ "$SCENARIO" = big ]; then
      restart_missived "$target"
      memory_before=$($HELPER memory "${PID[$target]}")
    else
      $HELPER database "${DIR[$target]}/data/missive.db" > "$WORK/db_before.json" || die "$target: reading the database failed"
    fi
  fi
  before=$(snapshot "$target")
  timeout "$RUN_TIMEOUT" "$BENCH" --port "${SMTP_PORT[$target]}" -n "$n" -s "$SIZE" -c "$SESSIONS" \
    --recipients "$RECIPIENTS" --from bench@bench.test --to "$BENCH_TO" --timeout 120 --json "$out" \
    --quiet --label "$target $SCENARIO round $round" 2> "$err" &
  GEN_PID=$!
  wait "$GEN_PID" || rc=$?
  GEN_PID=""
  # The peak is read before the drain: a POP3 login runs scrypt (32 MiB) in the relay.
  [ -z "$memory_before" ] || memory_after=$($HELPER memory "${PID[$target]}")
  after=$(snapshot "$target")
  if [ -s "$out" ]; then
    accepted=$(sed -n 's/.*"accepted":\([0-9]*\).*/\1/p' "$out")
    rate=$(sed -n 's/.*"msgs_per_s":\([0-9.]*\).*/\1/p' "$out")
    [ "$rc" = 0 ] || [ "$rc" = 1 ] || { status=exit-$rc; errors=1; }
  else
    status=no-report-exit-$rc; errors=1; detail=$(head -c 300 "$err")
  fi
  if [ "${KIND[$target]}" = missived ] && [ "$SCENARIO" = recipients ]; then
    $HELPER database "${DIR[$target]}/data/missive.db" > "$WORK/db_after.json" || die "$target: reading the database failed"
    extra+=("db_before@=$WORK/db_before.json" "db_after@=$WORK/db_after.json")
  fi
  local drained took state
  drained=$(drain "$target" "${accepted:-0}")
  read -r took state <<< "$drained"
  if [ "$state" != ok ]; then errors=$((errors + 1)); status=$state; fi
  if [ -n "$memory_after" ]; then
    local rss0 hwm0 rss1 hwm1
    read -r rss0 hwm0 <<< "$memory_before"
    read -r rss1 hwm1 <<< "$memory_after"
    extra+=(rss_before_kib="$rss0" hwm_kib="$hwm1" rss_after_kib="$rss1")
  fi
  [ "$took" != - ] && extra+=(drain_s="$took")
  [ -n "$detail" ] && extra+=(detail="$(echo "$detail" | tr '\n' ' ')")
  $HELPER record "$WORK/results.jsonl" round="$round" target="$target" scenario="$SCENARIO" \
    messages="$n" size="$SIZE" recipients="$RECIPIENTS" sessions="$SESSIONS" accepted="${accepted:-0}" \
    rate="${rate:-0}" errors="$errors" status="$status" before="$before" after="$after" \
    bench="$out" "${extra[@]}"
  local note=""
  [ -n "$memory_after" ] && note=", peak RSS +$(( (${memory_after#* } - ${memory_before% *}) / 1024 )) MiB"
  [ "$took" != - ] && note+=", drained in $took s"
  log "round $round $target: ${rate:-0} msg/s, accepted ${accepted:-0}/$n, $status$note"
}

# --- main ---------------------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/missive-$SCENARIO.XXXXXX)
chmod 755 "$WORK"
trap cleanup EXIT
trap 'exit 130' INT TERM
log "work directory $WORK; $SCENARIO: rounds $ROUNDS, $MESSAGES messages of $SIZE octets to $RECIPIENTS recipient(s), $SESSIONS sessions"

targets=()
if wanted missived; then
  setup_missived missived "$MISSIVED"; launch_missived missived; targets+=(missived)
fi
if [ -n "$BASELINE_BIN" ] && wanted missived@baseline; then
  setup_missived missived@baseline "$BASELINE_BIN"; launch_missived missived@baseline
  targets+=(missived@baseline)
fi
if wanted postfix; then start_postfix; targets+=(postfix); fi
if [ "$SCENARIO" = big ] && wanted smtp-sink; then start_sink; targets+=(smtp-sink); fi
[ ${#targets[@]} -gt 0 ] || die "--targets: nothing to measure in \"$TARGETS\""
for t in "${targets[@]}"; do
  if [ "${KIND[$t]}" = missived ]; then
    log "$t: smtp 127.0.0.1:${SMTP_PORT[$t]}, pop3 127.0.0.1:${POP3_PORT[$t]}, pid ${PID[$t]}"
  fi
done

log "warm-up: 4 messages per target"
for t in "${targets[@]}"; do run_one 0 "$t"; done

budget_end=$((SECONDS + BUDGET_MINUTES * 60))
stopped=""
for round in $(seq 1 "$ROUNDS"); do
  if [ "$SECONDS" -ge "$budget_end" ]; then stopped="round $round"; break; fi
  order=("${targets[@]}")
  if [ $((round % 2)) = 0 ]; then
    order=()
    for ((i = ${#targets[@]} - 1; i >= 0; i--)); do order+=("${targets[$i]}"); done
  fi
  for t in "${order[@]}"; do run_one "$round" "$t"; done
done

for name in "${!PID[@]}"; do
  if [ "${KIND[$name]}" = postfix ]; then stop_postfix "${DIR[$name]}"; else stop_pid "${PID[$name]}"; fi
  unset "PID[$name]"
done
POSTFIX_DIRS=()
echo
$HELPER summarize "$SCENARIO" "$WORK/results.jsonl"
if [ -n "$stopped" ]; then
  echo "NOTE: the time budget ($BUDGET_MINUTES min) ran out before $stopped; later rounds were not started."
fi
log "done in $SECONDS s"
