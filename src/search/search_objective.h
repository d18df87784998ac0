// The objective every search minimises: the mean over the recipe's probe sets (one per domain) of
// the mean next-token NLL per token on that set. It is the log of the geometric mean of the probe
// perplexities, the quantity the testbed's figure of merit (a geometric mean of perplexity ratios)
// ranks merges by. For embedding encoders, whose probes are .jsonl query/positive pairs, the loss
// of a set is instead its mean InfoNCE loss per pair (in-batch negatives, the set's batches).
#pragma once
#include <string>
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

// Mean InfoNCE loss per pair of each probe set's pairs, in order.
std::vector<double> pair_set_losses(const EncoderConfig& config, const WeightSource& weights,
                                    const std::vector<ProbeSet>& probes);
// Their mean. Throws Error when there is no probe set.
double pair_objective(const EncoderConfig& config, const WeightSource& weights, const std::vector<ProbeSet>& probes);

// The objective of the context's probes at `weights`: probe_objective for a decoder,
// pair_objective for an embedding encoder.
double search_objective(const SearchContext& context, const WeightSource& weights);
// What search_objective measures, in words (the report's "objective").
std::string search_objective_text(const SearchContext& context);

}  // namespace alloy
