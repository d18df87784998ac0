// Dequantisation of GGUF tensors to f32, whole or by rows (a row is ne[0] elements, the run that
// quantisation blocks never cross), so a merge can stream a quantised tensor chunk by chunk. The
// f32 values come out in the tensor's row-major order, which is its PyTorch shape's order.
#pragma once
#include <cstdint>
#include <vector>

#include "io/gguf_file.h"
#include "io/gguf_model.h"

namespace alloy {

// Decodes rows [first_row, first_row + row_count) of the tensor whose bytes start at `data` into
// row_count · row_length floats at `out`. Throws Error naming the tensor and its type when alloy
// cannot dequantise the type, or when the rows are out of range.
void dequantise_rows(const GgufTensorInfo& info, const std::byte* data, uint64_t first_row, uint64_t row_count,
                     float* out);

// The whole tensor as f32.
std::vector<float> dequantise_tensor(const GgufTensor& tensor);

}  // namespace alloy
