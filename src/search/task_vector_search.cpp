#include "search/task_vector_search.h"

#include "model/weight_source.h"
#include "search/merge_in_memory.h"
#include "search/recipe_yaml.h"
#include "search/search_objective.h"
#include "util/error.h"

namespace alloy {

TunedModels tuned_models(const SearchContext& context, const std::string& strategy) {
  const Recipe& recipe = context.recipe;
  if (!context.base) fail(recipe.file, ": --strategy ", strategy, " needs a base_model: it tunes task vectors θ_i − θ₀");
  if (!context.settings.tune.empty())
    fail("--tune: --strategy ", strategy, " tunes every model's weight itself and takes no --tune list");
  const LoadedModel& base = context.models[*context.base];
  TunedModels out;
  for (size_t e = 0; e < recipe.models.size(); ++e) {
    const InputModel& m = recipe.models[e];
    if (m.model == base.ref) continue;  // its task vector is zero
    const std::optional<double> w = resolve_parameter(recipe, nullptr, &m.model, "weight", "", 0.0);
    if (!w)
      fail(recipe.where(m.loc), ": model ", m.model.str(), ": --strategy ", strategy,
           " starts from each model's weight; give it weight: <number>");
    for (const LoadedModel& lm : context.models)
      if (lm.ref == m.model) out.labels.push_back(lm.label);
    out.entries.push_back(e);
    out.weights.push_back(*w);
  }
  return out;
}

TaskVectorSearch prepare_task_vector_search(const SearchContext& context, const std::string& strategy,
                                            int default_steps) {
  const Recipe& recipe = context.recipe;
  if (recipe.merge_method != "task_arithmetic")
    fail(recipe.where(recipe.merge_method_loc), ": merge_method: --strategy ", strategy,
         " tunes task_arithmetic recipes (ties and dare_ties: --strategy per-layer or per-layer-kind); this one is ",
         recipe.merge_method);
  const TunedModels tuned = tuned_models(context, strategy);
  const std::optional<double> lambda = resolve_parameter(recipe, nullptr, nullptr, "lambda", "", 0.0);
  const bool normalize = resolve_parameter(recipe, nullptr, nullptr, "normalize", "", 0.0).value_or(0.0) != 0.0;
  TaskVectorSearch out;
  out.entries = tuned.entries;
  CheckpointWeights base_weights(context.models[*context.base].checkpoint);
  std::vector<CheckpointWeights> sources;
  for (const std::string& label : tuned.labels)
    for (const LoadedModel& lm : context.models)
      if (lm.label == label) sources.emplace_back(lm.checkpoint);
  double sum = 0;
  for (double w : tuned.weights) sum += w;
  for (double w : tuned.weights) out.start.push_back(lambda.value_or(1.0) * w / (normalize && sum != 0 ? sum : 1.0));
  std::vector<const WeightSource*> pointers;
  for (const CheckpointWeights& s : sources) pointers.push_back(&s);
  out.inputs = context.encoder ? load_merge_inputs(*context.encoder, base_weights, pointers, tuned.labels)
                               : load_merge_inputs(context.config, base_weights, pointers, tuned.labels);
  out.settings.steps = context.settings.steps > 0 ? context.settings.steps : default_steps;
  out.settings.seed = context.settings.seed;
  return out;
}

void set_tuned_weights(Recipe& recipe, const std::vector<size_t>& entries, const Coefficients& weights,
                       const TensorGrouping* grouping, const std::vector<std::string>& tensors) {
  if (weights.groups > 1 && (!grouping || grouping->count != weights.groups))
    fail("set_tuned_weights: ", weights.groups, " coefficient groups without their grouping");
  const std::vector<bool> used = weights.groups > 1 ? groups_in_use(*grouping, tensors) : std::vector<bool>{true};
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto m = static_cast<int64_t>(i);
    ParamValue w = ParamValue::constant(weights.at(0, m));
    if (weights.groups > 1) {
      w.kind = ParamValue::Kind::Conditional;
      for (int64_t g = 0; g < weights.groups; ++g) {
        if (!used[static_cast<size_t>(g)]) continue;  // e.g. lm_head of a model with tied embeddings
        for (const std::string& filter : grouping->filters[static_cast<size_t>(g)])
          w.conditions.push_back({filter, ParamValue::constant(weights.at(g, m))});
      }
    }
    recipe.models[entries[i]].parameters["weight"] = w;
  }
}

std::string tuned_task_arithmetic_yaml(const SearchContext& context, const TaskVectorSearch& search,
                                       const Coefficients& weights, const TensorGrouping* grouping) {
  Recipe tuned = context.recipe;
  tuned.merge_method = "task_arithmetic";
  tuned.parameters.clear();
  tuned.parameters["lambda"] = ParamValue::constant(1.0);
  tuned.parameters["normalize"] = ParamValue::constant(0.0);
  for (size_t e : search.entries) tuned.models[e].parameters.clear();
  set_tuned_weights(tuned, search.entries, weights, grouping, search.inputs.tensors);
  return recipe_yaml(tuned);
}

SearchResult tuned_recipe_result(const SearchContext& context, std::string yaml, const std::vector<double>& losses,
                                 nlohmann::json coefficients) {
  SearchResult r;
  r.recipe_yaml = std::move(yaml);
  for (size_t s = 0; s < losses.size(); ++s) r.steps.push_back({static_cast<int>(s), losses[s], ""});
  const MemoryWeights merged = merge_recipe_in_memory(r.recipe_yaml, context.recipe.file, context.plan_options);
  r.final_loss = search_objective(context, merged);
  r.coefficients = std::move(coefficients);
  return r;
}

SearchResult tuned_task_arithmetic_result(const SearchContext& context, const TaskVectorSearch& search,
                                          const Coefficients& weights, const std::vector<double>& losses,
                                          nlohmann::json coefficients, const TensorGrouping* grouping) {
  return tuned_recipe_result(context, tuned_task_arithmetic_yaml(context, search, weights, grouping), losses,
                             std::move(coefficients));
}

void report_progress_to(const SearchContext& context, GradientSearchSettings& settings) {
  if (!context.progress) return;
  settings.progress = [&context](int step, double loss) { context.progress({step, loss, ""}); };
}

}  // namespace alloy
