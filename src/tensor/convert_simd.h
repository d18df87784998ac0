// Bulk f16/bf16 <-> f32 conversion kernels: the scalar reference (the functions of convert.h in a
// loop) and, on x86-64 CPUs with AVX2 and F16C, vector versions chosen at run time. Every kernel
// set gives results bit-identical to the scalar one: round to nearest even, NaN kept with its
// payload and made quiet, Inf and subnormals exact. to_f32/from_f32 use the active set.
#pragma once
#include <cstddef>

namespace alloy {

struct ConvertKernels {
  const char* name;  // "scalar", "avx2"
  // `src` and `dst` need not be aligned; n may be any count, 0 included.
  void (*f16_to_f32)(const void* src, float* dst, size_t n);
  void (*bf16_to_f32)(const void* src, float* dst, size_t n);
  void (*f32_to_f16)(const float* src, void* dst, size_t n);
  void (*f32_to_bf16)(const float* src, void* dst, size_t n);
  // In place: each value becomes what f32 -> f16 (bf16) -> f32 gives.
  void (*round_f16)(float* values, size_t n);
  void (*round_bf16)(float* values, size_t n);
  // Index of the first NaN or Inf, n when every value is finite.
  size_t (*find_non_finite)(const float* values, size_t n);
  // f16/bf16 -> f32 and find_non_finite of the result in one pass over the data.
  size_t (*f16_to_f32_checked)(const void* src, float* dst, size_t n);
  size_t (*bf16_to_f32_checked)(const void* src, float* dst, size_t n);
};

const ConvertKernels& scalar_convert_kernels();
// The AVX2+F16C kernels; nullptr when this CPU (or this build's target) lacks them.
const ConvertKernels* avx2_convert_kernels();

// The set to_f32/from_f32 use: the fastest this CPU runs, or the scalar one when the environment
// variable ALLOY_CONVERT is "scalar" (read once, at first use).
const ConvertKernels& active_convert_kernels();
// Overrides the choice for this process (benchmarks comparing kernels); nullptr restores the
// automatic choice.
void set_active_convert_kernels(const ConvertKernels* kernels);

}  // namespace alloy
