#include "os/deferred_drops.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "os/page_hints.h"

namespace alloy {

void DeferredDrops::add(int fd, uint64_t offset, uint64_t len) {
  if (fd < 0 || len == 0) return;
  std::vector<Range> due;
  {
    std::lock_guard lock(mu_);
    queued_.push_back({fd, offset, len});
    queued_bytes_ += len;
    while (!queued_.empty() && queued_bytes_ - queued_.front().len >= lag_) {
      queued_bytes_ -= queued_.front().len;
      make_due(queued_.front(), due);
      queued_.pop_front();
    }
  }
  for (const Range& r : due) drop_from_page_cache(r.fd, r.offset, r.len);  // outside the lock: a syscall each
}

void DeferredDrops::expect_file(int fd, uint64_t data_begin, uint64_t data_end) {
  std::lock_guard lock(mu_);
  extents_[fd] = {data_begin, data_end};
}

void DeferredDrops::drop_all() {
  std::vector<Range> due;
  {
    std::lock_guard lock(mu_);
    for (const Range& r : queued_) make_due(r, due);
    queued_.clear();
    queued_bytes_ = 0;
    partly_dropped_.clear();
    extents_.clear();  // the descriptors may be closed now, and their numbers reused
  }
  for (const Range& r : due) drop_from_page_cache(r.fd, r.offset, r.len);
}

void DeferredDrops::make_due(const Range& r, std::vector<Range>& due) {
  if (r.len == 0) return;
  due.push_back(r);
  const uint64_t end = r.offset + r.len, first = r.offset / kLargestFolio, last = (end - 1) / kLargestFolio;
  const uint64_t edges[2] = {first, last};
  auto extent = extents_.find(r.fd);
  if (extent != extents_.end() && (r.offset < extent->second.first || end > extent->second.second)) {
    // A range outside the extent said: it was wrong, and the file's regions count whole from now.
    extents_.erase(extent);
    extent = extents_.end();
  }
  const uint64_t data_begin = extent == extents_.end() ? 0 : extent->second.first;
  const uint64_t data_end = extent == extents_.end() ? UINT64_MAX : extent->second.second;
  for (int k = 0; k < (first == last ? 1 : 2); ++k) {
    const uint64_t region = edges[k], region_begin = region * kLargestFolio, region_end = region_begin + kLargestFolio;
    const uint64_t from = std::max(r.offset, region_begin), to = std::min(end, region_end);
    if (to - from == kLargestFolio) continue;  // r covers the region whole
    // The region's bytes that ranges come from (r's among them).
    const uint64_t expected = std::min(region_end, data_end) - std::max(region_begin, data_begin);
    const auto it = partly_dropped_.try_emplace({r.fd, region}, 0).first;
    it->second += to - from;
    if (it->second >= expected) {
      due.push_back({r.fd, region_begin, kLargestFolio});
      partly_dropped_.erase(it);
    }
  }
}

uint64_t DeferredDrops::queued_bytes() const {
  std::lock_guard lock(mu_);
  return queued_bytes_;
}

}  // namespace alloy
