// GGUF output of a model whose only tokenizer is a byte-level BPE tokenizer.json: the tokenizer
// keys llama.cpp's convert_hf_to_gguf.py writes for it (_set_vocab_gpt2 and gguf-py's
// SpecialVocab), checked against the tokenizer.json read here on its own with nlohmann::json:
// tokens by id, token types, merges, special ids. The pre-tokenizer names are llama.cpp's
// (src/llama-vocab.cpp), the regexes those of the models' published tokenizer.json files.
#include <gtest/gtest.h>

#include <fstream>

#include "fixtures/tokenizer_files.h"
#include "io/checkpoint.h"
#include "io/gguf_bpe_vocab.h"
#include "io/gguf_model.h"
#include "test_support.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_alloy;
using testing::TempDir;
using testing::write_file;

const fs::path kData = fs::path(ALLOY_SOURCE_DIR) / "tests/data/stories260K";

json split_then_byte_level(const std::string& regex) {
  return json::parse(R"({"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": ""}, "behavior": "Isolated", "invert": false},
      {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]})")
      .patch(json::array({{{"op", "replace"}, {"path", "/pretokenizers/0/pattern/Regex"}, {"value", regex}}}));
}

TEST(GgufBpeVocab, PreTokenizerNames) {
  EXPECT_EQ(llama_cpp_pre_tokenizer(json::parse(R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})")),
            "gpt-2");
  // Llama 3's and Qwen2's tokenizer.json (written here as the JSON files spell them).
  const std::string llama3 = json::parse(
      R"("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")");
  const std::string qwen2 = json::parse(
      R"("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")");
  EXPECT_EQ(llama_cpp_pre_tokenizer(split_then_byte_level(llama3)), "llama-bpe");
  EXPECT_EQ(llama_cpp_pre_tokenizer(split_then_byte_level(qwen2)), "qwen2");
  // Anything else has no name alloy can tell.
  EXPECT_EQ(llama_cpp_pre_tokenizer(split_then_byte_level("\\s+")), std::nullopt);
  EXPECT_EQ(llama_cpp_pre_tokenizer(json::parse(R"({"type": "ByteLevel", "add_prefix_space": true})")), std::nullopt);
  EXPECT_EQ(llama_cpp_pre_tokenizer(json::parse(R"({"type": "Metaspace", "replacement": "▁"})")), std::nullopt);
  EXPECT_EQ(llama_cpp_pre_tokenizer(json()), std::nullopt);
}

// The stories260K base weights with a GPT-2-style tokenizer of 490 tokens and 10 added ones,
// plus one user-defined added token; config.json's vocab_size (512) pads the rest.
fs::path bpe_model(const fs::path& dir) {
  const fs::path model = dir / "bpe";
  fs::create_directories(model);
  fs::copy_file(kData / "base/config.json", model / "config.json");
  fs::copy_file(kData / "base/model.safetensors", model / "model.safetensors");
  write_fixture_tokenizer(model, Family::Gpt2, 490, 10, 128);
  json tok = read_json_file(model / "tokenizer.json");
  tok["added_tokens"].push_back({{"id", 500}, {"content", "my\xe2\x96\x81word"}, {"special", false}, {"normalized", false}});
  write_file(model / "tokenizer.json", tok.dump());
  return model;
}

TEST(GgufBpeVocab, WrittenAsTheConverterWritesIt) {
  TempDir dir;
  const fs::path model = bpe_model(dir.path());
  write_file(dir / "r.yml", "merge_method: linear\nmodels:\n  - model: bpe\n    parameters: {weight: 1.0}\n");
  const auto r = run_alloy("merge r.yml out.gguf --no-fsync -q", dir.path());
  ASSERT_EQ(r.status, 0) << r.output;
  const GgufModel out = GgufModel::open(dir / "out.gguf");
  const json tok = read_json_file(model / "tokenizer.json");

  EXPECT_EQ(out.find_value("tokenizer.ggml.model")->text, "gpt2");
  EXPECT_EQ(out.find_value("tokenizer.ggml.pre")->text, "gpt-2");
  EXPECT_EQ(out.find_value("tokenizer.ggml.scores"), nullptr);  // _set_vocab_gpt2 writes none
  const GgufValue& tokens = *out.find_value("tokenizer.ggml.tokens");
  const GgufValue& types = *out.find_value("tokenizer.ggml.token_type");
  ASSERT_EQ(tokens.strings.size(), 512u);
  ASSERT_EQ(types.count, 512u);
  std::vector<std::string> want(512);
  std::vector<int64_t> want_type(512, 5);  // unused padding "[PADi]"
  for (size_t i = 0; i < 512; ++i) want[i] = "[PAD" + std::to_string(i) + "]";
  for (const auto& [token, id] : tok["model"]["vocab"].items()) {
    want[id.get<size_t>()] = token;
    want_type[id.get<size_t>()] = 1;
  }
  for (const json& a : tok["added_tokens"]) {
    const auto id = a["id"].get<size_t>();
    const std::string content = a["content"];
    const bool control = a["special"].get<bool>() || content.starts_with("<|");
    want[id] = control ? content : "my word";  // user-defined: U+2581 back to a space
    want_type[id] = control ? 3 : 4;
  }
  EXPECT_EQ(tokens.strings, want);
  for (size_t i = 0; i < 512; ++i) EXPECT_EQ(types.element(i).as_int(), want_type[i]) << i;
  EXPECT_EQ(want_type[500], 4);
  EXPECT_EQ(want_type[499], 3);
  EXPECT_EQ(want_type[511], 5);
  EXPECT_EQ(out.find_value("tokenizer.ggml.merges")->strings, tok["model"]["merges"].get<std::vector<std::string>>());
  EXPECT_EQ(out.find_value("tokenizer.ggml.bos_token_id")->as_int(), 1);  // "<s>"
  EXPECT_EQ(out.find_value("tokenizer.ggml.eos_token_id")->as_int(), 2);  // "</s>"
}

// Merges in the list format: parts joined by a space, spaces inside a part as U+0120; a
// TemplateProcessing that starts with the bos token sets add_bos.
TEST(GgufBpeVocab, PairMergesAndTemplateFlags) {
  TempDir dir;
  write_file(dir / "tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, " a": 3},
      "merges": [["a", "b"], [" ", "a"]]},
    "added_tokens": [{"id": 4, "content": "<s>", "special": true}],
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                {"Sequence": {"id": "A", "type_id": 0}}]}})");
  const GgufBpeVocab v = read_gguf_bpe_vocab(dir.path(), 0, "<s>", "</s>");
  EXPECT_EQ(v.tokens, (std::vector<std::string>{"a", "b", "ab", " a", "<s>"}));
  EXPECT_EQ(v.types, (std::vector<int32_t>{1, 1, 1, 1, 3}));
  EXPECT_EQ(v.merges, (std::vector<std::string>{"a b", "\xc4\xa0 a"}));
  EXPECT_EQ(v.add_special, (std::vector<std::pair<std::string, bool>>{{"bos", true}}));
}

// What alloy cannot write as llama.cpp reads it is refused, naming the file and what is missing.
TEST(GgufBpeVocab, Refusals) {
  TempDir dir;
  const auto refusal = [&](const std::string& tokenizer_json) {
    write_file(dir / "tokenizer.json", tokenizer_json);
    try {
      read_gguf_bpe_vocab(dir.path(), 0, "", "");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string vocab = R"("model": {"type": "BPE", "vocab": {"a": 0}, "merges": []})";
  std::string e = refusal("{" + vocab + R"(, "pre_tokenizer": {"type": "Whitespace"}})");
  EXPECT_NE(e.find("tokenizer.json"), std::string::npos) << e;
  EXPECT_NE(e.find("pre_tokenizer"), std::string::npos) << e;
  EXPECT_NE(e.find("tokenizer.ggml.pre"), std::string::npos) << e;
  e = refusal(R"({"model": {"type": "Unigram", "vocab": []}})");
  EXPECT_NE(e.find("BPE"), std::string::npos) << e;
  e = refusal(R"({"model": {"type": "BPE", "byte_fallback": true, "vocab": {"a": 0}}})");
  EXPECT_NE(e.find("byte_fallback"), std::string::npos) << e;
  e = refusal("{" + vocab + R"(, "normalizer": {"type": "NFC"}, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false}})");
  EXPECT_NE(e.find("normalizer"), std::string::npos) << e;
  // An id not below the vocabulary size (the tokenizer's own: 1 token; then config.json's 8).
  e = refusal(R"({"model": {"type": "BPE", "vocab": {"a": 7}},
                  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false}})");
  EXPECT_NE(e.find("vocabulary size 1"), std::string::npos) << e;
  EXPECT_EQ(read_gguf_bpe_vocab(dir.path(), 8, "", "").tokens[7], "a");
}

}  // namespace
}  // namespace alloy
