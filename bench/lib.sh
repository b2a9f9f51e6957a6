# bench/lib.sh — what bench/run.sh and bench/tls.sh share: logging, tracking and stopping what
# they start, free ports, CPU and memory readings, nginx's common settings. Sourced after
# BENCH_NAME (the log prefix) is set; installs the EXIT/INT/TERM cleanup when sourced.
# shellcheck shell=bash


log() { printf '%s: %s\n' "$BENCH_NAME" "$*" >&2; }
die() { printf '%s: error: %s\n' "$BENCH_NAME" "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# process tracking and cleanup

declare -A TRACKED=()   # pid -> description, for everything we started and that may still run

track() { TRACKED[$1]=$2; }
untrack() { unset "TRACKED[$1]"; }

# Children of a pid (nginx workers); empty if none or if the pid is gone.
children_of() { pgrep -P "$1" 2>/dev/null || true; }

# Stop pids: TERM, wait up to $1 seconds, then KILL; reap those that are our children.
stop_pids() {
  local grace=$1; shift
  local pid all=() alive i
  for pid in "$@"; do
    all+=("$pid")
    # shellcheck disable=SC2207 # pids are plain numbers
    all+=($(children_of "$pid"))
  done
  [ ${#all[@]} -gt 0 ] || return 0
  for pid in "${all[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < grace * 10; i++)); do
    alive=0
    for pid in "${all[@]}"; do
      if kill -0 "$pid" 2>/dev/null; then alive=1; break; fi
    done
    [ "$alive" -eq 1 ] || break
    sleep 0.1
  done
  for pid in "${all[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid did not stop after ${grace}s, killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ ${#TRACKED[@]} -gt 0 ]; then
    log "stopping: $(for p in "${!TRACKED[@]}"; do printf '%s(%s) ' "${TRACKED[$p]}" "$p"; done)"
    stop_pids 20 "${!TRACKED[@]}"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# True when PROXY_LIST (set by the caller) names $1.
want() { [[ " ${PROXY_LIST[*]} " == *" $1 "* ]]; }

USED_PORTS=()

# free_ports N: sets FREE_PORTS to N distinct TCP ports that are free on 127.0.0.1, below the
# ephemeral range (so outgoing connections of wrk and the proxies cannot take them), never reused
# within a run. Not to be called in a subshell (it records the ports it hands out).
FREE_PORTS=()
free_ports() {
  local n=$1 out p tries=0 busy
  FREE_PORTS=()
  if command -v python3 >/dev/null 2>&1; then
    out=$(python3 - "$n" "${USED_PORTS[@]}" <<'PY'
import random, socket, sys
n, used = int(sys.argv[1]), set(map(int, sys.argv[2:]))
held, ports = [], []
for _ in range(2000):
    if len(ports) == n:
        break
    p = random.randint(20000, 32000)
    if p in used or p in ports:
        continue
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", p))   # no SO_REUSEADDR: also refuses ports with TIME_WAIT leftovers
    except OSError:
        s.close()
        continue
    held.append(s)
    ports.append(p)
if len(ports) < n:
    sys.exit("no free ports found")
print(" ".join(map(str, ports)))
PY
    ) || return 1
    read -ra FREE_PORTS <<<"$out"
  else
    busy=" $(ss -Htan | awk '{n = split($4, a, ":"); print a[n]}' | sort -u | tr '\n' ' ') ${USED_PORTS[*]} "
    while [ ${#FREE_PORTS[@]} -lt "$n" ]; do
      ((++tries < 2000)) || return 1
      p=$((20000 + RANDOM % 12001))
      [[ $busy == *" $p "* ]] && continue
      busy+="$p "
      FREE_PORTS+=("$p")
    done
  fi
  [ ${#FREE_PORTS[@]} -eq "$n" ] || return 1
  USED_PORTS+=("${FREE_PORTS[@]}")
}

# wait_port PORT PID WHAT: wait until 127.0.0.1:PORT accepts connections (up to 10 s) while PID lives.
wait_port() {
  local port=$1 pid=$2 what=$3 i
  for ((i = 0; i < 100; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      local rc=0
      wait "$pid" 2>/dev/null || rc=$?
      log "$what (pid $pid) exited during startup with status $rc"
      return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "$what did not listen on 127.0.0.1:$port within 10 s"
  return 1
}

# Sum of utime+stime (fields 14 and 15 of /proc/PID/stat, clock ticks) over the given pids.
cpu_ticks() {
  local pid stat rest f total=0
  for pid in "$@"; do
    stat=$(<"/proc/$pid/stat") || return 1
    rest=${stat##*) }          # drop "pid (comm) ": comm may contain spaces
    read -ra f <<<"$rest"      # f[0] is field 3 (state), so field 14 is f[11], field 15 is f[12]
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

# User and system ticks apart ("USER SYS"), summed over the given pids: the kernel's share of a
# proxy's CPU (its socket calls, and the loopback peer's TCP work they run) is most of it.
cpu_ticks_split() {
  local pid stat rest f user=0 sys=0
  for pid in "$@"; do
    stat=$(<"/proc/$pid/stat") || return 1
    rest=${stat##*) }
    read -ra f <<<"$rest"
    user=$((user + f[11]))
    sys=$((sys + f[12]))
  done
  echo "$user $sys"
}

# Peak RSS in KiB (VmHWM) of a pid.
peak_rss_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
# Reset the peak RSS to the current RSS (Linux >= 4.0), so each size reports its own peak.
reset_peak_rss() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || true; }

# tail of a log, indented, for error messages
show_log() { if [ -s "$1" ]; then sed 's/^/    | /' "$1" | tail -n 20 >&2; fi; }

# nginx as root starts its workers as "nobody" unless told otherwise; keep the current user so
# they can read the work dir and write their temp dirs.
nginx_user_line() { if [ "$(id -u)" -eq 0 ]; then echo "user $(id -un) $(id -gn);"; fi; }

# Common main/http-level settings for both nginx instances (dir = its own prefix).
nginx_common() {
  local dir=$1
  cat <<EOF
$(nginx_user_line)
worker_processes 1;
daemon off;
master_process on;
pid $dir/nginx.pid;
lock_file $dir/nginx.lock;
error_log $dir/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 32768; }
EOF
}
nginx_http_common() {
  local dir=$1
  cat <<EOF
    access_log off;
    default_type application/octet-stream;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
EOF
}
