#!/usr/bin/env bash
# kiln's checks on a GPU machine: the GPU test suite, compute-sanitizer, the
# embeddings against onnxruntime, and the benchmark against PyTorch.
#
#   scripts/gpu-check.sh [BUILD_DIR [SMALL_MODEL]]
#
# BUILD_DIR (else $KILN_BUILD, else .carry; relative to the repository root)
# holds the carried binaries: kiln, kiln-gpu-tests, and kiln-unittests if
# carried. SMALL_MODEL (else $SMALL_MODEL) is what the sanitizers run: a .kiln
# artifact, or an .onnx file compiled here first (inputs: $SMALL_INPUTS, else
# made by minilm.py with SMALL_INPUT_ARGS). Without one they run the MiniLM
# fp16 artifact compiled here, on padded SANITIZE_BATCH x 128 inputs.
#
# Every step logs to $OUT/logs/STEP.log; a failed step does not stop the
# later ones (those that need its files say so and are skipped). At the end
# the logs are packed into $OUT/logs.tar.gz (the device tool brings back at
# most 8 files), and the benchmark summary and one table of the steps are
# printed last. Exit status 1 when a step failed, timed out or found no time.
#
# Environment, all optional:
#   OUT             report folder (default ./gpu-report): summary.txt,
#                   benchmarks.md, kiln-bench.json, peers.json,
#                   gtest-gpu.json, logs.tar.gz
#   STEPS           the steps to run, space-separated (default: all, in the
#                   order of ALL_STEPS below)
#   DEADLINE_S      no step starts later than this many seconds after the
#                   start and a running one is cut short to fit (default 560:
#                   the device tool stops a command at 600 s)
#   MINILM_WEIGHTS  random | nontrivial | PATH, for minilm.py (default
#                   nontrivial: no zero biases, no unit LayerNorm scales)
#   REAL_WEIGHTS    a checkpoint of the real all-MiniLM-L6-v2 (a folder or a
#                   .safetensors file, fp16 is fine: minilm.py save-fp16);
#                   the step check-real needs it
#   NODE_DATA       onnx's backend/test/data/node folder, for the step node
#                   (the GPU machine's onnx has none: carry it)
#   PYTHON          (default python3)
#   WORK            scratch folder (default /tmp/kiln-gpu-check)
set -u
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.." || exit 1
set -a # everything below reaches the steps, which run in child shells

#--- kiln's command line: the one place to change it ------------------------
KILN_COMPILE_ARGS=${KILN_COMPILE_ARGS:-} # extra flags for every compile, e.g. --arch sm_90a
KILN_RUN_ARGS=${KILN_RUN_ARGS:-}
KILN_BENCH_ARGS=${KILN_BENCH_ARGS:-} # e.g. warm-up and iteration counts
KILN_PREFIX=""     # set per call: the sanitizer command that wraps kiln run
kiln_compile() { # MODEL.onnx OUT.kiln BATCHES SEQ PRECISION
  "$KILN" compile "$1" -o "$2" --batch "$3" --seq "$4" --precision "$5" $KILN_COMPILE_ARGS
}
kiln_run() { # MODEL.kiln INPUTS.npz OUTPUTS.npz
  $KILN_PREFIX "$KILN" run "$1" --inputs "$2" --output "$3" $KILN_RUN_ARGS
}
kiln_bench() { # MODEL.kiln SHAPES OUT.json
  "$KILN" bench "$1" --shapes "$2" --json "$3" $KILN_BENCH_ARGS
}

#--- what is checked and measured ---------------------------------------------
BUILD=${1:-${KILN_BUILD:-.carry}}
SMALL_MODEL=${2:-${SMALL_MODEL:-}}
SMALL_INPUTS=${SMALL_INPUTS:-}
SMALL_BUCKETS=${SMALL_BUCKETS:-2} SMALL_SEQ=${SMALL_SEQ:-16} # when SMALL_MODEL is an .onnx file
SMALL_INPUT_ARGS=${SMALL_INPUT_ARGS:-"--batch 2 --seq 16 --padded --id-range 5:250"}
SANITIZE_BATCH=${SANITIZE_BATCH:-2}
OUT=${OUT:-./gpu-report}
WORK=${WORK:-/tmp/kiln-gpu-check}
PY=${PYTHON:-python3}
DEADLINE_S=${DEADLINE_S:-560}
MINILM_WEIGHTS=${MINILM_WEIGHTS:-nontrivial}
REAL_WEIGHTS=${REAL_WEIGHTS:-}
# The benchmark: shapes, and the batch buckets of the seq-128 artifact (the
# cold/warm compile time is measured on it). Every other seq in BENCH_SHAPES
# gets an artifact with that seq's batches as buckets.
BENCH_SHAPES=${BENCH_SHAPES:-1x128,32x128,128x128,256x128,256x32}
BENCH_BUCKETS=${BENCH_BUCKETS:-1,8,32,128,256}
BENCH_SEQ=${BENCH_SEQ:-128}
PEERS_ARGS=${PEERS_ARGS:-"--device cuda --precision fp16 --warmup 5 --iters 50"}
# The embeddings checks: padded inputs at seq 128; batches that hit a bucket,
# fall between buckets (padded up) and exceed the largest (split).
CHECK_BATCHES_FP16=${CHECK_BATCHES_FP16:-"1 5 32 300"}
CHECK_BUCKETS_FP32=${CHECK_BUCKETS_FP32:-1,8,32}
CHECK_BATCHES_FP32=${CHECK_BATCHES_FP32:-"1 5 32 40"}
FP16_LIMITS=${FP16_LIMITS:-"--min-cos 0.9999 --max-abs 2e-3"}
FP32_LIMITS=${FP32_LIMITS:-"--min-cos 0.99999 --max-abs 1e-4"}
SANITIZER_TOOLS=${SANITIZER_TOOLS:-"memcheck racecheck"}
SANITIZER_ARGS=${SANITIZER_ARGS:-"--error-exitcode 86 --print-limit 50"}
SANITIZER=${COMPUTE_SANITIZER:-$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)}
GPU_TEST_ARGS=${GPU_TEST_ARGS:-}
ALL_STEPS="env gpu-tests node model compile-cold compile-warm compile-more check-fp16 check-fp32
  check-real $SANITIZER_TOOLS bench-kiln bench-peers report unit"
STEPS=${STEPS:-$ALL_STEPS}

#--- derived -------------------------------------------------------------------
[[ -d $BUILD ]] && BUILD=$(cd "$BUILD" && pwd)
KILN=$BUILD/kiln
REPO=$(pwd)
BENCH=$REPO/scripts/bench
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
LOGS=$OUT/logs
NOTES=$WORK/notes
KILN_CACHE_DIR=$WORK/kiln-cache
ONNX=$WORK/minilm.onnx
ART_FP16=$WORK/minilm-fp16-s$BENCH_SEQ.kiln
ART_FP32=$WORK/minilm-fp32-s$BENCH_SEQ.kiln
SMALL_ART=$WORK/small.kiln
set +a
rm -rf "$LOGS" "$NOTES" "$OUT/logs.tar.gz" "$OUT/summary.txt"
mkdir -p "$LOGS" "$NOTES" "$WORK"

#--- helpers the steps use -------------------------------------------------------
note() { echo "$*" >"$NOTE_FILE"; }
# Exit status 77 marks a step skipped for want of an earlier step's file.
need() {
  local f
  for f; do
    [[ -e $f ]] || { note "skipped: needs $f (an earlier step failed or did not run)"; exit 77; }
  done
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# The seqs in BENCH_SHAPES, and the batches of one of them.
bench_seqs() { tr , '\n' <<<"$BENCH_SHAPES" | cut -dx -f2 | sort -un; }
batches_at() { tr , '\n' <<<"$BENCH_SHAPES" | awk -F x -v s="$1" '$2 == s { print $1 }' | paste -sd,; }
shapes_at() { tr , '\n' <<<"$BENCH_SHAPES" | awk -F x -v s="$1" '$2 == s' | paste -sd,; }
artifact_for_seq() { [[ $1 == "$BENCH_SEQ" ]] && echo "$ART_FP16" || echo "$WORK/minilm-fp16-s$1.kiln"; }
gtest_note() { # LOG: gtest's closing counts
  grep -E '^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+ test' "$1" | tr -s ' ' | paste -sd' ' | cut -c1-150
}
# Runs kiln and the comparison for each batch; the note gives the worst case.
check_batches() { # LABEL ARTIFACT "BATCHES" LIMITS ONNX
  local label=$1 art=$2 batches=$3 limits=$4 onnx=$5 b failed=""
  need "$onnx" "$art"
  for b in $batches; do
    need "$WORK/in-b$b.npz"
    echo "--- $label batch $b"
    if ! kiln_run "$art" "$WORK/in-b$b.npz" "$WORK/out-$label-b$b.npz"; then
      failed+=" b$b(run)"
      continue
    fi
    "$PY" "$BENCH/check_embeddings.py" --onnx "$onnx" --inputs "$WORK/in-b$b.npz" \
      --actual "$WORK/out-$label-b$b.npz" $limits --label "$label b$b" \
      --json "$LOGS/check-$label-b$b.json" || failed+=" b$b"
  done
  "$PY" - "$LOGS" "$label" >"$NOTE_FILE" <<'EOF'
import glob, json, sys
paths = glob.glob(f"{sys.argv[1]}/check-{sys.argv[2]}-b*.json")
res = [o for p in paths for o in json.load(open(p))["outputs"].values()]
if res:
    print(f"{len(res)} compared: min cos {min(r['min_cos'] for r in res):.7f}, "
          f"max abs {max(r['max_abs'] for r in res):.2e}", end="")
EOF
  [[ -z $failed ]] && return 0
  echo "; FAILED:$failed" >>"$NOTE_FILE"
  return 1
}

#--- the steps ---------------------------------------------------------------------
step_env() {
  nvidia-smi -L || return 1
  nvidia-smi -L | head -n 1 | sed 's/ (UUID.*//' >"$NOTE_FILE"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw,power.limit --format=csv
  nvidia-smi
  "$PY" -c 'import torch, transformers, onnx, onnxruntime, numpy
print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__,
      "onnx", onnx.__version__, "onnxruntime", onnxruntime.__version__, "numpy", numpy.__version__)'
  ls -la "$BUILD"
  echo "sanitizer: $SANITIZER"
  echo "revision: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
}

# The ONNX backend node tests on the GPU (each op's own kernel against the
# expected outputs); NODE_DATA is onnx's backend/test/data/node folder,
# which the GPU machine's onnx package does not ship: carry it.
step_node() {
  [[ -n ${NODE_DATA:-} && -d ${NODE_DATA:-} ]] || { note "skipped: NODE_DATA not set (carry onnx/backend/test/data/node)"; return 77; }
  [[ -x $BUILD/kiln-onnx-node-tests ]] || { note "skipped: $BUILD/kiln-onnx-node-tests not carried"; return 77; }
  "$BUILD/kiln-onnx-node-tests" "$NODE_DATA" --gpu
  local rc=$?
  grep -m1 '^gpu node tests' "$LOGS/node.log" >"$NOTE_FILE"
  return $rc
}

step_unit() {
  [[ -x $BUILD/kiln-unittests ]] || { note "skipped: $BUILD/kiln-unittests not carried"; return 77; }
  "$BUILD/kiln-unittests" --gtest_output="json:$LOGS/gtest-unit.json"
  local rc=$?
  gtest_note "$LOGS/unit.log" >"$NOTE_FILE"
  return $rc
}

step_gpu_tests() {
  rm -f "$OUT/gtest-gpu.json"
  [[ -x $BUILD/kiln-gpu-tests ]] || { note "$BUILD/kiln-gpu-tests: missing or not executable"; return 1; }
  "$BUILD/kiln-gpu-tests" --gtest_output="json:$OUT/gtest-gpu.json" $GPU_TEST_ARGS
  local rc=$?
  gtest_note "$LOGS/gpu-tests.log" >"$NOTE_FILE"
  return $rc
}

step_model() {
  local t
  t=$(now)
  rm -f "$ONNX"
  # One Python process: importing torch and transformers takes seconds.
  "$PY" - "$BENCH" "$MINILM_WEIGHTS" "$ONNX" "$WORK" "$BENCH_SEQ" "$SANITIZE_BATCH" \
    $CHECK_BATCHES_FP16 $CHECK_BATCHES_FP32 <<'EOF' || return 1
import sys
bench, weights, onnx, work, seq, sanitize_batch, *batches = sys.argv[1:]
sys.path.insert(0, bench)
import minilm
minilm.export_onnx(minilm.build_model(weights), onnx)
for b in sorted(set(map(int, batches))):
    minilm.save_inputs(minilm.make_inputs(b, int(seq), seed=b, padded=True), f"{work}/in-b{b}.npz")
minilm.save_inputs(minilm.make_inputs(int(sanitize_batch), int(seq), seed=7, padded=True),
                   f"{work}/in-sanitize.npz")
print(f"wrote {onnx} and the inputs of batches {sorted(set(map(int, batches)))} at seq {seq}")
EOF
  note "weights $MINILM_WEIGHTS, $(($(stat -c %s "$ONNX") / 1000000)) MB ONNX, in $(since "$t") s"
}

step_compile_cold() {
  need "$ONNX"
  rm -rf "$KILN_CACHE_DIR" "$ART_FP16"
  local t
  t=$(now)
  kiln_compile "$ONNX" "$ART_FP16" "$BENCH_BUCKETS" "$BENCH_SEQ" fp16 || return 1
  note "buckets $BENCH_BUCKETS x seq $BENCH_SEQ fp16, empty cache: $(since "$t") s"
}

step_compile_warm() {
  need "$ONNX" "$ART_FP16"
  # The same command line (the artifact records it), so the bytes compare.
  local t cold=$WORK/minilm-fp16-cold.kiln
  mv "$ART_FP16" "$cold" || return 1
  t=$(now)
  kiln_compile "$ONNX" "$ART_FP16" "$BENCH_BUCKETS" "$BENCH_SEQ" fp16 || { mv "$cold" "$ART_FP16"; return 1; }
  local elapsed same="differs from the cold one"
  elapsed=$(since "$t")
  cmp -s "$ART_FP16" "$cold" && same="identical to the cold one"
  rm -f "$cold"
  note "same compile, warm cache: $elapsed s; artifact $same"
}

step_compile_more() {
  need "$ONNX"
  local s done="" failed=""
  for s in $(bench_seqs); do
    [[ $s == "$BENCH_SEQ" ]] && continue
    if kiln_compile "$ONNX" "$(artifact_for_seq "$s")" "$(batches_at "$s")" "$s" fp16; then
      done+=" fp16-s$s"
    else
      failed+=" fp16-s$s"
    fi
  done
  if kiln_compile "$ONNX" "$ART_FP32" "$CHECK_BUCKETS_FP32" "$BENCH_SEQ" fp32; then
    done+=" fp32-s$BENCH_SEQ"
  else
    failed+=" fp32-s$BENCH_SEQ"
  fi
  if [[ -n $SMALL_MODEL && $SMALL_MODEL == *.onnx ]]; then
    if kiln_compile "$SMALL_MODEL" "$SMALL_ART" "$SMALL_BUCKETS" "$SMALL_SEQ" fp16; then
      done+=" small"
    else
      failed+=" small"
    fi
  fi
  note "compiled:${done:- none}${failed:+; FAILED:$failed}"
  [[ -z $failed ]]
}

step_check_fp16() { check_batches fp16 "$ART_FP16" "$CHECK_BATCHES_FP16" "$FP16_LIMITS" "$ONNX"; }
step_check_fp32() { check_batches fp32 "$ART_FP32" "$CHECK_BATCHES_FP32" "$FP32_LIMITS" "$ONNX"; }

step_check_real() {
  [[ -n $REAL_WEIGHTS ]] || { note "skipped: REAL_WEIGHTS not set"; return 77; }
  local onnx=$WORK/minilm-real.onnx art=$WORK/minilm-real-fp16.kiln
  "$PY" "$BENCH/minilm.py" export --weights "$REAL_WEIGHTS" -o "$onnx" || return 1
  kiln_compile "$onnx" "$art" "$CHECK_BUCKETS_FP32" "$BENCH_SEQ" fp16 || return 1
  check_batches real-fp16 "$art" "$CHECK_BATCHES_FP32" "$FP16_LIMITS" "$onnx"
}

step_sanitize() { # TOOL
  local tool=$1 art=$ART_FP16 inputs=$WORK/in-sanitize.npz
  if [[ -n $SMALL_MODEL ]]; then
    art=$SMALL_MODEL
    [[ $SMALL_MODEL == *.onnx ]] && art=$SMALL_ART
    inputs=${SMALL_INPUTS:-$WORK/in-small.npz}
    if [[ -z $SMALL_INPUTS ]]; then
      "$PY" "$BENCH/minilm.py" inputs $SMALL_INPUT_ARGS --seed 7 -o "$inputs" || return 1
    fi
  fi
  need "$art" "$inputs"
  [[ -x $SANITIZER ]] || { note "compute-sanitizer not found ($SANITIZER)"; return 1; }
  KILN_PREFIX="$SANITIZER --tool $tool $SANITIZER_ARGS" kiln_run "$art" "$inputs" "$WORK/out-$tool.npz"
  local rc=$?
  { echo -n "$(basename "$art"): "
    grep -E '(ERROR|RACECHECK|SYNCCHECK|INITCHECK) SUMMARY' "$LOGS/$tool.log" | tail -n 1 |
      sed 's/^========= //'; } >"$NOTE_FILE"
  # racecheck reports shared-memory hazards inside cuBLASLt's own nvjet_*
  # GEMM kernels (PyTorch's F.linear with a bias gets them too, see
  # scripts/bench/racecheck_linear.py): those are
  # the library's, not kiln's. Every hazard in any other kernel fails.
  if [[ $tool == racecheck && $rc -eq 86 ]]; then
    local ours lib
    ours=$(grep 'Race reported' "$LOGS/$tool.log" | grep -vc ' nvjet_')
    lib=$(grep 'Race reported' "$LOGS/$tool.log" | grep -c ' nvjet_')
    if [[ $ours -eq 0 && $lib -gt 0 ]]; then
      echo "$(basename "$art"): 0 hazards in kiln's kernels; $lib reported inside cuBLASLt's nvjet_* kernels" >"$NOTE_FILE"
      rc=0
    fi
  fi
  return $rc
}

step_bench_kiln() {
  local s art json merged=() failed=""
  rm -f "$OUT/kiln-bench.json"
  for s in $(bench_seqs); do
    art=$(artifact_for_seq "$s")
    need "$art"
    json=$WORK/kiln-bench-s$s.json
    echo "kiln bench $(basename "$art") --shapes $(shapes_at "$s") --json ... $KILN_BENCH_ARGS" \
      >>"$WORK/bench-commands.txt"
    if kiln_bench "$art" "$(shapes_at "$s")" "$json"; then
      merged+=("$json")
    else
      failed+=" s$s"
    fi
  done
  # What did run still goes into the report.
  [[ ${#merged[@]} -gt 0 ]] || { note "kiln bench failed at every seq"; return 1; }
  "$PY" - "$OUT/kiln-bench.json" "$BENCH_SHAPES" "${merged[@]}" <<'EOF' >"$NOTE_FILE"
import json, sys
records = []
for path in sys.argv[3:]:
    data = json.load(open(path))
    records += data["records"] if isinstance(data, dict) else data
# In the order of BENCH_SHAPES, as the peers' records are.
order = {s: i for i, s in enumerate(sys.argv[2].split(","))}
records.sort(key=lambda r: order.get(f"{r.get('batch')}x{r.get('seq')}", len(order)))
json.dump(records, open(sys.argv[1], "w"), indent=1)
print(f"{len(records)} records, {sum('error' in r for r in records)} failed", end="")
EOF
  [[ -z $failed ]] && return 0
  echo "; kiln bench FAILED at:$failed" >>"$NOTE_FILE"
  return 1
}

step_bench_peers() {
  local cmd="peers.py --shapes $BENCH_SHAPES $PEERS_ARGS --model $MINILM_WEIGHTS"
  echo "$cmd" >>"$WORK/bench-commands.txt"
  rm -f "$OUT/peers.json"
  "$PY" "$BENCH/peers.py" --shapes "$BENCH_SHAPES" $PEERS_ARGS --model "$MINILM_WEIGHTS" \
    --json "$OUT/peers.json"
  local rc=$?
  note "$(grep -c '"impl"' "$OUT/peers.json" 2>/dev/null || echo 0) records"
  return $rc
}

step_report() {
  rm -f "$OUT/benchmarks.md"
  [[ -e $OUT/kiln-bench.json || -e $OUT/peers.json ]] || need "$OUT/kiln-bench.json"
  local command
  command="scripts/gpu-check.sh on $(nvidia-smi -L 2>/dev/null | head -n 1 | sed 's/ (UUID.*//'), which ran:"
  [[ -e $WORK/bench-commands.txt ]] && command+=$'\n'$(cat "$WORK/bench-commands.txt")
  "$PY" "$BENCH/report.py" "$OUT/kiln-bench.json" "$OUT/peers.json" -o "$OUT/benchmarks.md" \
    --command "$command" || return 1
  note "$(grep -E '^kiln matches' "$OUT/benchmarks.md" || echo "$OUT/benchmarks.md written")"
}

export -f kiln_compile kiln_run kiln_bench note need now since bench_seqs batches_at shapes_at \
  artifact_for_seq gtest_note check_batches step_env step_unit step_gpu_tests step_model \
  step_compile_cold step_compile_warm step_compile_more step_check_fp16 step_check_fp32 \
  step_check_real step_sanitize step_bench_kiln step_bench_peers step_report

#--- running them ------------------------------------------------------------------
ROWS=$WORK/rows.tsv
: >"$ROWS"
: >"$WORK/bench-commands.txt"
FINISHED=0

record() { # NAME STATUS SECONDS NOTE
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$ROWS"
  print_table >"$OUT/summary.txt"
}

print_table() {
  printf '%-13s %-7s %6s  %s\n' step status time note
  awk -F '\t' '{ printf "%-13s %-7s %5ss  %s\n", $1, $2, $3, $4 }' "$ROWS"
}

run_step() { # NAME COMMAND TIMEOUT
  local name=$1 command=$2 limit=$3
  local left=$((DEADLINE_S - SECONDS - 5))
  if ((left < 10)); then
    record "$name" NO-TIME 0 "DEADLINE_S=$DEADLINE_S reached before it started"
    return
  fi
  ((limit > left)) && limit=$left
  local log=$LOGS/$name.log start=$SECONDS rc status text=""
  echo "gpu-check: $name (up to ${limit}s)"
  NOTE_FILE=$NOTES/$name timeout -k 5 "$limit" bash -u -o pipefail -c "$command" >"$log" 2>&1
  rc=$?
  case $rc in
    0) status=PASS ;;
    77) status=SKIP ;;
    124 | 137) status=TIMEOUT text="cut at ${limit}s; " ;;
    *) status=FAIL ;;
  esac
  [[ -s $NOTES/$name ]] && text+=$(tr -s '\n' ' ' <"$NOTES/$name" | sed 's/ *$//')
  if [[ $status != PASS && $status != SKIP && ! -s $NOTES/$name ]]; then
    text+="exit $rc: $(grep -v '^[[:space:]]*$' "$log" | tail -n 1)"
  fi
  record "$name" "$status" $((SECONDS - start)) "${text:0:160}"
}

finish() {
  ((FINISHED)) && return
  FINISHED=1
  local name status log
  while IFS=$'\t' read -r name status _ _; do
    [[ $status == FAIL || $status == TIMEOUT ]] || continue
    log=$LOGS/$name.log
    [[ -s $log ]] || continue
    echo "----- $name: the end of its log"
    grep -v '^[[:space:]]*$' "$log" | tail -n 8 | cut -c1-200
  done <"$ROWS"
  if [[ -s $OUT/benchmarks.md ]]; then
    echo "----- benchmarks ($OUT/benchmarks.md)"
    awk '/^## Summary/ { on = 1; next } on && /^## / { exit } on && NF' "$OUT/benchmarks.md"
  fi
  # Big logs (a sanitizer's flood) keep their head and tail.
  local f
  for f in "$LOGS"/*; do
    if (($(stat -c %s "$f") > 4000000)); then
      { head -c 1000000 "$f"; echo; echo "[... cut ...]"; tail -c 1000000 "$f"; } >"$f.cut" && mv "$f.cut" "$f"
    fi
  done
  tar -czf "$OUT/logs.tar.gz" -C "$OUT" logs && rm -rf "$LOGS"
  echo "----- gpu-check steps (logs in $OUT/logs.tar.gz, this table in $OUT/summary.txt)"
  print_table
}
trap 'finish; exit 1' INT TERM

for step in $STEPS; do
  case $step in
    env) run_step env step_env 60 ;;
    unit) run_step unit step_unit 180 ;;
    gpu-tests) run_step gpu-tests step_gpu_tests 240 ;;
    node) run_step node step_node 480 ;;
    model) run_step model step_model 180 ;;
    compile-cold) run_step compile-cold step_compile_cold 240 ;;
    compile-warm) run_step compile-warm step_compile_warm 120 ;;
    compile-more) run_step compile-more step_compile_more 240 ;;
    check-fp16) run_step check-fp16 step_check_fp16 180 ;;
    check-fp32) run_step check-fp32 step_check_fp32 180 ;;
    check-real) run_step check-real step_check_real 240 ;;
    memcheck | racecheck | initcheck | synccheck) run_step "$step" "step_sanitize $step" 240 ;;
    bench-kiln) run_step bench-kiln step_bench_kiln 180 ;;
    bench-peers) run_step bench-peers step_bench_peers 300 ;;
    report) run_step report step_report 60 ;;
    *) record "$step" FAIL 0 "unknown step (known: $(tr -s ' \n' ' ' <<<"$ALL_STEPS"))" ;;
  esac
done
finish
awk -F '\t' '$2 == "FAIL" || $2 == "TIMEOUT" || $2 == "NO-TIME" { bad = 1 } END { exit bad }' "$ROWS"
