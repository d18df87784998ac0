// Where a tensor belongs in an analysis: its row (before the layers, layer N, after the layers)
// and its kind (the per-layer template without the layer part, "self_attn.q_proj.weight", or the
// whole name of a weight outside the layers). Taken from the model's Architecture, which already
// knows the layer prefix and the per-layer templates.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "arch/architecture.h"

namespace alloy {

struct TensorPlace {
  enum class Section { Pre, Layer, Post };
  Section section = Section::Pre;
  int layer = -1;    // for Section::Layer
  std::string kind;  // "mlp.up_proj.weight", or "model.embed_tokens.weight" outside the layers
};

// A tensor named neither by a layer template nor as a post-layer weight counts as Pre.
TensorPlace place_of(const Architecture& arch, std::string_view tensor_name);

// Every kind of `arch` in module order: pre-layer weights, layer templates, post-layer weights.
std::vector<std::string> kinds_in_order(const Architecture& arch);

}  // namespace alloy
