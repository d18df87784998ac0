// Helpers of the data-aware tests (header only, included by *_test.cpp): random probe chunks, an
// independent float64 linear solver for RegMean's closed form, and InfoNCE written out plainly.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "model/decoder.h"

namespace alloy::stats_test {

// n chunks of len random tokens below vocab, every next token scored.
inline std::vector<TokenBatch> random_chunks(int64_t vocab, int n, int64_t len, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<TokenBatch> chunks;
  for (int c = 0; c < n; ++c) {
    std::vector<int32_t> tokens(static_cast<size_t>(len));
    for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
    chunks.push_back(next_token_batch(tokens, 1, len));
  }
  return chunks;
}

// Solves A X = B (A n x n, B n x m, row-major) by Gauss-Jordan with partial pivoting.
inline std::vector<double> solve(std::vector<double> a, std::vector<double> b, int64_t n, int64_t m) {
  for (int64_t c = 0; c < n; ++c) {
    int64_t p = c;
    for (int64_t r = c + 1; r < n; ++r)
      if (std::fabs(a[r * n + c]) > std::fabs(a[p * n + c])) p = r;
    for (int64_t k = 0; k < n; ++k) std::swap(a[c * n + k], a[p * n + k]);
    for (int64_t k = 0; k < m; ++k) std::swap(b[c * m + k], b[p * m + k]);
    for (int64_t r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[r * n + c] / a[c * n + c];
      for (int64_t k = 0; k < n; ++k) a[r * n + k] -= f * a[c * n + k];
      for (int64_t k = 0; k < m; ++k) b[r * m + k] -= f * b[c * m + k];
    }
  }
  for (int64_t r = 0; r < n; ++r)
    for (int64_t k = 0; k < m; ++k) b[r * m + k] /= a[r * n + r];
  return b;
}

// −mean_i log softmax_j(cos(q_i, p_j) / tau)[i] of embeddings [queries; positives] ([2·pairs, dim]).
inline double plain_info_nce(const std::vector<double>& e, int64_t pairs, int64_t dim, double tau) {
  auto cosine = [&](int64_t i, int64_t j) {
    double dot = 0, qq = 0, pp = 0;
    for (int64_t k = 0; k < dim; ++k) {
      const double q = e[i * dim + k], p = e[(pairs + j) * dim + k];
      dot += q * p, qq += q * q, pp += p * p;
    }
    return dot / std::sqrt(qq * pp);
  };
  double loss = 0;
  for (int64_t i = 0; i < pairs; ++i) {
    double sum = 0;
    for (int64_t j = 0; j < pairs; ++j) sum += std::exp(cosine(i, j) / tau);
    loss += std::log(sum) - cosine(i, i) / tau;
  }
  return loss / double(pairs);
}

}  // namespace alloy::stats_test
