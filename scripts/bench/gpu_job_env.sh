# Sourced by the GPU job scripts (main_gpu.sh, check_gpu_job.sh) with the
# carry folder as $1: sets OUT (logs), C (the carried build), W (scratch),
# M (where the MiniLM model is exported), t (a timestamped step header),
# makes /work/main point at this checkout (the GPU tests find their
# fixtures through the KILN_SOURCE_DIR they were built with) and prints the
# card.
set -u
OUT=${OUT:-gpu-report}
C=$(realpath "${1:-.carry}"); W=/tmp/w; mkdir -p $W $OUT/l
[ -e /work/main ] || { mkdir -p /work && ln -sfn $PWD /work/main; }
T0=$(date +%s); t() { echo "== [$(( $(date +%s) - T0 )) s] $*"; }
t env; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
M=$W/minilm.onnx
# Carried files may come xz-compressed as NAME.xz (the transfer limit):
# unpack_carry points C at a folder of them all, unpacked, the rest linked.
unpack_carry() {
  mkdir -p $W/c
  for f in $C/*; do
    case $f in
      *.xz) python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' $f $W/c/$(basename $f .xz) ;;
      *) ln -sf $f $W/c/ ;;
    esac
  done
  chmod +x $W/c/kiln* 2>/dev/null; C=$W/c
}
# The GPU tests matching $2 (kiln-gpu-tests at $G), then compute-sanitizer
# memcheck over those matching $3, each within $1 seconds; the full logs go
# to $OUT/tests.txt and $OUT/memcheck.txt, a summary to stdout.
tests_and_memcheck() {
  timeout $1 $G --gtest_brief=1 --gtest_filter="$2" > $OUT/tests.txt 2>&1
  echo "tests rc=$?"; grep -E "^\[  PASSED|^\[  FAILED|Failure|SKIPPED \]" $OUT/tests.txt | head -20
  timeout $1 compute-sanitizer --tool memcheck --error-exitcode 9 $G --gtest_brief=1 \
    --gtest_filter="$3" > $OUT/memcheck.txt 2>&1
  echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|PASSED|FAILED" $OUT/memcheck.txt | head -5
}
# The workloads with kiln's artifact $1 beside PyTorch eager (SDPA)
# and torch.compile (reduce-overhead), same card and shapes.
peers_step() {
  local PEERS="python3 scripts/bench/peers.py --device cuda --warmup 5 --iters 50"
  timeout 120 $C/kiln bench $1 --batch 256 --lengths 8:128 --seed 0 --iters 100 --peers "$PEERS" 2>&1 | grep -E "^lengths|^\| [0-9]|rror"
  timeout 200 $C/kiln bench $1 --shapes 1x128,32x128,256x128,256x32 --iters 200 --peers "$PEERS" 2>&1 | grep -E "^\| [0-9]|rror"
}
