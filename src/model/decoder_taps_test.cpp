// The decoder's taps against direct recomputation: the first linear inputs are the RMSNorm of the
// embeddings computed here by hand, and a tapped hidden state fed to the later blocks gives the
// same loss; CheckpointWeights over a bf16 safetensors file runs exactly like the same weights in memory.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <map>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/decoder.h"
#include "model/test_models.h"
#include "tensor/convert.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

ModelConfig tiny_llama() {
  return decoder_config_from_json(test_models::tiny_config("LlamaForCausalLM"), true);
}

TEST(DecoderTaps, FirstLinearInputIsTheNormalisedEmbedding) {
  const ModelConfig config = tiny_llama();
  const MemoryWeights weights = test_models::random_weights(config, 21);
  const TokenBatch batch = test_models::tiny_batch(config.vocab_size, 2);
  std::map<std::string, std::vector<double>> inputs;
  std::map<std::string, int> calls;
  Taps<double> taps;
  taps.linear_input = [&](const std::string& name, std::span<const double> x, int64_t rows, int64_t cols) {
    EXPECT_EQ(rows, 12);
    EXPECT_EQ(static_cast<int64_t>(x.size()), rows * cols);
    inputs[name].assign(x.begin(), x.end());
    ++calls[name];
  };
  DecoderLM<double>(config, weights).loss(batch, taps);
  EXPECT_EQ(calls.size(), 2u * 7u + 1u);  // seven linears per block, then the head
  EXPECT_EQ(calls.count("lm_head.weight"), 1u);

  const auto& embed = weights.tensors().at("model.embed_tokens.weight").values;
  const auto& gain = weights.tensors().at("model.layers.0.input_layernorm.weight").values;
  const std::vector<double>& tapped = inputs.at("model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(tapped, inputs.at("model.layers.0.self_attn.v_proj.weight"));
  const int64_t d = config.hidden_size;
  for (int64_t r = 0; r < 12; ++r) {
    const float* e = embed.data() + batch.tokens[r] * d;
    double sq = 0;
    for (int64_t j = 0; j < d; ++j) sq += double(e[j]) * e[j];
    const double inv = 1 / std::sqrt(sq / d + config.rms_norm_eps);
    for (int64_t j = 0; j < d; ++j) EXPECT_NEAR(tapped[r * d + j], double(gain[j]) * e[j] * inv, 1e-12);
  }
}

TEST(DecoderTaps, HiddenAfterABlockReproducesTheLoss) {
  nlohmann::json json = test_models::tiny_config("Qwen2ForCausalLM");
  json["num_hidden_layers"] = 3;
  const ModelConfig config = decoder_config_from_json(json, true);
  const MemoryWeights weights = test_models::random_weights(config, 4);
  const TokenBatch batch = test_models::tiny_batch(config.vocab_size, 9);
  std::map<int64_t, std::vector<double>> hidden;
  Taps<double> taps;
  taps.hidden = [&](int64_t layer, std::span<const double> h, int64_t rows, int64_t cols) {
    EXPECT_EQ(cols, config.hidden_size);
    hidden[layer].assign(h.begin(), h.end());
  };
  const DecoderLM<double> model(config, weights);
  const LossSum whole = model.loss(batch, taps);
  ASSERT_EQ(hidden.size(), 4u);  // after each of 3 blocks, then the final norm's output
  for (int64_t l = 0; l < 2; ++l) {
    const LossSum rest = model.loss_from_hidden(l + 1, hidden[l], batch);
    EXPECT_EQ(rest.count, whole.count);
    EXPECT_NEAR(rest.nll, whole.nll, 1e-12 * whole.nll) << "from block " << l + 1;
  }
  // The final norm's output through the head by hand gives the same loss.
  const auto& head = weights.tensors().at("lm_head.weight").values;
  const std::vector<double>& hn = hidden[3];
  double nll = 0;
  for (int64_t r = 0; r < 12; ++r) {
    if (batch.targets[r] < 0) continue;
    std::vector<double> logits(config.vocab_size);
    double m = -1e300;
    for (int64_t v = 0; v < config.vocab_size; ++v) {
      for (int64_t j = 0; j < config.hidden_size; ++j) logits[v] += hn[r * config.hidden_size + j] * head[v * config.hidden_size + j];
      m = std::max(m, logits[v]);
    }
    double sum = 0;
    for (double l : logits) sum += std::exp(l - m);
    nll += m + std::log(sum) - logits[batch.targets[r]];
  }
  EXPECT_NEAR(nll, whole.nll, 1e-10 * whole.nll);
}

TEST(DecoderWeights, CheckpointInBf16RunsLikeTheSameWeightsInMemory) {
  const ModelConfig config = tiny_llama();
  MemoryWeights weights = test_models::random_weights(config, 8);
  std::string dir = (std::filesystem::temp_directory_path() / "alloy_decoder_test_XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  std::vector<std::vector<uint16_t>> storage;
  std::vector<NamedTensor> tensors;
  for (auto& [name, t] : weights.tensors()) {
    storage.emplace_back(t.values.size());
    from_f32(t.values.data(), DType::BF16, storage.back().data(), t.values.size());
    to_f32(DType::BF16, storage.back().data(), t.values.data(), t.values.size());  // memory holds the rounded values
    TensorView view;
    view.dtype = DType::BF16;
    view.shape = t.shape;
    view.data = reinterpret_cast<const std::byte*>(storage.back().data());
    view.nbytes = storage.back().size() * 2;
    tensors.push_back({name, view});
  }
  write_safetensors(std::filesystem::path(dir) / "model.safetensors", tensors);
  write_json_file(std::filesystem::path(dir) / "config.json", test_models::tiny_config("LlamaForCausalLM"));

  const auto checkpoint = Checkpoint::open(dir);
  const CheckpointWeights from_file(checkpoint);
  const ModelConfig read = decoder_config_from_json(checkpoint->config(), checkpoint->has("lm_head.weight"));
  const TokenBatch batch = test_models::tiny_batch(config.vocab_size, 1);
  const LossSum a = DecoderLM<float>(read, from_file).loss(batch);
  const LossSum b = DecoderLM<float>(config, weights).loss(batch);
  EXPECT_EQ(a.nll, b.nll);
  EXPECT_EQ(a.count, b.count);
  std::filesystem::remove_all(dir);
}

TEST(DecoderWeights, WrongShapeOrMissingTensorIsNamed) {
  const ModelConfig config = tiny_llama();
  MemoryWeights weights = test_models::random_weights(config, 8);
  weights.set("model.layers.1.mlp.up_proj.weight", {24, 15}, std::vector<float>(24 * 15));
  try {
    DecoderLM<float> model(config, weights);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.1.mlp.up_proj.weight has shape [24, 15]"), std::string::npos)
        << e.what();
  }
  weights.tensors().erase("model.norm.weight");
  EXPECT_THROW({ DecoderLM<float> model(config, weights); }, Error);
}

TEST(DecoderBatch, TokensOutsideTheVocabularyAreRefused) {
  const ModelConfig config = tiny_llama();
  const MemoryWeights weights = test_models::random_weights(config, 8);
  TokenBatch batch = test_models::tiny_batch(config.vocab_size, 1);
  batch.tokens[3] = 23;
  EXPECT_THROW(DecoderLM<float>(config, weights).loss(batch), Error);
}

}  // namespace
}  // namespace alloy
