#!/bin/bash
# A change to attention_mma against the build before it, in one job (issue
# 15, item 3): the new build's attention, packed-token and lowering GPU
# tests and memcheck over them; the real all-MiniLM-L6-v2 (CARRY/real.kiln,
# compiled by the new build) against onnxruntime fp32; GpuAttentionTiming
# (the attention step alone at 256x128, 32x128, 1x128, 256x32 and 256
# packed rows, every tiling) by the old build and the new; the forward of
# the all-MiniLM-L6-v2 architecture (fp16) compiled by each and timed in
# turns (old, new, old, new); the new kernel's stall reasons under Nsight
# Compute at 256x128.
#
#   scripts/bench/attention_ab_gpu.sh CARRY OLD
#   (CARRY holds the new kiln and kiln-gpu-tests, real.kiln, in.npz and
#   ref.npz; OLD, a folder inside the checkout, the old kiln and
#   kiln-gpu-tests, or the two xz-compressed as kiln.xz and
#   kiln-gpu-tests.xz)
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
O=$(realpath "$2")
# The old build may come xz-compressed (the transfer limit): unpack to $W.
if [ -e $O/kiln.xz ]; then
  mkdir -p $W/old
  for f in kiln kiln-gpu-tests; do
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' $O/$f.xz $W/old/$f
  done
  chmod +x $W/old/*; O=$W/old
fi
(python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1) &
t tests
timeout 240 $C/kiln-gpu-tests --gtest_brief=1 \
  --gtest_filter='*Attention*:PackedTokens*:FusedLowering*:Runtime.Packed*' > $OUT/attn-tests.txt 2>&1
echo "rc=$?" >> $OUT/attn-tests.txt
grep -E "FAILED|PASSED|SKIPPED \]|tests ran|rc=|Failure" $OUT/attn-tests.txt | head -20
t real-model
$C/kiln run $C/real.kiln --inputs $C/in.npz -o $W/real-out.npz > /dev/null 2>$OUT/real.txt || cat $OUT/real.txt
python3 scripts/bench/check_embeddings.py --reference $C/ref.npz --actual $W/real-out.npz --label "real all-MiniLM-L6-v2 fp16, 32 rows (packed, 3840)"
$C/kiln run $C/real.kiln --packed off --inputs $C/in.npz -o $W/real-p.npz > /dev/null 2>>$OUT/real.txt || cat $OUT/real.txt
python3 scripts/bench/check_embeddings.py --reference $C/ref.npz --actual $W/real-p.npz --label "real, 32 rows (padded 32x128)"
wait; tail -1 $W/export.log
t model
TOK=1024,2048,4096,8192,12288,16384,18432,20480,22528,24576
for b in old new; do
  B=$O; [ $b = new ] && B=$C
  timeout 120 $B/kiln compile $M -o $W/m-$b.kiln --batch 1,32,256 --seq 32,128 --tokens $TOK \
    --precision fp16 --cache-dir $W/cc-$b 2>&1 | tail -1
done
for turn in 1 2; do
  for b in old new; do
    echo "-- $b (turn $turn)"
    timeout 40 $C/kiln bench $W/m-$b.kiln --shapes 1x128,32x128,256x128,256x32 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
    for s in "256 0" "32 0"; do set -- $s
      timeout 30 $C/kiln bench $W/m-$b.kiln --batch $1 --lengths 8:128 --seed $2 --iters 100 2>&1 | grep -E "^\| [0-9]|rror" | head -1
    done
  done
done
t memcheck
timeout 200 compute-sanitizer --tool memcheck --error-exitcode 9 $C/kiln-gpu-tests --gtest_brief=1 \
  --gtest_filter='*AttentionTest*:PackedTokensAttention*' > $OUT/attn-memcheck.txt 2>&1
echo "rc=$?" >> $OUT/attn-memcheck.txt; tail -3 $OUT/attn-memcheck.txt
[ -n "${QUICK:-}" ] && { t done; exit 0; } # QUICK=1: checks and the forward only
t timing
for b in ${TIMING_BUILDS:-old new}; do
  B=$O; [ $b = new ] && B=$C
  KILN_ATTENTION_TIMING=1 timeout 150 $B/kiln-gpu-tests --gtest_filter='GpuAttentionTiming.*' > $OUT/attn-timing-$b.txt 2>&1
  echo "-- $b rc=$?"; grep -E "^timing|Failure|FAILED" $OUT/attn-timing-$b.txt | sed 's/timing attention //; s/ (attention.cuh)//; s/step median/step/; s/graph replay median/graph/'
done
t ncu
timeout 90 ncu --clock-control none -k regex:attention --launch-count 1 \
  --metrics regex:smsp__average_warps_issue_stalled_.*_per_issue_active\\.ratio,smsp__inst_executed.sum,sm__cycles_elapsed.avg,smsp__issue_active.avg.pct_of_peak_sustained_active \
  $C/kiln bench $W/m-new.kiln --shapes 256x128 --iters 1 --warmup 0 > $OUT/ncu-stalls.txt 2>&1
grep -E "stalled|inst_executed|cycles_elapsed|issue_active" $OUT/ncu-stalls.txt | awk '$NF+0 > 0.05 || /inst|cycles|issue/' | sed 's/smsp__average_warps_issue_stalled_//' | head -30
# The FFN's first GEMM at small batches (run 15's Nsight Compute at 1x128:
# gemm_gelu.cuh's kernel 5.5 us against cuBLASLt's 5.0 + the GELU pass 2.9):
# --gelu-gemm fused (that kernel for it, cuBLASLt for the rest) and
# separate (cuBLASLt and the pass), with the new build, in turns.
for g in fused separate; do
  timeout 60 $C/kiln compile $M -o $W/g-$g.kiln --batch 1,4,32 --seq 128 --precision fp16 \
    --gelu-gemm $g --cache-dir $W/cc-new 2>&1 | tail -1
done
timeout 60 $C/kiln compile $M -o $W/g-auto.kiln --batch 1,4,32 --seq 128 --precision fp16 --cache-dir $W/cc-new 2>&1 | tail -1
for turn in 1 2; do
  for g in auto fused separate; do
    echo "-- --gelu-gemm $g (turn $turn)"
    timeout 30 $C/kiln bench $W/g-$g.kiln --shapes 1x128,4x128,32x128 --iters 300 2>&1 | grep -E "^\| [0-9]|rror"
  done
done
t done
