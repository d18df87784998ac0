// Every vector conversion kernel against the scalar reference, bit for bit (ggml test-backend-ops
// style): all 65536 16-bit patterns, f32 patterns around every rounding boundary, random f32 bits
// (NaN payloads, subnormals, Inf), odd lengths and unaligned pointers; the in-place rounding and
// the non-finite scan the same way.
#include "tensor/convert_simd.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/convert.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

std::vector<const ConvertKernels*> vector_kernels() {
  std::vector<const ConvertKernels*> out;
  if (const ConvertKernels* k = avx2_convert_kernels()) out.push_back(k);
  return out;
}

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

std::vector<uint16_t> all_16bit_patterns() {
  std::vector<uint16_t> v(65536);
  for (uint32_t i = 0; i < 65536; ++i) v[i] = static_cast<uint16_t>(i);
  return v;
}

// f32 bit patterns: every top half (sign, exponent, top 7 mantissa bits) with low halves at and
// around each rounding boundary of f16 (bit 12 and the subnormal shifts up to bit 15) and bf16
// (bit 15); then random patterns, NaN payloads and subnormals included.
std::vector<float> probe_floats() {
  const uint16_t lows[] = {0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x2001, 0x3fff,
                           0x4000, 0x4001, 0x5555, 0x7fff, 0x8000, 0x8001, 0xaaaa, 0xc000, 0xffff};
  std::vector<float> v;
  v.reserve(65536 * std::size(lows) + (1u << 20));
  for (uint32_t high = 0; high < 65536; ++high)
    for (uint16_t low : lows) {
      uint32_t b = (high << 16) | low;
      float f;
      std::memcpy(&f, &b, sizeof f);
      v.push_back(f);
    }
  std::mt19937_64 rng(7);
  for (int i = 0; i < (1 << 20); ++i) {
    uint32_t b = static_cast<uint32_t>(rng());
    if (i % 4 == 1) b = (b & 0x807fffffu) | 0x7f800000u;  // NaN (or Inf) with a random payload
    if (i % 4 == 2) b &= 0x807fffffu;                       // f32 subnormal
    float f;
    std::memcpy(&f, &b, sizeof f);
    v.push_back(f);
  }
  return v;
}

void expect_same_floats(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(bits_of(got[i]), bits_of(want[i])) << what << " element " << i;
}

TEST(ConvertSimd, ScalarKernelsAreTheElementFunctions) {
  const ConvertKernels& s = scalar_convert_kernels();
  std::vector<uint16_t> in = all_16bit_patterns();
  std::vector<float> out(in.size());
  s.f16_to_f32(in.data(), out.data(), in.size());
  for (size_t i = 0; i < in.size(); ++i) ASSERT_EQ(bits_of(out[i]), bits_of(f16_to_f32(in[i]))) << i;
  s.bf16_to_f32(in.data(), out.data(), in.size());
  for (size_t i = 0; i < in.size(); ++i) ASSERT_EQ(bits_of(out[i]), bits_of(bf16_to_f32(in[i]))) << i;
  std::vector<float> f = probe_floats();
  std::vector<uint16_t> h(f.size());
  s.f32_to_f16(f.data(), h.data(), f.size());
  for (size_t i = 0; i < f.size(); ++i) ASSERT_EQ(h[i], f32_to_f16(f[i])) << i;
  s.f32_to_bf16(f.data(), h.data(), f.size());
  for (size_t i = 0; i < f.size(); ++i) ASSERT_EQ(h[i], f32_to_bf16(f[i])) << i;
}

TEST(ConvertSimd, WideningAllPatterns) {
  if (vector_kernels().empty()) GTEST_SKIP() << "no vector kernels on this CPU";
  const ConvertKernels& s = scalar_convert_kernels();
  std::vector<uint16_t> in = all_16bit_patterns();
  std::vector<float> want(in.size()), got(in.size());
  for (const ConvertKernels* k : vector_kernels()) {
    SCOPED_TRACE(k->name);
    s.f16_to_f32(in.data(), want.data(), in.size());
    k->f16_to_f32(in.data(), got.data(), in.size());
    expect_same_floats(got, want, "f16_to_f32");
    s.bf16_to_f32(in.data(), want.data(), in.size());
    k->bf16_to_f32(in.data(), got.data(), in.size());
    expect_same_floats(got, want, "bf16_to_f32");
  }
}

TEST(ConvertSimd, NarrowingRoundingBoundariesAndRandomBits) {
  if (vector_kernels().empty()) GTEST_SKIP() << "no vector kernels on this CPU";
  const ConvertKernels& s = scalar_convert_kernels();
  std::vector<float> in = probe_floats();
  std::vector<uint16_t> want(in.size()), got(in.size());
  for (const ConvertKernels* k : vector_kernels()) {
    SCOPED_TRACE(k->name);
    s.f32_to_f16(in.data(), want.data(), in.size());
    k->f32_to_f16(in.data(), got.data(), in.size());
    for (size_t i = 0; i < in.size(); ++i)
      ASSERT_EQ(got[i], want[i]) << "f32_to_f16 of bits 0x" << std::hex << bits_of(in[i]);
    s.f32_to_bf16(in.data(), want.data(), in.size());
    k->f32_to_bf16(in.data(), got.data(), in.size());
    for (size_t i = 0; i < in.size(); ++i)
      ASSERT_EQ(got[i], want[i]) << "f32_to_bf16 of bits 0x" << std::hex << bits_of(in[i]);
  }
}

// Lengths 0..70 (vector body, remainder, both) from every byte offset 0..3 of source and
// destination; bytes outside [0, n) must stay untouched.
TEST(ConvertSimd, OddLengthsAndUnalignedPointers) {
  if (vector_kernels().empty()) GTEST_SKIP() << "no vector kernels on this CPU";
  const ConvertKernels& s = scalar_convert_kernels();
  std::mt19937 rng(11);
  constexpr size_t kMax = 70, kPad = 8;
  std::vector<unsigned char> src16(2 * kMax + kPad), src32(4 * kMax + kPad);
  for (auto& b : src16) b = static_cast<unsigned char>(rng());
  for (auto& b : src32) b = static_cast<unsigned char>(rng());
  for (const ConvertKernels* k : vector_kernels()) {
    SCOPED_TRACE(k->name);
    for (size_t n = 0; n <= kMax; ++n)
      for (size_t so = 0; so < 4; ++so)
        for (size_t dof = 0; dof < 4; ++dof) {
          // Widening: the destination is float*; offset it by whole floats through a byte buffer.
          std::vector<unsigned char> want(4 * kMax + kPad, 0xcd), got(4 * kMax + kPad, 0xcd);
          const void* in = src16.data() + so;
          auto widen = [&](auto fn_s, auto fn_k) {
            std::vector<float> a(n + 2), b(n + 2);
            fn_s(in, a.data() + 1, n);
            fn_k(in, b.data() + 1, n);
            ASSERT_EQ(std::memcmp(a.data(), b.data(), (n + 2) * sizeof(float)), 0) << "n=" << n << " so=" << so;
          };
          widen(s.f16_to_f32, k->f16_to_f32);
          widen(s.bf16_to_f32, k->bf16_to_f32);
          // Narrowing from an unaligned float source (copied to keep the load well defined) into
          // an unaligned byte destination.
          std::vector<float> fin(n);
          if (n > 0) std::memcpy(fin.data(), src32.data() + so, n * sizeof(float));
          auto narrow = [&](auto fn_s, auto fn_k) {
            std::fill(want.begin(), want.end(), 0xcd);
            std::fill(got.begin(), got.end(), 0xcd);
            fn_s(fin.data(), want.data() + dof, n);
            fn_k(fin.data(), got.data() + dof, n);
            ASSERT_EQ(want, got) << "n=" << n << " dof=" << dof;
          };
          narrow(s.f32_to_f16, k->f32_to_f16);
          narrow(s.f32_to_bf16, k->f32_to_bf16);
        }
  }
}

TEST(ConvertSimd, ScalarRoundAndScanAreTheElementFunctions) {
  const ConvertKernels& s = scalar_convert_kernels();
  std::vector<float> in = probe_floats(), got = in;
  s.round_f16(got.data(), got.size());
  for (size_t i = 0; i < in.size(); ++i) ASSERT_EQ(bits_of(got[i]), bits_of(f16_to_f32(f32_to_f16(in[i])))) << i;
  got = in;
  s.round_bf16(got.data(), got.size());
  for (size_t i = 0; i < in.size(); ++i) ASSERT_EQ(bits_of(got[i]), bits_of(bf16_to_f32(f32_to_bf16(in[i])))) << i;
  std::vector<float> finite = {0.0f, -1.0f, 3e38f, 1e-45f, -0.0f};
  EXPECT_EQ(s.find_non_finite(finite.data(), finite.size()), finite.size());
  EXPECT_EQ(s.find_non_finite(finite.data(), 0), 0u);
}

TEST(ConvertSimd, RoundingInPlaceMatchesScalar) {
  if (vector_kernels().empty()) GTEST_SKIP() << "no vector kernels on this CPU";
  const ConvertKernels& s = scalar_convert_kernels();
  const std::vector<float> in = probe_floats();
  for (const ConvertKernels* k : vector_kernels()) {
    SCOPED_TRACE(k->name);
    // Odd offsets and lengths: the vector body and the scalar remainder both run.
    for (size_t offset : {size_t{0}, size_t{1}, size_t{3}}) {
      std::vector<float> want(in.begin() + offset, in.end()), got = want;
      s.round_f16(want.data(), want.size());
      k->round_f16(got.data(), got.size());
      expect_same_floats(got, want, "round_f16");
      want.assign(in.begin() + offset, in.end());
      got = want;
      s.round_bf16(want.data(), want.size());
      k->round_bf16(got.data(), got.size());
      expect_same_floats(got, want, "round_bf16");
    }
  }
}

// Every position of a NaN, Inf or -Inf in arrays of every length up to 100, from unaligned starts.
TEST(ConvertSimd, FindNonFiniteMatchesScalar) {
  if (vector_kernels().empty()) GTEST_SKIP() << "no vector kernels on this CPU";
  const ConvertKernels& s = scalar_convert_kernels();
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), std::bit_cast<float>(0xff800001u)};
  std::vector<float> buf(104);
  for (const ConvertKernels* k : vector_kernels()) {
    SCOPED_TRACE(k->name);
    for (size_t start = 0; start < 4; ++start)
      for (size_t n = 0; n <= 100; ++n) {
        for (size_t i = 0; i < buf.size(); ++i) buf[i] = std::bit_cast<float>(0x7f7fffffu - static_cast<uint32_t>(i));
        ASSERT_EQ(k->find_non_finite(buf.data() + start, n), n);
        for (size_t pos = 0; pos < n; ++pos)
          for (float special : specials) {
            float* p = buf.data() + start;
            float saved = p[pos];
            p[pos] = special;
            if (pos + 1 < n) p[n - 1] = specials[0];  // a later one must not win
            ASSERT_EQ(k->find_non_finite(p, n), s.find_non_finite(p, n)) << "n=" << n << " pos=" << pos;
            ASSERT_EQ(k->find_non_finite(p, n), pos);
            p[pos] = saved;
            if (pos + 1 < n) p[n - 1] = std::bit_cast<float>(0x7f7fffffu - static_cast<uint32_t>(start + n - 1));
          }
      }
  }
}

// The fused convert-and-check kernels: the same floats as the plain conversion and the index of
// the first special value, for a special at every position of every length up to 70, unaligned.
TEST(ConvertSimd, CheckedConversionFindsTheFirstSpecial) {
  std::vector<const ConvertKernels*> all = vector_kernels();
  all.push_back(&scalar_convert_kernels());
  struct Case {
    DType type;
    uint16_t finite, specials[3];  // f16 / bf16: NaN, Inf, -Inf
  };
  const Case cases[] = {{DType::F16, 0x3c01, {0x7e01, 0x7c00, 0xfc00}}, {DType::BF16, 0x3f81, {0x7fc1, 0x7f80, 0xff80}}};
  std::vector<uint16_t> buf(80);
  std::vector<float> got(80), want(80);
  for (const ConvertKernels* k : all) {
    SCOPED_TRACE(k->name);
    for (const Case& c : cases) {
      auto checked = c.type == DType::F16 ? k->f16_to_f32_checked : k->bf16_to_f32_checked;
      auto plain = c.type == DType::F16 ? scalar_convert_kernels().f16_to_f32 : scalar_convert_kernels().bf16_to_f32;
      for (size_t start = 0; start < 3; ++start)
        for (size_t n = 0; n <= 70; ++n) {
          for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint16_t>(c.finite + i);
          uint16_t* p = buf.data() + start;
          ASSERT_EQ(checked(p, got.data(), n), n) << "n=" << n;
          for (size_t pos = 0; pos < n; ++pos)
            for (uint16_t special : c.specials) {
              const uint16_t saved = p[pos], saved_last = p[n - 1];
              p[pos] = special;
              if (pos + 1 < n) p[n - 1] = c.specials[0];  // a later one must not win
              ASSERT_EQ(checked(p, got.data(), n), pos) << "n=" << n << " pos=" << pos;
              plain(p, want.data(), n);
              for (size_t i = 0; i < n; ++i)
                ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i])) << i;
              p[n - 1] = saved_last;
              p[pos] = saved;
            }
        }
    }
  }
  std::vector<float> f32 = {1, 2, std::numeric_limits<float>::infinity()}, out(3);
  EXPECT_EQ(to_f32_checked(DType::F32, f32.data(), out.data(), 3), 2u);
  EXPECT_EQ(to_f32_checked(DType::F32, f32.data(), out.data(), 2), 2u);
}

// to_f32 / from_f32 go through the active kernels and agree with the scalar ones either way.
TEST(ConvertSimd, BulkEntryPointsFollowTheActiveKernels) {
  std::vector<uint16_t> in = all_16bit_patterns();
  std::vector<float> a(in.size()), b(in.size());
  for (DType t : {DType::F16, DType::BF16}) {
    set_active_convert_kernels(&scalar_convert_kernels());
    EXPECT_STREQ(active_convert_kernels().name, "scalar");
    to_f32(t, in.data(), a.data(), in.size());
    set_active_convert_kernels(nullptr);
    to_f32(t, in.data(), b.data(), in.size());
    expect_same_floats(b, a, "to_f32");
    std::vector<uint16_t> ha(in.size()), hb(in.size());
    set_active_convert_kernels(&scalar_convert_kernels());
    from_f32(a.data(), t, ha.data(), a.size());
    set_active_convert_kernels(nullptr);
    from_f32(a.data(), t, hb.data(), a.size());
    EXPECT_EQ(ha, hb);
    std::vector<float> ra = a, rb = a;
    set_active_convert_kernels(&scalar_convert_kernels());
    round_to_dtype(t == DType::F16 ? DType::BF16 : DType::F16, ra.data(), ra.size());
    set_active_convert_kernels(nullptr);
    round_to_dtype(t == DType::F16 ? DType::BF16 : DType::F16, rb.data(), rb.size());
    expect_same_floats(rb, ra, "round_to_dtype");
    EXPECT_EQ(find_non_finite(a.data(), a.size()), t == DType::F16 ? size_t{0x7c00} : size_t{0x7f80});
  }
  std::vector<float> keep = {1.5f, -2.25f};
  round_to_dtype(DType::F32, keep.data(), keep.size());
  round_to_dtype(DType::F64, keep.data(), keep.size());
  EXPECT_EQ(keep, (std::vector<float>{1.5f, -2.25f}));
  EXPECT_THROW(round_to_dtype(DType::I32, keep.data(), keep.size()), std::exception);
}

}  // namespace
}  // namespace alloy
