// What a tensor name in a PEFT adapter file means: half of a module's low-rank pair (lora_A/lora_B,
// or lora_embedding_A/B for embeddings), or a full replacement tensor of a modules_to_save module,
// with the module's name as the base model calls it ("base_model.model." and PEFT's adapter name
// "default" removed).
#pragma once
#include <filesystem>
#include <string>

namespace alloy {

struct AdapterTensorName {
  enum class Kind { A, B, EmbeddingA, EmbeddingB, Full };
  Kind kind = Kind::Full;
  std::string module;  // "model.layers.0.self_attn.q_proj"
  std::string param;   // Full only: "weight", "bias"
  // The base model's tensor this one adapts or replaces.
  std::string base_tensor() const { return module + "." + (kind == Kind::Full ? param : "weight"); }
};

// Throws Error naming `file` and the tensor for names without PEFT's prefix, and for LoRA parts
// alloy does not apply (lora_B.bias, DoRA's lora_magnitude_vector, other adapter names).
AdapterTensorName parse_adapter_tensor_name(const std::string& name, const std::filesystem::path& file);

}  // namespace alloy
