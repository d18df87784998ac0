// The runtime settings a search of a small model runs under. A search runs the engine forward and
// backward over every probe chunk at every step; for a small model each GEMM is tiny, so OpenBLAS's
// threads cost more in hand-offs and spin-waiting than they save, and the activation buffers,
// allocated and freed once per pass, would be mapped and zero-faulted afresh each time if glibc
// returned them to the system. Results do not depend on either setting (docs/search.md, Cost).
#pragma once
#include <cstdint>

namespace alloy {

// Below this hidden size a search runs OpenBLAS on one thread (the engine's own loops keep -j).
inline constexpr int64_t kSmallModelHidden = 512;

// While alive: OpenBLAS on one thread when the model's hidden_size < kSmallModelHidden (restored
// after), and glibc keeps freed memory for reuse (mmap threshold and trim threshold raised, for
// the rest of the process).
class SearchRuntime {
 public:
  explicit SearchRuntime(int64_t hidden_size);
  ~SearchRuntime();
  SearchRuntime(const SearchRuntime&) = delete;
  SearchRuntime& operator=(const SearchRuntime&) = delete;

 private:
  int blas_threads_ = 0;  // to restore; 0: unchanged
};

}  // namespace alloy
