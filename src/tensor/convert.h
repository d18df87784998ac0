// Conversions between storage dtypes and the f32 that all merge math runs in.
// Narrowing (f32 -> f16/bf16) rounds to nearest, ties to even; NaN stays NaN (made quiet);
// overflow goes to Inf; subnormals are exact both ways.
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace alloy {

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t b);
uint16_t f32_to_bf16(float f);
float f8_e4m3_to_f32(uint8_t v);  // OCP E4M3FN: bias 7, no Inf, NaN = S.1111.111
float f8_e5m2_to_f32(uint8_t v);  // bias 15, IEEE-like Inf/NaN

// Converts n elements of `src` (any float dtype, or an integer dtype, exactly where representable)
// to f32. `src` need not be aligned. F16 and BF16 (both directions) run the active kernels of
// convert_simd.h (vectorised where the CPU allows), bit-identical to the element functions above.
void to_f32(DType src_type, const void* src, float* dst, size_t n);
// Converts n f32 values to `dst_type` (F32, F16, BF16 or F64). `dst` need not be aligned.
void from_f32(const float* src, DType dst_type, void* dst, size_t n);
// Rounds n f32 values in place to the nearest value of `type`, exactly as from_f32 to `type` and
// to_f32 back would (F16, BF16; F32 and F64 leave them as they are). Vectorised like to_f32.
void round_to_dtype(DType type, float* values, size_t n);
// Index of the first NaN or Inf among n values; n when all are finite. Vectorised.
size_t find_non_finite(const float* values, size_t n);
// to_f32, then find_non_finite of the result; for F16 and BF16 in one pass over the data.
size_t to_f32_checked(DType src_type, const void* src, float* dst, size_t n);

}  // namespace alloy
