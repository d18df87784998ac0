#include "search/greedy_soup.h"

#include <algorithm>
#include <numeric>

#include "methods/method.h"
#include "search/merge_in_memory.h"
#include "search/recipe_yaml.h"
#include "search/search_objective.h"
#include "util/error.h"

namespace alloy {

namespace {

// The recipe with only the kept candidates (and every non-candidate entry), each kept one at
// weight 1 where the method has per-model weights: the uniform soup.
Recipe soup_recipe(const Recipe& recipe, const std::vector<size_t>& candidates, const std::vector<bool>& kept) {
  const MethodSpec* method = find_method(recipe.merge_method);
  const bool weighted =
      method && std::any_of(method->model_params.begin(), method->model_params.end(),
                            [](const ParamSpec& p) { return p.name == "weight"; });
  Recipe soup = recipe;
  soup.models.clear();
  for (size_t e = 0; e < recipe.models.size(); ++e) {
    auto c = std::find(candidates.begin(), candidates.end(), e);
    if (c != candidates.end() && !kept[static_cast<size_t>(c - candidates.begin())]) continue;
    InputModel m = recipe.models[e];
    if (c != candidates.end() && weighted) m.parameters["weight"] = ParamValue::constant(1.0);
    soup.models.push_back(std::move(m));
  }
  return soup;
}

}  // namespace

SearchResult run_greedy_soup(const SearchContext& ctx) {
  const Recipe& recipe = ctx.recipe;
  if (ctx.settings.steps != 0)
    fail("--steps: greedy-soup tries each model once and takes no step budget; leave --steps out");
  if (!ctx.settings.tune.empty())
    fail("--tune: greedy-soup searches which models to keep, not parameters; use --strategy derivative-free");
  // Candidates: the models: entries other than the base model, in recipe order.
  std::vector<size_t> candidates;
  for (size_t e = 0; e < recipe.models.size(); ++e)
    if (!recipe.base_model || !(recipe.models[e].model == *recipe.base_model)) candidates.push_back(e);
  if (candidates.size() < 2) fail(recipe.file, ": greedy-soup needs at least two candidate models (models: entries "
                                  "other than the base model)");
  auto loaded = [&](size_t entry) -> const LoadedModel& {
    for (const LoadedModel& m : ctx.models)
      if (m.ref == recipe.models[entry].model) return m;
    fail("model '", recipe.models[entry].model.str(), "' was not opened");  // make_plan opens every model
  };

  SearchResult result;
  auto record = [&](double loss, std::string note) {
    result.steps.push_back({static_cast<int>(result.steps.size()) + 1, loss, std::move(note)});
    if (ctx.progress) ctx.progress(result.steps.back());
  };

  // 1. Each candidate alone, by its own weights.
  std::vector<double> own(candidates.size());
  nlohmann::json ranking = nlohmann::json::array();
  for (size_t c = 0; c < candidates.size(); ++c) {
    const LoadedModel& m = loaded(candidates[c]);
    CheckpointWeights weights(m.checkpoint);
    try {
      own[c] = search_objective(ctx, weights);
    } catch (const Error& e) {
      rethrow_with("model '" + m.label + "'", e);
    }
    record(own[c], m.label + " alone");
  }
  std::vector<size_t> order(candidates.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return own[a] < own[b]; });
  for (size_t c : order) ranking.push_back({{"model", loaded(candidates[c]).label}, {"loss", own[c]}});

  // 2. The soup: the best alone (as the method merges it), then each next one kept only if the
  // soup's objective improves.
  auto soup_loss = [&](const std::vector<bool>& kept) {
    const std::string yaml = recipe_yaml(soup_recipe(recipe, candidates, kept));
    return search_objective(ctx, merge_recipe_in_memory(yaml, "greedy soup", ctx.plan_options));
  };
  std::vector<bool> kept(candidates.size(), false);
  kept[order[0]] = true;
  double best = soup_loss(kept);
  record(best, "soup = " + loaded(candidates[order[0]]).label);
  nlohmann::json trials = nlohmann::json::array();
  trials.push_back({{"model", loaded(candidates[order[0]]).label}, {"loss", best}, {"kept", true}});
  for (size_t k = 1; k < order.size(); ++k) {
    kept[order[k]] = true;
    const double loss = soup_loss(kept);
    const bool keep = loss < best;
    if (keep) best = loss;
    else kept[order[k]] = false;
    const std::string& label = loaded(candidates[order[k]]).label;
    trials.push_back({{"model", label}, {"loss", loss}, {"kept", keep}});
    record(loss, "add " + label + (keep ? ": kept" : ": left out"));
  }

  result.recipe_yaml = recipe_yaml(soup_recipe(recipe, candidates, kept));
  result.final_loss = best;
  result.coefficients = nlohmann::json::object();
  nlohmann::json kept_names = nlohmann::json::array();
  for (size_t c : order) {
    result.coefficients[loaded(candidates[c]).label] = kept[c] ? 1.0 : 0.0;
    if (kept[c]) kept_names.push_back(loaded(candidates[c]).label);
  }
  result.details = {{"ranking", ranking}, {"trials", trials}, {"kept", kept_names}};
  return result;
}

}  // namespace alloy
