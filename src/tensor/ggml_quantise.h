// Quantisers from f32 into ggml block types, the inverse of the dequantisers in ggml_quants.h.
// Each follows the algorithm of llama.cpp's reference quantiser for its type (quantize_row_*_ref
// in ggml-quants.c, what llama-quantize runs without an importance matrix), so alloy writes the
// bytes llama.cpp would write from the same values; docs/gguf.md says which algorithm is which.
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/ggml_quants.h"

namespace alloy {

// Whether quantise() can write `type`: F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K.
bool can_quantise(GgmlType type);

// Bytes that n elements (whole blocks) of `type` take.
uint64_t ggml_bytes(GgmlType type, uint64_t n);

// Encodes n f32 values at `src` into ggml_bytes(type, n) bytes at `dst` (unaligned). Throws Error
// naming the type when alloy has no quantiser for it or n is not whole blocks of it.
void quantise(GgmlType type, const float* src, std::byte* dst, uint64_t n);

}  // namespace alloy
