#!/usr/bin/env python3
"""The all-MiniLM-L6-v2 model the benchmarks and GPU checks run: building it,
exporting it to ONNX and making its inputs.

The model is sentence-transformers' pipeline: transformers' BertModel, mean
over the unmasked tokens, L2 normalization; one output, sentence_embedding
f32[batch, 384]. Weights are random (seeded) or loaded from a checkpoint, so
it builds without internet.

As a library (scripts/bench/peers.py and check_embeddings.py import it):

    model = build_model("random", seed=0)
    export_onnx(model, "minilm.onnx")
    feeds = make_inputs(batch=8, seq=128, seed=1, padded=True)

As a command (scripts/gpu-check.sh uses these):

    minilm.py export --weights random|nontrivial|PATH [--seed N] -o model.onnx
    minilm.py inputs --batch B --seq S [--seed N] [--padded] [--id-range LO:HI] -o in.npz
                     [--npy-dir DIR]
    minilm.py save-fp16 --weights PATH -o weights.safetensors

PATH is a Hugging Face model folder (config.json + model.safetensors or
pytorch_model.bin), or a .safetensors file of BertModel weights (fp32 or fp16,
keys bare or under "bert." / "0.auto_model." / "model."); save-fp16 writes the
latter at half the size, small enough to carry to the GPU machine.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import transformers

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# The fixtures' weight scheme: embeddings N(0,1), Linear weights
# N(0,1/fan_in), biases N(0,0.1^2), LayerNorm scales 1 + N(0,0.1^2), none of
# them trivial (transformers' init leaves biases 0 and scales 1, which would
# hide a kernel that ignores them).
from export_fixtures import randomize  # noqa: E402  (needs the path above)

CONFIG = dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
              intermediate_size=1536, max_position_embeddings=512, type_vocab_size=2,
              hidden_act="gelu", layer_norm_eps=1e-12, pad_token_id=0)
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "sentence_embedding"
# Random token ids stay clear of BERT's special tokens (ids < 1000) and of the
# vocabulary's tail, as real word pieces do.
FIRST_WORD_ID, END_WORD_ID = 1000, 30000
PAD_ID = 0
STATE_DICT_PREFIXES = ("", "bert.", "0.auto_model.", "model.")


class SentenceEmbedding(torch.nn.Module):
    """BertModel + masked mean pooling + L2 normalization."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        summed = (hidden * mask).sum(dim=1)
        counts = mask.sum(dim=1).clamp(min=1e-9)
        return F.normalize(summed / counts, p=2, dim=1)


def _read_state_dict(path):
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file or folder")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        return load_file(str(path))
    if path.suffix in (".bin", ".pt", ".pth"):
        return torch.load(str(path), map_location="cpu", weights_only=True)
    raise ValueError(f"{path}: weights must be a folder, .safetensors, .bin, .pt or .pth")


def _checkpoint_file(folder):
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{folder}: no model.safetensors or pytorch_model.bin")


def load_weights(bert, path):
    """Loads BertModel weights from a checkpoint file, whatever the key prefix;
    the pooler, which this model lacks, is ignored. Converted to fp32."""
    state = _read_state_dict(path)
    wanted = set(bert.state_dict().keys())
    # position_ids is a buffer some checkpoints carry and others do not.
    required = {k for k in wanted if not k.endswith("position_ids")}
    for prefix in STATE_DICT_PREFIXES:
        mapped = {k[len(prefix):]: v for k, v in state.items()
                  if k.startswith(prefix) and k[len(prefix):] in wanted}
        if required <= mapped.keys():
            break
    else:
        missing = sorted(required - {k for k in state})[:5]
        raise ValueError(f"{path}: not BertModel weights of this architecture under any of the "
                         f"prefixes {STATE_DICT_PREFIXES}; e.g. missing {missing}")
    for key, value in mapped.items():
        expected = bert.state_dict()[key].shape
        if value.shape != expected:
            raise ValueError(f"{path}: {key} has shape {list(value.shape)}, "
                             f"this architecture needs {list(expected)}")
    bert.load_state_dict({k: v.float() for k, v in mapped.items()}, strict=False)


def build_model(weights="random", seed=0, attn_implementation="sdpa"):
    """The model in fp32 on the CPU, in eval mode.

    weights: "random" (transformers' init under torch.manual_seed(seed), as
    the orientation measurement in shared/GPU-MACHINE.md), "nontrivial"
    (export_fixtures.randomize(seed), the fixtures' scheme: for accuracy
    checks), or a checkpoint path
    (a Hugging Face folder or a .safetensors / .bin file)."""
    config = transformers.BertConfig(**CONFIG, attn_implementation=attn_implementation)
    torch.manual_seed(seed)
    bert = transformers.BertModel(config, add_pooling_layer=False)
    if weights == "nontrivial":
        randomize(bert, seed)
    elif weights != "random":
        path = Path(weights)
        load_weights(bert, _checkpoint_file(path) if path.is_dir() else path)
    return SentenceEmbedding(bert).eval()


def export_onnx(model, path, opset=17):
    """Exports with the TorchScript exporter (dynamo=False: one self-contained
    file, weights inline) and dynamic batch and seq. Attention is exported as
    transformers' eager implementation (MatMul, Softmax), the form kiln's
    importer and fusion passes are tested on; the model is left as it was."""
    bert = model.bert
    previous = bert.config._attn_implementation
    bert.set_attn_implementation("eager")
    try:
        example = make_inputs(2, 16, seed=0, padded=True)
        args = tuple(torch.from_numpy(example[k]) for k in INPUT_NAMES)
        axes = {0: "batch", 1: "seq"}
        with torch.no_grad():
            torch.onnx.export(model.float().cpu(), args, str(path), dynamo=False,
                              opset_version=opset, input_names=list(INPUT_NAMES),
                              output_names=[OUTPUT_NAME],
                              dynamic_axes={**{k: axes for k in INPUT_NAMES},
                                            OUTPUT_NAME: {0: "batch"}},
                              do_constant_folding=True)
    finally:
        bert.set_attn_implementation(previous)


def make_inputs(batch, seq, seed, padded, id_range=(FIRST_WORD_ID, END_WORD_ID)):
    """Inputs keyed by input name, int64 [batch, seq]: token ids uniform in
    id_range (default [1000, 30000)), token types 0, and the mask all ones, or with padded=True
    right-padded to a random length per row in [seq/4, seq] (row 0 always
    full, so the longest row spans seq; padded positions hold id 0, [PAD])."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(id_range[0], id_range[1], size=(batch, seq), dtype=np.int64)
    mask = np.ones((batch, seq), dtype=np.int64)
    if padded:
        lengths = rng.integers(max(1, seq // 4), seq + 1, size=batch)
        lengths[0] = seq
        for row, n in enumerate(lengths):
            mask[row, n:] = 0
            ids[row, n:] = PAD_ID
    types = np.zeros((batch, seq), dtype=np.int64)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def save_inputs(feeds, path, npy_dir=None):
    """An .npz keyed by input name; with npy_dir also one NAME.npy per input
    (for `kiln run --input NAME=FILE.npy`)."""
    np.savez(path, **feeds)
    if npy_dir is not None:
        Path(npy_dir).mkdir(parents=True, exist_ok=True)
        for name, array in feeds.items():
            np.save(Path(npy_dir) / f"{name}.npy", array)


def save_fp16(weights, out):
    from safetensors.torch import save_file
    bert = build_model(weights).bert
    save_file({k: (v.half() if v.is_floating_point() else v).contiguous()
               for k, v in bert.state_dict().items()}, str(out))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="build the model and export it to ONNX")
    exp.add_argument("--weights", default="random", help="random | nontrivial | PATH")
    exp.add_argument("--seed", type=int, default=0)
    exp.add_argument("--opset", type=int, default=17)
    exp.add_argument("-o", "--out", required=True)
    inp = sub.add_parser("inputs", help="write random inputs as .npz")
    inp.add_argument("--batch", type=int, required=True)
    inp.add_argument("--seq", type=int, required=True)
    inp.add_argument("--seed", type=int, default=0)
    inp.add_argument("--padded", action="store_true")
    inp.add_argument("--id-range", default=f"{FIRST_WORD_ID}:{END_WORD_ID}",
                     help="token ids are drawn from [LO, HI) (smaller for small test models)")
    inp.add_argument("-o", "--out", required=True)
    inp.add_argument("--npy-dir", help="also write NAME.npy per input here")
    half = sub.add_parser("save-fp16", help="write the weights as fp16 safetensors")
    half.add_argument("--weights", required=True, help="PATH (folder or file)")
    half.add_argument("-o", "--out", required=True)
    args = parser.parse_args(argv)

    if args.command == "export":
        export_onnx(build_model(args.weights, args.seed), args.out, args.opset)
    elif args.command == "inputs":
        if args.batch < 1 or args.seq < 1 or args.seq > CONFIG["max_position_embeddings"]:
            parser.error(f"need batch >= 1 and 1 <= seq <= {CONFIG['max_position_embeddings']}")
        try:
            low, high = (int(x) for x in args.id_range.split(":"))
        except ValueError:
            parser.error(f"--id-range expects LO:HI, got '{args.id_range}'")
        if not 0 <= low < high:
            parser.error(f"--id-range {args.id_range} is empty")
        save_inputs(make_inputs(args.batch, args.seq, args.seed, args.padded, (low, high)),
                    args.out, args.npy_dir)
    else:
        save_fp16(args.weights, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
