# bench_lib.sh: what every compare script (compare.sh and its named scenarios) does the same
# way; sourced, not run. Each script keeps its own die(), which names it.

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

stop_pid() {  # stop_pid PID: TERM, up to 10 s, then KILL
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

stop_postfix() {  # stop_postfix DIR: a private Postfix, its master and daemons, bounded
  local dir=$1 master child
  master=$(tr -dc 0-9 < "$dir/queue/pid/master.pid" 2>/dev/null || true)
  timeout 30 postfix -c "$dir/etc" stop >/dev/null 2>&1 || timeout 10 postfix -c "$dir/etc" abort >/dev/null 2>&1 || true
  if [ -n "$master" ]; then
    for _ in $(seq 1 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$master" 2>/dev/null; then
      for child in $(pgrep -P "$master"); do kill -KILL "$child" 2>/dev/null; done
      kill -KILL "$master" 2>/dev/null
    fi
  fi
}

wait_port() {  # wait_port PORT: up to 10 s for something to listen there
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
