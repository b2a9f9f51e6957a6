#!/bin/sh
# tally-entrypoint: run tally with ${TALLY_ADMIN_TOKEN} in its config taken from the environment.
#
# tally reads its YAML as is (no environment expansion). compose.yaml keeps one admin token for
# all replicas in the TALLY_ADMIN_TOKEN environment variable, so the configs say
#   admin: { token: "${TALLY_ADMIN_TOKEN}" }
# and this wrapper renders the -c FILE into $TALLY_RENDER_DIR (default /tmp, mode 0600) with the
# placeholder replaced, then runs `tally ARGS` on the rendered file. A config without the
# placeholder is used untouched. For `serve` it stays the parent: SIGHUP re-renders the file and
# is passed on (so editing the mounted file + SIGHUP reloads as usual), SIGTERM/SIGINT are passed
# on, and tally's exit status is ours.
set -eu

# shellcheck disable=SC2016 # the literal text ${TALLY_ADMIN_TOKEN}
placeholder='${TALLY_ADMIN_TOKEN}'
render_dir=${TALLY_RENDER_DIR:-/tmp}
src=''
dst="$render_dir/tally-rendered.yaml"

log() { printf 'tally-entrypoint: %s\n' "$*" >&2; }

# Find the config file: -c FILE, --config FILE or --config=FILE.
prev=''
for arg in "$@"; do
  case "$prev" in -c|--config) src=$arg ;; esac
  case "$arg" in --config=*) src=${arg#--config=} ;; esac
  prev=$arg
done

needs_render() { [ -n "$src" ] && [ -r "$src" ] && grep -qF "$placeholder" "$src"; }

render() {
  token=${TALLY_ADMIN_TOKEN:-}
  if [ -z "$token" ]; then
    log "$src uses $placeholder but TALLY_ADMIN_TOKEN is empty or unset"
    return 1
  fi
  case "$token" in
    *[!A-Za-z0-9._~+/=-]*)
      log "TALLY_ADMIN_TOKEN may only hold A-Z a-z 0-9 . _ ~ + / = -"
      return 1 ;;
  esac
  tmp="$dst.tmp.$$"
  (umask 077 && sed "s|\\\$[{]TALLY_ADMIN_TOKEN[}]|$token|g" "$src" >"$tmp")
  mv -f "$tmp" "$dst"
}

if ! needs_render; then
  exec tally "$@"
fi

mkdir -p "$render_dir"
render || exit 1
log "rendered $src -> $dst (admin token from TALLY_ADMIN_TOKEN)"

# Same arguments, with the rendered file in place of the source one.
first=1
swap=0
for arg in "$@"; do
  if [ "$first" = 1 ]; then set --; first=0; fi
  if [ "$swap" = 1 ]; then arg=$dst; swap=0; fi
  case "$arg" in
    -c|--config) swap=1 ;;
    --config=*) arg="--config=$dst" ;;
  esac
  set -- "$@" "$arg"
done

case "${1:-}" in
  serve) ;;
  *) exec tally "$@" ;;
esac

child=''
forward() { if [ -n "$child" ]; then kill "-$1" "$child" 2>/dev/null || true; fi; }
reload() {
  if render; then forward HUP; else log "reload skipped: could not render $src"; fi
}
trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'reload' HUP

tally "$@" &
child=$!
while :; do
  rc=0
  wait "$child" || rc=$?
  # wait returns early (status > 128) when a trapped signal arrives; go on while tally runs.
  if kill -0 "$child" 2>/dev/null; then continue; fi
  exit "$rc"
done
