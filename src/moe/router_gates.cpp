#include "moe/router_gates.h"

#include <cmath>

#include "methods/blocks/counter_rng.h"
#include "model/decoder.h"
#include "model/model_config.h"
#include "model/weight_source.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace alloy {

namespace {

// Per layer, the mean over `prompts` of the residual stream entering that layer: at the last
// token, or averaged over the prompt's tokens. Each prompt starts with the BOS token.
std::vector<double> prompt_states(const DecoderLM<float>& lm, const Weight& embed, const Tokenizer& tokenizer,
                                  const std::vector<std::string>& prompts, bool average_tokens) {
  const int64_t layers = lm.config().num_layers, hidden = lm.config().hidden_size;
  std::vector<double> sum(static_cast<size_t>(layers * hidden), 0.0);
  for (const std::string& prompt : prompts) {
    std::vector<int32_t> ids;
    if (auto bos = tokenizer.bos_id()) ids.push_back(*bos);
    for (int32_t id : tokenizer.encode(prompt)) ids.push_back(id);
    if (ids.empty()) fail("prompt '", prompt, "' has no tokens");
    const int64_t n = static_cast<int64_t>(ids.size());
    auto add = [&](int64_t layer, const float* rows) {
      double* dst = sum.data() + layer * hidden;
      const int64_t first = average_tokens ? 0 : n - 1;
      for (int64_t t = first; t < n; ++t)
        for (int64_t j = 0; j < hidden; ++j) dst[j] += rows[t * hidden + j] / static_cast<double>(n - first);
    };
    // Layer 0's input is the embeddings; layer l's is what block l-1 gave.
    std::vector<float> embedded(static_cast<size_t>(n * hidden));
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < hidden; ++j) embedded[t * hidden + j] = embed.values[ids[t] * hidden + j];
    add(0, embedded.data());
    Taps<float> taps;
    taps.hidden = [&](int64_t layer, std::span<const float> h, int64_t, int64_t) {
      if (layer + 1 < layers) add(layer + 1, h.data());
    };
    lm.loss(next_token_batch(ids, 1, n), taps);
  }
  for (double& v : sum) v /= static_cast<double>(prompts.size());
  return sum;
}

std::vector<double> embedding_sum(const Weight& embed, const Tokenizer& tokenizer, int64_t hidden,
                                  const std::vector<std::string>& prompts) {
  std::vector<double> sum(static_cast<size_t>(hidden), 0.0);
  for (const std::string& prompt : prompts)
    for (int32_t id : tokenizer.encode(prompt))
      for (int64_t j = 0; j < hidden; ++j) sum[j] += embed.values[id * hidden + j];
  double norm = 0;
  for (double v : sum) norm += v * v;
  norm = std::max(std::sqrt(norm), 1e-8);
  for (double& v : sum) v /= norm;
  return sum;
}

}  // namespace

RouterGates router_gates(const MoeConfig& config, const std::vector<MoeExpert>& experts,
                         std::shared_ptr<const Checkpoint> base, int64_t layers, int64_t hidden, uint64_t seed) {
  RouterGates g;
  g.layers = layers;
  g.experts = static_cast<int64_t>(experts.size());
  g.hidden = hidden;
  g.values.assign(static_cast<size_t>(layers * g.experts * hidden), 0.0f);
  const GateMode mode = config.gate_mode;
  if (mode == GateMode::Random || mode == GateMode::UniformRandom) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
    for (int64_t e = 0; e < g.experts; ++e) {
      CounterRng rng(seed, "moe router", static_cast<uint64_t>(e));
      for (int64_t l = 0; l < layers; ++l)
        for (int64_t j = 0; j < hidden; ++j) {
          const uint64_t i = static_cast<uint64_t>(l * hidden + j);
          float* dst = g.values.data() + (l * g.experts + e) * hidden + j;
          if (mode == GateMode::Random)  // N(0, 1) by Box-Muller from two uniform draws
            *dst = static_cast<float>(std::sqrt(-2.0 * std::log(1.0 - rng.uniform(2 * i))) *
                                      std::cos(2.0 * M_PI * rng.uniform(2 * i + 1)));
          else
            *dst = static_cast<float>(bound * (2.0 * rng.uniform(i) - 1.0));
        }
    }
    return g;
  }

  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(base->dir());
  const CheckpointWeights weights(base);
  const Weight embed = weights.get("model.embed_tokens.weight");
  std::unique_ptr<DecoderLM<float>> lm;
  if (mode != GateMode::CheapEmbed)
    lm = std::make_unique<DecoderLM<float>>(decoder_config_from_json(base->config(), base->has("lm_head.weight")),
                                            weights);
  for (int64_t e = 0; e < g.experts; ++e) {
    const MoeExpert& expert = experts[static_cast<size_t>(e)];
    std::vector<double> v;
    try {
      auto states = [&](const std::vector<std::string>& prompts) {
        if (prompts.empty()) return std::vector<double>(static_cast<size_t>(layers * hidden), 0.0);
        if (mode == GateMode::CheapEmbed) {
          std::vector<double> one = embedding_sum(embed, *tokenizer, hidden, prompts), all;
          for (int64_t l = 0; l < layers; ++l) all.insert(all.end(), one.begin(), one.end());
          return all;
        }
        return prompt_states(*lm, embed, *tokenizer, prompts, mode == GateMode::HiddenAvg);
      };
      v = states(expert.positive_prompts);
      const std::vector<double> negative = states(expert.negative_prompts);
      for (size_t i = 0; i < v.size(); ++i) v[i] -= negative[i];
    } catch (const Error& e) {
      rethrow_with(cat(config.where(expert.loc), ": router of expert '", expert.model.str(), "'"), e);
    }
    for (int64_t l = 0; l < layers; ++l) {
      const double* src = v.data() + l * hidden;
      double norm = 0;
      for (int64_t j = 0; j < hidden; ++j) norm += src[j] * src[j];
      norm = std::max(std::sqrt(norm), 1e-8);
      float* dst = g.values.data() + (l * g.experts + e) * hidden;
      for (int64_t j = 0; j < hidden; ++j) dst[j] = static_cast<float>(src[j] / norm);
    }
  }
  return g;
}

}  // namespace alloy
