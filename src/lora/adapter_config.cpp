#include "lora/adapter_config.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>

#include "lora/module_regex.h"
#include "util/error.h"
#include "util/read_whole_file.h"

namespace alloy {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

bool full_match(const std::string& pattern, const std::string& text) {
  return std::regex_match(text, compile_module_regex(pattern));
}

// The regular expression of a rank_pattern or alpha_pattern key: the key after any dot.
std::string suffix_pattern(const std::string& key) { return "(.*\\.)?(" + key + ")"; }

// PEFT's get_pattern_key: the key equal to the module name, else the first key K for which the
// name matches (.*\.)?(K)$ in full.
template <class T>
const T* pattern_value(const std::vector<std::pair<std::string, T>>& pattern, const std::string& module) {
  for (const auto& [key, value] : pattern)
    if (key == module) return &value;
  for (const auto& [key, value] : pattern)
    if (full_match(suffix_pattern(key), module)) return &value;
  return nullptr;
}

class Reader {
 public:
  Reader(const ojson& root, const fs::path& file) : root_(root), file_(file) {}

  [[noreturn]] void refuse(const std::string& key, const std::string& why) const {
    fail(file_.string(), ": key '", key, "' = ", root_.at(key).dump(), ": ", why);
  }
  bool is_off(const std::string& key) const {
    const ojson& v = root_.at(key);
    return v.is_null() || (v.is_boolean() && !v.get<bool>()) || (v.is_array() && v.empty()) ||
           (v.is_object() && v.empty());
  }
  bool boolean(const std::string& key) const {
    const ojson& v = root_.at(key);
    if (v.is_null()) return false;
    if (!v.is_boolean()) refuse(key, "expected true or false");
    return v.get<bool>();
  }
  double number(const std::string& key, const ojson& v) const {
    if (!v.is_number()) refuse(key, "expected a number");
    return v.get<double>();
  }
  int64_t positive_int(const std::string& key, const ojson& v) const {
    if (!v.is_number_integer()) refuse(key, "expected a positive whole number");
    if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{INT64_MAX})
      refuse(key, "expected a positive whole number below 2^63");
    if (v.get<int64_t>() <= 0) refuse(key, "expected a positive whole number");
    return v.get<int64_t>();
  }
  std::vector<std::string> strings(const std::string& key) const {
    const ojson& v = root_.at(key);
    std::vector<std::string> out;
    if (v.is_null()) return out;
    if (!v.is_array()) refuse(key, "expected a list of module names");
    for (const auto& e : v) {
      if (!e.is_string()) refuse(key, "expected a list of module names");
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  ModuleSelector selector(const std::string& key) const {
    const ojson& v = root_.at(key);
    ModuleSelector s;
    if (v.is_string()) {
      const std::string text = v.get<std::string>();
      if (text == "all-linear") {
        s.all_linear = true;
        return s;
      }
      try {
        compile_module_regex(text);
      } catch (const Error& e) {
        refuse(key, e.what());
      }
      s.regex = text;
      return s;
    }
    s.names = strings(key);
    return s;
  }
  template <class T, class Get>
  std::vector<std::pair<std::string, T>> pattern(const std::string& key, Get get) const {
    const ojson& v = root_.at(key);
    std::vector<std::pair<std::string, T>> out;
    if (v.is_null()) return out;
    if (!v.is_object()) refuse(key, "expected an object of module name -> value");
    for (auto it = v.begin(); it != v.end(); ++it) {
      try {
        compile_module_regex(suffix_pattern(it.key()));
      } catch (const Error& e) {
        refuse(key, cat("key '", it.key(), "': ", e.what()));
      }
      out.emplace_back(it.key(), get(key, it.value()));
    }
    return out;
  }

 private:
  const ojson& root_;
  const fs::path& file_;
};

// Keys PEFT reads only while training or for bookkeeping: they do not change the applied weights.
constexpr std::string_view kIgnored[] = {"lora_dropout", "task_type", "base_model_name_or_path", "revision",
                                         "inference_mode", "auto_mapping", "runtime_config", "peft_version",
                                         "megatron_core", "qalora_group_size"};
// Keys whose only accepted value is "off" (null, false, [] or {}): any other value changes the
// adapted weights in a way alloy does not implement.
constexpr std::string_view kOffOnly[] = {
    "use_dora", "lora_bias", "layers_to_transform", "layer_replication", "megatron_config", "loftq_config",
    "use_qalora", "target_parameters", "trainable_token_indices", "alora_invocation_tokens", "ensure_weight_tying",
    "eva_config", "corda_config", "arrow_config"};

}  // namespace

bool names_module(const std::string& name, const std::string& module) {
  return module == name || (module.size() > name.size() && module.ends_with(name) &&
                            module[module.size() - name.size() - 1] == '.');
}

bool ModuleSelector::matches(const std::string& module) const {
  if (all_linear) return !names_module("lm_head", module);
  if (regex) return full_match(*regex, module);
  for (const auto& n : names)
    if (names_module(n, module)) return true;
  return false;
}

bool AdapterConfig::targets(const std::string& module) const {
  if (exclude_modules && exclude_modules->matches(module)) return false;
  return target_modules.matches(module);
}

bool AdapterConfig::saves(const std::string& module) const {
  for (const auto& n : modules_to_save)
    if (names_module(n, module)) return true;
  return false;
}

int64_t AdapterConfig::rank_of(const std::string& module) const {
  const int64_t* v = pattern_value(rank_pattern, module);
  return v ? *v : r;
}

double AdapterConfig::alpha_of(const std::string& module) const {
  const double* v = pattern_value(alpha_pattern, module);
  return v ? *v : lora_alpha;
}

double AdapterConfig::scale_of(const std::string& module) const {
  const double rank = static_cast<double>(rank_of(module));
  return alpha_of(module) / (use_rslora ? std::sqrt(rank) : rank);
}

AdapterConfig parse_adapter_config(const std::string& text, const fs::path& file) {
  ojson root;
  try {
    root = ojson::parse(text);
  } catch (const ojson::exception& e) {
    fail(file.string(), ": invalid JSON: ", e.what());
  }
  if (!root.is_object()) fail(file.string(), ": is not a JSON object");
  const Reader read(root, file);
  AdapterConfig c;
  c.file = file;
  bool has_targets = false;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string& key = it.key();
    const ojson& v = it.value();
    if (std::find(std::begin(kIgnored), std::end(kIgnored), key) != std::end(kIgnored)) continue;
    if (std::find(std::begin(kOffOnly), std::end(kOffOnly), key) != std::end(kOffOnly)) {
      if (!read.is_off(key)) read.refuse(key, "alloy applies plain LoRA adapters only; this setting is not implemented");
    } else if (key == "peft_type") {
      if (v != "LORA") read.refuse(key, "alloy applies LoRA adapters only (peft_type \"LORA\")");
    } else if (key == "r") {
      c.r = read.positive_int(key, v);
    } else if (key == "lora_alpha") {
      c.lora_alpha = read.number(key, v);
    } else if (key == "use_rslora") {
      c.use_rslora = read.boolean(key);
    } else if (key == "fan_in_fan_out") {
      c.fan_in_fan_out = read.boolean(key);
    } else if (key == "target_modules") {
      if (v.is_null())
        read.refuse(key, "PEFT picks per-architecture defaults for a null target_modules; list the modules");
      c.target_modules = read.selector(key);
      has_targets = true;
    } else if (key == "exclude_modules") {
      if (!v.is_null()) c.exclude_modules = read.selector(key);
    } else if (key == "rank_pattern") {
      c.rank_pattern = read.pattern<int64_t>(key, [&](const std::string& k, const ojson& x) { return read.positive_int(k, x); });
    } else if (key == "alpha_pattern") {
      c.alpha_pattern = read.pattern<double>(key, [&](const std::string& k, const ojson& x) { return read.number(k, x); });
    } else if (key == "modules_to_save") {
      c.modules_to_save = read.strings(key);
    } else if (key == "bias") {
      if (v != "none") read.refuse(key, "adapters that train biases are not implemented; only \"none\" is");
    } else if (key == "layers_pattern") {
      // Acts only together with layers_to_transform, which must be off (above).
    } else if (key == "init_lora_weights") {
      // Random initialisations leave the trained A and B as they are; PiSSA, OLoRA, LoftQ, EVA, CorDA
      // initialisations also rewrite the base weights, which the adapter then no longer fits.
      if (!(v.is_boolean() || v == "gaussian"))
        read.refuse(key, "this initialisation changes the base model's weights; convert the adapter to a plain "
                         "LoRA first (PEFT: save_pretrained with path_initial_model_for_weight_conversion)");
    } else {
      fail(file.string(), ": key '", key, "' is not known to alloy; refusing the adapter rather than ignoring it "
           "(docs/lora.md lists the keys alloy reads and ignores)");
    }
  }
  if (!has_targets) fail(file.string(), ": has no 'target_modules'; list the modules the adapter adapts");
  return c;
}

AdapterConfig read_adapter_config(const fs::path& file) {
  return parse_adapter_config(read_whole_file(file, "adapter config", 16u << 20), file);
}

}  // namespace alloy
