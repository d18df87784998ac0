// The histogram TopKSelector counts magnitude bits in (top_k.cpp, and its window estimator in
// top_k_window.cpp): 2^16 buckets by the high half of the bits, and slots for exact zeros.
#pragma once
#include <cstddef>
#include <cstdint>

namespace alloy::top_k_detail {

inline constexpr size_t kBuckets = 1 << 16;
inline constexpr size_t kZeroSlots = 8;  // exact zeros are counted in 8 rotating slots after the buckets
// Counts within a call are summed in 32-bit lanes (64-bit ones halve the vector width and add
// widening steps), a chunk of at most 2^31 elements at a time.
inline constexpr int64_t kCountChunk = int64_t{1} << 31;

// The exact zeros among n magnitudes.
int64_t count_zeros(const uint32_t* mag, int64_t n);

}  // namespace alloy::top_k_detail
