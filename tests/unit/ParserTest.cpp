#include "ir/Parser.h"
#include "ir/Printer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

using namespace kiln;

namespace {

/// Parses `Text`, expecting success.
std::unique_ptr<Graph> parseOk(llvm::StringRef Text) {
  auto G = parseGraph(Text, "test.kir");
  if (!G) {
    ADD_FAILURE() << llvm::toString(G.takeError()) << "\nin:\n" << Text.str();
    return nullptr;
  }
  return std::move(*G);
}

/// The error message parsing `Text` gives (empty if it parsed).
std::string parseError(llvm::StringRef Text) {
  auto G = parseGraph(Text, "test.kir");
  if (G)
    return "";
  return llvm::toString(G.takeError());
}

/// print -> parse -> print gives the same bytes; returns the parsed graph.
std::unique_ptr<Graph> expectRoundTrip(const Graph &G) {
  std::string First = printGraphToString(G);
  auto Parsed = parseOk(First);
  if (!Parsed)
    return nullptr;
  EXPECT_EQ(printGraphToString(*Parsed), First);
  return Parsed;
}

/// Random bytes for every dtype, with NaN, Inf, subnormals and negative zero
/// mixed into the floats; bools stay 0 or 1.
Tensor randomTensor(std::mt19937 &Rng, DType T, std::vector<int64_t> Sizes) {
  Tensor Out(T, Sizes);
  uint8_t *P = Out.mutableBytes();
  for (size_t I = 0; I < Out.byteSize(); ++I)
    P[I] = uint8_t(Rng());
  if (T == DType::Bool)
    for (size_t I = 0; I < Out.byteSize(); ++I)
      P[I] &= 1;
  if (isFloat(T) && Out.numElements() >= 4) {
    Out.setDouble(0, NAN);
    Out.setDouble(1, -INFINITY);
    Out.setDouble(2, -0.0);
    Out.setDouble(3, T == DType::F64 ? 4.9e-324 : 1.0e-40);
  }
  return Out;
}

/// Canonical NaN bits, so that equality of inline data means equal bytes:
/// the text form writes every NaN as `nan` (or `-nan`).
void canonicalizeNaNs(Tensor &T) {
  for (int64_t I = 0; I < T.numElements(); ++I)
    if (std::isnan(T.getDouble(I)))
      T.setDouble(I, std::signbit(T.getDouble(I)) ? -NAN : NAN);
}

const DType AllDTypes[] = {DType::F32, DType::F16, DType::BF16,
                           DType::F64, DType::I64, DType::I32,
                           DType::I8,  DType::U8,  DType::Bool};

} // namespace

TEST(Parser, RoundTripsRandomConstantsOfEveryDType) {
  std::mt19937 Rng(42);
  for (DType T : AllDTypes) {
    for (std::vector<int64_t> Sizes :
         {std::vector<int64_t>{}, {5}, {4, 4}, {3, 7}, {0, 3}, {2, 3, 5}}) {
      Graph G;
      Tensor Data = randomTensor(Rng, T, Sizes);
      if (Data.numElements() <= 16)
        canonicalizeNaNs(Data);
      G.addConstant("c", Data);
      G.setOutputs({G.lookup("c")});
      auto Parsed = expectRoundTrip(G);
      ASSERT_TRUE(Parsed);
      const Tensor *Back = Parsed->lookup("c")->constantData();
      ASSERT_TRUE(Back);
      EXPECT_TRUE(Back->identical(Data))
          << dtypeName(T).str() << " " << printGraphToString(G);
    }
  }
}

TEST(Parser, SixteenBitFloatsKeepTheirBits) {
  // Every finite, non-NaN f16 and bf16 bit pattern survives print and parse.
  for (DType T : {DType::F16, DType::BF16}) {
    Tensor All(T, {1 << 16});
    int64_t N = 0;
    for (uint32_t Bits = 0; Bits < (1u << 16); ++Bits) {
      float F = T == DType::F16 ? halfToFloat(uint16_t(Bits))
                                : bfloat16ToFloat(uint16_t(Bits));
      if (!std::isnan(F))
        All.mutableData<uint16_t>()[N++] = uint16_t(Bits);
    }
    // Print in chunks of 16 so that the inline literals are exercised.
    for (int64_t Start = 0; Start < N; Start += 16) {
      int64_t Count = std::min<int64_t>(16, N - Start);
      Tensor Chunk = Tensor::fromBytes(
          T, {Count},
          llvm::ArrayRef<uint8_t>(All.bytes() + Start * 2, size_t(Count) * 2));
      Graph G;
      G.addConstant("c", Chunk);
      auto Parsed = parseOk(printGraphToString(G));
      ASSERT_TRUE(Parsed);
      ASSERT_TRUE(Parsed->lookup("c")->constantData()->identical(Chunk))
          << printGraphToString(G);
    }
  }
}

TEST(Parser, RoundTripsEveryConstruct) {
  const char *Text =
      R"(graph @"my graph"(%"onnx::x 0": f32[batch, "s 1", ?, 4], %ids: i64[batch, seq]) {
  %w = const f32[4, 2] [1.0, -2.5, 1.0e-12, 3.0e+20, inf, -inf, nan, -0.0]
  %s = const i64[2] [1, 3]
  %e = const f16[0] []
  %scalar = const bool[] [true]
  %gone = const f32[384, 384] elided
  %sym = const f32[batch] elided
  %y = MatMul(%"onnx::x 0", %w) : f32[batch, "s 1", ?, 2]
  %z = Softmax(%y) {axis = -1} : f32[batch, "s 1", ?, 2] loc("/encoder/Softmax")
  %a, %b = Split(%"onnx::x 0", %s) {axis = 3} : f32[batch, "s 1", ?, 1], f32[batch, "s 1", ?, 3]
  %c = Clip(%"onnx::x 0", none, %w) : f32[batch, "s 1", ?, 4]
  %attrs = Neg(%z) {f = 0.5, fs = [1.0, 2.5], i = 7, is = [0, 2, 1, 3], nofloats = [] : floats, noints = [] : ints, nostrings = [] : strings, s = "constant", ss = ["a", "b\0a"], t = tensor<f32[2] [1.0, 2.0]>, "weird name" = 1} : f32[batch, "s 1", ?, 2]
  return %z, %a, %ids, %w
}
)";
  auto G = parseOk(Text);
  ASSERT_TRUE(G);
  EXPECT_EQ(printGraphToString(*G), Text);
  Node *Clip = G->lookup("c")->definingNode();
  EXPECT_EQ(Clip->numOperands(), 3u);
  EXPECT_EQ(Clip->operand(1), nullptr);
  EXPECT_EQ(G->lookup("z")->definingNode()->name(), "/encoder/Softmax");
  EXPECT_EQ(G->lookup("gone")->constantData(), nullptr);
  EXPECT_EQ(G->lookup("ids")->type().Dims[1].symbol(), "seq");
  EXPECT_EQ(G->outputs().size(), 4u);
  const Node *Attrs = G->lookup("attrs")->definingNode();
  EXPECT_EQ(Attrs->attr("ss")->getStrings()[1], "b\n");
  EXPECT_EQ(Attrs->attr("f")->getFloat(), 0.5f);
  EXPECT_EQ(Attrs->attr("noints")->kind(), AttrKind::Ints);
  EXPECT_EQ(Attrs->attr("t")->getTensor().getDouble(1), 2.0);
}

TEST(Parser, AcceptsCommentsAndLooseLiterals) {
  auto G = parseOk(R"(// leading comment
graph @g(%x: f32[2]) { // trailing comment
  %c = const f32[2] [1, -2]   // integers are fine for float data
  %h = const f32[1, 1] 0x0000803F
  %y = Add(%x, %c) : f32[2]
  return %y
}
)");
  ASSERT_TRUE(G);
  EXPECT_EQ(G->lookup("c")->constantData()->getDouble(1), -2.0);
  EXPECT_EQ(G->lookup("h")->constantData()->getDouble(0), 1.0);
}

TEST(Parser, ReportsErrorsWithLineAndColumn) {
  EXPECT_EQ(parseError("graph @g(%x: f32[2]) {\n  %y = Add(%x, %q) : f32[2]\n"
                       "  return %y\n}\n"),
            "test.kir:2:16: use of undefined value %q");
  EXPECT_EQ(parseError("graph @g(%x: f32[2]) {\n  %y = Add(%x, %x) f32[2]\n"
                       "  return %y\n}\n"),
            "test.kir:2:20: expected ':' after operands, found 'f32'");
  EXPECT_EQ(parseError("graph @g(%x: f32[2]) {\n  %y = Foo(%x) : f32[2]\n"
                       "  return %y\n}\n"),
            "test.kir:2:8: unknown op 'Foo'");
  EXPECT_EQ(parseError("graph @g(%x: f32[2]) {\n  %x = Neg(%x) : f32[2]\n"
                       "  return %x\n}\n"),
            "test.kir:2:3: redefinition of value %x");
  EXPECT_EQ(
      parseError("graph @g() {\n  %c = const f32[2, 2] [1.0, 2.0, 3.0]\n"
                 "  return %c\n}\n"),
      "test.kir:2:14: constant data has 3 elements, type f32[2, 2] needs 4");
  EXPECT_EQ(parseError("graph @g(%x: f33[2]) {\n  return\n}\n"),
            "test.kir:1:14: unknown dtype 'f33' (expected f32, f16, bf16, f64, "
            "i64, i32, i8, u8 or bool)");
  EXPECT_EQ(parseError("graph @g() {\n  %c = const i8[1] [300]\n  return\n}\n"),
            "test.kir:2:21: integer 300 is out of range for i8");
  EXPECT_EQ(
      parseError("graph @g() {\n  %c = const f32[2] 0x0000\n  return\n}\n"),
      "test.kir:2:21: constant data has 2 bytes, type f32[2] needs 8");
  EXPECT_EQ(
      parseError("graph @g() {\n  %c = const f32[n] [1.0]\n  return\n}\n"),
      "test.kir:2:14: constant type f32[n] must be static to hold data");
  EXPECT_EQ(parseError("graph @g(%x: f32[2]) {\n  %a, %b = Neg(%x) : f32[2]\n"
                       "  return\n}\n"),
            "test.kir:2:3: expected 2 result types, found 1");
  EXPECT_EQ(
      parseError("graph @g(%x: f32[2]) {\n  %y = Neg(%x) {a = 1, a = 2} : "
                 "f32[2]\n  return\n}\n"),
      "test.kir:2:24: duplicate attribute 'a'");
  EXPECT_EQ(
      parseError("graph @g() {\n  return\n}\ngraph @h() {\n  return\n}\n"),
      "test.kir:4:1: expected end of input after the graph, found 'graph'");
  EXPECT_EQ(parseError("graph @g() {\n}\n"),
            "test.kir:2:1: expected 'return' at the end of the graph");
  EXPECT_EQ(parseError("graph @g() {\n  return \"\x01\n}\n"),
            "test.kir:2:10: unterminated string");
  EXPECT_EQ(
      parseError("graph @g(%x: f32[2]) {\n  %y = Neg(%x) {a = []} : f32[2]\n"
                 "  return\n}\n"),
      "test.kir:2:23: expected ': ints', ': floats' or ': strings' after an "
      "empty list, found '}'");
}

TEST(Parser, ErrorLinesCountFromFirstLine) {
  auto G = parseGraph("graph @g() {\n  return %nope\n}\n", "f.kir", 10);
  ASSERT_FALSE(G);
  EXPECT_EQ(llvm::toString(G.takeError()),
            "f.kir:11:10: use of undefined value %nope");
}

TEST(Parser, EveryPrefixOfAValidGraphFailsCleanly) {
  const std::string Text =
      "graph @g(%x: f32[b, 4]) {\n"
      "  %w = const f32[4] [1.0, 2.0, 3.0, 4.0]\n"
      "  %y = Add(%x, %w) {t = tensor<i64[1] [2]>, s = [\"a\"]} : f32[b, 4] "
      "loc(\"n\")\n"
      "  return %y\n"
      "}\n";
  ASSERT_TRUE(parseOk(Text));
  // Cutting before the final "}" leaves an incomplete graph every time.
  for (size_t Len = 0; Len + 2 < Text.size(); ++Len)
    EXPECT_NE(parseError(llvm::StringRef(Text).take_front(Len)), "") << Len;
}

TEST(Parser, RoundTripsRandomAttributes) {
  std::mt19937 Rng(7);
  auto RandomFloat = [&] {
    float F;
    do {
      uint32_t Bits = Rng();
      std::memcpy(&F, &Bits, sizeof(F));
    } while (std::isnan(F));
    return F;
  };
  for (int Round = 0; Round < 50; ++Round) {
    AttrMap Attrs;
    Attrs["f"] = RandomFloat();
    Attrs["i"] = int64_t(uint64_t(Rng()) << 32 | Rng());
    std::vector<float> Floats(Rng() % 5);
    for (float &F : Floats)
      F = RandomFloat();
    Attrs["fs"] = Floats;
    std::vector<int64_t> Ints(Rng() % 5);
    for (int64_t &I : Ints)
      I = int64_t(Rng()) - (1ll << 31);
    Attrs["is"] = Ints;
    std::string S;
    for (unsigned I = 0, N = Rng() % 8; I < N; ++I)
      S += char(Rng()); // any byte, quotes and controls included
    Attrs["s"] = S;
    Attrs["ss"] = std::vector<std::string>(Rng() % 3, S);
    Attrs["t"] = randomTensor(Rng, AllDTypes[Rng() % 9], {int64_t(Rng() % 20)});
    Graph G;
    Value *X = G.addInput("x", TensorType::get(DType::F32, {2}));
    G.createNode("Neg", {X}, {X->type()}, Attrs, "", {"y"});
    auto Parsed = expectRoundTrip(G);
    ASSERT_TRUE(Parsed);
    const Node *N = Parsed->lookup("y")->definingNode();
    for (const auto &[Name, A] : Attrs) {
      if (Name == "t") // inline tensor data may hold NaNs
        continue;
      EXPECT_TRUE(*N->attr(Name) == A) << Name << printGraphToString(G);
    }
  }
}
