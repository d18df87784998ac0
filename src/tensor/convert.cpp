#include "tensor/convert.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "tensor/convert_simd.h"
#include "util/error.h"

namespace alloy {

float f16_to_f32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (man == 0) return std::bit_cast<float>(sign);
    // Subnormal half: normalise into an f32 normal.
    uint32_t e = 113;
    while ((man & 0x400u) == 0) {
      man <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((man & 0x3ffu) << 13);
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
    if (man != 0) bits |= 0x00400000u;  // NaN: keep the payload, make it quiet
  } else {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  }
  return std::bit_cast<float>(bits);
}

uint16_t f32_to_f16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) {
    if (x > 0x7f800000u) return sign | 0x7e00u | static_cast<uint16_t>((x >> 13) & 0x3ffu);
    return sign | 0x7c00u;
  }
  if (x >= 0x47800000u) return sign | 0x7c00u;  // >= 65536: Inf after any rounding
  if (x < 0x38800000u) {                        // below 2^-14: half subnormal or zero
    if (x < 0x33000000u) return sign;           // <= 2^-25 rounds to zero (tie goes to even 0)
    uint32_t e = x >> 23;
    uint32_t m = (x & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e;  // 14..24: value in units of 2^-24
    uint32_t r = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1u))) ++r;  // may carry into the smallest normal: right
    return sign | static_cast<uint16_t>(r);
  }
  uint32_t r = (x - 0x38000000u) >> 13;  // rebias exponent 127 -> 15, drop 13 mantissa bits
  uint32_t rem = x & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;  // a carry may reach Inf: right
  return sign | static_cast<uint16_t>(r);
}

float bf16_to_f32(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu)) bits |= 0x00400000u;
  return std::bit_cast<float>(bits);
}

uint16_t f32_to_bf16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

float f8_e4m3_to_f32(uint8_t v) {
  float sign = (v & 0x80u) ? -1.0f : 1.0f;
  int exp = (v >> 3) & 0xf;
  int man = v & 0x7;
  if (exp == 15 && man == 7) return std::numeric_limits<float>::quiet_NaN();
  if (exp == 0) return sign * std::ldexp(static_cast<float>(man), -9);
  return sign * std::ldexp(1.0f + static_cast<float>(man) / 8.0f, exp - 7);
}

float f8_e5m2_to_f32(uint8_t v) { return f16_to_f32(static_cast<uint16_t>(v) << 8); }

namespace {

template <class T>
T load(const void* p, size_t i) {
  T v;
  std::memcpy(&v, static_cast<const unsigned char*>(p) + i * sizeof(T), sizeof(T));
  return v;
}

template <class T>
void store(void* p, size_t i, T v) {
  std::memcpy(static_cast<unsigned char*>(p) + i * sizeof(T), &v, sizeof(T));
}

template <class T, class F>
void widen(const void* src, float* dst, size_t n, F f) {
  for (size_t i = 0; i < n; ++i) dst[i] = f(load<T>(src, i));
}

}  // namespace

void to_f32(DType type, const void* src, float* dst, size_t n) {
  switch (type) {
    case DType::F32: std::memcpy(dst, src, n * sizeof(float)); return;
    case DType::F16: return active_convert_kernels().f16_to_f32(src, dst, n);
    case DType::BF16: return active_convert_kernels().bf16_to_f32(src, dst, n);
    case DType::F64: return widen<double>(src, dst, n, [](double v) { return static_cast<float>(v); });
    case DType::I64: return widen<int64_t>(src, dst, n, [](int64_t v) { return static_cast<float>(v); });
    case DType::I32: return widen<int32_t>(src, dst, n, [](int32_t v) { return static_cast<float>(v); });
    case DType::I16: return widen<int16_t>(src, dst, n, [](int16_t v) { return static_cast<float>(v); });
    case DType::I8: return widen<int8_t>(src, dst, n, [](int8_t v) { return static_cast<float>(v); });
    case DType::U8: return widen<uint8_t>(src, dst, n, [](uint8_t v) { return static_cast<float>(v); });
    case DType::BOOL: return widen<uint8_t>(src, dst, n, [](uint8_t v) { return v ? 1.0f : 0.0f; });
    case DType::F8_E4M3: return widen<uint8_t>(src, dst, n, f8_e4m3_to_f32);
    case DType::F8_E5M2: return widen<uint8_t>(src, dst, n, f8_e5m2_to_f32);
  }
  fail("to_f32: unknown dtype");
}

void from_f32(const float* src, DType type, void* dst, size_t n) {
  switch (type) {
    case DType::F32: std::memcpy(dst, src, n * sizeof(float)); return;
    case DType::F16: return active_convert_kernels().f32_to_f16(src, dst, n);
    case DType::BF16: return active_convert_kernels().f32_to_bf16(src, dst, n);
    case DType::F64:
      for (size_t i = 0; i < n; ++i) store<double>(dst, i, static_cast<double>(src[i]));
      return;
    default: break;
  }
  fail("cannot write merged values as ", dtype_name(type), ": output dtype must be float32, "
       "float16, bfloat16 or float64");
}

void round_to_dtype(DType type, float* values, size_t n) {
  switch (type) {
    case DType::F32:
    case DType::F64: return;
    case DType::F16: return active_convert_kernels().round_f16(values, n);
    case DType::BF16: return active_convert_kernels().round_bf16(values, n);
    default: break;
  }
  fail("cannot round values through ", dtype_name(type), ": expected float32, float16, bfloat16 or float64");
}

size_t find_non_finite(const float* values, size_t n) { return active_convert_kernels().find_non_finite(values, n); }

size_t to_f32_checked(DType type, const void* src, float* dst, size_t n) {
  if (type == DType::F16) return active_convert_kernels().f16_to_f32_checked(src, dst, n);
  if (type == DType::BF16) return active_convert_kernels().bf16_to_f32_checked(src, dst, n);
  to_f32(type, src, dst, n);
  return find_non_finite(dst, n);
}

}  // namespace alloy
