#!/usr/bin/env python3
"""PyTorch's cuBLASLt GEMMs with a bias epilogue, for compute-sanitizer.

F.linear on fp16 with a 1-D bias calls cuBLASLt's gemm-and-bias, the same
nvjet_*_bias kernels kiln's FusedGemm steps get. Run under racecheck, it
shows whether a hazard reported inside those kernels comes with kiln or
with the library:

    compute-sanitizer --tool racecheck python3 scripts/bench/racecheck_linear.py

Shapes: MiniLM's projections (QKV, output, FFN in and out) for 2 x 128
tokens. Prints one line per GEMM.
"""

import torch
import torch.nn.functional as F


def main():
    torch.manual_seed(0)
    x = torch.randn(256, 384, device="cuda", dtype=torch.float16)
    h = torch.randn(256, 1536, device="cuda", dtype=torch.float16)
    for n, k, inp in [(1152, 384, x), (384, 384, x), (1536, 384, x), (384, 1536, h)]:
        w = torch.randn(n, k, device="cuda", dtype=torch.float16) * 0.05
        b = torch.randn(n, device="cuda", dtype=torch.float16)
        y = F.linear(inp, w, b)
        torch.cuda.synchronize()
        print(f"linear {inp.shape[0]}x{k} @ {k}x{n} + bias: mean |y| {y.float().abs().mean():.4f}")


if __name__ == "__main__":
    main()
