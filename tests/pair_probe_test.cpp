// .jsonl query/positive probes for embedding encoders end to end, on a BERT fixture family:
// `alloy stats fisher` on pairs writes the library's InfoNCE Fisher (and exact zeros for the
// tensors the loss never reads); a regmean merge on pairs gives the closed form computed here in
// float64 from the Gram files it cached, and sequential: true runs too; a derivative-free search of
// a SLERP's t ends at the best of a brute-force grid, below the plain average, and its final loss
// is what `alloy eval --pairs` measures on its output, and so do those of greedy soup and the
// gradient searches;
// probes of the wrong kind and TIES per-layer searches of encoders are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/weight_source.h"
#include "search/derivative_free.h"
#include "search/merge_in_memory.h"
#include "search/recipe_yaml.h"
#include "search/search_objective.h"
#include "search/search_runtime.h"
#include "search/search_setup.h"
#include "search/search_space.h"
#include "stats/pair_statistics.h"
#include "stats/stats_test_support.h"
#include "tensor/convert.h"
#include "tensor/dtype.h"
#include "test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::read_file;
using testing::run_alloy;
using testing::run_alloy_apart;
using testing::TempDir;
using testing::write_file;

const std::vector<std::pair<std::string, std::string>> kPairs = {
    {"the cat sat", "a cat was sitting"}, {"rain falls", "water from the sky"}, {"an old tree", "the oak is old"},
    {"quick brown fox", "the fox jumps"}, {"bread and milk", "breakfast at home"}, {"a red car", "the car is red"},
};

class PairProbeE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const auto r = run_alloy("fixture " + (dir_->path() / "fam").string() +
                             " --family bert --fine-tunes 2 --dtype float32 --hidden 32 --heads 4");
    ASSERT_EQ(r.status, 0) << r.output;
    std::string jsonl;
    for (const auto& [q, p] : kPairs) jsonl += nlohmann::json{{"query", q}, {"positive", p}}.dump() + "\n";
    write_file(dir_->path() / "pairs.jsonl", jsonl);
    write_file(dir_->path() / "text.txt", "the cat sat on the mat\n");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path dir() { return dir_->path(); }
  static fs::path model(const std::string& name) { return dir() / "fam" / name; }
  static TempDir* dir_;
};
TempDir* PairProbeE2E::dir_ = nullptr;

std::vector<float> f32_values(const TensorView& v) {
  std::vector<float> out(static_cast<size_t>(numel(v.shape)));
  to_f32(v.dtype, v.data, out.data(), out.size());
  return out;
}

TEST_F(PairProbeE2E, StatsFisherOnPairsIsTheLibrarysWithZerosForUnreadTensors) {
  TempDir tmp;
  const auto r = run_alloy("stats fisher " + model("ft1").string() + " --probe " + (dir() / "pairs.jsonl").string() +
                           " --batch 3 -o " + (tmp / "f.safetensors").string());
  ASSERT_EQ(r.status, 0) << r.output;
  auto ck = Checkpoint::open(model("ft1"));
  CheckpointWeights weights(ck);
  const EncoderConfig config = encoder_config_from_json(ck->config(), [&](const std::string& n) { return ck->has(n); });
  const PairProbe probe = load_probe_pairs(model("ft1"), config, dir() / "pairs.jsonl", 3, 0);
  ASSERT_EQ(probe.pairs, (std::vector<int64_t>{3, 3}));
  const Statistics want = pair_fisher_statistics(Encoder<float>(config, weights), probe);
  auto file = SafetensorsFile::open(tmp / "f.safetensors");
  size_t unread = 0;
  for (const std::string& name : ck->tensor_names()) {
    if (!traits(ck->tensor(name).dtype).is_float) continue;  // position_ids
    const SafetensorsEntry* e = file->find(kFisherPrefix + name);
    ASSERT_NE(e, nullptr) << name;
    const std::vector<float> got = f32_values(file->view(*e));
    auto it = want.find(kFisherPrefix + name);
    if (it == want.end()) {  // an MLM head or pooler tensor: the loss does not depend on it
      ++unread;
      for (float v : got) ASSERT_EQ(v, 0.0f) << name;
      continue;
    }
    EXPECT_EQ(got, it->second.values) << name;
  }
  EXPECT_GT(unread, 0u);  // the fixture is a BertForMaskedLM with a head
}

TEST_F(PairProbeE2E, RegmeanOnPairsIsTheClosedFormOfTheCachedGrams) {
  TempDir tmp;
  write_file(tmp / "r.yml", "merge_method: regmean\nmodels:\n  - model: " + model("ft1").string() + "\n  - model: " +
                                model("ft2").string() + "\nprobe: " + (dir() / "pairs.jsonl").string() +
                                "\nparameters: {alpha: 1.0, pair_batch: 3}\ndtype: float32\n");
  const auto r = run_alloy("merge r.yml out --stats-dir stats", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  std::vector<std::shared_ptr<SafetensorsFile>> grams;
  for (const auto& entry : fs::directory_iterator(tmp / "stats")) grams.push_back(SafetensorsFile::open(entry.path()));
  ASSERT_EQ(grams.size(), 2u);
  const std::string name = "bert.encoder.layer.1.intermediate.dense.weight";
  auto out = Checkpoint::open(tmp / "out");
  const std::vector<float> got = f32_values(out->tensor(name));
  // Wᵀ = (G₁ + G₂)⁻¹ (G₁ W₁ᵀ + G₂ W₂ᵀ); each file belongs to the model whose weights it multiplies,
  // which the sum makes order-free only when paired right: pair them by the file's own probe run.
  const TensorView w1 = Checkpoint::open(model("ft1"))->tensor(name);
  const int64_t rows = w1.shape[0], in = w1.shape[1];
  std::vector<double> a(static_cast<size_t>(in * in), 0.0), b(static_cast<size_t>(in * rows), 0.0);
  for (const char* m : {"ft1", "ft2"}) {
    auto ck = Checkpoint::open(model(m));
    CheckpointWeights weights(ck);
    const EncoderConfig config = encoder_config_from_json(ck->config(), [&](const std::string& n) { return ck->has(n); });
    const Statistics g = pair_gram_statistics(Encoder<float>(config, weights),
                                              load_probe_pairs(model(m), config, dir() / "pairs.jsonl", 3, 0));
    const std::vector<float>& gv = g.at(kGramPrefix + name).values;
    bool cached = false;  // the merge read these very matrices from its cache
    for (const auto& file : grams) cached |= f32_values(file->view(*file->find(kGramPrefix + name))) == gv;
    EXPECT_TRUE(cached) << m;
    const std::vector<float> w = f32_values(ck->tensor(name));
    for (int64_t i = 0; i < in; ++i)
      for (int64_t j = 0; j < in; ++j) {
        a[i * in + j] += gv[i * in + j];
        for (int64_t o = 0; o < rows; ++o) b[i * rows + o] += double(gv[i * in + j]) * w[o * in + j];
      }
  }
  const std::vector<double> wt = stats_test::solve(a, b, in, rows);
  double largest = 0;
  for (double v : wt) largest = std::max(largest, std::abs(v));
  for (int64_t o = 0; o < rows; ++o)
    for (int64_t i = 0; i < in; ++i) ASSERT_NEAR(got[o * in + i], wt[i * rows + o], 1e-3 * largest) << o << "," << i;

  // RegMean++ (sequential: true) runs on pairs too (its Gram matrices are checked in
  // sequential_grams_test); layer 1 is fitted to what the merged layer 0 produces, so it differs.
  std::string yml = read_file(tmp / "r.yml");
  yml.replace(yml.find("alpha: 1.0"), 10, "alpha: 1.0, sequential: true");
  write_file(tmp / "seq.yml", yml);
  const auto seq = run_alloy("merge seq.yml seq --stats-dir stats", tmp.path());
  ASSERT_EQ(seq.status, 0) << seq.output;
  const std::vector<float> after = f32_values(Checkpoint::open(tmp / "seq")->tensor(name));
  double diff = 0;
  for (size_t k = 0; k < got.size(); ++k) diff = std::max(diff, double(std::abs(after[k] - got[k])));
  EXPECT_GT(diff, 1e-4 * largest);
}

TEST_F(PairProbeE2E, DerivativeFreeSearchOnPairsFindsTheGridOptimumAndEvalAgrees) {
  TempDir tmp;
  write_file(tmp / "r.yml", "merge_method: slerp\nbase_model: " + model("ft1").string() + "\nmodels:\n  - model: " +
                                model("ft1").string() + "\n  - model: " + model("ft2").string() +
                                "\nprobe: " + (dir() / "pairs.jsonl").string() + "\nparameters: {t: 0.5}\ndtype: float32\n");
  SearchSettings settings;
  settings.tune = {"t"};
  settings.steps = 24;
  settings.pair_batch = 2;
  PreparedSearch s = prepare_search(tmp / "r.yml", settings, tmp / "stats");
  const SearchContext& ctx = *s.context;
  ASSERT_TRUE(ctx.encoder.has_value());
  const std::vector<TunedParameter> space = search_space(ctx.recipe, {"t"});
  const SearchRuntime runtime(ctx.encoder->hidden_size);  // as alloy search runs it
  auto loss_at = [&](double t) {
    const std::string yaml = recipe_yaml(recipe_at(ctx.recipe, space, std::vector<double>{t}));
    return search_objective(ctx, merge_recipe_in_memory(yaml, "grid", ctx.plan_options));
  };
  double grid_best = INFINITY, grid_t = 0;
  for (int i = 0; i <= 20; ++i)
    if (const double loss = loss_at(i / 20.0); loss < grid_best) grid_best = loss, grid_t = i / 20.0;
  const SearchResult r = run_derivative_free(ctx);
  const double t = r.coefficients["t"].get<double>();
  EXPECT_NEAR(t, grid_t, 1.0 / 20) << "grid best " << grid_best << ", search " << r.final_loss;
  EXPECT_LE(r.final_loss, grid_best + 1e-9);
  EXPECT_LT(r.final_loss, loss_at(0.5));  // better than the plain average

  // The CLI's search writes that merge; alloy eval --pairs, in the same groups of 2, measures it.
  const auto cli = run_alloy("search r.yml out --strategy derivative-free --tune t --steps 24 --pair-batch 2 -q",
                             tmp.path());
  ASSERT_EQ(cli.status, 0) << cli.output;
  const nlohmann::json report = nlohmann::json::parse(read_file(tmp / "out/search_report.json"));
  EXPECT_EQ(report["objective"], "mean over the probe sets of the mean InfoNCE loss per query/positive pair");
  EXPECT_EQ(report["pair_batch"], 2);
  EXPECT_DOUBLE_EQ(report["final_loss"].get<double>(), r.final_loss);
  const auto eval = run_alloy_apart({"eval", (tmp / "out").string(), "--pairs", (dir() / "pairs.jsonl").string(),
                                     "--batch", "2", "--temperature", "0.05", "--json"});
  ASSERT_EQ(eval.status, 0) << eval.err;
  const double eval_loss = nlohmann::json::parse(eval.out)["results"][0]["loss"].get<double>();
  EXPECT_NEAR(eval_loss, r.final_loss, 1e-5 * r.final_loss);
}

// Greedy soup on pairs: each candidate's loss alone is what alloy eval --pairs gives that model,
// the ranking follows them, and the soup's final loss is eval's loss of the output.
TEST_F(PairProbeE2E, GreedySoupOnPairsRanksByEvalsLossesAndEvalAgrees) {
  TempDir tmp;
  std::string yml = "merge_method: linear\nmodels:\n";
  for (const char* m : {"base", "ft1", "ft2"}) yml += "  - model: " + model(m).string() + "\n";
  write_file(tmp / "r.yml",
             yml + "probe: " + (dir() / "pairs.jsonl").string() + "\nparameters: {weight: 1.0}\ndtype: float32\n");
  const auto r = run_alloy("search r.yml out --strategy greedy-soup --pair-batch 2 -q", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json report = nlohmann::json::parse(read_file(tmp / "out/search_report.json"));
  auto eval_loss = [&](const fs::path& m) {
    const auto e = run_alloy_apart({"eval", m.string(), "--pairs", (dir() / "pairs.jsonl").string(), "--batch", "2",
                                    "--temperature", "0.05", "--json"});
    EXPECT_EQ(e.status, 0) << e.err;
    return nlohmann::json::parse(e.out)["results"][0]["loss"].get<double>();
  };
  const nlohmann::json& ranking = report["details"]["ranking"];
  ASSERT_EQ(ranking.size(), 3u);
  double previous = -INFINITY;
  for (const nlohmann::json& row : ranking) {
    const double alone = eval_loss(row["model"].get<std::string>());
    EXPECT_NEAR(row["loss"].get<double>(), alone, 1e-5 * alone) << row["model"];
    EXPECT_GE(alone, previous);
    previous = alone;
  }
  const double final_loss = report["final_loss"].get<double>();
  EXPECT_NEAR(eval_loss(tmp / "out"), final_loss, 1e-5 * final_loss);
}

// The gradient strategies on pairs: Adam from the recipe's weights on the InfoNCE objective (its
// gradient is checked in pair_merge_gradient_test); the result is below the start, and alloy eval
// --pairs measures the reported final loss on the output.
TEST_F(PairProbeE2E, GradientSearchesOnPairsImproveOnTheirStartAndEvalAgrees) {
  TempDir tmp;
  write_file(tmp / "r.yml", "merge_method: task_arithmetic\nbase_model: " + model("base").string() +
                                "\nmodels:\n  - model: " + model("ft1").string() + "\n  - model: " +
                                model("ft2").string() + "\nprobe: " + (dir() / "pairs.jsonl").string() +
                                "\nparameters: {weight: 0.5}\ndtype: float32\n");
  for (const std::string strategy : {"self-positioning", "per-layer-kind"}) {
    SCOPED_TRACE(strategy);
    const auto r = run_alloy("search r.yml " + strategy + " --strategy " + strategy + " --steps 4 --pair-batch 3 -q",
                             tmp.path());
    ASSERT_EQ(r.status, 0) << r.output;
    const nlohmann::json report = nlohmann::json::parse(read_file(tmp / strategy / "search_report.json"));
    ASSERT_EQ(report["steps"].size(), 4u);
    const double start = report["steps"][0]["loss"].get<double>(), final_loss = report["final_loss"].get<double>();
    EXPECT_LT(final_loss, start);
    EXPECT_EQ(report["pair_batch"], 3);
    const auto eval = run_alloy_apart({"eval", (tmp / strategy).string(), "--pairs", (dir() / "pairs.jsonl").string(),
                                       "--batch", "3", "--temperature", "0.05", "--json"});
    ASSERT_EQ(eval.status, 0) << eval.err;
    EXPECT_NEAR(nlohmann::json::parse(eval.out)["results"][0]["loss"].get<double>(), final_loss, 1e-5 * final_loss);
  }
  // per-layer-kind wrote one weight per group and model: the embedding group and 2 × 3 layer kinds.
  const nlohmann::json report = nlohmann::json::parse(read_file(tmp / "per-layer-kind/search_report.json"));
  EXPECT_EQ(report["coefficients"][model("ft1").string()].size(), 7u);
}

TEST_F(PairProbeE2E, WrongKindsOfProbeAndUnsupportedUsesAreRefusedClearly) {
  TempDir tmp;
  const auto llama = run_alloy("fixture " + (tmp / "llama").string() + " --family llama --fine-tunes 1 --dtype float32");
  ASSERT_EQ(llama.status, 0) << llama.output;
  const std::string pairs = (dir() / "pairs.jsonl").string(), text = (dir() / "text.txt").string();
  auto recipe = [&](const std::string& method, const std::string& a, const std::string& b, const std::string& probe,
                    const std::string& params) {
    return "merge_method: " + method + "\nmodels:\n  - model: " + a + "\n  - model: " + b + "\nprobe: " + probe +
           "\n" + params;
  };
  const std::string bert1 = model("ft1").string(), bert2 = model("ft2").string();
  const std::string llama1 = (tmp / "llama/base").string(), llama2 = (tmp / "llama/ft1").string();
  struct Case {
    std::string command, recipe, message;
  } cases[] = {
      {"merge", recipe("fisher", bert1, bert2, text, ""), "is plain text, which fits decoder language models"},
      {"merge", recipe("regmean", llama1, llama2, pairs, ""), "(.jsonl) fit embedding encoders"},
      {"merge", recipe("fisher", bert1, bert2, pairs, "parameters: {probe_ctx: 8}\n"),
       "probe_ctx is not used with .jsonl pair probes"},
      {"merge", recipe("fisher", llama1, llama2, text, "parameters: {pair_batch: 4}\n"),
       "pair_batch is not used with text probes"},
      {"search", "merge_method: ties\nbase_model: " + (dir() / "fam/base").string() + "\n" +
                     recipe("", bert1, bert2, pairs, "parameters: {weight: 0.5, density: 0.5}\n").substr(15),
       "--strategy per-layer tunes ties recipes of decoder language models"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.recipe);
    write_file(tmp / "r.yml", c.recipe);
    const std::string args = c.command == "merge" ? "merge r.yml out" : "search r.yml out --strategy per-layer";
    const auto r = run_alloy(args, tmp.path());
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(tmp / "out"));
  }
  write_file(tmp / "r.yml", recipe("linear", bert1, bert2, pairs, "parameters: {weight: 1.0}\n"));
  const auto ctx = run_alloy("search r.yml out --strategy greedy-soup --ctx 8", tmp.path());
  EXPECT_NE(ctx.output.find("--ctx cuts probe text; " + pairs + " holds pairs, grouped by --pair-batch"),
            std::string::npos) << ctx.output;
  EXPECT_FALSE(fs::exists(tmp / "out"));
  const auto st = run_alloy("stats gram " + bert1 + " --probe " + text + " -o " + (tmp / "g.safetensors").string());
  EXPECT_NE(st.output.find("give a .jsonl of {\"query\", \"positive\"} pairs"), std::string::npos) << st.output;
  EXPECT_FALSE(fs::exists(tmp / "g.safetensors"));
}

}  // namespace
}  // namespace alloy
