#include "lora/adapter_config.h"

#include <gtest/gtest.h>

#include <cmath>

#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

AdapterConfig parse(const std::string& text) { return parse_adapter_config(text, "ad/adapter_config.json"); }

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << text;
  return "";
}

TEST(AdapterConfig, ScaleIsAlphaOverRankOrOverItsRootWithRsLora) {
  AdapterConfig c = parse(R"({"r": 16, "lora_alpha": 32, "target_modules": ["q_proj"], "lora_dropout": 0.05})");
  EXPECT_EQ(c.rank_of("model.layers.0.self_attn.q_proj"), 16);
  EXPECT_DOUBLE_EQ(c.scale_of("model.layers.0.self_attn.q_proj"), 2.0);
  AdapterConfig rs = parse(R"({"r": 16, "lora_alpha": 32, "use_rslora": true, "target_modules": ["q_proj"]})");
  EXPECT_DOUBLE_EQ(rs.scale_of("model.layers.0.self_attn.q_proj"), 8.0);  // 32 / √16
}

TEST(AdapterConfig, PatternsMatchExactNamesFirstThenSuffixesInFileOrder) {
  AdapterConfig c = parse(R"({"r": 8, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"],
    "rank_pattern": {"q_proj": 4, "model.layers.1.self_attn.q_proj": 2, "layers\\.[23]\\.self_attn\\.v_proj": 6},
    "alpha_pattern": {"v_proj": 3, "model.layers.0.self_attn.v_proj": 12}})");
  EXPECT_EQ(c.rank_of("model.layers.0.self_attn.q_proj"), 4);   // suffix "q_proj"
  EXPECT_EQ(c.rank_of("model.layers.1.self_attn.q_proj"), 2);   // exact name beats the earlier suffix
  EXPECT_EQ(c.rank_of("model.layers.3.self_attn.v_proj"), 6);   // a regular expression key
  EXPECT_EQ(c.rank_of("model.layers.0.self_attn.v_proj"), 8);   // no key: r
  EXPECT_EQ(c.rank_of("model.layers.0.self_attn.xq_proj"), 8);  // "q_proj" only after a dot
  EXPECT_DOUBLE_EQ(c.scale_of("model.layers.0.self_attn.v_proj"), 12.0 / 8);
  EXPECT_DOUBLE_EQ(c.scale_of("model.layers.2.self_attn.v_proj"), 3.0 / 6);
  EXPECT_DOUBLE_EQ(c.scale_of("model.layers.2.self_attn.q_proj"), 8.0 / 4);
}

TEST(AdapterConfig, TargetModulesAsListRegexOrAllLinearWithExclusions) {
  AdapterConfig list = parse(R"({"target_modules": ["q_proj", "mlp.up_proj"]})");
  EXPECT_TRUE(list.targets("model.layers.0.self_attn.q_proj"));
  EXPECT_TRUE(list.targets("model.layers.0.mlp.up_proj"));
  EXPECT_FALSE(list.targets("model.layers.0.self_attn.k_proj"));
  EXPECT_FALSE(list.targets("model.layers.0.self_attn.qq_proj"));
  AdapterConfig regex = parse(R"({"target_modules": ".*layers\\.1\\..*_proj"})");
  EXPECT_TRUE(regex.targets("model.layers.1.self_attn.k_proj"));
  EXPECT_FALSE(regex.targets("model.layers.0.self_attn.k_proj"));
  AdapterConfig all = parse(R"({"target_modules": "all-linear", "exclude_modules": ["k_proj"]})");
  EXPECT_TRUE(all.targets("model.layers.0.mlp.down_proj"));
  EXPECT_FALSE(all.targets("lm_head"));
  EXPECT_FALSE(all.targets("model.layers.0.self_attn.k_proj"));
  AdapterConfig saved = parse(R"({"target_modules": ["q_proj"], "modules_to_save": ["lm_head", "embed_tokens"]})");
  EXPECT_TRUE(saved.saves("lm_head"));
  EXPECT_TRUE(saved.saves("model.embed_tokens"));
  EXPECT_FALSE(saved.saves("model.norm"));
}

TEST(AdapterConfig, RefusesKeysThatWouldChangeTheWeightsNamingFileAndKey) {
  const std::string t = R"("target_modules": ["q_proj"])";
  std::string e = error_of("{" + t + R"(, "use_dora": true})");
  EXPECT_NE(e.find("ad/adapter_config.json"), std::string::npos) << e;
  EXPECT_NE(e.find("'use_dora'"), std::string::npos) << e;
  EXPECT_NE(error_of("{" + t + R"(, "bias": "all"})").find("'bias'"), std::string::npos);
  EXPECT_NE(error_of("{" + t + R"(, "layers_to_transform": [0]})").find("'layers_to_transform'"), std::string::npos);
  EXPECT_NE(error_of("{" + t + R"(, "init_lora_weights": "pissa"})").find("base model's weights"), std::string::npos);
  EXPECT_NE(error_of("{" + t + R"(, "peft_type": "IA3"})").find("'peft_type'"), std::string::npos);
  EXPECT_NE(error_of("{" + t + R"(, "new_peft_switch": 1})").find("'new_peft_switch' is not known"), std::string::npos);
  EXPECT_NE(error_of("{" + t + R"(, "r": 0})").find("'r'"), std::string::npos);
  EXPECT_NE(error_of(R"({"r": 4})").find("no 'target_modules'"), std::string::npos);
  EXPECT_NE(error_of(R"({"target_modules": null})").find("'target_modules'"), std::string::npos);
  EXPECT_NE(error_of("{" + t + R"(, "rank_pattern": {"q_proj": "four"}})").find("'rank_pattern'"), std::string::npos);
  EXPECT_NE(error_of("{\"r\": ").find("invalid JSON"), std::string::npos);
  // 2^64 - 1 would wrap to -1 as an int64.
  EXPECT_NE(error_of("{" + t + R"(, "r": 18446744073709551615})").find("below 2^63"), std::string::npos);
  // Switched off, these keys are accepted; training-only keys are ignored.
  parse("{" + t + R"(, "use_dora": false, "bias": "none", "layers_to_transform": null, "loftq_config": {},
      "init_lora_weights": true, "task_type": "CAUSAL_LM", "inference_mode": true, "lora_dropout": 0.1})");
}

// The adapter_config fuzzer's concern: a config's regular expressions must not hang alloy
// (backtracking) or overflow its stack (a huge pattern), whatever module names they meet.
TEST(AdapterConfig, RegexesThatBacktrackExponentiallyMatchInPolynomialTime) {
  // A backtracking matcher tries 2^30 ways to split a 31-character name between the two .* before
  // failing at the missing "x"; this test would not finish.
  AdapterConfig c = parse(R"({"target_modules": "(.*.*)*x", "rank_pattern": {"(.*.*)*q_proj": 4}})");
  EXPECT_FALSE(c.targets("model.layers.0.self_attn.q_proj"));
  EXPECT_EQ(c.rank_of("model.layers.0.self_attn.q_proj"), 4);
  EXPECT_EQ(c.rank_of("model.layers.0.self_attn.k_projection"), 8);
}

TEST(AdapterConfig, RefusesRegexesTooLargeForTheMatcherNamingTheKey) {
  // 20,000 nested groups overflow the regex compiler's stack; 30,000 repeated empty groups the
  // matcher's.
  const std::string nested = std::string(20000, '(') + "q" + std::string(20000, ')');
  std::string e = error_of(R"({"target_modules": ")" + nested + "\"}");
  EXPECT_NE(e.find("'target_modules'"), std::string::npos) << e.substr(0, 200);
  EXPECT_NE(e.find("too large"), std::string::npos) << e.substr(0, 200);
  e = error_of(R"({"target_modules": ["q_proj"], "alpha_pattern": {"(){30000}q_proj": 2}})");
  EXPECT_NE(e.find("'alpha_pattern'"), std::string::npos) << e;
  EXPECT_NE(e.find("too large"), std::string::npos) << e;
  // A back-reference needs a backtracking matcher.
  e = error_of(R"({"target_modules": "(q)_\\1_proj"})");
  EXPECT_NE(e.find("'target_modules'"), std::string::npos) << e;
}

}  // namespace
}  // namespace alloy
