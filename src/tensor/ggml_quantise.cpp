#include "tensor/ggml_quantise.h"

#include <cfloat>
#include <cmath>
#include <algorithm>
#include <cstring>

#include "tensor/convert.h"
#include "tensor/ggml_quantise_k.h"
#include "util/error.h"

namespace alloy {

namespace {

using quant_detail::store_f16;

using QuantiseBlocks = void (*)(const float* src, std::byte* dst, uint64_t blocks);

// The signed value of largest magnitude (the first, on ties): the 32-element symmetric types map
// it to their most negative code, so the code range's extra negative step is never wasted.
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  return max;
}

// Q8_0: d = absmax / 127, q = round(x / d) half away from zero.
void quantise_q8_0(const float* x, std::byte* dst, uint64_t blocks) {
  for (uint64_t b = 0; b < blocks; ++b, x += 32, dst += 34) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(dst, d);
    for (int j = 0; j < 32; ++j) dst[2 + j] = std::byte(static_cast<uint8_t>(static_cast<int8_t>(std::round(x[j] * id))));
  }
}

// Q4_0 and Q5_0: d = (signed absmax) / -2^(bits-1), code = x / d + 2^(bits-1) truncated after adding
// one half, capped at the top code. Element j sits in the low nibble of byte j, j + 16 in the high.
template <int kBits>
void quantise_symmetric(const float* x, std::byte* dst, uint64_t blocks) {
  constexpr int kOffset = 1 << (kBits - 1), kTop = (1 << kBits) - 1;
  constexpr uint64_t kBytes = kBits == 4 ? 18 : 22;
  for (uint64_t b = 0; b < blocks; ++b, x += 32, dst += kBytes) {
    const float d = signed_absmax(x, 32) / static_cast<float>(-kOffset);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(dst, d);
    std::byte* qs = dst + (kBits == 4 ? 2 : 6);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const int lo = std::min(kTop, static_cast<int>(x[j] * id + (static_cast<float>(kOffset) + 0.5f)));
      const int hi = std::min(kTop, static_cast<int>(x[j + 16] * id + (static_cast<float>(kOffset) + 0.5f)));
      qs[j] = std::byte(static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4)));
      qh |= static_cast<uint32_t>(lo >> 4) << j;
      qh |= static_cast<uint32_t>(hi >> 4) << (j + 16);
    }
    if (kBits == 5)
      for (int k = 0; k < 4; ++k) dst[2 + k] = std::byte(static_cast<uint8_t>(qh >> (8 * k)));
  }
}

// Q5_1: d = (max - min) / 31, m = min, code = (x - min) / d rounded half up.
void quantise_q5_1(const float* x, std::byte* dst, uint64_t blocks) {
  for (uint64_t b = 0; b < blocks; ++b, x += 32, dst += 24) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < 32; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(dst, d);
    store_f16(dst + 2, min);
    std::byte* qs = dst + 8;
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const auto lo = static_cast<uint8_t>((x[j] - min) * id + 0.5f);
      const auto hi = static_cast<uint8_t>((x[j + 16] - min) * id + 0.5f);
      qs[j] = std::byte(static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4)));
      qh |= static_cast<uint32_t>((lo >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((hi >> 4) & 1) << (j + 16);
    }
    for (int k = 0; k < 4; ++k) dst[4 + k] = std::byte(static_cast<uint8_t>(qh >> (8 * k)));
  }
}

void quantise_f32(const float* x, std::byte* dst, uint64_t n) { std::memcpy(dst, x, n * sizeof(float)); }
void quantise_f16(const float* x, std::byte* dst, uint64_t n) { from_f32(x, DType::F16, dst, n); }
void quantise_bf16(const float* x, std::byte* dst, uint64_t n) { from_f32(x, DType::BF16, dst, n); }

struct Quantiser {
  GgmlType type;
  QuantiseBlocks quantise;  // takes blocks (elements for the plain types)
};

constexpr Quantiser kQuantisers[] = {
    {GgmlType::F32, quantise_f32},
    {GgmlType::F16, quantise_f16},
    {GgmlType::BF16, quantise_bf16},
    {GgmlType::Q8_0, quantise_q8_0},
    {GgmlType::Q4_0, quantise_symmetric<4>},
    {GgmlType::Q5_0, quantise_symmetric<5>},
    {GgmlType::Q5_1, quantise_q5_1},
    {GgmlType::Q4_K, quant_detail::quantise_q4_k},
    {GgmlType::Q5_K, quant_detail::quantise_q5_k},
    {GgmlType::Q6_K, quant_detail::quantise_q6_k},
};

const Quantiser* find_quantiser(GgmlType type) {
  for (const auto& q : kQuantisers)
    if (q.type == type) return &q;
  return nullptr;
}

}  // namespace

bool can_quantise(GgmlType type) { return find_quantiser(type) != nullptr; }

uint64_t ggml_bytes(GgmlType type, uint64_t n) {
  const GgmlTypeTraits& t = traits(type);
  if (n % t.block_elements != 0) fail(n, " elements of ", t.name, " are not whole blocks of ", t.block_elements);
  return n / t.block_elements * t.block_bytes;
}

void quantise(GgmlType type, const float* src, std::byte* dst, uint64_t n) {
  const Quantiser* q = find_quantiser(type);
  if (!q)
    fail("alloy cannot quantise into ggml type ", ggml_type_name(type),
         " (it writes F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K)");
  const uint32_t block = traits(type).block_elements;
  if (n % block != 0) fail(n, " elements of ", ggml_type_name(type), " are not whole blocks of ", block);
  q->quantise(src, dst, block == 1 ? n : n / block);
}

}  // namespace alloy
