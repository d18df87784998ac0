#include "os/page_hints.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace alloy {

namespace {

uintptr_t page_size() {
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

}  // namespace

void release_pages(const void* p, uint64_t len) {
  const uintptr_t page = page_size();
  if (len == 0) return;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(p) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + len + page - 1) / page * page;
  ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

namespace {

// Whether mincore tells the truth about the file's pages: since Linux 5.0 it reports every page
// of a file the caller neither owns nor may write as cached (so that one user cannot watch
// another's reads), and a prefetch that trusted it skipped everything in a model store shared
// between users. Root and the owner see the truth. (A one-byte RWF_NOWAIT read would tell
// anyone, but starts a readahead from the probed byte, into tensors perhaps already dropped.)
bool mincore_truthful(int fd) {
  struct stat st {};
  return fd >= 0 && ::fstat(fd, &st) == 0 && (::geteuid() == 0 || st.st_uid == ::geteuid());
}

}  // namespace

void prefetch_pages(const void* p, uint64_t len, int fd) {
  // The kernel reads at most its readahead window per MADV_WILLNEED (max of the device's
  // read_ahead_kb and its largest request, 128 KB on a default disk), from the start of the range:
  // one call for a whole tensor would read its first few MB and leave the rest to the page
  // faults. So the range goes in kChunk calls, each within any window;
  // and, where mincore can be trusted, a 2 MB region whose middle page is cached already is taken
  // to be cached (a merge from the page cache then costs one mincore per region, not a page-cache
  // walk of every page). The middle: a region's first and last pages may be shared with the
  // tensors beside it in the file, merged earlier (the largest tensors go first).
  constexpr uintptr_t kChunk = uintptr_t{128} << 10, kRegion = uintptr_t{2} << 20;
  const uintptr_t page = page_size();
  const uintptr_t begin = reinterpret_cast<uintptr_t>(p) / page * page;
  const uintptr_t end = reinterpret_cast<uintptr_t>(p) + len;
  const bool probe = mincore_truthful(fd);
  for (uintptr_t region = begin; region < end; region += kRegion) {
    const uintptr_t region_end = std::min(end, region + kRegion);
    unsigned char cached = 0;
    const uintptr_t middle = (region + (region_end - region) / 2) / page * page;
    if (probe && ::mincore(reinterpret_cast<void*>(middle), page, &cached) == 0 && (cached & 1) != 0) continue;
    for (uintptr_t at = region; at < region_end; at += kChunk)
      ::madvise(reinterpret_cast<void*>(at), std::min(kChunk, region_end - at), MADV_WILLNEED);
  }
}

void drop_from_page_cache(int fd, uint64_t offset, uint64_t len) {
  // The kernel rounds the range inward to whole pages and skips mapped or dirty ones.
  if (fd >= 0 && len > 0) ::posix_fadvise(fd, static_cast<off_t>(offset), static_cast<off_t>(len), POSIX_FADV_DONTNEED);
}

}  // namespace alloy
