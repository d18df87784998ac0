// TensorView: a non-owning view of one tensor's bytes (usually inside a memory-mapped file).
// The bytes need not be aligned; read them through to_f32 or memcpy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/dtype.h"

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

  int64_t numel() const { return alloy::numel(shape); }
  // Elements in the last dimension (1 for scalars); a "row" for row-wise methods.
  int64_t row_length() const { return shape.empty() ? 1 : shape.back(); }
  int64_t rows() const { return row_length() == 0 ? 0 : numel() / row_length(); }
};

}  // namespace alloy
