#include "search/derivative_free.h"

#include <cstdio>

#include "search/merge_in_memory.h"
#include "search/nelder_mead.h"
#include "search/recipe_yaml.h"
#include "search/search_objective.h"
#include "search/search_space.h"

namespace alloy {

namespace {

std::string point_text(const std::vector<TunedParameter>& space, std::span<const double> x) {
  std::string text;
  for (size_t i = 0; i < x.size(); ++i) text += (i ? " " : "") + space[i].label + "=" + yaml_number(x[i]);
  return text;
}

}  // namespace

SearchResult run_derivative_free(const SearchContext& ctx) {
  const std::vector<TunedParameter> space = search_space(ctx.recipe, ctx.settings.tune);
  const size_t n = space.size();
  NelderMeadOptions options;
  std::vector<double> x0;
  for (const TunedParameter& p : space) {
    options.lower.push_back(p.lower);
    options.upper.push_back(p.upper);
    options.step.push_back(0.25 * (p.upper - p.lower));
    x0.push_back(p.start);
  }
  options.max_evaluations = ctx.settings.steps > 0 ? ctx.settings.steps : static_cast<int>(30 + 20 * n);

  SearchResult result;
  auto objective = [&](std::span<const double> x, const std::string& move) {
    const std::string yaml = recipe_yaml(recipe_at(ctx.recipe, space, x));
    const double loss = search_objective(ctx, merge_recipe_in_memory(yaml, "search point", ctx.plan_options));
    result.steps.push_back({static_cast<int>(result.steps.size()) + 1, loss, move + " " + point_text(space, x)});
    if (ctx.progress) ctx.progress(result.steps.back());
    return loss;
  };
  const NelderMeadResult best = nelder_mead(objective, x0, options);

  result.recipe_yaml = recipe_yaml(recipe_at(ctx.recipe, space, best.x));
  result.final_loss = best.value;
  result.coefficients = nlohmann::json::object();
  for (size_t i = 0; i < n; ++i) result.coefficients[space[i].label] = best.x[i];
  nlohmann::json ranges = nlohmann::json::array();
  for (const TunedParameter& p : space) ranges.push_back({{"parameter", p.label}, {"low", p.lower}, {"high", p.upper}, {"start", p.start}});
  result.details = {{"optimizer", "nelder-mead"}, {"evaluations", best.evaluations}, {"search_space", ranges}};
  return result;
}

}  // namespace alloy
