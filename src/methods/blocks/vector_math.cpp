#include "methods/blocks/vector_math.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "util/lanes.h"
#include "util/vectorize.h"

namespace alloy {

// Four interleaved accumulators: a fixed order (so results depend only on n) that the compiler can
// pipeline, and partial sums of a quarter of the terms each, which keeps rounding error small.
ALLOY_VECTORIZED double dot_f64(const float* a, const float* b, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += static_cast<double>(a[i]) * b[i];
    s1 += static_cast<double>(a[i + 1]) * b[i + 1];
    s2 += static_cast<double>(a[i + 2]) * b[i + 2];
    s3 += static_cast<double>(a[i + 3]) * b[i + 3];
  }
  for (; i < n; ++i) s0 += static_cast<double>(a[i]) * b[i];
  return (s0 + s1) + (s2 + s3);
}

ALLOY_VECTORIZED double centred_dot_f64(const float* a, const float* b, const float* c, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  auto term = [&](int64_t k) {
    return (static_cast<double>(a[k]) - c[k]) * (static_cast<double>(b[k]) - c[k]);
  };
  for (; i + 4 <= n; i += 4) {
    s0 += term(i);
    s1 += term(i + 1);
    s2 += term(i + 2);
    s3 += term(i + 3);
  }
  for (; i < n; ++i) s0 += term(i);
  return (s0 + s1) + (s2 + s3);
}

namespace {

// The upper triangle of the Gram matrix of K arrays (optionally centred) in one loop: every array
// element is read and converted once, not K times. Each sum keeps the four interleaved partial
// sums of dot_f64 / centred_dot_f64 over the same terms, so the results are the same bits; the four
// lanes are written as GCC vectors (util/lanes.h), which the compiler does not find by itself
// across K arrays.
template <int K, bool centred>
__attribute__((always_inline)) inline void gram_fixed(const float* const* x, const float* c, int64_t n, double* out) {
  constexpr int kSums = K * (K + 1) / 2;
  F64x4 s[kSums] = {};
  const float* p[K];
#pragma GCC unroll 4
  for (int m = 0; m < K; ++m) p[m] = x[m];
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    F64x4 d[K], centre = {};
    if (centred) load_f64x4(c + i, centre);
#pragma GCC unroll 4
    for (int m = 0; m < K; ++m) {
      load_f64x4(p[m] + i, d[m]);
      if (centred) d[m] -= centre;
    }
    int q = 0;
#pragma GCC unroll 4
    for (int a = 0; a < K; ++a)
#pragma GCC unroll 4
      for (int b = a; b < K; ++b, ++q) s[q] += d[a] * d[b];
  }
  for (; i < n; ++i) {
    double d[K];
#pragma GCC unroll 4
    for (int m = 0; m < K; ++m) d[m] = centred ? static_cast<double>(p[m][i]) - c[i] : static_cast<double>(p[m][i]);
    int q = 0;
#pragma GCC unroll 4
    for (int a = 0; a < K; ++a)
#pragma GCC unroll 4
      for (int b = a; b < K; ++b, ++q) s[q][0] += d[a] * d[b];
  }
#pragma GCC unroll 10
  for (int q = 0; q < kSums; ++q) out[q] = (s[q][0] + s[q][1]) + (s[q][2] + s[q][3]);
}

#define ALLOY_GRAM(K)                                                                                    \
  ALLOY_VECTORIZED void gram_##K(const float* const* x, const float* c, int64_t n, double* out) {        \
    gram_fixed<K, false>(x, c, n, out);                                                                  \
  }                                                                                                      \
  ALLOY_VECTORIZED void centred_gram_##K(const float* const* x, const float* c, int64_t n, double* out) { \
    gram_fixed<K, true>(x, c, n, out);                                                                   \
  }
ALLOY_GRAM(1)
ALLOY_GRAM(2)
ALLOY_GRAM(3)
ALLOY_GRAM(4)
#undef ALLOY_GRAM

}  // namespace

void gram_upper_f64(const float* const* x, size_t k, const float* centre, int64_t n, double* out) {
  using Fixed = void (*)(const float* const*, const float*, int64_t, double*);
  static constexpr Fixed kPlain[] = {nullptr, gram_1, gram_2, gram_3, gram_4};
  static constexpr Fixed kCentred[] = {nullptr, centred_gram_1, centred_gram_2, centred_gram_3, centred_gram_4};
  if (k >= 1 && k <= 4) {
    (centre ? kCentred : kPlain)[k](x, centre, n, out);
    return;
  }
  size_t q = 0;
  for (size_t a = 0; a < k; ++a)
    for (size_t b = a; b < k; ++b, ++q) out[q] = centre ? centred_dot_f64(x[a], x[b], centre, n) : dot_f64(x[a], x[b], n);
}

ALLOY_VECTORIZED void accumulate_scaled(double* acc, const float* x, double w, int64_t n) {
  for (int64_t k = 0; k < n; ++k) acc[k] += w * static_cast<double>(x[k]);
}

ALLOY_VECTORIZED void accumulate_scaled_delta(double* acc, const float* x, const float* c, double w, int64_t n) {
  for (int64_t k = 0; k < n; ++k) acc[k] += w * (static_cast<double>(x[k]) - c[k]);
}

ALLOY_VECTORIZED void narrow_to_f32(const double* acc, float* out, int64_t n) {
  for (int64_t k = 0; k < n; ++k) out[k] = static_cast<float>(acc[k]);
}

ALLOY_VECTORIZED void narrow_add_to_f32(const float* c, const double* acc, float* out, int64_t n) {
  for (int64_t k = 0; k < n; ++k) out[k] = static_cast<float>(c[k] + acc[k]);
}

double Gram::inner(std::span<const double> a, std::span<const double> b) const {
  double s = 0;
  for (size_t i = 0; i < n; ++i) {
    if (a[i] == 0) continue;
    double row = 0;
    for (size_t j = 0; j < n; ++j) row += g[i * n + j] * b[j];
    s += a[i] * row;
  }
  return s;
}

double Gram::norm(std::span<const double> a) const { return std::sqrt(std::max(0.0, inner(a, a))); }

Gram gram_matrix(const MergeCall& call, const std::vector<size_t>& which, int centre) {
  Gram gram;
  gram.n = which.size();
  gram.g.assign(gram.n * gram.n, 0.0);
  std::vector<const float*> x(gram.n);
  std::vector<double> block(gram.n * (gram.n + 1) / 2);
  for_each_block(call, [&](const RowBlock& b) {
    const float* c = centre >= 0 ? b.inputs[static_cast<size_t>(centre)] : nullptr;
    for (size_t i = 0; i < gram.n; ++i) x[i] = b.inputs[which[i]];
    gram_upper_f64(x.data(), gram.n, c, b.size(), block.data());
    size_t q = 0;
    for (size_t i = 0; i < gram.n; ++i)
      for (size_t j = i; j < gram.n; ++j) gram(i, j) += block[q++];
  });
  for (size_t i = 0; i < gram.n; ++i)
    for (size_t j = 0; j < i; ++j) gram(i, j) = gram(j, i);
  return gram;
}

namespace {

class WeightedSum final : public MergeKernel {
 public:
  WeightedSum(std::vector<double> coefficients, int centre) : centre_(centre) {
    for (size_t i = 0; i < coefficients.size(); ++i)
      if (static_cast<int>(i) != centre && coefficients[i] != 0) terms_.push_back({i, coefficients[i]});
  }

  void map(const RowBlock& b, float* out) const override {
    constexpr int64_t kChunk = 512;
    double acc[kChunk];
    const int64_t n = b.size();
    const float* c_all = centre_ >= 0 ? b.inputs[static_cast<size_t>(centre_)] : nullptr;
    for (int64_t s = 0; s < n; s += kChunk) {
      const int64_t m = std::min(kChunk, n - s);
      std::fill(acc, acc + m, 0.0);
      for (const auto& [input, w] : terms_) {
        if (c_all)
          accumulate_scaled_delta(acc, b.inputs[input] + s, c_all + s, w, m);
        else
          accumulate_scaled(acc, b.inputs[input] + s, w, m);
      }
      if (c_all)
        narrow_add_to_f32(c_all + s, acc, out + s, m);
      else
        narrow_to_f32(acc, out + s, m);
    }
  }

 private:
  struct Term {
    size_t input;
    double weight;
  };
  std::vector<Term> terms_;
  int centre_;
};

}  // namespace

std::unique_ptr<MergeKernel> weighted_sum_kernel(std::vector<double> coefficients, int centre) {
  return std::make_unique<WeightedSum>(std::move(coefficients), centre);
}

std::unique_ptr<MergeKernel> copy_kernel(size_t input) {
  return make_kernel([input](const RowBlock& b, float* out) {
    std::memcpy(out, b.inputs[input], static_cast<size_t>(b.size()) * sizeof(float));
  });
}

}  // namespace alloy
