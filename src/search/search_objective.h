// The objective every search minimises: the mean over the recipe's probe sets (one per domain) of
// the mean next-token NLL per token on that set. It is the log of the geometric mean of the probe
// perplexities, the quantity the testbed's figure of merit (a geometric mean of perplexity ratios)
// ranks merges by.
#pragma once
#include <vector>

#include "model/model_config.h"
#include "model/weight_source.h"
#include "search/strategy.h"

namespace alloy {

// Mean NLL per scored token of each probe set, in order. Chunks of equal length run together.
std::vector<double> probe_set_losses(const ModelConfig& config, const WeightSource& weights,
                                     const std::vector<ProbeSet>& probes);
// Their mean. Throws Error when there is no probe set.
double probe_objective(const ModelConfig& config, const WeightSource& weights, const std::vector<ProbeSet>& probes);

}  // namespace alloy
