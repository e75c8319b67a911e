//===- Passes.cpp - the pass registry and named pipelines -----------------===//
#include "passes/Passes.h"

namespace kiln {

llvm::ArrayRef<PassInfo> allPasses() {
  // Keep sorted by name.
  static const std::vector<PassInfo> Passes = {
      {"bind-input",
       "Turn graph inputs into constants holding the values given "
       "(bind-input{shape=2 3 4})",
       {{"*", "any graph input, bound to the values given (separated by "
              "spaces, in the input's dtype)"}},
       runBindInput},
      {"canonicalize",
       "Remove no-op casts, reshapes, transposes and identities; fold chains",
       {},
       runCanonicalize},
      {"canonicalize-symbols",
       "Rename the first input's first two symbolic dims to batch and seq "
       "everywhere",
       {},
       runCanonicalizeSymbols},
      {"cse", "Merge identical nodes and identical constants", {}, runCSE},
      {"dce", "Remove nodes and constants nothing uses", {}, runDCE},
      {"fold-constants",
       "Evaluate nodes whose operands are all constants",
       {{"max-elements",
         "largest result (in elements) to fold (default 16777216)"}},
       runFoldConstants},
      {"fuse-attention",
       "Fuse BERT-style scaled dot-product attention into Attention",
       {},
       runFuseAttention},
      {"fuse-elementwise",
       "Fuse chains of elementwise ops into one FusedElementwise expression",
       {},
       runFuseElementwise},
      {"fuse-embed-layernorm",
       "Fuse word/position/token-type embedding gathers + LayerNorm into "
       "EmbedLayerNorm",
       {},
       runFuseEmbedLayerNorm},
      {"fuse-expand-gather",
       "Fuse GatherElements of an Expanded index into ExpandGatherElements, "
       "which reads the index through broadcast strides",
       {},
       runFuseExpandGather},
      {"fuse-gelu",
       "Fuse the erf and tanh GELU formulas into ONNX Gelu",
       {},
       runFuseGelu},
      {"fuse-gemm-epilogue",
       "Fuse MatMul/Gemm + bias + Relu/Gelu with a constant weight into "
       "FusedGemm",
       {},
       runFuseGemmEpilogue},
      {"fuse-glu",
       "Fuse gated linear units act(x[..., :n]) * x[..., n:] (GeGLU, SwiGLU) "
       "into Glu",
       {},
       runFuseGlu},
      {"fuse-layernorm",
       "Fuse decomposed layer norm and ONNX LayerNormalization into LayerNorm",
       {},
       runFuseLayerNorm},
      {"fuse-pool-normalize",
       "Fuse masked mean or CLS pooling + L2 normalize into PoolNormalize",
       {},
       runFusePoolNormalize},
      {"fuse-rotary",
       "Fuse rotary position embeddings x * cos + rotate_half(x) * sin into "
       "Rotary",
       {},
       runFuseRotary},
      {"fuse-skip-layernorm",
       "Fuse a residual add (and a projection bias) + LayerNorm into "
       "SkipLayerNorm",
       {},
       runFuseSkipLayerNorm},
      {"infer-shapes",
       "Re-infer every value's type, refining dims the graph left unknown",
       {},
       runInferShapes},
      {"merge-qkv",
       "Merge the q, k and v projections of an Attention into one FusedGemm",
       {},
       runMergeQKV},
      {"pack-tokens",
       "Run a padded encoder on its real tokens only: PackTokens, then "
       "token-wise ops on [1, tokens], Attention and PoolNormalize over the "
       "sequences' spans",
       {},
       runPackTokens},
      {"partition",
       "Cut the graph into pipeline stages balanced by cost, one device each, "
       "with a PeerCopy at every cut (partition{stages=2,batch=256,seq=128})",
       {{"stages", "number of stages, one device each (default 2)"},
        {"batch", "batch size the costs are evaluated at (default 256)"},
        {"seq", "sequence length the costs are evaluated at (default 128)"}},
       runPartition},
      {"precision",
       "Store f32 tensors in f16 or bf16 (math stays fp32)",
       {{"type", "f16 (default) or bf16"}},
       runPrecision},
      {"prune-magnitude",
       "Zero the attention heads and FFN neurons of smallest L1 norm, a "
       "ratio of each layer's (prune-magnitude{heads=0.33,ffn=0.33})",
       {{"heads", "ratio of each attention's heads to zero (default 0)"},
        {"ffn", "ratio of each FFN's neurons to zero (default 0)"},
        {"ffn-multiple",
         "keep a multiple of this many neurons when the FFN width is one "
         "(default 64)"}},
       runPruneMagnitude},
      {"prune-structured",
       "Remove attention heads and FFN neurons whose weights make them "
       "contribute nothing, shrinking the shapes",
       {},
       runPruneStructured},
      {"simplify-indexing",
       "Turn masks built by index arithmetic (Range, Gather of a flattened "
       "mask, GatherND) into Unsqueezes of the mask; decide iota comparisons",
       {},
       runSimplifyIndexing},
      {"specialize",
       "Bind symbolic dims to sizes (specialize{batch=32,seq=128}) and "
       "re-infer",
       {{"*", "any symbol name, bound to the size given"}},
       runSpecialize},
  };
  return Passes;
}

std::optional<PassPipeline> namedPipeline(llvm::StringRef Name) {
  // -O1 cleans up what exporters emit: no-op casts and reshapes, the shape
  // arithmetic for dynamic dims, duplicated constants.
  // Types are re-inferred after folding, which turns computed shapes into
  // constants that inference can read.
  static const llvm::StringRef O1[] = {
      "canonicalize", "infer-shapes", "fold-constants",
      "infer-shapes", "canonicalize", "cse",
      "dce"};
  // -O2 first turns masks written as index arithmetic into broadcasts of
  // the input mask (before fuse-attention, so that the Attention takes the
  // small mask), then fuses, in dependency order: LayerNorm and GELU first (the
  // later patterns are written over them), then the gated units over GELU
  // and the rotary embedding (before fuse-attention, which then finds q and
  // k with their heads in place), GEMM epilogues before the
  // residual LayerNorm and attention (which look for FusedGemm), QKV
  // merging once attention is one op, elementwise chains last. Types are
  // inferred again once the embedding is one op: its result names the
  // sequence dim that the exporters' position-id slice left unknown.
  // prune-structured removes zeroed heads and FFN neurons once attention and
  // its projections are fused and merged, the form it reads.
  // fuse-expand-gather drops the expanded index copies of DeBERTa's
  // relative-position gathers before elementwise fusion.
  static const llvm::StringRef O2[] = {"canonicalize",
                                       "infer-shapes",
                                       "fold-constants",
                                       "infer-shapes",
                                       "canonicalize",
                                       "cse",
                                       "dce",
                                       "simplify-indexing",
                                       "fuse-layernorm",
                                       "fuse-gelu",
                                       "fuse-glu",
                                       "fuse-rotary",
                                       "fuse-gemm-epilogue",
                                       "fuse-skip-layernorm",
                                       "fuse-embed-layernorm",
                                       "infer-shapes",
                                       "fuse-attention",
                                       "merge-qkv",
                                       "prune-structured",
                                       "fuse-pool-normalize",
                                       "fuse-expand-gather",
                                       "canonicalize",
                                       "fuse-elementwise",
                                       "cse",
                                       "dce"};
  auto Steps = [](llvm::ArrayRef<llvm::StringRef> Names) {
    PassPipeline Pipeline;
    for (llvm::StringRef Name : Names)
      Pipeline.push_back(passStep(Name));
    return Pipeline;
  };
  if (Name == "O0")
    return PassPipeline();
  if (Name == "O1")
    return Steps(O1);
  if (Name == "O2")
    return Steps(O2);
  return std::nullopt;
}

} // namespace kiln
