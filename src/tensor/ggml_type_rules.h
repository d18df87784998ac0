// Which ggml type each tensor of a GGUF output is stored in for a chosen `--out-type`: the rules
// of llama.cpp's own tools, so an alloy file holds what convert_hf_to_gguf.py (float types) or
// llama-quantize (quantised types) would write. Where each rule comes from: docs/gguf.md.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "tensor/ggml_quants.h"

namespace alloy {

// The types `--out-type` accepts: f32, f16, bf16, q8_0, q4_0, q5_0, q4_k, q5_k, q6_k (any case);
// nullopt for any other name.
std::optional<GgmlType> parse_out_type(std::string_view name);
// "f32|f16|bf16|q8_0|q4_0|q5_0|q4_k|q5_k|q6_k", for help texts and errors.
std::string_view out_type_names();

// The type of the GGUF tensor `name` (llama.cpp's names: "blk.3.attn_q.weight") with dimensions
// `ne` in ggml order (ne[0] = row length) when the file's type is `out_type`. `has_output` says
// whether the file has its own output.weight; without it token_embd.weight is also the output
// projection and is treated as one.
GgmlType gguf_tensor_type(GgmlType out_type, std::string_view name, std::span<const uint64_t> ne, bool has_output);

}  // namespace alloy
