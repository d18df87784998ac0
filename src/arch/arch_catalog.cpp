// Parsing and lookup of the compiled-in architecture descriptions.
#include "arch/arch_catalog.h"

#include <set>

#include "util/error.h"

namespace alloy {
namespace {

using nlohmann::json;

std::string string_field(std::string_view file, const json& obj, const char* key, bool required) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) fail(file, ": missing '", key, "'");
    return {};
  }
  if (!it->is_string()) fail(file, ": '", key, "' must be a string");
  return it->get<std::string>();
}

std::vector<std::string> string_list(std::string_view file, const json& obj, const char* key) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end()) return out;
  if (!it->is_array()) fail(file, ": '", key, "' must be a list of strings");
  for (const auto& v : *it) {
    if (!v.is_string()) fail(file, ": '", key, "' must be a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

bool bool_field(std::string_view file, const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return false;
  if (!it->is_boolean()) fail(file, ": '", key, "' must be true or false");
  return it->get<bool>();
}

// A layer bound: a dotted config key, or a number written as its decimal digits.
std::string layer_bound(std::string_view file, const json& w, const char* key, const std::string& name) {
  auto it = w.find(key);
  if (it == w.end()) return {};
  if (it->is_number_unsigned()) return std::to_string(it->get<uint64_t>());
  if (!it->is_string() || it->get<std::string>().empty())
    fail(file, ": '", key, "' of '", name, "' must be a config.json key or a layer number");
  return it->get<std::string>();
}

WeightInfo parse_weight(std::string_view file, const json& w, const char* section) {
  static const std::set<std::string> kKeys = {"name",        "is_embed",     "optional",   "aliases",
                                              "tied_names",  "force_dtype",  "layers_below", "layers_from"};
  if (!w.is_object()) fail(file, ": every entry of '", section, "' must be an object");
  for (const auto& [key, value] : w.items())
    if (!kKeys.count(key)) fail(file, ": unknown field '", key, "' in '", section, "'");
  WeightInfo info;
  info.name = string_field(file, w, "name", true);
  info.is_embed = bool_field(file, w, "is_embed");
  info.optional = bool_field(file, w, "optional");
  info.aliases = string_list(file, w, "aliases");
  info.tied_names = string_list(file, w, "tied_names");
  if (std::string dt = string_field(file, w, "force_dtype", false); !dt.empty()) {
    info.force_dtype = dtype_from_torch_name(dt);
    if (!info.force_dtype) fail(file, ": unknown force_dtype '", dt, "' for '", info.name, "'");
  }
  info.layers_below = layer_bound(file, w, "layers_below", info.name);
  info.layers_from = layer_bound(file, w, "layers_from", info.name);
  if ((!info.layers_below.empty() || !info.layers_from.empty()) && std::string_view(section) != "layer_weights")
    fail(file, ": '", info.name, "' has a layer bound outside layer_weights");
  return info;
}

std::vector<WeightInfo> parse_section(std::string_view file, const json& d, const char* section) {
  std::vector<WeightInfo> out;
  auto it = d.find(section);
  if (it == d.end()) return out;
  if (!it->is_array()) fail(file, ": '", section, "' must be a list");
  for (const auto& w : *it) out.push_back(parse_weight(file, w, section));
  return out;
}

bool has_placeholder(std::string_view s) { return s.find("${") != std::string_view::npos; }

// Only the known placeholders, and ${expert_index} only where the description has an expert count.
void check_placeholders(std::string_view file, const std::string& name, bool experts) {
  std::string rest = name;
  for (std::string_view known : {kLayerIndex, kExpertIndex})
    for (size_t pos; (pos = rest.find(known)) != std::string::npos;) rest.erase(pos, known.size());
  if (has_placeholder(rest)) fail(file, ": '", name, "' has an unknown placeholder (known: ${layer_index}, ${expert_index})");
  if (!experts && name.find(kExpertIndex) != std::string::npos)
    fail(file, ": '", name, "' uses ${expert_index} but the description has no 'num_experts_config_key'");
}

}  // namespace

namespace {

// The layer prefix, layer-count and expert-count keys and the three weight sections, shared by
// single-module descriptions and the modules of a modular one; checked for duplicates and
// placeholders.
void parse_body(std::string_view file, const json& d, ArchDescription& a) {
  a.layer_prefix = string_field(file, d, "layer_prefix", false);
  a.num_layers_key = string_field(file, d, "num_layers_config_key", false);
  a.num_experts_key = string_field(file, d, "num_experts_config_key", false);
  a.pre_weights = parse_section(file, d, "pre_weights");
  a.layer_weights = parse_section(file, d, "layer_weights");
  a.post_weights = parse_section(file, d, "post_weights");

  std::set<std::string> seen;
  auto check_unique = [&](const std::string& name) {
    if (!seen.insert(name).second) fail(file, ": weight '", name, "' listed twice");
  };
  for (const auto* section : {&a.pre_weights, &a.post_weights}) {
    for (const auto& w : *section) {
      for (const auto& n : w.aliases) check_unique(n);
      check_unique(w.name);
      for (const auto* list : {&w.aliases, &w.tied_names}) {
        for (const auto& n : *list)
          if (has_placeholder(n)) fail(file, ": '", n, "' outside layer_weights has a placeholder");
      }
      if (has_placeholder(w.name)) fail(file, ": '", w.name, "' outside layer_weights has a placeholder");
    }
  }
  if (!a.layer_weights.empty() && a.layer_prefix.empty())
    fail(file, ": 'layer_weights' given without 'layer_prefix'");
  std::string head = a.layer_prefix + std::string(kLayerIndex) + ".";
  for (const auto& w : a.layer_weights) {
    check_placeholders(file, w.name, !a.num_experts_key.empty());
    for (const auto& n : w.aliases) check_placeholders(file, n, !a.num_experts_key.empty());
    check_unique(w.name);
    for (const auto& n : w.aliases) check_unique(n);
    if (w.name.rfind(head, 0) != 0) fail(file, ": layer weight '", w.name, "' does not start with '", head, "'");
    for (const auto& n : w.aliases)
      if (n.rfind(head, 0) != 0) fail(file, ": layer alias '", n, "' does not start with '", head, "'");
  }
}

// The weight prefix put before every name of a module's description, as its tensors spell them.
void add_prefix(ArchDescription& a, const std::string& prefix) {
  if (!a.layer_prefix.empty()) a.layer_prefix = prefix + a.layer_prefix;
  for (auto* section : {&a.pre_weights, &a.layer_weights, &a.post_weights})
    for (WeightInfo& w : *section) {
      w.name = prefix + w.name;
      for (auto* list : {&w.aliases, &w.tied_names})
        for (std::string& n : *list) n = prefix + n;
    }
}

void parse_modules(std::string_view file, const json& d, ArchDescription& a) {
  static const std::set<std::string> kModuleKeys = {"weight_prefix", "architecture"};
  static const std::set<std::string> kBodyKeys = {"layer_prefix", "num_layers_config_key", "num_experts_config_key",
                                                  "pre_weights",  "layer_weights",         "post_weights"};
  auto it = d.find("modules");
  if (it == d.end() || !it->is_object() || it->empty())
    fail(file, ": a modular description needs 'modules': {name: {weight_prefix, architecture}, ...}");
  std::set<std::string> prefixes;
  for (const auto& [name, m] : it->items()) {
    const std::string where = cat(file, ": module '", name, "'");
    if (!m.is_object()) fail(where, " must be an object");
    for (const auto& [key, value] : m.items())
      if (!kModuleKeys.count(key)) fail(where, ": unknown field '", key, "'");
    ArchModuleDescription module;
    module.name = name;
    module.weight_prefix = string_field(where, m, "weight_prefix", false);
    if (!prefixes.insert(module.weight_prefix).second)
      fail(where, ": weight_prefix '", module.weight_prefix, "' is also another module's");
    auto body = m.find("architecture");
    if (body == m.end() || !body->is_object()) fail(where, ": missing 'architecture' (an object)");
    for (const auto& [key, value] : body->items())
      if (!kBodyKeys.count(key)) fail(where, ": unknown field '", key, "' in 'architecture'");
    module.arch.file = a.file;
    module.arch.architectures = a.architectures;
    module.arch.model_type = a.model_type;
    module.arch.vocab_size_key = a.vocab_size_key;
    parse_body(where, *body, module.arch);
    add_prefix(module.arch, module.weight_prefix);
    a.modules.push_back(std::move(module));
  }
}

}  // namespace

ArchDescription parse_arch_description(std::string_view file, const json& d) {
  static const std::set<std::string> kKeys = {
      "architectures",         "model_type",  "layer_prefix",  "num_layers_config_key",
      "vocab_size_config_key", "num_experts_config_key", "pre_weights", "layer_weights", "post_weights", "kind"};
  static const std::set<std::string> kModularKeys = {"kind", "architectures", "model_type", "vocab_size_config_key",
                                                     "tagalong_files", "modules"};
  if (!d.is_object()) fail(file, ": a description must be a JSON object");
  const std::string kind = string_field(file, d, "kind", false);
  if (!kind.empty() && kind != "module" && kind != "modular")
    fail(file, ": unknown kind '", kind, "' (module or modular)");
  const bool modular = kind == "modular";
  for (const auto& [key, value] : d.items())
    if (!(modular ? kModularKeys : kKeys).count(key))
      fail(file, ": unknown field '", key, "'", modular ? " in a modular description" : "");

  ArchDescription a;
  a.file = std::string(file);
  a.architectures = string_list(file, d, "architectures");
  if (a.architectures.empty()) fail(file, ": 'architectures' must list at least one class name");
  a.model_type = string_field(file, d, "model_type", false);
  if (std::string v = string_field(file, d, "vocab_size_config_key", false); !v.empty())
    a.vocab_size_key = v;
  if (modular) {
    a.tagalong_files = string_list(file, d, "tagalong_files");
    for (const std::string& f : a.tagalong_files)
      if (f.empty() || f == "." || f == ".." || f.find_first_of("/\\") != std::string::npos)
        fail(file, ": tagalong file '", f, "' must be a file name in the model directory");
    parse_modules(file, d, a);
  } else {
    parse_body(file, d, a);
  }
  return a;
}

const std::vector<ArchDescription>& architecture_catalog() {
  static const std::vector<ArchDescription> catalog = [] {
    std::vector<ArchDescription> out;
    for (const auto& f : embedded_architecture_files()) {
      json d;
      try {
        d = json::parse(f.text);
      } catch (const json::exception& e) {
        fail("data/architectures/", f.name, ": invalid JSON: ", e.what());
      }
      out.push_back(parse_arch_description(f.name, d));
    }
    return out;
  }();
  return catalog;
}

std::vector<const ArchDescription*> descriptions_for(std::string_view class_name) {
  std::vector<const ArchDescription*> out;
  for (const auto& d : architecture_catalog())
    for (const auto& c : d.architectures)
      if (c == class_name) out.push_back(&d);
  return out;
}

}  // namespace alloy
