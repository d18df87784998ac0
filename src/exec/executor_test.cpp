#include "exec/executor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../../tests/cli_runner.h"
#include "fixtures/fixture_family.h"
#include "recipe/recipe.h"

namespace alloy {
namespace {

namespace fs = std::filesystem;

// A family of two fine-tunes and a linear recipe over them (about 0.9 MB of bf16 output).
void write_family_and_recipe(const fs::path& root) {
  FixtureSpec spec;
  spec.dims.layers = 2;
  spec.dims.hidden = 128;
  spec.dims.intermediate = 256;
  spec.dims.vocab = 512;
  spec.fine_tunes = {TaskKind::Dense, TaskKind::Sparse};
  write_fixture_family(spec, root / "family");
  std::ofstream(root / "recipe.yml") << "merge_method: linear\nmodels:\n"
                                        "  - model: family/ft1\n    parameters: {weight: 0.7}\n"
                                        "  - model: family/ft2\n    parameters: {weight: 0.3}\n"
                                        "dtype: float32\nout_dtype: bfloat16\n";
}

// root's recipe executed with `options` into two shards under root / dir: their bytes, and the
// run's statistics.
std::pair<std::vector<std::string>, ExecStats> execute_into(const fs::path& root, const std::string& dir,
                                                           const ExecOptions& options) {
  PlanOptions popt;
  popt.recipe_dir = root;
  const MergePlan plan = make_plan(load_recipe(root / "recipe.yml"), popt);
  const OutputLayout layout = layout_shards(plan.outputs(), 512 << 10);
  EXPECT_GE(layout.shards.size(), 2u);
  fs::create_directories(root / dir);
  std::vector<int> fds;
  for (const ShardLayout& shard : layout.shards) {
    const int fd = ::open((root / dir / shard.file_name).c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0644);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(shard.file_size)), 0);
    fds.push_back(fd);
  }
  const ExecStats stats = execute(plan, layout, fds, options);
  std::vector<std::string> shards;
  for (size_t s = 0; s < fds.size(); ++s) {
    ::close(fds[s]);
    shards.push_back(testing::read_file(root / dir / layout.shards[s].file_name));
  }
  EXPECT_EQ(stats.bytes_written, layout.total_tensor_bytes);
  return {shards, stats};
}

// The output does not depend on the thread count, the writer thread or early write-back; with
// early write-back the writer hands the output to the disk in ranges of the configured size (each
// takes at least that many bytes and at most one write more) and asks for background flushes no
// more often than configured; without it, it does neither.
TEST(Executor, EarlyWriteBackHandsTheOutputOverInRangesOfItsSize) {
  testing::TempDir tmp;
  const fs::path& root = tmp.path();
  write_family_and_recipe(root);
  ExecOptions plain;
  plain.block_elements = 1 << 12;  // writes of at most 8 KiB
  plain.chunk_elements = 1 << 10;
  const auto [reference, plain_stats] = execute_into(root, "plain", plain);
  EXPECT_EQ(plain_stats.hand_overs, 0);
  EXPECT_EQ(plain_stats.flushes, 0);

  ExecOptions early = plain;
  early.threads = 3;
  early.early_write_back = true;
  early.write_back_bytes = 64 << 10;
  early.flush_every_bytes = 256 << 10;
  const auto [shards, stats] = execute_into(root, "early", early);
  EXPECT_EQ(shards, reference);
  const uint64_t written = stats.bytes_written, range = early.write_back_bytes, max_write = 8 << 10;
  ASSERT_GT(written, 10 * range);
  // Each file keeps less than one range back for the final fsync.
  const uint64_t held_back = range * reference.size();
  EXPECT_LE(static_cast<uint64_t>(stats.hand_overs), written / range);
  EXPECT_GE(static_cast<uint64_t>(stats.hand_overs), (written - held_back) / (range + max_write));
  EXPECT_LE(static_cast<uint64_t>(stats.flushes), written / early.flush_every_bytes);

  ExecOptions inline_writes = early;  // the compute threads write themselves
  inline_writes.writer_thread = false;
  const auto [inline_shards, inline_stats] = execute_into(root, "inline", inline_writes);
  EXPECT_EQ(inline_shards, reference);
  EXPECT_EQ(inline_stats.hand_overs, 0);
}

}  // namespace
}  // namespace alloy
