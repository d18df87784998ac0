#include "tensor/low_rank_addend.h"

#include <vector>

#include "tensor/convert.h"

namespace alloy {

namespace {

std::vector<float> widen(const TensorView& v, int64_t first_row, int64_t rows) {
  std::vector<float> out(static_cast<size_t>(rows * v.row_length()));
  to_f32(v.dtype, v.data + static_cast<uint64_t>(first_row) * v.row_bytes(), out.data(), out.size());
  return out;
}

}  // namespace

void add_low_rank_rows(const LowRankAddend& d, int64_t row_begin, int64_t row_end, int64_t cols, float* dst) {
  if (row_end <= row_begin) return;
  const int64_t rank = d.a.shape[0];
  std::vector<double> acc(static_cast<size_t>(cols));
  if (!d.transposed) {
    // Row o of B·A is Σ_k B[o,k]·A[k,:].
    const std::vector<float> a = widen(d.a, 0, rank);
    const std::vector<float> b = widen(d.b, row_begin, row_end - row_begin);
    for (int64_t r = row_begin; r < row_end; ++r) {
      std::fill(acc.begin(), acc.end(), 0.0);
      const float* b_row = b.data() + (r - row_begin) * rank;
      for (int64_t k = 0; k < rank; ++k) {
        const double bk = b_row[k];
        const float* a_row = a.data() + k * cols;
        for (int64_t c = 0; c < cols; ++c) acc[c] += bk * a_row[c];
      }
      float* out = dst + (r - row_begin) * cols;
      for (int64_t c = 0; c < cols; ++c) out[c] = static_cast<float>(out[c] + d.scale * acc[c]);
    }
    return;
  }
  // Stored transposed: row i of (B·A)ᵀ is Σ_k A[k,i]·B[:,k].
  const int64_t in = d.a.row_length();
  const std::vector<float> a = widen(d.a, 0, rank);
  const std::vector<float> b = widen(d.b, 0, cols);
  for (int64_t r = row_begin; r < row_end; ++r) {
    float* out = dst + (r - row_begin) * cols;
    for (int64_t o = 0; o < cols; ++o) {
      const float* b_row = b.data() + o * rank;
      double sum = 0;
      for (int64_t k = 0; k < rank; ++k) sum += static_cast<double>(b_row[k]) * a[static_cast<size_t>(k * in + r)];
      out[o] = static_cast<float>(out[o] + d.scale * sum);
    }
  }
}

}  // namespace alloy
