#include "plan/parameter_names.h"

#include <string_view>
#include <vector>

#include "recipe/yaml_reader.h"
#include "util/error.h"

namespace alloy {

namespace {

bool declares(const std::vector<ParamSpec>& specs, const std::string& name) {
  for (const auto& s : specs)
    if (s.name == name) return true;
  return false;
}

std::string names_of(const std::vector<ParamSpec>& specs) {
  std::string out;
  for (const auto& s : specs) out += (out.empty() ? "" : ", ") + s.name;
  return out.empty() ? "none" : out;
}

void check(const Recipe& recipe, const MethodSpec& method, const ParamMap& params, SourceLoc loc,
           bool globals_allowed) {
  for (const auto& [name, value] : params) {
    if (declares(method.model_params, name)) continue;
    if (declares(method.global_params, name)) {
      if (globals_allowed) continue;
      fail(recipe.where(loc), ": parameter '", name, "' is a global parameter of ", method.name,
           ": under a model it has no effect; set it under the top-level parameters:");
    }
    std::vector<std::string_view> known;
    for (const auto& s : method.model_params) known.push_back(s.name);
    if (globals_allowed)
      for (const auto& s : method.global_params) known.push_back(s.name);
    std::string hint;
    if (auto near = closest_match(name, known)) hint = cat(" (did you mean '", *near, "'?)");
    fail(recipe.where(loc), ": parameter '", name, "' is not a parameter of ", method.name, hint,
         "; its parameters: per model: ", names_of(method.model_params), "; global: ",
         names_of(method.global_params));
  }
}

}  // namespace

void check_parameter_names(const Recipe& recipe, const MethodSpec& method) {
  check(recipe, method, recipe.parameters, recipe.parameters_loc, true);
  auto layout = [&](const std::vector<InputModel>& models, const std::vector<OutputSlice>& slices) {
    for (const auto& m : models) check(recipe, method, m.parameters, m.loc, false);
    for (const auto& slice : slices) {
      check(recipe, method, slice.parameters, slice.loc, true);
      for (const auto& source : slice.sources) check(recipe, method, source.parameters, source.loc, false);
    }
  };
  layout(recipe.models, recipe.slices);
  for (const auto& module : recipe.modules) {
    check(recipe, method, module.parameters, module.loc, true);
    layout(module.models, module.slices);
  }
}

}  // namespace alloy
