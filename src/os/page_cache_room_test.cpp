// Tests of how a merge decides to drop its input pages: MemAvailable and cgroup limits read from
// the kernel's files (given as text and as a directory tree shaped like /sys/fs/cgroup), and the
// choice made from them.
#include "os/page_cache_room.h"

#include <gtest/gtest.h>

#include <fstream>

#include "../../tests/test_support.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;

TEST(PageCacheRoom, MemAvailableIsReadFromMeminfo) {
  EXPECT_EQ(mem_available_bytes("MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   2048 kB\nBuffers: 1 kB\n"),
            2048u * 1024);
  EXPECT_EQ(mem_available_bytes("MemAvailable: 7 kB"), 7u * 1024);  // last line, no newline
  EXPECT_EQ(mem_available_bytes("MemTotal: 1 kB\nMemFree: 2 kB\n"), std::nullopt);  // kernels before 3.14
  EXPECT_EQ(mem_available_bytes("MemAvailable: many kB\n"), std::nullopt);
  EXPECT_EQ(mem_available_bytes(""), std::nullopt);
}

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// The smallest limit on the way from the hierarchy's root to the process's cgroup, in v1 (the
// memory controller's own tree) and v2 (memory.max or memory.high; the root itself, or unified/ in
// the hybrid layout); no limit ("max", or v1's number near 2^63) is none.
TEST(PageCacheRoom, CgroupLimitIsTheSmallestOnThePath) {
  testing::TempDir root;
  write(root / "memory/memory.limit_in_bytes", "9223372036854771712\n");  // the root: unlimited
  write(root / "memory/jobs/memory.limit_in_bytes", "2147483648\n");
  write(root / "memory/jobs/merge/memory.limit_in_bytes", "9223372036854771712\n");
  EXPECT_EQ(cgroup_memory_room("12:memory:/jobs/merge\n", root.path()), 2147483648u);
  EXPECT_EQ(cgroup_memory_room("4:cpu,memory:/jobs/merge\n", root.path()), 2147483648u);  // joined controllers
  EXPECT_EQ(cgroup_memory_room("12:memory:/\n", root.path()), std::nullopt);
  EXPECT_EQ(cgroup_memory_room("3:cpu:/jobs/merge\n", root.path()), std::nullopt);  // not the memory controller

  write(root / "unified/pod/memory.max", "max\n");
  write(root / "unified/pod/merge/memory.max", "1073741824\n");
  EXPECT_EQ(cgroup_memory_room("0::/pod/merge\n", root.path()), 1073741824u);
  EXPECT_EQ(cgroup_memory_room("0::/pod\n", root.path()), std::nullopt);
  // Both kinds at once (a hybrid layout): the smaller.
  EXPECT_EQ(cgroup_memory_room("12:memory:/jobs/merge\n0::/pod/merge\n", root.path()), 1073741824u);
  write(root / "unified/pod/memory.high", "805306368\n");  // the throttle limit, lower than memory.max below
  EXPECT_EQ(cgroup_memory_room("0::/pod/merge\n", root.path()), 805306368u);
  EXPECT_EQ(cgroup_memory_room("0::/pod\n", root.path()), 805306368u);
  write(root / "unified/pod/merge/memory.high", "max\n");
  EXPECT_EQ(cgroup_memory_room("0::/pod/merge\n", root.path()), 805306368u);
  write(root / "memory.max", "536870912\n");  // a v2 root of its own (a container's view)
  EXPECT_EQ(cgroup_memory_room("0::/\n", root.path()), 536870912u);
  EXPECT_EQ(cgroup_memory_room("garbage\n\n", root.path()), std::nullopt);
  EXPECT_EQ(cgroup_memory_room("0::/absent/cgroup\n", testing::TempDir().path()), std::nullopt);
}

// A limit leaves room for the page cache only beyond what its group holds that reclaim cannot
// free: usage less the file pages that are not shmem (the group's other processes' memory stays).
TEST(PageCacheRoom, CgroupRoomIsTheLimitLessWhatReclaimCannotFree) {
  testing::TempDir root;
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  write(root / "pod/memory.max", std::to_string(8 * kGiB) + "\n");
  write(root / "pod/memory.current", std::to_string(6 * kGiB) + "\n");
  // 3 GiB of file pages, 1 of them shmem: 2 GiB reclaimable, so 4 GiB held for good.
  write(root / "pod/memory.stat", "anon 2147483648\nfile 3221225472\nkernel 536870912\nshmem 1073741824\n"
                                  "file_mapped 0\n");
  EXPECT_EQ(cgroup_memory_room("0::/pod\n", root.path()), 4 * kGiB);
  write(root / "pod/merge/memory.max", std::to_string(5 * kGiB) + "\n");  // no usage files: the limit
  EXPECT_EQ(cgroup_memory_room("0::/pod/merge\n", root.path()), 4 * kGiB);
  write(root / "pod/memory.current", std::to_string(11 * kGiB) + "\n");  // 9 GiB held for good: no room
  EXPECT_EQ(cgroup_memory_room("0::/pod\n", root.path()), 0u);
  // "file_mapped" and "file_dirty" are not "file", wherever they come; no shmem line: none.
  write(root / "pod/memory.stat", "anon 1\nfile_mapped 4294967296\nfile_dirty 1\nfile 2147483648\n");
  EXPECT_EQ(cgroup_memory_room("0::/pod\n", root.path()), 0u);  // 11 - 2 = 9 GiB held for good
  write(root / "pod/memory.current", std::to_string(6 * kGiB) + "\n");
  EXPECT_EQ(cgroup_memory_room("0::/pod\n", root.path()), 4 * kGiB);  // 8 - (6 - 2)
  write(root / "pod/memory.stat", "anon 1\nfile_mapped 0\n");  // no file count: the limit alone
  EXPECT_EQ(cgroup_memory_room("0::/pod\n", root.path()), 8 * kGiB);

  // v1: usage_in_bytes and the hierarchical total_cache and total_shmem.
  write(root / "memory/jobs/memory.limit_in_bytes", std::to_string(4 * kGiB) + "\n");
  write(root / "memory/jobs/memory.usage_in_bytes", std::to_string(3 * kGiB) + "\n");
  write(root / "memory/jobs/memory.stat", "cache 1\nrss 2\nshmem 0\ntotal_cache 2147483648\ntotal_rss 1073741824\n"
                                          "total_shmem 0\n");
  EXPECT_EQ(cgroup_memory_room("12:memory:/jobs\n", root.path()), 3 * kGiB);  // 4 - (3 - 2)
}

TEST(PageCacheRoom, LiveValuesAreThere) {
  const std::optional<uint64_t> room = page_cache_room();
  ASSERT_TRUE(room.has_value()) << "/proc/meminfo has MemAvailable on every kernel since 3.14";
  EXPECT_GT(*room, 0u);
}

TEST(PageCacheRoom, InputsAreDroppedWhenAskedOrWhenTheyDoNotFit) {
  EXPECT_FALSE(drop_input_pages(CachePolicy::Keep, 100, 10));
  EXPECT_TRUE(drop_input_pages(CachePolicy::Drop, 10, 100));
  EXPECT_TRUE(drop_input_pages(CachePolicy::Auto, 101, 100));
  EXPECT_FALSE(drop_input_pages(CachePolicy::Auto, 100, 100));
  EXPECT_FALSE(drop_input_pages(CachePolicy::Auto, 101, std::nullopt));  // room unknown: kept
}

// The output is kept where it fits beside the inputs, which a next merge of the same models reads.
TEST(PageCacheRoom, OutputIsDroppedWhenAskedOrWhenItDoesNotFitBesideTheInputs) {
  EXPECT_FALSE(drop_output_pages(CachePolicy::Keep, 100, 100, 10));
  EXPECT_TRUE(drop_output_pages(CachePolicy::Drop, 1, 1, 100));
  EXPECT_FALSE(drop_output_pages(CachePolicy::Auto, 60, 40, 100));
  EXPECT_TRUE(drop_output_pages(CachePolicy::Auto, 60, 41, 100));  // the inputs alone fit
  EXPECT_TRUE(drop_output_pages(CachePolicy::Auto, 101, 0, 100));
  EXPECT_FALSE(drop_output_pages(CachePolicy::Auto, 101, 1, std::nullopt));  // room unknown: kept
}

// Each drop that auto chose is told, with the sizes and the option that keeps the pages; a choice
// the user made, or one made without knowing the room, is not. Without fsync the output stays.
TEST(PageCacheRoom, WhatAutoDropsIsToldOnce) {
  constexpr uint64_t kGB = 1'000'000'000;
  PageCacheChoice c = choose_page_cache(CachePolicy::Auto, CachePolicy::Auto, true, 9 * kGB, 2 * kGB, 4 * kGB);
  EXPECT_TRUE(c.drop_inputs);
  EXPECT_TRUE(c.drop_output);
  ASSERT_EQ(c.notices.size(), 2u);
  EXPECT_EQ(c.notices[0], "the inputs (9.0 GB) are larger than the memory that could cache them (4.0 GB): their "
                          "pages leave the page cache once merged (--input-cache keep keeps them)");
  EXPECT_EQ(c.notices[1], "inputs and output (11.0 GB) are larger than the memory that could cache them (4.0 GB): "
                          "the output's pages leave the page cache once on the disk (--output-cache keep keeps them)");
  c = choose_page_cache(CachePolicy::Drop, CachePolicy::Auto, true, 3 * kGB, 2 * kGB, 4 * kGB);  // inputs fit alone
  EXPECT_TRUE(c.drop_inputs);
  EXPECT_TRUE(c.drop_output);
  ASSERT_EQ(c.notices.size(), 1u);
  EXPECT_EQ(c.notices[0].rfind("inputs and output (5.0 GB)", 0), 0u) << c.notices[0];
  c = choose_page_cache(CachePolicy::Auto, CachePolicy::Auto, false, 9 * kGB, 2 * kGB, 4 * kGB);  // no fsync
  EXPECT_TRUE(c.drop_inputs);
  EXPECT_FALSE(c.drop_output);
  ASSERT_EQ(c.notices.size(), 1u);
  EXPECT_EQ(c.notices[0].rfind("the inputs (9.0 GB)", 0), 0u) << c.notices[0];
  c = choose_page_cache(CachePolicy::Auto, CachePolicy::Keep, true, 3 * kGB, 1 * kGB, 4 * kGB);  // all fits
  EXPECT_FALSE(c.drop_inputs);
  EXPECT_FALSE(c.drop_output);
  EXPECT_TRUE(c.notices.empty());
  c = choose_page_cache(CachePolicy::Auto, CachePolicy::Auto, true, 9 * kGB, 2 * kGB, std::nullopt);
  EXPECT_FALSE(c.drop_inputs);
  EXPECT_FALSE(c.drop_output);
  EXPECT_TRUE(c.notices.empty());
  c = choose_page_cache(CachePolicy::Drop, CachePolicy::Drop, true, 1, 1, 4 * kGB);
  EXPECT_TRUE(c.drop_inputs && c.drop_output);
  EXPECT_TRUE(c.notices.empty());
}

}  // namespace
}  // namespace alloy
