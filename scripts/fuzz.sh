#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz with clang into ./build-fuzz (or
# $TALLY_FUZZ_BUILD_DIR) and runs them on a scratch copy of their seed corpus, so the checkout
# stays clean. Exits non-zero when a harness crashes, hangs or breaks an invariant; the input is
# saved under build-fuzz/artifacts/ (reproduce with: build-fuzz/tests/fuzz/fuzz_NAME FILE).
#
#   scripts/fuzz.sh NAME SECONDS   fuzz one harness (request_head chunked_body response_head
#                                  config cluster_message checkpoint)
#   scripts/fuzz.sh all SECONDS    fuzz each in turn; fails if any failed
#   scripts/fuzz.sh regress        replay tests/fuzz/regressions/NAME/* with TALLY_FUZZ_STRICT=1
#                                  (known findings: fails until the product is fixed)
# Extra libFuzzer flags can be given in $TALLY_FUZZ_FLAGS (e.g. "-jobs=2 -workers=2").
set -euo pipefail
cd "$(dirname "$0")/.."

names=(request_head chunked_body response_head config cluster_message checkpoint)
usage() {
  echo "usage: $0 {NAME|all} SECONDS | $0 regress   (NAME: ${names[*]})" >&2
  exit 2
}
[ $# -ge 1 ] || usage
what=$1
seconds=${2:-}
case "$what" in
  regress) ;;
  all) [[ "$seconds" =~ ^[0-9]+$ ]] || usage ;;
  *)
    [[ " ${names[*]} " == *" $what "* ]] || usage
    [[ "$seconds" =~ ^[0-9]+$ ]] || usage
    ;;
esac

command -v clang++ >/dev/null || {
  echo "fuzz: clang++ not found; run scripts/install-deps.sh test" >&2
  exit 1
}
build_dir=${TALLY_FUZZ_BUILD_DIR:-build-fuzz}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
CC=clang CXX=clang++ cmake -S . -B "$build_dir" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTALLY_FUZZ=ON -DTALLY_BUILD_TESTS=OFF >/dev/null
if [ "$what" = all ] || [ "$what" = regress ]; then
  targets=(fuzzers)
else
  targets=("fuzz_$what")
fi
cmake --build "$build_dir" -j "$(nproc)" --target "${targets[@]}"

artifacts=$PWD/$build_dir/artifacts
mkdir -p "$artifacts"
# Sanitizer reports end the run with a non-zero status; no leak is tolerated either.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Replays the saved reproducers of NAME one by one; fails when any still fails.
regress_one() {
  local name=$1 file status=0
  for file in tests/fuzz/regressions/"$name"/*; do
    [ -f "$file" ] || continue
    if TALLY_FUZZ_STRICT=1 "$build_dir/tests/fuzz/fuzz_$name" \
      -artifact_prefix="$artifacts/regress-" "$file" >"$artifacts/regress.log" 2>&1; then
      echo "== fuzz: $file: passes"
    else
      echo "== fuzz: $file: FAILS: $(grep -m1 'invariant violated\|ERROR:' "$artifacts/regress.log")"
      status=1
    fi
  done
  return "$status"
}

fuzz_one() {
  local name=$1 seconds=$2 work status=0
  work=$(mktemp -d "${TMPDIR:-/tmp}/tally-fuzz-$name.XXXXXX")
  mkdir -p "$work/corpus"
  cp -r "tests/fuzz/corpus/$name/." "$work/corpus/"
  echo "== fuzz: $name for ${seconds}s ($(find "$work/corpus" -type f | wc -l) seeds)"
  # -timeout: one input running 10 s is a hang; -max_len: room for the largest seeds.
  # shellcheck disable=SC2086
  "$build_dir/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=16384 -print_final_stats=1 -artifact_prefix="$artifacts/$name-" \
    ${TALLY_FUZZ_FLAGS:-} "$work/corpus" || status=$?
  rm -rf "$work"
  if [ "$status" -ne 0 ]; then
    echo "== fuzz: $name FAILED (exit $status); input saved in $artifacts/" >&2
  fi
  return "$status"
}

failed=()
case "$what" in
  regress)
    for n in "${names[@]}"; do regress_one "$n" || failed+=("$n"); done
    ;;
  all)
    for n in "${names[@]}"; do fuzz_one "$n" "$seconds" || failed+=("$n"); done
    ;;
  *)
    fuzz_one "$what" "$seconds" || failed+=("$what")
    ;;
esac
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
