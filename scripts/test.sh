#!/usr/bin/env bash
# README command 2: install what is missing, build, run every test.
# TALLY_SANITIZE=1 builds into build-asan with AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
if [ "${TALLY_SANITIZE:-0}" = 1 ]; then
  export TALLY_BUILD_DIR=${TALLY_BUILD_DIR:-build-asan}
  scripts/build.sh -DTALLY_BUILD_TESTS=ON -DTALLY_SANITIZE=ON
else
  export TALLY_BUILD_DIR=${TALLY_BUILD_DIR:-build}
  scripts/build.sh -DTALLY_BUILD_TESTS=ON -DTALLY_SANITIZE=OFF
fi
cd "$TALLY_BUILD_DIR"
ctest --output-on-failure --timeout 300 -j 2
