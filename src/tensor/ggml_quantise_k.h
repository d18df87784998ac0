// The k-quant quantisers (Q4_K, Q5_K, Q6_K: 256-element super-blocks whose sub-block scales are
// themselves quantised), apart from the 32-element types because each needs a scale search; and
// the two helpers both files share. Used through quantise() in ggml_quantise.h.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tensor/convert.h"

namespace alloy::quant_detail {

// Round to nearest, ties to even, for |v| < 2^22 (all the quantisers ask): adding 1.5·2^23 leaves
// the rounded integer in the low mantissa bits, as ggml's nearest_int does; inline, unlike lrintf.
inline int nearest_int(float v) {
  const float shifted = v + 12582912.f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

// Stores v as little-endian f16 at p and returns the value the stored f16 holds.
inline float store_f16(std::byte* p, float v) {
  const uint16_t h = f32_to_f16(v);
  p[0] = std::byte(h & 0xFF);
  p[1] = std::byte(h >> 8);
  return f16_to_f32(h);
}

void quantise_q4_k(const float* src, std::byte* dst, uint64_t blocks);
void quantise_q5_k(const float* src, std::byte* dst, uint64_t blocks);
void quantise_q6_k(const float* src, std::byte* dst, uint64_t blocks);

}  // namespace alloy::quant_detail
