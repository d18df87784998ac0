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
      due.push_back(queued_.front());
      queued_bytes_ -= queued_.front().len;
      queued_.pop_front();
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
