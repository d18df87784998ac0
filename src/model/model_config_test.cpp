// config.json → ModelConfig: each family's implied switches, and errors that name the key.
#include "model/model_config.h"

#include <gtest/gtest.h>

#include "model/rope_frequencies.h"
#include "model/test_models.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using test_models::tiny_config;

std::string error_of(const nlohmann::json& config) {
  try {
    decoder_config_from_json(config, true);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(ModelConfig, FamiliesImplyTheirSwitches) {
  const ModelConfig llama = decoder_config_from_json(tiny_config("LlamaForCausalLM"), true);
  EXPECT_EQ(llama.head_dim, 4);
  EXPECT_EQ(llama.num_kv_heads, 2);
  EXPECT_FALSE(llama.qkv_bias || llama.o_bias || llama.qk_norm || llama.tied_embeddings);
  EXPECT_EQ(llama.sliding_window, 0);

  const ModelConfig qwen2 = decoder_config_from_json(tiny_config("Qwen2ForCausalLM"), true);
  EXPECT_TRUE(qwen2.qkv_bias);
  EXPECT_FALSE(qwen2.o_bias);

  nlohmann::json q3 = tiny_config("Qwen3ForCausalLM");
  q3["head_dim"] = 6;
  const ModelConfig qwen3 = decoder_config_from_json(q3, true);
  EXPECT_TRUE(qwen3.qk_norm);
  EXPECT_FALSE(qwen3.qkv_bias);
  EXPECT_EQ(qwen3.head_dim, 6);

  nlohmann::json biased = tiny_config("LlamaForCausalLM");
  biased["attention_bias"] = true;
  const ModelConfig b = decoder_config_from_json(biased, true);
  EXPECT_TRUE(b.qkv_bias && b.o_bias);

  nlohmann::json mha = tiny_config("MistralForCausalLM");
  mha.erase("num_key_value_heads");
  mha["sliding_window"] = 4096;
  const ModelConfig mistral = decoder_config_from_json(mha, true);
  EXPECT_EQ(mistral.num_kv_heads, 4);
  EXPECT_EQ(mistral.sliding_window, 4096);

  // A missing lm_head.weight means a tied head whatever the config says.
  EXPECT_TRUE(decoder_config_from_json(tiny_config("LlamaForCausalLM"), false).tied_embeddings);
}

TEST(ModelConfig, ErrorsNameTheKey) {
  EXPECT_NE(error_of(tiny_config("GPT2LMHeadModel")).find("'architectures' is GPT2LMHeadModel"), std::string::npos);
  nlohmann::json c = tiny_config("LlamaForCausalLM");
  c.erase("hidden_size");
  EXPECT_NE(error_of(c).find("'hidden_size' is missing"), std::string::npos);
  c = tiny_config("LlamaForCausalLM");
  c["hidden_act"] = "gelu";
  EXPECT_NE(error_of(c).find("'hidden_act'"), std::string::npos);
  c = tiny_config("LlamaForCausalLM");
  c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_NE(error_of(c).find("'rope_scaling.rope_type' is \"yarn\""), std::string::npos);
  c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}};
  EXPECT_NE(error_of(c).find("rope_scaling.original_max_position_embeddings"), std::string::npos);
  c = tiny_config("LlamaForCausalLM");
  c["num_key_value_heads"] = 3;
  EXPECT_NE(error_of(c).find("'num_key_value_heads'"), std::string::npos);
  c = tiny_config("LlamaForCausalLM");
  c["mlp_bias"] = true;
  EXPECT_NE(error_of(c).find("'mlp_bias'"), std::string::npos);
}

// Hand-worked: theta 10000, head_dim 8 gives 1, 0.1, 0.01, 0.001 (wavelengths 2π/f: 6.28, 62.8,
// 628, 6283). llama3 with factor 8, low 1, high 4, original context 64 keeps wavelengths under
// 64/4 = 16, divides those over 64/1 = 64 by 8, and blends 62.8 with
// s = (64/62.83 - 1)/(4 - 1) = 0.0061973: (1 - s) * 0.1/8 + s * 0.1 = 0.0130423.
TEST(RopeFrequencies, Llama3BandsAndLinearScaling) {
  RopeConfig rope;
  rope.theta = 10000;
  rope.scaling = RopeScaling::kLlama3;
  rope.factor = 8;
  rope.low_freq_factor = 1;
  rope.high_freq_factor = 4;
  rope.original_max_position = 64;
  const std::vector<double> f = rope_inv_freq(rope, 8);
  ASSERT_EQ(f.size(), 4u);
  EXPECT_NEAR(f[0], 1.0, 1e-15);
  EXPECT_NEAR(f[1], 0.0130422560, 1e-9);
  EXPECT_NEAR(f[2], 0.00125, 1e-15);
  EXPECT_NEAR(f[3], 0.000125, 1e-15);

  rope.scaling = RopeScaling::kLinear;
  rope.factor = 4;
  const std::vector<double> lin = rope_inv_freq(rope, 8);
  EXPECT_NEAR(lin[1], 0.025, 1e-15);
  const RopeTables<double> t = rope_tables<double>(rope, 8, 3);  // position 2 at angle 2 * 0.25
  EXPECT_NEAR(t.cos[2 * 4 + 0], std::cos(0.5), 1e-15);
  EXPECT_NEAR(t.sin[2 * 4 + 1], std::sin(0.05), 1e-15);
}

}  // namespace
}  // namespace alloy
