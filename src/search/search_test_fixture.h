// A tiny base model, fine-tunes of it and probe sets, for the gradient searches' tests (header
// only, included by *_test.cpp).
#pragma once
#include <random>
#include <string>
#include <vector>

#include "model/test_models.h"
#include "search/merge_gradient.h"
#include "search/probe_gradient.h"
#include "search/strategy.h"

namespace alloy::search_fixture {

inline ModelConfig tiny_config() {
  return decoder_config_from_json(test_models::tiny_config("LlamaForCausalLM"), true);
}

// base + scale · noise(seed) on the tensors for which `changes(name)` holds; the rest equal the base.
inline MemoryWeights fine_tune(const ModelConfig& config, const MemoryWeights& base, uint64_t seed, float scale,
                               const std::function<bool(const std::string&)>& changes = {}) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  MemoryWeights out;
  for (const ExpectedTensor& t : decoder_tensors(config)) {
    std::vector<float> values = base.tensors().at(t.name).values;
    if (!changes || changes(t.name))
      for (float& v : values) v += scale * normal(rng);
    out.set(t.name, t.shape, std::move(values));
  }
  return out;
}

// `count` sets of 3 chunks of random tokens, lengths 6, 6 and 4 (two passes: 6-token chunks batch
// together, the 4-token one runs alone), every next token scored.
inline std::vector<ProbeSet> probe_sets(int64_t vocab, int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<ProbeSet> sets;
  for (int s = 0; s < count; ++s) {
    ProbeSet set;
    set.written = "probe" + std::to_string(s) + ".txt";
    for (int64_t len : {6, 6, 4}) {
      std::vector<int32_t> tokens(static_cast<size_t>(len));
      // Each set favours its own half of the vocabulary, so the sets pull the merge different ways.
      for (int32_t& t : tokens) t = static_cast<int32_t>((rng() % (vocab / 2)) + (s % 2) * (vocab / 2));
      set.chunks.push_back(next_token_batch(tokens, 1, len));
    }
    sets.push_back(std::move(set));
  }
  return sets;
}

// The base after `steps` steps of gradient descent on `set` alone, changing only the tensors for
// which `changes(name)` holds: a fine-tune that helps on its own probe text, as real ones do.
inline MemoryWeights trained(const ModelConfig& config, const MemoryWeights& base, const ProbeSet& set, int steps,
                             float rate, const std::function<bool(const std::string&)>& changes = {}) {
  MemoryWeights w = base;
  for (int s = 0; s < steps; ++s) {
    std::map<std::string, std::vector<float>> grads;
    const DecoderLM<float> model(config, w);
    probe_objective_and_gradient<float>(model, {set}, [&](const std::string& name, std::span<const float> g, double scale) {
      std::vector<float>& acc = grads[name];
      acc.resize(g.size(), 0.0f);
      for (size_t k = 0; k < g.size(); ++k) acc[k] += static_cast<float>(scale) * g[k];
    });
    for (auto& [name, g] : grads) {
      if (changes && !changes(name)) continue;
      std::vector<float>& v = w.tensors().at(name).values;
      for (size_t k = 0; k < v.size(); ++k) v[k] -= rate * g[k];
    }
  }
  return w;
}

inline MergeInputs merge_inputs(const ModelConfig& config, const MemoryWeights& base,
                                const std::vector<MemoryWeights>& models) {
  std::vector<const WeightSource*> sources;
  std::vector<std::string> labels;
  for (const MemoryWeights& m : models) {
    sources.push_back(&m);
    labels.push_back("model" + std::to_string(labels.size()));
  }
  return load_merge_inputs(config, base, sources, labels);
}

}  // namespace alloy::search_fixture
