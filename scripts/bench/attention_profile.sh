#!/bin/bash
# Where attention_mma waits, instruction by instruction (issue 15, item 3):
# Nsight Compute's source counters for the attention kernel of MiniLM's
# forward at 256x128 and 32x128 (fp16, the default tiling), the SASS lines
# with the most stall samples and their reasons, plus the kernel's stall
# reasons in cycles a issued instruction. Reports go to $OUT.
#
#   scripts/bench/attention_profile.sh [CARRY]   (CARRY holds kiln)
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1; tail -1 $W/export.log
timeout 60 $C/kiln compile $M -o $W/p.kiln --batch 32,256 --seq 128 --precision fp16 --cache-dir $W/cc 2>&1 | tail -1
for s in 256x128 32x128; do
  t "$s"
  timeout 120 ncu --clock-control none -k regex:attention --launch-count 1 \
    --section SourceCounters --section WarpStateStats --import-source no \
    -o $OUT/attn-$s -f $C/kiln bench $W/p.kiln --shapes $s --iters 1 --warmup 0 > $W/ncu-$s.log 2>&1
  echo "rc=$?"; tail -2 $W/ncu-$s.log
  # Per SASS instruction: address, source, stall samples (all and not issued).
  ncu --import $OUT/attn-$s.ncu-rep --page source --csv --print-source sass > $OUT/attn-$s-sass.csv 2> $W/src-$s.err
  echo "rc=$?"; tail -1 $W/src-$s.err
  python3 - $OUT/attn-$s-sass.csv <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
head = next((i for i, r in enumerate(rows) if any("Source" in c for c in r)), None)
if head is None:
    sys.exit("no source table")
h = rows[head]
src = next(i for i, c in enumerate(h) if c.strip() == "Source")
samp = [i for i, c in enumerate(h) if "Sampling" in c and "All" in c]
samp = samp[0] if samp else next(i for i, c in enumerate(h) if "Sampl" in c)
body = [r for r in rows[head + 1:] if len(r) > max(src, samp)]
def num(x):
    try: return float(x.replace(",", ""))
    except ValueError: return 0.0
total = sum(num(r[samp]) for r in body) or 1
print(f"{len(body)} SASS lines, {total:.0f} samples ({h[samp]})")
for r in sorted(body, key=lambda r: -num(r[samp]))[:25]:
    print(f"{100 * num(r[samp]) / total:5.1f}%  {r[src].strip()[:90]}")
PY
done
t done
