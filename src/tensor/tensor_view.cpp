#include "tensor/tensor_view.h"

namespace alloy {

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

uint64_t TensorView::row_bytes() const {
  const auto cols = static_cast<uint64_t>(row_length());
  if (!quantised) return cols * dtype_size(dtype);
  const GgmlTypeTraits& t = traits(*quantised);
  return cols / t.block_elements * t.block_bytes;
}

}  // namespace alloy
