#!/usr/bin/env python3
"""Times kiln's peers on all-MiniLM-L6-v2: PyTorch eager (SDPA attention) and
torch.compile(mode="reduce-overhead", dynamic=False), shape by shape.

    peers.py --shapes 1x128,32x128,128x128,256x128,256x32 --precision fp16 \\
        --device cuda --warmup 5 --iters 50 --json peers.json [--model random|nontrivial|DIR]

For each (impl, batch x seq): `--warmup` calls, then `--iters` timed calls,
each followed by a synchronize. Per call it records the GPU time between CUDA
events around the forward (gpu_ms_median: the median) and the host wall-clock
time of the call plus the synchronize (host_ms_p50, host_ms_p95). Sequences/s
and TFLOP/s derive from gpu_ms_median; TFLOP/s counts the encoder's matmuls
(encoder_flops). Peak memory is torch.cuda.max_memory_allocated after a reset
per record, weights included. compile_s is the wall time of torch.compile's
first call at the shape (Dynamo + Inductor, after torch._dynamo.reset(), so
every shape compiles from scratch; Inductor's on-disk cache may still be warm
from an earlier run).

Mixed lengths (`--lengths-file F`, the file `kiln bench --lengths-out` or
scripts/bench/lengths.py writes, or `--batch N --lengths MIN:MAX
--lengths-seed S`, drawn the same way): one batch whose row i holds
lengths[i] real tokens, padded to the longest row as transformers'
padding=True does, with the attention mask zero past each row's length.
Its records carry "lengths": "MIN:MAX seed S", seq is the padded length.

With --device cpu (for testing the script) there are no events: gpu_ms_median
is the wall-clock median and peak_mem_mb is null.

Writes a JSON list of records {impl, batch, seq, gpu_ms_median, host_ms_p50,
host_ms_p95, seq_per_s, tflops, peak_mem_mb, compile_s, ...} (the shape
`kiln bench --json` writes, so scripts/bench/report.py merges both) and prints
a table. A record that failed carries "error" and the exit status is 1.
"""

import argparse
import gc
import json
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lengths as mixed  # noqa: E402  (needs the path above)
import minilm  # noqa: E402

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
IMPLS = ("eager", "compile")
# Distinct input sets the timed calls cycle through, so no call reads the
# previous call's inputs from cache.
INPUT_SETS = 4


def encoder_flops(batch, seq, hidden=384, layers=6, ffn=1536):
    """Floating-point operations of the encoder's matmuls, 2*M*N*K each: per
    layer the Q, K, V and output projections, QK^T and PV summed over the
    heads (heads * head_dim = hidden), and the two FFN matmuls. Embeddings,
    LayerNorm, softmax, GELU and pooling are left out (under 1% here)."""
    tokens = batch * seq
    projections = 4 * 2 * tokens * hidden * hidden
    attention = 2 * (2 * batch * seq * seq * hidden)
    feed_forward = 2 * (2 * tokens * hidden * ffn)
    return layers * (projections + attention + feed_forward)


def parse_shapes(text):
    shapes = []
    for item in text.split(","):
        try:
            batch, seq = (int(x) for x in item.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"shape '{item}' is not BATCHxSEQ") from None
        if batch < 1 or not 1 <= seq <= minilm.CONFIG["max_position_embeddings"]:
            raise argparse.ArgumentTypeError(f"shape '{item}' is out of range")
        shapes.append((batch, seq))
    return shapes


def percentile(values, q):
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


class Timer:
    """Per-call timing: CUDA events around the forward plus host wall clock
    around forward + synchronize; on the CPU wall clock only."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"
        if self.cuda:
            self.start = torch.cuda.Event(enable_timing=True)
            self.end = torch.cuda.Event(enable_timing=True)

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def time_call(self, fn):
        """Returns (device ms, host ms) of one call."""
        host_start = time.perf_counter()
        if self.cuda:
            self.start.record()
        fn()
        if self.cuda:
            self.end.record()
        self.sync()
        host_ms = (time.perf_counter() - host_start) * 1e3
        device_ms = self.start.elapsed_time(self.end) if self.cuda else host_ms
        return device_ms, host_ms


def device_inputs(batch, seq, seed, padded, device):
    sets = []
    for i in range(INPUT_SETS):
        feeds = minilm.make_inputs(batch, seq, seed + i, padded)
        sets.append(tuple(torch.from_numpy(feeds[k]).to(device) for k in minilm.INPUT_NAMES))
    return sets


def length_inputs(row_lengths, seed, device):
    """INPUT_SETS input sets of len(row_lengths) rows padded to the longest:
    ids past a row's length are [PAD], its mask zero there."""
    batch, seq = len(row_lengths), max(row_lengths)
    sets = []
    for i in range(INPUT_SETS):
        feeds = minilm.make_inputs(batch, seq, seed + i, False)
        for row, n in enumerate(row_lengths):
            feeds["attention_mask"][row, n:] = 0
            feeds["input_ids"][row, n:] = minilm.PAD_ID
        sets.append(tuple(torch.from_numpy(feeds[k]).to(device) for k in minilm.INPUT_NAMES))
    return sets


def reset_memory(device):
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def measure(impl, model, batch, seq, args, device, reference, row_lengths=None):
    """One record. reference: the eager output on input set 0, to check that
    the compiled model computes the same function (max_abs_vs_eager).
    row_lengths: a mixed-length batch (batch and seq follow from it)."""
    record = {"impl": impl, "batch": batch, "seq": seq, "precision": args.precision,
              "device": args.device_name, "padded": args.padded, "iters": args.iters,
              "compile_s": None}
    if row_lengths is not None:
        inputs = length_inputs(row_lengths, args.seed, device)
        record["lengths"] = args.lengths_tag
        record["real_tokens"] = int(sum(row_lengths))
    else:
        inputs = device_inputs(batch, seq, args.seed, args.padded, device)
    timer = Timer(device)
    reset_memory(device)
    fn = model
    if impl == "compile":
        torch._dynamo.reset()
        graphs_before = torch._dynamo.utils.counters["stats"]["unique_graphs"]
        fn = torch.compile(model, mode="reduce-overhead", dynamic=False)

    def call(i):
        if impl == "compile":
            # Each call is a new step: cudagraph trees may then reuse the
            # previous call's output buffers.
            torch.compiler.cudagraph_mark_step_begin()
        return fn(*inputs[i % INPUT_SETS])

    with torch.no_grad():
        if impl == "compile":
            begin = time.perf_counter()
            call(0)
            timer.sync()
            record["compile_s"] = time.perf_counter() - begin
        for i in range(args.warmup):
            call(i)
        timer.sync()
        out = call(0).float().cpu()
        if reference is not None:
            record["max_abs_vs_eager"] = float((out - reference).abs().max())
        gpu_ms, host_ms = [], []
        for i in range(args.iters):
            d, h = timer.time_call(lambda: call(i))
            gpu_ms.append(d)
            host_ms.append(h)

    median = statistics.median(gpu_ms)
    record.update({
        "gpu_ms_median": median,
        "host_ms_p50": percentile(host_ms, 50),
        "host_ms_p95": percentile(host_ms, 95),
        "seq_per_s": batch / (median / 1e3),
        "tflops": encoder_flops(batch, seq) / (median / 1e3) / 1e12,
        "peak_mem_mb": (torch.cuda.max_memory_allocated() / 2**20
                        if device.type == "cuda" else None),
    })
    if impl == "compile":
        # More than 1 means graph breaks: parts of the model ran eagerly.
        record["dynamo_graphs"] = int(torch._dynamo.utils.counters["stats"]["unique_graphs"]
                                      - graphs_before)
    return record, out


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def print_table(records, out=sys.stdout):
    header = (f"{'impl':<8} {'batch':>5} {'seq':>4} {'gpu ms':>9} {'seq/s':>10} {'p50 ms':>9} "
              f"{'p95 ms':>9} {'TFLOP/s':>8} {'peak MiB':>9} {'compile s':>9}")
    print(header, file=out)
    for r in records:
        if "error" in r:
            print(f"{r['impl']:<8} {r['batch']:>5} {r['seq']:>4}  FAILED: {r['error']}", file=out)
            continue
        print(f"{r['impl']:<8} {r['batch']:>5} {r['seq']:>4} {fmt(r['gpu_ms_median'], '9.3f')} "
              f"{fmt(r['seq_per_s'], '10.0f')} {fmt(r['host_ms_p50'], '9.3f')} "
              f"{fmt(r['host_ms_p95'], '9.3f')} {fmt(r['tflops'], '8.2f')} "
              f"{fmt(r['peak_mem_mb'], '9.1f')} {fmt(r['compile_s'], '9.1f')}", file=out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", type=parse_shapes,
                        default=parse_shapes("1x128,32x128,128x128,256x128,256x32"),
                        help="comma-separated BATCHxSEQ")
    parser.add_argument("--precision", choices=DTYPES, default="fp16")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--json", help="write the records here")
    parser.add_argument("--model", default="random",
                        help="random | nontrivial | DIR or weights file (see minilm.py)")
    parser.add_argument("--seed", type=int, default=0, help="model and input seed")
    parser.add_argument("--padded", action="store_true",
                        help="random lengths per row instead of all-ones masks")
    parser.add_argument("--lengths-file",
                        help="time one mixed-length batch with these lengths (JSON)")
    parser.add_argument("--batch", type=int, help="with --lengths: rows to draw")
    parser.add_argument("--lengths", help="MIN:MAX: draw --batch lengths as kiln bench does")
    parser.add_argument("--lengths-seed", type=int, default=0, help="the draw's seed")
    parser.add_argument("--impls", default=",".join(IMPLS),
                        help=f"comma-separated subset of {','.join(IMPLS)}")
    args = parser.parse_args(argv)
    impls = args.impls.split(",")
    if not impls or any(i not in IMPLS for i in impls):
        parser.error(f"--impls takes a comma-separated subset of {','.join(IMPLS)}")
    row_lengths = None
    if args.lengths_file and args.lengths:
        parser.error("--lengths-file and --lengths are alternatives")
    if args.lengths_file:
        try:
            rec = mixed.load(args.lengths_file)
        except (OSError, ValueError) as err:
            parser.error(str(err))
        row_lengths = rec["lengths"]
        args.lengths_tag = f"{rec.get('min')}:{rec.get('max')} seed {rec.get('seed')}"
    elif args.lengths:
        if not args.batch or args.batch < 1:
            parser.error("--lengths needs --batch N")
        try:
            lo, hi = mixed.parse_range(args.lengths)
        except ValueError as err:
            parser.error(str(err))
        row_lengths = mixed.random_lengths(args.batch, lo, hi, args.lengths_seed)
        args.lengths_tag = f"{lo}:{hi} seed {args.lengths_seed}"
    if row_lengths is not None:
        if max(row_lengths) > minilm.CONFIG["max_position_embeddings"]:
            parser.error("a length exceeds the model's positions")
        args.shapes = [(len(row_lengths), max(row_lengths))]
    if args.iters < 1 or args.warmup < 0:
        parser.error("need --iters >= 1 and --warmup >= 0")
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda, but torch sees no CUDA device", file=sys.stderr)
        return 1

    device = torch.device(args.device)
    args.device_name = (torch.cuda.get_device_name(device) if device.type == "cuda"
                        else platform.processor() or "cpu")
    print(f"peers: torch {torch.__version__}, {args.device_name}, {args.precision}, "
          f"model {args.model}, {'padded' if args.padded else 'all-ones'} masks", flush=True)
    model = minilm.build_model(args.model, args.seed, attn_implementation="sdpa")
    model = model.to(device=device, dtype=DTYPES[args.precision])

    records = []
    for batch, seq in args.shapes:
        reference = None
        for impl in impls:
            print(f"peers: {impl} {batch}x{seq}", flush=True)
            try:
                record, out = measure(impl, model, batch, seq, args, device, reference,
                                      row_lengths)
                if impl == "eager":
                    reference = out
            except Exception as err:  # one failed config must not stop the rest
                traceback.print_exc()
                record = {"impl": impl, "batch": batch, "seq": seq,
                          "error": f"{type(err).__name__}: {err}".splitlines()[0][:200]}
            finally:
                # Frees the CUDA-graph memory pools, which would otherwise
                # count in the next record's peak memory.
                torch._dynamo.reset()
            records.append(record)
            if args.json:
                # Written after every record: a crash later keeps what was measured.
                Path(args.json).write_text(json.dumps(records, indent=1) + "\n")
    print_table(records)
    return 1 if any("error" in r for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
