// Tiny random encoder models for the encoder's tests (header only, included by *_test.cpp).
#pragma once
#include <cstdint>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "model/encoder.h"
#include "model/encoder_config.h"
#include "model/weight_source.h"

namespace alloy::encoder_test_models {

// A config.json of `model_type` (bert, roberta, xlm-roberta): 2 layers, hidden 8, 2 heads, vocab 19.
inline nlohmann::json tiny_config(const std::string& model_type) {
  const bool roberta = model_type != "bert";
  return {{"architectures", {roberta ? "RobertaModel" : "BertModel"}},
          {"model_type", model_type},
          {"vocab_size", 19},
          {"hidden_size", 8},
          {"intermediate_size", 12},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 2},
          {"max_position_embeddings", roberta ? 12 : 10},
          {"type_vocab_size", roberta ? 1 : 2},
          {"layer_norm_eps", 1e-5},
          {"hidden_act", "gelu"},
          {"pad_token_id", roberta ? 1 : 0},
          {"position_embedding_type", "absolute"}};
}

// The config read as for a checkpoint whose names carry `prefix` ("", "bert.", "roberta.").
inline EncoderConfig read_config(const nlohmann::json& json, const std::string& prefix) {
  return encoder_config_from_json(
      json, [&](const std::string& name) { return name == prefix + "embeddings.word_embeddings.weight"; });
}

// Weights for every tensor: LayerNorm gains near 1, the rest of scale 0.4 (attention far from uniform).
inline MemoryWeights random_weights(const EncoderConfig& config, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  MemoryWeights weights;
  for (const ExpectedTensor& t : encoder_tensors(config)) {
    const bool gain = t.name.find("LayerNorm.weight") != std::string::npos;
    std::vector<float> values(static_cast<size_t>(numel(t.shape)));
    for (float& v : values) v = gain ? 1.0f + 0.2f * normal(rng) : 0.4f * normal(rng);
    weights.set(t.name, t.shape, std::move(values));
  }
  return weights;
}

// `count` random sequences of lengths 2..max_len of non-pad tokens.
inline std::vector<std::vector<int32_t>> random_sequences(const EncoderConfig& config, int count, int max_len,
                                                          uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<int32_t>> out(count);
  for (auto& s : out) {
    s.resize(2 + rng() % static_cast<uint64_t>(max_len - 1));
    for (int32_t& t : s) {
      do t = static_cast<int32_t>(rng() % static_cast<uint64_t>(config.vocab_size));
      while (t == config.pad_token_id);
    }
  }
  return out;
}

}  // namespace alloy::encoder_test_models
