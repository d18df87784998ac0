// Data-aware merges end to end on the stories260K fine-tunes: probe keys in recipes and their
// errors, a Fisher merge from precomputed `alloy stats fisher` files against the formula in
// float64 over the files' values, and the statistics cache reused by a second merge.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "test_support.h"

namespace alloy {
namespace {

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
    for (size_t k = 0; k < got.size(); ++k) {
      const double wa = 2.0 * std::max<double>(ga[k], 1e-6), wb = std::max<double>(gb[k], 1e-6);
      floored += (ga[k] < 1e-6 && gb[k] < 1e-6);
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

}  // namespace
}  // namespace alloy
