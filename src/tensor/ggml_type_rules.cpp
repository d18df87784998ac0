#include "tensor/ggml_type_rules.h"

#include <array>

namespace alloy {

namespace {

constexpr std::array<GgmlType, 9> kOutTypes = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16,
                                               GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0,
                                               GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

// Tensors both llama.cpp tools leave in f32 whatever the file type: small or precision-critical
// ones (routers, position tables, convolutions, recurrent-state mixers), the union of
// convert_hf_to_gguf.py's always-F32 list and llama-quantize's tensor_allows_quantization.
constexpr std::string_view kKeptF32[] = {
    "_norm.weight",        "ffn_gate_inp",    "position_embd", "token_types", "ssm_conv1d", "shortconv.conv",
    "time_mix_first",      "time_mix_w0",     "time_mix_w1",   "time_mix_w2", "time_mix_v0", "time_mix_v1",
    "time_mix_v2",         "time_mix_a0",     "time_mix_a1",   "time_mix_a2", "time_mix_g1", "time_mix_g2",
    "time_mix_decay_w1",   "time_mix_decay_w2", "time_mix_lerp_fused", "altup", "laurel", "per_layer_model_proj",
    "attn_rel_b.weight",   "indexer.k_proj.weight", "indexer.q_proj.weight",
};

// ggml_n_dims: dimensions up to the last one longer than 1 (a [n, 1] tensor is 1-D).
int ggml_dims(std::span<const uint64_t> ne) {
  int dims = 1;
  for (size_t i = 0; i < ne.size(); ++i)
    if (ne[i] > 1) dims = static_cast<int>(i) + 1;
  return dims;
}

bool kept_f32(std::string_view name, std::span<const uint64_t> ne) {
  if (ggml_dims(ne) < 2 || !name.ends_with("weight")) return true;
  for (std::string_view part : kKeptF32)
    if (name.find(part) != std::string_view::npos) return true;
  return false;
}

bool is_quantised(GgmlType t) { return traits(t).block_elements > 1; }
bool fits(GgmlType t, uint64_t row) { return row % traits(t).block_elements == 0; }

// llama-quantize's tensor_type_fallback: a row length the type's blocks cannot tile takes the
// nearest 32-element type, and F16 when even that does not tile it.
GgmlType fall_back(GgmlType t, uint64_t row) {
  if (fits(t, row)) return t;
  switch (t) {
    case GgmlType::Q4_K: t = GgmlType::Q5_0; break;
    case GgmlType::Q5_K: t = GgmlType::Q5_1; break;
    case GgmlType::Q6_K: t = GgmlType::Q8_0; break;
    default: break;
  }
  return fits(t, row) ? t : GgmlType::F16;
}

}  // namespace

std::optional<GgmlType> parse_out_type(std::string_view name) {
  const std::optional<GgmlType> t = ggml_type_from_name(name);
  for (GgmlType allowed : kOutTypes)
    if (t == allowed) return t;
  return std::nullopt;
}

std::string_view out_type_names() { return "f32|f16|bf16|q8_0|q4_0|q5_0|q4_k|q5_k|q6_k"; }

GgmlType gguf_tensor_type(GgmlType out_type, std::string_view name, std::span<const uint64_t> ne, bool has_output) {
  if (kept_f32(name, ne)) return GgmlType::F32;
  if (!is_quantised(out_type)) return out_type;
  const uint64_t row = ne[0];
  GgmlType type = out_type;
  // llama_tensor_get_type: the output projection (token_embd too when it doubles as one) gets
  // Q6_K, or Q8_0 where the file type is Q8_0 or its blocks do not tile the row.
  const bool output = name == "output.weight" || (!has_output && name == "token_embd.weight");
  if (output) type = !fits(out_type, row) || out_type == GgmlType::Q8_0 ? GgmlType::Q8_0 : GgmlType::Q6_K;
  return fall_back(type, row);
}

}  // namespace alloy
