// Tests of the page hints on read-only file mappings: release_pages drops every page the range
// overlaps from the resident set (checked in /proc/self/pagemap), however few bytes of it the range
// covers, and the bytes read back the same afterwards; prefetch_pages reads a whole range into
// the page cache, drop_from_page_cache drops one (mincore), and DeferredDrops drops its ranges
// once enough were queued after them.
#include "os/page_hints.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "../../tests/test_support.h"
#include "../../tests/page_cache.h"
#include "os/deferred_drops.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;

// Whether the page holding `p` is mapped in this process (pagemap bit 63: present).
bool page_present(const void* p) {
  const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  uint64_t entry = 0;
  const off_t at = static_cast<off_t>(reinterpret_cast<uintptr_t>(p) / static_cast<uintptr_t>(::getpagesize()) * 8);
  const bool ok = ::pread(fd, &entry, sizeof entry, at) == static_cast<ssize_t>(sizeof entry);
  ::close(fd);
  return ok && (entry >> 63) != 0;
}

TEST(PageHints, ReleaseDropsEveryPageTheRangeTouches) {
  const size_t page = static_cast<size_t>(::getpagesize()), pages = 8;
  const fs::path path = fs::temp_directory_path() / ("alloy-page-hints-" + std::to_string(::getpid()));
  std::string bytes(pages * page, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 + i / page);
  std::ofstream(path, std::ios::binary) << bytes;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  void* map = ::mmap(nullptr, bytes.size(), PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  fs::remove(path);
  ASSERT_NE(map, MAP_FAILED);
  const volatile char* data = static_cast<const char*>(map);
  auto touch_all = [&] {
    unsigned sum = 0;
    for (size_t k = 0; k < pages; ++k) sum += static_cast<unsigned char>(data[k * page]);
    return sum;
  };
  touch_all();
  for (size_t k = 0; k < pages; ++k) ASSERT_TRUE(page_present(const_cast<const char*>(data) + k * page)) << k;

  // 16 bytes in the middle of page 2, and a range from the last 8 bytes of page 4 to the first
  // 8 of page 6: pages 2, 4, 5 and 6 go, the others stay.
  const char* base = const_cast<const char*>(data);
  release_pages(base + 2 * page + page / 2, 16);
  release_pages(base + 5 * page - 8, page + 16);
  release_pages(base + 7 * page, 0);  // nothing
  for (size_t k = 0; k < pages; ++k)
    EXPECT_EQ(page_present(base + k * page), k == 0 || k == 1 || k == 3 || k == 7) << "page " << k;
  EXPECT_EQ(std::string(base, bytes.size()), bytes);  // read back from the page cache
  ::munmap(map, bytes.size());
}

// A file of `bytes` bytes on a file system whose page cache can drop pages, written back and
// evicted; skips the test where neither is possible.
#define ALLOY_EVICTED_FILE(path, bytes)                                                      \
  testing::TempDir dir;                                                                      \
  if (!testing::page_cache_droppable(dir.path())) GTEST_SKIP() << "tmpfs: no page cache";  \
  const fs::path path = dir / "input.bin";                                                   \
  std::ofstream(path, std::ios::binary) << std::string(static_cast<size_t>(bytes), 'x');     \
  if (!testing::evict(path)) GTEST_SKIP() << "the page cache keeps " << path

// Waits up to 5 s for all of the file to be cached (reads finish asynchronously).
bool becomes_cached(const fs::path& path) {
  for (int i = 0; i < 500 && testing::cached_fraction(path) < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return testing::cached_fraction(path) == 1.0;
}

// The kernel reads at most its readahead window per MADV_WILLNEED (128 KB on a default disk):
// 32 MB asked for at once are all read, with the file given (regions probed first) or not.
TEST(PageHints, PrefetchReadsTheWholeRange) {
  ALLOY_EVICTED_FILE(path, 32 << 20);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const size_t size = fs::file_size(path);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(map, MAP_FAILED);
  prefetch_pages(map, size);
  EXPECT_TRUE(becomes_cached(path)) << testing::cached_fraction(path);
  ASSERT_TRUE(testing::evict(path));
  const size_t page = static_cast<size_t>(::getpagesize());
  prefetch_pages(static_cast<const char*>(map) + page, size - page, fd);  // all but the first page
  auto cached_after_first = [&] {
    const testing::PageCount count = testing::cached_pages_in(path, page, size - page);
    return count.cached == count.total;
  };
  for (int i = 0; i < 500 && !cached_after_first(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(cached_after_first()) << testing::cached_fraction(path);
  ::munmap(map, size);
  ::close(fd);
}

// Since Linux 5.0 mincore reports every page of a file the caller neither owns nor may write as
// cached: a process of another user (root's child turned `nobody`, on root's file) must prefetch
// without trusting it, and so still reads all of the range. Needs root to change users.
TEST(PageHints, PrefetchOfAnotherUsersFileReadsTheWholeRange) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to prefetch as another user";
  ALLOY_EVICTED_FILE(path, 8 << 20);
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // no gtest here: the exit status says what failed
    constexpr uid_t kNobody = 65534;
    if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(2);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) ::_exit(3);
    const size_t size = static_cast<size_t>(8) << 20;
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) ::_exit(4);
    prefetch_pages(map, size, fd);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  // Not the behaviour under test: a user namespace without uid 65534, or a TMPDIR that other users
  // cannot enter.
  if (WEXITSTATUS(status) == 2) GTEST_SKIP() << "cannot become nobody here";
  if (WEXITSTATUS(status) == 3) GTEST_SKIP() << "nobody cannot open " << path;
  ASSERT_EQ(WEXITSTATUS(status), 0) << "4: cannot map";
  EXPECT_TRUE(becomes_cached(path)) << testing::cached_fraction(path);
}

// Ranges in units of 2 MB, the largest page-cache folio: the kernel drops a folio only when the
// range covers all of it, so ranges aligned to units drop exactly their pages.
constexpr uint64_t kUnit = uint64_t{2} << 20;

// Which units of the file are wholly in the page cache, which wholly out ('c', '-'), or partly ('p').
std::string cached_units(const fs::path& path) {
  const std::vector<bool> pages = testing::cached_pages(path);
  const size_t per_unit = kUnit / static_cast<uint64_t>(::getpagesize());
  std::string units;
  for (size_t u = 0; u * per_unit < pages.size(); ++u) {
    size_t in = 0;
    for (size_t k = u * per_unit; k < (u + 1) * per_unit; ++k) in += pages[k];
    units += in == per_unit ? 'c' : in == 0 ? '-' : 'p';
  }
  return units;
}

// A file of eight units, all in the page cache, and `fd` open on it; skips where units cannot be
// told apart (pages other than 4 KB may come in larger folios) or reading does not cache.
#define ALLOY_CACHED_UNITS(path, fd)                                                               \
  if (::getpagesize() != 4096) GTEST_SKIP() << "folios of up to 2 MB assumed";                     \
  ALLOY_EVICTED_FILE(path, 8 * kUnit);                                                             \
  testing::read_file(path);                                                                        \
  if (cached_units(path) != "cccccccc") GTEST_SKIP() << "read() does not fill the page cache here"; \
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);                                       \
  ASSERT_GE(fd, 0)

// Caches the file (of eight units, open as `fd`) again, each unit one 2 MB folio where the page
// cache gives them; true when so (a drop of half of each unit took nothing).
bool cache_in_large_folios(const fs::path& path, int fd) {
  drop_from_page_cache(fd, 0, 8 * kUnit);
  if (!testing::read_in_large_folios(path)) return false;
  for (uint64_t k = 0; k < 8; ++k) drop_from_page_cache(fd, k * kUnit, kUnit / 2);
  return cached_units(path) == "cccccccc";
}

// The same, each unit one 2 MB folio: only there does a test tell a folio that ranges share from
// pages each range's own drop takes. Skips where the page cache does not hold them so.
#define ALLOY_CACHED_UNITS_IN_LARGE_FOLIOS(path, fd)                          \
  ALLOY_CACHED_UNITS(path, fd);                                               \
  if (!cache_in_large_folios(path, fd)) {                                     \
    ::close(fd);                                                              \
    GTEST_SKIP() << "the page cache does not hold this file in 2 MB folios"; \
  }

TEST(PageHints, DropFromPageCacheDropsTheWholePagesOfTheRange) {
  ALLOY_CACHED_UNITS(path, fd);
  drop_from_page_cache(fd, kUnit, kUnit);
  drop_from_page_cache(fd, 5 * kUnit, 0);  // nothing
  EXPECT_EQ(cached_units(path), "c-cccccc");
  // Unaligned: the partial first and last pages stay (and, where a folio holds them, the pages
  // of its folio), and nothing outside the range goes.
  drop_from_page_cache(fd, 3 * kUnit + 1, kUnit);
  const std::vector<bool> pages = testing::cached_pages(path);
  const size_t page = static_cast<size_t>(::getpagesize()), unit = kUnit / page;
  EXPECT_TRUE(pages[3 * unit]);
  EXPECT_TRUE(pages[4 * unit]);
  const std::string units = cached_units(path);
  EXPECT_EQ(units.substr(0, 3), "c-c");
  EXPECT_TRUE(units[3] == 'c' || units[3] == 'p') << units;
  EXPECT_EQ(units.substr(4), "cccc");
  drop_from_page_cache(fd, 0, 8 * kUnit);
  EXPECT_EQ(cached_units(path), "--------");
  ::close(fd);
}

// Ranges of one unit queued with a lag of two: each is dropped once two more units were queued
// after it, the rest by drop_all; a range of no file (descriptor -1) is ignored.
TEST(PageHints, DeferredDropsDropARangeOnceTheLagWasQueuedAfterIt) {
  ALLOY_CACHED_UNITS(path, fd);
  const uint64_t tensor = kUnit;  // where a tensor starts in the file
  DeferredDrops drops(2 * kUnit);
  drops.add(-1, 0, 6 * kUnit);  // no open file: nothing to drop
  drops.add(fd, tensor + 0, kUnit);      // unit 1
  drops.add(fd, tensor + kUnit, kUnit);  // unit 2
  EXPECT_EQ(cached_units(path), "cccccccc");
  EXPECT_EQ(drops.queued_bytes(), 2 * kUnit);
  drops.add(fd, tensor + 2 * kUnit, kUnit);  // unit 3: unit 1 is two units behind now
  EXPECT_EQ(cached_units(path), "c-cccccc");
  drops.add(fd, tensor + 3 * kUnit, 3 * kUnit);  // units 4-6: units 2 and 3 go
  EXPECT_EQ(cached_units(path), "c---cccc");
  EXPECT_EQ(drops.queued_bytes(), 3 * kUnit);
  drops.drop_all();
  EXPECT_EQ(cached_units(path), "c------c");  // units 0 and 7 were never queued
  EXPECT_EQ(drops.queued_bytes(), 0u);
  ::close(fd);
}

// Ranges that continue each other but do not start on a folio boundary: each covers only part of
// the folio it shares with the next, which goes once both were dropped instead of staying.
TEST(PageHints, DeferredDropsTakeTheFoliosAdjacentRangesShare) {
  ALLOY_CACHED_UNITS_IN_LARGE_FOLIOS(path, fd);
  const uint64_t tensor = kUnit / 2;  // like a tensor's rows in a shard
  DeferredDrops drops(2 * kUnit);
  for (uint64_t k = 0; k < 4; ++k) drops.add(fd, tensor + k * kUnit, kUnit);  // file [0.5, 4.5) units
  // [0.5, 1.5) and [1.5, 2.5) went: unit 1 whole; units 0 and 2 only in part.
  std::string units = cached_units(path);
  EXPECT_EQ(units[0], 'c') << units;  // shared with the bytes before the tensor, never queued
  EXPECT_EQ(units[1], '-') << units;
  EXPECT_EQ(units[2], 'c') << units;
  EXPECT_EQ(units.substr(3), "ccccc") << units;
  EXPECT_EQ(drops.queued_bytes(), 2 * kUnit);
  drops.drop_all();  // [2.5, 4.5): units 2 and 3 whole, unit 4 in part
  units = cached_units(path);
  EXPECT_EQ(units.substr(1, 3), "---") << units;
  EXPECT_EQ(units[4], 'c') << units;
  EXPECT_EQ(units.substr(5), "ccc") << units;
  ::close(fd);
}

// Several compute threads release a tensor's row groups out of order: a range's neighbour before
// it may be queued after it, or dropped long before it is queued; their shared folio goes all the
// same, once the second of the two is dropped.
TEST(PageHints, DeferredDropsTakeTheFoliosOfRangesQueuedOutOfOrder) {
  ALLOY_CACHED_UNITS_IN_LARGE_FOLIOS(path, fd);
  const uint64_t tensor = kUnit / 2;  // like a tensor's rows in a shard
  DeferredDrops drops(2 * kUnit);
  drops.add(fd, tensor + kUnit, kUnit);      // [1.5, 2.5)
  drops.add(fd, tensor + 0, kUnit);          // [0.5, 1.5), the one before it
  drops.add(fd, tensor + 3 * kUnit, kUnit);  // [3.5, 4.5): [1.5, 2.5) goes
  drops.add(fd, tensor + 5 * kUnit, kUnit);  // [5.5, 6.5): [0.5, 1.5) goes, and unit 1 with it
  std::string units = cached_units(path);
  EXPECT_EQ(units[1], '-') << units;
  EXPECT_EQ(units.substr(3), "ccccc") << units;
  drops.add(fd, tensor + 2 * kUnit, kUnit);  // [2.5, 3.5), queued after both neighbours: [3.5, 4.5) goes
  units = cached_units(path);
  EXPECT_EQ(units[2], 'c') << units;  // each holds bytes of [2.5, 3.5), still queued
  EXPECT_EQ(units[3], 'c') << units;
  drops.drop_all();  // [5.5, 6.5) and [2.5, 3.5), and with the last units 2 and 3
  units = cached_units(path);
  EXPECT_EQ(units[0], 'c') << units;
  EXPECT_EQ(units.substr(1, 3), "---") << units;
  EXPECT_EQ(units[4], 'c') << units;  // [4.5, 5.5) was never queued
  EXPECT_EQ(units[7], 'c') << units;
  ::close(fd);
}

// A file's tensor bytes start after its header and end with the file: told where, the folio the
// first range shares with the header, and the last, short one, go once their tensor bytes are
// dropped, not only when the file is (without it they stay: the tests above).
TEST(PageHints, DeferredDropsTakeTheFoliosAtTheEndsOfTheExpectedBytes) {
  ALLOY_CACHED_UNITS_IN_LARGE_FOLIOS(path, fd);
  const uint64_t tensor = kUnit / 2;  // file [0.5, 7.5) units
  DeferredDrops drops(0);                               // no lag: each range is dropped at once
  drops.expect_file(fd, kUnit / 2, 15 * kUnit / 2);
  drops.add(fd, tensor + kUnit / 2, kUnit);  // [1, 2)
  EXPECT_EQ(cached_units(path), "c-cccccc");
  drops.add(fd, tensor + 0, kUnit / 2);  // [0.5, 1): all of unit 0's expected bytes
  EXPECT_EQ(cached_units(path), "--cccccc");
  drops.add(fd, tensor + 3 * kUnit / 2, 5 * kUnit);  // [2, 7)
  EXPECT_EQ(cached_units(path), "-------c");
  drops.add(fd, tensor + 13 * kUnit / 2, kUnit / 4);  // [7, 7.25): half of unit 7's
  EXPECT_EQ(cached_units(path), "-------c");
  drops.add(fd, tensor + 27 * kUnit / 4, kUnit / 4);  // [7.25, 7.5)
  EXPECT_EQ(cached_units(path), "--------");
  EXPECT_EQ(drops.queued_bytes(), 0u);
  ::close(fd);
}

// An extent that a range falls outside of was wrong: the file's regions then count whole, and none
// goes before all of it was dropped.
TEST(PageHints, DeferredDropsForgetAnExtentARangeFallsOutside) {
  ALLOY_CACHED_UNITS_IN_LARGE_FOLIOS(path, fd);
  const uint64_t tensor = 0;
  DeferredDrops drops(0);
  drops.expect_file(fd, kUnit / 2, 8 * kUnit);
  drops.add(fd, tensor + kUnit / 4, kUnit / 2);      // [0.25, 0.75): outside [0.5, 8)
  drops.add(fd, tensor + 3 * kUnit / 4, kUnit / 4);  // [0.75, 1): unit 0's bytes of the extent all dropped
  EXPECT_EQ(cached_units(path), "cccccccc");  // but [0, 0.25) was not
  drops.add(fd, tensor + 0, kUnit / 4);
  EXPECT_EQ(cached_units(path), "-ccccccc");
  ::close(fd);
}

}  // namespace
}  // namespace alloy
