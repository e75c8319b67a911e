// The ONNX importer on ModelProtos built here with the protobuf API: every
// initializer storage form, opset upgrades, and the error paths.
#include "frontend/onnx/OnnxImporter.h"
#include "ir/OpRegistry.h"

#include "onnx/onnx.pb.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <variant>

using namespace kiln;

namespace {

using DimSpec = std::variant<int64_t, std::string>;

onnx::ModelProto makeModel(int64_t Opset = 17) {
  onnx::ModelProto M;
  M.set_ir_version(8);
  onnx::OperatorSetIdProto *O = M.add_opset_import();
  O->set_domain("");
  O->set_version(Opset);
  M.mutable_graph()->set_name("test");
  return M;
}

void setType(onnx::ValueInfoProto *V, int32_t Elem,
             const std::vector<DimSpec> &Dims) {
  onnx::TypeProto::Tensor *T = V->mutable_type()->mutable_tensor_type();
  T->set_elem_type(Elem);
  onnx::TensorShapeProto *S = T->mutable_shape();
  for (const DimSpec &D : Dims) {
    onnx::TensorShapeProto::Dimension *Dim = S->add_dim();
    if (const int64_t *V = std::get_if<int64_t>(&D))
      Dim->set_dim_value(*V);
    else if (!std::get<std::string>(D).empty())
      Dim->set_dim_param(std::get<std::string>(D));
  }
}

void addInput(onnx::ModelProto &M, const std::string &Name,
              const std::vector<DimSpec> &Dims,
              int32_t Elem = onnx::TensorProto::FLOAT) {
  onnx::ValueInfoProto *V = M.mutable_graph()->add_input();
  V->set_name(Name);
  setType(V, Elem, Dims);
}

void addOutput(onnx::ModelProto &M, const std::string &Name) {
  M.mutable_graph()->add_output()->set_name(Name);
}

onnx::NodeProto *addNode(onnx::ModelProto &M, const std::string &Op,
                         const std::vector<std::string> &Inputs,
                         const std::vector<std::string> &Outputs,
                         const std::string &Name = "") {
  onnx::NodeProto *N = M.mutable_graph()->add_node();
  N->set_op_type(Op);
  N->set_name(Name);
  for (const std::string &I : Inputs)
    N->add_input(I);
  for (const std::string &O : Outputs)
    N->add_output(O);
  return N;
}

void addIntsAttr(onnx::NodeProto *N, const std::string &Name,
                 const std::vector<int64_t> &Values) {
  onnx::AttributeProto *A = N->add_attribute();
  A->set_name(Name);
  A->set_type(onnx::AttributeProto::INTS);
  for (int64_t V : Values)
    A->add_ints(V);
}

void addIntAttr(onnx::NodeProto *N, const std::string &Name, int64_t Value) {
  onnx::AttributeProto *A = N->add_attribute();
  A->set_name(Name);
  A->set_type(onnx::AttributeProto::INT);
  A->set_i(Value);
}

onnx::TensorProto *addInitializer(onnx::ModelProto &M, const std::string &Name,
                                  int32_t Elem,
                                  const std::vector<int64_t> &Dims) {
  onnx::TensorProto *T = M.mutable_graph()->add_initializer();
  T->set_name(Name);
  T->set_data_type(Elem);
  for (int64_t D : Dims)
    T->add_dims(D);
  return T;
}

/// A model whose output is the initializer `w` itself: enough to check how
/// its data is read.
onnx::ModelProto initializerModel(int32_t Elem,
                                  const std::vector<int64_t> &Dims,
                                  onnx::TensorProto **Init) {
  onnx::ModelProto M = makeModel();
  *Init = addInitializer(M, "w", Elem, Dims);
  addOutput(M, "w");
  return M;
}

llvm::Expected<std::unique_ptr<Graph>> import(const onnx::ModelProto &M,
                                              llvm::StringRef BaseDir = "") {
  return importOnnxBuffer(M.SerializeAsString(), BaseDir, "test.onnx");
}

/// The message of a failed import, and whether it was unsupported.
std::pair<std::string, bool> importError(const onnx::ModelProto &M,
                                         llvm::StringRef BaseDir = "") {
  auto G = import(M, BaseDir);
  if (G)
    return {"(imported)", false};
  llvm::Error E = G.takeError();
  bool Unsupported = isUnsupportedError(E);
  return {llvm::toString(std::move(E)), Unsupported};
}

const Tensor &constantOf(const Graph &G, llvm::StringRef Name) {
  Value *V = G.lookup(Name);
  EXPECT_TRUE(V && V->constantData()) << Name.str();
  return *V->constantData();
}

std::vector<float> randomFloats(size_t N, unsigned Seed) {
  std::mt19937 Gen(Seed);
  std::uniform_real_distribution<float> Dist(-4.0f, 4.0f);
  std::vector<float> Out(N);
  for (float &F : Out)
    F = Dist(Gen);
  return Out;
}

/// A fresh directory for external data files, removed afterwards.
class TempDir {
public:
  TempDir() {
    std::error_code EC =
        llvm::sys::fs::createUniqueDirectory("kiln-onnx-test", Path);
    EXPECT_FALSE(EC) << EC.message();
  }
  ~TempDir() { llvm::sys::fs::remove_directories(Path); }
  std::string path() const { return std::string(Path); }
  std::string file(llvm::StringRef Name) const {
    llvm::SmallString<128> P(Path);
    llvm::sys::path::append(P, Name);
    return std::string(P);
  }
  void write(llvm::StringRef Name, llvm::StringRef Bytes) const {
    std::error_code EC;
    llvm::raw_fd_ostream OS(file(Name), EC);
    ASSERT_FALSE(EC) << EC.message();
    OS << Bytes;
  }

private:
  llvm::SmallString<128> Path;
};

void setExternal(onnx::TensorProto *T, const std::string &Location,
                 std::optional<int64_t> Offset, std::optional<int64_t> Length) {
  T->set_data_location(onnx::TensorProto::EXTERNAL);
  auto Add = [&](const std::string &K, const std::string &V) {
    onnx::StringStringEntryProto *E = T->add_external_data();
    E->set_key(K);
    E->set_value(V);
  };
  Add("location", Location);
  if (Offset)
    Add("offset", std::to_string(*Offset));
  if (Length)
    Add("length", std::to_string(*Length));
}

} // namespace

//===----------------------------------------------------------------------===//
// Initializer storage forms
//===----------------------------------------------------------------------===//

TEST(OnnxImporter, RawDataInitializer) {
  onnx::TensorProto *W;
  onnx::ModelProto M = initializerModel(onnx::TensorProto::FLOAT, {2, 3}, &W);
  std::vector<float> Values = randomFloats(6, 1);
  W->set_raw_data(std::string(reinterpret_cast<const char *>(Values.data()),
                              Values.size() * sizeof(float)));
  auto G = import(M);
  ASSERT_TRUE(!!G) << llvm::toString(G.takeError());
  const Tensor &T = constantOf(**G, "w");
  EXPECT_EQ(T.type().str(), "f32[2, 3]");
  for (int64_t I = 0; I < 6; ++I)
    EXPECT_EQ(T.getDouble(I), Values[I]);
  EXPECT_EQ((*G)->name(), "test");
}

TEST(OnnxImporter, TypedFieldInitializers) {
  std::vector<float> Floats = randomFloats(4, 2);
  struct Case {
    int32_t Elem;
    DType Want;
  };
  for (Case C : {Case{onnx::TensorProto::FLOAT, DType::F32},
                 Case{onnx::TensorProto::DOUBLE, DType::F64},
                 Case{onnx::TensorProto::FLOAT16, DType::F16},
                 Case{onnx::TensorProto::BFLOAT16, DType::BF16},
                 Case{onnx::TensorProto::INT64, DType::I64},
                 Case{onnx::TensorProto::INT32, DType::I32},
                 Case{onnx::TensorProto::INT8, DType::I8},
                 Case{onnx::TensorProto::UINT8, DType::U8},
                 Case{onnx::TensorProto::BOOL, DType::Bool}}) {
    SCOPED_TRACE(dtypeName(C.Want).str());
    onnx::TensorProto *W;
    onnx::ModelProto M = initializerModel(C.Elem, {4}, &W);
    std::vector<double> Want;
    for (int I = 0; I < 4; ++I) {
      switch (C.Want) {
      case DType::F32:
        W->add_float_data(Floats[I]);
        Want.push_back(Floats[I]);
        break;
      case DType::F64:
        W->add_double_data(Floats[I] * 3.0);
        Want.push_back(Floats[I] * 3.0);
        break;
      case DType::F16:
        W->add_int32_data(floatToHalf(Floats[I]));
        Want.push_back(halfToFloat(floatToHalf(Floats[I])));
        break;
      case DType::BF16:
        W->add_int32_data(floatToBFloat16(Floats[I]));
        Want.push_back(bfloat16ToFloat(floatToBFloat16(Floats[I])));
        break;
      case DType::I64:
        W->add_int64_data(int64_t(1) << (40 + I));
        Want.push_back(double(int64_t(1) << (40 + I)));
        break;
      case DType::I32:
        W->add_int32_data(-70000 * (I + 1));
        Want.push_back(-70000 * (I + 1));
        break;
      case DType::I8:
        W->add_int32_data(-100 + 61 * I);
        Want.push_back(-100 + 61 * I);
        break;
      case DType::U8:
        W->add_int32_data(200 + 17 * I);
        Want.push_back(200 + 17 * I);
        break;
      case DType::Bool:
        W->add_int32_data(I % 2);
        Want.push_back(I % 2);
        break;
      }
    }
    auto G = import(M);
    ASSERT_TRUE(!!G) << llvm::toString(G.takeError());
    const Tensor &T = constantOf(**G, "w");
    ASSERT_EQ(T.dtype(), C.Want);
    for (int64_t I = 0; I < 4; ++I)
      EXPECT_EQ(T.getDouble(I), Want[I]) << "element " << I;
  }
}

TEST(OnnxImporter, TypedFieldWithWrongCountIsAnError) {
  onnx::TensorProto *W;
  onnx::ModelProto M = initializerModel(onnx::TensorProto::FLOAT, {3}, &W);
  W->add_float_data(1.5f);
  W->add_float_data(2.5f);
  auto [Message, Unsupported] = importError(M);
  EXPECT_FALSE(Unsupported);
  EXPECT_NE(Message.find("initializer 'w'"), std::string::npos) << Message;
}

TEST(OnnxImporter, RawDataOfWrongSizeIsAnError) {
  onnx::TensorProto *W;
  onnx::ModelProto M = initializerModel(onnx::TensorProto::INT64, {2}, &W);
  W->set_raw_data(std::string(12, '\x01'));
  auto [Message, Unsupported] = importError(M);
  EXPECT_EQ(Message, "initializer 'w' of type i64[2] needs 16 bytes of "
                     "raw_data, it has 12");
}

TEST(OnnxImporter, HugeShapeWithoutDataIsRefusedBeforeAllocating) {
  onnx::TensorProto *W;
  onnx::ModelProto M =
      initializerModel(onnx::TensorProto::FLOAT, {1 << 20, 1 << 20}, &W);
  auto [Message, Unsupported] = importError(M);
  EXPECT_NE(Message.find("initializer 'w' has 1099511627776 elements"),
            std::string::npos)
      << Message;
}

TEST(OnnxImporter, ExternalDataBesideTheModel) {
  TempDir Dir;
  std::vector<float> Values = randomFloats(6, 3);
  std::string Bytes(reinterpret_cast<const char *>(Values.data()), 24);
  Dir.write("weights.bin", std::string(8, '\0') + Bytes);
  onnx::TensorProto *W;
  onnx::ModelProto M = initializerModel(onnx::TensorProto::FLOAT, {3, 2}, &W);
  setExternal(W, "weights.bin", 8, 24);
  auto G = import(M, Dir.path());
  ASSERT_TRUE(!!G) << llvm::toString(G.takeError());
  const Tensor &T = constantOf(**G, "w");
  for (int64_t I = 0; I < 6; ++I)
    EXPECT_EQ(T.getDouble(I), Values[I]);

  // Without a length, the data runs to the end of the file.
  W->clear_external_data();
  setExternal(W, "weights.bin", 8, std::nullopt);
  G = import(M, Dir.path());
  ASSERT_TRUE(!!G) << llvm::toString(G.takeError());

  // importOnnxFile looks beside the model file.
  Dir.write("model.onnx", M.SerializeAsString());
  G = importOnnxFile(Dir.file("model.onnx"));
  ASSERT_TRUE(!!G) << llvm::toString(G.takeError());
  EXPECT_EQ(constantOf(**G, "w").getDouble(5), Values[5]);
}

TEST(OnnxImporter, ExternalDataErrorsNameTensorAndFile) {
  TempDir Dir;
  Dir.write("short.bin", std::string(10, '\x01'));
  onnx::TensorProto *W;
  onnx::ModelProto M = initializerModel(onnx::TensorProto::FLOAT, {4}, &W);

  setExternal(W, "missing.bin", std::nullopt, std::nullopt);
  auto [Missing, U1] = importError(M, Dir.path());
  EXPECT_NE(Missing.find("initializer 'w'"), std::string::npos) << Missing;
  EXPECT_NE(Missing.find("'missing.bin' does not exist"), std::string::npos)
      << Missing;

  W->clear_external_data();
  setExternal(W, "short.bin", 0, std::nullopt);
  auto [Short, U2] = importError(M, Dir.path());
  EXPECT_NE(Short.find("initializer 'w'"), std::string::npos) << Short;
  EXPECT_NE(Short.find("short.bin' has 10 bytes, too short for 16 bytes"),
            std::string::npos)
      << Short;

  W->clear_external_data();
  setExternal(W, "../escape.bin", std::nullopt, std::nullopt);
  auto [Escape, U3] = importError(M, Dir.path());
  EXPECT_NE(Escape.find("outside the model's directory"), std::string::npos)
      << Escape;

  W->clear_external_data();
  setExternal(W, "/etc/passwd", std::nullopt, std::nullopt);
  auto [Absolute, U4] = importError(M, Dir.path());
  EXPECT_NE(Absolute.find("is an absolute path"), std::string::npos)
      << Absolute;

  W->clear_external_data();
  setExternal(W, "short.bin", std::nullopt, std::nullopt);
  auto [NoDir, U5] = importError(M, "");
  EXPECT_NE(NoDir.find("read from memory"), std::string::npos) << NoDir;
  EXPECT_FALSE(U1 || U2 || U3 || U4 || U5);
}

TEST(OnnxImporter, UnsupportedInitializerDtypeNamesTheTensor) {
  onnx::TensorProto *W;
  onnx::ModelProto M = initializerModel(onnx::TensorProto::UINT16, {2}, &W);
  W->add_int32_data(1);
  W->add_int32_data(2);
  auto [Message, Unsupported] = importError(M);
  EXPECT_TRUE(Unsupported);
  EXPECT_EQ(Message, "initializer 'w' has element type UINT16, which kiln "
                     "does not support");
}

TEST(OnnxImporter, InitializerListedAsInputIsAConstant) {
  onnx::TensorProto *W;
  onnx::ModelProto M = initializerModel(onnx::TensorProto::FLOAT, {2}, &W);
  W->add_float_data(0.25f);
  W->add_float_data(-3.5f);
  addInput(M, "w", {2});
  auto G = import(M);
  ASSERT_TRUE(!!G) << llvm::toString(G.takeError());
  EXPECT_TRUE((*G)->inputs().empty());
  EXPECT_TRUE((*G)->lookup("w")->isConstant());

  // Its declared type must fit the data.
  M.mutable_graph()->mutable_input(0)->clear_type();
  setType(M.mutable_graph()->mutable_input(0), onnx::TensorProto::FLOAT, {3});
  auto [Message, Unsupported] = importError(M);
  EXPECT_NE(Message.find("graph input 'w' (an initializer)"), std::string::npos)
      << Message;
}

//===----------------------------------------------------------------------===//
// Graph structure, names and types
//===----------------------------------------------------------------------===//

TEST(OnnxImporter, SymbolicInputDimsNamesAndConstantNodes) {
  onnx::ModelProto M = makeModel();
  addInput(M, "x", {std::string("batch"), std::string(""), int64_t(4)});
  onnx::NodeProto *C = addNode(M, "Constant", {}, {"two"}, "const");
  onnx::AttributeProto *A = C->add_attribute();
  A->set_name("value_float");
  A->set_type(onnx::AttributeProto::FLOAT);
  A->set_f(2.0f);
  addNode(M, "Mul", {"x", "two"}, {"y"}, "/layer/Mul");
  addOutput(M, "y");
  auto G = import(M);
  ASSERT_TRUE(!!G) << llvm::toString(G.takeError());
  EXPECT_EQ((*G)->inputs()[0]->type().str(), "f32[batch, ?, 4]");
  const Tensor &Two = constantOf(**G, "two");
  EXPECT_EQ(Two.type().str(), "f32[]");
  EXPECT_EQ(Two.getDouble(0), 2.0);
  Value *Y = (*G)->lookup("y");
  ASSERT_TRUE(Y && Y->definingNode());
  EXPECT_EQ(Y->definingNode()->name(), "/layer/Mul");
  EXPECT_EQ(Y->type().str(), "f32[batch, ?, 4]");
  EXPECT_EQ((*G)->outputs()[0], Y);
}

TEST(OnnxImporter, AbsentOptionalInputsAreNull) {
  onnx::ModelProto M = makeModel();
  addInput(M, "x", {int64_t(4)});
  addInput(M, "hi", {});
  addNode(M, "Clip", {"x", "", "hi"}, {"a"}, "middle");
  addNode(M, "Clip", {"a", "hi", ""}, {"b"}, "trailing");
  addOutput(M, "b");
  auto G = import(M);
  ASSERT_TRUE(!!G) << llvm::toString(G.takeError());
  Node *Middle = (*G)->lookup("a")->definingNode();
  ASSERT_EQ(Middle->numOperands(), 3u);
  EXPECT_EQ(Middle->operand(1), nullptr);
  EXPECT_EQ(Middle->operand(2), (*G)->lookup("hi"));
  EXPECT_EQ((*G)->lookup("b")->definingNode()->numOperands(), 2u);
}

TEST(OnnxImporter, DeclaredShapesAreHints) {
  // Exporters invent symbols where the size is static; inference wins.
  onnx::ModelProto M = makeModel();
  addInput(M, "x", {std::string("batch"), int64_t(3)});
  addNode(M, "Neg", {"x"}, {"a"}, "neg");
  onnx::ValueInfoProto *Out = M.mutable_graph()->add_output();
  Out->set_name("a");
  setType(Out, onnx::TensorProto::FLOAT,
          {std::string(""), std::string("Nega_dim_1")});
  auto G = import(M);
  ASSERT_TRUE(!!G) << llvm::toString(G.takeError());
  EXPECT_EQ((*G)->lookup("a")->type().str(), "f32[batch, 3]");
}

TEST(OnnxImporter, NodesOutOfOrderAreSorted) {
  onnx::ModelProto M = makeModel();
  addInput(M, "x", {int64_t(3)});
  addNode(M, "Neg", {"a"}, {"b"}, "second");
  addNode(M, "Abs", {"x"}, {"a"}, "first");
  addOutput(M, "b");
  auto G = import(M);
  ASSERT_TRUE(!!G) << llvm::toString(G.takeError());
  std::vector<Node *> Nodes = (*G)->nodeList();
  ASSERT_EQ(Nodes.size(), 2u);
  EXPECT_EQ(Nodes[0]->name(), "first");
  EXPECT_EQ(Nodes[1]->name(), "second");
}

TEST(OnnxImporter, StructuralErrors) {
  struct Case {
    const char *Name;
    std::function<void(onnx::ModelProto &)> Build;
    const char *Expected;
  };
  std::vector<Case> Cases = {
      {"cycle",
       [](onnx::ModelProto &M) {
         addNode(M, "Neg", {"b"}, {"a"}, "n1");
         addNode(M, "Neg", {"a"}, {"b"}, "n2");
         addOutput(M, "b");
       },
       "the graph has a cycle; it involves 'Neg' node \"n1\", 'Neg' node "
       "\"n2\""},
      {"missing input",
       [](onnx::ModelProto &M) {
         addNode(M, "Neg", {"nowhere"}, {"a"}, "n1");
         addOutput(M, "a");
       },
       "'Neg' node \"n1\": input 'nowhere' is not produced by any node, "
       "initializer or graph input"},
      {"output not produced",
       [](onnx::ModelProto &M) {
         addNode(M, "Neg", {"x"}, {"a"}, "n1");
         addOutput(M, "b");
       },
       "graph output 'b' is not produced by any node, initializer or input"},
      {"duplicate value",
       [](onnx::ModelProto &M) {
         addNode(M, "Neg", {"x"}, {"a"}, "n1");
         addNode(M, "Abs", {"x"}, {"a"}, "n2");
         addOutput(M, "a");
       },
       "value 'a' is defined twice: by 'Neg' node \"n1\" and by 'Abs' node "
       "\"n2\""},
      {"output shadows input",
       [](onnx::ModelProto &M) {
         addNode(M, "Neg", {"x"}, {"x"}, "n1");
         addOutput(M, "x");
       },
       "value 'x' is defined twice: by a graph input and by 'Neg' node "
       "\"n1\""},
      {"declared type mismatch",
       [](onnx::ModelProto &M) {
         addNode(M, "Neg", {"x"}, {"a"}, "n1");
         onnx::ValueInfoProto *V = M.mutable_graph()->add_value_info();
         V->set_name("a");
         setType(V, onnx::TensorProto::FLOAT, {int64_t(5)});
         addOutput(M, "a");
       },
       "'Neg' node \"n1\": result %a: inferred type f32[3] does not match the "
       "declared f32[5]"},
      {"too many inputs",
       [](onnx::ModelProto &M) {
         addNode(M, "Neg", {"x", "x"}, {"a"}, "n1");
         addOutput(M, "a");
       },
       "'Neg' node \"n1\": takes 1 input, has 2"},
      {"op newer than the model's opset",
       [](onnx::ModelProto &M) {
         addNode(M, "Gelu", {"x"}, {"a"}, "g");
         addOutput(M, "a");
       },
       "'Gelu' node \"g\": Gelu exists from opset 20 on, but the model "
       "imports opset 17"},
  };
  for (const Case &C : Cases) {
    SCOPED_TRACE(C.Name);
    onnx::ModelProto M = makeModel();
    addInput(M, "x", {int64_t(3)});
    C.Build(M);
    auto [Message, Unsupported] = importError(M);
    EXPECT_EQ(Message, C.Expected);
    EXPECT_FALSE(Unsupported);
  }
}

TEST(OnnxImporter, MalformedAndTruncatedBytes) {
  onnx::ModelProto M = makeModel();
  addInput(M, "x", {int64_t(3)});
  addNode(M, "Neg", {"x"}, {"a"}, "n1");
  addOutput(M, "a");
  std::string Bytes = M.SerializeAsString();
  for (size_t Cut : {Bytes.size() - 1, Bytes.size() / 2, size_t(3)}) {
    auto G = importOnnxBuffer(llvm::StringRef(Bytes).take_front(Cut), "",
                              "cut.onnx");
    ASSERT_FALSE(!!G);
    std::string Message = llvm::toString(G.takeError());
    EXPECT_TRUE(Message == "cut.onnx: not a valid ONNX model (the protobuf "
                           "is malformed or truncated)" ||
                Message == "cut.onnx: the ONNX model has no graph")
        << Message;
  }
  auto G = importOnnxBuffer("\xff\xff\xff\xff garbage", "", "junk.onnx");
  ASSERT_FALSE(!!G);
  EXPECT_EQ(llvm::toString(G.takeError()),
            "junk.onnx: not a valid ONNX model (the protobuf is malformed or "
            "truncated)");
  G = importOnnxFile("/nonexistent/model.onnx");
  ASSERT_FALSE(!!G);
  EXPECT_NE(llvm::toString(G.takeError()).find("cannot read"),
            std::string::npos);
}

//===----------------------------------------------------------------------===//
// Unsupported parts
//===----------------------------------------------------------------------===//

TEST(OnnxImporter, AllUnsupportedOpsInOneMessage) {
  onnx::ModelProto M = makeModel();
  addInput(M, "x", {int64_t(3)});
  addNode(M, "Foo", {"x"}, {"a"}, "n1");
  addNode(M, "Bar", {"a"}, {"b"}, "n2");
  addNode(M, "Foo", {"b"}, {"c"});
  addNode(M, "FusedMatMul", {"c"}, {"d"}, "n4")->set_domain("com.microsoft");
  addOutput(M, "d");
  auto [Message, Unsupported] = importError(M);
  EXPECT_TRUE(Unsupported);
  EXPECT_EQ(Message,
            "unsupported ONNX ops: 'Foo' (nodes \"n1\", producing %c), "
            "'Bar' (node \"n2\"), 'FusedMatMul' from domain "
            "'com.microsoft' (node \"n4\")");
}

TEST(OnnxImporter, KilnOnlyOpsAreNotOnnxOps) {
  // kiln's fused ops share the registry but are not ONNX ops.
  ASSERT_NE(lookupOp("Attention"), nullptr);
  onnx::ModelProto M = makeModel(24);
  addInput(M, "x", {int64_t(3)});
  addNode(M, "Attention", {"x"}, {"a"}, "att");
  addOutput(M, "a");
  auto [Message, Unsupported] = importError(M);
  EXPECT_TRUE(Unsupported);
  EXPECT_EQ(Message, "unsupported ONNX ops: 'Attention' (node \"att\")");

  ASSERT_NE(lookupOp("SkipLayerNorm"), nullptr);
  M.mutable_graph()->mutable_node(0)->set_op_type("SkipLayerNorm");
  EXPECT_EQ(importError(M).first,
            "unsupported ONNX ops: 'SkipLayerNorm' (node \"att\")");
}

TEST(OnnxImporter, UnknownAttributeIsUnsupported) {
  onnx::ModelProto M = makeModel();
  addInput(M, "x", {int64_t(3)});
  addIntAttr(addNode(M, "Neg", {"x"}, {"a"}, "n1"), "frobnicate", 1);
  addOutput(M, "a");
  auto [Message, Unsupported] = importError(M);
  EXPECT_TRUE(Unsupported);
  EXPECT_EQ(Message,
            "'Neg' node \"n1\" has unsupported attribute 'frobnicate'");
}

TEST(OnnxImporter, OpsetsAndDomains) {
  onnx::ModelProto Old = makeModel(11);
  addInput(Old, "x", {int64_t(3)});
  addNode(Old, "Neg", {"x"}, {"a"});
  addOutput(Old, "a");
  auto [OldMessage, OldUnsupported] = importError(Old);
  EXPECT_TRUE(OldUnsupported);
  EXPECT_EQ(OldMessage, "the model imports ai.onnx opset 11; kiln imports "
                        "opsets 13 to 27");

  onnx::ModelProto Ml = makeModel();
  onnx::OperatorSetIdProto *O = Ml.add_opset_import();
  O->set_domain("ai.onnx.ml");
  O->set_version(3);
  addInput(Ml, "x", {int64_t(3)});
  addNode(Ml, "Scaler", {"x"}, {"a"}, "s")->set_domain("ai.onnx.ml");
  addOutput(Ml, "a");
  auto [MlMessage, MlUnsupported] = importError(Ml);
  EXPECT_TRUE(MlUnsupported);
  EXPECT_EQ(MlMessage, "unsupported ONNX ops: 'Scaler' from domain "
                       "'ai.onnx.ml' version 3 (node \"s\")");
}

TEST(OnnxImporter, NonTensorInputIsUnsupported) {
  onnx::ModelProto M = makeModel();
  onnx::ValueInfoProto *V = M.mutable_graph()->add_input();
  V->set_name("seq");
  V->mutable_type()
      ->mutable_sequence_type()
      ->mutable_elem_type()
      ->mutable_tensor_type()
      ->set_elem_type(onnx::TensorProto::FLOAT);
  addOutput(M, "seq");
  auto [Message, Unsupported] = importError(M);
  EXPECT_TRUE(Unsupported);
  EXPECT_EQ(Message, "graph input 'seq' is a sequence; kiln supports only "
                     "tensors");
}

//===----------------------------------------------------------------------===//
// Upgrades to the opset-21 signatures
//===----------------------------------------------------------------------===//

TEST(OnnxImporter, ReduceAxesAttributeBecomesAnInput) {
  onnx::ModelProto M = makeModel(13);
  addInput(M, "x", {int64_t(2), int64_t(3), int64_t(4)});
  onnx::NodeProto *N = addNode(M, "ReduceMean", {"x"}, {"m"}, "mean");
  addIntsAttr(N, "axes", {-1, 0});
  addIntAttr(N, "keepdims", 0);
  addOutput(M, "m");
  auto G = import(M);
  ASSERT_TRUE(!!G) << llvm::toString(G.takeError());
  Node *Mean = (*G)->lookup("m")->definingNode();
  ASSERT_EQ(Mean->numOperands(), 2u);
  EXPECT_FALSE(Mean->hasAttr("axes"));
  const Tensor *Axes = Mean->operand(1)->constantData();
  ASSERT_NE(Axes, nullptr);
  EXPECT_EQ(Axes->toInts(), (std::vector<int64_t>{-1, 0}));
  EXPECT_EQ(Mean->operand(1)->name(), "m_axes");
  EXPECT_EQ((*G)->lookup("m")->type().str(), "f32[3]");

  // From opset 18 on, axes is an input already and no attribute.
  onnx::ModelProto New = makeModel(18);
  addInput(New, "x", {int64_t(2), int64_t(3)});
  addIntsAttr(addNode(New, "ReduceMean", {"x"}, {"m"}, "mean"), "axes", {0});
  addOutput(New, "m");
  auto [Message, Unsupported] = importError(New);
  EXPECT_EQ(Message, "'ReduceMean' node \"mean\" has unsupported attribute "
                     "'axes'");
}

TEST(OnnxImporter, SplitGetsNumOutputsBeforeOpset18) {
  onnx::ModelProto M = makeModel(13);
  addInput(M, "x", {int64_t(6), int64_t(2)});
  addNode(M, "Split", {"x"}, {"a", "b", "c"}, "split");
  addOutput(M, "a");
  addOutput(M, "c");
  auto G = import(M);
  ASSERT_TRUE(!!G) << llvm::toString(G.takeError());
  Node *Split = (*G)->lookup("a")->definingNode();
  EXPECT_EQ(Split->getInt("num_outputs", 0), 3);
  EXPECT_EQ((*G)->lookup("c")->type().str(), "f32[2, 2]");
}

TEST(OnnxImporter, CastDtypeBecomesAName) {
  onnx::ModelProto M = makeModel();
  addInput(M, "x", {int64_t(3)});
  addIntAttr(addNode(M, "Cast", {"x"}, {"h"}, "cast"), "to",
             onnx::TensorProto::FLOAT16);
  addOutput(M, "h");
  auto G = import(M);
  ASSERT_TRUE(!!G) << llvm::toString(G.takeError());
  Node *Cast = (*G)->lookup("h")->definingNode();
  EXPECT_EQ(Cast->getString("to", ""), "f16");
  EXPECT_EQ((*G)->lookup("h")->type().str(), "f16[3]");

  onnx::ModelProto Str = makeModel();
  addInput(Str, "x", {int64_t(3)});
  addIntAttr(addNode(Str, "Cast", {"x"}, {"s"}, "cast"), "to",
             onnx::TensorProto::STRING);
  addOutput(Str, "s");
  auto [Message, Unsupported] = importError(Str);
  EXPECT_TRUE(Unsupported);
  EXPECT_EQ(Message, "'Cast' node \"cast\": attribute 'to' has element type "
                     "STRING, which kiln does not support");
}

//===----------------------------------------------------------------------===//
// TensorProto files
//===----------------------------------------------------------------------===//

TEST(OnnxImporter, ReadTensorProtoFile) {
  TempDir Dir;
  onnx::TensorProto T;
  T.set_data_type(onnx::TensorProto::INT32);
  T.add_dims(2);
  T.add_int32_data(-7);
  T.add_int32_data(123456);
  Dir.write("input_0.pb", T.SerializeAsString());
  auto Read = readTensorProtoFile(Dir.file("input_0.pb"));
  ASSERT_TRUE(!!Read) << llvm::toString(Read.takeError());
  EXPECT_EQ(Read->type().str(), "i32[2]");
  EXPECT_EQ(Read->toInts(), (std::vector<int64_t>{-7, 123456}));

  Dir.write("bad.pb", "\x0a\xff");
  auto Bad = readTensorProtoFile(Dir.file("bad.pb"));
  ASSERT_FALSE(!!Bad);
  EXPECT_NE(
      llvm::toString(Bad.takeError()).find("not a valid ONNX TensorProto"),
      std::string::npos);
}
