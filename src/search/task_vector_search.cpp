#include "search/task_vector_search.h"

#include "model/weight_source.h"
#include "search/merge_in_memory.h"
#include "search/recipe_yaml.h"
#include "search/search_objective.h"
#include "util/error.h"

namespace alloy {

TaskVectorSearch prepare_task_vector_search(const SearchContext& context, const std::string& strategy,
                                            int default_steps) {
  const Recipe& recipe = context.recipe;
  if (recipe.merge_method != "task_arithmetic")
    fail(recipe.where(recipe.merge_method_loc), ": merge_method: --strategy ", strategy,
         " tunes task_arithmetic recipes (TIES and other sparsifying methods are not supported yet); this one is ",
         recipe.merge_method);
  if (!context.base) fail(recipe.file, ": --strategy ", strategy, " needs a base_model: it tunes task vectors θ_i − θ₀");
  if (!context.settings.tune.empty())
    fail("--tune: --strategy ", strategy, " tunes every model's weight itself and takes no --tune list");
  const std::optional<double> lambda = resolve_parameter(recipe, nullptr, nullptr, "lambda", "", 0.0);
  const bool normalize = resolve_parameter(recipe, nullptr, nullptr, "normalize", "", 0.0).value_or(0.0) != 0.0;
  const LoadedModel& base = context.models[*context.base];
  TaskVectorSearch out;
  CheckpointWeights base_weights(base.checkpoint);
  std::vector<CheckpointWeights> sources;
  std::vector<std::string> labels;
  std::vector<double> weights;
  for (size_t e = 0; e < recipe.models.size(); ++e) {
    const InputModel& m = recipe.models[e];
    if (m.model == base.ref) continue;  // its task vector is zero
    const std::optional<double> w = resolve_parameter(recipe, nullptr, &m.model, "weight", "", 0.0);
    if (!w)
      fail(recipe.where(m.loc), ": model ", m.model.str(), ": --strategy ", strategy,
           " starts from each model's weight; give it weight: <number>");
    for (const LoadedModel& lm : context.models)
      if (lm.ref == m.model) sources.emplace_back(lm.checkpoint), labels.push_back(lm.label);
    out.entries.push_back(e);
    weights.push_back(*w);
  }
  double sum = 0;
  for (double w : weights) sum += w;
  for (double w : weights) out.start.push_back(lambda.value_or(1.0) * w / (normalize && sum != 0 ? sum : 1.0));
  std::vector<const WeightSource*> pointers;
  for (const CheckpointWeights& s : sources) pointers.push_back(&s);
  out.inputs = load_merge_inputs(context.config, base_weights, pointers, labels);
  out.settings.steps = context.settings.steps > 0 ? context.settings.steps : default_steps;
  out.settings.seed = context.settings.seed;
  return out;
}

std::string tuned_task_arithmetic_yaml(const SearchContext& context, const TaskVectorSearch& search,
                                       const Coefficients& weights, const TensorGrouping* grouping) {
  Recipe tuned = context.recipe;
  tuned.merge_method = "task_arithmetic";
  tuned.parameters.clear();
  tuned.parameters["lambda"] = ParamValue::constant(1.0);
  tuned.parameters["normalize"] = ParamValue::constant(0.0);
  if (weights.groups > 1 && (!grouping || grouping->count != weights.groups))
    fail("tuned_task_arithmetic_yaml: ", weights.groups, " coefficient groups without their grouping");
  const std::vector<bool> used =
      weights.groups > 1 ? groups_in_use(*grouping, search.inputs.tensors) : std::vector<bool>{true};
  for (size_t i = 0; i < search.entries.size(); ++i) {
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
    tuned.models[search.entries[i]].parameters = {{"weight", w}};
  }
  return recipe_yaml(tuned);
}

SearchResult tuned_task_arithmetic_result(const SearchContext& context, const TaskVectorSearch& search,
                                          const Coefficients& weights, const std::vector<double>& losses,
                                          nlohmann::json coefficients, const TensorGrouping* grouping) {
  SearchResult r;
  r.recipe_yaml = tuned_task_arithmetic_yaml(context, search, weights, grouping);
  for (size_t s = 0; s < losses.size(); ++s) r.steps.push_back({static_cast<int>(s), losses[s], ""});
  const MemoryWeights merged = merge_recipe_in_memory(r.recipe_yaml, context.recipe.file, context.plan_options);
  r.final_loss = probe_objective(context.config, merged, context.probes);
  r.coefficients = std::move(coefficients);
  return r;
}

void report_progress_to(const SearchContext& context, GradientSearchSettings& settings) {
  if (!context.progress) return;
  settings.progress = [&context](int step, double loss) { context.progress({step, loss, ""}); };
}

}  // namespace alloy
