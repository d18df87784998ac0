#include "tensor/convert_simd.h"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "tensor/convert.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ALLOY_CONVERT_X86 1
// The AVX2 kernels pass 256-bit values between inlined helpers (widening lambdas); GCC warns that
// such a return would change the ABI of a non-AVX caller, which none of them has.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#endif

namespace alloy {

namespace {

// ---- scalar reference: the element functions of convert.h, with unaligned loads and stores ----

uint16_t load_u16(const unsigned char* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void store_u16(unsigned char* p, uint16_t v) { std::memcpy(p, &v, sizeof v); }

void f16_to_f32_scalar(const void* src, float* dst, size_t n) {
  const auto* s = static_cast<const unsigned char*>(src);
  for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(load_u16(s + 2 * i));
}

void bf16_to_f32_scalar(const void* src, float* dst, size_t n) {
  const auto* s = static_cast<const unsigned char*>(src);
  for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load_u16(s + 2 * i));
}

void f32_to_f16_scalar(const float* src, void* dst, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  for (size_t i = 0; i < n; ++i) store_u16(d + 2 * i, f32_to_f16(src[i]));
}

void f32_to_bf16_scalar(const float* src, void* dst, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  for (size_t i = 0; i < n; ++i) store_u16(d + 2 * i, f32_to_bf16(src[i]));
}

void round_f16_scalar(float* p, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = f16_to_f32(f32_to_f16(p[i]));
}

void round_bf16_scalar(float* p, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = bf16_to_f32(f32_to_bf16(p[i]));
}

size_t find_non_finite_scalar(const float* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return i;
  return n;
}

size_t f16_to_f32_checked_scalar(const void* src, float* dst, size_t n) {
  f16_to_f32_scalar(src, dst, n);
  return find_non_finite_scalar(dst, n);
}

size_t bf16_to_f32_checked_scalar(const void* src, float* dst, size_t n) {
  bf16_to_f32_scalar(src, dst, n);
  return find_non_finite_scalar(dst, n);
}

constexpr ConvertKernels kScalar = {"scalar",           f16_to_f32_scalar, bf16_to_f32_scalar,
                                    f32_to_f16_scalar,  f32_to_bf16_scalar, round_f16_scalar,
                                    round_bf16_scalar,  find_non_finite_scalar, f16_to_f32_checked_scalar,
                                    bf16_to_f32_checked_scalar};

#ifdef ALLOY_CONVERT_X86

// ---- AVX2 + F16C: 16 elements per step, the remainder (< 16) through the scalar reference ----
// F16C's conversions are exact (f16 -> f32) and round to nearest even (f32 -> f16, rounding taken
// from the immediate, not MXCSR); for NaN they keep the payload and set the quiet bit, as the scalar
// code does, which the tests check over every pattern. bf16 has no instruction: integer ops.
#define ALLOY_AVX2 __attribute__((target("avx2,f16c")))

ALLOY_AVX2 inline __m128i load128(const unsigned char* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

ALLOY_AVX2 void f16_to_f32_avx2(const void* src, float* dst, size_t n) {
  const auto* s = static_cast<const unsigned char*>(src);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(load128(s + 2 * i)));
    _mm256_storeu_ps(dst + i + 8, _mm256_cvtph_ps(load128(s + 2 * i + 16)));
  }
  f16_to_f32_scalar(s + 2 * i, dst + i, n - i);
}

ALLOY_AVX2 void f32_to_f16_avx2(const float* src, void* dst, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m128i a = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    __m128i b = _mm256_cvtps_ph(_mm256_loadu_ps(src + i + 8), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 2 * i), a);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 2 * i + 16), b);
  }
  f32_to_f16_scalar(src + i, d + 2 * i, n - i);
}

// 8 bf16 -> 8 f32 bit patterns; a NaN gets its quiet bit set.
ALLOY_AVX2 inline __m256i widen_bf16(__m128i h) {
  const __m256i bits = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
  const __m256i magnitude = _mm256_and_si256(bits, _mm256_set1_epi32(0x7fffffff));
  const __m256i nan = _mm256_cmpgt_epi32(magnitude, _mm256_set1_epi32(0x7f800000));
  return _mm256_or_si256(bits, _mm256_and_si256(nan, _mm256_set1_epi32(0x00400000)));
}

ALLOY_AVX2 void bf16_to_f32_avx2(const void* src, float* dst, size_t n) {
  const auto* s = static_cast<const unsigned char*>(src);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), widen_bf16(load128(s + 2 * i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 8), widen_bf16(load128(s + 2 * i + 16)));
  }
  bf16_to_f32_scalar(s + 2 * i, dst + i, n - i);
}

// 8 f32 -> 8 bf16 in the low half of each 32-bit lane: x + 0x7fff + lsb, then the top 16 bits
// (round to nearest even; a carry into the exponent gives Inf, as it should); NaN: the top 16 bits
// with the quiet bit set.
ALLOY_AVX2 inline __m256i narrow_bf16(__m256i x) {
  const __m256i top = _mm256_srli_epi32(x, 16);
  const __m256i lsb = _mm256_and_si256(top, _mm256_set1_epi32(1));
  const __m256i rounded =
      _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), lsb), 16);
  const __m256i magnitude = _mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff));
  const __m256i nan = _mm256_cmpgt_epi32(magnitude, _mm256_set1_epi32(0x7f800000));
  const __m256i quiet = _mm256_or_si256(top, _mm256_set1_epi32(0x0040));
  return _mm256_blendv_epi8(rounded, quiet, nan);
}

ALLOY_AVX2 void f32_to_bf16_avx2(const float* src, void* dst, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i a = narrow_bf16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
    const __m256i b = narrow_bf16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 8)));
    // packus works per 128-bit lane: [a0..3 b0..3 | a4..7 b4..7]; put the quadwords in order.
    // Lanes hold 0..0xffff, so the unsigned saturation never changes a value.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + 2 * i), packed);
  }
  f32_to_bf16_scalar(src + i, d + 2 * i, n - i);
}

ALLOY_AVX2 void round_f16_avx2(float* p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(p + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(p + i), _MM_FROUND_TO_NEAREST_INT)));
  round_f16_scalar(p + i, n - i);
}

// bf16 -> f32 only appends zero bits (and sets the quiet bit of a NaN, which narrowing already set):
// rounding through bf16 is narrow_bf16's result shifted back up.
ALLOY_AVX2 void round_bf16_avx2(float* p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i* q = reinterpret_cast<__m256i*>(p + i);
    _mm256_storeu_si256(q, _mm256_slli_epi32(narrow_bf16(_mm256_loadu_si256(q)), 16));
  }
  round_bf16_scalar(p + i, n - i);
}

// A value is NaN or Inf when its exponent bits are all ones (lanes of all ones where so).
ALLOY_AVX2 inline __m256i special_lanes(const float* p) {
  const __m256i exponent = _mm256_set1_epi32(0x7f800000);
  const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm256_cmpeq_epi32(_mm256_and_si256(x, exponent), exponent);
}

// 32 values per test; the scalar scan finds the exact index within a flagged group.
ALLOY_AVX2 size_t find_non_finite_avx2(const float* p, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i any = _mm256_or_si256(_mm256_or_si256(special_lanes(p + i), special_lanes(p + i + 8)),
                                        _mm256_or_si256(special_lanes(p + i + 16), special_lanes(p + i + 24)));
    if (!_mm256_testz_si256(any, any)) return i + find_non_finite_scalar(p + i, 32);
  }
  return i + find_non_finite_scalar(p + i, n - i);
}

// The conversions with the check folded in: the exponent bits of every 16-bit source value are
// ORed into one flag (all ones: NaN or Inf); only a flagged run is searched for the exact index.
ALLOY_AVX2 inline __m128i special_halves(__m128i h, __m128i exponent) {
  return _mm_cmpeq_epi16(_mm_and_si128(h, exponent), exponent);
}

// Inputs are page-cache pages read once, and the hardware prefetchers stop at 4 KB page
// boundaries: the conversion asks for the source 2 KB ahead (linear merges ~6% faster, user time
// ~12% lower; 1 KB and 4 KB did less). A prefetch of an unmapped page is dropped, never a fault.
constexpr size_t kPrefetchAhead = 2048;

// `widen(h)` converts 8 source values (a 128-bit lane) to 8 f32 bit patterns; `tail` converts the
// last n < 16 values; `exponent` is the format's exponent mask.
template <class Widen, class Tail>
ALLOY_AVX2 size_t checked_avx2(const void* src, float* dst, size_t n, uint16_t exponent_bits, Widen widen, Tail tail) {
  const auto* s = static_cast<const unsigned char*>(src);
  const __m128i exponent = _mm_set1_epi16(static_cast<short>(exponent_bits));
  __m128i any = _mm_setzero_si128();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm_prefetch(reinterpret_cast<const char*>(s + 2 * i + kPrefetchAhead), _MM_HINT_T0);
    const __m128i a = load128(s + 2 * i), b = load128(s + 2 * i + 16);
    any = _mm_or_si128(any, _mm_or_si128(special_halves(a, exponent), special_halves(b, exponent)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), widen(a));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 8), widen(b));
  }
  tail(s + 2 * i, dst + i, n - i);
  if (_mm_testz_si128(any, any)) return i + find_non_finite_scalar(dst + i, n - i);
  return find_non_finite_avx2(dst, n);
}

ALLOY_AVX2 size_t f16_to_f32_checked_avx2(const void* src, float* dst, size_t n) {
  return checked_avx2(src, dst, n, 0x7c00, [](__m128i h) ALLOY_AVX2 { return _mm256_castps_si256(_mm256_cvtph_ps(h)); },
                      f16_to_f32_scalar);
}

ALLOY_AVX2 size_t bf16_to_f32_checked_avx2(const void* src, float* dst, size_t n) {
  return checked_avx2(src, dst, n, 0x7f80, [](__m128i h) ALLOY_AVX2 { return widen_bf16(h); }, bf16_to_f32_scalar);
}

#undef ALLOY_AVX2

constexpr ConvertKernels kAvx2 = {"avx2",          f16_to_f32_avx2, bf16_to_f32_avx2,
                                  f32_to_f16_avx2, f32_to_bf16_avx2, round_f16_avx2,
                                  round_bf16_avx2, find_non_finite_avx2, f16_to_f32_checked_avx2,
                                  bf16_to_f32_checked_avx2};

#endif  // ALLOY_CONVERT_X86

const ConvertKernels& automatic_kernels() {
  static const ConvertKernels* chosen = [] {
    const char* env = std::getenv("ALLOY_CONVERT");
    if (env && std::string_view(env) == "scalar") return &kScalar;
    const ConvertKernels* avx2 = avx2_convert_kernels();
    return avx2 ? avx2 : &kScalar;
  }();
  return *chosen;
}

std::atomic<const ConvertKernels*> g_override{nullptr};

}  // namespace

const ConvertKernels& scalar_convert_kernels() { return kScalar; }

const ConvertKernels* avx2_convert_kernels() {
#ifdef ALLOY_CONVERT_X86
  static const bool supported = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
  }();
  return supported ? &kAvx2 : nullptr;
#else
  return nullptr;
#endif
}

const ConvertKernels& active_convert_kernels() {
  const ConvertKernels* k = g_override.load(std::memory_order_relaxed);
  return k ? *k : automatic_kernels();
}

void set_active_convert_kernels(const ConvertKernels* kernels) {
  g_override.store(kernels, std::memory_order_relaxed);
}

}  // namespace alloy
