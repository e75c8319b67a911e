//===- DataDependentTest.cpp - shapes that depend on the data -------------===//
//
// Models whose shapes are known only from input values: kiln compile writes
// them without buckets, the Engine refuses them with a message, and
// DataDependentRunner runs them on the GPU, checked against the reference
// executor on random inputs.
//
//===----------------------------------------------------------------------===//
#include "codegen/DataDependent.h"
#include "codegen/Compiler.h"
#include "codegen/Nvrtc.h"
#include "ir/Parser.h"
#include "runtime/EngineInternal.h"
#include "runtime/ReferenceExecutor.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>

namespace kiln {
namespace {

// The positive entries of x, doubled, and their sum: NonZero's result size
// is the number of positives.
constexpr const char *Positives = R"(graph @positives(%x: f32[batch, 6]) {
  %zero = const f32[] [0.0]
  %pos = Greater(%x, %zero) : bool[batch, 6]
  %idx = NonZero(%pos) : i64[2, ?]
  %at = Transpose(%idx) {perm = [1, 0]} : i64[?, 2]
  %vals = GatherND(%x, %at) : f32[?]
  %twice = Add(%vals, %vals) : f32[?]
  %sum = ReduceSum(%twice) {keepdims = 0} : f32[]
  return %twice, %sum
}
)";

// A Range whose limit is an input value, scaled by a reduction of x.
constexpr const char *Ramp = R"(graph @ramp(%x: f32[batch, 4], %n: i64[]) {
  %zero = const i64[] [0]
  %one = const i64[] [1]
  %r = Range(%zero, %n, %one) : i64[?]
  %rf = Cast(%r) {to = "f32"} : f32[?]
  %s = ReduceSum(%x) {keepdims = 0} : f32[]
  %y = Mul(%rf, %s) : f32[?]
  return %y
}
)";

Artifact compile(const char *Ir) {
  auto G = parseGraph(Ir);
  EXPECT_TRUE(bool(G)) << llvm::toString(G.takeError());
  CompileOptions O;
  O.Batches = {2, 8};
  O.Seqs = {};
  O.Pipeline = *namedPipeline("O2");
  O.CacheDir = defaultCacheDir();
  O.EmitPtx = false;
  auto A = compileGraph(std::move(*G), O);
  EXPECT_TRUE(bool(A)) << llvm::toString(A.takeError());
  return std::move(*A);
}

Tensor randomX(int64_t Batch, int64_t Cols, std::mt19937_64 &Rng) {
  std::normal_distribution<double> Normal;
  std::vector<double> V(size_t(Batch * Cols));
  for (double &X : V)
    X = Normal(Rng);
  return Tensor::fromDoubles(DType::F32, {Batch, Cols}, V);
}

/// A runner for `A`'s IR, and the IR again for the reference executor.
struct Loaded {
  std::unique_ptr<DataDependentRunner> R;
  std::unique_ptr<Graph> Reference;
};

llvm::Expected<Loaded> load(const Artifact &A) {
  auto G = artifactGraph(A);
  if (!G)
    return G.takeError();
  std::unique_ptr<Graph> Reference = (*G)->clone();
  DataDependentOptions O;
  O.CacheDir = defaultCacheDir();
  auto R = DataDependentRunner::create(std::move(*G), O);
  if (!R)
    return R.takeError();
  return Loaded{std::move(*R), std::move(Reference)};
}

void expectClose(const Tensor &Got, const Tensor &Want, double Tol) {
  ASSERT_EQ(Got.sizes().vec(), Want.sizes().vec());
  for (int64_t I = 0; I < Want.numElements(); ++I)
    EXPECT_NEAR(Got.getDouble(I), Want.getDouble(I),
                Tol * std::max(1.0, std::fabs(Want.getDouble(I))))
        << "element " << I;
}

TEST(DataDependent, CompileWritesNoBucketsAndSaysWhy) {
  Artifact A = compile(Positives);
  EXPECT_NE(A.Meta.DataDependent.find("'NonZero' node producing %idx"),
            std::string::npos)
      << A.Meta.DataDependent;
  EXPECT_TRUE(A.Plan.Buckets.empty());
  EXPECT_TRUE(A.Plan.Modules.empty());
  EXPECT_FALSE(bool(validateArtifact(A)));
  // The flag survives the file format.
  auto Back = parseArtifact(serializeArtifact(A), "positives.kiln");
  ASSERT_TRUE(bool(Back)) << llvm::toString(Back.takeError());
  EXPECT_EQ(Back->Meta.DataDependent, A.Meta.DataDependent);
  Artifact WithBuckets = A;
  WithBuckets.Meta.BatchBuckets = {1};
  llvm::Error Bad = validateArtifact(WithBuckets);
  ASSERT_TRUE(bool(Bad));
  EXPECT_NE(llvm::toString(std::move(Bad)).find("has buckets or kernels"),
            std::string::npos);
  // An Engine runs static plans only, and says where to go instead.
  auto E = createEngine(A);
  ASSERT_FALSE(bool(E));
  std::string Why = llvm::toString(E.takeError());
  EXPECT_NE(Why.find("depend on the data"), std::string::npos) << Why;
  EXPECT_NE(Why.find("DataDependentRunner"), std::string::npos) << Why;
}

TEST(DataDependent, NonZeroCountIsReadBackAndItsIndicesComputedOnTheGpu) {
  Artifact A = compile(Positives);
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  auto L = load(A);
  ASSERT_TRUE(bool(L)) << llvm::toString(L.takeError());
  auto &[R, Reference] = *L;
  std::mt19937_64 Rng(5);
  // 300 x 6: more elements than the NonZero kernel's block, so its running
  // count crosses chunks.
  std::vector<Tensor> Xs = {randomX(3, 6, Rng), randomX(300, 6, Rng),
                            randomX(3, 6, Rng)};
  Xs.push_back(Xs[0]); // the first request again: its plans are reused
  unsigned PlansBefore = 0;
  for (size_t I = 0; I < Xs.size(); ++I) {
    auto Want = runReference(*Reference, {Xs[I]});
    ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
    auto Got = R->run({Xs[I]});
    ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
    ASSERT_EQ(Got->size(), 2u);
    expectClose((*Got)[0], (*Want)[0], 1e-6);
    expectClose((*Got)[1], (*Want)[1], 1e-5);
    if (I == 3) {
      EXPECT_EQ(R->plansCompiled(), PlansBefore) << "nothing recompiled";
    }
    PlansBefore = R->plansCompiled();
  }
  EXPECT_EQ(R->sizesRead(), Xs.size()) << "one count per request";
  EXPECT_EQ(R->hostNodes(), 0u) << "NonZero itself ran on the GPU";
}

TEST(DataDependent, ASizeFromAnInputValueIsBoundPerRequest) {
  Artifact A = compile(Ramp);
  EXPECT_NE(A.Meta.DataDependent.find("'Range'"), std::string::npos)
      << A.Meta.DataDependent;
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  auto L = load(A);
  ASSERT_TRUE(bool(L)) << llvm::toString(L.takeError());
  auto &[R, Reference] = *L;
  std::mt19937_64 Rng(6);
  for (int64_t N : {3, 7, 3}) {
    std::vector<Tensor> In = {randomX(2, 4, Rng),
                              Tensor::scalarInt(DType::I64, N)};
    auto Want = runReference(*Reference, In);
    ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
    auto Got = R->run(In);
    ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
    EXPECT_EQ((*Got)[0].dim(0), N);
    expectClose((*Got)[0], (*Want)[0], 1e-5);
  }
  // The limit is bound as a constant: no node ran on the host, and n = 3
  // came back to its plan.
  EXPECT_EQ(R->hostNodes(), 0u);
  EXPECT_EQ(R->plansCompiled(), 2u);
}

TEST(DataDependent, BadRequestsAreErrors) {
  Artifact A = compile(Positives);
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  auto L = load(A);
  ASSERT_TRUE(bool(L)) << llvm::toString(L.takeError());
  auto &R = L->R;
  std::mt19937_64 Rng(7);
  auto WrongCols = R->run({randomX(2, 5, Rng)});
  ASSERT_FALSE(bool(WrongCols));
  EXPECT_NE(llvm::toString(WrongCols.takeError()).find("input %x is"),
            std::string::npos);
  auto TooMany = R->run({randomX(2, 6, Rng), randomX(2, 6, Rng)});
  ASSERT_FALSE(bool(TooMany));
  EXPECT_NE(llvm::toString(TooMany.takeError()).find("takes 1 inputs"),
            std::string::npos);
}

} // namespace
} // namespace kiln
