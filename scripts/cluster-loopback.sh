#!/usr/bin/env bash
# scripts/cluster-loopback.sh — the three-replica tally cluster of docker/compose.yaml on
# 127.0.0.1, without Docker: one nginx with three demo backends, three `tally serve` replicas
# that gossip with each other over their admin ports, checkpoints in a work directory.
#
#   scripts/cluster-loopback.sh            # start, print what to curl, run until Ctrl-C
#   scripts/cluster-loopback.sh --check    # start, check every replica is ready and proxies, stop; exit 0/1
#
# Environment (defaults in brackets):
#   TALLY_BIN            tally binary [build/proxy/tally]
#   TALLY_TOKEN          admin token shared by the replicas [loopback-token]
#   BASE_PORT            proxy ports are BASE_PORT+1..3 [18080 -> 18081-18083]
#   ADMIN_BASE_PORT      admin ports are ADMIN_BASE_PORT+1..3 [19900 -> 19901-19903]
#   BACKEND_BASE_PORT    backend ports are BACKEND_BASE_PORT+1..3 [18090 -> 18091-18093]
#   NGINX                nginx binary [nginx from PATH, or /usr/sbin/nginx]
#   TALLY_WORK_DIR       configs, logs, checkpoints [a new temp dir, removed on exit]; a dir you
#                        name is kept, so a second run restores the replicas' checkpoints
#   CHECK_TIMEOUT        seconds --check waits for readiness [20]
set -euo pipefail

usage() { sed -n '2,20s/^# \{0,1\}//p' "$0"; }

mode=run
case "${1:-}" in
  '') ;;
  --check) mode=check ;;
  -h|--help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tally_bin=${TALLY_BIN:-$repo/build/proxy/tally}
token=${TALLY_TOKEN:-loopback-token}
base_port=${BASE_PORT:-18080}
admin_base_port=${ADMIN_BASE_PORT:-19900}
backend_base_port=${BACKEND_BASE_PORT:-18090}
check_timeout=${CHECK_TIMEOUT:-20}
nodes=(1 2 3)

log() { printf 'cluster-loopback: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for v in base_port admin_base_port backend_base_port check_timeout; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done
[[ $token =~ ^[A-Za-z0-9._~+/=-]+$ ]] || die "TALLY_TOKEN may only hold A-Z a-z 0-9 . _ ~ + / = - (and not be empty)"
[[ -x $tally_bin ]] || die "no tally binary at $tally_bin (build it with scripts/build.sh or set TALLY_BIN)"

nginx_bin=${NGINX:-}
if [[ -z $nginx_bin ]]; then
  nginx_bin=$(command -v nginx || true)
  [[ -z $nginx_bin && -x /usr/sbin/nginx ]] && nginx_bin=/usr/sbin/nginx
fi
[[ -n $nginx_bin && -x $nginx_bin ]] ||
  die "nginx not found for the demo backends: apt-get install nginx-light (or set NGINX=/path/to/nginx)"

proxy_port() { echo $((base_port + $1)); }
admin_port() { echo $((admin_base_port + $1)); }
backend_port() { echo $((backend_base_port + $1)); }

# ---- work dir and cleanup -------------------------------------------------------------------
own_work_dir=0
if [[ -n ${TALLY_WORK_DIR:-} ]]; then
  work=$TALLY_WORK_DIR
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/tally-loopback.XXXXXX")
  own_work_dir=1
fi
work=$(cd "$work" && pwd)

pids=()       # everything we started, by pid
names=()      # their names, same order
stopping=0
cleanup() {
  local rc=$?
  trap - INT TERM EXIT
  stopping=1
  if ((${#pids[@]})); then
    log "stopping ${names[*]}"
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    # tally drains for at most timeouts.drain (2s here); nginx stops at once.
    local deadline=$((SECONDS + 10))
    for pid in "${pids[@]}"; do
      while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid did not stop in time; killing it"
        kill -KILL "$pid" 2>/dev/null || true
      fi
      wait "$pid" 2>/dev/null || true
    done
  fi
  if ((own_work_dir)); then
    rm -rf "$work"
  else
    log "kept $work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started() { pids+=("$1"); names+=("$2"); }

# ---- tiny HTTP client (curl if present, else bash's /dev/tcp) --------------------------------
# http_get PORT PATH -> prints "STATUS BODY" (body's first line); STATUS 000 when nothing answered.
http_get() {
  local port=$1 path=$2 out
  if command -v curl >/dev/null; then
    out=$(curl -s -m 2 -o - -w '\n%{http_code}' "http://127.0.0.1:$port$path" 2>/dev/null) || true
    local code=${out##*$'\n'} body=${out%$'\n'*}
    [[ $out == *$'\n'* ]] || body=''
    printf '%s %s\n' "${code:-000}" "${body%%$'\n'*}"
  else
    # shellcheck disable=SC2016 # $1/$2 expand in the inner bash
    out=$(timeout 2 bash -c '
      exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
      printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3
      cat <&3' _ "$port" "$path" 2>/dev/null | tr -d '\r') || true
    local status_line=${out%%$'\n'*} body=''
    [[ $out == *$'\n\n'* ]] && body=${out#*$'\n\n'}
    local code
    code=$(awk '{print $2}' <<<"$status_line")
    printf '%s %s\n' "${code:-000}" "${body%%$'\n'*}"
  fi
}

# ---- demo backends: one nginx, three server blocks -------------------------------------------
mkdir -p "$work/nginx/logs"
{
  echo "# Generated by scripts/cluster-loopback.sh: three demo backends for tally."
  echo "worker_processes 1;"
  echo "pid $work/nginx/nginx.pid;"
  echo "error_log $work/nginx/logs/error.log warn;"
  echo "events { worker_connections 1024; }"
  echo "http {"
  echo "  access_log off;"
  echo "  default_type text/plain;"
  for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $work/nginx/${t}_temp;"; done
  for n in "${nodes[@]}"; do
    echo "  server {"
    echo "    listen 127.0.0.1:$(backend_port "$n");"
    printf '    location = /healthz { return 200 "ok\\n"; }\n'
    printf '    location / { return 200 "demo-%s\\n"; }\n' "$n"
    echo "  }"
  done
  echo "}"
} >"$work/nginx/nginx.conf"
"$nginx_bin" -t -q -p "$work/nginx" -e "$work/nginx/logs/error.log" -c "$work/nginx/nginx.conf" ||
  die "nginx rejected $work/nginx/nginx.conf"

# ---- tally configs ---------------------------------------------------------------------------
config_of() { echo "$work/tally-lb-$1.yaml"; }
for n in "${nodes[@]}"; do
  peers=''
  for m in "${nodes[@]}"; do
    ((m == n)) && continue
    peers+="${peers:+, }{ id: lb-$m, address: 127.0.0.1:$(admin_port "$m") }"
  done
  backends=''
  for m in "${nodes[@]}"; do backends+="      - { address: 127.0.0.1:$(backend_port "$m") }"$'\n'; done
  (
    umask 077  # the file holds the admin token
    cat >"$(config_of "$n")" <<YAML
# Generated by scripts/cluster-loopback.sh: replica lb-$n of a three-replica loopback cluster.
listen: 127.0.0.1:$(proxy_port "$n")
admin:
  listen: 127.0.0.1:$(admin_port "$n")
  token: "$token"
workers: 1
timeouts: { connect: 1s, request_header: 10s, idle: 60s, upstream_response: 30s, drain: 2s }
access_log: { enabled: true, path: "-" }
pools:
  web:
    policy: round_robin
    backends:
${backends}    health_check: { path: /healthz, interval: 1s, timeout: 500ms, rise: 2, fall: 3 }
    retry: { attempts: 2, per_try_timeout: 5s, on: [connect_failure, reset, timeout, "502", "503", "504"] }
routes:
  - { path_prefix: /, pool: web }
cluster:
  node_id: lb-$n
  peers: [ $peers ]
  gossip_interval: 500ms
  vote_ttl: 3s
checkpoint: { path: $work/lb-$n-state.json, interval: 5s }
YAML
  )
  "$tally_bin" check -c "$(config_of "$n")" >&2 || die "tally check failed for $(config_of "$n")"
done

# ---- start -----------------------------------------------------------------------------------
"$nginx_bin" -p "$work/nginx" -e "$work/nginx/logs/error.log" -c "$work/nginx/nginx.conf" \
  -g 'daemon off;' >"$work/nginx/logs/stdout.log" 2>&1 &
started $! nginx
for n in "${nodes[@]}"; do
  "$tally_bin" serve -c "$(config_of "$n")" >"$work/lb-$n.log" 2>&1 &
  started $! "lb-$n"
done

# Each started process must still be running; otherwise show its log and fail.
log_of() { if [[ $1 == nginx ]]; then echo "$work/nginx/logs/error.log"; else echo "$work/$1.log"; fi; }
all_alive() {
  local i
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[i]}" 2>/dev/null; then
      log "${names[i]} (pid ${pids[i]}) exited; last lines of $(log_of "${names[i]}"):"
      tail -n 20 "$(log_of "${names[i]}")" >&2 || true
      return 1
    fi
  done
}

# Wait until every replica's /readyz is 200 and its proxy port serves a backend.
ready=0
deadline=$((SECONDS + check_timeout))
while ((SECONDS < deadline)); do
  all_alive || exit 1
  ok=1
  for n in "${nodes[@]}"; do
    read -r code _ < <(http_get "$(admin_port "$n")" /readyz)
    [[ $code == 200 ]] || { ok=0; break; }
    read -r code _ < <(http_get "$(proxy_port "$n")" /)
    [[ $code == 200 ]] || { ok=0; break; }
  done
  if ((ok)); then ready=1; break; fi
  sleep 0.3
done

# ---- report ----------------------------------------------------------------------------------
failures=0
for n in "${nodes[@]}"; do
  read -r rcode _ < <(http_get "$(admin_port "$n")" /readyz)
  answers=()
  for _ in 1 2 3; do
    read -r pcode pbody < <(http_get "$(proxy_port "$n")" /)
    answers+=("$pcode:${pbody:-}")
  done
  printf 'lb-%s  admin 127.0.0.1:%s /readyz -> %s   proxy 127.0.0.1:%s / -> %s\n' \
    "$n" "$(admin_port "$n")" "$rcode" "$(proxy_port "$n")" "${answers[*]}" >&2
  [[ $rcode == 200 ]] || failures=$((failures + 1))
  [[ ${answers[0]%%:*} == 200 ]] || failures=$((failures + 1))
done

if [[ $mode == check ]]; then
  # Informational, not part of the verdict: whether the replicas see each other
  # (tally_cluster_peer_up), given a few gossip rounds.
  if command -v curl >/dev/null; then
    peer_deadline=$((SECONDS + 3))
    while :; do
      peer_report=()
      all_up=1
      for n in "${nodes[@]}"; do
        peer_lines=$(curl -s -m 2 "http://127.0.0.1:$(admin_port "$n")/metrics" |
          grep '^tally_cluster_peer_up' | sort | tr '\n' ' ' || true)
        [[ -n $peer_lines && $peer_lines != *' 0 '* ]] || all_up=0
        peer_report+=("lb-$n: ${peer_lines:-no tally_cluster_peer_up samples}")
      done
      ((all_up || SECONDS >= peer_deadline)) && break
      sleep 0.5
    done
    for line in "${peer_report[@]}"; do log "$line"; done
  fi
  if ((ready && failures == 0)); then
    log "check passed: 3 replicas ready and proxying"
    exit 0
  fi
  log "check FAILED (ready=$ready, failures=$failures); logs in $work"
  for n in "${nodes[@]}"; do log "--- lb-$n.log"; tail -n 15 "$work/lb-$n.log" >&2 || true; done
  exit 1
fi

((ready)) || log "warning: not every replica was ready within ${check_timeout}s; see the logs in $work"

cat <<EOF

tally loopback cluster is running (work dir: $work)
  replicas  lb-1 127.0.0.1:$(proxy_port 1) (admin $(admin_port 1))   lb-2 127.0.0.1:$(proxy_port 2) (admin $(admin_port 2))   lb-3 127.0.0.1:$(proxy_port 3) (admin $(admin_port 3))
  backends  demo-1 127.0.0.1:$(backend_port 1)   demo-2 127.0.0.1:$(backend_port 2)   demo-3 127.0.0.1:$(backend_port 3)  (nginx)
  logs      $work/lb-N.log, $work/nginx/logs/error.log

Try:
  curl http://127.0.0.1:$(proxy_port 1)/                      # demo-1, demo-2, demo-3, ...
  curl http://127.0.0.1:$(admin_port 1)/status                # lb-1's view: pools, verdicts, votes, peers
  curl -s http://127.0.0.1:$(admin_port 2)/metrics | grep tally_cluster_peer_up
  TOKEN=$token
  curl -X POST -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:$(admin_port 1)/pools/web/backends/127.0.0.1:$(backend_port 2)/drain
  curl http://127.0.0.1:$(admin_port 3)/status                # the drain, seen by lb-3
  curl -X POST -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:$(admin_port 1)/pools/web/backends/127.0.0.1:$(backend_port 2)/enable

Ctrl-C stops everything this script started.
EOF

# Run until interrupted, or until something we started dies.
while ((!stopping)); do
  all_alive || exit 1
  sleep 1
done
