#!/usr/bin/env python3
"""Where ModernBERT's GPU time goes in kiln: do its rotary embedding and
GeGLU need kernels of their own? (issue 12: only if they cost more than 10%
of its GPU time as generic kernels).

    modernbert_profile.py --kiln KILN [--layers 6] [--work DIR] [--onnx PATH]
                          [--phase all|compile|bench]

Builds a ModernBERT-base-sized encoder (transformers' ModernBertConfig:
hidden 768, 12 heads, intermediate 1152, local attention window 128, a
global layer every 3; --layers of them, random weights, seed 0), exports it
with the TorchScript exporter (opset 17), compiles it to fp16 with buckets
32 x {128, 512}, and runs `kiln bench --profile`. Each step's time is
grouped by what it is: GEMMs, attention, the normalizations, the generated
elementwise kernels (rotary's multiply-adds, GeGLU's gelu-times, the window
mask), the data movement (rotate_half's slices and concatenations, GeGLU's
split), the fused rotary and GeGLU kernels (rotary.cuh, glu.cuh) and the
rest. Prints the shares per shape. Needs torch and transformers (the GPU
machine has them) unless --onnx names an export that exists, which is then
reused: two builds compared in one job compile the same model. --phase
compile stops after compiling, --phase bench times what an earlier compile
phase left in --work (so that two builds compile side by side and time one
after the other).
"""
import argparse
import os
import re
import subprocess
import sys


def export(path, layers):
    import torch  # only the export needs them
    import transformers

    config = transformers.ModernBertConfig(
        vocab_size=50368, hidden_size=768, num_hidden_layers=layers, num_attention_heads=12,
        intermediate_size=1152, local_attention=128, global_attn_every_n_layers=3,
        max_position_embeddings=8192)
    torch.manual_seed(0)
    model = transformers.ModernBertModel(config).eval()
    ids = torch.randint(5, 50000, (2, 64))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), path, input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                        "attention_mask": {0: "batch", 1: "seq"},
                                        "last_hidden_state": {0: "batch", 1: "seq"}})


def family(what):
    if what.startswith("rotary"):
        return "rotary (fused, rotary.cuh)"
    if what.startswith("glu"):
        return "GeGLU (fused, glu.cuh)"
    if what.startswith("gemm"):
        return "GEMMs (cuBLASLt)"
    if what.startswith("elementwise_"):
        return "generated elementwise (rotary, GeGLU, mask)"
    if "attention" in what:
        return "attention"
    if "layernorm" in what or "layer_norm" in what:
        return "normalizations"
    if any(k in what for k in ("copy", "slice", "concat", "transpose", "gather", "pad")):
        return "data movement (slices, concats, transposes)"
    return "other: " + re.sub(r"_[0-9a-f]{8,}$", "", what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--work", default="/tmp/kiln-modernbert")
    ap.add_argument("--onnx", help="the export to use; written first when it does not exist")
    ap.add_argument("--phase", choices=["all", "compile", "bench"], default="all")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    onnx_path = args.onnx or os.path.join(args.work, "modernbert.onnx")
    artifact = os.path.join(args.work, "modernbert-fp16.kiln")
    if args.phase != "bench":
        if not (args.onnx and os.path.exists(onnx_path)):
            export(onnx_path, args.layers)
        subprocess.run([args.kiln, "compile", onnx_path, "-o", artifact, "--precision", "fp16",
                        "--batch", "32", "--seq", "128,512"], check=True)
        if args.phase == "compile":
            return
    out = subprocess.run([args.kiln, "bench", artifact, "--shapes", "32x128,32x512", "--profile"],
                         check=True, capture_output=True, text=True).stdout
    print(out)
    shape, rows = None, {}
    for line in out.splitlines():
        m = re.match(r"profile (\S+): ([\d.]+) ms", line)
        if m:
            shape = m.group(1)
            rows[shape] = {}
            continue
        m = re.match(r"  (\S.*?)\s+([\d.]+) ms\s+[\d.]+%\s+x(\d+)", line)
        if m and shape:
            fam = family(m.group(1))
            rows[shape][fam] = rows[shape].get(fam, 0.0) + float(m.group(2))
    for shape, fams in rows.items():
        total = sum(fams.values())
        print(f"ModernBERT ({args.layers} layers, hidden 768) fp16 {shape}: {total:.3f} ms of steps")
        for fam, ms in sorted(fams.items(), key=lambda kv: -kv[1]):
            print(f"  {fam:48s} {ms:8.3f} ms {100 * ms / total:5.1f}%")
    if not rows:
        sys.exit("no profile in kiln bench's output")


if __name__ == "__main__":
    main()
