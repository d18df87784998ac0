// What a derivative-free search varies: numeric method parameters named on the command line
// (`--tune weight,density=0.2:0.9`), each with a range. A per-model parameter gives one coordinate
// per models: entry other than the base model; a global one gives one coordinate. Every parameter
// not named stays as the recipe says; a named one becomes a plain number in the tuned recipe.
#pragma once
#include <span>
#include <string>
#include <vector>

#include "recipe/recipe.h"

namespace alloy {

struct TunedParameter {
  std::string name;   // "weight"
  int entry = -1;     // index into recipe.models for a per-model parameter; -1: global
  std::string label;  // "weight[models/python]", "lambda"
  double lower = 0, upper = 1;
  double start = 0;   // the recipe's value, else the method's default, else the middle; inside the range
};

// Parses each `name` or `name=lo:hi`. Default ranges: weight 0:1, density 0.05:1, lambda 0:2,
// t 0:1, epsilon 0:0.2; any other parameter needs its range. Empty `tune`: weight. Throws Error
// for a parameter the method does not have (naming those it has), a bad range, or a name given twice.
std::vector<TunedParameter> search_space(const Recipe& recipe, const std::vector<std::string>& tune);

// The recipe with every tuned parameter set to its coordinate of `x` (same order).
Recipe recipe_at(const Recipe& recipe, const std::vector<TunedParameter>& space, std::span<const double> x);

}  // namespace alloy
