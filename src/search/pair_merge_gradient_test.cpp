// The merge gradient on embedding encoders: ∂L/∂c of the InfoNCE objective of a task-arithmetic
// merge θ₀ + Σ c_i τ_i over two pair probe sets (batches of different sizes, so each batch's share
// matters) against central finite differences of that objective written out plainly in float64.
#include <gtest/gtest.h>

#include "model/encoder_test_models.h"
#include "search/merge_gradient.h"
#include "search/search_objective.h"
#include "stats/stats_test_support.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using namespace encoder_test_models;

// Model `seed`: the base moved by a random task vector of scale 0.2.
MemoryWeights fine_tune(const EncoderConfig& config, const MemoryWeights& base, uint64_t seed) {
  const MemoryWeights delta = random_weights(config, seed);
  MemoryWeights out;
  for (const auto& [name, t] : base.tensors()) {
    std::vector<float> v = t.values;
    const std::vector<float>& d = delta.tensors().at(name).values;
    for (size_t k = 0; k < v.size(); ++k) v[k] += 0.5f * (d[k] - (name.find("LayerNorm.weight") != std::string::npos));
    out.set(name, t.shape, std::move(v));
  }
  return out;
}

ProbeSet pair_set(const EncoderConfig& config, int pairs, uint64_t seed) {
  const auto seqs = random_sequences(config, 2 * pairs, 6, seed);
  ProbeSet set;
  set.written = cat("set ", seed);
  set.pairs = pair_probe_batches(config, {seqs.begin(), seqs.begin() + pairs}, {seqs.begin() + pairs, seqs.end()}, 2, 0);
  set.pairs.temperature = 0.5;
  return set;
}

TEST(PairMergeGradient, CoefficientGradientMatchesFiniteDifferencesOfTheInfoNce) {
  const EncoderConfig config = read_config(tiny_config("bert"), "bert.");
  const MemoryWeights base = random_weights(config, 1), a = fine_tune(config, base, 2), b = fine_tune(config, base, 3);
  const MergeInputs inputs = load_merge_inputs(config, base, {&a, &b}, {"a", "b"});
  const std::vector<ProbeSet> sets = {pair_set(config, 5, 11), pair_set(config, 4, 12)};
  ASSERT_EQ(sets[0].pairs.pairs, (std::vector<int64_t>{2, 3}));

  // The objective in float64: the mean over sets of each set's mean loss per pair.
  auto objective = [&](const Coefficients& c) {
    const MemoryWeights merged = merged_weights(inputs, c, whole_model_group);
    const Encoder<double> model(config, merged);
    double total = 0;
    for (const ProbeSet& s : sets)
      for (size_t k = 0; k < s.pairs.batches.size(); ++k)
        total += stats_test::plain_info_nce(model.embed(s.pairs.batches[k], s.pairs.pooling), s.pairs.pairs[k],
                                            config.hidden_size, s.pairs.temperature) *
                 double(s.pairs.pairs[k]) / double(s.pairs.total_pairs()) / double(sets.size());
    return total;
  };
  Coefficients c(1, 2, 0.0);
  c.c = {0.4, 0.7};
  const ObjectiveAndGradient og = merge_objective_and_gradient(inputs, c, whole_model_group, sets);
  EXPECT_NEAR(og.objective, objective(c), 1e-5 * og.objective);
  EXPECT_NEAR(merge_objective(inputs, c, whole_model_group, sets), og.objective, 1e-6 * og.objective);
  for (int i = 0; i < 2; ++i) {
    const double h = 1e-3;
    Coefficients plus = c, minus = c;
    plus.c[i] += h;
    minus.c[i] -= h;
    const double fd = (objective(plus) - objective(minus)) / (2 * h);
    ASSERT_GT(std::abs(fd), 1e-2);  // a gradient worth checking
    EXPECT_NEAR(og.gradient.c[i], fd, 1e-3 * std::abs(fd)) << "model " << i;
  }
}

}  // namespace
}  // namespace alloy
