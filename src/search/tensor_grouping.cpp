#include "search/tensor_grouping.h"

#include "model/model_config.h"
#include "util/error.h"

namespace alloy {

TensorGrouping groups_by_layer(int64_t num_layers) {
  TensorGrouping g;
  g.count = layer_group_count(num_layers);
  g.group_of = [num_layers](const std::string& t) { return layer_group(t, num_layers); };
  for (int k = 0; k < g.count; ++k) {
    g.names.push_back(layer_group_name(k, num_layers));
    g.filters.push_back({layer_group_filter(k, num_layers)});
  }
  return g;
}

namespace {

// The norms of a block: every tensor of it whose name past the block prefix is one of these.
const std::vector<std::string> kBlockNorms = {"input_layernorm.", "post_attention_layernorm."};

}  // namespace

TensorGrouping groups_by_layer_and_kind(int64_t num_layers) {
  TensorGrouping g;
  g.count = 3 * num_layers + 3;
  g.group_of = [num_layers](const std::string& t) {
    const int layer_or_end = layer_group(t, num_layers);
    if (layer_or_end == 0) return 0;
    if (layer_or_end > num_layers) return static_cast<int>(2 * num_layers) + layer_or_end;  // norm, lm_head
    const int block = layer_or_end - 1;
    const std::string rest = t.substr(layer_prefix(block).size());
    if (rest.rfind("self_attn.", 0) == 0) return 1 + 3 * block;
    if (rest.rfind("mlp.", 0) == 0) return 2 + 3 * block;
    for (const std::string& norm : kBlockNorms)
      if (rest.rfind(norm, 0) == 0) return 3 + 3 * block;
    fail("tensor ", t, " is neither attention (self_attn.), MLP (mlp.) nor a block norm (",
         kBlockNorms[0], ", ", kBlockNorms[1], "): per-layer-kind groups do not cover it");
  };
  g.names.push_back("embed");
  g.filters.push_back({layer_group_filter(0, num_layers)});
  for (int block = 0; block < num_layers; ++block) {
    const std::string prefix = layer_prefix(block);
    g.names.push_back(cat("layer ", block, " attention"));
    g.filters.push_back({prefix + "self_attn."});
    g.names.push_back(cat("layer ", block, " mlp"));
    g.filters.push_back({prefix + "mlp."});
    g.names.push_back(cat("layer ", block, " norms"));
    std::vector<std::string> norms;
    for (const std::string& n : kBlockNorms) norms.push_back(prefix + n);
    g.filters.push_back(norms);
  }
  for (int k : {1, 2}) {
    g.names.push_back(layer_group_name(static_cast<int>(num_layers) + k, num_layers));
    g.filters.push_back({layer_group_filter(static_cast<int>(num_layers) + k, num_layers)});
  }
  return g;
}

std::vector<bool> groups_in_use(const TensorGrouping& grouping, const std::vector<std::string>& tensors) {
  std::vector<bool> used(static_cast<size_t>(grouping.count), false);
  for (const std::string& t : tensors) used[static_cast<size_t>(grouping.group_of(t))] = true;
  return used;
}

}  // namespace alloy
