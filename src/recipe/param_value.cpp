// Evaluation of parameter values: scalars, gradients over the layer position t, conditional lists.
#include <algorithm>
#include <cmath>

#include "recipe/recipe.h"

namespace alloy {
namespace {

double interpolate(const std::vector<double>& s, double t) {
  if (s.empty()) return 0;  // the parser rejects empty lists; a hand-built value is not worth a throw
  size_t n = s.size();
  double x = t * static_cast<double>(n - 1);
  size_t i0 = static_cast<size_t>(std::floor(x));
  i0 = std::min(i0, n - 1);
  size_t i1 = std::min(n - 1, i0 + 1);
  double f = x - static_cast<double>(i0);
  return (1 - f) * s[i0] + f * s[i1];
}

bool filter_matches(const std::optional<std::string>& filter, std::string_view tensor_name) {
  return !filter || *filter == "*" || tensor_name.find(*filter) != std::string_view::npos;
}

}  // namespace

ParamValue ParamValue::constant(double v, SourceLoc loc) {
  ParamValue p;
  p.kind = Kind::Scalar;
  p.scalar = v;
  p.loc = loc;
  return p;
}

ParamValue ParamValue::interpolated(std::vector<double> knots, SourceLoc loc) {
  ParamValue p;
  p.kind = Kind::Gradient;
  p.gradient = std::move(knots);
  p.loc = loc;
  return p;
}

std::optional<double> evaluate(const ParamValue& value, std::string_view tensor_name, double t) {
  switch (value.kind) {
    case ParamValue::Kind::Scalar:
      return value.scalar;
    case ParamValue::Kind::Gradient:
      // Clamping keeps the knot indices in range for a t a caller computed slightly outside [0,1].
      return interpolate(value.gradient, std::clamp(t, 0.0, 1.0));
    case ParamValue::Kind::Conditional:
      for (const auto& c : value.conditions)
        if (filter_matches(c.filter, tensor_name)) return evaluate(c.value, tensor_name, t);
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace alloy
