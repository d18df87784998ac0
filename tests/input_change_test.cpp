// Inputs that change under a merge: a shard cut short while mapped is reported by name (SIGBUS
// turned into an error, os/mapping_guard.h) and a shard written during the merge is detected
// before the output is put in place (MappedFile::unchanged); never a crash, never an output.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "os/mapping_guard.h"
#include "test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::write_file;

TEST(InputChange, ReadingPastATruncatedMappingExitsNamingTheFile) {
  TempDir tmp;
  std::vector<float> values(1 << 18, 1.0f);  // 1 MiB: many pages past the cut
  const fs::path file = tmp / "shard.safetensors";
  TensorView w;
  w.shape = {1 << 18};
  w.data = reinterpret_cast<const std::byte*>(values.data());
  w.nbytes = values.size() * sizeof(float);
  write_safetensors(file, {{"w", w}});
  auto shard = SafetensorsFile::open(file);
  const TensorView view = shard->view(shard->entries().at(0));
  ASSERT_EQ(::truncate(file.c_str(), 4096), 0);
  EXPECT_EXIT(
      {
        volatile float last = reinterpret_cast<const float*>(view.data)[(1 << 18) - 1];
        (void)last;
      },
      ::testing::ExitedWithCode(kMappingChangedExitStatus), "shard\\.safetensors: the file became shorter");
}

TEST(InputChange, MappingNoticesAWriteToItsFile) {
  TempDir tmp;
  write_file(tmp / "f", std::string(8192, 'a'));
  MappedFile grown(tmp / "f");
  EXPECT_TRUE(grown.unchanged());
  write_file(tmp / "f", std::string(8193, 'a'));
  EXPECT_FALSE(grown.unchanged());

  // Same size, new bytes: the modification time tells (set explicitly: a coarse clock could
  // give the rewrite the same time stamp).
  MappedFile rewritten(tmp / "f");
  EXPECT_TRUE(rewritten.unchanged());
  write_file(tmp / "f", std::string(8193, 'b'));
  fs::last_write_time(tmp / "f", fs::last_write_time(tmp / "f") + std::chrono::seconds(1));
  EXPECT_FALSE(rewritten.unchanged());
}

// A merge whose input shard is cut short once its temporary directory appears: it fails with the
// shard's name, by either path (the read faults, or the check before the rename sees the change),
// and leaves no destination.
TEST(InputChange, ShardTruncatedDuringAMergeFailsNamingIt) {
  TempDir tmp;
  FixtureSpec spec = testing::small_llama(8);
  spec.dims.hidden = 256;
  spec.dims.intermediate = 768;
  spec.dims.vocab = 4000;
  spec.fine_tunes = {TaskKind::Dense, TaskKind::Dense};
  write_fixture_family(spec, tmp / "family");
  write_file(tmp / "recipe.yml", "merge_method: linear\nmodels:\n  - model: family/ft1\n    parameters: {weight: 1}\n"
                                 "  - model: family/ft2\n    parameters: {weight: 1}\n");
  const fs::path shard = tmp / "family/ft2/model.safetensors";
  ASSERT_TRUE(fs::exists(shard));
  const fs::path err = tmp / "stderr";
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(tmp.path().c_str()) != 0 || !::freopen(err.c_str(), "w", stderr)) _exit(99);
    ::execl(ALLOY_BINARY, ALLOY_BINARY, "merge", "recipe.yml", "out", "-q", "-j", "1", "--no-fsync",
            static_cast<char*>(nullptr));
    _exit(98);
  }
  bool seen = false;
  for (int i = 0; i < 50000 && !seen; ++i) {
    for (const auto& e : fs::directory_iterator(tmp.path()))
      seen |= e.path().filename().string().rfind(".alloy-tmp-", 0) == 0;
    if (!seen) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  ASSERT_EQ(::truncate(shard.c_str(), 4096), 0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "alloy crashed: status " << status << "\n" << testing::read_file(err);
  if (WEXITSTATUS(status) == 0) GTEST_SKIP() << "the merge had read everything before the shard was cut";
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string message = testing::read_file(err);
  EXPECT_NE(message.find("family/ft2/model.safetensors: "), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(tmp / "out"));
}

}  // namespace
}  // namespace alloy
