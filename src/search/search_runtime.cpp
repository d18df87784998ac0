#include "search/search_runtime.h"

#include <cblas.h>
#include <malloc.h>

namespace alloy {

SearchRuntime::SearchRuntime(int64_t hidden_size) {
  // Above every activation buffer of a probe pass of a small model; a large model's
  // buffers still come from mmap, where the page faults are small beside the work.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  if (hidden_size < kSmallModelHidden) {
    blas_threads_ = openblas_get_num_threads();
    openblas_set_num_threads(1);
  }
}

SearchRuntime::~SearchRuntime() {
  if (blas_threads_ > 0) openblas_set_num_threads(blas_threads_);
}

}  // namespace alloy
