#!/usr/bin/env bash
# Fails, listing the files, when clang-format-19 would change any tracked C++
# or CUDA source. `make format` fixes them. The style is .clang-format's.
set -uo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cpp' '*.h' '*.cuh')
if ! command -v clang-format-19 >/dev/null; then
  echo "format: clang-format-19 not found (scripts/deps.sh installs it)" >&2
  exit 1
fi
bad=()
for f in $files; do
  clang-format-19 --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
echo "format: $(echo "$files" | wc -w) files checked, ${#bad[@]} unformatted"
if ((${#bad[@]})); then
  printf '  %s\n' "${bad[@]}"
  echo "format: run 'make format'" >&2
  exit 1
fi
