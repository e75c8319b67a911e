#!/bin/bash
# Issue 15, one device job for three epilogue changes, most important
# first so that a job cut short still says the most (every step's output
# also goes to a file in $OUT):
#  1. checks.txt: the residual GEMM (GpuResidualGemm, ResidualGemmLowering),
#     the CUTLASS GEMM under programmatic launch, the CUTLASS and GELU
#     tests, compute-sanitizer over the new GPU tests, and the forward of
#     all-MiniLM-L6-v2's architecture (fp16) with --residual-gemm off and on
#     against onnxruntime fp32 on the device;
#  2. forward.txt: that forward compiled with --residual-gemm off and on,
#     three turns; then both with cuBLASLt autotuned in the context. (Run
#     17 also timed a rule that applied it to the FFN's output only, and the
#     CUTLASS GEMM launched without PDL, with a build of a7dd7b7 that had a
#     switch for each; neither is in the code now.)
#  3. probe.txt: the CUTLASS epilogue probe (a build configured with
#     -DKILN_CUTLASS_PROBE=ON: GpuCutlassProbe) beside cuBLASLt's bias GEMM;
#  4. ncu.txt: Nsight Compute on each probe variant at 32768 x 1536 x 384
#     (stall reasons, pipe utilization).
#
# NO_FORWARD=1 skips step 2.
#
#   scripts/bench/epilogues_gpu.sh [CARRY]   (CARRY holds kiln, kiln-gpu-tests)
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
G=$C/kiln-gpu-tests
{
t checks
timeout 200 $G --gtest_filter='GpuResidualGemm.*:ResidualGemmLowering.*:GpuGemmGelu.*:GpuCutlassGeluGemm.*:Runtime.ProgrammaticLaunch*' 2>&1 |
  grep -E "^\[  PASSED|^\[  FAILED|Failure|rror:|SKIPPED \]" | head -30
timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 $G \
  --gtest_filter='GpuResidualGemm.*:GpuGemmGelu.CutlassProgrammatic*' > $OUT/memcheck.txt 2>&1
echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|PASSED|FAILED" $OUT/memcheck.txt | head -5
python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1; tail -1 $W/export.log
for r in off on; do
  timeout 120 $C/kiln compile $M -o $W/$r.kiln --batch 1,32,256 --seq 128 --tokens 16384 --precision fp16 \
    --residual-gemm $r --cache-dir $W/cc 2>&1 | tail -1
done
# All-ones 32 x 128 (the padded bucket) and 256 rows of random lengths (the
# packed 16,384-token one).
python3 scripts/bench/minilm.py inputs --batch 32 --seq 128 --seed 3 -o $W/in32.npz > /dev/null
python3 scripts/bench/minilm.py inputs --batch 256 --seq 128 --seed 4 --padded -o $W/in256.npz > /dev/null
for r in off on; do
  for i in in32 in256; do
    timeout 60 $C/kiln run $W/$r.kiln --inputs $W/$i.npz --output $W/out-$r-$i.npz > $W/run.log 2>&1 || { echo "kiln run $r $i failed"; tail -3 $W/run.log; }
    echo -n "--residual-gemm $r, $i: "
    timeout 90 python3 scripts/bench/check_embeddings.py --onnx $M --inputs $W/$i.npz \
      --actual $W/out-$r-$i.npz --min-cos 0.9999 2>&1 | tail -2 | tr '\n' ' '; echo
  done
done
} 2>&1 | tee $OUT/checks.txt
B() { timeout 40 $C/kiln bench $W/$1.kiln --shapes 1x128,32x128,256x128 --iters 200 "${@:2}" 2>&1 | grep -E "^\| [0-9]|rror"
      timeout 30 $C/kiln bench $W/$1.kiln --batch 256 --lengths 8:128 --seed 0 --iters 200 "${@:2}" 2>&1 | grep -E "^\| [0-9]|rror"; }
[ -z "${NO_FORWARD:-}" ] && {
t forward
for turn in 1 2 3; do
  for r in off on; do echo "-- turn $turn, --residual-gemm $r"; B $r; done
done
for r in off on; do echo "-- --residual-gemm $r, cuBLASLt autotuned in the context"; B $r --autotune; done
} 2>&1 | tee $OUT/forward.txt
t probe
KILN_GEMM_GELU_TIMING=1 timeout 200 $G --gtest_filter='GpuCutlassProbe.*' 2>&1 |
  grep -E "probe M|timing M|Failure|FAILED|OK \]|rror" | tee $OUT/probe.txt
t ncu
KILN_PROBE_ONCE=1 timeout 200 ncu --clock-control none -k regex:device_kernel --launch-count 15 \
  --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio,regex:sm__pipe_.*_cycles_active\.avg\.pct_of_peak_sustained_active,smsp__inst_executed.sum,gpu__time_duration.sum,smsp__issue_active.avg.pct_of_peak_sustained_active' \
  $G --gtest_filter='GpuCutlassProbe.*' > $OUT/ncu.txt 2>&1
echo "ncu rc=$?"
awk '/^  [^ ].*Context/ {n++; print "kernel " n-1 ": " substr($0, 3, 60)} /^    [a-z]/ { v=$NF; gsub(",", "", v); if ((/stalled/ && v+0 > 0.3) || (/pipe_/ && v+0 > 3) || /inst_executed|duration|issue_active/) { m=$1; sub("smsp__average_warps_issue_stalled_", "stall ", m); sub("_per_issue_active.ratio", "", m); print "   " m " " v } }' $OUT/ncu.txt | head -220
t done
