// AdapterConfig: a PEFT LoRA adapter's adapter_config.json, as far as applying the adapter needs it:
// which modules it adapts and each one's rank and scale, which it replaces whole, whether weights are
// stored transposed. Keys PEFT uses only in training are ignored; keys that would change the applied
// weights in ways alloy does not implement are refused (docs/lora.md lists both).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace alloy {

// Whether `name` is `module`'s full name or its last dot-separated components ("q_proj",
// "self_attn.q_proj" for "model.layers.0.self_attn.q_proj"), as PEFT matches module lists.
bool names_module(const std::string& name, const std::string& module);

// PEFT's module selectors: a list of names, each matching a module's full name or its last
// dot-separated components, or one regular expression matched against the whole name.
struct ModuleSelector {
  std::vector<std::string> names;
  std::optional<std::string> regex;
  bool all_linear = false;  // "all-linear": every adapted module except the output layer (lm_head)
  bool matches(const std::string& module) const;
};

struct AdapterConfig {
  std::filesystem::path file;  // for error messages
  int64_t r = 8;
  double lora_alpha = 8;
  bool use_rslora = false;     // scale alpha/√r instead of alpha/r
  bool fan_in_fan_out = false;  // Linear-like weights stored [in, out] (GPT-2's Conv1D)
  ModuleSelector target_modules;
  std::optional<ModuleSelector> exclude_modules;
  // Per-module overrides in file order; a key matches a module as PEFT's get_pattern_key does.
  std::vector<std::pair<std::string, int64_t>> rank_pattern;
  std::vector<std::pair<std::string, double>> alpha_pattern;
  std::vector<std::string> modules_to_save;  // module names or suffixes, replaced whole

  // Whether PEFT would wrap `module` (a name like "model.layers.0.self_attn.q_proj") in a LoRA layer.
  bool targets(const std::string& module) const;
  bool saves(const std::string& module) const;  // listed in modules_to_save
  int64_t rank_of(const std::string& module) const;
  double alpha_of(const std::string& module) const;
  double scale_of(const std::string& module) const;  // alpha/r, or alpha/√r with use_rslora
};

// Throws Error naming the file and key for invalid JSON, wrong value types and refused keys.
AdapterConfig parse_adapter_config(const std::string& json_text, const std::filesystem::path& file);
AdapterConfig read_adapter_config(const std::filesystem::path& file);

}  // namespace alloy
