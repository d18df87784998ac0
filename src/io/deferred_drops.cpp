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
      Range r = queued_.front();
      queued_.pop_front();
      queued_bytes_ -= r.len;
      // The page cache drops a folio (up to 2 MB) only when the range covers all of it, so a run of
      // adjacent ranges (a tensor's rows, released group by group) kept every folio that straddles
      // two of them: about half of an input's pages stayed cached until the end of the run. The
      // part of the range in the folio it shares with the next range goes with that one instead.
      const uint64_t end = r.offset + r.len;
      const auto next = std::find_if(queued_.begin(), queued_.end(),
                                     [&](const Range& q) { return q.fd == r.fd && q.offset == end; });
      if (next != queued_.end()) {
        const uint64_t keep_from = std::max(r.offset, end / kLargestFolio * kLargestFolio);
        next->offset = keep_from;
        next->len += end - keep_from;
        queued_bytes_ += end - keep_from;
        r.len = keep_from - r.offset;
      }
      if (r.len > 0) due.push_back(r);
    }
  }
  for (const Range& r : due) drop_from_page_cache(r.fd, r.offset, r.len);  // outside the lock: a syscall each
}

void DeferredDrops::drop_all() {
  std::deque<Range> due;
  {
    std::lock_guard lock(mu_);
    due.swap(queued_);
    queued_bytes_ = 0;
  }
  for (const Range& r : due) drop_from_page_cache(r.fd, r.offset, r.len);
}

uint64_t DeferredDrops::queued_bytes() const {
  std::lock_guard lock(mu_);
  return queued_bytes_;
}

}  // namespace alloy
