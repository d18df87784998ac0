#include "search/search_setup.h"

#include <map>

#include "model/encoder_config.h"
#include "search/recipe_yaml.h"
#include "stats/probe_chunks.h"
#include "stats/probe_kind.h"
#include "stats/probe_pairs.h"
#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;

namespace {

// A relative path that does not exist from the working directory but does beside the recipe is
// made absolute: the tuned recipe is read from elsewhere (OUT/alloy_config.yml).
void anchor(std::string& path, const fs::path& recipe_dir) {
  std::error_code ec;
  if (path.empty() || fs::path(path).is_absolute() || fs::exists(path, ec)) return;
  if (fs::exists(recipe_dir / path, ec)) path = (recipe_dir / path).lexically_normal().string();
}

const InputModel* entry_of(const Recipe& recipe, const ModelRef& ref) {
  for (const InputModel& m : recipe.models)
    if (m.model == ref) return &m;
  return nullptr;
}

}  // namespace

PreparedSearch prepare_search(const fs::path& recipe_path, const SearchSettings& settings, const fs::path& stats_dir) {
  PreparedSearch prepared;
  prepared.recipe = std::make_unique<Recipe>(load_recipe(recipe_path));
  Recipe& recipe = *prepared.recipe;
  if (!recipe.slices.empty() || !recipe.modules.empty())
    fail(recipe.file, ": alloy search tunes `models:` recipes; ", recipe.slices.empty() ? "modules:" : "slices:",
         " recipes are not supported yet");
  const fs::path recipe_dir = fs::absolute(recipe_path).parent_path();
  if (recipe.base_model) anchor(recipe.base_model->path, recipe_dir);
  anchor(recipe.probe.path, recipe_dir);
  for (InputModel& m : recipe.models) {
    anchor(m.model.path, recipe_dir);
    anchor(m.probe.path, recipe_dir);
    anchor(m.fisher.path, recipe_dir);
  }

  PlanOptions popt;
  popt.seed = settings.seed;
  popt.recipe_dir = recipe_dir;
  popt.stats_dir = stats_dir;
  const MergePlan plan = make_plan(parse_recipe(recipe_yaml(recipe), recipe.file), popt);

  SearchContext context(recipe);
  context.recipe_dir = recipe_dir;
  context.plan_options = popt;
  context.models = plan.models;
  context.donor = plan.donor;
  context.settings = settings;
  for (size_t i = 0; i < plan.models.size(); ++i)
    if (recipe.base_model && plan.models[i].ref == *recipe.base_model) context.base = i;
  const Checkpoint& donor = *plan.models[plan.donor].checkpoint;
  if (!donor.has_config()) fail("model '", plan.models[plan.donor].label, "': no config.json, which a search needs to run it");
  try {
    if (is_encoder_config(donor.config()))
      context.encoder = encoder_config_from_json(donor.config(), [&](const std::string& n) { return donor.has(n); });
    else
      context.config = decoder_config_from_json(donor.config(), donor.has("lm_head.weight"));
  } catch (const Error& e) {
    rethrow_with("model '" + plan.models[plan.donor].label + "'", e);
  }

  std::map<fs::path, int> seen;  // canonical probe path -> index
  for (const LoadedModel& m : plan.models) {
    const InputModel* entry = entry_of(recipe, m.ref);
    const DataPath& probe = entry && entry->probe.given() ? entry->probe : recipe.probe;
    if (!probe.given()) {
      context.model_probe.push_back(-1);
      continue;
    }
    std::error_code ec;
    if (!fs::is_regular_file(probe.path, ec))
      fail(recipe.where(probe.loc), ": probe: no text file at ", probe.path,
           " (tried from the working directory and beside the recipe)");
    try {
      check_probe_fits_model(donor.config(), probe.path);
    } catch (const Error& e) {
      rethrow_with(cat(recipe.where(probe.loc), ": model '", plan.models[plan.donor].label, "'"), e);
    }
    const bool pairs = is_pair_probe(probe.path);
    if (pairs && settings.ctx) fail("--ctx cuts probe text; ", probe.path, " holds pairs, grouped by --pair-batch");
    if (!pairs && settings.pair_batch) fail("--pair-batch groups .jsonl probe pairs; ", probe.path, " is text, cut by --ctx");
    const fs::path key = fs::weakly_canonical(probe.path, ec);
    auto [it, added] = seen.emplace(key, static_cast<int>(context.probes.size()));
    if (added && pairs)
      context.probes.push_back({probe.path, probe.path, {},
                                load_probe_pairs(donor.dir(), *context.encoder, probe.path,
                                                 settings.pair_batch ? settings.pair_batch : kDefaultPairBatch, 0)});
    else if (added)
      context.probes.push_back({probe.path, probe.path, load_probe_chunks(donor.dir(), probe.path, settings.ctx.value_or(128), 0), {}});
    context.model_probe.push_back(it->second);
  }
  if (context.probes.empty())
    fail(recipe.file, ": no probe data: a search learns from probe texts, one per domain; add probe: <text file, or "
         ".jsonl pairs for embedding models> to each model entry (or a top-level probe:)");
  prepared.context = std::make_unique<SearchContext>(std::move(context));
  return prepared;
}

}  // namespace alloy
