// The statistics of model_statistics.h for an embedding encoder on query/positive probe pairs:
//  gram.<weight>    Σ XᵀX of each linear layer's input over the real tokens of every query and
//                   positive (padding rows excluded)
//  fisher.<weight>  mean over the probe's batches of the squared gradient of that batch's InfoNCE
//                   loss. With in-batch negatives one pair's loss depends on the others of its
//                   batch, so there is no per-example gradient: a batch is the Fisher's sample.
#pragma once
#include <functional>
#include <string>

#include "model/encoder.h"
#include "stats/model_statistics.h"
#include "stats/probe_pairs.h"

namespace alloy {

// `keep`, when given, names the linear weights whose Gram matrices are wanted.
Statistics pair_gram_statistics(const Encoder<float>& model, const PairProbe& probe,
                                const std::function<bool(const std::string&)>& keep = {});
Statistics pair_fisher_statistics(const Encoder<float>& model, const PairProbe& probe);

}  // namespace alloy
