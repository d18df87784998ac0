#include "exec/executor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "../../tests/test_support.h"
#include "../../tests/page_cache.h"
#include "fixtures/fixture_family.h"
#include "io/checkpoint.h"
#include "recipe/recipe.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;

// A family of two fine-tunes of these dimensions and a linear recipe over them (by default about
// 0.9 MB of bf16 output, computed in f32).
void write_family_and_recipe(const fs::path& root, int64_t hidden = 128, int64_t intermediate = 256,
                             int64_t vocab = 512, DType dtype = DType::F32) {
  FixtureSpec spec;
  spec.dtype = dtype;
  spec.dims.layers = 2;
  spec.dims.hidden = hidden;
  spec.dims.intermediate = intermediate;
  spec.dims.vocab = vocab;
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

// With drop_input_pages the inputs leave the page cache while the merge runs, not only at its end
// (run_merge's final drop is tested in MergeE2E): when the last output byte is written (before the
// executor's final drops), the embeddings and lm_head, merged first (the largest tensors, 32 MB
// per model), have left it, their pages dropped in groups of 4 MB as their rows are merged; kept,
// they all stay. While only a group's own drop could take a folio it shared with the next, half
// of them stayed; while the next group took it only when still queued, 6%; while the folio that
// lm_head (stored first: tensors are stored by name) shares with the file's header waited for the
// file's drop at the end, 3%. Inputs warm at the start, in folios of 2 MB where the page cache
// gives them (as a long merge's come to be); where it does not, the test tells dropping from
// keeping, not the folio handling (the PageHints tests do that, or skip).
TEST(Executor, DroppedInputPagesLeaveThePageCacheDuringTheRun) {
  testing::TempDir tmp;
  const fs::path& root = tmp.path();
  if (!testing::page_cache_droppable(root)) GTEST_SKIP() << root << " keeps no droppable page cache";
  write_family_and_recipe(root, 512, 1024, 32768, DType::BF16);
  struct Range {
    fs::path file;
    uint64_t offset, bytes;
  };
  std::vector<fs::path> inputs;
  std::vector<Range> largest;  // the byte ranges of the embeddings and lm_head in the inputs
  for (const char* model : {"ft1", "ft2"}) {
    const auto checkpoint = Checkpoint::open(root / "family" / model);
    for (const auto& shard : checkpoint->shards()) inputs.push_back(shard->path());
    for (const char* name : {"model.embed_tokens.weight", "lm_head.weight"}) {
      const TensorView v = checkpoint->tensor(name);
      const SafetensorsFile& shard = checkpoint->shard_of(name);
      largest.push_back({shard.path(), static_cast<uint64_t>(v.data - shard.mapping().data()), v.nbytes});
    }
  }
  auto cached = [&] {  // the fraction of the largest tensors' pages in the page cache
    size_t in = 0, all = 0;
    for (const Range& r : largest) {
      const testing::PageCount count = testing::cached_pages_in(r.file, r.offset, r.bytes);
      in += count.cached;
      all += count.total;
    }
    return all ? static_cast<double>(in) / static_cast<double>(all) : -1.0;
  };
  // The fraction cached once all of the output was written, in a run with `drop`.
  auto cached_when_written = [&](bool drop, const std::string& dir) {
    for (const fs::path& input : inputs) {  // written back (dirty pages cannot be dropped), then warm
      testing::evict(input);
      (void)testing::read_in_large_folios(input);
    }
    ExecOptions opt;
    opt.threads = 1;  // one compute thread (and the writer): blocks released in order
    opt.drop_input_pages = drop;
    opt.drop_lag_per_input = 4 << 20;  // the layers' 10 MB per model are queued after them
    std::mutex mu;
    double seen = -1;
    opt.progress = [&](uint64_t done, uint64_t total) {
      std::lock_guard lock(mu);
      if (done == total) seen = cached();
    };
    execute_into(root, dir, opt);
    EXPECT_GE(seen, 0) << "no progress report at the end";
    return seen;
  };
  const double kept = cached_when_written(false, "kept");
  if (kept < 1.0) GTEST_SKIP() << "reading the inputs left " << kept << " of them cached";
  // The folios the row groups share go too, and the one lm_head shares with the header (the
  // largest tensors are 128 MB in all; one folio is 0.016).
  EXPECT_LT(cached_when_written(true, "dropped"), 0.01);
}

}  // namespace
}  // namespace alloy
