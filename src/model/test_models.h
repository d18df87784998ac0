// Tiny random decoder models for the engine's tests (header only, included by *_test.cpp).
#pragma once
#include <cstdint>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "model/decoder.h"
#include "model/model_config.h"
#include "model/weight_source.h"

namespace alloy::test_models {

// A config.json of `arch` with 2 layers, hidden 16, 4 heads over 2 kv heads, vocab 23.
inline nlohmann::json tiny_config(const std::string& arch) {
  return {{"architectures", {arch}}, {"vocab_size", 23},        {"hidden_size", 16},
          {"intermediate_size", 24}, {"num_hidden_layers", 2},  {"num_attention_heads", 4},
          {"num_key_value_heads", 2}, {"rms_norm_eps", 1e-5},   {"rope_theta", 10000.0},
          {"hidden_act", "silu"},    {"tie_word_embeddings", false}};
}

// Weights for every tensor the config needs: norms near 1, the rest of scale 0.3 (large enough
// that attention is far from uniform).
inline MemoryWeights random_weights(const ModelConfig& config, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  MemoryWeights weights;
  for (const ExpectedTensor& t : decoder_tensors(config)) {
    const bool norm = t.name.find("norm") != std::string::npos;
    std::vector<float> values(static_cast<size_t>(numel(t.shape)));
    for (float& v : values) v = norm ? 1.0f + 0.2f * normal(rng) : 0.3f * normal(rng);
    weights.set(t.name, t.shape, std::move(values));
  }
  return weights;
}

// Two sequences of 6 tokens; every next token scored except in the second sequence's first two.
inline TokenBatch tiny_batch(int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> tokens(12);
  for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
  TokenBatch batch = next_token_batch(tokens, 2, 6);
  batch.targets[6] = batch.targets[7] = -1;
  return batch;
}

}  // namespace alloy::test_models
