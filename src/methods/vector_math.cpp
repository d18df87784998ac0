#include "methods/vector_math.h"

#include <algorithm>
#include <cmath>
#include <cstring>

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
  for_each_block(call, [&](const RowBlock& b) {
    const int64_t n = b.size();
    const float* c = centre >= 0 ? b.inputs[static_cast<size_t>(centre)] : nullptr;
    for (size_t i = 0; i < gram.n; ++i)
      for (size_t j = i; j < gram.n; ++j) {
        const float* x = b.inputs[which[i]];
        const float* y = b.inputs[which[j]];
        gram(i, j) += c ? centred_dot_f64(x, y, c, n) : dot_f64(x, y, n);
      }
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
