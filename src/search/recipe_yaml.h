// A Recipe written back as mergekit-format YAML: what a search returns as its tuned recipe. Every
// parameter is written as a plain number (scalars), a list (gradients) or a list of {filter, value}
// (conditionals). The alloy-only data keys (`probe:`, `fisher:`) are written only when the merge
// method learns from data, since mergekit knows neither and other methods refuse them.
#pragma once
#include <string>

#include "recipe/recipe.h"

namespace alloy {

std::string recipe_yaml(const Recipe& recipe);

// A number as YAML: the shortest text that reads back as the same double ("0.25", "1e-08").
std::string yaml_number(double value);

}  // namespace alloy
