// The architecture descriptions alloy ships: data/architectures/*.json, compiled into the binary
// (cmake/embed_files.cmake writes each file's text into a generated source), parsed
// once on first use. A description names the classes it covers, its layer prefix, the config key
// of the layer count, and per-weight metadata; it need not list every tensor.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "arch/architecture.h"

namespace alloy {

struct ArchModuleDescription;

struct ArchDescription {
  std::string file;                        // "llama.json"
  std::vector<std::string> architectures;  // class names it covers
  std::string model_type;                  // breaks ties between files claiming a class; may be empty
  std::string layer_prefix;                // "model.layers."
  std::string num_layers_key;              // "num_hidden_layers"
  std::string vocab_size_key = "vocab_size";
  // MoE models: the config key of the routed-expert count; layer weight names may then hold
  // ${expert_index}, one weight per expert.
  std::string num_experts_key;
  std::vector<WeightInfo> pre_weights, layer_weights, post_weights;
  // "kind": "modular" (text + vision models): the modules, each a description of its own whose
  // names already carry the module's weight_prefix; the sections above are then empty.
  std::vector<ArchModuleDescription> modules;
  std::vector<std::string> tagalong_files;  // copied from the donor model into the output
};

struct ArchModuleDescription {
  std::string name;           // "text_decoder", as modules: recipes name it
  std::string weight_prefix;  // "language_model."; a tensor belongs to the longest prefix it starts with
  ArchDescription arch;
};

struct EmbeddedFile {
  std::string_view name;  // file name inside data/architectures/
  std::string_view text;
};
// The compiled-in copies of data/architectures/*.json, sorted by name.
const std::vector<EmbeddedFile>& embedded_architecture_files();

// Parses and validates one description; throws Error naming `file` and the bad field.
ArchDescription parse_arch_description(std::string_view file, const nlohmann::json& json);

// Every embedded description, parsed (once), in file-name order.
const std::vector<ArchDescription>& architecture_catalog();

// The descriptions that claim `class_name`, in file-name order.
std::vector<const ArchDescription*> descriptions_for(std::string_view class_name);

}  // namespace alloy
