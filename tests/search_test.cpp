// `alloy search` end to end on the stories260K fine-tunes with short probe texts: greedy soup keeps
// exactly the models that help (a random model beside two real fine-tunes), the output is what
// `alloy merge OUT/alloy_config.yml` makes byte for byte and the same for any thread count, the
// derivative-free search reaches the optimum an exhaustive grid finds, and bad input is refused.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/decoder.h"
#include "search/consensus_search.h"
#include "search/derivative_free.h"
#include "search/merge_in_memory.h"
#include "search/recipe_yaml.h"
#include "search/search_objective.h"
#include "search/search_setup.h"
#include "search/search_space.h"
#include "search/search_runtime.h"
#include "search/tensor_grouping.h"
#include "stats/probe_chunks.h"
#include "test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::read_file;
using testing::run_alloy;
using testing::TempDir;
using testing::write_file;

const fs::path kData = fs::path(ALLOY_SHARED_DIR) / "stories260K";

// The first 1500 bytes of a domain's probe text (four chunks of 128 tokens), so a test stays fast.
fs::path short_probe(const TempDir& tmp, const std::string& domain) {
  const fs::path p = tmp / (domain + ".txt");
  write_file(p, read_file(kData / "probe" / (domain + ".txt")).substr(0, 1500));
  return p;
}

std::string entry(const fs::path& model, const fs::path& probe, const std::string& params = "") {
  return "  - model: " + model.string() + "\n    probe: " + probe.string() + "\n" +
         (params.empty() ? "" : "    parameters: {" + params + "}\n");
}

// A model of the fine-tunes' shapes with random weights (std 0.05): no use to any domain.
fs::path random_model(const TempDir& tmp) {
  const fs::path dir = tmp / "random";
  fs::create_directories(dir);
  for (const char* f : {"config.json", "tokenizer.model", "tokenizer_config.json"})
    fs::copy_file(kData / "python" / f, dir / f);
  auto ck = Checkpoint::open(kData / "python");
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<std::vector<float>> values;
  std::vector<NamedTensor> tensors;
  for (const std::string& name : ck->tensor_names()) {
    const TensorView v = ck->tensor(name);
    values.emplace_back(static_cast<size_t>(v.numel()));
    for (float& x : values.back()) x = normal(rng);
    TensorView random;
    random.shape = v.shape;
    random.data = reinterpret_cast<const std::byte*>(values.back().data());
    random.nbytes = static_cast<uint64_t>(v.numel()) * 4;
    tensors.push_back({name, random});
  }
  write_safetensors(dir / "model.safetensors", tensors);
  return dir;
}

// The objective of a model directory, computed here from its definition in float64: per probe
// file, the NLL of every next token of every chunk over their count; then the mean over files.
double objective_f64(const fs::path& model, const std::vector<fs::path>& probes) {
  auto ck = Checkpoint::open(model);
  CheckpointWeights weights(ck);
  const DecoderLM<double> lm(decoder_config_from_json(ck->config(), ck->has("lm_head.weight")), weights);
  double sum = 0;
  for (const fs::path& p : probes) {
    LossSum total;
    for (const TokenBatch& c : load_probe_chunks(model, p, 128, 0)) {
      const LossSum s = lm.loss(c);
      total.nll += s.nll;
      total.count += s.count;
    }
    sum += total.mean();
  }
  return sum / static_cast<double>(probes.size());
}

TEST(SearchE2E, GreedySoupKeepsExactlyTheModelsThatHelp) {
  TempDir tmp;
  const fs::path py = short_probe(tmp, "python"), man = short_probe(tmp, "man");
  const fs::path junk = random_model(tmp);
  write_file(tmp / "r.yml", "merge_method: linear\nmodels:\n" + entry(kData / "python", py, "weight: 0.3") +
                                entry(junk, py, "weight: 1") + entry(kData / "man", man, "weight: 2") +
                                "dtype: float32\n");
  auto r = run_alloy("search r.yml out --strategy greedy-soup -j 2", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("alloy search: step"), std::string::npos) << "progress lines on stderr";

  // The ranking: each candidate's own objective, computed here independently.
  const auto report = nlohmann::json::parse(read_file(tmp / "out/search_report.json"));
  EXPECT_EQ(report["strategy"], "greedy-soup");
  const double own_py = objective_f64(kData / "python", {py, man});
  const double own_man = objective_f64(kData / "man", {py, man});
  const double own_junk = objective_f64(junk, {py, man});
  const auto& ranking = report["details"]["ranking"];
  ASSERT_EQ(ranking.size(), 3u);
  std::map<std::string, double> own = {{(kData / "python").string(), own_py},
                                       {(kData / "man").string(), own_man},
                                       {junk.string(), own_junk}};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(ranking[i]["loss"].get<double>(), own.at(ranking[i]["model"]), 1e-4);
    if (i > 0) {
      EXPECT_LE(ranking[i - 1]["loss"].get<double>(), ranking[i]["loss"].get<double>());
    }
  }
  EXPECT_EQ(ranking[2]["model"], junk.string());
  EXPECT_EQ(report["details"]["kept"], nlohmann::json::array({ranking[0]["model"], ranking[1]["model"]}));
  EXPECT_EQ(report["coefficients"][junk.string()], 0.0);

  // The tuned recipe: the two fine-tunes at equal weight, no probe keys; its merge is the output.
  const std::string yaml = read_file(tmp / "out/alloy_config.yml");
  EXPECT_EQ(yaml.find("probe"), std::string::npos) << yaml;
  const Recipe tuned = parse_recipe(yaml, "alloy_config.yml");
  ASSERT_EQ(tuned.models.size(), 2u);
  for (const InputModel& m : tuned.models) EXPECT_EQ(m.parameters.at("weight").scalar, 1.0);
  const double final_loss = report["final_loss"].get<double>();
  EXPECT_NEAR(final_loss, objective_f64(tmp / "out", {py, man}), 1e-4);
  EXPECT_LT(final_loss, std::min(own_py, own_man));
}

// Linear weights of three fine-tunes, 8 evaluations: j1 and j2 give the same bytes, and so does
// alloy merge of the tuned recipe.
TEST(SearchE2E, OutputIsTheMergeOfTheTunedRecipeForAnyThreadCount) {
  TempDir tmp;
  write_file(tmp / "r.yml", "merge_method: linear\nmodels:\n" +
                                entry(kData / "python", short_probe(tmp, "python"), "weight: 1") +
                                entry(kData / "cheaders", short_probe(tmp, "cheaders"), "weight: 1") +
                                entry(kData / "man", short_probe(tmp, "man"), "weight: 1"));
  for (const char* j : {"1", "2"}) {
    auto r = run_alloy(std::string("search r.yml out") + j + " --strategy derivative-free --steps 8 --seed 3 -q -j " + j,
                       tmp.path());
    ASSERT_EQ(r.status, 0) << r.output;
  }
  EXPECT_EQ(read_file(tmp / "out1/model.safetensors"), read_file(tmp / "out2/model.safetensors"));
  EXPECT_EQ(read_file(tmp / "out1/alloy_config.yml"), read_file(tmp / "out2/alloy_config.yml"));
  auto r = run_alloy("merge out1/alloy_config.yml again -q", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_file(tmp / "again/model.safetensors"), read_file(tmp / "out1/model.safetensors"));

  const auto a = nlohmann::json::parse(read_file(tmp / "out1/search_report.json"));
  const auto b = nlohmann::json::parse(read_file(tmp / "out2/search_report.json"));
  EXPECT_EQ(a["steps"], b["steps"]);
  ASSERT_EQ(a["steps"].size(), 8u);
  EXPECT_EQ(a["seed"], 3);
  double best = INFINITY;
  for (const auto& s : a["steps"]) best = std::min(best, s["loss"].get<double>());
  EXPECT_EQ(a["final_loss"].get<double>(), best);
  // The coefficients are the tuned recipe's weights.
  const Recipe tuned = parse_recipe(read_file(tmp / "out1/alloy_config.yml"), "alloy_config.yml");
  for (const InputModel& m : tuned.models)
    EXPECT_EQ(m.parameters.at("weight").scalar, a["coefficients"]["weight[" + m.model.str() + "]"].get<double>());
}

// SLERP from the python fine-tune towards the man fine-tune, t searched: Nelder-Mead ends within
// one grid step of the best of 21 evenly spaced t, and no worse than it.
TEST(SearchE2E, DerivativeFreeFindsTheBestInterpolation) {
  TempDir tmp;
  write_file(tmp / "r.yml", "merge_method: slerp\nbase_model: " + (kData / "python").string() + "\nmodels:\n" +
                                entry(kData / "python", short_probe(tmp, "python")) +
                                entry(kData / "man", short_probe(tmp, "man")) + "parameters: {t: 0.5}\n");
  SearchSettings settings;
  settings.tune = {"t"};
  settings.steps = 24;
  PreparedSearch s = prepare_search(tmp / "r.yml", settings, tmp / "stats");
  const SearchContext& ctx = *s.context;
  const std::vector<TunedParameter> space = search_space(ctx.recipe, {"t"});
  double grid_best = INFINITY, grid_t = 0;
  const SearchRuntime runtime(ctx.config.hidden_size);  // as alloy search runs it
  for (int i = 0; i <= 20; ++i) {
    const double t = i / 20.0;
    const std::string yaml = recipe_yaml(recipe_at(ctx.recipe, space, std::vector<double>{t}));
    const double loss = probe_objective(ctx.config, merge_recipe_in_memory(yaml, "grid", ctx.plan_options), ctx.probes);
    if (loss < grid_best) grid_best = loss, grid_t = t;
  }
  ASSERT_GT(grid_t, 0.0);  // an interior optimum, or the test shows nothing
  ASSERT_LT(grid_t, 1.0);
  const SearchResult r = run_derivative_free(ctx);
  const double t = r.coefficients["t"].get<double>();
  EXPECT_NEAR(t, grid_t, 1.0 / 20) << "grid best " << grid_best << ", search " << r.final_loss;
  EXPECT_LE(r.final_loss, grid_best + 1e-9);
  EXPECT_LE(r.steps.size(), 24u);
}

// --mu acts and is reported: with μ = 100 the penalty dominates ∂/∂λ, so each of Adam's steps
// (learning rate 0.05) lowers λ by the learning rate (the first step exactly, the next within the
// change of the loss gradient), and the best point is the last: λ = 1 − 2 · 0.05 after 2 steps.
TEST(SearchE2E, SelfPositioningMuActsAndIsReported) {
  TempDir tmp;
  write_file(tmp / "r.yml", "merge_method: task_arithmetic\nbase_model: " + (kData / "base").string() + "\nmodels:\n" +
                                entry(kData / "python", short_probe(tmp, "python"), "weight: 0.5") +
                                entry(kData / "man", short_probe(tmp, "man"), "weight: 0.5") + "dtype: float32\n");
  auto r = run_alloy("search r.yml out --strategy self-positioning --steps 2 --mu 100 -q -j 2", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  const auto report = nlohmann::json::parse(read_file(tmp / "out/search_report.json"));
  EXPECT_EQ(report["details"]["mu"].get<double>(), 100.0);
  EXPECT_NEAR(report["coefficients"]["lambda"].get<double>(), 0.9, 2e-3);
  ASSERT_EQ(report["steps"].size(), 2u);
  // The steps' losses carry the penalty μ·λ: 100 at the start point, λ = 1.
  EXPECT_GT(report["steps"][0]["loss"].get<double>(), 100.0);
  EXPECT_LT(report["final_loss"].get<double>(), 100.0);  // the probe objective alone
}

// per-layer-kind: the output holds, tensor by tensor, base + Σ_i c_i (θ_i − base) computed here in
// float64 from the coefficients the report gives for that tensor's group (named here from the
// tensor name, not by the search's grouping), and the report's final loss is the output's objective.
TEST(SearchE2E, PerLayerKindOutputIsTheBaseMovedByEachGroupsWeights) {
  TempDir tmp;
  const fs::path py = short_probe(tmp, "python"), man = short_probe(tmp, "man");
  write_file(tmp / "r.yml", "merge_method: task_arithmetic\nbase_model: " + (kData / "base").string() + "\nmodels:\n" +
                                entry(kData / "python", py, "weight: 0.5") + entry(kData / "man", man, "weight: 0.5") +
                                "dtype: float32\n");
  auto r = run_alloy("search r.yml out --strategy per-layer-kind --steps 2 -q -j 2", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  const auto report = nlohmann::json::parse(read_file(tmp / "out/search_report.json"));
  EXPECT_NEAR(report["final_loss"].get<double>(), objective_f64(tmp / "out", {py, man}), 1e-4);
  auto group_name = [](const std::string& t) -> std::string {
    if (t.rfind("model.embed_tokens.", 0) == 0) return "embed";
    if (t == "model.norm.weight") return "norm";
    if (t == "lm_head.weight") return "lm_head";
    const std::string block = t.substr(13, t.find('.', 13) - 13);  // model.layers.N.
    if (t.find(".self_attn.") != std::string::npos) return "layer " + block + " attention";
    if (t.find(".mlp.") != std::string::npos) return "layer " + block + " mlp";
    return "layer " + block + " norms";
  };
  const CheckpointWeights out(Checkpoint::open(tmp / "out")), base(Checkpoint::open(kData / "base"));
  const std::vector<CheckpointWeights> fts = {CheckpointWeights(Checkpoint::open(kData / "python")),
                                              CheckpointWeights(Checkpoint::open(kData / "man"))};
  const std::vector<std::string> labels = {(kData / "python").string(), (kData / "man").string()};
  std::set<double> distinct;
  for (const std::string& name : base.checkpoint().tensor_names()) {
    const Weight b = base.get(name), o = out.get(name), m0 = fts[0].get(name), m1 = fts[1].get(name);
    std::vector<double> c;
    for (size_t i = 0; i < 2; ++i) {
      c.push_back(report["coefficients"][labels[i]].at(group_name(name)).get<double>());
      distinct.insert(c.back());
    }
    ASSERT_EQ(o.values.size(), b.values.size()) << name;
    for (size_t k = 0; k < b.values.size(); ++k) {
      const double want = double(b.values[k]) + c[0] * (double(m0.values[k]) - double(b.values[k])) +
                          c[1] * (double(m1.values[k]) - double(b.values[k]));
      ASSERT_NEAR(o.values[k], want, 1e-6 * std::max(1.0, std::abs(want))) << name << "[" << k << "]";
    }
  }
  EXPECT_GT(distinct.size(), 2u) << "the groups moved apart";
}

TEST(SearchE2E, BadInputIsRefusedAndLeavesNoOutput) {
  TempDir tmp;
  const fs::path py = short_probe(tmp, "python");
  write_file(tmp / "r.yml", "merge_method: linear\nmodels:\n" + entry(kData / "python", py, "weight: 1") +
                                entry(kData / "man", py, "weight: 1"));
  write_file(tmp / "noprobe.yml", "merge_method: linear\nmodels:\n  - model: " + (kData / "python").string() +
                                      "\n    parameters: {weight: 1}\n");
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"r.yml out --strategy annealing", "--strategy annealing: no such strategy (known: greedy-soup, derivative-free"},
           {"r.yml out --strategy greedy-soup --temperature 3", "temperature"},
           {"r.yml out --strategy greedy-soup --steps 5", "--steps: greedy-soup"},
           {"r.yml out --strategy derivative-free --tune density", "linear has no parameter density"},
           {"noprobe.yml out --strategy greedy-soup", "no probe data"},
           {"r.yml out --strategy derivative-free --steps 2", "at least 3"},
           {"r.yml out --strategy greedy-soup --mu 0.1", "--mu: --strategy greedy-soup has no norm scale"},
           {"r.yml out --strategy derivative-free --mu 0.1", "--mu: --strategy derivative-free"},
           {"r.yml out --strategy per-layer --mu 0.1", "--mu: --strategy per-layer"},
           {"r.yml out --strategy self-positioning --mu -1", "--mu -1: give a finite number >= 0"},
       }) {
    auto r = run_alloy("search " + c.args + " -q", tmp.path());
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_FALSE(fs::exists(tmp / "out")) << c.args;
  }
  fs::create_directory(tmp / "full");
  write_file(tmp / "full/x", "keep");
  auto r = run_alloy("search r.yml full --strategy greedy-soup -q", tmp.path());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("already exists; pass --force"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(tmp / "full/x"), "keep");
}

// per-layer and per-layer-kind on ties and dare_ties recipes: the output is, bit for bit, what the
// search's own forward (the recipe's plan merged by the method's kernels at the report's
// coefficients) makes, and what `alloy merge OUT/alloy_config.yml` makes; the first step's loss is
// the objective of the plain merge of the recipe (float64, here), and the search lowered it.
TEST(SearchE2E, PerLayerTiesOutputIsTheSearchsOwnMerge) {
  TempDir tmp;
  const fs::path py = short_probe(tmp, "python"), man = short_probe(tmp, "man");
  const std::vector<std::string> labels = {(kData / "python").string(), (kData / "man").string()};
  struct Case {
    std::string method, strategy, seed;
  };
  for (const Case& c : {Case{"ties", "per-layer", "0"}, Case{"dare_ties", "per-layer-kind", "3"}}) {
    SCOPED_TRACE(c.method);
    const std::string head = "merge_method: " + c.method + "\nbase_model: " + (kData / "base").string() +
                             "\ndtype: float32\nmodels:\n";
    write_file(tmp / "r.yml", head + entry(kData / "python", py, "weight: 0.6, density: 0.5") +
                                  entry(kData / "man", man, "weight: 0.4, density: 0.7"));
    write_file(tmp / "plain.yml", head + "  - model: " + labels[0] + "\n    parameters: {weight: 0.6, density: 0.5}\n" +
                                      "  - model: " + labels[1] + "\n    parameters: {weight: 0.4, density: 0.7}\n");
    fs::remove_all(tmp / "out"), fs::remove_all(tmp / "plain"), fs::remove_all(tmp / "again");
    auto r = run_alloy("search r.yml out --strategy " + c.strategy + " --steps 2 --seed " + c.seed + " -q -j 2", tmp.path());
    ASSERT_EQ(r.status, 0) << r.output;
    r = run_alloy("merge plain.yml plain -q --random-seed " + c.seed, tmp.path());
    ASSERT_EQ(r.status, 0) << r.output;
    const auto report = nlohmann::json::parse(read_file(tmp / "out/search_report.json"));
    ASSERT_EQ(report["steps"].size(), 2u);
    const double start = report["steps"][0]["loss"].get<double>();
    EXPECT_NEAR(start, objective_f64(tmp / "plain", {py, man}), 1e-4);
    EXPECT_LT(report["final_loss"].get<double>(), start);

    const Recipe tuned = parse_recipe(read_file(tmp / "out/alloy_config.yml"), "alloy_config.yml");
    EXPECT_EQ(tuned.merge_method, c.method);
    EXPECT_EQ(tuned.models[0].parameters.at("density").scalar, 0.5);
    EXPECT_EQ(tuned.models[0].parameters.at("weight").kind, ParamValue::Kind::Conditional);
    r = run_alloy("merge out/alloy_config.yml again -q --random-seed " + c.seed, tmp.path());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(read_file(tmp / "again/model.safetensors"), read_file(tmp / "out/model.safetensors"));

    SearchSettings settings;
    settings.seed = std::stoull(c.seed);
    const PreparedSearch s = prepare_search(tmp / "r.yml", settings, tmp / "stats");
    const SearchContext& ctx = *s.context;
    const int64_t layers = ctx.config.num_layers;
    const TensorGrouping grouping = c.strategy == "per-layer" ? groups_by_layer(layers) : groups_by_layer_and_kind(layers);
    ConsensusMerge merge = prepare_consensus_merge(
        make_plan(parse_recipe(recipe_yaml(ctx.recipe), "r.yml"), ctx.plan_options), ctx.config, labels,
        grouping.group_of, *consensus_sparsification(c.method));
    Coefficients at(grouping.count, 2, 0.0);
    std::set<double> distinct;
    for (int64_t g = 0; g < grouping.count; ++g)
      for (int64_t i = 0; i < 2; ++i) {
        at.at(g, i) = report["coefficients"][labels[static_cast<size_t>(i)]][grouping.names[static_cast<size_t>(g)]];
        distinct.insert(at.at(g, i));
      }
    EXPECT_GT(distinct.size(), 2u) << "the groups moved apart";
    const MemoryWeights mine = consensus_merged_weights(merge, at);
    const CheckpointWeights out(Checkpoint::open(tmp / "out"));
    for (const auto& [name, tensor] : merge.tensors) {
      const Weight o = out.get(name);
      const std::vector<float>& want = mine.tensors().at(name).values;
      ASSERT_EQ(o.values.size(), want.size()) << name;
      EXPECT_EQ(std::memcmp(o.values.data(), want.data(), want.size() * sizeof(float)), 0) << name;
    }
  }
}

// The per-layer strategies tune task_arithmetic, ties and dare_ties; other methods are refused by name.
TEST(SearchE2E, PerLayerRefusesOtherSparsifyingMethods) {
  TempDir tmp;
  const fs::path py = short_probe(tmp, "python");
  for (const std::string method : {"breadcrumbs_ties", "della"}) {
    write_file(tmp / "r.yml", "merge_method: " + method + "\nbase_model: " + (kData / "base").string() +
                                  "\nmodels:\n" + entry(kData / "python", py, "weight: 1, density: 0.5") +
                                  entry(kData / "man", py, "weight: 1, density: 0.5"));
    auto r = run_alloy("search r.yml out --strategy per-layer -q", tmp.path());
    EXPECT_NE(r.status, 0) << method;
    EXPECT_NE(r.output.find("tunes task_arithmetic, ties and dare_ties recipes; " + method + " is not supported"),
              std::string::npos)
        << r.output;
    EXPECT_FALSE(fs::exists(tmp / "out")) << method;
  }
}

}  // namespace
}  // namespace alloy
