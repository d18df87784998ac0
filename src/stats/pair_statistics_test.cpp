// Statistics of an embedding encoder on query/positive pairs, against independent float64
// references on a tiny random BERT: the Fisher is the mean over batches of the squared central
// finite differences of each batch's InfoNCE loss (written out plainly here), and each Gram
// matrix is XᵀX over the real tokens of the layer's input, taken from the hidden-state taps.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "model/encoder_test_models.h"
#include "model/gradient_check.h"
#include "stats/pair_statistics.h"
#include "stats/stats_test_support.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using encoder_test_models::random_sequences;
using encoder_test_models::random_weights;
using encoder_test_models::read_config;
using encoder_test_models::tiny_config;

// Five pairs of different lengths in batches of two: groups of 2 and 3 (the lone last pair joins).
PairProbe tiny_probe(const EncoderConfig& config) {
  const auto seqs = random_sequences(config, 10, 6, 23);
  const std::vector<std::vector<int32_t>> q(seqs.begin(), seqs.begin() + 5), p(seqs.begin() + 5, seqs.end());
  PairProbe probe = pair_probe_batches(config, q, p, 2, 0);
  probe.temperature = 0.5;  // a softmax far from saturated, so every gradient is sizeable
  return probe;
}

TEST(PairStatistics, FisherIsTheMeanOfSquaredBatchGradientsByFiniteDifferences) {
  const EncoderConfig config = read_config(tiny_config("bert"), "bert.");
  MemoryWeights weights = random_weights(config, 5);
  const PairProbe probe = tiny_probe(config);
  ASSERT_EQ(probe.pairs, (std::vector<int64_t>{2, 3}));
  const Statistics fisher = pair_fisher_statistics(Encoder<float>(config, weights), probe);
  ASSERT_EQ(fisher.size(), encoder_tensors(config).size());

  std::mt19937_64 rng(9);
  for (const char* name : {"bert.embeddings.word_embeddings.weight", "bert.encoder.layer.0.attention.self.query.weight",
                           "bert.encoder.layer.1.intermediate.dense.bias", "bert.encoder.layer.1.output.LayerNorm.weight"}) {
    SCOPED_TRACE(name);
    const std::vector<float>& f = fisher.at(kFisherPrefix + std::string(name)).values;
    double largest = 0;
    size_t argmax = 0;
    for (size_t k = 0; k < f.size(); ++k)
      if (f[k] > largest) largest = f[k], argmax = k;
    ASSERT_GT(largest, 0.0);
    std::vector<float>& w = weights.tensors().at(name).values;
    for (size_t k : {argmax, size_t(rng() % f.size()), size_t(rng() % f.size()), size_t(rng() % f.size())}) {
      double want = 0;
      for (const EncoderBatch& b : probe.batches) {
        const double fd = gradient_check::central_difference(w[k], 1e-3f, [&] {
          const std::vector<double> e = Encoder<double>(config, weights).embed(b, probe.pooling);
          return stats_test::plain_info_nce(e, b.batch / 2, config.hidden_size, probe.temperature);
        });
        want += fd * fd / double(probe.batches.size());
      }
      EXPECT_NEAR(f[k], want, 1e-3 * std::max({want, double(f[k]), 1e-3 * largest})) << "element " << k;
    }
  }
}

TEST(PairStatistics, GramIsXtXOverTheRealTokensOfTheLayerInput) {
  const EncoderConfig config = read_config(tiny_config("bert"), "");
  const MemoryWeights weights = random_weights(config, 6);
  const PairProbe probe = tiny_probe(config);
  const Statistics grams = pair_gram_statistics(Encoder<float>(config, weights), probe);

  // The input of layer l's q/k/v is the hidden state after layer l - 1 (l = 0: the embeddings' LayerNorm).
  const int64_t h = config.hidden_size;
  std::vector<std::vector<double>> want(2, std::vector<double>(static_cast<size_t>(h * h), 0.0));
  int64_t padded = 0;
  Taps<double> taps;
  const EncoderBatch* batch = nullptr;
  taps.hidden = [&](int64_t layer, std::span<const double> x, int64_t rows, int64_t cols) {
    if (layer > 0) return;
    for (int64_t r = 0; r < rows; ++r) {
      if (!batch->mask[static_cast<size_t>(r)]) continue;
      for (int64_t i = 0; i < cols; ++i)
        for (int64_t j = 0; j < cols; ++j) want[static_cast<size_t>(layer + 1)][i * h + j] += x[r * cols + i] * x[r * cols + j];
    }
  };
  for (const EncoderBatch& b : probe.batches) {
    batch = &b;
    for (uint8_t m : b.mask) padded += m == 0;
    Encoder<double>(config, weights).hidden_states(b, taps);
  }
  ASSERT_GT(padded, 0);  // the batches have padding, which must not count
  for (int layer = 0; layer < 2; ++layer)
    for (const char* kind : {"query", "key", "value"}) {
      const std::string name = cat(kGramPrefix, encoder_layer_prefix(config, layer), "attention.self.", kind, ".weight");
      SCOPED_TRACE(name);
      const StatTensor& g = grams.at(name);
      ASSERT_EQ(g.shape, (Shape{h, h}));
      double largest = 0;
      for (double v : want[layer]) largest = std::max(largest, std::abs(v));
      for (size_t k = 0; k < g.values.size(); ++k) EXPECT_NEAR(g.values[k], want[layer][k], 1e-5 * largest) << k;
    }
  // Every linear layer has its matrix: q, k, v, attention output, intermediate, output; per layer.
  EXPECT_EQ(grams.size(), 12u);
}

}  // namespace
}  // namespace alloy
