#!/bin/bash
# attention_mma's tilings on the GPU (issue 15, item 3): the attention GPU
# tests at every tiling of attentionTilings() against the reference
# executor, memcheck over them, each candidate tiling timed alone
# (GpuAttentionTiming: MiniLM's attention at 256x128, 32x128, 1x128,
# 256x32 and 256 packed rows of 8..128), then the whole all-MiniLM-L6-v2
# architecture (fp16) compiled with each tiling (`kiln compile
# --attention-tiling`) and timed in turns, default first.
#
#   scripts/bench/attention_gpu.sh [CARRY]   (CARRY holds kiln, kiln-gpu-tests)
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
(python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1) &
t tests
timeout 240 $C/kiln-gpu-tests --gtest_brief=1 \
  --gtest_filter='*Attention*:PackedTokens*:FusedLowering*' > $OUT/attn-tests.txt 2>&1
echo "rc=$?" >> $OUT/attn-tests.txt
grep -E "FAILED|PASSED|SKIPPED \]|tests ran|rc=|Failure" $OUT/attn-tests.txt | head -20
t timing
KILN_ATTENTION_TIMING=1 timeout 200 $C/kiln-gpu-tests --gtest_filter='GpuAttentionTiming.*' > $OUT/attn-timing.txt 2>&1
echo "rc=$?"; grep -E "^timing|Failure|FAILED" $OUT/attn-timing.txt | sed 's/timing attention //'
wait; tail -1 $W/export.log
t model
TILINGS=${TILINGS:-"2,32,4,0 2,32,4,4 2,64,4,2 2,64,2,4 1,128,4,2 1,32,8,3"}
TOK=1024,2048,4096,8192,12288,16384,18432,20480,22528,24576
for tl in default $TILINGS; do
  f=${tl//,/_}; flag=""; [ $tl = default ] || flag="--attention-tiling $tl"
  timeout 120 $C/kiln compile $M -o $W/a-$f.kiln --batch 1,32,256 --seq 32,128 --tokens $TOK \
    --precision fp16 --cache-dir $W/cc $flag 2>&1 | tail -1
done
for turn in 1 2; do
  for tl in default $TILINGS; do
    f=${tl//,/_}
    echo "-- $tl (turn $turn)"
    timeout 40 $C/kiln bench $W/a-$f.kiln --shapes 1x128,32x128,256x128,256x32 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
    timeout 30 $C/kiln bench $W/a-$f.kiln --batch 256 --lengths 8:128 --seed 0 --iters 100 2>&1 | grep -E "^\| [0-9]|rror"
  done
done
t memcheck
timeout 200 compute-sanitizer --tool memcheck --error-exitcode 9 $C/kiln-gpu-tests --gtest_brief=1 \
  --gtest_filter='Tilings/*' > $OUT/attn-memcheck.txt 2>&1
echo "rc=$?" >> $OUT/attn-memcheck.txt; tail -3 $OUT/attn-memcheck.txt
t done
