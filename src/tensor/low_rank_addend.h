// LowRankAddend: scale·B·A added to a tensor's rows as they are read, so that a LoRA adapter is
// applied to its base weight while merging (lora/apply_adapter.h, tensor/adapted_views.h) without
// the adapted weight ever being stored. A is [r, in] and B [out, r]; the weight is [out, in], or [in, out] when `transposed`
// (PEFT's fan_in_fan_out layers and its embedding LoRA, whose delta is (B·A)ᵀ).
#pragma once
#include <cstdint>

#include "tensor/tensor_view.h"

namespace alloy {

struct LowRankAddend {
  TensorView a;  // [r, in], any float dtype
  TensorView b;  // [out, r]
  double scale = 1.0;
  bool transposed = false;
};

// Adds the addend's rows [row_begin, row_end) of the weight (`cols` floats each) to dst. Products
// of the f32-widened factors are exact in f64 and summed there; each element is rounded to f32 once,
// after adding the f32 weight already in dst, so the result is the f32 nearest to
// W + scale·Σ_k B·A up to the f64 summation error (r·2⁻⁵³ of Σ|terms|).
void add_low_rank_rows(const LowRankAddend& addend, int64_t row_begin, int64_t row_end, int64_t cols, float* dst);

}  // namespace alloy
