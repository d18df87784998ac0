// Hugging Face <-> llama.cpp tensor names for the Llama family (gguf-py's tensor map for
// MODEL_ARCH.LLAMA, which Mistral shares, and MODEL_ARCH.QWEN2), and the q/k row permutation that
// convert_hf_to_gguf.py applies for llama.cpp's rotary embedding (LlamaModel.permute: q_proj by
// num_attention_heads, k_proj by num_key_value_heads; Qwen2 is stored unpermuted). Pure functions:
// the GGUF writer maps HF -> llama.cpp, GGUF inputs presented under HF names map back.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "tensor/rotary_rows.h"  // hf_row_to_llama, llama_row_to_hf: the permutation on row indices

namespace alloy {

// One family both formats name: the GGUF general.architecture, the HF class and model_type
// written into a config.json, and whether q/k rows are stored permuted.
struct LlamaFamilyArch {
  std::string_view gguf_arch;   // "llama"
  std::string_view hf_class;    // "LlamaForCausalLM"
  std::string_view model_type;  // "llama"
  bool rotary_permuted;
};
// By GGUF general.architecture; nullptr for an architecture the mapping does not cover.
const LlamaFamilyArch* llama_family_by_gguf_arch(std::string_view gguf_arch);
// By config.json (architectures[0], else model_type): Mistral and Mixtral map to "llama".
const LlamaFamilyArch* llama_family_by_config(const nlohmann::json& config);

struct LlamaHeads {
  int64_t heads = 0;     // num_attention_heads
  int64_t kv_heads = 0;  // num_key_value_heads (heads when absent)
  bool rotary_permuted = true;  // false for families llama.cpp stores unpermuted (Qwen2)
};
// From config.json; throws Error when num_attention_heads is missing or not positive.
LlamaHeads llama_heads(const nlohmann::json& config);

struct GgufName {
  std::string name;          // "blk.3.attn_q.weight" (or, from hf_name_from_gguf, the HF name)
  int64_t rotary_heads = 0;  // rows permuted within this many heads (LlamaModel.permute); 0: not permuted
};
// nullopt for a name the Llama map does not have.
std::optional<GgufName> gguf_name_from_hf(std::string_view hf_name, const LlamaHeads& heads);
// The inverse: "blk.3.attn_q.weight" -> {"model.layers.3.self_attn.q_proj.weight", heads};
// rotary_heads says the GGUF rows are in llama.cpp's order. nullopt for names the map lacks.
std::optional<GgufName> hf_name_from_gguf(std::string_view gguf_name, const LlamaHeads& heads);

}  // namespace alloy
