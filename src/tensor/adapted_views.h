// Which input views read as their stored values plus a low-rank addend (a LoRA adapter applied to
// its base while merging, lora/apply_adapter.h). A view is matched by the address and size of its
// bytes: the adapted checkpoint maps its base files for itself, so no other view shares them, and
// TensorView, the plain value every reader passes around, stays as it is.
#pragma once
#include <cstdint>
#include <memory>

#include "tensor/low_rank_addend.h"
#include "tensor/tensor_view.h"

namespace alloy {

// Views of exactly `view`'s bytes read with `addend` added for as long as the returned handle lives.
std::shared_ptr<const void> register_adapted_view(const TensorView& view, std::shared_ptr<const LowRankAddend> addend);

// The addend registered for `view`, or nullptr (at the cost of one atomic load when none is).
const LowRankAddend* adapted_view_addend(const TensorView& view);

// True when `view`'s values are not its bytes read as `dtype` (GGUF encodings, an adapter): then
// only read_view_rows (tensor/view_rows.h) reads it, and its bytes are never copied as its values.
inline bool reads_through_view_rows(const TensorView& view) {
  return view.is_encoded() || adapted_view_addend(view) != nullptr;
}

}  // namespace alloy
