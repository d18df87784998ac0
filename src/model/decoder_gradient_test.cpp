// The decoder's gradients against central finite differences of its own loss in float64, for
// each config switch, and the float32 gradients against the float64 ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "model/decoder.h"
#include "model/gradient_check.h"
#include "model/test_models.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using Grads = std::map<std::string, std::vector<double>>;

template <class S>
Grads gradients(const DecoderLM<S>& model, const TokenBatch& batch, double* loss = nullptr) {
  Grads grads;
  const LossSum l = model.loss_and_gradient(batch, [&](const std::string& name, std::span<const S> g) {
    EXPECT_EQ(grads.count(name), 0u) << name << " emitted twice";
    grads[name].assign(g.begin(), g.end());
  });
  if (loss) *loss = l.mean();
  return grads;
}

struct Case {
  const char* name;
  nlohmann::json config;
  bool has_lm_head;
};

std::vector<Case> cases() {
  using test_models::tiny_config;
  std::vector<Case> out;
  {
    nlohmann::json c = tiny_config("LlamaForCausalLM");
    c["num_key_value_heads"] = 4;
    c["tie_word_embeddings"] = true;
    out.push_back({"llama_mha_tied", c, false});
  }
  out.push_back({"llama_gqa_untied", tiny_config("LlamaForCausalLM"), true});
  out.push_back({"qwen2_qkv_bias", tiny_config("Qwen2ForCausalLM"), true});
  {
    nlohmann::json c = tiny_config("Qwen3ForCausalLM");
    c["head_dim"] = 6;  // not hidden_size / heads
    c["attention_bias"] = true;
    out.push_back({"qwen3_qk_norm_head_dim_bias", c, true});
  }
  {
    nlohmann::json c = tiny_config("LlamaForCausalLM");
    c["rope_scaling"] = {{"type", "linear"}, {"factor", 4.0}};
    out.push_back({"rope_linear", c, true});
  }
  {
    nlohmann::json c = tiny_config("LlamaForCausalLM");
    c["rope_theta"] = 100.0;  // puts head_dim 4's two frequencies in different llama3 bands
    c["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", 8.0},
                         {"low_freq_factor", 1.0},
                         {"high_freq_factor", 4.0},
                         {"original_max_position_embeddings", 16}};
    out.push_back({"rope_llama3", c, true});
  }
  {
    nlohmann::json c = tiny_config("MistralForCausalLM");
    c["sliding_window"] = 8;
    out.push_back({"mistral_window", c, true});
  }
  return out;
}

TEST(DecoderGradient, AgreesWithCentralFiniteDifferencesInFloat64) {
  for (const Case& tc : cases()) {
    SCOPED_TRACE(tc.name);
    const ModelConfig config = decoder_config_from_json(tc.config, tc.has_lm_head);
    MemoryWeights weights = test_models::random_weights(config, 7);
    const TokenBatch batch = test_models::tiny_batch(config.vocab_size, 11);
    const DecoderLM<double> model(config, weights);
    const Grads grads = gradients(model, batch);
    ASSERT_EQ(grads.size(), weights.tensors().size());

    std::mt19937_64 rng(3);
    for (auto& [name, tensor] : weights.tensors()) {
      gradient_check::expect_matches_finite_differences(name, tensor.values, grads.at(name), 1e-3f,
                                                        [&] { return model.loss(batch).mean(); }, rng);
    }
  }
}

TEST(DecoderGradient, Float32AgreesWithFloat64) {
  for (const Case& tc : cases()) {
    SCOPED_TRACE(tc.name);
    const ModelConfig config = decoder_config_from_json(tc.config, tc.has_lm_head);
    const MemoryWeights weights = test_models::random_weights(config, 5);
    const TokenBatch batch = test_models::tiny_batch(config.vocab_size, 13);
    double loss64 = 0, loss32 = 0;
    const Grads g64 = gradients(DecoderLM<double>(config, weights), batch, &loss64);
    const Grads g32 = gradients(DecoderLM<float>(config, weights), batch, &loss32);
    EXPECT_NEAR(loss32, loss64, 1e-5 * loss64);
    ASSERT_EQ(g32.size(), g64.size());
    for (const auto& [name, g] : g64) {
      const std::vector<double>& f = g32.at(name);
      double largest = 0, worst = 0;
      for (size_t i = 0; i < g.size(); ++i) {
        largest = std::max(largest, std::abs(g[i]));
        worst = std::max(worst, std::abs(g[i] - f[i]));
      }
      EXPECT_LT(worst, 1e-4 * largest) << name;
    }
  }
}

}  // namespace
}  // namespace alloy
