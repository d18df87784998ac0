// Multi-stage recipes end to end: a two-stage recipe gives the same bytes as its stages merged by
// hand one after the other, its stage is reused by the next run, and merged again when its
// document changes or with --no-lazy.
#include <gtest/gtest.h>

#include "exec/run_stages.h"
#include "test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::read_file;
using testing::run_alloy;
using testing::TempDir;
using testing::write_file;

const std::string kStage =
    "merge_method: linear\n"
    "models:\n"
    "  - model: family/ft1\n"
    "    parameters: {weight: 0.7}\n"
    "  - model: family/ft2\n"
    "    parameters: {weight: 0.3}\n";
std::string final_using(const std::string& model) {
  return "merge_method: slerp\n"
         "base_model: " + model + "\n"
         "models:\n"
         "  - model: " + model + "\n"
         "  - model: family/ft3\n"
         "parameters: {t: 0.4}\n";
}

class MultiStage : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    work_ = new TempDir;
    write_fixture_family(testing::small_llama(2), *work_ / "family");
  }
  static void TearDownTestSuite() {
    delete work_;
    work_ = nullptr;
  }
  static TempDir* work_;
};
TempDir* MultiStage::work_ = nullptr;

TEST_F(MultiStage, EqualsTheStagesMergedByHandAndIsReused) {
  const fs::path w = work_->path();
  write_file(w / "stage.yml", kStage);
  write_file(w / "final.yml", final_using("by_hand_mid"));
  ASSERT_EQ(run_alloy("merge stage.yml by_hand_mid -q", w).status, 0);
  ASSERT_EQ(run_alloy("merge final.yml by_hand -q", w).status, 0);

  write_file(w / "multi.yml", "name: mid\n" + kStage + "---\n" + final_using("mid"));
  auto r = run_alloy("merge multi.yml out --intermediate-dir stages", w);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("stage 1/2: 'mid' into " + (w / "stages" / "mid").string()), std::string::npos) << r.output;
  EXPECT_EQ(read_file(w / "stages/mid/model.safetensors"), read_file(w / "by_hand_mid/model.safetensors"));
  EXPECT_EQ(read_file(w / "out/model.safetensors"), read_file(w / "by_hand/model.safetensors"));
  EXPECT_TRUE(fs::exists(w / "stages/mid" / kStageKeyFile));

  const auto stage_time = fs::last_write_time(w / "stages/mid/model.safetensors");
  r = run_alloy("merge multi.yml out --intermediate-dir stages --force", w);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("'mid' reused from"), std::string::npos) << r.output;
  EXPECT_EQ(fs::last_write_time(w / "stages/mid/model.safetensors"), stage_time);
  EXPECT_EQ(read_file(w / "out/model.safetensors"), read_file(w / "by_hand/model.safetensors"));

  r = run_alloy("merge multi.yml out --intermediate-dir stages --force --no-lazy", w);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("'mid' into"), std::string::npos) << r.output;

  // A changed stage document is merged again, and its reader sees the new stage.
  std::string changed = kStage;
  changed.replace(changed.find("0.7"), 3, "0.2");
  write_file(w / "multi.yml", "name: mid\n" + changed + "---\n" + final_using("mid"));
  r = run_alloy("merge multi.yml out --intermediate-dir stages --force", w);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("'mid' into"), std::string::npos) << r.output;
  EXPECT_NE(read_file(w / "out/model.safetensors"), read_file(w / "by_hand/model.safetensors"));
}

TEST_F(MultiStage, TheDefaultIntermediateDirectoryIsBesideOut) {
  const fs::path w = work_->path();
  write_file(w / "multi2.yml", "name: mid\n" + kStage + "---\n" + final_using("mid"));
  auto r = run_alloy("merge multi2.yml out2 -q", w);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(w / "out2.alloy-stages/mid/model.safetensors"));
  EXPECT_TRUE(fs::exists(w / "out2/model.safetensors"));
}

TEST_F(MultiStage, StageOptionsNeedStages) {
  const fs::path w = work_->path();
  write_file(w / "one.yml", kStage);
  auto r = run_alloy("merge one.yml out3 -q --no-lazy", w);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--lazy/--no-lazy: one.yml has one YAML document, so no stages to run first"),
            std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(w / "out3"));
}

}  // namespace
}  // namespace alloy
