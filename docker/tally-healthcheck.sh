#!/bin/bash
# tally-healthcheck: exit 0 when the local tally answers GET /healthz on its admin listener.
#
# The image's HEALTHCHECK runs this. It follows the configured admin port instead of assuming
# 9901: the address is, in order,
#   1. $TALLY_HEALTHCHECK_ADDRESS (host:port), if set;
#   2. admin.listen of the config tally runs with: the -c/--config FILE of PID 1 (the image's
#      ENTRYPOINT is tally itself), else $TALLY_CONFIG, else /etc/tally/tally.yaml;
#   3. tally's default, 127.0.0.1:9901.
# A wildcard host (0.0.0.0, [::]) is reached on loopback. No curl in the image: bash's /dev/tcp
# sends one HTTP/1.0 GET and the status line must say 200.
#
# `tally-healthcheck --print-address` prints the address it would use and exits (for tests).
set -euo pipefail

# The -c FILE of PID 1 when PID 1 is tally (the image's ENTRYPOINT); nothing otherwise.
config_of_pid1() {
  local prev='' arg first=1
  [ -r /proc/1/cmdline ] || return 1
  while IFS= read -r -d '' arg; do
    if [ "$first" = 1 ]; then
      first=0
      [ "${arg##*/}" = tally ] || return 1
    fi
    case "$prev" in -c | --config) printf '%s\n' "$arg" && return 0 ;; esac
    case "$arg" in --config=*) printf '%s\n' "${arg#--config=}" && return 0 ;; esac
    prev=$arg
  done </proc/1/cmdline
  return 1
}

# admin.listen from a tally YAML file, block (admin:\n  listen: X) or flow (admin: { listen: X })
# style; prints nothing when the file has none.
admin_listen_of() {
  awk '
    function clean(v) {
      sub(/[ \t]*#.*$/, "", v); sub(/[,}].*$/, "", v); gsub(/["'"'"' \t]/, "", v); return v
    }
    /^admin:[ \t]*\{/ {
      line = $0
      if (match(line, /listen:[ \t]*[^,}]+/)) {
        v = substr(line, RSTART, RLENGTH); sub(/^listen:/, "", v); print clean(v); exit
      }
      next
    }
    /^admin:[ \t]*(#.*)?$/ { in_admin = 1; next }
    in_admin && /^[^ \t#]/ { in_admin = 0 }
    in_admin && /^[ \t]+listen:/ { v = $0; sub(/^[ \t]+listen:/, "", v); print clean(v); exit }
  ' "$1"
}

address=${TALLY_HEALTHCHECK_ADDRESS:-}
if [ -z "$address" ]; then
  config=$(config_of_pid1 || true)
  config=${config:-${TALLY_CONFIG:-/etc/tally/tally.yaml}}
  if [ -r "$config" ]; then address=$(admin_listen_of "$config"); fi
fi
address=${address:-127.0.0.1:9901}

host=${address%:*}
port=${address##*:}
case "$host" in
  0.0.0.0 | '') host=127.0.0.1 ;;
  '[::]') host=::1 ;;
  \[*\]) host=${host#[} host=${host%]} ;;
esac

if [ "${1:-}" = "--print-address" ]; then
  printf '%s %s\n' "$host" "$port"
  exit 0
fi

exec 3<>"/dev/tcp/$host/$port"
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r -t 3 status <&3
case "$status" in
  "HTTP/1."?" 200 "*) exit 0 ;;
  *) echo "tally-healthcheck: $host:$port/healthz answered: ${status:-nothing}" >&2; exit 1 ;;
esac
