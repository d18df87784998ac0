#include "model/model_config.h"

#include <cmath>

#include "model/config_json.h"
#include "util/error.h"

namespace alloy {
namespace {

using config_json::bool_or;
using config_json::find;
using config_json::number_or;
using config_json::positive_int;
using config_json::string_or;

RopeConfig read_rope(const nlohmann::json& config) {
  RopeConfig rope;
  rope.theta = number_or(config, "rope_theta", 10000.0);
  if (rope.theta <= 0) fail("config.json: 'rope_theta' must be positive, got ", rope.theta);
  if (double partial = number_or(config, "partial_rotary_factor", 1.0); partial != 1.0)
    fail("config.json: 'partial_rotary_factor' ", partial, " is not supported (only 1: RoPE over the whole head)");
  const nlohmann::json* scaling = find(config, "rope_scaling");
  if (!scaling) return rope;
  if (!scaling->is_object()) fail("config.json: 'rope_scaling' must be an object, got ", scaling->dump());
  const nlohmann::json* kind = find(*scaling, "rope_type");
  const char* kind_key = "rope_scaling.rope_type";
  if (!kind) {
    kind = find(*scaling, "type");
    kind_key = "rope_scaling.type";
  }
  if (!kind || !kind->is_string()) fail("config.json: 'rope_scaling' has no 'rope_type' (or 'type') string");
  const std::string name = kind->get<std::string>();
  if (name == "default") return rope;
  if (name != "linear" && name != "llama3")
    fail("config.json: '", kind_key, "' is \"", name, "\"; the engine supports \"linear\" and \"llama3\"");
  rope.scaling = name == "linear" ? RopeScaling::kLinear : RopeScaling::kLlama3;
  if (!find(*scaling, "factor")) fail("config.json: 'rope_scaling.factor' is missing");
  rope.factor = number_or(*scaling, "factor", 1.0, "rope_scaling.");
  if (rope.factor <= 0) fail("config.json: 'rope_scaling.factor' must be positive, got ", rope.factor);
  if (rope.scaling == RopeScaling::kLlama3) {
    for (const char* key : {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
      if (!find(*scaling, key)) fail("config.json: 'rope_scaling.", key, "' is missing (rope_type llama3 needs it)");
    rope.low_freq_factor = number_or(*scaling, "low_freq_factor", 1.0, "rope_scaling.");
    rope.high_freq_factor = number_or(*scaling, "high_freq_factor", 4.0, "rope_scaling.");
    rope.original_max_position =
        number_or(*scaling, "original_max_position_embeddings", 8192.0, "rope_scaling.");
    if (!(rope.high_freq_factor > rope.low_freq_factor) || rope.low_freq_factor <= 0 ||
        rope.original_max_position <= 0)
      fail("config.json: 'rope_scaling' needs 0 < low_freq_factor < high_freq_factor and a positive "
           "original_max_position_embeddings");
  }
  return rope;
}

}  // namespace

std::string layer_prefix(int64_t layer) { return cat("model.layers.", layer, "."); }

ModelConfig decoder_config_from_json(const nlohmann::json& config, bool has_lm_head) {
  if (!config.is_object()) fail("config.json: expected an object");
  ModelConfig c;
  const nlohmann::json* archs = find(config, "architectures");
  if (!archs || !archs->is_array() || archs->empty() || !(*archs)[0].is_string())
    fail("config.json: 'architectures' is missing; the engine needs it to know the model family");
  c.architecture = (*archs)[0].get<std::string>();
  const bool llama = c.architecture == "LlamaForCausalLM";
  const bool mistral = c.architecture == "MistralForCausalLM";
  const bool qwen2 = c.architecture == "Qwen2ForCausalLM";
  const bool qwen3 = c.architecture == "Qwen3ForCausalLM";
  if (!llama && !mistral && !qwen2 && !qwen3)
    fail("config.json: 'architectures' is ", c.architecture,
         "; the engine runs LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM");

  c.vocab_size = positive_int(config, "vocab_size");
  c.hidden_size = positive_int(config, "hidden_size");
  c.intermediate_size = positive_int(config, "intermediate_size");
  c.num_layers = positive_int(config, "num_hidden_layers", config_json::kMaxConfigLayers);
  c.num_heads = positive_int(config, "num_attention_heads");
  c.num_kv_heads = find(config, "num_key_value_heads") ? positive_int(config, "num_key_value_heads") : c.num_heads;
  if (c.num_heads % c.num_kv_heads != 0)
    fail("config.json: 'num_attention_heads' (", c.num_heads, ") is not a multiple of 'num_key_value_heads' (",
         c.num_kv_heads, ")");
  if (find(config, "head_dim")) {
    c.head_dim = positive_int(config, "head_dim");
  } else {
    if (c.hidden_size % c.num_heads != 0)
      fail("config.json: 'hidden_size' ", c.hidden_size, " is not a multiple of 'num_attention_heads' ", c.num_heads,
           " and there is no 'head_dim'");
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (c.head_dim % 2 != 0) fail("config.json: the head dimension ", c.head_dim, " must be even for RoPE");
  c.rms_norm_eps = number_or(config, "rms_norm_eps", 1e-6);
  if (c.rms_norm_eps < 0) fail("config.json: 'rms_norm_eps' must not be negative");
  c.rope = read_rope(config);

  if (const nlohmann::json* act = find(config, "hidden_act")) {
    if (!act->is_string() || act->get<std::string>() != "silu")
      fail("config.json: 'hidden_act' is ", act->dump(), "; the engine supports \"silu\"");
  }
  if (bool_or(config, "mlp_bias", false)) fail("config.json: 'mlp_bias' true is not supported");
  const bool attention_bias = bool_or(config, "attention_bias", false);
  c.qkv_bias = qwen2 || attention_bias;
  c.o_bias = !qwen2 && attention_bias;
  c.qk_norm = qwen3;
  c.tied_embeddings = !has_lm_head || bool_or(config, "tie_word_embeddings", false);

  // Mistral's window applies whenever set; Qwen's only with use_sliding_window.
  const bool window_on = mistral || ((qwen2 || qwen3) && bool_or(config, "use_sliding_window", false));
  if (window_on && find(config, "sliding_window")) c.sliding_window = positive_int(config, "sliding_window");
  return c;
}

std::vector<ExpectedTensor> decoder_tensors(const ModelConfig& c) {
  const int64_t d = c.hidden_size, q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  std::vector<ExpectedTensor> out{{"model.embed_tokens.weight", {c.vocab_size, d}}};
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = layer_prefix(l);
    out.push_back({p + "input_layernorm.weight", {d}});
    out.push_back({p + "self_attn.q_proj.weight", {q, d}});
    out.push_back({p + "self_attn.k_proj.weight", {kv, d}});
    out.push_back({p + "self_attn.v_proj.weight", {kv, d}});
    if (c.qkv_bias) {
      out.push_back({p + "self_attn.q_proj.bias", {q}});
      out.push_back({p + "self_attn.k_proj.bias", {kv}});
      out.push_back({p + "self_attn.v_proj.bias", {kv}});
    }
    if (c.qk_norm) {
      out.push_back({p + "self_attn.q_norm.weight", {c.head_dim}});
      out.push_back({p + "self_attn.k_norm.weight", {c.head_dim}});
    }
    out.push_back({p + "self_attn.o_proj.weight", {d, q}});
    if (c.o_bias) out.push_back({p + "self_attn.o_proj.bias", {d}});
    out.push_back({p + "post_attention_layernorm.weight", {d}});
    out.push_back({p + "mlp.gate_proj.weight", {c.intermediate_size, d}});
    out.push_back({p + "mlp.up_proj.weight", {c.intermediate_size, d}});
    out.push_back({p + "mlp.down_proj.weight", {d, c.intermediate_size}});
  }
  out.push_back({"model.norm.weight", {d}});
  if (!c.tied_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, d}});
  return out;
}

}  // namespace alloy
