// The gradient of the search objective (search_objective.h: the mean over probe sets of each
// set's mean next-token NLL per scored token) with respect to every weight, streamed tensor by
// tensor from the engine's backward pass: runs of equal-length chunks go through as one batch,
// and each batch's gradient arrives with the factor that makes it that batch's share.
#pragma once
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "model/decoder.h"
#include "model/encoder.h"
#include "search/strategy.h"

namespace alloy {

// The sum over calls of scale · grad, per tensor, is d(objective)/d(weight).
template <class S>
using ScaledGradSink = std::function<void(const std::string& name, std::span<const S> grad, double scale)>;

// Returns the objective at the model's weights. Throws Error naming a probe set that scores no
// token, or when there is no set.
template <class S>
double probe_objective_and_gradient(const DecoderLM<S>& model, const std::vector<ProbeSet>& probes,
                                    const ScaledGradSink<S>& sink);

// The same for an embedding encoder on pair probes: the objective is the mean over the sets of each
// set's mean InfoNCE loss per pair (search_objective.h); each batch's gradient arrives scaled by its
// share, pairs in the batch / pairs in the set / number of sets. Throws Error naming a set with no pair.
template <class S>
double pair_objective_and_gradient(const Encoder<S>& model, const std::vector<ProbeSet>& probes,
                                   const ScaledGradSink<S>& sink);

}  // namespace alloy
