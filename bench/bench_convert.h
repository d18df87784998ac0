// Throughput of the f16/bf16 <-> f32 conversion kernels (and the in-place bf16 rounding and the
// non-finite scan) (scalar reference and each vector set this
// CPU runs) on a block that stays in cache, as the executor's 64K-element blocks do, and on a
// buffer far larger than the caches.
#pragma once
#include <string>
#include <vector>

namespace alloy::bench {

struct ConvertSpeed {
  std::string kernels;  // "scalar", "avx2"
  std::string op;       // "bf16_to_f32", ...
  double cached_elements_per_s = 0;
  double memory_elements_per_s = 0;
};

std::vector<ConvertSpeed> convert_benchmark();

}  // namespace alloy::bench
