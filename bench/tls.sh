#!/usr/bin/env bash
# bench/tls.sh — what TLS termination costs in tally, next to HAProxy and nginx: CPU time per
# request over TLS keep-alive, and CPU time per new TLS connection (full handshake, and resumed).
# Same setup as bench/run.sh: one worker per proxy, the same three nginx backends (plain HTTP),
# one self-signed ECDSA P-256 certificate for bench.test made with the openssl command.
#
#   bench/tls.sh                               # all three proxies, 10 s per measurement
#   PROXIES="tally haproxy" DURATION=5 bench/tls.sh
#
# Environment:
#   PROXIES      which proxies to run, in order (default "tally haproxy nginx")
#   DURATION     seconds per measured wrk run (default 10)
#   CONNECTIONS  wrk connections (default 50)
#   WARMUP       seconds of warm-up before each measured run (default 2)
#   TALLY_BIN    tally executable (default build/proxy/tally, relative to the repo root)
#   LOAD_CPU     CPU for wrk and the backends (default 0)
#   PROXY_CPU    CPU for the proxy under test (default 1)
#   PERF         1 = after tally's measured runs, one more run per mode under `perf record -g`
#                (not measured), top symbols written to the work dir (default 0)
#
# Three measurements per proxy, all on /small (13 bytes):
#   keepalive  wrk over https, keep-alive: CPU per request
#   full       wrk -H "Connection: close" with session resumption disabled in the client (an
#              LD_PRELOAD shim, built here, that drops the saved session before each reconnect): every request
#              is a new connection with a full handshake. CPU per connection.
#   resumed    wrk -H "Connection: close" as it is: wrk keeps the TLS session of the previous
#              connection and offers it again; whether the server resumed it is counted in wrk by
#              the same shim and reported (resumed/all handshakes) for every run.
# Before the proxies, a probe nginx logs $ssl_session_reused to show what wrk does with and
# without the shim; the report says how many connections were resumed in each case.
#
# Writes the markdown report to stdout and to bench/out/tls-last.md; every log, config, the
# certificate and raw wrk output stay in bench/out/tls-<timestamp>-<pid>/. Everything the script
# starts is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=$ROOT/bench
BENCH_NAME=bench-tls
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
OUT_DIR=$BENCH_DIR/out

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-50}
WARMUP=${WARMUP:-2}
PROXIES=${PROXIES:-"tally haproxy nginx"}
LOAD_CPU=${LOAD_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
PERF=${PERF:-0}
if [ -n "${TALLY_BIN:-}" ]; then
  case $TALLY_BIN in /*) ;; *) TALLY_BIN=$PWD/$TALLY_BIN ;; esac
else
  TALLY_BIN=$ROOT/build/proxy/tally
fi

MODES=(keepalive full resumed)
LUA=$BENCH_DIR/report.lua

# ---------------------------------------------------------------------------------------------
# prerequisites

[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a whole number of seconds (got '$DURATION')"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a whole number of seconds (got '$WARMUP')"
[[ $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer (got '$CONNECTIONS')"
read -ra PROXY_LIST <<<"$PROXIES"
[ ${#PROXY_LIST[@]} -gt 0 ] || die "PROXIES is empty"
for p in "${PROXY_LIST[@]}"; do
  case $p in tally | haproxy | nginx) ;; *) die "unknown proxy '$p' in PROXIES (use tally, haproxy, nginx)" ;; esac
done

missing=()
for tool in wrk nginx taskset pgrep getconf openssl curl cc python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if want haproxy; then command -v haproxy >/dev/null 2>&1 || missing+=(haproxy); fi
if [ "$PERF" = 1 ]; then command -v perf >/dev/null 2>&1 || missing+=(perf); fi
if [ ${#missing[@]} -gt 0 ]; then
  die "missing: ${missing[*]} — install the benchmark tools with: scripts/install-deps.sh bench (and a C compiler, python3)"
fi
if want tally && [ ! -x "$TALLY_BIN" ]; then
  die "tally binary not found or not executable: $TALLY_BIN — build it (scripts/build.sh), set TALLY_BIN=, or run PROXIES=\"haproxy nginx\" $0"
fi
for cpu in "$LOAD_CPU" "$PROXY_CPU"; do
  taskset -c "$cpu" true 2>/dev/null || die "cannot pin to CPU $cpu (this needs 2 CPUs; set LOAD_CPU/PROXY_CPU)"
done
[ "$LOAD_CPU" != "$PROXY_CPU" ] || log "warning: LOAD_CPU and PROXY_CPU are the same CPU"

CLK_TCK=$(getconf CLK_TCK)
NGINX_BIN=$(command -v nginx)
WRK_BIN=$(command -v wrk)

mkdir -p "$OUT_DIR"
WORK=$OUT_DIR/tls-$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$WORK"
chmod 755 "$WORK"   # nginx workers may run as another user and must read www/ and the certificate
log "work dir: $WORK"

# ---------------------------------------------------------------------------------------------
# the certificate and the no-resumption shim

CERT=$WORK/bench.test.pem
KEY=$WORK/bench.test-key.pem
CERT_AND_KEY=$WORK/bench.test-both.pem   # HAProxy's crt: certificate then key
make_certificate() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -keyout "$KEY" -out "$CERT" -subj "/CN=bench.test" -addext "subjectAltName=DNS:bench.test" \
    >"$WORK/openssl.log" 2>&1 || { show_log "$WORK/openssl.log"; die "openssl could not make the certificate"; }
  chmod 644 "$KEY"
  cat "$CERT" "$KEY" >"$CERT_AND_KEY"
  log "certificate: $(openssl x509 -in "$CERT" -noout -subject -ext subjectAltName | tr '\n' ' ')"
}

# wrk (4.1.0) closes a connection with SSL_shutdown + SSL_clear and reconnects with the same SSL
# object, which keeps the session and offers it again: a reconnect is a resumption whenever the
# server and the way the last connection ended allow it. This shim, preloaded into every wrk run,
# (1) with TLSBENCH_NORESUME=1 drops the session right after SSL_clear, so every connection is a
# full handshake, and (2) with TLSBENCH_COUNT_FILE=path counts the completed handshakes, resumed
# (SSL_session_reused) or full, and writes "resumed=R full=F" there when wrk exits.
# It needs no OpenSSL headers.
SHIM_SO=$WORK/tlsbench-shim.so
make_shim() {
  cat >"$WORK/tlsbench-shim.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
typedef struct ssl_st SSL;
static long n_resumed, n_full;
int SSL_clear(SSL *s) {
  static int (*real_clear)(SSL *);
  static int (*set_session)(SSL *, void *);
  static int drop = -1;
  if (!real_clear) real_clear = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_clear");
  if (!set_session) set_session = (int (*)(SSL *, void *))dlsym(RTLD_NEXT, "SSL_set_session");
  if (drop < 0) drop = getenv("TLSBENCH_NORESUME") != NULL && getenv("TLSBENCH_NORESUME")[0] == '1';
  int r = real_clear(s);
  if (drop && set_session) set_session(s, NULL);
  return r;
}
int SSL_connect(SSL *s) {
  static int (*real_connect)(SSL *);
  static int (*reused)(const SSL *);
  if (!real_connect) real_connect = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_connect");
  if (!reused) reused = (int (*)(const SSL *))dlsym(RTLD_NEXT, "SSL_session_reused");
  int r = real_connect(s);
  if (r == 1 && reused) {
    if (reused(s)) __atomic_add_fetch(&n_resumed, 1, __ATOMIC_RELAXED);
    else __atomic_add_fetch(&n_full, 1, __ATOMIC_RELAXED);
  }
  return r;
}
__attribute__((destructor)) static void tlsbench_report(void) {
  const char *path = getenv("TLSBENCH_COUNT_FILE");
  FILE *f;
  if (!path || !(f = fopen(path, "w"))) return;
  fprintf(f, "resumed=%ld full=%ld\n", n_resumed, n_full);
  fclose(f);
}
C
  cc -O2 -shared -fPIC -o "$SHIM_SO" "$WORK/tlsbench-shim.c" -ldl >"$WORK/shim.log" 2>&1 ||
    { show_log "$WORK/shim.log"; die "could not build the wrk shim"; }
}

# ---------------------------------------------------------------------------------------------
# backends: one nginx, three server blocks, plain HTTP (as run.sh)

free_ports 3 || die "could not find free ports"
BACKENDS=("${FREE_PORTS[@]}")

start_backends() {
  local dir=$WORK/backend port
  mkdir -p "$dir/tmp" "$WORK/www"
  printf 'hello, world\n' >"$WORK/www/small"
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
# the resumption probe: a TLS nginx that logs whether each connection was resumed

PROBE_PLAIN=""   # "R of N resumed" for wrk as it is
PROBE_SHIM=""    # the same with the shim
probe_resumption() {
  local dir=$WORK/probe port pid
  free_ports 1 || { log "probe: no free port"; return 1; }
  port=${FREE_PORTS[0]}
  mkdir -p "$dir/tmp"
  {
    nginx_common "$dir"
    cat <<EOF
http {
$(nginx_http_common "$dir")
    log_format probe '\$ssl_session_reused \$ssl_protocol \$ssl_cipher \$ssl_curve';
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $CERT;
        ssl_certificate_key $KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:10m;
        access_log $dir/access.log probe;
        location / { default_type text/plain; return 200 "hello, world\n"; }
    }
}
EOF
  } >"$dir/nginx.conf"
  "$NGINX_BIN" -t -q -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/check.log" 2>&1 ||
    { show_log "$dir/check.log"; log "probe nginx config is invalid"; return 1; }
  taskset -c "$PROXY_CPU" "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
  pid=$!
  track "$pid" probe-nginx
  wait_port "$port" "$pid" "probe nginx" || { stop_pids 5 "$pid"; untrack "$pid"; return 1; }
  sleep 0.3
  : >"$dir/access.log"
  taskset -c "$LOAD_CPU" timeout 20 env LD_PRELOAD="$SHIM_SO" "$WRK_BIN" -t1 -c2 -d1s -H "Connection: close" "https://127.0.0.1:$port/" >"$dir/wrk-plain.txt" 2>&1 || true
  sleep 0.3
  cp "$dir/access.log" "$dir/access-plain.log"
  : >"$dir/access.log"
  taskset -c "$LOAD_CPU" timeout 20 env LD_PRELOAD="$SHIM_SO" TLSBENCH_NORESUME=1 "$WRK_BIN" -t1 -c2 -d1s -H "Connection: close" "https://127.0.0.1:$port/" >"$dir/wrk-shim.txt" 2>&1 || true
  sleep 0.3
  cp "$dir/access.log" "$dir/access-shim.log"
  stop_pids 5 "$pid"
  untrack "$pid"
  PROBE_PLAIN="$(grep -c '^r ' "$dir/access-plain.log" || true) of $(grep -c . "$dir/access-plain.log" || true) resumed"
  PROBE_SHIM="$(grep -c '^r ' "$dir/access-shim.log" || true) of $(grep -c . "$dir/access-shim.log" || true) resumed"
  PROBE_TLS=$(awk '{print $2, $3, $4}' "$dir/access-shim.log" | sort | uniq -c | sort -rn | head -n1 | awk '{$1 = ""; print substr($0, 2)}')
  log "probe: wrk as it is: $PROBE_PLAIN; wrk with the shim: $PROBE_SHIM; negotiated: $PROBE_TLS"
}
PROBE_TLS=""

# ---------------------------------------------------------------------------------------------
# proxies under test (TLS listeners); each start_* sets PROXY_PID and returns 1 on failure

start_tally() {
  local port=$1 admin=$2 dir=$WORK/tally b cfg
  mkdir -p "$dir"
  cfg=$dir/tally.yaml
  {
    echo "listen:"
    echo "  - address: 127.0.0.1:$port"
    echo "    tls:"
    echo "      certificates:"
    echo "        - { cert: $CERT, key: $KEY }"
    echo "      min_version: \"1.2\""
    echo "admin:"
    echo "  listen: 127.0.0.1:$admin"
    echo "workers: 1"
    echo "access_log: { enabled: false }"
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
  track "$PROXY_PID" tally
  wait_port "$port" "$PROXY_PID" tally || { show_log "$dir/stderr.log"; show_log "$dir/stdout.log"; return 1; }
}

start_haproxy() {
  local port=$1 dir=$WORK/haproxy i=0 b
  mkdir -p "$dir"
  {
    cat <<EOF
global
    nbthread 1
    maxconn 8192
    ssl-default-bind-options ssl-min-ver TLSv1.2
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
    bind 127.0.0.1:$port ssl crt $CERT_AND_KEY
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
        listen 127.0.0.1:$port ssl backlog=4096;
        ssl_certificate $CERT;
        ssl_certificate_key $KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:10m;
        location / {
            proxy_pass http://backends;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffer_size 8k;
            proxy_buffers 16 8k;
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

# Pids whose CPU time counts for the proxy (nginx: master + worker).
set_measured_pids() {
  local kids=() i
  MEASURE_PIDS=("$PROXY_PID")
  if [ "$1" = nginx ]; then
    for ((i = 0; i < 50; i++)); do
      # shellcheck disable=SC2207
      kids=($(children_of "$PROXY_PID"))
      [ ${#kids[@]} -eq 0 ] || break
      sleep 0.1
    done
    [ ${#kids[@]} -gt 0 ] || { log "nginx (proxy) has no worker process"; return 1; }
    MEASURE_PIDS+=("${kids[@]}")
  fi
}

# Sanity checks over TLS, verifying the certificate for bench.test: body right, round robin,
# and which protocol/cipher the proxy picks for curl.
declare -A R_CURL_TLS
verify_proxy() {
  local name=$1 port=$2 body seen=() i hdr info
  local -a c=(curl -sS -m 5 --cacert "$CERT" --resolve "bench.test:$port:127.0.0.1")
  body=$("${c[@]}" -f "https://bench.test:$port/small") || { log "$name: GET https://bench.test/small failed"; return 1; }
  [ "$body" = "hello, world" ] || { log "$name: GET /small returned '$body'"; return 1; }
  for ((i = 0; i < 6; i++)); do
    hdr=$("${c[@]}" -o /dev/null -D - "https://bench.test:$port/small" | tr -d '\r' |
      awk -F': ' 'tolower($1) == "x-backend" {print $2}') || true
    [ -n "$hdr" ] && seen+=("$hdr")
  done
  i=$(printf '%s\n' "${seen[@]}" | sort -u | grep -c . || true)
  [ "$i" -eq 3 ] || log "$name: warning: 6 requests reached $i distinct backend(s), expected 3 (round robin?)"
  info=$(echo | timeout 5 openssl s_client -connect "127.0.0.1:$port" -servername bench.test 2>/dev/null |
    awk '/^New, / {sub(/^New, /, ""); sub(/, Cipher is /, " "); c = $0} /Server Temp Key/ {sub(/.*Server Temp Key: /, ""); k = $0} END {print c ", " k}') || true
  R_CURL_TLS[$name]=$info
  return 0
}

# ---------------------------------------------------------------------------------------------
# measurement

# run_wrk MODE URL SECONDS OUTFILE — wrk pinned to LOAD_CPU, in the background so signals reach us.
run_wrk() {
  local mode=$1 url=$2 secs=$3 out=$4 pid rc=0
  local -a pre=(env "LD_PRELOAD=$SHIM_SO" "TLSBENCH_COUNT_FILE=$out.handshakes") hdr=()
  case $mode in
    keepalive) ;;
    full) pre+=(TLSBENCH_NORESUME=1); hdr=(-H "Connection: close") ;;
    resumed) hdr=(-H "Connection: close") ;;
  esac
  rm -f "$out.handshakes"
  taskset -c "$LOAD_CPU" timeout -k 5 $((secs + 30)) "${pre[@]}" \
    "$WRK_BIN" -t1 -c"$CONNECTIONS" -d"${secs}s" --latency "${hdr[@]}" -s "$LUA" "$url" >"$out" 2>&1 &
  pid=$!
  track "$pid" wrk
  wait "$pid" || rc=$?
  untrack "$pid"
  return "$rc"
}

declare -A R_RPS R_CPU R_ERR R_HS
FAILED=()

# measure NAME PORT MODE
measure() {
  local name=$1 port=$2 mode=$3 url out t0 t1 line kv k v fields
  local -A m=()
  url="https://127.0.0.1:$port/small"
  out=$WORK/wrk-$name-$mode.txt
  if [ "$WARMUP" -gt 0 ]; then
    run_wrk "$mode" "$url" "$WARMUP" "$WORK/wrk-$name-$mode-warmup.txt" || { log "$name/$mode: warm-up wrk failed"; return 1; }
  fi
  t0=$(cpu_ticks "${MEASURE_PIDS[@]}") || { log "$name died"; return 1; }
  run_wrk "$mode" "$url" "$DURATION" "$out" || { log "$name/$mode: wrk failed"; show_log "$out"; return 1; }
  t1=$(cpu_ticks "${MEASURE_PIDS[@]}") || { log "$name died during the run"; return 1; }
  line=$(grep -m1 '^TALLYBENCH ' "$out") || { log "$name/$mode: no summary in wrk output"; show_log "$out"; return 1; }
  read -ra fields <<<"${line#TALLYBENCH }"
  for kv in "${fields[@]}"; do
    k=${kv%%=*}
    v=${kv#*=}
    m[$k]=$v
  done
  if [ "${m[requests]}" -eq 0 ]; then
    log "$name/$mode: no request completed"
    show_log "$out"
    return 1
  fi
  local key=$name/$mode hs
  hs=$(cat "$out.handshakes" 2>/dev/null || echo "resumed=? full=?")
  R_HS[$key]=$(awk -v s="$hs" 'BEGIN {split(s, a, /[ =]/); r = a[2]; f = a[4]; if (r + f > 0) printf "%d/%d", r, r + f; else print "?"}')
  R_RPS[$key]=$(awk -v r="${m[requests]}" -v d="${m[duration_us]}" 'BEGIN {printf "%.0f", r / (d / 1e6)}')
  R_CPU[$key]=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v r="${m[requests]}" 'BEGIN {printf "%.1f", t / hz / r * 1e6}')
  local errs=$((m[connect] + m[read] + m[write] + m[timeout] + m[status]))
  if [ "$errs" -eq 0 ]; then
    R_ERR[$key]=0
  else
    R_ERR[$key]="$errs (c${m[connect]} r${m[read]} w${m[write]} t${m[timeout]} s${m[status]})"
    log "$name/$mode: WARNING: $errs errors — see $out"
  fi
  log "$name/$mode: ${R_RPS[$key]} req/s, ${R_CPU[$key]} µs CPU/req ($((t1 - t0)) ticks / ${m[requests]} req), handshakes resumed/all ${R_HS[$key]}, errors $errs"
}

# profile PORT MODE: one more run of MODE with perf record -g on tally (not measured).
profile_tally() {
  local port=$1 mode=$2 data ppid
  data=$WORK/perf-tally-$mode.data
  taskset -c "$LOAD_CPU" perf record -g -o "$data" -p "$PROXY_PID" -- sleep "$DURATION" >"$WORK/perf-$mode.log" 2>&1 &
  ppid=$!
  track "$ppid" perf
  run_wrk "$mode" "https://127.0.0.1:$port/small" "$DURATION" "$WORK/wrk-tally-$mode-perf.txt" || true
  wait "$ppid" || true
  untrack "$ppid"
  perf report -i "$data" --no-children --sort symbol --percent-limit 0.5 --stdio -g none 2>/dev/null |
    grep -v '^#' | grep -v '^$' | head -n 25 >"$WORK/perf-tally-$mode-top.txt" || true
  log "tally/$mode: perf top symbols in $WORK/perf-tally-$mode-top.txt"
}

bench_proxy() {
  local name=$1 port admin mode ok=0
  free_ports 2 || { log "no free ports"; return 1; }
  port=${FREE_PORTS[0]}
  admin=${FREE_PORTS[1]}
  log "starting $name on 127.0.0.1:$port, TLS (CPU $PROXY_CPU)"
  PROXY_PID=
  case $name in
    tally) start_tally "$port" "$admin" || ok=1 ;;
    haproxy) start_haproxy "$port" || ok=1 ;;
    nginx) start_nginx_proxy "$port" || ok=1 ;;
  esac
  if [ "$ok" -eq 0 ]; then set_measured_pids "$name" || ok=1; fi
  if [ "$ok" -eq 0 ]; then verify_proxy "$name" "$port" || ok=1; fi
  if [ "$ok" -eq 0 ]; then
    for mode in "${MODES[@]}"; do
      measure "$name" "$port" "$mode" || { ok=1; FAILED+=("$name/$mode"); }
    done
    if [ "$name" = tally ] && [ "$PERF" = 1 ]; then
      for mode in keepalive full; do profile_tally "$port" "$mode"; done
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
make_certificate
make_shim
probe_resumption || log "probe failed (details above)"
start_backends
for p in "${PROXY_LIST[@]}"; do
  bench_proxy "$p" || log "$p: failed (details above; logs in $WORK)"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

version_of() {
  case $1 in
    tally) "$TALLY_BIN" --version 2>&1 | head -n1 || true ;;
    haproxy) haproxy -v 2>&1 | head -n1 | awk '{print $3}' ;;
    nginx) "$NGINX_BIN" -v 2>&1 | sed 's|.*nginx/||' ;;
  esac
}

ratio() { if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; else echo –; fi; }
cell() { local v=${1:-}; echo "${v:-–}"; }

report() {
  local p key mode v
  echo "# tally TLS benchmark — $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo
  echo "- command: \`PROXIES=\"$PROXIES\" DURATION=$DURATION CONNECTIONS=$CONNECTIONS WARMUP=$WARMUP bench/tls.sh\`"
  echo "- tree: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (dirty)'); tally binary: \`${TALLY_BIN#"$ROOT"/}\`; machine: $(nproc) CPUs, $(uname -sr), $(openssl version | awk '{print $1, $2}')"
  echo "- load: wrk -t1 -c$CONNECTIONS, ${DURATION}s per run after ${WARMUP}s warm-up, GET /small (13 bytes); wrk + backend nginx (plain HTTP) on CPU $LOAD_CPU, proxy (1 worker) on CPU $PROXY_CPU"
  echo "- certificate: self-signed ECDSA P-256 for bench.test (openssl req -x509 -newkey ec, prime256v1)"
  echo "- TLS as negotiated by wrk (probe): ${PROBE_TLS:-?}; per proxy with openssl s_client: $(for p in "${PROXY_LIST[@]}"; do printf '%s: %s; ' "$p" "${R_CURL_TLS[$p]:-?}"; done)"
  echo "- session resumption by wrk (probe nginx, \$ssl_session_reused, 1 s, -c2, Connection: close): wrk as it is: ${PROBE_PLAIN:-?}; wrk with the no-resumption shim: ${PROBE_SHIM:-?}"
  echo "- versions: $(for p in "${PROXY_LIST[@]}"; do v=$(version_of "$p"); printf '%s %s; ' "$p" "${v:-?}"; done)wrk $(wrk -v 2>&1 | head -n1 | awk '{print $2}')"
  echo "- load average before/after: $LOAD_BEFORE / $LOAD_AFTER (high values mean noisy numbers)"
  echo
  echo "| proxy | keep-alive µs CPU/req | req/s | full handshake µs CPU/conn | conn/s | \"resumed\" µs CPU/conn | conn/s | errors (ka / full / res) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|"
  for p in "${PROXY_LIST[@]}"; do
    printf '| %s | %s | %s | %s | %s | %s | %s | %s / %s / %s |\n' "$p" \
      "$(cell "${R_CPU[$p/keepalive]:-}")" "$(cell "${R_RPS[$p/keepalive]:-}")" \
      "$(cell "${R_CPU[$p/full]:-}")" "$(cell "${R_RPS[$p/full]:-}")" \
      "$(cell "${R_CPU[$p/resumed]:-}")" "$(cell "${R_RPS[$p/resumed]:-}")" \
      "$(cell "${R_ERR[$p/keepalive]:-}")" "$(cell "${R_ERR[$p/full]:-}")" "$(cell "${R_ERR[$p/resumed]:-}")"
  done
  echo
  echo "Handshakes that wrk completed in the measured runs, resumed / all (counted in wrk by the shim,"
  echo "SSL_session_reused after SSL_connect): a \"resumed\" row with few resumptions is in fact full handshakes."
  echo
  echo "| proxy | keep-alive | full | \"resumed\" |"
  echo "|---|---:|---:|---:|"
  for p in "${PROXY_LIST[@]}"; do
    printf '| %s | %s | %s | %s |\n' "$p" "$(cell "${R_HS[$p/keepalive]:-}")" "$(cell "${R_HS[$p/full]:-}")" "$(cell "${R_HS[$p/resumed]:-}")"
  done
  echo
  if want tally; then
    echo "tally's CPU time relative to the others (< 1 means tally is cheaper):"
    echo
    echo "| row | tally / HAProxy | tally / nginx |"
    echo "|---|---:|---:|"
    for mode in "${MODES[@]}"; do
      key=$mode
      case $mode in keepalive) key="keep-alive, per request" ;; full) key="full handshake, per connection" ;; resumed) key="resumed, per connection" ;; esac
      printf '| %s | %s | %s |\n' "$key" \
        "$(ratio "${R_CPU[tally/$mode]:-}" "${R_CPU[haproxy/$mode]:-}")" \
        "$(ratio "${R_CPU[tally/$mode]:-}" "${R_CPU[nginx/$mode]:-}")"
    done
  else
    echo "(tally not in PROXIES: no ratios)"
  fi
  if [ ${#FAILED[@]} -gt 0 ]; then
    echo
    echo "**Failed:** ${FAILED[*]} — logs in \`${WORK#"$ROOT"/}\`"
  fi
}

report | tee "$OUT_DIR/tls-last.md"
log "report written to $OUT_DIR/tls-last.md; logs and raw wrk output in $WORK"
[ ${#FAILED[@]} -eq 0 ]
