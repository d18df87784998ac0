// Router weights of an assembled MoE, one row per expert and layer, as mergekit-moe computes them
// (spec §9.1): from the base model's hidden states on each expert's prompts (the residual stream
// entering each layer at the last token, or averaged over the tokens), from the prompts' embedding
// rows, or random.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "io/checkpoint.h"
#include "recipe/moe_config.h"

namespace alloy {

struct RouterGates {
  int64_t layers = 0;
  int64_t experts = 0;
  int64_t hidden = 0;
  std::vector<float> values;  // [layers][experts][hidden]

  const float* row(int64_t layer, int64_t expert) const { return values.data() + (layer * experts + expert) * hidden; }
};

// For prompt modes, each expert's vector is mean(positive) - mean(negative), L2-normalised per layer.
// Random modes draw from (seed, expert index). Throws Error naming the expert or the base model.
RouterGates router_gates(const MoeConfig& config, const std::vector<MoeExpert>& experts,
                         std::shared_ptr<const Checkpoint> base, int64_t layers, int64_t hidden, uint64_t seed);

}  // namespace alloy
