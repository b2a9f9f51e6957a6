#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) over the project's sources listed in $TALLY_BUILD_DIR
# (default build)/compile_commands.json, two files at a time; any finding fails.
#
#   TALLY_TIDY_EXCLUDE="proxy tests"   top-level folders to skip, their headers included
#   TALLY_TIDY_JOBS=2                  parallel clang-tidy processes [nproc]
#   CLANG_TIDY=clang-tidy-16           the binary
#
# clang-tidy 16, not Debian 12's default 14: clang 14 rejects lambdas capturing structured
# bindings (valid C++20, used across tally), so 14 reports compile errors instead of findings.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${TALLY_BUILD_DIR:-build}
clang_tidy=${CLANG_TIDY:-clang-tidy-16}
jobs=${TALLY_TIDY_JOBS:-$(nproc)}
root=$PWD
[ -f "$build_dir/compile_commands.json" ] ||
  { echo "tidy: no $build_dir/compile_commands.json; configure first (scripts/build.sh)" >&2; exit 1; }

dirs=()
for d in common config balancer tls health cluster discovery proxy tests; do
  [[ " ${TALLY_TIDY_EXCLUDE:-} " == *" $d "* ]] || dirs+=("$d")
done
[ ${#dirs[@]} -ne 0 ] || { echo "tidy: everything excluded" >&2; exit 1; }
dir_regex=$(IFS='|'; echo "${dirs[*]}")

# Sources from the compile database (generated files and anything outside the listed folders are
# not ours); headers only from the same folders, so Boost and excluded folders stay quiet.
mapfile -t files < <(python3 - "$build_dir/compile_commands.json" "$root" "$dir_regex" <<'PY'
import json, os, re, sys
db, root, dirs = sys.argv[1], sys.argv[2], sys.argv[3]
pattern = re.compile(r'^(%s)/' % dirs)
seen = set()
for entry in json.load(open(db)):
    path = os.path.relpath(os.path.join(entry['directory'], entry['file']), root)
    if pattern.match(path) and path not in seen:
        seen.add(path)
        print(path)
PY
)
[ ${#files[@]} -ne 0 ] || { echo "tidy: no sources of ($dir_regex) in $build_dir" >&2; exit 1; }
header_filter="^${root}/(${dir_regex})/"

echo "tidy: ${#files[@]} files of ${dirs[*]} with $($clang_tidy --version | grep -o 'version [0-9.]*'), $jobs jobs"
# Each file's report is printed in one piece so parallel runs do not interleave.
export clang_tidy build_dir header_filter
status=0
printf '%s\0' "${files[@]}" | xargs -0 -n 1 -P "$jobs" bash -c '
  # -fsized-deallocation: GCC, which the database was made for, has it on in C++14 and later;
  # clang 16 does not, and rejects the sized operator delete that GCC accepts.
  out=$("$clang_tidy" -p "$build_dir" --quiet --header-filter="$header_filter" \
    --extra-arg=-fsized-deallocation "$1" 2>&1) && rc=0 || rc=$?
  # clang-tidy counts warnings it suppressed in headers outside the filter; not findings.
  out=$(grep -vE "^[0-9]+ (warning|error)s? generated\.$" <<<"$out" || true)
  if [ "$rc" -ne 0 ] || [ -n "$out" ]; then printf "%s\n" "$out"; exit 1; fi' _ || status=$?
if [ "$status" -ne 0 ]; then
  echo "tidy: findings above (WarningsAsErrors in .clang-tidy)" >&2
  exit 1
fi
echo "tidy: no findings"
