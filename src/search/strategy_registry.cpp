// The table of search strategies: one row per strategy (strategy.h says how one plugs in).
#include "search/derivative_free.h"
#include "search/greedy_soup.h"
#include "search/per_layer.h"
#include "search/self_positioning.h"
#include "search/strategy.h"

namespace alloy {

const std::vector<StrategySpec>& strategy_registry() {
  static const std::vector<StrategySpec> strategies = {
      {"greedy-soup",
       "rank the models by their own probe loss; add each, best first, to a uniform soup only if the soup's probe "
       "loss improves",
       run_greedy_soup},
      {"derivative-free",
       "Nelder-Mead over the method's numeric parameters (--tune), everything else as the recipe says",
       run_derivative_free},
      {"self-positioning",
       "Adam on (positions a, norm scale lambda) of theta0 + lambda * iterative-SLERP(task vectors; a), gradient "
       "through the merge; written as task_arithmetic weights",
       run_self_positioning, /*takes_mu=*/true},
      {"per-layer",
       "Adam on one weight per (layer group, model) of a task_arithmetic, ties or dare_ties recipe (AdaMerging-style), "
       "gradient through the merge; written as per-layer filter lists",
       run_per_layer},
      {"per-layer-kind",
       "as per-layer, with each block split into its attention, MLP and norms: one weight per (block, tensor kind, "
       "model)",
       run_per_layer_kind},
  };
  return strategies;
}

const StrategySpec* find_strategy(const std::string& name) {
  for (const StrategySpec& s : strategy_registry())
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace alloy
