#!/usr/bin/env bash
# Checks the deployment files without a Docker engine or a Kubernetes cluster: the alert rules
# and their unit tests (promtool), the Prometheus config, the shell scripts (shellcheck), the
# systemd unit (systemd-analyze), and every shipped config (tally check). The same checks, and
# more, run in ctest as tests/docs; this script is for a quick look while editing docker/,
# packaging/ or examples/.
#
#   scripts/check-deploy.sh [path/to/tally]    # default: build/proxy/tally
set -euo pipefail
cd "$(dirname "$0")/.."
tally=${1:-build/proxy/tally}
failed=0
step() { printf '== %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; failed=1; }
need() { command -v "$1" >/dev/null || { fail "$1 is missing (scripts/install-deps.sh test)"; return 1; }; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if need promtool; then
  step "promtool: alert rules, their tests, prometheus.yml"
  promtool check rules docker/prometheus/alerts.yml || fail "promtool check rules"
  promtool test rules docker/prometheus/alerts.test.yml || fail "promtool test rules"
  sed "s|/etc/prometheus/alerts.yml|$PWD/docker/prometheus/alerts.yml|" docker/prometheus.yml >"$tmp/prometheus.yml"
  promtool check config "$tmp/prometheus.yml" || fail "promtool check config"
fi

if need shellcheck; then
  step "shellcheck"
  shellcheck docker/tally-healthcheck.sh scripts/check-deploy.sh || fail "shellcheck"
fi

if need systemd-analyze; then
  step "systemd-analyze verify packaging/tally.service.in"
  # The unit names the installed binary; verify needs an executable there, so use /bin/true.
  sed -e 's|@TALLY_BIN@|/bin/true|g' -e 's|@TALLY_CONFIG_FILE@|/etc/tally/tally.yaml|g' \
    -e 's|@TALLY_CONFIG_DIR@|/etc/tally|g' packaging/tally.service.in >"$tmp/tally.service"
  out=$(systemd-analyze verify "$tmp/tally.service" 2>&1) || fail "systemd-analyze verify"
  if [ -n "$out" ]; then printf '%s\n' "$out"; fail "systemd-analyze verify has warnings"; fi
  systemd-analyze security --offline=yes "$tmp/tally.service" | tail -n 1
fi

if [ -x "$tally" ]; then
  step "tally check: examples/, docker/, packaging/"
  for f in examples/*.yaml docker/tally*.yaml packaging/tally.yaml; do
    TALLY_ADMIN_TOKEN=check-deploy "$tally" check -c "$f" >/dev/null || {
      TALLY_ADMIN_TOKEN=check-deploy "$tally" check -c "$f" || true
      fail "$f"
    }
  done
else
  printf 'skipping tally check: no %s (build first, or pass the binary)\n' "$tally"
fi

if [ "$failed" = 0 ]; then echo "check-deploy: all good"; fi
exit "$failed"
