// Tests of release_pages on a read-only file mapping: every page the range overlaps leaves the
// resident set (checked in /proc/self/pagemap), however few bytes of it the range covers, and the
// bytes read back the same afterwards.
#include "io/page_hints.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace alloy {
namespace {

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

}  // namespace
}  // namespace alloy
