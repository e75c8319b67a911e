#!/usr/bin/env python3
"""Merges benchmark records into the markdown of docs/benchmarks.md.

    report.py kiln.json peers.json [-o benchmarks.md] [--command "how they were made"]

Each input is a JSON list of records {impl, batch, seq, gpu_ms_median,
host_ms_p50, host_ms_p95, seq_per_s, tflops, peak_mem_mb, compile_s}, as
`kiln bench --json` (impl "kiln") and scripts/bench/peers.py (impls "eager",
"compile") write them; an object holding such a list under "records" is read
too. Records with "error" show as failed. A missing file or field shows as "-"
rather than stopping the report; a file that is not JSON is an error.

The summary gives each shape's GPU time per implementation and kiln's speedup
over each peer (peer ms / kiln ms: above 1 means kiln is faster); a section
per shape follows with every measured field.
"""

import argparse
import json
import sys
from pathlib import Path

IMPL_ORDER = ("kiln", "eager", "compile")
IMPL_NAMES = {"kiln": "kiln", "eager": "PyTorch eager (SDPA)",
              "compile": 'torch.compile (reduce-overhead)'}
FIELDS = (("gpu_ms_median", "GPU ms (median)", ".3f"), ("seq_per_s", "seq/s", ",.0f"),
          ("host_ms_p50", "host p50 ms", ".3f"), ("host_ms_p95", "host p95 ms", ".3f"),
          ("tflops", "TFLOP/s", ".2f"), ("peak_mem_mb", "peak MiB", ".1f"),
          ("compile_s", "compile s", ".1f"))


class ReportError(Exception):
    pass


def load_records(path):
    """The records of one file; [] with a warning when it does not exist."""
    path = Path(path)
    if not path.is_file():
        print(f"report: warning: {path} does not exist; its columns stay empty", file=sys.stderr)
        return []
    try:
        data = json.loads(path.read_text())
    except ValueError as err:
        raise ReportError(f"{path}: not JSON: {err}") from None
    if isinstance(data, dict):
        data = data.get("records")
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ReportError(f"{path}: expected a list of records (or {{\"records\": [...]}})")
    for r in data:
        if not {"impl", "batch", "seq"} <= r.keys():
            raise ReportError(f"{path}: record without impl, batch and seq: {r}")
    return data


def index_records(records):
    """{(batch, seq): {impl: record}}, shapes in first-seen order; a repeated
    (impl, shape) keeps the first record."""
    table = {}
    for r in records:
        shape = (int(r["batch"]), int(r["seq"]))
        impls = table.setdefault(shape, {})
        if r["impl"] in impls:
            print(f"report: warning: second {r['impl']} record for {shape[0]}x{shape[1]} ignored",
                  file=sys.stderr)
            continue
        impls[r["impl"]] = r
    return table


def number(record, field):
    if record is None or "error" in record:
        return None
    value = record.get(field)
    return value if isinstance(value, (int, float)) and value == value else None


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def times(ratio):
    return "-" if ratio is None else f"{ratio:.2f}×"


def speedup(kiln, peer):
    k, p = number(kiln, "gpu_ms_median"), number(peer, "gpu_ms_median")
    return p / k if k and p is not None else None


def impl_order(table):
    seen = {impl for impls in table.values() for impl in impls}
    return [i for i in IMPL_ORDER if i in seen] + sorted(seen - set(IMPL_ORDER))


def describe_runs(records):
    """One line per distinct (impl, device, precision, masks) seen."""
    lines = set()
    for r in records:
        parts = [str(r[k]) for k in ("device", "precision") if r.get(k)]
        if "padded" in r:
            parts.append("padded masks" if r["padded"] else "all-ones masks")
        if parts:
            lines.add(f"- {r['impl']}: " + ", ".join(parts))
    return sorted(lines)


def render(records, command=None):
    table = index_records(records)
    impls = impl_order(table)
    out = ["# Benchmarks: all-MiniLM-L6-v2", ""]
    if command:
        out += ["Made with:", "", "```", command.strip(), "```", ""]
    runs = describe_runs(records)
    if runs:
        out += runs + [""]
    out += ["GPU ms is the median of CUDA-event times around each forward; speedup is peer ms / "
            "kiln ms (above 1: kiln is faster). TFLOP/s counts the encoder's matmuls only.", ""]

    out += ["## Summary", ""]
    head = ["batch×seq"] + [f"{IMPL_NAMES.get(i, i)} ms" for i in impls]
    peers = [i for i in impls if i != "kiln"]
    if "kiln" in impls:
        head += [f"kiln ÷ {i} (speedup)" for i in peers]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (batch, seq), by_impl in table.items():
        row = [f"{batch}×{seq}"]
        for i in impls:
            r = by_impl.get(i)
            row.append("failed" if r is not None and "error" in r
                       else fmt(number(r, "gpu_ms_median"), ".3f"))
        if "kiln" in impls:
            row += [times(speedup(by_impl.get("kiln"), by_impl.get(p))) for p in peers]
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    if {"kiln", "compile"} <= set(impls):
        ratios = [speedup(by_impl.get("kiln"), by_impl.get("compile")) for by_impl in table.values()]
        met = sum(1 for x in ratios if x is not None and x >= 1.0)
        out += [f"kiln matches or beats torch.compile at {met} of {len(ratios)} shapes.", ""]

    for (batch, seq), by_impl in table.items():
        out += [f"## batch {batch} × seq {seq}", ""]
        head = ["impl"] + [title for _, title, _ in FIELDS]
        if "kiln" in impls:
            head.append("kiln speedup")
        out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for i in impls:
            r = by_impl.get(i)
            if r is None:
                continue
            if "error" in r:
                failed = [IMPL_NAMES.get(i, i), f"failed: {str(r['error'])[:120]}"]
                out.append("| " + " | ".join(failed + [""] * (len(head) - 2)) + " |")
                continue
            row = [IMPL_NAMES.get(i, i)] + [fmt(number(r, f), spec) for f, _, spec in FIELDS]
            if "kiln" in impls:
                row.append(times(speedup(by_impl.get("kiln"), r)) if i != "kiln" else "-")
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="JSON record files (kiln's, the peers')")
    parser.add_argument("-o", "--out", help="write the markdown here (default: stdout)")
    parser.add_argument("--command", help="the command line(s) that produced the numbers")
    args = parser.parse_args(argv)
    try:
        records = [r for path in args.inputs for r in load_records(path)]
    except ReportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if not records:
        print("error: no records in " + ", ".join(args.inputs), file=sys.stderr)
        return 1
    text = render(records, args.command)
    if args.out:
        Path(args.out).write_text(text + "\n")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
