// TensorView: a non-owning view of one tensor's bytes (usually inside a memory-mapped file).
// The bytes need not be aligned; read them through to_f32 or memcpy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/ggml_quants.h"

namespace alloy {

using Shape = std::vector<int64_t>;

inline int64_t numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(const Shape& shape);  // "[48, 32]"

struct TensorView {
  DType dtype = DType::F32;
  Shape shape;
  const std::byte* data = nullptr;
  uint64_t nbytes = 0;
  // The bytes are a read-only file mapping: their pages may be dropped from memory and read again
  // (the executor does, os/page_hints.h). Never set for memory the program owns (dropping it would
  // lose it). Which file they map is the reader's business, not the view's.
  bool file_mapped = false;
  // A GGUF tensor in a quantised ggml type (no DType holds it): `data`/`nbytes` are its blocks as
  // stored and `dtype` is F32, the type it reads as. Such a view, or one with rotary_heads, is read
  // through read_view_rows (tensor/view_rows.h), never as plain `dtype` elements.
  std::optional<GgmlType> quantised;
  // Rows stored in llama.cpp's rotary order within this many heads (tensor/rotary_rows.h: a GGUF
  // q/k weight presented under its Hugging Face name), read back in HF order; 0: stored in order.
  int64_t rotary_heads = 0;

  int64_t numel() const { return alloy::numel(shape); }
  // Elements in the last dimension (1 for scalars); a "row" for row-wise methods.
  int64_t row_length() const { return shape.empty() ? 1 : shape.back(); }
  int64_t rows() const { return row_length() == 0 ? 0 : numel() / row_length(); }
  // True when the bytes are not `dtype` elements in row-major order, so a byte copy of them is not
  // a copy of the values.
  bool is_encoded() const { return quantised.has_value() || rotary_heads > 0; }
  uint64_t row_bytes() const;  // stored bytes of one row (whole quantisation blocks)
};

}  // namespace alloy
