//===- Tokenize.cpp - the `kiln tokenize` subcommand ----------------------===//
//
// kiln tokenize TOKENIZER [--max-length N] [--lowercase|--no-lowercase]
//                         [--strip-accents|--no-strip-accents] [--full]
//                         [--threads N] [--time [--batch B]]
//
// Reads JSON Lines from standard input, each line a JSON string, and writes
// one JSON array of token ids per line, in order. TOKENIZER is a
// tokenizer.json or a vocab.txt. Without --max-length the tokenizer's own
// truncation applies; --max-length 0 disables truncation. --full writes
// {"ids":[...],"type_ids":[...],"attention_mask":[...]} instead. --time
// reads every line first and reports the time spent encoding on stderr;
// with --batch B also the time of each batch of B texts (mean, p50, max),
// what a service waits for before a batch can run. --threads N encodes on
// an EncoderPool of N threads (default 1, the single-thread figure).
//
//===----------------------------------------------------------------------===//
#include "kiln/Tokenize.h"

#include "tokenizer/EncoderPool.h"
#include "tokenizer/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

using namespace kiln::tokenizer;

namespace kiln {

static int fail(const std::string &Message) {
  std::fprintf(stderr, "error: %s\n", Message.c_str());
  return 1;
}

static void appendArray(std::string &Out, const std::vector<uint32_t> &V) {
  Out.push_back('[');
  char Buf[16];
  for (size_t I = 0; I < V.size(); ++I) {
    if (I)
      Out.push_back(',');
    auto R = std::to_chars(Buf, Buf + sizeof(Buf), V[I]);
    Out.append(Buf, R.ptr);
  }
  Out.push_back(']');
}

static void appendEncoding(std::string &Out, const Encoding &E, bool Full) {
  if (!Full) {
    appendArray(Out, E.Ids);
  } else {
    Out += "{\"ids\":";
    appendArray(Out, E.Ids);
    Out += ",\"type_ids\":";
    appendArray(Out, E.TypeIds);
    Out += ",\"attention_mask\":";
    appendArray(Out, E.AttentionMask);
    Out.push_back('}');
  }
  Out.push_back('\n');
}

int runTokenizeCommand(int Argc, char **Argv) {
  const char *Path = nullptr;
  long MaxLength = -1;
  bool Full = false, Time = false;
  long Threads = 1, Batch = 0;
  VocabOptions Options;
  for (int I = 1; I < Argc; ++I) {
    std::string A = Argv[I];
    if (A == "--max-length" && I + 1 < Argc) {
      char *End;
      MaxLength = std::strtol(Argv[++I], &End, 10);
      if (*End || MaxLength < 0)
        return fail("--max-length takes a number >= 0");
    } else if (A == "--lowercase" || A == "--no-lowercase") {
      Options.Lowercase = A == "--lowercase";
    } else if (A == "--strip-accents" || A == "--no-strip-accents") {
      Options.StripAccents = A == "--strip-accents";
    } else if (A == "--full") {
      Full = true;
    } else if (A == "--time") {
      Time = true;
    } else if ((A == "--threads" || A == "--batch") && I + 1 < Argc) {
      char *End;
      long N = std::strtol(Argv[++I], &End, 10);
      if (*End || N < 1 || N > (A == "--threads" ? 256 : 1 << 20))
        return fail(A + " takes a positive number");
      (A == "--threads" ? Threads : Batch) = N;
    } else if (A == "-h" || A == "--help") {
      std::puts("usage: kiln tokenize TOKENIZER [--max-length N] "
                "[--lowercase|--no-lowercase] "
                "[--strip-accents|--no-strip-accents] [--full] [--threads N] "
                "[--time [--batch B]]\n"
                "Reads JSON Lines of strings on stdin, writes one JSON array "
                "of token ids per line.");
      return 0;
    } else if (!A.empty() && A[0] == '-') {
      return fail("unknown option '" + A + "'");
    } else if (!Path) {
      Path = Argv[I];
    } else {
      return fail("more than one tokenizer given");
    }
  }
  if (!Path)
    return fail("usage: kiln tokenize TOKENIZER [--max-length N]");
  if (Batch && !Time)
    return fail("--batch times batches: it needs --time");
  EncoderPool Pool{size_t(Threads)};
  auto Tok = Tokenizer::load(Path, Options);
  if (!Tok)
    return fail(llvm::toString(Tok.takeError()));
  if (MaxLength >= 0) {
    Truncation T = Tok->truncation();
    T.MaxLength = size_t(MaxLength);
    if (llvm::Error E = Tok->setTruncation(T))
      return fail(llvm::toString(std::move(E)));
  }

  std::ios::sync_with_stdio(false);
  std::vector<std::string> Texts;
  std::string Line, Out;
  Encoding Enc;
  size_t LineNo = 0;
  auto EncodeOne = [&](const std::string &Text) -> bool {
    if (llvm::Error E = Tok->encode(Text, Enc)) {
      fail("line " + std::to_string(LineNo) + ": " +
           llvm::toString(std::move(E)));
      return false;
    }
    appendEncoding(Out, Enc, Full);
    return true;
  };
  while (std::getline(std::cin, Line)) {
    ++LineNo;
    if (Line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    nlohmann::json Value;
    try {
      Value = nlohmann::json::parse(Line);
    } catch (const nlohmann::json::exception &E) {
      return fail("line " + std::to_string(LineNo) + ": " + E.what());
    }
    if (!Value.is_string())
      return fail("line " + std::to_string(LineNo) +
                  ": expected a JSON string, got " + Value.type_name());
    if (Time || Threads > 1) {
      Texts.push_back(Value.get<std::string>());
      continue;
    }
    if (!EncodeOne(Value.get_ref<const std::string &>()))
      return 1;
    if (Out.size() > (1 << 16)) {
      std::fwrite(Out.data(), 1, Out.size(), stdout);
      Out.clear();
    }
  }
  std::vector<Encoding> Encs;
  using Clock = std::chrono::steady_clock;
  auto Seconds = [](Clock::time_point T0) {
    return std::chrono::duration<double>(Clock::now() - T0).count();
  };
  if (Time) {
    Clock::time_point Start = Clock::now();
    if (llvm::Error E = encodeBatch(*Tok, Pool, Texts, Encs))
      return fail(llvm::toString(std::move(E)));
    double Total = Seconds(Start);
    size_t Tokens = 0;
    for (const Encoding &E : Encs)
      Tokens += E.Ids.size();
    std::fprintf(stderr,
                 "kiln tokenize: %zu strings, %zu tokens in %.6f s "
                 "(%zu threads)\n",
                 Texts.size(), Tokens, Total, Pool.threads());
    if (Batch) {
      std::vector<double> Times;
      std::vector<Encoding> Part;
      for (size_t B = 0; B + size_t(Batch) <= Texts.size();
           B += size_t(Batch)) {
        Clock::time_point T0 = Clock::now();
        if (llvm::Error E = encodeBatch(
                *Tok, Pool,
                std::span<const std::string>(Texts).subspan(B, size_t(Batch)),
                Part))
          return fail(llvm::toString(std::move(E)));
        Times.push_back(Seconds(T0));
      }
      if (Times.empty())
        return fail("--batch " + std::to_string(Batch) + ": fewer texts (" +
                    std::to_string(Texts.size()) + ") than one batch");
      double Sum = 0;
      for (double T : Times)
        Sum += T;
      std::sort(Times.begin(), Times.end());
      std::fprintf(stderr,
                   "kiln tokenize: %zu batches of %ld: mean %.3f ms, p50 "
                   "%.3f ms, max %.3f ms\n",
                   Times.size(), Batch, Sum / double(Times.size()) * 1e3,
                   Times[Times.size() / 2] * 1e3, Times.back() * 1e3);
    }
  } else if (Threads > 1) {
    if (llvm::Error E = encodeBatch(*Tok, Pool, Texts, Encs))
      return fail(llvm::toString(std::move(E)));
  }
  for (const Encoding &E : Encs)
    appendEncoding(Out, E, Full);
  std::fwrite(Out.data(), 1, Out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : fail("cannot write the output");
}

} // namespace kiln
