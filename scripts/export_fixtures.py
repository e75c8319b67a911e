#!/usr/bin/env python3
"""Builds kiln's ONNX model fixtures (tests/models/) from transformers models.

Runs where torch, transformers, onnx and onnxruntime are installed (the GPU
machine; the GPU itself is not used: everything runs in fp32 on the CPU so the
reference outputs are reproducible). One call writes every file:

    python3 scripts/export_fixtures.py --out OUT [--tokenizer DIR]
    # add or redo some fixtures in a copy of tests/models, keeping the rest:
    python3 scripts/export_fixtures.py --out COPY --merge --skip-real --only NAME...

FIXTURES lists every fixture: the first ten (eager attention, exported with
torch 2.11), then the zoo of issue 12 (each architecture of ZOO by the
TorchScript exporter at opsets 14 and 17 and by dynamo), exported later with
torch 2.15 on the CPU; each manifest entry records its versions.

Weights are random with fixed seeds and deliberately non-trivial (no all-ones
LayerNorm scales, no zero biases; except the *_fresh architectures, kept as
transformers initializes them), so that a kernel ignoring a bias or a scale
fails its test, and so that every parameter of a model has distinct values:
the all-MiniLM-L6-v2 weight map matches ONNX initializers to torch parameters
by value.

Besides the small fixtures it exports the real all-MiniLM-L6-v2 architecture
(random weights) once more, keeps only its graph, maps each weight initializer
to its torch parameter, and checks the map end to end with
scripts/fetch_minilm.py on a safetensors file written from the torch model.
"""

import argparse
import json
import shutil
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
import transformers
from onnx import external_data_helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fetch_minilm  # noqa: E402  (needs the path above)

SEQ_AXES = {0: "batch", 1: "seq"}
FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16,
               onnx.TensorProto.DOUBLE)
# Token ids below this are left to special tokens ([PAD] 0, <pad> 1, ...), so
# random "words" never collide with the padding id.
FIRST_WORD_ID = 5


class Encoder(torch.nn.Module):
    """Runs a transformers encoder and returns the named outputs as a tuple:
    both exporters then see plain tensors instead of a ModelOutput."""

    def __init__(self, model, outputs):
        super().__init__()
        self.model = model
        self.outputs = outputs

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                         token_type_ids=token_type_ids)
        return tuple(getattr(out, name) for name in self.outputs)


class EncoderWithoutTokenTypes(torch.nn.Module):
    """Encoder for models whose forward takes no token_type_ids (DistilBERT,
    MPNet) or whose real checkpoints never use them (RoBERTa)."""

    def __init__(self, model, outputs):
        super().__init__()
        self.model = model
        self.outputs = outputs

    def forward(self, input_ids, attention_mask):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return tuple(getattr(out, name) for name in self.outputs)


class SentenceEmbedding(torch.nn.Module):
    """sentence-transformers' all-MiniLM-L6-v2 pipeline: BertModel, mean over
    the unmasked tokens, L2 normalization."""

    def __init__(self, config):
        super().__init__()
        self.bert = transformers.BertModel(config, add_pooling_layer=False)

    def forward(self, input_ids, attention_mask, token_type_ids):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        summed = (hidden * mask).sum(dim=1)
        counts = mask.sum(dim=1).clamp(min=1e-9)
        return F.normalize(summed / counts, p=2, dim=1)


def randomize(module, seed):
    """Overwrites every parameter with seeded random values of a sensible
    scale: embeddings N(0,1), Linear weights N(0,1/fan_in), biases N(0,0.1^2),
    LayerNorm scales 1 + N(0,0.1^2)."""
    gen = torch.Generator().manual_seed(seed)
    done = set()
    with torch.no_grad():
        for mod in module.modules():
            for pname, p in mod.named_parameters(recurse=False):
                noise = torch.randn(p.shape, generator=gen)
                if isinstance(mod, torch.nn.LayerNorm) and pname == "weight":
                    p.copy_(1.0 + 0.1 * noise)
                elif isinstance(mod, torch.nn.Embedding):
                    p.copy_(noise)
                elif isinstance(mod, torch.nn.Linear) and pname == "weight":
                    p.copy_(noise / p.shape[1] ** 0.5)
                else:
                    p.copy_(0.1 * noise)
                done.add(id(p))
    assert all(id(p) in done for p in module.parameters())


def make_inputs(seed, lengths, seq, vocab, pad_id, input_names):
    """Random token ids with right padding: row b has lengths[b] real tokens,
    the rest is pad_id with attention_mask 0. Token types mark the second half
    of each row's real tokens as segment 1, as for a sentence pair."""
    rng = np.random.default_rng(seed)
    batch = len(lengths)
    ids = rng.integers(FIRST_WORD_ID, vocab, size=(batch, seq), dtype=np.int64)
    mask = np.zeros((batch, seq), dtype=np.int64)
    types = np.zeros((batch, seq), dtype=np.int64)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
        ids[b, n:] = pad_id
        types[b, n // 2:n] = 1
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    return {name: feeds[name] for name in input_names}


def run_torch(module, feeds):
    with torch.no_grad():
        outs = module(*[torch.from_numpy(feeds[k]) for k in feeds])
    if isinstance(outs, torch.Tensor):
        outs = (outs,)
    return [o.detach().cpu().numpy() for o in outs]


def ort_session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run_ort(path, feeds):
    sess = ort_session(path)
    wanted = [i.name for i in sess.get_inputs()]
    names = [o.name for o in sess.get_outputs()]
    values = sess.run(names, {k: feeds[k] for k in wanted})
    return dict(zip(names, values)), wanted


def max_diffs(torch_outs, ort_outs, output_names, mask=None):
    """Max abs difference per output; with `mask` ([batch, seq], 1 for real
    tokens), per-token outputs ([batch, seq, ...]) count only real tokens."""
    out = {}
    for name, t in zip(output_names, torch_outs):
        d = np.abs(t - ort_outs[name])
        if mask is not None and d.ndim >= 2 and d.shape[:2] == mask.shape:
            d = d[mask.astype(bool)]
        out[name] = float(np.max(d))
    return out


def op_histogram(model):
    counts = Counter()
    for node in model.graph.node:
        domain = node.domain if node.domain not in ("", "ai.onnx") else ""
        counts[f"{domain}::{node.op_type}" if domain else node.op_type] += 1
    return dict(sorted(counts.items()))


def describe_io(values):
    out = {}
    for v in values:
        dims = [d.dim_param if d.HasField("dim_param") else
                (d.dim_value if d.HasField("dim_value") else "?")
                for d in v.type.tensor_type.shape.dim]
        out[v.name] = {"dtype": onnx.helper.tensor_dtype_to_np_dtype(
            v.type.tensor_type.elem_type).name, "shape": dims}
    return out


def default_opset(model):
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def export_torchscript(module, feeds, path, opset, input_names, output_names, output_axes):
    dynamic_axes = {name: SEQ_AXES for name in input_names}
    dynamic_axes.update(output_axes)
    torch.onnx.export(module, tuple(torch.from_numpy(feeds[k]) for k in input_names),
                      str(path), dynamo=False, opset_version=opset,
                      input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes, do_constant_folding=True)
    return "dynamic_axes"


def export_dynamo(module, feeds, folder, input_names, output_names, output_axes):
    """The torch.export-based exporter at its default opset; weights go to
    model.onnx.data however small they are, as large models ship."""
    args = tuple(torch.from_numpy(feeds[k]) for k in input_names)
    attempts = [
        ("dynamic_shapes with named dims",
         dict(dynamic_shapes={name: dict(SEQ_AXES) for name in input_names})),
        ("dynamic_axes", dict(dynamic_axes={**{n: SEQ_AXES for n in input_names},
                                            **output_axes})),
    ]
    errors = []
    for label, kwargs in attempts:
        try:
            program = torch.onnx.export(module, args, dynamo=True, input_names=input_names,
                                        output_names=output_names, **kwargs)
            break
        except Exception as err:  # each spelling of dynamic dims is tried in turn
            errors.append(f"{label}: {type(err).__name__}: {err}")
            print(f"  dynamo export with {label} failed: {type(err).__name__}: {err}")
    else:
        raise RuntimeError("dynamo export failed: " + " | ".join(errors))
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "model.onnx.data"
    if data.exists():  # onnx appends to an existing data file
        data.unlink()
    proto = program.model_proto
    # The exporter annotates every node (and value) with its torch origin:
    # stack traces, module paths, FX node names. They are 80% of the graph
    # file's bytes and no part of the model's meaning: dropped.
    for node in proto.graph.node:
        del node.metadata_props[:]
    for value in proto.graph.value_info:
        del value.metadata_props[:]
    external_data_helper.convert_model_to_external_data(
        proto, all_tensors_to_one_file=True, location="model.onnx.data", size_threshold=0,
        convert_attribute=False)
    # Integer initializers (shapes, axes, slice bounds) stay inline:
    # onnxruntime's shape inference cannot read external data and refuses
    # the model otherwise.
    for init in proto.graph.initializer:
        if init.data_type not in FLOAT_TYPES:
            init.data_location = onnx.TensorProto.DEFAULT
            del init.external_data[:]
    onnx.save_model(proto, str(folder / "model.onnx"))
    return label


# Attention implementation per architecture: eager for the fixtures made
# before the zoo (their graphs are pinned by lit tests), transformers' default
# ("sdpa" where the model supports it) for the zoo's own architectures, as a
# user exporting a fresh checkout gets. None means: pass nothing.
ATTENTION = {"bert": "eager", "bert_sdpa": "sdpa", "bert_fresh": None, "minilm_l2": "eager",
             "minilm_real": "eager", "distilbert": "eager", "roberta": "eager",
             "mpnet": "eager", "electra": "eager", "electra_fresh": None, "xlmr": None,
             "albert": None, "deberta": None, "modernbert": None, "modernbert_fresh": None}
# Architectures kept as transformers initializes them (from_config: zero
# biases, LayerNorm scales 1, weights N(0, 0.02)) instead of randomize():
# the "freshly initialized" export form, whose equal initializers the
# exporters deduplicate behind Identity nodes.
FRESH = ("bert_fresh", "electra_fresh", "modernbert_fresh")


def build_model(kind, seed):
    """Returns (torch module, input names, output names, output dynamic axes,
    vocab size, pad id, config dict). kind picks the architecture."""
    torch.manual_seed(seed)
    attn = ATTENTION[kind]
    eager = {"attn_implementation": attn} if attn else {}
    if kind == "bert_fresh":
        # Smaller than bert's sizes: the fresh weights need no comparison with it.
        cfg = transformers.BertConfig(vocab_size=128, hidden_size=32, num_hidden_layers=2,
                                      num_attention_heads=4, intermediate_size=64,
                                      max_position_embeddings=64, type_vocab_size=2,
                                      hidden_act="gelu", **eager)
        module = Encoder(transformers.BertModel(cfg), ["last_hidden_state", "pooler_output"])
        ins = ["input_ids", "attention_mask", "token_type_ids"]
        outs = ["last_hidden_state", "pooler_output"]
        axes = {"last_hidden_state": SEQ_AXES, "pooler_output": {0: "batch"}}
    elif kind in ("bert", "bert_sdpa"):
        cfg = transformers.BertConfig(vocab_size=512, hidden_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, intermediate_size=128,
                                      max_position_embeddings=64, type_vocab_size=2,
                                      hidden_act="gelu", **eager)
        module = Encoder(transformers.BertModel(cfg), ["last_hidden_state", "pooler_output"])
        ins = ["input_ids", "attention_mask", "token_type_ids"]
        outs = ["last_hidden_state", "pooler_output"]
        axes = {"last_hidden_state": SEQ_AXES, "pooler_output": {0: "batch"}}
    elif kind == "minilm_l2":
        cfg = transformers.BertConfig(vocab_size=512, hidden_size=96, num_hidden_layers=2,
                                      num_attention_heads=3, intermediate_size=384,
                                      max_position_embeddings=64, type_vocab_size=2,
                                      hidden_act="gelu", **eager)
        module = SentenceEmbedding(cfg)
        ins = ["input_ids", "attention_mask", "token_type_ids"]
        outs = ["sentence_embedding"]
        axes = {"sentence_embedding": {0: "batch"}}
    elif kind == "minilm_real":
        cfg = transformers.BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6,
                                      num_attention_heads=12, intermediate_size=1536,
                                      max_position_embeddings=512, type_vocab_size=2,
                                      hidden_act="gelu", layer_norm_eps=1e-12, **eager)
        module = SentenceEmbedding(cfg)
        ins = ["input_ids", "attention_mask", "token_type_ids"]
        outs = ["sentence_embedding"]
        axes = {"sentence_embedding": {0: "batch"}}
    elif kind == "distilbert":
        cfg = transformers.DistilBertConfig(vocab_size=256, dim=32, n_layers=2, n_heads=4,
                                            hidden_dim=64, max_position_embeddings=64,
                                            activation="gelu", **eager)
        module = EncoderWithoutTokenTypes(transformers.DistilBertModel(cfg), ["last_hidden_state"])
        ins = ["input_ids", "attention_mask"]
        outs = ["last_hidden_state"]
        axes = {"last_hidden_state": SEQ_AXES}
    elif kind == "roberta":
        # Real RoBERTa checkpoints: one token type, pad id 1, positions start
        # after the pad id (max positions = 2 + longest sequence).
        cfg = transformers.RobertaConfig(vocab_size=256, hidden_size=32, num_hidden_layers=2,
                                         num_attention_heads=4, intermediate_size=64,
                                         max_position_embeddings=66, type_vocab_size=1,
                                         pad_token_id=1, bos_token_id=0, eos_token_id=2,
                                         hidden_act="gelu", **eager)
        module = EncoderWithoutTokenTypes(transformers.RobertaModel(cfg, add_pooling_layer=False),
                                          ["last_hidden_state"])
        ins = ["input_ids", "attention_mask"]
        outs = ["last_hidden_state"]
        axes = {"last_hidden_state": SEQ_AXES}
    elif kind == "mpnet":
        cfg = transformers.MPNetConfig(vocab_size=256, hidden_size=32, num_hidden_layers=2,
                                       num_attention_heads=4, intermediate_size=64,
                                       max_position_embeddings=66,
                                       relative_attention_num_buckets=32, pad_token_id=1,
                                       hidden_act="gelu", **eager)
        module = EncoderWithoutTokenTypes(transformers.MPNetModel(cfg, add_pooling_layer=False),
                                          ["last_hidden_state"])
        ins = ["input_ids", "attention_mask"]
        outs = ["last_hidden_state"]
        axes = {"last_hidden_state": SEQ_AXES}
    elif kind in ("electra", "electra_fresh"):
        # embedding_size < hidden_size puts ELECTRA's embeddings_project in the graph.
        cfg = transformers.ElectraConfig(vocab_size=256, embedding_size=16, hidden_size=32,
                                         num_hidden_layers=2, num_attention_heads=4,
                                         intermediate_size=64, max_position_embeddings=64,
                                         type_vocab_size=2, hidden_act="gelu", **eager)
        module = Encoder(transformers.ElectraModel(cfg), ["last_hidden_state"])
        ins = ["input_ids", "attention_mask", "token_type_ids"]
        outs = ["last_hidden_state"]
        axes = {"last_hidden_state": SEQ_AXES}
    elif kind == "xlmr":
        # XLM-RoBERTa: RoBERTa's graph (pad id 1, positions from the ids) at
        # transformers' default attention.
        cfg = transformers.XLMRobertaConfig(vocab_size=256, hidden_size=32, num_hidden_layers=2,
                                            num_attention_heads=4, intermediate_size=64,
                                            max_position_embeddings=66, type_vocab_size=1,
                                            pad_token_id=1, bos_token_id=0, eos_token_id=2,
                                            hidden_act="gelu", **eager)
        module = EncoderWithoutTokenTypes(
            transformers.XLMRobertaModel(cfg, add_pooling_layer=False), ["last_hidden_state"])
        ins = ["input_ids", "attention_mask"]
        outs = ["last_hidden_state"]
        axes = {"last_hidden_state": SEQ_AXES}
    elif kind == "albert":
        # ALBERT: factorized embeddings (16 projected to 32) and one layer
        # whose weights both layers share; gelu_new (tanh GELU) as released.
        cfg = transformers.AlbertConfig(vocab_size=256, embedding_size=16, hidden_size=32,
                                        num_hidden_layers=2, num_hidden_groups=1,
                                        num_attention_heads=4, intermediate_size=64,
                                        max_position_embeddings=64, type_vocab_size=2,
                                        hidden_act="gelu_new", **eager)
        module = Encoder(transformers.AlbertModel(cfg), ["last_hidden_state", "pooler_output"])
        ins = ["input_ids", "attention_mask", "token_type_ids"]
        outs = ["last_hidden_state", "pooler_output"]
        axes = {"last_hidden_state": SEQ_AXES, "pooler_output": {0: "batch"}}
    elif kind == "deberta":
        # DeBERTa-v3's configuration of DebertaV2Model: disentangled attention
        # (c2p and p2c through log buckets of relative positions), shared
        # attention keys, no absolute positions, no token types.
        cfg = transformers.DebertaV2Config(vocab_size=256, hidden_size=32, num_hidden_layers=2,
                                           num_attention_heads=4, intermediate_size=64,
                                           max_position_embeddings=64, relative_attention=True,
                                           pos_att_type=["p2c", "c2p"], position_buckets=16,
                                           max_relative_positions=64, norm_rel_ebd="layer_norm",
                                           share_att_key=True, position_biased_input=False,
                                           type_vocab_size=0, hidden_act="gelu", **eager)
        module = EncoderWithoutTokenTypes(transformers.DebertaV2Model(cfg), ["last_hidden_state"])
        ins = ["input_ids", "attention_mask"]
        outs = ["last_hidden_state"]
        axes = {"last_hidden_state": SEQ_AXES}
    elif kind in ("modernbert", "modernbert_fresh"):
        # ModernBERT: rotary embeddings, GeGLU, no biases anywhere, layer 0
        # global attention and layer 1 local (a window of 8: +-4 tokens).
        cfg = transformers.ModernBertConfig(vocab_size=256, hidden_size=32, num_hidden_layers=2,
                                            num_attention_heads=4, intermediate_size=64,
                                            max_position_embeddings=64, pad_token_id=0,
                                            bos_token_id=1, eos_token_id=2, cls_token_id=1,
                                            sep_token_id=2, global_attn_every_n_layers=2,
                                            local_attention=8, hidden_activation="gelu", **eager)
        module = EncoderWithoutTokenTypes(transformers.ModernBertModel(cfg), ["last_hidden_state"])
        ins = ["input_ids", "attention_mask"]
        outs = ["last_hidden_state"]
        axes = {"last_hidden_state": SEQ_AXES}
    else:
        raise ValueError(kind)
    module.eval()
    if kind not in FRESH:
        randomize(module, seed)
    inner = module.bert if isinstance(module, SentenceEmbedding) else module.model
    got = inner.config._attn_implementation
    if attn and got != attn:
        raise RuntimeError(f"{kind}: attention implementation is {got}, expected {attn}")
    config = {k: v for k, v in inner.config.to_dict().items()
              if isinstance(v, (int, float, str, bool)) and not k.startswith("_")
              and k not in ("transformers_version",)}
    config["attn_implementation"] = got
    config["weights"] = "from_config" if kind in FRESH else "randomized"
    pad_id = cfg.pad_token_id if cfg.pad_token_id is not None else 0
    return module, ins, outs, axes, cfg.vocab_size, pad_id, config


# (fixture name, architecture, exporter, opset or None for the exporter's default)
FIXTURES = [
    ("bert_opset14", "bert", "torchscript", 14),
    ("bert_opset17", "bert", "torchscript", 17),
    ("bert_dynamo", "bert", "dynamo", None),
    ("distilbert_opset17", "distilbert", "torchscript", 17),
    ("roberta_opset17", "roberta", "torchscript", 17),
    ("mpnet_opset17", "mpnet", "torchscript", 17),
    ("electra_opset17", "electra", "torchscript", 17),
    ("minilm_l2_opset14", "minilm_l2", "torchscript", 14),
    ("minilm_l2_opset17", "minilm_l2", "torchscript", 17),
    ("minilm_l2_dynamo", "minilm_l2", "dynamo", None),
]
# The zoo (issue 12): every architecture people deploy, by each exporter.
# The fixtures above were exported before it and are not regenerated with it
# (export with --only ... --merge to add or redo some).
ZOO = ["bert_sdpa", "bert_fresh", "distilbert", "roberta", "xlmr", "electra", "electra_fresh",
       "mpnet", "albert", "deberta", "modernbert", "modernbert_fresh"]
_done = {name for name, *_ in FIXTURES}
for _arch in ZOO:
    for _name, _exporter, _opset in ((f"{_arch}_opset14", "torchscript", 14),
                                     (f"{_arch}_opset17", "torchscript", 17),
                                     (f"{_arch}_dynamo", "dynamo", None)):
        if _name not in _done:
            FIXTURES.append((_name, _arch, _exporter, _opset))
# bert_sdpa shares bert's seed, hence its weights and inputs: their outputs agree.
ARCH_SEEDS = {"bert": 1, "distilbert": 2, "roberta": 3, "mpnet": 4, "electra": 5,
              "minilm_l2": 6, "minilm_real": 7, "bert_sdpa": 1, "bert_fresh": 8, "xlmr": 9,
              "electra_fresh": 10, "albert": 11, "deberta": 12, "modernbert": 13,
              "modernbert_fresh": 14}

# Shapes: the exporter traces with EXPORT_SHAPE; the stored test inputs use
# another batch and sequence length, and a third shape checks once more that
# no size was baked into the graph.
EXPORT_SHAPE = ([12, 7], 12)
TEST_SHAPE = ([16, 11, 6], 16)
DYNAMIC_SHAPE = ([5, 9], 9)


def export_fixture(out, name, arch, exporter, opset):
    seed = ARCH_SEEDS[arch]
    module, ins, outs, axes, vocab, pad_id, config = build_model(arch, seed)
    export_feeds = make_inputs(100 + seed, *EXPORT_SHAPE, vocab, pad_id, ins)
    test_feeds = make_inputs(200 + seed, *TEST_SHAPE, vocab, pad_id, ins)
    dyn_feeds = make_inputs(300 + seed, *DYNAMIC_SHAPE, vocab, pad_id, ins)

    if exporter == "torchscript":
        model_rel = f"{name}.onnx"
        dyn_spec = export_torchscript(module, export_feeds, out / model_rel, opset, ins, outs, axes)
        external = None
    else:
        model_rel = f"{name}/model.onnx"
        dyn_spec = export_dynamo(module, export_feeds, out / name, ins, outs, axes)
        external = f"{name}/model.onnx.data"
    model_path = out / model_rel
    onnx.checker.check_model(str(model_path))
    model = onnx.load(str(model_path), load_external_data=False)

    ort_outs, used_inputs = run_ort(model_path, test_feeds)
    torch_outs = run_torch(module, test_feeds)
    diffs = max_diffs(torch_outs, ort_outs, outs)
    real_diffs = max_diffs(torch_outs, ort_outs, outs, test_feeds["attention_mask"])
    dyn_outs, _ = run_ort(model_path, dyn_feeds)
    dyn_diffs = max_diffs(run_torch(module, dyn_feeds), dyn_outs, outs)

    np.savez(out / f"{name}.inputs.npz", **{k: test_feeds[k] for k in used_inputs})
    np.savez(out / f"{name}.ort.npz", **ort_outs)
    files = [model_rel] + ([external] if external else [])
    entry = {
        "name": name,
        "file": model_rel,
        "external_data": external,
        "architecture": arch,
        "transformers_class": type(module.bert if arch.startswith("minilm") else module.model).__name__,
        "exporter": exporter,
        "exporter_call": ("torch.onnx.export(dynamo=False, do_constant_folding=True)"
                          if exporter == "torchscript" else
                          "torch.onnx.export(dynamo=True) at its default opset"),
        "dynamic_dims_given_as": dyn_spec,
        "opset": default_opset(model),
        "ir_version": model.ir_version,
        "opset_imports": {o.domain or "ai.onnx": o.version for o in model.opset_import},
        "seed": seed,
        "versions": VERSIONS,
        "config": config,
        "inputs": f"{name}.inputs.npz",
        "outputs": f"{name}.ort.npz",
        "input_shapes": describe_io(model.graph.input),
        "output_shapes": describe_io(model.graph.output),
        "test_batch_lengths": TEST_SHAPE[0],
        "test_seq": TEST_SHAPE[1],
        "torch_vs_ort_max_abs_diff": max(diffs.values()),
        "torch_vs_ort_max_abs_diff_per_output": diffs,
        # Over real tokens only: padded positions whose attention rows are
        # fully masked have no defined value, and exporters may differ there.
        "torch_vs_ort_max_abs_diff_real_tokens": max(real_diffs.values()),
        "dynamic_shape_check": {"batch_lengths": DYNAMIC_SHAPE[0], "seq": DYNAMIC_SHAPE[1],
                                "torch_vs_ort_max_abs_diff": max(dyn_diffs.values())},
        "initializers": len(model.graph.initializer),
        "nodes": len(model.graph.node),
        "local_functions": len(model.functions),
        "ops": op_histogram(model),
        "bytes": {f: (out / f).stat().st_size for f in files},
    }
    print(f"{name}: opset {entry['opset']}, {entry['nodes']} nodes, torch-vs-ort "
          f"{entry['torch_vs_ort_max_abs_diff']:.3g} (real tokens "
          f"{entry['torch_vs_ort_max_abs_diff_real_tokens']:.3g}; other shape "
          f"{entry['dynamic_shape_check']['torch_vs_ort_max_abs_diff']:.3g}), "
          f"{sum(entry['bytes'].values())} bytes")
    print(f"  ops: {entry['ops']}")
    return entry


def externalize_parameters(model, params, location):
    """Moves every initializer that equals a torch parameter (as is, or
    transposed as the TorchScript exporter folds Linear weights into MatMul
    operands) into the external file `location`, 64-byte aligned. Returns the
    map entries and the data bytes. Initializers that are no parameter (shape
    constants, position_ids) stay inline."""
    by_size = {}
    for pname, arr in params.items():
        by_size.setdefault(arr.size, []).append(pname)
    entries, chunks, offset, used = [], [], 0, Counter()
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        matches = []
        for pname in by_size.get(arr.size, []):
            p = params[pname]
            if p.dtype != arr.dtype:
                continue
            if p.shape == arr.shape and np.array_equal(p, arr):
                matches.append((pname, False))
            elif p.ndim == 2 and p.T.shape == arr.shape and np.array_equal(p.T, arr):
                matches.append((pname, True))
        if not matches:
            continue
        if len(matches) > 1:
            raise RuntimeError(f"initializer {init.name} matches several parameters: {matches}")
        pname, transposed = matches[0]
        used[pname] += 1
        data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        offset = (offset + 63) // 64 * 64
        entries.append({"initializer": init.name, "source": pname, "transpose": transposed,
                        "shape": list(arr.shape), "dtype": arr.dtype.name,
                        "offset": offset, "length": len(data)})
        chunks.append((offset, data))
        offset += len(data)
        for field in ("raw_data", "float_data", "int32_data", "int64_data", "double_data"):
            init.ClearField(field)
        init.data_location = onnx.TensorProto.EXTERNAL
        del init.external_data[:]
        for key, value in (("location", location), ("offset", str(entries[-1]["offset"])),
                           ("length", str(len(data)))):
            kv = init.external_data.add()
            kv.key, kv.value = key, value
    blob = bytearray(offset)
    for start, data in chunks:
        blob[start:start + len(data)] = data
    return entries, bytes(blob), used


def save_safetensors(path, tensors):
    """Writes the safetensors layout the real package ships: 8-byte header
    length, JSON header (keys sorted), raw little-endian data."""
    codes = {"float32": "F32", "int64": "I64"}
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for key in sorted(tensors):
        arr = tensors[key]
        n = arr.nbytes
        header[key] = {"dtype": codes[arr.dtype.name], "shape": list(arr.shape),
                       "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for key in sorted(tensors):
            f.write(np.ascontiguousarray(tensors[key]).tobytes())


def export_real_minilm(out, tokenizer_dir):
    """The real all-MiniLM-L6-v2 architecture with random weights: graph +
    weight map for scripts/fetch_minilm.py, checked end to end here."""
    name = "all-MiniLM-L6-v2"
    seed = ARCH_SEEDS["minilm_real"]
    module, ins, outs, axes, vocab, pad_id, config = build_model("minilm_real", seed)
    export_feeds = make_inputs(100 + seed, *EXPORT_SHAPE, vocab, pad_id, ins)
    report = {"name": name, "config": config, "seed": seed, "exporter": "torchscript",
              "opset": 17}

    work = Path(tempfile.mkdtemp(prefix="minilm-"))
    full = work / "full.onnx"
    export_torchscript(module, export_feeds, full, 17, ins, outs, axes)
    model = onnx.load(str(full))
    params = {k.removeprefix("bert."): v.detach().cpu().numpy()
              for k, v in module.named_parameters()}
    location = f"{name}.onnx.data"
    entries, blob, used = externalize_parameters(model, params, location)
    # A parameter that no initializer equals was folded into something else
    # by the exporter: the map could not load its real value.
    report["unmapped_parameters"] = sorted(set(params) - set(used))
    inline = [(i.name, list(i.dims), numpy_helper.to_array(i).nbytes)
              for i in model.graph.initializer
              if i.data_location != onnx.TensorProto.EXTERNAL]

    graph_path = out / f"{name}.graph.onnx"
    graph_path.write_bytes(model.SerializeToString())
    mapping = {
        "model": name,
        "graph": graph_path.name,
        "data_file": location,
        "data_size": len(blob),
        "source_format": "safetensors keys of transformers' BertModel (no 'bert.' prefix)",
        "config": config,
        "tensors": entries,
    }
    map_path = out / f"{name}.map.json"
    map_path.write_text(json.dumps(mapping, indent=1) + "\n")

    # The map must rebuild the exported model exactly: write the torch
    # weights as the package's safetensors does (with position_ids and the
    # unused pooler, as there), rebuild with fetch_minilm, compare with torch.
    st = {k: v for k, v in params.items()}
    st["embeddings.position_ids"] = np.arange(512, dtype=np.int64)[None, :]
    gen = np.random.default_rng(seed)
    st["pooler.dense.weight"] = gen.standard_normal((384, 384), dtype=np.float32)
    st["pooler.dense.bias"] = gen.standard_normal((384,), dtype=np.float32)
    st_path = work / "model.safetensors"
    save_safetensors(st_path, st)
    rebuilt = work / "rebuilt"
    fetch_minilm.build(st_path, graph_path, map_path, rebuilt)
    rebuilt_model = rebuilt / f"{name}.onnx"
    report["rebuilt_data_identical"] = (rebuilt / location).read_bytes() == blob
    onnx.checker.check_model(str(rebuilt_model))

    # The exporter's own file and the rebuilt one against torch, on random
    # ids of the test shape and (below) on the tokenized sentences.
    checks = {}
    test_feeds = make_inputs(200 + seed, *TEST_SHAPE, vocab, pad_id, ins)
    expected = run_torch(module, test_feeds)
    for label, path in (("exported", full), ("rebuilt_by_fetch_minilm", rebuilt_model)):
        ort_outs, _ = run_ort(path, test_feeds)
        checks[label] = max(max_diffs(expected, ort_outs, outs).values())
    if tokenizer_dir:
        tok = transformers.AutoTokenizer.from_pretrained(str(tokenizer_dir))
        enc = tok(REAL_SENTENCES, padding=True, return_tensors="np")
        tok_feeds = {k: np.asarray(enc[k], dtype=np.int64) for k in ins}
        np.savez(out / f"{name}.inputs.npz", **tok_feeds)
        ort_outs, _ = run_ort(rebuilt_model, tok_feeds)
        checks["rebuilt_tokenized_sentences"] = max(
            max_diffs(run_torch(module, tok_feeds), ort_outs, outs).values())
        report["sentences"] = REAL_SENTENCES
        report["tokenized_shape"] = list(tok_feeds["input_ids"].shape)
        report["tokenized_ids"] = tok_feeds["input_ids"].tolist()
        report["tokenizer_class"] = type(tok).__name__
    report.update({
        "graph_bytes": graph_path.stat().st_size,
        "map_bytes": map_path.stat().st_size,
        "data_bytes": len(blob),
        "mapped_tensors": len(entries),
        "transposed_tensors": sum(e["transpose"] for e in entries),
        "inline_initializers": len(inline),
        "inline_bytes": sum(b for _, _, b in inline),
        "largest_inline": sorted(inline, key=lambda t: -t[2])[:5],
        "torch_vs_ort_max_abs_diff_random_weights": checks,
        "ops": op_histogram(model),
        "input_shapes": describe_io(model.graph.input),
        "output_shapes": describe_io(model.graph.output),
    })
    shutil.rmtree(work)
    print(f"{name}: {report['mapped_tensors']} mapped ({report['transposed_tensors']} transposed), "
          f"{report['inline_initializers']} inline ({report['inline_bytes']} bytes), graph "
          f"{report['graph_bytes']} bytes, checks {checks}")
    print(f"  ops: {report['ops']}")
    return report


VERSIONS = {"torch": torch.__version__, "transformers": transformers.__version__,
            "onnx": onnx.__version__, "onnxruntime": ort.__version__, "numpy": np.__version__}

REAL_SENTENCES = [
    "kiln compiles neural networks ahead of time.",
    "Hello, world!",
    "A sentence embedding maps text to a vector.",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tokenizer", type=Path,
                        help="all-MiniLM-L6-v2 tokenizer files, for its test inputs")
    parser.add_argument("--only", nargs="*", help="fixture names to export (default: all)")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--merge", action="store_true",
                        help="keep OUT/manifest.json's other entries (and their kiln_xfail "
                             "marks), replacing only the fixtures exported now")
    args = parser.parse_args()

    torch.set_num_threads(4)
    args.out.mkdir(parents=True, exist_ok=True)
    print("versions:", VERSIONS)
    manifest = {"generated_by": "scripts/export_fixtures.py", "versions": VERSIONS,
                "reference": "onnxruntime CPUExecutionProvider, fp32, intra_op_num_threads=1",
                "models": [], "failed": {}}
    old_path = args.out / "manifest.json"
    old = json.loads(old_path.read_text()) if args.merge and old_path.exists() else None
    old_models = {m["name"]: m for m in old["models"]} if old else {}
    if old:
        # Entries without "versions" of their own were made with the old top-level ones.
        for m in old_models.values():
            m.setdefault("versions", old["versions"])
        manifest["failed"] = dict(old.get("failed", {}))
        for key in ("all-MiniLM-L6-v2",):
            if key in old:
                manifest[key] = old[key]
    for name, arch, exporter, opset in FIXTURES:
        if args.only and name not in args.only:
            if name in old_models:
                manifest["models"].append(old_models[name])
            continue
        manifest["failed"].pop(name, None)
        try:
            entry = export_fixture(args.out, name, arch, exporter, opset)
            if "kiln_xfail" in old_models.get(name, {}):
                entry["kiln_xfail"] = old_models[name]["kiln_xfail"]
            manifest["models"].append(entry)
        except Exception as err:  # one model's failure must not hide the others'
            traceback.print_exc()
            manifest["failed"][name] = f"{type(err).__name__}: {str(err).strip()[:2000]}"
            print(f"{name}: FAILED {type(err).__name__}: {err}")
    if not args.skip_real:
        try:
            real = export_real_minilm(args.out, args.tokenizer)
            manifest["all-MiniLM-L6-v2"] = real
            if real["unmapped_parameters"]:
                manifest["failed"]["all-MiniLM-L6-v2"] = (
                    f"parameters without an initializer: {real['unmapped_parameters']}")
        except Exception as err:
            traceback.print_exc()
            manifest["failed"]["all-MiniLM-L6-v2"] = f"{type(err).__name__}: {err}"
            print(f"all-MiniLM-L6-v2: FAILED {type(err).__name__}: {err}")
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print("failed:", manifest["failed"] or "none")
    return 1 if manifest["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
