// Encoder groupings: hand-worked group numbers, and the recipe filters each group writes select
// exactly its tensors (every encoder tensor, and the pooler and MLM-head tensors of a checkpoint,
// matched by one group's filters only, that group being the one group_of names).
#include "search/encoder_grouping.h"

#include <gtest/gtest.h>

#include "model/encoder_test_models.h"
#include "search/grouping_test_support.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using encoder_test_models::read_config;
using encoder_test_models::tiny_config;
using grouping_test::matching_groups;

TEST(EncoderGrouping, LayerKindGroupsHandWorked) {
  const TensorGrouping g = encoder_groups_by_layer_and_kind(read_config(tiny_config("bert"), "bert."));
  EXPECT_EQ(g.count, 7);  // embed, 2 × (attention, mlp, norms)
  EXPECT_EQ(g.group_of("bert.embeddings.LayerNorm.weight"), 0);
  EXPECT_EQ(g.group_of("bert.pooler.dense.weight"), 0);
  EXPECT_EQ(g.group_of("cls.predictions.transform.dense.weight"), 0);
  EXPECT_EQ(g.group_of("bert.encoder.layer.0.attention.self.value.bias"), 1);
  EXPECT_EQ(g.group_of("bert.encoder.layer.0.attention.output.dense.weight"), 1);
  EXPECT_EQ(g.group_of("bert.encoder.layer.0.attention.output.LayerNorm.bias"), 3);
  EXPECT_EQ(g.group_of("bert.encoder.layer.1.intermediate.dense.weight"), 5);
  EXPECT_EQ(g.group_of("bert.encoder.layer.1.output.dense.bias"), 5);
  EXPECT_EQ(g.group_of("bert.encoder.layer.1.output.LayerNorm.weight"), 6);
  EXPECT_EQ(g.names[5], "layer 1 mlp");
  EXPECT_THROW(g.group_of("bert.encoder.layer.0.crossattention.self.query.weight"), Error);
  EXPECT_THROW(g.group_of("classifier.weight"), Error);
  const TensorGrouping layers = encoder_groups_by_layer(read_config(tiny_config("bert"), "bert."));
  EXPECT_EQ(layers.count, 3);
  EXPECT_EQ(layers.group_of("bert.encoder.layer.1.output.LayerNorm.weight"), 2);
  EXPECT_EQ(layers.names[2], "layer 1");
}

TEST(EncoderGrouping, EachTensorMatchesOnlyItsOwnGroupsFilters) {
  for (const auto& [type, prefix] : {std::pair{"bert", "bert."}, std::pair{"roberta", ""}})
    for (int layers : {2, 12}) {  // 12: layer 1's filters must not match layer 11's tensors
      nlohmann::json json = tiny_config(type);
      json["num_hidden_layers"] = layers;
      const EncoderConfig config = read_config(json, prefix);
      std::vector<std::string> names;
      for (const ExpectedTensor& t : encoder_tensors(config)) names.push_back(t.name);
      for (const char* extra : {"pooler.dense.weight", "cls.predictions.bias", "lm_head.dense.weight"})
        names.push_back((std::string(extra).starts_with("pooler") ? prefix : "") + std::string(extra));
      for (const TensorGrouping& g : {encoder_groups_by_layer(config), encoder_groups_by_layer_and_kind(config)}) {
        ASSERT_EQ(g.names.size(), static_cast<size_t>(g.count));
        ASSERT_EQ(g.filters.size(), static_cast<size_t>(g.count));
        for (const std::string& n : names) EXPECT_EQ(matching_groups(g, n), std::vector<int>{g.group_of(n)}) << n;
        for (bool used : groups_in_use(g, names)) EXPECT_TRUE(used);
      }
    }
}

}  // namespace
}  // namespace alloy
