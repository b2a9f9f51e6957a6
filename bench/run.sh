#!/usr/bin/env bash
# bench/run.sh — compare tally with HAProxy and nginx as reverse proxies, one worker each,
# in front of the same three nginx backends, and report CPU time per request.
#
#   bench/run.sh                              # all three proxies, 10 s per measurement
#   PROXIES="haproxy nginx" DURATION=5 bench/run.sh
#
# Environment:
#   PROXIES      which proxies to run, in order (default "tally tally-log haproxy nginx";
#                tally-log is tally with its access log on, written to a file)
#   SIZES        responses to measure CPU per request for (default "small 64k"; "" skips)
#   IDLE_CONNS   idle keep-alive client connections for the memory row (default 10000, fewer
#                when the descriptor limit cannot hold them; 0 skips)
#   DURATION     seconds per measured wrk run (default 10)
#   CONNECTIONS  wrk connections (default 50)
#   WARMUP       seconds of warm-up before each measured run (default 2)
#   ROUNDS       measure every proxy and size this many times, the proxies in turn, and report
#                the median of each figure (default 1; 3 or 5 on a machine whose load varies)
#   TALLY_BIN    tally executable (default build/proxy/tally, relative to the repo root)
#   LOAD_CPU     CPU for wrk and the backends (default 0)
#   PROXY_CPU    CPU for the proxy under test (default 1)
#
# Writes the markdown report to stdout and to bench/out/last.md; every log, config and raw wrk
# output stays in bench/out/run-<timestamp>/. Everything the script starts is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=$ROOT/bench
BENCH_NAME=bench
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
OUT_DIR=$BENCH_DIR/out

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-50}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-1}
PROXIES=${PROXIES:-"tally tally-log haproxy nginx"}
LOAD_CPU=${LOAD_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
if [ -n "${TALLY_BIN:-}" ]; then
  case $TALLY_BIN in /*) ;; *) TALLY_BIN=$PWD/$TALLY_BIN ;; esac
else
  TALLY_BIN=$ROOT/build/proxy/tally
fi

read -ra SIZES <<<"${SIZES-small 64k}"
LUA=$BENCH_DIR/report.lua

# ---------------------------------------------------------------------------------------------
# prerequisites

[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a whole number of seconds (got '$DURATION')"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a whole number of seconds (got '$WARMUP')"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer (got '$ROUNDS')"
[[ $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer (got '$CONNECTIONS')"
[[ ${IDLE_CONNS:-0} =~ ^[0-9]+$ ]] || die "IDLE_CONNS must be a whole number (got '$IDLE_CONNS')"
read -ra PROXY_LIST <<<"$PROXIES"
[ ${#PROXY_LIST[@]} -gt 0 ] || die "PROXIES is empty"
for p in "${PROXY_LIST[@]}"; do
  case $p in tally | tally-log | haproxy | nginx) ;; *) die "unknown proxy '$p' in PROXIES (use tally, tally-log, haproxy, nginx)" ;; esac
done

missing=()
for tool in wrk nginx taskset pgrep getconf; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if want haproxy; then command -v haproxy >/dev/null 2>&1 || missing+=(haproxy); fi
if ! command -v python3 >/dev/null 2>&1 && ! command -v ss >/dev/null 2>&1; then
  missing+=("python3 or ss (to find free ports)")
fi
if [ "${IDLE_CONNS:-1}" -gt 0 ]; then command -v python3 >/dev/null 2>&1 || missing+=("python3 (IDLE_CONNS)"); fi
if [ ${#missing[@]} -gt 0 ]; then
  die "missing: ${missing[*]} — install the benchmark tools with: scripts/install-deps.sh bench"
fi
if { want tally || want tally-log; } && [ ! -x "$TALLY_BIN" ]; then
  die "tally binary not found or not executable: $TALLY_BIN — build it (scripts/build.sh), set TALLY_BIN=, or run PROXIES=\"haproxy nginx\" $0"
fi
for cpu in "$LOAD_CPU" "$PROXY_CPU"; do
  taskset -c "$cpu" true 2>/dev/null || die "cannot pin to CPU $cpu (this needs 2 CPUs; set LOAD_CPU/PROXY_CPU)"
done
[ "$LOAD_CPU" != "$PROXY_CPU" ] || log "warning: LOAD_CPU and PROXY_CPU are the same CPU"

# Room for IDLE_CONNS connections in the client and each proxy (a proxy also needs one per
# backend connection): raise the limits when allowed (root), else live with what there is.
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# Default: 10000, or the largest thousand that fits (tally keeps room for a backend connection
# per client connection, so it needs two descriptors per connection).
if [ -z "${IDLE_CONNS:-}" ]; then
  IDLE_CONNS=10000
  while [ "$IDLE_CONNS" -gt 1000 ] && [ "$(ulimit -n)" -lt $((IDLE_CONNS * 2 + 300)) ]; do
    IDLE_CONNS=$((IDLE_CONNS - 1000))
  done
elif [ "$IDLE_CONNS" -gt 0 ] && [ "$(ulimit -n)" -lt $((IDLE_CONNS * 2 + 300)) ]; then
  log "warning: descriptor limit $(ulimit -n) may be too low for IDLE_CONNS=$IDLE_CONNS"
fi

CLK_TCK=$(getconf CLK_TCK)
NGINX_BIN=$(command -v nginx)

mkdir -p "$OUT_DIR"
WORK=$OUT_DIR/run-$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$WORK"
chmod 755 "$WORK"   # nginx workers may run as another user and must read www/
log "work dir: $WORK"

# ---------------------------------------------------------------------------------------------
# backends: one nginx, three server blocks, pinned with wrk

free_ports 3 || die "could not find free ports"
BACKENDS=("${FREE_PORTS[@]}")

start_backends() {
  local dir=$WORK/backend port
  mkdir -p "$dir/tmp" "$WORK/www"
  printf 'hello, world\n' >"$WORK/www/small"                     # 13 bytes
  head -c 65536 /dev/zero | tr '\0' 'x' >"$WORK/www/64k"         # 64 KiB
  {
    nginx_common "$dir"
    echo "http {"
    nginx_http_common "$dir"
    echo "    sendfile on;"
    echo "    tcp_nopush on;"
    for port in "${BACKENDS[@]}"; do
      cat <<EOF
    server {
        listen 127.0.0.1:$port reuseport backlog=4096;
        root $WORK/www;
        add_header X-Backend $port always;
        location = /small { default_type text/plain; return 200 "hello, world\n"; }
        location = /64k { }
        location = /healthz { default_type text/plain; return 200 "ok\n"; }
    }
EOF
    done
    echo "}"
  } >"$dir/nginx.conf"
  "$NGINX_BIN" -t -q -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" 2>"$dir/check.log" ||
    { show_log "$dir/check.log"; die "backend nginx config is invalid ($dir/nginx.conf)"; }
  taskset -c "$LOAD_CPU" "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" \
    >"$dir/stdout.log" 2>&1 &
  BACKEND_PID=$!
  track "$BACKEND_PID" "backend-nginx"
  for port in "${BACKENDS[@]}"; do
    wait_port "$port" "$BACKEND_PID" "backend nginx" || { show_log "$dir/error.log"; die "backends did not start"; }
  done
  log "backends: nginx pid $BACKEND_PID on ports ${BACKENDS[*]} (CPU $LOAD_CPU)"
}

# ---------------------------------------------------------------------------------------------
# proxies under test; each start_* sets PROXY_PID (what we stop) and returns 1 on failure

# start_tally PORT ADMIN_PORT [NAME]: NAME tally-log turns the access log on (to a file).
start_tally() {
  local port=$1 admin=$2 name=${3:-tally} dir b cfg
  dir=$WORK/$name
  mkdir -p "$dir"
  cfg=$dir/tally.yaml
  {
    echo "listen: 127.0.0.1:$port"
    echo "admin:"
    echo "  listen: 127.0.0.1:$admin"
    echo "workers: 1"
    echo "limits: { max_connections: 30000 }"
    if [ "$name" = tally-log ]; then
      echo "access_log: { enabled: true, path: \"$dir/access.log\" }"
    else
      echo "access_log: { enabled: false }"
    fi
    echo "pools:"
    echo "  bench:"
    echo "    policy: round_robin"
    echo "    backends:"
    for b in "${BACKENDS[@]}"; do echo "      - { address: 127.0.0.1:$b }"; done
    echo "    health_check: { path: /healthz, interval: 2s, timeout: 1s, rise: 2, fall: 3, expect_status: \"200-399\" }"
    echo "routes:"
    echo "  - { path_prefix: /, pool: bench }"
  } >"$cfg"
  if ! "$TALLY_BIN" check -c "$cfg" >"$dir/check.log" 2>&1; then
    show_log "$dir/check.log"
    log "tally check rejected $cfg"
    return 1
  fi
  (cd "$dir" && exec taskset -c "$PROXY_CPU" "$TALLY_BIN" serve -c "$cfg") >"$dir/stdout.log" 2>"$dir/stderr.log" &
  PROXY_PID=$!
  track "$PROXY_PID" "$name"
  wait_port "$port" "$PROXY_PID" "$name" || { show_log "$dir/stderr.log"; show_log "$dir/stdout.log"; return 1; }
}

start_haproxy() {
  local port=$1 dir=$WORK/haproxy i=0 b
  mkdir -p "$dir"
  {
    cat <<EOF
global
    nbthread 1
    maxconn $(( IDLE_CONNS + 500 > 8192 ? IDLE_CONNS + 500 : 8192 ))
    # no "log" line: HAProxy logs nothing

defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s

frontend fe
    bind 127.0.0.1:$port
    default_backend be

backend be
    balance roundrobin
EOF
    for b in "${BACKENDS[@]}"; do
      i=$((i + 1))
      echo "    server s$i 127.0.0.1:$b"
    done
  } >"$dir/haproxy.cfg"
  if ! haproxy -c -q -f "$dir/haproxy.cfg" >"$dir/check.log" 2>&1; then
    show_log "$dir/check.log"
    log "haproxy rejected $dir/haproxy.cfg"
    return 1
  fi
  # -db: foreground, one process (no master-worker without -W)
  taskset -c "$PROXY_CPU" haproxy -db -f "$dir/haproxy.cfg" >"$dir/stdout.log" 2>"$dir/stderr.log" &
  PROXY_PID=$!
  track "$PROXY_PID" haproxy
  wait_port "$port" "$PROXY_PID" haproxy || { show_log "$dir/stderr.log"; return 1; }
}

start_nginx_proxy() {
  local port=$1 dir=$WORK/nginx-proxy b
  mkdir -p "$dir/tmp"
  {
    nginx_common "$dir"
    echo "http {"
    nginx_http_common "$dir"
    echo "    upstream backends {"
    for b in "${BACKENDS[@]}"; do echo "        server 127.0.0.1:$b;"; done
    cat <<EOF
        keepalive 64;
        keepalive_requests 1000000;
        keepalive_timeout 75s;
    }
    server {
        listen 127.0.0.1:$port backlog=4096;
        location / {
            proxy_pass http://backends;
            proxy_http_version 1.1;
            # as its users tune it: a 64 KiB response fits in memory (the defaults, 4k/8 x 4k,
            # spill it to a temporary file)
            proxy_buffer_size 8k;
            proxy_buffers 16 8k;
            proxy_set_header Connection "";
        }
    }
}
EOF
  } >"$dir/nginx.conf"
  if ! "$NGINX_BIN" -t -q -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/check.log" 2>&1; then
    show_log "$dir/check.log"
    log "nginx rejected $dir/nginx.conf"
    return 1
  fi
  taskset -c "$PROXY_CPU" "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" \
    >"$dir/stdout.log" 2>&1 &
  PROXY_PID=$!
  track "$PROXY_PID" nginx-proxy
  wait_port "$port" "$PROXY_PID" "nginx (proxy)" || { show_log "$dir/error.log"; return 1; }
}

# Pids whose CPU time counts for the proxy (nginx: master + worker) and the pid whose peak RSS
# is reported (nginx: the worker, which does all the work; others: the single process).
set_measured_pids() {
  local kids=() i
  MEASURE_PIDS=("$PROXY_PID")
  RSS_PID=$PROXY_PID
  if [ "$1" = nginx ]; then
    for ((i = 0; i < 50; i++)); do
      # shellcheck disable=SC2207
      kids=($(children_of "$PROXY_PID"))
      [ ${#kids[@]} -eq 0 ] || break
      sleep 0.1
    done
    [ ${#kids[@]} -gt 0 ] || { log "nginx (proxy) has no worker process"; return 1; }
    MEASURE_PIDS+=("${kids[@]}")
    RSS_PID=${kids[0]}
  fi
}

# Sanity checks through the proxy: bodies are right and round robin reaches all three backends.
verify_proxy() {
  local name=$1 port=$2 body seen=() i hdr len
  body=$(curl_get "http://127.0.0.1:$port/small") || { log "$name: GET /small failed"; return 1; }
  [ "$body" = "hello, world" ] || { log "$name: GET /small returned '$body'"; return 1; }
  len=$(curl_get "http://127.0.0.1:$port/64k" | wc -c) || true
  [ "$len" -eq 65536 ] || { log "$name: GET /64k returned $len bytes, expected 65536"; return 1; }
  for ((i = 0; i < 6; i++)); do
    hdr=$(curl -sS -m 5 -o /dev/null -D - "http://127.0.0.1:$port/small" | tr -d '\r' |
      awk -F': ' 'tolower($1) == "x-backend" {print $2}') || true
    [ -n "$hdr" ] && seen+=("$hdr")
  done
  i=$(printf '%s\n' "${seen[@]}" | sort -u | grep -c . || true)
  [ "$i" -eq 3 ] || log "$name: warning: 6 requests reached $i distinct backend(s), expected 3 (round robin?)"
  return 0
}
curl_get() { curl -fsS -m 5 "$1"; }

# ---------------------------------------------------------------------------------------------
# measurement

# run_wrk URL SECONDS OUTFILE — wrk pinned to LOAD_CPU, in the background so signals reach us.
run_wrk() {
  local url=$1 secs=$2 out=$3 pid rc=0
  taskset -c "$LOAD_CPU" timeout -k 5 $((secs + 30)) \
    wrk -t1 -c"$CONNECTIONS" -d"${secs}s" --latency -s "$LUA" "$url" >"$out" 2>&1 &
  pid=$!
  track "$pid" wrk
  wait "$pid" || rc=$?
  untrack "$pid"
  return "$rc"
}

# Results, one entry per (proxy, size), keyed "proxy/size".
declare -A R_RPS R_P50 R_P99 R_CPU R_USER R_SYS R_RSS R_ERR
# Every round's figures, space-separated per key, for the medians (ROUNDS > 1).
declare -A L_RPS L_P50 L_P99 L_CPU L_USER L_SYS L_RSS
FAILED=()

# measure NAME PORT SIZE
measure() {
  local name=$1 port=$2 size=$3 url out t0 t1 u0 s0 u1 s1 line kv k v rss fields
  local -A m=()
  url="http://127.0.0.1:$port/$size"
  out=$WORK/wrk-$name-$size.txt
  if [ "$WARMUP" -gt 0 ]; then
    run_wrk "$url" "$WARMUP" "$WORK/wrk-$name-$size-warmup.txt" || { log "$name/$size: warm-up wrk failed"; return 1; }
  fi
  reset_peak_rss "$RSS_PID"
  read -r u0 s0 < <(cpu_ticks_split "${MEASURE_PIDS[@]}") || { log "$name died"; return 1; }
  run_wrk "$url" "$DURATION" "$out" || { log "$name/$size: wrk failed"; show_log "$out"; return 1; }
  read -r u1 s1 < <(cpu_ticks_split "${MEASURE_PIDS[@]}") || { log "$name died during the run"; return 1; }
  t0=$((u0 + s0))
  t1=$((u1 + s1))
  rss=$(peak_rss_kib "$RSS_PID")
  line=$(grep -m1 '^TALLYBENCH ' "$out") || { log "$name/$size: no summary in wrk output"; show_log "$out"; return 1; }
  read -ra fields <<<"${line#TALLYBENCH }"
  for kv in "${fields[@]}"; do
    k=${kv%%=*}
    v=${kv#*=}
    m[$k]=$v
  done
  if [ "${m[requests]}" -eq 0 ]; then
    log "$name/$size: no request completed"
    show_log "$out"
    return 1
  fi
  local key=$name/$size
  R_RPS[$key]=$(awk -v r="${m[requests]}" -v d="${m[duration_us]}" 'BEGIN {printf "%.0f", r / (d / 1e6)}')
  R_P50[$key]=$(awk -v u="${m[p50_us]}" 'BEGIN {printf "%.3f ms", u / 1000}')
  R_P99[$key]=$(awk -v u="${m[p99_us]}" 'BEGIN {printf "%.3f ms", u / 1000}')
  R_CPU[$key]=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v r="${m[requests]}" 'BEGIN {printf "%.2f", t / hz / r * 1e6}')
  R_USER[$key]=$(awk -v t=$((u1 - u0)) -v hz="$CLK_TCK" -v r="${m[requests]}" 'BEGIN {printf "%.2f", t / hz / r * 1e6}')
  R_SYS[$key]=$(awk -v t=$((s1 - s0)) -v hz="$CLK_TCK" -v r="${m[requests]}" 'BEGIN {printf "%.2f", t / hz / r * 1e6}')
  R_RSS[$key]=$(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}')
  local errs=$((m[connect] + m[read] + m[write] + m[timeout] + m[status]))
  if [ "$errs" -eq 0 ]; then
    R_ERR[$key]=0
  else
    R_ERR[$key]="**$errs** (connect ${m[connect]}, read ${m[read]}, write ${m[write]}, timeout ${m[timeout]}, non-2xx/3xx ${m[status]})"
    log "$name/$size: WARNING: $errs errors — see $out"
  fi
  L_RPS[$key]+=" ${R_RPS[$key]}"
  L_P50[$key]+=" ${R_P50[$key]% ms}"
  L_P99[$key]+=" ${R_P99[$key]% ms}"
  L_CPU[$key]+=" ${R_CPU[$key]}"
  L_USER[$key]+=" ${R_USER[$key]}"
  L_SYS[$key]+=" ${R_SYS[$key]}"
  L_RSS[$key]+=" ${R_RSS[$key]}"
  if [ "$errs" -ne 0 ]; then ERRS_SEEN[$key]+="${ERRS_SEEN[$key]:+; }${R_ERR[$key]}"; fi
  log "$name/$size: ${R_RPS[$key]} req/s, p50 ${R_P50[$key]}, p99 ${R_P99[$key]}, ${R_CPU[$key]} µs CPU/req ($((t1 - t0)) ticks / ${m[requests]} req), peak RSS ${R_RSS[$key]} MiB, errors $errs"
}

# measure_idle NAME PORT — RSS added by IDLE_CONNS idle keep-alive client connections, each of
# which completed one GET /small (bench/idle_conns.py), and how long a request then takes.
declare -A R_IDLE R_IDLE_PROBE
measure_idle() {
  local name=$1 port=$2 out line kv k v fields pid rc=0
  local -A m=()
  out=$WORK/idle-$name.txt
  taskset -c "$LOAD_CPU" timeout -k 5 300 python3 "$BENCH_DIR/idle_conns.py" "$port" "$RSS_PID" \
    "$IDLE_CONNS" /small >"$out" 2>&1 &
  pid=$!
  track "$pid" idle_conns
  wait "$pid" || rc=$?
  untrack "$pid"
  if [ "$rc" -ne 0 ]; then log "$name: idle connections failed"; show_log "$out"; return 1; fi
  line=$(grep -m1 '^IDLECONNS ' "$out") || { log "$name: no idle summary"; show_log "$out"; return 1; }
  read -ra fields <<<"${line#IDLECONNS }"
  for kv in "${fields[@]}"; do
    k=${kv%%=*}
    v=${kv#*=}
    m[$k]=$v
  done
  R_IDLE[$name]="${m[kib_per_conn]} (${m[rss_before_kib]} → ${m[rss_after_kib]} KiB)"
  R_IDLE_PROBE[$name]=${m[probe_ms]}
  log "$name: $IDLE_CONNS idle connections: ${R_IDLE[$name]}, a request meanwhile took ${m[probe_ms]} ms"
}

declare -A ERRS_SEEN

# median "V1 V2 ..." FORMAT — the median of the values (the mean of the middle two when even).
median() {
  tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g |
    awk -v f="$2" '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf f, m}'
}

# Replaces each figure with its median over the rounds (the errors of every round are kept).
take_medians() {
  local key
  for key in "${!L_CPU[@]}"; do
    R_RPS[$key]=$(median "${L_RPS[$key]}" "%.0f")
    R_P50[$key]=$(median "${L_P50[$key]}" "%.3f ms")
    R_P99[$key]=$(median "${L_P99[$key]}" "%.3f ms")
    R_CPU[$key]=$(median "${L_CPU[$key]}" "%.2f")
    R_USER[$key]=$(median "${L_USER[$key]}" "%.2f")
    R_SYS[$key]=$(median "${L_SYS[$key]}" "%.2f")
    R_RSS[$key]=$(median "${L_RSS[$key]}" "%.1f")
    R_ERR[$key]=${ERRS_SEEN[$key]:-0}
  done
}

# bench_proxy NAME ROUND — starts the proxy, measures every size (and, in round 1, the idle
# connections), stops it.
bench_proxy() {
  local name=$1 round=$2 port admin size ok=0
  free_ports 2 || { log "no free ports"; return 1; }
  port=${FREE_PORTS[0]}
  admin=${FREE_PORTS[1]}
  log "starting $name on 127.0.0.1:$port (CPU $PROXY_CPU)"
  PROXY_PID=
  case $name in
    tally | tally-log) start_tally "$port" "$admin" "$name" || ok=1 ;;
    haproxy) start_haproxy "$port" || ok=1 ;;
    nginx) start_nginx_proxy "$port" || ok=1 ;;
  esac
  if [ "$ok" -eq 0 ]; then set_measured_pids "$name" || ok=1; fi
  if [ "$ok" -eq 0 ]; then verify_proxy "$name" "$port" || ok=1; fi
  if [ "$ok" -eq 0 ]; then
    for size in "${SIZES[@]}"; do
      measure "$name" "$port" "$size" || { ok=1; FAILED+=("$name/$size"); }
    done
    if [ "$IDLE_CONNS" -gt 0 ] && [ "$round" -eq 1 ]; then
      measure_idle "$name" "$port" || { ok=1; FAILED+=("$name/idle"); }
    fi
  else
    FAILED+=("$name")
  fi
  if [ -n "$PROXY_PID" ]; then
    stop_pids 20 "$PROXY_PID"
    untrack "$PROXY_PID"
  fi
  return "$ok"
}

# ---------------------------------------------------------------------------------------------
# main

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
start_backends
for ((round = 1; round <= ROUNDS; round++)); do
  [ "$ROUNDS" -eq 1 ] || log "round $round of $ROUNDS"
  for p in "${PROXY_LIST[@]}"; do
    bench_proxy "$p" "$round" || log "$p: failed (details above; logs in $WORK)"
  done
done
[ "$ROUNDS" -eq 1 ] || take_medians
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

version_of() {
  case $1 in
    tally | tally-log) "$TALLY_BIN" --version 2>&1 | head -n1 || true ;;
    haproxy) haproxy -v 2>&1 | head -n1 | awk '{print $3}' ;;
    nginx) "$NGINX_BIN" -v 2>&1 | sed 's|.*nginx/||' ;;
  esac
}

report() {
  local p s key v t h n
  echo "# tally benchmark — $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo
  echo "- command: \`PROXIES=\"$PROXIES\" SIZES=\"${SIZES[*]}\" DURATION=$DURATION CONNECTIONS=$CONNECTIONS IDLE_CONNS=$IDLE_CONNS ROUNDS=$ROUNDS bench/run.sh\`"
  echo "- tree: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (dirty)'); machine: $(nproc) CPUs, $(uname -sr)"
  echo "- load: wrk -t1 -c$CONNECTIONS, ${DURATION}s per run after ${WARMUP}s warm-up; wrk + backend nginx on CPU $LOAD_CPU, proxy (1 worker) on CPU $PROXY_CPU"
  [ "$ROUNDS" -eq 1 ] || echo "- $ROUNDS rounds, the proxies in turn; every figure below is the median of its rounds"
  echo "- versions: $(for p in "${PROXY_LIST[@]}"; do v=$(version_of "$p"); printf '%s %s; ' "$p" "${v:-?}"; done)wrk $(wrk -v 2>&1 | head -n1 | awk '{print $2}')"
  echo "- load average before/after: $LOAD_BEFORE / $LOAD_AFTER (high values mean noisy numbers)"
  echo
  echo "| proxy | size | req/s | p50 | p99 | CPU µs/req | user / system | peak RSS MiB | errors |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
  for p in "${PROXY_LIST[@]}"; do
    for s in "${SIZES[@]}"; do
      key=$p/$s
      if [ -n "${R_CPU[$key]:-}" ]; then
        echo "| $p | $s | ${R_RPS[$key]} | ${R_P50[$key]} | ${R_P99[$key]} | ${R_CPU[$key]} | ${R_USER[$key]} / ${R_SYS[$key]} | ${R_RSS[$key]} | ${R_ERR[$key]} |"
      else
        echo "| $p | $s | – | – | – | – | – | – | **failed** |"
      fi
    done
  done
  echo
  if [ "$IDLE_CONNS" -gt 0 ]; then
    echo "Memory per idle client connection: RSS added by $IDLE_CONNS keep-alive connections that each"
    echo "completed one GET /small (bench/idle_conns.py; for nginx the worker's RSS):"
    echo
    echo "| proxy | KiB per idle connection (RSS before → after) | a request meanwhile, ms |"
    echo "|---|---:|---:|"
    for p in "${PROXY_LIST[@]}"; do
      echo "| $p | ${R_IDLE[$p]:-**failed**} | ${R_IDLE_PROBE[$p]:-–} |"
    done
    echo
  fi
  if want tally && [ ${#SIZES[@]} -gt 0 ]; then
    echo "tally's CPU µs/req relative to the others (< 1 means tally is cheaper):"
    echo
    echo "| size | tally / HAProxy | tally / nginx |"
    echo "|---|---:|---:|"
    for s in "${SIZES[@]}"; do
      t=${R_CPU[tally/$s]:-}
      h=${R_CPU[haproxy/$s]:-}
      n=${R_CPU[nginx/$s]:-}
      printf '| %s | %s | %s |\n' "$s" \
        "$( [ -n "$t" ] && [ -n "$h" ] && awk -v a="$t" -v b="$h" 'BEGIN {printf "%.2f", a / b}' || echo –)" \
        "$( [ -n "$t" ] && [ -n "$n" ] && awk -v a="$t" -v b="$n" 'BEGIN {printf "%.2f", a / b}' || echo –)"
    done
  elif [ ${#SIZES[@]} -gt 0 ]; then
    echo "(tally not in PROXIES: no ratios)"
  fi
  if [ ${#FAILED[@]} -gt 0 ]; then
    echo
    echo "**Failed:** ${FAILED[*]} — logs in \`${WORK#"$ROOT"/}\`"
  fi
}

report | tee "$OUT_DIR/last.md"
log "report written to $OUT_DIR/last.md; logs and raw wrk output in $WORK"
[ ${#FAILED[@]} -eq 0 ]
