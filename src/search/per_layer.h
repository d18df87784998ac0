// Per-layer coefficients (AdaMerging's layer-wise variant, on probe loss): task_arithmetic with one
// weight per (tensor group, model), θ_t = θ₀_t + Σ_i λ_{g(t),i} τ_{i,t}, tuned by Adam. The groups
// (tensor_grouping.h) are the embedding, each block, the final norm and lm_head (`per-layer`), or
// each block split into attention, MLP and norms (`per-layer-kind`).
#pragma once
#include <optional>
#include <vector>

#include "search/gradient_search.h"
#include "search/merge_gradient.h"
#include "search/strategy.h"
#include "search/tensor_grouping.h"

namespace alloy {

struct PerLayerSettings {
  GradientSearchSettings search;
  std::vector<double> start_weights;  // one per model, every group; empty: 1/n each (the plain average)
  std::optional<TensorGrouping> grouping;  // empty: groups_by_layer
};

struct PerLayerResult {
  Coefficients weights;  // one group per group of the grouping
  double loss = 0;
  std::vector<double> losses;
};

PerLayerResult per_layer_search(const MergeInputs& inputs, const std::vector<ProbeSet>& sets,
                                const PerLayerSettings& settings);

// The `per-layer` and `per-layer-kind` strategies of alloy search: every group starts at the
// recipe's weight of each model (times lambda); the result is written as per-model
// {filter, value} weight lists. A ties or dare_ties recipe goes to run_consensus_per_layer
// (consensus_search.h); any other method but task_arithmetic is refused.
SearchResult run_per_layer(const SearchContext& context);
SearchResult run_per_layer_kind(const SearchContext& context);

}  // namespace alloy
