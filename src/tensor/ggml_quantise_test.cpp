// Quantisers: hand-worked blocks (values on a grid the format holds exactly, and the rounding rule
// at halfway points) with their bytes read back from the documented layout; and, on random rows,
// that every element lands on the value of its block's grid nearest to it (the round-to-nearest
// bound), with the grid read from the stored scales. Byte equality with llama.cpp's reference
// quantisers is checked by tools/gguf_crosscheck (outside make test).
#include "tensor/ggml_quantise.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "tensor/convert.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using Bytes = std::vector<std::byte>;

Bytes encode(GgmlType type, const std::vector<float>& x) {
  Bytes out(ggml_bytes(type, x.size()), std::byte{0xAB});
  quantise(type, x.data(), out.data(), x.size());
  return out;
}
std::vector<float> decode(GgmlType type, const Bytes& b, size_t n) {
  std::vector<float> out(n);
  dequantise(type, b.data(), out.data(), n);
  return out;
}
int u8(const Bytes& b, size_t at) { return static_cast<int>(b[at]); }
uint16_t u16(const Bytes& b, size_t at) { return static_cast<uint16_t>(u8(b, at) | (u8(b, at + 1) << 8)); }
float f16(const Bytes& b, size_t at) { return f16_to_f32(u16(b, at)); }

TEST(GgmlQuantise, Q8_0ScaleIsAbsmaxOver127AndRoundsHalfAwayFromZero) {
  std::vector<float> x(32, 0.0f);
  x[0] = 2.5f, x[1] = -2.5f, x[2] = 0.49f, x[3] = -0.5f, x[4] = 1.5f, x[5] = -127.0f, x[6] = 126.6f;
  const Bytes b = encode(GgmlType::Q8_0, x);
  EXPECT_EQ(u16(b, 0), 0x3C00);  // d = 127 / 127 = 1
  const int want[] = {3, -3, 0, -1, 2, -127, 127};
  for (int j = 0; j < 7; ++j) EXPECT_EQ(static_cast<int8_t>(u8(b, 2 + j)), want[j]) << "element " << j;
  for (int j = 7; j < 32; ++j) EXPECT_EQ(u8(b, 2 + j), 0);
}

// Q4_0 / Q5_0: the signed value of largest magnitude maps to code 0, so d = that value / -8 (-16);
// code = x / d + 8 (16) rounded half up and capped at 15 (31): its mirror image +max gets the cap.
TEST(GgmlQuantise, SymmetricTypesPutTheSignedMaxAtCodeZero) {
  for (const auto& [type, offset, qs_at] : {std::tuple{GgmlType::Q4_0, 8, 2}, std::tuple{GgmlType::Q5_0, 16, 6}}) {
    std::vector<float> x(32);
    const float d = 0.25f;
    for (int j = 0; j < 32; ++j) x[j] = d * static_cast<float>(j % (2 * offset) - offset);  // codes j % 2·offset
    x[20] = d * static_cast<float>(offset);  // +max after -max: capped at the top code
    x[21] = 0.125f;                          // halfway between codes offset and offset + 1: rounds up
    const Bytes b = encode(type, x);
    EXPECT_EQ(f16(b, 0), d) << ggml_type_name(type);
    uint32_t qh = 0;
    for (int k = 0; k < 4 && type == GgmlType::Q5_0; ++k) qh |= static_cast<uint32_t>(u8(b, 2 + k)) << (8 * k);
    for (int j = 0; j < 32; ++j) {
      const int nibble = j < 16 ? u8(b, qs_at + j) & 0xF : u8(b, qs_at + j - 16) >> 4;
      const int code = nibble | static_cast<int>(((qh >> j) & 1) << 4);
      const int want = j == 20 ? 2 * offset - 1 : j == 21 ? offset + 1 : j % (2 * offset);
      EXPECT_EQ(code, want) << ggml_type_name(type) << " element " << j;
    }
  }
}

TEST(GgmlQuantise, Q5_1StoresMinAndRangeOver31) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = -1.0f + 0.125f * static_cast<float>((j * 7) % 32);  // codes (7j) mod 32
  x[5] = -1.0f + 0.125f * 2.5f;  // halfway between codes 2 and 3: rounds up
  const Bytes b = encode(GgmlType::Q5_1, x);
  EXPECT_EQ(f16(b, 0), 0.125f);
  EXPECT_EQ(f16(b, 2), -1.0f);
  const std::vector<float> back = decode(GgmlType::Q5_1, b, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(back[j], j == 5 ? -1.0f + 0.125f * 3 : x[j]) << "element " << j;
}

// A k-quant super-block built on a grid its stored scales hold exactly: Q4_K/Q5_K sub-block j is
// d·sc_j·q − dmin·m_j with q over the full code range, one sub-block with sc = 63 and one with m = 63
// (so d and dmin are the maxima / 63); Q6_K sub-block i is d·s_i·(q − 32) with s = -128 somewhere.
TEST(GgmlQuantise, KQuantsReproduceValuesOnTheirGridExactly) {
  const float d = 1.0f / 64, dmin = 1.0f / 128;
  for (const auto& [type, nmax] : {std::pair{GgmlType::Q4_K, 15}, std::pair{GgmlType::Q5_K, 31}}) {
    const int sc[8] = {63, 17, 40, 5, 33, 8, 60, 21}, m[8] = {0, 63, 12, 30, 7, 50, 1, 44};
    std::vector<float> x(256);
    for (int j = 0; j < 8; ++j)
      for (int i = 0; i < 32; ++i) {
        const int q = i == 0 ? 0 : i == 1 ? nmax : (i * 11 + j) % (nmax + 1);
        x[32 * j + i] = d * static_cast<float>(sc[j] * q) - dmin * static_cast<float>(m[j]);
      }
    const Bytes b = encode(type, x);
    EXPECT_EQ(f16(b, 0), d) << ggml_type_name(type);
    EXPECT_EQ(f16(b, 2), dmin) << ggml_type_name(type);
    EXPECT_EQ(u8(b, 4) & 63, 63);  // sub-block 0's scale: low 6 bits of byte 0
    EXPECT_EQ(u8(b, 9) & 63, 63);  // sub-block 1's min: low 6 bits of byte 4 + 1
    EXPECT_EQ(decode(type, b, 256), x) << ggml_type_name(type);
  }
  std::vector<float> x(256);
  int s[16];
  for (int i = 0; i < 16; ++i) s[i] = i == 3 ? -128 : (i * 37) % 255 - 127;
  for (int i = 0; i < 16; ++i)
    for (int k = 0; k < 16; ++k) {
      const int q = k == 0 ? -32 : (k * 13 + i) % 64 - 32;  // -32 present: each sub-block's largest |x|
      x[16 * i + k] = -d * static_cast<float>(s[i] * q);
    }
  const Bytes b = encode(GgmlType::Q6_K, x);
  EXPECT_EQ(f16(b, 208), -d);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(static_cast<int8_t>(u8(b, 192 + i)), s[i]) << "scale " << i;
  EXPECT_EQ(decode(GgmlType::Q6_K, b, 256), x);
}

TEST(GgmlQuantise, ZerosStayZeros) {
  const std::vector<float> zeros(256, 0.0f);
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q4_K, GgmlType::Q5_K,
                     GgmlType::Q6_K})
    EXPECT_EQ(decode(t, encode(t, zeros), 256), zeros) << ggml_type_name(t);
  const Bytes q6 = encode(GgmlType::Q6_K, zeros);
  EXPECT_TRUE(std::all_of(q6.begin(), q6.end(), [](std::byte v) { return v == std::byte{0}; }));
}

TEST(GgmlQuantise, FloatTypesRoundToNearestEven) {
  const std::vector<float> x = {1.0f, 1.0f + 0x1p-11f, 1.0f + 0x3p-11f, 1.0f + 0x1p-8f, -0.0f};
  EXPECT_EQ(decode(GgmlType::F16, encode(GgmlType::F16, x), 5), (std::vector<float>{1.0f, 1.0f, 1.0f + 0x1p-9f, 1.0f + 0x1p-8f, -0.0f}));
  EXPECT_EQ(decode(GgmlType::BF16, encode(GgmlType::BF16, x), 5), (std::vector<float>{1.0f, 1.0f, 1.0f, 1.0f, -0.0f}));
  EXPECT_EQ(decode(GgmlType::F32, encode(GgmlType::F32, x), 5), x);
}

// The grid element e of a block decodes on: value = step·q + offset for integer codes q in [lo, hi].
struct Grid {
  float step, offset;
  int lo, hi;
};

// Reads each element's grid from the stored scales, as docs/gguf.md lays them out.
Grid grid_of(GgmlType t, const Bytes& b, size_t e) {
  auto k4 = [&](size_t at, size_t j) {  // (scale, min) pair j of the 12 packed bytes at `at`
    if (j < 4) return std::pair{u8(b, at + j) & 63, u8(b, at + j + 4) & 63};
    return std::pair{(u8(b, at + j + 4) & 0xF) | ((u8(b, at + j - 4) >> 6) << 4), (u8(b, at + j + 4) >> 4) | ((u8(b, at + j) >> 6) << 4)};
  };
  switch (t) {
    case GgmlType::Q8_0: return {f16(b, 34 * (e / 32)), 0.0f, -128, 127};
    case GgmlType::Q4_0: { const float d = f16(b, 18 * (e / 32)); return {d, -8 * d, 0, 15}; }
    case GgmlType::Q5_0: { const float d = f16(b, 22 * (e / 32)); return {d, -16 * d, 0, 31}; }
    case GgmlType::Q5_1: return {f16(b, 24 * (e / 32)), f16(b, 24 * (e / 32) + 2), 0, 31};
    case GgmlType::Q4_K:
    case GgmlType::Q5_K: {
      const size_t at = (t == GgmlType::Q4_K ? 144 : 176) * (e / 256);
      const auto [sc, m] = k4(at + 4, (e % 256) / 32);
      return {f16(b, at) * static_cast<float>(sc), -f16(b, at + 2) * static_cast<float>(m), 0, t == GgmlType::Q4_K ? 15 : 31};
    }
    case GgmlType::Q6_K: {
      const size_t at = 210 * (e / 256);
      const float step = f16(b, at + 208) * static_cast<float>(static_cast<int8_t>(u8(b, at + 192 + (e % 256) / 16)));
      return {step, -32 * step, 0, 63};
    }
    default: ADD_FAILURE() << "no grid for " << ggml_type_name(t); return {};
  }
}

// Round to nearest on random rows: each element decodes to a value of its grid no farther from x
// than the grid's nearest value is. The 32-element types choose codes against the scale before its
// f16 rounding, which can move a code across a halfway point by up to qmax·2^-11 steps, plus the
// f16 rounding of Q5_1's offset; the k-quants choose against the stored scales (float rounding).
TEST(GgmlQuantise, RandomRowsLandOnTheNearestValueOfTheirGrid) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const auto& [type, slack] : {std::pair{GgmlType::Q8_0, 128 * 0x1p-11f}, std::pair{GgmlType::Q4_0, 16 * 0x1p-11f},
                                     std::pair{GgmlType::Q5_0, 32 * 0x1p-11f}, std::pair{GgmlType::Q5_1, 32 * 0x1p-11f},
                                     std::pair{GgmlType::Q4_K, 1e-4f}, std::pair{GgmlType::Q5_K, 1e-4f},
                                     std::pair{GgmlType::Q6_K, 1e-4f}}) {
    std::vector<float> x(256 * 8);
    for (size_t i = 0; i < x.size(); ++i) x[i] = normal(rng) * (i % 97 == 0 ? 8.0f : 0.05f) + (i / 256 == 3 ? 0.2f : 0.0f);
    const Bytes b = encode(type, x);
    const std::vector<float> back = decode(type, b, x.size());
    int far = 0;
    for (size_t e = 0; e < x.size(); ++e) {
      const Grid g = grid_of(type, b, e);
      if (g.step == 0.0f) continue;  // a sub-block whose scale rounded to 0: checked by the bound below
      const float q = std::clamp(std::nearbyint((x[e] - g.offset) / g.step), static_cast<float>(g.lo), static_cast<float>(g.hi));
      const float nearest = std::fabs(x[e] - (g.step * q + g.offset));
      const float offset_error = type == GgmlType::Q5_1 ? std::fabs(g.offset) * 0x1p-11f : 0.0f;
      if (std::fabs(x[e] - back[e]) > nearest + slack * std::fabs(g.step) + offset_error) {
        if (++far <= 3) ADD_FAILURE() << ggml_type_name(type) << " element " << e << ": x " << x[e] << " -> " << back[e] << ", nearest on grid " << nearest;
      }
    }
    EXPECT_EQ(far, 0) << ggml_type_name(type);
    // And no element is farther than half the row's range: the grid covers the data.
    const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
    for (size_t e = 0; e < x.size(); ++e) ASSERT_LE(std::fabs(x[e] - back[e]), (*hi - *lo) / 2) << ggml_type_name(type);
  }
}

TEST(GgmlQuantise, RefusesTypesWithoutQuantiserAndPartialBlocks) {
  std::vector<float> x(256, 1.0f);
  Bytes out(1024);
  try {
    quantise(GgmlType::Q2_K, x.data(), out.data(), 256);
    ADD_FAILURE() << "Q2_K accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot quantise into ggml type Q2_K"), std::string::npos) << e.what();
  }
  try {
    quantise(GgmlType::Q4_K, x.data(), out.data(), 96);
    ADD_FAILURE() << "96 elements of Q4_K accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("96 elements of Q4_K are not whole blocks of 256"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(can_quantise(GgmlType::Q6_K));
  EXPECT_FALSE(can_quantise(GgmlType::Q4_1));
  EXPECT_EQ(ggml_bytes(GgmlType::Q4_K, 512), 288u);
  EXPECT_EQ(ggml_bytes(GgmlType::BF16, 3), 6u);
}

}  // namespace
}  // namespace alloy
