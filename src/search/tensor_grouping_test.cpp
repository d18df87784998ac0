// Tensor groupings: hand-worked group numbers, and the recipe filters each group writes select
// exactly its tensors (every decoder tensor matched by one group's filters only, that group being
// the one group_of names), so a tuned recipe's `{filter, value}` lists mean the searched weights.
#include "search/tensor_grouping.h"

#include <gtest/gtest.h>

#include "model/test_models.h"
#include "search/grouping_test_support.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using grouping_test::matching_groups;

TEST(TensorGrouping, LayerKindGroupsHandWorked) {
  const TensorGrouping g = groups_by_layer_and_kind(2);
  EXPECT_EQ(g.count, 9);  // embed, 2 × (attention, mlp, norms), norm, lm_head
  EXPECT_EQ(g.group_of("model.embed_tokens.weight"), 0);
  EXPECT_EQ(g.group_of("model.layers.0.self_attn.k_proj.weight"), 1);
  EXPECT_EQ(g.group_of("model.layers.0.post_attention_layernorm.weight"), 3);
  EXPECT_EQ(g.group_of("model.layers.1.self_attn.o_proj.weight"), 4);
  EXPECT_EQ(g.group_of("model.layers.1.mlp.down_proj.weight"), 5);
  EXPECT_EQ(g.group_of("model.layers.1.input_layernorm.weight"), 6);
  EXPECT_EQ(g.group_of("model.norm.weight"), 7);
  EXPECT_EQ(g.group_of("lm_head.weight"), 8);
  EXPECT_EQ(g.names[5], "layer 1 mlp");
  EXPECT_THROW(g.group_of("model.layers.0.block_sparse_moe.gate.weight"), Error);
  EXPECT_THROW(g.group_of("model.layers.2.mlp.up_proj.weight"), Error);  // no block 2
}

TEST(TensorGrouping, EachTensorMatchesOnlyItsOwnGroupsFilters) {
  for (int layers : {2, 12}) {  // 12: block 1's filters must not match block 11's tensors
    nlohmann::json cfg = test_models::tiny_config("LlamaForCausalLM");
    cfg["num_hidden_layers"] = layers;
    const ModelConfig config = decoder_config_from_json(cfg, true);
    for (const TensorGrouping& g : {groups_by_layer(layers), groups_by_layer_and_kind(layers)}) {
      ASSERT_EQ(g.names.size(), static_cast<size_t>(g.count));
      ASSERT_EQ(g.filters.size(), static_cast<size_t>(g.count));
      std::vector<bool> seen(static_cast<size_t>(g.count), false);
      for (const ExpectedTensor& t : decoder_tensors(config)) {
        EXPECT_EQ(matching_groups(g, t.name), std::vector<int>{g.group_of(t.name)}) << t.name;
        seen[static_cast<size_t>(g.group_of(t.name))] = true;
      }
      EXPECT_EQ(groups_in_use(g, [&] {
                  std::vector<std::string> names;
                  for (const ExpectedTensor& t : decoder_tensors(config)) names.push_back(t.name);
                  return names;
                }()),
                seen);
      for (bool s : seen) EXPECT_TRUE(s);  // untied: every group holds a tensor
    }
  }
}

}  // namespace
}  // namespace alloy
