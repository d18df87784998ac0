#include "search/search_space.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "methods/method.h"
#include "util/error.h"

namespace alloy {

namespace {

const std::map<std::string, std::pair<double, double>>& default_ranges() {
  static const std::map<std::string, std::pair<double, double>> ranges = {
      {"weight", {0.0, 1.0}}, {"density", {0.05, 1.0}}, {"lambda", {0.0, 2.0}}, {"t", {0.0, 1.0}}, {"epsilon", {0.0, 0.2}}};
  return ranges;
}

double parse_bound(const std::string& text, const std::string& item) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
    fail("--tune ", item, ": '", text, "' is not a number (give NAME=LOW:HIGH)");
  return v;
}

const ParamSpec* find_param(const std::vector<ParamSpec>& specs, const std::string& name) {
  for (const ParamSpec& p : specs)
    if (p.name == name) return &p;
  return nullptr;
}

std::string param_names(const MethodSpec& method) {
  std::string names;
  for (const auto* list : {&method.model_params, &method.global_params})
    for (const ParamSpec& p : *list) names += (names.empty() ? "" : ", ") + p.name;
  return names.empty() ? "none" : names;
}

std::optional<double> scalar_of(const ParamMap& params, const std::string& name) {
  auto it = params.find(name);
  if (it == params.end() || it->second.kind != ParamValue::Kind::Scalar) return std::nullopt;
  return it->second.scalar;
}

}  // namespace

std::vector<TunedParameter> search_space(const Recipe& recipe, const std::vector<std::string>& tune_in) {
  const MethodSpec* method = find_method(recipe.merge_method);
  if (!method) fail(recipe.file, ": merge_method ", recipe.merge_method, " is not a known method");
  const std::vector<std::string> tune = tune_in.empty() ? std::vector<std::string>{"weight"} : tune_in;
  std::vector<TunedParameter> space;
  std::vector<std::string> seen;
  for (const std::string& item : tune) {
    const size_t eq = item.find('=');
    const std::string name = item.substr(0, eq);
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) fail("--tune: ", name, " is named twice");
    seen.push_back(name);
    const ParamSpec* model_spec = find_param(method->model_params, name);
    const ParamSpec* global_spec = find_param(method->global_params, name);
    if (!model_spec && !global_spec)
      fail("--tune ", name, ": ", recipe.merge_method, " has no parameter ", name, " (it has: ", param_names(*method), ")");
    double lower = 0, upper = 0;
    if (eq == std::string::npos) {
      auto it = default_ranges().find(name);
      if (it == default_ranges().end()) fail("--tune ", name, ": no default range for ", name, "; give one as ", name, "=LOW:HIGH");
      std::tie(lower, upper) = it->second;
    } else {
      const std::string range = item.substr(eq + 1);
      const size_t colon = range.find(':');
      if (colon == std::string::npos) fail("--tune ", item, ": give the range as ", name, "=LOW:HIGH");
      lower = parse_bound(range.substr(0, colon), item);
      upper = parse_bound(range.substr(colon + 1), item);
      if (!(lower < upper)) fail("--tune ", item, ": the low end must be below the high end");
    }
    auto start = [&](std::optional<double> v, const ParamSpec& spec) {
      double s = v ? *v : spec.default_value ? *spec.default_value : (lower + upper) / 2;
      return std::clamp(s, lower, upper);
    };
    if (model_spec) {
      for (size_t e = 0; e < recipe.models.size(); ++e) {
        const InputModel& m = recipe.models[e];
        if (recipe.base_model && m.model == *recipe.base_model) continue;
        std::optional<double> v = scalar_of(m.parameters, name);
        if (!v) v = scalar_of(recipe.parameters, name);
        space.push_back({name, static_cast<int>(e), name + "[" + m.model.str() + "]", lower, upper, start(v, *model_spec)});
      }
    } else {
      space.push_back({name, -1, name, lower, upper, start(scalar_of(recipe.parameters, name), *global_spec)});
    }
  }
  if (space.empty()) fail(recipe.file, ": nothing to tune (no models: entry other than the base model)");
  return space;
}

Recipe recipe_at(const Recipe& recipe, const std::vector<TunedParameter>& space, std::span<const double> x) {
  if (x.size() != space.size()) fail("search point has ", x.size(), " coordinates, the search space ", space.size());
  Recipe r = recipe;
  for (size_t i = 0; i < space.size(); ++i) {
    ParamMap& params = space[i].entry < 0 ? r.parameters : r.models[static_cast<size_t>(space[i].entry)].parameters;
    params[space[i].name] = ParamValue::constant(x[i]);
  }
  return r;
}

}  // namespace alloy
