// How merged f32 rows become output bytes: the output's dtype (safetensors) or ggml type (GGUF,
// quantised included), and, for GGUF q/k projections, llama.cpp's rotary row order. Rows are
// encoded independently (a ggml block never spans two rows), so any block of whole rows can be
// encoded and written on its own.
#pragma once
#include <cstdint>
#include <vector>

#include "io/output_layout.h"

namespace alloy {

struct RowEncoding {
  DType dtype = DType::F32;           // used when ggml_type is empty
  std::optional<GgmlType> ggml_type;  // GGUF output
  int64_t cols = 0;                   // elements per row
  int64_t rotary_group_rows = 0;      // TensorPlacement::rotary_group_rows

  RowEncoding(DType dtype, const TensorPlacement& place, int64_t cols)
      : dtype(dtype), ggml_type(place.ggml_type), cols(cols), rotary_group_rows(place.rotary_group_rows) {}
  uint64_t row_bytes() const;
  // Encodes rows * cols values at `src` into rows * row_bytes() bytes at `dst`.
  void encode(const float* src, int64_t rows, unsigned char* dst) const;
  // Blocks of rows must hold whole rotary groups; the target rounded up to them.
  int64_t rows_per_block(int64_t target) const;
};

// Puts `rows` rows of `row_bytes` bytes (whole groups of `group_rows`, an even number) into llama.cpp's
// rotary order: in each group, row 2i+k takes the row k*group_rows/2 + i had. `scratch` is reused.
void to_rotary_order(unsigned char* rows, int64_t n_rows, uint64_t row_bytes, int64_t group_rows,
                     std::vector<unsigned char>& scratch);

}  // namespace alloy
