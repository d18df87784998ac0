// Architecture: which tensors a model has, grouped as pre-layer, per-layer templates and
// post-layer weights; the config.json key holding the layer count; which weights are embeddings
// and which names are tied. Built from a description in data/architectures/ when one fits the
// config's class name, otherwise inferred from tensor names.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/checkpoint.h"
#include "tensor/dtype.h"

namespace alloy {

inline constexpr std::string_view kLayerIndex = "${layer_index}";
inline constexpr std::string_view kExpertIndex = "${expert_index}";

struct WeightInfo {
  std::string name;                     // for layer weights, a template containing ${layer_index}
  bool is_embed = false;                // token embedding or LM head (vocabulary rows)
  bool optional = false;                // may be absent (e.g. an untied lm_head)
  std::vector<std::string> tied_names;  // loaded from these when absent (lm_head <- embed_tokens)
  std::vector<std::string> aliases;     // other spellings of the same tensor (LayerNorm.gamma)
  std::optional<DType> force_dtype;     // loaded and saved in this dtype (int64 position_ids)
  // A layer weight only some layers have (DeepSeek-V3's dense first layers, T5's relative
  // attention bias): only layers below, or from, a bound on. The bound is a dotted config.json
  // key or a decimal number; empty = no bound. Such a weight is optional for the planner.
  std::string layers_below, layers_from;
};

struct ArchModule;

struct Architecture {
  std::string name;          // config.json architectures[0], or "unknown"
  std::string model_type;    // config.json model_type, may be empty
  std::string layer_prefix;  // "model.layers." ; the layer index follows it
  std::string num_layers_key;  // dotted config.json key ("num_hidden_layers", "n_layer"); may be empty
  std::string vocab_size_key = "vocab_size";  // dotted config.json key of the vocabulary size
  int num_layers = 0;
  std::string num_experts_key;  // dotted config.json key of the routed-expert count; empty if not MoE
  int num_experts = 0;          // its value, 0 when there is none
  std::vector<WeightInfo> pre_weights;    // before the first layer, e.g. embeddings
  std::vector<WeightInfo> layer_weights;  // templates, e.g. "model.layers.${layer_index}.mlp.up_proj.weight"
  std::vector<WeightInfo> post_weights;   // after the last layer, e.g. final norm, lm_head
  bool inferred = false;                  // true when no description matched
  std::string description;                // "llama.json" when a description matched, else empty
  // A modular description (text + vision models): every module on its own, in the description's
  // order. The sections above then hold every tensor once: the module with the token embedding
  // (the text decoder) as its own, the other modules' tensors as loose pre- and post-weights.
  std::vector<ArchModule> modules;
  std::vector<std::string> tagalong_files;  // files copied from the donor model into the output
};

// One module of a multi-module model: its tensors (full names), layers and layer-count key.
struct ArchModule {
  std::string name;           // "text_decoder", "vision_tower"
  std::string weight_prefix;  // "language_model."
  Architecture arch;
};

// Describes one checkpoint. Tensor names always come from the checkpoint; a description matching
// the config's class name adds metadata (embeddings, tied names, optional weights, dtypes, the
// layer-count key) and weights it declares optional. Throws Error naming the checkpoint when
// config.json lists more than one class, when its layer count disagrees with the tensors, when
// layer tensors are not uniform across layers, when a weight the description requires is missing,
// or (modular descriptions) when a tensor belongs to none of the modules.
Architecture architecture_of(const Checkpoint& checkpoint);

// True when two models can be merged tensor by tensor: same class name (unless one is
// "unknown"), same layer prefix, and the same pre/layer/post weight names, where a weight that
// is optional in either model need not be in both.
bool compatible(const Architecture& a, const Architecture& b);

// The first difference between two architectures, worded with the models' labels ("models/b has
// 'model.layers.N.mlp.w3.weight' which models/a lacks"); nullopt when compatible(a, b).
std::optional<std::string> architecture_difference(const std::string& label_a, const Architecture& a,
                                                   const std::string& label_b, const Architecture& b);

// Checks every model against the first one. Unless allow_crimes, throws Error naming the two
// models and their first difference, and pointing at --allow-crimes.
void check_compatible(const std::vector<std::pair<std::string /*model label*/, Architecture>>& models,
                      bool allow_crimes);

// "model.layers.${layer_index}.mlp.up_proj.weight", 3 -> "model.layers.3.mlp.up_proj.weight"
std::string instantiate(std::string_view name_template, int layer);

// "model.layers.3.mlp.up_proj.weight" -> ("model.layers.${layer_index}.mlp.up_proj.weight", 3)
// when that template (or an alias of it) is one of arch's layer weights; the canonical template
// is returned. nullopt otherwise.
std::optional<std::pair<std::string, int>> split_layer_name(const Architecture& arch,
                                                            std::string_view tensor_name);

// Looks a weight up by a concrete tensor name or a template, matching names and aliases: is it an
// embedding, and which names may stand in for it when absent. nullptr when the name is not part
// of the architecture.
const WeightInfo* find_weight(const Architecture& arch, std::string_view template_name);

}  // namespace alloy
