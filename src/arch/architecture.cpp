// Placeholder until architecture inference lands: reads the class name and layer count only.
#include "arch/architecture.h"

namespace alloy {

Architecture architecture_of(const Checkpoint& ck) {
  Architecture a;
  a.name = "unknown";
  if (auto* v = json_get_dotted(ck.config(), "architectures"); v && v->is_array() && !v->empty())
    a.name = (*v)[0].get<std::string>();
  if (auto* v = json_get_dotted(ck.config(), "num_hidden_layers"); v && v->is_number_integer()) {
    a.num_layers = v->get<int>();
    a.num_layers_key = "num_hidden_layers";
  }
  a.inferred = true;
  return a;
}

bool compatible(const Architecture& a, const Architecture& b) { return a.name == b.name; }

std::string instantiate(std::string_view t, int layer) {
  std::string s(t);
  auto pos = s.find(kLayerIndex);
  if (pos != std::string::npos) s.replace(pos, kLayerIndex.size(), std::to_string(layer));
  return s;
}

const WeightInfo* find_weight(const Architecture&, std::string_view) { return nullptr; }

}  // namespace alloy
