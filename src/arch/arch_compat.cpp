// Whether checkpoints can be merged tensor by tensor, and the message when they cannot.
#include <array>

#include "arch/architecture.h"
#include "util/error.h"

namespace alloy {
namespace {

bool has_name(const std::vector<WeightInfo>& list, const std::string& name) {
  for (const auto& w : list) {
    if (w.name == name) return true;
    for (const auto& alias : w.aliases)
      if (alias == name) return true;
  }
  return false;
}

// Templates read better with a plain N: "model.layers.N.mlp.up_proj.weight".
std::string display(std::string name) {
  for (size_t pos = name.find(kLayerIndex); pos != std::string::npos; pos = name.find(kLayerIndex, pos + 1))
    name.replace(pos, kLayerIndex.size(), "N");
  return name;
}

struct SectionRef {
  const std::vector<WeightInfo>* weights;
  const char* what;
};

std::array<SectionRef, 3> sections(const Architecture& a) {
  return {{{&a.pre_weights, "a pre-layer weight"},
           {&a.layer_weights, "a layer weight"},
           {&a.post_weights, "a post-layer weight"}}};
}

// The first required weight of x that y lacks (in the same section), worded for the user.
std::optional<std::string> first_missing(const std::string& lx, const Architecture& x, const std::string& ly,
                                         const Architecture& y) {
  auto sx = sections(x), sy = sections(y);
  for (size_t s = 0; s < sx.size(); ++s) {
    for (const auto& w : *sx[s].weights) {
      if (w.optional || has_name(*sy[s].weights, w.name)) continue;
      for (size_t other = 0; other < sy.size(); ++other)
        if (has_name(*sy[other].weights, w.name))
          return cat("'", display(w.name), "' is ", sx[s].what, " in ", lx, " but ", sy[other].what, " in ", ly);
      return cat(lx, " has '", display(w.name), "' which ", ly, " lacks");
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> architecture_difference(const std::string& la, const Architecture& a,
                                                   const std::string& lb, const Architecture& b) {
  if (a.name != b.name && a.name != "unknown" && b.name != "unknown")
    return cat(la, " is ", a.name, " but ", lb, " is ", b.name);
  if (a.layer_prefix != b.layer_prefix) {
    auto where = [](const Architecture& x) {
      return x.layer_prefix.empty() ? std::string("has no layers") : cat("has its layers under '", x.layer_prefix, "'");
    };
    return cat(la, " ", where(a), " but ", lb, " ", where(b));
  }
  if (auto d = first_missing(la, a, lb, b)) return d;
  return first_missing(lb, b, la, a);
}

bool compatible(const Architecture& a, const Architecture& b) {
  return !architecture_difference("a", a, "b", b).has_value();
}

void check_compatible(const std::vector<std::pair<std::string, Architecture>>& models, bool allow_crimes) {
  if (allow_crimes) return;
  for (size_t i = 1; i < models.size(); ++i) {
    const auto& [la, a] = models[0];
    const auto& [lb, b] = models[i];
    if (auto d = architecture_difference(la, a, lb, b))
      fail("cannot merge ", la, " with ", lb, ": ", *d,
           "; pass --allow-crimes to merge models of different architectures anyway");
  }
}

}  // namespace alloy
