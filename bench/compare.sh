#!/usr/bin/env bash
# compare.sh: the same SMTP loads against missived, a private Postfix and Postfix's smtp-sink
# (which stores nothing: the protocol ceiling), alternating target by target within each
# round, with two generators (missive-bench and Postfix's smtp-source), then both servers
# again with every fsync/fdatasync slowed down (bench/slow_fsync.so) — and a table of
# medians and ratios at the end.
#
#   bench/compare.sh                          # defaults: 5 rounds, 5000 x 1 KiB, 10 and 50 sessions
#   ROUNDS=3 MESSAGES=2000 CONCURRENCY="50" bench/compare.sh
#   bench/compare.sh --rounds 3 --messages 2000 --concurrency "10 50" --size 1024
#
# Options (flag or environment variable):
#   --rounds N          ROUNDS          rounds (default 5; at most 50)
#   --messages N        MESSAGES        messages per run (default 5000: over half a second
#                                       of missived at 50 sessions, long enough for a steady state)
#   --concurrency "L"   CONCURRENCY     concurrent sessions, a list (default "10 50")
#   --size N            SIZE            octets per message (default 1024)
#   --per-session K     PER_SESSION     messages per connection for missive-bench (default 1;
#                                       smtp-source always opens one connection per message)
#   --slow-us N         SLOW_US         added to each fsync in the slow-disk runs (default 2000)
#   --no-slow           SLOW=0          skip the slow-fsync runs
#   --no-smtp-source    SMTP_SOURCE=0   missive-bench only
#   --budget MIN        BUDGET_MINUTES  start no run after this many minutes of measuring
#                                       (default 20; the set-up and any build come on top)
#   --build-dir DIR     MISSIVE_BUILD_DIR  build to use/make (default build, via scripts/setup.sh)
#   --no-build          BUILD=0         use the binaries as they are
#   --keep              KEEP=1          keep the work directory (logs, configs, results.jsonl)
#   --baseline COMMIT   BASELINE        also measure missived built from COMMIT (target
#                                       missived@baseline): old against new in one run
#   --postgresql        POSTGRESQL=1    also measure missived on PostgreSQL: one node
#                                       (missived+pg) and two nodes on one database (missived+pg2)
#   --metrics           METRICS=1       also measure missived with [metrics] listen, scraped
#                                       (GET /metrics) once a second all along: missived+metrics,
#                                       before missived in even rounds, after it in odd ones
#   --targets "L"       TARGETS         missive-bench targets to run, a list (default: all);
#                                       e.g. "missived missived+metrics"; the others are not
#                                       started (smtp-source runs only against those listed)
#
# What runs (all on 127.0.0.1, all stopped by the trap on exit, every wait bounded):
#   - Postfix from Debian, installed if missing (debconf "No configuration": no system
#     instance is set up or started). Two private instances, each with its own
#     config_directory, queue_directory, data_directory and mail spool in the work
#     directory, smtpd on one loopback port only, local delivery to the mbox of the
#     system user `missivebench` (created if missing), Postfix's defaults otherwise (so
#     queue files and mailboxes are fsynced). The second one runs with the slow-fsync shim:
#     LD_PRELOAD cannot be passed through Postfix's environment clean-up, so it is named in
#     its main.cf `import_environment`, which master and every daemon it spawns receive (the
#     script checks the shim is mapped into master and its children).
#   - Two missived (one with the shim preloaded), each with its own data directory,
#     max_connections_per_address raised above the concurrency, and the user
#     missivebench@bench.test added with `missived user add` (the lag measurement logs in
#     to POP3 every few milliseconds; missived checks scrypt once, then knows the login).
#   - smtp-sink on a loopback port.
#   Postfix and smtp-sink are given port 0 and the port they bound is read from their
#   socket (compare_helper.py listen-port); missived says its ports itself.
#   - With --baseline: COMMIT checked out in a git worktree (build-baseline/src, removed on
#     exit) and built, also under --no-build, by its own scripts/setup.sh into
#     build-baseline/build (kept, so that the next run is mostly ccache hits);
#     missived@baseline runs from there with its own data directory and the same config as
#     missived. Every target is loaded by the current missive-bench.
#   - With --postgresql: a private PostgreSQL cluster (tests/lib/pg_cluster.py: initdb in a
#     temporary directory as an unprivileged user, 127.0.0.1 on a free port; never the
#     system cluster), two fresh databases in it, missived+pg (one node, [store] url and
#     node) on the first and missived+pg2 (two nodes) on the second. Against missived+pg2,
#     two missive-bench run at once, one per node, each with half the messages and half the
#     sessions; their reports are merged (msg/s: all accepted over first connect to last 250
#     of either; latency percentiles over both runs' samples). The drain check logs in to
#     POP3 on the first node, which sees the maildrop both nodes deliver to. Server CPU of
#     these targets is the node(s) plus the whole PostgreSQL cluster (also shown apart).
# For each round, for each concurrency: missive-bench against missived, [missived@baseline,]
# missived+lag, postfix, smtp-sink, [missived+pg, missived+pg2,] missived+slowfsync,
# postfix+slowfsync, then smtp-source against missived, postfix and smtp-sink. Acceptance is measured without a POP3 poller, exactly as
# for smtp-sink and Postfix; accept -> mailbox lag is measured in a separate run against
# the same missived process (missived+lag: same ports, pid and data directory), where
# missive-bench also polls POP3 every 5 ms. Each run ends when the target has delivered
# everything it accepted (Postfix: its queue is empty; missived: every message is in the
# mailbox, which is then emptied), so no run pays for the previous one's backlog.
set -euo pipefail
# Named scenarios that run alone, each with its own options and time budget:
#   compare.sh pop3 [--help]   POP3 retrieval, missived against Dovecot (bench/compare_pop3.sh)
#   compare.sh relay [--help]  the relay path, missived against Postfix to one next hop
#                              (bench/compare_relay.sh)
#   compare.sh slowdisk [OPTIONS]   acceptance with every fsync slowed (issue 20, target 2):
#                              missived and missived+slowfsync only, 10 and 50 sessions, and
#                              with --baseline COMMIT the same two for the baseline; the
#                              options below apply
#   compare.sh big|recipients [--help]   10 MiB messages at 4 sessions; one message to 100
#                              recipients at 10 sessions (issue 20, targets 3, 4; bench/compare_big.sh)
if [ "${1:-}" = pop3 ]; then shift; exec "$(dirname "$0")/compare_pop3.sh" "$@"; fi
if [ "${1:-}" = relay ]; then shift; exec "$(dirname "$0")/compare_relay.sh" "$@"; fi
if [ "${1:-}" = slowdisk ]; then
  shift
  TARGETS=${TARGETS:-"missived missived+slowfsync missived@baseline missived@baseline+slowfsync"}
  export TARGETS SMTP_SOURCE=0
  exec "$0" "$@"
fi
if [ "${1:-}" = big ] || [ "${1:-}" = recipients ]; then exec "$(dirname "$0")/compare_big.sh" "$@"; fi
cd "$(dirname "$0")/.."
ROOT=$PWD

ROUNDS=${ROUNDS:-5}
MESSAGES=${MESSAGES:-5000}
CONCURRENCY=${CONCURRENCY:-"10 50"}
SIZE=${SIZE:-1024}
PER_SESSION=${PER_SESSION:-1}
SLOW_US=${SLOW_US:-2000}
SLOW=${SLOW:-1}
SMTP_SOURCE=${SMTP_SOURCE:-1}
BUDGET_MINUTES=${BUDGET_MINUTES:-20}
BUILD_DIR=${MISSIVE_BUILD_DIR:-build}
BUILD=${BUILD:-1}
KEEP=${KEEP:-0}
BASELINE=${BASELINE:-}
POSTGRESQL=${POSTGRESQL:-0}
METRICS=${METRICS:-0}
TARGETS=${TARGETS:-}

while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --messages) MESSAGES=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --per-session) PER_SESSION=$2; shift 2 ;;
    --slow-us) SLOW_US=$2; shift 2 ;;
    --no-slow) SLOW=0; shift ;;
    --no-smtp-source) SMTP_SOURCE=0; shift ;;
    --budget) BUDGET_MINUTES=$2; shift 2 ;;
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    --baseline) BASELINE=$2; shift 2 ;;
    --postgresql) POSTGRESQL=1; shift ;;
    --metrics) METRICS=1; shift ;;
    --targets) TARGETS=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
done

die() { echo "compare.sh: $*" >&2; exit 1; }
# log, stop_pid, stop_postfix, wait_port
source "$ROOT/bench/bench_lib.sh"

for n in "$ROUNDS" "$MESSAGES" "$SIZE" "$PER_SESSION" "$SLOW_US" "$BUDGET_MINUTES"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "not a number: $n"
done
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 50 ] || die "--rounds must be 1..50"
[ "$MESSAGES" -ge 1 ] || die "--messages must be at least 1"
[ "$PER_SESSION" -ge 1 ] || die "--per-session must be at least 1"
for c in $CONCURRENCY; do [[ "$c" =~ ^[0-9]+$ ]] && [ "$c" -ge 1 ] || die "bad concurrency $c"; done
if [ "$POSTGRESQL" = 1 ]; then
  # missived+pg2 splits each run's messages and sessions between its two nodes.
  [ "$MESSAGES" -ge 2 ] || die "--postgresql needs --messages 2 or more"
  for c in $CONCURRENCY; do [ "$c" -ge 2 ] || die "--postgresql needs every concurrency 2 or more"; done
  [ -f tests/lib/pg_cluster.py ] || die "--postgresql needs tests/lib/pg_cluster.py"
  command -v psql >/dev/null || die "--postgresql needs psql (Debian postgresql-client)"
fi
if [ -n "$BASELINE" ]; then
  BASELINE_SHA=$(git rev-parse --verify --quiet "$BASELINE^{commit}") || die "--baseline: no commit $BASELINE"
fi
[ "$(id -u)" -eq 0 ] || die "run as root: Postfix's master runs as root, and a system user may be created"

BENCH_USER=missivebench
BENCH_ADDRESS=missivebench@bench.test
PASSWORD=bench-password
RUN_TIMEOUT=300        # seconds, any one generator run
DRAIN_TIMEOUT=300      # seconds, for a target to deliver what it accepted (Postfix with slow fsync: ~80 s for 10,000)
HELPER="python3 $ROOT/bench/compare_helper.py"

# --- Postfix from Debian ---------------------------------------------------------------
install_postfix() {
  if [ -x /usr/sbin/postfix ] && command -v smtp-source >/dev/null && command -v smtp-sink >/dev/null; then
    return
  fi
  log "installing postfix from Debian (debconf: No configuration)"
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
  # Debian's postfix package ships both test programs in /usr/sbin.
  command -v smtp-source >/dev/null || die "smtp-source missing after installing postfix"
  command -v smtp-sink >/dev/null || die "smtp-sink missing after installing postfix"
}

# --- builds ----------------------------------------------------------------------------
build() {
  if [ "$BUILD" = 1 ]; then
    log "building in $BUILD_DIR (scripts/setup.sh)"
    MISSIVE_BUILD_DIR=$BUILD_DIR scripts/setup.sh >/dev/null
  fi
  MISSIVED=$ROOT/$BUILD_DIR/server/missived
  BENCH=$ROOT/$BUILD_DIR/bench/missive-bench
  SHIM=$ROOT/$BUILD_DIR/bench/slow_fsync.so
  [[ "$BUILD_DIR" = /* ]] && MISSIVED=$BUILD_DIR/server/missived BENCH=$BUILD_DIR/bench/missive-bench \
    SHIM=$BUILD_DIR/bench/slow_fsync.so
  for f in "$MISSIVED" "$BENCH" "$SHIM"; do [ -e "$f" ] || die "missing $f (build it, or drop --no-build)"; done
}

# The baseline: COMMIT in a worktree of its own, built by its own scripts/setup.sh. The
# paths are fixed (build-baseline/, ignored by git) so that a second run finds the same build
# directory and ccache hits; the worktree itself is removed on exit.
BASELINE_SRC=$ROOT/build-baseline/src
BASELINE_BUILD=$ROOT/build-baseline/build
BASELINE_ADDED=0
build_baseline() {
  if [ -e "$BASELINE_SRC" ]; then  # left by an interrupted run
    git worktree remove --force "$BASELINE_SRC" 2>/dev/null || rm -rf "$BASELINE_SRC"
    git worktree prune
  fi
  mkdir -p "$ROOT/build-baseline"
  git worktree add --detach --quiet "$BASELINE_SRC" "$BASELINE_SHA" || die "git worktree add $BASELINE_SHA failed"
  BASELINE_ADDED=1
  log "building the baseline $(git log -1 --format='%h %s' "$BASELINE_SHA") in $BASELINE_BUILD"
  (cd "$BASELINE_SRC" && MISSIVE_BUILD_DIR=$BASELINE_BUILD scripts/setup.sh > "$WORK/baseline-build.log" 2>&1) ||
    { tail -n 30 "$WORK/baseline-build.log" >&2; die "the baseline did not build (log: $WORK/baseline-build.log)"; }
  BASELINE_MISSIVED=$BASELINE_BUILD/server/missived
  [ -x "$BASELINE_MISSIVED" ] || die "missing $BASELINE_MISSIVED after building the baseline"
}

# The commit a binary was built from, for the record of each run.
current_commit() {
  local sha
  sha=$(git rev-parse --short HEAD)
  git diff --quiet HEAD -- . ':!bench' 2>/dev/null || sha+="+changes"
  echo "$sha"
}

# --- processes we start, and the trap that stops them -----------------------------------
declare -A PID SMTP_PORT POP3_PORT DIR KIND COMMIT
declare -A LAG_OF   # LAG_OF[missived+lag]=missived: an alias of that process, run with lag measured
declare -A PEER     # PEER[missived+pg2]=missived+pg2.n2: the second node, loaded at the same time
declare -A ON_DB    # ON_DB[missived+pg]=1: the target's store is the PostgreSQL cluster
declare -A METRICS_PORT  # METRICS_PORT[missived+metrics]: where its /metrics is scraped
POSTFIX_DIRS=()
WORK=""
PG_STATE=""         # the directory pg_cluster.py keeps its state in (url, cluster)
PG_URL=""           # the cluster's maintenance database
PG_PID=""           # its postmaster
GEN_PIDS=()         # generators running in the background (the two of a two-node run)

# Whether PID runs: exists and is not a zombie. (The postmaster, daemonized by pg_ctl, is
# reparented to init, which may take a while to reap it.)
running() {
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

cleanup() {
  local name dir pid
  set +e
  for pid in "${GEN_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for name in "${!PID[@]}"; do
    [ "${KIND[$name]}" = postfix ] && continue
    [ -n "${LAG_OF[$name]:-}" ] && continue   # stopped under its own name
    stop_pid "${PID[$name]}"
  done
  for dir in "${POSTFIX_DIRS[@]}"; do stop_postfix "$dir"; done
  if [ -n "$PG_STATE" ]; then
    cp "$(cat "$PG_STATE/cluster" 2>/dev/null)/postgres.log" "$PG_STATE/" 2>/dev/null
    timeout 120 python3 "$ROOT/tests/lib/pg_cluster.py" stop "$PG_STATE" >/dev/null 2> "$PG_STATE/stop.log" ||
      cat "$PG_STATE/stop.log" >&2
    if [ -n "$PG_PID" ]; then
      for _ in $(seq 1 100); do running "$PG_PID" || break; sleep 0.1; done
      if running "$PG_PID"; then
        log "PostgreSQL (postmaster $PG_PID) did not stop: killing it"
        kill -KILL "$PG_PID" 2>/dev/null
      fi
    fi
  fi
  if [ "$BASELINE_ADDED" = 1 ]; then
    git worktree remove --force "$BASELINE_SRC" || rm -rf "$BASELINE_SRC"
    git worktree prune
  fi
  if [ -n "$WORK" ]; then
    if [ "$KEEP" = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  fi
}

# start_missived NAME SLOW(0|1) [BINARY [STORE_URL NODE ADD_USER(0|1) [METRICS(0|1)]]]
# BINARY: the current build's missived by default; STORE_URL: PostgreSQL (SQLite by default);
# METRICS: [metrics] listen on a free port, and a scraper GETting /metrics once a second
# until the end (NAME.scraper; its tally in DIR/scrapes).
start_missived() {
  local name=$1 slow=$2 binary=${3:-$MISSIVED} url=${4:-} node=${5:-} add_user=${6:-1}
  local metrics=${7:-0} dir=$WORK/$1
  mkdir -p "$dir"
  cat > "$dir/missived.toml" <<EOF
# All load comes from 127.0.0.1: lift the per-address cap (default 20) above any concurrency.
[smtp]
max_connections = 100000
max_connections_per_address = 100000
EOF
  if [ -n "$url" ]; then
    cat >> "$dir/missived.toml" <<EOF

[store]
url = "$url"
node = "$node"
EOF
  fi
  if [ "$metrics" = 1 ]; then
    printf '\n[metrics]\nlisten = "127.0.0.1:0"\n' >> "$dir/missived.toml"
  fi
  if [ "$add_user" = 1 ]; then
    echo "$PASSWORD" | "$binary" user add "$BENCH_ADDRESS" --password-stdin --config "$dir/missived.toml" \
      --data-dir "$dir/data" --domain bench.test >/dev/null
  fi
  local -a env=()
  if [ "$slow" = 1 ]; then
    head -c 8 /dev/zero > "$dir/fsync.count"
    chmod 666 "$dir/fsync.count"
    env=(LD_PRELOAD="$SHIM" SLOW_FSYNC_US="$SLOW_US" SLOW_FSYNC_COUNTER="$dir/fsync.count")
  fi
  env "${env[@]}" "$binary" serve --config "$dir/missived.toml" --data-dir "$dir/data" \
    --smtp 127.0.0.1:0 --pop3 127.0.0.1:0 --domain bench.test --hostname "${name//[^a-z0-9.]/-}.bench.test" \
    > "$dir/stdout" 2> "$dir/missived.log" &
  PID[$name]=$!
  KIND[$name]=missived
  DIR[$name]=$dir
  if [ "$binary" = "$MISSIVED" ]; then COMMIT[$name]=$(current_commit); else COMMIT[$name]=${BASELINE_SHA:0:7}; fi
  if [ -n "$url" ]; then ON_DB[$name]=1; fi
  for _ in $(seq 1 100); do
    # (The child may not have created its stdout file yet.)
    SMTP_PORT[$name]=$(sed -n 's/.*smtp listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/stdout" 2>/dev/null || true)
    POP3_PORT[$name]=$(sed -n 's/.*pop3 listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/stdout" 2>/dev/null || true)
    [ -n "${SMTP_PORT[$name]}" ] && [ -n "${POP3_PORT[$name]}" ] && break
    kill -0 "${PID[$name]}" 2>/dev/null || { cat "$dir/missived.log" >&2; die "$name did not start"; }
    sleep 0.1
  done
  [ -n "${SMTP_PORT[$name]}" ] || die "$name did not say where it listens"
  if [ "$metrics" = 1 ]; then
    local metrics_port
    metrics_port=$(sed -n 's/.*metrics listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/stdout")
    [ -n "$metrics_port" ] || die "$name did not say where its metrics listen"
    $HELPER scrape "$metrics_port" 1 "$dir/scrapes" 2> "$dir/scraper.log" &
    PID[$name.scraper]=$!
    KIND[$name.scraper]=scraper
    METRICS_PORT[$name]=$metrics_port
  fi
  [ "$($HELPER pop3-count "${POP3_PORT[$name]}" "$BENCH_ADDRESS" "$PASSWORD")" = 0 ] ||
    die "$name: POP3 login as $BENCH_ADDRESS failed"
  if [ "$slow" = 1 ]; then
    grep -q slow_fsync "/proc/${PID[$name]}/maps" || die "$name: slow_fsync.so is not mapped"
  fi
  log "$name: smtp 127.0.0.1:${SMTP_PORT[$name]}, pop3 127.0.0.1:${POP3_PORT[$name]}, pid ${PID[$name]}"
}

# NAME+lag: the same missived process (same ports, pid, data directory) under another name,
# against which missive-bench also measures accept -> mailbox lag. No process is started.
alias_lag() {  # alias_lag NAME
  local name=$1 lag=$1+lag
  PID[$lag]=${PID[$name]}
  SMTP_PORT[$lag]=${SMTP_PORT[$name]}
  POP3_PORT[$lag]=${POP3_PORT[$name]}
  DIR[$lag]=${DIR[$name]}
  KIND[$lag]=missived
  COMMIT[$lag]=${COMMIT[$name]}
  LAG_OF[$lag]=$name
}

start_postfix() {  # start_postfix NAME SLOW(0|1)
  local name=$1 slow=$2 dir=$WORK/$1 port master child
  mkdir -p "$dir/etc" "$dir/queue" "$dir/data" "$dir/spool"
  chown postfix "$dir/data"
  chmod 700 "$dir/data"
  chmod 1777 "$dir/spool"   # local(8) creates the mbox as the recipient, with a dot-lock beside it
  cat > "$dir/etc/main.cf" <<EOF
# A private Postfix for bench/compare.sh: loopback only, its own directories, local delivery
# to mbox files; everything else Postfix's defaults (queue files and mailboxes fsynced).
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
alias_maps =
alias_database =
local_recipient_maps = proxy:unix:passwd.byname
mailbox_size_limit = 0
biff = no
EOF
  if [ "$slow" = 1 ]; then
    head -c 8 /dev/zero > "$dir/fsync.count"
    chmod 666 "$dir/fsync.count"
    # Postfix rebuilds every daemon's environment from this list (the default list, plus
    # the shim), so the preload reaches master and all it spawns.
    cat >> "$dir/etc/main.cf" <<EOF
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ XAUTHORITY DISPLAY LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME LD_PRELOAD=$SHIM SLOW_FSYNC_US=$SLOW_US SLOW_FSYNC_COUNTER=$dir/fsync.count
EOF
  fi
  # smtpd on port 0: master binds a port the kernel picks and keeps it; it is read back
  # from master's socket once it runs. The other services: tests/lib/postfix_master.cf.
  { echo "127.0.0.1:0 inet n - n - - smtpd"; cat "$ROOT/tests/lib/postfix_master.cf"; } \
    > "$dir/etc/master.cf"
  POSTFIX_DIRS+=("$dir")
  if ! postfix -c "$dir/etc" start > "$dir/start.log" 2>&1; then
    cat "$dir/start.log" "$dir/maillog" >&2 2>/dev/null
    die "$name: postfix did not start"
  fi
  master=""
  for _ in $(seq 1 100); do
    master=$(tr -dc 0-9 2>/dev/null < "$dir/queue/pid/master.pid" || true)
    [ -n "$master" ] && break
    sleep 0.1
  done
  [ -n "$master" ] || { cat "$dir/maillog" >&2; die "$name: master wrote no pid file"; }
  port=$($HELPER listen-port "$master") || { cat "$dir/maillog" >&2; die "$name: master listens nowhere"; }
  wait_port "$port" || { cat "$dir/maillog" >&2; die "$name: nothing listens on $port"; }
  PID[$name]=$master
  SMTP_PORT[$name]=$port
  KIND[$name]=postfix
  DIR[$name]=$dir
  if [ "$slow" = 1 ]; then
    grep -q slow_fsync "/proc/$master/maps" || die "$name: slow_fsync.so is not mapped into master"
    for child in $(pgrep -P "$master"); do
      grep -q slow_fsync "/proc/$child/maps" || die "$name: slow_fsync.so is not mapped into pid $child"
    done
  fi
  log "$name: smtp 127.0.0.1:$port, master pid $master"
}

start_sink() {
  local name=smtp-sink dir=$WORK/smtp-sink port
  mkdir -p "$dir"
  smtp-sink -u nobody 127.0.0.1:0 1024 > "$dir/stdout" 2>&1 &
  PID[$name]=$!
  port=$($HELPER listen-port "${PID[$name]}") || { cat "$dir/stdout" >&2; die "smtp-sink listens nowhere"; }
  SMTP_PORT[$name]=$port
  KIND[$name]=sink
  DIR[$name]=$dir
  wait_port "$port" || die "smtp-sink did not listen on $port"
  log "smtp-sink: 127.0.0.1:$port, pid ${PID[$name]}"
}

# --- PostgreSQL --------------------------------------------------------------------------
start_pg() {
  PG_STATE=$WORK/pg
  log "starting a private PostgreSQL cluster (tests/lib/pg_cluster.py)"
  timeout 180 python3 "$ROOT/tests/lib/pg_cluster.py" start "$PG_STATE" > "$WORK/pg-start.log" 2>&1 ||
    { cat "$WORK/pg-start.log" >&2; die "PostgreSQL did not start"; }
  PG_URL=$(cat "$PG_STATE/url")
  PG_PID=$(head -n 1 "$(cat "$PG_STATE/cluster")/data/postmaster.pid")
  [[ "$PG_PID" =~ ^[0-9]+$ ]] || die "PostgreSQL: no postmaster pid"
  log "PostgreSQL: $PG_URL, postmaster pid $PG_PID"
}

create_db() {  # create_db NAME: a fresh database in the cluster; prints its URL
  psql -X -q -v ON_ERROR_STOP=1 "$PG_URL" -c "CREATE DATABASE $1" >/dev/null || die "CREATE DATABASE $1 failed"
  echo "${PG_URL%/*}/$1"
}

# --- measuring -------------------------------------------------------------------------
# "server-cpu,machine-busy,machine-total[,database-cpu]" in seconds. Server CPU: missived
# (both nodes of a two-node target, and all of PostgreSQL when the store is there, which is
# also given apart), or Postfix's master with all its daemons.
snapshot() {
  local name=$1
  local -a specs=()
  if [ "${KIND[$name]}" = postfix ]; then
    specs=("tree:${PID[$name]}")
  else
    specs=("${PID[$name]}")
    [ -n "${PEER[$name]:-}" ] && specs+=("${PID[${PEER[$name]}]}")
    [ -n "${ON_DB[$name]:-}" ] && specs+=("db:$PG_PID")
  fi
  $HELPER snapshot "${specs[@]}"
}

fsync_count() {
  local file=${DIR[$1]}/fsync.count
  if [ -f "$file" ]; then od -An -tu8 -N8 "$file" | tr -d ' '; else echo ""; fi
}

elapsed_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }

# Waits until a target has delivered all it accepted; prints the seconds that took and
# whether all arrived ("ok" or what is missing).
drain() {  # drain NAME ACCEPTED GENERATOR
  local name=$1 accepted=$2 generator=$3 start=$EPOCHREALTIME left delivered
  case "${KIND[$name]}" in
    postfix)
      for _ in $(seq 1 $((DRAIN_TIMEOUT * 20))); do
        left=$(find "${DIR[$name]}/queue/incoming" "${DIR[$name]}/queue/active" \
                    "${DIR[$name]}/queue/deferred" -type f | wc -l)
        [ "$left" = 0 ] && break
        sleep 0.05
      done
      delivered=$(grep -c 'status=sent (delivered to mailbox)' "${DIR[$name]}/maillog" || true)
      : > "${DIR[$name]}/maillog"
      : > "${DIR[$name]}/spool/$BENCH_USER" 2>/dev/null || true
      if [ "$left" != 0 ]; then echo "$(elapsed_since "$start") queue-not-empty:$left"
      elif [ "$delivered" != "$accepted" ]; then echo "$(elapsed_since "$start") delivered:$delivered"
      else echo "$(elapsed_since "$start") ok"; fi
      ;;
    missived)
      # Measuring lag, missive-bench waited for (and deleted) every message itself.
      if [ "$generator" = missive-bench ] && [ -n "${LAG_OF[$name]:-}" ]; then echo "- ok"; return; fi
      for _ in $(seq 1 $((DRAIN_TIMEOUT * 10))); do
        delivered=$($HELPER pop3-count "${POP3_PORT[$name]}" "$BENCH_ADDRESS" "$PASSWORD" || echo 0)
        [ "$delivered" -ge "$accepted" ] && break
        sleep 0.1
      done
      local took
      took=$(elapsed_since "$start")
      $HELPER pop3-clear "${POP3_PORT[$name]}" "$BENCH_ADDRESS" "$PASSWORD" >/dev/null
      if [ "$delivered" -ge "$accepted" ]; then echo "$took ok"; else echo "$took delivered:$delivered"; fi
      ;;
    *) echo "- ok" ;;
  esac
}

# One run: generator against target; appends a record to results.jsonl.
run_one() {  # run_one ROUND CONCURRENCY GENERATOR TARGET (round 0: a 200-message warm-up)
  local round=$1 c=$2 gen=$3 target=$4
  local n=$MESSAGES out=$WORK/run.json err=$WORK/run.err timing=$WORK/run.time
  [ "$round" != 0 ] || n=200
  local before after f0 f1 rc=0 accepted=0 rate=0 gen_cpu=0 errors=0 status=ok detail=""
  rm -f "$out" "$err" "$timing"
  before=$(snapshot "$target"); f0=$(fsync_count "$target")
  if [ "$gen" = missive-bench ] && [ -n "${PEER[$target]:-}" ]; then
    # Two nodes: one missive-bench per node, started together, each with half the messages
    # and half the sessions; one report made of both (compare_helper.py merge-bench).
    local peer=${PEER[$target]} rc_b=0 pid_a pid_b
    local n_a=$(( (n + 1) / 2 )) c_a=$(( (c + 1) / 2 ))
    local -a common=(-s "$SIZE" -k "$PER_SESSION" --from bench@bench.test --to "$BENCH_ADDRESS" --quiet)
    rm -f "$out.a" "$out.b" "$out.lat.a" "$out.lat.b"
    timeout "$RUN_TIMEOUT" "$BENCH" --port "${SMTP_PORT[$target]}" -n "$n_a" -c "$c_a" "${common[@]}" \
      --json "$out.a" --latencies "$out.lat.a" --label "$target c=$c round $round node 1" 2> "$err" &
    pid_a=$!
    timeout "$RUN_TIMEOUT" "$BENCH" --port "${SMTP_PORT[$peer]}" -n $((n - n_a)) -c $((c - c_a)) "${common[@]}" \
      --json "$out.b" --latencies "$out.lat.b" --label "$target c=$c round $round node 2" 2> "$err.b" &
    pid_b=$!
    GEN_PIDS=("$pid_a" "$pid_b")
    wait "$pid_a" || rc=$?
    wait "$pid_b" || rc_b=$?
    GEN_PIDS=()
    if [ "$rc" -lt 2 ] && [ "$rc_b" -ge "$rc" ]; then rc=$rc_b; fi
    cat "$err.b" >> "$err"
    if [ -s "$out.a" ] && [ -s "$out.b" ]; then
      read -r accepted rate < <($HELPER merge-bench "$out" "$out.a" "$out.b" "$out.lat.a" "$out.lat.b") || true
    fi
    if [ -s "$out" ]; then
      [ "$rc" = 0 ] || [ "$rc" = 1 ] || { status=exit-$rc; errors=1; }
    else
      status=no-report-exit-$rc; errors=1; detail=$(head -c 300 "$err")
    fi
  elif [ "$gen" = missive-bench ]; then
    local -a args=(--port "${SMTP_PORT[$target]}" -n "$n" -s "$SIZE" -c "$c" -k "$PER_SESSION"
                   --from bench@bench.test --to "$BENCH_ADDRESS" --json "$out" --quiet
                   --label "$target c=$c round $round")
    if [ -n "${LAG_OF[$target]:-}" ]; then
      args+=(--pop3-port "${POP3_PORT[$target]}" --password "$PASSWORD")
    fi
    timeout "$RUN_TIMEOUT" "$BENCH" "${args[@]}" 2> "$err" || rc=$?
    if [ -s "$out" ]; then
      accepted=$(sed -n 's/.*"accepted":\([0-9]*\).*/\1/p' "$out")
      rate=$(sed -n 's/.*"msgs_per_s":\([0-9.]*\).*/\1/p' "$out")
      [ "$rc" = 0 ] || [ "$rc" = 1 ] || { status=exit-$rc; errors=1; }
    else
      status=no-report-exit-$rc; errors=1; detail=$(head -c 300 "$err")
    fi
  else
    local TIMEFORMAT='%R %U %S' real user sys
    # smtp-source's -l is the body alone; its headers (From, To, Date, Message-Id) take
    # ~147 octets with these addresses, so both generators send SIZE octets, give or take.
    local body=$(( SIZE > 148 ? SIZE - 147 : 1 ))
    { time timeout "$RUN_TIMEOUT" smtp-source -s "$c" -m "$n" -l "$body" -f bench@bench.test \
        -t "$BENCH_ADDRESS" -M bench.test "127.0.0.1:${SMTP_PORT[$target]}" > /dev/null 2> "$err" || rc=$?; } 2> "$timing"
    read -r real user sys < "$timing"
    gen_cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')
    if [ "$rc" = 0 ]; then
      accepted=$n
      rate=$(awk -v n="$n" -v r="$real" 'BEGIN { printf "%.1f", n / r }')
    else
      errors=1; status=smtp-source-exit-$rc; detail=$(head -c 300 "$err")
    fi
  fi
  local drained took state
  drained=$(drain "$target" "${accepted:-0}" "$gen")
  read -r took state <<< "$drained"
  if [ "$state" != ok ]; then errors=$((errors + 1)); status=$state; fi
  after=$(snapshot "$target"); f1=$(fsync_count "$target")
  local -a fields=(round="$round" concurrency="$c" generator="$gen" target="$target"
                   messages="$n" size="$SIZE" per_session="$PER_SESSION" accepted="${accepted:-0}" rate="${rate:-0}"
                   errors="$errors" status="$status" gen_cpu_s="$gen_cpu"
                   before="$before" after="$after")
  [ "$took" != - ] && fields+=(drain_s="$took")
  [ -n "$f0" ] && fields+=(fsyncs=$((f1 - f0)))
  [ -n "$detail" ] && fields+=(detail="$(echo "$detail" | tr '\n' ' ')")
  [ "$gen" = missive-bench ] && fields+=(bench="$out")
  [ -n "${COMMIT[$target]:-}" ] && fields+=(commit="${COMMIT[$target]}")
  $HELPER record "$WORK/results.jsonl" "${fields[@]}"
  local note=""
  [ "$took" != - ] && note=", drained in $took s"
  log "round $round c=$c $gen -> $target: ${rate:-0} msg/s, accepted ${accepted:-0}/$n, $status$note"
}

# --- main ------------------------------------------------------------------------------
# Whether a target is to be measured (--targets; all by default).
wanted() { [ -z "$TARGETS" ] || [[ " $TARGETS " == *" $1 "* ]]; }

if [ "$SMTP_SOURCE" = 1 ] || wanted postfix || wanted smtp-sink || wanted postfix+slowfsync; then
  install_postfix
fi
build
id "$BENCH_USER" >/dev/null 2>&1 ||
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$BENCH_USER"
id nobody >/dev/null 2>&1 || die "no user 'nobody' for smtp-sink"

WORK=$(mktemp -d /tmp/missive-compare.XXXXXX)
chmod 755 "$WORK"
trap cleanup EXIT
trap 'exit 130' INT TERM
log "work directory $WORK; rounds $ROUNDS, $MESSAGES messages of $SIZE octets, concurrency $CONCURRENCY, $PER_SESSION per connection (missive-bench)"
[ -z "$BASELINE" ] || build_baseline

start_missived missived 0
targets_bench=(missived)
targets_source=(missived)
if [ "$METRICS" = 1 ]; then
  # Next to missived in every round: the same relay, with metrics on and scraped.
  start_missived missived+metrics 0 "$MISSIVED" "" "" 1 1
  targets_bench+=(missived+metrics)
  targets_source+=(missived+metrics)
fi
if [ -n "$BASELINE" ]; then
  start_missived missived@baseline 0 "$BASELINE_MISSIVED"
  targets_bench+=(missived@baseline)
fi
alias_lag missived
targets_bench+=(missived+lag)
if wanted postfix; then
  start_postfix postfix 0
  targets_bench+=(postfix)
  targets_source+=(postfix)
fi
if wanted smtp-sink; then
  start_sink
  targets_bench+=(smtp-sink)
  targets_source+=(smtp-sink)
fi
if [ "$POSTGRESQL" = 1 ]; then
  start_pg
  url=$(create_db bench_pg)
  start_missived missived+pg 0 "$MISSIVED" "$url" n1 1
  url=$(create_db bench_pg2)
  start_missived missived+pg2 0 "$MISSIVED" "$url" n1 1
  start_missived missived+pg2.n2 0 "$MISSIVED" "$url" n2 0   # the user is in the database already
  PEER[missived+pg2]=missived+pg2.n2
  targets_bench+=(missived+pg missived+pg2)
fi
if [ "$SLOW" = 1 ] && wanted missived+slowfsync; then
  start_missived missived+slowfsync 1
  targets_bench+=(missived+slowfsync)
fi
if [ "$SLOW" = 1 ] && [ -n "$BASELINE" ] && wanted missived@baseline+slowfsync; then
  start_missived missived@baseline+slowfsync 1 "$BASELINE_MISSIVED"
  targets_bench+=(missived@baseline+slowfsync)
fi
if [ "$SLOW" = 1 ] && wanted postfix+slowfsync; then
  start_postfix postfix+slowfsync 1
  targets_bench+=(postfix+slowfsync)
fi
if [ -n "$TARGETS" ]; then
  kept=()
  for t in "${targets_bench[@]}"; do wanted "$t" && kept+=("$t"); done
  targets_bench=("${kept[@]}")
  kept=()
  for t in "${targets_source[@]}"; do wanted "$t" && kept+=("$t"); done
  targets_source=("${kept[@]}")
  [ ${#targets_bench[@]} -gt 0 ] || die "--targets: none of \"$TARGETS\" is measured"
fi
generators=(missive-bench)
[ "$SMTP_SOURCE" = 1 ] && generators+=(smtp-source)

budget_end=$((SECONDS + BUDGET_MINUTES * 60))
log "warm-up: 200 messages per target"
for t in "${targets_bench[@]}"; do run_one 0 10 missive-bench "$t"; done

stopped=""
for round in $(seq 1 "$ROUNDS"); do
  for c in $CONCURRENCY; do
    for gen in "${generators[@]}"; do
      if [ "$gen" = missive-bench ]; then targets=("${targets_bench[@]}"); else targets=("${targets_source[@]}"); fi
      if [ "$METRICS" = 1 ] && [ $((round % 2)) = 0 ]; then
        # missived and missived+metrics take turns at going first, so that neither always
        # follows the other's drain.
        for i in "${!targets[@]}"; do
          case "${targets[$i]}" in
            missived) targets[$i]=missived+metrics ;;
            missived+metrics) targets[$i]=missived ;;
          esac
        done
      fi
      for t in "${targets[@]}"; do
        if [ "$SECONDS" -ge "$budget_end" ]; then stopped="round $round"; break 4; fi
        run_one "$round" "$c" "$gen" "$t"
      done
    done
  done
done

# The scraper stops first, so that its tally counts only scrapes of a running relay.
scrapes=()
if [ -n "${METRICS_PORT[missived+metrics]:-}" ]; then
  stop_pid "${PID[missived+metrics.scraper]}"
  unset "PID[missived+metrics.scraper]"
  scrapes+=("scrapes:missived+metrics=$(cat "${DIR[missived+metrics]}/scrapes" 2>/dev/null || echo "0 0")")
fi

# Group commit at work: missived logs how many writer transactions it made when it stops
# (a two-node target: both nodes' together).
batches=()
for name in missived missived+metrics missived@baseline missived+pg missived+pg2 missived+slowfsync \
    missived@baseline+slowfsync; do
  [ -n "${PID[$name]:-}" ] || continue
  total=""
  for node in "$name" ${PEER[$name]:-}; do
    stop_pid "${PID[$node]}"
    unset "PID[$node]"
    n=$(sed -n 's/.*event=stopped write_batches=\([0-9]*\).*/\1/p' "${DIR[$node]}/missived.log" | tail -n 1)
    [ -n "$n" ] && total=$(( ${total:-0} + n ))
  done
  [ -n "$total" ] && batches+=("$name=$total")
done

echo
$HELPER summarize "$WORK/results.jsonl" "${batches[@]}" "${scrapes[@]}"
if [ -n "$stopped" ]; then
  echo "NOTE: the time budget ($BUDGET_MINUTES min) ran out in $stopped; later runs were not started."
fi
log "done in $SECONDS s"
