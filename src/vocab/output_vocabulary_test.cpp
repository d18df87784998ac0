#include "vocab/output_vocabulary.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using nlohmann::json;

json unigram(std::vector<std::string> pieces) {
  json vocab = json::array();
  for (const std::string& p : pieces) vocab.push_back(json::array({p, -1.0}));
  return json{{"model", {{"type", "Unigram"}, {"vocab", vocab}}}, {"added_tokens", json::array()}};
}
json wordpiece(std::vector<std::string> tokens) {
  json vocab = json::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  return json{{"model", {{"type", "WordPiece"}, {"vocab", vocab}}}, {"added_tokens", json::array()}};
}

VocabInput input(const std::string& name, json tokenizer, std::optional<int64_t> size = std::nullopt) {
  ModelRef ref;
  ref.path = name;
  return VocabInput{ref, name, "/nonexistent/" + name, vocabulary_of(std::move(tokenizer), name + "/tokenizer.json", size)};
}

Recipe recipe(const std::string& extra = "tokenizer_source: union\n") {
  return parse_recipe("merge_method: linear\nbase_model: a\nmodels: [{model: a}, {model: b}, {model: c}]\n" + extra,
                      "r.yml");
}

OutputVocabulary build(const Recipe& r, const std::vector<VocabInput>& models) {
  return build_output_vocabulary(r, *r.tokenizer, models, 0);
}

// Unigram models: a = <unk> x y z, b = <unk> z w (its row 3 past its size 3: left out), c = <unk> w x.
// Union: a's four, then w as an added token (id 4).
TEST(OutputVocabulary, UnionOfUnigramVocabularies) {
  const std::vector<VocabInput> models = {input("a", unigram({"<unk>", "x", "y", "z"})),
                                          input("b", unigram({"<unk>", "z", "w", "v"}), 3),
                                          input("c", unigram({"<unk>", "w", "x"}))};
  const OutputVocabulary out = build(recipe(), models);
  EXPECT_EQ(out.tokens, (std::vector<std::string>{"<unk>", "x", "y", "z", "w"}));
  EXPECT_EQ(out.padded_size, 5);
  EXPECT_EQ(out.old_ids[0], (std::vector<int64_t>{0, 1, 2, 3, -1}));
  EXPECT_EQ(out.old_ids[1], (std::vector<int64_t>{0, -1, -1, 1, 2}));
  EXPECT_EQ(out.old_ids[2], (std::vector<int64_t>{0, 2, -1, -1, 1}));
  // y: only a -> a's row 2; z: a (the base) and b -> the base's row 3; w: b and c -> their mean.
  EXPECT_EQ(out.defaults[2].kind, DefaultRow::Kind::Model);
  EXPECT_EQ(out.defaults[2].model, 0u);
  EXPECT_EQ(out.defaults[2].row, 2);
  EXPECT_EQ(out.defaults[3].kind, DefaultRow::Kind::Model);
  EXPECT_EQ(out.defaults[3].row, 3);
  EXPECT_EQ(out.defaults[4].kind, DefaultRow::Kind::Average);
  ASSERT_EQ(out.tokenizer["added_tokens"].size(), 1u);
  EXPECT_EQ(out.tokenizer["added_tokens"][0]["content"], "w");
  EXPECT_EQ(out.tokenizer_config["added_tokens_decoder"]["4"]["content"], "w");
  EXPECT_FALSE(out.special_tokens_map);
}

// base strips a's ids past its size 3; padding rounds 3 up to 8; configured tokens come last.
TEST(OutputVocabulary, BaseWordPieceStrippedPaddedWithConfiguredTokens) {
  const Recipe r = recipe(R"(tokenizer:
  source: base
  pad_to_multiple_of: 8
  tokens:
    "[NEW]": {source: {kind: zero}}
    "b": {source: c, force: true}
    "c": {source: {kind: model_token, model: b, token: "c"}}
)");
  const std::vector<VocabInput> models = {input("a", wordpiece({"[UNK]", "a", "b", "c"}), 3),
                                          input("b", wordpiece({"[UNK]", "c", "b"})),
                                          input("c", wordpiece({"[UNK]", "b"}))};
  const OutputVocabulary out = build(r, models);
  EXPECT_EQ(out.tokens, (std::vector<std::string>{"[UNK]", "a", "b", "[NEW]", "c"}));
  EXPECT_EQ(out.padded_size, 8);
  EXPECT_EQ(out.defaults[3].kind, DefaultRow::Kind::Zero);
  EXPECT_EQ(out.defaults[2].kind, DefaultRow::Kind::Model);
  EXPECT_EQ(out.defaults[2].model, 2u);
  EXPECT_EQ(out.defaults[2].row, 1);
  EXPECT_TRUE(out.defaults[2].force);
  EXPECT_EQ(out.defaults[4].model, 1u);
  EXPECT_EQ(out.defaults[4].row, 1);
  EXPECT_FALSE(out.defaults[4].force);
  EXPECT_EQ(out.old_ids[0][4], -1);  // a's "c" (id 3) is past its size
}

TEST(OutputVocabulary, ErrorsNameTheRecipeLine) {
  const std::vector<VocabInput> models = {input("a", unigram({"<unk>", "x"})), input("b", unigram({"<unk>", "y"})),
                                          input("c", unigram({"<unk>"}))};
  auto message = [&](const std::string& extra) {
    try {
      build(recipe(extra), models);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message("tokenizer:\n  tokens:\n    y: {source: a}\n").rfind("r.yml:6: tokenizer.tokens 'y': model 'a' has no token 'y'", 0), 0u);
  EXPECT_NE(message("tokenizer:\n  tokens:\n    y: {source: {kind: model_token, model: c, token_id: 1}}\n")
                .find("r.yml:6: tokenizer.tokens 'y': token_id 1 is past model 'c''s 1 embedding rows"),
            std::string::npos);
  EXPECT_NE(message("tokenizer:\n  tokens:\n    y: {source: {kind: model_token, model: c, token: y}}\n")
                .find("model 'c' has no token 'y'"),
            std::string::npos);
}

}  // namespace
}  // namespace alloy
