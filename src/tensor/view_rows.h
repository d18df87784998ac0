// Reading any input view as f32 rows: plain dtypes are converted, quantised GGUF blocks are
// dequantised row by row (a row is whole blocks), and rows stored in llama.cpp's rotary order are
// read back in Hugging Face order; a LoRA adapter's low-rank delta is added last (adapted_views.h).
// Every reader of merge inputs goes through here, so a view's encoding is decided once, where the
// checkpoint is opened.
#pragma once
#include <cstdint>

#include "tensor/tensor_view.h"

namespace alloy {

// Rows [row_begin, row_end) of `view` (row_length() floats each) into dst.
void read_view_rows(const TensorView& view, int64_t row_begin, int64_t row_end, float* dst);

}  // namespace alloy
