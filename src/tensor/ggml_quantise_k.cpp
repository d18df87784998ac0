// The k-quant quantisers, after llama.cpp's quantize_row_q{4,5,6}_K_ref. The operations are kept
// in the reference's order (f32 throughout, no contraction) so the bytes match its output exactly.
#include "tensor/ggml_quantise_k.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace alloy::quant_detail {

namespace {

constexpr int kSuperBlock = 256;
constexpr float kAllZero = 1e-15f;  // ggml's GROUP_MAX_EPS: a group this small is all zeros

// Q4_K/Q5_K sub-blocks: x ≈ scale·L − min with L in 0..nmax. Starts from the range-filling scale
// and tries nstep + 1 others around it, each with the (scale, min) that least-squares fit its L
// under the weights; keeps the one of least weighted squared error. Returns the scale; *the_min
// gets the (non-negative) min.
float fit_scale_min(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                    uint8_t* Laux, float rmin, float rdelta, int nstep) {
  float min = x[0], max = x[0];
  float sum_w = weights[0], sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    const float diff = scale * static_cast<float>(L[i]) + min - x[i];
    best_error += weights[i] * (diff * diff);
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - min))));
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      const auto lf = static_cast<float>(l);
      sum_l += w * lf;
      sum_l2 += w * lf * lf;
      sum_xl += w * lf * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        const float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
        cur_error += weights[i] * (diff * diff);
      }
      if (cur_error < best_error) {
        std::memcpy(L, Laux, static_cast<size_t>(n));
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// The eight 6-bit (scale, min) pairs of a Q4_K/Q5_K super-block, packed as k4_scale_min in
// ggml_quants.cpp reads them.
void pack_scale_min(std::byte* scales, int j, uint8_t ls, uint8_t lm) {
  auto at = [&](int k) -> uint8_t& { return *reinterpret_cast<uint8_t*>(scales + k); };
  if (j < 4) {
    at(j) = ls;
    at(j + 4) = lm;
  } else {
    at(j + 4) = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
    at(j - 4) |= static_cast<uint8_t>((ls >> 4) << 6);
    at(j) |= static_cast<uint8_t>((lm >> 4) << 6);
  }
}

// Shared by Q4_K and Q5_K: fits each 32-element sub-block, quantises the eight scales and mins to
// 6 bits against the super-block's d and dmin (f16), then re-rounds every element against the
// stored scales. Writes d, dmin and scales at `head` and the codes 0..nmax into L.
void quantise_k4_scales(const float* x, int nmax, float rmin, int nstep, std::byte* head, uint8_t* L) {
  float scales[8], mins[8], weights[32];
  uint8_t Laux[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = fit_scale_min(32, nmax, xs, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  std::byte* packed = head + 4;
  std::memset(packed, 0, 12);
  for (int j = 0; j < 8; ++j) {
    const auto ls = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    const auto lm = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
    pack_scale_min(packed, j, ls, lm);
  }
  const float d = store_f16(head, max_scale / 63.f);
  const float dmin = store_f16(head + 2, max_min / 63.f);
  const auto* s = reinterpret_cast<const uint8_t*>(packed);
  for (int j = 0; j < 8; ++j) {
    const uint8_t sc = j < 4 ? (s[j] & 63) : static_cast<uint8_t>((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
    const uint8_t m = j < 4 ? (s[j + 4] & 63) : static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    const float dj = d * static_cast<float>(sc);
    if (dj == 0.0f) continue;  // the fit's codes stay: they decode to -dm·m either way
    const float dm = dmin * static_cast<float>(m);
    for (int i = 0; i < 32; ++i) L[32 * j + i] = static_cast<uint8_t>(std::clamp(nearest_int((x[32 * j + i] + dm) / dj), 0, nmax));
  }
}

// Q6_K sub-blocks (16 elements): x ≈ scale·(L − 32) with L in 0..63, the scale from 19 candidates
// around the range-filling one, judged by the x²-weighted fit sumlx²/suml2 (larger is better).
float fit_symmetric_scale(const float* x, int8_t* L) {
  constexpr int n = 16, nmax = 32;
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  if (amax < kAllZero) {
    std::fill(L, L + n, int8_t{0});
    return 0.f;
  }
  auto sums = [&](float iscale, float& sumlx, float& suml2) {
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const auto l = static_cast<float>(std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
  };
  auto codes = [&](float iscale) {
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(nmax + std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1));
  };
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx, suml2;
  sums(iscale, sumlx, suml2);
  codes(iscale);
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    sums(iscale, sumlx, suml2);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      codes(iscale);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

}  // namespace

void quantise_q4_k(const float* x, std::byte* dst, uint64_t blocks) {
  uint8_t L[kSuperBlock];
  for (uint64_t b = 0; b < blocks; ++b, x += kSuperBlock, dst += 144) {
    quantise_k4_scales(x, 15, -1.f, 20, dst, L);
    std::byte* q = dst + 16;
    for (int j = 0; j < kSuperBlock; j += 64, q += 32)
      for (int l = 0; l < 32; ++l) q[l] = std::byte(static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4)));
  }
}

void quantise_q5_k(const float* x, std::byte* dst, uint64_t blocks) {
  uint8_t L[kSuperBlock];
  for (uint64_t b = 0; b < blocks; ++b, x += kSuperBlock, dst += 176) {
    quantise_k4_scales(x, 31, -0.5f, 15, dst, L);
    auto* qh = reinterpret_cast<uint8_t*>(dst + 16);
    std::byte* ql = dst + 48;
    std::memset(qh, 0, 32);
    for (int g = 0; g < 4; ++g, ql += 32)  // 64-element group g: its bits are 2g and 2g + 1 of qh
      for (int j = 0; j < 32; ++j) {
        const int l1 = L[64 * g + j], l2 = L[64 * g + j + 32];
        qh[j] |= static_cast<uint8_t>(((l1 >> 4) << (2 * g)) | ((l2 >> 4) << (2 * g + 1)));
        ql[j] = std::byte(static_cast<uint8_t>((l1 & 0xF) | ((l2 & 0xF) << 4)));
      }
  }
}

void quantise_q6_k(const float* x, std::byte* dst, uint64_t blocks) {
  int8_t L[kSuperBlock];
  float scales[16];
  for (uint64_t b = 0; b < blocks; ++b, x += kSuperBlock, dst += 210) {
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
      scales[ib] = fit_symmetric_scale(x + 16 * ib, L + 16 * ib);
      if (std::fabs(scales[ib]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[ib]);
        max_scale = scales[ib];
      }
    }
    std::memset(dst, 0, 210);
    if (max_abs_scale < kAllZero) continue;  // an all-zero block: every byte 0, d = 0
    const float iscale = -128.f / max_scale;
    const float d = store_f16(dst + 208, 1 / iscale);
    auto* stored_scales = reinterpret_cast<int8_t*>(dst + 192);
    for (int ib = 0; ib < 16; ++ib) stored_scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
    for (int j = 0; j < 16; ++j) {
      const float dj = d * static_cast<float>(stored_scales[j]);
      if (dj == 0.0f) continue;
      for (int i = 0; i < 16; ++i) L[16 * j + i] = static_cast<int8_t>(std::clamp(nearest_int(x[16 * j + i] / dj), -32, 31) + 32);
    }
    auto* ql = reinterpret_cast<uint8_t*>(dst);
    auto* qh = reinterpret_cast<uint8_t*>(dst + 128);
    for (int h = 0; h < 2; ++h, ql += 64, qh += 32) {
      const int8_t* Lh = L + 128 * h;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<uint8_t>((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) | ((Lh[l + 96] >> 4) << 6));
      }
    }
  }
}

}  // namespace alloy::quant_detail
