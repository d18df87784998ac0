// GCC vector types (four f64 or eight 32-bit lanes) for loops whose lanes the compiler does not
// find by itself (several arrays or sums per element, draws eight at a time). Lane arithmetic is
// IEEE per lane, so a loop written with them gives the same bits as its scalar form with four
// interleaved partial sums; in an AVX2 clone a 4 x f64 value is one register, in the baseline
// build two SSE2 ones.
#pragma once
#include <cstdint>
#include <cstring>

namespace alloy {

typedef float F32x4 __attribute__((vector_size(16)));
typedef float F32x8 __attribute__((vector_size(32)));
typedef double F64x4 __attribute__((vector_size(32)));
typedef uint32_t U32x4 __attribute__((vector_size(16)));
typedef uint32_t U32x8 __attribute__((vector_size(32)));
typedef int32_t I32x4 __attribute__((vector_size(16)));
typedef int32_t I32x8 __attribute__((vector_size(32)));
typedef int64_t I64x4 __attribute__((vector_size(32)));

// Four floats from `at` (unaligned), widened to f64. An out-parameter, not a return value: an
// AVX-sized value passed by value would be a different ABI in the baseline build.
// Written lane by lane: GCC 12 lowers __builtin_convertvector(F32x4 -> F64x4) in halves (two
// loads, two conversions and an insert), but matches this form to one vcvtps2pd from memory.
__attribute__((always_inline)) inline void load_f64x4(const float* at, F64x4& to) {
  to = F64x4{at[0], at[1], at[2], at[3]};
}

}  // namespace alloy
