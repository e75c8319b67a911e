#include "frontend/onnx/OnnxOpsets.h"

#include <algorithm>
#include <iterator>

namespace kiln::onnx_import {

namespace {
struct OpSince {
  llvm::StringRef Name;
  int64_t Since;
};
} // namespace

// Every default-domain op of onnx 1.22 (opset 27) with the opset it first
// exists at, clamped to OldestOpset; sorted by name. Upsample and Scatter
// were removed before opset 13. Generated from onnx.defs.
// clang-format off
static constexpr OpSince OnnxOps[] = {
    {"Abs", 13}, {"Acos", 13}, {"Acosh", 13}, {"Add", 13}, {"AffineGrid", 20},
    {"And", 13}, {"ArgMax", 13}, {"ArgMin", 13}, {"Asin", 13}, {"Asinh", 13},
    {"Atan", 13}, {"Atanh", 13}, {"Attention", 23}, {"AveragePool", 13},
    {"BatchNormalization", 13}, {"Bernoulli", 15}, {"BitCast", 26},
    {"BitShift", 13}, {"BitwiseAnd", 18}, {"BitwiseNot", 18},
    {"BitwiseOr", 18}, {"BitwiseXor", 18}, {"BlackmanWindow", 17},
    {"Cast", 13}, {"CastLike", 15}, {"CausalConvWithState", 27}, {"Ceil", 13},
    {"Celu", 13}, {"CenterCropPad", 18}, {"Clip", 13}, {"Col2Im", 18},
    {"Compress", 13}, {"Concat", 13}, {"ConcatFromSequence", 13},
    {"Constant", 13}, {"ConstantOfShape", 13}, {"Conv", 13},
    {"ConvInteger", 13}, {"ConvTranspose", 13}, {"Cos", 13}, {"Cosh", 13},
    {"CumProd", 26}, {"CumSum", 13}, {"DFT", 17}, {"DeformConv", 19},
    {"DepthToSpace", 13}, {"DequantizeLinear", 13}, {"Det", 13}, {"Div", 13},
    {"Dropout", 13}, {"DynamicQuantizeLinear", 13}, {"Einsum", 13},
    {"Elu", 13}, {"Equal", 13}, {"Erf", 13}, {"Exp", 13}, {"Expand", 13},
    {"EyeLike", 13}, {"Flatten", 13}, {"Floor", 13}, {"GRU", 13},
    {"Gather", 13}, {"GatherElements", 13}, {"GatherND", 13}, {"Gelu", 20},
    {"Gemm", 13}, {"GlobalAveragePool", 13}, {"GlobalLpPool", 13},
    {"GlobalMaxPool", 13}, {"Greater", 13}, {"GreaterOrEqual", 13},
    {"GridSample", 16}, {"GroupNormalization", 18}, {"HammingWindow", 17},
    {"HannWindow", 17}, {"HardSigmoid", 13}, {"HardSwish", 14},
    {"Hardmax", 13}, {"Identity", 13}, {"If", 13}, {"ImageDecoder", 20},
    {"InstanceNormalization", 13}, {"IsInf", 13}, {"IsNaN", 13}, {"LRN", 13},
    {"LSTM", 13}, {"LayerNormalization", 17}, {"LeakyRelu", 13}, {"Less", 13},
    {"LessOrEqual", 13}, {"LinearAttention", 27}, {"Log", 13},
    {"LogSoftmax", 13}, {"Loop", 13}, {"LpNormalization", 13}, {"LpPool", 13},
    {"MatMul", 13}, {"MatMulInteger", 13}, {"Max", 13}, {"MaxPool", 13},
    {"MaxRoiPool", 13}, {"MaxUnpool", 13}, {"Mean", 13},
    {"MeanVarianceNormalization", 13}, {"MelWeightMatrix", 17}, {"Min", 13},
    {"Mish", 18}, {"Mod", 13}, {"Mul", 13}, {"Multinomial", 13}, {"Neg", 13},
    {"NegativeLogLikelihoodLoss", 13}, {"NonMaxSuppression", 13},
    {"NonZero", 13}, {"Not", 13}, {"OneHot", 13}, {"Optional", 15},
    {"OptionalGetElement", 15}, {"OptionalHasElement", 15}, {"Or", 13},
    {"PRelu", 13}, {"Pad", 13}, {"Pow", 13}, {"QLinearConv", 13},
    {"QLinearMatMul", 13}, {"QuantizeLinear", 13}, {"RMSNormalization", 23},
    {"RNN", 13}, {"RandomNormal", 13}, {"RandomNormalLike", 13},
    {"RandomUniform", 13}, {"RandomUniformLike", 13}, {"Range", 13},
    {"Reciprocal", 13}, {"ReduceL1", 13}, {"ReduceL2", 13},
    {"ReduceLogSum", 13}, {"ReduceLogSumExp", 13}, {"ReduceMax", 13},
    {"ReduceMean", 13}, {"ReduceMin", 13}, {"ReduceProd", 13},
    {"ReduceSum", 13}, {"ReduceSumSquare", 13}, {"RegexFullMatch", 20},
    {"Relu", 13}, {"Reshape", 13}, {"Resize", 13}, {"ReverseSequence", 13},
    {"RoiAlign", 13}, {"RotaryEmbedding", 23}, {"Round", 13}, {"STFT", 17},
    {"Scan", 13}, {"ScatterElements", 13}, {"ScatterND", 13}, {"Selu", 13},
    {"SequenceAt", 13}, {"SequenceConstruct", 13}, {"SequenceEmpty", 13},
    {"SequenceErase", 13}, {"SequenceInsert", 13}, {"SequenceLength", 13},
    {"SequenceMap", 17}, {"Shape", 13}, {"Shrink", 13}, {"Sigmoid", 13},
    {"Sign", 13}, {"Sin", 13}, {"Sinh", 13}, {"Size", 13}, {"Slice", 13},
    {"Softmax", 13}, {"SoftmaxCrossEntropyLoss", 13}, {"Softplus", 13},
    {"Softsign", 13}, {"SpaceToDepth", 13}, {"Split", 13},
    {"SplitToSequence", 13}, {"Sqrt", 13}, {"Squeeze", 13},
    {"StringConcat", 20}, {"StringNormalizer", 13}, {"StringSplit", 20},
    {"Sub", 13}, {"Sum", 13}, {"Swish", 24}, {"Tan", 13}, {"Tanh", 13},
    {"TensorScatter", 24}, {"TfIdfVectorizer", 13}, {"ThresholdedRelu", 13},
    {"Tile", 13}, {"TopK", 13}, {"Transpose", 13}, {"Trilu", 14},
    {"Unique", 13}, {"Unsqueeze", 13}, {"Where", 13}, {"Xor", 13}
};
// clang-format on

std::optional<int64_t> onnxOpSince(llvm::StringRef Op) {
  const OpSince *It = std::lower_bound(
      std::begin(OnnxOps), std::end(OnnxOps), Op,
      [](const OpSince &E, llvm::StringRef N) { return E.Name < N; });
  if (It == std::end(OnnxOps) || It->Name != Op)
    return std::nullopt;
  return It->Since;
}

} // namespace kiln::onnx_import
