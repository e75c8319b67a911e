#!/usr/bin/env bash
# Runs every test suite against the build in $1 and prints one summary line per
# suite, then the total. Exits non-zero if any suite failed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/bin
PY=.venv/bin/python
export KILN_BUILD_DIR=$PWD/$BUILD
NODE_DATA=$($PY -c 'import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), "backend/test/data/node"))')
LOGS=$BUILD/test-logs
mkdir -p "$LOGS"

passed=0 failed=0 skipped=0 bad_suites=()
record() { # suite passed failed skipped status
  printf '%-18s %5d passed, %d failed, %d skipped\n' "$1:" "$2" "$3" "$4"
  passed=$((passed + $2)); failed=$((failed + $3)); skipped=$((skipped + $4))
  if [[ $5 -ne 0 || $3 -ne 0 ]]; then bad_suites+=("$1"); fi
}
num() { grep -oE "$1" "$2" | grep -oE '[0-9]+' | tail -1 || true; }

echo "== formatting (clang-format-19 --dry-run --Werror)"
scripts/check-format.sh >"$LOGS/format.log" 2>&1; st=$?
cat "$LOGS/format.log"
n=$(num '[0-9]+ files checked' "$LOGS/format.log"); f=$(num '[0-9]+ unformatted' "$LOGS/format.log")
record format "$(( ${n:-0} - ${f:-0} ))" "${f:-0}" 0 $st

echo "== unit tests (GoogleTest)"
"$BIN/kiln-unittests" --gtest_brief=1 >"$LOGS/unit.log" 2>&1; st=$?
tail -n 20 "$LOGS/unit.log" | grep -E 'FAILED|PASSED' || true
p=$(num '\[  PASSED  \] [0-9]+' "$LOGS/unit.log"); f=$(num '\[  FAILED  \] [0-9]+ test' "$LOGS/unit.log")
record unit "${p:-0}" "${f:-0}" 0 $st

echo "== lit tests"
.venv/bin/lit -sv tests/lit >"$LOGS/lit.log" 2>&1; st=$?
grep -E '^(FAIL|XPASS|UNRESOLVED):' "$LOGS/lit.log" || true
p=$(num 'Passed *: *[0-9]+' "$LOGS/lit.log"); f=$(num 'Failed *: *[0-9]+' "$LOGS/lit.log")
u=$(num 'Unsupported *: *[0-9]+' "$LOGS/lit.log")
record lit "${p:-0}" "${f:-0}" "${u:-0}" $st

echo "== ONNX backend node tests (reference executor)"
"$BIN/kiln-onnx-node-tests" "$NODE_DATA" >"$LOGS/node.log" 2>&1; st=$?
grep -E '^(FAIL|onnx node tests)' "$LOGS/node.log" || true
p=$(num '[0-9]+ passed' "$LOGS/node.log"); f=$(num '[0-9]+ failed' "$LOGS/node.log")
u=$(num '[0-9]+ unsupported' "$LOGS/node.log")
record onnx-node "${p:-0}" "${f:-0}" "${u:-0}" $st

echo "== exported models vs onnxruntime"
$PY tests/models/check_models.py --kiln "$BIN/kiln" --real-minilm "$BUILD/models/all-MiniLM-L6-v2.onnx" >"$LOGS/models.log" 2>&1; st=$?
cat "$LOGS/models.log"
p=$(num '[0-9]+ passed' "$LOGS/models.log"); f=$(num '[0-9]+ failed' "$LOGS/models.log")
x=$(num '[0-9]+ xfail' "$LOGS/models.log")
record models "${p:-0}" "${f:-0}" "${x:-0}" $st

echo "== optimization keeps meaning (fixtures x pipelines)"
$PY tests/models/check_pipelines.py --kiln "$BIN/kiln" --kiln-opt "$BIN/kiln-opt" >"$LOGS/pipelines.log" 2>&1; st=$?
grep -E '^(FAIL|XPASS|pipeline tests)' "$LOGS/pipelines.log" || true
p=$(num '[0-9]+ passed' "$LOGS/pipelines.log"); f=$(num '[0-9]+ failed' "$LOGS/pipelines.log")
x=$(num '[0-9]+ xfail' "$LOGS/pipelines.log")
record pipelines "${p:-0}" "${f:-0}" "${x:-0}" $st

echo "== structured pruning is exact (pruned fixtures)"
$PY tests/models/check_pruning.py --kiln "$BIN/kiln" --kiln-opt "$BIN/kiln-opt" >"$LOGS/pruning.log" 2>&1; st=$?
grep -E '^(FAIL|XPASS|pruning tests)' "$LOGS/pruning.log" || true
p=$(num '[0-9]+ passed' "$LOGS/pruning.log"); f=$(num '[0-9]+ failed' "$LOGS/pruning.log")
x=$(num '[0-9]+ xfail' "$LOGS/pruning.log"); s=$(num '[0-9]+ skipped' "$LOGS/pruning.log")
record pruning "${p:-0}" "${f:-0}" "$(( ${x:-0} + ${s:-0} ))" $st

echo "== fuzzers (bounded)"
if FUZZ_SECONDS=${FUZZ_SECONDS:-15} scripts/fuzz.sh >"$LOGS/fuzz.log" 2>&1; then
  grep -E '^(fuzz:|stat::number_of_executed_units)' "$LOGS/fuzz.log" || true
  n=$(grep -c '^stat::number_of_executed_units' "$LOGS/fuzz.log" || true); record fuzz "${n:-0}" 0 0 0
else
  tail -n 30 "$LOGS/fuzz.log"; record fuzz 0 1 0 1
fi

echo "== tokenizer vs the tokenizers package (exactness corpus)"
$PY tests/tokenizer/check_exactness.py --kiln "$BIN/kiln" >"$LOGS/tokenizer.log" 2>&1; st=$?
grep -E 'strings equal|MISMATCH|^error' "$LOGS/tokenizer.log" || true
p=$(num '[0-9]+ passed' "$LOGS/tokenizer.log"); f=$(num '[0-9]+ failed' "$LOGS/tokenizer.log")
record tokenizer "${p:-0}" "${f:-0}" 0 $st

echo "== text in, embeddings out: kiln embed, installed C and C++ APIs vs onnxruntime"
$PY tests/text/check_text.py --build "$BUILD" --model "$BUILD/models/all-MiniLM-L6-v2.onnx" >"$LOGS/text.log" 2>&1; st=$?
grep -E '^(FAIL|text tests)' "$LOGS/text.log" || true
p=$(num '[0-9]+ passed' "$LOGS/text.log"); f=$(num '[0-9]+ failed' "$LOGS/text.log")
record text "${p:-0}" "${f:-0}" 0 $st

echo "== kiln serve (HTTP on loopback, CPU backend, openai client, soak)"
$PY tests/serve/check_serve.py --kiln "$BIN/kiln" --soak "${SERVE_SOAK:-20000}" >"$LOGS/serve.log" 2>&1; st=$?
grep -E '^(FAIL|soak:|serve tests)' "$LOGS/serve.log" || true
p=$(num '[0-9]+ passed' "$LOGS/serve.log"); f=$(num '[0-9]+ failed' "$LOGS/serve.log")
record serve "${p:-0}" "${f:-0}" 0 $st

echo "== Python package (pip install . into .venv, then pytest tests/python)"
# build-python (pyproject.toml's build-dir) keeps the build between runs;
# ccache, when present, makes a fresh one quick.
launcher=(); command -v ccache >/dev/null && launcher=(-Ccmake.define.CMAKE_CXX_COMPILER_LAUNCHER=ccache -Ccmake.define.CMAKE_C_COMPILER_LAUNCHER=ccache)
start=$SECONDS
if CMAKE_BUILD_PARALLEL_LEVEL=${JOBS:-$(nproc)} $PY -m pip install --disable-pip-version-check -q "${launcher[@]}" . >"$LOGS/python-build.log" 2>&1; then
  echo "pip install .: $((SECONDS - start)) s"
  $PY -m pytest -q -p no:cacheprovider tests/python >"$LOGS/python.log" 2>&1; st=$?
  grep -E '^(FAILED|ERROR)|[0-9]+ (passed|failed)' "$LOGS/python.log" || true
  p=$(num '[0-9]+ passed' "$LOGS/python.log"); f=$(num '[0-9]+ failed' "$LOGS/python.log")
  e=$(num '[0-9]+ errors?' "$LOGS/python.log"); s=$(num '[0-9]+ skipped' "$LOGS/python.log")
  record python "${p:-0}" "$(( ${f:-0} + ${e:-0} ))" "${s:-0}" $st
else
  tail -n 30 "$LOGS/python-build.log"; record python 0 1 0 1
fi

echo "== GPU tests (kernels compiled with NVRTC here; run only where a GPU is)"
"$BIN/kiln-gpu-tests" --gtest_brief=1 >"$LOGS/gpu.log" 2>&1; st=$?
grep -E '^\[  FAILED' "$LOGS/gpu.log" || true
p=$(num '\[  PASSED  \] [0-9]+' "$LOGS/gpu.log"); f=$(num '\[  FAILED  \] [0-9]+ test' "$LOGS/gpu.log")
u=$(num '\[  SKIPPED \] [0-9]+' "$LOGS/gpu.log")
why=$(grep -m1 -oE 'not run: .*' "$LOGS/gpu.log" || true)
[[ -n $why ]] && echo "gpu: ${u:-0} tests compiled their kernels and skipped the run: ${why#not run: }"
record gpu "${p:-0}" "${f:-0}" "${u:-0}" $st

echo
echo "logs in $LOGS"
echo "total: $passed passed, $failed failed, $skipped skipped"
if ((${#bad_suites[@]})); then
  echo "failing suites: ${bad_suites[*]}"
  exit 1
fi
