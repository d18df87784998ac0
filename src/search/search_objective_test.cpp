#include "search/search_objective.h"

#include <gtest/gtest.h>

#include "model/test_models.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

// A probe set of single-sequence chunks of the given lengths, random tokens.
ProbeSet probe_set(const std::vector<int64_t>& lengths, int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  ProbeSet p;
  p.written = "p" + std::to_string(seed);
  for (int64_t len : lengths) {
    std::vector<int32_t> ids(static_cast<size_t>(len));
    for (int32_t& t : ids) t = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
    p.chunks.push_back(next_token_batch(std::move(ids), 1, len));
  }
  return p;
}

// The objective against the definition, computed chunk by chunk in float64: per set, the NLL summed
// over every scored token of every chunk over their count; then the mean over sets.
TEST(SearchObjective, IsTheMeanOverSetsOfThePerTokenNll) {
  const ModelConfig config = decoder_config_from_json(test_models::tiny_config("LlamaForCausalLM"), true);
  const MemoryWeights weights = test_models::random_weights(config, 7);
  // 20 chunks of 6 cross the 16-per-pass batching; lengths change mid-set.
  std::vector<int64_t> long_set(20, 6);
  long_set.push_back(3);
  const std::vector<ProbeSet> probes = {probe_set(long_set, config.vocab_size, 1), probe_set({5, 2, 5}, config.vocab_size, 2)};
  const DecoderLM<double> reference(config, weights);
  std::vector<double> want;
  for (const ProbeSet& p : probes) {
    double nll = 0;
    int64_t count = 0;
    for (const TokenBatch& c : p.chunks) {
      const LossSum s = reference.loss(c);
      nll += s.nll;
      count += s.count;
    }
    want.push_back(nll / static_cast<double>(count));
  }
  const std::vector<double> got = probe_set_losses(config, weights, probes);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_NEAR(got[0], want[0], 1e-5 * want[0]);
  EXPECT_NEAR(got[1], want[1], 1e-5 * want[1]);
  EXPECT_NEAR(probe_objective(config, weights, probes), (want[0] + want[1]) / 2, 1e-5 * want[0]);
}

}  // namespace
}  // namespace alloy
