// How a gradient search splits a decoder's tensors into coefficient groups (one weight per group
// and model), with each group's name for the report and the recipe filters that select exactly its
// tensors, so the tuned weights can be written as `{filter, value}` lists that `alloy merge`
// resolves tensor by tensor to the same coefficients.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "search/merge_gradient.h"

namespace alloy {

struct TensorGrouping {
  int64_t count = 0;
  TensorGroups group_of;  // throws Error for a tensor in no group
  std::vector<std::string> names;                 // per group: "layer 3", "layer 3 mlp"
  std::vector<std::vector<std::string>> filters;  // per group: tensor-name substrings, disjoint across groups
};

// AdaMerging's layer-wise groups (merge_gradient.h): embedding, each block, final norm, lm_head.
TensorGrouping groups_by_layer(int64_t num_layers);

// Each block split by tensor kind: its attention (`self_attn.`), its MLP (`mlp.`) and its norms
// (`input_layernorm.`, `post_attention_layernorm.`); plus the embedding, final norm and lm_head.
// Group 0 the embedding, 1 + 3k + {0,1,2} block k's attention, MLP, norms, 3L + 1 the final norm,
// 3L + 2 lm_head. Throws Error for a block tensor of another kind.
TensorGrouping groups_by_layer_and_kind(int64_t num_layers);

// Per group: whether any of `tensors` is in it (lm_head is not, for tied embeddings).
std::vector<bool> groups_in_use(const TensorGrouping& grouping, const std::vector<std::string>& tensors);

}  // namespace alloy
