#!/usr/bin/env python3
"""Text in, embeddings out on the GPU: `kiln embed` against onnxruntime, and
its throughput next to the engine's (issue 13).

    embed_gpu.py --kiln KILN --onnx MODEL.onnx --tokenizer tokenizer.json
                 [--count 10000] [--check 256] [--work DIR] [--capi PROGRAM]

Compiles MODEL.onnx to an fp16 artifact that carries the tokenizer (batch
buckets 1,8,32,128,256; seq buckets 16,32,64,128), then:
- numerics: the first --check sentences through `kiln embed --device gpu`,
  and the same sentences' ids (from the `tokenizers` package, truncated as
  kiln does) through onnxruntime on the CPU in fp32; per-row cosine
  similarity, which must be >= 0.9999; with --capi, the same for the C API
  (tests/text/embed.c built against libkiln.so, on the same device);
- throughput: --count sentences of 8 to 128 tokens (random vocabulary words,
  fixed seed) through `kiln embed --device gpu` in one process, wall clock
  less the same process on one sentence (load, CUDA-graph capture);
  and `kiln bench` of the same artifact at every bucket, the engine alone.
Prints a table and writes embed-gpu.json to --work.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort
import tokenizers


def sentences(tok, count, seed):
    vocab = [w for w in tok.get_vocab() if w.isalpha() and w.isascii() and len(w) > 2]
    vocab.sort()
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        words = rng.randint(6, 120)  # about 8..128 tokens with [CLS]/[SEP]
        out.append(" ".join(rng.choice(vocab) for _ in range(words)))
    return out


def kiln_embed(kiln, artifact, texts, device="gpu"):
    lines = "".join(json.dumps(t) + "\n" for t in texts)
    start = time.perf_counter()
    r = subprocess.run([kiln, "embed", "--device", device, artifact], input=lines.encode(),
                       capture_output=True)
    seconds = time.perf_counter() - start
    if r.returncode != 0:
        sys.exit("kiln embed failed: " + r.stderr.decode(errors="replace"))
    rows = [json.loads(l) for l in r.stdout.decode().splitlines()]
    return np.array(rows, dtype=np.float32), seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--check", type=int, default=256)
    ap.add_argument("--work", default="/tmp/kiln-embed-gpu")
    ap.add_argument("--device", default="gpu", help="cpu: try the script without a GPU (no bench)")
    ap.add_argument("--capi", help="tests/text/embed.c built against libkiln.so: its "
                    "embeddings of the same texts are checked too")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    artifact = os.path.join(args.work, "text-fp16.kiln")
    subprocess.run([args.kiln, "compile", args.onnx, "-o", artifact, "--precision", "fp16",
                    "--batch", "1,8,32,128,256", "--seq", "16,32,64,128",
                    "--tokenizer", args.tokenizer], check=True)

    tok = tokenizers.Tokenizer.from_file(args.tokenizer)
    texts = sentences(tok, args.count, seed=0)
    fixed = ["A man is eating food.", "The girl is carrying a baby.",
             "Café, naïve façade — déjà vu! 東京は日本の首都です。", "", "word " * 300]
    check = fixed + texts[: args.check]

    got, _ = kiln_embed(args.kiln, artifact, check, args.device)
    tok.enable_truncation(128)
    sess = ort.InferenceSession(args.onnx, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    want = []
    for enc in tok.encode_batch(check):
        feed = {"input_ids": np.array([enc.ids], np.int64),
                "attention_mask": np.array([enc.attention_mask], np.int64),
                "token_type_ids": np.array([enc.type_ids], np.int64)}
        want.append(sess.run(None, {n: feed[n] for n in names})[0][0])
    want = np.array(want, dtype=np.float32)
    cos = (got * want).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
    min_cos = float(cos.min())
    max_abs = float(np.abs(got - want).max())

    _, one = kiln_embed(args.kiln, artifact, texts[:1], args.device)
    _, many = kiln_embed(args.kiln, artifact, texts, args.device)
    tokens = sum(sum(e.attention_mask) for e in tok.encode_batch(texts))
    rate = args.count / max(many - one, 1e-9)

    records = []
    if args.device == "gpu":
        bench_json = os.path.join(args.work, "bench.json")
        shapes = ",".join(f"{b}x{s}" for b in (1, 8, 32, 128, 256) for s in (16, 32, 64, 128))
        subprocess.run([args.kiln, "bench", artifact, "--shapes", shapes, "--json", bench_json],
                       check=True, stdout=subprocess.DEVNULL)
        with open(bench_json) as f:
            records = json.load(f)

    result = {"min_cosine": min_cos, "max_abs": max_abs, "checked": len(check),
              "sentences": args.count, "tokens": tokens, "embed_seconds": many,
              "startup_seconds": one, "embed_sentences_per_s": rate, "bench": records}
    ok = min_cos >= 0.9999
    if args.capi:
        env = dict(os.environ, KILN_EMBED_DEVICE=args.device)
        r = subprocess.run([args.capi, artifact] + check, capture_output=True, env=env)
        if r.returncode != 0:
            sys.exit("the C API program failed: " + r.stderr.decode(errors="replace"))
        capi = np.array([json.loads(l) for l in r.stdout.decode().splitlines()], np.float32)
        c_cos = (capi * want).sum(1) / (np.linalg.norm(capi, axis=1) * np.linalg.norm(want, axis=1))
        result["capi_min_cosine"] = float(c_cos.min())
        ok &= result["capi_min_cosine"] >= 0.9999
        print(f"C API (kiln_embed, {args.device}): {len(check)} texts, min cosine "
              f"{c_cos.min():.7f}: {'PASS' if c_cos.min() >= 0.9999 else 'FAIL'}")
    print(f"numerics: {len(check)} texts, min cosine {min_cos:.7f}, max abs {max_abs:.2e}: "
          f"{'PASS' if min_cos >= 0.9999 else 'FAIL'}")
    print(f"kiln embed --device {args.device}: {args.count} sentences ({tokens} tokens) in {many:.2f} s, "
          f"{one:.2f} s of it start-up (one sentence): {rate:,.0f} sentences/s")
    for r in records:
        if r.get("impl", "kiln") == "kiln" and r.get("batch") == 256:
            print(f"engine (kiln bench) 256x{r.get('seq')}: {r.get('gpu_ms_median')} ms GPU, "
                  f"{r.get('seq_per_s'):,.0f} seq/s")
    with open(os.path.join(args.work, "embed-gpu.json"), "w") as f:
        json.dump(result, f, indent=1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
