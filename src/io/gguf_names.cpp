#include "io/gguf_names.h"

#include <charconv>

#include "util/error.h"

namespace alloy {

namespace {

constexpr LlamaFamilyArch kFamilies[] = {
    {"llama", "LlamaForCausalLM", "llama", true},
    {"qwen2", "Qwen2ForCausalLM", "qwen2", false},
};
// HF classes stored under another family's GGUF architecture (convert_hf_to_gguf.py's LlamaModel).
constexpr std::pair<std::string_view, std::string_view> kClassAliases[] = {
    {"MistralForCausalLM", "llama"}, {"MixtralForCausalLM", "llama"}, {"LLaMAForCausalLM", "llama"},
};

struct Row {
  std::string_view hf, gguf;
};
constexpr Row kWhole[] = {{"model.embed_tokens", "token_embd"}, {"model.norm", "output_norm"}, {"lm_head", "output"}};
constexpr Row kPerLayer[] = {
    {"self_attn.q_proj", "attn_q"},      {"self_attn.k_proj", "attn_k"},   {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"}, {"input_layernorm", "attn_norm"}, {"mlp.gate_proj", "ffn_gate"},
    {"mlp.down_proj", "ffn_down"},       {"mlp.up_proj", "ffn_up"},        {"post_attention_layernorm", "ffn_norm"},
};

int64_t rotary_heads_of(std::string_view gguf_part, const LlamaHeads& heads) {
  if (!heads.rotary_permuted) return 0;
  return gguf_part == "attn_q" ? heads.heads : gguf_part == "attn_k" ? heads.kv_heads : 0;
}

// "<prefix><N>.<rest>" -> (N, rest); nullopt when the name does not have that shape.
std::optional<std::pair<int64_t, std::string_view>> split_layer(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix)) return std::nullopt;
  const std::string_view rest = name.substr(prefix.size());
  int64_t layer = -1;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), layer);
  if (ec != std::errc() || end == rest.data() || end == rest.data() + rest.size() || *end != '.') return std::nullopt;
  return std::pair{layer, rest.substr(static_cast<size_t>(end - rest.data()) + 1)};
}

// Splits ".weight"/".bias" off `name`; empty suffix when it has neither.
std::pair<std::string_view, std::string_view> split_suffix(std::string_view name) {
  for (std::string_view s : {std::string_view(".weight"), std::string_view(".bias")})
    if (name.ends_with(s)) return {name.substr(0, name.size() - s.size()), s};
  return {name, {}};
}

}  // namespace

const LlamaFamilyArch* llama_family_by_gguf_arch(std::string_view gguf_arch) {
  for (const LlamaFamilyArch& f : kFamilies)
    if (f.gguf_arch == gguf_arch) return &f;
  return nullptr;
}

const LlamaFamilyArch* llama_family_by_config(const nlohmann::json& config) {
  auto string_at = [&](const nlohmann::json* v) { return v && v->is_string() ? v->get<std::string>() : std::string(); };
  const auto archs = config.find("architectures");
  const std::string cls =
      archs != config.end() && archs->is_array() && !archs->empty() ? string_at(&archs->front()) : std::string();
  const auto type_it = config.find("model_type");
  const std::string type = type_it != config.end() ? string_at(&*type_it) : std::string();
  for (const LlamaFamilyArch& f : kFamilies)
    if ((!cls.empty() && f.hf_class == cls) || (cls.empty() && f.model_type == type)) return &f;
  for (const auto& [alias, gguf_arch] : kClassAliases)
    if (alias == cls) return llama_family_by_gguf_arch(gguf_arch);
  if (cls.empty() && (type == "mistral" || type == "mixtral")) return llama_family_by_gguf_arch("llama");
  return nullptr;
}

LlamaHeads llama_heads(const nlohmann::json& config) {
  auto get = [&](const char* key) -> int64_t {
    auto it = config.find(key);
    return it != config.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
  };
  LlamaHeads h{get("num_attention_heads"), get("num_key_value_heads")};
  if (h.heads <= 0) fail("config.json: num_attention_heads is missing or not positive");
  if (h.kv_heads <= 0) h.kv_heads = h.heads;
  if (const LlamaFamilyArch* family = llama_family_by_config(config)) h.rotary_permuted = family->rotary_permuted;
  return h;
}

std::optional<GgufName> gguf_name_from_hf(std::string_view hf, const LlamaHeads& heads) {
  const auto [stem, suffix] = split_suffix(hf);
  if (suffix.empty()) return std::nullopt;
  for (const Row& r : kWhole)
    if (stem == r.hf) return GgufName{std::string(r.gguf) + std::string(suffix), 0};
  const auto layer = split_layer(stem, "model.layers.");
  if (!layer) return std::nullopt;
  for (const Row& r : kPerLayer)
    if (layer->second == r.hf)
      return GgufName{"blk." + std::to_string(layer->first) + "." + std::string(r.gguf) + std::string(suffix),
                      rotary_heads_of(r.gguf, heads)};
  return std::nullopt;
}

std::optional<GgufName> hf_name_from_gguf(std::string_view gguf, const LlamaHeads& heads) {
  const auto [stem, suffix] = split_suffix(gguf);
  if (suffix.empty()) return std::nullopt;
  for (const Row& r : kWhole)
    if (stem == r.gguf) return GgufName{std::string(r.hf) + std::string(suffix), 0};
  const auto layer = split_layer(stem, "blk.");
  if (!layer) return std::nullopt;
  for (const Row& r : kPerLayer)
    if (layer->second == r.gguf)
      return GgufName{"model.layers." + std::to_string(layer->first) + "." + std::string(r.hf) + std::string(suffix),
                      rotary_heads_of(r.gguf, heads)};
  return std::nullopt;
}

}  // namespace alloy
