#include "tensor/ggml_quants.h"

#include <array>
#include <cctype>
#include <cstring>
#include <string>

#include "tensor/convert.h"
#include "util/error.h"

namespace alloy {

namespace {

constexpr uint32_t kSuperBlock = 256;  // QK_K: the k-quants' super-block

uint8_t u8(const std::byte* p) { return static_cast<uint8_t>(*p); }
float f16_at(const std::byte* p) { return f16_to_f32(static_cast<uint16_t>(u8(p) | (u8(p + 1) << 8))); }
uint32_t u32_at(const std::byte* p) {
  return u8(p) | (u8(p + 1) << 8) | (u8(p + 2) << 16) | (static_cast<uint32_t>(u8(p + 3)) << 24);
}

void dequantise_f32(const std::byte* src, float* dst, uint64_t n) { std::memcpy(dst, src, n * sizeof(float)); }
void dequantise_f16(const std::byte* src, float* dst, uint64_t n) { to_f32(DType::F16, src, dst, n); }
void dequantise_bf16(const std::byte* src, float* dst, uint64_t n) { to_f32(DType::BF16, src, dst, n); }

// The 32-element blocks share one nibble layout: byte j holds element j in its low nibble and
// element j + 16 in its high nibble. The Q5 types add a fifth bit per element, bit e of qh.
void dequantise_q4_0(const std::byte* src, float* dst, uint64_t blocks) {
  for (uint64_t b = 0; b < blocks; ++b, src += 18, dst += 32) {
    const float d = f16_at(src);
    const std::byte* qs = src + 2;
    for (int j = 0; j < 16; ++j) {
      dst[j] = static_cast<float>((u8(qs + j) & 0xF) - 8) * d;
      dst[j + 16] = static_cast<float>((u8(qs + j) >> 4) - 8) * d;
    }
  }
}

void dequantise_q4_1(const std::byte* src, float* dst, uint64_t blocks) {
  for (uint64_t b = 0; b < blocks; ++b, src += 20, dst += 32) {
    const float d = f16_at(src), m = f16_at(src + 2);
    const std::byte* qs = src + 4;
    for (int j = 0; j < 16; ++j) {
      dst[j] = static_cast<float>(u8(qs + j) & 0xF) * d + m;
      dst[j + 16] = static_cast<float>(u8(qs + j) >> 4) * d + m;
    }
  }
}

void dequantise_q5_0(const std::byte* src, float* dst, uint64_t blocks) {
  for (uint64_t b = 0; b < blocks; ++b, src += 22, dst += 32) {
    const float d = f16_at(src);
    const uint32_t qh = u32_at(src + 2);
    const std::byte* qs = src + 6;
    for (int j = 0; j < 16; ++j) {
      const int lo = (u8(qs + j) & 0xF) | (((qh >> j) & 1) << 4);
      const int hi = (u8(qs + j) >> 4) | (((qh >> (j + 16)) & 1) << 4);
      dst[j] = static_cast<float>(lo - 16) * d;
      dst[j + 16] = static_cast<float>(hi - 16) * d;
    }
  }
}

void dequantise_q5_1(const std::byte* src, float* dst, uint64_t blocks) {
  for (uint64_t b = 0; b < blocks; ++b, src += 24, dst += 32) {
    const float d = f16_at(src), m = f16_at(src + 2);
    const uint32_t qh = u32_at(src + 4);
    const std::byte* qs = src + 8;
    for (int j = 0; j < 16; ++j) {
      const int lo = (u8(qs + j) & 0xF) | (((qh >> j) & 1) << 4);
      const int hi = (u8(qs + j) >> 4) | (((qh >> (j + 16)) & 1) << 4);
      dst[j] = static_cast<float>(lo) * d + m;
      dst[j + 16] = static_cast<float>(hi) * d + m;
    }
  }
}

void dequantise_q8_0(const std::byte* src, float* dst, uint64_t blocks) {
  for (uint64_t b = 0; b < blocks; ++b, src += 34, dst += 32) {
    const float d = f16_at(src);
    for (int j = 0; j < 32; ++j) dst[j] = static_cast<float>(static_cast<int8_t>(u8(src + 2 + j))) * d;
  }
}

// Q2_K and Q3_K pack 2-bit quants four to a byte: within each half (128 elements) of the
// super-block, element 32·s + l (shift s = 0..3, l = 0..31) is bits 2s..2s+1 of byte 32·half + l.
// Each run of 16 elements has its own scale.
void dequantise_q2_k(const std::byte* src, float* dst, uint64_t blocks) {
  for (uint64_t b = 0; b < blocks; ++b, src += 84, dst += kSuperBlock) {
    const std::byte* scales = src;
    const std::byte* qs = src + 16;
    const float d = f16_at(src + 80), dmin = f16_at(src + 82);
    for (uint32_t e = 0; e < kSuperBlock; ++e) {
      const uint32_t half = e / 128, shift = (e % 128) / 32, l = e % 32;
      const int q = (u8(qs + 32 * half + l) >> (2 * shift)) & 3;
      const uint8_t sc = u8(scales + e / 16);
      dst[e] = d * static_cast<float>(sc & 0xF) * static_cast<float>(q) - dmin * static_cast<float>(sc >> 4);
    }
  }
}

// Q3_K: sixteen 6-bit scales (stored minus 32) in 12 bytes: scale s has its low 4 bits in the low
// (s < 8) or high (s >= 8) nibble of byte s % 8, and its top 2 bits at bits 2·(s / 4) of byte
// 8 + s % 4. The third quant bit is in hmask (bit 4·half + shift of byte l); a clear bit means
// the 2-bit value is lowered by 4.
int q3_k_scale(const std::byte* scales, uint32_t s) {
  const int low = s < 8 ? (u8(scales + s) & 0xF) : (u8(scales + s - 8) >> 4);
  const int high = (u8(scales + 8 + s % 4) >> (2 * (s / 4))) & 3;
  return (low | (high << 4)) - 32;
}

void dequantise_q3_k(const std::byte* src, float* dst, uint64_t blocks) {
  for (uint64_t b = 0; b < blocks; ++b, src += 110, dst += kSuperBlock) {
    const std::byte* hmask = src;
    const std::byte* qs = src + 32;
    const std::byte* scales = src + 96;
    const float d = f16_at(src + 108);
    for (uint32_t e = 0; e < kSuperBlock; ++e) {
      const uint32_t half = e / 128, shift = (e % 128) / 32, l = e % 32;
      const int low = (u8(qs + 32 * half + l) >> (2 * shift)) & 3;
      const bool high = (u8(hmask + l) >> (4 * half + shift)) & 1;
      const int q = low - (high ? 0 : 4);
      dst[e] = d * static_cast<float>(q3_k_scale(scales, e / 16)) * static_cast<float>(q);
    }
  }
}

// Q4_K and Q5_K: eight 6-bit (scale, min) pairs in 12 bytes. Pairs 0-3 are the low 6 bits of
// bytes 0-3 (scales) and 4-7 (mins); pairs 4-7 take their low 4 bits from the nibbles of byte
// 8 + (s - 4) and their top 2 bits from the spare top bits of bytes s - 4 (scale) and s (min).
struct ScaleMin {
  int scale, min;
};
ScaleMin k4_scale_min(const std::byte* scales, uint32_t s) {
  if (s < 4) return {u8(scales + s) & 63, u8(scales + s + 4) & 63};
  return {(u8(scales + s + 4) & 0xF) | ((u8(scales + s - 4) >> 6) << 4),
          (u8(scales + s + 4) >> 4) | ((u8(scales + s) >> 6) << 4)};
}

// Element e of a Q4_K/Q5_K super-block: 64-element group g = e / 64 uses bytes 32·g .. 32·g + 31
// of qs, low nibbles for its first 32 elements and high nibbles for the next; sub-block e / 32
// picks the (scale, min) pair and, in Q5_K, the bit of qh[e % 32] that adds 16.
int k4_nibble(const std::byte* qs, uint32_t e) {
  const uint8_t byte = u8(qs + 32 * (e / 64) + e % 32);
  return (e % 64) < 32 ? (byte & 0xF) : (byte >> 4);
}

void dequantise_q4_k(const std::byte* src, float* dst, uint64_t blocks) {
  for (uint64_t b = 0; b < blocks; ++b, src += 144, dst += kSuperBlock) {
    const float d = f16_at(src), dmin = f16_at(src + 2);
    const std::byte* scales = src + 4;
    const std::byte* qs = src + 16;
    for (uint32_t e = 0; e < kSuperBlock; ++e) {
      const ScaleMin sm = k4_scale_min(scales, e / 32);
      dst[e] = d * static_cast<float>(sm.scale) * static_cast<float>(k4_nibble(qs, e)) -
               dmin * static_cast<float>(sm.min);
    }
  }
}

void dequantise_q5_k(const std::byte* src, float* dst, uint64_t blocks) {
  for (uint64_t b = 0; b < blocks; ++b, src += 176, dst += kSuperBlock) {
    const float d = f16_at(src), dmin = f16_at(src + 2);
    const std::byte* scales = src + 4;
    const std::byte* qh = src + 16;
    const std::byte* qs = src + 48;
    for (uint32_t e = 0; e < kSuperBlock; ++e) {
      const ScaleMin sm = k4_scale_min(scales, e / 32);
      const int q = k4_nibble(qs, e) + (((u8(qh + e % 32) >> (e / 32)) & 1) << 4);
      dst[e] = d * static_cast<float>(sm.scale) * static_cast<float>(q) - dmin * static_cast<float>(sm.min);
    }
  }
}

// Q6_K: within each half (128 elements), quarter k = 0..3 of 32 elements takes its low 4 bits
// from ql[64·half + 32·(k % 2) + l] (low nibble for k < 2, high for k >= 2) and its top 2 bits
// from bits 2k..2k+1 of qh[32·half + l]; the 6-bit value is stored plus 32. Int8 scale per 16.
void dequantise_q6_k(const std::byte* src, float* dst, uint64_t blocks) {
  for (uint64_t b = 0; b < blocks; ++b, src += 210, dst += kSuperBlock) {
    const std::byte* ql = src;
    const std::byte* qh = src + 128;
    const std::byte* scales = src + 192;
    const float d = f16_at(src + 208);
    for (uint32_t e = 0; e < kSuperBlock; ++e) {
      const uint32_t half = e / 128, k = (e % 128) / 32, l = e % 32;
      const uint8_t low_byte = u8(ql + 64 * half + 32 * (k % 2) + l);
      const int low = k < 2 ? (low_byte & 0xF) : (low_byte >> 4);
      const int high = (u8(qh + 32 * half + l) >> (2 * k)) & 3;
      const int q = (low | (high << 4)) - 32;
      const auto scale = static_cast<int8_t>(u8(scales + e / 16));
      dst[e] = d * static_cast<float>(scale) * static_cast<float>(q);
    }
  }
}

constexpr GgmlTypeTraits kTypes[] = {
    {GgmlType::F32, "F32", 1, 4, dequantise_f32},
    {GgmlType::F16, "F16", 1, 2, dequantise_f16},
    {GgmlType::Q4_0, "Q4_0", 32, 18, dequantise_q4_0},
    {GgmlType::Q4_1, "Q4_1", 32, 20, dequantise_q4_1},
    {GgmlType::Q5_0, "Q5_0", 32, 22, dequantise_q5_0},
    {GgmlType::Q5_1, "Q5_1", 32, 24, dequantise_q5_1},
    {GgmlType::Q8_0, "Q8_0", 32, 34, dequantise_q8_0},
    {GgmlType::Q8_1, "Q8_1", 32, 36, nullptr},
    {GgmlType::Q2_K, "Q2_K", 256, 84, dequantise_q2_k},
    {GgmlType::Q3_K, "Q3_K", 256, 110, dequantise_q3_k},
    {GgmlType::Q4_K, "Q4_K", 256, 144, dequantise_q4_k},
    {GgmlType::Q5_K, "Q5_K", 256, 176, dequantise_q5_k},
    {GgmlType::Q6_K, "Q6_K", 256, 210, dequantise_q6_k},
    {GgmlType::Q8_K, "Q8_K", 256, 292, nullptr},
    {GgmlType::IQ2_XXS, "IQ2_XXS", 256, 66, nullptr},
    {GgmlType::IQ2_XS, "IQ2_XS", 256, 74, nullptr},
    {GgmlType::IQ3_XXS, "IQ3_XXS", 256, 98, nullptr},
    {GgmlType::IQ1_S, "IQ1_S", 256, 50, nullptr},
    {GgmlType::IQ4_NL, "IQ4_NL", 32, 18, nullptr},
    {GgmlType::IQ3_S, "IQ3_S", 256, 110, nullptr},
    {GgmlType::IQ2_S, "IQ2_S", 256, 82, nullptr},
    {GgmlType::IQ4_XS, "IQ4_XS", 256, 136, nullptr},
    {GgmlType::I8, "I8", 1, 1, nullptr},
    {GgmlType::I16, "I16", 1, 2, nullptr},
    {GgmlType::I32, "I32", 1, 4, nullptr},
    {GgmlType::I64, "I64", 1, 8, nullptr},
    {GgmlType::F64, "F64", 1, 8, nullptr},
    {GgmlType::IQ1_M, "IQ1_M", 256, 56, nullptr},
    {GgmlType::BF16, "BF16", 1, 2, dequantise_bf16},
    {GgmlType::TQ1_0, "TQ1_0", 256, 54, nullptr},
    {GgmlType::TQ2_0, "TQ2_0", 256, 66, nullptr},
    {GgmlType::MXFP4, "MXFP4", 32, 17, nullptr},
};

}  // namespace

const GgmlTypeTraits* ggml_type_traits(uint32_t id) {
  for (const auto& t : kTypes)
    if (static_cast<uint32_t>(t.type) == id) return &t;
  return nullptr;
}

const GgmlTypeTraits& traits(GgmlType type) {
  const GgmlTypeTraits* t = ggml_type_traits(static_cast<uint32_t>(type));
  if (!t) fail("unknown ggml type id ", static_cast<uint32_t>(type));
  return *t;
}

std::optional<GgmlType> ggml_type_from_name(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& t : kTypes)
    if (t.name == upper) return t.type;
  return std::nullopt;
}

void dequantise(GgmlType type, const std::byte* src, float* dst, uint64_t n) {
  const GgmlTypeTraits& t = traits(type);
  if (!t.dequantise) fail("alloy cannot dequantise ggml type ", t.name, " (it reads F32, F16, BF16, Q4_0, Q4_1, Q5_0, "
                          "Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K)");
  if (n % t.block_elements != 0)
    fail(n, " elements of ", t.name, " are not whole blocks of ", t.block_elements);
  t.dequantise(src, dst, t.block_elements == 1 ? n : n / t.block_elements);
}

}  // namespace alloy
