#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.cpp) with clang-19 in
# build-fuzz and runs each one for FUZZ_SECONDS (default 20) over a seed
# corpus. Exits non-zero when a target crashes, leaks, hits undefined
# behavior or fails to build.
#
#   scripts/fuzz.sh                 # every target
#   scripts/fuzz.sh fuzz_ir_parser  # only the named ones
#   FUZZ_SECONDS=300 scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=$root/build-fuzz
seconds=${FUZZ_SECONDS:-20}
jobs=${FUZZ_BUILD_JOBS:-2}

if (($#)); then
  targets=("$@")
else
  targets=()
  for src in tests/fuzz/fuzz_*.cpp; do
    [[ -e $src ]] && targets+=("$(basename "$src" .cpp)")
  done
fi
if ((${#targets[@]} == 0)); then
  echo "fuzz: no targets in tests/fuzz" >&2
  exit 1
fi

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build" -G Ninja -DKILN_FUZZ=ON "${launcher[@]}" \
  -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 >/dev/null
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

# Seeds: each `// -----` chunk of the lit tests for the text parser, the .onnx
# files under tests/ for ONNX targets, and tests/fuzz/corpus/<target>/ for any
# (the artifact reader's seeds are small .kiln files there).
seed_corpus() {
  local name=$1 dir=$2
  if [[ -d tests/fuzz/corpus/$name ]]; then
    cp -r "tests/fuzz/corpus/$name/." "$dir/"
  fi
  case $name in
    *onnx*)
      find tests -name '*.onnx' -size -1024k -print0 |
        while IFS= read -r -d '' f; do cp "$f" "$dir/$(echo "$f" | tr / _)"; done
      ;;
    *ir_parser*)
      find tests/lit -name '*.kir' -print0 |
        while IFS= read -r -d '' f; do
          awk -v out="$dir/$(echo "$f" | tr / _)" \
            '/^\/\/ -----[[:space:]]*$/ { n++; next } { print > (out "." n) }' "$f"
        done
      ;;
  esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
for name in "${targets[@]}"; do
  corpus=$build/corpus/$name
  artifacts=$build/artifacts/$name
  mkdir -p "$corpus" "$artifacts"
  seed_corpus "$name" "$corpus"
  dict=()
  [[ -f tests/fuzz/$name.dict ]] && dict=(-dict="tests/fuzz/$name.dict")
  echo "fuzz: $name for ${seconds}s ($(ls "$corpus" | wc -l) inputs in corpus)"
  if ! "$build/bin/$name" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$artifacts/" \
      "$corpus" 2>"$build/$name.log"; then
    echo "fuzz: $name FAILED; last lines of $build/$name.log:" >&2
    tail -40 "$build/$name.log" >&2
    status=1
  else
    grep -a -E '^stat::number_of_executed_units' "$build/$name.log" || true
  fi
done
exit $status
