#!/usr/bin/env python3
"""Cuts an encoder's word-embedding table to the rows some inputs use, so that
a real model fits the GPU machine's 64 MiB transfer limit.

    subset_vocab.py --onnx model.onnx --inputs in.npz --out-onnx small.onnx --out-inputs small.npz

The table is the initializer that a Gather indexes with the graph input
`--ids` (default input_ids); every other weight is kept as is. The ids in
the inputs are remapped to the kept rows, so the small model on the new
inputs computes exactly what the model computes on the old ones: compare
its outputs with the full model's (check_embeddings.py --write-reference on
the full model and the old inputs).
"""

import argparse
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--onnx", required=True)
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--ids", default="input_ids")
    parser.add_argument("--out-onnx", required=True)
    parser.add_argument("--out-inputs", required=True)
    args = parser.parse_args(argv)

    model = onnx.load(args.onnx)
    inits = {i.name: i for i in model.graph.initializer}
    gathers = [n for n in model.graph.node
               if n.op_type == "Gather" and len(n.input) == 2 and n.input[1] == args.ids
               and n.input[0] in inits]
    if len(gathers) != 1:
        print(f"error: expected one Gather of an initializer by '{args.ids}', "
              f"found {len(gathers)}", file=sys.stderr)
        return 2
    table_name = gathers[0].input[0]
    table = numpy_helper.to_array(inits[table_name])
    with np.load(args.inputs) as npz:
        feeds = {k: npz[k] for k in npz.files}
    ids = feeds[args.ids]
    kept, remapped = np.unique(ids, return_inverse=True)
    if kept.min() < 0 or kept.max() >= table.shape[0]:
        print("error: ids out of the table's range", file=sys.stderr)
        return 2
    small = numpy_helper.from_array(np.ascontiguousarray(table[kept]), table_name)
    inits[table_name].CopyFrom(small)
    feeds[args.ids] = remapped.reshape(ids.shape).astype(ids.dtype)
    onnx.save(model, args.out_onnx)
    np.savez(args.out_inputs, **feeds)
    print(f"{table_name}: {table.shape[0]} rows -> {len(kept)}; wrote {args.out_onnx}, "
          f"{args.out_inputs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
