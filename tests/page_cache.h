// Test helpers for page-cache behaviour: how much of a file the page cache holds, and whether a
// file system keeps page-cache pages that can be dropped at all (tmpfs pages are the file).
#pragma once
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <vector>

namespace alloy::testing {

// Calls fn(map, size) with a fresh read-only shared mapping of the whole file, unmapped after;
// false (and no call) when the file cannot be opened or mapped, or is empty.
template <class Fn>
bool with_file_mapping(const std::filesystem::path& path, Fn fn) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  ::fstat(fd, &st);
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = size > 0 ? ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
  ::close(fd);
  if (map == MAP_FAILED) return false;
  fn(map, size);
  ::munmap(map, size);
  return true;
}

// Which of the file's pages are in the page cache (mincore over a fresh mapping, which maps
// nothing itself); empty when the file cannot be mapped.
inline std::vector<bool> cached_pages(const std::filesystem::path& path) {
  std::vector<bool> cached;
  with_file_mapping(path, [&](void* map, size_t size) {
    const size_t page = static_cast<size_t>(::getpagesize());
    std::vector<unsigned char> resident((size + page - 1) / page);
    if (::mincore(map, size, resident.data()) == 0)
      for (unsigned char r : resident) cached.push_back((r & 1) != 0);
  });
  return cached;
}

// Of the pages overlapping bytes [offset, offset + len) of the file (within its size), how many
// there are and how many of them are in the page cache.
struct PageCount {
  size_t cached = 0, total = 0;
};
inline PageCount cached_pages_in(const std::filesystem::path& path, uint64_t offset, uint64_t len) {
  const std::vector<bool> pages = cached_pages(path);
  const uint64_t page = static_cast<uint64_t>(::getpagesize());
  PageCount count;
  for (uint64_t k = offset / page; k < (offset + len + page - 1) / page && k < pages.size(); ++k, ++count.total)
    count.cached += pages[k];
  return count;
}

// The fraction of the file's pages in the page cache; -1 when the file cannot be mapped.
inline double cached_fraction(const std::filesystem::path& path) {
  const PageCount count = cached_pages_in(path, 0, UINT64_MAX / 2);  // all of it, whatever its size
  if (count.total == 0) return -1;
  return static_cast<double>(count.cached) / static_cast<double>(count.total);
}

// Whether pages of files under `dir` can leave the page cache (not so on tmpfs or ramfs).
inline bool page_cache_droppable(const std::filesystem::path& dir) {
  struct statfs fs {};
  if (::statfs(dir.c_str(), &fs) != 0) return false;
  constexpr long kTmpfs = 0x01021994, kRamfs = static_cast<long>(0x858458f6);
  return fs.f_type != kTmpfs && fs.f_type != kRamfs;
}

// Writes the file back and drops it from the page cache; true when no page of it is left there.
inline bool evict(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  return cached_fraction(path) == 0;
}

// Reads the whole file into the page cache through a mapping that asks for huge pages: the page
// cache then fills it in folios of up to 2 MB from its first byte (read() starts with small ones
// and grows them as it goes on), as a long-running merge's inputs come to be held. Where huge
// pages are not to be had, in whatever folios it gets. False when the file cannot be mapped.
inline bool read_in_large_folios(const std::filesystem::path& path) {
  return with_file_mapping(path, [](void* map, size_t size) {
    (void)::madvise(map, size, MADV_HUGEPAGE);
    for (size_t offset = 0; offset < size; offset += static_cast<size_t>(::getpagesize()))
      (void)static_cast<const volatile unsigned char*>(map)[offset];  // a read fault a page
  });
}

}  // namespace alloy::testing
