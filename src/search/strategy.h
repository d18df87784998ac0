// A search strategy: what `alloy search` hands a strategy and what it gives back.
//
// How a strategy plugs in: write `SearchResult run_<name>(const SearchContext&)` in its own file
// under src/search/ and add one row {name, summary, function} to strategy_registry()
// (strategy_registry.cpp). The command (src/cli/search_command.cpp) does everything else: it parses
// the recipe, opens its models, tokenizes every probe file, calls the strategy, merges the tuned
// recipe the strategy returns with the ordinary merge (run_merge, so `alloy merge` on
// OUT/alloy_config.yml gives the same bytes) and writes OUT/search_report.json from the result.
// A strategy reads probe data only (never evaluation text) and must be deterministic for a seed
// and any thread count. Errors are alloy::Error naming the recipe key or model at fault.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "model/decoder.h"
#include "model/encoder_config.h"
#include "model/model_config.h"
#include "plan/merge_plan.h"
#include "recipe/recipe.h"
#include "stats/probe_pairs.h"

namespace alloy {

// One probe file of the recipe (a model's `probe:` or the top-level one), resolved like model
// paths and tokenized with the donor model's tokenizer: a decoder's text cut into chunks
// (probe_chunks.h), or an embedding encoder's .jsonl query/positive pairs in batches (probe_pairs.h).
struct ProbeSet {
  std::string written;          // as in the recipe
  std::filesystem::path path;   // where it was found
  std::vector<TokenBatch> chunks;
  PairProbe pairs;
};

struct SearchSettings {
  uint64_t seed = 0;
  int steps = 0;    // step budget (objective evaluations or optimiser steps); 0: the strategy's default
  int threads = 1;  // engine threads (set before the strategy runs; results must not depend on it)
  std::optional<int> ctx;  // tokens per probe chunk of text probes; unset: 128
  int pair_batch = 0;      // pairs per InfoNCE batch of .jsonl probes; 0: kDefaultPairBatch
  // Parameters to search (`--tune weight,density`): names of numeric method parameters; empty:
  // the strategy's default. A strategy that searches no named parameters refuses a non-empty list.
  std::vector<std::string> tune;
  // `--mu`: self-positioning's penalty μ·λ on the norm scale λ; unset: 0. Only a strategy whose
  // spec says takes_mu accepts it (run_search refuses it for the others).
  std::optional<double> mu;
};

struct SearchStep {
  int step = 0;
  double loss = 0;   // the objective (search_objective.h) after this step
  std::string note;  // what the step did, for the progress line ("add man: kept")
};

struct SearchContext {
  explicit SearchContext(const Recipe& r) : recipe(r) {}
  const Recipe& recipe;                 // as parsed, probe keys included
  std::filesystem::path recipe_dir;     // relative paths are tried here after the working directory
  PlanOptions plan_options;             // for planning tuned recipes (recipe_dir, seed, stats_dir)
  std::vector<LoadedModel> models;      // every referenced model, recipe order (merge_plan.h)
  std::optional<size_t> base;           // index of the recipe's base_model in `models`
  size_t donor = 0;                     // whose config and tokenizer the merged model has
  ModelConfig config;                   // the donor's decoder configuration (a decoder donor)
  std::optional<EncoderConfig> encoder; // the donor's, when it is an embedding encoder (probes are pairs)
  std::vector<ProbeSet> probes;         // every distinct probe file, in recipe order
  std::vector<int> model_probe;         // per model: index into `probes`, -1 when it has none
  SearchSettings settings;
  std::function<void(const SearchStep&)> progress;  // one call per step; may be empty
};

struct SearchResult {
  // The tuned recipe: mergekit-format YAML with plain numbers (recipe_yaml.h writes one).
  std::string recipe_yaml;
  std::vector<SearchStep> steps;  // in order; the report's "steps"
  double final_loss = 0;          // objective of the tuned recipe's merge
  nlohmann::json coefficients;    // final coefficients, by name (the report's "coefficients")
  nlohmann::json details = nlohmann::json::object();  // anything else worth reporting (greedy order)
};

using StrategyFn = std::function<SearchResult(const SearchContext&)>;

struct StrategySpec {
  std::string name;
  std::string summary;
  StrategyFn run;
  bool takes_mu = false;  // uses SearchSettings::mu
};

// Every strategy, in the order docs/search.md documents them.
const std::vector<StrategySpec>& strategy_registry();
const StrategySpec* find_strategy(const std::string& name);

}  // namespace alloy
