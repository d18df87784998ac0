#include "io/gguf_metadata.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "io/gguf_names.h"
#include "io/gguf_writer.h"
#include "util/error.h"

namespace alloy {

namespace {

// find_hparam: the first of `keys` config.json has.
const nlohmann::json* find_hparam(const nlohmann::json& config, std::initializer_list<const char*> keys) {
  for (const char* key : keys)
    if (auto it = config.find(key); it != config.end() && !it->is_null()) return &*it;
  return nullptr;
}

uint32_t hparam_u32(const nlohmann::json& config, std::initializer_list<const char*> keys) {
  const nlohmann::json* v = find_hparam(config, keys);
  if (!v || !v->is_number_integer() || v->get<int64_t>() < 0 || v->get<int64_t>() > UINT32_MAX)
    fail("config.json: GGUF output needs '", *keys.begin(), "' (a non-negative integer)");
  return v->get<uint32_t>();
}

// general.base_model.N.*: an "org/name" label is a Hugging Face repository; anything else a path.
void set_base_models(std::vector<GgufKeyValue>& md, const std::vector<std::string>& labels) {
  gguf_set(md, "general.base_model.count", gguf_u32(static_cast<uint32_t>(labels.size())));
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string prefix = "general.base_model." + std::to_string(i) + ".";
    const std::string& label = labels[i];
    const size_t slash = label.find('/');
    const bool repo = slash != std::string::npos && slash > 0 && label.find('/', slash + 1) == std::string::npos &&
                      label[0] != '.' && !std::filesystem::exists(label);
    if (repo) {
      gguf_set(md, prefix + "name", gguf_string_value(label.substr(slash + 1)));
      gguf_set(md, prefix + "organization", gguf_string_value(label.substr(0, slash)));
      gguf_set(md, prefix + "repo_url", gguf_string_value("https://huggingface.co/" + label));
    } else {
      std::filesystem::path p(label);
      if (p.filename().empty()) p = p.parent_path();
      std::string name = p.filename().string();
      if (name.ends_with(".gguf")) name.resize(name.size() - 5);
      gguf_set(md, prefix + "name", gguf_string_value(name.empty() ? label : name));
    }
  }
}

bool is_base_model_key(const std::string& key) { return key.starts_with("general.base_model."); }

}  // namespace

uint32_t gguf_file_type(GgmlType type) {
  switch (type) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::Q4_0: return 2;
    case GgmlType::Q4_1: return 3;
    case GgmlType::Q8_0: return 7;
    case GgmlType::Q5_0: return 8;
    case GgmlType::Q5_1: return 9;
    case GgmlType::Q2_K: return 10;
    case GgmlType::Q3_K: return 11;  // Q3_K_S
    case GgmlType::Q4_K: return 14;  // Q4_K_S: Q4_K throughout but the output projection
    case GgmlType::Q5_K: return 16;  // Q5_K_S
    case GgmlType::Q6_K: return 18;
    case GgmlType::BF16: return 32;
    default: fail("no llama.cpp file type for ", ggml_type_name(type), " files");
  }
}

std::string gguf_size_label(uint64_t parameters) {
  const double n = static_cast<double>(parameters);
  double scaled = n * 1e-3;
  const char* suffix = "K";
  if (n > 1e12) {
    scaled = n * 1e-12;
    suffix = "T";
  } else if (n > 1e9) {
    scaled = n * 1e-9;
    suffix = "B";
  } else if (n > 1e6) {
    scaled = n * 1e-6;
    suffix = "M";
  }
  // Two significant digits at least: decimals = max(2 - digits of the rounded value, 0).
  const auto rounded = static_cast<uint64_t>(std::nearbyint(scaled));
  int digits = rounded == 0 ? 0 : static_cast<int>(std::to_string(rounded).size());
  const int decimals = std::max(2 - digits, 0);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f%s", decimals, scaled, suffix);
  return buf;
}

std::vector<GgufKeyValue> gguf_llama_metadata(const nlohmann::json& config, const GgufGeneral& general) {
  const LlamaFamilyArch* family = llama_family_by_config(config);
  if (!family || family->gguf_arch != "llama")
    fail("config.json: GGUF output from Hugging Face checkpoints is written for LlamaForCausalLM-shaped models "
         "(llama, mistral); this one is '", family ? family->gguf_arch : config.value("model_type", std::string("?")),
         "': merge GGUF inputs, or write safetensors and convert them with llama.cpp's convert_hf_to_gguf.py");
  if (find_hparam(config, {"num_local_experts", "num_experts", "n_routed_experts"}))
    fail("config.json: GGUF output of mixture-of-experts models from safetensors is not supported (llama.cpp stacks "
         "the experts into one tensor); merge GGUF inputs or convert the safetensors output with convert_hf_to_gguf.py");
  std::vector<GgufKeyValue> md;
  gguf_set(md, "general.architecture", gguf_string_value("llama"));
  gguf_set(md, "general.type", gguf_string_value("model"));
  gguf_set(md, "general.name", gguf_string_value(general.name));
  gguf_set(md, "general.size_label", gguf_string_value(gguf_size_label(general.parameters)));
  if (!general.base_models.empty()) set_base_models(md, general.base_models);

  const std::string a = "llama.";
  gguf_set(md, a + "block_count", gguf_u32(hparam_u32(config, {"n_layers", "num_hidden_layers", "n_layer", "num_layers"})));
  if (find_hparam(config, {"max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length",
                           "model_max_length"}))
    gguf_set(md, a + "context_length",
             gguf_u32(hparam_u32(config, {"max_position_embeddings", "n_ctx", "n_positions", "max_length",
                                          "max_sequence_length", "model_max_length"})));
  const uint32_t n_embd = hparam_u32(config, {"hidden_size", "n_embd", "dim"});
  gguf_set(md, a + "embedding_length", gguf_u32(n_embd));
  gguf_set(md, a + "feed_forward_length",
           gguf_u32(hparam_u32(config, {"prefix_dense_intermediate_size", "dense_intermediate_size",
                                        "intermediate_size", "n_inner", "hidden_dim"})));
  const uint32_t n_head = hparam_u32(config, {"num_attention_heads", "n_head", "n_heads"});
  gguf_set(md, a + "attention.head_count", gguf_u32(n_head));
  if (find_hparam(config, {"num_key_value_heads", "n_kv_heads"}))
    gguf_set(md, a + "attention.head_count_kv", gguf_u32(hparam_u32(config, {"num_key_value_heads", "n_kv_heads"})));
  if (auto it = config.find("is_causal"); it != config.end() && it->is_boolean() && !it->get<bool>())
    gguf_set(md, a + "attention.causal", gguf_bool(false));

  // RoPE: rope_parameters (newer transformers) or rope_scaling, with rope_theta beside or inside.
  nlohmann::json rope = nlohmann::json::object();
  if (const nlohmann::json* r = find_hparam(config, {"rope_parameters", "rope_scaling"}); r && r->is_object()) rope = *r;
  if (rope.contains("full_attention")) rope = rope["full_attention"];
  std::string rope_type = rope.value("rope_type", rope.value("type", std::string()));
  if (!rope_type.empty() && rope_type != "default") {
    if (rope_type != "linear" || !rope.contains("factor") || !rope["factor"].is_number())
      fail("config.json: RoPE scaling '", rope_type, "' is not supported for GGUF output from safetensors (only linear); "
           "convert the safetensors output with convert_hf_to_gguf.py");
    gguf_set(md, a + "rope.scaling.type", gguf_string_value("linear"));
    gguf_set(md, a + "rope.scaling.factor", gguf_f32(rope["factor"].get<float>()));
  }
  const nlohmann::json* theta = rope.contains("rope_theta") ? &rope["rope_theta"] : find_hparam(config, {"rope_theta"});
  if (theta && theta->is_number()) gguf_set(md, a + "rope.freq_base", gguf_f32(theta->get<float>()));
  if (const nlohmann::json* eps = find_hparam(config, {"rms_norm_eps", "norm_eps"}); eps && eps->is_number())
    gguf_set(md, a + "attention.layer_norm_rms_epsilon", gguf_f32(eps->get<float>()));
  const nlohmann::json* head_dim = find_hparam(config, {"head_dim"});
  if (head_dim) {
    gguf_set(md, a + "attention.key_length", gguf_u32(hparam_u32(config, {"head_dim"})));
    gguf_set(md, a + "attention.value_length", gguf_u32(hparam_u32(config, {"head_dim"})));
  }
  gguf_set(md, "general.file_type", gguf_u32(general.file_type));
  gguf_set(md, a + "vocab_size", gguf_u32(hparam_u32(config, {"vocab_size"})));
  if (n_head == 0) fail("config.json: num_attention_heads is 0");
  gguf_set(md, a + "rope.dimension_count", gguf_u32(head_dim ? hparam_u32(config, {"head_dim"}) : n_embd / n_head));
  gguf_set(md, "general.quantization_version", gguf_u32(2));
  return md;
}

std::vector<GgufKeyValue> gguf_donor_metadata(const std::vector<GgufKeyValue>& donor, const GgufGeneral& general,
                                              uint32_t block_count) {
  std::vector<GgufKeyValue> md;
  std::string arch;
  for (const auto& kv : donor) {
    if (kv.key.starts_with("split.") || is_base_model_key(kv.key)) continue;
    if (kv.key == "general.architecture" && kv.value.type == GgufType::STRING) arch = kv.value.text;
    md.push_back(kv);
  }
  if (arch.empty()) fail("the GGUF donor model has no general.architecture");
  gguf_set(md, "general.name", gguf_string_value(general.name));
  gguf_set(md, "general.size_label", gguf_string_value(gguf_size_label(general.parameters)));
  if (!general.base_models.empty()) set_base_models(md, general.base_models);
  gguf_set(md, arch + ".block_count", gguf_u32(block_count));
  gguf_set(md, "general.file_type", gguf_u32(general.file_type));
  gguf_set(md, "general.quantization_version", gguf_u32(2));
  return md;
}

}  // namespace alloy
