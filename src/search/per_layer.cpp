#include "search/per_layer.h"

#include "search/consensus_search.h"
#include "search/encoder_grouping.h"
#include "search/task_vector_search.h"
#include "util/error.h"

namespace alloy {

PerLayerResult per_layer_search(const MergeInputs& inputs, const std::vector<ProbeSet>& sets,
                                const PerLayerSettings& settings) {
  const int64_t n = static_cast<int64_t>(inputs.models.size());
  const TensorGrouping grouping = settings.grouping ? *settings.grouping : groups_by_layer(inputs.config.num_layers);
  std::vector<double> start = settings.start_weights;
  if (start.empty()) start.assign(static_cast<size_t>(n), 1.0 / static_cast<double>(n));
  if (static_cast<int64_t>(start.size()) != n) fail("per-layer search: ", start.size(), " start weights for ", n, " models");
  Coefficients c(grouping.count, n, 0.0);
  for (int64_t g = 0; g < c.groups; ++g)
    for (int64_t i = 0; i < n; ++i) c.at(g, i) = start[static_cast<size_t>(i)];
  const SearchTrace trace = adam_search(
      c.c,
      [&](const std::vector<double>& p, const std::vector<ProbeSet>& batch, std::vector<double>& grad) {
        Coefficients at = c;
        at.c = p;
        ObjectiveAndGradient og = merge_objective_and_gradient(inputs, at, grouping.group_of, batch);
        grad = std::move(og.gradient.c);
        return og.objective;
      },
      [](std::vector<double>&) {}, sets, settings.search);
  PerLayerResult out;
  out.weights = c;
  out.weights.c = trace.params;
  out.loss = trace.loss;
  out.losses = trace.losses;
  return out;
}

namespace {

SearchResult run_grouped(const SearchContext& context, const std::string& strategy, const TensorGrouping& grouping) {
  const Recipe& recipe = context.recipe;
  if (consensus_sparsification(recipe.merge_method) && context.encoder)
    fail(recipe.where(recipe.merge_method_loc), ": merge_method: --strategy ", strategy, " tunes ",
         recipe.merge_method, " recipes of decoder language models; for embedding encoders it tunes task_arithmetic");
  if (consensus_sparsification(recipe.merge_method))
    return run_consensus_per_layer(context, strategy, grouping, kDefaultGradientSteps);
  if (recipe.merge_method != "task_arithmetic")
    fail(recipe.where(recipe.merge_method_loc), ": merge_method: --strategy ", strategy,
         " tunes task_arithmetic, ties and dare_ties recipes; ", recipe.merge_method,
         " is not supported (--strategy derivative-free tunes the weights of any method)");
  TaskVectorSearch search = prepare_task_vector_search(context, strategy, kDefaultGradientSteps);
  PerLayerSettings settings;
  settings.search = search.settings;
  report_progress_to(context, settings.search);
  settings.start_weights = search.start;
  settings.grouping = grouping;
  const PerLayerResult r = per_layer_search(search.inputs, context.probes, settings);
  const std::vector<bool> used = groups_in_use(grouping, search.inputs.tensors);
  nlohmann::json coefficients = nlohmann::json::object();
  for (size_t i = 0; i < search.inputs.labels.size(); ++i)
    for (int64_t g = 0; g < r.weights.groups; ++g)
      if (used[static_cast<size_t>(g)])
        coefficients[search.inputs.labels[i]][grouping.names[static_cast<size_t>(g)]] =
            r.weights.at(g, static_cast<int64_t>(i));
  return tuned_task_arithmetic_result(context, search, r.weights, r.losses, std::move(coefficients), &grouping);
}

}  // namespace

SearchResult run_per_layer(const SearchContext& context) {
  return run_grouped(context, "per-layer", context.encoder ? encoder_groups_by_layer(*context.encoder)
                                                           : groups_by_layer(context.config.num_layers));
}

SearchResult run_per_layer_kind(const SearchContext& context) {
  return run_grouped(context, "per-layer-kind", context.encoder ? encoder_groups_by_layer_and_kind(*context.encoder)
                                                                : groups_by_layer_and_kind(context.config.num_layers));
}

}  // namespace alloy
