// Input pages dropped from the page cache some way behind a merge's reads, not at once
// (`alloy merge --input-cache drop`, exec/page_cache_room.h). A read fault on a mapping reads
// around itself, half of the device's read_ahead_kb behind it (4 MB on the development VM), so
// pages dropped right behind the reads were read again from disk: 1.5 GB more for the large bench
// family's 8.8 GB of inputs. A range queued here is dropped once `lag_bytes` more were queued
// after it, and the rest at drop_all(); where a later queued range continues it in the same file,
// its end's partial folio goes with that one.
#pragma once
#include <cstdint>
#include <deque>
#include <mutex>

#include "tensor/tensor_view.h"

namespace alloy {

class DeferredDrops {
 public:
  explicit DeferredDrops(uint64_t lag_bytes) : lag_(lag_bytes) {}
  DeferredDrops(const DeferredDrops&) = delete;
  DeferredDrops& operator=(const DeferredDrops&) = delete;

  // Queues bytes [offset, offset + len) of view v (a no-op unless it is a file mapping), and drops
  // the ranges now `lag_bytes` behind. Thread-safe.
  void add(const TensorView& v, uint64_t offset, uint64_t len);
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
  mutable std::mutex mu_;
  std::deque<Range> queued_;
  uint64_t queued_bytes_ = 0;
  const uint64_t lag_;
};

}  // namespace alloy
