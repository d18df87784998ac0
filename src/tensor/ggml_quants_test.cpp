// Dequantisers against blocks packed here by hand from the format description (known d, dmin,
// scales and quants), expected values computed by the format's formula in double. Scales are
// chosen so that every product is exact in f32, so the comparison is exact, element by element.
#include "tensor/ggml_quants.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using Bytes = std::vector<std::byte>;

// Small deterministic generator for quants and scales (values only; no claim to randomness).
struct Lcg {
  uint64_t state;
  int below(int n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int>((state >> 33) % static_cast<uint64_t>(n));
  }
  int in(int lo, int hi) { return lo + below(hi - lo + 1); }  // inclusive
};

// f16 bit patterns of values exact in a few bits of mantissa.
constexpr uint16_t kHalf = 0x3800;         // 0.5
constexpr uint16_t kThreeEighths = 0x3600; // 0.375
constexpr uint16_t kMinusOneAndQuarter = 0xBD00;  // -1.25
constexpr uint16_t kSixteenth = 0x2C00;    // 0.0625
constexpr uint16_t kTwoAndHalf = 0x4100;   // 2.5

double f16_value(uint16_t bits) {
  switch (bits) {
    case kHalf: return 0.5;
    case kThreeEighths: return 0.375;
    case kMinusOneAndQuarter: return -1.25;
    case kSixteenth: return 0.0625;
    case kTwoAndHalf: return 2.5;
  }
  ADD_FAILURE() << "no value for f16 bits " << bits;
  return 0;
}

void put_f16(Bytes& b, size_t at, uint16_t bits) {
  b[at] = std::byte(bits & 0xFF);
  b[at + 1] = std::byte(bits >> 8);
}
void set(Bytes& b, size_t at, int value) { b[at] = std::byte(static_cast<uint8_t>(value)); }
void set_bits(Bytes& b, size_t at, int value) { b[at] |= std::byte(static_cast<uint8_t>(value)); }

std::vector<float> decode(GgmlType type, const Bytes& bytes, uint64_t n) {
  std::vector<float> out(n, -12345.0f);
  dequantise(type, bytes.data(), out.data(), n);
  return out;
}

void expect_equal(const std::vector<float>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], static_cast<float>(want[i])) << "element " << i;
}

TEST(GgmlQuants, TraitsMatchTheFormatsBlockSizes) {
  struct Row { GgmlType t; uint32_t elems, bytes; };
  for (Row r : {Row{GgmlType::Q4_0, 32, 18}, {GgmlType::Q4_1, 32, 20}, {GgmlType::Q5_0, 32, 22},
                {GgmlType::Q5_1, 32, 24}, {GgmlType::Q8_0, 32, 34}, {GgmlType::Q2_K, 256, 84},
                {GgmlType::Q3_K, 256, 110}, {GgmlType::Q4_K, 256, 144}, {GgmlType::Q5_K, 256, 176},
                {GgmlType::Q6_K, 256, 210}, {GgmlType::IQ4_XS, 256, 136}, {GgmlType::MXFP4, 32, 17},
                {GgmlType::BF16, 1, 2}}) {
    EXPECT_EQ(traits(r.t).block_elements, r.elems) << ggml_type_name(r.t);
    EXPECT_EQ(traits(r.t).block_bytes, r.bytes) << ggml_type_name(r.t);
  }
  EXPECT_EQ(ggml_type_traits(4), nullptr);  // retired Q4_2
  EXPECT_EQ(ggml_type_traits(1000), nullptr);
  EXPECT_EQ(ggml_type_from_name("q4_k"), GgmlType::Q4_K);
  EXPECT_FALSE(ggml_type_from_name("q4_2"));
}

TEST(GgmlQuants, PlainFloatTypes) {
  Bytes f16 = {std::byte(0x00), std::byte(0x3C), std::byte(0x00), std::byte(0xC0), std::byte(0x01), std::byte(0x00)};
  std::vector<float> got = decode(GgmlType::F16, f16, 3);
  EXPECT_EQ(got[0], 1.0f);
  EXPECT_EQ(got[1], -2.0f);
  EXPECT_EQ(got[2], 0x1p-24f);  // the smallest f16 subnormal
  Bytes bf16 = {std::byte(0x80), std::byte(0x3F), std::byte(0x40), std::byte(0xC0)};
  got = decode(GgmlType::BF16, bf16, 2);
  EXPECT_EQ(got[0], 1.0f);
  EXPECT_EQ(got[1], -3.0f);
  Bytes f32(8);
  const float values[2] = {1.5f, -0.25f};
  std::memcpy(f32.data(), values, 8);
  got = decode(GgmlType::F32, f32, 2);
  EXPECT_EQ(got[0], 1.5f);
  EXPECT_EQ(got[1], -0.25f);
}

// Q8_0: {f16 d; i8 q[32]}, x = d·q. Two blocks, the second with a negative scale.
TEST(GgmlQuants, Q8_0) {
  Lcg rng{1};
  Bytes b(68);
  std::vector<double> want;
  const uint16_t ds[2] = {kThreeEighths, kMinusOneAndQuarter};
  for (int blk = 0; blk < 2; ++blk) {
    put_f16(b, 34 * blk, ds[blk]);
    for (int j = 0; j < 32; ++j) {
      int q = j == 0 ? -128 : j == 1 ? 127 : rng.in(-128, 127);
      set(b, 34 * blk + 2 + j, q);
      want.push_back(f16_value(ds[blk]) * q);
    }
  }
  expect_equal(decode(GgmlType::Q8_0, b, 64), want);
}

// Q4_0: {f16 d; u8 qs[16]}: element j in the low nibble of qs[j], element j+16 in its high
// nibble, both stored plus 8; x = d·(nibble − 8).
TEST(GgmlQuants, Q4_0) {
  Lcg rng{2};
  Bytes b(18);
  put_f16(b, 0, kMinusOneAndQuarter);
  std::vector<double> want(32);
  for (int e = 0; e < 32; ++e) {
    int q = rng.in(-8, 7);
    set_bits(b, 2 + e % 16, (q + 8) << (e < 16 ? 0 : 4));
    want[e] = -1.25 * q;
  }
  expect_equal(decode(GgmlType::Q4_0, b, 32), want);
}

// Q4_1: {f16 d, m; u8 qs[16]}, same nibbles unbiased; x = d·q + m.
TEST(GgmlQuants, Q4_1) {
  Lcg rng{3};
  Bytes b(20);
  put_f16(b, 0, kThreeEighths);
  put_f16(b, 2, kMinusOneAndQuarter);
  std::vector<double> want(32);
  for (int e = 0; e < 32; ++e) {
    int q = e == 5 ? 15 : rng.in(0, 15);
    set_bits(b, 4 + e % 16, q << (e < 16 ? 0 : 4));
    want[e] = 0.375 * q - 1.25;
  }
  expect_equal(decode(GgmlType::Q4_1, b, 32), want);
}

// Q5_0: {f16 d; u32 qh; u8 qs[16]}: the low 4 bits as in Q4_0, the fifth bit of element e is bit
// e of qh (little-endian); stored plus 16; x = d·(q − 16).
TEST(GgmlQuants, Q5_0) {
  Lcg rng{4};
  Bytes b(22);
  put_f16(b, 0, kHalf);
  std::vector<double> want(32);
  for (int e = 0; e < 32; ++e) {
    int q = e == 31 ? 15 : e == 0 ? -16 : rng.in(-16, 15);
    int stored = q + 16;
    set_bits(b, 6 + e % 16, (stored & 0xF) << (e < 16 ? 0 : 4));
    if (stored & 0x10) set_bits(b, 2 + e / 8, 1 << (e % 8));
    want[e] = 0.5 * q;
  }
  expect_equal(decode(GgmlType::Q5_0, b, 32), want);
}

// Q5_1: {f16 d, m; u32 qh; u8 qs[16]}; x = d·q + m, q in 0..31.
TEST(GgmlQuants, Q5_1) {
  Lcg rng{5};
  Bytes b(24);
  put_f16(b, 0, kSixteenth);
  put_f16(b, 2, kTwoAndHalf);
  std::vector<double> want(32);
  for (int e = 0; e < 32; ++e) {
    int q = rng.in(0, 31);
    set_bits(b, 8 + e % 16, (q & 0xF) << (e < 16 ? 0 : 4));
    if (q & 0x10) set_bits(b, 4 + e / 8, 1 << (e % 8));
    want[e] = 0.0625 * q + 2.5;
  }
  expect_equal(decode(GgmlType::Q5_1, b, 32), want);
}

// Where a 2-bit quant of element e (0..255) of a Q2_K/Q3_K super-block lives: byte 32·(e / 128)
// + e % 32 of qs, bits 2·((e % 128) / 32) and up.
size_t two_bit_byte(int e) { return 32 * (e / 128) + e % 32; }
int two_bit_shift(int e) { return 2 * ((e % 128) / 32); }

// Q2_K: {u8 scales[16]; u8 qs[64]; f16 d, dmin}: scales[e/16] holds the scale (low nibble) and
// the min (high nibble) of its 16 elements; x = d·scale·q − dmin·min, q in 0..3.
TEST(GgmlQuants, Q2_K) {
  Lcg rng{6};
  Bytes b(84);
  int scale[16], min[16];
  for (int s = 0; s < 16; ++s) {
    scale[s] = rng.in(0, 15);
    min[s] = rng.in(0, 15);
    set(b, s, scale[s] | (min[s] << 4));
  }
  put_f16(b, 80, kThreeEighths);
  put_f16(b, 82, kSixteenth);
  std::vector<double> want(256);
  for (int e = 0; e < 256; ++e) {
    int q = rng.in(0, 3);
    set_bits(b, 16 + two_bit_byte(e), q << two_bit_shift(e));
    want[e] = 0.375 * scale[e / 16] * q - 0.0625 * min[e / 16];
  }
  expect_equal(decode(GgmlType::Q2_K, b, 256), want);
}

// Q3_K: {u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d}: q in −4..3 is its 2 low bits (placed as
// in Q2_K) minus 4 unless bit 4·(e / 128) + (e % 128) / 32 of hmask[e % 32] is set. Scale s
// (−32..31, stored plus 32 in 6 bits): low 4 bits in the low nibble of byte s (s < 8) or the high
// nibble of byte s − 8, top 2 bits at bit 2·(s / 4) of byte 8 + s % 4. x = d·scale·q.
TEST(GgmlQuants, Q3_K) {
  Lcg rng{7};
  Bytes b(110);
  int scale[16];
  for (int s = 0; s < 16; ++s) {
    scale[s] = s == 0 ? -32 : s == 15 ? 31 : rng.in(-32, 31);
    int stored = scale[s] + 32;
    set_bits(b, 96 + (s < 8 ? s : s - 8), (stored & 0xF) << (s < 8 ? 0 : 4));
    set_bits(b, 96 + 8 + s % 4, (stored >> 4) << (2 * (s / 4)));
  }
  put_f16(b, 108, kHalf);
  std::vector<double> want(256);
  for (int e = 0; e < 256; ++e) {
    int q = rng.in(-4, 3);
    int low = q >= 0 ? q : q + 4;
    set_bits(b, 32 + two_bit_byte(e), low << two_bit_shift(e));
    if (q >= 0) set_bits(b, e % 32, 1 << (4 * (e / 128) + (e % 128) / 32));
    want[e] = 0.5 * scale[e / 16] * q;
  }
  expect_equal(decode(GgmlType::Q3_K, b, 256), want);
}

// The Q4_K/Q5_K scale bytes: eight 6-bit (scale, min) pairs. Pair s < 4: scale in the low 6 bits
// of byte s, min in the low 6 bits of byte s + 4. Pair s >= 4: low 4 bits of scale and min in the
// low and high nibble of byte s + 4, their top 2 bits in bits 6-7 of bytes s − 4 and s.
void pack_k4_scales(Bytes& b, size_t at, const int* scale, const int* min) {
  for (int s = 0; s < 8; ++s) {
    if (s < 4) {
      set_bits(b, at + s, scale[s]);
      set_bits(b, at + s + 4, min[s]);
    } else {
      set_bits(b, at + s + 4, (scale[s] & 0xF) | ((min[s] & 0xF) << 4));
      set_bits(b, at + s - 4, (scale[s] >> 4) << 6);
      set_bits(b, at + s, (min[s] >> 4) << 6);
    }
  }
}

// Where the low 4 bits of element e of a Q4_K/Q5_K super-block live: byte 32·(e / 64) + e % 32
// of qs, low nibble for the first 32 of each 64 and high nibble for the next 32.
size_t k4_byte(int e) { return 32 * (e / 64) + e % 32; }
int k4_shift(int e) { return e % 64 < 32 ? 0 : 4; }

// Q4_K: {f16 d, dmin; u8 scales[12]; u8 qs[128]}, 8 sub-blocks of 32: x = d·scale·q − dmin·min.
TEST(GgmlQuants, Q4_K) {
  Lcg rng{8};
  for (int round = 0; round < 3; ++round) {
    Bytes b(144);
    int scale[8], min[8];
    for (int s = 0; s < 8; ++s) {
      scale[s] = round == 1 ? 63 : rng.in(0, 63);
      min[s] = round == 1 ? 63 - s : rng.in(0, 63);
    }
    put_f16(b, 0, round == 2 ? kMinusOneAndQuarter : kSixteenth);
    put_f16(b, 2, kThreeEighths);
    pack_k4_scales(b, 4, scale, min);
    std::vector<double> want(256);
    const double d = round == 2 ? -1.25 : 0.0625;
    for (int e = 0; e < 256; ++e) {
      int q = rng.in(0, 15);
      set_bits(b, 16 + k4_byte(e), q << k4_shift(e));
      want[e] = d * scale[e / 32] * q - 0.375 * min[e / 32];
    }
    expect_equal(decode(GgmlType::Q4_K, b, 256), want);
  }
}

// Q5_K: {f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}: Q4_K plus a fifth bit, bit e / 32
// of qh[e % 32]; q in 0..31.
TEST(GgmlQuants, Q5_K) {
  Lcg rng{9};
  Bytes b(176);
  int scale[8], min[8];
  for (int s = 0; s < 8; ++s) {
    scale[s] = rng.in(0, 63);
    min[s] = rng.in(0, 63);
  }
  put_f16(b, 0, kHalf);
  put_f16(b, 2, kTwoAndHalf);
  pack_k4_scales(b, 4, scale, min);
  std::vector<double> want(256);
  for (int e = 0; e < 256; ++e) {
    int q = rng.in(0, 31);
    set_bits(b, 48 + k4_byte(e), (q & 0xF) << k4_shift(e));
    if (q & 0x10) set_bits(b, 16 + e % 32, 1 << (e / 32));
    want[e] = 0.5 * scale[e / 32] * q - 2.5 * min[e / 32];
  }
  expect_equal(decode(GgmlType::Q5_K, b, 256), want);
}

// Q6_K: {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}: q in −32..31 stored plus 32. In half h
// (128 elements), quarter k (32 elements), position l: low 4 bits in ql[64h + 32·(k % 2) + l]
// (low nibble for k < 2, high for k >= 2), top 2 bits at bit 2k of qh[32h + l]. x = d·scale·q.
TEST(GgmlQuants, Q6_K) {
  Lcg rng{10};
  Bytes b(420);  // two super-blocks
  std::vector<double> want(512);
  const uint16_t ds[2] = {kSixteenth, kMinusOneAndQuarter};
  for (int blk = 0; blk < 2; ++blk) {
    const size_t base = 210 * blk;
    int scale[16];
    for (int s = 0; s < 16; ++s) {
      scale[s] = s == 3 ? -128 : rng.in(-128, 127);
      set(b, base + 192 + s, scale[s]);
    }
    put_f16(b, base + 208, ds[blk]);
    for (int e = 0; e < 256; ++e) {
      int q = e == 7 ? -32 : e == 8 ? 31 : rng.in(-32, 31);
      int stored = q + 32;
      int h = e / 128, k = (e % 128) / 32, l = e % 32;
      set_bits(b, base + 64 * h + 32 * (k % 2) + l, (stored & 0xF) << (k < 2 ? 0 : 4));
      set_bits(b, base + 128 + 32 * h + l, (stored >> 4) << (2 * k));
      want[256 * blk + e] = f16_value(ds[blk]) * scale[e / 16] * q;
    }
  }
  expect_equal(decode(GgmlType::Q6_K, b, 512), want);
}

TEST(GgmlQuants, TypesWithoutADequantiserAreRefusedByName) {
  Bytes b(256);
  std::vector<float> out(256);
  for (GgmlType t : {GgmlType::IQ2_XXS, GgmlType::IQ4_NL, GgmlType::TQ1_0, GgmlType::MXFP4, GgmlType::Q8_K}) {
    try {
      dequantise(t, b.data(), out.data(), traits(t).block_elements);
      ADD_FAILURE() << "no error for " << ggml_type_name(t);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string(ggml_type_name(t))), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("cannot dequantise"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(dequantise(GgmlType::Q4_0, b.data(), out.data(), 31), Error);
}

}  // namespace
}  // namespace alloy
