#!/usr/bin/env bash
# Fails, listing them, when tracked C++ files differ from what clang-format (.clang-format) makes
# of them. `scripts/check-format.sh --fix` rewrites them instead.
set -euo pipefail
cd "$(dirname "$0")/.."
clang_format=${CLANG_FORMAT:-clang-format}
mapfile -t files < <(git ls-files -- '*.cpp' '*.hpp' '*.h')
if [ "${1:-}" = --fix ]; then
  printf '%s\0' "${files[@]}" | xargs -0 -r "$clang_format" -i
  exit 0
fi
# One clang-format process for all files: it reports each violation as "file:line:col: error:".
report=$(printf '%s\0' "${files[@]}" | xargs -0 "$clang_format" --dry-run --Werror 2>&1) || true
mapfile -t bad < <(grep -oE '^[^:]+:[0-9]+:[0-9]+: error' <<<"$report" | cut -d: -f1 | sort -u)
if [ ${#bad[@]} -eq 0 ] && [ -n "$report" ]; then
  echo "check-format: clang-format failed:" >&2
  echo "$report" >&2
  exit 1
fi
if [ ${#bad[@]} -ne 0 ]; then
  echo "check-format: ${#bad[@]} file(s) not clang-formatted (fix: scripts/check-format.sh --fix):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"
