// Input pages dropped from the page cache some way behind a merge's reads, not at once
// (`alloy merge --input-cache drop`): a read fault reads around itself, behind it too, so pages
// dropped right behind the reads would be read from disk again. A range queued here is dropped
// once `lag_bytes` more were queued after it, and the rest at drop_all().
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace alloy {

// The page cache drops a folio only when a drop covers all of it, so the folio two adjacent ranges
// share (a tensor's rows, released group by group, in any order when several threads compute) is
// dropped again, whole, once the second of them is; so is the folio a file's first tensor shares
// with its header, and its last, short one, once told where the file's tensor bytes lie.
class DeferredDrops {
 public:
  explicit DeferredDrops(uint64_t lag_bytes) : lag_(lag_bytes) {}
  DeferredDrops(const DeferredDrops&) = delete;
  DeferredDrops& operator=(const DeferredDrops&) = delete;

  // Queues bytes [offset, offset + len) of the open file `fd`, and drops the ranges now
  // `lag_bytes` behind. The ranges queued are disjoint, and their descriptors stay open until
  // drop_all(). Thread-safe.
  void add(int fd, uint64_t offset, uint64_t len);
  // Says that the ranges of file `fd` are queued from its bytes [data_begin, data_end) (a
  // safetensors file's data buffer): a folio-sized region is complete once its bytes in there
  // were dropped. Without it a region is complete only when dropped whole, so the region a
  // file's header shares with its first tensor, and its last, stay until drop_all()'s caller
  // drops the file (executor.cpp). Call before add() for fd; a range queued outside the extent
  // makes the file's regions count whole again, and drop_all() forgets every extent.
  void expect_file(int fd, uint64_t data_begin, uint64_t data_end);
  // Drops every range still queued.
  void drop_all();
  uint64_t queued_bytes() const;

  // The largest page-cache folio: a PMD on x86-64 with 4 KB pages.
  static constexpr uint64_t kLargestFolio = uint64_t{2} << 20;

 private:
  struct Range {
    int fd;
    uint64_t offset, len;
  };
  // Appends r to `due`, and after it each folio-sized region whose expected bytes r and the
  // ranges dropped before it now cover, where r alone covers only part of the region. Under mu_.
  void make_due(const Range& r, std::vector<Range>& due);

  mutable std::mutex mu_;
  std::deque<Range> queued_;
  // The bytes dropped so far of each region [k, k + 1) · kLargestFolio (by descriptor and k) that
  // the dropped ranges cover only in part.
  std::map<std::pair<int, uint64_t>, uint64_t> partly_dropped_;
  // expect_file's [data_begin, data_end) by descriptor.
  std::map<int, std::pair<uint64_t, uint64_t>> extents_;
  uint64_t queued_bytes_ = 0;
  const uint64_t lag_;
};

}  // namespace alloy
