// SentencePieceTokenizer against two references no one here wrote: Debian's spm_encode (the
// library's own command, with the model's normalizer) and llama.cpp's tokenizer (ids it gave the
// held-out texts, stored by tests/js/llama_cpp_ids.mjs); plus hand-worked ids where they differ.
#include "tokenizer/sentencepiece_tokenizer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

const std::filesystem::path kModel = std::filesystem::path(ALLOY_SHARED_DIR) / "stories260K/base/tokenizer.model";
const std::filesystem::path kEval = std::filesystem::path(ALLOY_SHARED_DIR) / "stories260K/eval";

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// spm_encode's ids for each line of `lines` (it encodes line by line), or nullopt without it.
std::optional<std::vector<std::vector<int32_t>>> spm_encode_lines(const std::vector<std::string>& lines) {
  if (std::system("command -v spm_encode > /dev/null 2>&1") != 0) return std::nullopt;
  const auto dir = std::filesystem::temp_directory_path();
  const auto in_file = dir / ("alloy_spm_in_" + std::to_string(::getpid()) + ".txt");
  const auto out_file = dir / ("alloy_spm_out_" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream out(in_file, std::ios::binary);
    for (const auto& line : lines) out << line << '\n';
  }
  const std::string command = "spm_encode --model='" + kModel.string() + "' --output_format=id < '" +
                              in_file.string() + "' > '" + out_file.string() + "'";
  if (std::system(command.c_str()) != 0) return std::nullopt;
  std::vector<std::vector<int32_t>> ids;
  for (const auto& line : lines_of(read_text(out_file))) {
    std::istringstream in(line);
    ids.emplace_back();
    for (int32_t id; in >> id;) ids.back().push_back(id);
  }
  std::filesystem::remove(in_file);
  std::filesystem::remove(out_file);
  return ids;
}

bool has_clean_spaces(const std::string& line) {
  return line.find("  ") == std::string::npos && (line.empty() || (line.front() != ' ' && line.back() != ' '));
}

uint64_t fnv1a64(const std::vector<int32_t>& ids) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int32_t id : ids)
    for (int b = 0; b < 4; ++b) {
      h ^= (static_cast<uint32_t>(id) >> (8 * b)) & 0xff;
      h *= 0x100000001b3ull;
    }
  return h;
}

TEST(SentencePieceTokenizer, AsModelEqualsSpmEncodeOnEveryEvalLine) {
  const SentencePieceTokenizer tokenizer(kModel, SentencePieceTokenizer::Normalizer::as_model);
  for (const char* name : {"python.txt", "cheaders.txt", "man.txt", "stories.txt"}) {
    const auto lines = lines_of(read_text(kEval / name));
    const auto expected = spm_encode_lines(lines);
    if (!expected) GTEST_SKIP() << "spm_encode (Debian package sentencepiece) is not installed";
    ASSERT_EQ(expected->size(), lines.size()) << name;
    for (size_t i = 0; i < lines.size(); ++i)
      ASSERT_EQ(tokenizer.encode(lines[i]), (*expected)[i]) << name << " line " << i + 1 << ": " << lines[i];
  }
}

// On a line with no leading, trailing or repeated space both normalizers give the same text.
TEST(SentencePieceTokenizer, LikeLlamaCppEqualsSpmEncodeWhereTheyAgree) {
  const SentencePieceTokenizer tokenizer(kModel);
  std::vector<std::string> lines;
  for (const char* name : {"python.txt", "cheaders.txt", "man.txt", "stories.txt"})
    for (const auto& line : lines_of(read_text(kEval / name)))
      if (!line.empty() && has_clean_spaces(line)) lines.push_back(line);
  ASSERT_GT(lines.size(), 1000u);
  const auto expected = spm_encode_lines(lines);
  if (!expected) GTEST_SKIP() << "spm_encode (Debian package sentencepiece) is not installed";
  for (size_t i = 0; i < lines.size(); ++i) ASSERT_EQ(tokenizer.encode(lines[i]), (*expected)[i]) << lines[i];
}

// Hand-worked from the vocabulary (spm_export_vocab): ▁a 261 (score -2), ▁b 268 (-9), ▁ 410,
// x 444, y 422, byte <0x0A> 13. No piece holds ▁ after its first character, so a run of spaces
// stays one ▁ per space and the next word's ▁ merges with it by score ("▁a" before "▁b").
TEST(SentencePieceTokenizer, LikeLlamaCppKeepsEverySpace) {
  const SentencePieceTokenizer llama(kModel);
  const SentencePieceTokenizer as_model(kModel, SentencePieceTokenizer::Normalizer::as_model);
  // "a  b" -> "▁a▁▁b": ▁a ▁ ▁b; the model's normalizer collapses it to "▁a▁b".
  EXPECT_EQ(llama.encode("a  b"), (std::vector<int32_t>{261, 410, 268}));
  EXPECT_EQ(as_model.encode("a  b"), (std::vector<int32_t>{261, 268}));
  // "  x " -> "▁▁▁x▁" (prefix space plus two): ▁ ▁ ▁ x ▁; the model strips to "▁x".
  EXPECT_EQ(llama.encode("  x "), (std::vector<int32_t>{410, 410, 410, 444, 410}));
  EXPECT_EQ(as_model.encode("  x "), (std::vector<int32_t>{410, 444}));
  // Newlines are no spaces to either: "▁x\n\ny" -> ▁ x <0x0A> <0x0A> y (no ▁ after a newline).
  EXPECT_EQ(llama.encode("x\n\ny"), (std::vector<int32_t>{410, 444, 13, 13, 422}));
  EXPECT_EQ(as_model.encode("x\n\ny"), (std::vector<int32_t>{410, 444, 13, 13, 422}));
  // Only spaces: llama.cpp keeps them ("▁▁▁"); the model's normalizer leaves nothing.
  EXPECT_EQ(llama.encode("  "), (std::vector<int32_t>{410, 410, 410}));
  EXPECT_TRUE(as_model.encode("  ").empty());
}

// The whole held-out files, as llama.cpp tokenizes them for its perplexity figures.
TEST(SentencePieceTokenizer, LikeLlamaCppEqualsLlamaCppOnTheEvalFiles) {
  const SentencePieceTokenizer tokenizer(kModel);
  const auto reference = nlohmann::json::parse(
      read_text(std::filesystem::path(ALLOY_SOURCE_DIR) / "src/tokenizer/testdata/stories260K_llama_cpp_ids.json"));
  for (const auto& [name, expected] : reference.items()) {
    const auto ids = tokenizer.encode(read_text(kEval / name));
    const auto head = expected["head"].get<std::vector<int32_t>>();
    ASSERT_GE(ids.size(), head.size()) << name;
    EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + head.size()), head) << name;
    EXPECT_EQ(ids.size(), expected["count"].get<size_t>()) << name;
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(fnv1a64(ids)));
    EXPECT_EQ(hash, expected["fnv1a64"].get<std::string>()) << name;
  }
}

TEST(SentencePieceTokenizer, SpecialTokensDecodeAndLookup) {
  const SentencePieceTokenizer tokenizer(kModel);
  EXPECT_EQ(tokenizer.vocab_size(), 512);
  EXPECT_EQ(tokenizer.bos_id(), 1);  // <s>, tokenizer_config.json's bos_token
  EXPECT_EQ(tokenizer.eos_id(), 2);
  EXPECT_EQ(tokenizer.pad_id(), std::nullopt);
  EXPECT_EQ(tokenizer.token_to_id("▁a"), 261);
  EXPECT_EQ(tokenizer.token_to_id("not a piece"), std::nullopt);
  const std::string text = "def f(x):\n    return x  # two spaces";
  const auto ids = tokenizer.encode(text);
  EXPECT_EQ(tokenizer.decode(ids), text);
  const int32_t outside[] = {512};
  EXPECT_THROW(tokenizer.decode(outside), Error);
}

TEST(SentencePieceTokenizer, ErrorsNameTheFile) {
  const auto missing = std::filesystem::temp_directory_path() / "alloy_no_such_tokenizer.model";
  try {
    SentencePieceTokenizer tokenizer(missing);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
  const auto garbage = std::filesystem::temp_directory_path() / ("alloy_garbage_" + std::to_string(::getpid()) + ".model");
  std::ofstream(garbage) << "this is not a protobuf";
  try {
    SentencePieceTokenizer tokenizer(garbage);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(garbage.string()), std::string::npos) << e.what();
  }
  std::filesystem::remove(garbage);
}

}  // namespace
}  // namespace alloy
