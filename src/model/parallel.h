// parallel_for: the engine's threads for attention and elementwise work (GEMMs use OpenBLAS's own).
// Each index is computed by exactly one thread and no float sum crosses threads, so results do
// not depend on scheduling.
#pragma once
#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace alloy {

// Threads the engine's own loops use: hardware_concurrency unless set (0 restores that).
void set_engine_threads(int threads);
int engine_threads();

// Calls fn(begin, end) over contiguous ranges covering [0, n), on up to engine_threads() threads.
// `min_per_thread` keeps tiny loops on the calling thread.
template <class F>
void parallel_for(int64_t n, F&& fn, int64_t min_per_thread = 1) {
  if (n <= 0) return;
  const int64_t threads = std::clamp<int64_t>(n / std::max<int64_t>(min_per_thread, 1), 1, engine_threads());
  if (threads == 1) {
    fn(int64_t{0}, n);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  auto range = [&](int64_t t) { return std::pair{n * t / threads, n * (t + 1) / threads}; };
  for (int64_t t = 1; t < threads; ++t)
    pool.emplace_back([&, t] {
      auto [b, e] = range(t);
      fn(b, e);
    });
  auto [b, e] = range(0);
  fn(b, e);
  for (auto& th : pool) th.join();
}

}  // namespace alloy
