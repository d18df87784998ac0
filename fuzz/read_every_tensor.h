// What a merge asks of every tensor of an opened input: its values as f32 rows, through the one
// reader of merge inputs (conversion, GGUF dequantisation, rotary un-permutation).
#pragma once
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "tensor/view_rows.h"

namespace alloy::fuzz {

inline void read_every_tensor(const Checkpoint& checkpoint) {
  std::vector<float> rows;
  for (const std::string& name : checkpoint.tensor_names()) {
    const TensorView view = checkpoint.tensor(name);
    rows.resize(static_cast<size_t>(view.rows() * view.row_length()));
    read_view_rows(view, 0, view.rows(), rows.data());
  }
}

}  // namespace alloy::fuzz
