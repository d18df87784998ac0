#include "vocab/model_vocabulary.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using nlohmann::json;

json bpe(json vocab, json merges, json added) {
  return json{{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}, {"added_tokens", added}};
}
// A Unigram vocabulary: [piece, score] pairs.
json pieces(std::vector<std::string> names) {
  json out = json::array();
  for (const std::string& n : names) out.push_back(json::array({n, -1.0}));
  return out;
}
json added(int id, const std::string& content, bool special = true) {
  return json{{"id", id}, {"content", content}, {"special", special}, {"normalized", !special}};
}

TEST(ModelVocabulary, ReadsVocabularyAndAddedTokens) {
  const ModelVocabulary v = vocabulary_of(bpe({{"a", 0}, {"b", 1}, {"ab", 2}}, json::array(), {added(3, "<s>")}),
                                          "t.json", std::nullopt);
  EXPECT_EQ(v.size, 4);  // no config value: the number of ids
  EXPECT_EQ(v.id_of("ab"), 2);
  EXPECT_EQ(v.id_of("<s>"), 3);
  EXPECT_FALSE(v.id_of("ba"));
  EXPECT_TRUE(v.is_added(3));
  EXPECT_FALSE(v.is_added(2));
  const auto ordered = v.by_id();
  ASSERT_EQ(ordered.size(), 4u);
  EXPECT_EQ(ordered[1], (std::pair<std::string, int64_t>{"b", 1}));

  const json unigram{{"model", {{"type", "Unigram"}, {"vocab", pieces({"<unk>", "x"})}}}};
  EXPECT_EQ(vocabulary_of(unigram, "u.json", 8).id_of("x"), 1);
  EXPECT_EQ(vocabulary_of(unigram, "u.json", 8).size, 8);
  const json wordpiece{{"model", {{"type", "WordPiece"}, {"vocab", {{"[UNK]", 0}, {"##s", 1}}}}}};
  EXPECT_EQ(vocabulary_of(wordpiece, "w.json", std::nullopt).id_of("##s"), 1);
}

TEST(ModelVocabulary, RefusesWhatItCannotMerge) {
  const json level{{"model", {{"type", "WordLevel"}, {"vocab", {{"a", 0}}}}}};
  try {
    vocabulary_of(level, "dir/tokenizer.json", std::nullopt);
    FAIL() << "WordLevel accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dir/tokenizer.json: model type 'WordLevel' is not supported"),
              std::string::npos) << e.what();
  }
  EXPECT_THROW(vocabulary_of(json{{"version", "1.0"}}, "t.json", std::nullopt), Error);
  EXPECT_THROW(vocabulary_of(bpe({{"a", -1}}, json::array(), json::array()), "t.json", std::nullopt), Error);
  EXPECT_THROW(vocabulary_of(bpe({{"a", 0}}, json::array(), {json{{"id", 1}}}), "t.json", std::nullopt), Error);
}

// Ids 3 and up go: "c" and "abc", the merge that names c, the added token past the size.
TEST(ModelVocabulary, StripRemovesIdsPastTheSize) {
  const json pairs = json::array({json::array({"a", "b"}), json::array({"ab", "c"})});
  for (const json& merges : {json::array({"a b", "ab c"}), pairs}) {
    json t = bpe({{"a", 0}, {"b", 1}, {"ab", 2}, {"c", 3}, {"abc", 4}}, merges, {added(1, "b"), added(5, "<x>")});
    strip_tokenizer(t, 3);
    EXPECT_EQ(t["model"]["vocab"], (json{{"a", 0}, {"b", 1}, {"ab", 2}}));
    ASSERT_EQ(t["model"]["merges"].size(), 1u);
    EXPECT_EQ(t["model"]["merges"][0], merges[0]);
    ASSERT_EQ(t["added_tokens"].size(), 1u);
    EXPECT_EQ(t["added_tokens"][0]["content"], "b");
  }
  json u{{"model", {{"type", "Unigram"}, {"vocab", pieces({"<unk>", "x", "y"})}}}};
  strip_tokenizer(u, 2);
  EXPECT_EQ(u["model"]["vocab"].size(), 2u);
}

// As the tokenizers library: an added token again changes nothing, a vocabulary token keeps its
// id, a new one takes the next id past every existing one.
TEST(ModelVocabulary, AddTokensAssignsIdsAsTheTokenizersLibrary) {
  json t = bpe({{"a", 0}, {"b", 1}}, json::array(), {added(2, "<s>")});
  add_tokens(t, {plain_added_token("x"), plain_added_token("a"), added(0, "<s>"), added(9, "<y>")});
  const json& a = t["added_tokens"];
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[1]["content"], "x");
  EXPECT_EQ(a[1]["id"], 3);
  EXPECT_EQ(a[1]["normalized"], true);
  EXPECT_EQ(a[1]["special"], false);
  EXPECT_EQ(a[2]["content"], "a");
  EXPECT_EQ(a[2]["id"], 0);
  EXPECT_EQ(a[3]["content"], "<y>");
  EXPECT_EQ(a[3]["id"], 4);
  EXPECT_EQ(a[3]["special"], true);

  json u{{"model", {{"type", "Unigram"}, {"vocab", pieces({"<unk>", "x"})}}}};
  add_tokens(u, {plain_added_token("z")});
  EXPECT_EQ(u["added_tokens"][0]["id"], 2);
}

}  // namespace
}  // namespace alloy
