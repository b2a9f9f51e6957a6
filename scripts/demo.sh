#!/usr/bin/env bash
# README command 1: install what is missing, build, run `tally demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
TALLY_BUILD_DIR=${TALLY_BUILD_DIR:-build} scripts/build.sh -DTALLY_BUILD_TESTS=OFF
exec "${TALLY_BUILD_DIR:-build}/proxy/tally" demo
