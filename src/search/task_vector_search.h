// What the two gradient strategies (self-positioning, per-layer) share around their searches:
// reading a task_arithmetic recipe's base, fine-tunes and starting weights out of the search
// context, and writing the tuned weights back as a task_arithmetic recipe that `alloy merge`
// reproduces, whose probe objective is the result's final loss.
#pragma once
#include <string>
#include <vector>

#include "search/gradient_search.h"
#include "search/merge_gradient.h"
#include "search/strategy.h"
#include "search/tensor_grouping.h"

namespace alloy {

// The recipe's fine-tunes (every model but the base) and their weights as the recipe gives them.
struct TunedModels {
  std::vector<size_t> entries;      // per fine-tune: its index in recipe.models
  std::vector<std::string> labels;  // per fine-tune: as the recipe names it (LoadedModel::label)
  std::vector<double> weights;      // per fine-tune: its numeric `weight`
};

// Throws Error naming the recipe key when the recipe has no base_model or a model without a numeric
// weight, or when --tune is given (these strategies tune the weights themselves).
TunedModels tuned_models(const SearchContext& context, const std::string& strategy);

struct TaskVectorSearch {
  MergeInputs inputs;
  std::vector<size_t> entries;  // per fine-tune: its index in recipe.models
  std::vector<double> start;    // per fine-tune: lambda · weight (÷ Σ weight with normalize)
  GradientSearchSettings settings;
};

// The Adam steps of the gradient strategies (self-positioning, per-layer) without --steps.
inline constexpr int kDefaultGradientSteps = 30;

// Throws Error naming the recipe key when the recipe is not a task_arithmetic merge, or for what
// tuned_models refuses. `default_steps` applies when --steps is not given.
TaskVectorSearch prepare_task_vector_search(const SearchContext& context, const std::string& strategy,
                                            int default_steps);

// The recipe with merge_method task_arithmetic, lambda 1, normalize false and each fine-tune's
// weight `weights`: 1 group, a number; more, a {filter, value} list by `grouping`, one entry per
// filter of every group that holds a tensor.
std::string tuned_task_arithmetic_yaml(const SearchContext& context, const TaskVectorSearch& search,
                                       const Coefficients& weights, const TensorGrouping* grouping = nullptr);

// Sets the weight of each fine-tune `entries[i]` of `recipe` to `weights`' column i, as
// tuned_task_arithmetic_yaml writes it; its other parameters stay.
void set_tuned_weights(Recipe& recipe, const std::vector<size_t>& entries, const Coefficients& weights,
                       const TensorGrouping* grouping, const std::vector<std::string>& tensors);

// The result: the tuned recipe, its steps, and as final loss the probe objective of the model that
// recipe merges (merged in memory by the ordinary method kernels, not from `weights` directly).
SearchResult tuned_task_arithmetic_result(const SearchContext& context, const TaskVectorSearch& search,
                                          const Coefficients& weights, const std::vector<double>& losses,
                                          nlohmann::json coefficients, const TensorGrouping* grouping = nullptr);
SearchResult tuned_recipe_result(const SearchContext& context, std::string yaml, const std::vector<double>& losses,
                                 nlohmann::json coefficients);

// Sends each step's loss to the context's progress callback.
void report_progress_to(const SearchContext& context, GradientSearchSettings& settings);

}  // namespace alloy
