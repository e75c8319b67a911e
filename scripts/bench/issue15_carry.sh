#!/bin/bash
# Builds the carry folder that scripts/bench/issue15_quick_gpu.sh,
# issue15_profile_gpu.sh and cutlass_residual_gpu.sh run from, on the
# machine without a GPU
# (the device has no ONNX real model and no compiler for ours): kiln and
# kiln-gpu-tests stripped and xz-compressed; the real all-MiniLM-L6-v2
# compiled with every option under test (real.kiln.xz: batch 1, 4 and 256
# at 128 tokens, packed buckets of 256 and 384 tokens; kiln's own GEMMs up
# to 512 tokens with the K-split GEMM + LayerNorm and the weight prefetch,
# bias GEMMs on CUTLASS from 32768 tokens); 4 rows of 8..96 random token
# ids (in.npz) and 256 rows of 8..128 (in256.npz, run padded: 32768
# tokens), with
# onnxruntime fp32's embeddings of each (ref.npz, ref256.npz). About 46 MB:
# with the checkout, under the device's 64 MiB transfer limit. Keep CARRY
# out of git (.git/info/exclude), or it travels twice.
#
#   scripts/bench/issue15_carry.sh [CARRY] [BUILD]   (after make build real-model)
set -eu
CARRY=${1:-.carry4}; BUILD=${2:-build}
PY=.venv/bin/python; MODEL=$BUILD/models/all-MiniLM-L6-v2.onnx
mkdir -p $CARRY; rm -f $CARRY/*
for b in kiln kiln-gpu-tests; do
  cp $BUILD/bin/$b $CARRY/ && strip $CARRY/$b && xz -T2 -6 $CARRY/$b
done
$BUILD/bin/kiln compile $MODEL -o $CARRY/real.kiln --batch 1,4,256 --seq 128 --tokens 256,384 \
  --precision fp16 --small-gemm-rows 512 --ksplit-layernorm auto --prefetch-weights on \
  --cutlass-bias-gemm auto --cache-dir none | tail -1
xz -T2 -6 $CARRY/real.kiln
for rows in 4 256; do
  name=in; [ $rows = 4 ] || name=in$rows
  $PY - $CARRY/$name.npz $MODEL $rows <<'PYEOF'
import sys, numpy as np, onnx
m = onnx.load(sys.argv[2], load_external_data=False)
names = {i.name for i in m.graph.input}
B, S = int(sys.argv[3]), 128
rng = np.random.default_rng(11 + B)
ids = np.zeros((B, S), np.int64); mask = np.zeros((B, S), np.int64)
# 4 rows of at most 96 tokens fit the 384-token packed bucket.
for b, L in enumerate(rng.integers(8, (96 if B == 4 else S) + 1, size=B)):
    ids[b, :L] = rng.integers(1000, 30000, size=L); ids[b, 0] = 101; ids[b, L - 1] = 102
    mask[b, :L] = 1
d = {"input_ids": ids, "attention_mask": mask}
if "token_type_ids" in names:
    d["token_type_ids"] = np.zeros((B, S), np.int64)
np.savez(sys.argv[1], **d)
print(sys.argv[1] + ":", B, "rows of", int(mask.sum(1).min()), "to", int(mask.sum(1).max()), "tokens")
PYEOF
  $PY scripts/bench/check_embeddings.py --onnx $MODEL --inputs $CARRY/$name.npz \
    --write-reference $CARRY/${name/in/ref}.npz
done
du -cb $CARRY/* | tail -1
