// ModelConfig: the shape of a decoder-only causal LM of the Llama family (Llama, Mistral, Qwen2,
// Qwen3), read from a Hugging Face config.json. Everything the engine needs to run the model and
// nothing else; a switch the engine cannot honour is an Error naming the config key.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace alloy {

enum class RopeScaling { kNone, kLinear, kLlama3 };

struct RopeConfig {
  double theta = 10000.0;
  RopeScaling scaling = RopeScaling::kNone;
  double factor = 1.0;  // linear and llama3
  // llama3 only: the frequency bands and the context length the model was trained at.
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  double original_max_position = 8192.0;
};

struct ModelConfig {
  std::string architecture;  // "LlamaForCausalLM", ...
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;  // GQA when smaller than num_heads
  int64_t head_dim = 0;      // hidden_size / num_heads unless config.json says otherwise
  double rms_norm_eps = 1e-6;
  RopeConfig rope;
  bool qkv_bias = false;   // Qwen2 always; attention_bias elsewhere
  bool o_bias = false;     // attention_bias (not Qwen2)
  bool qk_norm = false;    // Qwen3: RMSNorm over each head of q and k before RoPE
  bool tied_embeddings = false;  // lm_head is model.embed_tokens.weight
  int64_t sliding_window = 0;    // 0: none; sequences longer than it are refused
};

// Reads config.json. `has_lm_head` says whether the checkpoint stores lm_head.weight: a missing
// one means a tied head whatever tie_word_embeddings says. Throws Error naming the key for a
// missing or bad value and for an architecture or switch the engine does not support.
ModelConfig decoder_config_from_json(const nlohmann::json& config, bool has_lm_head);

// The tensor names of one model in Hugging Face layout and the shape each must have.
struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
};
std::vector<ExpectedTensor> decoder_tensors(const ModelConfig& config);
// Names of the tensors of block `layer` ("model.layers.N.").
std::string layer_prefix(int64_t layer);

}  // namespace alloy
