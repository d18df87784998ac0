// llama.cpp's row order for rotary q/k weights: convert_hf_to_gguf.py's LlamaModel.permute reshapes
// a [rows, cols] weight to (heads, 2, rows/heads/2, cols) and swaps axes 1 and 2, so within each
// head of d rows, Hugging Face row j·(d/2) + i (j < 2, i < d/2) is stored at row 2·i + j. Index
// arithmetic only; rows must be a multiple of 2·heads.
#pragma once
#include <cstdint>

namespace alloy {

inline int64_t hf_row_to_llama(int64_t hf_row, int64_t rows, int64_t heads) {
  const int64_t d = rows / heads, half = d / 2;
  const int64_t head = hf_row / d, in_head = hf_row % d;
  return head * d + 2 * (in_head % half) + in_head / half;
}

inline int64_t llama_row_to_hf(int64_t llama_row, int64_t rows, int64_t heads) {
  const int64_t d = rows / heads, half = d / 2;
  const int64_t head = llama_row / d, in_head = llama_row % d;
  return head * d + (in_head % 2) * half + in_head / 2;
}

}  // namespace alloy
