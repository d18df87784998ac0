// The decoder on real weights: Karpathy's stories260K (a trained Llama with GQA and an untied
// head) against figures measured by other tools — llama2.c's NLL of the golden sentence and
// llama.cpp's perplexity of a fine-tune on held-out text (tests/data/stories260K/eval/ppl.md).
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "io/checkpoint.h"
#include "model/decoder.h"

namespace alloy {
namespace {

const std::filesystem::path kData = std::filesystem::path(ALLOY_SHARED_DIR) / "stories260K";

// Protobuf varints, to rewrite one field of the serialized SentencePiece model below.
uint64_t read_varint(const std::string& s, size_t& at) {
  uint64_t v = 0;
  for (int shift = 0; at < s.size(); shift += 7) {
    const uint8_t b = static_cast<uint8_t>(s[at++]);
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  return v;
}
void write_varint(std::string& out, uint64_t v) {
  for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7f) | 0x80));
  out.push_back(static_cast<char>(v));
}
size_t skip_field(const std::string& s, size_t at, uint64_t tag) {
  switch (tag & 7) {
    case 0: read_varint(s, at); return at;
    case 1: return at + 8;
    case 2: { const uint64_t n = read_varint(s, at); return at + n; }
    case 5: return at + 4;
  }
  ADD_FAILURE() << "unexpected protobuf wire type " << (tag & 7);
  return s.size();
}

// The model with NormalizerSpec.remove_extra_whitespaces (field 4 of ModelProto's field 3) false:
// llama.cpp, whose figures the tests compare with, keeps runs of spaces; SentencePiece's default
// collapses them. The public headers carry no ModelProto, so the bytes are rewritten here.
std::string keep_whitespace(const std::string& model) {
  std::string out;
  size_t at = 0;
  while (at < model.size()) {
    const size_t start = at;
    const uint64_t tag = read_varint(model, at);
    if (tag != ((3 << 3) | 2)) {
      at = skip_field(model, at, tag);
      out.append(model, start, at - start);
      continue;
    }
    const uint64_t n = read_varint(model, at);
    const std::string spec = model.substr(at, n);
    at += n;
    std::string rewritten;
    for (size_t i = 0; i < spec.size();) {
      const size_t field_start = i;
      const uint64_t t = read_varint(spec, i);
      i = skip_field(spec, i, t);
      if (t >> 3 != 4) rewritten.append(spec, field_start, i - field_start);
    }
    rewritten += std::string("\x20\x00", 2);  // field 4, varint 0
    write_varint(out, tag);
    write_varint(out, rewritten.size());
    out += rewritten;
  }
  return out;
}

std::vector<int32_t> encode_with_bos(const std::filesystem::path& model_dir, const std::string& text,
                                     bool keep_spaces = false) {
  sentencepiece::SentencePieceProcessor sp;
  std::ifstream in(model_dir / "tokenizer.model", std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  const auto status = sp.LoadFromSerializedProto(keep_spaces ? keep_whitespace(bytes.str()) : bytes.str());
  EXPECT_TRUE(status.ok()) << status.ToString();
  std::vector<int> ids;
  EXPECT_TRUE(sp.Encode(text, &ids).ok());
  std::vector<int32_t> out{1};  // BOS
  out.insert(out.end(), ids.begin(), ids.end());
  return out;
}

struct Loaded {
  std::shared_ptr<const Checkpoint> checkpoint;
  CheckpointWeights weights;
  DecoderLM<float> model;
  explicit Loaded(const std::filesystem::path& dir)
      : checkpoint(Checkpoint::open(dir)),
        weights(checkpoint),
        model(decoder_config_from_json(checkpoint->config(), checkpoint->has("lm_head.weight")), weights) {}
};

TEST(Stories260K, GoldenSentenceNllMatchesLlama2c) {
  const nlohmann::json golden = read_json_file(kData / "golden.json");
  const Loaded m(kData / "base");
  std::vector<int32_t> tokens = encode_with_bos(kData / "base", golden["sentence"].get<std::string>());
  ASSERT_EQ(static_cast<int64_t>(tokens.size()), golden["n_tokens"].get<int64_t>());
  const int64_t n = static_cast<int64_t>(tokens.size());
  const LossSum loss = m.model.loss(next_token_batch(tokens, 1, n));
  EXPECT_EQ(loss.count, n - 1);
  EXPECT_NEAR(loss.nll, golden["nll"].get<double>(), golden["tolerance"].get<double>());
  EXPECT_NEAR(std::exp(loss.mean()), golden["perplexity"].get<double>(), 1e-3);
}

// llama.cpp's rule (ppl.md): the file tokenized once with a leading BOS, cut into 128-token chunks
// (partial last chunk dropped), each chunk's first token replaced by BOS, tokens 65..127 scored.
double llama_cpp_perplexity(const Loaded& m, const std::filesystem::path& model_dir,
                            const std::filesystem::path& text_file) {
  std::ifstream in(text_file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::vector<int32_t> all = encode_with_bos(model_dir, text.str(), /*keep_spaces=*/true);
  const int64_t ctx = 128, chunks = static_cast<int64_t>(all.size()) / ctx;
  std::vector<int32_t> tokens(all.begin(), all.begin() + chunks * ctx);
  for (int64_t c = 0; c < chunks; ++c) tokens[c * ctx] = 1;
  const LossSum loss = m.model.loss(next_token_batch(tokens, chunks, ctx, ctx / 2));
  EXPECT_EQ(loss.count, chunks * 63);
  return std::exp(loss.mean());
}

TEST(Stories260K, PythonFineTunePerplexityMatchesLlamaCpp) {
  const Loaded m(kData / "python");
  const double ppl = llama_cpp_perplexity(m, kData / "python", kData / "eval" / "python.txt");
  EXPECT_NEAR(ppl, 17.5, 0.01 * 17.5);  // ppl.md: within 1%
}

}  // namespace
}  // namespace alloy
