// The encoder's gradients of the paired InfoNCE loss against central finite differences of its
// own loss in float64, for each family switch (BERT with token types, RoBERTa position offsets
// with padding, unprefixed names, mean and CLS pooling, GELU forms), and float32 against float64.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "model/encoder_test_models.h"
#include "model/gradient_check.h"
#include "model/pair_loss.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using Grads = std::map<std::string, std::vector<double>>;
constexpr double kTemperature = 0.5;

struct Case {
  const char* name;
  nlohmann::json config;
  std::string prefix;
  PoolingOptions pooling;
  bool token_types;
};

std::vector<Case> cases() {
  using encoder_test_models::tiny_config;
  std::vector<Case> out;
  out.push_back({"bert_mean_token_types", tiny_config("bert"), "bert.", {Pooling::kMean, false}, true});
  out.push_back({"bert_cls_unprefixed", tiny_config("bert"), "", {Pooling::kCls, false}, true});
  out.push_back({"roberta_mean_padding", tiny_config("roberta"), "roberta.", {Pooling::kMean, false}, false});
  out.push_back({"xlmr_cls_normalised", tiny_config("xlm-roberta"), "", {Pooling::kCls, true}, false});
  {
    nlohmann::json c = tiny_config("bert");
    c["hidden_act"] = "gelu_new";
    out.push_back({"bert_gelu_tanh_normalised", c, "bert.", {Pooling::kMean, true}, false});
  }
  return out;
}

// Three pairs of different lengths, so every batch has padding; BERT cases get token types.
EncoderBatch batch_for(const EncoderConfig& config, bool token_types) {
  auto seqs = encoder_test_models::random_sequences(config, 6, 6, 17);
  std::vector<std::vector<int32_t>> q(seqs.begin(), seqs.begin() + 3), p(seqs.begin() + 3, seqs.end());
  q[0].resize(2);
  EncoderBatch batch = pair_batch(config, q, p);
  if (token_types) {
    batch.token_types.assign(batch.tokens.size(), 0);
    for (size_t i = 0; i < batch.token_types.size(); i += 3) batch.token_types[i] = 1;
  }
  return batch;
}

bool is_key_bias(const std::string& name) { return name.ends_with("attention.self.key.bias"); }

template <class S>
Grads gradients(const Encoder<S>& model, const EncoderBatch& batch, const PoolingOptions& pooling,
                double* loss = nullptr) {
  Grads grads;
  const GradSink<S> sink = [&](const std::string& name, std::span<const S> g) {
    EXPECT_EQ(grads.count(name), 0u) << name << " emitted twice";
    grads[name].assign(g.begin(), g.end());
  };
  const InfoNceResult r = pair_info_nce(model, batch, pooling, kTemperature, &sink);
  if (loss) *loss = r.loss;
  return grads;
}

TEST(EncoderGradient, AgreesWithCentralFiniteDifferencesInFloat64) {
  for (const Case& tc : cases()) {
    SCOPED_TRACE(tc.name);
    const EncoderConfig config = encoder_test_models::read_config(tc.config, tc.prefix);
    MemoryWeights weights = encoder_test_models::random_weights(config, 7);
    const EncoderBatch batch = batch_for(config, tc.token_types);
    ASSERT_TRUE(std::count(batch.mask.begin(), batch.mask.end(), 0) > 0);
    const Encoder<double> model(config, weights);
    const Grads grads = gradients(model, batch, tc.pooling);
    ASSERT_EQ(grads.size(), weights.tensors().size());
    auto loss = [&] { return pair_info_nce(model, batch, tc.pooling, kTemperature).loss; };

    std::mt19937_64 rng(3);
    for (auto& [name, tensor] : weights.tensors()) {
      const std::vector<double>& g = grads.at(name);
      ASSERT_EQ(g.size(), tensor.values.size()) << name;
      if (is_key_bias(name)) {  // adds q_i . b_k to every score of row i: softmax does not change
        for (double v : g) EXPECT_LT(std::abs(v), 1e-15) << name;
        continue;
      }
      gradient_check::expect_matches_finite_differences(name, tensor.values, g, 1e-4f, loss, rng);
    }
  }
}

TEST(EncoderGradient, PadTokenRowsAndUnusedPositionsGetNoGradient) {
  const EncoderConfig config = encoder_test_models::read_config(encoder_test_models::tiny_config("roberta"), "");
  const MemoryWeights weights = encoder_test_models::random_weights(config, 2);
  const EncoderBatch batch = batch_for(config, false);
  const Grads g = gradients(Encoder<double>(config, weights), batch, {Pooling::kMean, false});
  // Padded slots are masked out of attention and pooling, so the pad token's embedding row and the
  // pad position (RoBERTa gives pad tokens position pad_token_id) get exactly zero.
  const int64_t d = config.hidden_size;
  const auto& word = g.at("embeddings.word_embeddings.weight");
  const auto& pos = g.at("embeddings.position_embeddings.weight");
  for (int64_t j = 0; j < d; ++j) {
    EXPECT_EQ(word[config.pad_token_id * d + j], 0.0);
    EXPECT_EQ(pos[config.pad_token_id * d + j], 0.0);
    EXPECT_EQ(pos[0 * d + j], 0.0);  // below the offset: never used
  }
}

TEST(EncoderGradient, Float32AgreesWithFloat64) {
  for (const Case& tc : cases()) {
    SCOPED_TRACE(tc.name);
    const EncoderConfig config = encoder_test_models::read_config(tc.config, tc.prefix);
    const MemoryWeights weights = encoder_test_models::random_weights(config, 5);
    const EncoderBatch batch = batch_for(config, tc.token_types);
    double loss64 = 0, loss32 = 0;
    const Grads g64 = gradients(Encoder<double>(config, weights), batch, tc.pooling, &loss64);
    const Grads g32 = gradients(Encoder<float>(config, weights), batch, tc.pooling, &loss32);
    EXPECT_NEAR(loss32, loss64, 1e-5 * loss64);
    ASSERT_EQ(g32.size(), g64.size());
    for (const auto& [name, g] : g64) {
      const std::vector<double>& f = g32.at(name);
      double largest = 0, worst = 0;
      for (size_t i = 0; i < g.size(); ++i) {
        largest = std::max(largest, std::abs(g[i]));
        worst = std::max(worst, std::abs(g[i] - f[i]));
      }
      if (is_key_bias(name))
        EXPECT_LT(worst, 1e-6) << name;  // zero in exact arithmetic; float rounding only
      else
        EXPECT_LT(worst, 1e-4 * largest) << name;
    }
  }
}

}  // namespace
}  // namespace alloy
