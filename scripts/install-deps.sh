#!/usr/bin/env bash
# Installs the Debian 12 packages tally builds with (SPEC.md "Dependencies") and the tools its
# tests and benchmarks use. Safe to run repeatedly: it only installs what is missing.
set -euo pipefail

build_pkgs=(g++ cmake ninja-build pkg-config ccache
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libyaml-cpp-dev prometheus-cpp-dev doctest-dev libssl-dev)
# clang + libclang-rt-14-dev: scripts/fuzz.sh (libFuzzer and the sanitizer runtimes live in
# libclang-rt-14-dev, which clang only recommends); clang-tidy-16, not Debian 12's default 14:
# see scripts/tidy.sh. etcd-server and etcd-client: the discovery tests start a real etcd.
test_pkgs=(curl procps iproute2 prometheus shellcheck systemd clang libclang-rt-14-dev
  clang-format clang-tidy-16 python3 etcd-server etcd-client)
bench_pkgs=(wrk haproxy nginx-light util-linux)

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${test_pkgs[@]}") ;;
  bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run this script as root (or install them with apt-get)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends keeps prometheus from pulling in node-exporter and friends.
apt-get install -y -qq --no-install-recommends "${missing[@]}"
