// The chain rule through the merge: the gradient of the probe objective with respect to every
// per-layer coefficient against central finite differences of the merged model's objective
// (computed by search_objective.h's own batching); the merge against a float64 formula; layer
// groups by hand.
#include "search/merge_gradient.h"

#include <gtest/gtest.h>

#include <cmath>

#include "search/search_objective.h"
#include "search/search_test_fixture.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using namespace search_fixture;

TEST(MergeGradient, LayerGroupsByTensorName) {
  EXPECT_EQ(layer_group("model.embed_tokens.weight", 2), 0);
  EXPECT_EQ(layer_group("model.layers.0.self_attn.q_proj.weight", 2), 1);
  EXPECT_EQ(layer_group("model.layers.1.mlp.down_proj.weight", 2), 2);
  EXPECT_EQ(layer_group("model.norm.weight", 2), 3);
  EXPECT_EQ(layer_group("lm_head.weight", 2), 4);
  EXPECT_EQ(layer_group_count(2), 5);
  EXPECT_THROW(layer_group("model.layers.2.mlp.up_proj.weight", 2), Error);
  EXPECT_THROW(layer_group("rotary.inv_freq", 2), Error);
  // Filters select exactly their group: "model.layers.1." is no substring of a block-10 name.
  EXPECT_EQ(std::string("model.layers.10.mlp.up_proj.weight").find(layer_group_filter(2, 12)), std::string::npos);
  EXPECT_EQ(layer_group_name(3, 2), "norm");
}

TEST(MergeGradient, MergedWeightsAreBasePlusWeightedTaskVectors) {
  const ModelConfig config = tiny_config();
  const MemoryWeights base = test_models::random_weights(config, 1);
  const std::vector<MemoryWeights> models{fine_tune(config, base, 2, 0.1f), fine_tune(config, base, 3, 0.1f)};
  const MergeInputs in = merge_inputs(config, base, models);
  Coefficients c(layer_group_count(2), 2, 0.0);
  for (int64_t g = 0; g < c.groups; ++g) c.at(g, 0) = 0.1 * double(g) - 0.2, c.at(g, 1) = 1.5 - 0.3 * double(g);
  const MemoryWeights merged = merged_weights(in, c, [](const std::string& t) { return layer_group(t, 2); });
  for (const auto& [name, t] : merged.tensors()) {
    const int g = layer_group(name, 2);
    const auto& b = base.tensors().at(name).values;
    for (size_t k = 0; k < t.values.size(); k += 7) {
      const double want = double(b[k]) + c.at(g, 0) * (double(models[0].tensors().at(name).values[k]) - b[k]) +
                          c.at(g, 1) * (double(models[1].tensors().at(name).values[k]) - b[k]);
      EXPECT_NEAR(t.values[k], want, 1e-6 * std::max(1.0, std::abs(want))) << name << "[" << k << "]";
    }
  }
}

TEST(MergeGradient, PerLayerGradientMatchesFiniteDifferences) {
  const ModelConfig config = tiny_config();
  const MemoryWeights base = test_models::random_weights(config, 11);
  const std::vector<MemoryWeights> models{fine_tune(config, base, 12, 0.15f), fine_tune(config, base, 13, 0.15f)};
  const MergeInputs in = merge_inputs(config, base, models);
  const std::vector<ProbeSet> sets = probe_sets(config.vocab_size, 2, 14);
  const TensorGroups groups = [](const std::string& t) { return layer_group(t, 2); };
  Coefficients c(layer_group_count(2), 2, 0.0);
  for (size_t k = 0; k < c.c.size(); ++k) c.c[k] = 0.3 + 0.07 * double(k);
  const ObjectiveAndGradient og = merge_objective_and_gradient(in, c, groups, sets);
  EXPECT_NEAR(og.objective, merge_objective(in, c, groups, sets), 1e-5);
  const double h = 1e-2;
  double largest = 0;
  for (double g : og.gradient.c) largest = std::max(largest, std::abs(g));
  ASSERT_GT(largest, 1e-3);
  for (size_t k = 0; k < c.c.size(); ++k) {
    Coefficients plus = c, minus = c;
    plus.c[k] += h;
    minus.c[k] -= h;
    const double fd = (merge_objective(in, plus, groups, sets) - merge_objective(in, minus, groups, sets)) / (2 * h);
    EXPECT_NEAR(og.gradient.c[k], fd, 2e-3 * std::max(largest, std::abs(fd))) << "coefficient " << k;
  }
}

TEST(MergeGradient, ErrorsNameTheModelAndTensor) {
  const ModelConfig config = tiny_config();
  const MemoryWeights base = test_models::random_weights(config, 1);
  MemoryWeights bad = fine_tune(config, base, 2, 0.1f);
  bad.tensors().erase("model.norm.weight");
  const std::vector<const WeightSource*> sources{&bad};
  try {
    load_merge_inputs(config, base, sources, {"ft/python"});
    FAIL() << "a missing tensor was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ft/python: tensor model.norm.weight is missing"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace alloy
