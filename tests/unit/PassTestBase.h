//===- PassTestBase.h - shared fixture of the pass meaning tests -*- C++ -*-===//
//
// Parses small graphs, makes random weights and padded masks, and checks
// that a pipeline leaves every output of the reference executor unchanged.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TESTS_UNIT_PASSTESTBASE_H
#define KILN_TESTS_UNIT_PASSTESTBASE_H

#include "ir/Parser.h"
#include "passes/PassManager.h"
#include "runtime/ReferenceExecutor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

namespace kiln {

class PassMeaningTest : public ::testing::Test {
protected:
  explicit PassMeaningTest(unsigned Seed, double Tolerance = 1e-5)
      : Rng(Seed), Tolerance(Tolerance) {}

  std::mt19937 Rng;
  double Tolerance;

  std::unique_ptr<Graph> parse(llvm::StringRef Text) {
    auto G = parseGraph(Text);
    if (!G) {
      ADD_FAILURE() << llvm::toString(G.takeError());
      return nullptr;
    }
    return std::move(*G);
  }

  Tensor uniform(std::vector<int64_t> Sizes, double Lo = -1.0,
                 double Hi = 1.0) {
    std::uniform_real_distribution<double> U(Lo, Hi);
    Tensor T(DType::F32, std::move(Sizes));
    for (int64_t I = 0; I < T.numElements(); ++I)
      T.setDouble(I, U(Rng));
    return T;
  }

  Tensor ints(std::vector<int64_t> Sizes, int64_t Lo, int64_t Hi) {
    std::uniform_int_distribution<int64_t> U(Lo, Hi - 1);
    Tensor T(DType::I64, std::move(Sizes));
    for (int64_t I = 0; I < T.numElements(); ++I)
      T.setInt(I, U(Rng));
    return T;
  }

  /// A [batch, seq] 0/1 mask whose row b has Lengths[b] leading ones.
  static Tensor paddedMask(int64_t Seq, std::vector<int64_t> Lengths,
                           DType Elem = DType::I64) {
    Tensor T(Elem, {int64_t(Lengths.size()), Seq});
    for (size_t B = 0; B < Lengths.size(); ++B)
      for (int64_t S = 0; S < Seq; ++S)
        T.setInt(int64_t(B) * Seq + S, S < Lengths[B]);
    return T;
  }

  static int64_t count(const Graph &G, llvm::StringRef Op) {
    int64_t N = 0;
    for (const auto &Node : G.nodes())
      N += Node->opName() == Op;
    return N;
  }

  static const Node *first(const Graph &G, llvm::StringRef Op) {
    for (const auto &Node : G.nodes())
      if (Node->opName() == Op)
        return Node.get();
    return nullptr;
  }

  /// Runs `Pipeline` on `G`, checks that it left `FusedCount` nodes of op
  /// `Fused` and that every output is unchanged on `Inputs`.
  void expectSameMeaning(Graph &G, llvm::StringRef Pipeline,
                         llvm::StringRef Fused, int64_t FusedCount,
                         const std::map<std::string, Tensor> &Inputs) {
    std::unique_ptr<Graph> Before = G.clone();
    auto Expected = runReference(*Before, Inputs);
    ASSERT_TRUE(bool(Expected)) << llvm::toString(Expected.takeError());
    if (llvm::Error E = runPassPipeline(G, Pipeline, {}, llvm::nulls()))
      FAIL() << llvm::toString(std::move(E));
    EXPECT_EQ(count(G, Fused), FusedCount) << Pipeline.str();
    auto Got = runReference(G, Inputs);
    ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
    ASSERT_EQ(Got->size(), Expected->size());
    for (size_t I = 0; I < Got->size(); ++I) {
      const Tensor &A = (*Expected)[I], &B = (*Got)[I];
      ASSERT_EQ(A.sizes(), B.sizes()) << "output " << I;
      double MaxDiff = 0;
      for (int64_t J = 0; J < A.numElements(); ++J)
        MaxDiff = std::max(MaxDiff, std::fabs(A.getDouble(J) - B.getDouble(J)));
      EXPECT_LE(MaxDiff, Tolerance)
          << "output " << I << " of " << Pipeline.str();
    }
  }
};

} // namespace kiln

#endif
