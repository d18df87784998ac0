#include "io/deferred_drops.h"

#include <algorithm>
#include <vector>

#include "io/page_hints.h"

namespace alloy {

void DeferredDrops::add(const TensorView& v, uint64_t offset, uint64_t len) {
  if (!v.file_mapped || v.file_fd < 0 || offset >= v.nbytes) return;
  len = std::min(len, v.nbytes - offset);
  std::vector<Range> due;
  {
    std::lock_guard lock(mu_);
    queued_.push_back({v.file_fd, v.file_offset + offset, len});
    queued_bytes_ += len;
    while (!queued_.empty() && queued_bytes_ - queued_.front().len >= lag_) {
      queued_bytes_ -= queued_.front().len;
      make_due(queued_.front(), due);
      queued_.pop_front();
    }
  }
  for (const Range& r : due) drop_from_page_cache(r.fd, r.offset, r.len);  // outside the lock: a syscall each
}

void DeferredDrops::drop_all() {
  std::vector<Range> due;
  {
    std::lock_guard lock(mu_);
    for (const Range& r : queued_) make_due(r, due);
    queued_.clear();
    queued_bytes_ = 0;
    partly_dropped_.clear();
  }
  for (const Range& r : due) drop_from_page_cache(r.fd, r.offset, r.len);
}

void DeferredDrops::make_due(const Range& r, std::vector<Range>& due) {
  if (r.len == 0) return;
  due.push_back(r);
  const uint64_t end = r.offset + r.len, first = r.offset / kLargestFolio, last = (end - 1) / kLargestFolio;
  const uint64_t edges[2] = {first, last};
  for (int k = 0; k < (first == last ? 1 : 2); ++k) {
    const uint64_t region = edges[k];
    const uint64_t from = std::max(r.offset, region * kLargestFolio), to = std::min(end, (region + 1) * kLargestFolio);
    if (to - from == kLargestFolio) continue;  // r covers the region whole
    const auto it = partly_dropped_.try_emplace({r.fd, region}, 0).first;
    it->second += to - from;
    if (it->second >= kLargestFolio) {
      due.push_back({r.fd, region * kLargestFolio, kLargestFolio});
      partly_dropped_.erase(it);
    }
  }
}

uint64_t DeferredDrops::queued_bytes() const {
  std::lock_guard lock(mu_);
  return queued_bytes_;
}

}  // namespace alloy
