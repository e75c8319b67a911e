//===- ArtifactMetadata.cpp - the metadata section of a .kiln file --------===//
//
// The JSON of the metadata section (docs/artifact.md, "Metadata"), apart
// from the binary sections' encoding in ArtifactCodec.cpp. Decoding never
// trusts its input: every field is checked for its type and range.
//
//===----------------------------------------------------------------------===//

#include "runtime/ArtifactFormat.h"

#include "ir/Error.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

using namespace kiln;
using namespace kiln::artifact;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;

namespace {
//===----------------------------------------------------------------------===//
// Metadata (JSON) helpers
//===----------------------------------------------------------------------===//

llvm::json::Value dimsToJson(const std::vector<Dim> &Dims) {
  llvm::json::Array A;
  for (const Dim &D : Dims) {
    if (D.isStatic())
      A.push_back(D.value());
    else if (D.isSymbol())
      A.push_back(D.symbol());
    else
      A.push_back(nullptr);
  }
  return A;
}

llvm::json::Value ioToJson(const std::vector<IoSpec> &Specs) {
  llvm::json::Array A;
  for (const IoSpec &S : Specs) {
    llvm::json::Object O{{"name", S.Name},
                         {"dtype", dtypeName(S.Type)},
                         {"shape", dimsToJson(S.Dims)}};
    if (S.Role != IoRole::None)
      O["role"] = ioRoleName(S.Role);
    A.push_back(std::move(O));
  }
  return A;
}

llvm::json::Value indexChecksToJson(const std::vector<IndexCheck> &Checks) {
  llvm::json::Array A;
  for (const IndexCheck &C : Checks)
    A.push_back(llvm::json::Object{
        {"input", C.Input},
        {"node", C.Node},
        {"table", C.Table},
        {"form", C.Kind == IndexCheck::Form::Embed ? "embed" : "gather"},
        {"table_size", C.TableSize},
        {"wrap_negative", C.WrapNegative},
        {"reported_on_device", C.ReportedOnDevice}});
  return A;
}

/// V.getAsInteger(), less its one undefined case: a double of exactly 2^63
/// passes its range check (INT64_MAX rounds up to 2^63) and then overflows
/// the conversion.
std::optional<int64_t> jsonInteger(const llvm::json::Value &V) {
  if (std::optional<double> D = V.getAsNumber();
      D && *D >= 0x1p63 && !V.getAsUINT64())
    return std::nullopt;
  return V.getAsInteger();
}

Error metadataError(const Twine &Why) {
  return makeError("section 'metadata': " + Why);
}

Expected<std::string> jsonString(const llvm::json::Object &O, StringRef Key) {
  if (std::optional<StringRef> S = O.getString(Key))
    return S->str();
  return metadataError("'" + Key + "' is missing or not a string");
}

Expected<std::vector<int64_t>> jsonInts(const llvm::json::Object &O,
                                        StringRef Key) {
  const llvm::json::Array *A = O.getArray(Key);
  if (!A)
    return metadataError("'" + Key + "' is missing or not a list");
  std::vector<int64_t> Out;
  for (const llvm::json::Value &V : *A) {
    std::optional<int64_t> I = jsonInteger(V);
    if (!I)
      return metadataError("'" + Key + "' holds something not an integer");
    Out.push_back(*I);
  }
  return Out;
}

Expected<std::vector<IndexCheck>> jsonIndexChecks(const llvm::json::Object &O) {
  const llvm::json::Array *A = O.getArray("index_checks");
  if (!A)
    return metadataError("'index_checks' is not a list");
  std::vector<IndexCheck> Out;
  for (const llvm::json::Value &V : *A) {
    const llvm::json::Object *C = V.getAsObject();
    std::optional<StringRef> Input, Node, Table, Form;
    std::optional<int64_t> Size;
    std::optional<bool> Wrap, Reported = false;
    if (C) {
      Input = C->getString("input");
      Node = C->getString("node");
      Table = C->getString("table");
      Form = C->getString("form");
      if (const llvm::json::Value *S = C->get("table_size"))
        Size = jsonInteger(*S);
      Wrap = C->getBoolean("wrap_negative");
      if (C->get("reported_on_device")) // absent in older artifacts
        Reported = C->getBoolean("reported_on_device");
    }
    if (!Input || !Node || !Table || !Form || !Size || *Size < 0 || !Wrap ||
        !Reported || (*Form != "gather" && *Form != "embed"))
      return metadataError("an entry of 'index_checks' lacks a string "
                           "'input', 'node' or 'table', a 'form' of gather "
                           "or embed, a size 'table_size' or a boolean "
                           "'wrap_negative', or has a 'reported_on_device' "
                           "that is no boolean");
    Out.push_back(
        {Input->str(), Node->str(), Table->str(),
         *Form == "embed" ? IndexCheck::Form::Embed : IndexCheck::Form::Gather,
         *Size, *Wrap, *Reported});
  }
  return Out;
}

Expected<std::vector<IoSpec>> jsonIo(const llvm::json::Object &O,
                                     StringRef Key) {
  const llvm::json::Array *A = O.getArray(Key);
  if (!A)
    return metadataError("'" + Key + "' is missing or not a list");
  std::vector<IoSpec> Out;
  for (const llvm::json::Value &V : *A) {
    const llvm::json::Object *Spec = V.getAsObject();
    std::optional<StringRef> Name =
        Spec ? Spec->getString("name") : std::nullopt;
    std::optional<StringRef> Type =
        Spec ? Spec->getString("dtype") : std::nullopt;
    const llvm::json::Array *Shape = Spec ? Spec->getArray("shape") : nullptr;
    if (!Name || !Type || !Shape)
      return metadataError("an entry of '" + Key +
                           "' lacks a string 'name', a string 'dtype' or a "
                           "list 'shape'");
    IoSpec S;
    S.Name = Name->str();
    if (const llvm::json::Value *Role = Spec->get("role")) {
      std::optional<StringRef> R = Role->getAsString();
      if (R && *R == ioRoleName(IoRole::AttentionMask))
        S.Role = IoRole::AttentionMask;
      else if (R && *R == ioRoleName(IoRole::TokenTypes))
        S.Role = IoRole::TokenTypes;
      else
        return metadataError("'" + Key + "' entry '" + *Name +
                             "' has an unknown 'role'");
    }
    std::optional<DType> T = parseDType(*Type);
    if (!T)
      return metadataError("'" + Key + "' entry '" + *Name +
                           "' has unknown dtype '" + *Type + "'");
    S.Type = *T;
    for (const llvm::json::Value &D : *Shape) {
      if (std::optional<int64_t> I = jsonInteger(D); I && *I >= 0)
        S.Dims.push_back(Dim(*I));
      else if (std::optional<StringRef> Sym = D.getAsString();
               Sym && !Sym->empty())
        S.Dims.push_back(Dim::symbol(Sym->str()));
      else if (D.getAsNull())
        S.Dims.push_back(Dim::unknown());
      else
        return metadataError("'" + Key + "' entry '" + *Name +
                             "' has a dim that is no size, symbol or null");
    }
    Out.push_back(std::move(S));
  }
  return Out;
}

/// The keys a service that takes text reads: "pooling" and
/// "sentence_max_seq_length", both optional.
Error decodeTextMetadata(const llvm::json::Object &O, ArtifactMetadata &M) {
  if (const llvm::json::Value *P = O.get("pooling")) {
    const llvm::json::Object *PO = P->getAsObject();
    std::optional<StringRef> Output =
        PO ? PO->getString("output") : std::nullopt;
    std::optional<StringRef> Mode = PO ? PO->getString("mode") : std::nullopt;
    std::optional<bool> Normalize =
        PO ? PO->getBoolean("normalize") : std::nullopt;
    if (!Output || !Mode || !Normalize ||
        (*Mode != "mean" && *Mode != "cls" && *Mode != "none") ||
        (*Mode == "none") != Output->empty())
      return metadataError("'pooling' is not {\"output\", \"mode\": "
                           "mean|cls|none, \"normalize\"}");
    M.Pooling = OutputPooling{Output->str(), Mode->str(), *Normalize};
  }
  if (const llvm::json::Value *L = O.get("sentence_max_seq_length")) {
    std::optional<int64_t> N = jsonInteger(*L);
    if (!N || *N <= 0)
      return metadataError("'sentence_max_seq_length' is not a positive "
                           "integer");
    M.SentenceMaxSeqLength = *N;
  }
  if (const llvm::json::Value *W = O.get("kernels_wait_for_predecessor")) {
    std::optional<bool> B = W->getAsBoolean();
    if (!B)
      return metadataError("'kernels_wait_for_predecessor' is not a boolean");
    M.KernelsWaitForPredecessor = *B;
  }
  return Error::success();
}

} // namespace

std::string kiln::artifact::encodeMetadata(const ArtifactMetadata &M) {
  llvm::json::Object O{{"model", M.ModelName},
                       {"producer", M.Producer},
                       {"precision", M.Precision},
                       {"arch", M.Arch},
                       {"batch_buckets", M.BatchBuckets},
                       {"seq_buckets", M.SeqBuckets},
                       {"inputs", ioToJson(M.Inputs)},
                       {"outputs", ioToJson(M.Outputs)},
                       {"compile_command", M.CompileCommand}};
  if (!M.DataDependent.empty())
    O["data_dependent"] = M.DataDependent;
  if (M.MaxSequenceLength)
    O["max_sequence_length"] = M.MaxSequenceLength;
  if (!M.TokenBuckets.empty())
    O["token_buckets"] = M.TokenBuckets;
  if (!M.IndexChecks.empty())
    O["index_checks"] = indexChecksToJson(M.IndexChecks);
  if (M.Pooling)
    O["pooling"] = llvm::json::Object{{"output", M.Pooling->Output},
                                      {"mode", M.Pooling->Mode},
                                      {"normalize", M.Pooling->Normalize}};
  if (M.SentenceMaxSeqLength > 0)
    O["sentence_max_seq_length"] = M.SentenceMaxSeqLength;
  if (M.KernelsWaitForPredecessor)
    O["kernels_wait_for_predecessor"] = true;
  std::string S;
  llvm::raw_string_ostream OS(S);
  llvm::json::OStream J(OS, /*IndentSize=*/2);
  J.value(std::move(O));
  return S;
}

Error kiln::artifact::decodeMetadata(StringRef Bytes, ArtifactMetadata &M) {
  Expected<llvm::json::Value> V = llvm::json::parse(Bytes);
  if (!V)
    return metadataError(llvm::toString(V.takeError()));
  const llvm::json::Object *O = V->getAsObject();
  if (!O)
    return metadataError("not a JSON object");
  auto Assign = [](auto &Field, auto Got) -> Error {
    if (!Got)
      return Got.takeError();
    Field = std::move(*Got);
    return Error::success();
  };
  if (Error E = Assign(M.ModelName, jsonString(*O, "model")))
    return E;
  if (Error E = Assign(M.Producer, jsonString(*O, "producer")))
    return E;
  if (Error E = Assign(M.Precision, jsonString(*O, "precision")))
    return E;
  if (Error E = Assign(M.Arch, jsonString(*O, "arch")))
    return E;
  if (Error E = Assign(M.BatchBuckets, jsonInts(*O, "batch_buckets")))
    return E;
  if (Error E = Assign(M.SeqBuckets, jsonInts(*O, "seq_buckets")))
    return E;
  if (O->get("token_buckets"))
    if (Error E = Assign(M.TokenBuckets, jsonInts(*O, "token_buckets")))
      return E;
  if (Error E = Assign(M.Inputs, jsonIo(*O, "inputs")))
    return E;
  if (Error E = Assign(M.Outputs, jsonIo(*O, "outputs")))
    return E;
  if (Error E = Assign(M.CompileCommand, jsonString(*O, "compile_command")))
    return E;
  if (O->get("data_dependent"))
    if (Error E = Assign(M.DataDependent, jsonString(*O, "data_dependent")))
      return E;
  if (const llvm::json::Value *Max = O->get("max_sequence_length")) {
    std::optional<int64_t> I = jsonInteger(*Max);
    if (!I || *I < 0)
      return metadataError("'max_sequence_length' is not a size");
    M.MaxSequenceLength = *I;
  }
  if (O->get("index_checks"))
    if (Error E = Assign(M.IndexChecks, jsonIndexChecks(*O)))
      return E;
  return decodeTextMetadata(*O, M);
}
