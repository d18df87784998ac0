#include "arch/arch_inference.h"

#include <gtest/gtest.h>

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

TEST(ArchInferenceTest, SplitsAtFirstIndex) {
  auto s = split_at_layer_index("model.layers.12.mlp.experts.3.w1.weight");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->prefix, "model.layers.");
  EXPECT_EQ(s->index, 12);
  EXPECT_EQ(s->rest, "mlp.experts.3.w1.weight");
  EXPECT_EQ(layer_template(s->prefix, s->rest), "model.layers.${layer_index}.mlp.experts.3.w1.weight");

  for (const char* p : {"transformer.h.", "bert.encoder.layer.", "gpt_neox.layers.", "encoder.layer.",
                        "model.decoder.layers.", "h."}) {
    std::string name = std::string(p) + "0.w";
    auto x = split_at_layer_index(name);
    ASSERT_TRUE(x) << p;
    EXPECT_EQ(x->prefix, p);
    EXPECT_EQ(x->index, 0);
  }
}

TEST(ArchInferenceTest, NamesWithoutAnIndex) {
  EXPECT_FALSE(split_at_layer_index("model.norm.weight"));
  EXPECT_FALSE(split_at_layer_index("model.layers.3"));      // index last, no dot after it
  EXPECT_FALSE(split_at_layer_index("0.weight"));            // index first, no dot before it
  EXPECT_FALSE(split_at_layer_index("model.layers.07.w"));   // leading zero
  EXPECT_FALSE(split_at_layer_index("a.1234567890.w"));      // too long
  EXPECT_FALSE(split_at_layer_index("a.3b.w"));
  EXPECT_FALSE(split_at_layer_index(""));
  auto s = split_at_layer_index("a.3b.4.w");  // "3b" is not an index; "4" is
  ASSERT_TRUE(s);
  EXPECT_EQ(s->prefix, "a.3b.");
  EXPECT_EQ(s->index, 4);
}

TEST(ArchInferenceTest, Glob) {
  EXPECT_TRUE(glob_match("model.norm.*", "model.norm.weight"));
  EXPECT_FALSE(glob_match("model.norm.*", "model.norm"));
  EXPECT_TRUE(glob_match("*.pooler.*", "bert.pooler.dense.bias"));
  EXPECT_FALSE(glob_match("*.pooler.*", "pooler.dense.bias"));
  EXPECT_TRUE(glob_match("*embed_tokens.weight", "model.embed_tokens.weight"));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYbc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYYb"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "x"));
}

TEST(ArchInferenceTest, PostWeights) {
  for (const char* n : {"model.norm.weight", "transformer.ln_f.bias", "ln_f.weight", "gpt_neox.final_layer_norm.weight",
                        "model.final_layernorm.weight", "norm.weight", "lm_head.weight", "embed_out.weight",
                        "score.weight", "classifier.bias", "cls.predictions.bias", "bert.pooler.dense.weight",
                        "pooler.dense.weight", "output.weight"})
    EXPECT_TRUE(looks_like_post_weight(n)) << n;
  for (const char* n : {"model.embed_tokens.weight", "transformer.wte.weight", "transformer.wpe.weight",
                        "embeddings.LayerNorm.weight", "bert.embeddings.position_ids", "model.normalizer"})
    EXPECT_FALSE(looks_like_post_weight(n)) << n;
}

TEST(ArchInferenceTest, Embeddings) {
  for (const char* n : {"model.embed_tokens.weight", "transformer.wte.weight", "wte.weight",
                        "bert.embeddings.word_embeddings.weight", "gpt_neox.embed_in.weight", "lm_head.weight",
                        "embed_out.weight", "output.weight", "tok_embeddings.weight"})
    EXPECT_TRUE(looks_like_embedding(n)) << n;
  for (const char* n : {"transformer.wpe.weight", "bert.embeddings.position_embeddings.weight",
                        "embeddings.token_type_embeddings.weight", "model.norm.weight", "lm_head.bias"})
    EXPECT_FALSE(looks_like_embedding(n)) << n;
}

TEST(ArchInferenceTest, TieRulesPairHeadsWithEmbeddings) {
  for (const auto& r : tie_rules()) {
    EXPECT_TRUE(looks_like_embedding(r.head)) << r.head;
    EXPECT_TRUE(looks_like_embedding(r.embedding)) << r.embedding;
    EXPECT_TRUE(looks_like_post_weight(r.head)) << r.head;
  }
}

}  // namespace
}  // namespace alloy
