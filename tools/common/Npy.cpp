#include "common/Npy.h"
#include "ir/Error.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <zlib.h>

namespace kiln {
namespace {

constexpr llvm::StringLiteral NpyMagic("\x93NUMPY");

// ---------------------------------------------------------------------------
// .npy
// ---------------------------------------------------------------------------

/// NumPy's type string for each kiln dtype (bf16 has none).
std::optional<llvm::StringRef> npyDescr(DType T) {
  switch (T) {
  case DType::F32: return llvm::StringRef("<f4");
  case DType::F16: return llvm::StringRef("<f2");
  case DType::F64: return llvm::StringRef("<f8");
  case DType::I64: return llvm::StringRef("<i8");
  case DType::I32: return llvm::StringRef("<i4");
  case DType::I8: return llvm::StringRef("|i1");
  case DType::U8: return llvm::StringRef("|u1");
  case DType::Bool: return llvm::StringRef("|b1");
  case DType::BF16: return std::nullopt;
  }
  return std::nullopt;
}

llvm::Expected<DType> dtypeFromDescr(llvm::StringRef Descr) {
  // The first character is the byte order: '<' little, '>' big, '|' not
  // applicable (one byte), '=' native (little on every machine kiln runs on).
  char Order = Descr.empty() ? '\0' : Descr.front();
  llvm::StringRef Code =
      llvm::StringRef("<>|=").contains(Order) ? Descr.drop_front() : Descr;
  static const std::pair<llvm::StringRef, DType> Codes[] = {
      {"f4", DType::F32}, {"f2", DType::F16}, {"f8", DType::F64},
      {"i8", DType::I64}, {"i4", DType::I32}, {"i1", DType::I8},
      {"u1", DType::U8},  {"b1", DType::Bool}};
  for (const auto &[Name, T] : Codes) {
    if (Code != Name)
      continue;
    if (Order == '>' && dtypeSize(T) > 1)
      return makeError("big-endian data ('" + Descr +
                       "') is not supported; save it as little-endian with "
                       "a.astype(a.dtype.newbyteorder('<'))");
    return T;
  }
  return makeError("unsupported dtype '" + Descr +
                   "' (kiln reads f4 f2 f8 i8 i4 i1 u1 b1; NumPy has no "
                   "bfloat16: save such data as f4)");
}

/// Parses the Python dict literal of an .npy header, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
class HeaderParser {
public:
  explicit HeaderParser(llvm::StringRef Text) : Rest(Text) {}

  struct Header {
    DType Elem = DType::F32;
    std::vector<int64_t> Shape;
  };

  llvm::Expected<Header> parse() {
    Header H;
    bool SawDescr = false, SawOrder = false, SawShape = false;
    if (!consume('{'))
      return fail("expected '{'");
    while (!consume('}')) {
      llvm::Expected<std::string> Key = parseString();
      if (!Key)
        return Key.takeError();
      if (!consume(':'))
        return fail("expected ':' after '" + *Key + "'");
      if (*Key == "descr") {
        skipSpace();
        if (Rest.starts_with("["))
          return makeError("structured dtypes are not supported");
        llvm::Expected<std::string> Descr = parseString();
        if (!Descr)
          return Descr.takeError();
        llvm::Expected<DType> Elem = dtypeFromDescr(*Descr);
        if (!Elem)
          return Elem.takeError();
        H.Elem = *Elem;
        SawDescr = true;
      } else if (*Key == "fortran_order") {
        skipSpace();
        if (Rest.consume_front("True"))
          return makeError("Fortran-order arrays are not supported; save "
                           "np.ascontiguousarray(a) instead");
        if (!Rest.consume_front("False"))
          return fail("expected True or False for 'fortran_order'");
        SawOrder = true;
      } else if (*Key == "shape") {
        llvm::Expected<std::vector<int64_t>> Shape = parseShape();
        if (!Shape)
          return Shape.takeError();
        H.Shape = std::move(*Shape);
        SawShape = true;
      } else {
        return fail("unexpected key '" + *Key + "'");
      }
      if (!consume(',')) {
        if (!consume('}'))
          return fail("expected ',' or '}'");
        break;
      }
    }
    if (!llvm::StringRef(Rest).trim(" \t\r\n").empty())
      return fail("unexpected text after the header dict");
    if (!SawDescr || !SawOrder || !SawShape)
      return fail("the header needs 'descr', 'fortran_order' and 'shape'");
    return H;
  }

private:
  llvm::Error fail(const llvm::Twine &Message) {
    return makeError("malformed header: " + Message);
  }
  void skipSpace() { Rest = Rest.ltrim(" \t\r\n"); }
  bool consume(char C) {
    skipSpace();
    return Rest.consume_front(llvm::StringRef(&C, 1));
  }

  llvm::Expected<std::string> parseString() {
    skipSpace();
    if (Rest.empty() || (Rest.front() != '\'' && Rest.front() != '"'))
      return fail("expected a quoted string");
    char Quote = Rest.front();
    size_t End = Rest.find(Quote, 1);
    if (End == llvm::StringRef::npos)
      return fail("unterminated string");
    std::string S = Rest.slice(1, End).str();
    Rest = Rest.drop_front(End + 1);
    return S;
  }

  llvm::Expected<std::vector<int64_t>> parseShape() {
    std::vector<int64_t> Shape;
    if (!consume('('))
      return fail("expected '(' for 'shape'");
    while (!consume(')')) {
      skipSpace();
      size_t Len = 0;
      while (Len < Rest.size() && llvm::isDigit(Rest[Len]))
        ++Len;
      int64_t D;
      if (Len == 0 || Len > 18 || Rest.take_front(Len).getAsInteger(10, D))
        return fail("expected a non-negative size in 'shape'");
      Rest = Rest.drop_front(Len);
      Rest.consume_front("L"); // Python 2 longs, still found in old files.
      Shape.push_back(D);
      if (!consume(',')) {
        if (!consume(')'))
          return fail("expected ',' or ')' in 'shape'");
        break;
      }
    }
    return Shape;
  }

  llvm::StringRef Rest;
};

uint16_t readLE16(const uint8_t *P) { return uint16_t(P[0] | P[1] << 8); }
uint32_t readLE32(const uint8_t *P) {
  return uint32_t(P[0]) | uint32_t(P[1]) << 8 | uint32_t(P[2]) << 16 |
         uint32_t(P[3]) << 24;
}
uint64_t readLE64(const uint8_t *P) {
  return uint64_t(readLE32(P)) | uint64_t(readLE32(P + 4)) << 32;
}

void appendLE16(std::string &Out, uint16_t V) {
  Out.push_back(char(V & 0xff));
  Out.push_back(char(V >> 8));
}
void appendLE32(std::string &Out, uint32_t V) {
  appendLE16(Out, uint16_t(V & 0xffff));
  appendLE16(Out, uint16_t(V >> 16));
}

llvm::Expected<Tensor> parseNpyImpl(llvm::StringRef Bytes) {
  const auto *P = reinterpret_cast<const uint8_t *>(Bytes.data());
  if (!Bytes.starts_with(NpyMagic) || Bytes.size() < 10)
    return makeError("not an .npy file (no \\x93NUMPY magic)");
  uint8_t Major = P[6];
  size_t HeaderStart, HeaderLen;
  if (Major == 1) {
    HeaderStart = 10;
    HeaderLen = readLE16(P + 8);
  } else if (Major == 2 || Major == 3) {
    if (Bytes.size() < 12)
      return makeError("truncated .npy header");
    HeaderStart = 12;
    HeaderLen = readLE32(P + 8);
  } else {
    return makeError("unsupported .npy format version " + llvm::Twine(Major) +
                     "." + llvm::Twine(P[7]));
  }
  if (HeaderLen > Bytes.size() - HeaderStart)
    return makeError("truncated .npy header");
  llvm::Expected<HeaderParser::Header> H =
      HeaderParser(Bytes.substr(HeaderStart, HeaderLen)).parse();
  if (!H)
    return H.takeError();

  uint64_t Count = 1;
  for (int64_t D : H->Shape)
    if (__builtin_mul_overflow(Count, uint64_t(D), &Count))
      return makeError("shape is too large");
  uint64_t NumBytes;
  if (__builtin_mul_overflow(Count, uint64_t(dtypeSize(H->Elem)), &NumBytes))
    return makeError("shape is too large");
  llvm::StringRef Data = Bytes.drop_front(HeaderStart + HeaderLen);
  if (Data.size() != NumBytes)
    return makeError("has " + llvm::Twine(Data.size()) +
                     " bytes of data, but its shape and dtype need " +
                     llvm::Twine(NumBytes));
  Tensor T = Tensor::fromBytes(
      H->Elem, std::move(H->Shape),
      llvm::ArrayRef(reinterpret_cast<const uint8_t *>(Data.data()),
                     Data.size()));
  if (T.dtype() == DType::Bool) // kiln's bools are 0 or 1; NumPy's are too,
    for (int64_t I = 0; I < T.numElements(); ++I) // unless written by hand.
      T.mutableBytes()[I] = T.bytes()[I] != 0;
  return T;
}

// ---------------------------------------------------------------------------
// .npz (zip)
// ---------------------------------------------------------------------------

constexpr uint32_t LocalHeaderSig = 0x04034b50;
constexpr uint32_t CentralHeaderSig = 0x02014b50;
constexpr uint32_t EndSig = 0x06054b50;
constexpr uint32_t Zip64EndSig = 0x06064b50;
constexpr uint32_t Zip64LocatorSig = 0x07064b50;
constexpr uint16_t Zip64ExtraId = 0x0001;
constexpr uint32_t Sat32 = 0xffffffff;
// 1980-01-01 00:00, the earliest DOS date; NumPy writes the same.
constexpr uint16_t DosTime = 0, DosDate = (0 << 9) | (1 << 5) | 1;
// Deflate cannot expand data by more than about 1032:1; a larger claim is
// corrupt and must not make us allocate its size.
constexpr uint64_t MaxDeflateRatio = 1032;

uint32_t crc32Of(llvm::StringRef Data) {
  uLong CRC = crc32(0L, Z_NULL, 0);
  // zlib takes 32-bit lengths; feed large buffers in pieces.
  while (!Data.empty()) {
    llvm::StringRef Piece = Data.take_front(1u << 30);
    CRC = crc32(CRC, reinterpret_cast<const Bytef *>(Piece.data()),
                uInt(Piece.size()));
    Data = Data.drop_front(Piece.size());
  }
  return uint32_t(CRC);
}

llvm::Expected<std::string> inflateRaw(llvm::StringRef In, uint64_t OutSize) {
  if (OutSize > In.size() * MaxDeflateRatio + 1024 || In.size() > UINT32_MAX ||
      OutSize > UINT32_MAX)
    return makeError("compressed sizes are implausible (corrupt archive?)");
  std::string Out(OutSize, '\0');
  z_stream S = {};
  if (inflateInit2(&S, -MAX_WBITS) != Z_OK)
    return makeError("cannot initialize zlib");
  S.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(In.data()));
  S.avail_in = uInt(In.size());
  S.next_out = reinterpret_cast<Bytef *>(Out.data());
  S.avail_out = uInt(Out.size());
  int RC = inflate(&S, Z_FINISH);
  uint64_t Produced = S.total_out;
  inflateEnd(&S);
  if (RC != Z_STREAM_END || Produced != OutSize)
    return makeError("corrupt deflate data");
  return Out;
}

/// Reads the zip64 extended-information extra field: it holds, in this order,
/// exactly those of the sizes and the offset that were saturated to
/// 0xffffffff in the fixed header.
llvm::Error readZip64Extra(llvm::StringRef Extra, uint64_t &USize,
                           uint64_t &CSize, uint64_t &Offset) {
  while (Extra.size() >= 4) {
    const auto *P = reinterpret_cast<const uint8_t *>(Extra.data());
    uint16_t Id = readLE16(P), Len = readLE16(P + 2);
    if (Len > Extra.size() - 4)
      return makeError("truncated extra field");
    if (Id == Zip64ExtraId) {
      llvm::StringRef Fields = Extra.substr(4, Len);
      for (uint64_t *F : {&USize, &CSize, &Offset}) {
        if (*F != Sat32)
          continue;
        if (Fields.size() < 8)
          return makeError("truncated zip64 extra field");
        *F = readLE64(reinterpret_cast<const uint8_t *>(Fields.data()));
        Fields = Fields.drop_front(8);
      }
      return llvm::Error::success();
    }
    Extra = Extra.drop_front(4 + Len);
  }
  return llvm::Error::success();
}

struct CentralDirectory {
  uint64_t Entries, Offset, Size;
};

llvm::Expected<CentralDirectory> findCentralDirectory(llvm::StringRef Bytes) {
  const auto *P = reinterpret_cast<const uint8_t *>(Bytes.data());
  // The end record is 22 bytes plus a comment of at most 65535 bytes.
  constexpr size_t EndLen = 22;
  if (Bytes.size() < EndLen)
    return makeError("not a zip archive (too short)");
  size_t Lowest =
      Bytes.size() > EndLen + 0xffff ? Bytes.size() - EndLen - 0xffff : 0;
  size_t End = Bytes.size() - EndLen;
  while (readLE32(P + End) != EndSig ||
         End + EndLen + readLE16(P + End + 20) != Bytes.size()) {
    if (End == Lowest)
      return makeError("not a zip archive (no end of central directory)");
    --End;
  }
  CentralDirectory CD{readLE16(P + End + 10), readLE32(P + End + 16),
                      readLE32(P + End + 12)};
  if (CD.Entries != 0xffff && CD.Offset != Sat32 && CD.Size != Sat32)
    return CD;
  // A zip64 archive: a locator right before the end record points at the
  // zip64 end record, which has the 64-bit counts.
  if (End < 20 || readLE32(P + End - 20) != Zip64LocatorSig)
    return CD;
  uint64_t Rec = readLE64(P + End - 20 + 8);
  if (Rec > Bytes.size() || Bytes.size() - Rec < 56 ||
      readLE32(P + Rec) != Zip64EndSig)
    return makeError("corrupt zip64 end of central directory");
  return CentralDirectory{readLE64(P + Rec + 32), readLE64(P + Rec + 48),
                          readLE64(P + Rec + 40)};
}

/// Reads one member's uncompressed bytes from the central-directory entry at
/// `Entry`; advances `Entry` past it.
llvm::Expected<std::pair<std::string, std::string>>
readMember(llvm::StringRef Bytes, uint64_t &Entry) {
  const auto *P = reinterpret_cast<const uint8_t *>(Bytes.data());
  if (Bytes.size() - Entry < 46 || readLE32(P + Entry) != CentralHeaderSig)
    return makeError("corrupt central directory");
  const uint8_t *E = P + Entry;
  uint16_t Flags = readLE16(E + 8), Method = readLE16(E + 10);
  uint32_t CRC = readLE32(E + 16);
  uint64_t CSize = readLE32(E + 20), USize = readLE32(E + 24);
  uint16_t NameLen = readLE16(E + 28), ExtraLen = readLE16(E + 30),
           CommentLen = readLE16(E + 32);
  uint64_t Offset = readLE32(E + 42);
  if (Bytes.size() - Entry - 46 < uint64_t(NameLen) + ExtraLen + CommentLen)
    return makeError("corrupt central directory");
  std::string Name = Bytes.substr(Entry + 46, NameLen).str();
  if (llvm::Error Err = readZip64Extra(
          Bytes.substr(Entry + 46 + NameLen, ExtraLen), USize, CSize, Offset))
    return withContext(std::move(Err), "member '" + Name + "'");
  Entry += 46 + NameLen + ExtraLen + CommentLen;

  auto Fail = [&](const llvm::Twine &Message) {
    return makeError("member '" + Name + "': " + Message);
  };
  if (Flags & 1)
    return Fail("encrypted members are not supported");
  if (Offset > Bytes.size() || Bytes.size() - Offset < 30 ||
      readLE32(P + Offset) != LocalHeaderSig)
    return Fail("corrupt local header");
  uint64_t DataStart =
      Offset + 30 + readLE16(P + Offset + 26) + readLE16(P + Offset + 28);
  if (DataStart > Bytes.size() || Bytes.size() - DataStart < CSize)
    return Fail("data runs past the end of the archive");
  llvm::StringRef Raw = Bytes.substr(DataStart, CSize);

  std::string Data;
  if (Method == 0) {
    if (USize != CSize)
      return Fail("stored member with different sizes");
    Data = Raw.str();
  } else if (Method == 8) {
    llvm::Expected<std::string> Inflated = inflateRaw(Raw, USize);
    if (!Inflated)
      return withContext(Inflated.takeError(), "member '" + Name + "'");
    Data = std::move(*Inflated);
  } else {
    return Fail("compression method " + llvm::Twine(Method) +
                " is not supported (use np.savez or np.savez_compressed)");
  }
  if (crc32Of(Data) != CRC)
    return Fail("CRC mismatch (corrupt archive)");
  return std::make_pair(std::move(Name), std::move(Data));
}

llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
readFile(llvm::StringRef Path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> Buf =
      llvm::MemoryBuffer::getFile(Path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!Buf)
    return makeError("cannot read '" + Path + "': " + Buf.getError().message());
  return std::move(*Buf);
}

llvm::Error writeFileAtomically(llvm::StringRef Path, llvm::StringRef Data) {
  llvm::Error Err = llvm::writeToOutput(Path, [&](llvm::raw_ostream &OS) {
    OS << Data;
    return llvm::Error::success();
  });
  if (Err)
    return makeError("cannot write '" + Path +
                     "': " + llvm::toString(std::move(Err)));
  return llvm::Error::success();
}

} // namespace

llvm::Expected<Tensor> parseNpy(llvm::StringRef Bytes, llvm::StringRef Name) {
  llvm::Expected<Tensor> T = parseNpyImpl(Bytes);
  if (!T)
    return withContext(T.takeError(), Name);
  return T;
}

llvm::Expected<std::string> serializeNpy(const Tensor &T) {
  std::optional<llvm::StringRef> Descr = npyDescr(T.dtype());
  if (!Descr)
    return makeError("NumPy has no " + dtypeName(T.dtype()) +
                     " dtype; cast the tensor to f32 first");
  std::string Dict =
      "{'descr': '" + Descr->str() + "', 'fortran_order': False, 'shape': (";
  for (int64_t I = 0; I < T.rank(); ++I)
    Dict += (I ? ", " : "") + std::to_string(T.dim(I));
  Dict += T.rank() == 1 ? ",), }" : "), }";
  // NumPy pads the header with spaces and a newline so that the data starts
  // at a multiple of 64 bytes.
  size_t Unpadded = NpyMagic.size() + 4 + Dict.size() + 1;
  Dict.append((64 - Unpadded % 64) % 64, ' ');
  Dict += '\n';
  if (Dict.size() > 0xffff)
    return makeError("tensor of rank " + llvm::Twine(T.rank()) +
                     " has too long an .npy header");

  std::string Out = NpyMagic.str();
  Out += '\x01';
  Out += '\x00';
  appendLE16(Out, uint16_t(Dict.size()));
  Out += Dict;
  if (T.byteSize())
    Out.append(reinterpret_cast<const char *>(T.bytes()), T.byteSize());
  return Out;
}

llvm::Expected<NamedTensors> parseNpz(llvm::StringRef Bytes,
                                      llvm::StringRef Name) {
  llvm::Expected<CentralDirectory> CD = findCentralDirectory(Bytes);
  if (!CD)
    return withContext(CD.takeError(), Name);
  if (CD->Offset > Bytes.size() || Bytes.size() - CD->Offset < CD->Size)
    return makeError(Name + ": corrupt central directory");
  NamedTensors Out;
  uint64_t Entry = CD->Offset;
  for (uint64_t I = 0; I < CD->Entries; ++I) {
    llvm::Expected<std::pair<std::string, std::string>> Member =
        readMember(Bytes, Entry);
    if (!Member)
      return withContext(Member.takeError(), Name);
    llvm::Expected<Tensor> T = parseNpyImpl(Member->second);
    if (!T)
      return withContext(T.takeError(),
                         Name + ": member '" + Member->first + "'");
    llvm::StringRef Key(Member->first);
    Key.consume_back(".npy");
    Out.emplace_back(Key.str(), std::move(*T));
  }
  return Out;
}

llvm::Expected<std::string> serializeNpz(const NamedTensors &Tensors) {
  if (Tensors.size() >= 0xffff)
    return makeError("too many arrays for an .npz archive");
  llvm::StringSet<> Seen;
  std::string Out, Central;
  for (const auto &[Name, T] : Tensors) {
    if (!Seen.insert(Name).second)
      return makeError("two arrays are named '" + Name + "'");
    llvm::Expected<std::string> Data = serializeNpy(T);
    if (!Data)
      return makeError("array '" + Name +
                       "': " + llvm::toString(Data.takeError()));
    std::string File = Name + ".npy";
    uint64_t Offset = Out.size();
    if (Data->size() >= Sat32 || Offset >= Sat32 || File.size() > 0xffff)
      return makeError("array '" + Name +
                       "' does not fit an .npz archive without zip64");
    uint32_t CRC = crc32Of(*Data);
    auto AppendCommon = [&](std::string &S) {
      appendLE16(S, 20); // version needed to extract: 2.0
      appendLE16(S, 0);  // flags
      appendLE16(S, 0);  // method: stored
      appendLE16(S, DosTime);
      appendLE16(S, DosDate);
      appendLE32(S, CRC);
      appendLE32(S, uint32_t(Data->size()));
      appendLE32(S, uint32_t(Data->size()));
      appendLE16(S, uint16_t(File.size()));
      appendLE16(S, 0); // extra length
    };
    appendLE32(Out, LocalHeaderSig);
    AppendCommon(Out);
    Out += File;
    Out += *Data;

    appendLE32(Central, CentralHeaderSig);
    appendLE16(Central, 20); // version made by: MS-DOS, 2.0
    AppendCommon(Central);
    appendLE16(Central, 0); // comment length
    appendLE16(Central, 0); // disk number
    appendLE16(Central, 0); // internal attributes
    appendLE32(Central, 0); // external attributes
    appendLE32(Central, uint32_t(Offset));
    Central += File;
  }
  uint64_t CentralOffset = Out.size();
  if (CentralOffset + Central.size() >= Sat32)
    return makeError("arrays do not fit an .npz archive without zip64");
  Out += Central;
  appendLE32(Out, EndSig);
  appendLE16(Out, 0); // this disk
  appendLE16(Out, 0); // disk with the central directory
  appendLE16(Out, uint16_t(Tensors.size()));
  appendLE16(Out, uint16_t(Tensors.size()));
  appendLE32(Out, uint32_t(Central.size()));
  appendLE32(Out, uint32_t(CentralOffset));
  appendLE16(Out, 0); // comment length
  return Out;
}

llvm::Expected<Tensor> readNpy(llvm::StringRef Path) {
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> Buf = readFile(Path);
  if (!Buf)
    return Buf.takeError();
  return parseNpy((*Buf)->getBuffer(), Path);
}

llvm::Error writeNpy(llvm::StringRef Path, const Tensor &T) {
  llvm::Expected<std::string> Bytes = serializeNpy(T);
  if (!Bytes)
    return withContext(Bytes.takeError(), "cannot write '" + Path + "'");
  return writeFileAtomically(Path, *Bytes);
}

llvm::Expected<NamedTensors> readNpz(llvm::StringRef Path) {
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> Buf = readFile(Path);
  if (!Buf)
    return Buf.takeError();
  return parseNpz((*Buf)->getBuffer(), Path);
}

llvm::Error writeNpz(llvm::StringRef Path, const NamedTensors &Tensors) {
  llvm::Expected<std::string> Bytes = serializeNpz(Tensors);
  if (!Bytes)
    return withContext(Bytes.takeError(), "cannot write '" + Path + "'");
  return writeFileAtomically(Path, *Bytes);
}

} // namespace kiln
