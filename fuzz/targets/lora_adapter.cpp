// Target of PEFT LoRA adapter configs: parse_adapter_config on the input as adapter_config.json
// text, then what applying an adapter asks of the config for each module of a small Llama-shaped
// model and for the modules the config names itself (whether it is adapted or saved whole, its
// rank and scale), and PEFT's tensor names for those modules read back by parse_adapter_tensor_name.
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_target.h"
#include "lora/adapter_config.h"
#include "lora/adapter_tensor_name.h"
#include "util/error.h"

namespace alloy::fuzz {
namespace {

constexpr const char* kAdapterFile = "adapter_config.json";

constexpr const char* kLlamaModules[] = {
    "model.embed_tokens",          "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
    "model.layers.0.self_attn.v_proj", "model.layers.0.self_attn.o_proj", "model.layers.1.mlp.gate_proj",
    "model.layers.1.mlp.up_proj",  "model.layers.1.mlp.down_proj",   "model.norm", "lm_head"};

// The config's own module names and pattern keys, as modules of layer 0, so that its exact and
// suffix matches are reached; a few of each keep an execution fast.
std::vector<std::string> modules_named_by(const AdapterConfig& c) {
  constexpr size_t kEach = 4;
  std::vector<std::string> out;
  auto add = [&](const std::string& name) { out.push_back("model.layers.0." + name); };
  for (size_t i = 0; i < c.target_modules.names.size() && i < kEach; ++i) add(c.target_modules.names[i]);
  for (size_t i = 0; i < c.modules_to_save.size() && i < kEach; ++i) add(c.modules_to_save[i]);
  for (size_t i = 0; i < c.rank_pattern.size() && i < kEach; ++i) add(c.rank_pattern[i].first);
  for (size_t i = 0; i < c.alpha_pattern.size() && i < kEach; ++i) add(c.alpha_pattern[i].first);
  return out;
}

// PEFT names a module's factors "<module>.lora_A.weight" and "<module>.lora_B.default.weight";
// reading either back must give the module (anything else would adapt the wrong weight).
void check_factor_names(const std::string& module) {
  for (const char* suffix : {".lora_A.weight", ".lora_B.default.weight"}) {
    const AdapterTensorName t = parse_adapter_tensor_name("base_model.model." + module + suffix, kAdapterFile);
    if (t.module != module || t.base_tensor() != module + ".weight")
      throw std::logic_error("parse_adapter_tensor_name read " + module + suffix + " as module " + t.module);
  }
}

void exercise_module(const AdapterConfig& c, const std::string& module) {
  c.targets(module);
  if (c.saves(module)) {
    // A name the config allows may still be one alloy refuses as a tensor name (it holds "lora_").
    try {
      parse_adapter_tensor_name("base_model.model." + module + ".modules_to_save.default.weight", kAdapterFile);
    } catch (const Error&) {
    }
  }
  c.rank_of(module);
  c.scale_of(module);
  check_factor_names(module);
}

}  // namespace

Outcome fuzz_lora_adapter(std::span<const uint8_t> input) {
  const AdapterConfig c = parse_adapter_config(std::string(input.begin(), input.end()), kAdapterFile);
  for (const char* module : kLlamaModules) exercise_module(c, module);
  for (const std::string& module : modules_named_by(c)) exercise_module(c, module);
  return Outcome::accepted;
}

}  // namespace alloy::fuzz
