#include "tensor/adapted_views.h"

#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace alloy {

namespace {

struct Entry {
  uint64_t nbytes;
  std::shared_ptr<const LowRankAddend> addend;
};

struct Registry {
  std::shared_mutex mu;
  std::unordered_map<const std::byte*, Entry> by_data;
  std::atomic<size_t> size{0};
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

std::shared_ptr<const void> register_adapted_view(const TensorView& view, std::shared_ptr<const LowRankAddend> addend) {
  Registry& r = registry();
  {
    std::unique_lock lock(r.mu);
    r.by_data[view.data] = Entry{view.nbytes, std::move(addend)};
    r.size.store(r.by_data.size());
  }
  const std::byte* key = view.data;
  return std::shared_ptr<const void>(key, [](const std::byte* k) {
    Registry& reg = registry();
    std::unique_lock lock(reg.mu);
    reg.by_data.erase(k);
    reg.size.store(reg.by_data.size());
  });
}

const LowRankAddend* adapted_view_addend(const TensorView& view) {
  Registry& r = registry();
  if (r.size.load(std::memory_order_acquire) == 0) return nullptr;
  std::shared_lock lock(r.mu);
  auto it = r.by_data.find(view.data);
  if (it == r.by_data.end() || it->second.nbytes != view.nbytes) return nullptr;
  return it->second.addend.get();
}

}  // namespace alloy
