// Statistics against references recomputed in the test: each Gram matrix equals Σ XᵀX of the
// engine's tapped inputs summed here in float64; the Fisher diagonal equals the mean over chunks
// of squared per-chunk gradients of a float64 model, whose gradients are themselves checked
// against central finite differences of the loss.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "model/decoder.h"
#include "model/gradient_check.h"
#include "model/test_models.h"
#include "stats/model_statistics.h"
#include "stats/probe_chunks.h"
#include "stats/stats_test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using stats_test::random_chunks;

TEST(ModelStatistics, GramIsXTransposeXOfTheTappedInputs) {
  const ModelConfig config = decoder_config_from_json(test_models::tiny_config("LlamaForCausalLM"), true);
  const MemoryWeights weights = test_models::random_weights(config, 5);
  const DecoderLM<float> model(config, weights);
  const std::vector<TokenBatch> chunks = random_chunks(config.vocab_size, 3, 7, 9);

  std::map<std::string, std::vector<double>> want;
  std::map<std::string, int64_t> dims;
  Taps<float> taps;
  taps.linear_input = [&](const std::string& w, std::span<const float> x, int64_t rows, int64_t cols) {
    auto& g = want[w];
    dims[w] = cols;
    g.resize(static_cast<size_t>(cols * cols), 0.0);
    for (int64_t a = 0; a < cols; ++a)
      for (int64_t b = 0; b < cols; ++b)
        for (int64_t r = 0; r < rows; ++r) g[a * cols + b] += double(x[r * cols + a]) * double(x[r * cols + b]);
  };
  for (const auto& c : chunks) model.loss(c, taps);

  const Statistics got = gram_statistics(model, chunks);
  ASSERT_EQ(got.size(), want.size());  // 7 linear layers per block and lm_head (untied)
  EXPECT_EQ(got.size(), 2u * 7u + 1u);
  for (const auto& [w, g] : want) {
    const StatTensor& t = got.at("gram." + w);
    const int64_t n = dims[w];
    ASSERT_EQ(t.shape, (Shape{n, n})) << w;
    for (size_t k = 0; k < g.size(); ++k) EXPECT_NEAR(t.values[k], g[k], 1e-5 * (1 + std::fabs(g[k]))) << w << "[" << k << "]";
  }
}

TEST(ModelStatistics, FisherIsTheMeanOfSquaredPerChunkGradients) {
  const ModelConfig config = decoder_config_from_json(test_models::tiny_config("LlamaForCausalLM"), true);
  MemoryWeights weights = test_models::random_weights(config, 3);
  const std::vector<TokenBatch> chunks = random_chunks(config.vocab_size, 3, 6, 17);
  const Statistics got = fisher_statistics(DecoderLM<float>(config, weights), chunks);

  const DecoderLM<double> model(config, weights);
  std::map<std::string, std::vector<double>> want;
  std::mt19937_64 rng(1);
  for (const TokenBatch& chunk : chunks) {
    std::map<std::string, std::vector<double>> grad;
    model.loss_and_gradient(chunk, [&](const std::string& name, std::span<const double> g) {
      grad[name].assign(g.begin(), g.end());
    });
    // The gradient the Fisher squares is the loss's: central differences at a few elements.
    for (auto& [name, tensor] : weights.tensors()) {
      const std::vector<double>& g = grad.at(name);
      for (int s = 0; s < 2; ++s) {
        const size_t i = rng() % g.size();
        const double fd = gradient_check::central_difference(tensor.values[i], 1e-3f,
                                                             [&] { return model.loss(chunk).mean(); });
        EXPECT_NEAR(fd, g[i], 1e-4 * std::max(1e-2, std::fabs(fd))) << name << "[" << i << "]";
      }
    }
    for (const auto& [name, g] : grad) {
      auto& acc = want[name];
      acc.resize(g.size(), 0.0);
      for (size_t k = 0; k < g.size(); ++k) acc[k] += g[k] * g[k] / static_cast<double>(chunks.size());
    }
  }
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, f] : want) {
    const StatTensor& t = got.at("fisher." + name);
    EXPECT_EQ(t.shape, weights.shape(name)) << name;
    double largest = 0;
    for (double v : f) largest = std::max(largest, v);
    for (size_t k = 0; k < f.size(); ++k)
      EXPECT_NEAR(t.values[k], f[k], 1e-3 * (std::fabs(f[k]) + 1e-3 * largest)) << name << "[" << k << "]";
  }
}

TEST(ProbeChunks, CutsTokensIntoBosLedChunksWithEveryNextTokenScored) {
  // BOS = 1; text tokens 5..11; ctx 3: [1 5 6] [1 8 9] [1 11] (the partial last chunk is kept).
  const std::vector<int32_t> tokens = {1, 5, 6, 7, 8, 9, 10, 11};
  const std::vector<TokenBatch> chunks = probe_chunks(tokens, 3, 1, 0);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].tokens, (std::vector<int32_t>{1, 5, 6}));
  EXPECT_EQ(chunks[0].targets, (std::vector<int32_t>{5, 6, -1}));
  EXPECT_EQ(chunks[1].tokens, (std::vector<int32_t>{1, 8, 9}));
  EXPECT_EQ(chunks[1].targets, (std::vector<int32_t>{8, 9, -1}));
  EXPECT_EQ(chunks[2].tokens, (std::vector<int32_t>{1, 11}));
  EXPECT_EQ(chunks[2].targets, (std::vector<int32_t>{11, -1}));
  EXPECT_EQ(probe_chunks(tokens, 3, 1, 2).size(), 2u);  // probe_samples
}

}  // namespace
}  // namespace alloy
