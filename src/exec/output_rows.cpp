#include "exec/output_rows.h"

#include <algorithm>
#include <cstring>

#include "tensor/convert.h"
#include "tensor/ggml_quantise.h"
#include "util/error.h"

namespace alloy {

uint64_t RowEncoding::row_bytes() const {
  return ggml_type ? ggml_bytes(*ggml_type, static_cast<uint64_t>(cols)) : static_cast<uint64_t>(cols) * dtype_size(dtype);
}

void RowEncoding::encode(const float* src, int64_t rows, unsigned char* dst) const {
  const auto n = static_cast<uint64_t>(rows * cols);
  if (ggml_type)
    quantise(*ggml_type, src, reinterpret_cast<std::byte*>(dst), n);
  else
    from_f32(src, dtype, dst, n);
}

int64_t RowEncoding::rows_per_block(int64_t target) const {
  const int64_t rows = std::max<int64_t>(1, target);
  if (rotary_group_rows <= 1) return rows;
  return (rows + rotary_group_rows - 1) / rotary_group_rows * rotary_group_rows;
}

void to_rotary_order(unsigned char* rows, int64_t n_rows, uint64_t row_bytes, int64_t group_rows,
                     std::vector<unsigned char>& scratch) {
  if (group_rows % 2 != 0 || n_rows % group_rows != 0)
    fail("rotary row order: ", n_rows, " rows are not whole groups of an even ", group_rows);
  const int64_t half = group_rows / 2;
  scratch.resize(static_cast<size_t>(group_rows) * row_bytes);
  for (int64_t g = 0; g < n_rows; g += group_rows) {
    unsigned char* group = rows + static_cast<size_t>(g) * row_bytes;
    std::memcpy(scratch.data(), group, scratch.size());
    for (int64_t i = 0; i < half; ++i)
      for (int64_t k = 0; k < 2; ++k)
        std::memcpy(group + static_cast<size_t>(2 * i + k) * row_bytes,
                    scratch.data() + static_cast<size_t>(k * half + i) * row_bytes, row_bytes);
  }
}

}  // namespace alloy
