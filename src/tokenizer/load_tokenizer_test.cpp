// load_tokenizer picks tokenizer.json over tokenizer.model and names the directory when it has neither.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

const std::filesystem::path kStories = std::filesystem::path(ALLOY_SHARED_DIR) / "stories260K/base";

TEST(LoadTokenizer, SentencePieceModelWithItsSpecialTokens) {
  const auto tokenizer = load_tokenizer(kStories);
  EXPECT_EQ(tokenizer->vocab_size(), 512);
  EXPECT_EQ(tokenizer->bos_id(), 1);  // tokenizer_config.json: <s>
  EXPECT_EQ(tokenizer->eos_id(), 2);  // </s>
  // llama.cpp's rule (sentencepiece_tokenizer.h): repeated spaces kept, ▁a ▁ ▁b.
  EXPECT_EQ(tokenizer->encode("a  b"), (std::vector<int32_t>{261, 410, 268}));
}

TEST(LoadTokenizer, TokenizerJsonWinsAndNoTokenizerIsAnError) {
  const auto dir = std::filesystem::temp_directory_path() / ("alloy_load_tok_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  try {
    load_tokenizer(dir);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.string()), std::string::npos) << e.what();
  }
  std::filesystem::copy_file(kStories / "tokenizer.model", dir / "tokenizer.model");
  // A WordPiece tokenizer.json beside it: "hi", "##!" and [UNK].
  std::ofstream(dir / "tokenizer.json") << R"({"added_tokens": [], "normalizer": null,
    "pre_tokenizer": {"type": "WhitespaceSplit"}, "decoder": null,
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "hi": 1, "##!": 2}}})";
  const auto tokenizer = load_tokenizer(dir);
  EXPECT_EQ(tokenizer->vocab_size(), 3);
  EXPECT_EQ(tokenizer->encode("hi! hi x"), (std::vector<int32_t>{1, 2, 1, 0}));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace alloy
