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
  // The bytes are a read-only file mapping: their pages may be dropped from memory and re-read
  // (page_hints.h). Never set for memory the program owns (dropping it would lose it).
  bool file_mapped = false;
  // For file-mapped bytes, the open file and their offset in it (for dropping them from the page
  // cache once read: page_hints.h); -1 where unknown.
  int file_fd = -1;
  uint64_t file_offset = 0;

  int64_t numel() const { return alloy::numel(shape); }
  // Elements in the last dimension (1 for scalars); a "row" for row-wise methods.
  int64_t row_length() const { return shape.empty() ? 1 : shape.back(); }
  int64_t rows() const { return row_length() == 0 ? 0 : numel() / row_length(); }
};

}  // namespace alloy
