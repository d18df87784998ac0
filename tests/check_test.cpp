// alloy check: it tells, without merging and without reading tensor data, what the merge does:
// the same output files and bytes the merge then writes, the parameter values a gradient and a
// filter give (computed here by hand), the merge's errors, and statistics it would compute.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::run_alloy;
using testing::TempDir;
using testing::write_file;

class Check : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    work_ = new TempDir;
    write_fixture_family(testing::small_llama(4), *work_ / "family");
    fs::copy_file(fs::path(ALLOY_SOURCE_DIR) / "examples" / "ties.yml", *work_ / "ties.yml");
  }
  static void TearDownTestSuite() {
    delete work_;
    work_ = nullptr;
  }
  static TempDir* work_;
};
TempDir* Check::work_ = nullptr;

uint64_t bytes_under(const fs::path& dir) {
  uint64_t total = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") total += fs::file_size(e.path());
  return total;
}

TEST_F(Check, PredictsTheFilesTheMergeWritesWithoutReadingTensorData) {
  const fs::path w = work_->path();
  auto r = run_alloy("check ties.yml out --out-shard-size 20K --json", w);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto report = nlohmann::json::parse(r.output);
  ASSERT_EQ(report["stages"].size(), 1u);
  const auto& s = report["stages"][0];
  EXPECT_EQ(s["models"].size(), 4u);
  EXPECT_EQ(s["donor"], "family/base");
  EXPECT_EQ(s["output_layers"], 4);
  for (const auto& m : s["models"])
    if (m["label"] == "family/ft1") {
      EXPECT_EQ(m["path"], (w / "family" / "ft1").string());
    }

  ASSERT_EQ(run_alloy("merge ties.yml out --out-shard-size 20K -q", w).status, 0);
  size_t shards = 0;
  for (const auto& e : fs::directory_iterator(w / "out")) shards += e.path().extension() == ".safetensors";
  EXPECT_EQ(s["output"]["files"], shards);
  EXPECT_EQ(s["output"]["bytes"], bytes_under(w / "out"));
  const auto index = nlohmann::json::parse(testing::read_file(w / "out" / "model.safetensors.index.json"));
  EXPECT_EQ(s["output"]["tensors"], index["weight_map"].size());
  fs::remove_all(w / "out");

  // Tensor data made NaN: the merge refuses it when it reads it; check never reads it.
  TempDir nan;
  fs::copy(w / "family", nan / "family", fs::copy_options::recursive);
  fs::copy_file(w / "ties.yml", nan / "ties.yml");
  const fs::path ft1 = nan / "family" / "ft1" / "model.safetensors";
  std::string bytes = testing::read_file(ft1);
  uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  std::fill(bytes.begin() + 8 + static_cast<long>(header), bytes.end(), '\xff');
  std::ofstream(ft1, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_EQ(run_alloy("check ties.yml", nan.path()).status, 0);
  auto merged = run_alloy("merge ties.yml out -q", nan.path());
  EXPECT_NE(merged.status, 0);
  EXPECT_NE(merged.output.find("NaN"), std::string::npos) << merged.output;
}

TEST_F(Check, ExplainGivesEachModelsResolvedParameters) {
  // ties.yml: ft3's density runs [0.7, 0.3] over the 4 layers, so layer i has 0.7 - 0.4 * i / 3.
  auto r = run_alloy("check ties.yml --explain model.layers.1.mlp.up_proj.weight --explain lm_head.weight",
                     work_->path());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("tensor 'model.layers.1.mlp.up_proj.weight' [48,32]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("family/base: 'model.layers.1.mlp.up_proj.weight' [48,32] F32 (base)"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("family/ft2: 'model.layers.1.mlp.up_proj.weight' [48,32] F32  density=0.3 weight=0.6"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find("family/ft3: 'model.layers.1.mlp.up_proj.weight' [48,32] F32  density=0.566667 weight=0.4"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find("normalize=1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tensor 'lm_head.weight' [64,32]"), std::string::npos) << r.output;

  auto missing = run_alloy("check ties.yml --explain model.layers.1.mlp.up_proj.weigth", work_->path());
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.output.find("no tensor 'model.layers.1.mlp.up_proj.weigth' (the closest: "
                                "'model.layers.1.mlp.up_proj.weight'"),
            std::string::npos) << missing.output;
}

TEST_F(Check, FailsAsTheMergeWouldNamingTheRecipeLine) {
  TempDir tmp;
  fs::create_directory_symlink(work_->path() / "family", tmp / "family");
  write_file(tmp / "r.yml", "merge_method: linear\nmodels:\n  - model: family/ft1\n  - model: family/ft9\n");
  auto r = run_alloy("check r.yml", tmp.path());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("r.yml:4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("family/ft9"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "merged"));
}

TEST_F(Check, DataAwareMethodsReportStatisticsWithoutComputingThem) {
  TempDir tmp;
  fs::create_directory_symlink(work_->path() / "family", tmp / "family");
  write_file(tmp / "probe.txt", "some probe text\n");
  write_file(tmp / "r.yml",
             "merge_method: regmean\nprobe: probe.txt\nmodels:\n  - model: family/ft1\n  - model: family/ft2\n");
  auto r = run_alloy("check r.yml out", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("statistics of 'family/ft1': computed by the merge from probe.txt"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(tmp / "out.alloy-stats"));
}

TEST_F(Check, AStageReadingAnotherIsCheckedOnceThatOneExists) {
  TempDir tmp;
  fs::create_directory_symlink(work_->path() / "family", tmp / "family");
  write_file(tmp / "multi.yml",
             "name: mid\nmerge_method: linear\nparameters: {weight: 1}\nmodels:\n  - model: family/ft1\n"
             "  - model: family/ft2\n---\nmerge_method: linear\nparameters: {weight: 1}\nmodels:\n  - model: mid\n"
             "  - model: family/ft3\n");
  auto r = run_alloy("check multi.yml out", tmp.path());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("stage mid: merge_method linear, 2 models"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("stage (final): linear, not checked yet: reads stage 'mid', not merged yet"),
            std::string::npos) << r.output;
}

}  // namespace
}  // namespace alloy
