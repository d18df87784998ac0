// The vocabulary check on hand-built GGUF files (gguf.md's encoding): tokenizer arrays and the
// embedding must agree on the token count, as llama.cpp's loader assumes.
#include "io/gguf_vocab_check.h"

#include <gtest/gtest.h>

#include "../../tests/gguf_bytes.h"
#include "../../tests/test_support.h"
#include "io/gguf_checkpoint.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using namespace alloy::testing;

std::string strings_payload(const std::vector<std::string>& values) {
  std::string elements;
  for (const auto& v : values) elements += gguf_string(v);
  return array_payload(kString, values.size(), elements);
}

// A llama-arch file with `tokens` and an embedding of `rows` rows of 2, plus the keys `extra` adds.
std::string model_bytes(size_t tokens, uint64_t rows, const std::function<void(GgufBuilder&)>& extra = {}) {
  GgufBuilder b;
  b.kv_string("general.architecture", "llama");
  std::vector<std::string> names;
  for (size_t i = 0; i < tokens; ++i) names.push_back("t" + std::to_string(i));
  b.kv("tokenizer.ggml.tokens", kArray, strings_payload(names));
  if (extra) extra(b);
  b.tensor("token_embd.weight", {2, rows}, 0, f32_data(std::vector<float>(2 * rows, 0.25f)));
  return b.build();
}

std::string open_error(const std::string& bytes) {
  TempDir dir;
  const fs::path file = dir.path() / "m.gguf";
  write_file(file, bytes);
  CheckpointOptions native;
  native.gguf_llama_cpp_names = true;
  return error_message([&] { Checkpoint::open(file, native); }, "GGUF with a broken vocabulary opened");
}

TEST(GgufVocabCheck, ArraysAndEmbeddingAgreeingOnTheTokenCountAreRead) {
  TempDir dir;
  write_file(dir.path() / "m.gguf", model_bytes(3, 3, [](GgufBuilder& b) {
    b.kv("tokenizer.ggml.scores", kArray, array_payload(kF32, 3, f32_data({0, -1, -2})));
    b.kv("tokenizer.ggml.token_type", kArray, array_payload(kI32, 3, u32_bytes(1) + u32_bytes(3) + u32_bytes(6)));
    b.kv("tokenizer.ggml.merges", kArray, strings_payload({"t 1"}));
  }));
  CheckpointOptions native;
  native.gguf_llama_cpp_names = true;
  EXPECT_EQ(Checkpoint::open(dir.path() / "m.gguf", native)->tensor("token_embd.weight").shape, (Shape{3, 2}));
}

TEST(GgufVocabCheck, RefusesCountsThatDisagreeNamingKeyAndCounts) {
  std::string e = open_error(model_bytes(3, 4));
  EXPECT_NE(e.find("m.gguf"), std::string::npos) << e;
  EXPECT_NE(e.find("tensor 'token_embd.weight' has 4 rows for the 3 tokens"), std::string::npos) << e;
  e = open_error(model_bytes(3, 3, [](GgufBuilder& b) {
    b.kv("tokenizer.ggml.scores", kArray, array_payload(kF32, 2, f32_data({0, -1})));
  }));
  EXPECT_NE(e.find("'tokenizer.ggml.scores' has 2 entries for the 3 tokens"), std::string::npos) << e;
  e = open_error(model_bytes(3, 3, [](GgufBuilder& b) {
    b.kv("tokenizer.ggml.token_type", kArray, array_payload(kI32, 4, std::string(16, '\1')));
  }));
  EXPECT_NE(e.find("'tokenizer.ggml.token_type' has 4 entries"), std::string::npos) << e;
}

TEST(GgufVocabCheck, RefusesArraysOfTheWrongType) {
  std::string e = open_error(model_bytes(3, 3, [](GgufBuilder& b) {
    b.kv("tokenizer.ggml.scores", kArray, array_payload(kI32, 3, std::string(12, '\0')));
  }));
  EXPECT_NE(e.find("'tokenizer.ggml.scores' is an array of i32, not an array of f32"), std::string::npos) << e;
  GgufBuilder b;
  b.kv_string("general.architecture", "llama").kv_u32("tokenizer.ggml.tokens", 3);
  e = open_error(b.build());
  EXPECT_NE(e.find("'tokenizer.ggml.tokens' is u32, not an array of string"), std::string::npos) << e;
}

}  // namespace
}  // namespace alloy
