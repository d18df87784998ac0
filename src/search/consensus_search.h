// Per-layer weights for the sign-consensus merges, `ties` and `dare_ties` (AdaMerging-style, as
// per_layer.h does for task_arithmetic): one weight per (tensor group, model), tuned by Adam on the
// probe objective. Each evaluation merges with the method's own kernels (the recipe's plan with
// each tensor's weights replaced), so the search sees exactly what `alloy merge` makes of the
// tuned recipe; the gradient flows through the merge by consensus_gradient.h, the sparsification
// masks held fixed (they do not depend on the weights: top-k by |δ|, or DARE's draw from --seed).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "methods/blocks/sparsify.h"
#include "search/consensus_gradient.h"
#include "search/merge_gradient.h"
#include "search/strategy.h"
#include "search/tensor_grouping.h"

namespace alloy {

// The sparsification of a method whose per-layer weights this search tunes (ties: magnitude,
// dare_ties: random); nullopt for any other method.
std::optional<Sparsification> consensus_sparsification(const std::string& method);

// A plan of a ties or dare_ties recipe, and per decoder tensor the fixed part of its merge.
struct ConsensusMerge {
  MergePlan plan;  // the weights of its jobs are set anew for each evaluation
  struct Tensor {
    size_t job = 0;                  // in plan.jobs
    int group = 0;                   // coefficient group
    std::vector<size_t> inputs;      // per task vector (call order): its input index in the job's call
    std::vector<int64_t> model_of;   // per task vector: the search's model index
    ConsensusTerms terms;
  };
  std::map<std::string, Tensor> tensors;  // the decoder tensors of `config`, by name
  ModelConfig config;
  int64_t models = 0;
};

// `labels[m]` is the search's model m as the plan labels it. Throws Error naming the tensor when a
// decoder tensor is missing from the plan or merged by another method, and the model when a
// task vector belongs to no model of `labels`.
ConsensusMerge prepare_consensus_merge(MergePlan plan, const ModelConfig& config, const std::vector<std::string>& labels,
                                       const TensorGroups& groups, Sparsification kind);

// The merged decoder tensors at `c`, by the method's kernels, rounded to the output dtype.
MemoryWeights consensus_merged_weights(ConsensusMerge& merge, const Coefficients& c);

ObjectiveAndGradient consensus_objective_and_gradient(ConsensusMerge& merge, const Coefficients& c,
                                                      const std::vector<ProbeSet>& sets);

// `alloy search --strategy per-layer|per-layer-kind` on a ties or dare_ties recipe: every group
// starts at the recipe's weight of each model; the tuned recipe is the given one with each
// fine-tune's weight a {filter, value} list (method, lambda, normalize, density unchanged).
// `default_steps` applies when --steps is not given.
SearchResult run_consensus_per_layer(const SearchContext& context, const std::string& strategy,
                                     const TensorGrouping& grouping, int default_steps);

}  // namespace alloy
