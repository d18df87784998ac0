#include "tensor/convert.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

// Scalar references written from the IEEE definitions with double arithmetic, independent of the
// bit-twiddling production code.
double half_value(uint16_t h) {
  int sign = (h >> 15) ? -1 : 1;
  int exp = (h >> 10) & 0x1f;
  int man = h & 0x3ff;
  if (exp == 0) return sign * std::ldexp(man, -24);
  if (exp == 31) return man ? std::numeric_limits<double>::quiet_NaN() : sign * INFINITY;
  return sign * std::ldexp(1024 + man, exp - 25);
}

// Round-to-nearest-even of x onto the set of values of all 2^16 patterns of a 16-bit format
// (given by `value`), by searching the neighbours of a candidate. `max_finite` and the top
// "halfway to next binade" threshold decide overflow.
template <class ValueFn>
uint16_t reference_round(double x, ValueFn value, uint16_t max_finite_bits, uint16_t inf_bits) {
  bool neg = std::signbit(x);
  double a = std::fabs(x);
  uint16_t sign = neg ? 0x8000 : 0;
  double maxv = value(max_finite_bits);
  double next_ulp = maxv - value(max_finite_bits - 1);  // spacing at the top binade
  if (a >= maxv + next_ulp / 2) return sign | inf_bits;
  // binary search for the largest pattern with value <= a
  uint16_t lo = 0, hi = max_finite_bits;
  while (lo < hi) {
    uint16_t mid = static_cast<uint16_t>((lo + hi + 1) / 2);
    if (value(mid) <= a) lo = mid; else hi = mid - 1;
  }
  if (value(lo) == a) return sign | lo;
  if (lo == max_finite_bits) return sign | lo;  // below the overflow threshold
  double dl = a - value(lo), dh = value(lo + 1) - a;
  uint16_t r = (dl < dh) ? lo : (dh < dl) ? static_cast<uint16_t>(lo + 1) : ((lo & 1) ? lo + 1 : lo);
  return sign | r;
}

double bf16_value(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  return static_cast<double>(std::bit_cast<float>(bits));
}

TEST(Convert, HalfToFloatAllPatterns) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = f16_to_f32(static_cast<uint16_t>(h));
    double ref = half_value(static_cast<uint16_t>(h));
    if (std::isnan(ref)) {
      ASSERT_TRUE(std::isnan(f)) << h;
      ASSERT_TRUE(std::bit_cast<uint32_t>(f) & 0x00400000u) << "NaN must be quiet: " << h;
    } else {
      ASSERT_EQ(static_cast<double>(f), ref) << h;
      ASSERT_EQ(std::signbit(f), std::signbit(ref)) << h;
    }
  }
}

TEST(Convert, HalfRoundTripAllPatterns) {
  for (uint32_t h = 0; h < 65536; ++h) {
    uint16_t back = f32_to_f16(f16_to_f32(static_cast<uint16_t>(h)));
    if (std::isnan(half_value(static_cast<uint16_t>(h))))
      ASSERT_TRUE(std::isnan(f16_to_f32(back))) << h;
    else
      ASSERT_EQ(back, h) << h;
  }
}

TEST(Convert, BFloatRoundTripAllPatterns) {
  for (uint32_t b = 0; b < 65536; ++b) {
    float f = bf16_to_f32(static_cast<uint16_t>(b));
    ASSERT_EQ(static_cast<double>(f) == bf16_value(static_cast<uint16_t>(b)) || std::isnan(f), true);
    uint16_t back = f32_to_bf16(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(bf16_to_f32(back)));
      ASSERT_TRUE(back & 0x0040) << "NaN must be quiet: " << b;
    } else {
      ASSERT_EQ(back, b) << b;
    }
  }
}

// Every midpoint and quarter point between adjacent half values (and beyond the largest finite
// value) rounds as round-to-nearest-even says.
TEST(Convert, FloatToHalfRoundsToNearestEven) {
  auto check = [](double x) {
    float f = static_cast<float>(x);
    ASSERT_EQ(static_cast<double>(f), x);  // all probes are exact in f32
    uint16_t got = f32_to_f16(f);
    uint16_t want = reference_round(x, half_value, 0x7bff, 0x7c00);
    ASSERT_EQ(got, want) << "x=" << x;
  };
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    double v = half_value(static_cast<uint16_t>(h));
    double next = (h + 1 < 0x7c00) ? half_value(static_cast<uint16_t>(h + 1)) : 65536.0;
    for (int q = 0; q < 4; ++q) {
      double x = v + (next - v) * q / 4;
      check(x);
      check(-x);
    }
  }
  EXPECT_EQ(f32_to_f16(1e10f), 0x7c00);
  EXPECT_EQ(f32_to_f16(-INFINITY), 0xfc00);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);       // tie to even zero
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);       // above the tie
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -30)), 0x0000);
  EXPECT_TRUE((f32_to_f16(std::numeric_limits<float>::quiet_NaN()) & 0x7fff) > 0x7c00);
  // A signalling NaN becomes a quiet half NaN.
  float snan = std::bit_cast<float>(0x7f800001u);
  uint16_t h = f32_to_f16(snan);
  EXPECT_EQ(h & 0x7e00, 0x7e00);
}

TEST(Convert, FloatToBFloatRoundsToNearestEven) {
  for (uint32_t b = 0; b < 0x7f80; b += 1) {
    double v = bf16_value(static_cast<uint16_t>(b));
    double next = bf16_value(static_cast<uint16_t>(b + 1));
    if (std::isinf(next)) next = v + (v - bf16_value(static_cast<uint16_t>(b - 1)));
    for (int q = 1; q < 4; ++q) {
      double x = v + (next - v) * q / 4;
      float f = static_cast<float>(x);
      ASSERT_EQ(static_cast<double>(f), x);
      uint16_t want = reference_round(x, bf16_value, 0x7f7f, 0x7f80);
      ASSERT_EQ(f32_to_bf16(f), want) << "x=" << x;
      ASSERT_EQ(f32_to_bf16(-f), want | 0x8000) << "x=" << -x;
    }
  }
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds up to Inf
  float snan = std::bit_cast<float>(0x7f800001u);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(snan))));
}

TEST(Convert, Float8) {
  EXPECT_EQ(f8_e4m3_to_f32(0x7e), 448.0f);   // max finite
  EXPECT_TRUE(std::isnan(f8_e4m3_to_f32(0x7f)));
  EXPECT_EQ(f8_e4m3_to_f32(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(f8_e4m3_to_f32(0x38), 1.0f);
  EXPECT_EQ(f8_e4m3_to_f32(0xb8), -1.0f);
  EXPECT_EQ(f8_e5m2_to_f32(0x7b), 57344.0f);
  EXPECT_TRUE(std::isinf(f8_e5m2_to_f32(0x7c)));
  EXPECT_TRUE(std::isnan(f8_e5m2_to_f32(0x7d)));
  EXPECT_EQ(f8_e5m2_to_f32(0x3c), 1.0f);
  // Every E4M3 pattern against the formula.
  for (int v = 0; v < 256; ++v) {
    int e = (v >> 3) & 15, m = v & 7;
    if (e == 15 && m == 7) continue;
    double ref = (e == 0 ? std::ldexp(m, -9) : std::ldexp(8 + m, e - 10)) * ((v & 0x80) ? -1 : 1);
    ASSERT_EQ(static_cast<double>(f8_e4m3_to_f32(static_cast<uint8_t>(v))), ref) << v;
  }
}

TEST(Convert, BulkUnalignedMatchesScalar) {
  alignas(8) unsigned char buf[2 * 37 + 1];
  for (size_t i = 0; i < sizeof(buf); ++i) buf[i] = static_cast<unsigned char>(i * 37 + 11);
  float out[37];
  to_f32(DType::F16, buf + 1, out, 37);
  for (int i = 0; i < 37; ++i) {
    uint16_t h;
    std::memcpy(&h, buf + 1 + 2 * i, 2);
    float want = f16_to_f32(h);
    ASSERT_TRUE(out[i] == want || (std::isnan(out[i]) && std::isnan(want)));
  }
  unsigned char back[2 * 37 + 1];
  from_f32(out, DType::BF16, back + 1, 37);
  for (int i = 0; i < 37; ++i) {
    uint16_t b;
    std::memcpy(&b, back + 1 + 2 * i, 2);
    ASSERT_EQ(b, f32_to_bf16(out[i]));
  }
  EXPECT_THROW(from_f32(out, DType::I32, back, 1), std::exception);
}

}  // namespace
}  // namespace alloy
