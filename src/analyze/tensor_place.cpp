#include "analyze/tensor_place.h"

namespace alloy {
namespace {

// "model.layers.${layer_index}.mlp.up_proj.weight" -> "mlp.up_proj.weight"
std::string kind_of_template(std::string_view name_template) {
  size_t at = name_template.find(kLayerIndex);
  if (at == std::string_view::npos) return std::string(name_template);
  std::string_view rest = name_template.substr(at + kLayerIndex.size());
  if (!rest.empty() && rest[0] == '.') rest.remove_prefix(1);
  return std::string(rest);
}

bool names(const WeightInfo& w, std::string_view name) {
  if (w.name == name) return true;
  for (const auto& alias : w.aliases)
    if (alias == name) return true;
  return false;
}

}  // namespace

TensorPlace place_of(const Architecture& arch, std::string_view tensor_name) {
  TensorPlace place;
  if (auto split = split_layer_name(arch, tensor_name)) {
    place.section = TensorPlace::Section::Layer;
    place.layer = split->second;
    place.kind = kind_of_template(split->first);
    return place;
  }
  place.kind = std::string(tensor_name);
  for (const auto& w : arch.post_weights)
    if (names(w, tensor_name)) {
      place.section = TensorPlace::Section::Post;
      place.kind = w.name;
    }
  for (const auto& w : arch.pre_weights)
    if (names(w, tensor_name)) place.kind = w.name;
  return place;
}

std::vector<std::string> kinds_in_order(const Architecture& arch) {
  std::vector<std::string> kinds;
  for (const auto& w : arch.pre_weights) kinds.push_back(w.name);
  for (const auto& w : arch.layer_weights) kinds.push_back(kind_of_template(w.name));
  for (const auto& w : arch.post_weights) kinds.push_back(w.name);
  return kinds;
}

}  // namespace alloy
