//===- BadInputTest.cpp - the GPU path refuses what the reference does ----===//
//
// Token ids, token types and sequence lengths outside the model's tables
// fail on the GPU with the reference executor's message (plus the input's
// name): host tensors, device views and shapes compiled on demand alike.
// The fixture is bert_opset17 (vocab 512, 2 token types, 64 positions),
// compiled at -O2, where the tables are read by one EmbedLayerNorm.
//
//===----------------------------------------------------------------------===//
#include "codegen/Compiler.h"
#include "common/ModelLoader.h"
#include "runtime/EngineInternal.h"
#include "runtime/ReferenceExecutor.h"

#include "gtest/gtest.h"

#include <cuda_runtime.h>

#include <cstring>

namespace kiln {
namespace {

Artifact compileBert(std::vector<int64_t> Seqs = {8},
                     const char *Pipeline = "O2") {
  auto G = loadModel(std::string(KILN_SOURCE_DIR) +
                     "/tests/models/bert_opset17.onnx");
  EXPECT_TRUE(bool(G)) << llvm::toString(G.takeError());
  CompileOptions O;
  O.Pipeline = *namedPipeline(Pipeline);
  O.Batches = {1, 2};
  O.Seqs = std::move(Seqs);
  O.Jobs = 2;
  O.EmitPtx = false;
  auto A = compileGraph(std::move(*G), O);
  EXPECT_TRUE(bool(A)) << llvm::toString(A.takeError());
  return A ? std::move(*A) : Artifact();
}

/// ids 1..500, a full mask and token types 0, batch 2 of length Seq.
std::vector<Tensor> request(int64_t Seq) {
  Tensor Ids(DType::I64, {2, Seq}), Mask(DType::I64, {2, Seq}),
      Types(DType::I64, {2, Seq});
  for (int64_t I = 0; I < 2 * Seq; ++I) {
    Ids.setInt(I, 1 + (I * 37) % 500);
    Mask.setInt(I, 1);
    Types.setInt(I, I % 2);
  }
  return {Ids, Mask, Types};
}

/// The reference executor's error for `In` on the artifact's own graph.
std::string referenceError(const Artifact &A, llvm::ArrayRef<Tensor> In) {
  auto G = artifactGraph(A);
  EXPECT_TRUE(bool(G)) << llvm::toString(G.takeError());
  auto R = runReference(**G, In);
  EXPECT_FALSE(bool(R)) << "the reference executor accepted the request";
  return R ? std::string() : llvm::toString(R.takeError());
}

std::string gpuError(ExecutionContext &Ctx, llvm::ArrayRef<Tensor> In) {
  auto R = runTensors(Ctx, In);
  EXPECT_FALSE(bool(R)) << "the GPU accepted the request";
  return R ? std::string() : llvm::toString(R.takeError());
}

/// The GPU's message is the reference's, naming the input after it.
void expectSameError(const std::string &Gpu, const std::string &Ref,
                     const std::string &Input) {
  EXPECT_EQ(Gpu, Ref + " (input '" + Input + "')");
}

} // namespace

// What the compiler records, checked without a GPU.
TEST(BadInput, CompilerRecordsTablesAndTheLongestSequence) {
  Artifact A = compileBert();
  EXPECT_EQ(A.Meta.MaxSequenceLength, 64);
  std::vector<std::string> Seen;
  for (const IndexCheck &C : A.Meta.IndexChecks)
    Seen.push_back(C.Input + " " + C.Table + " " + std::to_string(C.TableSize));
  EXPECT_EQ(Seen, (std::vector<std::string>{"input_ids word 512",
                                            "token_type_ids token type 2"}));
  // The fused embedding kernel reports both on the device.
  for (const IndexCheck &C : A.Meta.IndexChecks)
    EXPECT_TRUE(C.ReportedOnDevice) << C.Input;
  // At -O1 the tables are read by ONNX Gathers, whose kernel reports too.
  Artifact O1 = compileBert({8}, "O1");
  ASSERT_FALSE(O1.Meta.IndexChecks.empty());
  for (const IndexCheck &C : O1.Meta.IndexChecks) {
    EXPECT_EQ(C.Kind, IndexCheck::Form::Gather) << C.Node;
    EXPECT_TRUE(C.ReportedOnDevice) << C.Node;
  }

  CompileOptions O;
  O.Batches = {1};
  O.Seqs = {8, 65};
  auto G = loadModel(std::string(KILN_SOURCE_DIR) +
                     "/tests/models/bert_opset17.onnx");
  ASSERT_TRUE(bool(G));
  auto Long = compileGraph(std::move(*G), O);
  ASSERT_FALSE(bool(Long));
  EXPECT_EQ(llvm::toString(Long.takeError()),
            "seq bucket 65 is longer than the model allows: the position "
            "table %model.embeddings.position_embeddings.weight of "
            "'EmbedLayerNorm' node "
            "\"/model/embeddings/LayerNorm/LayerNormalization\" (64 rows) "
            "holds positions for at most 64 tokens");
}

TEST(BadInput, HostIdsAndTypesOutOfRange) {
  Artifact A = compileBert();
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  std::vector<Tensor> Ok = request(8);
  std::vector<Tensor> BadIds = request(8), BadTypes = request(8),
                      Negative = request(8), TooNegative = request(8);
  BadIds[0].setInt(11, 1000000000);
  BadTypes[2].setInt(5, 7);
  Negative[0].setInt(3, -1); // the last row, as ONNX wraps once
  TooNegative[0].setInt(3, -513);
  std::string RefIds = referenceError(A, BadIds);
  std::string RefTypes = referenceError(A, BadTypes);
  std::string RefNeg = referenceError(A, TooNegative);
  EXPECT_NE(RefIds.find("word index 1000000000 is out of range [0, 512)"),
            std::string::npos)
      << RefIds;

  auto E = createEngine(std::move(A));
  ASSERT_TRUE(bool(E)) << llvm::toString(E.takeError());
  auto Ctx = (*E)->createContext();
  ASSERT_TRUE(bool(Ctx)) << llvm::toString(Ctx.takeError());
  expectSameError(gpuError(**Ctx, BadIds), RefIds, "input_ids");
  expectSameError(gpuError(**Ctx, BadTypes), RefTypes, "token_type_ids");
  expectSameError(gpuError(**Ctx, TooNegative), RefNeg, "input_ids");
  // Valid requests, a wrapped negative id among them, still run.
  for (const auto &In : {Ok, Negative}) {
    auto R = runTensors(**Ctx, In);
    EXPECT_TRUE(bool(R)) << llvm::toString(R.takeError());
  }
  // What a benchmark stages for timed runs is checked as a request is.
  auto Staged = [&](const std::vector<Tensor> &In) {
    std::vector<HostTensor> Host;
    for (const Tensor &T : In)
      Host.push_back(toHostTensor(T));
    llvm::Error Err = (*Ctx)->stage(/*batch 2, seq 8*/ 1, Host);
    return Err ? llvm::toString(std::move(Err)) : std::string();
  };
  EXPECT_EQ(Staged(BadIds), RefIds + " (input 'input_ids')");
  EXPECT_EQ(Staged(Ok), "");
}

/// Runs `In` from device views (the ids never pass the host); the
/// error, or "" when it ran (then `Pooled`, when given, holds the pooled
/// output).
std::string runFromDevice(ExecutionContext &Ctx, llvm::ArrayRef<Tensor> In,
                          Tensor *PooledOut = nullptr) {
  std::vector<void *> Device(In.size(), nullptr);
  std::vector<TensorView> Views;
  for (size_t I = 0; I < In.size(); ++I) {
    EXPECT_EQ(cudaMalloc(&Device[I], In[I].byteSize()), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(Device[I], In[I].bytes(), In[I].byteSize(),
                         cudaMemcpyHostToDevice),
              cudaSuccess);
    Views.push_back(
        {Device[I], toElementType(In[I].dtype()), In[I].sizes().vec(), true});
  }
  Tensor Out(DType::F32, {2, 8, 64}), Pooled(DType::F32, {2, 64});
  std::vector<TensorView> Outs = {
      {Out.mutableBytes(), ElementType::F32, {2, 8, 64}, false},
      {Pooled.mutableBytes(), ElementType::F32, {2, 64}, false}};
  llvm::Error Err = Ctx.run(Views, Outs);
  for (void *P : Device)
    cudaFree(P);
  if (Err)
    return llvm::toString(std::move(Err));
  if (PooledOut)
    *PooledOut = Pooled;
  return "";
}

// Device views: the ids live on the GPU and never pass the host. The
// kernels that gather with them report a bad index, and the context
// refuses the request with the reference's message; the next request on
// the same context runs (the report does not stick). At -O2 the fused
// embedding kernel reports, at -O1 the Gather kernels.
TEST(BadInput, DeviceViewIdsOutOfRange) {
  std::string Why;
  bool Gpu = gpuAvailable(&Why);
  for (const char *Pipeline : {"O2", "O1"}) {
    SCOPED_TRACE(Pipeline);
    Artifact A = compileBert({8}, Pipeline);
    if (!Gpu)
      GTEST_SKIP() << "compiled; not run: " << Why;
    std::vector<Tensor> Ok = request(8), BadIds = request(8),
                        BadTypes = request(8), Negative = request(8),
                        TooNegative = request(8);
    BadIds[0].setInt(9, 512);
    BadTypes[2].setInt(13, 7);
    Negative[0].setInt(3, -1);
    TooNegative[0].setInt(3, -513);
    std::string RefIds = referenceError(A, BadIds);
    std::string RefTypes = referenceError(A, BadTypes);
    std::string RefNeg = referenceError(A, TooNegative);
    auto E = createEngine(std::move(A));
    ASSERT_TRUE(bool(E)) << llvm::toString(E.takeError());
    auto Ctx = (*E)->createContext();
    ASSERT_TRUE(bool(Ctx)) << llvm::toString(Ctx.takeError());
    expectSameError(runFromDevice(**Ctx, BadIds), RefIds, "input_ids");
    Tensor FromDevice(DType::F32, {2, 64});
    EXPECT_EQ(runFromDevice(**Ctx, Ok, &FromDevice), "");
    expectSameError(runFromDevice(**Ctx, BadTypes), RefTypes, "token_type_ids");
    expectSameError(runFromDevice(**Ctx, TooNegative), RefNeg, "input_ids");
    EXPECT_EQ(runFromDevice(**Ctx, Negative), "");
    // Device views give the host tensors' answers, bit for bit.
    auto Host = runTensors(**Ctx, Ok);
    ASSERT_TRUE(bool(Host)) << llvm::toString(Host.takeError());
    EXPECT_EQ(std::memcmp((*Host)[1].bytes(), FromDevice.bytes(),
                          FromDevice.byteSize()),
              0);
  }
}

// Longer than the position table: refused before any compile on demand,
// and the same way without one.
TEST(BadInput, SequencesLongerThanThePositionTable) {
  Artifact A = compileBert();
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  EngineOptions O;
  O.JitCompiler = makeJitCompiler("");
  auto E = createEngine(A, O);
  ASSERT_TRUE(bool(E)) << llvm::toString(E.takeError());
  auto Ctx = (*E)->createContext();
  ASSERT_TRUE(bool(Ctx)) << llvm::toString(Ctx.takeError());
  const std::string Want = "sequence length 100 is longer than the model "
                           "allows: its position table holds positions for "
                           "at most 64 tokens";
  EXPECT_EQ(gpuError(**Ctx, request(100)), Want);
  EXPECT_EQ((*E)->jitShapes(), 0u);
  auto Plain = createEngine(std::move(A));
  ASSERT_TRUE(bool(Plain));
  auto PlainCtx = (*Plain)->createContext();
  ASSERT_TRUE(bool(PlainCtx));
  EXPECT_EQ(gpuError(**PlainCtx, request(100)), Want);
  // 64 tokens fit the table: compiled on demand, and run.
  auto R = runTensors(**Ctx, request(64));
  EXPECT_TRUE(bool(R)) << llvm::toString(R.takeError());
}

// A shape compiled on demand checks its ids as the buckets do.
TEST(BadInput, CompiledOnDemandShapesCheckIds) {
  Artifact A = compileBert();
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  std::vector<Tensor> In = request(5);
  In[0].setInt(7, 600);
  std::string Ref = referenceError(A, In);
  EngineOptions O;
  O.JitCompiler = makeJitCompiler("");
  auto E = createEngine(std::move(A), O);
  ASSERT_TRUE(bool(E)) << llvm::toString(E.takeError());
  auto Ctx = (*E)->createContext();
  ASSERT_TRUE(bool(Ctx)) << llvm::toString(Ctx.takeError());
  expectSameError(gpuError(**Ctx, In), Ref, "input_ids");
  In[0].setInt(7, 6);
  auto R = runTensors(**Ctx, In);
  EXPECT_TRUE(bool(R)) << llvm::toString(R.takeError());
}

} // namespace kiln
