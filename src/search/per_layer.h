// Per-layer coefficients (AdaMerging's layer-wise variant, on probe loss): task_arithmetic with one
// weight per (layer group, model), θ_t = θ₀_t + Σ_i λ_{g(t),i} τ_{i,t}, the groups being the
// embedding, each block, the final norm and lm_head (merge_gradient.h), tuned by Adam.
#pragma once
#include <vector>

#include "search/gradient_search.h"
#include "search/merge_gradient.h"
#include "search/strategy.h"

namespace alloy {

struct PerLayerSettings {
  GradientSearchSettings search;
  std::vector<double> start_weights;  // one per model, every group; empty: 1/n each (the plain average)
};

struct PerLayerResult {
  Coefficients weights;  // groups = layer_group_count(num_layers)
  double loss = 0;
  std::vector<double> losses;
};

PerLayerResult per_layer_search(const MergeInputs& inputs, const std::vector<ProbeSet>& sets,
                                const PerLayerSettings& settings);

// The `per-layer` strategy of alloy search: starts every group at the recipe's weight of each
// model (times lambda); the result is written as per-model {filter, value} weight lists.
SearchResult run_per_layer(const SearchContext& context);

}  // namespace alloy
