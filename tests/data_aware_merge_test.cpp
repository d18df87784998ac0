// Data-aware merges end to end on the stories260K fine-tunes: probe keys in recipes and their
// errors, a Fisher merge from precomputed `alloy stats fisher` files against the formula in
// float64 over the files' values, the statistics cache reused by a second merge, regmean's
// fallback: method for the tensors it cannot fit, and RegMean++ (sequential: true) end to end.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::TempDir;

const fs::path kData = fs::path(ALLOY_SHARED_DIR) / "stories260K";

std::string model_entry(const std::string& name, const std::string& extra) {
  return "  - model: " + (kData / name).string() + "\n" + extra;
}

TEST(DataAwareMerge, MissingProbeNamesTheModel) {
  TempDir tmp;
  testing::write_file(tmp / "r.yml", "merge_method: regmean\nmodels:\n" +
                                         model_entry("python", "    probe: " + (kData / "probe/python.txt").string() + "\n") +
                                         model_entry("man", ""));
  auto r = testing::run_alloy("merge r.yml out -q", tmp.path());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("r.yml:5"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("stories260K/man' has no probe data"), std::string::npos) << r.output;
}

TEST(DataAwareMerge, ProbeOnAMethodWithoutDataIsRefused) {
  TempDir tmp;
  testing::write_file(tmp / "r.yml", "merge_method: linear\nprobe: p.txt\nmodels:\n" +
                                         model_entry("python", "    parameters: {weight: 1}\n"));
  auto r = testing::run_alloy("merge r.yml out -q", tmp.path());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("r.yml:2: probe: not used by linear"), std::string::npos) << r.output;
}

TEST(DataAwareMerge, UnknownKeyBesideProbeIsRefused) {
  TempDir tmp;
  testing::write_file(tmp / "r.yml", "merge_method: regmean\nmodels:\n" + model_entry("python", "    probes: p.txt\n"));
  auto r = testing::run_alloy("merge r.yml out -q", tmp.path());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("r.yml:4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("probes"), std::string::npos) << r.output;
}

TEST(DataAwareMerge, FisherFromPrecomputedFilesEqualsTheFormula) {
  TempDir tmp;
  for (const char* m : {"python", "man"}) {
    auto r = testing::run_alloy("stats fisher " + (kData / m).string() + " --probe " +
                                (kData / "probe" / (std::string(m) + ".txt")).string() + " --samples 2 -o " +
                                (tmp / (std::string(m) + ".fisher.safetensors")).string());
    ASSERT_EQ(r.status, 0) << r.output;
  }
  testing::write_file(tmp / "r.yml", "merge_method: fisher\nmodels:\n" +
                                         model_entry("python", "    fisher: python.fisher.safetensors\n    parameters: {weight: 2}\n") +
                                         model_entry("man", "    fisher: man.fisher.safetensors\n") +
                                         "parameters: {fisher_floor: 1.0e-6}\n");
  auto r = testing::run_alloy("merge r.yml out -q", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "out.alloy-stats")) << "precomputed files are used as they are";

  auto out = Checkpoint::open(tmp / "out");
  auto a = Checkpoint::open(kData / "python"), b = Checkpoint::open(kData / "man");
  auto fa = SafetensorsFile::open(tmp / "python.fisher.safetensors");
  auto fb = SafetensorsFile::open(tmp / "man.fisher.safetensors");
  auto values = [](const SafetensorsFile& f, const std::string& name) {
    TensorView v = f.view(*f.find(name));
    std::vector<float> x(static_cast<size_t>(v.numel()));
    to_f32(v.dtype, v.data, x.data(), x.size());
    return x;
  };
  int floored = 0;
  for (const std::string name : {"model.layers.0.self_attn.q_proj.weight", "model.layers.4.mlp.down_proj.weight",
                                 "model.norm.weight", "model.embed_tokens.weight"}) {
    const auto got = testing::tensor_values(*out, name);
    const auto xa = testing::tensor_values(*a, name), xb = testing::tensor_values(*b, name);
    const auto ga = values(*fa, "fisher." + name), gb = values(*fb, "fisher." + name);
    ASSERT_EQ(got.size(), ga.size());
    double ma = 0, mb = 0;  // fisher_normalize (default): each model's values over their mean
    for (size_t k = 0; k < ga.size(); ++k) ma += ga[k] / static_cast<double>(ga.size());
    for (size_t k = 0; k < gb.size(); ++k) mb += gb[k] / static_cast<double>(gb.size());
    for (size_t k = 0; k < got.size(); ++k) {
      const double wa = 2.0 * std::max<double>(ga[k] / ma, 1e-6), wb = std::max<double>(gb[k] / mb, 1e-6);
      floored += (ga[k] / ma < 1e-6 && gb[k] / mb < 1e-6);
      const double want = (wa * xa[k] + wb * xb[k]) / (wa + wb);
      ASSERT_NEAR(got[k], want, 1e-6 * (1 + std::fabs(want))) << name << "[" << k << "]";
    }
  }
  EXPECT_GT(floored, 0) << "the embedding rows of tokens absent from both probes are at the floor";
}

TEST(DataAwareMerge, SecondMergeReusesTheStatistics) {
  TempDir tmp;
  std::string models;
  for (const char* m : {"python", "cheaders"})
    models += model_entry(m, "    probe: " + (kData / "probe" / (std::string(m) + ".txt")).string() + "\n");
  testing::write_file(tmp / "r.yml", "merge_method: regmean\nmodels:\n" + models + "parameters: {probe_samples: 2}\n");
  auto first = testing::run_alloy("merge r.yml out -q --stats-dir stats", tmp.path());
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("computing gram statistics"), std::string::npos) << first.output;
  auto second = testing::run_alloy("merge r.yml out2 -q --stats-dir stats", tmp.path());
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_EQ(second.output.find("computing"), std::string::npos) << second.output;
  EXPECT_EQ(testing::read_file(tmp / "out" / "model.safetensors"), testing::read_file(tmp / "out2" / "model.safetensors"));
}

std::string probe_entries(std::initializer_list<const char*> names) {
  std::string models;
  for (const char* m : names)
    models += model_entry(m, "    probe: " + (kData / "probe" / (std::string(m) + ".txt")).string() + "\n");
  return models;
}

TEST(DataAwareMerge, FallbackNamesAMethodOrIsRefusedAtItsLine) {
  TempDir tmp;
  testing::write_file(tmp / "r.yml", "merge_method: regmean\nfallback: tiess\nmodels:\n" + probe_entries({"python"}));
  auto r = testing::run_alloy("merge r.yml out -q", tmp.path());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("r.yml:2: fallback: 'tiess' is no merge method (use one of: "), std::string::npos) << r.output;
  testing::write_file(tmp / "r.yml", "merge_method: regmean\nfallback: fisher\nmodels:\n" + probe_entries({"python"}));
  r = testing::run_alloy("merge r.yml out -q", tmp.path());
  EXPECT_NE(r.output.find("r.yml:2: fallback: 'fisher' cannot merge"), std::string::npos) << r.output;
  testing::write_file(tmp / "r.yml", "merge_method: linear\nfallback: ties\nmodels:\n" +
                                         model_entry("python", "    parameters: {weight: 1}\n"));
  r = testing::run_alloy("merge r.yml out -q", tmp.path());
  EXPECT_NE(r.output.find("r.yml:2: fallback: not used by linear"), std::string::npos) << r.output;
}

TEST(DataAwareMerge, FallbackMergesEveryTensorRegMeanCannotFit) {
  // task_arithmetic as the fallback: norms and embeddings are base + Σ w_i (x_i − base); the
  // linear layers are RegMean's, the same as with the default fallback.
  TempDir tmp;
  const std::string body = "models:\n" + probe_entries({"python", "man"}) +
                           model_entry("base", "    probe: " + (kData / "probe/python.txt").string() + "\n") + "base_model: " +
                           (kData / "base").string() + "\nparameters: {probe_samples: 1, weight: 0.5}\n";
  testing::write_file(tmp / "ta.yml", "merge_method: regmean\nfallback: task_arithmetic\n" + body);
  testing::write_file(tmp / "lin.yml", "merge_method: regmean\n" + body);
  auto r = testing::run_alloy("merge ta.yml ta -q --stats-dir stats", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  r = testing::run_alloy("merge lin.yml lin -q --stats-dir stats", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  auto ta = Checkpoint::open(tmp / "ta"), lin = Checkpoint::open(tmp / "lin");
  auto base = Checkpoint::open(kData / "base"), a = Checkpoint::open(kData / "python"), b = Checkpoint::open(kData / "man");
  for (const std::string name : {"model.norm.weight", "model.layers.1.input_layernorm.weight", "model.embed_tokens.weight"}) {
    const auto got = testing::tensor_values(*ta, name), x0 = testing::tensor_values(*base, name);
    const auto xa = testing::tensor_values(*a, name), xb = testing::tensor_values(*b, name);
    for (size_t k = 0; k < got.size(); ++k) {
      const double want = x0[k] + 0.5 * (xa[k] - x0[k]) + 0.5 * (xb[k] - x0[k]);
      ASSERT_NEAR(got[k], want, 1e-6 * (1 + std::fabs(want))) << name << "[" << k << "]";
    }
  }
  const std::string q = "model.layers.2.self_attn.q_proj.weight";
  EXPECT_EQ(testing::tensor_values(*ta, q), testing::tensor_values(*lin, q));
  EXPECT_NE(testing::tensor_values(*ta, "model.norm.weight"), testing::tensor_values(*lin, "model.norm.weight"));
}

TEST(DataAwareMerge, SequentialRegMeanChangesTheBlocksAboveTheFirst) {
  TempDir tmp;
  const std::string body = "models:\n" + probe_entries({"python", "man"}) + "dtype: float32\n";
  testing::write_file(tmp / "seq.yml", "merge_method: regmean\n" + body + "parameters: {probe_samples: 1, probe_ctx: 32, sequential: true}\n");
  testing::write_file(tmp / "plain.yml", "merge_method: regmean\n" + body + "parameters: {probe_samples: 1, probe_ctx: 32}\n");
  auto r = testing::run_alloy("merge seq.yml seq -q --stats-dir stats", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "stats")) << "RegMean++ statistics depend on every model: nothing is cached";
  r = testing::run_alloy("merge plain.yml plain -q --stats-dir stats", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  auto seq = Checkpoint::open(tmp / "seq"), plain = Checkpoint::open(tmp / "plain");
  // The fallback tensors are the same average; the fitted ones see other inputs.
  EXPECT_EQ(testing::tensor_values(*seq, "model.norm.weight"), testing::tensor_values(*plain, "model.norm.weight"));
  EXPECT_NE(testing::tensor_values(*seq, "model.layers.3.mlp.down_proj.weight"),
            testing::tensor_values(*plain, "model.layers.3.mlp.down_proj.weight"));
}

}  // namespace
}  // namespace alloy
