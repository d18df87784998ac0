#include "tensor/view_rows.h"

#include <vector>

#include "tensor/convert.h"
#include "tensor/adapted_views.h"
#include "tensor/rotary_rows.h"

namespace alloy {

namespace {

// `count` stored rows from stored row `first`.
void decode_rows(const TensorView& v, int64_t first, int64_t count, float* dst) {
  const std::byte* src = v.data + static_cast<uint64_t>(first) * v.row_bytes();
  const auto n = static_cast<uint64_t>(count * v.row_length());
  if (v.quantised)
    dequantise(*v.quantised, src, dst, n);
  else
    to_f32(v.dtype, src, dst, n);
}

void read_stored_rows(const TensorView& v, int64_t row_begin, int64_t row_end, float* dst) {
  if (v.rotary_heads <= 0) return decode_rows(v, row_begin, row_end - row_begin, dst);
  const int64_t cols = v.row_length();
  if (v.shape.size() == 1) {
    // A q/k bias: its elements are the permuted "rows".
    std::vector<float> stored(static_cast<size_t>(cols));
    decode_rows(v, 0, 1, stored.data());
    for (int64_t e = 0; e < cols; ++e) dst[e] = stored[static_cast<size_t>(hf_row_to_llama(e, cols, v.rotary_heads))];
    return;
  }
  const int64_t rows = v.rows();
  for (int64_t r = row_begin; r < row_end; ++r)
    decode_rows(v, hf_row_to_llama(r, rows, v.rotary_heads), 1, dst + (r - row_begin) * cols);
}

}  // namespace

void read_view_rows(const TensorView& v, int64_t row_begin, int64_t row_end, float* dst) {
  if (row_end <= row_begin) return;
  read_stored_rows(v, row_begin, row_end, dst);
  if (const LowRankAddend* addend = adapted_view_addend(v))
    add_low_rank_rows(*addend, row_begin, row_end, v.row_length(), dst);
}

}  // namespace alloy
