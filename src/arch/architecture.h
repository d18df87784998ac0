// Architecture: which tensors a model has, grouped as pre-layer, per-layer templates and
// post-layer weights; the config.json key holding the layer count; which weights are embeddings
// and which names are tied. Built from a description in data/architectures/ when one fits the
// config's class name, otherwise inferred from tensor names.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/checkpoint.h"

namespace alloy {

inline constexpr std::string_view kLayerIndex = "${layer_index}";

struct WeightInfo {
  std::string name;                     // for layer weights, a template containing ${layer_index}
  bool is_embed = false;                // token embedding or LM head (vocabulary rows)
  bool optional = false;                // may be absent (e.g. an untied lm_head)
  std::vector<std::string> tied_names;  // loaded from these when absent (lm_head <- embed_tokens)
};

struct Architecture {
  std::string name;          // config.json architectures[0], or "unknown"
  std::string model_type;    // config.json model_type, may be empty
  std::string layer_prefix;  // "model.layers." ; the layer index follows it
  std::string num_layers_key;  // dotted config.json key ("num_hidden_layers", "n_layer"); may be empty
  int num_layers = 0;
  std::vector<WeightInfo> pre_weights;    // before the first layer, e.g. embeddings
  std::vector<WeightInfo> layer_weights;  // templates, e.g. "model.layers.${layer_index}.mlp.up_proj.weight"
  std::vector<WeightInfo> post_weights;   // after the last layer, e.g. final norm, lm_head
  bool inferred = false;                  // true when no description matched
};

// Describes one checkpoint. Throws Error naming the checkpoint when the layer count in
// config.json disagrees with the tensors, or when layer tensors are not uniform across layers.
Architecture architecture_of(const Checkpoint& checkpoint);

// True when two models can be merged tensor by tensor (same class name and same weight names).
bool compatible(const Architecture& a, const Architecture& b);

// "model.layers.${layer_index}.mlp.up_proj.weight", 3 -> "model.layers.3.mlp.up_proj.weight"
std::string instantiate(std::string_view name_template, int layer);

// Looks a weight name up in the architecture: is it an embedding, and which names may stand in
// for it when absent. Returns nullptr when the name is not part of the architecture.
const WeightInfo* find_weight(const Architecture& arch, std::string_view template_name);

}  // namespace alloy
