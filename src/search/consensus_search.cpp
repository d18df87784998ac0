#include "search/consensus_search.h"

#include "model/decoder.h"
#include "search/merge_in_memory.h"
#include "search/recipe_yaml.h"
#include "search/search_objective.h"
#include "search/task_vector_search.h"
#include "util/error.h"

namespace alloy {

std::optional<Sparsification> consensus_sparsification(const std::string& method) {
  if (method == "ties") return Sparsification::Magnitude;
  if (method == "dare_ties") return Sparsification::Random;
  return std::nullopt;
}

ConsensusMerge prepare_consensus_merge(MergePlan plan, const ModelConfig& config, const std::vector<std::string>& labels,
                                       const TensorGroups& groups, Sparsification kind) {
  ConsensusMerge out;
  out.config = config;
  out.models = static_cast<int64_t>(labels.size());
  std::map<std::string, size_t> job_of;
  for (size_t j = 0; j < plan.jobs.size(); ++j) job_of[plan.jobs[j].out.name] = j;
  for (const ExpectedTensor& t : decoder_tensors(config)) {
    const auto it = job_of.find(t.name);
    if (it == job_of.end()) fail("tensor ", t.name, ": the recipe's merge does not make it");
    const TensorJob& job = plan.jobs[it->second];
    if (!job.method || !consensus_sparsification(job.method->name))
      fail("tensor ", t.name, ": merged by ", job.method ? job.method->name : "a copy",
           ", not by a sign-consensus method this search tunes");
    ConsensusMerge::Tensor tensor;
    tensor.job = it->second;
    tensor.group = groups(t.name);
    for (size_t i : job.call.non_base_inputs()) {
      const std::string& label = job.call.inputs[i].label;
      int64_t model = -1;
      for (size_t m = 0; m < labels.size(); ++m)
        if (labels[m] == label) model = static_cast<int64_t>(m);
      if (model < 0) fail(label, ": tensor ", t.name, " has a task vector of a model the search does not tune");
      tensor.inputs.push_back(i);
      tensor.model_of.push_back(model);
    }
    tensor.terms = consensus_terms(job.call, kind);
    out.tensors.emplace(t.name, std::move(tensor));
  }
  out.plan = std::move(plan);
  return out;
}

MemoryWeights consensus_merged_weights(ConsensusMerge& merge, const Coefficients& c) {
  if (c.models != merge.models) fail("coefficients for ", c.models, " models, the search has ", merge.models);
  for (auto& [name, t] : merge.tensors) {
    if (t.group < 0 || t.group >= c.groups) fail("tensor ", name, " is in group ", t.group, ", the coefficients have ", c.groups);
    MergeCall& call = merge.plan.jobs[t.job].call;
    for (size_t k = 0; k < t.inputs.size(); ++k) call.per_model[t.inputs[k]]["weight"] = c.at(t.group, t.model_of[k]);
  }
  return merge_in_memory(merge.plan);
}

ObjectiveAndGradient consensus_objective_and_gradient(ConsensusMerge& merge, const Coefficients& c,
                                                      const std::vector<ProbeSet>& sets) {
  const MemoryWeights weights = consensus_merged_weights(merge, c);
  const DecoderLM<float> model(merge.config, weights);
  ObjectiveAndGradient out;
  out.gradient = Coefficients(c.groups, c.models, 0.0);
  std::vector<double> w, dw;
  ScaledGradSink<float> sink = [&](const std::string& name, std::span<const float> grad, double scale) {
    const ConsensusMerge::Tensor& t = merge.tensors.at(name);
    w.resize(t.model_of.size());
    dw.assign(t.model_of.size(), 0.0);
    for (size_t k = 0; k < w.size(); ++k) w[k] = c.at(t.group, t.model_of[k]);
    add_consensus_weight_gradient(t.terms, w, grad, scale, dw);
    for (size_t k = 0; k < w.size(); ++k) out.gradient.at(t.group, t.model_of[k]) += dw[k];
  };
  out.objective = probe_objective_and_gradient(model, sets, sink);
  return out;
}

SearchResult run_consensus_per_layer(const SearchContext& context, const std::string& strategy,
                                     const TensorGrouping& grouping, int default_steps) {
  const Recipe& recipe = context.recipe;
  const std::optional<Sparsification> kind = consensus_sparsification(recipe.merge_method);
  if (!kind) fail(recipe.where(recipe.merge_method_loc), ": merge_method ", recipe.merge_method, " is not ties or dare_ties");
  const TunedModels tuned = tuned_models(context, strategy);
  // The recipe as the search writes it back (no probe keys), planned once: its masks, its
  // densities and every other parameter stay; only the weights change between evaluations.
  const Recipe written = parse_recipe(recipe_yaml(recipe), recipe.file);
  ConsensusMerge merge = prepare_consensus_merge(make_plan(written, context.plan_options), context.config,
                                                 tuned.labels, grouping.group_of, *kind);
  const int64_t n = merge.models;
  Coefficients start(grouping.count, n, 0.0);
  for (int64_t g = 0; g < start.groups; ++g)
    for (int64_t i = 0; i < n; ++i) start.at(g, i) = tuned.weights[static_cast<size_t>(i)];
  GradientSearchSettings settings;
  settings.steps = context.settings.steps > 0 ? context.settings.steps : default_steps;
  settings.seed = context.settings.seed;
  report_progress_to(context, settings);
  const SearchTrace trace = adam_search(
      start.c,
      [&](const std::vector<double>& p, const std::vector<ProbeSet>& batch, std::vector<double>& grad) {
        Coefficients at = start;
        at.c = p;
        ObjectiveAndGradient og = consensus_objective_and_gradient(merge, at, batch);
        grad = std::move(og.gradient.c);
        return og.objective;
      },
      [](std::vector<double>&) {}, context.probes, settings);
  Coefficients found = start;
  found.c = trace.params;
  std::vector<std::string> tensors;
  for (const auto& [name, t] : merge.tensors) tensors.push_back(name);
  const std::vector<bool> used = groups_in_use(grouping, tensors);
  nlohmann::json coefficients = nlohmann::json::object();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t g = 0; g < found.groups; ++g)
      if (used[static_cast<size_t>(g)])
        coefficients[tuned.labels[static_cast<size_t>(i)]][grouping.names[static_cast<size_t>(g)]] = found.at(g, i);
  Recipe tuned_recipe = recipe;
  set_tuned_weights(tuned_recipe, tuned.entries, found, &grouping, tensors);
  return tuned_recipe_result(context, recipe_yaml(tuned_recipe), trace.losses, std::move(coefficients));
}

}  // namespace alloy
