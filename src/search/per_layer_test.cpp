// The per-layer search on fine-tunes that differ from the base in one block only: the two
// coefficients of that block are the only ones that matter, and the search must land where an
// exhaustive grid over them finds the optimum, leaving every other coefficient where it started.
#include "search/per_layer.h"

#include <gtest/gtest.h>

#include "search/search_test_fixture.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using namespace search_fixture;

TEST(PerLayerSearch, FindsTheGridOptimumOfTheOnlyBlockThatChanged) {
  const ModelConfig config = tiny_config();
  const MemoryWeights base = test_models::random_weights(config, 41);
  const std::vector<ProbeSet> sets = probe_sets(config.vocab_size, 2, 42);
  auto block1 = [](const std::string& t) { return t.rfind("model.layers.1.", 0) == 0; };
  const std::vector<MemoryWeights> models{trained(config, base, sets[0], 4, 0.5f, block1),
                                          trained(config, base, sets[1], 4, 0.5f, block1)};
  const MergeInputs in = merge_inputs(config, base, models);
  const TensorGroups groups = [](const std::string& t) { return layer_group(t, 2); };
  const int64_t g = 2;  // block 1
  Coefficients c(layer_group_count(2), 2, 0.5);
  double grid_best = 1e300, best0 = 0, best1 = 0;
  for (int i = 0; i <= 15; ++i)
    for (int j = 0; j <= 15; ++j) {
      c.at(g, 0) = -0.5 + 0.2 * i;
      c.at(g, 1) = -0.5 + 0.2 * j;
      const double v = merge_objective(in, c, groups, sets);
      if (v < grid_best) grid_best = v, best0 = c.at(g, 0), best1 = c.at(g, 1);
    }
  ASSERT_GT(best0, -0.45);  // interior
  ASSERT_LT(best0, 2.45);
  PerLayerSettings settings;
  settings.search.steps = 80;
  settings.search.adam.learning_rate = 0.05;
  const PerLayerResult r = per_layer_search(in, sets, settings);
  EXPECT_LE(r.loss, grid_best + 1e-4);
  EXPECT_NEAR(r.weights.at(g, 0), best0, 0.2);  // the grid's spacing
  EXPECT_NEAR(r.weights.at(g, 1), best1, 0.2);
  for (int64_t other : {0, 1, 3, 4})
    for (int64_t i = 0; i < 2; ++i) EXPECT_EQ(r.weights.at(other, i), 0.5) << "group " << other << " moved";
  EXPECT_EQ(r.losses.size(), 80u);
}

}  // namespace
}  // namespace alloy
